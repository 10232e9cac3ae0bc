//! `os-server-password`, `os-server-external-events` and the extension list.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use oxstack_common::context::RequestContext;
use oxstack_common::http::Json;
use oxstack_common::{Error, Result};
use serde_json::{Value, json};

use super::{AppState, ok, status, with_status};
use crate::app::App;

pub(super) fn routes() -> Router<std::sync::Arc<App>> {
    Router::new()
        .route(
            "/servers/{id}/os-server-password",
            get(password).delete(password_clear),
        )
        .route("/os-server-external-events", post(external_events))
        .route("/extensions", get(extensions))
        .route("/extensions/{alias}", get(extension))
}

async fn password(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response> {
    let p = app.server_password(&ctx, &id).await?;
    Ok(ok(json!({ "password": p })))
}

async fn password_clear(
    State(app): AppState,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response> {
    app.server_password_clear(&ctx, &id).await?;
    Ok(status(StatusCode::NO_CONTENT))
}

async fn external_events(
    State(app): AppState,
    ctx: RequestContext,
    Json(body): Json<Value>,
) -> Result<Response> {
    let (code, events) = app.server_external_events(&ctx, &body).await?;
    let st = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
    Ok(with_status(st, json!({ "events": events })))
}

/// Nova's v2.1 extension list (informational since microversions replaced extensions):
/// `(alias, name)` of the APIs served here.
const EXTENSIONS: &[(&str, &str)] = &[
    ("os-admin-actions", "AdminActions"),
    ("os-availability-zone", "AvailabilityZone"),
    ("os-config-drive", "ConfigDrive"),
    ("os-console-output", "ConsoleOutput"),
    ("os-consoles", "Consoles"),
    ("os-create-backup", "CreateBackup"),
    ("OS-DCF", "DiskConfig"),
    ("OS-EXT-AZ", "ExtendedAvailabilityZone"),
    ("OS-EXT-IMG-SIZE", "ImageSize"),
    ("OS-EXT-IPS", "ExtendedIps"),
    ("OS-EXT-IPS-MAC", "ExtendedIpsMac"),
    ("OS-EXT-SRV-ATTR", "ExtendedServerAttributes"),
    ("OS-EXT-STS", "ExtendedStatus"),
    ("os-extended-volumes", "ExtendedVolumes"),
    ("os-flavor-access", "FlavorAccess"),
    ("os-flavor-extra-specs", "FlavorExtraSpecs"),
    ("os-flavor-manage", "FlavorManage"),
    ("os-floating-ips", "FloatingIps"),
    ("os-hosts", "Hosts"),
    ("os-hypervisors", "Hypervisors"),
    ("os-instance-actions", "InstanceActions"),
    ("os-keypairs", "Keypairs"),
    ("os-lock-server", "LockServer"),
    ("os-migrate-server", "MigrateServer"),
    ("os-pause-server", "PauseServer"),
    ("os-quota-class-sets", "QuotaClasses"),
    ("os-quota-sets", "Quotas"),
    ("os-rescue", "Rescue"),
    ("os-security-groups", "SecurityGroups"),
    ("os-server-external-events", "ServerExternalEvents"),
    ("os-server-groups", "ServerGroups"),
    ("os-server-password", "ServerPassword"),
    ("os-server-tags", "ServerTags"),
    ("os-services", "Services"),
    ("os-shelve", "Shelve"),
    ("os-simple-tenant-usage", "SimpleTenantUsage"),
    ("os-suspend-server", "SuspendServer"),
    ("os-attach-interfaces", "AttachInterfaces"),
    ("os-volumes", "Volumes"),
];

fn extension_view(alias: &str, name: &str) -> Value {
    json!({
        "alias": alias,
        "name": name,
        "description": name,
        "links": [],
        "namespace": "http://docs.openstack.org/compute/ext/fake_xml",
        "updated": "2014-12-03T00:00:00Z",
    })
}

async fn extensions(ctx: RequestContext) -> Result<Response> {
    ctx.require_auth()?;
    let list: Vec<Value> = EXTENSIONS
        .iter()
        .map(|(a, n)| extension_view(a, n))
        .collect();
    Ok(ok(json!({ "extensions": list })))
}

async fn extension(ctx: RequestContext, Path(alias): Path<String>) -> Result<Response> {
    ctx.require_auth()?;
    let (a, n) = EXTENSIONS
        .iter()
        .find(|(a, _)| *a == alias)
        .ok_or_else(|| Error::not_found("The resource could not be found."))?;
    Ok(ok(json!({ "extension": extension_view(a, n) })))
}
