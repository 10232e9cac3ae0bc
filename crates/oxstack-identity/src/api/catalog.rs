//! `/v3/regions`, `/v3/services` and `/v3/endpoints`.

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
use crate::app::EndpointFilter;

pub(super) fn routes() -> Router<std::sync::Arc<crate::app::App>> {
    Router::new()
        .route("/v3/regions", get(region_list).post(region_create))
        .route(
            "/v3/regions/{id}",
            get(region_show)
                .put(region_create_with_id)
                .patch(region_update)
                .delete(region_delete),
        )
        .route("/v3/services", get(service_list).post(service_create))
        .route(
            "/v3/services/{id}",
            get(service_show)
                .patch(service_update)
                .delete(service_delete),
        )
        .route("/v3/endpoints", get(endpoint_list).post(endpoint_create))
        .route(
            "/v3/endpoints/{id}",
            get(endpoint_show)
                .patch(endpoint_update)
                .delete(endpoint_delete),
        )
}

async fn region_list(
    State(app): AppState,
    ctx: RequestContext,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let items = app
        .region_list(&ctx, q.get("parent_region_id").map(String::as_str))
        .await?;
    let views = items.iter().map(|r| app.region_view(r)).collect();
    Ok(list(&app, "regions", "regions", views))
}

async fn region_create(
    State(app): AppState,
    ctx: RequestContext,
    Json(body): Json<Value>,
) -> Result<Response> {
    let r = app
        .region_create(&ctx, None, &member(&body, "region")?)
        .await?;
    Ok(created("region", app.region_view(&r)))
}

async fn region_create_with_id(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let r = app
        .region_create(&ctx, Some(&id), &member(&body, "region")?)
        .await?;
    Ok(created("region", app.region_view(&r)))
}

async fn region_show(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response> {
    let r = app.region_show(&ctx, &id).await?;
    Ok(one("region", app.region_view(&r)))
}

async fn region_update(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let r = app
        .region_update(&ctx, &id, &member(&body, "region")?)
        .await?;
    Ok(one("region", app.region_view(&r)))
}

async fn region_delete(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response> {
    app.region_delete(&ctx, &id).await?;
    Ok(no_content())
}

async fn service_list(
    State(app): AppState,
    ctx: RequestContext,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let items = app
        .service_list(
            &ctx,
            q.get("type").map(String::as_str),
            q.get("name").map(String::as_str),
        )
        .await?;
    let views = items.iter().map(|s| app.service_view(s)).collect();
    Ok(list(&app, "services", "services", views))
}

async fn service_create(
    State(app): AppState,
    ctx: RequestContext,
    Json(body): Json<Value>,
) -> Result<Response> {
    let s = app.service_create(&ctx, &member(&body, "service")?).await?;
    Ok(created("service", app.service_view(&s)))
}

async fn service_show(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response> {
    let s = app.service_show(&ctx, &id).await?;
    Ok(one("service", app.service_view(&s)))
}

async fn service_update(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let s = app
        .service_update(&ctx, &id, &member(&body, "service")?)
        .await?;
    Ok(one("service", app.service_view(&s)))
}

async fn service_delete(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response> {
    app.service_delete(&ctx, &id).await?;
    Ok(no_content())
}

async fn endpoint_list(
    State(app): AppState,
    ctx: RequestContext,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let f = EndpointFilter {
        service_id: q.get("service_id").cloned(),
        interface: q.get("interface").cloned(),
        region_id: q.get("region_id").cloned(),
    };
    let items = app.endpoint_list(&ctx, &f).await?;
    let views = items.iter().map(|e| app.endpoint_view(e)).collect();
    Ok(list(&app, "endpoints", "endpoints", views))
}

async fn endpoint_create(
    State(app): AppState,
    ctx: RequestContext,
    Json(body): Json<Value>,
) -> Result<Response> {
    let e = app
        .endpoint_create(&ctx, &member(&body, "endpoint")?)
        .await?;
    Ok(created("endpoint", app.endpoint_view(&e)))
}

async fn endpoint_show(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response> {
    let e = app.endpoint_show(&ctx, &id).await?;
    Ok(one("endpoint", app.endpoint_view(&e)))
}

async fn endpoint_update(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let e = app
        .endpoint_update(&ctx, &id, &member(&body, "endpoint")?)
        .await?;
    Ok(one("endpoint", app.endpoint_view(&e)))
}

async fn endpoint_delete(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response> {
    app.endpoint_delete(&ctx, &id).await?;
    Ok(no_content())
}
