//! The API side of servers' networking: turning a create request's `networks` and
//! `security_groups` into concrete [`NetworkRequest`]s with Nova's checks
//! (nova/network/neutron.py `validate_networks`, `_check_requested_secgroups`), seen with the
//! user's token so that nobody can use a network, port or group they cannot see; and the
//! server's interfaces (`os-interface`: list, show, attach, detach).

use std::sync::Arc;

use oxstack_common::context::RequestContext;
use oxstack_common::error::ErrorKind;
use oxstack_common::{Error, Result};
use serde_json::{Value, json};

use super::servers::state_conflict;
use super::{App, Caller, invalid, is_uuid_like};
use crate::clients::{NetworkClient, NetworkInfo, PortInfo, SecurityGroupInfo};
use crate::microversion::Version;
use crate::model::{Instance, NetworkRequest};
use crate::states::{Allowed, NO_TASK, vm};

/// What the create request said of networks, before lookups.
#[derive(Debug, PartialEq)]
enum Asked {
    /// Pick the project's network (Nova: one available network, else none or ambiguous).
    Auto {
        explicit: bool,
    },
    None,
    List(Vec<NetworkRequest>),
}

fn parse(requested: Option<&Value>, mv: Version) -> Result<Asked> {
    let list = match requested {
        None if mv.at_least(37) => {
            return Err(invalid("server", "'networks' is a required property"));
        }
        None => return Ok(Asked::Auto { explicit: false }),
        Some(Value::String(s)) if mv.at_least(37) && s == "auto" => {
            return Ok(Asked::Auto { explicit: true });
        }
        Some(Value::String(s)) if mv.at_least(37) && s == "none" => return Ok(Asked::None),
        Some(Value::Array(list)) => list,
        Some(v) => return Err(invalid("networks", &v.to_string())),
    };
    if list.is_empty() && !mv.at_least(37) {
        return Ok(Asked::Auto { explicit: false });
    }
    let tags_allowed = (mv.at_least(32) && !mv.at_least(37)) || mv.at_least(42);
    let mut out = Vec::new();
    for n in list {
        let o = n
            .as_object()
            .ok_or_else(|| invalid("networks", &format!("{n} is not of type 'object'")))?;
        for k in o.keys() {
            let known =
                matches!(k.as_str(), "uuid" | "port" | "fixed_ip") || (k == "tag" && tags_allowed);
            if !known {
                return Err(Error::bad_request(format!(
                    "Invalid input for field/attribute networks. Additional properties are not allowed ('{k}' was unexpected)"
                )));
            }
        }
        let text = |k: &str| -> Result<Option<String>> {
            match o.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(v) => Err(invalid(k, &format!("{v} is not of type 'string'"))),
            }
        };
        let mut r = NetworkRequest {
            port_id: text("port")?,
            fixed_ip: text("fixed_ip")?,
            tag: text("tag")?,
            ..Default::default()
        };
        if let Some(t) = &r.tag
            && (t.is_empty() || t.len() > 60 || t.contains('/') || t.contains(','))
        {
            return Err(invalid("tag", &format!("{t} is not a valid tag")));
        }
        if let Some(ip) = &r.fixed_ip
            && ip.parse::<std::net::IpAddr>().is_err()
        {
            return Err(Error::bad_request(format!(
                "Invalid input for field/attribute fixed_ip. Value: {ip}. '{ip}' is not a 'ip-address'"
            )));
        }
        match &r.port_id {
            Some(p) if !is_uuid_like(p) => {
                return Err(Error::bad_request(format!(
                    "Bad networks format: port uuid is not in proper format ({p})"
                )));
            }
            Some(_) => {}
            None => {
                let u = text("uuid")?
                    .ok_or_else(|| Error::bad_request("Bad network format: missing uuid"))?;
                if !is_uuid_like(&u) {
                    return Err(Error::bad_request(format!(
                        "Bad networks format: network uuid is not in proper format ({u})"
                    )));
                }
                r.network_id = Some(u);
            }
        }
        out.push(r);
    }
    Ok(Asked::List(out))
}

/// Nova's available networks of a project: its own unshared ones and the shared ones;
/// external networks only when shared.
fn available(nets: Vec<NetworkInfo>, project_id: &str) -> Vec<NetworkInfo> {
    nets.into_iter()
        .filter(|n| n.shared || (n.project_id == project_id && !n.external))
        .collect()
}

impl App {
    /// The networks of a new server (`max_count` servers in one request), checked against
    /// the networking service; no ports are made here (the agent makes them).
    pub(super) async fn networks_for_create(
        &self,
        c: &Caller<'_>,
        requested: Option<&Value>,
        security_groups: &[String],
        max_count: i64,
        mv: Version,
    ) -> Result<Vec<NetworkRequest>> {
        let asked = parse(requested, mv)?;
        let Some(net) = &self.network else {
            return Ok(Vec::new());
        };
        let token = c.ctx.token.clone().unwrap_or_default();
        let project = c.project_id();
        let mut requests = match asked {
            Asked::None => return Ok(Vec::new()),
            Asked::Auto { explicit } => {
                let nets = available(net.network_list(&token).await?, project);
                match nets.as_slice() {
                    [] if explicit => {
                        return Err(Error::bad_request(format!(
                            "Unable to automatically allocate a network for project {project}"
                        )));
                    }
                    [] => Vec::new(),
                    [one] => vec![NetworkRequest {
                        network_id: Some(one.id.clone()),
                        ..Default::default()
                    }],
                    _ => {
                        return Err(Error::conflict(
                            "Multiple possible networks found, use a Network ID to be more specific.",
                        ));
                    }
                }
            }
            Asked::List(list) => list,
        };
        for r in &mut requests {
            if let Some(p) = &r.port_id {
                let port = net.port_get(&token, p).await?.ok_or_else(|| {
                    Error::bad_request(format!("Port id {p} could not be found."))
                })?;
                if !port.device_id.is_empty() {
                    return Err(Error::conflict(format!("Port {p} is still in use.")));
                }
                if port.fixed_ips.is_empty() {
                    return Err(Error::bad_request(format!(
                        "Port {p} requires a FixedIP in order to be used."
                    )));
                }
                if max_count > 1 {
                    return Err(Error::bad_request(
                        "Unable to launch multiple instances with a single configured port ID. Please launch your instance one by one with different ports.",
                    ));
                }
                r.network_id = Some(port.network_id);
            } else if let Some(n) = &r.network_id {
                if net.network_get(&token, n).await?.is_none() {
                    return Err(Error::bad_request(format!(
                        "Network {n} could not be found."
                    )));
                }
                if r.fixed_ip.is_some() && max_count > 1 {
                    return Err(Error::bad_request(
                        "max_count cannot be greater than 1 if an fixed_ip is specified.",
                    ));
                }
            }
        }
        // Groups other than the project's `default` go on the ports by id.
        if security_groups.iter().any(|g| g != "default") {
            let mut ids = Vec::new();
            for g in security_groups {
                let id = net
                    .security_group_find(&token, project, g)
                    .await?
                    .ok_or_else(|| {
                        Error::bad_request(format!(
                            "Security group {g} not found for project {project}."
                        ))
                    })?;
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            for r in requests.iter_mut().filter(|r| r.port_id.is_none()) {
                r.security_groups = Some(ids.clone());
            }
        }
        Ok(requests)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn v(minor: u16) -> Version {
        Version(minor)
    }

    #[test]
    fn parses_nova_network_requests() {
        assert_eq!(
            parse(None, v(1)).expect("auto"),
            Asked::Auto { explicit: false }
        );
        assert!(parse(None, v(37)).is_err());
        assert_eq!(
            parse(Some(&json!("auto")), v(37)).expect("auto"),
            Asked::Auto { explicit: true }
        );
        assert!(parse(Some(&json!("auto")), v(36)).is_err());
        assert_eq!(
            parse(Some(&json!("none")), v(37)).expect("none"),
            Asked::None
        );
        assert_eq!(
            parse(Some(&json!([])), v(1)).expect("empty"),
            Asked::Auto { explicit: false }
        );
        let net = "9a3e5e2e-7a4f-4a55-9d35-6b8d8a4d2b10";
        let Asked::List(l) = parse(
            Some(&json!([{"uuid": net, "fixed_ip": "10.0.0.9"}, {"port": net}])),
            v(1),
        )
        .expect("list") else {
            panic!("not a list");
        };
        assert_eq!(l[0].network_id.as_deref(), Some(net));
        assert_eq!(l[0].fixed_ip.as_deref(), Some("10.0.0.9"));
        assert_eq!(
            (l[1].port_id.as_deref(), l[1].network_id.as_deref()),
            (Some(net), None)
        );
        for bad in [
            json!([{"uuid": "a-b-c"}]),
            json!([{"port": "nope"}]),
            json!([{"fixed_ip": "10.0.0.1"}]),
            json!([{"uuid": net, "fixed_ip": "10.0.0.300"}]),
            json!([{"uuid": net, "tag": "t"}]),
            json!([{"uuid": net, "bogus": 1}]),
            json!(["x"]),
        ] {
            assert!(parse(Some(&bad), v(1)).is_err(), "{bad}");
        }
        assert!(parse(Some(&json!([{"uuid": net, "tag": "t"}])), v(42)).is_ok());
    }

    #[test]
    fn available_networks_are_own_or_shared_and_not_private_external() {
        let n = |id: &str, project: &str, shared: bool, external: bool| NetworkInfo {
            id: id.into(),
            project_id: project.into(),
            shared,
            external,
            ..Default::default()
        };
        let got = available(
            vec![
                n("own", "p1", false, false),
                n("theirs", "p2", false, false),
                n("shared", "p2", true, false),
                n("public", "admin", false, true),
                n("shared-ext", "admin", true, true),
            ],
            "p1",
        );
        let ids: Vec<_> = got.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(ids, ["own", "shared", "shared-ext"]);
    }
}

/// A `POST /servers/{id}/os-interface` body, parsed.
#[derive(Debug, Clone, Default)]
pub struct InterfaceRequest {
    pub net_id: Option<String>,
    pub port_id: Option<String>,
    pub fixed_ip: Option<String>,
    pub tag: Option<String>,
}

impl InterfaceRequest {
    /// Parses Nova's `interfaceAttachment` (`tag` from 2.49).
    pub fn parse(body: &Value, mv: Version) -> Result<InterfaceRequest> {
        let a = match body.get("interfaceAttachment") {
            None => return Ok(InterfaceRequest::default()),
            Some(Value::Object(a)) => a,
            Some(v) => return Err(invalid("interfaceAttachment", &v.to_string())),
        };
        for k in a.keys() {
            let known = matches!(k.as_str(), "net_id" | "port_id" | "fixed_ips")
                || (k == "tag" && mv.at_least(49));
            if !known {
                return Err(Error::bad_request(format!(
                    "Invalid input for field/attribute interfaceAttachment. Additional properties are not allowed ('{k}' was unexpected)"
                )));
            }
        }
        let uuid = |k: &str| -> Result<Option<String>> {
            match a.get(k) {
                None => Ok(None),
                Some(Value::String(s)) if is_uuid_like(s) => Ok(Some(s.clone())),
                Some(v) => Err(invalid(k, &format!("{v} is not a 'uuid'"))),
            }
        };
        let mut r = InterfaceRequest {
            net_id: uuid("net_id")?,
            port_id: uuid("port_id")?,
            ..Default::default()
        };
        if let Some(f) = a.get("fixed_ips") {
            let list = f
                .as_array()
                .filter(|l| l.len() <= 1)
                .ok_or_else(|| invalid("fixed_ips", &f.to_string()))?;
            if let Some(ip) = list.first() {
                let addr = ip
                    .get("ip_address")
                    .and_then(Value::as_str)
                    .filter(|s| s.parse::<std::net::IpAddr>().is_ok())
                    .ok_or_else(|| invalid("fixed_ips", &ip.to_string()))?;
                r.fixed_ip = Some(addr.to_string());
            }
        }
        match a.get("tag") {
            None => {}
            Some(Value::String(t)) if !t.is_empty() && t.len() <= 60 && !t.contains('/') => {
                r.tag = Some(t.clone());
            }
            Some(v) => return Err(invalid("tag", &v.to_string())),
        }
        if r.net_id.is_some() && r.port_id.is_some() {
            return Err(Error::bad_request(
                "Must not input both network_id and port_id",
            ));
        }
        if r.fixed_ip.is_some() && r.net_id.is_none() {
            return Err(Error::bad_request(
                "Must input network_id when request IP address",
            ));
        }
        Ok(r)
    }
}

/// An interface of a server, as `os-interface` shows it.
#[derive(Debug, Clone)]
pub struct Interface {
    pub port: PortInfo,
    pub tag: Option<String>,
}

/// Servers may change interfaces when running, paused, stopped or suspended, with no task.
const INTERFACE_STATES: Allowed = Allowed::new(
    Some(&[vm::ACTIVE, vm::PAUSED, vm::STOPPED, vm::SUSPENDED]),
    NO_TASK,
);

impl App {
    fn network_client(&self) -> Result<&Arc<dyn NetworkClient>> {
        self.network.as_ref().ok_or_else(|| {
            Error::new(
                ErrorKind::NotImplemented,
                "Network driver does not support this function.",
            )
        })
    }

    /// A server whose addresses (all, or `one_network`'s) the caller may read.
    pub async fn server_addresses(
        &self,
        ctx: &RequestContext,
        id: &str,
        one_network: bool,
    ) -> Result<Instance> {
        let c = self.caller(ctx)?;
        let rule = if one_network {
            "os_compute_api:ips:show"
        } else {
            "os_compute_api:ips:index"
        };
        self.server_for(&c, id, rule).await
    }

    /// `GET /servers/{id}/os-interface`: the server's ports, as the networking service has
    /// them now.
    pub async fn interface_list(&self, ctx: &RequestContext, id: &str) -> Result<Vec<Interface>> {
        let c = self.caller(ctx)?;
        let i = self
            .server_for(&c, id, "os_compute_api:os-attach-interfaces:list")
            .await?;
        let net = self.network_client()?;
        let ports = net.ports_of_device(&i.uuid).await?;
        Ok(ports
            .into_iter()
            .map(|port| Interface {
                tag: tag_of(&i, &port.id),
                port,
            })
            .collect())
    }

    pub async fn interface_show(
        &self,
        ctx: &RequestContext,
        id: &str,
        port_id: &str,
    ) -> Result<Interface> {
        let c = self.caller(ctx)?;
        let i = self
            .server_for(&c, id, "os_compute_api:os-attach-interfaces:show")
            .await?;
        let net = self.network_client()?;
        let not_attached = || {
            Error::not_found(format!(
                "Instance {} does not have a port with id {port_id}",
                i.uuid
            ))
        };
        let token = c.ctx.token.clone().unwrap_or_default();
        let port = net
            .port_get(&token, port_id)
            .await?
            .filter(|p| p.device_id == i.uuid)
            .ok_or_else(not_attached)?;
        Ok(Interface {
            tag: tag_of(&i, port_id),
            port,
        })
    }

    /// `POST /servers/{id}/os-interface`: makes (or binds) a port and plugs it in, waiting
    /// for the agent as Nova does.
    pub async fn interface_attach(
        &self,
        ctx: &RequestContext,
        id: &str,
        r: InterfaceRequest,
    ) -> Result<Interface> {
        let c = self.caller(ctx)?;
        let i = self
            .server_for(&c, id, "os_compute_api:os-attach-interfaces:create")
            .await?;
        Self::check_locked(&c, &i)?;
        let net = self.network_client()?.clone();
        if !INTERFACE_STATES.permits(&i.vm_state, i.task_state.as_deref()) {
            return Err(state_conflict(&i, "attach_interface"));
        }
        let token = c.ctx.token.clone().unwrap_or_default();
        let mut req = NetworkRequest {
            network_id: r.net_id.clone(),
            port_id: r.port_id.clone(),
            fixed_ip: r.fixed_ip.clone(),
            tag: r.tag.clone(),
            security_groups: None,
        };
        if let Some(p) = &r.port_id {
            let port = net
                .port_get(&token, p)
                .await?
                .ok_or_else(|| Error::not_found(format!("Port id {p} could not be found.")))?;
            if !port.device_id.is_empty() {
                return Err(Error::conflict(format!("Port {p} is still in use.")));
            }
        } else if let Some(n) = &r.net_id {
            if net.network_get(&token, n).await?.is_none() {
                return Err(Error::not_found(format!("Network {n} could not be found.")));
            }
        } else {
            let nets = available(net.network_list(&token).await?, c.project_id());
            match nets.as_slice() {
                [] => {
                    return Err(Error::bad_request(format!(
                        "No network to attach to instance {}.",
                        i.uuid
                    )));
                }
                [one] => req.network_id = Some(one.id.clone()),
                _ => {
                    return Err(Error::conflict(
                        "Multiple possible networks found, use a Network ID to be more specific.",
                    ));
                }
            }
        }
        let host = i
            .host
            .clone()
            .ok_or_else(|| state_conflict(&i, "attach_interface"))?;
        self.record_action(&c, &i, "attach_interface").await?;
        let port = self
            .rpc
            .attach_interface(&host, &c.rpc(), &i.uuid, &req)
            .await
            .map_err(|e| match e {
                oxstack_common::bus::BusError::Remote { message, .. } => {
                    Error::bad_request(format!(
                        "Failed to attach network adapter device to {}: {message}",
                        i.uuid
                    ))
                }
                other => Error::internal("rpc", other),
            })?;
        Ok(Interface { port, tag: r.tag })
    }

    /// `DELETE /servers/{id}/os-interface/{port}`: unplugs the port; the agent deletes it
    /// (or, for a port the user brought, unbinds it).
    pub async fn interface_detach(
        &self,
        ctx: &RequestContext,
        id: &str,
        port_id: &str,
    ) -> Result<()> {
        let c = self.caller(ctx)?;
        let i = self
            .server_for(&c, id, "os_compute_api:os-attach-interfaces:delete")
            .await?;
        Self::check_locked(&c, &i)?;
        self.network_client()?;
        if !INTERFACE_STATES.permits(&i.vm_state, i.task_state.as_deref()) {
            return Err(state_conflict(&i, "detach_interface"));
        }
        if !i.network_info.iter().any(|v| v.port_id == port_id) {
            return Err(Error::not_found(format!("Port {port_id} is not attached")));
        }
        let host = i
            .host
            .clone()
            .ok_or_else(|| state_conflict(&i, "detach_interface"))?;
        self.record_action(&c, &i, "detach_interface").await?;
        self.rpc
            .cast(
                &host,
                "detach_interface",
                &c.rpc(),
                &i.uuid,
                json!({"port_id": port_id}),
            )
            .await
            .map_err(|e| Error::internal("rpc", e))
    }
}

fn tag_of(i: &Instance, port_id: &str) -> Option<String> {
    i.network_info
        .iter()
        .find(|v| v.port_id == port_id)
        .and_then(|v| v.tag.clone())
}

/// A security group as Nova shows it (only ingress rules, in Nova's rule shape).
fn nova_security_group(g: &SecurityGroupInfo) -> Value {
    let rules: Vec<Value> = g
        .rules
        .iter()
        .filter(|r| r["direction"] == "ingress")
        .map(|r| {
            let group = match r["remote_group_id"].as_str() {
                Some(_) => json!({"name": g.name, "tenant_id": g.project_id}),
                None => json!({}),
            };
            let range = match r["remote_ip_prefix"].as_str() {
                Some(p) => json!({"cidr": p}),
                None if r["remote_group_id"].is_null() => json!({"cidr": "0.0.0.0/0"}),
                None => json!({}),
            };
            json!({
                "id": r["id"],
                "parent_group_id": g.id,
                "ip_protocol": r["protocol"],
                "from_port": r["port_range_min"].as_i64().unwrap_or(-1),
                "to_port": r["port_range_max"].as_i64().unwrap_or(-1),
                "group": group,
                "ip_range": range,
            })
        })
        .collect();
    json!({
        "id": g.id,
        "name": g.name,
        "description": g.description,
        "tenant_id": g.project_id,
        "rules": rules,
    })
}

impl App {
    /// `GET /servers/{id}/os-security-groups`: the groups on the server's ports.
    pub async fn server_security_groups(
        &self,
        ctx: &RequestContext,
        id: &str,
    ) -> Result<Vec<Value>> {
        let c = self.caller(ctx)?;
        let i = self
            .server_for(&c, id, "os_compute_api:os-security-groups:list")
            .await?;
        let net = self.network_client()?;
        let mut ids: Vec<String> = Vec::new();
        for p in net.ports_of_device(&i.uuid).await? {
            for g in p.security_groups {
                if !ids.contains(&g) {
                    ids.push(g);
                }
            }
        }
        let mut out = Vec::new();
        for g in ids {
            if let Some(g) = net.security_group_show(&g).await? {
                out.push(nova_security_group(&g));
            }
        }
        Ok(out)
    }

    /// `addSecurityGroup` / `removeSecurityGroup`: changes the groups of every port of the
    /// server (nova/network/security_group_api.py `add_to_instance`).
    pub async fn server_security_group_change(
        &self,
        ctx: &RequestContext,
        id: &str,
        name: &str,
        add: bool,
    ) -> Result<()> {
        let c = self.caller(ctx)?;
        let rule = if add {
            "os_compute_api:os-security-groups:add"
        } else {
            "os_compute_api:os-security-groups:remove"
        };
        let i = self.server_for(&c, id, rule).await?;
        let net = self.network_client()?;
        let token = c.ctx.token.clone().unwrap_or_default();
        let project = i.project_id.clone();
        let group = net
            .security_group_find(&token, &project, name)
            .await?
            .ok_or_else(|| {
                Error::not_found(format!(
                    "Security group {name} not found for project {project}."
                ))
            })?;
        let ports = net.ports_of_device(&i.uuid).await?;
        if ports.is_empty() {
            return Err(Error::not_found(format!(
                "instance_id {} could not be found as device id on any ports",
                i.uuid
            )));
        }
        let has = |p: &PortInfo| p.security_groups.contains(&group);
        if add && ports.iter().all(has) {
            return Err(Error::bad_request(format!(
                "Security group {name} is already associated with the instance {}",
                i.uuid
            )));
        }
        if !add && !ports.iter().any(has) {
            return Err(Error::bad_request(format!(
                "Security group {name} not associated with the instance {}",
                i.uuid
            )));
        }
        for p in &ports {
            let mut groups = p.security_groups.clone();
            if add && !has(p) {
                groups.push(group.clone());
            } else if !add {
                groups.retain(|g| g != &group);
            } else {
                continue;
            }
            net.port_set_security_groups(&p.id, &groups).await?;
        }
        let mut names = i.security_groups.clone();
        if add && !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        } else if !add {
            names.retain(|n| n != name);
        }
        self.store
            .instance_update(
                &i.uuid,
                &crate::store::InstanceUpdate {
                    security_groups: Some(names),
                    ..Default::default()
                },
            )
            .await?;
        Ok(())
    }
}
