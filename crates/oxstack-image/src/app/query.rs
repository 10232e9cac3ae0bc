//! `GET /v2/images`: Glance's filters, sorting (`sort=key:dir,...` and the legacy
//! `sort_key`/`sort_dir`) and `limit`/`marker` pagination.
//!
//! Visibility and the column filters run in SQL; tags, custom properties, time operators
//! and sorting run here over the visible rows.
//! TODO-performance: push sorting and keyset pagination into SQL once listings grow past a
//! few thousand images per caller.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use oxstack_common::context::RequestContext;
use oxstack_common::{Error, Result};
use serde_json::Value;

use super::App;
use crate::model::Image;
use crate::store::ImageQuery;

const SORT_KEYS: &[&str] = &[
    "name",
    "status",
    "container_format",
    "disk_format",
    "size",
    "id",
    "created_at",
    "updated_at",
];

/// A time filter: `created_at=gt:2026-01-01T00:00:00Z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TimeOp {
    Gt,
    Gte,
    Lt,
    Lte,
    Eq,
    Neq,
}

/// The parsed query of a listing.
#[derive(Debug, Clone, Default)]
pub struct ListParams {
    pub limit: Option<u32>,
    pub marker: Option<String>,
    pub member_status: String,
    pub visibility: Option<String>,
    pub tags: Vec<String>,
    sort: Vec<(String, bool)>,
    columns: ImageQuery,
    times: Vec<(&'static str, TimeOp, i64)>,
    /// Remaining `key=value` filters on other attributes and custom properties.
    others: Vec<(String, String)>,
}

fn bad(msg: impl Into<String>) -> Error {
    Error::bad_request(msg.into())
}

fn parse_time(v: &str) -> Result<i64> {
    DateTime::parse_from_rfc3339(v)
        .map(|t| t.with_timezone(&Utc).timestamp_micros())
        .or_else(|_| {
            chrono::NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S")
                .map(|t| t.and_utc().timestamp_micros())
        })
        .map_err(|_| bad(format!("Unable to parse datetime '{v}'.")))
}

fn in_list(v: &str) -> Vec<String> {
    match v.strip_prefix("in:") {
        Some(rest) => rest.split(',').map(|s| s.trim().to_string()).collect(),
        None => vec![v.to_string()],
    }
}

fn bool_filter(key: &str, v: &str) -> Result<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(bad(format!(
            "Invalid value '{v}' for '{key}' filter. Valid values are 'true' or 'false'."
        ))),
    }
}

fn int_filter(key: &str, v: &str) -> Result<i64> {
    v.parse().map_err(|_| {
        bad(format!(
            "Invalid value '{v}' for '{key}': must be an integer."
        ))
    })
}

impl ListParams {
    /// Parses the query pairs of a listing (keys may repeat: `tag`, `sort_key`, `sort_dir`).
    pub fn parse(pairs: &[(String, String)]) -> Result<ListParams> {
        let mut p = ListParams {
            member_status: "accepted".into(),
            ..Default::default()
        };
        let (mut sort, mut sort_keys, mut sort_dirs) = (None, Vec::new(), Vec::new());
        let mut os_hidden = None;
        for (k, v) in pairs {
            match k.as_str() {
                "limit" => {
                    let n: i64 = v
                        .parse()
                        .map_err(|_| bad("limit param must be an integer"))?;
                    if n < 0 {
                        return Err(bad("limit param must be positive"));
                    }
                    p.limit = Some(u32::try_from(n).unwrap_or(u32::MAX));
                }
                "marker" => p.marker = Some(v.clone()),
                "member_status" => {
                    if !["pending", "accepted", "rejected", "all"].contains(&v.as_str()) {
                        return Err(bad(format!("Invalid status: {v}")));
                    }
                    p.member_status = v.clone();
                }
                "visibility" => {
                    if !["community", "public", "private", "shared", "all"].contains(&v.as_str()) {
                        return Err(bad(format!("Invalid visibility value: {v}")));
                    }
                    p.visibility = Some(v.clone());
                }
                "tag" => p.tags.push(v.trim().to_string()),
                "sort" => sort = Some(v.clone()),
                "sort_key" => sort_keys.push(v.trim().to_string()),
                "sort_dir" => sort_dirs.push(v.trim().to_string()),
                "changes-since" => {
                    return Err(bad(
                        "The \"changes-since\" filter is no longer available on v2.",
                    ));
                }
                "os_hidden" => os_hidden = Some(bool_filter(k, v)?),
                "protected" => p.columns.protected = Some(bool_filter(k, v)?),
                "size_min" => p.columns.size_min = Some(int_filter(k, v)?),
                "size_max" => p.columns.size_max = Some(int_filter(k, v)?),
                "name" => p.columns.name = Some(in_list(v)),
                "id" => p.columns.id = Some(in_list(v)),
                "status" => p.columns.status = Some(in_list(v)),
                "disk_format" => p.columns.disk_format = Some(in_list(v)),
                "container_format" => p.columns.container_format = Some(in_list(v)),
                "owner" => p.columns.owner = Some(v.clone()),
                "created_at" | "updated_at" => {
                    let key = if k == "created_at" {
                        "created_at"
                    } else {
                        "updated_at"
                    };
                    let (op, when) = match v.split_once(':') {
                        Some((op @ ("gt" | "gte" | "lt" | "lte" | "eq" | "neq"), rest)) => {
                            (op, rest)
                        }
                        _ => ("eq", v.as_str()),
                    };
                    let op = match op {
                        "gt" => TimeOp::Gt,
                        "gte" => TimeOp::Gte,
                        "lt" => TimeOp::Lt,
                        "lte" => TimeOp::Lte,
                        "neq" => TimeOp::Neq,
                        _ => TimeOp::Eq,
                    };
                    p.times.push((key, op, parse_time(when)?));
                }
                _ => p.others.push((k.clone(), v.clone())),
            }
        }
        p.columns.os_hidden = Some(os_hidden.unwrap_or(false));
        let check_key = |k: &str| {
            if SORT_KEYS.contains(&k) {
                Ok(k.to_string())
            } else {
                Err(bad(format!(
                    "Invalid sort key: {k}. It must be one of the following: {}.",
                    SORT_KEYS.join(", ")
                )))
            }
        };
        let check_dir = |d: &str| match d {
            "asc" => Ok(true),
            "desc" => Ok(false),
            _ => Err(bad(format!("Invalid sort direction: {d}"))),
        };
        if let Some(s) = sort {
            if !sort_keys.is_empty() || !sort_dirs.is_empty() {
                return Err(bad("Old and new sorting syntax cannot be combined"));
            }
            for item in s.trim().split(',') {
                let (key, dir) = item.split_once(':').unwrap_or((item, "desc"));
                p.sort
                    .push((check_key(key.trim())?, check_dir(dir.trim())?));
            }
        } else {
            if sort_dirs.len() > 1 && sort_dirs.len() != sort_keys.len() {
                return Err(bad(
                    "Number of sort dirs does not match the number of sort keys",
                ));
            }
            let keys = if sort_keys.is_empty() {
                vec!["created_at".to_string()]
            } else {
                sort_keys
            };
            let dirs: Vec<bool> = sort_dirs
                .iter()
                .map(|d| check_dir(d))
                .collect::<Result<_>>()?;
            for (i, k) in keys.iter().enumerate() {
                let asc = dirs.get(i).or(dirs.first()).copied().unwrap_or(false);
                p.sort.push((check_key(k)?, asc));
            }
        }
        // Unique order for pagination: created_at then id, in the first direction.
        let default_asc = p.sort.first().map(|(_, a)| *a).unwrap_or(false);
        for k in ["created_at", "id"] {
            if !p.sort.iter().any(|(s, _)| s == k) {
                p.sort.push((k.to_string(), default_asc));
            }
        }
        Ok(p)
    }
}

fn opt_cmp<T: Ord>(a: &Option<T>, b: &Option<T>) -> Ordering {
    // NULLs sort first ascending, as MySQL and SQLite order them.
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => x.cmp(y),
    }
}

fn cmp_key(a: &Image, b: &Image, key: &str) -> Ordering {
    match key {
        "name" => opt_cmp(&a.name, &b.name),
        "status" => a.status.cmp(&b.status),
        "container_format" => opt_cmp(&a.container_format, &b.container_format),
        "disk_format" => opt_cmp(&a.disk_format, &b.disk_format),
        "size" => opt_cmp(&a.size, &b.size),
        "id" => a.id.cmp(&b.id),
        "created_at" => a.created_at.cmp(&b.created_at),
        _ => a.updated_at.cmp(&b.updated_at),
    }
}

fn cmp_images(a: &Image, b: &Image, sort: &[(String, bool)]) -> Ordering {
    for (key, asc) in sort {
        let o = cmp_key(a, b, key);
        let o = if *asc { o } else { o.reverse() };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

fn value_str(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

impl App {
    /// `GET /v2/images`: one page, and the marker of the next page when there may be one.
    pub async fn image_list(
        &self,
        ctx: &RequestContext,
        p: &ListParams,
    ) -> Result<(Vec<Image>, Option<String>)> {
        let auth = self.caller(ctx)?;
        self.authorize(
            auth,
            "get_images",
            &serde_json::json!({"project_id": auth.project_id, "owner": auth.project_id, "visibility": "private"}),
        )?;
        let mut q = p.columns.clone();
        q.admin = self.is_admin(auth);
        q.project_id = auth.project_id.clone();
        q.member_status = (p.member_status != "all").then(|| p.member_status.clone());
        q.visibility = p.visibility.clone();
        let mut images = self.store.image_list(&q).await?;
        images.retain(|im| {
            p.tags.iter().all(|t| im.tags.contains(t))
                && p.times.iter().all(|(key, op, when)| {
                    let v = if *key == "created_at" {
                        im.created_at
                    } else {
                        im.updated_at
                    };
                    // Glance compares at the seconds its timestamps carry.
                    let (v, when) = (v / 1_000_000, when / 1_000_000);
                    match op {
                        TimeOp::Gt => v > when,
                        TimeOp::Gte => v >= when,
                        TimeOp::Lt => v < when,
                        TimeOp::Lte => v <= when,
                        TimeOp::Eq => v == when,
                        TimeOp::Neq => v != when,
                    }
                })
        });
        if !p.others.is_empty() {
            images.retain(|im| {
                let view = self.image_view(im);
                p.others
                    .iter()
                    .all(|(k, v)| view.get(k).and_then(value_str).as_deref() == Some(v.as_str()))
            });
        }
        // Each image also passes `get_image` (Glance filters the page through it).
        images.retain(|im| {
            self.policy
                .enforce("get_image", auth, &self.image_target(auth, im))
        });
        images.sort_by(|a, b| cmp_images(a, b, &p.sort));
        if let Some(m) = &p.marker {
            let marker = self
                .image_lookup(auth, m)
                .await
                .map_err(|_| bad(format!("No image found with ID {m}")))?;
            let start = images
                .iter()
                .position(|im| cmp_images(im, &marker, &p.sort) == Ordering::Greater)
                .unwrap_or(images.len());
            images.drain(..start);
        }
        let limit = p
            .limit
            .unwrap_or(self.config.limit_param_default)
            .min(self.config.api_limit_max) as usize;
        let next = if images.len() > limit || (limit > 0 && images.len() == limit) {
            images.truncate(limit);
            images.last().map(|i| i.id.clone())
        } else {
            None
        };
        Ok((images, next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &str) -> Vec<(String, String)> {
        form_urlencoded::parse(q.as_bytes()).into_owned().collect()
    }

    #[test]
    fn sorting_syntaxes() {
        let p = ListParams::parse(&pairs("sort=name:asc,size")).expect("parse");
        assert_eq!(
            p.sort,
            vec![
                ("name".to_string(), true),
                ("size".to_string(), false),
                ("created_at".to_string(), true),
                ("id".to_string(), true)
            ]
        );
        let p = ListParams::parse(&pairs("sort_key=name&sort_key=id&sort_dir=asc")).expect("parse");
        assert_eq!(p.sort.get(1), Some(&("id".to_string(), true)));
        assert!(ListParams::parse(&pairs("sort=name&sort_key=id")).is_err());
        assert!(ListParams::parse(&pairs("sort=bogus:asc")).is_err());
        assert!(ListParams::parse(&pairs("sort=name:up")).is_err());
        assert!(
            ListParams::parse(&pairs(
                "sort_key=name&sort_key=id&sort_dir=asc&sort_dir=desc&sort_dir=asc"
            ))
            .is_err()
        );
    }

    #[test]
    fn filters() {
        let p = ListParams::parse(&pairs(
            "limit=2&tag=a&tag=b&name=in:x,y&created_at=gt:2026-01-01T00:00:00Z&os_distro=debian",
        ))
        .expect("parse");
        assert_eq!(p.limit, Some(2));
        assert_eq!(p.tags, ["a", "b"]);
        assert_eq!(p.columns.name, Some(vec!["x".to_string(), "y".to_string()]));
        assert_eq!(p.times.len(), 1);
        assert_eq!(
            p.others,
            vec![("os_distro".to_string(), "debian".to_string())]
        );
        assert_eq!(p.columns.os_hidden, Some(false));
        for bad in [
            "limit=-1",
            "limit=x",
            "member_status=maybe",
            "visibility=secret",
            "os_hidden=maybe",
            "size_min=big",
            "created_at=gt:yesterday",
            "changes-since=2020-01-01",
        ] {
            assert!(ListParams::parse(&pairs(bad)).is_err(), "{bad}");
        }
    }
}
