//! Resource providers and what hangs off them: inventories, traits, aggregates; custom
//! resource classes and traits; the whole-cloud snapshot allocation candidates work on.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Attempt, Result, Store, StoreError, Tx, bump_generation, now, retrying};
use crate::model::{Inventory, Provider};

const PROVIDER_COLUMNS: &str = "uuid, name, generation, parent_uuid, root_uuid";
const INVENTORY_COLUMNS: &str = "provider_uuid, resource_class, total, reserved, min_unit, max_unit, step_size, allocation_ratio";

/// The SQL-side filters of a provider list (the rest is filtered by the logic layer).
#[derive(Debug, Default, Clone)]
pub struct ProviderFilter {
    pub name: Option<String>,
    pub uuid: Option<String>,
    /// Only providers whose root is this uuid.
    pub root_uuid: Option<String>,
}

/// Everything allocation candidates and filtered listings look at, read at once.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    pub providers: Vec<Provider>,
    pub inventories: HashMap<String, Vec<Inventory>>,
    /// provider → resource class → used.
    pub usages: HashMap<String, BTreeMap<String, i64>>,
    pub traits: HashMap<String, BTreeSet<String>>,
    pub aggregates: HashMap<String, BTreeSet<String>>,
}

fn provider_from_row(r: &AnyRow) -> Result<Provider> {
    Ok(Provider {
        uuid: r.try_get("uuid")?,
        name: r.try_get("name")?,
        generation: r.try_get("generation")?,
        parent_uuid: r.try_get("parent_uuid")?,
        root_uuid: r.try_get("root_uuid")?,
    })
}

fn inventory_from_row(r: &AnyRow) -> Result<Inventory> {
    Ok(Inventory {
        resource_class: r.try_get("resource_class")?,
        total: r.try_get("total")?,
        reserved: r.try_get("reserved")?,
        min_unit: r.try_get("min_unit")?,
        max_unit: r.try_get("max_unit")?,
        step_size: r.try_get("step_size")?,
        allocation_ratio: r.try_get("allocation_ratio")?,
    })
}

impl Store {
    pub async fn provider_create(&self, p: &Provider) -> Result<()> {
        let t = now();
        self.db
            .query(
                "INSERT INTO placement_provider (uuid, name, generation, parent_uuid, root_uuid, created_at, updated_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(p.uuid.clone())
            .bind(p.name.clone())
            .bind(p.generation)
            .bind(p.parent_uuid.clone())
            .bind(p.root_uuid.clone())
            .bind(t)
            .bind(t)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    pub async fn provider_get(&self, uuid: &str) -> Result<Option<Provider>> {
        let row = self
            .db
            .query(format!(
                "SELECT {PROVIDER_COLUMNS} FROM placement_provider WHERE uuid = ?"
            ))
            .bind(uuid.to_string())
            .fetch_optional(self.db.pool())
            .await?;
        row.as_ref().map(provider_from_row).transpose()
    }

    pub async fn provider_list(&self, f: &ProviderFilter) -> Result<Vec<Provider>> {
        let mut sql = format!("SELECT {PROVIDER_COLUMNS} FROM placement_provider WHERE 1 = 1");
        let mut binds = Vec::new();
        for (col, v) in [
            ("name", &f.name),
            ("uuid", &f.uuid),
            ("root_uuid", &f.root_uuid),
        ] {
            if let Some(v) = v {
                sql.push_str(&format!(" AND {col} = ?"));
                binds.push(v.clone());
            }
        }
        sql.push_str(" ORDER BY created_at, uuid");
        let mut q = self.db.query(sql);
        for b in binds {
            q = q.bind(b);
        }
        q.fetch_all(self.db.pool())
            .await?
            .iter()
            .map(provider_from_row)
            .collect()
    }

    /// Renames and/or re-parents a provider (the logic layer has checked the tree rules).
    pub async fn provider_update(
        &self,
        uuid: &str,
        name: &str,
        parent_uuid: Option<&str>,
        root_uuid: &str,
    ) -> Result<()> {
        self.db
            .query(
                "UPDATE placement_provider SET name = ?, parent_uuid = ?, root_uuid = ?, updated_at = ? WHERE uuid = ?",
            )
            .bind(name.to_string())
            .bind(parent_uuid.map(str::to_string))
            .bind(root_uuid.to_string())
            .bind(now())
            .bind(uuid.to_string())
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Deletes a provider with its inventories, traits and aggregates. Refused while it
    /// has allocations or children.
    pub async fn provider_delete(&self, uuid: &str) -> Result<()> {
        let db = self.db.clone();
        retrying!(db, "provider delete", |tx| {
            provider_delete_in_txn(&db, &mut tx, uuid).await
        })
    }

    // ---- inventories ----

    pub async fn inventory_list(&self, provider: &str) -> Result<Vec<Inventory>> {
        self.db
            .query(format!(
                "SELECT {INVENTORY_COLUMNS} FROM placement_inventory WHERE provider_uuid = ? ORDER BY resource_class"
            ))
            .bind(provider.to_string())
            .fetch_all(self.db.pool())
            .await?
            .iter()
            .map(inventory_from_row)
            .collect()
    }

    /// Replaces a provider's whole inventory if its generation is still `seen`; returns the
    /// new generation. A class that is removed while allocated, or shrunk below what is
    /// allocated, is `InUse`.
    pub async fn inventory_set(
        &self,
        provider: &str,
        seen: i64,
        inventories: &[Inventory],
    ) -> Result<i64> {
        let db = self.db.clone();
        let mut tx = db.begin_write().await?;
        let current = generation_in_txn(&db, &mut tx, provider).await?;
        if current != seen {
            return Err(conflict(provider));
        }
        let usage: BTreeMap<String, i64> = db
            .query_as::<(String, i64)>(format!(
                "SELECT resource_class, {} FROM placement_allocation WHERE provider_uuid = ? \
                 GROUP BY resource_class",
                db.sum_i64("used")
            ))
            .bind(provider.to_string())
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .collect();
        let mut problems = Vec::new();
        for (rc, used) in &usage {
            match inventories.iter().find(|i| &i.resource_class == rc) {
                None => problems.push(format!(
                    "There are allocations for {rc} on resource provider {provider}, so its inventory cannot be removed"
                )),
                Some(i) if i.capacity() < *used => problems.push(format!(
                    "Inventory for {rc} on resource provider {provider} would be smaller than the {used} already allocated"
                )),
                Some(_) => {}
            }
        }
        if !problems.is_empty() {
            return Err(StoreError::InUse(problems.join("; ")));
        }
        db.query("DELETE FROM placement_inventory WHERE provider_uuid = ?")
            .bind(provider.to_string())
            .execute(&mut *tx)
            .await?;
        for i in inventories {
            db.query(format!(
                "INSERT INTO placement_inventory ({INVENTORY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            ))
            .bind(provider.to_string())
            .bind(i.resource_class.clone())
            .bind(i.total)
            .bind(i.reserved)
            .bind(i.min_unit)
            .bind(i.max_unit)
            .bind(i.step_size)
            .bind(i.allocation_ratio)
            .execute(&mut *tx)
            .await?;
        }
        if !bump_generation(&db, &mut tx, provider, seen).await? {
            return Err(conflict(provider));
        }
        tx.commit().await?;
        Ok(seen + 1)
    }

    // ---- traits ----

    pub async fn custom_trait_list(&self) -> Result<Vec<String>> {
        Ok(self
            .db
            .query_scalar("SELECT name FROM placement_trait ORDER BY name")
            .fetch_all(self.db.pool())
            .await?)
    }

    pub async fn custom_trait_exists(&self, name: &str) -> Result<bool> {
        let n: i64 = self
            .db
            .query_scalar("SELECT COUNT(*) FROM placement_trait WHERE name = ?")
            .bind(name.to_string())
            .fetch_one(self.db.pool())
            .await?;
        Ok(n > 0)
    }

    /// Creates a custom trait; `Duplicate` when it exists.
    pub async fn custom_trait_create(&self, name: &str) -> Result<()> {
        self.db
            .query("INSERT INTO placement_trait (name, created_at) VALUES (?, ?)")
            .bind(name.to_string())
            .bind(now())
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Deletes a custom trait; `InUse` while a provider has it, `NotFound` when absent.
    pub async fn custom_trait_delete(&self, name: &str) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        let users: i64 = self
            .db
            .query_scalar("SELECT COUNT(*) FROM placement_provider_trait WHERE trait = ?")
            .bind(name.to_string())
            .fetch_one(&mut *tx)
            .await?;
        if users > 0 {
            return Err(StoreError::InUse(format!(
                "The trait {name} is in use by a resource provider."
            )));
        }
        let done = self
            .db
            .query("DELETE FROM placement_trait WHERE name = ?")
            .bind(name.to_string())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(name.to_string()));
        }
        tx.commit().await?;
        Ok(())
    }

    /// Traits in use by any provider (for `GET /traits?associated=`).
    pub async fn associated_traits(&self) -> Result<BTreeSet<String>> {
        let v: Vec<String> = self
            .db
            .query_scalar("SELECT DISTINCT trait FROM placement_provider_trait")
            .fetch_all(self.db.pool())
            .await?;
        Ok(v.into_iter().collect())
    }

    pub async fn provider_traits(&self, provider: &str) -> Result<Vec<String>> {
        Ok(self
            .db
            .query_scalar(
                "SELECT trait FROM placement_provider_trait WHERE provider_uuid = ? ORDER BY trait",
            )
            .bind(provider.to_string())
            .fetch_all(self.db.pool())
            .await?)
    }

    /// Replaces a provider's traits if its generation is still `seen`; the new generation.
    pub async fn provider_traits_set(
        &self,
        provider: &str,
        seen: i64,
        traits: &[String],
    ) -> Result<i64> {
        let db = &self.db;
        let mut tx = db.begin_write().await?;
        let current = generation_in_txn(db, &mut tx, provider).await?;
        if current != seen {
            return Err(conflict(provider));
        }
        db.query("DELETE FROM placement_provider_trait WHERE provider_uuid = ?")
            .bind(provider.to_string())
            .execute(&mut *tx)
            .await?;
        for t in traits.iter().collect::<BTreeSet<_>>() {
            db.query("INSERT INTO placement_provider_trait (provider_uuid, trait) VALUES (?, ?)")
                .bind(provider.to_string())
                .bind(t.clone())
                .execute(&mut *tx)
                .await?;
        }
        if !bump_generation(db, &mut tx, provider, seen).await? {
            return Err(conflict(provider));
        }
        tx.commit().await?;
        Ok(seen + 1)
    }

    // ---- aggregates ----

    pub async fn provider_aggregates(&self, provider: &str) -> Result<Vec<String>> {
        Ok(self
            .db
            .query_scalar(
                "SELECT aggregate_uuid FROM placement_provider_aggregate WHERE provider_uuid = ? ORDER BY aggregate_uuid",
            )
            .bind(provider.to_string())
            .fetch_all(self.db.pool())
            .await?)
    }

    /// Replaces a provider's aggregates. With `seen` (1.19+), only if the generation is
    /// still `seen`, and the generation is bumped; returns the generation after.
    pub async fn provider_aggregates_set(
        &self,
        provider: &str,
        seen: Option<i64>,
        aggregates: &[String],
    ) -> Result<i64> {
        let db = &self.db;
        let mut tx = db.begin_write().await?;
        let current = generation_in_txn(db, &mut tx, provider).await?;
        if seen.is_some_and(|s| s != current) {
            return Err(conflict(provider));
        }
        db.query("DELETE FROM placement_provider_aggregate WHERE provider_uuid = ?")
            .bind(provider.to_string())
            .execute(&mut *tx)
            .await?;
        for a in aggregates.iter().collect::<BTreeSet<_>>() {
            db.query(
                "INSERT INTO placement_provider_aggregate (provider_uuid, aggregate_uuid) VALUES (?, ?)",
            )
            .bind(provider.to_string())
            .bind(a.clone())
            .execute(&mut *tx)
            .await?;
        }
        let mut generation = current;
        if let Some(s) = seen {
            if !bump_generation(db, &mut tx, provider, s).await? {
                return Err(conflict(provider));
            }
            generation += 1;
        }
        tx.commit().await?;
        Ok(generation)
    }

    // ---- resource classes ----

    pub async fn custom_class_list(&self) -> Result<Vec<String>> {
        Ok(self
            .db
            .query_scalar("SELECT name FROM placement_resource_class ORDER BY created_at, name")
            .fetch_all(self.db.pool())
            .await?)
    }

    pub async fn custom_class_exists(&self, name: &str) -> Result<bool> {
        let n: i64 = self
            .db
            .query_scalar("SELECT COUNT(*) FROM placement_resource_class WHERE name = ?")
            .bind(name.to_string())
            .fetch_one(self.db.pool())
            .await?;
        Ok(n > 0)
    }

    pub async fn custom_class_create(&self, name: &str) -> Result<()> {
        self.db
            .query("INSERT INTO placement_resource_class (name, created_at) VALUES (?, ?)")
            .bind(name.to_string())
            .bind(now())
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Deletes a custom class; `InUse` while any inventory or allocation names it.
    pub async fn custom_class_delete(&self, name: &str) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        let mut users = 0i64;
        for sql in [
            "SELECT COUNT(*) FROM placement_inventory WHERE resource_class = ?",
            "SELECT COUNT(*) FROM placement_allocation WHERE resource_class = ?",
        ] {
            let n: i64 = self
                .db
                .query_scalar(sql)
                .bind(name.to_string())
                .fetch_one(&mut *tx)
                .await?;
            users += n;
        }
        if users > 0 {
            return Err(StoreError::InUse(format!(
                "Unable to delete resource class {name}. The resource class is in use in inventory."
            )));
        }
        let done = self
            .db
            .query("DELETE FROM placement_resource_class WHERE name = ?")
            .bind(name.to_string())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(name.to_string()));
        }
        tx.commit().await?;
        Ok(())
    }

    // ---- the snapshot ----

    /// Every provider with its inventories, usages, traits and aggregates.
    // TODO-performance: reads the whole cloud; fine for thousands of providers, not for
    // hundreds of thousands (placement pushes the resource filters into SQL).
    pub async fn snapshot(&self) -> Result<Snapshot> {
        let mut tx = self.db.pool().begin().await?;
        let providers = self
            .db
            .query(format!(
                "SELECT {PROVIDER_COLUMNS} FROM placement_provider ORDER BY created_at, uuid"
            ))
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(provider_from_row)
            .collect::<Result<Vec<_>>>()?;
        let mut snap = Snapshot {
            providers,
            ..Default::default()
        };
        for r in self
            .db
            .query(format!(
                "SELECT {INVENTORY_COLUMNS} FROM placement_inventory ORDER BY resource_class"
            ))
            .fetch_all(&mut *tx)
            .await?
        {
            let p: String = r.try_get("provider_uuid")?;
            snap.inventories
                .entry(p)
                .or_default()
                .push(inventory_from_row(&r)?);
        }
        // Summed by the database: one row per provider and class, not one per allocation.
        let rows: Vec<(String, String, i64)> = self
            .db
            .query_as(format!(
                "SELECT provider_uuid, resource_class, {} FROM placement_allocation \
                 GROUP BY provider_uuid, resource_class",
                self.db.sum_i64("used")
            ))
            .fetch_all(&mut *tx)
            .await?;
        for (p, rc, used) in rows {
            snap.usages.entry(p).or_default().insert(rc, used);
        }
        let rows: Vec<(String, String)> = self
            .db
            .query_as("SELECT provider_uuid, trait FROM placement_provider_trait")
            .fetch_all(&mut *tx)
            .await?;
        for (p, t) in rows {
            snap.traits.entry(p).or_default().insert(t);
        }
        let rows: Vec<(String, String)> = self
            .db
            .query_as("SELECT provider_uuid, aggregate_uuid FROM placement_provider_aggregate")
            .fetch_all(&mut *tx)
            .await?;
        for (p, a) in rows {
            snap.aggregates.entry(p).or_default().insert(a);
        }
        tx.commit().await?;
        Ok(snap)
    }
}

fn conflict(provider: &str) -> StoreError {
    StoreError::Conflict(format!(
        "resource provider generation conflict: resource provider {provider} was changed by another request"
    ))
}

/// The generation of `provider` inside `tx`, or `NotFound`.
pub(super) async fn generation_in_txn(
    db: &oxstack_common::db::Db,
    tx: &mut Tx,
    provider: &str,
) -> Result<i64> {
    db.query_scalar::<i64>("SELECT generation FROM placement_provider WHERE uuid = ?")
        .bind(provider.to_string())
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(provider.to_string()))
}

async fn provider_delete_in_txn(
    db: &oxstack_common::db::Db,
    tx: &mut Tx,
    uuid: &str,
) -> Result<Attempt<()>> {
    let seen = generation_in_txn(db, tx, uuid).await?;
    let children: i64 = db
        .query_scalar("SELECT COUNT(*) FROM placement_provider WHERE parent_uuid = ?")
        .bind(uuid.to_string())
        .fetch_one(&mut **tx)
        .await?;
    if children > 0 {
        return Err(StoreError::HasChildren(format!(
            "Unable to delete parent resource provider {uuid}: It has child resource providers."
        )));
    }
    let allocs: i64 = db
        .query_scalar("SELECT COUNT(*) FROM placement_allocation WHERE provider_uuid = ?")
        .bind(uuid.to_string())
        .fetch_one(&mut **tx)
        .await?;
    if allocs > 0 {
        return Err(StoreError::InUse(format!(
            "Unable to delete resource provider {uuid}: Resource provider has allocations."
        )));
    }
    // The compare-and-swap orders this delete against a racing claim on the provider.
    if !bump_generation(db, tx, uuid, seen).await? {
        return Ok(Attempt::Retry);
    }
    for table in [
        "placement_inventory",
        "placement_provider_trait",
        "placement_provider_aggregate",
    ] {
        db.query(format!("DELETE FROM {table} WHERE provider_uuid = ?"))
            .bind(uuid.to_string())
            .execute(&mut **tx)
            .await?;
    }
    db.query("DELETE FROM placement_provider WHERE uuid = ?")
        .bind(uuid.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(Attempt::Done(()))
}
