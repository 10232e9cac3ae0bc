//! The Placement HTTP API: routes, request parsing and rendering. Each handler parses,
//! calls one [`App`] method (which authorizes) and renders for the negotiated
//! [`Version`].

mod allocations;
mod classes;
mod providers;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use oxstack_common::{Error, Result};
use serde_json::{Value, json};

use crate::app::App;
use crate::microversion::{self, MAX, MIN, Version};
use crate::model::Provider;

pub(crate) type AppState = axum::extract::State<Arc<App>>;

/// Every placement route, behind microversion negotiation.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(home))
        .merge(providers::routes())
        .merge(classes::routes())
        .merge(allocations::routes())
        .with_state(app)
        .layer(axum::middleware::from_fn(microversion::layer))
}

/// `GET /`: the version document (no authentication needed).
async fn home() -> Response {
    json_response(
        StatusCode::OK,
        json!({"versions": [{
            "id": format!("v{MIN}"),
            "max_version": MAX.to_string(),
            "min_version": MIN.to_string(),
            "status": "CURRENT",
            "links": [{"rel": "self", "href": ""}],
        }]}),
    )
}

/// 404 for a route that exists only from `1.minor`, as placement answers older versions.
pub(crate) fn since(v: Version, minor: u16) -> Result<()> {
    if v.at_least(minor) {
        Ok(())
    } else {
        Err(Error::not_found("The resource could not be found."))
    }
}

pub(crate) fn json_response(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

pub(crate) fn ok(body: Value) -> Response {
    json_response(StatusCode::OK, body)
}

pub(crate) fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// An empty-bodied 201 with a `Location`.
pub(crate) fn created_at(location: &str) -> Response {
    let mut r = StatusCode::CREATED.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

pub(crate) fn with_location(mut r: Response, location: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

pub(crate) fn provider_url(uuid: &str) -> String {
    format!("/resource_providers/{uuid}")
}

/// A resource provider as placement renders it at `v`.
pub(crate) fn provider_view(v: Version, p: &Provider) -> Value {
    let url = provider_url(&p.uuid);
    let mut links = vec![json!({"rel": "self", "href": url})];
    let mut rels = vec!["inventories", "usages"];
    if v.at_least(1) {
        rels.push("aggregates");
    }
    if v.at_least(6) {
        rels.push("traits");
    }
    if v.at_least(11) {
        rels.push("allocations");
    }
    for rel in rels {
        links.push(json!({"rel": rel, "href": format!("{url}/{rel}")}));
    }
    let mut out = json!({
        "uuid": p.uuid,
        "name": p.name,
        "generation": p.generation,
        "links": links,
    });
    if v.at_least(14) {
        out["parent_provider_uuid"] = json!(p.parent_uuid);
        out["root_provider_uuid"] = json!(p.root_uuid);
    }
    out
}
