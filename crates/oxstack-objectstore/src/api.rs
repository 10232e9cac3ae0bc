//! The Swift v1 HTTP API: `/info`, `/healthcheck` and `/v1/{account}[/{container}[/{object}]]`
//! with every method Swift answers (including `COPY`), plus the behaviours Swift puts in
//! middleware: temp URLs, bulk delete, large objects (SLO, DLO), quotas and versioned writes.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use bytes::Bytes;
use futures_util::TryStreamExt as _;
use md5::Digest as _;
use oxstack_common::context::RequestContext;
use oxstack_common::error::ErrorKind;
use oxstack_common::{Error, Result};
use serde_json::{Value, json};

use crate::app::{App, Op, Part, now_us, once};
use crate::store::{Container, ContainerDelete, ListQuery, Meta, Object, ObjectEntry};

type AppState = State<Arc<App>>;

/// Every object storage route.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/info", get(info))
        .route(
            "/healthcheck",
            get(|| async { text_response(StatusCode::OK, "OK") }),
        )
        .route("/v1/{account}", any(account))
        .route("/v1/{account}/", any(account))
        .route("/v1/{account}/{container}", any(container))
        .route("/v1/{account}/{container}/", any(container))
        .route("/v1/{account}/{container}/{*object}", any(object))
        .layer(axum::middleware::map_response(trans_id))
        .with_state(app)
}

/// Swift's `X-Trans-Id` (`tx` + 21 hex digits + `-` + the time in 10 hex digits) and a
/// content type on every response.
async fn trans_id(mut resp: Response) -> Response {
    let id = format!(
        "tx{}-{:010x}",
        &uuid::Uuid::new_v4().simple().to_string()[..21],
        now_us() / 1_000_000
    );
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&id) {
        h.insert("x-trans-id", v.clone());
    }
    if !h.contains_key(header::CONTENT_TYPE) {
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=UTF-8"),
        );
    }
    resp
}

fn text_response(status: StatusCode, body: &'static str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=UTF-8")],
        body,
    )
        .into_response()
}

/// A bodiless answer with `Content-Length: 0` (Swift sends it even on 204s).
fn empty(status: StatusCode, headers: Vec<(String, String)>) -> Response {
    let mut r = Response::builder().status(status);
    for (k, v) in headers {
        r = r.header(k, v);
    }
    if status != StatusCode::NO_CONTENT {
        r = r.header(header::CONTENT_LENGTH, "0");
    }
    r.body(Body::empty())
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

fn x_timestamp(us: i64) -> String {
    format!("{}.{:05}", us / 1_000_000, (us % 1_000_000) / 10)
}

fn http_date(us: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs((us / 1_000_000).max(0) as u64);
    httpdate::fmt_http_date(t)
}

fn iso_date(us: i64) -> String {
    // Days-from-civil inverse (Howard Hinnant), to avoid a date crate for one format.
    let secs = us.div_euclid(1_000_000);
    let micros = us.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

fn hdr<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn query_map(req_query: Option<&str>) -> BTreeMap<String, String> {
    form_urlencoded::parse(req_query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn bad(msg: &'static str) -> Error {
    Error::bad_request(msg)
}

fn not_found() -> Error {
    Error::not_found("The resource could not be found.")
}

// ---------------------------------------------------------------- info

async fn info(State(app): AppState) -> Response {
    let c = &app.config;
    let body = json!({
        "swift": {
            "version": "2.35.0",
            "max_file_size": c.max_file_size,
            "container_listing_limit": c.container_listing_limit,
            "account_listing_limit": c.account_listing_limit,
            "max_meta_name_length": c.max_meta_name_length,
            "max_meta_value_length": c.max_meta_value_length,
            "max_meta_count": c.max_meta_count,
            "max_meta_overall_size": c.max_meta_overall_size,
            "max_header_size": 8192,
            "max_object_name_length": 1024,
            "max_container_name_length": 256,
            "max_account_name_length": 256,
            "extra_header_count": 0,
            "valid_api_versions": ["v1", "v1.0"],
            "strict_cors_mode": true,
            "allow_account_management": false,
            "account_autocreate": true,
            "policies": [{"name": "Policy-0", "default": true, "aliases": "Policy-0"}],
        },
        "keystoneauth": {},
        "tempurl": {
            "methods": ["GET", "HEAD", "PUT", "POST", "DELETE"],
            "incoming_remove_headers": ["x-timestamp"],
            "incoming_allow_headers": [],
            "outgoing_remove_headers": ["x-object-meta-*"],
            "outgoing_allow_headers": ["x-object-meta-public-*"],
            "allowed_digests": ["sha1", "sha256", "sha512"],
        },
        "slo": {
            "max_manifest_segments": c.max_manifest_segments,
            "max_manifest_size": 8 * 1024 * 1024,
            "yield_frequency": 10,
            "min_segment_size": 1,
            "allow_async_delete": false,
        },
        "dlo": {"max_get_time": 86400},
        "bulk_delete": {"max_deletes_per_request": 10000, "max_failed_deletes": 1000},
        "bulk_upload": {"max_containers_per_extraction": 10000, "max_failed_extractions": 1000},
        "formpost": {},
        "staticweb": {},
        "account_quotas": {},
        "container_quotas": {},
        "versioned_writes": {"allowed_flags": ["x-versions-location", "x-history-location"]},
    });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

// ---------------------------------------------------------------- metadata

/// Applies `X-<Kind>-Meta-*` (and `X-Remove-...`) headers to `meta`, plus the named extra
/// headers (`sys`: ACLs, versioning locations), checking Swift's limits.
fn apply_meta(app: &App, meta: &mut Meta, h: &HeaderMap, kind: &str, sys: &[&str]) -> Result<()> {
    let prefix = format!("x-{kind}-meta-");
    let remove = format!("x-remove-{kind}-meta-");
    for (k, v) in h.iter() {
        let k = k.as_str();
        let v = v
            .to_str()
            .map_err(|_| bad("Metadata must be valid UTF-8"))?;
        if let Some(name) = k.strip_prefix(&prefix) {
            if name.is_empty() {
                return Err(bad("Metadata name cannot be empty"));
            }
            if name.len() > app.config.max_meta_name_length {
                return Err(Error::bad_request(format!(
                    "Metadata name too long; max {}",
                    app.config.max_meta_name_length
                )));
            }
            if v.len() > app.config.max_meta_value_length {
                return Err(Error::bad_request(format!(
                    "Metadata value longer than {}",
                    app.config.max_meta_value_length
                )));
            }
            if v.is_empty() && kind != "object" {
                meta.remove(k);
            } else {
                meta.insert(k.to_string(), v.to_string());
            }
        } else if let Some(name) = k.strip_prefix(&remove) {
            meta.remove(&format!("{prefix}{name}"));
        } else if sys.contains(&k) {
            if v.is_empty() {
                meta.remove(k);
            } else {
                meta.insert(k.to_string(), v.to_string());
            }
        } else if let Some(name) = k.strip_prefix("x-remove-")
            && sys.contains(&format!("x-{name}").as_str())
        {
            meta.remove(&format!("x-{name}"));
        }
    }
    let user: Vec<(&String, &String)> = meta
        .iter()
        .filter(|(k, _)| k.starts_with(&prefix))
        .collect();
    if user.len() > app.config.max_meta_count {
        return Err(Error::bad_request(format!(
            "Too many metadata items; max {}",
            app.config.max_meta_count
        )));
    }
    let size: usize = user
        .iter()
        .map(|(k, v)| k.len() - prefix.len() + v.len())
        .sum();
    if size > app.config.max_meta_overall_size {
        return Err(Error::bad_request(format!(
            "Total metadata too large; max {}",
            app.config.max_meta_overall_size
        )));
    }
    Ok(())
}

fn meta_headers(meta: &Meta) -> Vec<(String, String)> {
    meta.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

// ---------------------------------------------------------------- listings

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Plain,
    Json,
    Xml,
}

fn listing_format(q: &BTreeMap<String, String>, h: &HeaderMap) -> Format {
    let f = q
        .get("format")
        .cloned()
        .or_else(|| hdr(h, "accept").map(str::to_string))
        .unwrap_or_default()
        .to_ascii_lowercase();
    if f.contains("json") {
        Format::Json
    } else if f.contains("xml") {
        Format::Xml
    } else {
        Format::Plain
    }
}

fn list_query(q: &BTreeMap<String, String>, max: u32) -> Result<ListQuery> {
    let limit = match q.get("limit") {
        Some(l) => {
            let n: u32 = l.parse().map_err(|_| bad("Invalid limit"))?;
            if n > max {
                return Err(Error::new(
                    ErrorKind::PreconditionFailed,
                    "Maximum limit exceeded",
                ));
            }
            n
        }
        None => max,
    };
    Ok(ListQuery {
        marker: q.get("marker").cloned(),
        end_marker: q.get("end_marker").cloned(),
        prefix: q.get("prefix").cloned(),
        limit,
        reverse: q.get("reverse").is_some_and(|v| {
            matches!(
                v.to_ascii_lowercase().as_str(),
                "true" | "1" | "yes" | "on" | "t" | "y"
            )
        }),
    })
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn listing_response(
    fmt: Format,
    headers: Vec<(String, String)>,
    plain: Vec<String>,
    json: String,
    xml: String,
    head: bool,
) -> Response {
    if head {
        // Swift answers HEAD on accounts and containers with 204 and no body.
        let ct = match fmt {
            Format::Json => "application/json; charset=utf-8",
            Format::Xml => "application/xml; charset=utf-8",
            Format::Plain => "text/plain; charset=utf-8",
        };
        let mut r = empty(StatusCode::NO_CONTENT, headers);
        if let Ok(v) = HeaderValue::from_str(ct) {
            r.headers_mut().insert(header::CONTENT_TYPE, v);
        }
        return r;
    }
    let (ct, body) = match fmt {
        Format::Plain if plain.is_empty() => {
            let mut r = empty(StatusCode::NO_CONTENT, headers);
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            return r;
        }
        Format::Plain => (
            "text/plain; charset=utf-8",
            plain.into_iter().map(|n| n + "\n").collect::<String>(),
        ),
        Format::Json => ("application/json; charset=utf-8", json),
        Format::Xml => ("application/xml; charset=utf-8", xml),
    };
    let mut r = Response::builder().status(StatusCode::OK);
    for (k, v) in headers {
        r = r.header(k, v);
    }
    r = r
        .header(header::CONTENT_TYPE, ct)
        .header(header::CONTENT_LENGTH, body.len().to_string());
    r.body(if head {
        Body::empty()
    } else {
        Body::from(body)
    })
    .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

// ---------------------------------------------------------------- account

async fn account(
    State(app): AppState,
    ctx: RequestContext,
    Path(account): Path<String>,
    req: Request,
) -> Result<Response> {
    let method = req.method().clone();
    let q = query_map(req.uri().query());
    let h = req.headers().clone();
    if (method == Method::POST || method == Method::DELETE) && q.contains_key("bulk-delete") {
        return bulk_delete(app, ctx, account, req).await;
    }
    if method == Method::PUT
        && let Some(fmt) = q.get("extract-archive")
    {
        let fmt = fmt.clone();
        return extract_archive(app, ctx, account, &fmt, req).await;
    }
    app.authorize(&ctx, &account, Op::Owner, None)?;
    let now = now_us();
    match method {
        Method::HEAD | Method::GET => {
            let acct = app.store.account_ensure(&account, now).await?;
            let (containers, stats) = app.store.account_stats(&account, now).await?;
            let mut headers = vec![
                ("x-account-container-count".into(), containers.to_string()),
                ("x-account-object-count".into(), stats.count.to_string()),
                ("x-account-bytes-used".into(), stats.bytes.to_string()),
                ("x-timestamp".into(), x_timestamp(acct.created_at)),
                ("x-put-timestamp".into(), x_timestamp(acct.created_at)),
                ("accept-ranges".into(), "bytes".into()),
            ];
            if containers > 0 {
                for (k, v) in [
                    ("bytes-used", stats.bytes),
                    ("object-count", stats.count),
                    ("container-count", containers),
                ] {
                    headers.push((
                        format!("x-account-storage-policy-policy-0-{k}"),
                        v.to_string(),
                    ));
                }
            }
            headers.extend(meta_headers(&acct.meta));
            let fmt = listing_format(&q, &h);
            let lq = list_query(&q, app.config.account_listing_limit)?;
            let delimiter = q.get("delimiter").filter(|d| !d.is_empty()).cloned();
            let rows = app.store.container_list(&account, &lq, now).await?;
            let mut plain = Vec::new();
            let mut items = Vec::new();
            let mut xml = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<account name=\"{}\">",
                xml_escape(&account)
            );
            let mut seen_subdirs = Vec::new();
            for (c, s) in rows {
                if let Some(d) = &delimiter {
                    let rest = &c.name[lq
                        .prefix
                        .as_deref()
                        .unwrap_or_default()
                        .len()
                        .min(c.name.len())..];
                    if let Some(i) = rest.find(d.as_str()) {
                        let sub = format!(
                            "{}{}",
                            &c.name[..c.name.len() - rest.len()],
                            &rest[..i + d.len()]
                        );
                        if !seen_subdirs.contains(&sub) {
                            plain.push(sub.clone());
                            items.push(json!({"subdir": sub}));
                            xml.push_str(&format!(
                                "<subdir name=\"{0}\"><name>{0}</name></subdir>",
                                xml_escape(&sub)
                            ));
                            seen_subdirs.push(sub);
                        }
                        continue;
                    }
                }
                plain.push(c.name.clone());
                items.push(json!({"name": c.name, "count": s.count, "bytes": s.bytes, "last_modified": iso_date(c.updated_at)}));
                xml.push_str(&format!(
                    "<container><name>{}</name><count>{}</count><bytes>{}</bytes><last_modified>{}</last_modified></container>",
                    xml_escape(&c.name), s.count, s.bytes, iso_date(c.updated_at)
                ));
            }
            xml.push_str("</account>");
            Ok(listing_response(
                fmt,
                headers,
                plain,
                Value::Array(items).to_string(),
                xml,
                method == Method::HEAD,
            ))
        }
        Method::POST => {
            let mut acct = app.store.account_ensure(&account, now).await?;
            let touches_quota = h.keys().any(|k| {
                let k = k.as_str();
                k.starts_with("x-account-meta-quota-")
                    || k.starts_with("x-remove-account-meta-quota-")
                    || k.starts_with("x-account-quota-")
                    || k.starts_with("x-remove-account-quota-")
            });
            if touches_quota && !app.may_set_quota(&ctx) {
                return Err(Error::forbidden("Forbidden"));
            }
            if let Some(q) = hdr(&h, "x-account-meta-quota-bytes")
                && !q.is_empty()
                && q.parse::<i64>().is_err()
            {
                return Err(bad("Invalid quota"));
            }
            apply_meta(
                &app,
                &mut acct.meta,
                &h,
                "account",
                &["x-account-quota-count", "x-account-quota-bytes"],
            )?;
            app.store
                .account_meta_set(&account, &acct.meta, now)
                .await?;
            Ok(empty(StatusCode::NO_CONTENT, vec![]))
        }
        Method::PUT | Method::DELETE => Err(Error::new(
            ErrorKind::MethodNotAllowed,
            "Account management is not allowed.",
        )),
        _ => Err(Error::new(
            ErrorKind::MethodNotAllowed,
            "Method not allowed.",
        )),
    }
}

// ---------------------------------------------------------------- container

const CONTAINER_SYS: &[&str] = &[
    "x-container-read",
    "x-container-write",
    "x-versions-location",
    "x-history-location",
    "x-container-sync-to",
    "x-container-sync-key",
];

fn check_container_name(name: &str) -> Result<()> {
    if name.len() > 256 {
        return Err(Error::bad_request(format!(
            "Container name length of {} longer than 256",
            name.len()
        )));
    }
    if name.is_empty() || name.contains('/') {
        return Err(bad("Invalid container name"));
    }
    Ok(())
}

async fn container(
    State(app): AppState,
    ctx: RequestContext,
    Path((account, cname)): Path<(String, String)>,
    req: Request,
) -> Result<Response> {
    let method = req.method().clone();
    let q = query_map(req.uri().query());
    let h = req.headers().clone();
    let now = now_us();
    check_container_name(&cname)?;
    let existing = app.store.container_get(&account, &cname).await?;
    match method {
        Method::PUT => {
            app.authorize(&ctx, &account, Op::Owner, None)?;
            let mut meta = existing
                .as_ref()
                .map(|c| c.meta.clone())
                .unwrap_or_default();
            apply_meta(&app, &mut meta, &h, "container", CONTAINER_SYS)?;
            check_versions(&meta)?;
            if let Some(c) = existing {
                app.store
                    .container_meta_set(&account, &cname, &meta, now)
                    .await?;
                let _ = c;
                return Ok(empty(StatusCode::ACCEPTED, vec![]));
            }
            let created = app
                .store
                .container_create(&Container {
                    account: account.clone(),
                    name: cname.clone(),
                    created_at: now,
                    updated_at: now,
                    meta,
                })
                .await?;
            Ok(empty(
                if created {
                    StatusCode::CREATED
                } else {
                    StatusCode::ACCEPTED
                },
                vec![],
            ))
        }
        Method::HEAD | Method::GET => {
            let c = existing.ok_or_else(not_found)?;
            if let Some(r) =
                static_web(&app, &ctx, &account, &c, &h, method == Method::HEAD).await?
            {
                return Ok(r);
            }
            app.authorize(&ctx, &account, Op::List, Some(&c.meta))?;
            let stats = app.store.container_stats(&account, &cname, now).await?;
            let mut headers = vec![
                ("x-container-object-count".into(), stats.count.to_string()),
                ("x-container-bytes-used".into(), stats.bytes.to_string()),
                ("x-timestamp".into(), x_timestamp(c.created_at)),
                ("x-put-timestamp".into(), x_timestamp(c.updated_at)),
                ("last-modified".into(), http_date(c.updated_at)),
                ("x-storage-policy".into(), "Policy-0".into()),
                ("accept-ranges".into(), "bytes".into()),
            ];
            let owner = app.is_owner(&ctx, &account);
            headers.extend(
                meta_headers(&c.meta).into_iter().filter(|(k, _)| {
                    owner || !(k == "x-container-read" || k == "x-container-write")
                }),
            );
            let fmt = listing_format(&q, &h);
            container_listing(&app, &account, &c, &q, fmt, headers, method == Method::HEAD).await
        }
        Method::POST => {
            let c = existing.ok_or_else(not_found)?;
            app.authorize(&ctx, &account, Op::Owner, None)?;
            let mut meta = c.meta.clone();
            apply_meta(&app, &mut meta, &h, "container", CONTAINER_SYS)?;
            check_versions(&meta)?;
            app.store
                .container_meta_set(&account, &cname, &meta, now)
                .await?;
            Ok(empty(StatusCode::NO_CONTENT, vec![]))
        }
        Method::DELETE => {
            app.authorize(&ctx, &account, Op::Owner, None)?;
            let mut orphans = Vec::new();
            match app
                .store
                .container_delete(&account, &cname, now, &mut orphans)
                .await?
            {
                ContainerDelete::Deleted => {
                    for k in orphans {
                        app.drop_data(&k).await;
                    }
                    Ok(empty(StatusCode::NO_CONTENT, vec![]))
                }
                ContainerDelete::NotFound => Err(not_found()),
                ContainerDelete::NotEmpty => Err(Error::conflict(
                    "There was a conflict when trying to complete your request.",
                )),
            }
        }
        _ => Err(Error::new(
            ErrorKind::MethodNotAllowed,
            "Method not allowed.",
        )),
    }
}

fn check_versions(meta: &Meta) -> Result<()> {
    if meta.contains_key("x-versions-location") && meta.contains_key("x-history-location") {
        return Err(bad(
            "Only one of X-Versions-Location or X-History-Location may be specified",
        ));
    }
    Ok(())
}

async fn container_listing(
    app: &Arc<App>,
    account: &str,
    c: &Container,
    q: &BTreeMap<String, String>,
    fmt: Format,
    headers: Vec<(String, String)>,
    head: bool,
) -> Result<Response> {
    let mut lq = list_query(q, app.config.container_listing_limit)?;
    let mut delimiter = q.get("delimiter").filter(|d| !d.is_empty()).cloned();
    if let Some(p) = q.get("path") {
        let p = p.trim_end_matches('/');
        lq.prefix = if p.is_empty() {
            None
        } else {
            Some(format!("{p}/"))
        };
        delimiter = Some("/".into());
    }
    let limit = lq.limit as usize;
    let now = now_us();
    let mut entries: Vec<Result<ObjectEntry, String>> = Vec::new();
    let prefix_len = lq.prefix.as_deref().unwrap_or_default().len();
    'outer: loop {
        let rows = app.store.object_entries(account, &c.name, &lq, now).await?;
        if rows.is_empty() {
            break;
        }
        let full = rows.len() as u32 == lq.limit;
        for o in rows {
            if entries.len() >= limit {
                break 'outer;
            }
            if let Some(d) = &delimiter
                && let Some(i) = o.name.get(prefix_len..).and_then(|r| r.find(d.as_str()))
            {
                let sub = o.name[..prefix_len + i + d.len()].to_string();
                if entries
                    .last()
                    .is_some_and(|e| e.as_ref().err() == Some(&sub))
                {
                    continue;
                }
                entries.push(Err(sub.clone()));
                // Skip everything under the subdir.
                lq.marker = Some(if lq.reverse {
                    sub.clone()
                } else {
                    format!("{sub}\u{10FFFF}")
                });
                continue 'outer;
            }
            lq.marker = Some(o.name.clone());
            entries.push(Ok(o));
        }
        if !full {
            break;
        }
    }
    // Only the format asked for is rendered. JSON keys are in the order a `json!` map
    // (sorted) gave them before, so the bytes are unchanged.
    #[derive(serde::Serialize)]
    #[serde(untagged)]
    enum Item<'a> {
        Object {
            bytes: i64,
            content_type: &'a str,
            hash: &'a str,
            last_modified: String,
            name: &'a str,
        },
        Subdir {
            subdir: &'a str,
        },
    }
    let (mut plain, mut json, mut xml) = (Vec::new(), String::new(), String::new());
    match fmt {
        Format::Plain => {
            plain = entries
                .into_iter()
                .map(|e| e.map_or_else(|sub| sub, |o| o.name))
                .collect();
        }
        Format::Json => {
            let items: Vec<Item> = entries
                .iter()
                .map(|e| match e {
                    Ok(o) => Item::Object {
                        bytes: o.size,
                        content_type: &o.content_type,
                        hash: &o.etag,
                        last_modified: iso_date(o.created_at),
                        name: &o.name,
                    },
                    Err(sub) => Item::Subdir { subdir: sub },
                })
                .collect();
            json = serde_json::to_string(&items).map_err(|e| Error::internal("listing", e))?;
        }
        Format::Xml => {
            xml = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<container name=\"{}\">",
                xml_escape(&c.name)
            );
            for e in entries {
                match e {
                    Ok(o) => xml.push_str(&format!(
                        "<object><name>{}</name><hash>{}</hash><bytes>{}</bytes><content_type>{}</content_type><last_modified>{}</last_modified></object>",
                        xml_escape(&o.name), o.etag, o.size, xml_escape(&o.content_type), iso_date(o.created_at)
                    )),
                    Err(sub) => xml.push_str(&format!(
                        "<subdir name=\"{0}\"><name>{0}</name></subdir>",
                        xml_escape(&sub)
                    )),
                }
            }
            xml.push_str("</container>");
        }
    }
    Ok(listing_response(fmt, headers, plain, json, xml, head))
}

// ---------------------------------------------------------------- objects

const OBJECT_SYS: &[&str] = &[
    "content-disposition",
    "content-encoding",
    "x-object-manifest",
];

fn guess_content_type(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "txt" | "text" | "conf" | "log" => "text/plain",
        "html" | "htm" => "text/html",
        "css" => "text/css",
        "csv" => "text/csv",
        "xml" => "application/xml",
        "json" => "application/json",
        "js" => "application/javascript",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "gz" | "tgz" => "application/gzip",
        "tar" => "application/x-tar",
        "iso" => "application/x-iso9660-image",
        "mp4" => "video/mp4",
        "mp3" => "audio/mpeg",
        _ => "application/octet-stream",
    }
}

fn etag_matches(list: &str, etag: &str) -> bool {
    list.split(',').any(|t| {
        let t = t.trim().trim_start_matches("W/").trim_matches('"');
        t == "*" || t == etag
    })
}

/// The expiry an object PUT/POST asks for (seconds since the epoch), validated.
fn delete_at(h: &HeaderMap, now: i64) -> Result<Option<Option<i64>>> {
    let now_s = now / 1_000_000;
    if let Some(v) = hdr(h, "x-delete-after") {
        let n: i64 = v
            .trim()
            .parse()
            .map_err(|_| bad("Non-integer X-Delete-After"))?;
        if n <= 0 {
            return Err(bad("X-Delete-After in past"));
        }
        return Ok(Some(Some(now_s + n)));
    }
    if let Some(v) = hdr(h, "x-delete-at") {
        if v.is_empty() {
            return Ok(Some(None));
        }
        let n: i64 = v
            .trim()
            .parse()
            .map_err(|_| bad("Non-integer X-Delete-At"))?;
        if n <= now_s {
            return Err(bad("X-Delete-At in past"));
        }
        return Ok(Some(Some(n)));
    }
    if h.contains_key("x-remove-delete-at") {
        return Ok(Some(None));
    }
    Ok(None)
}

/// What a client asks to store with an object.
struct NewObject {
    meta: Meta,
    content_type: String,
    delete_at: Option<i64>,
}

fn new_object(
    app: &App,
    h: &HeaderMap,
    name: &str,
    base: Option<&Object>,
    now: i64,
) -> Result<NewObject> {
    let mut meta = Meta::new();
    let mut delete_at_s = None;
    if let Some(b) = base {
        meta = b
            .meta
            .iter()
            .filter(|(k, _)| k.starts_with("x-object-meta-") || OBJECT_SYS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
    }
    apply_meta(app, &mut meta, h, "object", OBJECT_SYS)?;
    if let Some(d) = delete_at(h, now)? {
        delete_at_s = d;
    }
    let detect = hdr(h, "x-detect-content-type").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let content_type = match hdr(h, "content-type").filter(|c| !c.is_empty() && !detect) {
        Some(c) => c.to_string(),
        None => base
            .filter(|_| !detect)
            .map(|b| b.content_type.clone())
            .unwrap_or_else(|| guess_content_type(name).to_string()),
    };
    Ok(NewObject {
        meta,
        content_type,
        delete_at: delete_at_s.map(|s| s * 1_000_000),
    })
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

fn parse_copy_path(v: &str) -> Result<(String, String)> {
    let v = percent_encoding::percent_decode_str(v)
        .decode_utf8_lossy()
        .into_owned();
    let v = v.trim_start_matches('/');
    match v.split_once('/') {
        Some((c, o)) if !c.is_empty() && !o.is_empty() => Ok((c.to_string(), o.to_string())),
        _ => Err(Error::new(
            ErrorKind::PreconditionFailed,
            "X-Copy-From header must be of the form <container name>/<object name>",
        )),
    }
}

fn quota_of(meta: &Meta, key: &str) -> Option<i64> {
    meta.get(key).and_then(|v| v.parse().ok())
}

/// Checks an account's temp URL signature for this request.
async fn tempurl_valid(
    app: &App,
    account: &str,
    cmeta: Option<&Meta>,
    method: &Method,
    path: &str,
    q: &BTreeMap<String, String>,
) -> Result<bool> {
    use hmac::{Hmac, KeyInit, Mac};
    let (Some(sig), Some(expires)) = (q.get("temp_url_sig"), q.get("temp_url_expires")) else {
        return Ok(false);
    };
    let exp: i64 = expires
        .parse()
        .map_err(|_| Error::unauthorized("Unauthorized"))?;
    if exp < now_us() / 1_000_000 {
        return Err(Error::unauthorized("Unauthorized"));
    }
    let acct = app.store.account_get(account).await?.unwrap_or_default();
    let mut keys: Vec<String> = Vec::new();
    for k in ["temp-url-key", "temp-url-key-2"] {
        if let Some(v) = acct.meta.get(&format!("x-account-meta-{k}")) {
            keys.push(v.clone());
        }
        if let Some(v) = cmeta.and_then(|m| m.get(&format!("x-container-meta-{k}"))) {
            keys.push(v.clone());
        }
    }
    let (algo, want): (&str, Vec<u8>) = if let Some((a, b64)) = sig.split_once(':') {
        use base64::Engine as _;
        let b = base64::engine::general_purpose::URL_SAFE
            .decode(b64.replace('+', "-").replace('/', "_"))
            .or_else(|_| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(
                    b64.replace('+', "-")
                        .replace('/', "_")
                        .trim_end_matches('='),
                )
            })
            .map_err(|_| Error::unauthorized("Unauthorized"))?;
        (
            if a == "sha1" {
                "sha1"
            } else if a == "sha256" {
                "sha256"
            } else {
                "sha512"
            },
            b,
        )
    } else {
        let b = hex::decode(sig).map_err(|_| Error::unauthorized("Unauthorized"))?;
        (
            match b.len() {
                20 => "sha1",
                32 => "sha256",
                _ => "sha512",
            },
            b,
        )
    };
    // A prefix-based signature covers every object under `temp_url_prefix`.
    let prefixed;
    let path = match q.get("temp_url_prefix") {
        Some(prefix) => {
            let mut it = path.splitn(5, '/');
            let (_, v1, acct, cont, obj) = (it.next(), it.next(), it.next(), it.next(), it.next());
            let obj =
                percent_encoding::percent_decode_str(obj.unwrap_or_default()).decode_utf8_lossy();
            if !obj.starts_with(prefix.as_str()) {
                return Err(Error::unauthorized("Unauthorized"));
            }
            prefixed = format!(
                "prefix:/{}/{}/{}/{prefix}",
                v1.unwrap_or_default(),
                acct.unwrap_or_default(),
                cont.unwrap_or_default()
            );
            prefixed.as_str()
        }
        None => path,
    };
    let methods: &[&str] = if *method == Method::HEAD {
        &["HEAD", "GET", "PUT"]
    } else {
        &[method.as_str()]
    };
    for key in &keys {
        for m in methods {
            let msg = format!("{m}\n{exp}\n{path}");
            let got: Vec<u8> = match algo {
                "sha1" => {
                    let mut mac = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(key.as_bytes())
                        .map_err(|e| Error::internal("hmac", e.to_string()))?;
                    mac.update(msg.as_bytes());
                    mac.finalize().into_bytes().to_vec()
                }
                "sha256" => {
                    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key.as_bytes())
                        .map_err(|e| Error::internal("hmac", e.to_string()))?;
                    mac.update(msg.as_bytes());
                    mac.finalize().into_bytes().to_vec()
                }
                _ => {
                    let mut mac = <Hmac<sha2::Sha512> as KeyInit>::new_from_slice(key.as_bytes())
                        .map_err(|e| Error::internal("hmac", e.to_string()))?;
                    mac.update(msg.as_bytes());
                    mac.finalize().into_bytes().to_vec()
                }
            };
            if got.len() == want.len()
                && got.iter().zip(&want).fold(0u8, |a, (x, y)| a | (x ^ y)) == 0
            {
                return Ok(true);
            }
        }
    }
    Err(Error::unauthorized("Unauthorized"))
}

/// 422 has no [`ErrorKind`]: it travels as a marked 400 and becomes a 422 here.
fn unprocessable() -> Error {
    Error::bad_request("Unprocessable Entity").with_type("swift-422")
}

async fn object(
    state: AppState,
    ctx: RequestContext,
    path: Path<(String, String, String)>,
    req: Request,
) -> Result<Response> {
    match object_inner(state, ctx, path, req).await {
        Err(e) if e.type_name.as_deref() == Some("swift-422") => {
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
    if oname.len() > 1024 {
        return Err(Error::bad_request(format!(
            "Object name length of {} longer than 1024",
            oname.len()
        )));
    }
    let c = app.store.container_get(&account, &cname).await?;
    if method == Method::POST
        && hdr(&h, "content-type").is_some_and(|t| t.starts_with("multipart/form-data"))
    {
        let c = c.ok_or_else(not_found)?;
        return form_post(&app, &account, &c, &oname, &path, &h, body).await;
    }
    let temp = tempurl_valid(
        &app,
        &account,
        c.as_ref().map(|c| &c.meta),
        &method,
        &path,
        &q,
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
    let now = now_us();
    match method {
        Method::GET | Method::HEAD => {
            let o = app
                .object_live(&account, &cname, &oname)
                .await?
                .ok_or_else(not_found)?;
            let mut resp = object_get(&app, &o, &h, &q, method == Method::HEAD).await?;
            if temp && method == Method::GET {
                let fname = q
                    .get("filename")
                    .cloned()
                    .unwrap_or_else(|| oname.rsplit('/').next().unwrap_or_default().to_string());
                let disp = if q.contains_key("inline") {
                    "inline".to_string()
                } else {
                    format!("attachment; filename=\"{}\"", fname.replace('"', ""))
                };
                if let Ok(v) = HeaderValue::from_str(&disp) {
                    resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
                }
            }
            Ok(resp)
        }
        Method::PUT => {
            if let Some(src) = hdr(&h, "x-copy-from") {
                let (sc, so) = parse_copy_path(src)?;
                let sa = hdr(&h, "x-copy-from-account")
                    .map(str::to_string)
                    .unwrap_or_else(|| account.clone());
                return copy_object(&app, &ctx, (&sa, &sc, &so), (&account, &c, &oname), &h, &q)
                    .await;
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
            if len.is_some_and(|l| l > app.config.max_file_size) {
                return Err(Error::new(
                    ErrorKind::PayloadTooLarge,
                    "Your request is too large.",
                ));
            }
            let stream = Box::pin(body.into_data_stream().map_err(std::io::Error::other));
            if q.get("multipart-manifest").is_some_and(|v| v == "put") {
                return slo_put(&app, &account, &c, &oname, &h, stream).await;
            }
            let new = new_object(&app, &h, &oname, None, now)?;
            let (o, _) = store_object(
                &app,
                &account,
                &c,
                &oname,
                new,
                stream,
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
            let dcont = app.store.container_get(&da, &dc).await?;
            app.authorize(&ctx, &da, Op::ObjectWrite, dcont.as_ref().map(|c| &c.meta))?;
            let dcont = dcont.ok_or_else(not_found)?;
            copy_object(
                &app,
                &ctx,
                (&account, &cname, &oname),
                (&da, &dcont, &dobj),
                &h,
                &q,
            )
            .await
        }
        Method::POST => {
            let mut o = app
                .object_live(&account, &cname, &oname)
                .await?
                .ok_or_else(not_found)?;
            let keep: Meta = o
                .meta
                .iter()
                .filter(|(k, _)| {
                    k.as_str() == "x-static-large-object" || OBJECT_SYS.contains(&k.as_str())
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let mut meta = keep;
            apply_meta(&app, &mut meta, &h, "object", OBJECT_SYS)?;
            o.meta = meta;
            if let Some(d) = delete_at(&h, now)? {
                o.delete_at = d.map(|s| s * 1_000_000);
            }
            if let Some(ct) = hdr(&h, "content-type").filter(|c| !c.is_empty()) {
                o.content_type = ct.to_string();
            }
            app.store.object_meta_set(&o).await?;
            Ok(empty(StatusCode::ACCEPTED, vec![]))
        }
        Method::DELETE => {
            let o = app.object_live(&account, &cname, &oname).await?;
            if q.get("multipart-manifest").is_some_and(|v| v == "delete")
                && let Some(o) = o
                    .as_ref()
                    .filter(|o| o.meta.contains_key("x-static-large-object"))
            {
                return slo_delete(&app, &account, o, &h).await;
            }
            delete_object(&app, &account, &c, &oname, o).await
        }
        _ => Err(Error::new(
            ErrorKind::MethodNotAllowed,
            "Method not allowed.",
        )),
    }
}

fn length_required() -> Response {
    let mut r = empty(StatusCode::LENGTH_REQUIRED, vec![]);
    *r.body_mut() = Body::from("Length Required");
    r
}

/// Writes an object's data and row, with quotas, ETag check and versioning.
#[allow(clippy::too_many_arguments)]
async fn store_object(
    app: &Arc<App>,
    account: &str,
    c: &Container,
    name: &str,
    new: NewObject,
    body: crate::data::ByteStream,
    len: Option<u64>,
    expect_etag: Option<&str>,
) -> Result<(Object, Option<Object>)> {
    let now = now_us();
    let mut limit = app.config.max_file_size;
    let too_large = || Error::new(ErrorKind::PayloadTooLarge, "Upload exceeds quota.");
    let existing = app.object_live(account, &c.name, name).await?;
    let cq_bytes = quota_of(&c.meta, "x-container-meta-quota-bytes");
    let cq_count = quota_of(&c.meta, "x-container-meta-quota-count");
    if cq_bytes.is_some() || cq_count.is_some() {
        let s = app.store.container_stats(account, &c.name, now).await?;
        if let Some(qc) = cq_count
            && existing.is_none()
            && s.count + 1 > qc
        {
            return Err(too_large());
        }
        if let Some(qb) = cq_bytes {
            limit = limit.min((qb - s.bytes).max(0) as u64);
        }
    }
    let acct_meta = app
        .store
        .account_get(account)
        .await?
        .map(|a| a.meta)
        .unwrap_or_default();
    let aq_bytes = quota_of(&acct_meta, "x-account-meta-quota-bytes");
    let aq_count = quota_of(&acct_meta, "x-account-meta-quota-count")
        .or_else(|| quota_of(&acct_meta, "x-account-quota-count"));
    if aq_bytes.is_some() || aq_count.is_some() {
        let (_, s) = app.store.account_stats(account, now).await?;
        if let Some(qc) = aq_count
            && existing.is_none()
            && s.count + 1 > qc
        {
            return Err(too_large());
        }
        if let Some(qb) = aq_bytes {
            limit = limit.min((qb - s.bytes).max(0) as u64);
        }
    }
    if len.is_some_and(|l| l > limit) {
        return Err(too_large());
    }
    let (key, w) = app.write_data(body, limit).await.map_err(|e| {
        if e.kind == ErrorKind::PayloadTooLarge {
            too_large()
        } else {
            e
        }
    })?;
    if let Some(l) = len
        && l != w.size
    {
        app.drop_data(&key).await;
        return Err(Error::new(
            ErrorKind::BadRequest,
            "The body is shorter than Content-Length.",
        ));
    }
    if let Some(e) = expect_etag
        && e.trim_matches('"').to_ascii_lowercase() != w.md5
    {
        app.drop_data(&key).await;
        return Err(unprocessable());
    }
    let o = Object {
        account: account.to_string(),
        container: c.name.clone(),
        name: name.to_string(),
        size: w.size as i64,
        etag: w.md5,
        content_type: new.content_type,
        created_at: now,
        delete_at: new.delete_at,
        data_key: key,
        meta: new.meta,
    };
    let old = put_row(app, c, &o, existing).await?;
    Ok((o, old))
}

/// Records a row (after archiving the object it replaces when the container is versioned).
async fn put_row(
    app: &Arc<App>,
    c: &Container,
    o: &Object,
    existing: Option<Object>,
) -> Result<Option<Object>> {
    let archive = c
        .meta
        .get("x-versions-location")
        .or_else(|| c.meta.get("x-history-location"))
        .cloned();
    let mut archived = false;
    if let (Some(loc), Some(old)) = (archive, existing.as_ref())
        && app.store.container_get(&o.account, &loc).await?.is_some()
    {
        archive_object(app, old, &loc).await?;
        archived = true;
    }
    let replaced = app.store.object_put(o).await?;
    if let Some(r) = &replaced
        && !(archived && existing.as_ref().is_some_and(|e| e.data_key == r.data_key))
    {
        app.drop_data(&r.data_key).await;
    }
    Ok(replaced)
}

fn version_prefix(name: &str) -> String {
    format!("{:03x}{name}/", name.len())
}

/// Records `old`'s data under the versions container (the data moves, it is not copied).
async fn archive_object(app: &Arc<App>, old: &Object, loc: &str) -> Result<()> {
    let mut v = old.clone();
    v.container = loc.to_string();
    v.name = format!(
        "{}{}",
        version_prefix(&old.name),
        x_timestamp(old.created_at)
    );
    app.store.object_put(&v).await?;
    Ok(())
}

async fn delete_object(
    app: &Arc<App>,
    account: &str,
    c: &Container,
    name: &str,
    o: Option<Object>,
) -> Result<Response> {
    if let Some(loc) = c.meta.get("x-history-location")
        && let Some(o) = &o
        && app.store.container_get(account, loc).await?.is_some()
    {
        archive_object(app, o, loc).await?;
        app.store.object_delete(account, &c.name, name).await?;
        return Ok(empty(StatusCode::NO_CONTENT, vec![]));
    }
    if let Some(loc) = c.meta.get("x-versions-location")
        && app.store.container_get(account, loc).await?.is_some()
    {
        let q = ListQuery {
            prefix: Some(version_prefix(name)),
            limit: 1,
            reverse: true,
            ..Default::default()
        };
        let latest = app
            .store
            .object_list(account, loc, &q, now_us())
            .await?
            .into_iter()
            .next();
        if let Some(v) = latest {
            if let Some(o) = &o {
                app.store.object_delete(account, &c.name, name).await?;
                app.drop_data(&o.data_key).await;
            }
            app.store.object_delete(account, loc, &v.name).await?;
            let mut restored = v.clone();
            restored.container = c.name.clone();
            restored.name = name.to_string();
            app.store.object_put(&restored).await?;
            return Ok(empty(StatusCode::NO_CONTENT, vec![]));
        }
    }
    let Some(_) = o else { return Err(not_found()) };
    match app.store.object_delete(account, &c.name, name).await? {
        Some(old) => {
            app.drop_data(&old.data_key).await;
            Ok(empty(StatusCode::NO_CONTENT, vec![]))
        }
        None => Err(not_found()),
    }
}

async fn copy_object(
    app: &Arc<App>,
    ctx: &RequestContext,
    (sa, sc, so): (&str, &str, &str),
    (da, dc, dobj): (&str, &Container, &str),
    h: &HeaderMap,
    q: &BTreeMap<String, String>,
) -> Result<Response> {
    let scont = app.store.container_get(sa, sc).await?;
    app.authorize(ctx, sa, Op::ObjectRead, scont.as_ref().map(|c| &c.meta))?;
    let src = app.object_live(sa, sc, so).await?.ok_or_else(not_found)?;
    let _ = q;
    let parts = app.parts(&src).await?;
    let total: u64 = parts.iter().map(|p| p.size).sum();
    let body = app.stream_parts(parts, 0, total);
    let fresh = hdr(h, "x-fresh-metadata").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let mut base = src.clone();
    base.meta.remove("x-static-large-object");
    base.meta.remove("x-object-manifest");
    if fresh {
        base.meta.clear();
    }
    let new = new_object(app, h, dobj, Some(&base), now_us())?;
    let (o, _) = store_object(app, da, dc, dobj, new, body, Some(total), None).await?;
    let copied = format!(
        "{}/{}",
        percent_encoding::utf8_percent_encode(sc, PATH),
        percent_encoding::utf8_percent_encode(so, PATH)
    );
    let mut hs = vec![
        ("etag".into(), o.etag.clone()),
        ("last-modified".into(), http_date(o.created_at)),
        ("x-copied-from".into(), copied),
        (
            "x-copied-from-last-modified".into(),
            http_date(src.created_at),
        ),
    ];
    if sa != da {
        hs.push(("x-copied-from-account".into(), sa.to_string()));
    }
    hs.extend(meta_headers(&o.meta));
    Ok(empty(StatusCode::CREATED, hs))
}

const PATH: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn quoted(e: &str) -> String {
    format!("\"{e}\"")
}

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
            let e: u64 = if b.is_empty() {
                total.saturating_sub(1)
            } else {
                b.parse().ok()?
            };
            if e < s {
                return None;
            }
            if s >= total {
                continue;
            }
            (s, e.min(total.saturating_sub(1)))
        };
        if total > 0 {
            out.push(range);
        }
    }
    Some(if out.is_empty() { Err(()) } else { Ok(out) })
}

async fn object_get(
    app: &Arc<App>,
    o: &Object,
    h: &HeaderMap,
    q: &BTreeMap<String, String>,
    head: bool,
) -> Result<Response> {
    let slo = o.meta.contains_key("x-static-large-object");
    let raw_manifest = slo && q.get("multipart-manifest").is_some_and(|v| v == "get");
    let (parts, etag) = if raw_manifest {
        (
            vec![Part {
                key: o.data_key.clone(),
                size: 0,
            }],
            o.etag.clone(),
        )
    } else if slo {
        (app.parts(o).await?, quoted(&o.etag))
    } else if let Some(m) = o.meta.get("x-object-manifest") {
        let (c, p) = m.split_once('/').unwrap_or((m.as_str(), ""));
        let segs = app.dlo_segments(&o.account, c, p).await?;
        let mut md5 = md5::Md5::new();
        for s in &segs {
            md5.update(s.etag.as_bytes());
        }
        let parts = segs
            .iter()
            .map(|s| Part {
                key: s.data_key.clone(),
                size: s.size as u64,
            })
            .collect();
        (parts, quoted(&hex::encode(md5.finalize())))
    } else {
        (
            vec![Part {
                key: o.data_key.clone(),
                size: o.size as u64,
            }],
            o.etag.clone(),
        )
    };
    let raw_etag = etag.trim_matches('"').to_string();
    let mut headers = object_headers(o, &etag);
    let mut content_type = o.content_type.clone();
    if raw_manifest {
        let data = app.read_all(&o.data_key, 16 << 20).await?;
        content_type = "application/json; charset=utf-8".into();
        let mut r = Response::builder().status(StatusCode::OK);
        for (k, v) in headers {
            if k != "etag" {
                r = r.header(k, v);
            }
        }
        let e = hex::encode(md5::Md5::digest(&data));
        return r
            .header("etag", e)
            .header(header::CONTENT_TYPE, content_type)
            .header(header::CONTENT_LENGTH, data.len().to_string())
            .body(if head {
                Body::empty()
            } else {
                Body::from(data)
            })
            .map_err(|e| Error::internal("response", e));
    }
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
    let mut r = Response::builder();
    for (k, v) in headers {
        r = r.header(k, v);
    }
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
            let body = if head {
                Body::empty()
            } else {
                Body::from_stream(app.stream_parts(parts, s, len))
            };
            r.status(StatusCode::PARTIAL_CONTENT)
                .header(header::CONTENT_RANGE, format!("bytes {s}-{e}/{total}"))
                .header(header::CONTENT_TYPE, content_type)
                .header(header::CONTENT_LENGTH, len.to_string())
                .body(body)
                .map_err(|e| Error::internal("response", e))
        }
        Some(Ok(rs)) => {
            let boundary = uuid::Uuid::new_v4().simple().to_string();
            let mut pieces: Vec<crate::data::ByteStream> = Vec::new();
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
            let body = if head {
                Body::empty()
            } else {
                Body::from_stream(futures_util::stream::iter(pieces).flatten())
            };
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
            let body = if head {
                Body::empty()
            } else {
                Body::from_stream(app.stream_parts(parts, 0, total))
            };
            r.status(StatusCode::OK)
                .header(header::CONTENT_TYPE, content_type)
                .header(header::CONTENT_LENGTH, total.to_string())
                .body(body)
                .map_err(|e| Error::internal("response", e))
        }
    }
}

use futures_util::StreamExt as _;

async fn read_body(mut s: crate::data::ByteStream, limit: usize) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(c) = s.next().await {
        out.extend_from_slice(&c.map_err(|_| bad("Failed to read the body"))?);
        if out.len() > limit {
            return Err(Error::new(
                ErrorKind::PayloadTooLarge,
                "Manifest File > 8388608 bytes",
            ));
        }
    }
    Ok(out)
}

async fn slo_put(
    app: &Arc<App>,
    account: &str,
    c: &Container,
    name: &str,
    h: &HeaderMap,
    body: crate::data::ByteStream,
) -> Result<Response> {
    let raw = read_body(body, 8 << 20).await?;
    let segs: Vec<Value> =
        serde_json::from_slice(&raw).map_err(|_| bad("Manifest must be valid JSON.\n"))?;
    if segs.is_empty() || segs.len() > app.config.max_manifest_segments {
        return Err(bad("Invalid number of segments"));
    }
    let mut entries = Vec::new();
    let mut errors = Vec::new();
    let mut md5 = md5::Md5::new();
    let mut total = 0i64;
    for s in &segs {
        let path = s["path"].as_str().unwrap_or_default();
        let (sc, so) = path
            .trim_start_matches('/')
            .split_once('/')
            .unwrap_or(("", ""));
        let Some(seg) = app.object_live(account, sc, so).await? else {
            errors.push(format!("{path}, 404 Not Found"));
            continue;
        };
        if let Some(e) = s["etag"].as_str()
            && !e.is_empty()
            && e.trim_matches('"') != seg.etag
        {
            errors.push(format!("{path}, Etag Mismatch"));
            continue;
        }
        if let Some(n) = s["size_bytes"].as_i64()
            && n != seg.size
        {
            errors.push(format!("{path}, Size Mismatch"));
            continue;
        }
        md5.update(seg.etag.as_bytes());
        total += seg.size;
        entries.push(json!({"name": format!("/{sc}/{so}"), "hash": seg.etag, "bytes": seg.size, "content_type": seg.content_type, "last_modified": iso_date(seg.created_at)}));
    }
    if !errors.is_empty() {
        return Err(Error::bad_request(format!(
            "Errors:\n{}",
            errors.join("\n")
        )));
    }
    let slo_etag = hex::encode(md5.finalize());
    if let Some(e) = hdr(h, "etag")
        && e.trim_matches('"') != slo_etag
    {
        return Err(unprocessable());
    }
    let manifest = Value::Array(entries).to_string();
    let now = now_us();
    let mut new = new_object(app, h, name, None, now)?;
    new.meta
        .insert("x-static-large-object".into(), "True".into());
    let existing = app.object_live(account, &c.name, name).await?;
    let (key, _) = app
        .write_data(once(Bytes::from(manifest)), 16 << 20)
        .await?;
    let o = Object {
        account: account.to_string(),
        container: c.name.clone(),
        name: name.to_string(),
        size: total,
        etag: slo_etag.clone(),
        content_type: new.content_type,
        created_at: now,
        delete_at: new.delete_at,
        data_key: key,
        meta: new.meta,
    };
    put_row(app, c, &o, existing).await?;
    Ok(empty(
        StatusCode::CREATED,
        vec![
            ("etag".into(), quoted(&slo_etag)),
            ("last-modified".into(), http_date(now)),
        ],
    ))
}

fn bulk_result(
    h: &HeaderMap,
    deleted: usize,
    not_found: usize,
    errors: Vec<(String, String)>,
) -> Response {
    let status = if errors.is_empty() {
        "200 OK"
    } else {
        "400 Bad Request"
    };
    let json_out = hdr(h, "accept").is_some_and(|a| a.contains("json"));
    let (ct, body) = if json_out {
        ("application/json", json!({"Number Deleted": deleted, "Number Not Found": not_found, "Response Status": status, "Response Body": "", "Errors": errors.iter().map(|(a, b)| json!([a, b])).collect::<Vec<_>>()}).to_string())
    } else {
        (
            "text/plain",
            format!(
                "Number Deleted: {deleted}\nNumber Not Found: {not_found}\nResponse Body: \nResponse Status: {status}\nErrors:\n{}",
                errors
                    .iter()
                    .map(|(a, b)| format!("{a}, {b}\n"))
                    .collect::<String>()
            ),
        )
    };
    (StatusCode::OK, [(header::CONTENT_TYPE, ct)], body).into_response()
}

async fn slo_delete(app: &Arc<App>, account: &str, o: &Object, h: &HeaderMap) -> Result<Response> {
    let manifest = app.read_all(&o.data_key, 16 << 20).await?;
    let segs: Vec<Value> =
        serde_json::from_slice(&manifest).map_err(|e| Error::internal("slo manifest", e))?;
    let (mut deleted, mut missing) = (0, 0);
    for s in segs {
        let path = s["name"].as_str().unwrap_or_default();
        let (sc, so) = path
            .trim_start_matches('/')
            .split_once('/')
            .unwrap_or(("", ""));
        match app.store.object_delete(account, sc, so).await? {
            Some(old) => {
                app.drop_data(&old.data_key).await;
                deleted += 1;
            }
            None => missing += 1,
        }
    }
    if let Some(old) = app
        .store
        .object_delete(account, &o.container, &o.name)
        .await?
    {
        app.drop_data(&old.data_key).await;
        deleted += 1;
    }
    Ok(bulk_result(h, deleted, missing, vec![]))
}

async fn bulk_delete(
    app: Arc<App>,
    ctx: RequestContext,
    account: String,
    req: Request,
) -> Result<Response> {
    let h = req.headers().clone();
    let stream = Box::pin(
        req.into_body()
            .into_data_stream()
            .map_err(std::io::Error::other),
    );
    let raw = read_body(stream, 10 << 20).await?;
    let text = String::from_utf8_lossy(&raw);
    let (mut deleted, mut missing, mut errors) = (0, 0, Vec::new());
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let p = percent_encoding::percent_decode_str(line)
            .decode_utf8_lossy()
            .into_owned();
        let p = p.trim_start_matches('/');
        let (cn, on) = match p.split_once('/') {
            Some((c, o)) => (c.to_string(), Some(o.to_string())),
            None => (p.to_string(), None),
        };
        let c = app.store.container_get(&account, &cn).await?;
        let op = if on.is_some() {
            Op::ObjectWrite
        } else {
            Op::Owner
        };
        if app
            .authorize(&ctx, &account, op, c.as_ref().map(|c| &c.meta))
            .is_err()
        {
            errors.push((line.to_string(), "403 Forbidden".to_string()));
            continue;
        }
        let Some(c) = c else {
            missing += 1;
            continue;
        };
        match on {
            Some(o) => match app.store.object_delete(&account, &c.name, &o).await? {
                Some(old) => {
                    app.drop_data(&old.data_key).await;
                    deleted += 1;
                }
                None => missing += 1,
            },
            None => {
                let mut orphans = Vec::new();
                match app
                    .store
                    .container_delete(&account, &c.name, now_us(), &mut orphans)
                    .await?
                {
                    ContainerDelete::Deleted => deleted += 1,
                    ContainerDelete::NotFound => missing += 1,
                    ContainerDelete::NotEmpty => {
                        errors.push((line.to_string(), "409 Conflict".into()))
                    }
                }
                for k in orphans {
                    app.drop_data(&k).await;
                }
            }
        }
    }
    Ok(bulk_result(&h, deleted, missing, errors))
}

/// One regular file of a tar archive: its path and bytes.
fn tar_entries(data: &[u8]) -> Result<Vec<(String, Bytes)>> {
    let field = |b: &[u8]| {
        let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
        String::from_utf8_lossy(&b[..end]).into_owned()
    };
    let mut out = Vec::new();
    let mut pos = 0usize;
    let mut long_name: Option<String> = None;
    while pos + 512 <= data.len() {
        let h = &data[pos..pos + 512];
        if h.iter().all(|&b| b == 0) {
            break;
        }
        let size_s = field(&h[124..136]);
        let size = usize::from_str_radix(size_s.trim(), 8)
            .map_err(|_| bad("Invalid Tar File: bad size"))?;
        let kind = h[156];
        let mut name = field(&h[0..100]);
        if &h[257..262] == b"ustar" {
            let prefix = field(&h[345..500]);
            if !prefix.is_empty() {
                name = format!("{prefix}/{name}");
            }
        }
        let start = pos + 512;
        let end = start
            .checked_add(size)
            .filter(|e| *e <= data.len())
            .ok_or_else(|| bad("Invalid Tar File: truncated"))?;
        match kind {
            b'L' => long_name = Some(field(&data[start..end])),
            b'0' | 0 => {
                let name = long_name.take().unwrap_or(name);
                out.push((name, Bytes::copy_from_slice(&data[start..end])));
            }
            _ => long_name = None,
        }
        pos = start + size.div_ceil(512) * 512;
    }
    Ok(out)
}

/// `PUT /v1/{account}?extract-archive=tar`: each file `container/object` of the archive
/// becomes an object (containers are created as needed).
async fn extract_archive(
    app: Arc<App>,
    ctx: RequestContext,
    account: String,
    fmt: &str,
    req: Request,
) -> Result<Response> {
    app.authorize(&ctx, &account, Op::Owner, None)?;
    if fmt != "tar" {
        return Err(bad("Unsupported archive format"));
    }
    let h = req.headers().clone();
    let stream = Box::pin(
        req.into_body()
            .into_data_stream()
            .map_err(std::io::Error::other),
    );
    let raw = read_body(stream, 1 << 30).await?;
    let (mut created, mut errors) = (0usize, Vec::new());
    for (path, bytes) in tar_entries(&raw)? {
        let path = path.trim_start_matches("./").trim_start_matches('/');
        let Some((cn, on)) = path.split_once('/') else {
            continue;
        };
        if on.is_empty() || check_container_name(cn).is_err() {
            errors.push((path.to_string(), "400 Bad Request".to_string()));
            continue;
        }
        let now = now_us();
        let c = match app.store.container_get(&account, cn).await? {
            Some(c) => c,
            None => {
                let c = Container {
                    account: account.clone(),
                    name: cn.to_string(),
                    created_at: now,
                    updated_at: now,
                    meta: Meta::new(),
                };
                app.store.container_create(&c).await?;
                c
            }
        };
        let new = new_object(&app, &HeaderMap::new(), on, None, now)?;
        let len = bytes.len() as u64;
        match store_object(&app, &account, &c, on, new, once(bytes), Some(len), None).await {
            Ok(_) => created += 1,
            Err(e) => errors.push((path.to_string(), format!("{} {}", e.status(), e.message))),
        }
    }
    let status = if errors.is_empty() {
        "201 Created"
    } else {
        "400 Bad Request"
    };
    let json_out = hdr(&h, "accept").is_some_and(|a| a.contains("json"));
    let (ct, body) = if json_out {
        ("application/json", json!({"Number Files Created": created, "Response Status": status, "Response Body": "", "Errors": errors.iter().map(|(a, b)| json!([a, b])).collect::<Vec<_>>()}).to_string())
    } else {
        (
            "text/plain",
            format!(
                "Number Files Created: {created}\nResponse Body: \nResponse Status: {status}\nErrors:\n{}",
                errors
                    .iter()
                    .map(|(a, b)| format!("{a}, {b}\n"))
                    .collect::<String>()
            ),
        )
    };
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, ct)], body).into_response())
}

/// The parts of a `multipart/form-data` body: (field name, file name, bytes).
fn form_parts(body: &[u8], boundary: &str) -> Vec<(String, Option<String>, Bytes)> {
    let delim = format!("--{boundary}");
    let d = delim.as_bytes();
    let mut out = Vec::new();
    let mut starts = Vec::new();
    let mut i = 0;
    while i + d.len() <= body.len() {
        if &body[i..i + d.len()] == d {
            starts.push(i);
            i += d.len();
        } else {
            i += 1;
        }
    }
    for w in starts.windows(2) {
        let part = &body[w[0] + d.len()..w[1]];
        let part = part.strip_prefix(b"\r\n").unwrap_or(part);
        let part = part.strip_suffix(b"\r\n").unwrap_or(part);
        let Some(split) = part.windows(4).position(|x| x == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&part[..split]).into_owned();
        let data = Bytes::copy_from_slice(&part[split + 4..]);
        let disp = head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition"))
            .unwrap_or_default();
        let attr = |key: &str| {
            disp.split(';').map(str::trim).find_map(|kv| {
                kv.strip_prefix(&format!("{key}="))
                    .map(|v| v.trim_matches('"').to_string())
            })
        };
        if let Some(name) = attr("name") {
            out.push((name, attr("filename"), data));
        }
    }
    out
}

/// Swift's form POST: an HTML form signed with the account's temp URL key uploads files
/// under the object prefix named by the URL.
async fn form_post(
    app: &Arc<App>,
    account: &str,
    c: &Container,
    prefix: &str,
    path: &str,
    h: &HeaderMap,
    body: Body,
) -> Result<Response> {
    use hmac::{Hmac, KeyInit, Mac};
    let ct = hdr(h, "content-type").unwrap_or_default();
    let boundary = ct
        .split(';')
        .map(str::trim)
        .find_map(|kv| kv.strip_prefix("boundary="))
        .map(|b| b.trim_matches('"').to_string())
        .ok_or_else(|| bad("FormPost: invalid starting boundary"))?;
    let stream = Box::pin(body.into_data_stream().map_err(std::io::Error::other));
    let raw = read_body(stream, app.config.max_file_size.min(1 << 30) as usize).await?;
    let parts = form_parts(&raw, &boundary);
    let field = |n: &str| {
        parts
            .iter()
            .find(|(k, f, _)| k == n && f.is_none())
            .map(|(_, _, v)| String::from_utf8_lossy(v).trim().to_string())
            .unwrap_or_default()
    };
    let (redirect, max_size, max_count, expires, sig) = (
        field("redirect"),
        field("max_file_size"),
        field("max_file_count"),
        field("expires"),
        field("signature"),
    );
    let exp: i64 = expires
        .parse()
        .map_err(|_| Error::unauthorized("FormPost: expired"))?;
    if exp < now_us() / 1_000_000 {
        return Err(Error::unauthorized("FormPost: Form Expired"));
    }
    let acct = app.store.account_get(account).await?.unwrap_or_default();
    let keys: Vec<&String> = [
        "x-account-meta-temp-url-key",
        "x-account-meta-temp-url-key-2",
    ]
    .iter()
    .filter_map(|k| acct.meta.get(*k))
    .chain(
        [
            "x-container-meta-temp-url-key",
            "x-container-meta-temp-url-key-2",
        ]
        .iter()
        .filter_map(|k| c.meta.get(*k)),
    )
    .collect();
    let msg = format!("{path}\n{redirect}\n{max_size}\n{max_count}\n{expires}");
    let valid = keys.iter().any(|k| {
        <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(k.as_bytes()).is_ok_and(|mut m| {
            m.update(msg.as_bytes());
            hex::encode(m.finalize().into_bytes()) == sig
        })
    });
    if !valid {
        return Err(Error::unauthorized("FormPost: Invalid Signature"));
    }
    let max_size: u64 = max_size.parse().unwrap_or(0);
    let max_count: usize = max_count.parse().unwrap_or(0);
    for (stored, (_, filename, data)) in parts
        .iter()
        .filter(|(_, f, _)| f.as_deref().is_some_and(|f| !f.is_empty()))
        .enumerate()
    {
        if stored >= max_count {
            return Err(bad("FormPost: max_file_count exceeded"));
        }
        if data.len() as u64 > max_size {
            return Err(Error::new(
                ErrorKind::PayloadTooLarge,
                "FormPost: max_file_size exceeded",
            ));
        }
        let name = format!("{prefix}{}", filename.as_deref().unwrap_or_default());
        let new = new_object(app, &HeaderMap::new(), &name, None, now_us())?;
        let len = data.len() as u64;
        store_object(
            app,
            account,
            c,
            &name,
            new,
            once(data.clone()),
            Some(len),
            None,
        )
        .await?;
    }
    if !redirect.is_empty() {
        let sep = if redirect.contains('?') { '&' } else { '?' };
        let loc = format!("{redirect}{sep}status=201&message=");
        return Ok((StatusCode::SEE_OTHER, [(header::LOCATION, loc)], "").into_response());
    }
    Ok((
        StatusCode::CREATED,
        [(header::CONTENT_TYPE, "text/plain; charset=UTF-8")],
        "201 Created\n",
    )
        .into_response())
}

/// Swift's staticweb for anonymous callers (or `X-Web-Mode: true`) of a public container:
/// `X-Container-Meta-Web-Index` serves that object, `X-Container-Meta-Web-Listings` an
/// HTML listing (styled by `...-Web-Listings-CSS`). `None` when it does not apply.
async fn static_web(
    app: &Arc<App>,
    ctx: &RequestContext,
    account: &str,
    c: &Container,
    h: &HeaderMap,
    head: bool,
) -> Result<Option<Response>> {
    let web_mode =
        ctx.auth.is_none() || hdr(h, "x-web-mode").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let public = crate::acl::Acl::parse(c.meta.get("x-container-read").map(String::as_str)).public;
    if !web_mode || !public {
        return Ok(None);
    }
    if let Some(index) = c.meta.get("x-container-meta-web-index")
        && let Some(o) = app.object_live(account, &c.name, index).await?
    {
        return Ok(Some(object_get(app, &o, h, &BTreeMap::new(), head).await?));
    }
    let listings = c
        .meta
        .get("x-container-meta-web-listings")
        .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "yes" | "on" | "1"));
    if !listings {
        return Ok(None);
    }
    let q = ListQuery {
        limit: app.config.container_listing_limit,
        ..Default::default()
    };
    let objects = app
        .store
        .object_list(account, &c.name, &q, now_us())
        .await?;
    let css = c
        .meta
        .get("x-container-meta-web-listings-css")
        .map(|href| {
            format!(
                "  <link rel=\"stylesheet\" type=\"text/css\" href=\"{}\" />\n",
                xml_escape(href)
            )
        })
        .unwrap_or_default();
    let mut html = format!(
        "<!DOCTYPE html>\n<html>\n <head>\n  <title>Listing of /{0}/</title>\n{css} </head>\n <body>\n  <h1>Listing of /{0}/</h1>\n  <table>\n",
        xml_escape(&c.name)
    );
    for o in objects {
        html.push_str(&format!(
            "   <tr><td class=\"colname\"><a href=\"{0}\">{0}</a></td><td class=\"colsize\">{1}</td><td class=\"coldate\">{2}</td></tr>\n",
            xml_escape(&o.name), o.size, iso_date(o.created_at)
        ));
    }
    html.push_str("  </table>\n </body>\n</html>\n");
    let len = html.len();
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/html; charset=UTF-8")
        .header(header::CONTENT_LENGTH, len.to_string())
        .body(if head {
            Body::empty()
        } else {
            Body::from(html)
        })
        .map(Some)
        .map_err(|e| Error::internal("response", e))
}
