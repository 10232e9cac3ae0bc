//! `/resource_classes` (1.2) and `/traits` (1.6).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use oxstack_common::context::RequestContext;
use oxstack_common::http::Json;
use oxstack_common::{Error, Result};
use serde_json::{Value, json};

use super::{AppState, created_at, no_content, ok, since};
use crate::app::App;
use crate::microversion::Version;

pub(super) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/resource_classes", get(class_list).post(class_create))
        .route(
            "/resource_classes/{name}",
            get(class_show).put(class_put).delete(class_delete),
        )
        .route("/traits", get(trait_list))
        .route(
            "/traits/{name}",
            get(trait_show).put(trait_put).delete(trait_delete),
        )
}

fn class_view(name: &str) -> Value {
    json!({"name": name, "links": [{"rel": "self", "href": format!("/resource_classes/{name}")}]})
}

async fn class_list(State(app): AppState, ctx: RequestContext, v: Version) -> Result<Response> {
    since(v, 2)?;
    let names = app.class_list(&ctx).await?;
    let views: Vec<Value> = names.iter().map(|n| class_view(n)).collect();
    Ok(ok(json!({ "resource_classes": views })))
}

async fn class_create(
    State(app): AppState,
    ctx: RequestContext,
    v: Version,
    Json(body): Json<Value>,
) -> Result<Response> {
    since(v, 2)?;
    let name = app.class_create(&ctx, &body).await?;
    Ok(created_at(&format!("/resource_classes/{name}")))
}

async fn class_show(
    State(app): AppState,
    ctx: RequestContext,
    v: Version,
    Path(name): Path<String>,
) -> Result<Response> {
    since(v, 2)?;
    let name = app.class_show(&ctx, &name).await?;
    Ok(ok(class_view(&name)))
}

async fn class_put(
    State(app): AppState,
    ctx: RequestContext,
    v: Version,
    Path(name): Path<String>,
) -> Result<Response> {
    since(v, 2)?;
    if !v.at_least(7) {
        // 1.2-1.6 renamed a custom class with a body; nothing uses it any more.
        return Err(Error::bad_request(
            "Renaming resource classes (microversions 1.2-1.6) is not supported; use 1.7 or later.",
        ));
    }
    Ok(if app.class_ensure(&ctx, &name).await? {
        created_at(&format!("/resource_classes/{name}"))
    } else {
        no_content()
    })
}

async fn class_delete(
    State(app): AppState,
    ctx: RequestContext,
    v: Version,
    Path(name): Path<String>,
) -> Result<Response> {
    since(v, 2)?;
    app.class_delete(&ctx, &name).await?;
    Ok(no_content())
}

async fn trait_list(
    State(app): AppState,
    ctx: RequestContext,
    v: Version,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Response> {
    since(v, 6)?;
    let mut name = None;
    let mut associated = None;
    for (k, val) in &q {
        match k.as_str() {
            "name" => name = Some(val.as_str()),
            "associated" => {
                associated = Some(match val.to_ascii_lowercase().as_str() {
                    "true" | "1" | "yes" | "on" => true,
                    "false" | "0" | "no" | "off" => false,
                    _ => {
                        return Err(Error::bad_request(format!(
                            "Invalid query string parameters: '{val}' is not one of ['true', 'false']"
                        )));
                    }
                })
            }
            _ => {
                return Err(Error::bad_request(format!(
                    "Invalid query string parameters: Additional properties are not allowed ('{k}' was unexpected)"
                )));
            }
        }
    }
    let traits = app.trait_list(&ctx, name, associated).await?;
    Ok(ok(json!({ "traits": traits })))
}

async fn trait_show(
    State(app): AppState,
    ctx: RequestContext,
    v: Version,
    Path(name): Path<String>,
) -> Result<Response> {
    since(v, 6)?;
    app.trait_show(&ctx, &name).await?;
    Ok(no_content())
}

async fn trait_put(
    State(app): AppState,
    ctx: RequestContext,
    v: Version,
    Path(name): Path<String>,
) -> Result<Response> {
    since(v, 6)?;
    Ok(if app.trait_ensure(&ctx, &name).await? {
        created_at(&format!("/traits/{name}"))
    } else {
        no_content()
    })
}

async fn trait_delete(
    State(app): AppState,
    ctx: RequestContext,
    v: Version,
    Path(name): Path<String>,
) -> Result<Response> {
    since(v, 6)?;
    app.trait_delete(&ctx, &name).await?;
    Ok(no_content())
}
