//! The Neutron API through the wrapped router: discovery, networks, subnets, ports and IPAM
//! conflicts, security groups, routers and floating IPs, quotas, project isolation.

mod common;

use axum::http::StatusCode;
use common::*;
use serde_json::json;

#[tokio::test]
async fn discovery_and_extensions() {
    let c = cloud().await;
    let r = c.call(axum::http::Method::GET, "/", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["versions"][0]["id"], "v2.0");
    let r = c.get("/v2.0/extensions", MEMBER).await;
    let aliases: Vec<&str> = r.body["extensions"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|e| e["alias"].as_str())
        .collect();
    for a in [
        "router",
        "security-group",
        "external-net",
        "quotas",
        "binding",
        "subnet_allocation",
        "service-type",
        "tag",
        "ip-substring-filtering",
        "dvr",
    ] {
        assert!(aliases.contains(&a), "{a}");
    }
    assert_eq!(
        c.get("/v2.0/extensions/router", MEMBER).await.status,
        StatusCode::OK
    );
    assert_eq!(
        c.get("/v2.0/extensions/nope", MEMBER).await.status,
        StatusCode::NOT_FOUND
    );
    let r = c
        .call(axum::http::Method::GET, "/v2.0/networks", None, None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn network_subnet_port_lifecycle_and_ipam_errors() {
    let c = cloud().await;
    let r = c
        .post("/v2.0/networks", MEMBER, json!({"network": {"name": "n1"}}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let net = r.body["network"]["id"].as_str().expect("id").to_string();
    assert_eq!(r.body["network"]["status"], "ACTIVE");
    assert!(r.body["network"].get("provider:network_type").is_none());
    let r = c
        .post(
            "/v2.0/subnets",
            MEMBER,
            json!({"subnet": {"network_id": net, "ip_version": 4, "cidr": "10.0.0.0/29"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let subnet = r.body["subnet"]["id"].as_str().expect("id").to_string();
    assert_eq!(r.body["subnet"]["gateway_ip"], "10.0.0.1");
    assert_eq!(
        r.body["subnet"]["allocation_pools"][0],
        json!({"start": "10.0.0.2", "end": "10.0.0.6"})
    );
    let r = c
        .post(
            "/v2.0/subnets",
            MEMBER,
            json!({"subnet": {"network_id": net, "ip_version": 4, "cidr": "10.0.0.0/24"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = c
        .post(
            "/v2.0/ports",
            ADMIN,
            json!({"port": {"network_id": net, "fixed_ips": [{"ip_address": "10.0.0.3"}]}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let r = c
        .post(
            "/v2.0/ports",
            ADMIN,
            json!({"port": {"network_id": net, "fixed_ips": [{"ip_address": "10.0.0.3"}]}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.error_type(), "IpAddressAlreadyAllocated");
    let mut ports = vec![];
    for _ in 0..4 {
        let r = c
            .post("/v2.0/ports", MEMBER, json!({"port": {"network_id": net}}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        assert!(
            r.body["port"]["mac_address"]
                .as_str()
                .expect("mac")
                .starts_with("fa:16:3e:")
        );
        ports.push(r.body["port"]["id"].as_str().expect("id").to_string());
    }
    let r = c
        .post("/v2.0/ports", MEMBER, json!({"port": {"network_id": net}}))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.error_type(), "IpAddressGenerationFailure");
    // Filters, fields and pagination.
    let r = c
        .get("/v2.0/ports?fixed_ips=ip_address_substr%3D0.0.3", ADMIN)
        .await;
    assert_eq!(r.body["ports"].as_array().expect("ports").len(), 1);
    let r = c
        .get(
            &format!("/v2.0/ports?network_id={net}&fields=id&limit=2"),
            ADMIN,
        )
        .await;
    assert_eq!(r.body["ports"].as_array().expect("ports").len(), 2);
    assert_eq!(r.body["ports"][0].as_object().expect("obj").len(), 1);
    assert_eq!(r.body["ports_links"][0]["rel"], "next");
    // Network in use, then freed.
    let r = c.delete(&format!("/v2.0/networks/{net}"), MEMBER).await;
    assert_eq!(r.error_type(), "NetworkInUse");
    let r = c.delete(&format!("/v2.0/subnets/{subnet}"), MEMBER).await;
    assert_eq!(r.error_type(), "SubnetInUse");
    let all = c.get("/v2.0/ports", ADMIN).await;
    for p in all.body["ports"].as_array().expect("ports") {
        let id = p["id"].as_str().expect("id");
        assert_eq!(
            c.delete(&format!("/v2.0/ports/{id}"), ADMIN).await.status,
            StatusCode::NO_CONTENT
        );
    }
    assert_eq!(
        c.delete(&format!("/v2.0/networks/{net}"), MEMBER)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let r = c.get(&format!("/v2.0/networks/{net}"), MEMBER).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.error_type(), "NetworkNotFound");
}

#[tokio::test]
async fn projects_are_isolated_and_shared_networks_visible() {
    let c = cloud().await;
    let r = c
        .post(
            "/v2.0/networks",
            MEMBER,
            json!({"network": {"name": "private"}}),
        )
        .await;
    let private = r.body["network"]["id"].as_str().expect("id").to_string();
    let r = c.get(&format!("/v2.0/networks/{private}"), OTHER).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = c
        .put(
            &format!("/v2.0/networks/{private}"),
            OTHER,
            json!({"network": {"name": "x"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = c
        .post(
            "/v2.0/networks",
            MEMBER,
            json!({"network": {"shared": true}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = c
        .post(
            "/v2.0/networks",
            ADMIN,
            json!({"network": {"name": "shared", "shared": true}}),
        )
        .await;
    let shared = r.body["network"]["id"].as_str().expect("id").to_string();
    assert_eq!(r.body["network"]["provider:network_type"], "vxlan");
    let r = c.get(&format!("/v2.0/networks/{shared}"), OTHER).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = c
        .put(
            &format!("/v2.0/networks/{shared}"),
            OTHER,
            json!({"network": {"name": "x"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let names: Vec<String> = c.get("/v2.0/networks", OTHER).await.body["networks"]
        .as_array()
        .expect("list")
        .iter()
        .map(|n| n["name"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(names, vec!["shared".to_string()]);
}

#[tokio::test]
async fn security_groups_default_and_rules() {
    let c = cloud().await;
    let r = c.get("/v2.0/security-groups", MEMBER).await;
    let groups = r.body["security_groups"].as_array().expect("groups");
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0]["name"], "default");
    assert_eq!(
        groups[0]["security_group_rules"]
            .as_array()
            .expect("rules")
            .len(),
        4
    );
    let r = c
        .post(
            "/v2.0/security-groups",
            MEMBER,
            json!({"security_group": {"name": "web"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let sg = r.body["security_group"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let rule = json!({"security_group_rule": {"security_group_id": sg, "direction": "ingress", "protocol": "tcp", "port_range_min": 80, "port_range_max": 80}});
    assert_eq!(
        c.post("/v2.0/security-group-rules", MEMBER, rule.clone())
            .await
            .status,
        StatusCode::CREATED
    );
    let r = c.post("/v2.0/security-group-rules", MEMBER, rule).await;
    assert_eq!(r.error_type(), "SecurityGroupRuleExists");
    let bad = json!({"security_group_rule": {"security_group_id": sg, "direction": "ingress", "protocol": "tcp", "port_range_min": 90, "port_range_max": 80}});
    assert_eq!(
        c.post("/v2.0/security-group-rules", MEMBER, bad)
            .await
            .error_type(),
        "SecurityGroupInvalidPortRange"
    );
    let bad = json!({"security_group_rule": {"security_group_id": sg, "direction": "ingress", "protocol": "bogus"}});
    assert_eq!(
        c.post("/v2.0/security-group-rules", MEMBER, bad)
            .await
            .error_type(),
        "SecurityGroupRuleInvalidProtocol"
    );
    assert_eq!(
        c.get(&format!("/v2.0/security-groups/{sg}"), OTHER)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn router_interfaces_and_floating_ips() {
    let c = cloud().await;
    let ext = c
        .post("/v2.0/networks", ADMIN, json!({"network": {"name": "public", "router:external": true, "provider:network_type": "flat", "provider:physical_network": "public"}}))
        .await;
    assert_eq!(ext.status, StatusCode::CREATED, "{:?}", ext.body);
    let ext = ext.body["network"]["id"].as_str().expect("id").to_string();
    c.post(
        "/v2.0/subnets",
        ADMIN,
        json!({"subnet": {"network_id": ext, "ip_version": 4, "cidr": "203.0.113.0/24"}}),
    )
    .await;
    let net = c
        .post("/v2.0/networks", MEMBER, json!({"network": {}}))
        .await
        .body["network"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let sub = c
        .post(
            "/v2.0/subnets",
            MEMBER,
            json!({"subnet": {"network_id": net, "ip_version": 4, "cidr": "10.1.0.0/24"}}),
        )
        .await
        .body["subnet"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let port = c
        .post("/v2.0/ports", MEMBER, json!({"port": {"network_id": net}}))
        .await
        .body["port"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let r = c
        .post(
            "/v2.0/routers",
            MEMBER,
            json!({"router": {"name": "r", "external_gateway_info": {"network_id": ext}}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let router = r.body["router"]["id"].as_str().expect("id").to_string();
    assert!(
        r.body["router"]["external_gateway_info"]["external_fixed_ips"][0]["ip_address"]
            .as_str()
            .expect("gw")
            .starts_with("203.0.113.")
    );
    // Not reachable before the interface exists.
    let r = c
        .post(
            "/v2.0/floatingips",
            MEMBER,
            json!({"floatingip": {"floating_network_id": ext, "port_id": port}}),
        )
        .await;
    assert_eq!(r.error_type(), "ExternalGatewayForFloatingIPNotFound");
    let r = c
        .put(
            &format!("/v2.0/routers/{router}/add_router_interface"),
            MEMBER,
            json!({"subnet_id": sub}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = c
        .post(
            "/v2.0/floatingips",
            MEMBER,
            json!({"floatingip": {"floating_network_id": ext, "port_id": port}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["floatingip"]["router_id"], json!(router));
    let fip = r.body["floatingip"]["id"].as_str().expect("id").to_string();
    assert_eq!(
        c.delete(&format!("/v2.0/routers/{router}"), MEMBER)
            .await
            .error_type(),
        "RouterInUse"
    );
    // Deleting the port disassociates the floating IP.
    assert_eq!(
        c.delete(&format!("/v2.0/ports/{port}"), MEMBER)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        c.get(&format!("/v2.0/floatingips/{fip}"), MEMBER)
            .await
            .body["floatingip"]["port_id"],
        json!(null)
    );
    assert_eq!(
        c.delete(&format!("/v2.0/floatingips/{fip}"), MEMBER)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let r = c
        .put(
            &format!("/v2.0/routers/{router}/remove_router_interface"),
            MEMBER,
            json!({"subnet_id": sub}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        c.delete(&format!("/v2.0/routers/{router}"), MEMBER)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn quotas_are_enforced() {
    let c = cloud().await;
    let r = c
        .put(
            "/v2.0/quotas/alice-project",
            MEMBER,
            json!({"quota": {"network": 1}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = c
        .put(
            "/v2.0/quotas/alice-project",
            ADMIN,
            json!({"quota": {"network": 1}}),
        )
        .await;
    assert_eq!(r.body["quota"]["network"], 1);
    assert_eq!(
        c.post("/v2.0/networks", MEMBER, json!({"network": {}}))
            .await
            .status,
        StatusCode::CREATED
    );
    let r = c
        .post("/v2.0/networks", MEMBER, json!({"network": {}}))
        .await;
    assert_eq!(r.error_type(), "OverQuota");
    let r = c.get("/v2.0/quotas/alice-project/details", MEMBER).await;
    assert_eq!(r.body["quota"]["network"]["used"], 1);
}

#[tokio::test]
async fn deleting_an_external_network_takes_its_floating_ips() {
    let c = cloud().await;
    let ext = c
        .post(
            "/v2.0/networks",
            ADMIN,
            json!({"network": {"router:external": true}}),
        )
        .await;
    let ext = ext.body["network"]["id"].as_str().expect("id").to_string();
    c.post("/v2.0/subnets", ADMIN, json!({"subnet": {"network_id": ext, "ip_version": 4, "cidr": "198.51.100.0/24", "enable_dhcp": false}})).await;
    let r = c
        .post(
            "/v2.0/floatingips",
            ADMIN,
            json!({"floatingip": {"floating_network_id": ext}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let r = c.delete(&format!("/v2.0/networks/{ext}"), ADMIN).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    let r = c.get("/v2.0/floatingips", ADMIN).await;
    assert!(r.body["floatingips"].as_array().expect("list").is_empty());
}

#[tokio::test]
async fn subnets_take_prefixes_from_subnet_pools() {
    let c = cloud().await;
    let r = c
        .post("/v2.0/subnetpools", MEMBER, json!({"subnetpool": {"name": "p", "prefixes": ["10.10.0.0/16"], "default_prefixlen": 24}}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let pool = r.body["subnetpool"]["id"].as_str().expect("id").to_string();
    let net = c
        .post("/v2.0/networks", MEMBER, json!({"network": {}}))
        .await
        .body["network"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let mut cidrs = vec![];
    for _ in 0..2 {
        let r = c
            .post(
                "/v2.0/subnets",
                MEMBER,
                json!({"subnet": {"network_id": net, "ip_version": 4, "subnetpool_id": pool}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        cidrs.push(r.body["subnet"]["cidr"].as_str().expect("cidr").to_string());
    }
    assert_eq!(cidrs, vec!["10.10.0.0/24", "10.10.1.0/24"]);
    assert_eq!(
        c.delete(&format!("/v2.0/subnetpools/{pool}"), MEMBER)
            .await
            .error_type(),
        "SubnetPoolInUse"
    );
}

#[tokio::test]
async fn slaac_addresses_come_from_the_mac_and_leave_with_the_subnet() {
    let c = cloud().await;
    let net = c
        .post("/v2.0/networks", MEMBER, json!({"network": {}}))
        .await
        .body["network"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let r = c
        .post("/v2.0/subnets", MEMBER, json!({"subnet": {"network_id": net, "ip_version": 6, "cidr": "2001:db8::/64", "ipv6_ra_mode": "slaac", "ipv6_address_mode": "slaac"}}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let sub = r.body["subnet"]["id"].as_str().expect("id").to_string();
    let r = c
        .post(
            "/v2.0/ports",
            MEMBER,
            json!({"port": {"network_id": net, "mac_address": "fa:16:3e:12:34:56"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(
        r.body["port"]["fixed_ips"][0]["ip_address"],
        "2001:db8::f816:3eff:fe12:3456"
    );
    let port = r.body["port"]["id"].as_str().expect("id").to_string();
    assert_eq!(
        c.delete(&format!("/v2.0/subnets/{sub}"), MEMBER)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let r = c.get(&format!("/v2.0/ports/{port}"), MEMBER).await;
    assert_eq!(r.body["port"]["fixed_ips"], json!([]));
    assert_eq!(
        c.delete(&format!("/v2.0/networks/{net}"), MEMBER)
            .await
            .error_type(),
        "NetworkInUse"
    );
}

#[tokio::test]
async fn another_project_sees_none_of_a_projects_resources() {
    let c = cloud().await;
    let id = |r: &Resp, k: &str| r.body[k]["id"].as_str().expect("id").to_string();
    let net = id(
        &c.post("/v2.0/networks", MEMBER, json!({"network": {}}))
            .await,
        "network",
    );
    let sub = id(
        &c.post(
            "/v2.0/subnets",
            MEMBER,
            json!({"subnet": {"network_id": net, "ip_version": 4, "cidr": "10.9.0.0/24"}}),
        )
        .await,
        "subnet",
    );
    let port = id(
        &c.post("/v2.0/ports", MEMBER, json!({"port": {"network_id": net}}))
            .await,
        "port",
    );
    let router = id(
        &c.post("/v2.0/routers", MEMBER, json!({"router": {}})).await,
        "router",
    );
    let sg = id(
        &c.post(
            "/v2.0/security-groups",
            MEMBER,
            json!({"security_group": {"name": "g"}}),
        )
        .await,
        "security_group",
    );
    let pool = id(
        &c.post(
            "/v2.0/subnetpools",
            MEMBER,
            json!({"subnetpool": {"name": "p", "prefixes": ["10.50.0.0/16"]}}),
        )
        .await,
        "subnetpool",
    );
    for (coll, member, rid) in [
        ("networks", "network", &net),
        ("subnets", "subnet", &sub),
        ("ports", "port", &port),
        ("routers", "router", &router),
        ("security-groups", "security_group", &sg),
        ("subnetpools", "subnetpool", &pool),
    ] {
        let path = format!("/v2.0/{coll}/{rid}");
        assert_eq!(
            c.get(&path, OTHER).await.status,
            StatusCode::NOT_FOUND,
            "GET {path}"
        );
        let r = c.put(&path, OTHER, json!({ member: {"name": "x"} })).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "PUT {path}");
        assert_eq!(
            c.delete(&path, OTHER).await.status,
            StatusCode::NOT_FOUND,
            "DELETE {path}"
        );
        let list = c.get(&format!("/v2.0/{coll}"), OTHER).await;
        let key = coll.replace('-', "_");
        assert!(
            !list.body[&key]
                .as_array()
                .expect("list")
                .iter()
                .any(|x| x["id"] == json!(rid)),
            "listed {path}"
        );
    }
    let r = c
        .put(
            &format!("/v2.0/routers/{router}/add_router_interface"),
            OTHER,
            json!({"subnet_id": sub}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = c
        .post("/v2.0/ports", OTHER, json!({"port": {"network_id": net}}))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn only_admins_make_routers_distributed_and_only_when_down() {
    let c = cloud().await;
    let r = c
        .post(
            "/v2.0/routers",
            MEMBER,
            json!({"router": {"distributed": true}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = c
        .post(
            "/v2.0/routers",
            ADMIN,
            json!({"router": {"distributed": false}}),
        )
        .await;
    let id = r.body["router"]["id"].as_str().expect("id").to_string();
    let path = format!("/v2.0/routers/{id}");
    let r = c
        .put(&path, ADMIN, json!({"router": {"distributed": true}}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    c.put(&path, ADMIN, json!({"router": {"admin_state_up": false}}))
        .await;
    let r = c
        .put(&path, ADMIN, json!({"router": {"distributed": true}}))
        .await;
    assert_eq!(r.body["router"]["distributed"], true, "{:?}", r.body);
}

#[tokio::test]
async fn deleting_a_group_deletes_the_rules_naming_it_as_remote() {
    let c = cloud().await;
    let mut ids = Vec::new();
    for name in ["peer", "web"] {
        let r = c
            .post(
                "/v2.0/security-groups",
                MEMBER,
                json!({"security_group": {"name": name}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
        ids.push(
            r.body["security_group"]["id"]
                .as_str()
                .expect("id")
                .to_string(),
        );
    }
    let rule = json!({"security_group_rule": {"security_group_id": ids[1], "direction": "ingress",
                      "protocol": "tcp", "port_range_min": 22, "port_range_max": 22,
                      "remote_group_id": ids[0]}});
    let r = c.post("/v2.0/security-group-rules", MEMBER, rule).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let rule_id = r.body["security_group_rule"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let r = c
        .delete(&format!("/v2.0/security-groups/{}", ids[0]), MEMBER)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    let r = c
        .get(&format!("/v2.0/security-group-rules/{rule_id}"), MEMBER)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = c
        .get(&format!("/v2.0/security-groups/{}", ids[1]), MEMBER)
        .await;
    let rules = r.body["security_group"]["security_group_rules"]
        .as_array()
        .expect("rules");
    assert!(rules.iter().all(|r| r["id"] != rule_id.as_str()));
}

/// The ids of `GET /v2.0/ports?{query}` page by page (`limit=k`), following the next links.
async fn paged_ids(c: &TestCloud, token: &str, query: &str, k: usize) -> Vec<String> {
    let mut ids = Vec::new();
    let mut url = format!("/v2.0/ports?{query}&limit={k}");
    for _ in 0..50 {
        let r = c.get(&url, token).await;
        assert_eq!(r.status, StatusCode::OK, "{url}: {:?}", r.body);
        let page = r.body["ports"].as_array().expect("ports");
        assert!(page.len() <= k, "{url}: {} ports", page.len());
        ids.extend(
            page.iter()
                .map(|p| p["id"].as_str().expect("id").to_string()),
        );
        let next = r.body["ports_links"]
            .as_array()
            .and_then(|l| l.iter().find(|l| l["rel"] == "next"));
        let Some(next) = next else { return ids };
        let href = next["href"].as_str().expect("href");
        url = format!("/v2.0/ports?{}", href.split_once('?').expect("query").1);
    }
    panic!("{query}: more than 50 pages");
}

async fn all_ids(c: &TestCloud, token: &str, query: &str) -> Vec<String> {
    let r = c.get(&format!("/v2.0/ports?{query}"), token).await;
    assert_eq!(r.status, StatusCode::OK, "{query}: {:?}", r.body);
    r.body["ports"]
        .as_array()
        .expect("ports")
        .iter()
        .map(|p| p["id"].as_str().expect("id").to_string())
        .collect()
}

#[tokio::test]
async fn port_pages_are_slices_of_the_whole_list() {
    let c = cloud().await;
    let mut nets = Vec::new();
    for (token, name, cidr) in [
        (MEMBER, "a", "10.1.0.0/24"),
        (MEMBER, "b", "10.2.0.0/24"),
        (OTHER, "theirs", "10.3.0.0/24"),
    ] {
        let r = c
            .post("/v2.0/networks", token, json!({"network": {"name": name}}))
            .await;
        let net = r.body["network"]["id"].as_str().expect("id").to_string();
        let r = c
            .post(
                "/v2.0/subnets",
                token,
                json!({"subnet": {"network_id": net, "ip_version": 4, "cidr": cidr}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        nets.push(net);
    }
    // Ports on the two networks interleaved, and among them two of another project.
    let mut project = String::new();
    for i in 0..10 {
        let (token, net) = match i {
            3 | 6 => (OTHER, &nets[2]),
            _ => (MEMBER, &nets[i % 2]),
        };
        let r = c
            .post("/v2.0/ports", token, json!({"port": {"network_id": net}}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        if token == MEMBER {
            project = r.body["port"]["project_id"].as_str().expect("p").into();
        }
    }
    let (a, b) = (&nets[0], &nets[1]);
    let queries = [
        String::new(),
        format!("network_id={a}"),
        format!("project_id={project}"),
        format!("tenant_id={project}&network_id={b}"),
        format!("network_id={a}&network_id={b}"),
        format!("network_id={a}&project_id=someone-else"),
        format!("project_id={project}&tenant_id=someone-else"),
        "sort_key=mac_address&sort_dir=desc".to_string(),
        "fields=id&fields=network_id".to_string(),
    ];
    for token in [MEMBER, ADMIN, OTHER] {
        for q in &queries {
            let whole = all_ids(&c, token, q).await;
            for k in [1, 3, 100] {
                assert_eq!(paged_ids(&c, token, q, k).await, whole, "{token} {q} k={k}");
            }
        }
    }
    assert_eq!(all_ids(&c, MEMBER, "").await.len(), 8);
    assert_eq!(all_ids(&c, OTHER, "").await.len(), 2);
    assert_eq!(all_ids(&c, ADMIN, "").await.len(), 10);
    // A marker that is not in the list: the first page, as without one.
    let first = all_ids(
        &c,
        MEMBER,
        "limit=2&marker=00000000-0000-0000-0000-000000000000",
    )
    .await;
    assert_eq!(first, all_ids(&c, MEMBER, "").await[..2].to_vec());
}
