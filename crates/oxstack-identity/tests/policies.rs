//! `/v3/policies` (policy blobs) through the HTTP API.

mod common;
mod member;

use axum::http::{Method, StatusCode};
use common::cloud;
use member::member;
use serde_json::json;

#[tokio::test]
async fn policy_blob_crud() {
    let c = cloud().await;
    let r = c
        .admin(
            Method::POST,
            "/v3/policies",
            Some(json!({"policy": {"blob": "{\"a\": 1}", "type": "application/json", "id": "mine", "x": 1}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let p = r.body["policy"].clone();
    let id = p["id"].as_str().expect("id").to_string();
    assert_ne!(id, "mine", "Keystone assigns the id");
    assert_eq!(
        (p["blob"].clone(), p["type"].clone(), p["x"].clone()),
        (json!("{\"a\": 1}"), json!("application/json"), json!(1))
    );
    assert_eq!(
        p["links"]["self"],
        format!("{}/v3/policies/{id}", common::URL)
    );
    let path = format!("/v3/policies/{id}");

    let r = c
        .admin(
            Method::PATCH,
            &path,
            Some(json!({"policy": {"type": "text/yaml"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = c.admin(Method::GET, &path, None).await;
    assert_eq!(
        (
            r.body["policy"]["type"].clone(),
            r.body["policy"]["blob"].clone()
        ),
        (json!("text/yaml"), json!("{\"a\": 1}"))
    );
    let r = c
        .admin(Method::GET, "/v3/policies?type=text/yaml", None)
        .await;
    assert_eq!(r.body["policies"].as_array().map(Vec::len), Some(1));
    let r = c.admin(Method::GET, "/v3/policies?type=other", None).await;
    assert_eq!(r.body["policies"].as_array().map(Vec::len), Some(0));

    let r = c.admin(Method::DELETE, &path, None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = c.admin(Method::GET, &path, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = c.admin(Method::DELETE, &path, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_bodies_are_400_and_members_are_refused() {
    let c = cloud().await;
    for body in [
        json!({"policy": {"type": "t"}}),
        json!({"policy": {"blob": "b"}}),
        json!({"policy": {"blob": 1, "type": "t"}}),
        json!({"policy": {"blob": "b", "type": "t".repeat(256)}}),
        json!({"other": {}}),
    ] {
        let r = c
            .admin(Method::POST, "/v3/policies", Some(body.clone()))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {:?}", r.body);
    }
    let r = c
        .admin(
            Method::POST,
            "/v3/policies",
            Some(json!({"policy": {"blob": "b", "type": "t"}})),
        )
        .await;
    let path = format!(
        "/v3/policies/{}",
        r.body["policy"]["id"].as_str().expect("id")
    );
    let r = c
        .admin(Method::PATCH, &path, Some(json!({"policy": {}})))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    let m = member(&c, "alice", &["member", "reader"]).await;
    for (method, p, body) in [
        (Method::GET, "/v3/policies".to_string(), None),
        (Method::GET, path.clone(), None),
        (
            Method::POST,
            "/v3/policies".to_string(),
            Some(json!({"policy": {"blob": "b", "type": "t"}})),
        ),
        (
            Method::PATCH,
            path.clone(),
            Some(json!({"policy": {"type": "u"}})),
        ),
        (Method::DELETE, path.clone(), None),
    ] {
        let r = c.call(method.clone(), &p, Some(&m.token), body).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{method} {p}");
    }
    let r = c.call(Method::GET, "/v3/policies", None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}
