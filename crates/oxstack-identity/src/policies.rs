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
];
