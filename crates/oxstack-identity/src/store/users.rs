//! Users, groups and group membership.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Result, Store, b, extra, extra_text, flag};
use crate::model::{Group, User};

const USER_COLUMNS: &str = "id, domain_id, name, enabled, default_project_id, description, extra, password_hash, \
                            password_expires_at, failed_auth_count, failed_auth_at, created_at";

/// Filters for listing users or groups.
#[derive(Debug, Default, Clone)]
pub struct UserFilter {
    pub domain_id: Option<String>,
    pub name: Option<String>,
    pub enabled: Option<bool>,
    /// Only members of this group (users) / only groups this user is in (groups).
    pub related_id: Option<String>,
}

impl Store {
    fn user_from_row(r: &AnyRow) -> Result<User> {
        Ok(User {
            id: r.try_get("id")?,
            domain_id: r.try_get("domain_id")?,
            name: r.try_get("name")?,
            enabled: flag(r, "enabled")?,
            default_project_id: r.try_get("default_project_id")?,
            description: r.try_get("description")?,
            extra: extra(r)?,
            password_hash: r.try_get("password_hash")?,
            password_expires_at: r.try_get("password_expires_at")?,
            failed_auth_count: r.try_get("failed_auth_count")?,
            failed_auth_at: r.try_get("failed_auth_at")?,
            created_at: r.try_get("created_at")?,
        })
    }

    pub async fn user_get(&self, id: &str) -> Result<Option<User>> {
        let row = self
            .db
            .query(format!(
                "SELECT {USER_COLUMNS} FROM identity_user WHERE id = ?"
            ))
            .bind(id.to_string())
            .fetch_optional(self.db.pool())
            .await?;
        row.as_ref().map(Self::user_from_row).transpose()
    }

    pub async fn user_get_by_name(&self, domain_id: &str, name: &str) -> Result<Option<User>> {
        let row = self
            .db
            .query(format!(
                "SELECT {USER_COLUMNS} FROM identity_user WHERE domain_id = ? AND name = ?"
            ))
            .bind(domain_id.to_string())
            .bind(name.to_string())
            .fetch_optional(self.db.pool())
            .await?;
        row.as_ref().map(Self::user_from_row).transpose()
    }

    pub async fn user_list(&self, f: &UserFilter) -> Result<Vec<User>> {
        let cols = USER_COLUMNS
            .split(", ")
            .map(|c| format!("u.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut sql = format!("SELECT {cols} FROM identity_user u");
        let mut args = Vec::new();
        if let Some(g) = &f.related_id {
            sql.push_str(" JOIN identity_user_group m ON m.user_id = u.id AND m.group_id = ?");
            args.push(g.clone());
        }
        sql.push_str(" WHERE 1 = 1");
        for (col, val) in [("u.domain_id", &f.domain_id), ("u.name", &f.name)] {
            if let Some(v) = val {
                sql.push_str(&format!(" AND {col} = ?"));
                args.push(v.clone());
            }
        }
        if let Some(e) = f.enabled {
            sql.push_str(if e {
                " AND u.enabled = 1"
            } else {
                " AND u.enabled = 0"
            });
        }
        sql.push_str(" ORDER BY u.name, u.id");
        let mut q = self.db.query(sql);
        for a in args {
            q = q.bind(a);
        }
        q.fetch_all(self.db.pool())
            .await?
            .iter()
            .map(Self::user_from_row)
            .collect()
    }

    pub async fn user_create(&self, u: &User) -> Result<()> {
        self.db
            .query(
                "INSERT INTO identity_user (id, domain_id, name, enabled, default_project_id, description, extra, \
                 password_hash, password_created_at, password_expires_at, failed_auth_count, created_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)",
            )
            .bind(u.id.clone())
            .bind(u.domain_id.clone())
            .bind(u.name.clone())
            .bind(b(u.enabled))
            .bind(u.default_project_id.clone())
            .bind(u.description.clone())
            .bind(extra_text(&u.extra))
            .bind(u.password_hash.clone())
            .bind(u.password_hash.as_ref().map(|_| u.created_at))
            .bind(u.password_expires_at)
            .bind(u.created_at)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Replaces the mutable attributes of `u` (not the password).
    pub async fn user_update(&self, u: &User) -> Result<()> {
        self.db
            .query(
                "UPDATE identity_user SET name = ?, enabled = ?, default_project_id = ?, description = ?, extra = ? \
                 WHERE id = ?",
            )
            .bind(u.name.clone())
            .bind(b(u.enabled))
            .bind(u.default_project_id.clone())
            .bind(u.description.clone())
            .bind(extra_text(&u.extra))
            .bind(u.id.clone())
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    pub async fn user_set_password(
        &self,
        id: &str,
        hash: Option<&str>,
        expires_at: Option<i64>,
    ) -> Result<()> {
        self.db
            .query(
                "UPDATE identity_user SET password_hash = ?, password_created_at = ?, password_expires_at = ?, \
                 failed_auth_count = 0, failed_auth_at = NULL WHERE id = ?",
            )
            .bind(hash.map(str::to_string))
            .bind(oxstack_common::time::now().timestamp_micros())
            .bind(expires_at)
            .bind(id.to_string())
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// When the user's current password was set (microseconds), if they have one.
    pub async fn user_password_created_at(&self, id: &str) -> Result<Option<i64>> {
        let v: Option<Option<i64>> = self
            .db
            .query_scalar("SELECT password_created_at FROM identity_user WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(self.db.pool())
            .await?;
        Ok(v.flatten())
    }

    /// Remembers a password hash the user no longer has, keeping the `keep` newest.
    pub async fn password_history_add(&self, user_id: &str, hash: &str, keep: usize) -> Result<()> {
        let now = oxstack_common::time::now().timestamp_micros();
        self.db
            .query("INSERT INTO identity_password_history (id, user_id, password_hash, created_at) VALUES (?, ?, ?, ?)")
            .bind(uuid::Uuid::new_v4().simple().to_string())
            .bind(user_id.to_string())
            .bind(hash.to_string())
            .bind(now)
            .execute(self.db.pool())
            .await?;
        let ids: Vec<String> = self
            .db
            .query_scalar("SELECT id FROM identity_password_history WHERE user_id = ? ORDER BY created_at DESC, id")
            .bind(user_id.to_string())
            .fetch_all(self.db.pool())
            .await?;
        for id in ids.iter().skip(keep) {
            self.db
                .query("DELETE FROM identity_password_history WHERE id = ?")
                .bind(id.clone())
                .execute(self.db.pool())
                .await?;
        }
        Ok(())
    }

    /// The hashes of the user's `n` most recent former passwords, newest first.
    pub async fn password_history_recent(&self, user_id: &str, n: usize) -> Result<Vec<String>> {
        let mut hashes: Vec<String> = self
            .db
            .query_scalar("SELECT password_hash FROM identity_password_history WHERE user_id = ? ORDER BY created_at DESC, id")
            .bind(user_id.to_string())
            .fetch_all(self.db.pool())
            .await?;
        hashes.truncate(n);
        Ok(hashes)
    }

    /// Records a failed (`failed = true`) or successful login.
    pub async fn user_record_auth(&self, id: &str, failed: bool) -> Result<()> {
        let now = oxstack_common::time::now().timestamp_micros();
        let q = if failed {
            self.db
                .query("UPDATE identity_user SET failed_auth_count = failed_auth_count + 1, failed_auth_at = ? WHERE id = ?")
                .bind(now)
        } else {
            self.db
                .query("UPDATE identity_user SET failed_auth_count = 0, failed_auth_at = NULL, last_active_at = ? WHERE id = ?")
                .bind(now)
        };
        q.bind(id.to_string()).execute(self.db.pool()).await?;
        Ok(())
    }

    /// Deletes a user with its memberships, role assignments, application credentials and
    /// credentials.
    pub async fn user_delete(&self, id: &str) -> Result<bool> {
        let mut tx = self.db.begin_write().await?;
        for sql in [
            "DELETE FROM identity_user_group WHERE user_id = ?",
            "DELETE FROM identity_assignment WHERE actor_id = ?",
            "DELETE FROM identity_app_cred_role WHERE app_cred_id IN (SELECT id FROM identity_app_cred WHERE user_id = ?)",
            "DELETE FROM identity_app_cred WHERE user_id = ?",
            "DELETE FROM identity_credential WHERE user_id = ?",
            "DELETE FROM identity_access_rule WHERE user_id = ?",
            "DELETE FROM identity_password_history WHERE user_id = ?",
        ] {
            self.db
                .query(sql)
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
        }
        let n = self
            .db
            .query("DELETE FROM identity_user WHERE id = ?")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(n.rows_affected() > 0)
    }

    fn group_from_row(r: &AnyRow) -> Result<Group> {
        Ok(Group {
            id: r.try_get("id")?,
            domain_id: r.try_get("domain_id")?,
            name: r.try_get("name")?,
            description: r.try_get("description")?,
            extra: extra(r)?,
        })
    }

    pub async fn group_get(&self, id: &str) -> Result<Option<Group>> {
        let row = self
            .db
            .query(
                "SELECT id, domain_id, name, description, extra FROM identity_group WHERE id = ?",
            )
            .bind(id.to_string())
            .fetch_optional(self.db.pool())
            .await?;
        row.as_ref().map(Self::group_from_row).transpose()
    }

    pub async fn group_get_by_name(&self, domain_id: &str, name: &str) -> Result<Option<Group>> {
        let row = self
            .db
            .query("SELECT id, domain_id, name, description, extra FROM identity_group WHERE domain_id = ? AND name = ?")
            .bind(domain_id.to_string())
            .bind(name.to_string())
            .fetch_optional(self.db.pool())
            .await?;
        row.as_ref().map(Self::group_from_row).transpose()
    }

    /// Groups, filtered; `related_id` = only the groups that user is a member of.
    pub async fn group_list(&self, f: &UserFilter) -> Result<Vec<Group>> {
        let mut sql = String::from(
            "SELECT g.id, g.domain_id, g.name, g.description, g.extra FROM identity_group g",
        );
        let mut args = Vec::new();
        if let Some(u) = &f.related_id {
            sql.push_str(" JOIN identity_user_group m ON m.group_id = g.id AND m.user_id = ?");
            args.push(u.clone());
        }
        sql.push_str(" WHERE 1 = 1");
        for (col, val) in [("g.domain_id", &f.domain_id), ("g.name", &f.name)] {
            if let Some(v) = val {
                sql.push_str(&format!(" AND {col} = ?"));
                args.push(v.clone());
            }
        }
        sql.push_str(" ORDER BY g.name, g.id");
        let mut q = self.db.query(sql);
        for a in args {
            q = q.bind(a);
        }
        q.fetch_all(self.db.pool())
            .await?
            .iter()
            .map(Self::group_from_row)
            .collect()
    }

    pub async fn group_create(&self, g: &Group) -> Result<()> {
        self.db
            .query("INSERT INTO identity_group (id, domain_id, name, description, extra) VALUES (?, ?, ?, ?, ?)")
            .bind(g.id.clone())
            .bind(g.domain_id.clone())
            .bind(g.name.clone())
            .bind(g.description.clone())
            .bind(extra_text(&g.extra))
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    pub async fn group_update(&self, g: &Group) -> Result<()> {
        self.db
            .query("UPDATE identity_group SET name = ?, description = ?, extra = ? WHERE id = ?")
            .bind(g.name.clone())
            .bind(g.description.clone())
            .bind(extra_text(&g.extra))
            .bind(g.id.clone())
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    pub async fn group_delete(&self, id: &str) -> Result<bool> {
        let mut tx = self.db.begin_write().await?;
        for sql in [
            "DELETE FROM identity_user_group WHERE group_id = ?",
            "DELETE FROM identity_assignment WHERE actor_id = ?",
        ] {
            self.db
                .query(sql)
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
        }
        let n = self
            .db
            .query("DELETE FROM identity_group WHERE id = ?")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(n.rows_affected() > 0)
    }

    /// Adds a membership; adding an existing one is not an error.
    pub async fn group_add_user(&self, group_id: &str, user_id: &str) -> Result<()> {
        if self.group_has_user(group_id, user_id).await? {
            return Ok(());
        }
        match self
            .db
            .query("INSERT INTO identity_user_group (user_id, group_id) VALUES (?, ?)")
            .bind(user_id.to_string())
            .bind(group_id.to_string())
            .execute(self.db.pool())
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if oxstack_common::db::Db::is_unique_violation(&e) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn group_remove_user(&self, group_id: &str, user_id: &str) -> Result<bool> {
        let n = self
            .db
            .query("DELETE FROM identity_user_group WHERE user_id = ? AND group_id = ?")
            .bind(user_id.to_string())
            .bind(group_id.to_string())
            .execute(self.db.pool())
            .await?;
        Ok(n.rows_affected() > 0)
    }

    pub async fn group_has_user(&self, group_id: &str, user_id: &str) -> Result<bool> {
        let n: i64 = self
            .db
            .query_scalar(
                "SELECT COUNT(*) FROM identity_user_group WHERE user_id = ? AND group_id = ?",
            )
            .bind(user_id.to_string())
            .bind(group_id.to_string())
            .fetch_one(self.db.pool())
            .await?;
        Ok(n > 0)
    }

    /// The ids of the groups `user_id` belongs to.
    pub async fn user_group_ids(&self, user_id: &str) -> Result<Vec<String>> {
        Ok(self
            .db
            .query_scalar("SELECT group_id FROM identity_user_group WHERE user_id = ?")
            .bind(user_id.to_string())
            .fetch_all(self.db.pool())
            .await?)
    }
}
