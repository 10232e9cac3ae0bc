//! Every route, walked by callers without rights: no token is 401; another project's member
//! gets 404 for a private image (its existence is not revealed); the project's reader gets
//! 403 for every write.

mod common;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use common::*;
use serde_json::json;

/// `(method, path, content type, body)` of every image route, for image `id`.
fn routes(id: &str) -> Vec<(Method, String, &'static str, Vec<u8>)> {
    let json_ct = "application/json";
    let patch_ct = "application/openstack-images-v2.1-json-patch";
    let octet = "application/octet-stream";
    let j = |v: serde_json::Value| v.to_string().into_bytes();
    vec![
        (Method::GET, format!("/v2/images/{id}"), "", vec![]),
        (
            Method::PATCH,
            format!("/v2/images/{id}"),
            patch_ct,
            j(json!([{"op": "replace", "path": "/name", "value": "x"}])),
        ),
        (Method::DELETE, format!("/v2/images/{id}"), "", vec![]),
        (
            Method::PUT,
            format!("/v2/images/{id}/file"),
            octet,
            b"data".to_vec(),
        ),
        (Method::GET, format!("/v2/images/{id}/file"), "", vec![]),
        (
            Method::PUT,
            format!("/v2/images/{id}/stage"),
            octet,
            b"data".to_vec(),
        ),
        (
            Method::POST,
            format!("/v2/images/{id}/import"),
            json_ct,
            j(json!({"method": {"name": "glance-direct"}})),
        ),
        (
            Method::POST,
            format!("/v2/images/{id}/actions/deactivate"),
            "",
            vec![],
        ),
        (
            Method::POST,
            format!("/v2/images/{id}/actions/reactivate"),
            "",
            vec![],
        ),
        (Method::PUT, format!("/v2/images/{id}/tags/t"), "", vec![]),
        (
            Method::DELETE,
            format!("/v2/images/{id}/tags/t"),
            "",
            vec![],
        ),
        (Method::GET, format!("/v2/images/{id}/members"), "", vec![]),
        (
            Method::POST,
            format!("/v2/images/{id}/members"),
            json_ct,
            j(json!({"member": PROJECT_B})),
        ),
        (
            Method::GET,
            format!("/v2/images/{id}/members/{PROJECT_B}"),
            "",
            vec![],
        ),
        (
            Method::PUT,
            format!("/v2/images/{id}/members/{PROJECT_B}"),
            json_ct,
            j(json!({"status": "accepted"})),
        ),
        (
            Method::DELETE,
            format!("/v2/images/{id}/members/{PROJECT_B}"),
            "",
            vec![],
        ),
    ]
}

async fn send(
    c: &TestCloud,
    tok: Option<&str>,
    r: &(Method, String, &'static str, Vec<u8>),
) -> StatusCode {
    let headers: Vec<(&str, &str)> = if r.2.is_empty() {
        vec![]
    } else {
        vec![("content-type", r.2)]
    };
    c.send(r.0.clone(), &r.1, tok, &headers, Body::from(r.3.clone()))
        .await
        .status
}

#[tokio::test]
async fn without_a_token_everything_but_discovery_is_401() {
    let c = cloud().await;
    let id = c.create(A, json!({"name": "p", "visibility": "private", "disk_format": "raw", "container_format": "bare"})).await;
    let mut all = routes(&id);
    for p in [
        "/v2/images",
        "/v2/schemas/image",
        "/v2/schemas/images",
        "/v2/schemas/member",
        "/v2/schemas/members",
        "/v2/info/import",
        "/v2/info/stores",
        "/v2/info/usage",
        "/v2/images/{id}/tasks",
        "/v2/tasks",
        "/v2/schemas/task",
        "/v2/schemas/metadefs/namespace",
        "/v2/metadefs/resource_types",
        "/v2/metadefs/namespaces",
        "/v2/metadefs/namespaces/n",
        "/v2/metadefs/namespaces/n/objects",
        "/v2/metadefs/namespaces/n/properties",
        "/v2/metadefs/namespaces/n/tags",
        "/v2/metadefs/namespaces/n/resource_types",
    ] {
        let p = p.replace("{id}", &id);
        all.push((Method::GET, p, "", vec![]));
    }
    for p in ["/v2/images", "/v2/tasks", "/v2/metadefs/namespaces"] {
        all.push((Method::POST, p.into(), "application/json", b"{}".to_vec()));
    }
    for r in &all {
        assert_eq!(
            send(&c, None, r).await,
            StatusCode::UNAUTHORIZED,
            "{} {}",
            r.0,
            r.1
        );
    }
}

#[tokio::test]
async fn another_project_gets_404_on_a_private_image() {
    let c = cloud().await;
    let id = c.create(A, json!({"name": "p", "visibility": "private", "disk_format": "raw", "container_format": "bare"})).await;
    for r in &routes(&id) {
        assert_eq!(
            send(&c, Some(B), r).await,
            StatusCode::NOT_FOUND,
            "{} {}",
            r.0,
            r.1
        );
    }
    assert_eq!(
        c.get(A, &format!("/v2/images/{id}")).await.body["status"],
        "queued"
    );
}

#[tokio::test]
async fn the_reader_cannot_write() {
    let c = cloud().await;
    let id = c.create_named(A, "shared").await;
    let r = c
        .call(
            Method::POST,
            &format!("/v2/images/{id}/members"),
            Some(A),
            Some(json!({"member": PROJECT_B})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    for r in routes(&id).iter().filter(|r| r.0 != Method::GET) {
        let s = send(&c, Some(A_READER), r).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{} {}", r.0, r.1);
    }
    let im = c.get(A, &format!("/v2/images/{id}")).await.body;
    assert_eq!(
        (im["status"].clone(), im["name"].clone()),
        (json!("queued"), json!("shared"))
    );
}
