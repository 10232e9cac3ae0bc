//! Metadata definitions (Glance's metadefs): namespaces and the objects, properties, tags
//! and resource type associations they hold.
//!
//! Visibility follows Glance's database layer (an admin sees every namespace; anyone else
//! public ones, ownerless ones and their project's); authorization follows its
//! `MetadefAPIPolicy`: a refusal on a namespace the caller may not even read is a 404.
//! Request bodies are checked against the published schemas
//! ([`crate::api`]'s `/v2/schemas/metadefs/*`), whose `additionalProperties` is false.

use oxstack_common::context::{AuthInfo, RequestContext};
use oxstack_common::error::ErrorKind;
use oxstack_common::{Error, Result};
use serde_json::{Map, Value, json};

use super::{App, isotime, now};
use crate::model::{Association, MetadefObject, MetadefProperty, MetadefTag, Namespace};
use crate::store::{MetadefKind, NamespaceQuery, StoreError};

/// Keys of a property definition (`/v2/schemas/metadefs/property`).
const PROPERTY_KEYS: &[&str] = &[
    "name",
    "title",
    "description",
    "operators",
    "type",
    "required",
    "minimum",
    "maximum",
    "maxLength",
    "minLength",
    "pattern",
    "enum",
    "readonly",
    "default",
    "items",
    "maxItems",
    "minItems",
    "uniqueItems",
    "additionalItems",
];
/// The JSON types a property may have.
const PROPERTY_TYPES: &[&str] = &["array", "boolean", "integer", "number", "object", "string"];
const NAMESPACE_KEYS: &[&str] = &[
    "namespace",
    "display_name",
    "description",
    "visibility",
    "protected",
    "owner",
    "resource_type_associations",
    "properties",
    "objects",
    "tags",
];
const OBJECT_KEYS: &[&str] = &["name", "description", "required", "properties"];
const ASSOCIATION_KEYS: &[&str] = &["name", "prefix", "properties_target"];
/// Attributes the server sets: 403 when sent.
const READ_ONLY: &[&str] = &["self", "schema", "created_at", "updated_at"];
/// Namespace sort keys a client may ask for.
const SORT_KEYS: &[(&str, &str)] = &[
    ("created_at", "created_at"),
    ("updated_at", "updated_at"),
    ("namespace", "namespace"),
    ("display_name", "display_name"),
    ("visibility", "visibility"),
    ("protected", "protected"),
    ("owner", "owner"),
];

fn schema_error(schema: &str, detail: impl std::fmt::Display) -> Error {
    Error::bad_request(format!(
        "Provided object does not match schema '{schema}': {detail}"
    ))
}

fn ns_not_found(name: &str) -> Error {
    Error::not_found(format!(
        "Metadata definition namespace={name} was not found."
    ))
}

fn object_of<'a>(schema: &str, v: &'a Value) -> Result<&'a Map<String, Value>> {
    v.as_object()
        .ok_or_else(|| schema_error(schema, format!("{v} is not of type 'object'")))
}

fn check_keys(schema: &str, m: &Map<String, Value>, allowed: &[&str]) -> Result<()> {
    match m.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(schema_error(
            schema,
            format!("Additional properties are not allowed ('{k}' was unexpected)"),
        )),
        None => Ok(()),
    }
}

fn check_read_only(m: &Map<String, Value>, keys: &[&str]) -> Result<()> {
    match keys.iter().find(|k| m.contains_key(**k)) {
        Some(k) => Err(Error::forbidden(format!("Attribute '{k}' is read-only."))),
        None => Ok(()),
    }
}

/// An optional string of at most `max` characters.
fn opt_str(schema: &str, m: &Map<String, Value>, key: &str, max: usize) -> Result<Option<String>> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.chars().count() <= max => Ok(Some(s.clone())),
        Some(Value::String(s)) => Err(schema_error(schema, format!("'{s}' is too long"))),
        Some(v) => Err(schema_error(
            schema,
            format!("{v} is not of type 'string' (attribute {key})"),
        )),
    }
}

fn req_str(schema: &str, m: &Map<String, Value>, key: &str, max: usize) -> Result<String> {
    opt_str(schema, m, key, max)?
        .ok_or_else(|| schema_error(schema, format!("'{key}' is a required property")))
}

fn string_array(schema: &str, key: &str, v: &Value) -> Result<Vec<String>> {
    let bad = || {
        schema_error(
            schema,
            format!("{v} is not an array of unique strings ({key})"),
        )
    };
    let items = v.as_array().ok_or_else(bad)?;
    let mut out: Vec<String> = Vec::new();
    for i in items {
        let s = i.as_str().ok_or_else(bad)?;
        if out.iter().any(|x| x == s) {
            return Err(bad());
        }
        out.push(s.to_string());
    }
    Ok(out)
}

/// Checks a property definition against the property schema; with `named`, `name` is
/// required (a standalone property) — otherwise the name is the key it is stored under.
/// Returns the definition without its name.
pub fn property_definition(v: &Value, named: bool) -> Result<(Option<String>, Map<String, Value>)> {
    const S: &str = "property";
    let m = object_of(S, v)?;
    check_keys(S, m, PROPERTY_KEYS)?;
    let name = if named {
        Some(req_str(S, m, "name", 80)?)
    } else {
        opt_str(S, m, "name", 80)?
    };
    req_str(S, m, "title", usize::MAX)?;
    match m.get("type") {
        Some(Value::String(t)) if PROPERTY_TYPES.contains(&t.as_str()) => {}
        Some(Value::Null) => {}
        Some(t) => {
            return Err(schema_error(
                S,
                format!("{t} is not one of {PROPERTY_TYPES:?}"),
            ));
        }
        None => return Err(schema_error(S, "'type' is a required property")),
    }
    opt_str(S, m, "description", usize::MAX)?;
    opt_str(S, m, "pattern", usize::MAX)?;
    for key in ["minimum", "maximum"] {
        if let Some(v) = m.get(key).filter(|v| !v.is_number()) {
            return Err(schema_error(S, format!("{v} is not of type 'number'")));
        }
    }
    for key in ["maxLength", "minLength", "maxItems", "minItems"] {
        if let Some(v) = m.get(key).filter(|v| v.as_u64().is_none()) {
            return Err(schema_error(
                S,
                format!("{v} is not a non-negative integer ({key})"),
            ));
        }
    }
    for key in ["readonly", "uniqueItems", "additionalItems"] {
        if let Some(v) = m.get(key).filter(|v| !v.is_boolean()) {
            return Err(schema_error(S, format!("{v} is not of type 'boolean'")));
        }
    }
    for key in ["operators", "required"] {
        if let Some(v) = m.get(key) {
            string_array(S, key, v)?;
        }
    }
    if let Some(v) = m.get("enum").filter(|v| !v.is_array()) {
        return Err(schema_error(S, format!("{v} is not of type 'array'")));
    }
    if let Some(items) = m.get("items") {
        let im = object_of(S, items)?;
        if let Some(t) = im.get("type")
            && !(t.is_null() || t.as_str().is_some_and(|t| PROPERTY_TYPES.contains(&t)))
        {
            return Err(schema_error(
                S,
                format!("{t} is not one of {PROPERTY_TYPES:?}"),
            ));
        }
        if let Some(v) = im.get("enum").filter(|v| !v.is_array()) {
            return Err(schema_error(S, format!("{v} is not of type 'array'")));
        }
    }
    let mut def = m.clone();
    def.remove("name");
    Ok((name, def))
}

/// Checks a map of property definitions (`properties` of a namespace or object).
fn property_map(schema: &str, v: &Value) -> Result<Map<String, Value>> {
    let m = object_of(schema, v)?;
    let mut out = Map::new();
    for (name, def) in m {
        if name.chars().count() > 80 {
            return Err(schema_error(schema, format!("'{name}' is too long")));
        }
        let (_, def) = property_definition(def, false)?;
        out.insert(name.clone(), Value::Object(def));
    }
    Ok(out)
}

/// A metadef object as a client sends it.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectSpec {
    pub name: String,
    pub description: Option<String>,
    pub required: Option<Vec<String>>,
    pub properties: Option<Map<String, Value>>,
}

fn object_spec(v: &Value) -> Result<ObjectSpec> {
    const S: &str = "object";
    let m = object_of(S, v)?;
    check_read_only(m, READ_ONLY)?;
    check_keys(S, m, OBJECT_KEYS)?;
    Ok(ObjectSpec {
        name: req_str(S, m, "name", 80)?,
        description: opt_str(S, m, "description", usize::MAX)?,
        required: m
            .get("required")
            .filter(|v| !v.is_null())
            .map(|v| string_array(S, "required", v))
            .transpose()?,
        properties: m
            .get("properties")
            .filter(|v| !v.is_null())
            .map(|v| property_map(S, v))
            .transpose()?,
    })
}

/// A resource type association as a client sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssociationSpec {
    pub name: String,
    pub prefix: Option<String>,
    pub properties_target: Option<String>,
}

fn association_spec(v: &Value) -> Result<AssociationSpec> {
    const S: &str = "resource_type_association";
    let m = object_of(S, v)?;
    check_read_only(m, &["created_at", "updated_at"])?;
    check_keys(S, m, ASSOCIATION_KEYS)?;
    Ok(AssociationSpec {
        name: req_str(S, m, "name", 80)?,
        prefix: opt_str(S, m, "prefix", 80)?,
        properties_target: opt_str(S, m, "properties_target", 80)?,
    })
}

fn tag_name(schema: &str, v: &Value) -> Result<String> {
    let m = object_of(schema, v)?;
    check_read_only(m, &["created_at", "updated_at"])?;
    check_keys(schema, m, &["name"])?;
    req_str(schema, m, "name", 80)
}

/// A namespace as a client sends it to create or replace one.
#[derive(Debug, Clone, PartialEq)]
pub struct NamespaceSpec {
    pub namespace: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub visibility: Option<String>,
    pub protected: Option<bool>,
    pub owner: Option<String>,
    pub associations: Vec<AssociationSpec>,
    pub properties: Map<String, Value>,
    pub objects: Vec<ObjectSpec>,
    pub tags: Vec<String>,
}

/// Parses a namespace body (`POST` or `PUT`).
pub fn namespace_spec(v: &Value) -> Result<NamespaceSpec> {
    const S: &str = "namespace";
    let m = object_of(S, v)?;
    check_read_only(m, READ_ONLY)?;
    check_keys(S, m, NAMESPACE_KEYS)?;
    let visibility = opt_str(S, m, "visibility", usize::MAX)?;
    if let Some(v) = visibility
        .as_deref()
        .filter(|v| !["public", "private"].contains(v))
    {
        return Err(schema_error(
            S,
            format!("'{v}' is not one of ['public', 'private']"),
        ));
    }
    let protected = match m.get("protected") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(p)) => Some(*p),
        Some(v) => return Err(schema_error(S, format!("{v} is not of type 'boolean'"))),
    };
    let list = |key: &str| -> Result<Vec<Value>> {
        match m.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(a)) => Ok(a.clone()),
            Some(v) => Err(schema_error(S, format!("{v} is not of type 'array'"))),
        }
    };
    Ok(NamespaceSpec {
        namespace: req_str(S, m, "namespace", 80)?,
        display_name: opt_str(S, m, "display_name", 80)?,
        description: opt_str(S, m, "description", 500)?,
        visibility,
        protected,
        owner: opt_str(S, m, "owner", 255)?,
        associations: list("resource_type_associations")?
            .iter()
            .map(association_spec)
            .collect::<Result<_>>()?,
        properties: match m.get("properties") {
            None | Some(Value::Null) => Map::new(),
            Some(v) => property_map(S, v)?,
        },
        objects: list("objects")?
            .iter()
            .map(object_spec)
            .collect::<Result<_>>()?,
        tags: list("tags")?
            .iter()
            .map(|t| tag_name(S, t))
            .collect::<Result<_>>()?,
    })
}

/// `GET /v2/metadefs/namespaces` parameters.
#[derive(Debug, Clone, Default)]
pub struct NamespaceListParams {
    pub limit: Option<usize>,
    pub marker: Option<String>,
    pub sort_key: Option<String>,
    pub sort_dir: Option<String>,
    pub visibility: Option<String>,
    pub resource_types: Option<String>,
}

/// A namespace with what `GET .../namespaces/{ns}` shows of its contents.
#[derive(Debug, Clone)]
pub struct NamespaceDetail {
    pub ns: Namespace,
    pub associations: Vec<Association>,
    pub properties: Vec<MetadefProperty>,
    pub objects: Vec<MetadefObject>,
    pub tags: Vec<MetadefTag>,
}

fn duplicate(e: StoreError, msg: impl FnOnce() -> String) -> Error {
    match e {
        StoreError::Duplicate => Error::conflict(msg()),
        other => other.into(),
    }
}

impl App {
    /// Whether the caller may see `ns` at all (Glance's `_is_namespace_visible`).
    fn namespace_visible(&self, auth: &AuthInfo, ns: &Namespace) -> bool {
        self.is_admin(auth)
            || ns.owner.is_none()
            || ns.visibility == "public"
            || (ns.owner.is_some() && ns.owner == auth.project_id)
    }

    fn namespace_target(auth: &AuthInfo, ns: Option<&Namespace>) -> Value {
        match ns {
            Some(ns) => json!({"project_id": ns.owner, "visibility": ns.visibility}),
            None => json!({"project_id": auth.project_id}),
        }
    }

    /// Enforces a metadef rule; a refusal on a namespace the caller may not read is a 404.
    fn authorize_metadef(&self, auth: &AuthInfo, rule: &str, ns: Option<&Namespace>) -> Result<()> {
        let target = Self::namespace_target(auth, ns);
        match self.policy.authorize(rule, auth, &target) {
            Err(e) if e.kind == ErrorKind::Forbidden => {
                let readable = rule != "get_metadef_namespace"
                    && self.policy.enforce("get_metadef_namespace", auth, &target);
                match ns {
                    Some(ns) if !readable => Err(ns_not_found(&ns.namespace)),
                    _ => Err(e),
                }
            }
            other => other,
        }
    }

    /// The namespace `name` if the caller can see it and `rule` allows the call.
    async fn namespace_for(&self, auth: &AuthInfo, name: &str, rule: &str) -> Result<Namespace> {
        let ns = self
            .store
            .namespace_get(name)
            .await?
            .filter(|ns| self.namespace_visible(auth, ns))
            .ok_or_else(|| ns_not_found(name))?;
        self.authorize_metadef(auth, rule, Some(&ns))?;
        Ok(ns)
    }

    /// The JSON of a namespace (without its contents).
    pub fn namespace_view(ns: &Namespace) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("namespace".into(), json!(ns.namespace));
        for (k, v) in [
            ("display_name", &ns.display_name),
            ("description", &ns.description),
            ("owner", &ns.owner),
        ] {
            if let Some(v) = v {
                m.insert(k.into(), json!(v));
            }
        }
        m.insert("visibility".into(), json!(ns.visibility));
        m.insert("protected".into(), json!(ns.protected));
        m.insert("created_at".into(), json!(isotime(ns.created_at)));
        m.insert("updated_at".into(), json!(isotime(ns.updated_at)));
        m.insert(
            "self".into(),
            json!(format!("/v2/metadefs/namespaces/{}", ns.namespace)),
        );
        m.insert("schema".into(), json!("/v2/schemas/metadefs/namespace"));
        m
    }

    pub fn association_view(a: &Association) -> Value {
        let mut m = Map::new();
        m.insert("name".into(), json!(a.name));
        if let Some(p) = &a.prefix {
            m.insert("prefix".into(), json!(p));
        }
        if let Some(p) = &a.properties_target {
            m.insert("properties_target".into(), json!(p));
        }
        m.insert("created_at".into(), json!(isotime(a.created_at)));
        m.insert("updated_at".into(), json!(isotime(a.updated_at)));
        Value::Object(m)
    }

    pub fn object_view(ns: &str, o: &MetadefObject) -> Value {
        let mut m = Map::new();
        m.insert("name".into(), json!(o.name));
        if let Some(d) = &o.description {
            m.insert("description".into(), json!(d));
        }
        if let Some(r) = &o.required {
            m.insert("required".into(), json!(r));
        }
        if let Some(p) = &o.properties {
            m.insert("properties".into(), Value::Object(p.clone()));
        }
        m.insert("created_at".into(), json!(isotime(o.created_at)));
        m.insert("updated_at".into(), json!(isotime(o.updated_at)));
        m.insert(
            "self".into(),
            json!(format!("/v2/metadefs/namespaces/{ns}/objects/{}", o.name)),
        );
        m.insert("schema".into(), json!("/v2/schemas/metadefs/object"));
        Value::Object(m)
    }

    /// A property definition with its name (single-property responses).
    pub fn property_view(p: &MetadefProperty) -> Value {
        let mut m = p.schema.clone();
        m.insert("name".into(), json!(p.name));
        Value::Object(m)
    }

    pub fn tag_view(t: &MetadefTag) -> Value {
        json!({"name": t.name, "created_at": isotime(t.created_at), "updated_at": isotime(t.updated_at)})
    }

    /// `POST /v2/metadefs/namespaces`: the namespace with everything it brings, all or
    /// nothing.
    pub async fn namespace_create(
        &self,
        ctx: &RequestContext,
        spec: NamespaceSpec,
    ) -> Result<NamespaceDetail> {
        let auth = self.caller(ctx)?;
        self.authorize_metadef(auth, "add_metadef_namespace", None)?;
        for (present, rule) in [
            (
                !spec.associations.is_empty(),
                "add_metadef_resource_type_association",
            ),
            (!spec.objects.is_empty(), "add_metadef_object"),
            (!spec.properties.is_empty(), "add_metadef_property"),
            (!spec.tags.is_empty(), "add_metadef_tag"),
        ] {
            if present {
                self.authorize_metadef(auth, rule, None)?;
            }
        }
        let t = now();
        let ns = Namespace {
            id: uuid::Uuid::new_v4().to_string(),
            namespace: spec.namespace.clone(),
            display_name: spec.display_name,
            description: spec.description,
            visibility: spec.visibility.unwrap_or_else(|| "private".into()),
            protected: spec.protected.unwrap_or(false),
            owner: spec.owner.or_else(|| auth.project_id.clone()),
            created_at: t,
            updated_at: t,
        };
        self.store.namespace_create(&ns).await.map_err(|e| {
            duplicate(e, || {
                format!(
                    "The metadata definition namespace={} already exists.",
                    ns.namespace
                )
            })
        })?;
        match self
            .namespace_fill(
                &ns,
                &spec.associations,
                &spec.properties,
                &spec.objects,
                &spec.tags,
                t,
            )
            .await
        {
            Ok(detail) => Ok(detail),
            Err(e) => {
                // Glance removes the half-made namespace the same way.
                if let Err(clean) = self.store.namespace_delete(&ns.id).await {
                    tracing::warn!(namespace = %ns.namespace, error = %oxstack_common::http::error_chain(&clean), "could not remove a half-created namespace");
                }
                Err(e)
            }
        }
    }

    async fn namespace_fill(
        &self,
        ns: &Namespace,
        associations: &[AssociationSpec],
        properties: &Map<String, Value>,
        objects: &[ObjectSpec],
        tags: &[String],
        t: i64,
    ) -> Result<NamespaceDetail> {
        let mut detail = NamespaceDetail {
            ns: ns.clone(),
            associations: Vec::new(),
            properties: Vec::new(),
            objects: Vec::new(),
            tags: Vec::new(),
        };
        for a in associations {
            detail
                .associations
                .push(self.insert_association(ns, a.clone(), t).await?);
        }
        for (name, def) in properties {
            let schema = def.as_object().cloned().unwrap_or_default();
            detail
                .properties
                .push(self.insert_property(ns, name.clone(), schema, t).await?);
        }
        for o in objects {
            detail
                .objects
                .push(self.insert_object(ns, o.clone(), t).await?);
        }
        detail.tags = self.insert_tags(ns, tags, false, t).await?;
        Ok(detail)
    }

    /// `GET /v2/metadefs/namespaces`: visible namespaces (with their associations) and the
    /// next marker when the page is full.
    pub async fn namespace_list(
        &self,
        ctx: &RequestContext,
        p: &NamespaceListParams,
    ) -> Result<(Vec<(Namespace, Vec<Association>)>, Option<String>)> {
        let auth = self.caller(ctx)?;
        self.authorize_metadef(auth, "get_metadef_namespaces", None)?;
        self.authorize_metadef(auth, "list_metadef_resource_types", None)?;
        let sort_desc = match p.sort_dir.as_deref() {
            None | Some("desc") => true,
            Some("asc") => false,
            Some(d) => return Err(Error::bad_request(format!("Invalid sort direction: {d}"))),
        };
        let sort_key = match p.sort_key.as_deref() {
            None => "created_at",
            Some(k) => SORT_KEYS
                .iter()
                .find(|(name, _)| *name == k)
                .map(|(_, col)| *col)
                .ok_or_else(|| Error::bad_request(format!("Invalid sort key: {k}")))?,
        };
        if let Some(v) = p
            .visibility
            .as_deref()
            .filter(|v| !["public", "private"].contains(v))
        {
            return Err(Error::bad_request(format!("Invalid visibility value: {v}")));
        }
        let q = NamespaceQuery {
            admin: self.is_admin(auth),
            project_id: auth.project_id.clone(),
            visibility: p.visibility.clone(),
            resource_types: p
                .resource_types
                .as_ref()
                .map(|s| s.split(',').map(|t| t.trim().to_string()).collect()),
            sort_key,
            sort_desc,
        };
        let all = self.store.namespace_list(&q).await?;
        let start = match &p.marker {
            Some(m) => {
                all.iter()
                    .position(|ns| &ns.namespace == m)
                    .ok_or_else(|| ns_not_found(m))?
                    + 1
            }
            None => 0,
        };
        let limit = p
            .limit
            .unwrap_or(self.config.limit_param_default as usize)
            .min(self.config.api_limit_max as usize);
        let page: Vec<Namespace> = all
            .into_iter()
            .skip(start)
            .filter(|ns| {
                self.policy.enforce(
                    "get_metadef_namespace",
                    auth,
                    &Self::namespace_target(auth, Some(ns)),
                )
            })
            .take(limit)
            .collect();
        let next = (limit > 0 && page.len() == limit)
            .then(|| page.last().map(|ns| ns.namespace.clone()))
            .flatten();
        let mut out = Vec::with_capacity(page.len());
        for ns in page {
            let assoc = self.store.association_list(&ns.id).await?;
            out.push((ns, assoc));
        }
        Ok((out, next))
    }

    /// `GET /v2/metadefs/namespaces/{ns}`, property names prefixed for `resource_type`.
    pub async fn namespace_show(
        &self,
        ctx: &RequestContext,
        name: &str,
        resource_type: Option<&str>,
    ) -> Result<NamespaceDetail> {
        let auth = self.caller(ctx)?;
        let ns = self
            .namespace_for(auth, name, "get_metadef_namespace")
            .await?;
        for rule in [
            "list_metadef_resource_types",
            "get_metadef_objects",
            "get_metadef_properties",
            "get_metadef_tags",
        ] {
            self.authorize_metadef(auth, rule, Some(&ns))?;
        }
        let mut detail = NamespaceDetail {
            associations: self.store.association_list(&ns.id).await?,
            properties: self.store.property_list(&ns.id).await?,
            objects: self.store.object_list(&ns.id).await?,
            tags: self.store.tag_list(&ns.id).await?,
            ns,
        };
        let prefix = resource_type.and_then(|rt| {
            detail
                .associations
                .iter()
                .find(|a| a.name == rt)
                .and_then(|a| a.prefix.clone())
        });
        if let Some(prefix) = prefix {
            for p in &mut detail.properties {
                p.name = format!("{prefix}{}", p.name);
            }
            for o in &mut detail.objects {
                if let Some(props) = o.properties.take() {
                    o.properties = Some(
                        props
                            .into_iter()
                            .map(|(k, v)| (format!("{prefix}{k}"), v))
                            .collect(),
                    );
                }
                if let Some(req) = &mut o.required {
                    for r in req.iter_mut() {
                        *r = format!("{prefix}{r}");
                    }
                }
            }
        }
        Ok(detail)
    }

    /// `PUT /v2/metadefs/namespaces/{ns}`: replaces the namespace's attributes (contents
    /// stay); omitted attributes take their creation defaults, as in Glance.
    pub async fn namespace_update(
        &self,
        ctx: &RequestContext,
        name: &str,
        spec: NamespaceSpec,
    ) -> Result<Namespace> {
        let auth = self.caller(ctx)?;
        let mut ns = self
            .namespace_for(auth, name, "modify_metadef_namespace")
            .await?;
        ns.namespace = spec.namespace;
        ns.display_name = spec.display_name;
        ns.description = spec.description;
        ns.visibility = spec.visibility.unwrap_or_else(|| "private".into());
        ns.protected = spec.protected.unwrap_or(false);
        ns.owner = spec.owner.or_else(|| auth.project_id.clone());
        ns.updated_at = now();
        let updated = self.store.namespace_update(&ns).await.map_err(|e| {
            duplicate(e, || {
                format!(
                    "Invalid update. It would result in a duplicate metadata definition namespace with the same name of {}",
                    ns.namespace
                )
            })
        })?;
        if !updated {
            return Err(ns_not_found(name));
        }
        Ok(ns)
    }

    /// `DELETE /v2/metadefs/namespaces/{ns}`, with everything in it; refused while
    /// protected.
    pub async fn namespace_delete(&self, ctx: &RequestContext, name: &str) -> Result<()> {
        let auth = self.caller(ctx)?;
        let ns = self
            .namespace_for(auth, name, "delete_metadef_namespace")
            .await?;
        Self::check_unprotected(&ns)?;
        if !self.store.namespace_delete(&ns.id).await? {
            return Err(ns_not_found(name));
        }
        Ok(())
    }

    fn check_unprotected(ns: &Namespace) -> Result<()> {
        if ns.protected {
            return Err(Error::forbidden(format!(
                "Metadata definition namespace {} is protected and cannot be deleted.",
                ns.namespace
            )));
        }
        Ok(())
    }

    /// `DELETE /v2/metadefs/namespaces/{ns}/{objects,properties,tags}`: empties one kind of
    /// content (Glance checks `delete_metadef_namespace` for all three, and
    /// `delete_metadef_tags` too for tags).
    pub async fn namespace_clear(
        &self,
        ctx: &RequestContext,
        name: &str,
        kind: MetadefKind,
    ) -> Result<()> {
        let auth = self.caller(ctx)?;
        let ns = self
            .namespace_for(auth, name, "delete_metadef_namespace")
            .await?;
        if kind == MetadefKind::Tag {
            self.authorize_metadef(auth, "delete_metadef_tags", Some(&ns))?;
        }
        Self::check_unprotected(&ns)?;
        self.store.namespace_clear(&ns.id, kind).await?;
        Ok(())
    }

    // --- objects

    async fn insert_object(&self, ns: &Namespace, o: ObjectSpec, t: i64) -> Result<MetadefObject> {
        let obj = MetadefObject {
            id: uuid::Uuid::new_v4().to_string(),
            namespace_id: ns.id.clone(),
            name: o.name,
            description: o.description,
            required: o.required,
            properties: o.properties,
            created_at: t,
            updated_at: t,
        };
        self.store.object_create(&obj).await.map_err(|e| {
            duplicate(e, || {
                format!(
                    "A metadata definition object with name={} already exists in namespace={}.",
                    obj.name, ns.namespace
                )
            })
        })?;
        Ok(obj)
    }

    fn object_not_found(ns: &str, name: &str) -> Error {
        Error::not_found(format!(
            "The metadata definition object with name={name} was not found in namespace={ns}."
        ))
    }

    async fn object_in(&self, ns: &Namespace, name: &str) -> Result<MetadefObject> {
        self.store
            .object_get(&ns.id, name)
            .await?
            .ok_or_else(|| Self::object_not_found(&ns.namespace, name))
    }

    pub async fn object_create(
        &self,
        ctx: &RequestContext,
        ns_name: &str,
        body: &Value,
    ) -> Result<MetadefObject> {
        let auth = self.caller(ctx)?;
        let spec = object_spec(body)?;
        let ns = self
            .namespace_for(auth, ns_name, "add_metadef_object")
            .await?;
        self.insert_object(&ns, spec, now()).await
    }

    pub async fn object_list(
        &self,
        ctx: &RequestContext,
        ns_name: &str,
    ) -> Result<Vec<MetadefObject>> {
        let auth = self.caller(ctx)?;
        let ns = self
            .namespace_for(auth, ns_name, "get_metadef_objects")
            .await?;
        Ok(self.store.object_list(&ns.id).await?)
    }

    pub async fn object_show(
        &self,
        ctx: &RequestContext,
        ns_name: &str,
        name: &str,
    ) -> Result<MetadefObject> {
        let auth = self.caller(ctx)?;
        let ns = self
            .namespace_for(auth, ns_name, "get_metadef_object")
            .await?;
        self.object_in(&ns, name).await
    }

    /// `PUT .../objects/{name}`: replaces the object (its name included).
    pub async fn object_update(
        &self,
        ctx: &RequestContext,
        ns_name: &str,
        name: &str,
        body: &Value,
    ) -> Result<MetadefObject> {
        let auth = self.caller(ctx)?;
        let spec = object_spec(body)?;
        let ns = self
            .namespace_for(auth, ns_name, "modify_metadef_object")
            .await?;
        let mut o = self.object_in(&ns, name).await?;
        o.name = spec.name;
        o.description = spec.description;
        o.required = spec.required;
        o.properties = spec.properties;
        o.updated_at = now();
        let saved = self.store.object_update(&o).await.map_err(|e| {
            duplicate(e, || {
                format!(
                    "A metadata definition object with name={} already exists in namespace={}.",
                    o.name, ns.namespace
                )
            })
        })?;
        if !saved {
            return Err(Self::object_not_found(&ns.namespace, name));
        }
        Ok(o)
    }

    pub async fn object_delete(
        &self,
        ctx: &RequestContext,
        ns_name: &str,
        name: &str,
    ) -> Result<()> {
        let auth = self.caller(ctx)?;
        let ns = self
            .namespace_for(auth, ns_name, "delete_metadef_object")
            .await?;
        let o = self.object_in(&ns, name).await?;
        if ns.protected {
            return Err(Error::forbidden(format!(
                "Metadata definition object {name} is protected and cannot be deleted."
            )));
        }
        if !self
            .store
            .metadef_delete(MetadefKind::Object, &o.id)
            .await?
        {
            return Err(Self::object_not_found(&ns.namespace, name));
        }
        Ok(())
    }

    // --- properties

    async fn insert_property(
        &self,
        ns: &Namespace,
        name: String,
        schema: Map<String, Value>,
        t: i64,
    ) -> Result<MetadefProperty> {
        let p = MetadefProperty {
            id: uuid::Uuid::new_v4().to_string(),
            namespace_id: ns.id.clone(),
            name,
            schema,
            created_at: t,
            updated_at: t,
        };
        self.store.property_create(&p).await.map_err(|e| {
            duplicate(e, || {
                format!(
                    "A metadata definition property with name={} already exists in namespace={}.",
                    p.name, ns.namespace
                )
            })
        })?;
        Ok(p)
    }

    fn property_not_found(ns: &str, name: &str) -> Error {
        Error::not_found(format!(
            "The metadata definition property with name={name} was not found in namespace={ns}."
        ))
    }

    async fn property_in(&self, ns: &Namespace, name: &str) -> Result<MetadefProperty> {
        self.store
            .property_get(&ns.id, name)
            .await?
            .ok_or_else(|| Self::property_not_found(&ns.namespace, name))
    }

    pub async fn property_create(
        &self,
        ctx: &RequestContext,
        ns_name: &str,
        body: &Value,
    ) -> Result<MetadefProperty> {
        let auth = self.caller(ctx)?;
        if let Some(m) = body.as_object() {
            check_read_only(m, &["created_at", "updated_at"])?;
        }
        let (name, schema) = property_definition(body, true)?;
        let ns = self
            .namespace_for(auth, ns_name, "add_metadef_property")
            .await?;
        self.insert_property(&ns, name.unwrap_or_default(), schema, now())
            .await
    }

    pub async fn property_list(
        &self,
        ctx: &RequestContext,
        ns_name: &str,
    ) -> Result<Vec<MetadefProperty>> {
        let auth = self.caller(ctx)?;
        let ns = self
            .namespace_for(auth, ns_name, "get_metadef_properties")
            .await?;
        Ok(self.store.property_list(&ns.id).await?)
    }

    /// `GET .../properties/{name}`; with `resource_type`, `name` carries that association's
    /// prefix, which is stripped.
    pub async fn property_show(
        &self,
        ctx: &RequestContext,
        ns_name: &str,
        name: &str,
        resource_type: Option<&str>,
    ) -> Result<MetadefProperty> {
        let auth = self.caller(ctx)?;
        let ns = self
            .namespace_for(auth, ns_name, "get_metadef_property")
            .await?;
        let mut lookup = name.to_string();
        if let Some(rt) = resource_type.filter(|rt| !rt.is_empty()) {
            self.authorize_metadef(auth, "get_metadef_resource_type", Some(&ns))?;
            let assoc = self
                .store
                .association_list(&ns.id)
                .await?
                .into_iter()
                .find(|a| a.name == rt)
                .ok_or_else(|| {
                    Error::not_found(format!(
                        "The metadata definition resource-type association of resource-type={rt} to namespace={ns_name}, was not found."
                    ))
                })?;
            let prefix = assoc.prefix.unwrap_or_default();
            match name.strip_prefix(prefix.as_str()) {
                Some(rest) if !prefix.is_empty() => lookup = rest.to_string(),
                _ => {
                    return Err(Error::not_found(format!(
                        "Property {name} does not start with the expected resource type association prefix of '{prefix}'."
                    )));
                }
            }
        }
        self.property_in(&ns, &lookup).await
    }

    /// `PUT .../properties/{name}`: replaces the definition (its name included).
    pub async fn property_update(
        &self,
        ctx: &RequestContext,
        ns_name: &str,
        name: &str,
        body: &Value,
    ) -> Result<MetadefProperty> {
        let auth = self.caller(ctx)?;
        if let Some(m) = body.as_object() {
            check_read_only(m, &["created_at", "updated_at"])?;
        }
        let (new_name, schema) = property_definition(body, true)?;
        let ns = self
            .namespace_for(auth, ns_name, "modify_metadef_property")
            .await?;
        let mut p = self.property_in(&ns, name).await?;
        p.name = new_name.unwrap_or_default();
        p.schema = schema;
        p.updated_at = now();
        let saved = self.store.property_update(&p).await.map_err(|e| {
            duplicate(e, || {
                format!(
                    "A metadata definition property with name={} already exists in namespace={}.",
                    p.name, ns.namespace
                )
            })
        })?;
        if !saved {
            return Err(Self::property_not_found(&ns.namespace, name));
        }
        Ok(p)
    }

    pub async fn property_delete(
        &self,
        ctx: &RequestContext,
        ns_name: &str,
        name: &str,
    ) -> Result<()> {
        let auth = self.caller(ctx)?;
        let ns = self
            .namespace_for(auth, ns_name, "remove_metadef_property")
            .await?;
        let p = self.property_in(&ns, name).await?;
        if ns.protected {
            return Err(Error::forbidden(format!(
                "Metadata definition property {name} is protected and cannot be deleted."
            )));
        }
        if !self
            .store
            .metadef_delete(MetadefKind::Property, &p.id)
            .await?
        {
            return Err(Self::property_not_found(&ns.namespace, name));
        }
        Ok(())
    }

    // --- tags

    async fn insert_tags(
        &self,
        ns: &Namespace,
        names: &[String],
        replace: bool,
        t: i64,
    ) -> Result<Vec<MetadefTag>> {
        let tags: Vec<MetadefTag> = names
            .iter()
            .map(|n| MetadefTag {
                id: uuid::Uuid::new_v4().to_string(),
                namespace_id: ns.id.clone(),
                name: n.clone(),
                created_at: t,
                updated_at: t,
            })
            .collect();
        if tags.is_empty() && !replace {
            return Ok(tags);
        }
        let dup_name = || {
            names
                .iter()
                .enumerate()
                .find(|(i, n)| {
                    names[..*i]
                        .iter()
                        .any(|m| m.to_lowercase() == n.to_lowercase())
                })
                .map(|(_, n)| n.clone())
                .unwrap_or_else(|| names.join(", "))
        };
        self.store
            .tags_create(&ns.id, &tags, replace)
            .await
            .map_err(|e| {
                duplicate(e, || {
                    format!(
                        "A metadata tag with name={} already exists in namespace={}. (Please note that metadata tag names are case insensitive).",
                        dup_name(),
                        ns.namespace
                    )
                })
            })?;
        Ok(tags)
    }

    fn tag_not_found(ns: &str, name: &str) -> Error {
        Error::not_found(format!(
            "The metadata definition tag with name={name} was not found in namespace={ns}."
        ))
    }

    async fn tag_in(&self, ns: &Namespace, name: &str) -> Result<MetadefTag> {
        self.store
            .tag_get(&ns.id, name)
            .await?
            .ok_or_else(|| Self::tag_not_found(&ns.namespace, name))
    }

    /// `POST .../tags/{name}`.
    pub async fn tag_create(
        &self,
        ctx: &RequestContext,
        ns_name: &str,
        name: &str,
    ) -> Result<MetadefTag> {
        let auth = self.caller(ctx)?;
        let ns = self.namespace_for(auth, ns_name, "add_metadef_tag").await?;
        if name.chars().count() > 80 {
            return Err(schema_error("tag", format!("'{name}' is too long")));
        }
        let mut tags = self
            .insert_tags(&ns, &[name.to_string()], false, now())
            .await?;
        tags.pop()
            .ok_or_else(|| Self::tag_not_found(&ns.namespace, name))
    }

    /// `POST .../tags`: replaces the namespace's tags, or adds to them with `append`
    /// (`X-Openstack-Append: true`).
    pub async fn tags_create(
        &self,
        ctx: &RequestContext,
        ns_name: &str,
        body: &Value,
        append: bool,
    ) -> Result<Vec<MetadefTag>> {
        const S: &str = "tags";
        let auth = self.caller(ctx)?;
        let m = object_of(S, body)?;
        check_keys(S, m, &["tags"])?;
        let names: Vec<String> = match m.get("tags") {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|t| tag_name(S, t))
                .collect::<Result<_>>()?,
            Some(v) => return Err(schema_error(S, format!("{v} is not of type 'array'"))),
        };
        let ns = self
            .namespace_for(auth, ns_name, "add_metadef_tags")
            .await?;
        self.insert_tags(&ns, &names, !append, now()).await
    }

    pub async fn tag_list(&self, ctx: &RequestContext, ns_name: &str) -> Result<Vec<MetadefTag>> {
        let auth = self.caller(ctx)?;
        let ns = self
            .namespace_for(auth, ns_name, "get_metadef_tags")
            .await?;
        Ok(self.store.tag_list(&ns.id).await?)
    }

    pub async fn tag_show(
        &self,
        ctx: &RequestContext,
        ns_name: &str,
        name: &str,
    ) -> Result<MetadefTag> {
        let auth = self.caller(ctx)?;
        let ns = self.namespace_for(auth, ns_name, "get_metadef_tag").await?;
        self.tag_in(&ns, name).await
    }

    /// `PUT .../tags/{name}` with `{"name": new}`.
    pub async fn tag_update(
        &self,
        ctx: &RequestContext,
        ns_name: &str,
        name: &str,
        body: &Value,
    ) -> Result<MetadefTag> {
        let auth = self.caller(ctx)?;
        let new_name = tag_name("tag", body)?;
        let ns = self
            .namespace_for(auth, ns_name, "modify_metadef_tag")
            .await?;
        let mut tag = self.tag_in(&ns, name).await?;
        tag.name = new_name;
        tag.updated_at = now();
        let saved = self.store.tag_update(&tag).await.map_err(|e| {
            duplicate(e, || {
                format!(
                    "A metadata tag with name={} already exists in namespace={}. (Please note that metadata tag names are case insensitive).",
                    tag.name, ns.namespace
                )
            })
        })?;
        if !saved {
            return Err(Self::tag_not_found(&ns.namespace, name));
        }
        Ok(tag)
    }

    pub async fn tag_delete(&self, ctx: &RequestContext, ns_name: &str, name: &str) -> Result<()> {
        let auth = self.caller(ctx)?;
        let ns = self
            .namespace_for(auth, ns_name, "delete_metadef_tag")
            .await?;
        let tag = self.tag_in(&ns, name).await?;
        if ns.protected {
            return Err(Error::forbidden(format!(
                "Metadata definition tag {name} is protected and cannot be deleted."
            )));
        }
        if !self.store.metadef_delete(MetadefKind::Tag, &tag.id).await? {
            return Err(Self::tag_not_found(&ns.namespace, name));
        }
        Ok(())
    }

    // --- resource types

    /// `GET /v2/metadefs/resource_types`.
    pub async fn resource_type_list(
        &self,
        ctx: &RequestContext,
    ) -> Result<Vec<crate::model::ResourceType>> {
        let auth = self.caller(ctx)?;
        self.authorize_metadef(auth, "list_metadef_resource_types", None)?;
        Ok(self.store.resource_type_list().await?)
    }

    async fn insert_association(
        &self,
        ns: &Namespace,
        a: AssociationSpec,
        t: i64,
    ) -> Result<Association> {
        let assoc = Association {
            namespace_id: ns.id.clone(),
            name: a.name,
            prefix: a.prefix,
            properties_target: a.properties_target,
            created_at: t,
            updated_at: t,
        };
        self.store.association_create(&assoc).await.map_err(|e| {
            duplicate(e, || {
                format!(
                    "The metadata definition resource-type association of resource-type={} to namespace={} already exists.",
                    assoc.name, ns.namespace
                )
            })
        })?;
        Ok(assoc)
    }

    /// `POST .../resource_types`.
    pub async fn association_create(
        &self,
        ctx: &RequestContext,
        ns_name: &str,
        body: &Value,
    ) -> Result<Association> {
        let auth = self.caller(ctx)?;
        let spec = association_spec(body)?;
        let ns = self
            .namespace_for(auth, ns_name, "add_metadef_resource_type_association")
            .await?;
        self.insert_association(&ns, spec, now()).await
    }

    /// `GET .../resource_types`.
    pub async fn association_list(
        &self,
        ctx: &RequestContext,
        ns_name: &str,
    ) -> Result<Vec<Association>> {
        let auth = self.caller(ctx)?;
        let ns = self
            .namespace_for(auth, ns_name, "list_metadef_resource_types")
            .await?;
        if !self.policy.enforce(
            "get_metadef_resource_type",
            auth,
            &Self::namespace_target(auth, Some(&ns)),
        ) {
            return Ok(Vec::new());
        }
        Ok(self.store.association_list(&ns.id).await?)
    }

    /// `DELETE .../resource_types/{name}`.
    pub async fn association_delete(
        &self,
        ctx: &RequestContext,
        ns_name: &str,
        name: &str,
    ) -> Result<()> {
        let auth = self.caller(ctx)?;
        let ns = self
            .namespace_for(auth, ns_name, "remove_metadef_resource_type_association")
            .await?;
        let not_found =
            || Error::not_found(format!("Failed to find resource type {name} to delete"));
        if !self
            .store
            .association_list(&ns.id)
            .await?
            .iter()
            .any(|a| a.name == name)
        {
            return Err(not_found());
        }
        if ns.protected {
            return Err(Error::forbidden(format!(
                "Metadata definition resource-type-association {name} is protected and cannot be deleted."
            )));
        }
        if !self.store.association_delete(&ns.id, name).await? {
            return Err(not_found());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn property_definitions() {
        let ok = json!({"name": "hw", "title": "HW", "type": "string", "enum": ["a"]});
        let (name, def) = property_definition(&ok, true).expect("valid");
        assert_eq!(name.as_deref(), Some("hw"));
        assert!(!def.contains_key("name"));
        for bad in [
            json!({"title": "t", "type": "string"}),
            json!({"name": "n", "type": "string"}),
            json!({"name": "n", "title": "t"}),
            json!({"name": "n", "title": "t", "type": "blob"}),
            json!({"name": "n", "title": "t", "type": "string", "extra": 1}),
            json!({"name": "n", "title": "t", "type": "string", "minLength": -1}),
            json!({"name": "n", "title": "t", "type": "string", "readonly": "yes"}),
            json!("x"),
        ] {
            assert_eq!(
                property_definition(&bad, true)
                    .map_err(|e| e.status())
                    .err(),
                Some(400),
                "{bad}"
            );
        }
        assert!(property_definition(&json!({"title": "t", "type": "integer"}), false).is_ok());
    }

    #[test]
    fn namespace_bodies() {
        let s = namespace_spec(&json!({
            "namespace": "n", "visibility": "public", "protected": true,
            "resource_type_associations": [{"name": "OS::Glance::Image", "prefix": "hw_"}],
            "properties": {"p": {"title": "P", "type": "string"}},
            "objects": [{"name": "o"}],
            "tags": [{"name": "t"}],
        }))
        .expect("valid");
        assert_eq!(
            (s.protected, s.tags.len(), s.objects.len()),
            (Some(true), 1, 1)
        );
        let status = |v: Value| namespace_spec(&v).map_err(|e| e.status()).err();
        assert_eq!(status(json!({"display_name": "x"})), Some(400));
        assert_eq!(
            status(json!({"namespace": "n", "visibility": "shared"})),
            Some(400)
        );
        assert_eq!(status(json!({"namespace": "n", "bogus": 1})), Some(400));
        assert_eq!(
            status(json!({"namespace": "n", "created_at": "x"})),
            Some(403)
        );
        assert_eq!(status(json!({"namespace": "n".repeat(81)})), Some(400));
    }
}
