//! What every oxstack service shares: configuration loading, the transport-agnostic error
//! type, the HTTP stack (request ids, error rendering, metrics, limits), the SQL store, the
//! infrastructure seams (bus, cache, coordination) and the request context handed to handlers.
//!
//! Service crates depend on this crate and on nothing of each other's, so a change in one
//! service never rebuilds another.

pub mod bus;
pub mod cache;
pub mod config;
pub mod context;
pub mod coord;
pub mod db;
pub mod error;
pub mod file;
pub mod http;
pub mod metrics;
pub mod policy;
pub mod time;

pub use error::{Error, Result};
