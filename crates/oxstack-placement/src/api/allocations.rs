//! `/allocations`, `/resource_providers/{uuid}/allocations`, `/usages` (1.9),
//! `/allocation_candidates` (1.10) and `/reshaper` (1.30, not supported).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use oxstack_common::context::RequestContext;
use oxstack_common::error::ErrorKind;
use oxstack_common::http::Json;
use oxstack_common::{Error, Result};
use serde_json::{Map, Value, json};

use super::{AppState, no_content, ok, since};
use crate::app::App;
use crate::app::candidates::Candidates;
use crate::microversion::Version;

pub(super) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/allocations", post(allocations_post))
        .route(
            "/allocations/{consumer}",
            get(allocations_show)
                .put(allocations_put)
                .delete(allocations_delete),
        )
        .route(
            "/resource_providers/{uuid}/allocations",
            get(provider_allocations),
        )
        .route("/usages", get(usages))
        .route("/allocation_candidates", get(candidates))
        .route("/reshaper", post(reshaper))
}

async fn allocations_show(
    State(app): AppState,
    ctx: RequestContext,
    v: Version,
    Path(consumer): Path<String>,
) -> Result<Response> {
    let shown = app.allocations_show(&ctx, &consumer).await?;
    let mut by_provider: BTreeMap<&str, (i64, Map<String, Value>)> = BTreeMap::new();
    for (a, generation) in &shown.allocations {
        by_provider
            .entry(a.provider_uuid.as_str())
            .or_insert_with(|| (*generation, Map::new()))
            .1
            .insert(a.resource_class.clone(), json!(a.used));
    }
    let allocations: Map<String, Value> = by_provider
        .into_iter()
        .map(|(p, (g, r))| (p.to_string(), json!({"generation": g, "resources": r})))
        .collect();
    let mut out = json!({ "allocations": allocations });
    if let Some(c) = &shown.consumer
        && !shown.allocations.is_empty()
    {
        if v.at_least(12) {
            out["project_id"] = json!(c.project_id);
            out["user_id"] = json!(c.user_id);
        }
        if v.at_least(28) {
            out["consumer_generation"] = json!(c.generation);
        }
    }
    Ok(ok(out))
}

async fn allocations_put(
    State(app): AppState,
    ctx: RequestContext,
    v: Version,
    Path(consumer): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    app.allocations_put(&ctx, v, &consumer, &body).await?;
    Ok(no_content())
}

async fn allocations_post(
    State(app): AppState,
    ctx: RequestContext,
    v: Version,
    Json(body): Json<Value>,
) -> Result<Response> {
    since(v, 13)?;
    app.allocations_post(&ctx, v, &body).await?;
    Ok(no_content())
}

async fn allocations_delete(
    State(app): AppState,
    ctx: RequestContext,
    Path(consumer): Path<String>,
) -> Result<Response> {
    app.allocations_delete(&ctx, &consumer).await?;
    Ok(no_content())
}

async fn provider_allocations(
    State(app): AppState,
    ctx: RequestContext,
    Path(uuid): Path<String>,
) -> Result<Response> {
    let (generation, allocs) = app.provider_allocations(&ctx, &uuid).await?;
    let mut by_consumer: BTreeMap<&str, Map<String, Value>> = BTreeMap::new();
    for a in &allocs {
        by_consumer
            .entry(a.consumer_uuid.as_str())
            .or_default()
            .insert(a.resource_class.clone(), json!(a.used));
    }
    let allocations: Map<String, Value> = by_consumer
        .into_iter()
        .map(|(c, r)| (c.to_string(), json!({"resources": r})))
        .collect();
    Ok(ok(
        json!({"allocations": allocations, "resource_provider_generation": generation}),
    ))
}

async fn usages(
    State(app): AppState,
    ctx: RequestContext,
    v: Version,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Response> {
    since(v, 9)?;
    let usages = app.usages(&ctx, &q).await?;
    Ok(ok(json!({ "usages": usages })))
}

async fn candidates(
    State(app): AppState,
    ctx: RequestContext,
    v: Version,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Response> {
    since(v, 10)?;
    // Authorization before the query is judged, so callers without rights learn nothing.
    app.authorize_any(&ctx, "placement:allocation_candidates:list")?;
    let req = app.candidate_request(v, &q).await?;
    let found = app.candidates(&ctx, v, &req).await?;
    Ok(ok(candidates_json(v, &found)))
}

fn candidates_json(v: Version, c: &Candidates) -> Value {
    let requests: Vec<Value> = c
        .candidates
        .iter()
        .map(|cand| {
            let mut r = if v.at_least(12) {
                let a: Map<String, Value> = cand
                    .allocations
                    .iter()
                    .map(|(p, res)| (p.clone(), json!({ "resources": res })))
                    .collect();
                json!({ "allocations": a })
            } else {
                let a: Vec<Value> = cand
                    .allocations
                    .iter()
                    .map(|(p, res)| json!({"resource_provider": {"uuid": p}, "resources": res}))
                    .collect();
                json!({ "allocations": a })
            };
            if v.at_least(34) {
                r["mappings"] = json!(cand.mappings);
            }
            r
        })
        .collect();
    let summaries: Map<String, Value> = c
        .summaries
        .iter()
        .map(|s| {
            let resources: Map<String, Value> = s
                .resources
                .iter()
                .map(|(rc, (cap, used))| (rc.clone(), json!({"capacity": cap, "used": used})))
                .collect();
            let mut out = json!({ "resources": resources });
            if v.at_least(17) {
                out["traits"] = json!(s.traits);
            }
            if v.at_least(29) {
                out["parent_provider_uuid"] = json!(s.provider.parent_uuid);
                out["root_provider_uuid"] = json!(s.provider.root_uuid);
            }
            (s.provider.uuid.clone(), out)
        })
        .collect();
    json!({"allocation_requests": requests, "provider_summaries": summaries})
}

/// `POST /reshaper` (1.30): not implemented (no oxstack driver reshapes its inventory).
async fn reshaper(State(app): AppState, ctx: RequestContext, v: Version) -> Result<Response> {
    since(v, 30)?;
    app.authorize_any(&ctx, "placement:reshaper:reshape")?;
    Err(Error::new(
        ErrorKind::NotImplemented,
        "POST /reshaper is not implemented by this placement service.",
    ))
}
