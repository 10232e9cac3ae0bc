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

/// `identity:get_user`: admins, readers of the system or of the user's domain, and the user.
const USER_READER: &str = "rule:admin_required or (role:reader and system_scope:all) or (role:reader and token.domain.id:%(target.user.domain_id)s) or user_id:%(target.user.id)s";
/// User writes: admins, and managers of the user's domain.
const USER_MANAGER: &str =
    "rule:admin_required or (role:manager and token.domain.id:%(target.user.domain_id)s)";
/// Group reads: admins, and readers of the system or of the group's domain.
const GROUP_READER: &str = "rule:admin_required or (role:reader and system_scope:all) or (role:reader and domain_id:%(target.group.domain_id)s)";
/// Group writes: admins, and managers of the group's domain.
const GROUP_MANAGER: &str =
    "rule:admin_required or (role:manager and domain_id:%(target.group.domain_id)s)";
/// Membership changes: admins, and managers of both the group's and the user's domain.
const GROUP_MEMBERSHIP_MANAGER: &str = "rule:admin_required or (role:manager and domain_id:%(target.group.domain_id)s and domain_id:%(target.user.domain_id)s)";

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
    // Users (keystone/common/policies/user.py).
    rule!(
        "identity:get_user",
        USER_READER,
        ALL_SCOPES,
        "Show user details.",
        [
            ("GET", "/v3/users/{user_id}"),
            ("HEAD", "/v3/users/{user_id}")
        ]
    ),
    rule!(
        "identity:list_users",
        ADMIN_OR_SYSTEM_READER_OR_DOMAIN_READER,
        ALL_SCOPES,
        "List users.",
        [("GET", "/v3/users"), ("HEAD", "/v3/users")]
    ),
    rule!(
        "identity:create_user",
        USER_MANAGER,
        ALL_SCOPES,
        "Create a user.",
        [("POST", "/v3/users")]
    ),
    rule!(
        "identity:update_user",
        USER_MANAGER,
        ALL_SCOPES,
        "Update a user, including administrative password resets.",
        [("PATCH", "/v3/users/{user_id}")]
    ),
    rule!(
        "identity:delete_user",
        USER_MANAGER,
        ALL_SCOPES,
        "Delete a user.",
        [("DELETE", "/v3/users/{user_id}")]
    ),
    // Groups (keystone/common/policies/group.py).
    rule!(
        "identity:get_group",
        GROUP_READER,
        ALL_SCOPES,
        "Show group details.",
        [
            ("GET", "/v3/groups/{group_id}"),
            ("HEAD", "/v3/groups/{group_id}")
        ]
    ),
    rule!(
        "identity:list_groups",
        GROUP_READER,
        ALL_SCOPES,
        "List groups.",
        [("GET", "/v3/groups"), ("HEAD", "/v3/groups")]
    ),
    rule!(
        "identity:list_groups_for_user",
        "rule:admin_required or (role:reader and system_scope:all) or (role:reader and domain_id:%(target.user.domain_id)s) or user_id:%(user_id)s",
        ALL_SCOPES,
        "List groups to which a user belongs.",
        [
            ("GET", "/v3/users/{user_id}/groups"),
            ("HEAD", "/v3/users/{user_id}/groups")
        ]
    ),
    rule!(
        "identity:create_group",
        GROUP_MANAGER,
        ALL_SCOPES,
        "Create group.",
        [("POST", "/v3/groups")]
    ),
    rule!(
        "identity:update_group",
        GROUP_MANAGER,
        ALL_SCOPES,
        "Update group.",
        [("PATCH", "/v3/groups/{group_id}")]
    ),
    rule!(
        "identity:delete_group",
        GROUP_MANAGER,
        ALL_SCOPES,
        "Delete group.",
        [("DELETE", "/v3/groups/{group_id}")]
    ),
    rule!(
        "identity:list_users_in_group",
        GROUP_READER,
        ALL_SCOPES,
        "List members of a specific group.",
        [
            ("GET", "/v3/groups/{group_id}/users"),
            ("HEAD", "/v3/groups/{group_id}/users")
        ]
    ),
    rule!(
        "identity:remove_user_from_group",
        GROUP_MEMBERSHIP_MANAGER,
        ALL_SCOPES,
        "Remove user from group.",
        [("DELETE", "/v3/groups/{group_id}/users/{user_id}")]
    ),
    rule!(
        "identity:check_user_in_group",
        "rule:admin_required or (role:reader and system_scope:all) or (role:reader and domain_id:%(target.group.domain_id)s and domain_id:%(target.user.domain_id)s)",
        ALL_SCOPES,
        "Check whether a user is a member of a group.",
        [
            ("HEAD", "/v3/groups/{group_id}/users/{user_id}"),
            ("GET", "/v3/groups/{group_id}/users/{user_id}")
        ]
    ),
    rule!(
        "identity:add_user_to_group",
        GROUP_MEMBERSHIP_MANAGER,
        ALL_SCOPES,
        "Add user to group.",
        [("PUT", "/v3/groups/{group_id}/users/{user_id}")]
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

/// `(role:R and <actor domain> and <target domain>)` for every actor/target pair, as
/// Keystone's grant policies spell it.
macro_rules! grants_domain {
    ($role:literal) => {
        concat!(
            "(role:", $role, " and domain_id:%(target.user.domain_id)s and domain_id:%(target.project.domain_id)s) or ",
            "(role:", $role, " and domain_id:%(target.user.domain_id)s and domain_id:%(target.domain.id)s) or ",
            "(role:", $role, " and domain_id:%(target.group.domain_id)s and domain_id:%(target.project.domain_id)s) or ",
            "(role:", $role, " and domain_id:%(target.group.domain_id)s and domain_id:%(target.domain.id)s)"
        )
    };
}

const ADMIN_OR_SYSTEM_READER: &str = "rule:admin_required or (role:reader and system_scope:all)";
const SYSTEM_AND_PROJECT: &[&str] = &["system", "project"];

/// The operations of one grant rule: every grant path, with each of `$m`.
macro_rules! grant_ops {
    ($($m:literal),+) => {
        &[$(
            ($m, "/v3/projects/{project_id}/users/{user_id}/roles/{role_id}"),
            ($m, "/v3/projects/{project_id}/groups/{group_id}/roles/{role_id}"),
            ($m, "/v3/domains/{domain_id}/users/{user_id}/roles/{role_id}"),
            ($m, "/v3/domains/{domain_id}/groups/{group_id}/roles/{role_id}"),
            ($m, "/v3/OS-INHERIT/projects/{project_id}/users/{user_id}/roles/{role_id}/inherited_to_projects"),
            ($m, "/v3/OS-INHERIT/projects/{project_id}/groups/{group_id}/roles/{role_id}/inherited_to_projects"),
            ($m, "/v3/OS-INHERIT/domains/{domain_id}/users/{user_id}/roles/{role_id}/inherited_to_projects"),
            ($m, "/v3/OS-INHERIT/domains/{domain_id}/groups/{group_id}/roles/{role_id}/inherited_to_projects"),
        )+]
    };
}

/// Roles, implied roles, grants and role assignments (Keystone's `role.py`,
/// `implied_role.py`, `grant.py` and `role_assignment.py`).
pub const ROLE_DEFAULTS: &[RuleDefault] = &[
    RuleDefault::new(
        "domain_managed_target_role",
        "'manager':%(target.role.name)s or 'member':%(target.role.name)s or 'reader':%(target.role.name)s",
    ),
    rule!(
        "identity:get_role",
        "(rule:admin_required or (role:reader and system_scope:all)) or (role:manager and rule:domain_managed_target_role)",
        ALL_SCOPES,
        "Show role details.",
        [
            ("GET", "/v3/roles/{role_id}"),
            ("HEAD", "/v3/roles/{role_id}")
        ]
    ),
    rule!(
        "identity:list_roles",
        "(rule:admin_required or (role:reader and system_scope:all)) or (role:manager and not domain_id:None)",
        ALL_SCOPES,
        "List roles.",
        [("GET", "/v3/roles"), ("HEAD", "/v3/roles")]
    ),
    rule!(
        "identity:create_role",
        "rule:admin_required",
        SYSTEM_AND_PROJECT,
        "Create role.",
        [("POST", "/v3/roles")]
    ),
    rule!(
        "identity:update_role",
        "rule:admin_required",
        SYSTEM_AND_PROJECT,
        "Update role.",
        [("PATCH", "/v3/roles/{role_id}")]
    ),
    rule!(
        "identity:delete_role",
        "rule:admin_required",
        SYSTEM_AND_PROJECT,
        "Delete role.",
        [("DELETE", "/v3/roles/{role_id}")]
    ),
    rule!(
        "identity:get_domain_role",
        ADMIN_OR_SYSTEM_READER,
        SYSTEM_AND_PROJECT,
        "Show domain role.",
        [
            ("GET", "/v3/roles/{role_id}"),
            ("HEAD", "/v3/roles/{role_id}")
        ]
    ),
    rule!(
        "identity:list_domain_roles",
        ADMIN_OR_SYSTEM_READER,
        SYSTEM_AND_PROJECT,
        "List domain roles.",
        [
            ("GET", "/v3/roles?domain_id={domain_id}"),
            ("HEAD", "/v3/roles?domain_id={domain_id}")
        ]
    ),
    rule!(
        "identity:create_domain_role",
        "rule:admin_required",
        SYSTEM_AND_PROJECT,
        "Create domain role.",
        [("POST", "/v3/roles")]
    ),
    rule!(
        "identity:update_domain_role",
        "rule:admin_required",
        SYSTEM_AND_PROJECT,
        "Update domain role.",
        [("PATCH", "/v3/roles/{role_id}")]
    ),
    rule!(
        "identity:delete_domain_role",
        "rule:admin_required",
        SYSTEM_AND_PROJECT,
        "Delete domain role.",
        [("DELETE", "/v3/roles/{role_id}")]
    ),
    rule!(
        "identity:get_implied_role",
        ADMIN_OR_SYSTEM_READER,
        SYSTEM_AND_PROJECT,
        "Get information about an association between two roles.",
        [("GET", "/v3/roles/{prior_role_id}/implies/{implied_role_id}")]
    ),
    rule!(
        "identity:list_implied_roles",
        ADMIN_OR_SYSTEM_READER,
        SYSTEM_AND_PROJECT,
        "List the roles a prior role implies.",
        [
            ("GET", "/v3/roles/{prior_role_id}/implies"),
            ("HEAD", "/v3/roles/{prior_role_id}/implies")
        ]
    ),
    rule!(
        "identity:create_implied_role",
        "rule:admin_required",
        SYSTEM_AND_PROJECT,
        "Create an association between two roles.",
        [("PUT", "/v3/roles/{prior_role_id}/implies/{implied_role_id}")]
    ),
    rule!(
        "identity:delete_implied_role",
        "rule:admin_required",
        SYSTEM_AND_PROJECT,
        "Delete the association between two roles.",
        [(
            "DELETE",
            "/v3/roles/{prior_role_id}/implies/{implied_role_id}"
        )]
    ),
    rule!(
        "identity:list_role_inference_rules",
        ADMIN_OR_SYSTEM_READER,
        SYSTEM_AND_PROJECT,
        "List all associations between two roles in the system.",
        [
            ("GET", "/v3/role_inferences"),
            ("HEAD", "/v3/role_inferences")
        ]
    ),
    rule!(
        "identity:check_implied_role",
        ADMIN_OR_SYSTEM_READER,
        SYSTEM_AND_PROJECT,
        "Check an association between two roles.",
        [(
            "HEAD",
            "/v3/roles/{prior_role_id}/implies/{implied_role_id}"
        )]
    ),
    RuleDefault {
        name: "identity:check_grant",
        check_str: concat!(
            "(rule:admin_required) or ((role:reader and system_scope:all) or (",
            grants_domain!("reader"),
            ") and (domain_id:%(target.role.domain_id)s or None:%(target.role.domain_id)s))"
        ),
        scope_types: ALL_SCOPES,
        description: "Check a role grant between a target (domain or project) and an actor (user or group), OS-INHERIT included.",
        operations: grant_ops!("HEAD", "GET"),
        deprecated: None,
    },
    RuleDefault {
        name: "identity:list_grants",
        check_str: concat!(
            "(rule:admin_required) or ((role:reader and system_scope:all) or ",
            grants_domain!("reader"),
            ")"
        ),
        scope_types: ALL_SCOPES,
        description: "List roles granted to an actor on a target, OS-INHERIT included.",
        operations: &[
            ("GET", "/v3/projects/{project_id}/users/{user_id}/roles"),
            ("GET", "/v3/projects/{project_id}/groups/{group_id}/roles"),
            ("GET", "/v3/domains/{domain_id}/users/{user_id}/roles"),
            ("GET", "/v3/domains/{domain_id}/groups/{group_id}/roles"),
            (
                "GET",
                "/v3/OS-INHERIT/domains/{domain_id}/groups/{group_id}/roles/inherited_to_projects",
            ),
            (
                "GET",
                "/v3/OS-INHERIT/domains/{domain_id}/users/{user_id}/roles/inherited_to_projects",
            ),
        ],
        deprecated: None,
    },
    RuleDefault {
        name: "identity:create_grant",
        check_str: concat!(
            "(rule:admin_required) or (",
            grants_domain!("admin"),
            ") and (domain_id:%(target.role.domain_id)s or None:%(target.role.domain_id)s) or (",
            grants_domain!("manager"),
            ") and rule:domain_managed_target_role"
        ),
        scope_types: ALL_SCOPES,
        description: "Create a role grant between a target (domain or project) and an actor (user or group), OS-INHERIT included.",
        operations: grant_ops!("PUT"),
        deprecated: None,
    },
    RuleDefault {
        name: "identity:revoke_grant",
        check_str: concat!(
            "(rule:admin_required) or (",
            grants_domain!("admin"),
            ") and (domain_id:%(target.role.domain_id)s or None:%(target.role.domain_id)s) or (",
            grants_domain!("manager"),
            ") and rule:domain_managed_target_role"
        ),
        scope_types: ALL_SCOPES,
        description: "Revoke a role grant between a target (domain or project) and an actor (user or group), OS-INHERIT included.",
        operations: grant_ops!("DELETE"),
        deprecated: None,
    },
    rule!(
        "identity:list_system_grants_for_user",
        ADMIN_OR_SYSTEM_READER,
        SYSTEM_AND_PROJECT,
        "List all grants a specific user has on the system.",
        [
            ("GET", "/v3/system/users/{user_id}/roles"),
            ("HEAD", "/v3/system/users/{user_id}/roles")
        ]
    ),
    rule!(
        "identity:check_system_grant_for_user",
        ADMIN_OR_SYSTEM_READER,
        SYSTEM_AND_PROJECT,
        "Check if a user has a role on the system.",
        [
            ("GET", "/v3/system/users/{user_id}/roles/{role_id}"),
            ("HEAD", "/v3/system/users/{user_id}/roles/{role_id}")
        ]
    ),
    rule!(
        "identity:create_system_grant_for_user",
        "rule:admin_required",
        SYSTEM_AND_PROJECT,
        "Grant a user a role on the system.",
        [("PUT", "/v3/system/users/{user_id}/roles/{role_id}")]
    ),
    rule!(
        "identity:revoke_system_grant_for_user",
        "rule:admin_required",
        SYSTEM_AND_PROJECT,
        "Remove a role from a user on the system.",
        [("DELETE", "/v3/system/users/{user_id}/roles/{role_id}")]
    ),
    rule!(
        "identity:list_system_grants_for_group",
        ADMIN_OR_SYSTEM_READER,
        SYSTEM_AND_PROJECT,
        "List all grants a specific group has on the system.",
        [
            ("GET", "/v3/system/groups/{group_id}/roles"),
            ("HEAD", "/v3/system/groups/{group_id}/roles")
        ]
    ),
    rule!(
        "identity:check_system_grant_for_group",
        ADMIN_OR_SYSTEM_READER,
        SYSTEM_AND_PROJECT,
        "Check if a group has a role on the system.",
        [
            ("GET", "/v3/system/groups/{group_id}/roles/{role_id}"),
            ("HEAD", "/v3/system/groups/{group_id}/roles/{role_id}")
        ]
    ),
    rule!(
        "identity:create_system_grant_for_group",
        "rule:admin_required",
        SYSTEM_AND_PROJECT,
        "Grant a group a role on the system.",
        [("PUT", "/v3/system/groups/{group_id}/roles/{role_id}")]
    ),
    rule!(
        "identity:revoke_system_grant_for_group",
        "rule:admin_required",
        SYSTEM_AND_PROJECT,
        "Remove a role from a group on the system.",
        [("DELETE", "/v3/system/groups/{group_id}/roles/{role_id}")]
    ),
    rule!(
        "identity:list_role_assignments",
        "(rule:admin_required) or (role:reader and system_scope:all) or (role:reader and domain_id:%(target.domain_id)s)",
        ALL_SCOPES,
        "List role assignments.",
        [
            ("GET", "/v3/role_assignments"),
            ("HEAD", "/v3/role_assignments")
        ]
    ),
    rule!(
        "identity:list_role_assignments_for_tree",
        "(rule:admin_required) or (role:reader and system_scope:all) or (role:reader and domain_id:%(target.domain_id)s)",
        ALL_SCOPES,
        "List all role assignments for a given tree of hierarchical projects.",
        [
            ("GET", "/v3/role_assignments?include_subtree"),
            ("HEAD", "/v3/role_assignments?include_subtree")
        ]
    ),
];

/// Every identity rule the enforcer loads.
pub fn all() -> Vec<RuleDefault> {
    [DEFAULTS, ROLE_DEFAULTS, EXTENSION_DEFAULTS].concat()
}

const ADMIN_OR_SYSTEM_READER_OR_OWNER: &str =
    "(rule:admin_required) or (role:reader and system_scope:all) or rule:owner";
const ADMIN_OR_SYSTEM_READER_OR_CRED_OWNER: &str = "(rule:admin_required) or (role:reader and system_scope:all) or user_id:%(target.credential.user_id)s";
const ADMIN_OR_CRED_OWNER: &str = "(rule:admin_required) or user_id:%(target.credential.user_id)s";

/// The owner of an EC2 credential, with the member role, may create and delete it.
const ADMIN_OR_MEMBER_AND_CRED_OWNER: &str =
    "(rule:admin_required) or (role:member and user_id:%(target.credential.user_id)s)";

/// Policy blobs, EC2 credentials, domain configuration, endpoint filtering (OS-EP-FILTER)
/// and OAuth1 consumers: Keystone's extension APIs.
pub const EXTENSION_DEFAULTS: &[RuleDefault] = &[
    // Policy blobs (keystone/common/policies/policy.py).
    rule!(
        "identity:get_policy",
        ADMIN_OR_SYSTEM_READER,
        SYSTEM_AND_PROJECT,
        "Show policy details.",
        [("GET", "/v3/policies/{policy_id}")]
    ),
    rule!(
        "identity:list_policies",
        ADMIN_OR_SYSTEM_READER,
        SYSTEM_AND_PROJECT,
        "List policies.",
        [("GET", "/v3/policies")]
    ),
    rule!(
        "identity:create_policy",
        "rule:admin_required",
        SYSTEM_AND_PROJECT,
        "Create policy.",
        [("POST", "/v3/policies")]
    ),
    rule!(
        "identity:update_policy",
        "rule:admin_required",
        SYSTEM_AND_PROJECT,
        "Update policy.",
        [("PATCH", "/v3/policies/{policy_id}")]
    ),
    rule!(
        "identity:delete_policy",
        "rule:admin_required",
        SYSTEM_AND_PROJECT,
        "Delete policy.",
        [("DELETE", "/v3/policies/{policy_id}")]
    ),
    // EC2 credentials (ec2_credential.py): owners with the member role manage their own.
    rule!(
        "identity:ec2_get_credential",
        ADMIN_OR_SYSTEM_READER_OR_CRED_OWNER,
        SYSTEM_AND_PROJECT,
        "Show ec2 credential details.",
        [(
            "GET",
            "/v3/users/{user_id}/credentials/OS-EC2/{credential_id}"
        )]
    ),
    rule!(
        "identity:ec2_list_credentials",
        ADMIN_OR_SYSTEM_READER_OR_OWNER,
        SYSTEM_AND_PROJECT,
        "List ec2 credentials.",
        [("GET", "/v3/users/{user_id}/credentials/OS-EC2")]
    ),
    rule!(
        "identity:ec2_create_credential",
        ADMIN_OR_MEMBER_AND_CRED_OWNER,
        SYSTEM_AND_PROJECT,
        "Create ec2 credential.",
        [("POST", "/v3/users/{user_id}/credentials/OS-EC2")]
    ),
    rule!(
        "identity:ec2_delete_credential",
        ADMIN_OR_MEMBER_AND_CRED_OWNER,
        SYSTEM_AND_PROJECT,
        "Delete ec2 credential.",
        [(
            "DELETE",
            "/v3/users/{user_id}/credentials/OS-EC2/{credential_id}"
        )]
    ),
    // Domain configuration (domain_config.py).
    rule!(
        "identity:create_domain_config",
        "rule:admin_required",
        SYSTEM_AND_PROJECT,
        "Create domain configuration.",
        [("PUT", "/v3/domains/{domain_id}/config")]
    ),
    rule!(
        "identity:get_domain_config",
        ADMIN_OR_SYSTEM_READER,
        SYSTEM_AND_PROJECT,
        "Get the entire domain configuration for a domain, an option group within a domain, or a specific configuration option within a group for a domain.",
        [
            ("GET", "/v3/domains/{domain_id}/config"),
            ("HEAD", "/v3/domains/{domain_id}/config"),
            ("GET", "/v3/domains/{domain_id}/config/{group}"),
            ("HEAD", "/v3/domains/{domain_id}/config/{group}"),
            ("GET", "/v3/domains/{domain_id}/config/{group}/{option}"),
            ("HEAD", "/v3/domains/{domain_id}/config/{group}/{option}")
        ]
    ),
    rule!(
        "identity:get_security_compliance_domain_config",
        "",
        ALL_SCOPES,
        "Get security compliance domain configuration for either a domain or a specific option in a domain.",
        [
            ("GET", "/v3/domains/{domain_id}/config/security_compliance"),
            (
                "GET",
                "/v3/domains/{domain_id}/config/security_compliance/{option}"
            )
        ]
    ),
    rule!(
        "identity:update_domain_config",
        "rule:admin_required",
        SYSTEM_AND_PROJECT,
        "Update domain configuration for either a domain, specific group or a specific option in a group.",
        [
            ("PATCH", "/v3/domains/{domain_id}/config"),
            ("PATCH", "/v3/domains/{domain_id}/config/{group}"),
            ("PATCH", "/v3/domains/{domain_id}/config/{group}/{option}")
        ]
    ),
    rule!(
        "identity:delete_domain_config",
        "rule:admin_required",
        SYSTEM_AND_PROJECT,
        "Delete domain configuration for either a domain, specific group or a specific option in a group.",
        [
            ("DELETE", "/v3/domains/{domain_id}/config"),
            ("DELETE", "/v3/domains/{domain_id}/config/{group}"),
            ("DELETE", "/v3/domains/{domain_id}/config/{group}/{option}")
        ]
    ),
    rule!(
        "identity:get_domain_config_default",
        ADMIN_OR_SYSTEM_READER,
        SYSTEM_AND_PROJECT,
        "Get domain configuration default for either a domain, specific group or a specific option in a group.",
        [
            ("GET", "/v3/domains/config/default"),
            ("HEAD", "/v3/domains/config/default"),
            ("GET", "/v3/domains/config/{group}/default"),
            ("HEAD", "/v3/domains/config/{group}/default"),
            ("GET", "/v3/domains/config/{group}/{option}/default"),
            ("HEAD", "/v3/domains/config/{group}/{option}/default")
        ]
    ),
    // Endpoint groups and project endpoints (endpoint_group.py, project_endpoint.py).
    rule!(
        "identity:create_endpoint_group",
        "rule:admin_required",
        SYSTEM_AND_PROJECT,
        "Create endpoint group.",
        [("POST", "/v3/OS-EP-FILTER/endpoint_groups")]
    ),
    rule!(
        "identity:list_endpoint_groups",
        ADMIN_OR_SYSTEM_READER,
        SYSTEM_AND_PROJECT,
        "List endpoint groups.",
        [("GET", "/v3/OS-EP-FILTER/endpoint_groups")]
    ),
    rule!(
        "identity:get_endpoint_group",
        ADMIN_OR_SYSTEM_READER,
        SYSTEM_AND_PROJECT,
        "Get endpoint group.",
        [
            (
                "GET",
                "/v3/OS-EP-FILTER/endpoint_groups/{endpoint_group_id}"
            ),
            (
                "HEAD",
                "/v3/OS-EP-FILTER/endpoint_groups/{endpoint_group_id}"
            )
        ]
    ),
    rule!(
        "identity:update_endpoint_group",
        "rule:admin_required",
        SYSTEM_AND_PROJECT,
        "Update endpoint group.",
        [(
            "PATCH",
            "/v3/OS-EP-FILTER/endpoint_groups/{endpoint_group_id}"
        )]
    ),
    rule!(
        "identity:delete_endpoint_group",
        "rule:admin_required",
        SYSTEM_AND_PROJECT,
        "Delete endpoint group.",
        [(
            "DELETE",
            "/v3/OS-EP-FILTER/endpoint_groups/{endpoint_group_id}"
        )]
    ),
    rule!(
        "identity:list_projects_associated_with_endpoint_group",
        ADMIN_OR_SYSTEM_READER,
        SYSTEM_AND_PROJECT,
        "List all projects associated with a specific endpoint group.",
        [(
            "GET",
            "/v3/OS-EP-FILTER/endpoint_groups/{endpoint_group_id}/projects"
        )]
    ),
    rule!(
        "identity:list_endpoints_associated_with_endpoint_group",
        ADMIN_OR_SYSTEM_READER,
        SYSTEM_AND_PROJECT,
        "List all endpoints associated with an endpoint group.",
        [(
            "GET",
            "/v3/OS-EP-FILTER/endpoint_groups/{endpoint_group_id}/endpoints"
        )]
    ),
    rule!(
        "identity:get_endpoint_group_in_project",
        ADMIN_OR_SYSTEM_READER,
        SYSTEM_AND_PROJECT,
        "Check if an endpoint group is associated with a project.",
        [
            (
                "GET",
                "/v3/OS-EP-FILTER/endpoint_groups/{endpoint_group_id}/projects/{project_id}"
            ),
            (
                "HEAD",
                "/v3/OS-EP-FILTER/endpoint_groups/{endpoint_group_id}/projects/{project_id}"
            )
        ]
    ),
    rule!(
        "identity:list_endpoint_groups_for_project",
        ADMIN_OR_SYSTEM_READER,
        SYSTEM_AND_PROJECT,
        "List endpoint groups associated with a specific project.",
        [(
            "GET",
            "/v3/OS-EP-FILTER/projects/{project_id}/endpoint_groups"
        )]
    ),
    rule!(
        "identity:add_endpoint_group_to_project",
        "rule:admin_required",
        SYSTEM_AND_PROJECT,
        "Allow a project to access an endpoint group.",
        [(
            "PUT",
            "/v3/OS-EP-FILTER/endpoint_groups/{endpoint_group_id}/projects/{project_id}"
        )]
    ),
    rule!(
        "identity:remove_endpoint_group_from_project",
        "rule:admin_required",
        SYSTEM_AND_PROJECT,
        "Remove endpoint group from project.",
        [(
            "DELETE",
            "/v3/OS-EP-FILTER/endpoint_groups/{endpoint_group_id}/projects/{project_id}"
        )]
    ),
    rule!(
        "identity:list_projects_for_endpoint",
        ADMIN_OR_SYSTEM_READER,
        SYSTEM_AND_PROJECT,
        "List projects allowed to access an endpoint.",
        [("GET", "/v3/OS-EP-FILTER/endpoints/{endpoint_id}/projects")]
    ),
    rule!(
        "identity:add_endpoint_to_project",
        "rule:admin_required",
        SYSTEM_AND_PROJECT,
        "Allow project to access an endpoint.",
        [(
            "PUT",
            "/v3/OS-EP-FILTER/projects/{project_id}/endpoints/{endpoint_id}"
        )]
    ),
    rule!(
        "identity:check_endpoint_in_project",
        ADMIN_OR_SYSTEM_READER,
        SYSTEM_AND_PROJECT,
        "Check if a project is allowed to access an endpoint.",
        [
            (
                "GET",
                "/v3/OS-EP-FILTER/projects/{project_id}/endpoints/{endpoint_id}"
            ),
            (
                "HEAD",
                "/v3/OS-EP-FILTER/projects/{project_id}/endpoints/{endpoint_id}"
            )
        ]
    ),
    rule!(
        "identity:list_endpoints_for_project",
        ADMIN_OR_SYSTEM_READER,
        SYSTEM_AND_PROJECT,
        "List the endpoints a project is allowed to access.",
        [("GET", "/v3/OS-EP-FILTER/projects/{project_id}/endpoints")]
    ),
    rule!(
        "identity:remove_endpoint_from_project",
        "rule:admin_required",
        SYSTEM_AND_PROJECT,
        "Remove access to an endpoint from a project that has previously been given explicit access.",
        [(
            "DELETE",
            "/v3/OS-EP-FILTER/projects/{project_id}/endpoints/{endpoint_id}"
        )]
    ),
    // OAuth1 consumers (consumer.py).
    rule!(
        "identity:get_consumer",
        ADMIN_OR_SYSTEM_READER,
        SYSTEM_AND_PROJECT,
        "Show OAUTH1 consumer details.",
        [("GET", "/v3/OS-OAUTH1/consumers/{consumer_id}")]
    ),
    rule!(
        "identity:list_consumers",
        ADMIN_OR_SYSTEM_READER,
        SYSTEM_AND_PROJECT,
        "List OAUTH1 consumers.",
        [("GET", "/v3/OS-OAUTH1/consumers")]
    ),
    rule!(
        "identity:create_consumer",
        "rule:admin_required",
        SYSTEM_AND_PROJECT,
        "Create OAUTH1 consumer.",
        [("POST", "/v3/OS-OAUTH1/consumers")]
    ),
    rule!(
        "identity:update_consumer",
        "rule:admin_required",
        SYSTEM_AND_PROJECT,
        "Update OAUTH1 consumer.",
        [("PATCH", "/v3/OS-OAUTH1/consumers/{consumer_id}")]
    ),
    rule!(
        "identity:delete_consumer",
        "rule:admin_required",
        SYSTEM_AND_PROJECT,
        "Delete OAUTH1 consumer.",
        [("DELETE", "/v3/OS-OAUTH1/consumers/{consumer_id}")]
    ),
];
