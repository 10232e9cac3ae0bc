//! Servers' block devices at create (`block_device_mapping_v2`), as nova/block_device.py
//! `from_api` and nova/compute/api.py `_validate_bdm` check them: a server boots from an
//! existing volume (`volume` → `volume`, `boot_index` 0) or from a volume made from an image
//! (`image` → `volume` with `volume_size`), and may get more volumes (existing or `blank`).
//! Existing volumes are reserved with the user's token at create; new ones are made then
//! (the user's, in their project) and reserved by the agent once available. The agent
//! connects them all before it spawns the server (see `agent::volumes`).

use oxstack_common::{Error, Result};
use serde_json::{Map, Value};

use super::{App, Caller, invalid, new_uuid, now};
use crate::clients::VolumeInfo;
use crate::microversion::Version;
use crate::model::{BlockDeviceMapping, Instance};

/// One parsed `block_device_mapping_v2` item.
#[derive(Debug, Clone, PartialEq, Default)]
pub(super) struct BdmRequest {
    pub source_type: String,
    pub destination_type: String,
    pub uuid: Option<String>,
    pub boot_index: Option<i64>,
    pub volume_size: Option<i64>,
    pub delete_on_termination: bool,
    pub device_name: Option<String>,
    pub tag: Option<String>,
}

/// What a create asked of block devices, validated.
#[derive(Debug, Clone, Default)]
pub(super) struct BlockDevicePlan {
    /// The volume-backed items (local image items are the image boot itself).
    pub volumes: Vec<BdmRequest>,
    /// The image a `image` → `local` boot item names (an image boot without `imageRef`).
    pub boot_image: Option<String>,
    /// The server boots from a volume: it has no image.
    pub boots_from_volume: bool,
}

fn invalid_bdm(details: &str) -> Error {
    Error::bad_request(format!("Block Device Mapping is Invalid: {details}"))
}

fn parse_bool(field: &str, v: &Value) -> Result<bool> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" | "y" | "t" => Ok(true),
            "false" | "0" | "no" | "off" | "n" | "f" => Ok(false),
            _ => Err(invalid(field, &format!("{s}. '{s}' is not a boolean"))),
        },
        Value::Number(n) if n.as_i64() == Some(0) || n.as_i64() == Some(1) => {
            Ok(n.as_i64() == Some(1))
        }
        v => Err(invalid(field, &format!("{v}. {v} is not a boolean"))),
    }
}

/// One item, as the schema and `BlockDeviceDict.from_api` check it.
fn parse_item(v: &Value, mv: Version) -> Result<BdmRequest> {
    let o = v.as_object().ok_or_else(|| {
        invalid(
            "block_device_mapping_v2",
            &format!("{v}. {v} is not of type 'object'"),
        )
    })?;
    let known = [
        "virtual_name",
        "volume_id",
        "snapshot_id",
        "volume_size",
        "device_name",
        "delete_on_termination",
        "no_device",
        "connection_info",
        "source_type",
        "uuid",
        "image_id",
        "destination_type",
        "guest_format",
        "device_type",
        "disk_bus",
        "boot_index",
    ];
    for k in o.keys() {
        let ok = known.contains(&k.as_str())
            || (k == "tag" && ((mv.at_least(32) && !mv.at_least(33)) || mv.at_least(42)))
            || (k == "volume_type" && mv.at_least(67));
        if !ok {
            return Err(Error::bad_request(format!(
                "Invalid input for field/attribute block_device_mapping_v2. Additional properties are not allowed ('{k}' was unexpected)"
            )));
        }
    }
    let text = |k: &str| -> Result<Option<String>> {
        match o.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(invalid(k, &format!("{v}. {v} is not of type 'string'"))),
        }
    };
    let enum_of = |k: &str, allowed: &[&str]| -> Result<Option<String>> {
        match text(k)? {
            Some(s) if !allowed.contains(&s.as_str()) => {
                Err(invalid(k, &format!("{s}. '{s}' is not one of {allowed:?}")))
            }
            other => Ok(other),
        }
    };
    let source_type = enum_of("source_type", &["volume", "image", "snapshot", "blank"])?;
    let destination_type = enum_of("destination_type", &["local", "volume"])?;
    let uuid = text("uuid")?;
    if let Some(u) = &uuid
        && (u.is_empty()
            || u.len() > 255
            || !u
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(invalid("uuid", &format!("{u}. '{u}' is not a valid id")));
    }
    let boot_index = match o.get("boot_index") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) if n.is_i64() => n.as_i64(),
        Some(Value::String(s)) => Some(s.parse::<i64>().map_err(|_| {
            invalid(
                "boot_index",
                &format!("{s}. '{s}' does not match '^-?[0-9]+$'"),
            )
        })?),
        Some(v) => return Err(invalid("boot_index", &format!("{v}. {v} is not valid"))),
    };
    // Negative boot indexes mean "not bootable".
    let boot_index = boot_index.filter(|b| *b >= 0);
    let volume_size = match o.get("volume_size") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => match n.as_i64() {
            Some(s) if s >= 0 => Some(s),
            _ => return Err(invalid("volume_size", &format!("{n}. {n} is not valid"))),
        },
        Some(Value::String(s)) => match s.parse::<i64>() {
            Ok(n) if n >= 0 => Some(n),
            _ => return Err(invalid("volume_size", &format!("{s}. '{s}' is not valid"))),
        },
        Some(v) => return Err(invalid("volume_size", &format!("{v}. {v} is not valid"))),
    };
    let delete_on_termination = match o.get("delete_on_termination") {
        None | Some(Value::Null) => false,
        Some(v) => parse_bool("delete_on_termination", v)?,
    };
    let device_name = text("device_name")?;
    if let Some(d) = &device_name
        && (d.is_empty()
            || d.len() > 255
            || !d
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '/' | '-')))
    {
        return Err(invalid("device_name", &format!("{d}. '{d}' is not valid")));
    }
    let tag = text("tag")?;
    // Only a source type says what the item is (legacy `volume_id`-only items are not
    // supported by the v2 format).
    let source_type = source_type.ok_or_else(|| invalid_bdm("Missing device UUID."))?;
    let destination_type = destination_type.unwrap_or_else(|| {
        if source_type == "image" {
            "local".into()
        } else {
            "volume".into()
        }
    });
    let uuid = uuid
        .or(text("volume_id")?.filter(|_| source_type == "volume"))
        .or(text("image_id")?.filter(|_| source_type == "image"))
        .or(text("snapshot_id")?.filter(|_| source_type == "snapshot"));
    if source_type != "blank" && uuid.is_none() {
        return Err(invalid_bdm("Missing device UUID."));
    }
    Ok(BdmRequest {
        source_type,
        destination_type,
        uuid,
        boot_index,
        volume_size,
        delete_on_termination,
        device_name,
        tag,
    })
}

impl App {
    /// Parses and checks `block_device_mapping_v2` (`None` when the request has none).
    pub(super) async fn block_devices_plan(
        &self,
        c: &Caller<'_>,
        body: &Map<String, Value>,
        mv: Version,
    ) -> Result<Option<BlockDevicePlan>> {
        let list = match body.get("block_device_mapping_v2") {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Array(l)) if l.is_empty() => return Ok(None),
            Some(Value::Array(l)) => l,
            Some(v) => {
                return Err(invalid(
                    "block_device_mapping_v2",
                    &format!("{v}. {v} is not of type 'array'"),
                ));
            }
        };
        let items = list
            .iter()
            .map(|v| parse_item(v, mv))
            .collect::<Result<Vec<_>>>()?;
        let mut plan = BlockDevicePlan::default();
        let boots: Vec<&BdmRequest> = items.iter().filter(|i| i.boot_index == Some(0)).collect();
        if boots.len() > 1 {
            return Err(invalid_bdm(
                "Boot sequence for the instance and image/block device mapping combination is not valid.",
            ));
        }
        for it in &items {
            match (it.source_type.as_str(), it.destination_type.as_str()) {
                ("image", "local") if it.boot_index == Some(0) => {
                    plan.boot_image = it.uuid.clone();
                }
                ("volume", "volume") | ("image", "volume") | ("blank", "volume") => {
                    plan.volumes.push(it.clone());
                }
                ("snapshot", _) => {
                    return Err(invalid_bdm(
                        "volume snapshots as block devices are not supported.",
                    ));
                }
                (s, d) => {
                    return Err(invalid_bdm(&format!(
                        "source_type {s} with destination_type {d} is not supported."
                    )));
                }
            }
        }
        plan.boots_from_volume = plan.volumes.iter().any(|v| v.boot_index == Some(0));
        if plan.volumes.is_empty() {
            return Ok(Some(plan));
        }
        let client = self
            .volume
            .clone()
            .ok_or_else(|| invalid_bdm("block storage is not available."))?;
        let token = c.ctx.token.clone().unwrap_or_default();
        for v in &plan.volumes {
            match v.source_type.as_str() {
                "volume" => {
                    let id = v.uuid.clone().unwrap_or_default();
                    let vol: VolumeInfo = client
                        .volume_get(&token, c.project_id(), &id)
                        .await?
                        .ok_or_else(|| invalid_bdm(&format!("failed to get volume {id}.")))?;
                    if v.boot_index == Some(0) && !vol.bootable {
                        return Err(Error::bad_request(format!(
                            "Block Device {id} is not bootable."
                        )));
                    }
                    if vol.status != "available" && !vol.multiattach {
                        return Err(Error::bad_request(format!(
                            "Invalid volume: volume '{id}' status must be 'available'. Currently in '{}'",
                            vol.status
                        )));
                    }
                }
                "image" => {
                    let id = v.uuid.clone().unwrap_or_default();
                    let ok = super::is_uuid_like(&id)
                        && self
                            .image
                            .image_get(&token, &id)
                            .await?
                            .is_some_and(|i| i.status == "active");
                    if !ok {
                        return Err(invalid_bdm(&format!("failed to get image {id}.")));
                    }
                    if v.volume_size.unwrap_or(0) <= 0 {
                        return Err(invalid_bdm(
                            "Images with destination_type 'volume' need to have a non-zero size specified",
                        ));
                    }
                }
                _ => {
                    if v.volume_size.unwrap_or(0) <= 0 {
                        return Err(invalid_bdm(
                            "Blank volumes (source: 'blank', dest: 'volume') need to have non-zero size",
                        ));
                    }
                }
            }
        }
        Ok(Some(plan))
    }

    /// Records the block devices of new servers: existing volumes are reserved for them
    /// (one server only), new volumes are made in the caller's project. On failure the
    /// servers are deleted again (with what was made for them).
    pub(super) async fn block_devices_create(
        &self,
        c: &Caller<'_>,
        plan: &BlockDevicePlan,
        instances: &[Instance],
    ) -> Result<()> {
        if plan.volumes.is_empty() {
            return Ok(());
        }
        if instances.len() > 1 && plan.volumes.iter().any(|v| v.source_type == "volume") {
            self.undo_create(instances).await;
            return Err(Error::bad_request(
                "Cannot attach one or more volumes to multiple instances",
            ));
        }
        let result = async {
            let client = self
                .volume
                .clone()
                .ok_or_else(|| invalid_bdm("block storage is not available."))?;
            let token = c.ctx.token.clone().unwrap_or_default();
            for i in instances {
                let mut used: Vec<String> = Vec::new();
                for v in &plan.volumes {
                    // The boot volume is the root disk; the others follow it.
                    let device = if v.boot_index == Some(0) {
                        crate::volumes::ROOT_DEVICE.to_string()
                    } else {
                        let d = crate::volumes::pick_device(&used, None)?;
                        used.push(d.clone());
                        d
                    };
                    let mut m = BlockDeviceMapping {
                        uuid: new_uuid(),
                        instance_uuid: i.uuid.clone(),
                        volume_id: None,
                        attachment_id: None,
                        device_name: Some(device),
                        source_type: v.source_type.clone(),
                        destination_type: "volume".into(),
                        delete_on_termination: v.delete_on_termination,
                        tag: v.tag.clone(),
                        boot_index: v.boot_index,
                        created_at: now(),
                    };
                    if v.source_type == "volume" {
                        let id = v.uuid.clone().unwrap_or_default();
                        let a = client
                            .attachment_create(&token, c.project_id(), &id, &i.uuid)
                            .await
                            .map_err(|e| super::volumes::from_cinder(e, &id))?;
                        m.volume_id = Some(id);
                        m.attachment_id = Some(a.id);
                    } else {
                        let image = (v.source_type == "image").then(|| v.uuid.clone()).flatten();
                        let vol = client
                            .volume_create(
                                &token,
                                c.project_id(),
                                v.volume_size.unwrap_or(1),
                                image.as_deref(),
                                &format!("{}-{}", i.name, m.uuid),
                            )
                            .await
                            .map_err(|e| super::volumes::from_cinder(e, ""))?;
                        m.volume_id = Some(vol.id);
                    }
                    self.store.bdm_create(&m).await?;
                }
            }
            Ok::<_, Error>(())
        }
        .await;
        if let Err(e) = result {
            self.undo_create(instances).await;
            return Err(e);
        }
        Ok(())
    }

    /// Deletes servers a create could not finish, with their block devices (volumes made
    /// for them are deleted: they were never the user's to keep).
    async fn undo_create(&self, instances: &[Instance]) {
        for i in instances {
            if let Ok(bdms) = self.store.bdm_list(&i.uuid).await
                && let Some(client) = &self.volume
            {
                for m in bdms.iter().filter(|m| m.source_type != "volume") {
                    if let Some(v) = &m.volume_id {
                        let _ = client.volume_delete(&i.project_id, v).await;
                    }
                }
            }
            if let Err(e) = self.local_delete(&i.uuid).await {
                tracing::warn!(instance = %i.uuid, error = %e, "server of a failed create not deleted");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn items_parse_as_nova_checks_them() {
        let mv = Version(60);
        let ok = parse_item(
            &json!({"source_type": "image", "uuid": "i1", "destination_type": "volume",
                    "boot_index": "0", "volume_size": 2, "delete_on_termination": "true"}),
            mv,
        )
        .expect("valid");
        assert_eq!(ok.boot_index, Some(0));
        assert_eq!(ok.volume_size, Some(2));
        assert!(ok.delete_on_termination);
        for bad in [
            json!({"source_type": "volume", "uuid": "v", "destination_type": "invalid"}),
            json!({"source_type": "nope", "uuid": "v"}),
            json!({"source_type": "volume", "uuid": "v", "boot_index": "x"}),
            json!({"source_type": "volume", "uuid": "a b"}),
            json!({"source_type": "volume"}),
            json!({"source_type": "volume", "uuid": "v", "bogus": 1}),
            json!("string"),
        ] {
            assert!(parse_item(&bad, mv).is_err(), "{bad}");
        }
        // Tags: 2.32, then again from 2.42.
        let tagged = json!({"source_type": "volume", "uuid": "v", "tag": "t"});
        assert!(parse_item(&tagged, Version(41)).is_err());
        assert!(parse_item(&tagged, Version(42)).is_ok());
        assert!(
            parse_item(
                &json!({"source_type": "blank", "destination_type": "volume", "volume_size": 1}),
                mv
            )
            .is_ok()
        );
    }
}
