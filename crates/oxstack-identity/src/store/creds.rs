//! Application credentials and credentials (`/v3/credentials`, stored encrypted).

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Result, Store, StoreError, b, extra, extra_text, flag};
use crate::model::{AccessRule, AppCred, Credential};

const APP_CRED_COLUMNS: &str = "id, name, secret_hash, description, user_id, project_id, system, expires_at, unrestricted, access_rules, created_at";

impl Store {
    async fn app_cred_from_row(&self, r: &AnyRow) -> Result<AppCred> {
        let id: String = r.try_get("id")?;
        let role_ids = self
            .db
            .query_scalar(
                "SELECT role_id FROM identity_app_cred_role WHERE app_cred_id = ? ORDER BY role_id",
            )
            .bind(id.clone())
            .fetch_all(self.db.pool())
            .await?;
        let rules: Option<String> = r.try_get("access_rules")?;
        Ok(AppCred {
            id,
            name: r.try_get("name")?,
            secret_hash: r.try_get("secret_hash")?,
            description: r.try_get("description")?,
            user_id: r.try_get("user_id")?,
            project_id: r.try_get("project_id")?,
            system: r.try_get("system")?,
            expires_at: r.try_get("expires_at")?,
            unrestricted: flag(r, "unrestricted")?,
            access_rules: rules
                .map(|s| {
                    serde_json::from_str(&s)
                        .map_err(|e| StoreError::Corrupt(format!("access_rules: {e}")))
                })
                .transpose()?,
            created_at: r.try_get("created_at")?,
            role_ids,
        })
    }

    pub async fn app_cred_get(&self, id: &str) -> Result<Option<AppCred>> {
        let row = self
            .db
            .query(format!(
                "SELECT {APP_CRED_COLUMNS} FROM identity_app_cred WHERE id = ?"
            ))
            .bind(id.to_string())
            .fetch_optional(self.db.pool())
            .await?;
        match row {
            Some(r) => Ok(Some(self.app_cred_from_row(&r).await?)),
            None => Ok(None),
        }
    }

    pub async fn app_cred_get_by_name(&self, user_id: &str, name: &str) -> Result<Option<AppCred>> {
        let row = self
            .db
            .query(format!(
                "SELECT {APP_CRED_COLUMNS} FROM identity_app_cred WHERE user_id = ? AND name = ?"
            ))
            .bind(user_id.to_string())
            .bind(name.to_string())
            .fetch_optional(self.db.pool())
            .await?;
        match row {
            Some(r) => Ok(Some(self.app_cred_from_row(&r).await?)),
            None => Ok(None),
        }
    }

    pub async fn app_cred_list(&self, user_id: &str, name: Option<&str>) -> Result<Vec<AppCred>> {
        let mut sql = format!("SELECT {APP_CRED_COLUMNS} FROM identity_app_cred WHERE user_id = ?");
        if name.is_some() {
            sql.push_str(" AND name = ?");
        }
        sql.push_str(" ORDER BY name");
        let mut q = self.db.query(sql).bind(user_id.to_string());
        if let Some(n) = name {
            q = q.bind(n.to_string());
        }
        let rows = q.fetch_all(self.db.pool()).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push(self.app_cred_from_row(r).await?);
        }
        Ok(out)
    }

    pub async fn app_cred_create(&self, a: &AppCred) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        self.db
            .query(
                "INSERT INTO identity_app_cred (id, name, secret_hash, description, user_id, project_id, system, \
                 expires_at, unrestricted, access_rules, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(a.id.clone())
            .bind(a.name.clone())
            .bind(a.secret_hash.clone())
            .bind(a.description.clone())
            .bind(a.user_id.clone())
            .bind(a.project_id.clone())
            .bind(a.system.clone())
            .bind(a.expires_at)
            .bind(b(a.unrestricted))
            .bind(a.access_rules.as_ref().map(|v| v.to_string()))
            .bind(a.created_at)
            .execute(&mut *tx)
            .await?;
        for r in &a.role_ids {
            self.db
                .query("INSERT INTO identity_app_cred_role (app_cred_id, role_id) VALUES (?, ?)")
                .bind(a.id.clone())
                .bind(r.clone())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn app_cred_delete(&self, id: &str) -> Result<bool> {
        let mut tx = self.db.begin_write().await?;
        self.db
            .query("DELETE FROM identity_app_cred_role WHERE app_cred_id = ?")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        let n = self
            .db
            .query("DELETE FROM identity_app_cred WHERE id = ?")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(n.rows_affected() > 0)
    }

    fn credential_from_row(r: &AnyRow) -> Result<Credential> {
        Ok(Credential {
            id: r.try_get("id")?,
            user_id: r.try_get("user_id")?,
            project_id: r.try_get("project_id")?,
            credential_type: r.try_get("type")?,
            encrypted_blob: r.try_get("encrypted_blob")?,
            key_hash: r.try_get("key_hash")?,
            extra: extra(r)?,
        })
    }

    pub async fn credential_get(&self, id: &str) -> Result<Option<Credential>> {
        let row = self
            .db
            .query("SELECT id, user_id, project_id, type, encrypted_blob, key_hash, extra FROM identity_credential WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(self.db.pool())
            .await?;
        row.as_ref().map(Self::credential_from_row).transpose()
    }

    pub async fn credential_list(
        &self,
        user_id: Option<&str>,
        cred_type: Option<&str>,
    ) -> Result<Vec<Credential>> {
        let mut sql = String::from(
            "SELECT id, user_id, project_id, type, encrypted_blob, key_hash, extra FROM identity_credential WHERE 1 = 1",
        );
        if user_id.is_some() {
            sql.push_str(" AND user_id = ?");
        }
        if cred_type.is_some() {
            sql.push_str(" AND type = ?");
        }
        sql.push_str(" ORDER BY id");
        let mut q = self.db.query(sql);
        for v in [user_id, cred_type].into_iter().flatten() {
            q = q.bind(v.to_string());
        }
        q.fetch_all(self.db.pool())
            .await?
            .iter()
            .map(Self::credential_from_row)
            .collect()
    }

    pub async fn credential_create(&self, c: &Credential) -> Result<()> {
        self.db
            .query("INSERT INTO identity_credential (id, user_id, project_id, type, encrypted_blob, key_hash, extra) VALUES (?, ?, ?, ?, ?, ?, ?)")
            .bind(c.id.clone())
            .bind(c.user_id.clone())
            .bind(c.project_id.clone())
            .bind(c.credential_type.clone())
            .bind(c.encrypted_blob.clone())
            .bind(c.key_hash.clone())
            .bind(extra_text(&c.extra))
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    pub async fn credential_update(&self, c: &Credential) -> Result<()> {
        self.db
            .query("UPDATE identity_credential SET user_id = ?, project_id = ?, type = ?, encrypted_blob = ?, key_hash = ?, extra = ? WHERE id = ?")
            .bind(c.user_id.clone())
            .bind(c.project_id.clone())
            .bind(c.credential_type.clone())
            .bind(c.encrypted_blob.clone())
            .bind(c.key_hash.clone())
            .bind(extra_text(&c.extra))
            .bind(c.id.clone())
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    pub async fn credential_delete(&self, id: &str) -> Result<bool> {
        let n = self
            .db
            .query("DELETE FROM identity_credential WHERE id = ?")
            .bind(id.to_string())
            .execute(self.db.pool())
            .await?;
        Ok(n.rows_affected() > 0)
    }
}

impl Store {
    pub async fn access_rule_list(&self, user_id: &str) -> Result<Vec<AccessRule>> {
        let rows = self
            .db
            .query("SELECT id, user_id, service, path, method FROM identity_access_rule WHERE user_id = ? ORDER BY id")
            .bind(user_id.to_string())
            .fetch_all(self.db.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(AccessRule {
                    id: r.try_get("id")?,
                    user_id: r.try_get("user_id")?,
                    service: r.try_get("service")?,
                    path: r.try_get("path")?,
                    method: r.try_get("method")?,
                })
            })
            .collect()
    }

    /// Records a rule; one already recorded (same id) is left alone.
    pub async fn access_rule_create(&self, a: &AccessRule) -> Result<()> {
        let r = self
            .db
            .query("INSERT INTO identity_access_rule (id, user_id, service, path, method) VALUES (?, ?, ?, ?, ?)")
            .bind(a.id.clone())
            .bind(a.user_id.clone())
            .bind(a.service.clone())
            .bind(a.path.clone())
            .bind(a.method.clone())
            .execute(self.db.pool())
            .await;
        match r.map_err(StoreError::from) {
            Ok(_) | Err(StoreError::Duplicate) => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub async fn access_rule_delete(&self, user_id: &str, id: &str) -> Result<bool> {
        let n = self
            .db
            .query("DELETE FROM identity_access_rule WHERE user_id = ? AND id = ?")
            .bind(user_id.to_string())
            .bind(id.to_string())
            .execute(self.db.pool())
            .await?;
        Ok(n.rows_affected() > 0)
    }
}
