//! The compute agent's RPC interface over the bus (topic `compute.<host>`), as
//! nova/compute/rpcapi.py is Nova's. The API side uses [`ComputeRpc`]; the agent serves the
//! same methods (see [`crate::agent`]).
//!
//! Version history (bump the minor version for additive changes; the agent refuses a
//! message whose major version it does not speak):
//! - 1.0: build_and_run_instance (call), terminate_instance, reboot_instance (reboot_type),
//!   stop_instance, start_instance, pause_instance, unpause_instance, suspend_instance,
//!   resume_instance, finish_resize (same host), confirm_resize, revert_resize,
//!   snapshot_instance (image_id) (casts), get_console_output (call, length)
//! - 1.1: rebuild_instance, shelve_instance (offload), shelve_offload_instance,
//!   unshelve_instance, rescue_instance, unrescue_instance (casts)
//! - 1.2: attach_interface (call: `request`, a `NetworkRequest`; answers the port),
//!   detach_interface (cast: port_id), refresh_network_info (cast)
//! - 1.3: snapshot_instance carries `auth_token`, the token of the user who asked: the
//!   agent uploads the disk into their image with it; for a backup, `backup_type` and
//!   `rotation` (the agent deletes that server's older backups of the type beyond it)
//! - 1.4: attach_volume (call: `bdm_uuid`, the mapping the API made with the reserved
//!   attachment; answers `{"device"}`; on failure the agent deletes the attachment and the
//!   mapping), detach_volume (cast: `volume_id`)

use std::sync::Arc;
use std::time::Duration;

use oxstack_common::bus::{Bus, BusError, Message};
use serde_json::{Value, json};

use crate::clients::{FixedIp, PortInfo};
use crate::model::NetworkRequest;

/// The version this side speaks.
pub const VERSION: &str = "1.4";
/// The major version the agent accepts.
pub const MAJOR: &str = "1";

/// How long a build may take before the conductor gives up on the host.
pub const BUILD_TIMEOUT: Duration = Duration::from_secs(600);
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// The bus topic of a host's agent.
pub fn topic(host: &str) -> String {
    format!("compute.{host}")
}

/// Who asked, carried in every message so the agent records events under the right action.
#[derive(Debug, Clone)]
pub struct RpcContext {
    pub request_id: String,
    pub global_request_id: String,
}

/// The API side of the compute RPC interface.
#[derive(Debug, Clone)]
pub struct ComputeRpc {
    bus: Arc<dyn Bus>,
}

impl ComputeRpc {
    pub fn new(bus: Arc<dyn Bus>) -> Self {
        Self { bus }
    }

    fn message(method: &str, ctx: &RpcContext, args: Value) -> Message {
        Message {
            method: method.into(),
            version: VERSION.into(),
            args,
            request_id: Some(ctx.request_id.clone()),
            global_request_id: Some(ctx.global_request_id.clone()),
        }
    }

    /// Builds the server on `host` and waits for the outcome (the conductor reschedules on
    /// failure).
    pub async fn build_and_run_instance(
        &self,
        host: &str,
        ctx: &RpcContext,
        instance_uuid: &str,
    ) -> Result<(), BusError> {
        self.bus
            .call(
                &topic(host),
                Self::message(
                    "build_and_run_instance",
                    ctx,
                    json!({"instance_uuid": instance_uuid}),
                ),
                BUILD_TIMEOUT,
            )
            .await
            .map(|_| ())
    }

    /// A one-way instance operation (`terminate_instance`, `reboot_instance`, ...).
    pub async fn cast(
        &self,
        host: &str,
        method: &str,
        ctx: &RpcContext,
        instance_uuid: &str,
        extra: Value,
    ) -> Result<(), BusError> {
        let mut args = json!({"instance_uuid": instance_uuid});
        if let (Some(a), Value::Object(e)) = (args.as_object_mut(), extra) {
            a.extend(e);
        }
        self.bus
            .cast(&topic(host), Self::message(method, ctx, args))
            .await
    }

    /// Plugs a new interface into a server and answers its port.
    pub async fn attach_interface(
        &self,
        host: &str,
        ctx: &RpcContext,
        instance_uuid: &str,
        request: &NetworkRequest,
    ) -> Result<PortInfo, BusError> {
        let v = self
            .bus
            .call(
                &topic(host),
                Self::message(
                    "attach_interface",
                    ctx,
                    json!({"instance_uuid": instance_uuid, "request": request}),
                ),
                CALL_TIMEOUT,
            )
            .await?;
        Ok(port_of(&v))
    }

    /// Connects a reserved volume to a server and waits for the outcome.
    pub async fn attach_volume(
        &self,
        host: &str,
        ctx: &RpcContext,
        instance_uuid: &str,
        bdm_uuid: &str,
    ) -> Result<Value, BusError> {
        self.bus
            .call(
                &topic(host),
                Self::message(
                    "attach_volume",
                    ctx,
                    json!({"instance_uuid": instance_uuid, "bdm_uuid": bdm_uuid}),
                ),
                CALL_TIMEOUT,
            )
            .await
    }

    pub async fn get_console_output(
        &self,
        host: &str,
        ctx: &RpcContext,
        instance_uuid: &str,
        length: Option<i64>,
    ) -> Result<String, BusError> {
        let v = self
            .bus
            .call(
                &topic(host),
                Self::message(
                    "get_console_output",
                    ctx,
                    json!({"instance_uuid": instance_uuid, "length": length}),
                ),
                CALL_TIMEOUT,
            )
            .await?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }
}

/// The port an agent answers `attach_interface` with.
pub fn port_value(p: &PortInfo) -> Value {
    json!({
        "id": p.id, "network_id": p.network_id, "mac_address": p.mac_address,
        "fixed_ips": p.fixed_ips, "status": p.status, "device_id": p.device_id,
    })
}

fn port_of(v: &Value) -> PortInfo {
    let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
    PortInfo {
        id: s("id"),
        network_id: s("network_id"),
        mac_address: s("mac_address"),
        fixed_ips: serde_json::from_value::<Vec<FixedIp>>(v["fixed_ips"].clone())
            .unwrap_or_default(),
        status: s("status"),
        device_id: s("device_id"),
        ..Default::default()
    }
}
