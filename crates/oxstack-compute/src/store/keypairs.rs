//! Keypairs, per user.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Result, Store};
use crate::model::Keypair;

const COLUMNS: &str = "id, user_id, name, fingerprint, public_key, key_type, created_at";

impl Store {
    fn keypair_from_row(r: &AnyRow) -> Result<Keypair> {
        Ok(Keypair {
            id: r.try_get("id")?,
            user_id: r.try_get("user_id")?,
            name: r.try_get("name")?,
            fingerprint: r.try_get("fingerprint")?,
            public_key: r.try_get("public_key")?,
            key_type: r.try_get("key_type")?,
            created_at: r.try_get("created_at")?,
        })
    }

    /// Inserts `k` with the next id; [`super::StoreError::Duplicate`] when the user has a
    /// keypair of that name. Returns the id.
    pub async fn keypair_create(&self, k: &Keypair) -> Result<i64> {
        let mut tx = self.db.begin_write().await?;
        let id: i64 = self
            .db
            .query_scalar("SELECT COALESCE(MAX(id), 0) + 1 FROM compute_keypair")
            .fetch_one(&mut *tx)
            .await?;
        self.db
            .query(format!(
                "INSERT INTO compute_keypair ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
            ))
            .bind(id)
            .bind(k.user_id.clone())
            .bind(k.name.clone())
            .bind(k.fingerprint.clone())
            .bind(k.public_key.clone())
            .bind(k.key_type.clone())
            .bind(k.created_at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(id)
    }

    pub async fn keypair_get(&self, user_id: &str, name: &str) -> Result<Option<Keypair>> {
        let row = self
            .db
            .query(format!(
                "SELECT {COLUMNS} FROM compute_keypair WHERE user_id = ? AND name = ?"
            ))
            .bind(user_id.to_string())
            .bind(name.to_string())
            .fetch_optional(self.db.pool())
            .await?;
        row.as_ref().map(Self::keypair_from_row).transpose()
    }

    /// A user's keypairs ordered by name.
    pub async fn keypair_list(&self, user_id: &str) -> Result<Vec<Keypair>> {
        let rows = self
            .db
            .query(format!(
                "SELECT {COLUMNS} FROM compute_keypair WHERE user_id = ? ORDER BY name"
            ))
            .bind(user_id.to_string())
            .fetch_all(self.db.pool())
            .await?;
        rows.iter().map(Self::keypair_from_row).collect()
    }

    pub async fn keypair_count(&self, user_id: &str) -> Result<i64> {
        Ok(self
            .db
            .query_scalar("SELECT COUNT(*) FROM compute_keypair WHERE user_id = ?")
            .bind(user_id.to_string())
            .fetch_one(self.db.pool())
            .await?)
    }

    pub async fn keypair_delete(&self, user_id: &str, name: &str) -> Result<bool> {
        let n = self
            .db
            .query("DELETE FROM compute_keypair WHERE user_id = ? AND name = ?")
            .bind(user_id.to_string())
            .bind(name.to_string())
            .execute(self.db.pool())
            .await?
            .rows_affected();
        Ok(n > 0)
    }
}
