//! Typed clients of the services compute calls: the image service (Glance), placement,
//! networking (Neutron, in `network`) and block storage (Cinder, in `volume`).
//! Each is a trait with an HTTP implementation (hyper-util's client; endpoints from
//! `[compute]` until catalog discovery is wired) and an in-memory fake for tests.
//!
//! Calls to the image service carry the user's token (the user must be able to see the
//! image); calls to placement carry a service token from a [`ServiceTokenSource`] the
//! binary provides.

use std::collections::{BTreeMap, HashMap};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::{Stream, StreamExt, TryStreamExt};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

mod network;
mod volume;

pub use network::{
    FakeNetwork, FixedIp, HttpNetworkClient, NetworkClient, NetworkInfo, PortCreate, PortInfo,
    SecurityGroupInfo, path_safe, query_value,
};
pub use volume::{
    AttachmentInfo, FakeAttachment, FakeVolumeClient, HttpVolumeClient, ProxyKind,
    VOLUME_API_VERSION, VolumeClient, VolumeInfo, cinder_message,
};

/// What a cross-service call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{service} is unreachable")]
    Unreachable {
        service: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("{service} answered {status}: {body}")]
    Status {
        service: &'static str,
        status: u16,
        body: String,
    },
    #[error("{service} answered something unexpected: {detail}")]
    Protocol {
        service: &'static str,
        detail: String,
    },
    #[error("no service token")]
    NoToken(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<ClientError> for oxstack_common::Error {
    fn from(e: ClientError) -> Self {
        oxstack_common::Error::internal("cross-service call", e)
    }
}

/// Image data on its way to the image service, chunk by chunk (a driver's snapshot).
pub type ImageData = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

/// `data` as [`ImageData`] of one chunk.
pub fn image_data(data: Bytes) -> ImageData {
    Box::pin(futures_util::stream::once(async move { Ok(data) }))
}

/// What compute needs to know of an image.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageInfo {
    pub id: String,
    pub name: Option<String>,
    pub status: String,
    pub min_disk: i64,
    pub min_ram: i64,
    pub size: Option<i64>,
}

/// The image service, as compute uses it.
#[async_trait]
pub trait ImageClient: Send + Sync + std::fmt::Debug {
    /// The image `id` as the token's user sees it; `None` when it does not exist or is not
    /// visible to them.
    async fn image_get(&self, token: &str, id: &str) -> Result<Option<ImageInfo>, ClientError>;
    /// Creates the (queued) image record of a server snapshot.
    async fn snapshot_create(
        &self,
        token: &str,
        name: &str,
        properties: &BTreeMap<String, String>,
    ) -> Result<ImageInfo, ClientError>;
    /// The image's record (Glance's JSON: `disk_format`, `checksum`, `os_hash_value`, the
    /// properties) and its data, for a hypervisor driver's image cache.
    // TODO-performance: stream into the cache file instead of holding the image in memory.
    async fn image_download(&self, token: &str, id: &str) -> Result<(Value, Bytes), ClientError> {
        let _ = (token, id);
        Err(ClientError::Protocol {
            service: "image",
            detail: "this image client cannot download image data".into(),
        })
    }
    /// The image service's records of the images the token's user sees (Glance's JSON),
    /// filtered by `query` (Glance's list parameters), every page up to `limit` images.
    async fn image_records(
        &self,
        token: &str,
        query: &[(String, String)],
        limit: Option<usize>,
    ) -> Result<Vec<Value>, ClientError>;
    /// One image's record (Glance's JSON); `None` when it does not exist or is not visible.
    async fn image_record(&self, token: &str, id: &str) -> Result<Option<Value>, ClientError>;
    /// Applies JSON-patch operations (`{"op", "path", "value"}`) to an image; answers the
    /// updated record.
    async fn image_patch(&self, token: &str, id: &str, ops: &[Value])
    -> Result<Value, ClientError>;
    /// Uploads a queued image's data (`PUT /v2/images/{id}/file`), streaming it as it
    /// arrives: the image is `saving` until the last chunk, then `active`. Fails when the
    /// image was deleted meanwhile.
    async fn image_upload(&self, token: &str, id: &str, data: ImageData)
    -> Result<(), ClientError>;
    /// Deletes an image (no error when it is already gone).
    async fn image_delete(&self, token: &str, id: &str) -> Result<(), ClientError>;
}

/// Amounts of resource classes (`VCPU`, `MEMORY_MB`, `DISK_GB`).
pub type Resources = BTreeMap<String, i64>;

/// One host placement can fit a request on.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub provider: String,
    pub resources: Resources,
}

/// Placement, as compute uses it.
#[async_trait]
pub trait PlacementClient: Send + Sync + std::fmt::Debug {
    /// Creates the resource provider of a compute node (no error when it exists) and sets
    /// its inventory of `totals`.
    async fn provider_register(
        &self,
        uuid: &str,
        name: &str,
        totals: &Resources,
    ) -> Result<(), ClientError>;
    /// Providers that can hold `resources` (up to `limit`).
    async fn candidates(
        &self,
        resources: &Resources,
        limit: usize,
    ) -> Result<Vec<Candidate>, ClientError>;
    /// Claims `resources` on `provider` for `consumer`; `false` when the provider no longer
    /// has room (a concurrent claim won).
    async fn claim(
        &self,
        consumer: &str,
        provider: &str,
        resources: &Resources,
        project_id: &str,
        user_id: &str,
    ) -> Result<bool, ClientError>;
    /// Removes every allocation of `consumer`.
    async fn release(&self, consumer: &str) -> Result<(), ClientError>;
    /// What is allocated on `provider`.
    async fn usages(&self, provider: &str) -> Result<Resources, ClientError>;
}

/// Where service tokens come from (the binary issues them for the compute service user).
#[async_trait]
pub trait ServiceTokenSource: Send + Sync + std::fmt::Debug {
    async fn token(&self) -> Result<String, ClientError>;
}

/// `VCPU`, `MEMORY_MB`, `DISK_GB` of a flavor.
pub fn flavor_resources(vcpus: i64, ram: i64, disk: i64) -> Resources {
    let mut r = Resources::new();
    r.insert("VCPU".into(), vcpus);
    r.insert("MEMORY_MB".into(), ram);
    if disk > 0 {
        r.insert("DISK_GB".into(), disk);
    }
    r
}

// ---------------------------------------------------------------------------------------
// HTTP implementations

/// Request bodies: whole (JSON, small uploads) or streamed ([`ImageData`]).
type HttpBody = UnsyncBoxBody<Bytes, std::io::Error>;
type HttpClient = Client<HttpConnector, HttpBody>;

fn whole_body(bytes: Bytes) -> HttpBody {
    Full::new(bytes)
        .map_err(|never| match never {})
        .boxed_unsync()
}

#[derive(Debug, Clone)]
pub(crate) struct Http {
    client: HttpClient,
    base: String,
    service: &'static str,
}

impl Http {
    pub(crate) fn new(base: &str, service: &'static str) -> Self {
        let mut conn = HttpConnector::new();
        conn.set_connect_timeout(Some(Duration::from_secs(5)));
        Http {
            client: Client::builder(TokioExecutor::new()).build(conn),
            base: base.trim_end_matches('/').to_string(),
            service,
        }
    }

    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), ClientError> {
        let body = body.map(|v| ("application/json", Bytes::from(v.to_string())));
        let (status, bytes) = self.send_raw(method, path, headers, body).await?;
        let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok((status, v))
    }

    /// Sends `body` (content type and bytes) and answers the status and the raw body.
    pub(crate) async fn send_raw(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<(&str, Bytes)>,
    ) -> Result<(StatusCode, Bytes), ClientError> {
        let (content_type, bytes) = body.unzip();
        let body = whole_body(bytes.unwrap_or_default());
        self.send_body(method, path, headers, content_type, body)
            .await
    }

    /// Streams `data` as the body (chunked) and answers the status and the raw body.
    pub(crate) async fn send_stream(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        content_type: &str,
        data: ImageData,
    ) -> Result<(StatusCode, Bytes), ClientError> {
        let body = StreamBody::new(data.map_ok(Frame::data)).boxed_unsync();
        self.send_body(method, path, headers, Some(content_type), body)
            .await
    }

    async fn send_body(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        content_type: Option<&str>,
        body: HttpBody,
    ) -> Result<(StatusCode, Bytes), ClientError> {
        let mut b = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("accept", "application/json");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        if let Some(ct) = content_type {
            b = b.header("content-type", ct);
        }
        let req = b.body(body).map_err(|e| ClientError::Protocol {
            service: self.service,
            detail: e.to_string(),
        })?;
        let unreachable = |e: Box<dyn std::error::Error + Send + Sync>| ClientError::Unreachable {
            service: self.service,
            source: e,
        };
        let resp = tokio::time::timeout(Duration::from_secs(60), self.client.request(req))
            .await
            .map_err(|e| unreachable(Box::new(e)))?
            .map_err(|e| unreachable(Box::new(e)))?;
        let status = resp.status();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| unreachable(Box::new(e)))?
            .to_bytes();
        Ok((status, bytes))
    }

    pub(crate) fn fail(&self, status: StatusCode, body: &Value) -> ClientError {
        ClientError::Status {
            service: self.service,
            status: status.as_u16(),
            body: body.to_string().chars().take(500).collect(),
        }
    }
}

/// The image service over HTTP (Glance v2).
#[derive(Debug, Clone)]
pub struct HttpImageClient(Http);

impl HttpImageClient {
    pub fn new(base_url: &str) -> Self {
        Self(Http::new(base_url, "image"))
    }
}

fn image_info(v: &Value) -> Option<ImageInfo> {
    Some(ImageInfo {
        id: v.get("id")?.as_str()?.to_string(),
        name: v.get("name").and_then(Value::as_str).map(str::to_string),
        status: v
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        min_disk: v.get("min_disk").and_then(Value::as_i64).unwrap_or(0),
        min_ram: v.get("min_ram").and_then(Value::as_i64).unwrap_or(0),
        size: v.get("size").and_then(Value::as_i64),
    })
}

#[async_trait]
impl ImageClient for HttpImageClient {
    async fn image_download(&self, token: &str, id: &str) -> Result<(Value, Bytes), ClientError> {
        if !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(ClientError::Protocol {
                service: "image",
                detail: format!("bad image id {id:?}"),
            });
        }
        let auth = [("x-auth-token", token)];
        let (st, v) = self
            .0
            .send(Method::GET, &format!("/v2/images/{id}"), &auth, None)
            .await?;
        if st != StatusCode::OK {
            return Err(self.0.fail(st, &v));
        }
        let (st, data) = self
            .0
            .send_raw(Method::GET, &format!("/v2/images/{id}/file"), &auth, None)
            .await?;
        if st != StatusCode::OK {
            return Err(self
                .0
                .fail(st, &Value::String(String::from_utf8_lossy(&data).into())));
        }
        Ok((v, data))
    }

    async fn image_get(&self, token: &str, id: &str) -> Result<Option<ImageInfo>, ClientError> {
        match self.image_record(token, id).await? {
            Some(v) => image_info(&v)
                .map(Some)
                .ok_or_else(|| ClientError::Protocol {
                    service: "image",
                    detail: "image without id".into(),
                }),
            None => Ok(None),
        }
    }

    async fn snapshot_create(
        &self,
        token: &str,
        name: &str,
        properties: &BTreeMap<String, String>,
    ) -> Result<ImageInfo, ClientError> {
        let mut body = json!({"name": name, "container_format": "bare", "disk_format": "qcow2"});
        for (k, v) in properties {
            body[k] = json!(v);
        }
        let (st, v) = self
            .0
            .send(
                Method::POST,
                "/v2/images",
                &[("x-auth-token", token)],
                Some(&body),
            )
            .await?;
        if st != StatusCode::CREATED {
            return Err(self.0.fail(st, &v));
        }
        image_info(&v).ok_or_else(|| ClientError::Protocol {
            service: "image",
            detail: "image without id".into(),
        })
    }

    async fn image_records(
        &self,
        token: &str,
        query: &[(String, String)],
        limit: Option<usize>,
    ) -> Result<Vec<Value>, ClientError> {
        let mut path = {
            let mut q = form_urlencoded::Serializer::new(String::new());
            for (k, v) in query {
                q.append_pair(k, v);
            }
            if let Some(n) = limit {
                q.append_pair("limit", &n.to_string());
            }
            format!("/v2/images?{}", q.finish())
        };
        let mut out = Vec::new();
        loop {
            let (st, v) = self
                .0
                .send(Method::GET, &path, &[("x-auth-token", token)], None)
                .await?;
            if st != StatusCode::OK {
                return Err(self.0.fail(st, &v));
            }
            if let Some(items) = v["images"].as_array() {
                out.extend(items.iter().cloned());
            }
            let done = limit.is_some_and(|n| out.len() >= n);
            match v["next"].as_str() {
                Some(next) if !done && next.starts_with("/v2/images") => path = next.to_string(),
                _ => break,
            }
        }
        if let Some(n) = limit {
            out.truncate(n);
        }
        Ok(out)
    }

    async fn image_record(&self, token: &str, id: &str) -> Result<Option<Value>, ClientError> {
        if !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Ok(None);
        }
        let (st, v) = self
            .0
            .send(
                Method::GET,
                &format!("/v2/images/{id}"),
                &[("x-auth-token", token)],
                None,
            )
            .await?;
        match st {
            StatusCode::OK => Ok(Some(v)),
            StatusCode::NOT_FOUND => Ok(None),
            s => Err(self.0.fail(s, &v)),
        }
    }

    async fn image_patch(
        &self,
        token: &str,
        id: &str,
        ops: &[Value],
    ) -> Result<Value, ClientError> {
        if !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(self.0.fail(StatusCode::NOT_FOUND, &json!("no such image")));
        }
        let body = Bytes::from(Value::Array(ops.to_vec()).to_string());
        let (st, bytes) = self
            .0
            .send_raw(
                Method::PATCH,
                &format!("/v2/images/{id}"),
                &[("x-auth-token", token)],
                Some(("application/openstack-images-v2.1-json-patch", body)),
            )
            .await?;
        let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if st != StatusCode::OK {
            return Err(self.0.fail(st, &v));
        }
        Ok(v)
    }

    async fn image_upload(
        &self,
        token: &str,
        id: &str,
        data: ImageData,
    ) -> Result<(), ClientError> {
        if !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(ClientError::Protocol {
                service: "image",
                detail: format!("bad image id {id:?}"),
            });
        }
        let (st, body) = self
            .0
            .send_stream(
                Method::PUT,
                &format!("/v2/images/{id}/file"),
                &[("x-auth-token", token)],
                "application/octet-stream",
                data,
            )
            .await?;
        if st != StatusCode::NO_CONTENT {
            return Err(self
                .0
                .fail(st, &Value::String(String::from_utf8_lossy(&body).into())));
        }
        Ok(())
    }

    async fn image_delete(&self, token: &str, id: &str) -> Result<(), ClientError> {
        if !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Ok(());
        }
        let (st, v) = self
            .0
            .send(
                Method::DELETE,
                &format!("/v2/images/{id}"),
                &[("x-auth-token", token)],
                None,
            )
            .await?;
        match st {
            StatusCode::NO_CONTENT | StatusCode::NOT_FOUND => Ok(()),
            s => Err(self.0.fail(s, &v)),
        }
    }
}

/// Placement over HTTP (microversion 1.28: consumer generations).
#[derive(Debug, Clone)]
pub struct HttpPlacementClient {
    http: Http,
    tokens: Arc<dyn ServiceTokenSource>,
}

const PLACEMENT_VERSION: &str = "placement 1.28";

impl HttpPlacementClient {
    pub fn new(base_url: &str, tokens: Arc<dyn ServiceTokenSource>) -> Self {
        Self {
            http: Http::new(base_url, "placement"),
            tokens,
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), ClientError> {
        let token = self.tokens.token().await?;
        self.http
            .send(
                method,
                path,
                &[
                    ("x-auth-token", &token),
                    ("openstack-api-version", PLACEMENT_VERSION),
                ],
                body,
            )
            .await
    }
}

fn resources_of(v: &Value) -> Resources {
    v.as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_i64()?)))
                .collect()
        })
        .unwrap_or_default()
}

#[async_trait]
impl PlacementClient for HttpPlacementClient {
    async fn provider_register(
        &self,
        uuid: &str,
        name: &str,
        totals: &Resources,
    ) -> Result<(), ClientError> {
        let (st, v) = self
            .call(
                Method::POST,
                "/resource_providers",
                Some(&json!({"uuid": uuid, "name": name})),
            )
            .await?;
        if !(st.is_success() || st == StatusCode::CONFLICT) {
            return Err(self.http.fail(st, &v));
        }
        // Inventory writes race with nothing but ourselves; retry once on a stale generation.
        for _ in 0..3 {
            let (st, rp) = self
                .call(Method::GET, &format!("/resource_providers/{uuid}"), None)
                .await?;
            if st != StatusCode::OK {
                return Err(self.http.fail(st, &rp));
            }
            let generation = rp.get("generation").cloned().unwrap_or(json!(0));
            let inventories: serde_json::Map<String, Value> = totals
                .iter()
                .map(|(k, t)| {
                    let ratio = match k.as_str() {
                        "VCPU" => 16.0,
                        "MEMORY_MB" => 1.5,
                        _ => 1.0,
                    };
                    (
                        k.clone(),
                        json!({"total": t, "allocation_ratio": ratio, "reserved": 0}),
                    )
                })
                .collect();
            let body =
                json!({"resource_provider_generation": generation, "inventories": inventories});
            let (st, v) = self
                .call(
                    Method::PUT,
                    &format!("/resource_providers/{uuid}/inventories"),
                    Some(&body),
                )
                .await?;
            match st {
                StatusCode::OK => return Ok(()),
                StatusCode::CONFLICT => continue,
                s => return Err(self.http.fail(s, &v)),
            }
        }
        Err(ClientError::Protocol {
            service: "placement",
            detail: "inventory generation kept changing".into(),
        })
    }

    async fn candidates(
        &self,
        resources: &Resources,
        limit: usize,
    ) -> Result<Vec<Candidate>, ClientError> {
        let q = resources
            .iter()
            .map(|(k, v)| format!("{k}:{v}"))
            .collect::<Vec<_>>()
            .join(",");
        let (st, v) = self
            .call(
                Method::GET,
                &format!("/allocation_candidates?resources={q}&limit={limit}"),
                None,
            )
            .await?;
        if st != StatusCode::OK {
            return Err(self.http.fail(st, &v));
        }
        let mut out = Vec::new();
        for req in v["allocation_requests"].as_array().into_iter().flatten() {
            if let Some(allocs) = req["allocations"].as_object() {
                // Compute nodes are single providers here (no nested trees yet).
                if let Some((rp, a)) = allocs.iter().next() {
                    out.push(Candidate {
                        provider: rp.clone(),
                        resources: resources_of(&a["resources"]),
                    });
                }
            }
        }
        Ok(out)
    }

    async fn claim(
        &self,
        consumer: &str,
        provider: &str,
        resources: &Resources,
        project_id: &str,
        user_id: &str,
    ) -> Result<bool, ClientError> {
        // A consumer that already holds allocations (a resize claims old + new flavor) must
        // be written with its current generation, or placement answers 409.
        let (st, current) = self
            .call(Method::GET, &format!("/allocations/{consumer}"), None)
            .await?;
        let generation = if st == StatusCode::OK {
            current
                .get("consumer_generation")
                .cloned()
                .unwrap_or(Value::Null)
        } else {
            Value::Null
        };
        let body = json!({
            "allocations": {provider: {"resources": resources}},
            "project_id": project_id,
            "user_id": user_id,
            "consumer_generation": generation,
        });
        let (st, v) = self
            .call(
                Method::PUT,
                &format!("/allocations/{consumer}"),
                Some(&body),
            )
            .await?;
        match st {
            StatusCode::NO_CONTENT | StatusCode::OK => Ok(true),
            StatusCode::CONFLICT => Ok(false),
            s => Err(self.http.fail(s, &v)),
        }
    }

    async fn release(&self, consumer: &str) -> Result<(), ClientError> {
        let (st, v) = self
            .call(Method::DELETE, &format!("/allocations/{consumer}"), None)
            .await?;
        match st {
            StatusCode::NO_CONTENT | StatusCode::NOT_FOUND => Ok(()),
            s => Err(self.http.fail(s, &v)),
        }
    }

    async fn usages(&self, provider: &str) -> Result<Resources, ClientError> {
        let (st, v) = self
            .call(
                Method::GET,
                &format!("/resource_providers/{provider}/usages"),
                None,
            )
            .await?;
        match st {
            StatusCode::OK => Ok(resources_of(&v["usages"])),
            StatusCode::NOT_FOUND => Ok(Resources::new()),
            s => Err(self.http.fail(s, &v)),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Fakes

/// A fake image: a Glance-shaped record (properties at the top level), maybe data, and
/// the order of creation (newest last; Glance lists newest first).
type FakeImage = (Value, Option<Bytes>, u64);

/// An in-memory image service: images are added by tests; every token sees every image.
#[derive(Debug, Default)]
pub struct FakeImageClient {
    images: Mutex<BTreeMap<String, FakeImage>>,
    created: std::sync::atomic::AtomicU64,
}

fn glance_now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn not_found(id: &str) -> ClientError {
    ClientError::Status {
        service: "image",
        status: 404,
        body: format!("no image {id}"),
    }
}

impl FakeImageClient {
    fn images(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, FakeImage>> {
        self.images.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds an active public image of 1 MiB (without data).
    pub fn add(&self, id: &str, name: &str) {
        let now = glance_now();
        let record = json!({
            "id": id, "name": name, "status": "active", "visibility": "public",
            "min_disk": 0, "min_ram": 0, "size": 1 << 20,
            "container_format": "bare", "disk_format": "raw",
            "created_at": now, "updated_at": now,
        });
        let n = self
            .created
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.images().insert(id.to_string(), (record, None, n));
    }

    /// Adds an active image with a record (`disk_format`, properties, ...) and data; the
    /// record gets the data's size and md5 `checksum`.
    pub fn add_with_data(&self, id: &str, name: &str, record: Value, data: Bytes) {
        use md5::Digest;
        self.add(id, name);
        let sum: String = md5::Md5::digest(&data)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let mut images = self.images();
        if let Some((r, d, _)) = images.get_mut(id) {
            if let (Some(r), Some(extra)) = (r.as_object_mut(), record.as_object()) {
                r.extend(extra.clone());
            }
            r["checksum"] = json!(sum);
            r["size"] = json!(data.len());
            *d = Some(data);
        }
    }
}

#[async_trait]
impl ImageClient for FakeImageClient {
    async fn image_download(&self, _token: &str, id: &str) -> Result<(Value, Bytes), ClientError> {
        match self.images().get(id) {
            Some((r, Some(d), _)) => Ok((r.clone(), d.clone())),
            _ => Err(not_found(id)),
        }
    }

    async fn image_get(&self, _token: &str, id: &str) -> Result<Option<ImageInfo>, ClientError> {
        Ok(self.images().get(id).and_then(|(r, _, _)| image_info(r)))
    }

    async fn image_records(
        &self,
        _token: &str,
        query: &[(String, String)],
        limit: Option<usize>,
    ) -> Result<Vec<Value>, ClientError> {
        let matches = |r: &Value| {
            query.iter().all(|(k, v)| match k.as_str() {
                "sort" | "limit" | "marker" => true,
                "updated_at" => {
                    let since = v.strip_prefix("gte:").unwrap_or(v);
                    r["updated_at"].as_str().is_some_and(|u| u >= since)
                }
                _ => match &r[k.as_str()] {
                    Value::String(s) => s == v,
                    Value::Null => false,
                    other => serde_json::from_str::<Value>(v).ok().as_ref() == Some(other),
                },
            })
        };
        let images = self.images();
        let mut found: Vec<&FakeImage> = images.values().filter(|(r, _, _)| matches(r)).collect();
        found.sort_by_key(|(_, _, n)| std::cmp::Reverse(*n));
        let mut out: Vec<Value> = found.into_iter().map(|(r, _, _)| r.clone()).collect();
        if let Some(n) = limit {
            out.truncate(n);
        }
        Ok(out)
    }

    async fn image_record(&self, _token: &str, id: &str) -> Result<Option<Value>, ClientError> {
        Ok(self.images().get(id).map(|(r, _, _)| r.clone()))
    }

    async fn image_patch(
        &self,
        _token: &str,
        id: &str,
        ops: &[Value],
    ) -> Result<Value, ClientError> {
        let mut images = self.images();
        let (r, _, _) = images.get_mut(id).ok_or_else(|| not_found(id))?;
        let mut next = r.clone();
        for op in ops {
            let key = op["path"].as_str().unwrap_or("").trim_start_matches('/');
            let Some(m) = next.as_object_mut() else {
                break;
            };
            match op["op"].as_str() {
                Some("add" | "replace") => {
                    m.insert(key.to_string(), op["value"].clone());
                }
                Some("remove") if m.remove(key).is_none() => {
                    return Err(ClientError::Status {
                        service: "image",
                        status: 409,
                        body: format!("no property {key}"),
                    });
                }
                _ => {}
            }
        }
        next["updated_at"] = json!(glance_now());
        *r = next.clone();
        Ok(next)
    }

    async fn snapshot_create(
        &self,
        _token: &str,
        name: &str,
        properties: &BTreeMap<String, String>,
    ) -> Result<ImageInfo, ClientError> {
        let id = uuid::Uuid::new_v4().to_string();
        self.add(&id, name);
        let mut images = self.images();
        let (r, _, _) = images.get_mut(&id).ok_or_else(|| not_found(&id))?;
        r["status"] = json!("queued");
        r["visibility"] = json!("private");
        r["size"] = Value::Null;
        r["disk_format"] = json!("qcow2");
        for (k, v) in properties {
            r[k.as_str()] = json!(v);
        }
        image_info(r).ok_or_else(|| not_found(&id))
    }

    /// As Glance: `queued` → `saving` while the data arrives → `active`; back to `queued`
    /// when the data fails; an error (410, as Glance) when the image was deleted meanwhile.
    async fn image_upload(
        &self,
        _token: &str,
        id: &str,
        data: ImageData,
    ) -> Result<(), ClientError> {
        {
            let mut images = self.images();
            let (r, _, _) = images.get_mut(id).ok_or_else(|| not_found(id))?;
            if r["status"] != "queued" {
                return Err(ClientError::Status {
                    service: "image",
                    status: 409,
                    body: format!("image {id} is {}", r["status"]),
                });
            }
            r["status"] = json!("saving");
        }
        let chunks: Result<Vec<Bytes>, _> = data.collect::<Vec<_>>().await.into_iter().collect();
        let mut images = self.images();
        let Some((r, d, _)) = images.get_mut(id) else {
            return Err(ClientError::Status {
                service: "image",
                status: 410,
                body: format!("image {id} was deleted during the upload"),
            });
        };
        let chunks = match chunks {
            Ok(c) => c,
            Err(e) => {
                r["status"] = json!("queued");
                return Err(ClientError::Unreachable {
                    service: "image",
                    source: Box::new(e),
                });
            }
        };
        let data = Bytes::from(chunks.concat());
        r["status"] = json!("active");
        r["size"] = json!(data.len());
        *d = Some(data);
        Ok(())
    }

    async fn image_delete(&self, _token: &str, id: &str) -> Result<(), ClientError> {
        self.images().remove(id);
        Ok(())
    }
}

#[derive(Debug, Default)]
struct FakePlacementState {
    /// provider → (name, totals)
    providers: BTreeMap<String, (String, Resources)>,
    /// consumer → (provider, resources)
    allocations: HashMap<String, (String, Resources)>,
}

/// An in-memory placement with atomic claims (no allocation ratios: totals are capacity).
#[derive(Debug, Default)]
pub struct FakePlacement {
    state: Mutex<FakePlacementState>,
}

impl FakePlacement {
    fn used(s: &FakePlacementState, provider: &str) -> Resources {
        let mut used = Resources::new();
        for (p, r) in s.allocations.values() {
            if p == provider {
                for (k, v) in r {
                    *used.entry(k.clone()).or_default() += v;
                }
            }
        }
        used
    }

    fn fits(s: &FakePlacementState, provider: &str, want: &Resources) -> bool {
        let Some((_, totals)) = s.providers.get(provider) else {
            return false;
        };
        let used = Self::used(s, provider);
        want.iter().all(|(k, v)| {
            totals.get(k).copied().unwrap_or(0) - used.get(k).copied().unwrap_or(0) >= *v
        })
    }

    /// The consumers with allocations (for leak checks in tests).
    pub fn consumers(&self) -> Vec<String> {
        let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let mut v: Vec<String> = s.allocations.keys().cloned().collect();
        v.sort();
        v
    }
}

#[async_trait]
impl PlacementClient for FakePlacement {
    async fn provider_register(
        &self,
        uuid: &str,
        name: &str,
        totals: &Resources,
    ) -> Result<(), ClientError> {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .providers
            .insert(uuid.to_string(), (name.to_string(), totals.clone()));
        Ok(())
    }

    async fn candidates(
        &self,
        resources: &Resources,
        limit: usize,
    ) -> Result<Vec<Candidate>, ClientError> {
        let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        Ok(s.providers
            .keys()
            .filter(|p| Self::fits(&s, p, resources))
            .take(limit)
            .map(|p| Candidate {
                provider: p.clone(),
                resources: resources.clone(),
            })
            .collect())
    }

    async fn claim(
        &self,
        consumer: &str,
        provider: &str,
        resources: &Resources,
        _project_id: &str,
        _user_id: &str,
    ) -> Result<bool, ClientError> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let previous = s.allocations.remove(consumer);
        if !Self::fits(&s, provider, resources) {
            if let Some(p) = previous {
                s.allocations.insert(consumer.to_string(), p);
            }
            return Ok(false);
        }
        s.allocations.insert(
            consumer.to_string(),
            (provider.to_string(), resources.clone()),
        );
        Ok(true)
    }

    async fn release(&self, consumer: &str) -> Result<(), ClientError> {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .allocations
            .remove(consumer);
        Ok(())
    }

    async fn usages(&self, provider: &str) -> Result<Resources, ClientError> {
        let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        Ok(Self::used(&s, provider))
    }
}

/// A fixed service token (tests, or a binary with a static token).
#[derive(Debug, Clone)]
pub struct StaticToken(pub String);

#[async_trait]
impl ServiceTokenSource for StaticToken {
    async fn token(&self) -> Result<String, ClientError> {
        Ok(self.0.clone())
    }
}

/// Service tokens from Keystone password authentication (`POST /v3/auth/tokens`), cached
/// until ten minutes before they expire.
#[derive(Debug)]
pub struct PasswordTokenSource {
    http: Http,
    body: Value,
    cached: tokio::sync::Mutex<Option<(String, std::time::Instant)>>,
}

impl PasswordTokenSource {
    /// `identity_url` is `http://host:5000`; the token is scoped to `project` in the
    /// Default domain.
    pub fn new(identity_url: &str, user: &str, password: &str, project: &str) -> Self {
        Self {
            http: Http::new(identity_url, "identity"),
            body: json!({"auth": {
                "identity": {"methods": ["password"], "password": {"user": {
                    "name": user, "domain": {"id": "default"}, "password": password}}},
                "scope": {"project": {"name": project, "domain": {"id": "default"}}},
            }}),
            cached: tokio::sync::Mutex::new(None),
        }
    }
}

#[async_trait]
impl ServiceTokenSource for PasswordTokenSource {
    async fn token(&self) -> Result<String, ClientError> {
        let mut cached = self.cached.lock().await;
        if let Some((t, until)) = cached.as_ref()
            && std::time::Instant::now() < *until
        {
            return Ok(t.clone());
        }
        let req = Request::builder()
            .method(Method::POST)
            .uri(format!("{}/v3/auth/tokens", self.http.base))
            .header("content-type", "application/json")
            .body(whole_body(Bytes::from(self.body.to_string())))
            .map_err(|e| ClientError::NoToken(Box::new(e)))?;
        let resp = tokio::time::timeout(Duration::from_secs(30), self.http.client.request(req))
            .await
            .map_err(|e| ClientError::NoToken(Box::new(e)))?
            .map_err(|e| ClientError::NoToken(Box::new(e)))?;
        if resp.status() != StatusCode::CREATED {
            return Err(ClientError::Status {
                service: "identity",
                status: resp.status().as_u16(),
                body: String::new(),
            });
        }
        let token = resp
            .headers()
            .get("x-subject-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .ok_or_else(|| ClientError::Protocol {
                service: "identity",
                detail: "no X-Subject-Token".into(),
            })?;
        // TODO-correctness: read `expires_at` from the body instead of assuming Keystone's
        // default one-hour lifetime.
        *cached = Some((
            token.clone(),
            std::time::Instant::now() + Duration::from_secs(50 * 60),
        ));
        Ok(token)
    }
}
