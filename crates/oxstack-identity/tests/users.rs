//! Users through the HTTP API: CRUD, filters, passwords (administrative reset and the
//! self-service change), a user's groups and projects, and what a non-admin may do.

mod common;

use std::time::Duration;

use axum::http::{Method, StatusCode};
use common::{cloud, cloud_with, create_project, create_user, grant_member, member};
use serde_json::{Value, json};

/// Waits past the current second: Fernet issue times are whole seconds, so a revocation
/// covers every token issued in its second.
async fn next_second() {
    tokio::time::sleep(Duration::from_millis(1100)).await;
}

#[tokio::test]
async fn user_crud_renders_like_keystone() {
    let c = cloud().await;
    let u = create_user(
        &c,
        json!({"name": "alice", "password": "pw-alice", "email": "alice@example.com", "description": "d", "enabled": false}),
    )
    .await;
    let id = u["id"].as_str().expect("id").to_string();
    assert_eq!(u["name"], "alice");
    assert_eq!(u["domain_id"], "default", "the Default domain by default");
    assert_eq!(u["enabled"], false);
    assert_eq!(
        u["email"], "alice@example.com",
        "extra attributes come back"
    );
    assert_eq!(u["description"], "d");
    assert_eq!(u["password_expires_at"], Value::Null);
    assert_eq!(u["options"], json!({}));
    assert_eq!(u["links"]["self"], format!("{}/v3/users/{id}", common::URL));
    assert!(u.get("password").is_none(), "never the password: {u}");
    assert!(u.get("default_project_id").is_none());

    let r = c
        .admin(
            Method::POST,
            "/v3/users",
            Some(json!({"user": {"name": "alice"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        r.body["error"]["message"],
        "Conflict occurred attempting to store user - Duplicate entry found with name alice at domain ID default."
    );

    let r = c.admin(Method::GET, &format!("/v3/users/{id}"), None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["user"], u, "show renders what create did");

    let project = create_project(&c, "p-alice").await;
    let r = c
        .admin(
            Method::PATCH,
            &format!("/v3/users/{id}"),
            Some(json!({"user": {"name": "alice2", "description": "d2", "email": "a2@example.com", "project_id": project, "default_project_id": project, "enabled": true}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let v = &r.body["user"];
    assert_eq!(v["name"], "alice2");
    assert_eq!(v["description"], "d2");
    assert_eq!(v["email"], "a2@example.com");
    assert_eq!(v["project_id"], project);
    assert_eq!(v["default_project_id"], project);
    assert_eq!(v["enabled"], true);
    let r = c.admin(Method::GET, &format!("/v3/users/{id}"), None).await;
    assert_eq!(&r.body["user"], v);

    let r = c
        .admin(Method::DELETE, &format!("/v3/users/{id}"), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    for method in [Method::GET, Method::DELETE] {
        let r = c.admin(method, &format!("/v3/users/{id}"), None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert_eq!(
            r.body["error"]["message"],
            format!("Could not find user: {id}.")
        );
    }
    let r = c
        .admin(
            Method::PATCH,
            &format!("/v3/users/{id}"),
            Some(json!({"user": {"name": "x"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn list_filters() {
    let c = cloud().await;
    let r = c
        .admin(
            Method::POST,
            "/v3/domains",
            Some(json!({"domain": {"name": "other"}})),
        )
        .await;
    let other = r.body["domain"]["id"].as_str().expect("id").to_string();
    let a = create_user(&c, json!({"name": "a", "domain_id": other})).await;
    let b = create_user(&c, json!({"name": "b", "enabled": false})).await;
    let ids = |r: &common::Resp| -> Vec<Value> {
        r.body["users"]
            .as_array()
            .expect("users")
            .iter()
            .map(|u| u["id"].clone())
            .collect()
    };
    let r = c.admin(Method::GET, "/v3/users", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["links"]["self"], format!("{}/v3/users", common::URL));
    let all = ids(&r);
    assert!(all.contains(&a["id"]) && all.contains(&b["id"]));
    let r = c
        .admin(Method::GET, &format!("/v3/users?domain_id={other}"), None)
        .await;
    assert_eq!(ids(&r), vec![a["id"].clone()]);
    let r = c.admin(Method::GET, "/v3/users?enabled=False", None).await;
    assert_eq!(ids(&r), vec![b["id"].clone()]);
    let r = c.admin(Method::GET, "/v3/users?name=a", None).await;
    assert_eq!(ids(&r), vec![a["id"].clone()]);
    assert_eq!(r.body["users"][0], a, "list renders what create did");
    let r = c
        .admin(
            Method::GET,
            "/v3/users?password_expires_at=lt:2000-01-01T00:00:00Z",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(ids(&r), Vec::<Value>::new(), "no password expires");
    let r = c
        .admin(
            Method::GET,
            "/v3/users?password_expires_at=lt:yesterday",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn bad_requests() {
    let c = cloud().await;
    for body in [
        json!({"user": {}}),
        json!({"user": {"name": 5}}),
        json!({"user": {"name": "   "}}),
        json!({"user": {"name": "x".repeat(256)}}),
        json!({"user": {"name": "u", "enabled": "yes"}}),
        json!({"user": {"name": "u", "password": 5}}),
        json!({"user": {"name": "u", "default_project_id": 5}}),
        json!({"user": {"name": "u", "options": {"bogus": true}}}),
        json!({"user": {"name": "u", "default_project_id": "default"}}),
        json!({"user": "u"}),
        json!({"nope": {}}),
    ] {
        let r = c.admin(Method::POST, "/v3/users", Some(body.clone())).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {:?}", r.body);
    }
    let r = c
        .admin(
            Method::POST,
            "/v3/users",
            Some(json!({"user": {"name": "u", "domain_id": "nowhere"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.body["error"]["message"],
        "Could not find domain: nowhere."
    );
    let u = create_user(&c, json!({"name": "u"})).await;
    let path = format!("/v3/users/{}", u["id"].as_str().expect("id"));
    for body in [
        json!({"user": {}}),
        json!({"user": {"domain_id": "other"}}),
        json!({"user": {"id": "other"}}),
        json!({"user": {"enabled": 1}}),
    ] {
        let r = c.admin(Method::PATCH, &path, Some(body.clone())).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {:?}", r.body);
    }
    create_user(&c, json!({"name": "v"})).await;
    let r = c
        .admin(Method::PATCH, &path, Some(json!({"user": {"name": "v"}})))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "rename onto another user");
    let r = c.call(Method::GET, "/v3/users", None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = c.call(Method::GET, &path, None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn self_service_password_change() {
    let c = cloud().await;
    let (id, project, token) = member(&c, "bob", "old-pw").await;
    let path = format!("/v3/users/{id}/password");
    next_second().await;

    let r = c
        .call(
            Method::POST,
            &path,
            Some(&token),
            Some(json!({"user": {"password": "new-pw", "original_password": "wrong"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{:?}", r.body);
    for body in [
        json!({"user": {"password": "new-pw"}}),
        json!({"user": {"original_password": "old-pw"}}),
        json!({"user": {"password": 5, "original_password": "old-pw"}}),
        json!({"password": "new-pw"}),
    ] {
        let r = c
            .call(Method::POST, &path, Some(&token), Some(body.clone()))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {:?}", r.body);
    }
    let r = c
        .call(
            Method::POST,
            "/v3/users/nobody/password",
            None,
            Some(json!({"user": {"password": "new-pw", "original_password": "old-pw"}})),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "an unknown user looks like a wrong password"
    );
    let r = c
        .call(Method::GET, &format!("/v3/users/{id}"), Some(&token), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "failed attempts revoke nothing");

    let r = c
        .call(
            Method::POST,
            &path,
            Some(&token),
            Some(json!({"user": {"password": "new-pw", "original_password": "old-pw"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    let r = c
        .call(Method::GET, &format!("/v3/users/{id}"), Some(&token), None)
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "the change revokes the user's tokens"
    );
    let r = c.try_password_token("bob", "old-pw", None).await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "the old password is gone"
    );

    next_second().await;
    let token = c
        .password_token("bob", "new-pw", Some(json!({"project": {"id": project}})))
        .await;
    let r = c
        .call(Method::GET, &format!("/v3/users/{id}"), Some(&token), None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn admin_reset_and_disable_revoke_tokens() {
    let c = cloud().await;
    let (id, project, token) = member(&c, "carol", "pw-1").await;
    let path = format!("/v3/users/{id}");
    let scope = json!({"project": {"id": project}});
    next_second().await;

    let r = c
        .admin(
            Method::PATCH,
            &path,
            Some(json!({"user": {"password": "pw-2"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(r.body["user"].get("password").is_none());
    let r = c.call(Method::GET, &path, Some(&token), None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "a reset revokes tokens");
    let r = c.try_password_token("carol", "pw-1", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    next_second().await;
    let token = c.password_token("carol", "pw-2", Some(scope.clone())).await;
    let r = c.call(Method::GET, &path, Some(&token), None).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = c
        .admin(
            Method::PATCH,
            &path,
            Some(json!({"user": {"enabled": false}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = c.call(Method::GET, &path, Some(&token), None).await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "a disabled user's tokens stop working"
    );
    let r = c.try_password_token("carol", "pw-2", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    c.admin(
        Method::PATCH,
        &path,
        Some(json!({"user": {"enabled": true}})),
    )
    .await;
    let r = c.call(Method::GET, &path, Some(&token), None).await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "re-enabling does not bring old tokens back"
    );
    next_second().await;
    c.password_token("carol", "pw-2", Some(scope)).await;
}

#[tokio::test]
async fn deleted_users_tokens_stop_working() {
    let c = cloud().await;
    let (id, _, token) = member(&c, "dave", "pw").await;
    let path = format!("/v3/users/{id}");
    let r = c.call(Method::GET, &path, Some(&token), None).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = c.admin(Method::DELETE, &path, None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = c.call(Method::GET, "/v3/users", Some(&token), None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_member_manages_nothing_but_reads_itself() {
    let c = cloud().await;
    let (id, project, token) = member(&c, "erin", "pw").await;
    let other = create_user(&c, json!({"name": "frank"})).await;
    let other_path = format!("/v3/users/{}", other["id"].as_str().expect("id"));
    let denied = [
        (Method::GET, "/v3/users".to_string(), None),
        (
            Method::POST,
            "/v3/users".to_string(),
            Some(json!({"user": {"name": "mallory"}})),
        ),
        (Method::GET, other_path.clone(), None),
        (
            Method::PATCH,
            other_path.clone(),
            Some(json!({"user": {"enabled": false}})),
        ),
        (
            Method::PATCH,
            format!("/v3/users/{id}"),
            Some(json!({"user": {"name": "erin2"}})),
        ),
        (Method::DELETE, other_path.clone(), None),
        (Method::GET, format!("{other_path}/groups"), None),
        (Method::GET, format!("{other_path}/projects"), None),
        (Method::GET, "/v3/users/does-not-exist".to_string(), None),
    ];
    for (method, path, body) in denied {
        let r = c.call(method.clone(), &path, Some(&token), body).await;
        assert_eq!(
            r.status,
            StatusCode::FORBIDDEN,
            "{method} {path}: {:?}",
            r.body
        );
    }
    let r = c
        .call(
            Method::POST,
            "/v3/users",
            Some(&token),
            Some(json!({"user": {"name": "m"}})),
        )
        .await;
    assert_eq!(
        r.body["error"]["message"],
        "You are not authorized to perform the requested action: identity:create_user."
    );

    let r = c
        .call(Method::GET, &format!("/v3/users/{id}"), Some(&token), None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["user"]["id"], id);
    let r = c
        .call(
            Method::GET,
            &format!("/v3/users/{id}/groups"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["groups"], json!([]));
    let r = c
        .call(
            Method::GET,
            &format!("/v3/users/{id}/projects"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let projects: Vec<&Value> = r.body["projects"]
        .as_array()
        .expect("projects")
        .iter()
        .map(|p| &p["id"])
        .collect();
    assert_eq!(projects, vec![&json!(project)]);
}

#[tokio::test]
async fn user_projects_and_groups() {
    let c = cloud().await;
    let u = create_user(&c, json!({"name": "gina", "enabled": false})).await;
    let id = u["id"].as_str().expect("id").to_string();
    let p1 = create_project(&c, "g1").await;
    let p2 = create_project(&c, "g2").await;
    grant_member(&c, &id, &p1).await;
    grant_member(&c, &id, &p2).await;
    let r = c
        .admin(Method::GET, &format!("/v3/users/{id}/projects"), None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let mut got: Vec<String> = r.body["projects"]
        .as_array()
        .expect("projects")
        .iter()
        .map(|p| p["id"].as_str().expect("id").to_string())
        .collect();
    got.sort();
    let mut want = vec![p1.clone(), p2];
    want.sort();
    assert_eq!(got, want);
    let r = c
        .admin(
            Method::GET,
            &format!("/v3/users/{id}/projects?name=g1"),
            None,
        )
        .await;
    assert_eq!(r.body["projects"].as_array().expect("projects").len(), 1);

    let g = c
        .admin(
            Method::POST,
            "/v3/groups",
            Some(json!({"group": {"name": "grp"}})),
        )
        .await
        .body["group"]
        .clone();
    let gid = g["id"].as_str().expect("id");
    let r = c
        .admin(Method::PUT, &format!("/v3/groups/{gid}/users/{id}"), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = c
        .admin(Method::GET, &format!("/v3/users/{id}/groups"), None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let mut listed = r.body["groups"][0].clone();
    assert_eq!(listed["membership_expires_at"], Value::Null);
    listed
        .as_object_mut()
        .expect("object")
        .remove("membership_expires_at");
    assert_eq!(listed, g);

    for sub in ["groups", "projects"] {
        let r = c
            .admin(Method::GET, &format!("/v3/users/nobody/{sub}"), None)
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert_eq!(r.body["error"]["message"], "Could not find user: nobody.");
    }
}

#[tokio::test]
async fn password_history_binds_users_not_admins() {
    let c = cloud_with(|cfg| cfg.unique_last_password_count = 2).await;
    let (id, _, _) = member(&c, "hal", "pw-0").await;
    let path = format!("/v3/users/{id}/password");
    let change =
        |from: &str, to: &str| json!({"user": {"original_password": from, "password": to}});
    let r = c
        .call(Method::POST, &path, None, Some(change("pw-0", "pw-1")))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    // Neither the current password nor the one before it.
    for to in ["pw-1", "pw-0"] {
        let r = c
            .call(Method::POST, &path, None, Some(change("pw-1", to)))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{to}: {:?}", r.body);
    }
    let r = c
        .call(Method::POST, &path, None, Some(change("pw-1", "pw-2")))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    // pw-0 is now two passwords back: allowed again.
    let r = c
        .call(Method::POST, &path, None, Some(change("pw-2", "pw-0")))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);

    // An administrator may set the same password twice.
    for _ in 0..2 {
        let r = c
            .admin(
                Method::PATCH,
                &format!("/v3/users/{id}"),
                Some(json!({"user": {"password": "pw-0"}})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }
}

#[tokio::test]
async fn minimum_password_age_holds_users_not_admins() {
    let c = cloud_with(|cfg| cfg.minimum_password_age_days = 1).await;
    let (id, _, _) = member(&c, "ida", "pw-0").await;
    let r = c
        .call(
            Method::POST,
            &format!("/v3/users/{id}/password"),
            None,
            Some(json!({"user": {"original_password": "pw-0", "password": "pw-1"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("minimum password age")),
        "{:?}",
        r.body
    );
    let r = c
        .admin(
            Method::PATCH,
            &format!("/v3/users/{id}"),
            Some(json!({"user": {"password": "pw-1"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
}
