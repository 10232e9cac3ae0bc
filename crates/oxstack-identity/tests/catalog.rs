//! Regions, services and endpoints through the HTTP API.

mod common;
mod member;

use axum::http::{Method, StatusCode};
use common::cloud;
use serde_json::{Value, json};

async fn make_service(c: &common::TestCloud, ty: &str) -> String {
    let r = c
        .admin(
            Method::POST,
            "/v3/services",
            Some(json!({"service": {"type": ty, "name": format!("{ty}-svc"), "description": "d"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    r.body["service"]["id"].as_str().expect("id").to_string()
}

fn ids(body: &Value, key: &str) -> Vec<String> {
    body[key]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|x| x["id"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn region_crud_hierarchy_and_filters() {
    let c = cloud().await;
    let r = c
        .admin(Method::POST, "/v3/regions", Some(json!({"region": {}})))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let parent = r.body["region"].clone();
    let parent_id = parent["id"].as_str().expect("id").to_string();
    assert_eq!(parent_id.len(), 32, "a generated id");
    assert_eq!(parent["description"], "");
    assert_eq!(parent["parent_region_id"], Value::Null);
    assert_eq!(
        parent["links"]["self"],
        format!("{}/v3/regions/{parent_id}", common::URL)
    );
    // Listing shows exactly what create returned (Tempest compares the dicts).
    let r = c.admin(Method::GET, "/v3/regions", None).await;
    assert!(
        r.body["regions"]
            .as_array()
            .expect("list")
            .contains(&parent)
    );

    let r = c
        .admin(
            Method::POST,
            "/v3/regions",
            Some(json!({"region": {"id": "child", "description": "c", "parent_region_id": parent_id}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["region"]["id"], "child");
    let r = c
        .admin(
            Method::PUT,
            "/v3/regions/grandchild",
            Some(json!({"region": {"parent_region_id": "child"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["region"]["id"], "grandchild");

    let r = c
        .admin(
            Method::GET,
            &format!("/v3/regions?parent_region_id={parent_id}"),
            None,
        )
        .await;
    assert_eq!(ids(&r.body, "regions"), ["child"]);

    // Duplicates, conflicting ids, unknown parents, cycles.
    let r = c
        .admin(
            Method::PUT,
            "/v3/regions/child",
            Some(json!({"region": {}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = c
        .admin(
            Method::PUT,
            "/v3/regions/a",
            Some(json!({"region": {"id": "b"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = c
        .admin(
            Method::POST,
            "/v3/regions",
            Some(json!({"region": {"parent_region_id": "nowhere"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.body["error"]["message"],
        "Could not find region: nowhere."
    );
    let r = c
        .admin(
            Method::PATCH,
            &format!("/v3/regions/{parent_id}"),
            Some(json!({"region": {"parent_region_id": "grandchild"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "a cycle: {:?}", r.body);

    let r = c
        .admin(
            Method::PATCH,
            "/v3/regions/child",
            Some(json!({"region": {"description": "new", "parent_region_id": null}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["region"]["description"], "new");
    assert_eq!(r.body["region"]["parent_region_id"], Value::Null);
    let r = c
        .admin(
            Method::PATCH,
            "/v3/regions/child",
            Some(json!({"region": {}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // Deleting a region deletes the regions below it.
    let r = c.admin(Method::DELETE, "/v3/regions/child", None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = c.admin(Method::GET, "/v3/regions/grandchild", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = c.admin(Method::DELETE, "/v3/regions/child", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn region_with_endpoints_below_it_cannot_be_deleted() {
    let c = cloud().await;
    c.admin(Method::PUT, "/v3/regions/top", Some(json!({"region": {}})))
        .await;
    c.admin(
        Method::PUT,
        "/v3/regions/leaf",
        Some(json!({"region": {"parent_region_id": "top"}})),
    )
    .await;
    let svc = make_service(&c, "compute").await;
    let r = c
        .admin(
            Method::POST,
            "/v3/endpoints",
            Some(json!({"endpoint": {"service_id": svc, "interface": "public", "url": "http://x:1", "region_id": "leaf"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let r = c.admin(Method::DELETE, "/v3/regions/top", None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        r.body["error"]["message"],
        "Unable to delete region top because it or its child regions have associated endpoints."
    );
}

#[tokio::test]
async fn service_crud_and_filters() {
    let c = cloud().await;
    let id = make_service(&c, "compute").await;
    let r = c
        .admin(Method::GET, &format!("/v3/services/{id}"), None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let s = &r.body["service"];
    assert_eq!(
        (
            s["type"].clone(),
            s["name"].clone(),
            s["description"].clone(),
            s["enabled"].clone()
        ),
        (
            json!("compute"),
            json!("compute-svc"),
            json!("d"),
            json!(true)
        )
    );
    let r = c
        .admin(
            Method::POST,
            "/v3/services",
            Some(json!({"service": {"type": "image"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.body["service"]["name"], "", "name defaults to empty");

    let r = c
        .admin(Method::GET, "/v3/services?type=compute", None)
        .await;
    assert_eq!(ids(&r.body, "services"), [id.as_str()]);
    let r = c
        .admin(Method::GET, "/v3/services?name=compute-svc", None)
        .await;
    assert_eq!(ids(&r.body, "services"), [id.as_str()]);

    let r = c
        .admin(
            Method::PATCH,
            &format!("/v3/services/{id}"),
            Some(json!({"service": {"description": "d2", "enabled": false}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["service"]["description"], "d2");
    assert_eq!(r.body["service"]["enabled"], false);

    for bad in [
        json!({"service": {"name": "no type"}}),
        json!({"service": {"type": ""}}),
        json!({"service": {"type": "x", "enabled": "True"}}),
    ] {
        let r = c
            .admin(Method::POST, "/v3/services", Some(bad.clone()))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    let r = c
        .admin(
            Method::PATCH,
            &format!("/v3/services/{id}"),
            Some(json!({"service": {"id": "other"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = c.admin(Method::GET, "/v3/services/nope", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["error"]["message"], "Could not find service: nope.");
}

#[tokio::test]
async fn deleting_a_service_removes_its_endpoints() {
    let c = cloud().await;
    let svc = make_service(&c, "volume").await;
    let r = c
        .admin(
            Method::POST,
            "/v3/endpoints",
            Some(json!({"endpoint": {"service_id": svc, "interface": "internal", "url": "http://v:8776"}})),
        )
        .await;
    let ep = r.body["endpoint"]["id"].as_str().expect("id").to_string();
    let r = c
        .admin(Method::DELETE, &format!("/v3/services/{svc}"), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = c
        .admin(Method::GET, &format!("/v3/endpoints/{ep}"), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = c
        .admin(Method::DELETE, &format!("/v3/services/{svc}"), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn endpoint_crud_legacy_region_and_validation() {
    let c = cloud().await;
    let svc = make_service(&c, "network").await;
    let svc2 = make_service(&c, "dns").await;
    // The legacy `region` creates its region, as Keystone does for v2-style clients.
    let r = c
        .admin(
            Method::POST,
            "/v3/endpoints",
            Some(json!({"endpoint": {"service_id": svc, "interface": "public", "url": "http://n:9696", "region": "r-legacy", "enabled": true}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let ep = r.body["endpoint"].clone();
    let id = ep["id"].as_str().expect("id").to_string();
    assert_eq!(ep["region"], "r-legacy");
    assert_eq!(ep["region_id"], "r-legacy");
    let r = c.admin(Method::GET, "/v3/regions/r-legacy", None).await;
    assert_eq!(r.status, StatusCode::OK);

    let r = c
        .admin(
            Method::GET,
            &format!("/v3/endpoints?service_id={svc}"),
            None,
        )
        .await;
    assert_eq!(ids(&r.body, "endpoints"), [id.as_str()]);
    let r = c
        .admin(
            Method::GET,
            "/v3/endpoints?interface=public&region_id=r-legacy",
            None,
        )
        .await;
    assert_eq!(ids(&r.body, "endpoints"), [id.as_str()]);
    let r = c
        .admin(Method::GET, "/v3/endpoints?interface=sideways", None)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    let r = c
        .admin(
            Method::PATCH,
            &format!("/v3/endpoints/{id}"),
            Some(json!({"endpoint": {"service_id": svc2, "interface": "internal", "url": "http://n2:9696", "region": "r2", "enabled": false}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let e = &r.body["endpoint"];
    assert_eq!(
        (
            e["service_id"].clone(),
            e["interface"].clone(),
            e["url"].clone(),
            e["region"].clone(),
            e["enabled"].clone()
        ),
        (
            json!(svc2),
            json!("internal"),
            json!("http://n2:9696"),
            json!("r2"),
            json!(false)
        )
    );

    let base = json!({"service_id": svc, "interface": "public", "url": "http://ok:1"});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        json!({ "endpoint": b })
    };
    for (bad, status) in [
        (with("enabled", json!("False")), StatusCode::BAD_REQUEST),
        (with("enabled", json!("True")), StatusCode::BAD_REQUEST),
        (with("interface", json!("outer")), StatusCode::BAD_REQUEST),
        (with("url", json!("no-scheme")), StatusCode::BAD_REQUEST),
        (
            with("service_id", json!("missing")),
            StatusCode::BAD_REQUEST,
        ),
        (with("region_id", json!("missing")), StatusCode::BAD_REQUEST),
        (
            json!({"endpoint": {"service_id": svc, "interface": "public"}}),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let r = c
            .admin(Method::POST, "/v3/endpoints", Some(bad.clone()))
            .await;
        assert_eq!(r.status, status, "{bad}: {:?}", r.body);
    }
    let r = c
        .admin(
            Method::PATCH,
            &format!("/v3/endpoints/{id}"),
            Some(json!({"endpoint": {"enabled": "True"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    let r = c
        .admin(Method::DELETE, &format!("/v3/endpoints/{id}"), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = c
        .admin(Method::GET, &format!("/v3/endpoints/{id}"), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.body["error"]["message"],
        format!("Could not find endpoint: {id}.")
    );
}

#[tokio::test]
async fn new_endpoints_appear_in_the_token_catalog() {
    let c = cloud().await;
    let svc = make_service(&c, "compute").await;
    c.admin(
        Method::POST,
        "/v3/endpoints",
        Some(json!({"endpoint": {"service_id": svc, "interface": "public", "url": "http://nova:8774/v2.1", "region_id": "RegionOne"}})),
    )
    .await;
    let r = c.admin(Method::GET, "/v3/auth/catalog", None).await;
    let compute = r.body["catalog"]
        .as_array()
        .expect("catalog")
        .iter()
        .find(|s| s["type"] == "compute")
        .cloned()
        .expect("compute in catalog");
    assert_eq!(compute["endpoints"][0]["url"], "http://nova:8774/v2.1");
}

#[tokio::test]
async fn members_read_regions_only_and_anonymous_is_401() {
    let c = cloud().await;
    let m = member::member(&c, "alice", &["member"]).await;
    let t = Some(m.token.as_str());
    let r = c.call(Method::GET, "/v3/regions", t, None).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = c.call(Method::GET, "/v3/regions/RegionOne", t, None).await;
    assert_eq!(r.status, StatusCode::OK);
    for (method, path, body) in [
        (Method::POST, "/v3/regions", Some(json!({"region": {}}))),
        (Method::PUT, "/v3/regions/x", Some(json!({"region": {}}))),
        (Method::DELETE, "/v3/regions/RegionOne", None),
        (Method::GET, "/v3/services", None),
        (
            Method::POST,
            "/v3/services",
            Some(json!({"service": {"type": "x"}})),
        ),
        (Method::GET, "/v3/endpoints", None),
        (Method::POST, "/v3/endpoints", Some(json!({"endpoint": {}}))),
    ] {
        let r = c.call(method.clone(), path, t, body.clone()).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{method} {path}");
        let r = c.call(method.clone(), path, None, body).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{method} {path}");
    }
}

#[tokio::test]
async fn validated_token_bodies_follow_catalog_changes() {
    let c = common::cloud().await;
    let subject = c
        .password_token(
            "admin",
            common::ADMIN_PASSWORD,
            Some(serde_json::json!({"project": {"name": "admin", "domain": {"id": "default"}}})),
        )
        .await;
    let hdr = [("x-subject-token", subject.as_str())];
    let before = c
        .call_with(
            axum::http::Method::GET,
            "/v3/auth/tokens",
            Some(&c.admin_token),
            None,
            &hdr,
        )
        .await;
    assert_eq!(
        before.body["token"]["catalog"].as_array().map(Vec::len),
        Some(1)
    );
    let r = c
        .admin(
            axum::http::Method::POST,
            "/v3/services",
            Some(serde_json::json!({"service": {"type": "image", "name": "glance"}})),
        )
        .await;
    assert_eq!(r.status, axum::http::StatusCode::CREATED);
    let after = c
        .call_with(
            axum::http::Method::GET,
            "/v3/auth/tokens",
            Some(&c.admin_token),
            None,
            &hdr,
        )
        .await;
    assert_eq!(
        after.body["token"]["catalog"].as_array().map(Vec::len),
        Some(2),
        "no stale cached catalog"
    );
}
