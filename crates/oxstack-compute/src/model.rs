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
    /// The requested networks, as JSON (`"auto"`, `"none"` or a list).
    pub networks: String,
    pub launched_at: Option<i64>,
    pub terminated_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub deleted: bool,
    pub metadata: BTreeMap<String, String>,
    pub tags: Vec<String>,
}

impl Instance {
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
