//! Flavors, their extra specs and access lists.

use std::collections::BTreeMap;

use oxstack_common::context::RequestContext;
use oxstack_common::{Error, Result};
use serde_json::{Map, Value};

use super::{App, invalid, new_uuid, now};
use crate::model::Flavor;
use crate::store::StoreError;

/// `GET /flavors` filters and paging.
#[derive(Debug, Default, Clone)]
pub struct FlavorQuery {
    /// `Some(true)`/`Some(false)`, or `None` for all (admins' `is_public=None`).
    pub is_public: Option<Option<bool>>,
    pub min_ram: Option<i64>,
    pub min_disk: Option<i64>,
    pub sort_key: Option<String>,
    pub sort_dir: Option<String>,
    pub limit: Option<usize>,
    pub marker: Option<String>,
}

pub(crate) fn flavor_not_found(id: &str) -> Error {
    Error::not_found(format!("Flavor {id} could not be found."))
}

fn int_field(m: &Map<String, Value>, key: &str, min: i64, default: Option<i64>) -> Result<i64> {
    let v = match m.get(key) {
        None => return default.ok_or_else(|| invalid(key, "'{key}' is a required property")),
        Some(v) => v,
    };
    let n = match v {
        Value::Number(n) => n.as_i64().filter(|_| n.is_i64() || n.is_u64()),
        Value::String(s) if key == "swap" && s.is_empty() => Some(0),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    match n {
        Some(n) if n >= min && n <= i32::MAX as i64 => Ok(n),
        _ => Err(Error::bad_request(format!(
            "Invalid input for field/attribute {key}. Value: {v}. {v} is not valid (must be an integer >= {min})"
        ))),
    }
}

fn valid_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 255 && s.trim() == s && !s.chars().any(char::is_control)
}

impl App {
    pub async fn flavor_create(
        &self,
        ctx: &RequestContext,
        m: &Map<String, Value>,
        with_description: bool,
    ) -> Result<Flavor> {
        let c = self.caller(ctx)?;
        self.authorize_own(&c, "os_compute_api:os-flavor-manage:create")?;
        let name = match m.get("name") {
            Some(Value::String(s)) if valid_name(s) => s.clone(),
            Some(v) => return Err(invalid("name", &format!("{v}. It is not a valid name"))),
            None => return Err(invalid("name", "'name' is a required property")),
        };
        let id = match m.get("id") {
            None | Some(Value::Null) => new_uuid(),
            Some(Value::String(s))
                if !s.is_empty()
                    && s.len() <= 255
                    && s.trim() == s
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "._- ".contains(c)) =>
            {
                s.clone()
            }
            Some(Value::Number(n)) if n.is_u64() => n.to_string(),
            Some(v) => return Err(invalid("id", &format!("{v}. It is not a valid flavor id"))),
        };
        let rxtx_factor = match m.get("rxtx_factor") {
            None => 1.0,
            Some(v) => match v
                .as_f64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            {
                Some(f) if f > 0.0 && f <= 3.40282e38 => f,
                _ => {
                    return Err(invalid(
                        "rxtx_factor",
                        &format!("{v}. must be a positive number"),
                    ));
                }
            },
        };
        let is_public = match m.get("os-flavor-access:is_public") {
            None => true,
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" | "t" | "y" => true,
                "false" | "0" | "no" | "off" | "f" | "n" => false,
                _ => return Err(invalid("os-flavor-access:is_public", s)),
            },
            Some(v) => return Err(invalid("os-flavor-access:is_public", &v.to_string())),
        };
        let description = if with_description {
            match m.get("description") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) if s.len() <= 65535 => Some(s.clone()),
                Some(v) => return Err(invalid("description", &v.to_string())),
            }
        } else if m.contains_key("description") {
            return Err(Error::bad_request(
                "Additional properties are not allowed ('description' was unexpected)",
            ));
        } else {
            None
        };
        let f = Flavor {
            id,
            name,
            memory_mb: int_field(m, "ram", 1, None)?,
            vcpus: int_field(m, "vcpus", 1, None)?,
            root_gb: int_field(m, "disk", 0, None)?,
            ephemeral_gb: int_field(m, "OS-FLV-EXT-DATA:ephemeral", 0, Some(0))?,
            swap: int_field(m, "swap", 0, Some(0))?,
            rxtx_factor,
            is_public,
            disabled: false,
            description,
            extra_specs: BTreeMap::new(),
            created_at: now(),
        };
        if self.store.flavor_get(&f.id).await?.is_some() {
            return Err(Error::conflict(format!(
                "Flavor with ID {} already exists.",
                f.id
            )));
        }
        match self.store.flavor_create(&f).await {
            Ok(()) => {}
            Err(StoreError::Duplicate) => {
                return Err(Error::conflict(format!(
                    "Flavor with name {} already exists.",
                    f.name
                )));
            }
            Err(e) => return Err(e.into()),
        }
        // Nova does not give the creating project access to its private flavor (bug
        // 1209101, kept for compatibility): the access list starts empty.
        Ok(f)
    }

    /// A flavor the caller may see (private flavors need access or admin).
    pub async fn flavor_show(&self, ctx: &RequestContext, id: &str) -> Result<Flavor> {
        let c = self.caller(ctx)?;
        let f = self
            .store
            .flavor_get(id)
            .await?
            .ok_or_else(|| flavor_not_found(id))?;
        if !f.is_public && !c.is_admin {
            let access = self.store.flavor_access_list(id).await?;
            if !access.iter().any(|p| p == c.project_id()) {
                return Err(flavor_not_found(id));
            }
        }
        Ok(f)
    }

    pub async fn flavor_list(&self, ctx: &RequestContext, q: &FlavorQuery) -> Result<Vec<Flavor>> {
        let c = self.caller(ctx)?;
        let mut all = self.store.flavor_list().await?;
        let accessible: Vec<String> = if c.is_admin {
            Vec::new()
        } else {
            self.store.flavor_access_for_project(c.project_id()).await?
        };
        all.retain(|f| {
            let visible = if c.is_admin {
                match q.is_public {
                    None => f.is_public,
                    Some(None) => true,
                    Some(Some(p)) => f.is_public == p,
                }
            } else {
                // Nova: non-admins see public flavors plus private ones they can access.
                f.is_public || accessible.contains(&f.id)
            };
            visible
                && !f.disabled
                && q.min_ram.is_none_or(|r| f.memory_mb >= r)
                && q.min_disk.is_none_or(|d| f.root_gb >= d)
        });
        let key = q.sort_key.as_deref().unwrap_or("flavorid");
        let cmp = |a: &Flavor, b: &Flavor| {
            match key {
                "name" => a.name.cmp(&b.name),
                "memory_mb" => a.memory_mb.cmp(&b.memory_mb),
                "vcpus" => a.vcpus.cmp(&b.vcpus),
                "root_gb" => a.root_gb.cmp(&b.root_gb),
                "ephemeral_gb" => a.ephemeral_gb.cmp(&b.ephemeral_gb),
                "swap" => a.swap.cmp(&b.swap),
                "created_at" => a.created_at.cmp(&b.created_at),
                _ => a.id.cmp(&b.id),
            }
            .then_with(|| a.id.cmp(&b.id))
        };
        let valid_keys = [
            "flavorid",
            "name",
            "memory_mb",
            "vcpus",
            "root_gb",
            "ephemeral_gb",
            "swap",
            "created_at",
            "id",
            "rxtx_factor",
            "is_public",
            "disabled",
            "description",
        ];
        if !valid_keys.contains(&key) {
            return Err(Error::bad_request(format!("Invalid sort_key: {key}")));
        }
        all.sort_by(cmp);
        match q.sort_dir.as_deref() {
            None | Some("asc") => {}
            Some("desc") => all.reverse(),
            Some(d) => return Err(Error::bad_request(format!("Invalid sort_dir: {d}"))),
        }
        if let Some(m) = &q.marker {
            let pos = all
                .iter()
                .position(|f| &f.id == m)
                .ok_or_else(|| Error::bad_request(format!("marker [{m}] not found")))?;
            all.drain(..=pos);
        }
        if let Some(l) = q.limit {
            all.truncate(l);
        }
        Ok(all)
    }

    pub async fn flavor_update(
        &self,
        ctx: &RequestContext,
        id: &str,
        m: &Map<String, Value>,
    ) -> Result<Flavor> {
        let c = self.caller(ctx)?;
        self.authorize_own(&c, "os_compute_api:os-flavor-manage:update")?;
        let description = match m.get("description") {
            Some(Value::Null) => None,
            Some(Value::String(s)) if s.len() <= 65535 => Some(s.clone()),
            Some(v) => return Err(invalid("description", &v.to_string())),
            None => {
                return Err(invalid(
                    "description",
                    "'description' is a required property",
                ));
            }
        };
        if m.len() != 1 {
            return Err(Error::bad_request(
                "Additional properties are not allowed; only 'description' may be updated",
            ));
        }
        if !self
            .store
            .flavor_update_description(id, description.as_deref())
            .await?
        {
            return Err(flavor_not_found(id));
        }
        self.store
            .flavor_get(id)
            .await?
            .ok_or_else(|| flavor_not_found(id))
    }

    pub async fn flavor_delete(&self, ctx: &RequestContext, id: &str) -> Result<()> {
        let c = self.caller(ctx)?;
        self.authorize_own(&c, "os_compute_api:os-flavor-manage:delete")?;
        if !self.store.flavor_delete(id).await? {
            return Err(flavor_not_found(id));
        }
        Ok(())
    }

    pub async fn flavor_extra_specs(
        &self,
        ctx: &RequestContext,
        id: &str,
    ) -> Result<BTreeMap<String, String>> {
        let c = self.caller(ctx)?;
        self.authorize_own(&c, "os_compute_api:os-flavor-extra-specs:index")?;
        let f = self.flavor_show(ctx, id).await?;
        Ok(f.extra_specs)
    }

    pub async fn flavor_extra_spec_show(
        &self,
        ctx: &RequestContext,
        id: &str,
        key: &str,
    ) -> Result<(String, String)> {
        let c = self.caller(ctx)?;
        self.authorize_own(&c, "os_compute_api:os-flavor-extra-specs:show")?;
        let f = self.flavor_show(ctx, id).await?;
        f.extra_specs
            .get(key)
            .map(|v| (key.to_string(), v.clone()))
            .ok_or_else(|| {
                Error::not_found(format!("Flavor {id} has no extra specs with key {key}."))
            })
    }

    /// `POST os-extra_specs` (all of `specs`) or `PUT os-extra_specs/{key}` (exactly `key`).
    pub async fn flavor_extra_specs_set(
        &self,
        ctx: &RequestContext,
        id: &str,
        specs: &Map<String, Value>,
        key: Option<&str>,
    ) -> Result<BTreeMap<String, String>> {
        let c = self.caller(ctx)?;
        let rule = if key.is_some() {
            "os_compute_api:os-flavor-extra-specs:update"
        } else {
            "os_compute_api:os-flavor-extra-specs:create"
        };
        self.authorize_own(&c, rule)?;
        if let Some(k) = key {
            if specs.len() > 1 {
                return Err(Error::bad_request("Request body contains too many items"));
            }
            if !specs.contains_key(k) {
                return Err(Error::bad_request("Request body and URI mismatch"));
            }
        }
        let mut out = BTreeMap::new();
        for (k, v) in specs {
            if k.is_empty()
                || k.len() > 255
                || !k
                    .chars()
                    .all(|c| c.is_alphanumeric() || "_.-: /".contains(c))
            {
                return Err(invalid("extra_specs", &format!("'{k}' is not a valid key")));
            }
            let v = match v {
                Value::String(s) if s.len() <= 255 => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => if *b { "True" } else { "False" }.to_string(),
                other => {
                    return Err(invalid(
                        "extra_specs",
                        &format!("{other} is not a valid value"),
                    ));
                }
            };
            out.insert(k.clone(), v);
        }
        self.store
            .flavor_get(id)
            .await?
            .ok_or_else(|| flavor_not_found(id))?;
        self.store.flavor_extra_specs_set(id, &out).await?;
        Ok(out)
    }

    pub async fn flavor_extra_spec_delete(
        &self,
        ctx: &RequestContext,
        id: &str,
        key: &str,
    ) -> Result<()> {
        let c = self.caller(ctx)?;
        self.authorize_own(&c, "os_compute_api:os-flavor-extra-specs:delete")?;
        self.store
            .flavor_get(id)
            .await?
            .ok_or_else(|| flavor_not_found(id))?;
        if !self.store.flavor_extra_spec_delete(id, key).await? {
            return Err(Error::not_found(format!(
                "Flavor {id} has no extra specs with key {key}."
            )));
        }
        Ok(())
    }

    pub async fn flavor_access_list(&self, ctx: &RequestContext, id: &str) -> Result<Vec<String>> {
        let c = self.caller(ctx)?;
        self.authorize_own(&c, "os_compute_api:os-flavor-access")?;
        let f = self
            .store
            .flavor_get(id)
            .await?
            .ok_or_else(|| flavor_not_found(id))?;
        if f.is_public {
            return Err(Error::not_found(
                "Access list not available for public flavors.",
            ));
        }
        Ok(self.store.flavor_access_list(id).await?)
    }

    /// `addTenantAccess` / `removeTenantAccess`; returns the new access list.
    pub async fn flavor_access_change(
        &self,
        ctx: &RequestContext,
        id: &str,
        project: &str,
        add: bool,
    ) -> Result<Vec<String>> {
        let c = self.caller(ctx)?;
        let rule = if add {
            "os_compute_api:os-flavor-access:add_tenant_access"
        } else {
            "os_compute_api:os-flavor-access:remove_tenant_access"
        };
        self.authorize_own(&c, rule)?;
        let f = self
            .store
            .flavor_get(id)
            .await?
            .ok_or_else(|| flavor_not_found(id))?;
        if f.is_public {
            return Err(Error::conflict(if add {
                "Can not add access to a public flavor."
            } else {
                "Can not remove access from a public flavor."
            }));
        }
        if add {
            match self.store.flavor_access_add(id, project).await {
                Ok(()) => {}
                Err(StoreError::Duplicate) => {
                    return Err(Error::conflict(format!(
                        "Flavor access already exists for flavor {id} and project {project} combination."
                    )));
                }
                Err(e) => return Err(e.into()),
            }
        } else if !self.store.flavor_access_remove(id, project).await? {
            return Err(Error::not_found(format!(
                "Flavor access not found for {id} / {project} combination."
            )));
        }
        Ok(self.store.flavor_access_list(id).await?)
    }
}
