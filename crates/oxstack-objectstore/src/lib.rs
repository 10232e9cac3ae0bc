//! The object storage service: Swift v1, wire-compatible, on a durable on-disk store.
//!
//! Layers: [`api`] (HTTP: routes, parsing, rendering; one file per area, Swift's
//! middleware behaviours included) → [`app`] (Swift's rules on plain types: accounts,
//! containers, objects, quotas, versioning, large objects, bulk, temp URLs and form POST,
//! static web, expiry, authorization as keystoneauth decides it) → [`store`] (the listing
//! database) and [`data`] (object bytes behind the [`data::DataStore`] seam). Depends on
//! `oxstack-common` only.

pub mod acl;
pub mod api;
pub mod app;
pub mod config;
pub mod data;
pub mod store;

use std::path::PathBuf;
use std::sync::Arc;

use oxstack_common::db::Db;
use oxstack_common::{Error, Result};

pub use config::ObjectStoreConfig;
pub use store::MIGRATIONS;

use crate::app::App;
use crate::data::{DataStore, FileStore};

/// The service name recorded with the migrations.
pub const SERVICE: &str = "objectstore";

/// What the object storage service is opened with.
#[derive(Debug)]
pub struct ObjectStoreOptions {
    pub config: ObjectStoreConfig,
    /// Where object data lives (see [`ObjectStoreConfig::data_dir_for`]).
    pub data_dir: PathBuf,
    pub db: Db,
}

/// A running object storage service.
#[derive(Debug, Clone)]
pub struct ObjectStore {
    app: Arc<App>,
}

impl ObjectStore {
    /// Opens the data directory and cleans up after a crash (temporary files, data no
    /// listing row names); the database must be migrated.
    pub async fn open(opts: ObjectStoreOptions) -> Result<ObjectStore> {
        let dir = opts.data_dir.clone();
        let data = tokio::task::spawn_blocking(move || FileStore::open(&dir))
            .await
            .map_err(|e| Error::internal("object data", e))?
            .map_err(|e| Error::internal("object data directory", e))?;
        let os = Self::with_data_store(opts, Arc::new(data));
        // Before the router exists, so no write is in flight (see `App::reconcile_data`).
        match os.app.reconcile_data().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "object data left by a crash removed"),
            Err(e) => {
                tracing::warn!(error = %oxstack_common::http::error_chain(&e), "object data reconciliation failed")
            }
        }
        os.spawn_expirer(std::time::Duration::from_secs(60));
        Ok(os)
    }

    /// Runs the expirer every `period` until the service is dropped: objects past their
    /// `X-Delete-At` are already invisible; this removes their rows and data.
    fn spawn_expirer(&self, period: std::time::Duration) {
        let weak = Arc::downgrade(&self.app);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(app) = weak.upgrade() else { break };
                match app.expire_once().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(removed = n, "expired objects removed"),
                    Err(e) => {
                        tracing::warn!(error = %oxstack_common::http::error_chain(&e), "object expirer failed")
                    }
                }
            }
        });
    }

    /// Like [`open`](Self::open) with a given data store (tests use the fake).
    pub fn with_data_store(opts: ObjectStoreOptions, data: Arc<dyn DataStore>) -> ObjectStore {
        let app = App::new(store::Store::new(opts.db), data, opts.config);
        ObjectStore { app: Arc::new(app) }
    }

    /// The Swift routes (to be wrapped in the shared stack with `ErrorStyle::PlainText`).
    pub fn router(&self) -> axum::Router {
        api::router(self.app.clone())
    }

    /// Removes expired objects once (the periodic expirer calls this).
    pub async fn expire_once(&self) -> Result<usize> {
        self.app.expire_once().await
    }
}
