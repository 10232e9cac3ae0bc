//! OAuth1 consumers (`identity_oauth_consumer`).

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Result, Store, extra, extra_text};
use crate::model::Consumer;

const COLUMNS: &str = "id, description, encrypted_secret, key_hash, extra";

impl Store {
    fn consumer_from_row(r: &AnyRow) -> Result<Consumer> {
        Ok(Consumer {
            id: r.try_get("id")?,
            description: r.try_get("description")?,
            encrypted_secret: r.try_get("encrypted_secret")?,
            key_hash: r.try_get("key_hash")?,
            extra: extra(r)?,
        })
    }

    pub async fn consumer_get(&self, id: &str) -> Result<Option<Consumer>> {
        let row = self
            .db
            .query(format!(
                "SELECT {COLUMNS} FROM identity_oauth_consumer WHERE id = ?"
            ))
            .bind(id.to_string())
            .fetch_optional(self.db.pool())
            .await?;
        row.as_ref().map(Self::consumer_from_row).transpose()
    }

    pub async fn consumer_list(&self) -> Result<Vec<Consumer>> {
        self.db
            .query(format!(
                "SELECT {COLUMNS} FROM identity_oauth_consumer ORDER BY id"
            ))
            .fetch_all(self.db.pool())
            .await?
            .iter()
            .map(Self::consumer_from_row)
            .collect()
    }

    pub async fn consumer_create(&self, c: &Consumer) -> Result<()> {
        self.db
            .query("INSERT INTO identity_oauth_consumer (id, description, encrypted_secret, key_hash, extra) VALUES (?, ?, ?, ?, ?)")
            .bind(c.id.clone())
            .bind(c.description.clone())
            .bind(c.encrypted_secret.clone())
            .bind(c.key_hash.clone())
            .bind(extra_text(&c.extra))
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Updates the description and extra attributes (the secret never changes).
    pub async fn consumer_update(&self, c: &Consumer) -> Result<()> {
        self.db
            .query("UPDATE identity_oauth_consumer SET description = ?, extra = ? WHERE id = ?")
            .bind(c.description.clone())
            .bind(extra_text(&c.extra))
            .bind(c.id.clone())
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    pub async fn consumer_delete(&self, id: &str) -> Result<bool> {
        let n = self
            .db
            .query("DELETE FROM identity_oauth_consumer WHERE id = ?")
            .bind(id.to_string())
            .execute(self.db.pool())
            .await?;
        Ok(n.rows_affected() > 0)
    }
}
