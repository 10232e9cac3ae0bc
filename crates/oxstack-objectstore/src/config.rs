//! The object storage service's configuration section (`[objectstore]`).

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// `[objectstore]`: every option has a default; see docs/CONFIGURATION.md.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ObjectStoreConfig {
    /// Port of the Swift v1 API.
    pub port: u16,
    /// Where object data lives (default `<data_dir>/objects`).
    pub data_dir: Option<PathBuf>,
    /// Largest single object, in bytes (Swift's `max_file_size`, default 5 GiB).
    pub max_file_size: u64,
    /// Largest page of a container listing (Swift's `container_listing_limit`).
    pub container_listing_limit: u32,
    /// Largest page of an account listing (Swift's `account_listing_limit`).
    pub account_listing_limit: u32,
    /// Longest metadata name after its prefix (Swift's `max_meta_name_length`).
    pub max_meta_name_length: usize,
    /// Longest metadata value (Swift's `max_meta_value_length`).
    pub max_meta_value_length: usize,
    /// Most metadata items on one resource (Swift's `max_meta_count`).
    pub max_meta_count: usize,
    /// Most bytes of metadata names and values on one resource (`max_meta_overall_size`).
    pub max_meta_overall_size: usize,
    /// Most segments in a static large object manifest.
    pub max_manifest_segments: usize,
    /// Roles that make a user an operator (owner) of their project's account.
    pub operator_roles: Vec<String>,
    /// Roles that may reach every account and set account quotas.
    pub reseller_admin_roles: Vec<String>,
}

impl Default for ObjectStoreConfig {
    fn default() -> Self {
        Self {
            port: 8080,
            data_dir: None,
            max_file_size: 5 * 1024 * 1024 * 1024 + 2,
            container_listing_limit: 10_000,
            account_listing_limit: 10_000,
            max_meta_name_length: 128,
            max_meta_value_length: 256,
            max_meta_count: 90,
            max_meta_overall_size: 4096,
            max_manifest_segments: 1000,
            operator_roles: vec!["admin".into(), "member".into(), "swiftoperator".into()],
            reseller_admin_roles: vec!["ResellerAdmin".into(), "reseller_admin".into()],
        }
    }
}

impl ObjectStoreConfig {
    /// Checks values serde cannot, naming the key.
    pub fn validate(&self) -> Result<(), String> {
        if self.container_listing_limit == 0 || self.account_listing_limit == 0 {
            return Err(
                "key `objectstore.container_listing_limit` / `account_listing_limit`: must be positive"
                    .into(),
            );
        }
        Ok(())
    }

    /// The object data directory for a node whose data dir is `data_dir`.
    pub fn data_dir_for(&self, data_dir: &Path) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(|| data_dir.join("objects"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert!(ObjectStoreConfig::default().validate().is_ok());
        assert_eq!(
            ObjectStoreConfig::default().data_dir_for(Path::new("/d")),
            PathBuf::from("/d/objects")
        );
    }
}
