//! The placement service's configuration section (`[placement]`).

use std::path::PathBuf;

use serde::Deserialize;

/// `[placement]`: every option has a default; see docs/CONFIGURATION.md.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlacementConfig {
    /// Port of the Placement API.
    pub port: u16,
    /// An oslo.policy YAML file overriding individual default rules.
    pub policy_file: Option<PathBuf>,
}

impl Default for PlacementConfig {
    fn default() -> Self {
        Self {
            port: 8778,
            policy_file: None,
        }
    }
}
