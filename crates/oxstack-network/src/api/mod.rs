//! The Neutron v2.0 HTTP API: routes, request parsing, and rendering with Neutron's list
//! semantics (`fields=`, filters on any attribute, `sort_key`/`sort_dir`, `limit`/`marker`
//! pagination with links). Each handler parses, calls one [`App`] method (which authorizes)
//! and renders.

mod list;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use oxstack_common::context::RequestContext;
use oxstack_common::http::Json;
use oxstack_common::{Error, Result};
use serde_json::{Map, Value, json};

use crate::app::{App, bad, if_match, resource_body};
use crate::store::Kind;

pub(crate) type AppState = State<Arc<App>>;

/// The extensions this service implements: `(alias, name, description)`.
pub const EXTENSIONS: &[(&str, &str, &str)] = &[
    (
        "allowed-address-pairs",
        "Allowed Address Pairs",
        "Provides allowed address pairs",
    ),
    (
        "binding",
        "Port Binding",
        "Expose port bindings of a virtual port to external application",
    ),
    (
        "external-net",
        "Neutron external network",
        "Adds external network attribute to network resource.",
    ),
    (
        "ext-gw-mode",
        "Neutron L3 Configurable external gateway mode",
        "Extension of the router abstraction for specifying whether SNAT should occur on the external gateway",
    ),
    (
        "extra_dhcp_opt",
        "Neutron Extra DHCP options",
        "Extra options configuration for DHCP.",
    ),
    (
        "extraroute",
        "Neutron Extra Route",
        "Extra routes configuration for L3 router",
    ),
    (
        "l2_adjacency",
        "L2 Adjacency",
        "Display L2 Adjacency for Neutron Networks.",
    ),
    (
        "net-mtu",
        "Network MTU",
        "Provides MTU attribute for a network resource.",
    ),
    (
        "net-mtu-writable",
        "Network MTU (writable)",
        "Provides a writable MTU attribute for a network resource.",
    ),
    (
        "network-ip-availability",
        "Network IP Availability",
        "Provides IP availability data for each network and subnet.",
    ),
    (
        "pagination",
        "Pagination support",
        "Extension that indicates that pagination is enabled.",
    ),
    ("port-security", "Port Security", "Provides port security"),
    (
        "project-id",
        "project_id field enabled",
        "Extension that indicates that project_id field is enabled.",
    ),
    (
        "provider",
        "Provider Network",
        "Expose mapping of virtual networks to physical networks",
    ),
    (
        "quotas",
        "Quota management support",
        "Expose functions for quotas management per project",
    ),
    (
        "quota_details",
        "Quota details management support",
        "Expose functions for quotas usage statistics per project",
    ),
    (
        "revision-if-match",
        "If-Match constraints based on revision_number",
        "Extension indicating that If-Match based on revision_number is supported.",
    ),
    (
        "router",
        "Neutron L3 Router",
        "Router abstraction for basic L3 forwarding between L2 Neutron networks and access to external networks via a NAT gateway.",
    ),
    (
        "security-group",
        "security-group",
        "The security groups extension.",
    ),
    (
        "sorting",
        "Sorting support",
        "Extension that indicates that sorting is enabled.",
    ),
    (
        "standard-attr-description",
        "standard-attr-description",
        "Extension to add descriptions to standard attributes",
    ),
    (
        "standard-attr-revisions",
        "Resource revision numbers",
        "This extension will display the revision number of neutron resources.",
    ),
    (
        "standard-attr-tag",
        "Tag support for resources with standard attribute: subnet, trunk, network_segment_range, router, network, policy, subnetpool, port, security_group, floatingip",
        "Enables to set tag on resources with standard attribute.",
    ),
    (
        "standard-attr-timestamp",
        "Resource timestamps",
        "Adds created_at and updated_at fields to all Neutron resources that have Neutron standard attributes.",
    ),
    (
        "stateful-security-group",
        "Stateful security group",
        "Extension adding possibility of using stateful security groups.",
    ),
    (
        "ip-substring-filtering",
        "IP address substring filtering",
        "Provides IP address substring filtering when listing ports",
    ),
    (
        "service-type",
        "Neutron Service Type Management",
        "API for retrieving service providers for Neutron advanced services",
    ),
    (
        "subnet_allocation",
        "Subnet Allocation",
        "Enables allocation of subnets from a subnet pool",
    ),
    ("tag", "Tag support", "Enables to set tag on resources."),
    (
        "dvr",
        "Distributed Virtual Router",
        "Enables configuration of Distributed Virtual Routers.",
    ),
];

/// The collections, as they appear in URLs and bodies: `(collection, member, kind)`.
const COLLECTIONS: &[(&str, &str, Kind)] = &[
    ("networks", "network", Kind::Network),
    ("subnets", "subnet", Kind::Subnet),
    ("subnetpools", "subnetpool", Kind::SubnetPool),
    ("ports", "port", Kind::Port),
    ("routers", "router", Kind::Router),
    ("floatingips", "floatingip", Kind::FloatingIp),
    ("security-groups", "security_group", Kind::SecurityGroup),
    (
        "security-group-rules",
        "security_group_rule",
        Kind::SecurityGroupRule,
    ),
];

fn collection(name: &str) -> Result<(&'static str, &'static str, Kind)> {
    COLLECTIONS
        .iter()
        .find(|c| c.0 == name)
        .copied()
        .ok_or_else(|| Error::not_found("The resource could not be found."))
}

/// The JSON key of a collection (`security_groups` for `security-groups`).
fn plural_key(c: &str) -> String {
    c.replace('-', "_")
}

/// Every Neutron route.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(versions))
        .route("/v2.0", get(resources))
        .route("/v2.0/", get(resources))
        .route("/v2.0/extensions", get(extension_list))
        .route("/v2.0/extensions/{alias}", get(extension_show))
        .route("/v2.0/agents", get(agent_list))
        .route("/v2.0/service-providers", get(service_provider_list))
        .route("/v2.0/quotas", get(quota_list))
        .route(
            "/v2.0/quotas/{project}",
            get(quota_show).put(quota_update).delete(quota_delete),
        )
        .route("/v2.0/quotas/{project}/default", get(quota_default))
        .route("/v2.0/quotas/{project}/details", get(quota_details))
        .route("/v2.0/network-ip-availabilities", get(availability_list))
        .route(
            "/v2.0/network-ip-availabilities/{id}",
            get(availability_show),
        )
        .route(
            "/v2.0/routers/{id}/add_router_interface",
            put(add_interface),
        )
        .route(
            "/v2.0/routers/{id}/remove_router_interface",
            put(remove_interface),
        )
        .route("/v2.0/{collection}", get(list).post(create))
        .route(
            "/v2.0/{collection}/{id}",
            get(show).put(update).delete(delete),
        )
        .route(
            "/v2.0/{collection}/{id}/tags",
            get(tags_show).put(tags_replace).delete(tags_clear),
        )
        .route(
            "/v2.0/{collection}/{id}/tags/{tag}",
            get(tag_check).put(tag_add).delete(tag_remove),
        )
        .with_state(app)
}

fn ok(body: Value) -> Response {
    (StatusCode::OK, axum::Json(body)).into_response()
}

fn created(body: Value) -> Response {
    (StatusCode::CREATED, axum::Json(body)).into_response()
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1:9696");
    format!("http://{host}")
}

/// `GET /`: the version document.
async fn versions(headers: HeaderMap) -> Response {
    let base = base_url(&headers);
    ok(json!({"versions": [{
        "id": "v2.0",
        "status": "CURRENT",
        "links": [{"href": format!("{base}/v2.0/"), "rel": "self"}],
    }]}))
}

/// `GET /v2.0`: the resources of the API.
async fn resources(headers: HeaderMap) -> Response {
    let base = base_url(&headers);
    let res: Vec<Value> = COLLECTIONS
        .iter()
        .map(|(c, m, _)| {
            json!({"name": m, "collection": c, "links": [{"href": format!("{base}/v2.0/{c}"), "rel": "self"}]})
        })
        .collect();
    ok(json!({ "resources": res }))
}

fn extension_view(e: &(&str, &str, &str)) -> Value {
    json!({"alias": e.0, "name": e.1, "description": e.2, "updated": "2013-01-01T10:00:00-00:00", "links": []})
}

async fn extension_list(State(app): AppState, ctx: RequestContext) -> Result<Response> {
    app.caller(&ctx)?;
    let ext: Vec<Value> = EXTENSIONS.iter().map(extension_view).collect();
    Ok(ok(json!({ "extensions": ext })))
}

async fn extension_show(
    State(app): AppState,
    ctx: RequestContext,
    Path(alias): Path<String>,
) -> Result<Response> {
    app.caller(&ctx)?;
    let e = EXTENSIONS
        .iter()
        .find(|e| e.0 == alias)
        .ok_or_else(|| Error::not_found(format!("Extension with alias {alias} does not exist")))?;
    Ok(ok(json!({ "extension": extension_view(e) })))
}

type Params = Query<Vec<(String, String)>>;

async fn list(
    State(app): AppState,
    ctx: RequestContext,
    headers: HeaderMap,
    Path(coll): Path<String>,
    Query(params): Params,
) -> Result<Response> {
    let (name, _, kind) = collection(&coll)?;
    let c = app.caller(&ctx)?;
    let items = app.list(&c, kind, &list::scope(kind, &params)).await?;
    let key = plural_key(name);
    let (items, links) = list::apply(
        items,
        &params,
        &format!("{}/v2.0/{name}", base_url(&headers)),
    )?;
    let mut body = json!({ key.clone(): items });
    if !links.is_empty() {
        body[format!("{key}_links")] = json!(links);
    }
    Ok(ok(body))
}

async fn create(
    State(app): AppState,
    ctx: RequestContext,
    Path(coll): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let (name, member, kind) = collection(&coll)?;
    let c = app.caller(&ctx)?;
    let key = plural_key(name);
    // Bulk create: `{"networks": [...]}`.
    if let Some(items) = body.get(&key).and_then(Value::as_array) {
        let mut out = Vec::new();
        for item in items {
            let m = item
                .get(member)
                .and_then(Value::as_object)
                .or_else(|| item.as_object())
                .ok_or_else(|| bad(format!("Resource body required: '{member}' is missing.")))?;
            out.push(app.create(&c, kind, m).await?);
        }
        return Ok(created(json!({ key: out })));
    }
    let m = resource_body(&body, member)?;
    let v = app.create(&c, kind, m).await?;
    Ok(created(json!({ member: v })))
}

async fn show(
    State(app): AppState,
    ctx: RequestContext,
    Path((coll, id)): Path<(String, String)>,
    Query(params): Params,
) -> Result<Response> {
    let (_, member, kind) = collection(&coll)?;
    let c = app.caller(&ctx)?;
    let v = app.get(&c, kind, &id).await?;
    Ok(ok(json!({ member: list::select_fields(v, &params) })))
}

async fn update(
    State(app): AppState,
    ctx: RequestContext,
    headers: HeaderMap,
    Path((coll, id)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let (_, member, kind) = collection(&coll)?;
    let c = app.caller(&ctx)?;
    let m = resource_body(&body, member)?;
    let expect = if_match(headers.get("if-match").and_then(|h| h.to_str().ok()))?;
    let v = app.update(&c, kind, &id, m, expect).await?;
    Ok(ok(json!({ member: v })))
}

async fn delete(
    State(app): AppState,
    ctx: RequestContext,
    Path((coll, id)): Path<(String, String)>,
) -> Result<Response> {
    let (_, _, kind) = collection(&coll)?;
    let c = app.caller(&ctx)?;
    app.delete(&c, kind, &id).await?;
    Ok(no_content())
}

async fn tags_show(
    State(app): AppState,
    ctx: RequestContext,
    Path((coll, id)): Path<(String, String)>,
) -> Result<Response> {
    let (_, _, kind) = collection(&coll)?;
    let c = app.caller(&ctx)?;
    Ok(ok(json!({"tags": app.tags_get(&c, kind, &id).await?})))
}

async fn tags_replace(
    State(app): AppState,
    ctx: RequestContext,
    Path((coll, id)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let (_, _, kind) = collection(&coll)?;
    let c = app.caller(&ctx)?;
    let tags: Vec<String> = body
        .get("tags")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("Invalid input for tags. Reason: a list of tags is required."))?
        .iter()
        .map(|t| {
            t.as_str()
                .map(str::to_string)
                .ok_or_else(|| bad("Invalid tag"))
        })
        .collect::<Result<_>>()?;
    Ok(ok(
        json!({"tags": app.tags_set(&c, kind, &id, Some(tags), None, None).await?}),
    ))
}

async fn tags_clear(
    State(app): AppState,
    ctx: RequestContext,
    Path((coll, id)): Path<(String, String)>,
) -> Result<Response> {
    let (_, _, kind) = collection(&coll)?;
    let c = app.caller(&ctx)?;
    app.tags_set(&c, kind, &id, Some(vec![]), None, None)
        .await?;
    Ok(no_content())
}

async fn tag_check(
    State(app): AppState,
    ctx: RequestContext,
    Path((coll, id, tag)): Path<(String, String, String)>,
) -> Result<Response> {
    let (_, _, kind) = collection(&coll)?;
    let c = app.caller(&ctx)?;
    app.tag_check(&c, kind, &id, &tag).await?;
    Ok(no_content())
}

async fn tag_add(
    State(app): AppState,
    ctx: RequestContext,
    Path((coll, id, tag)): Path<(String, String, String)>,
) -> Result<Response> {
    let (_, _, kind) = collection(&coll)?;
    let c = app.caller(&ctx)?;
    app.tags_set(&c, kind, &id, None, Some(&tag), None).await?;
    Ok(StatusCode::CREATED.into_response())
}

async fn tag_remove(
    State(app): AppState,
    ctx: RequestContext,
    Path((coll, id, tag)): Path<(String, String, String)>,
) -> Result<Response> {
    let (_, _, kind) = collection(&coll)?;
    let c = app.caller(&ctx)?;
    app.tags_set(&c, kind, &id, None, None, Some(&tag)).await?;
    Ok(no_content())
}

fn interface_body(body: &Value) -> Result<&Map<String, Value>> {
    body.as_object()
        .ok_or_else(|| bad("Bad router request: a body is required."))
}

async fn add_interface(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let c = app.caller(&ctx)?;
    Ok(ok(app
        .router_add_interface(&c, &id, interface_body(&body)?)
        .await?))
}

async fn remove_interface(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let c = app.caller(&ctx)?;
    Ok(ok(app
        .router_remove_interface(&c, &id, interface_body(&body)?)
        .await?))
}

/// `GET /v2.0/agents`: the noop data plane runs no agents.
async fn agent_list(State(app): AppState, ctx: RequestContext) -> Result<Response> {
    app.caller(&ctx)?;
    Ok(ok(json!({"agents": []})))
}

/// `GET /v2.0/service-providers`: no advanced services (LBaaS, VPNaaS) are provided.
async fn service_provider_list(State(app): AppState, ctx: RequestContext) -> Result<Response> {
    app.caller(&ctx)?;
    Ok(ok(json!({"service_providers": []})))
}

async fn quota_list(State(app): AppState, ctx: RequestContext) -> Result<Response> {
    let c = app.caller(&ctx)?;
    Ok(ok(json!({"quotas": app.quota_list(&c).await?})))
}

async fn quota_show(
    State(app): AppState,
    ctx: RequestContext,
    Path(project): Path<String>,
) -> Result<Response> {
    let c = app.caller(&ctx)?;
    Ok(ok(json!({"quota": app.quota_get(&c, &project).await?})))
}

async fn quota_default(
    State(app): AppState,
    ctx: RequestContext,
    Path(project): Path<String>,
) -> Result<Response> {
    let c = app.caller(&ctx)?;
    Ok(ok(
        json!({"quota": app.quota_default_get(&c, &project).await?}),
    ))
}

async fn quota_details(
    State(app): AppState,
    ctx: RequestContext,
    Path(project): Path<String>,
) -> Result<Response> {
    let c = app.caller(&ctx)?;
    Ok(ok(json!({"quota": app.quota_details(&c, &project).await?})))
}

async fn quota_update(
    State(app): AppState,
    ctx: RequestContext,
    Path(project): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let c = app.caller(&ctx)?;
    let m = resource_body(&body, "quota")?;
    Ok(ok(
        json!({"quota": app.quota_update(&c, &project, m).await?}),
    ))
}

async fn quota_delete(
    State(app): AppState,
    ctx: RequestContext,
    Path(project): Path<String>,
) -> Result<Response> {
    let c = app.caller(&ctx)?;
    app.quota_delete(&c, &project).await?;
    Ok(no_content())
}

async fn availability_list(
    State(app): AppState,
    ctx: RequestContext,
    Query(params): Params,
) -> Result<Response> {
    let c = app.caller(&ctx)?;
    let items = app.ip_availabilities(&c).await?;
    let (items, _) = list::apply(items, &params, "")?;
    Ok(ok(json!({"network_ip_availabilities": items})))
}

async fn availability_show(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response> {
    let c = app.caller(&ctx)?;
    let item = app
        .ip_availabilities(&c)
        .await?
        .into_iter()
        .find(|n| n["network_id"] == json!(id))
        .ok_or_else(|| crate::app::not_found_network(&id))?;
    Ok(ok(json!({"network_ip_availability": item})))
}
