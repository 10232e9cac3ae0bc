//! The store on every engine: SQLite always, MariaDB and PostgreSQL when reachable.

use serde_json::Map;

use super::*;
use crate::model::*;
use oxstack_common::db::testing;

fn project(id: &str, name: &str, domain: &str, is_domain: bool) -> Project {
    Project {
        id: id.into(),
        name: name.into(),
        domain_id: domain.into(),
        parent_id: (!is_domain).then(|| domain.to_string()),
        is_domain,
        enabled: true,
        description: None,
        extra: Map::new(),
        tags: vec!["t1".into()],
    }
}

fn user(id: &str, name: &str) -> User {
    User {
        id: id.into(),
        domain_id: DEFAULT_DOMAIN.into(),
        name: name.into(),
        enabled: true,
        default_project_id: None,
        description: Some("d".into()),
        extra: Map::from_iter([("email".to_string(), serde_json::json!("a@b"))]),
        password_hash: Some("h".into()),
        password_expires_at: None,
        failed_auth_count: 0,
        failed_auth_at: None,
        created_at: 1,
    }
}

#[tokio::test]
async fn every_resource_round_trips_on_every_engine() {
    for t in testing::engines().await {
        let db = t.db().clone();
        db.migrate("identity", MIGRATIONS).await.expect("migrate");
        let s = Store::new(db);
        let engine = t.engine();

        s.project_create(&project(DEFAULT_DOMAIN, "Default", ROOT_DOMAIN, true))
            .await
            .expect("domain");
        s.project_create(&project("p1", "p1", DEFAULT_DOMAIN, false))
            .await
            .expect("project");
        assert!(
            matches!(
                s.project_create(&project("p2", "p1", DEFAULT_DOMAIN, false))
                    .await,
                Err(StoreError::Duplicate)
            ),
            "{engine:?}"
        );
        let p = s.project_get("p1").await.expect("get").expect("exists");
        assert_eq!(p.tags, vec!["t1".to_string()]);
        assert_eq!(
            s.domain_get_by_name("Default")
                .await
                .expect("by name")
                .map(|d| d.id),
            Some(DEFAULT_DOMAIN.to_string())
        );
        let listed = s
            .project_list(&ProjectFilter {
                is_domain: Some(false),
                ..Default::default()
            })
            .await
            .expect("list");
        assert_eq!(listed.len(), 1);

        s.user_create(&user("u1", "alice")).await.expect("user");
        assert!(matches!(
            s.user_create(&user("u2", "alice")).await,
            Err(StoreError::Duplicate)
        ));
        let u = s
            .user_get_by_name(DEFAULT_DOMAIN, "alice")
            .await
            .expect("get")
            .expect("exists");
        assert_eq!(u.extra.get("email"), Some(&serde_json::json!("a@b")));
        s.user_record_auth("u1", true).await.expect("fail");
        assert_eq!(
            s.user_get("u1")
                .await
                .expect("get")
                .expect("exists")
                .failed_auth_count,
            1
        );

        s.group_create(&Group {
            id: "g1".into(),
            domain_id: DEFAULT_DOMAIN.into(),
            name: "g".into(),
            description: None,
            extra: Map::new(),
        })
        .await
        .expect("group");
        s.group_add_user("g1", "u1").await.expect("member");
        s.group_add_user("g1", "u1")
            .await
            .expect("member again is fine");
        assert_eq!(
            s.user_group_ids("u1").await.expect("groups"),
            vec!["g1".to_string()]
        );

        let role = Role {
            id: "r1".into(),
            name: "reader".into(),
            domain_id: None,
            description: None,
            extra: Map::new(),
        };
        s.role_create(&role).await.expect("role");
        assert_eq!(
            s.role_get_by_name("reader", None)
                .await
                .expect("by name")
                .map(|r| r.id),
            Some("r1".to_string())
        );
        let a = Assignment {
            kind: AssignmentKind::GroupProject,
            actor_id: "g1".into(),
            target_id: "p1".into(),
            role_id: "r1".into(),
            inherited: false,
        };
        s.assignment_create(&a).await.expect("grant");
        s.assignment_create(&a).await.expect("grant again is fine");
        let got = s
            .assignment_list(&AssignmentFilter {
                actor_ids: Some(vec!["g1".into()]),
                ..Default::default()
            })
            .await
            .expect("list");
        assert_eq!(got, vec![a.clone()]);

        s.service_create(&Service {
            id: "s1".into(),
            service_type: "identity".into(),
            enabled: true,
            extra: Map::new(),
        })
        .await
        .expect("service");
        s.endpoint_create(&Endpoint {
            id: "e1".into(),
            service_id: "s1".into(),
            interface: "public".into(),
            url: "http://x".into(),
            region_id: None,
            enabled: true,
            extra: Map::new(),
        })
        .await
        .expect("endpoint");
        assert!(s.service_delete("s1").await.expect("delete"));
        assert!(
            s.endpoint_list().await.expect("list").is_empty(),
            "endpoints go with their service"
        );

        let cred = AppCred {
            id: "ac1".into(),
            name: "ci".into(),
            secret_hash: "h".into(),
            description: None,
            user_id: "u1".into(),
            project_id: Some("p1".into()),
            system: None,
            expires_at: None,
            unrestricted: false,
            access_rules: None,
            created_at: 1,
            role_ids: vec!["r1".into()],
        };
        s.app_cred_create(&cred).await.expect("app cred");
        assert_eq!(s.app_cred_get("ac1").await.expect("get"), Some(cred));

        s.revocation_create(&RevocationEvent {
            id: "ev1".into(),
            user_id: Some("u1".into()),
            issued_before: 10,
            revoked_at: 10,
            ..Default::default()
        })
        .await
        .expect("revoke");
        assert_eq!(s.revocation_list_since(5).await.expect("since").len(), 1);

        assert!(s.user_delete("u1").await.expect("delete user"));
        assert!(
            s.app_cred_get("ac1").await.expect("get").is_none(),
            "app creds go with their user"
        );
        assert!(s.role_delete("r1").await.expect("delete role"));
        assert!(
            s.assignment_list(&AssignmentFilter::default())
                .await
                .expect("list")
                .is_empty()
        );
        t.cleanup().await;
    }
}

#[tokio::test]
async fn extension_resources_round_trip_on_every_engine() {
    for t in testing::engines().await {
        let db = t.db().clone();
        db.migrate("identity", MIGRATIONS).await.expect("migrate");
        let s = Store::new(db);

        let mut p = PolicyBlob {
            id: "pol1".into(),
            policy_type: "application/json".into(),
            blob: "x".repeat(100_000),
            extra: Map::new(),
        };
        s.policy_blob_create(&p).await.expect("policy");
        p.policy_type = "text/yaml".into();
        s.policy_blob_update(&p).await.expect("update");
        assert_eq!(s.policy_blob_get("pol1").await.expect("get"), Some(p));
        assert_eq!(
            s.policy_blob_list(Some("text/yaml"))
                .await
                .expect("list")
                .len(),
            1
        );
        assert!(s.policy_blob_delete("pol1").await.expect("delete"));

        let mut consumer = Consumer {
            id: "c1".into(),
            description: None,
            encrypted_secret: "enc".into(),
            key_hash: "h".into(),
            extra: Map::new(),
        };
        s.consumer_create(&consumer).await.expect("consumer");
        consumer.description = Some("d".into());
        s.consumer_update(&consumer).await.expect("update");
        assert_eq!(s.consumer_list().await.expect("list"), vec![consumer]);
        assert!(s.consumer_delete("c1").await.expect("delete"));

        let opt = |g: &str, o: &str, v: serde_json::Value| DomainConfigOption {
            group: g.into(),
            option: o.into(),
            value: v,
            sensitive: false,
        };
        s.domain_config_write(
            "d1",
            &[
                opt("identity", "driver", "ldap".into()),
                opt("identity", "list_limit", 5.into()),
            ],
            true,
        )
        .await
        .expect("config");
        s.domain_config_write("d1", &[opt("identity", "list_limit", 6.into())], false)
            .await
            .expect("update");
        let got = s
            .domain_config_list("d1", Some("identity"), None)
            .await
            .expect("list");
        assert_eq!(
            got,
            vec![
                opt("identity", "driver", "ldap".into()),
                opt("identity", "list_limit", 6.into())
            ]
        );
        assert_eq!(
            s.domain_config_delete("d1", Some("identity"), Some("driver"))
                .await
                .expect("delete"),
            1
        );
        assert_eq!(
            s.domain_config_delete("d1", None, None)
                .await
                .expect("delete"),
            1
        );

        let g = EndpointGroup {
            id: "eg1".into(),
            name: "g".into(),
            description: None,
            filters: Map::from_iter([("interface".to_string(), serde_json::json!("public"))]),
        };
        s.endpoint_group_create(&g).await.expect("group");
        assert_eq!(
            s.endpoint_group_list(Some("g")).await.expect("list"),
            vec![g]
        );
        for _ in 0..2 {
            s.project_association_add(FilterKind::EndpointGroup, "eg1", "p1")
                .await
                .expect("associate twice");
        }
        assert_eq!(
            s.project_association_ids_for_project(FilterKind::EndpointGroup, "p1")
                .await
                .expect("ids"),
            vec!["eg1".to_string()]
        );
        assert!(s.endpoint_group_delete("eg1").await.expect("delete"));
        assert!(
            !s.project_association_exists(FilterKind::EndpointGroup, "eg1", "p1")
                .await
                .expect("exists"),
            "associations go with their group"
        );

        let rule = AccessRule {
            id: "ar1".into(),
            user_id: "u1".into(),
            service: "compute".into(),
            path: "/v2.1/servers/*/ips".into(),
            method: "GET".into(),
        };
        for _ in 0..2 {
            s.access_rule_create(&rule).await.expect("recorded once");
        }
        assert_eq!(s.access_rule_list("u1").await.expect("list"), vec![rule]);
        assert!(!s.access_rule_delete("u2", "ar1").await.expect("not u2's"));
        assert!(s.access_rule_delete("u1", "ar1").await.expect("delete"));

        t.cleanup().await;
    }
}
