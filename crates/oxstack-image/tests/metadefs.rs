//! Metadata definitions over HTTP: namespaces with their objects, properties, tags and
//! resource type associations, the schemas, and who may see and change what.

mod common;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use common::*;
use serde_json::{Value, json};

const NS: &str = "/v2/metadefs/namespaces";

async fn post(c: &TestCloud, tok: &str, path: &str, body: Value) -> Resp {
    c.call(Method::POST, path, Some(tok), Some(body)).await
}

async fn put(c: &TestCloud, tok: &str, path: &str, body: Value) -> Resp {
    c.call(Method::PUT, path, Some(tok), Some(body)).await
}

async fn del(c: &TestCloud, tok: &str, path: &str) -> StatusCode {
    c.call(Method::DELETE, path, Some(tok), None).await.status
}

/// Creates namespace `name` as the admin; panics unless 201.
async fn namespace(c: &TestCloud, name: &str, extra: Value) -> Value {
    let mut body = json!({"namespace": name, "visibility": "public"});
    if let (Some(b), Value::Object(e)) = (body.as_object_mut(), extra) {
        b.extend(e);
    }
    let r = post(c, ADMIN, NS, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    r.body
}

#[tokio::test]
async fn namespace_lifecycle_as_tempest_drives_it() {
    let c = cloud().await;
    let types = c.get(ADMIN, "/v2/metadefs/resource_types").await;
    assert_eq!(types.status, StatusCode::OK);
    let first = types.body["resource_types"][0]["name"]
        .as_str()
        .expect("a seeded resource type")
        .to_string();
    assert!(types.body["resource_types"][0]["created_at"].is_string());

    let r = post(
        &c,
        ADMIN,
        NS,
        json!({"namespace": "ns1", "visibility": "public", "description": "Tempest",
               "display_name": "ns1", "protected": true,
               "resource_type_associations": [{"name": first}]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.header("location"), Some("/v2/metadefs/namespaces/ns1"));
    assert_eq!(r.body["self"], "/v2/metadefs/namespaces/ns1");
    assert_eq!(r.body["schema"], "/v2/schemas/metadefs/namespace");
    assert_eq!(r.body["owner"], PROJECT_ADMIN);
    assert_eq!(r.body["resource_type_associations"][0]["name"], first);

    let list = c.get(ADMIN, NS).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.body["namespaces"][0]["namespace"], "ns1");
    assert_eq!(list.body["first"], NS);
    assert_eq!(list.body["schema"], "/v2/schemas/metadefs/namespaces");

    let show = c.get(ADMIN, &format!("{NS}/ns1")).await;
    assert_eq!(show.body["visibility"], "public");
    assert_eq!(show.body["protected"], true);

    // Protected: no deletion, of it or of its contents.
    assert_eq!(
        del(&c, ADMIN, &format!("{NS}/ns1")).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        del(&c, ADMIN, &format!("{NS}/ns1/tags")).await,
        StatusCode::FORBIDDEN
    );

    let upd = put(
        &c,
        ADMIN,
        &format!("{NS}/ns1"),
        json!({"namespace": "ns1", "description": "Tempest", "visibility": "private",
               "display_name": "ns1", "protected": false}),
    )
    .await;
    assert_eq!(upd.status, StatusCode::OK, "{}", upd.text());
    assert_eq!(upd.body["visibility"], "private");
    assert_eq!(upd.body["protected"], false);

    assert_eq!(
        del(&c, ADMIN, &format!("{NS}/ns1")).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        c.get(ADMIN, &format!("{NS}/ns1")).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn namespace_bodies_are_checked() {
    let c = cloud().await;
    for (body, status) in [
        (json!({"display_name": "x"}), StatusCode::BAD_REQUEST),
        (
            json!({"namespace": "x", "visibility": "shared"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"namespace": "x", "unknown": 1}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"namespace": "x", "self": "/x"}),
            StatusCode::FORBIDDEN,
        ),
        (
            json!({"namespace": "x", "properties": {"p": {"title": "P"}}}),
            StatusCode::BAD_REQUEST,
        ),
        (json!(["x"]), StatusCode::BAD_REQUEST),
    ] {
        let r = post(&c, ADMIN, NS, body.clone()).await;
        assert_eq!(r.status, status, "{body}: {}", r.text());
    }
    let r = c
        .send(
            Method::POST,
            NS,
            Some(ADMIN),
            &[("content-type", "application/json")],
            Body::empty(),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    namespace(&c, "dup", json!({})).await;
    assert_eq!(
        post(&c, ADMIN, NS, json!({"namespace": "dup"}))
            .await
            .status,
        StatusCode::CONFLICT
    );
    // Renaming onto another name is a conflict too.
    namespace(&c, "other", json!({})).await;
    assert_eq!(
        put(
            &c,
            ADMIN,
            &format!("{NS}/other"),
            json!({"namespace": "dup"})
        )
        .await
        .status,
        StatusCode::CONFLICT
    );
    // A namespace created with contents shows them.
    namespace(
        &c,
        "full",
        json!({
            "properties": {"p1": {"title": "P1", "type": "string"}},
            "objects": [{"name": "o1", "properties": {"q": {"title": "Q", "type": "integer"}}}],
            "tags": [{"name": "t1"}],
            "resource_type_associations": [{"name": "OS::Nova::Flavor", "prefix": "hw:"}],
        }),
    )
    .await;
    let show = c.get(ADMIN, &format!("{NS}/full")).await;
    assert_eq!(show.body["properties"]["p1"]["title"], "P1");
    assert_eq!(show.body["objects"][0]["name"], "o1");
    assert_eq!(show.body["tags"], json!([{"name": "t1"}]));
    let prefixed = c
        .get(ADMIN, &format!("{NS}/full?resource_type=OS::Nova::Flavor"))
        .await;
    assert_eq!(prefixed.body["properties"]["hw:p1"]["title"], "P1");
    assert!(prefixed.body["objects"][0]["properties"]["hw:q"].is_object());
    let prop = c
        .get(
            ADMIN,
            &format!("{NS}/full/properties/hw:p1?resource_type=OS::Nova::Flavor"),
        )
        .await;
    assert_eq!(prop.status, StatusCode::OK, "{}", prop.text());
    assert_eq!(prop.body["name"], "p1");
    let bad_prefix = c
        .get(
            ADMIN,
            &format!("{NS}/full/properties/p1?resource_type=OS::Nova::Flavor"),
        )
        .await;
    assert_eq!(bad_prefix.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn list_filters_pages_and_validates() {
    let c = cloud().await;
    for n in ["a", "b", "c"] {
        namespace(&c, n, json!({})).await;
    }
    namespace(
        &c,
        "p",
        json!({"visibility": "private", "resource_type_associations": [{"name": "OS::Cinder::Volume"}]}),
    )
    .await;
    let names = |r: &Resp| -> Vec<String> {
        r.body["namespaces"]
            .as_array()
            .expect("list")
            .iter()
            .map(|n| n["namespace"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    let page = c
        .get(
            ADMIN,
            &format!("{NS}?limit=2&sort_key=namespace&sort_dir=asc"),
        )
        .await;
    assert_eq!(names(&page), ["a", "b"]);
    let next = page.body["next"].as_str().expect("next link");
    assert!(next.contains("marker=b"), "{next}");
    let rest = c.get(ADMIN, next).await;
    assert_eq!(names(&rest), ["c", "p"]);
    let private = c.get(ADMIN, &format!("{NS}?visibility=private")).await;
    assert_eq!(names(&private), ["p"]);
    let by_type = c
        .get(ADMIN, &format!("{NS}?resource_types=OS::Cinder::Volume"))
        .await;
    assert_eq!(names(&by_type), ["p"]);
    assert_eq!(
        by_type.body["namespaces"][0]["resource_type_associations"][0]["name"],
        "OS::Cinder::Volume"
    );
    for q in [
        "visibility=shared",
        "sort_dir=up",
        "sort_key=bogus",
        "limit=x",
        "limit=-1",
    ] {
        assert_eq!(
            c.get(ADMIN, &format!("{NS}?{q}")).await.status,
            StatusCode::BAD_REQUEST,
            "{q}"
        );
    }
    assert_eq!(
        c.get(ADMIN, &format!("{NS}?marker=nope")).await.status,
        StatusCode::NOT_FOUND
    );
    // Another project sees public namespaces only.
    assert_eq!(names(&c.get(B, NS).await).len(), 3);
}

#[tokio::test]
async fn objects() {
    let c = cloud().await;
    namespace(&c, "ns", json!({})).await;
    let base = format!("{NS}/ns/objects");
    let r = post(
        &c,
        ADMIN,
        &base,
        json!({"name": "obj", "description": "d", "required": ["p"],
               "properties": {"p": {"title": "P", "type": "string"}}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.body["self"], "/v2/metadefs/namespaces/ns/objects/obj");
    assert_eq!(r.body["schema"], "/v2/schemas/metadefs/object");
    assert_eq!(
        post(&c, ADMIN, &base, json!({"name": "obj"})).await.status,
        StatusCode::CONFLICT
    );
    for bad in [
        json!({}),
        json!({"name": "x", "properties": {"p": {"type": "string"}}}),
        json!({"name": "x", "required": "p"}),
        json!({"name": "x", "extra": 1}),
    ] {
        assert_eq!(
            post(&c, ADMIN, &base, bad.clone()).await.status,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
    assert_eq!(
        post(&c, ADMIN, &base, json!({"name": "x", "created_at": "now"}))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let list = c.get(ADMIN, &base).await;
    assert_eq!(list.body["objects"][0]["name"], "obj");
    assert_eq!(list.body["schema"], "v2/schemas/metadefs/objects");
    let upd = put(
        &c,
        ADMIN,
        &format!("{base}/obj"),
        json!({"name": "renamed"}),
    )
    .await;
    assert_eq!(upd.status, StatusCode::OK, "{}", upd.text());
    assert_eq!(upd.body["name"], "renamed");
    assert!(upd.body.get("description").is_none());
    assert_eq!(
        c.get(ADMIN, &format!("{base}/obj")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        c.get(ADMIN, &format!("{base}/renamed")).await.body["name"],
        "renamed"
    );
    assert_eq!(
        del(&c, ADMIN, &format!("{base}/renamed")).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        del(&c, ADMIN, &format!("{base}/renamed")).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        c.get(ADMIN, &format!("{NS}/nope/objects")).await.status,
        StatusCode::NOT_FOUND
    );
    post(&c, ADMIN, &base, json!({"name": "o2"})).await;
    assert_eq!(del(&c, ADMIN, &base).await, StatusCode::NO_CONTENT);
    assert_eq!(c.get(ADMIN, &base).await.body["objects"], json!([]));
}

#[tokio::test]
async fn properties() {
    let c = cloud().await;
    namespace(&c, "ns", json!({})).await;
    let base = format!("{NS}/ns/properties");
    let enum_ = json!(["xen", "kvm"]);
    let r = post(
        &c,
        ADMIN,
        &base,
        json!({"name": "OS::Glance::Image", "title": "t1", "type": "string", "enum": enum_}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.body["title"], "t1");
    assert_eq!(r.body["name"], "OS::Glance::Image");
    assert_eq!(
        post(
            &c,
            ADMIN,
            &base,
            json!({"name": "OS::Glance::Image", "title": "t", "type": "string"})
        )
        .await
        .status,
        StatusCode::CONFLICT
    );
    for bad in [
        json!({"title": "t", "type": "string"}),
        json!({"name": "n", "type": "string"}),
        json!({"name": "n", "title": "t", "type": "text"}),
        json!({"name": "n", "title": "t", "type": "string", "confidential": true}),
    ] {
        assert_eq!(
            post(&c, ADMIN, &base, bad.clone()).await.status,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
    let path = format!("{base}/OS::Glance::Image");
    let show = c.get(ADMIN, &path).await;
    assert_eq!(show.body["name"], "OS::Glance::Image");
    let upd = put(
        &c,
        ADMIN,
        &path,
        json!({"name": "OS::Glance::Image", "title": "t2", "type": "string", "enum": enum_}),
    )
    .await;
    assert_eq!(upd.status, StatusCode::OK, "{}", upd.text());
    assert_eq!(upd.body["title"], "t2");
    let list = c.get(ADMIN, &base).await;
    assert_eq!(list.body["properties"]["OS::Glance::Image"]["title"], "t2");
    assert_eq!(del(&c, ADMIN, &path).await, StatusCode::NO_CONTENT);
    assert_eq!(c.get(ADMIN, &base).await.body["properties"], json!({}));
    assert_eq!(del(&c, ADMIN, &path).await, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn tags() {
    let c = cloud().await;
    namespace(&c, "ns", json!({})).await;
    let base = format!("{NS}/ns/tags");
    let r = post(
        &c,
        ADMIN,
        &base,
        json!({"tags": [{"name": "t1"}, {"name": "t2"}, {"name": "t3"}]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.body["tags"].as_array().map(Vec::len), Some(3));
    // Without X-Openstack-Append the set is replaced; with it, added to.
    post(&c, ADMIN, &base, json!({"tags": [{"name": "t4"}]})).await;
    assert_eq!(
        c.get(ADMIN, &base).await.body["tags"],
        json!([{"name": "t4"}])
    );
    let appended = c
        .send(
            Method::POST,
            &base,
            Some(ADMIN),
            &[
                ("content-type", "application/json"),
                ("x-openstack-append", "True"),
            ],
            Body::from(json!({"tags": [{"name": "t5"}]}).to_string()),
        )
        .await;
    assert_eq!(appended.status, StatusCode::CREATED);
    assert_eq!(
        c.get(ADMIN, &base).await.body["tags"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    // Names are unique without regard to case, within a request too.
    assert_eq!(
        post(
            &c,
            ADMIN,
            &base,
            json!({"tags": [{"name": "a"}, {"name": "A"}]})
        )
        .await
        .status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        c.call(Method::POST, &format!("{base}/T4"), Some(ADMIN), None)
            .await
            .status,
        StatusCode::CONFLICT
    );
    let one = c
        .call(Method::POST, &format!("{base}/single"), Some(ADMIN), None)
        .await;
    assert_eq!(one.status, StatusCode::CREATED, "{}", one.text());
    assert_eq!(one.body["name"], "single");
    assert!(one.body["created_at"].is_string());
    let upd = put(
        &c,
        ADMIN,
        &format!("{base}/single"),
        json!({"name": "renamed"}),
    )
    .await;
    assert_eq!(upd.body["name"], "renamed");
    assert_eq!(
        c.get(ADMIN, &format!("{base}/renamed")).await.body["name"],
        "renamed"
    );
    assert_eq!(
        put(
            &c,
            ADMIN,
            &format!("{base}/renamed"),
            json!({"name": "x", "bad": 1})
        )
        .await
        .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        del(&c, ADMIN, &format!("{base}/renamed")).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        c.get(ADMIN, &format!("{base}/renamed")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(del(&c, ADMIN, &base).await, StatusCode::NO_CONTENT);
    assert_eq!(c.get(ADMIN, &base).await.body["tags"], json!([]));
}

#[tokio::test]
async fn resource_type_associations() {
    let c = cloud().await;
    namespace(&c, "ns", json!({})).await;
    let base = format!("{NS}/ns/resource_types");
    let r = post(
        &c,
        ADMIN,
        &base,
        json!({"name": "OS::Glance::Image", "prefix": "p_"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.body["name"], "OS::Glance::Image");
    assert_eq!(r.body["prefix"], "p_");
    assert_eq!(
        post(&c, ADMIN, &base, json!({"name": "OS::Glance::Image"}))
            .await
            .status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        post(&c, ADMIN, &base, json!({"prefix": "x"})).await.status,
        StatusCode::BAD_REQUEST
    );
    // A new resource type comes into being with its first association.
    post(&c, ADMIN, &base, json!({"name": "My::New::Type"})).await;
    let types = c.get(ADMIN, "/v2/metadefs/resource_types").await;
    assert!(
        types.body["resource_types"]
            .as_array()
            .expect("types")
            .iter()
            .any(|t| t["name"] == "My::New::Type")
    );
    let list = c.get(ADMIN, &base).await;
    assert_eq!(
        list.body["resource_type_associations"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    assert_eq!(
        del(&c, ADMIN, &format!("{base}/OS::Glance::Image")).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        del(&c, ADMIN, &format!("{base}/OS::Glance::Image")).await,
        StatusCode::NOT_FOUND
    );
    let list = c.get(ADMIN, &base).await;
    assert_eq!(
        list.body["resource_type_associations"][0]["name"],
        "My::New::Type"
    );
}

#[tokio::test]
async fn who_may_see_and_change_namespaces() {
    let c = cloud().await;
    namespace(&c, "pub", json!({})).await;
    namespace(&c, "priv", json!({"visibility": "private"})).await;
    // Anyone with a role reads a public namespace; nobody but admins writes.
    assert_eq!(
        c.get(A_READER, &format!("{NS}/pub")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        c.get(B, &format!("{NS}/pub/objects")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        post(&c, A, NS, json!({"namespace": "mine"})).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post(&c, A, &format!("{NS}/pub/objects"), json!({"name": "o"}))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        del(&c, A, &format!("{NS}/pub")).await,
        StatusCode::FORBIDDEN
    );
    // Another project's private namespace does not exist for them.
    for path in [
        format!("{NS}/priv"),
        format!("{NS}/priv/objects"),
        format!("{NS}/priv/properties"),
        format!("{NS}/priv/tags"),
        format!("{NS}/priv/resource_types"),
    ] {
        assert_eq!(
            c.get(B, &path).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    assert_eq!(
        del(&c, B, &format!("{NS}/priv")).await,
        StatusCode::NOT_FOUND
    );
    assert!(
        !c.get(B, NS).await.body["namespaces"]
            .as_array()
            .expect("list")
            .iter()
            .any(|n| n["namespace"] == "priv")
    );
    // No token, no access.
    assert_eq!(
        c.call(Method::GET, NS, None, None).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn schemas() {
    let c = cloud().await;
    for (path, name) in [
        ("namespace", "namespace"),
        ("namespaces", "namespaces"),
        ("resource_type", "resource_type_association"),
        ("resource_types", "resource_type_associations"),
        ("object", "object"),
        ("objects", "objects"),
        ("property", "property"),
        ("properties", "properties"),
        ("tag", "tag"),
        ("tags", "tags"),
    ] {
        let r = c
            .get(A_READER, &format!("/v2/schemas/metadefs/{path}"))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert_eq!(r.body["name"], name, "{path}");
    }
    assert_eq!(
        c.get(A, "/v2/schemas/metadefs/bogus").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(c.get(A, "/v2/schemas/task").await.body["name"], "task");
    assert_eq!(c.get(A, "/v2/schemas/tasks").await.body["name"], "tasks");
}
