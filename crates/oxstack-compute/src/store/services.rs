//! Services (`os-services`) and compute nodes (`os-hypervisors`).

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Result, Store, b, flag};
use crate::model::{ComputeNode, Service};

const SERVICE_COLUMNS: &str = "id, uuid, host, service_binary, topic, disabled, disabled_reason, forced_down, \
                               last_seen_up, created_at, updated_at";
const NODE_COLUMNS: &str = "id, uuid, host, hypervisor_hostname, hypervisor_type, hypervisor_version, host_ip, \
                            vcpus, memory_mb, local_gb, service_id, cpu_info";

impl Store {
    fn service_from_row(r: &AnyRow) -> Result<Service> {
        Ok(Service {
            id: r.try_get("id")?,
            uuid: r.try_get("uuid")?,
            host: r.try_get("host")?,
            binary: r.try_get("service_binary")?,
            topic: r.try_get("topic")?,
            disabled: flag(r, "disabled")?,
            disabled_reason: r.try_get("disabled_reason")?,
            forced_down: flag(r, "forced_down")?,
            last_seen_up: r.try_get("last_seen_up")?,
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
        })
    }

    /// The service `binary` on `host`, created when missing.
    pub async fn service_ensure(&self, host: &str, binary: &str, topic: &str) -> Result<Service> {
        if let Some(s) = self.service_get_by_host(host, binary).await? {
            return Ok(s);
        }
        let mut tx = self.db.begin_write().await?;
        let id: i64 = self
            .db
            .query_scalar("SELECT COALESCE(MAX(id), 0) + 1 FROM compute_service")
            .fetch_one(&mut *tx)
            .await?;
        let r = self
            .db
            .query(format!("INSERT INTO compute_service ({SERVICE_COLUMNS}) VALUES (?, ?, ?, ?, ?, 0, NULL, 0, NULL, ?, NULL)"))
            .bind(id)
            .bind(uuid::Uuid::new_v4().to_string())
            .bind(host.to_string())
            .bind(binary.to_string())
            .bind(topic.to_string())
            .bind(oxstack_common::time::now().timestamp_micros())
            .execute(&mut *tx)
            .await;
        match r {
            Ok(_) => tx.commit().await?,
            // A concurrent registration won: use its row.
            Err(e) if oxstack_common::db::Db::is_unique_violation(&e) => {}
            Err(e) => return Err(e.into()),
        }
        self.service_get_by_host(host, binary)
            .await?
            .ok_or_else(|| super::StoreError::Corrupt("service vanished".into()))
    }

    pub async fn service_get_by_host(&self, host: &str, binary: &str) -> Result<Option<Service>> {
        let row = self
            .db
            .query(format!("SELECT {SERVICE_COLUMNS} FROM compute_service WHERE host = ? AND service_binary = ?"))
            .bind(host.to_string())
            .bind(binary.to_string())
            .fetch_optional(self.db.pool())
            .await?;
        row.as_ref().map(Self::service_from_row).transpose()
    }

    pub async fn service_list(&self) -> Result<Vec<Service>> {
        let rows = self
            .db
            .query(format!(
                "SELECT {SERVICE_COLUMNS} FROM compute_service ORDER BY id"
            ))
            .fetch_all(self.db.pool())
            .await?;
        rows.iter().map(Self::service_from_row).collect()
    }

    /// Sets the status columns of a service.
    pub async fn service_update(
        &self,
        id: i64,
        disabled: Option<(bool, Option<String>)>,
        forced_down: Option<bool>,
    ) -> Result<bool> {
        let now = oxstack_common::time::now().timestamp_micros();
        let mut n = 0;
        if let Some((d, reason)) = disabled {
            n += self
                .db
                .query("UPDATE compute_service SET disabled = ?, disabled_reason = ?, updated_at = ? WHERE id = ?")
                .bind(b(d))
                .bind(reason)
                .bind(now)
                .bind(id)
                .execute(self.db.pool())
                .await?
                .rows_affected();
        }
        if let Some(f) = forced_down {
            n += self
                .db
                .query("UPDATE compute_service SET forced_down = ?, updated_at = ? WHERE id = ?")
                .bind(b(f))
                .bind(now)
                .bind(id)
                .execute(self.db.pool())
                .await?
                .rows_affected();
        }
        Ok(n > 0)
    }

    /// Records a heartbeat.
    pub async fn service_heartbeat(&self, id: i64) -> Result<()> {
        let now = oxstack_common::time::now().timestamp_micros();
        self.db
            .query("UPDATE compute_service SET last_seen_up = ?, updated_at = ? WHERE id = ?")
            .bind(now)
            .bind(now)
            .bind(id)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    pub async fn service_delete(&self, id: i64) -> Result<bool> {
        let mut tx = self.db.begin_write().await?;
        self.db
            .query("DELETE FROM compute_node WHERE service_id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let n = self
            .db
            .query("DELETE FROM compute_service WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n > 0)
    }

    fn node_from_row(r: &AnyRow) -> Result<ComputeNode> {
        Ok(ComputeNode {
            id: r.try_get("id")?,
            uuid: r.try_get("uuid")?,
            host: r.try_get("host")?,
            hypervisor_hostname: r.try_get("hypervisor_hostname")?,
            hypervisor_type: r.try_get("hypervisor_type")?,
            hypervisor_version: r.try_get("hypervisor_version")?,
            host_ip: r.try_get("host_ip")?,
            vcpus: r.try_get("vcpus")?,
            memory_mb: r.try_get("memory_mb")?,
            local_gb: r.try_get("local_gb")?,
            service_id: r.try_get("service_id")?,
            cpu_info: r
                .try_get::<Option<String>, _>("cpu_info")?
                .unwrap_or_default(),
        })
    }

    /// Creates or refreshes the compute node of `n.host`; the stored row (with its id and
    /// uuid, which are kept across restarts) is returned.
    pub async fn node_upsert(&self, n: &ComputeNode) -> Result<ComputeNode> {
        let mut tx = self.db.begin_write().await?;
        let existing = self
            .db
            .query(format!(
                "SELECT {NODE_COLUMNS} FROM compute_node WHERE host = ? AND hypervisor_hostname = ?"
            ))
            .bind(n.host.clone())
            .bind(n.hypervisor_hostname.clone())
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(row) = existing {
            let old = Self::node_from_row(&row)?;
            self.db
                .query("UPDATE compute_node SET vcpus = ?, memory_mb = ?, local_gb = ?, host_ip = ?, service_id = ?, \
                        hypervisor_type = ?, hypervisor_version = ?, cpu_info = ? WHERE id = ?")
                .bind(n.vcpus)
                .bind(n.memory_mb)
                .bind(n.local_gb)
                .bind(n.host_ip.clone())
                .bind(n.service_id)
                .bind(n.hypervisor_type.clone())
                .bind(n.hypervisor_version)
                .bind(n.cpu_info.clone())
                .bind(old.id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            return Ok(ComputeNode {
                id: old.id,
                uuid: old.uuid,
                ..n.clone()
            });
        }
        let id: i64 = self
            .db
            .query_scalar("SELECT COALESCE(MAX(id), 0) + 1 FROM compute_node")
            .fetch_one(&mut *tx)
            .await?;
        self.db
            .query(format!(
                "INSERT INTO compute_node ({NODE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            ))
            .bind(id)
            .bind(n.uuid.clone())
            .bind(n.host.clone())
            .bind(n.hypervisor_hostname.clone())
            .bind(n.hypervisor_type.clone())
            .bind(n.hypervisor_version)
            .bind(n.host_ip.clone())
            .bind(n.vcpus)
            .bind(n.memory_mb)
            .bind(n.local_gb)
            .bind(n.service_id)
            .bind(n.cpu_info.clone())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(ComputeNode { id, ..n.clone() })
    }

    pub async fn node_list(&self) -> Result<Vec<ComputeNode>> {
        let rows = self
            .db
            .query(format!(
                "SELECT {NODE_COLUMNS} FROM compute_node ORDER BY id"
            ))
            .fetch_all(self.db.pool())
            .await?;
        rows.iter().map(Self::node_from_row).collect()
    }
}
