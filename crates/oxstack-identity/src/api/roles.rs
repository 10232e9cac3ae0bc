//! `/v3/roles` with implied roles (`/v3/roles/{id}/implies`) and `/v3/role_inferences`.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use oxstack_common::Result;
use oxstack_common::context::RequestContext;
use oxstack_common::http::Json;
use serde_json::{Value, json};

use super::{AppState, created, list, member, no_content, one};
use crate::app::App;
use crate::app::roles::{RoleFilter, RoleInference};
use crate::model::Role;

pub(super) fn routes() -> Router<std::sync::Arc<App>> {
    Router::new()
        .route("/v3/roles", get(role_list).post(role_create))
        .route(
            "/v3/roles/{id}",
            get(role_show).patch(role_update).delete(role_delete),
        )
        .route("/v3/roles/{id}/implies", get(implied_list))
        .route(
            "/v3/roles/{id}/implies/{implied_id}",
            get(implied_show)
                .head(implied_check)
                .put(implied_create)
                .delete(implied_delete),
        )
        .route("/v3/role_inferences", get(inference_list))
}

async fn role_list(
    State(app): AppState,
    ctx: RequestContext,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let f = RoleFilter {
        name: q.get("name").cloned(),
        domain_id: q.get("domain_id").filter(|d| !d.is_empty()).cloned(),
    };
    let roles = app.role_list(&ctx, f).await?;
    let views = roles.iter().map(|r| app.role_view(r)).collect();
    Ok(list(&app, "roles", "roles", views))
}

async fn role_create(
    State(app): AppState,
    ctx: RequestContext,
    Json(body): Json<Value>,
) -> Result<Response> {
    let r = app.role_create(&ctx, &member(&body, "role")?).await?;
    Ok(created("role", app.role_view(&r)))
}

async fn role_show(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response> {
    let r = app.role_show(&ctx, &id).await?;
    Ok(one("role", app.role_view(&r)))
}

async fn role_update(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let r = app.role_update(&ctx, &id, &member(&body, "role")?).await?;
    Ok(one("role", app.role_view(&r)))
}

async fn role_delete(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response> {
    app.role_delete(&ctx, &id).await?;
    Ok(no_content())
}

/// `{"role_inference": {"prior_role": ..., "implies": ...}, "links": ...}` for one rule.
fn inference_view(app: &App, prior: &Role, implied: &Role) -> Value {
    json!({
        "role_inference": {
            "prior_role": app.role_ref_view(prior),
            "implies": app.role_ref_view(implied),
        },
        "links": app.link(&format!("roles/{}/implies/{}", prior.id, implied.id)),
    })
}

fn inferences_view(app: &App, i: &RoleInference) -> Value {
    json!({
        "prior_role": app.role_ref_view(&i.prior),
        "implies": i.implies.iter().map(|r| app.role_ref_view(r)).collect::<Vec<_>>(),
    })
}

async fn implied_list(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response> {
    let i = app.implied_role_list(&ctx, &id).await?;
    Ok(axum::Json(json!({
        "role_inference": inferences_view(&app, &i),
        "links": app.link(&format!("roles/{}/implies", i.prior.id)),
    }))
    .into_response())
}

async fn implied_show(
    State(app): AppState,
    ctx: RequestContext,
    Path((id, implied_id)): Path<(String, String)>,
) -> Result<Response> {
    let (p, i) = app.implied_role_show(&ctx, &id, &implied_id, false).await?;
    Ok(axum::Json(inference_view(&app, &p, &i)).into_response())
}

/// Keystone answers `HEAD` on an implication with 204, not with `GET`'s 200.
async fn implied_check(
    State(app): AppState,
    ctx: RequestContext,
    Path((id, implied_id)): Path<(String, String)>,
) -> Result<Response> {
    app.implied_role_show(&ctx, &id, &implied_id, true).await?;
    Ok(no_content())
}

async fn implied_create(
    State(app): AppState,
    ctx: RequestContext,
    Path((id, implied_id)): Path<(String, String)>,
) -> Result<Response> {
    let (p, i) = app.implied_role_create(&ctx, &id, &implied_id).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(inference_view(&app, &p, &i)),
    )
        .into_response())
}

async fn implied_delete(
    State(app): AppState,
    ctx: RequestContext,
    Path((id, implied_id)): Path<(String, String)>,
) -> Result<Response> {
    app.implied_role_delete(&ctx, &id, &implied_id).await?;
    Ok(no_content())
}

async fn inference_list(State(app): AppState, ctx: RequestContext) -> Result<Response> {
    let all = app.role_inference_list(&ctx).await?;
    let views: Vec<Value> = all.iter().map(|i| inferences_view(&app, i)).collect();
    Ok(axum::Json(json!({ "role_inferences": views })).into_response())
}
