//! Flavors, their extra specs and access lists.

use std::collections::BTreeMap;

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Result, Store, b, flag};
use crate::model::Flavor;

const COLUMNS: &str = "flavorid, name, memory_mb, vcpus, root_gb, ephemeral_gb, swap, rxtx_factor, \
                       is_public, disabled, description, created_at";

impl Store {
    fn flavor_from_row(r: &AnyRow) -> Result<Flavor> {
        Ok(Flavor {
            id: r.try_get("flavorid")?,
            name: r.try_get("name")?,
            memory_mb: r.try_get("memory_mb")?,
            vcpus: r.try_get("vcpus")?,
            root_gb: r.try_get("root_gb")?,
            ephemeral_gb: r.try_get("ephemeral_gb")?,
            swap: r.try_get("swap")?,
            rxtx_factor: r.try_get("rxtx_factor")?,
            is_public: flag(r, "is_public")?,
            disabled: flag(r, "disabled")?,
            description: r.try_get("description")?,
            extra_specs: BTreeMap::new(),
            created_at: r.try_get("created_at")?,
        })
    }

    pub async fn flavor_create(&self, f: &Flavor) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        self.db
            .query(
                "INSERT INTO compute_flavor (flavorid, name, memory_mb, vcpus, root_gb, ephemeral_gb, swap, \
                 rxtx_factor, is_public, disabled, description, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(f.id.clone())
            .bind(f.name.clone())
            .bind(f.memory_mb)
            .bind(f.vcpus)
            .bind(f.root_gb)
            .bind(f.ephemeral_gb)
            .bind(f.swap)
            .bind(f.rxtx_factor)
            .bind(b(f.is_public))
            .bind(b(f.disabled))
            .bind(f.description.clone())
            .bind(f.created_at)
            .execute(&mut *tx)
            .await?;
        for (k, v) in &f.extra_specs {
            self.db
                .query("INSERT INTO compute_flavor_extra_spec (flavorid, spec_key, spec_value) VALUES (?, ?, ?)")
                .bind(f.id.clone())
                .bind(k.clone())
                .bind(v.clone())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn flavor_get(&self, id: &str) -> Result<Option<Flavor>> {
        let row = self
            .db
            .query(format!(
                "SELECT {COLUMNS} FROM compute_flavor WHERE flavorid = ?"
            ))
            .bind(id.to_string())
            .fetch_optional(self.db.pool())
            .await?;
        let Some(mut f) = row.as_ref().map(Self::flavor_from_row).transpose()? else {
            return Ok(None);
        };
        f.extra_specs = self.flavor_extra_specs(id).await?;
        Ok(Some(f))
    }

    /// Every flavor, ordered by `flavorid`, with extra specs.
    pub async fn flavor_list(&self) -> Result<Vec<Flavor>> {
        let rows = self
            .db
            .query(format!(
                "SELECT {COLUMNS} FROM compute_flavor ORDER BY flavorid"
            ))
            .fetch_all(self.db.pool())
            .await?;
        let mut out: Vec<Flavor> = rows
            .iter()
            .map(Self::flavor_from_row)
            .collect::<Result<_>>()?;
        let specs = self
            .db
            .query("SELECT flavorid, spec_key, spec_value FROM compute_flavor_extra_spec")
            .fetch_all(self.db.pool())
            .await?;
        for r in specs {
            let id: String = r.try_get("flavorid")?;
            if let Some(f) = out.iter_mut().find(|f| f.id == id) {
                f.extra_specs
                    .insert(r.try_get("spec_key")?, r.try_get("spec_value")?);
            }
        }
        Ok(out)
    }

    pub async fn flavor_update_description(&self, id: &str, d: Option<&str>) -> Result<bool> {
        let n = self
            .db
            .query("UPDATE compute_flavor SET description = ? WHERE flavorid = ?")
            .bind(d.map(str::to_string))
            .bind(id.to_string())
            .execute(self.db.pool())
            .await?
            .rows_affected();
        Ok(n > 0)
    }

    pub async fn flavor_delete(&self, id: &str) -> Result<bool> {
        let mut tx = self.db.begin_write().await?;
        for t in ["compute_flavor_extra_spec", "compute_flavor_access"] {
            self.db
                .query(format!("DELETE FROM {t} WHERE flavorid = ?"))
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
        }
        let n = self
            .db
            .query("DELETE FROM compute_flavor WHERE flavorid = ?")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n > 0)
    }

    pub async fn flavor_extra_specs(&self, id: &str) -> Result<BTreeMap<String, String>> {
        let rows = self
            .db
            .query("SELECT spec_key, spec_value FROM compute_flavor_extra_spec WHERE flavorid = ?")
            .bind(id.to_string())
            .fetch_all(self.db.pool())
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("spec_key")?, r.try_get("spec_value")?)))
            .collect()
    }

    /// Sets (inserts or replaces) extra specs.
    pub async fn flavor_extra_specs_set(
        &self,
        id: &str,
        specs: &BTreeMap<String, String>,
    ) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        for (k, v) in specs {
            self.db
                .query("DELETE FROM compute_flavor_extra_spec WHERE flavorid = ? AND spec_key = ?")
                .bind(id.to_string())
                .bind(k.clone())
                .execute(&mut *tx)
                .await?;
            self.db
                .query("INSERT INTO compute_flavor_extra_spec (flavorid, spec_key, spec_value) VALUES (?, ?, ?)")
                .bind(id.to_string())
                .bind(k.clone())
                .bind(v.clone())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn flavor_extra_spec_delete(&self, id: &str, key: &str) -> Result<bool> {
        let n = self
            .db
            .query("DELETE FROM compute_flavor_extra_spec WHERE flavorid = ? AND spec_key = ?")
            .bind(id.to_string())
            .bind(key.to_string())
            .execute(self.db.pool())
            .await?
            .rows_affected();
        Ok(n > 0)
    }

    pub async fn flavor_access_list(&self, id: &str) -> Result<Vec<String>> {
        let rows = self
            .db
            .query("SELECT project_id FROM compute_flavor_access WHERE flavorid = ? ORDER BY project_id")
            .bind(id.to_string())
            .fetch_all(self.db.pool())
            .await?;
        rows.iter().map(|r| Ok(r.try_get("project_id")?)).collect()
    }

    /// Flavor ids a project was given access to.
    pub async fn flavor_access_for_project(&self, project_id: &str) -> Result<Vec<String>> {
        let rows = self
            .db
            .query("SELECT flavorid FROM compute_flavor_access WHERE project_id = ?")
            .bind(project_id.to_string())
            .fetch_all(self.db.pool())
            .await?;
        rows.iter().map(|r| Ok(r.try_get("flavorid")?)).collect()
    }

    /// Adds access; [`super::StoreError::Duplicate`] when it exists.
    pub async fn flavor_access_add(&self, id: &str, project_id: &str) -> Result<()> {
        self.db
            .query("INSERT INTO compute_flavor_access (flavorid, project_id) VALUES (?, ?)")
            .bind(id.to_string())
            .bind(project_id.to_string())
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    pub async fn flavor_access_remove(&self, id: &str, project_id: &str) -> Result<bool> {
        let n = self
            .db
            .query("DELETE FROM compute_flavor_access WHERE flavorid = ? AND project_id = ?")
            .bind(id.to_string())
            .bind(project_id.to_string())
            .execute(self.db.pool())
            .await?
            .rows_affected();
        Ok(n > 0)
    }
}
