//! The identity service's configuration section (`[identity]`).

use std::path::PathBuf;

use serde::Deserialize;

/// `[identity]`: every option has a default; see docs/CONFIGURATION.md.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IdentityConfig {
    /// Port of the Keystone v3 API.
    pub port: u16,
    /// Token lifetime in seconds.
    pub token_expiration_secs: u64,
    /// bcrypt cost for password hashes (4..=31; Keystone's default is 12).
    pub password_hash_rounds: u32,
    /// Fernet key repository (default `<data_dir>/fernet-keys`).
    pub fernet_key_dir: Option<PathBuf>,
    /// Credential encryption key repository (default `<data_dir>/credential-keys`).
    pub credential_key_dir: Option<PathBuf>,
    /// Keys kept by `oxstack identity fernet-rotate` (staged + primary + secondaries).
    pub max_active_keys: u32,
    /// Lock a user out after this many failed logins in a row (0 = never).
    pub lockout_failure_attempts: u32,
    /// How long a lockout lasts, in seconds.
    pub lockout_duration_secs: u64,
    /// A user changing their own password may not reuse any of their last this many
    /// passwords, the current one included (0 = no history check; administrators' resets
    /// are never checked). Keystone's `[security_compliance] unique_last_password_count`.
    pub unique_last_password_count: u32,
    /// Days a password must be kept before its user may change it (0 = any time;
    /// administrators' resets are not limited). Keystone's
    /// `[security_compliance] minimum_password_age`.
    pub minimum_password_age_days: u32,
    /// An oslo.policy YAML file overriding individual default rules.
    pub policy_file: Option<PathBuf>,
    /// How long a validated token is cached, in seconds (revocations still apply at once).
    pub cache_ttl_secs: u64,
    /// The region bootstrap creates and the catalog uses.
    pub region: String,
    /// The admin password bootstrap sets on first run (default: generated and written to
    /// `<data_dir>/admin-password`).
    pub admin_password: Option<String>,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        Self {
            port: 5000,
            token_expiration_secs: 3600,
            password_hash_rounds: 12,
            fernet_key_dir: None,
            credential_key_dir: None,
            max_active_keys: 3,
            lockout_failure_attempts: 0,
            lockout_duration_secs: 1800,
            unique_last_password_count: 0,
            minimum_password_age_days: 0,
            policy_file: None,
            cache_ttl_secs: 300,
            region: "RegionOne".into(),
            admin_password: None,
        }
    }
}

impl IdentityConfig {
    /// Checks values serde cannot, naming the key.
    pub fn validate(&self) -> Result<(), String> {
        if !(4..=31).contains(&self.password_hash_rounds) {
            return Err(format!(
                "key `identity.password_hash_rounds`: must be between 4 and 31, got {}",
                self.password_hash_rounds
            ));
        }
        if self.token_expiration_secs == 0 {
            return Err("key `identity.token_expiration_secs`: must be positive".into());
        }
        if self.max_active_keys < 2 {
            return Err("key `identity.max_active_keys`: must be at least 2".into());
        }
        Ok(())
    }
}
