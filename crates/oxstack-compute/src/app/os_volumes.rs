//! The deprecated volume proxy (`/os-volumes`, microversions up to 2.35), as
//! nova/api/openstack/compute/volumes.py: the user's volumes, straight from the block storage
//! service with their token.

use oxstack_common::context::RequestContext;
use oxstack_common::{Error, Result};
use serde_json::{Map, Value, json};

use super::{App, Caller};
use crate::clients::{ClientError, VolumeClient, cinder_message};

/// The client (if any), the caller's token and project.
type Proxy = (Option<std::sync::Arc<dyn VolumeClient>>, String, String);

fn not_found(id: &str) -> Error {
    Error::not_found(format!("Volume {id} could not be found."))
}

/// Cinder's refusals in Nova's words: 400 `InvalidInput`, over quota 403.
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
        other => other.into(),
    }
}

impl App {
    fn proxy_rule(
        &self,
        ctx: &RequestContext,
        rule: &str,
    ) -> Result<Proxy> {
        let c: Caller<'_> = self.caller(ctx)?;
        self.authorize(
            &c,
            &format!("os_compute_api:os-volumes:{rule}"),
            &json!({"project_id": c.project_id()}),
        )?;
        Ok((
            self.volume.clone(),
            c.ctx.token.clone().unwrap_or_default(),
            c.project_id().to_string(),
        ))
    }

    /// `GET /os-volumes` and `/os-volumes/detail`: Cinder's records.
    pub async fn os_volume_list(&self, ctx: &RequestContext, detail: bool) -> Result<Vec<Value>> {
        let (client, token, project) =
            self.proxy_rule(ctx, if detail { "detail" } else { "list" })?;
        match client {
            Some(c) => Ok(c.volume_records(&token, &project).await?),
            None => Ok(Vec::new()),
        }
    }

    pub async fn os_volume_show(&self, ctx: &RequestContext, id: &str) -> Result<Value> {
        let (client, token, project) = self.proxy_rule(ctx, "show")?;
        let c = client.ok_or_else(|| not_found(id))?;
        c.volume_record(&token, &project, id)
            .await?
            .ok_or_else(|| not_found(id))
    }

    /// `POST /os-volumes` with Nova's (validated) `volume` object.
    pub async fn os_volume_create(
        &self,
        ctx: &RequestContext,
        v: &Map<String, Value>,
    ) -> Result<Value> {
        let (client, token, project) = self.proxy_rule(ctx, "create")?;
        let c = client.ok_or_else(|| Error::bad_request("Block storage is not available."))?;
        let mut body = json!({});
        for (nova, cinder) in [
            ("size", "size"),
            ("display_name", "name"),
            ("display_description", "description"),
            ("volume_type", "volume_type"),
            ("metadata", "metadata"),
            ("availability_zone", "availability_zone"),
            ("snapshot_id", "snapshot_id"),
        ] {
            if let Some(x) = v.get(nova) {
                body[cinder] = x.clone();
            }
        }
        if let Some(s) = v.get("size").and_then(Value::as_str) {
            body["size"] = json!(s.parse::<i64>().unwrap_or(0));
        }
        c.volume_record_create(&token, &project, &body)
            .await
            .map_err(refused)
    }

    pub async fn os_volume_delete(&self, ctx: &RequestContext, id: &str) -> Result<()> {
        let (client, token, project) = self.proxy_rule(ctx, "delete")?;
        let c = client.ok_or_else(|| not_found(id))?;
        if c.volume_delete_as_user(&token, &project, id)
            .await
            .map_err(refused)?
        {
            Ok(())
        } else {
            Err(not_found(id))
        }
    }
}
