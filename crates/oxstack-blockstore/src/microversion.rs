//! Block storage API microversions: negotiation and the history of what each changed.
//!
//! A request asks for a version with `OpenStack-API-Version: volume 3.x`; `latest` means
//! [`MAX`]; no header means [`MIN`]. A version outside the range is 406, a malformed one 400.
//! The chosen version is echoed with `Vary`.
//!
//! History (Cinder's `api/openstack/rest_api_version_history.rst`) of the changes that touch
//! APIs served here:
//! - 3.0  base (v2 compatible)
//! - 3.3  user messages (not served)
//! - 3.13 volume `group_id`
//! - 3.21 volume `provider_id` (admin)
//! - 3.27 the attachments API
//! - 3.41 snapshot `user_id`
//! - 3.42 extend of in-use volumes
//! - 3.44 attachment `os-complete` (`/attachments/{id}/action`)
//! - 3.45 `with_count` on volume and snapshot lists
//! - 3.48 volume `service_uuid` and `shared_targets`
//! - 3.54 attachment create with `mode`
//! - 3.59 `/volumes/summary` … unchanged; 3.60 `created_at`/`updated_at` time comparison
//!   filters on volume lists (`created_at=gt:...`)

use std::fmt;

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use oxstack_common::Error;
use oxstack_common::error::ErrorKind;

/// A block storage API microversion (major is always 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(pub u16);

/// The oldest version served.
pub const MIN: Version = Version(0);
/// The newest version served.
pub const MAX: Version = Version(60);

impl Version {
    /// Whether this request's version is at least `3.minor`.
    pub fn at_least(self, minor: u16) -> bool {
        self.0 >= minor
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "3.{}", self.0)
    }
}

static OPENSTACK_API_VERSION: HeaderName = HeaderName::from_static("openstack-api-version");

fn invalid(s: &str) -> Error {
    Error::bad_request(format!(
        "Invalid API version string {s}; must be of format MajorNum.MinorNum."
    ))
}

/// Parses `3.x` or `latest`.
pub fn parse(s: &str) -> Result<Version, Error> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("latest") {
        return Ok(MAX);
    }
    let (major, minor) = s.split_once('.').ok_or_else(|| invalid(s))?;
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if !digits(major) || !digits(minor) {
        return Err(invalid(s));
    }
    let major: u32 = major.parse().map_err(|_| invalid(s))?;
    let minor: u16 = minor.parse().map_err(|_| invalid(s))?;
    match major {
        3 if Version(minor) <= MAX => Ok(Version(minor)),
        _ => Err(Error::new(
            ErrorKind::NotAcceptable,
            format!(
                "Version {s} is not supported by the API. Minimum is {MIN} and maximum is {MAX}."
            ),
        )),
    }
}

/// The version a request asks for, from its headers.
pub fn from_headers(h: &axum::http::HeaderMap) -> Result<Version, Error> {
    for v in h.get_all(&OPENSTACK_API_VERSION) {
        let text = v.to_str().map_err(|_| invalid("?"))?;
        for part in text.split(',') {
            let mut words = part.split_whitespace();
            if words
                .next()
                .is_some_and(|svc| svc.eq_ignore_ascii_case("volume"))
            {
                return parse(words.next().unwrap_or(""));
            }
        }
    }
    Ok(MIN)
}

/// Middleware for the versioned API: negotiates, stores the [`Version`] in the request and
/// echoes it in the response.
pub async fn negotiate(mut req: Request, next: Next) -> Response {
    let v = match from_headers(req.headers()) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    req.extensions_mut().insert(v);
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    if let Ok(val) = HeaderValue::from_str(&format!("volume {v}")) {
        h.insert(OPENSTACK_API_VERSION.clone(), val);
    }
    h.insert(
        axum::http::header::VARY,
        HeaderValue::from_static("OpenStack-API-Version"),
    );
    resp
}

impl<S: Send + Sync> FromRequestParts<S> for Version {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Error> {
        Ok(parts.extensions.get::<Version>().copied().unwrap_or(MIN))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_bounds() {
        assert_eq!(parse("3.0").expect("ok"), Version(0));
        assert_eq!(parse("latest").expect("ok"), MAX);
        assert_eq!(parse("3.60").expect("ok"), Version(60));
        assert_eq!(parse("3.61").expect_err("too new").status(), 406);
        assert_eq!(parse("2.0").expect_err("major").status(), 406);
        assert_eq!(parse("3.x").expect_err("bad").status(), 400);
        let mut h = axum::http::HeaderMap::new();
        h.insert(
            "openstack-api-version",
            HeaderValue::from_static("compute 2.1, volume 3.27"),
        );
        assert_eq!(from_headers(&h).expect("ok"), Version(27));
    }
}
