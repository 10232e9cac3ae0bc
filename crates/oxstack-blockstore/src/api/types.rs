//! `/types`: volume types, extra specs and type access.

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

use super::{AppState, member, ok, opt_string, parse_bool, parse_meta, status};
use crate::app::{App, Caller};
use crate::model::{Meta, VolumeType};

pub(super) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/types", get(type_list).post(type_create))
        .route(
            "/types/{id}",
            get(type_show).put(type_update).delete(type_delete),
        )
        .route("/types/{id}/action", post(type_action))
        .route("/types/{id}/os-volume-type-access", get(access_list))
        .route(
            "/types/{id}/extra_specs",
            get(specs_list).post(specs_create),
        )
        .route(
            "/types/{id}/extra_specs/{key}",
            get(spec_show).put(spec_update).delete(spec_delete),
        )
}

/// `access_attr`: whether `os-volume-type-access:is_public` is shown (not on update).
fn view(app: &App, c: &Caller<'_>, t: &VolumeType, access_attr: bool) -> Value {
    let mut v = json!({
        "id": t.id,
        "name": t.name,
        "description": t.description,
        "is_public": t.is_public,
    });
    if access_attr {
        v["os-volume-type-access:is_public"] = json!(t.is_public);
    }
    if app.can(c, "volume_extension:access_types_extra_specs") {
        v["extra_specs"] = json!(t.extra_specs);
    }
    if access_attr && app.can(c, "volume_extension:access_types_qos_specs_id") {
        v["qos_specs_id"] = Value::Null;
    }
    v
}

async fn type_list(
    State(app): AppState,
    ctx: RequestContext,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let c = app.caller(&ctx)?;
    let is_public = match q.get("is_public").map(|s| s.to_ascii_lowercase()) {
        None => Some(true),
        Some(s) if s == "none" => None,
        Some(s) => Some(parse_bool(&Value::String(s), "is_public")?),
    };
    let types = app.type_list(&c, is_public).await?;
    let items: Vec<Value> = types.iter().map(|t| view(&app, &c, t, true)).collect();
    Ok(ok(json!({ "volume_types": items })))
}

async fn type_show(
    State(app): AppState,
    ctx: RequestContext,
    Path((_project, id)): Path<(String, String)>,
) -> Result<Response> {
    let c = app.caller(&ctx)?;
    let t = app.type_get(&c, &id).await?;
    Ok(ok(json!({"volume_type": view(&app, &c, &t, true)})))
}

async fn type_create(
    State(app): AppState,
    ctx: RequestContext,
    Json(body): Json<Value>,
) -> Result<Response> {
    let c = app.caller(&ctx)?;
    let m = member(&body, "volume_type")?;
    let name = match opt_string(&m, "name", 255)?.flatten() {
        Some(n) if !n.trim().is_empty() => n,
        _ => {
            return Err(Error::bad_request(
                "Invalid input for field/attribute name. 'name' is a required property",
            ));
        }
    };
    let description = opt_string(&m, "description", 255)?.flatten();
    let is_public = m
        .get("os-volume-type-access:is_public")
        .or(m.get("is_public"))
        .map(|v| parse_bool(v, "is_public"))
        .transpose()?
        .unwrap_or(true);
    let specs = parse_meta(m.get("extra_specs"), "extra_specs")?;
    let t = app
        .type_create(&c, name, description, is_public, specs)
        .await?;
    let mut v = view(&app, &c, &t, true);
    v["extra_specs"] = json!(t.extra_specs);
    if let Some(o) = v.as_object_mut() {
        o.remove("qos_specs_id");
    }
    Ok(ok(json!({ "volume_type": v })))
}

async fn type_update(
    State(app): AppState,
    ctx: RequestContext,
    Path((_project, id)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let c = app.caller(&ctx)?;
    let m = member(&body, "volume_type")?;
    let name = match opt_string(&m, "name", 255)? {
        Some(Some(n)) if n.trim().is_empty() => {
            return Err(Error::bad_request(
                "Invalid input received: Volume type name can not be empty.",
            ));
        }
        Some(n) => n,
        None => None,
    };
    let description = opt_string(&m, "description", 255)?;
    let is_public = m
        .get("is_public")
        .map(|v| parse_bool(v, "is_public"))
        .transpose()?;
    if name.is_none() && description.is_none() && is_public.is_none() {
        return Err(Error::bad_request(
            "Invalid input received: Specify volume type name, description, is_public or a combination thereof.",
        ));
    }
    let t = app
        .type_update(&c, &id, name, description, is_public)
        .await?;
    let mut v = view(&app, &c, &t, false);
    v["extra_specs"] = json!(t.extra_specs);
    Ok(ok(json!({ "volume_type": v })))
}

async fn type_delete(
    State(app): AppState,
    ctx: RequestContext,
    Path((_project, id)): Path<(String, String)>,
) -> Result<Response> {
    let c = app.caller(&ctx)?;
    app.type_delete(&c, &id).await?;
    Ok(status(StatusCode::ACCEPTED))
}

async fn type_action(
    State(app): AppState,
    ctx: RequestContext,
    Path((_project, id)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let c = app.caller(&ctx)?;
    let (add, arg) = match (
        body.get("addProjectAccess"),
        body.get("removeProjectAccess"),
    ) {
        (Some(a), _) => (true, a),
        (None, Some(r)) => (false, r),
        _ => return Err(Error::bad_request("Invalid request body: unknown action.")),
    };
    let project = arg
        .get("project")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::bad_request("Access list not available for public volume types."))?;
    app.type_access_change(&c, &id, project, add).await?;
    Ok(status(StatusCode::ACCEPTED))
}

async fn access_list(
    State(app): AppState,
    ctx: RequestContext,
    Path((_project, id)): Path<(String, String)>,
) -> Result<Response> {
    let c = app.caller(&ctx)?;
    let projects = app.type_access_list(&c, &id).await?;
    let items: Vec<Value> = projects
        .iter()
        .map(|p| json!({"volume_type_id": id, "project_id": p}))
        .collect();
    Ok(ok(json!({ "volume_type_access": items })))
}

async fn specs_list(
    State(app): AppState,
    ctx: RequestContext,
    Path((_project, id)): Path<(String, String)>,
) -> Result<Response> {
    let c = app.caller(&ctx)?;
    let specs = app.type_specs_get(&c, &id).await?;
    Ok(ok(json!({ "extra_specs": specs })))
}

async fn specs_create(
    State(app): AppState,
    ctx: RequestContext,
    Path((_project, id)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let c = app.caller(&ctx)?;
    let specs = match body.get("extra_specs") {
        Some(v @ Value::Object(_)) => parse_meta(Some(v), "extra_specs")?,
        _ => {
            return Err(Error::bad_request(
                "Malformed request body: 'extra_specs' is required.",
            ));
        }
    };
    app.type_specs_set(
        &c,
        &id,
        specs.clone(),
        "volume_extension:types_extra_specs:create",
    )
    .await?;
    Ok(ok(json!({ "extra_specs": specs })))
}

async fn spec_show(
    State(app): AppState,
    ctx: RequestContext,
    Path((_project, id, key)): Path<(String, String, String)>,
) -> Result<Response> {
    let c = app.caller(&ctx)?;
    let specs = app.type_specs_get(&c, &id).await?;
    match specs.get(&key) {
        Some(v) => Ok(ok(json!({ key: v }))),
        None => Err(Error::not_found(format!(
            "Volume Type {id} has no extra specs with key {key}."
        ))),
    }
}

async fn spec_update(
    State(app): AppState,
    ctx: RequestContext,
    Path((_project, id, key)): Path<(String, String, String)>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let c = app.caller(&ctx)?;
    let specs: Meta = parse_meta(Some(&body), "extra_specs")?;
    if specs.len() != 1 {
        return Err(Error::bad_request("Request body contains too many items."));
    }
    if !specs.contains_key(&key) {
        return Err(Error::bad_request("Request body and URI mismatch"));
    }
    app.type_specs_set(
        &c,
        &id,
        specs.clone(),
        "volume_extension:types_extra_specs:update",
    )
    .await?;
    Ok(ok(json!(specs)))
}

async fn spec_delete(
    State(app): AppState,
    ctx: RequestContext,
    Path((_project, id, key)): Path<(String, String, String)>,
) -> Result<Response> {
    let c = app.caller(&ctx)?;
    app.type_spec_delete(&c, &id, &key).await?;
    Ok(status(StatusCode::ACCEPTED))
}
