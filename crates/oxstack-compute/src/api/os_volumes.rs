//! `/os-volumes` and `/os-snapshots`: the deprecated proxies to the block storage service
//! (up to 2.35; 404 after, as Nova).

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

use super::{AppState, member, ok, parse_limit, parse_offset, proxy_api, status};
use crate::app::App;
use crate::clients::ProxyKind;
use crate::microversion::Version;

pub(super) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/os-volumes", get(list).post(create))
        .route("/os-volumes/detail", get(detail))
        .route("/os-volumes/{id}", get(show).delete(delete))
        .route("/os-snapshots", get(snapshot_list).post(snapshot_create))
        .route("/os-snapshots/detail", get(snapshot_detail))
        .route(
            "/os-snapshots/{id}",
            get(snapshot_show).delete(snapshot_delete),
        )
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

/// Nova's `_translate_snapshot_summary_view` of a Cinder snapshot record.
fn snapshot_view(s: &Value) -> Value {
    json!({
        "id": s["id"],
        "volumeId": s["volume_id"],
        "status": s["status"],
        "size": s["size"],
        "createdAt": s["created_at"],
        "displayName": s["name"],
        "displayDescription": s["description"],
    })
}

/// `limit`/`offset` of a proxy list.
fn page(q: &HashMap<String, String>, all: Vec<Value>) -> Result<Vec<Value>> {
    let limit = parse_limit(q.get("limit"))?;
    let offset = parse_offset(q.get("offset"))?;
    Ok(all
        .into_iter()
        .skip(offset)
        .take(limit.unwrap_or(1000))
        .collect())
}

async fn list_any(
    app: &App,
    ctx: &RequestContext,
    mv: Version,
    q: &HashMap<String, String>,
    detail: bool,
) -> Result<Response> {
    proxy_api(mv)?;
    let all = app.proxy_list(ctx, ProxyKind::Volumes, detail).await?;
    let items: Vec<Value> = page(q, all)?.iter().map(view).collect();
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
    proxy_api(mv)?;
    let v = app.proxy_show(&ctx, ProxyKind::Volumes, &id).await?;
    Ok(ok(json!({ "volume": view(&v) })))
}

async fn create(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Json(body): Json<Value>,
) -> Result<Response> {
    proxy_api(mv)?;
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
    let created = app.proxy_create(&ctx, ProxyKind::Volumes, &v).await?;
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
    proxy_api(mv)?;
    app.proxy_delete(&ctx, ProxyKind::Volumes, &id).await?;
    Ok(status(StatusCode::ACCEPTED))
}

async fn snapshot_list_any(
    app: &App,
    ctx: &RequestContext,
    mv: Version,
    q: &HashMap<String, String>,
    detail: bool,
) -> Result<Response> {
    proxy_api(mv)?;
    let all = app.proxy_list(ctx, ProxyKind::Snapshots, detail).await?;
    let items: Vec<Value> = page(q, all)?.iter().map(snapshot_view).collect();
    Ok(ok(json!({ "snapshots": items })))
}

async fn snapshot_list(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    snapshot_list_any(&app, &ctx, mv, &q, false).await
}

async fn snapshot_detail(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    snapshot_list_any(&app, &ctx, mv, &q, true).await
}

async fn snapshot_show(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path(id): Path<String>,
) -> Result<Response> {
    proxy_api(mv)?;
    let s = app.proxy_show(&ctx, ProxyKind::Snapshots, &id).await?;
    Ok(ok(json!({ "snapshot": snapshot_view(&s) })))
}

/// Nova's snapshot `create` schema: `volume_id` (uuid) required, names, `force`.
async fn snapshot_create(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Json(body): Json<Value>,
) -> Result<Response> {
    proxy_api(mv)?;
    let s = member(&body, "snapshot")?;
    const KNOWN: &[&str] = &["volume_id", "force", "display_name", "display_description"];
    if let Some(k) = s.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(Error::bad_request(format!(
            "Invalid input for field/attribute snapshot. Additional properties are not allowed ('{k}' was unexpected)"
        )));
    }
    match s.get("volume_id") {
        Some(Value::String(v)) if crate::app::is_uuid_like(v) => {}
        Some(x) => {
            return Err(Error::bad_request(format!(
                "Invalid input for field/attribute volume_id. Value: {x}. {x} is not a 'uuid'"
            )));
        }
        None => {
            return Err(Error::bad_request(
                "Invalid input for field/attribute snapshot. Value: {}. 'volume_id' is a required property",
            ));
        }
    }
    for k in ["display_name", "display_description"] {
        if let Some(x) = s.get(k).filter(|x| !x.is_string()) {
            return Err(Error::bad_request(format!(
                "Invalid input for field/attribute {k}. Value: {x}. {x} is not of type 'string'"
            )));
        }
    }
    if let Some(x) = s.get("force").filter(|x| !x.is_boolean() && !x.is_string()) {
        return Err(Error::bad_request(format!(
            "Invalid input for field/attribute force. Value: {x}. {x} is not a boolean"
        )));
    }
    let created = app.proxy_create(&ctx, ProxyKind::Snapshots, &s).await?;
    Ok(ok(json!({ "snapshot": snapshot_view(&created) })))
}

async fn snapshot_delete(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path(id): Path<String>,
) -> Result<Response> {
    proxy_api(mv)?;
    app.proxy_delete(&ctx, ProxyKind::Snapshots, &id).await?;
    Ok(status(StatusCode::ACCEPTED))
}
