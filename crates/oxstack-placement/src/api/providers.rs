//! `/resource_providers` and what hangs off a provider: inventories, traits, aggregates,
//! usages.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use oxstack_common::Result;
use oxstack_common::context::RequestContext;
use oxstack_common::http::Json;
use serde_json::{Map, Value, json};

use super::{
    AppState, created_at, json_response, no_content, ok, provider_url, provider_view, since,
    with_location,
};
use crate::app::{App, InventoriesView};
use crate::microversion::Version;
use crate::model::Inventory;

pub(super) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route(
            "/resource_providers",
            get(provider_list).post(provider_create),
        )
        .route(
            "/resource_providers/{uuid}",
            get(provider_show)
                .put(provider_update)
                .delete(provider_delete),
        )
        .route(
            "/resource_providers/{uuid}/inventories",
            get(inventory_list)
                .put(inventory_replace)
                .post(inventory_create)
                .delete(inventory_delete_all),
        )
        .route(
            "/resource_providers/{uuid}/inventories/{rc}",
            get(inventory_show)
                .put(inventory_update)
                .delete(inventory_delete),
        )
        .route(
            "/resource_providers/{uuid}/traits",
            get(traits_list).put(traits_set).delete(traits_delete),
        )
        .route(
            "/resource_providers/{uuid}/aggregates",
            get(aggregates_list).put(aggregates_set),
        )
        .route("/resource_providers/{uuid}/usages", get(usages))
}

type Pairs = Query<Vec<(String, String)>>;

async fn provider_list(
    State(app): AppState,
    ctx: RequestContext,
    v: Version,
    Query(q): Pairs,
) -> Result<Response> {
    let query = app.provider_query(v, &q).await?;
    let ps = app.provider_list(&ctx, &query).await?;
    let views: Vec<Value> = ps.iter().map(|p| provider_view(v, p)).collect();
    Ok(ok(json!({ "resource_providers": views })))
}

async fn provider_create(
    State(app): AppState,
    ctx: RequestContext,
    v: Version,
    Json(body): Json<Value>,
) -> Result<Response> {
    let p = app.provider_create(&ctx, v, &body).await?;
    let url = provider_url(&p.uuid);
    Ok(if v.at_least(20) {
        with_location(ok(provider_view(v, &p)), &url)
    } else {
        created_at(&url)
    })
}

async fn provider_show(
    State(app): AppState,
    ctx: RequestContext,
    v: Version,
    Path(uuid): Path<String>,
) -> Result<Response> {
    let p = app.provider_show(&ctx, &uuid).await?;
    Ok(ok(provider_view(v, &p)))
}

async fn provider_update(
    State(app): AppState,
    ctx: RequestContext,
    v: Version,
    Path(uuid): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let p = app.provider_update(&ctx, v, &uuid, &body).await?;
    Ok(ok(provider_view(v, &p)))
}

async fn provider_delete(
    State(app): AppState,
    ctx: RequestContext,
    Path(uuid): Path<String>,
) -> Result<Response> {
    app.provider_delete(&ctx, &uuid).await?;
    Ok(no_content())
}

fn inventory_json(i: &Inventory) -> Map<String, Value> {
    let v = json!({
        "total": i.total,
        "reserved": i.reserved,
        "min_unit": i.min_unit,
        "max_unit": i.max_unit,
        "step_size": i.step_size,
        "allocation_ratio": i.allocation_ratio,
    });
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn inventories_json(view: &InventoriesView) -> Value {
    let invs: Map<String, Value> = view
        .inventories
        .iter()
        .map(|i| (i.resource_class.clone(), Value::Object(inventory_json(i))))
        .collect();
    json!({"inventories": invs, "resource_provider_generation": view.generation})
}

fn one_inventory_json(generation: i64, i: &Inventory) -> Value {
    let mut m = inventory_json(i);
    m.insert("resource_class".into(), json!(i.resource_class));
    m.insert("resource_provider_generation".into(), json!(generation));
    Value::Object(m)
}

async fn inventory_list(
    State(app): AppState,
    ctx: RequestContext,
    Path(uuid): Path<String>,
) -> Result<Response> {
    let view = app.inventory_list(&ctx, &uuid).await?;
    Ok(ok(inventories_json(&view)))
}

async fn inventory_replace(
    State(app): AppState,
    ctx: RequestContext,
    v: Version,
    Path(uuid): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let view = app.inventory_replace(&ctx, v, &uuid, &body).await?;
    Ok(ok(inventories_json(&view)))
}

async fn inventory_create(
    State(app): AppState,
    ctx: RequestContext,
    v: Version,
    Path(uuid): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let (generation, inv) = app.inventory_create(&ctx, v, &uuid, &body).await?;
    let url = format!("{}/inventories/{}", provider_url(&uuid), inv.resource_class);
    Ok(with_location(
        json_response(StatusCode::CREATED, one_inventory_json(generation, &inv)),
        &url,
    ))
}

async fn inventory_delete_all(
    State(app): AppState,
    ctx: RequestContext,
    v: Version,
    Path(uuid): Path<String>,
) -> Result<Response> {
    since(v, 5)?;
    app.inventory_delete_all(&ctx, &uuid).await?;
    Ok(no_content())
}

async fn inventory_show(
    State(app): AppState,
    ctx: RequestContext,
    Path((uuid, rc)): Path<(String, String)>,
) -> Result<Response> {
    let (generation, inv) = app.inventory_show(&ctx, &uuid, &rc).await?;
    Ok(ok(one_inventory_json(generation, &inv)))
}

async fn inventory_update(
    State(app): AppState,
    ctx: RequestContext,
    v: Version,
    Path((uuid, rc)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let (generation, inv) = app.inventory_update(&ctx, v, &uuid, &rc, &body).await?;
    Ok(ok(one_inventory_json(generation, &inv)))
}

async fn inventory_delete(
    State(app): AppState,
    ctx: RequestContext,
    Path((uuid, rc)): Path<(String, String)>,
) -> Result<Response> {
    app.inventory_delete(&ctx, &uuid, &rc).await?;
    Ok(no_content())
}

async fn traits_list(
    State(app): AppState,
    ctx: RequestContext,
    v: Version,
    Path(uuid): Path<String>,
) -> Result<Response> {
    since(v, 6)?;
    let (generation, traits) = app.provider_traits(&ctx, &uuid).await?;
    Ok(ok(
        json!({"traits": traits, "resource_provider_generation": generation}),
    ))
}

async fn traits_set(
    State(app): AppState,
    ctx: RequestContext,
    v: Version,
    Path(uuid): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    since(v, 6)?;
    let (generation, traits) = app.provider_traits_set(&ctx, &uuid, &body).await?;
    Ok(ok(
        json!({"traits": traits, "resource_provider_generation": generation}),
    ))
}

async fn traits_delete(
    State(app): AppState,
    ctx: RequestContext,
    v: Version,
    Path(uuid): Path<String>,
) -> Result<Response> {
    since(v, 6)?;
    app.provider_traits_delete(&ctx, &uuid).await?;
    Ok(no_content())
}

fn aggregates_json(v: Version, view: &crate::app::AggregatesView) -> Value {
    let mut out = json!({"aggregates": view.aggregates});
    if v.at_least(19) {
        out["resource_provider_generation"] = json!(view.generation);
    }
    out
}

async fn aggregates_list(
    State(app): AppState,
    ctx: RequestContext,
    v: Version,
    Path(uuid): Path<String>,
) -> Result<Response> {
    since(v, 1)?;
    let view = app.provider_aggregates(&ctx, &uuid).await?;
    Ok(ok(aggregates_json(v, &view)))
}

async fn aggregates_set(
    State(app): AppState,
    ctx: RequestContext,
    v: Version,
    Path(uuid): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    since(v, 1)?;
    let view = app.provider_aggregates_set(&ctx, v, &uuid, &body).await?;
    Ok(ok(aggregates_json(v, &view)))
}

async fn usages(
    State(app): AppState,
    ctx: RequestContext,
    Path(uuid): Path<String>,
) -> Result<Response> {
    let (generation, usages) = app.provider_usages(&ctx, &uuid).await?;
    Ok(ok(
        json!({"usages": usages, "resource_provider_generation": generation}),
    ))
}
