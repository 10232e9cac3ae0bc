//! `/snapshots`: snapshots, their actions and metadata.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use oxstack_common::context::RequestContext;
use oxstack_common::http::Json;
use oxstack_common::{Error, Result};
use serde_json::{Value, json};

use super::{
    AppState, all_tenants, member, next_link, ok, opt_string, opt_time, parse_bool, parse_limit,
    parse_meta, parse_sort, query_meta, status, time, with_status,
};
use crate::app::{App, Caller, SnapshotCreate, SnapshotQuery};
use crate::microversion::Version;
use crate::model::Snapshot;

pub(super) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/snapshots", get(snapshot_list).post(snapshot_create))
        .route("/snapshots/detail", get(snapshot_detail))
        .route(
            "/snapshots/{id}",
            get(snapshot_show)
                .put(snapshot_update)
                .delete(snapshot_delete),
        )
        .route("/snapshots/{id}/action", post(snapshot_action))
        .route(
            "/snapshots/{id}/metadata",
            get(metadata_show)
                .post(metadata_create)
                .put(metadata_replace),
        )
        .route(
            "/snapshots/{id}/metadata/{key}",
            get(metadata_item_show)
                .put(metadata_item_update)
                .delete(metadata_item_delete),
        )
}

fn base_view(s: &Snapshot, mv: Version) -> Value {
    let mut v = json!({
        "id": s.id,
        "volume_id": s.volume_id,
        "name": s.name,
        "description": s.description,
        "size": s.size,
        "status": s.status,
        "metadata": s.metadata,
        "created_at": time(s.created_at),
        "updated_at": opt_time(s.updated_at),
    });
    if mv.at_least(14) {
        v["group_snapshot_id"] = Value::Null;
    }
    if mv.at_least(41) {
        v["user_id"] = json!(s.user_id);
    }
    v
}

fn detail_view(app: &App, c: &Caller<'_>, s: &Snapshot, mv: Version) -> Value {
    let mut v = base_view(s, mv);
    if app.can(c, "volume_extension:extended_snapshot_attributes") {
        v["os-extended-snapshot-attributes:progress"] = json!(s.progress);
        v["os-extended-snapshot-attributes:project_id"] = json!(s.project_id);
    }
    v
}

async fn snapshot_create(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Json(body): Json<Value>,
) -> Result<Response> {
    let c = app.caller(&ctx)?;
    let m = member(&body, "snapshot")?;
    let volume_id = match m.get("volume_id") {
        Some(Value::String(s)) => s.clone(),
        // Cinder looks a null volume up and does not find it.
        Some(Value::Null) => return Err(Error::not_found("Volume None could not be found.")),
        _ => {
            return Err(Error::bad_request(
                "Invalid input for field/attribute snapshot. 'volume_id' is a required property",
            ));
        }
    };
    let name = match opt_string(&m, "name", 255)? {
        Some(n) => n,
        None => opt_string(&m, "display_name", 255)?.flatten(),
    };
    let description = match opt_string(&m, "description", 255)? {
        Some(d) => d,
        None => opt_string(&m, "display_description", 255)?.flatten(),
    };
    let force = m
        .get("force")
        .map(|v| parse_bool(v, "force"))
        .transpose()?
        .unwrap_or(false);
    let s = app
        .snapshot_create(
            &c,
            SnapshotCreate {
                volume_id,
                name,
                description,
                force,
                metadata: parse_meta(m.get("metadata"), "metadata")?,
            },
        )
        .await?;
    Ok(with_status(
        StatusCode::ACCEPTED,
        json!({"snapshot": base_view(&s, mv)}),
    ))
}

async fn list(
    app: &App,
    ctx: &RequestContext,
    mv: Version,
    project: &str,
    q: HashMap<String, String>,
    detail: bool,
) -> Result<Response> {
    let c = app.caller(ctx)?;
    let sq = SnapshotQuery {
        all_tenants: all_tenants(&q)?,
        name: q.get("name").or(q.get("display_name")).cloned(),
        status: q.get("status").cloned(),
        volume_id: q.get("volume_id").cloned(),
        metadata: query_meta(&q, "metadata")?,
        sort: parse_sort(&q)?,
        limit: parse_limit(q.get("limit"))?,
        offset: parse_limit(q.get("offset"))?.unwrap_or(0),
        marker: q.get("marker").cloned(),
    };
    let snaps = app.snapshot_list(&c, &sq).await?;
    let items: Vec<Value> = snaps
        .iter()
        .map(|s| {
            if detail {
                detail_view(app, &c, s, mv)
            } else {
                base_view(s, mv)
            }
        })
        .collect();
    let mut body = json!({ "snapshots": items });
    let path = if detail {
        "snapshots/detail"
    } else {
        "snapshots"
    };
    if let Some(l) = next_link(
        app,
        project,
        path,
        sq.limit,
        snaps.len(),
        snaps.last().map(|s| s.id.as_str()),
    ) {
        body["snapshots_links"] = l;
    }
    Ok(ok(body))
}

async fn snapshot_list(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path(project): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    list(&app, &ctx, mv, &project, q, false).await
}

async fn snapshot_detail(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path(project): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    list(&app, &ctx, mv, &project, q, true).await
}

async fn snapshot_show(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path((_project, id)): Path<(String, String)>,
) -> Result<Response> {
    let c = app.caller(&ctx)?;
    let s = app.snapshot_get(&c, &id).await?;
    Ok(ok(json!({"snapshot": detail_view(&app, &c, &s, mv)})))
}

async fn snapshot_update(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path((_project, id)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let c = app.caller(&ctx)?;
    let m = member(&body, "snapshot")?;
    let name = match opt_string(&m, "name", 255)? {
        Some(n) => Some(n),
        None => opt_string(&m, "display_name", 255)?,
    };
    let description = match opt_string(&m, "description", 255)? {
        Some(d) => Some(d),
        None => opt_string(&m, "display_description", 255)?,
    };
    let s = app.snapshot_update(&c, &id, name, description).await?;
    Ok(ok(json!({"snapshot": base_view(&s, mv)})))
}

async fn snapshot_delete(
    State(app): AppState,
    ctx: RequestContext,
    Path((_project, id)): Path<(String, String)>,
) -> Result<Response> {
    let c = app.caller(&ctx)?;
    app.snapshot_delete(&c, &id, false).await?;
    Ok(status(StatusCode::ACCEPTED))
}

async fn snapshot_action(
    State(app): AppState,
    ctx: RequestContext,
    Path((_project, id)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let c = app.caller(&ctx)?;
    let Some((action, arg)) = body.as_object().and_then(|o| o.iter().next()) else {
        return Err(Error::bad_request("Invalid request body: no action given."));
    };
    match action.as_str() {
        "os-reset_status" | "os-update_snapshot_status" => {
            let st = arg.get("status").and_then(Value::as_str).ok_or_else(|| {
                Error::bad_request("Invalid input received: 'status' is required.")
            })?;
            app.snapshot_reset_status(&c, &id, st).await?;
        }
        "os-force_delete" => app.snapshot_delete(&c, &id, true).await?,
        other => {
            return Err(Error::bad_request(format!(
                "There is no such action: {other}"
            )));
        }
    }
    Ok(status(StatusCode::ACCEPTED))
}

async fn metadata_show(
    State(app): AppState,
    ctx: RequestContext,
    Path((_project, id)): Path<(String, String)>,
) -> Result<Response> {
    let c = app.caller(&ctx)?;
    let m = app.snapshot_metadata_get(&c, &id).await?;
    Ok(ok(json!({ "metadata": m })))
}

async fn metadata_write(
    app: &Arc<App>,
    ctx: &RequestContext,
    id: &str,
    body: &Value,
    replace: bool,
) -> Result<Response> {
    let c = app.caller(ctx)?;
    let meta = match body.get("metadata") {
        Some(v @ Value::Object(_)) => parse_meta(Some(v), "metadata")?,
        _ => {
            return Err(Error::bad_request(
                "Malformed request body: 'metadata' is required.",
            ));
        }
    };
    let m = app.snapshot_metadata_set(&c, id, meta, replace).await?;
    Ok(ok(json!({ "metadata": m })))
}

async fn metadata_create(
    State(app): AppState,
    ctx: RequestContext,
    Path((_project, id)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Result<Response> {
    metadata_write(&app, &ctx, &id, &body, false).await
}

async fn metadata_replace(
    State(app): AppState,
    ctx: RequestContext,
    Path((_project, id)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Result<Response> {
    metadata_write(&app, &ctx, &id, &body, true).await
}

async fn metadata_item_show(
    State(app): AppState,
    ctx: RequestContext,
    Path((_project, id, key)): Path<(String, String, String)>,
) -> Result<Response> {
    let c = app.caller(&ctx)?;
    let m = app.snapshot_metadata_get(&c, &id).await?;
    match m.get(&key) {
        Some(v) => Ok(ok(json!({"meta": {key: v}}))),
        None => Err(Error::not_found(format!(
            "Snapshot {id} has no metadata with key {key}."
        ))),
    }
}

async fn metadata_item_update(
    State(app): AppState,
    ctx: RequestContext,
    Path((_project, id, key)): Path<(String, String, String)>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let c = app.caller(&ctx)?;
    let meta = parse_meta(body.get("meta"), "meta")?;
    if meta.len() != 1 {
        return Err(Error::bad_request("Request body contains too many items."));
    }
    if !meta.contains_key(&key) {
        return Err(Error::bad_request("Request body and URI mismatch"));
    }
    app.snapshot_metadata_set(&c, &id, meta.clone(), false)
        .await?;
    Ok(ok(json!({ "meta": meta })))
}

async fn metadata_item_delete(
    State(app): AppState,
    ctx: RequestContext,
    Path((_project, id, key)): Path<(String, String, String)>,
) -> Result<Response> {
    let c = app.caller(&ctx)?;
    app.snapshot_metadata_delete(&c, &id, &key).await?;
    Ok(status(StatusCode::OK))
}
