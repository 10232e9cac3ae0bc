//! `/v3/policies`: policy blobs.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use oxstack_common::Result;
use oxstack_common::context::RequestContext;
use oxstack_common::http::Json;
use serde_json::Value;

use super::{AppState, created, list, member, no_content, one};

pub(super) fn routes() -> Router<std::sync::Arc<crate::app::App>> {
    Router::new()
        .route("/v3/policies", get(policy_list).post(policy_create))
        .route(
            "/v3/policies/{id}",
            get(policy_show).patch(policy_update).delete(policy_delete),
        )
}

async fn policy_list(
    State(app): AppState,
    ctx: RequestContext,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let items = app
        .policy_blob_list(&ctx, q.get("type").map(String::as_str))
        .await?;
    let views = items.iter().map(|p| app.policy_blob_view(p)).collect();
    Ok(list(&app, "policies", "policies", views))
}

async fn policy_create(
    State(app): AppState,
    ctx: RequestContext,
    Json(body): Json<Value>,
) -> Result<Response> {
    let p = app
        .policy_blob_create(&ctx, &member(&body, "policy")?)
        .await?;
    Ok(created("policy", app.policy_blob_view(&p)))
}

async fn policy_show(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response> {
    let p = app.policy_blob_show(&ctx, &id).await?;
    Ok(one("policy", app.policy_blob_view(&p)))
}

async fn policy_update(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let p = app
        .policy_blob_update(&ctx, &id, &member(&body, "policy")?)
        .await?;
    Ok(one("policy", app.policy_blob_view(&p)))
}

async fn policy_delete(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response> {
    app.policy_blob_delete(&ctx, &id).await?;
    Ok(no_content())
}
