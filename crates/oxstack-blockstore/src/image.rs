//! The image service as block storage sees it: image records and their data, fetched and
//! written with the caller's token (volumes from images, volumes uploaded to images). An
//! HTTP client (Glance v2 over hyper-util) and a fake for tests. Image data is streamed
//! between the file and the connection in both directions, never held whole in memory.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A failed call to the image service.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("image service unreachable")]
    Unreachable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The image service refused the request; its own message (safe to show the caller,
    /// who made the request with their own token).
    #[error("image service answered {0}: {1}")]
    Status(u16, String),
    #[error("reading or writing image data")]
    Io(#[source] std::io::Error),
}

impl From<ImageError> for oxstack_common::Error {
    fn from(e: ImageError) -> Self {
        oxstack_common::Error::internal("image service", e)
    }
}

/// What block storage asks of the image service.
#[async_trait]
pub trait ImageClient: Send + Sync + std::fmt::Debug {
    /// The image record (Glance v2 JSON) or `None` when it does not exist or is not visible.
    async fn image_get(&self, token: &str, id: &str) -> Result<Option<Value>, ImageError>;
    /// Writes the image's data to `dest`.
    async fn image_download(&self, token: &str, id: &str, dest: &Path) -> Result<(), ImageError>;
    /// Creates an image record (`POST /v2/images` with `record`: name, formats, visibility,
    /// properties) and returns it as the image service answers (status `queued`).
    async fn image_create(&self, token: &str, record: &Value) -> Result<Value, ImageError>;
    /// Uploads the bytes of `src` as the image's data (`PUT /v2/images/{id}/file`); the image
    /// becomes `active`.
    async fn image_upload(&self, token: &str, id: &str, src: &Path) -> Result<(), ImageError>;
    /// Deletes the image; a missing one is not an error.
    async fn image_delete(&self, token: &str, id: &str) -> Result<(), ImageError>;
}

type Body = UnsyncBoxBody<Bytes, std::io::Error>;

/// How long one small call (record create, get, delete) may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a whole image data transfer may take.
const DATA_TIMEOUT: Duration = Duration::from_secs(3600);
/// The size of the chunks image data is streamed in.
const CHUNK: usize = 1 << 20;

/// Glance v2 over HTTP.
#[derive(Debug, Clone)]
pub struct HttpImageClient {
    client: Client<HttpConnector, Body>,
    base: String,
}

fn unreachable(e: impl std::error::Error + Send + Sync + 'static) -> ImageError {
    ImageError::Unreachable(Box::new(e))
}

fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// The bytes of `file` as a request body, read in [`CHUNK`]s.
fn file_body(file: tokio::fs::File) -> Body {
    let stream = futures_util::stream::try_unfold(file, |mut f| async move {
        let mut buf = vec![0u8; CHUNK];
        let n = f.read(&mut buf).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.truncate(n);
        Ok(Some((Frame::data(Bytes::from(buf)), f)))
    });
    StreamBody::new(stream).boxed_unsync()
}

impl HttpImageClient {
    pub fn new(base_url: &str) -> Self {
        let mut conn = HttpConnector::new();
        conn.set_connect_timeout(Some(Duration::from_secs(5)));
        Self {
            client: Client::builder(TokioExecutor::new()).build(conn),
            base: base_url.trim_end_matches('/').to_string(),
        }
    }

    /// Sends one request; answers the response with its body unread.
    async fn send(
        &self,
        method: Method,
        token: &str,
        path: &str,
        content_type: Option<&str>,
        body: Body,
    ) -> Result<Response<Incoming>, ImageError> {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("x-auth-token", token);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let req = req.body(body).map_err(unreachable)?;
        self.client.request(req).await.map_err(unreachable)
    }

    /// A small call: the whole answer, bounded by [`CALL_TIMEOUT`].
    async fn call(
        &self,
        method: Method,
        token: &str,
        path: &str,
        json_body: Option<&Value>,
    ) -> Result<(StatusCode, Bytes), ImageError> {
        let (ct, body) = match json_body {
            Some(v) => (Some("application/json"), full(v.to_string())),
            None => (None, full(Bytes::new())),
        };
        tokio::time::timeout(CALL_TIMEOUT, async {
            let resp = self.send(method, token, path, ct, body).await?;
            let status = resp.status();
            let bytes = resp
                .into_body()
                .collect()
                .await
                .map_err(unreachable)?
                .to_bytes();
            Ok((status, bytes))
        })
        .await
        .map_err(unreachable)?
    }
}

fn safe_id(id: &str) -> bool {
    !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// The image service's refusal, with the message of its error body when it has one.
fn refused(st: StatusCode, body: &[u8]) -> ImageError {
    let text = String::from_utf8_lossy(body);
    let msg = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| {
            v.as_object()
                .and_then(|o| o.values().next())
                .and_then(|e| e["message"].as_str().map(str::to_string))
        })
        .unwrap_or_else(|| text.trim().chars().take(512).collect());
    ImageError::Status(st.as_u16(), msg)
}

#[async_trait]
impl ImageClient for HttpImageClient {
    async fn image_get(&self, token: &str, id: &str) -> Result<Option<Value>, ImageError> {
        if !safe_id(id) {
            return Ok(None);
        }
        let (st, body) = self
            .call(Method::GET, token, &format!("/v2/images/{id}"), None)
            .await?;
        match st {
            StatusCode::OK => Ok(serde_json::from_slice(&body).ok()),
            StatusCode::NOT_FOUND => Ok(None),
            s => Err(refused(s, &body)),
        }
    }

    async fn image_download(&self, token: &str, id: &str, dest: &Path) -> Result<(), ImageError> {
        if !safe_id(id) {
            return Err(ImageError::Status(404, format!("image {id} not found")));
        }
        tokio::time::timeout(DATA_TIMEOUT, async {
            let resp = self
                .send(
                    Method::GET,
                    token,
                    &format!("/v2/images/{id}/file"),
                    None,
                    full(Bytes::new()),
                )
                .await?;
            let st = resp.status();
            let mut body = resp.into_body();
            if st != StatusCode::OK {
                let bytes = body.collect().await.map_err(unreachable)?.to_bytes();
                return Err(refused(st, &bytes));
            }
            let mut f = tokio::fs::File::create(dest)
                .await
                .map_err(ImageError::Io)?;
            while let Some(frame) = body.frame().await {
                if let Ok(data) = frame.map_err(unreachable)?.into_data() {
                    f.write_all(&data).await.map_err(ImageError::Io)?;
                }
            }
            f.flush().await.map_err(ImageError::Io)
        })
        .await
        .map_err(unreachable)?
    }

    async fn image_create(&self, token: &str, record: &Value) -> Result<Value, ImageError> {
        let (st, body) = self
            .call(Method::POST, token, "/v2/images", Some(record))
            .await?;
        if st != StatusCode::CREATED {
            return Err(refused(st, &body));
        }
        serde_json::from_slice(&body).map_err(unreachable)
    }

    async fn image_upload(&self, token: &str, id: &str, src: &Path) -> Result<(), ImageError> {
        if !safe_id(id) {
            return Err(ImageError::Status(404, format!("image {id} not found")));
        }
        let file = tokio::fs::File::open(src).await.map_err(ImageError::Io)?;
        let len = file.metadata().await.map_err(ImageError::Io)?.len();
        let req = Request::builder()
            .method(Method::PUT)
            .uri(format!("{}/v2/images/{id}/file", self.base))
            .header("x-auth-token", token)
            .header("content-type", "application/octet-stream")
            .header("content-length", len)
            .body(file_body(file))
            .map_err(unreachable)?;
        tokio::time::timeout(DATA_TIMEOUT, async {
            let resp = self.client.request(req).await.map_err(unreachable)?;
            let st = resp.status();
            let bytes = resp
                .into_body()
                .collect()
                .await
                .map_err(unreachable)?
                .to_bytes();
            if st.is_success() {
                Ok(())
            } else {
                Err(refused(st, &bytes))
            }
        })
        .await
        .map_err(unreachable)?
    }

    async fn image_delete(&self, token: &str, id: &str) -> Result<(), ImageError> {
        if !safe_id(id) {
            return Ok(());
        }
        let (st, body) = self
            .call(Method::DELETE, token, &format!("/v2/images/{id}"), None)
            .await?;
        match st {
            s if s.is_success() || s == StatusCode::NOT_FOUND => Ok(()),
            s => Err(refused(s, &body)),
        }
    }
}

/// Images held in memory (tests): records and data by id.
#[derive(Debug, Default)]
pub struct FakeImageClient {
    images: Mutex<BTreeMap<String, (Value, Vec<u8>)>>,
    /// When set, every upload fails (to test how a failed upload is undone).
    pub fail_uploads: AtomicBool,
    /// When set, every image create is refused with 403.
    pub fail_creates: AtomicBool,
}

impl FakeImageClient {
    pub fn add(&self, record: Value, data: Vec<u8>) {
        if let (Some(id), Ok(mut m)) = (record["id"].as_str(), self.images.lock()) {
            m.insert(id.to_string(), (record.clone(), data));
        }
    }

    /// The record and data of one image.
    pub fn get(&self, id: &str) -> Option<(Value, Vec<u8>)> {
        self.images.lock().ok().and_then(|m| m.get(id).cloned())
    }

    /// The ids of every image held.
    pub fn ids(&self) -> Vec<String> {
        self.images
            .lock()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }
}

#[async_trait]
impl ImageClient for FakeImageClient {
    async fn image_get(&self, _token: &str, id: &str) -> Result<Option<Value>, ImageError> {
        Ok(self.get(id).map(|(r, _)| r))
    }
    async fn image_download(&self, _token: &str, id: &str, dest: &Path) -> Result<(), ImageError> {
        let (_, data) = self
            .get(id)
            .ok_or_else(|| ImageError::Status(404, format!("image {id} not found")))?;
        tokio::fs::write(dest, data).await.map_err(ImageError::Io)
    }
    async fn image_create(&self, _token: &str, record: &Value) -> Result<Value, ImageError> {
        if self.fail_creates.load(Ordering::SeqCst) {
            return Err(ImageError::Status(
                403,
                "You are not allowed to create images.".into(),
            ));
        }
        let mut r = record.clone();
        let Some(o) = r.as_object_mut() else {
            return Err(ImageError::Status(400, "body must be an object".into()));
        };
        let id = uuid::Uuid::new_v4().to_string();
        o.insert("id".into(), json!(id));
        o.insert("status".into(), json!("queued"));
        o.entry("visibility").or_insert(json!("shared"));
        o.entry("protected").or_insert(json!(false));
        o.insert("size".into(), Value::Null);
        self.add(r.clone(), Vec::new());
        Ok(r)
    }
    async fn image_upload(&self, _token: &str, id: &str, src: &Path) -> Result<(), ImageError> {
        if self.fail_uploads.load(Ordering::SeqCst) {
            return Err(ImageError::Status(500, "told to fail".into()));
        }
        let data = tokio::fs::read(src).await.map_err(ImageError::Io)?;
        let mut m = self
            .images
            .lock()
            .map_err(|_| ImageError::Status(500, "poisoned".into()))?;
        let (rec, d) = m
            .get_mut(id)
            .ok_or_else(|| ImageError::Status(404, format!("image {id} not found")))?;
        rec["status"] = json!("active");
        rec["size"] = json!(data.len());
        *d = data;
        Ok(())
    }
    async fn image_delete(&self, _token: &str, id: &str) -> Result<(), ImageError> {
        if let Ok(mut m) = self.images.lock() {
            m.remove(id);
        }
        Ok(())
    }
}
