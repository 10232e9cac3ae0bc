//! The data-plane seam: what the nodes must do when ports, routers and floating IPs change.
//! The control plane calls it after the database has the new state; drivers never see rows,
//! only `*Spec` structs. `noop` binds everything at once (the Linux data plane comes later).

use std::sync::Arc;

use oxstack_common::{Error, Result};

use crate::config::NetworkConfig;

/// A port as the data plane needs it.
#[derive(Debug, Clone)]
pub struct PortSpec {
    pub id: String,
    pub network_id: String,
    pub mac_address: String,
    pub fixed_ips: Vec<String>,
    pub host: String,
}

/// A router as the data plane needs it.
#[derive(Debug, Clone)]
pub struct RouterSpec {
    pub id: String,
    pub gateway_ips: Vec<String>,
    pub interface_subnets: Vec<String>,
}

/// A floating IP as the data plane needs it.
#[derive(Debug, Clone)]
pub struct FloatingIpSpec {
    pub id: String,
    pub floating_ip: String,
    pub fixed_ip: Option<String>,
    pub router_id: Option<String>,
}

/// What a binding attempt produced.
#[derive(Debug, Clone)]
pub struct Binding {
    pub vif_type: String,
    pub status: &'static str,
}

/// The network data plane of the nodes.
pub trait DataPlane: Send + Sync + std::fmt::Debug {
    /// Plugs (or re-plugs) a port on its host; `host` empty means "not bound".
    fn port_bind(&self, port: &PortSpec) -> Result<Binding>;
    /// Unplugs a port that is being deleted.
    fn port_unbind(&self, port_id: &str) -> Result<()>;
    /// Creates or updates a router's namespace, gateway and interfaces.
    fn router_sync(&self, router: &RouterSpec) -> Result<()>;
    /// Removes a router.
    fn router_delete(&self, router_id: &str) -> Result<()>;
    /// Sets up (or removes when `fixed_ip` is `None`) a floating IP's NAT.
    fn floatingip_sync(&self, fip: &FloatingIpSpec) -> Result<()>;
}

/// Binds everything at once and touches nothing.
#[derive(Debug, Default)]
pub struct Noop;

impl DataPlane for Noop {
    fn port_bind(&self, port: &PortSpec) -> Result<Binding> {
        Ok(if port.host.is_empty() {
            Binding {
                vif_type: "unbound".into(),
                status: "DOWN",
            }
        } else {
            Binding {
                vif_type: "ovs".into(),
                status: "ACTIVE",
            }
        })
    }
    fn port_unbind(&self, _port_id: &str) -> Result<()> {
        Ok(())
    }
    fn router_sync(&self, _router: &RouterSpec) -> Result<()> {
        Ok(())
    }
    fn router_delete(&self, _router_id: &str) -> Result<()> {
        Ok(())
    }
    fn floatingip_sync(&self, _fip: &FloatingIpSpec) -> Result<()> {
        Ok(())
    }
}

/// The driver named in the configuration.
pub fn from_config(config: &NetworkConfig) -> Result<Arc<dyn DataPlane>> {
    match config.driver.as_str() {
        "noop" => Ok(Arc::new(Noop)),
        other => Err(Error::internal(
            "network driver",
            format!("unknown network driver `{other}` (known: noop)"),
        )),
    }
}
