//! Networking tells compute of its servers' port changes in the real all-in-one binary: a
//! floating IP associated with a server's port through the Neutron API shows in the
//! server's `addresses` within seconds (compute re-reads the ports on `network-changed`),
//! and is gone again after it is disassociated. With `network.notify_compute = false`
//! (`OXSTACK_NETWORK__NOTIFY_COMPUTE=false` in the environment) this test fails.
//!
//! The cloud listens on 127.0.0.1 only; its ports come from `TEST_PORTS`
//! (`first-last`) when set, else from the system.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;
use common::{admin_login, http, json_call, spawn_ready, up_command};

const SERVICES: [&str; 7] = [
    "IDENTITY",
    "PLACEMENT",
    "COMPUTE",
    "NETWORK",
    "OBJECTSTORE",
    "BLOCKSTORE",
    "IMAGE",
];

/// `n` ports nothing listens on.
fn free_ports(n: usize) -> Vec<u16> {
    let range = std::env::var("TEST_PORTS").ok().and_then(|r| {
        let (a, b) = r.split_once('-')?;
        Some(a.trim().parse::<u16>().ok()?..=b.trim().parse::<u16>().ok()?)
    });
    let ports: Vec<u16> = match range {
        Some(r) => r
            .filter(|p| TcpListener::bind(("127.0.0.1", *p)).is_ok())
            .take(n)
            .collect(),
        None => {
            // Held together so that no port is handed out twice.
            let held: Vec<TcpListener> = (0..n)
                .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind"))
                .collect();
            held.iter()
                .map(|l| l.local_addr().expect("addr").port())
                .collect()
        }
    };
    assert_eq!(ports.len(), n, "not enough free ports");
    ports
}

/// One all-in-one cloud (fake compute driver, noop network driver) on its own data dir.
struct Cloud {
    _tmp: tempfile::TempDir,
    child: Child,
    ports: Vec<(&'static str, u16)>,
    token: String,
}

impl Cloud {
    fn start() -> Cloud {
        let tmp = tempfile::tempdir().expect("tmp");
        let data: PathBuf = tmp.path().join("data");
        let ports: Vec<(&'static str, u16)> = SERVICES
            .into_iter()
            .zip(free_ports(SERVICES.len()))
            .collect();
        let mut cmd = up_command(&data, ports.iter().copied());
        cmd.env("OXSTACK_COMPUTE__DRIVER", "fake");
        let child = spawn_ready(cmd);
        let mut cloud = Cloud {
            _tmp: tmp,
            child,
            ports,
            token: String::new(),
        };
        let r = admin_login(cloud.port("IDENTITY"), &data);
        cloud.token = r.header("x-subject-token").expect("token");
        cloud
    }

    fn port(&self, service: &str) -> u16 {
        self.ports
            .iter()
            .find(|(s, _)| *s == service)
            .map(|(_, p)| *p)
            .expect("service port")
    }

    /// A call that must answer `want`; answers the body.
    fn ok(&self, service: &str, method: &str, path: &str, body: Value, want: u16) -> Value {
        let body = (!body.is_null()).then_some(body);
        let r = json_call(self.port(service), method, path, &self.token, body);
        assert_eq!(r.status, want, "{method} {path}: {}", r.text());
        r.json()
    }

    /// Waits up to `secs` for `cond` on the server's `addresses`.
    fn wait_addresses(&self, server: &str, secs: u64, what: &str, cond: impl Fn(&Value) -> bool) {
        let start = Instant::now();
        loop {
            let s = self.ok(
                "COMPUTE",
                "GET",
                &format!("/v2.1/servers/{server}"),
                Value::Null,
                200,
            );
            let addresses = &s["server"]["addresses"];
            if cond(addresses) {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(secs),
                "{what}: addresses are {addresses}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Cloud {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn id(v: &Value, kind: &str) -> String {
    v[kind]["id"].as_str().expect("id").to_string()
}

/// Every address of every network of `addresses`.
fn all_addresses(addresses: &Value) -> Vec<(String, String)> {
    addresses
        .as_object()
        .into_iter()
        .flat_map(|m| m.values())
        .filter_map(Value::as_array)
        .flatten()
        .map(|a| {
            (
                a["addr"].as_str().unwrap_or_default().to_string(),
                a["OS-EXT-IPS:type"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect()
}

#[test]
fn a_floating_ip_associated_in_networking_shows_in_the_servers_addresses() {
    let c = Cloud::start();

    // An image, a flavor, a project network behind a router to an external network.
    let image = c.ok(
        "IMAGE",
        "POST",
        "/v2/images",
        json!({"name": "tiny", "disk_format": "raw", "container_format": "bare"}),
        201,
    );
    let image = image["id"].as_str().expect("image id").to_string();
    let r = http(
        c.port("IMAGE"),
        "PUT",
        &format!("/v2/images/{image}/file"),
        &c.token,
        "application/octet-stream",
        &[0u8; 4096],
    );
    assert_eq!(r.status, 204, "{}", r.text());
    let flavor = c.ok(
        "COMPUTE",
        "POST",
        "/v2.1/flavors",
        json!({"flavor": {"name": "t1", "ram": 64, "vcpus": 1, "disk": 1}}),
        200,
    );
    let flavor = id(&flavor, "flavor");
    let ext = c.ok(
        "NETWORK",
        "POST",
        "/v2.0/networks",
        json!({"network": {"name": "public", "router:external": true,
            "provider:network_type": "flat", "provider:physical_network": "public"}}),
        201,
    );
    let ext = id(&ext, "network");
    c.ok(
        "NETWORK",
        "POST",
        "/v2.0/subnets",
        json!({"subnet": {"network_id": ext, "ip_version": 4, "cidr": "203.0.113.0/24"}}),
        201,
    );
    let net = c.ok(
        "NETWORK",
        "POST",
        "/v2.0/networks",
        json!({"network": {"name": "private"}}),
        201,
    );
    let net = id(&net, "network");
    let sub = c.ok(
        "NETWORK",
        "POST",
        "/v2.0/subnets",
        json!({"subnet": {"network_id": net, "ip_version": 4, "cidr": "10.0.0.0/24"}}),
        201,
    );
    let sub = id(&sub, "subnet");
    let router = c.ok(
        "NETWORK",
        "POST",
        "/v2.0/routers",
        json!({"router": {"name": "r", "external_gateway_info": {"network_id": ext}}}),
        201,
    );
    let router = id(&router, "router");
    c.ok(
        "NETWORK",
        "PUT",
        &format!("/v2.0/routers/{router}/add_router_interface"),
        json!({"subnet_id": sub}),
        200,
    );

    // A server on the private network; its port is bound and ACTIVE.
    let s = c.ok(
        "COMPUTE",
        "POST",
        "/v2.1/servers",
        json!({"server": {"name": "vm", "imageRef": image, "flavorRef": flavor,
            "networks": [{"uuid": net}]}}),
        202,
    );
    let server = id(&s, "server");
    let start = Instant::now();
    loop {
        let s = c.ok(
            "COMPUTE",
            "GET",
            &format!("/v2.1/servers/{server}"),
            Value::Null,
            200,
        );
        let status = s["server"]["status"].as_str().unwrap_or_default();
        if status == "ACTIVE" {
            break;
        }
        assert_ne!(status, "ERROR", "{s}");
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "never ACTIVE: {s}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let ports = c.ok(
        "NETWORK",
        "GET",
        &format!("/v2.0/ports?device_id={server}"),
        Value::Null,
        200,
    );
    let port = &ports["ports"][0];
    assert_eq!(port["status"], "ACTIVE", "{ports}");
    let port = port["id"].as_str().expect("port id").to_string();

    // Associated through the Neutron API (as `openstack server add floating ip` does).
    let fip = c.ok(
        "NETWORK",
        "POST",
        "/v2.0/floatingips",
        json!({"floatingip": {"floating_network_id": ext, "port_id": port}}),
        201,
    );
    let address = fip["floatingip"]["floating_ip_address"]
        .as_str()
        .expect("address")
        .to_string();
    let fip = id(&fip, "floatingip");
    c.wait_addresses(server.as_str(), 10, "the floating IP shows", |a| {
        all_addresses(a).contains(&(address.clone(), "floating".into()))
    });

    // Disassociated: gone again.
    c.ok(
        "NETWORK",
        "PUT",
        &format!("/v2.0/floatingips/{fip}"),
        json!({"floatingip": {"port_id": null}}),
        200,
    );
    c.wait_addresses(server.as_str(), 10, "the floating IP goes", |a| {
        !all_addresses(a).iter().any(|(addr, _)| *addr == address)
    });
}
