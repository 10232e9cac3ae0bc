//! `/v3/OS-OAUTH1/consumers` through the HTTP API.

mod common;
mod member;

use axum::http::{Method, StatusCode};
use common::cloud;
use member::member;
use serde_json::{Value, json};

#[tokio::test]
async fn consumer_crud_shows_the_secret_once() {
    let c = cloud().await;
    let r = c
        .admin(
            Method::POST,
            "/v3/OS-OAUTH1/consumers",
            Some(json!({"consumer": {"description": "app"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let created = r.body["consumer"].clone();
    let id = created["id"].as_str().expect("id").to_string();
    assert!(!created["secret"].as_str().expect("secret").is_empty());
    let path = format!("/v3/OS-OAUTH1/consumers/{id}");
    assert_eq!(created["links"]["self"], format!("{}{path}", common::URL));

    let r = c.admin(Method::GET, &path, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["consumer"]["description"], "app");
    assert_eq!(r.body["consumer"]["secret"], Value::Null, "shown once");
    let r = c.admin(Method::GET, "/v3/OS-OAUTH1/consumers", None).await;
    assert_eq!(r.body["consumers"][0]["id"], json!(id));
    assert_eq!(r.body["consumers"][0]["secret"], Value::Null);

    let r = c
        .admin(
            Method::PATCH,
            &path,
            Some(json!({"consumer": {"description": "new"}})),
        )
        .await;
    assert_eq!(
        (r.status, r.body["consumer"]["description"].clone()),
        (StatusCode::OK, json!("new"))
    );
    let r = c
        .admin(
            Method::PATCH,
            &path,
            Some(json!({"consumer": {"secret": "mine"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = c
        .admin(
            Method::PATCH,
            &path,
            Some(json!({"consumer": {"id": "other"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // Members may not touch consumers.
    let m = member(&c, "alice", &["member", "reader"]).await;
    let r = c.call(Method::GET, &path, Some(&m.token), None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = c.call(Method::DELETE, &path, Some(&m.token), None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    let r = c.admin(Method::DELETE, &path, None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = c.admin(Method::GET, &path, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}
