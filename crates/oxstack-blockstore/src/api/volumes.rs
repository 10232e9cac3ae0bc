//! `/volumes`: volumes, their actions and metadata.

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
use serde_json::{Map, Value, json};

use super::{
    AppState, all_tenants, member, next_link, ok, opt_string, opt_time, parse_bool, parse_limit,
    parse_meta, parse_sort, query_bool, query_meta, status, time, with_status,
};
use crate::app::{
    App, Caller, VolumeCreate, VolumeQuery, VolumeUpload, VolumeUploadView, VolumeView,
};
use crate::microversion::Version;

pub(super) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/volumes", get(volume_list).post(volume_create))
        .route("/volumes/detail", get(volume_detail))
        .route("/volumes/summary", get(volume_summary))
        .route(
            "/volumes/{id}",
            get(volume_show).put(volume_update).delete(volume_delete),
        )
        .route("/volumes/{id}/action", post(volume_action))
        .route(
            "/volumes/{id}/metadata",
            get(metadata_show)
                .post(metadata_create)
                .put(metadata_replace),
        )
        .route(
            "/volumes/{id}/metadata/{key}",
            get(metadata_item_show)
                .put(metadata_item_update)
                .delete(metadata_item_delete),
        )
}

/// The volume as create and update answer it (no extension attributes).
fn base_view(app: &App, project: &str, vv: &VolumeView, mv: Version) -> Value {
    let v = &vv.volume;
    let mut metadata = v.metadata.clone();
    for k in ["readonly", "attached_mode"] {
        if let Some(val) = v.admin_metadata.get(k) {
            metadata.insert(k.into(), val.clone());
        }
    }
    let attachments: Vec<Value> = vv
        .attachments
        .iter()
        .map(|a| {
            json!({
                "server_id": a.instance_uuid,
                "attachment_id": a.id,
                "attached_at": opt_time(a.attach_time),
                "host_name": a.attached_host,
                "volume_id": v.id,
                "device": a.mountpoint,
                "id": v.id,
            })
        })
        .collect();
    let mut out = json!({
        "id": v.id,
        "name": v.name,
        "description": v.description,
        "size": v.size,
        "status": v.status,
        "availability_zone": v.availability_zone,
        "created_at": time(v.created_at),
        "updated_at": opt_time(v.updated_at),
        "volume_type": vv.type_name,
        "snapshot_id": v.snapshot_id,
        "source_volid": v.source_volid,
        "metadata": metadata,
        "links": app.links(project, &format!("volumes/{}", v.id)),
        "user_id": v.user_id,
        "bootable": if v.bootable { "true" } else { "false" },
        "encrypted": false,
        "replication_status": null,
        "consistencygroup_id": null,
        "multiattach": v.multiattach,
        "attachments": attachments,
        "migration_status": v.migration_status,
    });
    if mv.at_least(13) {
        out["group_id"] = Value::Null;
    }
    if mv.at_least(48) {
        out["shared_targets"] = json!(false);
        out["service_uuid"] = Value::Null;
    }
    out
}

/// The volume as show and detail answer it: with the attributes the caller may see.
fn detail_view(app: &App, c: &Caller<'_>, project: &str, vv: &VolumeView, mv: Version) -> Value {
    let v = &vv.volume;
    let mut out = base_view(app, project, vv, mv);
    let o = out.as_object_mut().expect("object");
    if app.can(c, "volume_extension:volume_tenant_attribute") {
        o.insert("os-vol-tenant-attr:tenant_id".into(), json!(v.project_id));
    }
    if app.can(c, "volume_extension:volume_host_attribute") {
        o.insert("os-vol-host-attr:host".into(), json!(v.host));
    }
    if app.can(c, "volume_extension:volume_mig_status_attribute") {
        o.insert(
            "os-vol-mig-status-attr:migstat".into(),
            json!(v.migration_status),
        );
        o.insert("os-vol-mig-status-attr:name_id".into(), Value::Null);
    } else {
        o.remove("migration_status");
    }
    if !v.image_metadata.is_empty() && app.can(c, "volume_extension:volume_image_metadata:show") {
        o.insert("volume_image_metadata".into(), json!(v.image_metadata));
    }
    if mv.at_least(21) && c.is_admin {
        o.insert("provider_id".into(), Value::Null);
    }
    out
}

fn size_of(v: &Value) -> Result<i64> {
    let bad = || {
        Error::bad_request(format!(
            "Invalid input for field/attribute size. Value: {v}. {v} is not valid under any of the given schemas"
        ))
    };
    let n = match v {
        Value::Number(n) => n.as_i64().ok_or_else(bad)?,
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().map_err(|_| bad())?
        }
        _ => return Err(bad()),
    };
    if n < 1 {
        return Err(Error::bad_request(format!(
            "Invalid input for field/attribute size. Value: {n}. {n} is less than the minimum of 1"
        )));
    }
    Ok(n)
}

fn opt_id(m: &Map<String, Value>, key: &str) -> Result<Option<String>> {
    Ok(opt_string(m, key, 255)?.flatten())
}

fn parse_create(m: &Map<String, Value>) -> Result<VolumeCreate> {
    let size = match m.get("size") {
        None | Some(Value::Null) => None,
        Some(v) => Some(size_of(v)?),
    };
    let name = match opt_string(m, "name", 255)? {
        Some(n) => n,
        None => opt_string(m, "display_name", 255)?.flatten(),
    };
    let description = match opt_string(m, "description", 255)? {
        Some(d) => d,
        None => opt_string(m, "display_description", 255)?.flatten(),
    };
    Ok(VolumeCreate {
        name,
        description,
        size,
        volume_type: opt_id(m, "volume_type")?,
        metadata: parse_meta(m.get("metadata"), "metadata")?,
        availability_zone: opt_id(m, "availability_zone")?,
        snapshot_id: opt_id(m, "snapshot_id")?,
        source_volid: opt_id(m, "source_volid")?,
        image_ref: match opt_id(m, "imageRef")? {
            Some(i) => Some(i),
            None => opt_id(m, "image_id")?,
        },
        multiattach: m
            .get("multiattach")
            .map(|v| parse_bool(v, "multiattach"))
            .transpose()?
            .unwrap_or(false),
    })
}

async fn volume_create(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path(project): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let c = app.caller(&ctx)?;
    let req = parse_create(&member(&body, "volume")?)?;
    let v = app.volume_create(&c, req).await?;
    Ok(with_status(
        StatusCode::ACCEPTED,
        json!({"volume": base_view(&app, &project, &v, mv)}),
    ))
}

fn list_query(q: &HashMap<String, String>) -> Result<VolumeQuery> {
    Ok(VolumeQuery {
        all_tenants: all_tenants(q)?,
        project_id: q.get("project_id").cloned(),
        name: q.get("name").or(q.get("display_name")).cloned(),
        status: q.get("status").cloned(),
        availability_zone: q.get("availability_zone").cloned(),
        bootable: query_bool(q, "bootable")?,
        metadata: query_meta(q, "metadata")?,
        sort: parse_sort(q)?,
        limit: parse_limit(q.get("limit"))?,
        offset: parse_limit(q.get("offset"))?.unwrap_or(0),
        marker: q.get("marker").cloned(),
    })
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
    let vq = list_query(&q)?;
    let l = app.volume_list(&c, &vq).await?;
    let items: Vec<Value> = l
        .volumes
        .iter()
        .map(|v| {
            if detail {
                detail_view(app, &c, project, v, mv)
            } else {
                json!({"id": v.volume.id, "name": v.volume.name, "links": app.links(project, &format!("volumes/{}", v.volume.id))})
            }
        })
        .collect();
    let mut body = json!({ "volumes": items });
    let path = if detail { "volumes/detail" } else { "volumes" };
    if let Some(links) = next_link(
        app,
        project,
        path,
        vq.limit,
        l.volumes.len(),
        l.volumes.last().map(|v| v.volume.id.as_str()),
    ) {
        body["volumes_links"] = links;
    }
    if mv.at_least(45) && query_bool(&q, "with_count")?.unwrap_or(false) {
        body["count"] = json!(l.count);
    }
    Ok(ok(body))
}

async fn volume_list(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path(project): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    list(&app, &ctx, mv, &project, q, false).await
}

async fn volume_detail(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path(project): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    list(&app, &ctx, mv, &project, q, true).await
}

async fn volume_summary(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    if !mv.at_least(12) {
        return Err(Error::not_found("The resource could not be found."));
    }
    let c = app.caller(&ctx)?;
    let (count, size, meta) = app.volume_summary(&c, all_tenants(&q)?).await?;
    let mut s = json!({"total_count": count, "total_size": size});
    if mv.at_least(36) {
        s["metadata"] = json!(meta);
    }
    Ok(ok(json!({ "volume-summary": s })))
}

async fn volume_show(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path((project, id)): Path<(String, String)>,
) -> Result<Response> {
    let c = app.caller(&ctx)?;
    let v = app.volume_get(&c, &id).await?;
    Ok(ok(
        json!({"volume": detail_view(&app, &c, &project, &v, mv)}),
    ))
}

async fn volume_update(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path((project, id)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let c = app.caller(&ctx)?;
    let m = member(&body, "volume")?;
    let name = match opt_string(&m, "name", 255)? {
        Some(n) => Some(n),
        None => opt_string(&m, "display_name", 255)?,
    };
    let description = match opt_string(&m, "description", 255)? {
        Some(d) => Some(d),
        None => opt_string(&m, "display_description", 255)?,
    };
    let metadata = m
        .get("metadata")
        .map(|v| parse_meta(Some(v), "metadata"))
        .transpose()?;
    if name.is_none() && description.is_none() && metadata.is_none() {
        return Err(Error::bad_request(
            "Invalid input for field/attribute volume. Value: {}. {} does not have enough properties",
        ));
    }
    let v = app
        .volume_update(&c, &id, name, description, metadata)
        .await?;
    Ok(ok(json!({"volume": base_view(&app, &project, &v, mv)})))
}

async fn volume_delete(
    State(app): AppState,
    ctx: RequestContext,
    Path((_project, id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let c = app.caller(&ctx)?;
    let cascade = query_bool(&q, "cascade")?.unwrap_or(false);
    let force = query_bool(&q, "force")?.unwrap_or(false);
    app.volume_delete(&c, &id, cascade, force).await?;
    Ok(status(StatusCode::ACCEPTED))
}

fn str_field(m: &Value, key: &str) -> Option<String> {
    m.get(key).and_then(Value::as_str).map(str::to_string)
}

async fn volume_action(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path((_project, id)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let c = app.caller(&ctx)?;
    let Some((action, arg)) = body.as_object().and_then(|o| o.iter().next()) else {
        return Err(Error::bad_request("Invalid request body: no action given."));
    };
    let accepted = || Ok(status(StatusCode::ACCEPTED));
    match action.as_str() {
        "os-extend" => {
            let n = arg.get("new_size").ok_or_else(|| {
                Error::bad_request("Invalid input for field/attribute os-extend. 'new_size' is a required property")
            })?;
            let n = size_of(n)?;
            app.volume_extend(&c, &id, n, mv.at_least(42)).await?;
            accepted()
        }
        "os-reset_status" => {
            app.volume_reset_status(
                &c,
                &id,
                str_field(arg, "status"),
                str_field(arg, "attach_status"),
                str_field(arg, "migration_status"),
            )
            .await?;
            accepted()
        }
        "os-set_bootable" => {
            let b = arg.get("bootable").ok_or_else(|| {
                Error::bad_request("Invalid input received: 'bootable' is required.")
            })?;
            app.volume_set_bootable(&c, &id, parse_bool(b, "bootable")?)
                .await?;
            Ok(status(StatusCode::OK))
        }
        "os-update_readonly_flag" => {
            let b = arg.get("readonly").ok_or_else(|| {
                Error::bad_request("Invalid input received: 'readonly' is required.")
            })?;
            app.volume_set_readonly(&c, &id, parse_bool(b, "readonly")?)
                .await?;
            accepted()
        }
        "os-retype" => {
            let t = str_field(arg, "new_type").ok_or_else(|| {
                Error::bad_request("Invalid input received: 'new_type' is required.")
            })?;
            app.volume_retype(&c, &id, &t).await?;
            accepted()
        }
        "os-force_delete" => {
            app.volume_delete(&c, &id, false, true).await?;
            accepted()
        }
        "os-reserve" => {
            app.volume_reserve(&c, &id).await?;
            accepted()
        }
        "os-unreserve" => {
            app.volume_unreserve(&c, &id).await?;
            accepted()
        }
        "os-attach" => {
            let mountpoint = str_field(arg, "mountpoint").ok_or_else(|| {
                Error::bad_request("Invalid input received: 'mountpoint' is required.")
            })?;
            let instance = str_field(arg, "instance_uuid");
            let host = str_field(arg, "host_name");
            if instance.is_none() == host.is_none() {
                return Err(Error::bad_request(
                    "Invalid request to attach volume to an invalid target",
                ));
            }
            let mode = str_field(arg, "mode").unwrap_or_else(|| "rw".into());
            app.volume_attach(&c, &id, instance, host, mountpoint, mode)
                .await?;
            accepted()
        }
        "os-detach" | "os-force_detach" => {
            let aid = str_field(arg, "attachment_id");
            app.volume_detach(&c, &id, aid.as_deref(), action == "os-force_detach")
                .await?;
            accepted()
        }
        "os-begin_detaching" => {
            app.volume_begin_detaching(&c, &id).await?;
            accepted()
        }
        "os-roll_detaching" => {
            app.volume_roll_detaching(&c, &id).await?;
            accepted()
        }
        "os-initialize_connection" => {
            let connector = arg.get("connector").cloned().ok_or_else(|| {
                Error::bad_request("Invalid input received: Must specify 'connector'")
            })?;
            let ci = app
                .volume_initialize_connection(&c, &id, &connector)
                .await?;
            Ok(ok(json!({"connection_info": ci})))
        }
        "os-terminate_connection" => {
            app.volume_terminate_connection(&c, &id).await?;
            accepted()
        }
        "os-set_image_metadata" => {
            let m = parse_meta(arg.get("metadata"), "metadata")?;
            let m = app.volume_image_metadata(&c, &id, Some(m), None).await?;
            Ok(ok(json!({"metadata": m})))
        }
        "os-unset_image_metadata" => {
            let k = str_field(arg, "key")
                .ok_or_else(|| Error::bad_request("Invalid input received: 'key' is required."))?;
            app.volume_image_metadata(&c, &id, None, Some(&k)).await?;
            Ok(status(StatusCode::OK))
        }
        "os-volume_upload_image" => {
            let req = parse_upload(arg, mv)?;
            let u = app.volume_upload_image(&c, &id, req).await?;
            Ok(with_status(
                StatusCode::ACCEPTED,
                json!({"os-volume_upload_image": upload_view(&u)}),
            ))
        }
        "os-show_image_metadata" => {
            let m = app.volume_image_metadata(&c, &id, None, None).await?;
            Ok(ok(json!({"metadata": m})))
        }
        other => Err(Error::bad_request(format!(
            "There is no such action: {other}"
        ))),
    }
}

/// Disk formats an upload may ask for (Cinder's schema).
const UPLOAD_DISK_FORMATS: &[&str] = &["raw", "vmdk", "vdi", "qcow2", "vhd", "vhdx", "ploop"];

/// The body of `os-volume_upload_image` (Cinder's `volume_upload_image` schema; `visibility`
/// and `protected` from 3.1).
fn parse_upload(arg: &Value, mv: Version) -> Result<VolumeUpload> {
    let field = "os-volume_upload_image";
    let Some(m) = arg.as_object() else {
        return Err(Error::bad_request(format!(
            "Invalid input for field/attribute {field}. Value: {arg}. {arg} is not of type 'object'"
        )));
    };
    let v31 = mv.at_least(1);
    let known: &[&str] = if v31 {
        &[
            "image_name",
            "force",
            "disk_format",
            "container_format",
            "visibility",
            "protected",
        ]
    } else {
        &["image_name", "force", "disk_format", "container_format"]
    };
    if let Some(k) = m.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(Error::bad_request(format!(
            "Invalid input for field/attribute {field}. Additional properties are not allowed ('{k}' was unexpected)"
        )));
    }
    let image_name = match m.get("image_name") {
        Some(Value::String(s)) if !s.is_empty() && s.chars().count() <= 255 => s.clone(),
        Some(other) => {
            return Err(Error::bad_request(format!(
                "Invalid input for field/attribute image_name. Value: {other}. It must be a string of 1 to 255 characters"
            )));
        }
        None => {
            return Err(Error::bad_request(format!(
                "Invalid input for field/attribute {field}. 'image_name' is a required property"
            )));
        }
    };
    let disk_format = match m.get("disk_format") {
        None => "raw".to_string(),
        Some(Value::String(s)) if UPLOAD_DISK_FORMATS.contains(&s.as_str()) => s.clone(),
        Some(other) => {
            return Err(Error::bad_request(format!(
                "Invalid input for field/attribute disk_format. Value: {other}. {other} is not one of {UPLOAD_DISK_FORMATS:?}"
            )));
        }
    };
    let container_format = opt_string(m, "container_format", 255)?
        .flatten()
        .unwrap_or_else(|| "bare".into());
    let flag = |k: &str| m.get(k).map(|v| parse_bool(v, k)).transpose();
    let force = flag("force")?.unwrap_or(false);
    let (visibility, protected) = if v31 {
        let vis = match m.get("visibility") {
            None => "private".to_string(),
            Some(Value::String(s))
                if matches!(s.as_str(), "community" | "public" | "private" | "shared") =>
            {
                s.clone()
            }
            Some(other) => {
                return Err(Error::bad_request(format!(
                    "Invalid input for field/attribute visibility. Value: {other}. {other} is not one of ['community', 'public', 'private', 'shared']"
                )));
            }
        };
        (Some(vis), Some(flag("protected")?.unwrap_or(false)))
    } else {
        (None, None)
    };
    Ok(VolumeUpload {
        image_name,
        force,
        disk_format,
        container_format,
        visibility,
        protected,
    })
}

/// Cinder's answer to an upload: the volume, its type object and the image's formats.
fn upload_view(u: &VolumeUploadView) -> Value {
    let v = &u.volume;
    let vt = u.volume_type.as_ref().map(|t| {
        json!({
            "id": t.id,
            "name": t.name,
            "description": t.description,
            "is_public": t.is_public,
            "extra_specs": t.extra_specs,
            "qos_specs_id": null,
            "created_at": time(t.created_at),
            "updated_at": null,
            "deleted": false,
            "deleted_at": null,
        })
    });
    let mut out = json!({
        "id": v.id,
        "updated_at": opt_time(v.updated_at),
        "status": v.status,
        "display_description": v.description,
        "size": v.size,
        "volume_type": vt,
        "image_id": u.image["id"],
        "container_format": u.image["container_format"],
        "disk_format": u.image["disk_format"],
        "image_name": u.image["name"],
    });
    for k in ["protected", "visibility"] {
        if let Some(val) = u.image.get(k) {
            out[k] = val.clone();
        }
    }
    out
}

async fn metadata_show(
    State(app): AppState,
    ctx: RequestContext,
    Path((_project, id)): Path<(String, String)>,
) -> Result<Response> {
    let c = app.caller(&ctx)?;
    let m = app.volume_metadata_get(&c, &id).await?;
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
    let m = app.volume_metadata_set(&c, id, meta, replace).await?;
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
    let m = app.volume_metadata_get(&c, &id).await?;
    match m.get(&key) {
        Some(v) => Ok(ok(json!({"meta": {key: v}}))),
        None => Err(Error::not_found(format!(
            "Volume {id} has no metadata with key {key}."
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
    app.volume_metadata_set(&c, &id, meta.clone(), false)
        .await?;
    Ok(ok(json!({ "meta": meta })))
}

async fn metadata_item_delete(
    State(app): AppState,
    ctx: RequestContext,
    Path((_project, id, key)): Path<(String, String, String)>,
) -> Result<Response> {
    let c = app.caller(&ctx)?;
    app.volume_metadata_delete(&c, &id, &key).await?;
    Ok(status(StatusCode::OK))
}
