//! Volume attachments.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Result, Store};
use crate::model::Attachment;

const COLUMNS: &str = "id, volume_id, project_id, instance_uuid, attached_host, mountpoint, \
    attach_status, attach_mode, connector, attach_time, detach_time, created_at";

impl Store {
    fn attachment_from_row(r: &AnyRow) -> Result<Attachment> {
        Ok(Attachment {
            id: r.try_get("id")?,
            volume_id: r.try_get("volume_id")?,
            project_id: r.try_get("project_id")?,
            instance_uuid: r.try_get("instance_uuid")?,
            attached_host: r.try_get("attached_host")?,
            mountpoint: r.try_get("mountpoint")?,
            attach_status: r.try_get("attach_status")?,
            attach_mode: r.try_get("attach_mode")?,
            connector: r.try_get("connector")?,
            attach_time: r.try_get("attach_time")?,
            detach_time: r.try_get("detach_time")?,
            created_at: r.try_get("created_at")?,
        })
    }

    pub async fn attachment_create(&self, a: &Attachment) -> Result<()> {
        self.db
            .query(format!(
                "INSERT INTO blockstore_attachment ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            ))
            .bind(a.id.clone())
            .bind(a.volume_id.clone())
            .bind(a.project_id.clone())
            .bind(a.instance_uuid.clone())
            .bind(a.attached_host.clone())
            .bind(a.mountpoint.clone())
            .bind(a.attach_status.clone())
            .bind(a.attach_mode.clone())
            .bind(a.connector.clone())
            .bind(a.attach_time)
            .bind(a.detach_time)
            .bind(a.created_at)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    pub async fn attachment_save(&self, a: &Attachment) -> Result<()> {
        self.db
            .query("UPDATE blockstore_attachment SET instance_uuid = ?, attached_host = ?, mountpoint = ?, attach_status = ?, attach_mode = ?, connector = ?, attach_time = ?, detach_time = ? WHERE id = ?")
            .bind(a.instance_uuid.clone())
            .bind(a.attached_host.clone())
            .bind(a.mountpoint.clone())
            .bind(a.attach_status.clone())
            .bind(a.attach_mode.clone())
            .bind(a.connector.clone())
            .bind(a.attach_time)
            .bind(a.detach_time)
            .bind(a.id.clone())
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    pub async fn attachment_get(&self, id: &str) -> Result<Option<Attachment>> {
        let row = self
            .db
            .query(format!(
                "SELECT {COLUMNS} FROM blockstore_attachment WHERE id = ?"
            ))
            .bind(id.to_string())
            .fetch_optional(self.db.pool())
            .await?;
        row.as_ref().map(Self::attachment_from_row).transpose()
    }

    /// Attachments of one volume, oldest first.
    pub async fn attachment_list_of_volume(&self, volume_id: &str) -> Result<Vec<Attachment>> {
        let rows = self
            .db
            .query(format!(
                "SELECT {COLUMNS} FROM blockstore_attachment WHERE volume_id = ? ORDER BY created_at, id"
            ))
            .bind(volume_id.to_string())
            .fetch_all(self.db.pool())
            .await?;
        rows.iter().map(Self::attachment_from_row).collect()
    }

    /// Attachments of `project_id` (every project's when `None`).
    pub async fn attachment_list(&self, project_id: Option<&str>) -> Result<Vec<Attachment>> {
        let rows = match project_id {
            Some(p) => {
                self.db
                    .query(format!(
                        "SELECT {COLUMNS} FROM blockstore_attachment WHERE project_id = ? ORDER BY created_at DESC, id"
                    ))
                    .bind(p.to_string())
                    .fetch_all(self.db.pool())
                    .await?
            }
            None => {
                self.db
                    .query(format!(
                        "SELECT {COLUMNS} FROM blockstore_attachment ORDER BY created_at DESC, id"
                    ))
                    .fetch_all(self.db.pool())
                    .await?
            }
        };
        rows.iter().map(Self::attachment_from_row).collect()
    }

    pub async fn attachment_delete(&self, id: &str) -> Result<()> {
        self.db
            .query("DELETE FROM blockstore_attachment WHERE id = ?")
            .bind(id.to_string())
            .execute(self.db.pool())
            .await?;
        Ok(())
    }
}
