//! `/v2/schemas/*`: the JSON schemas Glance publishes for images and members.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use oxstack_common::Result;
use oxstack_common::context::RequestContext;
use serde_json::{Value, json};

use super::AppState;
use crate::app::App;
use crate::model::{CONTAINER_FORMATS, DISK_FORMATS, MEMBER_STATUSES, VISIBILITIES, status};

pub(super) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/v2/schemas/image", get(image))
        .route("/v2/schemas/images", get(images))
        .route("/v2/schemas/member", get(member))
        .route("/v2/schemas/members", get(members))
}

fn nullable_enum(values: &[&str]) -> Value {
    let mut v: Vec<Value> = vec![Value::Null];
    v.extend(values.iter().map(|s| json!(s)));
    Value::Array(v)
}

/// The image schema (Glance's base properties; custom properties are strings).
pub fn image_schema() -> Value {
    let ro = |ty: Value, desc: &str| json!({"type": ty, "readOnly": true, "description": desc});
    json!({
        "name": "image",
        "properties": {
            "id": {"type": "string", "description": "An identifier for the image",
                   "pattern": "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$"},
            "name": {"type": ["null", "string"], "description": "Descriptive name for the image", "maxLength": 255},
            "status": {"type": "string", "readOnly": true, "description": "Status of the image", "enum": status::ALL},
            "visibility": {"type": "string", "description": "Scope of image accessibility", "enum": VISIBILITIES},
            "protected": {"type": "boolean", "description": "If true, image will not be deletable."},
            "os_hidden": {"type": "boolean", "description": "If true, image will not appear in default image list response."},
            "checksum": {"type": ["null", "string"], "readOnly": true, "description": "md5 hash of image contents.", "maxLength": 32},
            "os_hash_algo": {"type": ["null", "string"], "readOnly": true, "description": "Algorithm to calculate the os_hash_value", "maxLength": 64},
            "os_hash_value": {"type": ["null", "string"], "readOnly": true, "description": "Hexdigest of the image contents using the algorithm specified by the os_hash_algo", "maxLength": 128},
            "owner": {"type": ["null", "string"], "description": "Owner of the image", "maxLength": 255},
            "size": ro(json!(["null", "integer"]), "Size of image file in bytes"),
            "virtual_size": ro(json!(["null", "integer"]), "Virtual size of image in bytes"),
            "container_format": {"type": ["null", "string"], "description": "Format of the container", "enum": nullable_enum(CONTAINER_FORMATS)},
            "disk_format": {"type": ["null", "string"], "description": "Format of the disk", "enum": nullable_enum(DISK_FORMATS)},
            "created_at": ro(json!("string"), "Date and time of image registration"),
            "updated_at": ro(json!("string"), "Date and time of the last image modification"),
            "tags": {"type": "array", "description": "List of strings related to the image", "items": {"type": "string", "maxLength": 255}},
            "direct_url": ro(json!("string"), "URL to access the image file kept in external store"),
            "min_ram": {"type": "integer", "description": "Amount of ram (in MB) required to boot image."},
            "min_disk": {"type": "integer", "description": "Amount of disk space (in GB) required to boot image."},
            "self": ro(json!("string"), "An image self url"),
            "file": ro(json!("string"), "An image file url"),
            "stores": ro(json!("string"), "Store in which image data resides.  Only present when the operator has enabled multiple stores.  May be a comma-separated list of store identifiers."),
            "schema": ro(json!("string"), "An image schema url"),
            "kernel_id": {"type": ["null", "string"], "description": "ID of image stored in Glance that should be used as the kernel when booting an AMI-style image.", "is_base": false},
            "ramdisk_id": {"type": ["null", "string"], "description": "ID of image stored in Glance that should be used as the ramdisk when booting an AMI-style image.", "is_base": false},
            "instance_uuid": {"type": "string", "description": "Metadata which can be used to record which instance this image is associated with. (Informational only, does not create an instance snapshot.)", "is_base": false},
            "architecture": {"type": "string", "description": "Operating system architecture as specified in https://docs.openstack.org/python-glanceclient/latest/cli/property-keys.html", "is_base": false},
            "os_distro": {"type": "string", "description": "Common name of operating system distribution as specified in https://docs.openstack.org/python-glanceclient/latest/cli/property-keys.html", "is_base": false},
            "os_version": {"type": "string", "description": "Operating system version as specified by the distributor.", "is_base": false},
            "description": {"type": "string", "description": "A human-readable string describing this image.", "is_base": false},
        },
        "additionalProperties": {"type": "string"},
        "links": [
            {"rel": "self", "href": "{self}"},
            {"rel": "enclosure", "href": "{file}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    })
}

fn member_schema() -> Value {
    json!({
        "name": "member",
        "properties": {
            "created_at": {"type": "string", "description": "Date and time of image member creation"},
            "image_id": {"type": "string", "description": "An identifier for the image",
                         "pattern": "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$"},
            "member_id": {"type": "string", "description": "An identifier for the image member (tenantId)"},
            "status": {"type": "string", "description": "The status of this image member", "enum": MEMBER_STATUSES},
            "updated_at": {"type": "string", "description": "Date and time of last modification of image member"},
            "schema": {"type": "string", "readOnly": true},
        },
    })
}

async fn image(State(app): AppState, ctx: RequestContext) -> Result<Response> {
    app.caller(&ctx)?;
    Ok(axum::Json(image_schema()).into_response())
}

async fn images(State(app): AppState, ctx: RequestContext) -> Result<Response> {
    app.caller(&ctx)?;
    Ok(axum::Json(json!({
        "name": "images",
        "properties": {
            "images": {"type": "array", "items": image_schema()},
            "schema": {"type": "string"},
            "first": {"type": "string"},
            "next": {"type": "string"},
        },
        "links": [
            {"rel": "first", "href": "{first}"},
            {"rel": "next", "href": "{next}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    }))
    .into_response())
}

async fn member(State(app): AppState, ctx: RequestContext) -> Result<Response> {
    app.caller(&ctx)?;
    Ok(axum::Json(member_schema()).into_response())
}

async fn members(State(app): AppState, ctx: RequestContext) -> Result<Response> {
    app.caller(&ctx)?;
    Ok(axum::Json(json!({
        "name": "members",
        "properties": {
            "members": {"type": "array", "items": member_schema()},
            "schema": {"type": "string"},
        },
        "links": [{"rel": "describedby", "href": "{schema}"}],
    }))
    .into_response())
}
