//! Application credentials (`/v3/users/{user_id}/application_credentials`) and their access
//! rules. A user makes one with a project-scoped token; it is bound to that project and to
//! a subset of the token's roles, and its secret is shown once, at creation. Authenticating
//! with one is in [`super::tokens`].
//!
//! Access rules are stored with the credential that names them (Keystone keeps a separate
//! table); a rule identical to one the user already has keeps that rule's id.

use std::collections::BTreeSet;

use base64::Engine as _;
use chrono::{DateTime, NaiveDateTime, Utc};
use oxstack_common::context::{AuthInfo, RequestContext};
use oxstack_common::{Error, Result};
use serde_json::{Map, Value, json};

use super::assignments::Target;
use super::body::{check_len, forbidden_action, only, opt_bool, opt_str, req_str};
use super::{App, invalid, new_id, not_found};
use crate::model::{AccessRule, AppCred, RevocationEvent};
use crate::store::StoreError;

const CREATE_FIELDS: &[&str] = &[
    "id",
    "name",
    "description",
    "secret",
    "expires_at",
    "roles",
    "unrestricted",
    "access_rules",
    "project_id",
    "system",
];
const ACCESS_RULE_METHODS: &[&str] = &["DELETE", "GET", "HEAD", "PATCH", "POST", "PUT"];

/// Filters of `GET /v3/users/{user_id}/access_rules`.
#[derive(Debug, Default, Clone)]
pub struct AccessRuleFilter {
    pub service: Option<String>,
    pub path: Option<String>,
    pub method: Option<String>,
}

/// A credential just made, with the secret that is never shown again.
#[derive(Debug, Clone)]
pub struct NewAppCred {
    pub cred: AppCred,
    pub secret: String,
}

/// Keystone's secret: 64 random bytes, urlsafe base64 without padding.
fn generate_app_cred_secret() -> String {
    let mut bytes = [0u8; 64];
    rand::fill(&mut bytes[..]);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Keystone's `parse_expiration_date`: ISO 8601, UTC when no offset is given, not in the past.
fn parse_expires_at(s: &str) -> Result<i64> {
    let bad_format = || {
        Error::bad_request(
            "Timestamp not in expected format. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.",
        )
    };
    let t = DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .or_else(|_| {
            let s = s.trim_end_matches('Z');
            NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
                .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M"))
                .map(|n| n.and_utc())
        })
        .map_err(|_| bad_format())?;
    if t <= oxstack_common::time::now() {
        return Err(Error::bad_request(
            "The 'expires_at' must not be before now. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.",
        ));
    }
    Ok(t.timestamp_micros())
}

/// How Keystone renders the stored expiry: `%Y-%m-%dT%H:%M:%S.%f`, no zone.
fn render_time(us: i64) -> String {
    oxstack_common::time::micros_to_time(us)
        .format("%Y-%m-%dT%H:%M:%S%.6f")
        .to_string()
}

fn invalid_app_cred(detail: &str) -> Error {
    Error::bad_request(format!("Invalid application credential: {detail}"))
}

fn access_rules_of(c: &AppCred) -> Vec<Value> {
    c.access_rules
        .as_ref()
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

impl App {
    /// The JSON Keystone renders for an application credential (the secret is added by the
    /// create handler only).
    pub async fn app_cred_view(&self, c: &AppCred) -> Result<Value> {
        let mut roles = Vec::new();
        for id in &c.role_ids {
            if let Some(r) = self.store.role_get(id).await? {
                roles.push(json!({
                    "id": r.id, "name": r.name, "domain_id": r.domain_id,
                    "description": r.description, "options": {},
                }));
            }
        }
        let mut v = json!({
            "id": c.id,
            "name": c.name,
            "description": c.description,
            "user_id": c.user_id,
            "project_id": c.project_id,
            "system": c.system,
            "expires_at": c.expires_at.map(render_time),
            "unrestricted": c.unrestricted,
            "roles": roles,
            "links": self.link(&format!("users/{}/application_credentials/{}", c.user_id, c.id)),
        });
        if c.access_rules.is_some() {
            v["access_rules"] = Value::Array(access_rules_of(c));
        }
        Ok(v)
    }

    /// The JSON Keystone renders for an access rule.
    pub fn access_rule_view(&self, user_id: &str, rule: &Value) -> Value {
        let mut v = rule.clone();
        let id = rule.get("id").and_then(Value::as_str).unwrap_or_default();
        v["links"] = self.link(&format!("users/{user_id}/access_rules/{id}"));
        v
    }

    /// Refuses a token made from a restricted application credential (it may not mint or
    /// destroy credentials).
    pub(crate) async fn check_unrestricted(&self, auth: &AuthInfo, what: &str) -> Result<()> {
        let Some(id) = &auth.application_credential_id else {
            return Ok(());
        };
        let unrestricted = self
            .store
            .app_cred_get(id)
            .await?
            .is_some_and(|c| c.unrestricted);
        if !unrestricted {
            return Err(forbidden_action(&format!(
                "Using method 'application_credential' is not allowed for managing additional {what}."
            )));
        }
        Ok(())
    }

    /// The role ids a new credential gets: those asked for (by id or name) with what they
    /// imply, each of which the token must carry; else every role of the token.
    async fn app_cred_roles(
        &self,
        auth: &AuthInfo,
        body: &Map<String, Value>,
    ) -> Result<Vec<String>> {
        let token_roles: BTreeSet<String> = auth.roles.iter().map(|r| r.id.clone()).collect();
        let asked = match body.get("roles") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a.clone(),
            Some(v) => return Err(invalid("roles", &format!("{v} is not of type 'array'"))),
        };
        if asked.is_empty() {
            return Ok(token_roles.into_iter().collect());
        }
        let mut ids = BTreeSet::new();
        for r in &asked {
            let Some(obj) = r.as_object().filter(|o| o.len() == 1) else {
                return Err(invalid(
                    "roles",
                    &format!("{r} should have exactly one of 'id' or 'name'"),
                ));
            };
            let role = if let Some(id) = opt_str(obj, "id")? {
                self.store
                    .role_get(&id)
                    .await?
                    .ok_or_else(|| not_found("role", &id))?
            } else if let Some(name) = opt_str(obj, "name")? {
                self.store
                    .role_get_by_name(&name, None)
                    .await?
                    .ok_or_else(|| not_found("role", &name))?
            } else {
                return Err(invalid("roles", &format!("{r} should have 'id' or 'name'")));
            };
            ids.insert(role.id);
        }
        let ids = self.expand_implied(ids).await?;
        if !ids.iter().all(|id| token_roles.contains(id)) {
            return Err(invalid_app_cred(
                "Cannot create an application credential with unassigned role",
            ));
        }
        Ok(ids.into_iter().collect())
    }

    /// Validates access rules; a rule the user already has (same id, or same service, path
    /// and method) keeps its id.
    async fn app_cred_access_rules(
        &self,
        user_id: &str,
        body: &Map<String, Value>,
    ) -> Result<Option<Value>> {
        let rules = match body.get("access_rules") {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Array(a)) => a.clone(),
            Some(v) => {
                return Err(invalid(
                    "access_rules",
                    &format!("{v} is not of type 'array'"),
                ));
            }
        };
        let existing = self.access_rules_of_user(user_id).await?;
        let mut out = Vec::new();
        for r in &rules {
            let obj = r
                .as_object()
                .ok_or_else(|| invalid("access_rules", &format!("{r} is not of type 'object'")))?;
            only(obj, &["id", "service", "path", "method"])?;
            let id = opt_str(obj, "id")?;
            if let Some(found) = id.as_ref().and_then(|id| {
                existing
                    .iter()
                    .find(|e| e.get("id").and_then(Value::as_str) == Some(id))
            }) {
                out.push(found.clone());
                continue;
            }
            let service = req_str(obj, "service", 1, 64)?;
            let path = req_str(obj, "path", 0, 225)?;
            if !path.starts_with('/') {
                return Err(invalid("path", &format!("'{path}' does not match '^/.*'")));
            }
            let method = req_str(obj, "method", 1, 16)?;
            if !ACCESS_RULE_METHODS.contains(&method.as_str()) {
                return Err(invalid(
                    "method",
                    &format!("'{method}' is not one of {ACCESS_RULE_METHODS:?}"),
                ));
            }
            let same = existing.iter().find(|e| {
                e["service"] == json!(service)
                    && e["path"] == json!(path)
                    && e["method"] == json!(method)
            });
            let id = match same {
                Some(e) => e["id"].as_str().unwrap_or_default().to_string(),
                None => id.unwrap_or_else(new_id),
            };
            out.push(json!({"id": id, "service": service, "path": path, "method": method}));
        }
        Ok(Some(Value::Array(out)))
    }

    /// `POST /v3/users/{user_id}/application_credentials`.
    pub async fn app_cred_create(
        &self,
        ctx: &RequestContext,
        user_id: &str,
        body: &Map<String, Value>,
    ) -> Result<NewAppCred> {
        let auth = self.authorize(
            ctx,
            "identity:create_application_credential",
            &json!({"user_id": user_id}),
        )?;
        self.check_unrestricted(auth, "application credentials")
            .await?;
        if auth.user_id != user_id {
            return Err(forbidden_action(
                "Cannot create an application credential for another user.",
            ));
        }
        let project_id = auth.project_id.clone().ok_or_else(|| {
            forbidden_action("An application credential needs a project-scoped token.")
        })?;
        only(body, CREATE_FIELDS)?;
        let name = req_str(body, "name", 1, 255)?;
        let secret = match opt_str(body, "secret")? {
            Some(s) if !s.is_empty() => s,
            _ => generate_app_cred_secret(),
        };
        let expires_at = opt_str(body, "expires_at")?
            .map(|s| parse_expires_at(&s))
            .transpose()?;
        let role_ids = self.app_cred_roles(auth, body).await?;
        // The token's roles were computed when it was issued; the user must still hold them.
        if let Some(project) = self.store.project_get(&project_id).await? {
            let held = self
                .effective_roles(user_id, Target::Project(&project))
                .await?;
            if let Some(missing) = role_ids.iter().find(|r| !held.contains_key(*r)) {
                return Err(invalid_app_cred(&format!(
                    "Could not find role assignment with role: {missing}, user or group: {user_id}, project, domain, or system: {project_id}."
                )));
            }
        }
        let description = opt_str(body, "description")?;
        let cred = AppCred {
            id: match opt_str(body, "id")? {
                Some(id) => {
                    check_len("id", &id, 1, 64)?;
                    id
                }
                None => new_id(),
            },
            name: name.clone(),
            secret_hash: self.hash_password(secret.clone()).await?,
            description,
            user_id: user_id.to_string(),
            project_id: Some(project_id),
            system: None,
            expires_at,
            unrestricted: opt_bool(body, "unrestricted")?.unwrap_or(false),
            access_rules: self.app_cred_access_rules(user_id, body).await?,
            created_at: oxstack_common::time::now().timestamp_micros(),
            role_ids,
        };
        self.store.app_cred_create(&cred).await.map_err(|e| match e {
            StoreError::Duplicate => Error::conflict(format!(
                "Conflict occurred attempting to store application_credential - Duplicate entry found with name {name}."
            )),
            e => e.into(),
        })?;
        // The rules outlive the credential: recorded for the user until deleted.
        for r in access_rules_of(&cred) {
            let field = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            self.store
                .access_rule_create(&AccessRule {
                    id: field("id"),
                    user_id: user_id.to_string(),
                    service: field("service"),
                    path: field("path"),
                    method: field("method"),
                })
                .await?;
        }
        Ok(NewAppCred { cred, secret })
    }

    /// The credential behind a `/{id}` path, authorized against its real owner (not the
    /// user in the path, so naming yourself in the path gives no access to others').
    async fn app_cred_for(
        &self,
        ctx: &RequestContext,
        rule: &str,
        user_id: &str,
        id: &str,
    ) -> Result<AppCred> {
        let cred = self.store.app_cred_get(id).await?;
        let owner = cred.as_ref().map_or(user_id, |c| c.user_id.as_str());
        self.authorize(ctx, rule, &json!({"user_id": owner}))?;
        cred.filter(|c| c.user_id == user_id)
            .ok_or_else(|| not_found("Application Credential", id))
    }

    pub async fn app_cred_show(
        &self,
        ctx: &RequestContext,
        user_id: &str,
        id: &str,
    ) -> Result<AppCred> {
        self.app_cred_for(ctx, "identity:get_application_credential", user_id, id)
            .await
    }

    pub async fn app_cred_list(
        &self,
        ctx: &RequestContext,
        user_id: &str,
        name: Option<&str>,
    ) -> Result<Vec<AppCred>> {
        self.authorize(
            ctx,
            "identity:list_application_credentials",
            &json!({"user_id": user_id}),
        )?;
        Ok(self.store.app_cred_list(user_id, name).await?)
    }

    /// Deletes a credential; tokens made with it stop working at once.
    pub async fn app_cred_delete(
        &self,
        ctx: &RequestContext,
        user_id: &str,
        id: &str,
    ) -> Result<()> {
        let cred = self
            .app_cred_for(ctx, "identity:delete_application_credential", user_id, id)
            .await?;
        self.check_unrestricted(ctx.require_auth()?, "application credentials")
            .await?;
        self.store.app_cred_delete(&cred.id).await?;
        self.revoke(RevocationEvent {
            app_cred_id: Some(cred.id),
            ..Default::default()
        })
        .await
    }

    /// The user's access rules: those recorded in their own table, and (for credentials made
    /// before that table existed) those only their credentials name.
    async fn access_rules_of_user(&self, user_id: &str) -> Result<Vec<Value>> {
        let mut out: Vec<Value> = self
            .store
            .access_rule_list(user_id)
            .await?
            .into_iter()
            .map(|r| json!({"id": r.id, "service": r.service, "path": r.path, "method": r.method}))
            .collect();
        for c in self.store.app_cred_list(user_id, None).await? {
            for r in access_rules_of(&c) {
                if !out.iter().any(|x| x["id"] == r["id"]) {
                    out.push(r);
                }
            }
        }
        Ok(out)
    }

    pub async fn access_rule_list(
        &self,
        ctx: &RequestContext,
        user_id: &str,
        f: &AccessRuleFilter,
    ) -> Result<Vec<Value>> {
        self.authorize(
            ctx,
            "identity:list_access_rules",
            &json!({"target": {"user": {"id": user_id}}}),
        )?;
        let mut rules = self.access_rules_of_user(user_id).await?;
        rules.retain(|r| {
            [
                ("service", &f.service),
                ("path", &f.path),
                ("method", &f.method),
            ]
            .iter()
            .all(|(k, want)| want.as_ref().is_none_or(|w| r[*k] == json!(w)))
        });
        Ok(rules)
    }

    pub async fn access_rule_show(
        &self,
        ctx: &RequestContext,
        user_id: &str,
        id: &str,
    ) -> Result<Value> {
        self.authorize(
            ctx,
            "identity:get_access_rule",
            &json!({"target": {"user": {"id": user_id}}}),
        )?;
        self.access_rules_of_user(user_id)
            .await?
            .into_iter()
            .find(|r| r["id"] == json!(id))
            .ok_or_else(|| not_found("Access Rule", id))
    }

    /// Deletes an access rule no application credential uses any more (403 while one does).
    pub async fn access_rule_delete(
        &self,
        ctx: &RequestContext,
        user_id: &str,
        id: &str,
    ) -> Result<()> {
        self.authorize(
            ctx,
            "identity:delete_access_rule",
            &json!({"target": {"user": {"id": user_id}}}),
        )?;
        if !self
            .access_rules_of_user(user_id)
            .await?
            .iter()
            .any(|r| r["id"] == json!(id))
        {
            return Err(not_found("Access Rule", id));
        }
        let in_use = self
            .store
            .app_cred_list(user_id, None)
            .await?
            .iter()
            .any(|c| access_rules_of(c).iter().any(|r| r["id"] == json!(id)));
        if in_use {
            return Err(Error::forbidden(format!(
                "Cannot delete access rule {id}: it is in use by an application credential."
            )));
        }
        self.store.access_rule_delete(user_id, id).await?;
        Ok(())
    }
}
