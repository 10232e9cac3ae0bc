//! The image store (SQL, not image data: that is [`crate::data`]): images with their tags
//! and custom properties, members, metadata definitions and tasks. One file per resource, methods named
//! `resource_verb`. Holds no HTTP types; returns [`crate::model`] structs and
//! [`StoreError`]s the logic layer turns into API errors.

mod images;
mod members;
mod metadefs;
pub mod migrations;
mod tasks;

use oxstack_common::db::Db;

pub use images::{ImageQuery, Usage};
pub use metadefs::{MetadefKind, NamespaceQuery};
pub use migrations::MIGRATIONS;

/// What the store can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique key was violated (existing tag or membership, reused image id).
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
            other => oxstack_common::Error::internal("image store", other),
        }
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// The image store over one database.
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

fn b(v: bool) -> i64 {
    i64::from(v)
}

/// `(?, ?, ?)` with `n` placeholders.
fn placeholders(n: usize) -> String {
    let mut s = String::from("(");
    for i in 0..n {
        if i > 0 {
            s.push_str(", ");
        }
        s.push('?');
    }
    s.push(')');
    s
}

#[cfg(test)]
mod tests;
