//! API tests of Nova's image proxy (`/images`, up to 2.35) and createImage's metadata.

mod common;

use axum::http::{Method, StatusCode};
use common::*;
use serde_json::json;

#[tokio::test]
async fn the_image_proxy_lists_shows_and_deletes_snapshots() {
    let c = cloud().await;
    c.flavor("1", 1, 512).await;
    let id = c.server(MEMBER, "vm1", "1").await;
    c.wait(&id, "ACTIVE").await;
    let r = c
        .post(
            &format!("/v2.1/servers/{id}/action"),
            MEMBER,
            json!({"createImage": {"name": "snap", "metadata": {"k": "v"}}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let location = r.headers["location"].to_str().expect("location");
    let snap = location.rsplit('/').next().expect("id").to_string();
    c.wait(&id, "ACTIVE").await;

    // Brief and detailed lists; the server filter takes an id or a link.
    let r = c.get("/v2.1/images", MEMBER).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["images"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        r.body["images"][0].as_object().map(|o| o.len()),
        Some(3),
        "{:?}",
        r.body
    );
    let r = c
        .get(
            &format!("/v2.1/images/detail?server=http://x/v2.1/servers/{id}"),
            MEMBER,
        )
        .await;
    let images = r.body["images"].as_array().expect("images");
    assert_eq!(images.len(), 1, "{:?}", r.body);
    let i = &images[0];
    assert_eq!(
        (
            i["id"].as_str(),
            i["status"].as_str(),
            i["progress"].as_i64()
        ),
        (Some(snap.as_str()), Some("ACTIVE"), Some(100))
    );
    assert_eq!(i["server"]["id"], id.as_str());
    assert_eq!(i["metadata"]["k"], "v");
    assert_eq!(i["metadata"]["image_type"], "snapshot");
    assert_eq!(i["links"][2]["rel"], "alternate");
    let r = c.get("/v2.1/images?type=snapshot&limit=1", MEMBER).await;
    assert_eq!(r.body["images"].as_array().map(Vec::len), Some(1));
    assert_eq!(r.body["images_links"][0]["rel"], "next");
    let r = c.get("/v2.1/images?limit=x", MEMBER).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // Metadata: merge, replace one item, read, delete.
    let meta = format!("/v2.1/images/{snap}/metadata");
    let r = c.post(&meta, MEMBER, json!({"metadata": {"a": "1"}})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        (
            r.body["metadata"]["a"].as_str(),
            r.body["metadata"]["k"].as_str()
        ),
        (Some("1"), Some("v"))
    );
    let r = c
        .call(
            Method::PUT,
            &format!("{meta}/a"),
            Some(MEMBER),
            Some(json!({"meta": {"a": "2"}})),
            None,
        )
        .await;
    assert_eq!(r.body, json!({"meta": {"a": "2"}}));
    let r = c
        .call(
            Method::PUT,
            &format!("{meta}/a"),
            Some(MEMBER),
            Some(json!({"meta": {"b": "2"}})),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = c.get(&format!("{meta}/a"), MEMBER).await;
    assert_eq!(r.body, json!({"meta": {"a": "2"}}));
    let r = c
        .call(
            Method::DELETE,
            &format!("{meta}/a"),
            Some(MEMBER),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    for path in [format!("{meta}/a"), format!("{meta}/nope")] {
        let r = c
            .call(Method::DELETE, &path, Some(MEMBER), None, None)
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
    }
    let r = c
        .call(
            Method::PUT,
            &meta,
            Some(MEMBER),
            Some(json!({"metadata": {"only": "x"}})),
            None,
        )
        .await;
    assert_eq!(r.body, json!({"metadata": {"only": "x"}}));

    // Removed at 2.36.
    let r = c
        .call(
            Method::GET,
            "/v2.1/images",
            Some(MEMBER),
            None,
            Some("2.36"),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // Delete; then it is gone.
    let path = format!("/v2.1/images/{snap}");
    let r = c
        .call(Method::DELETE, &path, Some(MEMBER), None, None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    for m in [Method::GET, Method::DELETE] {
        let r = c.call(m, &path, Some(MEMBER), None, None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert_eq!(r.body["itemNotFound"]["message"], "Image not found.");
    }
}

#[tokio::test]
async fn create_image_refuses_bad_metadata() {
    let c = cloud().await;
    c.flavor("1", 1, 512).await;
    let id = c.server(MEMBER, "vm1", "1").await;
    c.wait(&id, "ACTIVE").await;
    for meta in [
        json!({"": ""}),
        json!({"a".repeat(260): "b"}),
        json!({"k": "v".repeat(256)}),
        json!({"k": 1}),
        json!("flat"),
    ] {
        let r = c
            .post(
                &format!("/v2.1/servers/{id}/action"),
                MEMBER,
                json!({"createImage": {"name": "snap", "metadata": meta}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{meta}: {:?}", r.body);
    }
    let r = c.get(&format!("/v2.1/servers/{id}"), MEMBER).await;
    assert!(r.body["server"]["OS-EXT-STS:task_state"].is_null());
}

#[tokio::test]
async fn create_backup_keeps_the_newest_of_its_type() {
    let c = cloud().await;
    c.flavor("1", 1, 512).await;
    let id = c.server(MEMBER, "vm1", "1").await;
    c.wait(&id, "ACTIVE").await;
    let path = format!("/v2.1/servers/{id}/action");
    let mut made = Vec::new();
    for n in 0..3 {
        let r = c
            .call(
                Method::POST,
                &path,
                Some(MEMBER),
                Some(json!({"createBackup": {"name": format!("b{n}"), "backup_type": "daily", "rotation": 2}})),
                Some("2.45"),
            )
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
        made.push(r.body["image_id"].as_str().expect("image_id").to_string());
        c.wait(&id, "ACTIVE").await;
    }
    let r = c
        .get(
            &format!("/v2.1/images/detail?server={id}&type=backup"),
            MEMBER,
        )
        .await;
    let mut left: Vec<String> = r.body["images"]
        .as_array()
        .expect("images")
        .iter()
        .map(|i| i["id"].as_str().unwrap_or_default().to_string())
        .collect();
    left.sort();
    let mut newest = made[1..].to_vec();
    newest.sort();
    assert_eq!(left, newest);
    for bad in [
        json!({"name": "b", "backup_type": "daily"}),
        json!({"name": "b", "backup_type": "daily", "rotation": -1}),
        json!({"name": "", "backup_type": "daily", "rotation": 1}),
        json!({"name": "b", "rotation": 1}),
    ] {
        let r = c.post(&path, MEMBER, json!({ "createBackup": bad })).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test]
async fn server_password_external_events_and_extensions() {
    let c = cloud().await;
    c.flavor("1", 1, 512).await;
    let id = c.server(MEMBER, "vm1", "1").await;
    c.wait(&id, "ACTIVE").await;
    let path = format!("/v2.1/servers/{id}/os-server-password");
    let r = c.get(&path, MEMBER).await;
    assert_eq!(r.body, json!({"password": ""}));
    let r = c
        .call(Method::DELETE, &path, Some(MEMBER), None, None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = c.get(&path, OTHER).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let ev = |server: &str| json!({"name": "network-changed", "server_uuid": server});
    let missing = "00000000-0000-0000-0000-000000000000";
    let r = c
        .post(
            "/v2.1/os-server-external-events",
            ADMIN,
            json!({"events": [ev(&id)]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["events"][0]["code"], 200);
    let r = c
        .post(
            "/v2.1/os-server-external-events",
            ADMIN,
            json!({"events": [ev(&id), ev(missing)]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::MULTI_STATUS);
    assert_eq!(
        (
            r.body["events"][1]["code"].as_i64(),
            r.body["events"][1]["status"].as_str()
        ),
        (Some(404), Some("failed"))
    );
    let r = c
        .post(
            "/v2.1/os-server-external-events",
            ADMIN,
            json!({"events": [ev(missing)]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = c
        .post(
            "/v2.1/os-server-external-events",
            MEMBER,
            json!({"events": [ev(&id)]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = c
        .post(
            "/v2.1/os-server-external-events",
            ADMIN,
            json!({"events": [{"name": "nope", "server_uuid": id}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    let r = c.get("/v2.1/extensions", READER).await;
    assert!(
        r.body["extensions"]
            .as_array()
            .is_some_and(|e| e.iter().any(|x| x["name"] == "Hosts"))
    );
    let r = c.get("/v2.1/extensions/os-consoles", READER).await;
    assert_eq!(r.body["extension"]["alias"], "os-consoles");
    let r = c.get("/v2.1/extensions/nope", READER).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}
