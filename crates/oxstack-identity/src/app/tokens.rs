//! Authentication and tokens: `POST /v3/auth/tokens` (password, token and
//! application-credential methods; project, domain and system scope), validation with
//! revocation, and the token body Keystone renders.

use std::collections::BTreeSet;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use oxstack_common::context::{AuthInfo, RoleRef};
use oxstack_common::{Error, Result};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::assignments::Target;
use super::{App, EffectiveRoles, not_found};
use crate::model::{AppCred, Project, RevocationEvent, User};
use crate::token::{self, Scope, TokenPayload};

/// The one message for every authentication failure, so nothing tells whether a user exists.
pub const AUTH_FAILED: &str = "The request you have made requires authentication.";

/// A bcrypt hash of nothing anyone knows, verified when the user does not exist so that
/// response times do not reveal it.
const DUMMY_HASH: &str = "$2b$12$C6UzMDM.H6dfI/f/IKxGhuOZ2C5l7Ptn3Ar9cFY4Sx8Jm9v7S1/qK";

fn unauthorized() -> Error {
    Error::unauthorized(AUTH_FAILED)
}

/// The parsed body of `POST /v3/auth/tokens`.
#[derive(Debug, Clone)]
pub struct AuthRequest {
    pub methods: Vec<String>,
    pub body: Value,
}

/// A token just issued, with what its body says.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: String,
    pub data: TokenData,
}

/// Everything a valid token stands for, freshly checked against the store.
#[derive(Debug, Clone)]
pub struct TokenData {
    pub payload: TokenPayload,
    pub issued_at: DateTime<Utc>,
    pub user: User,
    pub user_domain: Project,
    pub project: Option<Project>,
    pub project_domain: Option<Project>,
    pub domain: Option<Project>,
    pub system: bool,
    pub roles: EffectiveRoles,
    pub app_cred: Option<AppCred>,
}

/// A token's user and scope as the store has them (everything in [`TokenData`] but the
/// payload and its issue time).
#[derive(Debug, Clone)]
pub struct Resolved {
    user: User,
    user_domain: Project,
    project: Option<Project>,
    project_domain: Option<Project>,
    domain: Option<Project>,
    system: bool,
    roles: EffectiveRoles,
    app_cred: Option<AppCred>,
}

impl App {
    /// Verifies a password against a stored bcrypt hash off the async threads, at most one
    /// hash per core at a time (the others queue in arrival order).
    pub async fn verify_password(&self, password: String, hash: Option<String>) -> bool {
        let hash = hash.unwrap_or_else(|| DUMMY_HASH.to_string());
        let Ok(_slot) = self.hash_slots.acquire().await else {
            return false;
        };
        tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
            .await
            .unwrap_or(false)
    }

    /// Hashes a password with the configured cost off the async threads (one per core at a
    /// time, as [`Self::verify_password`]).
    pub async fn hash_password(&self, password: String) -> Result<String> {
        let cost = self.config.password_hash_rounds;
        let _slot = self
            .hash_slots
            .acquire()
            .await
            .map_err(|e| Error::internal("password hashing slots", e))?;
        tokio::task::spawn_blocking(move || bcrypt::hash(password, cost))
            .await
            .map_err(|e| Error::internal("password hashing task", e))?
            .map_err(|e| Error::internal("password hashing", e))
    }

    async fn domain_by_ref(&self, r: &Value) -> Result<Project> {
        if let Some(id) = r.get("id").and_then(Value::as_str) {
            return self
                .project_memo(format!("id:{id}"), async {
                    Ok(self.store.project_get(id).await?)
                })
                .await?
                .filter(|d| d.is_domain)
                .ok_or_else(unauthorized);
        }
        if let Some(name) = r.get("name").and_then(Value::as_str) {
            return self
                .project_memo(format!("domain:{name}"), async {
                    Ok(self.store.domain_get_by_name(name).await?)
                })
                .await?
                .ok_or_else(unauthorized);
        }
        Err(Error::bad_request(
            "Expecting to find domain id or name in the request.",
        ))
    }

    async fn user_by_ref(&self, u: &Value) -> Result<Option<User>> {
        if let Some(id) = u.get("id").and_then(Value::as_str) {
            return Ok(self.store.user_get(id).await?);
        }
        let Some(name) = u.get("name").and_then(Value::as_str) else {
            return Err(Error::bad_request(
                "Expecting to find user id or name in the request.",
            ));
        };
        let Some(domain) = u.get("domain") else {
            return Err(Error::bad_request(
                "Expecting to find domain in user - the server could not comply with the request since it is either malformed or otherwise incorrect.",
            ));
        };
        let domain = match self.domain_by_ref(domain).await {
            Ok(d) => d,
            Err(e) if e.kind == oxstack_common::error::ErrorKind::Unauthorized => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(self.store.user_get_by_name(&domain.id, name).await?)
    }

    pub(super) fn locked_out(&self, user: &User) -> bool {
        let n = self.config.lockout_failure_attempts;
        if n == 0 || user.failed_auth_count < i64::from(n) {
            return false;
        }
        let until = user.failed_auth_at.unwrap_or(0)
            + (self.config.lockout_duration_secs as i64) * 1_000_000;
        oxstack_common::time::now().timestamp_micros() < until
    }

    async fn auth_password(&self, body: &Value) -> Result<User> {
        let user_ref = body.get("user").ok_or_else(|| Error::bad_request("Expecting to find user in password - the server could not comply with the request since it is either malformed or otherwise incorrect."))?;
        let password = user_ref
            .get("password")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let user = self.user_by_ref(user_ref).await?;
        let ok = self
            .verify_password(
                password,
                user.as_ref().and_then(|u| u.password_hash.clone()),
            )
            .await;
        let Some(user) = user else {
            return Err(unauthorized());
        };
        if self.locked_out(&user) {
            return Err(Error::unauthorized(format!(
                "The account is locked for user: {}.",
                user.id
            )));
        }
        if !ok {
            self.store.user_record_auth(&user.id, true).await?;
            return Err(unauthorized());
        }
        if user.failed_auth_count > 0 {
            self.store.user_record_auth(&user.id, false).await?;
        }
        if let Some(exp) = user.password_expires_at
            && exp <= oxstack_common::time::now().timestamp_micros()
        {
            return Err(Error::unauthorized(format!(
                "The password is expired and needs to be changed for user: {}.",
                user.id
            )));
        }
        Ok(user)
    }

    async fn auth_app_cred(&self, body: &Value) -> Result<(User, AppCred)> {
        let secret = body
            .get("secret")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let cred = if let Some(id) = body.get("id").and_then(Value::as_str) {
            self.store.app_cred_get(id).await?
        } else if let (Some(name), Some(user_ref)) =
            (body.get("name").and_then(Value::as_str), body.get("user"))
        {
            match self.user_by_ref(user_ref).await? {
                Some(u) => self.store.app_cred_get_by_name(&u.id, name).await?,
                None => None,
            }
        } else {
            return Err(Error::bad_request(
                "Expecting to find application credential id or name and user in the request.",
            ));
        };
        let ok = self
            .verify_password(secret, cred.as_ref().map(|c| c.secret_hash.clone()))
            .await;
        let Some(cred) = cred.filter(|_| ok) else {
            return Err(unauthorized());
        };
        if cred
            .expires_at
            .is_some_and(|e| e <= oxstack_common::time::now().timestamp_micros())
        {
            return Err(unauthorized());
        }
        let user = self
            .store
            .user_get(&cred.user_id)
            .await?
            .ok_or_else(unauthorized)?;
        Ok((user, cred))
    }

    /// Authenticates and issues a token (`POST /v3/auth/tokens`).
    pub async fn authenticate(&self, req: &AuthRequest) -> Result<IssuedToken> {
        let identity = req.body.get("identity").cloned().unwrap_or(Value::Null);
        if req.methods.is_empty() {
            return Err(Error::bad_request(
                "Invalid input for field 'identity/methods': [] is too short",
            ));
        }
        let mut user: Option<User> = None;
        let mut parent: Option<TokenData> = None;
        let mut app_cred: Option<AppCred> = None;
        for m in &req.methods {
            let section = identity.get(m.as_str()).ok_or_else(|| {
                Error::bad_request(format!("Expecting to find {m} in identity - the server could not comply with the request since it is either malformed or otherwise incorrect."))
            })?;
            let u = match m.as_str() {
                "password" => self.auth_password(section).await?,
                "token" => {
                    let id = section.get("id").and_then(Value::as_str).ok_or_else(|| Error::bad_request("Expecting to find id in token - the server could not comply with the request since it is either malformed or otherwise incorrect."))?;
                    // An invalid, expired or revoked token is 404 here, as in Keystone
                    // (its token method validates the token like `GET /v3/auth/tokens`).
                    let data = self.validate_subject(id).await?;
                    if data.app_cred.is_some() {
                        return Err(Error::forbidden(
                            "Application credentials cannot request a scope.",
                        ));
                    }
                    let u = data.user.clone();
                    parent = Some(data);
                    u
                }
                "application_credential" => {
                    let (u, c) = self.auth_app_cred(section).await?;
                    app_cred = Some(c);
                    u
                }
                other => {
                    return Err(Error::unauthorized(format!(
                        "Attempted to authenticate with an unsupported method: {other}"
                    )));
                }
            };
            if user.as_ref().is_some_and(|prev| prev.id != u.id) {
                return Err(unauthorized());
            }
            user = Some(u);
        }
        let user = user.ok_or_else(unauthorized)?;
        if !user.enabled {
            return Err(unauthorized());
        }
        let scope = self
            .requested_scope(req, &user, parent.as_ref(), app_cred.as_ref())
            .await?;
        let now = oxstack_common::time::now();
        let mut expires_at =
            now + chrono::Duration::seconds(self.config.token_expiration_secs as i64);
        let mut methods: Vec<String> = req.methods.clone();
        let mut audit_ids = vec![token::random_audit_id()];
        if let Some(p) = &parent {
            expires_at = expires_at.min(p.payload.expires_at);
            for m in &p.payload.methods {
                if !methods.contains(m) {
                    methods.push(m.clone());
                }
            }
            if let Some(chain) = p.payload.audit_ids.last() {
                audit_ids.push(chain.clone());
            }
        }
        if let Some(exp) = app_cred.as_ref().and_then(|c| c.expires_at) {
            expires_at = expires_at.min(oxstack_common::time::micros_to_time(exp));
        }
        let payload = TokenPayload {
            user_id: user.id.clone(),
            methods,
            scope,
            expires_at,
            audit_ids,
        };
        let token = token::issue_at(&self.keys(), &payload, now)
            .map_err(|e| Error::internal("token issue", e))?;
        // The body reports the issue time the token carries: whole seconds.
        let issued_at = oxstack_common::time::micros_to_time(now.timestamp() * 1_000_000);
        let data = self.token_data(payload, issued_at).await?;
        Ok(IssuedToken { token, data })
    }

    async fn requested_scope(
        &self,
        req: &AuthRequest,
        user: &User,
        parent: Option<&TokenData>,
        app_cred: Option<&AppCred>,
    ) -> Result<Scope> {
        let scope = req.body.get("scope");
        if let Some(c) = app_cred {
            if scope.is_some() {
                return Err(Error::unauthorized(
                    "Application credentials cannot request a scope.",
                ));
            }
            return Ok(match &c.project_id {
                Some(p) => Scope::AppCred {
                    project_id: p.clone(),
                    app_cred_id: c.id.clone(),
                },
                None => Scope::Unscoped,
            });
        }
        let Some(scope) = scope else {
            // A re-scope without a scope keeps the parent's; else the default project.
            if let Some(p) = parent {
                return Ok(p.payload.scope.clone());
            }
            if let Some(pid) = &user.default_project_id
                && let Some(p) = self.store.project_get(pid).await?
                && p.enabled
                && !self
                    .effective_roles(&user.id, Target::Project(&p))
                    .await?
                    .is_empty()
            {
                return Ok(Scope::Project(p.id));
            }
            return Ok(Scope::Unscoped);
        };
        if let Some(p) = scope.get("project") {
            let project = if let Some(id) = p.get("id").and_then(Value::as_str) {
                self.project_memo(format!("id:{id}"), async {
                    Ok(self.store.project_get(id).await?)
                })
                .await?
                .filter(|p| !p.is_domain)
            } else if let Some(name) = p.get("name").and_then(Value::as_str) {
                let d = p.get("domain").ok_or_else(|| Error::bad_request("Expecting to find domain in project - the server could not comply with the request since it is either malformed or otherwise incorrect."))?;
                let domain = self.domain_by_ref(d).await?;
                self.project_memo(format!("name:{}:{name}", domain.id), async {
                    Ok(self.store.project_get_by_name(&domain.id, name).await?)
                })
                .await?
            } else {
                return Err(Error::bad_request(
                    "Expecting to find project id or name in the request.",
                ));
            };
            let project = project.ok_or_else(unauthorized)?;
            return Ok(Scope::Project(project.id));
        }
        if let Some(d) = scope.get("domain") {
            return Ok(Scope::Domain(self.domain_by_ref(d).await?.id));
        }
        if let Some(s) = scope.get("system") {
            if s.get("all").and_then(Value::as_bool) == Some(true) {
                return Ok(Scope::System("all".into()));
            }
            return Err(Error::bad_request(
                "Invalid input for field 'scope/system': only {\"all\": true} is supported",
            ));
        }
        if scope.get("OS-TRUST:trust").is_some() {
            return Err(Error::forbidden("Trusts are not supported."));
        }
        Err(Error::bad_request(
            "Invalid input for field 'scope': expected project, domain or system",
        ))
    }

    /// Checks a payload against the store (user, scope target and roles), or against what
    /// the store said under the current epoch.
    async fn token_data(
        &self,
        payload: TokenPayload,
        issued_at: DateTime<Utc>,
    ) -> Result<TokenData> {
        // The epoch is read before the store: a change racing with this resolution moves
        // the epoch after its write, so what is kept here is dropped on the next use.
        let epoch = self.epoch().await;
        let key = format!("{}\n{:?}", payload.user_id, payload.scope);
        let r = match self.scopes.get(&epoch, &key) {
            Some(r) => r,
            None => {
                let r = std::sync::Arc::new(self.resolve(&payload).await?);
                self.scopes.insert(&epoch, key, r.clone());
                r
            }
        };
        if let Some(c) = &r.app_cred
            && c.expires_at
                .is_some_and(|e| e <= oxstack_common::time::now().timestamp_micros())
        {
            return Err(unauthorized());
        }
        Ok(TokenData {
            payload,
            issued_at,
            user: r.user.clone(),
            user_domain: r.user_domain.clone(),
            project: r.project.clone(),
            project_domain: r.project_domain.clone(),
            domain: r.domain.clone(),
            system: r.system,
            roles: r.roles.clone(),
            app_cred: r.app_cred.clone(),
        })
    }

    /// What a payload's user and scope stand for in the store.
    async fn resolve(&self, payload: &TokenPayload) -> Result<Resolved> {
        let user = self
            .store
            .user_get(&payload.user_id)
            .await?
            .filter(|u| u.enabled)
            .ok_or_else(unauthorized)?;
        let user_domain = self
            .store
            .project_get(&user.domain_id)
            .await?
            .filter(|d| d.enabled)
            .ok_or_else(unauthorized)?;
        let mut data = Resolved {
            user,
            user_domain,
            project: None,
            project_domain: None,
            domain: None,
            system: false,
            roles: EffectiveRoles::new(),
            app_cred: None,
        };
        let (project_id, app_cred_id) = match &payload.scope {
            Scope::Unscoped => return Ok(data),
            Scope::Trust { .. } => return Err(unauthorized()),
            Scope::Project(p) => (Some(p.clone()), None),
            Scope::AppCred {
                project_id,
                app_cred_id,
            } => (Some(project_id.clone()), Some(app_cred_id.clone())),
            Scope::Domain(d) => {
                let domain = self
                    .store
                    .project_get(d)
                    .await?
                    .filter(|d| d.is_domain && d.enabled)
                    .ok_or_else(unauthorized)?;
                data.roles = self
                    .effective_roles(&data.user.id, Target::Domain(&domain.id))
                    .await?;
                data.domain = Some(domain);
                (None, None)
            }
            Scope::System(_) => {
                data.roles = self.effective_roles(&data.user.id, Target::System).await?;
                data.system = true;
                (None, None)
            }
        };
        if let Some(pid) = project_id {
            let project = self
                .store
                .project_get(&pid)
                .await?
                .filter(|p| p.enabled && !p.is_domain)
                .ok_or_else(unauthorized)?;
            let domain = self
                .store
                .project_get(&project.domain_id)
                .await?
                .filter(|d| d.enabled)
                .ok_or_else(unauthorized)?;
            data.roles = self
                .effective_roles(&data.user.id, Target::Project(&project))
                .await?;
            data.project = Some(project);
            data.project_domain = Some(domain);
        }
        if let Some(cid) = app_cred_id {
            let cred = self
                .store
                .app_cred_get(&cid)
                .await?
                .ok_or_else(unauthorized)?;
            let allowed: BTreeSet<String> = self
                .expand_implied(cred.role_ids.iter().cloned().collect())
                .await?;
            data.roles.retain(|id, _| allowed.contains(id));
            data.app_cred = Some(cred);
        }
        if data.roles.is_empty() {
            return Err(unauthorized());
        }
        Ok(data)
    }

    /// Validates a token: signature and expiry, revocation, and the current state of its user,
    /// scope and roles. Any failure is 401 (callers answering `GET /v3/auth/tokens` map it to
    /// 404).
    pub async fn validate(&self, token: &str) -> Result<TokenData> {
        let (payload, issued_at) =
            token::validate(&self.keys(), token).map_err(|_| unauthorized())?;
        if self.is_revoked(&payload, issued_at).await? {
            return Err(unauthorized());
        }
        self.token_data(payload, issued_at).await
    }

    async fn is_revoked(&self, p: &TokenPayload, issued_at: DateTime<Utc>) -> Result<bool> {
        // Every event revoked since the token was issued; the list kept under the epoch
        // serves while it reaches back far enough.
        let horizon = issued_at.timestamp_micros() - 1_000_000;
        let epoch = self.epoch().await;
        let events = match self.revocations.get(&epoch, "") {
            Some(kept) if kept.0 <= horizon => kept,
            _ => {
                let lifetime = i64::try_from(self.config.token_expiration_secs)
                    .unwrap_or(i64::MAX / 2_000_000)
                    .saturating_mul(1_000_000);
                let since = horizon.min(
                    oxstack_common::time::now()
                        .timestamp_micros()
                        .saturating_sub(lifetime),
                );
                let list = self.store.revocation_list_since(since).await?;
                let kept = std::sync::Arc::new((since, list));
                self.revocations.insert(&epoch, String::new(), kept.clone());
                kept
            }
        };
        let events = &events.1;
        // Fernet tokens carry their issue time in whole seconds, so revocations reach to the
        // end of their second (as in Keystone): a token issued later in that second is
        // revoked too, and clients wait a second after e.g. a password change.
        let issued = issued_at.timestamp();
        let (project_id, app_cred_id) = match &p.scope {
            Scope::Project(id) => (Some(id.as_str()), None),
            Scope::AppCred {
                project_id,
                app_cred_id,
            } => (Some(project_id.as_str()), Some(app_cred_id.as_str())),
            _ => (None, None),
        };
        let domain_id = match &p.scope {
            Scope::Domain(d) => Some(d.as_str()),
            _ => None,
        };
        let audit_id = p.audit_ids.first().map(String::as_str);
        let chain_id = p.audit_ids.last().map(String::as_str);
        Ok(events.iter().any(|e| {
            let m = |field: &Option<String>, value: Option<&str>| {
                field.as_deref().is_none_or(|f| Some(f) == value)
            };
            e.issued_before / 1_000_000 > issued
                && m(&e.user_id, Some(&p.user_id))
                && m(&e.project_id, project_id)
                && m(&e.domain_id, domain_id)
                && m(&e.audit_id, audit_id)
                && m(&e.audit_chain_id, chain_id)
                && m(&e.app_cred_id, app_cred_id)
        }))
    }

    /// Records a revocation and invalidates every cached validation.
    pub async fn revoke(&self, mut event: RevocationEvent) -> Result<()> {
        let now = oxstack_common::time::now().timestamp_micros();
        event.id = super::new_id();
        event.revoked_at = now;
        if event.issued_before == 0 {
            // The end of this second: token issue times are whole seconds (see is_revoked).
            event.issued_before = (now / 1_000_000 + 1) * 1_000_000;
        }
        self.store.revocation_create(&event).await?;
        self.invalidate_tokens().await;
        Ok(())
    }

    /// Drops every cached validation. Roles, users and projects are re-read on each
    /// uncached validation, so any change to them only needs this (no revocation event).
    pub async fn invalidate_tokens(&self) {
        self.cache
            .set(
                EPOCH_KEY,
                super::new_id().into_bytes(),
                Duration::from_secs(365 * 86400),
            )
            .await;
    }

    /// A project (or domain) lookup, answered from what the store said under the current
    /// epoch when it was asked before (`key` names the lookup).
    async fn project_memo(
        &self,
        key: String,
        load: impl std::future::Future<Output = Result<Option<Project>>>,
    ) -> Result<Option<Project>> {
        let epoch = self.epoch().await;
        if let Some(p) = self.projects.get(&epoch, &key) {
            return Ok(Option::clone(&p));
        }
        let p = load.await?;
        // Only what exists is kept: creating a project does not move the epoch.
        if p.is_some() {
            self.projects
                .insert(&epoch, key, std::sync::Arc::new(p.clone()));
        }
        Ok(p)
    }

    /// The current revocation epoch (empty before the first change).
    async fn epoch(&self) -> Vec<u8> {
        self.cache.get(EPOCH_KEY).await.unwrap_or_default()
    }

    /// `DELETE /v3/auth/tokens`: revokes the subject token (and, as Keystone does, every token
    /// sharing its audit id).
    pub async fn revoke_token(&self, token: &str) -> Result<()> {
        let data = self
            .validate(token)
            .await
            .map_err(|_| Error::not_found("Could not find token."))?;
        let audit_id = data.payload.audit_ids.first().cloned();
        // Past the token's own (whole-second) issue time, so the event always covers it.
        let issued_before = (data.issued_at.timestamp() + 1) * 1_000_000;
        self.revoke(RevocationEvent {
            audit_id,
            issued_before,
            ..Default::default()
        })
        .await
    }

    /// The cache key of `kind` facts about `token`: the token's digest under the current
    /// revocation epoch, so any revocation or change drops every entry at once.
    async fn cache_key(&self, kind: &str, token: &str) -> String {
        let epoch = self.epoch().await;
        let digest = URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()).as_slice());
        format!(
            "identity:{kind}:{}:{digest}",
            String::from_utf8_lossy(&epoch)
        )
    }

    /// Validation for other services (the auth middleware): cached by token digest until a
    /// revocation changes the epoch, and never past the token's expiry.
    pub async fn validate_for_middleware(&self, token: &str) -> Result<AuthInfo> {
        let key = self.cache_key("auth", token).await;
        if let Some(bytes) = self.cache.get(&key).await
            && let Ok(info) = serde_json::from_slice::<AuthInfo>(&bytes)
        {
            if info.expires_at > oxstack_common::time::now().timestamp_micros() {
                return Ok(info);
            }
            return Err(unauthorized());
        }
        let data = self.validate(token).await?;
        let info = auth_info(&data);
        if let Ok(bytes) = serde_json::to_vec(&info) {
            self.cache.set(&key, bytes, self.cache_ttl(&data)).await;
        }
        Ok(info)
    }

    fn cache_ttl(&self, data: &TokenData) -> Duration {
        let left = (data.payload.expires_at - oxstack_common::time::now())
            .num_seconds()
            .max(0) as u64;
        Duration::from_secs(self.config.cache_ttl_secs.min(left))
    }

    /// `GET /v3/auth/tokens`: the subject token's user id and rendered body (JSON text),
    /// cached like [`Self::validate_for_middleware`]; an invalid subject token is 404.
    ///
    /// The cache entry is `<user id>\n<expiry µs>\n<body>`: a hit costs no JSON parsing.
    pub async fn subject_body(&self, token: &str, with_catalog: bool) -> Result<(String, String)> {
        let key = self
            .cache_key(
                if with_catalog {
                    "body"
                } else {
                    "body-nocatalog"
                },
                token,
            )
            .await;
        if let Some(bytes) = self.cache.get(&key).await
            && let Ok(text) = String::from_utf8(bytes)
            && let Some((user_id, rest)) = text.split_once('\n')
            && let Some((expires_at, body)) = rest.split_once('\n')
            && expires_at
                .parse::<i64>()
                .is_ok_and(|e| e > oxstack_common::time::now().timestamp_micros())
        {
            return Ok((user_id.to_string(), body.to_string()));
        }
        let data = self.validate_subject(token).await?;
        let body = self.token_body_json(&data, with_catalog).await?;
        let entry = format!(
            "{}\n{}\n{body}",
            data.user.id,
            data.payload.expires_at.timestamp_micros()
        );
        self.cache
            .set(&key, entry.into_bytes(), self.cache_ttl(&data))
            .await;
        Ok((data.user.id, body))
    }

    /// The token body as JSON text, the catalog (kept serialized per project under the
    /// epoch) spliced in rather than built and serialized again for every token.
    pub async fn token_body_json(&self, d: &TokenData, with_catalog: bool) -> Result<String> {
        let mut body = serde_json::to_string(&self.token_body(d))
            .map_err(|e| Error::internal("token body", e))?;
        if with_catalog && (d.project.is_some() || d.domain.is_some() || d.system) {
            let catalog = self
                .catalog_json(d.project.as_ref().map(|p| p.id.as_str()))
                .await?;
            splice_catalog(&mut body, &catalog);
        }
        Ok(body)
    }

    /// The token body Keystone returns for issue and validate, without its catalog.
    fn token_body(&self, d: &TokenData) -> Value {
        let mut t = json!({
            "methods": d.payload.methods,
            "user": {
                "id": d.user.id,
                "name": d.user.name,
                "domain": {"id": d.user_domain.id, "name": d.user_domain.name},
                "password_expires_at": d.user.password_expires_at.map(|e| oxstack_common::time::iso_micros(oxstack_common::time::micros_to_time(e))),
            },
            "audit_ids": d.payload.audit_ids,
            "expires_at": oxstack_common::time::iso_micros(d.payload.expires_at),
            "issued_at": oxstack_common::time::iso_micros(d.issued_at),
        });
        let roles: Vec<Value> = d
            .roles
            .values()
            .map(|r| json!({"id": r.id, "name": r.name}))
            .collect();
        if let (Some(p), Some(pd)) = (&d.project, &d.project_domain) {
            t["project"] =
                json!({"id": p.id, "name": p.name, "domain": {"id": pd.id, "name": pd.name}});
            t["is_domain"] = json!(false);
        } else if let Some(dom) = &d.domain {
            t["domain"] = json!({"id": dom.id, "name": dom.name});
        } else if d.system {
            t["system"] = json!({"all": true});
        }
        if d.project.is_some() || d.domain.is_some() || d.system {
            t["roles"] = Value::Array(roles);
        }
        if let Some(c) = &d.app_cred {
            t["application_credential"] =
                json!({"id": c.id, "name": c.name, "restricted": !c.unrestricted});
        }
        json!({ "token": t })
    }

    /// The catalog as a token scoped to `project_id` sees it: a project given endpoints
    /// (OS-EP-FILTER) sees only those, and only the services that still have one;
    /// `%(project_id)s`, `$(project_id)s` and the `tenant_id` forms in endpoint URLs are
    /// replaced by the project's id, and endpoints that need a project are left out for
    /// other scopes, as Keystone does.
    pub async fn catalog(&self, project_id: Option<&str>) -> Result<Value> {
        let text = self.catalog_json(project_id).await?;
        serde_json::from_str(&text).map_err(|e| Error::internal("catalog", e))
    }

    /// [`Self::catalog`] as JSON text, kept per project under the epoch.
    pub async fn catalog_json(&self, project_id: Option<&str>) -> Result<std::sync::Arc<String>> {
        let epoch = self.epoch().await;
        let key = project_id.unwrap_or_default();
        if let Some(c) = self.catalogs.get(&epoch, key) {
            return Ok(c);
        }
        let c = self.catalog_from_store(project_id).await?;
        let text = std::sync::Arc::new(c.to_string());
        self.catalogs.insert(&epoch, key.to_string(), text.clone());
        Ok(text)
    }

    async fn catalog_from_store(&self, project_id: Option<&str>) -> Result<Value> {
        let services = self.store.service_list(None).await?;
        let mut endpoints = self.store.endpoint_list().await?;
        let mut filtered = false;
        if let Some(p) = project_id {
            let given = self.filtered_endpoints(p).await?;
            if !given.is_empty() {
                endpoints.retain(|e| given.contains_key(&e.id));
                filtered = true;
            }
        }
        Ok(Value::Array(
            services
                .iter()
                .filter(|s| s.enabled)
                .filter_map(|s| {
                    let eps: Vec<Value> = endpoints
                        .iter()
                        .filter(|e| e.service_id == s.id && e.enabled)
                        .filter_map(|e| {
                            let url = substitute_project(&e.url, project_id)?;
                            Some(json!({"id": e.id, "interface": e.interface, "region_id": e.region_id, "region": e.region_id, "url": url}))
                        })
                        .collect();
                    (!filtered || !eps.is_empty()).then(|| json!({"id": s.id, "type": s.service_type, "name": s.extra.get("name").cloned().unwrap_or(json!("")), "endpoints": eps}))
                })
                .collect(),
        ))
    }

    /// `GET /v3/auth/tokens` needs a valid subject token, else 404.
    pub async fn validate_subject(&self, token: &str) -> Result<TokenData> {
        self.validate(token).await.map_err(|e| match e.kind {
            oxstack_common::error::ErrorKind::Unauthorized => not_found("token", "(subject token)"),
            _ => e,
        })
    }
}

/// Replaces the project id placeholders Keystone knows in an endpoint URL; `None` when the
/// URL needs a project and there is none.
pub fn substitute_project(url: &str, project_id: Option<&str>) -> Option<String> {
    const FORMS: [&str; 4] = [
        "%(project_id)s",
        "$(project_id)s",
        "%(tenant_id)s",
        "$(tenant_id)s",
    ];
    if !FORMS.iter().any(|f| url.contains(f)) {
        return Some(url.to_string());
    }
    let p = project_id?;
    Some(FORMS.iter().fold(url.to_string(), |u, f| u.replace(f, p)))
}

const EPOCH_KEY: &str = "identity:revocation-epoch";

/// What a token says, as other services need it.
pub fn auth_info(d: &TokenData) -> AuthInfo {
    AuthInfo {
        user_id: d.user.id.clone(),
        user_name: d.user.name.clone(),
        user_domain_id: d.user_domain.id.clone(),
        user_domain_name: d.user_domain.name.clone(),
        project_id: d.project.as_ref().map(|p| p.id.clone()),
        project_name: d.project.as_ref().map(|p| p.name.clone()),
        project_domain_id: d.project_domain.as_ref().map(|p| p.id.clone()),
        project_domain_name: d.project_domain.as_ref().map(|p| p.name.clone()),
        domain_id: d.domain.as_ref().map(|p| p.id.clone()),
        domain_name: d.domain.as_ref().map(|p| p.name.clone()),
        system_scope: d.system.then(|| "all".to_string()),
        roles: d
            .roles
            .values()
            .map(|r| RoleRef {
                id: r.id.clone(),
                name: r.name.clone(),
            })
            .collect(),
        is_admin_project: d
            .project
            .as_ref()
            .is_some_and(|p| p.name == "admin" && p.domain_id == crate::model::DEFAULT_DOMAIN),
        methods: d.payload.methods.clone(),
        audit_ids: d.payload.audit_ids.clone(),
        expires_at: d.payload.expires_at.timestamp_micros(),
        issued_at: d.issued_at.timestamp_micros(),
        application_credential_id: d.app_cred.as_ref().map(|c| c.id.clone()),
    }
}

/// Reads `auth.identity.methods` and the rest of `POST /v3/auth/tokens`.
pub fn parse_auth_request(body: &Value) -> Result<AuthRequest> {
    let auth = body.get("auth").ok_or_else(|| {
        Error::bad_request("Invalid input for field 'auth': 'auth' is a required property")
    })?;
    let methods = auth
        .get("identity")
        .and_then(|i| i.get("methods"))
        .and_then(Value::as_array)
        .ok_or_else(|| {
            Error::bad_request(
                "Invalid input for field 'identity': 'methods' is a required property",
            )
        })?;
    let methods = methods
        .iter()
        .map(|m| {
            m.as_str().map(str::to_string).ok_or_else(|| {
                Error::bad_request(
                    "Invalid input for field 'identity/methods': each method must be a string",
                )
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(AuthRequest {
        methods,
        body: auth.clone(),
    })
}

#[cfg(test)]
mod substitute_tests {
    use super::substitute_project;

    #[test]
    fn project_placeholders_are_substituted_or_the_endpoint_dropped() {
        let u = "http://h:8080/v1/AUTH_%(project_id)s";
        assert_eq!(
            substitute_project(u, Some("abc")).as_deref(),
            Some("http://h:8080/v1/AUTH_abc")
        );
        assert_eq!(
            substitute_project("http://h/v1/$(tenant_id)s", Some("p")).as_deref(),
            Some("http://h/v1/p")
        );
        assert_eq!(substitute_project(u, None), None);
        assert_eq!(
            substitute_project("http://h:5000/v3", None).as_deref(),
            Some("http://h:5000/v3")
        );
    }
}

/// Adds `"catalog": <catalog>` to a serialized `{"token": {...}}` (which ends with `}}`).
fn splice_catalog(body: &mut String, catalog: &str) {
    if body.ends_with("}}") {
        body.truncate(body.len() - 2);
        body.push_str(",\"catalog\":");
        body.push_str(catalog);
        body.push_str("}}");
    }
}

#[cfg(test)]
mod splice_tests {
    #[test]
    fn the_catalog_lands_inside_the_token() {
        let mut body = serde_json::json!({"token": {"methods": ["password"]}}).to_string();
        super::splice_catalog(&mut body, r#"[{"id":"s"}]"#);
        let v: serde_json::Value = serde_json::from_str(&body).expect("valid JSON");
        assert_eq!(v["token"]["catalog"][0]["id"], "s");
        assert_eq!(v["token"]["methods"][0], "password");
    }
}
