//! Endpoint filtering (OS-EP-FILTER): endpoint groups, and which endpoints a project sees.
//! A project given endpoints (directly or through groups) gets a catalog of just those in
//! its tokens; a project given none sees every endpoint (Keystone's
//! `return_all_endpoints_if_no_filter`).

use std::collections::BTreeMap;

use oxstack_common::context::RequestContext;
use oxstack_common::{Error, Result};
use serde_json::{Map, Value, json};

use super::body::{check_len, expecting, not_empty, opt_str, require_matching_id};
use super::{App, invalid, new_id, not_found};
use crate::model::{Endpoint, EndpointGroup, Project};
use crate::store::FilterKind;

const FILTER_KEYS: &[&str] = &["service_id", "region_id", "interface"];

/// The `filters` of a group body: a non-empty object of the keys Keystone allows.
fn filters_of(body: &Map<String, Value>) -> Result<Map<String, Value>> {
    let filters = match body.get("filters") {
        Some(Value::Object(m)) if !m.is_empty() => m.clone(),
        Some(Value::Object(_)) | None | Some(Value::Null) => {
            return Err(Error::bad_request(
                "filters field is required and cannot be empty",
            ));
        }
        Some(v) => {
            return Err(invalid("filters", &format!("{v} is not of type 'object'")));
        }
    };
    if filters.keys().any(|k| !FILTER_KEYS.contains(&k.as_str())) {
        return Err(expecting(&FILTER_KEYS.join(" or "), "endpoint_group"));
    }
    Ok(filters)
}

fn name_of(body: &Map<String, Value>) -> Result<Option<String>> {
    let n = opt_str(body, "name")?;
    if let Some(n) = &n {
        check_len("name", n, 1, 255)?;
    }
    Ok(n)
}

/// Whether an endpoint matches every filter of a group.
fn matches(e: &Endpoint, filters: &Map<String, Value>) -> bool {
    filters.iter().all(|(k, v)| {
        let have = match k.as_str() {
            "service_id" => Some(e.service_id.as_str()),
            "region_id" => e.region_id.as_deref(),
            "interface" => Some(e.interface.as_str()),
            _ => None,
        };
        have.is_some_and(|h| v.as_str() == Some(h))
    })
}

impl App {
    /// The JSON Keystone renders for an endpoint group.
    pub fn endpoint_group_view(&self, g: &EndpointGroup) -> Value {
        json!({
            "id": g.id,
            "name": g.name,
            "description": g.description,
            "filters": g.filters,
            "links": self.link(&format!("OS-EP-FILTER/endpoint_groups/{}", g.id)),
        })
    }

    /// The JSON Keystone renders for a project-endpoint-group association.
    pub fn project_endpoint_group_view(&self, group_id: &str, project_id: &str) -> Value {
        json!({
            "endpoint_group_id": group_id,
            "project_id": project_id,
            "links": self.link(&format!("OS-EP-FILTER/endpoint_groups/{group_id}/projects/{project_id}")),
        })
    }

    async fn endpoint_group_get(&self, id: &str) -> Result<EndpointGroup> {
        self.store
            .endpoint_group_get(id)
            .await?
            .ok_or_else(|| not_found("endpoint group", id))
    }

    async fn endpoint_get_or_404(&self, id: &str) -> Result<Endpoint> {
        self.store
            .endpoint_get(id)
            .await?
            .ok_or_else(|| not_found("endpoint", id))
    }

    pub async fn endpoint_group_show(
        &self,
        ctx: &RequestContext,
        id: &str,
    ) -> Result<EndpointGroup> {
        self.authorize(ctx, "identity:get_endpoint_group", &json!({}))?;
        self.endpoint_group_get(id).await
    }

    pub async fn endpoint_group_list(
        &self,
        ctx: &RequestContext,
        name: Option<&str>,
    ) -> Result<Vec<EndpointGroup>> {
        self.authorize(ctx, "identity:list_endpoint_groups", &json!({}))?;
        Ok(self.store.endpoint_group_list(name).await?)
    }

    pub async fn endpoint_group_create(
        &self,
        ctx: &RequestContext,
        body: &Map<String, Value>,
    ) -> Result<EndpointGroup> {
        self.authorize(ctx, "identity:create_endpoint_group", &json!({}))?;
        let g = EndpointGroup {
            id: new_id(),
            name: name_of(body)?.ok_or_else(|| invalid("name", "'name' is a required property"))?,
            description: opt_str(body, "description")?,
            filters: filters_of(body)?,
        };
        self.store.endpoint_group_create(&g).await?;
        Ok(g)
    }

    pub async fn endpoint_group_update(
        &self,
        ctx: &RequestContext,
        id: &str,
        body: &Map<String, Value>,
    ) -> Result<EndpointGroup> {
        self.authorize(ctx, "identity:update_endpoint_group", &json!({}))?;
        not_empty(body, "endpoint_group")?;
        require_matching_id(body, id)?;
        let mut g = self.endpoint_group_get(id).await?;
        if let Some(n) = name_of(body)? {
            g.name = n;
        }
        if body.contains_key("description") {
            g.description = opt_str(body, "description")?;
        }
        if body.contains_key("filters") {
            g.filters = filters_of(body)?;
        }
        self.store.endpoint_group_update(&g).await?;
        // Catalogs of projects given this group change.
        self.invalidate_tokens().await;
        Ok(g)
    }

    pub async fn endpoint_group_delete(&self, ctx: &RequestContext, id: &str) -> Result<()> {
        self.authorize(ctx, "identity:delete_endpoint_group", &json!({}))?;
        if !self.store.endpoint_group_delete(id).await? {
            return Err(not_found("endpoint group", id));
        }
        self.invalidate_tokens().await;
        Ok(())
    }

    /// The endpoints an endpoint group selects.
    async fn endpoints_of_group(&self, g: &EndpointGroup) -> Result<Vec<Endpoint>> {
        let mut all = self.store.endpoint_list().await?;
        all.retain(|e| matches(e, &g.filters));
        Ok(all)
    }

    pub async fn endpoint_group_endpoints(
        &self,
        ctx: &RequestContext,
        id: &str,
    ) -> Result<Vec<Endpoint>> {
        self.authorize(
            ctx,
            "identity:list_endpoints_associated_with_endpoint_group",
            &json!({}),
        )?;
        let g = self.endpoint_group_get(id).await?;
        self.endpoints_of_group(&g).await
    }

    /// Projects by id, skipping any that no longer exist.
    async fn projects_by_id(&self, ids: Vec<String>) -> Result<Vec<Project>> {
        let mut out = Vec::new();
        for id in ids {
            if let Some(p) = self.store.project_get(&id).await? {
                out.push(p);
            }
        }
        Ok(out)
    }

    pub async fn endpoint_group_projects(
        &self,
        ctx: &RequestContext,
        id: &str,
    ) -> Result<Vec<Project>> {
        self.authorize(
            ctx,
            "identity:list_projects_associated_with_endpoint_group",
            &json!({}),
        )?;
        self.endpoint_group_get(id).await?;
        let ids = self
            .store
            .project_association_projects(FilterKind::EndpointGroup, id)
            .await?;
        self.projects_by_id(ids).await
    }

    /// `GET|HEAD|PUT|DELETE /v3/OS-EP-FILTER/endpoint_groups/{group}/projects/{project}`.
    pub async fn endpoint_group_project(
        &self,
        ctx: &RequestContext,
        action: Association,
        group_id: &str,
        project_id: &str,
    ) -> Result<()> {
        let rule = match action {
            Association::Check => "identity:get_endpoint_group_in_project",
            Association::Add => "identity:add_endpoint_group_to_project",
            Association::Remove => "identity:remove_endpoint_group_from_project",
        };
        self.authorize(ctx, rule, &json!({}))?;
        self.project_or_domain(project_id).await?;
        self.endpoint_group_get(group_id).await?;
        self.association(
            action,
            FilterKind::EndpointGroup,
            group_id,
            project_id,
            "endpoint group",
        )
        .await
    }

    /// `GET|HEAD|PUT|DELETE /v3/OS-EP-FILTER/projects/{project}/endpoints/{endpoint}`.
    pub async fn project_endpoint(
        &self,
        ctx: &RequestContext,
        action: Association,
        project_id: &str,
        endpoint_id: &str,
    ) -> Result<()> {
        let rule = match action {
            Association::Check => "identity:check_endpoint_in_project",
            Association::Add => "identity:add_endpoint_to_project",
            Association::Remove => "identity:remove_endpoint_from_project",
        };
        self.authorize(ctx, rule, &json!({}))?;
        if action != Association::Remove {
            self.endpoint_get_or_404(endpoint_id).await?;
            self.project_or_domain(project_id).await?;
        }
        self.association(
            action,
            FilterKind::Endpoint,
            endpoint_id,
            project_id,
            "endpoint",
        )
        .await
    }

    async fn association(
        &self,
        action: Association,
        kind: FilterKind,
        id: &str,
        project_id: &str,
        what: &str,
    ) -> Result<()> {
        let missing = || {
            Error::not_found(format!(
                "Could not find {what} {id} associated with project {project_id}."
            ))
        };
        match action {
            Association::Check => {
                if !self
                    .store
                    .project_association_exists(kind, id, project_id)
                    .await?
                {
                    return Err(missing());
                }
            }
            Association::Add => {
                self.store
                    .project_association_add(kind, id, project_id)
                    .await?;
                self.invalidate_tokens().await;
            }
            Association::Remove => {
                if !self
                    .store
                    .project_association_remove(kind, id, project_id)
                    .await?
                {
                    return Err(missing());
                }
                self.invalidate_tokens().await;
            }
        }
        Ok(())
    }

    async fn project_or_domain(&self, id: &str) -> Result<Project> {
        self.store
            .project_get(id)
            .await?
            .ok_or_else(|| not_found("project", id))
    }

    pub async fn endpoint_groups_for_project(
        &self,
        ctx: &RequestContext,
        project_id: &str,
    ) -> Result<Vec<EndpointGroup>> {
        self.authorize(ctx, "identity:list_endpoint_groups_for_project", &json!({}))?;
        self.project_or_domain(project_id).await?;
        let mut out = Vec::new();
        for id in self
            .store
            .project_association_ids_for_project(FilterKind::EndpointGroup, project_id)
            .await?
        {
            if let Some(g) = self.store.endpoint_group_get(&id).await? {
                out.push(g);
            }
        }
        Ok(out)
    }

    pub async fn projects_for_endpoint(
        &self,
        ctx: &RequestContext,
        endpoint_id: &str,
    ) -> Result<Vec<Project>> {
        self.authorize(ctx, "identity:list_projects_for_endpoint", &json!({}))?;
        self.endpoint_get_or_404(endpoint_id).await?;
        let ids = self
            .store
            .project_association_projects(FilterKind::Endpoint, endpoint_id)
            .await?;
        self.projects_by_id(ids).await
    }

    pub async fn endpoints_for_project(
        &self,
        ctx: &RequestContext,
        project_id: &str,
    ) -> Result<Vec<Endpoint>> {
        self.authorize(ctx, "identity:list_endpoints_for_project", &json!({}))?;
        self.project_or_domain(project_id).await?;
        Ok(self
            .filtered_endpoints(project_id)
            .await?
            .into_values()
            .collect())
    }

    /// The endpoints given to a project, directly or through endpoint groups, by id.
    pub(crate) async fn filtered_endpoints(
        &self,
        project_id: &str,
    ) -> Result<BTreeMap<String, Endpoint>> {
        let mut out = BTreeMap::new();
        for id in self
            .store
            .project_association_ids_for_project(FilterKind::Endpoint, project_id)
            .await?
        {
            if let Some(e) = self.store.endpoint_get(&id).await? {
                out.insert(e.id.clone(), e);
            }
        }
        for id in self
            .store
            .project_association_ids_for_project(FilterKind::EndpointGroup, project_id)
            .await?
        {
            if let Some(g) = self.store.endpoint_group_get(&id).await? {
                for e in self.endpoints_of_group(&g).await? {
                    out.insert(e.id.clone(), e);
                }
            }
        }
        Ok(out)
    }

    /// A deleted project or endpoint leaves no associations behind.
    pub(crate) async fn endpoint_filter_forget_project(&self, project_id: &str) -> Result<()> {
        for kind in [FilterKind::EndpointGroup, FilterKind::Endpoint] {
            self.store
                .project_associations_forget(kind, project_id, true)
                .await?;
        }
        Ok(())
    }

    pub(crate) async fn endpoint_filter_forget_endpoint(&self, endpoint_id: &str) -> Result<()> {
        self.store
            .project_associations_forget(FilterKind::Endpoint, endpoint_id, false)
            .await?;
        Ok(())
    }
}

/// What to do with a project association.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Association {
    Check,
    Add,
    Remove,
}
