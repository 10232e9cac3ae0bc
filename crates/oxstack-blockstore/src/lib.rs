//! The block storage service: Cinder v3 (microversions 3.0–3.60), wire-compatible.
//!
//! Layers: [`api`] (HTTP, microversions) → [`app`] (rules, authorization, quotas, state
//! machines, background work) → [`store`] (SQL) and [`driver`] (the disks: `file` over
//! qemu-img, or `fake`).

pub mod api;
pub mod app;
pub mod config;
pub mod driver;
pub mod image;
pub mod microversion;
pub mod model;
pub mod policies;
pub mod store;

use std::path::PathBuf;
use std::sync::Arc;

use oxstack_common::db::Db;
use oxstack_common::policy::{Enforcer, EnforcerConfig, Overrides};
use oxstack_common::{Error, Result};

pub use config::BlockStoreConfig;
pub use store::MIGRATIONS;

use crate::app::App;
use crate::driver::{FakeDriver, FileDriver, VolumeDriver};
use crate::image::ImageClient;
use crate::store::Store;

/// The name migrations are recorded under.
pub const SERVICE: &str = "blockstore";

/// What the block storage service is opened with.
#[derive(Debug, Clone)]
pub struct BlockStoreOptions {
    pub config: BlockStoreConfig,
    pub db: Db,
    /// Where the `file` driver keeps its files (`[blockstore] volumes_dir` or
    /// `<data_dir>/volumes`).
    pub volumes_dir: PathBuf,
    /// `http://host:8776` as clients reach it.
    pub public_url: String,
    /// A driver to use instead of the configured one (tests).
    pub driver: Option<Arc<dyn VolumeDriver>>,
    /// The image service (volumes from images).
    pub image: Arc<dyn ImageClient>,
}

/// A running block storage API.
#[derive(Debug, Clone)]
pub struct BlockStore {
    app: Arc<App>,
}

impl BlockStore {
    /// Loads the policy, makes the default volume type and settles work a previous run left
    /// half-done; the database must be migrated.
    pub async fn open(opts: BlockStoreOptions) -> Result<BlockStore> {
        let overrides = match &opts.config.policy_file {
            Some(path) => Overrides::load(path).map_err(|e| Error::internal("policy file", e))?,
            None => Overrides::new(),
        };
        let policy =
            Enforcer::with_overrides(&policies::all(), &overrides, EnforcerConfig::default())
                .map_err(|e| Error::internal("policy", e))?;
        let driver: Arc<dyn VolumeDriver> = match (opts.driver, opts.config.driver.as_str()) {
            (Some(d), _) => d,
            (None, "fake") => Arc::new(FakeDriver::default()),
            (None, _) => Arc::new(
                FileDriver::new(&opts.volumes_dir)
                    .map_err(|e| Error::internal("volumes directory", e))?,
            ),
        };
        let app = Arc::new(App {
            store: Store::new(opts.db.clone()),
            config: opts.config.clone(),
            policy,
            driver,
            image: opts.image.clone(),
            scratch_dir: opts.volumes_dir.join("tmp"),
            public_url: opts.public_url.clone(),
        });
        app.ensure_default_type().await?;
        app.recover().await?;
        Ok(BlockStore { app })
    }

    /// The Cinder routes (to be wrapped in the shared HTTP stack with `ErrorStyle::Nova`).
    pub fn router(&self) -> axum::Router {
        api::router(self.app.clone())
    }
}
