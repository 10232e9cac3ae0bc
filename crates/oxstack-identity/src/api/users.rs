//! `/v3/users`: users, the self-service password change, a user's groups and projects.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use oxstack_common::Result;
use oxstack_common::context::RequestContext;
use oxstack_common::http::Json;
use serde_json::Value;

use super::{AppState, created, list, member, no_content, one, query_bool};
use crate::app::UserQuery;

pub(super) fn routes() -> Router<std::sync::Arc<crate::app::App>> {
    Router::new()
        .route("/v3/users", get(user_list).post(user_create))
        .route(
            "/v3/users/{id}",
            get(user_show).patch(user_update).delete(user_delete),
        )
        .route("/v3/users/{id}/password", post(user_change_password))
        .route("/v3/users/{id}/groups", get(user_groups))
        .route("/v3/users/{id}/projects", get(user_projects))
}

/// The user filters of a query string (`GET /v3/users`, `GET /v3/groups/{id}/users`).
pub(super) fn user_query(q: &HashMap<String, String>) -> UserQuery {
    UserQuery {
        name: q.get("name").cloned(),
        domain_id: q.get("domain_id").cloned(),
        enabled: query_bool(q, "enabled"),
        password_expires_at: q.get("password_expires_at").cloned(),
    }
}

async fn user_list(
    State(app): AppState,
    ctx: RequestContext,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let users = app.user_list(&ctx, user_query(&q)).await?;
    let views = users.iter().map(|u| app.user_view(u)).collect();
    Ok(list(&app, "users", "users", views))
}

async fn user_create(
    State(app): AppState,
    ctx: RequestContext,
    Json(body): Json<Value>,
) -> Result<Response> {
    let u = app.user_create(&ctx, &member(&body, "user")?).await?;
    Ok(created("user", app.user_view(&u)))
}

async fn user_show(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response> {
    let u = app.user_show(&ctx, &id).await?;
    Ok(one("user", app.user_view(&u)))
}

async fn user_update(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let u = app.user_update(&ctx, &id, &member(&body, "user")?).await?;
    Ok(one("user", app.user_view(&u)))
}

async fn user_delete(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response> {
    app.user_delete(&ctx, &id).await?;
    Ok(no_content())
}

async fn user_change_password(
    State(app): AppState,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    app.user_change_password(&id, &member(&body, "user")?)
        .await?;
    Ok(no_content())
}

async fn user_groups(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let groups = app.user_groups(&ctx, &id, q.get("name").cloned()).await?;
    let views = groups
        .iter()
        .map(|g| {
            let mut v = app.group_view(g);
            v["membership_expires_at"] = Value::Null;
            v
        })
        .collect();
    Ok(list(&app, "groups", &format!("users/{id}/groups"), views))
}

async fn user_projects(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let mut projects = app.user_projects(&ctx, &id).await?;
    if let Some(d) = q.get("domain_id") {
        projects.retain(|p| &p.domain_id == d);
    }
    if let Some(n) = q.get("name") {
        projects.retain(|p| &p.name == n);
    }
    if let Some(e) = query_bool(&q, "enabled") {
        projects.retain(|p| p.enabled == e);
    }
    let views = projects.iter().map(|p| app.project_view(p)).collect();
    Ok(list(
        &app,
        "projects",
        &format!("users/{id}/projects"),
        views,
    ))
}
