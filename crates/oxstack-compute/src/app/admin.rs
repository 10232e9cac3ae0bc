//! Services, hypervisors, availability zones, server groups and instance actions.

use std::collections::HashSet;

use oxstack_common::context::RequestContext;
use oxstack_common::{Error, Result};
use serde_json::json;

use super::{App, new_uuid, now};
use crate::agent::{BINARY, LIVENESS_GROUP};
use crate::clients::Resources;
use crate::model::{ActionEvent, ComputeNode, Instance, InstanceAction, ServerGroup, Service};
use crate::store::InstanceFilter;

/// A service and whether it is up.
#[derive(Debug, Clone)]
pub struct ServiceState {
    pub service: Service,
    pub up: bool,
}

/// A hypervisor with its service and usage.
#[derive(Debug, Clone)]
pub struct Hypervisor {
    pub node: ComputeNode,
    pub service: ServiceState,
    pub usage: Resources,
    pub running_vms: i64,
    pub servers: Vec<Instance>,
}

/// An action with its events (when the caller may see them).
#[derive(Debug, Clone)]
pub struct ActionDetail {
    pub action: InstanceAction,
    pub events: Option<Vec<ActionEvent>>,
    pub show_traceback: bool,
    pub show_host: bool,
}

impl App {
    async fn service_states(&self) -> Result<Vec<ServiceState>> {
        let alive: HashSet<String> = self
            .coord
            .members(LIVENESS_GROUP)
            .await
            .into_iter()
            .collect();
        let down_after = (self.config.report_interval_secs * 6) as i64 * 1_000_000;
        let t = now();
        Ok(self
            .store
            .service_list()
            .await?
            .into_iter()
            .map(|s| {
                // Alive in the coordination seam, or (another process's agent) a recent
                // heartbeat in the database.
                let recent = s.last_seen_up.is_some_and(|l| t - l < down_after);
                let up = !s.forced_down && (alive.contains(&s.host) || recent);
                ServiceState { service: s, up }
            })
            .collect())
    }

    /// Nova's `host_status` of every compute host: UP, DOWN or MAINTENANCE.
    pub async fn host_statuses(&self) -> Result<std::collections::HashMap<String, String>> {
        Ok(self
            .service_states()
            .await?
            .into_iter()
            .filter(|s| s.service.binary == BINARY)
            .map(|s| {
                let st = if !s.up {
                    "DOWN"
                } else if s.service.disabled {
                    "MAINTENANCE"
                } else {
                    "UP"
                };
                (s.service.host, st.to_string())
            })
            .collect())
    }

    pub async fn service_list(
        &self,
        ctx: &RequestContext,
        host: Option<&str>,
        binary: Option<&str>,
    ) -> Result<Vec<ServiceState>> {
        let c = self.caller(ctx)?;
        self.authorize_own(&c, "os_compute_api:os-services:list")?;
        let mut all = self.service_states().await?;
        all.retain(|s| {
            host.is_none_or(|h| s.service.host == h) && binary.is_none_or(|b| s.service.binary == b)
        });
        Ok(all)
    }

    /// Finds a service by `id` (integer before 2.53, uuid after) or by host and binary.
    async fn service_find(
        &self,
        id: Option<&str>,
        host_binary: Option<(&str, &str)>,
    ) -> Result<ServiceState> {
        let all = self.service_states().await?;
        let found = all.into_iter().find(|s| match (id, host_binary) {
            (Some(i), _) => s.service.uuid == i || s.service.id.to_string() == i,
            (None, Some((h, b))) => s.service.host == h && s.service.binary == b,
            _ => false,
        });
        found.ok_or_else(|| match (id, host_binary) {
            (Some(i), _) => Error::not_found(format!("Service {i} could not be found.")),
            (None, Some((h, b))) => {
                Error::not_found(format!("Service {b} on host {h} could not be found."))
            }
            _ => Error::not_found("Service could not be found."),
        })
    }

    /// Changes a service's status: `disabled` (with a reason) and/or `forced_down`.
    pub async fn service_update(
        &self,
        ctx: &RequestContext,
        id: Option<&str>,
        host_binary: Option<(&str, &str)>,
        disabled: Option<(bool, Option<String>)>,
        forced_down: Option<bool>,
    ) -> Result<ServiceState> {
        let c = self.caller(ctx)?;
        self.authorize_own(&c, "os_compute_api:os-services:update")?;
        let s = self.service_find(id, host_binary).await?;
        if s.service.binary != BINARY && forced_down.is_some() {
            return Err(Error::bad_request(
                "Updating a non nova-compute service is not supported.",
            ));
        }
        self.store
            .service_update(s.service.id, disabled, forced_down)
            .await?;
        self.service_find(Some(&s.service.uuid), None).await
    }

    pub async fn service_delete(&self, ctx: &RequestContext, id: &str) -> Result<()> {
        let c = self.caller(ctx)?;
        self.authorize_own(&c, "os_compute_api:os-services:delete")?;
        let s = self.service_find(Some(id), None).await?;
        let on_host = self
            .store
            .instance_list(&InstanceFilter {
                host: Some(s.service.host.clone()),
                ..Default::default()
            })
            .await?;
        if !on_host.is_empty() {
            return Err(Error::conflict(
                "Unable to delete compute service that is hosting instances. Migrate or delete the instances first.",
            ));
        }
        self.store.service_delete(s.service.id).await?;
        Ok(())
    }

    pub async fn hypervisor_list(
        &self,
        ctx: &RequestContext,
        rule: &str,
        with_servers: bool,
    ) -> Result<Vec<Hypervisor>> {
        let c = self.caller(ctx)?;
        self.authorize_own(&c, rule)?;
        let services = self.service_states().await?;
        let instances = self.store.instance_list(&InstanceFilter::default()).await?;
        let mut out = Vec::new();
        for node in self.store.node_list().await? {
            let Some(service) = services
                .iter()
                .find(|s| s.service.id == node.service_id)
                .cloned()
            else {
                continue;
            };
            let usage = self.placement.usages(&node.uuid).await.unwrap_or_default();
            let servers: Vec<Instance> = instances
                .iter()
                .filter(|i| i.node.as_deref() == Some(node.hypervisor_hostname.as_str()))
                .cloned()
                .collect();
            out.push(Hypervisor {
                running_vms: servers.len() as i64,
                servers: if with_servers { servers } else { Vec::new() },
                node,
                service,
                usage,
            });
        }
        Ok(out)
    }

    pub async fn availability_zones(
        &self,
        ctx: &RequestContext,
        detail: bool,
    ) -> Result<(String, Vec<ServiceState>)> {
        let c = self.caller(ctx)?;
        self.authorize_own(
            &c,
            if detail {
                "os_compute_api:os-availability-zone:detail"
            } else {
                "os_compute_api:os-availability-zone:list"
            },
        )?;
        Ok((
            self.config.default_availability_zone.clone(),
            self.service_states().await?,
        ))
    }

    // --- server groups ---------------------------------------------------------------------

    pub async fn group_create(
        &self,
        ctx: &RequestContext,
        name: &str,
        policy: &str,
    ) -> Result<ServerGroup> {
        let c = self.caller(ctx)?;
        self.authorize_own(&c, "os_compute_api:os-server-groups:create")?;
        let limit = self.quota_limit(c.project_id(), "server_groups").await?;
        let used = self.store.group_count(c.project_id()).await?;
        if limit >= 0 && used + 1 > limit {
            return Err(Error::forbidden("Quota exceeded, too many server groups."));
        }
        let g = ServerGroup {
            uuid: new_uuid(),
            name: name.into(),
            project_id: c.project_id().into(),
            user_id: c.user_id().into(),
            policy: policy.into(),
            members: Vec::new(),
            created_at: now(),
        };
        self.store.group_create(&g).await?;
        Ok(g)
    }

    async fn group_for(&self, ctx: &RequestContext, id: &str, rule: &str) -> Result<ServerGroup> {
        let c = self.caller(ctx)?;
        let g = self
            .store
            .group_get(id)
            .await?
            .filter(|g| c.is_admin || g.project_id == c.project_id())
            .ok_or_else(|| Error::not_found(format!("Instance group {id} could not be found.")))?;
        self.authorize(
            &c,
            rule,
            &json!({"project_id": g.project_id, "user_id": g.user_id}),
        )?;
        Ok(g)
    }

    pub async fn group_show(&self, ctx: &RequestContext, id: &str) -> Result<ServerGroup> {
        self.group_for(ctx, id, "os_compute_api:os-server-groups:show")
            .await
    }

    pub async fn group_delete(&self, ctx: &RequestContext, id: &str) -> Result<()> {
        let g = self
            .group_for(ctx, id, "os_compute_api:os-server-groups:delete")
            .await?;
        self.store.group_delete(&g.uuid).await?;
        Ok(())
    }

    pub async fn group_list(
        &self,
        ctx: &RequestContext,
        all_projects: bool,
    ) -> Result<Vec<ServerGroup>> {
        let c = self.caller(ctx)?;
        self.authorize_own(&c, "os_compute_api:os-server-groups:index")?;
        if all_projects
            && self.can(
                &c,
                "os_compute_api:os-server-groups:index:all_projects",
                &json!({"project_id": c.project_id()}),
            )
        {
            return Ok(self.store.group_list(None).await?);
        }
        Ok(self.store.group_list(Some(c.project_id())).await?)
    }

    // --- instance actions ------------------------------------------------------------------

    /// A server's actions; deleted servers too (2.21), for their owners and admins.
    async fn server_any(
        &self,
        ctx: &RequestContext,
        id: &str,
        rule: &str,
        deleted_ok: bool,
    ) -> Result<Instance> {
        let c = self.caller(ctx)?;
        let i = self
            .store
            .instance_get(id, deleted_ok)
            .await?
            .filter(|i| c.is_admin || i.project_id == c.project_id())
            .ok_or_else(|| super::servers::server_not_found(id))?;
        self.authorize(
            &c,
            rule,
            &json!({"project_id": i.project_id, "user_id": i.user_id}),
        )?;
        Ok(i)
    }

    pub async fn action_list(
        &self,
        ctx: &RequestContext,
        id: &str,
        deleted_ok: bool,
    ) -> Result<Vec<InstanceAction>> {
        let i = self
            .server_any(
                ctx,
                id,
                "os_compute_api:os-instance-actions:list",
                deleted_ok,
            )
            .await?;
        Ok(self.store.action_list(&i.uuid).await?)
    }

    pub async fn action_show(
        &self,
        ctx: &RequestContext,
        id: &str,
        request_id: &str,
        deleted_ok: bool,
        events_for_owner: bool,
    ) -> Result<ActionDetail> {
        let i = self
            .server_any(
                ctx,
                id,
                "os_compute_api:os-instance-actions:show",
                deleted_ok,
            )
            .await?;
        let action = self
            .store
            .action_list(&i.uuid)
            .await?
            .into_iter()
            .find(|a| a.request_id == request_id)
            .ok_or_else(|| Error::not_found(format!("Action {request_id} not found")))?;
        let c = self.caller(ctx)?;
        let target = json!({"project_id": i.project_id});
        let admin_events = self.can(&c, "os_compute_api:os-instance-actions:events", &target);
        let events = if admin_events || events_for_owner {
            Some(self.store.event_list(&i.uuid, request_id).await?)
        } else {
            None
        };
        Ok(ActionDetail {
            action,
            events,
            show_traceback: admin_events,
            show_host: admin_events,
        })
    }
}

/// Whether a value is one of Nova's server group policies at this microversion.
pub fn valid_group_policy(p: &str, soft_allowed: bool) -> bool {
    matches!(p, "affinity" | "anti-affinity")
        || (soft_allowed && matches!(p, "soft-affinity" | "soft-anti-affinity"))
}
