//! Configuration: one TOML file plus `OXSTACK_...` environment overrides.
//!
//! The binary assembles the whole configuration type from the sections below and from each
//! service's own section; this module loads it strictly (unknown keys are errors) and turns
//! every problem into one line naming the key.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// Loads `T` from the defaults, then `file` (when given), then `OXSTACK_*` environment
/// variables, where `__` separates nesting (`OXSTACK_DATABASE__URL`).
pub fn load<T: DeserializeOwned>(file: Option<&Path>) -> Result<T, ConfigError> {
    let mut fig = Figment::new();
    if let Some(path) = file {
        if !path.is_file() {
            return Err(ConfigError(format!(
                "config file {}: not found or not a file",
                path.display()
            )));
        }
        fig = fig.merge(Toml::file_exact(path));
    }
    fig = fig.merge(Env::prefixed("OXSTACK_").split("__").ignore(&["config"]));
    fig.extract().map_err(|e| ConfigError(describe(e)))
}

/// A configuration problem, as one line naming the key.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(pub String);

fn describe(e: figment::Error) -> String {
    e.into_iter()
        .map(|e| {
            let key = if e.path.is_empty() {
                String::from("(top level)")
            } else {
                e.path.join(".")
            };
            let from = e
                .metadata
                .as_ref()
                .and_then(|m| m.source.as_ref())
                .map(|s| format!(" (from {s})"))
                .unwrap_or_default();
            format!("key `{key}`{from}: {}", e.kind)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Where and how services listen.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address every service binds to.
    pub bind_host: IpAddr,
    /// Host name or address written into the catalog and `clouds.yaml`; defaults to
    /// `bind_host` (or 127.0.0.1 when binding the unspecified address).
    pub public_host: Option<String>,
    /// Largest request body accepted by JSON APIs, in bytes (image and object data are
    /// streamed and exempt).
    pub max_body_bytes: usize,
    /// Seconds to let in-flight requests finish after SIGINT/SIGTERM.
    pub shutdown_grace_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind_host: IpAddr::from([127, 0, 0, 1]),
            public_host: None,
            max_body_bytes: 1 << 20,
            shutdown_grace_secs: 30,
        }
    }
}

impl ServerConfig {
    /// The host clients use to reach this node.
    pub fn public_host(&self) -> String {
        match &self.public_host {
            Some(h) => h.clone(),
            None if self.bind_host.is_unspecified() => "127.0.0.1".into(),
            None => match self.bind_host {
                IpAddr::V6(a) => format!("[{a}]"),
                IpAddr::V4(a) => a.to_string(),
            },
        }
    }
}

/// The SQL database.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://PATH`, `mysql://user:pass@host/db` or `postgres://user@host/db`; empty means
    /// `sqlite://<data_dir>/oxstack.db`.
    pub url: String,
    /// Connection pool size (0 = the engine's sensible default).
    pub max_connections: u32,
}

impl DatabaseConfig {
    pub fn url_for(&self, data_dir: &Path) -> String {
        if self.url.is_empty() {
            format!("sqlite://{}", data_dir.join("oxstack.db").display())
        } else {
            self.url.clone()
        }
    }
}

/// Logging.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// A `tracing` filter such as `info` or `oxstack_identity=debug,info`.
    pub filter: String,
    /// Emit JSON lines instead of human-readable text.
    pub json: bool,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            filter: "info".into(),
            json: false,
        }
    }
}

/// The default data directory.
pub fn default_data_dir() -> PathBuf {
    PathBuf::from("./oxstack-data")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, Default)]
    #[serde(default, deny_unknown_fields)]
    struct Sample {
        server: ServerConfig,
        database: DatabaseConfig,
    }

    fn write(text: &str) -> tempfile::NamedTempFile {
        use std::io::Write;
        let mut f = tempfile::NamedTempFile::new().expect("tempfile");
        f.write_all(text.as_bytes()).expect("write");
        f
    }

    #[test]
    fn unknown_key_is_named() {
        let f = write("[server]\nbind_hots = \"0.0.0.0\"\n");
        let e = load::<Sample>(Some(f.path())).expect_err("must fail");
        assert!(e.0.contains("bind_hots"), "{e}");
    }

    #[test]
    fn bad_value_names_the_key() {
        let f = write("[server]\nbind_host = \"not-an-ip\"\n");
        let e = load::<Sample>(Some(f.path())).expect_err("must fail");
        assert!(e.0.contains("server.bind_host"), "{e}");
    }

    #[test]
    fn file_values_apply() {
        let f = write("[database]\nurl = \"postgres://x\"\n");
        let c = load::<Sample>(Some(f.path())).expect("loads");
        assert_eq!(c.database.url, "postgres://x");
        assert_eq!(c.server.public_host(), "127.0.0.1");
    }

    #[test]
    fn missing_file_is_an_error() {
        let e = load::<Sample>(Some(Path::new("/nonexistent/x.toml"))).expect_err("must fail");
        assert!(e.0.contains("not found"));
    }
}
