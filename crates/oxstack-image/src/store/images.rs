//! Images (`image_image`), their custom properties (`image_property`) and tags
//! (`image_tag`).

use std::collections::{BTreeMap, HashMap};

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Result, Store, StoreError, b, placeholders};
use crate::model::{Image, Staged};

const COLUMNS: &str = "id, name, status, visibility, protected, os_hidden, checksum, os_hash_algo, \
    os_hash_value, size, virtual_size, min_disk, min_ram, disk_format, container_format, owner, \
    location, staging, created_at, updated_at";

/// Which images a listing may return, before the logic layer's finer filters.
///
/// Visibility follows Glance's database layer: an admin sees every image; anyone else sees
/// public and community images, their project's own images, and shared images their project
/// is a member of with `member_status` (any status when `None`). Community images are listed
/// only when asked for by `visibility`, or when owned by the caller's project.
#[derive(Debug, Clone, Default)]
pub struct ImageQuery {
    pub admin: bool,
    /// The caller's project.
    pub project_id: Option<String>,
    /// Membership status of shared images to include; `None` for any.
    pub member_status: Option<String>,
    /// Only this visibility; `None` for Glance's default (no community images but one's
    /// own), `Some("all")` for every visibility.
    pub visibility: Option<String>,
    /// Column filters, each a set of accepted values.
    pub name: Option<Vec<String>>,
    pub id: Option<Vec<String>>,
    pub status: Option<Vec<String>>,
    pub disk_format: Option<Vec<String>>,
    pub container_format: Option<Vec<String>>,
    pub owner: Option<String>,
    pub os_hidden: Option<bool>,
    pub protected: Option<bool>,
    pub size_min: Option<i64>,
    pub size_max: Option<i64>,
}

/// A project's use of the image service, for quotas and `/v2/info/usage`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub image_count: i64,
    /// Bytes of stored image data.
    pub size_total: i64,
    /// Bytes of staged data.
    pub stage_total: i64,
    /// Images being uploaded, staged or imported.
    pub uploading: i64,
}

enum Bind {
    Str(String),
    Int(i64),
}

impl Store {
    fn image_from_row(r: &AnyRow) -> Result<Image> {
        let staging: Option<String> = r.try_get("staging")?;
        let staging = match staging {
            Some(s) => Some(
                serde_json::from_str::<Staged>(&s)
                    .map_err(|e| StoreError::Corrupt(format!("staging: {e}")))?,
            ),
            None => None,
        };
        Ok(Image {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            status: r.try_get("status")?,
            visibility: r.try_get("visibility")?,
            protected: r.try_get::<i64, _>("protected")? != 0,
            os_hidden: r.try_get::<i64, _>("os_hidden")? != 0,
            checksum: r.try_get("checksum")?,
            os_hash_algo: r.try_get("os_hash_algo")?,
            os_hash_value: r.try_get("os_hash_value")?,
            size: r.try_get("size")?,
            virtual_size: r.try_get("virtual_size")?,
            min_disk: r.try_get("min_disk")?,
            min_ram: r.try_get("min_ram")?,
            disk_format: r.try_get("disk_format")?,
            container_format: r.try_get("container_format")?,
            owner: r.try_get("owner")?,
            location: r.try_get("location")?,
            staging,
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
            tags: Vec::new(),
            properties: BTreeMap::new(),
        })
    }

    fn staging_text(s: &Option<Staged>) -> Result<Option<String>> {
        s.as_ref()
            .map(|s| serde_json::to_string(s).map_err(|e| StoreError::Corrupt(e.to_string())))
            .transpose()
    }

    /// Loads tags and properties of `images` (in chunks, so any number of images works).
    async fn with_details(&self, mut images: Vec<Image>) -> Result<Vec<Image>> {
        let index: HashMap<String, usize> = images
            .iter()
            .enumerate()
            .map(|(i, im)| (im.id.clone(), i))
            .collect();
        let ids: Vec<String> = images.iter().map(|i| i.id.clone()).collect();
        for chunk in ids.chunks(500) {
            let ph = placeholders(chunk.len());
            let mut q = self.db.query(format!(
                "SELECT image_id, value FROM image_tag WHERE image_id IN {ph} ORDER BY created_at, value"
            ));
            for id in chunk {
                q = q.bind(id.clone());
            }
            for r in q.fetch_all(self.db.pool()).await? {
                let id: String = r.try_get("image_id")?;
                if let Some(im) = index.get(&id).and_then(|&i| images.get_mut(i)) {
                    im.tags.push(r.try_get("value")?);
                }
            }
            let mut q = self.db.query(format!(
                "SELECT image_id, name, value FROM image_property WHERE image_id IN {ph}"
            ));
            for id in chunk {
                q = q.bind(id.clone());
            }
            for r in q.fetch_all(self.db.pool()).await? {
                let id: String = r.try_get("image_id")?;
                if let Some(im) = index.get(&id).and_then(|&i| images.get_mut(i)) {
                    im.properties
                        .insert(r.try_get("name")?, r.try_get("value")?);
                }
            }
        }
        Ok(images)
    }

    pub async fn image_create(&self, im: &Image) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        self.db
            .query(format!(
                "INSERT INTO image_image ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            ))
            .bind(im.id.clone())
            .bind(im.name.clone())
            .bind(im.status.clone())
            .bind(im.visibility.clone())
            .bind(b(im.protected))
            .bind(b(im.os_hidden))
            .bind(im.checksum.clone())
            .bind(im.os_hash_algo.clone())
            .bind(im.os_hash_value.clone())
            .bind(im.size)
            .bind(im.virtual_size)
            .bind(im.min_disk)
            .bind(im.min_ram)
            .bind(im.disk_format.clone())
            .bind(im.container_format.clone())
            .bind(im.owner.clone())
            .bind(im.location.clone())
            .bind(Self::staging_text(&im.staging)?)
            .bind(im.created_at)
            .bind(im.updated_at)
            .execute(&mut *tx)
            .await?;
        self.insert_details(&mut tx, im).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn insert_details(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        im: &Image,
    ) -> Result<()> {
        for (i, t) in im.tags.iter().enumerate() {
            self.db
                .query("INSERT INTO image_tag (image_id, value, created_at) VALUES (?, ?, ?)")
                .bind(im.id.clone())
                .bind(t.clone())
                .bind(im.updated_at + i as i64)
                .execute(&mut **tx)
                .await?;
        }
        for (k, v) in &im.properties {
            self.db
                .query("INSERT INTO image_property (image_id, name, value) VALUES (?, ?, ?)")
                .bind(im.id.clone())
                .bind(k.clone())
                .bind(v.clone())
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    pub async fn image_get(&self, id: &str) -> Result<Option<Image>> {
        let row = self
            .db
            .query(format!("SELECT {COLUMNS} FROM image_image WHERE id = ?"))
            .bind(id.to_string())
            .fetch_optional(self.db.pool())
            .await?;
        match row {
            Some(r) => Ok(self
                .with_details(vec![Self::image_from_row(&r)?])
                .await?
                .pop()),
            None => Ok(None),
        }
    }

    /// Images matching `q`, with tags and properties, in no particular order.
    pub async fn image_list(&self, q: &ImageQuery) -> Result<Vec<Image>> {
        let mut conds: Vec<String> = Vec::new();
        let mut binds: Vec<Bind> = Vec::new();
        if !q.admin {
            let mut vis = String::from("(i.visibility IN ('public', 'community')");
            if let Some(p) = &q.project_id {
                vis.push_str(" OR i.owner = ? OR (i.visibility = 'shared' AND EXISTS (SELECT 1 FROM image_member m WHERE m.image_id = i.id AND m.member = ?");
                binds.push(Bind::Str(p.clone()));
                binds.push(Bind::Str(p.clone()));
                if let Some(s) = &q.member_status {
                    vis.push_str(" AND m.status = ?");
                    binds.push(Bind::Str(s.clone()));
                }
                vis.push_str("))");
            }
            vis.push(')');
            conds.push(vis);
        }
        match (&q.visibility, &q.project_id) {
            (Some(v), _) if v == "all" => {}
            (Some(v), _) => {
                conds.push("i.visibility = ?".into());
                binds.push(Bind::Str(v.clone()));
            }
            (None, None) => conds.push("i.visibility <> 'community'".into()),
            (None, Some(p)) => {
                conds.push("(i.owner = ? OR i.visibility <> 'community')".into());
                binds.push(Bind::Str(p.clone()));
            }
        }
        for (col, values) in [
            ("name", &q.name),
            ("id", &q.id),
            ("status", &q.status),
            ("disk_format", &q.disk_format),
            ("container_format", &q.container_format),
        ] {
            if let Some(vs) = values {
                if vs.is_empty() {
                    return Ok(Vec::new());
                }
                conds.push(format!("i.{col} IN {}", placeholders(vs.len())));
                binds.extend(vs.iter().cloned().map(Bind::Str));
            }
        }
        if let Some(o) = &q.owner {
            conds.push("i.owner = ?".into());
            binds.push(Bind::Str(o.clone()));
        }
        for (col, v) in [("os_hidden", q.os_hidden), ("protected", q.protected)] {
            if let Some(v) = v {
                conds.push(format!("i.{col} = ?"));
                binds.push(Bind::Int(b(v)));
            }
        }
        if let Some(v) = q.size_min {
            conds.push("i.size >= ?".into());
            binds.push(Bind::Int(v));
        }
        if let Some(v) = q.size_max {
            conds.push("i.size <= ?".into());
            binds.push(Bind::Int(v));
        }
        let mut sql = format!(
            "SELECT {} FROM image_image i",
            COLUMNS
                .split(", ")
                .map(|c| format!("i.{}", c.trim()))
                .collect::<Vec<_>>()
                .join(", ")
        );
        if !conds.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conds.join(" AND "));
        }
        let mut query = self.db.query(sql);
        for bind in binds {
            query = match bind {
                Bind::Str(s) => query.bind(s),
                Bind::Int(i) => query.bind(i),
            };
        }
        let rows = query.fetch_all(self.db.pool()).await?;
        let images = rows
            .iter()
            .map(Self::image_from_row)
            .collect::<Result<Vec<_>>>()?;
        self.with_details(images).await
    }

    /// Replaces the client-settable attributes, tags and properties of `im` (a PATCH).
    /// Returns false when the image no longer exists.
    pub async fn image_update(&self, im: &Image) -> Result<bool> {
        let mut tx = self.db.begin_write().await?;
        let n = self
            .db
            .query(
                "UPDATE image_image SET name = ?, visibility = ?, protected = ?, os_hidden = ?, \
                 min_disk = ?, min_ram = ?, disk_format = ?, container_format = ?, owner = ?, \
                 updated_at = ? WHERE id = ?",
            )
            .bind(im.name.clone())
            .bind(im.visibility.clone())
            .bind(b(im.protected))
            .bind(b(im.os_hidden))
            .bind(im.min_disk)
            .bind(im.min_ram)
            .bind(im.disk_format.clone())
            .bind(im.container_format.clone())
            .bind(im.owner.clone())
            .bind(im.updated_at)
            .bind(im.id.clone())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Ok(false);
        }
        for table in ["image_tag", "image_property"] {
            self.db
                .query(format!("DELETE FROM {table} WHERE image_id = ?"))
                .bind(im.id.clone())
                .execute(&mut *tx)
                .await?;
        }
        self.insert_details(&mut tx, im).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Moves `id` to `to` if its status is one of `from`. Returns whether it did.
    pub async fn image_set_status(
        &self,
        id: &str,
        from: &[&str],
        to: &str,
        now: i64,
    ) -> Result<bool> {
        let mut q = self.db.query(format!(
            "UPDATE image_image SET status = ?, updated_at = ? WHERE id = ? AND status IN {}",
            placeholders(from.len())
        ));
        q = q.bind(to.to_string()).bind(now).bind(id.to_string());
        for f in from {
            q = q.bind(f.to_string());
        }
        Ok(q.execute(self.db.pool()).await?.rows_affected() == 1)
    }

    /// Records stored data and moves `id` from `from` to `to` (e.g. saving → active).
    /// Returns false (and changes nothing) when the image is gone or not in `from`.
    pub async fn image_set_data(
        &self,
        id: &str,
        from: &str,
        to: &str,
        data: &crate::model::Stored,
        now: i64,
    ) -> Result<bool> {
        let n = self
            .db
            .query(
                "UPDATE image_image SET status = ?, location = ?, size = ?, checksum = ?, \
                 os_hash_algo = ?, os_hash_value = ?, virtual_size = ?, staging = NULL, \
                 updated_at = ? WHERE id = ? AND status = ?",
            )
            .bind(to.to_string())
            .bind(data.location.clone())
            .bind(data.size)
            .bind(data.checksum.clone())
            .bind(crate::model::HASH_ALGO.to_string())
            .bind(data.hash_value.clone())
            .bind(data.virtual_size)
            .bind(now)
            .bind(id.to_string())
            .bind(from.to_string())
            .execute(self.db.pool())
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// Records staged data (or clears it) and moves `id` from `from` to `to`.
    pub async fn image_set_staging(
        &self,
        id: &str,
        from: &str,
        to: &str,
        staged: &Option<Staged>,
        now: i64,
    ) -> Result<bool> {
        let n = self
            .db
            .query(
                "UPDATE image_image SET status = ?, staging = ?, updated_at = ? WHERE id = ? AND status = ?",
            )
            .bind(to.to_string())
            .bind(Self::staging_text(staged)?)
            .bind(now)
            .bind(id.to_string())
            .bind(from.to_string())
            .execute(self.db.pool())
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// Deletes an image with its tags, properties and members. Returns the deleted image.
    pub async fn image_delete(&self, id: &str) -> Result<Option<Image>> {
        let Some(im) = self.image_get(id).await? else {
            return Ok(None);
        };
        let mut tx = self.db.begin_write().await?;
        let n = self
            .db
            .query("DELETE FROM image_image WHERE id = ?")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        for table in ["image_tag", "image_property", "image_member"] {
            self.db
                .query(format!("DELETE FROM {table} WHERE image_id = ?"))
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok((n == 1).then_some(im))
    }

    /// Adds a tag (no error when present). Returns false when the image is gone.
    pub async fn tag_add(&self, id: &str, tag: &str, now: i64) -> Result<bool> {
        let mut tx = self.db.begin_write().await?;
        let n = self
            .db
            .query("UPDATE image_image SET updated_at = ? WHERE id = ?")
            .bind(now)
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Ok(false);
        }
        let exists: i64 = self
            .db
            .query_scalar("SELECT COUNT(*) FROM image_tag WHERE image_id = ? AND value = ?")
            .bind(id.to_string())
            .bind(tag.to_string())
            .fetch_one(&mut *tx)
            .await?;
        if exists == 0 {
            self.db
                .query("INSERT INTO image_tag (image_id, value, created_at) VALUES (?, ?, ?)")
                .bind(id.to_string())
                .bind(tag.to_string())
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Removes a tag. Returns whether it was there.
    pub async fn tag_remove(&self, id: &str, tag: &str, now: i64) -> Result<bool> {
        let mut tx = self.db.begin_write().await?;
        let n = self
            .db
            .query("DELETE FROM image_tag WHERE image_id = ? AND value = ?")
            .bind(id.to_string())
            .bind(tag.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n > 0 {
            self.db
                .query("UPDATE image_image SET updated_at = ? WHERE id = ?")
                .bind(now)
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(n > 0)
    }

    /// What `owner` holds.
    pub async fn usage(&self, owner: &str) -> Result<Usage> {
        let rows = self
            .db
            .query("SELECT status, size, staging FROM image_image WHERE owner = ?")
            .bind(owner.to_string())
            .fetch_all(self.db.pool())
            .await?;
        let mut u = Usage::default();
        for r in rows {
            u.image_count += 1;
            let status: String = r.try_get("status")?;
            let size: Option<i64> = r.try_get("size")?;
            u.size_total += size.unwrap_or(0);
            if let Some(s) = r.try_get::<Option<String>, _>("staging")? {
                let staged: Staged = serde_json::from_str(&s)
                    .map_err(|e| StoreError::Corrupt(format!("staging: {e}")))?;
                u.stage_total += staged.size;
            }
            if matches!(status.as_str(), "saving" | "uploading" | "importing") {
                u.uploading += 1;
            }
        }
        Ok(u)
    }
}
