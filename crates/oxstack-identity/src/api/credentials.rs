//! `/v3/users/{user_id}/application_credentials`, `/v3/users/{user_id}/access_rules`,
//! `/v3/users/{user_id}/credentials/OS-EC2` and `/v3/credentials`.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use oxstack_common::Result;
use oxstack_common::context::RequestContext;
use oxstack_common::http::Json;
use serde_json::{Value, json};

use super::{AppState, created, list, member, no_content, one};
use crate::app::{AccessRuleFilter, CredentialFilter};

pub(super) fn routes() -> Router<std::sync::Arc<crate::app::App>> {
    Router::new()
        .route(
            "/v3/users/{id}/application_credentials",
            get(app_cred_list).post(app_cred_create),
        )
        .route(
            "/v3/users/{id}/application_credentials/{cred_id}",
            get(app_cred_show).delete(app_cred_delete),
        )
        .route("/v3/users/{id}/access_rules", get(access_rule_list))
        .route(
            "/v3/users/{id}/access_rules/{rule_id}",
            get(access_rule_show).delete(access_rule_delete),
        )
        .route(
            "/v3/users/{id}/credentials/OS-EC2",
            get(ec2_list).post(ec2_create),
        )
        .route(
            "/v3/users/{id}/credentials/OS-EC2/{access}",
            get(ec2_show).delete(ec2_delete),
        )
        .route(
            "/v3/credentials",
            get(credential_list).post(credential_create),
        )
        .route(
            "/v3/credentials/{id}",
            get(credential_show)
                .patch(credential_update)
                .delete(credential_delete),
        )
}

async fn app_cred_list(
    State(app): AppState,
    ctx: RequestContext,
    Path(user_id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let items = app
        .app_cred_list(&ctx, &user_id, q.get("name").map(String::as_str))
        .await?;
    let mut views = Vec::with_capacity(items.len());
    for c in &items {
        views.push(app.app_cred_view(c).await?);
    }
    let path = format!("users/{user_id}/application_credentials");
    Ok(list(&app, "application_credentials", &path, views))
}

async fn app_cred_create(
    State(app): AppState,
    ctx: RequestContext,
    Path(user_id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let new = app
        .app_cred_create(&ctx, &user_id, &member(&body, "application_credential")?)
        .await?;
    let mut view = app.app_cred_view(&new.cred).await?;
    view["secret"] = json!(new.secret);
    Ok(created("application_credential", view))
}

async fn app_cred_show(
    State(app): AppState,
    ctx: RequestContext,
    Path((user_id, id)): Path<(String, String)>,
) -> Result<Response> {
    let c = app.app_cred_show(&ctx, &user_id, &id).await?;
    Ok(one("application_credential", app.app_cred_view(&c).await?))
}

async fn app_cred_delete(
    State(app): AppState,
    ctx: RequestContext,
    Path((user_id, id)): Path<(String, String)>,
) -> Result<Response> {
    app.app_cred_delete(&ctx, &user_id, &id).await?;
    Ok(no_content())
}

async fn access_rule_list(
    State(app): AppState,
    ctx: RequestContext,
    Path(user_id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let f = AccessRuleFilter {
        service: q.get("service").cloned(),
        path: q.get("path").cloned(),
        method: q.get("method").cloned(),
    };
    let rules = app.access_rule_list(&ctx, &user_id, &f).await?;
    let views = rules
        .iter()
        .map(|r| app.access_rule_view(&user_id, r))
        .collect();
    let path = format!("users/{user_id}/access_rules");
    Ok(list(&app, "access_rules", &path, views))
}

async fn access_rule_show(
    State(app): AppState,
    ctx: RequestContext,
    Path((user_id, id)): Path<(String, String)>,
) -> Result<Response> {
    let r = app.access_rule_show(&ctx, &user_id, &id).await?;
    Ok(one("access_rule", app.access_rule_view(&user_id, &r)))
}

async fn access_rule_delete(
    State(app): AppState,
    ctx: RequestContext,
    Path((user_id, id)): Path<(String, String)>,
) -> Result<Response> {
    app.access_rule_delete(&ctx, &user_id, &id).await?;
    Ok(no_content())
}

async fn credential_list(
    State(app): AppState,
    ctx: RequestContext,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let f = CredentialFilter {
        user_id: q.get("user_id").cloned(),
        cred_type: q.get("type").cloned(),
    };
    let items = app.credential_list(&ctx, &f).await?;
    let views = items.iter().map(|c| app.credential_view(c)).collect();
    Ok(list(&app, "credentials", "credentials", views))
}

async fn credential_create(
    State(app): AppState,
    ctx: RequestContext,
    Json(body): Json<Value>,
) -> Result<Response> {
    let c = app
        .credential_create(&ctx, &member(&body, "credential")?)
        .await?;
    Ok(created("credential", app.credential_view(&c)))
}

async fn credential_show(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response> {
    let c = app.credential_show(&ctx, &id).await?;
    Ok(one("credential", app.credential_view(&c)))
}

async fn credential_update(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let c = app
        .credential_update(&ctx, &id, &member(&body, "credential")?)
        .await?;
    Ok(one("credential", app.credential_view(&c)))
}

async fn credential_delete(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response> {
    app.credential_delete(&ctx, &id).await?;
    Ok(no_content())
}

async fn ec2_list(
    State(app): AppState,
    ctx: RequestContext,
    Path(user_id): Path<String>,
) -> Result<Response> {
    let items = app.ec2_credential_list(&ctx, &user_id).await?;
    let views = items.iter().map(|c| app.ec2_credential_view(c)).collect();
    let path = format!("users/{user_id}/credentials/OS-EC2");
    Ok(list(&app, "credentials", &path, views))
}

/// The body is not wrapped: `{"tenant_id": "..."}`.
async fn ec2_create(
    State(app): AppState,
    ctx: RequestContext,
    Path(user_id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let Value::Object(body) = body else {
        return Err(crate::app::invalid("", "the body is not an object"));
    };
    let c = app.ec2_credential_create(&ctx, &user_id, &body).await?;
    Ok(created("credential", app.ec2_credential_view(&c)))
}

async fn ec2_show(
    State(app): AppState,
    ctx: RequestContext,
    Path((user_id, access)): Path<(String, String)>,
) -> Result<Response> {
    let c = app.ec2_credential_show(&ctx, &user_id, &access).await?;
    Ok(one("credential", app.ec2_credential_view(&c)))
}

async fn ec2_delete(
    State(app): AppState,
    ctx: RequestContext,
    Path((user_id, access)): Path<(String, String)>,
) -> Result<Response> {
    app.ec2_credential_delete(&ctx, &user_id, &access).await?;
    Ok(no_content())
}
