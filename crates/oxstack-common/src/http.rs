//! The HTTP stack every service shares.
//!
//! [`Stack::wrap`] puts a service's router inside, from the outside in: request ids
//! (`x-openstack-request-id`, and a tracing span carrying them), metrics and the access log,
//! the error renderer (the service's own JSON error shape), panic catching (a panic becomes a
//! logged 500, never a dropped connection), authentication (see [`crate::context`]) and the
//! body-size limit. Unknown routes answer 404 and wrong methods 405, in the service's shape.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, FromRequest, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::de::DeserializeOwned;
use tower_http::catch_panic::CatchPanicLayer;
use tracing::Instrument;

use crate::context::{RequestContext, RequestIds, TokenValidator};
use crate::error::{Error, ErrorKind};
use crate::metrics::Metrics;

pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-openstack-request-id");
pub static AUTH_TOKEN: HeaderName = HeaderName::from_static("x-auth-token");
pub static SERVICE_TOKEN: HeaderName = HeaderName::from_static("x-service-token");
pub static SUBJECT_TOKEN: HeaderName = HeaderName::from_static("x-subject-token");

/// A fresh local request id.
pub fn new_request_id() -> String {
    format!("req-{}", uuid::Uuid::new_v4())
}

fn is_request_id(s: &str) -> bool {
    s.strip_prefix("req-")
        .is_some_and(|u| uuid::Uuid::parse_str(u).is_ok())
}

/// The JSON (or text) error shape a service's clients expect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorStyle {
    /// `{"error": {"code", "title", "message"}}`
    Keystone,
    /// `{"itemNotFound": {"code", "message"}}` (Nova and Cinder)
    Nova,
    /// `{"NeutronError": {"type", "message", "detail"}}`
    Neutron,
    /// `{"errors": [{"status", "title", "detail", "code", "request_id"}]}`
    Placement,
    /// Plain text with the status line (Glance and Swift answer errors as text).
    PlainText,
}

/// Marks a response as an error the renderer turns into the service's shape.
#[derive(Debug, Clone)]
struct ErrorInfo {
    message: String,
    type_name: Option<String>,
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if self.kind == ErrorKind::Internal {
            tracing::error!(error = %error_chain(&self), "internal error");
        } else {
            tracing::debug!(status = status.as_u16(), message = %self.message, "client error");
        }
        let type_name = match self.kind {
            ErrorKind::Internal => None,
            _ => self.type_name.map(|t| t.into_owned()),
        };
        let mut resp = status.into_response();
        resp.extensions_mut().insert(ErrorInfo {
            message: self.message.into_owned(),
            type_name,
        });
        resp
    }
}

/// `error: cause: cause` for the log.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

fn reason(status: StatusCode) -> &'static str {
    status.canonical_reason().unwrap_or("Error")
}

fn nova_key(status: u16) -> &'static str {
    match status {
        400 => "badRequest",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "itemNotFound",
        405 => "badMethod",
        406 => "notAcceptable",
        409 => "conflictingRequest",
        413 => "overLimit",
        415 => "badMediaType",
        429 => "overLimit",
        501 => "notImplemented",
        503 => "serviceUnavailable",
        _ => "computeFault",
    }
}

fn neutron_type(status: u16) -> &'static str {
    match status {
        400 => "HTTPBadRequest",
        401 => "HTTPUnauthorized",
        403 => "HTTPForbidden",
        404 => "HTTPNotFound",
        405 => "HTTPMethodNotAllowed",
        409 => "HTTPConflict",
        413 => "HTTPRequestEntityTooLarge",
        415 => "HTTPUnsupportedMediaType",
        503 => "HTTPServiceUnavailable",
        _ => "HTTPInternalServerError",
    }
}

/// Renders the body of an error response in `style`.
pub fn render_error(
    style: ErrorStyle,
    status: StatusCode,
    message: &str,
    type_name: Option<&str>,
    request_id: &str,
) -> Response {
    let code = status.as_u16();
    let json = |v: serde_json::Value| (status, axum::Json(v)).into_response();
    match style {
        ErrorStyle::Keystone => json(serde_json::json!({
            "error": {"code": code, "title": type_name.unwrap_or(reason(status)), "message": message}
        })),
        ErrorStyle::Nova => {
            let key = type_name.unwrap_or(nova_key(code));
            json(serde_json::json!({ key: {"code": code, "message": message} }))
        }
        ErrorStyle::Neutron => json(serde_json::json!({
            "NeutronError": {"type": type_name.unwrap_or(neutron_type(code)), "message": message, "detail": ""}
        })),
        ErrorStyle::Placement => json(serde_json::json!({
            "errors": [{
                "status": code, "title": reason(status), "detail": message,
                "code": type_name.unwrap_or("placement.undefined_code"), "request_id": request_id,
            }]
        })),
        ErrorStyle::PlainText => (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=UTF-8")],
            format!("{code} {}\n\n{message}\n\n   ", reason(status)),
        )
            .into_response(),
    }
}

/// The per-process parts of the HTTP stack.
#[derive(Debug, Clone)]
pub struct Stack {
    pub metrics: Metrics,
    pub max_body_bytes: usize,
    /// Token validation; `None` only before the identity service is wired in.
    pub auth: Option<Arc<dyn TokenValidator>>,
    /// The identity endpoint, advertised in `WWW-Authenticate` on 401s.
    pub identity_url: Option<String>,
}

#[derive(Debug, Clone)]
struct ServiceInfo {
    name: &'static str,
    style: ErrorStyle,
    metrics: Metrics,
    auth: Option<Arc<dyn TokenValidator>>,
    www_authenticate: Option<HeaderValue>,
}

impl Stack {
    /// Wraps `router` (one service's routes) in the shared stack.
    pub fn wrap(&self, name: &'static str, style: ErrorStyle, router: Router) -> Router {
        let info = Arc::new(ServiceInfo {
            name,
            style,
            metrics: self.metrics.clone(),
            auth: self.auth.clone(),
            www_authenticate: self
                .identity_url
                .as_ref()
                .and_then(|u| HeaderValue::from_str(&format!("Keystone uri=\"{u}\"")).ok()),
        });
        let metrics = self.metrics.clone();
        router
            .route("/metrics", get(move || async move { metrics.render() }))
            .fallback(|| async { Error::not_found("The resource could not be found.") })
            .method_not_allowed_fallback(|| async {
                Error::new(
                    ErrorKind::MethodNotAllowed,
                    "The method is not allowed for the requested URL.",
                )
            })
            .layer(DefaultBodyLimit::max(self.max_body_bytes))
            .layer(middleware::from_fn_with_state(info.clone(), authenticate))
            .layer(CatchPanicLayer::custom(
                |_: Box<dyn std::any::Any + Send>| {
                    tracing::error!("handler panicked");
                    Error::new(
                        ErrorKind::Internal,
                        "An unexpected error prevented the server from fulfilling your request.",
                    )
                    .into_response()
                },
            ))
            .layer(middleware::from_fn_with_state(info.clone(), render_errors))
            .layer(middleware::from_fn_with_state(info, observe))
            .layer(middleware::from_fn(request_ids))
    }
}

async fn request_ids(mut req: Request, next: Next) -> Response {
    let local = new_request_id();
    let claimed_global = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_request_id(v))
        .map(str::to_string);
    let span = tracing::info_span!("request", id = %local, global = claimed_global.as_deref().unwrap_or(""));
    req.extensions_mut().insert(RequestIds {
        local: local.clone(),
        claimed_global,
    });
    let mut resp = next.run(req).instrument(span).await;
    if let Ok(v) = HeaderValue::from_str(&local) {
        resp.headers_mut().insert(REQUEST_ID.clone(), v);
    }
    resp
}

async fn observe(State(info): State<Arc<ServiceInfo>>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "(unmatched)".into());
    let resp = next.run(req).await;
    let secs = start.elapsed().as_secs_f64();
    let status = resp.status().as_u16();
    info.metrics
        .observe(info.name, &route, method.as_str(), status, secs);
    tracing::info!(service = info.name, %method, %path, status, ms = secs * 1000.0, "handled");
    resp
}

async fn render_errors(State(info): State<Arc<ServiceInfo>>, req: Request, next: Next) -> Response {
    let request_id = req
        .extensions()
        .get::<RequestIds>()
        .map(|i| i.local.clone())
        .unwrap_or_default();
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let (message, type_name) = if let Some(e) = parts.extensions.get::<ErrorInfo>() {
        (e.message.clone(), e.type_name.clone())
    } else if parts
        .headers
        .get(header::CONTENT_TYPE)
        .is_none_or(|v| v.as_bytes().starts_with(b"text/plain"))
    {
        // A rejection from axum itself (bad path or query syntax): plain text to re-shape.
        let bytes = axum::body::to_bytes(body, 64 * 1024)
            .await
            .unwrap_or_default();
        (String::from_utf8_lossy(&bytes).into_owned(), None)
    } else {
        return Response::from_parts(parts, body);
    };
    let mut out = render_error(
        info.style,
        status,
        &message,
        type_name.as_deref(),
        &request_id,
    );
    for (k, v) in parts.headers.iter() {
        if k != header::CONTENT_TYPE && k != header::CONTENT_LENGTH {
            out.headers_mut().insert(k.clone(), v.clone());
        }
    }
    if status == StatusCode::UNAUTHORIZED
        && let Some(w) = &info.www_authenticate
    {
        out.headers_mut()
            .insert(header::WWW_AUTHENTICATE, w.clone());
    }
    out
}

async fn authenticate(
    State(info): State<Arc<ServiceInfo>>,
    mut req: Request,
    next: Next,
) -> Response {
    let ids = req
        .extensions()
        .get::<RequestIds>()
        .cloned()
        .unwrap_or_else(|| RequestIds {
            local: new_request_id(),
            claimed_global: None,
        });
    let (token, service_token) = (
        header_string(&req, &AUTH_TOKEN),
        header_string(&req, &SERVICE_TOKEN),
    );
    let mut ctx = RequestContext {
        ids,
        auth: None,
        token: None,
        service: None,
    };
    if let Some(validator) = &info.auth {
        if let Some(t) = token {
            match validator.validate(&t).await {
                Ok(a) => {
                    ctx.auth = Some(Arc::new(a));
                    ctx.token = Some(t);
                }
                Err(e) => return e.into_response(),
            }
        }
        if let Some(t) = service_token {
            match validator.validate(&t).await {
                Ok(a) => ctx.service = Some(Arc::new(a)),
                Err(e) => return e.into_response(),
            }
        }
    }
    req.extensions_mut().insert(ctx);
    next.run(req).await
}

fn header_string(req: &Request, name: &HeaderName) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

/// A JSON request body whose errors (malformed JSON, too large) become [`Error`]s, and a JSON
/// response.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        let bytes = Bytes::from_request(req, state).await.map_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Error::new(ErrorKind::PayloadTooLarge, "Request is too large.")
            } else {
                Error::bad_request(format!(
                    "Could not read the request body: {}",
                    r.body_text()
                ))
            }
        })?;
        parse_json(&bytes).map(Json)
    }
}

/// Parses a JSON request body, turning failures into 400s.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(bytes)
        .map_err(|e| Error::bad_request(format!("Malformed request body: {e}")))
}

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets in-flight requests
/// finish.
pub async fn serve<F>(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: F,
) -> std::io::Result<()>
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    use axum::serve::ListenerExt as _;
    // Without TCP_NODELAY a response whose body is streamed after its head (object and image
    // downloads) waits for the client's delayed ACK: 40 ms per small object.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set");
        }
    });
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

/// An empty-bodied response with a status.
pub fn status(code: StatusCode) -> Response {
    Response::builder()
        .status(code)
        .body(Body::empty())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
