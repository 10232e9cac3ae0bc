//! Store tests on every reachable engine: rows, revisions, segment allocation, and IPAM
//! under concurrency.

use std::collections::HashSet;

use oxstack_common::db::testing;
use serde_json::json;

use super::*;
use crate::ip::{self, Cidr};

async fn stores() -> Vec<(testing::TestDb, Store)> {
    let mut out = Vec::new();
    for t in testing::engines().await {
        t.db()
            .migrate(crate::SERVICE, MIGRATIONS)
            .await
            .expect("migrate");
        let s = Store::new(t.db().clone());
        out.push((t, s));
    }
    out
}

fn ranges(subnet: &str, cidr: &str) -> SubnetRanges {
    let c = Cidr::parse(cidr, true).expect("cidr");
    SubnetRanges {
        subnet_id: subnet.into(),
        network_id: "net".into(),
        version: c.version,
        pools: vec![(c.first() + 2, c.last() - 1)],
    }
}

fn port(id: &str, subnet: &SubnetRanges, address: Option<u128>) -> PortWrite {
    PortWrite {
        row: Store::new_row(
            id.into(),
            "p".into(),
            Some("net".into()),
            json!({"name": id}),
        ),
        mac: MacChoice::Generate,
        ips: vec![IpRequest {
            subnet_id: subnet.subnet_id.clone(),
            address,
            eui64: false,
        }],
        subnets: vec![subnet.clone()],
    }
}

#[tokio::test]
async fn rows_revisions_and_if_match() {
    for (t, s) in stores().await {
        let row = Store::new_row("n1".into(), "p".into(), None, json!({"name": "a"}));
        s.insert(Kind::Network, &row).await.expect("insert");
        let got = s.get(Kind::Network, "n1").await.expect("get").expect("row");
        assert_eq!(got.body["name"], "a");
        let up = s
            .update(Kind::Network, "n1", &json!({"name": "b"}), Some(1))
            .await
            .expect("update");
        assert_eq!(up.revision_number, 2);
        assert!(matches!(
            s.update(Kind::Network, "n1", &json!({}), Some(1)).await,
            Err(StoreError::RevisionMismatch)
        ));
        assert_eq!(
            s.list(Kind::Network, Some("p"), None)
                .await
                .expect("list")
                .len(),
            1
        );
        assert!(s.delete(Kind::Network, "n1").await.expect("delete"));
        assert!(s.get(Kind::Network, "n1").await.expect("get").is_none());
        t.cleanup().await;
    }
}

#[tokio::test]
async fn segments_are_allocated_once() {
    for (t, s) in stores().await {
        let req = resources::SegmentRequest {
            network_type: "vxlan".into(),
            physical_network: String::new(),
            segmentation_id: None,
            ranges: vec![(10, 11)],
        };
        let mut got = Vec::new();
        for i in 0..2 {
            let row = Store::new_row(format!("n{i}"), "p".into(), None, json!({}));
            got.push(s.network_create(&row, Some(&req)).await.expect("create"));
        }
        assert_eq!(got, vec![Some(10), Some(11)]);
        let row = Store::new_row("n3".into(), "p".into(), None, json!({}));
        assert!(matches!(
            s.network_create(&row, Some(&req)).await,
            Err(StoreError::NoSegment)
        ));
        t.cleanup().await;
    }
}

#[tokio::test]
async fn ipam_requested_exhausted_and_freed() {
    for (t, s) in stores().await {
        let sub = ranges("s1", "10.0.0.0/29"); // .2 - .6
        let c = Cidr::parse("10.0.0.0/29", true).expect("cidr");
        let a = s
            .port_create(&port("a", &sub, Some(c.first() + 4)))
            .await
            .expect("requested");
        assert_eq!(a.body["fixed_ips"][0]["ip_address"], "10.0.0.4");
        assert!(matches!(
            s.port_create(&port("b", &sub, Some(c.first() + 4))).await,
            Err(StoreError::IpInUse { .. })
        ));
        for i in 0..4 {
            s.port_create(&port(&format!("x{i}"), &sub, None))
                .await
                .expect("free one");
        }
        assert!(matches!(
            s.port_create(&port("full", &sub, None)).await,
            Err(StoreError::Exhausted(_))
        ));
        assert!(s.port_delete("a").await.expect("delete"));
        let again = s
            .port_create(&port("again", &sub, None))
            .await
            .expect("freed");
        assert_eq!(again.body["fixed_ips"][0]["ip_address"], "10.0.0.4");
        assert_eq!(s.ip_used("s1").await.expect("used"), 5);
        t.cleanup().await;
    }
}

#[test]
fn eui64_of_a_mac() {
    let id = eui64("fa:16:3e:12:34:56").expect("eui64");
    let net = Cidr::parse("2001:db8::/64", true).expect("cidr").net;
    assert_eq!(ip::render(6, net | id), "2001:db8::f816:3eff:fe12:3456");
}

#[tokio::test]
async fn concurrent_port_creates_get_distinct_addresses() {
    const N: usize = 200;
    for (t, s) in stores().await {
        let sub = ranges("s1", "10.1.0.0/24");
        let mut tasks = Vec::new();
        for i in 0..N {
            let s = s.clone();
            let w = port(&format!("p{i:03}"), &sub, None);
            tasks.push(tokio::spawn(async move { s.port_create(&w).await }));
        }
        let mut addrs = HashSet::new();
        let mut macs = HashSet::new();
        for task in tasks {
            let row = task.await.expect("join").expect("port create");
            let a = row.body["fixed_ips"][0]["ip_address"]
                .as_str()
                .expect("ip")
                .to_string();
            assert!(ip::parse_ip(&a).is_some());
            addrs.insert(a);
            macs.insert(row.body["mac_address"].as_str().expect("mac").to_string());
        }
        assert_eq!(addrs.len(), N, "on {:?}", t.engine());
        assert_eq!(macs.len(), N);
        assert_eq!(s.ip_used("s1").await.expect("used"), N as i64);
        t.cleanup().await;
    }
}
