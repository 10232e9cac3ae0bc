//! Metadata definitions: namespaces (`image_metadef_namespace`) and what they hold —
//! objects, properties, tags — and resource types with their associations.

use serde_json::{Map, Value};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Result, Store, StoreError, b};
use crate::model::{
    Association, MetadefObject, MetadefProperty, MetadefTag, Namespace, ResourceType,
};

const NS_COLUMNS: &str = "id, namespace, display_name, description, visibility, protected, owner, created_at, updated_at";

/// Which namespaces a listing returns.
#[derive(Debug, Clone, Default)]
pub struct NamespaceQuery {
    /// An admin sees every namespace; anyone else public ones and their project's.
    pub admin: bool,
    pub project_id: Option<String>,
    /// Only this visibility.
    pub visibility: Option<String>,
    /// Only namespaces associated with one of these resource types.
    pub resource_types: Option<Vec<String>>,
    /// A namespace column (chosen by code from a fixed list).
    pub sort_key: &'static str,
    pub sort_desc: bool,
}

fn json_text(v: &impl serde::Serialize) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(format!("json: {e}")))
}

fn json_parse<T: serde::de::DeserializeOwned>(what: &str, s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

impl Store {
    fn namespace_from_row(r: &AnyRow) -> Result<Namespace> {
        Ok(Namespace {
            id: r.try_get("id")?,
            namespace: r.try_get("namespace")?,
            display_name: r.try_get("display_name")?,
            description: r.try_get("description")?,
            visibility: r.try_get("visibility")?,
            protected: r.try_get::<i64, _>("protected")? != 0,
            owner: r.try_get("owner")?,
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
        })
    }

    /// Adds a namespace; [`StoreError::Duplicate`] when the name is taken.
    pub async fn namespace_create(&self, ns: &Namespace) -> Result<()> {
        self.db
            .query(format!(
                "INSERT INTO image_metadef_namespace ({NS_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            ))
            .bind(ns.id.clone())
            .bind(ns.namespace.clone())
            .bind(ns.display_name.clone())
            .bind(ns.description.clone())
            .bind(ns.visibility.clone())
            .bind(b(ns.protected))
            .bind(ns.owner.clone())
            .bind(ns.created_at)
            .bind(ns.updated_at)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    pub async fn namespace_get(&self, name: &str) -> Result<Option<Namespace>> {
        let row = self
            .db
            .query(format!(
                "SELECT {NS_COLUMNS} FROM image_metadef_namespace WHERE namespace = ?"
            ))
            .bind(name.to_string())
            .fetch_optional(self.db.pool())
            .await?;
        row.as_ref().map(Self::namespace_from_row).transpose()
    }

    /// The namespaces `q` selects, sorted (ties broken by creation, then id).
    ///
    /// TODO-performance: pagination is applied by the caller; namespaces number in the
    /// tens on a real cloud (Glance ships about thirty).
    pub async fn namespace_list(&self, q: &NamespaceQuery) -> Result<Vec<Namespace>> {
        let mut sql = format!("SELECT {NS_COLUMNS} FROM image_metadef_namespace WHERE 1 = 1");
        let mut binds: Vec<String> = Vec::new();
        if !q.admin {
            match &q.project_id {
                Some(p) => {
                    sql.push_str(" AND (owner IS NULL OR visibility = 'public' OR owner = ?)");
                    binds.push(p.clone());
                }
                None => sql.push_str(" AND (owner IS NULL OR visibility = 'public')"),
            }
        }
        if let Some(v) = &q.visibility {
            sql.push_str(" AND visibility = ?");
            binds.push(v.clone());
        }
        if let Some(types) = &q.resource_types {
            if types.is_empty() {
                return Ok(Vec::new());
            }
            sql.push_str(&format!(
                " AND id IN (SELECT a.namespace_id FROM image_metadef_association a \
                 JOIN image_metadef_resource_type t ON t.id = a.resource_type_id WHERE t.name IN {})",
                super::placeholders(types.len())
            ));
            binds.extend(types.iter().cloned());
        }
        let dir = if q.sort_desc { "DESC" } else { "ASC" };
        sql.push_str(&format!(
            " ORDER BY {} {dir}, created_at {dir}, id {dir}",
            q.sort_key
        ));
        let mut query = self.db.query(sql);
        for v in binds {
            query = query.bind(v);
        }
        let rows = query.fetch_all(self.db.pool()).await?;
        rows.iter().map(Self::namespace_from_row).collect()
    }

    /// Saves a namespace's attributes (its name included). Returns false when it is gone;
    /// [`StoreError::Duplicate`] when the new name is taken.
    pub async fn namespace_update(&self, ns: &Namespace) -> Result<bool> {
        let n = self
            .db
            .query(
                "UPDATE image_metadef_namespace SET namespace = ?, display_name = ?, \
                 description = ?, visibility = ?, protected = ?, owner = ?, updated_at = ? \
                 WHERE id = ?",
            )
            .bind(ns.namespace.clone())
            .bind(ns.display_name.clone())
            .bind(ns.description.clone())
            .bind(ns.visibility.clone())
            .bind(b(ns.protected))
            .bind(ns.owner.clone())
            .bind(ns.updated_at)
            .bind(ns.id.clone())
            .execute(self.db.pool())
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// Removes a namespace with everything in it.
    pub async fn namespace_delete(&self, id: &str) -> Result<bool> {
        let mut tx = self.db.begin_write().await?;
        for table in [
            "image_metadef_object",
            "image_metadef_property",
            "image_metadef_tag",
            "image_metadef_association",
        ] {
            self.db
                .query(format!("DELETE FROM {table} WHERE namespace_id = ?"))
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
        }
        let n = self
            .db
            .query("DELETE FROM image_metadef_namespace WHERE id = ?")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n == 1)
    }

    /// Removes every object, property or tag (`kind`) of a namespace.
    pub async fn namespace_clear(&self, id: &str, kind: MetadefKind) -> Result<()> {
        self.db
            .query(format!(
                "DELETE FROM {} WHERE namespace_id = ?",
                kind.table()
            ))
            .bind(id.to_string())
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    // --- objects

    fn object_from_row(r: &AnyRow) -> Result<MetadefObject> {
        let required: Option<String> = r.try_get("required")?;
        let schema: String = r.try_get("json_schema")?;
        Ok(MetadefObject {
            id: r.try_get("id")?,
            namespace_id: r.try_get("namespace_id")?,
            name: r.try_get("name")?,
            description: r.try_get("description")?,
            required: required
                .map(|s| json_parse("object required", &s))
                .transpose()?,
            properties: json_parse::<Option<Map<String, Value>>>("object properties", &schema)?,
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
        })
    }

    pub async fn object_create(&self, o: &MetadefObject) -> Result<()> {
        self.db
            .query(
                "INSERT INTO image_metadef_object (id, namespace_id, name, description, required, \
                 json_schema, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(o.id.clone())
            .bind(o.namespace_id.clone())
            .bind(o.name.clone())
            .bind(o.description.clone())
            .bind(o.required.as_ref().map(json_text).transpose()?)
            .bind(json_text(&o.properties)?)
            .bind(o.created_at)
            .bind(o.updated_at)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    pub async fn object_get(
        &self,
        namespace_id: &str,
        name: &str,
    ) -> Result<Option<MetadefObject>> {
        let row = self
            .db
            .query("SELECT * FROM image_metadef_object WHERE namespace_id = ? AND name = ?")
            .bind(namespace_id.to_string())
            .bind(name.to_string())
            .fetch_optional(self.db.pool())
            .await?;
        row.as_ref().map(Self::object_from_row).transpose()
    }

    /// A namespace's objects, newest first (Glance's default order).
    pub async fn object_list(&self, namespace_id: &str) -> Result<Vec<MetadefObject>> {
        let rows = self
            .db
            .query(
                "SELECT * FROM image_metadef_object WHERE namespace_id = ? \
                 ORDER BY created_at DESC, id DESC",
            )
            .bind(namespace_id.to_string())
            .fetch_all(self.db.pool())
            .await?;
        rows.iter().map(Self::object_from_row).collect()
    }

    /// Saves an object (by id; its name may change).
    pub async fn object_update(&self, o: &MetadefObject) -> Result<bool> {
        let n = self
            .db
            .query(
                "UPDATE image_metadef_object SET name = ?, description = ?, required = ?, \
                 json_schema = ?, updated_at = ? WHERE id = ?",
            )
            .bind(o.name.clone())
            .bind(o.description.clone())
            .bind(o.required.as_ref().map(json_text).transpose()?)
            .bind(json_text(&o.properties)?)
            .bind(o.updated_at)
            .bind(o.id.clone())
            .execute(self.db.pool())
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// Removes one object, property or tag by id.
    pub async fn metadef_delete(&self, kind: MetadefKind, id: &str) -> Result<bool> {
        let n = self
            .db
            .query(format!("DELETE FROM {} WHERE id = ?", kind.table()))
            .bind(id.to_string())
            .execute(self.db.pool())
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    // --- properties

    fn property_from_row(r: &AnyRow) -> Result<MetadefProperty> {
        let schema: String = r.try_get("json_schema")?;
        Ok(MetadefProperty {
            id: r.try_get("id")?,
            namespace_id: r.try_get("namespace_id")?,
            name: r.try_get("name")?,
            schema: json_parse("property schema", &schema)?,
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
        })
    }

    pub async fn property_create(&self, p: &MetadefProperty) -> Result<()> {
        self.db
            .query(
                "INSERT INTO image_metadef_property (id, namespace_id, name, json_schema, \
                 created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(p.id.clone())
            .bind(p.namespace_id.clone())
            .bind(p.name.clone())
            .bind(json_text(&p.schema)?)
            .bind(p.created_at)
            .bind(p.updated_at)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    pub async fn property_get(
        &self,
        namespace_id: &str,
        name: &str,
    ) -> Result<Option<MetadefProperty>> {
        let row = self
            .db
            .query("SELECT * FROM image_metadef_property WHERE namespace_id = ? AND name = ?")
            .bind(namespace_id.to_string())
            .bind(name.to_string())
            .fetch_optional(self.db.pool())
            .await?;
        row.as_ref().map(Self::property_from_row).transpose()
    }

    pub async fn property_list(&self, namespace_id: &str) -> Result<Vec<MetadefProperty>> {
        let rows = self
            .db
            .query("SELECT * FROM image_metadef_property WHERE namespace_id = ? ORDER BY name")
            .bind(namespace_id.to_string())
            .fetch_all(self.db.pool())
            .await?;
        rows.iter().map(Self::property_from_row).collect()
    }

    pub async fn property_update(&self, p: &MetadefProperty) -> Result<bool> {
        let n = self
            .db
            .query(
                "UPDATE image_metadef_property SET name = ?, json_schema = ?, updated_at = ? \
                 WHERE id = ?",
            )
            .bind(p.name.clone())
            .bind(json_text(&p.schema)?)
            .bind(p.updated_at)
            .bind(p.id.clone())
            .execute(self.db.pool())
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    // --- tags

    fn tag_from_row(r: &AnyRow) -> Result<MetadefTag> {
        Ok(MetadefTag {
            id: r.try_get("id")?,
            namespace_id: r.try_get("namespace_id")?,
            name: r.try_get("name")?,
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
        })
    }

    /// Adds tags; with `replace`, the namespace's tags are removed first. All or nothing:
    /// [`StoreError::Duplicate`] when a name (in any case) is already there.
    pub async fn tags_create(
        &self,
        namespace_id: &str,
        tags: &[MetadefTag],
        replace: bool,
    ) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        if replace {
            self.db
                .query("DELETE FROM image_metadef_tag WHERE namespace_id = ?")
                .bind(namespace_id.to_string())
                .execute(&mut *tx)
                .await?;
        }
        for t in tags {
            self.db
                .query(
                    "INSERT INTO image_metadef_tag (id, namespace_id, name, name_key, created_at, \
                     updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                )
                .bind(t.id.clone())
                .bind(namespace_id.to_string())
                .bind(t.name.clone())
                .bind(t.name.to_lowercase())
                .bind(t.created_at)
                .bind(t.updated_at)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn tag_get(&self, namespace_id: &str, name: &str) -> Result<Option<MetadefTag>> {
        let row = self
            .db
            .query("SELECT * FROM image_metadef_tag WHERE namespace_id = ? AND name = ?")
            .bind(namespace_id.to_string())
            .bind(name.to_string())
            .fetch_optional(self.db.pool())
            .await?;
        row.as_ref().map(Self::tag_from_row).transpose()
    }

    /// A namespace's tags, oldest first.
    pub async fn tag_list(&self, namespace_id: &str) -> Result<Vec<MetadefTag>> {
        let rows = self
            .db
            .query(
                "SELECT * FROM image_metadef_tag WHERE namespace_id = ? ORDER BY created_at, name",
            )
            .bind(namespace_id.to_string())
            .fetch_all(self.db.pool())
            .await?;
        rows.iter().map(Self::tag_from_row).collect()
    }

    pub async fn tag_update(&self, t: &MetadefTag) -> Result<bool> {
        let n = self
            .db
            .query(
                "UPDATE image_metadef_tag SET name = ?, name_key = ?, updated_at = ? WHERE id = ?",
            )
            .bind(t.name.clone())
            .bind(t.name.to_lowercase())
            .bind(t.updated_at)
            .bind(t.id.clone())
            .execute(self.db.pool())
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    // --- resource types and associations

    fn resource_type_from_row(r: &AnyRow) -> Result<ResourceType> {
        Ok(ResourceType {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            protected: r.try_get::<i64, _>("protected")? != 0,
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
        })
    }

    /// Every resource type, seeded ones first.
    pub async fn resource_type_list(&self) -> Result<Vec<ResourceType>> {
        let rows = self
            .db
            .query("SELECT * FROM image_metadef_resource_type ORDER BY created_at, id")
            .fetch_all(self.db.pool())
            .await?;
        rows.iter().map(Self::resource_type_from_row).collect()
    }

    async fn resource_type_get(&self, name: &str) -> Result<Option<ResourceType>> {
        let row = self
            .db
            .query("SELECT * FROM image_metadef_resource_type WHERE name = ?")
            .bind(name.to_string())
            .fetch_optional(self.db.pool())
            .await?;
        row.as_ref().map(Self::resource_type_from_row).transpose()
    }

    /// Associates a namespace with a resource type, creating the type when it is new (as
    /// Glance does). [`StoreError::Duplicate`] when the association exists.
    pub async fn association_create(&self, a: &Association) -> Result<()> {
        let rt = match self.resource_type_get(&a.name).await? {
            Some(rt) => rt,
            None => {
                let rt = ResourceType {
                    id: uuid::Uuid::new_v4().to_string(),
                    name: a.name.clone(),
                    protected: false,
                    created_at: a.created_at,
                    updated_at: a.created_at,
                };
                let created = self
                    .db
                    .query(
                        "INSERT INTO image_metadef_resource_type (id, name, protected, created_at, \
                         updated_at) VALUES (?, ?, ?, ?, ?)",
                    )
                    .bind(rt.id.clone())
                    .bind(rt.name.clone())
                    .bind(0i64)
                    .bind(rt.created_at)
                    .bind(rt.updated_at)
                    .execute(self.db.pool())
                    .await;
                match created.map_err(StoreError::from) {
                    Ok(_) => rt,
                    // Created by a concurrent request: use theirs.
                    Err(StoreError::Duplicate) => self
                        .resource_type_get(&a.name)
                        .await?
                        .ok_or(StoreError::Duplicate)?,
                    Err(e) => return Err(e),
                }
            }
        };
        self.db
            .query(
                "INSERT INTO image_metadef_association (namespace_id, resource_type_id, prefix, \
                 properties_target, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(a.namespace_id.clone())
            .bind(rt.id)
            .bind(a.prefix.clone())
            .bind(a.properties_target.clone())
            .bind(a.created_at)
            .bind(a.updated_at)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// A namespace's associations, oldest first.
    pub async fn association_list(&self, namespace_id: &str) -> Result<Vec<Association>> {
        let rows = self
            .db
            .query(
                "SELECT a.namespace_id, t.name, a.prefix, a.properties_target, a.created_at, \
                 a.updated_at FROM image_metadef_association a JOIN image_metadef_resource_type t \
                 ON t.id = a.resource_type_id WHERE a.namespace_id = ? \
                 ORDER BY a.created_at, t.name",
            )
            .bind(namespace_id.to_string())
            .fetch_all(self.db.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Association {
                    namespace_id: r.try_get("namespace_id")?,
                    name: r.try_get("name")?,
                    prefix: r.try_get("prefix")?,
                    properties_target: r.try_get("properties_target")?,
                    created_at: r.try_get("created_at")?,
                    updated_at: r.try_get("updated_at")?,
                })
            })
            .collect()
    }

    /// Removes an association. Returns whether there was one.
    pub async fn association_delete(&self, namespace_id: &str, name: &str) -> Result<bool> {
        let n = self
            .db
            .query(
                "DELETE FROM image_metadef_association WHERE namespace_id = ? AND resource_type_id \
                 IN (SELECT id FROM image_metadef_resource_type WHERE name = ?)",
            )
            .bind(namespace_id.to_string())
            .bind(name.to_string())
            .execute(self.db.pool())
            .await?
            .rows_affected();
        Ok(n > 0)
    }
}

/// The kinds of definitions a namespace holds in their own tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadefKind {
    Object,
    Property,
    Tag,
}

impl MetadefKind {
    fn table(self) -> &'static str {
        match self {
            MetadefKind::Object => "image_metadef_object",
            MetadefKind::Property => "image_metadef_property",
            MetadefKind::Tag => "image_metadef_tag",
        }
    }
}
