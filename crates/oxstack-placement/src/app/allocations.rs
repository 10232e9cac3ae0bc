//! Allocations per consumer, per provider, and usages.

use std::collections::BTreeMap;

use oxstack_common::context::RequestContext;
use oxstack_common::{Error, Result};
use serde_json::{Value, json};

use super::{
    App, as_object, int_field, only_keys, parse_uuid, provider_not_found, required, schema_error,
    string_field, uuid_field,
};
use crate::microversion::Version;
use crate::model::{Allocation, Consumer, MAX_INT};
use crate::store::{ConsumerWrite, StoreError};

/// What `GET /allocations/{consumer}` shows.
#[derive(Debug)]
pub struct ConsumerAllocations {
    pub consumer: Option<Consumer>,
    /// `(allocation, provider generation)`.
    pub allocations: Vec<(Allocation, i64)>,
}

impl App {
    pub async fn allocations_show(
        &self,
        ctx: &RequestContext,
        consumer: &str,
    ) -> Result<ConsumerAllocations> {
        self.authorize_any(ctx, "placement:allocations:list")?;
        let allocations = self.store.allocations_for_consumer(consumer).await?;
        let consumer = self.store.consumer_get(consumer).await?;
        Ok(ConsumerAllocations {
            consumer,
            allocations,
        })
    }

    /// `PUT /allocations/{consumer}`.
    pub async fn allocations_put(
        &self,
        ctx: &RequestContext,
        v: Version,
        consumer: &str,
        body: &Value,
    ) -> Result<()> {
        self.authorize_any(ctx, "placement:allocations:update")?;
        let consumer = parse_uuid(consumer)
            .ok_or_else(|| Error::bad_request(format!("Malformed consumer_uuid: {consumer}")))?;
        let write = consumer_write(v, &consumer, body, false)?;
        self.write_allocations(vec![write], &consumer).await
    }

    /// `POST /allocations` (1.13): many consumers in one transaction.
    pub async fn allocations_post(
        &self,
        ctx: &RequestContext,
        v: Version,
        body: &Value,
    ) -> Result<()> {
        self.authorize_any(ctx, "placement:allocations:manage")?;
        let m = as_object(body, "body")?;
        if m.is_empty() {
            return Err(schema_error("{} does not have enough properties"));
        }
        let mut writes = Vec::new();
        for (c, data) in m {
            let uuid = parse_uuid(c).ok_or_else(|| {
                schema_error(format!(
                    "'{c}' does not match any of the regexes: '^[0-9a-fA-F-]{{36}}$'"
                ))
            })?;
            writes.push(consumer_write(v, &uuid, data, true)?);
        }
        self.write_allocations(writes, "").await
    }

    pub async fn allocations_delete(&self, ctx: &RequestContext, consumer: &str) -> Result<()> {
        self.authorize_any(ctx, "placement:allocations:delete")?;
        let existing = self.store.allocations_for_consumer(consumer).await?;
        let Some(c) = self.store.consumer_get(consumer).await? else {
            return Err(Error::not_found(format!(
                "No allocations for consumer '{consumer}'"
            )));
        };
        if existing.is_empty() {
            return Err(Error::not_found(format!(
                "No allocations for consumer '{consumer}'"
            )));
        }
        self.store
            .allocations_replace(&[ConsumerWrite {
                consumer_uuid: c.uuid,
                project_id: c.project_id,
                user_id: c.user_id,
                expected_generation: None,
                allocations: Vec::new(),
            }])
            .await
            .map_err(|e| allocation_error(e, consumer))
    }

    async fn write_allocations(&self, writes: Vec<ConsumerWrite>, consumer: &str) -> Result<()> {
        // Unknown resource classes are a 400 before any transaction.
        for w in &writes {
            for (_, rc, _) in &w.allocations {
                if !self.class_exists(rc).await? {
                    return Err(Error::bad_request(format!(
                        "Unable to allocate inventory for consumer {}: No such resource class {rc}.",
                        w.consumer_uuid
                    )));
                }
            }
        }
        self.store
            .allocations_replace(&writes)
            .await
            .map_err(|e| allocation_error(e, consumer))
    }

    pub async fn provider_allocations(
        &self,
        ctx: &RequestContext,
        uuid: &str,
    ) -> Result<(i64, Vec<Allocation>)> {
        self.authorize_any(ctx, "placement:resource_providers:allocations:list")?;
        let p = self.store.provider_get(uuid).await?.ok_or_else(|| {
            Error::not_found(format!(
                "Resource provider '{uuid}' not found: No resource provider with uuid {uuid} found"
            ))
        })?;
        Ok((
            p.generation,
            self.store.allocations_for_provider(uuid).await?,
        ))
    }

    pub async fn provider_usages(
        &self,
        ctx: &RequestContext,
        uuid: &str,
    ) -> Result<(i64, BTreeMap<String, i64>)> {
        self.authorize_any(ctx, "placement:resource_providers:usages")?;
        let p = self
            .store
            .provider_get(uuid)
            .await?
            .ok_or_else(|| provider_not_found(uuid))?;
        // Every inventory class shows, with 0 when nothing is allocated.
        let mut usages: BTreeMap<String, i64> = self
            .store
            .inventory_list(uuid)
            .await?
            .into_iter()
            .map(|i| (i.resource_class, 0))
            .collect();
        usages.extend(self.store.usages_for_provider(uuid).await?);
        Ok((p.generation, usages))
    }

    /// `GET /usages?project_id=&user_id=` (1.9).
    pub async fn usages(
        &self,
        ctx: &RequestContext,
        pairs: &[(String, String)],
    ) -> Result<BTreeMap<String, i64>> {
        let mut project = None;
        let mut user = None;
        for (k, val) in pairs {
            match k.as_str() {
                "project_id" => project = Some(val.clone()),
                "user_id" => user = Some(val.clone()),
                _ => {
                    return Err(Error::bad_request(format!(
                        "Invalid query string parameters: Additional properties are not allowed ('{k}' was unexpected)"
                    )));
                }
            }
        }
        let project = project.filter(|p| !p.is_empty()).ok_or_else(|| {
            Error::bad_request(
                "Invalid query string parameters: 'project_id' is a required property",
            )
        })?;
        self.authorize(
            ctx,
            "placement:usages",
            &json!({"target": {"project_id": project, "user_id": user}}),
        )?;
        Ok(self
            .store
            .usages_for_project(&project, user.as_deref())
            .await?)
    }
}

/// Parses one consumer's allocation body for version `v`. `multi` is `POST /allocations`
/// (which always has the dict form).
fn consumer_write(v: Version, consumer: &str, body: &Value, multi: bool) -> Result<ConsumerWrite> {
    let m = as_object(body, "body")?;
    let mut allowed = vec!["allocations"];
    if v.at_least(8) || multi {
        allowed.extend(["project_id", "user_id"]);
    }
    if v.at_least(28) {
        allowed.push("consumer_generation");
    }
    if v.at_least(34) {
        allowed.push("mappings");
    }
    only_keys(m, &allowed)?;
    let allocations_v = required(m, "allocations")?;
    let mut allocations = Vec::new();
    let mut add = |provider: String, resources: &Value| -> Result<()> {
        let r = as_object(resources, "resources")?;
        if r.is_empty() {
            return Err(schema_error(
                "{} does not have enough properties (resources)",
            ));
        }
        for (rc, amount) in r {
            allocations.push((
                provider.clone(),
                rc.clone(),
                int_field(amount, rc, 1, MAX_INT)?,
            ));
        }
        Ok(())
    };
    if v.at_least(12) || multi {
        let a = as_object(allocations_v, "allocations")?;
        if a.is_empty() && !v.at_least(28) {
            return Err(schema_error(
                "{} does not have enough properties (allocations)",
            ));
        }
        for (p, data) in a {
            let p = parse_uuid(p).ok_or_else(|| {
                schema_error(format!(
                    "'{p}' does not match any of the regexes (allocations)"
                ))
            })?;
            let d = as_object(data, "allocation")?;
            only_keys(d, &["resources", "generation"])?;
            add(p, required(d, "resources")?)?;
        }
    } else {
        let a = allocations_v
            .as_array()
            .ok_or_else(|| schema_error("'allocations' is not of type 'array'"))?;
        if a.is_empty() {
            return Err(schema_error("[] is too short (allocations)"));
        }
        for item in a {
            let d = as_object(item, "allocation")?;
            only_keys(d, &["resource_provider", "resources"])?;
            let rp = as_object(required(d, "resource_provider")?, "resource_provider")?;
            let p = uuid_field(required(rp, "uuid")?, "uuid")?;
            add(p, required(d, "resources")?)?;
        }
    }
    // Before 1.8 a consumer had no owner: placement used its configured "incomplete
    // consumer" ids.
    let owner = |key: &str| -> Result<String> {
        match m.get(key) {
            Some(x) => string_field(x, key, 255),
            None if v.at_least(8) || multi => {
                Err(schema_error(format!("'{key}' is a required property")))
            }
            None => Ok("00000000-0000-0000-0000-000000000000".to_string()),
        }
    };
    let project_id = owner("project_id")?;
    let user_id = owner("user_id")?;
    let expected_generation = if v.at_least(28) {
        match required(m, "consumer_generation")? {
            Value::Null => Some(None),
            g => Some(Some(int_field(g, "consumer_generation", 0, i64::MAX)?)),
        }
    } else {
        None
    };
    Ok(ConsumerWrite {
        consumer_uuid: consumer.to_string(),
        project_id,
        user_id,
        expected_generation,
        allocations,
    })
}

fn allocation_error(e: StoreError, consumer: &str) -> Error {
    match e {
        StoreError::Conflict(m) if m.starts_with("consumer generation conflict") => {
            Error::conflict(m).with_type("placement.concurrent_update")
        }
        StoreError::Conflict(m) => Error::conflict(format!(
            "Inventory and/or allocations changed while attempting to allocate: {m}"
        ))
        .with_type("placement.concurrent_update"),
        StoreError::Invalid(m) => Error::bad_request(m),
        StoreError::NotFound(m) if !consumer.is_empty() => Error::bad_request(format!(
            "Unable to allocate inventory for consumer {consumer}: {m}"
        )),
        e => e.into(),
    }
}
