//! Policy blobs (`identity_policy`).

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Result, Store, extra, extra_text};
use crate::model::PolicyBlob;

const COLUMNS: &str = "id, type, policy_blob, extra";

impl Store {
    fn policy_blob_from_row(r: &AnyRow) -> Result<PolicyBlob> {
        Ok(PolicyBlob {
            id: r.try_get("id")?,
            policy_type: r.try_get("type")?,
            blob: r.try_get("policy_blob")?,
            extra: extra(r)?,
        })
    }

    pub async fn policy_blob_get(&self, id: &str) -> Result<Option<PolicyBlob>> {
        let row = self
            .db
            .query(format!(
                "SELECT {COLUMNS} FROM identity_policy WHERE id = ?"
            ))
            .bind(id.to_string())
            .fetch_optional(self.db.pool())
            .await?;
        row.as_ref().map(Self::policy_blob_from_row).transpose()
    }

    pub async fn policy_blob_list(&self, policy_type: Option<&str>) -> Result<Vec<PolicyBlob>> {
        let mut sql = format!("SELECT {COLUMNS} FROM identity_policy");
        if policy_type.is_some() {
            sql.push_str(" WHERE type = ?");
        }
        sql.push_str(" ORDER BY id");
        let mut q = self.db.query(sql);
        if let Some(t) = policy_type {
            q = q.bind(t.to_string());
        }
        q.fetch_all(self.db.pool())
            .await?
            .iter()
            .map(Self::policy_blob_from_row)
            .collect()
    }

    pub async fn policy_blob_create(&self, p: &PolicyBlob) -> Result<()> {
        self.db
            .query("INSERT INTO identity_policy (id, type, policy_blob, extra) VALUES (?, ?, ?, ?)")
            .bind(p.id.clone())
            .bind(p.policy_type.clone())
            .bind(p.blob.clone())
            .bind(extra_text(&p.extra))
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    pub async fn policy_blob_update(&self, p: &PolicyBlob) -> Result<()> {
        self.db
            .query("UPDATE identity_policy SET type = ?, policy_blob = ?, extra = ? WHERE id = ?")
            .bind(p.policy_type.clone())
            .bind(p.blob.clone())
            .bind(extra_text(&p.extra))
            .bind(p.id.clone())
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    pub async fn policy_blob_delete(&self, id: &str) -> Result<bool> {
        let n = self
            .db
            .query("DELETE FROM identity_policy WHERE id = ?")
            .bind(id.to_string())
            .execute(self.db.pool())
            .await?;
        Ok(n.rows_affected() > 0)
    }
}
