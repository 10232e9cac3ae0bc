//! Security groups and their rules: the project's `default` group made on first use,
//! protocol, port-range, remote prefix and remote group validation, duplicates refused.

use oxstack_common::{Error, Result};
use serde_json::{Map, Value, json};

use super::{
    App, Caller, bad, boolean, merge, new_id, not_found, only_keys, owner, string, target_of,
    uuid_of, view,
};
use crate::ip::Cidr;
use crate::store::{Kind, Row, Store};

const PROTOCOLS: &[(&str, i64)] = &[
    ("hopopt", 0),
    ("icmp", 1),
    ("igmp", 2),
    ("ipip", 4),
    ("tcp", 6),
    ("egp", 8),
    ("udp", 17),
    ("ipv6-encap", 41),
    ("ipv6-route", 43),
    ("ipv6-frag", 44),
    ("rsvp", 46),
    ("gre", 47),
    ("esp", 50),
    ("ah", 51),
    ("ipv6-icmp", 58),
    ("icmpv6", 58),
    ("ipv6-nonxt", 59),
    ("ipv6-opts", 60),
    ("ospf", 89),
    ("pgm", 113),
    ("vrrp", 112),
    ("sctp", 132),
    ("udplite", 136),
    ("dccp", 33),
];

const RULE_KEYS: &[&str] = &[
    "security_group_id",
    "direction",
    "ethertype",
    "protocol",
    "port_range_min",
    "port_range_max",
    "remote_ip_prefix",
    "remote_group_id",
    "remote_address_group_id",
    "description",
    "project_id",
    "tenant_id",
];

fn rule_body(group: &str, direction: &str, ethertype: &str, remote_group: Option<&str>) -> Value {
    json!({
        "security_group_id": group,
        "direction": direction,
        "ethertype": ethertype,
        "protocol": Value::Null,
        "port_range_min": Value::Null,
        "port_range_max": Value::Null,
        "remote_ip_prefix": Value::Null,
        "normalized_cidr": Value::Null,
        "remote_group_id": remote_group,
        "remote_address_group_id": Value::Null,
        "description": "",
        "belongs_to_default_sg": false,
    })
}

impl App {
    /// The project's `default` group, made (with its four rules) on first use.
    pub async fn default_security_group(&self, project: &str) -> Result<String> {
        if let Some(id) = self.store.default_sg(project).await? {
            return Ok(id);
        }
        let gid = new_id();
        let group = Store::new_row(
            gid.clone(),
            project.into(),
            None,
            json!({"name": "default", "description": "Default security group", "stateful": true, "shared": false, "tags": []}),
        );
        let mut rows = vec![(Kind::SecurityGroup, group)];
        for (dir, eth, remote) in [
            ("ingress", "IPv4", Some(gid.as_str())),
            ("ingress", "IPv6", Some(gid.as_str())),
            ("egress", "IPv4", None),
            ("egress", "IPv6", None),
        ] {
            let mut b = rule_body(&gid, dir, eth, remote);
            b["belongs_to_default_sg"] = json!(true);
            rows.push((
                Kind::SecurityGroupRule,
                Store::new_row(new_id(), project.into(), Some(gid.clone()), b),
            ));
        }
        if self.store.default_sg_create(project, &rows).await? {
            return Ok(gid);
        }
        self.store
            .default_sg(project)
            .await?
            .ok_or_else(|| Error::conflict("default security group is being created; retry"))
    }

    async fn sg_view(&self, row: &Row, with_rules: bool) -> Result<Value> {
        let mut v = view(row);
        if with_rules {
            let rules: Vec<Value> = self
                .store
                .list(Kind::SecurityGroupRule, None, Some(&row.id))
                .await?
                .iter()
                .map(view)
                .collect();
            v["security_group_rules"] = json!(rules);
        }
        Ok(v)
    }

    pub async fn security_group_create(&self, c: &Caller, m: &Map<String, Value>) -> Result<Value> {
        only_keys(
            m,
            &[
                "name",
                "description",
                "project_id",
                "tenant_id",
                "stateful",
                "tags",
            ],
        )?;
        let project = owner(c, m)?;
        self.authorize(c, "create_security_group", &json!({"project_id": project}))?;
        let name = string(m, "name", 255)?.unwrap_or_default();
        self.default_security_group(&project).await?;
        if name == "default" {
            return Err(Error::conflict("Default security group already exists.")
                .with_type("SecurityGroupDefaultAlreadyExists"));
        }
        self.check_quota(&project, "security_group", Kind::SecurityGroup)
            .await?;
        let gid = new_id();
        let group = Store::new_row(
            gid.clone(),
            project.clone(),
            None,
            json!({
                "name": name,
                "description": string(m, "description", 255)?.unwrap_or_default(),
                "stateful": boolean(m, "stateful", true)?,
                "shared": false,
                "tags": m.get("tags").cloned().unwrap_or(json!([])),
            }),
        );
        let mut rows = vec![(Kind::SecurityGroup, group.clone())];
        for eth in ["IPv4", "IPv6"] {
            rows.push((
                Kind::SecurityGroupRule,
                Store::new_row(
                    new_id(),
                    project.clone(),
                    Some(gid.clone()),
                    rule_body(&gid, "egress", eth, None),
                ),
            ));
        }
        self.store.insert_many(&rows).await?;
        self.sg_view(&group, true).await
    }

    pub async fn security_group_get(&self, c: &Caller, id: &str) -> Result<Value> {
        let row = self.visible(c, Kind::SecurityGroup, id).await?;
        self.sg_view(&row, true).await
    }

    pub async fn security_group_list(&self, c: &Caller) -> Result<Vec<Value>> {
        if !c.project_id.is_empty() {
            self.default_security_group(&c.project_id).await?;
        }
        let mut out = Vec::new();
        for r in self.store.list(Kind::SecurityGroup, None, None).await? {
            if self.allowed(c, "get_security_group", &target_of(&r)) {
                out.push(self.sg_view(&r, true).await?);
            }
        }
        Ok(out)
    }

    pub async fn security_group_update(
        &self,
        c: &Caller,
        id: &str,
        m: &Map<String, Value>,
        expect: Option<i64>,
    ) -> Result<Value> {
        let row = self.visible(c, Kind::SecurityGroup, id).await?;
        only_keys(m, &["name", "description", "stateful"])?;
        self.authorize(c, "update_security_group", &target_of(&row))?;
        let name = string(m, "name", 255)?;
        let is_default = row.body.get("name") == Some(&json!("default"));
        if is_default && name.as_deref().is_some_and(|n| n != "default") {
            return Err(
                Error::conflict("Updating default security group not allowed.")
                    .with_type("SecurityGroupCannotUpdateDefault"),
            );
        }
        if !is_default && name.as_deref() == Some("default") {
            return Err(Error::conflict("Default security group already exists.")
                .with_type("SecurityGroupDefaultAlreadyExists"));
        }
        string(m, "description", 255)?;
        let mut body = row.body.clone();
        merge(&mut body, m, &["name", "description"]);
        if m.contains_key("stateful") {
            body["stateful"] = json!(boolean(m, "stateful", true)?);
        }
        let row = self
            .store
            .update(Kind::SecurityGroup, id, &body, expect)
            .await?;
        self.sg_view(&row, true).await
    }

    pub async fn security_group_delete(&self, c: &Caller, id: &str) -> Result<()> {
        let row = self.visible(c, Kind::SecurityGroup, id).await?;
        self.authorize(c, "delete_security_group", &target_of(&row))?;
        if row.body.get("name") == Some(&json!("default")) && !c.is_admin {
            return Err(Error::conflict(
                "Insufficient rights for removing default security group.",
            )
            .with_type("SecurityGroupCannotRemoveDefault"));
        }
        let in_use = self
            .store
            .list(Kind::Port, None, None)
            .await?
            .iter()
            .any(|p| {
                p.body["security_groups"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|g| g == id))
            });
        if in_use {
            return Err(Error::conflict(format!("Security Group {id} in use."))
                .with_type("SecurityGroupInUse"));
        }
        // Rules of other groups that let this one in go with it, as in Neutron.
        let peers: Vec<String> = self
            .store
            .list(Kind::SecurityGroupRule, None, None)
            .await?
            .into_iter()
            .filter(|r| r.body["remote_group_id"] == json!(id))
            .map(|r| r.id)
            .collect();
        if !self.store.security_group_delete(id, &peers).await? {
            return Err(not_found(Kind::SecurityGroup, id));
        }
        Ok(())
    }

    /// The security groups a port names, each visible to the caller.
    pub(crate) async fn security_group_ids(&self, c: &Caller, v: &Value) -> Result<Vec<String>> {
        let arr = v
            .as_array()
            .ok_or_else(|| bad("Invalid input for security_groups. Reason: not a list."))?;
        let mut out = Vec::new();
        for g in arr {
            let id = uuid_of(g, "security_groups")
                .map_err(|_| not_found(Kind::SecurityGroup, g.as_str().unwrap_or_default()))?;
            self.visible(c, Kind::SecurityGroup, &id).await?;
            if !out.contains(&id) {
                out.push(id);
            }
        }
        Ok(out)
    }

    pub async fn security_group_rule_create(
        &self,
        c: &Caller,
        m: &Map<String, Value>,
    ) -> Result<Value> {
        only_keys(m, RULE_KEYS)?;
        let gid_v = m.get("security_group_id").ok_or_else(|| {
            bad("Failed to parse request. Required attribute 'security_group_id' not specified")
        })?;
        let gid = uuid_of(gid_v, "security_group_id")
            .map_err(|_| not_found(Kind::SecurityGroup, gid_v.as_str().unwrap_or_default()))?;
        let group = self.visible(c, Kind::SecurityGroup, &gid).await?;
        let project = owner(c, m)?;
        let project = if m.contains_key("project_id") || m.contains_key("tenant_id") {
            project
        } else {
            group.project_id.clone()
        };
        self.authorize(c, "create_security_group_rule", &target_of(&group))?;
        let direction = match m.get("direction").and_then(Value::as_str) {
            Some(d @ ("ingress" | "egress")) => d.to_string(),
            Some(d) => {
                return Err(bad(format!(
                    "Invalid input for direction. Reason: {d} is not in ['ingress', 'egress']."
                )));
            }
            None => {
                return Err(bad(
                    "Failed to parse request. Required attribute 'direction' not specified",
                ));
            }
        };
        let ethertype = match m.get("ethertype").and_then(Value::as_str) {
            None => "IPv4".to_string(),
            Some(e) if e.eq_ignore_ascii_case("ipv4") => "IPv4".into(),
            Some(e) if e.eq_ignore_ascii_case("ipv6") => "IPv6".into(),
            Some(e) => {
                return Err(bad(format!(
                    "Invalid input for ethertype. Reason: {e} is not in ['IPv4', 'IPv6']."
                ))
                .with_type("SecurityGroupRuleInvalidEtherType"));
            }
        };
        let protocol = protocol(m.get("protocol"))?;
        let min = port(m.get("port_range_min"), "port_range_min")?;
        let max = port(m.get("port_range_max"), "port_range_max")?;
        let number = protocol.as_ref().map(|p| p.1);
        match number {
            Some(6 | 17 | 33 | 132 | 136) => {
                if let (Some(a), Some(b)) = (min, max)
                    && a > b
                {
                    return Err(bad(
                        "For TCP/UDP protocols, port_range_min must be <= port_range_max",
                    )
                    .with_type("SecurityGroupInvalidPortRange"));
                }
                for p in [min, max].into_iter().flatten() {
                    if !(1..=65535).contains(&p) {
                        return Err(bad(format!("Invalid value for port {p}."))
                            .with_type("SecurityGroupInvalidPortValue"));
                    }
                }
                if min.is_some() != max.is_some() {
                    return Err(bad(
                        "For TCP/UDP protocols, port_range_min must be <= port_range_max",
                    )
                    .with_type("SecurityGroupInvalidPortRange"));
                }
            }
            Some(1 | 58) => {
                for (v, k) in [(min, "type"), (max, "code")] {
                    if let Some(v) = v
                        && !(0..=255).contains(&v)
                    {
                        return Err(bad(format!(
                            "Invalid value for ICMP {k} (port_range_{}) {v}. It must be 0 to 255.",
                            if k == "type" { "min" } else { "max" }
                        ))
                        .with_type("SecurityGroupInvalidIcmpValue"));
                    }
                }
                if min.is_none() && max.is_some() {
                    return Err(bad(format!(
                        "ICMP code (port-range-max) {} is provided but ICMP type (port-range-min) is missing.",
                        max.unwrap_or_default()
                    ))
                    .with_type("SecurityGroupMissingIcmpType"));
                }
            }
            None if min.is_some() || max.is_some() => {
                return Err(bad("Must also specify protocol if port range is given.")
                    .with_type("SecurityGroupProtocolRequiredWithPorts"));
            }
            _ => {
                if min.is_some() || max.is_some() {
                    return Err(bad("Invalid protocol for port range")
                        .with_type("SecurityGroupInvalidProtocolForPortRange"));
                }
            }
        }
        let prefix = match m.get("remote_ip_prefix") {
            None | Some(Value::Null) => None,
            Some(v) => {
                let s = v.as_str().unwrap_or_default();
                let c = Cidr::parse(s, false).ok_or_else(|| {
                    bad(format!(
                        "Invalid input for remote_ip_prefix. Reason: '{s}' is not a valid IP subnet."
                    ))
                })?;
                let eth_v = if ethertype == "IPv4" { 4 } else { 6 };
                if c.version != eth_v {
                    return Err(bad(format!(
                        "Conflicting value ethertype {ethertype} for CIDR {s}"
                    ))
                    .with_type("SecurityGroupRuleParameterConflict"));
                }
                Some(c.to_string_canonical())
            }
        };
        let remote_group = match m.get("remote_group_id") {
            None | Some(Value::Null) => None,
            Some(v) => {
                let id = uuid_of(v, "remote_group_id")
                    .map_err(|_| not_found(Kind::SecurityGroup, v.as_str().unwrap_or_default()))?;
                self.visible(c, Kind::SecurityGroup, &id).await?;
                Some(id)
            }
        };
        if prefix.is_some() && remote_group.is_some() {
            return Err(
                bad("Only remote_ip_prefix or remote_group_id may be provided.")
                    .with_type("SecurityGroupRemoteGroupAndRemoteIpPrefix"),
            );
        }
        let proto_value = protocol.as_ref().map(|p| p.0.clone());
        let mut body = rule_body(&gid, &direction, &ethertype, remote_group.as_deref());
        body["protocol"] = json!(proto_value);
        body["port_range_min"] = json!(min);
        body["port_range_max"] = json!(max);
        body["remote_ip_prefix"] = json!(prefix);
        body["normalized_cidr"] = json!(prefix);
        body["description"] = json!(string(m, "description", 255)?.unwrap_or_default());
        body["belongs_to_default_sg"] = json!(group.body.get("name") == Some(&json!("default")));
        // Duplicates: same group, direction, ethertype, protocol (by number), ports, remote.
        for r in self
            .store
            .list(Kind::SecurityGroupRule, None, Some(&gid))
            .await?
        {
            let same = [
                "direction",
                "ethertype",
                "port_range_min",
                "port_range_max",
                "remote_group_id",
            ]
            .iter()
            .all(|k| r.body.get(*k) == body.get(*k))
                && norm_prefix(&r.body) == norm_prefix(&body)
                && proto_number(r.body.get("protocol")) == number;
            if same {
                return Err(Error::conflict(format!(
                    "Security group rule already exists. Rule id is {}.",
                    r.id
                ))
                .with_type("SecurityGroupRuleExists"));
            }
        }
        self.check_quota(&project, "security_group_rule", Kind::SecurityGroupRule)
            .await?;
        let row = Store::new_row(new_id(), project, Some(gid), body);
        self.store.insert(Kind::SecurityGroupRule, &row).await?;
        Ok(view(&row))
    }

    pub async fn security_group_rule_get(&self, c: &Caller, id: &str) -> Result<Value> {
        Ok(view(&self.visible(c, Kind::SecurityGroupRule, id).await?))
    }

    pub async fn security_group_rule_list(&self, c: &Caller) -> Result<Vec<Value>> {
        if !c.project_id.is_empty() {
            self.default_security_group(&c.project_id).await?;
        }
        let groups = self.store.list(Kind::SecurityGroup, None, None).await?;
        let mut out = Vec::new();
        for r in self.store.list(Kind::SecurityGroupRule, None, None).await? {
            let visible = self.allowed(c, "get_security_group_rule", &target_of(&r))
                || groups
                    .iter()
                    .find(|g| Some(&g.id) == r.parent_id.as_ref())
                    .is_some_and(|g| self.allowed(c, "get_security_group", &target_of(g)));
            if visible {
                out.push(view(&r));
            }
        }
        Ok(out)
    }

    pub async fn security_group_rule_delete(&self, c: &Caller, id: &str) -> Result<()> {
        let row = self.visible(c, Kind::SecurityGroupRule, id).await?;
        self.authorize(c, "delete_security_group_rule", &target_of(&row))?;
        if !self.store.delete(Kind::SecurityGroupRule, id).await? {
            return Err(not_found(Kind::SecurityGroupRule, id));
        }
        Ok(())
    }
}

fn norm_prefix(b: &Value) -> Option<String> {
    match b.get("remote_ip_prefix").and_then(Value::as_str) {
        Some(p) if p == "0.0.0.0/0" || p == "::/0" => None,
        Some(p) => Some(p.to_string()),
        None => None,
    }
}

fn proto_number(v: Option<&Value>) -> Option<i64> {
    let s = v?.as_str()?;
    if s == "any" {
        return None;
    }
    s.parse()
        .ok()
        .or_else(|| PROTOCOLS.iter().find(|p| p.0 == s).map(|p| p.1))
}

/// The protocol as given (name or number) and its number; `None` for any.
fn protocol(v: Option<&Value>) -> Result<Option<(String, i64)>> {
    let text = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => s.to_lowercase(),
        Some(Value::Number(n)) => n.to_string(),
        Some(other) => other.to_string(),
    };
    if text == "any" || text.is_empty() {
        return Ok(None);
    }
    if let Ok(n) = text.parse::<i64>() {
        if (0..=255).contains(&n) {
            return Ok(Some((text, n)));
        }
    } else if let Some(p) = PROTOCOLS.iter().find(|p| p.0 == text) {
        return Ok(Some((text, p.1)));
    }
    Err(bad(format!(
        "Security group rule protocol {text} not supported. Only protocol values [None, 'ah', 'dccp', 'egp', 'esp', 'gre', 'hopopt', 'icmp', 'igmp', 'ipip', 'ipv6-encap', 'ipv6-frag', 'ipv6-icmp', 'icmpv6', 'ipv6-nonxt', 'ipv6-opts', 'ipv6-route', 'ospf', 'pgm', 'rsvp', 'sctp', 'tcp', 'udp', 'udplite', 'vrrp'] and integer representations [0 to 255] are supported."
    ))
    .with_type("SecurityGroupRuleInvalidProtocol"))
}

fn port(v: Option<&Value>, key: &str) -> Result<Option<i64>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .map(Some)
            .ok_or_else(|| {
                bad(format!(
                    "Invalid input for {key}. Reason: '{v}' is not an integer."
                ))
            }),
    }
}
