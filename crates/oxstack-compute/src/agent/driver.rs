//! The compute driver seam (nova/virt/driver.py): what the agent asks of a hypervisor.
//! Drivers get [`InstanceSpec`]s, never database rows. [`FakeDriver`] keeps power states in
//! memory and is instant, except for snapshots, which take as long as it is told (a real
//! snapshot copies and uploads a disk); tests can tell it to fail, or hold its snapshots.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;

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
    /// A standalone qcow2 copy of the server's root disk, for a snapshot image: the copy is
    /// made before this returns (the server's task is `image_pending_upload`), its data is
    /// read as the agent uploads it (`image_uploading`). A running guest may be paused
    /// while the disk is copied, never longer.
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

/// A fake server: its hypervisor name, power state and root disk size (GiB).
#[derive(Debug, Clone)]
struct FakeVm {
    name: String,
    power: i64,
    root_gb: i64,
    image_ref: String,
}

/// The fake driver: in memory; instant but for snapshots (see [`FakeDriver::snapshot_time`]).
#[derive(Debug)]
pub struct FakeDriver {
    resources: HostResources,
    vms: Mutex<HashMap<String, FakeVm>>,
    fail_spawns: AtomicU32,
    fail_all_spawns: std::sync::atomic::AtomicBool,
    /// The ports plugged into each server.
    nics: Mutex<HashMap<String, Vec<String>>>,
    /// The volumes plugged into each server.
    disks: Mutex<HashMap<String, Vec<VolumeSpec>>>,
    fail_volume_attach: std::sync::atomic::AtomicBool,
    /// How long a snapshot takes, copying and uploading together.
    snapshot_time: Duration,
    /// How many of a snapshot's two steps (the copy, the upload's last chunk) snapshots may
    /// finish; `u32::MAX` unless a test holds them.
    snapshot_steps: tokio::sync::watch::Sender<u32>,
}

/// The chunks a fake snapshot is uploaded in.
const SNAPSHOT_CHUNKS: usize = 8;

impl FakeDriver {
    /// A fake host with `resources` whose snapshots take no time.
    pub fn new(resources: HostResources) -> Self {
        Self {
            resources,
            vms: Mutex::default(),
            fail_spawns: AtomicU32::new(0),
            fail_all_spawns: std::sync::atomic::AtomicBool::new(false),
            nics: Mutex::default(),
            disks: Mutex::default(),
            fail_volume_attach: std::sync::atomic::AtomicBool::new(false),
            snapshot_time: Duration::ZERO,
            snapshot_steps: tokio::sync::watch::Sender::new(u32::MAX),
        }
    }

    /// Snapshots take `time`: half copying the disk, half uploading it (in
    /// [`SNAPSHOT_CHUNKS`] paced chunks), as a real one takes both steps.
    pub fn with_snapshot_time(mut self, time: Duration) -> Self {
        self.snapshot_time = time;
        self
    }

    /// Holds every snapshot before it finishes copying the disk (the server's task stays
    /// `image_pending_upload`, the image `queued`) until [`FakeDriver::snapshot_steps`] or
    /// [`FakeDriver::release_snapshots`].
    pub fn hold_snapshots(&self) {
        self.snapshot_steps.send_replace(0);
    }

    /// Lets held snapshots finish `n` steps: 1 = copy the disk and upload all but the last
    /// chunk (task `image_uploading`, image `saving`); 2 = finish.
    pub fn snapshot_steps(&self, n: u32) {
        self.snapshot_steps.send_replace(n);
    }

    /// Snapshots run freely again.
    pub fn release_snapshots(&self) {
        self.snapshot_steps.send_replace(u32::MAX);
    }

    /// The image server `uuid` was spawned from.
    pub fn image_of(&self, uuid: &str) -> Option<String> {
        self.vms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(uuid)
            .map(|vm| vm.image_ref.clone())
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
        if !from.is_empty() && !from.contains(&vm.power) {
            return Err(DriverError(format!(
                "Instance {uuid} is in power state {} and cannot change to {to}",
                vm.power
            )));
        }
        vm.power = to;
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
        self.vms.lock().unwrap_or_else(|p| p.into_inner()).insert(
            spec.uuid.clone(),
            FakeVm {
                name: spec.name.clone(),
                power: power::RUNNING,
                root_gb: spec.root_gb,
                image_ref: spec.image_ref.clone(),
            },
        );
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
        let mut vms = self.vms.lock().unwrap_or_else(|p| p.into_inner());
        match vms.get_mut(&spec.uuid) {
            Some(vm) => {
                vm.root_gb = spec.root_gb;
                Ok(())
            }
            None => Err(DriverError(format!(
                "Instance {} could not be found.",
                spec.uuid
            ))),
        }
    }
    async fn power_state(&self, uuid: &str) -> i64 {
        self.vms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(uuid)
            .map_or(power::NOSTATE, |v| v.power)
    }
    async fn console_output(&self, uuid: &str) -> Result<String, DriverError> {
        let vms = self.vms.lock().unwrap_or_else(|p| p.into_inner());
        let name = &vms
            .get(uuid)
            .ok_or_else(|| DriverError(format!("Instance {uuid} could not be found.")))?
            .name;
        Ok(format!(
            "FAKE CONSOLE OUTPUT\n{name} login: \nANOTHER\nLAST LINE\n"
        ))
    }
    /// The fake's servers have no disk data: a snapshot is an empty qcow2 image of the
    /// root disk's size. Copying it takes half of [`FakeDriver::with_snapshot_time`]'s
    /// time, its data arrives in paced chunks over the other half.
    async fn snapshot(&self, uuid: &str) -> Result<ImageData, DriverError> {
        let root_gb = self
            .vms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(uuid)
            .map(|vm| vm.root_gb)
            .ok_or_else(|| DriverError(format!("Instance {uuid} could not be found.")))?;
        let half = self.snapshot_time / 2;
        tokio::time::sleep(half).await;
        let mut steps = self.snapshot_steps.subscribe();
        let _ = steps.wait_for(|n| *n >= 1).await;
        let data = empty_qcow2(u64::try_from(root_gb).unwrap_or(0) << 30);
        let size = data.len().div_ceil(SNAPSHOT_CHUNKS).max(1);
        let mut chunks: Vec<Bytes> = Vec::new();
        let mut at = 0;
        while at < data.len() {
            chunks.push(data.slice(at..(at + size).min(data.len())));
            at += size;
        }
        let pace = half / u32::try_from(chunks.len().max(1)).unwrap_or(1);
        let last = chunks.len().saturating_sub(1);
        let paced =
            futures_util::stream::iter(chunks.into_iter().enumerate()).then(move |(i, chunk)| {
                let mut steps = steps.clone();
                async move {
                    tokio::time::sleep(pace).await;
                    if i == last {
                        let _ = steps.wait_for(|n| *n >= 2).await;
                    }
                    Ok(chunk)
                }
            });
        Ok(Box::pin(paced))
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

/// An empty qcow2 (version 3, 64 KiB clusters) image of `size` bytes, as
/// `qemu-img create -f qcow2` writes it: the header, a refcount table and block, and an
/// L1 table with no L2 tables (every cluster reads as zeros).
fn empty_qcow2(size: u64) -> Bytes {
    const CLUSTER: u64 = 1 << 16;
    // One L2 table maps CLUSTER / 8 clusters.
    let l1_entries = size.div_ceil(CLUSTER * (CLUSTER / 8));
    let (refcount_table, refcount_block, l1_table) = (CLUSTER, 2 * CLUSTER, 3 * CLUSTER);
    let l1_clusters = (l1_entries * 8).div_ceil(CLUSTER);
    let mut h = Vec::with_capacity(104);
    h.extend_from_slice(b"QFI\xfb");
    h.extend_from_slice(&3u32.to_be_bytes()); // version
    h.extend_from_slice(&0u64.to_be_bytes()); // backing file offset
    h.extend_from_slice(&0u32.to_be_bytes()); // backing file name length
    h.extend_from_slice(&16u32.to_be_bytes()); // cluster bits
    h.extend_from_slice(&size.to_be_bytes());
    h.extend_from_slice(&0u32.to_be_bytes()); // no encryption
    h.extend_from_slice(&u32::try_from(l1_entries).unwrap_or(u32::MAX).to_be_bytes());
    h.extend_from_slice(&l1_table.to_be_bytes());
    h.extend_from_slice(&refcount_table.to_be_bytes());
    h.extend_from_slice(&1u32.to_be_bytes()); // refcount table clusters
    h.extend_from_slice(&0u32.to_be_bytes()); // snapshots
    h.extend_from_slice(&0u64.to_be_bytes()); // snapshots offset
    h.extend_from_slice(&[0u8; 24]); // incompatible, compatible, autoclear features
    h.extend_from_slice(&4u32.to_be_bytes()); // 16-bit refcounts
    h.extend_from_slice(&104u32.to_be_bytes()); // header length
    let len = l1_table + l1_entries * 8;
    let mut image = vec![0u8; usize::try_from(len).unwrap_or(0)];
    image[..h.len()].copy_from_slice(&h);
    let at = |o: u64| usize::try_from(o).unwrap_or(0);
    image[at(refcount_table)..at(refcount_table) + 8]
        .copy_from_slice(&refcount_block.to_be_bytes());
    // Header, refcount table, refcount block and the L1 table's clusters are in use.
    for c in 0..3 + l1_clusters {
        let o = at(refcount_block + c * 2);
        image[o..o + 2].copy_from_slice(&1u16.to_be_bytes());
    }
    Bytes::from(image)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_qcow2_states_its_size_and_layout() {
        let be32 = |b: &[u8], o: usize| u32::from_be_bytes(b[o..o + 4].try_into().expect("4"));
        let be64 = |b: &[u8], o: usize| u64::from_be_bytes(b[o..o + 8].try_into().expect("8"));
        let img = empty_qcow2(1 << 30);
        assert_eq!(&img[..4], b"QFI\xfb");
        assert_eq!(be32(&img, 4), 3);
        assert_eq!(be64(&img, 24), 1 << 30);
        // 1 GiB needs two L2 tables of 512 MiB each.
        assert_eq!(be32(&img, 36), 2);
        assert_eq!(img.len(), 3 * 65536 + 16);
        assert_eq!(be64(&img, 65536), 2 * 65536);
        assert_eq!(
            &img[2 * 65536..2 * 65536 + 10],
            &[0, 1, 0, 1, 0, 1, 0, 1, 0, 0]
        );
        let none = empty_qcow2(0);
        assert_eq!(
            (be64(&none, 24), be32(&none, 36), none.len()),
            (0, 0, 3 * 65536)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_fake_snapshot_copies_then_uploads_over_its_time() {
        let d = FakeDriver::new(HostResources {
            vcpus: 1,
            memory_mb: 512,
            disk_gb: 10,
        })
        .with_snapshot_time(Duration::from_secs(2));
        let spec = InstanceSpec {
            uuid: "u".into(),
            root_gb: 1,
            ..Default::default()
        };
        d.spawn(&spec).await.expect("spawn");
        let t0 = tokio::time::Instant::now();
        let data = d.snapshot("u").await.expect("snapshot");
        assert_eq!(t0.elapsed(), Duration::from_secs(1));
        let chunks: Vec<Bytes> = data.map(|c| c.expect("chunk")).collect().await;
        assert_eq!(t0.elapsed(), Duration::from_secs(2));
        assert_eq!(chunks.len(), SNAPSHOT_CHUNKS);
        assert_eq!(chunks.concat(), empty_qcow2(1 << 30).to_vec());
        assert!(d.snapshot("nope").await.is_err());
    }
}
