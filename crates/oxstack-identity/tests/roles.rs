//! Roles and implied roles through the HTTP API.

mod actors;
mod common;

use axum::http::{Method, StatusCode};
use common::{TestCloud, URL, cloud};
use serde_json::{Value, json};

async fn role(c: &TestCloud, body: Value) -> Value {
    let r = c
        .admin(Method::POST, "/v3/roles", Some(json!({ "role": body })))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    r.body["role"].clone()
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

async fn domain(c: &TestCloud, name: &str) -> String {
    let r = c
        .admin(
            Method::POST,
            "/v3/domains",
            Some(json!({"domain": {"name": name}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    id(&r.body["domain"])
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array().expect("list").iter().map(id).collect()
}

#[tokio::test]
async fn role_crud_and_conflicts() {
    let c = cloud().await;
    let r = role(&c, json!({"name": "observer", "description": "looks"})).await;
    let rid = id(&r);
    assert_eq!(r["name"], "observer");
    assert_eq!(r["description"], "looks");
    assert_eq!(r["domain_id"], Value::Null);
    assert_eq!(r["options"], json!({}));
    assert_eq!(r["links"]["self"], format!("{URL}/v3/roles/{rid}"));

    let dup = c
        .admin(
            Method::POST,
            "/v3/roles",
            Some(json!({"role": {"name": "observer"}})),
        )
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    assert_eq!(
        dup.body["error"]["message"],
        "Conflict occurred attempting to store role - Duplicate entry found with name observer."
    );

    let got = c
        .admin(Method::GET, &format!("/v3/roles/{rid}"), None)
        .await;
    assert_eq!((got.status, got.body["role"].clone()), (StatusCode::OK, r));

    let listed = c.admin(Method::GET, "/v3/roles", None).await;
    assert_eq!(listed.status, StatusCode::OK);
    let all = ids(&listed.body["roles"]);
    assert!(all.contains(&rid));
    let by_name = c.admin(Method::GET, "/v3/roles?name=observer", None).await;
    assert_eq!(ids(&by_name.body["roles"]), vec![rid.clone()]);

    let upd = c
        .admin(
            Method::PATCH,
            &format!("/v3/roles/{rid}"),
            Some(json!({"role": {"name": "watcher", "description": null}})),
        )
        .await;
    assert_eq!(upd.status, StatusCode::OK, "{:?}", upd.body);
    assert_eq!(upd.body["role"]["name"], "watcher");
    assert_eq!(upd.body["role"]["description"], Value::Null);
    let to_existing = c
        .admin(
            Method::PATCH,
            &format!("/v3/roles/{rid}"),
            Some(json!({"role": {"name": "member"}})),
        )
        .await;
    assert_eq!(to_existing.status, StatusCode::CONFLICT);
    let move_domain = c
        .admin(
            Method::PATCH,
            &format!("/v3/roles/{rid}"),
            Some(json!({"role": {"domain_id": "default"}})),
        )
        .await;
    assert_eq!(move_domain.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        move_domain.body["error"]["message"],
        "Update of `domain_id` is not allowed."
    );

    let del = c
        .admin(Method::DELETE, &format!("/v3/roles/{rid}"), None)
        .await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);
    let gone = c
        .admin(Method::GET, &format!("/v3/roles/{rid}"), None)
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(
        gone.body["error"]["message"],
        format!("Could not find role: {rid}.")
    );
    let gone = c
        .admin(Method::DELETE, &format!("/v3/roles/{rid}"), None)
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_requests_and_missing_tokens() {
    let c = cloud().await;
    for body in [
        json!({"role": {}}),
        json!({"role": {"name": 5}}),
        json!({"role": {"name": ""}}),
        json!({"role": {"name": "   "}}),
        json!({"role": {"name": "x".repeat(256)}}),
        json!({"role": {"name": "ok", "options": {"bogus": true}}}),
        json!({"role": {"name": "ok", "options": {"immutable": "yes"}}}),
        json!({"nope": {}}),
    ] {
        let r = c.admin(Method::POST, "/v3/roles", Some(body.clone())).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {:?}", r.body);
    }
    let r = c.call(Method::GET, "/v3/roles", None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = c
        .call(
            Method::POST,
            "/v3/roles",
            None,
            Some(json!({"role": {"name": "x"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = c
        .admin(
            Method::POST,
            "/v3/roles",
            Some(json!({"role": {"name": "x", "domain_id": "nowhere"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_project_member_cannot_manage_roles() {
    let c = cloud().await;
    let member = c
        .admin(Method::GET, "/v3/roles?name=member", None)
        .await
        .body["roles"][0]
        .clone();
    let uid = actors::user(&c, "alice", "default").await;
    let admin_project = c
        .admin(Method::GET, "/v3/projects?name=admin", None)
        .await
        .body["projects"][0]["id"]
        .as_str()
        .expect("admin project")
        .to_string();
    let r = c
        .admin(
            Method::PUT,
            &format!(
                "/v3/projects/{admin_project}/users/{uid}/roles/{}",
                id(&member)
            ),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    let token = c
        .password_token(
            "alice",
            actors::PASSWORD,
            Some(json!({"project": {"id": admin_project}})),
        )
        .await;
    for (method, path, body) in [
        (
            Method::POST,
            "/v3/roles".to_string(),
            Some(json!({"role": {"name": "x"}})),
        ),
        (Method::GET, "/v3/roles".to_string(), None),
        (
            Method::PATCH,
            format!("/v3/roles/{}", id(&member)),
            Some(json!({"role": {"name": "y"}})),
        ),
        (Method::DELETE, format!("/v3/roles/{}", id(&member)), None),
        (Method::GET, "/v3/role_inferences".to_string(), None),
    ] {
        let r = c.call(method.clone(), &path, Some(&token), body).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{method} {path}");
    }
    let r = c
        .call(Method::DELETE, "/v3/roles/nonexistent", Some(&token), None)
        .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "a caller without rights does not learn whether a role exists"
    );
}

#[tokio::test]
async fn domain_specific_roles() {
    let c = cloud().await;
    let d = domain(&c, "d1").await;
    let dr = role(&c, json!({"name": "observer", "domain_id": d})).await;
    assert_eq!(dr["domain_id"], d);
    let same_name_global = role(&c, json!({"name": "observer"})).await;
    let dup = c
        .admin(
            Method::POST,
            "/v3/roles",
            Some(json!({"role": {"name": "observer", "domain_id": d}})),
        )
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    assert_eq!(
        dup.body["error"]["message"],
        format!(
            "Conflict occurred attempting to store role - Duplicate entry found with name observer at domain ID {d}."
        )
    );
    let listed = c
        .admin(Method::GET, &format!("/v3/roles?domain_id={d}"), None)
        .await;
    assert_eq!(listed.body["roles"], json!([dr.clone()]));
    let global = c.admin(Method::GET, "/v3/roles", None).await;
    let global = ids(&global.body["roles"]);
    assert!(!global.contains(&id(&dr)) && global.contains(&id(&same_name_global)));
    let r = c
        .admin(Method::DELETE, &format!("/v3/roles/{}", id(&dr)), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let listed = c
        .admin(Method::GET, &format!("/v3/roles?domain_id={d}"), None)
        .await;
    assert_eq!(listed.body["roles"], json!([]));
}

#[tokio::test]
async fn immutable_roles() {
    let c = cloud().await;
    let r = role(
        &c,
        json!({"name": "locked", "options": {"immutable": true}}),
    )
    .await;
    assert_eq!(r["options"], json!({"immutable": true}));
    let rid = id(&r);
    let upd = c
        .admin(
            Method::PATCH,
            &format!("/v3/roles/{rid}"),
            Some(json!({"role": {"name": "other"}})),
        )
        .await;
    assert_eq!(upd.status, StatusCode::FORBIDDEN);
    let del = c
        .admin(Method::DELETE, &format!("/v3/roles/{rid}"), None)
        .await;
    assert_eq!(del.status, StatusCode::FORBIDDEN);
    let unlock = c
        .admin(
            Method::PATCH,
            &format!("/v3/roles/{rid}"),
            Some(json!({"role": {"options": {"immutable": false}}})),
        )
        .await;
    assert_eq!(unlock.status, StatusCode::OK, "{:?}", unlock.body);
    let del = c
        .admin(Method::DELETE, &format!("/v3/roles/{rid}"), None)
        .await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn implied_roles() {
    let c = cloud().await;
    let (a, b, x) = (
        id(&role(&c, json!({"name": "a"})).await),
        id(&role(&c, json!({"name": "b"})).await),
        id(&role(&c, json!({"name": "x"})).await),
    );
    let r = c
        .admin(Method::PUT, &format!("/v3/roles/{a}/implies/{b}"), None)
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(
        r.body,
        json!({
            "role_inference": {
                "prior_role": {"id": a, "name": "a", "links": {"self": format!("{URL}/v3/roles/{a}")}},
                "implies": {"id": b, "name": "b", "links": {"self": format!("{URL}/v3/roles/{b}")}},
            },
            "links": {"self": format!("{URL}/v3/roles/{a}/implies/{b}")},
        })
    );
    let again = c
        .admin(Method::PUT, &format!("/v3/roles/{a}/implies/{b}"), None)
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let r = c
        .admin(Method::PUT, &format!("/v3/roles/{a}/implies/{x}"), None)
        .await;
    assert_eq!(r.status, StatusCode::CREATED);

    let head = c
        .admin(Method::HEAD, &format!("/v3/roles/{a}/implies/{b}"), None)
        .await;
    assert_eq!(head.status, StatusCode::NO_CONTENT);
    let show = c
        .admin(Method::GET, &format!("/v3/roles/{a}/implies/{b}"), None)
        .await;
    assert_eq!(show.status, StatusCode::OK);
    assert_eq!(show.body["role_inference"]["implies"]["id"], b);

    let listed = c
        .admin(Method::GET, &format!("/v3/roles/{a}/implies"), None)
        .await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.body["role_inference"]["prior_role"]["id"], a);
    let mut implied = ids(&listed.body["role_inference"]["implies"]);
    implied.sort();
    let mut want = vec![b.clone(), x.clone()];
    want.sort();
    assert_eq!(implied, want);
    assert_eq!(
        listed.body["links"]["self"],
        format!("{URL}/v3/roles/{a}/implies")
    );

    let all = c.admin(Method::GET, "/v3/role_inferences", None).await;
    assert_eq!(all.status, StatusCode::OK);
    let rule = all.body["role_inferences"]
        .as_array()
        .expect("list")
        .iter()
        .find(|r| r["prior_role"]["id"] == a)
        .expect("rule for a")
        .clone();
    assert_eq!(rule["implies"].as_array().expect("implies").len(), 2);
    // Bootstrap's admin ⇒ member ⇒ reader are listed too.
    assert!(all.body["role_inferences"].as_array().expect("list").len() >= 3);

    // b ⇒ a would close a cycle; a ⇒ a is one; admin may never be implied.
    for (p, i) in [(&b, &a), (&a, &a)] {
        let r = c
            .admin(Method::PUT, &format!("/v3/roles/{p}/implies/{i}"), None)
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{p} => {i}");
    }
    let admin = c
        .admin(Method::GET, "/v3/roles?name=admin", None)
        .await
        .body["roles"][0]
        .clone();
    let r = c
        .admin(
            Method::PUT,
            &format!("/v3/roles/{x}/implies/{}", id(&admin)),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        r.body["error"]["message"],
        format!("{} cannot be an implied roles.", id(&admin))
    );

    let r = c
        .admin(Method::PUT, &format!("/v3/roles/{a}/implies/nope"), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["error"]["message"], "Could not find role: nope.");

    let del = c
        .admin(Method::DELETE, &format!("/v3/roles/{a}/implies/{b}"), None)
        .await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);
    for method in [Method::GET, Method::DELETE] {
        let r = c
            .admin(method, &format!("/v3/roles/{a}/implies/{b}"), None)
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert_eq!(
            r.body["error"]["message"],
            format!("{a} does not imply {b}.")
        );
    }
    let head = c
        .admin(Method::HEAD, &format!("/v3/roles/{a}/implies/{b}"), None)
        .await;
    assert_eq!(head.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn implied_domain_roles() {
    let c = cloud().await;
    let (d1, d2) = (domain(&c, "d1").await, domain(&c, "d2").await);
    let dr1 = id(&role(&c, json!({"name": "r1", "domain_id": d1})).await);
    let dr2 = id(&role(&c, json!({"name": "r2", "domain_id": d1})).await);
    let dr3 = id(&role(&c, json!({"name": "r3", "domain_id": d2})).await);
    let global = id(&role(&c, json!({"name": "g"})).await);
    for (p, i) in [(&dr1, &dr2), (&dr1, &dr3), (&dr1, &global)] {
        let r = c
            .admin(Method::PUT, &format!("/v3/roles/{p}/implies/{i}"), None)
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{p} => {i}: {:?}", r.body);
    }
    let r = c
        .admin(
            Method::PUT,
            &format!("/v3/roles/{global}/implies/{dr1}"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        r.body["error"]["message"],
        "Global role cannot imply a domain-specific role"
    );
}

#[tokio::test]
async fn deleting_a_role_removes_its_assignments_and_tokens() {
    let c = cloud().await;
    let rid = id(&role(&c, json!({"name": "temp"})).await);
    let uid = actors::user(&c, "bob", "default").await;
    let p = c
        .admin(
            Method::POST,
            "/v3/projects",
            Some(json!({"project": {"name": "p"}})),
        )
        .await;
    let pid = id(&p.body["project"]);
    let r = c
        .admin(
            Method::PUT,
            &format!("/v3/projects/{pid}/users/{uid}/roles/{rid}"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let token = c
        .password_token(
            "bob",
            actors::PASSWORD,
            Some(json!({"project": {"id": pid}})),
        )
        .await;
    let check = |t: String| {
        let c = &c;
        async move {
            c.call_with(
                Method::GET,
                "/v3/auth/tokens",
                Some(&c.admin_token),
                None,
                &[("x-subject-token", &t)],
            )
            .await
            .status
        }
    };
    assert_eq!(check(token.clone()).await, StatusCode::OK);
    let r = c
        .admin(Method::DELETE, &format!("/v3/roles/{rid}"), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(check(token.clone()).await, StatusCode::NOT_FOUND);
    let r = c
        .call(
            Method::GET,
            &format!("/v3/projects/{pid}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = c
        .admin(
            Method::GET,
            &format!("/v3/role_assignments?role.id={rid}"),
            None,
        )
        .await;
    assert_eq!(r.body["role_assignments"], json!([]));
}
