//! Domains and projects: validation, uniqueness, hierarchy and the rules around deletion.

use oxstack_common::context::RequestContext;
use oxstack_common::{Error, Result};
use serde_json::{Map, Value, json};

use super::body::{opt_bool, opt_str};
use super::{App, invalid, new_id, not_found};
use crate::model::{DEFAULT_DOMAIN, Project, ROOT_DOMAIN};
use crate::store::{ProjectFilter, StoreError};

/// Attributes a client may set on a project or domain besides `extra` ones.
const PROJECT_CORE: &[&str] = &[
    "id",
    "name",
    "domain_id",
    "parent_id",
    "is_domain",
    "enabled",
    "description",
    "tags",
    "options",
    "links",
];

fn check_name(name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(invalid("name", "name must not be empty"));
    }
    if name.chars().count() > 64 {
        return Err(invalid("name", &format!("'{name}' is too long")));
    }
    Ok(())
}

fn tags(body: &Map<String, Value>) -> Result<Option<Vec<String>>> {
    match body.get("tags") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => {
            let mut out = Vec::new();
            for t in a {
                let t = t
                    .as_str()
                    .ok_or_else(|| invalid("tags", "each tag must be a string"))?;
                if t.is_empty() || t.len() > 255 || t.contains('/') || t.contains(',') {
                    return Err(invalid("tags", &format!("'{t}' is not a valid tag")));
                }
                if !out.iter().any(|x: &String| x == t) {
                    out.push(t.to_string());
                }
            }
            if out.len() > 80 {
                return Err(invalid("tags", "too many tags"));
            }
            Ok(Some(out))
        }
        Some(v) => Err(invalid("tags", &format!("{v} is not of type 'array'"))),
    }
}

fn extra_of(body: &Map<String, Value>) -> Map<String, Value> {
    body.iter()
        .filter(|(k, _)| !PROJECT_CORE.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

impl App {
    /// The JSON Keystone renders for a project.
    pub fn project_view(&self, p: &Project) -> Value {
        let mut v = json!({
            "id": p.id,
            "name": p.name,
            "domain_id": p.domain_id,
            "description": p.description.clone().unwrap_or_default(),
            "enabled": p.enabled,
            "parent_id": p.parent_id,
            "is_domain": p.is_domain,
            "tags": p.tags,
            "options": {},
            "links": self.link(&format!("projects/{}", p.id)),
        });
        if p.is_domain {
            v["domain_id"] = Value::Null;
        }
        if let Value::Object(m) = &mut v {
            for (k, val) in &p.extra {
                m.entry(k.clone()).or_insert_with(|| val.clone());
            }
        }
        v
    }

    /// The JSON Keystone renders for a domain.
    pub fn domain_view(&self, d: &Project) -> Value {
        let mut v = json!({
            "id": d.id,
            "name": d.name,
            "description": d.description.clone().unwrap_or_default(),
            "enabled": d.enabled,
            "tags": d.tags,
            "options": {},
            "links": self.link(&format!("domains/{}", d.id)),
        });
        if let Value::Object(m) = &mut v {
            for (k, val) in &d.extra {
                m.entry(k.clone()).or_insert_with(|| val.clone());
            }
        }
        v
    }

    pub async fn domain_get(&self, id: &str) -> Result<Project> {
        self.store
            .project_get(id)
            .await?
            .filter(|p| p.is_domain)
            .ok_or_else(|| not_found("domain", id))
    }

    pub async fn project_get(&self, id: &str) -> Result<Project> {
        self.store
            .project_get(id)
            .await?
            .filter(|p| !p.is_domain)
            .ok_or_else(|| not_found("project", id))
    }

    /// A project or a domain: the projects API shows, updates and deletes domains too (they
    /// are projects with `is_domain`), as Keystone's does.
    async fn project_or_domain_get(&self, id: &str) -> Result<Project> {
        self.store
            .project_get(id)
            .await?
            .ok_or_else(|| not_found("project", id))
    }

    /// The policy target of a project; a domain has no `domain_id` (Keystone's `None`).
    fn project_target(p: &Project) -> Value {
        let domain_id = (!p.is_domain).then_some(p.domain_id.as_str());
        json!({"target": {"project": {"id": p.id, "domain_id": domain_id}}})
    }

    fn conflict(kind: &str, name: &str, scope: &str) -> Error {
        Error::conflict(format!(
            "Conflict occurred attempting to store {kind} - Duplicate entry found with name {name}{scope}."
        ))
    }

    pub async fn domain_create(
        &self,
        ctx: &RequestContext,
        body: &Map<String, Value>,
    ) -> Result<Project> {
        self.authorize(
            ctx,
            "identity:create_domain",
            &json!({"target": {"domain": body}}),
        )?;
        let name = opt_str(body, "name")?
            .ok_or_else(|| invalid("name", "'name' is a required property"))?;
        check_name(&name)?;
        let d = Project {
            id: opt_str(body, "explicit_domain_id")?.unwrap_or_else(new_id),
            name: name.clone(),
            domain_id: ROOT_DOMAIN.into(),
            parent_id: None,
            is_domain: true,
            enabled: opt_bool(body, "enabled")?.unwrap_or(true),
            description: opt_str(body, "description")?,
            extra: extra_of(body),
            tags: tags(body)?.unwrap_or_default(),
        };
        self.store.project_create(&d).await.map_err(|e| match e {
            StoreError::Duplicate => Self::conflict("domain", &name, ""),
            e => e.into(),
        })?;
        Ok(d)
    }

    pub async fn domain_update(
        &self,
        ctx: &RequestContext,
        id: &str,
        body: &Map<String, Value>,
    ) -> Result<Project> {
        let mut d = self.domain_get(id).await?;
        self.authorize(
            ctx,
            "identity:update_domain",
            &json!({"target": {"domain": {"id": d.id}}}),
        )?;
        if let Some(n) = opt_str(body, "name")? {
            check_name(&n)?;
            d.name = n;
        }
        if body.contains_key("description") {
            d.description = opt_str(body, "description")?;
        }
        if let Some(e) = opt_bool(body, "enabled")? {
            d.enabled = e;
        }
        if let Some(t) = tags(body)? {
            d.tags = t;
        }
        for (k, v) in extra_of(body) {
            d.extra.insert(k, v);
        }
        let name = d.name.clone();
        self.store.project_update(&d).await.map_err(|e| match e {
            StoreError::Duplicate => Self::conflict("domain", &name, ""),
            e => e.into(),
        })?;
        // Names, enabled and the rest show in token bodies and resolved scopes.
        self.invalidate_tokens().await;
        Ok(d)
    }

    pub async fn domain_delete(&self, ctx: &RequestContext, id: &str) -> Result<()> {
        let d = self.domain_get(id).await?;
        self.authorize(
            ctx,
            "identity:delete_domain",
            &json!({"target": {"domain": {"id": d.id}}}),
        )?;
        self.domain_delete_cascade(&d).await
    }

    /// Deletes a domain and everything it owns; the caller has authorized.
    async fn domain_delete_cascade(&self, d: &Project) -> Result<()> {
        if d.enabled {
            return Err(Error::forbidden(
                "Cannot delete a domain that is enabled, please disable it first.",
            ));
        }
        if d.id == DEFAULT_DOMAIN {
            return Err(Error::forbidden("Cannot delete the default domain."));
        }
        // Everything owned by the domain goes with it, as in Keystone.
        for p in self
            .store
            .project_list(&ProjectFilter {
                domain_id: Some(d.id.clone()),
                is_domain: Some(false),
                ..Default::default()
            })
            .await?
        {
            self.store.project_delete(&p.id).await?;
            self.endpoint_filter_forget_project(&p.id).await?;
        }
        for u in self
            .store
            .user_list(&crate::store::UserFilter {
                domain_id: Some(d.id.clone()),
                ..Default::default()
            })
            .await?
        {
            self.store.user_delete(&u.id).await?;
        }
        for g in self
            .store
            .group_list(&crate::store::UserFilter {
                domain_id: Some(d.id.clone()),
                ..Default::default()
            })
            .await?
        {
            self.store.group_delete(&g.id).await?;
        }
        for r in self.store.role_list(Some(&d.id), None).await? {
            self.store.role_delete(&r.id).await?;
        }
        self.domain_config_drop(&d.id).await?;
        self.store.project_delete(&d.id).await?;
        self.invalidate_tokens().await;
        Ok(())
    }

    pub async fn domain_list(
        &self,
        ctx: &RequestContext,
        name: Option<String>,
        enabled: Option<bool>,
    ) -> Result<Vec<Project>> {
        self.authorize(ctx, "identity:list_domains", &json!({}))?;
        let f = ProjectFilter {
            is_domain: Some(true),
            name,
            enabled,
            ..Default::default()
        };
        Ok(self.store.project_list(&f).await?)
    }

    pub async fn project_create(
        &self,
        ctx: &RequestContext,
        body: &Map<String, Value>,
    ) -> Result<Project> {
        let name = opt_str(body, "name")?
            .ok_or_else(|| invalid("name", "'name' is a required property"))?;
        check_name(&name)?;
        let is_domain = opt_bool(body, "is_domain")?.unwrap_or(false);
        if is_domain {
            return self.domain_create(ctx, body).await;
        }
        let parent_id = opt_str(body, "parent_id")?;
        let auth = ctx.require_auth()?;
        let mut domain_id = opt_str(body, "domain_id")?;
        let parent = match &parent_id {
            Some(pid) => Some(
                self.store
                    .project_get(pid)
                    .await?
                    .ok_or_else(|| not_found("project", pid))?,
            ),
            None => None,
        };
        if let Some(p) = &parent {
            let parent_domain = if p.is_domain {
                p.id.clone()
            } else {
                p.domain_id.clone()
            };
            if domain_id.as_ref().is_some_and(|d| *d != parent_domain) {
                return Err(Error::forbidden(
                    "Cannot create project, the parent is in a different domain.",
                ));
            }
            domain_id = Some(parent_domain);
        }
        let domain_id = domain_id
            .or_else(|| auth.project_domain_id.clone())
            .or_else(|| auth.domain_id.clone())
            .unwrap_or_else(|| DEFAULT_DOMAIN.to_string());
        self.authorize(
            ctx,
            "identity:create_project",
            &json!({"target": {"project": {"domain_id": domain_id, "parent_id": parent_id}}}),
        )?;
        let domain = self
            .store
            .project_get(&domain_id)
            .await?
            .filter(|d| d.is_domain)
            .ok_or_else(|| not_found("domain", &domain_id))?;
        let p = Project {
            id: new_id(),
            name: name.clone(),
            domain_id: domain.id.clone(),
            parent_id: Some(parent.map(|p| p.id).unwrap_or(domain.id.clone())),
            is_domain: false,
            enabled: opt_bool(body, "enabled")?.unwrap_or(true),
            description: opt_str(body, "description")?,
            extra: extra_of(body),
            tags: tags(body)?.unwrap_or_default(),
        };
        self.store.project_create(&p).await.map_err(|e| match e {
            StoreError::Duplicate => {
                Self::conflict("project", &name, &format!(" at domain ID {}", domain.id))
            }
            e => e.into(),
        })?;
        Ok(p)
    }

    pub async fn project_show(&self, ctx: &RequestContext, id: &str) -> Result<Project> {
        let p = self.project_or_domain_get(id).await?;
        self.authorize(ctx, "identity:get_project", &Self::project_target(&p))?;
        Ok(p)
    }

    pub async fn project_update(
        &self,
        ctx: &RequestContext,
        id: &str,
        body: &Map<String, Value>,
    ) -> Result<Project> {
        let mut p = self.project_or_domain_get(id).await?;
        self.authorize(ctx, "identity:update_project", &Self::project_target(&p))?;
        if body
            .get("domain_id")
            .and_then(Value::as_str)
            .is_some_and(|d| d != p.domain_id && !p.is_domain)
        {
            return Err(invalid(
                "domain_id",
                "a project cannot move to another domain",
            ));
        }
        if body
            .get("is_domain")
            .and_then(Value::as_bool)
            .is_some_and(|d| d != p.is_domain)
        {
            return Err(invalid("is_domain", "is_domain cannot be changed"));
        }
        if body
            .get("parent_id")
            .and_then(Value::as_str)
            .is_some_and(|d| Some(d) != p.parent_id.as_deref())
        {
            return Err(Error::forbidden("Update of `parent_id` is not allowed."));
        }
        if let Some(n) = opt_str(body, "name")? {
            check_name(&n)?;
            p.name = n;
        }
        if body.contains_key("description") {
            p.description = opt_str(body, "description")?;
        }
        if let Some(e) = opt_bool(body, "enabled")? {
            p.enabled = e;
        }
        if let Some(t) = tags(body)? {
            p.tags = t;
        }
        for (k, v) in extra_of(body) {
            p.extra.insert(k, v);
        }
        let (name, domain) = (p.name.clone(), p.domain_id.clone());
        self.store.project_update(&p).await.map_err(|e| match e {
            StoreError::Duplicate => {
                Self::conflict("project", &name, &format!(" at domain ID {domain}"))
            }
            e => e.into(),
        })?;
        // Names, enabled and the rest show in token bodies and resolved scopes.
        self.invalidate_tokens().await;
        Ok(p)
    }

    pub async fn project_delete(&self, ctx: &RequestContext, id: &str) -> Result<()> {
        let p = self.project_or_domain_get(id).await?;
        self.authorize(ctx, "identity:delete_project", &Self::project_target(&p))?;
        if p.is_domain {
            return self.domain_delete_cascade(&p).await;
        }
        if self.store.project_has_children(&p.id).await? {
            return Err(Error::forbidden(format!(
                "Cannot delete the project {} since it is not a leaf in the hierarchy. Use the cascade option if you want to delete a subtree.",
                p.id
            )));
        }
        self.store.project_delete(&p.id).await?;
        self.endpoint_filter_forget_project(&p.id).await?;
        self.invalidate_tokens().await;
        Ok(())
    }

    pub async fn project_list(
        &self,
        ctx: &RequestContext,
        mut f: ProjectFilter,
    ) -> Result<Vec<Project>> {
        self.authorize(
            ctx,
            "identity:list_projects",
            // No domain filter, no domain in the target: a null would match a token without
            // a domain.
            &match &f.domain_id {
                Some(d) => json!({"target": {"domain_id": d}}),
                None => json!({}),
            },
        )?;
        f.is_domain = Some(f.is_domain.unwrap_or(false));
        Ok(self.store.project_list(&f).await?)
    }

    /// The projects a user holds any role on (`GET /v3/auth/projects`,
    /// `GET /v3/users/{id}/projects`).
    pub async fn projects_for_user(&self, user_id: &str) -> Result<Vec<Project>> {
        let mut out = Vec::new();
        for p in self
            .store
            .project_list(&ProjectFilter {
                is_domain: Some(false),
                enabled: Some(true),
                ..Default::default()
            })
            .await?
        {
            if !self
                .direct_role_ids(user_id, super::assignments::Target::Project(&p))
                .await?
                .is_empty()
            {
                out.push(p);
            }
        }
        Ok(out)
    }

    /// The domains a user holds any role on (`GET /v3/auth/domains`).
    pub async fn domains_for_user(&self, user_id: &str) -> Result<Vec<Project>> {
        let mut out = Vec::new();
        for d in self
            .store
            .project_list(&ProjectFilter {
                is_domain: Some(true),
                enabled: Some(true),
                ..Default::default()
            })
            .await?
        {
            if !self
                .direct_role_ids(user_id, super::assignments::Target::Domain(&d.id))
                .await?
                .is_empty()
            {
                out.push(d);
            }
        }
        Ok(out)
    }
}
