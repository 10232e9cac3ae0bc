//! The compute agent (nova-compute): registers its host as a service and as a resource
//! provider, heartbeats, serves the compute RPC topic of its host and drives a
//! [`ComputeDriver`]. It never sees HTTP; it records state changes, faults and action events
//! in the store, and on start-up finishes or rolls back what a crash interrupted.

pub mod driver;
mod lifecycle;
pub mod qemu;
mod volumes;

use std::sync::Arc;
use std::time::Duration;

use oxstack_common::bus::{Bus, Incoming};
use oxstack_common::coord::Coordination;
use serde_json::Value;

pub use driver::{ComputeDriver, DriverError, FakeDriver, HostResources, InstanceSpec, VolumeSpec};

use crate::clients::{ImageClient, NetworkClient, PlacementClient, VolumeClient, flavor_resources};
use crate::model::{ComputeNode, Fault, FlavorSnapshot, Instance, NetworkRequest, Service, Vif};
use crate::networking;
use crate::rpc;
use crate::states::{power, task, vm};
use crate::store::{InstanceFilter, InstanceUpdate, Store};
use oxstack_common::http::error_chain;

/// The binary name of the agent in `os-services`.
pub const BINARY: &str = "nova-compute";
/// The coordination group agents heartbeat in.
pub const LIVENESS_GROUP: &str = "compute";

/// What an agent is started with.
#[derive(Debug, Clone)]
pub struct AgentOptions {
    pub host: String,
    pub store: Store,
    pub bus: Arc<dyn Bus>,
    pub coord: Arc<dyn Coordination>,
    pub placement: Arc<dyn PlacementClient>,
    /// Where snapshots are uploaded.
    pub image: Arc<dyn ImageClient>,
    /// The networking service (`None`: servers get no ports).
    pub network: Option<Arc<dyn NetworkClient>>,
    /// The block storage service (`None`: servers have no volumes).
    pub volume: Option<Arc<dyn VolumeClient>>,
    /// The zone of servers that name none (their ports' `device_owner`).
    pub default_availability_zone: String,
    pub driver: Arc<dyn ComputeDriver>,
    pub report_interval: Duration,
    /// Between power-state syncs (records corrected to what the hypervisor reports).
    pub sync_power_interval: Duration,
    pub host_ip: String,
}

/// A running agent; dropping the handle does not stop it, [`AgentHandle::stop`] does.
#[derive(Debug)]
pub struct AgentHandle {
    pub service: Service,
    pub node: ComputeNode,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl AgentHandle {
    /// Stops serving and heartbeating (the host then goes `down`).
    pub fn stop(&self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

#[derive(Debug)]
struct Agent {
    opts: AgentOptions,
}

type Outcome = Result<Value, String>;

/// Registers the host, recovers interrupted work and starts serving.
pub async fn start(opts: AgentOptions) -> oxstack_common::Result<AgentHandle> {
    let store = &opts.store;
    let service = store.service_ensure(&opts.host, BINARY, "compute").await?;
    let r = opts.driver.resources();
    let node = store
        .node_upsert(&ComputeNode {
            id: 0,
            uuid: uuid::Uuid::new_v4().to_string(),
            host: opts.host.clone(),
            hypervisor_hostname: opts.host.clone(),
            hypervisor_type: opts.driver.hypervisor_type().into(),
            hypervisor_version: opts.driver.hypervisor_version(),
            host_ip: opts.host_ip.clone(),
            vcpus: r.vcpus,
            memory_mb: r.memory_mb,
            local_gb: r.disk_gb,
            service_id: service.id,
            cpu_info: opts.driver.cpu_info().to_string(),
        })
        .await?;
    let agent = Arc::new(Agent { opts: opts.clone() });
    // Placement may not be serving yet (in all-in-one it starts with us, and its token comes
    // from identity in the same process): try briefly, then keep retrying in the background.
    let registered = tokio::time::timeout(Duration::from_secs(2), agent.register_provider(&node))
        .await
        .unwrap_or(false);
    agent.init_host().await?;
    let mut rx = opts
        .bus
        .serve(&rpc::topic(&opts.host))
        .await
        .map_err(|e| oxstack_common::Error::internal("bus", e))?;
    let a = agent.clone();
    let server = tokio::spawn(async move {
        while let Some(inc) = rx.recv().await {
            let a = a.clone();
            tokio::spawn(async move { a.handle(inc).await });
        }
    });
    let a = agent.clone();
    let (service_id, n) = (service.id, node.clone());
    let beat = tokio::spawn(async move {
        let mut registered = registered;
        loop {
            a.heartbeat(service_id).await;
            if !registered {
                registered = a.register_provider(&n).await;
            }
            tokio::time::sleep(a.opts.report_interval).await;
            registered = registered || a.register_provider(&n).await;
        }
    });
    let a = agent.clone();
    let sync = tokio::spawn(async move {
        loop {
            tokio::time::sleep(a.opts.sync_power_interval).await;
            a.sync_power_states().await;
        }
    });
    agent.heartbeat(service.id).await;
    Ok(AgentHandle {
        service,
        node,
        tasks: vec![server, beat, sync],
    })
}

fn spec_of(i: &Instance, f: &FlavorSnapshot) -> InstanceSpec {
    InstanceSpec {
        uuid: i.uuid.clone(),
        name: i.instance_name(),
        display_name: i.name.clone(),
        hostname: i.hostname.clone(),
        project_id: i.project_id.clone(),
        image_ref: i.image_ref.clone(),
        vcpus: f.vcpus,
        memory_mb: f.memory_mb,
        root_gb: f.root_gb,
        ephemeral_gb: f.ephemeral_gb,
        swap_mb: f.swap,
        user_data: i.user_data.clone(),
        key_data: i.key_data.clone(),
        key_name: i.key_name.clone(),
        availability_zone: i.availability_zone.clone(),
        reservation_id: i.reservation_id.clone(),
        metadata: i.metadata.clone(),
        config_drive: !i.config_drive.is_empty(),
        vifs: i.network_info.clone(),
        volumes: Vec::new(),
    }
}

fn now() -> i64 {
    oxstack_common::time::now().timestamp_micros()
}

/// The stable `vm_state` matching what the hypervisor reports.
fn vm_state_for_power(p: i64) -> &'static str {
    match p {
        power::RUNNING => vm::ACTIVE,
        power::PAUSED => vm::PAUSED,
        power::SUSPENDED => vm::SUSPENDED,
        _ => vm::STOPPED,
    }
}

impl Agent {
    fn store(&self) -> &Store {
        &self.opts.store
    }

    async fn register_provider(&self, node: &ComputeNode) -> bool {
        let totals = flavor_resources(node.vcpus, node.memory_mb, node.local_gb);
        match self
            .opts
            .placement
            .provider_register(&node.uuid, &node.hypervisor_hostname, &totals)
            .await
        {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %oxstack_common::http::error_chain(&e), "cannot register the resource provider; will retry");
                false
            }
        }
    }

    async fn heartbeat(&self, service_id: i64) {
        if let Err(e) = self.store().service_heartbeat(service_id).await {
            tracing::warn!(error = %oxstack_common::http::error_chain(&e), "heartbeat not recorded");
        }
        self.opts
            .coord
            .heartbeat(
                LIVENESS_GROUP,
                &self.opts.host,
                self.opts.report_interval * 6,
            )
            .await;
    }

    /// Nova's `init_host`: after a restart, every server of this host ends its interrupted
    /// task (finished, rolled back or ERROR with a fault).
    async fn init_host(&self) -> oxstack_common::Result<()> {
        let instances = self
            .store()
            .instance_list(&InstanceFilter {
                host: Some(self.opts.host.clone()),
                ..Default::default()
            })
            .await?;
        let known = self.opts.driver.list().await;
        for i in instances {
            let spec = spec_of(&i, &i.flavor);
            match (i.vm_state.as_str(), i.task_state.as_deref()) {
                (_, Some(task::DELETING)) => {
                    let _ = self.terminate(&i.uuid, None).await;
                }
                (vm::BUILDING, _) => {
                    let _ = self.opts.driver.destroy(&i.uuid).await;
                    self.to_error(
                        &i.uuid,
                        "Instance build was interrupted by a restart of its compute host.",
                    )
                    .await;
                }
                _ => {
                    if !known.contains(&i.uuid) {
                        // The hypervisor lost it (the fake driver keeps nothing across
                        // restarts): bring it back in its recorded power state.
                        let spec = self.spec_with_volumes(&i, false).await.unwrap_or(spec);
                        if self.opts.driver.spawn(&spec).await.is_ok() {
                            self.complete_volumes(&i, &spec.volumes).await;
                            let _ = match i.power_state {
                                power::SHUTDOWN => self.opts.driver.power_off(&i.uuid).await,
                                power::PAUSED => self.opts.driver.pause(&i.uuid).await,
                                power::SUSPENDED => self.opts.driver.suspend(&i.uuid).await,
                                _ => Ok(()),
                            };
                        }
                    }
                    if i.task_state.is_some() {
                        let p = self.opts.driver.power_state(&i.uuid).await;
                        let vm_state = if i.vm_state == vm::RESIZED || i.vm_state == vm::ERROR {
                            i.vm_state.clone()
                        } else {
                            vm_state_for_power(p).to_string()
                        };
                        let _ = self
                            .store()
                            .instance_update(
                                &i.uuid,
                                &InstanceUpdate {
                                    vm_state: Some(vm_state),
                                    task_state: Some(None),
                                    power_state: Some(p),
                                    ..Default::default()
                                },
                            )
                            .await;
                    }
                }
            }
        }
        Ok(())
    }

    /// Nova's `_sync_power_states`: each idle server's recorded power state becomes what the
    /// hypervisor reports; an ACTIVE server whose guest powered itself off becomes SHUTOFF.
    /// Servers with a task in flight are left to their task.
    async fn sync_power_states(&self) {
        let Ok(instances) = self
            .store()
            .instance_list(&InstanceFilter {
                host: Some(self.opts.host.clone()),
                ..Default::default()
            })
            .await
        else {
            return;
        };
        for i in instances {
            if i.task_state.is_some()
                || !matches!(
                    i.vm_state.as_str(),
                    vm::ACTIVE | vm::STOPPED | vm::PAUSED | vm::SUSPENDED
                )
            {
                continue;
            }
            let _guard = self.opts.coord.lock(&format!("instance-{}", i.uuid)).await;
            let p = self.opts.driver.power_state(&i.uuid).await;
            if p == i.power_state || p == power::NOSTATE {
                continue;
            }
            // Re-read under the lock: a task may have started meanwhile.
            match self.store().instance_get(&i.uuid, false).await {
                Ok(Some(now)) if now.task_state.is_none() && now.power_state == i.power_state => {}
                _ => continue,
            }
            tracing::info!(instance = %i.uuid, recorded = i.power_state, actual = p, "power state out of sync; recording the hypervisor's");
            let mut u = InstanceUpdate {
                power_state: Some(p),
                expect_task_state: Some(vec![None]),
                ..Default::default()
            };
            if i.vm_state == vm::ACTIVE && matches!(p, power::SHUTDOWN | power::CRASHED) {
                u.vm_state = Some(vm::STOPPED.into());
            }
            let _ = self.store().instance_update(&i.uuid, &u).await;
        }
    }

    async fn handle(&self, inc: Incoming) {
        let m = &inc.message;
        let outcome = if m.version.split('.').next() != Some(rpc::MAJOR) {
            Err(format!("unsupported RPC version {}", m.version))
        } else {
            let uuid = m.args["instance_uuid"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let req = m.request_id.clone().unwrap_or_default();
            // One operation at a time per server, as Nova's instance lock.
            let _guard = self.opts.coord.lock(&format!("instance-{uuid}")).await;
            self.dispatch(&m.method, &uuid, &req, &m.args).await
        };
        if let Err(e) = &outcome {
            tracing::warn!(method = %inc.message.method, error = %e, "compute operation failed");
        }
        if let Some(reply) = inc.reply {
            let _ = reply.send(outcome);
        }
    }

    async fn dispatch(&self, method: &str, uuid: &str, req: &str, args: &Value) -> Outcome {
        let d = &self.opts.driver;
        match method {
            "build_and_run_instance" => self.build(uuid, req).await,
            "terminate_instance" => self.terminate(uuid, Some(req)).await,
            "reboot_instance" => {
                let hard = args["reboot_type"].as_str() == Some("HARD");
                self.simple(
                    uuid,
                    req,
                    "compute_reboot_instance",
                    vm::ACTIVE,
                    power::RUNNING,
                    |u| Box::pin(async move { d.reboot(&u, hard).await }),
                )
                .await
            }
            "stop_instance" => {
                self.simple(
                    uuid,
                    req,
                    "compute_stop_instance",
                    vm::STOPPED,
                    power::SHUTDOWN,
                    |u| Box::pin(async move { d.power_off(&u).await }),
                )
                .await
            }
            "start_instance" => {
                self.simple(
                    uuid,
                    req,
                    "compute_start_instance",
                    vm::ACTIVE,
                    power::RUNNING,
                    |u| Box::pin(async move { d.power_on(&u).await }),
                )
                .await
            }
            "pause_instance" => {
                self.simple(
                    uuid,
                    req,
                    "compute_pause_instance",
                    vm::PAUSED,
                    power::PAUSED,
                    |u| Box::pin(async move { d.pause(&u).await }),
                )
                .await
            }
            "unpause_instance" => {
                self.simple(
                    uuid,
                    req,
                    "compute_unpause_instance",
                    vm::ACTIVE,
                    power::RUNNING,
                    |u| Box::pin(async move { d.unpause(&u).await }),
                )
                .await
            }
            "suspend_instance" => {
                self.simple(
                    uuid,
                    req,
                    "compute_suspend_instance",
                    vm::SUSPENDED,
                    power::SUSPENDED,
                    |u| Box::pin(async move { d.suspend(&u).await }),
                )
                .await
            }
            "resume_instance" => {
                self.simple(
                    uuid,
                    req,
                    "compute_resume_instance",
                    vm::ACTIVE,
                    power::RUNNING,
                    |u| Box::pin(async move { d.resume(&u).await }),
                )
                .await
            }
            "finish_resize" => self.finish_resize(uuid, req).await,
            "confirm_resize" => self.end_resize(uuid, req, true).await,
            "revert_resize" => self.end_resize(uuid, req, false).await,
            "snapshot_instance" => self.snapshot(uuid, req, args).await,
            "attach_interface" => self.attach_interface(uuid, req, &args["request"]).await,
            "detach_interface" => {
                let port = args["port_id"].as_str().unwrap_or_default();
                self.detach_interface(uuid, req, port).await
            }
            "refresh_network_info" => self.refresh_network_info(uuid).await,
            "attach_volume" => self.attach_volume(uuid, req, args).await,
            "detach_volume" => self.detach_volume(uuid, req, args).await,
            "get_console_output" => {
                let out = d.console_output(uuid).await.map_err(|e| e.0)?;
                let text = match args["length"].as_i64() {
                    Some(n) if n >= 0 => {
                        let lines: Vec<&str> = out.lines().collect();
                        let start = lines.len().saturating_sub(n as usize);
                        lines[start..].join("\n")
                    }
                    _ => out,
                };
                Ok(Value::String(text))
            }
            other => match self.dispatch_lifecycle(other, uuid, req, args).await {
                Some(outcome) => outcome,
                None => Err(format!("unknown method {other}")),
            },
        }
    }

    async fn load(&self, uuid: &str) -> Result<Instance, String> {
        self.store()
            .instance_get(uuid, false)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("Instance {uuid} could not be found."))
    }

    async fn event_start(&self, uuid: &str, req: &str, event: &str) {
        if let Err(e) = self
            .store()
            .event_start(uuid, req, event, Some(&self.opts.host))
            .await
        {
            tracing::warn!(error = %e, "action event not recorded");
        }
    }

    async fn event_finish(&self, uuid: &str, req: &str, event: &str, err: Option<&str>) {
        if let Err(e) = self.store().event_finish(uuid, req, event, err).await {
            tracing::warn!(error = %e, "action event not recorded");
        }
    }

    async fn fault(&self, uuid: &str, message: &str) {
        let f = Fault {
            code: 500,
            message: message.chars().take(255).collect(),
            details: Some(message.to_string()),
            created_at: now(),
        };
        if let Err(e) = self.store().instance_fault_set(uuid, &f).await {
            tracing::warn!(error = %e, "fault not recorded");
        }
    }

    async fn to_error(&self, uuid: &str, message: &str) {
        self.fault(uuid, message).await;
        let _ = self
            .store()
            .instance_update(
                uuid,
                &InstanceUpdate {
                    vm_state: Some(vm::ERROR.into()),
                    task_state: Some(None),
                    power_state: Some(power::NOSTATE),
                    ..Default::default()
                },
            )
            .await;
    }

    async fn set(&self, uuid: &str, u: InstanceUpdate) -> Result<bool, String> {
        self.store()
            .instance_update(uuid, &u)
            .await
            .map_err(|e| e.to_string())
    }

    async fn build(&self, uuid: &str, req: &str) -> Outcome {
        const EV: &str = "compute__do_build_and_run_instance";
        let i = self.load(uuid).await?;
        self.event_start(uuid, req, EV).await;
        let moved = self
            .set(
                uuid,
                InstanceUpdate {
                    task_state: Some(Some(task::SPAWNING.into())),
                    expect_task_state: Some(vec![Some(task::SCHEDULING.into()), None]),
                    expect_vm_state: Some(vec![vm::BUILDING.into()]),
                    ..Default::default()
                },
            )
            .await?;
        if !moved {
            // Deleted (or reset) while it was being scheduled: nothing to build.
            self.event_finish(uuid, req, EV, None).await;
            return Ok(Value::Null);
        }
        let mut i = i;
        match self.allocate_network(&i).await {
            Ok(vifs) => i.network_info = vifs,
            Err(e) => {
                let _ = self.back_to_scheduling(uuid).await;
                self.event_finish(uuid, req, EV, Some(&e)).await;
                return Err(e);
            }
        }
        let spec = match self.spec_with_volumes(&i, true).await {
            Ok(spec) => spec,
            Err(e) => {
                // Nova's BuildAbortException: no other host would do better.
                self.deallocate_network(&i).await;
                self.to_error(uuid, &e).await;
                self.event_finish(uuid, req, EV, Some(&e)).await;
                return Ok(Value::Null);
            }
        };
        if let Err(e) = self.opts.driver.spawn(&spec).await {
            let _ = self.opts.driver.destroy(uuid).await;
            self.deallocate_network(&i).await;
            let _ = self.back_to_scheduling(uuid).await;
            self.event_finish(uuid, req, EV, Some(&e.0)).await;
            return Err(e.0);
        }
        self.complete_volumes(&i, &spec.volumes).await;
        let done = self
            .set(
                uuid,
                InstanceUpdate {
                    vm_state: Some(vm::ACTIVE.into()),
                    task_state: Some(None),
                    power_state: Some(power::RUNNING),
                    launched_at: Some(Some(now())),
                    expect_task_state: Some(vec![Some(task::SPAWNING.into())]),
                    ..Default::default()
                },
            )
            .await?;
        if !done {
            tracing::info!(instance = uuid, "server was deleted while it was spawning");
        }
        self.event_finish(uuid, req, EV, None).await;
        Ok(Value::Null)
    }

    /// A build that failed here goes back to the conductor, which tries another host.
    async fn back_to_scheduling(&self, uuid: &str) -> Result<bool, String> {
        self.set(
            uuid,
            InstanceUpdate {
                task_state: Some(Some(task::SCHEDULING.into())),
                network_info: Some(Vec::new()),
                expect_task_state: Some(vec![Some(task::SPAWNING.into())]),
                ..Default::default()
            },
        )
        .await
    }

    /// Makes the ports a server asked for, bound to this host, and records them.
    async fn allocate_network(&self, i: &Instance) -> Result<Vec<Vif>, String> {
        let Some(net) = &self.opts.network else {
            return Ok(Vec::new());
        };
        let requests = i.network_requests();
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        let vifs = networking::allocate(
            net.as_ref(),
            i,
            &requests,
            &self.opts.host,
            &self.opts.default_availability_zone,
        )
        .await
        .map_err(|e| format!("Build of instance {} aborted: {}", i.uuid, error_chain(&e)))?;
        self.set(
            &i.uuid,
            InstanceUpdate {
                network_info: Some(vifs.clone()),
                ..Default::default()
            },
        )
        .await?;
        Ok(vifs)
    }

    /// Records the server's ports as the networking service has them now.
    async fn refresh_network_info(&self, uuid: &str) -> Outcome {
        let Some(net) = &self.opts.network else {
            return Ok(Value::Null);
        };
        let i = self.load(uuid).await?;
        let vifs = networking::refresh(net.as_ref(), &i)
            .await
            .map_err(|e| error_chain(&e))?;
        self.set(
            uuid,
            InstanceUpdate {
                network_info: Some(vifs),
                ..Default::default()
            },
        )
        .await?;
        Ok(Value::Null)
    }

    async fn attach_interface(&self, uuid: &str, req: &str, request: &Value) -> Outcome {
        const EV: &str = "compute_attach_interface";
        let net = self.opts.network.clone().ok_or("no networking service")?;
        let request: NetworkRequest =
            serde_json::from_value(request.clone()).map_err(|e| e.to_string())?;
        let mut i = self.load(uuid).await?;
        self.event_start(uuid, req, EV).await;
        let result = async {
            let vifs = networking::allocate(
                net.as_ref(),
                &i,
                std::slice::from_ref(&request),
                &self.opts.host,
                &self.opts.default_availability_zone,
            )
            .await
            .map_err(|e| error_chain(&e))?;
            let vif = vifs.into_iter().next().ok_or("no port was made")?;
            if let Err(e) = self.opts.driver.attach_interface(uuid, &vif).await {
                let mut undo = i.clone();
                undo.network_info = vec![vif];
                undo.networks = "[]".into();
                let _ = networking::deallocate(net.as_ref(), &undo).await;
                return Err(e.0);
            }
            i.network_info.push(vif.clone());
            let vifs = networking::refresh(net.as_ref(), &i)
                .await
                .unwrap_or_else(|_| i.network_info.clone());
            self.set(
                uuid,
                InstanceUpdate {
                    network_info: Some(vifs),
                    ..Default::default()
                },
            )
            .await?;
            let port = net
                .ports_of_device(uuid)
                .await
                .map_err(|e| error_chain(&e))?
                .into_iter()
                .find(|p| p.id == vif.port_id)
                .ok_or("the new port is gone")?;
            Ok::<_, String>(rpc::port_value(&port))
        }
        .await;
        self.event_finish(uuid, req, EV, result.as_ref().err().map(String::as_str))
            .await;
        result
    }

    async fn detach_interface(&self, uuid: &str, req: &str, port_id: &str) -> Outcome {
        const EV: &str = "compute_detach_interface";
        let net = self.opts.network.clone().ok_or("no networking service")?;
        let mut i = self.load(uuid).await?;
        self.event_start(uuid, req, EV).await;
        let result = async {
            let vif = i
                .network_info
                .iter()
                .find(|v| v.port_id == port_id)
                .cloned()
                .ok_or_else(|| format!("Port {port_id} is not attached"))?;
            self.opts
                .driver
                .detach_interface(uuid, &vif)
                .await
                .map_err(|e| e.0)?;
            let r = if vif.preserve_on_delete
                || i.network_requests()
                    .iter()
                    .any(|r| r.port_id.as_deref() == Some(port_id))
            {
                net.port_unbind(port_id).await
            } else {
                net.port_delete(port_id).await
            };
            r.map_err(|e| error_chain(&e))?;
            i.network_info.retain(|v| v.port_id != port_id);
            let vifs = networking::refresh(net.as_ref(), &i)
                .await
                .unwrap_or_else(|_| i.network_info.clone());
            self.set(
                uuid,
                InstanceUpdate {
                    network_info: Some(vifs),
                    ..Default::default()
                },
            )
            .await?;
            Ok::<_, String>(Value::Null)
        }
        .await;
        self.event_finish(uuid, req, EV, result.as_ref().err().map(String::as_str))
            .await;
        result
    }

    /// Takes back a server's ports; failures are logged (a later delete retries).
    async fn deallocate_network(&self, i: &Instance) {
        if let Some(net) = &self.opts.network
            && let Err(e) = networking::deallocate(net.as_ref(), i).await
        {
            tracing::warn!(instance = %i.uuid, error = %error_chain(&e), "could not release ports");
        }
    }

    async fn terminate(&self, uuid: &str, req: Option<&str>) -> Outcome {
        const EV: &str = "compute_terminate_instance";
        if let Some(r) = req {
            self.event_start(uuid, r, EV).await;
        }
        let result = async {
            self.opts.driver.destroy(uuid).await.map_err(|e| e.0)?;
            self.release_volumes(uuid).await?;
            if let (Some(net), Ok(Some(i))) = (
                &self.opts.network,
                self.store().instance_get(uuid, false).await,
            ) {
                networking::deallocate(net.as_ref(), &i)
                    .await
                    .map_err(|e| error_chain(&e))?;
            }
            self.opts
                .placement
                .release(uuid)
                .await
                .map_err(|e| oxstack_common::http::error_chain(&e))?;
            self.set(
                uuid,
                InstanceUpdate {
                    vm_state: Some(vm::DELETED.into()),
                    task_state: Some(None),
                    power_state: Some(power::NOSTATE),
                    terminated_at: Some(Some(now())),
                    deleted: Some(true),
                    ..Default::default()
                },
            )
            .await?;
            Ok::<_, String>(())
        }
        .await;
        if let Some(r) = req {
            self.event_finish(uuid, r, EV, result.as_ref().err().map(String::as_str))
                .await;
        }
        if let Err(e) = &result {
            // The delete stays pending (task_state deleting): a retry or a restart finishes it.
            self.fault(uuid, e).await;
        }
        result.map(|_| Value::Null)
    }

    /// A power operation: driver call, then the stable state, clearing the task.
    async fn simple<'a, F>(
        &self,
        uuid: &str,
        req: &str,
        event: &str,
        vm_state: &str,
        power_state: i64,
        op: F,
    ) -> Outcome
    where
        F: FnOnce(
            String,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<(), DriverError>> + Send + 'a>,
        >,
    {
        self.event_start(uuid, req, event).await;
        match op(uuid.to_string()).await {
            Ok(()) => {
                self.set(
                    uuid,
                    InstanceUpdate {
                        vm_state: Some(vm_state.into()),
                        task_state: Some(None),
                        power_state: Some(power_state),
                        ..Default::default()
                    },
                )
                .await?;
                self.event_finish(uuid, req, event, None).await;
                Ok(Value::Null)
            }
            Err(e) => {
                // Nova's reverts_task_state + wrap_instance_fault.
                let p = self.opts.driver.power_state(uuid).await;
                self.fault(uuid, &e.0).await;
                self.set(
                    uuid,
                    InstanceUpdate {
                        task_state: Some(None),
                        power_state: Some(p),
                        ..Default::default()
                    },
                )
                .await?;
                self.event_finish(uuid, req, event, Some(&e.0)).await;
                Err(e.0)
            }
        }
    }

    async fn finish_resize(&self, uuid: &str, req: &str) -> Outcome {
        const EV: &str = "compute_finish_resize";
        let i = self.load(uuid).await?;
        let Some(new) = i.new_flavor.clone() else {
            return Err("no resize in progress".into());
        };
        self.event_start(uuid, req, EV).await;
        if let Err(e) = self.opts.driver.resize(&spec_of(&i, &new)).await {
            let _ = self
                .opts
                .placement
                .claim(
                    uuid,
                    &self.provider_of(&i).await.unwrap_or_default(),
                    &flavor_resources(i.flavor.vcpus, i.flavor.memory_mb, i.flavor.root_gb),
                    &i.project_id,
                    &i.user_id,
                )
                .await;
            self.fault(uuid, &e.0).await;
            self.set(
                uuid,
                InstanceUpdate {
                    task_state: Some(None),
                    new_flavor: Some(None),
                    ..Default::default()
                },
            )
            .await?;
            self.event_finish(uuid, req, EV, Some(&e.0)).await;
            return Err(e.0);
        }
        let p = self.opts.driver.power_state(uuid).await;
        self.set(
            uuid,
            InstanceUpdate {
                vm_state: Some(vm::RESIZED.into()),
                task_state: Some(None),
                power_state: Some(p),
                old_flavor: Some(Some(i.flavor.clone())),
                flavor: Some(new),
                new_flavor: Some(None),
                ..Default::default()
            },
        )
        .await?;
        self.event_finish(uuid, req, EV, None).await;
        Ok(Value::Null)
    }

    async fn provider_of(&self, i: &Instance) -> Option<String> {
        let nodes = self.store().node_list().await.ok()?;
        nodes
            .into_iter()
            .find(|n| Some(&n.host) == i.host.as_ref())
            .map(|n| n.uuid)
    }

    /// Confirms (keeps the new flavor) or reverts (back to the old one) a resize; the
    /// doubled allocation of the resize shrinks to the kept flavor.
    async fn end_resize(&self, uuid: &str, req: &str, confirm: bool) -> Outcome {
        let ev = if confirm {
            "compute_confirm_resize"
        } else {
            "compute_revert_resize"
        };
        let i = self.load(uuid).await?;
        let Some(old) = i.old_flavor.clone() else {
            return Err("no resize to finish".into());
        };
        self.event_start(uuid, req, ev).await;
        let keep = if confirm { i.flavor.clone() } else { old };
        if !confirm && let Err(e) = self.opts.driver.resize(&spec_of(&i, &keep)).await {
            self.fault(uuid, &e.0).await;
            self.event_finish(uuid, req, ev, Some(&e.0)).await;
            return Err(e.0);
        }
        if let Some(provider) = self.provider_of(&i).await {
            let res = flavor_resources(keep.vcpus, keep.memory_mb, keep.root_gb);
            if let Err(e) = self
                .opts
                .placement
                .claim(uuid, &provider, &res, &i.project_id, &i.user_id)
                .await
            {
                tracing::warn!(error = %oxstack_common::http::error_chain(&e), "allocation not shrunk after resize");
            }
        }
        let p = self.opts.driver.power_state(uuid).await;
        self.set(
            uuid,
            InstanceUpdate {
                vm_state: Some(vm_state_for_power(p).into()),
                task_state: Some(None),
                power_state: Some(p),
                flavor: Some(keep),
                old_flavor: Some(None),
                ..Default::default()
            },
        )
        .await?;
        self.event_finish(uuid, req, ev, None).await;
        Ok(Value::Null)
    }

    /// Deletes the server's backups of `kind` beyond the newest `keep` (failures are logged:
    /// the next backup tries again).
    async fn rotate_backups(&self, token: &str, uuid: &str, kind: &str, keep: u64) {
        let filters = [
            ("instance_uuid".to_string(), uuid.to_string()),
            ("image_type".to_string(), "backup".to_string()),
            ("backup_type".to_string(), kind.to_string()),
            ("sort".to_string(), "created_at:desc".to_string()),
        ];
        let backups = match self.opts.image.image_records(token, &filters, None).await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(instance = uuid, error = %error_chain(&e), "backups not rotated");
                return;
            }
        };
        let keep = usize::try_from(keep).unwrap_or(usize::MAX);
        for old in backups.iter().skip(keep) {
            let id = old["id"].as_str().unwrap_or_default();
            if let Err(e) = self.opts.image.image_delete(token, id).await {
                tracing::warn!(image = id, error = %error_chain(&e), "old backup not deleted");
            }
        }
    }

    /// Copies the server's root disk into the queued image `image_id` with `token`, in Nova's
    /// two steps: `tasks.0` while the driver copies the disk (the image is `queued`), `tasks.1`
    /// while the data streams to the image service (`saving`). Each step expects the one
    /// before it (the first expects one of `from`), so a server deleted (or reset) meanwhile
    /// keeps its new task state and the copy stops with an error. A failed or stopped copy
    /// deletes the image, as Nova does.
    async fn upload_snapshot(
        &self,
        uuid: &str,
        token: &str,
        image_id: &str,
        from: &[&str],
        tasks: (&str, &str),
    ) -> Result<(), String> {
        let uploaded = self
            .upload_snapshot_steps(uuid, token, image_id, from, tasks)
            .await;
        if let Err(e) = &uploaded {
            tracing::warn!(instance = uuid, image = image_id, error = %e, "snapshot failed");
            if let Err(d) = self.opts.image.image_delete(token, image_id).await {
                tracing::warn!(image = image_id, error = %error_chain(&d), "failed snapshot image not deleted");
            }
        }
        uploaded
    }

    /// [`Agent::upload_snapshot`]'s steps.
    async fn upload_snapshot_steps(
        &self,
        uuid: &str,
        token: &str,
        image_id: &str,
        from: &[&str],
        tasks: (&str, &str),
    ) -> Result<(), String> {
        let step = |to: &str, from: &[&str]| InstanceUpdate {
            task_state: Some(Some(to.into())),
            expect_task_state: Some(from.iter().map(|t| Some((*t).to_string())).collect()),
            ..Default::default()
        };
        let stopped = || format!("Instance {uuid} changed task state during its snapshot.");
        if !self.set(uuid, step(tasks.0, from)).await? {
            return Err(stopped());
        }
        let data = self.opts.driver.snapshot(uuid).await.map_err(|e| e.0)?;
        if !self.set(uuid, step(tasks.1, &[tasks.0])).await? {
            return Err(stopped());
        }
        self.opts
            .image
            .image_upload(token, image_id, data)
            .await
            .map_err(|e| error_chain(&e))
    }

    /// Copies the root disk into the queued image the API created, with the token of the
    /// user who asked (the image is theirs), in Nova's steps: `image_pending_upload` while
    /// the driver copies the disk (the image is `queued`), `image_uploading` while the data
    /// streams to the image service (`saving`), then no task (`active`). Each step expects
    /// the one before it, so a server deleted (or reset) meanwhile keeps its new task state
    /// and the snapshot stops. A failed or stopped snapshot deletes the image, as Nova does;
    /// a failed one leaves the server as it was.
    async fn snapshot(&self, uuid: &str, req: &str, args: &Value) -> Outcome {
        const EV: &str = "compute_snapshot_instance";
        self.event_start(uuid, req, EV).await;
        let image_id = args["image_id"].as_str().unwrap_or_default();
        let token = args["auth_token"].as_str().unwrap_or_default();
        let uploaded = self
            .upload_snapshot(
                uuid,
                token,
                image_id,
                &[task::IMAGE_SNAPSHOT, task::IMAGE_BACKUP],
                (task::IMAGE_PENDING_UPLOAD, task::IMAGE_UPLOADING),
            )
            .await;
        if uploaded.is_ok()
            && let (Some(kind), Some(keep)) =
                (args["backup_type"].as_str(), args["rotation"].as_u64())
        {
            self.rotate_backups(token, uuid, kind, keep).await;
        }
        // Only a task of this snapshot ends here (not a `deleting` that came meanwhile).
        self.set(
            uuid,
            InstanceUpdate {
                task_state: Some(None),
                expect_task_state: Some(
                    [
                        task::IMAGE_SNAPSHOT,
                        task::IMAGE_BACKUP,
                        task::IMAGE_PENDING_UPLOAD,
                        task::IMAGE_UPLOADING,
                    ]
                    .iter()
                    .map(|t| Some((*t).to_string()))
                    .collect(),
                ),
                ..Default::default()
            },
        )
        .await?;
        self.event_finish(uuid, req, EV, uploaded.as_ref().err().map(String::as_str))
            .await;
        uploaded.map(|()| Value::Null)
    }
}
