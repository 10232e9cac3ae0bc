//! Ports: MAC and fixed-IP allocation (through the store's atomic IPAM), device owner and
//! id, binding (through the data-plane driver), security groups, allowed address pairs.

use oxstack_common::{Error, Result};
use serde_json::{Map, Value, json};

use super::subnets::{ranges_of, subnet_cidr};
use super::{
    App, Caller, ListScope, bad, boolean, invalid, merge, new_id, not_found, only_keys, owner,
    string, target_of, uuid_of, view,
};
use crate::driver::PortSpec;
use crate::ip;
use crate::notifier::{EventName, ServerEvent};
use crate::store::{IpRequest, Kind, MacChoice, PortWrite, Row, Store, SubnetRanges};

const CREATE_KEYS: &[&str] = &[
    "name",
    "network_id",
    "admin_state_up",
    "mac_address",
    "fixed_ips",
    "device_id",
    "device_owner",
    "security_groups",
    "allowed_address_pairs",
    "port_security_enabled",
    "binding:host_id",
    "binding:profile",
    "binding:vnic_type",
    "description",
    "project_id",
    "tenant_id",
    "extra_dhcp_opts",
    "tags",
    "dns_name",
];

const PRIVILEGED: &[&str] = &["mac_address", "binding:host_id", "binding:profile"];

/// Where a port's fixed IPs come from.
enum Ips {
    /// Neutron's default: one address of the first IPv4 subnet, one of each IPv6 subnet.
    Default,
    Requested(Vec<IpRequest>),
}

impl App {
    pub async fn port_create(&self, c: &Caller, m: &Map<String, Value>) -> Result<Value> {
        only_keys(m, CREATE_KEYS)?;
        let net_id = m.get("network_id").ok_or_else(|| {
            bad("Failed to parse request. Required attribute 'network_id' not specified")
        })?;
        let network = self.network_for_use(c, net_id).await?;
        let project = owner(c, m)?;
        let mut target = json!({"project_id": project, "tenant_id": project});
        target["network_project_id"] = json!(network.project_id);
        target["shared"] = network.body.get("shared").cloned().unwrap_or(json!(false));
        self.authorize(c, "create_port", &target)?;
        let device_owner = string(m, "device_owner", 255)?.unwrap_or_default();
        let privileged = PRIVILEGED.iter().any(|k| m.contains_key(*k))
            || (!device_owner.is_empty() && !device_owner.starts_with("compute:"))
            || m.get("fixed_ips")
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().any(|f| f.get("ip_address").is_some()));
        if privileged {
            self.authorize(c, "create_port:privileged", &target)?;
        }
        self.check_quota(&project, "port", Kind::Port).await?;
        let subnets = self
            .store
            .list(Kind::Subnet, None, Some(&network.id))
            .await?;
        let ips = match m.get("fixed_ips") {
            None | Some(Value::Null) => Ips::Default,
            Some(v) => Ips::Requested(self.fixed_ip_requests(v, &network.id, &subnets)?),
        };
        let ranges: Vec<SubnetRanges> = subnets.iter().map(ranges_of).collect::<Result<_>>()?;
        let mut requests = match ips {
            Ips::Requested(r) => r,
            Ips::Default => default_requests(&subnets),
        };
        mark_slaac(&mut requests, &subnets);
        let mac = match m.get("mac_address") {
            None | Some(Value::Null) => MacChoice::Generate,
            Some(v) => MacChoice::Given(valid_mac(v)?),
        };
        let port_security = boolean(
            m,
            "port_security_enabled",
            network.body.get("port_security_enabled") != Some(&json!(false)),
        )?;
        let pairs = self.address_pairs(m.get("allowed_address_pairs"))?;
        let groups = match m.get("security_groups") {
            Some(v) if !v.is_null() => self.security_group_ids(c, v).await?,
            _ if !port_security || device_owner.starts_with("network:") => vec![],
            _ => vec![self.default_security_group(&project).await?],
        };
        if !port_security && (!groups.is_empty() || !pairs.is_empty()) {
            return Err(Error::conflict(
                "Port security must be enabled and port must have an IP address in order to use security groups.",
            )
            .with_type("PortSecurityAndIPRequiredForSecurityGroups"));
        }
        let host = string(m, "binding:host_id", 255)?.unwrap_or_default();
        let id = new_id();
        let body = json!({
            "name": string(m, "name", 255)?.unwrap_or_default(),
            "description": string(m, "description", 255)?.unwrap_or_default(),
            "network_id": network.id,
            "admin_state_up": boolean(m, "admin_state_up", true)?,
            "device_id": string(m, "device_id", 255)?.unwrap_or_default(),
            "device_owner": device_owner,
            "security_groups": groups,
            "allowed_address_pairs": pairs,
            "port_security_enabled": port_security,
            "binding:host_id": host,
            "binding:profile": m.get("binding:profile").cloned().unwrap_or(json!({})),
            "binding:vnic_type": m.get("binding:vnic_type").cloned().unwrap_or(json!("normal")),
            "binding:vif_type": "unbound",
            "binding:vif_details": {},
            "extra_dhcp_opts": m.get("extra_dhcp_opts").cloned().unwrap_or(json!([])),
            "dns_name": string(m, "dns_name", 255)?.unwrap_or_default(),
            "dns_assignment": [],
            "status": "DOWN",
            "tags": m.get("tags").cloned().unwrap_or(json!([])),
            "propagate_uplink_status": false,
            "resource_request": Value::Null,
            "ip_allocation": "immediate",
        });
        let w = PortWrite {
            row: Store::new_row(id, project, Some(network.id.clone()), body),
            mac,
            ips: requests,
            subnets: ranges,
        };
        let mut row = self.store.port_create(&w).await?;
        row = self.bind(row).await?;
        Ok(self.port_view(c, &row))
    }

    /// Binds a port through the driver and records the outcome.
    async fn bind(&self, row: Row) -> Result<Row> {
        let spec = PortSpec {
            id: row.id.clone(),
            network_id: row.parent_id.clone().unwrap_or_default(),
            mac_address: str_of(&row.body, "mac_address"),
            fixed_ips: row.body["fixed_ips"]
                .as_array()
                .map(|a| a.iter().map(|f| str_of(f, "ip_address")).collect())
                .unwrap_or_default(),
            host: str_of(&row.body, "binding:host_id"),
        };
        let b = self.driver.port_bind(&spec)?;
        let owner = str_of(&row.body, "device_owner");
        let status = if owner.starts_with("network:") && owner != "network:floatingip" {
            "ACTIVE"
        } else {
            b.status
        };
        let mut body = row.body.clone();
        body["binding:vif_type"] = json!(b.vif_type);
        body["status"] = json!(status);
        if !spec.host.is_empty() {
            body["binding:vif_details"] = json!({"port_filter": true, "connectivity": "l2"});
        }
        if body == row.body {
            return Ok(row);
        }
        let id = row.id.clone();
        let updated = self.store.update(Kind::Port, &id, &body, None).await?;
        // Neutron's transitions: a port coming up is plugged (or failed to be), one going
        // from ACTIVE to DOWN is unplugged; compute waits for the former when it boots.
        let event = match (str_of(&row.body, "status").as_str(), status) {
            ("DOWN" | "BUILD", "ACTIVE") => Some((EventName::VifPlugged, "completed")),
            ("DOWN" | "BUILD", "ERROR") => Some((EventName::VifPlugged, "failed")),
            ("ACTIVE", "DOWN") => Some((EventName::VifUnplugged, "completed")),
            _ => None,
        };
        if let Some((name, status)) = event {
            self.notify_compute(&updated, name, status);
        }
        Ok(updated)
    }

    /// Queues `name` about `port` for compute when the port is a server's.
    pub(crate) fn notify_compute(&self, port: &Row, name: EventName, status: &'static str) {
        if let Some(server) = server_of(port) {
            self.notifier.notify(ServerEvent {
                name,
                server_uuid: server,
                tag: port.id.clone(),
                status,
            });
        }
    }

    /// `network-changed` for the port `port_id` when it is a server's (a floating IP came or
    /// went); a port that is gone needs no event.
    pub(crate) async fn notify_port_changed(&self, port_id: &str) {
        if port_id.is_empty() {
            return;
        }
        match self.store.get(Kind::Port, port_id).await {
            Ok(Some(port)) => self.notify_compute(&port, EventName::NetworkChanged, "completed"),
            Ok(None) => {}
            Err(e) => tracing::warn!(
                port = port_id,
                error = %oxstack_common::http::error_chain(&e),
                "cannot read the port to notify compute"
            ),
        }
    }

    /// A port as the caller may see it.
    pub(crate) fn port_view(&self, c: &Caller, row: &Row) -> Value {
        let mut v = view(row);
        if !self.allowed(c, "get_port:binding", &target_of(row))
            && let Some(o) = v.as_object_mut()
        {
            for k in [
                "binding:vif_type",
                "binding:vif_details",
                "binding:profile",
                "binding:host_id",
            ] {
                o.remove(k);
            }
        }
        v
    }

    pub async fn port_get(&self, c: &Caller, id: &str) -> Result<Value> {
        let row = self.visible(c, Kind::Port, id).await?;
        Ok(self.port_view(c, &row))
    }

    /// The ports the caller may see, narrowed by `scope` before any is rendered (every
    /// filter is applied again to the rendered page by the API).
    pub async fn port_list(&self, c: &Caller, scope: &ListScope) -> Result<Vec<Value>> {
        let nets = self.store.list(Kind::Network, None, None).await?;
        let net_project: std::collections::HashMap<&str, &str> = nets
            .iter()
            .map(|n| (n.id.as_str(), n.project_id.as_str()))
            .collect();
        let rows = self
            .store
            .list(
                Kind::Port,
                scope.project.as_deref(),
                scope.parent.as_deref(),
            )
            .await?;
        let visible = rows.iter().filter(|r| {
            let mut t = target_of(r);
            if let Some(p) = r.parent_id.as_deref().and_then(|n| net_project.get(n)) {
                t["network_project_id"] = json!(p);
            }
            self.allowed(c, "get_port", &t)
        });
        let Some((limit, marker)) = &scope.page else {
            return Ok(visible.map(|r| self.port_view(c, r)).collect());
        };
        // One page: the rows after the marker (from the start when it is not among them,
        // as the API's own paging does), one more than the limit so that it can tell
        // whether a next page exists.
        let visible: Vec<&Row> = visible.collect();
        let start = marker
            .as_ref()
            .and_then(|m| visible.iter().position(|r| &r.id == m))
            .map_or(0, |pos| pos + 1);
        Ok(visible
            .into_iter()
            .skip(start)
            .take(limit.saturating_add(1))
            .map(|r| self.port_view(c, r))
            .collect())
    }

    pub async fn port_update(
        &self,
        c: &Caller,
        id: &str,
        m: &Map<String, Value>,
        expect: Option<i64>,
    ) -> Result<Value> {
        let row = self.visible(c, Kind::Port, id).await?;
        if m.contains_key("network_id") {
            return Err(bad("Cannot update read-only attribute network_id"));
        }
        let keys: Vec<&str> = CREATE_KEYS
            .iter()
            .copied()
            .filter(|k| !matches!(*k, "network_id" | "project_id" | "tenant_id"))
            .collect();
        only_keys(m, &keys)?;
        let network_id = row.parent_id.clone().unwrap_or_default();
        let network = self
            .store
            .get(Kind::Network, &network_id)
            .await?
            .ok_or_else(|| not_found(Kind::Network, &network_id))?;
        let mut target = target_of(&row);
        target["network_project_id"] = json!(network.project_id);
        self.authorize(c, "update_port", &target)?;
        let owner_change = m
            .get("device_owner")
            .and_then(Value::as_str)
            .is_some_and(|o| !o.is_empty() && !o.starts_with("compute:"));
        if owner_change
            || PRIVILEGED.iter().any(|k| m.contains_key(*k))
            || m.get("fixed_ips")
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().any(|f| f.get("ip_address").is_some()))
        {
            self.authorize(c, "update_port:privileged", &target)?;
        }
        string(m, "name", 255)?;
        let mut body = row.body.clone();
        merge(
            &mut body,
            m,
            &[
                "name",
                "description",
                "device_id",
                "device_owner",
                "binding:host_id",
                "binding:profile",
                "binding:vnic_type",
                "extra_dhcp_opts",
                "dns_name",
            ],
        );
        for k in ["admin_state_up", "port_security_enabled"] {
            if m.contains_key(k) {
                body[k] = json!(boolean(m, k, true)?);
            }
        }
        if m.contains_key("allowed_address_pairs") {
            body["allowed_address_pairs"] =
                json!(self.address_pairs(m.get("allowed_address_pairs"))?);
        }
        if let Some(v) = m.get("security_groups") {
            let groups = if v.is_null() {
                vec![]
            } else {
                self.security_group_ids(c, v).await?
            };
            body["security_groups"] = json!(groups);
        }
        let port_security = body.get("port_security_enabled") != Some(&json!(false));
        let has_groups = body["security_groups"]
            .as_array()
            .is_some_and(|a| !a.is_empty());
        let has_pairs = body["allowed_address_pairs"]
            .as_array()
            .is_some_and(|a| !a.is_empty());
        if !port_security && (has_groups || has_pairs) {
            return Err(Error::conflict(
                "Port has security group associated. Cannot disable port security or IP address until security group is removed",
            )
            .with_type("PortSecurityPortHasSecurityGroup"));
        }
        let subnets = self
            .store
            .list(Kind::Subnet, None, Some(&network_id))
            .await?;
        let (new_ips, mut requests) = match m.get("fixed_ips") {
            Some(v) => (true, self.fixed_ip_requests(v, &network_id, &subnets)?),
            None => (false, vec![]),
        };
        mark_slaac(&mut requests, &subnets);
        let (new_mac, mac) = match m.get("mac_address") {
            Some(v) => {
                let mac = valid_mac(v)?;
                if !str_of(&row.body, "binding:host_id").is_empty()
                    && mac != str_of(&row.body, "mac_address")
                {
                    return Err(Error::conflict(format!(
                        "Port {id} is bound; its MAC address cannot be changed."
                    ))
                    .with_type("PortBound"));
                }
                (true, MacChoice::Given(mac))
            }
            None => (false, MacChoice::Generate),
        };
        let w = PortWrite {
            row: Row {
                body,
                ..row.clone()
            },
            mac,
            ips: requests,
            subnets: subnets.iter().map(ranges_of).collect::<Result<_>>()?,
        };
        let updated = self
            .store
            .port_update(id, &w, new_ips, new_mac, expect)
            .await?;
        let updated = self.bind(updated).await?;
        // Ports whose addresses changed leave floating IPs pointing at a gone address.
        if new_ips {
            self.floatingips_follow_port(&updated).await?;
            if updated.body["fixed_ips"] != row.body["fixed_ips"] {
                self.notify_compute(&updated, EventName::NetworkChanged, "completed");
            }
        }
        Ok(self.port_view(c, &updated))
    }

    pub async fn port_delete(&self, c: &Caller, id: &str) -> Result<()> {
        let row = self.visible(c, Kind::Port, id).await?;
        let mut target = target_of(&row);
        if let Some(n) = row.parent_id.as_deref()
            && let Some(n) = self.store.get(Kind::Network, n).await?
        {
            target["network_project_id"] = json!(n.project_id);
        }
        self.authorize(c, "delete_port", &target)?;
        let owner = str_of(&row.body, "device_owner");
        if matches!(
            owner.as_str(),
            "network:router_interface" | "network:router_gateway" | "network:floatingip"
        ) && !str_of(&row.body, "device_id").is_empty()
        {
            return Err(Error::conflict(format!(
                "Port {id} cannot be deleted directly via the port API: has device owner {owner}."
            ))
            .with_type("ServicePortInUse"));
        }
        self.port_remove(&row).await
    }

    /// Deletes a port, disassociating floating IPs from it.
    pub(crate) async fn port_remove(&self, row: &Row) -> Result<()> {
        self.floatingips_release_port(&row.id).await?;
        self.driver.port_unbind(&row.id)?;
        self.store.port_delete(&row.id).await?;
        self.notify_compute(row, EventName::VifDeleted, "completed");
        Ok(())
    }

    /// Turns a `fixed_ips` list into IPAM requests on `network`'s subnets.
    pub(crate) fn fixed_ip_requests(
        &self,
        v: &Value,
        network: &str,
        subnets: &[Row],
    ) -> Result<Vec<IpRequest>> {
        let arr = v.as_array().ok_or_else(|| {
            bad("Invalid input for fixed_ips. Reason: Invalid data format for fixed IP.")
        })?;
        let mut out = Vec::new();
        for f in arr {
            let f = f.as_object().ok_or_else(|| {
                bad("Invalid input for fixed_ips. Reason: Invalid data format for fixed IP.")
            })?;
            let addr = match f.get("ip_address") {
                Some(a) => Some(a.as_str().and_then(ip::parse_ip).ok_or_else(|| {
                    bad(format!(
                        "Invalid input for fixed_ips. Reason: '{}' is not a valid IP address.",
                        a.as_str().unwrap_or_default()
                    ))
                })?),
                None => None,
            };
            let subnet = match f.get("subnet_id") {
                Some(s) => {
                    let sid = uuid_of(s, "subnet_id")?;
                    match subnets.iter().find(|r| r.id == sid) {
                        Some(r) => r,
                        None => {
                            return Err(invalid(format!(
                                "Failed to create port on network {network}, because fixed_ips included invalid subnet {sid}"
                            )));
                        }
                    }
                }
                None => match addr {
                    Some((_, a)) => subnets
                        .iter()
                        .find(|r| subnet_cidr(r).is_ok_and(|c| c.contains(a)))
                        .ok_or_else(|| {
                            bad(format!(
                                "IP address {} is not a valid IP for the specified subnet.",
                                f.get("ip_address")
                                    .and_then(Value::as_str)
                                    .unwrap_or_default()
                            ))
                            .with_type("InvalidIpForNetwork")
                        })?,
                    None => {
                        return Err(bad(
                            "Invalid input for fixed_ips. Reason: Invalid data format for fixed IP.",
                        ));
                    }
                },
            };
            let cidr = subnet_cidr(subnet)?;
            if let Some((ver, a)) = addr {
                let is_net_or_bcast =
                    ver == 4 && cidr.prefix < 31 && (a == cidr.first() || a == cidr.last());
                if ver != cidr.version || !cidr.contains(a) || is_net_or_bcast {
                    return Err(bad(format!(
                        "IP address {} is not a valid IP for the specified subnet.",
                        ip::render(ver, a)
                    ))
                    .with_type("InvalidIpForSubnet"));
                }
            }
            out.push(IpRequest {
                subnet_id: subnet.id.clone(),
                address: addr.map(|(_, a)| a),
                eui64: false,
            });
        }
        Ok(out)
    }

    fn address_pairs(&self, v: Option<&Value>) -> Result<Vec<Value>> {
        let Some(v) = v.filter(|v| !v.is_null()) else {
            return Ok(vec![]);
        };
        let arr = v
            .as_array()
            .ok_or_else(|| bad("Invalid input for allowed_address_pairs. Reason: not a list."))?;
        let mut out: Vec<Value> = Vec::new();
        for p in arr {
            let ipa = p.get("ip_address").and_then(Value::as_str).ok_or_else(|| {
                bad("AllowedAddressPair must contain ip_address")
                    .with_type("AllowedAddressPairsMissingIP")
            })?;
            if crate::ip::Cidr::parse(ipa, false).is_none() {
                return Err(bad(format!(
                    "Invalid input for allowed_address_pairs. Reason: '{ipa}' is not a valid IP address."
                )));
            }
            let mut pair = json!({"ip_address": ipa});
            if let Some(mac) = p.get("mac_address").filter(|m| !m.is_null()) {
                pair["mac_address"] = json!(valid_mac(mac)?);
            }
            if out.contains(&pair) {
                return Err(bad("Request contains duplicate address pair")
                    .with_type("DuplicateAddressPairInRequest"));
            }
            out.push(pair);
        }
        Ok(out)
    }
}

/// Neutron's default addresses: the first IPv4 subnet, and every IPv6 subnet (one each).
fn default_requests(subnets: &[Row]) -> Vec<IpRequest> {
    let mut out = Vec::new();
    let mut v4 = false;
    for s in subnets {
        let Ok(c) = subnet_cidr(s) else { continue };
        if c.version == 4 {
            if v4 {
                continue;
            }
            v4 = true;
        }
        out.push(IpRequest {
            subnet_id: s.id.clone(),
            address: None,
            eui64: false,
        });
    }
    out
}

/// Addresses on SLAAC and DHCPv6-stateless subnets come from the MAC (EUI-64), not the pool.
fn mark_slaac(requests: &mut [IpRequest], subnets: &[Row]) {
    for r in requests.iter_mut().filter(|r| r.address.is_none()) {
        let auto = subnets
            .iter()
            .find(|s| s.id == r.subnet_id)
            .is_some_and(|s| {
                matches!(
                    s.body.get("ipv6_address_mode").and_then(Value::as_str),
                    Some("slaac" | "dhcpv6-stateless")
                )
            });
        r.eui64 = auto;
    }
}

fn valid_mac(v: &Value) -> Result<String> {
    let s = v.as_str().unwrap_or_default();
    let parts: Vec<&str> = s.split(':').collect();
    let ok = parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()));
    // Neither broadcast, all-zero nor multicast.
    let first = parts
        .first()
        .and_then(|p| u8::from_str_radix(p, 16).ok())
        .unwrap_or(1);
    if !ok || s == "00:00:00:00:00:00" || first & 1 == 1 {
        return Err(bad(format!(
            "Invalid input for mac_address. Reason: '{s}' is not a valid MAC address."
        )));
    }
    Ok(s.to_lowercase())
}

/// The server a port belongs to, when compute should hear of it (Neutron's
/// `_is_compute_port`: a `compute:*` owner and a UUID device id).
fn server_of(port: &Row) -> Option<String> {
    let device = str_of(&port.body, "device_id");
    (str_of(&port.body, "device_owner").starts_with("compute:")
        && uuid::Uuid::parse_str(&device).is_ok())
    .then_some(device)
}

pub(crate) fn str_of(v: &Value, k: &str) -> String {
    v.get(k)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}
