//! `/v3/domains` and `/v3/projects`, with project tags.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use oxstack_common::Result;
use oxstack_common::context::RequestContext;
use oxstack_common::http::Json;
use serde_json::{Value, json};

use super::{AppState, created, list, member, no_content, one, query_bool};
use crate::store::ProjectFilter;

pub(super) fn routes() -> Router<std::sync::Arc<crate::app::App>> {
    Router::new()
        .route("/v3/domains", get(domain_list).post(domain_create))
        .route(
            "/v3/domains/{id}",
            get(domain_show).patch(domain_update).delete(domain_delete),
        )
        .route("/v3/projects", get(project_list).post(project_create))
        .route(
            "/v3/projects/{id}",
            get(project_show)
                .patch(project_update)
                .delete(project_delete),
        )
        .route(
            "/v3/projects/{id}/tags",
            get(tag_list).put(tag_replace).delete(tag_clear),
        )
        .route(
            "/v3/projects/{id}/tags/{tag}",
            get(tag_check).put(tag_add).delete(tag_remove),
        )
}

async fn domain_list(
    State(app): AppState,
    ctx: RequestContext,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let items = app
        .domain_list(&ctx, q.get("name").cloned(), query_bool(&q, "enabled"))
        .await?;
    Ok(list(
        &app,
        "domains",
        "domains",
        items.iter().map(|d| app.domain_view(d)).collect(),
    ))
}

async fn domain_create(
    State(app): AppState,
    ctx: RequestContext,
    Json(body): Json<Value>,
) -> Result<Response> {
    let d = app.domain_create(&ctx, &member(&body, "domain")?).await?;
    Ok(created("domain", app.domain_view(&d)))
}

async fn domain_show(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response> {
    let d = app.domain_get(&id).await?;
    app.authorize(
        &ctx,
        "identity:get_domain",
        &json!({"target": {"domain": {"id": d.id}}}),
    )?;
    Ok(one("domain", app.domain_view(&d)))
}

async fn domain_update(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let d = app
        .domain_update(&ctx, &id, &member(&body, "domain")?)
        .await?;
    Ok(one("domain", app.domain_view(&d)))
}

async fn domain_delete(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response> {
    app.domain_delete(&ctx, &id).await?;
    Ok(no_content())
}

async fn project_list(
    State(app): AppState,
    ctx: RequestContext,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let f = ProjectFilter {
        is_domain: query_bool(&q, "is_domain"),
        domain_id: q.get("domain_id").cloned(),
        parent_id: q.get("parent_id").cloned(),
        name: q.get("name").cloned(),
        enabled: query_bool(&q, "enabled"),
        ids: None,
    };
    let mut items = app.project_list(&ctx, f).await?;
    if let Some(tags) = q.get("tags") {
        let want: Vec<&str> = tags.split(',').collect();
        items.retain(|p| want.iter().all(|t| p.tags.iter().any(|x| x == t)));
    }
    if let Some(tags) = q.get("tags-any") {
        let want: Vec<&str> = tags.split(',').collect();
        items.retain(|p| want.iter().any(|t| p.tags.iter().any(|x| x == t)));
    }
    if let Some(tags) = q.get("not-tags") {
        let want: Vec<&str> = tags.split(',').collect();
        items.retain(|p| !want.iter().all(|t| p.tags.iter().any(|x| x == t)));
    }
    if let Some(tags) = q.get("not-tags-any") {
        let want: Vec<&str> = tags.split(',').collect();
        items.retain(|p| !want.iter().any(|t| p.tags.iter().any(|x| x == t)));
    }
    let views = items.iter().map(|p| app.project_view(p)).collect();
    Ok(list(&app, "projects", "projects", views))
}

async fn project_create(
    State(app): AppState,
    ctx: RequestContext,
    Json(body): Json<Value>,
) -> Result<Response> {
    let p = app.project_create(&ctx, &member(&body, "project")?).await?;
    Ok(created("project", app.project_view(&p)))
}

async fn project_show(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response> {
    let p = app.project_show(&ctx, &id).await?;
    Ok(one("project", app.project_view(&p)))
}

async fn project_update(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let p = app
        .project_update(&ctx, &id, &member(&body, "project")?)
        .await?;
    Ok(one("project", app.project_view(&p)))
}

async fn project_delete(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response> {
    app.project_delete(&ctx, &id).await?;
    Ok(no_content())
}

async fn tag_list(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response> {
    let p = app.project_show(&ctx, &id).await?;
    Ok(axum::Json(json!({"tags": p.tags})).into_response())
}

async fn tag_replace(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let tags = body.get("tags").cloned().unwrap_or(Value::Null);
    let p = app
        .project_update(
            &ctx,
            &id,
            &serde_json::Map::from_iter([("tags".to_string(), tags)]),
        )
        .await?;
    Ok(axum::Json(json!({"tags": p.tags})).into_response())
}

async fn tag_clear(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response> {
    app.project_update(
        &ctx,
        &id,
        &serde_json::Map::from_iter([("tags".to_string(), json!([]))]),
    )
    .await?;
    Ok(no_content())
}

async fn tag_check(
    State(app): AppState,
    ctx: RequestContext,
    Path((id, tag)): Path<(String, String)>,
) -> Result<Response> {
    let p = app.project_show(&ctx, &id).await?;
    if p.tags.contains(&tag) {
        Ok(no_content())
    } else {
        Err(crate::app::not_found("project tag", &tag))
    }
}

async fn tag_add(
    State(app): AppState,
    ctx: RequestContext,
    Path((id, tag)): Path<(String, String)>,
) -> Result<Response> {
    let p = app.project_show(&ctx, &id).await?;
    let mut tags = p.tags.clone();
    tags.push(tag);
    app.project_update(
        &ctx,
        &id,
        &serde_json::Map::from_iter([("tags".to_string(), json!(tags))]),
    )
    .await?;
    Ok(axum::http::StatusCode::CREATED.into_response())
}

async fn tag_remove(
    State(app): AppState,
    ctx: RequestContext,
    Path((id, tag)): Path<(String, String)>,
) -> Result<Response> {
    let p = app.project_show(&ctx, &id).await?;
    if !p.tags.contains(&tag) {
        return Err(crate::app::not_found("project tag", &tag));
    }
    let tags: Vec<&String> = p.tags.iter().filter(|t| **t != tag).collect();
    app.project_update(
        &ctx,
        &id,
        &serde_json::Map::from_iter([("tags".to_string(), json!(tags))]),
    )
    .await?;
    Ok(no_content())
}
