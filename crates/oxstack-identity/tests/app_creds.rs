//! Application credentials through the HTTP API, end to end: create one with a
//! project-scoped token, authenticate with it (by id, and by name and user), and watch
//! deletion and expiry end its tokens.

mod common;
mod member;

use axum::http::{Method, StatusCode};
use common::{TestCloud, cloud};
use member::{Member, member, role_id, role_names};
use serde_json::{Value, json};

fn path(m: &Member) -> String {
    format!("/v3/users/{}/application_credentials", m.user_id)
}

async fn create(c: &TestCloud, m: &Member, body: Value) -> common::Resp {
    c.call(
        Method::POST,
        &path(m),
        Some(&m.token),
        Some(json!({ "application_credential": body })),
    )
    .await
}

async fn auth(c: &TestCloud, method_body: Value) -> common::Resp {
    c.call(
        Method::POST,
        "/v3/auth/tokens",
        None,
        Some(json!({"auth": {"identity": {"methods": ["application_credential"], "application_credential": method_body}}})),
    )
    .await
}

#[tokio::test]
async fn create_then_authenticate_by_id_and_by_name() {
    let c = cloud().await;
    let m = member(&c, "alice", &["member"]).await;
    let r = create(&c, &m, json!({"name": "ci", "description": "for CI"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let ac = r.body["application_credential"].clone();
    let id = ac["id"].as_str().expect("id").to_string();
    let secret = ac["secret"].as_str().expect("secret").to_string();
    assert!(secret.len() >= 64, "a generated secret");
    assert_eq!(ac["project_id"], json!(m.project_id));
    assert_eq!(ac["user_id"], json!(m.user_id));
    assert_eq!(ac["unrestricted"], false);
    assert_eq!(ac["expires_at"], Value::Null);
    let mut names: Vec<&str> = ac["roles"]
        .as_array()
        .expect("roles")
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    names.sort();
    assert_eq!(names, ["member", "reader"], "every role of the token");

    // The secret is shown only once.
    let r = c
        .call(
            Method::GET,
            &format!("{}/{id}", path(&m)),
            Some(&m.token),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body["application_credential"].get("secret").is_none());

    let r = auth(&c, json!({"id": id, "secret": secret})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["token"]["project"]["id"], json!(m.project_id));
    assert_eq!(r.body["token"]["application_credential"]["id"], json!(id));
    assert_eq!(
        r.body["token"]["methods"],
        json!(["application_credential"])
    );
    let r = auth(
        &c,
        json!({"name": "ci", "secret": secret, "user": {"name": "alice", "domain": {"id": "default"}}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let r = auth(
        &c,
        json!({"name": "ci", "secret": secret, "user": {"id": m.user_id}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let r = auth(&c, json!({"id": id, "secret": "wrong"})).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn chosen_roles_restrict_the_token_and_secret_can_be_given() {
    let c = cloud().await;
    let m = member(&c, "bob", &["member"]).await;
    let reader = role_id(&c, "reader").await;
    let r = create(
        &c,
        &m,
        json!({"name": "ro", "secret": "my-own-secret", "roles": [{"id": reader}]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["application_credential"]["secret"], "my-own-secret");
    let id = r.body["application_credential"]["id"].clone();
    let r = auth(&c, json!({"id": id, "secret": "my-own-secret"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(role_names(&r.body), ["reader"]);

    // By name; the implied role comes along.
    let r = create(&c, &m, json!({"name": "rw", "roles": [{"name": "member"}]})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let secret = r.body["application_credential"]["secret"].clone();
    let id = r.body["application_credential"]["id"].clone();
    let r = auth(&c, json!({"id": id, "secret": secret})).await;
    assert_eq!(role_names(&r.body), ["member", "reader"]);

    // A role the token does not carry is refused.
    let r = create(&c, &m, json!({"name": "esc", "roles": [{"name": "admin"}]})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    assert_eq!(
        r.body["error"]["message"],
        "Invalid application credential: Cannot create an application credential with unassigned role"
    );
}

#[tokio::test]
async fn validation_conflicts_and_expiry() {
    let c = cloud().await;
    let m = member(&c, "carol", &["member"]).await;
    for bad in [
        json!({}),
        json!({"name": 5}),
        json!({"name": "x", "expires_at": "yesterday-ish"}),
        json!({"name": "x", "expires_at": "2001-01-01T00:00:00"}),
        json!({"name": "x", "roles": [{"id": "a", "name": "b"}]}),
        json!({"name": "x", "unknown": 1}),
        json!({"name": "x", "access_rules": [{"service": "compute", "path": "/x", "method": "BREW"}]}),
    ] {
        let r = create(&c, &m, bad.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {:?}", r.body);
    }
    let future = (chrono::Utc::now() + chrono::Duration::hours(1))
        .format("%Y-%m-%dT%H:%M:%S%.6f")
        .to_string();
    let r = create(&c, &m, json!({"name": "exp", "expires_at": future})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(
        r.body["application_credential"]["expires_at"],
        json!(future),
        "rendered as sent, as Tempest checks"
    );
    let r = create(&c, &m, json!({"name": "exp"})).await;
    assert_eq!(r.status, StatusCode::CONFLICT);

    // An expired credential no longer authenticates.
    let soon = (chrono::Utc::now() + chrono::Duration::milliseconds(1500)).to_rfc3339();
    let r = create(&c, &m, json!({"name": "short", "expires_at": soon})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let id = r.body["application_credential"]["id"].clone();
    let secret = r.body["application_credential"]["secret"].clone();
    let r = auth(&c, json!({"id": id, "secret": secret})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let expires = r.body["token"]["expires_at"]
        .as_str()
        .expect("expiry")
        .to_string();
    let parse = |s: &str| chrono::DateTime::parse_from_rfc3339(s).expect("time");
    assert!(
        parse(&expires) <= parse(&soon),
        "the token ends with the credential: {expires} > {soon}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1600)).await;
    let r = auth(&c, json!({"id": id, "secret": secret})).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn list_filter_and_delete_revokes_tokens() {
    let c = cloud().await;
    let m = member(&c, "dave", &["member"]).await;
    for name in ["one", "two"] {
        let r = create(&c, &m, json!({ "name": name })).await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    let r = c.call(Method::GET, &path(&m), Some(&m.token), None).await;
    assert_eq!(
        r.body["application_credentials"]
            .as_array()
            .expect("list")
            .len(),
        2
    );
    let r = c
        .call(
            Method::GET,
            &format!("{}?name=two", path(&m)),
            Some(&m.token),
            None,
        )
        .await;
    let list = r.body["application_credentials"].as_array().expect("list");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["name"], "two");
    assert!(list[0].get("secret").is_none());

    let r = create(&c, &m, json!({"name": "gone"})).await;
    let id = r.body["application_credential"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let secret = r.body["application_credential"]["secret"].clone();
    let r = auth(&c, json!({"id": id, "secret": secret})).await;
    let token = r.header("x-subject-token").expect("token").to_string();
    let r = c
        .call(Method::GET, "/v3/auth/catalog", Some(&token), None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    // A restricted credential's token may not delete credentials.
    let r = c
        .call(
            Method::DELETE,
            &format!("{}/{id}", path(&m)),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);

    let r = c
        .call(
            Method::DELETE,
            &format!("{}/{id}", path(&m)),
            Some(&m.token),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = c
        .call(Method::GET, "/v3/auth/catalog", Some(&token), None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "its tokens die with it");
    let r = auth(&c, json!({"id": id, "secret": secret})).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = c
        .call(
            Method::GET,
            &format!("{}/{id}", path(&m)),
            Some(&m.token),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.body["error"]["message"],
        format!("Could not find Application Credential: {id}.")
    );
}

#[tokio::test]
async fn users_manage_only_their_own() {
    let c = cloud().await;
    let alice = member(&c, "alice", &["member"]).await;
    let eve = member(&c, "eve", &["member"]).await;
    let r = create(&c, &alice, json!({"name": "mine"})).await;
    let id = r.body["application_credential"]["id"]
        .as_str()
        .expect("id")
        .to_string();

    // Eve cannot create for, list, see or delete Alice's — not even by naming herself.
    let r = c
        .call(
            Method::POST,
            &path(&alice),
            Some(&eve.token),
            Some(json!({"application_credential": {"name": "x"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = c
        .call(Method::GET, &path(&alice), Some(&eve.token), None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    for method in [Method::GET, Method::DELETE] {
        let r = c
            .call(
                method.clone(),
                &format!("{}/{id}", path(&alice)),
                Some(&eve.token),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{method}");
        let r = c
            .call(
                method.clone(),
                &format!("{}/{id}", path(&eve)),
                Some(&eve.token),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{method} via own path");
    }
    // The admin can see and delete it.
    let r = c
        .admin(Method::GET, &format!("{}/{id}", path(&alice)), None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = c
        .admin(Method::DELETE, &format!("{}/{id}", path(&alice)), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = c.call(Method::GET, &path(&alice), None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn only_project_scoped_tokens_create() {
    let c = cloud().await;
    let m = member(&c, "frank", &["member"]).await;
    let unscoped = c.password_token("frank", member::PASSWORD, None).await;
    let r = c
        .call(
            Method::POST,
            &path(&m),
            Some(&unscoped),
            Some(json!({"application_credential": {"name": "x"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    let r = c
        .call(
            Method::POST,
            &path(&m),
            Some("not-a-token"),
            Some(json!({"application_credential": {"name": "x"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn access_rules_are_stored_and_listed() {
    let c = cloud().await;
    let m = member(&c, "gina", &["member"]).await;
    let rules = json!([{"path": "/v2.1/servers/*/ips", "method": "GET", "service": "compute"}]);
    let r = create(&c, &m, json!({"name": "ar", "access_rules": rules})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let mut creds = vec![r.body["application_credential"]["id"].clone()];
    let mut got = r.body["application_credential"]["access_rules"][0].clone();
    let rule_id = got["id"].as_str().expect("rule id").to_string();
    got.as_object_mut().expect("object").remove("id");
    assert_eq!(got, rules[0]);

    // The same rule in another credential keeps its id.
    let r = create(&c, &m, json!({"name": "ar2", "access_rules": rules})).await;
    creds.push(r.body["application_credential"]["id"].clone());
    assert_eq!(
        r.body["application_credential"]["access_rules"][0]["id"],
        json!(rule_id)
    );
    let base = format!("/v3/users/{}/access_rules", m.user_id);
    let r = c.call(Method::GET, &base, Some(&m.token), None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["access_rules"].as_array().expect("list").len(), 1);
    let r = c
        .call(
            Method::GET,
            &format!("{base}/{rule_id}"),
            Some(&m.token),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["access_rule"]["service"], "compute");
    let r = c
        .call(
            Method::DELETE,
            &format!("{base}/{rule_id}"),
            Some(&m.token),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "in use");
    let r = c
        .call(Method::GET, &format!("{base}/nope"), Some(&m.token), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // With its credentials gone the rule stays, unused, until deleted.
    for id in creds {
        let id = id.as_str().expect("id");
        let r = c
            .call(
                Method::DELETE,
                &format!("/v3/users/{}/application_credentials/{id}", m.user_id),
                Some(&m.token),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    }
    let r = c.call(Method::GET, &base, Some(&m.token), None).await;
    assert_eq!(r.body["access_rules"][0]["id"], json!(rule_id));
    let rule = format!("{base}/{rule_id}");
    let r = c.call(Method::DELETE, &rule, Some(&m.token), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    let r = c.call(Method::GET, &rule, Some(&m.token), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = c.call(Method::GET, &base, Some(&m.token), None).await;
    assert_eq!(r.body["access_rules"], json!([]));
}
