//! `/v3/OS-OAUTH1/consumers`.

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use oxstack_common::Result;
use oxstack_common::context::RequestContext;
use oxstack_common::http::Json;
use serde_json::{Value, json};

use super::{AppState, created, list, member, no_content, one};

pub(super) fn routes() -> Router<std::sync::Arc<crate::app::App>> {
    Router::new()
        .route(
            "/v3/OS-OAUTH1/consumers",
            get(consumer_list).post(consumer_create),
        )
        .route(
            "/v3/OS-OAUTH1/consumers/{id}",
            get(consumer_show)
                .patch(consumer_update)
                .delete(consumer_delete),
        )
}

async fn consumer_list(State(app): AppState, ctx: RequestContext) -> Result<Response> {
    let items = app.consumer_list(&ctx).await?;
    let views = items.iter().map(|c| app.consumer_view(c)).collect();
    Ok(list(&app, "consumers", "OS-OAUTH1/consumers", views))
}

async fn consumer_create(
    State(app): AppState,
    ctx: RequestContext,
    Json(body): Json<Value>,
) -> Result<Response> {
    // Keystone takes a missing `consumer` as an empty one.
    let body = match body.get("consumer") {
        None => serde_json::Map::new(),
        Some(_) => member(&body, "consumer")?,
    };
    let (c, secret) = app.consumer_create(&ctx, &body).await?;
    let mut view = app.consumer_view(&c);
    view["secret"] = json!(secret);
    Ok(created("consumer", view))
}

async fn consumer_show(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response> {
    let c = app.consumer_show(&ctx, &id).await?;
    Ok(one("consumer", app.consumer_view(&c)))
}

async fn consumer_update(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let c = app
        .consumer_update(&ctx, &id, &member(&body, "consumer")?)
        .await?;
    Ok(one("consumer", app.consumer_view(&c)))
}

async fn consumer_delete(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response> {
    app.consumer_delete(&ctx, &id).await?;
    Ok(no_content())
}
