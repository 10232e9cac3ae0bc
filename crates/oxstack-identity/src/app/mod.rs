//! The identity service's logic: authentication, tokens, authorization and the rules of
//! every resource. Handlers call one method here; this layer calls the store.

mod app_creds;
mod assignments;
mod body;
mod catalog;
mod credentials;
mod domain_config;
mod ec2_credentials;
mod endpoint_filter;
pub mod grants;
mod groups;
pub mod memo;
mod oauth;
mod policy_blobs;
mod resources;
pub mod roles;
pub mod tokens;
mod users;

use std::sync::{Arc, RwLock};

use oxstack_common::cache::Cache;
use oxstack_common::context::{AuthInfo, RequestContext};
use oxstack_common::policy::Enforcer;
use oxstack_common::{Error, Result};
use serde_json::Value;

use crate::config::IdentityConfig;
use crate::store::Store;
use crate::token::keys::Keys;

pub use app_creds::{AccessRuleFilter, NewAppCred};
pub use assignments::{EffectiveRoles, Target};
pub use catalog::EndpointFilter;
pub use credentials::{CredentialFilter, PlainCredential};
pub use ec2_credentials::Ec2Credential;
pub use endpoint_filter::Association;
pub use tokens::{AuthRequest, IssuedToken, TokenData};
pub use users::UserQuery;

/// The identity application.
#[derive(Debug)]
pub struct App {
    pub store: Store,
    pub config: IdentityConfig,
    pub keys: RwLock<Keys>,
    pub credential_keys: Keys,
    pub cache: Arc<dyn Cache>,
    pub policy: Enforcer,
    /// `http://host:5000`: the base of `links.self`.
    pub public_url: String,
    /// One permit per core for password hashing: hashes are CPU-bound, so running more at
    /// once only makes every login wait longer (and each would hold a blocking thread).
    pub hash_slots: tokio::sync::Semaphore,
    /// Token scopes resolved against the store (user, project, roles), by user and scope.
    pub scopes: memo::EpochMemo<tokens::Resolved>,
    /// Projects and domains found by id or name.
    pub projects: memo::EpochMemo<Option<crate::model::Project>>,
    /// Catalogs as a project (or no project: key "") sees them.
    pub catalogs: memo::EpochMemo<String>,
    /// Revocation events since a time (key ""): they only change with the epoch.
    pub revocations: memo::EpochMemo<(i64, Vec<crate::model::RevocationEvent>)>,
}

impl App {
    /// The primary key set (cloned so no lock is held across await points).
    pub fn keys(&self) -> Keys {
        self.keys.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Checks `rule` for the caller against `target`; 401 without a token, 403 when denied.
    pub fn authorize<'a>(
        &self,
        ctx: &'a RequestContext,
        rule: &str,
        target: &Value,
    ) -> Result<&'a AuthInfo> {
        let auth = ctx.require_auth()?;
        self.policy.authorize(rule, auth, target)?;
        Ok(auth)
    }

    /// `links.self` of a resource.
    pub fn link(&self, path: &str) -> Value {
        serde_json::json!({ "self": format!("{}/v3/{path}", self.public_url) })
    }
}

/// A new random id (Keystone's: 32 lowercase hex characters).
pub fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// 404 in Keystone's words: `Could not find project: abc.`
pub fn not_found(kind: &str, id: &str) -> Error {
    Error::not_found(format!("Could not find {kind}: {id}."))
}

/// 400 for a request body that does not validate, in Keystone's words.
pub fn invalid(field: &str, problem: &str) -> Error {
    Error::bad_request(format!("Invalid input for field '{field}': {problem}"))
}
