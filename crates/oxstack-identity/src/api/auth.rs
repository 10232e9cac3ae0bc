//! `/v3/auth/*`: issuing, validating and revoking tokens; the caller's catalog, projects,
//! domains and system.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use oxstack_common::context::RequestContext;
use oxstack_common::http::{Json, SUBJECT_TOKEN};
use oxstack_common::{Error, Result};
use serde_json::{Value, json};

use super::{AppState, list};
use crate::app::tokens::parse_auth_request;

pub(super) fn routes() -> Router<std::sync::Arc<crate::app::App>> {
    Router::new()
        .route(
            "/v3/auth/tokens",
            get(validate).head(check).post(issue).delete(revoke),
        )
        .route("/v3/auth/catalog", get(catalog))
        .route("/v3/auth/projects", get(projects))
        .route("/v3/auth/domains", get(domains))
        .route("/v3/auth/system", get(system))
}

fn subject(headers: &HeaderMap) -> Result<String> {
    headers
        .get(&SUBJECT_TOKEN)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .ok_or_else(|| Error::bad_request("X-Subject-Token header is required."))
}

/// A JSON body already serialized.
fn json_text(body: String) -> impl IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
}

fn with_subject(mut resp: Response, token: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(token) {
        resp.headers_mut().insert(SUBJECT_TOKEN.clone(), v);
    }
    resp
}

async fn issue(
    State(app): AppState,
    Query(q): Query<HashMap<String, String>>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let req = parse_auth_request(&body)?;
    let issued = app.authenticate(&req).await?;
    let body = app
        .token_body_json(&issued.data, !q.contains_key("nocatalog"))
        .await?;
    Ok(with_subject(
        (StatusCode::CREATED, json_text(body)).into_response(),
        &issued.token,
    ))
}

/// The subject token's user id and body, after the caller passed `identity:validate_token`.
async fn validated(
    app: &crate::app::App,
    ctx: &RequestContext,
    headers: &HeaderMap,
    with_catalog: bool,
) -> Result<(String, String)> {
    ctx.require_auth()?;
    let token = subject(headers)?;
    let (user_id, body) = app.subject_body(&token, with_catalog).await?;
    app.authorize(
        ctx,
        "identity:validate_token",
        &json!({"target": {"token": {"user_id": user_id}}}),
    )?;
    Ok((token, body))
}

async fn validate(
    State(app): AppState,
    ctx: RequestContext,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let (token, body) = validated(&app, &ctx, &headers, !q.contains_key("nocatalog")).await?;
    Ok(with_subject(json_text(body).into_response(), &token))
}

async fn check(State(app): AppState, ctx: RequestContext, headers: HeaderMap) -> Result<Response> {
    let (token, _) = validated(&app, &ctx, &headers, false).await?;
    Ok(with_subject(StatusCode::OK.into_response(), &token))
}

async fn revoke(State(app): AppState, ctx: RequestContext, headers: HeaderMap) -> Result<Response> {
    ctx.require_auth()?;
    let token = subject(&headers)?;
    let data = app.validate_subject(&token).await?;
    app.authorize(
        &ctx,
        "identity:revoke_token",
        &json!({"target": {"token": {"user_id": data.user.id}}}),
    )?;
    app.revoke_token(&token).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn catalog(State(app): AppState, ctx: RequestContext) -> Result<Response> {
    let auth = ctx.require_auth()?;
    if auth.project_id.is_none() && auth.domain_id.is_none() && auth.system_scope.is_none() {
        return Err(Error::forbidden(
            "The service catalog is only available to scoped tokens.",
        ));
    }
    let catalog = app.catalog(auth.project_id.as_deref()).await?;
    Ok(axum::Json(json!({"catalog": catalog, "links": {"self": format!("{}/v3/auth/catalog", app.public_url), "previous": null, "next": null}})).into_response())
}

async fn projects(State(app): AppState, ctx: RequestContext) -> Result<Response> {
    let auth = ctx.require_auth()?;
    let items = app
        .projects_for_user(&auth.user_id)
        .await?
        .iter()
        .map(|p| app.project_view(p))
        .collect();
    Ok(list(&app, "projects", "auth/projects", items))
}

async fn domains(State(app): AppState, ctx: RequestContext) -> Result<Response> {
    let auth = ctx.require_auth()?;
    let items = app
        .domains_for_user(&auth.user_id)
        .await?
        .iter()
        .map(|d| app.domain_view(d))
        .collect();
    Ok(list(&app, "domains", "auth/domains", items))
}

async fn system(State(app): AppState, ctx: RequestContext) -> Result<Response> {
    let auth = ctx.require_auth()?;
    let has = !app
        .direct_role_ids(&auth.user_id, crate::app::Target::System)
        .await?
        .is_empty();
    let system = if has {
        json!([{"all": true}])
    } else {
        json!([])
    };
    Ok(axum::Json(json!({"system": system, "links": {"self": format!("{}/v3/auth/system", app.public_url), "previous": null, "next": null}})).into_response())
}
