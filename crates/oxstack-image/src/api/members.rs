//! `/v2/images/{id}/members`: sharing an image with other projects.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use oxstack_common::context::RequestContext;
use oxstack_common::{Error, Result};
use serde_json::{Value, json};

use super::{AppState, json_body, no_content};
use crate::app::App;

pub(super) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route(
            "/v2/images/{id}/members",
            get(member_list).post(member_create),
        )
        .route(
            "/v2/images/{id}/members/{member}",
            get(member_show).put(member_update).delete(member_delete),
        )
}

async fn member_list(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response> {
    let members = app.member_list(&ctx, &id).await?;
    Ok(axum::Json(json!({
        "members": members.iter().map(|m| app.member_view(m)).collect::<Vec<_>>(),
        "schema": "/v2/schemas/members",
    }))
    .into_response())
}

async fn member_create(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
    req: Request,
) -> Result<Response> {
    let body = json_body(req, &app).await?;
    let member = match body.get("member") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::String(_)) => return Err(Error::bad_request("Member can't be empty")),
        None => return Err(Error::bad_request("Member to be added not specified")),
        Some(_) => {
            return Err(Error::bad_request(
                "Expected a member in the form: {\"member\": \"image_id\"}",
            ));
        }
    };
    let m = app.member_create(&ctx, &id, &member).await?;
    Ok(axum::Json(app.member_view(&m)).into_response())
}

async fn member_show(
    State(app): AppState,
    ctx: RequestContext,
    Path((id, member)): Path<(String, String)>,
) -> Result<Response> {
    let m = app.member_show(&ctx, &id, &member).await?;
    Ok(axum::Json(app.member_view(&m)).into_response())
}

async fn member_update(
    State(app): AppState,
    ctx: RequestContext,
    Path((id, member)): Path<(String, String)>,
    req: Request,
) -> Result<Response> {
    let body = json_body(req, &app).await?;
    let status = body
        .get("status")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::bad_request("Status not specified"))?;
    let m = app.member_update(&ctx, &id, &member, status).await?;
    Ok(axum::Json(app.member_view(&m)).into_response())
}

async fn member_delete(
    State(app): AppState,
    ctx: RequestContext,
    Path((id, member)): Path<(String, String)>,
) -> Result<Response> {
    app.member_delete(&ctx, &id, &member).await?;
    Ok(no_content())
}
