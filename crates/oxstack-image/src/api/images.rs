//! `/v2/images`: create, list, show, JSON-patch update, delete, actions and tags.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use oxstack_common::context::RequestContext;
use oxstack_common::error::ErrorKind;
use oxstack_common::{Error, Result};
use serde_json::{Value, json};

use super::{AppState, json_body, no_content, query_pairs};
use crate::app::{App, Change, IMPORT_METHODS, ListParams, Op};

/// The JSON-patch media types and the JSON-schema draft each one follows.
const PATCH_TYPES: &[(&str, u8)] = &[
    ("application/openstack-images-v2.0-json-patch", 4),
    ("application/openstack-images-v2.1-json-patch", 10),
];

pub(super) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/v2/images", get(image_list).post(image_create))
        .route(
            "/v2/images/{id}",
            get(image_show).patch(image_update).delete(image_delete),
        )
        .route("/v2/images/{id}/actions/deactivate", post(image_deactivate))
        .route("/v2/images/{id}/actions/reactivate", post(image_reactivate))
        .route(
            "/v2/images/{id}/tags/{tag}",
            put(tag_add).delete(tag_remove),
        )
}

async fn image_create(State(app): AppState, ctx: RequestContext, req: Request) -> Result<Response> {
    let body = json_body(req, &app).await?;
    let im = app.image_create(&ctx, &body).await?;
    let mut resp = (StatusCode::CREATED, axum::Json(app.image_view(&im))).into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("/v2/images/{}", im.id)) {
        h.insert(header::LOCATION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&IMPORT_METHODS.join(",")) {
        h.insert("openstack-image-import-methods", v);
    }
    h.insert(
        "openstack-image-store-ids",
        HeaderValue::from_static(app.data.id()),
    );
    Ok(resp)
}

async fn image_list(
    State(app): AppState,
    ctx: RequestContext,
    RawQuery(raw): RawQuery,
) -> Result<Response> {
    let pairs = query_pairs(raw.as_deref());
    let params = ListParams::parse(&pairs)?;
    let (images, next) = app.image_list(&ctx, &params).await?;
    // Links as Glance builds them: the query as given (one value per key), without the
    // marker for `first`, with the next marker appended for `next`.
    let mut seen: Vec<(String, String)> = Vec::new();
    for (k, v) in pairs.into_iter().filter(|(k, _)| k != "marker") {
        match seen.iter_mut().find(|(sk, _)| *sk == k) {
            Some(slot) => slot.1 = v,
            None => seen.push((k, v)),
        }
    }
    let encode = |pairs: &[(String, String)]| {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
    };
    let mut body = json!({
        "images": images.iter().map(|i| app.image_view(i)).collect::<Vec<_>>(),
        "first": if seen.is_empty() { "/v2/images".to_string() } else { format!("/v2/images?{}", encode(&seen)) },
        "schema": "/v2/schemas/images",
    });
    if let Some(marker) = next {
        seen.push(("marker".into(), marker));
        body["next"] = json!(format!("/v2/images?{}", encode(&seen)));
    }
    Ok(axum::Json(body).into_response())
}

async fn image_show(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response> {
    let im = app.image_show(&ctx, &id).await?;
    Ok(axum::Json(app.image_view(&im)).into_response())
}

/// Decodes a JSON pointer as Glance accepts it (`~1` is `/`, `~0` is `~`).
fn decode_pointer(pointer: &str) -> Result<Vec<String>> {
    let bad = |why: &str| Error::bad_request(format!("Pointer `{pointer}` {why}"));
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err(bad("does not start with \"/\"."));
    };
    if pointer.len() > 1 && pointer.ends_with('/') {
        return Err(bad("end with \"/\"."));
    }
    let mut out = Vec::new();
    for part in rest.split('/') {
        if part.trim().is_empty() && pointer.len() > 1 {
            return Err(bad("contains adjacent \"/\"."));
        }
        let mut chars = part.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '~' && !matches!(chars.peek(), Some('0' | '1')) {
                return Err(bad(
                    "contains \"~\" not part of a recognized escape sequence.",
                ));
            }
        }
        out.push(
            part.replace("~1", "/")
                .replace("~0", "~")
                .trim()
                .to_string(),
        );
    }
    Ok(out)
}

/// Parses a JSON-patch document of `draft` 4 (`{"replace": "/name", "value": ...}`) or 10
/// (`{"op": "replace", "path": "/name", "value": ...}`).
fn parse_changes(body: &Value, draft: u8) -> Result<Vec<Change>> {
    let Value::Array(items) = body else {
        return Err(Error::bad_request(
            "Request body must be a JSON array of operation objects.",
        ));
    };
    let ops = [
        ("add", Op::Add),
        ("remove", Op::Remove),
        ("replace", Op::Replace),
    ];
    let mut out = Vec::new();
    for raw in items {
        let Value::Object(raw) = raw else {
            return Err(Error::bad_request("Operations must be JSON objects."));
        };
        let (op, path) = if draft == 10 {
            let name = raw.get("op").and_then(Value::as_str).ok_or_else(|| {
                Error::bad_request(
                    "Unable to find `op` in JSON Schema change. It must be one of the following: add, remove, replace.",
                )
            })?;
            let op = ops.iter().find(|(n, _)| *n == name).map(|(_, o)| *o).ok_or_else(|| {
                Error::bad_request(format!(
                    "Invalid operation: `{name}`. It must be one of the following: add, remove, replace."
                ))
            })?;
            let path = raw
                .get("path")
                .and_then(Value::as_str)
                .ok_or_else(|| Error::bad_request("Unable to find 'path' in JSON Schema change"))?;
            (op, path.to_string())
        } else {
            let found: Vec<_> = ops.iter().filter(|(n, _)| raw.contains_key(*n)).collect();
            let [(name, op)] = found.as_slice() else {
                return Err(Error::bad_request(
                    "Operation objects must contain exactly one member named \"add\", \"remove\", or \"replace\".",
                ));
            };
            let path = raw.get(*name).and_then(Value::as_str).unwrap_or_default();
            (*op, path.to_string())
        };
        let value = match op {
            Op::Remove => None,
            _ => Some(raw.get("value").cloned().ok_or_else(|| {
                Error::bad_request(format!(
                    "Operation \"{}\" requires a member named \"value\".",
                    ops.iter()
                        .find(|(_, o)| *o == op)
                        .map(|(n, _)| *n)
                        .unwrap_or_default()
                ))
            })?),
        };
        out.push(Change {
            op,
            path: decode_pointer(&path)?,
            value,
        });
    }
    Ok(out)
}

async fn image_update(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
    req: Request,
) -> Result<Response> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let Some((_, draft)) = PATCH_TYPES.iter().find(|(t, _)| *t == content_type) else {
        let allowed: Vec<&str> = PATCH_TYPES.iter().map(|(t, _)| *t).collect();
        let mut resp = Error::new(
            ErrorKind::UnsupportedMediaType,
            format!(
                "Image PATCH expects Content-Type one of: {}",
                allowed.join(", ")
            ),
        )
        .into_response();
        if let Ok(v) = HeaderValue::from_str(&allowed.join(", ")) {
            resp.headers_mut().insert("accept-patch", v);
        }
        return Ok(resp);
    };
    let body = json_body(req, &app).await?;
    let changes = parse_changes(&body, *draft)?;
    let im = app.image_update(&ctx, &id, &changes).await?;
    Ok(axum::Json(app.image_view(&im)).into_response())
}

async fn image_delete(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response> {
    app.image_delete(&ctx, &id).await?;
    Ok(no_content())
}

async fn image_deactivate(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response> {
    app.image_deactivate(&ctx, &id).await?;
    Ok(no_content())
}

async fn image_reactivate(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response> {
    app.image_reactivate(&ctx, &id).await?;
    Ok(no_content())
}

async fn tag_add(
    State(app): AppState,
    ctx: RequestContext,
    Path((id, tag)): Path<(String, String)>,
) -> Result<Response> {
    app.tag_add(&ctx, &id, &tag).await?;
    Ok(no_content())
}

async fn tag_remove(
    State(app): AppState,
    ctx: RequestContext,
    Path((id, tag)): Path<(String, String)>,
) -> Result<Response> {
    app.tag_remove(&ctx, &id, &tag).await?;
    Ok(no_content())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers() {
        assert_eq!(decode_pointer("/name").expect("ok"), ["name"]);
        assert_eq!(decode_pointer("/a~1b~0c").expect("ok"), ["a/b~c"]);
        assert_eq!(
            decode_pointer("/locations/0").expect("ok"),
            ["locations", "0"]
        );
        for bad in ["name", "/a//b", "/a/", "/a~2"] {
            assert!(decode_pointer(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn both_patch_drafts() {
        let d10 = json!([{"op": "replace", "path": "/name", "value": "x"}, {"op": "remove", "path": "/k"}]);
        let c = parse_changes(&d10, 10).expect("draft 10");
        assert_eq!(c.len(), 2);
        assert_eq!((c[0].op, c[1].value.clone()), (Op::Replace, None));
        let d4 = json!([{"add": "/k", "value": "v"}]);
        assert_eq!(parse_changes(&d4, 4).expect("draft 4")[0].op, Op::Add);
        for bad in [
            json!({"op": "add"}),
            json!(["x"]),
            json!([{"op": "move", "path": "/a"}]),
            json!([{"op": "add", "path": "/a"}]),
            json!([{"path": "/a"}]),
        ] {
            assert!(parse_changes(&bad, 10).is_err(), "{bad}");
        }
        assert!(parse_changes(&json!([{"add": "/a", "remove": "/b", "value": 1}]), 4).is_err());
    }
}
