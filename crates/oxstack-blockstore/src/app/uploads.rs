//! Volumes uploaded to images (`os-volume_upload_image`), as Cinder does it: the volume goes
//! `available` (or `in-use` with an honoured `force`) → `uploading`; an image record is made in
//! the image service with the caller's token (`queued`); a task streams the volume's data into
//! it (converted by the driver when the image's disk format is not the volume file's) and the
//! volume goes back to `available` or `in-use` by its attachment, whether the upload worked or
//! not. A failed upload deletes the image if it is still `queued` or `saving`.

use std::path::Path;
use std::sync::Arc;

use oxstack_common::http::error_chain;
use oxstack_common::{Error, Result};
use serde_json::{Value, json};

use super::volumes::GLANCE_OWN;
use super::{App, Caller, now};
use crate::driver::VolumeSpec;
use crate::model::{Volume, VolumeType};

/// What `os-volume_upload_image` asks for (validated by the API layer's parser).
#[derive(Debug, Clone)]
pub struct VolumeUpload {
    pub image_name: String,
    pub force: bool,
    /// `raw`, `vmdk`, `vdi`, `qcow2`, `vhd`, `vhdx` or `ploop`.
    pub disk_format: String,
    pub container_format: String,
    /// From 3.1 (`private` unless asked); below it the image service's default applies.
    pub visibility: Option<String>,
    /// From 3.1 (`false` unless asked).
    pub protected: Option<bool>,
}

/// The answer to an upload: the volume (now `uploading`), its type and the image record.
#[derive(Debug, Clone)]
pub struct VolumeUploadView {
    pub volume: Volume,
    pub volume_type: Option<VolumeType>,
    pub image: Value,
}

/// Besides what Glance owns ([`GLANCE_OWN`]), the properties Cinder never copies from a
/// volume's image metadata to a new image (its `glance_core_properties` defaults).
const NOT_COPIED: &[&str] = &[
    "checksum",
    "container_format",
    "disk_format",
    "image_name",
    "image_id",
    "min_disk",
    "min_ram",
    "size",
];
const RESERVED_PREFIXES: &[&str] = &["os_glance", "img_signature", "signature_verified"];

/// The image record to create: the request's fields and the volume's image metadata.
fn image_record(v: &Volume, req: &VolumeUpload) -> Value {
    let mut r = json!({
        "name": req.image_name,
        "disk_format": req.disk_format,
        "container_format": req.container_format,
    });
    if let Some(vis) = &req.visibility {
        r["visibility"] = json!(vis);
    }
    if let Some(p) = req.protected {
        r["protected"] = json!(p);
    }
    for (k, val) in &v.image_metadata {
        if NOT_COPIED.contains(&k.as_str())
            || GLANCE_OWN.contains(&k.as_str())
            || RESERVED_PREFIXES.iter().any(|p| k.starts_with(p))
            || r.get(k).is_some()
        {
            continue;
        }
        r[k] = json!(val);
    }
    r
}

impl App {
    /// `os-volume_upload_image`: creates the image and starts copying the volume into it;
    /// answers while the volume is `uploading`.
    pub async fn volume_upload_image(
        self: &Arc<Self>,
        c: &Caller<'_>,
        id: &str,
        req: VolumeUpload,
    ) -> Result<VolumeUploadView> {
        let mut v = self.volume_visible(c, id).await?;
        // Cinder authorizes both against the caller's own project.
        self.authorize_own(c, "volume_extension:volume_actions:upload_image")?;
        if req.visibility.as_deref() == Some("public") {
            self.authorize_own(c, "volume_extension:volume_actions:upload_public")?;
        }
        let force = req.force && self.config.enable_force_upload;
        if req.force && !force {
            tracing::info!(volume = %v.id, "force upload to image is disabled; force ignored");
        }
        let from: &[&str] = if force {
            &["available", "in-use"]
        } else {
            &["available"]
        };
        let t = now();
        if !self
            .store
            .volume_cas_status(&v.id, from, "uploading", t)
            .await?
        {
            return Err(Error::bad_request(format!(
                "Invalid volume: Volume {} status must be {}",
                v.id,
                from.join(" or ")
            )));
        }
        let previous = std::mem::replace(&mut v.status, "uploading".into());
        v.updated_at = Some(t);
        let token = c.ctx.token.clone().unwrap_or_default();
        let image = match self
            .image
            .image_create(&token, &image_record(&v, &req))
            .await
        {
            Ok(i) if i["id"].is_string() => i,
            r => {
                let msg = match r {
                    Err(crate::image::ImageError::Status(code, msg)) if code < 500 => msg,
                    Err(e) => {
                        tracing::error!(volume = %v.id, error = %error_chain(&e), "image create failed");
                        "The image service could not create the image.".into()
                    }
                    Ok(i) => {
                        tracing::error!(volume = %v.id, answer = %i, "image create answered no id");
                        "The image service could not create the image.".into()
                    }
                };
                self.store
                    .volume_cas_status(&v.id, &["uploading"], &previous, now())
                    .await?;
                return Err(Error::bad_request(msg));
            }
        };
        let app = self.clone();
        let (vol, image_id, fmt) = (
            v.clone(),
            image["id"].as_str().unwrap_or_default().to_string(),
            req.disk_format.clone(),
        );
        tokio::spawn(async move {
            app.upload_task(&vol, &image_id, &fmt, &token).await;
        });
        let volume_type = self.store.type_get(&v.volume_type_id).await?;
        Ok(VolumeUploadView {
            volume: v,
            volume_type,
            image,
        })
    }

    /// Copies the volume into the image, undoes the image on failure and settles the volume.
    async fn upload_task(&self, v: &Volume, image_id: &str, disk_format: &str, token: &str) {
        let scratch = self.scratch_dir.join(format!("upload-{image_id}"));
        let r = self
            .upload_data(v, image_id, disk_format, token, &scratch)
            .await;
        let _ = tokio::fs::remove_file(&scratch).await;
        match r {
            Ok(()) => tracing::info!(volume = %v.id, image = %image_id, "volume uploaded to image"),
            Err(e) => {
                tracing::error!(volume = %v.id, image = %image_id, error = %e, "upload to image failed");
                // Cinder's `_delete_image`: only an image the upload left unfinished.
                match self.image.image_get(token, image_id).await {
                    Ok(Some(img))
                        if matches!(img["status"].as_str(), Some("queued" | "saving")) =>
                    {
                        if let Err(e) = self.image.image_delete(token, image_id).await {
                            tracing::warn!(image = %image_id, error = %error_chain(&e), "cannot delete the failed image");
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(image = %image_id, error = %error_chain(&e), "cannot read the failed image");
                    }
                }
            }
        }
        if let Err(e) = self.volume_settle_upload(&v.id).await {
            tracing::error!(volume = %v.id, error = %error_chain(&e), "cannot record the end of an upload");
        }
    }

    async fn upload_data(
        &self,
        v: &Volume,
        image_id: &str,
        disk_format: &str,
        token: &str,
        scratch: &Path,
    ) -> std::result::Result<(), String> {
        tokio::fs::create_dir_all(&self.scratch_dir)
            .await
            .map_err(|e| error_chain(&e))?;
        let spec = VolumeSpec {
            id: v.id.clone(),
            size_gb: v.size,
            format: v.format.clone(),
        };
        let src = self
            .driver
            .export_volume(&spec, disk_format, scratch)
            .await
            .map_err(|e| error_chain(&e))?;
        self.image
            .image_upload(token, image_id, &src)
            .await
            .map_err(|e| error_chain(&e))
    }

    /// Moves an `uploading` volume back to `in-use` when it is attached, else `available`
    /// (Cinder's `volume_update_status_based_on_attachment`).
    pub(crate) async fn volume_settle_upload(&self, id: &str) -> Result<()> {
        let Some(v) = self.store.volume_get(id).await? else {
            return Ok(());
        };
        let to = if v.attach_status == "attached" {
            "in-use"
        } else {
            "available"
        };
        self.store
            .volume_cas_status(id, &["uploading"], to, now())
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Meta;

    #[test]
    fn image_record_copies_custom_image_properties_only() {
        let meta: Meta = [
            ("hw_disk_bus", "virtio"),
            ("image_id", "x"),
            ("min_ram", "5"),
            ("checksum", "abc"),
            ("os_glance_importing_to_stores", "a"),
            ("name", "old"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let v = Volume {
            id: "v".into(),
            project_id: "p".into(),
            user_id: "u".into(),
            name: None,
            description: None,
            size: 1,
            status: "available".into(),
            attach_status: "detached".into(),
            migration_status: None,
            volume_type_id: "t".into(),
            availability_zone: "nova".into(),
            host: None,
            bootable: false,
            multiattach: false,
            snapshot_id: None,
            source_volid: None,
            format: "raw".into(),
            metadata: Meta::new(),
            image_metadata: meta,
            admin_metadata: Meta::new(),
            created_at: 0,
            updated_at: None,
        };
        let r = image_record(
            &v,
            &VolumeUpload {
                image_name: "new".into(),
                force: false,
                disk_format: "qcow2".into(),
                container_format: "bare".into(),
                visibility: Some("private".into()),
                protected: None,
            },
        );
        assert_eq!(
            r,
            json!({"name": "new", "disk_format": "qcow2", "container_format": "bare",
                   "visibility": "private", "hw_disk_bus": "virtio"})
        );
    }
}
