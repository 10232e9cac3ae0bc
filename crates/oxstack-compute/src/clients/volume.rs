//! The block storage service (Cinder v3, attachments API at microversion 3.44), as compute
//! uses it: the API looks volumes up and reserves them (`attachment_create` without a
//! connector) with the user's token, so nobody attaches a volume they cannot see; the agent
//! connects (`attachment_update` with its host's connector: answers the connection info),
//! completes and deletes attachments, and deletes `delete_on_termination` volumes, with a
//! service token, as nova-compute does with its `[cinder]` credentials.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use hyper::{Method, StatusCode};
use serde_json::{Value, json};

use super::{ClientError, Http, ServiceTokenSource};

/// The microversion compute speaks (attachments API with `os-complete`).
pub const VOLUME_API_VERSION: &str = "volume 3.44";

/// The Cinder resources the deprecated proxy APIs show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyKind {
    Volumes,
    Snapshots,
}

impl ProxyKind {
    /// The collection (`volumes`) and member (`volume`) names.
    pub fn names(self) -> (&'static str, &'static str) {
        match self {
            ProxyKind::Volumes => ("volumes", "volume"),
            ProxyKind::Snapshots => ("snapshots", "snapshot"),
        }
    }
}

/// What compute needs to know of a volume.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VolumeInfo {
    pub id: String,
    pub status: String,
    pub size: i64,
    pub multiattach: bool,
    /// The volume can be booted from (Cinder's `bootable`).
    pub bootable: bool,
    /// `migration_status` (Cinder calls the swap API only while migrating).
    pub migration_status: Option<String>,
    /// The servers it is attached to, with their attachment ids.
    pub attachments: Vec<(String, String)>,
    /// Cinder's `volume_image_metadata`: the Glance properties of the image it was made
    /// from (`kernel_id`, `ramdisk_id`, `os_command_line`, ...).
    pub image_metadata: serde_json::Map<String, Value>,
}

/// An attachment as Cinder answers it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AttachmentInfo {
    pub id: String,
    pub volume_id: String,
    pub status: String,
    /// How the host reaches the volume (`null` until a connector is known).
    pub connection_info: Value,
}

/// The block storage service, as compute uses it. `project_id` is the project in Cinder's
/// `/v3/{project_id}/` paths: the caller's for user calls, the server's for service calls.
#[async_trait]
pub trait VolumeClient: Send + Sync + std::fmt::Debug {
    /// The volume `id` as the token's user sees it; `None` when it does not exist or is not
    /// theirs to see.
    async fn volume_get(
        &self,
        token: &str,
        project_id: &str,
        id: &str,
    ) -> Result<Option<VolumeInfo>, ClientError>;
    /// Reserves the volume for a server (an attachment without a connector), as the user.
    async fn attachment_create(
        &self,
        token: &str,
        project_id: &str,
        volume_id: &str,
        instance_uuid: &str,
    ) -> Result<AttachmentInfo, ClientError>;

    /// Makes a volume of `size` GiB (from `image_id` when given) in the user's project;
    /// it is `creating` until the block storage service has written it.
    async fn volume_create(
        &self,
        token: &str,
        project_id: &str,
        size: i64,
        image_id: Option<&str>,
        name: &str,
    ) -> Result<VolumeInfo, ClientError>;

    // The deprecated proxy APIs (`/os-volumes`, `/os-snapshots`, up to 2.35), as the user,
    // on Cinder's records as it renders them; `kind` is `volumes` or `snapshots`.

    /// The user's records (`GET /{kind}/detail`).
    async fn records(
        &self,
        token: &str,
        project_id: &str,
        kind: ProxyKind,
    ) -> Result<Vec<Value>, ClientError>;
    /// One record; `None` when the user cannot see it.
    async fn record(
        &self,
        token: &str,
        project_id: &str,
        kind: ProxyKind,
        id: &str,
    ) -> Result<Option<Value>, ClientError>;
    /// Creates a record from Cinder's object (`{"volume": ...}` is built here).
    async fn record_create(
        &self,
        token: &str,
        project_id: &str,
        kind: ProxyKind,
        body: &Value,
    ) -> Result<Value, ClientError>;
    /// Deletes a record; `false` when the user cannot see it.
    async fn record_delete(
        &self,
        token: &str,
        project_id: &str,
        kind: ProxyKind,
        id: &str,
    ) -> Result<bool, ClientError>;

    // With the service token:

    /// The volume `id`, whoever owns it.
    async fn volume_show(
        &self,
        project_id: &str,
        id: &str,
    ) -> Result<Option<VolumeInfo>, ClientError>;
    /// Reserves a volume for a server (an attachment without a connector).
    async fn attachment_reserve(
        &self,
        project_id: &str,
        volume_id: &str,
        instance_uuid: &str,
    ) -> Result<AttachmentInfo, ClientError>;
    /// Gives the attachment the host's connector; answers the connection info.
    async fn attachment_update(
        &self,
        project_id: &str,
        attachment_id: &str,
        connector: &Value,
    ) -> Result<Value, ClientError>;
    /// The volume is in use (`os-complete`).
    async fn attachment_complete(
        &self,
        project_id: &str,
        attachment_id: &str,
    ) -> Result<(), ClientError>;
    /// Deletes an attachment (no error when it is gone); the volume is free again when it
    /// has no attachment left.
    async fn attachment_delete(
        &self,
        project_id: &str,
        attachment_id: &str,
    ) -> Result<(), ClientError>;
    /// Deletes a volume (no error when it is gone).
    async fn volume_delete(&self, project_id: &str, volume_id: &str) -> Result<(), ClientError>;
}

/// The message of a Cinder error body (`{"badRequest": {"message": ...}}`), else the body.
pub fn cinder_message(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| {
            v.as_object()?
                .values()
                .find_map(|e| e.get("message")?.as_str().map(str::to_string))
        })
        .unwrap_or_else(|| body.to_string())
}

fn s(v: &Value, k: &str) -> String {
    v.get(k).and_then(Value::as_str).unwrap_or("").to_string()
}

fn volume_info(v: &Value) -> VolumeInfo {
    VolumeInfo {
        id: s(v, "id"),
        status: s(v, "status"),
        size: v.get("size").and_then(Value::as_i64).unwrap_or(0),
        multiattach: v
            .get("multiattach")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        // Cinder renders it as the string "true"/"false".
        bootable: match v.get("bootable") {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
            _ => false,
        },
        migration_status: v
            .get("migration_status")
            .and_then(Value::as_str)
            .filter(|m| !m.is_empty())
            .map(str::to_string),
        attachments: v
            .get("attachments")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|x| (s(x, "server_id"), s(x, "attachment_id")))
                    .collect()
            })
            .unwrap_or_default(),
        image_metadata: v
            .get("volume_image_metadata")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
    }
}

fn attachment_info(v: &Value) -> AttachmentInfo {
    AttachmentInfo {
        id: s(v, "id"),
        volume_id: s(v, "volume_id"),
        status: s(v, "status"),
        connection_info: v.get("connection_info").cloned().unwrap_or(Value::Null),
    }
}

/// Only ids made of these characters go into a URL path.
fn path_safe(id: &str) -> bool {
    !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

fn bad_path(what: &str, id: &str) -> ClientError {
    ClientError::Protocol {
        service: "volume",
        detail: format!("bad {what} {id:?}"),
    }
}

/// Cinder over HTTP.
#[derive(Debug, Clone)]
pub struct HttpVolumeClient {
    http: Http,
    tokens: Arc<dyn ServiceTokenSource>,
}

impl HttpVolumeClient {
    /// `base_url` is `http://host:8776` (paths add `/v3/{project_id}/...`).
    pub fn new(base_url: &str, tokens: Arc<dyn ServiceTokenSource>) -> Self {
        Self {
            http: Http::new(base_url, "volume"),
            tokens,
        }
    }

    async fn as_user(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), ClientError> {
        self.http
            .send(
                method,
                path,
                &[
                    ("x-auth-token", token),
                    ("openstack-api-version", VOLUME_API_VERSION),
                ],
                body,
            )
            .await
    }

    async fn as_service(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), ClientError> {
        let token = self.tokens.token().await?;
        self.as_user(&token, method, path, body).await
    }

    fn path(project_id: &str, rest: &str) -> Result<String, ClientError> {
        if !path_safe(project_id) {
            return Err(bad_path("project", project_id));
        }
        Ok(format!("/v3/{project_id}/{rest}"))
    }
}

#[async_trait]
impl VolumeClient for HttpVolumeClient {
    async fn volume_get(
        &self,
        token: &str,
        project_id: &str,
        id: &str,
    ) -> Result<Option<VolumeInfo>, ClientError> {
        let v = self
            .record(token, project_id, ProxyKind::Volumes, id)
            .await?;
        Ok(v.as_ref().map(volume_info))
    }

    async fn attachment_create(
        &self,
        token: &str,
        project_id: &str,
        volume_id: &str,
        instance_uuid: &str,
    ) -> Result<AttachmentInfo, ClientError> {
        let path = Self::path(project_id, "attachments")?;
        let body =
            json!({"attachment": {"volume_uuid": volume_id, "instance_uuid": instance_uuid}});
        let (st, v) = self
            .as_user(token, Method::POST, &path, Some(&body))
            .await?;
        if !st.is_success() {
            return Err(self.http.fail(st, &v));
        }
        Ok(attachment_info(&v["attachment"]))
    }

    async fn volume_create(
        &self,
        token: &str,
        project_id: &str,
        size: i64,
        image_id: Option<&str>,
        name: &str,
    ) -> Result<VolumeInfo, ClientError> {
        let mut v = json!({"size": size, "name": name});
        if let Some(i) = image_id {
            v["imageRef"] = json!(i);
        }
        let created = self
            .record_create(token, project_id, ProxyKind::Volumes, &v)
            .await?;
        Ok(volume_info(&created))
    }

    async fn records(
        &self,
        token: &str,
        project_id: &str,
        kind: ProxyKind,
    ) -> Result<Vec<Value>, ClientError> {
        let (many, _) = kind.names();
        let path = Self::path(project_id, &format!("{many}/detail"))?;
        let (st, v) = self.as_user(token, Method::GET, &path, None).await?;
        if st != StatusCode::OK {
            return Err(self.http.fail(st, &v));
        }
        Ok(v[many].as_array().cloned().unwrap_or_default())
    }

    async fn record(
        &self,
        token: &str,
        project_id: &str,
        kind: ProxyKind,
        id: &str,
    ) -> Result<Option<Value>, ClientError> {
        if !path_safe(id) {
            return Ok(None);
        }
        let (many, one) = kind.names();
        let path = Self::path(project_id, &format!("{many}/{id}"))?;
        let (st, v) = self.as_user(token, Method::GET, &path, None).await?;
        match st {
            StatusCode::OK => Ok(Some(v[one].clone())),
            StatusCode::NOT_FOUND => Ok(None),
            s => Err(self.http.fail(s, &v)),
        }
    }

    async fn record_create(
        &self,
        token: &str,
        project_id: &str,
        kind: ProxyKind,
        body: &Value,
    ) -> Result<Value, ClientError> {
        let (many, one) = kind.names();
        let path = Self::path(project_id, many)?;
        let (st, v) = self
            .as_user(token, Method::POST, &path, Some(&json!({ one: body })))
            .await?;
        if !st.is_success() {
            return Err(self.http.fail(st, &v));
        }
        Ok(v[one].clone())
    }

    async fn record_delete(
        &self,
        token: &str,
        project_id: &str,
        kind: ProxyKind,
        id: &str,
    ) -> Result<bool, ClientError> {
        if !path_safe(id) {
            return Ok(false);
        }
        let (many, _) = kind.names();
        let path = Self::path(project_id, &format!("{many}/{id}"))?;
        let (st, v) = self.as_user(token, Method::DELETE, &path, None).await?;
        match st {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            s => Err(self.http.fail(s, &v)),
        }
    }

    async fn volume_show(
        &self,
        project_id: &str,
        id: &str,
    ) -> Result<Option<VolumeInfo>, ClientError> {
        let token = self.tokens.token().await?;
        self.volume_get(&token, project_id, id).await
    }

    async fn attachment_reserve(
        &self,
        project_id: &str,
        volume_id: &str,
        instance_uuid: &str,
    ) -> Result<AttachmentInfo, ClientError> {
        let token = self.tokens.token().await?;
        self.attachment_create(&token, project_id, volume_id, instance_uuid)
            .await
    }

    async fn attachment_update(
        &self,
        project_id: &str,
        attachment_id: &str,
        connector: &Value,
    ) -> Result<Value, ClientError> {
        if !path_safe(attachment_id) {
            return Err(bad_path("attachment", attachment_id));
        }
        let path = Self::path(project_id, &format!("attachments/{attachment_id}"))?;
        let body = json!({"attachment": {"connector": connector}});
        let (st, v) = self.as_service(Method::PUT, &path, Some(&body)).await?;
        if st != StatusCode::OK {
            return Err(self.http.fail(st, &v));
        }
        Ok(attachment_info(&v["attachment"]).connection_info)
    }

    async fn attachment_complete(
        &self,
        project_id: &str,
        attachment_id: &str,
    ) -> Result<(), ClientError> {
        if !path_safe(attachment_id) {
            return Err(bad_path("attachment", attachment_id));
        }
        let path = Self::path(project_id, &format!("attachments/{attachment_id}/action"))?;
        let (st, v) = self
            .as_service(Method::POST, &path, Some(&json!({"os-complete": null})))
            .await?;
        if !st.is_success() {
            return Err(self.http.fail(st, &v));
        }
        Ok(())
    }

    async fn attachment_delete(
        &self,
        project_id: &str,
        attachment_id: &str,
    ) -> Result<(), ClientError> {
        if !path_safe(attachment_id) {
            return Ok(());
        }
        let path = Self::path(project_id, &format!("attachments/{attachment_id}"))?;
        let (st, v) = self.as_service(Method::DELETE, &path, None).await?;
        match st {
            s if s.is_success() => Ok(()),
            StatusCode::NOT_FOUND => Ok(()),
            s => Err(self.http.fail(s, &v)),
        }
    }

    async fn volume_delete(&self, project_id: &str, volume_id: &str) -> Result<(), ClientError> {
        if !path_safe(volume_id) {
            return Ok(());
        }
        let path = Self::path(project_id, &format!("volumes/{volume_id}"))?;
        let (st, v) = self.as_service(Method::DELETE, &path, None).await?;
        match st {
            s if s.is_success() => Ok(()),
            StatusCode::NOT_FOUND => Ok(()),
            s => Err(self.http.fail(s, &v)),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Fake

/// One attachment of the fake.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeAttachment {
    pub id: String,
    pub volume_id: String,
    pub instance_uuid: String,
    /// `reserved`, `attaching`, `attached`.
    pub status: String,
    pub connector: Option<Value>,
}

#[derive(Debug, Default)]
struct FakeVolState {
    volumes: BTreeMap<String, VolumeInfo>,
    attachments: BTreeMap<String, FakeAttachment>,
    /// Operations that fail (by method name) until cleared.
    failing: BTreeSet<String>,
    /// Where the volumes' files are (`volume-<id>.raw`), for drivers that open them.
    device_dir: Option<std::path::PathBuf>,
    /// Volume names given at create.
    names: BTreeMap<String, String>,
    /// Snapshots (records as Cinder renders them).
    snapshots: BTreeMap<String, Value>,
}

/// An in-memory block storage service for tests: every token sees every volume; volumes go
/// `available` → `reserved` → `attaching` → `in-use` (→ `available` when their last
/// attachment is deleted), as Cinder's attachments API moves them.
#[derive(Debug, Default)]
pub struct FakeVolumeClient {
    state: Mutex<FakeVolState>,
}

fn refuse(status: u16, message: String) -> ClientError {
    let key = if status == 404 {
        "itemNotFound"
    } else {
        "badRequest"
    };
    ClientError::Status {
        service: "volume",
        status,
        body: json!({key: {"code": status, "message": message}}).to_string(),
    }
}

impl FakeVolumeClient {
    fn lock(&self) -> std::sync::MutexGuard<'_, FakeVolState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds an available volume of `size` GiB; returns its id.
    pub fn add_volume(&self, size: i64) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        self.lock().volumes.insert(
            id.clone(),
            VolumeInfo {
                id: id.clone(),
                status: "available".into(),
                size,
                ..Default::default()
            },
        );
        id
    }

    /// Makes connection info point at `dir/volume-<id>.raw` (default `/fake/...`).
    pub fn set_device_dir(&self, dir: &std::path::Path) {
        self.lock().device_dir = Some(dir.to_path_buf());
    }

    /// Marks a volume bootable (or not).
    pub fn set_bootable(&self, id: &str, bootable: bool) {
        if let Some(v) = self.lock().volumes.get_mut(id) {
            v.bootable = bootable;
        }
    }

    /// Forces a volume's status (to test refusals).
    pub fn set_status(&self, id: &str, status: &str) {
        if let Some(v) = self.lock().volumes.get_mut(id) {
            v.status = status.into();
        }
    }

    /// Makes `method` (`attachment_create`, `attachment_update`, `attachment_complete`,
    /// `attachment_delete`, `volume_delete`) fail with a 500 (or not).
    pub fn fail(&self, method: &str, fail: bool) {
        let mut st = self.lock();
        if fail {
            st.failing.insert(method.into());
        } else {
            st.failing.remove(method);
        }
    }

    /// The volume `id`, if it exists.
    pub fn volume(&self, id: &str) -> Option<VolumeInfo> {
        self.lock().volumes.get(id).cloned()
    }

    /// Every attachment.
    pub fn attachments(&self) -> Vec<FakeAttachment> {
        self.lock().attachments.values().cloned().collect()
    }
}

impl FakeVolState {
    /// A volume as Cinder renders it.
    fn record(&self, v: &VolumeInfo) -> Value {
        let attachments: Vec<Value> = self
            .attachments
            .values()
            .filter(|a| a.volume_id == v.id)
            .map(|a| {
                json!({"server_id": a.instance_uuid, "attachment_id": a.id, "volume_id": v.id,
                       "device": a.connector.as_ref().and_then(|c| c.get("mountpoint")).cloned()})
            })
            .collect();
        json!({
            "id": v.id, "status": v.status, "size": v.size, "availability_zone": "nova",
            "created_at": "2026-01-01T00:00:00.000000", "name": self.names.get(&v.id),
            "description": null, "volume_type": "__DEFAULT__", "snapshot_id": null,
            "metadata": {}, "bootable": if v.bootable { "true" } else { "false" },
            "multiattach": v.multiattach, "attachments": attachments,
        })
    }

    fn check(&self, method: &str) -> Result<(), ClientError> {
        if self.failing.contains(method) {
            return Err(refuse(500, format!("{method} is failing")));
        }
        Ok(())
    }

    fn attachment(&mut self, id: &str) -> Result<&mut FakeAttachment, ClientError> {
        self.attachments
            .get_mut(id)
            .ok_or_else(|| refuse(404, format!("VolumeAttachment {id} could not be found.")))
    }

    fn set_volume(&mut self, id: &str, status: &str) {
        if let Some(v) = self.volumes.get_mut(id) {
            v.status = status.into();
        }
    }

    fn sync_attachments(&mut self, volume_id: &str) {
        let list: Vec<(String, String)> = self
            .attachments
            .values()
            .filter(|a| a.volume_id == volume_id)
            .map(|a| (a.instance_uuid.clone(), a.id.clone()))
            .collect();
        if let Some(v) = self.volumes.get_mut(volume_id) {
            v.attachments = list;
        }
    }
}

#[async_trait]
impl VolumeClient for FakeVolumeClient {
    async fn volume_get(
        &self,
        _token: &str,
        _project_id: &str,
        id: &str,
    ) -> Result<Option<VolumeInfo>, ClientError> {
        Ok(self.volume(id))
    }

    async fn attachment_create(
        &self,
        _token: &str,
        _project_id: &str,
        volume_id: &str,
        instance_uuid: &str,
    ) -> Result<AttachmentInfo, ClientError> {
        let mut st = self.lock();
        st.check("attachment_create")?;
        let v = st
            .volumes
            .get(volume_id)
            .ok_or_else(|| refuse(404, format!("Volume {volume_id} could not be found.")))?;
        let attachable = v.status == "available"
            || (v.multiattach && matches!(v.status.as_str(), "in-use" | "reserved"));
        if !attachable {
            return Err(refuse(
                400,
                format!(
                    "Invalid volume: Volume {volume_id} status must be available or downloading to reserve, but the current status is {}.",
                    v.status
                ),
            ));
        }
        if v.status == "available" {
            st.set_volume(volume_id, "reserved");
        }
        let a = FakeAttachment {
            id: uuid::Uuid::new_v4().to_string(),
            volume_id: volume_id.into(),
            instance_uuid: instance_uuid.into(),
            status: "reserved".into(),
            connector: None,
        };
        st.attachments.insert(a.id.clone(), a.clone());
        st.sync_attachments(volume_id);
        Ok(AttachmentInfo {
            id: a.id,
            volume_id: a.volume_id,
            status: a.status,
            connection_info: Value::Null,
        })
    }

    async fn volume_create(
        &self,
        _token: &str,
        _project_id: &str,
        size: i64,
        image_id: Option<&str>,
        _name: &str,
    ) -> Result<VolumeInfo, ClientError> {
        let mut st = self.lock();
        st.check("volume_create")?;
        let v = VolumeInfo {
            id: uuid::Uuid::new_v4().to_string(),
            // Written by the time anyone looks again.
            status: "creating".into(),
            size,
            bootable: image_id.is_some(),
            ..Default::default()
        };
        st.volumes.insert(v.id.clone(), v.clone());
        Ok(v)
    }

    async fn records(
        &self,
        _token: &str,
        _project_id: &str,
        kind: ProxyKind,
    ) -> Result<Vec<Value>, ClientError> {
        let st = self.lock();
        Ok(match kind {
            ProxyKind::Volumes => st.volumes.values().map(|v| st.record(v)).collect(),
            ProxyKind::Snapshots => st.snapshots.values().cloned().collect(),
        })
    }

    async fn record(
        &self,
        _token: &str,
        _project_id: &str,
        kind: ProxyKind,
        id: &str,
    ) -> Result<Option<Value>, ClientError> {
        let st = self.lock();
        Ok(match kind {
            ProxyKind::Volumes => st.volumes.get(id).map(|v| st.record(v)),
            ProxyKind::Snapshots => st.snapshots.get(id).cloned(),
        })
    }

    async fn record_create(
        &self,
        _token: &str,
        _project_id: &str,
        kind: ProxyKind,
        body: &Value,
    ) -> Result<Value, ClientError> {
        if kind == ProxyKind::Snapshots {
            let volume_id = body["volume_id"].as_str().unwrap_or_default();
            let mut st = self.lock();
            let v =
                st.volumes.get(volume_id).cloned().ok_or_else(|| {
                    refuse(404, format!("Volume {volume_id} could not be found."))
                })?;
            if v.status != "available" && body["force"] != json!(true) {
                return Err(refuse(
                    400,
                    format!(
                        "Invalid volume: Volume {volume_id} status must be available, but current status is: {}.",
                        v.status
                    ),
                ));
            }
            let id = uuid::Uuid::new_v4().to_string();
            let s = json!({
                "id": id, "volume_id": volume_id, "status": "available", "size": v.size,
                "created_at": "2026-01-01T00:00:00.000000", "name": body["name"],
                "description": body["description"], "metadata": {},
            });
            st.snapshots.insert(id, s.clone());
            return Ok(s);
        }
        let size = body["size"].as_i64().unwrap_or(0);
        if size <= 0 {
            return Err(refuse(
                400,
                format!(
                    "Invalid input received: Volume size '{size}' must be an integer and greater than 0"
                ),
            ));
        }
        let id = self.add_volume(size);
        let mut st = self.lock();
        if let Some(name) = body["name"].as_str() {
            st.names.insert(id.clone(), name.to_string());
        }
        let v = st.volumes.get(&id).cloned().unwrap_or_default();
        Ok(st.record(&v))
    }

    async fn record_delete(
        &self,
        _token: &str,
        project_id: &str,
        kind: ProxyKind,
        id: &str,
    ) -> Result<bool, ClientError> {
        if kind == ProxyKind::Snapshots {
            return Ok(self.lock().snapshots.remove(id).is_some());
        }
        if self.volume(id).is_none() {
            return Ok(false);
        }
        self.volume_delete(project_id, id).await.map(|()| true)
    }

    async fn volume_show(
        &self,
        _project_id: &str,
        id: &str,
    ) -> Result<Option<VolumeInfo>, ClientError> {
        let mut st = self.lock();
        let v = st.volumes.get_mut(id);
        Ok(v.map(|v| {
            if v.status == "creating" {
                v.status = "available".into();
            }
            v.clone()
        }))
    }

    async fn attachment_reserve(
        &self,
        project_id: &str,
        volume_id: &str,
        instance_uuid: &str,
    ) -> Result<AttachmentInfo, ClientError> {
        self.attachment_create("service", project_id, volume_id, instance_uuid)
            .await
    }

    async fn attachment_update(
        &self,
        _project_id: &str,
        attachment_id: &str,
        connector: &Value,
    ) -> Result<Value, ClientError> {
        let mut st = self.lock();
        st.check("attachment_update")?;
        let a = st.attachment(attachment_id)?;
        a.connector = Some(connector.clone());
        if a.status == "reserved" {
            a.status = "attaching".into();
        }
        let volume_id = a.volume_id.clone();
        if st
            .volumes
            .get(&volume_id)
            .is_some_and(|v| v.status == "reserved")
        {
            st.set_volume(&volume_id, "attaching");
        }
        let dir = st
            .device_dir
            .clone()
            .unwrap_or_else(|| std::path::PathBuf::from("/fake"));
        Ok(json!({
            "driver_volume_type": "file",
            "data": {
                "device_path": dir.join(format!("volume-{volume_id}.raw")).display().to_string(),
                "format": "raw",
                "access_mode": "rw",
                "volume_id": volume_id,
            },
            "attachment_id": attachment_id,
        }))
    }

    async fn attachment_complete(
        &self,
        _project_id: &str,
        attachment_id: &str,
    ) -> Result<(), ClientError> {
        let mut st = self.lock();
        st.check("attachment_complete")?;
        let a = st.attachment(attachment_id)?;
        a.status = "attached".into();
        let volume_id = a.volume_id.clone();
        st.set_volume(&volume_id, "in-use");
        Ok(())
    }

    async fn attachment_delete(
        &self,
        _project_id: &str,
        attachment_id: &str,
    ) -> Result<(), ClientError> {
        let mut st = self.lock();
        st.check("attachment_delete")?;
        let Some(a) = st.attachments.remove(attachment_id) else {
            return Ok(());
        };
        st.sync_attachments(&a.volume_id);
        let rest: Vec<String> = st
            .attachments
            .values()
            .filter(|x| x.volume_id == a.volume_id)
            .map(|x| x.status.clone())
            .collect();
        let status = if rest.is_empty() {
            "available"
        } else if rest.iter().any(|s| s == "attached") {
            "in-use"
        } else {
            "reserved"
        };
        st.set_volume(&a.volume_id, status);
        Ok(())
    }

    async fn volume_delete(&self, _project_id: &str, volume_id: &str) -> Result<(), ClientError> {
        let mut st = self.lock();
        st.check("volume_delete")?;
        if let Some(v) = st.volumes.get(volume_id)
            && !matches!(v.status.as_str(), "available" | "error")
        {
            return Err(refuse(
                400,
                format!(
                    "Invalid volume: Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots, awaiting a transfer, or be disassociated from snapshots after volume transfer. (status {})",
                    v.status
                ),
            ));
        }
        st.volumes.remove(volume_id);
        Ok(())
    }
}
