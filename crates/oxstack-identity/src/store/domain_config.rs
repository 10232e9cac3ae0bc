//! Domain-specific configuration (`identity_domain_config`): one row per option, the
//! value as JSON text.

use sqlx::Row;

use super::{Result, Store, StoreError, b, flag};
use crate::model::DomainConfigOption;

impl Store {
    /// The options of a domain, optionally of one group or one option, in a stable order.
    pub async fn domain_config_list(
        &self,
        domain_id: &str,
        group: Option<&str>,
        option: Option<&str>,
    ) -> Result<Vec<DomainConfigOption>> {
        let mut sql = String::from(
            "SELECT group_name, option_name, option_value, is_sensitive FROM identity_domain_config WHERE domain_id = ?",
        );
        if group.is_some() {
            sql.push_str(" AND group_name = ?");
        }
        if option.is_some() {
            sql.push_str(" AND option_name = ?");
        }
        sql.push_str(" ORDER BY group_name, option_name");
        let mut q = self.db.query(sql).bind(domain_id.to_string());
        for v in [group, option].into_iter().flatten() {
            q = q.bind(v.to_string());
        }
        let mut out = Vec::new();
        for r in q.fetch_all(self.db.pool()).await? {
            let text: String = r.try_get("option_value")?;
            out.push(DomainConfigOption {
                group: r.try_get("group_name")?,
                option: r.try_get("option_name")?,
                value: serde_json::from_str(&text)
                    .map_err(|e| StoreError::Corrupt(format!("domain config value: {e}")))?,
                sensitive: flag(&r, "is_sensitive")?,
            });
        }
        Ok(out)
    }

    /// Writes `options` (replacing those with the same group and name); with `replace_all`,
    /// the domain's other options go first (a new configuration rather than an update).
    pub async fn domain_config_write(
        &self,
        domain_id: &str,
        options: &[DomainConfigOption],
        replace_all: bool,
    ) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        if replace_all {
            self.db
                .query("DELETE FROM identity_domain_config WHERE domain_id = ?")
                .bind(domain_id.to_string())
                .execute(&mut *tx)
                .await?;
        }
        for o in options {
            self.db
                .query("DELETE FROM identity_domain_config WHERE domain_id = ? AND group_name = ? AND option_name = ?")
                .bind(domain_id.to_string())
                .bind(o.group.clone())
                .bind(o.option.clone())
                .execute(&mut *tx)
                .await?;
            self.db
                .query("INSERT INTO identity_domain_config (domain_id, group_name, option_name, option_value, is_sensitive) VALUES (?, ?, ?, ?, ?)")
                .bind(domain_id.to_string())
                .bind(o.group.clone())
                .bind(o.option.clone())
                .bind(o.value.to_string())
                .bind(b(o.sensitive))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a domain's whole configuration, one group of it or one option.
    pub async fn domain_config_delete(
        &self,
        domain_id: &str,
        group: Option<&str>,
        option: Option<&str>,
    ) -> Result<u64> {
        let mut sql = String::from("DELETE FROM identity_domain_config WHERE domain_id = ?");
        if group.is_some() {
            sql.push_str(" AND group_name = ?");
        }
        if option.is_some() {
            sql.push_str(" AND option_name = ?");
        }
        let mut q = self.db.query(sql).bind(domain_id.to_string());
        for v in [group, option].into_iter().flatten() {
            q = q.bind(v.to_string());
        }
        Ok(q.execute(self.db.pool()).await?.rows_affected())
    }
}
