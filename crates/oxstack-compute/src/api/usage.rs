//! `/os-simple-tenant-usage`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use oxstack_common::Result;
use oxstack_common::context::RequestContext;
use serde_json::{Value, json};

use super::{AppState, naive, ok};
use crate::app::App;
use crate::app::usage::{TenantUsage, parse_period};

pub(super) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/os-simple-tenant-usage", get(usage_list))
        .route("/os-simple-tenant-usage/{tenant_id}", get(usage_show))
}

fn view(u: &TenantUsage, servers: bool) -> Value {
    let mut v = json!({
        "tenant_id": u.tenant_id,
        "start": naive(u.start),
        "stop": naive(u.stop),
        "total_hours": u.total_hours,
        "total_local_gb_usage": u.total_local_gb_usage,
        "total_memory_mb_usage": u.total_memory_mb_usage,
        "total_vcpus_usage": u.total_vcpus_usage,
    });
    if servers {
        v["server_usages"] = json!(
            u.servers
                .iter()
                .map(|s| {
                    let i = &s.instance;
                    json!({
                        "instance_id": i.uuid,
                        "name": i.name,
                        "tenant_id": i.project_id,
                        "flavor": i.flavor.name,
                        "hours": s.hours,
                        "vcpus": i.flavor.vcpus,
                        "memory_mb": i.flavor.memory_mb,
                        "local_gb": i.flavor.root_gb + i.flavor.ephemeral_gb,
                        "started_at": i.launched_at.map(naive),
                        "ended_at": i.terminated_at.filter(|_| i.deleted).map(naive),
                        "state": if i.deleted { "terminated" } else { i.vm_state.as_str() },
                        "uptime": s.uptime,
                    })
                })
                .collect::<Vec<_>>()
        );
    }
    v
}

fn detailed(q: &HashMap<String, String>) -> bool {
    q.get("detailed")
        .is_some_and(|d| d.parse::<i64>().is_ok_and(|n| n != 0))
}

async fn usage_list(
    State(app): AppState,
    ctx: RequestContext,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let (start, end) = parse_period(
        q.get("start").map(String::as_str),
        q.get("end").map(String::as_str),
    )?;
    let usages = app.tenant_usage(&ctx, None, start, end).await?;
    let d = detailed(&q);
    Ok(ok(
        json!({"tenant_usages": usages.iter().map(|u| view(u, d)).collect::<Vec<_>>()}),
    ))
}

async fn usage_show(
    State(app): AppState,
    ctx: RequestContext,
    Path(tenant_id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let (start, end) = parse_period(
        q.get("start").map(String::as_str),
        q.get("end").map(String::as_str),
    )?;
    let usages = app.tenant_usage(&ctx, Some(&tenant_id), start, end).await?;
    Ok(ok(json!({
        "tenant_usage": usages.first().map_or_else(|| json!({}), |u| view(u, true))
    })))
}
