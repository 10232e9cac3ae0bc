//! Quotas, limits, availability zones, services, extensions and the attachments API.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use oxstack_common::context::RequestContext;
use oxstack_common::http::Json;
use oxstack_common::{Error, Result};
use serde_json::{Map, Value, json};

use super::{AppState, all_tenants, member, ok, opt_time, query_bool, status, time};
use crate::app::{App, AttachmentView, QUOTA_RESOURCES};
use crate::microversion::Version;

pub(super) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route(
            "/os-quota-sets/{target}",
            get(quota_show).put(quota_update).delete(quota_delete),
        )
        .route("/os-quota-sets/{target}/defaults", get(quota_defaults))
        .route("/os-quota-class-sets/{class}", get(quota_class_show))
        .route("/limits", get(limits))
        .route("/os-availability-zone", get(availability_zones))
        .route("/os-services", get(services))
        .route("/extensions", get(extensions))
        .route("/attachments", get(attachment_list).post(attachment_create))
        .route("/attachments/detail", get(attachment_detail))
        .route(
            "/attachments/{id}",
            get(attachment_show)
                .put(attachment_update)
                .delete(attachment_delete),
        )
        .route("/attachments/{id}/action", post(attachment_action))
}

fn quota_body(id: Option<&str>, limits: &BTreeMap<String, i64>) -> Value {
    let mut m = Map::new();
    if let Some(id) = id {
        m.insert("id".into(), json!(id));
    }
    for r in QUOTA_RESOURCES {
        m.insert((*r).into(), json!(limits.get(*r).copied().unwrap_or(-1)));
    }
    json!({ "quota_set": m })
}

async fn quota_show(
    State(app): AppState,
    ctx: RequestContext,
    Path((_project, target)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let c = app.caller(&ctx)?;
    let (limits, usage) = app.quota_show(&c, &target).await?;
    if query_bool(&q, "usage")?.unwrap_or(false) {
        let mut m = Map::new();
        m.insert("id".into(), json!(target));
        for r in QUOTA_RESOURCES {
            m.insert(
                (*r).into(),
                json!({"limit": limits.get(*r).copied().unwrap_or(-1), "in_use": usage.of(r), "reserved": 0, "allocated": 0}),
            );
        }
        return Ok(ok(json!({ "quota_set": m })));
    }
    Ok(ok(quota_body(Some(&target), &limits)))
}

async fn quota_defaults(
    State(app): AppState,
    ctx: RequestContext,
    Path((_project, target)): Path<(String, String)>,
) -> Result<Response> {
    let c = app.caller(&ctx)?;
    let d = app.quota_defaults_show(&c, &target).await?;
    Ok(ok(quota_body(Some(&target), &d)))
}

async fn quota_update(
    State(app): AppState,
    ctx: RequestContext,
    Path((_project, target)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let c = app.caller(&ctx)?;
    let m = member(&body, "quota_set")?;
    let mut values = BTreeMap::new();
    for (k, v) in &m {
        if k == "tenant_id" || k == "id" {
            continue;
        }
        let n = match v {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        }
        .ok_or_else(|| {
            Error::bad_request(format!(
                "Invalid input received: Quota limit {v} for {k} must be an integer."
            ))
        })?;
        values.insert(k.clone(), n);
    }
    let limits = app.quota_update(&c, &target, values).await?;
    Ok(ok(quota_body(None, &limits)))
}

async fn quota_delete(
    State(app): AppState,
    ctx: RequestContext,
    Path((_project, target)): Path<(String, String)>,
) -> Result<Response> {
    let c = app.caller(&ctx)?;
    app.quota_delete(&c, &target).await?;
    Ok(status(StatusCode::OK))
}

/// `GET /os-quota-class-sets/default`: the configured defaults (read-only here).
async fn quota_class_show(
    State(app): AppState,
    ctx: RequestContext,
    Path((_project, class)): Path<(String, String)>,
) -> Result<Response> {
    let c = app.caller(&ctx)?;
    app.authorize_own(&c, "volume_extension:quota_classes")?;
    let mut body = quota_body(Some(&class), &app.quota_defaults());
    body["quota_class_set"] = body["quota_set"].take();
    if let Some(o) = body.as_object_mut() {
        o.remove("quota_set");
    }
    Ok(ok(body))
}

async fn limits(State(app): AppState, ctx: RequestContext) -> Result<Response> {
    let c = app.caller(&ctx)?;
    let (l, u) = app.limits(&c).await?;
    let g = |k: &str| l.get(k).copied().unwrap_or(-1);
    Ok(ok(json!({"limits": {"rate": [], "absolute": {
        "maxTotalVolumes": g("volumes"),
        "maxTotalSnapshots": g("snapshots"),
        "maxTotalVolumeGigabytes": g("gigabytes"),
        "maxTotalBackups": g("backups"),
        "maxTotalBackupGigabytes": g("backup_gigabytes"),
        "totalVolumesUsed": u.volumes,
        "totalSnapshotsUsed": u.snapshots,
        "totalGigabytesUsed": u.gigabytes,
        "totalBackupsUsed": 0,
        "totalBackupGigabytesUsed": 0,
    }}})))
}

async fn availability_zones(State(app): AppState, ctx: RequestContext) -> Result<Response> {
    let c = app.caller(&ctx)?;
    app.authorize_own(&c, "volume_extension:availability_zone_list")?;
    Ok(ok(json!({"availabilityZoneInfo": [
        {"zoneName": app.config.availability_zone, "zoneState": {"available": true}}
    ]})))
}

async fn services(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let c = app.caller(&ctx)?;
    app.authorize_own(&c, "volume_extension:services:index")?;
    let now = time(crate::app::now());
    let host = app.config.host.clone();
    let backend = format!("{host}@{}", app.config.driver);
    let mut out = Vec::new();
    for (binary, h) in [
        ("cinder-scheduler", host.clone()),
        ("cinder-volume", backend),
    ] {
        // Cinder matches `host` against both `host` and `host@backend`.
        let host_matches = |x: &String| *x == h || h.starts_with(&format!("{x}@"));
        if q.get("binary").is_some_and(|b| b != binary)
            || q.get("host").is_some_and(|x| !host_matches(x))
        {
            continue;
        }
        let mut s = json!({
            "binary": binary,
            "host": h,
            "zone": app.config.availability_zone,
            "status": "enabled",
            "state": "up",
            "updated_at": now,
            "disabled_reason": null,
        });
        if binary == "cinder-volume" {
            s["frozen"] = json!(false);
            s["replication_status"] = json!("disabled");
            s["active_backend_id"] = Value::Null;
        }
        if mv.at_least(7) {
            s["cluster"] = Value::Null;
        }
        if mv.at_least(49) && binary == "cinder-volume" {
            s["backend_state"] = json!("up");
        }
        out.push(s);
    }
    Ok(ok(json!({ "services": out })))
}

async fn extensions(State(app): AppState, ctx: RequestContext) -> Result<Response> {
    app.caller(&ctx)?;
    let ext = |alias: &str, name: &str, desc: &str| {
        json!({
            "alias": alias,
            "name": name,
            "namespace": format!("https://docs.openstack.org/volume/ext/{alias}/api/v1"),
            "description": desc,
            "updated": "2013-08-08T00:00:00+00:00",
            "links": [],
        })
    };
    Ok(ok(json!({"extensions": [
        ext("os-admin-actions", "AdminActions", "Enable admin actions."),
        ext("os-availability-zone", "AvailabilityZones", "Describe Availability Zones."),
        ext("os-extended-snapshot-attributes", "ExtendedSnapshotAttributes", "Extended SnapshotAttributes support."),
        ext("os-quota-sets", "Quotas", "Quota management support."),
        ext("os-services", "Services", "Services support."),
        ext("os-types-manage", "TypesManage", "Types manage support."),
        ext("os-types-extra-specs", "TypesExtraSpecs", "Type extra specs support."),
        ext("os-volume-actions", "VolumeActions", "Enable volume actions."),
        ext("os-vol-host-attr", "VolumeHostAttribute", "Expose host as an attribute of a volume."),
        ext("os-vol-image-meta", "VolumeImageMetadata", "Show image metadata associated with the volume."),
        ext("os-vol-mig-status-attr", "VolumeMigStatusAttribute", "Expose migration_status as an attribute of a volume."),
        ext("os-vol-tenant-attr", "VolumeTenantAttribute", "Expose the internal project_id as an attribute of a volume."),
        ext("os-volume-type-access", "VolumeTypeAccess", "Volume type access support."),
    ]})))
}

fn attachment_view(a: &AttachmentView, detail: bool) -> Value {
    let at = &a.attachment;
    let status = at.attach_status.as_str();
    let mut v = json!({
        "id": at.id,
        "status": status,
        "instance": at.instance_uuid,
        "volume_id": at.volume_id,
    });
    if detail {
        v["attached_at"] = opt_time(at.attach_time);
        v["detached_at"] = opt_time(at.detach_time);
        v["attach_mode"] = json!(at.attach_mode);
        v["connection_info"] = a.connection_info.clone().unwrap_or(Value::Null);
    }
    v
}

fn need_attachments_api(mv: Version) -> Result<()> {
    if mv.at_least(27) {
        Ok(())
    } else {
        Err(Error::not_found("The resource could not be found."))
    }
}

async fn attachment_create(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Json(body): Json<Value>,
) -> Result<Response> {
    need_attachments_api(mv)?;
    let c = app.caller(&ctx)?;
    let m = member(&body, "attachment")?;
    let volume = m
        .get("volume_uuid")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::bad_request("Invalid input for field/attribute attachment. 'volume_uuid' is a required property"))?;
    let instance = m
        .get("instance_uuid")
        .and_then(Value::as_str)
        .map(str::to_string);
    let connector = m.get("connector").filter(|c| c.is_object()).cloned();
    let mode = if mv.at_least(54) {
        m.get("mode").and_then(Value::as_str).map(str::to_string)
    } else {
        None
    };
    let a = app
        .attachment_create(&c, volume, instance, connector, mode)
        .await?;
    Ok(ok(json!({"attachment": attachment_view(&a, true)})))
}

async fn attachment_list_any(
    app: &App,
    ctx: &RequestContext,
    mv: Version,
    q: HashMap<String, String>,
    detail: bool,
) -> Result<Response> {
    need_attachments_api(mv)?;
    let c = app.caller(ctx)?;
    let list = app
        .attachment_list(
            &c,
            all_tenants(&q)?,
            q.get("volume_id").map(String::as_str),
            q.get("instance_id").map(String::as_str),
        )
        .await?;
    let items: Vec<Value> = list.iter().map(|a| attachment_view(a, detail)).collect();
    Ok(ok(json!({ "attachments": items })))
}

async fn attachment_list(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    attachment_list_any(&app, &ctx, mv, q, false).await
}

async fn attachment_detail(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    attachment_list_any(&app, &ctx, mv, q, true).await
}

async fn attachment_show(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path((_project, id)): Path<(String, String)>,
) -> Result<Response> {
    need_attachments_api(mv)?;
    let c = app.caller(&ctx)?;
    let a = app.attachment_get(&c, &id).await?;
    Ok(ok(json!({"attachment": attachment_view(&a, true)})))
}

async fn attachment_update(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path((_project, id)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Result<Response> {
    need_attachments_api(mv)?;
    let c = app.caller(&ctx)?;
    let m = member(&body, "attachment")?;
    let connector = m
        .get("connector")
        .filter(|c| c.is_object())
        .cloned()
        .ok_or_else(|| {
            Error::bad_request(
                "Invalid input for field/attribute attachment. 'connector' is a required property",
            )
        })?;
    let a = app.attachment_update(&c, &id, connector).await?;
    Ok(ok(json!({"attachment": attachment_view(&a, true)})))
}

async fn attachment_delete(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path((_project, id)): Path<(String, String)>,
) -> Result<Response> {
    need_attachments_api(mv)?;
    let c = app.caller(&ctx)?;
    let rest = app.attachment_delete(&c, &id).await?;
    let items: Vec<Value> = rest.iter().map(|a| attachment_view(a, false)).collect();
    Ok(ok(json!({ "attachments": items })))
}

async fn attachment_action(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path((_project, id)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Result<Response> {
    if !mv.at_least(44) {
        return Err(Error::not_found("The resource could not be found."));
    }
    let c = app.caller(&ctx)?;
    if body.get("os-complete").is_none() {
        return Err(Error::bad_request("Invalid request body: unknown action."));
    }
    app.attachment_complete(&c, &id).await?;
    Ok(status(StatusCode::NO_CONTENT))
}
