//! The identity schema, append-only. Portable SQL (see `oxstack_common::db`).
//!
//! Domains are rows of `identity_project` with `is_domain = 1` and the root sentinel as
//! their `domain_id` (as Keystone stores them), so one unique key covers both project names
//! within a domain and domain names.

use oxstack_common::db::Migration;

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial identity schema",
        sql: r#"
CREATE TABLE identity_project (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    name VARCHAR(64) NOT NULL,
    domain_id VARCHAR(64) NOT NULL,
    parent_id VARCHAR(64),
    is_domain BIGINT NOT NULL,
    enabled BIGINT NOT NULL,
    description TEXT,
    extra TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    CONSTRAINT identity_project_name UNIQUE (domain_id, name)
);
CREATE INDEX identity_project_parent ON identity_project (parent_id);
CREATE TABLE identity_project_tag (
    project_id VARCHAR(64) NOT NULL,
    name VARCHAR(255) NOT NULL,
    PRIMARY KEY (project_id, name)
);
CREATE TABLE identity_user (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    domain_id VARCHAR(64) NOT NULL,
    name VARCHAR(255) NOT NULL,
    enabled BIGINT NOT NULL,
    default_project_id VARCHAR(64),
    description TEXT,
    extra TEXT NOT NULL,
    password_hash VARCHAR(255),
    password_created_at BIGINT,
    password_expires_at BIGINT,
    failed_auth_count BIGINT NOT NULL,
    failed_auth_at BIGINT,
    created_at BIGINT NOT NULL,
    last_active_at BIGINT,
    CONSTRAINT identity_user_name UNIQUE (domain_id, name)
);
CREATE TABLE identity_group (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    domain_id VARCHAR(64) NOT NULL,
    name VARCHAR(64) NOT NULL,
    description TEXT,
    extra TEXT NOT NULL,
    CONSTRAINT identity_group_name UNIQUE (domain_id, name)
);
CREATE TABLE identity_user_group (
    user_id VARCHAR(64) NOT NULL,
    group_id VARCHAR(64) NOT NULL,
    PRIMARY KEY (user_id, group_id)
);
CREATE INDEX identity_user_group_group ON identity_user_group (group_id);
CREATE TABLE identity_role (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    domain_id VARCHAR(64) NOT NULL,
    description TEXT,
    extra TEXT NOT NULL,
    CONSTRAINT identity_role_name UNIQUE (name, domain_id)
);
CREATE TABLE identity_implied_role (
    prior_role_id VARCHAR(64) NOT NULL,
    implied_role_id VARCHAR(64) NOT NULL,
    PRIMARY KEY (prior_role_id, implied_role_id)
);
CREATE TABLE identity_assignment (
    kind VARCHAR(16) NOT NULL,
    actor_id VARCHAR(64) NOT NULL,
    target_id VARCHAR(64) NOT NULL,
    role_id VARCHAR(64) NOT NULL,
    inherited BIGINT NOT NULL,
    PRIMARY KEY (kind, actor_id, target_id, role_id, inherited)
);
CREATE INDEX identity_assignment_actor ON identity_assignment (actor_id);
CREATE INDEX identity_assignment_target ON identity_assignment (target_id);
CREATE INDEX identity_assignment_role ON identity_assignment (role_id);
CREATE TABLE identity_region (
    id VARCHAR(255) NOT NULL PRIMARY KEY,
    description TEXT,
    parent_region_id VARCHAR(255),
    extra TEXT NOT NULL
);
CREATE TABLE identity_service (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    type VARCHAR(255) NOT NULL,
    enabled BIGINT NOT NULL,
    extra TEXT NOT NULL
);
CREATE TABLE identity_endpoint (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    service_id VARCHAR(64) NOT NULL,
    interface VARCHAR(8) NOT NULL,
    url TEXT NOT NULL,
    region_id VARCHAR(255),
    enabled BIGINT NOT NULL,
    extra TEXT NOT NULL
);
CREATE TABLE identity_app_cred (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    secret_hash VARCHAR(255) NOT NULL,
    description TEXT,
    user_id VARCHAR(64) NOT NULL,
    project_id VARCHAR(64),
    system VARCHAR(64),
    expires_at BIGINT,
    unrestricted BIGINT NOT NULL,
    access_rules TEXT,
    created_at BIGINT NOT NULL,
    CONSTRAINT identity_app_cred_name UNIQUE (user_id, name)
);
CREATE TABLE identity_app_cred_role (
    app_cred_id VARCHAR(64) NOT NULL,
    role_id VARCHAR(64) NOT NULL,
    PRIMARY KEY (app_cred_id, role_id)
);
CREATE TABLE identity_credential (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    user_id VARCHAR(64) NOT NULL,
    project_id VARCHAR(64),
    type VARCHAR(255) NOT NULL,
    encrypted_blob TEXT NOT NULL,
    key_hash VARCHAR(64) NOT NULL,
    extra TEXT NOT NULL
);
CREATE INDEX identity_credential_user ON identity_credential (user_id);
CREATE TABLE identity_revocation_event (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    user_id VARCHAR(64),
    project_id VARCHAR(64),
    domain_id VARCHAR(64),
    role_id VARCHAR(64),
    audit_id VARCHAR(64),
    audit_chain_id VARCHAR(64),
    app_cred_id VARCHAR(64),
    issued_before BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT NOT NULL
);
CREATE INDEX identity_revocation_event_revoked ON identity_revocation_event (revoked_at);
"#,
    },
    Migration {
        version: 2,
        name: "policy blobs (/v3/policies)",
        sql: r#"
CREATE TABLE identity_policy (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    type VARCHAR(255) NOT NULL,
    policy_blob {longtext} NOT NULL,
    extra TEXT NOT NULL
);
"#,
    },
    Migration {
        version: 3,
        name: "OAuth1 consumers",
        sql: r#"
CREATE TABLE identity_oauth_consumer (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    description TEXT,
    encrypted_secret TEXT NOT NULL,
    key_hash VARCHAR(64) NOT NULL,
    extra TEXT NOT NULL
);
"#,
    },
    Migration {
        version: 4,
        name: "domain-specific configuration",
        sql: r#"
CREATE TABLE identity_domain_config (
    domain_id VARCHAR(64) NOT NULL,
    group_name VARCHAR(255) NOT NULL,
    option_name VARCHAR(255) NOT NULL,
    option_value TEXT NOT NULL,
    is_sensitive BIGINT NOT NULL,
    PRIMARY KEY (domain_id, group_name, option_name)
);
"#,
    },
    Migration {
        version: 5,
        name: "endpoint filtering (OS-EP-FILTER)",
        sql: r#"
CREATE TABLE identity_endpoint_group (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    description TEXT,
    filters TEXT NOT NULL
);
CREATE TABLE identity_project_endpoint_group (
    endpoint_group_id VARCHAR(64) NOT NULL,
    project_id VARCHAR(64) NOT NULL,
    PRIMARY KEY (endpoint_group_id, project_id)
);
CREATE INDEX identity_project_endpoint_group_project ON identity_project_endpoint_group (project_id);
CREATE TABLE identity_project_endpoint (
    endpoint_id VARCHAR(64) NOT NULL,
    project_id VARCHAR(64) NOT NULL,
    PRIMARY KEY (endpoint_id, project_id)
);
CREATE INDEX identity_project_endpoint_project ON identity_project_endpoint (project_id);
"#,
    },
    Migration {
        version: 6,
        name: "access rules kept apart from application credentials",
        sql: r#"
CREATE TABLE identity_access_rule (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    user_id VARCHAR(64) NOT NULL,
    service VARCHAR(64) NOT NULL,
    path VARCHAR(255) NOT NULL,
    method VARCHAR(16) NOT NULL
);
CREATE INDEX identity_access_rule_user ON identity_access_rule (user_id);
"#,
    },
    Migration {
        version: 7,
        name: "password history (security compliance)",
        sql: r#"
CREATE TABLE identity_password_history (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    user_id VARCHAR(64) NOT NULL,
    password_hash VARCHAR(255) NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX identity_password_history_user ON identity_password_history (user_id);
"#,
    },
];
