//! Placement microversions: the version history, negotiation of
//! `OpenStack-API-Version: placement 1.x`, and the [`Version`] every handler receives.
//!
//! A request without the header is served at the minimum version (1.0), `latest` at the
//! maximum; a malformed or unsupported version is refused with 406, as placement's
//! microversion middleware does. Every response (errors included) says which version served
//! it and that it varies on the header.

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use oxstack_common::Error;
use oxstack_common::error::ErrorKind;

/// The version history, oldest first: what each microversion changed. Every change up to
/// [`MAX`] is honoured, except where the entry says what is not supported.
pub const HISTORY: &[(u16, &str)] = &[
    (0, "initial version"),
    (
        1,
        "resource provider aggregates (GET/PUT /resource_providers/{uuid}/aggregates)",
    ),
    (2, "/resource_classes"),
    (3, "member_of filter on GET /resource_providers"),
    (4, "resources filter on GET /resource_providers"),
    (5, "DELETE /resource_providers/{uuid}/inventories"),
    (6, "/traits and /resource_providers/{uuid}/traits"),
    (
        7,
        "PUT /resource_classes/{name} is a bodiless create-or-check",
    ),
    (
        8,
        "project_id and user_id are required in PUT /allocations/{consumer}",
    ),
    (9, "GET /usages"),
    (10, "GET /allocation_candidates"),
    (11, "`allocations` link on resource providers"),
    (
        12,
        "dict-shaped PUT /allocations/{consumer}; project_id/user_id in GET; dict-shaped allocation_requests",
    ),
    (13, "POST /allocations for many consumers"),
    (
        14,
        "parent_provider_uuid/root_provider_uuid; in_tree filter",
    ),
    (15, "last-modified and cache-control headers"),
    (16, "limit on GET /allocation_candidates"),
    (
        17,
        "required traits on GET /allocation_candidates; traits in provider_summaries",
    ),
    (18, "required traits on GET /resource_providers"),
    (19, "aggregates carry the provider generation"),
    (20, "POST /resource_providers answers 200 with the provider"),
    (21, "member_of on GET /allocation_candidates"),
    (22, "forbidden traits (!TRAIT)"),
    (23, "error codes in error bodies"),
    (24, "repeated member_of on GET /resource_providers"),
    (
        25,
        "granular (numbered) request groups and group_policy on GET /allocation_candidates",
    ),
    (26, "inventory reserved may equal total"),
    (
        27,
        "provider_summaries list every inventory of the provider",
    ),
    (28, "consumer generations"),
    (29, "nested providers in GET /allocation_candidates"),
    (30, "POST /reshaper (NOT SUPPORTED by oxstack: answers 501)"),
    (31, "in_tree on GET /allocation_candidates"),
    (32, "forbidden aggregates (member_of=!...)"),
    (33, "request group suffixes of [A-Za-z0-9_-]{1,64}"),
    (
        34,
        "`mappings` in allocation_requests; accepted in allocation writes",
    ),
    (35, "root_required on GET /allocation_candidates"),
    (
        36,
        "same_subtree on GET /allocation_candidates (NOT SUPPORTED by oxstack: 400)",
    ),
];

/// The lowest and highest minor versions served (major is always 1).
pub const MIN: Version = Version(0);
pub const MAX: Version = Version(HISTORY[HISTORY.len() - 1].0);

pub static API_VERSION: HeaderName = HeaderName::from_static("openstack-api-version");

/// A negotiated placement microversion, `1.<minor>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u16);

impl Version {
    /// Whether this request is at `1.minor` or later.
    pub fn at_least(self, minor: u16) -> bool {
        self.0 >= minor
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "1.{}", self.0)
    }
}

/// Parses the placement entry of an `OpenStack-API-Version` header value.
fn negotiate(header: Option<&str>) -> Result<Version, Error> {
    let Some(h) = header else { return Ok(MIN) };
    let wanted = h.split(',').find_map(|part| {
        let mut words = part.split_whitespace();
        match (words.next(), words.next()) {
            (Some(s), Some(v)) if s.eq_ignore_ascii_case("placement") => Some(v.to_string()),
            _ => None,
        }
    });
    let Some(wanted) = wanted else { return Ok(MIN) };
    if wanted.eq_ignore_ascii_case("latest") {
        return Ok(MAX);
    }
    let bad = || {
        Error::new(
            ErrorKind::NotAcceptable,
            format!("Invalid microversion: invalid version string: {wanted}"),
        )
    };
    let (major, minor) = wanted.split_once('.').ok_or_else(bad)?;
    let (major, minor) = (
        major.parse::<u16>().map_err(|_| bad())?,
        minor.parse::<u16>().map_err(|_| bad())?,
    );
    let v = Version(minor);
    if major != 1 || v < MIN || v > MAX {
        return Err(Error::new(
            ErrorKind::NotAcceptable,
            format!("Invalid microversion: Unacceptable version header: {wanted}"),
        ));
    }
    Ok(v)
}

/// Middleware: negotiates the version, hands it to handlers, stamps the response.
pub async fn layer(mut req: Request, next: Next) -> Response {
    let header = req
        .headers()
        .get(&API_VERSION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (version, mut resp) = match negotiate(header.as_deref()) {
        Ok(v) => {
            req.extensions_mut().insert(v);
            (v, next.run(req).await)
        }
        // The refusal is reported at the minimum version, as placement does.
        Err(e) => (MIN, e.into_response()),
    };
    if let Ok(v) = HeaderValue::from_str(&format!("placement {version}")) {
        resp.headers_mut().insert(API_VERSION.clone(), v);
    }
    resp.headers_mut().insert(
        header::VARY,
        HeaderValue::from_static("openstack-api-version"),
    );
    // 1.15: last-modified and cache-control on successful reads.
    // TODO-correctness: placement sends the resource's updated_at; we send the time of the
    // response, which clients treat the same way (no caching).
    if version.at_least(15) && resp.status().is_success() && resp.status() != 204 {
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        let now = chrono::Utc::now()
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        if let Ok(v) = HeaderValue::from_str(&now) {
            resp.headers_mut().insert(header::LAST_MODIFIED, v);
        }
    }
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
    fn history_is_contiguous() {
        for (i, (minor, _)) in HISTORY.iter().enumerate() {
            assert_eq!(usize::from(*minor), i);
        }
        assert_eq!(MAX, Version(36));
    }

    #[test]
    fn negotiation() {
        assert_eq!(negotiate(None).ok(), Some(MIN));
        assert_eq!(negotiate(Some("placement 1.28")).ok(), Some(Version(28)));
        assert_eq!(
            negotiate(Some("compute 2.1, placement 1.10")).ok(),
            Some(Version(10))
        );
        assert_eq!(negotiate(Some("placement latest")).ok(), Some(MAX));
        assert_eq!(negotiate(Some("compute 2.60")).ok(), Some(MIN));
        for bad in [
            "placement 1.99",
            "placement 2.0",
            "placement x",
            "placement 1",
        ] {
            assert_eq!(
                negotiate(Some(bad)).map_err(|e| e.status()),
                Err(406),
                "{bad}"
            );
        }
    }
}
