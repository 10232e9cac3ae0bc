//! Networks: shared and external flags, MTU, port security, provider attributes (admins),
//! segment allocation from the configured ranges.

use std::collections::HashMap;

use oxstack_common::{Error, Result};
use serde_json::{Map, Value, json};

use super::{
    App, Caller, boolean, invalid, merge, new_id, not_found, only_keys, owner, string, target_of,
    view,
};
use crate::store::resources::SegmentRequest;
use crate::store::{Kind, Row, Store};

const CREATE_KEYS: &[&str] = &[
    "name",
    "admin_state_up",
    "shared",
    "router:external",
    "mtu",
    "port_security_enabled",
    "description",
    "project_id",
    "tenant_id",
    "provider:network_type",
    "provider:physical_network",
    "provider:segmentation_id",
    "tags",
    "availability_zone_hints",
    "is_default",
];

const UPDATE_KEYS: &[&str] = &[
    "name",
    "admin_state_up",
    "shared",
    "router:external",
    "mtu",
    "port_security_enabled",
    "description",
    "is_default",
];

const PROVIDER: [&str; 3] = [
    "provider:network_type",
    "provider:physical_network",
    "provider:segmentation_id",
];

impl App {
    pub async fn network_create(&self, c: &Caller, m: &Map<String, Value>) -> Result<Value> {
        only_keys(m, CREATE_KEYS)?;
        let project = owner(c, m)?;
        let shared = boolean(m, "shared", false)?;
        let external = boolean(m, "router:external", false)?;
        let target = json!({"project_id": project, "tenant_id": project});
        self.authorize(c, "create_network", &target)?;
        if m.contains_key("shared") && shared {
            self.authorize(c, "create_network:shared", &target)?;
        }
        if m.contains_key("router:external") && external {
            self.authorize(c, "create_network:router:external", &target)?;
        }
        let wants_provider = PROVIDER.iter().any(|k| m.contains_key(*k));
        if wants_provider {
            self.authorize(c, "create_network:provider", &target)?;
        }
        let name = string(m, "name", 255)?.unwrap_or_default();
        let description = string(m, "description", 255)?.unwrap_or_default();
        self.check_quota(&project, "network", Kind::Network).await?;

        let segment = self.segment_request(m)?;
        let mtu_max = if segment.network_type == "vxlan" {
            self.config.global_physnet_mtu - 50
        } else {
            self.config.global_physnet_mtu
        };
        let mtu = match m.get("mtu") {
            None => mtu_max,
            Some(v) => match v.as_i64() {
                Some(n) if (68..=mtu_max).contains(&n) => n,
                _ => {
                    return Err(invalid(format!(
                        "Requested MTU is too big, maximum is {mtu_max}"
                    )));
                }
            },
        };
        let tags = m.get("tags").cloned().unwrap_or(json!([]));
        let body = json!({
            "name": name,
            "description": description,
            "admin_state_up": boolean(m, "admin_state_up", true)?,
            "shared": shared,
            "router:external": external,
            "mtu": mtu,
            "port_security_enabled": boolean(m, "port_security_enabled", true)?,
            "status": "ACTIVE",
            "provider:network_type": segment.network_type,
            "provider:physical_network": if segment.physical_network.is_empty() { Value::Null } else { json!(segment.physical_network) },
            "provider:segmentation_id": Value::Null,
            "availability_zone_hints": m.get("availability_zone_hints").cloned().unwrap_or(json!([])),
            "availability_zones": ["nova"],
            "ipv4_address_scope": Value::Null,
            "ipv6_address_scope": Value::Null,
            "is_default": boolean(m, "is_default", false)?,
            "l2_adjacency": true,
            "tags": tags,
        });
        let row = Store::new_row(new_id(), project, None, body);
        let seg = self.store.network_create(&row, Some(&segment)).await?;
        let mut row = row;
        if let Some(v) = seg {
            row.body["provider:segmentation_id"] = json!(v);
        }
        Ok(self.network_view(c, &row, &[]))
    }

    fn segment_request(&self, m: &Map<String, Value>) -> Result<SegmentRequest> {
        let ty = m
            .get("provider:network_type")
            .and_then(Value::as_str)
            .unwrap_or(&self.config.tenant_network_type)
            .to_string();
        let physnet = m
            .get("provider:physical_network")
            .and_then(Value::as_str)
            .map(str::to_string);
        let seg_id = match m.get("provider:segmentation_id") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_i64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                    .ok_or_else(|| invalid("segmentation_id must be an integer"))?,
            ),
        };
        match ty.as_str() {
            "vxlan" => {
                if physnet.is_some() {
                    return Err(invalid(
                        "provider:physical_network specified for vxlan network",
                    ));
                }
                if let Some(v) = seg_id
                    && !(1..=16_777_215).contains(&v)
                {
                    return Err(invalid("segmentation_id out of range (1 through 16777215)"));
                }
                Ok(SegmentRequest {
                    network_type: ty,
                    physical_network: String::new(),
                    segmentation_id: seg_id,
                    ranges: self.config.vxlan(),
                })
            }
            "vlan" => {
                let ranges = self.config.vlan();
                let physnet = match physnet {
                    Some(p) => p,
                    None => ranges
                        .first()
                        .map(|r| r.0.clone())
                        .ok_or_else(|| invalid("provider:physical_network required"))?,
                };
                if let Some(v) = seg_id
                    && !(1..=4094).contains(&v)
                {
                    return Err(invalid("segmentation_id out of range (1 through 4094)"));
                }
                let ranges = ranges
                    .into_iter()
                    .filter(|r| r.0 == physnet)
                    .map(|r| (r.1, r.2))
                    .collect();
                Ok(SegmentRequest {
                    network_type: ty,
                    physical_network: physnet,
                    segmentation_id: seg_id,
                    ranges,
                })
            }
            "flat" => {
                let physnet = physnet.ok_or_else(|| {
                    invalid("physical_network required for flat provider network")
                })?;
                if seg_id.is_some() {
                    return Err(invalid(
                        "provider:segmentation_id specified for flat network",
                    ));
                }
                if !self
                    .config
                    .flat_networks
                    .iter()
                    .any(|f| f == &physnet || f == "*")
                {
                    return Err(invalid(format!(
                        "physical_network '{physnet}' unknown for flat provider network"
                    )));
                }
                Ok(SegmentRequest {
                    network_type: ty,
                    physical_network: physnet,
                    segmentation_id: None,
                    ranges: vec![],
                })
            }
            "local" => Ok(SegmentRequest {
                network_type: ty,
                physical_network: String::new(),
                segmentation_id: None,
                ranges: vec![],
            }),
            other => Err(invalid(format!(
                "network_type value '{other}' not supported"
            ))),
        }
    }

    /// A network as the caller may see it, with its subnets.
    pub(crate) fn network_view(&self, c: &Caller, row: &Row, subnets: &[String]) -> Value {
        let mut v = view(row);
        v["subnets"] = json!(subnets);
        if !self.allowed(c, "get_network:provider", &target_of(row))
            && let Some(o) = v.as_object_mut()
        {
            for k in PROVIDER {
                o.remove(k);
            }
        }
        v
    }

    pub async fn network_get(&self, c: &Caller, id: &str) -> Result<Value> {
        let row = self.visible(c, Kind::Network, id).await?;
        let subnets = self.subnet_ids(id).await?;
        Ok(self.network_view(c, &row, &subnets))
    }

    pub(crate) async fn subnet_ids(&self, network: &str) -> Result<Vec<String>> {
        Ok(self
            .store
            .list(Kind::Subnet, None, Some(network))
            .await?
            .into_iter()
            .map(|r| r.id)
            .collect())
    }

    pub async fn network_list(&self, c: &Caller) -> Result<Vec<Value>> {
        let rows = self.store.list(Kind::Network, None, None).await?;
        let mut subnets: HashMap<String, Vec<String>> = HashMap::new();
        for s in self.store.list(Kind::Subnet, None, None).await? {
            subnets
                .entry(s.parent_id.clone().unwrap_or_default())
                .or_default()
                .push(s.id);
        }
        let mut out = Vec::new();
        for r in rows {
            if self.allowed(c, "get_network", &target_of(&r)) {
                let s = subnets.get(&r.id).cloned().unwrap_or_default();
                out.push(self.network_view(c, &r, &s));
            }
        }
        Ok(out)
    }

    pub async fn network_update(
        &self,
        c: &Caller,
        id: &str,
        m: &Map<String, Value>,
        expect: Option<i64>,
    ) -> Result<Value> {
        let row = self.visible(c, Kind::Network, id).await?;
        if let Some(k) = m.keys().find(|k| PROVIDER.contains(&k.as_str())) {
            return Err(invalid(format!(
                "Plugin does not support updating the following provider network attributes: {k}"
            )));
        }
        only_keys(m, UPDATE_KEYS)?;
        let target = target_of(&row);
        self.authorize(c, "update_network", &target)?;
        if m.contains_key("shared") {
            self.authorize(c, "update_network:shared", &target)?;
        }
        if m.contains_key("router:external") {
            self.authorize(c, "update_network:router:external", &target)?;
        }
        string(m, "name", 255)?;
        string(m, "description", 255)?;
        let mut body = row.body.clone();
        merge(&mut body, m, &["name", "description", "mtu"]);
        for k in [
            "admin_state_up",
            "shared",
            "router:external",
            "port_security_enabled",
            "is_default",
        ] {
            if m.contains_key(k) {
                body[k] = json!(boolean(m, k, false)?);
            }
        }
        if row.body.get("shared") == Some(&json!(true)) && body.get("shared") == Some(&json!(false))
        {
            // Neutron refuses to unshare while other projects have ports on it.
            let ports = self.store.list(Kind::Port, None, Some(id)).await?;
            if ports
                .iter()
                .any(|p| p.project_id != row.project_id && !p.project_id.is_empty())
            {
                return Err(Error::conflict(format!(
                    "Unable to reconfigure sharing settings for network {id}. Multiple tenants are using it."
                ))
                .with_type("InvalidSharedSetting"));
            }
        }
        let row = self.store.update(Kind::Network, id, &body, expect).await?;
        let subnets = self.subnet_ids(id).await?;
        Ok(self.network_view(c, &row, &subnets))
    }

    pub async fn network_delete(&self, c: &Caller, id: &str) -> Result<()> {
        let row = self.visible(c, Kind::Network, id).await?;
        self.authorize(c, "delete_network", &target_of(&row))?;
        // Floating IPs allocated on the network go with it.
        for fip in self.store.list(Kind::FloatingIp, None, Some(id)).await? {
            self.store.delete(Kind::FloatingIp, &fip.id).await?;
        }
        let ports = self.store.list(Kind::Port, None, Some(id)).await?;
        let in_use = ports.iter().any(|p| {
            let owner = p
                .body
                .get("device_owner")
                .and_then(Value::as_str)
                .unwrap_or("");
            owner != "network:dhcp" && owner != "network:floatingip"
        });
        if in_use {
            return Err(Error::conflict(format!(
                "Unable to complete operation on network {id}. There are one or more ports still in use on the network."
            ))
            .with_type("NetworkInUse"));
        }
        for p in ports {
            self.store.port_delete(&p.id).await?;
        }
        for s in self.store.list(Kind::Subnet, None, Some(id)).await? {
            self.store.delete(Kind::Subnet, &s.id).await?;
        }
        if !self.store.network_delete(id).await? {
            return Err(not_found(Kind::Network, id));
        }
        Ok(())
    }

    /// A network the caller may use for a subnet or port, else 404.
    pub(crate) async fn network_for_use(&self, c: &Caller, id: &Value) -> Result<Row> {
        let id = super::uuid_of(id, "network_id")
            .map_err(|_| not_found(Kind::Network, id.as_str().unwrap_or_default()))?;
        self.visible(c, Kind::Network, &id).await
    }
}
