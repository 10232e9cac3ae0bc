//! Static large objects on the wire: `PUT ?multipart-manifest=put` reads the manifest
//! body, `DELETE ?multipart-manifest=delete` answers as a bulk delete does. (GETs of large
//! objects are rendered by [`super::object`] over the parts the logic layer assembles.)

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use oxstack_common::Result;

use super::{bulk, empty, http_date, read_body};
use crate::app::App;
use crate::app::bulk::BulkOutcome;
use crate::app::meta::Headers;
use crate::store::{Container, Object};

/// The largest manifest a client may PUT.
const MAX_MANIFEST: usize = 8 << 20;

pub(super) async fn slo_put(
    app: &Arc<App>,
    account: &str,
    c: &Container,
    name: &str,
    h: &Headers<'_>,
    body: Body,
) -> Result<Response> {
    let raw = read_body(body, MAX_MANIFEST).await?;
    let o = app.slo_put(account, c, name, h, &raw).await?;
    Ok(empty(
        StatusCode::CREATED,
        vec![
            ("etag".into(), format!("\"{}\"", o.etag)),
            ("last-modified".into(), http_date(o.created_at)),
        ],
    ))
}

pub(super) async fn slo_delete(
    app: &Arc<App>,
    account: &str,
    o: &Object,
    h: &HeaderMap,
) -> Result<Response> {
    let (deleted, not_found) = app.slo_delete(account, o).await?;
    let outcome = BulkOutcome {
        done: deleted,
        not_found,
        errors: vec![],
    };
    Ok(bulk::delete_result(h, &outcome))
}
