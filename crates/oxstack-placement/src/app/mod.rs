//! The placement service's logic: authorization, request validation, the rules of
//! providers, inventories, traits, aggregates, resource classes, allocations and allocation
//! candidates. Handlers call one method here; this layer calls the store.

mod allocations;
pub mod candidates;
mod providers;

use oxstack_common::context::{AuthInfo, RequestContext};
use oxstack_common::policy::Enforcer;
use oxstack_common::{Error, Result};
use serde_json::{Map, Value, json};

use crate::model;
use crate::store::{Store, StoreError};

pub use allocations::ConsumerAllocations;
pub use providers::{AggregatesView, InventoriesView, ProviderQuery};

/// The placement application.
#[derive(Debug)]
pub struct App {
    pub store: Store,
    pub policy: Enforcer,
}

impl App {
    /// Checks `rule` for the caller against `target` (the policy dict convention: the
    /// object acted on is under `"target"`); 401 without a token, 403 when denied.
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

    /// [`authorize`](Self::authorize) with an empty target (placement's rules look only at
    /// the caller's roles).
    pub fn authorize_any<'a>(&self, ctx: &'a RequestContext, rule: &str) -> Result<&'a AuthInfo> {
        self.authorize(ctx, rule, &json!({"target": {}}))
    }

    /// Whether `name` is a known resource class (standard or custom).
    pub async fn class_exists(&self, name: &str) -> Result<bool> {
        Ok(model::is_standard_class(name) || self.store.custom_class_exists(name).await?)
    }

    /// Whether `name` is a known trait (standard or custom).
    pub async fn trait_exists(&self, name: &str) -> Result<bool> {
        Ok(model::is_standard_trait(name) || self.store.custom_trait_exists(name).await?)
    }
}

/// The store's failures as API errors, with placement's error codes.
pub(crate) fn store_error(e: StoreError) -> Error {
    match e {
        StoreError::Duplicate => Error::conflict("Conflicting resource already exists.")
            .with_type("placement.duplicate_name"),
        StoreError::NotFound(what) => {
            Error::not_found(format!("No resource provider with uuid {what} found"))
        }
        StoreError::Conflict(m) => Error::conflict(m).with_type("placement.concurrent_update"),
        StoreError::InUse(m) => Error::conflict(m).with_type("placement.inventory.inuse"),
        StoreError::HasChildren(m) => {
            Error::conflict(m).with_type("placement.resource_provider.cannot_delete_parent")
        }
        StoreError::Capacity(m) => Error::conflict(format!("Unable to allocate inventory: {m}")),
        StoreError::Invalid(m) => Error::bad_request(m),
        StoreError::Sql(e) if crate::store::is_retryable(&e) => Error::conflict(
            "Another request changed the same resource provider at the same time; please retry.",
        )
        .with_type("placement.concurrent_update"),
        StoreError::Sql(e) => Error::internal("placement store", e),
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        store_error(e)
    }
}

// ---- body validation, in placement's (JSON schema) words ----

pub(crate) fn schema_error(detail: impl std::fmt::Display) -> Error {
    Error::bad_request(format!("JSON does not validate: {detail}"))
}

pub(crate) fn as_object<'a>(v: &'a Value, what: &str) -> Result<&'a Map<String, Value>> {
    v.as_object()
        .ok_or_else(|| schema_error(format!("{what} is not of type 'object'")))
}

/// Refuses keys outside `allowed` (`additionalProperties: false`).
pub(crate) fn only_keys(m: &Map<String, Value>, allowed: &[&str]) -> Result<()> {
    if let Some(k) = m.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(schema_error(format!(
            "Additional properties are not allowed ('{k}' was unexpected)"
        )));
    }
    Ok(())
}

pub(crate) fn required<'a>(m: &'a Map<String, Value>, key: &str) -> Result<&'a Value> {
    m.get(key)
        .ok_or_else(|| schema_error(format!("'{key}' is a required property")))
}

pub(crate) fn string_field(v: &Value, key: &str, max_len: usize) -> Result<String> {
    match v.as_str() {
        Some(s) if !s.is_empty() && s.chars().count() <= max_len => Ok(s.to_string()),
        Some("") => Err(schema_error(format!("'{key}' should be non-empty"))),
        Some(s) => Err(schema_error(format!("'{s}' is too long"))),
        None => Err(schema_error(format!("{v} is not of type 'string'"))),
    }
}

pub(crate) fn int_field(v: &Value, key: &str, min: i64, max: i64) -> Result<i64> {
    let n = v
        .as_i64()
        .ok_or_else(|| schema_error(format!("{v} is not of type 'integer' ({key})")))?;
    if n < min {
        return Err(schema_error(format!(
            "{n} is less than the minimum of {min} ({key})"
        )));
    }
    if n > max {
        return Err(schema_error(format!(
            "{n} is greater than the maximum of {max} ({key})"
        )));
    }
    Ok(n)
}

/// A UUID in its canonical (hyphenated, lowercase) form, or a schema error.
pub(crate) fn uuid_field(v: &Value, key: &str) -> Result<String> {
    let s = v
        .as_str()
        .ok_or_else(|| schema_error(format!("{v} is not of type 'string' ({key})")))?;
    parse_uuid(s).ok_or_else(|| schema_error(format!("'{s}' is not a 'uuid' ({key})")))
}

pub(crate) fn parse_uuid(s: &str) -> Option<String> {
    uuid::Uuid::parse_str(s)
        .ok()
        .map(|u| u.hyphenated().to_string())
}

/// 404 for a provider, in placement's words.
pub(crate) fn provider_not_found(uuid: &str) -> Error {
    Error::not_found(format!("No resource provider with uuid {uuid} found"))
        .with_type("placement.resource_provider.not_found")
}
