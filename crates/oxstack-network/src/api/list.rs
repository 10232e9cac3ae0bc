//! Neutron's list semantics over rendered resources: filters on any attribute (repeated
//! values mean "any of"), tag filters, `sort_key`/`sort_dir`, `limit`/`marker` with
//! `next`/`previous` links, and `fields=`.
//!
//! Filters and pagination run over the rendered rows. For ports, the lists that grow large,
//! [`scope`] lets the logic narrow the rows first: by network and project in SQL, and to
//! the one page asked for when nothing else filters or sorts, so that only that page is
//! rendered. TODO-performance: the same for the other kinds when their lists grow.

use std::cmp::Ordering;

use oxstack_common::Result;
use serde_json::{Map, Value, json};

use crate::app::{ListScope, bad, to_bool};
use crate::store::Kind;

const RESERVED: &[&str] = &[
    "fields",
    "sort_key",
    "sort_dir",
    "limit",
    "marker",
    "page_reverse",
    "tags",
    "tags-any",
    "not-tags",
    "not-tags-any",
];

/// What of the query the logic may apply before rendering (see [`ListScope`]); [`apply`]
/// still applies all of it to what is rendered.
pub(crate) fn scope(kind: Kind, params: &[(String, String)]) -> ListScope {
    if kind != Kind::Port {
        return ListScope::default();
    }
    let values = |key: &str| -> Vec<String> {
        params
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    };
    let single = |v: &[String]| {
        if v.len() == 1 {
            v.first().cloned()
        } else {
            None
        }
    };
    let (networks, projects, tenants) = (
        values("network_id"),
        values("project_id"),
        values("tenant_id"),
    );
    // A filter given more than once means "any of", and any other filter or a sort acts on
    // rendered rows only: with either, a page cannot be cut before rendering.
    let repeated = [&networks, &projects, &tenants].iter().any(|v| v.len() > 1);
    let others = params.iter().any(|(k, _)| {
        !matches!(
            k.as_str(),
            "network_id" | "project_id" | "tenant_id" | "fields" | "limit" | "marker"
        )
    });
    let limit = params
        .iter()
        .find(|(k, _)| k == "limit")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .filter(|n| *n > 0);
    let marker = params
        .iter()
        .find(|(k, _)| k == "marker")
        .map(|(_, v)| v.clone());
    ListScope {
        parent: single(&networks),
        project: single(&projects).or_else(|| single(&tenants)),
        page: limit.filter(|_| !repeated && !others).map(|n| (n, marker)),
    }
}

/// Applies the query to `items`; returns the page and its links.
pub(crate) fn apply(
    mut items: Vec<Value>,
    params: &[(String, String)],
    url: &str,
) -> Result<(Vec<Value>, Vec<Value>)> {
    // Filters, grouped by attribute.
    let mut keys: Vec<&str> = params
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| !RESERVED.contains(k))
        .collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        let wanted: Vec<&str> = params
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect();
        items.retain(|item| matches(item, key, &wanted));
    }
    for (param, all, negate) in [
        ("tags", true, false),
        ("tags-any", false, false),
        ("not-tags", true, true),
        ("not-tags-any", false, true),
    ] {
        let wanted: Vec<String> = params
            .iter()
            .filter(|(k, _)| k == param)
            .flat_map(|(_, v)| v.split(',').map(str::to_string))
            .filter(|t| !t.is_empty())
            .collect();
        if wanted.is_empty() {
            continue;
        }
        items.retain(|item| {
            let tags: Vec<&str> = item["tags"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let hit = if all {
                wanted.iter().all(|w| tags.contains(&w.as_str()))
            } else {
                wanted.iter().any(|w| tags.contains(&w.as_str()))
            };
            hit != negate
        });
    }

    // Sorting.
    let sort_keys: Vec<&str> = params
        .iter()
        .filter(|(k, _)| k == "sort_key")
        .map(|(_, v)| v.as_str())
        .collect();
    let sort_dirs: Vec<&str> = params
        .iter()
        .filter(|(k, _)| k == "sort_dir")
        .map(|(_, v)| v.as_str())
        .collect();
    for d in &sort_dirs {
        if *d != "asc" && *d != "desc" {
            return Err(bad(format!(
                "{d} is an invalid value for sort_dir, valid values are 'asc' and 'desc'"
            )));
        }
    }
    if let Some(first) = items.first() {
        for k in &sort_keys {
            if first.get(*k).is_none() {
                return Err(bad(format!("{k} is an invalid attribute for sort_key")));
            }
        }
    }
    let reverse_page = params
        .iter()
        .any(|(k, v)| k == "page_reverse" && v.eq_ignore_ascii_case("true"));
    if !sort_keys.is_empty() {
        items.sort_by(|a, b| {
            for (i, k) in sort_keys.iter().enumerate() {
                let desc = sort_dirs.get(i).is_some_and(|d| *d == "desc");
                let o = compare(&a[*k], &b[*k]);
                let o = if desc { o.reverse() } else { o };
                if o != Ordering::Equal {
                    return o;
                }
            }
            compare(&a["id"], &b["id"])
        });
    }

    // Pagination.
    let limit = match params.iter().find(|(k, _)| k == "limit") {
        Some((_, v)) => {
            let n: i64 = v.parse().map_err(|_| {
                bad(format!(
                    "Bad limit request: Limit must be an integer 0 or greater and not '{v}'"
                ))
            })?;
            if n < 0 {
                return Err(bad(format!(
                    "Bad limit request: Limit must be an integer 0 or greater and not '{v}'"
                )));
            }
            (n > 0).then_some(n as usize)
        }
        None => None,
    };
    let marker = params
        .iter()
        .find(|(k, _)| k == "marker")
        .map(|(_, v)| v.clone());
    if reverse_page {
        items.reverse();
    }
    if let Some(m) = &marker
        && let Some(pos) = items.iter().position(|i| i["id"] == json!(m))
    {
        items.drain(..=pos);
    }
    let mut links = Vec::new();
    if let Some(n) = limit {
        let more = items.len() > n;
        items.truncate(n);
        let mut base: Vec<String> = params
            .iter()
            .filter(|(k, _)| k != "marker" && k != "page_reverse")
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        base.sort();
        let q = base.join("&");
        if more && let Some(last) = items.last() {
            links.push(json!({"rel": "next", "href": format!("{url}?{q}&marker={}", last["id"].as_str().unwrap_or_default())}));
        }
        if marker.is_some()
            && let Some(first) = items.first()
        {
            links.push(json!({"rel": "previous", "href": format!("{url}?{q}&marker={}&page_reverse=True", first["id"].as_str().unwrap_or_default())}));
        }
    }
    if reverse_page {
        items.reverse();
    }
    let items = items
        .into_iter()
        .map(|i| select_fields(i, params))
        .collect();
    Ok((items, links))
}

/// Keeps only the `fields=` asked for (all when none).
pub(crate) fn select_fields(item: Value, params: &[(String, String)]) -> Value {
    let fields: Vec<&str> = params
        .iter()
        .filter(|(k, _)| k == "fields")
        .flat_map(|(_, v)| v.split(','))
        .collect();
    if fields.is_empty() {
        return item;
    }
    match item {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(k, _)| fields.contains(&k.as_str()))
                .collect::<Map<String, Value>>(),
        ),
        other => other,
    }
}

fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        _ => a.to_string().cmp(&b.to_string()),
    }
}

/// Whether `item[key]` matches any of `wanted`; unknown attributes do not filter.
fn matches(item: &Value, key: &str, wanted: &[&str]) -> bool {
    if key == "fixed_ips" {
        let ips = item["fixed_ips"].as_array().cloned().unwrap_or_default();
        return wanted.iter().all(|w| {
            let Some((k, v)) = w.split_once('=') else {
                return true;
            };
            if k == "ip_address_substr" {
                return ips.iter().any(|f| {
                    f.get("ip_address")
                        .and_then(Value::as_str)
                        .is_some_and(|a| a.contains(v))
                });
            }
            ips.iter()
                .any(|f| f.get(k).and_then(Value::as_str) == Some(v))
        });
    }
    let Some(v) = item.get(key) else {
        return true;
    };
    wanted.iter().any(|w| match v {
        Value::String(s) => s == w,
        Value::Bool(b) => to_bool(&json!(w)) == Some(*b),
        Value::Number(n) => n.to_string() == *w,
        Value::Null => w.is_empty() || *w == "None",
        Value::Array(a) => a.iter().any(|x| x.as_str() == Some(w)),
        Value::Object(_) => false,
    })
}
