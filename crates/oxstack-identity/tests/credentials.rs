//! `/v3/credentials` through the HTTP API, and the blobs' encryption at rest.

mod common;
mod member;

use axum::http::{Method, StatusCode};
use common::cloud;
use member::member;
use oxstack_identity::store::Store;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn ec2_blob(access: &str, secret: &str) -> String {
    json!({"access": access, "secret": secret}).to_string()
}

#[tokio::test]
async fn ec2_credential_crud() {
    let c = cloud().await;
    let m = member(&c, "alice", &["member"]).await;
    let blob = ec2_blob("AKIA-1", "s1");
    let r = c
        .admin(
            Method::POST,
            "/v3/credentials",
            Some(json!({"credential": {"user_id": m.user_id, "project_id": m.project_id, "type": "ec2", "blob": blob}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let cred = r.body["credential"].clone();
    let id = cred["id"].as_str().expect("id").to_string();
    let expected_id: String = Sha256::digest(b"AKIA-1")
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        id, expected_id,
        "an EC2 id is the SHA-256 of the access key"
    );
    assert_eq!(cred["blob"], json!(blob));
    assert_eq!(cred["type"], "ec2");
    assert_eq!(
        cred["links"]["self"],
        format!("{}/v3/credentials/{id}", common::URL)
    );

    // The same access key again is a conflict.
    let r = c
        .admin(
            Method::POST,
            "/v3/credentials",
            Some(json!({"credential": {"user_id": m.user_id, "project_id": m.project_id, "type": "ec2", "blob": blob}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);

    let other = c
        .admin(
            Method::POST,
            "/v3/projects",
            Some(json!({"project": {"name": "other"}})),
        )
        .await
        .body["project"]["id"]
        .clone();
    let new_blob = ec2_blob("AKIA-2", "s2");
    let r = c
        .admin(
            Method::PATCH,
            &format!("/v3/credentials/{id}"),
            Some(json!({"credential": {"blob": new_blob, "project_id": other, "type": "ec2"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["credential"]["id"], json!(id));
    assert_eq!(r.body["credential"]["project_id"], other);
    let r = c
        .admin(Method::GET, &format!("/v3/credentials/{id}"), None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let got: Value = serde_json::from_str(r.body["credential"]["blob"].as_str().expect("blob"))
        .expect("json blob");
    assert_eq!(got["access"], "AKIA-2");
    assert_eq!(got["secret"], "s2");

    let r = c
        .admin(Method::DELETE, &format!("/v3/credentials/{id}"), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = c
        .admin(Method::GET, &format!("/v3/credentials/{id}"), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.body["error"]["message"],
        format!("Could not find credential: {id}.")
    );
}

#[tokio::test]
async fn bad_bodies_are_400() {
    let c = cloud().await;
    let m = member(&c, "bob", &["member"]).await;
    let u = m.user_id.clone();
    for bad in [
        json!({"credential": {"user_id": u, "type": "cert"}}),
        json!({"credential": {"user_id": u, "blob": "x"}}),
        json!({"credential": {"type": "cert", "blob": "x"}}),
        json!({"credential": {"user_id": u, "type": "cert", "blob": 5}}),
        // EC2 needs a project and a JSON blob with an access key.
        json!({"credential": {"user_id": u, "type": "ec2", "blob": ec2_blob("a", "b")}}),
        json!({"credential": {"user_id": u, "project_id": m.project_id, "type": "ec2", "blob": "not json"}}),
        json!({"credential": {"user_id": u, "project_id": m.project_id, "type": "ec2", "blob": "{\"secret\": \"s\"}"}}),
    ] {
        let r = c
            .admin(Method::POST, "/v3/credentials", Some(bad.clone()))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {:?}", r.body);
    }
    let r = c
        .admin(
            Method::POST,
            "/v3/credentials",
            Some(json!({"credential": {"user_id": u, "type": "cert", "blob": "pem"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let id = r.body["credential"]["id"].as_str().expect("id").to_string();
    for bad in [
        json!({"credential": {}}),
        json!({"credential": {"id": "other"}}),
        json!({"credential": {"type": "ec2"}}),
    ] {
        let r = c
            .admin(
                Method::PATCH,
                &format!("/v3/credentials/{id}"),
                Some(bad.clone()),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {:?}", r.body);
    }
}

#[tokio::test]
async fn owners_see_only_their_own() {
    let c = cloud().await;
    let alice = member(&c, "alice", &["member"]).await;
    let eve = member(&c, "eve", &["member"]).await;
    let create = |token: String, user: String, blob: &'static str| {
        let c = &c;
        async move {
            c.call(
                Method::POST,
                "/v3/credentials",
                Some(&token),
                Some(json!({"credential": {"user_id": user, "type": "totp", "blob": blob}})),
            )
            .await
        }
    };
    let r = create(alice.token.clone(), alice.user_id.clone(), "alice-secret").await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let alice_cred = r.body["credential"]["id"].as_str().expect("id").to_string();
    let r = create(eve.token.clone(), eve.user_id.clone(), "eve-secret").await;
    assert_eq!(r.status, StatusCode::CREATED);
    // Eve cannot make one for Alice.
    let r = create(eve.token.clone(), alice.user_id.clone(), "planted").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    let r = c
        .call(Method::GET, "/v3/credentials", Some(&eve.token), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let blobs: Vec<&str> = r.body["credentials"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|c| c["blob"].as_str())
        .collect();
    assert_eq!(blobs, ["eve-secret"]);
    let r = c
        .call(
            Method::GET,
            &format!("/v3/credentials?user_id={}", alice.user_id),
            Some(&eve.token),
            None,
        )
        .await;
    assert_eq!(r.body["credentials"], json!([]));

    let path = format!("/v3/credentials/{alice_cred}");
    for (method, body) in [
        (Method::GET, None),
        (Method::PATCH, Some(json!({"credential": {"blob": "x"}}))),
        (Method::DELETE, None),
    ] {
        let r = c.call(method.clone(), &path, Some(&eve.token), body).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{method}");
    }
    // Alice cannot give hers away either.
    let r = c
        .call(
            Method::PATCH,
            &path,
            Some(&alice.token),
            Some(json!({"credential": {"user_id": eve.user_id}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // A missing credential: 403 to a non-admin, 404 to the admin.
    let r = c
        .call(Method::GET, "/v3/credentials/nope", Some(&eve.token), None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = c.admin(Method::GET, "/v3/credentials/nope", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let r = c
        .admin(Method::GET, "/v3/credentials?type=totp", None)
        .await;
    assert_eq!(r.body["credentials"].as_array().expect("list").len(), 2);
    let r = c.call(Method::GET, "/v3/credentials", None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn blobs_are_encrypted_at_rest() {
    let c = cloud().await;
    let m = member(&c, "carol", &["member"]).await;
    let secret = "very-secret-totp-seed-0123456789";
    let r = c
        .call(
            Method::POST,
            "/v3/credentials",
            Some(&m.token),
            Some(json!({"credential": {"user_id": m.user_id, "type": "totp", "blob": secret}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let id = r.body["credential"]["id"].as_str().expect("id").to_string();

    let stored = Store::new(c.db.clone())
        .credential_get(&id)
        .await
        .expect("store")
        .expect("row");
    assert!(!stored.encrypted_blob.contains(secret));
    assert!(
        stored.encrypted_blob.starts_with("gAAAAA"),
        "a Fernet token: {}",
        stored.encrypted_blob
    );
    assert_eq!(stored.key_hash.len(), 40, "SHA-1 hex of the primary key");
    // Nothing anywhere in the row holds the secret.
    let raw: Vec<String> = sqlx::query_scalar::<_, String>(
        "SELECT id || user_id || type || encrypted_blob || key_hash || extra FROM identity_credential",
    )
    .fetch_all(c.db.pool())
    .await
    .expect("raw select");
    assert_eq!(raw.len(), 1);
    assert!(!raw[0].contains(secret));

    let r = c
        .call(
            Method::GET,
            &format!("/v3/credentials/{id}"),
            Some(&m.token),
            None,
        )
        .await;
    assert_eq!(r.body["credential"]["blob"], secret, "decrypted on read");
}

#[tokio::test]
async fn restricted_app_cred_tokens_cannot_make_ec2_credentials() {
    let c = cloud().await;
    let m = member(&c, "dan", &["member"]).await;
    let r = c
        .call(
            Method::POST,
            &format!("/v3/users/{}/application_credentials", m.user_id),
            Some(&m.token),
            Some(json!({"application_credential": {"name": "ac"}})),
        )
        .await;
    let ac = r.body["application_credential"].clone();
    let r = c
        .call(
            Method::POST,
            "/v3/auth/tokens",
            None,
            Some(json!({"auth": {"identity": {"methods": ["application_credential"], "application_credential": {"id": ac["id"], "secret": ac["secret"]}}}})),
        )
        .await;
    let token = r.header("x-subject-token").expect("token").to_string();
    let r = c
        .call(
            Method::POST,
            "/v3/credentials",
            Some(&token),
            Some(json!({"credential": {"user_id": m.user_id, "project_id": m.project_id, "type": "ec2", "blob": ec2_blob("k", "s")}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
}

#[tokio::test]
async fn os_ec2_credentials_lifecycle() {
    let c = cloud().await;
    let m = member(&c, "alice", &["member"]).await;
    let base = format!("/v3/users/{}/credentials/OS-EC2", m.user_id);
    let r = c
        .call(
            Method::POST,
            &base,
            Some(&m.token),
            Some(json!({"tenant_id": m.project_id})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let cred = r.body["credential"].clone();
    let access = cred["access"].as_str().expect("access").to_string();
    assert!(!cred["secret"].as_str().expect("secret").is_empty());
    assert_eq!(
        (
            cred["user_id"].clone(),
            cred["tenant_id"].clone(),
            cred["trust_id"].clone()
        ),
        (json!(m.user_id), json!(m.project_id), Value::Null)
    );
    assert_eq!(
        cred["links"]["self"],
        format!("{}{base}/{access}", common::URL)
    );

    // The same key pair through /v3/credentials, under the hash of its access key.
    let id: String = Sha256::digest(access.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let r = c
        .admin(Method::GET, &format!("/v3/credentials/{id}"), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["credential"]["type"], "ec2");

    let r = c.call(Method::GET, &base, Some(&m.token), None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["credentials"][0]["access"], json!(access));
    let r = c
        .call(
            Method::GET,
            &format!("{base}/{access}"),
            Some(&m.token),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["credential"]["secret"], cred["secret"]);

    // Someone else's key pairs are out of reach; the admin's are not.
    let bob = member(&c, "bob", &["member"]).await;
    for (method, path) in [
        (Method::GET, base.clone()),
        (Method::GET, format!("{base}/{access}")),
        (Method::DELETE, format!("{base}/{access}")),
    ] {
        let r = c.call(method.clone(), &path, Some(&bob.token), None).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{method} {path}");
    }
    let r = c
        .call(
            Method::POST,
            &base,
            Some(&bob.token),
            Some(json!({"tenant_id": bob.project_id})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let other = format!("/v3/users/{}/credentials/OS-EC2/{access}", bob.user_id);
    let r = c.admin(Method::GET, &other, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "not bob's key pair");
    let r = c
        .admin(Method::GET, &format!("{base}/{access}"), None)
        .await;
    assert_eq!(r.status, StatusCode::OK);

    let r = c
        .call(
            Method::DELETE,
            &format!("{base}/{access}"),
            Some(&m.token),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    let r = c
        .call(
            Method::GET,
            &format!("{base}/{access}"),
            Some(&m.token),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn os_ec2_create_needs_a_project_and_the_member_role() {
    let c = cloud().await;
    let m = member(&c, "alice", &["member"]).await;
    let base = format!("/v3/users/{}/credentials/OS-EC2", m.user_id);
    let r = c
        .call(Method::POST, &base, Some(&m.token), Some(json!({})))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = c
        .call(
            Method::POST,
            &base,
            Some(&m.token),
            Some(json!({"tenant_id": "nope"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let reader = member(&c, "rita", &["reader"]).await;
    let r = c
        .call(
            Method::POST,
            &format!("/v3/users/{}/credentials/OS-EC2", reader.user_id),
            Some(&reader.token),
            Some(json!({"tenant_id": reader.project_id})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}
