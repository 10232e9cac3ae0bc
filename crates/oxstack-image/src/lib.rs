//! The image service: Glance v2, wire-compatible, with a streaming file store.
//!
//! Layers: [`api`] (HTTP) → [`app`] (Glance's rules, authorization) → [`store`] (SQL) and
//! [`data`] (image bytes behind the [`data::DataStore`] seam). Authentication comes from the
//! shared HTTP stack (`X-Auth-Token` through the identity service's validator); this crate
//! depends on `oxstack-common` only.

pub mod api;
pub mod app;
pub mod config;
pub mod data;
pub mod model;
pub mod policies;
pub mod store;

use std::path::PathBuf;
use std::sync::Arc;

use oxstack_common::db::Db;
use oxstack_common::policy::{Enforcer, EnforcerConfig, Overrides};
use oxstack_common::{Error, Result};

pub use config::ImageConfig;
pub use store::MIGRATIONS;

use crate::app::App;
use crate::data::{DataStore, FileStore};
use crate::store::Store;

/// What the image service is opened with.
#[derive(Debug)]
pub struct ImageOptions {
    pub config: ImageConfig,
    /// The file store's directory (see [`ImageConfig::store_dir_for`]).
    pub store_dir: PathBuf,
    pub db: Db,
    /// `http://host:port` of the image API as clients reach it.
    pub public_url: String,
}

/// A running image service.
#[derive(Debug, Clone)]
pub struct Image {
    app: Arc<App>,
}

impl Image {
    /// Opens the file store and loads the policy; the database must be migrated.
    pub async fn open(opts: ImageOptions) -> Result<Image> {
        let dir = opts.store_dir.clone();
        let store = tokio::task::spawn_blocking(move || FileStore::open(&dir))
            .await
            .map_err(|e| Error::internal("image store", e))?
            .map_err(|e| Error::internal("image store directory", e))?;
        Self::with_data_store(opts, Arc::new(store))
    }

    /// Like [`open`](Self::open) with a given data store (tests use the fake).
    pub fn with_data_store(opts: ImageOptions, data: Arc<dyn DataStore>) -> Result<Image> {
        let overrides = match &opts.config.policy_file {
            Some(path) => Overrides::load(path).map_err(|e| Error::internal("policy file", e))?,
            None => Overrides::new(),
        };
        let policy =
            Enforcer::with_overrides(policies::DEFAULTS, &overrides, EnforcerConfig::default())
                .map_err(|e| Error::internal("policy", e))?;
        let app = App {
            store: Store::new(opts.db),
            data,
            config: opts.config,
            policy,
            public_url: opts.public_url,
        };
        Ok(Image { app: Arc::new(app) })
    }

    /// The Glance v2 routes (to be wrapped in the shared HTTP stack with
    /// `ErrorStyle::PlainText`).
    pub fn router(&self) -> axum::Router {
        api::router(self.app.clone())
    }
}
