//! Every route as a caller without rights: another project's member gets 404 for servers it
//! cannot see and 403 for admin APIs; a reader cannot change anything.

mod common;

use axum::http::{Method, StatusCode};
use common::*;
use serde_json::json;

#[tokio::test]
async fn callers_without_rights_are_refused() {
    let c = cloud().await;
    c.flavor("1", 1, 512).await;
    let id = c.server(MEMBER, "mine", "1").await;
    c.wait(&id, "ACTIVE").await;
    let s = format!("/v2.1/servers/{id}");
    let cases: Vec<(Method, String, &str, Option<serde_json::Value>, StatusCode)> = vec![
        (Method::GET, s.clone(), OTHER, None, StatusCode::NOT_FOUND),
        (
            Method::PUT,
            s.clone(),
            OTHER,
            Some(json!({"server": {"name": "x"}})),
            StatusCode::NOT_FOUND,
        ),
        (
            Method::DELETE,
            s.clone(),
            OTHER,
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            Method::POST,
            format!("{s}/action"),
            OTHER,
            Some(json!({"os-stop": null})),
            StatusCode::NOT_FOUND,
        ),
        (
            Method::GET,
            format!("{s}/metadata"),
            OTHER,
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            Method::GET,
            format!("{s}/os-instance-actions"),
            OTHER,
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            Method::PUT,
            s.clone(),
            READER,
            Some(json!({"server": {"name": "x"}})),
            StatusCode::FORBIDDEN,
        ),
        (
            Method::DELETE,
            s.clone(),
            READER,
            None,
            StatusCode::FORBIDDEN,
        ),
        (
            Method::POST,
            format!("{s}/action"),
            READER,
            Some(json!({"reboot": {"type": "SOFT"}})),
            StatusCode::FORBIDDEN,
        ),
        (
            Method::POST,
            format!("{s}/metadata"),
            READER,
            Some(json!({"metadata": {"a": "b"}})),
            StatusCode::FORBIDDEN,
        ),
        (
            Method::POST,
            "/v2.1/servers".into(),
            READER,
            Some(json!({"server": {"name": "x", "imageRef": IMAGE, "flavorRef": "1"}})),
            StatusCode::FORBIDDEN,
        ),
        (
            Method::POST,
            format!("{s}/action"),
            MEMBER,
            Some(json!({"os-resetState": {"state": "error"}})),
            StatusCode::FORBIDDEN,
        ),
        (
            Method::GET,
            "/v2.1/servers?all_tenants=1".into(),
            MEMBER,
            None,
            StatusCode::FORBIDDEN,
        ),
        (
            Method::POST,
            "/v2.1/flavors".into(),
            MEMBER,
            Some(json!({"flavor": {"name": "x", "vcpus": 1, "ram": 1, "disk": 0}})),
            StatusCode::FORBIDDEN,
        ),
        (
            Method::DELETE,
            "/v2.1/flavors/1".into(),
            MEMBER,
            None,
            StatusCode::FORBIDDEN,
        ),
        (
            Method::GET,
            "/v2.1/flavors/1/os-flavor-access".into(),
            MEMBER,
            None,
            StatusCode::FORBIDDEN,
        ),
        (
            Method::PUT,
            format!("/v2.1/os-quota-sets/{P1}"),
            MEMBER,
            Some(json!({"quota_set": {"cores": 1}})),
            StatusCode::FORBIDDEN,
        ),
        (
            Method::GET,
            format!("/v2.1/os-quota-sets/{P1}"),
            OTHER,
            None,
            StatusCode::FORBIDDEN,
        ),
        (
            Method::GET,
            "/v2.1/os-quota-class-sets/default".into(),
            MEMBER,
            None,
            StatusCode::FORBIDDEN,
        ),
        (
            Method::GET,
            "/v2.1/os-services".into(),
            MEMBER,
            None,
            StatusCode::FORBIDDEN,
        ),
        (
            Method::PUT,
            "/v2.1/os-services/disable".into(),
            MEMBER,
            Some(json!({"host": "host1", "binary": "nova-compute"})),
            StatusCode::FORBIDDEN,
        ),
        (
            Method::GET,
            "/v2.1/os-hypervisors".into(),
            MEMBER,
            None,
            StatusCode::FORBIDDEN,
        ),
        (
            Method::GET,
            "/v2.1/os-hypervisors/statistics".into(),
            MEMBER,
            None,
            StatusCode::FORBIDDEN,
        ),
        (
            Method::GET,
            "/v2.1/os-availability-zone/detail".into(),
            MEMBER,
            None,
            StatusCode::FORBIDDEN,
        ),
        (
            Method::GET,
            format!("/v2.1/limits?tenant_id={P2}"),
            MEMBER,
            None,
            StatusCode::FORBIDDEN,
        ),
        (
            Method::POST,
            "/v2.1/os-server-groups".into(),
            READER,
            Some(json!({"server_group": {"name": "g", "policies": ["affinity"]}})),
            StatusCode::FORBIDDEN,
        ),
    ];
    for (m, path, token, body, want) in cases {
        let r = c.call(m.clone(), &path, Some(token), body, None).await;
        assert_eq!(r.status, want, "{m} {path} as {token}: {:?}", r.body);
    }
    // And admins may do what members may not.
    let r = c.get("/v2.1/servers/detail?all_tenants=1", ADMIN).await;
    assert_eq!(r.body["servers"].as_array().map(Vec::len), Some(1));
    let r = c
        .call(
            Method::PUT,
            "/v2.1/os-services/00000000-0000-0000-0000-000000000000",
            Some(ADMIN),
            Some(json!({"status": "disabled"})),
            Some("2.53"),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let svc = c.agent.service.uuid.clone();
    let r = c
        .call(
            Method::PUT,
            &format!("/v2.1/os-services/{svc}"),
            Some(ADMIN),
            Some(json!({"forced_down": true})),
            Some("2.53"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["service"]["state"], "down");
    let r = c
        .call(Method::GET, &s, Some(ADMIN), None, Some("2.16"))
        .await;
    assert_eq!(r.body["server"]["host_status"], "DOWN");
}
