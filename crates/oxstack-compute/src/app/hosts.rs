//! `os-hosts` (deprecated in Nova at 2.43, served up to 2.42): the hosts of the services, a
//! host's resources, and enabling or disabling its compute service. Maintenance mode and
//! host power actions are not supported by any driver here (Nova's libvirt answers 501 too).

use oxstack_common::context::RequestContext;
use oxstack_common::error::ErrorKind;
use oxstack_common::{Error, Result};

use super::App;
use crate::agent::BINARY;
use crate::store::InstanceFilter;

/// One row of `GET /os-hosts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostEntry {
    pub host_name: String,
    pub service: String,
    pub zone: String,
}

/// One `resource` of `GET /os-hosts/{host}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostResource {
    pub project: String,
    pub cpu: i64,
    pub memory_mb: i64,
    pub disk_gb: i64,
}

fn host_not_found(host: &str) -> Error {
    Error::not_found(format!("Compute host {host} could not be found."))
}

impl App {
    pub async fn host_list(
        &self,
        ctx: &RequestContext,
        zone: Option<&str>,
    ) -> Result<Vec<HostEntry>> {
        let c = self.caller(ctx)?;
        self.authorize_own(&c, "os_compute_api:os-hosts:list")?;
        let az = &self.config.default_availability_zone;
        let mut out: Vec<HostEntry> = self
            .store
            .service_list()
            .await?
            .into_iter()
            .map(|s| HostEntry {
                zone: if s.binary == BINARY {
                    az.clone()
                } else {
                    "internal".into()
                },
                service: s.topic.clone(),
                host_name: s.host,
            })
            .collect();
        if let Some(z) = zone.filter(|z| !z.is_empty()) {
            out.retain(|h| h.zone == z);
        }
        Ok(out)
    }

    async fn compute_host_exists(&self, host: &str) -> Result<bool> {
        Ok(self
            .store
            .service_list()
            .await?
            .iter()
            .any(|s| s.host == host && s.binary == BINARY))
    }

    /// `(total)`, `(used_now)`, `(used_max)` and one entry per project with servers there.
    pub async fn host_show(&self, ctx: &RequestContext, host: &str) -> Result<Vec<HostResource>> {
        let c = self.caller(ctx)?;
        self.authorize_own(&c, "os_compute_api:os-hosts:show")?;
        if !self.compute_host_exists(host).await? {
            return Err(host_not_found(host));
        }
        let node = self
            .store
            .node_list()
            .await?
            .into_iter()
            .find(|n| n.host == host);
        let servers = self
            .store
            .instance_list(&InstanceFilter {
                host: Some(host.to_string()),
                ..Default::default()
            })
            .await?;
        let mut projects: std::collections::BTreeMap<String, HostResource> = Default::default();
        for i in &servers {
            let e = projects
                .entry(i.project_id.clone())
                .or_insert_with(|| HostResource {
                    project: i.project_id.clone(),
                    cpu: 0,
                    memory_mb: 0,
                    disk_gb: 0,
                });
            e.cpu += i.flavor.vcpus;
            e.memory_mb += i.flavor.memory_mb;
            e.disk_gb += i.flavor.root_gb + i.flavor.ephemeral_gb;
        }
        let used = HostResource {
            project: "(used_now)".into(),
            cpu: projects.values().map(|p| p.cpu).sum(),
            memory_mb: projects.values().map(|p| p.memory_mb).sum(),
            disk_gb: projects.values().map(|p| p.disk_gb).sum(),
        };
        let total = HostResource {
            project: "(total)".into(),
            cpu: node.as_ref().map_or(0, |n| n.vcpus),
            memory_mb: node.as_ref().map_or(0, |n| n.memory_mb),
            disk_gb: node.as_ref().map_or(0, |n| n.local_gb),
        };
        let used_max = HostResource {
            project: "(used_max)".into(),
            ..used.clone()
        };
        let mut out = vec![total, used, used_max];
        out.extend(projects.into_values());
        Ok(out)
    }

    /// Enables or disables the compute service of `host`; answers the new status.
    pub async fn host_update(
        &self,
        ctx: &RequestContext,
        host: &str,
        enable: Option<bool>,
        maintenance: Option<bool>,
    ) -> Result<bool> {
        let c = self.caller(ctx)?;
        self.authorize_own(&c, "os_compute_api:os-hosts:update")?;
        let service = self
            .store
            .service_list()
            .await?
            .into_iter()
            .find(|s| s.host == host && s.binary == BINARY)
            .ok_or_else(|| host_not_found(host))?;
        if maintenance.is_some() {
            return Err(Error::new(
                ErrorKind::NotImplemented,
                "Virt driver does not implement host maintenance mode.",
            ));
        }
        let enable = enable.unwrap_or(!service.disabled);
        self.store
            .service_update(service.id, Some((!enable, None)), None)
            .await?;
        Ok(enable)
    }

    /// `startup`, `shutdown`, `reboot` of a host: checked, then 501.
    pub async fn host_power_action(
        &self,
        ctx: &RequestContext,
        host: &str,
        action: &str,
    ) -> Result<()> {
        let c = self.caller(ctx)?;
        self.authorize_own(&c, &format!("os_compute_api:os-hosts:{action}"))?;
        if !self.compute_host_exists(host).await? {
            return Err(host_not_found(host));
        }
        Err(Error::new(
            ErrorKind::NotImplemented,
            "Virt driver does not implement host power management.",
        ))
    }
}
