//! Users: validation, uniqueness in a domain, passwords (administrative resets and the
//! self-service change) and what a change does to the user's tokens; the user's groups and
//! projects.

use oxstack_common::context::{AuthInfo, RequestContext};
use oxstack_common::{Error, Result};
use serde_json::{Map, Value, json};

use super::body::{extra_of, opt_bool, opt_str};
use super::tokens::AUTH_FAILED;
use super::{App, invalid, new_id, not_found};
use crate::model::{DEFAULT_DOMAIN, Group, Project, RevocationEvent, User};
use crate::store::{StoreError, UserFilter};

/// Attributes of a user that are not kept in `extra`.
const USER_CORE: &[&str] = &[
    "id",
    "name",
    "domain_id",
    "enabled",
    "default_project_id",
    "description",
    "password",
    "password_expires_at",
    "links",
    "federated",
];

/// The user options Keystone knows (`keystone/identity/backends/resource_options.py`); they
/// are stored and rendered.
/// TODO-correctness: none of them changes behaviour yet (lockout, expiry, MFA).
const USER_OPTIONS: &[&str] = &[
    "ignore_change_password_upon_first_use",
    "ignore_password_expiry",
    "ignore_lockout_failure_attempts",
    "lock_password",
    "ignore_user_inactivity",
    "multi_factor_auth_rules",
    "multi_factor_auth_enabled",
];

/// Which users to list (`GET /v3/users`, `GET /v3/groups/{id}/users`).
#[derive(Debug, Default, Clone)]
pub struct UserQuery {
    pub name: Option<String>,
    pub domain_id: Option<String>,
    pub enabled: Option<bool>,
    /// `{op}:{timestamp}` as Keystone takes it, e.g. `lt:2016-12-08T22:02:00Z`.
    pub password_expires_at: Option<String>,
}

/// A required or updated name: a non-blank string of at most `max` characters, trimmed as
/// Keystone trims it.
pub(super) fn name_of(body: &Map<String, Value>, max: usize) -> Result<Option<String>> {
    let name = match body.get("name") {
        None => return Ok(None),
        Some(Value::String(s)) => s,
        Some(v) => return Err(invalid("name", &format!("{v} is not of type 'string'"))),
    };
    if name.trim().is_empty() {
        return Err(invalid(
            "name",
            &format!("'{name}' does not match '[\\S]+'"),
        ));
    }
    if name.chars().count() > max {
        return Err(invalid("name", &format!("'{name}' is too long")));
    }
    Ok(Some(name.trim().to_string()))
}

/// `options` of a request body, checked against the known user options.
fn options_of(body: &Map<String, Value>) -> Result<Option<Map<String, Value>>> {
    match body.get("options") {
        None => Ok(None),
        Some(Value::Object(m)) => {
            if let Some(k) = m.keys().find(|k| !USER_OPTIONS.contains(&k.as_str())) {
                return Err(invalid(
                    "options",
                    &format!("Additional properties are not allowed ('{k}' was unexpected)"),
                ));
            }
            Ok(Some(m.clone()))
        }
        Some(v) => Err(invalid("options", &format!("{v} is not of type 'object'"))),
    }
}

/// The password of a create or update body: `Some(None)` when explicitly null.
fn password_of(body: &Map<String, Value>) -> Result<Option<Option<String>>> {
    match body.get("password") {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) => Ok(Some(Some(s.clone()))),
        Some(_) => Err(invalid(
            "password",
            "the value is not of type 'string', 'null'",
        )),
    }
}

/// The domain a new user or group goes to when the body names none: the token's domain,
/// else Default (Keystone's `_normalize_domain_id`).
pub(super) fn default_domain(auth: &AuthInfo) -> String {
    auth.domain_id
        .clone()
        .unwrap_or_else(|| DEFAULT_DOMAIN.to_string())
}

/// Keystone's 409 for a duplicate name in a domain.
pub(super) fn duplicate(kind: &str, name: &str, domain_id: &str) -> Error {
    Error::conflict(format!(
        "Conflict occurred attempting to store {kind} - Duplicate entry found with name {name} at domain ID {domain_id}."
    ))
}

/// A `password_expires_at` filter: the operator and the instant in microseconds.
pub(super) fn expiry_filter(q: &str) -> Result<(String, i64)> {
    let (op, ts) = match q.split_once(':') {
        Some((op, ts)) if ["lt", "lte", "gt", "gte", "eq", "neq"].contains(&op) => {
            (op.to_string(), ts)
        }
        _ => ("eq".to_string(), q),
    };
    let t = chrono::NaiveDateTime::parse_from_str(ts, "%Y-%m-%dT%H:%M:%SZ").map_err(|_| {
        Error::bad_request(format!(
            "Invalid input for field 'password_expires_at': timestamp '{ts}' is not in the expected format YYYY-MM-DDTHH:mm:ssZ"
        ))
    })?;
    Ok((op, t.and_utc().timestamp_micros()))
}

pub(super) fn expiry_matches(user: &User, op: &str, at: i64) -> bool {
    let Some(exp) = user.password_expires_at else {
        return false;
    };
    match op {
        "lt" => exp < at,
        "lte" => exp <= at,
        "gt" => exp > at,
        "gte" => exp >= at,
        "neq" => exp != at,
        _ => exp == at,
    }
}

impl App {
    /// The JSON Keystone renders for a user (never the password).
    pub fn user_view(&self, u: &User) -> Value {
        let mut v = json!({
            "id": u.id,
            "name": u.name,
            "domain_id": u.domain_id,
            "enabled": u.enabled,
            "password_expires_at": u.password_expires_at.map(|e| oxstack_common::time::iso_micros(oxstack_common::time::micros_to_time(e))),
            "options": u.extra.get("options").cloned().unwrap_or_else(|| json!({})),
            "links": self.link(&format!("users/{}", u.id)),
        });
        if let Some(p) = &u.default_project_id {
            v["default_project_id"] = json!(p);
        }
        if let Some(d) = &u.description {
            v["description"] = json!(d);
        }
        if let Value::Object(m) = &mut v {
            for (k, val) in &u.extra {
                m.entry(k.clone()).or_insert_with(|| val.clone());
            }
        }
        v
    }

    /// A user, or Keystone's 404.
    pub async fn user_get(&self, id: &str) -> Result<User> {
        self.store
            .user_get(id)
            .await?
            .ok_or_else(|| not_found("user", id))
    }

    /// Authorizes `rule` on the user `id` as Keystone does: the target is the user when it
    /// exists (so a caller without rights gets 403 whether or not it does), then 404.
    async fn authorize_on_user(&self, ctx: &RequestContext, rule: &str, id: &str) -> Result<User> {
        let user = self.store.user_get(id).await?;
        let target = match &user {
            Some(u) => {
                json!({"target": {"user": {"id": u.id, "domain_id": u.domain_id}}, "user_id": id})
            }
            None => json!({"user_id": id}),
        };
        self.authorize(ctx, rule, &target)?;
        user.ok_or_else(|| not_found("user", id))
    }

    /// Checks that a default project exists and is not a domain.
    async fn check_default_project(&self, id: Option<&str>) -> Result<()> {
        if let Some(id) = id
            && let Some(p) = self.store.project_get(id).await?
            && p.is_domain
        {
            return Err(Error::bad_request(format!(
                "User's default project ID cannot be a domain ID: {id}"
            )));
        }
        Ok(())
    }

    pub async fn user_create(
        &self,
        ctx: &RequestContext,
        body: &Map<String, Value>,
    ) -> Result<User> {
        // The body is checked before the caller, as Keystone's schema validation runs first.
        let name =
            name_of(body, 255)?.ok_or_else(|| invalid("user", "'name' is a required property"))?;
        let default_project_id = opt_str(body, "default_project_id")?;
        let description = opt_str(body, "description")?;
        let enabled = opt_bool(body, "enabled")?.unwrap_or(true);
        let password = password_of(body)?.flatten();
        let options = options_of(body)?;
        let auth = ctx.require_auth()?;
        let domain_id = opt_str(body, "domain_id")?.unwrap_or_else(|| default_domain(auth));
        self.authorize(
            ctx,
            "identity:create_user",
            &json!({"target": {"user": {"domain_id": domain_id}}}),
        )?;
        let mut extra = extra_of(body, USER_CORE);
        extra.remove("options");
        if let Some(o) = options.filter(|o| !o.is_empty()) {
            extra.insert("options".into(), Value::Object(o));
        }
        self.store
            .project_get(&domain_id)
            .await?
            .filter(|d| d.is_domain)
            .ok_or_else(|| not_found("domain", &domain_id))?;
        self.check_default_project(default_project_id.as_deref())
            .await?;
        let password_hash = match password {
            Some(p) => Some(self.hash_password(p).await?),
            None => None,
        };
        let u = User {
            id: new_id(),
            domain_id: domain_id.clone(),
            name: name.clone(),
            enabled,
            default_project_id,
            description,
            extra,
            password_hash,
            password_expires_at: None,
            failed_auth_count: 0,
            failed_auth_at: None,
            created_at: oxstack_common::time::now().timestamp_micros(),
        };
        self.store.user_create(&u).await.map_err(|e| match e {
            StoreError::Duplicate => duplicate("user", &name, &domain_id),
            e => e.into(),
        })?;
        Ok(u)
    }

    pub async fn user_show(&self, ctx: &RequestContext, id: &str) -> Result<User> {
        self.authorize_on_user(ctx, "identity:get_user", id).await
    }

    pub async fn user_list(&self, ctx: &RequestContext, q: UserQuery) -> Result<Vec<User>> {
        let auth = ctx.require_auth()?;
        // A domain-scoped caller sees only its domain (Keystone filters after the query).
        let domain_id = q.domain_id.clone().or_else(|| auth.domain_id.clone());
        // A missing key fails a check while a null one equals a project token's absent
        // domain: only a known domain goes in the target.
        let target = match &domain_id {
            Some(d) => json!({"target": {"domain_id": d}, "domain_id": d}),
            None => json!({}),
        };
        self.authorize(ctx, "identity:list_users", &target)?;
        let expiry = q
            .password_expires_at
            .as_deref()
            .map(expiry_filter)
            .transpose()?;
        let mut users = self
            .store
            .user_list(&UserFilter {
                domain_id,
                name: q.name,
                enabled: q.enabled,
                related_id: None,
            })
            .await?;
        if let Some(d) = &auth.domain_id {
            users.retain(|u| &u.domain_id == d);
        }
        if let Some((op, at)) = expiry {
            users.retain(|u| expiry_matches(u, &op, at));
        }
        Ok(users)
    }

    pub async fn user_update(
        &self,
        ctx: &RequestContext,
        id: &str,
        body: &Map<String, Value>,
    ) -> Result<User> {
        if body.is_empty() {
            return Err(invalid("user", "{} does not have enough properties"));
        }
        let mut u = self
            .authorize_on_user(ctx, "identity:update_user", id)
            .await?;
        if opt_str(body, "id")?.is_some_and(|i| i != u.id) {
            return Err(Error::bad_request("Cannot change user ID"));
        }
        if opt_str(body, "domain_id")?.is_some_and(|d| d != u.domain_id) {
            return Err(Error::bad_request("Cannot change Domain ID"));
        }
        if let Some(n) = name_of(body, 255)? {
            u.name = n;
        }
        if body.contains_key("description") {
            u.description = opt_str(body, "description")?;
        }
        if body.contains_key("default_project_id") {
            u.default_project_id = opt_str(body, "default_project_id")?;
            self.check_default_project(u.default_project_id.as_deref())
                .await?;
        }
        let was_enabled = u.enabled;
        if let Some(e) = opt_bool(body, "enabled")? {
            u.enabled = e;
        }
        let password = password_of(body)?;
        let options = options_of(body)?;
        for (k, v) in extra_of(body, USER_CORE) {
            if k != "options" {
                u.extra.insert(k, v);
            }
        }
        if let Some(o) = options {
            let mut merged = match u.extra.remove("options") {
                Some(Value::Object(m)) => m,
                _ => Map::new(),
            };
            for (k, v) in o {
                if v.is_null() {
                    merged.remove(&k);
                } else {
                    merged.insert(k, v);
                }
            }
            if !merged.is_empty() {
                u.extra.insert("options".into(), Value::Object(merged));
            }
        }
        let (name, domain) = (u.name.clone(), u.domain_id.clone());
        self.store.user_update(&u).await.map_err(|e| match e {
            StoreError::Duplicate => duplicate("user", &name, &domain),
            e => e.into(),
        })?;
        let mut revoke = was_enabled && !u.enabled;
        if let Some(p) = password {
            let hash = match &p {
                Some(p) => Some(self.hash_password(p.clone()).await?),
                None => None,
            };
            self.remember_password(&u.id, u.password_hash.as_deref())
                .await?;
            self.store
                .user_set_password(&u.id, hash.as_deref(), None)
                .await?;
            u.password_hash = hash;
            u.password_expires_at = None;
            u.failed_auth_count = 0;
            u.failed_auth_at = None;
            revoke |= p.is_some();
        }
        if revoke {
            // As Keystone does: re-enabling the user or restoring the old password does not
            // bring the earlier tokens back.
            self.revoke_user_tokens(&u.id).await?;
        } else {
            // The user's name and state show in token bodies and resolved scopes.
            self.invalidate_tokens().await;
        }
        Ok(u)
    }

    pub async fn user_delete(&self, ctx: &RequestContext, id: &str) -> Result<()> {
        let u = self
            .authorize_on_user(ctx, "identity:delete_user", id)
            .await?;
        if !self.store.user_delete(&u.id).await? {
            return Err(not_found("user", id));
        }
        // Token validation re-reads the user: dropping the cache is enough.
        self.invalidate_tokens().await;
        Ok(())
    }

    /// `POST /v3/users/{id}/password`: the user changes their own password, proving the
    /// original one (no token needed, as in Keystone). Every token of the user is revoked.
    pub async fn user_change_password(&self, id: &str, body: &Map<String, Value>) -> Result<()> {
        let field = |key: &str| match body.get(key) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(v) => Err(invalid(key, &format!("{v} is not of type 'string'"))),
            None => Err(invalid("user", &format!("'{key}' is a required property"))),
        };
        let original = field("original_password")?;
        let new = field("password")?;
        if let Some(k) = body
            .keys()
            .find(|k| *k != "password" && *k != "original_password")
        {
            return Err(invalid(
                "user",
                &format!("Additional properties are not allowed ('{k}' was unexpected)"),
            ));
        }
        let user = self.store.user_get(id).await?;
        // Verified even for an unknown user, so the answer's timing tells nothing.
        let ok = self
            .verify_password(
                original,
                user.as_ref().and_then(|u| u.password_hash.clone()),
            )
            .await;
        let Some(user) = user else {
            return Err(Error::unauthorized(AUTH_FAILED));
        };
        if self.locked_out(&user) {
            return Err(Error::unauthorized(format!(
                "The account is locked for user: {}.",
                user.id
            )));
        }
        if !ok {
            self.store.user_record_auth(&user.id, true).await?;
            return Err(Error::unauthorized(AUTH_FAILED));
        }
        if !user.enabled {
            return Err(Error::unauthorized(AUTH_FAILED));
        }
        self.check_minimum_password_age(&user.id).await?;
        self.check_password_history(&user, &new).await?;
        // An expired password may be changed: that is what this call is for.
        let hash = self.hash_password(new).await?;
        self.remember_password(&user.id, user.password_hash.as_deref())
            .await?;
        self.store
            .user_set_password(&user.id, Some(&hash), None)
            .await?;
        self.revoke_user_tokens(&user.id).await
    }

    /// Keeps a replaced password's hash for the history check (as many as it needs).
    async fn remember_password(&self, user_id: &str, old_hash: Option<&str>) -> Result<()> {
        let keep = self.config.unique_last_password_count.saturating_sub(1) as usize;
        if let (Some(h), true) = (old_hash, keep > 0) {
            self.store.password_history_add(user_id, h, keep).await?;
        }
        Ok(())
    }

    /// Keystone's `PasswordAgeValidationError`: a password is kept for
    /// `minimum_password_age_days` before its user may change it.
    async fn check_minimum_password_age(&self, user_id: &str) -> Result<()> {
        let days = i64::from(self.config.minimum_password_age_days);
        if days == 0 {
            return Ok(());
        }
        let Some(set_at) = self.store.user_password_created_at(user_id).await? else {
            return Ok(());
        };
        let allowed_at = set_at + days * 86_400 * 1_000_000;
        let now = oxstack_common::time::now().timestamp_micros();
        if now < allowed_at {
            let day = 86_400 * 1_000_000;
            let days_left = (allowed_at - now + day - 1) / day;
            return Err(Error::bad_request(format!(
                "You cannot change your password at this time due to the minimum password age. Once you change your password, it must be used for {days} day(s) before it can be changed. Please try again in {days_left} day(s) or contact your administrator to reset your password."
            )));
        }
        Ok(())
    }

    /// Keystone's `PasswordHistoryValidationError`: the new password may not be the current
    /// one nor any of the `unique_last_password_count - 1` before it.
    async fn check_password_history(&self, user: &User, new: &str) -> Result<()> {
        let count = self.config.unique_last_password_count as usize;
        if count == 0 {
            return Ok(());
        }
        let mut hashes: Vec<String> = user.password_hash.iter().cloned().collect();
        hashes.extend(
            self.store
                .password_history_recent(&user.id, count.saturating_sub(1))
                .await?,
        );
        for h in hashes {
            if self.verify_password(new.to_string(), Some(h)).await {
                return Err(Error::bad_request(format!(
                    "The new password cannot be identical to a previous password. The total number which includes the new password must be unique is {count}."
                )));
            }
        }
        Ok(())
    }

    /// Revokes every token of a user issued up to the end of the current second. Fernet
    /// tokens carry whole-second issue times, so, as in Keystone, a token issued later in
    /// the same second is revoked too (clients wait a second after a password change).
    async fn revoke_user_tokens(&self, user_id: &str) -> Result<()> {
        let now = oxstack_common::time::now().timestamp();
        self.revoke(RevocationEvent {
            user_id: Some(user_id.to_string()),
            issued_before: (now + 1) * 1_000_000,
            ..Default::default()
        })
        .await
    }

    /// `GET /v3/users/{id}/groups`.
    pub async fn user_groups(
        &self,
        ctx: &RequestContext,
        id: &str,
        name: Option<String>,
    ) -> Result<Vec<Group>> {
        let u = self
            .authorize_on_user(ctx, "identity:list_groups_for_user", id)
            .await?;
        let mut groups = self
            .store
            .group_list(&UserFilter {
                name,
                related_id: Some(u.id),
                ..Default::default()
            })
            .await?;
        if let Some(d) = &ctx.require_auth()?.domain_id {
            groups.retain(|g| &g.domain_id == d);
        }
        Ok(groups)
    }

    /// `GET /v3/users/{id}/projects`: the projects the user holds a role on.
    pub async fn user_projects(&self, ctx: &RequestContext, id: &str) -> Result<Vec<Project>> {
        let u = self
            .authorize_on_user(ctx, "identity:list_user_projects", id)
            .await?;
        self.projects_for_user(&u.id).await
    }
}
