//! The compute driver seam (nova/virt/driver.py): what the agent asks of a hypervisor.
//! Drivers get [`InstanceSpec`]s, never database rows. [`FakeDriver`] is instant and keeps
//! power states in memory; tests can tell it to fail.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;

use crate::clients::ImageData;
use crate::states::power;

/// What a driver needs to make a server.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct InstanceSpec {
    pub uuid: String,
    /// The hypervisor's name of the server (`instance-xxxxxxxx`).
    pub name: String,
    /// The name the user gave it.
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub hostname: String,
    #[serde(default)]
    pub project_id: String,
    pub image_ref: String,
    pub vcpus: i64,
    pub memory_mb: i64,
    pub root_gb: i64,
    #[serde(default)]
    pub ephemeral_gb: i64,
    /// Swap in MiB.
    #[serde(default)]
    pub swap_mb: i64,
    pub user_data: Option<String>,
    pub key_data: Option<String>,
    #[serde(default)]
    pub key_name: Option<String>,
    #[serde(default)]
    pub availability_zone: Option<String>,
    #[serde(default)]
    pub reservation_id: String,
    #[serde(default)]
    pub metadata: std::collections::BTreeMap<String, String>,
    /// The user asked for a config drive.
    #[serde(default)]
    pub config_drive: bool,
    /// The server's ports (drivers without a data plane only describe them to the guest).
    #[serde(default)]
    pub vifs: Vec<crate::model::Vif>,
    /// The server's volumes, connected to this host (one with `boot_index` 0 is the root
    /// disk).
    #[serde(default)]
    pub volumes: Vec<VolumeSpec>,
}

/// A volume to plug into a server: what the block storage service answered for this host's
/// connector (`{"driver_volume_type": "file", "data": {"device_path", "format"}}`).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VolumeSpec {
    pub volume_id: String,
    /// `/dev/vdb`, ...
    pub device_name: String,
    pub connection_info: serde_json::Value,
    /// 0 for the disk the server boots from (a volume-backed server has no image).
    #[serde(default)]
    pub boot_index: Option<i64>,
    /// The boot volume's `volume_image_metadata` (the properties of the image it was made
    /// from): a volume-backed server boots the `kernel_id`/`ramdisk_id` named there, as
    /// Nova's does. `None` for other volumes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_metadata: Option<serde_json::Value>,
}

/// The resources of the host a driver runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostResources {
    pub vcpus: i64,
    pub memory_mb: i64,
    pub disk_gb: i64,
}

/// A driver failure; the message is recorded as the server's fault.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DriverError(pub String);

/// A hypervisor driver.
#[async_trait]
pub trait ComputeDriver: Send + Sync + std::fmt::Debug {
    /// `hypervisor_type` in os-hypervisors (`fake`, `QEMU`).
    fn hypervisor_type(&self) -> &'static str;
    fn hypervisor_version(&self) -> i64;
    fn resources(&self) -> HostResources;
    /// `cpu_info` in os-hypervisors (arch, model, vendor, topology, features; the qemu
    /// driver adds `accel`: kvm or tcg).
    fn cpu_info(&self) -> serde_json::Value {
        serde_json::json!({
            "arch": "x86_64", "model": "fake", "vendor": "oxstack", "features": [],
            "topology": {"cores": 1, "threads": 1, "sockets": self.resources().vcpus},
        })
    }
    /// Creates and boots a server.
    async fn spawn(&self, spec: &InstanceSpec) -> Result<(), DriverError>;
    /// Destroys a server (no error when it does not exist).
    async fn destroy(&self, uuid: &str) -> Result<(), DriverError>;
    async fn reboot(&self, uuid: &str, hard: bool) -> Result<(), DriverError>;
    async fn power_off(&self, uuid: &str) -> Result<(), DriverError>;
    async fn power_on(&self, uuid: &str) -> Result<(), DriverError>;
    async fn pause(&self, uuid: &str) -> Result<(), DriverError>;
    async fn unpause(&self, uuid: &str) -> Result<(), DriverError>;
    async fn suspend(&self, uuid: &str) -> Result<(), DriverError>;
    async fn resume(&self, uuid: &str) -> Result<(), DriverError>;
    /// Changes a server's size in place (same-host resize).
    async fn resize(&self, spec: &InstanceSpec) -> Result<(), DriverError>;
    /// The power state the hypervisor reports (`NOSTATE` when unknown).
    async fn power_state(&self, uuid: &str) -> i64;
    async fn console_output(&self, uuid: &str) -> Result<String, DriverError>;
    /// The servers the hypervisor has.
    async fn list(&self) -> Vec<String>;
    /// A standalone qcow2 copy of the server's root disk, for a snapshot image, as the
    /// agent streams it to the image service. A running guest may be paused while the disk
    /// is copied, never longer.
    async fn snapshot(&self, uuid: &str) -> Result<ImageData, DriverError>;
    /// Plugs a port into a running server. Drivers without a data plane have nothing to
    /// plug: the port exists in the networking service and the guest learns of it from
    /// its metadata.
    async fn attach_interface(
        &self,
        uuid: &str,
        vif: &crate::model::Vif,
    ) -> Result<(), DriverError> {
        let _ = (uuid, vif);
        Ok(())
    }
    /// Unplugs a port (see [`ComputeDriver::attach_interface`]).
    async fn detach_interface(
        &self,
        uuid: &str,
        vif: &crate::model::Vif,
    ) -> Result<(), DriverError> {
        let _ = (uuid, vif);
        Ok(())
    }
    /// Plugs a volume into a server (running or not: a stopped server gets it at its next
    /// start). Drivers without disks have nothing to plug.
    async fn attach_volume(&self, uuid: &str, volume: &VolumeSpec) -> Result<(), DriverError> {
        let _ = (uuid, volume);
        Ok(())
    }
    /// Unplugs a volume (no error when it is not plugged).
    async fn detach_volume(&self, uuid: &str, volume_id: &str) -> Result<(), DriverError> {
        let _ = (uuid, volume_id);
        Ok(())
    }
}

/// The fake driver: instant, in memory.
#[derive(Debug)]
pub struct FakeDriver {
    resources: HostResources,
    vms: Mutex<HashMap<String, (String, i64)>>,
    fail_spawns: AtomicU32,
    fail_all_spawns: std::sync::atomic::AtomicBool,
    /// The ports plugged into each server.
    nics: Mutex<HashMap<String, Vec<String>>>,
    /// The volumes plugged into each server.
    disks: Mutex<HashMap<String, Vec<VolumeSpec>>>,
    fail_volume_attach: std::sync::atomic::AtomicBool,
}

impl FakeDriver {
    pub fn new(resources: HostResources) -> Self {
        Self {
            resources,
            vms: Mutex::default(),
            fail_spawns: AtomicU32::new(0),
            fail_all_spawns: std::sync::atomic::AtomicBool::new(false),
            nics: Mutex::default(),
            disks: Mutex::default(),
            fail_volume_attach: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The volumes plugged into server `uuid` (ids, in attach order).
    pub fn volumes(&self, uuid: &str) -> Vec<String> {
        self.disks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(uuid)
            .map(|d| d.iter().map(|v| v.volume_id.clone()).collect())
            .unwrap_or_default()
    }

    /// Makes every volume attach fail (or not).
    pub fn fail_volume_attach(&self, fail: bool) {
        self.fail_volume_attach.store(fail, Ordering::SeqCst);
    }

    /// Makes the next `n` spawns fail.
    pub fn fail_next_spawns(&self, n: u32) {
        self.fail_spawns.store(n, Ordering::SeqCst);
    }

    /// Makes every spawn fail (or not).
    pub fn fail_every_spawn(&self, fail: bool) {
        self.fail_all_spawns.store(fail, Ordering::SeqCst);
    }

    /// The ports plugged into server `uuid`.
    pub fn interfaces(&self, uuid: &str) -> Vec<String> {
        self.nics
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(uuid)
            .cloned()
            .unwrap_or_default()
    }

    fn set(&self, uuid: &str, from: &[i64], to: i64) -> Result<(), DriverError> {
        let mut vms = self.vms.lock().unwrap_or_else(|p| p.into_inner());
        let vm = vms
            .get_mut(uuid)
            .ok_or_else(|| DriverError(format!("Instance {uuid} could not be found.")))?;
        if !from.is_empty() && !from.contains(&vm.1) {
            return Err(DriverError(format!(
                "Instance {uuid} is in power state {} and cannot change to {to}",
                vm.1
            )));
        }
        vm.1 = to;
        Ok(())
    }
}

#[async_trait]
impl ComputeDriver for FakeDriver {
    fn hypervisor_type(&self) -> &'static str {
        "fake"
    }
    fn hypervisor_version(&self) -> i64 {
        1000
    }
    fn resources(&self) -> HostResources {
        self.resources
    }

    async fn spawn(&self, spec: &InstanceSpec) -> Result<(), DriverError> {
        let forced = self
            .fail_spawns
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if forced || self.fail_all_spawns.load(Ordering::SeqCst) {
            return Err(DriverError(
                "Fake driver was told to fail this build.".into(),
            ));
        }
        self.vms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(spec.uuid.clone(), (spec.name.clone(), power::RUNNING));
        self.nics.lock().unwrap_or_else(|p| p.into_inner()).insert(
            spec.uuid.clone(),
            spec.vifs.iter().map(|v| v.port_id.clone()).collect(),
        );
        self.disks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(spec.uuid.clone(), spec.volumes.clone());
        Ok(())
    }

    async fn destroy(&self, uuid: &str) -> Result<(), DriverError> {
        self.vms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(uuid);
        self.nics
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(uuid);
        self.disks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(uuid);
        Ok(())
    }

    async fn attach_volume(&self, uuid: &str, volume: &VolumeSpec) -> Result<(), DriverError> {
        if self.fail_volume_attach.load(Ordering::SeqCst) {
            return Err(DriverError(
                "Fake driver was told to fail this volume attach.".into(),
            ));
        }
        if !self
            .vms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(uuid)
        {
            return Err(DriverError(format!("Instance {uuid} could not be found.")));
        }
        self.disks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(uuid.into())
            .or_default()
            .push(volume.clone());
        Ok(())
    }

    async fn detach_volume(&self, uuid: &str, volume_id: &str) -> Result<(), DriverError> {
        if let Some(d) = self
            .disks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(uuid)
        {
            d.retain(|v| v.volume_id != volume_id);
        }
        Ok(())
    }

    async fn attach_interface(
        &self,
        uuid: &str,
        vif: &crate::model::Vif,
    ) -> Result<(), DriverError> {
        if !self
            .vms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(uuid)
        {
            return Err(DriverError(format!("Instance {uuid} could not be found.")));
        }
        self.nics
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(uuid.into())
            .or_default()
            .push(vif.port_id.clone());
        Ok(())
    }

    async fn detach_interface(
        &self,
        uuid: &str,
        vif: &crate::model::Vif,
    ) -> Result<(), DriverError> {
        if let Some(n) = self
            .nics
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(uuid)
        {
            n.retain(|p| p != &vif.port_id);
        }
        Ok(())
    }

    async fn reboot(&self, uuid: &str, _hard: bool) -> Result<(), DriverError> {
        self.set(uuid, &[], power::RUNNING)
    }
    async fn power_off(&self, uuid: &str) -> Result<(), DriverError> {
        self.set(uuid, &[], power::SHUTDOWN)
    }
    async fn power_on(&self, uuid: &str) -> Result<(), DriverError> {
        self.set(uuid, &[], power::RUNNING)
    }
    async fn pause(&self, uuid: &str) -> Result<(), DriverError> {
        self.set(uuid, &[power::RUNNING], power::PAUSED)
    }
    async fn unpause(&self, uuid: &str) -> Result<(), DriverError> {
        self.set(uuid, &[power::PAUSED], power::RUNNING)
    }
    async fn suspend(&self, uuid: &str) -> Result<(), DriverError> {
        self.set(uuid, &[power::RUNNING], power::SUSPENDED)
    }
    async fn resume(&self, uuid: &str) -> Result<(), DriverError> {
        self.set(uuid, &[power::SUSPENDED], power::RUNNING)
    }
    async fn resize(&self, spec: &InstanceSpec) -> Result<(), DriverError> {
        let vms = self.vms.lock().unwrap_or_else(|p| p.into_inner());
        if vms.contains_key(&spec.uuid) {
            Ok(())
        } else {
            Err(DriverError(format!(
                "Instance {} could not be found.",
                spec.uuid
            )))
        }
    }
    async fn power_state(&self, uuid: &str) -> i64 {
        self.vms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(uuid)
            .map_or(power::NOSTATE, |v| v.1)
    }
    async fn console_output(&self, uuid: &str) -> Result<String, DriverError> {
        let vms = self.vms.lock().unwrap_or_else(|p| p.into_inner());
        let (name, _) = vms
            .get(uuid)
            .ok_or_else(|| DriverError(format!("Instance {uuid} could not be found.")))?;
        Ok(format!(
            "FAKE CONSOLE OUTPUT\n{name} login: \nANOTHER\nLAST LINE\n"
        ))
    }
    /// The fake's servers have no disks: their snapshots are empty.
    async fn snapshot(&self, uuid: &str) -> Result<ImageData, DriverError> {
        if !self
            .vms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(uuid)
        {
            return Err(DriverError(format!("Instance {uuid} could not be found.")));
        }
        Ok(crate::clients::image_data(bytes::Bytes::new()))
    }
    async fn list(&self) -> Vec<String> {
        self.vms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect()
    }
}
