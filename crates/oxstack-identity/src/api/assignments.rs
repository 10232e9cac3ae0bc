//! Role grants on projects, domains and the system (with OS-INHERIT's inherited grants) and
//! `GET /v3/role_assignments`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::Uri;
use axum::response::Response;
use axum::routing::{MethodRouter, get};
use oxstack_common::context::RequestContext;
use oxstack_common::{Error, Result};

use super::{AppState, list, no_content, query_bool};
use crate::app::App;
use crate::app::grants::{Actor, AssignmentQuery, GrantRef, GrantTarget, NameCache};

/// What kind of grant a route addresses.
#[derive(Debug, Clone, Copy)]
struct Spec {
    target: TargetKind,
    group: bool,
    inherited: bool,
}

#[derive(Debug, Clone, Copy)]
enum TargetKind {
    Project,
    Domain,
    System,
}

type Params = HashMap<String, String>;

impl Spec {
    fn grant(self, p: &Params) -> Result<GrantRef> {
        let param = |k: &str| {
            p.get(k)
                .cloned()
                .ok_or_else(|| Error::bad_request(format!("missing path parameter {k}")))
        };
        let actor = if self.group {
            Actor::Group(param("group_id")?)
        } else {
            Actor::User(param("user_id")?)
        };
        let target = match self.target {
            TargetKind::Project => GrantTarget::Project(param("id")?),
            TargetKind::Domain => GrantTarget::Domain(param("id")?),
            TargetKind::System => GrantTarget::System,
        };
        Ok(GrantRef {
            actor,
            target,
            inherited: self.inherited,
        })
    }
}

/// The routes of one grant (`PUT`, `GET`/`HEAD` check, `DELETE`).
fn grant_member(spec: Spec) -> MethodRouter<Arc<App>> {
    get(
        move |State(app): AppState, ctx: RequestContext, Path(p): Path<Params>| async move {
            app.grant_check(&ctx, &spec.grant(&p)?, role_id(&p)?)
                .await?;
            Ok::<Response, Error>(no_content())
        },
    )
    .put(
        move |State(app): AppState, ctx: RequestContext, Path(p): Path<Params>| async move {
            app.grant_create(&ctx, &spec.grant(&p)?, role_id(&p)?)
                .await?;
            Ok::<Response, Error>(no_content())
        },
    )
    .delete(
        move |State(app): AppState, ctx: RequestContext, Path(p): Path<Params>| async move {
            app.grant_delete(&ctx, &spec.grant(&p)?, role_id(&p)?)
                .await?;
            Ok::<Response, Error>(no_content())
        },
    )
}

/// The route listing the roles of one actor on one target.
fn grant_collection(spec: Spec) -> MethodRouter<Arc<App>> {
    get(
        move |State(app): AppState, ctx: RequestContext, uri: Uri, Path(p): Path<Params>| async move {
            let roles = app.grant_list(&ctx, &spec.grant(&p)?).await?;
            let views = roles.iter().map(|r| app.role_view(r)).collect();
            let path = uri.path().trim_start_matches("/v3/").to_string();
            Ok::<Response, Error>(list(&app, "roles", &path, views))
        },
    )
}

fn role_id(p: &Params) -> Result<&str> {
    p.get("role_id")
        .map(String::as_str)
        .ok_or_else(|| Error::bad_request("missing path parameter role_id"))
}

pub(super) fn routes() -> Router<Arc<App>> {
    let mut r = Router::new().route("/v3/role_assignments", get(role_assignment_list));
    for (prefix, target) in [
        ("/v3/projects/{id}", TargetKind::Project),
        ("/v3/domains/{id}", TargetKind::Domain),
        ("/v3/system", TargetKind::System),
    ] {
        for (actor, group) in [("users/{user_id}", false), ("groups/{group_id}", true)] {
            let spec = Spec {
                target,
                group,
                inherited: false,
            };
            r = r
                .route(&format!("{prefix}/{actor}/roles"), grant_collection(spec))
                .route(
                    &format!("{prefix}/{actor}/roles/{{role_id}}"),
                    grant_member(spec),
                );
            if matches!(target, TargetKind::System) {
                continue;
            }
            let inherited = Spec {
                inherited: true,
                ..spec
            };
            let os = format!("/v3/OS-INHERIT{}", prefix.trim_start_matches("/v3"));
            r = r.route(
                &format!("{os}/{actor}/roles/{{role_id}}/inherited_to_projects"),
                grant_member(inherited),
            );
            if matches!(target, TargetKind::Domain) {
                r = r.route(
                    &format!("{os}/{actor}/roles/inherited_to_projects"),
                    grant_collection(inherited),
                );
            }
        }
    }
    r
}

/// A filter value; empty ones filter nothing, as in Keystone.
fn filter(q: &Params, key: &str) -> Option<String> {
    q.get(key).filter(|v| !v.is_empty()).cloned()
}

async fn role_assignment_list(
    State(app): AppState,
    ctx: RequestContext,
    Query(q): Query<Params>,
) -> Result<Response> {
    let query = AssignmentQuery {
        user_id: filter(&q, "user.id"),
        group_id: filter(&q, "group.id"),
        role_id: filter(&q, "role.id"),
        project_id: filter(&q, "scope.project.id"),
        domain_id: filter(&q, "scope.domain.id"),
        system: q.get("scope.system").is_some_and(|s| s == "all"),
        inherited: q
            .get("scope.OS-INHERIT:inherited_to")
            .map(|v| v == "projects"),
        effective: query_bool(&q, "effective").unwrap_or(false),
        include_names: query_bool(&q, "include_names").unwrap_or(false),
        include_subtree: query_bool(&q, "include_subtree").unwrap_or(false),
    };
    let entries = app.role_assignment_list(&ctx, &query).await?;
    let mut names = NameCache::default();
    let mut views = Vec::with_capacity(entries.len());
    for e in &entries {
        views.push(
            app.role_assignment_view(e, query.include_names, &mut names)
                .await?,
        );
    }
    Ok(list(&app, "role_assignments", "role_assignments", views))
}
