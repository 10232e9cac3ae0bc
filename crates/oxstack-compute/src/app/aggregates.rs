//! Host aggregates (`os-aggregates`, admin only): named groups of compute hosts with
//! metadata; the `availability_zone` item is the aggregate's zone.
// TODO-correctness: Nova mirrors membership into placement aggregates and gives member
// hosts the aggregate's zone in os-availability-zone and scheduling; neither is done yet.

use std::collections::BTreeMap;

use oxstack_common::context::RequestContext;
use oxstack_common::{Error, Result};
use serde_json::{Map, Value};

use super::{App, invalid, new_uuid, now};
use crate::model::Aggregate;
use crate::store::StoreError;

const ZONE: &str = "availability_zone";

fn not_found(id: &str) -> Error {
    Error::not_found(format!("Aggregate {id} could not be found."))
}

/// A name or zone: a string of 1 to 255 characters without surrounding blanks.
fn name_of(m: &Map<String, Value>, field: &str) -> Result<Option<String>> {
    match m.get(field) {
        None | Some(Value::Null) if field == ZONE => Ok(None),
        None => Ok(None),
        Some(Value::String(s))
            if (1..=255).contains(&s.chars().count()) && s.trim() == s.as_str() =>
        {
            Ok(Some(s.clone()))
        }
        Some(v) => Err(invalid(
            field,
            &format!("{v}. It must be a string of 1 to 255 characters without surrounding blanks"),
        )),
    }
}

impl App {
    fn aggregate_admin(&self, ctx: &RequestContext, action: &str) -> Result<()> {
        let c = self.caller(ctx)?;
        self.authorize_own(&c, &format!("os_compute_api:os-aggregates:{action}"))
    }

    async fn aggregate_by_id(&self, id: &str) -> Result<Aggregate> {
        let n: i64 = id.parse().map_err(|_| not_found(id))?;
        self.store
            .aggregate_get(n)
            .await?
            .ok_or_else(|| not_found(id))
    }

    pub async fn aggregates(&self, ctx: &RequestContext) -> Result<Vec<Aggregate>> {
        self.aggregate_admin(ctx, "index")?;
        Ok(self.store.aggregate_list().await?)
    }

    pub async fn aggregate(&self, ctx: &RequestContext, id: &str) -> Result<Aggregate> {
        self.aggregate_admin(ctx, "show")?;
        self.aggregate_by_id(id).await
    }

    pub async fn aggregate_create(
        &self,
        ctx: &RequestContext,
        body: &Map<String, Value>,
    ) -> Result<Aggregate> {
        self.aggregate_admin(ctx, "create")?;
        let name = name_of(body, "name")?
            .ok_or_else(|| invalid("aggregate", "'name' is a required property"))?;
        let mut meta = BTreeMap::new();
        if let Some(z) = name_of(body, ZONE)? {
            meta.insert(ZONE.to_string(), z);
        }
        let id = self
            .store
            .aggregate_create(&new_uuid(), &name, &meta, now())
            .await
            .map_err(|e| match e {
                StoreError::Duplicate => {
                    Error::conflict(format!("Aggregate {name} already exists."))
                }
                e => e.into(),
            })?;
        self.aggregate_by_id(&id.to_string()).await
    }

    pub async fn aggregate_update(
        &self,
        ctx: &RequestContext,
        id: &str,
        body: &Map<String, Value>,
    ) -> Result<Aggregate> {
        self.aggregate_admin(ctx, "update")?;
        let a = self.aggregate_by_id(id).await?;
        if body.is_empty() || body.keys().any(|k| k != "name" && k != ZONE) {
            return Err(invalid(
                "aggregate",
                "only 'name' and 'availability_zone' may be given, and one of them must be",
            ));
        }
        if let Some(name) = name_of(body, "name")? {
            self.store
                .aggregate_rename(a.id, &name, now())
                .await
                .map_err(|e| match e {
                    StoreError::Duplicate => {
                        Error::conflict(format!("Aggregate {name} already exists."))
                    }
                    e => e.into(),
                })?;
        }
        if body.contains_key(ZONE) {
            let zone = name_of(body, ZONE)?;
            self.store
                .aggregate_metadata_set(a.id, &BTreeMap::from([(ZONE.to_string(), zone)]), now())
                .await?;
        }
        self.aggregate_by_id(id).await
    }

    pub async fn aggregate_delete(&self, ctx: &RequestContext, id: &str) -> Result<()> {
        self.aggregate_admin(ctx, "delete")?;
        let a = self.aggregate_by_id(id).await?;
        if !a.hosts.is_empty() {
            return Err(Error::bad_request(format!(
                "Cannot remove aggregate {id}. Reason: Host aggregate is not empty."
            )));
        }
        self.store.aggregate_delete(a.id).await?;
        Ok(())
    }

    /// `add_host` / `remove_host`: the host must run a compute service.
    pub async fn aggregate_host(
        &self,
        ctx: &RequestContext,
        id: &str,
        host: &str,
        add: bool,
    ) -> Result<Aggregate> {
        self.aggregate_admin(ctx, if add { "add_host" } else { "remove_host" })?;
        let a = self.aggregate_by_id(id).await?;
        if self
            .store
            .service_get_by_host(host, "nova-compute")
            .await?
            .is_none()
        {
            return Err(Error::not_found(format!(
                "Compute host {host} could not be found."
            )));
        }
        if !self.store.aggregate_host(a.id, host, add).await? {
            return Err(if add {
                Error::conflict(format!("Aggregate {id} already has host {host}."))
            } else {
                Error::not_found(format!("Aggregate {id} has no host {host}."))
            });
        }
        self.aggregate_by_id(id).await
    }

    /// `set_metadata`: items with a null value are removed.
    pub async fn aggregate_set_metadata(
        &self,
        ctx: &RequestContext,
        id: &str,
        metadata: &Value,
    ) -> Result<Aggregate> {
        self.aggregate_admin(ctx, "set_metadata")?;
        let a = self.aggregate_by_id(id).await?;
        let m = metadata
            .as_object()
            .ok_or_else(|| invalid("metadata", "it is not an object"))?;
        let mut items = BTreeMap::new();
        for (k, v) in m {
            if !(1..=255).contains(&k.chars().count()) {
                return Err(invalid("metadata", &format!("'{k}' is not a valid key")));
            }
            let v = match v {
                Value::Null => None,
                Value::String(s) if s.chars().count() <= 255 => Some(s.clone()),
                other => {
                    return Err(invalid(
                        "metadata",
                        &format!("{other} is not a valid value"),
                    ));
                }
            };
            items.insert(k.clone(), v);
        }
        self.store
            .aggregate_metadata_set(a.id, &items, now())
            .await?;
        self.aggregate_by_id(id).await
    }
}
