//! The block storage store: SQL for every resource, one file per resource, methods named
//! `resource_verb`. Holds no HTTP types; returns [`crate::model`] structs. Metadata maps are
//! kept as JSON text next to their row.

mod attachments;
pub mod migrations;
mod quotas;
mod snapshots;
mod types;
mod volumes;

use oxstack_common::db::Db;
use sqlx::Row;
use sqlx::any::AnyRow;

pub use migrations::MIGRATIONS;

use crate::model::Meta;

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
            other => oxstack_common::Error::internal("blockstore store", other),
        }
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// The block storage store over one database.
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

fn meta(r: &AnyRow, col: &str) -> Result<Meta> {
    let s: String = r.try_get(col)?;
    serde_json::from_str(&s).map_err(|e| StoreError::Corrupt(format!("{col}: {e}")))
}

fn meta_text(m: &Meta) -> String {
    serde_json::to_string(m).unwrap_or_else(|_| "{}".into())
}

#[cfg(test)]
mod tests;
