//! Subnets: CIDR validation and overlap refusal within a network, gateway (or none),
//! allocation pools, DNS servers, host routes, DHCP and IPv6 modes.

use oxstack_common::{Error, Result};
use serde_json::{Map, Value, json};

use super::{
    App, Caller, bad, boolean, invalid, merge, new_id, only_keys, owner, string, target_of, view,
};
use crate::ip::{self, Cidr};
use crate::store::{IpRequest, Kind, MacChoice, PortWrite, Row, Store, SubnetRanges};

const CREATE_KEYS: &[&str] = &[
    "name",
    "network_id",
    "ip_version",
    "cidr",
    "gateway_ip",
    "allocation_pools",
    "dns_nameservers",
    "host_routes",
    "enable_dhcp",
    "ipv6_ra_mode",
    "ipv6_address_mode",
    "description",
    "project_id",
    "tenant_id",
    "subnetpool_id",
    "prefixlen",
    "tags",
    "service_types",
    "segment_id",
    "use_default_subnetpool",
];

const UPDATE_KEYS: &[&str] = &[
    "name",
    "gateway_ip",
    "allocation_pools",
    "dns_nameservers",
    "host_routes",
    "enable_dhcp",
    "description",
    "service_types",
];

const IPV6_MODES: &[&str] = &["slaac", "dhcpv6-stateful", "dhcpv6-stateless"];

impl App {
    pub async fn subnet_create(&self, c: &Caller, m: &Map<String, Value>) -> Result<Value> {
        only_keys(m, CREATE_KEYS)?;
        let net_id = m.get("network_id").ok_or_else(|| {
            bad("Failed to parse request. Required attribute 'network_id' not specified")
        })?;
        let network = self.network_for_use(c, net_id).await?;
        let project = owner(c, m)?;
        let mut target = json!({"project_id": project, "tenant_id": project});
        target["network_project_id"] = json!(network.project_id);
        self.authorize(c, "create_subnet", &target)?;
        let version = match m.get("ip_version") {
            Some(v) => match v
                .as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            {
                Some(4) => 4u8,
                Some(6) => 6u8,
                _ => {
                    return Err(bad(format!(
                        "Invalid input for ip_version. Reason: {v} is not in [4, 6]."
                    )));
                }
            },
            None => {
                return Err(bad(
                    "Failed to parse request. Required attribute 'ip_version' not specified",
                ));
            }
        };
        let given = match m.get("cidr").and_then(Value::as_str) {
            Some(text) => Some(
                Cidr::parse(text, false)
                    .filter(|x| text.contains('/') || x.prefix == ip::bits(x.version))
                    .ok_or_else(|| {
                        bad(format!(
                            "Invalid input for cidr. Reason: '{text}' is not a valid IP subnet."
                        ))
                    })?,
            ),
            None => None,
        };
        let (pool_id, cidr) = match (m.get("subnetpool_id").filter(|p| !p.is_null()), given) {
            (Some(p), wanted) => {
                let len = match m.get("prefixlen") {
                    Some(v) => Some(
                        v.as_i64()
                            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                            .ok_or_else(|| bad("Invalid input for prefixlen."))?,
                    ),
                    None => None,
                };
                let (pool, got) = self.subnetpool_allocate(c, p, wanted, len).await?;
                (Some(pool.id), got)
            }
            (None, Some(x)) => (None, x),
            (None, None) => {
                return Err(bad(
                    "Bad subnets request: a cidr must be specified in the absence of a subnet pool",
                ));
            }
        };
        let cidr_text = cidr.to_string_canonical();
        let cidr_text = cidr_text.as_str();
        if cidr.version != version {
            return Err(invalid(format!(
                "Cidr {cidr_text} does not match ip_version {version}"
            )));
        }
        if cidr.prefix == 0 || (version == 4 && cidr.prefix > 32) {
            return Err(invalid(format!("Invalid CIDR {cidr_text}")));
        }
        self.check_quota(&project, "subnet", Kind::Subnet).await?;
        // Overlap within the network.
        let siblings = self
            .store
            .list(Kind::Subnet, None, Some(&network.id))
            .await?;
        for s in &siblings {
            if let Some(o) = s
                .body
                .get("cidr")
                .and_then(Value::as_str)
                .and_then(|t| Cidr::parse(t, false))
                && o.overlaps(&cidr)
            {
                return Err(invalid(format!(
                    "Requested subnet with cidr: {} for network: {} overlaps with another subnet",
                    cidr.to_string_canonical(),
                    network.id
                )));
            }
        }
        let (ra, am) = ipv6_modes(m, version)?;
        let gateway = gateway(m.get("gateway_ip"), &cidr, true)?;
        let pools = match m.get("allocation_pools") {
            Some(p) if !p.is_null() => parse_pools(p, &cidr, gateway)?,
            _ => default_pools(&cidr, gateway),
        };
        let dns = validate_dns(m.get("dns_nameservers"), version)?;
        let routes = validate_routes(m.get("host_routes"), version)?;
        let body = json!({
            "name": string(m, "name", 255)?.unwrap_or_default(),
            "description": string(m, "description", 255)?.unwrap_or_default(),
            "network_id": network.id,
            "ip_version": version,
            "cidr": cidr.to_string_canonical(),
            "gateway_ip": gateway.map(|g| ip::render(version, g)),
            "allocation_pools": render_pools(version, &pools),
            "dns_nameservers": dns,
            "host_routes": routes,
            "enable_dhcp": boolean(m, "enable_dhcp", true)?,
            "ipv6_ra_mode": ra,
            "ipv6_address_mode": am,
            "subnetpool_id": pool_id,
            "segment_id": Value::Null,
            "service_types": m.get("service_types").cloned().unwrap_or(json!([])),
            "tags": m.get("tags").cloned().unwrap_or(json!([])),
            "dns_publish_fixed_ip": false,
        });
        let row = Store::new_row(new_id(), project, Some(network.id.clone()), body);
        self.store.insert(Kind::Subnet, &row).await?;
        Ok(view(&row))
    }

    pub async fn subnet_get(&self, c: &Caller, id: &str) -> Result<Value> {
        Ok(view(&self.visible(c, Kind::Subnet, id).await?))
    }

    pub async fn subnet_list(&self, c: &Caller) -> Result<Vec<Value>> {
        let nets = self.store.list(Kind::Network, None, None).await?;
        let mut out = Vec::new();
        for r in self.store.list(Kind::Subnet, None, None).await? {
            let mut t = target_of(&r);
            if let Some(n) = nets.iter().find(|n| Some(&n.id) == r.parent_id.as_ref()) {
                t["network_project_id"] = json!(n.project_id);
                // Subnets of external networks stay private to their owner, as in Neutron.
                t["shared"] = json!(n.body.get("shared") == Some(&json!(true)));
            }
            if self.allowed(c, "get_subnet", &t) {
                out.push(view(&r));
            }
        }
        Ok(out)
    }

    pub async fn subnet_update(
        &self,
        c: &Caller,
        id: &str,
        m: &Map<String, Value>,
        expect: Option<i64>,
    ) -> Result<Value> {
        let row = self.visible(c, Kind::Subnet, id).await?;
        for k in [
            "cidr",
            "ip_version",
            "network_id",
            "ipv6_ra_mode",
            "ipv6_address_mode",
            "subnetpool_id",
        ] {
            if m.contains_key(k) {
                return Err(bad(format!("Cannot update read-only attribute {k}")));
            }
        }
        only_keys(m, UPDATE_KEYS)?;
        self.authorize(c, "update_subnet", &self.subnet_target(&row).await?)?;
        string(m, "name", 255)?;
        let cidr = subnet_cidr(&row)?;
        let mut body = row.body.clone();
        merge(&mut body, m, &["name", "description", "service_types"]);
        if m.contains_key("enable_dhcp") {
            body["enable_dhcp"] = json!(boolean(m, "enable_dhcp", true)?);
        }
        if m.contains_key("dns_nameservers") {
            body["dns_nameservers"] = json!(validate_dns(m.get("dns_nameservers"), cidr.version)?);
        }
        if m.contains_key("host_routes") {
            body["host_routes"] = json!(validate_routes(m.get("host_routes"), cidr.version)?);
        }
        let mut gw = body
            .get("gateway_ip")
            .and_then(Value::as_str)
            .and_then(ip::parse_ip)
            .map(|(_, v)| v);
        if m.contains_key("gateway_ip") {
            gw = gateway(m.get("gateway_ip"), &cidr, false)?;
            body["gateway_ip"] = json!(gw.map(|g| ip::render(cidr.version, g)));
        }
        let pools = if m.contains_key("allocation_pools") {
            parse_pools(m.get("allocation_pools").unwrap_or(&Value::Null), &cidr, gw)?
        } else {
            pools_of(&body)
        };
        if let Some(g) = gw
            && pools.iter().any(|(a, b)| g >= *a && g <= *b)
        {
            return Err(Error::conflict(format!(
                "Gateway ip {} conflicts with allocation pool",
                ip::render(cidr.version, g)
            ))
            .with_type("GatewayConflictWithAllocationPools"));
        }
        body["allocation_pools"] = json!(render_pools(cidr.version, &pools));
        let row = self.store.update(Kind::Subnet, id, &body, expect).await?;
        Ok(view(&row))
    }

    pub async fn subnet_delete(&self, c: &Caller, id: &str) -> Result<()> {
        let row = self.visible(c, Kind::Subnet, id).await?;
        self.authorize(c, "delete_subnet", &self.subnet_target(&row).await?)?;
        // Addresses of SLAAC and DHCPv6-stateless subnets are automatic: they leave the
        // ports with the subnet instead of keeping it in use.
        let slaac = matches!(
            row.body.get("ipv6_address_mode").and_then(Value::as_str),
            Some("slaac" | "dhcpv6-stateless")
        );
        let mut strip = Vec::new();
        let mut auto = Vec::new();
        for p in self.store.ports_on_subnet(id).await? {
            let Some(port) = self.store.get(Kind::Port, &p).await? else {
                continue;
            };
            let owner = port
                .body
                .get("device_owner")
                .and_then(Value::as_str)
                .unwrap_or("");
            if owner == "network:dhcp" {
                auto.push(port.id);
            } else if slaac && owner != "network:router_interface" {
                strip.push(port);
            } else {
                return Err(Error::conflict(format!(
                    "Unable to complete operation on subnet {id}: One or more ports have an IP allocation from this subnet."
                ))
                .with_type("SubnetInUse"));
            }
        }
        for p in auto {
            self.store.port_delete(&p).await?;
        }
        let subnets = match row.parent_id.as_deref() {
            Some(net) => self.store.list(Kind::Subnet, None, Some(net)).await?,
            None => vec![],
        };
        for port in strip {
            let keep: Vec<IpRequest> = port.body["fixed_ips"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .filter(|f| f["subnet_id"] != json!(id))
                .filter_map(|f| {
                    Some(IpRequest {
                        subnet_id: f["subnet_id"].as_str()?.to_string(),
                        address: ip::parse_ip(f["ip_address"].as_str()?).map(|(_, a)| a),
                        eui64: false,
                    })
                })
                .collect();
            let w = PortWrite {
                row: port.clone(),
                mac: MacChoice::Generate,
                ips: keep,
                subnets: subnets.iter().map(ranges_of).collect::<Result<_>>()?,
            };
            self.store
                .port_update(&port.id, &w, true, false, None)
                .await?;
        }
        if !self.store.delete(Kind::Subnet, id).await? {
            return Err(super::not_found(Kind::Subnet, id));
        }
        Ok(())
    }

    async fn subnet_target(&self, row: &Row) -> Result<Value> {
        let mut t = target_of(row);
        if let Some(n) = row.parent_id.as_deref()
            && let Some(n) = self.store.get(Kind::Network, n).await?
        {
            t["network_project_id"] = json!(n.project_id);
        }
        Ok(t)
    }
}

pub(crate) fn subnet_cidr(row: &Row) -> Result<Cidr> {
    row.body
        .get("cidr")
        .and_then(Value::as_str)
        .and_then(|t| Cidr::parse(t, false))
        .ok_or_else(|| Error::internal("subnet", "stored subnet has no valid cidr"))
}

/// What IPAM needs of a stored subnet.
pub(crate) fn ranges_of(row: &Row) -> Result<SubnetRanges> {
    let cidr = subnet_cidr(row)?;
    Ok(SubnetRanges {
        subnet_id: row.id.clone(),
        network_id: row.parent_id.clone().unwrap_or_default(),
        version: cidr.version,
        pools: pools_of(&row.body),
    })
}

fn pools_of(body: &Value) -> Vec<(u128, u128)> {
    body.get("allocation_pools")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|p| {
                    let s = ip::parse_ip(p.get("start")?.as_str()?)?.1;
                    let e = ip::parse_ip(p.get("end")?.as_str()?)?.1;
                    Some((s, e))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn ipv6_modes(m: &Map<String, Value>, version: u8) -> Result<(Value, Value)> {
    let get = |k: &str| -> Result<Value> {
        match m.get(k) {
            None | Some(Value::Null) => Ok(Value::Null),
            Some(Value::String(s)) if IPV6_MODES.contains(&s.as_str()) => Ok(json!(s)),
            Some(v) => Err(bad(format!(
                "Invalid input for {k}. Reason: {v} is not in {IPV6_MODES:?}."
            ))),
        }
    };
    let (ra, am) = (get("ipv6_ra_mode")?, get("ipv6_address_mode")?);
    if version == 4 && (!ra.is_null() || !am.is_null()) {
        return Err(invalid(
            "ipv6_ra_mode or ipv6_address_mode cannot be set when enable_dhcp is set to False or ip_version is 4",
        ));
    }
    if !ra.is_null() && !am.is_null() && ra != am {
        return Err(invalid(format!(
            "ipv6_ra_mode set to '{}' with ipv6_address_mode set to '{}' is not valid. If both attributes are set, they must be the same value",
            ra.as_str().unwrap_or_default(),
            am.as_str().unwrap_or_default()
        )));
    }
    Ok((ra, am))
}

/// The gateway: given (inside the CIDR), `null` for none, or by default the first host.
fn gateway(v: Option<&Value>, cidr: &Cidr, default_first: bool) -> Result<Option<u128>> {
    match v {
        Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let (ver, a) = ip::parse_ip(s).ok_or_else(|| {
                bad(format!(
                    "Invalid input for gateway_ip. Reason: '{s}' is not a valid IP address."
                ))
            })?;
            if ver != cidr.version {
                return Err(invalid(format!("Invalid gateway {s}")));
            }
            if cidr.version == 4 && cidr.prefix < 31 && (a == cidr.first() || a == cidr.last()) {
                return Err(invalid(format!(
                    "Gateway is not valid on subnet: {s} is the network or broadcast address"
                )));
            }
            Ok(Some(a))
        }
        Some(other) => Err(bad(format!(
            "Invalid input for gateway_ip. Reason: '{other}' is not a valid IP address."
        ))),
        None if default_first => {
            if cidr.size() < 2 {
                Ok(None)
            } else {
                Ok(Some(cidr.first() + 1))
            }
        }
        None => Ok(None),
    }
}

fn default_pools(cidr: &Cidr, gw: Option<u128>) -> Vec<(u128, u128)> {
    let (mut start, mut end) = (cidr.first(), cidr.last());
    if cidr.version == 4 {
        if cidr.prefix < 31 {
            start += 1;
            end -= 1;
        }
    } else if cidr.prefix < 127 {
        // Neutron reserves the subnet-router anycast address.
        start += 1;
    }
    let mut out = Vec::new();
    match gw {
        Some(g) if g >= start && g <= end => {
            if g > start {
                out.push((start, g - 1));
            }
            if g < end {
                out.push((g + 1, end));
            }
        }
        _ => {
            if start <= end {
                out.push((start, end));
            }
        }
    }
    out
}

fn parse_pools(v: &Value, cidr: &Cidr, gw: Option<u128>) -> Result<Vec<(u128, u128)>> {
    let arr = v.as_array().ok_or_else(|| {
        bad("Invalid input for allocation_pools. Reason: Invalid data format for IP pool.")
    })?;
    let mut out: Vec<(u128, u128)> = Vec::new();
    for p in arr {
        let get = |k: &str| {
            p.get(k)
                .and_then(Value::as_str)
                .and_then(ip::parse_ip)
                .filter(|(ver, _)| *ver == cidr.version)
                .map(|(_, a)| a)
        };
        let (Some(s), Some(e)) = (get("start"), get("end")) else {
            return Err(bad(
                "Invalid input for allocation_pools. Reason: Invalid data format for IP pool.",
            ));
        };
        if s > e || !cidr.contains(s) || !cidr.contains(e) {
            return Err(bad(format!(
                "The allocation pool {}-{} spans beyond the subnet cidr {}.",
                ip::render(cidr.version, s),
                ip::render(cidr.version, e),
                cidr.to_string_canonical()
            ))
            .with_type("OutOfBoundsAllocationPool"));
        }
        if out.iter().any(|(a, b)| s <= *b && *a <= e) {
            return Err(
                bad("Found overlapping allocation pools").with_type("OverlappingAllocationPools")
            );
        }
        if let Some(g) = gw
            && g >= s
            && g <= e
        {
            return Err(Error::conflict(format!(
                "Gateway ip {} conflicts with allocation pool {}-{}",
                ip::render(cidr.version, g),
                ip::render(cidr.version, s),
                ip::render(cidr.version, e)
            ))
            .with_type("GatewayConflictWithAllocationPools"));
        }
        out.push((s, e));
    }
    Ok(out)
}

fn render_pools(version: u8, pools: &[(u128, u128)]) -> Value {
    json!(
        pools
            .iter()
            .map(|(s, e)| json!({"start": ip::render(version, *s), "end": ip::render(version, *e)}))
            .collect::<Vec<_>>()
    )
}

fn validate_dns(v: Option<&Value>, _version: u8) -> Result<Vec<String>> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(vec![]);
    };
    let arr = v
        .as_array()
        .ok_or_else(|| bad("Invalid input for dns_nameservers. Reason: not a list."))?;
    let mut out: Vec<String> = Vec::new();
    for d in arr {
        let s = d.as_str().unwrap_or_default();
        if ip::parse_ip(s).is_none() {
            return Err(bad(format!(
                "Invalid input for dns_nameservers. Reason: '{s}' is not a valid nameserver."
            )));
        }
        if out.iter().any(|x| x == s) {
            return Err(bad(format!(
                "Invalid input for dns_nameservers. Reason: Duplicate nameserver '{s}'."
            )));
        }
        out.push(s.to_string());
    }
    Ok(out)
}

fn validate_routes(v: Option<&Value>, _version: u8) -> Result<Vec<Value>> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(vec![]);
    };
    let arr = v
        .as_array()
        .ok_or_else(|| bad("Invalid input for host_routes. Reason: not a list."))?;
    let mut out = Vec::new();
    for r in arr {
        let dest = r
            .get("destination")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let hop = r.get("nexthop").and_then(Value::as_str).unwrap_or_default();
        let d = Cidr::parse(dest, false).filter(|_| dest.contains('/'));
        if d.is_none() || ip::parse_ip(hop).is_none() {
            return Err(bad(format!(
                "Invalid input for host_routes. Reason: Invalid data format for hostroute '{r}'."
            )));
        }
        out.push(json!({"destination": dest, "nexthop": hop}));
    }
    Ok(out)
}
