//! The agent's side of volumes (nova/compute/manager.py `attach_volume`, `detach_volume`):
//! connect the reserved attachment with this host's connector, plug the volume into the
//! server, complete the attachment; or unplug it and delete the attachment. A failed attach
//! leaves nothing behind: the attachment and the mapping are deleted.

use oxstack_common::http::error_chain;
use serde_json::{Value, json};

use super::{Agent, Outcome, VolumeSpec, now};
use crate::model::BlockDeviceMapping;

impl Agent {
    async fn bdm(
        &self,
        uuid: &str,
        pick: impl Fn(&BlockDeviceMapping) -> bool,
    ) -> Option<BlockDeviceMapping> {
        self.store()
            .bdm_list(uuid)
            .await
            .ok()?
            .into_iter()
            .find(pick)
    }

    pub(super) async fn attach_volume(&self, uuid: &str, req: &str, args: &Value) -> Outcome {
        const EV: &str = "compute_attach_volume";
        let client = self.opts.volume.clone().ok_or("no block storage service")?;
        let i = self.load(uuid).await?;
        let bdm_uuid = args["bdm_uuid"].as_str().unwrap_or_default();
        let bdm = self
            .bdm(uuid, |m| m.uuid == bdm_uuid)
            .await
            .ok_or_else(|| format!("Block device mapping {bdm_uuid} could not be found."))?;
        self.event_start(uuid, req, EV).await;
        let result = async {
            let attachment = bdm
                .attachment_id
                .clone()
                .ok_or("the volume is not reserved")?;
            let connector = crate::volumes::connector(&self.opts.host, &self.opts.host_ip);
            let connection_info = client
                .attachment_update(&i.project_id, &attachment, &connector)
                .await
                .map_err(|e| error_chain(&e))?;
            let spec = VolumeSpec {
                volume_id: bdm.volume_id.clone().unwrap_or_default(),
                device_name: bdm.device_name.clone().unwrap_or_default(),
                connection_info,
            };
            self.opts
                .driver
                .attach_volume(uuid, &spec)
                .await
                .map_err(|e| e.0)?;
            if let Err(e) = client.attachment_complete(&i.project_id, &attachment).await {
                let _ = self.opts.driver.detach_volume(uuid, &spec.volume_id).await;
                return Err(error_chain(&e));
            }
            Ok::<_, String>(json!({"device": spec.device_name}))
        }
        .await;
        if let Err(e) = &result {
            tracing::warn!(instance = uuid, volume = ?bdm.volume_id, error = %e, "volume attach failed; rolling back");
            if let Some(a) = &bdm.attachment_id
                && let Err(d) = client.attachment_delete(&i.project_id, a).await
            {
                tracing::warn!(attachment = %a, error = %error_chain(&d), "attachment of a failed attach not deleted");
            }
            if let Err(d) = self.store().bdm_delete(&bdm.uuid, now()).await {
                tracing::warn!(bdm = %bdm.uuid, error = %d, "mapping of a failed attach not deleted");
            }
        }
        self.event_finish(uuid, req, EV, result.as_ref().err().map(String::as_str))
            .await;
        result
    }

    pub(super) async fn detach_volume(&self, uuid: &str, req: &str, args: &Value) -> Outcome {
        const EV: &str = "compute_detach_volume";
        let client = self.opts.volume.clone().ok_or("no block storage service")?;
        let i = self.load(uuid).await?;
        let volume_id = args["volume_id"].as_str().unwrap_or_default();
        let Some(bdm) = self
            .bdm(uuid, |m| m.volume_id.as_deref() == Some(volume_id))
            .await
        else {
            // Already detached (a retried cast).
            return Ok(Value::Null);
        };
        self.event_start(uuid, req, EV).await;
        let result = async {
            self.opts
                .driver
                .detach_volume(uuid, volume_id)
                .await
                .map_err(|e| e.0)?;
            if let Some(a) = &bdm.attachment_id {
                client
                    .attachment_delete(&i.project_id, a)
                    .await
                    .map_err(|e| error_chain(&e))?;
            }
            self.store()
                .bdm_delete(&bdm.uuid, now())
                .await
                .map_err(|e| e.to_string())?;
            Ok::<_, String>(Value::Null)
        }
        .await;
        self.event_finish(uuid, req, EV, result.as_ref().err().map(String::as_str))
            .await;
        result
    }

    /// Plugs every volume of a server that was (re)spawned: the hypervisor lost them (an
    /// unshelve after offload, a restart of the host) or never had them (attached while
    /// the server was offloaded). Each is connected anew with this host's connector; a
    /// volume that cannot be plugged is logged and left recorded (Nova puts such a server
    /// in ERROR; here it boots without that disk).
    pub(super) async fn connect_volumes(&self, uuid: &str) {
        let Some(client) = self.opts.volume.clone() else {
            return;
        };
        let Ok(i) = self.load(uuid).await else {
            return;
        };
        let Ok(bdms) = self.store().bdm_list(uuid).await else {
            return;
        };
        let mut used: Vec<String> = bdms.iter().filter_map(|m| m.device_name.clone()).collect();
        let connector = crate::volumes::connector(&self.opts.host, &self.opts.host_ip);
        for m in bdms {
            let (Some(volume_id), Some(attachment)) = (&m.volume_id, &m.attachment_id) else {
                continue;
            };
            let device = match &m.device_name {
                Some(d) => d.clone(),
                None => {
                    let Ok(d) = crate::volumes::pick_device(&used, None) else {
                        continue;
                    };
                    if self.store().bdm_set_device(&m.uuid, &d).await.is_err() {
                        continue;
                    }
                    used.push(d.clone());
                    d
                }
            };
            let plugged = async {
                let connection_info = client
                    .attachment_update(&i.project_id, attachment, &connector)
                    .await
                    .map_err(|e| error_chain(&e))?;
                let spec = VolumeSpec {
                    volume_id: volume_id.clone(),
                    device_name: device,
                    connection_info,
                };
                self.opts
                    .driver
                    .attach_volume(uuid, &spec)
                    .await
                    .map_err(|e| e.0)?;
                client
                    .attachment_complete(&i.project_id, attachment)
                    .await
                    .map_err(|e| error_chain(&e))
            }
            .await;
            if let Err(e) = plugged {
                tracing::warn!(instance = uuid, volume = %volume_id, error = %e, "volume not plugged into the respawned server");
            }
        }
    }

    /// Takes every volume back from a server being deleted.
    pub(super) async fn release_volumes(&self, uuid: &str) -> Result<(), String> {
        let Some(i) = self
            .store()
            .instance_get(uuid, false)
            .await
            .map_err(|e| e.to_string())?
        else {
            return Ok(());
        };
        crate::volumes::release(self.opts.volume.as_deref(), self.store(), &i, now()).await
    }
}
