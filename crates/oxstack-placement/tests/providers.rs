//! Version discovery, microversions, resource providers, inventories, resource classes,
//! traits and aggregates through the HTTP API, with their error paths.

mod common;

use axum::http::{Method, StatusCode};
use common::{ADMIN, MEMBER, SERVICE, cloud, new_uuid};
use serde_json::{Value, json};

#[tokio::test]
async fn version_document_and_microversion_negotiation() {
    let c = cloud().await;
    let r = c.call(Method::GET, "/", None, None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    let v = &r.body["versions"][0];
    assert_eq!(v["min_version"], "1.0");
    assert_eq!(v["max_version"], "1.36");
    assert_eq!(v["id"], "v1.0");
    assert_eq!(v["status"], "CURRENT");
    assert_eq!(r.header("openstack-api-version"), Some("placement 1.0"));
    assert_eq!(r.header("vary"), Some("openstack-api-version"));
    assert!(r.header("x-openstack-request-id").is_some());

    let r = c.call(Method::GET, "/", None, Some("latest"), None).await;
    assert_eq!(r.header("openstack-api-version"), Some("placement 1.36"));
    assert_eq!(r.header("cache-control"), Some("no-cache"));
    assert!(r.header("last-modified").is_some());

    for bad in ["1.99", "2.0", "one"] {
        let r = c
            .call(
                Method::GET,
                "/resource_providers",
                Some(ADMIN),
                Some(bad),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_ACCEPTABLE, "{bad}");
        assert_eq!(r.body["errors"][0]["status"], 406);
        assert_eq!(r.code(), "placement.undefined_code");
        assert_eq!(r.header("vary"), Some("openstack-api-version"));
    }
    // Routes newer than the requested version are not there.
    for (path, min) in [
        ("/traits", "1.5"),
        ("/resource_classes", "1.1"),
        ("/usages?project_id=x", "1.8"),
        ("/allocation_candidates?resources=VCPU:1", "1.9"),
    ] {
        let r = c.admin(Method::GET, path, min, None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path} at {min}");
    }
    c.cleanup().await;
}

#[tokio::test]
async fn authentication_and_policy() {
    let c = cloud().await;
    let r = c
        .call(Method::GET, "/resource_providers", None, Some("1.36"), None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.header("www-authenticate").is_some());
    let r = c
        .call(
            Method::GET,
            "/resource_providers",
            Some("bogus"),
            Some("1.36"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Services may do everything the admin may.
    let r = c
        .call(
            Method::GET,
            "/resource_providers",
            Some(SERVICE),
            Some("1.36"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let rp = c.provider("host", None).await;
    // A member of a project may do nothing but read its own usages.
    let member_calls: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/resource_providers".into(), None),
        (
            Method::POST,
            "/resource_providers".into(),
            Some(json!({"name": "x"})),
        ),
        (Method::GET, format!("/resource_providers/{rp}"), None),
        (
            Method::PUT,
            format!("/resource_providers/{rp}"),
            Some(json!({"name": "y"})),
        ),
        (Method::DELETE, format!("/resource_providers/{rp}"), None),
        (
            Method::GET,
            format!("/resource_providers/{rp}/inventories"),
            None,
        ),
        (
            Method::PUT,
            format!("/resource_providers/{rp}/inventories"),
            Some(json!({"resource_provider_generation": 0, "inventories": {}})),
        ),
        (
            Method::POST,
            format!("/resource_providers/{rp}/inventories"),
            Some(json!({"resource_provider_generation": 0, "resource_class": "VCPU", "total": 1})),
        ),
        (
            Method::DELETE,
            format!("/resource_providers/{rp}/inventories"),
            None,
        ),
        (
            Method::GET,
            format!("/resource_providers/{rp}/inventories/VCPU"),
            None,
        ),
        (
            Method::PUT,
            format!("/resource_providers/{rp}/inventories/VCPU"),
            Some(json!({"resource_provider_generation": 0, "total": 1})),
        ),
        (
            Method::DELETE,
            format!("/resource_providers/{rp}/inventories/VCPU"),
            None,
        ),
        (
            Method::GET,
            format!("/resource_providers/{rp}/traits"),
            None,
        ),
        (
            Method::PUT,
            format!("/resource_providers/{rp}/traits"),
            Some(json!({"resource_provider_generation": 0, "traits": []})),
        ),
        (
            Method::DELETE,
            format!("/resource_providers/{rp}/traits"),
            None,
        ),
        (
            Method::GET,
            format!("/resource_providers/{rp}/aggregates"),
            None,
        ),
        (
            Method::PUT,
            format!("/resource_providers/{rp}/aggregates"),
            Some(json!({"resource_provider_generation": 0, "aggregates": []})),
        ),
        (
            Method::GET,
            format!("/resource_providers/{rp}/usages"),
            None,
        ),
        (
            Method::GET,
            format!("/resource_providers/{rp}/allocations"),
            None,
        ),
        (Method::GET, "/resource_classes".into(), None),
        (
            Method::POST,
            "/resource_classes".into(),
            Some(json!({"name": "CUSTOM_X"})),
        ),
        (Method::GET, "/resource_classes/VCPU".into(), None),
        (Method::PUT, "/resource_classes/CUSTOM_X".into(), None),
        (Method::DELETE, "/resource_classes/CUSTOM_X".into(), None),
        (Method::GET, "/traits".into(), None),
        (Method::GET, "/traits/HW_CPU_X86_AVX".into(), None),
        (Method::PUT, "/traits/CUSTOM_X".into(), None),
        (Method::DELETE, "/traits/CUSTOM_X".into(), None),
        (Method::GET, format!("/allocations/{}", new_uuid()), None),
        (
            Method::PUT,
            format!("/allocations/{}", new_uuid()),
            Some(
                json!({"allocations": {}, "project_id": "p", "user_id": "u", "consumer_generation": null}),
            ),
        ),
        (Method::DELETE, format!("/allocations/{}", new_uuid()), None),
        (Method::POST, "/allocations".into(), Some(json!({}))),
        (
            Method::GET,
            "/allocation_candidates?resources=VCPU:1".into(),
            None,
        ),
        (Method::GET, "/usages?project_id=someone-else".into(), None),
        (Method::POST, "/reshaper".into(), Some(json!({}))),
    ];
    for (m, path, body) in member_calls {
        let r = c
            .call(m.clone(), &path, Some(MEMBER), Some("1.36"), body)
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{m} {path}: {:?}", r.body);
        assert_eq!(r.body["errors"][0]["status"], 403);
    }
    let r = c
        .call(
            Method::GET,
            &format!("/usages?project_id={}", common::MEMBER_PROJECT),
            Some(MEMBER),
            Some("1.36"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    c.cleanup().await;
}

#[tokio::test]
async fn persona_matrix_snapshot() {
    let c = cloud().await;
    let matrix = c.placement.policy().persona_matrix(|rule| match rule {
        // `GET /usages?project_id=` is checked against the project asked about.
        "placement:usages" | "project_reader_api" => {
            json!({"target": {"project_id": oxstack_common::policy::PERSONA_PROJECT_ID}})
        }
        _ => oxstack_common::policy::owned_target(),
    });
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/policy_matrix.txt");
    if std::env::var("UPDATE_SNAPSHOTS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &matrix).expect("write snapshot");
    }
    let want = std::fs::read_to_string(&path).expect("snapshot (UPDATE_SNAPSHOTS=1 to create)");
    assert_eq!(
        matrix, want,
        "policy matrix changed; review and UPDATE_SNAPSHOTS=1"
    );
    c.cleanup().await;
}

#[tokio::test]
async fn providers_crud_trees_and_filters() {
    let c = cloud().await;
    // Before 1.20 create answers 201 with a Location and no body.
    let r = c
        .admin(
            Method::POST,
            "/resource_providers",
            "1.14",
            Some(json!({"name": "old"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let loc = r.header("location").expect("location").to_string();
    assert!(loc.starts_with("/resource_providers/"));
    let r = c.admin(Method::GET, &loc, "1.0", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.get("root_provider_uuid").is_none(),
        "1.14 fields hidden at 1.0"
    );
    let rels: Vec<&str> = r.body["links"]
        .as_array()
        .expect("links")
        .iter()
        .filter_map(|l| l["rel"].as_str())
        .collect();
    assert_eq!(rels, ["self", "inventories", "usages"]);

    let uuid = new_uuid();
    let r = c
        .admin(
            Method::POST,
            "/resource_providers",
            "1.20",
            Some(json!({"name": "cn1", "uuid": uuid})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["uuid"], json!(uuid));
    assert_eq!(r.body["generation"], 0);
    let root = uuid;
    let r = c
        .admin(
            Method::GET,
            &format!("/resource_providers/{root}"),
            "1.36",
            None,
        )
        .await;
    assert_eq!(r.body["root_provider_uuid"], json!(root));
    assert_eq!(r.body["parent_provider_uuid"], Value::Null);
    assert_eq!(r.body["links"].as_array().map(Vec::len), Some(6));

    let child = c.provider("cn1-numa0", Some(&root)).await;
    let r = c
        .admin(
            Method::GET,
            &format!("/resource_providers/{child}"),
            "1.36",
            None,
        )
        .await;
    assert_eq!(r.body["root_provider_uuid"], json!(root));
    assert_eq!(r.body["parent_provider_uuid"], json!(root));

    // Duplicates, bad bodies, missing parents.
    let r = c
        .admin(
            Method::POST,
            "/resource_providers",
            "1.36",
            Some(json!({"name": "cn1"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.code(), "placement.duplicate_name");
    for body in [
        json!({}),
        json!({"name": ""}),
        json!({"name": 5}),
        json!({"name": "x", "uuid": "not-a-uuid"}),
        json!({"name": "x", "bogus": 1}),
        json!({"name": "x", "parent_provider_uuid": new_uuid()}),
    ] {
        let r = c
            .admin(
                Method::POST,
                "/resource_providers",
                "1.36",
                Some(body.clone()),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {:?}", r.body);
    }
    let r = c
        .call(
            Method::POST,
            "/resource_providers",
            Some(ADMIN),
            Some("1.36"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "empty body");
    // parent_provider_uuid is not in the 1.13 schema.
    let r = c
        .admin(
            Method::POST,
            "/resource_providers",
            "1.13",
            Some(json!({"name": "x", "parent_provider_uuid": root})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // Lists and filters.
    let list = |q: &str| {
        let path = format!("/resource_providers{q}");
        let c = &c;
        async move {
            let r = c.admin(Method::GET, &path, "1.36", None).await;
            assert_eq!(r.status, StatusCode::OK, "{path}: {:?}", r.body);
            let mut names: Vec<String> = r.body["resource_providers"]
                .as_array()
                .expect("list")
                .iter()
                .map(|p| p["name"].as_str().unwrap_or("").to_string())
                .collect();
            names.sort();
            names
        }
    };
    assert_eq!(list("").await, ["cn1", "cn1-numa0", "old"]);
    assert_eq!(list("?name=cn1").await, ["cn1"]);
    assert_eq!(list(&format!("?uuid={child}")).await, ["cn1-numa0"]);
    assert_eq!(
        list(&format!("?in_tree={child}")).await,
        ["cn1", "cn1-numa0"]
    );
    let r = c
        .admin(Method::GET, "/resource_providers?bogus=1", "1.36", None)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = c
        .admin(Method::GET, "/resource_providers?in_tree=x", "1.13", None)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "in_tree needs 1.14");
    let r = c
        .admin(
            Method::GET,
            "/resource_providers?resources=NOPE:1",
            "1.36",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = c
        .admin(
            Method::GET,
            "/resource_providers?required=CUSTOM_NOPE",
            "1.36",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    c.inventory(
        &root,
        json!({"VCPU": {"total": 8}, "MEMORY_MB": {"total": 4096}}),
    )
    .await;
    assert_eq!(list("?resources=VCPU:4,MEMORY_MB:1024").await, ["cn1"]);
    assert!(list("?resources=VCPU:9").await.is_empty());
    let agg = new_uuid();
    let r = c
        .admin(
            Method::PUT,
            &format!("/resource_providers/{root}/aggregates"),
            "1.36",
            Some(json!({"aggregates": [agg], "resource_provider_generation": 1})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(list(&format!("?member_of={agg}")).await, ["cn1"]);
    assert_eq!(
        list(&format!("?member_of=in:{agg},{}", new_uuid())).await,
        ["cn1"]
    );
    assert_eq!(
        list(&format!("?member_of=!{agg}")).await,
        ["cn1-numa0", "old"]
    );
    let r = c
        .admin(
            Method::GET,
            "/resource_providers?member_of=nope",
            "1.36",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    c.call(
        Method::PUT,
        "/traits/CUSTOM_FAST",
        Some(ADMIN),
        Some("1.36"),
        None,
    )
    .await;
    let r = c
        .admin(
            Method::PUT,
            &format!("/resource_providers/{child}/traits"),
            "1.36",
            Some(json!({"traits": ["CUSTOM_FAST", "HW_CPU_X86_AVX2"], "resource_provider_generation": 0})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(list("?required=CUSTOM_FAST").await, ["cn1-numa0"]);
    assert_eq!(list("?required=!CUSTOM_FAST").await, ["cn1", "old"]);

    // Update, re-parent rules, delete.
    let r = c
        .admin(
            Method::PUT,
            &format!("/resource_providers/{child}"),
            "1.36",
            Some(json!({"name": "renamed"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["name"], "renamed");
    assert_eq!(r.body["parent_provider_uuid"], json!(root), "parent kept");
    let r = c
        .admin(
            Method::PUT,
            &format!("/resource_providers/{child}"),
            "1.36",
            Some(json!({"name": "renamed", "parent_provider_uuid": null})),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "no un-parenting before 1.37"
    );
    let r = c
        .admin(
            Method::PUT,
            &format!("/resource_providers/{root}"),
            "1.36",
            Some(json!({"name": "old"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.code(), "placement.duplicate_name");
    let r = c
        .admin(
            Method::DELETE,
            &format!("/resource_providers/{root}"),
            "1.36",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.code(), "placement.resource_provider.cannot_delete_parent");
    let r = c
        .admin(
            Method::DELETE,
            &format!("/resource_providers/{child}"),
            "1.36",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = c
        .admin(
            Method::GET,
            &format!("/resource_providers/{child}"),
            "1.36",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["errors"][0]["status"], 404);
    let r = c
        .admin(
            Method::DELETE,
            &format!("/resource_providers/{child}"),
            "1.36",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    c.cleanup().await;
}

#[tokio::test]
async fn inventories_with_generations() {
    let c = cloud().await;
    let rp = c.provider("cn", None).await;
    let base = format!("/resource_providers/{rp}/inventories");
    let r = c.admin(Method::GET, &base, "1.36", None).await;
    assert_eq!(
        r.body,
        json!({"inventories": {}, "resource_provider_generation": 0})
    );

    let r = c
        .admin(
            Method::PUT,
            &base,
            "1.36",
            Some(json!({"resource_provider_generation": 0, "inventories": {
                "VCPU": {"total": 16, "allocation_ratio": 4.0, "max_unit": 16},
                "MEMORY_MB": {"total": 32768, "reserved": 512, "step_size": 1},
            }})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["resource_provider_generation"], 1);
    assert_eq!(
        r.body["inventories"]["MEMORY_MB"],
        json!({"total": 32768, "reserved": 512, "min_unit": 1, "max_unit": 2147483647, "step_size": 1, "allocation_ratio": 1.0})
    );
    // A stale generation is a conflict.
    let r = c
        .admin(
            Method::PUT,
            &base,
            "1.36",
            Some(json!({"resource_provider_generation": 0, "inventories": {}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.code(), "placement.concurrent_update");
    // Bad bodies.
    for body in [
        json!({"inventories": {}}),
        json!({"resource_provider_generation": 1}),
        json!({"resource_provider_generation": 1, "inventories": {"VCPU": {}}}),
        json!({"resource_provider_generation": 1, "inventories": {"VCPU": {"total": 0}}}),
        json!({"resource_provider_generation": 1, "inventories": {"VCPU": {"total": 1, "bogus": 1}}}),
        json!({"resource_provider_generation": 1, "inventories": {"NOPE": {"total": 1}}}),
        json!({"resource_provider_generation": 1, "inventories": {"VCPU": {"total": 4, "reserved": 5}}}),
        json!({"resource_provider_generation": 1, "inventories": {"VCPU": {"total": 4, "min_unit": 3, "max_unit": 2}}}),
        json!({"resource_provider_generation": 1, "inventories": {"VCPU": {"total": 4, "allocation_ratio": 0}}}),
    ] {
        let r = c
            .admin(Method::PUT, &base, "1.36", Some(body.clone()))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {:?}", r.body);
    }
    // reserved == total needs 1.26.
    let eq = json!({"resource_provider_generation": 1, "inventories": {"VCPU": {"total": 4, "reserved": 4}, "MEMORY_MB": {"total": 32768}}});
    let r = c.admin(Method::PUT, &base, "1.25", Some(eq.clone())).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = c.admin(Method::PUT, &base, "1.26", Some(eq)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["resource_provider_generation"], 2);

    // One class at a time.
    let r = c
        .admin(
            Method::POST,
            &base,
            "1.36",
            Some(json!({"resource_provider_generation": 2, "resource_class": "DISK_GB", "total": 100})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(
        r.header("location"),
        Some(format!("{base}/DISK_GB").as_str())
    );
    assert_eq!(r.body["resource_provider_generation"], 3);
    let r = c
        .admin(
            Method::POST,
            &base,
            "1.36",
            Some(json!({"resource_provider_generation": 3, "resource_class": "DISK_GB", "total": 100})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = c
        .admin(Method::GET, &format!("{base}/DISK_GB"), "1.36", None)
        .await;
    assert_eq!(r.body["total"], 100);
    assert_eq!(r.body["resource_provider_generation"], 3);
    let r = c
        .admin(Method::GET, &format!("{base}/VGPU"), "1.36", None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = c
        .admin(
            Method::PUT,
            &format!("{base}/DISK_GB"),
            "1.36",
            Some(json!({"resource_provider_generation": 3, "total": 200})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["total"], 200);
    let r = c
        .admin(
            Method::PUT,
            &format!("{base}/DISK_GB"),
            "1.36",
            Some(json!({"resource_provider_generation": 3, "total": 300})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.code(), "placement.concurrent_update");

    // Inventory in use: cannot be removed or shrunk below what is allocated.
    let r = c
        .claim(
            &new_uuid(),
            json!({ rp.clone(): {"resources": {"DISK_GB": 150}} }),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    let r = c
        .admin(Method::DELETE, &format!("{base}/DISK_GB"), "1.36", None)
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.code(), "placement.inventory.inuse");
    let r = c
        .admin(
            Method::PUT,
            &format!("{base}/DISK_GB"),
            "1.36",
            Some(json!({"resource_provider_generation": 5, "total": 100})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    assert_eq!(r.code(), "placement.inventory.inuse");
    let r = c.admin(Method::DELETE, &base, "1.36", None).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.code(), "placement.inventory.inuse");
    let r = c
        .admin(Method::DELETE, &format!("{base}/VCPU"), "1.36", None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = c
        .admin(Method::DELETE, &format!("{base}/VCPU"), "1.36", None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // DELETE of all inventories arrived in 1.5.
    let r = c.admin(Method::DELETE, &base, "1.4", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = c
        .admin(
            Method::GET,
            &format!("/resource_providers/{}/inventories", new_uuid()),
            "1.36",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    c.cleanup().await;
}

#[tokio::test]
async fn resource_classes_traits_and_aggregates() {
    let c = cloud().await;
    let r = c
        .admin(Method::GET, "/resource_classes", "1.36", None)
        .await;
    let names: Vec<&str> = r.body["resource_classes"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|x| x["name"].as_str())
        .collect();
    assert_eq!(&names[..3], ["VCPU", "MEMORY_MB", "DISK_GB"]);
    let r = c
        .admin(
            Method::POST,
            "/resource_classes",
            "1.36",
            Some(json!({"name": "CUSTOM_GPU"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.header("location"), Some("/resource_classes/CUSTOM_GPU"));
    let r = c
        .admin(
            Method::POST,
            "/resource_classes",
            "1.36",
            Some(json!({"name": "CUSTOM_GPU"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.code(), "placement.duplicate_name");
    for body in [
        json!({"name": "GPU"}),
        json!({"name": "CUSTOM_lower"}),
        json!({}),
    ] {
        let r = c
            .admin(Method::POST, "/resource_classes", "1.36", Some(body))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
    }
    let r = c
        .admin(Method::GET, "/resource_classes/CUSTOM_GPU", "1.36", None)
        .await;
    assert_eq!(r.body["name"], "CUSTOM_GPU");
    let r = c
        .admin(Method::GET, "/resource_classes/CUSTOM_NONE", "1.36", None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = c
        .admin(Method::PUT, "/resource_classes/CUSTOM_FPGA2", "1.36", None)
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = c
        .admin(Method::PUT, "/resource_classes/CUSTOM_FPGA2", "1.36", None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = c
        .admin(Method::DELETE, "/resource_classes/VCPU", "1.36", None)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let rp = c.provider("gpu-host", None).await;
    c.inventory(&rp, json!({"CUSTOM_GPU": {"total": 2}})).await;
    let r = c
        .admin(Method::DELETE, "/resource_classes/CUSTOM_GPU", "1.36", None)
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "in use");
    let r = c
        .admin(
            Method::DELETE,
            "/resource_classes/CUSTOM_FPGA2",
            "1.36",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = c
        .admin(
            Method::DELETE,
            "/resource_classes/CUSTOM_FPGA2",
            "1.36",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // Traits.
    let r = c
        .admin(Method::GET, "/traits/HW_CPU_X86_AVX2", "1.36", None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = c
        .admin(Method::GET, "/traits/CUSTOM_NOPE", "1.36", None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = c
        .admin(Method::PUT, "/traits/CUSTOM_SSD", "1.36", None)
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.header("location"), Some("/traits/CUSTOM_SSD"));
    let r = c
        .admin(Method::PUT, "/traits/CUSTOM_SSD", "1.36", None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = c
        .admin(Method::PUT, "/traits/NOT_CUSTOM", "1.36", None)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = c
        .admin(Method::GET, "/traits?name=startswith:CUSTOM_", "1.36", None)
        .await;
    assert_eq!(r.body["traits"], json!(["CUSTOM_SSD"]));
    let r = c
        .admin(
            Method::GET,
            "/traits?name=in:CUSTOM_SSD,COMPUTE_NODE,X",
            "1.36",
            None,
        )
        .await;
    assert_eq!(r.body["traits"], json!(["COMPUTE_NODE", "CUSTOM_SSD"]));
    let r = c
        .admin(Method::GET, "/traits?name=CUSTOM_SSD", "1.36", None)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let tb = format!("/resource_providers/{rp}/traits");
    let r = c
        .admin(
            Method::PUT,
            &tb,
            "1.36",
            Some(json!({"traits": ["CUSTOM_SSD", "COMPUTE_NODE"], "resource_provider_generation": 1})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["traits"], json!(["COMPUTE_NODE", "CUSTOM_SSD"]));
    assert_eq!(r.body["resource_provider_generation"], 2);
    let r = c
        .admin(
            Method::PUT,
            &tb,
            "1.36",
            Some(json!({"traits": [], "resource_provider_generation": 1})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.code(), "placement.concurrent_update");
    let r = c
        .admin(
            Method::PUT,
            &tb,
            "1.36",
            Some(json!({"traits": ["CUSTOM_UNKNOWN"], "resource_provider_generation": 2})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = c
        .admin(
            Method::GET,
            "/traits?associated=true&name=startswith:CUSTOM",
            "1.36",
            None,
        )
        .await;
    assert_eq!(r.body["traits"], json!(["CUSTOM_SSD"]));
    let r = c
        .admin(Method::DELETE, "/traits/CUSTOM_SSD", "1.36", None)
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "in use");
    let r = c
        .admin(Method::DELETE, "/traits/COMPUTE_NODE", "1.36", None)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "standard");
    let r = c.admin(Method::DELETE, &tb, "1.36", None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = c.admin(Method::GET, &tb, "1.36", None).await;
    assert_eq!(
        r.body,
        json!({"traits": [], "resource_provider_generation": 3})
    );
    let r = c
        .admin(Method::DELETE, "/traits/CUSTOM_SSD", "1.36", None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);

    // Aggregates: a bare list before 1.19, with the generation after.
    let ab = format!("/resource_providers/{rp}/aggregates");
    let (a1, a2) = (new_uuid(), new_uuid());
    let r = c.admin(Method::PUT, &ab, "1.1", Some(json!([a1]))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body, json!({"aggregates": [a1]}));
    let r = c.admin(Method::GET, &ab, "1.19", None).await;
    assert_eq!(
        r.body["resource_provider_generation"], 3,
        "no bump before 1.19"
    );
    let r = c
        .admin(
            Method::PUT,
            &ab,
            "1.19",
            Some(json!({"aggregates": [a1, a2], "resource_provider_generation": 3})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["resource_provider_generation"], 4);
    assert_eq!(r.body["aggregates"].as_array().map(Vec::len), Some(2));
    let r = c
        .admin(
            Method::PUT,
            &ab,
            "1.19",
            Some(json!({"aggregates": [], "resource_provider_generation": 3})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.code(), "placement.concurrent_update");
    let r = c.admin(Method::PUT, &ab, "1.19", Some(json!([a1]))).await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "1.19 wants the object form"
    );
    let r = c
        .admin(Method::PUT, &ab, "1.1", Some(json!(["not-a-uuid"])))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = c.admin(Method::GET, &ab, "1.0", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "aggregates arrived in 1.1");
    c.cleanup().await;
}

#[tokio::test]
async fn malformed_json_is_400() {
    let c = cloud().await;
    let req = axum::http::Request::builder()
        .method(Method::POST)
        .uri("/resource_providers")
        .header("x-auth-token", ADMIN)
        .header("openstack-api-version", "placement 1.36")
        .header("content-type", "application/json")
        .body(axum::body::Body::from("{not json"))
        .expect("request");
    let resp = tower::ServiceExt::oneshot(c.router.clone(), req)
        .await
        .expect("resp");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    c.cleanup().await;
}
