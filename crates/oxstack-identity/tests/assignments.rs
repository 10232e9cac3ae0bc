//! Grants and role assignments through the HTTP API, and what they do to tokens.

mod actors;
mod common;

use axum::http::{Method, StatusCode};
use common::{TestCloud, URL, cloud};
use serde_json::{Value, json};

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

async fn role(c: &TestCloud, name: &str) -> String {
    let r = c
        .admin(
            Method::POST,
            "/v3/roles",
            Some(json!({"role": {"name": name}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    id(&r.body["role"])
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

async fn project(c: &TestCloud, name: &str, domain_id: &str, parent: Option<&str>) -> String {
    let mut body = json!({"name": name, "domain_id": domain_id});
    if let Some(p) = parent {
        body["parent_id"] = json!(p);
    }
    let r = c
        .admin(
            Method::POST,
            "/v3/projects",
            Some(json!({ "project": body })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    id(&r.body["project"])
}

async fn status(c: &TestCloud, method: Method, path: &str) -> StatusCode {
    let r = c.admin(method, path, None).await;
    r.status
}

async fn assignments(c: &TestCloud, query: &str) -> Vec<Value> {
    let r = c
        .admin(Method::GET, &format!("/v3/role_assignments?{query}"), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{query}: {:?}", r.body);
    r.body["role_assignments"]
        .as_array()
        .expect("role_assignments")
        .clone()
}

/// The role ids of a project-scoped token for `user` (a Default-domain user).
async fn token_roles(
    c: &TestCloud,
    user: &str,
    project_id: &str,
) -> Result<Vec<String>, StatusCode> {
    let r = c
        .try_password_token(
            user,
            actors::PASSWORD,
            Some(json!({"project": {"id": project_id}})),
        )
        .await;
    if r.status != StatusCode::CREATED {
        return Err(r.status);
    }
    let mut ids: Vec<String> = r.body["token"]["roles"]
        .as_array()
        .expect("roles")
        .iter()
        .map(id)
        .collect();
    ids.sort();
    Ok(ids)
}

async fn validate(c: &TestCloud, token: &str) -> StatusCode {
    c.call_with(
        Method::GET,
        "/v3/auth/tokens",
        Some(&c.admin_token),
        None,
        &[("x-subject-token", token)],
    )
    .await
    .status
}

#[tokio::test]
async fn project_user_grants() {
    let c = cloud().await;
    let rid = role(&c, "observer").await;
    let uid = actors::user(&c, "alice", "default").await;
    let pid = project(&c, "p", "default", None).await;
    let grant = format!("/v3/projects/{pid}/users/{uid}/roles/{rid}");

    assert_eq!(
        status(&c, Method::PUT, &grant).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        status(&c, Method::PUT, &grant).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        status(&c, Method::HEAD, &grant).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        status(&c, Method::GET, &grant).await,
        StatusCode::NO_CONTENT
    );
    let listed = c
        .admin(
            Method::GET,
            &format!("/v3/projects/{pid}/users/{uid}/roles"),
            None,
        )
        .await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.body["roles"].as_array().expect("roles").len(), 1);
    assert_eq!(listed.body["roles"][0]["id"], rid);
    assert_eq!(listed.body["roles"][0]["name"], "observer");
    assert_eq!(
        listed.body["links"]["self"],
        format!("{URL}/v3/projects/{pid}/users/{uid}/roles")
    );

    let direct = assignments(&c, &format!("user.id={uid}")).await;
    assert_eq!(
        direct,
        vec![json!({
            "role": {"id": rid},
            "user": {"id": uid},
            "scope": {"project": {"id": pid}},
            "links": {"assignment": format!("{URL}/v3/projects/{pid}/users/{uid}/roles/{rid}")},
        })]
    );
    assert_eq!(token_roles(&c, "alice", &pid).await, Ok(vec![rid.clone()]));
    let token = c
        .password_token(
            "alice",
            actors::PASSWORD,
            Some(json!({"project": {"id": pid}})),
        )
        .await;
    assert_eq!(validate(&c, &token).await, StatusCode::OK);

    assert_eq!(
        status(&c, Method::DELETE, &grant).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        validate(&c, &token).await,
        StatusCode::NOT_FOUND,
        "removing the grant invalidates the token"
    );
    let r = c.admin(Method::HEAD, &grant, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = c.admin(Method::DELETE, &grant, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.body["error"]["message"],
        format!(
            "Could not find role assignment with role: {rid}, user or group: {uid}, project, domain, or system: {pid}."
        )
    );
    assert_eq!(
        token_roles(&c, "alice", &pid).await,
        Err(StatusCode::UNAUTHORIZED)
    );
}

#[tokio::test]
async fn unknown_roles_actors_and_targets_are_404() {
    let c = cloud().await;
    let rid = role(&c, "observer").await;
    let uid = actors::user(&c, "alice", "default").await;
    let gid = actors::group(&c, "g", "default").await;
    let pid = project(&c, "p", "default", None).await;
    for (path, msg) in [
        (
            format!("/v3/projects/{pid}/users/{uid}/roles/nope"),
            "Could not find role: nope.",
        ),
        (
            format!("/v3/projects/{pid}/users/nope/roles/{rid}"),
            "Could not find user: nope.",
        ),
        (
            format!("/v3/projects/{pid}/groups/nope/roles/{rid}"),
            "Could not find group: nope.",
        ),
        (
            format!("/v3/projects/nope/groups/{gid}/roles/{rid}"),
            "Could not find project: nope.",
        ),
        (
            format!("/v3/domains/nope/users/{uid}/roles/{rid}"),
            "Could not find domain: nope.",
        ),
        (
            format!("/v3/system/users/nope/roles/{rid}"),
            "Could not find user: nope.",
        ),
        (
            format!("/v3/OS-INHERIT/domains/nope/users/{uid}/roles/{rid}/inherited_to_projects"),
            "Could not find domain: nope.",
        ),
    ] {
        let r = c.admin(Method::PUT, &path, None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(r.body["error"]["message"], msg, "{path}");
    }
    let r = c
        .admin(
            Method::GET,
            &format!("/v3/projects/nope/users/{uid}/roles"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // A project is not a domain, nor a domain a project.
    let r = c
        .admin(
            Method::PUT,
            &format!("/v3/domains/{pid}/users/{uid}/roles/{rid}"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = c
        .admin(
            Method::PUT,
            &format!("/v3/projects/default/users/{uid}/roles/{rid}"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn group_grants_are_effective_for_members() {
    let c = cloud().await;
    let rid = role(&c, "observer").await;
    let uid = actors::user(&c, "alice", "default").await;
    let gid = actors::group(&c, "team", "default").await;
    let pid = project(&c, "p", "default", None).await;
    let grant = format!("/v3/projects/{pid}/groups/{gid}/roles/{rid}");
    assert_eq!(
        status(&c, Method::PUT, &grant).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        status(&c, Method::HEAD, &grant).await,
        StatusCode::NO_CONTENT
    );
    let listed = c
        .admin(
            Method::GET,
            &format!("/v3/projects/{pid}/groups/{gid}/roles"),
            None,
        )
        .await;
    assert_eq!(listed.body["roles"][0]["id"], rid);

    assert_eq!(
        token_roles(&c, "alice", &pid).await,
        Err(StatusCode::UNAUTHORIZED)
    );
    actors::add_member(&c, &gid, &uid).await;

    let direct = assignments(&c, &format!("scope.project.id={pid}")).await;
    assert_eq!(direct.len(), 1);
    assert_eq!(direct[0]["group"], json!({"id": gid}));
    assert_eq!(direct, assignments(&c, &format!("group.id={gid}")).await);

    let effective = assignments(
        &c,
        &format!("scope.project.id={pid}&user.id={uid}&effective"),
    )
    .await;
    assert_eq!(
        effective,
        vec![json!({
            "role": {"id": rid},
            "user": {"id": uid},
            "scope": {"project": {"id": pid}},
            "links": {
                "assignment": format!("{URL}/v3/projects/{pid}/groups/{gid}/roles/{rid}"),
                "membership": format!("{URL}/v3/groups/{gid}/users/{uid}"),
            },
        })]
    );
    // Without a user filter the group is expanded to its members too.
    let all = assignments(&c, &format!("scope.project.id={pid}&effective=true")).await;
    assert_eq!(all, effective);
    assert_eq!(token_roles(&c, "alice", &pid).await, Ok(vec![rid.clone()]));

    let r = c
        .admin(
            Method::GET,
            &format!("/v3/role_assignments?group.id={gid}&effective"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body["error"]["message"],
        "Combining effective and group filter will always result in an empty list."
    );

    let token = c
        .password_token(
            "alice",
            actors::PASSWORD,
            Some(json!({"project": {"id": pid}})),
        )
        .await;
    assert_eq!(
        status(&c, Method::DELETE, &grant).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(validate(&c, &token).await, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn inherited_domain_grants_reach_the_domain_projects() {
    let c = cloud().await;
    let rid = role(&c, "observer").await;
    let uid = actors::user(&c, "alice", "default").await;
    let d = domain(&c, "d1").await;
    let parent = project(&c, "parent", &d, None).await;
    let leaf = project(&c, "leaf", &d, Some(&parent)).await;
    let elsewhere = project(&c, "elsewhere", "default", None).await;
    let grant = format!("/v3/OS-INHERIT/domains/{d}/users/{uid}/roles/{rid}/inherited_to_projects");
    assert_eq!(
        status(&c, Method::PUT, &grant).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        status(&c, Method::HEAD, &grant).await,
        StatusCode::NO_CONTENT
    );
    let listed = c
        .admin(
            Method::GET,
            &format!("/v3/OS-INHERIT/domains/{d}/users/{uid}/roles/inherited_to_projects"),
            None,
        )
        .await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.body["roles"][0]["id"], rid);
    // Not a grant on the domain itself.
    let on_domain = c
        .admin(
            Method::GET,
            &format!("/v3/domains/{d}/users/{uid}/roles"),
            None,
        )
        .await;
    assert_eq!(on_domain.body["roles"], json!([]));
    assert_eq!(
        status(
            &c,
            Method::HEAD,
            &format!("/v3/domains/{d}/users/{uid}/roles/{rid}")
        )
        .await,
        StatusCode::NOT_FOUND
    );

    let direct = assignments(&c, &format!("user.id={uid}")).await;
    assert_eq!(
        direct,
        vec![json!({
            "role": {"id": rid},
            "user": {"id": uid},
            "scope": {"domain": {"id": d}, "OS-INHERIT:inherited_to": "projects"},
            "links": {"assignment": format!("{URL}{grant}")},
        })]
    );
    assert_eq!(
        assignments(
            &c,
            &format!("user.id={uid}&scope.OS-INHERIT:inherited_to=projects")
        )
        .await,
        direct
    );

    let effective = assignments(&c, &format!("user.id={uid}&effective")).await;
    let mut scopes: Vec<String> = effective
        .iter()
        .map(|e| {
            e["scope"]["project"]["id"]
                .as_str()
                .expect("project")
                .to_string()
        })
        .collect();
    scopes.sort();
    let mut want = vec![parent.clone(), leaf.clone()];
    want.sort();
    assert_eq!(scopes, want);
    assert_eq!(effective[0]["scope"]["OS-INHERIT:inherited_to"], "projects");
    assert_eq!(
        effective[0]["links"]["assignment"],
        format!("{URL}/v3/OS-INHERIT/domains/{d}/users/{uid}/roles/{rid}/inherited_to_projects")
    );
    let on_leaf = assignments(
        &c,
        &format!("user.id={uid}&scope.project.id={leaf}&effective"),
    )
    .await;
    assert_eq!(on_leaf.len(), 1);

    assert_eq!(token_roles(&c, "alice", &leaf).await, Ok(vec![rid.clone()]));
    assert_eq!(
        token_roles(&c, "alice", &parent).await,
        Ok(vec![rid.clone()])
    );
    assert_eq!(
        token_roles(&c, "alice", &elsewhere).await,
        Err(StatusCode::UNAUTHORIZED)
    );

    let r = c
        .admin(
            Method::GET,
            &format!("/v3/role_assignments?effective&scope.domain.id={d}&scope.OS-INHERIT:inherited_to=projects"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    assert_eq!(
        status(&c, Method::DELETE, &grant).await,
        StatusCode::NO_CONTENT
    );
    assert!(
        assignments(
            &c,
            &format!("user.id={uid}&scope.project.id={leaf}&effective")
        )
        .await
        .is_empty()
    );
    assert_eq!(
        token_roles(&c, "alice", &leaf).await,
        Err(StatusCode::UNAUTHORIZED)
    );
}

#[tokio::test]
async fn inherited_project_grants_reach_the_subtree_only() {
    let c = cloud().await;
    let rid = role(&c, "observer").await;
    let uid = actors::user(&c, "alice", "default").await;
    let gid = actors::group(&c, "team", "default").await;
    actors::add_member(&c, &gid, &uid).await;
    let parent = project(&c, "parent", "default", None).await;
    let leaf = project(&c, "leaf", "default", Some(&parent)).await;
    let grant =
        format!("/v3/OS-INHERIT/projects/{parent}/groups/{gid}/roles/{rid}/inherited_to_projects");
    assert_eq!(
        status(&c, Method::PUT, &grant).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        status(&c, Method::GET, &grant).await,
        StatusCode::NO_CONTENT
    );
    let on_leaf = assignments(
        &c,
        &format!("user.id={uid}&scope.project.id={leaf}&effective"),
    )
    .await;
    assert_eq!(on_leaf.len(), 1);
    assert_eq!(
        on_leaf[0]["links"]["assignment"],
        format!(
            "{URL}/v3/OS-INHERIT/projects/{parent}/groups/{gid}/roles/{rid}/inherited_to_projects"
        )
    );
    assert!(
        assignments(
            &c,
            &format!("user.id={uid}&scope.project.id={parent}&effective")
        )
        .await
        .is_empty()
    );
    assert_eq!(token_roles(&c, "alice", &leaf).await, Ok(vec![rid.clone()]));
    assert_eq!(
        token_roles(&c, "alice", &parent).await,
        Err(StatusCode::UNAUTHORIZED)
    );

    // include_subtree from the parent: the inherited grant shows on the leaf.
    let tree = assignments(
        &c,
        &format!("scope.project.id={parent}&include_subtree=true&effective"),
    )
    .await;
    assert_eq!(tree.len(), 1);
    assert_eq!(tree[0]["scope"]["project"]["id"], leaf);
    let r = c
        .admin(
            Method::GET,
            "/v3/role_assignments?include_subtree=true",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body["error"]["message"],
        "scope.project.id must be specified if include_subtree is also specified"
    );
}

#[tokio::test]
async fn implied_roles_are_effective_and_in_tokens() {
    let c = cloud().await;
    let prior = role(&c, "prior").await;
    let implied = role(&c, "implied").await;
    let uid = actors::user(&c, "alice", "default").await;
    let pid = project(&c, "p", "default", None).await;
    assert_eq!(
        status(
            &c,
            Method::PUT,
            &format!("/v3/projects/{pid}/users/{uid}/roles/{prior}")
        )
        .await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        status(
            &c,
            Method::PUT,
            &format!("/v3/roles/{prior}/implies/{implied}")
        )
        .await,
        StatusCode::CREATED
    );
    let q = format!("scope.project.id={pid}&user.id={uid}");
    assert_eq!(
        assignments(&c, &q).await.len(),
        1,
        "direct listing has no implied roles"
    );
    let effective = assignments(&c, &format!("{q}&effective")).await;
    assert_eq!(effective.len(), 2);
    let via = effective
        .iter()
        .find(|e| e["role"]["id"] == implied)
        .expect("implied entry");
    assert_eq!(
        via["links"]["assignment"],
        format!("{URL}/v3/projects/{pid}/users/{uid}/roles/{prior}")
    );
    assert_eq!(
        via["links"]["prior_role"],
        format!("{URL}/v3/prior_role/{implied}/implies/{prior}")
    );
    let mut both = vec![prior.clone(), implied.clone()];
    both.sort();
    assert_eq!(token_roles(&c, "alice", &pid).await, Ok(both));
    assert_eq!(
        assignments(&c, &format!("{q}&effective&role.id={implied}"))
            .await
            .len(),
        1
    );

    assert_eq!(
        status(
            &c,
            Method::DELETE,
            &format!("/v3/roles/{prior}/implies/{implied}")
        )
        .await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(assignments(&c, &format!("{q}&effective")).await.len(), 1);
    assert_eq!(
        token_roles(&c, "alice", &pid).await,
        Ok(vec![prior.clone()])
    );
}

#[tokio::test]
async fn domain_specific_roles_only_count_through_what_they_imply() {
    let c = cloud().await;
    let d = domain(&c, "d1").await;
    let pid = project(&c, "p", &d, None).await;
    let other = project(&c, "other", "default", None).await;
    let uid = actors::user(&c, "alice", "default").await;
    let r = c
        .admin(
            Method::POST,
            "/v3/roles",
            Some(json!({"role": {"name": "local", "domain_id": d}})),
        )
        .await;
    let local = id(&r.body["role"]);
    let global = role(&c, "global").await;
    let r = c
        .admin(
            Method::PUT,
            &format!("/v3/projects/{other}/users/{uid}/roles/{local}"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        r.body["error"]["message"],
        format!("Project {other} must be in the same domain as the role {local} being assigned.")
    );
    assert_eq!(
        status(
            &c,
            Method::PUT,
            &format!("/v3/projects/{pid}/users/{uid}/roles/{local}")
        )
        .await,
        StatusCode::NO_CONTENT
    );
    let q = format!("scope.project.id={pid}&user.id={uid}&effective");
    assert!(assignments(&c, &q).await.is_empty());
    assert_eq!(
        status(
            &c,
            Method::PUT,
            &format!("/v3/roles/{local}/implies/{global}")
        )
        .await,
        StatusCode::CREATED
    );
    let effective = assignments(&c, &q).await;
    assert_eq!(effective.len(), 1);
    assert_eq!(effective[0]["role"]["id"], global);
    assert_eq!(
        token_roles(&c, "alice", &pid).await,
        Ok(vec![global.clone()])
    );
    let r = c
        .admin(
            Method::PUT,
            &format!("/v3/system/users/{uid}/roles/{local}"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn system_and_domain_grants() {
    let c = cloud().await;
    let rid = role(&c, "observer").await;
    let uid = actors::user(&c, "alice", "default").await;
    let gid = actors::group(&c, "team", "default").await;
    let d = domain(&c, "d1").await;
    for base in [
        format!("/v3/system/users/{uid}/roles"),
        format!("/v3/system/groups/{gid}/roles"),
        format!("/v3/domains/{d}/users/{uid}/roles"),
        format!("/v3/domains/{d}/groups/{gid}/roles"),
    ] {
        let grant = format!("{base}/{rid}");
        assert_eq!(
            status(&c, Method::HEAD, &grant).await,
            StatusCode::NOT_FOUND,
            "{grant}"
        );
        assert_eq!(
            status(&c, Method::PUT, &grant).await,
            StatusCode::NO_CONTENT,
            "{grant}"
        );
        assert_eq!(
            status(&c, Method::HEAD, &grant).await,
            StatusCode::NO_CONTENT,
            "{grant}"
        );
        let listed = c.admin(Method::GET, &base, None).await;
        assert_eq!(listed.status, StatusCode::OK);
        assert_eq!(listed.body["roles"][0]["id"], rid, "{base}");
    }
    let system = assignments(&c, "scope.system=all").await;
    assert_eq!(
        system
            .iter()
            .filter(|e| e["role"]["id"] == rid)
            .map(|e| e["scope"].clone())
            .collect::<Vec<_>>(),
        vec![json!({"system": {"all": true}}); 2]
    );
    let mine = assignments(&c, &format!("user.id={uid}&scope.system=all")).await;
    assert_eq!(
        mine,
        vec![json!({
            "role": {"id": rid},
            "user": {"id": uid},
            "scope": {"system": {"all": true}},
            "links": {"assignment": format!("{URL}/v3/system/users/{uid}/roles/{rid}")},
        })]
    );
    let on_domain = assignments(&c, &format!("scope.domain.id={d}")).await;
    assert_eq!(on_domain.len(), 2);

    // A system-scoped token carries the role.
    let r = c
        .try_password_token(
            "alice",
            actors::PASSWORD,
            Some(json!({"system": {"all": true}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["token"]["roles"][0]["id"], rid);
    let token = r.header("x-subject-token").expect("token").to_string();
    assert_eq!(
        status(
            &c,
            Method::DELETE,
            &format!("/v3/system/users/{uid}/roles/{rid}")
        )
        .await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(validate(&c, &token).await, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn include_names() {
    let c = cloud().await;
    let rid = role(&c, "observer").await;
    let uid = actors::user(&c, "alice", "default").await;
    let pid = project(&c, "p", "default", None).await;
    c.admin(
        Method::PUT,
        &format!("/v3/projects/{pid}/users/{uid}/roles/{rid}"),
        None,
    )
    .await;
    let named = assignments(&c, &format!("user.id={uid}&include_names")).await;
    assert_eq!(
        named,
        vec![json!({
            "role": {"id": rid, "name": "observer"},
            "user": {"id": uid, "name": "alice", "domain": {"id": "default", "name": "Default"}},
            "scope": {"project": {"id": pid, "name": "p", "domain": {"id": "default", "name": "Default"}}},
            "links": {"assignment": format!("{URL}/v3/projects/{pid}/users/{uid}/roles/{rid}")},
        })]
    );
}

#[tokio::test]
async fn filter_validation_and_authorization() {
    let c = cloud().await;
    for (q, msg) in [
        (
            "scope.domain.id=a&scope.project.id=b",
            "Specify a domain or project, not both",
        ),
        (
            "scope.domain.id=a&scope.system=all",
            "Specify system or domain, not both",
        ),
        (
            "scope.project.id=a&scope.system=all",
            "Specify system or project, not both",
        ),
        ("user.id=a&group.id=b", "Specify a user or group, not both"),
    ] {
        let r = c
            .admin(Method::GET, &format!("/v3/role_assignments?{q}"), None)
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}");
        assert_eq!(r.body["error"]["message"], msg, "{q}");
    }
    let r = c
        .call(Method::GET, "/v3/role_assignments", None, None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    // A project member may neither list assignments nor grant roles.
    let member = c
        .admin(Method::GET, "/v3/roles?name=member", None)
        .await
        .body["roles"][0]
        .clone();
    let member = id(&member);
    let uid = actors::user(&c, "alice", "default").await;
    let pid = project(&c, "p", "default", None).await;
    c.admin(
        Method::PUT,
        &format!("/v3/projects/{pid}/users/{uid}/roles/{member}"),
        None,
    )
    .await;
    let token = c
        .password_token(
            "alice",
            actors::PASSWORD,
            Some(json!({"project": {"id": pid}})),
        )
        .await;
    for (method, path) in [
        (Method::GET, "/v3/role_assignments".to_string()),
        (
            Method::PUT,
            format!("/v3/projects/{pid}/users/{uid}/roles/{member}"),
        ),
        (
            Method::DELETE,
            format!("/v3/projects/{pid}/users/{uid}/roles/{member}"),
        ),
        (Method::GET, format!("/v3/projects/{pid}/users/{uid}/roles")),
        (
            Method::PUT,
            format!("/v3/system/users/{uid}/roles/{member}"),
        ),
        (Method::GET, format!("/v3/system/users/{uid}/roles")),
    ] {
        let r = c.call(method.clone(), &path, Some(&token), None).await;
        assert_eq!(
            r.status,
            StatusCode::FORBIDDEN,
            "{method} {path}: {:?}",
            r.body
        );
    }
}
