//! Non-admin users for API tests, made directly in the store (the user and role APIs are
//! not needed to set them up): a user in the Default domain with a password and roles on a
//! new project.

#![allow(dead_code)]

use axum::http::{Method, StatusCode};
use oxstack_identity::model::{Assignment, AssignmentKind, User};
use oxstack_identity::store::Store;
use serde_json::{Value, json};

use crate::common::TestCloud;

pub const PASSWORD: &str = "member-pass";

/// A user with roles on a project, and a token scoped to it.
pub struct Member {
    pub user_id: String,
    pub name: String,
    pub project_id: String,
    pub token: String,
}

pub async fn role_id(c: &TestCloud, name: &str) -> String {
    Store::new(c.db.clone())
        .role_get_by_name(name, None)
        .await
        .expect("role lookup")
        .expect("role exists")
        .id
}

/// Makes user `name` with `roles` (by name) on a new project `{name}-project`.
pub async fn member(c: &TestCloud, name: &str, roles: &[&str]) -> Member {
    let r = c
        .admin(
            Method::POST,
            "/v3/projects",
            Some(json!({"project": {"name": format!("{name}-project")}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let project_id = r.body["project"]["id"].as_str().expect("id").to_string();
    let store = Store::new(c.db.clone());
    let user = User {
        id: uuid::Uuid::new_v4().simple().to_string(),
        domain_id: "default".into(),
        name: name.into(),
        enabled: true,
        default_project_id: None,
        description: None,
        extra: Default::default(),
        password_hash: Some(bcrypt::hash(PASSWORD, 4).expect("hash")),
        password_expires_at: None,
        failed_auth_count: 0,
        failed_auth_at: None,
        created_at: 0,
    };
    store.user_create(&user).await.expect("user");
    for role in roles {
        store
            .assignment_create(&Assignment {
                kind: AssignmentKind::UserProject,
                actor_id: user.id.clone(),
                target_id: project_id.clone(),
                role_id: role_id(c, role).await,
                inherited: false,
            })
            .await
            .expect("assignment");
    }
    let token = c
        .password_token(name, PASSWORD, Some(json!({"project": {"id": project_id}})))
        .await;
    Member {
        user_id: user.id,
        name: name.into(),
        project_id,
        token,
    }
}

/// The names of the roles in a token body.
pub fn role_names(token_body: &Value) -> Vec<String> {
    let mut v: Vec<String> = token_body["token"]["roles"]
        .as_array()
        .expect("roles")
        .iter()
        .filter_map(|r| r["name"].as_str().map(str::to_string))
        .collect();
    v.sort();
    v
}
