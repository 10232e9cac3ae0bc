//! The identity store: SQL for every identity resource, one file per resource, methods named
//! `resource_verb`. Holds no HTTP types; returns [`crate::model`] structs and
//! [`StoreError`]s the logic layer turns into API errors.

mod catalog;
mod creds;
mod domain_config;
mod endpoint_filter;
pub mod migrations;
mod oauth;
mod policy_blobs;
mod projects;
mod revocations;
mod roles;
mod users;

use oxstack_common::db::Db;
use serde_json::{Map, Value};
use sqlx::Row;
use sqlx::any::AnyRow;

pub use endpoint_filter::FilterKind;
pub use migrations::MIGRATIONS;
pub use projects::ProjectFilter;
pub use roles::AssignmentFilter;
pub use users::UserFilter;

/// What the store can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique key was violated (duplicate name, existing membership).
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
            StoreError::Duplicate => oxstack_common::Error::conflict(
                "Conflict occurred attempting to store data - Duplicate entry found.",
            ),
            other => oxstack_common::Error::internal("identity store", other),
        }
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// The identity store over one database.
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

fn extra(r: &AnyRow) -> Result<Map<String, Value>> {
    let s: String = r.try_get("extra")?;
    match serde_json::from_str::<Value>(&s) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(StoreError::Corrupt(format!(
            "extra is not a JSON object: {s}"
        ))),
    }
}

fn extra_text(m: &Map<String, Value>) -> String {
    Value::Object(m.clone()).to_string()
}

fn b(v: bool) -> i64 {
    i64::from(v)
}

#[cfg(test)]
mod tests;
