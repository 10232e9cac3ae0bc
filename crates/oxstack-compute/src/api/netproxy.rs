//! `os-security-groups`, `os-security-group-rules`, `os-floating-ips`, `os-networks` and
//! `os-tenant-networks`: Nova's proxies of
//! the networking service, served up to 2.35 (404 from 2.36 on).

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{delete, get, post};
use oxstack_common::Result;
use oxstack_common::context::RequestContext;
use oxstack_common::http::Json;
use serde_json::{Value, json};

use super::{AppState, member, ok, parse_limit, parse_offset, proxy_api, status};
use crate::app::App;
use crate::microversion::Version;

pub(super) fn routes() -> Router<std::sync::Arc<App>> {
    Router::new()
        .route("/os-security-groups", get(groups).post(group_create))
        .route(
            "/os-security-groups/{id}",
            get(group_show).put(group_update).delete(group_delete),
        )
        .route("/os-security-group-rules", post(rule_create))
        .route("/os-security-group-rules/{id}", delete(rule_delete))
        .route("/os-floating-ips", get(fips).post(fip_create))
        .route("/os-floating-ips/{id}", get(fip_show).delete(fip_delete))
        .route("/os-networks", get(networks))
        .route("/os-networks/{id}", get(network_show))
        .route("/os-tenant-networks", get(tenant_networks))
        .route("/os-tenant-networks/{id}", get(tenant_network_show))
}

async fn networks(State(app): AppState, ctx: RequestContext, mv: Version) -> Result<Response> {
    proxy_api(mv)?;
    let list = app.proxy_networks(&ctx, true).await?;
    Ok(ok(json!({ "networks": list })))
}

async fn network_show(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path(id): Path<String>,
) -> Result<Response> {
    proxy_api(mv)?;
    let n = app.proxy_network(&ctx, &id, true).await?;
    Ok(ok(json!({ "network": n })))
}

async fn tenant_networks(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
) -> Result<Response> {
    proxy_api(mv)?;
    let list = app.proxy_networks(&ctx, false).await?;
    Ok(ok(json!({ "networks": list })))
}

async fn tenant_network_show(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path(id): Path<String>,
) -> Result<Response> {
    proxy_api(mv)?;
    let n = app.proxy_network(&ctx, &id, false).await?;
    Ok(ok(json!({ "network": n })))
}

async fn groups(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    proxy_api(mv)?;
    let all = q
        .get("all_tenants")
        .is_some_and(|v| !matches!(v.to_lowercase().as_str(), "0" | "false" | "off" | "no"));
    let offset = parse_offset(q.get("offset"))?;
    let limit = parse_limit(q.get("limit"))?;
    let list = app.proxy_security_groups(&ctx, all, offset, limit).await?;
    Ok(ok(json!({ "security_groups": list })))
}

async fn group_show(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path(id): Path<String>,
) -> Result<Response> {
    proxy_api(mv)?;
    let g = app.proxy_security_group(&ctx, &id).await?;
    Ok(ok(json!({ "security_group": g })))
}

async fn group_create(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Json(body): Json<Value>,
) -> Result<Response> {
    proxy_api(mv)?;
    let b = member(&body, "security_group")?;
    let g = app.proxy_security_group_write(&ctx, None, &b).await?;
    Ok(ok(json!({ "security_group": g })))
}

async fn group_update(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    proxy_api(mv)?;
    let b = member(&body, "security_group")?;
    let g = app.proxy_security_group_write(&ctx, Some(&id), &b).await?;
    Ok(ok(json!({ "security_group": g })))
}

async fn group_delete(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path(id): Path<String>,
) -> Result<Response> {
    proxy_api(mv)?;
    app.proxy_security_group_delete(&ctx, &id).await?;
    Ok(status(StatusCode::ACCEPTED))
}

async fn rule_create(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Json(body): Json<Value>,
) -> Result<Response> {
    proxy_api(mv)?;
    let b = member(&body, "security_group_rule")?;
    let r = app.proxy_rule_create(&ctx, &b).await?;
    Ok(ok(json!({ "security_group_rule": r })))
}

async fn rule_delete(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path(id): Path<String>,
) -> Result<Response> {
    proxy_api(mv)?;
    app.proxy_rule_delete(&ctx, &id).await?;
    Ok(status(StatusCode::ACCEPTED))
}

async fn fips(State(app): AppState, ctx: RequestContext, mv: Version) -> Result<Response> {
    proxy_api(mv)?;
    let list = app.proxy_floating_ips(&ctx).await?;
    Ok(ok(json!({ "floating_ips": list })))
}

async fn fip_show(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path(id): Path<String>,
) -> Result<Response> {
    proxy_api(mv)?;
    let f = app.proxy_floating_ip(&ctx, &id).await?;
    Ok(ok(json!({ "floating_ip": f })))
}

/// The body is optional: `{"pool": name}` or nothing.
async fn fip_create(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    body: axum::body::Bytes,
) -> Result<Response> {
    proxy_api(mv)?;
    let v: Value = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body)
            .map_err(|_| oxstack_common::Error::bad_request("Malformed request body"))?
    };
    let pool = v.get("pool").and_then(Value::as_str);
    let f = app.proxy_floating_ip_create(&ctx, pool).await?;
    Ok(ok(json!({ "floating_ip": f })))
}

async fn fip_delete(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path(id): Path<String>,
) -> Result<Response> {
    proxy_api(mv)?;
    app.proxy_floating_ip_delete(&ctx, &id).await?;
    Ok(status(StatusCode::ACCEPTED))
}
