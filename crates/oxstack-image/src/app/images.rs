//! Images: creation with the image schema's rules, JSON-patch updates, deletion, the
//! deactivate/reactivate actions and tags.

use std::collections::BTreeMap;

use oxstack_common::context::RequestContext;
use oxstack_common::error::ErrorKind;
use oxstack_common::{Error, Result};
use serde_json::{Map, Value, json};

use super::{App, image_not_found, isotime, limit_of, now};
use crate::model::{CONTAINER_FORMATS, DISK_FORMATS, Image, VISIBILITIES, status};
use crate::store::StoreError;

/// Attributes no client may set: Glance answers 403 "is read-only".
const READ_ONLY: &[&str] = &[
    "created_at",
    "updated_at",
    "status",
    "checksum",
    "size",
    "virtual_size",
    "direct_url",
    "self",
    "file",
    "schema",
    "id",
    "os_hash_algo",
    "os_hash_value",
    "stores",
    "locations",
];
/// Reserved names: 403 "is reserved".
const RESERVED: &[&str] = &["location", "deleted", "deleted_at"];
/// The namespace of properties Glance sets itself.
const RESERVED_NAMESPACE: &str = "os_glance";

/// One JSON-patch operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add,
    Remove,
    Replace,
}

/// A parsed JSON-patch change: the decoded pointer and the value (absent for `remove`).
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub op: Op,
    pub path: Vec<String>,
    pub value: Option<Value>,
}

fn schema_error(detail: String) -> Error {
    Error::bad_request(format!(
        "Provided object does not match schema 'image': {detail}"
    ))
}

fn uuid_shaped(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.bytes().all(|c| c.is_ascii_hexdigit()))
}

fn check_name_ok(key: &str) -> Result<()> {
    if READ_ONLY.contains(&key) {
        return Err(Error::forbidden(format!("Attribute '{key}' is read-only.")));
    }
    if RESERVED.contains(&key) || key.starts_with(RESERVED_NAMESPACE) {
        return Err(Error::forbidden(format!("Attribute '{key}' is reserved.")));
    }
    if key.len() > 255 {
        return Err(Error::bad_request(
            "Custom property should not be greater than 255 characters.",
        ));
    }
    Ok(())
}

fn opt_string(key: &str, v: &Value, max: usize) -> Result<Option<String>> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.chars().count() <= max => Ok(Some(s.clone())),
        Value::String(s) => Err(schema_error(format!("'{s}' is too long"))),
        other => Err(schema_error(format!(
            "{other} is not of type 'null', 'string' (attribute {key})"
        ))),
    }
}

fn enum_of(key: &str, v: &Value, allowed: &[&str], nullable: bool) -> Result<Option<String>> {
    match v {
        Value::Null if nullable => Ok(None),
        Value::String(s) if allowed.contains(&s.as_str()) => Ok(Some(s.clone())),
        other => Err(schema_error(format!(
            "{other} is not one of {allowed:?} (attribute {key})"
        ))),
    }
}

fn boolean(key: &str, v: &Value) -> Result<bool> {
    v.as_bool()
        .ok_or_else(|| schema_error(format!("{v} is not of type 'boolean' (attribute {key})")))
}

fn non_negative(key: &str, v: &Value) -> Result<i64> {
    match v.as_i64() {
        Some(n) if n >= 0 => Ok(n),
        Some(_) => Err(Error::bad_request(format!(
            "Invalid value for {key}: Cannot be a negative value."
        ))),
        None => Err(schema_error(format!(
            "{v} is not of type 'integer' (attribute {key})"
        ))),
    }
}

fn tag_list(v: &Value) -> Result<Vec<String>> {
    let Value::Array(items) = v else {
        return Err(schema_error(format!(
            "{v} is not of type 'array' (attribute tags)"
        )));
    };
    let mut out: Vec<String> = Vec::new();
    for t in items {
        let t = t
            .as_str()
            .ok_or_else(|| schema_error(format!("{t} is not of type 'string' (attribute tags)")))?;
        check_tag(t)?;
        if !out.iter().any(|x| x == t) {
            out.push(t.to_string());
        }
    }
    Ok(out)
}

fn check_tag(t: &str) -> Result<()> {
    if t.chars().count() > 255 {
        return Err(schema_error(format!("'{t}' is too long")));
    }
    Ok(())
}

/// Sets one core attribute or custom property of `im` from a client value.
/// Returns false when `key` is not a core attribute (so a custom property).
fn set_core(im: &mut Image, key: &str, v: &Value) -> Result<bool> {
    match key {
        "name" => im.name = opt_string(key, v, 255)?,
        "visibility" => {
            im.visibility = enum_of(key, v, VISIBILITIES, false)?.unwrap_or_default();
        }
        "protected" => im.protected = boolean(key, v)?,
        "os_hidden" => im.os_hidden = boolean(key, v)?,
        "min_disk" => im.min_disk = non_negative(key, v)?,
        "min_ram" => im.min_ram = non_negative(key, v)?,
        "owner" => im.owner = opt_string(key, v, 255)?,
        "tags" => im.tags = tag_list(v)?,
        "disk_format" | "container_format" => {
            let allowed = if key == "disk_format" {
                DISK_FORMATS
            } else {
                CONTAINER_FORMATS
            };
            let new = enum_of(key, v, allowed, true)?;
            let slot = if key == "disk_format" {
                &mut im.disk_format
            } else {
                &mut im.container_format
            };
            if *slot != new && im.status != status::QUEUED {
                return Err(Error::forbidden(format!(
                    "Attribute {key} can be only replaced for a queued image."
                )));
            }
            *slot = new;
        }
        _ => return Ok(false),
    }
    Ok(true)
}

fn property_value(key: &str, v: &Value) -> Result<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        other => Err(schema_error(format!(
            "{other} is not of type 'string' (attribute {key})"
        ))),
    }
}

const CORE: &[&str] = &[
    "name",
    "visibility",
    "protected",
    "os_hidden",
    "min_disk",
    "min_ram",
    "owner",
    "tags",
    "disk_format",
    "container_format",
];

impl App {
    /// The JSON Glance renders for an image.
    pub fn image_view(&self, im: &Image) -> Value {
        let mut m: Map<String, Value> = im
            .properties
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        let core = json!({
            "id": im.id,
            "name": im.name,
            "status": im.status,
            "visibility": im.visibility,
            "protected": im.protected,
            "os_hidden": im.os_hidden,
            "checksum": im.checksum,
            "os_hash_algo": im.os_hash_algo,
            "os_hash_value": im.os_hash_value,
            "size": im.size,
            "virtual_size": im.virtual_size,
            "min_disk": im.min_disk,
            "min_ram": im.min_ram,
            "disk_format": im.disk_format,
            "container_format": im.container_format,
            "owner": im.owner,
            "created_at": isotime(im.created_at),
            "updated_at": isotime(im.updated_at),
            "tags": im.tags,
            "self": format!("/v2/images/{}", im.id),
            "file": format!("/v2/images/{}/file", im.id),
            "schema": "/v2/schemas/image",
        });
        if let Value::Object(c) = core {
            m.extend(c);
        }
        if im.location.is_some() {
            m.insert("stores".into(), Value::String(self.data.id().to_string()));
        }
        Value::Object(m)
    }

    /// `POST /v2/images`.
    pub async fn image_create(&self, ctx: &RequestContext, body: &Value) -> Result<Image> {
        let auth = self.caller(ctx)?;
        let Value::Object(body) = body else {
            return Err(Error::bad_request("Body expected in request."));
        };
        let t = now();
        let mut im = Image {
            id: uuid::Uuid::new_v4().to_string(),
            name: None,
            status: status::QUEUED.into(),
            visibility: "shared".into(),
            protected: false,
            os_hidden: false,
            checksum: None,
            os_hash_algo: None,
            os_hash_value: None,
            size: None,
            virtual_size: None,
            min_disk: 0,
            min_ram: 0,
            disk_format: None,
            container_format: None,
            owner: auth.project_id.clone(),
            location: None,
            staging: None,
            created_at: t,
            updated_at: t,
            tags: Vec::new(),
            properties: BTreeMap::new(),
        };
        for (k, v) in body {
            if k == "id" {
                let id = v
                    .as_str()
                    .filter(|s| uuid_shaped(s))
                    .ok_or_else(|| schema_error(format!("{v} does not match the id pattern")))?;
                im.id = id.to_ascii_lowercase();
                continue;
            }
            check_name_ok(k)?;
            if !set_core(&mut im, k, v)? {
                im.properties.insert(k.clone(), property_value(k, v)?);
            }
        }
        self.check_item_quotas(&im)?;
        let target = json!({
            "project_id": im.owner,
            "owner": im.owner,
            "visibility": im.visibility,
        });
        if let Err(e) = self.authorize(auth, "add_image", &target) {
            if im.owner != auth.project_id
                && let Some(owner) = &im.owner
            {
                return Err(Error::forbidden(format!(
                    "You are not permitted to create images owned by '{owner}'"
                )));
            }
            return Err(e);
        }
        self.authorize_visibility(auth, &im.visibility, &target)?;
        if let (Some(owner), Some(max)) = (&im.owner, limit_of(self.config.quota_image_count_total))
        {
            let used = self.store.usage(owner).await?.image_count;
            if used as u64 >= max {
                return Err(Error::new(
                    ErrorKind::PayloadTooLarge,
                    format!(
                        "Resource image_count_total is over limit of {max} due to current usage {used} and delta 1"
                    ),
                ));
            }
        }
        match self.store.image_create(&im).await {
            Ok(()) => Ok(im),
            Err(StoreError::Duplicate) => Err(Error::conflict(format!(
                "Image with identifier {} already exists!",
                im.id
            ))),
            Err(e) => Err(e.into()),
        }
    }

    fn authorize_visibility(
        &self,
        auth: &oxstack_common::context::AuthInfo,
        visibility: &str,
        target: &Value,
    ) -> Result<()> {
        match visibility {
            "public" => self.authorize(auth, "publicize_image", target),
            "community" => self.authorize(auth, "communitize_image", target),
            _ => Ok(()),
        }
    }

    fn check_item_quotas(&self, im: &Image) -> Result<()> {
        let over = |what: &str, n: usize, max: Option<u64>| match max {
            Some(max) if n as u64 > max => Err(Error::new(
                ErrorKind::PayloadTooLarge,
                format!("Maximum number of {what} exceeded. Attempted: {n}, Maximum: {max}"),
            )),
            _ => Ok(()),
        };
        over("tags", im.tags.len(), limit_of(self.config.image_tag_quota))?;
        over(
            "properties",
            im.properties.len(),
            limit_of(self.config.image_property_quota),
        )
    }

    /// `GET /v2/images/{id}`.
    pub async fn image_show(&self, ctx: &RequestContext, id: &str) -> Result<Image> {
        self.image_for(ctx, id, "get_image").await
    }

    /// `PATCH /v2/images/{id}`: applies `changes` in order, all or nothing.
    pub async fn image_update(
        &self,
        ctx: &RequestContext,
        id: &str,
        changes: &[Change],
    ) -> Result<Image> {
        let auth = self.caller(ctx)?;
        let old = self.image_lookup(auth, id).await?;
        self.authorize_image(auth, "get_image", &old)?;
        let mut im = old.clone();
        for c in changes {
            let root = c.path.first().map(String::as_str).unwrap_or_default();
            if c.path.len() != 1 {
                return Err(Error::bad_request(format!(
                    "Invalid JSON pointer for this resource: '/{}'",
                    c.path.join("/")
                )));
            }
            check_name_ok(root)?;
            // Policy is checked against the image as it was (Glance's `update_property`).
            if root == "visibility"
                && let Some(Value::String(v)) = &c.value
            {
                self.authorize_visibility(auth, v, &self.image_target(auth, &old))?;
            }
            self.authorize_image(auth, "modify_image", &old)?;
            match c.op {
                Op::Replace | Op::Add => {
                    let v = c.value.as_ref().ok_or_else(|| {
                        Error::bad_request("Operation requires a member named \"value\".")
                    })?;
                    if root == "owner" && c.op == Op::Replace && !self.is_admin(auth) {
                        return Err(Error::forbidden("Owner can't be updated by non admin."));
                    }
                    if set_core(&mut im, root, v)? {
                        continue;
                    }
                    let value = property_value(root, v)?;
                    if c.op == Op::Replace && !im.properties.contains_key(root) {
                        return Err(Error::conflict(format!("Property {root} does not exist.")));
                    }
                    im.properties.insert(root.to_string(), value);
                }
                Op::Remove => {
                    if CORE.contains(&root) {
                        return Err(Error::forbidden(format!(
                            "Property {root} may not be removed."
                        )));
                    }
                    if im.properties.remove(root).is_none() {
                        return Err(Error::conflict(format!("Property {root} does not exist.")));
                    }
                }
            }
        }
        if im == old {
            return Ok(im);
        }
        self.check_item_quotas(&im)?;
        im.updated_at = now();
        if !self.store.image_update(&im).await? {
            return Err(image_not_found(id));
        }
        Ok(im)
    }

    /// `DELETE /v2/images/{id}`: refused while protected; removes the data too.
    pub async fn image_delete(&self, ctx: &RequestContext, id: &str) -> Result<()> {
        let im = self.image_for(ctx, id, "delete_image").await?;
        if im.protected {
            return Err(Error::forbidden(format!(
                "Image {id} is protected and cannot be deleted."
            )));
        }
        let Some(im) = self.store.image_delete(id).await? else {
            return Err(image_not_found(id));
        };
        for key in [im.location, im.staging.map(|s| s.location)]
            .into_iter()
            .flatten()
        {
            if let Err(e) = self.data.delete(&key).await {
                // The image is gone; its data is garbage to collect, not a client error.
                tracing::warn!(image = id, error = %oxstack_common::http::error_chain(&e), "could not delete image data");
            }
        }
        Ok(())
    }

    /// `POST /v2/images/{id}/actions/deactivate`.
    pub async fn image_deactivate(&self, ctx: &RequestContext, id: &str) -> Result<()> {
        let im = self.image_for(ctx, id, "deactivate").await?;
        match im.status.as_str() {
            status::DEACTIVATED => Ok(()),
            status::ACTIVE => {
                self.transition(id, status::ACTIVE, status::DEACTIVATED)
                    .await
            }
            s => Err(Error::forbidden(format!(
                "Not allowed to deactivate image in status '{s}'"
            ))),
        }
    }

    /// `POST /v2/images/{id}/actions/reactivate`.
    pub async fn image_reactivate(&self, ctx: &RequestContext, id: &str) -> Result<()> {
        let im = self.image_for(ctx, id, "reactivate").await?;
        match im.status.as_str() {
            status::ACTIVE => Ok(()),
            status::DEACTIVATED => {
                self.transition(id, status::DEACTIVATED, status::ACTIVE)
                    .await
            }
            s => Err(Error::forbidden(format!(
                "Not allowed to reactivate image in status '{s}'"
            ))),
        }
    }

    async fn transition(&self, id: &str, from: &str, to: &str) -> Result<()> {
        if self.store.image_set_status(id, &[from], to, now()).await? {
            Ok(())
        } else {
            Err(Error::conflict(format!(
                "Image {id} changed status during the request; try again."
            )))
        }
    }

    /// `PUT /v2/images/{id}/tags/{tag}`.
    pub async fn tag_add(&self, ctx: &RequestContext, id: &str, tag: &str) -> Result<()> {
        let im = self.image_for(ctx, id, "modify_image").await?;
        check_tag(tag).map_err(|_| Error::bad_request(format!("Invalid tag: {tag}")))?;
        if !im.tags.iter().any(|t| t == tag)
            && let Some(max) = limit_of(self.config.image_tag_quota)
            && im.tags.len() as u64 >= max
        {
            return Err(Error::new(
                ErrorKind::PayloadTooLarge,
                format!(
                    "Maximum number of tags exceeded. Attempted: {}, Maximum: {max}",
                    im.tags.len() + 1
                ),
            ));
        }
        if self.store.tag_add(id, tag, now()).await? {
            Ok(())
        } else {
            Err(image_not_found(id))
        }
    }

    /// `DELETE /v2/images/{id}/tags/{tag}`.
    pub async fn tag_remove(&self, ctx: &RequestContext, id: &str, tag: &str) -> Result<()> {
        self.image_for(ctx, id, "modify_image").await?;
        if self.store.tag_remove(id, tag, now()).await? {
            Ok(())
        } else {
            Err(Error::not_found(format!("Tag {tag} not found.")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_shape() {
        assert!(uuid_shaped("e4d3c1f2-1234-4abc-8def-0123456789ab"));
        assert!(!uuid_shaped("e4d3c1f2-1234-4abc-8def-0123456789a"));
        assert!(!uuid_shaped("not-a-uuid"));
    }

    #[test]
    fn names_that_are_read_only_or_reserved() {
        assert_eq!(check_name_ok("status").map_err(|e| e.status()), Err(403));
        assert_eq!(
            check_name_ok("os_glance_x").map_err(|e| e.status()),
            Err(403)
        );
        assert_eq!(
            check_name_ok(&"k".repeat(256)).map_err(|e| e.status()),
            Err(400)
        );
        assert!(check_name_ok("os_distro").is_ok());
    }
}
