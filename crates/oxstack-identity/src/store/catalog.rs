//! Regions, services and endpoints.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Result, Store, b, extra, extra_text, flag};
use crate::model::{Endpoint, Region, Service};

impl Store {
    fn region_from_row(r: &AnyRow) -> Result<Region> {
        Ok(Region {
            id: r.try_get("id")?,
            description: r.try_get("description")?,
            parent_region_id: r.try_get("parent_region_id")?,
            extra: extra(r)?,
        })
    }

    pub async fn region_get(&self, id: &str) -> Result<Option<Region>> {
        let row = self
            .db
            .query(
                "SELECT id, description, parent_region_id, extra FROM identity_region WHERE id = ?",
            )
            .bind(id.to_string())
            .fetch_optional(self.db.pool())
            .await?;
        row.as_ref().map(Self::region_from_row).transpose()
    }

    pub async fn region_list(&self, parent_region_id: Option<&str>) -> Result<Vec<Region>> {
        let mut sql =
            String::from("SELECT id, description, parent_region_id, extra FROM identity_region");
        if parent_region_id.is_some() {
            sql.push_str(" WHERE parent_region_id = ?");
        }
        sql.push_str(" ORDER BY id");
        let mut q = self.db.query(sql);
        if let Some(p) = parent_region_id {
            q = q.bind(p.to_string());
        }
        q.fetch_all(self.db.pool())
            .await?
            .iter()
            .map(Self::region_from_row)
            .collect()
    }

    pub async fn region_create(&self, r: &Region) -> Result<()> {
        self.db
            .query("INSERT INTO identity_region (id, description, parent_region_id, extra) VALUES (?, ?, ?, ?)")
            .bind(r.id.clone())
            .bind(r.description.clone())
            .bind(r.parent_region_id.clone())
            .bind(extra_text(&r.extra))
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    pub async fn region_update(&self, r: &Region) -> Result<()> {
        self.db
            .query("UPDATE identity_region SET description = ?, parent_region_id = ?, extra = ? WHERE id = ?")
            .bind(r.description.clone())
            .bind(r.parent_region_id.clone())
            .bind(extra_text(&r.extra))
            .bind(r.id.clone())
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    pub async fn region_delete(&self, id: &str) -> Result<bool> {
        let n = self
            .db
            .query("DELETE FROM identity_region WHERE id = ?")
            .bind(id.to_string())
            .execute(self.db.pool())
            .await?;
        Ok(n.rows_affected() > 0)
    }

    fn service_from_row(r: &AnyRow) -> Result<Service> {
        Ok(Service {
            id: r.try_get("id")?,
            service_type: r.try_get("type")?,
            enabled: flag(r, "enabled")?,
            extra: extra(r)?,
        })
    }

    pub async fn service_get(&self, id: &str) -> Result<Option<Service>> {
        let row = self
            .db
            .query("SELECT id, type, enabled, extra FROM identity_service WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(self.db.pool())
            .await?;
        row.as_ref().map(Self::service_from_row).transpose()
    }

    pub async fn service_list(&self, service_type: Option<&str>) -> Result<Vec<Service>> {
        let mut sql = String::from("SELECT id, type, enabled, extra FROM identity_service");
        if service_type.is_some() {
            sql.push_str(" WHERE type = ?");
        }
        sql.push_str(" ORDER BY type, id");
        let mut q = self.db.query(sql);
        if let Some(t) = service_type {
            q = q.bind(t.to_string());
        }
        q.fetch_all(self.db.pool())
            .await?
            .iter()
            .map(Self::service_from_row)
            .collect()
    }

    pub async fn service_create(&self, s: &Service) -> Result<()> {
        self.db
            .query("INSERT INTO identity_service (id, type, enabled, extra) VALUES (?, ?, ?, ?)")
            .bind(s.id.clone())
            .bind(s.service_type.clone())
            .bind(b(s.enabled))
            .bind(extra_text(&s.extra))
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    pub async fn service_update(&self, s: &Service) -> Result<()> {
        self.db
            .query("UPDATE identity_service SET type = ?, enabled = ?, extra = ? WHERE id = ?")
            .bind(s.service_type.clone())
            .bind(b(s.enabled))
            .bind(extra_text(&s.extra))
            .bind(s.id.clone())
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Deletes a service and its endpoints.
    pub async fn service_delete(&self, id: &str) -> Result<bool> {
        let mut tx = self.db.begin_write().await?;
        self.db
            .query("DELETE FROM identity_endpoint WHERE service_id = ?")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        let n = self
            .db
            .query("DELETE FROM identity_service WHERE id = ?")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(n.rows_affected() > 0)
    }

    fn endpoint_from_row(r: &AnyRow) -> Result<Endpoint> {
        Ok(Endpoint {
            id: r.try_get("id")?,
            service_id: r.try_get("service_id")?,
            interface: r.try_get("interface")?,
            url: r.try_get("url")?,
            region_id: r.try_get("region_id")?,
            enabled: flag(r, "enabled")?,
            extra: extra(r)?,
        })
    }

    pub async fn endpoint_get(&self, id: &str) -> Result<Option<Endpoint>> {
        let row = self
            .db
            .query("SELECT id, service_id, interface, url, region_id, enabled, extra FROM identity_endpoint WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(self.db.pool())
            .await?;
        row.as_ref().map(Self::endpoint_from_row).transpose()
    }

    pub async fn endpoint_list(&self) -> Result<Vec<Endpoint>> {
        self.db
            .query("SELECT id, service_id, interface, url, region_id, enabled, extra FROM identity_endpoint ORDER BY service_id, interface, id")
            .fetch_all(self.db.pool())
            .await?
            .iter()
            .map(Self::endpoint_from_row)
            .collect()
    }

    pub async fn endpoint_create(&self, e: &Endpoint) -> Result<()> {
        self.db
            .query("INSERT INTO identity_endpoint (id, service_id, interface, url, region_id, enabled, extra) VALUES (?, ?, ?, ?, ?, ?, ?)")
            .bind(e.id.clone())
            .bind(e.service_id.clone())
            .bind(e.interface.clone())
            .bind(e.url.clone())
            .bind(e.region_id.clone())
            .bind(b(e.enabled))
            .bind(extra_text(&e.extra))
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    pub async fn endpoint_update(&self, e: &Endpoint) -> Result<()> {
        self.db
            .query("UPDATE identity_endpoint SET service_id = ?, interface = ?, url = ?, region_id = ?, enabled = ?, extra = ? WHERE id = ?")
            .bind(e.service_id.clone())
            .bind(e.interface.clone())
            .bind(e.url.clone())
            .bind(e.region_id.clone())
            .bind(b(e.enabled))
            .bind(extra_text(&e.extra))
            .bind(e.id.clone())
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    pub async fn endpoint_delete(&self, id: &str) -> Result<bool> {
        let n = self
            .db
            .query("DELETE FROM identity_endpoint WHERE id = ?")
            .bind(id.to_string())
            .execute(self.db.pool())
            .await?;
        Ok(n.rows_affected() > 0)
    }
}
