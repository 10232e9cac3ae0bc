//! The catalog: regions (a hierarchy), services and their endpoints, with Keystone's rules —
//! a region with endpoints below it cannot be deleted, an endpoint needs an existing service
//! and region, the legacy `region` attribute creates its region on the fly.

use oxstack_common::context::RequestContext;
use oxstack_common::{Error, Result};
use serde_json::{Map, Value, json};

use super::body::{
    check_len, expecting, extra_of, not_empty, opt_bool, opt_str, req_str, require_matching_id,
};
use super::{App, invalid, new_id, not_found};
use crate::model::{Endpoint, Region, Service};
use crate::store::StoreError;

const REGION_CORE: &[&str] = &["id", "description", "parent_region_id", "links"];
const SERVICE_CORE: &[&str] = &["id", "type", "enabled", "links"];
const ENDPOINT_CORE: &[&str] = &[
    "id",
    "service_id",
    "interface",
    "url",
    "region_id",
    "region",
    "enabled",
    "links",
    "legacy_endpoint_id",
];
/// Every interface an endpoint may have.
pub const INTERFACES: &[&str] = &["admin", "internal", "public"];
/// Deep enough for any real hierarchy; stops a corrupt cycle from looping forever.
const MAX_REGION_DEPTH: usize = 64;

/// Filters of `GET /v3/endpoints`.
#[derive(Debug, Default, Clone)]
pub struct EndpointFilter {
    pub service_id: Option<String>,
    pub interface: Option<String>,
    pub region_id: Option<String>,
}

fn region_id_field(body: &Map<String, Value>, key: &str) -> Result<Option<String>> {
    let v = opt_str(body, key)?;
    if let Some(s) = &v {
        check_len(key, s, 1, 255)?;
    }
    Ok(v)
}

fn interface_field(body: &Map<String, Value>) -> Result<Option<String>> {
    let i = opt_str(body, "interface")?;
    if let Some(i) = &i
        && !INTERFACES.contains(&i.as_str())
    {
        return Err(invalid(
            "interface",
            &format!("'{i}' is not one of ['admin', 'internal', 'public']"),
        ));
    }
    Ok(i)
}

fn url_field(body: &Map<String, Value>) -> Result<Option<String>> {
    let Some(url) = opt_str(body, "url")? else {
        return Ok(None);
    };
    check_len("url", &url, 0, 225)?;
    // `^[a-zA-Z0-9+.-]+:.+`: a scheme, a colon, something.
    let ok = url.split_once(':').is_some_and(|(scheme, rest)| {
        !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-'))
            && !rest.is_empty()
    });
    if !ok {
        return Err(invalid(
            "url",
            &format!("'{url}' does not match '^[a-zA-Z0-9+.-]+:.+'"),
        ));
    }
    Ok(Some(url))
}

fn merge_extra(v: &mut Value, extra: &Map<String, Value>) {
    if let Value::Object(m) = v {
        for (k, val) in extra {
            m.entry(k.clone()).or_insert_with(|| val.clone());
        }
    }
}

impl App {
    /// The JSON Keystone renders for a region.
    pub fn region_view(&self, r: &Region) -> Value {
        let mut v = json!({
            "id": r.id,
            "description": r.description.clone().unwrap_or_default(),
            "parent_region_id": r.parent_region_id,
            "links": self.link(&format!("regions/{}", r.id)),
        });
        merge_extra(&mut v, &r.extra);
        v
    }

    /// The JSON Keystone renders for a service (`name` defaults to empty).
    pub fn service_view(&self, s: &Service) -> Value {
        let mut v = json!({
            "id": s.id,
            "type": s.service_type,
            "enabled": s.enabled,
            "name": s.extra.get("name").cloned().unwrap_or(json!("")),
            "links": self.link(&format!("services/{}", s.id)),
        });
        merge_extra(&mut v, &s.extra);
        v
    }

    /// The JSON Keystone renders for an endpoint, with the legacy `region` alias.
    pub fn endpoint_view(&self, e: &Endpoint) -> Value {
        let mut v = json!({
            "id": e.id,
            "service_id": e.service_id,
            "interface": e.interface,
            "url": e.url,
            "region_id": e.region_id,
            "region": e.region_id,
            "enabled": e.enabled,
            "links": self.link(&format!("endpoints/{}", e.id)),
        });
        merge_extra(&mut v, &e.extra);
        v
    }

    async fn region_get(&self, id: &str) -> Result<Region> {
        self.store
            .region_get(id)
            .await?
            .ok_or_else(|| not_found("region", id))
    }

    pub async fn region_show(&self, ctx: &RequestContext, id: &str) -> Result<Region> {
        self.authorize(ctx, "identity:get_region", &json!({}))?;
        self.region_get(id).await
    }

    pub async fn region_list(
        &self,
        ctx: &RequestContext,
        parent_region_id: Option<&str>,
    ) -> Result<Vec<Region>> {
        self.authorize(ctx, "identity:list_regions", &json!({}))?;
        Ok(self.store.region_list(parent_region_id).await?)
    }

    /// `POST /v3/regions` (`path_id` `None`) and `PUT /v3/regions/{id}`.
    pub async fn region_create(
        &self,
        ctx: &RequestContext,
        path_id: Option<&str>,
        body: &Map<String, Value>,
    ) -> Result<Region> {
        self.authorize(ctx, "identity:create_region", &json!({}))?;
        let body_id = opt_str(body, "id")?;
        if let Some(id) = &body_id {
            check_len("id", id, 0, 255)?;
        }
        let id = match (path_id, body_id) {
            (Some(p), Some(b)) if p != b => {
                return Err(Error::bad_request(format!(
                    "Conflicting region IDs specified: \"{p}\" != \"{b}\""
                )));
            }
            (Some(p), _) => p.to_string(),
            (None, Some(b)) if !b.is_empty() => b,
            (None, _) => new_id(),
        };
        let parent_region_id = region_id_field(body, "parent_region_id")?;
        let region = Region {
            id: id.clone(),
            description: Some(opt_str(body, "description")?.unwrap_or_default()),
            parent_region_id,
            extra: extra_of(body, REGION_CORE),
        };
        if self.store.region_get(&id).await?.is_some() {
            return Err(Self::region_conflict(&id));
        }
        if let Some(p) = &region.parent_region_id {
            self.region_get(p).await?;
        }
        self.store
            .region_create(&region)
            .await
            .map_err(|e| match e {
                StoreError::Duplicate => Self::region_conflict(&id),
                e => e.into(),
            })?;
        Ok(region)
    }

    fn region_conflict(id: &str) -> Error {
        Error::conflict(format!(
            "Conflict occurred attempting to store region - Duplicate ID, {id}."
        ))
    }

    pub async fn region_update(
        &self,
        ctx: &RequestContext,
        id: &str,
        body: &Map<String, Value>,
    ) -> Result<Region> {
        self.authorize(ctx, "identity:update_region", &json!({}))?;
        not_empty(body, "region")?;
        require_matching_id(body, id)?;
        let mut region = self.region_get(id).await?;
        if body.contains_key("description") {
            region.description = Some(opt_str(body, "description")?.unwrap_or_default());
        }
        if body.contains_key("parent_region_id") {
            let parent = region_id_field(body, "parent_region_id")?;
            if let Some(p) = &parent {
                self.region_get(p).await?;
                self.check_no_region_cycle(id, p).await?;
            }
            region.parent_region_id = parent;
        }
        for (k, v) in extra_of(body, REGION_CORE) {
            region.extra.insert(k, v);
        }
        self.store.region_update(&region).await?;
        Ok(region)
    }

    /// 400 when making `parent` the parent of `id` would close a loop.
    async fn check_no_region_cycle(&self, id: &str, parent: &str) -> Result<()> {
        let mut next = Some(parent.to_string());
        let mut depth = 0;
        while let Some(cur) = next {
            if cur == id || depth > MAX_REGION_DEPTH {
                return Err(Error::bad_request(format!(
                    "The specified parent region {parent} would create a circular region hierarchy."
                )));
            }
            depth += 1;
            next = self
                .store
                .region_get(&cur)
                .await?
                .and_then(|r| r.parent_region_id);
        }
        Ok(())
    }

    /// Deletes a region and every region below it; refused while any of them has endpoints.
    pub async fn region_delete(&self, ctx: &RequestContext, id: &str) -> Result<()> {
        self.authorize(ctx, "identity:delete_region", &json!({}))?;
        let region = self.region_get(id).await?;
        // Breadth-first: the region, then its children, grandchildren, ...
        let mut subtree = vec![region.id.clone()];
        let mut i = 0;
        while i < subtree.len() && subtree.len() <= MAX_REGION_DEPTH * 64 {
            for child in self.store.region_list(Some(&subtree[i])).await? {
                if !subtree.contains(&child.id) {
                    subtree.push(child.id);
                }
            }
            i += 1;
        }
        let endpoints = self.store.endpoint_list().await?;
        if endpoints
            .iter()
            .any(|e| e.region_id.as_ref().is_some_and(|r| subtree.contains(r)))
        {
            return Err(Error::forbidden(format!(
                "Unable to delete region {id} because it or its child regions have associated endpoints."
            )));
        }
        for r in subtree.iter().rev() {
            self.store.region_delete(r).await?;
        }
        Ok(())
    }

    async fn service_get(&self, id: &str) -> Result<Service> {
        self.store
            .service_get(id)
            .await?
            .ok_or_else(|| not_found("service", id))
    }

    pub async fn service_show(&self, ctx: &RequestContext, id: &str) -> Result<Service> {
        self.authorize(ctx, "identity:get_service", &json!({}))?;
        self.service_get(id).await
    }

    pub async fn service_list(
        &self,
        ctx: &RequestContext,
        service_type: Option<&str>,
        name: Option<&str>,
    ) -> Result<Vec<Service>> {
        self.authorize(ctx, "identity:list_services", &json!({}))?;
        let mut items = self.store.service_list(service_type).await?;
        if let Some(n) = name {
            items.retain(|s| s.extra.get("name").and_then(Value::as_str) == Some(n));
        }
        Ok(items)
    }

    fn service_fields(s: &mut Service, body: &Map<String, Value>) -> Result<()> {
        if body.contains_key("type") {
            s.service_type = req_str(body, "type", 1, 255)?;
        }
        if let Some(e) = opt_bool(body, "enabled")? {
            s.enabled = e;
        }
        if let Some(n) = opt_str(body, "name")? {
            check_len("name", &n, 1, 255)?;
        }
        for (k, v) in extra_of(body, SERVICE_CORE) {
            s.extra.insert(k, v);
        }
        Ok(())
    }

    pub async fn service_create(
        &self,
        ctx: &RequestContext,
        body: &Map<String, Value>,
    ) -> Result<Service> {
        self.authorize(ctx, "identity:create_service", &json!({}))?;
        let mut s = Service {
            id: new_id(),
            service_type: req_str(body, "type", 1, 255)?,
            enabled: true,
            extra: Map::new(),
        };
        Self::service_fields(&mut s, body)?;
        s.extra.entry("name").or_insert_with(|| json!(""));
        self.store.service_create(&s).await?;
        // Cached token bodies embed the catalog.
        self.invalidate_tokens().await;
        Ok(s)
    }

    pub async fn service_update(
        &self,
        ctx: &RequestContext,
        id: &str,
        body: &Map<String, Value>,
    ) -> Result<Service> {
        self.authorize(ctx, "identity:update_service", &json!({}))?;
        not_empty(body, "service")?;
        require_matching_id(body, id)?;
        let mut s = self.service_get(id).await?;
        Self::service_fields(&mut s, body)?;
        self.store.service_update(&s).await?;
        // Cached token bodies embed the catalog.
        self.invalidate_tokens().await;
        Ok(s)
    }

    /// Deletes a service and its endpoints.
    pub async fn service_delete(&self, ctx: &RequestContext, id: &str) -> Result<()> {
        self.authorize(ctx, "identity:delete_service", &json!({}))?;
        if !self.store.service_delete(id).await? {
            return Err(not_found("service", id));
        }
        self.invalidate_tokens().await;
        Ok(())
    }

    async fn endpoint_get(&self, id: &str) -> Result<Endpoint> {
        self.store
            .endpoint_get(id)
            .await?
            .ok_or_else(|| not_found("endpoint", id))
    }

    pub async fn endpoint_show(&self, ctx: &RequestContext, id: &str) -> Result<Endpoint> {
        self.authorize(ctx, "identity:get_endpoint", &json!({}))?;
        self.endpoint_get(id).await
    }

    pub async fn endpoint_list(
        &self,
        ctx: &RequestContext,
        f: &EndpointFilter,
    ) -> Result<Vec<Endpoint>> {
        self.authorize(ctx, "identity:list_endpoints", &json!({}))?;
        if let Some(i) = &f.interface
            && !INTERFACES.contains(&i.as_str())
        {
            return Err(invalid(
                "interface",
                &format!("'{i}' is not one of ['admin', 'internal', 'public']"),
            ));
        }
        let mut items = self.store.endpoint_list().await?;
        items.retain(|e| {
            f.service_id.as_ref().is_none_or(|s| *s == e.service_id)
                && f.interface.as_ref().is_none_or(|i| *i == e.interface)
                && f.region_id
                    .as_ref()
                    .is_none_or(|r| Some(r) == e.region_id.as_ref())
        });
        Ok(items)
    }

    /// Applies an endpoint body: validation, the legacy `region` (created when missing, as
    /// Keystone does for v2-style clients), and the existence of service and region.
    async fn endpoint_fields(&self, e: &mut Endpoint, body: &Map<String, Value>) -> Result<()> {
        if let Some(i) = interface_field(body)? {
            e.interface = i;
        }
        if let Some(u) = url_field(body)? {
            e.url = u;
        }
        if let Some(en) = opt_bool(body, "enabled")? {
            e.enabled = en;
        }
        if body.contains_key("service_id") {
            let s = opt_str(body, "service_id")?
                .ok_or_else(|| invalid("service_id", "None is not of type 'string'"))?;
            if self.store.service_get(&s).await?.is_none() {
                return Err(expecting("endpoint service_id", "service table"));
            }
            e.service_id = s;
        }
        let region_id = opt_str(body, "region_id")?;
        let legacy = opt_str(body, "region")?;
        match (region_id, legacy) {
            (Some(r), _) => {
                if self.store.region_get(&r).await?.is_none() {
                    return Err(expecting("endpoint region_id", "region table"));
                }
                e.region_id = Some(r);
            }
            (None, Some(r)) => {
                check_len("region", &r, 1, 255)?;
                if self.store.region_get(&r).await?.is_none() {
                    let region = Region {
                        id: r.clone(),
                        description: Some(String::new()),
                        parent_region_id: None,
                        extra: Map::new(),
                    };
                    match self.store.region_create(&region).await {
                        Ok(()) | Err(StoreError::Duplicate) => {}
                        Err(err) => return Err(err.into()),
                    }
                }
                e.region_id = Some(r);
            }
            (None, None) if body.contains_key("region_id") || body.contains_key("region") => {
                e.region_id = None;
            }
            (None, None) => {}
        }
        for (k, v) in extra_of(body, ENDPOINT_CORE) {
            e.extra.insert(k, v);
        }
        Ok(())
    }

    pub async fn endpoint_create(
        &self,
        ctx: &RequestContext,
        body: &Map<String, Value>,
    ) -> Result<Endpoint> {
        self.authorize(ctx, "identity:create_endpoint", &json!({}))?;
        for key in ["interface", "service_id", "url"] {
            if !body.contains_key(key) {
                return Err(invalid(key, &format!("'{key}' is a required property")));
            }
        }
        let mut e = Endpoint {
            id: new_id(),
            service_id: String::new(),
            interface: String::new(),
            url: String::new(),
            region_id: None,
            enabled: true,
            extra: Map::new(),
        };
        self.endpoint_fields(&mut e, body).await?;
        if e.url.is_empty() {
            return Err(invalid("url", "None is not of type 'string'"));
        }
        if e.interface.is_empty() {
            return Err(invalid("interface", "None is not of type 'string'"));
        }
        self.store.endpoint_create(&e).await?;
        // Cached token bodies embed the catalog.
        self.invalidate_tokens().await;
        Ok(e)
    }

    pub async fn endpoint_update(
        &self,
        ctx: &RequestContext,
        id: &str,
        body: &Map<String, Value>,
    ) -> Result<Endpoint> {
        self.authorize(ctx, "identity:update_endpoint", &json!({}))?;
        not_empty(body, "endpoint")?;
        require_matching_id(body, id)?;
        let mut e = self.endpoint_get(id).await?;
        self.endpoint_fields(&mut e, body).await?;
        self.store.endpoint_update(&e).await?;
        // Cached token bodies embed the catalog.
        self.invalidate_tokens().await;
        Ok(e)
    }

    pub async fn endpoint_delete(&self, ctx: &RequestContext, id: &str) -> Result<()> {
        self.authorize(ctx, "identity:delete_endpoint", &json!({}))?;
        if !self.store.endpoint_delete(id).await? {
            return Err(not_found("endpoint", id));
        }
        self.endpoint_filter_forget_endpoint(id).await?;
        self.invalidate_tokens().await;
        Ok(())
    }
}
