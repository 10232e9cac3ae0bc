//! Instance actions and their events (`os-instance-actions`).

use sqlx::Row;

use super::{Result, Store};
use crate::model::{ActionEvent, InstanceAction};

impl Store {
    /// Records the start of an action (idempotent per request id).
    pub async fn action_start(&self, a: &InstanceAction) -> Result<()> {
        let r = self
            .db
            .query(
                "INSERT INTO compute_instance_action (instance_uuid, request_id, action, project_id, user_id, \
                 start_time, updated_at, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(a.instance_uuid.clone())
            .bind(a.request_id.clone())
            .bind(a.action.clone())
            .bind(a.project_id.clone())
            .bind(a.user_id.clone())
            .bind(a.start_time)
            .bind(a.updated_at)
            .bind(a.message.clone())
            .execute(self.db.pool())
            .await;
        match r {
            Ok(_) => Ok(()),
            Err(e) if oxstack_common::db::Db::is_unique_violation(&e) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// An action's newest-first list for a server.
    pub async fn action_list(&self, uuid: &str) -> Result<Vec<InstanceAction>> {
        let rows = self
            .db
            .query(
                "SELECT instance_uuid, request_id, action, project_id, user_id, start_time, updated_at, message \
                 FROM compute_instance_action WHERE instance_uuid = ? ORDER BY start_time DESC, request_id DESC",
            )
            .bind(uuid.to_string())
            .fetch_all(self.db.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(InstanceAction {
                    instance_uuid: r.try_get("instance_uuid")?,
                    request_id: r.try_get("request_id")?,
                    action: r.try_get("action")?,
                    project_id: r.try_get("project_id")?,
                    user_id: r.try_get("user_id")?,
                    start_time: r.try_get("start_time")?,
                    updated_at: r.try_get("updated_at")?,
                    message: r.try_get("message")?,
                })
            })
            .collect()
    }

    /// Starts an event of an action.
    pub async fn event_start(
        &self,
        uuid: &str,
        request_id: &str,
        event: &str,
        host: Option<&str>,
    ) -> Result<()> {
        let now = oxstack_common::time::now().timestamp_micros();
        let mut tx = self.db.begin_write().await?;
        self.db
            .query("DELETE FROM compute_instance_action_event WHERE instance_uuid = ? AND request_id = ? AND event = ?")
            .bind(uuid.to_string())
            .bind(request_id.to_string())
            .bind(event.to_string())
            .execute(&mut *tx)
            .await?;
        self.db
            .query(
                "INSERT INTO compute_instance_action_event (instance_uuid, request_id, event, start_time, host) \
                 VALUES (?, ?, ?, ?, ?)",
            )
            .bind(uuid.to_string())
            .bind(request_id.to_string())
            .bind(event.to_string())
            .bind(now)
            .bind(host.map(str::to_string))
            .execute(&mut *tx)
            .await?;
        self.db
            .query("UPDATE compute_instance_action SET updated_at = ? WHERE instance_uuid = ? AND request_id = ?")
            .bind(now)
            .bind(uuid.to_string())
            .bind(request_id.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Finishes an event; an error also marks the action's message `Error`.
    pub async fn event_finish(
        &self,
        uuid: &str,
        request_id: &str,
        event: &str,
        error: Option<&str>,
    ) -> Result<()> {
        let now = oxstack_common::time::now().timestamp_micros();
        let mut tx = self.db.begin_write().await?;
        self.db
            .query(
                "UPDATE compute_instance_action_event SET finish_time = ?, result = ?, traceback = ? \
                 WHERE instance_uuid = ? AND request_id = ? AND event = ?",
            )
            .bind(now)
            .bind(if error.is_some() { "Error" } else { "Success" }.to_string())
            .bind(error.map(str::to_string))
            .bind(uuid.to_string())
            .bind(request_id.to_string())
            .bind(event.to_string())
            .execute(&mut *tx)
            .await?;
        let msg = error.map(|_| "Error".to_string());
        self.db
            .query(
                "UPDATE compute_instance_action SET updated_at = ?, message = COALESCE(?, message) \
                 WHERE instance_uuid = ? AND request_id = ?",
            )
            .bind(now)
            .bind(msg)
            .bind(uuid.to_string())
            .bind(request_id.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn event_list(&self, uuid: &str, request_id: &str) -> Result<Vec<ActionEvent>> {
        let rows = self
            .db
            .query(
                "SELECT event, start_time, finish_time, result, traceback, host FROM compute_instance_action_event \
                 WHERE instance_uuid = ? AND request_id = ? ORDER BY start_time, event",
            )
            .bind(uuid.to_string())
            .bind(request_id.to_string())
            .fetch_all(self.db.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(ActionEvent {
                    event: r.try_get("event")?,
                    start_time: r.try_get("start_time")?,
                    finish_time: r.try_get("finish_time")?,
                    result: r.try_get("result")?,
                    traceback: r.try_get("traceback")?,
                    host: r.try_get("host")?,
                })
            })
            .collect()
    }
}
