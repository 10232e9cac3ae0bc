//! Roles and implied roles: validation, Keystone's rules for domain-specific roles and
//! immutable roles, and the role-inference graph.

use std::collections::{BTreeMap, HashMap};

use oxstack_common::context::RequestContext;
use oxstack_common::{Error, Result};
use serde_json::{Map, Value, json};

use super::body::opt_str;
use super::{App, invalid, new_id, not_found};
use crate::model::Role;
use crate::store::StoreError;

/// Attributes of a role that are not stored in `extra`.
const ROLE_CORE: &[&str] = &["id", "name", "domain_id", "description", "options", "links"];

/// Role names that can never be implied (Keystone's `[assignment] prohibited_implied_role`).
const PROHIBITED_IMPLIED: &[&str] = &["admin"];

/// What a client may ask for on `GET /v3/roles`.
#[derive(Debug, Default, Clone)]
pub struct RoleFilter {
    pub name: Option<String>,
    pub domain_id: Option<String>,
}

/// One prior role with the roles it implies directly.
#[derive(Debug, Clone)]
pub struct RoleInference {
    pub prior: Role,
    pub implies: Vec<Role>,
}

fn check_role_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(invalid("name", "'' is too short"));
    }
    if name.chars().count() > 255 {
        return Err(invalid("name", &format!("'{name}' is too long")));
    }
    if name.trim().is_empty() {
        return Err(invalid(
            "name",
            &format!("'{name}' does not match '[\\\\S]+'"),
        ));
    }
    Ok(())
}

/// The `options` of a request body: only `immutable` (a boolean or null) exists.
fn options(body: &Map<String, Value>) -> Result<Option<Map<String, Value>>> {
    match body.get("options") {
        None => Ok(None),
        Some(Value::Object(o)) => {
            for (k, v) in o {
                if k != "immutable" {
                    return Err(invalid(
                        "options",
                        &format!("Additional properties are not allowed ('{k}' was unexpected)"),
                    ));
                }
                if !(v.is_boolean() || v.is_null()) {
                    return Err(invalid(
                        "options/immutable",
                        &format!("{v} is not of type 'boolean', 'null'"),
                    ));
                }
            }
            Ok(Some(o.clone()))
        }
        Some(v) => Err(invalid("options", &format!("{v} is not of type 'object'"))),
    }
}

fn is_immutable(r: &Role) -> bool {
    r.extra
        .get("options")
        .and_then(|o| o.get("immutable"))
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

fn role_conflict(name: &str, domain_id: Option<&str>) -> Error {
    let at = domain_id
        .map(|d| format!(" at domain ID {d}"))
        .unwrap_or_default();
    Error::conflict(format!(
        "Conflict occurred attempting to store role - Duplicate entry found with name {name}{at}."
    ))
}

impl App {
    /// The JSON Keystone renders for a role. Options live in `extra["options"]`.
    pub fn role_view(&self, r: &Role) -> Value {
        let mut v = json!({
            "id": r.id,
            "name": r.name,
            "domain_id": r.domain_id,
            "description": r.description,
            "options": r.extra.get("options").cloned().unwrap_or_else(|| json!({})),
            "links": self.link(&format!("roles/{}", r.id)),
        });
        if let Value::Object(m) = &mut v {
            for (k, val) in &r.extra {
                m.entry(k.clone()).or_insert_with(|| val.clone());
            }
        }
        v
    }

    /// `{"id", "name", "links"}`: a role inside a `role_inference`.
    pub fn role_ref_view(&self, r: &Role) -> Value {
        json!({"id": r.id, "name": r.name, "links": self.link(&format!("roles/{}", r.id))})
    }

    pub async fn role_get(&self, id: &str) -> Result<Role> {
        self.store
            .role_get(id)
            .await?
            .ok_or_else(|| not_found("role", id))
    }

    /// What policy sees of a role (`target.role.*`).
    pub(crate) fn role_target(r: &Role) -> Value {
        json!({"id": r.id, "name": r.name, "domain_id": r.domain_id})
    }

    /// Authorizes a call on an existing role or, when it does not exist, checks the global
    /// rule first so that 404 does not tell a caller without rights that a role exists.
    async fn role_authorized(
        &self,
        ctx: &RequestContext,
        id: &str,
        rule: &str,
        domain_rule: &str,
    ) -> Result<Role> {
        match self.store.role_get(id).await? {
            Some(r) if r.domain_id.is_some() => {
                self.authorize(
                    ctx,
                    domain_rule,
                    &json!({"target": {"role": Self::role_target(&r)}}),
                )?;
                Ok(r)
            }
            Some(r) => {
                self.authorize(
                    ctx,
                    rule,
                    &json!({"target": {"role": Self::role_target(&r)}}),
                )?;
                Ok(r)
            }
            None => {
                self.authorize(ctx, rule, &json!({}))?;
                Err(not_found("role", id))
            }
        }
    }

    pub async fn role_list(&self, ctx: &RequestContext, f: RoleFilter) -> Result<Vec<Role>> {
        let rule = if f.domain_id.is_some() {
            "identity:list_domain_roles"
        } else {
            "identity:list_roles"
        };
        self.authorize(
            ctx,
            rule,
            &json!({"domain_id": f.domain_id, "name": f.name}),
        )?;
        Ok(self
            .store
            .role_list(f.domain_id.as_deref(), f.name.as_deref())
            .await?)
    }

    pub async fn role_create(
        &self,
        ctx: &RequestContext,
        body: &Map<String, Value>,
    ) -> Result<Role> {
        let domain_id = opt_str(body, "domain_id")?;
        if domain_id.is_some() {
            self.authorize(
                ctx,
                "identity:create_domain_role",
                &json!({"target": {"role": body}}),
            )?;
        } else {
            self.authorize(ctx, "identity:create_role", &json!({}))?;
        }
        let name = match body.get("name") {
            Some(Value::String(s)) => s.clone(),
            Some(v) => return Err(invalid("name", &format!("{v} is not of type 'string'"))),
            None => return Err(invalid("role", "'name' is a required property")),
        };
        check_role_name(&name)?;
        if let Some(d) = &domain_id {
            self.domain_get(d).await?;
        }
        let mut extra: Map<String, Value> = body
            .iter()
            .filter(|(k, _)| !ROLE_CORE.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if let Some(o) = options(body)? {
            extra.insert("options".into(), Value::Object(o));
        }
        let r = Role {
            id: new_id(),
            name,
            domain_id,
            description: opt_str(body, "description")?,
            extra,
        };
        self.store.role_create(&r).await.map_err(|e| match e {
            StoreError::Duplicate => role_conflict(&r.name, r.domain_id.as_deref()),
            e => e.into(),
        })?;
        Ok(r)
    }

    pub async fn role_show(&self, ctx: &RequestContext, id: &str) -> Result<Role> {
        self.role_authorized(ctx, id, "identity:get_role", "identity:get_domain_role")
            .await
    }

    pub async fn role_update(
        &self,
        ctx: &RequestContext,
        id: &str,
        body: &Map<String, Value>,
    ) -> Result<Role> {
        let mut r = self
            .role_authorized(
                ctx,
                id,
                "identity:update_role",
                "identity:update_domain_role",
            )
            .await?;
        if body.is_empty() {
            return Err(invalid("role", "{} does not have enough properties"));
        }
        if body
            .get("id")
            .is_some_and(|v| v.as_str() != Some(r.id.as_str()))
        {
            return Err(Error::bad_request(
                "Cannot change the ID of a role: the ID in the URL and in the body differ.",
            ));
        }
        if body.contains_key("domain_id") && opt_str(body, "domain_id")? != r.domain_id {
            return Err(Error::bad_request("Update of `domain_id` is not allowed."));
        }
        let new_options = options(body)?;
        if is_immutable(&r) {
            // Only turning `immutable` off is allowed on an immutable role.
            let only_unlocking = body.keys().all(|k| k == "options")
                && new_options.as_ref().is_some_and(|o| {
                    o.get("immutable")
                        .is_some_and(|v| v.is_null() || *v == Value::Bool(false))
                });
            if !only_unlocking {
                return Err(Error::forbidden(format!(
                    "Unable to update immutable role resource: `{}. Set resource option \"immutable\" to false first.",
                    r.id
                )));
            }
        }
        if body.contains_key("name") {
            let name = opt_str(body, "name")?
                .ok_or_else(|| invalid("name", "None is not of type 'string'"))?;
            check_role_name(&name)?;
            r.name = name;
        }
        if body.contains_key("description") {
            r.description = opt_str(body, "description")?;
        }
        if let Some(o) = new_options {
            let mut merged = r
                .extra
                .get("options")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            for (k, v) in o {
                if v.is_null() {
                    merged.remove(&k);
                } else {
                    merged.insert(k, v);
                }
            }
            r.extra.insert("options".into(), Value::Object(merged));
        }
        for (k, v) in body {
            if !ROLE_CORE.contains(&k.as_str()) {
                r.extra.insert(k.clone(), v.clone());
            }
        }
        self.store.role_update(&r).await.map_err(|e| match e {
            StoreError::Duplicate => role_conflict(&r.name, r.domain_id.as_deref()),
            e => e.into(),
        })?;
        // A renamed role changes what tokens say.
        self.invalidate_tokens().await;
        Ok(r)
    }

    /// Deletes a role with its assignments and implications; tokens carrying it lose it.
    pub async fn role_delete(&self, ctx: &RequestContext, id: &str) -> Result<()> {
        let r = self
            .role_authorized(
                ctx,
                id,
                "identity:delete_role",
                "identity:delete_domain_role",
            )
            .await?;
        if is_immutable(&r) {
            return Err(Error::forbidden(format!(
                "Unable to delete immutable role resource: `{}. Set resource option \"immutable\" to false first.",
                r.id
            )));
        }
        self.store.role_delete(&r.id).await?;
        self.invalidate_tokens().await;
        Ok(())
    }

    /// Both roles of an implication, authorized with `rule` (Keystone looks the roles up
    /// first, so an unknown role is 404 before policy).
    async fn implication_roles(
        &self,
        ctx: &RequestContext,
        rule: &str,
        prior_id: &str,
        implied_id: &str,
    ) -> Result<(Role, Role)> {
        let prior = self.role_get(prior_id).await?;
        let implied = self.role_get(implied_id).await?;
        self.authorize(
            ctx,
            rule,
            &json!({"prior_role": Self::role_target(&prior), "implied_role": Self::role_target(&implied)}),
        )?;
        Ok((prior, implied))
    }

    async fn implication_exists(&self, prior: &str, implied: &str) -> Result<bool> {
        Ok(self
            .store
            .implied_role_list()
            .await?
            .iter()
            .any(|(p, i)| p == prior && i == implied))
    }

    fn implication_not_found(prior: &str, implied: &str) -> Error {
        Error::not_found(format!("{prior} does not imply {implied}."))
    }

    /// `PUT /v3/roles/{prior}/implies/{implied}`.
    pub async fn implied_role_create(
        &self,
        ctx: &RequestContext,
        prior_id: &str,
        implied_id: &str,
    ) -> Result<(Role, Role)> {
        let (prior, implied) = self
            .implication_roles(ctx, "identity:create_implied_role", prior_id, implied_id)
            .await?;
        if PROHIBITED_IMPLIED.contains(&implied.name.as_str()) {
            return Err(Error::forbidden(format!(
                "{} cannot be an implied roles.",
                implied.id
            )));
        }
        if prior.domain_id.is_none() && implied.domain_id.is_some() {
            return Err(Error::forbidden(
                "Global role cannot imply a domain-specific role",
            ));
        }
        // Keystone only skips cycles when expanding; refusing them keeps the graph a DAG.
        if prior.id == implied.id
            || self
                .expand_implied([implied.id.clone()].into())
                .await?
                .contains(&prior.id)
        {
            return Err(Error::forbidden(format!(
                "{} cannot be an implied roles: it would create a cycle of implied roles.",
                implied.id
            )));
        }
        self.store
            .implied_role_create(&prior.id, &implied.id)
            .await
            .map_err(|e| match e {
                StoreError::Duplicate => Error::conflict(
                    "Conflict occurred attempting to store implied_role - Duplicate entry.",
                ),
                e => e.into(),
            })?;
        self.invalidate_tokens().await;
        Ok((prior, implied))
    }

    /// `GET /v3/roles/{prior}/implies/{implied}` (and `HEAD` with `check` set).
    pub async fn implied_role_show(
        &self,
        ctx: &RequestContext,
        prior_id: &str,
        implied_id: &str,
        check: bool,
    ) -> Result<(Role, Role)> {
        if check {
            self.implication_roles(ctx, "identity:check_implied_role", prior_id, implied_id)
                .await?;
        }
        let (prior, implied) = self
            .implication_roles(ctx, "identity:get_implied_role", prior_id, implied_id)
            .await?;
        if !self.implication_exists(&prior.id, &implied.id).await? {
            return Err(Self::implication_not_found(&prior.id, &implied.id));
        }
        Ok((prior, implied))
    }

    pub async fn implied_role_delete(
        &self,
        ctx: &RequestContext,
        prior_id: &str,
        implied_id: &str,
    ) -> Result<()> {
        let (prior, implied) = self
            .implication_roles(ctx, "identity:delete_implied_role", prior_id, implied_id)
            .await?;
        if !self
            .store
            .implied_role_delete(&prior.id, &implied.id)
            .await?
        {
            return Err(Self::implication_not_found(&prior.id, &implied.id));
        }
        self.invalidate_tokens().await;
        Ok(())
    }

    /// `GET /v3/roles/{prior}/implies`: the roles `prior` implies directly.
    pub async fn implied_role_list(
        &self,
        ctx: &RequestContext,
        prior_id: &str,
    ) -> Result<RoleInference> {
        let prior = self.role_get(prior_id).await?;
        self.authorize(
            ctx,
            "identity:list_implied_roles",
            &json!({"prior_role": Self::role_target(&prior)}),
        )?;
        let roles = self.roles_by_id().await?;
        let implies = self
            .store
            .implied_role_list()
            .await?
            .into_iter()
            .filter(|(p, _)| *p == prior.id)
            .filter_map(|(_, i)| roles.get(&i).cloned())
            .collect();
        Ok(RoleInference { prior, implies })
    }

    /// `GET /v3/role_inferences`: every prior role with what it implies directly.
    pub async fn role_inference_list(&self, ctx: &RequestContext) -> Result<Vec<RoleInference>> {
        self.authorize(ctx, "identity:list_role_inference_rules", &json!({}))?;
        let roles = self.roles_by_id().await?;
        let mut out: BTreeMap<String, RoleInference> = BTreeMap::new();
        for (p, i) in self.store.implied_role_list().await? {
            let (Some(prior), Some(implied)) = (roles.get(&p), roles.get(&i)) else {
                continue;
            };
            out.entry(p)
                .or_insert_with(|| RoleInference {
                    prior: prior.clone(),
                    implies: Vec::new(),
                })
                .implies
                .push(implied.clone());
        }
        Ok(out.into_values().collect())
    }

    /// Every role, global and domain-specific, by id.
    pub(crate) async fn roles_by_id(&self) -> Result<HashMap<String, Role>> {
        Ok(self
            .store
            .role_list_all()
            .await?
            .into_iter()
            .map(|r| (r.id.clone(), r))
            .collect())
    }
}
