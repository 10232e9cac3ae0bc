//! Snapshots: create, list/show/update/delete, metadata, reset status.

use std::sync::Arc;

use oxstack_common::{Error, Result};

use super::{App, Caller, new_id, not_found, now, over_quota, page, target};
use crate::driver::{SnapshotSpec, VolumeSpec};
use crate::model::{Meta, Snapshot};

/// What `POST /snapshots` asks for.
#[derive(Debug, Clone, Default)]
pub struct SnapshotCreate {
    pub volume_id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub force: bool,
    pub metadata: Meta,
}

/// Filters and paging of a snapshot list.
#[derive(Debug, Clone, Default)]
pub struct SnapshotQuery {
    pub all_tenants: bool,
    pub name: Option<String>,
    pub status: Option<String>,
    pub volume_id: Option<String>,
    pub metadata: Option<Meta>,
    pub sort: Vec<(String, bool)>,
    pub limit: Option<usize>,
    pub marker: Option<String>,
    /// Items skipped before the page (Cinder's `offset`).
    pub offset: usize,
}

impl App {
    async fn snapshot_for(&self, c: &Caller<'_>, id: &str, rule: &str) -> Result<Snapshot> {
        let s = self
            .store
            .snapshot_get(id)
            .await?
            .filter(|s| c.is_admin || s.project_id == c.project_id())
            .ok_or_else(|| not_found("Snapshot", id))?;
        self.authorize(c, rule, &target(&s.project_id, &s.user_id))?;
        Ok(s)
    }

    pub async fn snapshot_create(
        self: &Arc<Self>,
        c: &Caller<'_>,
        req: SnapshotCreate,
    ) -> Result<Snapshot> {
        self.authorize_own(c, "volume:create_snapshot")?;
        let v = self.volume_visible(c, &req.volume_id).await?;
        let ok = v.status == "available" || (req.force && v.status == "in-use");
        if !ok {
            return Err(Error::bad_request(format!(
                "Invalid volume: Volume {} status must be available, but current status is: {}.",
                v.id, v.status
            )));
        }
        let limits = self.quota_limits(&v.project_id).await?;
        let usage = self.quota_usage(&v.project_id).await?;
        let snaps = limits.get("snapshots").copied().unwrap_or(-1);
        if snaps >= 0 && usage.snapshots + 1 > snaps {
            return Err(over_quota(format!(
                "SnapshotLimitExceeded: Maximum number of snapshots allowed ({snaps}) exceeded"
            )));
        }
        let gb = limits.get("gigabytes").copied().unwrap_or(-1);
        if gb >= 0 && usage.gigabytes + v.size > gb {
            return Err(over_quota(format!(
                "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed gigabytes quota. Requested {}G, quota is {gb}G and {}G has been consumed.",
                v.size, usage.gigabytes
            )));
        }
        let s = Snapshot {
            id: new_id(),
            volume_id: v.id.clone(),
            project_id: c.project_id().to_string(),
            user_id: c.user_id().to_string(),
            name: req.name,
            description: req.description,
            size: v.size,
            status: "creating".into(),
            progress: "0%".into(),
            metadata: req.metadata,
            created_at: now(),
            updated_at: None,
        };
        self.store.snapshot_create(&s).await?;
        let app = self.clone();
        let snap = s.clone();
        tokio::spawn(async move {
            let r = app
                .driver
                .create_snapshot(
                    &SnapshotSpec {
                        id: snap.id.clone(),
                        volume_id: v.id.clone(),
                    },
                    &VolumeSpec {
                        id: v.id.clone(),
                        size_gb: v.size,
                        format: v.format.clone(),
                    },
                )
                .await;
            let Ok(Some(mut cur)) = app.store.snapshot_get(&snap.id).await else {
                return;
            };
            if cur.status != "creating" {
                return;
            }
            match r {
                Ok(()) => {
                    cur.status = "available".into();
                    cur.progress = "100%".into();
                }
                Err(e) => {
                    tracing::error!(snapshot = %snap.id, error = %oxstack_common::http::error_chain(&e), "snapshot failed");
                    cur.status = "error".into();
                }
            }
            cur.updated_at = Some(now());
            if let Err(e) = app.store.snapshot_save(&cur).await {
                tracing::error!(snapshot = %snap.id, error = %oxstack_common::http::error_chain(&e), "cannot record snapshot");
            }
        });
        Ok(s)
    }

    pub async fn snapshot_get(&self, c: &Caller<'_>, id: &str) -> Result<Snapshot> {
        self.snapshot_for(c, id, "volume:get_snapshot").await
    }

    pub async fn snapshot_list(&self, c: &Caller<'_>, q: &SnapshotQuery) -> Result<Vec<Snapshot>> {
        self.authorize_own(c, "volume:get_all_snapshots")?;
        let project = (!(q.all_tenants && c.is_admin)).then(|| c.project_id().to_string());
        let mut snaps: Vec<Snapshot> = self
            .store
            .snapshot_list(project.as_deref())
            .await?
            .into_iter()
            .filter(|s| q.name.as_ref().is_none_or(|n| s.name.as_ref() == Some(n)))
            .filter(|s| q.status.as_ref().is_none_or(|n| &s.status == n))
            .filter(|s| q.volume_id.as_ref().is_none_or(|n| &s.volume_id == n))
            .filter(|s| {
                q.metadata
                    .as_ref()
                    .is_none_or(|m| m.iter().all(|(k, val)| s.metadata.get(k) == Some(val)))
            })
            .collect();
        for (k, _) in &q.sort {
            if ![
                "id",
                "name",
                "display_name",
                "status",
                "size",
                "created_at",
                "updated_at",
            ]
            .contains(&k.as_str())
            {
                return Err(Error::bad_request(format!(
                    "Invalid input received: Invalid sort key {k}"
                )));
            }
        }
        for (k, asc) in q.sort.iter().rev() {
            let cmp = |a: &Snapshot, b: &Snapshot| match k.as_str() {
                "id" => a.id.cmp(&b.id),
                "name" | "display_name" => a.name.cmp(&b.name),
                "status" => a.status.cmp(&b.status),
                "size" => a.size.cmp(&b.size),
                "updated_at" => a.updated_at.cmp(&b.updated_at),
                _ => a.created_at.cmp(&b.created_at),
            };
            if *asc {
                snaps.sort_by(cmp);
            } else {
                snaps.sort_by(|a, b| cmp(b, a));
            }
        }
        snaps.drain(..q.offset.min(snaps.len()));
        page(snaps, |s| &s.id, q.marker.as_deref(), q.limit)
    }

    pub async fn snapshot_update(
        &self,
        c: &Caller<'_>,
        id: &str,
        name: Option<Option<String>>,
        description: Option<Option<String>>,
    ) -> Result<Snapshot> {
        let mut s = self.snapshot_for(c, id, "volume:update_snapshot").await?;
        if let Some(n) = name {
            s.name = n;
        }
        if let Some(d) = description {
            s.description = d;
        }
        s.updated_at = Some(now());
        self.store.snapshot_save(&s).await?;
        Ok(s)
    }

    pub async fn snapshot_delete(
        self: &Arc<Self>,
        c: &Caller<'_>,
        id: &str,
        force: bool,
    ) -> Result<()> {
        let rule = if force {
            "volume_extension:snapshot_admin_actions:force_delete"
        } else {
            "volume:delete_snapshot"
        };
        let mut s = self.snapshot_for(c, id, rule).await?;
        if !force && !matches!(s.status.as_str(), "available" | "error" | "error_deleting") {
            return Err(Error::bad_request(format!(
                "Invalid snapshot: Snapshot status must be available or error and must not be part of a group. (current: {})",
                s.status
            )));
        }
        s.status = "deleting".into();
        s.updated_at = Some(now());
        self.store.snapshot_save(&s).await?;
        let app = self.clone();
        tokio::spawn(async move {
            match app.driver.delete_snapshot(&s.id).await {
                Ok(()) => {
                    if let Err(e) = app.store.snapshot_delete(&s.id).await {
                        tracing::error!(snapshot = %s.id, error = %oxstack_common::http::error_chain(&e), "cannot record snapshot deletion");
                    }
                }
                Err(e) => {
                    tracing::error!(snapshot = %s.id, error = %oxstack_common::http::error_chain(&e), "snapshot deletion failed");
                    s.status = "error_deleting".into();
                    let _ = app.store.snapshot_save(&s).await;
                }
            }
        });
        Ok(())
    }

    pub async fn snapshot_reset_status(
        &self,
        c: &Caller<'_>,
        id: &str,
        status: &str,
    ) -> Result<()> {
        let mut s = self
            .snapshot_for(
                c,
                id,
                "volume_extension:snapshot_admin_actions:reset_status",
            )
            .await?;
        if !matches!(
            status,
            "available" | "error" | "creating" | "deleting" | "error_deleting"
        ) {
            return Err(Error::bad_request(format!(
                "Invalid input received: Must specify a valid status (got {status})"
            )));
        }
        s.status = status.to_string();
        s.updated_at = Some(now());
        self.store.snapshot_save(&s).await?;
        Ok(())
    }

    pub async fn snapshot_metadata_get(&self, c: &Caller<'_>, id: &str) -> Result<Meta> {
        Ok(self
            .snapshot_for(c, id, "volume:get_snapshot_metadata")
            .await?
            .metadata)
    }

    pub async fn snapshot_metadata_set(
        &self,
        c: &Caller<'_>,
        id: &str,
        meta: Meta,
        replace: bool,
    ) -> Result<Meta> {
        let mut s = self
            .snapshot_for(c, id, "volume:update_snapshot_metadata")
            .await?;
        if replace {
            s.metadata = meta;
        } else {
            s.metadata.extend(meta);
        }
        s.updated_at = Some(now());
        self.store.snapshot_save(&s).await?;
        Ok(s.metadata)
    }

    pub async fn snapshot_metadata_delete(
        &self,
        c: &Caller<'_>,
        id: &str,
        key: &str,
    ) -> Result<()> {
        let mut s = self
            .snapshot_for(c, id, "volume:delete_snapshot_metadata")
            .await?;
        if s.metadata.remove(key).is_none() {
            return Err(Error::not_found(format!(
                "Snapshot {id} has no metadata with key {key}."
            )));
        }
        s.updated_at = Some(now());
        self.store.snapshot_save(&s).await?;
        Ok(())
    }
}
