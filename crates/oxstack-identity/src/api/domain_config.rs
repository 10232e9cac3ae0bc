//! `/v3/domains/{domain_id}/config[/{group}[/{option}]]` and
//! `/v3/domains/config[/{group}[/{option}]]/default`.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use oxstack_common::Result;
use oxstack_common::context::RequestContext;
use oxstack_common::http::Json;
use serde_json::{Map, Value, json};

use super::{AppState, no_content};

pub(super) fn routes() -> Router<std::sync::Arc<crate::app::App>> {
    Router::new()
        .route(
            "/v3/domains/{id}/config",
            get(config_show)
                .put(config_create)
                .patch(config_update)
                .delete(config_delete),
        )
        .route(
            "/v3/domains/{id}/config/{group}",
            get(group_show).patch(group_update).delete(group_delete),
        )
        .route(
            "/v3/domains/{id}/config/{group}/{option}",
            get(option_show).patch(option_update).delete(option_delete),
        )
        .route("/v3/domains/config/default", get(default_show))
        .route(
            "/v3/domains/config/{group}/default",
            get(default_group_show),
        )
        .route(
            "/v3/domains/config/{group}/{option}/default",
            get(default_option_show),
        )
}

fn config(c: Map<String, Value>) -> Response {
    axum::Json(json!({ "config": c })).into_response()
}

async fn config_show(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response> {
    Ok(config(app.domain_config_get(&ctx, &id, None, None).await?))
}

async fn config_create(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let (c, new) = app.domain_config_create(&ctx, &id, &body).await?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(json!({ "config": c }))).into_response())
}

async fn config_update(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    Ok(config(
        app.domain_config_update(&ctx, &id, None, None, &body)
            .await?,
    ))
}

async fn config_delete(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response> {
    app.domain_config_delete(&ctx, &id, None, None).await?;
    Ok(no_content())
}

async fn group_show(
    State(app): AppState,
    ctx: RequestContext,
    Path((id, group)): Path<(String, String)>,
) -> Result<Response> {
    Ok(config(
        app.domain_config_get(&ctx, &id, Some(&group), None).await?,
    ))
}

async fn group_update(
    State(app): AppState,
    ctx: RequestContext,
    Path((id, group)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Result<Response> {
    Ok(config(
        app.domain_config_update(&ctx, &id, Some(&group), None, &body)
            .await?,
    ))
}

async fn group_delete(
    State(app): AppState,
    ctx: RequestContext,
    Path((id, group)): Path<(String, String)>,
) -> Result<Response> {
    app.domain_config_delete(&ctx, &id, Some(&group), None)
        .await?;
    Ok(no_content())
}

async fn option_show(
    State(app): AppState,
    ctx: RequestContext,
    Path((id, group, option)): Path<(String, String, String)>,
) -> Result<Response> {
    Ok(config(
        app.domain_config_get(&ctx, &id, Some(&group), Some(&option))
            .await?,
    ))
}

async fn option_update(
    State(app): AppState,
    ctx: RequestContext,
    Path((id, group, option)): Path<(String, String, String)>,
    Json(body): Json<Value>,
) -> Result<Response> {
    Ok(config(
        app.domain_config_update(&ctx, &id, Some(&group), Some(&option), &body)
            .await?,
    ))
}

async fn option_delete(
    State(app): AppState,
    ctx: RequestContext,
    Path((id, group, option)): Path<(String, String, String)>,
) -> Result<Response> {
    app.domain_config_delete(&ctx, &id, Some(&group), Some(&option))
        .await?;
    Ok(no_content())
}

async fn default_show(State(app): AppState, ctx: RequestContext) -> Result<Response> {
    Ok(config(app.domain_config_default(&ctx, None, None)?))
}

async fn default_group_show(
    State(app): AppState,
    ctx: RequestContext,
    Path(group): Path<String>,
) -> Result<Response> {
    Ok(config(app.domain_config_default(
        &ctx,
        Some(&group),
        None,
    )?))
}

async fn default_option_show(
    State(app): AppState,
    ctx: RequestContext,
    Path((group, option)): Path<(String, String)>,
) -> Result<Response> {
    Ok(config(app.domain_config_default(
        &ctx,
        Some(&group),
        Some(&option),
    )?))
}
