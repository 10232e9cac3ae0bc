//! Attachments: the 3.27+ attachments API (create → update with a connector → complete →
//! delete, as Nova drives it) and the legacy actions (os-reserve, os-attach,
//! os-begin_detaching, os-detach, os-initialize_connection, ...). Connection info comes from
//! the driver: `{"driver_volume_type": "file", "data": {"device_path", "format"}}`.

use oxstack_common::{Error, Result};
use serde_json::Value;

use super::{App, Caller, new_id, not_found, now};
use crate::driver::VolumeSpec;
use crate::model::{Attachment, Volume};

/// An attachment with its connection info (when a connector is known).
#[derive(Debug, Clone)]
pub struct AttachmentView {
    pub attachment: Attachment,
    pub connection_info: Option<Value>,
}

fn invalid_volume(msg: impl Into<String>) -> Error {
    Error::bad_request(format!("Invalid volume: {}", msg.into()))
}

impl App {
    fn connection_info_of(&self, v: &Volume, a: &Attachment) -> Value {
        let mut ci = self.driver.connection_info(&VolumeSpec {
            id: v.id.clone(),
            size_gb: v.size,
            format: v.format.clone(),
        });
        ci["data"]["access_mode"] = Value::String(a.attach_mode.clone());
        ci["data"]["volume_id"] = Value::String(v.id.clone());
        ci["attachment_id"] = Value::String(a.id.clone());
        ci
    }

    fn attach_view(&self, v: &Volume, a: Attachment) -> AttachmentView {
        let connection_info = a
            .connector
            .is_some()
            .then(|| self.connection_info_of(v, &a));
        AttachmentView {
            attachment: a,
            connection_info,
        }
    }

    async fn attachment_for(
        &self,
        c: &Caller<'_>,
        id: &str,
        rule: &str,
    ) -> Result<(Attachment, Volume)> {
        let a = self
            .store
            .attachment_get(id)
            .await?
            .filter(|a| c.is_admin || a.project_id == c.project_id())
            .ok_or_else(|| not_found("VolumeAttachment", id))?;
        let v = self.volume_for(c, &a.volume_id, rule).await?;
        Ok((a, v))
    }

    /// Whether another attachment may be added to `v` (multiattach volumes may be in use).
    fn attachable(v: &Volume) -> bool {
        v.status == "available"
            || (v.multiattach && matches!(v.status.as_str(), "in-use" | "reserved"))
    }

    /// `POST /attachments` (3.27): reserves the volume for an instance; with a connector
    /// the connection info is returned at once.
    pub async fn attachment_create(
        &self,
        c: &Caller<'_>,
        volume_id: &str,
        instance_uuid: Option<String>,
        connector: Option<Value>,
        mode: Option<String>,
    ) -> Result<AttachmentView> {
        let mut v = self
            .volume_for(c, volume_id, "volume:attachment_create")
            .await?;
        if !Self::attachable(&v) {
            return Err(invalid_volume(format!(
                "Volume {} status must be available or downloading to reserve, but the current status is {}.",
                v.id, v.status
            )));
        }
        let mode = mode.unwrap_or_else(|| {
            if v.admin_metadata.get("readonly").map(String::as_str) == Some("True") {
                "ro".into()
            } else {
                "rw".into()
            }
        });
        if !matches!(mode.as_str(), "rw" | "ro") {
            return Err(Error::bad_request(format!(
                "Invalid input received: Invalid attach mode {mode}"
            )));
        }
        let a = Attachment {
            id: new_id(),
            volume_id: v.id.clone(),
            project_id: v.project_id.clone(),
            instance_uuid,
            attached_host: connector
                .as_ref()
                .and_then(|c| c.get("host"))
                .and_then(Value::as_str)
                .map(str::to_string),
            mountpoint: connector
                .as_ref()
                .and_then(|c| c.get("mountpoint"))
                .and_then(Value::as_str)
                .map(str::to_string),
            attach_status: if connector.is_some() {
                "attaching"
            } else {
                "reserved"
            }
            .into(),
            attach_mode: mode,
            connector: connector.map(|c| c.to_string()),
            attach_time: None,
            detach_time: None,
            created_at: now(),
        };
        if v.status == "available" {
            v.status = if a.connector.is_some() {
                "attaching"
            } else {
                "reserved"
            }
            .into();
            v.updated_at = Some(now());
            self.store.volume_save(&v).await?;
        }
        self.store.attachment_create(&a).await?;
        Ok(self.attach_view(&v, a))
    }

    pub async fn attachment_get(&self, c: &Caller<'_>, id: &str) -> Result<AttachmentView> {
        let (a, v) = self.attachment_for(c, id, "volume:attachment_get").await?;
        Ok(self.attach_view(&v, a))
    }

    pub async fn attachment_list(
        &self,
        c: &Caller<'_>,
        all_tenants: bool,
        volume_id: Option<&str>,
        instance_id: Option<&str>,
    ) -> Result<Vec<AttachmentView>> {
        self.authorize_own(c, "volume:attachment_get_all")?;
        let project = (!(all_tenants && c.is_admin)).then(|| c.project_id().to_string());
        let mut out = Vec::new();
        for a in self.store.attachment_list(project.as_deref()).await? {
            if volume_id.is_some_and(|v| v != a.volume_id)
                || instance_id.is_some_and(|i| Some(i) != a.instance_uuid.as_deref())
            {
                continue;
            }
            if let Some(v) = self.store.volume_get(&a.volume_id).await? {
                out.push(self.attach_view(&v, a));
            }
        }
        Ok(out)
    }

    /// `PUT /attachments/{id}`: the host's connector; answers the connection info.
    pub async fn attachment_update(
        &self,
        c: &Caller<'_>,
        id: &str,
        connector: Value,
    ) -> Result<AttachmentView> {
        let (mut a, mut v) = self
            .attachment_for(c, id, "volume:attachment_update")
            .await?;
        if a.attach_status == "detached" {
            return Err(Error::bad_request(
                "Invalid input received: attachment is detached.",
            ));
        }
        a.attached_host = connector
            .get("host")
            .and_then(Value::as_str)
            .map(str::to_string);
        if let Some(m) = connector.get("mountpoint").and_then(Value::as_str) {
            a.mountpoint = Some(m.to_string());
        }
        a.connector = Some(connector.to_string());
        if a.attach_status == "reserved" {
            a.attach_status = "attaching".into();
        }
        self.store.attachment_save(&a).await?;
        if v.status == "reserved" {
            v.status = "attaching".into();
            v.updated_at = Some(now());
            self.store.volume_save(&v).await?;
        }
        Ok(self.attach_view(&v, a))
    }

    /// `os-complete` (3.44): the volume is in use.
    pub async fn attachment_complete(&self, c: &Caller<'_>, id: &str) -> Result<()> {
        let (mut a, mut v) = self
            .attachment_for(c, id, "volume:attachment_complete")
            .await?;
        a.attach_status = "attached".into();
        a.attach_time = Some(now());
        self.store.attachment_save(&a).await?;
        v.status = "in-use".into();
        v.attach_status = "attached".into();
        v.admin_metadata
            .insert("attached_mode".into(), a.attach_mode.clone());
        v.updated_at = Some(now());
        self.store.volume_save(&v).await?;
        Ok(())
    }

    /// `DELETE /attachments/{id}`: the volume is free again when no attachment is left.
    /// Answers the volume's remaining attachments.
    pub async fn attachment_delete(&self, c: &Caller<'_>, id: &str) -> Result<Vec<AttachmentView>> {
        let (a, v) = self
            .attachment_for(c, id, "volume:attachment_delete")
            .await?;
        self.store.attachment_delete(&a.id).await?;
        self.settle_after_detach(v).await
    }

    async fn settle_after_detach(&self, mut v: Volume) -> Result<Vec<AttachmentView>> {
        let rest = self.store.attachment_list_of_volume(&v.id).await?;
        if rest.is_empty() {
            v.status = "available".into();
            v.attach_status = "detached".into();
            v.admin_metadata.remove("attached_mode");
        } else if rest.iter().any(|a| a.attach_status == "attached") {
            v.status = "in-use".into();
        } else {
            v.status = "reserved".into();
            v.attach_status = "detached".into();
        }
        v.updated_at = Some(now());
        self.store.volume_save(&v).await?;
        Ok(rest.into_iter().map(|a| self.attach_view(&v, a)).collect())
    }

    /// `os-reserve`: available → attaching.
    pub async fn volume_reserve(&self, c: &Caller<'_>, id: &str) -> Result<()> {
        let v = self
            .volume_for(c, id, "volume_extension:volume_actions:reserve")
            .await?;
        if !Self::attachable(&v) {
            return Err(invalid_volume(format!(
                "Volume status must be available to reserve, but the status is {}.",
                v.status
            )));
        }
        self.store
            .volume_cas_status(&v.id, &[v.status.as_str()], "attaching", now())
            .await?;
        Ok(())
    }

    /// `os-unreserve`: attaching → available (or in-use when other attachments remain).
    pub async fn volume_unreserve(&self, c: &Caller<'_>, id: &str) -> Result<()> {
        let v = self
            .volume_for(c, id, "volume_extension:volume_actions:unreserve")
            .await?;
        if v.status == "attaching" {
            let back = if v.attach_status == "attached" {
                "in-use"
            } else {
                "available"
            };
            self.store
                .volume_cas_status(&v.id, &["attaching"], back, now())
                .await?;
        }
        Ok(())
    }

    /// `os-attach`: records an attachment to an instance or host at a mountpoint.
    pub async fn volume_attach(
        &self,
        c: &Caller<'_>,
        id: &str,
        instance_uuid: Option<String>,
        host_name: Option<String>,
        mountpoint: String,
        mode: String,
    ) -> Result<()> {
        let mut v = self
            .volume_for(c, id, "volume_extension:volume_actions:attach")
            .await?;
        let ok = matches!(v.status.as_str(), "available" | "attaching" | "reserved")
            || (v.multiattach && v.status == "in-use");
        if !ok {
            return Err(invalid_volume(format!(
                "Volume status must be available or attaching, but the status is {}.",
                v.status
            )));
        }
        if !matches!(mode.as_str(), "rw" | "ro") {
            return Err(Error::bad_request(format!(
                "Invalid input received: Invalid attach mode {mode}"
            )));
        }
        if mode == "rw" && v.admin_metadata.get("readonly").map(String::as_str) == Some("True") {
            return Err(Error::bad_request(
                "Invalid input received: Invalid attaching mode 'rw' for volume; it is read-only.",
            ));
        }
        let t = now();
        // An attachment reserved through the attachments API for the same instance is reused.
        let existing = self
            .store
            .attachment_list_of_volume(&v.id)
            .await?
            .into_iter()
            .find(|a| a.attach_status != "attached" && a.instance_uuid == instance_uuid);
        let fresh = existing.is_none();
        let mut a = existing.unwrap_or_else(|| Attachment {
            id: new_id(),
            volume_id: v.id.clone(),
            project_id: v.project_id.clone(),
            instance_uuid: instance_uuid.clone(),
            attached_host: None,
            mountpoint: None,
            attach_status: "attaching".into(),
            attach_mode: mode.clone(),
            connector: None,
            attach_time: None,
            detach_time: None,
            created_at: t,
        });
        a.attached_host = host_name.or(a.attached_host);
        a.mountpoint = Some(mountpoint);
        a.attach_status = "attached".into();
        a.attach_mode = mode.clone();
        a.attach_time = Some(t);
        if fresh {
            self.store.attachment_create(&a).await?;
        } else {
            self.store.attachment_save(&a).await?;
        }
        v.status = "in-use".into();
        v.attach_status = "attached".into();
        v.admin_metadata.insert("attached_mode".into(), mode);
        v.updated_at = Some(t);
        self.store.volume_save(&v).await?;
        Ok(())
    }

    /// `os-begin_detaching`: in-use → detaching.
    pub async fn volume_begin_detaching(&self, c: &Caller<'_>, id: &str) -> Result<()> {
        let v = self
            .volume_for(c, id, "volume_extension:volume_actions:begin_detaching")
            .await?;
        if v.status != "in-use" || v.attach_status != "attached" {
            return Err(invalid_volume(format!(
                "Unable to detach volume. Volume status must be 'in-use' and attach_status must be 'attached' to detach. (status {})",
                v.status
            )));
        }
        self.store
            .volume_cas_status(&v.id, &["in-use"], "detaching", now())
            .await?;
        Ok(())
    }

    /// `os-roll_detaching`: detaching → in-use.
    pub async fn volume_roll_detaching(&self, c: &Caller<'_>, id: &str) -> Result<()> {
        let v = self
            .volume_for(c, id, "volume_extension:volume_actions:roll_detaching")
            .await?;
        self.store
            .volume_cas_status(&v.id, &["detaching"], "in-use", now())
            .await?;
        Ok(())
    }

    /// `os-detach` (and the admin `os-force_detach`): removes one attachment (or the only
    /// one).
    pub async fn volume_detach(
        &self,
        c: &Caller<'_>,
        id: &str,
        attachment_id: Option<&str>,
        force: bool,
    ) -> Result<()> {
        let rule = if force {
            "volume_extension:volume_admin_actions:force_detach"
        } else {
            "volume_extension:volume_actions:detach"
        };
        let v = self.volume_for(c, id, rule).await?;
        if !force
            && !matches!(
                v.status.as_str(),
                "in-use" | "detaching" | "attaching" | "reserved"
            )
        {
            return Err(invalid_volume(format!(
                "Volume status must be in-use or detaching to detach, currently {}.",
                v.status
            )));
        }
        let atts = self.store.attachment_list_of_volume(&v.id).await?;
        let a = match attachment_id {
            Some(aid) => atts.into_iter().find(|a| a.id == aid),
            None if atts.len() <= 1 => atts.into_iter().next(),
            None => {
                return Err(invalid_volume(
                    "Volume has multiple attachments; attachment_id is required to detach.",
                ));
            }
        };
        match a {
            Some(a) => self.store.attachment_delete(&a.id).await?,
            None if attachment_id.is_some() => {
                return Err(not_found("VolumeAttachment", attachment_id.unwrap_or("")));
            }
            None => {}
        }
        self.settle_after_detach(v).await?;
        Ok(())
    }

    /// `os-initialize_connection`: the connection info for a connector.
    pub async fn volume_initialize_connection(
        &self,
        c: &Caller<'_>,
        id: &str,
        connector: &Value,
    ) -> Result<Value> {
        let v = self
            .volume_for(
                c,
                id,
                "volume_extension:volume_actions:initialize_connection",
            )
            .await?;
        if !matches!(
            v.status.as_str(),
            "available" | "attaching" | "reserved" | "in-use" | "downloading"
        ) {
            return Err(invalid_volume(format!(
                "Volume status must be available, attaching or in-use to initialize a connection, currently {}.",
                v.status
            )));
        }
        let mode = v
            .admin_metadata
            .get("readonly")
            .filter(|r| r.as_str() == "True")
            .map(|_| "ro")
            .unwrap_or("rw");
        let mut ci = self.driver.connection_info(&VolumeSpec {
            id: v.id.clone(),
            size_gb: v.size,
            format: v.format.clone(),
        });
        ci["data"]["access_mode"] = Value::String(mode.into());
        ci["data"]["volume_id"] = Value::String(v.id.clone());
        let _ = connector;
        Ok(ci)
    }

    /// `os-terminate_connection`: nothing to tear down for files.
    pub async fn volume_terminate_connection(&self, c: &Caller<'_>, id: &str) -> Result<()> {
        self.volume_for(
            c,
            id,
            "volume_extension:volume_actions:terminate_connection",
        )
        .await?;
        Ok(())
    }
}
