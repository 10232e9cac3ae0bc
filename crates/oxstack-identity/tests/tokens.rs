//! Token issue, validation, re-scoping and revocation through the HTTP API.

mod common;

use axum::http::{Method, StatusCode};
use common::{ADMIN_PASSWORD, cloud, cloud_with};
use serde_json::json;

#[tokio::test]
async fn version_discovery() {
    let c = cloud().await;
    let r = c.call(Method::GET, "/", None, None).await;
    assert_eq!(r.status, StatusCode::MULTIPLE_CHOICES);
    assert_eq!(r.body["versions"]["values"][0]["id"], "v3.14");
    let r = c.call(Method::GET, "/v3", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["version"]["status"], "stable");
    assert!(
        r.header("x-openstack-request-id")
            .is_some_and(|v| v.starts_with("req-"))
    );
}

#[tokio::test]
async fn project_token_carries_roles_and_catalog() {
    let c = cloud().await;
    let r = c
        .try_password_token(
            "admin",
            ADMIN_PASSWORD,
            Some(json!({"project": {"name": "admin", "domain": {"name": "Default"}}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let t = &r.body["token"];
    let mut roles: Vec<&str> = t["roles"]
        .as_array()
        .expect("roles")
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    roles.sort();
    assert_eq!(
        roles,
        ["admin", "member", "reader"],
        "implied roles are included"
    );
    assert_eq!(t["project"]["name"], "admin");
    assert_eq!(t["catalog"][0]["type"], "identity");
    assert_eq!(t["methods"], json!(["password"]));
    assert!(t["expires_at"].as_str().expect("expiry").ends_with('Z'));
}

#[tokio::test]
async fn bad_credentials_are_401_with_one_message() {
    let c = cloud().await;
    let wrong = c.try_password_token("admin", "nope", None).await;
    let missing = c.try_password_token("nobody", "nope", None).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        wrong.body, missing.body,
        "nothing tells whether the user exists"
    );
    assert_eq!(wrong.body["error"]["code"], 401);
    assert!(wrong.header("www-authenticate").is_some());
}

#[tokio::test]
async fn malformed_auth_bodies_are_400() {
    let c = cloud().await;
    for body in [
        json!({}),
        json!({"auth": {}}),
        json!({"auth": {"identity": {"methods": "password"}}}),
        json!({"auth": {"identity": {"methods": ["password"]}}}),
    ] {
        let r = c
            .call(Method::POST, "/v3/auth/tokens", None, Some(body.clone()))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {:?}", r.body);
        assert_eq!(r.body["error"]["code"], 400);
    }
}

#[tokio::test]
async fn validate_head_and_revoke() {
    let c = cloud().await;
    let subject = c
        .password_token(
            "admin",
            ADMIN_PASSWORD,
            Some(json!({"system": {"all": true}})),
        )
        .await;
    let hdr = [("x-subject-token", subject.as_str())];
    let r = c
        .call_with(
            Method::GET,
            "/v3/auth/tokens",
            Some(&c.admin_token),
            None,
            &hdr,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["token"]["system"], json!({"all": true}));
    assert_eq!(r.header("x-subject-token"), Some(subject.as_str()));
    let r = c
        .call_with(
            Method::HEAD,
            "/v3/auth/tokens",
            Some(&c.admin_token),
            None,
            &hdr,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = c
        .call_with(
            Method::DELETE,
            "/v3/auth/tokens",
            Some(&c.admin_token),
            None,
            &hdr,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = c
        .call_with(
            Method::GET,
            "/v3/auth/tokens",
            Some(&c.admin_token),
            None,
            &hdr,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = c
        .call(Method::GET, "/v3/projects", Some(&subject), None)
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "a revoked token no longer authenticates"
    );
    let r = c
        .call(Method::GET, "/v3/projects", Some("garbage"), None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn rescope_with_token_method_keeps_expiry_and_chains_audit_ids() {
    let c = cloud().await;
    let unscoped = c.password_token("admin", ADMIN_PASSWORD, None).await;
    let body = json!({"auth": {"identity": {"methods": ["token"], "token": {"id": unscoped}}, "scope": {"domain": {"id": "default"}}}});
    let r = c
        .call(Method::POST, "/v3/auth/tokens", None, Some(body))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let t = &r.body["token"];
    assert_eq!(t["domain"]["id"], "default");
    assert_eq!(t["audit_ids"].as_array().expect("ids").len(), 2);
    assert!(
        t["methods"]
            .as_array()
            .expect("methods")
            .iter()
            .any(|m| m == "token")
    );
}

#[tokio::test]
async fn scope_without_roles_is_401() {
    let c = cloud().await;
    let r = c
        .admin(
            Method::POST,
            "/v3/projects",
            Some(json!({"project": {"name": "empty"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = c
        .try_password_token(
            "admin",
            ADMIN_PASSWORD,
            Some(json!({"project": {"name": "empty", "domain": {"id": "default"}}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn lockout_after_failures() {
    let c = cloud_with(|cfg| cfg.lockout_failure_attempts = 2).await;
    for _ in 0..2 {
        assert_eq!(
            c.try_password_token("admin", "bad", None).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let r = c.try_password_token("admin", ADMIN_PASSWORD, None).await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "locked out even with the right password"
    );
    assert!(
        r.body["error"]["message"]
            .as_str()
            .expect("msg")
            .contains("locked")
    );
}

#[tokio::test]
async fn auth_catalog_projects_and_system() {
    let c = cloud().await;
    let r = c.admin(Method::GET, "/v3/auth/catalog", None).await;
    assert_eq!(r.body["catalog"][0]["name"], "keystone");
    let r = c.admin(Method::GET, "/v3/auth/projects", None).await;
    assert_eq!(r.body["projects"][0]["name"], "admin");
    let r = c.admin(Method::GET, "/v3/auth/system", None).await;
    assert_eq!(r.body["system"], json!([{"all": true}]));
}

#[tokio::test]
async fn issue_and_validate_bodies_agree() {
    let c = cloud().await;
    let r = c.try_password_token("admin", ADMIN_PASSWORD, None).await;
    let subject = r.header("x-subject-token").expect("token").to_string();
    let v = c
        .call_with(
            Method::GET,
            "/v3/auth/tokens",
            Some(&c.admin_token),
            None,
            &[("x-subject-token", &subject)],
        )
        .await;
    assert_eq!(r.body, v.body, "Tempest compares the two bodies");
    assert!(
        r.body["token"]["issued_at"]
            .as_str()
            .expect("issued")
            .ends_with(".000000Z")
    );
}

#[tokio::test]
async fn rescoping_with_a_dead_token_is_404() {
    let c = cloud().await;
    let token = c.password_token("admin", ADMIN_PASSWORD, None).await;
    let r = c
        .call_with(
            Method::DELETE,
            "/v3/auth/tokens",
            Some(&c.admin_token.clone()),
            None,
            &[("x-subject-token", token.as_str())],
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    for t in [token.as_str(), "garbage"] {
        let r = c
            .call(
                Method::POST,
                "/v3/auth/tokens",
                None,
                Some(json!({"auth": {"identity": {"methods": ["token"], "token": {"id": t}}}})),
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{t}: {:?}", r.body);
    }
}

/// Re-scoping serves what the store says now: what was resolved for a scope before a change
/// (a rename, a role taken away, an endpoint added) is not used after it.
#[tokio::test]
async fn rescoping_follows_changes_to_projects_roles_and_the_catalog() {
    let c = cloud().await;
    let (user, project, token) = common::member(&c, "rescoper", "pw-rescoper-1").await;
    let rescope = |t: String| {
        let c = &c;
        let project = project.clone();
        async move {
            c.call(
                Method::POST,
                "/v3/auth/tokens",
                None,
                Some(
                    json!({"auth": {"identity": {"methods": ["token"], "token": {"id": t}},
                                 "scope": {"project": {"id": project}}}}),
                ),
            )
            .await
        }
    };
    let r = rescope(token.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["token"]["project"]["name"], "rescoper-project");
    let services = r.body["token"]["catalog"].as_array().map(Vec::len);

    let r = c
        .admin(
            Method::PATCH,
            &format!("/v3/projects/{project}"),
            Some(json!({"project": {"name": "renamed"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = rescope(token.clone()).await;
    assert_eq!(r.body["token"]["project"]["name"], "renamed");

    let r = c
        .admin(
            Method::POST,
            "/v3/services",
            Some(json!({"service": {"type": "extra", "name": "extra"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let r = rescope(token.clone()).await;
    assert_eq!(
        r.body["token"]["catalog"].as_array().map(Vec::len),
        services.map(|n| n + 1)
    );

    let roles = c.admin(Method::GET, "/v3/roles?name=member", None).await;
    let member = roles.body["roles"][0]["id"]
        .as_str()
        .expect("member")
        .to_string();
    let r = c
        .admin(
            Method::DELETE,
            &format!("/v3/projects/{project}/users/{user}/roles/{member}"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    let r = rescope(token).await;
    assert!(
        matches!(r.status, StatusCode::UNAUTHORIZED | StatusCode::NOT_FOUND),
        "{:?}",
        r
    );
}
