//! Block device mappings: the volumes attached to servers. Rows are soft-deleted (`deleted`
//! holds the deletion time, 0 while live) so that `(instance_uuid, device_name, deleted)`
//! stays unique: two attachments can never get the same device of one server.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Result, Store, b, flag, marks};
use crate::model::BlockDeviceMapping;

const COLUMNS: &str = "uuid, instance_uuid, volume_id, attachment_id, device_name, source_type, \
     destination_type, delete_on_termination, tag, boot_index, created_at";

impl Store {
    fn bdm_from_row(r: &AnyRow) -> Result<BlockDeviceMapping> {
        Ok(BlockDeviceMapping {
            uuid: r.try_get("uuid")?,
            instance_uuid: r.try_get("instance_uuid")?,
            volume_id: r.try_get("volume_id")?,
            attachment_id: r.try_get("attachment_id")?,
            device_name: r.try_get("device_name")?,
            source_type: r.try_get("source_type")?,
            destination_type: r.try_get("destination_type")?,
            delete_on_termination: flag(r, "delete_on_termination")?,
            tag: r.try_get("tag")?,
            boot_index: r.try_get("boot_index")?,
            created_at: r.try_get("created_at")?,
        })
    }

    /// Inserts a mapping; [`super::StoreError::Duplicate`] when the server already has a
    /// live mapping on that device.
    pub async fn bdm_create(&self, m: &BlockDeviceMapping) -> Result<()> {
        self.db
            .query(format!(
                "INSERT INTO compute_block_device_mapping ({COLUMNS}, deleted) VALUES ({}, 0)",
                marks(11)
            ))
            .bind(m.uuid.clone())
            .bind(m.instance_uuid.clone())
            .bind(m.volume_id.clone())
            .bind(m.attachment_id.clone())
            .bind(m.device_name.clone())
            .bind(m.source_type.clone())
            .bind(m.destination_type.clone())
            .bind(b(m.delete_on_termination))
            .bind(m.tag.clone())
            .bind(m.boot_index)
            .bind(m.created_at)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// The live mappings of a server, oldest first.
    pub async fn bdm_list(&self, instance_uuid: &str) -> Result<Vec<BlockDeviceMapping>> {
        self.bdm_list_of(&[instance_uuid.to_string()]).await
    }

    /// The live mappings of several servers (for server lists), oldest first.
    pub async fn bdm_list_of(&self, instances: &[String]) -> Result<Vec<BlockDeviceMapping>> {
        if instances.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = self.db.query(format!(
            "SELECT {COLUMNS} FROM compute_block_device_mapping WHERE deleted = 0 \
             AND instance_uuid IN ({}) ORDER BY created_at, uuid",
            marks(instances.len())
        ));
        for i in instances {
            q = q.bind(i.clone());
        }
        let rows = q.fetch_all(self.db.pool()).await?;
        rows.iter().map(Self::bdm_from_row).collect()
    }

    /// The live mappings of a volume (on any server).
    pub async fn bdm_list_by_volume(&self, volume_id: &str) -> Result<Vec<BlockDeviceMapping>> {
        let rows = self
            .db
            .query(format!(
                "SELECT {COLUMNS} FROM compute_block_device_mapping WHERE deleted = 0 \
                 AND volume_id = ? ORDER BY created_at, uuid"
            ))
            .bind(volume_id.to_string())
            .fetch_all(self.db.pool())
            .await?;
        rows.iter().map(Self::bdm_from_row).collect()
    }

    /// The live mapping of `volume_id` on a server.
    pub async fn bdm_get_by_volume(
        &self,
        instance_uuid: &str,
        volume_id: &str,
    ) -> Result<Option<BlockDeviceMapping>> {
        Ok(self
            .bdm_list(instance_uuid)
            .await?
            .into_iter()
            .find(|m| m.volume_id.as_deref() == Some(volume_id)))
    }

    /// Records the Cinder attachment of a mapping.
    pub async fn bdm_set_attachment(&self, uuid: &str, attachment_id: Option<&str>) -> Result<()> {
        self.db
            .query("UPDATE compute_block_device_mapping SET attachment_id = ? WHERE uuid = ?")
            .bind(attachment_id.map(str::to_string))
            .bind(uuid.to_string())
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Names the device of a mapping (a volume attached while its server had no host);
    /// [`super::StoreError::Duplicate`] when the server already uses it.
    pub async fn bdm_set_device(&self, uuid: &str, device_name: &str) -> Result<()> {
        self.db
            .query("UPDATE compute_block_device_mapping SET device_name = ? WHERE uuid = ?")
            .bind(device_name.to_string())
            .bind(uuid.to_string())
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Soft-deletes a mapping (no error when it is gone).
    pub async fn bdm_delete(&self, uuid: &str, now: i64) -> Result<()> {
        self.db
            .query(
                "UPDATE compute_block_device_mapping SET deleted = ? WHERE uuid = ? AND deleted = 0",
            )
            .bind(now.max(1))
            .bind(uuid.to_string())
            .execute(self.db.pool())
            .await?;
        Ok(())
    }
}
