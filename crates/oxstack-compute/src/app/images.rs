//! Nova's image proxy (`/images`, deprecated and removed at 2.36): the image service's images
//! as the token's user sees them, in Nova's shape, and their properties as `metadata`.
//! Nova has no policy rules of its own here: the image service authorizes every call made
//! with the user's token.

use std::collections::BTreeMap;

use oxstack_common::context::RequestContext;
use oxstack_common::{Error, Result};
use serde_json::{Value, json};

use super::App;
use super::servers::metadata_of;
use crate::app::invalid;
use crate::clients::ClientError;

/// Glance attributes that are not properties (Nova's image `metadata` is the rest).
const NOT_PROPERTIES: &[&str] = &[
    "id",
    "name",
    "status",
    "visibility",
    "protected",
    "checksum",
    "owner",
    "size",
    "virtual_size",
    "container_format",
    "disk_format",
    "created_at",
    "updated_at",
    "deleted",
    "deleted_at",
    "tags",
    "file",
    "schema",
    "self",
    "min_ram",
    "min_disk",
    "direct_url",
    "locations",
    "os_hash_algo",
    "os_hash_value",
    "os_hidden",
    "stores",
];

/// A Glance image record, as Nova sees it.
#[derive(Debug, Clone)]
pub struct ProxyImage {
    pub record: Value,
    pub metadata: BTreeMap<String, String>,
}

impl ProxyImage {
    fn new(record: Value) -> Self {
        let metadata = properties(&record);
        Self { record, metadata }
    }
}

/// Properties a snapshot does not take from its server's image: Nova's
/// `NON_INHERITABLE_IMAGE_PROPERTIES`, the ones a snapshot sets for itself, and prefixes of
/// properties that describe the original upload or belong to the image service.
const NOT_INHERITED: &[&str] = &[
    "cache_in_nova",
    "bittorrent",
    "img_signature",
    "img_signature_hash_method",
    "img_signature_certificate_uuid",
    "img_signature_key_type",
    "cinder_encryption_key_id",
    "cinder_encryption_key_deletion_policy",
    "instance_uuid",
    "image_type",
    "base_image_ref",
    "user_id",
    "backup_type",
    "image_location",
    "image_state",
    "owner_id",
];
const NOT_INHERITED_PREFIXES: &[&str] = &["os_glance", "owner_specified."];

impl App {
    /// The properties a snapshot of a server booted from `image_ref` inherits from that
    /// image, as Nova's do: what booting the snapshot needs (`kernel_id`, `ramdisk_id`,
    /// `os_command_line`, `hw_*`, ...). None when the image is gone or not visible.
    pub(crate) async fn inherited_properties(
        &self,
        token: &str,
        image_ref: &str,
    ) -> BTreeMap<String, String> {
        if image_ref.is_empty() {
            return BTreeMap::new();
        }
        match self.image.image_record(token, image_ref).await {
            Ok(Some(record)) => {
                let mut props = properties(&record);
                props.retain(|k, _| {
                    !NOT_INHERITED.contains(&k.as_str())
                        && !NOT_INHERITED_PREFIXES.iter().any(|p| k.starts_with(p))
                });
                props
            }
            Ok(None) => BTreeMap::new(),
            Err(e) => {
                tracing::warn!(image = image_ref, error = %e, "image properties not inherited");
                BTreeMap::new()
            }
        }
    }
}

fn properties(record: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Some(m) = record.as_object() {
        for (k, v) in m {
            if NOT_PROPERTIES.contains(&k.as_str()) || v.is_null() {
                continue;
            }
            let v = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            out.insert(k.clone(), v);
        }
    }
    out
}

/// The list filters Nova's proxy accepts, already in the image service's terms.
#[derive(Debug, Clone, Default)]
pub struct ImageListQuery {
    pub filters: Vec<(String, String)>,
    pub limit: Option<usize>,
    pub marker: Option<String>,
    pub min_ram: Option<i64>,
    pub min_disk: Option<i64>,
}

impl ImageListQuery {
    /// Nova's filters: `name`, `status`, `changes-since`, `server` (a server id or link),
    /// `type` (`snapshot`/`backup`), `minRam`, `minDisk`, `property-<key>`; `limit`, `marker`.
    pub fn parse(pairs: &[(String, String)]) -> Result<Self> {
        let mut q = Self::default();
        let int = |k: &str, v: &str| -> Result<i64> {
            v.parse()
                .map_err(|_| Error::bad_request(format!("Invalid {k} filter [{v}]")))
        };
        for (k, v) in pairs {
            match k.as_str() {
                "name" => q.filters.push(("name".into(), v.clone())),
                "status" => q.filters.push(("status".into(), v.to_lowercase())),
                "changes-since" => {
                    let t = chrono::DateTime::parse_from_rfc3339(v)
                        .or_else(|_| {
                            chrono::NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S")
                                .map(|n| n.and_utc().fixed_offset())
                        })
                        .map_err(|_| {
                            Error::bad_request(format!("Invalid changes-since value [{v}]"))
                        })?;
                    let t = t.with_timezone(&chrono::Utc).format("%Y-%m-%dT%H:%M:%SZ");
                    q.filters.push(("updated_at".into(), format!("gte:{t}")));
                }
                "server" => {
                    let id = v.rsplit('/').next().unwrap_or(v);
                    q.filters.push(("instance_uuid".into(), id.to_string()));
                }
                "type" => q.filters.push(("image_type".into(), v.clone())),
                "minRam" => q.min_ram = Some(int(k, v)?),
                "minDisk" => q.min_disk = Some(int(k, v)?),
                "limit" => {
                    let n = int(k, v)?;
                    if n < 0 {
                        return Err(Error::bad_request("limit param must be positive"));
                    }
                    q.limit = Some(usize::try_from(n).unwrap_or(usize::MAX));
                }
                "marker" => q.marker = Some(v.clone()),
                _ => {
                    if let Some(p) = k.strip_prefix("property-") {
                        q.filters.push((p.to_string(), v.clone()));
                    }
                }
            }
        }
        Ok(q)
    }
}

/// The image service's refusals, as Nova passes them on.
pub(super) fn image_error(e: ClientError) -> Error {
    match e {
        ClientError::Status { status: 404, .. } => Error::not_found("Image not found."),
        ClientError::Status { status: 403, .. } => {
            Error::forbidden("You are not allowed to perform this operation on the image.")
        }
        ClientError::Status {
            status: 400, body, ..
        } => Error::bad_request(format!("Invalid image request: {body}")),
        ClientError::Status { status: 409, .. } => {
            Error::conflict("The image is in a state that does not allow this operation.")
        }
        other => other.into(),
    }
}

impl App {
    fn user_token(ctx: &RequestContext) -> Result<&str> {
        ctx.require_auth()?;
        Ok(ctx.token.as_deref().unwrap_or_default())
    }

    pub async fn images_list(
        &self,
        ctx: &RequestContext,
        q: &ImageListQuery,
    ) -> Result<Vec<ProxyImage>> {
        let token = Self::user_token(ctx)?;
        let mut filters = q.filters.clone();
        if let Some(m) = &q.marker {
            filters.push(("marker".into(), m.clone()));
        }
        // minRam / minDisk are applied here, so their pages are filled from every image.
        let local = q.min_ram.is_some() || q.min_disk.is_some();
        let records = self
            .image
            .image_records(token, &filters, if local { None } else { q.limit })
            .await
            .map_err(|e| match e {
                ClientError::Status { status: 400, .. } if q.marker.is_some() => {
                    Error::bad_request(format!(
                        "marker [{}] not found",
                        q.marker.as_deref().unwrap_or_default()
                    ))
                }
                other => image_error(other),
            })?;
        let at_least = |r: &Value, key: &str, min: Option<i64>| {
            min.is_none_or(|m| r[key].as_i64().unwrap_or(0) >= m)
        };
        let mut out: Vec<ProxyImage> = records
            .into_iter()
            .filter(|r| at_least(r, "min_ram", q.min_ram) && at_least(r, "min_disk", q.min_disk))
            .map(ProxyImage::new)
            .collect();
        if let Some(n) = q.limit {
            out.truncate(n);
        }
        Ok(out)
    }

    pub async fn image_show(&self, ctx: &RequestContext, id: &str) -> Result<ProxyImage> {
        let token = Self::user_token(ctx)?;
        let record = self
            .image
            .image_record(token, id)
            .await
            .map_err(image_error)?
            .filter(|r| !matches!(r["status"].as_str(), Some("deleted" | "pending_delete")))
            .ok_or_else(|| Error::not_found("Image not found."))?;
        Ok(ProxyImage::new(record))
    }

    pub async fn image_delete(&self, ctx: &RequestContext, id: &str) -> Result<()> {
        self.image_show(ctx, id).await?;
        let token = Self::user_token(ctx)?;
        self.image
            .image_delete(token, id)
            .await
            .map_err(image_error)
    }

    /// `POST` (merge) or `PUT` (replace) of an image's `metadata`, or `PUT metadata/{key}`:
    /// the whole metadata afterwards.
    pub async fn image_metadata_set(
        &self,
        ctx: &RequestContext,
        id: &str,
        body: &Value,
        mode: super::MetadataWrite<'_>,
    ) -> Result<BTreeMap<String, String>> {
        use super::MetadataWrite;
        let image = self.image_show(ctx, id).await?;
        let items = match mode {
            MetadataWrite::Item(key) => {
                let meta = body
                    .get("meta")
                    .ok_or_else(|| invalid("meta", "'meta' is a required property"))?;
                let m = metadata_of(Some(meta), "meta")?;
                if !m.contains_key(key) {
                    return Err(Error::bad_request("Request body and URI mismatch"));
                }
                if m.len() > 1 {
                    return Err(Error::bad_request("Request body contains too many items"));
                }
                m
            }
            _ => metadata_of(
                Some(
                    body.get("metadata")
                        .ok_or_else(|| invalid("metadata", "'metadata' is a required property"))?,
                ),
                "metadata",
            )?,
        };
        let mut next = if matches!(mode, MetadataWrite::Replace) {
            BTreeMap::new()
        } else {
            image.metadata.clone()
        };
        next.extend(items);
        self.check_image_metadata_quota(ctx, next.len()).await?;
        self.image_metadata_write(ctx, id, &image.metadata, &next)
            .await
    }

    pub async fn image_metadata_delete(
        &self,
        ctx: &RequestContext,
        id: &str,
        key: &str,
    ) -> Result<()> {
        let image = self.image_show(ctx, id).await?;
        if !image.metadata.contains_key(key) {
            return Err(Error::not_found("Invalid metadata key"));
        }
        let mut next = image.metadata.clone();
        next.remove(key);
        self.image_metadata_write(ctx, id, &image.metadata, &next)
            .await
            .map(|_| ())
    }

    /// Nova's image metadata limit: the project's `metadata_items` quota (403 above it).
    pub(super) async fn check_image_metadata_quota(
        &self,
        ctx: &RequestContext,
        count: usize,
    ) -> Result<()> {
        let c = self.caller(ctx)?;
        let limit = self.quota_limit(c.project_id(), "metadata_items").await?;
        if limit >= 0 && count as i64 > limit {
            return Err(Error::forbidden("Image metadata limit exceeded"));
        }
        Ok(())
    }

    /// Turns `old` into `new` with one JSON-patch of the image's properties.
    async fn image_metadata_write(
        &self,
        ctx: &RequestContext,
        id: &str,
        old: &BTreeMap<String, String>,
        new: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>> {
        let mut ops = Vec::new();
        for k in old.keys().filter(|k| !new.contains_key(*k)) {
            ops.push(json!({"op": "remove", "path": format!("/{}", pointer_escape(k))}));
        }
        for (k, v) in new {
            let op = match old.get(k) {
                Some(o) if o == v => continue,
                Some(_) => "replace",
                None => "add",
            };
            ops.push(json!({"op": op, "path": format!("/{}", pointer_escape(k)), "value": v}));
        }
        if ops.is_empty() {
            return Ok(new.clone());
        }
        let token = Self::user_token(ctx)?;
        let record = self
            .image
            .image_patch(token, id, &ops)
            .await
            .map_err(image_error)?;
        Ok(properties(&record))
    }
}

/// A JSON pointer token (RFC 6901): `~` → `~0`, `/` → `~1`.
fn pointer_escape(k: &str) -> String {
    k.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_leave_out_glance_attributes() {
        let r = json!({"id": "x", "name": "n", "status": "active", "min_ram": 0,
                       "instance_uuid": "u", "image_type": "snapshot", "hw": 1, "gone": null});
        let p = properties(&r);
        assert_eq!(
            p.into_iter().collect::<Vec<_>>(),
            vec![
                ("hw".to_string(), "1".to_string()),
                ("image_type".into(), "snapshot".into()),
                ("instance_uuid".into(), "u".into()),
            ]
        );
    }

    #[test]
    fn list_filters_in_the_image_service_terms() {
        let pairs = |v: &[(&str, &str)]| {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect::<Vec<_>>()
        };
        let q = ImageListQuery::parse(&pairs(&[
            ("server", "http://h/v2.1/servers/abc"),
            ("status", "ACTIVE"),
            ("type", "snapshot"),
            ("changes-since", "2024-01-02T03:04:05Z"),
            ("limit", "2"),
        ]))
        .expect("valid");
        assert_eq!(
            q.filters,
            pairs(&[
                ("instance_uuid", "abc"),
                ("status", "active"),
                ("image_type", "snapshot"),
                ("updated_at", "gte:2024-01-02T03:04:05Z"),
            ])
        );
        assert_eq!(q.limit, Some(2));
        for bad in [
            ("limit", "x"),
            ("limit", "-1"),
            ("changes-since", "yesterday"),
        ] {
            assert!(ImageListQuery::parse(&pairs(&[bad])).is_err(), "{bad:?}");
        }
        assert_eq!(pointer_escape("a/b~c"), "a~1b~0c");
    }
}
