//! Swift's bulk middleware on the wire: `POST|DELETE /v1/{account}?bulk-delete` (a body of
//! paths) and `PUT /v1/{account}?extract-archive=tar`, both answering with a summary in
//! plain text or JSON (`Accept`).

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use oxstack_common::Result;
use oxstack_common::context::RequestContext;
use serde_json::json;

use super::{hdr, read_body};
use crate::app::bulk::BulkOutcome;
use crate::app::meta::bad;
use crate::app::{App, Op};

/// A bulk summary: `counts` (name, value) first, then status, body and errors.
fn summary(
    h: &HeaderMap,
    ok_status: &str,
    counts: &[(&str, usize)],
    errors: &[(String, String)],
) -> Response {
    let status = if errors.is_empty() {
        ok_status
    } else {
        "400 Bad Request"
    };
    let json_out = hdr(h, "accept").is_some_and(|a| a.contains("json"));
    let (ct, body) = if json_out {
        let mut m = serde_json::Map::new();
        for (k, v) in counts {
            m.insert((*k).to_string(), json!(v));
        }
        m.insert("Response Status".into(), json!(status));
        m.insert("Response Body".into(), json!(""));
        m.insert(
            "Errors".into(),
            json!(
                errors
                    .iter()
                    .map(|(a, b)| json!([a, b]))
                    .collect::<Vec<_>>()
            ),
        );
        ("application/json", serde_json::Value::Object(m).to_string())
    } else {
        let counts: String = counts.iter().map(|(k, v)| format!("{k}: {v}\n")).collect();
        (
            "text/plain",
            format!(
                "{counts}Response Body: \nResponse Status: {status}\nErrors:\n{}",
                errors
                    .iter()
                    .map(|(a, b)| format!("{a}, {b}\n"))
                    .collect::<String>()
            ),
        )
    };
    (StatusCode::OK, [(header::CONTENT_TYPE, ct)], body).into_response()
}

/// A bulk delete's summary.
pub(super) fn delete_result(h: &HeaderMap, o: &BulkOutcome) -> Response {
    summary(
        h,
        "200 OK",
        &[
            ("Number Deleted", o.done),
            ("Number Not Found", o.not_found),
        ],
        &o.errors,
    )
}

pub(super) async fn bulk_delete(
    app: Arc<App>,
    ctx: RequestContext,
    account: String,
    req: Request,
) -> Result<Response> {
    let h = req.headers().clone();
    let raw = read_body(req.into_body(), 10 << 20).await?;
    let text = String::from_utf8_lossy(&raw);
    let outcome = app.bulk_delete(&ctx, &account, &text).await?;
    Ok(delete_result(&h, &outcome))
}

/// `PUT /v1/{account}?extract-archive=tar`: each file `container/object` of the archive
/// becomes an object (containers are created as needed).
pub(super) async fn extract_archive(
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
    let raw = read_body(req.into_body(), 1 << 30).await?;
    let o = app.extract_archive(&account, &raw).await?;
    Ok(summary(
        &h,
        "201 Created",
        &[("Number Files Created", o.done)],
        &o.errors,
    ))
}
