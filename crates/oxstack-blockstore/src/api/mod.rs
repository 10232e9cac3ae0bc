//! The Cinder v3 HTTP API: routes, microversion negotiation, request parsing and rendering.
//! Handlers parse, call one [`App`] method (which authorizes) and render for the request's
//! microversion. Every resource lives under `/v3/{project_id}/`.

mod misc;
mod snapshots;
mod types;
mod volumes;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use oxstack_common::{Error, Result};
use serde_json::{Map, Value, json};

use crate::app::App;
use crate::microversion::{self, MAX, MIN};
use crate::model::Meta;

pub(crate) type AppState = State<Arc<App>>;

/// Every block storage route.
pub fn router(app: Arc<App>) -> Router {
    let v3 = Router::new()
        .merge(volumes::routes())
        .merge(snapshots::routes())
        .merge(types::routes())
        .merge(misc::routes())
        .layer(middleware::from_fn(microversion::negotiate));
    Router::new()
        .route("/", get(versions))
        .route("/v3", get(version))
        .route("/v3/", get(version))
        .nest("/v3/{project_id}", v3)
        .with_state(app)
}

fn version_doc(app: &App) -> Value {
    json!({
        "id": "v3.0",
        "status": "CURRENT",
        "version": MAX.to_string(),
        "min_version": MIN.to_string(),
        "updated": "2023-08-31T00:00:00Z",
        "links": [
            {"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"},
            {"rel": "self", "href": format!("{}/v3/", app.public_url)},
        ],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.volume+json;version=3"}],
    })
}

async fn versions(State(app): AppState) -> Response {
    with_status(
        StatusCode::MULTIPLE_CHOICES,
        json!({"versions": [version_doc(&app)]}),
    )
}

async fn version(State(app): AppState) -> Response {
    ok(json!({"versions": [version_doc(&app)]}))
}

/// The object under `key` of a body: `{"volume": {...}}`.
pub(crate) fn member(body: &Value, key: &str) -> Result<Map<String, Value>> {
    match body.get(key) {
        Some(Value::Object(m)) => Ok(m.clone()),
        Some(v) => Err(Error::bad_request(format!(
            "Invalid input for field/attribute {key}. Value: {v}. {v} is not of type 'object'"
        ))),
        None => Err(Error::bad_request(format!(
            "Missing required element '{key}' in request body."
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
    oxstack_common::http::status(s)
}

/// Cinder's timestamps: `2018-01-01T12:00:00.000000` (naive UTC).
pub(crate) fn time(us: i64) -> String {
    oxstack_common::time::micros_to_time(us)
        .format("%Y-%m-%dT%H:%M:%S%.6f")
        .to_string()
}

pub(crate) fn opt_time(us: Option<i64>) -> Value {
    us.map(|t| json!(time(t))).unwrap_or(Value::Null)
}

/// `?limit=`: a non-negative integer.
pub(crate) fn parse_limit(v: Option<&String>) -> Result<Option<usize>> {
    match v {
        None => Ok(None),
        Some(s) => match s.parse::<i64>() {
            Ok(n) if n >= 0 => Ok(Some(n as usize)),
            _ => Err(Error::bad_request(format!(
                "Invalid input received: limit param must be an integer (got {s})"
            ))),
        },
    }
}

/// `?sort=key:dir,key2` or `?sort_key=&sort_dir=` as `(key, ascending)` pairs.
pub(crate) fn parse_sort(q: &HashMap<String, String>) -> Result<Vec<(String, bool)>> {
    let dir = |d: &str| match d.to_ascii_lowercase().as_str() {
        "asc" => Ok(true),
        "desc" => Ok(false),
        _ => Err(Error::bad_request(format!(
            "Invalid input received: Unknown sort direction, must be 'desc' or 'asc' (got {d})"
        ))),
    };
    if let Some(s) = q.get("sort") {
        if q.contains_key("sort_key") || q.contains_key("sort_dir") {
            return Err(Error::bad_request(
                "Invalid input received: The 'sort_key' and 'sort_dir' parameters are deprecated and cannot be used with the 'sort' parameter.",
            ));
        }
        return s
            .split(',')
            .filter(|p| !p.trim().is_empty())
            .map(|p| match p.split_once(':') {
                Some((k, d)) => Ok((k.trim().to_string(), dir(d.trim())?)),
                None => Ok((p.trim().to_string(), false)),
            })
            .collect();
    }
    match q.get("sort_key") {
        Some(k) => Ok(vec![(
            k.clone(),
            q.get("sort_dir")
                .map(|d| dir(d))
                .transpose()?
                .unwrap_or(false),
        )]),
        None => Ok(Vec::new()),
    }
}

/// A boolean query or body value as oslo's `bool_from_string` reads it.
pub(crate) fn parse_bool(v: &Value, what: &str) -> Result<bool> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "y" | "on" | "t" => Ok(true),
            "false" | "0" | "no" | "n" | "off" | "f" => Ok(false),
            _ => Err(Error::bad_request(format!(
                "Invalid input received: {what} '{s}' is not a valid boolean."
            ))),
        },
        Value::Number(n) if n.as_i64() == Some(1) => Ok(true),
        Value::Number(n) if n.as_i64() == Some(0) => Ok(false),
        other => Err(Error::bad_request(format!(
            "Invalid input received: {what} '{other}' is not a valid boolean."
        ))),
    }
}

pub(crate) fn query_bool(q: &HashMap<String, String>, key: &str) -> Result<Option<bool>> {
    q.get(key)
        .map(|v| parse_bool(&Value::String(v.clone()), key))
        .transpose()
}

/// A metadata map from a body: string keys of 1–255 characters, string values up to 255.
pub(crate) fn parse_meta(v: Option<&Value>, what: &str) -> Result<Meta> {
    match v {
        None | Some(Value::Null) => Ok(Meta::new()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| {
                if k.is_empty() || k.len() > 255 {
                    return Err(Error::bad_request(format!(
                        "Invalid input for field/attribute {what}. Metadata key length must be 1 to 255 characters."
                    )));
                }
                match v {
                    Value::String(s) if s.len() <= 255 => Ok((k.clone(), s.clone())),
                    Value::String(_) => Err(Error::bad_request(format!(
                        "Invalid input for field/attribute {what}. Metadata value of {k} is longer than 255 characters."
                    ))),
                    other => Err(Error::bad_request(format!(
                        "Invalid input for field/attribute {what}. Value: {other}. {other} is not of type 'string'"
                    ))),
                }
            })
            .collect(),
        Some(other) => Err(Error::bad_request(format!(
            "Invalid input for field/attribute {what}. Value: {other}. {other} is not of type 'object'"
        ))),
    }
}

/// A metadata filter from a query: JSON or a Python dict literal (`{'k': 'v'}`), as the
/// clients send it.
pub(crate) fn query_meta(q: &HashMap<String, String>, key: &str) -> Result<Option<Meta>> {
    let Some(raw) = q.get(key) else {
        return Ok(None);
    };
    let parsed: Option<Value> = serde_json::from_str(raw)
        .ok()
        .or_else(|| serde_json::from_str(&raw.replace('\'', "\"")).ok());
    match parsed {
        Some(Value::Object(m)) => Ok(Some(
            m.into_iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    (k, v)
                })
                .collect(),
        )),
        _ => Err(Error::bad_request(format!(
            "Invalid input received: Invalid filter {key}: {raw}"
        ))),
    }
}

/// An optional string field: absent is `None`, null is `Some(None)`.
pub(crate) fn opt_string(
    m: &Map<String, Value>,
    key: &str,
    max: usize,
) -> Result<Option<Option<String>>> {
    match m.get(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) if s.chars().count() <= max => Ok(Some(Some(s.clone()))),
        Some(Value::String(_)) => Err(Error::bad_request(format!(
            "Invalid input for field/attribute {key}. It is longer than {max} characters."
        ))),
        Some(other) => Err(Error::bad_request(format!(
            "Invalid input for field/attribute {key}. Value: {other}. {other} is not of type 'string'"
        ))),
    }
}

/// Whether the request lists every project's resources (`all_tenants` / `all_projects`).
pub(crate) fn all_tenants(q: &HashMap<String, String>) -> Result<bool> {
    Ok(query_bool(q, "all_tenants")?.unwrap_or(false)
        || query_bool(q, "all_projects")?.unwrap_or(false))
}

/// `{"rel": "next"}` when a page is full.
pub(crate) fn next_link(
    app: &App,
    project: &str,
    path: &str,
    limit: Option<usize>,
    n: usize,
    last: Option<&str>,
) -> Option<Value> {
    match (limit, last) {
        (Some(l), Some(last)) if n == l && l > 0 => Some(json!([{
            "rel": "next",
            "href": format!("{}?limit={l}&marker={last}", app.self_link(project, path)),
        }])),
        _ => None,
    }
}
