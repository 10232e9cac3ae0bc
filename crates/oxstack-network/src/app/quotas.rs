//! Quotas per project: the configured defaults, overridden per project by admins.

use oxstack_common::Result;
use serde_json::{Map, Value, json};

use super::{App, Caller, bad};
use crate::store::Kind;

/// The quota resources, with the kind counted for usage.
pub const QUOTA_RESOURCES: &[(&str, Option<Kind>)] = &[
    ("network", Some(Kind::Network)),
    ("subnet", Some(Kind::Subnet)),
    ("port", Some(Kind::Port)),
    ("router", Some(Kind::Router)),
    ("floatingip", Some(Kind::FloatingIp)),
    ("security_group", Some(Kind::SecurityGroup)),
    ("security_group_rule", Some(Kind::SecurityGroupRule)),
    ("subnetpool", Some(Kind::SubnetPool)),
];

impl App {
    fn quota_default(&self, resource: &str) -> i64 {
        let q = &self.config.quotas;
        match resource {
            "network" => q.network,
            "subnet" => q.subnet,
            "port" => q.port,
            "router" => q.router,
            "floatingip" => q.floatingip,
            "security_group" => q.security_group,
            "security_group_rule" => q.security_group_rule,
            "subnetpool" => q.subnetpool,
            _ => -1,
        }
    }

    pub(crate) async fn quota_limit(&self, project: &str, resource: &str) -> Result<i64> {
        let over = self.store.quotas(project).await?;
        Ok(over
            .iter()
            .find(|(r, _)| r == resource)
            .map(|(_, l)| *l)
            .unwrap_or_else(|| self.quota_default(resource)))
    }

    fn quota_defaults(&self) -> Map<String, Value> {
        QUOTA_RESOURCES
            .iter()
            .map(|(r, _)| (r.to_string(), json!(self.quota_default(r))))
            .collect()
    }

    async fn quota_values(&self, project: &str) -> Result<Map<String, Value>> {
        let mut out = self.quota_defaults();
        for (r, l) in self.store.quotas(project).await? {
            out.insert(r, json!(l));
        }
        Ok(out)
    }

    pub async fn quota_get(&self, c: &Caller, project: &str) -> Result<Value> {
        self.authorize(
            c,
            "get_quota",
            &json!({"project_id": project, "tenant_id": project}),
        )?;
        Ok(Value::Object(self.quota_values(project).await?))
    }

    pub async fn quota_default_get(&self, c: &Caller, project: &str) -> Result<Value> {
        self.authorize(
            c,
            "get_quota",
            &json!({"project_id": project, "tenant_id": project}),
        )?;
        Ok(Value::Object(self.quota_defaults()))
    }

    pub async fn quota_details(&self, c: &Caller, project: &str) -> Result<Value> {
        self.authorize(
            c,
            "get_quota",
            &json!({"project_id": project, "tenant_id": project}),
        )?;
        let limits = self.quota_values(project).await?;
        let mut out = Map::new();
        for (r, kind) in QUOTA_RESOURCES {
            let used = match kind {
                Some(k) => self.store.count(*k, project).await?,
                None => 0,
            };
            out.insert(
                r.to_string(),
                json!({"limit": limits.get(*r).cloned().unwrap_or(json!(-1)), "used": used, "reserved": 0}),
            );
        }
        Ok(Value::Object(out))
    }

    pub async fn quota_list(&self, c: &Caller) -> Result<Vec<Value>> {
        self.authorize(c, "get_quotas", &json!({}))?;
        let mut out = Vec::new();
        for p in self.store.quota_projects().await? {
            let mut q = self.quota_values(&p).await?;
            q.insert("project_id".into(), json!(p));
            q.insert("tenant_id".into(), json!(p));
            out.push(Value::Object(q));
        }
        Ok(out)
    }

    pub async fn quota_update(
        &self,
        c: &Caller,
        project: &str,
        m: &Map<String, Value>,
    ) -> Result<Value> {
        self.authorize(
            c,
            "update_quota",
            &json!({"project_id": project, "tenant_id": project}),
        )?;
        let mut values = Vec::new();
        for (k, v) in m {
            if k == "force" || k == "check_limit" {
                continue;
            }
            if !QUOTA_RESOURCES.iter().any(|(r, _)| r == k) {
                return Err(bad(format!("Unrecognized attribute(s) '{k}'")));
            }
            let n = v
                .as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .filter(|n| *n >= -1)
                .ok_or_else(|| {
                    bad(format!(
                        "Invalid input for {k}. Reason: '{v}' is not an integer or is smaller than -1."
                    ))
                })?;
            values.push((k.clone(), n));
        }
        self.store.quota_set(project, &values).await?;
        Ok(Value::Object(self.quota_values(project).await?))
    }

    pub async fn quota_delete(&self, c: &Caller, project: &str) -> Result<()> {
        self.authorize(
            c,
            "delete_quota",
            &json!({"project_id": project, "tenant_id": project}),
        )?;
        self.store.quota_delete(project).await?;
        Ok(())
    }

    /// `GET /v2.0/network-ip-availabilities`: used and total addresses per network/subnet.
    pub async fn ip_availabilities(&self, c: &Caller) -> Result<Vec<Value>> {
        self.authorize(c, "get_network_ip_availability", &json!({}))?;
        let mut out = Vec::new();
        for n in self.store.list(Kind::Network, None, None).await? {
            let mut subnets = Vec::new();
            let (mut used_all, mut total_all) = (0i64, 0i128);
            for s in self.store.list(Kind::Subnet, None, Some(&n.id)).await? {
                let used = self.store.ip_used(&s.id).await?;
                let total: i128 = super::subnets::ranges_of(&s)?
                    .pools
                    .iter()
                    .map(|(a, b)| (b - a + 1).min(i64::MAX as u128) as i128)
                    .sum();
                used_all += used;
                total_all += total;
                subnets.push(json!({
                    "subnet_id": s.id,
                    "subnet_name": s.body.get("name").cloned().unwrap_or(json!("")),
                    "cidr": s.body.get("cidr").cloned().unwrap_or(Value::Null),
                    "ip_version": s.body.get("ip_version").cloned().unwrap_or(Value::Null),
                    "used_ips": used,
                    "total_ips": total.min(i64::MAX as i128) as i64,
                }));
            }
            out.push(json!({
                "network_id": n.id,
                "network_name": n.body.get("name").cloned().unwrap_or(json!("")),
                "project_id": n.project_id,
                "tenant_id": n.project_id,
                "used_ips": used_all,
                "total_ips": total_all.min(i64::MAX as i128) as i64,
                "subnet_ip_availability": subnets,
            }));
        }
        Ok(out)
    }
}
