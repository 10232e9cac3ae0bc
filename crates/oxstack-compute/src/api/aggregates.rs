//! `/os-aggregates`: host aggregates (admin only).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use oxstack_common::context::RequestContext;
use oxstack_common::http::Json;
use oxstack_common::{Error, Result};
use serde_json::{Value, json};

use super::{AppState, member, naive, ok, status};
use crate::app::App;
use crate::microversion::Version;
use crate::model::Aggregate;

pub(super) fn routes() -> Router<std::sync::Arc<App>> {
    Router::new()
        .route("/os-aggregates", get(list).post(create))
        .route("/os-aggregates/{id}", get(show).put(update).delete(delete))
        .route("/os-aggregates/{id}/action", post(action))
}

fn render(a: &Aggregate, mv: Version) -> Value {
    let mut v = json!({
        "id": a.id,
        "name": a.name,
        "availability_zone": a.metadata.get("availability_zone"),
        "hosts": a.hosts,
        "metadata": a.metadata,
        "created_at": naive(a.created_at),
        "updated_at": a.updated_at.map(naive),
        "deleted_at": null,
        "deleted": false,
    });
    if mv.at_least(41) {
        v["uuid"] = json!(a.uuid);
    }
    v
}

async fn list(State(app): AppState, ctx: RequestContext, mv: Version) -> Result<Response> {
    let all = app.aggregates(&ctx).await?;
    let items: Vec<Value> = all.iter().map(|a| render(a, mv)).collect();
    Ok(ok(json!({ "aggregates": items })))
}

async fn show(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path(id): Path<String>,
) -> Result<Response> {
    let a = app.aggregate(&ctx, &id).await?;
    Ok(ok(json!({ "aggregate": render(&a, mv) })))
}

async fn create(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Json(body): Json<Value>,
) -> Result<Response> {
    let b = member(&body, "aggregate")?;
    let a = app.aggregate_create(&ctx, &b).await?;
    // Nova's create answer has no hosts or metadata.
    let mut v = render(&a, mv);
    if let Some(m) = v.as_object_mut() {
        m.remove("hosts");
        m.remove("metadata");
    }
    Ok(ok(json!({ "aggregate": v })))
}

async fn update(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let b = member(&body, "aggregate")?;
    let a = app.aggregate_update(&ctx, &id, &b).await?;
    Ok(ok(json!({ "aggregate": render(&a, mv) })))
}

/// Nova answers a delete with 200 and no body.
async fn delete(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response> {
    app.aggregate_delete(&ctx, &id).await?;
    Ok(status(StatusCode::OK))
}

async fn action(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let (name, arg) = body
        .as_object()
        .filter(|m| m.len() == 1)
        .and_then(|m| m.iter().next())
        .ok_or_else(|| Error::bad_request("Malformed request body"))?;
    let host = || {
        arg.get("host")
            .and_then(Value::as_str)
            .filter(|h| (1..=255).contains(&h.chars().count()))
            .ok_or_else(|| {
                Error::bad_request(format!(
                    "Invalid input for field/attribute {name}. 'host' is a required property"
                ))
            })
    };
    let a = match name.as_str() {
        "add_host" => app.aggregate_host(&ctx, &id, host()?, true).await?,
        "remove_host" => app.aggregate_host(&ctx, &id, host()?, false).await?,
        "set_metadata" => {
            let m = arg.get("metadata").ok_or_else(|| {
                Error::bad_request(
                    "Invalid input for field/attribute set_metadata. 'metadata' is a required property",
                )
            })?;
            app.aggregate_set_metadata(&ctx, &id, m).await?
        }
        other => {
            return Err(Error::bad_request(format!(
                "There is no such action: {other}"
            )));
        }
    };
    Ok(ok(json!({ "aggregate": render(&a, mv) })))
}
