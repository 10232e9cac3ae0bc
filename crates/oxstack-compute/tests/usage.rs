//! API tests of `os-simple-tenant-usage`.

mod common;

use axum::http::StatusCode;
use common::*;

#[tokio::test]
async fn simple_tenant_usage_list_show_and_errors() {
    let c = cloud().await;
    c.flavor("1", 1, 512).await;
    let id = c.server(MEMBER, "vm1", "1").await;
    c.wait(&id, "ACTIVE").await;
    let period = "start=2000-01-01T00:00:00.000000&end=2100-01-01T00:00:00";

    let r = c
        .get(
            &format!("/v2.1/os-simple-tenant-usage?{period}&detailed=1"),
            ADMIN,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let u = &r.body["tenant_usages"][0];
    assert_eq!(u["tenant_id"], P1);
    assert_eq!(u.as_object().map(|m| m.len()), Some(8));
    assert_eq!(u["server_usages"][0]["instance_id"], id.as_str());
    assert_eq!(u["server_usages"][0]["flavor"], "f-1");
    assert_eq!(u["server_usages"][0]["state"], "active");
    assert!(u["total_hours"].is_number());
    // Without detailed: no server list.
    let r = c
        .get(&format!("/v2.1/os-simple-tenant-usage?{period}"), ADMIN)
        .await;
    assert!(r.body["tenant_usages"][0].get("server_usages").is_none());

    // The project's own usage, for its readers.
    let r = c
        .get(
            &format!("/v2.1/os-simple-tenant-usage/{P1}?{period}"),
            READER,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["tenant_usage"]["server_usages"][0]["memory_mb"], 512);
    // Nothing in a period before the server.
    let r = c
        .get(
            &format!("/v2.1/os-simple-tenant-usage/{P1}?start=2000-01-01T00:00:00&end=2000-01-02T00:00:00"),
            READER,
        )
        .await;
    assert_eq!(r.body["tenant_usage"], serde_json::json!({}));

    // Errors: members may not list all, others may not see a project, bad periods.
    assert_eq!(
        c.get("/v2.1/os-simple-tenant-usage", MEMBER).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        c.get(&format!("/v2.1/os-simple-tenant-usage/{P1}"), OTHER)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let r = c
        .get(
            &format!("/v2.1/os-simple-tenant-usage/{P1}?start=2100-01-01T00:00:00&end=2000-01-01T00:00:00"),
            MEMBER,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = c
        .get(
            &format!("/v2.1/os-simple-tenant-usage/{P1}?start=yesterday"),
            MEMBER,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}
