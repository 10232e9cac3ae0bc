//! Volumes.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Result, Store, flag, meta, meta_text};
use crate::model::Volume;

const COLUMNS: &str = "id, project_id, user_id, name, description, size, status, attach_status, \
    migration_status, volume_type_id, availability_zone, host, bootable, multiattach, snapshot_id, \
    source_volid, format, metadata, image_metadata, admin_metadata, created_at, updated_at";

impl Store {
    fn volume_from_row(r: &AnyRow) -> Result<Volume> {
        Ok(Volume {
            id: r.try_get("id")?,
            project_id: r.try_get("project_id")?,
            user_id: r.try_get("user_id")?,
            name: r.try_get("name")?,
            description: r.try_get("description")?,
            size: r.try_get("size")?,
            status: r.try_get("status")?,
            attach_status: r.try_get("attach_status")?,
            migration_status: r.try_get("migration_status")?,
            volume_type_id: r.try_get("volume_type_id")?,
            availability_zone: r.try_get("availability_zone")?,
            host: r.try_get("host")?,
            bootable: flag(r, "bootable")?,
            multiattach: flag(r, "multiattach")?,
            snapshot_id: r.try_get("snapshot_id")?,
            source_volid: r.try_get("source_volid")?,
            format: r.try_get("format")?,
            metadata: meta(r, "metadata")?,
            image_metadata: meta(r, "image_metadata")?,
            admin_metadata: meta(r, "admin_metadata")?,
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
        })
    }

    pub async fn volume_create(&self, v: &Volume) -> Result<()> {
        self.db
            .query(format!(
                "INSERT INTO blockstore_volume ({COLUMNS}) VALUES \
                 (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            ))
            .bind(v.id.clone())
            .bind(v.project_id.clone())
            .bind(v.user_id.clone())
            .bind(v.name.clone())
            .bind(v.description.clone())
            .bind(v.size)
            .bind(v.status.clone())
            .bind(v.attach_status.clone())
            .bind(v.migration_status.clone())
            .bind(v.volume_type_id.clone())
            .bind(v.availability_zone.clone())
            .bind(v.host.clone())
            .bind(i64::from(v.bootable))
            .bind(i64::from(v.multiattach))
            .bind(v.snapshot_id.clone())
            .bind(v.source_volid.clone())
            .bind(v.format.clone())
            .bind(meta_text(&v.metadata))
            .bind(meta_text(&v.image_metadata))
            .bind(meta_text(&v.admin_metadata))
            .bind(v.created_at)
            .bind(v.updated_at)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Writes every mutable field of `v`.
    pub async fn volume_save(&self, v: &Volume) -> Result<()> {
        self.db
            .query(
                "UPDATE blockstore_volume SET name = ?, description = ?, size = ?, status = ?, \
                 attach_status = ?, migration_status = ?, volume_type_id = ?, host = ?, bootable = ?, \
                 multiattach = ?, metadata = ?, image_metadata = ?, admin_metadata = ?, updated_at = ? \
                 WHERE id = ?",
            )
            .bind(v.name.clone())
            .bind(v.description.clone())
            .bind(v.size)
            .bind(v.status.clone())
            .bind(v.attach_status.clone())
            .bind(v.migration_status.clone())
            .bind(v.volume_type_id.clone())
            .bind(v.host.clone())
            .bind(i64::from(v.bootable))
            .bind(i64::from(v.multiattach))
            .bind(meta_text(&v.metadata))
            .bind(meta_text(&v.image_metadata))
            .bind(meta_text(&v.admin_metadata))
            .bind(v.updated_at)
            .bind(v.id.clone())
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Moves the volume to `to` only if its status is one of `from` (so two requests racing
    /// for the same transition cannot both win). Returns whether it moved.
    pub async fn volume_cas_status(
        &self,
        id: &str,
        from: &[&str],
        to: &str,
        now: i64,
    ) -> Result<bool> {
        let marks = vec!["?"; from.len()].join(", ");
        let mut q = self
            .db
            .query(format!(
                "UPDATE blockstore_volume SET status = ?, updated_at = ? WHERE id = ? AND status IN ({marks})"
            ))
            .bind(to.to_string())
            .bind(now)
            .bind(id.to_string());
        for f in from {
            q = q.bind(f.to_string());
        }
        Ok(q.execute(self.db.pool()).await?.rows_affected() > 0)
    }

    pub async fn volume_get(&self, id: &str) -> Result<Option<Volume>> {
        let row = self
            .db
            .query(format!(
                "SELECT {COLUMNS} FROM blockstore_volume WHERE id = ?"
            ))
            .bind(id.to_string())
            .fetch_optional(self.db.pool())
            .await?;
        row.as_ref().map(Self::volume_from_row).transpose()
    }

    /// Volumes of `project_id` (every project's when `None`), newest first.
    // TODO-performance: filters and paging run over the project's volumes in memory.
    pub async fn volume_list(&self, project_id: Option<&str>) -> Result<Vec<Volume>> {
        let rows = match project_id {
            Some(p) => {
                self.db
                    .query(format!(
                        "SELECT {COLUMNS} FROM blockstore_volume WHERE project_id = ? ORDER BY created_at DESC, id DESC"
                    ))
                    .bind(p.to_string())
                    .fetch_all(self.db.pool())
                    .await?
            }
            None => {
                self.db
                    .query(format!(
                        "SELECT {COLUMNS} FROM blockstore_volume ORDER BY created_at DESC, id DESC"
                    ))
                    .fetch_all(self.db.pool())
                    .await?
            }
        };
        rows.iter().map(Self::volume_from_row).collect()
    }

    /// Volumes in one of `statuses` (restart recovery).
    pub async fn volume_list_in(&self, statuses: &[&str]) -> Result<Vec<Volume>> {
        let marks = vec!["?"; statuses.len()].join(", ");
        let mut q = self.db.query(format!(
            "SELECT {COLUMNS} FROM blockstore_volume WHERE status IN ({marks})"
        ));
        for s in statuses {
            q = q.bind(s.to_string());
        }
        let rows = q.fetch_all(self.db.pool()).await?;
        rows.iter().map(Self::volume_from_row).collect()
    }

    /// How many volumes use the type.
    pub async fn volume_count_of_type(&self, type_id: &str) -> Result<i64> {
        Ok(self
            .db
            .query_scalar("SELECT COUNT(*) FROM blockstore_volume WHERE volume_type_id = ?")
            .bind(type_id.to_string())
            .fetch_one(self.db.pool())
            .await?)
    }

    /// Deletes the volume row and its attachments.
    pub async fn volume_delete(&self, id: &str) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        self.db
            .query("DELETE FROM blockstore_attachment WHERE volume_id = ?")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        self.db
            .query("DELETE FROM blockstore_volume WHERE id = ?")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
