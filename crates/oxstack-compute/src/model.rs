//! The compute service's records, as the store returns them. No HTTP types.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A flavor: the size of a server.
#[derive(Debug, Clone, PartialEq)]
pub struct Flavor {
    /// The API id (`flavorid`).
    pub id: String,
    pub name: String,
    pub memory_mb: i64,
    pub vcpus: i64,
    pub root_gb: i64,
    pub ephemeral_gb: i64,
    pub swap: i64,
    pub rxtx_factor: f64,
    pub is_public: bool,
    pub disabled: bool,
    pub description: Option<String>,
    pub extra_specs: BTreeMap<String, String>,
    pub created_at: i64,
}

/// The copy of a flavor kept with a server (it survives the flavor's deletion).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlavorSnapshot {
    pub flavorid: String,
    pub name: String,
    pub memory_mb: i64,
    pub vcpus: i64,
    pub root_gb: i64,
    pub ephemeral_gb: i64,
    pub swap: i64,
    #[serde(default)]
    pub extra_specs: BTreeMap<String, String>,
}

impl From<&Flavor> for FlavorSnapshot {
    fn from(f: &Flavor) -> Self {
        FlavorSnapshot {
            flavorid: f.id.clone(),
            name: f.name.clone(),
            memory_mb: f.memory_mb,
            vcpus: f.vcpus,
            root_gb: f.root_gb,
            ephemeral_gb: f.ephemeral_gb,
            swap: f.swap,
            extra_specs: f.extra_specs.clone(),
        }
    }
}

/// A keypair of one user.
#[derive(Debug, Clone, PartialEq)]
pub struct Keypair {
    pub id: i64,
    pub user_id: String,
    pub name: String,
    pub fingerprint: String,
    pub public_key: String,
    /// `ssh` or `x509`.
    pub key_type: String,
    pub created_at: i64,
}

/// A server.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    pub uuid: String,
    pub name: String,
    pub description: Option<String>,
    pub project_id: String,
    pub user_id: String,
    pub image_ref: String,
    pub flavor: FlavorSnapshot,
    /// The flavor before a resize, while it awaits confirmation.
    pub old_flavor: Option<FlavorSnapshot>,
    /// The flavor a resize moves to.
    pub new_flavor: Option<FlavorSnapshot>,
    pub vm_state: String,
    pub task_state: Option<String>,
    pub power_state: i64,
    pub host: Option<String>,
    pub node: Option<String>,
    pub availability_zone: Option<String>,
    pub key_name: Option<String>,
    pub key_data: Option<String>,
    pub user_data: Option<String>,
    pub config_drive: String,
    pub access_ip_v4: Option<String>,
    pub access_ip_v6: Option<String>,
    /// `owner` or `admin` when locked.
    pub locked_by: Option<String>,
    pub reservation_id: String,
    pub launch_index: i64,
    pub hostname: String,
    pub progress: i64,
    pub security_groups: Vec<String>,
    /// The requested networks, as the API resolved them: a JSON list of
    /// [`NetworkRequest`]s (rows from before networking hold `"auto"` or `"none"`: no ports).
    pub networks: String,
    /// The server's ports as the agent bound them (Nova's network info cache): what
    /// `addresses` shows.
    pub network_info: Vec<Vif>,
    pub launched_at: Option<i64>,
    pub terminated_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub deleted: bool,
    /// `OS-DCF:diskConfig` AUTO (the guest's root partition is grown to the disk) or MANUAL.
    pub auto_disk_config: bool,
    pub metadata: BTreeMap<String, String>,
    pub tags: Vec<String>,
}

/// One network a server asked for: a port to create on `network_id` (with `fixed_ip`), or
/// the user's own `port_id`.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct NetworkRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Security group ids for a port compute creates (`None`: the project's `default`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_groups: Option<Vec<String>>,
}

/// One port of a server (a virtual interface), as `addresses` and the config drive need it.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Vif {
    pub port_id: String,
    pub mac_address: String,
    pub network_id: String,
    /// The network's name: the key of the port's addresses in `addresses`.
    pub network_label: String,
    pub fixed_ips: Vec<crate::clients::FixedIp>,
    #[serde(default)]
    pub floating_ips: Vec<String>,
    /// The user brought the port: deleting the server unbinds it instead of deleting it.
    #[serde(default)]
    pub preserve_on_delete: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<i64>,
}

impl Instance {
    /// The networks the server asked for (none for rows from before networking).
    pub fn network_requests(&self) -> Vec<NetworkRequest> {
        serde_json::from_str(&self.networks).unwrap_or_default()
    }

    /// Nova's `instance_name_template` (`instance-%08x`), from the uuid.
    pub fn instance_name(&self) -> String {
        format!("instance-{}", &self.uuid.replace('-', "")[..8])
    }
}

/// The last fault of a server.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub code: i64,
    pub message: String,
    pub details: Option<String>,
    pub created_at: i64,
}

/// One user request on a server (`os-instance-actions`).
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceAction {
    pub instance_uuid: String,
    pub request_id: String,
    pub action: String,
    pub project_id: String,
    pub user_id: String,
    pub start_time: i64,
    pub updated_at: i64,
    pub message: Option<String>,
}

/// One step of an action.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionEvent {
    pub event: String,
    pub start_time: i64,
    pub finish_time: Option<i64>,
    /// `Success` / `Error`, or none while running.
    pub result: Option<String>,
    pub traceback: Option<String>,
    pub host: Option<String>,
}

/// A service (`nova-compute` on a host).
#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub id: i64,
    pub uuid: String,
    pub host: String,
    pub binary: String,
    pub topic: String,
    pub disabled: bool,
    pub disabled_reason: Option<String>,
    pub forced_down: bool,
    pub last_seen_up: Option<i64>,
    pub created_at: i64,
    pub updated_at: Option<i64>,
}

/// A hypervisor: the compute node of a host.
#[derive(Debug, Clone, PartialEq)]
pub struct ComputeNode {
    pub id: i64,
    pub uuid: String,
    pub host: String,
    pub hypervisor_hostname: String,
    pub hypervisor_type: String,
    pub hypervisor_version: i64,
    pub host_ip: String,
    pub vcpus: i64,
    pub memory_mb: i64,
    pub local_gb: i64,
    pub service_id: i64,
    /// The driver's `cpu_info` (JSON text; empty before migration 3).
    pub cpu_info: String,
}

/// A server group.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerGroup {
    pub uuid: String,
    pub name: String,
    pub project_id: String,
    pub user_id: String,
    pub policy: String,
    pub members: Vec<String>,
    pub created_at: i64,
}

/// A block device mapping: one disk of a server (Nova's `BlockDeviceMapping`). Only attached
/// volumes (`source_type` and `destination_type` `volume`) are recorded so far.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockDeviceMapping {
    /// Nova's `bdm_uuid`.
    pub uuid: String,
    pub instance_uuid: String,
    pub volume_id: Option<String>,
    /// The Cinder attachment (set once the volume is reserved).
    pub attachment_id: Option<String>,
    /// `/dev/vdb`, ... (the root disk is `/dev/vda`).
    pub device_name: Option<String>,
    pub source_type: String,
    pub destination_type: String,
    pub delete_on_termination: bool,
    pub tag: Option<String>,
    pub boot_index: Option<i64>,
    pub created_at: i64,
}

/// A host aggregate: a named group of compute hosts with metadata (its availability zone is
/// the `availability_zone` metadata item, as in Nova).
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregate {
    pub id: i64,
    pub uuid: String,
    pub name: String,
    pub hosts: Vec<String>,
    pub metadata: BTreeMap<String, String>,
    pub created_at: i64,
    pub updated_at: Option<i64>,
}
