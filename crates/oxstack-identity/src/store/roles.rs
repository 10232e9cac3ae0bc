//! Roles, implied roles and role assignments.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Result, Store, StoreError, extra, extra_text};
use crate::model::{Assignment, AssignmentKind, NULL_DOMAIN, Role};

/// Filters for listing assignments; `None` matches anything.
#[derive(Debug, Default, Clone)]
pub struct AssignmentFilter {
    pub kinds: Option<Vec<AssignmentKind>>,
    pub actor_ids: Option<Vec<String>>,
    pub target_ids: Option<Vec<String>>,
    pub role_id: Option<String>,
    pub inherited: Option<bool>,
}

impl Store {
    fn role_from_row(r: &AnyRow) -> Result<Role> {
        let domain_id: String = r.try_get("domain_id")?;
        Ok(Role {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            domain_id: (domain_id != NULL_DOMAIN).then_some(domain_id),
            description: r.try_get("description")?,
            extra: extra(r)?,
        })
    }

    pub async fn role_get(&self, id: &str) -> Result<Option<Role>> {
        let row = self
            .db
            .query("SELECT id, name, domain_id, description, extra FROM identity_role WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(self.db.pool())
            .await?;
        row.as_ref().map(Self::role_from_row).transpose()
    }

    /// A role by name: global when `domain_id` is `None`.
    pub async fn role_get_by_name(
        &self,
        name: &str,
        domain_id: Option<&str>,
    ) -> Result<Option<Role>> {
        let row = self
            .db
            .query("SELECT id, name, domain_id, description, extra FROM identity_role WHERE name = ? AND domain_id = ?")
            .bind(name.to_string())
            .bind(domain_id.unwrap_or(NULL_DOMAIN).to_string())
            .fetch_optional(self.db.pool())
            .await?;
        row.as_ref().map(Self::role_from_row).transpose()
    }

    /// Roles; `domain_id` `None` lists the global roles.
    pub async fn role_list(
        &self,
        domain_id: Option<&str>,
        name: Option<&str>,
    ) -> Result<Vec<Role>> {
        let mut sql = String::from(
            "SELECT id, name, domain_id, description, extra FROM identity_role WHERE domain_id = ?",
        );
        if name.is_some() {
            sql.push_str(" AND name = ?");
        }
        sql.push_str(" ORDER BY name, id");
        let mut q = self
            .db
            .query(sql)
            .bind(domain_id.unwrap_or(NULL_DOMAIN).to_string());
        if let Some(n) = name {
            q = q.bind(n.to_string());
        }
        q.fetch_all(self.db.pool())
            .await?
            .iter()
            .map(Self::role_from_row)
            .collect()
    }

    /// Every role, global and domain-specific (for the token and assignment code).
    pub async fn role_list_all(&self) -> Result<Vec<Role>> {
        self.db
            .query(
                "SELECT id, name, domain_id, description, extra FROM identity_role ORDER BY name",
            )
            .fetch_all(self.db.pool())
            .await?
            .iter()
            .map(Self::role_from_row)
            .collect()
    }

    pub async fn role_create(&self, r: &Role) -> Result<()> {
        self.db
            .query("INSERT INTO identity_role (id, name, domain_id, description, extra) VALUES (?, ?, ?, ?, ?)")
            .bind(r.id.clone())
            .bind(r.name.clone())
            .bind(r.domain_id.clone().unwrap_or_else(|| NULL_DOMAIN.into()))
            .bind(r.description.clone())
            .bind(extra_text(&r.extra))
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    pub async fn role_update(&self, r: &Role) -> Result<()> {
        self.db
            .query("UPDATE identity_role SET name = ?, description = ?, extra = ? WHERE id = ?")
            .bind(r.name.clone())
            .bind(r.description.clone())
            .bind(extra_text(&r.extra))
            .bind(r.id.clone())
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Deletes a role with its assignments and implications.
    pub async fn role_delete(&self, id: &str) -> Result<bool> {
        let mut tx = self.db.begin_write().await?;
        for sql in [
            "DELETE FROM identity_assignment WHERE role_id = ?",
            "DELETE FROM identity_app_cred_role WHERE role_id = ?",
        ] {
            self.db
                .query(sql)
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
        }
        self.db
            .query(
                "DELETE FROM identity_implied_role WHERE prior_role_id = ? OR implied_role_id = ?",
            )
            .bind(id.to_string())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        let n = self
            .db
            .query("DELETE FROM identity_role WHERE id = ?")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(n.rows_affected() > 0)
    }

    /// Every implication `(prior, implied)`.
    pub async fn implied_role_list(&self) -> Result<Vec<(String, String)>> {
        Ok(self
            .db
            .query_as("SELECT prior_role_id, implied_role_id FROM identity_implied_role ORDER BY prior_role_id")
            .fetch_all(self.db.pool())
            .await?)
    }

    pub async fn implied_role_create(&self, prior: &str, implied: &str) -> Result<()> {
        self.db
            .query(
                "INSERT INTO identity_implied_role (prior_role_id, implied_role_id) VALUES (?, ?)",
            )
            .bind(prior.to_string())
            .bind(implied.to_string())
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    pub async fn implied_role_delete(&self, prior: &str, implied: &str) -> Result<bool> {
        let n = self
            .db
            .query(
                "DELETE FROM identity_implied_role WHERE prior_role_id = ? AND implied_role_id = ?",
            )
            .bind(prior.to_string())
            .bind(implied.to_string())
            .execute(self.db.pool())
            .await?;
        Ok(n.rows_affected() > 0)
    }

    /// Grants a role; granting an existing assignment is not an error.
    pub async fn assignment_create(&self, a: &Assignment) -> Result<()> {
        let exists = !self
            .assignment_list(&AssignmentFilter {
                kinds: Some(vec![a.kind]),
                actor_ids: Some(vec![a.actor_id.clone()]),
                target_ids: Some(vec![a.target_id.clone()]),
                role_id: Some(a.role_id.clone()),
                inherited: Some(a.inherited),
            })
            .await?
            .is_empty();
        if exists {
            return Ok(());
        }
        match self
            .db
            .query("INSERT INTO identity_assignment (kind, actor_id, target_id, role_id, inherited) VALUES (?, ?, ?, ?, ?)")
            .bind(a.kind.as_str())
            .bind(a.actor_id.clone())
            .bind(a.target_id.clone())
            .bind(a.role_id.clone())
            .bind(i64::from(a.inherited))
            .execute(self.db.pool())
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if oxstack_common::db::Db::is_unique_violation(&e) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn assignment_delete(&self, a: &Assignment) -> Result<bool> {
        let n = self
            .db
            .query(
                "DELETE FROM identity_assignment WHERE kind = ? AND actor_id = ? AND target_id = ? AND role_id = ? \
                 AND inherited = ?",
            )
            .bind(a.kind.as_str())
            .bind(a.actor_id.clone())
            .bind(a.target_id.clone())
            .bind(a.role_id.clone())
            .bind(i64::from(a.inherited))
            .execute(self.db.pool())
            .await?;
        Ok(n.rows_affected() > 0)
    }

    pub async fn assignment_list(&self, f: &AssignmentFilter) -> Result<Vec<Assignment>> {
        let mut sql = String::from(
            "SELECT kind, actor_id, target_id, role_id, inherited FROM identity_assignment WHERE 1 = 1",
        );
        let mut args: Vec<String> = Vec::new();
        let mut in_list = |sql: &mut String, col: &str, vals: &[String]| {
            sql.push_str(&format!(
                " AND {col} IN ({})",
                vec!["?"; vals.len()].join(", ")
            ));
            args.extend(vals.iter().cloned());
        };
        if let Some(k) = &f.kinds {
            if k.is_empty() {
                return Ok(Vec::new());
            }
            in_list(
                &mut sql,
                "kind",
                &k.iter().map(|k| k.as_str().to_string()).collect::<Vec<_>>(),
            );
        }
        for (col, vals) in [("actor_id", &f.actor_ids), ("target_id", &f.target_ids)] {
            if let Some(v) = vals {
                if v.is_empty() {
                    return Ok(Vec::new());
                }
                in_list(&mut sql, col, v);
            }
        }
        if let Some(r) = &f.role_id {
            in_list(&mut sql, "role_id", std::slice::from_ref(r));
        }
        if let Some(i) = f.inherited {
            sql.push_str(if i {
                " AND inherited = 1"
            } else {
                " AND inherited = 0"
            });
        }
        sql.push_str(" ORDER BY kind, actor_id, target_id, role_id");
        let mut q = self.db.query(sql);
        for a in args {
            q = q.bind(a);
        }
        let rows = q.fetch_all(self.db.pool()).await?;
        rows.iter()
            .map(|r| {
                let kind: String = r.try_get("kind")?;
                Ok(Assignment {
                    kind: AssignmentKind::parse(&kind)
                        .ok_or_else(|| StoreError::Corrupt(format!("assignment kind {kind}")))?,
                    actor_id: r.try_get("actor_id")?,
                    target_id: r.try_get("target_id")?,
                    role_id: r.try_get("role_id")?,
                    inherited: r.try_get::<i64, _>("inherited")? != 0,
                })
            })
            .collect()
    }
}
