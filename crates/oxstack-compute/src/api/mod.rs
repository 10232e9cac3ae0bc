//! The Nova v2.1 HTTP API: routes, microversion negotiation, request parsing and rendering.
//! Handlers parse, call one [`App`] method (which authorizes) and render for the request's
//! microversion.

mod aggregates;
mod extras;
mod flavors;
mod hosts;
mod images;
mod misc;
mod netproxy;
mod os_volumes;
mod servers;
mod usage;
mod volumes;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use oxstack_common::context::RequestIds;
use oxstack_common::{Error, Result};
use serde_json::{Map, Value, json};

use crate::app::App;
use crate::microversion::{self, MAX, MIN};

pub(crate) type AppState = State<Arc<App>>;

/// Every compute route.
pub fn router(app: Arc<App>) -> Router {
    let v21 = Router::new()
        .merge(servers::routes())
        .merge(flavors::routes())
        .merge(hosts::routes())
        .merge(images::routes())
        .merge(aggregates::routes())
        .merge(extras::routes())
        .merge(netproxy::routes())
        .merge(usage::routes())
        .merge(misc::routes())
        .merge(volumes::routes())
        .merge(os_volumes::routes())
        .layer(middleware::from_fn(microversion::negotiate));
    Router::new()
        .route("/", get(versions))
        .route("/v2", get(version_v20))
        .route("/v2/", get(version_v20))
        .route("/v2.1", get(version))
        .route("/v2.1/", get(version))
        .nest("/v2.1", v21)
        .layer(middleware::from_fn(compute_request_id))
        .with_state(app)
}

/// Nova also answers with `x-compute-request-id` (the same id).
async fn compute_request_id(req: Request, next: Next) -> Response {
    let id = req
        .extensions()
        .get::<RequestIds>()
        .map(|i| i.local.clone());
    let mut resp = next.run(req).await;
    if let Some(v) = id.and_then(|i| HeaderValue::from_str(&i).ok()) {
        resp.headers_mut().insert("x-compute-request-id", v);
    }
    resp
}

fn version_doc(app: &App) -> Value {
    json!({
        "id": "v2.1",
        "status": "CURRENT",
        "version": MAX.to_string(),
        "min_version": MIN.to_string(),
        "updated": "2013-07-23T11:33:21Z",
        "links": [{"rel": "self", "href": format!("{}/v2.1/", app.public_url)}],
    })
}

/// The legacy v2.0 API, listed first as Nova lists it (it is served as v2.1 without
/// microversions; only its version document is answered here).
fn version_doc_v20(app: &App) -> Value {
    json!({
        "id": "v2.0",
        "status": "SUPPORTED",
        "version": "",
        "min_version": "",
        "updated": "2011-01-21T11:33:21Z",
        "links": [{"rel": "self", "href": format!("{}/v2/", app.public_url)}],
    })
}

async fn versions(State(app): AppState) -> Response {
    axum::Json(json!({"versions": [version_doc_v20(&app), version_doc(&app)]})).into_response()
}

async fn version_v20(State(app): AppState) -> Response {
    let mut v = version_doc_v20(&app);
    v["links"] = json!([
        {"rel": "self", "href": format!("{}/v2/", app.public_url)},
        {"rel": "describedby", "type": "text/html", "href": "http://docs.openstack.org/"},
    ]);
    v["media-types"] = json!([{"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2"}]);
    axum::Json(json!({ "version": v })).into_response()
}

async fn version(State(app): AppState) -> Response {
    let mut v = version_doc(&app);
    v["links"] = json!([
        {"rel": "self", "href": format!("{}/v2.1/", app.public_url)},
        {"rel": "describedby", "type": "text/html", "href": "http://docs.openstack.org/"},
    ]);
    v["media-types"] = json!([{"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}]);
    axum::Json(json!({ "version": v })).into_response()
}

/// The object under `key` of a body: `{"server": {...}}`.
/// Nova's proxies of other services' APIs were removed at 2.36: 404 from then on.
pub(crate) fn proxy_api(mv: microversion::Version) -> Result<()> {
    if mv.at_least(36) {
        return Err(Error::not_found("The resource could not be found."));
    }
    Ok(())
}

pub(crate) fn member(body: &Value, key: &str) -> Result<Map<String, Value>> {
    match body.get(key) {
        Some(Value::Object(m)) => Ok(m.clone()),
        Some(v) => Err(Error::bad_request(format!(
            "Invalid input for field/attribute {key}. Value: {v}. {v} is not of type 'object'"
        ))),
        None => Err(Error::bad_request(format!(
            "Invalid input for field/attribute {key}. Value: {body}. '{key}' is a required property"
        ))),
    }
}

pub(crate) fn ok(v: Value) -> Response {
    axum::Json(v).into_response()
}

pub(crate) fn with_status(s: StatusCode, v: Value) -> Response {
    (s, axum::Json(v)).into_response()
}

pub(crate) fn status(s: StatusCode) -> Response {
    s.into_response()
}

/// Nova's `isotime`: `2012-08-20T21:11:09Z`.
pub(crate) fn isotime(us: i64) -> String {
    oxstack_common::time::iso_seconds(oxstack_common::time::micros_to_time(us))
}

/// `str(datetime)` of a naive timestamp, as Nova renders `OS-SRV-USG` and action times.
pub(crate) fn naive(us: i64) -> String {
    oxstack_common::time::micros_to_time(us)
        .format("%Y-%m-%dT%H:%M:%S%.6f")
        .to_string()
}

/// `?limit=` as Nova parses it (at most 1000).
/// Nova's `offset` paging parameter (0 when absent).
pub(crate) fn parse_offset(v: Option<&String>) -> Result<usize> {
    v.map_or(Ok(0), |s| {
        s.parse::<usize>()
            .map_err(|_| Error::bad_request("offset param must be an integer"))
    })
}

pub(crate) fn parse_limit(v: Option<&String>) -> Result<Option<usize>> {
    match v {
        None => Ok(None),
        Some(s) => match s.parse::<i64>() {
            Ok(n) if n >= 0 => Ok(Some((n as usize).min(1000))),
            _ => Err(Error::bad_request("limit param must be an integer")),
        },
    }
}
