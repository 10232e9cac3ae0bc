//! Servers' volumes, shared by the API (local deletes of servers without a host) and the
//! agent: taking every volume back from a deleted server, as Nova's
//! `_cleanup_volumes`/`_local_cleanup_bdm_volumes` do.

use oxstack_common::http::error_chain;
use oxstack_common::{Error, Result};

use crate::clients::VolumeClient;
use crate::model::Instance;
use crate::store::Store;

/// Deletes the attachments of every volume of `i`, deletes the volumes marked
/// `delete_on_termination`, and deletes the mappings. A mapping whose attachment cannot be
/// deleted stays (a retried delete tries again); a volume that cannot be deleted is logged
/// and left (it is the user's to clean up, as in Nova).
pub async fn release(
    client: Option<&dyn VolumeClient>,
    store: &Store,
    i: &Instance,
    now: i64,
) -> std::result::Result<(), String> {
    let bdms = store.bdm_list(&i.uuid).await.map_err(|e| error_chain(&e))?;
    for m in bdms {
        if let Some(c) = client {
            if let Some(a) = &m.attachment_id {
                c.attachment_delete(&i.project_id, a)
                    .await
                    .map_err(|e| error_chain(&e))?;
            }
            if m.delete_on_termination
                && let Some(v) = &m.volume_id
                && let Err(e) = c.volume_delete(&i.project_id, v).await
            {
                tracing::warn!(instance = %i.uuid, volume = %v, error = %error_chain(&e), "volume of a deleted server not deleted");
            }
        }
        store
            .bdm_delete(&m.uuid, now)
            .await
            .map_err(|e| error_chain(&e))?;
    }
    Ok(())
}

/// The connector of a compute host: what the block storage service needs to export a
/// volume to it (os-brick's `get_connector_properties`).
pub fn connector(host: &str, ip: &str) -> serde_json::Value {
    serde_json::json!({
        "host": host,
        "ip": ip,
        "initiator": format!("iqn.2004-10.org.oxstack:{host}"),
        "platform": "x86_64",
        "os_type": "linux",
        "multipath": false,
        "do_local_attach": false,
    })
}

/// The root disk's device.
pub const ROOT_DEVICE: &str = "/dev/vda";

/// Nova's `DevicePathInUse`.
pub fn device_in_use(path: &str) -> Error {
    Error::conflict(format!("The supplied device path ({path}) is in use."))
}

/// `/dev/vdb` → `b`: the letters after a `vd` prefix.
fn vd_letters(device: &str) -> Option<&str> {
    let rest = device.strip_prefix("/dev/vd")?;
    let letters = rest.trim_end_matches(|c: char| c.is_ascii_digit());
    (!letters.is_empty() && letters.chars().all(|c| c.is_ascii_lowercase())).then_some(letters)
}

/// The `n`th device name after the root: 0 → `/dev/vdb`, 24 → `/dev/vdz`, 25 → `/dev/vdaa`.
pub fn device_name(n: usize) -> String {
    let mut n = n + 1;
    let mut letters = Vec::new();
    loop {
        letters.push((b'a' + (n % 26) as u8) as char);
        if n < 26 {
            break;
        }
        n = n / 26 - 1;
    }
    format!("/dev/vd{}", letters.iter().rev().collect::<String>())
}

/// The device a new volume gets: the requested one when it is a free virtio name (libvirt
/// ignores other buses' names, and so do we), else the next free letter.
pub fn pick_device(used: &[String], requested: Option<&str>) -> Result<String> {
    if let Some(r) = requested
        && vd_letters(r).is_some()
    {
        if r == ROOT_DEVICE || used.iter().any(|u| u == r) {
            return Err(device_in_use(r));
        }
        return Ok(r.to_string());
    }
    (0..)
        .map(device_name)
        .find(|d| !used.contains(d))
        .ok_or_else(|| Error::forbidden("The maximum allowed number of disk devices was exceeded"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_follow_the_root() {
        assert_eq!(device_name(0), "/dev/vdb");
        assert_eq!(device_name(24), "/dev/vdz");
        assert_eq!(device_name(25), "/dev/vdaa");
        assert_eq!(device_name(26), "/dev/vdab");
        let used = vec!["/dev/vdb".to_string(), "/dev/vdd".to_string()];
        assert_eq!(pick_device(&used, None).ok().as_deref(), Some("/dev/vdc"));
        assert_eq!(
            pick_device(&used, Some("/dev/vde")).ok().as_deref(),
            Some("/dev/vde")
        );
        assert_eq!(
            pick_device(&used, Some("/dev/sdb")).ok().as_deref(),
            Some("/dev/vdc")
        );
        assert!(pick_device(&used, Some("/dev/vdb")).is_err());
        assert!(pick_device(&used, Some("/dev/vda")).is_err());
    }
}
