//! The placement service: Placement API 1.x (up to [`microversion::MAX`]), wire-compatible
//! with the `openstack` CLI (osc-placement) and with Nova's scheduler and resource tracker.
//!
//! Layers: [`api`] (HTTP, microversions) → [`app`] (rules, authorization, allocation
//! candidates) → [`store`] (SQL; atomic claims). [`microversion`] keeps the version history.

pub mod api;
pub mod app;
pub mod config;
pub mod microversion;
pub mod model;
pub mod policies;
pub mod store;

use std::sync::Arc;

use oxstack_common::db::Db;
use oxstack_common::policy::{Enforcer, EnforcerConfig, Overrides};
use oxstack_common::{Error, Result};

pub use config::PlacementConfig;
pub use store::MIGRATIONS;

use crate::app::App;
use crate::store::Store;

/// The service name its migrations are recorded under.
pub const SERVICE: &str = "placement";

/// A running placement service.
#[derive(Debug, Clone)]
pub struct Placement {
    app: Arc<App>,
}

impl Placement {
    /// Loads the policy; the database must be migrated.
    pub fn open(config: &PlacementConfig, db: Db) -> Result<Placement> {
        let overrides = match &config.policy_file {
            Some(path) => Overrides::load(path).map_err(|e| Error::internal("policy file", e))?,
            None => Overrides::new(),
        };
        let policy =
            Enforcer::with_overrides(policies::DEFAULTS, &overrides, EnforcerConfig::default())
                .map_err(|e| Error::internal("policy", e))?;
        Ok(Placement {
            app: Arc::new(App {
                store: Store::new(db),
                policy,
            }),
        })
    }

    /// The Placement routes (to be wrapped in the shared HTTP stack with
    /// `ErrorStyle::Placement`).
    pub fn router(&self) -> axum::Router {
        api::router(self.app.clone())
    }

    /// The policy engine (for the persona matrix snapshot).
    pub fn policy(&self) -> &Enforcer {
        &self.app.policy
    }
}
