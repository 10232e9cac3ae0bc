//! Server lifecycle actions beyond power operations: rebuild, shelve / shelve-offload /
//! unshelve and rescue / unrescue, with Nova's state checks (nova/compute/api.py). The API
//! side checks and records; the host's agent does the work and sets the stable state.

use oxstack_common::context::RequestContext;
use oxstack_common::{Error, Result};
use serde_json::{Map, Value, json};

use super::servers::{
    generate_password, metadata_of, server_not_found, state_conflict, str_field, valid_server_name,
};
use super::{App, invalid, is_uuid_like};
use crate::microversion::Version;
use crate::model::Instance;
use crate::states::{Allowed, NO_TASK, task, vm};
use crate::store::InstanceUpdate;

/// The system metadata key holding the snapshot image of a shelved server (Nova's).
pub(crate) const SHELVED_IMAGE: &str = "shelved_image_id";

/// What a rebuild answers with.
#[derive(Debug, Clone)]
pub struct Rebuilt {
    pub instance: Instance,
    pub admin_pass: String,
}

const REBUILD_ALLOWED: Allowed = Allowed::new(Some(&[vm::ACTIVE, vm::STOPPED, vm::ERROR]), NO_TASK);
const SHELVE_ALLOWED: Allowed = Allowed::new(
    Some(&[vm::ACTIVE, vm::STOPPED, vm::PAUSED, vm::SUSPENDED]),
    NO_TASK,
);
const UNSHELVE_ALLOWED: Allowed =
    Allowed::new(Some(&[vm::SHELVED, vm::SHELVED_OFFLOADED]), NO_TASK);
const RESCUE_ALLOWED: Allowed = Allowed::new(Some(&[vm::ACTIVE, vm::STOPPED, vm::ERROR]), NO_TASK);

impl App {
    async fn cast(&self, c: &super::Caller<'_>, i: &Instance, method: &str, extra: Value) {
        if let Some(host) = &i.host
            && let Err(e) = self.rpc.cast(host, method, &c.rpc(), &i.uuid, extra).await
        {
            tracing::warn!(error = %e, method, "compute cast failed");
        }
    }

    /// `rebuild`: a new image (and optionally name, metadata, password, access IPs, key and
    /// user data) for an existing server, keeping its id, flavor and addresses.
    pub async fn server_rebuild(
        &self,
        ctx: &RequestContext,
        id: &str,
        m: &Map<String, Value>,
        mv: Version,
    ) -> Result<Rebuilt> {
        let c = self.caller(ctx)?;
        let i = self
            .server_for(&c, id, "os_compute_api:servers:rebuild")
            .await?;
        Self::check_locked(&c, &i)?;
        let mut u = InstanceUpdate::default();
        let mut metadata = None;
        let mut admin_pass = None;
        for (k, v) in m {
            match k.as_str() {
                "imageRef" => {}
                "name" => match v.as_str() {
                    Some(s) if valid_server_name(s) => u.name = Some(s.to_string()),
                    _ => return Err(invalid("name", &format!("{v}. It is not a valid name"))),
                },
                "metadata" => metadata = Some(metadata_of(Some(v), "metadata")?),
                "adminPass" => admin_pass = str_field(m, k, 255)?.map(str::to_string),
                "accessIPv4" => {
                    let a = str_field(m, k, 64)?.filter(|a| !a.is_empty());
                    if a.is_some_and(|a| a.parse::<std::net::Ipv4Addr>().is_err()) {
                        return Err(invalid("accessIPv4", &format!("{v} is not a 'ipv4'")));
                    }
                    u.access_ip_v4 = Some(a.map(str::to_string));
                }
                "accessIPv6" => {
                    let a = str_field(m, k, 64)?.filter(|a| !a.is_empty());
                    if a.is_some_and(|a| a.parse::<std::net::Ipv6Addr>().is_err()) {
                        return Err(invalid("accessIPv6", &format!("{v} is not a 'ipv6'")));
                    }
                    u.access_ip_v6 = Some(
                        a.and_then(|a| a.parse::<std::net::Ipv6Addr>().ok())
                            .map(|ip| ip.to_string()),
                    );
                }
                "description" if mv.at_least(19) => {
                    u.description = Some(str_field(m, k, 255)?.map(str::to_string));
                }
                "key_name" if mv.at_least(54) => match v {
                    Value::Null => {
                        u.key_name = Some(None);
                        u.key_data = Some(None);
                    }
                    Value::String(s) => {
                        let kp = self
                            .store
                            .keypair_get(&i.user_id, s)
                            .await?
                            .ok_or_else(|| Error::bad_request("Invalid key_name provided."))?;
                        u.key_name = Some(Some(s.clone()));
                        u.key_data = Some(Some(kp.public_key));
                    }
                    _ => return Err(invalid("key_name", &v.to_string())),
                },
                "user_data" if mv.at_least(57) => match v {
                    Value::Null => u.user_data = Some(None),
                    Value::String(s) if s.len() <= 65535 => {
                        u.user_data = Some(Some(s.clone()));
                    }
                    _ => return Err(invalid("user_data", "is not valid base64 data")),
                },
                "preserve_ephemeral" => {}
                "OS-DCF:diskConfig" => u.auto_disk_config = Some(super::servers::disk_config(v)?),
                "personality" if !mv.at_least(57) => {}
                other => {
                    return Err(Error::bad_request(format!(
                        "Invalid input for field/attribute rebuild. Value: {}. Additional properties are not allowed ('{other}' was unexpected)",
                        Value::Object(m.clone())
                    )));
                }
            }
        }
        let image_ref = match m.get("imageRef") {
            Some(Value::String(s)) if !s.is_empty() => {
                s.rsplit('/').next().unwrap_or(s).to_string()
            }
            Some(v) => return Err(invalid("imageRef", &v.to_string())),
            None => {
                return Err(invalid("rebuild", "'imageRef' is a required property"));
            }
        };
        if !is_uuid_like(&image_ref) {
            return Err(Error::bad_request("Invalid imageRef provided."));
        }
        let token = c.ctx.token.clone().unwrap_or_default();
        let image = self
            .image
            .image_get(&token, &image_ref)
            .await?
            .ok_or_else(|| Error::bad_request(format!("Image {image_ref} could not be found.")))?;
        if image.status != "active" {
            return Err(Error::bad_request(format!(
                "Image {image_ref} is not active."
            )));
        }
        if i.flavor.root_gb > 0 && image.min_disk > i.flavor.root_gb {
            return Err(Error::bad_request(
                "Flavor's disk is too small for requested image.",
            ));
        }
        if image.min_ram > i.flavor.memory_mb {
            return Err(Error::bad_request(
                "Flavor's memory is too small for requested image.",
            ));
        }
        if let Some(md) = &metadata {
            let limit = self.quota_limit(&i.project_id, "metadata_items").await?;
            if limit >= 0 && md.len() as i64 > limit {
                return Err(Error::forbidden(format!(
                    "Quota exceeded for metadata_items: Requested {}, but already used 0 of {limit} metadata_items",
                    md.len()
                )));
            }
        }
        if !REBUILD_ALLOWED.permits(&i.vm_state, i.task_state.as_deref()) {
            return Err(state_conflict(&i, "rebuild"));
        }
        u.image_ref = Some(image_ref);
        u.task_state = Some(Some(task::REBUILDING.into()));
        u.expect_task_state = Some(vec![None]);
        u.expect_vm_state = Some(vec![i.vm_state.clone()]);
        if !self.store.instance_update(&i.uuid, &u).await? {
            return Err(state_conflict(&i, "rebuild"));
        }
        if let Some(md) = &metadata {
            self.store.instance_metadata_set(&i.uuid, md, true).await?;
        }
        self.record_action(&c, &i, "rebuild").await?;
        self.cast(&c, &i, "rebuild_instance", json!({})).await;
        let instance = self
            .store
            .instance_get(&i.uuid, false)
            .await?
            .ok_or_else(|| server_not_found(id))?;
        Ok(Rebuilt {
            instance,
            admin_pass: admin_pass.unwrap_or_else(generate_password),
        })
    }

    /// `shelve`: snapshots the server into `<name>-shelved` and offloads it from its host
    /// at once (Nova's default `shelved_offload_time` of 0).
    pub async fn server_shelve(&self, ctx: &RequestContext, id: &str) -> Result<()> {
        let c = self.caller(ctx)?;
        let i = self
            .server_for(&c, id, "os_compute_api:os-shelve:shelve")
            .await?;
        Self::check_locked(&c, &i)?;
        if !SHELVE_ALLOWED.permits(&i.vm_state, i.task_state.as_deref()) {
            return Err(state_conflict(&i, "shelve"));
        }
        let mut image_id = None;
        if !i.image_ref.is_empty() {
            let token = c.ctx.token.clone().unwrap_or_default();
            let mut props = self.inherited_properties(&token, &i.image_ref).await;
            props.insert("instance_uuid".into(), i.uuid.clone());
            props.insert("image_type".into(), "snapshot".into());
            props.insert("base_image_ref".into(), i.image_ref.clone());
            let image = self
                .image
                .snapshot_create(&token, &format!("{}-shelved", i.name), &props)
                .await?;
            image_id = Some(image.id);
        }
        self.transition(&c, &i, "shelve", SHELVE_ALLOWED, Some(task::SHELVING))
            .await?;
        self.store
            .instance_sysmeta_set(&i.uuid, SHELVED_IMAGE, image_id.as_deref())
            .await?;
        self.cast(
            &c,
            &i,
            "shelve_instance",
            json!({"image_id": image_id, "offload": true, "auth_token": c.ctx.token}),
        )
        .await;
        Ok(())
    }

    /// `shelveOffload`: a shelved server leaves its host.
    pub async fn server_shelve_offload(&self, ctx: &RequestContext, id: &str) -> Result<()> {
        let c = self.caller(ctx)?;
        let i = self
            .server_for(&c, id, "os_compute_api:os-shelve:shelve_offload")
            .await?;
        Self::check_locked(&c, &i)?;
        let allowed = Allowed::new(Some(&[vm::SHELVED]), NO_TASK);
        self.transition(
            &c,
            &i,
            "shelveOffload",
            allowed,
            Some(task::SHELVING_OFFLOADING),
        )
        .await?;
        self.cast(&c, &i, "shelve_offload_instance", json!({}))
            .await;
        Ok(())
    }

    /// `unshelve`: the server boots again from its shelved snapshot, which is then deleted.
    pub async fn server_unshelve(&self, ctx: &RequestContext, id: &str) -> Result<()> {
        let c = self.caller(ctx)?;
        let i = self
            .server_for(&c, id, "os_compute_api:os-shelve:unshelve")
            .await?;
        Self::check_locked(&c, &i)?;
        let image_id = self
            .store
            .instance_sysmeta_get(&i.uuid, SHELVED_IMAGE)
            .await?;
        self.transition(&c, &i, "unshelve", UNSHELVE_ALLOWED, Some(task::UNSHELVING))
            .await?;
        let token = c.ctx.token.clone().unwrap_or_default();
        self.cast(
            &c,
            &i,
            "unshelve_instance",
            json!({"image_id": image_id, "auth_token": token}),
        )
        .await;
        Ok(())
    }

    /// `rescue`: the server boots a rescue system; answers the rescue password.
    pub async fn server_rescue(
        &self,
        ctx: &RequestContext,
        id: &str,
        m: &Map<String, Value>,
    ) -> Result<String> {
        let c = self.caller(ctx)?;
        let i = self.server_for(&c, id, "os_compute_api:os-rescue").await?;
        Self::check_locked(&c, &i)?;
        for k in m.keys() {
            if !matches!(k.as_str(), "adminPass" | "rescue_image_ref") {
                return Err(Error::bad_request(format!(
                    "Invalid input for field/attribute rescue. Value: {}. Additional properties are not allowed ('{k}' was unexpected)",
                    Value::Object(m.clone())
                )));
            }
        }
        let pass = str_field(m, "adminPass", 255)?
            .map(str::to_string)
            .unwrap_or_else(generate_password);
        if let Some(r) = str_field(m, "rescue_image_ref", 255)? {
            let r = r.rsplit('/').next().unwrap_or(r);
            let token = c.ctx.token.clone().unwrap_or_default();
            if !is_uuid_like(r) || self.image.image_get(&token, r).await?.is_none() {
                return Err(Error::bad_request(format!("Image {r} could not be found.")));
            }
        }
        self.transition(&c, &i, "rescue", RESCUE_ALLOWED, Some(task::RESCUING))
            .await?;
        self.cast(&c, &i, "rescue_instance", json!({})).await;
        Ok(pass)
    }

    /// `unrescue`: back to the server's own disk.
    pub async fn server_unrescue(&self, ctx: &RequestContext, id: &str) -> Result<()> {
        let c = self.caller(ctx)?;
        let i = self
            .server_for(&c, id, "os_compute_api:os-rescue:unrescue")
            .await?;
        Self::check_locked(&c, &i)?;
        let allowed = Allowed::new(Some(&[vm::RESCUED]), NO_TASK);
        self.transition(&c, &i, "unrescue", allowed, Some(task::UNRESCUING))
            .await?;
        self.cast(&c, &i, "unrescue_instance", json!({})).await;
        Ok(())
    }

    /// `restore` / `forceDelete` of a soft-deleted server. Deletes here are never deferred
    /// (`reclaim_instance_interval` 0), so no server is ever SOFT_DELETED: 409 for any
    /// server that exists.
    pub async fn server_deferred_delete(
        &self,
        ctx: &RequestContext,
        id: &str,
        restore: bool,
    ) -> Result<()> {
        let c = self.caller(ctx)?;
        let rule = if restore {
            "os_compute_api:os-deferred-delete:restore"
        } else {
            "os_compute_api:os-deferred-delete:force"
        };
        let i = self.server_for(&c, id, rule).await?;
        Err(state_conflict(
            &i,
            if restore { "restore" } else { "forceDelete" },
        ))
    }

    /// `migrate` (cold): checked, then there is never another host to move to.
    /// TODO-correctness: schedule onto another compute host once multi-host scheduling of
    /// moves exists.
    pub async fn server_migrate(&self, ctx: &RequestContext, id: &str) -> Result<()> {
        let c = self.caller(ctx)?;
        let i = self
            .server_for(&c, id, "os_compute_api:os-migrate-server:migrate")
            .await?;
        if !Allowed::new(Some(&[vm::ACTIVE, vm::STOPPED]), NO_TASK)
            .permits(&i.vm_state, i.task_state.as_deref())
        {
            return Err(state_conflict(&i, "migrate"));
        }
        Err(Error::bad_request(
            "No valid host was found. No valid host found for cold migrate",
        ))
    }

    /// The server whose diagnostics an admin asks for (it must be on a host).
    pub async fn server_diagnostics(&self, ctx: &RequestContext, id: &str) -> Result<Instance> {
        let c = self.caller(ctx)?;
        let i = self
            .server_for(&c, id, "os_compute_api:os-server-diagnostics")
            .await?;
        if i.host.is_none() || i.vm_state == vm::BUILDING {
            return Err(state_conflict(&i, "get_diagnostics"));
        }
        Ok(i)
    }

    /// `changePassword`: checked and recorded.
    /// TODO-correctness: no driver can set a guest's password yet (qemu needs a guest agent);
    /// the new password is accepted and not stored, as Nova does not store it either.
    pub async fn server_change_password(
        &self,
        ctx: &RequestContext,
        id: &str,
        m: &Map<String, Value>,
    ) -> Result<()> {
        let c = self.caller(ctx)?;
        let i = self
            .server_for(&c, id, "os_compute_api:os-admin-password")
            .await?;
        Self::check_locked(&c, &i)?;
        match m.get("adminPass") {
            Some(Value::String(_)) => {}
            Some(v) => {
                return Err(invalid(
                    "adminPass",
                    &format!("{v} is not of type 'string'"),
                ));
            }
            None => {
                return Err(invalid(
                    "changePassword",
                    "'adminPass' is a required property",
                ));
            }
        }
        let allowed = Allowed::new(Some(&[vm::ACTIVE]), NO_TASK);
        self.transition(&c, &i, "changePassword", allowed, None)
            .await
    }
}
