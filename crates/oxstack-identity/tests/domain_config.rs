//! Domain-specific configuration through the HTTP API.

mod common;
mod member;

use axum::http::{Method, StatusCode};
use common::{TestCloud, cloud};
use member::member;
use serde_json::{Value, json};

async fn domain(c: &TestCloud, name: &str) -> String {
    let r = c
        .admin(
            Method::POST,
            "/v3/domains",
            Some(json!({"domain": {"name": name}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    r.body["domain"]["id"].as_str().expect("id").to_string()
}

#[tokio::test]
async fn config_create_show_update_delete() {
    let c = cloud().await;
    let d = domain(&c, "ldap-domain").await;
    let base = format!("/v3/domains/{d}/config");
    let r = c.admin(Method::GET, &base, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let config = json!({
        "identity": {"driver": "ldap"},
        "ldap": {"url": "ldap://myldap.com:389/", "user_tree_dn": "ou=Users", "password": "s3cret"},
    });
    let r = c
        .admin(Method::PUT, &base, Some(json!({ "config": config })))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let shown = json!({
        "identity": {"driver": "ldap"},
        "ldap": {"url": "ldap://myldap.com:389/", "user_tree_dn": "ou=Users"},
    });
    assert_eq!(r.body["config"], shown, "the password is never shown");
    let r = c.admin(Method::GET, &base, None).await;
    assert_eq!(r.body["config"], shown);
    let r = c.admin(Method::GET, &format!("{base}/ldap"), None).await;
    assert_eq!(r.body["config"], json!({"ldap": shown["ldap"]}));
    let r = c
        .admin(Method::GET, &format!("{base}/ldap/url"), None)
        .await;
    assert_eq!(r.body["config"], json!({"url": "ldap://myldap.com:389/"}));
    let r = c
        .admin(Method::GET, &format!("{base}/ldap/password"), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // A second PUT replaces the whole configuration (200).
    let r = c
        .admin(
            Method::PUT,
            &base,
            Some(json!({"config": {"identity": {"driver": "ldap"}}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["config"], json!({"identity": {"driver": "ldap"}}));

    // PATCH merges; on a group or option, only that may be named.
    let r = c
        .admin(
            Method::PATCH,
            &format!("{base}/identity"),
            Some(json!({"config": {"identity": {"driver": "sql", "list_limit": 7}}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        r.body["config"],
        json!({"identity": {"driver": "sql", "list_limit": 7}})
    );
    let r = c
        .admin(
            Method::PATCH,
            &format!("{base}/identity/driver"),
            Some(json!({"config": {"driver": "ldap"}})),
        )
        .await;
    assert_eq!(r.body["config"]["identity"]["driver"], "ldap");
    let r = c
        .admin(
            Method::PATCH,
            &format!("{base}/identity/driver"),
            Some(json!({"config": {"list_limit": 3}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    let r = c
        .admin(
            Method::PATCH,
            &format!("{base}/ldap"),
            Some(json!({"config": {"ldap": {"url": "x"}}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "no ldap group any more");
    let r = c
        .admin(
            Method::PATCH,
            &base,
            Some(json!({"config": {"ldap": {"url": "x"}}})),
        )
        .await;
    assert_eq!(r.body["config"]["ldap"], json!({"url": "x"}));

    // Unknown groups and options are refused (403, as Keystone's InvalidDomainConfig).
    for body in [
        json!({"config": {"assignment": {"driver": "sql"}}}),
        json!({"config": {"ldap": {"nope": 1}}}),
        json!({"config": {"ldap": {}}}),
        json!({"config": {}}),
    ] {
        let r = c.admin(Method::PATCH, &base, Some(body.clone())).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{body}");
    }

    let r = c
        .admin(Method::DELETE, &format!("{base}/identity/driver"), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = c
        .admin(Method::GET, &format!("{base}/identity/driver"), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = c
        .admin(Method::DELETE, &format!("{base}/identity"), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = c
        .admin(Method::GET, &format!("{base}/identity"), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = c.admin(Method::DELETE, &base, None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = c.admin(Method::GET, &base, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let r = c.admin(Method::GET, "/v3/domains/nope/config", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn defaults_and_security_compliance() {
    let c = cloud().await;
    let r = c
        .admin(Method::GET, "/v3/domains/config/default", None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["config"]["identity"]["driver"], "sql");
    assert_eq!(r.body["config"]["identity"]["list_limit"], Value::Null);
    assert_eq!(r.body["config"]["ldap"]["url"], "ldap://localhost");
    let r = c
        .admin(Method::GET, "/v3/domains/config/ldap/default", None)
        .await;
    assert_eq!(r.body["config"]["ldap"]["pool_size"], 10);
    let r = c
        .admin(
            Method::GET,
            "/v3/domains/config/ldap/user_tree_dn/default",
            None,
        )
        .await;
    assert_eq!(r.body["config"], json!({"user_tree_dn": null}));
    let r = c
        .admin(
            Method::GET,
            "/v3/domains/config/ldap/password/default",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Anyone with a token reads the default domain's password rules.
    let m = member(&c, "alice", &["member"]).await;
    let r = c
        .call(
            Method::GET,
            "/v3/domains/default/config/security_compliance",
            Some(&m.token),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(r.body["config"]["security_compliance"].is_object());
    // Nothing else.
    for path in ["/v3/domains/default/config", "/v3/domains/config/default"] {
        let r = c.call(Method::GET, path, Some(&m.token), None).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
    }
}

#[tokio::test]
async fn a_deleted_domain_takes_its_config_along() {
    let c = cloud().await;
    let d = domain(&c, "gone").await;
    let r = c
        .admin(
            Method::PUT,
            &format!("/v3/domains/{d}/config"),
            Some(json!({"config": {"identity": {"driver": "ldap"}}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    c.admin(
        Method::PATCH,
        &format!("/v3/domains/{d}"),
        Some(json!({"domain": {"enabled": false}})),
    )
    .await;
    let r = c
        .admin(Method::DELETE, &format!("/v3/domains/{d}"), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let store = oxstack_identity::store::Store::new(c.db.clone());
    assert!(
        store
            .domain_config_list(&d, None, None)
            .await
            .expect("list")
            .is_empty()
    );
}
