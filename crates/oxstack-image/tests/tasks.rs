//! Tasks: the record an import leaves (`GET /v2/images/{id}/tasks`) and the admin-only
//! tasks API.

mod common;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use common::*;
use serde_json::json;

async fn stage(c: &TestCloud, tok: &str, id: &str) {
    let r = c
        .send(
            Method::PUT,
            &format!("/v2/images/{id}/stage"),
            Some(tok),
            &[("content-type", "application/octet-stream")],
            Body::from(vec![7u8; 1000]),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
}

#[tokio::test]
async fn an_import_leaves_a_successful_task() {
    let c = cloud().await;
    let id = c.create_named(A, "imp").await;
    assert_eq!(
        c.get(A, &format!("/v2/images/{id}/tasks")).await.body["tasks"],
        json!([])
    );
    stage(&c, A, &id).await;
    let imp = c
        .call(
            Method::POST,
            &format!("/v2/images/{id}/import"),
            Some(A),
            Some(json!({"method": {"name": "glance-direct"}})),
        )
        .await;
    assert_eq!(imp.status, StatusCode::ACCEPTED, "{}", imp.text());
    let request_id = imp.header("x-openstack-request-id").expect("request id");

    let r = c.get(A_READER, &format!("/v2/images/{id}/tasks")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let tasks = r.body["tasks"].as_array().expect("tasks");
    assert_eq!(tasks.len(), 1);
    let t = &tasks[0];
    assert_eq!(t["status"], "success");
    assert_eq!(t["type"], "api_image_import");
    assert_eq!(t["request_id"], request_id);
    assert_eq!(t["image_id"], id.as_str());
    assert_eq!(t["owner"], PROJECT_A);
    assert_eq!(t["user_id"], "user-alice");
    assert_eq!(t["input"]["import_req"]["method"]["name"], "glance-direct");
    assert_eq!(t["result"]["image_id"], id.as_str());
    assert!(t["expires_at"].is_string());
    assert_eq!(t["deleted"], false);

    // The admin finds it through the tasks API too.
    let task_id = t["id"].as_str().expect("id");
    let show = c.get(ADMIN, &format!("/v2/tasks/{task_id}")).await;
    assert_eq!(show.status, StatusCode::OK, "{}", show.text());
    assert_eq!(show.body["self"], format!("/v2/tasks/{task_id}"));
    assert_eq!(show.body["schema"], "/v2/schemas/task");
    let list = c.get(ADMIN, "/v2/tasks").await;
    assert_eq!(list.body["tasks"][0]["id"], task_id);
    assert!(list.body["tasks"][0].get("input").is_none());
}

#[tokio::test]
async fn image_tasks_follow_image_visibility() {
    let c = cloud().await;
    let id = c
        .create(A, json!({"name": "p", "visibility": "private"}))
        .await;
    assert_eq!(
        c.get(B, &format!("/v2/images/{id}/tasks")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        c.get(A, "/v2/images/00000000-0000-4000-8000-000000000000/tasks")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        c.call(Method::GET, &format!("/v2/images/{id}/tasks"), None, None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn the_tasks_api_is_for_admins_and_fetches_nothing() {
    let c = cloud().await;
    let import = json!({"type": "import", "input": {
        "import_from": "http://example.invalid/x.qcow2",
        "import_from_format": "qcow2",
        "image_properties": {"disk_format": "qcow2", "container_format": "bare"},
    }});
    for path in [
        "/v2/tasks",
        "/v2/tasks/00000000-0000-4000-8000-000000000000",
    ] {
        assert_eq!(c.get(A, path).await.status, StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(
        c.call(Method::POST, "/v2/tasks", Some(A), Some(import.clone()))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let r = c
        .call(Method::POST, "/v2/tasks", Some(ADMIN), Some(import))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert!(r.text().contains("does not pass filtering"), "{}", r.text());
    for bad in [
        json!({"input": {}}),
        json!({"type": "import"}),
        json!({"type": "bogus", "input": {}}),
        json!({"type": "import", "input": "x"}),
        json!({"type": "api_image_import", "input": {}}),
    ] {
        assert_eq!(
            c.call(Method::POST, "/v2/tasks", Some(ADMIN), Some(bad.clone()))
                .await
                .status,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
    assert_eq!(
        c.get(ADMIN, "/v2/tasks/00000000-0000-4000-8000-000000000000")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let d = c
        .call(
            Method::DELETE,
            "/v2/tasks/00000000-0000-4000-8000-000000000000",
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(d.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(d.header("allow"), Some("GET"));
    assert_eq!(c.get(ADMIN, "/v2/tasks").await.body["tasks"], json!([]));
}
