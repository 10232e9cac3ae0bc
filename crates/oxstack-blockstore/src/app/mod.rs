//! The block storage logic: authorization, validation, quotas, the volume and snapshot state
//! machines, and the background work that drives the [`VolumeDriver`]. Handlers call one
//! method here; this layer calls the store and the driver.
//!
//! Status machines (Cinder's): a volume is `creating` → `available` (or `error`);
//! `available` → `reserved`/`attaching` → `in-use` → `detaching` → `available`;
//! `available` → `extending` → `available` (`error_extending` on failure);
//! `available` (or `in-use`) → `uploading` → back by its attachment;
//! `deleting` → gone (`error_deleting`). Snapshots: `creating` → `available` → `deleting`.
//! Work runs in a task after the API answers 202; on restart every transient state is
//! settled by [`App::recover`] so nothing stays `creating` or `deleting` forever.

mod admin;
mod attachments;
mod snapshots;
mod uploads;
mod volumes;

use std::sync::Arc;

use oxstack_common::context::{AuthInfo, RequestContext};
use oxstack_common::error::ErrorKind;
use oxstack_common::policy::Enforcer;
use oxstack_common::{Error, Result};
use serde_json::{Value, json};

use crate::config::BlockStoreConfig;
use crate::driver::VolumeDriver;
use crate::store::Store;

pub use admin::{QUOTA_RESOURCES, QuotaUsage};
pub use attachments::AttachmentView;
pub use snapshots::{SnapshotCreate, SnapshotQuery};
pub use uploads::{VolumeUpload, VolumeUploadView};
pub use volumes::{VolumeCreate, VolumeList, VolumeQuery, VolumeView};

/// The block storage application.
#[derive(Debug)]
pub struct App {
    pub store: Store,
    pub config: BlockStoreConfig,
    pub policy: Enforcer,
    pub driver: Arc<dyn VolumeDriver>,
    pub image: Arc<dyn crate::image::ImageClient>,
    /// Where image data is downloaded before it is converted into a volume.
    pub scratch_dir: std::path::PathBuf,
    /// `http://host:8776`: the base of links.
    pub public_url: String,
}

/// The caller of one request, as the logic layer needs it.
#[derive(Debug, Clone)]
pub struct Caller<'a> {
    pub ctx: &'a RequestContext,
    pub auth: &'a AuthInfo,
    /// Cinder's `context.is_admin` (the `context_is_admin` rule).
    pub is_admin: bool,
}

impl Caller<'_> {
    /// The caller's project (empty for tokens without one).
    pub fn project_id(&self) -> &str {
        self.auth.project_id.as_deref().unwrap_or("")
    }
    pub fn user_id(&self) -> &str {
        &self.auth.user_id
    }
}

pub(crate) fn now() -> i64 {
    oxstack_common::time::now().timestamp_micros()
}

pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Cinder's 404 for a missing resource (`{"itemNotFound": ...}`).
pub(crate) fn not_found(what: &str, id: &str) -> Error {
    Error::not_found(format!("{what} {id} could not be found."))
}

/// Cinder's 413 for an exceeded quota.
pub(crate) fn over_quota(message: String) -> Error {
    Error::new(ErrorKind::PayloadTooLarge, message)
}

impl App {
    /// The authenticated caller, or 401.
    pub fn caller<'a>(&self, ctx: &'a RequestContext) -> Result<Caller<'a>> {
        let auth = ctx.require_auth()?;
        let is_admin = self.policy.enforce("context_is_admin", auth, &json!({}));
        Ok(Caller {
            ctx,
            auth,
            is_admin,
        })
    }

    /// Checks `rule` for the caller against `target`; 403 when denied.
    pub fn authorize(&self, c: &Caller<'_>, rule: &str, target: &Value) -> Result<()> {
        self.policy.authorize(rule, c.auth, target)
    }

    /// Authorizes `rule` on the caller's own project.
    pub fn authorize_own(&self, c: &Caller<'_>, rule: &str) -> Result<()> {
        self.authorize(c, rule, &target(c.project_id(), c.user_id()))
    }

    /// Whether `rule` passes for the caller on its own project.
    pub fn can(&self, c: &Caller<'_>, rule: &str) -> bool {
        self.policy
            .enforce(rule, c.auth, &target(c.project_id(), c.user_id()))
    }

    /// Settles work a previous run left in a transient state: volumes that were being made
    /// go to `error` and lose their half-made disk; deletions are finished; extends,
    /// uploads and attachments in flight go back to where they came from; disks no record
    /// owns are removed.
    // TODO-correctness: an image an interrupted upload had created stays `queued` in the
    // image service: the caller's token is gone and block storage holds no credentials.
    pub async fn recover(&self) -> Result<()> {
        // Image downloads of interrupted creations.
        let _ = tokio::fs::remove_dir_all(&self.scratch_dir).await;
        let t = now();
        for mut v in self
            .store
            .volume_list_in(&[
                "creating",
                "deleting",
                "extending",
                "attaching",
                "detaching",
                "uploading",
            ])
            .await?
        {
            match v.status.as_str() {
                "creating" => {
                    if let Err(e) = self.driver.delete_volume(&v.id).await {
                        tracing::warn!(volume = %v.id, error = %oxstack_common::http::error_chain(&e), "cannot remove half-made volume");
                    }
                    tracing::info!(volume = %v.id, "interrupted creation: volume set to error");
                    v.status = "error".into();
                }
                "deleting" => match self.driver.delete_volume(&v.id).await {
                    Ok(()) => {
                        self.store.volume_delete(&v.id).await?;
                        tracing::info!(volume = %v.id, "interrupted deletion finished");
                        continue;
                    }
                    Err(e) => {
                        tracing::warn!(volume = %v.id, error = %oxstack_common::http::error_chain(&e), "interrupted deletion failed");
                        v.status = "error_deleting".into();
                    }
                },
                "extending" => v.status = "error_extending".into(),
                "attaching" => v.status = "available".into(),
                "uploading" => {
                    tracing::info!(volume = %v.id, "interrupted upload to image: volume released");
                    v.status = if v.attach_status == "attached" {
                        "in-use"
                    } else {
                        "available"
                    }
                    .into();
                }
                _ => v.status = "in-use".into(),
            }
            v.updated_at = Some(t);
            self.store.volume_save(&v).await?;
        }
        for mut s in self.store.snapshot_list(None).await? {
            match s.status.as_str() {
                "creating" => {
                    let _ = self.driver.delete_snapshot(&s.id).await;
                    s.status = "error".into();
                }
                "deleting" => {
                    if self.driver.delete_snapshot(&s.id).await.is_ok() {
                        self.store.snapshot_delete(&s.id).await?;
                        continue;
                    }
                    s.status = "error_deleting".into();
                }
                _ => continue,
            }
            s.updated_at = Some(t);
            self.store.snapshot_save(&s).await?;
        }
        self.remove_orphan_disks().await
    }

    /// Removes the disks of volumes and snapshots that have no record (their deletion was
    /// recorded, or they were never recorded). Run before the API serves, so no creation
    /// can be under way.
    async fn remove_orphan_disks(&self) -> Result<()> {
        let disks = match self.driver.disks().await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %oxstack_common::http::error_chain(&e), "cannot list the driver's disks");
                return Ok(());
            }
        };
        for id in &disks.volumes {
            if self.store.volume_get(id).await?.is_none() {
                tracing::info!(volume = %id, "removing the disk of a volume without a record");
                if let Err(e) = self.driver.delete_volume(id).await {
                    tracing::warn!(volume = %id, error = %oxstack_common::http::error_chain(&e), "cannot remove orphaned disk");
                }
            }
        }
        for id in &disks.snapshots {
            if self.store.snapshot_get(id).await?.is_none() {
                tracing::info!(snapshot = %id, "removing the data of a snapshot without a record");
                if let Err(e) = self.driver.delete_snapshot(id).await {
                    tracing::warn!(snapshot = %id, error = %oxstack_common::http::error_chain(&e), "cannot remove orphaned snapshot");
                }
            }
        }
        Ok(())
    }

    /// `http://host:8776/v3/{project}/{path}`.
    pub fn self_link(&self, project: &str, path: &str) -> String {
        format!("{}/v3/{project}/{path}", self.public_url)
    }

    /// Cinder's `[{"rel": "self"}, {"rel": "bookmark"}]`.
    pub fn links(&self, project: &str, path: &str) -> Value {
        json!([
            {"rel": "self", "href": self.self_link(project, path)},
            {"rel": "bookmark", "href": format!("{}/{project}/{path}", self.public_url)},
        ])
    }
}

/// Cinder's policy target for a resource.
pub(crate) fn target(project_id: &str, user_id: &str) -> Value {
    json!({"project_id": project_id, "user_id": user_id})
}

/// Sorts, pages (`marker` is exclusive; unknown marker is 404) and limits `items`.
pub(crate) fn page<T>(
    mut items: Vec<T>,
    id_of: impl Fn(&T) -> &str,
    marker: Option<&str>,
    limit: Option<usize>,
) -> Result<Vec<T>> {
    if let Some(m) = marker {
        let pos = items
            .iter()
            .position(|i| id_of(i) == m)
            .ok_or_else(|| Error::not_found(format!("Marker {m} could not be found.")))?;
        items.drain(..=pos);
    }
    if let Some(l) = limit {
        items.truncate(l);
    }
    Ok(items)
}
