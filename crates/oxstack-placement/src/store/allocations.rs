//! Consumers and allocations: the claims.
//!
//! A claim is atomic. [`Store::allocations_replace`] runs, in ONE write transaction: read the
//! generation of every provider involved, then its inventory and what others already use
//! of it; check capacity `(total - reserved) * allocation_ratio`, min/max unit and step
//! size; check the consumer generation; replace the consumers' allocations; and finally bump
//! every involved provider's generation with a compare-and-swap. If any swap finds a
//! newer generation, another claim committed in between: the transaction is rolled back and
//! the whole attempt re-run on fresh data (up to [`super::WRITE_RETRIES`] times).
//!
//! Why this is safe on every engine: on SQLite `BEGIN IMMEDIATE` serializes writers. On
//! MariaDB (REPEATABLE READ) the reads come from one snapshot while the `UPDATE ... WHERE
//! generation = ?` reads the latest committed row under a row lock, so a claim that read
//! stale usage cannot swap. On PostgreSQL (READ COMMITTED) the generation is read before the
//! usage, so the usage is at least as new as the generation; the swap blocks on a
//! concurrent writer's row lock and re-checks the generation after it commits.

use std::collections::{BTreeMap, BTreeSet};

use sqlx::Row;

use super::{Attempt, Result, Store, StoreError, Tx, bump_generation, now, retrying};
use crate::model::{Allocation, Consumer, Inventory};

/// The new allocations of one consumer (replacing all it had).
#[derive(Debug, Clone)]
pub struct ConsumerWrite {
    pub consumer_uuid: String,
    pub project_id: String,
    pub user_id: String,
    /// From 1.28: `Some(None)` expects a new consumer, `Some(Some(g))` the consumer at
    /// generation `g`. `None`: no check (older microversions).
    pub expected_generation: Option<Option<i64>>,
    /// `(provider uuid, resource class, amount)`; empty removes the consumer.
    pub allocations: Vec<(String, String, i64)>,
}

impl Store {
    /// Atomically replaces the allocations of every consumer in `writes` (see the module
    /// docs).
    pub async fn allocations_replace(&self, writes: &[ConsumerWrite]) -> Result<()> {
        let db = self.db.clone();
        retrying!(db, "allocations", |tx| {
            replace_in_txn(&db, &mut tx, writes).await
        })
    }

    pub async fn consumer_get(&self, uuid: &str) -> Result<Option<Consumer>> {
        let row = self
            .db
            .query("SELECT uuid, project_id, user_id, generation FROM placement_consumer WHERE uuid = ?")
            .bind(uuid.to_string())
            .fetch_optional(self.db.pool())
            .await?;
        Ok(match row {
            Some(r) => Some(Consumer {
                uuid: r.try_get("uuid")?,
                project_id: r.try_get("project_id")?,
                user_id: r.try_get("user_id")?,
                generation: r.try_get("generation")?,
            }),
            None => None,
        })
    }

    /// A consumer's allocations with each provider's generation.
    pub async fn allocations_for_consumer(&self, uuid: &str) -> Result<Vec<(Allocation, i64)>> {
        let rows = self
            .db
            .query(
                "SELECT a.consumer_uuid, a.provider_uuid, a.resource_class, a.used, p.generation \
                 FROM placement_allocation a JOIN placement_provider p ON p.uuid = a.provider_uuid \
                 WHERE a.consumer_uuid = ? ORDER BY a.provider_uuid, a.resource_class",
            )
            .bind(uuid.to_string())
            .fetch_all(self.db.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    Allocation {
                        consumer_uuid: r.try_get("consumer_uuid")?,
                        provider_uuid: r.try_get("provider_uuid")?,
                        resource_class: r.try_get("resource_class")?,
                        used: r.try_get("used")?,
                    },
                    r.try_get("generation")?,
                ))
            })
            .collect()
    }

    pub async fn allocations_for_provider(&self, provider: &str) -> Result<Vec<Allocation>> {
        let rows: Vec<(String, String, i64)> = self
            .db
            .query_as(
                "SELECT consumer_uuid, resource_class, used FROM placement_allocation \
                 WHERE provider_uuid = ? ORDER BY consumer_uuid, resource_class",
            )
            .bind(provider.to_string())
            .fetch_all(self.db.pool())
            .await?;
        Ok(rows
            .into_iter()
            .map(|(c, rc, used)| Allocation {
                consumer_uuid: c,
                provider_uuid: provider.to_string(),
                resource_class: rc,
                used,
            })
            .collect())
    }

    /// What is allocated from one provider, per resource class.
    pub async fn usages_for_provider(&self, provider: &str) -> Result<BTreeMap<String, i64>> {
        let rows: Vec<(String, i64)> = self
            .db
            .query_as(format!(
                "SELECT resource_class, {} FROM placement_allocation WHERE provider_uuid = ? \
                 GROUP BY resource_class",
                self.db.sum_i64("used")
            ))
            .bind(provider.to_string())
            .fetch_all(self.db.pool())
            .await?;
        Ok(rows.into_iter().collect())
    }

    /// What a project (and optionally one of its users) uses, per resource class.
    pub async fn usages_for_project(
        &self,
        project_id: &str,
        user_id: Option<&str>,
    ) -> Result<BTreeMap<String, i64>> {
        let mut sql = format!(
            "SELECT a.resource_class, {} FROM placement_allocation a \
             JOIN placement_consumer c ON c.uuid = a.consumer_uuid WHERE c.project_id = ?",
            self.db.sum_i64("a.used")
        );
        if user_id.is_some() {
            sql.push_str(" AND c.user_id = ?");
        }
        sql.push_str(" GROUP BY a.resource_class");
        let mut q = self
            .db
            .query_as::<(String, i64)>(sql)
            .bind(project_id.to_string());
        if let Some(u) = user_id {
            q = q.bind(u.to_string());
        }
        Ok(q.fetch_all(self.db.pool()).await?.into_iter().collect())
    }
}

/// One attempt of [`Store::allocations_replace`].
async fn replace_in_txn(
    db: &oxstack_common::db::Db,
    tx: &mut Tx,
    writes: &[ConsumerWrite],
) -> Result<Attempt<()>> {
    let consumers: Vec<&str> = writes.iter().map(|w| w.consumer_uuid.as_str()).collect();
    let placeholders = vec!["?"; consumers.len()].join(", ");

    // Providers the consumers use now (their generations change too: usage moves).
    let mut q = db.query_scalar::<String>(format!(
        "SELECT DISTINCT provider_uuid FROM placement_allocation WHERE consumer_uuid IN ({placeholders})"
    ));
    for c in &consumers {
        q = q.bind(c.to_string());
    }
    let old_providers: BTreeSet<String> = q.fetch_all(&mut **tx).await?.into_iter().collect();

    // What each provider is asked for, summed over the consumers.
    let mut wanted: BTreeMap<&str, BTreeMap<&str, i64>> = BTreeMap::new();
    for w in writes {
        for (p, rc, used) in &w.allocations {
            *wanted
                .entry(p.as_str())
                .or_default()
                .entry(rc.as_str())
                .or_insert(0) += used;
        }
    }
    let involved: BTreeSet<&str> = old_providers
        .iter()
        .map(String::as_str)
        .chain(wanted.keys().copied())
        .collect();

    // 1. Generations first (see the module docs for why the order matters).
    let mut seen = BTreeMap::new();
    for p in &involved {
        let g: Option<i64> = db
            .query_scalar("SELECT generation FROM placement_provider WHERE uuid = ?")
            .bind(p.to_string())
            .fetch_optional(&mut **tx)
            .await?;
        match g {
            Some(g) => {
                seen.insert(*p, g);
            }
            None if wanted.contains_key(p) => {
                return Err(StoreError::Invalid(format!(
                    "Allocation for resource provider '{p}' that does not exist."
                )));
            }
            None => {}
        }
    }

    // 2. Consumer generations.
    let mut current_consumers = BTreeMap::new();
    for w in writes {
        let g: Option<i64> = db
            .query_scalar("SELECT generation FROM placement_consumer WHERE uuid = ?")
            .bind(w.consumer_uuid.clone())
            .fetch_optional(&mut **tx)
            .await?;
        if let Some(expected) = w.expected_generation
            && expected != g
        {
            let show = |g: Option<i64>| g.map_or("None".to_string(), |g| g.to_string());
            return Err(StoreError::Conflict(format!(
                "consumer generation conflict - expected {} but got {}",
                show(expected),
                show(g)
            )));
        }
        current_consumers.insert(w.consumer_uuid.as_str(), g);
    }

    // 3. Capacity, on the usage of everyone else.
    for (p, classes) in &wanted {
        let inventories: Vec<Inventory> = db
            .query(
                "SELECT resource_class, total, reserved, min_unit, max_unit, step_size, allocation_ratio \
                 FROM placement_inventory WHERE provider_uuid = ?",
            )
            .bind(p.to_string())
            .fetch_all(&mut **tx)
            .await?
            .iter()
            .map(|r| {
                Ok(Inventory {
                    resource_class: r.try_get("resource_class")?,
                    total: r.try_get("total")?,
                    reserved: r.try_get("reserved")?,
                    min_unit: r.try_get("min_unit")?,
                    max_unit: r.try_get("max_unit")?,
                    step_size: r.try_get("step_size")?,
                    allocation_ratio: r.try_get("allocation_ratio")?,
                })
            })
            .collect::<Result<_>>()?;
        // Everyone else's usage: the provider's total, summed by the database from an index
        // alone (a provider may hold tens of thousands of allocations), less what these
        // consumers hold there now (found by the primary key).
        let mut others: BTreeMap<String, i64> = db
            .query_as::<(String, i64)>(format!(
                "SELECT resource_class, {} FROM placement_allocation WHERE provider_uuid = ? \
                 GROUP BY resource_class",
                db.sum_i64("used")
            ))
            .bind(p.to_string())
            .fetch_all(&mut **tx)
            .await?
            .into_iter()
            .collect();
        let mut q = db.query_as::<(String, i64)>(format!(
            "SELECT resource_class, used FROM placement_allocation \
             WHERE consumer_uuid IN ({placeholders}) AND provider_uuid = ?"
        ));
        for c in &consumers {
            q = q.bind(c.to_string());
        }
        for (rc, used) in q.bind(p.to_string()).fetch_all(&mut **tx).await? {
            *others.entry(rc).or_insert(0) -= used;
        }
        for (rc, amount) in classes {
            let Some(inv) = inventories.iter().find(|i| i.resource_class == *rc) else {
                return Err(StoreError::Capacity(format!(
                    "Inventory for '{rc}' on resource provider '{p}' invalid."
                )));
            };
            // Each consumer's amount must respect the unit constraints on its own.
            for w in writes {
                for (wp, wrc, used) in &w.allocations {
                    if wp == p
                        && wrc == rc
                        && (*used < inv.min_unit
                            || *used > inv.max_unit
                            || inv.step_size <= 0
                            || used % inv.step_size != 0)
                    {
                        return Err(StoreError::Capacity(format!(
                            "Unable to create allocation for '{rc}' on resource provider '{p}'. The requested amount would violate inventory constraints."
                        )));
                    }
                }
            }
            let used_by_others = others.get(*rc).copied().unwrap_or(0);
            if used_by_others + amount > inv.capacity() {
                return Err(StoreError::Capacity(format!(
                    "Unable to create allocation for '{rc}' on resource provider '{p}'. The requested amount would exceed the capacity."
                )));
            }
        }
    }

    // 4. Replace the allocations and the consumers.
    let mut q = db.query(format!(
        "DELETE FROM placement_allocation WHERE consumer_uuid IN ({placeholders})"
    ));
    for c in &consumers {
        q = q.bind(c.to_string());
    }
    q.execute(&mut **tx).await?;
    let t = now();
    for w in writes {
        let mut merged: BTreeMap<(&str, &str), i64> = BTreeMap::new();
        for (p, rc, used) in &w.allocations {
            *merged.entry((p.as_str(), rc.as_str())).or_insert(0) += used;
        }
        for ((p, rc), used) in merged {
            db.query(
                "INSERT INTO placement_allocation (consumer_uuid, provider_uuid, resource_class, used) VALUES (?, ?, ?, ?)",
            )
            .bind(w.consumer_uuid.clone())
            .bind(p.to_string())
            .bind(rc.to_string())
            .bind(used)
            .execute(&mut **tx)
            .await?;
        }
        let current = current_consumers
            .get(w.consumer_uuid.as_str())
            .copied()
            .flatten();
        match (current, w.allocations.is_empty()) {
            // A consumer without allocations is no consumer (placement deletes it).
            (Some(g), true) => {
                let done = db
                    .query("DELETE FROM placement_consumer WHERE uuid = ? AND generation = ?")
                    .bind(w.consumer_uuid.clone())
                    .bind(g)
                    .execute(&mut **tx)
                    .await?;
                if done.rows_affected() != 1 {
                    return Ok(Attempt::Retry);
                }
            }
            (None, true) => {}
            (Some(g), false) => {
                let done = db
                    .query(
                        "UPDATE placement_consumer SET project_id = ?, user_id = ?, generation = generation + 1, updated_at = ? \
                         WHERE uuid = ? AND generation = ?",
                    )
                    .bind(w.project_id.clone())
                    .bind(w.user_id.clone())
                    .bind(t)
                    .bind(w.consumer_uuid.clone())
                    .bind(g)
                    .execute(&mut **tx)
                    .await?;
                if done.rows_affected() != 1 {
                    return Ok(Attempt::Retry);
                }
            }
            (None, false) => {
                let r = db
                    .query(
                        "INSERT INTO placement_consumer (uuid, project_id, user_id, generation, created_at, updated_at) \
                         VALUES (?, ?, ?, 0, ?, ?)",
                    )
                    .bind(w.consumer_uuid.clone())
                    .bind(w.project_id.clone())
                    .bind(w.user_id.clone())
                    .bind(t)
                    .bind(t)
                    .execute(&mut **tx)
                    .await;
                match r {
                    Ok(_) => {}
                    // A racing request created it: re-run, and the generation check decides.
                    Err(e) if oxstack_common::db::Db::is_unique_violation(&e) => {
                        return Ok(Attempt::Retry);
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }

    // 5. Swap every involved provider's generation, in a fixed order (no deadlocks).
    for (p, g) in &seen {
        if !bump_generation(db, tx, p, *g).await? {
            return Ok(Attempt::Retry);
        }
    }
    Ok(Attempt::Done(()))
}
