//! Images through the HTTP API: discovery, CRUD, listing, JSON patch, tags, actions,
//! schemas, info, and the error paths.

mod common;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use common::*;
use serde_json::json;

#[tokio::test]
async fn version_discovery() {
    let c = cloud().await;
    for path in ["/", "/v2", "/v2/"] {
        let r = c.call(Method::GET, path, None, None).await;
        assert_eq!(r.status, StatusCode::MULTIPLE_CHOICES, "{path}");
        let versions = r.body["versions"].as_array().expect("versions");
        let current: Vec<_> = versions
            .iter()
            .filter(|v| v["status"] == "CURRENT")
            .collect();
        assert_eq!(current.len(), 1);
        assert_eq!(current[0]["id"], "v2.17");
        assert_eq!(current[0]["links"][0]["href"], format!("{URL}/v2/"));
        assert!(versions.iter().any(|v| v["id"] == "v2.0"));
    }
    let r = c.call(Method::GET, "/versions", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.header("x-openstack-request-id").is_some());
}

#[tokio::test]
async fn create_show_and_the_image_document() {
    let c = cloud().await;
    let r = c
        .call(
            Method::POST,
            "/v2/images",
            Some(A),
            Some(json!({
                "name": "cirros", "disk_format": "qcow2", "container_format": "bare",
                "min_ram": 64, "tags": ["t1", "t1", "t2"], "os_distro": "cirros",
                "id": "11111111-2222-3333-4444-555555555555",
            })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let id = "11111111-2222-3333-4444-555555555555";
    assert_eq!(
        r.header("location"),
        Some(format!("/v2/images/{id}").as_str())
    );
    assert_eq!(
        r.header("openstack-image-import-methods"),
        Some("glance-direct")
    );
    let im = &r.body;
    for (k, v) in [
        ("id", json!(id)),
        ("name", json!("cirros")),
        ("status", json!("queued")),
        ("visibility", json!("shared")),
        ("protected", json!(false)),
        ("os_hidden", json!(false)),
        ("checksum", json!(null)),
        ("os_hash_algo", json!(null)),
        ("os_hash_value", json!(null)),
        ("size", json!(null)),
        ("virtual_size", json!(null)),
        ("min_disk", json!(0)),
        ("min_ram", json!(64)),
        ("disk_format", json!("qcow2")),
        ("container_format", json!("bare")),
        ("owner", json!(PROJECT_A)),
        ("tags", json!(["t1", "t2"])),
        ("self", json!(format!("/v2/images/{id}"))),
        ("file", json!(format!("/v2/images/{id}/file"))),
        ("schema", json!("/v2/schemas/image")),
        ("os_distro", json!("cirros")),
    ] {
        assert_eq!(im[k], v, "{k}");
    }
    let created = im["created_at"].as_str().expect("created_at");
    assert!(created.ends_with('Z') && created.len() == 20, "{created}");

    let r = c.get(A, &format!("/v2/images/{id}")).await;
    assert_eq!(
        (r.status, r.body["name"].clone()),
        (StatusCode::OK, json!("cirros"))
    );
    // The same id again.
    let r = c
        .call(Method::POST, "/v2/images", Some(A), Some(json!({"id": id})))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    // Plain-text errors, Glance style.
    let r = c.get(A, "/v2/images/null").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(
        r.header("content-type")
            .unwrap_or_default()
            .starts_with("text/plain")
    );
    assert!(r.text().starts_with("404 Not Found"), "{}", r.text());
}

#[tokio::test]
async fn create_validation() {
    let c = cloud().await;
    let post = |body| c.call(Method::POST, "/v2/images", Some(A), Some(body));
    for (body, status) in [
        (json!({"status": "active"}), StatusCode::FORBIDDEN),
        (json!({"self": "x"}), StatusCode::FORBIDDEN),
        (json!({"deleted": "x"}), StatusCode::FORBIDDEN),
        (json!({"os_glance_import_task": "x"}), StatusCode::FORBIDDEN),
        (json!({"disk_format": "floppy"}), StatusCode::BAD_REQUEST),
        (json!({"container_format": "zip"}), StatusCode::BAD_REQUEST),
        (json!({"visibility": "secret"}), StatusCode::BAD_REQUEST),
        (json!({"min_ram": -1}), StatusCode::BAD_REQUEST),
        (json!({"min_disk": "1"}), StatusCode::BAD_REQUEST),
        (json!({"protected": "yes"}), StatusCode::BAD_REQUEST),
        (json!({"name": "x".repeat(256)}), StatusCode::BAD_REQUEST),
        (json!({"custom": 5}), StatusCode::BAD_REQUEST),
        (json!({"id": "not-a-uuid"}), StatusCode::BAD_REQUEST),
        (json!({"tags": "t"}), StatusCode::BAD_REQUEST),
        (json!(["not", "an", "object"]), StatusCode::BAD_REQUEST),
        // Only admins publish; nobody creates images for another project.
        (json!({"visibility": "public"}), StatusCode::FORBIDDEN),
        (json!({"owner": PROJECT_B}), StatusCode::FORBIDDEN),
    ] {
        let r = post(body.clone()).await;
        assert_eq!(r.status, status, "{body}: {}", r.text());
    }
    let r = c
        .send(
            Method::POST,
            "/v2/images",
            Some(A),
            &[("content-type", "application/json")],
            Body::from("{not json"),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // The reader cannot create; nobody without a token can.
    let r = c
        .call(Method::POST, "/v2/images", Some(A_READER), Some(json!({})))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = c
        .call(Method::POST, "/v2/images", None, Some(json!({})))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.header("www-authenticate").is_some());
    let r = c.call(Method::GET, "/v2/images", Some("bogus"), None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Admins may publish and create for others.
    let r = c
        .call(
            Method::POST,
            "/v2/images",
            Some(ADMIN),
            Some(json!({"visibility": "public", "owner": PROJECT_B})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.body["owner"], PROJECT_B);
}

#[tokio::test]
async fn list_filters_sorting_and_pagination() {
    let c = cloud().await;
    let mut ids = Vec::new();
    for (i, name) in ["d", "b", "a", "c", "e"].iter().enumerate() {
        let id = c
            .create(
                A,
                json!({"name": name, "disk_format": if i % 2 == 0 { "raw" } else { "qcow2" },
                       "container_format": "bare", "tags": [format!("n{i}")], "os_distro": if i == 0 { "debian" } else { "ubuntu" }}),
            )
            .await;
        ids.push(id);
    }
    let names = |r: &Resp| -> Vec<String> {
        r.body["images"]
            .as_array()
            .expect("images")
            .iter()
            .map(|i| i["name"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    let r = c.get(A, "/v2/images").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["first"], "/v2/images");
    assert_eq!(r.body["schema"], "/v2/schemas/images");
    assert!(r.body.get("next").is_none());
    // Newest first by default.
    assert_eq!(names(&r), ["e", "c", "a", "b", "d"]);
    assert_eq!(
        names(&c.get(A, "/v2/images?sort=name:asc").await),
        ["a", "b", "c", "d", "e"]
    );
    assert_eq!(
        names(&c.get(A, "/v2/images?sort_key=name&sort_dir=desc").await),
        ["e", "d", "c", "b", "a"]
    );
    assert_eq!(
        names(&c.get(A, "/v2/images?disk_format=qcow2&sort=name:asc").await),
        ["b", "c"]
    );
    assert_eq!(names(&c.get(A, "/v2/images?tag=n2").await), ["a"]);
    assert_eq!(names(&c.get(A, "/v2/images?os_distro=debian").await), ["d"]);
    assert_eq!(
        names(&c.get(A, "/v2/images?name=in:a,e&sort=name:asc").await),
        ["a", "e"]
    );
    assert_eq!(names(&c.get(A, "/v2/images?status=active").await).len(), 0);
    assert_eq!(
        names(
            &c.get(A, "/v2/images?created_at=gt:2000-01-01T00:00:00Z")
                .await
        )
        .len(),
        5
    );
    assert_eq!(
        names(
            &c.get(A, "/v2/images?updated_at=lt:2000-01-01T00:00:00Z")
                .await
        )
        .len(),
        0
    );

    // Pages of two, following `next`.
    let mut seen = Vec::new();
    let mut url = "/v2/images?limit=2&sort=name:asc".to_string();
    let mut pages = 0;
    loop {
        let r = c.get(A, &url).await;
        assert_eq!(r.status, StatusCode::OK, "{url}: {}", r.text());
        seen.extend(names(&r));
        pages += 1;
        match r.body.get("next").and_then(|n| n.as_str()) {
            Some(n) => {
                assert!(
                    n.starts_with("/v2/images?limit=2&sort=name%3Aasc&marker="),
                    "{n}"
                );
                url = n.to_string();
            }
            None => break,
        }
        assert!(pages < 10);
    }
    assert_eq!(seen, ["a", "b", "c", "d", "e"]);
    assert_eq!(pages, 3);

    for bad in [
        "limit=-1",
        "limit=abc",
        "sort=size:sideways",
        "sort_key=owner",
        "visibility=secret",
        "member_status=maybe",
        "os_hidden=2",
        "marker=00000000-0000-0000-0000-000000000000",
        "size_min=x",
    ] {
        let r = c.get(A, &format!("/v2/images?{bad}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    // Hidden images are listed only when asked for.
    let r = c
        .patch(
            A,
            &ids[0],
            json!([{"op": "replace", "path": "/os_hidden", "value": true}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(names(&c.get(A, "/v2/images").await).len(), 4);
    assert_eq!(names(&c.get(A, "/v2/images?os_hidden=true").await), ["d"]);
}

#[tokio::test]
async fn json_patch_updates() {
    let c = cloud().await;
    let id = c.create_named(A, "before").await;
    let r = c
        .patch(
            A,
            &id,
            json!([
                {"op": "replace", "path": "/name", "value": "after"},
                {"op": "add", "path": "/os_distro", "value": "debian"},
                {"op": "add", "path": "/hw_disk_bus", "value": "virtio"},
                {"op": "replace", "path": "/tags", "value": ["x", "y"]},
                {"op": "replace", "path": "/min_disk", "value": 2},
                {"op": "remove", "path": "/hw_disk_bus"},
                {"op": "replace", "path": "/protected", "value": true},
            ]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.body["name"], "after");
    assert_eq!(r.body["os_distro"], "debian");
    assert!(r.body.get("hw_disk_bus").is_none());
    assert_eq!(r.body["tags"], json!(["x", "y"]));
    assert_eq!(r.body["min_disk"], 2);
    assert_eq!(r.body["protected"], true);

    // Draft 4 (v2.0) syntax too.
    let r = c
        .send(
            Method::PATCH,
            &format!("/v2/images/{id}"),
            Some(A),
            &[(
                "content-type",
                "application/openstack-images-v2.0-json-patch",
            )],
            Body::from(json!([{"replace": "/name", "value": "d4"}]).to_string()),
        )
        .await;
    assert_eq!(
        (r.status, r.body["name"].clone()),
        (StatusCode::OK, json!("d4"))
    );

    for (ops, status) in [
        (
            json!([{"op": "replace", "path": "/status", "value": "active"}]),
            StatusCode::FORBIDDEN,
        ),
        (
            json!([{"op": "replace", "path": "/id", "value": "x"}]),
            StatusCode::FORBIDDEN,
        ),
        (
            json!([{"op": "replace", "path": "/checksum", "value": "x"}]),
            StatusCode::FORBIDDEN,
        ),
        (
            json!([{"op": "add", "path": "/deleted", "value": "x"}]),
            StatusCode::FORBIDDEN,
        ),
        (
            json!([{"op": "remove", "path": "/name"}]),
            StatusCode::FORBIDDEN,
        ),
        (
            json!([{"op": "replace", "path": "/owner", "value": PROJECT_B}]),
            StatusCode::FORBIDDEN,
        ),
        (
            json!([{"op": "replace", "path": "/visibility", "value": "public"}]),
            StatusCode::FORBIDDEN,
        ),
        (
            json!([{"op": "replace", "path": "/nope", "value": "x"}]),
            StatusCode::CONFLICT,
        ),
        (
            json!([{"op": "remove", "path": "/nope"}]),
            StatusCode::CONFLICT,
        ),
        (
            json!([{"op": "replace", "path": "/min_ram", "value": "lots"}]),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!([{"op": "add", "path": "/k", "value": 1}]),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!([{"op": "add", "path": "/a/b", "value": "x"}]),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!([{"op": "move", "path": "/name"}]),
            StatusCode::BAD_REQUEST,
        ),
        (json!({"op": "add"}), StatusCode::BAD_REQUEST),
    ] {
        let r = c.patch(A, &id, ops.clone()).await;
        assert_eq!(r.status, status, "{ops}: {}", r.text());
    }
    // All or nothing: a failing op later in the list leaves the image as it was.
    let r = c
        .patch(
            A,
            &id,
            json!([{"op": "replace", "path": "/name", "value": "half"}, {"op": "remove", "path": "/nope"}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        c.get(A, &format!("/v2/images/{id}")).await.body["name"],
        "d4"
    );

    // Wrong media type: 415 with Accept-Patch.
    let r = c
        .call(
            Method::PATCH,
            &format!("/v2/images/{id}"),
            Some(A),
            Some(json!([{"op": "replace", "path": "/name", "value": "x"}])),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(
        r.header("accept-patch")
            .unwrap_or_default()
            .contains("v2.1-json-patch")
    );

    // Others: B cannot see A's shared image at all; the reader sees but cannot change it.
    let op = json!([{"op": "replace", "path": "/name", "value": "x"}]);
    assert_eq!(
        c.patch(B, &id, op.clone()).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        c.patch(A_READER, &id, op.clone()).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(c.patch(ADMIN, &id, op).await.status, StatusCode::OK);
    // An admin may publish and hand the image over.
    let r = c
        .patch(
            ADMIN,
            &id,
            json!([{"op": "replace", "path": "/visibility", "value": "public"}, {"op": "replace", "path": "/owner", "value": PROJECT_B}]),
        )
        .await;
    assert_eq!(
        (r.status, r.body["owner"].clone()),
        (StatusCode::OK, json!(PROJECT_B))
    );
}

#[tokio::test]
async fn delete_protected_and_visibility_of_errors() {
    let c = cloud().await;
    let id = c.create(A, json!({"name": "p", "protected": true})).await;
    let path = format!("/v2/images/{id}");
    let r = c.call(Method::DELETE, &path, Some(A), None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.text().contains("is protected"), "{}", r.text());
    // Others get 404, the reader 403.
    assert_eq!(
        c.call(Method::DELETE, &path, Some(B), None).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        c.call(Method::DELETE, &path, Some(A_READER), None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    c.patch(
        A,
        &id,
        json!([{"op": "replace", "path": "/protected", "value": false}]),
    )
    .await;
    assert_eq!(
        c.call(Method::DELETE, &path, Some(A), None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(c.get(A, &path).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        c.call(Method::DELETE, &path, Some(A), None).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        c.call(Method::DELETE, "/v2/images/", Some(A), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let r = c.call(Method::PUT, "/v2/images", Some(A), None).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn tags() {
    let c = cloud_with(|cfg| cfg.image_tag_quota = 2).await;
    let id = c.create_named(A, "t").await;
    let tag = |m: Method, t: &'static str, tok: &'static str| {
        let path = format!("/v2/images/{id}/tags/{t}");
        let c = &c;
        async move { c.call(m, &path, Some(tok), None).await.status }
    };
    assert_eq!(tag(Method::PUT, "one", A).await, StatusCode::NO_CONTENT);
    assert_eq!(tag(Method::PUT, "one", A).await, StatusCode::NO_CONTENT);
    assert_eq!(tag(Method::PUT, "two", A).await, StatusCode::NO_CONTENT);
    assert_eq!(
        tag(Method::PUT, "three", A).await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert_eq!(
        c.get(A, &format!("/v2/images/{id}")).await.body["tags"],
        json!(["one", "two"])
    );
    assert_eq!(tag(Method::DELETE, "one", A).await, StatusCode::NO_CONTENT);
    assert_eq!(tag(Method::DELETE, "one", A).await, StatusCode::NOT_FOUND);
    assert_eq!(tag(Method::PUT, "x", A_READER).await, StatusCode::FORBIDDEN);
    assert_eq!(tag(Method::PUT, "x", B).await, StatusCode::NOT_FOUND);
    let r = c
        .call(
            Method::PUT,
            "/v2/images/00000000-0000-0000-0000-000000000000/tags/x",
            Some(A),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn deactivate_and_reactivate() {
    let c = cloud().await;
    let id = c.create_named(A, "d").await;
    let act = |what: &'static str, tok: &'static str| {
        let path = format!("/v2/images/{id}/actions/{what}");
        let c = &c;
        async move { c.call(Method::POST, &path, Some(tok), None).await.status }
    };
    // Only active images can be deactivated.
    assert_eq!(act("deactivate", A).await, StatusCode::FORBIDDEN);
    assert_eq!(
        c.upload(A, &id, b"data".to_vec()).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(act("deactivate", A_READER).await, StatusCode::FORBIDDEN);
    assert_eq!(act("deactivate", B).await, StatusCode::NOT_FOUND);
    assert_eq!(act("deactivate", A).await, StatusCode::NO_CONTENT);
    assert_eq!(act("deactivate", A).await, StatusCode::NO_CONTENT);
    assert_eq!(
        c.get(A, &format!("/v2/images/{id}")).await.body["status"],
        "deactivated"
    );
    // Deactivated data is for admins only.
    let file = format!("/v2/images/{id}/file");
    assert_eq!(c.get(A, &file).await.status, StatusCode::FORBIDDEN);
    assert_eq!(c.get(ADMIN, &file).await.raw, b"data");
    assert_eq!(act("reactivate", A).await, StatusCode::NO_CONTENT);
    assert_eq!(act("reactivate", A).await, StatusCode::NO_CONTENT);
    assert_eq!(c.get(A, &file).await.raw, b"data");
    let queued = c.create_named(A, "q").await;
    let r = c
        .call(
            Method::POST,
            &format!("/v2/images/{queued}/actions/reactivate"),
            Some(A),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn schemas_and_info() {
    let c = cloud().await;
    for (path, name) in [
        ("/v2/schemas/image", "image"),
        ("/v2/schemas/images", "images"),
        ("/v2/schemas/member", "member"),
        ("/v2/schemas/members", "members"),
    ] {
        let r = c.get(A, path).await;
        assert_eq!(
            (r.status, r.body["name"].clone()),
            (StatusCode::OK, json!(name)),
            "{path}"
        );
    }
    let r = c.get(A, "/v2/schemas/image").await;
    assert_eq!(r.body["additionalProperties"]["type"], "string");
    assert_eq!(r.body["properties"]["status"]["readOnly"], true);
    assert_eq!(
        c.call(Method::GET, "/v2/schemas/image", None, None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );

    let r = c.get(A, "/v2/info/import").await;
    assert_eq!(r.body["import-methods"]["value"], json!(["glance-direct"]));
    let r = c.get(A, "/v2/info/stores").await;
    assert_eq!(r.body["stores"][0]["id"], "file");
    assert_eq!(r.body["stores"][0]["default"], true);
    let id = c.create_named(A, "u").await;
    c.upload(A, &id, vec![7u8; 3 << 20]).await;
    let r = c.get(A, "/v2/info/usage").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body["usage"]["image_count_total"],
        json!({"limit": -1, "usage": 1})
    );
    assert_eq!(
        r.body["usage"]["image_size_total"],
        json!({"limit": -1, "usage": 3})
    );
}

#[tokio::test]
async fn image_count_quota() {
    let c = cloud_with(|cfg| cfg.quota_image_count_total = 1).await;
    c.create_named(A, "one").await;
    let r = c
        .call(
            Method::POST,
            "/v2/images",
            Some(A),
            Some(json!({"name": "two"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text());
    // Another project has its own count.
    c.create_named(B, "one").await;
}
