//! `/v2/schemas/*`: the JSON schemas Glance publishes for images, members, metadata
//! definitions and tasks.

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
        .route("/v2/schemas/metadefs/{name}", get(metadef_schema))
        .route("/v2/schemas/task", get(task))
        .route("/v2/schemas/tasks", get(tasks))
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

// --- metadata definitions and tasks

/// Glance's `Schema.raw()`: closed to other properties.
fn raw(name: &str, properties: Value, required: &[&str], definitions: Option<Value>) -> Value {
    let mut s = json!({"name": name, "properties": properties, "additionalProperties": false});
    if let Some(d) = definitions {
        s["definitions"] = d;
    }
    if !required.is_empty() {
        s["required"] = json!(required);
    }
    s
}

/// Glance's `CollectionSchema.raw()` (`dict`: a `DictCollectionSchema`, keyed by name).
fn collection(name: &str, mut item: Value, dict: bool) -> Value {
    let definitions = item.as_object_mut().and_then(|m| m.remove("definitions"));
    let container = if dict {
        json!({"type": "object", "additionalProperties": item})
    } else {
        json!({"type": "array", "items": item})
    };
    let mut s = json!({
        "name": name,
        "properties": {
            name: container,
            "first": {"type": "string"},
            "next": {"type": "string"},
            "schema": {"type": "string"},
        },
        "links": [
            {"rel": "first", "href": "{first}"},
            {"rel": "next", "href": "{next}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    });
    if let Some(d) = definitions {
        s["definitions"] = d;
    }
    s
}

fn timestamps(what: &str) -> (Value, Value) {
    (
        json!({"type": "string", "readOnly": true, "description": format!("Date and time of {what} creation"), "format": "date-time"}),
        json!({"type": "string", "readOnly": true, "description": format!("Date and time of the last {what} modification"), "format": "date-time"}),
    )
}

const TYPES: &[Option<&str>] = &[
    Some("array"),
    Some("boolean"),
    Some("integer"),
    Some("number"),
    Some("object"),
    Some("string"),
    None,
];

/// The fields of a property definition.
fn property_fields() -> Value {
    json!({
        "name": {"type": "string", "maxLength": 80},
        "title": {"type": "string"},
        "description": {"type": "string"},
        "operators": {"type": "array", "items": {"type": "string"}},
        "type": {"type": "string", "enum": TYPES},
        "required": {"$ref": "#/definitions/stringArray"},
        "minimum": {"type": "number"},
        "maximum": {"type": "number"},
        "maxLength": {"$ref": "#/definitions/positiveInteger"},
        "minLength": {"$ref": "#/definitions/positiveIntegerDefault0"},
        "pattern": {"type": "string", "format": "regex"},
        "enum": {"type": "array"},
        "readonly": {"type": "boolean"},
        "default": {},
        "items": {"type": "object", "properties": {
            "type": {"type": "string", "enum": TYPES},
            "enum": {"type": "array"},
        }},
        "maxItems": {"$ref": "#/definitions/positiveInteger"},
        "minItems": {"$ref": "#/definitions/positiveIntegerDefault0"},
        "uniqueItems": {"type": "boolean", "default": false},
        "additionalItems": {"type": "boolean"},
    })
}

fn integer_definitions() -> Value {
    json!({
        "positiveInteger": {"type": "integer", "minimum": 0},
        "positiveIntegerDefault0": {"allOf": [{"$ref": "#/definitions/positiveInteger"}, {"default": 0}]},
    })
}

/// The definitions namespaces and objects share.
fn namespace_definitions() -> Value {
    let mut d = integer_definitions();
    d["stringArray"] = json!({"type": "array", "items": {"type": "string"}, "uniqueItems": true});
    d["property"] = json!({
        "type": "object",
        "additionalProperties": {
            "type": "object",
            "required": ["title", "type"],
            "properties": property_fields(),
        },
    });
    d
}

pub fn metadef_namespace_schema() -> Value {
    let (created, updated) = timestamps("namespace");
    let ro = json!({"readOnly": true, "type": "string"});
    raw(
        "namespace",
        json!({
            "namespace": {"type": "string", "description": "The unique namespace text.", "maxLength": 80},
            "display_name": {"type": "string", "description": "The user friendly name for the namespace. Used by UI if available.", "maxLength": 80},
            "description": {"type": "string", "description": "Provides a user friendly description of the namespace.", "maxLength": 500},
            "visibility": {"type": "string", "description": "Scope of namespace accessibility.", "enum": ["public", "private"]},
            "protected": {"type": "boolean", "description": "If true, namespace will not be deletable."},
            "owner": {"type": "string", "description": "Owner of the namespace.", "maxLength": 255},
            "created_at": created,
            "updated_at": updated,
            "schema": ro,
            "self": ro,
            "resource_type_associations": {"type": "array", "items": {"type": "object", "properties": {
                "name": {"type": "string"}, "prefix": {"type": "string"}, "properties_target": {"type": "string"},
            }}},
            "properties": {"$ref": "#/definitions/property"},
            "objects": {"type": "array", "items": {"type": "object", "properties": {
                "name": {"type": "string"},
                "description": {"type": "string"},
                "required": {"$ref": "#/definitions/stringArray"},
                "properties": {"$ref": "#/definitions/property"},
            }}},
            "tags": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}},
        }),
        &["namespace"],
        Some(namespace_definitions()),
    )
}

pub fn metadef_object_schema() -> Value {
    let (created, updated) = timestamps("object");
    let ro = json!({"readOnly": true, "type": "string"});
    raw(
        "object",
        json!({
            "name": {"type": "string", "maxLength": 80},
            "description": {"type": "string"},
            "required": {"$ref": "#/definitions/stringArray"},
            "properties": {"$ref": "#/definitions/property"},
            "schema": ro,
            "self": ro,
            "created_at": created,
            "updated_at": updated,
        }),
        &["name"],
        Some(namespace_definitions()),
    )
}

pub fn metadef_property_schema(require_name: bool) -> Value {
    let mut d = integer_definitions();
    d["stringArray"] =
        json!({"type": "array", "items": {"type": "string"}, "minItems": 1, "uniqueItems": true});
    let required: &[&str] = if require_name {
        &["type", "title", "name"]
    } else {
        &["type", "title"]
    };
    raw("property", property_fields(), required, Some(d))
}

pub fn metadef_resource_type_schema() -> Value {
    let (created, updated) = timestamps("resource type association");
    raw(
        "resource_type_association",
        json!({
            "name": {"type": "string", "description": "Resource type names should be aligned with Heat resource types whenever possible: https://docs.openstack.org/heat/latest/template_guide/openstack.html", "maxLength": 80},
            "prefix": {"type": "string", "description": "Specifies the prefix to use for the given resource type. Any properties in the namespace should be prefixed with this prefix when being applied to the specified resource type. Must include prefix separator (e.g. a colon :).", "maxLength": 80},
            "properties_target": {"type": "string", "description": "Some resource types allow more than one key / value pair per instance.  For example, Cinder allows user and image metadata on volumes. Only the image properties metadata is evaluated by Nova (scheduling or drivers). This property allows a namespace target to remove the ambiguity.", "maxLength": 80},
            "created_at": created,
            "updated_at": updated,
        }),
        &["name"],
        None,
    )
}

pub fn metadef_tag_schema() -> Value {
    let (created, updated) = timestamps("tag");
    raw(
        "tag",
        json!({
            "name": {"type": "string", "maxLength": 80},
            "created_at": created,
            "updated_at": updated,
        }),
        &["name"],
        None,
    )
}

/// The task schema (`/v2/schemas/task`).
pub fn task_schema() -> Value {
    let uuid =
        "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$";
    json!({
        "name": "task",
        "properties": {
            "id": {"description": "An identifier for the task", "pattern": uuid, "type": "string"},
            "type": {"description": "The type of task represented by this content", "enum": crate::model::TASK_TYPES, "type": "string"},
            "status": {"description": "The current status of this task", "enum": crate::model::task_status::ALL, "type": "string"},
            "input": {"description": "The parameters required by task, JSON blob", "type": ["null", "object"]},
            "result": {"description": "The result of current task, JSON blob", "type": ["null", "object"]},
            "owner": {"description": "An identifier for the owner of this task", "type": "string"},
            "message": {"description": "Human-readable informative message only included when appropriate (usually on failure)", "type": "string"},
            "image_id": {"description": "Image associated with the task", "type": "string"},
            "request_id": {"description": "Human-readable informative request-id", "type": "string"},
            "user_id": {"description": "User associated with the task", "type": "string"},
            "expires_at": {"description": "Datetime when this resource would be subject to removal", "type": ["null", "string"]},
            "created_at": {"description": "Datetime when this resource was created", "type": "string"},
            "updated_at": {"description": "Datetime when this resource was updated", "type": "string"},
            "self": {"readOnly": true, "type": "string"},
            "schema": {"readOnly": true, "type": "string"},
        },
        "additionalProperties": false,
        "links": [
            {"rel": "self", "href": "{self}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    })
}

/// `/v2/schemas/metadefs/{name}` and `/v2/schemas/task{,s}`, by the path's last part.
fn named_schema(name: &str) -> Option<Value> {
    Some(match name {
        "namespace" => metadef_namespace_schema(),
        "namespaces" => collection("namespaces", metadef_namespace_schema(), false),
        "object" => metadef_object_schema(),
        "objects" => collection("objects", metadef_object_schema(), false),
        "property" => metadef_property_schema(true),
        "properties" => collection("properties", metadef_property_schema(false), true),
        "resource_type" => metadef_resource_type_schema(),
        "resource_types" => collection(
            "resource_type_associations",
            metadef_resource_type_schema(),
            false,
        ),
        "tag" => metadef_tag_schema(),
        "tags" => collection("tags", metadef_tag_schema(), false),
        _ => return None,
    })
}

async fn metadef_schema(
    State(app): AppState,
    ctx: RequestContext,
    axum::extract::Path(name): axum::extract::Path<String>,
) -> Result<Response> {
    app.caller(&ctx)?;
    let schema = named_schema(&name)
        .ok_or_else(|| oxstack_common::Error::not_found("The resource could not be found."))?;
    Ok(axum::Json(schema).into_response())
}

async fn task(State(app): AppState, ctx: RequestContext) -> Result<Response> {
    app.caller(&ctx)?;
    Ok(axum::Json(task_schema()).into_response())
}

async fn tasks(State(app): AppState, ctx: RequestContext) -> Result<Response> {
    app.caller(&ctx)?;
    let mut item = task_schema();
    // Glance lists task stubs: no input, result or message.
    if let Some(p) = item["properties"].as_object_mut() {
        for k in ["input", "result", "message"] {
            p.remove(k);
        }
    }
    Ok(axum::Json(json!({
        "name": "tasks",
        "properties": {
            "tasks": {"type": "array", "items": item},
            "schema": {"type": "string"},
        },
        "links": [{"rel": "describedby", "href": "{schema}"}],
    }))
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metadef_schema_is_named_as_glance_names_it() {
        for (path, name) in [
            ("namespace", "namespace"),
            ("namespaces", "namespaces"),
            ("object", "object"),
            ("objects", "objects"),
            ("property", "property"),
            ("properties", "properties"),
            ("resource_type", "resource_type_association"),
            ("resource_types", "resource_type_associations"),
            ("tag", "tag"),
            ("tags", "tags"),
        ] {
            let s = named_schema(path).expect(path);
            assert_eq!(s["name"], name, "{path}");
        }
        assert!(named_schema("image").is_none());
        // A collection keeps the item's definitions at its top.
        let ns = named_schema("namespaces").expect("namespaces");
        assert!(ns["definitions"]["property"].is_object());
        assert!(ns["properties"]["namespaces"]["items"]["definitions"].is_null());
    }
}
