//! The block storage service's configuration section (`[blockstore]`).

use std::path::PathBuf;

use serde::Deserialize;

/// `[blockstore]`: every option has a default; see docs/CONFIGURATION.md.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BlockStoreConfig {
    /// Port of the Cinder v3 API.
    pub port: u16,
    /// The image API (volumes from images), when the image service does not run on this
    /// node.
    pub image_url: String,
    /// Where the `file` driver keeps volume and snapshot files; default `<data_dir>/volumes`.
    pub volumes_dir: Option<PathBuf>,
    /// The volume driver: `file` (qemu-img) or `fake` (nothing on disk).
    pub driver: String,
    /// Format of new volume files made by the `file` driver: `raw` or `qcow2`.
    pub volume_format: String,
    /// The volume type volumes get when none is asked for (created on start if missing).
    pub default_volume_type: String,
    /// The availability zone of volumes (Cinder's `storage_availability_zone`).
    pub availability_zone: String,
    /// The host name the volume service reports (`os-services`, `os-vol-host-attr:host`).
    pub host: String,
    /// Default quotas (Cinder's `[DEFAULT] quota_*`; -1 = unlimited).
    pub quota: QuotaDefaults,
    /// An oslo.policy YAML file overriding individual default rules.
    pub policy_file: Option<PathBuf>,
    /// Whether `os-volume_upload_image` honours `force` and uploads an in-use volume
    /// (Cinder's `enable_force_upload`; when off, `force` is ignored).
    pub enable_force_upload: bool,
}

/// Default quota limits, applied to projects without their own.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QuotaDefaults {
    pub volumes: i64,
    pub snapshots: i64,
    pub gigabytes: i64,
    pub backups: i64,
    pub backup_gigabytes: i64,
    pub per_volume_gigabytes: i64,
    pub groups: i64,
}

impl Default for QuotaDefaults {
    fn default() -> Self {
        Self {
            volumes: 10,
            snapshots: 10,
            gigabytes: 1000,
            backups: 10,
            backup_gigabytes: 1000,
            per_volume_gigabytes: -1,
            groups: 10,
        }
    }
}

impl Default for BlockStoreConfig {
    fn default() -> Self {
        Self {
            port: 8776,
            volumes_dir: None,
            image_url: "http://127.0.0.1:9292".into(),
            driver: "file".into(),
            volume_format: "raw".into(),
            default_volume_type: "__DEFAULT__".into(),
            availability_zone: "nova".into(),
            host: "oxstack".into(),
            quota: QuotaDefaults::default(),
            policy_file: None,
            enable_force_upload: false,
        }
    }
}

impl BlockStoreConfig {
    /// Checks values serde cannot, naming the key.
    pub fn validate(&self) -> Result<(), String> {
        if !matches!(self.driver.as_str(), "file" | "fake") {
            return Err(format!(
                "key `blockstore.driver`: unknown driver {:?} (available: file, fake)",
                self.driver
            ));
        }
        if !matches!(self.volume_format.as_str(), "raw" | "qcow2") {
            return Err(format!(
                "key `blockstore.volume_format`: must be raw or qcow2, got {:?}",
                self.volume_format
            ));
        }
        if !self.image_url.starts_with("http://") {
            return Err(format!(
                "key `blockstore.image_url`: must be an http:// URL, got {:?}",
                self.image_url
            ));
        }
        if self.default_volume_type.trim().is_empty() {
            return Err("key `blockstore.default_volume_type`: must not be empty".into());
        }
        Ok(())
    }

    /// The volumes directory for a node whose data dir is `data_dir`.
    pub fn volumes_dir_in(&self, data_dir: &std::path::Path) -> PathBuf {
        self.volumes_dir
            .clone()
            .unwrap_or_else(|| data_dir.join("volumes"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_name_their_key() {
        assert!(BlockStoreConfig::default().validate().is_ok());
        let c = BlockStoreConfig {
            driver: "lvm".into(),
            ..Default::default()
        };
        assert!(c.validate().expect_err("bad").contains("blockstore.driver"));
        let c = BlockStoreConfig {
            volume_format: "vmdk".into(),
            ..Default::default()
        };
        assert!(c.validate().expect_err("bad").contains("volume_format"));
    }
}
