//! The identity service: Keystone v3, wire-compatible. Every other service authenticates
//! through it (in-process, through [`Identity::validator`]).
//!
//! Layers: [`api`] (HTTP) → [`app`] (rules, tokens, authorization) → [`store`] (SQL);
//! [`token`] is Keystone's Fernet token format and key repository.

pub mod api;
pub mod app;
mod bootstrap;
pub mod config;
pub mod model;
pub mod policies;
pub mod store;
pub mod token;

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use oxstack_common::cache::Cache;
use oxstack_common::context::{AuthInfo, TokenValidator};
use oxstack_common::db::Db;
use oxstack_common::policy::{Enforcer, EnforcerConfig, Overrides};
use oxstack_common::{Error, Result};

pub use bootstrap::{BootstrapSpec, CatalogEntry};
pub use config::IdentityConfig;
pub use store::MIGRATIONS;

use crate::app::App;
use crate::store::Store;

/// What the identity service is opened with.
#[derive(Debug)]
pub struct IdentityOptions {
    pub config: IdentityConfig,
    pub fernet_key_dir: PathBuf,
    pub credential_key_dir: PathBuf,
    pub db: Db,
    pub cache: Arc<dyn Cache>,
    /// `http://host:port` of the identity API as clients reach it.
    pub public_url: String,
}

/// A running identity service.
#[derive(Debug, Clone)]
pub struct Identity {
    app: Arc<App>,
}

impl Identity {
    /// Loads the keys and the policy; the database must be migrated.
    pub async fn open(opts: IdentityOptions) -> Result<Identity> {
        let keys = token::keys::load(&opts.fernet_key_dir)
            .map_err(|e| Error::internal("fernet keys", e))?;
        let credential_keys = token::keys::load(&opts.credential_key_dir)
            .map_err(|e| Error::internal("credential keys", e))?;
        let overrides = match &opts.config.policy_file {
            Some(path) => Overrides::load(path).map_err(|e| Error::internal("policy file", e))?,
            None => Overrides::new(),
        };
        // Keystone evaluates unscoped tokens as oslo does (as if project-scoped) and words its
        // refusals its own way.
        let config = EnforcerConfig {
            unscoped_is_project: true,
            ..EnforcerConfig::default()
        };
        let policy = Enforcer::with_overrides(&policies::all(), &overrides, config)
            .map_err(|e| Error::internal("policy", e))?
            .with_forbidden_message(|rule| {
                format!("You are not authorized to perform the requested action: {rule}.")
            });
        let app = App {
            store: Store::new(opts.db),
            config: opts.config,
            keys: RwLock::new(keys),
            credential_keys,
            cache: opts.cache,
            policy,
            public_url: opts.public_url,
            hash_slots: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(1, usize::from),
            ),
            scopes: app::memo::EpochMemo::new(10_000),
            projects: app::memo::EpochMemo::new(10_000),
            catalogs: app::memo::EpochMemo::new(10_000),
            revocations: app::memo::EpochMemo::new(1),
        };
        Ok(Identity { app: Arc::new(app) })
    }

    /// Token validation for every service's auth layer.
    pub fn validator(&self) -> Arc<dyn TokenValidator> {
        Arc::new(Validator(self.app.clone()))
    }

    /// The Keystone v3 routes (to be wrapped in the shared HTTP stack).
    pub fn router(&self) -> axum::Router {
        api::router(self.app.clone())
    }

    /// Creates what a new cloud needs; see [`BootstrapSpec`].
    pub async fn bootstrap(&self, spec: &BootstrapSpec) -> Result<()> {
        self.app.bootstrap(spec).await
    }
}

#[derive(Debug)]
struct Validator(Arc<App>);

#[async_trait]
impl TokenValidator for Validator {
    async fn validate(&self, token: &str) -> Result<AuthInfo> {
        self.0.validate_for_middleware(token).await
    }
}

/// A random secret of `len` characters from an unambiguous alphabet.
pub fn generate_secret(len: usize) -> String {
    use rand::RngExt as _;
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}
