//! Keypairs, limits, quota sets and classes, availability zones, services, hypervisors and
//! server groups.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use oxstack_common::context::RequestContext;
use oxstack_common::http::Json;
use oxstack_common::{Error, Result};
use serde_json::{Map, Value, json};

use super::{AppState, member, naive, ok, parse_limit, status, with_status};
use crate::app::admin::{Hypervisor, ServiceState, valid_group_policy};
use crate::app::keypairs::KeypairCreate;
use crate::app::{App, QUOTA_RESOURCES, QuotaUsage};
use crate::microversion::Version;
use crate::model::{Keypair, ServerGroup};

pub(super) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/os-keypairs", get(keypair_list).post(keypair_create))
        .route(
            "/os-keypairs/{name}",
            get(keypair_show).delete(keypair_delete),
        )
        .route("/limits", get(limits))
        .route(
            "/os-quota-sets/{project}",
            get(quota_show).put(quota_update).delete(quota_delete),
        )
        .route("/os-quota-sets/{project}/defaults", get(quota_defaults))
        .route("/os-quota-sets/{project}/detail", get(quota_detail))
        .route(
            "/os-quota-class-sets/{class}",
            get(quota_class_show).put(quota_class_update),
        )
        .route("/os-availability-zone", get(az_list))
        .route("/os-availability-zone/detail", get(az_detail))
        .route("/os-services", get(service_list))
        .route(
            "/os-services/{id}",
            axum::routing::put(service_update).delete(service_delete),
        )
        .route("/os-hypervisors", get(hypervisor_list))
        .route("/os-hypervisors/detail", get(hypervisor_detail))
        .route("/os-hypervisors/statistics", get(hypervisor_stats))
        .route("/os-hypervisors/{id}", get(hypervisor_show))
        .route("/os-hypervisors/{id}/uptime", get(hypervisor_uptime))
        .route("/os-hypervisors/{pattern}/search", get(hypervisor_search))
        .route("/os-hypervisors/{pattern}/servers", get(hypervisor_servers))
        .route("/os-server-groups", get(group_list).post(group_create))
        .route(
            "/os-server-groups/{id}",
            get(group_show).delete(group_delete),
        )
}

// --- keypairs --------------------------------------------------------------------------

fn keypair_view(k: &Keypair, mv: Version, full: bool) -> Value {
    let mut v = json!({"name": k.name, "public_key": k.public_key, "fingerprint": k.fingerprint});
    if mv.at_least(2) {
        v["type"] = json!(k.key_type);
    }
    if full {
        v["user_id"] = json!(k.user_id);
        v["id"] = json!(k.id);
        v["created_at"] = json!(naive(k.created_at));
        v["updated_at"] = json!(null);
        v["deleted_at"] = json!(null);
        v["deleted"] = json!(false);
    }
    v
}

fn user_param(q: &HashMap<String, String>, mv: Version) -> Option<String> {
    q.get("user_id").filter(|_| mv.at_least(10)).cloned()
}

async fn keypair_list(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let (limit, marker) = if mv.at_least(35) {
        (parse_limit(q.get("limit"))?, q.get("marker").cloned())
    } else {
        (None, None)
    };
    let user = user_param(&q, mv);
    let ks = app
        .keypair_list(&ctx, user.as_deref(), limit, marker.as_deref())
        .await?;
    let mut body = json!({"keypairs": ks.iter().map(|k| json!({"keypair": keypair_view(k, mv, false)})).collect::<Vec<_>>()});
    if let (Some(l), Some(last)) = (limit, ks.last())
        && ks.len() == l
    {
        let mut href = format!(
            "{}?limit={l}&marker={}",
            app.self_link("os-keypairs"),
            last.name
        );
        if let Some(u) = &user {
            href.push_str(&format!("&user_id={u}"));
        }
        body["keypairs_links"] = json!([{"rel": "next", "href": href}]);
    }
    Ok(ok(body))
}

async fn keypair_create(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Json(body): Json<Value>,
) -> Result<Response> {
    let m = member(&body, "keypair")?;
    let name = match m.get("name") {
        Some(Value::String(s)) => s.clone(),
        _ => {
            return Err(Error::bad_request(
                "Invalid input for field/attribute keypair. 'name' is a required property",
            ));
        }
    };
    let key_type = match m.get("type") {
        Some(Value::String(t)) if mv.at_least(2) && (t == "ssh" || t == "x509") => t.clone(),
        Some(v) if mv.at_least(2) => {
            return Err(Error::bad_request(format!(
                "Invalid input for field/attribute type. Value: {v}. '{v}' is not one of ['ssh', 'x509']"
            )));
        }
        Some(_) => {
            return Err(Error::bad_request(
                "Additional properties are not allowed ('type' was unexpected)",
            ));
        }
        None => "ssh".into(),
    };
    let public_key = match m.get("public_key") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(v) => {
            return Err(Error::bad_request(format!(
                "Invalid input for field/attribute public_key. Value: {v}"
            )));
        }
    };
    let user_id = m
        .get("user_id")
        .and_then(Value::as_str)
        .filter(|_| mv.at_least(10))
        .map(str::to_string);
    let created = app
        .keypair_create(
            &ctx,
            KeypairCreate {
                name,
                key_type,
                public_key,
                user_id,
            },
        )
        .await?;
    let mut v = keypair_view(&created.keypair, mv, false);
    v["user_id"] = json!(created.keypair.user_id);
    if let Some(p) = created.private_key {
        v["private_key"] = json!(p);
    }
    // Nova answers 201 from 2.2 on, 200 before.
    let code = if mv.at_least(2) {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(with_status(code, json!({"keypair": v})))
}

async fn keypair_show(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let k = app
        .keypair_show(&ctx, &name, user_param(&q, mv).as_deref())
        .await?;
    Ok(ok(json!({"keypair": keypair_view(&k, mv, true)})))
}

async fn keypair_delete(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    app.keypair_delete(&ctx, &name, user_param(&q, mv).as_deref())
        .await?;
    Ok(status(if mv.at_least(2) {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::ACCEPTED
    }))
}

// --- limits and quotas -----------------------------------------------------------------

async fn limits(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let u = app
        .limits(&ctx, q.get("tenant_id").map(String::as_str))
        .await?;
    let get = |k: &str| {
        u.get(k).copied().unwrap_or(QuotaUsage {
            limit: -1,
            in_use: 0,
        })
    };
    let mut a = json!({
        "maxServerMeta": get("metadata_items").limit,
        "maxTotalInstances": get("instances").limit,
        "maxTotalCores": get("cores").limit,
        "maxTotalRAMSize": get("ram").limit,
        "maxTotalKeypairs": get("key_pairs").limit,
        "maxServerGroups": get("server_groups").limit,
        "maxServerGroupMembers": get("server_group_members").limit,
        "totalInstancesUsed": get("instances").in_use,
        "totalCoresUsed": get("cores").in_use,
        "totalRAMUsed": get("ram").in_use,
        "totalServerGroupsUsed": get("server_groups").in_use,
    });
    if !mv.at_least(36) {
        a["maxSecurityGroups"] = json!(get("security_groups").limit);
        a["maxSecurityGroupRules"] = json!(get("security_group_rules").limit);
        a["maxTotalFloatingIps"] = json!(get("floating_ips").limit);
        a["totalFloatingIpsUsed"] = json!(0);
        a["totalSecurityGroupsUsed"] = json!(0);
    }
    if !mv.at_least(39) {
        a["maxImageMeta"] = json!(get("metadata_items").limit);
    }
    if !mv.at_least(57) {
        a["maxPersonality"] = json!(get("injected_files").limit);
        a["maxPersonalitySize"] = json!(get("injected_file_content_bytes").limit);
    }
    Ok(ok(json!({"limits": {"rate": [], "absolute": a}})))
}

/// The quota resources a microversion shows in quota sets.
fn quota_keys(mv: Version) -> Vec<&'static str> {
    QUOTA_RESOURCES
        .iter()
        .filter(|(_, last)| last.is_none_or(|l| mv.0 <= l))
        .map(|(r, _)| *r)
        .collect()
}

/// Quota classes: server groups only from 2.50, network ones only before it.
fn class_keys(mv: Version) -> Vec<&'static str> {
    quota_keys(mv)
        .into_iter()
        .filter(|k| {
            if mv.at_least(50) {
                !matches!(
                    *k,
                    "fixed_ips" | "floating_ips" | "security_groups" | "security_group_rules"
                )
            } else {
                !matches!(*k, "server_groups" | "server_group_members")
            }
        })
        .collect()
}

fn limits_view(limits: &BTreeMap<String, i64>, keys: &[&str]) -> Map<String, Value> {
    keys.iter()
        .map(|k| (k.to_string(), json!(limits.get(*k).copied().unwrap_or(-1))))
        .collect()
}

async fn quota_show(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path(p): Path<String>,
) -> Result<Response> {
    let u = app.quota_show(&ctx, &p, false).await?;
    let limits: BTreeMap<String, i64> = u.iter().map(|(k, v)| (k.clone(), v.limit)).collect();
    let mut v = limits_view(&limits, &quota_keys(mv));
    v.insert("id".into(), json!(p));
    Ok(ok(json!({ "quota_set": v })))
}

async fn quota_detail(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path(p): Path<String>,
) -> Result<Response> {
    let u = app.quota_show(&ctx, &p, true).await?;
    let mut v: Map<String, Value> = quota_keys(mv)
        .iter()
        .map(|k| {
            let q = u.get(*k).copied().unwrap_or(QuotaUsage {
                limit: -1,
                in_use: 0,
            });
            (
                k.to_string(),
                json!({"limit": q.limit, "in_use": q.in_use, "reserved": 0}),
            )
        })
        .collect();
    v.insert("id".into(), json!(p));
    Ok(ok(json!({ "quota_set": v })))
}

async fn quota_defaults(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path(p): Path<String>,
) -> Result<Response> {
    let d = app.quota_defaults_show(&ctx, &p).await?;
    let mut v = limits_view(&d, &quota_keys(mv));
    v.insert("id".into(), json!(p));
    Ok(ok(json!({ "quota_set": v })))
}

async fn quota_update(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path(p): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let m = member(&body, "quota_set")?;
    let keys = quota_keys(mv);
    let limits = app.quota_update(&ctx, &p, &m, &keys).await?;
    Ok(ok(json!({"quota_set": limits_view(&limits, &keys)})))
}

async fn quota_delete(
    State(app): AppState,
    ctx: RequestContext,
    Path(p): Path<String>,
) -> Result<Response> {
    app.quota_delete(&ctx, &p).await?;
    Ok(status(StatusCode::ACCEPTED))
}

async fn quota_class_show(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path(c): Path<String>,
) -> Result<Response> {
    let l = app.quota_class_show(&ctx, &c).await?;
    let mut v = limits_view(&l, &class_keys(mv));
    v.insert("id".into(), json!(c));
    Ok(ok(json!({ "quota_class_set": v })))
}

async fn quota_class_update(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path(c): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let m = member(&body, "quota_class_set")?;
    let keys = class_keys(mv);
    let l = app.quota_class_update(&ctx, &c, &m, &keys).await?;
    Ok(ok(json!({"quota_class_set": limits_view(&l, &keys)})))
}

// --- availability zones ----------------------------------------------------------------

async fn az_list(State(app): AppState, ctx: RequestContext) -> Result<Response> {
    let (zone, services) = app.availability_zones(&ctx, false).await?;
    let available = services.iter().any(|s| s.up && !s.service.disabled);
    Ok(ok(
        json!({"availabilityZoneInfo": [{"zoneName": zone, "zoneState": {"available": available}, "hosts": null}]}),
    ))
}

async fn az_detail(State(app): AppState, ctx: RequestContext) -> Result<Response> {
    let (zone, services) = app.availability_zones(&ctx, true).await?;
    let mut hosts = Map::new();
    for s in &services {
        let entry = hosts
            .entry(s.service.host.clone())
            .or_insert_with(|| json!({}));
        entry[&s.service.binary] = json!({
            "available": s.up,
            "active": !s.service.disabled,
            "updated_at": s.service.updated_at.map(naive),
        });
    }
    let available = services.iter().any(|s| s.up && !s.service.disabled);
    Ok(ok(
        json!({"availabilityZoneInfo": [{"zoneName": zone, "zoneState": {"available": available}, "hosts": hosts}]}),
    ))
}

// --- services --------------------------------------------------------------------------

fn service_view(s: &ServiceState, zone: &str, mv: Version) -> Value {
    let mut v = json!({
        "id": if mv.at_least(53) { json!(s.service.uuid) } else { json!(s.service.id) },
        "binary": s.service.binary,
        "host": s.service.host,
        "zone": if s.service.binary == crate::agent::BINARY { zone } else { "internal" },
        "status": if s.service.disabled { "disabled" } else { "enabled" },
        "state": if s.up { "up" } else { "down" },
        "updated_at": s.service.updated_at.map(naive),
        "disabled_reason": s.service.disabled_reason,
    });
    if mv.at_least(11) {
        v["forced_down"] = json!(s.service.forced_down);
    }
    v
}

async fn service_list(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let s = app
        .service_list(
            &ctx,
            q.get("host").map(String::as_str),
            q.get("binary").map(String::as_str),
        )
        .await?;
    let zone = app.config.default_availability_zone.clone();
    Ok(ok(
        json!({"services": s.iter().map(|s| service_view(s, &zone, mv)).collect::<Vec<_>>()}),
    ))
}

async fn service_update(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let zone = app.config.default_availability_zone.clone();
    if mv.at_least(53) {
        let m = body.as_object().cloned().unwrap_or_default();
        let status_v = m.get("status").and_then(Value::as_str);
        let reason = m
            .get("disabled_reason")
            .and_then(Value::as_str)
            .map(str::to_string);
        let disabled = match status_v {
            Some("enabled") => Some((false, None)),
            Some("disabled") => Some((true, reason.clone())),
            Some(other) => {
                return Err(Error::bad_request(format!(
                    "Invalid input for field/attribute status. Value: {other}"
                )));
            }
            None if reason.is_some() => {
                return Err(Error::bad_request(
                    "Specifying 'disabled_reason' with status 'enabled' is invalid.",
                ));
            }
            None => None,
        };
        if matches!(status_v, Some("enabled")) && reason.is_some() {
            return Err(Error::bad_request(
                "Specifying 'disabled_reason' with status 'enabled' is invalid.",
            ));
        }
        let forced = m.get("forced_down").and_then(Value::as_bool);
        if disabled.is_none() && forced.is_none() {
            return Err(Error::bad_request(
                "At least one of 'status' or 'forced_down' must be specified in the request body.",
            ));
        }
        let s = app
            .service_update(&ctx, Some(&id), None, disabled, forced)
            .await?;
        return Ok(ok(json!({"service": service_view(&s, &zone, mv)})));
    }
    // Before 2.53: PUT /os-services/{enable,disable,disable-log-reason,force-down}.
    let host = body
        .get("host")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let binary = body
        .get("binary")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if host.is_empty() || binary.is_empty() {
        return Err(Error::bad_request(
            "Invalid input: 'host' and 'binary' are required properties",
        ));
    }
    let hb = Some((host.as_str(), binary.as_str()));
    let s = match id.as_str() {
        "enable" => {
            app.service_update(&ctx, None, hb, Some((false, None)), None)
                .await?
        }
        "disable" => {
            app.service_update(&ctx, None, hb, Some((true, None)), None)
                .await?
        }
        "disable-log-reason" => {
            let r = body
                .get("disabled_reason")
                .and_then(Value::as_str)
                .filter(|r| !r.is_empty() && r.len() <= 255)
                .ok_or_else(|| Error::bad_request("Missing disabled reason field"))?;
            app.service_update(&ctx, None, hb, Some((true, Some(r.to_string()))), None)
                .await?
        }
        "force-down" if mv.at_least(11) => {
            let f = body
                .get("forced_down")
                .and_then(Value::as_bool)
                .ok_or_else(|| {
                    Error::bad_request("Invalid input for field/attribute forced_down.")
                })?;
            let s = app.service_update(&ctx, None, hb, None, Some(f)).await?;
            return Ok(ok(
                json!({"service": {"host": s.service.host, "binary": s.service.binary, "forced_down": s.service.forced_down}}),
            ));
        }
        other => return Err(Error::not_found(format!("Unknown action {other}"))),
    };
    let mut v = json!({"host": s.service.host, "binary": s.service.binary, "status": if s.service.disabled { "disabled" } else { "enabled" }});
    if id == "disable-log-reason" {
        v["disabled_reason"] = json!(s.service.disabled_reason);
    }
    Ok(ok(json!({ "service": v })))
}

async fn service_delete(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response> {
    app.service_delete(&ctx, &id).await?;
    Ok(status(StatusCode::NO_CONTENT))
}

// --- hypervisors -----------------------------------------------------------------------

fn hyp_id(h: &Hypervisor, mv: Version) -> Value {
    if mv.at_least(53) {
        json!(h.node.uuid)
    } else {
        json!(h.node.id)
    }
}

fn hyp_basic(h: &Hypervisor, mv: Version) -> Value {
    let mut v = json!({
        "id": hyp_id(h, mv),
        "hypervisor_hostname": h.node.hypervisor_hostname,
        "state": if h.service.up { "up" } else { "down" },
        "status": if h.service.service.disabled { "disabled" } else { "enabled" },
    });
    if mv.at_least(53) && !h.servers.is_empty() {
        v["servers"] = json!(
            h.servers
                .iter()
                .map(|i| json!({"uuid": i.uuid, "name": i.instance_name()}))
                .collect::<Vec<_>>()
        );
    }
    v
}

fn hyp_detail(h: &Hypervisor, mv: Version) -> Value {
    let used = |k: &str| h.usage.get(k).copied().unwrap_or(0);
    let mut v = hyp_basic(h, mv);
    let cpu_info = serde_json::from_str::<Value>(&h.node.cpu_info)
        .ok()
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({"arch": "x86_64", "model": "fake", "vendor": "oxstack", "features": [], "topology": {"cores": 1, "threads": 1, "sockets": h.node.vcpus}}));
    let extra = json!({
        "cpu_info": if mv.at_least(28) { cpu_info } else { json!(cpu_info.to_string()) },
        "current_workload": 0,
        "disk_available_least": h.node.local_gb - used("DISK_GB"),
        "free_disk_gb": h.node.local_gb - used("DISK_GB"),
        "free_ram_mb": h.node.memory_mb - used("MEMORY_MB"),
        "host_ip": h.node.host_ip,
        "hypervisor_type": h.node.hypervisor_type,
        "hypervisor_version": h.node.hypervisor_version,
        "local_gb": h.node.local_gb,
        "local_gb_used": used("DISK_GB"),
        "memory_mb": h.node.memory_mb,
        "memory_mb_used": used("MEMORY_MB"),
        "running_vms": h.running_vms,
        "vcpus": h.node.vcpus,
        "vcpus_used": used("VCPU"),
        "service": {
            "host": h.service.service.host,
            "id": if mv.at_least(53) { json!(h.service.service.uuid) } else { json!(h.service.service.id) },
            "disabled_reason": h.service.service.disabled_reason,
        },
    });
    if let (Value::Object(a), Value::Object(b)) = (&mut v, extra) {
        a.extend(b);
    }
    v
}

fn page(
    mut hs: Vec<Hypervisor>,
    q: &HashMap<String, String>,
    mv: Version,
) -> Result<Vec<Hypervisor>> {
    if mv.at_least(33) {
        if let Some(m) = q.get("marker") {
            let pos = hs
                .iter()
                .position(|h| h.node.uuid == *m || h.node.id.to_string() == *m)
                .ok_or_else(|| Error::bad_request(format!("marker [{m}] not found")))?;
            hs.drain(..=pos);
        }
        if let Some(l) = parse_limit(q.get("limit"))? {
            hs.truncate(l);
        }
    }
    if mv.at_least(53)
        && let Some(p) = q.get("hypervisor_hostname_pattern")
    {
        hs.retain(|h| h.node.hypervisor_hostname.contains(p.as_str()));
        if hs.is_empty() {
            return Err(Error::not_found(format!(
                "No hypervisor matching '{p}' could be found."
            )));
        }
    }
    Ok(hs)
}

fn with_servers(q: &HashMap<String, String>, mv: Version) -> bool {
    mv.at_least(53)
        && q.get("with_servers")
            .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes" | "on"))
}

async fn hypervisor_list(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let hs = app
        .hypervisor_list(
            &ctx,
            "os_compute_api:os-hypervisors:list",
            with_servers(&q, mv),
        )
        .await?;
    let hs = page(hs, &q, mv)?;
    Ok(ok(
        json!({"hypervisors": hs.iter().map(|h| hyp_basic(h, mv)).collect::<Vec<_>>()}),
    ))
}

async fn hypervisor_detail(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let hs = app
        .hypervisor_list(
            &ctx,
            "os_compute_api:os-hypervisors:list-detail",
            with_servers(&q, mv),
        )
        .await?;
    let hs = page(hs, &q, mv)?;
    Ok(ok(
        json!({"hypervisors": hs.iter().map(|h| hyp_detail(h, mv)).collect::<Vec<_>>()}),
    ))
}

async fn hypervisor_stats(State(app): AppState, ctx: RequestContext) -> Result<Response> {
    let hs = app
        .hypervisor_list(&ctx, "os_compute_api:os-hypervisors:statistics", false)
        .await?;
    let mut s = BTreeMap::<&str, i64>::new();
    for h in &hs {
        let used = |k: &str| h.usage.get(k).copied().unwrap_or(0);
        for (k, v) in [
            ("count", 1),
            ("vcpus", h.node.vcpus),
            ("vcpus_used", used("VCPU")),
            ("memory_mb", h.node.memory_mb),
            ("memory_mb_used", used("MEMORY_MB")),
            ("free_ram_mb", h.node.memory_mb - used("MEMORY_MB")),
            ("local_gb", h.node.local_gb),
            ("local_gb_used", used("DISK_GB")),
            ("free_disk_gb", h.node.local_gb - used("DISK_GB")),
            ("disk_available_least", h.node.local_gb - used("DISK_GB")),
            ("running_vms", h.running_vms),
            ("current_workload", 0),
        ] {
            *s.entry(k).or_default() += v;
        }
    }
    for k in [
        "count",
        "vcpus",
        "vcpus_used",
        "memory_mb",
        "memory_mb_used",
        "free_ram_mb",
        "local_gb",
        "local_gb_used",
        "free_disk_gb",
        "disk_available_least",
        "running_vms",
        "current_workload",
    ] {
        s.entry(k).or_default();
    }
    Ok(ok(json!({ "hypervisor_statistics": s })))
}

/// `GET /os-hypervisors/{id}/uptime`: the host's uptime in the `uptime` command's words,
/// counted from its compute service's registration.
async fn hypervisor_uptime(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path(id): Path<String>,
) -> Result<Response> {
    let hs = app
        .hypervisor_list(&ctx, "os_compute_api:os-hypervisors:uptime", false)
        .await?;
    let h = hs
        .iter()
        .find(|h| h.node.uuid == id || (!mv.at_least(53) && h.node.id.to_string() == id))
        .ok_or_else(|| Error::not_found(format!("Hypervisor with ID {id} could not be found.")))?;
    let now = oxstack_common::time::now();
    let up_s = (now.timestamp_micros() - h.service.service.created_at).max(0) / 1_000_000;
    let uptime = format!(
        " {} up {} days, {:02}:{:02},  0 users,  load average: 0.00, 0.00, 0.00",
        now.format("%H:%M:%S"),
        up_s / 86_400,
        (up_s % 86_400) / 3600,
        (up_s % 3600) / 60
    );
    let mut v = hyp_basic(h, mv);
    v["uptime"] = json!(uptime);
    Ok(ok(json!({ "hypervisor": v })))
}

async fn hypervisor_show(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let hs = app
        .hypervisor_list(
            &ctx,
            "os_compute_api:os-hypervisors:show",
            with_servers(&q, mv),
        )
        .await?;
    let h = hs
        .iter()
        .find(|h| {
            if mv.at_least(53) {
                h.node.uuid == id
            } else {
                h.node.id.to_string() == id
            }
        })
        .ok_or_else(|| {
            if mv.at_least(53) && uuid::Uuid::parse_str(&id).is_err() {
                Error::bad_request(format!("Invalid uuid {id}"))
            } else {
                Error::not_found(format!("Hypervisor with ID {id} could not be found."))
            }
        })?;
    Ok(ok(json!({"hypervisor": hyp_detail(h, mv)})))
}

async fn hypervisor_search(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path(p): Path<String>,
) -> Result<Response> {
    if mv.at_least(53) {
        return Err(Error::not_found("The resource could not be found."));
    }
    let mut hs = app
        .hypervisor_list(&ctx, "os_compute_api:os-hypervisors:search", false)
        .await?;
    hs.retain(|h| h.node.hypervisor_hostname.contains(p.as_str()));
    if hs.is_empty() {
        return Err(Error::not_found(format!(
            "No hypervisor matching '{p}' could be found."
        )));
    }
    Ok(ok(
        json!({"hypervisors": hs.iter().map(|h| hyp_basic(h, mv)).collect::<Vec<_>>()}),
    ))
}

async fn hypervisor_servers(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path(p): Path<String>,
) -> Result<Response> {
    if mv.at_least(53) {
        return Err(Error::not_found("The resource could not be found."));
    }
    let mut hs = app
        .hypervisor_list(&ctx, "os_compute_api:os-hypervisors:servers", true)
        .await?;
    hs.retain(|h| h.node.hypervisor_hostname.contains(p.as_str()));
    if hs.is_empty() {
        return Err(Error::not_found(format!(
            "No hypervisor matching '{p}' could be found."
        )));
    }
    let out: Vec<Value> = hs
        .iter()
        .map(|h| {
            let mut v = hyp_basic(h, mv);
            if !h.servers.is_empty() {
                v["servers"] = json!(
                    h.servers
                        .iter()
                        .map(|i| json!({"uuid": i.uuid, "name": i.instance_name()}))
                        .collect::<Vec<_>>()
                );
            }
            v
        })
        .collect();
    Ok(ok(json!({ "hypervisors": out })))
}

// --- server groups ---------------------------------------------------------------------

fn group_view(g: &ServerGroup, mv: Version) -> Value {
    let mut v = json!({
        "id": g.uuid,
        "name": g.name,
        "policies": [g.policy],
        "members": g.members,
        "metadata": {},
    });
    if mv.at_least(13) {
        v["project_id"] = json!(g.project_id);
        v["user_id"] = json!(g.user_id);
    }
    v
}

async fn group_list(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let all = q.contains_key("all_projects");
    let mut gs = app.group_list(&ctx, all).await?;
    if let Some(o) = q.get("offset").and_then(|o| o.parse::<usize>().ok()) {
        gs.drain(..o.min(gs.len()));
    }
    if let Some(l) = parse_limit(q.get("limit"))? {
        gs.truncate(l);
    }
    Ok(ok(
        json!({"server_groups": gs.iter().map(|g| group_view(g, mv)).collect::<Vec<_>>()}),
    ))
}

async fn group_create(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Json(body): Json<Value>,
) -> Result<Response> {
    let m = member(&body, "server_group")?;
    let name = match m.get("name") {
        Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= 255 => s.clone(),
        _ => {
            return Err(Error::bad_request(
                "Invalid input for field/attribute name.",
            ));
        }
    };
    let policies = m.get("policies").and_then(Value::as_array).ok_or_else(|| {
        Error::bad_request(
            "Invalid input for field/attribute server_group. 'policies' is a required property",
        )
    })?;
    let policy = match policies.as_slice() {
        [Value::String(p)] if valid_group_policy(p, mv.at_least(15)) => p.clone(),
        _ => {
            return Err(Error::bad_request(format!(
                "Invalid input for field/attribute policies. Value: {}.",
                Value::Array(policies.clone())
            )));
        }
    };
    let g = app.group_create(&ctx, &name, &policy).await?;
    Ok(ok(json!({"server_group": group_view(&g, mv)})))
}

async fn group_show(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path(id): Path<String>,
) -> Result<Response> {
    let g = app.group_show(&ctx, &id).await?;
    Ok(ok(json!({"server_group": group_view(&g, mv)})))
}

async fn group_delete(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response> {
    app.group_delete(&ctx, &id).await?;
    Ok(status(StatusCode::NO_CONTENT))
}
