//! Groups and group membership through the HTTP API.

mod common;

use axum::http::{Method, StatusCode};
use common::{TestCloud, cloud};
use oxstack_identity::model::{Assignment, AssignmentKind};
use oxstack_identity::store::Store;
use serde_json::{Value, json};

async fn create(c: &TestCloud, path: &str, key: &str, body: Value) -> Value {
    let r = c
        .admin(Method::POST, path, Some(json!({ key: body })))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    r.body[key].clone()
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

/// Gives `actor` (a user or a group) the member role on `project_id` in the store.
async fn grant_member(c: &TestCloud, kind: AssignmentKind, actor: &str, project_id: &str) {
    let store = Store::new(c.db.clone());
    let role = store
        .role_get_by_name("member", None)
        .await
        .expect("store")
        .expect("bootstrap made the member role");
    store
        .assignment_create(&Assignment {
            kind,
            actor_id: actor.into(),
            target_id: project_id.into(),
            role_id: role.id,
            inherited: false,
        })
        .await
        .expect("assignment");
}

#[tokio::test]
async fn group_crud() {
    let c = cloud().await;
    let domain = create(&c, "/v3/domains", "domain", json!({"name": "gd"})).await;
    let g = create(
        &c,
        "/v3/groups",
        "group",
        json!({"name": "admins", "domain_id": domain["id"], "description": "d", "color": "blue"}),
    )
    .await;
    let gid = id(&g);
    assert_eq!(g["name"], "admins");
    assert_eq!(g["domain_id"], domain["id"]);
    assert_eq!(g["description"], "d");
    assert_eq!(g["color"], "blue", "extra attributes come back");
    assert_eq!(
        g["links"]["self"],
        format!("{}/v3/groups/{gid}", common::URL)
    );
    let plain = create(&c, "/v3/groups", "group", json!({"name": "plain"})).await;
    assert_eq!(plain["domain_id"], "default");
    assert_eq!(
        plain["description"], "",
        "Keystone defaults the description"
    );

    let r = c
        .admin(
            Method::POST,
            "/v3/groups",
            Some(json!({"group": {"name": "admins", "domain_id": domain["id"]}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        r.body["error"]["message"],
        format!(
            "Conflict occurred attempting to store group - Duplicate entry found with name admins at domain ID {}.",
            id(&domain)
        )
    );

    let path = format!("/v3/groups/{gid}");
    let r = c.admin(Method::GET, &path, None).await;
    assert_eq!((r.status, &r.body["group"]), (StatusCode::OK, &g));
    let r = c
        .admin(
            Method::PATCH,
            &path,
            Some(json!({"group": {"name": "admins2", "description": "d2"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = c
        .admin(
            Method::PATCH,
            &path,
            Some(json!({"group": {"name": "admins3"}})),
        )
        .await;
    assert_eq!(r.body["group"]["name"], "admins3");
    assert_eq!(r.body["group"]["description"], "d2");
    assert_eq!(r.body["group"]["domain_id"], domain["id"]);
    let r = c.admin(Method::GET, &path, None).await;
    assert_eq!(r.body["group"]["name"], "admins3");

    let ids = |r: &common::Resp| -> Vec<Value> {
        r.body["groups"]
            .as_array()
            .expect("groups")
            .iter()
            .map(|g| g["id"].clone())
            .collect()
    };
    let r = c.admin(Method::GET, "/v3/groups", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(ids(&r).len(), 2);
    let r = c
        .admin(
            Method::GET,
            &format!("/v3/groups?domain_id={}", id(&domain)),
            None,
        )
        .await;
    assert_eq!(ids(&r), vec![json!(gid)]);
    let r = c.admin(Method::GET, "/v3/groups?name=plain", None).await;
    assert_eq!(ids(&r), vec![plain["id"].clone()]);

    for body in [
        json!({"group": {}}),
        json!({"group": {"domain_id": "default"}}),
        json!({"group": {"description": 5}}),
    ] {
        let r = c.admin(Method::PATCH, &path, Some(body.clone())).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {:?}", r.body);
    }
    for body in [
        json!({"group": {}}),
        json!({"group": {"name": 1}}),
        json!({"group": {"name": "x".repeat(65)}}),
    ] {
        let r = c
            .admin(Method::POST, "/v3/groups", Some(body.clone()))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {:?}", r.body);
    }
    let r = c
        .admin(
            Method::POST,
            "/v3/groups",
            Some(json!({"group": {"name": "x", "domain_id": "nowhere"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let r = c.admin(Method::DELETE, &path, None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    for method in [Method::GET, Method::DELETE] {
        let r = c.admin(method, &path, None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert_eq!(
            r.body["error"]["message"],
            format!("Could not find group: {gid}.")
        );
    }
}

#[tokio::test]
async fn membership_add_list_check_remove() {
    let c = cloud().await;
    let g = create(&c, "/v3/groups", "group", json!({"name": "team"})).await;
    let gid = id(&g);
    let mut users = Vec::new();
    for name in ["u3", "u1", "u2"] {
        let u = create(
            &c,
            "/v3/users",
            "user",
            json!({"name": name, "password": "pw", "email": format!("{name}@example.com")}),
        )
        .await;
        let r = c
            .admin(
                Method::PUT,
                &format!("/v3/groups/{gid}/users/{}", id(&u)),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
        users.push(u);
    }
    let r = c
        .admin(
            Method::PUT,
            &format!("/v3/groups/{gid}/users/{}", id(&users[0])),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "adding twice is fine");
    let r = c
        .admin(Method::GET, &format!("/v3/groups/{gid}/users"), None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let mut listed = r.body["users"].as_array().expect("users").clone();
    listed.sort_by_key(|u| u["name"].as_str().map(str::to_string));
    users.sort_by_key(|u| u["name"].as_str().map(str::to_string));
    assert_eq!(listed, users, "members render as created");
    let r = c
        .admin(
            Method::GET,
            &format!("/v3/groups/{gid}/users?name=u2"),
            None,
        )
        .await;
    assert_eq!(r.body["users"].as_array().expect("users").len(), 1);

    for u in &users {
        let member = format!("/v3/groups/{gid}/users/{}", id(u));
        let r = c.admin(Method::HEAD, &member, None).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        let r = c.admin(Method::GET, &member, None).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        let r = c.admin(Method::DELETE, &member, None).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        let r = c.admin(Method::HEAD, &member, None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        let r = c.admin(Method::DELETE, &member, None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert_eq!(
            r.body["error"]["message"],
            format!("User '{}' not found in group '{gid}'", id(u))
        );
    }
    let r = c
        .admin(Method::GET, &format!("/v3/groups/{gid}/users"), None)
        .await;
    assert_eq!(r.body["users"], json!([]));

    let r = c
        .admin(Method::PUT, &format!("/v3/groups/{gid}/users/nobody"), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["error"]["message"], "Could not find user: nobody.");
    let r = c
        .admin(
            Method::PUT,
            &format!("/v3/groups/nogroup/users/{}", id(&users[0])),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["error"]["message"], "Could not find group: nogroup.");
    let r = c.admin(Method::GET, "/v3/groups/nogroup/users", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn membership_changes_reach_cached_tokens() {
    let c = cloud().await;
    let project = create(&c, "/v3/projects", "project", json!({"name": "gp"})).await;
    let pid = id(&project);
    let g = create(&c, "/v3/groups", "group", json!({"name": "readers"})).await;
    let gid = id(&g);
    grant_member(&c, AssignmentKind::GroupProject, &gid, &pid).await;
    let u = create(
        &c,
        "/v3/users",
        "user",
        json!({"name": "hank", "password": "pw"}),
    )
    .await;
    let uid = id(&u);
    let scope = json!({"project": {"id": pid}});
    let r = c
        .try_password_token("hank", "pw", Some(scope.clone()))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "no role yet");

    let member = format!("/v3/groups/{gid}/users/{uid}");
    c.admin(Method::PUT, &member, None).await;
    let token = c.password_token("hank", "pw", Some(scope)).await;
    let me = format!("/v3/users/{uid}");
    let r = c.call(Method::GET, &me, Some(&token), None).await;
    assert_eq!(r.status, StatusCode::OK, "the group's role on the project");
    let r = c
        .call(Method::GET, &format!("{me}/groups"), Some(&token), None)
        .await;
    assert_eq!(r.body["groups"][0]["id"], json!(gid));

    let r = c.admin(Method::DELETE, &member, None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = c.call(Method::GET, &me, Some(&token), None).await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "the cached validation is dropped: no role left on the project"
    );

    c.admin(Method::PUT, &member, None).await;
    let r = c.call(Method::GET, &me, Some(&token), None).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = c
        .admin(Method::DELETE, &format!("/v3/groups/{gid}"), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = c.call(Method::GET, &me, Some(&token), None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "the group is gone");
}

#[tokio::test]
async fn a_member_cannot_manage_groups() {
    let c = cloud().await;
    let project = create(&c, "/v3/projects", "project", json!({"name": "mp"})).await;
    let u = create(
        &c,
        "/v3/users",
        "user",
        json!({"name": "ivy", "password": "pw"}),
    )
    .await;
    grant_member(&c, AssignmentKind::UserProject, &id(&u), &id(&project)).await;
    let token = c
        .password_token("ivy", "pw", Some(json!({"project": {"id": id(&project)}})))
        .await;
    let g = create(&c, "/v3/groups", "group", json!({"name": "g"})).await;
    let gid = id(&g);
    let member = format!("/v3/groups/{gid}/users/{}", id(&u));
    let denied = [
        (Method::GET, "/v3/groups".to_string(), None),
        (
            Method::POST,
            "/v3/groups".to_string(),
            Some(json!({"group": {"name": "mine"}})),
        ),
        (Method::GET, format!("/v3/groups/{gid}"), None),
        (
            Method::PATCH,
            format!("/v3/groups/{gid}"),
            Some(json!({"group": {"name": "x"}})),
        ),
        (Method::DELETE, format!("/v3/groups/{gid}"), None),
        (Method::GET, format!("/v3/groups/{gid}/users"), None),
        (Method::PUT, member.clone(), None),
        (Method::HEAD, member.clone(), None),
        (Method::DELETE, member.clone(), None),
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
    let r = c.call(Method::GET, "/v3/groups", None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}
