//! Nova's networking proxies, removed at 2.36: `os-security-groups`,
//! `os-security-group-rules` and `os-floating-ips` (with the `addFloatingIp` /
//! `removeFloatingIp` server actions) and the read-only `os-networks` /
//! `os-tenant-networks`. Each is a translation to and from Neutron, called with the user's
//! token so Neutron decides what they may see and do.

use hyper::Method;
use oxstack_common::context::RequestContext;
use oxstack_common::{Error, Result};
use serde_json::{Map, Value, json};

use super::{App, Caller, is_uuid_like};
use crate::clients::{NetworkClient, path_safe, query_value};

/// Neutron's refusal as Nova passes it on: the same status, Neutron's message.
fn neutron_error(status: u16, body: &Value) -> Error {
    let msg = body["NeutronError"]["message"]
        .as_str()
        .unwrap_or("The networking service refused the request.")
        .to_string();
    match status {
        400 => Error::bad_request(msg),
        403 => Error::forbidden(msg),
        404 => Error::not_found(msg),
        409 => Error::conflict(msg),
        _ => Error::internal(
            "networking service",
            format!("Neutron answered {status}: {msg}"),
        ),
    }
}

fn text(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap_or_default().to_string()
}

/// A Nova rule from a Neutron one: ingress only; a missing port range is `-1` for ICMP
/// and any protocol, all ports for TCP and UDP.
pub fn nova_rule(r: &Value, group_of: &dyn Fn(&str) -> Option<(String, String)>) -> Value {
    let protocol = r["protocol"].as_str();
    let all_ports = matches!(protocol, Some("tcp" | "udp" | "6" | "17"));
    let port = |k: &str, whole: i64| match r[k].as_i64() {
        Some(p) => p,
        None if all_ports => whole,
        None => -1,
    };
    let mut out = json!({
        "id": r["id"],
        "parent_group_id": r["security_group_id"],
        "ip_protocol": protocol,
        "from_port": port("port_range_min", 1),
        "to_port": port("port_range_max", 65535),
        "ip_range": {},
        "group": {},
    });
    if let Some(remote) = r["remote_group_id"].as_str() {
        if let Some((name, tenant)) = group_of(remote) {
            out["group"] = json!({"name": name, "tenant_id": tenant});
        }
    } else {
        let cidr =
            r["remote_ip_prefix"]
                .as_str()
                .unwrap_or(if r["ethertype"].as_str() == Some("IPv6") {
                    "::/0"
                } else {
                    "0.0.0.0/0"
                });
        out["ip_range"] = json!({ "cidr": cidr });
    }
    out
}

/// A Nova security group from a Neutron one.
pub fn nova_group(g: &Value, group_of: &dyn Fn(&str) -> Option<(String, String)>) -> Value {
    let rules: Vec<Value> = g["security_group_rules"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .filter(|r| r["direction"] == "ingress")
                .map(|r| nova_rule(r, group_of))
                .collect()
        })
        .unwrap_or_default();
    json!({
        "id": g["id"],
        "name": g["name"],
        "description": g["description"].as_str().unwrap_or_default(),
        "tenant_id": g["project_id"].as_str().or(g["tenant_id"].as_str()),
        "rules": rules,
    })
}

/// Nova's checks of a group's name or description: a string, not blank (the name), at
/// most 255 characters.
fn group_text(body: &Map<String, Value>, key: &str, blank_ok: bool) -> Result<String> {
    let v = body.get(key).and_then(Value::as_str).ok_or_else(|| {
        Error::bad_request(format!("Security group {key} is not a string or unicode"))
    })?;
    if !blank_ok && v.trim().is_empty() {
        return Err(Error::bad_request(format!(
            "Security group {key} cannot be empty."
        )));
    }
    if v.chars().count() > 255 {
        return Err(Error::bad_request(format!(
            "Security group {key} should not be greater than 255 characters."
        )));
    }
    Ok(v.to_string())
}

/// A Neutron rule from Nova's `security_group_rule` body (after the parent is known).
pub fn neutron_rule(parent: &str, b: &Map<String, Value>) -> Result<Value> {
    let bad = |m: &str| Error::bad_request(m.to_string());
    let protocol = match b.get("ip_protocol") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) => {
            let p = p.to_lowercase();
            if !matches!(p.as_str(), "tcp" | "udp" | "icmp") {
                return Err(bad(&format!(
                    "Invalid IP protocol {p}. The protocol must be tcp, udp or icmp."
                )));
            }
            Some(p)
        }
        Some(other) => return Err(bad(&format!("Invalid IP protocol {other}."))),
    };
    let port = |k: &str| -> Result<Option<i64>> {
        match b.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| bad(&format!("Invalid port {n}"))),
            Some(Value::String(s)) => s
                .trim()
                .parse::<i64>()
                .map(Some)
                .map_err(|_| bad(&format!("Invalid port '{s}': it is not an integer"))),
            Some(other) => Err(bad(&format!("Invalid port {other}"))),
        }
    };
    let (from, to) = (port("from_port")?, port("to_port")?);
    let (min, max) = match protocol.as_deref() {
        Some("icmp") => {
            for p in [from, to].into_iter().flatten() {
                if !(-1..=255).contains(&p) {
                    return Err(bad(&format!(
                        "Invalid ICMP type or code {p}: it must be -1 to 255."
                    )));
                }
            }
            let some = |p: Option<i64>| p.filter(|&p| p >= 0);
            (some(from), some(to))
        }
        Some(_) => {
            let (Some(f), Some(t)) = (from, to) else {
                return Err(bad(
                    "Both from_port and to_port are required for TCP and UDP.",
                ));
            };
            for p in [f, t] {
                if !(1..=65535).contains(&p) {
                    return Err(bad(&format!(
                        "Invalid port range {f}:{t}. Valid TCP ports should be between 1-65535"
                    )));
                }
            }
            if f > t {
                return Err(bad(&format!(
                    "Invalid port range {f}:{t}. Former value cannot be greater than the later"
                )));
            }
            (Some(f), Some(t))
        }
        None => {
            if from.is_some_and(|p| p != -1) || to.is_some_and(|p| p != -1) {
                return Err(bad("Ports need a protocol (tcp, udp or icmp)."));
            }
            (None, None)
        }
    };
    let mut r = json!({
        "security_group_id": parent,
        "direction": "ingress",
        "ethertype": "IPv4",
        "protocol": protocol,
        "port_range_min": min,
        "port_range_max": max,
    });
    let group = b
        .get("group_id")
        .and_then(Value::as_str)
        .filter(|g| !g.is_empty());
    let cidr = b
        .get("cidr")
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty());
    match (group, cidr) {
        (Some(_), Some(_)) => return Err(bad("Either group_id or cidr, not both.")),
        (Some(g), None) => {
            if !is_uuid_like(g) {
                return Err(bad("Security group id should be uuid"));
            }
            r["remote_group_id"] = json!(g);
        }
        (None, c) => {
            let c = c.unwrap_or("0.0.0.0/0");
            let ipv6 = valid_cidr(c).ok_or_else(|| bad(&format!("Invalid cidr {c}.")))?;
            if ipv6 {
                r["ethertype"] = json!("IPv6");
            }
            r["remote_ip_prefix"] = json!(c);
        }
    }
    Ok(r)
}

/// Whether `cidr` is an address and a prefix length (`Some(is IPv6)`), else `None`.
fn valid_cidr(cidr: &str) -> Option<bool> {
    let (a, l) = cidr.split_once('/')?;
    let addr: std::net::IpAddr = a.parse().ok()?;
    let len: u8 = l.parse().ok()?;
    let max = if addr.is_ipv6() { 128 } else { 32 };
    (len <= max).then_some(addr.is_ipv6())
}

impl App {
    /// The networking service and the caller's token, or 404 without one.
    fn neutron_for<'a>(
        &'a self,
        ctx: &'a RequestContext,
        rule: &str,
    ) -> Result<(Caller<'a>, &'a dyn NetworkClient, &'a str)> {
        let c = self.caller(ctx)?;
        self.authorize_own(&c, rule)?;
        let net = self
            .network
            .as_deref()
            .ok_or_else(|| Error::not_found("The resource could not be found."))?;
        let token = ctx.token.as_deref().unwrap_or_default();
        Ok((c, net, token))
    }

    async fn call_neutron(
        net: &dyn NetworkClient,
        token: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value)> {
        Ok(net.neutron(token, method, path, body).await?)
    }

    /// Names and projects of security groups, by id, as the caller sees them.
    async fn group_names(
        net: &dyn NetworkClient,
        token: &str,
    ) -> Result<std::collections::HashMap<String, (String, String)>> {
        let (st, v) =
            Self::call_neutron(net, token, Method::GET, "/v2.0/security-groups", None).await?;
        if st != 200 {
            return Err(neutron_error(st, &v));
        }
        Ok(v["security_groups"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|g| (text(g, "id"), (text(g, "name"), text(g, "project_id"))))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// One Neutron resource (`collection` like `security-groups`, `key` like
    /// `security_group`) by id; `gone` is the error when there is no such one.
    async fn neutron_get(
        net: &dyn NetworkClient,
        token: &str,
        collection: &str,
        key: &str,
        id: &str,
        gone: Error,
    ) -> Result<Value> {
        if !path_safe(id) {
            return Err(gone);
        }
        let (st, v) = Self::call_neutron(
            net,
            token,
            Method::GET,
            &format!("/v2.0/{collection}/{id}"),
            None,
        )
        .await?;
        match st {
            200 => Ok(v[key].clone()),
            404 => Err(gone),
            s => Err(neutron_error(s, &v)),
        }
    }

    async fn group_get(net: &dyn NetworkClient, token: &str, id: &str) -> Result<Value> {
        let gone = Error::not_found(format!("Security group {id} not found."));
        Self::neutron_get(net, token, "security-groups", "security_group", id, gone).await
    }

    async fn render_groups(
        net: &dyn NetworkClient,
        token: &str,
        groups: &[Value],
    ) -> Result<Vec<Value>> {
        let remote = groups.iter().any(|g| {
            g["security_group_rules"]
                .as_array()
                .is_some_and(|rs| rs.iter().any(|r| r["remote_group_id"].is_string()))
        });
        let names = if remote {
            Self::group_names(net, token).await?
        } else {
            Default::default()
        };
        let lookup = |id: &str| names.get(id).cloned();
        Ok(groups.iter().map(|g| nova_group(g, &lookup)).collect())
    }

    /// `GET /os-security-groups`: the caller's project's groups (every project's for an
    /// admin asking `all_tenants`), `offset`/`limit` applied.
    pub async fn proxy_security_groups(
        &self,
        ctx: &RequestContext,
        all_tenants: bool,
        offset: usize,
        limit: Option<usize>,
    ) -> Result<Vec<Value>> {
        let (c, net, token) = self.neutron_for(ctx, "os_compute_api:os-security-groups:get")?;
        let path = if all_tenants && c.is_admin {
            "/v2.0/security-groups".to_string()
        } else {
            format!(
                "/v2.0/security-groups?project_id={}",
                query_value(c.project_id())
            )
        };
        let (st, v) = Self::call_neutron(net, token, Method::GET, &path, None).await?;
        if st != 200 {
            return Err(neutron_error(st, &v));
        }
        let groups: Vec<Value> = v["security_groups"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .skip(offset)
            .take(limit.unwrap_or(usize::MAX))
            .collect();
        Self::render_groups(net, token, &groups).await
    }

    pub async fn proxy_security_group(&self, ctx: &RequestContext, id: &str) -> Result<Value> {
        let (_, net, token) = self.neutron_for(ctx, "os_compute_api:os-security-groups:show")?;
        let g = Self::group_get(net, token, id).await?;
        let mut out = Self::render_groups(net, token, &[g]).await?;
        Ok(out.pop().unwrap_or_default())
    }

    /// `POST /os-security-groups` or `PUT /os-security-groups/{id}` (`id`).
    pub async fn proxy_security_group_write(
        &self,
        ctx: &RequestContext,
        id: Option<&str>,
        body: &Map<String, Value>,
    ) -> Result<Value> {
        let rule = if id.is_some() {
            "os_compute_api:os-security-groups:update"
        } else {
            "os_compute_api:os-security-groups:create"
        };
        let (_, net, token) = self.neutron_for(ctx, rule)?;
        let name = group_text(body, "name", false)?;
        let description = group_text(body, "description", true)?;
        let sg = json!({"security_group": {"name": name, "description": description}});
        let (st, v) = match id {
            Some(id) => {
                Self::group_get(net, token, id).await?;
                Self::call_neutron(
                    net,
                    token,
                    Method::PUT,
                    &format!("/v2.0/security-groups/{id}"),
                    Some(&sg),
                )
                .await?
            }
            None => {
                Self::call_neutron(net, token, Method::POST, "/v2.0/security-groups", Some(&sg))
                    .await?
            }
        };
        match st {
            200 | 201 => {
                let mut out =
                    Self::render_groups(net, token, &[v["security_group"].clone()]).await?;
                Ok(out.pop().unwrap_or_default())
            }
            409 if id.is_none() => Err(Error::forbidden(
                "Quota exceeded, too many security groups.",
            )),
            s => Err(match neutron_error(s, &v) {
                e if e.status() == 409 => Error::bad_request(e.message.into_owned()),
                e => e,
            }),
        }
    }

    pub async fn proxy_security_group_delete(&self, ctx: &RequestContext, id: &str) -> Result<()> {
        let (_, net, token) = self.neutron_for(ctx, "os_compute_api:os-security-groups:delete")?;
        Self::group_get(net, token, id).await?;
        let (st, v) = Self::call_neutron(
            net,
            token,
            Method::DELETE,
            &format!("/v2.0/security-groups/{id}"),
            None,
        )
        .await?;
        match st {
            204 => Ok(()),
            404 => Err(Error::not_found(format!("Security group {id} not found."))),
            // In use, or the default group: Nova says 400.
            409 => Err(Error::bad_request(
                neutron_error(st, &v).message.into_owned(),
            )),
            s => Err(neutron_error(s, &v)),
        }
    }

    /// `POST /os-security-group-rules`: an ingress rule on `parent_group_id`.
    pub async fn proxy_rule_create(
        &self,
        ctx: &RequestContext,
        body: &Map<String, Value>,
    ) -> Result<Value> {
        let (_, net, token) =
            self.neutron_for(ctx, "os_compute_api:os-security-groups:rule:create")?;
        let parent = body
            .get("parent_group_id")
            .and_then(|v| {
                v.as_str()
                    .map(str::to_string)
                    .or_else(|| v.as_i64().map(|n| n.to_string()))
            })
            .ok_or_else(|| Error::bad_request("Bad parent_group_id: it is required."))?;
        if !is_uuid_like(&parent) {
            return Err(Error::bad_request("Security group id should be uuid"));
        }
        let group = Self::group_get(net, token, &parent).await?;
        let rule = neutron_rule(&text(&group, "id"), body)?;
        if let Some(remote) = rule["remote_group_id"].as_str() {
            Self::group_get(net, token, remote).await?;
        }
        let (st, v) = Self::call_neutron(
            net,
            token,
            Method::POST,
            "/v2.0/security-group-rules",
            Some(&json!({ "security_group_rule": rule })),
        )
        .await?;
        match st {
            201 => {
                let names = Self::group_names(net, token).await?;
                let mut out = nova_rule(&v["security_group_rule"], &|id| names.get(id).cloned());
                // Nova answers the CIDR as it was given (the networking service may have
                // cleared its host bits).
                if let Some(c) = rule["remote_ip_prefix"].as_str()
                    && out["ip_range"].get("cidr").is_some()
                {
                    out["ip_range"] = json!({ "cidr": c });
                }
                Ok(out)
            }
            409 => Err(Error::bad_request(format!(
                "Security group rule already exists. Group id is {parent}."
            ))),
            s => Err(neutron_error(s, &v)),
        }
    }

    pub async fn proxy_rule_delete(&self, ctx: &RequestContext, id: &str) -> Result<()> {
        let (_, net, token) =
            self.neutron_for(ctx, "os_compute_api:os-security-groups:rule:delete")?;
        let gone = || Error::not_found(format!("Security group rule {id} not found."));
        if !path_safe(id) {
            return Err(gone());
        }
        let (st, v) = Self::call_neutron(
            net,
            token,
            Method::DELETE,
            &format!("/v2.0/security-group-rules/{id}"),
            None,
        )
        .await?;
        match st {
            204 => Ok(()),
            404 => Err(gone()),
            s => Err(neutron_error(s, &v)),
        }
    }
}

/// A Nova floating IP from a Neutron one, its port's server and its network's name.
fn nova_floating_ip(f: &Value, instance: Option<&str>, pool: Option<&str>) -> Value {
    json!({
        "id": f["id"],
        "ip": f["floating_ip_address"],
        "fixed_ip": f["fixed_ip_address"],
        "instance_id": instance,
        "pool": pool,
    })
}

impl App {
    /// Renders floating IPs with their servers (their ports' devices) and pools.
    async fn render_floating_ips(
        net: &dyn NetworkClient,
        token: &str,
        fips: &[Value],
    ) -> Result<Vec<Value>> {
        let mut devices = std::collections::HashMap::new();
        let mut pools = std::collections::HashMap::new();
        for f in fips {
            if let Some(port) = f["port_id"].as_str().filter(|p| path_safe(p))
                && !devices.contains_key(port)
            {
                let (st, v) = Self::call_neutron(
                    net,
                    token,
                    Method::GET,
                    &format!("/v2.0/ports/{port}"),
                    None,
                )
                .await?;
                let device = (st == 200)
                    .then(|| text(&v["port"], "device_id"))
                    .filter(|d| !d.is_empty());
                devices.insert(port.to_string(), device);
            }
            if let Some(n) = f["floating_network_id"].as_str().filter(|n| path_safe(n))
                && !pools.contains_key(n)
            {
                let (st, v) = Self::call_neutron(
                    net,
                    token,
                    Method::GET,
                    &format!("/v2.0/networks/{n}"),
                    None,
                )
                .await?;
                pools.insert(
                    n.to_string(),
                    (st == 200).then(|| text(&v["network"], "name")),
                );
            }
        }
        Ok(fips
            .iter()
            .map(|f| {
                let device = f["port_id"]
                    .as_str()
                    .and_then(|p| devices.get(p).cloned().flatten());
                let pool = f["floating_network_id"]
                    .as_str()
                    .and_then(|n| pools.get(n).cloned().flatten());
                nova_floating_ip(f, device.as_deref(), pool.as_deref())
            })
            .collect())
    }

    async fn floating_ip_get(net: &dyn NetworkClient, token: &str, id: &str) -> Result<Value> {
        let gone = Error::not_found(format!("Floating IP not found for ID {id}"));
        Self::neutron_get(net, token, "floatingips", "floatingip", id, gone).await
    }

    /// The floating IP whose address is `address`, as the caller sees it.
    async fn floating_ip_by_address(
        net: &dyn NetworkClient,
        token: &str,
        address: &str,
    ) -> Result<Value> {
        let (st, v) = Self::call_neutron(
            net,
            token,
            Method::GET,
            &format!(
                "/v2.0/floatingips?floating_ip_address={}",
                query_value(address)
            ),
            None,
        )
        .await?;
        if st != 200 {
            return Err(neutron_error(st, &v));
        }
        v["floatingips"]
            .as_array()
            .and_then(|a| a.first().cloned())
            .ok_or_else(|| Error::not_found(format!("floating IP not found for address {address}")))
    }

    pub async fn proxy_floating_ips(&self, ctx: &RequestContext) -> Result<Vec<Value>> {
        let (c, net, token) = self.neutron_for(ctx, "os_compute_api:os-floating-ips:list")?;
        let (st, v) = Self::call_neutron(
            net,
            token,
            Method::GET,
            &format!(
                "/v2.0/floatingips?project_id={}",
                query_value(c.project_id())
            ),
            None,
        )
        .await?;
        if st != 200 {
            return Err(neutron_error(st, &v));
        }
        let fips = v["floatingips"].as_array().cloned().unwrap_or_default();
        Self::render_floating_ips(net, token, &fips).await
    }

    pub async fn proxy_floating_ip(&self, ctx: &RequestContext, id: &str) -> Result<Value> {
        let (_, net, token) = self.neutron_for(ctx, "os_compute_api:os-floating-ips:show")?;
        let f = Self::floating_ip_get(net, token, id).await?;
        let mut out = Self::render_floating_ips(net, token, &[f]).await?;
        Ok(out.pop().unwrap_or_default())
    }

    /// `POST /os-floating-ips`: an address from the external network named `pool` (the only
    /// external network when no pool is named).
    pub async fn proxy_floating_ip_create(
        &self,
        ctx: &RequestContext,
        pool: Option<&str>,
    ) -> Result<Value> {
        let (c, net, token) = self.neutron_for(ctx, "os_compute_api:os-floating-ips:create")?;
        // A pool is an external network's name, or its id.
        let mut networks = Vec::new();
        let mut queries = vec![match pool {
            Some(p) => format!("&name={}", query_value(p)),
            None => String::new(),
        }];
        if let Some(p) = pool.filter(|p| path_safe(p)) {
            queries.push(format!("&id={p}"));
        }
        for q in queries {
            let path = format!("/v2.0/networks?router:external=true{q}");
            let (st, v) = Self::call_neutron(net, token, Method::GET, &path, None).await?;
            if st != 200 {
                return Err(neutron_error(st, &v));
            }
            networks = v["networks"].as_array().cloned().unwrap_or_default();
            if !networks.is_empty() {
                break;
            }
        }
        let network = match (pool, networks.as_slice()) {
            (Some(_), [n, ..]) | (None, [n]) => n.clone(),
            (None, [_, _, ..]) => {
                return Err(Error::bad_request(
                    "More than one floating IP pool: name one.",
                ));
            }
            _ => return Err(Error::not_found("Floating IP pool not found.")),
        };
        let body = json!({"floatingip": {
            "floating_network_id": network["id"],
            "project_id": c.project_id(),
        }});
        let (st, v) =
            Self::call_neutron(net, token, Method::POST, "/v2.0/floatingips", Some(&body)).await?;
        match st {
            201 => Ok(nova_floating_ip(
                &v["floatingip"],
                None,
                network["name"].as_str(),
            )),
            409 => Err(Error::forbidden(format!(
                "No more floating IPs in pool {}.",
                text(&network, "name")
            ))),
            s => Err(neutron_error(s, &v)),
        }
    }

    pub async fn proxy_floating_ip_delete(&self, ctx: &RequestContext, id: &str) -> Result<()> {
        let (_, net, token) = self.neutron_for(ctx, "os_compute_api:os-floating-ips:delete")?;
        Self::floating_ip_get(net, token, id).await?;
        let (st, v) = Self::call_neutron(
            net,
            token,
            Method::DELETE,
            &format!("/v2.0/floatingips/{id}"),
            None,
        )
        .await?;
        match st {
            204 => Ok(()),
            404 => Err(Error::not_found(format!(
                "Floating IP not found for ID {id}"
            ))),
            s => Err(neutron_error(s, &v)),
        }
    }

    /// `addFloatingIp` / `removeFloatingIp`: (dis)associates the address with one of the
    /// server's ports (the one holding `fixed_address`, else its first IPv4 port), then
    /// refreshes the server's addresses.
    pub async fn proxy_floating_ip_server(
        &self,
        ctx: &RequestContext,
        server: &str,
        body: &Value,
        add: bool,
    ) -> Result<()> {
        let (action, rule) = if add {
            ("addFloatingIp", "os_compute_api:os-floating-ips:add")
        } else {
            ("removeFloatingIp", "os_compute_api:os-floating-ips:remove")
        };
        let c = self.caller(ctx)?;
        let i = self.server_for(&c, server, rule).await?;
        let (_, net, token) = self.neutron_for(ctx, rule)?;
        let address = body
            .get("address")
            .and_then(Value::as_str)
            .filter(|a| a.parse::<std::net::IpAddr>().is_ok())
            .ok_or_else(|| {
                Error::bad_request(format!(
                    "Invalid input for field/attribute address. Value: {}. It is not a valid IP address.",
                    body.get("address").unwrap_or(&Value::Null)
                ))
            })?;
        let f = Self::floating_ip_by_address(net, token, address).await?;
        let id = text(&f, "id");
        let update = if add {
            let fixed = body.get("fixed_address").and_then(Value::as_str);
            let vif = i
                .network_info
                .iter()
                .find(|v| match fixed {
                    Some(a) => v.fixed_ips.iter().any(|f| f.ip_address == a),
                    None => v.fixed_ips.iter().any(|f| !f.ip_address.contains(':')),
                })
                .ok_or_else(|| {
                    Error::bad_request(match fixed {
                        Some(a) => format!("Specified fixed address {a} not assigned to instance"),
                        None => {
                            format!("Instance {} has no fixed IPv4 address to associate", i.uuid)
                        }
                    })
                })?;
            let fixed_ip = match fixed {
                Some(a) => a.to_string(),
                None => vif
                    .fixed_ips
                    .iter()
                    .find(|f| !f.ip_address.contains(':'))
                    .map(|f| f.ip_address.clone())
                    .unwrap_or_default(),
            };
            json!({"floatingip": {"port_id": vif.port_id, "fixed_ip_address": fixed_ip}})
        } else {
            let port = f["port_id"].as_str().unwrap_or_default();
            if port.is_empty() || !i.network_info.iter().any(|v| v.port_id == port) {
                return Err(Error::conflict(format!(
                    "Floating IP {address} is not associated with instance {}.",
                    i.uuid
                )));
            }
            json!({"floatingip": {"port_id": null}})
        };
        let (st, v) = Self::call_neutron(
            net,
            token,
            Method::PUT,
            &format!("/v2.0/floatingips/{id}"),
            Some(&update),
        )
        .await?;
        if st != 200 {
            return Err(match neutron_error(st, &v) {
                e if matches!(e.status(), 400 | 409) => {
                    Error::bad_request(format!("Unable to {action} {address}: {}", e.message))
                }
                e => e,
            });
        }
        // The addresses show the change at once, as Nova's refreshed cache does.
        let vifs = crate::networking::refresh(net, &i).await?;
        self.store
            .instance_update(
                &i.uuid,
                &crate::store::InstanceUpdate {
                    network_info: Some(vifs),
                    ..Default::default()
                },
            )
            .await?;
        Ok(())
    }
}

/// `os-networks` / `os-tenant-networks`: a Neutron network in Nova's nova-network shape
/// (id and label; the nova-network fields are null, as Nova shows them with Neutron).
pub fn nova_network(n: &Value, full: bool) -> Value {
    let mut v = json!({"id": n["id"], "label": n["name"], "cidr": null});
    if full {
        for k in [
            "netmask",
            "gateway",
            "broadcast",
            "dns1",
            "dns2",
            "cidr_v6",
            "gateway_v6",
            "netmask_v6",
            "created_at",
            "updated_at",
            "deleted_at",
            "injected",
            "bridge",
            "vlan",
            "vpn_public_address",
            "vpn_public_port",
            "vpn_private_address",
            "dhcp_start",
            "project_id",
            "host",
            "bridge_interface",
            "multi_host",
            "priority",
            "rxtx_base",
            "dhcp_server",
            "enable_dhcp",
            "share_address",
        ] {
            v[k] = Value::Null;
        }
        v["deleted"] = json!(false);
        v["mtu"] = n["mtu"].clone();
    }
    v
}

impl App {
    /// The networks the caller sees (`os-networks` when `full`, else `os-tenant-networks`).
    pub async fn proxy_networks(&self, ctx: &RequestContext, full: bool) -> Result<Vec<Value>> {
        let rule = if full {
            "os_compute_api:os-networks:list"
        } else {
            "os_compute_api:os-tenant-networks:list"
        };
        let (_, net, token) = self.neutron_for(ctx, rule)?;
        let (st, v) = Self::call_neutron(net, token, Method::GET, "/v2.0/networks", None).await?;
        if st != 200 {
            return Err(neutron_error(st, &v));
        }
        Ok(v["networks"]
            .as_array()
            .map(|a| a.iter().map(|n| nova_network(n, full)).collect())
            .unwrap_or_default())
    }

    pub async fn proxy_network(&self, ctx: &RequestContext, id: &str, full: bool) -> Result<Value> {
        let rule = if full {
            "os_compute_api:os-networks:view"
        } else {
            "os_compute_api:os-tenant-networks:view"
        };
        let (_, net, token) = self.neutron_for(ctx, rule)?;
        let n = Self::neutron_get(
            net,
            token,
            "networks",
            "network",
            id,
            Error::not_found("Network could not be found."),
        )
        .await?;
        Ok(nova_network(&n, full))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn neutron_rules_from_nova_bodies() {
        let p = "5e1f0a6b-8f63-4a7e-9c55-0d8e1b0b4b2e";
        let r = neutron_rule(
            p,
            &body(json!({"ip_protocol": "TCP", "from_port": "22", "to_port": 22})),
        )
        .expect("valid");
        assert_eq!(
            (
                r["protocol"].as_str(),
                r["port_range_min"].as_i64(),
                r["remote_ip_prefix"].as_str()
            ),
            (Some("tcp"), Some(22), Some("0.0.0.0/0"))
        );
        let r = neutron_rule(p, &body(json!({"ip_protocol": "icmp", "from_port": -1, "to_port": -1, "cidr": "2001:db8::1/64"})))
            .expect("valid");
        assert_eq!(
            (
                r["port_range_min"].clone(),
                r["ethertype"].as_str(),
                r["remote_ip_prefix"].as_str()
            ),
            (Value::Null, Some("IPv6"), Some("2001:db8::1/64"))
        );
        for bad in [
            json!({"ip_protocol": "ah", "from_port": 1, "to_port": 2}),
            json!({"ip_protocol": "tcp", "from_port": 65536, "to_port": 65536}),
            json!({"ip_protocol": "tcp", "from_port": 22, "to_port": 21}),
            json!({"ip_protocol": "tcp", "from_port": "x", "to_port": 22}),
            json!({"ip_protocol": "icmp", "from_port": 256, "to_port": 0}),
            json!({"ip_protocol": "tcp", "from_port": 1, "to_port": 2, "cidr": "10.0.0.0/33"}),
            json!({"ip_protocol": "tcp", "from_port": 1, "to_port": 2, "group_id": "nope"}),
        ] {
            assert!(neutron_rule(p, &body(bad.clone())).is_err(), "{bad}");
        }
    }

    #[test]
    fn networks_in_the_nova_network_shape() {
        let n = json!({"id": "n1", "name": "private", "mtu": 1450, "shared": false});
        assert_eq!(
            nova_network(&n, false),
            json!({"id": "n1", "label": "private", "cidr": null})
        );
        let full = nova_network(&n, true);
        assert_eq!(
            (full["label"].as_str(), full["mtu"].as_i64()),
            (Some("private"), Some(1450))
        );
        assert!(full["bridge"].is_null() && full["deleted"] == json!(false));
    }

    #[test]
    fn nova_groups_show_ingress_rules_only() {
        let g = json!({"id": "g", "name": "web", "description": "d", "project_id": "p",
        "security_group_rules": [
            {"id": "r1", "security_group_id": "g", "direction": "ingress", "ethertype": "IPv4",
             "protocol": "tcp", "port_range_min": null, "port_range_max": null, "remote_ip_prefix": null},
            {"id": "r2", "security_group_id": "g", "direction": "ingress", "ethertype": "IPv4",
             "protocol": null, "remote_group_id": "g"},
            {"id": "r3", "security_group_id": "g", "direction": "egress", "ethertype": "IPv4"},
        ]});
        let v = nova_group(&g, &|id| {
            (id == "g").then(|| ("web".to_string(), "p".to_string()))
        });
        assert_eq!(v["tenant_id"], "p");
        let rules = v["rules"].as_array().expect("rules");
        assert_eq!(rules.len(), 2);
        assert_eq!(
            (rules[0]["from_port"].as_i64(), rules[0]["to_port"].as_i64()),
            (Some(1), Some(65535))
        );
        assert_eq!(rules[0]["ip_range"], json!({"cidr": "0.0.0.0/0"}));
        assert_eq!(rules[1]["group"], json!({"name": "web", "tenant_id": "p"}));
        assert_eq!(
            (rules[1]["from_port"].as_i64(), rules[1]["ip_range"].clone()),
            (Some(-1), json!({}))
        );
    }
}
