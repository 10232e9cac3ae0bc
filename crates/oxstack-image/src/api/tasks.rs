//! `/v2/tasks` (admin only, deprecated in Glance) and `GET /v2/images/{id}/tasks`.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use oxstack_common::Result;
use oxstack_common::context::RequestContext;
use serde_json::json;

use super::{AppState, json_body};
use crate::app::App;

pub(super) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/v2/images/{id}/tasks", get(image_tasks))
        .route("/v2/tasks", get(task_list).post(task_create))
        .route("/v2/tasks/{id}", get(task_show).delete(task_delete))
}

async fn image_tasks(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response> {
    let tasks = app.image_tasks(&ctx, &id).await?;
    Ok(
        axum::Json(json!({"tasks": tasks.iter().map(App::image_task_view).collect::<Vec<_>>()}))
            .into_response(),
    )
}

async fn task_create(State(app): AppState, ctx: RequestContext, req: Request) -> Result<Response> {
    // Glance checks access before it reads the body.
    app.caller(&ctx)?;
    let body = json_body(req, &app).await?;
    let t = app.task_create(&ctx, &body).await?;
    Ok((
        axum::http::StatusCode::CREATED,
        [(
            header::LOCATION,
            HeaderValue::from_str(&format!("/v2/tasks/{}", t.id))
                .unwrap_or(HeaderValue::from_static("/v2/tasks")),
        )],
        axum::Json(App::task_view(&t, true)),
    )
        .into_response())
}

async fn task_list(State(app): AppState, ctx: RequestContext) -> Result<Response> {
    let tasks = app.task_list(&ctx).await?;
    Ok(axum::Json(json!({
        "tasks": tasks.iter().map(|t| App::task_view(t, false)).collect::<Vec<_>>(),
        "first": "/v2/tasks",
        "schema": "/v2/schemas/tasks",
    }))
    .into_response())
}

async fn task_show(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response> {
    let t = app.task_show(&ctx, &id).await?;
    Ok(axum::Json(App::task_view(&t, true)).into_response())
}

async fn task_delete(State(app): AppState, ctx: RequestContext) -> Result<Response> {
    match app.task_delete(&ctx) {
        Ok(()) => Ok(super::no_content()),
        Err(e) if e.kind == oxstack_common::error::ErrorKind::MethodNotAllowed => {
            let mut resp = e.into_response();
            resp.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET"));
            Ok(resp)
        }
        Err(e) => Err(e),
    }
}
