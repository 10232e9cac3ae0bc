//! Role grants (`/v3/{projects,domains}/.../roles`, `/v3/system/...`, OS-INHERIT) and the
//! role-assignment listing (`GET /v3/role_assignments`) with Keystone's effective mode.

use std::collections::{BTreeSet, HashMap};

use oxstack_common::context::RequestContext;
use oxstack_common::{Error, Result};
use serde_json::{Value, json};

use super::{App, not_found};
use crate::model::{Assignment, AssignmentKind, Project, Role, SYSTEM_TARGET};
use crate::store::{AssignmentFilter, ProjectFilter, UserFilter};

/// Who holds a grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    User(String),
    Group(String),
}

/// Where a grant applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantTarget {
    Project(String),
    Domain(String),
    System,
}

/// One grant as addressed by a URL: actor, target, whether it is inherited to projects
/// (OS-INHERIT) and, except for list calls, the role.
#[derive(Debug, Clone)]
pub struct GrantRef {
    pub actor: Actor,
    pub target: GrantTarget,
    pub inherited: bool,
}

/// The filters of `GET /v3/role_assignments`.
#[derive(Debug, Default, Clone)]
pub struct AssignmentQuery {
    pub user_id: Option<String>,
    pub group_id: Option<String>,
    pub role_id: Option<String>,
    pub project_id: Option<String>,
    pub domain_id: Option<String>,
    /// `scope.system=all`.
    pub system: bool,
    /// `scope.OS-INHERIT:inherited_to`: `Some(true)` when it is `projects`.
    pub inherited: Option<bool>,
    pub effective: bool,
    pub include_names: bool,
    pub include_subtree: bool,
}

/// Where a listed assignment applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssignmentScope {
    Project(String),
    Domain(String),
    System,
}

/// One entry of `GET /v3/role_assignments`, with where it came from when it is indirect
/// (Keystone's `indirect` dict).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignmentEntry {
    pub actor: Actor,
    pub scope: AssignmentScope,
    pub role_id: String,
    /// A direct inherited-to-projects assignment.
    pub inherited: bool,
    /// The group whose membership gave this user the role.
    pub via_group: Option<String>,
    /// The project the role was inherited from.
    pub via_project: Option<String>,
    /// The domain the role was inherited from.
    pub via_domain: Option<String>,
    /// The prior role that implied this one.
    pub via_role: Option<String>,
}

fn kinds_for(actor: &Actor, target: &GrantTarget) -> AssignmentKind {
    match (actor, target) {
        (Actor::User(_), GrantTarget::Project(_)) => AssignmentKind::UserProject,
        (Actor::Group(_), GrantTarget::Project(_)) => AssignmentKind::GroupProject,
        (Actor::User(_), GrantTarget::Domain(_)) => AssignmentKind::UserDomain,
        (Actor::Group(_), GrantTarget::Domain(_)) => AssignmentKind::GroupDomain,
        (Actor::User(_), GrantTarget::System) => AssignmentKind::UserSystem,
        (Actor::Group(_), GrantTarget::System) => AssignmentKind::GroupSystem,
    }
}

impl Actor {
    fn id(&self) -> &str {
        match self {
            Actor::User(id) | Actor::Group(id) => id,
        }
    }
}

impl GrantTarget {
    fn id(&self) -> &str {
        match self {
            GrantTarget::Project(id) | GrantTarget::Domain(id) => id,
            GrantTarget::System => SYSTEM_TARGET,
        }
    }
}

/// Which rule protects a grant call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GrantOp {
    Check,
    List,
    Create,
    Revoke,
}

impl GrantOp {
    fn rule(self, system: bool, actor: &Actor) -> String {
        if !system {
            return match self {
                GrantOp::Check => "identity:check_grant",
                GrantOp::List => "identity:list_grants",
                GrantOp::Create => "identity:create_grant",
                GrantOp::Revoke => "identity:revoke_grant",
            }
            .to_string();
        }
        let who = match actor {
            Actor::User(_) => "user",
            Actor::Group(_) => "group",
        };
        match self {
            GrantOp::Check => format!("identity:check_system_grant_for_{who}"),
            GrantOp::List => format!("identity:list_system_grants_for_{who}"),
            GrantOp::Create => format!("identity:create_system_grant_for_{who}"),
            GrantOp::Revoke => format!("identity:revoke_system_grant_for_{who}"),
        }
    }
}

impl App {
    /// Looks up what a grant URL names (role, actor, target: 404 in that order, as Keystone
    /// does), then authorizes `op` against them.
    async fn grant_authorize(
        &self,
        ctx: &RequestContext,
        op: GrantOp,
        g: &GrantRef,
        role_id: Option<&str>,
    ) -> Result<(Option<Role>, Option<Project>)> {
        let mut target = serde_json::Map::new();
        let role = match role_id {
            Some(id) => Some(self.role_get(id).await?),
            None => None,
        };
        if let Some(r) = &role {
            target.insert("role".into(), Self::role_target(r));
        }
        // Revoking works for actors that no longer exist (their grants can be cleaned up).
        let allow_missing = op == GrantOp::Revoke;
        match &g.actor {
            Actor::User(id) => match self.store.user_get(id).await? {
                Some(u) => {
                    target.insert(
                        "user".into(),
                        json!({"id": u.id, "domain_id": u.domain_id, "name": u.name}),
                    );
                }
                None if allow_missing => {}
                None => return Err(not_found("user", id)),
            },
            Actor::Group(id) => match self.store.group_get(id).await? {
                Some(gr) => {
                    target.insert(
                        "group".into(),
                        json!({"id": gr.id, "domain_id": gr.domain_id, "name": gr.name}),
                    );
                }
                None if allow_missing => {}
                None => return Err(not_found("group", id)),
            },
        }
        let mut project = None;
        match &g.target {
            GrantTarget::Domain(id) => {
                let d = self.domain_get(id).await?;
                target.insert("domain".into(), json!({"id": d.id, "name": d.name}));
            }
            GrantTarget::Project(id) => {
                let p = self.project_get(id).await?;
                target.insert(
                    "project".into(),
                    json!({"id": p.id, "domain_id": p.domain_id, "name": p.name}),
                );
                project = Some(p);
            }
            GrantTarget::System => {}
        }
        let system = g.target == GrantTarget::System;
        self.authorize(ctx, &op.rule(system, &g.actor), &json!({"target": target}))?;
        Ok((role, project))
    }

    fn grant_assignment(g: &GrantRef, role_id: &str) -> Assignment {
        Assignment {
            kind: kinds_for(&g.actor, &g.target),
            actor_id: g.actor.id().to_string(),
            target_id: g.target.id().to_string(),
            role_id: role_id.to_string(),
            inherited: g.inherited,
        }
    }

    fn grant_not_found(g: &GrantRef, role_id: &str) -> Error {
        Error::not_found(format!(
            "Could not find role assignment with role: {role_id}, user or group: {}, project, domain, or system: {}.",
            g.actor.id(),
            g.target.id()
        ))
    }

    async fn grant_exists(&self, a: &Assignment) -> Result<bool> {
        Ok(!self
            .store
            .assignment_list(&AssignmentFilter {
                kinds: Some(vec![a.kind]),
                actor_ids: Some(vec![a.actor_id.clone()]),
                target_ids: Some(vec![a.target_id.clone()]),
                role_id: Some(a.role_id.clone()),
                inherited: Some(a.inherited),
            })
            .await?
            .is_empty())
    }

    /// `PUT .../roles/{role_id}`: grants a role (granting it again is not an error).
    pub async fn grant_create(
        &self,
        ctx: &RequestContext,
        g: &GrantRef,
        role_id: &str,
    ) -> Result<()> {
        let (role, project) = self
            .grant_authorize(ctx, GrantOp::Create, g, Some(role_id))
            .await?;
        let role = role.ok_or_else(|| not_found("role", role_id))?;
        if let (Some(rd), Some(p)) = (&role.domain_id, &project)
            && *rd != p.domain_id
        {
            return Err(Error::forbidden(format!(
                "Project {} must be in the same domain as the role {} being assigned.",
                p.id, role.id
            )));
        }
        if g.target == GrantTarget::System && role.domain_id.is_some() {
            return Err(Error::bad_request(format!(
                "Role {} is a domain-specific role. Unable to use a domain-specific role in a system assignment.",
                role.id
            )));
        }
        self.store
            .assignment_create(&Self::grant_assignment(g, &role.id))
            .await?;
        // Cached validations would not show the new role until they expire.
        self.invalidate_tokens().await;
        Ok(())
    }

    /// `GET`/`HEAD .../roles/{role_id}`: 204 when the grant exists, else 404.
    pub async fn grant_check(
        &self,
        ctx: &RequestContext,
        g: &GrantRef,
        role_id: &str,
    ) -> Result<()> {
        self.grant_authorize(ctx, GrantOp::Check, g, Some(role_id))
            .await?;
        if !self
            .grant_exists(&Self::grant_assignment(g, role_id))
            .await?
        {
            return Err(Self::grant_not_found(g, role_id));
        }
        Ok(())
    }

    /// `DELETE .../roles/{role_id}`: revokes a grant; tokens lose the role at once.
    pub async fn grant_delete(
        &self,
        ctx: &RequestContext,
        g: &GrantRef,
        role_id: &str,
    ) -> Result<()> {
        self.grant_authorize(ctx, GrantOp::Revoke, g, Some(role_id))
            .await?;
        if !self
            .store
            .assignment_delete(&Self::grant_assignment(g, role_id))
            .await?
        {
            return Err(Self::grant_not_found(g, role_id));
        }
        self.invalidate_tokens().await;
        Ok(())
    }

    /// `GET .../roles`: the roles granted directly to the actor on the target.
    pub async fn grant_list(&self, ctx: &RequestContext, g: &GrantRef) -> Result<Vec<Role>> {
        self.grant_authorize(ctx, GrantOp::List, g, None).await?;
        let ids: BTreeSet<String> = self
            .store
            .assignment_list(&AssignmentFilter {
                kinds: Some(vec![kinds_for(&g.actor, &g.target)]),
                actor_ids: Some(vec![g.actor.id().to_string()]),
                target_ids: Some(vec![g.target.id().to_string()]),
                role_id: None,
                inherited: Some(g.inherited),
            })
            .await?
            .into_iter()
            .map(|a| a.role_id)
            .collect();
        Ok(self
            .store
            .role_list_all()
            .await?
            .into_iter()
            .filter(|r| ids.contains(&r.id))
            .collect())
    }

    /// Every project below `id` (not `id` itself).
    pub async fn project_subtree_ids(&self, id: &str) -> Result<Vec<String>> {
        let mut out: Vec<String> = Vec::new();
        let mut queue = vec![id.to_string()];
        while let Some(next) = queue.pop() {
            for p in self
                .store
                .project_list(&ProjectFilter {
                    parent_id: Some(next),
                    is_domain: Some(false),
                    ..Default::default()
                })
                .await?
            {
                if p.id != id && !out.contains(&p.id) {
                    queue.push(p.id.clone());
                    out.push(p.id);
                }
            }
        }
        Ok(out)
    }

    async fn domain_project_ids(&self, domain_id: &str) -> Result<Vec<String>> {
        Ok(self
            .store
            .project_list(&ProjectFilter {
                domain_id: Some(domain_id.to_string()),
                is_domain: Some(false),
                ..Default::default()
            })
            .await?
            .into_iter()
            .map(|p| p.id)
            .collect())
    }

    async fn group_member_ids(&self, group_id: &str) -> Result<Vec<String>> {
        Ok(self
            .store
            .user_list(&UserFilter {
                related_id: Some(group_id.to_string()),
                ..Default::default()
            })
            .await?
            .into_iter()
            .map(|u| u.id)
            .collect())
    }

    /// `GET /v3/role_assignments`: checks the filters, authorizes, lists and, for a
    /// domain-scoped caller, keeps what lies in its domain.
    pub async fn role_assignment_list(
        &self,
        ctx: &RequestContext,
        q: &AssignmentQuery,
    ) -> Result<Vec<AssignmentEntry>> {
        let auth = ctx.require_auth()?;
        let caller_domain = auth.domain_id.clone();
        if q.include_subtree {
            let mut target = json!({});
            if let Some(pid) = &q.project_id {
                let p = self.project_get(pid).await?;
                target = json!({"target": {"project": {"id": p.id, "domain_id": p.domain_id}, "domain_id": p.domain_id}});
            }
            self.authorize(ctx, "identity:list_role_assignments_for_tree", &target)?;
            if q.project_id.is_none() {
                return Err(Error::bad_request(
                    "scope.project.id must be specified if include_subtree is also specified",
                ));
            }
        } else {
            let target = match &caller_domain {
                Some(d) => json!({"target": {"domain_id": d}}),
                None => json!({}),
            };
            self.authorize(ctx, "identity:list_role_assignments", &target)?;
        }
        let checks = [
            (
                q.domain_id.is_some() && q.project_id.is_some(),
                "Specify a domain or project, not both",
            ),
            (
                q.domain_id.is_some() && q.system,
                "Specify system or domain, not both",
            ),
            (
                q.project_id.is_some() && q.system,
                "Specify system or project, not both",
            ),
            (
                q.user_id.is_some() && q.group_id.is_some(),
                "Specify a user or group, not both",
            ),
            (
                q.effective && q.group_id.is_some(),
                "Combining effective and group filter will always result in an empty list.",
            ),
            (
                q.effective && q.inherited == Some(true) && q.domain_id.is_some(),
                "Combining effective, domain and inherited filters will always result in an empty list.",
            ),
        ];
        if let Some((_, msg)) = checks.iter().find(|(bad, _)| *bad) {
            return Err(Error::bad_request(*msg));
        }
        let mut entries = if q.effective {
            self.effective_assignments(q).await?
        } else {
            self.direct_assignments(q).await?
        };
        if let Some(d) = caller_domain {
            let mut project_domains: HashMap<String, Option<String>> = HashMap::new();
            let mut kept = Vec::new();
            for e in entries {
                let keep = match &e.scope {
                    AssignmentScope::Domain(id) => *id == d,
                    AssignmentScope::Project(pid) => {
                        if !project_domains.contains_key(pid) {
                            let pd = self.store.project_get(pid).await?.map(|p| p.domain_id);
                            project_domains.insert(pid.clone(), pd);
                        }
                        project_domains.get(pid).cloned().flatten().as_deref() == Some(d.as_str())
                    }
                    AssignmentScope::System => false,
                };
                if keep {
                    kept.push(e);
                }
            }
            entries = kept;
        }
        Ok(entries)
    }

    /// The project ids a project filter covers: the project, and its subtree when asked.
    async fn projects_of_interest(&self, q: &AssignmentQuery) -> Result<Option<Vec<String>>> {
        let Some(pid) = &q.project_id else {
            return Ok(None);
        };
        let mut ids = vec![pid.clone()];
        if q.include_subtree {
            ids.extend(self.project_subtree_ids(pid).await?);
        }
        Ok(Some(ids))
    }

    fn entry_from(a: &Assignment) -> AssignmentEntry {
        let actor = if a.kind.is_group() {
            Actor::Group(a.actor_id.clone())
        } else {
            Actor::User(a.actor_id.clone())
        };
        let scope = match a.kind {
            AssignmentKind::UserProject | AssignmentKind::GroupProject => {
                AssignmentScope::Project(a.target_id.clone())
            }
            AssignmentKind::UserDomain | AssignmentKind::GroupDomain => {
                AssignmentScope::Domain(a.target_id.clone())
            }
            AssignmentKind::UserSystem | AssignmentKind::GroupSystem => AssignmentScope::System,
        };
        AssignmentEntry {
            actor,
            scope,
            role_id: a.role_id.clone(),
            inherited: a.inherited,
            via_group: None,
            via_project: None,
            via_domain: None,
            via_role: None,
        }
    }

    /// The stored assignments matching the filters, unexpanded.
    async fn direct_assignments(&self, q: &AssignmentQuery) -> Result<Vec<AssignmentEntry>> {
        use AssignmentKind::*;
        let mut kinds = if q.system {
            vec![UserSystem, GroupSystem]
        } else if q.project_id.is_some() {
            vec![UserProject, GroupProject]
        } else if q.domain_id.is_some() {
            vec![UserDomain, GroupDomain]
        } else {
            vec![
                UserProject,
                GroupProject,
                UserDomain,
                GroupDomain,
                UserSystem,
                GroupSystem,
            ]
        };
        if q.user_id.is_some() {
            kinds.retain(|k| !k.is_group());
        }
        if q.group_id.is_some() {
            kinds.retain(|k| k.is_group());
        }
        if q.inherited == Some(true) {
            kinds.retain(|k| !matches!(k, UserSystem | GroupSystem));
        }
        let target_ids = match (&q.domain_id, self.projects_of_interest(q).await?) {
            (Some(d), _) => Some(vec![d.clone()]),
            (None, Some(p)) => Some(p),
            (None, None) => None,
        };
        let actor = q.user_id.clone().or_else(|| q.group_id.clone());
        Ok(self
            .store
            .assignment_list(&AssignmentFilter {
                kinds: Some(kinds),
                actor_ids: actor.map(|a| vec![a]),
                target_ids,
                role_id: q.role_id.clone(),
                inherited: q.inherited,
            })
            .await?
            .iter()
            .map(Self::entry_from)
            .collect())
    }

    /// Keystone's effective mode: group assignments become one per member, inherited ones
    /// one per project they reach, implied roles are added and domain-specific roles
    /// dropped. Unlike Keystone, system assignments take part too (expanded the same way).
    async fn effective_assignments(&self, q: &AssignmentQuery) -> Result<Vec<AssignmentEntry>> {
        use AssignmentKind::*;
        let inherited = if q.domain_id.is_some() {
            Some(false)
        } else {
            q.inherited
        };
        let actor_ids = match &q.user_id {
            Some(u) => {
                let mut ids = vec![u.clone()];
                ids.extend(self.store.user_group_ids(u).await?);
                Some(ids)
            }
            None => None,
        };
        let projects = self.projects_of_interest(q).await?;
        let mut raw: Vec<Assignment> = Vec::new();
        let list = |kinds: Vec<AssignmentKind>, targets: Option<Vec<String>>, inh: bool| {
            AssignmentFilter {
                kinds: Some(kinds),
                actor_ids: actor_ids.clone(),
                target_ids: targets,
                role_id: None,
                inherited: Some(inh),
            }
        };
        if inherited != Some(true) {
            let (kinds, targets) = if q.system {
                (vec![UserSystem, GroupSystem], None)
            } else if let Some(d) = &q.domain_id {
                (vec![UserDomain, GroupDomain], Some(vec![d.clone()]))
            } else if let Some(p) = &projects {
                (vec![UserProject, GroupProject], Some(p.clone()))
            } else {
                (
                    vec![
                        UserProject,
                        GroupProject,
                        UserDomain,
                        GroupDomain,
                        UserSystem,
                        GroupSystem,
                    ],
                    None,
                )
            };
            raw.extend(
                self.store
                    .assignment_list(&list(kinds, targets, false))
                    .await?,
            );
        }
        if inherited != Some(false) && !q.system {
            if let (Some(pid), Some(interest)) = (&q.project_id, &projects) {
                let p = self.project_get(pid).await?;
                raw.extend(
                    self.store
                        .assignment_list(&list(
                            vec![UserDomain, GroupDomain],
                            Some(vec![p.domain_id.clone()]),
                            true,
                        ))
                        .await?,
                );
                let mut sources: Vec<String> = self
                    .project_ancestors(&p)
                    .await?
                    .into_iter()
                    .filter(|id| *id != p.domain_id)
                    .collect();
                if q.include_subtree {
                    sources.extend(interest.iter().cloned());
                }
                raw.extend(
                    self.store
                        .assignment_list(&list(
                            vec![UserProject, GroupProject],
                            Some(sources),
                            true,
                        ))
                        .await?,
                );
            } else {
                raw.extend(
                    self.store
                        .assignment_list(&list(
                            vec![UserProject, GroupProject, UserDomain, GroupDomain],
                            None,
                            true,
                        ))
                        .await?,
                );
            }
        }

        let mut expanded: Vec<AssignmentEntry> = Vec::new();
        for a in &raw {
            let base = Self::entry_from(a);
            // The users this assignment reaches.
            let users: Vec<(String, Option<String>)> = match &base.actor {
                Actor::User(u) => vec![(u.clone(), None)],
                Actor::Group(g) => match &q.user_id {
                    Some(u) => vec![(u.clone(), Some(g.clone()))],
                    None => self
                        .group_member_ids(g)
                        .await?
                        .into_iter()
                        .map(|u| (u, Some(g.clone())))
                        .collect(),
                },
            };
            // The scopes it reaches, with the inheritance source.
            let scopes: Vec<(AssignmentScope, Option<String>, Option<String>)> = if a.inherited {
                let from_domain = matches!(a.kind, UserDomain | GroupDomain);
                let reach = match &projects {
                    Some(interest) => {
                        if !from_domain && q.include_subtree && interest.contains(&a.target_id) {
                            self.project_subtree_ids(&a.target_id).await?
                        } else {
                            interest.clone()
                        }
                    }
                    None if from_domain => self.domain_project_ids(&a.target_id).await?,
                    None => self.project_subtree_ids(&a.target_id).await?,
                };
                reach
                    .into_iter()
                    .map(|pid| {
                        let (vp, vd) = if from_domain {
                            (None, Some(a.target_id.clone()))
                        } else {
                            (Some(a.target_id.clone()), None)
                        };
                        (AssignmentScope::Project(pid), vp, vd)
                    })
                    .collect()
            } else {
                vec![(base.scope.clone(), None, None)]
            };
            for (user, group) in &users {
                for (scope, vp, vd) in &scopes {
                    expanded.push(AssignmentEntry {
                        actor: Actor::User(user.clone()),
                        scope: scope.clone(),
                        role_id: base.role_id.clone(),
                        inherited: false,
                        via_group: group.clone(),
                        via_project: vp.clone(),
                        via_domain: vd.clone(),
                        via_role: None,
                    });
                }
            }
        }

        // Implied roles: a copy per implied role, the prior one recorded, cycles skipped.
        let mut graph: HashMap<String, Vec<String>> = HashMap::new();
        for (p, i) in self.store.implied_role_list().await? {
            graph.entry(p).or_default().push(i);
        }
        let mut out: Vec<AssignmentEntry> = expanded.clone();
        let mut stack = expanded;
        let mut seen: Vec<AssignmentEntry> = Vec::new();
        while let Some(next) = stack.pop() {
            seen.push(next.clone());
            for implied in graph.get(&next.role_id).into_iter().flatten() {
                let e = AssignmentEntry {
                    role_id: implied.clone(),
                    via_role: Some(next.role_id.clone()),
                    ..next.clone()
                };
                if seen.contains(&e) || out.contains(&e) {
                    continue;
                }
                out.push(e.clone());
                stack.push(e);
            }
        }

        let roles = self.roles_by_id().await?;
        out.retain(|e| roles.get(&e.role_id).is_some_and(|r| r.domain_id.is_none()));
        if let Some(r) = &q.role_id {
            out.retain(|e| e.role_id == *r);
        }
        Ok(out)
    }

    /// One entry as the API renders it, with names when `include_names` is set.
    pub async fn role_assignment_view(
        &self,
        e: &AssignmentEntry,
        include_names: bool,
        names: &mut NameCache,
    ) -> Result<Value> {
        let mut link;
        let mut out = serde_json::Map::new();
        let mut links = serde_json::Map::new();
        let mut inherited = e.inherited;
        match &e.scope {
            AssignmentScope::Project(pid) => {
                let mut p = json!({"id": pid});
                if include_names {
                    let (name, did, dname) = names.project(self, pid).await?;
                    p = json!({"id": pid, "name": name, "domain": {"id": did, "name": dname}});
                }
                out.insert("scope".into(), json!({"project": p}));
                if let Some(d) = &e.via_domain {
                    inherited = true;
                    link = format!("/domains/{d}");
                } else if let Some(vp) = &e.via_project {
                    inherited = true;
                    link = format!("/projects/{vp}");
                } else {
                    link = format!("/projects/{pid}");
                }
            }
            AssignmentScope::Domain(did) => {
                let mut d = json!({"id": did});
                if include_names {
                    d = json!({"id": did, "name": names.domain(self, did).await?});
                }
                out.insert("scope".into(), json!({"domain": d}));
                link = format!("/domains/{did}");
            }
            AssignmentScope::System => {
                out.insert("scope".into(), json!({"system": {"all": true}}));
                link = "/system".to_string();
            }
        }
        match &e.actor {
            Actor::User(uid) => {
                let mut u = json!({"id": uid});
                if include_names {
                    let (name, did, dname) = names.user(self, uid).await?;
                    u = json!({"id": uid, "name": name, "domain": {"id": did, "name": dname}});
                }
                out.insert("user".into(), u);
                if let Some(g) = &e.via_group {
                    links.insert(
                        "membership".into(),
                        json!(format!("{}/v3/groups/{g}/users/{uid}", self.public_url)),
                    );
                    link.push_str(&format!("/groups/{g}"));
                } else {
                    link.push_str(&format!("/users/{uid}"));
                }
            }
            Actor::Group(gid) => {
                let mut g = json!({"id": gid});
                if include_names {
                    let (name, did, dname) = names.group(self, gid).await?;
                    g = json!({"id": gid, "name": name, "domain": {"id": did, "name": dname}});
                }
                out.insert("group".into(), g);
                link.push_str(&format!("/groups/{gid}"));
            }
        }
        let mut role = json!({"id": e.role_id});
        if include_names {
            let r = names.role(self, &e.role_id).await?;
            role = json!({"id": r.id, "name": r.name});
            if let Some(did) = &r.domain_id {
                role["domain"] = json!({"id": did, "name": names.domain(self, did).await?});
            }
        }
        out.insert("role".into(), role);
        let mut prior_link = None;
        if let Some(prior) = &e.via_role {
            link.push_str(&format!("/roles/{prior}"));
            // Keystone names the implied role first and the prior one second in this link;
            // kept as it is for compatibility.
            prior_link = Some(format!("/prior_role/{}/implies/{prior}", e.role_id));
        } else {
            link.push_str(&format!("/roles/{}", e.role_id));
        }
        if inherited {
            if let Some(Value::Object(s)) = out.get_mut("scope") {
                s.insert("OS-INHERIT:inherited_to".into(), json!("projects"));
            }
            link = format!("/OS-INHERIT{link}/inherited_to_projects");
        }
        links.insert(
            "assignment".into(),
            json!(format!("{}/v3{link}", self.public_url)),
        );
        if let Some(p) = prior_link {
            links.insert(
                "prior_role".into(),
                json!(format!("{}/v3{p}", self.public_url)),
            );
        }
        out.insert("links".into(), Value::Object(links));
        Ok(Value::Object(out))
    }
}

/// Names looked up once per listing for `include_names`.
#[derive(Debug, Default)]
pub struct NameCache {
    domains: HashMap<String, String>,
    projects: HashMap<String, (String, String, String)>,
    users: HashMap<String, (String, String, String)>,
    groups: HashMap<String, (String, String, String)>,
    roles: HashMap<String, Role>,
}

impl NameCache {
    async fn domain(&mut self, app: &App, id: &str) -> Result<String> {
        if let Some(n) = self.domains.get(id) {
            return Ok(n.clone());
        }
        let name = app
            .store
            .project_get(id)
            .await?
            .map(|d| d.name)
            .unwrap_or_default();
        self.domains.insert(id.to_string(), name.clone());
        Ok(name)
    }

    async fn project(&mut self, app: &App, id: &str) -> Result<(String, String, String)> {
        if let Some(v) = self.projects.get(id) {
            return Ok(v.clone());
        }
        let v = match app.store.project_get(id).await? {
            Some(p) => {
                let dname = self.domain(app, &p.domain_id).await?;
                (p.name, p.domain_id, dname)
            }
            None => Default::default(),
        };
        self.projects.insert(id.to_string(), v.clone());
        Ok(v)
    }

    /// A user's name and domain; empty strings for a user that no longer exists, as
    /// Keystone renders it.
    async fn user(&mut self, app: &App, id: &str) -> Result<(String, String, String)> {
        if let Some(v) = self.users.get(id) {
            return Ok(v.clone());
        }
        let v = match app.store.user_get(id).await? {
            Some(u) => {
                let dname = self.domain(app, &u.domain_id).await?;
                (u.name, u.domain_id, dname)
            }
            None => Default::default(),
        };
        self.users.insert(id.to_string(), v.clone());
        Ok(v)
    }

    async fn group(&mut self, app: &App, id: &str) -> Result<(String, String, String)> {
        if let Some(v) = self.groups.get(id) {
            return Ok(v.clone());
        }
        let v = match app.store.group_get(id).await? {
            Some(g) => {
                let dname = self.domain(app, &g.domain_id).await?;
                (g.name, g.domain_id, dname)
            }
            None => Default::default(),
        };
        self.groups.insert(id.to_string(), v.clone());
        Ok(v)
    }

    async fn role(&mut self, app: &App, id: &str) -> Result<Role> {
        if let Some(r) = self.roles.get(id) {
            return Ok(r.clone());
        }
        let r = app.role_get(id).await?;
        self.roles.insert(id.to_string(), r.clone());
        Ok(r)
    }
}
