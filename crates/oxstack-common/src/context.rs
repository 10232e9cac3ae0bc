//! Who is calling and for which request: the context every handler receives.
//!
//! The request-id layer (see [`crate::http`]) inserts [`RequestIds`]; the auth layer validates
//! `X-Auth-Token` (and `X-Service-Token`) through the [`TokenValidator`] seam that the identity
//! service implements, and inserts a [`RequestContext`]. This is oxstack's equivalent of
//! keystonemiddleware: every service authenticates in-process through it.

use std::sync::Arc;

use async_trait::async_trait;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};

use crate::Error;

/// The local and global request ids of one request.
#[derive(Debug, Clone)]
pub struct RequestIds {
    /// `req-<uuid>`, made for this request, returned in `x-openstack-request-id`.
    pub local: String,
    /// The caller's `X-OpenStack-Request-ID`, kept only when the caller is a service or an
    /// admin (see [`RequestContext::global_request_id`]).
    pub claimed_global: Option<String>,
}

/// A role as a token carries it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RoleRef {
    pub id: String,
    pub name: String,
}

/// What a validated token says about its bearer.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct AuthInfo {
    pub user_id: String,
    pub user_name: String,
    pub user_domain_id: String,
    pub user_domain_name: String,
    pub project_id: Option<String>,
    pub project_name: Option<String>,
    pub project_domain_id: Option<String>,
    pub project_domain_name: Option<String>,
    /// Set for domain-scoped tokens.
    pub domain_id: Option<String>,
    pub domain_name: Option<String>,
    /// `Some("all")` for system-scoped tokens.
    pub system_scope: Option<String>,
    pub roles: Vec<RoleRef>,
    pub is_admin_project: bool,
    pub methods: Vec<String>,
    pub audit_ids: Vec<String>,
    /// Microseconds since the epoch.
    pub expires_at: i64,
    pub issued_at: i64,
    pub application_credential_id: Option<String>,
}

impl AuthInfo {
    pub fn has_role(&self, name: &str) -> bool {
        self.roles.iter().any(|r| r.name.eq_ignore_ascii_case(name))
    }
}

/// The identity service's token validation, as every service sees it.
#[async_trait]
pub trait TokenValidator: Send + Sync + std::fmt::Debug {
    /// Validates `token`; an invalid, expired or revoked token is [`Error::unauthorized`].
    async fn validate(&self, token: &str) -> Result<AuthInfo, Error>;
}

/// The context of one request, available to every handler through the extractor.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub ids: RequestIds,
    /// The validated user token, if the request carried one.
    pub auth: Option<Arc<AuthInfo>>,
    /// The raw user token (forwarded on calls to other services).
    pub token: Option<String>,
    /// A validated `X-Service-Token`, if any.
    pub service: Option<Arc<AuthInfo>>,
}

impl RequestContext {
    /// The authenticated caller, or 401.
    pub fn require_auth(&self) -> Result<&Arc<AuthInfo>, Error> {
        self.auth.as_ref().ok_or_else(|| {
            Error::unauthorized("The request you have made requires authentication.")
        })
    }

    /// The global request id to carry through this operation: the caller's when it is a
    /// service (or admin) and so may set one, else this request's own id.
    pub fn global_request_id(&self) -> &str {
        let trusted = [self.auth.as_ref(), self.service.as_ref()]
            .into_iter()
            .flatten()
            .any(|a| a.has_role("service") || a.has_role("admin"));
        match (&self.ids.claimed_global, trusted) {
            (Some(g), true) => g,
            _ => &self.ids.local,
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestContext {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Error> {
        if let Some(ctx) = parts.extensions.get::<RequestContext>() {
            return Ok(ctx.clone());
        }
        // The auth layer did not run (a service without it): only request ids are known.
        let ids = parts
            .extensions
            .get::<RequestIds>()
            .cloned()
            .unwrap_or_else(|| RequestIds {
                local: crate::http::new_request_id(),
                claimed_global: None,
            });
        Ok(RequestContext {
            ids,
            auth: None,
            token: None,
            service: None,
        })
    }
}
