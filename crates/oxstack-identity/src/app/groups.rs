//! Groups and group membership. A membership change alters the roles of the member's
//! tokens; roles are recomputed on every uncached validation, so it only drops the cache.

use oxstack_common::context::RequestContext;
use oxstack_common::{Error, Result};
use serde_json::{Map, Value, json};

use super::body::opt_str;
use super::users::{UserQuery, default_domain, duplicate, expiry_filter, expiry_matches, name_of};
use super::{App, invalid, new_id, not_found};
use crate::model::{Group, User};
use crate::store::{StoreError, UserFilter};

/// Attributes of a group that are not kept in `extra`.
const GROUP_CORE: &[&str] = &["id", "name", "domain_id", "description", "links"];

/// Keystone's group names are at most 64 characters (its column's width, and ours).
const GROUP_NAME_MAX: usize = 64;

impl App {
    /// The JSON Keystone renders for a group.
    pub fn group_view(&self, g: &Group) -> Value {
        let mut v = json!({
            "id": g.id,
            "name": g.name,
            "domain_id": g.domain_id,
            "description": g.description.clone().unwrap_or_default(),
            "links": self.link(&format!("groups/{}", g.id)),
        });
        if let Value::Object(m) = &mut v {
            for (k, val) in &g.extra {
                m.entry(k.clone()).or_insert_with(|| val.clone());
            }
        }
        v
    }

    /// Authorizes `rule` on the group `id` (403 before 404, as in Keystone), then finds it.
    async fn authorize_on_group(
        &self,
        ctx: &RequestContext,
        rule: &str,
        id: &str,
    ) -> Result<Group> {
        let group = self.store.group_get(id).await?;
        let target = match &group {
            Some(g) => json!({"target": {"group": {"id": g.id, "domain_id": g.domain_id}}}),
            None => json!({}),
        };
        self.authorize(ctx, rule, &target)?;
        group.ok_or_else(|| not_found("group", id))
    }

    /// Authorizes `rule` on a membership: the target holds the group and the user.
    async fn authorize_on_membership(
        &self,
        ctx: &RequestContext,
        rule: &str,
        group_id: &str,
        user_id: &str,
    ) -> Result<(Group, User)> {
        let group = self.store.group_get(group_id).await?;
        let user = self.store.user_get(user_id).await?;
        let mut target = json!({"user_id": user_id});
        if let Some(g) = &group {
            target["target"]["group"] = json!({"id": g.id, "domain_id": g.domain_id});
        }
        if let Some(u) = &user {
            target["target"]["user"] = json!({"id": u.id, "domain_id": u.domain_id});
        }
        self.authorize(ctx, rule, &target)?;
        let group = group.ok_or_else(|| not_found("group", group_id))?;
        let user = user.ok_or_else(|| not_found("user", user_id))?;
        Ok((group, user))
    }

    pub async fn group_create(
        &self,
        ctx: &RequestContext,
        body: &Map<String, Value>,
    ) -> Result<Group> {
        let name = name_of(body, GROUP_NAME_MAX)?
            .ok_or_else(|| invalid("group", "'name' is a required property"))?;
        let description = opt_str(body, "description")?;
        let auth = ctx.require_auth()?;
        let domain_id = opt_str(body, "domain_id")?.unwrap_or_else(|| default_domain(auth));
        self.authorize(
            ctx,
            "identity:create_group",
            &json!({"target": {"group": {"domain_id": domain_id}}}),
        )?;
        self.store
            .project_get(&domain_id)
            .await?
            .filter(|d| d.is_domain)
            .ok_or_else(|| not_found("domain", &domain_id))?;
        let g = Group {
            id: new_id(),
            domain_id: domain_id.clone(),
            name: name.clone(),
            description: Some(description.unwrap_or_default()),
            extra: body
                .iter()
                .filter(|(k, _)| !GROUP_CORE.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        };
        self.store.group_create(&g).await.map_err(|e| match e {
            StoreError::Duplicate => duplicate("group", &name, &domain_id),
            e => e.into(),
        })?;
        Ok(g)
    }

    pub async fn group_show(&self, ctx: &RequestContext, id: &str) -> Result<Group> {
        self.authorize_on_group(ctx, "identity:get_group", id).await
    }

    pub async fn group_list(
        &self,
        ctx: &RequestContext,
        name: Option<String>,
        domain_id: Option<String>,
    ) -> Result<Vec<Group>> {
        let auth = ctx.require_auth()?;
        let scope_domain = auth.domain_id.clone();
        let target = match &scope_domain {
            Some(d) => json!({"target": {"group": {"domain_id": d}}}),
            None => json!({}),
        };
        self.authorize(ctx, "identity:list_groups", &target)?;
        let mut groups = self
            .store
            .group_list(&UserFilter {
                domain_id,
                name,
                ..Default::default()
            })
            .await?;
        // A domain-scoped caller sees only its own domain's groups.
        if let Some(d) = &scope_domain {
            groups.retain(|g| &g.domain_id == d);
        }
        Ok(groups)
    }

    pub async fn group_update(
        &self,
        ctx: &RequestContext,
        id: &str,
        body: &Map<String, Value>,
    ) -> Result<Group> {
        if body.is_empty() {
            return Err(invalid("group", "{} does not have enough properties"));
        }
        let mut g = self
            .authorize_on_group(ctx, "identity:update_group", id)
            .await?;
        if opt_str(body, "id")?.is_some_and(|i| i != g.id) {
            return Err(Error::bad_request("Cannot change group ID"));
        }
        if opt_str(body, "domain_id")?.is_some_and(|d| d != g.domain_id) {
            return Err(Error::bad_request("Cannot change Domain ID"));
        }
        if let Some(n) = name_of(body, GROUP_NAME_MAX)? {
            g.name = n;
        }
        if body.contains_key("description") {
            g.description = opt_str(body, "description")?;
        }
        for (k, v) in body {
            if !GROUP_CORE.contains(&k.as_str()) {
                g.extra.insert(k.clone(), v.clone());
            }
        }
        let (name, domain) = (g.name.clone(), g.domain_id.clone());
        self.store.group_update(&g).await.map_err(|e| match e {
            StoreError::Duplicate => duplicate("group", &name, &domain),
            e => e.into(),
        })?;
        Ok(g)
    }

    pub async fn group_delete(&self, ctx: &RequestContext, id: &str) -> Result<()> {
        let g = self
            .authorize_on_group(ctx, "identity:delete_group", id)
            .await?;
        if !self.store.group_delete(&g.id).await? {
            return Err(not_found("group", id));
        }
        // The members lose the group's roles.
        self.invalidate_tokens().await;
        Ok(())
    }

    /// `GET /v3/groups/{id}/users`.
    pub async fn group_users(
        &self,
        ctx: &RequestContext,
        id: &str,
        q: UserQuery,
    ) -> Result<Vec<User>> {
        let g = self
            .authorize_on_group(ctx, "identity:list_users_in_group", id)
            .await?;
        let expiry = q
            .password_expires_at
            .as_deref()
            .map(expiry_filter)
            .transpose()?;
        let mut users = self
            .store
            .user_list(&UserFilter {
                domain_id: q.domain_id,
                name: q.name,
                enabled: q.enabled,
                related_id: Some(g.id),
            })
            .await?;
        if let Some((op, at)) = expiry {
            users.retain(|u| expiry_matches(u, &op, at));
        }
        Ok(users)
    }

    /// `PUT /v3/groups/{group_id}/users/{user_id}` (adding a member twice is no error).
    pub async fn group_add_user(
        &self,
        ctx: &RequestContext,
        group_id: &str,
        user_id: &str,
    ) -> Result<()> {
        let (g, u) = self
            .authorize_on_membership(ctx, "identity:add_user_to_group", group_id, user_id)
            .await?;
        self.store.group_add_user(&g.id, &u.id).await?;
        self.invalidate_tokens().await;
        Ok(())
    }

    /// `HEAD`/`GET /v3/groups/{group_id}/users/{user_id}`: 404 unless a member.
    pub async fn group_check_user(
        &self,
        ctx: &RequestContext,
        group_id: &str,
        user_id: &str,
    ) -> Result<()> {
        let (g, u) = self
            .authorize_on_membership(ctx, "identity:check_user_in_group", group_id, user_id)
            .await?;
        if self.store.group_has_user(&g.id, &u.id).await? {
            Ok(())
        } else {
            Err(not_member(user_id, group_id))
        }
    }

    /// `DELETE /v3/groups/{group_id}/users/{user_id}`: 404 unless a member.
    pub async fn group_remove_user(
        &self,
        ctx: &RequestContext,
        group_id: &str,
        user_id: &str,
    ) -> Result<()> {
        let (g, u) = self
            .authorize_on_membership(ctx, "identity:remove_user_from_group", group_id, user_id)
            .await?;
        if !self.store.group_remove_user(&g.id, &u.id).await? {
            return Err(not_member(user_id, group_id));
        }
        self.invalidate_tokens().await;
        Ok(())
    }
}

/// Keystone's 404 for a user that is not in a group.
fn not_member(user_id: &str, group_id: &str) -> Error {
    Error::not_found(format!("User '{user_id}' not found in group '{group_id}'"))
}
