//! The agent's side of volumes (nova/compute/manager.py `attach_volume`, `detach_volume`):
//! connect the reserved attachment with this host's connector, plug the volume into the
//! server, complete the attachment; or unplug it and delete the attachment. A failed attach
//! leaves nothing behind: the attachment and the mapping are deleted.

use oxstack_common::http::error_chain;
use serde_json::{Value, json};

use super::{Agent, InstanceSpec, Outcome, VolumeSpec, now, spec_of};
use crate::model::BlockDeviceMapping;
use crate::model::Instance;

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
            let mut connector = crate::volumes::connector(&self.opts.host, &self.opts.host_ip);
            // Cinder records where the volume is (its attachments' `device`).
            connector["mountpoint"] = json!(bdm.device_name);
            let connection_info = client
                .attachment_update(&i.project_id, &attachment, &connector)
                .await
                .map_err(|e| error_chain(&e))?;
            let spec = VolumeSpec {
                volume_id: bdm.volume_id.clone().unwrap_or_default(),
                device_name: bdm.device_name.clone().unwrap_or_default(),
                connection_info,
                boot_index: None,
                image_metadata: None,
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

    /// The volumes of a server, connected to this host, for its spawn (a build, a rebuild,
    /// an unshelve, a respawn after the hypervisor lost it): volumes made for it at create
    /// are awaited and reserved, mappings without a device (attached while the server was
    /// offloaded) get one, and each attachment gets this host's connector. With `strict`
    /// (a build) any failure fails the spawn; otherwise only the boot volume's does and the
    /// others are logged and left out.
    pub(super) async fn block_devices(
        &self,
        i: &Instance,
        strict: bool,
    ) -> Result<Vec<VolumeSpec>, String> {
        let bdms = self
            .store()
            .bdm_list(&i.uuid)
            .await
            .map_err(|e| e.to_string())?;
        if bdms.is_empty() {
            return Ok(Vec::new());
        }
        let client = self.opts.volume.clone().ok_or("no block storage service")?;
        let mut used: Vec<String> = bdms.iter().filter_map(|m| m.device_name.clone()).collect();
        let connector = crate::volumes::connector(&self.opts.host, &self.opts.host_ip);
        let mut out = Vec::new();
        for m in bdms {
            let Some(volume_id) = m.volume_id.clone() else {
                continue;
            };
            let one = async {
                let attachment = match &m.attachment_id {
                    Some(a) => a.clone(),
                    None => {
                        self.await_volume(client.as_ref(), &i.project_id, &volume_id)
                            .await?;
                        let a = client
                            .attachment_reserve(&i.project_id, &volume_id, &i.uuid)
                            .await
                            .map_err(|e| error_chain(&e))?;
                        self.store()
                            .bdm_set_attachment(&m.uuid, Some(&a.id))
                            .await
                            .map_err(|e| e.to_string())?;
                        a.id
                    }
                };
                let device = match &m.device_name {
                    Some(d) => d.clone(),
                    None => {
                        let d = crate::volumes::pick_device(&used, None)
                            .map_err(|e| e.message.to_string())?;
                        self.store()
                            .bdm_set_device(&m.uuid, &d)
                            .await
                            .map_err(|e| e.to_string())?;
                        used.push(d.clone());
                        d
                    }
                };
                let mut connector = connector.clone();
                connector["mountpoint"] = json!(device);
                let connection_info = client
                    .attachment_update(&i.project_id, &attachment, &connector)
                    .await
                    .map_err(|e| error_chain(&e))?;
                // The boot volume carries the properties of its image (a kernel to boot).
                let image_metadata = if m.boot_index == Some(0) {
                    client
                        .volume_show(&i.project_id, &volume_id)
                        .await
                        .map_err(|e| error_chain(&e))?
                        .map(|v| v.image_metadata)
                        .filter(|md| !md.is_empty())
                        .map(Value::Object)
                } else {
                    None
                };
                Ok::<_, String>(VolumeSpec {
                    volume_id: volume_id.clone(),
                    device_name: device,
                    connection_info,
                    boot_index: m.boot_index,
                    image_metadata,
                })
            }
            .await;
            match one {
                Ok(v) => out.push(v),
                Err(e) if strict || m.boot_index == Some(0) => {
                    return Err(format!("Volume {volume_id} cannot be connected: {e}"));
                }
                Err(e) => {
                    tracing::warn!(instance = %i.uuid, volume = %volume_id, error = %e, "volume left out of the spawned server");
                }
            }
        }
        Ok(out)
    }

    /// Waits (up to Nova's default `block_device_allocate_retries`: about three minutes)
    /// for a volume made at create to be written.
    async fn await_volume(
        &self,
        client: &dyn crate::clients::VolumeClient,
        project_id: &str,
        volume_id: &str,
    ) -> Result<(), String> {
        for _ in 0..180 {
            let v = client
                .volume_show(project_id, volume_id)
                .await
                .map_err(|e| error_chain(&e))?
                .ok_or_else(|| format!("Volume {volume_id} could not be found."))?;
            match v.status.as_str() {
                "available" => return Ok(()),
                "creating" | "downloading" => {}
                other => {
                    return Err(format!(
                        "Volume {volume_id} did not finish being created (status {other})"
                    ));
                }
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
        Err(format!(
            "Volume {volume_id} did not finish being created in time"
        ))
    }

    /// A server spec with its volumes (see [`Agent::block_devices`]).
    pub(super) async fn spec_with_volumes(
        &self,
        i: &Instance,
        strict: bool,
    ) -> Result<InstanceSpec, String> {
        let mut spec = spec_of(i, &i.flavor);
        spec.volumes = self.block_devices(i, strict).await?;
        Ok(spec)
    }

    /// Marks the volumes of a spawned server in use (`os-complete`); failures are logged.
    pub(super) async fn complete_volumes(&self, i: &Instance, volumes: &[VolumeSpec]) {
        let Some(client) = self.opts.volume.clone() else {
            return;
        };
        let Ok(bdms) = self.store().bdm_list(&i.uuid).await else {
            return;
        };
        for v in volumes {
            let Some(a) = bdms
                .iter()
                .find(|m| m.volume_id.as_deref() == Some(v.volume_id.as_str()))
                .and_then(|m| m.attachment_id.clone())
            else {
                continue;
            };
            if let Err(e) = client.attachment_complete(&i.project_id, &a).await {
                tracing::warn!(instance = %i.uuid, volume = %v.volume_id, error = %error_chain(&e), "attachment not completed");
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
