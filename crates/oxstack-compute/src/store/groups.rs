//! Server groups and their members.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Result, Store};
use crate::model::ServerGroup;

impl Store {
    fn group_from_row(r: &AnyRow) -> Result<ServerGroup> {
        Ok(ServerGroup {
            uuid: r.try_get("uuid")?,
            name: r.try_get("name")?,
            project_id: r.try_get("project_id")?,
            user_id: r.try_get("user_id")?,
            policy: r.try_get("policy")?,
            members: Vec::new(),
            created_at: r.try_get("created_at")?,
        })
    }

    pub async fn group_create(&self, g: &ServerGroup) -> Result<()> {
        self.db
            .query("INSERT INTO compute_server_group (uuid, name, project_id, user_id, policy, created_at) VALUES (?, ?, ?, ?, ?, ?)")
            .bind(g.uuid.clone())
            .bind(g.name.clone())
            .bind(g.project_id.clone())
            .bind(g.user_id.clone())
            .bind(g.policy.clone())
            .bind(g.created_at)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Members are the group's live servers.
    async fn group_members(&self, uuid: &str) -> Result<Vec<String>> {
        let rows = self
            .db
            .query(
                "SELECT m.instance_uuid FROM compute_server_group_member m JOIN compute_instance i \
                 ON i.uuid = m.instance_uuid AND i.deleted = 0 WHERE m.group_uuid = ? ORDER BY m.instance_uuid",
            )
            .bind(uuid.to_string())
            .fetch_all(self.db.pool())
            .await?;
        rows.iter()
            .map(|r| Ok(r.try_get("instance_uuid")?))
            .collect()
    }

    pub async fn group_get(&self, uuid: &str) -> Result<Option<ServerGroup>> {
        let row = self
            .db
            .query("SELECT uuid, name, project_id, user_id, policy, created_at FROM compute_server_group WHERE uuid = ?")
            .bind(uuid.to_string())
            .fetch_optional(self.db.pool())
            .await?;
        let Some(mut g) = row.as_ref().map(Self::group_from_row).transpose()? else {
            return Ok(None);
        };
        g.members = self.group_members(uuid).await?;
        Ok(Some(g))
    }

    /// Groups of one project (all when `None`).
    pub async fn group_list(&self, project_id: Option<&str>) -> Result<Vec<ServerGroup>> {
        let rows = match project_id {
            Some(p) => self
                .db
                .query("SELECT uuid, name, project_id, user_id, policy, created_at FROM compute_server_group WHERE project_id = ? ORDER BY created_at, uuid")
                .bind(p.to_string())
                .fetch_all(self.db.pool())
                .await?,
            None => self
                .db
                .query("SELECT uuid, name, project_id, user_id, policy, created_at FROM compute_server_group ORDER BY created_at, uuid")
                .fetch_all(self.db.pool())
                .await?,
        };
        let mut out: Vec<ServerGroup> = rows
            .iter()
            .map(Self::group_from_row)
            .collect::<Result<_>>()?;
        for g in &mut out {
            g.members = self.group_members(&g.uuid).await?;
        }
        Ok(out)
    }

    /// The group a server belongs to.
    pub async fn group_of_instance(&self, instance_uuid: &str) -> Result<Option<String>> {
        let row = self
            .db
            .query("SELECT group_uuid FROM compute_server_group_member WHERE instance_uuid = ?")
            .bind(instance_uuid.to_string())
            .fetch_optional(self.db.pool())
            .await?;
        row.map(|r| Ok(r.try_get("group_uuid")?)).transpose()
    }

    pub async fn group_count(&self, project_id: &str) -> Result<i64> {
        Ok(self
            .db
            .query_scalar("SELECT COUNT(*) FROM compute_server_group WHERE project_id = ?")
            .bind(project_id.to_string())
            .fetch_one(self.db.pool())
            .await?)
    }

    pub async fn group_delete(&self, uuid: &str) -> Result<bool> {
        let mut tx = self.db.begin_write().await?;
        self.db
            .query("DELETE FROM compute_server_group_member WHERE group_uuid = ?")
            .bind(uuid.to_string())
            .execute(&mut *tx)
            .await?;
        let n = self
            .db
            .query("DELETE FROM compute_server_group WHERE uuid = ?")
            .bind(uuid.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n > 0)
    }
}
