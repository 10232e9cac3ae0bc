//! Snapshots.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Result, Store, meta, meta_text};
use crate::model::Snapshot;

const COLUMNS: &str = "id, volume_id, project_id, user_id, name, description, size, status, \
    progress, metadata, created_at, updated_at";

impl Store {
    fn snapshot_from_row(r: &AnyRow) -> Result<Snapshot> {
        Ok(Snapshot {
            id: r.try_get("id")?,
            volume_id: r.try_get("volume_id")?,
            project_id: r.try_get("project_id")?,
            user_id: r.try_get("user_id")?,
            name: r.try_get("name")?,
            description: r.try_get("description")?,
            size: r.try_get("size")?,
            status: r.try_get("status")?,
            progress: r.try_get("progress")?,
            metadata: meta(r, "metadata")?,
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
        })
    }

    pub async fn snapshot_create(&self, s: &Snapshot) -> Result<()> {
        self.db
            .query(format!(
                "INSERT INTO blockstore_snapshot ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            ))
            .bind(s.id.clone())
            .bind(s.volume_id.clone())
            .bind(s.project_id.clone())
            .bind(s.user_id.clone())
            .bind(s.name.clone())
            .bind(s.description.clone())
            .bind(s.size)
            .bind(s.status.clone())
            .bind(s.progress.clone())
            .bind(meta_text(&s.metadata))
            .bind(s.created_at)
            .bind(s.updated_at)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Writes every mutable field of `s`.
    pub async fn snapshot_save(&self, s: &Snapshot) -> Result<()> {
        self.db
            .query("UPDATE blockstore_snapshot SET name = ?, description = ?, status = ?, progress = ?, metadata = ?, updated_at = ? WHERE id = ?")
            .bind(s.name.clone())
            .bind(s.description.clone())
            .bind(s.status.clone())
            .bind(s.progress.clone())
            .bind(meta_text(&s.metadata))
            .bind(s.updated_at)
            .bind(s.id.clone())
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    pub async fn snapshot_get(&self, id: &str) -> Result<Option<Snapshot>> {
        let row = self
            .db
            .query(format!(
                "SELECT {COLUMNS} FROM blockstore_snapshot WHERE id = ?"
            ))
            .bind(id.to_string())
            .fetch_optional(self.db.pool())
            .await?;
        row.as_ref().map(Self::snapshot_from_row).transpose()
    }

    /// Snapshots of `project_id` (every project's when `None`), newest first.
    pub async fn snapshot_list(&self, project_id: Option<&str>) -> Result<Vec<Snapshot>> {
        let rows = match project_id {
            Some(p) => {
                self.db
                    .query(format!(
                        "SELECT {COLUMNS} FROM blockstore_snapshot WHERE project_id = ? ORDER BY created_at DESC, id DESC"
                    ))
                    .bind(p.to_string())
                    .fetch_all(self.db.pool())
                    .await?
            }
            None => {
                self.db
                    .query(format!(
                        "SELECT {COLUMNS} FROM blockstore_snapshot ORDER BY created_at DESC, id DESC"
                    ))
                    .fetch_all(self.db.pool())
                    .await?
            }
        };
        rows.iter().map(Self::snapshot_from_row).collect()
    }

    pub async fn snapshot_list_of_volume(&self, volume_id: &str) -> Result<Vec<Snapshot>> {
        let rows = self
            .db
            .query(format!(
                "SELECT {COLUMNS} FROM blockstore_snapshot WHERE volume_id = ? ORDER BY created_at"
            ))
            .bind(volume_id.to_string())
            .fetch_all(self.db.pool())
            .await?;
        rows.iter().map(Self::snapshot_from_row).collect()
    }

    pub async fn snapshot_delete(&self, id: &str) -> Result<()> {
        self.db
            .query("DELETE FROM blockstore_snapshot WHERE id = ?")
            .bind(id.to_string())
            .execute(self.db.pool())
            .await?;
        Ok(())
    }
}
