//! The image service as block storage sees it: image records and their data, fetched with
//! the caller's token (volumes from images). An HTTP client (Glance v2 over hyper-util) and
//! a fake for tests.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

/// A failed call to the image service.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("image service unreachable")]
    Unreachable(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("image service answered {0}")]
    Status(u16),
    #[error("writing image data")]
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
}

/// Glance v2 over HTTP.
#[derive(Debug, Clone)]
pub struct HttpImageClient {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
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

    async fn get(&self, token: &str, path: &str) -> Result<(StatusCode, Bytes), ImageError> {
        let req = Request::builder()
            .method(Method::GET)
            .uri(format!("{}{path}", self.base))
            .header("x-auth-token", token)
            .body(Full::new(Bytes::new()))
            .map_err(|e| ImageError::Unreachable(Box::new(e)))?;
        let resp = tokio::time::timeout(Duration::from_secs(600), self.client.request(req))
            .await
            .map_err(|e| ImageError::Unreachable(Box::new(e)))?
            .map_err(|e| ImageError::Unreachable(Box::new(e)))?;
        let status = resp.status();
        // TODO-performance: image data is collected in memory before it is written.
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| ImageError::Unreachable(Box::new(e)))?
            .to_bytes();
        Ok((status, bytes))
    }
}

fn safe_id(id: &str) -> bool {
    !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

#[async_trait]
impl ImageClient for HttpImageClient {
    async fn image_get(&self, token: &str, id: &str) -> Result<Option<Value>, ImageError> {
        if !safe_id(id) {
            return Ok(None);
        }
        let (st, body) = self.get(token, &format!("/v2/images/{id}")).await?;
        match st {
            StatusCode::OK => Ok(serde_json::from_slice(&body).ok()),
            StatusCode::NOT_FOUND => Ok(None),
            s => Err(ImageError::Status(s.as_u16())),
        }
    }

    async fn image_download(&self, token: &str, id: &str, dest: &Path) -> Result<(), ImageError> {
        let (st, body) = self.get(token, &format!("/v2/images/{id}/file")).await?;
        if st != StatusCode::OK {
            return Err(ImageError::Status(st.as_u16()));
        }
        tokio::fs::write(dest, &body).await.map_err(ImageError::Io)
    }
}

/// Images held in memory (tests).
#[derive(Debug, Default)]
pub struct FakeImageClient {
    images: Mutex<BTreeMap<String, (Value, Vec<u8>)>>,
}

impl FakeImageClient {
    pub fn add(&self, record: Value, data: Vec<u8>) {
        if let (Some(id), Ok(mut m)) = (record["id"].as_str(), self.images.lock()) {
            m.insert(id.to_string(), (record.clone(), data));
        }
    }
}

#[async_trait]
impl ImageClient for FakeImageClient {
    async fn image_get(&self, _token: &str, id: &str) -> Result<Option<Value>, ImageError> {
        Ok(self
            .images
            .lock()
            .ok()
            .and_then(|m| m.get(id).map(|(r, _)| r.clone())))
    }
    async fn image_download(&self, _token: &str, id: &str, dest: &Path) -> Result<(), ImageError> {
        let data = self
            .images
            .lock()
            .ok()
            .and_then(|m| m.get(id).map(|(_, d)| d.clone()))
            .ok_or(ImageError::Status(404))?;
        tokio::fs::write(dest, data).await.map_err(ImageError::Io)
    }
}
