//! The agent's side of rebuild, shelve / shelve-offload / unshelve and rescue / unrescue,
//! composed from the driver's existing operations (destroy, spawn, power, reboot) so every
//! driver supports them without new driver methods.
//!
//! TODO-correctness: rescue boots the server's own disk again (no rescue image is attached)
//! and an offloaded server keeps its host and its placement allocation, so unshelve boots it
//! on the same host instead of scheduling it anew.

use serde_json::Value;

use oxstack_common::http::error_chain;

use super::{Agent, Outcome, now, spec_of};
use crate::app::SHELVED_IMAGE;
use crate::states::{power, task, vm};
use crate::store::InstanceUpdate;

impl Agent {
    /// Serves the lifecycle methods; `None` for a method that is not one of them.
    pub(super) async fn dispatch_lifecycle(
        &self,
        method: &str,
        uuid: &str,
        req: &str,
        args: &Value,
    ) -> Option<Outcome> {
        Some(match method {
            "rebuild_instance" => self.rebuild(uuid, req).await,
            "shelve_instance" => self.shelve(uuid, req, args).await,
            "shelve_offload_instance" => self.shelve_offload(uuid, req).await,
            "unshelve_instance" => self.unshelve(uuid, req, args).await,
            "rescue_instance" => {
                let d = &self.opts.driver;
                self.simple(
                    uuid,
                    req,
                    "compute_rescue_instance",
                    vm::RESCUED,
                    power::RUNNING,
                    |u| Box::pin(async move { d.reboot(&u, true).await }),
                )
                .await
            }
            "unrescue_instance" => {
                let d = &self.opts.driver;
                self.simple(
                    uuid,
                    req,
                    "compute_unrescue_instance",
                    vm::ACTIVE,
                    power::RUNNING,
                    |u| Box::pin(async move { d.reboot(&u, true).await }),
                )
                .await
            }
            _ => return None,
        })
    }

    /// Destroys and spawns the server from its (new) image; a stopped server stays stopped.
    async fn rebuild(&self, uuid: &str, req: &str) -> Outcome {
        const EV: &str = "compute_rebuild_instance";
        let i = self.load(uuid).await?;
        self.event_start(uuid, req, EV).await;
        let d = &self.opts.driver;
        let stopped = i.vm_state == vm::STOPPED;
        let spec = self
            .spec_with_volumes(&i, false)
            .await
            .unwrap_or_else(|_| spec_of(&i, &i.flavor));
        let result = async {
            d.destroy(uuid).await?;
            d.spawn(&spec).await?;
            self.complete_volumes(&i, &spec.volumes).await;
            if stopped {
                d.power_off(uuid).await?;
            }
            Ok::<_, super::DriverError>(())
        }
        .await;
        match result {
            Ok(()) => {
                let (vs, ps) = if stopped {
                    (vm::STOPPED, power::SHUTDOWN)
                } else {
                    (vm::ACTIVE, power::RUNNING)
                };
                self.set(
                    uuid,
                    InstanceUpdate {
                        vm_state: Some(vs.into()),
                        task_state: Some(None),
                        power_state: Some(ps),
                        launched_at: Some(Some(now())),
                        ..Default::default()
                    },
                )
                .await?;
                self.event_finish(uuid, req, EV, None).await;
                Ok(Value::Null)
            }
            Err(e) => {
                self.to_error(uuid, &e.0).await;
                self.event_finish(uuid, req, EV, Some(&e.0)).await;
                Err(e.0)
            }
        }
    }

    /// Shelves a server as Nova does: the guest is powered off and its root disk uploaded
    /// into the `<name>-shelved` image the API created (`image_id`, with the shelving user's
    /// `auth_token`; none for a volume-backed server); with `offload` the guest then leaves
    /// the hypervisor, its local disks with it, and unshelve boots it from that image.
    async fn shelve(&self, uuid: &str, req: &str, args: &Value) -> Outcome {
        const EV: &str = "compute_shelve_instance";
        self.event_start(uuid, req, EV).await;
        let offload = args["offload"].as_bool().unwrap_or(true);
        let d = &self.opts.driver;
        let mut result = d.power_off(uuid).await.map_err(|e| e.0);
        if result.is_ok()
            && let Some(image_id) = args["image_id"].as_str()
        {
            let token = args["auth_token"].as_str().unwrap_or_default();
            result = self
                .upload_snapshot(
                    uuid,
                    token,
                    image_id,
                    &[task::SHELVING],
                    (
                        task::SHELVING_IMAGE_PENDING_UPLOAD,
                        task::SHELVING_IMAGE_UPLOADING,
                    ),
                )
                .await;
        }
        if result.is_ok() && offload {
            result = d.destroy(uuid).await.map_err(|e| e.0);
        }
        if let Err(e) = result {
            self.to_error(uuid, &e).await;
            self.event_finish(uuid, req, EV, Some(&e)).await;
            return Err(e);
        }
        let (vs, ps) = if offload {
            (vm::SHELVED_OFFLOADED, power::NOSTATE)
        } else {
            (vm::SHELVED, power::SHUTDOWN)
        };
        self.set(
            uuid,
            InstanceUpdate {
                vm_state: Some(vs.into()),
                task_state: Some(None),
                power_state: Some(ps),
                ..Default::default()
            },
        )
        .await?;
        self.event_finish(uuid, req, EV, None).await;
        Ok(Value::Null)
    }

    async fn shelve_offload(&self, uuid: &str, req: &str) -> Outcome {
        const EV: &str = "compute_shelve_offload_instance";
        self.event_start(uuid, req, EV).await;
        if let Err(e) = self.opts.driver.destroy(uuid).await {
            self.fault(uuid, &e.0).await;
            self.event_finish(uuid, req, EV, Some(&e.0)).await;
            return Err(e.0);
        }
        self.set(
            uuid,
            InstanceUpdate {
                vm_state: Some(vm::SHELVED_OFFLOADED.into()),
                task_state: Some(None),
                power_state: Some(power::NOSTATE),
                ..Default::default()
            },
        )
        .await?;
        self.event_finish(uuid, req, EV, None).await;
        Ok(Value::Null)
    }

    /// Boots a shelved server again: an offloaded one from its shelved image (`image_id`),
    /// which is then deleted with the unshelving user's `auth_token`, as Nova does.
    async fn unshelve(&self, uuid: &str, req: &str, args: &Value) -> Outcome {
        const EV: &str = "compute_unshelve_instance";
        let i = self.load(uuid).await?;
        self.event_start(uuid, req, EV).await;
        let d = &self.opts.driver;
        let shelved_image = args["image_id"].as_str();
        let result = if d.power_state(uuid).await == power::NOSTATE {
            match self.spec_with_volumes(&i, false).await {
                Ok(mut spec) => {
                    if let Some(image) = shelved_image {
                        spec.image_ref = image.to_string();
                    }
                    let spawned = d.spawn(&spec).await;
                    if spawned.is_ok() {
                        self.complete_volumes(&i, &spec.volumes).await;
                    }
                    spawned
                }
                Err(e) => Err(super::DriverError(e)),
            }
        } else {
            d.power_on(uuid).await
        };
        if let Err(e) = result {
            self.to_error(uuid, &e.0).await;
            self.event_finish(uuid, req, EV, Some(&e.0)).await;
            return Err(e.0);
        }
        if let Some(image) = shelved_image {
            let token = args["auth_token"].as_str().unwrap_or_default();
            if let Err(e) = self.opts.image.image_delete(token, image).await {
                tracing::warn!(image, error = %error_chain(&e), "shelved image not deleted");
            }
            self.store()
                .instance_sysmeta_set(uuid, SHELVED_IMAGE, None)
                .await
                .map_err(|e| e.to_string())?;
        }
        self.set(
            uuid,
            InstanceUpdate {
                vm_state: Some(vm::ACTIVE.into()),
                task_state: Some(None),
                power_state: Some(power::RUNNING),
                ..Default::default()
            },
        )
        .await?;
        self.event_finish(uuid, req, EV, None).await;
        Ok(Value::Null)
    }
}
