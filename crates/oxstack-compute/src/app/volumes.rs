//! Servers' volumes (`/servers/{id}/os-volume_attachments`), as nova/compute/api.py
//! `attach_volume`/`detach_volume`/`swap_volume` and the volume_attachments controller:
//! the API checks the server, looks the volume up and reserves it (a Cinder attachment
//! without a connector) with the user's token, records the block device mapping with its
//! device name, then asks the server's agent to connect it (an RPC call, so a failure
//! reaches the caller). A server without a host (shelved offloaded) gets the mapping and a
//! completed attachment at once, as Nova's local attach.

use std::collections::HashMap;
use std::sync::Arc;

use oxstack_common::bus::BusError;
use oxstack_common::context::RequestContext;
use oxstack_common::{Error, Result};

use super::servers::state_conflict;
use super::{App, Caller, new_uuid, now};
use crate::clients::{ClientError, VolumeClient, VolumeInfo, cinder_message};
use crate::microversion::Version;
use crate::model::{BlockDeviceMapping, Instance};
use crate::states::{Allowed, NO_TASK, vm};
use crate::volumes::{device_in_use, pick_device};

/// Nova's `check_instance_state` of `attach_volume` and `detach_volume`.
const VOLUME_STATES: Allowed = Allowed::new(
    Some(&[
        vm::ACTIVE,
        vm::PAUSED,
        vm::STOPPED,
        vm::RESIZED,
        vm::SOFT_DELETED,
        vm::SHELVED,
        vm::SHELVED_OFFLOADED,
    ]),
    NO_TASK,
);

/// A parsed `POST /servers/{id}/os-volume_attachments`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VolumeAttachRequest {
    pub volume_id: String,
    pub device: Option<String>,
    pub tag: Option<String>,
    pub delete_on_termination: bool,
}

fn volume_not_found(id: &str) -> Error {
    Error::not_found(format!("Volume {id} could not be found."))
}

fn not_attached(server: &str, volume: &str) -> Error {
    Error::not_found(format!(
        "Instance {server} is not attached to volume {volume}"
    ))
}

/// What Cinder refused, in Nova's words: its 400s are the caller's (`InvalidInput`), a 404
/// is an unknown volume, the rest is ours.
pub(super) fn from_cinder(e: ClientError, volume_id: &str) -> Error {
    match e {
        ClientError::Status {
            status: 400, body, ..
        } => Error::bad_request(format!("Invalid input received: {}", cinder_message(&body))),
        ClientError::Status { status: 404, .. } => volume_not_found(volume_id),
        other => other.into(),
    }
}

impl App {
    fn volume_client(&self) -> Option<&Arc<dyn VolumeClient>> {
        self.volume.as_ref()
    }

    /// The volume as the caller sees it, or 404.
    async fn volume_visible(&self, c: &Caller<'_>, id: &str) -> Result<VolumeInfo> {
        let client = self.volume_client().ok_or_else(|| volume_not_found(id))?;
        let token = c.ctx.token.clone().unwrap_or_default();
        client
            .volume_get(&token, c.project_id(), id)
            .await?
            .ok_or_else(|| volume_not_found(id))
    }

    /// Attaching or detaching on a shelved server needs 2.20.
    fn check_shelved_version(i: &Instance, mv: Version, action: &str) -> Result<()> {
        if matches!(i.vm_state.as_str(), vm::SHELVED | vm::SHELVED_OFFLOADED) && !mv.at_least(20) {
            return Err(Error::conflict(format!(
                "Cannot '{action}' instance {} while it is in vm_state {}",
                i.uuid, i.vm_state
            )));
        }
        Ok(())
    }

    /// `GET /servers/{id}/os-volume_attachments`.
    pub async fn volume_attachment_list(
        &self,
        ctx: &RequestContext,
        id: &str,
        offset: usize,
        limit: Option<usize>,
    ) -> Result<Vec<BlockDeviceMapping>> {
        let c = self.caller(ctx)?;
        let i = self
            .server_for(&c, id, "os_compute_api:os-volumes-attachments:index")
            .await?;
        Ok(self
            .store
            .bdm_list(&i.uuid)
            .await?
            .into_iter()
            .filter(|m| m.volume_id.is_some())
            .skip(offset)
            .take(limit.unwrap_or(usize::MAX))
            .collect())
    }

    /// `GET /servers/{id}/os-volume_attachments/{volume_id}`.
    pub async fn volume_attachment_show(
        &self,
        ctx: &RequestContext,
        id: &str,
        volume_id: &str,
    ) -> Result<BlockDeviceMapping> {
        let c = self.caller(ctx)?;
        let i = self
            .server_for(&c, id, "os_compute_api:os-volumes-attachments:show")
            .await?;
        self.store
            .bdm_get_by_volume(&i.uuid, volume_id)
            .await?
            .ok_or_else(|| not_attached(id, volume_id))
    }

    /// `POST /servers/{id}/os-volume_attachments`: answers the new mapping once the volume
    /// is connected.
    pub async fn volume_attach(
        &self,
        ctx: &RequestContext,
        id: &str,
        r: VolumeAttachRequest,
        mv: Version,
    ) -> Result<BlockDeviceMapping> {
        let c = self.caller(ctx)?;
        let i = self
            .server_for(&c, id, "os_compute_api:os-volumes-attachments:create")
            .await?;
        Self::check_shelved_version(&i, mv, "attach_volume")?;
        Self::check_locked(&c, &i)?;
        if !VOLUME_STATES.permits(&i.vm_state, i.task_state.as_deref()) {
            return Err(state_conflict(&i, "attach_volume"));
        }
        let volume = self.volume_visible(&c, &r.volume_id).await?;
        // Cinder lets one server hold two attachments of a volume; Nova does not, nor a
        // second server a volume that is not multiattach.
        let holders = self.store.bdm_list_by_volume(&volume.id).await?;
        if !holders.is_empty() && !volume.multiattach {
            let servers: Vec<&str> = holders.iter().map(|m| m.instance_uuid.as_str()).collect();
            return Err(Error::bad_request(format!(
                "Invalid volume: volume {} is already attached to instances: {}",
                volume.id,
                servers.join(" ")
            )));
        }
        if holders.iter().any(|m| m.instance_uuid == i.uuid) {
            return Err(Error::bad_request(format!(
                "Invalid volume: volume {} already attached",
                volume.id
            )));
        }
        if volume.multiattach && !mv.at_least(60) {
            return Err(Error::bad_request(
                "Multiattach volumes are only supported starting with compute API version 2.60.",
            ));
        }
        if !volume.multiattach && volume.status != "available" {
            return Err(Error::bad_request(format!(
                "Invalid volume: volume '{}' status must be 'available'. Currently in '{}'",
                volume.id, volume.status
            )));
        }
        let client = self
            .volume_client()
            .cloned()
            .ok_or_else(|| volume_not_found(&r.volume_id))?;
        let token = c.ctx.token.clone().unwrap_or_default();
        let local = i.vm_state == vm::SHELVED_OFFLOADED || i.host.is_none();
        if local && r.tag.is_some() {
            return Err(Error::bad_request(
                "Tagged volume attachment is not supported for shelved-offloaded instances.",
            ));
        }
        // A concurrent attach may take the device picked here: the store refuses the
        // second mapping, and a device we picked ourselves is picked again.
        let mut tries = 0;
        let bdm = loop {
            tries += 1;
            let used: Vec<String> = self
                .store
                .bdm_list(&i.uuid)
                .await?
                .into_iter()
                .filter_map(|m| m.device_name)
                .collect();
            let device = if local {
                // The host that unshelves the server names the device.
                None
            } else {
                Some(pick_device(&used, r.device.as_deref())?)
            };
            let bdm = BlockDeviceMapping {
                uuid: new_uuid(),
                instance_uuid: i.uuid.clone(),
                volume_id: Some(volume.id.clone()),
                attachment_id: None,
                device_name: device.clone(),
                source_type: "volume".into(),
                destination_type: "volume".into(),
                delete_on_termination: r.delete_on_termination,
                tag: r.tag.clone(),
                boot_index: None,
                created_at: now(),
            };
            match self.store.bdm_create(&bdm).await {
                Ok(()) => break bdm,
                Err(crate::store::StoreError::Duplicate) if r.device.is_none() && tries < 5 => {}
                Err(crate::store::StoreError::Duplicate) => {
                    return Err(device_in_use(device.as_deref().unwrap_or_default()));
                }
                Err(e) => return Err(e.into()),
            }
        };
        let undo = |app: &App, bdm: &BlockDeviceMapping| {
            let (store, uuid) = (app.store.clone(), bdm.uuid.clone());
            async move {
                if let Err(e) = store.bdm_delete(&uuid, now()).await {
                    tracing::warn!(bdm = %uuid, error = %e, "mapping of a failed attach not deleted");
                }
            }
        };
        let attachment = match client
            .attachment_create(&token, c.project_id(), &volume.id, &i.uuid)
            .await
        {
            Ok(a) => a,
            Err(e) => {
                undo(self, &bdm).await;
                return Err(from_cinder(e, &volume.id));
            }
        };
        self.store
            .bdm_set_attachment(&bdm.uuid, Some(&attachment.id))
            .await?;
        self.record_action(&c, &i, "attach_volume").await?;
        let Some(host) = i.host.clone().filter(|_| !local) else {
            // Completed without a connector so the volume is in-use, as Nova's old flow
            // had it; the host that unshelves the server connects it.
            if let Err(e) = client
                .attachment_complete(&i.project_id, &attachment.id)
                .await
            {
                let _ = client
                    .attachment_delete(&i.project_id, &attachment.id)
                    .await;
                undo(self, &bdm).await;
                return Err(from_cinder(e, &volume.id));
            }
            return Ok(BlockDeviceMapping {
                attachment_id: Some(attachment.id),
                ..bdm
            });
        };
        match self
            .rpc
            .attach_volume(&host, &c.rpc(), &i.uuid, &bdm.uuid)
            .await
        {
            Ok(_) => {}
            Err(BusError::Remote { message, .. }) => {
                // The agent deleted the attachment and the mapping.
                return Err(Error::bad_request(format!(
                    "Volume {} could not be attached. Reason: {message}",
                    volume.id
                )));
            }
            Err(other) => return Err(Error::internal("rpc", other)),
        }
        Ok(BlockDeviceMapping {
            attachment_id: Some(attachment.id),
            ..bdm
        })
    }

    /// `DELETE /servers/{id}/os-volume_attachments/{volume_id}`: the agent unplugs the
    /// volume and deletes the attachment (202; the volume goes available when it is done).
    pub async fn volume_detach(
        &self,
        ctx: &RequestContext,
        id: &str,
        volume_id: &str,
        mv: Version,
    ) -> Result<()> {
        let c = self.caller(ctx)?;
        let i = self
            .server_for(&c, id, "os_compute_api:os-volumes-attachments:delete")
            .await?;
        Self::check_shelved_version(&i, mv, "detach_volume")?;
        let volume = self.volume_visible(&c, volume_id).await?;
        let bdm = self
            .store
            .bdm_get_by_volume(&i.uuid, &volume.id)
            .await?
            .ok_or_else(|| not_attached(id, volume_id))?;
        if bdm.boot_index == Some(0) {
            return Err(Error::bad_request("Cannot detach a root device volume"));
        }
        Self::check_locked(&c, &i)?;
        if !VOLUME_STATES.permits(&i.vm_state, i.task_state.as_deref()) {
            return Err(state_conflict(&i, "detach_volume"));
        }
        let local = i.vm_state == vm::SHELVED_OFFLOADED || i.host.is_none();
        if !local && volume.status != "in-use" {
            return Err(Error::bad_request(format!(
                "Invalid volume: Unable to detach volume. Volume status must be 'in-use' and attach_status must be 'attached' to detach. Currently: status: '{}'",
                volume.status
            )));
        }
        self.record_action(&c, &i, "detach_volume").await?;
        match (&i.host, local) {
            (Some(host), false) => {
                self.rpc
                    .cast(
                        host,
                        "detach_volume",
                        &c.rpc(),
                        &i.uuid,
                        serde_json::json!({"volume_id": volume.id}),
                    )
                    .await
                    .map_err(|e| Error::internal("rpc", e))?;
            }
            _ => {
                if let (Some(client), Some(a)) = (self.volume_client(), &bdm.attachment_id) {
                    client
                        .attachment_delete(&i.project_id, a)
                        .await
                        .map_err(|e| from_cinder(e, &volume.id))?;
                }
                if bdm.delete_on_termination
                    && let Some(client) = self.volume_client()
                    && let Err(e) = client.volume_delete(&i.project_id, &volume.id).await
                {
                    tracing::warn!(volume = %volume.id, error = %oxstack_common::http::error_chain(&e), "detached volume not deleted");
                }
                self.store.bdm_delete(&bdm.uuid, now()).await?;
            }
        }
        Ok(())
    }

    /// `PUT /servers/{id}/os-volume_attachments/{volume_id}` (before 2.85: always a swap).
    /// Nova only swaps a volume Cinder is migrating; volumes here never migrate, so every
    /// allowed request ends in Nova's 409.
    pub async fn volume_swap(
        &self,
        ctx: &RequestContext,
        id: &str,
        old_volume_id: &str,
        new_volume_id: &str,
    ) -> Result<()> {
        let c = self.caller(ctx)?;
        let i = self
            .store
            .instance_get(id, false)
            .await?
            .filter(|i| c.is_admin || i.project_id == c.project_id())
            .ok_or_else(|| super::servers::server_not_found(id))?;
        self.authorize(
            &c,
            "os_compute_api:os-volumes-attachments:swap",
            &serde_json::json!({}),
        )?;
        let old = self.volume_visible(&c, old_volume_id).await?;
        if old.migration_status.is_none() {
            return Err(Error::conflict(format!(
                "volume {old_volume_id} is not migrating; this API should only be called by Cinder"
            )));
        }
        // An unknown new volume is in the body, not the path: 400, as Nova has it.
        self.volume_visible(&c, new_volume_id)
            .await
            .map_err(|e| match e.kind {
                oxstack_common::error::ErrorKind::NotFound => Error::bad_request(e.message),
                _ => e,
            })?;
        if self
            .store
            .bdm_get_by_volume(&i.uuid, &old.id)
            .await?
            .is_none()
        {
            return Err(not_attached(id, &old.id));
        }
        // TODO-correctness: swap with a driver that can copy a guest's disk live.
        Err(Error::conflict(format!(
            "Cannot 'swap_volume' instance {}: the compute driver does not support swapping volumes",
            i.uuid
        )))
    }

    /// The volumes of each of `instances` (for `os-extended-volumes:volumes_attached`).
    pub async fn volumes_attached(
        &self,
        instances: &[String],
    ) -> Result<HashMap<String, Vec<BlockDeviceMapping>>> {
        let mut out: HashMap<String, Vec<BlockDeviceMapping>> = HashMap::new();
        for m in self.store.bdm_list_of(instances).await? {
            if m.volume_id.is_some() {
                out.entry(m.instance_uuid.clone()).or_default().push(m);
            }
        }
        Ok(out)
    }

    /// Takes every volume back from a server deleted without its agent.
    pub(crate) async fn release_volumes(&self, uuid: &str) -> Result<()> {
        let Some(i) = self.store.instance_get(uuid, false).await? else {
            return Ok(());
        };
        crate::volumes::release(self.volume.as_deref(), &self.store, &i, now())
            .await
            .map_err(|e| Error::internal("volumes", std::io::Error::other(e)))
    }
}
