//! The identity service's policy defaults: Keystone's secure-RBAC defaults (admin, member and
//! reader personas at system, domain and project scope), as data.

use oxstack_common::policy::RuleDefault;

const ALL_SCOPES: &[&str] = &["system", "domain", "project"];

macro_rules! rule {
    ($name:literal, $check:expr, $scopes:expr, $desc:literal, [$(($m:literal, $p:literal)),* $(,)?]) => {
        RuleDefault {
            name: $name,
            check_str: $check,
            scope_types: $scopes,
            description: $desc,
            operations: &[$(($m, $p)),*],
            deprecated: None,
        }
    };
}

const ADMIN_OR_SYSTEM_READER_OR_DOMAIN_READER: &str = "rule:admin_required or (role:reader and system_scope:all) or (role:reader and domain_id:%(target.domain_id)s)";

/// Every identity rule.
pub const DEFAULTS: &[RuleDefault] = &[
    RuleDefault::new("admin_required", "role:admin or is_admin:1"),
    RuleDefault::new("service_role", "role:service"),
    RuleDefault::new(
        "service_or_admin",
        "rule:admin_required or rule:service_role",
    ),
    RuleDefault::new("owner", "user_id:%(user_id)s"),
    RuleDefault::new("admin_or_owner", "rule:admin_required or rule:owner"),
    RuleDefault::new("token_subject", "user_id:%(target.token.user_id)s"),
    RuleDefault::new(
        "admin_or_token_subject",
        "rule:admin_required or rule:token_subject",
    ),
    RuleDefault::new(
        "service_admin_or_token_subject",
        "rule:service_or_admin or rule:token_subject",
    ),
    rule!(
        "identity:validate_token",
        "rule:service_admin_or_token_subject",
        ALL_SCOPES,
        "Check a token.",
        [("GET", "/v3/auth/tokens"), ("HEAD", "/v3/auth/tokens")]
    ),
    rule!(
        "identity:revoke_token",
        "rule:service_admin_or_token_subject",
        ALL_SCOPES,
        "Revoke a token.",
        [("DELETE", "/v3/auth/tokens")]
    ),
    rule!(
        "identity:get_domain",
        "rule:admin_required or (role:reader and system_scope:all) or token.domain.id:%(target.domain.id)s or token.project.domain.id:%(target.domain.id)s",
        ALL_SCOPES,
        "Show domain details.",
        [("GET", "/v3/domains/{domain_id}")]
    ),
    rule!(
        "identity:list_domains",
        "rule:admin_required or (role:reader and system_scope:all) or (role:reader and domain_id:%(target.domain.id)s)",
        ALL_SCOPES,
        "List domains.",
        [("GET", "/v3/domains")]
    ),
    rule!(
        "identity:create_domain",
        "rule:admin_required",
        &["system", "project"],
        "Create domain.",
        [("POST", "/v3/domains")]
    ),
    rule!(
        "identity:update_domain",
        "rule:admin_required",
        &["system", "project"],
        "Update domain.",
        [("PATCH", "/v3/domains/{domain_id}")]
    ),
    rule!(
        "identity:delete_domain",
        "rule:admin_required",
        &["system", "project"],
        "Delete domain.",
        [("DELETE", "/v3/domains/{domain_id}")]
    ),
    rule!(
        "identity:get_project",
        "rule:admin_required or (role:reader and system_scope:all) or (role:reader and domain_id:%(target.project.domain_id)s) or project_id:%(target.project.id)s",
        ALL_SCOPES,
        "Show project details.",
        [("GET", "/v3/projects/{project_id}")]
    ),
    rule!(
        "identity:list_projects",
        ADMIN_OR_SYSTEM_READER_OR_DOMAIN_READER,
        ALL_SCOPES,
        "List projects.",
        [("GET", "/v3/projects")]
    ),
    rule!(
        "identity:create_project",
        "rule:admin_required or (role:manager and domain_id:%(target.project.domain_id)s)",
        ALL_SCOPES,
        "Create project.",
        [("POST", "/v3/projects")]
    ),
    rule!(
        "identity:update_project",
        "rule:admin_required or (role:manager and domain_id:%(target.project.domain_id)s)",
        ALL_SCOPES,
        "Update project.",
        [("PATCH", "/v3/projects/{project_id}")]
    ),
    rule!(
        "identity:delete_project",
        "rule:admin_required or (role:manager and domain_id:%(target.project.domain_id)s)",
        ALL_SCOPES,
        "Delete project.",
        [("DELETE", "/v3/projects/{project_id}")]
    ),
    rule!(
        "identity:list_user_projects",
        "rule:admin_required or (role:reader and system_scope:all) or (role:reader and domain_id:%(target.user.domain_id)s) or user_id:%(target.user.id)s",
        ALL_SCOPES,
        "List projects for user.",
        [("GET", "/v3/users/{user_id}/projects")]
    ),
    // Catalog: anyone with a token reads regions; services and endpoints are for admins and
    // system readers; changes are for admins (keystone/common/policies/{region,service,endpoint}.py).
    rule!(
        "identity:get_region",
        "",
        ALL_SCOPES,
        "Show region details.",
        [
            ("GET", "/v3/regions/{region_id}"),
            ("HEAD", "/v3/regions/{region_id}")
        ]
    ),
    rule!(
        "identity:list_regions",
        "",
        ALL_SCOPES,
        "List regions.",
        [("GET", "/v3/regions"), ("HEAD", "/v3/regions")]
    ),
    rule!(
        "identity:create_region",
        "rule:admin_required",
        &["system", "project"],
        "Create region.",
        [("POST", "/v3/regions"), ("PUT", "/v3/regions/{region_id}")]
    ),
    rule!(
        "identity:update_region",
        "rule:admin_required",
        &["system", "project"],
        "Update region.",
        [("PATCH", "/v3/regions/{region_id}")]
    ),
    rule!(
        "identity:delete_region",
        "rule:admin_required",
        &["system", "project"],
        "Delete region.",
        [("DELETE", "/v3/regions/{region_id}")]
    ),
    rule!(
        "identity:get_service",
        ADMIN_OR_SYSTEM_READER,
        &["system", "project"],
        "Show service details.",
        [("GET", "/v3/services/{service_id}")]
    ),
    rule!(
        "identity:list_services",
        ADMIN_OR_SYSTEM_READER,
        &["system", "project"],
        "List services.",
        [("GET", "/v3/services")]
    ),
    rule!(
        "identity:create_service",
        "rule:admin_required",
        &["system", "project"],
        "Create service.",
        [("POST", "/v3/services")]
    ),
    rule!(
        "identity:update_service",
        "rule:admin_required",
        &["system", "project"],
        "Update service.",
        [("PATCH", "/v3/services/{service_id}")]
    ),
    rule!(
        "identity:delete_service",
        "rule:admin_required",
        &["system", "project"],
        "Delete service.",
        [("DELETE", "/v3/services/{service_id}")]
    ),
    rule!(
        "identity:get_endpoint",
        ADMIN_OR_SYSTEM_READER,
        &["system", "project"],
        "Show endpoint details.",
        [("GET", "/v3/endpoints/{endpoint_id}")]
    ),
    rule!(
        "identity:list_endpoints",
        ADMIN_OR_SYSTEM_READER,
        &["system", "project"],
        "List endpoints.",
        [("GET", "/v3/endpoints")]
    ),
    rule!(
        "identity:create_endpoint",
        "rule:admin_required",
        &["system", "project"],
        "Create endpoint.",
        [("POST", "/v3/endpoints")]
    ),
    rule!(
        "identity:update_endpoint",
        "rule:admin_required",
        &["system", "project"],
        "Update endpoint.",
        [("PATCH", "/v3/endpoints/{endpoint_id}")]
    ),
    rule!(
        "identity:delete_endpoint",
        "rule:admin_required",
        &["system", "project"],
        "Delete endpoint.",
        [("DELETE", "/v3/endpoints/{endpoint_id}")]
    ),
    // Application credentials: the owner manages their own (the target's `user_id` is the
    // credential's owner, never the path's); creating needs a project-scoped token.
    rule!(
        "identity:get_application_credential",
        ADMIN_OR_SYSTEM_READER_OR_OWNER,
        &["system", "project"],
        "Show application credential details.",
        [
            (
                "GET",
                "/v3/users/{user_id}/application_credentials/{application_credential_id}"
            ),
            (
                "HEAD",
                "/v3/users/{user_id}/application_credentials/{application_credential_id}"
            ),
        ]
    ),
    rule!(
        "identity:list_application_credentials",
        ADMIN_OR_SYSTEM_READER_OR_OWNER,
        &["system", "project"],
        "List application credentials for a user.",
        [
            ("GET", "/v3/users/{user_id}/application_credentials"),
            ("HEAD", "/v3/users/{user_id}/application_credentials"),
        ]
    ),
    rule!(
        "identity:create_application_credential",
        "user_id:%(user_id)s",
        &["project"],
        "Create an application credential.",
        [("POST", "/v3/users/{user_id}/application_credentials")]
    ),
    rule!(
        "identity:delete_application_credential",
        "rule:admin_or_owner",
        &["system", "project"],
        "Delete an application credential.",
        [(
            "DELETE",
            "/v3/users/{user_id}/application_credentials/{application_credential_id}"
        )]
    ),
    rule!(
        "identity:get_access_rule",
        "(role:reader and system_scope:all) or user_id:%(target.user.id)s",
        &["system", "project"],
        "Show access rule details.",
        [
            ("GET", "/v3/users/{user_id}/access_rules/{access_rule_id}"),
            ("HEAD", "/v3/users/{user_id}/access_rules/{access_rule_id}"),
        ]
    ),
    rule!(
        "identity:list_access_rules",
        "(role:reader and system_scope:all) or user_id:%(target.user.id)s",
        &["system", "project"],
        "List access rules for a user.",
        [
            ("GET", "/v3/users/{user_id}/access_rules"),
            ("HEAD", "/v3/users/{user_id}/access_rules"),
        ]
    ),
    rule!(
        "identity:delete_access_rule",
        "(role:admin and system_scope:all) or user_id:%(target.user.id)s",
        &["system", "project"],
        "Delete an access_rule.",
        [(
            "DELETE",
            "/v3/users/{user_id}/access_rules/{access_rule_id}"
        )]
    ),
    // Credentials: admins and system readers see all, owners their own.
    rule!(
        "identity:get_credential",
        ADMIN_OR_SYSTEM_READER_OR_CRED_OWNER,
        ALL_SCOPES,
        "Show credentials details.",
        [("GET", "/v3/credentials/{credential_id}")]
    ),
    rule!(
        "identity:list_credentials",
        ADMIN_OR_SYSTEM_READER_OR_CRED_OWNER,
        ALL_SCOPES,
        "List credentials.",
        [("GET", "/v3/credentials")]
    ),
    rule!(
        "identity:create_credential",
        ADMIN_OR_CRED_OWNER,
        ALL_SCOPES,
        "Create credential.",
        [("POST", "/v3/credentials")]
    ),
    rule!(
        "identity:update_credential",
        ADMIN_OR_CRED_OWNER,
        ALL_SCOPES,
        "Update credential.",
        [("PATCH", "/v3/credentials/{credential_id}")]
    ),
    rule!(
        "identity:delete_credential",
        ADMIN_OR_CRED_OWNER,
        ALL_SCOPES,
        "Delete credential.",
        [("DELETE", "/v3/credentials/{credential_id}")]
    ),
];

const ADMIN_OR_SYSTEM_READER: &str = "rule:admin_required or (role:reader and system_scope:all)";
const ADMIN_OR_SYSTEM_READER_OR_OWNER: &str =
    "(rule:admin_required) or (role:reader and system_scope:all) or rule:owner";
const ADMIN_OR_SYSTEM_READER_OR_CRED_OWNER: &str = "(rule:admin_required) or (role:reader and system_scope:all) or user_id:%(target.credential.user_id)s";
const ADMIN_OR_CRED_OWNER: &str = "(rule:admin_required) or user_id:%(target.credential.user_id)s";
