//! Image data: `PUT/GET/HEAD /v2/images/{id}/file`, `PUT /v2/images/{id}/stage` and
//! `POST /v2/images/{id}/import`. Bodies stream both ways; nothing is buffered whole.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use futures_util::TryStreamExt as _;
use oxstack_common::context::RequestContext;
use oxstack_common::error::ErrorKind;
use oxstack_common::{Error, Result};

use super::{AppState, json_body, no_content};
use crate::app::{App, Download, Range};
use crate::data::ByteStream;

pub(super) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route(
            "/v2/images/{id}/file",
            put(image_upload).get(image_download),
        )
        .route("/v2/images/{id}/stage", put(image_stage))
        .route("/v2/images/{id}/import", post(image_import))
}

/// The request body as a stream, after checking it is declared as image data.
fn octet_stream(headers: &HeaderMap, body: Body) -> Result<(ByteStream, Option<u64>)> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        });
    if ct.as_deref() != Some("application/octet-stream") {
        return Err(Error::new(
            ErrorKind::UnsupportedMediaType,
            format!(
                "Content type {} is not supported; image data must be application/octet-stream.",
                ct.as_deref().unwrap_or("(none)")
            ),
        ));
    }
    let len = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let stream = body.into_data_stream().map_err(std::io::Error::other);
    Ok((Box::pin(stream), len))
}

async fn image_upload(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let (stream, len) = octet_stream(&headers, body)?;
    app.image_upload(&ctx, &id, stream, len).await?;
    Ok(no_content())
}

async fn image_stage(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let (stream, len) = octet_stream(&headers, body)?;
    app.image_stage(&ctx, &id, stream, len).await?;
    Ok(no_content())
}

async fn image_import(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
    req: Request,
) -> Result<Response> {
    let body = json_body(req, &app).await?;
    app.image_import(&ctx, &id, &body).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

fn header_value(v: impl ToString) -> HeaderValue {
    HeaderValue::from_str(&v.to_string()).unwrap_or(HeaderValue::from_static(""))
}

async fn image_download(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(Range::parse);
    let octet = HeaderValue::from_static("application/octet-stream");
    let resp = match app.image_download(&ctx, &id, range).await? {
        Download::NoData => no_content(),
        Download::Full {
            body,
            size,
            checksum,
        } => {
            let mut r = Response::new(Body::from_stream(body));
            let h = r.headers_mut();
            h.insert(header::CONTENT_TYPE, octet);
            h.insert(header::CONTENT_LENGTH, header_value(size));
            h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
            if let Some(c) = checksum {
                h.insert("content-md5", header_value(c));
            }
            r
        }
        Download::Partial {
            body,
            offset,
            len,
            size,
        } => {
            let mut r = Response::new(Body::from_stream(body));
            *r.status_mut() = StatusCode::PARTIAL_CONTENT;
            let h = r.headers_mut();
            h.insert(header::CONTENT_TYPE, octet);
            h.insert(header::CONTENT_LENGTH, header_value(len));
            h.insert(
                header::CONTENT_RANGE,
                header_value(format!("bytes {offset}-{}/{size}", offset + len - 1)),
            );
            r
        }
        Download::Unsatisfiable { size } => {
            let mut r = Error::new(
                ErrorKind::RangeNotSatisfiable,
                "Requested range not satisfiable",
            )
            .into_response();
            r.headers_mut().insert(
                header::CONTENT_RANGE,
                header_value(format!("bytes */{size}")),
            );
            r
        }
    };
    Ok(resp)
}
