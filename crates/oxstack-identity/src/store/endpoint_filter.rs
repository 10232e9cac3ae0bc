//! Endpoint filtering (OS-EP-FILTER): endpoint groups and which projects see which
//! endpoints and endpoint groups.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Result, Store, StoreError};
use crate::model::EndpointGroup;

const COLUMNS: &str = "id, name, description, filters";

impl Store {
    fn endpoint_group_from_row(r: &AnyRow) -> Result<EndpointGroup> {
        let filters: String = r.try_get("filters")?;
        Ok(EndpointGroup {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            description: r.try_get("description")?,
            filters: serde_json::from_str(&filters)
                .map_err(|e| StoreError::Corrupt(format!("endpoint group filters: {e}")))?,
        })
    }

    pub async fn endpoint_group_get(&self, id: &str) -> Result<Option<EndpointGroup>> {
        let row = self
            .db
            .query(format!(
                "SELECT {COLUMNS} FROM identity_endpoint_group WHERE id = ?"
            ))
            .bind(id.to_string())
            .fetch_optional(self.db.pool())
            .await?;
        row.as_ref().map(Self::endpoint_group_from_row).transpose()
    }

    pub async fn endpoint_group_list(&self, name: Option<&str>) -> Result<Vec<EndpointGroup>> {
        let mut sql = format!("SELECT {COLUMNS} FROM identity_endpoint_group");
        if name.is_some() {
            sql.push_str(" WHERE name = ?");
        }
        sql.push_str(" ORDER BY name, id");
        let mut q = self.db.query(sql);
        if let Some(n) = name {
            q = q.bind(n.to_string());
        }
        q.fetch_all(self.db.pool())
            .await?
            .iter()
            .map(Self::endpoint_group_from_row)
            .collect()
    }

    pub async fn endpoint_group_create(&self, g: &EndpointGroup) -> Result<()> {
        self.db
            .query("INSERT INTO identity_endpoint_group (id, name, description, filters) VALUES (?, ?, ?, ?)")
            .bind(g.id.clone())
            .bind(g.name.clone())
            .bind(g.description.clone())
            .bind(serde_json::Value::Object(g.filters.clone()).to_string())
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    pub async fn endpoint_group_update(&self, g: &EndpointGroup) -> Result<()> {
        self.db
            .query("UPDATE identity_endpoint_group SET name = ?, description = ?, filters = ? WHERE id = ?")
            .bind(g.name.clone())
            .bind(g.description.clone())
            .bind(serde_json::Value::Object(g.filters.clone()).to_string())
            .bind(g.id.clone())
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Deletes a group and its project associations.
    pub async fn endpoint_group_delete(&self, id: &str) -> Result<bool> {
        let mut tx = self.db.begin_write().await?;
        self.db
            .query("DELETE FROM identity_project_endpoint_group WHERE endpoint_group_id = ?")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        let n = self
            .db
            .query("DELETE FROM identity_endpoint_group WHERE id = ?")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(n.rows_affected() > 0)
    }

    /// Associates an endpoint group (`kind` = `EndpointGroup`) or an endpoint (`Endpoint`)
    /// with a project; associating twice is not an error.
    pub async fn project_association_add(
        &self,
        kind: FilterKind,
        id: &str,
        project_id: &str,
    ) -> Result<()> {
        if self
            .project_association_exists(kind, id, project_id)
            .await?
        {
            return Ok(());
        }
        let (table, col) = kind.table();
        let r = self
            .db
            .query(format!(
                "INSERT INTO {table} ({col}, project_id) VALUES (?, ?)"
            ))
            .bind(id.to_string())
            .bind(project_id.to_string())
            .execute(self.db.pool())
            .await;
        match r.map_err(StoreError::from) {
            Ok(_) | Err(StoreError::Duplicate) => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub async fn project_association_exists(
        &self,
        kind: FilterKind,
        id: &str,
        project_id: &str,
    ) -> Result<bool> {
        let (table, col) = kind.table();
        let n: i64 = self
            .db
            .query_scalar(format!(
                "SELECT COUNT(*) FROM {table} WHERE {col} = ? AND project_id = ?"
            ))
            .bind(id.to_string())
            .bind(project_id.to_string())
            .fetch_one(self.db.pool())
            .await?;
        Ok(n > 0)
    }

    pub async fn project_association_remove(
        &self,
        kind: FilterKind,
        id: &str,
        project_id: &str,
    ) -> Result<bool> {
        let (table, col) = kind.table();
        let n = self
            .db
            .query(format!(
                "DELETE FROM {table} WHERE {col} = ? AND project_id = ?"
            ))
            .bind(id.to_string())
            .bind(project_id.to_string())
            .execute(self.db.pool())
            .await?;
        Ok(n.rows_affected() > 0)
    }

    /// The endpoint (group) ids associated with a project.
    pub async fn project_association_ids_for_project(
        &self,
        kind: FilterKind,
        project_id: &str,
    ) -> Result<Vec<String>> {
        let (table, col) = kind.table();
        Ok(self
            .db
            .query_scalar(format!(
                "SELECT {col} FROM {table} WHERE project_id = ? ORDER BY {col}"
            ))
            .bind(project_id.to_string())
            .fetch_all(self.db.pool())
            .await?)
    }

    /// The projects associated with an endpoint (group).
    pub async fn project_association_projects(
        &self,
        kind: FilterKind,
        id: &str,
    ) -> Result<Vec<String>> {
        let (table, col) = kind.table();
        Ok(self
            .db
            .query_scalar(format!(
                "SELECT project_id FROM {table} WHERE {col} = ? ORDER BY project_id"
            ))
            .bind(id.to_string())
            .fetch_all(self.db.pool())
            .await?)
    }

    /// Drops every association of an endpoint or of a project (when either is deleted).
    pub async fn project_associations_forget(
        &self,
        kind: FilterKind,
        id: &str,
        is_project: bool,
    ) -> Result<()> {
        let (table, col) = kind.table();
        let col = if is_project { "project_id" } else { col };
        self.db
            .query(format!("DELETE FROM {table} WHERE {col} = ?"))
            .bind(id.to_string())
            .execute(self.db.pool())
            .await?;
        Ok(())
    }
}

/// Which association table: endpoint groups or single endpoints given to projects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterKind {
    EndpointGroup,
    Endpoint,
}

impl FilterKind {
    fn table(self) -> (&'static str, &'static str) {
        match self {
            FilterKind::EndpointGroup => ("identity_project_endpoint_group", "endpoint_group_id"),
            FilterKind::Endpoint => ("identity_project_endpoint", "endpoint_id"),
        }
    }
}
