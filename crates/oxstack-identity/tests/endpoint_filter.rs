//! OS-EP-FILTER (endpoint groups, project endpoints) through the HTTP API, and the catalog
//! a filtered project's tokens carry.

mod common;
mod member;

use axum::http::{Method, StatusCode};
use common::{TestCloud, cloud};
use member::member;
use serde_json::{Value, json};

async fn post(c: &TestCloud, path: &str, key: &str, body: Value) -> String {
    let r = c
        .admin(Method::POST, path, Some(json!({ key: body })))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{path}: {:?}", r.body);
    r.body[key]["id"].as_str().expect("id").to_string()
}

/// A service with a public and an internal endpoint: `(service, public, internal)`.
async fn service(c: &TestCloud, kind: &str) -> (String, String, String) {
    let s = post(
        c,
        "/v3/services",
        "service",
        json!({"type": kind, "name": kind}),
    )
    .await;
    let mut eps = Vec::new();
    for interface in ["public", "internal"] {
        eps.push(
            post(
                c,
                "/v3/endpoints",
                "endpoint",
                json!({"service_id": s, "interface": interface, "url": format!("http://{kind}/{interface}"), "region_id": "RegionOne"}),
            )
            .await,
        );
    }
    (s, eps[0].clone(), eps[1].clone())
}

fn ids(v: &Value, key: &str) -> Vec<String> {
    let mut out: Vec<String> = v[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} in {v}"))
        .iter()
        .filter_map(|x| x["id"].as_str().map(String::from))
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn endpoint_group_crud() {
    let c = cloud().await;
    let (s1, _, _) = service(&c, "compute").await;
    let (s2, _, _) = service(&c, "image").await;
    let base = "/v3/OS-EP-FILTER/endpoint_groups";
    let r = c
        .admin(
            Method::POST,
            base,
            Some(json!({"endpoint_group": {"name": "g", "description": "d", "filters": {"service_id": s1}}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let g = r.body["endpoint_group"].clone();
    let id = g["id"].as_str().expect("id").to_string();
    let path = format!("{base}/{id}");
    assert_eq!(g["links"]["self"], format!("{}{path}", common::URL));

    let r = c.admin(Method::GET, base, None).await;
    assert_eq!(r.body["endpoint_groups"], json!([g]));
    let r = c
        .admin(Method::GET, &format!("{base}?name=other"), None)
        .await;
    assert_eq!(r.body["endpoint_groups"], json!([]));
    let r = c.admin(Method::GET, &path, None).await;
    assert_eq!(r.body["endpoint_group"], g);
    let r = c.admin(Method::HEAD, &path, None).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = c
        .admin(Method::GET, &format!("{path}/endpoints"), None)
        .await;
    assert_eq!(r.body["endpoints"].as_array().map(Vec::len), Some(2));

    let r = c
        .admin(
            Method::PATCH,
            &path,
            Some(json!({"endpoint_group": {"name": "g2", "filters": {"service_id": s2, "interface": "public"}}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["endpoint_group"]["name"], "g2");
    assert_eq!(r.body["endpoint_group"]["filters"]["service_id"], json!(s2));
    let r = c
        .admin(Method::GET, &format!("{path}/endpoints"), None)
        .await;
    assert_eq!(r.body["endpoints"].as_array().map(Vec::len), Some(1));

    for body in [
        json!({"endpoint_group": {"name": "x", "filters": {}}}),
        json!({"endpoint_group": {"name": "x"}}),
        json!({"endpoint_group": {"name": "x", "filters": {"url": "u"}}}),
        json!({"endpoint_group": {"filters": {"interface": "public"}}}),
    ] {
        let r = c.admin(Method::POST, base, Some(body.clone())).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}");
    }

    let m = member(&c, "alice", &["member", "reader"]).await;
    let r = c.call(Method::GET, base, Some(&m.token), None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    let r = c.admin(Method::DELETE, &path, None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = c.admin(Method::HEAD, &path, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn projects_given_endpoints_see_only_those() {
    let c = cloud().await;
    let (compute, compute_public, _) = service(&c, "compute").await;
    let (_, image_public, image_internal) = service(&c, "image").await;
    let m = member(&c, "alice", &["member"]).await;
    let project = m.project_id.clone();

    // Unfiltered: every endpoint.
    let r = c
        .call(Method::GET, "/v3/auth/catalog", Some(&m.token), None)
        .await;
    let all = r.body["catalog"].as_array().expect("catalog").len();
    assert!(all >= 3, "{:?}", r.body);

    // One endpoint directly, image's through a group.
    let pe = format!("/v3/OS-EP-FILTER/projects/{project}/endpoints/{compute_public}");
    let r = c.admin(Method::PUT, &pe, None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    let r = c.admin(Method::HEAD, &pe, None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let g = post(
        &c,
        "/v3/OS-EP-FILTER/endpoint_groups",
        "endpoint_group",
        json!({"name": "images", "filters": {"interface": "public"}}),
    )
    .await;
    let gp = format!("/v3/OS-EP-FILTER/endpoint_groups/{g}/projects/{project}");
    let r = c.admin(Method::GET, &gp, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = c.admin(Method::PUT, &gp, None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = c.admin(Method::GET, &gp, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body["project_endpoint_group"]["project_id"],
        json!(project)
    );

    let r = c
        .admin(
            Method::GET,
            &format!("/v3/OS-EP-FILTER/projects/{project}/endpoint_groups"),
            None,
        )
        .await;
    assert_eq!(ids(&r.body, "endpoint_groups"), vec![g.clone()]);
    let r = c
        .admin(
            Method::GET,
            &format!("/v3/OS-EP-FILTER/endpoint_groups/{g}/projects"),
            None,
        )
        .await;
    assert_eq!(ids(&r.body, "projects"), vec![project.clone()]);
    let r = c
        .admin(
            Method::GET,
            &format!("/v3/OS-EP-FILTER/endpoints/{compute_public}/projects"),
            None,
        )
        .await;
    assert_eq!(ids(&r.body, "projects"), vec![project.clone()]);
    let r = c
        .admin(
            Method::GET,
            &format!("/v3/OS-EP-FILTER/projects/{project}/endpoints"),
            None,
        )
        .await;
    let listed = ids(&r.body, "endpoints");
    assert!(listed.contains(&compute_public) && listed.contains(&image_public));
    assert!(!listed.contains(&image_internal), "{listed:?}");

    // The project's tokens carry just those endpoints.
    let token = c
        .password_token(
            &m.name,
            member::PASSWORD,
            Some(json!({"project": {"id": project}})),
        )
        .await;
    let r = c
        .call(Method::GET, "/v3/auth/catalog", Some(&token), None)
        .await;
    let catalog = r.body["catalog"].as_array().expect("catalog");
    let mut seen: Vec<String> = catalog
        .iter()
        .flat_map(|s| s["endpoints"].as_array().expect("endpoints").clone())
        .filter_map(|e| e["id"].as_str().map(String::from))
        .collect();
    seen.sort();
    let mut want = listed.clone();
    want.sort();
    assert_eq!(seen, want);
    assert!(catalog.iter().any(|s| s["id"] == json!(compute)));

    // Removing the associations gives the whole catalog back.
    let r = c.admin(Method::DELETE, &pe, None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = c.admin(Method::DELETE, &pe, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = c.admin(Method::DELETE, &gp, None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = c
        .call(Method::GET, "/v3/auth/catalog", Some(&token), None)
        .await;
    assert_eq!(r.body["catalog"].as_array().map(Vec::len), Some(all));

    let r = c
        .admin(
            Method::PUT,
            &format!("/v3/OS-EP-FILTER/projects/nope/endpoints/{compute_public}"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}
