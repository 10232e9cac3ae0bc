//! Temp URLs on the wire: the `temp_url_*` query parameters and the
//! `Content-Disposition` a temp URL GET answers with (`filename=`, `inline`).

use std::collections::BTreeMap;

use axum::http::{HeaderValue, header};
use axum::response::Response;

use crate::app::tempurl::TempUrl;

/// The temp URL a query carries (both `temp_url_sig` and `temp_url_expires`), if any.
pub(super) fn from_query(q: &BTreeMap<String, String>) -> Option<TempUrl<'_>> {
    let (Some(sig), Some(expires)) = (q.get("temp_url_sig"), q.get("temp_url_expires")) else {
        return None;
    };
    Some(TempUrl {
        sig,
        expires,
        prefix: q.get("temp_url_prefix").map(String::as_str),
    })
}

/// A temp URL GET downloads as an attachment named after the object (or `filename=`),
/// unless `inline` is asked for.
pub(super) fn set_disposition(resp: &mut Response, q: &BTreeMap<String, String>, object: &str) {
    let fname = q
        .get("filename")
        .cloned()
        .unwrap_or_else(|| object.rsplit('/').next().unwrap_or_default().to_string());
    let disp = if q.contains_key("inline") {
        "inline".to_string()
    } else {
        format!("attachment; filename=\"{}\"", fname.replace('"', ""))
    };
    if let Ok(v) = HeaderValue::from_str(&disp) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
}
