//! Tasks (`image_task`): the records of image imports.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Result, Store, StoreError};
use crate::model::Task;

const COLUMNS: &str = "id, type, status, owner, image_id, request_id, user_id, input, result, \
    message, expires_at, created_at, updated_at";

fn json_opt(v: &Option<serde_json::Value>) -> Option<String> {
    v.as_ref().map(serde_json::Value::to_string)
}

impl Store {
    fn task_from_row(r: &AnyRow) -> Result<Task> {
        let parse = |col: &str| -> Result<Option<serde_json::Value>> {
            let s: Option<String> = r.try_get(col)?;
            s.map(|s| {
                serde_json::from_str(&s)
                    .map_err(|e| StoreError::Corrupt(format!("task {col}: {e}")))
            })
            .transpose()
        };
        Ok(Task {
            id: r.try_get("id")?,
            kind: r.try_get("type")?,
            status: r.try_get("status")?,
            owner: r.try_get("owner")?,
            image_id: r.try_get("image_id")?,
            request_id: r.try_get("request_id")?,
            user_id: r.try_get("user_id")?,
            input: parse("input")?,
            result: parse("result")?,
            message: r.try_get("message")?,
            expires_at: r.try_get("expires_at")?,
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
        })
    }

    pub async fn task_create(&self, t: &Task) -> Result<()> {
        self.db
            .query(format!(
                "INSERT INTO image_task ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            ))
            .bind(t.id.clone())
            .bind(t.kind.clone())
            .bind(t.status.clone())
            .bind(t.owner.clone())
            .bind(t.image_id.clone())
            .bind(t.request_id.clone())
            .bind(t.user_id.clone())
            .bind(json_opt(&t.input))
            .bind(json_opt(&t.result))
            .bind(t.message.clone())
            .bind(t.expires_at)
            .bind(t.created_at)
            .bind(t.updated_at)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Records how a task ended.
    pub async fn task_finish(&self, t: &Task) -> Result<bool> {
        let n = self
            .db
            .query(
                "UPDATE image_task SET status = ?, result = ?, message = ?, expires_at = ?, \
                 updated_at = ? WHERE id = ?",
            )
            .bind(t.status.clone())
            .bind(json_opt(&t.result))
            .bind(t.message.clone())
            .bind(t.expires_at)
            .bind(t.updated_at)
            .bind(t.id.clone())
            .execute(self.db.pool())
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    pub async fn task_get(&self, id: &str) -> Result<Option<Task>> {
        let row = self
            .db
            .query(format!("SELECT {COLUMNS} FROM image_task WHERE id = ?"))
            .bind(id.to_string())
            .fetch_optional(self.db.pool())
            .await?;
        row.as_ref().map(Self::task_from_row).transpose()
    }

    /// Unexpired tasks (at `now`), of one image or of all, owned by `owner` unless `None`;
    /// newest first.
    pub async fn task_list(
        &self,
        image_id: Option<&str>,
        owner: Option<&str>,
        now: i64,
    ) -> Result<Vec<Task>> {
        let mut sql = format!(
            "SELECT {COLUMNS} FROM image_task WHERE (expires_at IS NULL OR expires_at >= ?)"
        );
        if image_id.is_some() {
            sql.push_str(" AND image_id = ?");
        }
        if owner.is_some() {
            sql.push_str(" AND owner = ?");
        }
        sql.push_str(" ORDER BY created_at DESC, id DESC");
        let mut q = self.db.query(sql).bind(now);
        for v in [image_id, owner].into_iter().flatten() {
            q = q.bind(v.to_string());
        }
        let rows = q.fetch_all(self.db.pool()).await?;
        rows.iter().map(Self::task_from_row).collect()
    }

    /// Removes tasks that expired before `now` (Glance soft-deletes them the same way,
    /// lazily, when tasks are next read or written).
    pub async fn task_purge_expired(&self, now: i64) -> Result<()> {
        self.db
            .query("DELETE FROM image_task WHERE expires_at < ?")
            .bind(now)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }
}
