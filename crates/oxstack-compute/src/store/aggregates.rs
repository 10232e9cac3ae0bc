//! Host aggregates: their hosts and metadata.

use std::collections::BTreeMap;

use sqlx::Row;

use super::{Result, Store};
use crate::model::Aggregate;

impl Store {
    /// Inserts a new aggregate with the next id ([`super::StoreError::Duplicate`] when the
    /// name is taken) and its metadata.
    pub async fn aggregate_create(
        &self,
        uuid: &str,
        name: &str,
        metadata: &BTreeMap<String, String>,
        now: i64,
    ) -> Result<i64> {
        let mut tx = self.db.begin_write().await?;
        let id: i64 = self
            .db
            .query_scalar("SELECT COALESCE(MAX(id), 0) + 1 FROM compute_aggregate")
            .fetch_one(&mut *tx)
            .await?;
        self.db
            .query("INSERT INTO compute_aggregate (id, uuid, name, created_at) VALUES (?, ?, ?, ?)")
            .bind(id)
            .bind(uuid.to_string())
            .bind(name.to_string())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        for (k, v) in metadata {
            self.db
                .query("INSERT INTO compute_aggregate_metadata (aggregate_id, meta_key, meta_value) VALUES (?, ?, ?)")
                .bind(id)
                .bind(k.clone())
                .bind(v.clone())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    /// Every aggregate with its hosts and metadata, by id.
    pub async fn aggregate_list(&self) -> Result<Vec<Aggregate>> {
        let rows = self
            .db
            .query(
                "SELECT id, uuid, name, created_at, updated_at FROM compute_aggregate ORDER BY id",
            )
            .fetch_all(self.db.pool())
            .await?;
        let mut out = Vec::new();
        for r in &rows {
            out.push(Aggregate {
                id: r.try_get("id")?,
                uuid: r.try_get("uuid")?,
                name: r.try_get("name")?,
                hosts: Vec::new(),
                metadata: BTreeMap::new(),
                created_at: r.try_get("created_at")?,
                updated_at: r.try_get("updated_at")?,
            });
        }
        let hosts = self
            .db
            .query("SELECT aggregate_id, host FROM compute_aggregate_host ORDER BY host")
            .fetch_all(self.db.pool())
            .await?;
        for r in &hosts {
            let id: i64 = r.try_get("aggregate_id")?;
            if let Some(a) = out.iter_mut().find(|a| a.id == id) {
                a.hosts.push(r.try_get("host")?);
            }
        }
        let meta = self
            .db
            .query("SELECT aggregate_id, meta_key, meta_value FROM compute_aggregate_metadata")
            .fetch_all(self.db.pool())
            .await?;
        for r in &meta {
            let id: i64 = r.try_get("aggregate_id")?;
            if let Some(a) = out.iter_mut().find(|a| a.id == id) {
                a.metadata
                    .insert(r.try_get("meta_key")?, r.try_get("meta_value")?);
            }
        }
        Ok(out)
    }

    pub async fn aggregate_get(&self, id: i64) -> Result<Option<Aggregate>> {
        Ok(self
            .aggregate_list()
            .await?
            .into_iter()
            .find(|a| a.id == id))
    }

    /// Renames an aggregate ([`super::StoreError::Duplicate`] when the name is taken).
    pub async fn aggregate_rename(&self, id: i64, name: &str, now: i64) -> Result<()> {
        self.db
            .query("UPDATE compute_aggregate SET name = ?, updated_at = ? WHERE id = ?")
            .bind(name.to_string())
            .bind(now)
            .bind(id)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Sets (`Some`) or removes (`None`) metadata items.
    pub async fn aggregate_metadata_set(
        &self,
        id: i64,
        items: &BTreeMap<String, Option<String>>,
        now: i64,
    ) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        for (k, v) in items {
            self.db
                .query("DELETE FROM compute_aggregate_metadata WHERE aggregate_id = ? AND meta_key = ?")
                .bind(id)
                .bind(k.clone())
                .execute(&mut *tx)
                .await?;
            if let Some(v) = v {
                self.db
                    .query("INSERT INTO compute_aggregate_metadata (aggregate_id, meta_key, meta_value) VALUES (?, ?, ?)")
                    .bind(id)
                    .bind(k.clone())
                    .bind(v.clone())
                    .execute(&mut *tx)
                    .await?;
            }
        }
        self.db
            .query("UPDATE compute_aggregate SET updated_at = ? WHERE id = ?")
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Adds (or removes) a host; false when it was already (or not) a member.
    pub async fn aggregate_host(&self, id: i64, host: &str, add: bool) -> Result<bool> {
        let q = if add {
            "INSERT INTO compute_aggregate_host (aggregate_id, host) VALUES (?, ?)"
        } else {
            "DELETE FROM compute_aggregate_host WHERE aggregate_id = ? AND host = ?"
        };
        match self
            .db
            .query(q)
            .bind(id)
            .bind(host.to_string())
            .execute(self.db.pool())
            .await
        {
            Ok(r) => Ok(r.rows_affected() > 0),
            Err(e) => match super::StoreError::from(e) {
                super::StoreError::Duplicate => Ok(false),
                other => Err(other),
            },
        }
    }

    /// Deletes an aggregate with its metadata (it must have no hosts).
    pub async fn aggregate_delete(&self, id: i64) -> Result<bool> {
        let mut tx = self.db.begin_write().await?;
        self.db
            .query("DELETE FROM compute_aggregate_metadata WHERE aggregate_id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let n = self
            .db
            .query("DELETE FROM compute_aggregate WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n > 0)
    }
}
