//! Revocation events.

use sqlx::Row;

use super::{Result, Store};
use crate::model::RevocationEvent;

impl Store {
    pub async fn revocation_create(&self, e: &RevocationEvent) -> Result<()> {
        self.db
            .query(
                "INSERT INTO identity_revocation_event (id, user_id, project_id, domain_id, role_id, audit_id, \
                 audit_chain_id, app_cred_id, issued_before, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(e.id.clone())
            .bind(e.user_id.clone())
            .bind(e.project_id.clone())
            .bind(e.domain_id.clone())
            .bind(e.role_id.clone())
            .bind(e.audit_id.clone())
            .bind(e.audit_chain_id.clone())
            .bind(e.app_cred_id.clone())
            .bind(e.issued_before)
            .bind(e.expires_at)
            .bind(e.revoked_at)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Events revoked at or after `since` (microseconds), oldest first.
    pub async fn revocation_list_since(&self, since: i64) -> Result<Vec<RevocationEvent>> {
        let rows = self
            .db
            .query(
                "SELECT id, user_id, project_id, domain_id, role_id, audit_id, audit_chain_id, app_cred_id, issued_before, \
                 expires_at, revoked_at FROM identity_revocation_event WHERE revoked_at >= ? ORDER BY revoked_at, id",
            )
            .bind(since)
            .fetch_all(self.db.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(RevocationEvent {
                    id: r.try_get("id")?,
                    user_id: r.try_get("user_id")?,
                    project_id: r.try_get("project_id")?,
                    domain_id: r.try_get("domain_id")?,
                    role_id: r.try_get("role_id")?,
                    audit_id: r.try_get("audit_id")?,
                    audit_chain_id: r.try_get("audit_chain_id")?,
                    app_cred_id: r.try_get("app_cred_id")?,
                    issued_before: r.try_get("issued_before")?,
                    expires_at: r.try_get("expires_at")?,
                    revoked_at: r.try_get("revoked_at")?,
                })
            })
            .collect()
    }

    /// Drops events that can no longer match a live token.
    pub async fn revocation_prune(&self, older_than: i64) -> Result<u64> {
        let n = self
            .db
            .query("DELETE FROM identity_revocation_event WHERE revoked_at < ?")
            .bind(older_than)
            .execute(self.db.pool())
            .await?;
        Ok(n.rows_affected())
    }
}
