//! The Keystone v3 HTTP API: routes, request parsing and rendering. Each handler checks
//! nothing itself: it parses, calls one [`App`] method (which authorizes) and renders.

mod assignments;
mod auth;
mod catalog;
mod credentials;
mod domain_config;
mod endpoint_filter;
mod groups;
mod oauth;
mod policies;
mod projects;
mod roles;
mod users;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use oxstack_common::{Error, Result};
use serde_json::{Map, Value, json};

use crate::app::App;

pub(crate) type AppState = State<Arc<App>>;

/// Every identity route.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(versions))
        .route("/v3", get(version))
        .route("/v3/", get(version))
        .merge(auth::routes())
        .merge(projects::routes())
        .merge(users::routes())
        .merge(groups::routes())
        .merge(roles::routes())
        .merge(assignments::routes())
        .merge(catalog::routes())
        .merge(credentials::routes())
        .merge(policies::routes())
        .merge(oauth::routes())
        .merge(domain_config::routes())
        .merge(endpoint_filter::routes())
        .with_state(app)
}

fn version_doc(app: &App) -> Value {
    json!({
        "id": "v3.14",
        "status": "stable",
        "updated": "2020-04-07T00:00:00Z",
        "links": [{"rel": "self", "href": format!("{}/v3/", app.public_url)}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}],
    })
}

async fn versions(State(app): AppState) -> Response {
    (
        StatusCode::MULTIPLE_CHOICES,
        axum::Json(json!({"versions": {"values": [version_doc(&app)]}})),
    )
        .into_response()
}

async fn version(State(app): AppState) -> Response {
    axum::Json(json!({"version": version_doc(&app)})).into_response()
}

/// A JSON object body wrapped in its resource key: `{"project": {...}}`.
pub(crate) fn member(body: &Value, key: &str) -> Result<Map<String, Value>> {
    match body.get(key) {
        Some(Value::Object(m)) => Ok(m.clone()),
        Some(_) => Err(crate::app::invalid(key, "is not of type 'object'")),
        None => Err(Error::bad_request(format!(
            "Invalid input for field '{key}': '{key}' is a required property"
        ))),
    }
}

/// A list response with Keystone's `links`.
pub(crate) fn list(app: &App, key: &str, path: &str, items: Vec<Value>) -> Response {
    axum::Json(json!({
        key: items,
        "links": {"self": format!("{}/v3/{path}", app.public_url), "previous": null, "next": null},
    }))
    .into_response()
}

pub(crate) fn one(key: &str, item: Value) -> Response {
    axum::Json(json!({ key: item })).into_response()
}

pub(crate) fn created(key: &str, item: Value) -> Response {
    (StatusCode::CREATED, axum::Json(json!({ key: item }))).into_response()
}

pub(crate) fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// `?enabled=...` as Keystone reads it: anything but `0`/`false`/`no`/`off` is true.
pub(crate) fn query_bool(q: &HashMap<String, String>, key: &str) -> Option<bool> {
    q.get(key).map(|v| {
        !matches!(
            v.to_ascii_lowercase().as_str(),
            "0" | "false" | "no" | "off"
        )
    })
}
