//! The one transport-agnostic error type of oxstack.
//!
//! Every layer returns [`Error`]. Its `message` is safe to show to a client; internal context
//! (the source chain of a database or I/O failure) is kept apart in `internal` and only ever
//! logged. Exactly one exhaustive match ([`Error::status`]) decides the HTTP status; each
//! service chooses only the JSON *shape* its clients expect (see [`crate::http::ErrorStyle`]).

use std::borrow::Cow;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, as a client is allowed to see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    NotAcceptable,
    Conflict,
    Gone,
    PreconditionFailed,
    PayloadTooLarge,
    UnsupportedMediaType,
    RangeNotSatisfiable,
    TooManyRequests,
    Internal,
    NotImplemented,
    ServiceUnavailable,
}

/// An oxstack error: a kind, a client-safe message, an optional service-specific type name
/// (Neutron's `NetworkNotFound`, Nova's `overLimit`), and internal context for the log.
#[derive(Debug, thiserror::Error)]
#[error("{kind:?}: {message}")]
pub struct Error {
    pub kind: ErrorKind,
    pub message: Cow<'static, str>,
    /// A service-specific error type name, for services whose error bodies carry one.
    pub type_name: Option<Cow<'static, str>>,
    /// Internal context, never shown to clients.
    #[source]
    pub internal: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            kind,
            message: message.into(),
            type_name: None,
            internal: None,
        }
    }
    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::BadRequest, message)
    }
    pub fn unauthorized(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Unauthorized, message)
    }
    pub fn forbidden(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Forbidden, message)
    }
    pub fn not_found(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }
    pub fn conflict(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }
    pub fn unavailable(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::ServiceUnavailable, message)
    }
    /// An internal failure: the client sees a generic message, the log sees `source`.
    pub fn internal<E>(context: &'static str, source: E) -> Self
    where
        E: Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    {
        Self {
            kind: ErrorKind::Internal,
            message: Cow::Borrowed(
                "An unexpected error prevented the server from fulfilling your request.",
            ),
            type_name: Some(Cow::Borrowed(context)),
            internal: Some(source.into()),
        }
    }
    /// Attaches a service-specific error type name (e.g. Neutron's `NetworkNotFound`).
    pub fn with_type(mut self, type_name: impl Into<Cow<'static, str>>) -> Self {
        self.type_name = Some(type_name.into());
        self
    }

    /// The HTTP status for this error. The one place that decides it.
    pub fn status(&self) -> u16 {
        match self.kind {
            ErrorKind::BadRequest => 400,
            ErrorKind::Unauthorized => 401,
            ErrorKind::Forbidden => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::MethodNotAllowed => 405,
            ErrorKind::NotAcceptable => 406,
            ErrorKind::Conflict => 409,
            ErrorKind::Gone => 410,
            ErrorKind::PreconditionFailed => 412,
            ErrorKind::PayloadTooLarge => 413,
            ErrorKind::UnsupportedMediaType => 415,
            ErrorKind::RangeNotSatisfiable => 416,
            ErrorKind::TooManyRequests => 429,
            ErrorKind::Internal => 500,
            ErrorKind::NotImplemented => 501,
            ErrorKind::ServiceUnavailable => 503,
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::internal("database", e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_hide_their_source_from_the_message() {
        let e = Error::internal("database", std::io::Error::other("disk on fire at /secret"));
        assert_eq!(e.status(), 500);
        assert!(!e.message.contains("secret"));
        assert!(std::error::Error::source(&e).is_some());
    }
}
