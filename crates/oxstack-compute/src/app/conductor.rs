//! The conductor and scheduler (nova-conductor + nova-scheduler), in the API process:
//! placement finds hosts with room, filters drop hosts that are disabled, down, already
//! tried or against the server group's policy, the claim is made in placement, and the
//! agent of the chosen host builds over RPC. A failed build is retried on another host up
//! to `build_retries` times; then the server goes to ERROR with a fault.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::{App, now};
use crate::agent::LIVENESS_GROUP;
use crate::clients::flavor_resources;
use crate::model::{Fault, Instance};
use crate::rpc::RpcContext;
use crate::states::{power, task, vm};
use crate::store::{InstanceFilter, InstanceUpdate};

const SCHEDULE_EVENT: &str = "conductor_schedule_and_build_instances";

/// Scheduler hints of a create.
#[derive(Debug, Clone, Default)]
pub struct Hints {
    pub group: Option<String>,
    pub same_host: Vec<String>,
    pub different_host: Vec<String>,
    pub forced_host: Option<String>,
}

impl Hints {
    pub fn parse(
        m: &Map<String, Value>,
        group: Option<String>,
        forced_host: Option<String>,
    ) -> Hints {
        let list = |k: &str| -> Vec<String> {
            match m.get(k) {
                Some(Value::String(s)) => vec![s.clone()],
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect(),
                _ => Vec::new(),
            }
        };
        Hints {
            group,
            same_host: list("same_host"),
            different_host: list("different_host"),
            forced_host,
        }
    }
}

/// Why no host was found.
const NO_VALID_HOST: &str = "No valid host was found. There are not enough hosts available.";

impl App {
    /// Schedules and builds `uuids` in the background (the create call has answered 202).
    pub(crate) fn spawn_build(&self, ctx: RpcContext, uuids: Vec<String>, hints: Hints) {
        let Some(app) = self.me() else {
            return;
        };
        tokio::spawn(async move {
            for u in uuids {
                app.schedule_and_build(&ctx, &u, &hints).await;
            }
        });
    }

    pub(crate) fn spawn_resize(&self, ctx: RpcContext, uuid: String) {
        let Some(app) = self.me() else {
            return;
        };
        tokio::spawn(async move { app.resize(&ctx, &uuid).await });
    }

    fn me(&self) -> Option<Arc<App>> {
        self.this.get().and_then(std::sync::Weak::upgrade)
    }

    /// Hosts whose agent is up and whose service is enabled.
    async fn usable_hosts(&self) -> oxstack_common::Result<HashSet<String>> {
        let alive: HashSet<String> = self
            .coord
            .members(LIVENESS_GROUP)
            .await
            .into_iter()
            .collect();
        Ok(self
            .store
            .service_list()
            .await?
            .into_iter()
            .filter(|s| {
                s.binary == crate::agent::BINARY
                    && !s.disabled
                    && !s.forced_down
                    && alive.contains(&s.host)
            })
            .map(|s| s.host)
            .collect())
    }

    /// Picks and claims a host for `i`; `None` when none fits.
    async fn select_host(
        &self,
        i: &Instance,
        hints: &Hints,
        tried: &HashSet<String>,
    ) -> oxstack_common::Result<Option<String>> {
        let res = flavor_resources(i.flavor.vcpus, i.flavor.memory_mb, i.flavor.root_gb);
        let candidates = self.placement.candidates(&res, 1000).await?;
        let nodes = self.store.node_list().await?;
        let usable = self.usable_hosts().await?;
        // Only the hosts of the servers the hints name, and a count per host: not every
        // server (a scheduling decision must not cost more as the cloud grows).
        let group = match &hints.group {
            Some(g) => self.store.group_get(g).await?,
            None => None,
        };
        let named: Vec<String> = group
            .iter()
            .flat_map(|g| g.members.iter().filter(|m| **m != i.uuid))
            .chain(&hints.same_host)
            .chain(&hints.different_host)
            .cloned()
            .collect();
        let host_of = self.store.instance_hosts(&named).await?;
        let hosts_of = |uuids: &mut dyn Iterator<Item = &String>| -> HashSet<String> {
            uuids.filter_map(|u| host_of.get(u).cloned()).collect()
        };
        let (policy, group_hosts): (Option<String>, HashSet<String>) = match &group {
            Some(g) => (
                Some(g.policy.clone()),
                hosts_of(&mut g.members.iter().filter(|m| **m != i.uuid)),
            ),
            None => (None, HashSet::new()),
        };
        let same = hosts_of(&mut hints.same_host.iter());
        let different = hosts_of(&mut hints.different_host.iter());
        let load = self.store.instance_count_by_host().await?;
        let mut hosts: Vec<(String, String)> = candidates
            .iter()
            .filter_map(|c| {
                nodes
                    .iter()
                    .find(|n| n.uuid == c.provider)
                    .map(|n| (n.host.clone(), c.provider.clone()))
            })
            .filter(|(h, _)| usable.contains(h) && !tried.contains(h))
            .filter(|(h, _)| hints.forced_host.as_ref().is_none_or(|f| f == h))
            .filter(|(h, _)| hints.same_host.is_empty() || same.contains(h))
            .filter(|(h, _)| !different.contains(h))
            .filter(|(h, _)| match policy.as_deref() {
                Some("affinity") => group_hosts.is_empty() || group_hosts.contains(h),
                Some("anti-affinity") => !group_hosts.contains(h),
                _ => true,
            })
            .collect();
        // Weigh: soft policies first, then the least loaded host (spread, as Nova's RAM
        // weigher does by default), then by name for determinism.
        let soft = |h: &str| -> i32 {
            match policy.as_deref() {
                Some("soft-affinity") if group_hosts.contains(h) => 0,
                Some("soft-affinity") => 1,
                Some("soft-anti-affinity") if group_hosts.contains(h) => 1,
                _ => 0,
            }
        };
        hosts.sort_by(|a, b| {
            soft(&a.0)
                .cmp(&soft(&b.0))
                .then(load.get(&a.0).cmp(&load.get(&b.0)))
                .then(a.0.cmp(&b.0))
        });
        for (host, provider) in hosts {
            if self
                .placement
                .claim(&i.uuid, &provider, &res, &i.project_id, &i.user_id)
                .await?
            {
                return Ok(Some(host));
            }
        }
        Ok(None)
    }

    async fn fail_build(&self, uuid: &str, message: &str, details: &str) {
        let _ = self.placement.release(uuid).await;
        let _ = self
            .store
            .instance_fault_set(
                uuid,
                &Fault {
                    code: 500,
                    message: message.into(),
                    details: Some(details.into()),
                    created_at: now(),
                },
            )
            .await;
        let _ = self
            .store
            .instance_update(
                uuid,
                &InstanceUpdate {
                    vm_state: Some(vm::ERROR.into()),
                    task_state: Some(None),
                    power_state: Some(power::NOSTATE),
                    host: Some(None),
                    node: Some(None),
                    expect_vm_state: Some(vec![vm::BUILDING.into()]),
                    ..Default::default()
                },
            )
            .await;
    }

    async fn schedule_and_build(&self, ctx: &RpcContext, uuid: &str, hints: &Hints) {
        let _ = self
            .store
            .event_start(uuid, &ctx.request_id, SCHEDULE_EVENT, None)
            .await;
        let mut tried = HashSet::new();
        let attempts = self.config.build_retries + 1;
        let mut last_error = String::new();
        for attempt in 0..attempts {
            let i = match self.store.instance_get(uuid, false).await {
                Ok(Some(i)) if i.task_state.as_deref() == Some(task::SCHEDULING) => i,
                // Deleted or reset meanwhile: a pending claim is dropped with it.
                _ => {
                    let _ = self
                        .store
                        .event_finish(uuid, &ctx.request_id, SCHEDULE_EVENT, None)
                        .await;
                    return;
                }
            };
            let host = match self.select_host(&i, hints, &tried).await {
                Ok(Some(h)) => h,
                Ok(None) => {
                    let (msg, details) = if attempt == 0 {
                        (NO_VALID_HOST.to_string(), NO_VALID_HOST.to_string())
                    } else {
                        (
                            format!(
                                "Exceeded maximum number of retries. Exhausted all hosts available for retrying build failures for instance {uuid}."
                            ),
                            last_error.clone(),
                        )
                    };
                    self.fail_build(uuid, &msg, &details).await;
                    let _ = self
                        .store
                        .event_finish(uuid, &ctx.request_id, SCHEDULE_EVENT, Some(&msg))
                        .await;
                    return;
                }
                Err(e) => {
                    let msg = oxstack_common::http::error_chain(&e);
                    tracing::error!(instance = uuid, error = %msg, "scheduling failed");
                    self.fail_build(uuid, NO_VALID_HOST, &msg).await;
                    let _ = self
                        .store
                        .event_finish(uuid, &ctx.request_id, SCHEDULE_EVENT, Some(&msg))
                        .await;
                    return;
                }
            };
            tried.insert(host.clone());
            let _ = self
                .store
                .instance_update(
                    uuid,
                    &InstanceUpdate {
                        host: Some(Some(host.clone())),
                        node: Some(Some(host.clone())),
                        availability_zone: Some(Some(
                            i.availability_zone
                                .clone()
                                .unwrap_or_else(|| self.config.default_availability_zone.clone()),
                        )),
                        expect_task_state: Some(vec![Some(task::SCHEDULING.into())]),
                        ..Default::default()
                    },
                )
                .await;
            match self.rpc.build_and_run_instance(&host, ctx, uuid).await {
                Ok(()) => {
                    let _ = self
                        .store
                        .event_finish(uuid, &ctx.request_id, SCHEDULE_EVENT, None)
                        .await;
                    return;
                }
                Err(e) => {
                    last_error = e.to_string();
                    tracing::warn!(instance = uuid, host, error = %last_error, "build failed; rescheduling");
                    let _ = self.placement.release(uuid).await;
                }
            }
        }
        let msg = format!(
            "Exceeded maximum number of retries. Exceeded max scheduling attempts {attempts} for instance {uuid}. Last exception: {last_error}"
        );
        self.fail_build(uuid, &msg, &last_error).await;
        let _ = self
            .store
            .event_finish(uuid, &ctx.request_id, SCHEDULE_EVENT, Some(&msg))
            .await;
    }

    /// Same-host resize: the allocation grows to old + new flavor until confirm or revert.
    async fn resize(&self, ctx: &RpcContext, uuid: &str) {
        let Ok(Some(i)) = self.store.instance_get(uuid, false).await else {
            return;
        };
        let (Some(new), Some(host)) = (i.new_flavor.clone(), i.host.clone()) else {
            return;
        };
        let _ = self
            .store
            .event_start(uuid, &ctx.request_id, "compute_prep_resize", Some(&host))
            .await;
        let provider = self
            .store
            .node_list()
            .await
            .ok()
            .and_then(|n| n.into_iter().find(|n| n.host == host).map(|n| n.uuid));
        let mut res = flavor_resources(i.flavor.vcpus, i.flavor.memory_mb, i.flavor.root_gb);
        for (k, v) in flavor_resources(new.vcpus, new.memory_mb, new.root_gb) {
            *res.entry(k).or_default() += v;
        }
        let claimed = match &provider {
            Some(p) => self
                .placement
                .claim(uuid, p, &res, &i.project_id, &i.user_id)
                .await
                .unwrap_or(false),
            None => false,
        };
        if !claimed {
            let _ = self
                .store
                .instance_fault_set(
                    uuid,
                    &Fault {
                        code: 500,
                        message: NO_VALID_HOST.into(),
                        details: Some("The host has no room for the new flavor.".into()),
                        created_at: now(),
                    },
                )
                .await;
            let _ = self
                .store
                .instance_update(
                    uuid,
                    &InstanceUpdate {
                        task_state: Some(None),
                        new_flavor: Some(None),
                        ..Default::default()
                    },
                )
                .await;
            let _ = self
                .store
                .event_finish(
                    uuid,
                    &ctx.request_id,
                    "compute_prep_resize",
                    Some(NO_VALID_HOST),
                )
                .await;
            return;
        }
        let _ = self
            .store
            .instance_update(
                uuid,
                &InstanceUpdate {
                    task_state: Some(Some(task::RESIZE_MIGRATED.into())),
                    expect_task_state: Some(vec![Some(task::RESIZE_PREP.into())]),
                    ..Default::default()
                },
            )
            .await;
        let _ = self
            .store
            .event_finish(uuid, &ctx.request_id, "compute_prep_resize", None)
            .await;
        if let Err(e) = self
            .rpc
            .cast(&host, "finish_resize", ctx, uuid, serde_json::json!({}))
            .await
        {
            tracing::error!(instance = uuid, error = %e, "finish_resize not sent");
        }
    }

    /// After a restart of the API process: servers caught mid-scheduling go to ERROR with a
    /// fault and lose their claims; deletes without a host are finished.
    pub async fn recover(&self) -> oxstack_common::Result<()> {
        let all = self.store.instance_list(&InstanceFilter::default()).await?;
        for i in all {
            match (i.host.as_deref(), i.task_state.as_deref()) {
                (None, Some(task::DELETING)) => self.local_delete(&i.uuid).await?,
                (None, Some(task::SCHEDULING)) if i.vm_state == vm::BUILDING => {
                    self.fail_build(
                        &i.uuid,
                        "Build was interrupted by a restart of the compute API.",
                        "The server was being scheduled when the compute API stopped.",
                    )
                    .await;
                }
                (Some(_), Some(task::SCHEDULING)) if i.vm_state == vm::BUILDING => {
                    // Claimed and sent to a host whose agent may never have received it.
                    self.fail_build(
                        &i.uuid,
                        "Build was interrupted by a restart of the compute API.",
                        "The server was being sent to its host when the compute API stopped.",
                    )
                    .await;
                }
                (Some(_), Some(task::RESIZE_PREP)) => {
                    let _ = self
                        .store
                        .instance_update(
                            &i.uuid,
                            &InstanceUpdate {
                                task_state: Some(None),
                                new_flavor: Some(None),
                                ..Default::default()
                            },
                        )
                        .await;
                }
                _ => {}
            }
        }
        Ok(())
    }
}
