//! Form POST on the wire: a `multipart/form-data` POST to an object prefix; the fields
//! and files are parsed here, checked and stored by the logic layer, and the answer is a
//! redirect (`redirect` field) or `201 Created`.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use oxstack_common::Result;

use super::{hdr, read_body};
use crate::app::App;
use crate::app::formpost::FormFields;
use crate::app::meta::bad;
use crate::store::Container;

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
pub(super) async fn form_post(
    app: &Arc<App>,
    account: &str,
    c: &Container,
    prefix: &str,
    path: &str,
    h: &HeaderMap,
    body: Body,
) -> Result<Response> {
    let ct = hdr(h, "content-type").unwrap_or_default();
    let boundary = ct
        .split(';')
        .map(str::trim)
        .find_map(|kv| kv.strip_prefix("boundary="))
        .map(|b| b.trim_matches('"').to_string())
        .ok_or_else(|| bad("FormPost: invalid starting boundary"))?;
    let raw = read_body(body, app.config.max_file_size.min(1 << 30) as usize).await?;
    let parts = form_parts(&raw, &boundary);
    let field = |n: &str| {
        parts
            .iter()
            .find(|(k, f, _)| k == n && f.is_none())
            .map(|(_, _, v)| String::from_utf8_lossy(v).trim().to_string())
            .unwrap_or_default()
    };
    let fields = FormFields {
        redirect: field("redirect"),
        max_file_size: field("max_file_size"),
        max_file_count: field("max_file_count"),
        expires: field("expires"),
        signature: field("signature"),
    };
    app.form_post_check(account, &c.meta, path, &fields).await?;
    let files: Vec<(Option<String>, Bytes)> = parts.into_iter().map(|(_, f, d)| (f, d)).collect();
    app.form_post_store(account, c, prefix, &fields, &files)
        .await?;
    let redirect = &fields.redirect;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_fields_and_files() {
        let body = b"--B\r\nContent-Disposition: form-data; name=\"expires\"\r\n\r\n123\r\n--B\r\ncontent-disposition: form-data; name=\"file1\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--B\r\nno blank line\r\n--B--\r\n";
        let parts = form_parts(body, "B");
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].0, "expires");
        assert_eq!(parts[0].1, None);
        assert_eq!(&parts[0].2[..], b"123");
        assert_eq!(parts[1].0, "file1");
        assert_eq!(parts[1].1.as_deref(), Some("a.txt"));
        assert_eq!(&parts[1].2[..], b"hello");
        assert!(form_parts(body, "other").is_empty());
    }
}
