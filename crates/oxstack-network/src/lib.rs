//! The networking service: Neutron v2.0 on :9696, wire-compatible with the `openstack` CLI
//! and Tempest's network tests.
//!
//! Layers: [`api`] (HTTP: parse, render, `fields=`/filters/sorting/pagination) → [`app`]
//! (Neutron's rules, authorization through the policy engine, IPAM requests, the data-plane
//! driver) → [`store`] (SQL; atomic IP and MAC allocation). [`driver`] is the data-plane seam
//! (`noop` for now); [`notifier`] tells compute of its servers' port changes (Neutron's Nova
//! notifier).

pub mod api;
pub mod app;
pub mod config;
pub mod driver;
pub mod ip;
pub mod notifier;
pub mod policies;
pub mod store;

use std::sync::Arc;

use oxstack_common::db::Db;
use oxstack_common::policy::{Enforcer, EnforcerConfig, Overrides};
use oxstack_common::{Error, Result};

pub use config::NetworkConfig;
pub use store::MIGRATIONS;

use crate::app::App;
use crate::notifier::{ComputeNotifier, NoNotifier};
use crate::store::Store;

/// The service name its migrations are recorded under.
pub const SERVICE: &str = "network";

/// A running networking service.
#[derive(Debug, Clone)]
pub struct Network {
    app: Arc<App>,
}

impl Network {
    /// Loads the policy and the data-plane driver; the database must be migrated. Compute
    /// hears nothing of port changes (see [`Network::open_with`]).
    pub fn open(config: &NetworkConfig, db: Db) -> Result<Network> {
        Self::open_with(config, db, Arc::new(NoNotifier))
    }

    /// [`Network::open`], telling compute of its servers' port changes through `notifier`.
    pub fn open_with(
        config: &NetworkConfig,
        db: Db,
        notifier: Arc<dyn ComputeNotifier>,
    ) -> Result<Network> {
        let overrides = match &config.policy_file {
            Some(path) => Overrides::load(path).map_err(|e| Error::internal("policy file", e))?,
            None => Overrides::new(),
        };
        let policy =
            Enforcer::with_overrides(policies::DEFAULTS, &overrides, EnforcerConfig::default())
                .map_err(|e| Error::internal("policy", e))?;
        let driver = driver::from_config(config)?;
        Ok(Network {
            app: Arc::new(App {
                store: Store::new(db),
                policy,
                config: config.clone(),
                driver,
                notifier,
            }),
        })
    }

    /// The Neutron routes (to be wrapped in the shared HTTP stack with `ErrorStyle::Neutron`).
    pub fn router(&self) -> axum::Router {
        api::router(self.app.clone())
    }

    /// The policy engine (for the persona matrix snapshot).
    pub fn policy(&self) -> &Enforcer {
        &self.app.policy
    }
}
