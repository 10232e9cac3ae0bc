//! API tests through the wrapped router with the fake driver, fake placement and image.

mod common;

use axum::http::{Method, StatusCode};
use common::*;
use serde_json::json;

#[tokio::test]
async fn versions_and_microversion_negotiation() {
    let c = cloud().await;
    let r = c.call(Method::GET, "/", None, None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["versions"][1]["version"], "2.60");
    assert_eq!(r.body["versions"][1]["min_version"], "2.1");
    let r = c.call(Method::GET, "/v2.1", None, None, None).await;
    assert_eq!(r.body["version"]["id"], "v2.1");
    assert!(
        r.header("x-compute-request-id")
            .is_some_and(|v| v.starts_with("req-"))
    );
    assert_eq!(
        r.header("x-compute-request-id"),
        r.header("x-openstack-request-id")
    );

    let r = c
        .call(
            Method::GET,
            "/v2.1/flavors",
            Some(MEMBER),
            None,
            Some("2.37"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("openstack-api-version"), Some("compute 2.37"));
    assert_eq!(r.header("x-openstack-nova-api-version"), Some("2.37"));
    let r = c
        .call(
            Method::GET,
            "/v2.1/flavors",
            Some(MEMBER),
            None,
            Some("2.61"),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_ACCEPTABLE);
    assert_eq!(r.body["notAcceptable"]["code"], 406);
    let r = c
        .call(
            Method::GET,
            "/v2.1/flavors",
            Some(MEMBER),
            None,
            Some("2.x"),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = c
        .call(
            Method::GET,
            "/v2.1/flavors",
            Some(MEMBER),
            None,
            Some("latest"),
        )
        .await;
    assert_eq!(r.header("openstack-api-version"), Some("compute 2.60"));
    // Unauthenticated and unknown.
    let r = c.call(Method::GET, "/v2.1/servers", None, None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = c.get("/v2.1/servers", "bogus").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = c.get("/v2.1/servers/nope", MEMBER).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["itemNotFound"]["code"], 404);
}

#[tokio::test]
async fn flavors_extra_specs_and_access() {
    let c = cloud().await;
    let r = c
        .post(
            "/v2.1/flavors",
            MEMBER,
            json!({"flavor": {"name": "x", "vcpus": 1, "ram": 64, "disk": 1}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    c.flavor("1", 1, 512).await;
    let r = c
        .post(
            "/v2.1/flavors",
            ADMIN,
            json!({"flavor": {"name": "f-1", "vcpus": 1, "ram": 64, "disk": 1}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    let r = c
        .post(
            "/v2.1/flavors",
            ADMIN,
            json!({"flavor": {"name": "bad", "vcpus": 0, "ram": 64, "disk": 1}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = c.get("/v2.1/flavors/1", MEMBER).await;
    assert_eq!(r.body["flavor"]["ram"], 512);
    assert_eq!(r.body["flavor"]["swap"], "");
    assert_eq!(r.body["flavor"]["os-flavor-access:is_public"], true);
    assert!(r.body["flavor"].get("description").is_none());
    let r = c
        .call(
            Method::GET,
            "/v2.1/flavors/1",
            Some(MEMBER),
            None,
            Some("2.55"),
        )
        .await;
    assert!(r.body["flavor"]["description"].is_null());
    let r = c.get("/v2.1/flavors/detail", MEMBER).await;
    assert_eq!(r.body["flavors"].as_array().map(Vec::len), Some(1));
    let r = c.get("/v2.1/flavors/404", MEMBER).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let r = c
        .post(
            "/v2.1/flavors/1/os-extra_specs",
            ADMIN,
            json!({"extra_specs": {"hw:cpu_policy": "shared"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = c
        .get("/v2.1/flavors/1/os-extra_specs/hw:cpu_policy", MEMBER)
        .await;
    assert_eq!(r.body["hw:cpu_policy"], "shared");
    let r = c
        .call(
            Method::PUT,
            "/v2.1/flavors/1/os-extra_specs/a",
            Some(ADMIN),
            Some(json!({"b": "1"})),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = c
        .post(
            "/v2.1/flavors/1/os-extra_specs",
            MEMBER,
            json!({"extra_specs": {"a": "1"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Private flavor: invisible to the member until access is granted.
    let r = c
        .post("/v2.1/flavors", ADMIN, json!({"flavor": {"name": "priv", "id": "p", "vcpus": 1, "ram": 64, "disk": 1, "os-flavor-access:is_public": false}}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        c.get("/v2.1/flavors/p", MEMBER).await.status,
        StatusCode::NOT_FOUND
    );
    let r = c
        .post(
            "/v2.1/flavors/p/action",
            ADMIN,
            json!({"addTenantAccess": {"tenant": P1}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = c
        .post(
            "/v2.1/flavors/p/action",
            ADMIN,
            json!({"addTenantAccess": {"tenant": P1}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        c.get("/v2.1/flavors/p", MEMBER).await.status,
        StatusCode::OK
    );
    let r = c.get("/v2.1/flavors/1/os-flavor-access", ADMIN).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = c
        .call(Method::DELETE, "/v2.1/flavors/p", Some(ADMIN), None, None)
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn keypairs_generate_import_and_errors() {
    let c = cloud().await;
    let r = c
        .call(
            Method::POST,
            "/v2.1/os-keypairs",
            Some(MEMBER),
            Some(json!({"keypair": {"name": "gen"}})),
            Some("2.2"),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let kp = &r.body["keypair"];
    assert!(
        kp["private_key"]
            .as_str()
            .is_some_and(|p| p.contains("PRIVATE KEY"))
    );
    assert_eq!(kp["type"], "ssh");
    assert_eq!(kp["user_id"], "u-member");
    let public = kp["public_key"].as_str().expect("public").to_string();
    let r = c
        .post(
            "/v2.1/os-keypairs",
            MEMBER,
            json!({"keypair": {"name": "imp", "public_key": public}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body["keypair"].get("private_key").is_none());
    assert_eq!(r.body["keypair"]["fingerprint"], kp["fingerprint"]);
    let r = c
        .post(
            "/v2.1/os-keypairs",
            MEMBER,
            json!({"keypair": {"name": "imp", "public_key": public}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = c
        .post(
            "/v2.1/os-keypairs",
            MEMBER,
            json!({"keypair": {"name": "bad", "public_key": "ssh-rsa nonsense"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = c
        .post(
            "/v2.1/os-keypairs",
            MEMBER,
            json!({"keypair": {"name": "bad/name"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = c.get("/v2.1/os-keypairs", MEMBER).await;
    assert_eq!(r.body["keypairs"].as_array().map(Vec::len), Some(2));
    assert!(r.body["keypairs"][0]["keypair"].get("type").is_none());
    let r = c.get("/v2.1/os-keypairs/gen", MEMBER).await;
    assert_eq!(r.body["keypair"]["deleted"], false);
    assert!(r.body["keypair"]["id"].is_i64());
    // Per user: another user sees nothing of them.
    assert_eq!(
        c.get("/v2.1/os-keypairs/gen", OTHER).await.status,
        StatusCode::NOT_FOUND
    );
    let r = c
        .call(
            Method::DELETE,
            "/v2.1/os-keypairs/gen",
            Some(MEMBER),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let r = c
        .call(
            Method::DELETE,
            "/v2.1/os-keypairs/gen",
            Some(MEMBER),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn server_lifecycle_actions_and_events() {
    let c = cloud().await;
    c.flavor("1", 1, 512).await;
    c.flavor("2", 2, 1024).await;
    let r = c
        .post("/v2.1/servers", MEMBER, json!({"server": {"name": "vm1", "imageRef": IMAGE, "flavorRef": "1", "metadata": {"a": "b"}}}))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    assert!(r.body["server"]["adminPass"].is_string());
    let id = r.body["server"]["id"].as_str().expect("id").to_string();
    let s = c.wait(&id, "ACTIVE").await;
    assert_eq!(s["OS-EXT-STS:power_state"], 1);
    assert_eq!(s["OS-EXT-SRV-ATTR:host"], "host1");
    assert_eq!(s["addresses"], json!({}));
    assert_eq!(s["metadata"]["a"], "b");
    assert_eq!(s["flavor"]["id"], "1");

    // Member view: no admin attributes; 2.47 embeds the flavor.
    let r = c
        .call(
            Method::GET,
            &format!("/v2.1/servers/{id}"),
            Some(MEMBER),
            None,
            Some("2.47"),
        )
        .await;
    assert!(r.body["server"].get("OS-EXT-SRV-ATTR:host").is_none());
    assert_eq!(r.body["server"]["flavor"]["original_name"], "f-1");
    assert_eq!(r.body["server"]["locked"], false);
    assert_eq!(r.body["server"]["tags"], json!([]));
    // Other projects see nothing; readers cannot act.
    assert_eq!(
        c.get(&format!("/v2.1/servers/{id}"), OTHER).await.status,
        StatusCode::NOT_FOUND
    );
    let r = c
        .post(
            &format!("/v2.1/servers/{id}/action"),
            READER,
            json!({"os-stop": null}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Lists.
    let r = c.get("/v2.1/servers", MEMBER).await;
    assert_eq!(r.body["servers"][0]["id"], id.as_str());
    assert_eq!(
        c.get("/v2.1/servers", OTHER).await.body["servers"],
        json!([])
    );
    let r = c
        .get("/v2.1/servers/detail?status=ACTIVE&name=^vm", MEMBER)
        .await;
    assert_eq!(r.body["servers"].as_array().map(Vec::len), Some(1));
    let r = c.get("/v2.1/servers/detail?status=SHUTOFF", MEMBER).await;
    assert_eq!(r.body["servers"], json!([]));

    // Update: the core view only.
    let r = c
        .call(
            Method::PUT,
            &format!("/v2.1/servers/{id}"),
            Some(MEMBER),
            Some(json!({"server": {"name": "vm1b"}})),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["server"]["name"], "vm1b");
    assert!(r.body["server"].get("key_name").is_none());

    // Power actions and state conflicts.
    let action_path = format!("/v2.1/servers/{id}/action");
    let act = |body: serde_json::Value| c.post(&action_path, MEMBER, body);
    assert_eq!(
        act(json!({"os-start": null})).await.status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        act(json!({"os-stop": null})).await.status,
        StatusCode::ACCEPTED
    );
    c.wait(&id, "SHUTOFF").await;
    assert_eq!(
        act(json!({"pause": null})).await.status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        act(json!({"os-start": null})).await.status,
        StatusCode::ACCEPTED
    );
    c.wait(&id, "ACTIVE").await;
    assert_eq!(
        act(json!({"pause": null})).await.status,
        StatusCode::ACCEPTED
    );
    c.wait(&id, "PAUSED").await;
    assert_eq!(
        act(json!({"unpause": null})).await.status,
        StatusCode::ACCEPTED
    );
    c.wait(&id, "ACTIVE").await;
    assert_eq!(
        act(json!({"suspend": null})).await.status,
        StatusCode::ACCEPTED
    );
    c.wait(&id, "SUSPENDED").await;
    assert_eq!(
        act(json!({"resume": null})).await.status,
        StatusCode::ACCEPTED
    );
    c.wait(&id, "ACTIVE").await;
    assert_eq!(
        act(json!({"reboot": {"type": "HARD"}})).await.status,
        StatusCode::ACCEPTED
    );
    c.wait(&id, "ACTIVE").await;
    assert_eq!(
        act(json!({"reboot": {"type": "BOGUS"}})).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        act(json!({"fly": null})).await.status,
        StatusCode::BAD_REQUEST
    );
    let r = act(json!({"os-getConsoleOutput": {"length": 2}})).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body["output"].as_str().map(|s| s.lines().count()),
        Some(2)
    );

    // Resize, confirm; the allocation follows the flavor.
    assert_eq!(
        act(json!({"resize": {"flavorRef": "1"}})).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        act(json!({"resize": {"flavorRef": "2"}})).await.status,
        StatusCode::ACCEPTED
    );
    c.wait(&id, "VERIFY_RESIZE").await;
    let provider = c.agent.node.uuid.clone();
    use oxstack_compute::clients::PlacementClient;
    assert_eq!(
        c.placement.usages(&provider).await.expect("usage")["VCPU"],
        3
    );
    let r = act(json!({"confirmResize": null})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    let s = c.wait(&id, "ACTIVE").await;
    assert_eq!(s["flavor"]["id"], "2");
    assert_eq!(
        c.placement.usages(&provider).await.expect("usage")["VCPU"],
        2
    );
    assert_eq!(
        act(json!({"confirmResize": null})).await.status,
        StatusCode::CONFLICT
    );

    // Lock: the owner can no longer act.
    assert_eq!(
        act(json!({"lock": null})).await.status,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        act(json!({"os-stop": null})).await.status,
        StatusCode::CONFLICT
    );
    let r = c
        .call(
            Method::DELETE,
            &format!("/v2.1/servers/{id}"),
            Some(MEMBER),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        act(json!({"unlock": null})).await.status,
        StatusCode::ACCEPTED
    );

    // Metadata and tags.
    let r = c
        .post(
            &format!("/v2.1/servers/{id}/metadata"),
            MEMBER,
            json!({"metadata": {"x": "1"}}),
        )
        .await;
    assert_eq!(r.body["metadata"], json!({"a": "b", "x": "1"}));
    let r = c
        .call(
            Method::PUT,
            &format!("/v2.1/servers/{id}/tags/t1"),
            Some(MEMBER),
            None,
            Some("2.26"),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = c
        .call(
            Method::GET,
            &format!("/v2.1/servers/{id}/tags"),
            Some(MEMBER),
            None,
            Some("2.26"),
        )
        .await;
    assert_eq!(r.body["tags"], json!(["t1"]));
    let r = c.get("/v2.1/servers?tags=t1", MEMBER).await;
    assert_eq!(r.body["servers"].as_array().map(Vec::len), Some(1));

    // Instance actions with events.
    let r = c
        .get(&format!("/v2.1/servers/{id}/os-instance-actions"), MEMBER)
        .await;
    let actions: Vec<&str> = r.body["instanceActions"]
        .as_array()
        .expect("actions")
        .iter()
        .filter_map(|a| a["action"].as_str())
        .collect();
    assert!(
        actions.contains(&"create") && actions.contains(&"stop") && actions.contains(&"resize"),
        "{actions:?}"
    );
    let create = r.body["instanceActions"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["action"] == "create"))
        .expect("create action");
    let rid = create["request_id"].as_str().expect("rid");
    let r = c
        .get(
            &format!("/v2.1/servers/{id}/os-instance-actions/{rid}"),
            ADMIN,
        )
        .await;
    let events = r.body["instanceAction"]["events"]
        .as_array()
        .expect("events");
    assert!(events.iter().any(|e| e["event"] == "compute__do_build_and_run_instance" && e["result"] == "Success"));
    let r = c
        .get(
            &format!("/v2.1/servers/{id}/os-instance-actions/{rid}"),
            MEMBER,
        )
        .await;
    assert!(r.body["instanceAction"].get("events").is_none());

    // Delete: gone, allocation released.
    let r = c
        .call(
            Method::DELETE,
            &format!("/v2.1/servers/{id}"),
            Some(MEMBER),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    c.wait(&id, "DELETED").await;
    assert!(c.placement.consumers().is_empty());
}

#[tokio::test]
async fn create_validation_and_quota() {
    let c = cloud().await;
    c.flavor("1", 1, 512).await;
    let create =
        |body: serde_json::Value| c.post("/v2.1/servers", MEMBER, json!({ "server": body }));
    let r = create(
        json!({"name": "x", "imageRef": "70a599e0-31e7-49b7-b260-000000000000", "flavorRef": "1"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.body["badRequest"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("Can not find requested image"))
    );
    let r = create(json!({"name": "x", "imageRef": IMAGE, "flavorRef": "99"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = create(json!({"imageRef": IMAGE, "flavorRef": "1"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r =
        create(json!({"name": "x", "imageRef": IMAGE, "flavorRef": "1", "key_name": "nope"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r =
        create(json!({"name": "x", "imageRef": IMAGE, "flavorRef": "1", "user_data": "!!!"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = c
        .call(
            Method::POST,
            "/v2.1/servers",
            Some(MEMBER),
            Some(json!({"server": {"name": "x", "imageRef": IMAGE, "flavorRef": "1"}})),
            Some("2.37"),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "networks is required from 2.37"
    );
    let r = c
        .call(Method::POST, "/v2.1/servers", Some(MEMBER), Some(json!({"server": {"name": "x", "imageRef": IMAGE, "flavorRef": "1", "networks": "none"}})), Some("2.37"))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);

    // Quota: one more instance than allowed is refused with Nova's 403.
    let r = c
        .call(
            Method::PUT,
            &format!("/v2.1/os-quota-sets/{P1}"),
            Some(MEMBER),
            Some(json!({"quota_set": {"instances": 1}})),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = c
        .call(
            Method::PUT,
            &format!("/v2.1/os-quota-sets/{P1}"),
            Some(ADMIN),
            Some(json!({"quota_set": {"instances": 1}})),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["quota_set"]["instances"], 1);
    let r = create(json!({"name": "y", "imageRef": IMAGE, "flavorRef": "1"})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        r.body["forbidden"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Quota exceeded for instances")),
        "{:?}",
        r.body
    );
    let r = c
        .get(&format!("/v2.1/os-quota-sets/{P1}/detail"), MEMBER)
        .await;
    assert_eq!(r.body["quota_set"]["instances"]["in_use"], 1);
    let r = c.get("/v2.1/limits", MEMBER).await;
    assert_eq!(r.body["limits"]["absolute"]["maxTotalInstances"], 1);
    assert_eq!(r.body["limits"]["absolute"]["totalInstancesUsed"], 1);
    let r = c
        .call(
            Method::GET,
            "/v2.1/limits",
            Some(MEMBER),
            None,
            Some("2.57"),
        )
        .await;
    assert!(r.body["limits"]["absolute"].get("maxPersonality").is_none());
    let r = c.get(&format!("/v2.1/os-quota-sets/{P1}"), OTHER).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = c.get("/v2.1/os-quota-class-sets/default", ADMIN).await;
    assert_eq!(r.body["quota_class_set"]["cores"], 20);
}

#[tokio::test]
async fn build_failure_is_retried_then_faults() {
    let c = cloud().await;
    c.flavor("1", 1, 512).await;
    // One failure, one host, one retry: the retry has no other host → ERROR with a fault.
    c.driver.fail_next_spawns(1);
    let id = c.server(MEMBER, "doomed", "1").await;
    let s = c.wait(&id, "ERROR").await;
    assert_eq!(s["fault"]["code"], 500);
    assert!(
        s["fault"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("retries")),
        "{s:?}"
    );
    assert!(
        c.placement.consumers().is_empty(),
        "allocation of a failed build is released"
    );

    // With a second host the retry succeeds there.
    let second = fake_driver();
    let _agent2 = c
        .compute
        .start_agent("host2", second)
        .await
        .expect("agent 2");
    c.driver.fail_next_spawns(1);
    let id = c.server(MEMBER, "lucky", "1").await;
    let s = c.wait(&id, "ACTIVE").await;
    assert_eq!(s["OS-EXT-SRV-ATTR:host"], "host2");

    // Services and hypervisors see both hosts.
    let r = c.get("/v2.1/os-services", ADMIN).await;
    assert_eq!(r.body["services"].as_array().map(Vec::len), Some(2));
    assert_eq!(r.body["services"][0]["state"], "up");
    assert_eq!(
        c.get("/v2.1/os-services", MEMBER).await.status,
        StatusCode::FORBIDDEN
    );
    let r = c.get("/v2.1/os-hypervisors/detail", ADMIN).await;
    assert_eq!(r.body["hypervisors"].as_array().map(Vec::len), Some(2));
    let r = c.get("/v2.1/os-availability-zone", MEMBER).await;
    assert_eq!(r.body["availabilityZoneInfo"][0]["zoneName"], "nova");

    // A disabled host is not scheduled to.
    let r = c
        .call(
            Method::PUT,
            "/v2.1/os-services/disable",
            Some(ADMIN),
            Some(json!({"host": "host2", "binary": "nova-compute"})),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["service"]["status"], "disabled");
    let id = c.server(MEMBER, "placed", "1").await;
    let s = c.wait(&id, "ACTIVE").await;
    assert_eq!(s["OS-EXT-SRV-ATTR:host"], "host1");
}

#[tokio::test]
async fn server_groups_anti_affinity() {
    let c = cloud().await;
    c.flavor("1", 1, 512).await;
    let _agent2 = c
        .compute
        .start_agent("host2", fake_driver())
        .await
        .expect("agent 2");
    let r = c
        .post(
            "/v2.1/os-server-groups",
            MEMBER,
            json!({"server_group": {"name": "g", "policies": ["anti-affinity"]}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let g = r.body["server_group"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let mut hosts = Vec::new();
    for n in 0..3 {
        let r = c
            .post("/v2.1/servers", MEMBER, json!({"server": {"name": format!("a{n}"), "imageRef": IMAGE, "flavorRef": "1"}, "os:scheduler_hints": {"group": g}}))
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED);
        let id = r.body["server"]["id"].as_str().expect("id").to_string();
        let s = c.wait(&id, if n < 2 { "ACTIVE" } else { "ERROR" }).await;
        hosts.push(s["OS-EXT-SRV-ATTR:host"].clone());
    }
    assert_ne!(hosts[0], hosts[1]);
    let r = c.get(&format!("/v2.1/os-server-groups/{g}"), MEMBER).await;
    assert_eq!(
        r.body["server_group"]["members"].as_array().map(Vec::len),
        Some(3)
    );
}

#[tokio::test]
async fn restart_keeps_servers_consistent() {
    let c = cloud().await;
    c.flavor("1", 1, 512).await;
    let id = c.server(MEMBER, "survivor", "1").await;
    c.wait(&id, "ACTIVE").await;
    let stopped = c.server(MEMBER, "sleeper", "1").await;
    c.wait(&stopped, "ACTIVE").await;
    c.post(
        &format!("/v2.1/servers/{stopped}/action"),
        MEMBER,
        json!({"os-stop": null}),
    )
    .await;
    c.wait(&stopped, "SHUTOFF").await;
    // A server caught mid-build and one caught mid-delete when the process died.
    use oxstack_compute::store::{InstanceUpdate, Store};
    let store = Store::new(c.db.clone());
    let building = c.server(MEMBER, "interrupted", "1").await;
    c.wait(&building, "ACTIVE").await;
    store
        .instance_update(
            &building,
            &InstanceUpdate {
                vm_state: Some("building".into()),
                task_state: Some(Some("spawning".into())),
                ..Default::default()
            },
        )
        .await
        .expect("simulate");
    store
        .instance_update(
            &id,
            &InstanceUpdate {
                task_state: Some(Some("deleting".into())),
                ..Default::default()
            },
        )
        .await
        .expect("simulate");
    c.agent.stop();

    // A new process: fresh driver (the fake keeps nothing), same database and placement.
    let c2 = reopen(
        c.opts.clone(),
        c.fakes(),
        c.db.clone(),
        c.dir.clone(),
        fake_driver(),
        "host1",
    )
    .await;
    c2.wait(&id, "DELETED").await;
    let s = c2.wait(&building, "ERROR").await;
    assert!(
        s["fault"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("interrupted"))
    );
    let s = c2.wait(&stopped, "SHUTOFF").await;
    assert_eq!(s["OS-EXT-STS:power_state"], 4);
    use oxstack_compute::agent::ComputeDriver;
    assert_eq!(
        c2.driver.power_state(&stopped).await,
        4,
        "the driver has it back, powered off"
    );
    let mut live: Vec<String> = vec![stopped.clone(), building.clone()];
    live.sort();
    assert_eq!(
        c2.placement.consumers(),
        live,
        "allocations match the servers that exist"
    );
}

#[tokio::test]
async fn server_list_paging_sorting_and_links() {
    let c = cloud().await;
    c.flavor("1", 1, 512).await;
    // Five servers of one request share their created_at: the id breaks the tie.
    let r = c
        .post(
            "/v2.1/servers",
            MEMBER,
            json!({"server": {"name": "x", "imageRef": IMAGE, "flavorRef": "1", "min_count": 5}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    c.server(MEMBER, "y", "1").await;
    c.server(MEMBER, "a", "1").await;
    let ids = |r: &Resp| -> Vec<String> {
        r.body["servers"]
            .as_array()
            .expect("servers")
            .iter()
            .map(|s| s["id"].as_str().expect("id").to_string())
            .collect()
    };
    let all = c.get("/v2.1/servers/detail", MEMBER).await;
    assert_eq!(all.status, StatusCode::OK);
    let all_ids = ids(&all);
    assert_eq!(all_ids.len(), 7);
    assert!(all.body.get("servers_links").is_none());
    // Newest first, then the id descending among the five created together.
    let tied: Vec<&String> = all_ids[2..].iter().collect();
    let mut desc = tied.clone();
    desc.sort_by(|a, b| b.cmp(a));
    assert_eq!(tied, desc);

    // Pages of two, following the next links, join to the whole list.
    let mut path = "/v2.1/servers?limit=2".to_string();
    let mut seen = Vec::new();
    loop {
        let r = c.get(&path, MEMBER).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {:?}", r.body);
        let page = ids(&r);
        seen.extend(page.clone());
        let Some(next) = r.body["servers_links"][0]["href"].as_str() else {
            assert!(page.len() < 2, "a full page links the next one");
            break;
        };
        assert_eq!(r.body["servers_links"][0]["rel"], "next");
        assert!(next.contains("limit=2"), "{next}");
        assert!(next.ends_with(&format!("marker={}", page[1])), "{next}");
        path = format!("/v2.1/servers?{}", next.split_once('?').expect("query").1);
    }
    assert_eq!(seen, all_ids);
    // A full last page still links (Nova cannot know it is the last).
    let r = c
        .get(
            &format!("/v2.1/servers?limit=1&marker={}", all_ids[5]),
            MEMBER,
        )
        .await;
    assert_eq!(ids(&r), [all_ids[6].clone()]);
    assert!(r.body["servers_links"].is_array());
    let r = c.get("/v2.1/servers?limit=0", MEMBER).await;
    assert_eq!((ids(&r).len(), r.body.get("servers_links")), (0, None));

    // The name regex stays exact with paging.
    let r = c.get("/v2.1/servers?name=x-[135]&limit=2", MEMBER).await;
    let first = ids(&r);
    assert_eq!(first.len(), 2);
    let r = c
        .get(
            &format!("/v2.1/servers?name=x-[135]&limit=2&marker={}", first[1]),
            MEMBER,
        )
        .await;
    assert_eq!(ids(&r).len(), 1);
    assert!(r.body.get("servers_links").is_none());

    // Sort keys and directions.
    let r = c
        .get("/v2.1/servers?sort_key=display_name&sort_dir=asc", MEMBER)
        .await;
    let names: Vec<&str> = r.body["servers"]
        .as_array()
        .expect("servers")
        .iter()
        .map(|s| s["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["a", "x-1", "x-2", "x-3", "x-4", "x-5", "y"]);
    let r = c
        .get(
            "/v2.1/servers?sort_key=display_name&sort_key=created_at&sort_dir=desc",
            MEMBER,
        )
        .await;
    assert_eq!(r.body["servers"][0]["name"], "y");
    assert_eq!(
        c.get("/v2.1/servers?sort_key=host", MEMBER).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        c.get("/v2.1/servers?sort_key=host", ADMIN).await.status,
        StatusCode::OK
    );
    // Ignored before 2.75 (with its direction), then invalid.
    let r = c
        .get("/v2.1/servers?sort_key=id&sort_dir=asc", MEMBER)
        .await;
    assert_eq!(ids(&r), all_ids);
    for bad in [
        "sort_key=nope",
        "sort_dir=up",
        "sort_dir=asc&sort_dir=desc",
        "limit=x",
        "limit=-1",
    ] {
        let r = c.get(&format!("/v2.1/servers?{bad}"), MEMBER).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
    }

    // Markers: unknown → 400; another project's server still positions the page (Nova).
    let r = c.get("/v2.1/servers?marker=nope", MEMBER).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["badRequest"]["message"], "marker [nope] not found");
    let theirs = c.server(OTHER, "z", "1").await;
    let r = c
        .get(&format!("/v2.1/servers?marker={theirs}"), MEMBER)
        .await;
    assert_eq!(ids(&r), all_ids);
}
