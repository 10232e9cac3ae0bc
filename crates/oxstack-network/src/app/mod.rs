//! The networking logic: Neutron's rules for networks, subnets, ports, security groups,
//! routers, floating IPs and quotas; authorization through the policy engine; IPAM requests
//! to the store; the data-plane driver. Handlers call one method here; this layer calls the
//! store and the driver.

mod networks;
mod ports;
mod quotas;
mod routers;
mod security_groups;
mod subnetpools;
mod subnets;

use std::sync::Arc;

use oxstack_common::context::{AuthInfo, RequestContext};
use oxstack_common::policy::Enforcer;
use oxstack_common::{Error, Result};
use serde_json::{Map, Value, json};

use crate::config::NetworkConfig;
use crate::driver::DataPlane;
use crate::notifier::ComputeNotifier;
use crate::store::{Kind, Row, Store, StoreError};

/// The networking application.
#[derive(Debug)]
pub struct App {
    pub store: Store,
    pub policy: Enforcer,
    pub config: NetworkConfig,
    pub driver: Arc<dyn DataPlane>,
    /// Where compute hears of its servers' port changes.
    pub notifier: Arc<dyn ComputeNotifier>,
}

/// The caller of one request, as the logic layer needs it.
#[derive(Debug, Clone)]
pub struct Caller {
    pub auth: Arc<AuthInfo>,
    pub project_id: String,
    pub is_admin: bool,
}

impl App {
    /// The authenticated caller (401 without a token).
    pub fn caller(&self, ctx: &RequestContext) -> Result<Caller> {
        let auth = ctx.require_auth()?.clone();
        let is_admin = self.policy.enforce("context_is_admin", &auth, &json!({}));
        Ok(Caller {
            project_id: auth.project_id.clone().unwrap_or_default(),
            auth,
            is_admin,
        })
    }

    /// Whether `rule` passes for the caller on `target` (Neutron's flat target dict).
    pub fn allowed(&self, c: &Caller, rule: &str, target: &Value) -> bool {
        self.policy.enforce(rule, &c.auth, target)
    }

    /// 403 unless `rule` passes.
    pub fn authorize(&self, c: &Caller, rule: &str, target: &Value) -> Result<()> {
        self.policy.authorize(rule, &c.auth, target)
    }

    /// Refuses a write beyond the project's quota for `resource`.
    pub async fn check_quota(&self, project: &str, resource: &str, kind: Kind) -> Result<()> {
        let limit = self.quota_limit(project, resource).await?;
        if limit >= 0 && self.store.count(kind, project).await? >= limit {
            return Err(
                Error::conflict(format!("Quota exceeded for resources: ['{resource}']."))
                    .with_type("OverQuota"),
            );
        }
        Ok(())
    }
}

/// The flat policy target of a resource row.
pub(crate) fn target_of(row: &Row) -> Value {
    json!({
        "project_id": row.project_id,
        "tenant_id": row.project_id,
        "shared": row.body.get("shared").cloned().unwrap_or(json!(false)),
        "external": row.body.get("router:external").cloned().unwrap_or(json!(false)),
    })
}

/// What a list request lets the logic narrow before it renders rows: each field only where
/// the API's own filtering of the rendered rows would give the same result.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ListScope {
    /// Only the rows of this project.
    pub project: Option<String>,
    /// Only the rows under this parent (a port's network).
    pub parent: Option<String>,
    /// Only `limit` (+1) rows after the marker, in the store's order: when nothing else
    /// filters, sorts or reverses the list.
    pub page: Option<(usize, Option<String>)>,
}

/// A row as the API renders it: its attributes plus the standard ones.
pub(crate) fn view(row: &Row) -> Value {
    let mut out = match &row.body {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    out.insert("id".into(), json!(row.id));
    out.insert("project_id".into(), json!(row.project_id));
    out.insert("tenant_id".into(), json!(row.project_id));
    out.insert("revision_number".into(), json!(row.revision_number));
    out.insert("created_at".into(), json!(iso(row.created_at)));
    out.insert("updated_at".into(), json!(iso(row.updated_at)));
    out.entry("tags").or_insert(json!([]));
    out.entry("description").or_insert(json!(""));
    Value::Object(out)
}

fn iso(us: i64) -> String {
    oxstack_common::time::micros_to_time(us)
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().hyphenated().to_string()
}

/// The store's failures as Neutron errors.
pub(crate) fn store_error(e: StoreError) -> Error {
    match e {
        StoreError::Duplicate => Error::conflict("Resource already exists.").with_type("Conflict"),
        StoreError::NotFound => Error::not_found("The resource could not be found."),
        StoreError::RevisionMismatch => Error::new(
            oxstack_common::error::ErrorKind::PreconditionFailed,
            "Constrained to revision mismatch.",
        )
        .with_type("RevisionNumberConstraintFailed"),
        StoreError::IpInUse { ip, subnet } => Error::conflict(format!(
            "IP address {ip} already allocated in subnet {subnet}"
        ))
        .with_type("IpAddressAlreadyAllocated"),
        StoreError::Exhausted(s) => {
            Error::conflict(format!("No more IP addresses available for subnet {s}."))
                .with_type("IpAddressGenerationFailure")
        }
        StoreError::MacInUse(m) => Error::conflict(format!(
            "Unable to complete operation for network. The mac address {m} is in use."
        ))
        .with_type("MacAddressInUse"),
        StoreError::SegmentInUse => {
            Error::conflict("Unable to create the network. The segmentation ID is in use.")
                .with_type("SegmentationIdInUse")
        }
        StoreError::NoSegment => Error::unavailable(
            "Unable to create the network. No tenant network is available for allocation.",
        )
        .with_type("NoNetworkAvailable"),
        StoreError::Conflict(m) => Error::conflict(m),
        StoreError::Sql(e) => Error::internal("network store", e),
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        store_error(e)
    }
}

// ---- body validation, in Neutron's words ----

pub(crate) fn bad(msg: impl Into<String>) -> Error {
    Error::bad_request(msg.into()).with_type("HTTPBadRequest")
}

pub(crate) fn invalid(msg: impl std::fmt::Display) -> Error {
    Error::bad_request(format!("Invalid input for operation: {msg}.")).with_type("InvalidInput")
}

/// The `{"<resource>": {...}}` object of a request body.
pub(crate) fn resource_body<'a>(body: &'a Value, key: &str) -> Result<&'a Map<String, Value>> {
    body.get(key)
        .and_then(Value::as_object)
        .ok_or_else(|| bad(format!("Resource body required: '{key}' is missing.")))
}

/// Refuses attributes outside `allowed`.
pub(crate) fn only_keys(m: &Map<String, Value>, allowed: &[&str]) -> Result<()> {
    let unknown: Vec<&str> = m
        .keys()
        .map(String::as_str)
        .filter(|k| !allowed.contains(k))
        .collect();
    if !unknown.is_empty() {
        return Err(bad(format!(
            "Unrecognized attribute(s) '{}'",
            unknown.join(", ")
        )));
    }
    Ok(())
}

/// A boolean attribute as Neutron converts it (`true`, `"True"`, `1`, ...).
pub(crate) fn boolean(m: &Map<String, Value>, key: &str, default: bool) -> Result<bool> {
    match m.get(key) {
        None => Ok(default),
        Some(v) => to_bool(v).ok_or_else(|| {
            bad(format!(
                "Invalid input for {key}. Reason: '{}' cannot be converted to boolean.",
                v.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string())
            ))
        }),
    }
}

pub(crate) fn to_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_i64() {
            Some(0) => Some(false),
            Some(1) => Some(true),
            _ => None,
        },
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// A string attribute of at most `max` characters.
pub(crate) fn string(m: &Map<String, Value>, key: &str, max: usize) -> Result<Option<String>> {
    match m.get(key) {
        None => Ok(None),
        Some(Value::String(s)) if s.chars().count() <= max => Ok(Some(s.clone())),
        Some(Value::String(s)) => Err(bad(format!(
            "Invalid input for {key}. Reason: '{s}' exceeds maximum length of {max}."
        ))),
        Some(Value::Null) => Ok(None),
        Some(v) => Err(bad(format!(
            "Invalid input for {key}. Reason: '{v}' is not a valid string."
        ))),
    }
}

/// The project a new resource belongs to: the caller's, or (for admins) the one named.
pub(crate) fn owner(c: &Caller, m: &Map<String, Value>) -> Result<String> {
    let named = m
        .get("project_id")
        .or_else(|| m.get("tenant_id"))
        .and_then(Value::as_str)
        .map(str::to_string);
    if let (Some(p), Some(t)) = (
        m.get("project_id").and_then(Value::as_str),
        m.get("tenant_id").and_then(Value::as_str),
    ) && p != t
    {
        return Err(bad("'project_id' and 'tenant_id' do not match"));
    }
    match named {
        Some(p) if p != c.project_id && !c.is_admin => Err(bad(
            "Specifying 'project_id' or 'tenant_id' other than the authenticated project in request requires admin privileges",
        )),
        Some(p) => Ok(p),
        None => Ok(c.project_id.clone()),
    }
}

/// A UUID attribute (400 when malformed).
pub(crate) fn uuid_of(v: &Value, key: &str) -> Result<String> {
    let s = v.as_str().unwrap_or_default();
    uuid::Uuid::parse_str(s)
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| {
            bad(format!(
                "Invalid input for {key}. Reason: '{}' is not a valid UUID.",
                v.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string())
            ))
        })
}

/// The `If-Match: revision_number=N` constraint of a write.
pub(crate) fn if_match(header: Option<&str>) -> Result<Option<i64>> {
    let Some(h) = header else { return Ok(None) };
    let mut out = None;
    for part in h.split(',') {
        let part = part.trim();
        if let Some(n) = part.strip_prefix("revision_number=") {
            out = Some(
                n.trim()
                    .parse()
                    .map_err(|_| bad(format!("Could not parse If-Match header value {h}")))?,
            );
        }
    }
    Ok(out)
}

/// Merges `m` (filtered to `keys`) into `body`.
pub(crate) fn merge(body: &mut Value, m: &Map<String, Value>, keys: &[&str]) {
    if let Some(o) = body.as_object_mut() {
        for k in keys {
            if let Some(v) = m.get(*k) {
                o.insert((*k).to_string(), v.clone());
            }
        }
    }
}

/// The tags of a resource (the `/tags` sub-resource).
impl App {
    pub async fn tags_get(&self, c: &Caller, kind: Kind, id: &str) -> Result<Vec<String>> {
        let row = self.visible(c, kind, id).await?;
        Ok(tags_of(&row))
    }

    pub async fn tags_set(
        &self,
        c: &Caller,
        kind: Kind,
        id: &str,
        tags: Option<Vec<String>>,
        add: Option<&str>,
        remove: Option<&str>,
    ) -> Result<Vec<String>> {
        let row = self.visible(c, kind, id).await?;
        self.authorize(c, &format!("update_{}", kind_rule(kind)), &target_of(&row))?;
        let mut cur = tags_of(&row);
        if let Some(t) = tags {
            for tag in &t {
                valid_tag(tag)?;
            }
            cur = t;
        }
        if let Some(t) = add {
            valid_tag(t)?;
            if !cur.iter().any(|x| x == t) {
                cur.push(t.to_string());
            }
        }
        if let Some(t) = remove {
            if !cur.iter().any(|x| x == t) {
                return Err(Error::not_found(format!(
                    "Tag {t} could not be found for {} {id}.",
                    kind_rule(kind)
                ))
                .with_type("TagNotFound"));
            }
            cur.retain(|x| x != t);
        }
        cur.sort();
        cur.dedup();
        let mut body = row.body.clone();
        body["tags"] = json!(cur);
        self.store.update(kind, id, &body, None).await?;
        Ok(cur)
    }

    pub async fn tag_check(&self, c: &Caller, kind: Kind, id: &str, tag: &str) -> Result<()> {
        let row = self.visible(c, kind, id).await?;
        if tags_of(&row).iter().any(|t| t == tag) {
            Ok(())
        } else {
            Err(Error::not_found(format!(
                "Tag {tag} could not be found for {} {id}.",
                kind_rule(kind)
            ))
            .with_type("TagNotFound"))
        }
    }

    /// A row the caller may see, else Neutron's 404 for the kind.
    pub(crate) async fn visible(&self, c: &Caller, kind: Kind, id: &str) -> Result<Row> {
        let row = self.store.get(kind, id).await?;
        match row {
            Some(r) if self.can_see(c, kind, &r).await => Ok(r),
            _ => Err(not_found(kind, id)),
        }
    }

    /// Whether the caller may see the row (its `get_*` rule).
    pub(crate) async fn can_see(&self, c: &Caller, kind: Kind, row: &Row) -> bool {
        let mut t = target_of(row);
        if matches!(kind, Kind::Subnet | Kind::Port)
            && let Some(net) = row.parent_id.as_deref()
            && let Ok(Some(n)) = self.store.get(Kind::Network, net).await
        {
            t["network_project_id"] = json!(n.project_id);
            if kind == Kind::Subnet {
                t["shared"] = n.body.get("shared").cloned().unwrap_or(json!(false));
            }
        }
        self.allowed(c, &format!("get_{}", kind_rule(kind)), &t)
    }
}

fn tags_of(row: &Row) -> Vec<String> {
    row.body
        .get("tags")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn valid_tag(t: &str) -> Result<()> {
    if t.is_empty() || t.chars().count() > 255 || t.contains(',') || t.contains('/') {
        return Err(bad(format!(
            "Invalid input for tags. Reason: '{t}' is not a valid tag."
        )));
    }
    Ok(())
}

pub(crate) fn kind_rule(kind: Kind) -> &'static str {
    match kind {
        Kind::Network => "network",
        Kind::Subnet => "subnet",
        Kind::SubnetPool => "subnetpool",
        Kind::Port => "port",
        Kind::Router => "router",
        Kind::FloatingIp => "floatingip",
        Kind::SecurityGroup => "security_group",
        Kind::SecurityGroupRule => "security_group_rule",
    }
}

/// Neutron's 404 for a resource kind.
pub(crate) fn not_found(kind: Kind, id: &str) -> Error {
    let (ty, msg) = match kind {
        Kind::Network => (
            "NetworkNotFound",
            format!("Network {id} could not be found."),
        ),
        Kind::Subnet => ("SubnetNotFound", format!("Subnet {id} could not be found.")),
        Kind::SubnetPool => (
            "SubnetPoolNotFound",
            format!("Subnet pool {id} could not be found."),
        ),
        Kind::Port => ("PortNotFound", format!("Port {id} could not be found.")),
        Kind::Router => ("RouterNotFound", format!("Router {id} could not be found.")),
        Kind::FloatingIp => (
            "FloatingIPNotFound",
            format!("Floating IP {id} could not be found"),
        ),
        Kind::SecurityGroup => (
            "SecurityGroupNotFound",
            format!("Security group {id} does not exist"),
        ),
        Kind::SecurityGroupRule => (
            "SecurityGroupRuleNotFound",
            format!("Security group rule {id} does not exist"),
        ),
    };
    Error::not_found(msg).with_type(ty)
}

pub use quotas::QUOTA_RESOURCES;

/// Dispatch by resource kind, for the API's generic collection handlers.
impl App {
    pub async fn create(&self, c: &Caller, kind: Kind, m: &Map<String, Value>) -> Result<Value> {
        match kind {
            Kind::Network => self.network_create(c, m).await,
            Kind::Subnet => self.subnet_create(c, m).await,
            Kind::Port => self.port_create(c, m).await,
            Kind::Router => self.router_create(c, m).await,
            Kind::FloatingIp => self.floatingip_create(c, m).await,
            Kind::SecurityGroup => self.security_group_create(c, m).await,
            Kind::SecurityGroupRule => self.security_group_rule_create(c, m).await,
            Kind::SubnetPool => self.subnetpool_create(c, m).await,
        }
    }

    pub async fn get(&self, c: &Caller, kind: Kind, id: &str) -> Result<Value> {
        match kind {
            Kind::Network => self.network_get(c, id).await,
            Kind::Subnet => self.subnet_get(c, id).await,
            Kind::Port => self.port_get(c, id).await,
            Kind::Router => self.router_get(c, id).await,
            Kind::FloatingIp => self.floatingip_get(c, id).await,
            Kind::SecurityGroup => self.security_group_get(c, id).await,
            Kind::SecurityGroupRule => self.security_group_rule_get(c, id).await,
            Kind::SubnetPool => self.subnetpool_get(c, id).await,
        }
    }

    /// Every `kind` the caller may see (ports narrowed by `scope`).
    pub async fn list(&self, c: &Caller, kind: Kind, scope: &ListScope) -> Result<Vec<Value>> {
        match kind {
            Kind::Network => self.network_list(c).await,
            Kind::Subnet => self.subnet_list(c).await,
            Kind::Port => self.port_list(c, scope).await,
            Kind::Router => self.router_list(c).await,
            Kind::FloatingIp => self.floatingip_list(c).await,
            Kind::SecurityGroup => self.security_group_list(c).await,
            Kind::SecurityGroupRule => self.security_group_rule_list(c).await,
            Kind::SubnetPool => self.subnetpool_list(c).await,
        }
    }

    pub async fn update(
        &self,
        c: &Caller,
        kind: Kind,
        id: &str,
        m: &Map<String, Value>,
        expect: Option<i64>,
    ) -> Result<Value> {
        match kind {
            Kind::Network => self.network_update(c, id, m, expect).await,
            Kind::Subnet => self.subnet_update(c, id, m, expect).await,
            Kind::Port => self.port_update(c, id, m, expect).await,
            Kind::Router => self.router_update(c, id, m, expect).await,
            Kind::FloatingIp => self.floatingip_update(c, id, m, expect).await,
            Kind::SecurityGroup => self.security_group_update(c, id, m, expect).await,
            Kind::SubnetPool => self.subnetpool_update(c, id, m, expect).await,
            Kind::SecurityGroupRule => Err(Error::new(
                oxstack_common::error::ErrorKind::MethodNotAllowed,
                "The method is not allowed for the requested URL.",
            )),
        }
    }

    pub async fn delete(&self, c: &Caller, kind: Kind, id: &str) -> Result<()> {
        match kind {
            Kind::Network => self.network_delete(c, id).await,
            Kind::Subnet => self.subnet_delete(c, id).await,
            Kind::Port => self.port_delete(c, id).await,
            Kind::Router => self.router_delete(c, id).await,
            Kind::FloatingIp => self.floatingip_delete(c, id).await,
            Kind::SecurityGroup => self.security_group_delete(c, id).await,
            Kind::SecurityGroupRule => self.security_group_rule_delete(c, id).await,
            Kind::SubnetPool => self.subnetpool_delete(c, id).await,
        }
    }
}

/// Neutron's 404 for a network.
pub fn not_found_network(id: &str) -> Error {
    not_found(Kind::Network, id)
}
