//! `/v2/metadefs/*`: namespaces, their objects, properties, tags and resource type
//! associations, and the resource types.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use oxstack_common::Result;
use oxstack_common::context::RequestContext;
use serde_json::{Map, Value, json};

use super::{AppState, json_body, no_content, query_pairs};
use crate::app::{App, NamespaceDetail, NamespaceListParams, namespace_spec};
use crate::store::MetadefKind;

pub(super) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/v2/metadefs/resource_types", get(resource_type_list))
        .route(
            "/v2/metadefs/namespaces",
            get(namespace_list).post(namespace_create),
        )
        .route(
            "/v2/metadefs/namespaces/{ns}",
            get(namespace_show)
                .put(namespace_update)
                .delete(namespace_delete),
        )
        .route(
            "/v2/metadefs/namespaces/{ns}/objects",
            get(object_list).post(object_create).delete(objects_clear),
        )
        .route(
            "/v2/metadefs/namespaces/{ns}/objects/{name}",
            get(object_show).put(object_update).delete(object_delete),
        )
        .route(
            "/v2/metadefs/namespaces/{ns}/properties",
            get(property_list)
                .post(property_create)
                .delete(properties_clear),
        )
        .route(
            "/v2/metadefs/namespaces/{ns}/properties/{name}",
            get(property_show)
                .put(property_update)
                .delete(property_delete),
        )
        .route(
            "/v2/metadefs/namespaces/{ns}/tags",
            get(tag_list).post(tags_create).delete(tags_clear),
        )
        .route(
            "/v2/metadefs/namespaces/{ns}/tags/{name}",
            get(tag_show)
                .post(tag_create)
                .put(tag_update)
                .delete(tag_delete),
        )
        .route(
            "/v2/metadefs/namespaces/{ns}/resource_types",
            get(association_list).post(association_create),
        )
        .route(
            "/v2/metadefs/namespaces/{ns}/resource_types/{name}",
            delete(association_delete),
        )
}

fn created(body: Value, location: Option<String>) -> Response {
    let mut resp = (StatusCode::CREATED, axum::Json(body)).into_response();
    if let Some(v) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

fn ok(body: Value) -> Response {
    axum::Json(body).into_response()
}

/// The last value of query parameter `key`.
fn param(pairs: &[(String, String)], key: &str) -> Option<String> {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
}

fn detail_view(d: &NamespaceDetail) -> Value {
    let mut m = App::namespace_view(&d.ns);
    if !d.associations.is_empty() {
        m.insert(
            "resource_type_associations".into(),
            d.associations.iter().map(App::association_view).collect(),
        );
    }
    if !d.properties.is_empty() {
        let props: Map<String, Value> = d
            .properties
            .iter()
            .map(|p| (p.name.clone(), Value::Object(p.schema.clone())))
            .collect();
        m.insert("properties".into(), Value::Object(props));
    }
    if !d.objects.is_empty() {
        m.insert(
            "objects".into(),
            d.objects
                .iter()
                .map(|o| App::object_view(&d.ns.namespace, o))
                .collect(),
        );
    }
    if !d.tags.is_empty() {
        m.insert(
            "tags".into(),
            d.tags.iter().map(|t| json!({"name": t.name})).collect(),
        );
    }
    Value::Object(m)
}

async fn namespace_create(
    State(app): AppState,
    ctx: RequestContext,
    req: Request,
) -> Result<Response> {
    // 401 before any complaint about the body.
    app.caller(&ctx)?;
    let body = json_body(req, &app).await?;
    let spec = namespace_spec(&body)?;
    let d = app.namespace_create(&ctx, spec).await?;
    let location = format!("/v2/metadefs/namespaces/{}", d.ns.namespace);
    Ok(created(detail_view(&d), Some(location)))
}

async fn namespace_list(
    State(app): AppState,
    ctx: RequestContext,
    RawQuery(raw): RawQuery,
) -> Result<Response> {
    let pairs = query_pairs(raw.as_deref());
    let limit = match param(&pairs, "limit") {
        None => None,
        Some(l) => {
            let n: i64 = l.parse().map_err(|_| {
                oxstack_common::Error::bad_request("limit param must be an integer")
            })?;
            if n < 0 {
                return Err(oxstack_common::Error::bad_request(
                    "limit param must be positive",
                ));
            }
            Some(usize::try_from(n).unwrap_or(usize::MAX))
        }
    };
    let params = NamespaceListParams {
        limit,
        marker: param(&pairs, "marker"),
        sort_key: param(&pairs, "sort_key"),
        sort_dir: param(&pairs, "sort_dir"),
        visibility: param(&pairs, "visibility"),
        resource_types: param(&pairs, "resource_types"),
    };
    let (page, next) = app.namespace_list(&ctx, &params).await?;
    let namespaces: Vec<Value> = page
        .iter()
        .map(|(ns, assoc)| {
            let mut m = App::namespace_view(ns);
            if !assoc.is_empty() {
                m.insert(
                    "resource_type_associations".into(),
                    assoc.iter().map(App::association_view).collect(),
                );
            }
            Value::Object(m)
        })
        .collect();
    // Links as Glance builds them: the query as given, without the marker for `first`.
    let kept: Vec<(String, String)> = pairs.into_iter().filter(|(k, _)| k != "marker").collect();
    let encode = |p: &[(String, String)]| {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(p)
            .finish()
    };
    let mut body = json!({
        "namespaces": namespaces,
        "first": if kept.is_empty() { "/v2/metadefs/namespaces".to_string() } else { format!("/v2/metadefs/namespaces?{}", encode(&kept)) },
        "schema": "/v2/schemas/metadefs/namespaces",
    });
    if let Some(marker) = next {
        let mut with_marker = kept;
        with_marker.push(("marker".into(), marker));
        body["next"] = json!(format!("/v2/metadefs/namespaces?{}", encode(&with_marker)));
    }
    Ok(ok(body))
}

async fn namespace_show(
    State(app): AppState,
    ctx: RequestContext,
    Path(ns): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response> {
    let pairs = query_pairs(raw.as_deref());
    let rt = param(&pairs, "resource_type");
    let d = app.namespace_show(&ctx, &ns, rt.as_deref()).await?;
    Ok(ok(detail_view(&d)))
}

async fn namespace_update(
    State(app): AppState,
    ctx: RequestContext,
    Path(ns): Path<String>,
    req: Request,
) -> Result<Response> {
    // 401 before any complaint about the body.
    app.caller(&ctx)?;
    let body = json_body(req, &app).await?;
    let spec = namespace_spec(&body)?;
    let updated = app.namespace_update(&ctx, &ns, spec).await?;
    Ok(ok(Value::Object(App::namespace_view(&updated))))
}

async fn namespace_delete(
    State(app): AppState,
    ctx: RequestContext,
    Path(ns): Path<String>,
) -> Result<Response> {
    app.namespace_delete(&ctx, &ns).await?;
    Ok(no_content())
}

async fn objects_clear(
    State(app): AppState,
    ctx: RequestContext,
    Path(ns): Path<String>,
) -> Result<Response> {
    app.namespace_clear(&ctx, &ns, MetadefKind::Object).await?;
    Ok(no_content())
}

async fn properties_clear(
    State(app): AppState,
    ctx: RequestContext,
    Path(ns): Path<String>,
) -> Result<Response> {
    app.namespace_clear(&ctx, &ns, MetadefKind::Property)
        .await?;
    Ok(no_content())
}

async fn tags_clear(
    State(app): AppState,
    ctx: RequestContext,
    Path(ns): Path<String>,
) -> Result<Response> {
    app.namespace_clear(&ctx, &ns, MetadefKind::Tag).await?;
    Ok(no_content())
}

// --- objects

async fn object_create(
    State(app): AppState,
    ctx: RequestContext,
    Path(ns): Path<String>,
    req: Request,
) -> Result<Response> {
    let body = json_body(req, &app).await?;
    let o = app.object_create(&ctx, &ns, &body).await?;
    Ok(created(App::object_view(&ns, &o), None))
}

async fn object_list(
    State(app): AppState,
    ctx: RequestContext,
    Path(ns): Path<String>,
) -> Result<Response> {
    let objects = app.object_list(&ctx, &ns).await?;
    Ok(ok(json!({
        "objects": objects.iter().map(|o| App::object_view(&ns, o)).collect::<Vec<_>>(),
        // Glance's value, without the leading slash.
        "schema": "v2/schemas/metadefs/objects",
    })))
}

async fn object_show(
    State(app): AppState,
    ctx: RequestContext,
    Path((ns, name)): Path<(String, String)>,
) -> Result<Response> {
    let o = app.object_show(&ctx, &ns, &name).await?;
    Ok(ok(App::object_view(&ns, &o)))
}

async fn object_update(
    State(app): AppState,
    ctx: RequestContext,
    Path((ns, name)): Path<(String, String)>,
    req: Request,
) -> Result<Response> {
    let body = json_body(req, &app).await?;
    let o = app.object_update(&ctx, &ns, &name, &body).await?;
    Ok(ok(App::object_view(&ns, &o)))
}

async fn object_delete(
    State(app): AppState,
    ctx: RequestContext,
    Path((ns, name)): Path<(String, String)>,
) -> Result<Response> {
    app.object_delete(&ctx, &ns, &name).await?;
    Ok(no_content())
}

// --- properties

async fn property_create(
    State(app): AppState,
    ctx: RequestContext,
    Path(ns): Path<String>,
    req: Request,
) -> Result<Response> {
    let body = json_body(req, &app).await?;
    let p = app.property_create(&ctx, &ns, &body).await?;
    Ok(created(App::property_view(&p), None))
}

async fn property_list(
    State(app): AppState,
    ctx: RequestContext,
    Path(ns): Path<String>,
) -> Result<Response> {
    let props = app.property_list(&ctx, &ns).await?;
    let m: Map<String, Value> = props
        .into_iter()
        .map(|p| (p.name, Value::Object(p.schema)))
        .collect();
    Ok(ok(json!({"properties": m})))
}

async fn property_show(
    State(app): AppState,
    ctx: RequestContext,
    Path((ns, name)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Response> {
    let pairs = query_pairs(raw.as_deref());
    let rt = param(&pairs, "resource_type");
    let p = app.property_show(&ctx, &ns, &name, rt.as_deref()).await?;
    Ok(ok(App::property_view(&p)))
}

async fn property_update(
    State(app): AppState,
    ctx: RequestContext,
    Path((ns, name)): Path<(String, String)>,
    req: Request,
) -> Result<Response> {
    let body = json_body(req, &app).await?;
    let p = app.property_update(&ctx, &ns, &name, &body).await?;
    Ok(ok(App::property_view(&p)))
}

async fn property_delete(
    State(app): AppState,
    ctx: RequestContext,
    Path((ns, name)): Path<(String, String)>,
) -> Result<Response> {
    app.property_delete(&ctx, &ns, &name).await?;
    Ok(no_content())
}

// --- tags

async fn tag_create(
    State(app): AppState,
    ctx: RequestContext,
    Path((ns, name)): Path<(String, String)>,
) -> Result<Response> {
    let t = app.tag_create(&ctx, &ns, &name).await?;
    Ok(created(App::tag_view(&t), None))
}

/// `X-Openstack-Append` as oslo's `bool_from_string` reads it.
fn append_header(headers: &HeaderMap) -> bool {
    headers
        .get("x-openstack-append")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase())
        .is_some_and(|v| matches!(v.as_str(), "1" | "t" | "true" | "on" | "y" | "yes"))
}

async fn tags_create(
    State(app): AppState,
    ctx: RequestContext,
    Path(ns): Path<String>,
    req: Request,
) -> Result<Response> {
    let append = append_header(req.headers());
    let body = json_body(req, &app).await?;
    let tags = app.tags_create(&ctx, &ns, &body, append).await?;
    Ok(created(
        json!({"tags": tags.iter().map(|t| json!({"name": t.name})).collect::<Vec<_>>()}),
        None,
    ))
}

async fn tag_list(
    State(app): AppState,
    ctx: RequestContext,
    Path(ns): Path<String>,
) -> Result<Response> {
    let tags = app.tag_list(&ctx, &ns).await?;
    Ok(ok(
        json!({"tags": tags.iter().map(|t| json!({"name": t.name})).collect::<Vec<_>>()}),
    ))
}

async fn tag_show(
    State(app): AppState,
    ctx: RequestContext,
    Path((ns, name)): Path<(String, String)>,
) -> Result<Response> {
    let t = app.tag_show(&ctx, &ns, &name).await?;
    Ok(ok(App::tag_view(&t)))
}

async fn tag_update(
    State(app): AppState,
    ctx: RequestContext,
    Path((ns, name)): Path<(String, String)>,
    req: Request,
) -> Result<Response> {
    let body = json_body(req, &app).await?;
    let t = app.tag_update(&ctx, &ns, &name, &body).await?;
    Ok(ok(App::tag_view(&t)))
}

async fn tag_delete(
    State(app): AppState,
    ctx: RequestContext,
    Path((ns, name)): Path<(String, String)>,
) -> Result<Response> {
    app.tag_delete(&ctx, &ns, &name).await?;
    Ok(no_content())
}

// --- resource types

async fn resource_type_list(State(app): AppState, ctx: RequestContext) -> Result<Response> {
    let types = app.resource_type_list(&ctx).await?;
    Ok(ok(json!({"resource_types": types
        .iter()
        .map(|t| json!({
            "name": t.name,
            "created_at": crate::app::isotime(t.created_at),
            "updated_at": crate::app::isotime(t.updated_at),
        }))
        .collect::<Vec<_>>()})))
}

async fn association_create(
    State(app): AppState,
    ctx: RequestContext,
    Path(ns): Path<String>,
    req: Request,
) -> Result<Response> {
    let body = json_body(req, &app).await?;
    let a = app.association_create(&ctx, &ns, &body).await?;
    Ok(created(App::association_view(&a), None))
}

async fn association_list(
    State(app): AppState,
    ctx: RequestContext,
    Path(ns): Path<String>,
) -> Result<Response> {
    let list = app.association_list(&ctx, &ns).await?;
    Ok(ok(json!({
        "resource_type_associations": list.iter().map(App::association_view).collect::<Vec<_>>(),
    })))
}

async fn association_delete(
    State(app): AppState,
    ctx: RequestContext,
    Path((ns, name)): Path<(String, String)>,
) -> Result<Response> {
    app.association_delete(&ctx, &ns, &name).await?;
    Ok(no_content())
}
