//! The identity service's resources as the logic layer sees them (no SQL, no HTTP).

use serde_json::{Map, Value};

/// `domain_id` of rows that are domains (Keystone's root sentinel).
pub const ROOT_DOMAIN: &str = "<<keystone.domain.root>>";
/// `domain_id` stored for global roles (unique keys cannot include NULL portably).
pub const NULL_DOMAIN: &str = "<<null>>";
/// The id of the `Default` domain.
pub const DEFAULT_DOMAIN: &str = "default";

/// A project, or a domain (`is_domain`).
#[derive(Debug, Clone, PartialEq)]
pub struct Project {
    pub id: String,
    pub name: String,
    /// For a domain: [`ROOT_DOMAIN`].
    pub domain_id: String,
    pub parent_id: Option<String>,
    pub is_domain: bool,
    pub enabled: bool,
    pub description: Option<String>,
    pub extra: Map<String, Value>,
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: String,
    pub domain_id: String,
    pub name: String,
    pub enabled: bool,
    pub default_project_id: Option<String>,
    pub description: Option<String>,
    pub extra: Map<String, Value>,
    pub password_hash: Option<String>,
    /// Microseconds since the epoch.
    pub password_expires_at: Option<i64>,
    pub failed_auth_count: i64,
    pub failed_auth_at: Option<i64>,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub id: String,
    pub domain_id: String,
    pub name: String,
    pub description: Option<String>,
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Role {
    pub id: String,
    pub name: String,
    /// `None` for a global role.
    pub domain_id: Option<String>,
    pub description: Option<String>,
    pub extra: Map<String, Value>,
}

/// Who holds a role where.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AssignmentKind {
    UserProject,
    GroupProject,
    UserDomain,
    GroupDomain,
    UserSystem,
    GroupSystem,
}

impl AssignmentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AssignmentKind::UserProject => "UserProject",
            AssignmentKind::GroupProject => "GroupProject",
            AssignmentKind::UserDomain => "UserDomain",
            AssignmentKind::GroupDomain => "GroupDomain",
            AssignmentKind::UserSystem => "UserSystem",
            AssignmentKind::GroupSystem => "GroupSystem",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "UserProject" => AssignmentKind::UserProject,
            "GroupProject" => AssignmentKind::GroupProject,
            "UserDomain" => AssignmentKind::UserDomain,
            "GroupDomain" => AssignmentKind::GroupDomain,
            "UserSystem" => AssignmentKind::UserSystem,
            "GroupSystem" => AssignmentKind::GroupSystem,
            _ => return None,
        })
    }
    pub fn is_group(self) -> bool {
        matches!(
            self,
            AssignmentKind::GroupProject
                | AssignmentKind::GroupDomain
                | AssignmentKind::GroupSystem
        )
    }
}

/// The target id of system assignments.
pub const SYSTEM_TARGET: &str = "system";

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Assignment {
    pub kind: AssignmentKind,
    pub actor_id: String,
    pub target_id: String,
    pub role_id: String,
    pub inherited: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Region {
    pub id: String,
    pub description: Option<String>,
    pub parent_region_id: Option<String>,
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub id: String,
    pub service_type: String,
    pub enabled: bool,
    /// `name`, `description` and any other attribute.
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    pub id: String,
    pub service_id: String,
    pub interface: String,
    pub url: String,
    pub region_id: Option<String>,
    pub enabled: bool,
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AppCred {
    pub id: String,
    pub name: String,
    pub secret_hash: String,
    pub description: Option<String>,
    pub user_id: String,
    pub project_id: Option<String>,
    pub system: Option<String>,
    pub expires_at: Option<i64>,
    pub unrestricted: bool,
    pub access_rules: Option<Value>,
    pub created_at: i64,
    pub role_ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Credential {
    pub id: String,
    pub user_id: String,
    pub project_id: Option<String>,
    pub credential_type: String,
    pub encrypted_blob: String,
    pub key_hash: String,
    pub extra: Map<String, Value>,
}

/// A revocation: tokens matching every set field and issued before `issued_before` are
/// invalid.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RevocationEvent {
    pub id: String,
    pub user_id: Option<String>,
    pub project_id: Option<String>,
    pub domain_id: Option<String>,
    pub role_id: Option<String>,
    pub audit_id: Option<String>,
    pub audit_chain_id: Option<String>,
    pub app_cred_id: Option<String>,
    pub issued_before: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: i64,
}

/// A policy blob (`/v3/policies`): an opaque document Keystone stores for other services.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyBlob {
    pub id: String,
    pub policy_type: String,
    pub blob: String,
    pub extra: Map<String, Value>,
}

/// An OAuth1 consumer (`/v3/OS-OAUTH1/consumers`). Its secret signs OAuth1 requests, so it
/// is kept encrypted (like credential blobs), not hashed.
#[derive(Debug, Clone, PartialEq)]
pub struct Consumer {
    pub id: String,
    pub description: Option<String>,
    pub encrypted_secret: String,
    pub key_hash: String,
    pub extra: Map<String, Value>,
}

/// One option of a domain's configuration (`/v3/domains/{id}/config`).
#[derive(Debug, Clone, PartialEq)]
pub struct DomainConfigOption {
    pub group: String,
    pub option: String,
    pub value: Value,
    /// Stored but never shown (the LDAP password).
    pub sensitive: bool,
}

/// An endpoint group (OS-EP-FILTER): the endpoints matching `filters` (`service_id`,
/// `region_id`, `interface`), which projects can be given.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointGroup {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub filters: Map<String, Value>,
}

/// An access rule of a user (`/v3/users/{id}/access_rules`): what a restricted application
/// credential may call. It outlives the credentials naming it until deleted.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessRule {
    pub id: String,
    pub user_id: String,
    pub service: String,
    pub path: String,
    pub method: String,
}
