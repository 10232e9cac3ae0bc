//! Domains and projects through the HTTP API.

mod common;

use axum::http::{Method, StatusCode};
use common::cloud;
use serde_json::json;

#[tokio::test]
async fn project_crud_and_conflicts() {
    let c = cloud().await;
    let r = c
        .admin(
            Method::POST,
            "/v3/projects",
            Some(json!({"project": {"name": "p1", "description": "d", "tags": ["a", "b"]}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let id = r.body["project"]["id"].as_str().expect("id").to_string();
    assert_eq!(r.body["project"]["domain_id"], "default");
    assert_eq!(r.body["project"]["parent_id"], "default");
    let r = c
        .admin(
            Method::POST,
            "/v3/projects",
            Some(json!({"project": {"name": "p1"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = c
        .admin(
            Method::PATCH,
            &format!("/v3/projects/{id}"),
            Some(json!({"project": {"enabled": false, "name": "p2"}})),
        )
        .await;
    assert_eq!(
        (r.status, r.body["project"]["enabled"].clone()),
        (StatusCode::OK, json!(false))
    );
    let r = c.admin(Method::GET, "/v3/projects?name=p2", None).await;
    assert_eq!(r.body["projects"].as_array().expect("list").len(), 1);
    let r = c.admin(Method::GET, "/v3/projects?tags=a,b", None).await;
    assert_eq!(r.body["projects"].as_array().expect("list").len(), 1);
    let r = c
        .admin(Method::GET, &format!("/v3/projects/{id}/tags/a"), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = c
        .admin(Method::DELETE, &format!("/v3/projects/{id}"), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = c
        .admin(Method::GET, &format!("/v3/projects/{id}"), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.body["error"]["message"],
        format!("Could not find project: {id}.")
    );
}

#[tokio::test]
async fn hierarchy_rules() {
    let c = cloud().await;
    let parent = c
        .admin(
            Method::POST,
            "/v3/projects",
            Some(json!({"project": {"name": "parent"}})),
        )
        .await
        .body["project"]["id"]
        .clone();
    let child = c
        .admin(
            Method::POST,
            "/v3/projects",
            Some(json!({"project": {"name": "child", "parent_id": parent}})),
        )
        .await;
    assert_eq!(child.status, StatusCode::CREATED);
    assert_eq!(child.body["project"]["parent_id"], parent);
    let r = c
        .admin(
            Method::DELETE,
            &format!("/v3/projects/{}", parent.as_str().expect("id")),
            None,
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "a parent with children cannot be deleted"
    );
}

#[tokio::test]
async fn domain_lifecycle() {
    let c = cloud().await;
    let r = c
        .admin(
            Method::POST,
            "/v3/domains",
            Some(json!({"domain": {"name": "d1"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let id = r.body["domain"]["id"].as_str().expect("id").to_string();
    let r = c
        .admin(
            Method::POST,
            "/v3/domains",
            Some(json!({"domain": {"name": "d1"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = c
        .admin(Method::DELETE, &format!("/v3/domains/{id}"), None)
        .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "an enabled domain cannot be deleted"
    );
    c.admin(
        Method::PATCH,
        &format!("/v3/domains/{id}"),
        Some(json!({"domain": {"enabled": false}})),
    )
    .await;
    let r = c
        .admin(Method::DELETE, &format!("/v3/domains/{id}"), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = c.admin(Method::DELETE, "/v3/domains/default", None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn requests_without_a_token_are_401_and_bad_bodies_400() {
    let c = cloud().await;
    let r = c.call(Method::GET, "/v3/projects", None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = c
        .admin(
            Method::POST,
            "/v3/projects",
            Some(json!({"project": {"name": 5}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = c
        .admin(Method::POST, "/v3/projects", Some(json!({"nope": {}})))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_member_reads_its_own_project_and_domain_only() {
    let c = cloud().await;
    let (_, project, token) = common::member(&c, "bob", "bob-password-1").await;
    let other = common::create_project(&c, "other").await;
    let r = c
        .call(
            Method::GET,
            &format!("/v3/projects/{project}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = c
        .call(
            Method::GET,
            &format!("/v3/projects/{other}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        r.body["error"]["message"],
        "You are not authorized to perform the requested action: identity:get_project."
    );
    let r = c
        .call(Method::GET, "/v3/domains/default", Some(&token), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    for (method, path) in [(Method::GET, "/v3/projects"), (Method::GET, "/v3/domains")] {
        let r = c.call(method, path, Some(&token), None).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
    }
    let r = c
        .call(
            Method::POST,
            "/v3/projects",
            Some(&token),
            Some(json!({"project": {"name": "x"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn domains_are_projects_too() {
    let c = cloud().await;
    let r = c
        .admin(
            Method::POST,
            "/v3/projects",
            Some(json!({"project": {"name": "dp", "domain_id": null, "is_domain": true}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["project"]["is_domain"], true);
    let id = r.body["project"]["id"].as_str().expect("id").to_string();
    let path = format!("/v3/projects/{id}");

    let r = c.admin(Method::GET, &path, None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        (
            r.body["project"]["is_domain"].clone(),
            r.body["project"]["domain_id"].clone()
        ),
        (json!(true), json!(null))
    );
    let r = c
        .admin(Method::GET, "/v3/projects?is_domain=true", None)
        .await;
    let ids: Vec<&str> = r.body["projects"]
        .as_array()
        .expect("projects")
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect();
    assert!(
        ids.contains(&id.as_str()) && ids.contains(&"default"),
        "{ids:?}"
    );
    let r = c.admin(Method::GET, "/v3/projects", None).await;
    assert!(
        r.body["projects"]
            .as_array()
            .expect("projects")
            .iter()
            .all(|p| p["is_domain"] == false),
        "domains are listed only on request"
    );

    // Deleting an enabled domain through the projects API is refused, as through the
    // domains API; disabled, it goes.
    let r = c.admin(Method::DELETE, &path, None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    let r = c
        .admin(
            Method::PATCH,
            &path,
            Some(json!({"project": {"enabled": false}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = c.admin(Method::DELETE, &path, None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    let r = c
        .admin(Method::GET, &format!("/v3/domains/{id}"), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}
