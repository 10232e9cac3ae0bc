//! The placement store: SQL for providers, inventories, traits, aggregates, resource
//! classes, consumers and allocations. Holds no HTTP types; returns [`crate::model`] structs
//! and [`StoreError`]s the logic layer turns into API errors.
//!
//! Every write that changes what a provider offers or what is allocated from it bumps the
//! provider's generation with a compare-and-swap (`UPDATE ... WHERE generation = ?`) inside
//! the same transaction that makes the change, so two writers can never both succeed on the
//! same view of a provider (see [`allocations`] for how claims use it).

pub mod allocations;
pub mod migrations;
mod providers;

use std::time::Duration;

use oxstack_common::db::Db;
use sqlx::Any;

pub use allocations::ConsumerWrite;
pub use migrations::MIGRATIONS;
pub use providers::{ProviderFilter, Snapshot};

/// What the store can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique key was violated (duplicate name or uuid).
    #[error("duplicate entry")]
    Duplicate,
    /// The provider (or other named row) does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A generation did not match: someone else changed the row first.
    #[error("{0}")]
    Conflict(String),
    /// Inventory or a provider is still in use by allocations (or has children).
    #[error("{0}")]
    InUse(String),
    /// The provider still has child providers.
    #[error("{0}")]
    HasChildren(String),
    /// An allocation does not fit the inventory (capacity, min/max unit, step size, or no
    /// such inventory).
    #[error("{0}")]
    Capacity(String),
    /// The request names something that does not exist (a provider in an allocation).
    #[error("{0}")]
    Invalid(String),
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

/// How many times a write transaction that lost a race (a generation compare-and-swap that
/// found a newer generation, a deadlock, a serialization failure) is retried before the
/// caller gets `placement.concurrent_update`.
pub const WRITE_RETRIES: usize = 60;

/// Whether a database error means "another transaction got there first; try again".
pub(crate) fn is_retryable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => {
            let code = d.code().map(|c| c.into_owned()).unwrap_or_default();
            // MySQL deadlock / lock wait timeout; PostgreSQL serialization failure and
            // deadlock; SQLite busy/locked.
            matches!(
                code.as_str(),
                "1213" | "1205" | "40001" | "40P01" | "5" | "6" | "517" | "261"
            ) || d.message().contains("Deadlock")
                || d.message().contains("database is locked")
        }
        sqlx::Error::PoolTimedOut => false,
        _ => false,
    }
}

/// The result of one attempt of a write transaction.
pub(crate) enum Attempt<T> {
    Done(T),
    /// Lost a race; roll back and run the attempt again.
    Retry,
}

/// A random pause before retrying a write, growing a little with the attempt number.
pub(crate) async fn backoff(attempt: usize) {
    use rand::RngExt as _;
    let cap = 2 + (attempt as u64).min(20);
    let ms = rand::rng().random_range(0..cap);
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

/// Runs `$body` (an expression using the transaction `$tx` and returning
/// `Result<Attempt<T>>`) in write transactions until it commits, fails for a reason other
/// than a lost race, or has lost [`WRITE_RETRIES`] races (then `Conflict`).
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
                    Err(e) if $crate::store::is_retryable(&e) => {}
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

/// The placement store over one database.
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

/// Bumps `provider`'s generation from `seen`; false when someone else bumped it first.
async fn bump_generation(db: &Db, tx: &mut Tx, provider: &str, seen: i64) -> Result<bool> {
    let done = db
        .query(
            "UPDATE placement_provider SET generation = generation + 1, updated_at = ? \
             WHERE uuid = ? AND generation = ?",
        )
        .bind(now())
        .bind(provider.to_string())
        .bind(seen)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() == 1)
}

fn now() -> i64 {
    oxstack_common::time::now().timestamp_micros()
}

#[cfg(test)]
mod tests;
