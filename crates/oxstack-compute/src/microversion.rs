//! Compute API microversions: negotiation and the history of what each version changed.
//!
//! A request asks for a version with `OpenStack-API-Version: compute 2.x` (2.27+) or the
//! legacy `X-OpenStack-Nova-API-Version: 2.x`; `latest` means [`MAX`]; no header means
//! [`MIN`]. A version outside the range is 406, a malformed one 400. The chosen version is
//! echoed in both headers with `Vary`.
//!
//! History of the versions this service honours (see Nova's
//! `api/openstack/rest_api_version_history.rst`); every response change up to [`MAX`] is
//! implemented where the API exists here:
//! - 2.1  base
//! - 2.2  keypair `type` (ssh/x509); `key_name` may hold more characters
//! - 2.3  extended server attributes: reservation_id, launch_index, hostname, kernel_id,
//!   ramdisk_id, root_device_name, user_data (admin)
//! - 2.9  server `locked`
//! - 2.10 keypairs of other users for admins (`user_id`)
//! - 2.11 `forced_down` on services and `PUT /os-services/force-down`
//! - 2.13 server group `project_id`, `user_id`
//! - 2.15 soft-affinity / soft-anti-affinity server group policies
//! - 2.16 server `host_status`
//! - 2.19 server `description`
//! - 2.26 server tags
//! - 2.28 hypervisor `cpu_info` as an object
//! - 2.33 hypervisor list paging
//! - 2.35 keypair list paging
//! - 2.36 network proxy quotas and limits removed
//! - 2.37 `networks` required on create (`auto`/`none`)
//! - 2.38 invalid `status` filter is 400
//! - 2.39 `maxImageMeta` removed from limits
//! - 2.40 simple tenant usage paging (not implemented here)
//! - 2.45 createImage answers `{"image_id"}` instead of `Location`
//! - 2.47 the server's flavor embedded
//! - 2.50 quota classes: server groups in, network quotas out
//! - 2.51 instance action events visible to their owner
//! - 2.52 tags on server create
//! - 2.53 services and hypervisors identified by UUID; `PUT /os-services/{id}`
//! - 2.54 key_name on rebuild
//! - 2.55 flavor `description`
//! - 2.57 personality removed; user_data on rebuild; injected-file quotas removed
//! - 2.58 instance actions `updated_at` and paging
//! - 2.59 migrations paging (no migrations API here yet)
//! - 2.60 multiattach volumes (no volume attach here yet)

use std::fmt;

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use oxstack_common::Error;
use oxstack_common::error::ErrorKind;

/// A compute API microversion (major is always 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(pub u16);

/// The oldest version served.
pub const MIN: Version = Version(1);
/// The newest version served.
pub const MAX: Version = Version(60);

impl Version {
    /// Whether this request's version is at least `2.minor`.
    pub fn at_least(self, minor: u16) -> bool {
        self.0 >= minor
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "2.{}", self.0)
    }
}

static OPENSTACK_API_VERSION: HeaderName = HeaderName::from_static("openstack-api-version");
static NOVA_API_VERSION: HeaderName = HeaderName::from_static("x-openstack-nova-api-version");

fn invalid(s: &str) -> Error {
    Error::bad_request(format!(
        "API Version String {s} is of invalid format. Must be of format MajorNum.MinorNum."
    ))
}

/// Parses `2.x` or `latest`.
pub fn parse(s: &str) -> Result<Version, Error> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("latest") {
        return Ok(MAX);
    }
    // Nova's pattern: ^([1-9]\d*)\.([1-9]\d*|0)$
    let (major, minor) = s.split_once('.').ok_or_else(|| invalid(s))?;
    let well_formed = |p: &str, zero_ok: bool| {
        !p.is_empty()
            && p.bytes().all(|b| b.is_ascii_digit())
            && ((zero_ok && p == "0") || !p.starts_with('0'))
    };
    if !well_formed(major, false) || !well_formed(minor, true) {
        return Err(invalid(s));
    }
    let major: u32 = major.parse().map_err(|_| invalid(s))?;
    let minor: u16 = minor.parse().map_err(|_| invalid(s))?;
    let v = if major == 2 {
        Some(Version(minor))
    } else {
        None
    };
    match v {
        Some(v) if v >= MIN && v <= MAX => Ok(v),
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
    // `OpenStack-API-Version: compute 2.5, placement 1.10` (possibly repeated).
    for v in h.get_all(&OPENSTACK_API_VERSION) {
        let text = v.to_str().map_err(|_| invalid("?"))?;
        for part in text.split(',') {
            let mut words = part.split_whitespace();
            if words
                .next()
                .is_some_and(|svc| svc.eq_ignore_ascii_case("compute"))
            {
                return parse(words.next().unwrap_or(""));
            }
        }
    }
    if let Some(v) = h.get(&NOVA_API_VERSION) {
        return parse(v.to_str().map_err(|_| invalid("?"))?);
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
    if let Ok(val) = HeaderValue::from_str(&format!("compute {v}")) {
        h.insert(OPENSTACK_API_VERSION.clone(), val);
    }
    if let Ok(val) = HeaderValue::from_str(&v.to_string()) {
        h.insert(NOVA_API_VERSION.clone(), val);
    }
    h.insert(
        axum::http::header::VARY,
        HeaderValue::from_static("OpenStack-API-Version, X-OpenStack-Nova-API-Version"),
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
        assert_eq!(parse("2.1").expect("ok"), Version(1));
        assert_eq!(parse("latest").expect("ok"), MAX);
        assert_eq!(parse("2.60").expect("ok"), Version(60));
        assert_eq!(parse("2.61").expect_err("too new").status(), 406);
        assert_eq!(parse("3.0").expect_err("major").status(), 406);
        assert_eq!(parse("2.0").expect_err("too old").status(), 406);
        assert_eq!(parse("2.x").expect_err("bad").status(), 400);
        assert_eq!(parse("2.01").expect_err("bad").status(), 400);
        let mut h = axum::http::HeaderMap::new();
        h.insert(
            "openstack-api-version",
            HeaderValue::from_static("placement 1.2, compute 2.37"),
        );
        assert_eq!(from_headers(&h).expect("ok"), Version(37));
    }
}
