//! Users and groups for the role tests, written straight to the store (these tests are
//! about roles and assignments, not the user API).

#![allow(dead_code)]

use oxstack_identity::model::{Group, User};
use oxstack_identity::store::Store;
use serde_json::Map;

use crate::common::TestCloud;

pub const PASSWORD: &str = "user-pass-1";

fn store(c: &TestCloud) -> Store {
    Store::new(c.db.clone())
}

fn id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A user with [`PASSWORD`] in `domain_id`; returns its id.
pub async fn user(c: &TestCloud, name: &str, domain_id: &str) -> String {
    let u = User {
        id: id(),
        domain_id: domain_id.into(),
        name: name.into(),
        enabled: true,
        default_project_id: None,
        description: None,
        extra: Map::new(),
        password_hash: Some(bcrypt::hash(PASSWORD, 4).expect("hash")),
        password_expires_at: None,
        failed_auth_count: 0,
        failed_auth_at: None,
        created_at: 0,
    };
    store(c).user_create(&u).await.expect("user");
    u.id
}

/// A group in `domain_id`; returns its id.
pub async fn group(c: &TestCloud, name: &str, domain_id: &str) -> String {
    let g = Group {
        id: id(),
        domain_id: domain_id.into(),
        name: name.into(),
        description: None,
        extra: Map::new(),
    };
    store(c).group_create(&g).await.expect("group");
    g.id
}

pub async fn add_member(c: &TestCloud, group_id: &str, user_id: &str) {
    store(c)
        .group_add_user(group_id, user_id)
        .await
        .expect("membership");
}
