//! Quota limits per project and per quota class.

use std::collections::BTreeMap;

use sqlx::Row;

use super::{Result, Store};

impl Store {
    /// The limits set for a project (resources without a row use the class / defaults).
    pub async fn quota_get(&self, project_id: &str) -> Result<BTreeMap<String, i64>> {
        let rows = self
            .db
            .query("SELECT resource, hard_limit FROM compute_quota WHERE project_id = ?")
            .bind(project_id.to_string())
            .fetch_all(self.db.pool())
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("resource")?, r.try_get("hard_limit")?)))
            .collect()
    }

    pub async fn quota_set(&self, project_id: &str, limits: &BTreeMap<String, i64>) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        for (k, v) in limits {
            self.db
                .query("DELETE FROM compute_quota WHERE project_id = ? AND resource = ?")
                .bind(project_id.to_string())
                .bind(k.clone())
                .execute(&mut *tx)
                .await?;
            self.db
                .query(
                    "INSERT INTO compute_quota (project_id, resource, hard_limit) VALUES (?, ?, ?)",
                )
                .bind(project_id.to_string())
                .bind(k.clone())
                .bind(*v)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn quota_delete(&self, project_id: &str) -> Result<()> {
        self.db
            .query("DELETE FROM compute_quota WHERE project_id = ?")
            .bind(project_id.to_string())
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    pub async fn quota_class_get(&self, class: &str) -> Result<BTreeMap<String, i64>> {
        let rows = self
            .db
            .query("SELECT resource, hard_limit FROM compute_quota_class WHERE class_name = ?")
            .bind(class.to_string())
            .fetch_all(self.db.pool())
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("resource")?, r.try_get("hard_limit")?)))
            .collect()
    }

    pub async fn quota_class_set(&self, class: &str, limits: &BTreeMap<String, i64>) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        for (k, v) in limits {
            self.db
                .query("DELETE FROM compute_quota_class WHERE class_name = ? AND resource = ?")
                .bind(class.to_string())
                .bind(k.clone())
                .execute(&mut *tx)
                .await?;
            self.db
                .query("INSERT INTO compute_quota_class (class_name, resource, hard_limit) VALUES (?, ?, ?)")
                .bind(class.to_string())
                .bind(k.clone())
                .bind(*v)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
