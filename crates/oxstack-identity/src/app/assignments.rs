//! Effective role computation: direct and group assignments, inheritance from domains and
//! parent projects, and implied roles.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use oxstack_common::Result;

use super::App;
use crate::model::{AssignmentKind, Project, Role, SYSTEM_TARGET};
use crate::store::AssignmentFilter;

/// The roles a user holds on one target, implied roles included, as `id → role`.
pub type EffectiveRoles = BTreeMap<String, Role>;

/// Where roles are wanted.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    Project(&'a Project),
    Domain(&'a str),
    System,
}

impl App {
    /// Every ancestor id of `project` (parent first, its domain last).
    pub async fn project_ancestors(&self, project: &Project) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let mut next = project.parent_id.clone();
        while let Some(id) = next {
            if out.contains(&id) || out.len() > 64 {
                break;
            }
            next = self
                .store
                .project_get(&id)
                .await?
                .and_then(|p| if p.is_domain { None } else { p.parent_id });
            out.push(id);
        }
        if !out.contains(&project.domain_id) {
            out.push(project.domain_id.clone());
        }
        Ok(out)
    }

    /// The ids of the roles `user_id` holds on `target`, before implication.
    pub async fn direct_role_ids(
        &self,
        user_id: &str,
        target: Target<'_>,
    ) -> Result<BTreeSet<String>> {
        let mut actors = vec![user_id.to_string()];
        actors.extend(self.store.user_group_ids(user_id).await?);
        let mut ids = BTreeSet::new();
        let (kinds, here, inherited_from) = match target {
            Target::Project(p) => (
                vec![AssignmentKind::UserProject, AssignmentKind::GroupProject],
                p.id.clone(),
                self.project_ancestors(p).await?,
            ),
            Target::Domain(d) => (
                vec![AssignmentKind::UserDomain, AssignmentKind::GroupDomain],
                d.to_string(),
                vec![],
            ),
            Target::System => (
                vec![AssignmentKind::UserSystem, AssignmentKind::GroupSystem],
                SYSTEM_TARGET.into(),
                vec![],
            ),
        };
        for a in self
            .store
            .assignment_list(&AssignmentFilter {
                actor_ids: Some(actors.clone()),
                target_ids: Some(vec![here]),
                inherited: Some(false),
                ..Default::default()
            })
            .await?
        {
            if kinds.contains(&a.kind) {
                ids.insert(a.role_id);
            }
        }
        if !inherited_from.is_empty() {
            for a in self
                .store
                .assignment_list(&AssignmentFilter {
                    actor_ids: Some(actors),
                    target_ids: Some(inherited_from),
                    inherited: Some(true),
                    ..Default::default()
                })
                .await?
            {
                ids.insert(a.role_id);
            }
        }
        Ok(ids)
    }

    /// Expands role ids through the implied-role graph.
    pub async fn expand_implied(&self, ids: BTreeSet<String>) -> Result<BTreeSet<String>> {
        let implications = self.store.implied_role_list().await?;
        let mut graph: HashMap<&str, Vec<&str>> = HashMap::new();
        for (prior, implied) in &implications {
            graph
                .entry(prior.as_str())
                .or_default()
                .push(implied.as_str());
        }
        let mut out = ids.clone();
        let mut stack: Vec<String> = ids.into_iter().collect();
        while let Some(id) = stack.pop() {
            for next in graph.get(id.as_str()).into_iter().flatten() {
                if out.insert((*next).to_string()) {
                    stack.push((*next).to_string());
                }
            }
        }
        Ok(out)
    }

    /// The effective global roles of `user_id` on `target` (domain-specific roles only
    /// contribute what they imply, as in Keystone).
    pub async fn effective_roles(
        &self,
        user_id: &str,
        target: Target<'_>,
    ) -> Result<EffectiveRoles> {
        let direct = self.direct_role_ids(user_id, target).await?;
        if direct.is_empty() {
            return Ok(EffectiveRoles::new());
        }
        let all = self.expand_implied(direct).await?;
        let mut out = EffectiveRoles::new();
        for r in self.store.role_list_all().await? {
            if all.contains(&r.id) && r.domain_id.is_none() {
                out.insert(r.id.clone(), r);
            }
        }
        Ok(out)
    }
}
