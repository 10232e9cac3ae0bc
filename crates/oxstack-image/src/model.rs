//! The image service's resources as the logic layer sees them (no SQL, no HTTP).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// An image's status, Glance's state machine:
/// `queued → saving → active`, `queued → uploading → importing → active` (interoperable
/// import), `active ⇄ deactivated`, `killed` after a failed upload that cannot be retried.
/// Deleted images are gone from the store.
pub mod status {
    pub const QUEUED: &str = "queued";
    pub const SAVING: &str = "saving";
    pub const UPLOADING: &str = "uploading";
    pub const IMPORTING: &str = "importing";
    pub const ACTIVE: &str = "active";
    pub const DEACTIVATED: &str = "deactivated";
    pub const KILLED: &str = "killed";
    /// Every status the image schema lists.
    pub const ALL: &[&str] = &[
        "queued",
        "saving",
        "active",
        "killed",
        "deleted",
        "uploading",
        "importing",
        "pending_delete",
        "deactivated",
    ];
}

/// Who may see an image besides its owner.
pub const VISIBILITIES: &[&str] = &["public", "private", "shared", "community"];

/// Glance's default `disk_formats` and `container_formats`.
pub const DISK_FORMATS: &[&str] = &[
    "ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop",
];
pub const CONTAINER_FORMATS: &[&str] = &[
    "ami",
    "ari",
    "aki",
    "bare",
    "ovf",
    "ova",
    "docker",
    "compressed",
];

/// The digest algorithm of `os_hash_value` (Glance's `hashing_algorithm` default).
pub const HASH_ALGO: &str = "sha512";

/// An image record.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    pub id: String,
    pub name: Option<String>,
    pub status: String,
    pub visibility: String,
    pub protected: bool,
    pub os_hidden: bool,
    pub checksum: Option<String>,
    pub os_hash_algo: Option<String>,
    pub os_hash_value: Option<String>,
    pub size: Option<i64>,
    pub virtual_size: Option<i64>,
    pub min_disk: i64,
    pub min_ram: i64,
    pub disk_format: Option<String>,
    pub container_format: Option<String>,
    pub owner: Option<String>,
    /// Where the data is, in the image store's terms (never shown to clients).
    pub location: Option<String>,
    /// Staged data awaiting import (never shown to clients).
    pub staging: Option<Staged>,
    /// Microseconds since the epoch.
    pub created_at: i64,
    pub updated_at: i64,
    pub tags: Vec<String>,
    /// Custom properties (string values, as the image schema requires).
    pub properties: BTreeMap<String, String>,
}

/// Data that was stored and verified: what an upload or a stage produces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stored {
    /// The store's key for the data.
    pub location: String,
    pub size: i64,
    /// md5, hex.
    pub checksum: String,
    /// sha512, hex.
    pub hash_value: String,
    pub virtual_size: Option<i64>,
}

/// Staged data of an image being imported with `glance-direct`.
pub type Staged = Stored;

/// A project an image is shared with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub image_id: String,
    pub member_id: String,
    /// `pending`, `accepted` or `rejected`.
    pub status: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Membership statuses.
pub const MEMBER_STATUSES: &[&str] = &["pending", "accepted", "rejected"];

/// A metadata definition namespace: a named catalogue of properties, objects and tags
/// that describe what may be set on images, volumes, flavors and so on.
#[derive(Debug, Clone, PartialEq)]
pub struct Namespace {
    /// Internal id (never shown): children refer to it, so a rename moves nothing.
    pub id: String,
    /// The unique name clients use.
    pub namespace: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    /// `public` or `private`.
    pub visibility: String,
    pub protected: bool,
    pub owner: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A metadef object: a named group of property definitions.
#[derive(Debug, Clone, PartialEq)]
pub struct MetadefObject {
    pub id: String,
    pub namespace_id: String,
    pub name: String,
    pub description: Option<String>,
    pub required: Option<Vec<String>>,
    /// Property name → property definition (the JSON clients sent).
    pub properties: Option<serde_json::Map<String, serde_json::Value>>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A metadef property definition; `schema` is the definition without its name.
#[derive(Debug, Clone, PartialEq)]
pub struct MetadefProperty {
    pub id: String,
    pub namespace_id: String,
    pub name: String,
    pub schema: serde_json::Map<String, serde_json::Value>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A metadef tag definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadefTag {
    pub id: String,
    pub namespace_id: String,
    pub name: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A kind of resource namespaces apply to (`OS::Glance::Image`, `OS::Nova::Flavor`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceType {
    pub id: String,
    pub name: String,
    /// Seeded types; they are never removed.
    pub protected: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A namespace's association with a resource type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Association {
    pub namespace_id: String,
    /// The resource type's name.
    pub name: String,
    pub prefix: Option<String>,
    pub properties_target: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Task statuses: `pending → processing → success | failure`.
pub mod task_status {
    pub const PENDING: &str = "pending";
    pub const PROCESSING: &str = "processing";
    pub const SUCCESS: &str = "success";
    pub const FAILURE: &str = "failure";
    pub const ALL: &[&str] = &[PENDING, PROCESSING, SUCCESS, FAILURE];
}

/// The task types of Glance's task schema.
pub const TASK_TYPES: &[&str] = &["import", "api_image_import", "location_import"];

/// An asynchronous operation's record (Glance's tasks): here, one per image import.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub id: String,
    /// `api_image_import` for `POST /v2/images/{id}/import`.
    pub kind: String,
    pub status: String,
    pub owner: Option<String>,
    pub image_id: Option<String>,
    pub request_id: Option<String>,
    pub user_id: Option<String>,
    pub input: Option<serde_json::Value>,
    pub result: Option<serde_json::Value>,
    pub message: Option<String>,
    /// When a finished task may be purged.
    pub expires_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}
