//! Ports with their MAC address and fixed IPs, allocated atomically.
//!
//! An address belongs to a port once its `(subnet_id, ip_address)` row is inserted; the
//! primary key makes a second insert of the same address fail on every engine (SQLite
//! serializes writers; MariaDB and PostgreSQL block the second insert until the first
//! commits, then refuse it). The transaction that lost rolls back and picks again, spreading
//! its next picks over the first free addresses so that a crowd of concurrent creates
//! converges quickly.

use std::collections::HashSet;

use oxstack_common::db::Db;
use serde_json::{Value, json};

use super::resources::{delete_in, insert_in, update_in};
use super::{Attempt, Kind, Result, Row, Store, StoreError, Tx, retrying};
use crate::ip;

/// How a port gets its MAC address.
#[derive(Debug, Clone)]
pub enum MacChoice {
    /// The caller's (refused with `MacInUse` when the network has it).
    Given(String),
    /// A fresh `fa:16:3e:xx:xx:xx`, unique on the network.
    Generate,
}

/// One fixed IP wanted: an address in a subnet, or any free one of the subnet.
#[derive(Debug, Clone)]
pub struct IpRequest {
    pub subnet_id: String,
    pub address: Option<u128>,
    /// An IPv6 SLAAC address: the subnet prefix with the EUI-64 of the port's MAC.
    pub eui64: bool,
}

/// The EUI-64 interface identifier of a MAC address (the low 64 bits of a SLAAC address).
pub fn eui64(mac: &str) -> Option<u128> {
    let b: Vec<u8> = mac
        .split(':')
        .map(|p| u8::from_str_radix(p, 16))
        .collect::<std::result::Result<_, _>>()
        .ok()?;
    if b.len() != 6 {
        return None;
    }
    let id = [b[0] ^ 0x02, b[1], b[2], 0xff, 0xfe, b[3], b[4], b[5]];
    Some(id.iter().fold(0u128, |acc, x| (acc << 8) | *x as u128))
}

/// What IPAM needs of a subnet: its version and allocation pools.
#[derive(Debug, Clone)]
pub struct SubnetRanges {
    pub subnet_id: String,
    pub network_id: String,
    pub version: u8,
    pub pools: Vec<(u128, u128)>,
}

/// A port to create or update: the row (its body gets `mac_address` and `fixed_ips`), the
/// MAC choice and the fixed IPs wanted.
#[derive(Debug, Clone)]
pub struct PortWrite {
    pub row: Row,
    pub mac: MacChoice,
    pub ips: Vec<IpRequest>,
    pub subnets: Vec<SubnetRanges>,
}

fn random_mac() -> String {
    use rand::RngExt as _;
    let mut rng = rand::rng();
    let b: [u8; 3] = [rng.random(), rng.random(), rng.random()];
    format!("fa:16:3e:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2])
}

enum Got<T> {
    Ok(T),
    Lost,
}

async fn take_mac(
    db: &Db,
    tx: &mut Tx,
    network: &str,
    port: &str,
    mac: &MacChoice,
) -> Result<Got<String>> {
    let m = match mac {
        MacChoice::Given(m) => m.to_lowercase(),
        MacChoice::Generate => random_mac(),
    };
    let r = db
        .query(
            "INSERT INTO neutron_mac_address (network_id, mac_address, port_id) VALUES (?, ?, ?)",
        )
        .bind(network.to_string())
        .bind(m.clone())
        .bind(port.to_string())
        .execute(&mut **tx)
        .await;
    match r {
        Ok(_) => Ok(Got::Ok(m)),
        Err(e) if Db::is_unique_violation(&e) => match mac {
            MacChoice::Given(_) => Err(StoreError::MacInUse(m)),
            MacChoice::Generate => Ok(Got::Lost),
        },
        Err(e) => Err(e.into()),
    }
}

/// Allocates every requested address for `port`; `Lost` when a racing transaction took one.
async fn take_ips(
    db: &Db,
    tx: &mut Tx,
    port: &str,
    w: &PortWrite,
    mac: &str,
    attempt: usize,
) -> Result<Got<Vec<Value>>> {
    let mut out = Vec::new();
    for req in &w.ips {
        let Some(s) = w.subnets.iter().find(|s| s.subnet_id == req.subnet_id) else {
            return Err(StoreError::NotFound);
        };
        let wanted = match (req.address, req.eui64) {
            (None, true) => {
                let net = s.pools.first().map(|p| p.0).unwrap_or_default() & !(u64::MAX as u128);
                eui64(mac).map(|id| net | id)
            }
            (a, _) => a,
        };
        let addr = match wanted {
            Some(a) => {
                let text = ip::render(s.version, a);
                let taken: Option<String> = db
                    .query_scalar("SELECT port_id FROM neutron_ip_allocation WHERE subnet_id = ? AND ip_address = ?")
                    .bind(s.subnet_id.clone())
                    .bind(text.clone())
                    .fetch_optional(&mut **tx)
                    .await?;
                if taken.is_some() {
                    return Err(StoreError::IpInUse {
                        ip: text,
                        subnet: s.subnet_id.clone(),
                    });
                }
                text
            }
            None => {
                let taken: Vec<String> = db
                    .query_scalar(
                        "SELECT ip_address FROM neutron_ip_allocation WHERE subnet_id = ?",
                    )
                    .bind(s.subnet_id.clone())
                    .fetch_all(&mut **tx)
                    .await?;
                let taken: HashSet<u128> = taken
                    .iter()
                    .filter_map(|t| ip::parse_ip(t).map(|(_, v)| v))
                    .collect();
                // The first attempt takes the lowest free address; retries spread out over
                // the first free ones so that concurrent creates stop colliding.
                let window = if attempt == 0 { 1 } else { 64 };
                let mut free = Vec::new();
                'pools: for (a, b) in &s.pools {
                    let mut v = *a;
                    while v <= *b {
                        if !taken.contains(&v) {
                            free.push(v);
                            if free.len() >= window {
                                break 'pools;
                            }
                        }
                        if v == u128::MAX {
                            break;
                        }
                        v += 1;
                    }
                }
                if free.is_empty() {
                    return Err(StoreError::Exhausted(s.subnet_id.clone()));
                }
                use rand::RngExt as _;
                let pick = free[rand::rng().random_range(0..free.len())];
                ip::render(s.version, pick)
            }
        };
        let r = db
            .query("INSERT INTO neutron_ip_allocation (subnet_id, ip_address, network_id, port_id) VALUES (?, ?, ?, ?)")
            .bind(s.subnet_id.clone())
            .bind(addr.clone())
            .bind(s.network_id.clone())
            .bind(port.to_string())
            .execute(&mut **tx)
            .await;
        match r {
            Ok(_) => {}
            Err(e) if Db::is_unique_violation(&e) => return Ok(Got::Lost),
            Err(e) => return Err(e.into()),
        }
        out.push(json!({"subnet_id": s.subnet_id, "ip_address": addr}));
    }
    Ok(Got::Ok(out))
}

async fn release(db: &Db, tx: &mut Tx, port: &str, mac_too: bool) -> Result<()> {
    db.query("DELETE FROM neutron_ip_allocation WHERE port_id = ?")
        .bind(port.to_string())
        .execute(&mut **tx)
        .await?;
    if mac_too {
        db.query("DELETE FROM neutron_mac_address WHERE port_id = ?")
            .bind(port.to_string())
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

impl Store {
    /// Creates a port: MAC, fixed IPs and row in one transaction.
    pub async fn port_create(&self, w: &PortWrite) -> Result<Row> {
        let db = &self.db;
        let network = w.row.parent_id.clone().unwrap_or_default();
        let mut attempt = 0usize;
        retrying!(db, "port create", |tx| {
            attempt += 1;
            async {
                let mac = match take_mac(db, &mut tx, &network, &w.row.id, &w.mac).await? {
                    Got::Ok(m) => m,
                    Got::Lost => return Ok(Attempt::Retry),
                };
                let ips = match take_ips(db, &mut tx, &w.row.id, w, &mac, attempt - 1).await? {
                    Got::Ok(v) => v,
                    Got::Lost => return Ok(Attempt::Retry),
                };
                let mut row = w.row.clone();
                if let Some(o) = row.body.as_object_mut() {
                    o.insert("mac_address".into(), Value::from(mac));
                    o.insert("fixed_ips".into(), Value::Array(ips));
                }
                insert_in(db, &mut tx, Kind::Port, &row).await?;
                Ok(Attempt::Done(row))
            }
            .await
        })
    }

    /// Updates a port's body; when `w.ips` is given, its fixed IPs are replaced by them
    /// (addresses it keeps must be requested again) and when the MAC is given it is changed.
    pub async fn port_update(
        &self,
        id: &str,
        w: &PortWrite,
        new_ips: bool,
        new_mac: bool,
        expect: Option<i64>,
    ) -> Result<Row> {
        let db = &self.db;
        let network = w.row.parent_id.clone().unwrap_or_default();
        let mut attempt = 0usize;
        retrying!(db, "port update", |tx| {
            attempt += 1;
            async {
                let mut body = w.row.body.clone();
                if new_mac {
                    db.query("DELETE FROM neutron_mac_address WHERE port_id = ?")
                        .bind(id.to_string())
                        .execute(&mut *tx)
                        .await?;
                    match take_mac(db, &mut tx, &network, id, &w.mac).await? {
                        Got::Ok(m) => {
                            if let Some(o) = body.as_object_mut() {
                                o.insert("mac_address".into(), Value::from(m));
                            }
                        }
                        Got::Lost => return Ok(Attempt::Retry),
                    }
                }
                if new_ips {
                    release(db, &mut tx, id, false).await?;
                    let mac = body
                        .get("mac_address")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string();
                    match take_ips(db, &mut tx, id, w, &mac, attempt - 1).await? {
                        Got::Ok(v) => {
                            if let Some(o) = body.as_object_mut() {
                                o.insert("fixed_ips".into(), Value::Array(v));
                            }
                        }
                        Got::Lost => return Ok(Attempt::Retry),
                    }
                }
                update_in(db, &mut tx, Kind::Port, id, &body, expect).await
            }
            .await
        })
    }

    /// Deletes a port, freeing its addresses and MAC.
    pub async fn port_delete(&self, id: &str) -> Result<bool> {
        let mut tx = self.db.begin_write().await?;
        release(&self.db, &mut tx, id, true).await?;
        let done = delete_in(&self.db, &mut tx, Kind::Port, id).await?;
        tx.commit().await?;
        Ok(done)
    }

    /// How many addresses of `subnet` are allocated.
    pub async fn ip_used(&self, subnet: &str) -> Result<i64> {
        Ok(self
            .db
            .query_scalar::<i64>("SELECT COUNT(*) FROM neutron_ip_allocation WHERE subnet_id = ?")
            .bind(subnet.to_string())
            .fetch_one(self.db.pool())
            .await?)
    }

    /// The ports holding an address in `subnet`.
    pub async fn ports_on_subnet(&self, subnet: &str) -> Result<Vec<String>> {
        Ok(self
            .db
            .query_scalar::<String>(
                "SELECT DISTINCT port_id FROM neutron_ip_allocation WHERE subnet_id = ?",
            )
            .bind(subnet.to_string())
            .fetch_all(self.db.pool())
            .await?)
    }
}
