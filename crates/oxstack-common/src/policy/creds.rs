//! The caller's side of a check: which credential attributes a rule may name, and their
//! values for a token, without building a dictionary per request.
//!
//! oslo.policy checks against `RequestContext.to_policy_values()`: a flat dict of `user_id`,
//! `project_id`, `system_scope`, `roles` (names), `is_admin_project`, `service_*`, ... in
//! which absent scopes are `None`. Keystone adds `token`, the token body as the API returns
//! it (`token.user.domain.id`, `token.project.domain.id`, `token.domain.id`,
//! `token.system.all`, `token.roles`), where absent scopes are absent keys. Both views are
//! served here from [`AuthInfo`]; the attribute name is resolved to a [`CredKey`] once, when
//! the rule is parsed.

use std::fmt;

use crate::context::{AuthInfo, RoleRef};

/// The token scope that scope enforcement compares against a rule's `scope_types`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// A system-scoped token (`system_scope` is `all`).
    System,
    /// A domain-scoped token.
    Domain,
    /// A project-scoped token.
    Project,
}

impl Scope {
    /// All scopes, in the order matrices print them.
    pub const ALL: [Scope; 3] = [Scope::System, Scope::Domain, Scope::Project];

    /// The name oslo.policy uses in `scope_types`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::System => "system",
            Scope::Domain => "domain",
            Scope::Project => "project",
        }
    }

    /// Parses a `scope_types` entry.
    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|sc| sc.as_str() == s)
    }

    /// The scope of `auth`'s token, `None` for an unscoped token. Precedence is oslo's:
    /// system, then domain, then project.
    pub fn of(auth: &AuthInfo) -> Option<Scope> {
        let set = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.is_empty());
        if set(&auth.system_scope) {
            Some(Scope::System)
        } else if set(&auth.domain_id) {
            Some(Scope::Domain)
        } else if set(&auth.project_id) {
            Some(Scope::Project)
        } else {
            None
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who is asking: the user's token and, when the request also carried an `X-Service-Token`,
/// the service's (it feeds the `service_*` credential attributes).
///
/// Attributes a generic check can name: `user_id`, `user_domain_id`, `project_id`,
/// `project_domain_id`, `domain_id`, `system_scope`, `system`, `roles` (names),
/// `is_admin_project` (`True`/`False`), `service_user_id`, `service_user_domain_id`,
/// `service_project_id`, `service_project_domain_id`, `service_roles`, the deprecated
/// aliases `user` and `tenant`, and Keystone's `token.user.id`, `token.user.name`,
/// `token.user.domain.id`, `token.user.domain.name`, `token.project.id`, `token.project.name`,
/// `token.project.domain.id`, `token.project.domain.name`, `token.domain.id`,
/// `token.domain.name`, `token.system.all`, `token.roles.id`, `token.roles.name`,
/// `token.methods`, `token.audit_ids`, `token.application_credential.id`. Any other name is
/// absent, so a check on it never passes.
#[derive(Debug, Clone, Copy)]
pub struct Credentials<'a> {
    /// The validated user token.
    pub user: &'a AuthInfo,
    /// The validated service token, if any.
    pub service: Option<&'a AuthInfo>,
}

impl<'a> From<&'a AuthInfo> for Credentials<'a> {
    fn from(user: &'a AuthInfo) -> Self {
        Credentials {
            user,
            service: None,
        }
    }
}

/// A credential attribute a generic check can name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CredKey {
    UserId,
    UserDomainId,
    ProjectId,
    ProjectDomainId,
    DomainId,
    SystemScope,
    /// oslo copies a truthy `system_scope` into `system`.
    System,
    Roles,
    IsAdminProject,
    ServiceUserId,
    ServiceUserDomainId,
    ServiceProjectId,
    ServiceProjectDomainId,
    ServiceRoles,
    TokenUserId,
    TokenUserName,
    TokenUserDomainId,
    TokenUserDomainName,
    TokenProjectId,
    TokenProjectName,
    TokenProjectDomainId,
    TokenProjectDomainName,
    TokenDomainId,
    TokenDomainName,
    TokenSystemAll,
    TokenRoleIds,
    TokenRoleNames,
    TokenMethods,
    TokenAuditIds,
    TokenAppCredId,
    /// Anything else: absent from the credentials, so the check never passes (as in oslo,
    /// where a missing key fails the check).
    Unknown(Box<str>),
}

const NAMES: &[(&str, CredKey)] = &[
    ("user_id", CredKey::UserId),
    // oslo.context's deprecated aliases.
    ("user", CredKey::UserId),
    ("tenant", CredKey::ProjectId),
    ("user_domain_id", CredKey::UserDomainId),
    ("project_id", CredKey::ProjectId),
    ("project_domain_id", CredKey::ProjectDomainId),
    ("domain_id", CredKey::DomainId),
    ("system_scope", CredKey::SystemScope),
    ("system", CredKey::System),
    ("roles", CredKey::Roles),
    ("is_admin_project", CredKey::IsAdminProject),
    ("service_user_id", CredKey::ServiceUserId),
    ("service_user_domain_id", CredKey::ServiceUserDomainId),
    ("service_project_id", CredKey::ServiceProjectId),
    ("service_project_domain_id", CredKey::ServiceProjectDomainId),
    ("service_roles", CredKey::ServiceRoles),
    ("token.user.id", CredKey::TokenUserId),
    ("token.user.name", CredKey::TokenUserName),
    ("token.user.domain.id", CredKey::TokenUserDomainId),
    ("token.user.domain.name", CredKey::TokenUserDomainName),
    ("token.project.id", CredKey::TokenProjectId),
    ("token.project.name", CredKey::TokenProjectName),
    ("token.project.domain.id", CredKey::TokenProjectDomainId),
    ("token.project.domain.name", CredKey::TokenProjectDomainName),
    ("token.domain.id", CredKey::TokenDomainId),
    ("token.domain.name", CredKey::TokenDomainName),
    ("token.system.all", CredKey::TokenSystemAll),
    ("token.roles.id", CredKey::TokenRoleIds),
    ("token.roles.name", CredKey::TokenRoleNames),
    ("token.methods", CredKey::TokenMethods),
    ("token.audit_ids", CredKey::TokenAuditIds),
    ("token.application_credential.id", CredKey::TokenAppCredId),
];

impl CredKey {
    pub(crate) fn parse(kind: &str) -> CredKey {
        NAMES
            .iter()
            .find(|(n, _)| *n == kind)
            .map(|(_, k)| k.clone())
            .unwrap_or_else(|| CredKey::Unknown(kind.into()))
    }

    /// The value(s) of this attribute for `creds`.
    pub(crate) fn value<'a>(&self, creds: &Credentials<'a>) -> CredValue<'a> {
        let u = creds.user;
        let svc = creds.service;
        let opt = |v: &'a Option<String>| match v {
            Some(s) => CredValue::Str(s),
            None => CredValue::None,
        };
        // `token.project.*` exists only in project-scoped tokens, `token.domain.*` only in
        // domain-scoped ones: absent, not None.
        let present = |v: &'a Option<String>| match v {
            Some(s) => CredValue::Str(s),
            None => CredValue::Absent,
        };
        let scoped = |scope: Scope, v: &'a Option<String>| {
            if Scope::of(u) == Some(scope) {
                present(v)
            } else {
                CredValue::Absent
            }
        };
        match self {
            CredKey::UserId => CredValue::Str(&u.user_id),
            CredKey::UserDomainId => CredValue::Str(&u.user_domain_id),
            CredKey::ProjectId => opt(&u.project_id),
            CredKey::ProjectDomainId => opt(&u.project_domain_id),
            CredKey::DomainId => opt(&u.domain_id),
            CredKey::SystemScope => opt(&u.system_scope),
            CredKey::System => match u.system_scope.as_deref() {
                Some(s) if !s.is_empty() => CredValue::Str(s),
                _ => CredValue::Absent,
            },
            CredKey::Roles => CredValue::RoleNames(&u.roles),
            CredKey::IsAdminProject => CredValue::Bool(u.is_admin_project),
            CredKey::ServiceUserId => svc.map_or(CredValue::None, |s| CredValue::Str(&s.user_id)),
            CredKey::ServiceUserDomainId => {
                svc.map_or(CredValue::None, |s| CredValue::Str(&s.user_domain_id))
            }
            CredKey::ServiceProjectId => svc.map_or(CredValue::None, |s| opt(&s.project_id)),
            CredKey::ServiceProjectDomainId => {
                svc.map_or(CredValue::None, |s| opt(&s.project_domain_id))
            }
            CredKey::ServiceRoles => CredValue::RoleNames(svc.map_or(&[], |s| &s.roles)),
            CredKey::TokenUserId => CredValue::Str(&u.user_id),
            CredKey::TokenUserName => CredValue::Str(&u.user_name),
            CredKey::TokenUserDomainId => CredValue::Str(&u.user_domain_id),
            CredKey::TokenUserDomainName => CredValue::Str(&u.user_domain_name),
            CredKey::TokenProjectId => scoped(Scope::Project, &u.project_id),
            CredKey::TokenProjectName => scoped(Scope::Project, &u.project_name),
            CredKey::TokenProjectDomainId => scoped(Scope::Project, &u.project_domain_id),
            CredKey::TokenProjectDomainName => scoped(Scope::Project, &u.project_domain_name),
            CredKey::TokenDomainId => scoped(Scope::Domain, &u.domain_id),
            CredKey::TokenDomainName => scoped(Scope::Domain, &u.domain_name),
            CredKey::TokenSystemAll => {
                if Scope::of(u) == Some(Scope::System) {
                    CredValue::Bool(true)
                } else {
                    CredValue::Absent
                }
            }
            CredKey::TokenRoleIds => CredValue::RoleIds(&u.roles),
            CredKey::TokenRoleNames => CredValue::RoleNames(&u.roles),
            CredKey::TokenMethods => CredValue::List(&u.methods),
            CredKey::TokenAuditIds => CredValue::List(&u.audit_ids),
            CredKey::TokenAppCredId => present(&u.application_credential_id),
            CredKey::Unknown(_) => CredValue::Absent,
        }
    }
}

impl fmt::Display for CredKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let CredKey::Unknown(name) = self {
            return f.write_str(name);
        }
        let name = NAMES
            .iter()
            .find(|(_, k)| k == self)
            .map_or("?", |(n, _)| n);
        f.write_str(name)
    }
}

/// A credential attribute's value, borrowed from the token.
#[derive(Debug, Clone, Copy)]
pub(crate) enum CredValue<'a> {
    /// The key is not in the credentials: no match is possible.
    Absent,
    /// The key is present with Python `None`, which `str()`s to `"None"`.
    None,
    Str(&'a str),
    /// Python `str(bool)`: `"True"`/`"False"`.
    Bool(bool),
    /// A list: a check matches if any element does.
    List(&'a [String]),
    RoleNames(&'a [RoleRef]),
    RoleIds(&'a [RoleRef]),
}

impl<'a> CredValue<'a> {
    /// Whether `pred` holds for the value, or for any element of a list.
    pub(crate) fn any(self, mut pred: impl FnMut(&str) -> bool) -> bool {
        match self {
            CredValue::Absent => false,
            CredValue::None => pred("None"),
            CredValue::Str(s) => pred(s),
            CredValue::Bool(b) => pred(if b { "True" } else { "False" }),
            CredValue::List(l) => l.iter().any(|s| pred(s)),
            CredValue::RoleNames(r) => r.iter().any(|r| pred(&r.name)),
            CredValue::RoleIds(r) => r.iter().any(|r| pred(&r.id)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project_token() -> AuthInfo {
        AuthInfo {
            user_id: "u1".into(),
            user_domain_id: "d1".into(),
            project_id: Some("p1".into()),
            project_domain_id: Some("d2".into()),
            roles: vec![RoleRef {
                id: "r1".into(),
                name: "Member".into(),
            }],
            ..AuthInfo::default()
        }
    }

    fn values(key: &str, creds: Credentials<'_>) -> Vec<String> {
        let mut out = Vec::new();
        CredKey::parse(key).value(&creds).any(|s| {
            out.push(s.to_owned());
            false
        });
        out
    }

    #[test]
    fn scope_of_token() {
        let mut a = project_token();
        assert_eq!(Scope::of(&a), Some(Scope::Project));
        a.domain_id = Some("d1".into());
        assert_eq!(Scope::of(&a), Some(Scope::Domain));
        a.system_scope = Some("all".into());
        assert_eq!(Scope::of(&a), Some(Scope::System));
        assert_eq!(Scope::of(&AuthInfo::default()), None);
    }

    #[test]
    fn flat_and_token_views() {
        let a = project_token();
        let c = Credentials::from(&a);
        assert_eq!(values("user_id", c), ["u1"]);
        assert_eq!(values("project_id", c), ["p1"]);
        assert_eq!(values("domain_id", c), ["None"]);
        assert_eq!(values("system_scope", c), ["None"]);
        assert!(values("system", c).is_empty());
        assert_eq!(values("roles", c), ["Member"]);
        assert_eq!(values("is_admin_project", c), ["False"]);
        assert_eq!(values("service_user_id", c), ["None"]);
        assert_eq!(values("token.project.domain.id", c), ["d2"]);
        assert_eq!(values("token.user.domain.id", c), ["d1"]);
        assert!(values("token.domain.id", c).is_empty());
        assert!(values("token.system.all", c).is_empty());
        assert_eq!(values("token.roles.id", c), ["r1"]);
        assert!(values("no_such_attribute", c).is_empty());
        assert_eq!(
            CredKey::parse("token.domain.id").to_string(),
            "token.domain.id"
        );
    }

    #[test]
    fn service_token_feeds_service_attributes() {
        let a = project_token();
        let mut s = project_token();
        s.user_id = "nova".into();
        s.roles[0].name = "service".into();
        let c = Credentials {
            user: &a,
            service: Some(&s),
        };
        assert_eq!(values("service_user_id", c), ["nova"]);
        assert_eq!(values("service_roles", c), ["service"]);
    }
}
