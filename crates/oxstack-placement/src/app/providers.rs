//! Resource providers, their inventories, traits and aggregates; resource classes and
//! traits.

use std::collections::BTreeSet;

use oxstack_common::context::RequestContext;
use oxstack_common::{Error, Result};
use serde_json::{Map, Value};

use super::candidates::{AggFilter, parse_member_of, parse_resources, parse_traits};
use super::{
    App, as_object, int_field, only_keys, parse_uuid, provider_not_found, required, schema_error,
    string_field, uuid_field,
};
use crate::microversion::Version;
use crate::model::{self, Inventory, MAX_INT, Provider};
use crate::store::{ProviderFilter, StoreError};

/// `GET /resource_providers` query parameters, already parsed.
#[derive(Debug, Default)]
pub struct ProviderQuery {
    pub name: Option<String>,
    pub uuid: Option<String>,
    pub in_tree: Option<String>,
    pub member_of: Vec<AggFilter>,
    pub resources: Vec<(String, i64)>,
    pub required: Vec<String>,
    pub forbidden: Vec<String>,
}

/// A provider's inventory with the generation it was read at.
#[derive(Debug)]
pub struct InventoriesView {
    pub generation: i64,
    pub inventories: Vec<Inventory>,
}

/// A provider's aggregates with its generation.
#[derive(Debug)]
pub struct AggregatesView {
    pub generation: i64,
    pub aggregates: Vec<String>,
}

const PROVIDER_NAME_MAX: usize = 200;

impl App {
    pub async fn provider_get(&self, uuid: &str) -> Result<Provider> {
        self.store
            .provider_get(uuid)
            .await?
            .ok_or_else(|| provider_not_found(uuid))
    }

    pub async fn provider_create(
        &self,
        ctx: &RequestContext,
        v: Version,
        body: &Value,
    ) -> Result<Provider> {
        self.authorize_any(ctx, "placement:resource_providers:create")?;
        let m = as_object(body, "body")?;
        let mut allowed = vec!["name", "uuid"];
        if v.at_least(14) {
            allowed.push("parent_provider_uuid");
        }
        only_keys(m, &allowed)?;
        let name = string_field(required(m, "name")?, "name", PROVIDER_NAME_MAX)?;
        let uuid = match m.get("uuid") {
            Some(u) => uuid_field(u, "uuid")?,
            None => uuid::Uuid::new_v4().hyphenated().to_string(),
        };
        let parent = match m.get("parent_provider_uuid") {
            None | Some(Value::Null) => None,
            Some(p) => Some(uuid_field(p, "parent_provider_uuid")?),
        };
        let root_uuid = match &parent {
            None => uuid.clone(),
            Some(p) => {
                let parent = self.store.provider_get(p).await?.ok_or_else(|| {
                    Error::bad_request(format!(
                        "Unable to create resource provider \"{name}\", {uuid}: No such resource provider {p}."
                    ))
                })?;
                parent.root_uuid
            }
        };
        let p = Provider {
            uuid: uuid.clone(),
            name: name.clone(),
            generation: 0,
            parent_uuid: parent,
            root_uuid,
        };
        self.store.provider_create(&p).await.map_err(|e| match e {
            StoreError::Duplicate => {
                // Which key collided decides the message, as placement words it.
                Error::conflict(format!(
                    "Conflicting resource provider uuid: {uuid} or name: {name} already exists."
                ))
                .with_type("placement.duplicate_name")
            }
            e => e.into(),
        })?;
        Ok(p)
    }

    pub async fn provider_show(&self, ctx: &RequestContext, uuid: &str) -> Result<Provider> {
        self.authorize_any(ctx, "placement:resource_providers:show")?;
        self.provider_get(uuid).await
    }

    pub async fn provider_list(
        &self,
        ctx: &RequestContext,
        q: &ProviderQuery,
    ) -> Result<Vec<Provider>> {
        self.authorize_any(ctx, "placement:resource_providers:list")?;
        let mut filter = ProviderFilter {
            name: q.name.clone(),
            uuid: q.uuid.clone(),
            root_uuid: None,
        };
        if let Some(t) = &q.in_tree {
            match self.store.provider_get(t).await? {
                Some(p) => filter.root_uuid = Some(p.root_uuid),
                None => return Ok(Vec::new()),
            }
        }
        let providers = self.store.provider_list(&filter).await?;
        if q.member_of.is_empty()
            && q.resources.is_empty()
            && q.required.is_empty()
            && q.forbidden.is_empty()
        {
            return Ok(providers);
        }
        // TODO-performance: these filters run on a snapshot of the whole cloud.
        let snap = self.store.snapshot().await?;
        let empty = BTreeSet::new();
        Ok(providers
            .into_iter()
            .filter(|p| {
                let aggs = snap.aggregates.get(&p.uuid).unwrap_or(&empty);
                let traits = snap.traits.get(&p.uuid).unwrap_or(&empty);
                let invs = snap.inventories.get(&p.uuid);
                let usage = snap.usages.get(&p.uuid);
                q.member_of.iter().all(|f| f.matches(aggs))
                    && q.required.iter().all(|t| traits.contains(t))
                    && !q.forbidden.iter().any(|t| traits.contains(t))
                    && q.resources.iter().all(|(rc, amount)| {
                        invs.and_then(|i| i.iter().find(|i| &i.resource_class == rc))
                            .is_some_and(|inv| {
                                let used = usage.and_then(|u| u.get(rc)).copied().unwrap_or(0);
                                fits(inv, used, *amount)
                            })
                    })
            })
            .collect())
    }

    /// Parses the query of `GET /resource_providers` for version `v`.
    pub async fn provider_query(
        &self,
        v: Version,
        pairs: &[(String, String)],
    ) -> Result<ProviderQuery> {
        let mut allowed = vec!["name", "uuid"];
        if v.at_least(3) {
            allowed.push("member_of");
        }
        if v.at_least(4) {
            allowed.push("resources");
        }
        if v.at_least(14) {
            allowed.push("in_tree");
        }
        if v.at_least(18) {
            allowed.push("required");
        }
        let mut q = ProviderQuery::default();
        for (k, val) in pairs {
            if !allowed.contains(&k.as_str()) {
                return Err(Error::bad_request(format!(
                    "Invalid query string parameters: Additional properties are not allowed ('{k}' was unexpected)"
                )));
            }
            let repeated = pairs.iter().filter(|(k2, _)| k2 == k).count() > 1;
            if repeated && !(k == "member_of" && v.at_least(24)) {
                return Err(Error::bad_request(format!(
                    "Query parameter '{k}' may only be given once"
                ))
                .with_type("placement.query.duplicate_key"));
            }
            match k.as_str() {
                "name" => q.name = Some(val.clone()),
                "uuid" => {
                    q.uuid = Some(parse_uuid(val).ok_or_else(|| {
                        Error::bad_request(format!(
                            "Invalid query string parameters: '{val}' is not a 'uuid'"
                        ))
                    })?)
                }
                "in_tree" => {
                    q.in_tree = Some(parse_uuid(val).ok_or_else(|| {
                        Error::bad_request(format!(
                            "Invalid query string parameters: '{val}' is not a 'uuid'"
                        ))
                    })?)
                }
                "member_of" => q.member_of.push(parse_member_of(val, v)?),
                "resources" => q.resources = parse_resources(self, val).await?,
                "required" => (q.required, q.forbidden) = parse_traits(self, val, v).await?,
                _ => {}
            }
        }
        Ok(q)
    }

    pub async fn provider_update(
        &self,
        ctx: &RequestContext,
        v: Version,
        uuid: &str,
        body: &Value,
    ) -> Result<Provider> {
        self.authorize_any(ctx, "placement:resource_providers:update")?;
        let mut p = self.provider_get(uuid).await?;
        let m = as_object(body, "body")?;
        let mut allowed = vec!["name"];
        if v.at_least(14) {
            allowed.push("parent_provider_uuid");
        }
        only_keys(m, &allowed)?;
        let name = string_field(required(m, "name")?, "name", PROVIDER_NAME_MAX)?;
        if let Some(pv) = m.get("parent_provider_uuid") {
            let new_parent = match pv {
                Value::Null => None,
                pv => Some(uuid_field(pv, "parent_provider_uuid")?),
            };
            if new_parent != p.parent_uuid {
                // Re-parenting arrived in 1.37, beyond what we serve: only adopting an
                // orphan is allowed, as before 1.37.
                let err = |why: &str| {
                    Error::bad_request(format!(
                        "Unable to save resource provider {uuid}: Object action update failed because: {why}"
                    ))
                };
                if p.parent_uuid.is_some() {
                    return Err(err("re-parenting a provider is not currently allowed."));
                }
                let Some(np) = new_parent else {
                    return Err(err("un-parenting a provider is not currently allowed."));
                };
                let parent = self
                    .store
                    .provider_get(&np)
                    .await?
                    .ok_or_else(|| err("parent provider does not exist"))?;
                if parent.root_uuid == p.root_uuid {
                    return Err(err("creating loop in the provider tree is not allowed."));
                }
                // TODO-correctness: an orphan with children of its own would need their
                // root moved too; placement refuses to adopt such trees only since 1.37.
                p.parent_uuid = Some(np);
                p.root_uuid = parent.root_uuid;
            }
        }
        p.name = name.clone();
        self.store
            .provider_update(uuid, &p.name, p.parent_uuid.as_deref(), &p.root_uuid)
            .await
            .map_err(|e| match e {
                StoreError::Duplicate => Error::conflict(format!(
                    "Conflicting resource provider {name} already exists."
                ))
                .with_type("placement.duplicate_name"),
                e => e.into(),
            })?;
        Ok(p)
    }

    pub async fn provider_delete(&self, ctx: &RequestContext, uuid: &str) -> Result<()> {
        self.authorize_any(ctx, "placement:resource_providers:delete")?;
        self.store.provider_delete(uuid).await.map_err(|e| match e {
            StoreError::NotFound(_) => Error::not_found(format!(
                "No resource provider with uuid {uuid} found for delete"
            )),
            StoreError::InUse(m) => {
                Error::conflict(m).with_type("placement.resource_provider.inuse")
            }
            e => e.into(),
        })
    }

    // ---- inventories ----

    pub async fn inventory_list(
        &self,
        ctx: &RequestContext,
        uuid: &str,
    ) -> Result<InventoriesView> {
        self.authorize_any(ctx, "placement:resource_providers:inventories:list")?;
        let p = self.provider_get(uuid).await?;
        Ok(InventoriesView {
            generation: p.generation,
            inventories: self.store.inventory_list(uuid).await?,
        })
    }

    pub async fn inventory_show(
        &self,
        ctx: &RequestContext,
        uuid: &str,
        rc: &str,
    ) -> Result<(i64, Inventory)> {
        self.authorize_any(ctx, "placement:resource_providers:inventories:show")?;
        let p = self.provider_get(uuid).await?;
        let inv = self
            .store
            .inventory_list(uuid)
            .await?
            .into_iter()
            .find(|i| i.resource_class == rc)
            .ok_or_else(|| Error::not_found(format!("No inventory of class {rc} for {uuid}")))?;
        Ok((p.generation, inv))
    }

    /// `PUT /resource_providers/{uuid}/inventories`: replaces them all.
    pub async fn inventory_replace(
        &self,
        ctx: &RequestContext,
        v: Version,
        uuid: &str,
        body: &Value,
    ) -> Result<InventoriesView> {
        self.authorize_any(ctx, "placement:resource_providers:inventories:update")?;
        self.provider_get(uuid).await?;
        let m = as_object(body, "body")?;
        only_keys(m, &["inventories", "resource_provider_generation"])?;
        let seen = generation_of(m)?;
        let invs = as_object(required(m, "inventories")?, "inventories")?;
        let mut out = Vec::new();
        for (rc, data) in invs {
            out.push(self.inventory_from_body(v, rc, data, false).await?);
        }
        self.write_inventories(uuid, seen, out).await
    }

    /// `POST /resource_providers/{uuid}/inventories`: adds one class.
    pub async fn inventory_create(
        &self,
        ctx: &RequestContext,
        v: Version,
        uuid: &str,
        body: &Value,
    ) -> Result<(i64, Inventory)> {
        self.authorize_any(ctx, "placement:resource_providers:inventories:create")?;
        self.provider_get(uuid).await?;
        let m = as_object(body, "body")?;
        let rc = string_field(required(m, "resource_class")?, "resource_class", 255)?;
        let seen = generation_of(m)?;
        let mut data = m.clone();
        data.remove("resource_class");
        data.remove("resource_provider_generation");
        let inv = self
            .inventory_from_body(v, &rc, &Value::Object(data), false)
            .await?;
        let mut all = self.store.inventory_list(uuid).await?;
        if all.iter().any(|i| i.resource_class == rc) {
            return Err(Error::conflict(format!(
                "Update to resource provider {uuid} failed: inventory for {rc} already exists"
            )));
        }
        all.push(inv.clone());
        let view = self.write_inventories(uuid, seen, all).await?;
        Ok((view.generation, inv))
    }

    /// `PUT /resource_providers/{uuid}/inventories/{rc}`: creates or replaces one class.
    pub async fn inventory_update(
        &self,
        ctx: &RequestContext,
        v: Version,
        uuid: &str,
        rc: &str,
        body: &Value,
    ) -> Result<(i64, Inventory)> {
        self.authorize_any(ctx, "placement:resource_providers:inventories:update")?;
        self.provider_get(uuid).await?;
        let m = as_object(body, "body")?;
        let seen = generation_of(m)?;
        let mut data = m.clone();
        data.remove("resource_provider_generation");
        let inv = self
            .inventory_from_body(v, rc, &Value::Object(data), false)
            .await?;
        let mut all = self.store.inventory_list(uuid).await?;
        all.retain(|i| i.resource_class != rc);
        all.push(inv.clone());
        let view = self.write_inventories(uuid, seen, all).await?;
        Ok((view.generation, inv))
    }

    /// `DELETE /resource_providers/{uuid}/inventories/{rc}`.
    pub async fn inventory_delete(&self, ctx: &RequestContext, uuid: &str, rc: &str) -> Result<()> {
        self.authorize_any(ctx, "placement:resource_providers:inventories:delete")?;
        let p = self.provider_get(uuid).await?;
        let mut all = self.store.inventory_list(uuid).await?;
        let before = all.len();
        all.retain(|i| i.resource_class != rc);
        if all.len() == before {
            return Err(Error::not_found(format!(
                "No inventory of class {rc} found for delete"
            )));
        }
        self.write_inventories(uuid, p.generation, all).await?;
        Ok(())
    }

    /// `DELETE /resource_providers/{uuid}/inventories` (1.5).
    pub async fn inventory_delete_all(&self, ctx: &RequestContext, uuid: &str) -> Result<()> {
        self.authorize_any(ctx, "placement:resource_providers:inventories:delete")?;
        let p = self.provider_get(uuid).await?;
        self.write_inventories(uuid, p.generation, Vec::new())
            .await?;
        Ok(())
    }

    async fn write_inventories(
        &self,
        uuid: &str,
        seen: i64,
        inventories: Vec<Inventory>,
    ) -> Result<InventoriesView> {
        let generation = self
            .store
            .inventory_set(uuid, seen, &inventories)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => Error::conflict(format!(
                    "resource provider generation conflict: the generation of resource provider {uuid} is not {seen}; please refresh and retry"
                ))
                .with_type("placement.concurrent_update"),
                StoreError::NotFound(_) => provider_not_found(uuid),
                e => e.into(),
            })?;
        let mut inventories = inventories;
        inventories.sort_by(|a, b| a.resource_class.cmp(&b.resource_class));
        Ok(InventoriesView {
            generation,
            inventories,
        })
    }

    /// One inventory record from its JSON, with placement's defaults and checks.
    async fn inventory_from_body(
        &self,
        v: Version,
        rc: &str,
        data: &Value,
        _partial: bool,
    ) -> Result<Inventory> {
        if !self.class_exists(rc).await? {
            return Err(Error::bad_request(format!(
                "Unknown resource class in inventory for resource provider: {rc}"
            )));
        }
        let m = as_object(data, rc)?;
        only_keys(
            m,
            &[
                "total",
                "reserved",
                "min_unit",
                "max_unit",
                "step_size",
                "allocation_ratio",
            ],
        )?;
        let total = int_field(required(m, "total")?, "total", 1, MAX_INT)?;
        let get = |k: &str, min: i64, default: i64| -> Result<i64> {
            m.get(k)
                .map_or(Ok(default), |x| int_field(x, k, min, MAX_INT))
        };
        let inv = Inventory {
            resource_class: rc.to_string(),
            total,
            reserved: get("reserved", 0, 0)?,
            min_unit: get("min_unit", 1, 1)?,
            max_unit: get("max_unit", 1, MAX_INT)?,
            step_size: get("step_size", 1, 1)?,
            allocation_ratio: match m.get("allocation_ratio") {
                None => 1.0,
                Some(x) => {
                    let r = x.as_f64().ok_or_else(|| {
                        schema_error(format!("{x} is not of type 'number' (allocation_ratio)"))
                    })?;
                    if !(r > 0.0 && r <= 3.40282e38) {
                        return Err(schema_error(format!(
                            "{r} is less than or equal to the minimum of 0 (allocation_ratio)"
                        )));
                    }
                    r
                }
            },
        };
        let reserved_ok = if v.at_least(26) {
            inv.reserved <= inv.total
        } else {
            inv.reserved < inv.total
        };
        if !reserved_ok || inv.min_unit > inv.max_unit || inv.step_size > inv.max_unit {
            return Err(Error::bad_request(format!(
                "Unable to update inventory for resource provider: Invalid inventory for '{rc}': \
                 reserved must be less than total, min_unit no more than max_unit, step_size no more than max_unit"
            )));
        }
        Ok(inv)
    }

    // ---- provider traits ----

    pub async fn provider_traits(
        &self,
        ctx: &RequestContext,
        uuid: &str,
    ) -> Result<(i64, Vec<String>)> {
        self.authorize_any(ctx, "placement:resource_providers:traits:list")?;
        let p = self.provider_get(uuid).await?;
        Ok((p.generation, self.store.provider_traits(uuid).await?))
    }

    pub async fn provider_traits_set(
        &self,
        ctx: &RequestContext,
        uuid: &str,
        body: &Value,
    ) -> Result<(i64, Vec<String>)> {
        self.authorize_any(ctx, "placement:resource_providers:traits:update")?;
        self.provider_get(uuid).await?;
        let m = as_object(body, "body")?;
        only_keys(m, &["traits", "resource_provider_generation"])?;
        let seen = generation_of(m)?;
        let list = required(m, "traits")?
            .as_array()
            .ok_or_else(|| schema_error("'traits' is not of type 'array'"))?;
        let mut traits = Vec::new();
        for t in list {
            let t = string_field(t, "traits", 255)?;
            if traits.contains(&t) {
                return Err(schema_error("'traits' has non-unique elements"));
            }
            traits.push(t);
        }
        let mut unknown = Vec::new();
        for t in &traits {
            if !self.trait_exists(t).await? {
                unknown.push(t.clone());
            }
        }
        if !unknown.is_empty() {
            return Err(Error::bad_request(format!(
                "No such trait(s): {}.",
                unknown.join(", ")
            )));
        }
        let generation = self
            .store
            .provider_traits_set(uuid, seen, &traits)
            .await
            .map_err(|e| generation_conflict(e, uuid))?;
        traits.sort();
        Ok((generation, traits))
    }

    pub async fn provider_traits_delete(&self, ctx: &RequestContext, uuid: &str) -> Result<()> {
        self.authorize_any(ctx, "placement:resource_providers:traits:delete")?;
        let p = self.provider_get(uuid).await?;
        self.store
            .provider_traits_set(uuid, p.generation, &[])
            .await
            .map_err(|e| generation_conflict(e, uuid))?;
        Ok(())
    }

    // ---- aggregates ----

    pub async fn provider_aggregates(
        &self,
        ctx: &RequestContext,
        uuid: &str,
    ) -> Result<AggregatesView> {
        self.authorize_any(ctx, "placement:resource_providers:aggregates:list")?;
        let p = self.provider_get(uuid).await?;
        Ok(AggregatesView {
            generation: p.generation,
            aggregates: self.store.provider_aggregates(uuid).await?,
        })
    }

    pub async fn provider_aggregates_set(
        &self,
        ctx: &RequestContext,
        v: Version,
        uuid: &str,
        body: &Value,
    ) -> Result<AggregatesView> {
        self.authorize_any(ctx, "placement:resource_providers:aggregates:update")?;
        self.provider_get(uuid).await?;
        let (list, seen) = if v.at_least(19) {
            let m = as_object(body, "body")?;
            only_keys(m, &["aggregates", "resource_provider_generation"])?;
            (required(m, "aggregates")?, Some(generation_of(m)?))
        } else {
            (body, None)
        };
        let list = list
            .as_array()
            .ok_or_else(|| schema_error(format!("{list} is not of type 'array'")))?;
        let mut aggregates = Vec::new();
        for a in list {
            let a = uuid_field(a, "aggregates")?;
            if aggregates.contains(&a) {
                return Err(schema_error(format!(
                    "{} has non-unique elements",
                    Value::Array(list.clone())
                )));
            }
            aggregates.push(a);
        }
        let generation = self
            .store
            .provider_aggregates_set(uuid, seen, &aggregates)
            .await
            .map_err(|e| generation_conflict(e, uuid))?;
        aggregates.sort();
        Ok(AggregatesView {
            generation,
            aggregates,
        })
    }

    // ---- resource classes ----

    pub async fn class_list(&self, ctx: &RequestContext) -> Result<Vec<String>> {
        self.authorize_any(ctx, "placement:resource_classes:list")?;
        let mut out: Vec<String> = model::STANDARD_CLASSES
            .iter()
            .map(|s| s.to_string())
            .collect();
        out.extend(self.store.custom_class_list().await?);
        Ok(out)
    }

    pub async fn class_show(&self, ctx: &RequestContext, name: &str) -> Result<String> {
        self.authorize_any(ctx, "placement:resource_classes:show")?;
        if self.class_exists(name).await? {
            Ok(name.to_string())
        } else {
            Err(Error::not_found(format!("No such resource class {name}.")))
        }
    }

    pub async fn class_create(&self, ctx: &RequestContext, body: &Value) -> Result<String> {
        self.authorize_any(ctx, "placement:resource_classes:create")?;
        let m = as_object(body, "body")?;
        only_keys(m, &["name"])?;
        let name = string_field(required(m, "name")?, "name", 255)?;
        check_custom(&name, "name")?;
        self.store
            .custom_class_create(&name)
            .await
            .map_err(|e| match e {
                StoreError::Duplicate => {
                    Error::conflict(format!("Conflicting resource class already exists: {name}"))
                        .with_type("placement.duplicate_name")
                }
                e => e.into(),
            })?;
        Ok(name)
    }

    /// `PUT /resource_classes/{name}` (1.7+): true when created, false when it existed.
    pub async fn class_ensure(&self, ctx: &RequestContext, name: &str) -> Result<bool> {
        self.authorize_any(ctx, "placement:resource_classes:update")?;
        check_custom(name, "name")?;
        if self.store.custom_class_exists(name).await? {
            return Ok(false);
        }
        match self.store.custom_class_create(name).await {
            Ok(()) => Ok(true),
            Err(StoreError::Duplicate) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn class_delete(&self, ctx: &RequestContext, name: &str) -> Result<()> {
        self.authorize_any(ctx, "placement:resource_classes:delete")?;
        if model::is_standard_class(name) {
            return Err(Error::bad_request(format!(
                "Cannot delete standard resource class {name}: Cannot delete standard resource class {name}"
            )));
        }
        self.store
            .custom_class_delete(name)
            .await
            .map_err(|e| match e {
                StoreError::NotFound(_) => {
                    Error::not_found(format!("No such resource class {name}."))
                }
                StoreError::InUse(m) => Error::conflict(m),
                e => e.into(),
            })
    }

    // ---- traits ----

    pub async fn trait_list(
        &self,
        ctx: &RequestContext,
        name: Option<&str>,
        associated: Option<bool>,
    ) -> Result<Vec<String>> {
        self.authorize_any(ctx, "placement:traits:list")?;
        let mut all: BTreeSet<String> = model::standard_traits().map(str::to_string).collect();
        all.extend(self.store.custom_trait_list().await?);
        if let Some(filter) = name {
            if let Some(prefix) = filter.strip_prefix("startswith:") {
                all.retain(|t| t.starts_with(prefix));
            } else if let Some(list) = filter.strip_prefix("in:") {
                let wanted: BTreeSet<&str> = list.split(',').collect();
                all.retain(|t| wanted.contains(t.as_str()));
            } else {
                return Err(Error::bad_request(format!(
                    "Badly formatted name parameter. Expected name query string parameter in form: ?name=[in|startswith]:[name1,name2|prefix]. Got: \"{filter}\""
                )));
            }
        }
        if let Some(assoc) = associated {
            let used = self.store.associated_traits().await?;
            all.retain(|t| used.contains(t) == assoc);
        }
        Ok(all.into_iter().collect())
    }

    pub async fn trait_show(&self, ctx: &RequestContext, name: &str) -> Result<()> {
        self.authorize_any(ctx, "placement:traits:show")?;
        if self.trait_exists(name).await? {
            Ok(())
        } else {
            Err(Error::not_found(format!("No such trait(s): {name}")))
        }
    }

    /// `PUT /traits/{name}`: true when created.
    pub async fn trait_ensure(&self, ctx: &RequestContext, name: &str) -> Result<bool> {
        self.authorize_any(ctx, "placement:traits:update")?;
        if !model::is_custom_name(name) {
            return Err(Error::bad_request(format!(
                "The trait is invalid. A valid trait must be no longer than 255 characters, start with the prefix \"CUSTOM_\" and use following characters: \"A\"-\"Z\", \"0\"-\"9\" and \"_\" ({name})"
            )));
        }
        if self.store.custom_trait_exists(name).await? {
            return Ok(false);
        }
        match self.store.custom_trait_create(name).await {
            Ok(()) => Ok(true),
            Err(StoreError::Duplicate) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn trait_delete(&self, ctx: &RequestContext, name: &str) -> Result<()> {
        self.authorize_any(ctx, "placement:traits:delete")?;
        if model::is_standard_trait(name) {
            return Err(Error::bad_request(format!(
                "Cannot delete standard trait {name}."
            )));
        }
        self.store
            .custom_trait_delete(name)
            .await
            .map_err(|e| match e {
                StoreError::NotFound(_) => Error::not_found(format!("No such trait(s): {name}")),
                StoreError::InUse(m) => Error::conflict(m),
                e => e.into(),
            })
    }
}

/// Whether `amount` more of an inventory fits beside `used`, respecting the unit rules.
pub(crate) fn fits(inv: &Inventory, used: i64, amount: i64) -> bool {
    amount >= inv.min_unit
        && amount <= inv.max_unit
        && inv.step_size > 0
        && amount % inv.step_size == 0
        && used + amount <= inv.capacity()
}

fn generation_of(m: &Map<String, Value>) -> Result<i64> {
    int_field(
        required(m, "resource_provider_generation")?,
        "resource_provider_generation",
        0,
        i64::MAX,
    )
}

fn check_custom(name: &str, key: &str) -> Result<()> {
    if model::is_custom_name(name) && name.len() <= 255 {
        Ok(())
    } else {
        Err(schema_error(format!(
            "'{name}' does not match '^CUSTOM\\_[A-Z0-9_]+$' ({key})"
        )))
    }
}

fn generation_conflict(e: StoreError, uuid: &str) -> Error {
    match e {
        StoreError::Conflict(_) => Error::conflict(format!(
            "Resource provider's generation already changed. Please update the generation and try again. ({uuid})"
        ))
        .with_type("placement.concurrent_update"),
        StoreError::NotFound(_) => provider_not_found(uuid),
        e => e.into(),
    }
}
