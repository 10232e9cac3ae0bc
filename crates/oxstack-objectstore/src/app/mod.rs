//! The service's rules, free of HTTP: who may do what (keystoneauth), object writes and
//! reads over the data store, and Swift's middleware behaviours as plain functions and
//! [`App`] methods, one module each.

pub mod accounts;
pub mod bulk;
pub mod containers;
pub mod expiry;
pub mod formpost;
pub mod large;
pub mod meta;
pub mod objects;
pub mod quota;
pub mod staticweb;
pub mod symlink;
pub mod tar;
pub mod tempurl;
pub mod time;
pub mod versions;

use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt as _;
use oxstack_common::context::RequestContext;
use oxstack_common::error::ErrorKind;
use oxstack_common::{Error, Result};

use crate::ObjectStoreConfig;
use crate::acl::Acl;
use crate::data::{ByteStream, DataError, DataStore, Written};
use crate::store::{Meta, Object, Store};

/// The application state shared by every handler.
#[derive(Debug)]
pub struct App {
    pub store: Store,
    pub data: Arc<dyn DataStore>,
    pub config: ObjectStoreConfig,
}

/// What a request wants to do, for authorization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Account HEAD/GET/POST, container PUT/POST/DELETE: owners only.
    Owner,
    /// Container GET/HEAD (listing).
    List,
    ObjectRead,
    ObjectWrite,
}

pub use time::now_us;

/// One piece of an object's content: a data key and its length.
#[derive(Debug, Clone)]
pub struct Part {
    pub key: String,
    pub size: u64,
}

impl App {
    pub fn new(store: Store, data: Arc<dyn DataStore>, config: ObjectStoreConfig) -> App {
        App {
            store,
            data,
            config,
        }
    }

    fn is_reseller(&self, ctx: &RequestContext) -> bool {
        ctx.auth.as_ref().is_some_and(|a| {
            a.has_role("admin")
                || self
                    .config
                    .reseller_admin_roles
                    .iter()
                    .any(|r| a.has_role(r))
        })
    }

    /// Whether the caller may set account quotas (reseller admins only).
    pub fn may_set_quota(&self, ctx: &RequestContext) -> bool {
        self.is_reseller(ctx)
    }

    /// Whether the caller owns `account` (its project with an operator role, or a reseller).
    pub fn is_owner(&self, ctx: &RequestContext, account: &str) -> bool {
        if self.is_reseller(ctx) {
            return true;
        }
        ctx.auth.as_ref().is_some_and(|a| {
            a.project_id
                .as_deref()
                .is_some_and(|p| account.strip_prefix("AUTH_") == Some(p))
                && self.config.operator_roles.iter().any(|r| a.has_role(r))
        })
    }

    /// Keystoneauth's decision: owners may do anything in their account; others only what
    /// the container's ACLs grant. 401 for anonymous callers, 403 for the rest.
    pub fn authorize(
        &self,
        ctx: &RequestContext,
        account: &str,
        op: Op,
        container_meta: Option<&Meta>,
    ) -> Result<()> {
        if self.is_owner(ctx, account) {
            return Ok(());
        }
        let get = |k: &str| container_meta.and_then(|m| m.get(k)).map(String::as_str);
        let allowed = match op {
            Op::Owner => false,
            Op::List | Op::ObjectRead => {
                let acl = Acl::parse(get("x-container-read"));
                let by_user = ctx.auth.as_ref().is_some_and(|a| acl.grants_user(a));
                match op {
                    Op::List => (acl.public && acl.listings) || by_user,
                    _ => acl.public || by_user,
                }
            }
            Op::ObjectWrite => {
                let acl = Acl::parse(get("x-container-write"));
                ctx.auth.as_ref().is_some_and(|a| acl.grants_user(a))
            }
        };
        if allowed {
            Ok(())
        } else if ctx.auth.is_none() {
            Err(Error::unauthorized("Unauthorized"))
        } else {
            Err(Error::forbidden("Forbidden"))
        }
    }

    /// Writes a body to a fresh data key; `limit` bounds it (413 beyond).
    pub async fn write_data(&self, body: ByteStream, limit: u64) -> Result<(String, Written)> {
        let key = uuid::Uuid::new_v4().simple().to_string();
        match self.data.put(&key, body, limit).await {
            Ok(w) => Ok((key, w)),
            Err(DataError::TooLarge { .. }) => Err(Error::new(
                ErrorKind::PayloadTooLarge,
                "Your request is too large.",
            )),
            Err(DataError::Input(e)) => Err(Error::new(
                ErrorKind::BadRequest,
                "The client disconnected while sending the body.",
            )
            .with_type(format!("{e}"))),
            Err(e) => Err(Error::internal("object data", e)),
        }
    }

    /// Removes data no row points at any more (failures are only logged).
    pub async fn drop_data(&self, key: &str) {
        if let Err(e) = self.data.delete(key).await {
            tracing::warn!(key, error = %e, "object data not removed");
        }
    }

    /// A live (not expired) object.
    pub async fn object_live(
        &self,
        account: &str,
        container: &str,
        name: &str,
    ) -> Result<Option<Object>> {
        let now = now_us();
        Ok(self
            .store
            .object_get(account, container, name)
            .await?
            .filter(|o| expiry::is_live(o, now)))
    }

    /// A stream of `len` bytes from `start` over the concatenation of `parts`.
    pub fn stream_parts(self: &Arc<Self>, parts: Vec<Part>, start: u64, len: u64) -> ByteStream {
        let app = self.clone();
        let mut plan = Vec::new();
        let (mut pos, end) = (0u64, start + len);
        for p in parts {
            let (ps, pe) = (pos, pos + p.size);
            pos = pe;
            if pe <= start || ps >= end {
                continue;
            }
            let off = start.saturating_sub(ps);
            let take = pe.min(end) - (ps + off);
            plan.push((p.key, off, take));
        }
        let s = futures_util::stream::iter(plan)
            .then(move |(key, off, take)| {
                let app = app.clone();
                async move {
                    app.data
                        .get(&key, off, Some(take))
                        .await
                        .map_err(std::io::Error::other)
                }
            })
            .map(|r| match r {
                Ok(s) => s,
                Err(e) => Box::pin(futures_util::stream::once(async move { Err(e) })) as ByteStream,
            })
            .flatten();
        Box::pin(s)
    }

    /// The start-up cleanup after a crash. Writes make data durable before its row is
    /// committed and deletes commit the row before removing the data, so a crash can leave
    /// data no row names, never a row without data; this removes that unnamed data and
    /// returns how many pieces it removed. Rows whose data is missing (a lost disk, not a
    /// crash) are only reported: their objects answer 404/500 until rewritten or deleted.
    ///
    /// Must run before the service takes writes: a write in flight has data and no row yet.
    /// It assumes this process alone writes to its data directory, as the temporary-file
    /// cleanup of [`crate::data::FileStore::open`] does.
    pub async fn reconcile_data(&self) -> Result<usize> {
        let referenced = self.store.object_data_keys().await?;
        let present = self
            .data
            .keys()
            .await
            .map_err(|e| Error::internal("object data", e))?;
        let mut removed = 0;
        for key in &present {
            if !referenced.contains(key) {
                self.data
                    .delete(key)
                    .await
                    .map_err(|e| Error::internal("object data", e))?;
                removed += 1;
            }
        }
        let present: std::collections::HashSet<&String> = present.iter().collect();
        let missing = referenced.iter().filter(|k| !present.contains(k)).count();
        if missing > 0 {
            tracing::warn!(missing, "listing entries whose object data is missing");
        }
        Ok(removed)
    }
}

/// A one-chunk stream.
pub fn once(b: Bytes) -> ByteStream {
    Box::pin(futures_util::stream::once(async move { Ok(b) }))
}
