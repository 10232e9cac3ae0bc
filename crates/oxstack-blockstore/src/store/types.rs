//! Volume types, their extra specs and project access.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Result, Store, flag, meta, meta_text};
use crate::model::VolumeType;

const COLUMNS: &str = "id, name, description, is_public, extra_specs, created_at";

impl Store {
    fn type_from_row(r: &AnyRow) -> Result<VolumeType> {
        Ok(VolumeType {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            description: r.try_get("description")?,
            is_public: flag(r, "is_public")?,
            extra_specs: meta(r, "extra_specs")?,
            created_at: r.try_get("created_at")?,
        })
    }

    /// Inserts `t`; `Duplicate` when the name is taken.
    pub async fn type_create(&self, t: &VolumeType) -> Result<()> {
        self.db
            .query(format!(
                "INSERT INTO blockstore_volume_type ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"
            ))
            .bind(t.id.clone())
            .bind(t.name.clone())
            .bind(t.description.clone())
            .bind(i64::from(t.is_public))
            .bind(meta_text(&t.extra_specs))
            .bind(t.created_at)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Writes every field of `t`.
    pub async fn type_save(&self, t: &VolumeType) -> Result<()> {
        self.db
            .query("UPDATE blockstore_volume_type SET name = ?, description = ?, is_public = ?, extra_specs = ? WHERE id = ?")
            .bind(t.name.clone())
            .bind(t.description.clone())
            .bind(i64::from(t.is_public))
            .bind(meta_text(&t.extra_specs))
            .bind(t.id.clone())
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    pub async fn type_get(&self, id: &str) -> Result<Option<VolumeType>> {
        let row = self
            .db
            .query(format!(
                "SELECT {COLUMNS} FROM blockstore_volume_type WHERE id = ?"
            ))
            .bind(id.to_string())
            .fetch_optional(self.db.pool())
            .await?;
        row.as_ref().map(Self::type_from_row).transpose()
    }

    pub async fn type_get_by_name(&self, name: &str) -> Result<Option<VolumeType>> {
        let row = self
            .db
            .query(format!(
                "SELECT {COLUMNS} FROM blockstore_volume_type WHERE name = ?"
            ))
            .bind(name.to_string())
            .fetch_optional(self.db.pool())
            .await?;
        row.as_ref().map(Self::type_from_row).transpose()
    }

    /// Every type, by name.
    pub async fn type_list(&self) -> Result<Vec<VolumeType>> {
        let rows = self
            .db
            .query(format!(
                "SELECT {COLUMNS} FROM blockstore_volume_type ORDER BY name"
            ))
            .fetch_all(self.db.pool())
            .await?;
        rows.iter().map(Self::type_from_row).collect()
    }

    /// Deletes the type and its access list.
    pub async fn type_delete(&self, id: &str) -> Result<bool> {
        let mut tx = self.db.begin_write().await?;
        self.db
            .query("DELETE FROM blockstore_type_access WHERE type_id = ?")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        let n = self
            .db
            .query("DELETE FROM blockstore_volume_type WHERE id = ?")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n > 0)
    }

    pub async fn type_access_list(&self, id: &str) -> Result<Vec<String>> {
        Ok(self
            .db
            .query_scalar("SELECT project_id FROM blockstore_type_access WHERE type_id = ? ORDER BY project_id")
            .bind(id.to_string())
            .fetch_all(self.db.pool())
            .await?)
    }

    /// Grants `project_id` access; `Duplicate` if it already has it.
    pub async fn type_access_add(&self, id: &str, project_id: &str) -> Result<()> {
        self.db
            .query("INSERT INTO blockstore_type_access (type_id, project_id) VALUES (?, ?)")
            .bind(id.to_string())
            .bind(project_id.to_string())
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Whether access was removed.
    pub async fn type_access_remove(&self, id: &str, project_id: &str) -> Result<bool> {
        let n = self
            .db
            .query("DELETE FROM blockstore_type_access WHERE type_id = ? AND project_id = ?")
            .bind(id.to_string())
            .bind(project_id.to_string())
            .execute(self.db.pool())
            .await?
            .rows_affected();
        Ok(n > 0)
    }
}
