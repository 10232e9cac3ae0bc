//! `/flavors`: flavors, extra specs and flavor access.

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

use super::{AppState, member, ok, parse_limit, status};
use crate::app::App;
use crate::app::flavors::FlavorQuery;
use crate::microversion::Version;
use crate::model::Flavor;

pub(super) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/flavors", get(flavor_list).post(flavor_create))
        .route("/flavors/detail", get(flavor_detail))
        .route(
            "/flavors/{id}",
            get(flavor_show).put(flavor_update).delete(flavor_delete),
        )
        .route("/flavors/{id}/action", post(flavor_action))
        .route("/flavors/{id}/os-flavor-access", get(access_list))
        .route(
            "/flavors/{id}/os-extra_specs",
            get(specs_list).post(specs_create),
        )
        .route(
            "/flavors/{id}/os-extra_specs/{key}",
            get(spec_show).put(spec_update).delete(spec_delete),
        )
}

fn view(app: &App, f: &Flavor, mv: Version) -> Value {
    let mut v = json!({
        "id": f.id,
        "name": f.name,
        "ram": f.memory_mb,
        "disk": f.root_gb,
        "vcpus": f.vcpus,
        "swap": if f.swap == 0 { json!("") } else { json!(f.swap) },
        "OS-FLV-EXT-DATA:ephemeral": f.ephemeral_gb,
        "OS-FLV-DISABLED:disabled": f.disabled,
        "os-flavor-access:is_public": f.is_public,
        "rxtx_factor": f.rxtx_factor,
        "links": app.links(&format!("flavors/{}", f.id)),
    });
    if mv.at_least(55) {
        v["description"] = json!(f.description);
    }
    v
}

fn query(q: &HashMap<String, String>, is_admin_hint: bool) -> Result<FlavorQuery> {
    let int = |k: &str| -> Result<Option<i64>> {
        q.get(k)
            .map(|v| {
                v.parse::<i64>()
                    .map_err(|_| Error::bad_request(format!("Invalid {k} filter [{v}]")))
            })
            .transpose()
    };
    // oslo's strict bool_from_string, plus `none` for every flavor.
    let is_public = match q.get("is_public") {
        None => None,
        Some(v) => Some(match v.to_ascii_lowercase().as_str() {
            "none" | "all" => None,
            "false" | "0" | "no" | "off" | "f" | "n" => Some(false),
            "true" | "1" | "yes" | "on" | "t" | "y" => Some(true),
            _ => {
                return Err(Error::bad_request(format!(
                    "Invalid is_public filter [{v}]"
                )));
            }
        }),
    };
    let _ = is_admin_hint;
    Ok(FlavorQuery {
        is_public,
        min_ram: int("minRam")?,
        min_disk: int("minDisk")?,
        sort_key: q.get("sort_key").cloned(),
        sort_dir: q.get("sort_dir").cloned(),
        limit: parse_limit(q.get("limit"))?,
        marker: q.get("marker").cloned(),
    })
}

async fn list(
    app: &App,
    ctx: &RequestContext,
    mv: Version,
    q: HashMap<String, String>,
    detail: bool,
) -> Result<Response> {
    let fq = query(&q, false)?;
    let flavors = app.flavor_list(ctx, &fq).await?;
    let items: Vec<Value> = flavors
        .iter()
        .map(|f| {
            if detail {
                view(app, f, mv)
            } else {
                let mut v = json!({"id": f.id, "name": f.name, "links": app.links(&format!("flavors/{}", f.id))});
                if mv.at_least(55) {
                    v["description"] = json!(f.description);
                }
                v
            }
        })
        .collect();
    let mut body = json!({ "flavors": items });
    if let (Some(l), Some(last)) = (fq.limit, flavors.last())
        && flavors.len() == l
    {
        let path = if detail { "flavors/detail" } else { "flavors" };
        body["flavors_links"] = json!([{"rel": "next", "href": format!("{}?limit={l}&marker={}", app.self_link(path), last.id)}]);
    }
    Ok(ok(body))
}

async fn flavor_list(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    list(&app, &ctx, mv, q, false).await
}

async fn flavor_detail(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    list(&app, &ctx, mv, q, true).await
}

async fn flavor_create(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Json(body): Json<Value>,
) -> Result<Response> {
    let m = member(&body, "flavor")?;
    let f = app.flavor_create(&ctx, &m, mv.at_least(55)).await?;
    Ok(ok(json!({"flavor": view(&app, &f, mv)})))
}

async fn flavor_show(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path(id): Path<String>,
) -> Result<Response> {
    let f = app.flavor_show(&ctx, &id).await?;
    Ok(ok(json!({"flavor": view(&app, &f, mv)})))
}

async fn flavor_update(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    if !mv.at_least(55) {
        return Err(Error::new(
            oxstack_common::error::ErrorKind::MethodNotAllowed,
            "The method is not allowed for the requested URL.",
        ));
    }
    let m = member(&body, "flavor")?;
    let f = app.flavor_update(&ctx, &id, &m).await?;
    Ok(ok(json!({"flavor": view(&app, &f, mv)})))
}

async fn flavor_delete(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response> {
    app.flavor_delete(&ctx, &id).await?;
    Ok(status(StatusCode::ACCEPTED))
}

fn access_view(id: &str, projects: &[String]) -> Value {
    json!({"flavor_access": projects.iter().map(|p| json!({"flavor_id": id, "tenant_id": p})).collect::<Vec<_>>()})
}

async fn access_list(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response> {
    let p = app.flavor_access_list(&ctx, &id).await?;
    Ok(ok(access_view(&id, &p)))
}

async fn flavor_action(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let (add, arg) = match (body.get("addTenantAccess"), body.get("removeTenantAccess")) {
        (Some(a), None) => (true, a),
        (None, Some(r)) => (false, r),
        _ => return Err(Error::bad_request("Invalid action")),
    };
    let tenant = arg
        .get("tenant")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty() && t.len() <= 255)
        .ok_or_else(|| {
            Error::bad_request(
                "Invalid input for field/attribute tenant. 'tenant' is a required property",
            )
        })?;
    let p = app.flavor_access_change(&ctx, &id, tenant, add).await?;
    Ok(ok(access_view(&id, &p)))
}

async fn specs_list(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response> {
    Ok(ok(
        json!({"extra_specs": app.flavor_extra_specs(&ctx, &id).await?}),
    ))
}

async fn specs_create(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let m = member(&body, "extra_specs")?;
    let s = app.flavor_extra_specs_set(&ctx, &id, &m, None).await?;
    Ok(ok(json!({ "extra_specs": s })))
}

async fn spec_show(
    State(app): AppState,
    ctx: RequestContext,
    Path((id, key)): Path<(String, String)>,
) -> Result<Response> {
    let (k, v) = app.flavor_extra_spec_show(&ctx, &id, &key).await?;
    Ok(ok(json!({ k: v })))
}

async fn spec_update(
    State(app): AppState,
    ctx: RequestContext,
    Path((id, key)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let m = body
        .as_object()
        .cloned()
        .ok_or_else(|| Error::bad_request("Malformed request body"))?;
    let s = app
        .flavor_extra_specs_set(&ctx, &id, &m, Some(&key))
        .await?;
    Ok(ok(json!(s)))
}

async fn spec_delete(
    State(app): AppState,
    ctx: RequestContext,
    Path((id, key)): Path<(String, String)>,
) -> Result<Response> {
    app.flavor_extra_spec_delete(&ctx, &id, &key).await?;
    Ok(status(StatusCode::OK))
}
