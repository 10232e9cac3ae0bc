//! The compute service's logic: authorization, validation, quotas, the state machine's
//! API-side transitions, and the conductor that schedules and builds servers. Handlers call
//! one method here; this layer calls the store, the typed clients and the agents over RPC.

pub mod admin;
mod aggregates;
mod bfv;
mod conductor;
mod extras;
pub mod flavors;
mod hosts;
pub mod images;
pub mod keypairs;
mod lifecycle;
mod netproxy;
mod networking;
mod os_volumes;
mod quotas;
mod servers;
pub mod usage;
mod volumes;
mod x509;

use std::sync::Arc;

use oxstack_common::context::{AuthInfo, RequestContext};
use oxstack_common::coord::Coordination;
use oxstack_common::policy::Enforcer;
use oxstack_common::{Error, Result};
use serde_json::{Value, json};

use crate::clients::{ImageClient, NetworkClient, PlacementClient, VolumeClient};
use crate::config::ComputeConfig;
use crate::rpc::{ComputeRpc, RpcContext};
use crate::store::Store;

pub use hosts::{HostEntry, HostResource};
pub use lifecycle::Rebuilt;
pub(crate) use lifecycle::SHELVED_IMAGE;
pub use networking::{Interface, InterfaceRequest};
pub use quotas::{QUOTA_RESOURCES, QuotaUsage};
pub use servers::{
    Backup, CreateRequest, Created, ListQuery, MetadataWrite, ServerList, disk_config,
};
pub use volumes::VolumeAttachRequest;

/// The compute application.
#[derive(Debug)]
pub struct App {
    pub store: Store,
    pub config: ComputeConfig,
    pub policy: Enforcer,
    pub image: Arc<dyn ImageClient>,
    pub placement: Arc<dyn PlacementClient>,
    pub network: Option<Arc<dyn NetworkClient>>,
    pub volume: Option<Arc<dyn VolumeClient>>,
    pub rpc: ComputeRpc,
    pub coord: Arc<dyn Coordination>,
    /// `http://host:8774`: the base of links.
    pub public_url: String,
    /// A handle on itself, for the conductor's background tasks.
    pub this: std::sync::OnceLock<std::sync::Weak<App>>,
}

/// The caller of one request, as the logic layer needs it.
#[derive(Debug, Clone)]
pub struct Caller<'a> {
    pub ctx: &'a RequestContext,
    pub auth: &'a AuthInfo,
    /// Nova's `context.is_admin` (the `context_is_admin` rule).
    pub is_admin: bool,
}

impl<'a> Caller<'a> {
    /// The caller's project (empty for tokens without one; compute rules need a project).
    pub fn project_id(&self) -> &str {
        self.auth.project_id.as_deref().unwrap_or("")
    }
    pub fn user_id(&self) -> &str {
        &self.auth.user_id
    }
    pub fn rpc(&self) -> RpcContext {
        RpcContext {
            request_id: self.ctx.ids.local.clone(),
            global_request_id: self.ctx.global_request_id().to_string(),
        }
    }
}

impl App {
    /// The authenticated caller, or 401.
    pub fn caller<'a>(&self, ctx: &'a RequestContext) -> Result<Caller<'a>> {
        let auth = ctx.require_auth()?;
        let is_admin = self.policy.enforce("context_is_admin", auth, &json!({}));
        Ok(Caller {
            ctx,
            auth,
            is_admin,
        })
    }

    /// Checks `rule` for the caller against `target`; 403 when denied.
    pub fn authorize(&self, c: &Caller<'_>, rule: &str, target: &Value) -> Result<()> {
        self.policy.authorize(rule, c.auth, target)
    }

    /// Authorizes `rule` on the caller's own project.
    pub fn authorize_own(&self, c: &Caller<'_>, rule: &str) -> Result<()> {
        self.authorize(
            c,
            rule,
            &json!({"project_id": c.project_id(), "user_id": c.user_id()}),
        )
    }

    /// Whether `rule` passes (no error).
    pub fn can(&self, c: &Caller<'_>, rule: &str, target: &Value) -> bool {
        self.policy.enforce(rule, c.auth, target)
    }

    /// `http://host:8774/v2.1/{path}`.
    pub fn self_link(&self, path: &str) -> String {
        format!("{}/v2.1/{path}", self.public_url)
    }

    /// `http://host:8774/{path}` (Nova's bookmark links carry no version).
    pub fn bookmark_link(&self, path: &str) -> String {
        format!("{}/{path}", self.public_url)
    }

    /// Nova's `[{"rel": "self"}, {"rel": "bookmark"}]`.
    pub fn links(&self, path: &str) -> Value {
        json!([
            {"rel": "self", "href": self.self_link(path)},
            {"rel": "bookmark", "href": self.bookmark_link(path)},
        ])
    }
}

/// A new uuid.
pub fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Nova's schema error wording.
pub fn invalid(field: &str, problem: &str) -> Error {
    Error::bad_request(format!(
        "Invalid input for field/attribute {field}. Value: {problem}"
    ))
}

pub(crate) fn now() -> i64 {
    oxstack_common::time::now().timestamp_micros()
}

/// Nova's `OverQuota` 403.
pub fn over_quota(resource: &str, requested: i64, used: i64, allowed: i64) -> Error {
    Error::forbidden(format!(
        "Quota exceeded for {resource}: Requested {requested}, but already used {used} of {allowed} {resource}"
    ))
}

/// Whether a string is a UUID (with or without dashes), as Nova's `uuidutils.is_uuid_like`.
pub fn is_uuid_like(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok()
}
