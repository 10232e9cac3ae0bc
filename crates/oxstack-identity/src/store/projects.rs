//! Projects and domains (`identity_project`) and project tags.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Result, Store, b, extra, extra_text, flag};
use crate::model::{Project, ROOT_DOMAIN};

const COLUMNS: &str = "id, name, domain_id, parent_id, is_domain, enabled, description, extra";

/// Filters for listing projects or domains.
#[derive(Debug, Default, Clone)]
pub struct ProjectFilter {
    pub is_domain: Option<bool>,
    pub domain_id: Option<String>,
    pub parent_id: Option<String>,
    pub name: Option<String>,
    pub enabled: Option<bool>,
    pub ids: Option<Vec<String>>,
}

impl Store {
    fn project_from_row(r: &AnyRow) -> Result<Project> {
        Ok(Project {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            domain_id: r.try_get("domain_id")?,
            parent_id: r.try_get("parent_id")?,
            is_domain: flag(r, "is_domain")?,
            enabled: flag(r, "enabled")?,
            description: r.try_get("description")?,
            extra: extra(r)?,
            tags: Vec::new(),
        })
    }

    async fn with_tags(&self, mut projects: Vec<Project>) -> Result<Vec<Project>> {
        if projects.is_empty() {
            return Ok(projects);
        }
        let rows: Vec<(String, String)> = if projects.len() == 1 {
            self.db
                .query_as("SELECT project_id, name FROM identity_project_tag WHERE project_id = ? ORDER BY name")
                .bind(projects[0].id.clone())
                .fetch_all(self.db.pool())
                .await?
        } else {
            self.db
                .query_as("SELECT project_id, name FROM identity_project_tag ORDER BY name")
                .fetch_all(self.db.pool())
                .await?
        };
        for (pid, tag) in rows {
            if let Some(p) = projects.iter_mut().find(|p| p.id == pid) {
                p.tags.push(tag);
            }
        }
        Ok(projects)
    }

    pub async fn project_get(&self, id: &str) -> Result<Option<Project>> {
        let row = self
            .db
            .query(format!(
                "SELECT {COLUMNS} FROM identity_project WHERE id = ?"
            ))
            .bind(id.to_string())
            .fetch_optional(self.db.pool())
            .await?;
        match row {
            Some(r) => Ok(self
                .with_tags(vec![Self::project_from_row(&r)?])
                .await?
                .pop()),
            None => Ok(None),
        }
    }

    /// A project by name within a domain, or a domain by name (`domain_id` = [`ROOT_DOMAIN`]).
    pub async fn project_get_by_name(
        &self,
        domain_id: &str,
        name: &str,
    ) -> Result<Option<Project>> {
        let row = self
            .db
            .query(format!(
                "SELECT {COLUMNS} FROM identity_project WHERE domain_id = ? AND name = ?"
            ))
            .bind(domain_id.to_string())
            .bind(name.to_string())
            .fetch_optional(self.db.pool())
            .await?;
        match row {
            Some(r) => Ok(self
                .with_tags(vec![Self::project_from_row(&r)?])
                .await?
                .pop()),
            None => Ok(None),
        }
    }

    pub async fn domain_get_by_name(&self, name: &str) -> Result<Option<Project>> {
        self.project_get_by_name(ROOT_DOMAIN, name).await
    }

    pub async fn project_list(&self, f: &ProjectFilter) -> Result<Vec<Project>> {
        let mut sql = format!("SELECT {COLUMNS} FROM identity_project WHERE 1 = 1");
        let mut args: Vec<String> = Vec::new();
        if let Some(d) = f.is_domain {
            sql.push_str(if d {
                " AND is_domain = 1"
            } else {
                " AND is_domain = 0"
            });
        }
        if let Some(e) = f.enabled {
            sql.push_str(if e {
                " AND enabled = 1"
            } else {
                " AND enabled = 0"
            });
        }
        for (col, val) in [
            ("domain_id", &f.domain_id),
            ("parent_id", &f.parent_id),
            ("name", &f.name),
        ] {
            if let Some(v) = val {
                sql.push_str(&format!(" AND {col} = ?"));
                args.push(v.clone());
            }
        }
        if let Some(ids) = &f.ids {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            sql.push_str(&format!(" AND id IN ({})", vec!["?"; ids.len()].join(", ")));
            args.extend(ids.iter().cloned());
        }
        sql.push_str(" ORDER BY name, id");
        let mut q = self.db.query(sql);
        for a in args {
            q = q.bind(a);
        }
        let rows = q.fetch_all(self.db.pool()).await?;
        let projects = rows
            .iter()
            .map(Self::project_from_row)
            .collect::<Result<Vec<_>>>()?;
        self.with_tags(projects).await
    }

    pub async fn project_create(&self, p: &Project) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        self.db
            .query(
                "INSERT INTO identity_project (id, name, domain_id, parent_id, is_domain, enabled, description, extra, created_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(p.id.clone())
            .bind(p.name.clone())
            .bind(p.domain_id.clone())
            .bind(p.parent_id.clone())
            .bind(b(p.is_domain))
            .bind(b(p.enabled))
            .bind(p.description.clone())
            .bind(extra_text(&p.extra))
            .bind(oxstack_common::time::now().timestamp_micros())
            .execute(&mut *tx)
            .await?;
        for t in &p.tags {
            self.db
                .query("INSERT INTO identity_project_tag (project_id, name) VALUES (?, ?)")
                .bind(p.id.clone())
                .bind(t.clone())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Replaces every mutable attribute (and the tags) of `p`.
    pub async fn project_update(&self, p: &Project) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        self.db
            .query("UPDATE identity_project SET name = ?, enabled = ?, description = ?, extra = ? WHERE id = ?")
            .bind(p.name.clone())
            .bind(b(p.enabled))
            .bind(p.description.clone())
            .bind(extra_text(&p.extra))
            .bind(p.id.clone())
            .execute(&mut *tx)
            .await?;
        self.db
            .query("DELETE FROM identity_project_tag WHERE project_id = ?")
            .bind(p.id.clone())
            .execute(&mut *tx)
            .await?;
        for t in &p.tags {
            self.db
                .query("INSERT INTO identity_project_tag (project_id, name) VALUES (?, ?)")
                .bind(p.id.clone())
                .bind(t.clone())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a project (or domain) and everything that refers to it by id in this store:
    /// tags and role assignments on it.
    pub async fn project_delete(&self, id: &str) -> Result<bool> {
        let mut tx = self.db.begin_write().await?;
        for sql in [
            "DELETE FROM identity_project_tag WHERE project_id = ?",
            "DELETE FROM identity_assignment WHERE target_id = ?",
        ] {
            self.db
                .query(sql)
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
        }
        let n = self
            .db
            .query("DELETE FROM identity_project WHERE id = ?")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(n.rows_affected() > 0)
    }

    /// Whether any project, user or group still lives in domain `id`, or any project has
    /// `id` as its parent.
    pub async fn project_has_children(&self, id: &str) -> Result<bool> {
        let n: i64 = self
            .db
            .query_scalar("SELECT COUNT(*) FROM identity_project WHERE parent_id = ?")
            .bind(id.to_string())
            .fetch_one(self.db.pool())
            .await?;
        Ok(n > 0)
    }
}
