//! Sharing: members and their statuses, and the listing rules of each visibility.

mod common;

use axum::http::{Method, StatusCode};
use common::*;
use serde_json::{Value, json};

fn ids(r: &Resp) -> Vec<String> {
    let mut v: Vec<String> = r.body["images"]
        .as_array()
        .expect("images")
        .iter()
        .map(|i| i["id"].as_str().unwrap_or_default().to_string())
        .collect();
    v.sort();
    v
}

async fn member_call(c: &TestCloud, m: Method, path: &str, tok: &str, body: Option<Value>) -> Resp {
    c.call(m, path, Some(tok), body).await
}

#[tokio::test]
async fn sharing_with_a_member_project() {
    let c = cloud_with(|cfg| cfg.image_member_quota = 1).await;
    let id = c.create_named(A, "shared").await;
    let members = format!("/v2/images/{id}/members");
    let member_b = format!("{members}/{PROJECT_B}");

    let r = c.get(A, &members).await;
    assert_eq!(
        (r.status, r.body["members"].clone()),
        (StatusCode::OK, json!([]))
    );
    assert_eq!(r.body["schema"], "/v2/schemas/members");
    // B cannot see the image, so neither its members.
    assert_eq!(c.get(B, &members).await.status, StatusCode::NOT_FOUND);

    for (body, status) in [
        (json!({}), StatusCode::BAD_REQUEST),
        (json!({"member": ""}), StatusCode::BAD_REQUEST),
        (json!({"member": 5}), StatusCode::BAD_REQUEST),
    ] {
        let r = member_call(&c, Method::POST, &members, A, Some(body.clone())).await;
        assert_eq!(r.status, status, "{body}");
    }
    let r = member_call(
        &c,
        Method::POST,
        &members,
        A_READER,
        Some(json!({"member": PROJECT_B})),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = member_call(
        &c,
        Method::POST,
        &members,
        A,
        Some(json!({"member": PROJECT_B})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.body["status"], "pending");
    assert_eq!(r.body["member_id"], PROJECT_B);
    assert_eq!(r.body["image_id"], id.as_str());
    assert_eq!(r.body["schema"], "/v2/schemas/member");
    let r = member_call(
        &c,
        Method::POST,
        &members,
        A,
        Some(json!({"member": PROJECT_B})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = member_call(
        &c,
        Method::POST,
        &members,
        A,
        Some(json!({"member": "third"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);

    // Pending: B sees the image directly and with member_status, not in its default list.
    assert_eq!(
        c.get(B, &format!("/v2/images/{id}")).await.status,
        StatusCode::OK
    );
    assert!(!ids(&c.get(B, "/v2/images").await).contains(&id));
    assert!(ids(&c.get(B, "/v2/images?member_status=pending").await).contains(&id));
    assert!(ids(&c.get(B, "/v2/images?member_status=all").await).contains(&id));

    // Only the member sets its status.
    let accept = json!({"status": "accepted"});
    let r = member_call(&c, Method::PUT, &member_b, A, Some(accept.clone())).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    let r = member_call(
        &c,
        Method::PUT,
        &member_b,
        B,
        Some(json!({"status": "maybe"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = member_call(&c, Method::PUT, &member_b, B, Some(accept.clone())).await;
    assert_eq!(
        (r.status, r.body["status"].clone()),
        (StatusCode::OK, json!("accepted"))
    );
    assert!(ids(&c.get(B, "/v2/images").await).contains(&id));
    assert!(ids(&c.get(B, "/v2/images?visibility=shared").await).contains(&id));

    // The member sees its own membership; cannot add or remove members.
    let r = c.get(B, &members).await;
    assert_eq!(r.body["members"].as_array().map(Vec::len), Some(1));
    assert_eq!(c.get(B, &member_b).await.status, StatusCode::OK);
    assert_eq!(c.get(A_READER, &member_b).await.status, StatusCode::OK);
    let r = member_call(&c, Method::DELETE, &member_b, B, None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = member_call(&c, Method::POST, &members, B, Some(json!({"member": "x"}))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        c.get(A, &format!("{members}/nobody")).await.status,
        StatusCode::NOT_FOUND
    );

    // Rejected: off the default list again, still reachable by id.
    let r = member_call(
        &c,
        Method::PUT,
        &member_b,
        B,
        Some(json!({"status": "rejected"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!ids(&c.get(B, "/v2/images").await).contains(&id));
    assert!(ids(&c.get(B, "/v2/images?member_status=rejected").await).contains(&id));

    // Private images have no members.
    let r = c
        .patch(
            A,
            &id,
            json!([{"op": "replace", "path": "/visibility", "value": "private"}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(c.get(A, &members).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        c.get(B, &format!("/v2/images/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    let r = c
        .patch(
            A,
            &id,
            json!([{"op": "replace", "path": "/visibility", "value": "shared"}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);

    // Removal ends access.
    let r = member_call(&c, Method::DELETE, &member_b, A, None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = member_call(&c, Method::DELETE, &member_b, A, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        c.get(B, &format!("/v2/images/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    // No token: 401 everywhere.
    assert_eq!(
        c.call(Method::GET, &members, None, None).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn listing_rules_of_each_visibility() {
    let c = cloud().await;
    let private = c
        .create(A, json!({"name": "private", "visibility": "private"}))
        .await;
    let shared = c.create(A, json!({"name": "shared"})).await;
    let community = c
        .create(A, json!({"name": "community", "visibility": "community"}))
        .await;
    let public = c
        .create(ADMIN, json!({"name": "public", "visibility": "public"}))
        .await;

    let mut own = vec![
        private.clone(),
        shared.clone(),
        community.clone(),
        public.clone(),
    ];
    own.sort();
    assert_eq!(ids(&c.get(A, "/v2/images").await), own);
    assert_eq!(ids(&c.get(A_READER, "/v2/images").await), own);
    // B: the public image only; community ones when asked for.
    assert_eq!(ids(&c.get(B, "/v2/images").await), [public.as_str()]);
    assert_eq!(
        ids(&c.get(B, "/v2/images?visibility=community").await),
        [community.as_str()]
    );
    assert_eq!(
        ids(&c.get(B, "/v2/images?visibility=private").await),
        Vec::<String>::new()
    );
    for id in [&private, &shared] {
        assert_eq!(
            c.get(B, &format!("/v2/images/{id}")).await.status,
            StatusCode::NOT_FOUND
        );
    }
    for id in [&community, &public] {
        assert_eq!(
            c.get(B, &format!("/v2/images/{id}")).await.status,
            StatusCode::OK
        );
    }
    // B sees but may not change a public image.
    let r = c
        .patch(
            B,
            &public,
            json!([{"op": "replace", "path": "/name", "value": "x"}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // The admin sees everything with visibility=all; others' community images are hidden
    // from its default list as from anyone's.
    let all = ids(&c.get(ADMIN, "/v2/images?visibility=all").await);
    assert_eq!(all.len(), 4);
    assert!(!ids(&c.get(ADMIN, "/v2/images").await).contains(&community));
    assert_eq!(
        ids(&c
            .get(
                ADMIN,
                &format!("/v2/images?owner={PROJECT_A}&visibility=all")
            )
            .await)
        .len(),
        3
    );
    // Members only for shared images; community is not shared.
    let r = c
        .call(
            Method::POST,
            &format!("/v2/images/{community}/members"),
            Some(A),
            Some(json!({"member": PROJECT_B})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // A member may make its image community, not public.
    let r = c
        .patch(
            A,
            &private,
            json!([{"op": "replace", "path": "/visibility", "value": "community"}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
}
