//! API tests of `os-hosts` (up to 2.42).

mod common;

use axum::http::{Method, StatusCode};
use common::*;
use serde_json::json;

#[tokio::test]
async fn os_hosts_list_show_update_and_errors() {
    let c = cloud().await;
    let r = c.get("/v2.1/os-hosts", ADMIN).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let hosts = r.body["hosts"].as_array().expect("hosts").clone();
    let compute = hosts
        .iter()
        .find(|h| h["service"] == "compute")
        .expect("a compute host");
    assert_eq!(compute["host_name"], "host1");
    let zone = compute["zone"].as_str().expect("zone").to_string();
    let r = c.get(&format!("/v2.1/os-hosts?zone={zone}"), ADMIN).await;
    assert!(
        r.body["hosts"]
            .as_array()
            .is_some_and(|h| h.contains(compute))
    );
    let r = c.get("/v2.1/os-hosts?zone=xxx", ADMIN).await;
    assert_eq!(r.body["hosts"], json!([]));
    assert_eq!(
        c.get("/v2.1/os-hosts", MEMBER).await.status,
        StatusCode::FORBIDDEN
    );
    // Gone from 2.43.
    let r = c
        .call(
            Method::GET,
            "/v2.1/os-hosts",
            Some(ADMIN),
            None,
            Some("2.43"),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    c.flavor("1", 1, 512).await;
    let id = c.server(MEMBER, "vm1", "1").await;
    c.wait(&id, "ACTIVE").await;
    let r = c.get("/v2.1/os-hosts/host1", ADMIN).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let res: Vec<_> = r.body["host"]
        .as_array()
        .expect("host")
        .iter()
        .map(|x| x["resource"].clone())
        .collect();
    assert_eq!(res[0]["project"], "(total)");
    assert_eq!(res[0]["cpu"], 8);
    assert_eq!(res[1]["project"], "(used_now)");
    assert_eq!(res[1]["memory_mb"], 512);
    assert_eq!(res[3]["project"], P1);
    assert_eq!(
        c.get("/v2.1/os-hosts/nope", ADMIN).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        c.get("/v2.1/os-hosts/host1", MEMBER).await.status,
        StatusCode::FORBIDDEN
    );

    let put = |token: &'static str, host: &'static str, body: serde_json::Value| {
        let path = format!("/v2.1/os-hosts/{host}");
        let c = &c;
        async move {
            c.call(Method::PUT, &path, Some(token), Some(body), None)
                .await
        }
    };
    let r = put(ADMIN, "host1", json!({"status": "disable"})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body, json!({"host": "host1", "status": "disabled"}));
    let r = c.get("/v2.1/os-services?binary=nova-compute", ADMIN).await;
    assert_eq!(r.body["services"][0]["status"], "disabled");
    let r = put(ADMIN, "host1", json!({"status": "enable"})).await;
    assert_eq!(r.body["status"], "enabled");
    assert_eq!(
        put(ADMIN, "host1", json!({"status": "invalid"}))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        put(ADMIN, "host1", json!({})).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        put(ADMIN, "nope", json!({"status": "enable"})).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        put(MEMBER, "host1", json!({"status": "enable"}))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        put(ADMIN, "host1", json!({"maintenance_mode": "enable"}))
            .await
            .status,
        StatusCode::NOT_IMPLEMENTED
    );

    // Power actions: checked, then not implemented.
    for a in ["startup", "shutdown", "reboot"] {
        assert_eq!(
            c.get(&format!("/v2.1/os-hosts/nope/{a}"), ADMIN)
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            c.get(&format!("/v2.1/os-hosts/host1/{a}"), MEMBER)
                .await
                .status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            c.get(&format!("/v2.1/os-hosts/host1/{a}"), ADMIN)
                .await
                .status,
            StatusCode::NOT_IMPLEMENTED
        );
    }
}

#[tokio::test]
async fn hypervisor_uptime() {
    let c = cloud().await;
    let r = c.get("/v2.1/os-hypervisors", ADMIN).await;
    let id = r.body["hypervisors"][0]["id"].to_string();
    let r = c
        .get(&format!("/v2.1/os-hypervisors/{id}/uptime"), ADMIN)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(
        r.body["hypervisor"]["uptime"]
            .as_str()
            .is_some_and(|u| u.contains(" up "))
    );
    assert_eq!(r.body["hypervisor"]["state"], "up");
    assert_eq!(
        c.get(&format!("/v2.1/os-hypervisors/{id}/uptime"), MEMBER)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        c.get("/v2.1/os-hypervisors/999/uptime", ADMIN).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn aggregates_group_hosts_for_admins() {
    let c = cloud().await;
    let r = c
        .post(
            "/v2.1/os-aggregates",
            ADMIN,
            json!({"aggregate": {"name": "rack1", "availability_zone": "az1"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let id = r.body["aggregate"]["id"].as_i64().expect("id");
    assert_eq!(r.body["aggregate"]["availability_zone"], "az1");
    assert!(r.body["aggregate"].get("metadata").is_none(), "as in Nova");
    let r = c.get(&format!("/v2.1/os-aggregates/{id}"), ADMIN).await;
    assert_eq!(
        r.body["aggregate"]["metadata"],
        json!({"availability_zone": "az1"})
    );
    for (body, want) in [
        (
            json!({"aggregate": {"name": "rack1"}}),
            StatusCode::CONFLICT,
        ),
        (json!({"aggregate": {"name": ""}}), StatusCode::BAD_REQUEST),
        (
            json!({"aggregate": {"name": "x".repeat(256)}}),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        assert_eq!(
            c.post("/v2.1/os-aggregates", ADMIN, body).await.status,
            want
        );
    }
    assert_eq!(
        c.post(
            "/v2.1/os-aggregates",
            MEMBER,
            json!({"aggregate": {"name": "r2"}})
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    let act = format!("/v2.1/os-aggregates/{id}/action");
    let r = c
        .post(&act, ADMIN, json!({"add_host": {"host": "host1"}}))
        .await;
    assert_eq!(
        r.body["aggregate"]["hosts"],
        json!(["host1"]),
        "{:?}",
        r.body
    );
    for (body, want) in [
        (json!({"add_host": {"host": "host1"}}), StatusCode::CONFLICT),
        (
            json!({"add_host": {"host": "nowhere"}}),
            StatusCode::NOT_FOUND,
        ),
        (
            json!({"remove_host": {"host": "nowhere"}}),
            StatusCode::NOT_FOUND,
        ),
    ] {
        assert_eq!(c.post(&act, ADMIN, body).await.status, want);
    }
    let path = format!("/v2.1/os-aggregates/{id}");
    let r = c.call(Method::DELETE, &path, Some(ADMIN), None, None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "not empty");
    let r = c
        .post(
            &act,
            ADMIN,
            json!({"set_metadata": {"metadata": {"ssd": "true", "availability_zone": null}}}),
        )
        .await;
    assert_eq!(r.body["aggregate"]["metadata"], json!({"ssd": "true"}));
    assert!(r.body["aggregate"]["availability_zone"].is_null());
    c.post(&act, ADMIN, json!({"remove_host": {"host": "host1"}}))
        .await;
    let r = c
        .call(
            Method::PUT,
            &path,
            Some(ADMIN),
            Some(json!({"aggregate": {"name": "rack9"}})),
            None,
        )
        .await;
    assert_eq!(r.body["aggregate"]["name"], "rack9");
    let r = c.call(Method::DELETE, &path, Some(ADMIN), None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(c.get(&path, ADMIN).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        c.get("/v2.1/os-aggregates", READER).await.status,
        StatusCode::FORBIDDEN
    );
}
