//! Subnet pools: prefixes from which subnets take their CIDR (`subnet_allocation`).

use oxstack_common::{Error, Result};
use serde_json::{Map, Value, json};

use super::{
    App, Caller, bad, boolean, merge, new_id, not_found, only_keys, owner, string, target_of, view,
};
use crate::ip::{self, Cidr};
use crate::store::{Kind, Row, Store};

const KEYS: &[&str] = &[
    "name",
    "description",
    "prefixes",
    "default_prefixlen",
    "min_prefixlen",
    "max_prefixlen",
    "shared",
    "is_default",
    "default_quota",
    "address_scope_id",
    "project_id",
    "tenant_id",
    "tags",
];

fn prefixes(v: Option<&Value>) -> Result<Vec<Cidr>> {
    let arr = match v {
        Some(Value::Array(a)) => a.clone(),
        Some(Value::String(s)) => vec![json!(s)],
        _ => {
            return Err(bad(
                "Invalid input for prefixes. Reason: a list of prefixes is required.",
            ));
        }
    };
    let mut out: Vec<Cidr> = Vec::new();
    for p in arr {
        let s = p.as_str().unwrap_or_default();
        let c = Cidr::parse(s, false)
            .filter(|_| s.contains('/'))
            .ok_or_else(|| {
                bad(format!(
                    "Invalid input for prefixes. Reason: '{s}' is not a valid IP subnet."
                ))
            })?;
        if out.first().is_some_and(|f| f.version != c.version) {
            return Err(bad(
                "Illegal subnetpool: Cannot mix IPv4 and IPv6 prefixes in a subnet pool.",
            )
            .with_type("IllegalSubnetPoolPrefixUpdate"));
        }
        out.push(c);
    }
    if out.is_empty() {
        return Err(bad(
            "Invalid input for prefixes. Reason: a list of prefixes is required.",
        ));
    }
    Ok(out)
}

fn int(m: &Map<String, Value>, k: &str, default: i64) -> Result<i64> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v
            .as_i64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .ok_or_else(|| {
                bad(format!(
                    "Invalid input for {k}. Reason: '{v}' is not an integer."
                ))
            }),
    }
}

impl App {
    pub async fn subnetpool_create(&self, c: &Caller, m: &Map<String, Value>) -> Result<Value> {
        only_keys(m, KEYS)?;
        let project = owner(c, m)?;
        let target = json!({"project_id": project, "tenant_id": project});
        self.authorize(c, "create_subnetpool", &target)?;
        let shared = boolean(m, "shared", false)?;
        if shared {
            self.authorize(c, "create_subnetpool:shared", &target)?;
        }
        let pfx = prefixes(m.get("prefixes"))?;
        let version = pfx[0].version;
        let bits = ip::bits(version) as i64;
        let min = int(m, "min_prefixlen", if version == 4 { 8 } else { 64 })?;
        let max = int(m, "max_prefixlen", bits)?;
        let default = int(m, "default_prefixlen", min)?;
        if !(0..=bits).contains(&min)
            || !(min..=bits).contains(&max)
            || !(min..=max).contains(&default)
        {
            return Err(bad(
                "Illegal prefix bounds: min_prefixlen <= default_prefixlen <= max_prefixlen.",
            )
            .with_type("IllegalSubnetPoolPrefixBounds"));
        }
        let body = json!({
            "name": string(m, "name", 255)?.unwrap_or_default(),
            "description": string(m, "description", 255)?.unwrap_or_default(),
            "prefixes": pfx.iter().map(Cidr::to_string_canonical).collect::<Vec<_>>(),
            "ip_version": version,
            "min_prefixlen": min,
            "max_prefixlen": max,
            "default_prefixlen": default,
            "shared": shared,
            "is_default": boolean(m, "is_default", false)?,
            "default_quota": m.get("default_quota").cloned().unwrap_or(Value::Null),
            "address_scope_id": m.get("address_scope_id").cloned().unwrap_or(Value::Null),
            "tags": m.get("tags").cloned().unwrap_or(json!([])),
        });
        let row = Store::new_row(new_id(), project, None, body);
        self.store.insert(Kind::SubnetPool, &row).await?;
        Ok(view(&row))
    }

    pub async fn subnetpool_get(&self, c: &Caller, id: &str) -> Result<Value> {
        Ok(view(&self.visible(c, Kind::SubnetPool, id).await?))
    }

    pub async fn subnetpool_list(&self, c: &Caller) -> Result<Vec<Value>> {
        Ok(self
            .store
            .list(Kind::SubnetPool, None, None)
            .await?
            .iter()
            .filter(|r| self.allowed(c, "get_subnetpool", &target_of(r)))
            .map(view)
            .collect())
    }

    pub async fn subnetpool_update(
        &self,
        c: &Caller,
        id: &str,
        m: &Map<String, Value>,
        expect: Option<i64>,
    ) -> Result<Value> {
        let row = self.visible(c, Kind::SubnetPool, id).await?;
        only_keys(m, KEYS)?;
        self.authorize(c, "update_subnetpool", &target_of(&row))?;
        string(m, "name", 255)?;
        let mut body = row.body.clone();
        merge(
            &mut body,
            m,
            &["name", "description", "default_quota", "tags"],
        );
        for k in ["min_prefixlen", "max_prefixlen", "default_prefixlen"] {
            if m.contains_key(k) {
                body[k] = json!(int(m, k, 0)?);
            }
        }
        if m.contains_key("is_default") {
            body["is_default"] = json!(boolean(m, "is_default", false)?);
        }
        if m.contains_key("prefixes") {
            let new = prefixes(m.get("prefixes"))?;
            body["prefixes"] = json!(
                new.iter()
                    .map(Cidr::to_string_canonical)
                    .collect::<Vec<_>>()
            );
        }
        let row = self
            .store
            .update(Kind::SubnetPool, id, &body, expect)
            .await?;
        Ok(view(&row))
    }

    pub async fn subnetpool_delete(&self, c: &Caller, id: &str) -> Result<()> {
        let row = self.visible(c, Kind::SubnetPool, id).await?;
        self.authorize(c, "delete_subnetpool", &target_of(&row))?;
        let in_use = self
            .store
            .list(Kind::Subnet, None, None)
            .await?
            .iter()
            .any(|s| s.body.get("subnetpool_id") == Some(&json!(id)));
        if in_use {
            return Err(Error::conflict(format!(
                "Subnet pool {id} could not be deleted: subnets use it."
            ))
            .with_type("SubnetPoolInUse"));
        }
        if !self.store.delete(Kind::SubnetPool, id).await? {
            return Err(not_found(Kind::SubnetPool, id));
        }
        Ok(())
    }

    /// A free prefix of `prefixlen` (default: the pool's) from the pool, or the given CIDR
    /// checked to lie inside it.
    pub(crate) async fn subnetpool_allocate(
        &self,
        c: &Caller,
        pool_id: &Value,
        cidr: Option<Cidr>,
        prefixlen: Option<i64>,
    ) -> Result<(Row, Cidr)> {
        let id = pool_id.as_str().unwrap_or_default();
        let pool = self.visible(c, Kind::SubnetPool, id).await?;
        let pfx = prefixes(pool.body.get("prefixes"))?;
        let used: Vec<Cidr> = self
            .store
            .list(Kind::Subnet, None, None)
            .await?
            .iter()
            .filter(|s| s.body.get("subnetpool_id") == Some(&json!(id)))
            .filter_map(|s| {
                s.body
                    .get("cidr")
                    .and_then(Value::as_str)
                    .and_then(|t| Cidr::parse(t, false))
            })
            .collect();
        if let Some(c) = cidr {
            if !pfx
                .iter()
                .any(|p| p.contains(c.first()) && p.contains(c.last()))
            {
                return Err(bad(format!(
                    "Unsupported request type: cidr {} is not in subnet pool {id}",
                    c.to_string_canonical()
                )));
            }
            return Ok((pool, c));
        }
        let len = prefixlen
            .or_else(|| pool.body.get("default_prefixlen").and_then(Value::as_i64))
            .unwrap_or(24);
        let version = pfx[0].version;
        if len < 0 || len > ip::bits(version) as i64 {
            return Err(bad(format!("Invalid input for prefixlen. Reason: {len}")));
        }
        let size: u128 = if len as u8 >= ip::bits(version) {
            1
        } else {
            1u128 << (ip::bits(version) - len as u8)
        };
        for p in &pfx {
            if (len as u8) < p.prefix {
                continue;
            }
            let mut start = p.first();
            while start <= p.last() {
                let cand = Cidr {
                    version,
                    net: start,
                    prefix: len as u8,
                };
                if !used.iter().any(|u| u.overlaps(&cand)) {
                    return Ok((pool, cand));
                }
                match start.checked_add(size) {
                    Some(n) => start = n,
                    None => break,
                }
            }
        }
        Err(Error::conflict(format!(
            "Subnet allocation failed: no prefix of length {len} is free in subnet pool {id}."
        ))
        .with_type("SubnetAllocationError"))
    }
}
