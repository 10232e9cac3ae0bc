//! What compute is told of its servers' ports (Neutron's Nova notifier): a bound port coming
//! up is plugged, a bound one unbound is unplugged, a deleted one deleted; floating IPs
//! coming and going and fixed IPs changing are `network-changed`; ports that are not a
//! server's are never reported.

mod common;

use axum::http::StatusCode;
use common::*;
use oxstack_network::notifier::{EventName, ServerEvent};
use serde_json::{Value, json};

const SERVER: &str = "6f1c2b8e-1d2a-4c3b-9e8f-0a1b2c3d4e5f";
const OTHER_SERVER: &str = "0b7e6c2a-5f4d-4e3c-8b2a-1c0d9e8f7a6b";

fn id(v: &Value, kind: &str) -> String {
    v[kind]["id"].as_str().expect("id").to_string()
}

fn event(name: EventName, server: &str, port: &str) -> ServerEvent {
    ServerEvent {
        name,
        server_uuid: server.into(),
        tag: port.into(),
        status: "completed",
    }
}

/// A project network with a subnet: `(network, subnet)`.
async fn network(c: &TestCloud) -> (String, String) {
    let net = c
        .post("/v2.0/networks", MEMBER, json!({"network": {}}))
        .await;
    let net = id(&net.body, "network");
    let sub = c
        .post(
            "/v2.0/subnets",
            MEMBER,
            json!({"subnet": {"network_id": net, "ip_version": 4, "cidr": "10.1.0.0/24"}}),
        )
        .await;
    assert_eq!(sub.status, StatusCode::CREATED, "{:?}", sub.body);
    (net, id(&sub.body, "subnet"))
}

/// A port as compute's agent makes it for `server`: owned, bound to a host.
async fn server_port(c: &TestCloud, net: &str, server: &str) -> String {
    let r = c
        .post(
            "/v2.0/ports",
            ADMIN,
            json!({"port": {"network_id": net, "project_id": "alice-project",
                "device_id": server, "device_owner": "compute:nova", "binding:host_id": "host1"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["port"]["status"], "ACTIVE");
    id(&r.body, "port")
}

#[tokio::test]
async fn a_server_port_is_plugged_unplugged_and_deleted() {
    let c = cloud().await;
    let (net, _) = network(&c).await;
    let port = server_port(&c, &net, SERVER).await;
    assert_eq!(
        c.compute_events.take(),
        [event(EventName::VifPlugged, SERVER, &port)]
    );

    // Unbinding takes the port DOWN.
    let r = c
        .put(
            &format!("/v2.0/ports/{port}"),
            ADMIN,
            json!({"port": {"binding:host_id": ""}}),
        )
        .await;
    assert_eq!(r.body["port"]["status"], "DOWN", "{:?}", r.body);
    assert_eq!(
        c.compute_events.take(),
        [event(EventName::VifUnplugged, SERVER, &port)]
    );

    // A change that leaves the status alone says nothing.
    c.put(
        &format!("/v2.0/ports/{port}"),
        ADMIN,
        json!({"port": {"name": "renamed"}}),
    )
    .await;
    assert_eq!(c.compute_events.take(), []);

    let r = c.delete(&format!("/v2.0/ports/{port}"), ADMIN).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        c.compute_events.take(),
        [event(EventName::VifDeleted, SERVER, &port)]
    );
}

#[tokio::test]
async fn a_port_given_to_a_server_later_is_plugged_when_bound() {
    let c = cloud().await;
    let (net, _) = network(&c).await;
    let r = c
        .post("/v2.0/ports", MEMBER, json!({"port": {"network_id": net}}))
        .await;
    let port = id(&r.body, "port");
    assert_eq!(c.compute_events.take(), []);
    let r = c
        .put(
            &format!("/v2.0/ports/{port}"),
            ADMIN,
            json!({"port": {"device_id": SERVER, "device_owner": "compute:nova", "binding:host_id": "host1"}}),
        )
        .await;
    assert_eq!(r.body["port"]["status"], "ACTIVE", "{:?}", r.body);
    assert_eq!(
        c.compute_events.take(),
        [event(EventName::VifPlugged, SERVER, &port)]
    );
}

#[tokio::test]
async fn ports_that_are_not_a_servers_are_never_reported() {
    let c = cloud().await;
    let (net, _) = network(&c).await;
    for (owner, device) in [
        ("", SERVER),
        ("network:dhcp", SERVER),
        ("compute:nova", "not-a-uuid"),
        ("compute:nova", ""),
    ] {
        let r = c
            .post(
                "/v2.0/ports",
                ADMIN,
                json!({"port": {"network_id": net, "device_id": device, "device_owner": owner,
                    "binding:host_id": "host1"}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let port = id(&r.body, "port");
        c.put(
            &format!("/v2.0/ports/{port}"),
            ADMIN,
            json!({"port": {"binding:host_id": "", "fixed_ips": [{"subnet_id": r.body["port"]["fixed_ips"][0]["subnet_id"]}]}}),
        )
        .await;
        c.delete(&format!("/v2.0/ports/{port}"), ADMIN).await;
        assert_eq!(
            c.compute_events.take(),
            [],
            "owner {owner:?}, device {device:?}"
        );
    }
}

#[tokio::test]
async fn new_fixed_ips_are_a_network_change() {
    let c = cloud().await;
    let (net, sub) = network(&c).await;
    let port = server_port(&c, &net, SERVER).await;
    c.compute_events.take();
    let r = c
        .put(
            &format!("/v2.0/ports/{port}"),
            ADMIN,
            json!({"port": {"fixed_ips": [{"subnet_id": sub, "ip_address": "10.1.0.77"}]}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        c.compute_events.take(),
        [event(EventName::NetworkChanged, SERVER, &port)]
    );
}

#[tokio::test]
async fn floating_ips_coming_and_going_are_network_changes() {
    let c = cloud().await;
    let ext = c
        .post("/v2.0/networks", ADMIN, json!({"network": {"name": "public", "router:external": true, "provider:network_type": "flat", "provider:physical_network": "public"}}))
        .await;
    let ext = id(&ext.body, "network");
    c.post(
        "/v2.0/subnets",
        ADMIN,
        json!({"subnet": {"network_id": ext, "ip_version": 4, "cidr": "203.0.113.0/24"}}),
    )
    .await;
    let (net, sub) = network(&c).await;
    let r = c
        .post(
            "/v2.0/routers",
            MEMBER,
            json!({"router": {"external_gateway_info": {"network_id": ext}}}),
        )
        .await;
    let router = id(&r.body, "router");
    let r = c
        .put(
            &format!("/v2.0/routers/{router}/add_router_interface"),
            MEMBER,
            json!({"subnet_id": sub}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let a = server_port(&c, &net, SERVER).await;
    let b = server_port(&c, &net, OTHER_SERVER).await;
    let r = c
        .post("/v2.0/ports", MEMBER, json!({"port": {"network_id": net}}))
        .await;
    let plain = id(&r.body, "port");
    c.compute_events.take();

    // Made unassociated: nothing; associated: the server's port changed.
    let r = c
        .post(
            "/v2.0/floatingips",
            MEMBER,
            json!({"floatingip": {"floating_network_id": ext}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let fip = id(&r.body, "floatingip");
    assert_eq!(c.compute_events.take(), []);
    let path = format!("/v2.0/floatingips/{fip}");
    let r = c
        .put(&path, MEMBER, json!({"floatingip": {"port_id": a}}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        c.compute_events.take(),
        [event(EventName::NetworkChanged, SERVER, &a)]
    );

    // Moved to another server's port: both servers hear of it.
    c.put(&path, MEMBER, json!({"floatingip": {"port_id": b}}))
        .await;
    assert_eq!(
        c.compute_events.take(),
        [
            event(EventName::NetworkChanged, SERVER, &a),
            event(EventName::NetworkChanged, OTHER_SERVER, &b)
        ]
    );

    // A description change is no network change.
    c.put(&path, MEMBER, json!({"floatingip": {"description": "x"}}))
        .await;
    assert_eq!(c.compute_events.take(), []);

    // Disassociated.
    c.put(&path, MEMBER, json!({"floatingip": {"port_id": null}}))
        .await;
    assert_eq!(
        c.compute_events.take(),
        [event(EventName::NetworkChanged, OTHER_SERVER, &b)]
    );

    // Associated with a port that is not a server's: nothing.
    c.put(&path, MEMBER, json!({"floatingip": {"port_id": plain}}))
        .await;
    assert_eq!(c.compute_events.take(), []);
    c.delete(&path, MEMBER).await;
    assert_eq!(c.compute_events.take(), []);

    // Made associated, then deleted while associated.
    let r = c
        .post(
            "/v2.0/floatingips",
            MEMBER,
            json!({"floatingip": {"floating_network_id": ext, "port_id": a}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(
        c.compute_events.take(),
        [event(EventName::NetworkChanged, SERVER, &a)]
    );
    let r = c
        .delete(
            &format!("/v2.0/floatingips/{}", id(&r.body, "floatingip")),
            MEMBER,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        c.compute_events.take(),
        [event(EventName::NetworkChanged, SERVER, &a)]
    );
}
