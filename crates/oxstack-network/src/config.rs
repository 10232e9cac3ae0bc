//! The networking service's configuration section (`[network]`).

use std::path::PathBuf;

use serde::Deserialize;

/// `[network]`: every option has a default; see docs/CONFIGURATION.md.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkConfig {
    /// Port of the Neutron API.
    pub port: u16,
    /// An oslo.policy YAML file overriding individual default rules.
    pub policy_file: Option<PathBuf>,
    /// The data-plane driver: `noop` (ports, routers and floating IPs are bound at once).
    pub driver: String,
    /// The network type of project networks made without provider attributes
    /// (`vxlan`, `vlan`, `flat` or `local`).
    pub tenant_network_type: String,
    /// VLAN ranges, `physnet:min:max`, for project and provider VLAN networks.
    pub vlan_ranges: Vec<String>,
    /// VXLAN VNI ranges, `min:max`.
    pub vxlan_ranges: Vec<String>,
    /// Physical networks that accept flat networks.
    pub flat_networks: Vec<String>,
    /// MTU of the physical fabric; VXLAN networks get 50 bytes less.
    pub global_physnet_mtu: i64,
    /// The default quotas per project (`-1`: unlimited).
    pub quotas: QuotaDefaults,
    /// The compute API (Nova, `http://host:8774`) told of its servers' port changes; none:
    /// this node's own compute when it runs here, else no one.
    pub compute_url: Option<String>,
    /// Whether compute is told of port status and address changes (Neutron's
    /// `notify_nova_on_port_status_changes` and `notify_nova_on_port_data_changes`).
    pub notify_compute: bool,
}

/// Default per-project quotas, named as Neutron's `[quotas]` options.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QuotaDefaults {
    pub network: i64,
    pub subnet: i64,
    pub port: i64,
    pub router: i64,
    pub floatingip: i64,
    pub security_group: i64,
    pub security_group_rule: i64,
    pub subnetpool: i64,
}

impl Default for QuotaDefaults {
    fn default() -> Self {
        Self {
            network: 100,
            subnet: 100,
            port: 500,
            router: 10,
            floatingip: 50,
            security_group: 10,
            security_group_rule: 100,
            subnetpool: -1,
        }
    }
}

impl Default for NetworkConfig {
    fn default() -> Self {
        Self {
            port: 9696,
            policy_file: None,
            driver: "noop".into(),
            tenant_network_type: "vxlan".into(),
            vlan_ranges: vec!["physnet1:1000:2999".into()],
            vxlan_ranges: vec!["1:65535".into()],
            flat_networks: vec!["public".into(), "physnet1".into()],
            global_physnet_mtu: 1500,
            quotas: QuotaDefaults::default(),
            compute_url: None,
            notify_compute: true,
        }
    }
}

impl NetworkConfig {
    /// The configured VXLAN VNI ranges (malformed entries are skipped).
    pub fn vxlan(&self) -> Vec<(i64, i64)> {
        self.vxlan_ranges
            .iter()
            .filter_map(|r| {
                let (a, b) = r.split_once(':')?;
                Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
            })
            .collect()
    }

    /// The configured VLAN ranges as `(physnet, min, max)`.
    pub fn vlan(&self) -> Vec<(String, i64, i64)> {
        self.vlan_ranges
            .iter()
            .filter_map(|r| {
                let mut it = r.split(':');
                let p = it.next()?.to_string();
                Some((p, it.next()?.parse().ok()?, it.next()?.parse().ok()?))
            })
            .collect()
    }
}
