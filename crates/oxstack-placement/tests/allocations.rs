//! Allocations, usages and allocation candidates through the HTTP API.

mod common;

use axum::http::{Method, StatusCode};
use common::{TestCloud, cloud, new_uuid};
use serde_json::{Value, json};

/// A compute node: 8 VCPU at ratio 2.0 (capacity 16), 4096 MB (512 reserved), 100 GB.
async fn compute_node(c: &TestCloud, name: &str) -> String {
    let rp = c.provider(name, None).await;
    c.inventory(
        &rp,
        json!({
            "VCPU": {"total": 8, "allocation_ratio": 2.0},
            "MEMORY_MB": {"total": 4096, "reserved": 512},
            "DISK_GB": {"total": 100},
        }),
    )
    .await;
    rp
}

#[tokio::test]
async fn allocations_per_consumer_with_generations() {
    let c = cloud().await;
    let rp = compute_node(&c, "cn1").await;
    let consumer = new_uuid();
    let path = format!("/allocations/{consumer}");
    let r = c.admin(Method::GET, &path, "1.36", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, json!({"allocations": {}}));

    let alloc = json!({ rp.clone(): {"resources": {"VCPU": 2, "MEMORY_MB": 1024}} });
    let r = c.claim(&consumer, alloc.clone()).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    let r = c.admin(Method::GET, &path, "1.36", None).await;
    assert_eq!(
        r.body,
        json!({
            "allocations": { rp.clone(): {"generation": 2, "resources": {"VCPU": 2, "MEMORY_MB": 1024}} },
            "project_id": "p1", "user_id": "u1", "consumer_generation": 0,
        })
    );
    let r = c.admin(Method::GET, &path, "1.11", None).await;
    assert!(r.body.get("project_id").is_none(), "1.12 fields hidden");
    // A new-consumer claim for an existing consumer, or a stale generation: 409.
    let r = c.claim(&consumer, alloc.clone()).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.code(), "placement.concurrent_update");
    assert!(
        r.body["errors"][0]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("consumer generation conflict"))
    );
    let put = |generation: Value, allocations: Value| json!({"allocations": allocations, "project_id": "p1", "user_id": "u1", "consumer_generation": generation});
    let r = c
        .admin(
            Method::PUT,
            &path,
            "1.36",
            Some(put(json!(5), alloc.clone())),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.code(), "placement.concurrent_update");
    // Resize in place with the right generation.
    let bigger =
        json!({ rp.clone(): {"resources": {"VCPU": 4, "MEMORY_MB": 2048, "DISK_GB": 10}} });
    let r = c
        .admin(Method::PUT, &path, "1.36", Some(put(json!(0), bigger)))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    let r = c
        .admin(
            Method::GET,
            &format!("/resource_providers/{rp}/usages"),
            "1.36",
            None,
        )
        .await;
    assert_eq!(
        r.body["usages"],
        json!({"VCPU": 4, "MEMORY_MB": 2048, "DISK_GB": 10})
    );
    let r = c
        .admin(
            Method::GET,
            &format!("/resource_providers/{rp}/allocations"),
            "1.36",
            None,
        )
        .await;
    assert_eq!(
        r.body["allocations"][&consumer]["resources"],
        json!({"VCPU": 4, "MEMORY_MB": 2048, "DISK_GB": 10})
    );
    assert_eq!(r.body["resource_provider_generation"], 3);

    // Capacity and unit rules: 409 without a code; unknown things: 400.
    let other = new_uuid();
    let r = c
        .claim(&other, json!({ rp.clone(): {"resources": {"VCPU": 13}} }))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.code(), "placement.undefined_code");
    assert!(
        r.body["errors"][0]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("exceed the capacity"))
    );
    let r = c
        .claim(
            &other,
            json!({ rp.clone(): {"resources": {"MEMORY_MB": 4000}} }),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::CONFLICT,
        "reserved memory is not allocatable"
    );
    let r = c
        .claim(&other, json!({ rp.clone(): {"resources": {"VGPU": 1}} }))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "no such inventory");
    let r = c
        .claim(
            &other,
            json!({ rp.clone(): {"resources": {"CUSTOM_NOPE": 1}} }),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = c
        .claim(&other, json!({ new_uuid(): {"resources": {"VCPU": 1}} }))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "unknown provider");
    for body in [
        json!({"allocations": {}}),
        json!({"allocations": {rp.clone(): {"resources": {"VCPU": 0}}}, "project_id": "p", "user_id": "u", "consumer_generation": null}),
        json!({"allocations": {rp.clone(): {"resources": {}}}, "project_id": "p", "user_id": "u", "consumer_generation": null}),
        json!({"allocations": {rp.clone(): {"resources": {"VCPU": 1}}}, "project_id": "p", "user_id": "u"}),
        json!({"allocations": {"nope": {"resources": {"VCPU": 1}}}, "project_id": "p", "user_id": "u", "consumer_generation": null}),
        json!({"allocations": [], "project_id": "p", "user_id": "u", "consumer_generation": null}),
    ] {
        let r = c
            .admin(
                Method::PUT,
                &format!("/allocations/{other}"),
                "1.36",
                Some(body.clone()),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {:?}", r.body);
    }
    let r = c
        .admin(
            Method::PUT,
            "/allocations/not-a-uuid",
            "1.36",
            Some(put(
                Value::Null,
                json!({ rp.clone(): {"resources": {"VCPU": 1}} }),
            )),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // The list form of 1.0-1.11.
    let r = c
        .admin(
            Method::PUT,
            &format!("/allocations/{other}"),
            "1.10",
            Some(json!({"allocations": [{"resource_provider": {"uuid": rp}, "resources": {"VCPU": 1}}], "project_id": "p2", "user_id": "u2"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);

    // Usages per project and user.
    let r = c
        .admin(Method::GET, "/usages?project_id=p1", "1.36", None)
        .await;
    assert_eq!(
        r.body["usages"],
        json!({"VCPU": 4, "MEMORY_MB": 2048, "DISK_GB": 10})
    );
    let r = c
        .admin(
            Method::GET,
            "/usages?project_id=p2&user_id=u2",
            "1.36",
            None,
        )
        .await;
    assert_eq!(r.body["usages"], json!({"VCPU": 1}));
    let r = c
        .admin(
            Method::GET,
            "/usages?project_id=p2&user_id=nobody",
            "1.36",
            None,
        )
        .await;
    assert_eq!(r.body["usages"], json!({}));
    let r = c.admin(Method::GET, "/usages", "1.36", None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // Deleting: through an empty PUT (1.28) or DELETE.
    let r = c
        .admin(Method::PUT, &path, "1.36", Some(put(json!(1), json!({}))))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    let r = c.admin(Method::GET, &path, "1.36", None).await;
    assert_eq!(r.body, json!({"allocations": {}}));
    let r = c
        .admin(
            Method::DELETE,
            &format!("/allocations/{other}"),
            "1.36",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = c
        .admin(
            Method::DELETE,
            &format!("/allocations/{other}"),
            "1.36",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = c
        .admin(
            Method::GET,
            &format!("/resource_providers/{rp}/usages"),
            "1.36",
            None,
        )
        .await;
    assert_eq!(
        r.body["usages"],
        json!({"VCPU": 0, "MEMORY_MB": 0, "DISK_GB": 0})
    );
    let r = c
        .admin(
            Method::GET,
            &format!("/resource_providers/{}/usages", new_uuid()),
            "1.36",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = c
        .admin(
            Method::GET,
            &format!("/resource_providers/{}/allocations", new_uuid()),
            "1.36",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    c.cleanup().await;
}

#[tokio::test]
async fn post_allocations_moves_resources_atomically() {
    let c = cloud().await;
    let (src, dst) = (compute_node(&c, "src").await, compute_node(&c, "dst").await);
    let (instance, migration) = (new_uuid(), new_uuid());
    let r = c
        .claim(
            &instance,
            json!({ src.clone(): {"resources": {"VCPU": 10}} }),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    // A migration: the migration record takes the source, the instance the destination.
    let body = json!({
        migration.clone(): {"allocations": { src.clone(): {"resources": {"VCPU": 10}} }, "project_id": "p1", "user_id": "u1", "consumer_generation": null},
        instance.clone(): {"allocations": { dst.clone(): {"resources": {"VCPU": 10}} }, "project_id": "p1", "user_id": "u1", "consumer_generation": 0},
    });
    let r = c
        .admin(Method::POST, "/allocations", "1.36", Some(body))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    let r = c
        .admin(
            Method::GET,
            &format!("/allocations/{instance}"),
            "1.36",
            None,
        )
        .await;
    assert!(r.body["allocations"].get(&dst).is_some());
    assert_eq!(r.body["consumer_generation"], 1);
    // All or nothing: one consumer over capacity fails the whole request.
    let body = json!({
        migration.clone(): {"allocations": {}, "project_id": "p1", "user_id": "u1", "consumer_generation": 0},
        instance.clone(): {"allocations": { dst.clone(): {"resources": {"VCPU": 17}} }, "project_id": "p1", "user_id": "u1", "consumer_generation": 1},
    });
    let r = c
        .admin(Method::POST, "/allocations", "1.36", Some(body))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = c
        .admin(
            Method::GET,
            &format!("/allocations/{migration}"),
            "1.36",
            None,
        )
        .await;
    assert!(r.body["allocations"].get(&src).is_some(), "nothing changed");
    let r = c
        .admin(Method::POST, "/allocations", "1.12", Some(json!({})))
        .await;
    assert_eq!(
        r.status,
        StatusCode::NOT_FOUND,
        "POST /allocations arrived in 1.13"
    );
    let r = c
        .admin(Method::POST, "/allocations", "1.36", Some(json!({})))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // A provider with allocations cannot be deleted.
    let r = c
        .admin(
            Method::DELETE,
            &format!("/resource_providers/{src}"),
            "1.36",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.code(), "placement.resource_provider.inuse");
    c.cleanup().await;
}

fn request_providers(body: &Value) -> Vec<Vec<String>> {
    body["allocation_requests"]
        .as_array()
        .expect("allocation_requests")
        .iter()
        .map(|ar| {
            let mut ps: Vec<String> = ar["allocations"]
                .as_object()
                .expect("dict form")
                .keys()
                .cloned()
                .collect();
            ps.sort();
            ps
        })
        .collect()
}

#[tokio::test]
async fn allocation_candidates() {
    let c = cloud().await;
    let (a, b) = (compute_node(&c, "a").await, compute_node(&c, "b").await);
    c.admin(Method::PUT, "/traits/CUSTOM_GOLD", "1.36", None)
        .await;
    c.admin(
        Method::PUT,
        &format!("/resource_providers/{a}/traits"),
        "1.36",
        Some(json!({"traits": ["CUSTOM_GOLD", "HW_CPU_X86_AVX2"], "resource_provider_generation": 1})),
    )
    .await;
    let agg = new_uuid();
    c.admin(
        Method::PUT,
        &format!("/resource_providers/{b}/aggregates"),
        "1.36",
        Some(json!({"aggregates": [agg], "resource_provider_generation": 1})),
    )
    .await;
    // Fill most of b's CPU.
    c.claim(
        &new_uuid(),
        json!({ b.clone(): {"resources": {"VCPU": 15}} }),
    )
    .await;

    let get = |q: &str, v: &str| {
        let path = format!("/allocation_candidates?{q}");
        let (c, v) = (&c, v.to_string());
        async move { c.admin(Method::GET, &path, &v, None).await }
    };
    let r = get("resources=VCPU:1,MEMORY_MB:512,DISK_GB:1", "1.36").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(request_providers(&r.body).len(), 2);
    let ar = &r.body["allocation_requests"][0];
    assert_eq!(ar["mappings"][""].as_array().map(Vec::len), Some(1));
    let sum = &r.body["provider_summaries"][&b];
    assert_eq!(
        sum["resources"]["VCPU"],
        json!({"capacity": 16, "used": 15})
    );
    assert_eq!(
        sum["resources"]["MEMORY_MB"],
        json!({"capacity": 3584, "used": 0})
    );
    assert_eq!(sum["root_provider_uuid"], json!(b));
    assert!(sum["traits"].is_array());

    // Capacity decides.
    let r = get("resources=VCPU:2", "1.36").await;
    assert_eq!(request_providers(&r.body), vec![vec![a.clone()]]);
    // Traits: required and forbidden.
    let r = get("resources=VCPU:1&required=CUSTOM_GOLD", "1.36").await;
    assert_eq!(request_providers(&r.body), vec![vec![a.clone()]]);
    let r = get("resources=VCPU:1&required=!CUSTOM_GOLD", "1.36").await;
    assert_eq!(request_providers(&r.body), vec![vec![b.clone()]]);
    let r = get("resources=VCPU:1&required=!CUSTOM_GOLD", "1.21").await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "forbidden traits need 1.22"
    );
    // Aggregates.
    let r = get(&format!("resources=VCPU:1&member_of={agg}"), "1.36").await;
    assert_eq!(request_providers(&r.body), vec![vec![b.clone()]]);
    let r = get(&format!("resources=VCPU:1&member_of=!{agg}"), "1.36").await;
    assert_eq!(request_providers(&r.body), vec![vec![a.clone()]]);
    // Limit.
    let r = get("resources=VCPU:1&limit=1", "1.36").await;
    assert_eq!(request_providers(&r.body).len(), 1);
    assert_eq!(
        r.body["provider_summaries"].as_object().map(|m| m.len()),
        Some(1)
    );
    // Summaries list only requested classes before 1.27, all after.
    let r = get("resources=VCPU:1&limit=1", "1.26").await;
    let s = r.body["provider_summaries"].as_object().expect("summaries");
    let only = s.values().next().expect("one");
    assert_eq!(only["resources"].as_object().map(|m| m.len()), Some(1));
    assert!(only.get("root_provider_uuid").is_none());
    // The list form of allocation requests before 1.12.
    let r = get("resources=VCPU:2", "1.10").await;
    assert_eq!(
        r.body["allocation_requests"][0]["allocations"][0]["resource_provider"]["uuid"],
        json!(a)
    );
    assert!(r.body["allocation_requests"][0].get("mappings").is_none());
    // Nothing fits: an empty answer, not an error.
    let r = get("resources=VCPU:100", "1.36").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body,
        json!({"allocation_requests": [], "provider_summaries": {}})
    );
    // Bad requests.
    for (q, v) in [
        ("", "1.36"),
        ("resources=VCPU", "1.36"),
        ("resources=VCPU:0", "1.36"),
        ("resources=CUSTOM_NOPE:1", "1.36"),
        ("resources=VCPU:1&required=CUSTOM_NOPE", "1.36"),
        ("resources=VCPU:1&limit=0", "1.36"),
        ("resources=VCPU:1&limit=1", "1.15"),
        ("resources=VCPU:1&bogus=1", "1.36"),
        ("resources1=VCPU:1&resources2=MEMORY_MB:1", "1.36"),
        ("resources1=VCPU:1", "1.24"),
        ("resources=VCPU:1&member_of=xyz", "1.36"),
        ("resources=VCPU:1&same_subtree=_a,_b", "1.36"),
        ("resources=VCPU:1&resources=VCPU:2", "1.36"),
    ] {
        let r = get(q, v).await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "{q} at {v}: {:?}",
            r.body
        );
    }
    c.cleanup().await;
}

#[tokio::test]
async fn allocation_candidates_in_trees_and_groups() {
    let c = cloud().await;
    // A compute node with CPU and memory, and two NUMA-like children with VGPUs.
    let root = c.provider("cn", None).await;
    c.inventory(
        &root,
        json!({"VCPU": {"total": 4}, "MEMORY_MB": {"total": 2048}}),
    )
    .await;
    let g1 = c.provider("cn-gpu1", Some(&root)).await;
    let g2 = c.provider("cn-gpu2", Some(&root)).await;
    c.inventory(&g1, json!({"VGPU": {"total": 1}})).await;
    c.inventory(&g2, json!({"VGPU": {"total": 2}})).await;
    c.admin(Method::PUT, "/traits/CUSTOM_ROOT", "1.36", None)
        .await;
    c.admin(
        Method::PUT,
        &format!("/resource_providers/{root}/traits"),
        "1.36",
        Some(json!({"traits": ["CUSTOM_ROOT"], "resource_provider_generation": 1})),
    )
    .await;
    let get = |q: &str, v: &str| {
        let path = format!("/allocation_candidates?{q}");
        let (c, v) = (&c, v.to_string());
        async move {
            let r = c.admin(Method::GET, &path, &v, None).await;
            assert_eq!(r.status, StatusCode::OK, "{path}: {:?}", r.body);
            r
        }
    };
    let mut pair1 = vec![root.clone(), g1.clone()];
    pair1.sort();
    let mut pair2 = vec![root.clone(), g2.clone()];
    pair2.sort();
    // 1.29+: the unnumbered group spreads over the tree.
    let r = get("resources=VCPU:1,VGPU:1", "1.36").await;
    let mut got = request_providers(&r.body);
    got.sort();
    let mut want = vec![pair1.clone(), pair2.clone()];
    want.sort();
    assert_eq!(got, want);
    assert_eq!(
        r.body["provider_summaries"].as_object().map(|m| m.len()),
        Some(3)
    );
    assert_eq!(
        r.body["provider_summaries"][&g1]["parent_provider_uuid"],
        json!(root)
    );
    // Before 1.29 only single providers count.
    let r = get("resources=VCPU:1,VGPU:1", "1.28").await;
    assert!(request_providers(&r.body).is_empty());
    // Numbered groups: each from one provider; isolate keeps them apart.
    let r = get(
        "resources=VCPU:1&resources1=VGPU:1&resources2=VGPU:1&group_policy=isolate",
        "1.36",
    )
    .await;
    // The two VGPU providers, either way round (the mappings tell the two apart).
    let got = request_providers(&r.body);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got.iter().all(|ps| ps.len() == 3));
    let (m0, m1) = (
        &r.body["allocation_requests"][0]["mappings"],
        &r.body["allocation_requests"][1]["mappings"],
    );
    assert_ne!(m0["1"], m1["1"]);
    let m = &r.body["allocation_requests"][0]["mappings"];
    assert_eq!(m[""], json!([root]));
    let r = get(
        "resources1=VGPU:2&resources2=VGPU:1&group_policy=none",
        "1.36",
    )
    .await;
    // g2 has only 2 VGPU in all, so the second group must come from g1.
    let mut gpus = vec![g1.clone(), g2.clone()];
    gpus.sort();
    assert_eq!(request_providers(&r.body), vec![gpus]);
    assert_eq!(
        r.body["allocation_requests"][0]["mappings"]["1"],
        json!([g2])
    );
    let r = get(
        "resources1=VGPU:1&resources2=VGPU:1&group_policy=none",
        "1.36",
    )
    .await;
    assert!(!request_providers(&r.body).is_empty());
    // root_required, in_tree.
    let r = get("resources=VGPU:1&root_required=CUSTOM_ROOT", "1.36").await;
    assert_eq!(request_providers(&r.body).len(), 2);
    let r = get("resources=VGPU:1&root_required=!CUSTOM_ROOT", "1.36").await;
    assert!(request_providers(&r.body).is_empty());
    let other = c.provider("other", None).await;
    c.inventory(&other, json!({"VGPU": {"total": 1}})).await;
    let r = get(&format!("resources=VGPU:1&in_tree={other}"), "1.36").await;
    assert_eq!(request_providers(&r.body), vec![vec![other.clone()]]);
    c.cleanup().await;
}
