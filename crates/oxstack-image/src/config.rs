//! The image service's configuration section (`[image]`).

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// `[image]`: every option has a default; see docs/CONFIGURATION.md.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImageConfig {
    /// Port of the Glance v2 API.
    pub port: u16,
    /// Where the file store keeps image data (default `<data_dir>/images`); staged data for
    /// interoperable import lives in its `staging/` subdirectory.
    pub store_dir: Option<PathBuf>,
    /// Largest image accepted, in bytes (Glance's `image_size_cap`, default 1 TiB).
    pub max_image_size: u64,
    /// Images a project may own (Glance's `image_count_total`); -1 = unlimited.
    pub quota_image_count_total: i64,
    /// Bytes of active image data a project may store (Glance's `image_size_total`, here in
    /// bytes); -1 = unlimited.
    pub quota_image_size_total: i64,
    /// Bytes of staged data a project may hold (Glance's `image_stage_total`); -1 = unlimited.
    pub quota_image_stage_total: i64,
    /// Images a project may have in flight at once: being uploaded, staged or imported
    /// (Glance's `image_count_uploading`); -1 = unlimited.
    pub quota_image_count_uploading: i64,
    /// Members an image may have (Glance's `image_member_quota`); -1 = unlimited.
    pub image_member_quota: i64,
    /// Tags an image may have (Glance's `image_tag_quota`); -1 = unlimited.
    pub image_tag_quota: i64,
    /// Custom properties an image may have (Glance's `image_property_quota`); -1 = unlimited.
    pub image_property_quota: i64,
    /// Default page size of `GET /v2/images` (Glance's `limit_param_default`).
    pub limit_param_default: u32,
    /// Largest page size a client may ask for (Glance's `api_limit_max`).
    pub api_limit_max: u32,
    /// An oslo.policy YAML file overriding individual default rules.
    pub policy_file: Option<PathBuf>,
}

impl Default for ImageConfig {
    fn default() -> Self {
        Self {
            port: 9292,
            store_dir: None,
            max_image_size: 1 << 40,
            quota_image_count_total: -1,
            quota_image_size_total: -1,
            quota_image_stage_total: -1,
            quota_image_count_uploading: -1,
            image_member_quota: 128,
            image_tag_quota: 128,
            image_property_quota: 128,
            limit_param_default: 25,
            api_limit_max: 1000,
            policy_file: None,
        }
    }
}

impl ImageConfig {
    /// Checks values serde cannot, naming the key.
    pub fn validate(&self) -> Result<(), String> {
        if self.limit_param_default == 0 || self.api_limit_max == 0 {
            return Err(
                "key `image.limit_param_default` / `image.api_limit_max`: must be positive".into(),
            );
        }
        if self.limit_param_default > self.api_limit_max {
            return Err(format!(
                "key `image.limit_param_default`: {} exceeds `image.api_limit_max` ({})",
                self.limit_param_default, self.api_limit_max
            ));
        }
        for (key, v) in [
            ("quota_image_count_total", self.quota_image_count_total),
            ("quota_image_size_total", self.quota_image_size_total),
            ("quota_image_stage_total", self.quota_image_stage_total),
            (
                "quota_image_count_uploading",
                self.quota_image_count_uploading,
            ),
            ("image_member_quota", self.image_member_quota),
            ("image_tag_quota", self.image_tag_quota),
            ("image_property_quota", self.image_property_quota),
        ] {
            if v < -1 {
                return Err(format!(
                    "key `image.{key}`: must be -1 (unlimited) or at least 0, got {v}"
                ));
            }
        }
        Ok(())
    }

    /// The file store directory for a node whose data dir is `data_dir`.
    pub fn store_dir_for(&self, data_dir: &Path) -> PathBuf {
        self.store_dir
            .clone()
            .unwrap_or_else(|| data_dir.join("images"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_quotas_checked() {
        assert!(ImageConfig::default().validate().is_ok());
        let c = ImageConfig {
            quota_image_count_total: -2,
            ..Default::default()
        };
        assert!(
            c.validate()
                .expect_err("rejected")
                .contains("image.quota_image_count_total")
        );
        assert_eq!(
            ImageConfig::default().store_dir_for(Path::new("/d")),
            PathBuf::from("/d/images")
        );
    }
}
