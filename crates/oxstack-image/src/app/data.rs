//! Image data: upload (`PUT .../file`), download with ranges, and interoperable import
//! (`PUT .../stage` then `POST .../import` with `glance-direct`), with the size cap and the
//! per-project quotas.
//!
//! The status moves first (queued → saving, or queued → uploading) with a conditional
//! update, so two uploads to one image cannot both proceed; a failed write moves it back to
//! `queued`, and the data store guarantees no partial data is left.

use oxstack_common::context::RequestContext;
use oxstack_common::error::ErrorKind;
use oxstack_common::{Error, Result};
use serde_json::{Value, json};

use super::{App, IMPORT_METHODS, image_not_found, limit_of, now};
use crate::data::{ByteStream, DataError, Written, format};
use crate::model::{Image, Stored, status};

/// A byte range of a download, inclusive, as the `Range` header states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    /// `bytes=a-b` or `bytes=a-`.
    From { start: u64, end: Option<u64> },
    /// `bytes=-n`: the last `n` bytes.
    Suffix(u64),
}

impl Range {
    /// Parses a `Range` header value; `None` for forms we do not serve (several ranges,
    /// other units), which are answered with the whole image as HTTP allows.
    pub fn parse(v: &str) -> Option<Range> {
        let spec = v.trim().strip_prefix("bytes=")?;
        if spec.contains(',') {
            return None;
        }
        let (a, b) = spec.split_once('-')?;
        let (a, b) = (a.trim(), b.trim());
        if a.is_empty() {
            return b.parse().ok().map(Range::Suffix);
        }
        let start = a.parse().ok()?;
        let end = if b.is_empty() {
            None
        } else {
            Some(b.parse().ok()?)
        };
        Some(Range::From { start, end })
    }

    /// `(offset, length)` within an image of `size` bytes, or `None` when unsatisfiable.
    fn resolve(self, size: u64) -> Option<(u64, u64)> {
        match self {
            Range::From { start, end } => {
                let end = end.unwrap_or(u64::MAX).min(size.checked_sub(1)?);
                (start <= end).then(|| (start, end - start + 1))
            }
            Range::Suffix(0) => None,
            Range::Suffix(n) => {
                let n = n.min(size);
                (n > 0).then(|| (size - n, n))
            }
        }
    }
}

/// What a download sends.
pub enum Download {
    /// The image has no data (Glance answers 204).
    NoData,
    /// The whole image.
    Full {
        body: ByteStream,
        size: u64,
        checksum: Option<String>,
    },
    /// Part of it (206).
    Partial {
        body: ByteStream,
        offset: u64,
        len: u64,
        size: u64,
    },
    /// The range cannot be served (416).
    Unsatisfiable { size: u64 },
}

impl std::fmt::Debug for Download {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Download::NoData => f.write_str("NoData"),
            Download::Full { size, .. } => write!(f, "Full({size})"),
            Download::Partial {
                offset, len, size, ..
            } => write!(f, "Partial({offset}+{len}/{size})"),
            Download::Unsatisfiable { size } => write!(f, "Unsatisfiable({size})"),
        }
    }
}

fn too_large(msg: String) -> Error {
    Error::new(ErrorKind::PayloadTooLarge, msg)
}

fn data_error(e: DataError, over_quota: bool) -> Error {
    match e {
        DataError::TooLarge { limit } if over_quota => too_large(format!(
            "Image exceeds the storage quota: {limit} bytes remain."
        )),
        DataError::TooLarge { limit } => too_large(format!(
            "The incoming image is too large: the limit is {limit} bytes."
        )),
        DataError::Full(e) => {
            tracing::error!(error = %e, "image store is full");
            too_large("Image storage media is full.".into())
        }
        DataError::Input(e) => Error::bad_request(format!("Error reading the image data: {e}")),
        other => Error::internal("image data", other),
    }
}

impl App {
    fn stored(&self, im: &Image, location: String, w: &Written) -> Stored {
        Stored {
            location,
            size: i64::try_from(w.size).unwrap_or(i64::MAX),
            checksum: w.md5.clone(),
            hash_value: w.sha512.clone(),
            virtual_size: format::virtual_size(im.disk_format.as_deref(), &w.head, w.size),
        }
    }

    fn require_formats(im: &Image) -> Result<()> {
        if im.disk_format.is_none() || im.container_format.is_none() {
            return Err(Error::bad_request(
                "Properties disk_format, container_format must be set prior to saving data.",
            ));
        }
        Ok(())
    }

    /// Checks that `im`'s owner may start writing data (an upload, or a stage when
    /// `staging`): fewer than `quota_image_count_uploading` of its images in flight (413
    /// otherwise; an import goes on with an image already counted since its stage, so it is
    /// not checked), and a declared length within what it may still write. Returns the most
    /// bytes it may write and whether the project quota (rather than the size cap) is what
    /// limits it. The project's usage is read once, and only when a quota is set.
    async fn allowance_checked(
        &self,
        im: &Image,
        staging: bool,
        content_length: Option<u64>,
    ) -> Result<(u64, bool)> {
        let cap = self.config.max_image_size;
        let quota = limit_of(if staging {
            self.config.quota_image_stage_total
        } else {
            self.config.quota_image_size_total
        });
        let max_in_flight = limit_of(self.config.quota_image_count_uploading);
        let usage = match im.owner.as_deref() {
            Some(owner) if quota.is_some() || max_in_flight.is_some() => {
                Some(self.store.usage(owner).await?)
            }
            _ => None,
        };
        if let (Some(max), Some(u)) = (max_in_flight, &usage)
            && u64::try_from(u.uploading).unwrap_or(0) >= max
        {
            return Err(too_large(format!(
                "The project may have at most {max} images uploading at once: {} are.",
                u.uploading
            )));
        }
        let (max, over_quota) = match (quota, &usage) {
            (Some(quota), Some(u)) => {
                let used = if staging { u.stage_total } else { u.size_total };
                let left = quota.saturating_sub(u64::try_from(used).unwrap_or(0));
                if left < cap {
                    (left, true)
                } else {
                    (cap, false)
                }
            }
            _ => (cap, false),
        };
        if let Some(len) = content_length
            && len > max
        {
            return Err(data_error(DataError::TooLarge { limit: max }, over_quota));
        }
        Ok((max, over_quota))
    }

    /// `PUT /v2/images/{id}/file`.
    pub async fn image_upload(
        &self,
        ctx: &RequestContext,
        id: &str,
        body: ByteStream,
        content_length: Option<u64>,
    ) -> Result<()> {
        let im = self.image_for(ctx, id, "upload_image").await?;
        Self::require_formats(&im)?;
        if im.status != status::QUEUED {
            return Err(Error::conflict(format!(
                "Image status transition from {} to saving is not allowed",
                im.status
            )));
        }
        let (max, over_quota) = self.allowance_checked(&im, false, content_length).await?;
        if !self
            .store
            .image_set_status(id, &[status::QUEUED], status::SAVING, now())
            .await?
        {
            return Err(Error::conflict(
                "Image status transition from saving to saving is not allowed",
            ));
        }
        let written = match self.data.put(id, body, max).await {
            Ok(w) => w,
            Err(e) => {
                self.restore_queued(id, status::SAVING).await;
                return Err(data_error(e, over_quota));
            }
        };
        if let Some(len) = content_length
            && len != written.size
        {
            self.discard(id).await;
            self.restore_queued(id, status::SAVING).await;
            return Err(Error::bad_request(format!(
                "Size of the uploaded data ({}) does not match Content-Length ({len}).",
                written.size
            )));
        }
        let stored = self.stored(&im, id.to_string(), &written);
        if self
            .store
            .image_set_data(id, status::SAVING, status::ACTIVE, &stored, now())
            .await?
        {
            return Ok(());
        }
        // Deleted (or otherwise changed) while the data was arriving.
        self.discard(id).await;
        Err(Error::new(
            ErrorKind::Gone,
            format!(
                "Image {id} could not be found after upload. The image may have been deleted during the upload."
            ),
        ))
    }

    async fn restore_queued(&self, id: &str, from: &str) {
        if let Err(e) = self
            .store
            .image_set_status(id, &[from], status::QUEUED, now())
            .await
        {
            tracing::error!(image = id, error = %oxstack_common::http::error_chain(&e), "unable to restore image to queued");
        }
    }

    async fn discard(&self, key: &str) {
        if let Err(e) = self.data.delete(key).await {
            tracing::warn!(key, error = %oxstack_common::http::error_chain(&e), "could not delete image data");
        }
    }

    /// `GET /v2/images/{id}/file`.
    pub async fn image_download(
        &self,
        ctx: &RequestContext,
        id: &str,
        range: Option<Range>,
    ) -> Result<Download> {
        let auth = self.caller(ctx)?;
        let im = self.image_for(ctx, id, "download_image").await?;
        if im.status == status::DEACTIVATED && !self.is_admin(auth) {
            return Err(Error::forbidden(
                "The requested image has been deactivated. Image data download is prohibited.",
            ));
        }
        let Some(location) = &im.location else {
            return Ok(Download::NoData);
        };
        let size = match self.data.size(location).await {
            Ok(s) => s,
            Err(DataError::NotFound(_)) => {
                return Err(Error::not_found(format!(
                    "Image data for image {id} was not found in the store."
                )));
            }
            Err(e) => return Err(Error::internal("image data", e)),
        };
        let get = |offset, len| async move {
            self.data
                .get(location, offset, len)
                .await
                .map_err(|e| Error::internal("image data", e))
        };
        match range {
            None => Ok(Download::Full {
                body: get(0, None).await?,
                size,
                checksum: im.checksum.clone(),
            }),
            Some(r) => match r.resolve(size) {
                Some((offset, len)) => Ok(Download::Partial {
                    body: get(offset, Some(len)).await?,
                    offset,
                    len,
                    size,
                }),
                None => Ok(Download::Unsatisfiable { size }),
            },
        }
    }

    /// `PUT /v2/images/{id}/stage`: keeps the data aside for a later `glance-direct` import.
    pub async fn image_stage(
        &self,
        ctx: &RequestContext,
        id: &str,
        body: ByteStream,
        content_length: Option<u64>,
    ) -> Result<()> {
        let im = self.image_for(ctx, id, "modify_image").await?;
        if im.status != status::QUEUED {
            return Err(Error::conflict(format!(
                "Image status transition from {} to uploading is not allowed",
                im.status
            )));
        }
        let (max, over_quota) = self.allowance_checked(&im, true, content_length).await?;
        if !self
            .store
            .image_set_status(id, &[status::QUEUED], status::UPLOADING, now())
            .await?
        {
            return Err(Error::conflict(format!(
                "The image {id} has data on staging"
            )));
        }
        let key = format!("staging/{id}");
        let written = match self.data.put(&key, body, max).await {
            Ok(w) => w,
            Err(e) => {
                self.restore_queued(id, status::UPLOADING).await;
                return Err(data_error(e, over_quota));
            }
        };
        let staged = Some(self.stored(&im, key.clone(), &written));
        if self
            .store
            .image_set_staging(id, status::UPLOADING, status::UPLOADING, &staged, now())
            .await?
        {
            return Ok(());
        }
        self.discard(&key).await;
        Err(Error::new(
            ErrorKind::Gone,
            format!("Image {id} could not be found after staging."),
        ))
    }

    /// `POST /v2/images/{id}/import`. Only `glance-direct` is enabled; the staged data is
    /// moved into place (a rename: no copy) before the 202 is returned, so the image is
    /// already `active` when the client first polls.
    pub async fn image_import(&self, ctx: &RequestContext, id: &str, body: &Value) -> Result<()> {
        let method = body
            .get("method")
            .ok_or_else(|| Error::bad_request("Import request requires a 'method' field."))?;
        let name = method
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::bad_request("Import request requires a 'name' field."))?;
        if !IMPORT_METHODS.contains(&name) {
            return Err(Error::bad_request(format!(
                "Unknown import method name '{name}'."
            )));
        }
        for key in ["all_stores_must_succeed", "all_stores"] {
            if body.get(key).is_some_and(|v| !v.is_boolean()) {
                return Err(Error::bad_request(format!(
                    "'{key}' must be boolean value only"
                )));
            }
        }
        let im = self.image_for(ctx, id, "modify_image").await?;
        Self::require_formats(&im).map_err(|e| Error::conflict(e.message))?;
        let staged = match (&im.status[..], &im.staging) {
            (status::UPLOADING, Some(s)) => s.clone(),
            _ => {
                return Err(Error::conflict(
                    "Image needs to be staged before 'glance-direct' method can be used",
                ));
            }
        };
        if !self
            .store
            .image_set_status(id, &[status::UPLOADING], status::IMPORTING, now())
            .await?
        {
            return Err(Error::conflict(format!(
                "Image {id} is already being imported."
            )));
        }
        // The task is recorded once the import is under way (Glance makes it after the
        // same checks); its outcome is the import's.
        let task = match self.task_begin(ctx, id, body).await {
            Ok(t) => t,
            Err(e) => {
                let _ = self
                    .store
                    .image_set_status(id, &[status::IMPORTING], status::UPLOADING, now())
                    .await;
                return Err(e);
            }
        };
        let outcome = self.import_staged(id, staged).await;
        self.task_end(task, &outcome).await;
        outcome
    }

    /// Moves staged data of image `id` (in `importing`) into place and activates it.
    async fn import_staged(&self, id: &str, staged: Stored) -> Result<()> {
        if let Err(e) = self.data.rename(&staged.location, id).await {
            self.discard(&staged.location).await;
            let _ = self
                .store
                .image_set_staging(id, status::IMPORTING, status::QUEUED, &None, now())
                .await;
            return Err(Error::internal("image import", e));
        }
        let stored = Stored {
            location: id.to_string(),
            ..staged
        };
        if !self
            .store
            .image_set_data(id, status::IMPORTING, status::ACTIVE, &stored, now())
            .await?
        {
            self.discard(id).await;
            return Err(image_not_found(id));
        }
        Ok(())
    }

    /// `GET /v2/info/usage`: the caller's project against its quotas (sizes in MiB, as
    /// Glance reports them).
    pub async fn usage(&self, ctx: &RequestContext) -> Result<Value> {
        let auth = self.caller(ctx)?;
        let project = auth
            .project_id
            .as_deref()
            .ok_or_else(|| Error::forbidden("Usage is reported for project-scoped tokens."))?;
        let u = self.store.usage(project).await?;
        let mib = |bytes: i64| (bytes + (1 << 20) - 1) >> 20;
        let mib_limit = |v: i64| if v < 0 { -1 } else { v >> 20 };
        Ok(json!({"usage": {
            "image_size_total": {"limit": mib_limit(self.config.quota_image_size_total), "usage": mib(u.size_total)},
            "image_stage_total": {"limit": mib_limit(self.config.quota_image_stage_total), "usage": mib(u.stage_total)},
            "image_count_total": {"limit": self.config.quota_image_count_total, "usage": u.image_count},
            "image_count_uploading": {"limit": self.config.quota_image_count_uploading, "usage": u.uploading},
        }}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let r = |s| Range::parse(s);
        assert_eq!(r("bytes=0-9").and_then(|r| r.resolve(100)), Some((0, 10)));
        assert_eq!(r("bytes=90-").and_then(|r| r.resolve(100)), Some((90, 10)));
        assert_eq!(
            r("bytes=90-200").and_then(|r| r.resolve(100)),
            Some((90, 10))
        );
        assert_eq!(r("bytes=-10").and_then(|r| r.resolve(100)), Some((90, 10)));
        assert_eq!(
            r("bytes=-1000").and_then(|r| r.resolve(100)),
            Some((0, 100))
        );
        assert_eq!(r("bytes=100-").and_then(|r| r.resolve(100)), None);
        assert_eq!(r("bytes=5-2").and_then(|r| r.resolve(100)), None);
        assert_eq!(r("bytes=0-").and_then(|r| r.resolve(0)), None);
        assert_eq!(r("bytes=0-1,5-6"), None);
        assert_eq!(r("items=0-1"), None);
    }
}
