//! `/v1/{account}/{container}/{object}`: GET and HEAD (conditional and range requests over
//! plain and large objects), PUT (also `X-Copy-From`), COPY, POST (metadata) and DELETE
//! (with versioning). Temp URLs, form POSTs and SLO manifests are dispatched from here, and
//! symlinks are made (PUT with `X-Symlink-Target`) and followed on reads and copies
//! (unless `?symlink=get`).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::StreamExt as _;
use md5::Digest as _;
use oxstack_common::context::RequestContext;
use oxstack_common::error::ErrorKind;
use oxstack_common::{Error, Result};

use super::{
    AppState, PATH, body_stream, body_unless, empty, formpost, hdr, http_date, large, meta_headers,
    method_not_allowed, object_path, plain_headers, query_map, tempurl, with_headers,
};
use crate::app::meta::{bad, check_object_name, new_object, not_found};
use crate::app::objects::{Copied, UNPROCESSABLE, parse_copy_path};
use crate::app::symlink;
use crate::app::time::x_timestamp;
use crate::app::{App, Op, now_us, once};
use crate::data::ByteStream;
use crate::store::Object;

/// Turns the logic layer's marked 400 into Swift's 422 page.
pub(super) async fn object(
    state: AppState,
    ctx: RequestContext,
    path: Path<(String, String, String)>,
    req: Request,
) -> Result<Response> {
    match object_inner(state, ctx, path, req).await {
        Err(e) if e.type_name.as_deref() == Some(UNPROCESSABLE) => {
            let body = "<html><h1>Unprocessable Entity</h1><p>Unable to process the contained instructions</p></html>";
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                [(header::CONTENT_TYPE, "text/html; charset=UTF-8")],
                body,
            )
                .into_response())
        }
        other => other,
    }
}

async fn object_inner(
    State(app): AppState,
    ctx: RequestContext,
    Path((account, cname, oname)): Path<(String, String, String)>,
    req: Request,
) -> Result<Response> {
    let method = req.method().clone();
    let q = query_map(req.uri().query());
    let path = req.uri().path().to_string();
    let (parts, body) = req.into_parts();
    let h = parts.headers;
    check_object_name(&oname)?;
    let c = app.container_get(&account, &cname).await?;
    if method == Method::POST
        && hdr(&h, "content-type").is_some_and(|t| t.starts_with("multipart/form-data"))
    {
        let c = c.ok_or_else(not_found)?;
        return formpost::form_post(&app, &account, &c, &oname, &path, &h, body).await;
    }
    let temp = app
        .temp_url_check(
            &account,
            c.as_ref().map(|c| &c.meta),
            method.as_str(),
            &path,
            tempurl::from_query(&q),
        )
        .await?;
    let op = match method {
        Method::GET | Method::HEAD => Op::ObjectRead,
        _ => Op::ObjectWrite,
    };
    if !temp {
        app.authorize(&ctx, &account, op, c.as_ref().map(|c| &c.meta))?;
    }
    let c = c.ok_or_else(not_found)?;
    let ph = plain_headers(&h);
    let link_itself = q.get("symlink").is_some_and(|v| v == "get");
    match method {
        Method::GET | Method::HEAD => {
            let o = app
                .object_live(&account, &cname, &oname)
                .await?
                .ok_or_else(not_found)?;
            let head = method == Method::HEAD;
            let mut resp = match symlink::target_of(&o) {
                Some(t) if link_itself => {
                    let mut r = object_get(&app, &o, &h, &q, head).await?;
                    add_headers(&mut r, symlink::link_headers(&t));
                    r
                }
                Some(_) => {
                    let target = app.symlink_follow(&ctx, o).await?;
                    let mut r = object_get(&app, &target, &h, &q, head).await?;
                    let at = object_path(&target.account, &target.container, &target.name);
                    add_headers(&mut r, vec![("content-location".into(), at)]);
                    r
                }
                None => object_get(&app, &o, &h, &q, head).await?,
            };
            if temp && method == Method::GET {
                tempurl::set_disposition(&mut resp, &q, &oname);
            }
            Ok(resp)
        }
        Method::PUT => {
            if let Some(src) = hdr(&h, "x-copy-from") {
                let (sc, so) = parse_copy_path(src)?;
                let sa = hdr(&h, "x-copy-from-account")
                    .map(str::to_string)
                    .unwrap_or_else(|| account.clone());
                let copied = app
                    .object_copy(
                        &ctx,
                        (&sa, &sc, &so),
                        (&account, &c, &oname),
                        &ph,
                        !link_itself,
                    )
                    .await?;
                return Ok(copy_response(&copied, (&sa, &sc, &so), &account));
            }
            let len = match hdr(&h, "content-length") {
                Some(v) => Some(
                    v.parse::<u64>()
                        .map_err(|_| bad("Invalid Content-Length"))?,
                ),
                None => None,
            };
            let chunked =
                hdr(&h, "transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
            if len.is_none() && !chunked {
                return Ok(length_required());
            }
            if let Some(t) = symlink::requested(&ph, &account)? {
                let has_body = match len {
                    Some(n) => n > 0,
                    None => !body_is_empty(body).await?,
                };
                if has_body {
                    return Err(bad("Symlink requests require a zero byte body"));
                }
                let o = app.symlink_create(&ctx, &c, &oname, &ph, t).await?;
                return Ok(empty(
                    StatusCode::CREATED,
                    vec![
                        ("etag".into(), o.etag.clone()),
                        ("last-modified".into(), http_date(o.created_at)),
                    ],
                ));
            }
            if len.is_some_and(|l| l > app.config.max_file_size) {
                return Err(Error::new(
                    ErrorKind::PayloadTooLarge,
                    "Your request is too large.",
                ));
            }
            if q.get("multipart-manifest").is_some_and(|v| v == "put") {
                return large::slo_put(&app, &account, &c, &oname, &ph, body).await;
            }
            let new = new_object(&app.config, &ph, &oname, None, now_us())?;
            let (o, _) = app
                .object_store(
                    &account,
                    &c,
                    &oname,
                    new,
                    body_stream(body),
                    len,
                    hdr(&h, "etag"),
                )
                .await?;
            Ok(empty(
                StatusCode::CREATED,
                vec![
                    ("etag".into(), o.etag.clone()),
                    ("last-modified".into(), http_date(o.created_at)),
                ],
            ))
        }
        m if m.as_str() == "COPY" => {
            let dest = hdr(&h, "destination").ok_or_else(|| {
                Error::new(ErrorKind::PreconditionFailed, "Destination header required")
            })?;
            let (dc, dobj) = parse_copy_path(dest)?;
            let da = hdr(&h, "destination-account")
                .map(str::to_string)
                .unwrap_or_else(|| account.clone());
            let dcont = app.container_get(&da, &dc).await?;
            app.authorize(&ctx, &da, Op::ObjectWrite, dcont.as_ref().map(|c| &c.meta))?;
            let dcont = dcont.ok_or_else(not_found)?;
            let copied = app
                .object_copy(
                    &ctx,
                    (&account, &cname, &oname),
                    (&da, &dcont, &dobj),
                    &ph,
                    !link_itself,
                )
                .await?;
            Ok(copy_response(&copied, (&account, &cname, &oname), &da))
        }
        Method::POST => {
            let o = app
                .object_live(&account, &cname, &oname)
                .await?
                .ok_or_else(not_found)?;
            if ph.contains("x-symlink-target") {
                return Err(bad("A PUT request is required to set a symlink target"));
            }
            let link = symlink::target_of(&o);
            app.object_update(o, &ph).await?;
            // Swift changes the link's own metadata and points the client at the target.
            Ok(match link {
                Some(t) => empty(
                    StatusCode::TEMPORARY_REDIRECT,
                    vec![(
                        "location".into(),
                        object_path(&t.account, &t.container, &t.object),
                    )],
                ),
                None => empty(StatusCode::ACCEPTED, vec![]),
            })
        }
        Method::DELETE => {
            let o = app.object_live(&account, &cname, &oname).await?;
            if q.get("multipart-manifest").is_some_and(|v| v == "delete")
                && let Some(o) = o
                    .as_ref()
                    .filter(|o| o.meta.contains_key("x-static-large-object"))
            {
                return large::slo_delete(&app, &account, o, &h).await;
            }
            app.object_delete_versioned(&account, &c, &oname, o).await?;
            Ok(empty(StatusCode::NO_CONTENT, vec![]))
        }
        _ => Err(method_not_allowed()),
    }
}

/// Whether a body (of a request without `Content-Length`) turns out empty.
async fn body_is_empty(body: Body) -> Result<bool> {
    let mut s = body_stream(body);
    while let Some(c) = s.next().await {
        if !c.map_err(|_| bad("Failed to read the body"))?.is_empty() {
            return Ok(false);
        }
    }
    Ok(true)
}

fn add_headers(r: &mut Response, headers: Vec<(String, String)>) {
    for (k, v) in headers {
        if let (Ok(k), Ok(v)) = (
            header::HeaderName::from_bytes(k.as_bytes()),
            header::HeaderValue::from_str(&v),
        ) {
            r.headers_mut().insert(k, v);
        }
    }
}

fn length_required() -> Response {
    let mut r = empty(StatusCode::LENGTH_REQUIRED, vec![]);
    *r.body_mut() = Body::from("Length Required");
    r
}

/// 201 for a copy from `(sa, sc, so)` into account `da`.
fn copy_response(copied: &Copied, (sa, sc, so): (&str, &str, &str), da: &str) -> Response {
    let (o, src) = (&copied.object, &copied.source);
    let from = format!(
        "{}/{}",
        percent_encoding::utf8_percent_encode(sc, PATH),
        percent_encoding::utf8_percent_encode(so, PATH)
    );
    let mut hs = vec![
        ("etag".into(), o.etag.clone()),
        ("last-modified".into(), http_date(o.created_at)),
        ("x-copied-from".into(), from),
        (
            "x-copied-from-last-modified".into(),
            http_date(src.created_at),
        ),
    ];
    if sa != da {
        hs.push(("x-copied-from-account".into(), sa.to_string()));
    }
    hs.extend(meta_headers(&o.meta));
    empty(StatusCode::CREATED, hs)
}

fn etag_matches(list: &str, etag: &str) -> bool {
    list.split(',').any(|t| {
        let t = t.trim().trim_start_matches("W/").trim_matches('"');
        t == "*" || t == etag
    })
}

/// The byte ranges of a `Range: bytes=...` header over `total` bytes: `None` when the
/// header is malformed (it is then ignored), `Some(Err)` when nothing is satisfiable.
fn parse_ranges(v: &str, total: u64) -> Option<Result<Vec<(u64, u64)>, ()>> {
    let spec = v.trim().strip_prefix("bytes=")?;
    let mut out = Vec::new();
    for r in spec.split(',') {
        let r = r.trim();
        let (a, b) = r.split_once('-')?;
        let (a, b) = (a.trim(), b.trim());
        let range = if a.is_empty() {
            let n: u64 = b.parse().ok()?;
            if n == 0 {
                continue;
            }
            (total.saturating_sub(n), total.saturating_sub(1))
        } else {
            let s: u64 = a.parse().ok()?;
            let e: Option<u64> = if b.is_empty() {
                None
            } else {
                Some(b.parse().ok()?)
            };
            if e.is_some_and(|e| e < s) {
                return None;
            }
            if s >= total {
                continue;
            }
            (s, e.map_or(total - 1, |e| e.min(total - 1)))
        };
        if total > 0 {
            out.push(range);
        }
    }
    Some(if out.is_empty() { Err(()) } else { Ok(out) })
}

fn object_headers(o: &Object, etag: &str) -> Vec<(String, String)> {
    let mut h = vec![
        ("etag".to_string(), etag.to_string()),
        ("last-modified".into(), http_date(o.created_at)),
        ("x-timestamp".into(), x_timestamp(o.created_at)),
        ("accept-ranges".into(), "bytes".into()),
    ];
    if let Some(d) = o.delete_at {
        h.push(("x-delete-at".into(), (d / 1_000_000).to_string()));
    }
    h.extend(meta_headers(&o.meta));
    h
}

/// An object's GET or HEAD: conditional requests, ranges (one, several as
/// `multipart/byteranges`, or none satisfiable) over its content.
pub(super) async fn object_get(
    app: &Arc<App>,
    o: &Object,
    h: &HeaderMap,
    q: &BTreeMap<String, String>,
    head: bool,
) -> Result<Response> {
    let want_manifest = q.get("multipart-manifest").is_some_and(|v| v == "get");
    let content = app.content(o, want_manifest).await?;
    let (parts, etag) = (content.parts, content.etag);
    let raw_etag = etag.trim_matches('"').to_string();
    let mut headers = object_headers(o, &etag);
    if content.manifest {
        let data = app.manifest_read(o).await?;
        headers.retain(|(k, _)| k != "etag");
        let e = hex::encode(md5::Md5::digest(&data));
        return with_headers(Response::builder().status(StatusCode::OK), headers)
            .header("etag", e)
            .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
            .header(header::CONTENT_LENGTH, data.len().to_string())
            .body(body_unless(head, || Body::from(data)))
            .map_err(|e| Error::internal("response", e));
    }
    let content_type = o.content_type.clone();
    // Conditional requests.
    let lm_s = o.created_at / 1_000_000;
    if let Some(v) = hdr(h, "if-match")
        && !etag_matches(v, &raw_etag)
    {
        return Ok(empty(StatusCode::PRECONDITION_FAILED, headers));
    }
    if let Some(v) = hdr(h, "if-none-match")
        && etag_matches(v, &raw_etag)
    {
        headers.retain(|(k, _)| k != "content-length");
        return Ok(empty(StatusCode::NOT_MODIFIED, headers));
    }
    let since = |name: &str| {
        hdr(h, name)
            .and_then(|v| httpdate::parse_http_date(v).ok())
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs() as i64)
    };
    if let Some(t) = since("if-unmodified-since")
        && lm_s > t
    {
        return Ok(empty(StatusCode::PRECONDITION_FAILED, headers));
    }
    if let Some(t) = since("if-modified-since")
        && lm_s <= t
    {
        return Ok(empty(StatusCode::NOT_MODIFIED, headers));
    }
    let total: u64 = parts.iter().map(|p| p.size).sum();
    let ranges = hdr(h, "range").and_then(|v| parse_ranges(v, total));
    let r = with_headers(Response::builder(), headers);
    match ranges {
        Some(Err(())) => r
            .status(StatusCode::RANGE_NOT_SATISFIABLE)
            .header(header::CONTENT_RANGE, format!("bytes */{total}"))
            .header(header::CONTENT_TYPE, "text/html; charset=UTF-8")
            .header(header::CONTENT_LENGTH, "0")
            .body(Body::empty())
            .map_err(|e| Error::internal("response", e)),
        Some(Ok(rs)) if rs.len() == 1 => {
            let (s, e) = rs[0];
            let len = e - s + 1;
            let body = body_unless(head, || Body::from_stream(app.stream_parts(parts, s, len)));
            r.status(StatusCode::PARTIAL_CONTENT)
                .header(header::CONTENT_RANGE, format!("bytes {s}-{e}/{total}"))
                .header(header::CONTENT_TYPE, content_type)
                .header(header::CONTENT_LENGTH, len.to_string())
                .body(body)
                .map_err(|e| Error::internal("response", e))
        }
        Some(Ok(rs)) => {
            let boundary = uuid::Uuid::new_v4().simple().to_string();
            let mut pieces: Vec<ByteStream> = Vec::new();
            let mut length = 0u64;
            for (s, e) in &rs {
                let head_part = format!(
                    "--{boundary}\r\nContent-Type: {content_type}\r\nContent-Range: bytes {s}-{e}/{total}\r\n\r\n"
                );
                length += head_part.len() as u64 + (e - s + 1) + 2;
                pieces.push(once(Bytes::from(head_part)));
                pieces.push(app.stream_parts(parts.clone(), *s, e - s + 1));
                pieces.push(once(Bytes::from_static(b"\r\n")));
            }
            let tail = format!("--{boundary}--");
            length += tail.len() as u64;
            pieces.push(once(Bytes::from(tail)));
            let body = body_unless(head, || {
                Body::from_stream(futures_util::stream::iter(pieces).flatten())
            });
            r.status(StatusCode::PARTIAL_CONTENT)
                .header(
                    header::CONTENT_TYPE,
                    format!("multipart/byteranges;boundary={boundary}"),
                )
                .header(header::CONTENT_LENGTH, length.to_string())
                .body(body)
                .map_err(|e| Error::internal("response", e))
        }
        None => {
            let body = body_unless(head, || {
                Body::from_stream(app.stream_parts(parts, 0, total))
            });
            r.status(StatusCode::OK)
                .header(header::CONTENT_TYPE, content_type)
                .header(header::CONTENT_LENGTH, total.to_string())
                .body(body)
                .map_err(|e| Error::internal("response", e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_ranges("bytes=0-9", 100), Some(Ok(vec![(0, 9)])));
        assert_eq!(parse_ranges("bytes=-10", 100), Some(Ok(vec![(90, 99)])));
        assert_eq!(parse_ranges("bytes=95-", 100), Some(Ok(vec![(95, 99)])));
        assert_eq!(parse_ranges("bytes=90-200", 100), Some(Ok(vec![(90, 99)])));
        assert_eq!(
            parse_ranges("bytes=0-1, 5-6", 100),
            Some(Ok(vec![(0, 1), (5, 6)]))
        );
        // Unsatisfiable: 416.
        assert_eq!(parse_ranges("bytes=100-150", 100), Some(Err(())));
        assert_eq!(parse_ranges("bytes=100-", 100), Some(Err(())));
        assert_eq!(parse_ranges("bytes=100-, 0-0", 100), Some(Ok(vec![(0, 0)])));
        assert_eq!(parse_ranges("bytes=-0", 100), Some(Err(())));
        assert_eq!(parse_ranges("bytes=0-0", 0), Some(Err(())));
        // Malformed: the header is ignored.
        assert_eq!(parse_ranges("bytes=5-1", 100), None);
        assert_eq!(parse_ranges("items=0-1", 100), None);
        assert_eq!(parse_ranges("bytes=a-b", 100), None);
    }

    #[test]
    fn etags() {
        assert!(etag_matches("\"abc\"", "abc"));
        assert!(etag_matches("x, W/\"abc\"", "abc"));
        assert!(etag_matches("*", "abc"));
        assert!(!etag_matches("\"abd\"", "abc"));
    }
}
