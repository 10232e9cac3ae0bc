//! `/os-hosts` (up to 2.42).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use oxstack_common::context::RequestContext;
use oxstack_common::http::Json;
use oxstack_common::{Error, Result};
use serde_json::{Value, json};

use super::{AppState, ok};
use crate::app::App;
use crate::microversion::Version;

pub(super) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/os-hosts", get(host_list))
        .route("/os-hosts/{host}", get(host_show).put(host_update))
        .route("/os-hosts/{host}/{action}", get(host_power))
}

/// os-hosts was removed in 2.43.
fn hosts_api(mv: Version) -> Result<()> {
    if mv.at_least(43) {
        return Err(Error::not_found("The resource could not be found."));
    }
    Ok(())
}

async fn host_list(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    hosts_api(mv)?;
    let hosts = app
        .host_list(&ctx, q.get("zone").map(String::as_str))
        .await?;
    let items: Vec<Value> = hosts
        .iter()
        .map(|h| json!({"host_name": h.host_name, "service": h.service, "zone": h.zone}))
        .collect();
    Ok(ok(json!({ "hosts": items })))
}

async fn host_show(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path(host): Path<String>,
) -> Result<Response> {
    hosts_api(mv)?;
    let res = app.host_show(&ctx, &host).await?;
    let items: Vec<Value> = res
        .iter()
        .map(|r| {
            json!({"resource": {"host": host, "project": r.project, "cpu": r.cpu,
                                "memory_mb": r.memory_mb, "disk_gb": r.disk_gb}})
        })
        .collect();
    Ok(ok(json!({ "host": items })))
}

fn enable_disable(body: &serde_json::Map<String, Value>, key: &str) -> Result<Option<bool>> {
    match body.get(key) {
        None => Ok(None),
        Some(v) => match v.as_str() {
            Some("enable") => Ok(Some(true)),
            Some("disable") => Ok(Some(false)),
            _ => Err(Error::bad_request(format!(
                "Invalid input for field/attribute {key}. Value: {v}. {v} is not one of ['enable', 'disable']"
            ))),
        },
    }
}

async fn host_update(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path(host): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    hosts_api(mv)?;
    let m = body
        .as_object()
        .ok_or_else(|| Error::bad_request("The request body must be an object"))?;
    if let Some(k) = m
        .keys()
        .find(|k| *k != "status" && *k != "maintenance_mode")
    {
        return Err(Error::bad_request(format!(
            "Additional properties are not allowed ('{k}' was unexpected)"
        )));
    }
    let status = enable_disable(m, "status")?;
    let maintenance = enable_disable(m, "maintenance_mode")?;
    if status.is_none() && maintenance.is_none() {
        return Err(Error::bad_request(
            "Invalid input for field/attribute body. 'status' or 'maintenance_mode' is required",
        ));
    }
    let enabled = app.host_update(&ctx, &host, status, maintenance).await?;
    Ok(ok(
        json!({"host": host, "status": if enabled { "enabled" } else { "disabled" }}),
    ))
}

async fn host_power(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path((host, action)): Path<(String, String)>,
) -> Result<Response> {
    hosts_api(mv)?;
    let rule = match action.as_str() {
        "startup" => "start",
        "shutdown" => "shutdown",
        "reboot" => "reboot",
        _ => return Err(Error::not_found("The resource could not be found.")),
    };
    app.host_power_action(&ctx, &host, rule).await?;
    Ok(ok(json!({"host": host, "power_action": action})))
}
