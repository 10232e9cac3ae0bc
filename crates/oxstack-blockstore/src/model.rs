//! The block storage resources as the store returns them and the logic layer handles them.

use std::collections::BTreeMap;

/// String-keyed metadata (volume, snapshot, extra specs).
pub type Meta = BTreeMap<String, String>;

/// A volume type.
#[derive(Debug, Clone, PartialEq)]
pub struct VolumeType {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub is_public: bool,
    pub extra_specs: Meta,
    pub created_at: i64,
}

/// A volume (Cinder's `volumes` row with its metadata).
#[derive(Debug, Clone, PartialEq)]
pub struct Volume {
    pub id: String,
    pub project_id: String,
    pub user_id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub size: i64,
    pub status: String,
    pub attach_status: String,
    pub migration_status: Option<String>,
    pub volume_type_id: String,
    pub availability_zone: String,
    pub host: Option<String>,
    pub bootable: bool,
    pub multiattach: bool,
    pub snapshot_id: Option<String>,
    pub source_volid: Option<String>,
    /// `raw` or `qcow2`: the format of the driver's file.
    pub format: String,
    pub metadata: Meta,
    /// `volume_image_metadata` (Glance properties of the image it was made from).
    pub image_metadata: Meta,
    /// Admin metadata: `readonly` and `attached_mode`.
    pub admin_metadata: Meta,
    pub created_at: i64,
    pub updated_at: Option<i64>,
}

/// A snapshot of a volume.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub id: String,
    pub volume_id: String,
    pub project_id: String,
    pub user_id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub size: i64,
    pub status: String,
    pub progress: String,
    pub metadata: Meta,
    pub created_at: i64,
    pub updated_at: Option<i64>,
}

/// A volume attachment (Cinder's `volume_attachment`).
#[derive(Debug, Clone, PartialEq)]
pub struct Attachment {
    pub id: String,
    pub volume_id: String,
    pub project_id: String,
    pub instance_uuid: Option<String>,
    pub attached_host: Option<String>,
    pub mountpoint: Option<String>,
    /// `reserved`, `attaching`, `attached`, `detaching`, `detached`.
    pub attach_status: String,
    /// `rw` or `ro`.
    pub attach_mode: String,
    /// The connector the host sent (JSON), once known.
    pub connector: Option<String>,
    pub attach_time: Option<i64>,
    pub detach_time: Option<i64>,
    pub created_at: i64,
}
