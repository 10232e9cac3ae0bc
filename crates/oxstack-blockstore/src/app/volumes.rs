//! Volumes: create (empty, from a snapshot, from a volume), list/show/update/delete, extend,
//! metadata, and the admin and flag actions.

use std::cmp::Ordering;
use std::sync::Arc;

use oxstack_common::{Error, Result};

use super::{App, Caller, new_id, not_found, now, over_quota, page, target};
use crate::driver::{SnapshotSpec, VolumeSpec};
use crate::model::{Attachment, Meta, Volume};

/// What `POST /volumes` asks for (validated by the API layer's parser).
#[derive(Debug, Clone, Default)]
pub struct VolumeCreate {
    pub name: Option<String>,
    pub description: Option<String>,
    pub size: Option<i64>,
    pub volume_type: Option<String>,
    pub metadata: Meta,
    pub availability_zone: Option<String>,
    pub snapshot_id: Option<String>,
    pub source_volid: Option<String>,
    pub image_ref: Option<String>,
    pub multiattach: bool,
}

/// Filters, sorting and paging of a volume list.
#[derive(Debug, Clone, Default)]
pub struct VolumeQuery {
    pub all_tenants: bool,
    pub project_id: Option<String>,
    pub name: Option<String>,
    pub status: Option<String>,
    pub availability_zone: Option<String>,
    pub bootable: Option<bool>,
    pub metadata: Option<Meta>,
    /// `(key, ascending)` pairs; default newest first.
    pub sort: Vec<(String, bool)>,
    pub limit: Option<usize>,
    pub marker: Option<String>,
    /// Items skipped before the page (Cinder's `offset`).
    pub offset: usize,
}

/// A volume as the API renders it: with its type's name and its attachments.
#[derive(Debug, Clone)]
pub struct VolumeView {
    pub volume: Volume,
    pub type_name: Option<String>,
    pub attachments: Vec<Attachment>,
}

/// One page of volumes and the total before paging (`with_count`).
#[derive(Debug, Clone)]
pub struct VolumeList {
    pub volumes: Vec<VolumeView>,
    pub count: usize,
}

/// Statuses a volume may be deleted in (Cinder's `volume/api.py` `delete`).
const DELETABLE: &[&str] = &[
    "available",
    "error",
    "error_restoring",
    "error_extending",
    "error_managing",
];

/// Statuses `os-reset_status` accepts.
const RESETTABLE: &[&str] = &[
    "available",
    "error",
    "creating",
    "deleting",
    "in-use",
    "attaching",
    "detaching",
    "reserved",
    "error_deleting",
    "error_extending",
    "extending",
    "maintenance",
];

fn invalid_volume(msg: impl Into<String>) -> Error {
    Error::bad_request(format!("Invalid volume: {}", msg.into()))
}

fn spec(v: &Volume) -> VolumeSpec {
    VolumeSpec {
        id: v.id.clone(),
        size_gb: v.size,
        format: v.format.clone(),
    }
}

/// Image attributes Glance owns: never copied between an image and a volume.
pub(super) const GLANCE_OWN: &[&str] = &[
    "id",
    "name",
    "status",
    "visibility",
    "protected",
    "os_hidden",
    "owner",
    "created_at",
    "updated_at",
    "file",
    "schema",
    "self",
    "tags",
    "locations",
    "direct_url",
    "virtual_size",
    "os_hash_algo",
    "os_hash_value",
    "stores",
];

/// `volume_image_metadata` of a volume made from `img`: Cinder's copied image properties.
fn image_metadata(img: &serde_json::Value) -> Meta {
    let mut m = Meta::new();
    if let Some(o) = img.as_object() {
        for (k, v) in o {
            if GLANCE_OWN.contains(&k.as_str()) {
                continue;
            }
            match v {
                serde_json::Value::String(s) => {
                    m.insert(k.clone(), s.clone());
                }
                serde_json::Value::Number(n) => {
                    m.insert(k.clone(), n.to_string());
                }
                _ => {}
            }
        }
    }
    m.insert(
        "image_id".into(),
        img["id"].as_str().unwrap_or_default().to_string(),
    );
    m.insert(
        "image_name".into(),
        img["name"].as_str().unwrap_or_default().to_string(),
    );
    m
}

fn cmp_key(a: &Volume, b: &Volume, key: &str) -> Ordering {
    match key {
        "id" => a.id.cmp(&b.id),
        "name" | "display_name" => a.name.cmp(&b.name),
        "size" => a.size.cmp(&b.size),
        "status" => a.status.cmp(&b.status),
        "updated_at" => a.updated_at.cmp(&b.updated_at),
        "availability_zone" => a.availability_zone.cmp(&b.availability_zone),
        "bootable" => a.bootable.cmp(&b.bootable),
        _ => a.created_at.cmp(&b.created_at),
    }
}

const SORT_KEYS: &[&str] = &[
    "id",
    "name",
    "display_name",
    "size",
    "status",
    "created_at",
    "updated_at",
    "availability_zone",
    "bootable",
];

impl App {
    /// The volume if the caller may see it (404 otherwise, as Cinder hides other projects').
    pub(crate) async fn volume_visible(&self, c: &Caller<'_>, id: &str) -> Result<Volume> {
        let v = self
            .store
            .volume_get(id)
            .await?
            .ok_or_else(|| not_found("Volume", id))?;
        if !c.is_admin && v.project_id != c.project_id() {
            return Err(not_found("Volume", id));
        }
        Ok(v)
    }

    async fn view(&self, v: Volume) -> Result<VolumeView> {
        let type_name = self
            .store
            .type_get(&v.volume_type_id)
            .await?
            .map(|t| t.name);
        let attachments = self
            .store
            .attachment_list_of_volume(&v.id)
            .await?
            .into_iter()
            .filter(|a| a.attach_status == "attached")
            .collect();
        Ok(VolumeView {
            volume: v,
            type_name,
            attachments,
        })
    }

    /// Authorizes `rule` on the volume's project and returns it.
    pub(crate) async fn volume_for(&self, c: &Caller<'_>, id: &str, rule: &str) -> Result<Volume> {
        let v = self.volume_visible(c, id).await?;
        self.authorize(c, rule, &target(&v.project_id, &v.user_id))?;
        Ok(v)
    }

    /// Creates a volume and starts making its disk; answers while it is `creating`.
    pub async fn volume_create(
        self: &Arc<Self>,
        c: &Caller<'_>,
        req: VolumeCreate,
    ) -> Result<VolumeView> {
        self.authorize_own(c, "volume:create")?;
        let token = c.ctx.token.clone().unwrap_or_default();
        let image = match &req.image_ref {
            Some(id) => {
                self.authorize_own(c, "volume:create_from_image")?;
                let img =
                    self.image.image_get(&token, id).await?.ok_or_else(|| {
                        Error::not_found(format!("Image {id} could not be found."))
                    })?;
                if img["status"] != "active" {
                    return Err(Error::bad_request(format!(
                        "Invalid image identifier or unable to access requested image. (image {id} is {})",
                        img["status"]
                    )));
                }
                Some(img)
            }
            None => None,
        };
        let snapshot = match &req.snapshot_id {
            Some(id) => {
                let s = self
                    .store
                    .snapshot_get(id)
                    .await?
                    .filter(|s| c.is_admin || s.project_id == c.project_id())
                    .ok_or_else(|| not_found("Snapshot", id))?;
                if s.status != "available" {
                    return Err(Error::bad_request(
                        "Invalid snapshot: Originating snapshot status must be one of 'available' values",
                    ));
                }
                Some(s)
            }
            None => None,
        };
        let source = match &req.source_volid {
            Some(id) => {
                let v = self.volume_visible(c, id).await?;
                if !matches!(v.status.as_str(), "available" | "in-use") {
                    return Err(invalid_volume(format!(
                        "Source volume status must be available or in-use, but current status is: {}.",
                        v.status
                    )));
                }
                Some(v)
            }
            None => None,
        };
        let image_min = image.as_ref().map(|i| {
            let bytes = i["size"].as_i64().unwrap_or(0);
            let gb = (bytes + (1 << 30) - 1) >> 30;
            gb.max(i["min_disk"].as_i64().unwrap_or(0)).max(1)
        });
        let min_size = snapshot
            .as_ref()
            .map(|s| s.size)
            .or(source.as_ref().map(|v| v.size))
            .or(image_min);
        let size = match (req.size, min_size) {
            (Some(s), _) if s <= 0 => {
                return Err(Error::bad_request(format!(
                    "Invalid input received: Volume size '{s}' must be an integer and greater than 0"
                )));
            }
            (Some(s), Some(m)) if s < m => {
                return Err(Error::bad_request(format!(
                    "Invalid input received: Volume size '{s}' must not be smaller than its source's size {m}"
                )));
            }
            (Some(s), _) => s,
            (None, Some(m)) => m,
            (None, None) => {
                return Err(Error::bad_request(
                    "Invalid input received: Volume size 'None' must be an integer and greater than 0",
                ));
            }
        };
        let vtype = match &req.volume_type {
            Some(t) => self.type_lookup(c, t).await?,
            None => match source.as_ref() {
                Some(v) => self
                    .store
                    .type_get(&v.volume_type_id)
                    .await?
                    .ok_or_else(|| not_found("Volume type", &v.volume_type_id))?,
                None => self.default_type().await?,
            },
        };
        let az = req
            .availability_zone
            .clone()
            .unwrap_or_else(|| self.config.availability_zone.clone());
        if az != self.config.availability_zone {
            return Err(Error::bad_request(format!(
                "Invalid input received: Availability zone '{az}' is invalid."
            )));
        }
        self.check_volume_quota(c.project_id(), 1, size).await?;
        let t = now();
        let v = Volume {
            id: new_id(),
            project_id: c.project_id().to_string(),
            user_id: c.user_id().to_string(),
            name: req.name,
            description: req.description,
            size,
            status: "creating".into(),
            attach_status: "detached".into(),
            migration_status: None,
            volume_type_id: vtype.id.clone(),
            availability_zone: az,
            host: Some(self.host_attr()),
            bootable: source.as_ref().is_some_and(|s| s.bootable) || image.is_some(),
            multiattach: req.multiattach,
            snapshot_id: req.snapshot_id,
            source_volid: req.source_volid,
            format: self.config.volume_format.clone(),
            metadata: req.metadata,
            image_metadata: match &image {
                Some(i) => image_metadata(i),
                None => source
                    .as_ref()
                    .map(|s| s.image_metadata.clone())
                    .unwrap_or_default(),
            },
            admin_metadata: Meta::new(),
            created_at: t,
            updated_at: None,
        };
        self.store.volume_create(&v).await?;
        let app = self.clone();
        let (vol, snap, src) = (v.clone(), snapshot, source);
        tokio::spawn(async move {
            let s = spec(&vol);
            let r = if let Some(img) = &image {
                app.volume_from_image(&s, img, &token).await
            } else {
                match (&snap, &src) {
                    (Some(sn), _) => {
                        app.driver
                            .create_from_snapshot(
                                &s,
                                &SnapshotSpec {
                                    id: sn.id.clone(),
                                    volume_id: sn.volume_id.clone(),
                                },
                            )
                            .await
                    }
                    (None, Some(source)) => app.driver.clone_volume(&s, &spec(source)).await,
                    (None, None) => app.driver.create_volume(&s).await,
                }
            };
            let to = match r {
                Ok(()) => "available",
                Err(e) => {
                    tracing::error!(volume = %vol.id, error = %oxstack_common::http::error_chain(&e), "volume creation failed");
                    let _ = app.driver.delete_volume(&vol.id).await;
                    "error"
                }
            };
            if let Err(e) = app
                .store
                .volume_cas_status(&vol.id, &["creating"], to, now())
                .await
            {
                tracing::error!(volume = %vol.id, error = %oxstack_common::http::error_chain(&e), "cannot record volume status");
            }
        });
        self.view(v).await
    }

    /// Downloads the image to the scratch directory and has the driver convert it.
    async fn volume_from_image(
        &self,
        s: &VolumeSpec,
        img: &serde_json::Value,
        token: &str,
    ) -> std::result::Result<(), crate::driver::DriverError> {
        let io = |e| crate::driver::DriverError::Io(self.scratch_dir.display().to_string(), e);
        tokio::fs::create_dir_all(&self.scratch_dir)
            .await
            .map_err(io)?;
        let tmp = self.scratch_dir.join(format!("image-{}", s.id));
        let id = img["id"].as_str().unwrap_or_default();
        let r = match self.image.image_download(token, id, &tmp).await {
            Ok(()) => {
                let fmt = img["disk_format"].as_str().unwrap_or("raw");
                self.driver.create_from_image(s, &tmp, fmt).await
            }
            Err(e) => Err(crate::driver::DriverError::Command(
                "image download".into(),
                oxstack_common::http::error_chain(&e),
            )),
        };
        let _ = tokio::fs::remove_file(&tmp).await;
        r
    }

    /// `os-vol-host-attr:host` as Cinder forms it: `host@backend#pool`.
    pub fn host_attr(&self) -> String {
        format!(
            "{}@{}#{}",
            self.config.host, self.config.driver, self.config.driver
        )
    }

    pub async fn volume_get(&self, c: &Caller<'_>, id: &str) -> Result<VolumeView> {
        let v = self.volume_for(c, id, "volume:get").await?;
        self.view(v).await
    }

    pub async fn volume_list(&self, c: &Caller<'_>, q: &VolumeQuery) -> Result<VolumeList> {
        self.authorize_own(c, "volume:get_all")?;
        let project = if q.all_tenants && c.is_admin {
            q.project_id.clone()
        } else {
            Some(c.project_id().to_string())
        };
        let mut vols: Vec<Volume> = self
            .store
            .volume_list(project.as_deref())
            .await?
            .into_iter()
            .filter(|v| q.name.as_ref().is_none_or(|n| v.name.as_ref() == Some(n)))
            .filter(|v| q.status.as_ref().is_none_or(|s| &v.status == s))
            .filter(|v| {
                q.availability_zone
                    .as_ref()
                    .is_none_or(|z| &v.availability_zone == z)
            })
            .filter(|v| q.bootable.is_none_or(|b| v.bootable == b))
            .filter(|v| {
                q.metadata
                    .as_ref()
                    .is_none_or(|m| m.iter().all(|(k, val)| v.metadata.get(k) == Some(val)))
            })
            .collect();
        for (k, _) in &q.sort {
            if !SORT_KEYS.contains(&k.as_str()) {
                return Err(Error::bad_request(format!(
                    "Invalid input received: Invalid sort key {k}"
                )));
            }
        }
        let sort = if q.sort.is_empty() {
            vec![("created_at".to_string(), false)]
        } else {
            q.sort.clone()
        };
        vols.sort_by(|a, b| {
            for (k, asc) in &sort {
                let o = cmp_key(a, b, k);
                let o = if *asc { o } else { o.reverse() };
                if o != Ordering::Equal {
                    return o;
                }
            }
            b.id.cmp(&a.id)
        });
        let count = vols.len();
        vols.drain(..q.offset.min(vols.len()));
        let vols = page(vols, |v| &v.id, q.marker.as_deref(), q.limit)?;
        let mut out = Vec::with_capacity(vols.len());
        for v in vols {
            out.push(self.view(v).await?);
        }
        Ok(VolumeList {
            volumes: out,
            count,
        })
    }

    /// `PUT /volumes/{id}`: name, description, metadata.
    pub async fn volume_update(
        &self,
        c: &Caller<'_>,
        id: &str,
        name: Option<Option<String>>,
        description: Option<Option<String>>,
        metadata: Option<Meta>,
    ) -> Result<VolumeView> {
        let mut v = self.volume_for(c, id, "volume:update").await?;
        if let Some(n) = name {
            v.name = n;
        }
        if let Some(d) = description {
            v.description = d;
        }
        if let Some(m) = metadata {
            v.metadata = m;
        }
        v.updated_at = Some(now());
        self.store.volume_save(&v).await?;
        self.view(v).await
    }

    /// Deletes a volume (with its snapshots when `cascade`); `force` skips state checks.
    pub async fn volume_delete(
        self: &Arc<Self>,
        c: &Caller<'_>,
        id: &str,
        cascade: bool,
        force: bool,
    ) -> Result<()> {
        let v = if force {
            self.volume_for(c, id, "volume_extension:volume_admin_actions:force_delete")
                .await?
        } else {
            self.volume_for(c, id, "volume:delete").await?
        };
        if !force && (v.attach_status == "attached" || !DELETABLE.contains(&v.status.as_str())) {
            return Err(invalid_volume(format!(
                "Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots, awaiting a transfer, or be disassociated from snapshots after volume transfer. (current status: {})",
                v.status
            )));
        }
        let snaps = self.store.snapshot_list_of_volume(&v.id).await?;
        if !snaps.is_empty() && !cascade {
            return Err(invalid_volume(
                "Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots, awaiting a transfer, or be disassociated from snapshots after volume transfer.",
            ));
        }
        if cascade
            && snaps
                .iter()
                .any(|s| !matches!(s.status.as_str(), "available" | "error"))
        {
            return Err(invalid_volume(
                "Snapshot of volume is not in a deletable state.",
            ));
        }
        let from: Vec<&str> = if force {
            vec![v.status.as_str()]
        } else {
            DELETABLE.to_vec()
        };
        if !self
            .store
            .volume_cas_status(&v.id, &from, "deleting", now())
            .await?
        {
            return Err(invalid_volume("Volume status changed; try again."));
        }
        let app = self.clone();
        tokio::spawn(async move {
            for s in &snaps {
                let mut s = s.clone();
                s.status = "deleting".into();
                let _ = app.store.snapshot_save(&s).await;
                match app.driver.delete_snapshot(&s.id).await {
                    Ok(()) => {
                        let _ = app.store.snapshot_delete(&s.id).await;
                    }
                    Err(e) => {
                        tracing::error!(snapshot = %s.id, error = %oxstack_common::http::error_chain(&e), "snapshot deletion failed");
                    }
                }
            }
            let r = match app.driver.delete_volume(&v.id).await {
                Ok(()) => app.store.volume_delete(&v.id).await.map_err(Error::from),
                Err(e) => {
                    tracing::error!(volume = %v.id, error = %oxstack_common::http::error_chain(&e), "volume deletion failed");
                    app.store
                        .volume_cas_status(&v.id, &["deleting"], "error_deleting", now())
                        .await
                        .map(|_| ())
                        .map_err(Error::from)
                }
            };
            if let Err(e) = r {
                tracing::error!(volume = %v.id, error = %oxstack_common::http::error_chain(&e), "cannot record volume deletion");
            }
        });
        Ok(())
    }

    /// `os-extend`: grows an available volume (in-use from 3.42).
    pub async fn volume_extend(
        self: &Arc<Self>,
        c: &Caller<'_>,
        id: &str,
        new_size: i64,
        attached_ok: bool,
    ) -> Result<()> {
        let v = self.volume_for(c, id, "volume:extend").await?;
        let allowed: &[&str] = if attached_ok {
            self.authorize(
                c,
                "volume:extend_attached_volume",
                &target(&v.project_id, &v.user_id),
            )?;
            &["available", "in-use"]
        } else {
            &["available"]
        };
        if !allowed.contains(&v.status.as_str()) {
            return Err(invalid_volume(format!(
                "Volume status must be '{}' to extend, currently {}.",
                allowed.join("' or '"),
                v.status
            )));
        }
        if new_size <= v.size {
            return Err(Error::bad_request(format!(
                "Invalid input received: New size for extend must be greater than current size. (current: {}, extended: {new_size}).",
                v.size
            )));
        }
        self.check_volume_quota(&v.project_id, 0, new_size - v.size)
            .await?;
        let back = v.status.clone();
        if !self
            .store
            .volume_cas_status(&v.id, &[back.as_str()], "extending", now())
            .await?
        {
            return Err(invalid_volume("Volume status changed; try again."));
        }
        let app = self.clone();
        tokio::spawn(async move {
            let mut s = spec(&v);
            s.size_gb = new_size;
            let r = app.driver.extend_volume(&s).await;
            let Ok(Some(mut cur)) = app.store.volume_get(&v.id).await else {
                return;
            };
            match r {
                Ok(()) => {
                    cur.size = new_size;
                    cur.status = back;
                }
                Err(e) => {
                    tracing::error!(volume = %v.id, error = %oxstack_common::http::error_chain(&e), "extend failed");
                    cur.status = "error_extending".into();
                }
            }
            cur.updated_at = Some(now());
            if let Err(e) = app.store.volume_save(&cur).await {
                tracing::error!(volume = %v.id, error = %oxstack_common::http::error_chain(&e), "cannot record extend");
            }
        });
        Ok(())
    }

    /// `os-reset_status` (admin): sets status, attach status and migration status.
    pub async fn volume_reset_status(
        &self,
        c: &Caller<'_>,
        id: &str,
        status: Option<String>,
        attach_status: Option<String>,
        migration_status: Option<String>,
    ) -> Result<()> {
        let mut v = self
            .volume_for(c, id, "volume_extension:volume_admin_actions:reset_status")
            .await?;
        if let Some(s) = status {
            if !RESETTABLE.contains(&s.as_str()) {
                return Err(Error::bad_request(format!(
                    "Invalid input received: Must specify a valid status (got {s})"
                )));
            }
            v.status = s;
        }
        if let Some(a) = attach_status {
            if !matches!(a.as_str(), "attached" | "detached") {
                return Err(Error::bad_request(format!(
                    "Invalid input received: Must specify a valid attach status (got {a})"
                )));
            }
            v.attach_status = a;
        }
        if let Some(m) = migration_status {
            v.migration_status = if m == "none" { None } else { Some(m) };
        }
        v.updated_at = Some(now());
        self.store.volume_save(&v).await?;
        Ok(())
    }

    /// `os-set_bootable`.
    pub async fn volume_set_bootable(&self, c: &Caller<'_>, id: &str, b: bool) -> Result<()> {
        let mut v = self.volume_for(c, id, "volume:update").await?;
        v.bootable = b;
        v.updated_at = Some(now());
        self.store.volume_save(&v).await?;
        Ok(())
    }

    /// `os-update_readonly_flag`: kept in admin metadata, shown in `metadata`.
    pub async fn volume_set_readonly(&self, c: &Caller<'_>, id: &str, ro: bool) -> Result<()> {
        let mut v = self
            .volume_for(c, id, "volume:update_readonly_flag")
            .await?;
        if !matches!(v.status.as_str(), "available") {
            return Err(invalid_volume(format!(
                "Volume status must be available to update readonly flag, currently {}.",
                v.status
            )));
        }
        v.admin_metadata
            .insert("readonly".into(), if ro { "True" } else { "False" }.into());
        v.updated_at = Some(now());
        self.store.volume_save(&v).await?;
        Ok(())
    }

    /// `os-retype`: to another type (this backend serves every type, so nothing moves).
    pub async fn volume_retype(&self, c: &Caller<'_>, id: &str, new_type: &str) -> Result<()> {
        let mut v = self.volume_for(c, id, "volume:retype").await?;
        if !matches!(v.status.as_str(), "available" | "in-use") {
            return Err(invalid_volume(format!(
                "Volume status must be available or in-use to retype, currently {}.",
                v.status
            )));
        }
        let t = self.type_lookup(c, new_type).await?;
        if t.id == v.volume_type_id {
            return Err(Error::bad_request(
                "Invalid input received: New volume type must be different from the original.",
            ));
        }
        v.volume_type_id = t.id;
        v.updated_at = Some(now());
        self.store.volume_save(&v).await?;
        Ok(())
    }

    /// Volume metadata: `replace` swaps the whole map, else keys are merged.
    pub async fn volume_metadata_set(
        &self,
        c: &Caller<'_>,
        id: &str,
        meta: Meta,
        replace: bool,
    ) -> Result<Meta> {
        let rule = if replace {
            "volume:update_volume_metadata"
        } else {
            "volume:create_volume_metadata"
        };
        let mut v = self.volume_for(c, id, rule).await?;
        if v.status == "maintenance" {
            return Err(invalid_volume("Volume is in maintenance."));
        }
        if replace {
            v.metadata = meta;
        } else {
            v.metadata.extend(meta);
        }
        v.updated_at = Some(now());
        self.store.volume_save(&v).await?;
        Ok(v.metadata)
    }

    pub async fn volume_metadata_get(&self, c: &Caller<'_>, id: &str) -> Result<Meta> {
        Ok(self
            .volume_for(c, id, "volume:get_volume_metadata")
            .await?
            .metadata)
    }

    pub async fn volume_metadata_delete(&self, c: &Caller<'_>, id: &str, key: &str) -> Result<()> {
        let mut v = self
            .volume_for(c, id, "volume:delete_volume_metadata")
            .await?;
        if v.metadata.remove(key).is_none() {
            return Err(Error::not_found(format!(
                "Volume {id} has no metadata with key {key}."
            )));
        }
        v.updated_at = Some(now());
        self.store.volume_save(&v).await?;
        Ok(())
    }

    /// `os-set_image_metadata` / `os-unset_image_metadata` / `os-show_image_metadata`.
    pub async fn volume_image_metadata(
        &self,
        c: &Caller<'_>,
        id: &str,
        set: Option<Meta>,
        unset: Option<&str>,
    ) -> Result<Meta> {
        let rule = match (&set, unset) {
            (Some(_), _) => "volume_extension:volume_image_metadata:set",
            (None, Some(_)) => "volume_extension:volume_image_metadata:remove",
            _ => "volume_extension:volume_image_metadata:show",
        };
        let mut v = self.volume_for(c, id, rule).await?;
        if let Some(m) = set {
            v.image_metadata.extend(m);
        } else if let Some(k) = unset {
            if v.image_metadata.remove(k).is_none() {
                return Err(Error::not_found(format!(
                    "Glance metadata for volume {id} with key {k} could not be found."
                )));
            }
        } else {
            return Ok(v.image_metadata);
        }
        v.updated_at = Some(now());
        self.store.volume_save(&v).await?;
        Ok(v.image_metadata)
    }

    /// `GET /volumes/summary` (3.12): count and total size of the visible volumes.
    pub async fn volume_summary(
        &self,
        c: &Caller<'_>,
        all_tenants: bool,
    ) -> Result<(i64, i64, Meta)> {
        self.authorize_own(c, "volume:get_all")?;
        let project = (!(all_tenants && c.is_admin)).then(|| c.project_id().to_string());
        let vols = self.store.volume_list(project.as_deref()).await?;
        let mut meta = Meta::new();
        for v in &vols {
            meta.extend(v.metadata.clone());
        }
        Ok((vols.len() as i64, vols.iter().map(|v| v.size).sum(), meta))
    }

    /// Refuses when `project_id` would exceed its volume or gigabyte quota.
    pub(crate) async fn check_volume_quota(
        &self,
        project_id: &str,
        more_volumes: i64,
        more_gb: i64,
    ) -> Result<()> {
        let limits = self.quota_limits(project_id).await?;
        let usage = self.quota_usage(project_id).await?;
        let lim = |k: &str| limits.get(k).copied().unwrap_or(-1);
        let per = lim("per_volume_gigabytes");
        if per >= 0 && more_gb > per {
            return Err(over_quota(format!(
                "VolumeSizeExceedsLimit: Requested volume size {more_gb}G is larger than maximum allowed limit {per}G."
            )));
        }
        if lim("volumes") >= 0 && usage.volumes + more_volumes > lim("volumes") {
            return Err(over_quota(format!(
                "VolumeLimitExceeded: Maximum number of volumes allowed ({}) exceeded for quota 'volumes'.",
                lim("volumes")
            )));
        }
        if lim("gigabytes") >= 0 && usage.gigabytes + more_gb > lim("gigabytes") {
            return Err(over_quota(format!(
                "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed gigabytes quota. Requested {more_gb}G, quota is {}G and {}G has been consumed.",
                lim("gigabytes"),
                usage.gigabytes
            )));
        }
        Ok(())
    }
}
