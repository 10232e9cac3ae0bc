//! The Swift v1 HTTP API: `/info`, `/healthcheck` and `/v1/{account}[/{container}[/{object}]]`
//! with every method Swift answers (including `COPY`), plus the behaviours Swift puts in
//! middleware: temp URLs, form POST, bulk delete and archive extraction, large objects
//! (SLO, DLO), static web, symlinks and the cross-domain policy (`/crossdomain.xml`).
//! Each handler parses the request, calls the [`App`] (which holds Swift's rules) and
//! renders; this module holds the routes and what the handlers share.

mod account;
mod bulk;
mod container;
mod formpost;
mod large;
mod listing;
mod object;
mod staticweb;
mod tempurl;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use futures_util::{StreamExt as _, TryStreamExt as _};
use oxstack_common::error::ErrorKind;
use oxstack_common::{Error, Result};
use serde_json::json;

use crate::app::meta::{Headers, bad};
use crate::app::{App, now_us};
use crate::data::ByteStream;
use crate::store::{Meta, SYSMETA_PREFIX};

type AppState = State<Arc<App>>;

/// Every object storage route.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/info", get(info))
        .route("/crossdomain.xml", get(crossdomain))
        .route(
            "/healthcheck",
            get(|| async { text_response(StatusCode::OK, "OK") }),
        )
        .route("/v1/{account}", any(account::account))
        .route("/v1/{account}/", any(account::account))
        .route("/v1/{account}/{container}", any(container::container))
        .route("/v1/{account}/{container}/", any(container::container))
        .route("/v1/{account}/{container}/{*object}", any(object::object))
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

/// A response builder with `headers` set.
fn with_headers(
    r: axum::http::response::Builder,
    headers: Vec<(String, String)>,
) -> axum::http::response::Builder {
    headers.into_iter().fold(r, |r, (k, v)| r.header(k, v))
}

/// A bodiless answer with `Content-Length: 0` (Swift sends it even on 204s).
fn empty(status: StatusCode, headers: Vec<(String, String)>) -> Response {
    let mut r = with_headers(Response::builder().status(status), headers);
    if status != StatusCode::NO_CONTENT {
        r = r.header(header::CONTENT_LENGTH, "0");
    }
    r.body(Body::empty())
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// `body` unless the request was a HEAD.
fn body_unless(head: bool, body: impl FnOnce() -> Body) -> Body {
    if head { Body::empty() } else { body() }
}

/// `Last-Modified` and the like.
fn http_date(us: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs((us / 1_000_000).max(0) as u64);
    httpdate::fmt_http_date(t)
}

fn hdr<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// The request headers as the logic layer takes them.
fn plain_headers(h: &HeaderMap) -> Headers<'_> {
    Headers(
        h.iter()
            .map(|(k, v)| (k.as_str(), v.to_str().ok()))
            .collect(),
    )
}

fn query_map(req_query: Option<&str>) -> BTreeMap<String, String> {
    form_urlencoded::parse(req_query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn method_not_allowed() -> Error {
    Error::new(ErrorKind::MethodNotAllowed, "Method not allowed.")
}

/// Stored metadata as response headers; system metadata stays inside.
fn meta_headers(meta: &Meta) -> Vec<(String, String)> {
    meta.iter()
        .filter(|(k, _)| !k.starts_with(SYSMETA_PREFIX))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// What a path segment keeps unencoded in headers that name objects.
const PATH: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// `/v1/{account}/{container}/{object}`, percent-encoded (`Content-Location`, `Location`).
fn object_path(account: &str, container: &str, object: &str) -> String {
    format!(
        "/v1/{}/{}/{}",
        percent_encoding::utf8_percent_encode(account, PATH),
        percent_encoding::utf8_percent_encode(container, PATH),
        percent_encoding::utf8_percent_encode(object, PATH)
    )
}

/// A request body as a byte stream.
fn body_stream(body: Body) -> ByteStream {
    Box::pin(body.into_data_stream().map_err(std::io::Error::other))
}

/// Reads a whole (bounded) request body; 413 with Swift's manifest message beyond `limit`.
async fn read_body(body: Body, limit: usize) -> Result<Vec<u8>> {
    let mut s = body_stream(body);
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
        "symlink": {"symloop_max": crate::app::symlink::SYMLOOP_MAX, "static_links": true},
        "crossdomain": {},
    });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

// ---------------------------------------------------------------- crossdomain

/// The policy Swift's `crossdomain` middleware serves by default: any domain, over HTTP
/// as well as HTTPS.
const CROSSDOMAIN_POLICY: &str = concat!(
    "<?xml version=\"1.0\"?>\n",
    "<!DOCTYPE cross-domain-policy SYSTEM ",
    "\"http://www.adobe.com/xml/dtds/cross-domain-policy.dtd\" >\n",
    "<cross-domain-policy>\n",
    "<allow-access-from domain=\"*\" secure=\"false\" />\n",
    "</cross-domain-policy>"
);

/// `GET /crossdomain.xml`: the cross-domain policy Flash and Silverlight clients ask for.
async fn crossdomain() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/xml; charset=UTF-8")],
        CROSSDOMAIN_POLICY,
    )
        .into_response()
}
