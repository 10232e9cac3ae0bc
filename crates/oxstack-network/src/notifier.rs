//! Telling compute what happened to its servers' ports (Neutron's Nova notifier): a port of a
//! server became ACTIVE (`network-vif-plugged`) or DOWN (`network-vif-unplugged`), was
//! deleted (`network-vif-deleted`), or its addresses or floating IPs changed
//! (`network-changed`, after which compute re-reads the server's ports).
//!
//! The logic layer hands events to a [`ComputeNotifier`] after the database has the new
//! state; queuing never blocks or fails the API call. [`HttpNotifier`] delivers them from a
//! task of its own to `POST /v2.1/os-server-external-events` with an admin token, in batches
//! (what queues while one batch is sent goes in the next, as Neutron's `BatchNotifier`);
//! [`NoNotifier`] drops them (compute not configured); [`RecordingNotifier`] keeps them for
//! tests.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// The events compute understands about ports (Nova's external event names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventName {
    VifPlugged,
    VifUnplugged,
    VifDeleted,
    NetworkChanged,
}

impl EventName {
    pub fn as_str(self) -> &'static str {
        match self {
            EventName::VifPlugged => "network-vif-plugged",
            EventName::VifUnplugged => "network-vif-unplugged",
            EventName::VifDeleted => "network-vif-deleted",
            EventName::NetworkChanged => "network-changed",
        }
    }
}

/// One event about one port of one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerEvent {
    pub name: EventName,
    pub server_uuid: String,
    /// The port's id (Nova matches it against the VIFs it waits for).
    pub tag: String,
    /// `completed`, or `failed` when the port went to ERROR.
    pub status: &'static str,
}

impl ServerEvent {
    /// The event as `os-server-external-events` takes it.
    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name.as_str(),
            "server_uuid": self.server_uuid,
            "tag": self.tag,
            "status": self.status,
        })
    }
}

/// Where port events for compute go.
pub trait ComputeNotifier: Send + Sync + std::fmt::Debug {
    /// Queues `event` for delivery. Never blocks and never fails: delivery happens later
    /// and its failures are only logged, like Neutron's.
    fn notify(&self, event: ServerEvent);
}

/// Drops every event (no compute service to tell).
#[derive(Debug, Default)]
pub struct NoNotifier;

impl ComputeNotifier for NoNotifier {
    fn notify(&self, _event: ServerEvent) {}
}

/// Keeps the events in memory (for tests).
#[derive(Debug, Default)]
pub struct RecordingNotifier {
    events: Mutex<Vec<ServerEvent>>,
}

impl RecordingNotifier {
    /// The events queued since the last call.
    pub fn take(&self) -> Vec<ServerEvent> {
        std::mem::take(&mut *self.events.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl ComputeNotifier for RecordingNotifier {
    fn notify(&self, event: ServerEvent) {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(event);
    }
}

/// How long the delivery task waits after sending a batch before it sends the next one, so
/// that a burst of port changes goes out in few calls (Neutron's `send_events_interval`
/// is 2 s; the first event of a quiet period goes out at once).
const BATCH_INTERVAL: Duration = Duration::from_millis(500);
/// How long one call to compute or identity may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Delivers events to compute's `os-server-external-events` over HTTP.
#[derive(Debug)]
pub struct HttpNotifier {
    queue: mpsc::UnboundedSender<ServerEvent>,
}

impl HttpNotifier {
    /// Starts the delivery task (on the current tokio runtime) for the compute API at
    /// `compute_url` (`http://host:8774`), with tokens from `tokens`. The task ends when
    /// the notifier is dropped.
    pub fn spawn(compute_url: &str, tokens: PasswordTokenSource) -> HttpNotifier {
        let (queue, rx) = mpsc::unbounded_channel();
        let base = compute_url.trim_end_matches('/');
        let base = base.strip_suffix("/v2.1").unwrap_or(base);
        let sender = Sender {
            http: http_client(),
            url: format!("{base}/v2.1/os-server-external-events"),
            tokens,
        };
        tokio::spawn(deliver(rx, sender));
        HttpNotifier { queue }
    }
}

impl ComputeNotifier for HttpNotifier {
    fn notify(&self, event: ServerEvent) {
        if self.queue.send(event).is_err() {
            tracing::warn!("compute notifier stopped; event dropped");
        }
    }
}

/// Sends what is queued, then waits [`BATCH_INTERVAL`] while the next batch gathers.
async fn deliver(mut rx: mpsc::UnboundedReceiver<ServerEvent>, sender: Sender) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while let Ok(e) = rx.try_recv() {
            if !batch.contains(&e) {
                batch.push(e);
            }
        }
        sender.send(&batch).await;
        tokio::time::sleep(BATCH_INTERVAL).await;
    }
}

type HttpClient = Client<HttpConnector, Full<Bytes>>;

fn http_client() -> HttpClient {
    let mut conn = HttpConnector::new();
    conn.set_connect_timeout(Some(Duration::from_secs(5)));
    Client::builder(TokioExecutor::new()).build(conn)
}

/// A failed call (only ever logged).
#[derive(Debug, thiserror::Error)]
enum CallError {
    #[error("unreachable")]
    Unreachable(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("cannot build the request")]
    Request(#[source] hyper::http::Error),
    #[error("identity answered {0}")]
    Identity(u16),
    #[error("identity gave no X-Subject-Token")]
    NoToken,
}

#[derive(Debug)]
struct Sender {
    http: HttpClient,
    url: String,
    tokens: PasswordTokenSource,
}

impl Sender {
    /// Posts one batch; a rejected token is renewed and the batch sent once more.
    async fn send(&self, batch: &[ServerEvent]) {
        let body = json!({"events": batch.iter().map(ServerEvent::to_json).collect::<Vec<_>>()});
        tracing::debug!(events = %body, "notifying compute");
        let mut renewed = false;
        loop {
            let result = match self.tokens.token(&self.http).await {
                Ok(token) => self.post(&token, &body).await,
                Err(e) => Err(e),
            };
            match result {
                Ok((StatusCode::UNAUTHORIZED, _)) if !renewed => {
                    self.tokens.invalidate().await;
                    renewed = true;
                }
                // 404 (no such server: it is being deleted), 422 (not on a host yet) and 207
                // (some of each) are ordinary: compute has nothing to do for them.
                Ok((st, answer))
                    if st.is_success()
                        || st == StatusCode::NOT_FOUND
                        || st == StatusCode::UNPROCESSABLE_ENTITY =>
                {
                    tracing::debug!(status = st.as_u16(), answer = %answer, "compute took the events");
                    return;
                }
                Ok((st, answer)) => {
                    tracing::warn!(
                        status = st.as_u16(),
                        answer = %answer,
                        events = %body,
                        "compute refused port events"
                    );
                    return;
                }
                Err(e) => {
                    tracing::warn!(
                        error = %oxstack_common::http::error_chain(&e),
                        events = %body,
                        "cannot notify compute of port events"
                    );
                    return;
                }
            }
        }
    }

    async fn post(&self, token: &str, body: &Value) -> Result<(StatusCode, String), CallError> {
        let req = Request::builder()
            .method(Method::POST)
            .uri(&self.url)
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .header("x-auth-token", token)
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(CallError::Request)?;
        let (status, _, bytes) = call(&self.http, req).await?;
        Ok((
            status,
            String::from_utf8_lossy(&bytes).chars().take(500).collect(),
        ))
    }
}

/// One request with [`CALL_TIMEOUT`]: the status, the response headers and the body.
async fn call(
    http: &HttpClient,
    req: Request<Full<Bytes>>,
) -> Result<(StatusCode, hyper::HeaderMap, Bytes), CallError> {
    let unreachable = |e: Box<dyn std::error::Error + Send + Sync>| CallError::Unreachable(e);
    let resp = tokio::time::timeout(CALL_TIMEOUT, http.request(req))
        .await
        .map_err(|e| unreachable(Box::new(e)))?
        .map_err(|e| unreachable(Box::new(e)))?;
    let (parts, body) = resp.into_parts();
    let bytes = tokio::time::timeout(CALL_TIMEOUT, body.collect())
        .await
        .map_err(|e| unreachable(Box::new(e)))?
        .map_err(|e| unreachable(Box::new(e)))?
        .to_bytes();
    Ok((parts.status, parts.headers, bytes))
}

/// A project-scoped token of a service user, from Keystone's password method, cached until
/// shortly before Keystone's default one-hour lifetime ends (or compute rejects it).
// TODO-correctness: read `expires_at` from the answer instead of assuming the default.
#[derive(Debug)]
pub struct PasswordTokenSource {
    url: String,
    body: String,
    cached: tokio::sync::Mutex<Option<(String, Instant)>>,
}

impl PasswordTokenSource {
    /// `identity_url` is `http://host:5000`; `user` and `project` are in the Default domain.
    pub fn new(identity_url: &str, user: &str, password: &str, project: &str) -> Self {
        Self {
            url: format!("{}/v3/auth/tokens", identity_url.trim_end_matches('/')),
            body: json!({"auth": {
                "identity": {"methods": ["password"], "password": {"user": {
                    "name": user, "domain": {"id": "default"}, "password": password}}},
                "scope": {"project": {"name": project, "domain": {"id": "default"}}},
            }})
            .to_string(),
            cached: tokio::sync::Mutex::new(None),
        }
    }

    async fn token(&self, http: &HttpClient) -> Result<String, CallError> {
        let mut cached = self.cached.lock().await;
        if let Some((t, until)) = cached.as_ref()
            && Instant::now() < *until
        {
            return Ok(t.clone());
        }
        let req = Request::builder()
            .method(Method::POST)
            .uri(&self.url)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(self.body.clone())))
            .map_err(CallError::Request)?;
        let (status, headers, _) = call(http, req).await?;
        if status != StatusCode::CREATED {
            return Err(CallError::Identity(status.as_u16()));
        }
        let token = headers
            .get("x-subject-token")
            .and_then(|v| v.to_str().ok())
            .ok_or(CallError::NoToken)?
            .to_string();
        *cached = Some((token.clone(), Instant::now() + Duration::from_secs(50 * 60)));
        Ok(token)
    }

    async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::http::HeaderMap;
    use axum::routing::post;

    use super::*;

    /// What the fake compute was sent: `(token, body)` per call.
    type Calls = Arc<Mutex<Vec<(String, Value)>>>;

    /// A fake identity (tokens `tok-1`, `tok-2`, ...) and compute (refuses `tok-1`) on one
    /// port of 127.0.0.1; answers its URL.
    async fn fake_cloud(calls: Calls) -> String {
        let issued = Arc::new(Mutex::new(0));
        let app = axum::Router::new()
            .route(
                "/v3/auth/tokens",
                post(move || {
                    let issued = issued.clone();
                    async move {
                        let n = {
                            let mut n = issued.lock().expect("lock");
                            *n += 1;
                            *n
                        };
                        (
                            axum::http::StatusCode::CREATED,
                            [("x-subject-token", format!("tok-{n}"))],
                            "{}",
                        )
                    }
                }),
            )
            .route(
                "/v2.1/os-server-external-events",
                post(move |headers: HeaderMap, body: String| {
                    let calls = calls.clone();
                    async move {
                        let token = headers
                            .get("x-auth-token")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_string();
                        let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                        calls.lock().expect("lock").push((token.clone(), body));
                        if token == "tok-1" {
                            axum::http::StatusCode::UNAUTHORIZED
                        } else {
                            axum::http::StatusCode::OK
                        }
                    }
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    }

    fn event(name: EventName, port: &str) -> ServerEvent {
        ServerEvent {
            name,
            server_uuid: "s".into(),
            tag: port.into(),
            status: "completed",
        }
    }

    #[tokio::test]
    async fn events_go_to_compute_in_a_batch_with_a_renewed_token() {
        let calls = Calls::default();
        let url = fake_cloud(calls.clone()).await;
        let n = HttpNotifier::spawn(
            &format!("{url}/v2.1/"),
            PasswordTokenSource::new(&url, "admin", "pw", "admin"),
        );
        n.notify(event(EventName::VifPlugged, "p1"));
        n.notify(event(EventName::NetworkChanged, "p2"));
        n.notify(event(EventName::NetworkChanged, "p2"));
        let start = Instant::now();
        while calls.lock().expect("lock").len() < 2 {
            assert!(start.elapsed() < Duration::from_secs(10), "no delivery");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let calls = calls.lock().expect("lock").clone();
        let names: Vec<&str> = calls.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(
            names,
            ["tok-1", "tok-2"],
            "the refused token is renewed once"
        );
        assert_eq!(calls[0].1, calls[1].1, "the same batch is sent again");
        assert_eq!(
            calls[1].1,
            json!({"events": [
                {"name": "network-vif-plugged", "server_uuid": "s", "tag": "p1", "status": "completed"},
                {"name": "network-changed", "server_uuid": "s", "tag": "p2", "status": "completed"},
            ]})
        );
    }

    #[tokio::test]
    async fn an_unreachable_compute_neither_blocks_nor_fails() {
        let dead = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            format!("http://{}", l.local_addr().expect("addr"))
        };
        let n = HttpNotifier::spawn(&dead, PasswordTokenSource::new(&dead, "a", "b", "c"));
        let start = Instant::now();
        for i in 0..100 {
            n.notify(event(EventName::NetworkChanged, &format!("p{i}")));
        }
        assert!(start.elapsed() < Duration::from_millis(100));
    }

    #[test]
    fn events_render_as_nova_takes_them() {
        let e = ServerEvent {
            name: EventName::VifPlugged,
            server_uuid: "s".into(),
            tag: "p".into(),
            status: "completed",
        };
        assert_eq!(
            e.to_json(),
            json!({"name": "network-vif-plugged", "server_uuid": "s", "tag": "p", "status": "completed"})
        );
    }
}
