//! The deprecated proxies to the block storage service (`/os-volumes`, `/os-snapshots`,
//! microversions up to 2.35), as nova/api/openstack/compute/volumes.py and snapshots.py:
//! the user's volumes and snapshots, straight from Cinder with their token.

use oxstack_common::context::RequestContext;
use oxstack_common::{Error, Result};
use serde_json::{Map, Value, json};

use super::App;
use crate::clients::{ClientError, ProxyKind, VolumeClient, cinder_message};

/// The client (if any), the caller's token and project.
type Proxy = (Option<std::sync::Arc<dyn VolumeClient>>, String, String);

fn not_found(kind: ProxyKind, id: &str) -> Error {
    match kind {
        ProxyKind::Volumes => Error::not_found(format!("Volume {id} could not be found.")),
        ProxyKind::Snapshots => Error::not_found(format!("Snapshot {id} could not be found.")),
    }
}

/// Cinder's refusals in Nova's words: 400 `InvalidInput`, over quota 403, 404.
fn refused(e: ClientError) -> Error {
    match e {
        ClientError::Status {
            status: 400, body, ..
        } => Error::bad_request(cinder_message(&body)),
        ClientError::Status {
            status: 403 | 413,
            body,
            ..
        } => Error::forbidden(cinder_message(&body)),
        ClientError::Status {
            status: 404, body, ..
        } => Error::not_found(cinder_message(&body)),
        other => other.into(),
    }
}

/// `os_compute_api:os-volumes:{rule}` or `os_compute_api:os-volumes:snapshots:{rule}`.
fn rule(kind: ProxyKind, op: &str) -> String {
    match kind {
        ProxyKind::Volumes => format!("os_compute_api:os-volumes:{op}"),
        ProxyKind::Snapshots => format!("os_compute_api:os-volumes:snapshots:{op}"),
    }
}

impl App {
    fn proxy(&self, ctx: &RequestContext, kind: ProxyKind, op: &str) -> Result<Proxy> {
        let c = self.caller(ctx)?;
        self.authorize(&c, &rule(kind, op), &json!({"project_id": c.project_id()}))?;
        Ok((
            self.volume.clone(),
            c.ctx.token.clone().unwrap_or_default(),
            c.project_id().to_string(),
        ))
    }

    /// `GET /os-volumes(/detail)`, `/os-snapshots(/detail)`: Cinder's records.
    pub async fn proxy_list(
        &self,
        ctx: &RequestContext,
        kind: ProxyKind,
        detail: bool,
    ) -> Result<Vec<Value>> {
        let (client, token, project) =
            self.proxy(ctx, kind, if detail { "detail" } else { "list" })?;
        match client {
            Some(c) => Ok(c.records(&token, &project, kind).await?),
            None => Ok(Vec::new()),
        }
    }

    pub async fn proxy_show(
        &self,
        ctx: &RequestContext,
        kind: ProxyKind,
        id: &str,
    ) -> Result<Value> {
        let (client, token, project) = self.proxy(ctx, kind, "show")?;
        let c = client.ok_or_else(|| not_found(kind, id))?;
        c.record(&token, &project, kind, id)
            .await?
            .ok_or_else(|| not_found(kind, id))
    }

    /// `POST /os-volumes` or `/os-snapshots` with Nova's (validated) object.
    pub async fn proxy_create(
        &self,
        ctx: &RequestContext,
        kind: ProxyKind,
        v: &Map<String, Value>,
    ) -> Result<Value> {
        let (client, token, project) = self.proxy(ctx, kind, "create")?;
        let c = client.ok_or_else(|| Error::bad_request("Block storage is not available."))?;
        let fields: &[(&str, &str)] = match kind {
            ProxyKind::Volumes => &[
                ("size", "size"),
                ("display_name", "name"),
                ("display_description", "description"),
                ("volume_type", "volume_type"),
                ("metadata", "metadata"),
                ("availability_zone", "availability_zone"),
                ("snapshot_id", "snapshot_id"),
            ],
            ProxyKind::Snapshots => &[
                ("volume_id", "volume_id"),
                ("display_name", "name"),
                ("display_description", "description"),
                ("force", "force"),
            ],
        };
        let mut body = json!({});
        for (nova, cinder) in fields {
            if let Some(x) = v.get(*nova) {
                body[*cinder] = x.clone();
            }
        }
        if let Some(s) = v.get("size").and_then(Value::as_str) {
            body["size"] = json!(s.parse::<i64>().unwrap_or(0));
        }
        if let Some(Value::String(f)) = v.get("force") {
            body["force"] = json!(matches!(
                f.to_ascii_lowercase().as_str(),
                "true" | "1" | "yes" | "on" | "y" | "t"
            ));
        }
        c.record_create(&token, &project, kind, &body)
            .await
            .map_err(refused)
    }

    pub async fn proxy_delete(
        &self,
        ctx: &RequestContext,
        kind: ProxyKind,
        id: &str,
    ) -> Result<()> {
        let (client, token, project) = self.proxy(ctx, kind, "delete")?;
        let c = client.ok_or_else(|| not_found(kind, id))?;
        if c.record_delete(&token, &project, kind, id)
            .await
            .map_err(refused)?
        {
            Ok(())
        } else {
            Err(not_found(kind, id))
        }
    }
}
