//! The compute service: Nova v2.1 (microversions 2.1–2.60), wire-compatible.
//!
//! Layers: [`api`] (HTTP, microversions) → [`app`] (rules, authorization, quotas, the
//! conductor and scheduler) → [`store`] (SQL); [`clients`] reach the image service,
//! placement, networking and block storage; [`rpc`] is the versioned interface to the compute [`agent`], which drives a
//! [`agent::ComputeDriver`]. The API process never touches a hypervisor.

pub mod agent;
pub mod api;
pub mod app;
pub mod clients;
pub mod config;
pub mod microversion;
pub mod model;
pub mod networking;
pub mod policies;
pub mod rpc;
pub mod states;
pub mod store;
pub mod volumes;

use std::sync::Arc;
use std::time::Duration;

use oxstack_common::bus::Bus;
use oxstack_common::coord::Coordination;
use oxstack_common::db::Db;
use oxstack_common::policy::{Enforcer, EnforcerConfig, Overrides};
use oxstack_common::{Error, Result};

pub use config::ComputeConfig;
pub use store::MIGRATIONS;

use crate::agent::{AgentHandle, AgentOptions, ComputeDriver};
use crate::app::App;
use crate::clients::{ImageClient, NetworkClient, PlacementClient, VolumeClient};
use crate::store::Store;

/// What the compute service is opened with.
#[derive(Debug, Clone)]
pub struct ComputeOptions {
    pub config: ComputeConfig,
    pub db: Db,
    pub bus: Arc<dyn Bus>,
    pub coord: Arc<dyn Coordination>,
    pub image: Arc<dyn ImageClient>,
    pub placement: Arc<dyn PlacementClient>,
    /// The networking service (`None`: servers get no ports, as before it existed).
    pub network: Option<Arc<dyn NetworkClient>>,
    /// The block storage service (`None`: servers have no volumes).
    pub volume: Option<Arc<dyn VolumeClient>>,
    /// `http://host:8774` as clients reach it.
    pub public_url: String,
}

/// A running compute API (and conductor).
#[derive(Debug, Clone)]
pub struct Compute {
    app: Arc<App>,
    opts: ComputeOptions,
}

impl Compute {
    /// Loads the policy and finishes work a previous run left half-done; the database must
    /// be migrated.
    pub async fn open(opts: ComputeOptions) -> Result<Compute> {
        let overrides = match &opts.config.policy_file {
            Some(path) => Overrides::load(path).map_err(|e| Error::internal("policy file", e))?,
            None => Overrides::new(),
        };
        let policy =
            Enforcer::with_overrides(&policies::all(), &overrides, EnforcerConfig::default())
                .map_err(|e| Error::internal("policy", e))?;
        let app = Arc::new(App {
            store: Store::new(opts.db.clone()),
            config: opts.config.clone(),
            policy,
            image: opts.image.clone(),
            placement: opts.placement.clone(),
            network: opts.network.clone(),
            volume: opts.volume.clone(),
            rpc: rpc::ComputeRpc::new(opts.bus.clone()),
            coord: opts.coord.clone(),
            public_url: opts.public_url.clone(),
            this: std::sync::OnceLock::new(),
        });
        let _ = app.this.set(Arc::downgrade(&app));
        app.recover().await?;
        Ok(Compute { app, opts })
    }

    /// The Nova routes (to be wrapped in the shared HTTP stack with `ErrorStyle::Nova`).
    pub fn router(&self) -> axum::Router {
        api::router(self.app.clone())
    }

    /// Starts a compute agent for `host` with `driver` in this process (all-in-one).
    pub async fn start_agent(
        &self,
        host: &str,
        driver: Arc<dyn ComputeDriver>,
    ) -> Result<AgentHandle> {
        agent::start(AgentOptions {
            host: host.to_string(),
            store: Store::new(self.opts.db.clone()),
            bus: self.opts.bus.clone(),
            coord: self.opts.coord.clone(),
            placement: self.opts.placement.clone(),
            image: self.opts.image.clone(),
            network: self.opts.network.clone(),
            volume: self.opts.volume.clone(),
            default_availability_zone: self.opts.config.default_availability_zone.clone(),
            driver,
            report_interval: Duration::from_secs(self.opts.config.report_interval_secs),
            sync_power_interval: Duration::from_secs(
                self.opts.config.sync_power_state_interval_secs,
            ),
            host_ip: "127.0.0.1".into(),
        })
        .await
    }

    /// The driver `[compute] driver` names: the fake sized from the configuration, or the
    /// qemu driver keeping its guests under `[compute.qemu] instances_path` (default
    /// `<data_dir>/instances`) and fetching images with tokens from `tokens`. Blocking (the
    /// qemu driver probes KVM).
    pub fn configured_driver(
        &self,
        data_dir: &std::path::Path,
        tokens: Arc<dyn clients::ServiceTokenSource>,
    ) -> Result<Arc<dyn ComputeDriver>> {
        let c = &self.opts.config;
        if c.driver == "qemu" {
            let instances_path = c
                .qemu
                .instances_path
                .clone()
                .unwrap_or_else(|| data_dir.join("instances"));
            let d = agent::qemu::QemuDriver::new(agent::qemu::QemuOptions {
                config: c.qemu.clone(),
                instances_path,
                image: self.opts.image.clone(),
                tokens,
            })
            .map_err(|e| Error::internal("qemu driver", e))?;
            return Ok(Arc::new(d));
        }
        Ok(Arc::new(
            agent::FakeDriver::new(agent::HostResources {
                vcpus: i64::from(c.fake_vcpus),
                memory_mb: c.fake_memory_mb as i64,
                disk_gb: c.fake_disk_gb as i64,
            })
            .with_snapshot_time(std::time::Duration::from_millis(c.fake_snapshot_ms)),
        ))
    }
}
