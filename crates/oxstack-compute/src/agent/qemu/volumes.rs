//! Volumes of qemu guests: a file volume (connection info `{"driver_volume_type": "file",
//! "data": {"device_path", "format"}}`, as the block storage file driver answers it) is a
//! block node (`blockdev-add`: the format driver over a `file` node) and a `virtio-blk-pci`
//! device. Every volume sits in its own hot-plug slot: on q35 a `pcie-root-port` the command
//! line always provides (devices on the root complex cannot be unplugged), on `pc` the
//! hot-pluggable `pci.0` itself. A running guest gets volumes by QMP (`blockdev-add` +
//! `device_add`; `device_del`, wait for the guest to let go, `blockdev-del`); a stopped one
//! at its next launch, since `launch.json` records them.

use std::path::Path;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Launch, QemuDriver, err};
use crate::agent::{DriverError, VolumeSpec};

/// Hot-plug slots of a q35 guest (so at most this many volumes).
pub const SLOTS: u32 = 8;
/// How long the guest has to release an unplugged disk.
const UNPLUG_TIMEOUT: Duration = Duration::from_secs(40);
/// Between presses of the unplug button.
const UNPLUG_RETRY: Duration = Duration::from_secs(6);

/// A volume recorded in `launch.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttachedVolume {
    pub volume: VolumeSpec,
    /// Its hot-plug slot (`vslotN` on q35).
    pub slot: u32,
}

/// The block node and device id of a volume: `v` and 20 hex digits of its id (QMP names
/// are at most 31 characters and start with a letter).
pub fn node_name(volume_id: &str) -> String {
    let hex: String = volume_id
        .chars()
        .filter(char::is_ascii_hexdigit)
        .take(20)
        .collect();
    format!("v{hex}")
}

fn is_q35(machine: &str) -> bool {
    machine.contains("q35")
}

/// The `blockdev-add` arguments of a volume.
pub fn blockdev(v: &VolumeSpec) -> Result<Value, DriverError> {
    let data = &v.connection_info["data"];
    let kind = v.connection_info["driver_volume_type"]
        .as_str()
        .unwrap_or_default();
    if kind != "file" && kind != "local" {
        return Err(DriverError(format!(
            "volumes of type {kind:?} cannot be attached by the qemu driver"
        )));
    }
    let path = data["device_path"]
        .as_str()
        .filter(|p| Path::new(p).is_absolute())
        .ok_or_else(|| DriverError("connection info without an absolute device_path".into()))?;
    let format = match data["format"].as_str() {
        Some("qcow2") => "qcow2",
        _ => "raw",
    };
    let mut b = json!({
        "driver": format,
        "node-name": node_name(&v.volume_id),
        "file": {"driver": "file", "filename": path},
    });
    if data["access_mode"].as_str() == Some("ro") {
        b["read-only"] = json!(true);
    }
    Ok(b)
}

/// The `device_add` arguments of a volume in `slot`.
pub fn device(machine: &str, v: &VolumeSpec, slot: u32) -> Value {
    let id = node_name(&v.volume_id);
    let mut d = json!({"driver": "virtio-blk-pci", "drive": id, "id": id});
    if is_q35(machine) {
        d["bus"] = json!(format!("vslot{slot}"));
    }
    d
}

/// The command line pieces of the hot-plug slots and the recorded volumes.
pub fn command_line(machine: &str, volumes: &[AttachedVolume]) -> Vec<String> {
    let mut a = Vec::new();
    if is_q35(machine) {
        for n in 0..SLOTS {
            a.push("-device".into());
            a.push(format!(
                "pcie-root-port,id=vslot{n},bus=pcie.0,chassis={},slot={}",
                n + 10,
                n + 10
            ));
        }
    }
    for v in volumes {
        // Unusable records (they were checked when attached) are left out, not fatal.
        let Ok(b) = blockdev(&v.volume) else { continue };
        a.push("-blockdev".into());
        a.push(b.to_string());
        let d = device(machine, &v.volume, v.slot);
        let mut dev = String::from("virtio-blk-pci");
        for k in ["drive", "id", "bus"] {
            if let Some(s) = d[k].as_str() {
                dev.push_str(&format!(",{k}={s}"));
            }
        }
        a.push("-device".into());
        a.push(dev);
    }
    a
}

impl QemuDriver {
    /// Plugs `v` into the server (QMP when it runs) and records it in `launch.json`.
    pub(super) async fn volume_attach(
        &self,
        uuid: &str,
        v: &VolumeSpec,
    ) -> Result<(), DriverError> {
        let mut l = self.read_launch(uuid).await?;
        if l.volumes.iter().any(|a| a.volume.volume_id == v.volume_id) {
            return Ok(());
        }
        let b = blockdev(v)?;
        let slot = (0..SLOTS)
            .find(|s| !l.volumes.iter().any(|a| a.slot == *s))
            .ok_or_else(|| {
                DriverError(format!(
                    "the server has no free slot for another volume (at most {SLOTS})"
                ))
            })?;
        if self.pid(uuid).await.is_some() {
            let machine = self.opts.config.machine.clone();
            let mut q = self.qmp(uuid).await?;
            q.execute("blockdev-add", Some(b))
                .await
                .map_err(|e| err("blockdev-add", oxstack_common::http::error_chain(&e)))?;
            if let Err(e) = q
                .execute("device_add", Some(device(&machine, v, slot)))
                .await
            {
                let _ = q
                    .execute(
                        "blockdev-del",
                        Some(json!({"node-name": node_name(&v.volume_id)})),
                    )
                    .await;
                return Err(err("device_add", oxstack_common::http::error_chain(&e)));
            }
        }
        l.volumes.push(AttachedVolume {
            volume: v.clone(),
            slot,
        });
        self.write_launch(&l).await
    }

    /// Unplugs a volume (QMP when the server runs) and forgets it.
    pub(super) async fn volume_detach(
        &self,
        uuid: &str,
        volume_id: &str,
    ) -> Result<(), DriverError> {
        let mut l: Launch = match self.read_launch(uuid).await {
            Ok(l) => l,
            // No server, no disk to unplug.
            Err(_) => return Ok(()),
        };
        if !l.volumes.iter().any(|a| a.volume.volume_id == volume_id) {
            return Ok(());
        }
        if self.pid(uuid).await.is_some() {
            let id = node_name(volume_id);
            let mut q = self.qmp(uuid).await?;
            // The guest acknowledges the unplug (PCIe attention button); one that was not
            // listening yet (still booting) misses it, so it is pressed again now and then,
            // as Nova's libvirt driver retries detaches. Until then the node is busy.
            let end = Instant::now() + UNPLUG_TIMEOUT;
            let mut next_press = Instant::now();
            loop {
                if Instant::now() >= next_press {
                    match q.execute("device_del", Some(json!({"id": id}))).await {
                        // Gone already, or an unplug is pending: wait for the guest.
                        Ok(_) | Err(super::qmp::QmpError::Command { .. }) => {}
                        Err(e) => {
                            return Err(err("device_del", oxstack_common::http::error_chain(&e)));
                        }
                    }
                    next_press = Instant::now() + UNPLUG_RETRY;
                }
                match q
                    .execute("blockdev-del", Some(json!({"node-name": id})))
                    .await
                {
                    Ok(_) => break,
                    Err(super::qmp::QmpError::Command { desc, .. })
                        if desc.contains("find node") || desc.contains("not found") =>
                    {
                        break;
                    }
                    Err(e) if Instant::now() >= end => {
                        return Err(err(
                            "the guest did not release the volume",
                            oxstack_common::http::error_chain(&e),
                        ));
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
                }
            }
        }
        l.volumes.retain(|a| a.volume.volume_id != volume_id);
        self.write_launch(&l).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vol(id: &str, format: &str) -> VolumeSpec {
        VolumeSpec {
            volume_id: id.into(),
            device_name: "/dev/vdb".into(),
            connection_info: json!({"driver_volume_type": "file", "data": {
                "device_path": format!("/v/volume-{id}.{format}"), "format": format,
                "access_mode": "rw"}}),
            boot_index: None,
            image_metadata: None,
        }
    }

    #[test]
    fn block_nodes_devices_and_command_lines() {
        let id = "3f0d2a5e-1c1b-4e0a-9a43-5f3b2c1d0e9f";
        assert_eq!(node_name(id), "v3f0d2a5e1c1b4e0a9a43");
        assert!(node_name(id).len() <= 31);
        assert_eq!(
            blockdev(&vol(id, "qcow2")).expect("blockdev"),
            json!({"driver": "qcow2", "node-name": "v3f0d2a5e1c1b4e0a9a43",
                   "file": {"driver": "file", "filename": format!("/v/volume-{id}.qcow2")}})
        );
        let mut bad = vol(id, "raw");
        bad.connection_info["driver_volume_type"] = json!("iscsi");
        assert!(blockdev(&bad).is_err());
        bad = vol(id, "raw");
        bad.connection_info["data"]["device_path"] = json!("relative");
        assert!(blockdev(&bad).is_err());

        assert_eq!(
            device("q35", &vol(id, "raw"), 3),
            json!({"driver": "virtio-blk-pci", "drive": "v3f0d2a5e1c1b4e0a9a43",
                   "id": "v3f0d2a5e1c1b4e0a9a43", "bus": "vslot3"})
        );
        assert!(device("pc", &vol(id, "raw"), 3).get("bus").is_none());

        let a = command_line(
            "q35",
            &[AttachedVolume {
                volume: vol(id, "raw"),
                slot: 2,
            }],
        );
        assert_eq!(
            a.iter().filter(|x| x.starts_with("pcie-root-port")).count(),
            SLOTS as usize
        );
        assert!(
            a.contains(
                &"virtio-blk-pci,drive=v3f0d2a5e1c1b4e0a9a43,id=v3f0d2a5e1c1b4e0a9a43,bus=vslot2"
                    .to_string()
            )
        );
        assert!(command_line("pc", &[]).is_empty());
    }

    #[test]
    fn a_volume_backed_server_boots_from_its_volume() {
        let id = "3f0d2a5e-1c1b-4e0a-9a43-5f3b2c1d0e9f";
        let mut root = vol(id, "raw");
        root.boot_index = Some(0);
        let l = Launch {
            spec: crate::agent::qemu::tests::spec(),
            root_volume: Some(root),
            ..Default::default()
        };
        let a = super::super::command_line(
            &crate::config::QemuConfig::default(),
            super::super::Accel::Tcg,
            Path::new("/i/u"),
            &l,
        );
        assert!(!a.iter().any(|x| x.contains("/i/u/disk")), "{a:?}");
        assert!(a.contains(&format!(
            "virtio-blk-pci,drive={n},id={n},bootindex=0",
            n = node_name(id)
        )));
        // Made from an image with a kernel: qemu boots the kernel (its boot index 0) with
        // the volume as vda.
        let l = Launch {
            kernel: Some("/b/k".into()),
            initrd: Some("/b/r".into()),
            ..l
        };
        let a = super::super::command_line(
            &crate::config::QemuConfig::default(),
            super::super::Accel::Tcg,
            Path::new("/i/u"),
            &l,
        );
        assert!(a.contains(&format!(
            "virtio-blk-pci,drive={n},id={n}",
            n = node_name(id)
        )));
        assert!(!a.iter().any(|x| x.contains("bootindex")), "{a:?}");
        assert!(a.contains(&"/b/k".to_string()));
    }
}
