//! `/v3/groups`: groups and their members.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use oxstack_common::Result;
use oxstack_common::context::RequestContext;
use oxstack_common::http::Json;
use serde_json::Value;

use super::users::user_query;
use super::{AppState, created, list, member, no_content, one};

pub(super) fn routes() -> Router<std::sync::Arc<crate::app::App>> {
    Router::new()
        .route("/v3/groups", get(group_list).post(group_create))
        .route(
            "/v3/groups/{id}",
            get(group_show).patch(group_update).delete(group_delete),
        )
        .route("/v3/groups/{id}/users", get(group_users))
        .route(
            "/v3/groups/{id}/users/{user_id}",
            get(member_check)
                .head(member_check)
                .put(member_add)
                .delete(member_remove),
        )
}

async fn group_list(
    State(app): AppState,
    ctx: RequestContext,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let groups = app
        .group_list(&ctx, q.get("name").cloned(), q.get("domain_id").cloned())
        .await?;
    let views = groups.iter().map(|g| app.group_view(g)).collect();
    Ok(list(&app, "groups", "groups", views))
}

async fn group_create(
    State(app): AppState,
    ctx: RequestContext,
    Json(body): Json<Value>,
) -> Result<Response> {
    let g = app.group_create(&ctx, &member(&body, "group")?).await?;
    Ok(created("group", app.group_view(&g)))
}

async fn group_show(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response> {
    let g = app.group_show(&ctx, &id).await?;
    Ok(one("group", app.group_view(&g)))
}

async fn group_update(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let g = app
        .group_update(&ctx, &id, &member(&body, "group")?)
        .await?;
    Ok(one("group", app.group_view(&g)))
}

async fn group_delete(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response> {
    app.group_delete(&ctx, &id).await?;
    Ok(no_content())
}

async fn group_users(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let users = app.group_users(&ctx, &id, user_query(&q)).await?;
    let views = users.iter().map(|u| app.user_view(u)).collect();
    Ok(list(&app, "users", &format!("groups/{id}/users"), views))
}

async fn member_check(
    State(app): AppState,
    ctx: RequestContext,
    Path((id, user_id)): Path<(String, String)>,
) -> Result<Response> {
    app.group_check_user(&ctx, &id, &user_id).await?;
    Ok(no_content())
}

async fn member_add(
    State(app): AppState,
    ctx: RequestContext,
    Path((id, user_id)): Path<(String, String)>,
) -> Result<Response> {
    app.group_add_user(&ctx, &id, &user_id).await?;
    Ok(no_content())
}

async fn member_remove(
    State(app): AppState,
    ctx: RequestContext,
    Path((id, user_id)): Path<(String, String)>,
) -> Result<Response> {
    app.group_remove_user(&ctx, &id, &user_id).await?;
    Ok(no_content())
}
