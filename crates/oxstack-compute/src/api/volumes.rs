//! `/servers/{id}/os-volume_attachments` and the `os-extended-volumes:volumes_attached`
//! attribute of servers (nova/api/openstack/compute/volume_attachments.py and its schemas).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use oxstack_common::context::RequestContext;
use oxstack_common::http::Json;
use oxstack_common::{Error, Result};
use serde_json::{Value, json};

use super::{AppState, member, ok, status};
use crate::app::{App, VolumeAttachRequest, is_uuid_like};
use crate::microversion::Version;
use crate::model::BlockDeviceMapping;

pub(super) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route(
            "/servers/{id}/os-volume_attachments",
            get(attachment_list).post(attachment_create),
        )
        .route(
            "/servers/{id}/os-volume_attachments/{volume_id}",
            get(attachment_show)
                .put(attachment_update)
                .delete(attachment_delete),
        )
}

/// Nova's `_translate_attachment_detail_view` (tag from 2.70, delete_on_termination from
/// 2.79: beyond this API's maximum, so never shown yet).
fn view(m: &BlockDeviceMapping, mv: Version) -> Value {
    let volume = m.volume_id.clone().unwrap_or_default();
    let mut v = json!({"id": volume, "volumeId": volume, "serverId": m.instance_uuid});
    if let Some(d) = &m.device_name {
        v["device"] = json!(d);
    }
    if mv.at_least(70) {
        v["tag"] = json!(m.tag);
    }
    if mv.at_least(79) {
        v["delete_on_termination"] = json!(m.delete_on_termination);
    }
    v
}

/// The `os-extended-volumes:volumes_attached` of a server.
pub(super) fn volumes_attached(bdms: Option<&Vec<BlockDeviceMapping>>, mv: Version) -> Value {
    let list: Vec<Value> = bdms
        .into_iter()
        .flatten()
        .map(|m| {
            let mut v = json!({"id": m.volume_id});
            if mv.at_least(3) {
                v["delete_on_termination"] = json!(m.delete_on_termination);
            }
            v
        })
        .collect();
    json!(list)
}

/// Fills `os-extended-volumes:volumes_attached` of rendered servers (those that have the
/// key: the full view).
pub(super) async fn fill_volumes_attached(
    app: &App,
    servers: &mut [Value],
    mv: Version,
) -> Result<()> {
    const KEY: &str = "os-extended-volumes:volumes_attached";
    let ids: Vec<String> = servers
        .iter()
        .filter(|s| s.get(KEY).is_some())
        .filter_map(|s| s["id"].as_str().map(str::to_string))
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    let attached = app.volumes_attached(&ids).await?;
    for s in servers.iter_mut().filter(|s| s.get(KEY).is_some()) {
        let id = s["id"].as_str().unwrap_or_default().to_string();
        s[KEY] = volumes_attached(attached.get(&id), mv);
    }
    Ok(())
}

fn non_negative(q: &HashMap<String, String>, key: &str) -> Result<Option<usize>> {
    match q.get(key) {
        None => Ok(None),
        Some(s) => s.parse::<usize>().map(Some).map_err(|_| {
            Error::bad_request(format!(
                "Invalid input for query parameters {key}. Value: {s}. '{s}' does not match '^[0-9]*$'"
            ))
        }),
    }
}

async fn attachment_list(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    if mv.at_least(75)
        && let Some(k) = q.keys().find(|k| !matches!(k.as_str(), "limit" | "offset"))
    {
        return Err(Error::bad_request(format!(
            "Invalid input for query parameters. Additional properties are not allowed ('{k}' was unexpected)"
        )));
    }
    let limit = non_negative(&q, "limit")?.map(|l| l.min(1000));
    let offset = non_negative(&q, "offset")?.unwrap_or(0);
    let list = app.volume_attachment_list(&ctx, &id, offset, limit).await?;
    let list: Vec<Value> = list.iter().map(|m| view(m, mv)).collect();
    Ok(ok(json!({ "volumeAttachments": list })))
}

async fn attachment_show(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path((id, volume_id)): Path<(String, String)>,
) -> Result<Response> {
    let m = app.volume_attachment_show(&ctx, &id, &volume_id).await?;
    Ok(ok(json!({ "volumeAttachment": view(&m, mv) })))
}

fn bad_field(field: &str, v: &Value, why: &str) -> Error {
    let shown = v
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| v.to_string());
    Error::bad_request(format!(
        "Invalid input for field/attribute {field}. Value: {shown}. {why}"
    ))
}

fn volume_id_of(m: &serde_json::Map<String, Value>) -> Result<String> {
    match m.get("volumeId") {
        None => Err(Error::bad_request(
            "Invalid input for field/attribute volumeAttachment. Value: {}. 'volumeId' is a required property",
        )),
        Some(Value::String(s)) if is_uuid_like(s) => Ok(s.clone()),
        Some(v @ Value::String(s)) => {
            Err(bad_field("volumeId", v, &format!("'{s}' is not a 'uuid'")))
        }
        Some(v) => Err(bad_field(
            "volumeId",
            v,
            &format!("{v} is not of type 'string'"),
        )),
    }
}

/// The request body of an attach, as Nova's `create`/`create_v249`/`create_v279` schemas.
fn parse_attach(body: &Value, mv: Version) -> Result<VolumeAttachRequest> {
    if let Some(k) = body
        .as_object()
        .and_then(|o| o.keys().find(|k| k.as_str() != "volumeAttachment"))
    {
        return Err(Error::bad_request(format!(
            "Invalid input for field/attribute volumeAttachment. Additional properties are not allowed ('{k}' was unexpected)"
        )));
    }
    let m = member(body, "volumeAttachment")?;
    for k in m.keys() {
        let known = matches!(k.as_str(), "volumeId" | "device")
            || (k == "tag" && mv.at_least(49))
            || (k == "delete_on_termination" && mv.at_least(79));
        if !known {
            return Err(Error::bad_request(format!(
                "Invalid input for field/attribute volumeAttachment. Additional properties are not allowed ('{k}' was unexpected)"
            )));
        }
    }
    let volume_id = volume_id_of(&m)?;
    let device = match m.get("device") {
        None | Some(Value::Null) => None,
        Some(Value::String(d)) => {
            let re = regex::Regex::new(DEVICE_PATTERN)
                .map_err(|e| Error::internal("device pattern", e))?;
            if !re.is_match(d) {
                return Err(bad_field(
                    "device",
                    &json!(d),
                    &format!("'{d}' does not match '{DEVICE_PATTERN}'"),
                ));
            }
            Some(d.clone())
        }
        Some(v) => {
            return Err(bad_field(
                "device",
                v,
                &format!("{v} is not of type 'string', 'null'"),
            ));
        }
    };
    let tag = match m.get("tag") {
        None => None,
        Some(Value::String(t)) if t.len() <= 60 && !t.contains(',') && !t.contains('/') => {
            Some(t.clone())
        }
        Some(v) => return Err(bad_field("tag", v, "is not a valid tag")),
    };
    let delete_on_termination = match m.get("delete_on_termination") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(v) => return Err(bad_field("delete_on_termination", v, "is not a boolean")),
    };
    Ok(VolumeAttachRequest {
        volume_id,
        device,
        tag,
        delete_on_termination,
    })
}

/// `nova/block_device.py` `match_device`, as the schema checks it.
const DEVICE_PATTERN: &str = "(^/dev/x{0,1}[a-z]{0,1}d{0,1})([a-z]+)[0-9]*$";

async fn attachment_create(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let r = parse_attach(&body, mv)?;
    let (tag, dot) = (r.tag.clone(), r.delete_on_termination);
    let m = app.volume_attach(&ctx, &id, r, mv).await?;
    let volume = m.volume_id.clone().unwrap_or_default();
    let mut v = json!({
        "id": volume, "serverId": m.instance_uuid, "volumeId": volume, "device": m.device_name,
    });
    if mv.at_least(70) {
        v["tag"] = json!(tag);
    }
    if mv.at_least(79) {
        v["delete_on_termination"] = json!(dot);
    }
    Ok(ok(json!({ "volumeAttachment": v })))
}

async fn attachment_update(
    State(app): AppState,
    ctx: RequestContext,
    Path((id, volume_id)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Result<Response> {
    let m = member(&body, "volumeAttachment")?;
    if let Some(k) = m.keys().find(|k| k.as_str() != "volumeId") {
        return Err(Error::bad_request(format!(
            "Invalid input for field/attribute volumeAttachment. Additional properties are not allowed ('{k}' was unexpected)"
        )));
    }
    let new = volume_id_of(&m)?;
    app.volume_swap(&ctx, &id, &volume_id, &new).await?;
    Ok(status(StatusCode::ACCEPTED))
}

async fn attachment_delete(
    State(app): AppState,
    ctx: RequestContext,
    mv: Version,
    Path((id, volume_id)): Path<(String, String)>,
) -> Result<Response> {
    app.volume_detach(&ctx, &id, &volume_id, mv).await?;
    Ok(status(StatusCode::ACCEPTED))
}
