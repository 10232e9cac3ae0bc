//! The Glance v2 HTTP API: routes, request parsing and rendering. Each handler parses,
//! calls one [`App`] method (which authorizes) and renders.

mod data;
mod images;
mod members;
mod metadefs;
mod schemas;
mod tasks;

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use oxstack_common::Result;
use oxstack_common::context::RequestContext;
use oxstack_common::http::Json;
use serde_json::{Value, json};

use crate::app::{App, IMPORT_METHODS};

pub(crate) type AppState = State<Arc<App>>;

/// Every image route.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(versions_multiple))
        .route("/versions", get(versions_ok))
        .route("/v2", get(versions_multiple))
        .route("/v2/", get(versions_multiple))
        .route("/v2/info/import", get(info_import))
        .route("/v2/info/stores", get(info_stores))
        .route("/v2/info/usage", get(info_usage))
        .merge(images::routes())
        .merge(data::routes())
        .merge(members::routes())
        .merge(schemas::routes())
        .merge(metadefs::routes())
        .merge(tasks::routes())
        .with_state(app)
}

/// Glance's version list for a site without an image cache and with store ids reported
/// (`enabled_backends`), in Glance's order.
fn version_list(app: &App) -> Value {
    let href = format!("{}/v2/", app.public_url.trim_end_matches('/'));
    let v = |id: &str, status: &str| json!({"id": format!("v{id}"), "status": status, "links": [{"rel": "self", "href": href}]});
    let mut out = vec![v("2.15", "SUPPORTED")];
    out.extend(
        ["2.13", "2.12", "2.11", "2.10", "2.9", "2.8"]
            .into_iter()
            .map(|id| v(id, "SUPPORTED")),
    );
    out.push(v("2.17", "CURRENT"));
    out.extend(
        ["2.7", "2.6", "2.5", "2.4", "2.3", "2.2", "2.1", "2.0"]
            .into_iter()
            .map(|id| v(id, "SUPPORTED")),
    );
    json!({ "versions": out })
}

async fn versions_multiple(State(app): AppState) -> Response {
    (StatusCode::MULTIPLE_CHOICES, axum::Json(version_list(&app))).into_response()
}

async fn versions_ok(State(app): AppState) -> Response {
    axum::Json(version_list(&app)).into_response()
}

async fn info_import(State(app): AppState, ctx: RequestContext) -> Result<Response> {
    app.caller(&ctx)?;
    Ok(axum::Json(json!({"import-methods": {
        "description": "Import methods available.",
        "type": "array",
        "value": IMPORT_METHODS,
    }}))
    .into_response())
}

async fn info_stores(State(app): AppState, ctx: RequestContext) -> Result<Response> {
    app.caller(&ctx)?;
    Ok(axum::Json(json!({"stores": [{
        "id": app.data.id(),
        "description": "Image data on this node's disk.",
        "default": true,
    }]}))
    .into_response())
}

async fn info_usage(State(app): AppState, ctx: RequestContext) -> Result<Response> {
    Ok(axum::Json(app.usage(&ctx).await?).into_response())
}

/// The query string as ordered pairs (Glance's filters repeat keys: `tag`, `sort_key`).
pub(crate) fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// A JSON request body; an empty or malformed one is a 400 in Glance's words.
pub(crate) async fn json_body(req: Request, app: &Arc<App>) -> Result<Value> {
    let Json(v) = Json::<Value>::from_request(req, app).await.map_err(|e| {
        if e.status() == 400 {
            oxstack_common::Error::bad_request("Body expected in request.")
        } else {
            e
        }
    })?;
    Ok(v)
}

pub(crate) fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}
