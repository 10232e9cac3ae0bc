//! Per-project quota limits (defaults live in the configuration).

use std::collections::BTreeMap;

use sqlx::Row;

use super::{Result, Store};

impl Store {
    /// The limits a project has set, by resource.
    pub async fn quota_get(&self, project_id: &str) -> Result<BTreeMap<String, i64>> {
        let rows = self
            .db
            .query("SELECT resource, hard_limit FROM blockstore_quota WHERE project_id = ?")
            .bind(project_id.to_string())
            .fetch_all(self.db.pool())
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("resource")?, r.try_get("hard_limit")?)))
            .collect()
    }

    /// Sets one limit.
    pub async fn quota_set(&self, project_id: &str, resource: &str, limit: i64) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        self.db
            .query("DELETE FROM blockstore_quota WHERE project_id = ? AND resource = ?")
            .bind(project_id.to_string())
            .bind(resource.to_string())
            .execute(&mut *tx)
            .await?;
        self.db
            .query(
                "INSERT INTO blockstore_quota (project_id, resource, hard_limit) VALUES (?, ?, ?)",
            )
            .bind(project_id.to_string())
            .bind(resource.to_string())
            .bind(limit)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Drops a project's own limits (back to the defaults).
    pub async fn quota_delete(&self, project_id: &str) -> Result<()> {
        self.db
            .query("DELETE FROM blockstore_quota WHERE project_id = ?")
            .bind(project_id.to_string())
            .execute(self.db.pool())
            .await?;
        Ok(())
    }
}
