//! Routers (external gateway, interfaces by subnet or port, static routes) and floating IPs
//! (an address on an external network, associated with a port's fixed IP through a router
//! that joins the two networks). Gateway, interface and floating addresses are ports, as in
//! Neutron, so IPAM and MAC uniqueness come from the port store.

use oxstack_common::{Error, Result};
use serde_json::{Map, Value, json};

use super::ports::str_of;
use super::subnets::{ranges_of, subnet_cidr};
use super::{
    App, Caller, bad, boolean, merge, new_id, not_found, only_keys, owner, string, target_of,
    uuid_of, view,
};
use crate::driver::{FloatingIpSpec, RouterSpec};
use crate::ip::{self, Cidr};
use crate::store::{IpRequest, Kind, MacChoice, PortWrite, Row, Store, SubnetRanges};

const OWNER_GW: &str = "network:router_gateway";
const OWNER_IF: &str = "network:router_interface";
const OWNER_FIP: &str = "network:floatingip";

impl App {
    /// Creates an internal (service) port with the given fixed-IP requests.
    async fn service_port(
        &self,
        project: &str,
        network: &Row,
        owner: &str,
        device: &str,
        ips: Option<Vec<IpRequest>>,
    ) -> Result<Row> {
        let subnets = self
            .store
            .list(Kind::Subnet, None, Some(&network.id))
            .await?;
        let ranges: Vec<SubnetRanges> = subnets.iter().map(ranges_of).collect::<Result<_>>()?;
        let requests = match ips {
            Some(r) => r,
            None => {
                let first = subnets
                    .iter()
                    .find(|s| subnet_cidr(s).is_ok_and(|c| c.version == 4))
                    .or(subnets.first());
                match first {
                    Some(s) => vec![IpRequest {
                        subnet_id: s.id.clone(),
                        address: None,
                        eui64: false,
                    }],
                    None => vec![],
                }
            }
        };
        let body = json!({
            "name": "", "description": "", "network_id": network.id, "admin_state_up": true,
            "device_id": device, "device_owner": owner, "security_groups": [],
            "allowed_address_pairs": [], "port_security_enabled": false,
            "binding:host_id": "", "binding:profile": {}, "binding:vnic_type": "normal",
            "binding:vif_type": "unbound", "binding:vif_details": {}, "extra_dhcp_opts": [],
            "dns_name": "", "dns_assignment": [], "status": "ACTIVE", "tags": [],
            "propagate_uplink_status": false, "resource_request": Value::Null,
            "ip_allocation": "immediate",
        });
        let w = PortWrite {
            row: Store::new_row(new_id(), project.into(), Some(network.id.clone()), body),
            mac: MacChoice::Generate,
            ips: requests,
            subnets: ranges,
        };
        Ok(self.store.port_create(&w).await?)
    }

    async fn external_network(&self, c: &Caller, v: &Value) -> Result<Row> {
        let net = self.network_for_use(c, v).await?;
        if net.body.get("router:external") != Some(&json!(true)) {
            return Err(bad(format!(
                "Bad router request: Network {} is not an external network.",
                net.id
            ))
            .with_type("BadRequest"));
        }
        Ok(net)
    }

    /// Sets (replacing) the router's gateway from `info`; returns the rendered info.
    async fn gateway_set(&self, c: &Caller, router: &Row, info: &Value) -> Result<Value> {
        let m = info
            .as_object()
            .ok_or_else(|| bad("Invalid input for external_gateway_info."))?;
        only_keys(
            m,
            &[
                "network_id",
                "enable_snat",
                "external_fixed_ips",
                "qos_policy_id",
            ],
        )?;
        let net_v = m.get("network_id").ok_or_else(|| {
            bad("Invalid input for external_gateway_info. Reason: network_id is required.")
        })?;
        let net = self.external_network(c, net_v).await?;
        if m.contains_key("external_fixed_ips") || m.contains_key("enable_snat") {
            self.authorize(
                c,
                "update_router:external_gateway_info:privileged",
                &target_of(router),
            )?;
        }
        let snat = boolean(m, "enable_snat", true)?;
        let subnets = self.store.list(Kind::Subnet, None, Some(&net.id)).await?;
        let ips = match m.get("external_fixed_ips") {
            Some(v) if !v.is_null() => Some(self.fixed_ip_requests(v, &net.id, &subnets)?),
            _ => None,
        };
        // The same gateway network and addresses: only SNAT changes.
        let current = self.gateway_port(&router.id).await?;
        if let Some(p) = &current {
            if p.parent_id.as_deref() == Some(net.id.as_str()) && ips.is_none() {
                return Ok(render_gateway(&net.id, snat, p));
            }
            self.store.port_delete(&p.id).await?;
        }
        let port = self
            .service_port("", &net, OWNER_GW, &router.id, ips)
            .await?;
        Ok(render_gateway(&net.id, snat, &port))
    }

    async fn gateway_port(&self, router: &str) -> Result<Option<Row>> {
        Ok(self
            .router_ports(router)
            .await?
            .into_iter()
            .find(|p| str_of(&p.body, "device_owner") == OWNER_GW))
    }

    async fn router_ports(&self, router: &str) -> Result<Vec<Row>> {
        Ok(self
            .store
            .list(Kind::Port, None, None)
            .await?
            .into_iter()
            .filter(|p| str_of(&p.body, "device_id") == router)
            .filter(|p| {
                let o = str_of(&p.body, "device_owner");
                o == OWNER_GW || o == OWNER_IF
            })
            .collect())
    }

    fn router_sync(&self, router: &Row, ports: &[Row]) -> Result<()> {
        let ips = |owner: &str| -> Vec<String> {
            ports
                .iter()
                .filter(|p| str_of(&p.body, "device_owner") == owner)
                .flat_map(|p| {
                    p.body["fixed_ips"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                        .into_iter()
                        .map(|f| str_of(&f, "subnet_id"))
                })
                .collect()
        };
        self.driver.router_sync(&RouterSpec {
            id: router.id.clone(),
            gateway_ips: ips(OWNER_GW),
            interface_subnets: ips(OWNER_IF),
        })
    }

    pub async fn router_create(&self, c: &Caller, m: &Map<String, Value>) -> Result<Value> {
        only_keys(
            m,
            &[
                "name",
                "description",
                "admin_state_up",
                "external_gateway_info",
                "project_id",
                "tenant_id",
                "distributed",
                "ha",
                "availability_zone_hints",
                "tags",
                "flavor_id",
            ],
        )?;
        let project = owner(c, m)?;
        let target = json!({"project_id": project, "tenant_id": project});
        self.authorize(c, "create_router", &target)?;
        if m.get("external_gateway_info")
            .and_then(Value::as_object)
            .is_some_and(|g| g.contains_key("enable_snat") || g.contains_key("external_fixed_ips"))
        {
            self.authorize(c, "create_router:external_gateway_info:privileged", &target)?;
        }
        for k in ["distributed", "ha"] {
            if boolean(m, k, false)? && !c.is_admin {
                return Err(Error::forbidden(format!(
                    "Policy doesn't allow create_router:{k} to be performed."
                )));
            }
        }
        self.check_quota(&project, "router", Kind::Router).await?;
        let body = json!({
            "name": string(m, "name", 255)?.unwrap_or_default(),
            "description": string(m, "description", 255)?.unwrap_or_default(),
            "admin_state_up": boolean(m, "admin_state_up", true)?,
            "status": "ACTIVE",
            "external_gateway_info": Value::Null,
            "routes": [],
            "distributed": boolean(m, "distributed", false)?,
            "ha": boolean(m, "ha", false)?,
            "availability_zone_hints": m.get("availability_zone_hints").cloned().unwrap_or(json!([])),
            "availability_zones": ["nova"],
            "flavor_id": Value::Null,
            "tags": m.get("tags").cloned().unwrap_or(json!([])),
        });
        let mut row = Store::new_row(new_id(), project, None, body);
        self.store.insert(Kind::Router, &row).await?;
        if let Some(g) = m
            .get("external_gateway_info")
            .filter(|g| !g.is_null() && !g.as_object().is_some_and(|o| o.is_empty()))
        {
            match self.gateway_set(c, &row, g).await {
                Ok(info) => {
                    let mut body = row.body.clone();
                    body["external_gateway_info"] = info;
                    row = self
                        .store
                        .update(Kind::Router, &row.id, &body, None)
                        .await?;
                }
                Err(e) => {
                    self.store.delete(Kind::Router, &row.id).await?;
                    return Err(e);
                }
            }
        }
        self.router_sync(&row, &self.router_ports(&row.id).await?)?;
        Ok(view(&row))
    }

    pub async fn router_get(&self, c: &Caller, id: &str) -> Result<Value> {
        Ok(view(&self.visible(c, Kind::Router, id).await?))
    }

    pub async fn router_list(&self, c: &Caller) -> Result<Vec<Value>> {
        Ok(self
            .store
            .list(Kind::Router, None, None)
            .await?
            .iter()
            .filter(|r| self.allowed(c, "get_router", &target_of(r)))
            .map(view)
            .collect())
    }

    pub async fn router_update(
        &self,
        c: &Caller,
        id: &str,
        m: &Map<String, Value>,
        expect: Option<i64>,
    ) -> Result<Value> {
        let row = self.visible(c, Kind::Router, id).await?;
        only_keys(
            m,
            &[
                "name",
                "description",
                "admin_state_up",
                "external_gateway_info",
                "routes",
                "distributed",
                "ha",
            ],
        )?;
        self.authorize(c, "update_router", &target_of(&row))?;
        string(m, "name", 255)?;
        let mut body = row.body.clone();
        merge(&mut body, m, &["name", "description"]);
        if m.contains_key("admin_state_up") {
            body["admin_state_up"] = json!(boolean(m, "admin_state_up", true)?);
        }
        for k in ["distributed", "ha"] {
            if !m.contains_key(k) {
                continue;
            }
            if !c.is_admin {
                return Err(Error::forbidden(format!(
                    "Policy doesn't allow update_router:{k} to be performed."
                )));
            }
            let v = boolean(m, k, false)?;
            if body.get(k) != Some(&json!(v)) && body.get("admin_state_up") != Some(&json!(false)) {
                return Err(bad(format!(
                    "Bad router request: Cannot change the {k} attribute of an active router. Please set router admin_state_up to False prior to upgrade."
                ))
                .with_type("BadRequest"));
            }
            body[k] = json!(v);
        }
        if let Some(routes) = m.get("routes") {
            body["routes"] = json!(self.validate_routes(id, routes).await?);
        }
        if let Some(g) = m.get("external_gateway_info") {
            let clear = g.is_null() || g.as_object().is_some_and(|o| o.is_empty());
            if clear {
                if let Some(p) = self.gateway_port(id).await? {
                    self.router_gateway_in_use(id)?;
                    self.store.port_delete(&p.id).await?;
                }
                body["external_gateway_info"] = Value::Null;
            } else {
                body["external_gateway_info"] = self.gateway_set(c, &row, g).await?;
            }
        }
        let row = self.store.update(Kind::Router, id, &body, expect).await?;
        self.router_sync(&row, &self.router_ports(id).await?)?;
        Ok(view(&row))
    }

    fn router_gateway_in_use(&self, _router: &str) -> Result<()> {
        Ok(())
    }

    async fn validate_routes(&self, router: &str, v: &Value) -> Result<Vec<Value>> {
        let arr = match v {
            Value::Null => return Ok(vec![]),
            Value::Array(a) => a,
            _ => return Err(bad("Invalid input for routes.")),
        };
        let mut cidrs = Vec::new();
        for p in self.router_ports(router).await? {
            for f in p.body["fixed_ips"].as_array().cloned().unwrap_or_default() {
                if let Some(s) = self
                    .store
                    .get(Kind::Subnet, &str_of(&f, "subnet_id"))
                    .await?
                {
                    cidrs.push(subnet_cidr(&s)?);
                }
            }
        }
        let mut out: Vec<Value> = Vec::new();
        for r in arr {
            let dest = str_of(r, "destination");
            let hop = str_of(r, "nexthop");
            let d = Cidr::parse(&dest, false).filter(|_| dest.contains('/'));
            let h = ip::parse_ip(&hop);
            let (Some(_), Some((_, hv))) = (d, h) else {
                return Err(bad(format!(
                    "Invalid input for routes. Reason: Invalid data format for hostroute '{r}'."
                )));
            };
            if !cidrs.iter().any(|c| c.contains(hv)) {
                return Err(bad(format!(
                    "Invalid format for routes: {r}, the nexthop is not connected with router"
                ))
                .with_type("InvalidRoutes"));
            }
            let route = json!({"destination": dest, "nexthop": hop});
            if !out.contains(&route) {
                out.push(route);
            }
        }
        Ok(out)
    }

    pub async fn router_delete(&self, c: &Caller, id: &str) -> Result<()> {
        let row = self.visible(c, Kind::Router, id).await?;
        self.authorize(c, "delete_router", &target_of(&row))?;
        let ports = self.router_ports(id).await?;
        if ports
            .iter()
            .any(|p| str_of(&p.body, "device_owner") == OWNER_IF)
        {
            return Err(
                Error::conflict(format!("Router {id} still has ports")).with_type("RouterInUse")
            );
        }
        for fip in self.store.list(Kind::FloatingIp, None, None).await? {
            if str_of(&fip.body, "router_id") == id {
                self.floatingip_disassociate(&fip).await?;
            }
        }
        for p in ports {
            self.store.port_delete(&p.id).await?;
        }
        self.driver.router_delete(id)?;
        if !self.store.delete(Kind::Router, id).await? {
            return Err(not_found(Kind::Router, id));
        }
        Ok(())
    }

    pub async fn router_add_interface(
        &self,
        c: &Caller,
        id: &str,
        m: &Map<String, Value>,
    ) -> Result<Value> {
        let router = self.visible(c, Kind::Router, id).await?;
        self.authorize(c, "add_router_interface", &target_of(&router))?;
        let existing = self.router_ports(id).await?;
        let existing_subnets: Vec<String> = existing
            .iter()
            .filter(|p| str_of(&p.body, "device_owner") == OWNER_IF)
            .flat_map(|p| p.body["fixed_ips"].as_array().cloned().unwrap_or_default())
            .map(|f| str_of(&f, "subnet_id"))
            .collect();
        let port = match (m.get("subnet_id"), m.get("port_id")) {
            (Some(_), Some(_)) => {
                return Err(
                    bad("Bad router request: Cannot specify both subnet-id and port-id")
                        .with_type("BadRequest"),
                );
            }
            (None, None) => {
                return Err(bad(
                    "Bad router request: Either subnet_id or port_id must be specified",
                )
                .with_type("BadRequest"));
            }
            (Some(s), None) => {
                let sid = uuid_of(s, "subnet_id")?;
                let subnet = self.visible(c, Kind::Subnet, &sid).await?;
                let gw = subnet
                    .body
                    .get("gateway_ip")
                    .and_then(Value::as_str)
                    .and_then(ip::parse_ip);
                let Some((_, gw)) = gw else {
                    return Err(bad(format!(
                        "Bad router request: Subnet {sid} does not have a gateway IP."
                    ))
                    .with_type("BadRequest"));
                };
                self.check_interface_subnet(&subnet, &existing_subnets)
                    .await?;
                let net_id = subnet.parent_id.clone().unwrap_or_default();
                let net = self
                    .store
                    .get(Kind::Network, &net_id)
                    .await?
                    .ok_or_else(|| not_found(Kind::Network, &net_id))?;
                self.service_port(
                    &router.project_id,
                    &net,
                    OWNER_IF,
                    id,
                    Some(vec![IpRequest {
                        subnet_id: sid,
                        address: Some(gw),
                        eui64: false,
                    }]),
                )
                .await?
            }
            (None, Some(p)) => {
                let pid = uuid_of(p, "port_id")?;
                let port = self.visible(c, Kind::Port, &pid).await?;
                if !str_of(&port.body, "device_id").is_empty() {
                    return Err(Error::conflict(format!(
                        "Unable to complete operation on port {pid} for network {}. Port already has an attached device {}.",
                        str_of(&port.body, "network_id"),
                        str_of(&port.body, "device_id")
                    ))
                    .with_type("PortInUse"));
                }
                let fixed = port.body["fixed_ips"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                if fixed.is_empty() {
                    return Err(bad(
                        "Bad router request: Router port must have at least one fixed IP.",
                    )
                    .with_type("BadRequest"));
                }
                for f in &fixed {
                    if let Some(s) = self
                        .store
                        .get(Kind::Subnet, &str_of(f, "subnet_id"))
                        .await?
                    {
                        self.check_interface_subnet(&s, &existing_subnets).await?;
                    }
                }
                let mut body = port.body.clone();
                body["device_id"] = json!(id);
                body["device_owner"] = json!(OWNER_IF);
                body["status"] = json!("ACTIVE");
                self.store.update(Kind::Port, &pid, &body, None).await?
            }
        };
        self.router_sync(&router, &self.router_ports(id).await?)?;
        let subnet_ids: Vec<String> = port.body["fixed_ips"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|f| str_of(f, "subnet_id"))
            .collect();
        Ok(json!({
            "id": id,
            "tenant_id": router.project_id,
            "project_id": router.project_id,
            "port_id": port.id,
            "network_id": port.parent_id,
            "subnet_id": subnet_ids.first(),
            "subnet_ids": subnet_ids,
        }))
    }

    async fn check_interface_subnet(&self, subnet: &Row, existing: &[String]) -> Result<()> {
        if existing.contains(&subnet.id) {
            return Err(bad(format!(
                "Bad router request: Router already has a port on subnet {}.",
                subnet.id
            ))
            .with_type("BadRequest"));
        }
        let cidr = subnet_cidr(subnet)?;
        for e in existing {
            if let Some(s) = self.store.get(Kind::Subnet, e).await?
                && subnet_cidr(&s)?.overlaps(&cidr)
            {
                return Err(bad(format!(
                    "Bad router request: Cidr {} of subnet {} overlaps with cidr {} of subnet {}.",
                    cidr.to_string_canonical(),
                    subnet.id,
                    str_of(&s.body, "cidr"),
                    s.id
                ))
                .with_type("BadRequest"));
            }
        }
        Ok(())
    }

    pub async fn router_remove_interface(
        &self,
        c: &Caller,
        id: &str,
        m: &Map<String, Value>,
    ) -> Result<Value> {
        let router = self.visible(c, Kind::Router, id).await?;
        self.authorize(c, "remove_router_interface", &target_of(&router))?;
        let ports: Vec<Row> = self
            .router_ports(id)
            .await?
            .into_iter()
            .filter(|p| str_of(&p.body, "device_owner") == OWNER_IF)
            .collect();
        let on_subnet = |p: &Row, s: &str| {
            p.body["fixed_ips"]
                .as_array()
                .is_some_and(|a| a.iter().any(|f| str_of(f, "subnet_id") == s))
        };
        let port = if let Some(p) = m.get("port_id") {
            let pid = uuid_of(p, "port_id")?;
            let port = ports.into_iter().find(|x| x.id == pid).ok_or_else(|| {
                Error::not_found(format!(
                    "Router {id} does not have an interface with id {pid}"
                ))
                .with_type("RouterInterfaceNotFound")
            })?;
            if let Some(s) = m.get("subnet_id").and_then(Value::as_str)
                && !on_subnet(&port, s)
            {
                return Err(Error::conflict(format!("Subnet {s} is not on port {pid}"))
                    .with_type("SubnetMismatchForPort"));
            }
            port
        } else if let Some(s) = m.get("subnet_id") {
            let sid = uuid_of(s, "subnet_id")?;
            self.visible(c, Kind::Subnet, &sid).await?;
            ports
                .into_iter()
                .find(|p| on_subnet(p, &sid))
                .ok_or_else(|| {
                    Error::not_found(format!("Router {id} has no interface on subnet {sid}"))
                        .with_type("RouterInterfaceNotFoundForSubnet")
                })?
        } else {
            return Err(
                bad("Bad router request: Either subnet_id or port_id must be specified")
                    .with_type("BadRequest"),
            );
        };
        let subnet_ids: Vec<String> = port.body["fixed_ips"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|f| str_of(f, "subnet_id"))
            .collect();
        // Floating IPs reaching the subnet through this router lose their path.
        for fip in self.store.list(Kind::FloatingIp, None, None).await? {
            if str_of(&fip.body, "router_id") == id {
                let fixed_on = self
                    .store
                    .get(Kind::Port, &str_of(&fip.body, "port_id"))
                    .await?;
                if fixed_on.is_some_and(|p| subnet_ids.iter().any(|s| on_subnet(&p, s))) {
                    return Err(Error::conflict(format!(
                        "Router interface for subnet {} on router {id} cannot be deleted, as it is required by one or more floating IPs.",
                        subnet_ids.first().cloned().unwrap_or_default()
                    ))
                    .with_type("RouterInterfaceInUseByFloatingIP"));
                }
            }
        }
        self.store.port_delete(&port.id).await?;
        self.router_sync(&router, &self.router_ports(id).await?)?;
        Ok(json!({
            "id": id,
            "tenant_id": router.project_id,
            "project_id": router.project_id,
            "port_id": port.id,
            "network_id": port.parent_id,
            "subnet_id": subnet_ids.first(),
            "subnet_ids": subnet_ids,
        }))
    }

    // ---- floating IPs ----

    pub async fn floatingip_create(&self, c: &Caller, m: &Map<String, Value>) -> Result<Value> {
        only_keys(
            m,
            &[
                "floating_network_id",
                "port_id",
                "fixed_ip_address",
                "floating_ip_address",
                "subnet_id",
                "description",
                "project_id",
                "tenant_id",
                "tags",
                "dns_name",
                "dns_domain",
            ],
        )?;
        let project = owner(c, m)?;
        let target = json!({"project_id": project, "tenant_id": project});
        self.authorize(c, "create_floatingip", &target)?;
        let net_v = m.get("floating_network_id").ok_or_else(|| {
            bad("Failed to parse request. Required attribute 'floating_network_id' not specified")
        })?;
        let net = self.network_for_use(c, net_v).await?;
        if net.body.get("router:external") != Some(&json!(true)) {
            return Err(bad(format!(
                "Bad floatingip request: Network {} is not a valid external network.",
                net.id
            ))
            .with_type("BadRequest"));
        }
        let subnets = self.store.list(Kind::Subnet, None, Some(&net.id)).await?;
        let mut req = Map::new();
        if let Some(a) = m.get("floating_ip_address").filter(|a| !a.is_null()) {
            self.authorize(c, "create_floatingip:floating_ip_address", &target)?;
            req.insert("ip_address".into(), a.clone());
        }
        if let Some(s) = m.get("subnet_id").filter(|s| !s.is_null()) {
            req.insert("subnet_id".into(), s.clone());
        }
        let ips = if req.is_empty() {
            let first = subnets
                .iter()
                .find(|s| subnet_cidr(s).is_ok_and(|c| c.version == 4))
                .ok_or_else(|| {
                    bad(format!(
                        "Bad floatingip request: Network {} does not contain any IPv4 subnet.",
                        net.id
                    ))
                    .with_type("BadRequest")
                })?;
            vec![IpRequest {
                subnet_id: first.id.clone(),
                address: None,
                eui64: false,
            }]
        } else {
            self.fixed_ip_requests(&json!([req]), &net.id, &subnets)?
        };
        self.check_quota(&project, "floatingip", Kind::FloatingIp)
            .await?;
        let id = new_id();
        let assoc = match m.get("port_id").filter(|p| !p.is_null()) {
            Some(p) => Some(
                self.fip_association(c, &id, &net.id, p, m.get("fixed_ip_address"))
                    .await?,
            ),
            None => None,
        };
        let port = self
            .service_port("", &net, OWNER_FIP, &id, Some(ips))
            .await?;
        let address = port.body["fixed_ips"][0]["ip_address"].clone();
        let (port_id, fixed, router) = assoc.unwrap_or_default();
        let body = json!({
            "floating_network_id": net.id,
            "floating_ip_address": address,
            "port_id": opt(&port_id),
            "fixed_ip_address": opt(&fixed),
            "router_id": opt(&router),
            "status": if port_id.is_empty() { "DOWN" } else { "ACTIVE" },
            "description": string(m, "description", 255)?.unwrap_or_default(),
            "tags": m.get("tags").cloned().unwrap_or(json!([])),
            "port_details": Value::Null,
            "port_forwardings": [],
        });
        let row = Store::new_row(id, project, Some(net.id.clone()), body);
        if let Err(e) = self.store.insert(Kind::FloatingIp, &row).await {
            self.store.port_delete(&port.id).await?;
            return Err(e.into());
        }
        self.fip_sync(&row)?;
        self.notify_port_changed(&port_id).await;
        Ok(view(&row))
    }

    fn fip_sync(&self, row: &Row) -> Result<()> {
        let fixed = str_of(&row.body, "fixed_ip_address");
        let router = str_of(&row.body, "router_id");
        self.driver.floatingip_sync(&FloatingIpSpec {
            id: row.id.clone(),
            floating_ip: str_of(&row.body, "floating_ip_address"),
            fixed_ip: (!fixed.is_empty()).then_some(fixed),
            router_id: (!router.is_empty()).then_some(router),
        })
    }

    /// Resolves a port association: `(port_id, fixed_ip, router_id)`.
    async fn fip_association(
        &self,
        c: &Caller,
        fip_id: &str,
        fip_network: &str,
        port: &Value,
        fixed: Option<&Value>,
    ) -> Result<(String, String, String)> {
        let pid = uuid_of(port, "port_id")?;
        let port = self.visible(c, Kind::Port, &pid).await?;
        let fixed_ips = port.body["fixed_ips"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let v4: Vec<&Value> = fixed_ips
            .iter()
            .filter(|f| ip::parse_ip(&str_of(f, "ip_address")).is_some_and(|(v, _)| v == 4))
            .collect();
        let chosen = match fixed.and_then(Value::as_str) {
            Some(want) => {
                if ip::parse_ip(want).is_none() {
                    return Err(bad(format!(
                        "Invalid input for fixed_ip_address. Reason: '{want}' is not a valid IP address."
                    )));
                }
                fixed_ips
                    .iter()
                    .find(|f| str_of(f, "ip_address") == want)
                    .ok_or_else(|| {
                        bad(format!(
                            "Bad floatingip request: Port {pid} does not have fixed ip {want}."
                        ))
                        .with_type("BadRequest")
                    })?
            }
            None => match v4.first() {
                Some(f) => *f,
                None => {
                    return Err(bad(format!(
                        "Bad floatingip request: Port {pid} does not have any IPv4 address."
                    ))
                    .with_type("BadRequest"));
                }
            },
        };
        let fixed_ip = str_of(chosen, "ip_address");
        let subnet = str_of(chosen, "subnet_id");
        for other in self.store.list(Kind::FloatingIp, None, None).await? {
            if other.id != fip_id
                && str_of(&other.body, "port_id") == pid
                && str_of(&other.body, "fixed_ip_address") == fixed_ip
            {
                return Err(Error::conflict(format!(
                    "Cannot associate floating IP {} ({}) with port {pid} using fixed IP {fixed_ip}, as that fixed IP already has a floating IP on external network {fip_network}.",
                    str_of(&other.body, "floating_ip_address"),
                    other.id
                ))
                .with_type("FloatingIPPortAlreadyAssociated"));
            }
        }
        // A router with a gateway on the floating network and an interface on the subnet.
        let ports = self.store.list(Kind::Port, None, None).await?;
        let routers_with_gw: Vec<String> = ports
            .iter()
            .filter(|p| {
                str_of(&p.body, "device_owner") == OWNER_GW
                    && p.parent_id.as_deref() == Some(fip_network)
            })
            .map(|p| str_of(&p.body, "device_id"))
            .collect();
        let router = ports
            .iter()
            .filter(|p| str_of(&p.body, "device_owner") == OWNER_IF)
            .filter(|p| routers_with_gw.contains(&str_of(&p.body, "device_id")))
            .find(|p| {
                p.body["fixed_ips"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|f| str_of(f, "subnet_id") == subnet))
            })
            .map(|p| str_of(&p.body, "device_id"))
            .ok_or_else(|| {
                Error::not_found(format!(
                    "External network {fip_network} is not reachable from subnet {subnet}.  Therefore, cannot associate Port {pid} with a Floating IP."
                ))
                .with_type("ExternalGatewayForFloatingIPNotFound")
            })?;
        Ok((pid, fixed_ip, router))
    }

    pub async fn floatingip_get(&self, c: &Caller, id: &str) -> Result<Value> {
        Ok(view(&self.visible(c, Kind::FloatingIp, id).await?))
    }

    pub async fn floatingip_list(&self, c: &Caller) -> Result<Vec<Value>> {
        Ok(self
            .store
            .list(Kind::FloatingIp, None, None)
            .await?
            .iter()
            .filter(|r| self.allowed(c, "get_floatingip", &target_of(r)))
            .map(view)
            .collect())
    }

    pub async fn floatingip_update(
        &self,
        c: &Caller,
        id: &str,
        m: &Map<String, Value>,
        expect: Option<i64>,
    ) -> Result<Value> {
        let row = self.visible(c, Kind::FloatingIp, id).await?;
        only_keys(m, &["port_id", "fixed_ip_address", "description"])?;
        self.authorize(c, "update_floatingip", &target_of(&row))?;
        let mut body = row.body.clone();
        merge(&mut body, m, &["description"]);
        if m.contains_key("port_id") || m.contains_key("fixed_ip_address") {
            let port = m
                .get("port_id")
                .cloned()
                .unwrap_or_else(|| body["port_id"].clone());
            if port.is_null() {
                body["port_id"] = Value::Null;
                body["fixed_ip_address"] = Value::Null;
                body["router_id"] = Value::Null;
                body["status"] = json!("DOWN");
            } else {
                let net = row.parent_id.clone().unwrap_or_default();
                let (p, f, r) = self
                    .fip_association(c, id, &net, &port, m.get("fixed_ip_address"))
                    .await?;
                body["port_id"] = json!(p);
                body["fixed_ip_address"] = json!(f);
                body["router_id"] = json!(r);
                body["status"] = json!("ACTIVE");
            }
        }
        let before = row;
        let row = self
            .store
            .update(Kind::FloatingIp, id, &body, expect)
            .await?;
        self.fip_sync(&row)?;
        // The server that lost the address and the one that gained it re-read their ports.
        let assoc = |r: &Row| {
            (
                str_of(&r.body, "port_id"),
                str_of(&r.body, "fixed_ip_address"),
            )
        };
        let (old, new) = (assoc(&before), assoc(&row));
        if old != new {
            if old.0 != new.0 {
                self.notify_port_changed(&old.0).await;
            }
            self.notify_port_changed(&new.0).await;
        }
        Ok(view(&row))
    }

    pub async fn floatingip_delete(&self, c: &Caller, id: &str) -> Result<()> {
        let row = self.visible(c, Kind::FloatingIp, id).await?;
        self.authorize(c, "delete_floatingip", &target_of(&row))?;
        for p in self
            .store
            .list(Kind::Port, None, row.parent_id.as_deref())
            .await?
        {
            if str_of(&p.body, "device_id") == id && str_of(&p.body, "device_owner") == OWNER_FIP {
                self.store.port_delete(&p.id).await?;
            }
        }
        self.store.delete(Kind::FloatingIp, id).await?;
        self.driver.floatingip_sync(&FloatingIpSpec {
            id: id.into(),
            floating_ip: str_of(&row.body, "floating_ip_address"),
            fixed_ip: None,
            router_id: None,
        })?;
        self.notify_port_changed(&str_of(&row.body, "port_id"))
            .await;
        Ok(())
    }

    async fn floatingip_disassociate(&self, fip: &Row) -> Result<()> {
        let mut body = fip.body.clone();
        body["port_id"] = Value::Null;
        body["fixed_ip_address"] = Value::Null;
        body["router_id"] = Value::Null;
        body["status"] = json!("DOWN");
        let row = self
            .store
            .update(Kind::FloatingIp, &fip.id, &body, None)
            .await?;
        self.fip_sync(&row)
    }

    /// Disassociates floating IPs from a port that is going away.
    pub(crate) async fn floatingips_release_port(&self, port: &str) -> Result<()> {
        for fip in self.store.list(Kind::FloatingIp, None, None).await? {
            if str_of(&fip.body, "port_id") == port {
                self.floatingip_disassociate(&fip).await?;
            }
        }
        Ok(())
    }

    /// Disassociates floating IPs whose fixed address the port no longer has.
    pub(crate) async fn floatingips_follow_port(&self, port: &Row) -> Result<()> {
        let addrs: Vec<String> = port.body["fixed_ips"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|f| str_of(f, "ip_address"))
            .collect();
        for fip in self.store.list(Kind::FloatingIp, None, None).await? {
            if str_of(&fip.body, "port_id") == port.id
                && !addrs.contains(&str_of(&fip.body, "fixed_ip_address"))
            {
                self.floatingip_disassociate(&fip).await?;
            }
        }
        Ok(())
    }
}

fn opt(s: &str) -> Value {
    if s.is_empty() { Value::Null } else { json!(s) }
}

fn render_gateway(network: &str, snat: bool, port: &Row) -> Value {
    json!({
        "network_id": network,
        "enable_snat": snat,
        "external_fixed_ips": port.body["fixed_ips"].clone(),
    })
}
