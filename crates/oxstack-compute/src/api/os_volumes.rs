//! `/os-volumes`: the deprecated volume proxy (up to 2.35; 404 after, as Nova).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use oxstack_common::context::RequestContext;
use oxstack_common::http::Json;
use oxstack_common::{Error, Result};
use serde_json::{Value, json};

use super::{AppState, member, ok, parse_limit, status};
use crate::app::App;
use crate::microversion::Version;

pub(super) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/os-volumes", get(list).post(create))
        .route("/os-volumes/detail", get(detail))
        .route("/os-volumes/{id}", get(show).delete(delete))
}

fn proxy_version(mv: Version) -> Result<()> {
    if mv.at_least(36) {
        return Err(Error::not_found("The resource could not be found."));
    }
    Ok(())
}

/// Nova's `_translate_volume_summary_view` of a Cinder volume record.
fn view(v: &Value) -> Value {
    let attachments: Vec<Value> = v["attachments"]
        .as_array()
        .and_then(|a| a.first())
        .map(|a| {
            let mut x = json!({"id": v["id"], "volumeId": v["id"], "serverId": a["server_id"]});
            if let Some(d) = a["device"].as_str() {
                x["device"] = json!(d);
            }
            vec![x]
        })
        .unwrap_or_else(|| vec![json!({})]);
    let metadata = match &v["metadata"] {
        Value::Object(m) => Value::Object(m.clone()),
        _ => json!({}),
    };
    json!({
        "id": v["id"],
        "status": v["status"],
        "size": v["size"],
        "availabilityZone": v["availability_zone"],
        "createdAt": v["created_at"],
        "attachments": attachments,
        "displayName": v["name"],
        "displayDescription": v["description"],
        "volumeType": v["volume_type"],
        "snapshotId": v["snapshot_id"],
        "metadata": metadata,
    })
}

async fn list_any(
    app: &App,
    ctx: &RequestContext,
    mv: Version,
    q: &HashMap<String, String>,
    detail: bool,
) -> Result<Response> {
    proxy_version(mv)?;
    let limit = parse_limit(q.get("limit"))?;
    let offset = match q.get("offset") {
        None => 0,
        Some(s) => s
            .parse::<usize>()
            .map_err(|_| Error::bad_request("offset param must be an integer"))?,
    };
    let all = app.os_volume_list(ctx, detail).await?;
    let items: Vec<Value> = all
        .iter()
        .skip(offset)
        .take(limit.unwrap_or(1000))
        .map(view)
        .collect();
    Ok(ok(json!({ "volumes": items })))
}

async fn list(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    list_any(&app, &ctx, mv, &q, false).await
}

async fn detail(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    list_any(&app, &ctx, mv, &q, true).await
}

async fn show(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path(id): Path<String>,
) -> Result<Response> {
    proxy_version(mv)?;
    let v = app.os_volume_show(&ctx, &id).await?;
    Ok(ok(json!({ "volume": view(&v) })))
}

async fn create(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Json(body): Json<Value>,
) -> Result<Response> {
    proxy_version(mv)?;
    let v = member(&body, "volume")?;
    const KNOWN: &[&str] = &[
        "volume_type",
        "metadata",
        "snapshot_id",
        "size",
        "availability_zone",
        "display_name",
        "display_description",
    ];
    if let Some(k) = v.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(Error::bad_request(format!(
            "Invalid input for field/attribute volume. Additional properties are not allowed ('{k}' was unexpected)"
        )));
    }
    let bad = |field: &str, x: &Value, why: &str| {
        Error::bad_request(format!(
            "Invalid input for field/attribute {field}. Value: {x}. {why}"
        ))
    };
    match v.get("size") {
        None => {
            return Err(Error::bad_request(
                "Invalid input for field/attribute volume. Value: {}. 'size' is a required property",
            ));
        }
        Some(Value::Number(n)) if n.as_i64().is_some_and(|s| s >= 1) => {}
        Some(x @ Value::String(s)) => {
            if s.is_empty() || !s.chars().all(|c| c.is_ascii_digit()) {
                return Err(bad("size", x, &format!("'{s}' does not match '^[0-9]+$'")));
            }
        }
        Some(x) => return Err(bad("size", x, "is not valid (an integer of at least 1)")),
    }
    for k in [
        "volume_type",
        "snapshot_id",
        "availability_zone",
        "display_name",
        "display_description",
    ] {
        if let Some(x) = v.get(k).filter(|x| !x.is_string()) {
            return Err(bad(k, x, &format!("{x} is not of type 'string'")));
        }
    }
    if let Some(x) = v.get("metadata").filter(|x| !x.is_object()) {
        return Err(bad("metadata", x, &format!("{x} is not of type 'object'")));
    }
    let created = app.os_volume_create(&ctx, &v).await?;
    let id = created["id"].as_str().unwrap_or_default().to_string();
    let mut resp = ok(json!({ "volume": view(&created) }));
    if let Ok(h) = HeaderValue::from_str(&app.self_link(&format!("os-volumes/{id}"))) {
        resp.headers_mut().insert(header::LOCATION, h);
    }
    Ok(resp)
}

async fn delete(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path(id): Path<String>,
) -> Result<Response> {
    proxy_version(mv)?;
    app.os_volume_delete(&ctx, &id).await?;
    Ok(status(StatusCode::ACCEPTED))
}
