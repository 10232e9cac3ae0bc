//! Account and container listings: the query (`limit`, `marker`, `prefix`, ...), the
//! format (plain, JSON, XML from `format=` or `Accept`) and their rendering.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use oxstack_common::error::ErrorKind;
use oxstack_common::{Error, Result};

use super::{body_unless, empty, hdr, with_headers};
use crate::app::containers::Listed;
use crate::app::meta::bad;
use crate::app::symlink;
use crate::app::time::iso_date;
use crate::store::{Container, ListQuery, ObjectEntry, Stats};

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    Plain,
    Json,
    Xml,
}

impl Format {
    fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json; charset=utf-8",
            Format::Xml => "application/xml; charset=utf-8",
            Format::Plain => "text/plain; charset=utf-8",
        }
    }
}

pub(super) fn listing_format(q: &BTreeMap<String, String>, h: &HeaderMap) -> Format {
    let f = q
        .get("format")
        .cloned()
        .or_else(|| hdr(h, "accept").map(str::to_string))
        .unwrap_or_default()
        .to_ascii_lowercase();
    if f.contains("json") {
        Format::Json
    } else if f.contains("xml") {
        Format::Xml
    } else {
        Format::Plain
    }
}

/// The listing page a query asks for (412 beyond `max`).
pub(super) fn list_query(q: &BTreeMap<String, String>, max: u32) -> Result<ListQuery> {
    let limit = match q.get("limit") {
        Some(l) => {
            let n: u32 = l.parse().map_err(|_| bad("Invalid limit"))?;
            if n > max {
                return Err(Error::new(
                    ErrorKind::PreconditionFailed,
                    "Maximum limit exceeded",
                ));
            }
            n
        }
        None => max,
    };
    Ok(ListQuery {
        marker: q.get("marker").cloned(),
        end_marker: q.get("end_marker").cloned(),
        prefix: q.get("prefix").cloned(),
        limit,
        reverse: q.get("reverse").is_some_and(|v| {
            matches!(
                v.to_ascii_lowercase().as_str(),
                "true" | "1" | "yes" | "on" | "t" | "y"
            )
        }),
    })
}

/// `delimiter=` when not empty.
pub(super) fn delimiter(q: &BTreeMap<String, String>) -> Option<String> {
    q.get("delimiter").filter(|d| !d.is_empty()).cloned()
}

pub(super) fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn xml_subdir(sub: &str) -> String {
    format!(
        "<subdir name=\"{0}\"><name>{0}</name></subdir>",
        xml_escape(sub)
    )
}

/// A listing in the format asked for (a HEAD or an empty plain listing: 204, no body).
fn listing_response(
    fmt: Format,
    headers: Vec<(String, String)>,
    plain: Vec<String>,
    json: String,
    xml: String,
    head: bool,
) -> Response {
    // Swift answers HEAD on accounts and containers with 204 and no body.
    if head || (fmt == Format::Plain && plain.is_empty()) {
        let mut r = empty(StatusCode::NO_CONTENT, headers);
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(fmt.content_type()),
        );
        return r;
    }
    let body = match fmt {
        Format::Plain => plain.into_iter().map(|n| n + "\n").collect::<String>(),
        Format::Json => json,
        Format::Xml => xml,
    };
    with_headers(Response::builder().status(StatusCode::OK), headers)
        .header(header::CONTENT_TYPE, fmt.content_type())
        .header(header::CONTENT_LENGTH, body.len().to_string())
        .body(body_unless(head, || Body::from(body)))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// An account's containers.
pub(super) fn account_listing(
    account: &str,
    entries: Vec<Listed<(Container, Stats)>>,
    fmt: Format,
    headers: Vec<(String, String)>,
    head: bool,
) -> Response {
    let mut plain = Vec::new();
    let mut items = Vec::new();
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<account name=\"{}\">",
        xml_escape(account)
    );
    for e in entries {
        match e {
            Listed::Subdir(sub) => {
                xml.push_str(&xml_subdir(&sub));
                items.push(serde_json::json!({"subdir": sub}));
                plain.push(sub);
            }
            Listed::Item((c, s)) => {
                items.push(serde_json::json!({"name": c.name, "count": s.count, "bytes": s.bytes, "last_modified": iso_date(c.updated_at)}));
                xml.push_str(&format!(
                    "<container><name>{}</name><count>{}</count><bytes>{}</bytes><last_modified>{}</last_modified></container>",
                    xml_escape(&c.name), s.count, s.bytes, iso_date(c.updated_at)
                ));
                plain.push(c.name);
            }
        }
    }
    xml.push_str("</account>");
    listing_response(
        fmt,
        headers,
        plain,
        serde_json::Value::Array(items).to_string(),
        xml,
        head,
    )
}

/// A container's objects; only the format asked for is rendered.
pub(super) fn container_listing(
    c: &Container,
    entries: Vec<Listed<ObjectEntry>>,
    fmt: Format,
    headers: Vec<(String, String)>,
    head: bool,
) -> Result<Response> {
    // JSON keys are in the order a `json!` map (sorted) gave them before, so the bytes
    // are unchanged.
    #[derive(serde::Serialize)]
    #[serde(untagged)]
    enum Item<'a> {
        Object {
            bytes: i64,
            content_type: &'a str,
            hash: &'a str,
            last_modified: String,
            name: &'a str,
            // A symlink's target (`/v1/{account}/{container}/{object}`), and a static
            // link's ETag and size, as Swift's symlink middleware adds them.
            #[serde(skip_serializing_if = "Option::is_none")]
            symlink_bytes: Option<i64>,
            #[serde(skip_serializing_if = "Option::is_none")]
            symlink_etag: Option<String>,
            #[serde(skip_serializing_if = "Option::is_none")]
            symlink_path: Option<String>,
        },
        Subdir {
            subdir: &'a str,
        },
    }
    let (mut plain, mut json, mut xml) = (Vec::new(), String::new(), String::new());
    match fmt {
        Format::Plain => {
            plain = entries
                .into_iter()
                .map(|e| match e {
                    Listed::Item(o) => o.name,
                    Listed::Subdir(sub) => sub,
                })
                .collect();
        }
        Format::Json => {
            let items: Vec<Item> = entries
                .iter()
                .map(|e| match e {
                    Listed::Item(o) => {
                        let link = symlink::target_in(&o.sysmeta, &c.account);
                        Item::Object {
                            bytes: o.size,
                            content_type: &o.content_type,
                            hash: &o.etag,
                            last_modified: iso_date(o.created_at),
                            name: &o.name,
                            symlink_bytes: link.as_ref().and_then(|t| t.bytes),
                            symlink_etag: link.as_ref().and_then(|t| t.etag.clone()),
                            symlink_path: link
                                .map(|t| super::object_path(&t.account, &t.container, &t.object)),
                        }
                    }
                    Listed::Subdir(sub) => Item::Subdir { subdir: sub },
                })
                .collect();
            json = serde_json::to_string(&items).map_err(|e| Error::internal("listing", e))?;
        }
        Format::Xml => {
            xml = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<container name=\"{}\">",
                xml_escape(&c.name)
            );
            for e in entries {
                match e {
                    Listed::Item(o) => xml.push_str(&format!(
                        "<object><name>{}</name><hash>{}</hash><bytes>{}</bytes><content_type>{}</content_type><last_modified>{}</last_modified></object>",
                        xml_escape(&o.name), o.etag, o.size, xml_escape(&o.content_type), iso_date(o.created_at)
                    )),
                    Listed::Subdir(sub) => xml.push_str(&xml_subdir(&sub)),
                }
            }
            xml.push_str("</container>");
        }
    }
    Ok(listing_response(fmt, headers, plain, json, xml, head))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn listing_queries() {
        let lq = list_query(&q(&[("limit", "5"), ("reverse", "On")]), 10).expect("ok");
        assert_eq!((lq.limit, lq.reverse), (5, true));
        assert_eq!(list_query(&q(&[]), 10).expect("ok").limit, 10);
        assert_eq!(
            list_query(&q(&[("limit", "11")]), 10)
                .expect_err("max")
                .kind,
            ErrorKind::PreconditionFailed
        );
        assert_eq!(
            list_query(&q(&[("limit", "x")]), 10).expect_err("nan").kind,
            ErrorKind::BadRequest
        );
    }

    #[test]
    fn formats() {
        let h = HeaderMap::new();
        assert!(listing_format(&q(&[("format", "JSON")]), &h) == Format::Json);
        let mut h = HeaderMap::new();
        h.insert("accept", HeaderValue::from_static("application/xml"));
        assert!(listing_format(&q(&[]), &h) == Format::Xml);
        assert!(listing_format(&q(&[("format", "plain")]), &h) == Format::Plain);
        assert_eq!(xml_escape("<a&\"b\">"), "&lt;a&amp;&quot;b&quot;&gt;");
    }
}
