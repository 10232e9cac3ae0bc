//! `/images` and `/images/{id}/metadata`: Nova's image proxy, served up to 2.35 (404 from
//! 2.36 on, as Nova).

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use oxstack_common::context::RequestContext;
use oxstack_common::http::Json;
use oxstack_common::{Error, Result};
use serde_json::{Value, json};

use super::{AppState, ok, proxy_api, status};
use crate::app::images::{ImageListQuery, ProxyImage};
use crate::app::{App, MetadataWrite};
use crate::microversion::Version;

pub(super) fn routes() -> Router<std::sync::Arc<App>> {
    Router::new()
        .route("/images", get(list))
        .route("/images/detail", get(detail))
        .route("/images/{id}", get(show).delete(delete))
        .route(
            "/images/{id}/metadata",
            get(meta_list).post(meta_write).put(meta_write),
        )
        .route(
            "/images/{id}/metadata/{key}",
            get(meta_show).put(meta_put).delete(meta_delete),
        )
}

/// Glance's status as Nova's, with Nova's progress figure.
fn status_of(glance: &str) -> (&'static str, i64) {
    match glance {
        "active" => ("ACTIVE", 100),
        "queued" => ("SAVING", 25),
        "saving" | "uploading" | "importing" => ("SAVING", 50),
        "killed" => ("ERROR", 0),
        "deleted" | "pending_delete" => ("DELETED", 100),
        _ => ("UNKNOWN", 0),
    }
}

fn links(app: &App, id: &str) -> Value {
    let mut l = app.links(&format!("images/{id}"));
    if let Some(a) = l.as_array_mut() {
        a.push(json!({
            "rel": "alternate",
            "type": "application/vnd.openstack.image",
            "href": format!("{}/images/{id}", app.config.image_url.trim_end_matches('/')),
        }));
    }
    l
}

fn brief(app: &App, i: &ProxyImage) -> Value {
    let id = i.record["id"].as_str().unwrap_or_default();
    json!({"id": id, "name": i.record["name"], "links": links(app, id)})
}

fn render(app: &App, i: &ProxyImage) -> Value {
    let r = &i.record;
    let id = r["id"].as_str().unwrap_or_default();
    let (status, progress) = status_of(r["status"].as_str().unwrap_or_default());
    let mut v = json!({
        "id": id,
        "name": r["name"],
        "status": status,
        "progress": progress,
        "minRam": r["min_ram"].as_i64().unwrap_or(0),
        "minDisk": r["min_disk"].as_i64().unwrap_or(0),
        "metadata": i.metadata,
        "created": r["created_at"],
        "updated": r["updated_at"],
        "links": links(app, id),
        "OS-EXT-IMG-SIZE:size": r["size"].as_i64(),
    });
    if let Some(server) = i.metadata.get("instance_uuid") {
        v["server"] = json!({"id": server, "links": app.links(&format!("servers/{server}"))});
    }
    v
}

/// `images_links` when a page is full (its last image is the next marker).
fn list_links(app: &App, q: &ImageListQuery, items: &[ProxyImage], path: &str) -> Option<Value> {
    let n = q.limit?;
    let last = items.last()?;
    if items.len() < n {
        return None;
    }
    let marker = last.record["id"].as_str()?;
    Some(json!([{
        "rel": "next",
        "href": app.self_link(&format!("{path}?limit={n}&marker={marker}")),
    }]))
}

async fn list_with(
    app: &App,
    ctx: &RequestContext,
    mv: Version,
    pairs: &[(String, String)],
    detailed: bool,
) -> Result<Response> {
    proxy_api(mv)?;
    let q = ImageListQuery::parse(pairs)?;
    let items = app.images_list(ctx, &q).await?;
    let rendered: Vec<Value> = items
        .iter()
        .map(|i| {
            if detailed {
                render(app, i)
            } else {
                brief(app, i)
            }
        })
        .collect();
    let mut body = json!({ "images": rendered });
    let path = if detailed { "images/detail" } else { "images" };
    if let Some(l) = list_links(app, &q, &items, path) {
        body["images_links"] = l;
    }
    Ok(ok(body))
}

async fn list(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Response> {
    list_with(&app, &ctx, mv, &q, false).await
}

async fn detail(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Response> {
    list_with(&app, &ctx, mv, &q, true).await
}

async fn show(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path(id): Path<String>,
) -> Result<Response> {
    proxy_api(mv)?;
    let i = app.image_show(&ctx, &id).await?;
    Ok(ok(json!({"image": render(&app, &i)})))
}

async fn delete(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path(id): Path<String>,
) -> Result<Response> {
    proxy_api(mv)?;
    app.image_delete(&ctx, &id).await?;
    Ok(status(StatusCode::NO_CONTENT))
}

async fn meta_list(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path(id): Path<String>,
) -> Result<Response> {
    proxy_api(mv)?;
    let i = app.image_show(&ctx, &id).await?;
    Ok(ok(json!({"metadata": i.metadata})))
}

/// `POST` merges into the metadata, `PUT` replaces it.
async fn meta_write(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    method: axum::http::Method,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    proxy_api(mv)?;
    let mode = if method == axum::http::Method::PUT {
        MetadataWrite::Replace
    } else {
        MetadataWrite::Merge
    };
    let m = app.image_metadata_set(&ctx, &id, &body, mode).await?;
    Ok(ok(json!({ "metadata": m })))
}

async fn meta_show(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path((id, key)): Path<(String, String)>,
) -> Result<Response> {
    proxy_api(mv)?;
    let i = app.image_show(&ctx, &id).await?;
    let v = i
        .metadata
        .get(&key)
        .ok_or_else(|| Error::not_found("The resource could not be found."))?;
    Ok(ok(json!({"meta": {key: v}})))
}

async fn meta_put(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path((id, key)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Result<Response> {
    proxy_api(mv)?;
    let m = app
        .image_metadata_set(&ctx, &id, &body, MetadataWrite::Item(&key))
        .await?;
    Ok(ok(json!({"meta": {&key: m.get(&key)}})))
}

async fn meta_delete(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path((id, key)): Path<(String, String)>,
) -> Result<Response> {
    proxy_api(mv)?;
    app.image_metadata_delete(&ctx, &id, &key).await?;
    Ok(status(StatusCode::NO_CONTENT))
}
