//! The compute service's configuration section (`[compute]`).

use std::path::PathBuf;

use serde::Deserialize;

/// `[compute]`: every option has a default; see docs/CONFIGURATION.md.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ComputeConfig {
    /// Port of the Nova v2.1 API.
    pub port: u16,
    /// The placement API, until endpoints are discovered from the catalog.
    pub placement_url: String,
    /// The image API, until endpoints are discovered from the catalog.
    pub image_url: String,
    /// The networking API when it does not run on this node; unset (and not local): servers
    /// get no ports.
    pub network_url: Option<String>,
    /// The block storage API (Cinder v3) when it does not run on this node; unset (and not
    /// local): servers cannot attach volumes.
    pub volume_url: Option<String>,
    /// The name this node's compute agent registers as (`os-services` host, hypervisor
    /// hostname, RPC topic `compute.<host>`); default: the machine's host name.
    pub host: Option<String>,
    /// The compute driver of this node's agent: `fake` (in memory; instant but for
    /// snapshots, see `fake_snapshot_ms`) or `qemu` (a
    /// qemu-system-x86_64 process per server; see `[compute.qemu]`).
    pub driver: String,
    /// Seconds between the agent's power-state sync (Nova's `sync_power_state_interval`):
    /// a guest that powered itself off is recorded SHUTOFF.
    pub sync_power_state_interval_secs: u64,
    /// The qemu driver's settings.
    pub qemu: QemuConfig,
    /// The availability zone of compute hosts (Nova's `default_availability_zone`).
    pub default_availability_zone: String,
    /// How many times a failed build is tried on another host before the server goes to
    /// ERROR (Nova's `max_attempts` is retries + 1).
    pub build_retries: u32,
    /// Algorithm of keypairs the API generates: `rsa` (2048 bits, as Nova) or `ed25519`.
    pub keypair_generate_algorithm: String,
    /// Seconds between agent heartbeats; a service is `down` after 6 missed beats
    /// (Nova's `report_interval` and `service_down_time`).
    pub report_interval_secs: u64,
    /// Resources the fake driver reports.
    pub fake_vcpus: u32,
    pub fake_memory_mb: u64,
    pub fake_disk_gb: u64,
    /// Milliseconds a fake driver's snapshot takes (half copying the disk, half uploading
    /// it), so that its task and image states can be seen as a real one's can.
    pub fake_snapshot_ms: u64,
    /// Default quotas (Nova's `[quota]` section; -1 = unlimited).
    pub quota: QuotaDefaults,
    /// An oslo.policy YAML file overriding individual default rules.
    pub policy_file: Option<PathBuf>,
}

/// `[compute.qemu]`: the qemu driver.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QemuConfig {
    /// The emulator to run.
    pub binary: PathBuf,
    /// qemu-img, for the per-server qcow2 overlays.
    pub qemu_img: PathBuf,
    /// Where instance directories (`<uuid>/`: overlay, console log, QMP socket, pid file)
    /// and the image cache (`_base/`) live; default: `<data_dir>/instances`.
    pub instances_path: Option<PathBuf>,
    /// `auto` (KVM when /dev/kvm runs a probe guest, else TCG), `kvm` or `tcg`.
    pub accel: String,
    /// The machine type (`-machine`).
    pub machine: String,
    /// Seconds a guest gets to power off on ACPI before it is stopped by force (Nova's
    /// `shutdown_timeout`).
    pub shutdown_timeout_secs: u64,
    /// Attach a config drive to every server, asked for or not (Nova's `force_config_drive`).
    pub force_config_drive: bool,
    /// The kernel command line of direct kernel boots when the image has no
    /// `os_command_line` property.
    pub default_kernel_cmdline: String,
    /// Host resources to report instead of the machine's (0 = the machine's).
    pub vcpus: u32,
    pub memory_mb: u64,
    pub disk_gb: u64,
}

impl Default for QemuConfig {
    fn default() -> Self {
        Self {
            binary: "qemu-system-x86_64".into(),
            qemu_img: "qemu-img".into(),
            instances_path: None,
            accel: "auto".into(),
            machine: "q35".into(),
            shutdown_timeout_secs: 60,
            force_config_drive: false,
            default_kernel_cmdline: "root=/dev/vda console=ttyS0".into(),
            vcpus: 0,
            memory_mb: 0,
            disk_gb: 0,
        }
    }
}

/// Default quota limits, applied to projects without their own.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QuotaDefaults {
    pub instances: i64,
    pub cores: i64,
    pub ram: i64,
    pub metadata_items: i64,
    pub injected_files: i64,
    pub injected_file_content_bytes: i64,
    pub injected_file_path_length: i64,
    pub key_pairs: i64,
    pub server_groups: i64,
    pub server_group_members: i64,
}

impl Default for QuotaDefaults {
    fn default() -> Self {
        Self {
            instances: 10,
            cores: 20,
            ram: 51200,
            metadata_items: 128,
            injected_files: 5,
            injected_file_content_bytes: 10240,
            injected_file_path_length: 255,
            key_pairs: 100,
            server_groups: 10,
            server_group_members: 10,
        }
    }
}

impl Default for ComputeConfig {
    fn default() -> Self {
        Self {
            port: 8774,
            placement_url: "http://127.0.0.1:8778".into(),
            image_url: "http://127.0.0.1:9292".into(),
            network_url: None,
            volume_url: None,
            host: None,
            driver: "fake".into(),
            sync_power_state_interval_secs: 60,
            qemu: QemuConfig::default(),
            default_availability_zone: "nova".into(),
            build_retries: 3,
            keypair_generate_algorithm: "rsa".into(),
            report_interval_secs: 10,
            fake_vcpus: 64,
            fake_memory_mb: 131072,
            fake_disk_gb: 2048,
            fake_snapshot_ms: 1000,
            quota: QuotaDefaults::default(),
            policy_file: None,
        }
    }
}

impl ComputeConfig {
    /// Checks values serde cannot, naming the key.
    pub fn validate(&self) -> Result<(), String> {
        if !matches!(self.driver.as_str(), "fake" | "qemu") {
            return Err(format!(
                "key `compute.driver`: unknown driver {:?} (available: fake, qemu)",
                self.driver
            ));
        }
        if !matches!(self.qemu.accel.as_str(), "auto" | "kvm" | "tcg") {
            return Err(format!(
                "key `compute.qemu.accel`: must be auto, kvm or tcg, got {:?}",
                self.qemu.accel
            ));
        }
        if self.sync_power_state_interval_secs == 0 {
            return Err("key `compute.sync_power_state_interval_secs`: must be positive".into());
        }
        if !matches!(self.keypair_generate_algorithm.as_str(), "rsa" | "ed25519") {
            return Err(format!(
                "key `compute.keypair_generate_algorithm`: must be rsa or ed25519, got {:?}",
                self.keypair_generate_algorithm
            ));
        }
        if self.report_interval_secs == 0 {
            return Err("key `compute.report_interval_secs`: must be positive".into());
        }
        let network = self.network_url.clone().unwrap_or_else(|| "http://".into());
        let volume = self.volume_url.clone().unwrap_or_else(|| "http://".into());
        for (k, u) in [
            ("placement_url", &self.placement_url),
            ("image_url", &self.image_url),
            ("network_url", &network),
            ("volume_url", &volume),
        ] {
            if !u.starts_with("http://") {
                return Err(format!(
                    "key `compute.{k}`: must be an http:// URL, got {u:?}"
                ));
            }
        }
        Ok(())
    }

    /// The agent's host name: configured, else the machine's.
    pub fn host_name(&self) -> String {
        if let Some(h) = &self.host {
            return h.clone();
        }
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "localhost".into())
    }
}
