//! Servers and the networking service (a fake Neutron): ports made and bound at build,
//! `addresses`, the `ip` filter, `os-interface`, and ports taken back on delete or failure.

mod common;

use axum::http::{Method, StatusCode};
use common::*;
use serde_json::{Value, json};

const NET: &str = "6f2b0f3c-1111-4a1e-9c55-0a1b2c3d4e5f";
const NET2: &str = "6f2b0f3c-2222-4a1e-9c55-0a1b2c3d4e5f";
const MISSING: &str = "6f2b0f3c-9999-4a1e-9c55-0a1b2c3d4e5f";

async fn cloud_with_network() -> TestCloud {
    let c = cloud().await;
    c.flavor("1", 1, 512).await;
    c.network.add_network(NET, "private", P1, false, false);
    c
}

async fn create(c: &TestCloud, token: &str, server: Value, mv: &str) -> common::Resp {
    let mut s = json!({"name": "vm", "imageRef": IMAGE, "flavorRef": "1"});
    if let (Some(o), Value::Object(extra)) = (s.as_object_mut(), server) {
        o.extend(extra);
    }
    c.call(
        Method::POST,
        "/v2.1/servers",
        Some(token),
        Some(json!({ "server": s })),
        Some(mv),
    )
    .await
}

async fn created(c: &TestCloud, server: Value, mv: &str) -> String {
    let r = create(c, MEMBER, server, mv).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let id = r.body["server"]["id"].as_str().expect("id").to_string();
    c.wait(&id, "ACTIVE").await;
    id
}

#[tokio::test]
async fn a_server_gets_a_port_on_its_network_and_shows_its_address() {
    let c = cloud_with_network().await;
    let id = created(&c, json!({"networks": [{"uuid": NET}]}), "2.37").await;
    let ports = c.network.ports();
    assert_eq!(ports.len(), 1);
    let p = &ports[0];
    assert_eq!(
        (p.device_id.as_str(), p.device_owner.as_str()),
        (id.as_str(), "compute:nova")
    );
    assert_eq!(p.network_id, NET);
    assert_eq!(p.project_id, P1);
    assert_eq!(c.driver.interfaces(&id), vec![p.id.clone()]);

    let s = c.get(&format!("/v2.1/servers/{id}"), MEMBER).await.body["server"].clone();
    let ip = p.fixed_ips[0].ip_address.clone();
    assert_eq!(
        s["addresses"],
        json!({"private": [{"version": 4, "addr": ip, "OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": p.mac_address}]})
    );
    let r = c.get(&format!("/v2.1/servers/{id}/ips"), MEMBER).await;
    assert_eq!(
        r.body,
        json!({"addresses": {"private": [{"version": 4, "addr": ip}]}})
    );
    let r = c
        .get(&format!("/v2.1/servers/{id}/ips/private"), READER)
        .await;
    assert_eq!(r.body, json!({"private": [{"version": 4, "addr": ip}]}));
    let r = c
        .get(&format!("/v2.1/servers/{id}/ips/public"), MEMBER)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = c.get(&format!("/v2.1/servers/{id}/ips"), OTHER).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // An update answers with the plain addresses, as Nova does.
    let r = c
        .call(
            Method::PUT,
            &format!("/v2.1/servers/{id}"),
            Some(MEMBER),
            Some(json!({"server": {"name": "renamed"}})),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        r.body["server"]["addresses"],
        json!({"private": [{"version": 4, "addr": ip}]})
    );

    // The ip filter is a regular expression from the start of a fixed address.
    let prefix = &ip[..ip.rfind('.').expect("dotted") + 1];
    for (q, n) in [
        (ip.clone(), 1),
        (format!("{}.*", prefix.replace('.', "\\.")), 1),
        ("192\\.168\\.".into(), 0),
    ] {
        let r = c.get(&format!("/v2.1/servers?ip={q}"), MEMBER).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(
            r.body["servers"].as_array().map(Vec::len),
            Some(n),
            "ip={q}"
        );
    }
    let r = c.get("/v2.1/servers?ip=(", MEMBER).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // Deleting the server deletes the port compute made.
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
    assert!(c.network.ports().is_empty());
}

#[tokio::test]
async fn networks_are_chosen_and_checked_as_nova_does() {
    let c = cloud_with_network().await;
    // Before 2.37 with no networks: the project's one network.
    let id = created(&c, json!({}), "2.1").await;
    assert_eq!(c.network.ports_of(&id).len(), 1);
    // 2.37 `none`: no port.
    let id = created(&c, json!({"networks": "none"}), "2.37").await;
    assert!(c.network.ports_of(&id).is_empty());
    // Another project's private network and external networks are not available.
    c.network.add_network(NET2, "theirs", P2, false, false);
    c.network
        .add_network(MISSING, "public", PADMIN, false, true);
    let id = created(&c, json!({"networks": "auto"}), "2.37").await;
    assert_eq!(c.network.ports_of(&id)[0].network_id, NET);

    let cases = [
        (
            json!({"networks": [{"uuid": "a-b-c"}]}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"networks": [{"port": "nope"}]}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"networks": [{"uuid": NET, "fixed_ip": "10.0.0.300"}]}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"networks": [{"uuid": "6f2b0f3c-8888-4a1e-9c55-0a1b2c3d4e5f"}]}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"networks": [{"port": "6f2b0f3c-8888-4a1e-9c55-0a1b2c3d4e5f"}]}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"networks": [{"uuid": NET}], "security_groups": [{"name": "nope"}]}),
            StatusCode::BAD_REQUEST,
        ),
        (json!({}), StatusCode::BAD_REQUEST),
    ];
    for (body, want) in cases {
        let r = create(&c, MEMBER, body.clone(), "2.37").await;
        assert_eq!(r.status, want, "{body}: {:?}", r.body);
        assert!(r.body["badRequest"]["message"].is_string(), "{:?}", r.body);
    }
    // Two available networks: ambiguous.
    c.network.add_network(
        NET2.replace("2222", "3333").as_str(),
        "shared",
        P2,
        true,
        false,
    );
    let r = create(&c, MEMBER, json!({"networks": "auto"}), "2.37").await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    // A port in use is refused; a free one is bound and kept when the server goes.
    let busy = c.network.ports()[0].id.clone();
    let r = create(&c, MEMBER, json!({"networks": [{"port": busy}]}), "2.37").await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    let free = c.network.add_port(NET, P1);
    let r = create(
        &c,
        MEMBER,
        json!({"networks": [{"port": free}], "max_count": 2}),
        "2.37",
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    let id = created(&c, json!({"networks": [{"port": free}]}), "2.37").await;
    assert_eq!(c.network.port(&free).expect("port").device_id, id);
    c.call(
        Method::DELETE,
        &format!("/v2.1/servers/{id}"),
        Some(MEMBER),
        None,
        None,
    )
    .await;
    c.wait(&id, "DELETED").await;
    let kept = c.network.port(&free).expect("the user's port is kept");
    assert!(kept.device_id.is_empty());
}

#[tokio::test]
async fn named_security_groups_go_on_the_ports() {
    let c = cloud_with_network().await;
    let web = c.network.add_security_group(P1, "web");
    let id = created(
        &c,
        json!({"networks": [{"uuid": NET}], "security_groups": [{"name": "web"}, {"name": "default"}]}),
        "2.37",
    )
    .await;
    let p = &c.network.ports_of(&id)[0];
    assert_eq!(p.security_groups, vec![web, format!("default-of-{P1}")]);
}

#[tokio::test]
async fn a_failed_port_leaves_the_server_in_error_with_no_port() {
    let c = cloud_with_network().await;
    c.network.fail_port_creates(true);
    let r = create(&c, MEMBER, json!({"networks": [{"uuid": NET}]}), "2.37").await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let id = r.body["server"]["id"].as_str().expect("id").to_string();
    let s = c.wait(&id, "ERROR").await;
    assert!(s["fault"]["message"].is_string());
    assert!(c.network.ports().is_empty());
    assert!(c.driver.interfaces(&id).is_empty());
}

#[tokio::test]
async fn interfaces_attach_list_show_and_detach() {
    let c = cloud_with_network().await;
    c.network.add_network(NET2, "second", P1, false, false);
    let id = created(&c, json!({"networks": [{"uuid": NET}]}), "2.37").await;
    let base = format!("/v2.1/servers/{id}/os-interface");
    let r = c.get(&base, MEMBER).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body["interfaceAttachments"].as_array().map(Vec::len),
        Some(1)
    );
    let first = r.body["interfaceAttachments"][0].clone();
    assert_eq!(first["net_id"], NET);
    assert_eq!(first["port_state"], "ACTIVE");

    // By network, with a fixed IP.
    let r = c
        .post(
            &base,
            MEMBER,
            json!({"interfaceAttachment": {"net_id": NET2, "fixed_ips": [{"ip_address": "10.9.9.9"}]}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let a = r.body["interfaceAttachment"].clone();
    assert_eq!(a["net_id"], NET2);
    assert_eq!(a["fixed_ips"][0]["ip_address"], "10.9.9.9");
    let port = a["port_id"].as_str().expect("port").to_string();
    assert_eq!(c.driver.interfaces(&id).len(), 2);
    let s = c.get(&format!("/v2.1/servers/{id}"), MEMBER).await.body["server"].clone();
    assert_eq!(s["addresses"]["second"][0]["addr"], "10.9.9.9");
    let r = c.get(&format!("{base}/{port}"), READER).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["interfaceAttachment"]["port_id"], port.as_str());

    // By port.
    let own = c.network.add_port(NET, P1);
    let r = c
        .post(
            &base,
            MEMBER,
            json!({"interfaceAttachment": {"port_id": own}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    // Refusals.
    for (body, want) in [
        (
            json!({"interfaceAttachment": {"net_id": NET, "port_id": own}}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"interfaceAttachment": {"fixed_ips": [{"ip_address": "10.0.0.1"}]}}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"interfaceAttachment": {"port_id": own}}),
            StatusCode::CONFLICT,
        ),
        (
            json!({"interfaceAttachment": {"net_id": MISSING}}),
            StatusCode::NOT_FOUND,
        ),
    ] {
        let r = c.post(&base, MEMBER, body.clone()).await;
        assert_eq!(r.status, want, "{body}: {:?}", r.body);
    }
    let r = c
        .post(
            &base,
            READER,
            json!({"interfaceAttachment": {"net_id": NET}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = c.get(&format!("{base}/{MISSING}"), MEMBER).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // Detach: the port compute made is deleted, the user's port is kept unbound.
    for p in [&port, &own] {
        let r = c
            .call(
                Method::DELETE,
                &format!("{base}/{p}"),
                Some(MEMBER),
                None,
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    }
    for _ in 0..200 {
        if c.driver.interfaces(&id).len() == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(
        c.driver.interfaces(&id),
        vec![first["port_id"].as_str().unwrap_or("").to_string()]
    );
    assert!(c.network.port(&port).is_none());
    assert!(c.network.port(&own).expect("kept").device_id.is_empty());
    let r = c
        .call(
            Method::DELETE,
            &format!("{base}/{own}"),
            Some(MEMBER),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = c.get(&base, MEMBER).await;
    assert_eq!(
        r.body["interfaceAttachments"].as_array().map(Vec::len),
        Some(1)
    );
}

#[tokio::test]
async fn security_groups_are_added_to_and_removed_from_the_ports() {
    let c = cloud_with_network().await;
    let web = c.network.add_security_group(P1, "web");
    let id = created(&c, json!({"networks": [{"uuid": NET}]}), "2.37").await;
    let action = format!("/v2.1/servers/{id}/action");
    let groups = format!("/v2.1/servers/{id}/os-security-groups");
    let r = c.get(&groups, READER).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["security_groups"][0]["name"], "default");
    assert_eq!(r.body["security_groups"][0]["rules"][0]["from_port"], 22);

    let r = c
        .post(
            &action,
            MEMBER,
            json!({"addSecurityGroup": {"name": "web"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    assert!(c.network.ports_of(&id)[0].security_groups.contains(&web));
    let names: Vec<Value> = c.get(&groups, MEMBER).await.body["security_groups"]
        .as_array()
        .map(|l| l.iter().map(|g| g["name"].clone()).collect())
        .unwrap_or_default();
    assert_eq!(names, vec![json!("default"), json!("web")]);
    let s = c.get(&format!("/v2.1/servers/{id}"), MEMBER).await.body["server"].clone();
    assert_eq!(
        s["security_groups"],
        json!([{"name": "default"}, {"name": "web"}])
    );

    for (body, token, want) in [
        (
            json!({"addSecurityGroup": {"name": "web"}}),
            MEMBER,
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"addSecurityGroup": {"name": "nope"}}),
            MEMBER,
            StatusCode::NOT_FOUND,
        ),
        (
            json!({"addSecurityGroup": {"name": " "}}),
            MEMBER,
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"addSecurityGroup": {}}),
            MEMBER,
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"removeSecurityGroup": {"name": "web"}}),
            READER,
            StatusCode::FORBIDDEN,
        ),
        (
            json!({"removeSecurityGroup": {"name": "web"}}),
            OTHER,
            StatusCode::NOT_FOUND,
        ),
    ] {
        let r = c.post(&action, token, body.clone()).await;
        assert_eq!(r.status, want, "{body}: {:?}", r.body);
    }
    let r = c
        .post(
            &action,
            MEMBER,
            json!({"removeSecurityGroup": {"name": "web"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    assert!(!c.network.ports_of(&id)[0].security_groups.contains(&web));
    let r = c
        .post(
            &action,
            MEMBER,
            json!({"removeSecurityGroup": {"name": "web"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
}
