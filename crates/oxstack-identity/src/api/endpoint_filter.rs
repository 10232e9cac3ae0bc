//! `/v3/OS-EP-FILTER`: endpoint groups and project endpoint associations.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use oxstack_common::Result;
use oxstack_common::context::RequestContext;
use oxstack_common::http::Json;
use serde_json::{Value, json};

use super::{AppState, created, list, member, no_content, one};
use crate::app::Association;

const PREFIX: &str = "/v3/OS-EP-FILTER";

pub(super) fn routes() -> Router<std::sync::Arc<crate::app::App>> {
    Router::new()
        .route(
            &format!("{PREFIX}/endpoint_groups"),
            get(group_list).post(group_create),
        )
        .route(
            &format!("{PREFIX}/endpoint_groups/{{id}}"),
            get(group_show).patch(group_update).delete(group_delete),
        )
        .route(
            &format!("{PREFIX}/endpoint_groups/{{id}}/endpoints"),
            get(group_endpoints),
        )
        .route(
            &format!("{PREFIX}/endpoint_groups/{{id}}/projects"),
            get(group_projects),
        )
        .route(
            &format!("{PREFIX}/endpoint_groups/{{id}}/projects/{{project_id}}"),
            get(group_project_show)
                .put(group_project_add)
                .delete(group_project_remove),
        )
        .route(
            &format!("{PREFIX}/projects/{{project_id}}/endpoint_groups"),
            get(project_groups),
        )
        .route(
            &format!("{PREFIX}/projects/{{project_id}}/endpoints"),
            get(project_endpoints),
        )
        .route(
            &format!("{PREFIX}/projects/{{project_id}}/endpoints/{{endpoint_id}}"),
            get(project_endpoint_check)
                .put(project_endpoint_add)
                .delete(project_endpoint_remove),
        )
        .route(
            &format!("{PREFIX}/endpoints/{{endpoint_id}}/projects"),
            get(endpoint_projects),
        )
}

async fn group_list(
    State(app): AppState,
    ctx: RequestContext,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let items = app
        .endpoint_group_list(&ctx, q.get("name").map(String::as_str))
        .await?;
    let views = items.iter().map(|g| app.endpoint_group_view(g)).collect();
    Ok(list(
        &app,
        "endpoint_groups",
        "OS-EP-FILTER/endpoint_groups",
        views,
    ))
}

async fn group_create(
    State(app): AppState,
    ctx: RequestContext,
    Json(body): Json<Value>,
) -> Result<Response> {
    let g = app
        .endpoint_group_create(&ctx, &member(&body, "endpoint_group")?)
        .await?;
    Ok(created("endpoint_group", app.endpoint_group_view(&g)))
}

async fn group_show(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response> {
    let g = app.endpoint_group_show(&ctx, &id).await?;
    Ok(one("endpoint_group", app.endpoint_group_view(&g)))
}

async fn group_update(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let g = app
        .endpoint_group_update(&ctx, &id, &member(&body, "endpoint_group")?)
        .await?;
    Ok(one("endpoint_group", app.endpoint_group_view(&g)))
}

async fn group_delete(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response> {
    app.endpoint_group_delete(&ctx, &id).await?;
    Ok(no_content())
}

async fn group_endpoints(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response> {
    let items = app.endpoint_group_endpoints(&ctx, &id).await?;
    let views = items.iter().map(|e| app.endpoint_view(e)).collect();
    let path = format!("OS-EP-FILTER/endpoint_groups/{id}/endpoints");
    Ok(list(&app, "endpoints", &path, views))
}

async fn group_projects(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response> {
    let items = app.endpoint_group_projects(&ctx, &id).await?;
    let views = items.iter().map(|p| app.project_view(p)).collect();
    let path = format!("OS-EP-FILTER/endpoint_groups/{id}/projects");
    Ok(list(&app, "projects", &path, views))
}

async fn group_project_show(
    State(app): AppState,
    ctx: RequestContext,
    Path((id, project_id)): Path<(String, String)>,
) -> Result<Response> {
    app.endpoint_group_project(&ctx, Association::Check, &id, &project_id)
        .await?;
    Ok(axum::Json(json!({
        "project_endpoint_group": app.project_endpoint_group_view(&id, &project_id),
    }))
    .into_response())
}

async fn group_project_add(
    State(app): AppState,
    ctx: RequestContext,
    Path((id, project_id)): Path<(String, String)>,
) -> Result<Response> {
    app.endpoint_group_project(&ctx, Association::Add, &id, &project_id)
        .await?;
    Ok(no_content())
}

async fn group_project_remove(
    State(app): AppState,
    ctx: RequestContext,
    Path((id, project_id)): Path<(String, String)>,
) -> Result<Response> {
    app.endpoint_group_project(&ctx, Association::Remove, &id, &project_id)
        .await?;
    Ok(no_content())
}

async fn project_groups(
    State(app): AppState,
    ctx: RequestContext,
    Path(project_id): Path<String>,
) -> Result<Response> {
    let items = app.endpoint_groups_for_project(&ctx, &project_id).await?;
    let views = items.iter().map(|g| app.endpoint_group_view(g)).collect();
    let path = format!("OS-EP-FILTER/projects/{project_id}/endpoint_groups");
    Ok(list(&app, "endpoint_groups", &path, views))
}

async fn project_endpoints(
    State(app): AppState,
    ctx: RequestContext,
    Path(project_id): Path<String>,
) -> Result<Response> {
    let items = app.endpoints_for_project(&ctx, &project_id).await?;
    let views = items.iter().map(|e| app.endpoint_view(e)).collect();
    let path = format!("OS-EP-FILTER/projects/{project_id}/endpoints");
    Ok(list(&app, "endpoints", &path, views))
}

async fn project_endpoint_check(
    State(app): AppState,
    ctx: RequestContext,
    Path((project_id, endpoint_id)): Path<(String, String)>,
) -> Result<Response> {
    app.project_endpoint(&ctx, Association::Check, &project_id, &endpoint_id)
        .await?;
    Ok(no_content())
}

async fn project_endpoint_add(
    State(app): AppState,
    ctx: RequestContext,
    Path((project_id, endpoint_id)): Path<(String, String)>,
) -> Result<Response> {
    app.project_endpoint(&ctx, Association::Add, &project_id, &endpoint_id)
        .await?;
    Ok(no_content())
}

async fn project_endpoint_remove(
    State(app): AppState,
    ctx: RequestContext,
    Path((project_id, endpoint_id)): Path<(String, String)>,
) -> Result<Response> {
    app.project_endpoint(&ctx, Association::Remove, &project_id, &endpoint_id)
        .await?;
    Ok(no_content())
}

async fn endpoint_projects(
    State(app): AppState,
    ctx: RequestContext,
    Path(endpoint_id): Path<String>,
) -> Result<Response> {
    let items = app.projects_for_endpoint(&ctx, &endpoint_id).await?;
    let views = items.iter().map(|p| app.project_view(p)).collect();
    let path = format!("OS-EP-FILTER/endpoints/{endpoint_id}/projects");
    Ok(list(&app, "projects", &path, views))
}
