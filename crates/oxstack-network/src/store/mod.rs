//! The networking store: SQL for every Neutron resource, IP and MAC allocation, segment
//! allocation, default security groups and quotas. Holds no HTTP types; returns [`Row`]s and
//! [`StoreError`]s the logic layer turns into Neutron errors.
//!
//! IPAM is atomic on every engine because an address is taken by inserting its
//! `(subnet_id, ip_address)` key: two transactions that picked the same free address cannot
//! both commit; the loser rolls back and picks again (see [`ports`]).

pub mod migrations;
mod ports;
pub mod resources;

use std::time::Duration;

use oxstack_common::db::Db;
use serde_json::Value;
use sqlx::Any;

pub use migrations::MIGRATIONS;
pub use ports::{IpRequest, MacChoice, PortWrite, SubnetRanges, eui64};

/// The resource kinds, each with its table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Network,
    Subnet,
    SubnetPool,
    Port,
    Router,
    FloatingIp,
    SecurityGroup,
    SecurityGroupRule,
}

impl Kind {
    pub(crate) fn table(self) -> &'static str {
        match self {
            Kind::Network => "neutron_network",
            Kind::Subnet => "neutron_subnet",
            Kind::SubnetPool => "neutron_subnetpool",
            Kind::Port => "neutron_port",
            Kind::Router => "neutron_router",
            Kind::FloatingIp => "neutron_floatingip",
            Kind::SecurityGroup => "neutron_security_group",
            Kind::SecurityGroupRule => "neutron_security_group_rule",
        }
    }
}

/// One resource: the standard attributes plus its API attributes (`body`, a JSON object).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub id: String,
    pub project_id: String,
    pub parent_id: Option<String>,
    pub body: Value,
    pub revision_number: i64,
    /// Microseconds since the epoch.
    pub created_at: i64,
    pub updated_at: i64,
}

/// What the store can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("duplicate entry")]
    Duplicate,
    #[error("not found")]
    NotFound,
    /// `If-Match` named another revision.
    #[error("revision mismatch")]
    RevisionMismatch,
    /// A requested address is taken.
    #[error("IP address {ip} already allocated in subnet {subnet}")]
    IpInUse { ip: String, subnet: String },
    /// No free address left in the subnet's pools.
    #[error("no more IP addresses available in subnet {0}")]
    Exhausted(String),
    /// A requested MAC address is taken on the network.
    #[error("MAC address {0} in use")]
    MacInUse(String),
    /// A requested segmentation id is taken.
    #[error("segmentation id in use")]
    SegmentInUse,
    /// No segmentation id is left in the configured ranges.
    #[error("no segmentation id available")]
    NoSegment,
    /// Too many lost races.
    #[error("{0}")]
    Conflict(String),
    #[error("database failure")]
    Sql(#[source] sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if Db::is_unique_violation(&e) {
            StoreError::Duplicate
        } else {
            StoreError::Sql(e)
        }
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// How many times a write that lost a race is retried.
pub const WRITE_RETRIES: usize = 60;

/// Whether a database error means "another transaction got there first; try again".
pub(crate) fn is_retryable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => {
            let code = d.code().map(|c| c.into_owned()).unwrap_or_default();
            matches!(
                code.as_str(),
                "1213" | "1205" | "40001" | "40P01" | "5" | "6" | "517" | "261"
            ) || d.message().contains("Deadlock")
                || d.message().contains("database is locked")
        }
        _ => false,
    }
}

/// The result of one attempt of a write transaction.
pub(crate) enum Attempt<T> {
    Done(T),
    /// Lost a race; roll back and run the attempt again.
    Retry,
}

pub(crate) async fn backoff(attempt: usize) {
    use rand::RngExt as _;
    let cap = 2 + (attempt as u64).min(20);
    let ms = rand::rng().random_range(0..cap);
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

/// Runs `$body` (using the transaction `$tx`, returning `Result<Attempt<T>>`) in write
/// transactions until it commits, fails for a reason other than a lost race, or has lost
/// [`WRITE_RETRIES`] races.
macro_rules! retrying {
    ($db:expr, $what:expr, |$tx:ident| $body:expr) => {{
        let mut outcome = None;
        for n in 0..$crate::store::WRITE_RETRIES {
            let mut $tx = match $db.begin_write().await {
                Ok(tx) => tx,
                Err(e) if $crate::store::is_retryable(&e) => {
                    $crate::store::backoff(n).await;
                    continue;
                }
                Err(e) => {
                    outcome = Some(Err(e.into()));
                    break;
                }
            };
            let r: $crate::store::Result<$crate::store::Attempt<_>> = $body;
            match r {
                Ok($crate::store::Attempt::Done(v)) => match $tx.commit().await {
                    Ok(()) => {
                        outcome = Some(Ok(v));
                        break;
                    }
                    Err(e) if $crate::store::is_retryable(&e) || Db::is_unique_violation(&e) => {}
                    Err(e) => {
                        outcome = Some(Err(e.into()));
                        break;
                    }
                },
                Ok($crate::store::Attempt::Retry) => {
                    let _ = $tx.rollback().await;
                }
                Err($crate::store::StoreError::Sql(e)) if $crate::store::is_retryable(&e) => {
                    let _ = $tx.rollback().await;
                }
                Err(e) => {
                    let _ = $tx.rollback().await;
                    outcome = Some(Err(e));
                    break;
                }
            }
            tracing::debug!(what = $what, attempt = n, "write lost a race; retrying");
            $crate::store::backoff(n).await;
        }
        outcome.unwrap_or_else(|| {
            Err($crate::store::StoreError::Conflict(format!(
                "{}: too many concurrent updates, please retry",
                $what
            )))
        })
    }};
}
pub(crate) use retrying;

/// The networking store over one database.
#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
}

pub(crate) type Tx = sqlx::Transaction<'static, Any>;

impl Store {
    pub fn new(db: Db) -> Self {
        Self { db }
    }
    pub fn db(&self) -> &Db {
        &self.db
    }
}

pub(crate) fn now() -> i64 {
    oxstack_common::time::now().timestamp_micros()
}

#[cfg(test)]
mod tests;
