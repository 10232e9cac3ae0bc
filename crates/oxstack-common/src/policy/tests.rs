//! Enforcer tests: Keystone's real secure-RBAC defaults, scope enforcement, overrides from
//! files, deprecated rules, load errors and the persona matrix.

use serde_json::json;

use super::*;
use crate::context::RoleRef;
use crate::error::ErrorKind;

const SYSTEM_READER_OR_DOMAIN_READER_OR_USER: &str = "(role:reader and system_scope:all) or (role:reader and token.domain.id:%(target.user.domain_id)s) or user_id:%(target.user.id)s";

/// A few of Keystone's defaults as it registers them.
const KEYSTONE: &[RuleDefault] = &[
    RuleDefault::new("admin_required", "role:admin"),
    RuleDefault::new("service_role", "role:service"),
    RuleDefault::new(
        "service_or_admin",
        "rule:admin_required or rule:service_role",
    ),
    RuleDefault::new("owner", "user_id:%(user_id)s"),
    RuleDefault::new("admin_or_owner", "rule:admin_required or rule:owner"),
    RuleDefault::new("identity:get_user", SYSTEM_READER_OR_DOMAIN_READER_OR_USER)
        .scope_types(&["system", "domain", "project"])
        .description("Show user details.")
        .operations(&[
            ("GET", "/v3/users/{user_id}"),
            ("HEAD", "/v3/users/{user_id}"),
        ])
        .deprecated("identity:get_user", "rule:admin_or_owner"),
    RuleDefault::new(
        "identity:list_users",
        "(role:reader and system_scope:all) or (role:reader and domain_id:%(target.domain_id)s)",
    )
    .scope_types(&["system", "domain"])
    .description("List users.")
    .operations(&[("GET", "/v3/users"), ("HEAD", "/v3/users")])
    .deprecated("identity:list_users", "rule:admin_required"),
    RuleDefault::new("identity:create_user", "role:admin and system_scope:all")
        .scope_types(&["system"])
        .description("Create a user.")
        .operations(&[("POST", "/v3/users")])
        .deprecated("identity:create_user", "rule:admin_required"),
    RuleDefault::new("identity:get_auth_projects", "")
        .description("List projects the token's user may scope to.")
        .operations(&[("GET", "/v3/auth/projects")]),
];

fn role(name: &str) -> RoleRef {
    RoleRef {
        id: format!("{name}-id"),
        name: name.to_owned(),
    }
}

fn token(roles: &[&str]) -> AuthInfo {
    AuthInfo {
        user_id: "alice".into(),
        user_domain_id: "d1".into(),
        roles: roles.iter().map(|r| role(r)).collect(),
        methods: vec!["password".into()],
        ..AuthInfo::default()
    }
}

fn system(roles: &[&str]) -> AuthInfo {
    AuthInfo {
        system_scope: Some("all".into()),
        ..token(roles)
    }
}

fn domain(id: &str, roles: &[&str]) -> AuthInfo {
    AuthInfo {
        domain_id: Some(id.into()),
        ..token(roles)
    }
}

fn project(id: &str, roles: &[&str]) -> AuthInfo {
    AuthInfo {
        project_id: Some(id.into()),
        project_domain_id: Some("d1".into()),
        ..token(roles)
    }
}

fn keystone() -> Enforcer {
    Enforcer::new(KEYSTONE).expect("keystone defaults load")
}

/// Keystone's target for a user, nested as handlers build it.
fn user_target(user_id: &str, domain_id: &str) -> Value {
    json!({"target": {"user": {"id": user_id, "domain_id": domain_id}}})
}

#[test]
fn keystone_get_user() {
    let e = keystone();
    let bob_in_d1 = user_target("bob", "d1");
    let rule = "identity:get_user";
    assert!(e.enforce(rule, &system(&["reader"]), &bob_in_d1));
    assert!(!e.enforce(rule, &system(&["member"]), &bob_in_d1));
    assert!(e.enforce(rule, &domain("d1", &["reader"]), &bob_in_d1));
    assert!(!e.enforce(rule, &domain("d2", &["reader"]), &bob_in_d1));
    assert!(!e.enforce(rule, &domain("d1", &["member"]), &bob_in_d1));
    // Project tokens: only the user themself; token.domain.id is absent in them.
    assert!(!e.enforce(rule, &project("p1", &["reader", "admin"]), &bob_in_d1));
    assert!(e.enforce(rule, &project("p1", &[]), &user_target("alice", "d9")));
    // Keystone flattens targets; flat dotted keys work the same.
    let flat = json!({"target.user.id": "bob", "target.user.domain_id": "d1"});
    assert!(e.enforce(rule, &domain("d1", &["reader"]), &flat));
    // A target without the keys the rule needs fails closed.
    assert!(!e.enforce(rule, &domain("d1", &["reader"]), &json!({})));
    // Unscoped tokens carry no scope: refused by scope before the rule is evaluated.
    assert_eq!(
        e.check(
            rule,
            &Credentials::from(&token(&[])),
            &user_target("alice", "d1")
        ),
        Err(Refusal::Scope {
            rule,
            scope_types: &["system", "domain", "project"],
            token_scope: None
        })
    );
}

#[test]
fn keystone_list_and_create_user_scopes() {
    let e = keystone();
    let t = json!({"target": {"domain_id": "d1"}});
    assert!(e.enforce("identity:list_users", &domain("d1", &["reader"]), &t));
    assert!(!e.enforce("identity:list_users", &domain("d2", &["reader"]), &t));
    assert_eq!(
        e.check(
            "identity:list_users",
            &Credentials::from(&project("p1", &["admin", "reader"])),
            &t
        ),
        Err(Refusal::Scope {
            rule: "identity:list_users",
            scope_types: &["system", "domain"],
            token_scope: Some(Scope::Project)
        })
    );
    assert!(e.enforce("identity:create_user", &system(&["admin"]), &json!({})));
    assert_eq!(
        e.check_scope("identity:create_user", &domain("d1", &["admin"])),
        Err(Refusal::Scope {
            rule: "identity:create_user",
            scope_types: &["system"],
            token_scope: Some(Scope::Domain)
        })
    );
    assert_eq!(e.check_scope("identity:create_user", &system(&[])), Ok(()));
    // No scope types: any token, even unscoped, passes the scope check.
    assert!(e.enforce("identity:get_auth_projects", &token(&[]), &json!({})));
}

#[test]
fn base_rules_chain_through_rule_references() {
    let e = keystone();
    let t = json!({"user_id": "alice"});
    assert!(e.enforce("admin_or_owner", &project("p1", &[]), &t));
    assert!(e.enforce(
        "admin_or_owner",
        &project("p1", &["ADMIN"]),
        &json!({"user_id": "bob"})
    ));
    assert!(!e.enforce(
        "admin_or_owner",
        &project("p1", &["member"]),
        &json!({"user_id": "bob"})
    ));
    assert!(e.enforce("service_or_admin", &project("p1", &["service"]), &t));
}

#[test]
fn authorize_gives_oslo_403_and_500_for_unregistered_rules() {
    let e = keystone();
    let err = e
        .authorize(
            "identity:create_user",
            &project("p1", &["admin"]),
            &json!({}),
        )
        .expect_err("project admin may not create users");
    assert_eq!(err.kind, ErrorKind::Forbidden);
    assert_eq!(
        err.message,
        "Policy doesn't allow identity:create_user to be performed."
    );
    // Refused by the rule rather than by scope: same 403.
    let err = e
        .authorize("identity:create_user", &system(&["reader"]), &json!({}))
        .expect_err("system reader may not create users");
    assert_eq!(err.status(), 403);
    assert!(
        e.authorize("identity:create_user", &system(&["admin"]), &json!({}))
            .is_ok()
    );

    let err = e
        .authorize("identity:no_such_rule", &system(&["admin"]), &json!({}))
        .expect_err("unregistered rule");
    assert_eq!(err.status(), 500);
    assert!(!err.message.contains("no_such_rule"));
    assert!(!e.enforce("identity:no_such_rule", &system(&["admin"]), &json!({})));

    let keystone_style = keystone().with_forbidden_message(|rule| {
        format!("You are not authorized to perform the requested action: {rule}.")
    });
    let err = keystone_style
        .authorize("identity:create_user", &system(&[]), &json!({}))
        .expect_err("no roles");
    assert_eq!(
        err.message,
        "You are not authorized to perform the requested action: identity:create_user."
    );
}

#[test]
fn scope_switches() {
    let relaxed = Enforcer::with_overrides(
        KEYSTONE,
        &Overrides::new(),
        EnforcerConfig {
            enforce_scope: false,
            ..EnforcerConfig::default()
        },
    )
    .expect("loads");
    // Scope ignored; the rule still decides.
    assert!(relaxed.enforce(
        "identity:create_user",
        &AuthInfo {
            system_scope: Some("all".into()),
            ..project("p1", &["admin"])
        },
        &json!({})
    ));
    assert!(!relaxed.enforce(
        "identity:create_user",
        &project("p1", &["admin"]),
        &json!({})
    ));
    assert_eq!(
        relaxed.check_scope("identity:create_user", &project("p1", &[])),
        Ok(())
    );

    let oslo_like = Enforcer::with_overrides(
        KEYSTONE,
        &Overrides::new(),
        EnforcerConfig {
            unscoped_is_project: true,
            ..EnforcerConfig::default()
        },
    )
    .expect("loads");
    assert!(oslo_like.enforce(
        "identity:get_user",
        &token(&[]),
        &user_target("alice", "d1")
    ));
    assert!(
        oslo_like
            .check_scope("identity:create_user", &token(&[]))
            .is_err()
    );
}

#[test]
fn service_token_credentials() {
    const DEFAULTS: &[RuleDefault] = &[RuleDefault::new(
        "compute:extend",
        "role:member and service_roles:service",
    )];
    let e = Enforcer::new(DEFAULTS).expect("loads");
    let user = project("p1", &["member"]);
    let nova = project("service", &["service"]);
    assert!(!e.enforce("compute:extend", &user, &json!({})));
    let creds = Credentials {
        user: &user,
        service: Some(&nova),
    };
    assert!(e.authorize_as("compute:extend", &creds, &json!({})).is_ok());
}

#[test]
fn overrides_from_a_yaml_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("policy.yaml");
    std::fs::write(
        &path,
        r#"# Operators' policy file.
"identity:create_user": "rule:cloud_admin or (role:admin and domain_id:%(target.user.domain_id)s)"
cloud_admin: 'role:admin and system_scope:all'
"identity:get_auth_projects": "!"
"#,
    )
    .expect("write policy file");
    let overrides = Overrides::load(&path).expect("policy file parses");
    let e =
        Enforcer::with_overrides(KEYSTONE, &overrides, EnforcerConfig::default()).expect("loads");
    assert!(e.is_overridden("identity:create_user"));
    assert!(!e.is_overridden("identity:get_user"));
    assert_eq!(
        e.effective_check_str("cloud_admin"),
        Some("role:admin and system_scope:all")
    );
    let t = json!({"target": {"user": {"domain_id": "d1"}}});
    assert!(e.enforce("identity:create_user", &system(&["admin"]), &t));
    // The override changes the rule, not the registered scope types.
    assert!(!e.enforce("identity:create_user", &domain("d1", &["admin"]), &t));
    assert!(!e.enforce("identity:get_auth_projects", &token(&[]), &json!({})));
    // Operator-only rules can be enforced but are not registered for authorize().
    assert!(e.enforce("cloud_admin", &system(&["admin"]), &json!({})));
    assert_eq!(
        e.authorize("cloud_admin", &system(&["admin"]), &json!({}))
            .map_err(|e| e.status()),
        Err(500)
    );
    // Untouched defaults stay.
    assert!(e.enforce(
        "identity:get_user",
        &system(&["reader"]),
        &user_target("b", "d1")
    ));
}

#[test]
fn overrides_from_json_and_empty_files() {
    let o = Overrides::parse(r#"{"identity:get_user": "role:admin", "x": "@"}"#).expect("json");
    assert_eq!(o.get("identity:get_user"), Some("role:admin"));
    assert!(Overrides::parse("").expect("empty").is_empty());
    assert!(
        Overrides::parse("# only comments\n")
            .expect("comments")
            .is_empty()
    );
    assert!(Overrides::parse("{}").expect("empty json").is_empty());
}

#[test]
fn load_errors_name_the_rule() {
    let err = Overrides::parse("identity:get_user: [role:admin]").expect_err("list value");
    assert!(matches!(err, PolicyError::NotAString { ref rule } if rule == "identity:get_user"));
    let err = Overrides::parse("identity:get_user:\n").expect_err("null value");
    assert!(matches!(err, PolicyError::NotAString { .. }));
    let err = Overrides::parse("- a\n- b\n").expect_err("not a mapping");
    assert!(matches!(err, PolicyError::Syntax { .. }));
    assert!(err.to_string().contains("<text>"));

    let mut o = Overrides::new();
    o.set("identity:get_user", "role:admin and (system_scope:all");
    let err = Enforcer::with_overrides(KEYSTONE, &o, EnforcerConfig::default())
        .expect_err("malformed override");
    assert_eq!(
        err.to_string(),
        "policy rule \"identity:get_user\" in the policy file is malformed"
    );
    let source = std::error::Error::source(&err).map(ToString::to_string);
    assert_eq!(source.as_deref(), Some("a \"(\" is not closed"));

    let mut o = Overrides::new();
    o.set("my_rule", "admin");
    let err = Enforcer::with_overrides(KEYSTONE, &o, EnforcerConfig::default())
        .expect_err("malformed extra rule");
    assert!(matches!(err, PolicyError::BadOverride { ref rule, .. } if rule == "my_rule"));

    let missing = Overrides::load(Path::new("/nonexistent/policy.yaml")).expect_err("no file");
    assert!(matches!(missing, PolicyError::Read { .. }));
}

#[test]
fn bad_defaults_are_load_errors() {
    const DUP: &[RuleDefault] = &[RuleDefault::new("a", "@"), RuleDefault::new("a", "!")];
    assert!(matches!(
        Enforcer::new(DUP),
        Err(PolicyError::Duplicate { .. })
    ));
    const SCOPE: &[RuleDefault] = &[RuleDefault::new("a", "@").scope_types(&["tenant"])];
    assert!(matches!(
        Enforcer::new(SCOPE),
        Err(PolicyError::BadScopeType { .. })
    ));
    const SYNTAX: &[RuleDefault] = &[RuleDefault::new("a", "role:x or")];
    assert!(matches!(
        Enforcer::new(SYNTAX),
        Err(PolicyError::BadDefault { .. })
    ));
}

#[test]
fn rule_references_cycles_and_undefined() {
    const DEFAULTS: &[RuleDefault] = &[
        RuleDefault::new("a", "rule:b or role:x"),
        RuleDefault::new("b", "rule:c"),
        RuleDefault::new("c", "role:y"),
        RuleDefault::new("dangling", "rule:nowhere or role:z"),
    ];
    let e = Enforcer::new(DEFAULTS).expect("no cycle yet");
    assert!(e.enforce("a", &project("p", &["y"]), &json!({})));
    assert!(!e.enforce("dangling", &project("p", &["q"]), &json!({})));
    assert!(e.enforce("dangling", &project("p", &["z"]), &json!({})));

    let mut o = Overrides::new();
    o.set("c", "rule:a and role:y");
    let err = Enforcer::with_overrides(DEFAULTS, &o, EnforcerConfig::default()).expect_err("cycle");
    assert_eq!(
        err.to_string(),
        "policy rules refer to each other in a cycle: a -> b -> c -> a"
    );
    let mut o = Overrides::new();
    o.set("c", "rule:c");
    assert!(Enforcer::with_overrides(DEFAULTS, &o, EnforcerConfig::default()).is_err());
}

#[test]
fn deprecated_rules() {
    const DEFAULTS: &[RuleDefault] = &[
        RuleDefault::new("admin_required", "role:admin"),
        RuleDefault::new(
            "compute:servers:show",
            "role:reader and project_id:%(project_id)s",
        )
        .scope_types(&["project"])
        .deprecated("compute:get", "rule:admin_required"),
    ];
    let t = json!({"project_id": "p1"});
    let other = json!({"project_id": "p2"});
    let admin = project("p9", &["admin"]);

    // New defaults only.
    let e = Enforcer::new(DEFAULTS).expect("loads");
    assert!(e.enforce("compute:servers:show", &project("p1", &["reader"]), &t));
    assert!(!e.enforce("compute:servers:show", &admin, &other));

    // enforce_new_defaults = false: the old rule also passes.
    let config = EnforcerConfig {
        enforce_new_defaults: false,
        ..EnforcerConfig::default()
    };
    let old_ok = Enforcer::with_overrides(DEFAULTS, &Overrides::new(), config).expect("loads");
    assert!(old_ok.enforce("compute:servers:show", &admin, &other));
    assert!(old_ok.enforce("compute:servers:show", &project("p1", &["reader"]), &t));
    assert_eq!(
        old_ok.effective_check_str("compute:servers:show"),
        Some("(role:reader and project_id:%(project_id)s) or (rule:admin_required)")
    );

    // An operator's override of the old name carries over to the new name.
    let mut o = Overrides::new();
    o.set("compute:get", "role:auditor");
    let carried = Enforcer::with_overrides(DEFAULTS, &o, EnforcerConfig::default()).expect("loads");
    assert!(carried.is_overridden("compute:servers:show"));
    assert!(carried.enforce("compute:servers:show", &project("p2", &["auditor"]), &t));
    assert!(!carried.enforce("compute:servers:show", &project("p1", &["reader"]), &t));

    // ... unless it merely restates the old default or points at the new rule.
    for benign in ["rule:admin_required", "rule:compute:servers:show"] {
        let mut o = Overrides::new();
        o.set("compute:get", benign);
        let e = Enforcer::with_overrides(DEFAULTS, &o, EnforcerConfig::default()).expect("loads");
        assert!(!e.is_overridden("compute:servers:show"), "{benign}");
    }

    // An override of the new name wins over everything.
    let mut o = Overrides::new();
    o.set("compute:get", "role:auditor");
    o.set("compute:servers:show", "role:admin");
    let e = Enforcer::with_overrides(DEFAULTS, &o, config).expect("loads");
    assert_eq!(
        e.effective_check_str("compute:servers:show"),
        Some("role:admin")
    );
}

#[test]
fn persona_matrix_snapshot() {
    let e = keystone();
    let matrix = e.persona_matrix(|_| owned_target());
    let expected = "\
legend: + allowed, - denied by rule, s denied by scope; each scope: admin member reader
rule                        system domain project  operations
admin_required              +--    +--    +--
service_role                ---    ---    ---
service_or_admin            +--    +--    +--
owner                       ---    ---    ---
admin_or_owner              +--    +--    +--
identity:get_user           +++    +++    ---      GET /v3/users/{user_id}, HEAD /v3/users/{user_id}
identity:list_users         +++    +++    sss      GET /v3/users, HEAD /v3/users
identity:create_user        +--    sss    sss      POST /v3/users
identity:get_auth_projects  +++    +++    +++      GET /v3/auth/projects
";
    assert_eq!(matrix, expected, "\n{matrix}");
}

#[test]
fn enforcer_is_shareable() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Enforcer>();
    assert_eq!(keystone().defaults().count(), KEYSTONE.len());
}
