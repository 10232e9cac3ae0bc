//! The whole configuration of one oxstack node: the shared sections plus each service's.

use std::path::{Path, PathBuf};

use oxstack_blockstore::BlockStoreConfig;
use oxstack_common::config::{self, ConfigError, DatabaseConfig, LogConfig, ServerConfig};
use oxstack_compute::ComputeConfig;
use oxstack_identity::IdentityConfig;
use oxstack_image::ImageConfig;
use oxstack_network::NetworkConfig;
use oxstack_objectstore::ObjectStoreConfig;
use oxstack_placement::PlacementConfig;
use serde::Deserialize;

/// A service this binary can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ServiceName {
    Identity,
    Image,
    Placement,
    Compute,
    Network,
    #[serde(rename = "objectstore")]
    #[value(name = "objectstore")]
    ObjectStore,
    #[value(name = "blockstore")]
    BlockStore,
}

impl ServiceName {
    pub const ALL: &[ServiceName] = &[
        ServiceName::Identity,
        ServiceName::Image,
        ServiceName::Placement,
        ServiceName::Compute,
        ServiceName::Network,
        ServiceName::ObjectStore,
        ServiceName::BlockStore,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ServiceName::Identity => "identity",
            ServiceName::Image => "image",
            ServiceName::Placement => "placement",
            ServiceName::Compute => "compute",
            ServiceName::Network => "network",
            ServiceName::ObjectStore => "objectstore",
            ServiceName::BlockStore => "blockstore",
        }
    }
}

/// The configuration file's shape (see docs/CONFIGURATION.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the database file, keys and generated credentials live.
    pub data_dir: PathBuf,
    /// The services `oxstack up` starts.
    pub services: Vec<ServiceName>,
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub log: LogConfig,
    pub identity: IdentityConfig,
    pub image: ImageConfig,
    pub placement: PlacementConfig,
    pub compute: ComputeConfig,
    pub network: NetworkConfig,
    pub objectstore: ObjectStoreConfig,
    pub blockstore: BlockStoreConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: config::default_data_dir(),
            services: ServiceName::ALL.to_vec(),
            server: ServerConfig::default(),
            database: DatabaseConfig::default(),
            log: LogConfig::default(),
            identity: IdentityConfig::default(),
            image: ImageConfig::default(),
            placement: PlacementConfig::default(),
            compute: ComputeConfig::default(),
            network: NetworkConfig::default(),
            objectstore: ObjectStoreConfig::default(),
            blockstore: BlockStoreConfig::default(),
        }
    }
}

impl Config {
    /// Loads and checks the configuration; `data_dir` from the command line wins.
    pub fn load(file: Option<&Path>, data_dir: Option<PathBuf>) -> Result<Config, ConfigError> {
        let mut cfg: Config = config::load(file)?;
        if let Some(d) = data_dir {
            cfg.data_dir = d;
        }
        cfg.identity.validate().map_err(ConfigError)?;
        cfg.image.validate().map_err(ConfigError)?;
        cfg.compute.validate().map_err(ConfigError)?;
        cfg.objectstore.validate().map_err(ConfigError)?;
        cfg.blockstore.validate().map_err(ConfigError)?;
        if cfg.services.is_empty() {
            return Err(ConfigError(
                "key `services`: at least one service must be enabled".into(),
            ));
        }
        Ok(cfg)
    }

    pub fn database_url(&self) -> String {
        self.database.url_for(&self.data_dir)
    }

    pub fn port(&self, s: ServiceName) -> u16 {
        match s {
            ServiceName::Identity => self.identity.port,
            ServiceName::Image => self.image.port,
            ServiceName::Placement => self.placement.port,
            ServiceName::Compute => self.compute.port,
            ServiceName::Network => self.network.port,
            ServiceName::ObjectStore => self.objectstore.port,
            ServiceName::BlockStore => self.blockstore.port,
        }
    }

    /// `http://host:port` of a service as clients reach it.
    pub fn public_url(&self, s: ServiceName) -> String {
        format!("http://{}:{}", self.server.public_host(), self.port(s))
    }

    pub fn fernet_key_dir(&self) -> PathBuf {
        self.identity
            .fernet_key_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("fernet-keys"))
    }

    pub fn volumes_dir(&self) -> PathBuf {
        self.blockstore.volumes_dir_in(&self.data_dir)
    }

    pub fn image_store_dir(&self) -> PathBuf {
        self.image.store_dir_for(&self.data_dir)
    }

    pub fn object_data_dir(&self) -> PathBuf {
        self.objectstore.data_dir_for(&self.data_dir)
    }

    pub fn credential_key_dir(&self) -> PathBuf {
        self.identity
            .credential_key_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("credential-keys"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every example config shipped in the repo parses.
    #[test]
    fn example_configs_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../etc");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).expect("etc/ exists") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "toml") {
                Config::load(Some(&path), None)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                seen += 1;
            }
        }
        assert!(seen > 0, "no example configs in {}", dir.display());
    }

    #[test]
    fn out_of_range_values_name_the_key() {
        let mut f = tempfile::NamedTempFile::new().expect("tmp");
        std::io::Write::write_all(&mut f, b"[identity]\npassword_hash_rounds = 2\n")
            .expect("write");
        let e = Config::load(Some(f.path()), None).expect_err("rejected");
        assert!(
            e.to_string().contains("identity.password_hash_rounds"),
            "{e}"
        );
    }
}
