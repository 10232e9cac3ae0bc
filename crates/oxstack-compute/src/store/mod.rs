//! The compute store: SQL for every compute resource, one file per resource, methods named
//! `resource_verb`. Holds no HTTP types; returns [`crate::model`] structs.

mod actions;
mod aggregates;
mod bdms;
mod flavors;
mod groups;
mod instance_list;
mod instances;
mod keypairs;
pub mod migrations;
mod quotas;
mod services;

use oxstack_common::db::Db;
use sqlx::Row;
use sqlx::any::AnyRow;

pub use instance_list::{InstanceSort, InstanceSortKey, Keep};
pub use instances::{InstanceFilter, InstanceUpdate, NewInstance};
pub use migrations::MIGRATIONS;

/// What the store can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique key was violated.
    #[error("duplicate entry")]
    Duplicate,
    #[error("database failure")]
    Sql(#[source] sqlx::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// A list's marker names no server.
    #[error("marker [{0}] not found")]
    MarkerNotFound(String),
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

impl From<StoreError> for oxstack_common::Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Duplicate => oxstack_common::Error::conflict("Duplicate entry."),
            StoreError::MarkerNotFound(m) => {
                oxstack_common::Error::bad_request(format!("marker [{m}] not found"))
            }
            other => oxstack_common::Error::internal("compute store", other),
        }
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// The compute store over one database.
#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
}

impl Store {
    pub fn new(db: Db) -> Self {
        Self { db }
    }
    pub fn db(&self) -> &Db {
        &self.db
    }
}

fn flag(r: &AnyRow, col: &str) -> Result<bool> {
    Ok(r.try_get::<i64, _>(col)? != 0)
}

fn b(v: bool) -> i64 {
    i64::from(v)
}

/// A value bound into dynamic SQL.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    S(Option<String>),
    I(Option<i64>),
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

fn bind_all(mut q: AnyQuery<'static>, args: Vec<Arg>) -> AnyQuery<'static> {
    for a in args {
        q = match a {
            Arg::S(s) => q.bind(s),
            Arg::I(i) => q.bind(i),
        };
    }
    q
}

/// `?, ?, ?` for `n` placeholders.
fn marks(n: usize) -> String {
    vec!["?"; n].join(", ")
}

#[cfg(test)]
pub(crate) mod tests;
