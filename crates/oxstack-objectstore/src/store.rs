//! The listing database: accounts, containers and objects with their metadata (SQL through
//! the shared [`Db`] seam). Object bytes live in [`crate::data`]; a row names its data by
//! `data_key`. Holds no HTTP types.
//!
//! Container and account statistics are aggregates over the object rows, so they are right
//! under any interleaving of PUTs and DELETEs.
//!
//! Names (accounts, containers, objects) are byte strings, as in Swift: their columns have
//! the engine's binary collation (`{bin}`, migration 2), so on every engine they are unique
//! case-sensitively and listings, markers and prefixes follow UTF-8 byte order, which is
//! code point order and Rust's `str` order. Object rows are keyed by a digest of the full path.
//! TODO-performance: statistics are computed per request; keep running counters when
//! listings of large accounts get slow.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use futures_util::TryStreamExt as _;
use oxstack_common::db::{Db, Engine, Migration};
use sqlx::any::AnyRow;
use sqlx::pool::PoolConnection;
use sqlx::{Any, Row, Transaction};
use tokio::sync::{mpsc, oneshot};

/// Metadata as lowercase header names to values.
pub type Meta = BTreeMap<String, String>;

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial object storage schema",
        sql: r#"
CREATE TABLE objstore_account (
    account VARCHAR(255) NOT NULL PRIMARY KEY,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    meta {longtext} NOT NULL
);
CREATE TABLE objstore_container (
    account VARCHAR(255) NOT NULL,
    name VARCHAR(256) NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    meta {longtext} NOT NULL,
    PRIMARY KEY (account, name)
);
CREATE TABLE objstore_object (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    account VARCHAR(255) NOT NULL,
    container VARCHAR(256) NOT NULL,
    name VARCHAR(1024) NOT NULL,
    size BIGINT NOT NULL,
    etag VARCHAR(64) NOT NULL,
    content_type VARCHAR(1024) NOT NULL,
    created_at BIGINT NOT NULL,
    delete_at BIGINT,
    data_key VARCHAR(64) NOT NULL,
    meta {longtext} NOT NULL
);
CREATE INDEX objstore_object_container ON objstore_object (account, container);
CREATE INDEX objstore_object_delete_at ON objstore_object (delete_at);
"#,
    },
    // Swift's names are byte strings: unique case-sensitively and listed, bounded by markers
    // and matched by prefix in UTF-8 byte order. Version 1 left that to the default collation,
    // which is case-insensitive on MariaDB (`A` and `a` were one container) and linguistic on
    // PostgreSQL. Each table is rebuilt with `{bin}` name columns, its rows copied: portable
    // SQL cannot alter a column's collation. On PostgreSQL the primary keys keep the build
    // names (`objstore_*_v2_pkey`). MariaDB commits each statement, so a failure part-way
    // needs a hand to finish; every row is in the old or the new table at every step.
    Migration {
        version: 2,
        name: "names compare by bytes",
        sql: r#"
CREATE TABLE objstore_account_v2 (
    account VARCHAR(255) {bin} NOT NULL PRIMARY KEY,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    meta {longtext} NOT NULL
);
INSERT INTO objstore_account_v2 (account, created_at, updated_at, meta)
    SELECT account, created_at, updated_at, meta FROM objstore_account;
DROP TABLE objstore_account;
ALTER TABLE objstore_account_v2 RENAME TO objstore_account;
CREATE TABLE objstore_container_v2 (
    account VARCHAR(255) {bin} NOT NULL,
    name VARCHAR(256) {bin} NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    meta {longtext} NOT NULL,
    PRIMARY KEY (account, name)
);
INSERT INTO objstore_container_v2 (account, name, created_at, updated_at, meta)
    SELECT account, name, created_at, updated_at, meta FROM objstore_container;
DROP TABLE objstore_container;
ALTER TABLE objstore_container_v2 RENAME TO objstore_container;
CREATE TABLE objstore_object_v2 (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    account VARCHAR(255) {bin} NOT NULL,
    container VARCHAR(256) {bin} NOT NULL,
    name VARCHAR(1024) {bin} NOT NULL,
    size BIGINT NOT NULL,
    etag VARCHAR(64) NOT NULL,
    content_type VARCHAR(1024) NOT NULL,
    created_at BIGINT NOT NULL,
    delete_at BIGINT,
    data_key VARCHAR(64) NOT NULL,
    meta {longtext} NOT NULL
);
INSERT INTO objstore_object_v2 (id, account, container, name, size, etag, content_type,
        created_at, delete_at, data_key, meta)
    SELECT id, account, container, name, size, etag, content_type,
        created_at, delete_at, data_key, meta FROM objstore_object;
DROP TABLE objstore_object;
ALTER TABLE objstore_object_v2 RENAME TO objstore_object;
CREATE INDEX objstore_object_container ON objstore_object (account, container);
CREATE INDEX objstore_object_delete_at ON objstore_object (delete_at);
"#,
    },
];

/// What the store can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database failure")]
    Sql(#[from] sqlx::Error),
    #[error("stored metadata is corrupt")]
    Corrupt(#[source] serde_json::Error),
    #[error("the object row writer stopped")]
    WriterGone,
}

impl From<StoreError> for oxstack_common::Error {
    fn from(e: StoreError) -> Self {
        oxstack_common::Error::internal("object store database", e)
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// An account's own row (accounts exist implicitly; the row holds metadata).
#[derive(Debug, Clone, Default)]
pub struct Account {
    pub created_at: i64,
    pub meta: Meta,
}

#[derive(Debug, Clone)]
pub struct Container {
    pub account: String,
    pub name: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub meta: Meta,
}

/// One object's listing entry and metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub account: String,
    pub container: String,
    pub name: String,
    pub size: i64,
    pub etag: String,
    pub content_type: String,
    pub created_at: i64,
    pub delete_at: Option<i64>,
    pub data_key: String,
    pub meta: Meta,
}

/// An object as a container listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectEntry {
    pub name: String,
    pub size: i64,
    pub etag: String,
    pub content_type: String,
    pub created_at: i64,
    /// The object's system metadata (`x-object-sysmeta-*`: a symlink's target), which
    /// listings show; empty for most objects.
    pub sysmeta: Meta,
}

/// Count and bytes of a container or account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub count: i64,
    pub bytes: i64,
}

/// A listing page's bounds.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub marker: Option<String>,
    pub end_marker: Option<String>,
    pub prefix: Option<String>,
    pub limit: u32,
    pub reverse: bool,
}

/// What deleting a container found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerDelete {
    Deleted,
    NotFound,
    NotEmpty,
}

/// The first string after every string starting with `prefix` (byte order, which is code
/// point order): the prefix with its last character incremented, skipping the surrogates;
/// a last U+10FFFF has no successor and is dropped.
fn prefix_upper(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(c) = chars.pop() {
        let next = match c {
            '\u{D7FF}' => Some('\u{E000}'),
            c => char::from_u32(c as u32 + 1),
        };
        if let Some(n) = next {
            chars.push(n);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

fn meta_json(m: &Meta) -> String {
    serde_json::to_string(m).unwrap_or_else(|_| "{}".into())
}

fn meta_parse(s: &str) -> Result<Meta> {
    serde_json::from_str(s).map_err(StoreError::Corrupt)
}

/// The row id of an object: a digest of its full path (names are too long to be keys).
fn object_id(account: &str, container: &str, name: &str) -> String {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    for part in [account, container, name] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    hex::encode(h.finalize())
}

const OBJ_COLUMNS: &str =
    "account, container, name, size, etag, content_type, created_at, delete_at, data_key, meta";
const ENTRY_COLUMNS: &str = "name, size, etag, content_type, created_at, meta";

/// The prefix of the object metadata the service keeps for itself (never shown to
/// clients under that name).
pub const SYSMETA_PREFIX: &str = "x-object-sysmeta-";

/// The listing database.
#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
    /// Where object row writes queue for [`commit_loop`]; started by the first write.
    writer: Arc<Mutex<Option<mpsc::Sender<RowJob>>>>,
}

/// An object row change, committed by [`commit_loop`].
#[derive(Debug)]
enum RowWrite {
    Put(Object),
    Delete { id: String },
}

/// A write and where its result (the row it replaced or removed) goes.
#[derive(Debug)]
struct RowJob {
    write: RowWrite,
    done: oneshot::Sender<Result<Option<Object>>>,
}

/// The most row writes committed in one transaction.
const ROW_BATCH: usize = 128;

/// Commits object row writes as they queue up: whatever is waiting when a commit ends goes
/// into the next transaction together, so concurrent PUTs and DELETEs share one durable
/// commit (one fsync of SQLite's WAL) instead of each paying its own. A batch that fails is
/// retried one write at a time, so a bad write fails only its own request. Ends when every
/// sender is gone.
async fn commit_loop(db: Db, mut jobs: mpsc::Receiver<RowJob>) {
    let mut batch = Vec::with_capacity(ROW_BATCH);
    while jobs.recv_many(&mut batch, ROW_BATCH).await > 0 {
        let results = match commit_rows(&db, batch.iter().map(|j| &j.write)).await {
            Ok(replaced) => replaced.into_iter().map(Ok).collect(),
            Err(e) if batch.len() == 1 => vec![Err(e)],
            Err(e) => {
                tracing::warn!(error = %e, writes = batch.len(),
                    "a batch of object rows failed; committing them one at a time");
                let mut results = Vec::with_capacity(batch.len());
                for job in &batch {
                    let r = commit_rows(&db, std::iter::once(&job.write)).await;
                    results.push(r.map(|mut replaced| replaced.pop().flatten()));
                }
                results
            }
        };
        for (job, r) in batch.drain(..).zip(results) {
            // The request may be gone (client disconnected); its write stands.
            let _ = job.done.send(r);
        }
    }
}

/// Applies `writes` in order in one durable transaction; returns the row each replaced.
async fn commit_rows<'w>(
    db: &Db,
    writes: impl Iterator<Item = &'w RowWrite>,
) -> Result<Vec<Option<Object>>> {
    let mut conn = durable_conn(db).await?;
    let r = async {
        let mut tx = sqlx::Connection::begin_with(&mut *conn, db.begin_write_sql()).await?;
        let mut replaced = Vec::new();
        for w in writes {
            replaced.push(match w {
                RowWrite::Put(o) => put_row(db, &mut tx, o).await?,
                RowWrite::Delete { id } => delete_row(db, &mut tx, id).await?,
            });
        }
        tx.commit().await?;
        Ok(replaced)
    }
    .await;
    relax(db, conn).await;
    r
}

/// Removes an object's row in `tx`; returns it.
async fn delete_row(db: &Db, tx: &mut Transaction<'_, Any>, id: &str) -> Result<Option<Object>> {
    let old = sqlx::query(sqlx::AssertSqlSafe(db.sql(format!(
        "SELECT {OBJ_COLUMNS} FROM objstore_object WHERE id = ?"
    ))))
    .bind(id.to_string())
    .fetch_optional(&mut **tx)
    .await?;
    let old = old.as_ref().map(Store::object_from_row).transpose()?;
    if old.is_some() {
        sqlx::query(sqlx::AssertSqlSafe(
            db.sql("DELETE FROM objstore_object WHERE id = ?"),
        ))
        .bind(id.to_string())
        .execute(&mut **tx)
        .await?;
    }
    Ok(old)
}

/// Records an object in `tx` (replacing any with its name); returns the replaced row.
async fn put_row(db: &Db, tx: &mut Transaction<'_, Any>, o: &Object) -> Result<Option<Object>> {
    let id = object_id(&o.account, &o.container, &o.name);
    let old = delete_row(db, tx, &id).await?;
    sqlx::query(sqlx::AssertSqlSafe(db.sql(format!(
        "INSERT INTO objstore_object (id, {OBJ_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ))))
    .bind(id)
    .bind(o.account.clone())
    .bind(o.container.clone())
    .bind(o.name.clone())
    .bind(o.size)
    .bind(o.etag.clone())
    .bind(o.content_type.clone())
    .bind(o.created_at)
    .bind(o.delete_at)
    .bind(o.data_key.clone())
    .bind(meta_json(&o.meta))
    .execute(&mut **tx)
    .await?;
    Ok(old)
}

/// A connection whose commits are durable when they return. The pool's SQLite connections run
/// `synchronous = NORMAL`, whose WAL commits survive a crash of the process but may roll back
/// on a power loss; an object write acknowledged with 201 (and a delete whose data is unlinked
/// right after) must survive both, as Swift's fsync does, so these commits run with `FULL`.
/// MariaDB and PostgreSQL commit durably by default.
async fn durable_conn(db: &Db) -> Result<PoolConnection<Any>> {
    let mut conn = db.pool().acquire().await?;
    if db.engine() == Engine::Sqlite {
        sqlx::query("PRAGMA synchronous = FULL")
            .execute(&mut *conn)
            .await?;
    }
    Ok(conn)
}

/// Returns a [`durable_conn`] to the pool's setting (if that fails the connection simply stays
/// durable).
async fn relax(db: &Db, mut conn: PoolConnection<Any>) {
    if db.engine() == Engine::Sqlite
        && let Err(e) = sqlx::query("PRAGMA synchronous = NORMAL")
            .execute(&mut *conn)
            .await
    {
        tracing::debug!(error = %e, "connection left at synchronous = FULL");
    }
}

impl Store {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            writer: Arc::default(),
        }
    }

    /// Queues an object row write for [`commit_loop`] (starting it, or starting it again if
    /// it died) and waits until it is committed.
    async fn commit(&self, write: RowWrite) -> Result<Option<Object>> {
        let writer = {
            let mut w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
            match &*w {
                Some(tx) if !tx.is_closed() => tx.clone(),
                _ => {
                    let (tx, rx) = mpsc::channel(ROW_BATCH * 4);
                    tokio::spawn(commit_loop(self.db.clone(), rx));
                    w.insert(tx).clone()
                }
            }
        };
        let (done, result) = oneshot::channel();
        writer
            .send(RowJob { write, done })
            .await
            .map_err(|_| StoreError::WriterGone)?;
        result.await.map_err(|_| StoreError::WriterGone)?
    }

    fn object_from_row(r: &AnyRow) -> Result<Object> {
        Ok(Object {
            account: r.try_get("account")?,
            container: r.try_get("container")?,
            name: r.try_get("name")?,
            size: r.try_get("size")?,
            etag: r.try_get("etag")?,
            content_type: r.try_get("content_type")?,
            created_at: r.try_get("created_at")?,
            delete_at: r.try_get("delete_at")?,
            data_key: r.try_get("data_key")?,
            meta: meta_parse(&r.try_get::<String, _>("meta")?)?,
        })
    }

    fn container_from_row(r: &AnyRow) -> Result<Container> {
        Ok(Container {
            account: r.try_get("account")?,
            name: r.try_get("name")?,
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
            meta: meta_parse(&r.try_get::<String, _>("meta")?)?,
        })
    }

    pub async fn account_get(&self, account: &str) -> Result<Option<Account>> {
        let row = self
            .db
            .query("SELECT created_at, meta FROM objstore_account WHERE account = ?")
            .bind(account.to_string())
            .fetch_optional(self.db.pool())
            .await?;
        row.map(|r| {
            Ok(Account {
                created_at: r.try_get("created_at")?,
                meta: meta_parse(&r.try_get::<String, _>("meta")?)?,
            })
        })
        .transpose()
    }

    /// Creates the account row if missing; returns it.
    pub async fn account_ensure(&self, account: &str, now: i64) -> Result<Account> {
        if let Some(a) = self.account_get(account).await? {
            return Ok(a);
        }
        let r = self
            .db
            .query("INSERT INTO objstore_account (account, created_at, updated_at, meta) VALUES (?, ?, ?, ?)")
            .bind(account.to_string())
            .bind(now)
            .bind(now)
            .bind("{}".to_string())
            .execute(self.db.pool())
            .await;
        if let Err(e) = r
            && !Db::is_unique_violation(&e)
        {
            return Err(e.into());
        }
        Ok(self.account_get(account).await?.unwrap_or_default())
    }

    pub async fn account_meta_set(&self, account: &str, meta: &Meta, now: i64) -> Result<()> {
        self.account_ensure(account, now).await?;
        self.db
            .query("UPDATE objstore_account SET meta = ?, updated_at = ? WHERE account = ?")
            .bind(meta_json(meta))
            .bind(now)
            .bind(account.to_string())
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Containers, objects and bytes of an account (live objects only).
    pub async fn account_stats(&self, account: &str, now: i64) -> Result<(i64, Stats)> {
        let containers: i64 = self
            .db
            .query_scalar("SELECT COUNT(*) FROM objstore_container WHERE account = ?")
            .bind(account.to_string())
            .fetch_one(self.db.pool())
            .await?;
        let r = self
            .db
            .query(format!("SELECT COUNT(*) AS n, {} AS b FROM objstore_object WHERE account = ? AND (delete_at IS NULL OR delete_at > ?)", self.db.sum_i64("size")))
            .bind(account.to_string())
            .bind(now)
            .fetch_one(self.db.pool())
            .await?;
        Ok((
            containers,
            Stats {
                count: r.try_get("n")?,
                bytes: sum(&r)?,
            },
        ))
    }

    pub async fn container_get(&self, account: &str, name: &str) -> Result<Option<Container>> {
        let row = self
            .db
            .query("SELECT account, name, created_at, updated_at, meta FROM objstore_container WHERE account = ? AND name = ?")
            .bind(account.to_string())
            .bind(name.to_string())
            .fetch_optional(self.db.pool())
            .await?;
        row.as_ref().map(Self::container_from_row).transpose()
    }

    /// Creates a container; false when it existed already.
    pub async fn container_create(&self, c: &Container) -> Result<bool> {
        self.account_ensure(&c.account, c.created_at).await?;
        let r = self
            .db
            .query("INSERT INTO objstore_container (account, name, created_at, updated_at, meta) VALUES (?, ?, ?, ?, ?)")
            .bind(c.account.clone())
            .bind(c.name.clone())
            .bind(c.created_at)
            .bind(c.updated_at)
            .bind(meta_json(&c.meta))
            .execute(self.db.pool())
            .await;
        match r {
            Ok(_) => Ok(true),
            Err(e) if Db::is_unique_violation(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn container_meta_set(
        &self,
        account: &str,
        name: &str,
        meta: &Meta,
        now: i64,
    ) -> Result<()> {
        self.db
            .query("UPDATE objstore_container SET meta = ?, updated_at = ? WHERE account = ? AND name = ?")
            .bind(meta_json(meta))
            .bind(now)
            .bind(account.to_string())
            .bind(name.to_string())
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Deletes an empty container (expired objects do not count and are dropped with it;
    /// their data keys are returned through `orphans`).
    pub async fn container_delete(
        &self,
        account: &str,
        name: &str,
        now: i64,
        orphans: &mut Vec<String>,
    ) -> Result<ContainerDelete> {
        let mut conn = durable_conn(&self.db).await?;
        let r = self
            .container_delete_in(&mut conn, account, name, now, orphans)
            .await;
        relax(&self.db, conn).await;
        r
    }

    async fn container_delete_in(
        &self,
        conn: &mut PoolConnection<Any>,
        account: &str,
        name: &str,
        now: i64,
        orphans: &mut Vec<String>,
    ) -> Result<ContainerDelete> {
        let mut tx = sqlx::Connection::begin_with(&mut **conn, self.db.begin_write_sql()).await?;
        let exists: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(
            self.db
                .sql("SELECT COUNT(*) FROM objstore_container WHERE account = ? AND name = ?"),
        ))
        .bind(account.to_string())
        .bind(name.to_string())
        .fetch_one(&mut *tx)
        .await?;
        if exists == 0 {
            return Ok(ContainerDelete::NotFound);
        }
        let live: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(self.db.sql(
            "SELECT COUNT(*) FROM objstore_object WHERE account = ? AND container = ? AND (delete_at IS NULL OR delete_at > ?)",
        )))
        .bind(account.to_string())
        .bind(name.to_string())
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        if live > 0 {
            return Ok(ContainerDelete::NotEmpty);
        }
        let rows = sqlx::query(sqlx::AssertSqlSafe(self.db.sql(
            "SELECT data_key FROM objstore_object WHERE account = ? AND container = ?",
        )))
        .bind(account.to_string())
        .bind(name.to_string())
        .fetch_all(&mut *tx)
        .await?;
        for r in rows {
            orphans.push(r.try_get("data_key")?);
        }
        for sql in [
            "DELETE FROM objstore_object WHERE account = ? AND container = ?",
            "DELETE FROM objstore_container WHERE account = ? AND name = ?",
        ] {
            sqlx::query(sqlx::AssertSqlSafe(self.db.sql(sql)))
                .bind(account.to_string())
                .bind(name.to_string())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(ContainerDelete::Deleted)
    }

    /// A page of an account's containers with their stats.
    pub async fn container_list(
        &self,
        account: &str,
        q: &ListQuery,
        now: i64,
    ) -> Result<Vec<(Container, Stats)>> {
        let (cond, binds) = bounds(q);
        let order = if q.reverse { "DESC" } else { "ASC" };
        let mut query = self
            .db
            .query(format!(
                "SELECT account, name, created_at, updated_at, meta FROM objstore_container WHERE account = ?{cond} ORDER BY name {order} LIMIT {}",
                q.limit
            ))
            .bind(account.to_string());
        for b in binds {
            query = query.bind(b);
        }
        let rows = query.fetch_all(self.db.pool()).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let c = Self::container_from_row(r)?;
            let s = self.container_stats(account, &c.name, now).await?;
            out.push((c, s));
        }
        Ok(out)
    }

    pub async fn container_stats(&self, account: &str, name: &str, now: i64) -> Result<Stats> {
        let r = self
            .db
            .query(format!("SELECT COUNT(*) AS n, {} AS b FROM objstore_object WHERE account = ? AND container = ? AND (delete_at IS NULL OR delete_at > ?)", self.db.sum_i64("size")))
            .bind(account.to_string())
            .bind(name.to_string())
            .bind(now)
            .fetch_one(self.db.pool())
            .await?;
        Ok(Stats {
            count: r.try_get("n")?,
            bytes: sum(&r)?,
        })
    }

    /// An object's row, expired or not.
    pub async fn object_get(
        &self,
        account: &str,
        container: &str,
        name: &str,
    ) -> Result<Option<Object>> {
        let row = self
            .db
            .query(format!(
                "SELECT {OBJ_COLUMNS} FROM objstore_object WHERE id = ?"
            ))
            .bind(object_id(account, container, name))
            .fetch_optional(self.db.pool())
            .await?;
        row.as_ref().map(Self::object_from_row).transpose()
    }

    /// Records an object (replacing any with its name) durably; returns the replaced row.
    pub async fn object_put(&self, o: &Object) -> Result<Option<Object>> {
        self.commit(RowWrite::Put(o.clone())).await
    }

    /// Updates an object's metadata, content type and expiry in place.
    pub async fn object_meta_set(&self, o: &Object) -> Result<()> {
        self.db
            .query(
                "UPDATE objstore_object SET meta = ?, content_type = ?, delete_at = ? WHERE id = ?",
            )
            .bind(meta_json(&o.meta))
            .bind(o.content_type.clone())
            .bind(o.delete_at)
            .bind(object_id(&o.account, &o.container, &o.name))
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Removes an object's row durably; returns it.
    pub async fn object_delete(
        &self,
        account: &str,
        container: &str,
        name: &str,
    ) -> Result<Option<Object>> {
        let id = object_id(account, container, name);
        self.commit(RowWrite::Delete { id }).await
    }

    /// A page of a container's live objects.
    pub async fn object_list(
        &self,
        account: &str,
        container: &str,
        q: &ListQuery,
        now: i64,
    ) -> Result<Vec<Object>> {
        self.object_rows(
            OBJ_COLUMNS,
            account,
            container,
            q,
            now,
            Self::object_from_row,
        )
        .await
    }

    /// A page of a container's live objects with only what a listing shows: reads and
    /// converts fewer columns than [`object_list`](Self::object_list) and parses the
    /// metadata only of objects that have system metadata (symlinks).
    pub async fn object_entries(
        &self,
        account: &str,
        container: &str,
        q: &ListQuery,
        now: i64,
    ) -> Result<Vec<ObjectEntry>> {
        self.object_rows(ENTRY_COLUMNS, account, container, q, now, |r| {
            Ok(ObjectEntry {
                name: r.try_get("name")?,
                size: r.try_get("size")?,
                etag: r.try_get("etag")?,
                content_type: r.try_get("content_type")?,
                created_at: r.try_get("created_at")?,
                sysmeta: {
                    let raw: String = r.try_get("meta")?;
                    if raw.contains(SYSMETA_PREFIX) {
                        let mut m = meta_parse(&raw)?;
                        m.retain(|k, _| k.starts_with(SYSMETA_PREFIX));
                        m
                    } else {
                        Meta::new()
                    }
                },
            })
        })
        .await
    }

    /// A listing page's rows, each converted as it arrives (a page of 10,000 rows is never
    /// held as rows all at once).
    async fn object_rows<T>(
        &self,
        columns: &str,
        account: &str,
        container: &str,
        q: &ListQuery,
        now: i64,
        convert: impl Fn(&AnyRow) -> Result<T>,
    ) -> Result<Vec<T>> {
        let (cond, binds) = bounds(q);
        let order = if q.reverse { "DESC" } else { "ASC" };
        let mut query = self
            .db
            .query(format!(
                "SELECT {columns} FROM objstore_object WHERE account = ? AND container = ? AND (delete_at IS NULL OR delete_at > ?){cond} ORDER BY name {order} LIMIT {}",
                q.limit
            ))
            .bind(account.to_string())
            .bind(container.to_string())
            .bind(now);
        for b in binds {
            query = query.bind(b);
        }
        let mut rows = query.fetch(self.db.pool());
        let mut out = Vec::new();
        while let Some(r) = rows.try_next().await? {
            out.push(convert(&r)?);
        }
        Ok(out)
    }

    /// The data key of every row, expired or not (for the start-up reconciliation).
    /// TODO-performance: one pass over the whole table; page it for very large stores.
    pub async fn object_data_keys(&self) -> Result<std::collections::HashSet<String>> {
        let rows = self
            .db
            .query("SELECT data_key FROM objstore_object")
            .fetch_all(self.db.pool())
            .await?;
        rows.iter()
            .map(|r| Ok(r.try_get::<String, _>("data_key")?))
            .collect()
    }

    /// Objects whose `delete_at` has passed (for the expirer).
    pub async fn object_list_expired(&self, now: i64, limit: u32) -> Result<Vec<Object>> {
        let rows = self
            .db
            .query(format!(
                "SELECT {OBJ_COLUMNS} FROM objstore_object WHERE delete_at IS NOT NULL AND delete_at <= ? LIMIT {limit}"
            ))
            .bind(now)
            .fetch_all(self.db.pool())
            .await?;
        rows.iter().map(Self::object_from_row).collect()
    }
}

fn sum(r: &AnyRow) -> Result<i64> {
    // SUM is DECIMAL on MariaDB and NUMERIC on PostgreSQL; read it whichever way it comes.
    if let Ok(v) = r.try_get::<i64, _>("b") {
        return Ok(v);
    }
    if let Ok(v) = r.try_get::<f64, _>("b") {
        return Ok(v as i64);
    }
    let s: String = r.try_get("b")?;
    Ok(s.parse::<f64>().map(|f| f as i64).unwrap_or(0))
}

/// The `AND name ...` conditions of a listing page, with their binds.
fn bounds(q: &ListQuery) -> (String, Vec<String>) {
    let mut cond = String::new();
    let mut binds = Vec::new();
    let (after, before) = if q.reverse { ("<", ">") } else { (">", "<") };
    if let Some(m) = q.marker.as_ref().filter(|m| !m.is_empty()) {
        cond.push_str(&format!(" AND name {after} ?"));
        binds.push(m.clone());
    }
    if let Some(m) = q.end_marker.as_ref().filter(|m| !m.is_empty()) {
        cond.push_str(&format!(" AND name {before} ?"));
        binds.push(m.clone());
    }
    if let Some(p) = q.prefix.as_ref().filter(|p| !p.is_empty()) {
        cond.push_str(" AND name >= ?");
        binds.push(p.clone());
        if let Some(u) = prefix_upper(p) {
            cond.push_str(" AND name < ?");
            binds.push(u);
        }
    }
    (cond, binds)
}

#[cfg(test)]
mod tests {
    use oxstack_common::db::testing;

    use super::*;

    fn obj(container: &str, name: &str, size: i64, delete_at: Option<i64>) -> Object {
        Object {
            account: "AUTH_a".into(),
            container: container.into(),
            name: name.into(),
            size,
            etag: "e".into(),
            content_type: "text/plain".into(),
            created_at: 1,
            delete_at,
            data_key: format!("k{name}"),
            meta: Meta::from([("x-object-meta-a".to_string(), "b".to_string())]),
        }
    }

    /// The test database migrated, and a store on it.
    async fn migrated(t: &testing::TestDb) -> (Db, Store) {
        let db = t.db().clone();
        db.migrate("objectstore", MIGRATIONS)
            .await
            .expect("migrate");
        (db.clone(), Store::new(db))
    }

    #[tokio::test]
    async fn listings_stats_and_deletes_on_every_engine() {
        for t in testing::engines().await {
            let engine = t.engine();
            let (_, s) = migrated(&t).await;
            let c = container("AUTH_a", "c1");
            assert!(s.container_create(&c).await.expect("create"));
            assert!(!s.container_create(&c).await.expect("again"));
            for (n, size, exp) in [
                ("a/1", 1, None),
                ("a/2", 2, None),
                ("b", 3, None),
                ("gone", 4, Some(5)),
            ] {
                s.object_put(&obj("c1", n, size, exp)).await.expect("put");
            }
            let old = s
                .object_put(&obj("c1", "b", 10, None))
                .await
                .expect("replace");
            assert_eq!(old.map(|o| o.size), Some(3), "{engine:?}");
            assert_eq!(
                s.container_stats("AUTH_a", "c1", 10).await.expect("stats"),
                Stats {
                    count: 3,
                    bytes: 13
                },
                "{engine:?}"
            );
            let q = ListQuery {
                prefix: Some("a/".into()),
                limit: 10,
                ..Default::default()
            };
            let names: Vec<String> = s
                .object_list("AUTH_a", "c1", &q, 10)
                .await
                .expect("list")
                .into_iter()
                .map(|o| o.name)
                .collect();
            assert_eq!(names, ["a/1", "a/2"], "{engine:?}");
            let q = ListQuery {
                marker: Some("a/1".into()),
                limit: 1,
                reverse: false,
                ..Default::default()
            };
            let names: Vec<String> = s
                .object_list("AUTH_a", "c1", &q, 10)
                .await
                .expect("list")
                .into_iter()
                .map(|o| o.name)
                .collect();
            assert_eq!(names, ["a/2"], "{engine:?}");
            assert_eq!(
                s.object_list_expired(10, 10).await.expect("expired").len(),
                1
            );
            let mut orphans = Vec::new();
            assert_eq!(
                s.container_delete("AUTH_a", "c1", 10, &mut orphans)
                    .await
                    .expect("del"),
                ContainerDelete::NotEmpty
            );
            for n in ["a/1", "a/2", "b"] {
                assert!(
                    s.object_delete("AUTH_a", "c1", n)
                        .await
                        .expect("del")
                        .is_some()
                );
            }
            assert_eq!(
                s.container_delete("AUTH_a", "c1", 10, &mut orphans)
                    .await
                    .expect("del"),
                ContainerDelete::Deleted
            );
            assert_eq!(orphans, ["kgone"], "{engine:?}");
            let (n, stats) = s.account_stats("AUTH_a", 10).await.expect("stats");
            assert_eq!((n, stats), (0, Stats::default()));
            t.cleanup().await;
        }
    }

    /// Concurrent object writes share transactions without losing one: of 40 PUTs of one name
    /// at once, each but the last replaces exactly one other, and the last is the row left.
    /// A write the database refuses fails alone (SQLite, through a trigger).
    #[tokio::test]
    async fn concurrent_row_writes_commit_together_and_fail_alone() {
        for t in testing::engines().await {
            let engine = t.engine();
            let (db, s) = migrated(&t).await;
            let puts = (0..40).map(|i| {
                let mut o = obj("c", "same", i, None);
                o.data_key = format!("k{i}");
                let s = s.clone();
                async move { s.object_put(&o).await.expect("put") }
            });
            let replaced: Vec<String> = futures_util::future::join_all(puts)
                .await
                .into_iter()
                .flatten()
                .map(|o| o.data_key)
                .collect();
            let last = s
                .object_get("AUTH_a", "c", "same")
                .await
                .expect("get")
                .expect("row");
            let mut keys = replaced.clone();
            keys.push(last.data_key);
            keys.sort();
            keys.dedup();
            assert_eq!(replaced.len(), 39, "{engine:?}");
            assert_eq!(keys.len(), 40, "{engine:?}: a key replaced twice or never");

            if engine == Engine::Sqlite {
                sqlx::query(
                    "CREATE TRIGGER refuse BEFORE INSERT ON objstore_object \
                     WHEN NEW.name = 'bad' BEGIN SELECT RAISE(ABORT, 'refused'); END",
                )
                .execute(db.pool())
                .await
                .expect("trigger");
                let writes = ["ok1", "bad", "ok2"].map(|n| {
                    let o = obj("c", n, 1, None);
                    let s = s.clone();
                    async move { s.object_put(&o).await.map(|_| ()) }
                });
                let [ok1, bad, ok2] = futures_util::future::join_all(writes)
                    .await
                    .try_into()
                    .expect("three");
                assert!(ok1.is_ok() && ok2.is_ok() && bad.is_err());
                for (n, kept) in [("ok1", true), ("bad", false), ("ok2", true)] {
                    let row = s.object_get("AUTH_a", "c", n).await.expect("get");
                    assert_eq!(row.is_some(), kept, "{n}");
                }
            }
            t.cleanup().await;
        }
    }

    fn container(account: &str, name: &str) -> Container {
        Container {
            account: account.into(),
            name: name.into(),
            created_at: 1,
            updated_at: 1,
            meta: Meta::new(),
        }
    }

    /// Names in Rust's order (UTF-8 bytes, as Swift's), filtered.
    fn byte_order<'a>(
        names: &[&'a str],
        keep: impl Fn(&str) -> bool,
        reverse: bool,
    ) -> Vec<&'a str> {
        let mut v: Vec<&str> = names.iter().copied().filter(|n| keep(n)).collect();
        v.sort_unstable();
        if reverse {
            v.reverse();
        }
        v
    }

    const NAMES: &[&str] = &[
        "B",
        "a",
        "A",
        "Z",
        "é",
        "e",
        "_",
        "~",
        "ä",
        "a/1",
        "A/1",
        "a ",
        "a\t",
        "e\u{10FFFF}",
        "😀",
    ];

    #[test]
    fn prefix_upper_is_the_next_string_in_byte_order() {
        assert_eq!(prefix_upper("ab").as_deref(), Some("ac"));
        assert_eq!(prefix_upper("a\u{D7FF}").as_deref(), Some("a\u{E000}"));
        assert_eq!(prefix_upper("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_upper("\u{10FFFF}"), None);
    }

    #[tokio::test]
    async fn names_are_byte_strings_on_every_engine() {
        for t in testing::engines_with_locale().await {
            let engine = t.engine();
            let (_, s) = migrated(&t).await;

            // Accounts, containers and objects differing only in case are distinct.
            let upper = Meta::from([("x-account-meta-k".to_string(), "upper".to_string())]);
            s.account_meta_set("AUTH_X", &upper, 1).await.expect("meta");
            s.account_meta_set("AUTH_x", &Meta::new(), 1)
                .await
                .expect("meta");
            let got = s.account_get("AUTH_X").await.expect("get").expect("row");
            assert_eq!(got.meta, upper, "{engine:?}");
            for n in NAMES {
                assert!(
                    s.container_create(&container("AUTH_a", n))
                        .await
                        .expect("create"),
                    "{engine:?}: container {n:?} is new"
                );
                s.object_put(&obj("c", n, 1, None)).await.expect("put");
            }
            let got = s
                .container_get("AUTH_a", "A")
                .await
                .expect("get")
                .expect("A");
            assert_eq!(got.name, "A", "{engine:?}");
            assert!(
                s.container_get("AUTH_a", "a  ")
                    .await
                    .expect("get")
                    .is_none()
            );

            // Listings, markers, end markers and prefixes in byte order, both ways.
            let cases: Vec<(ListQuery, Vec<&str>)> = vec![
                (ListQuery::default(), byte_order(NAMES, |_| true, false)),
                (
                    ListQuery {
                        reverse: true,
                        ..Default::default()
                    },
                    byte_order(NAMES, |_| true, true),
                ),
                (
                    ListQuery {
                        marker: Some("Z".into()),
                        ..Default::default()
                    },
                    byte_order(NAMES, |n| n > "Z", false),
                ),
                (
                    ListQuery {
                        marker: Some("_".into()),
                        end_marker: Some("e".into()),
                        ..Default::default()
                    },
                    byte_order(NAMES, |n| n > "_" && n < "e", false),
                ),
                (
                    ListQuery {
                        marker: Some("e".into()),
                        end_marker: Some("A".into()),
                        reverse: true,
                        ..Default::default()
                    },
                    byte_order(NAMES, |n| n < "e" && n > "A", true),
                ),
                (
                    ListQuery {
                        prefix: Some("a".into()),
                        ..Default::default()
                    },
                    byte_order(NAMES, |n| n.starts_with('a'), false),
                ),
                (
                    ListQuery {
                        prefix: Some("e".into()),
                        reverse: true,
                        ..Default::default()
                    },
                    byte_order(NAMES, |n| n.starts_with('e'), true),
                ),
                // The container listing's marker past a subdir (`a/` + U+10FFFF).
                (
                    ListQuery {
                        marker: Some("a/\u{10FFFF}".into()),
                        ..Default::default()
                    },
                    byte_order(NAMES, |n| n > "a/\u{10FFFF}", false),
                ),
            ];
            for (mut q, want) in cases {
                q.limit = 100;
                let objects: Vec<String> = s
                    .object_entries("AUTH_a", "c", &q, 10)
                    .await
                    .expect("objects")
                    .into_iter()
                    .map(|o| o.name)
                    .collect();
                assert_eq!(objects, want, "{engine:?}: objects {q:?}");
                let containers: Vec<String> = s
                    .container_list("AUTH_a", &q, 10)
                    .await
                    .expect("containers")
                    .into_iter()
                    .filter(|(c, _)| c.name != "c")
                    .map(|(c, _)| c.name)
                    .collect();
                assert_eq!(containers, want, "{engine:?}: containers {q:?}");
            }

            // Statistics and deletes keep to the exact name.
            s.object_put(&obj("A", "x", 5, None)).await.expect("put");
            s.object_put(&obj("a", "x", 7, None)).await.expect("put");
            assert_eq!(
                s.container_stats("AUTH_a", "a", 10).await.expect("stats"),
                Stats { count: 1, bytes: 7 },
                "{engine:?}"
            );
            let mut orphans = Vec::new();
            s.object_delete("AUTH_a", "A", "x").await.expect("del");
            assert_eq!(
                s.container_delete("AUTH_a", "A", 10, &mut orphans)
                    .await
                    .expect("del"),
                ContainerDelete::Deleted,
                "{engine:?}"
            );
            assert!(s.container_get("AUTH_a", "a").await.expect("get").is_some());
            t.cleanup().await;
        }
    }

    #[tokio::test]
    async fn upgrade_to_byte_order_keeps_rows_on_every_engine() {
        for t in testing::engines_with_locale().await {
            let engine = t.engine();
            let db = t.db().clone();
            assert_eq!(
                db.migrate("objectstore", &MIGRATIONS[..1])
                    .await
                    .expect("v1"),
                1
            );
            let s = Store::new(db.clone());
            let meta = Meta::from([("x-account-meta-k".to_string(), "v".to_string())]);
            s.account_meta_set("AUTH_a", &meta, 3).await.expect("meta");
            let mut c = container("AUTH_a", "Photos");
            c.meta = Meta::from([("x-container-meta-k".to_string(), "é".to_string())]);
            assert!(s.container_create(&c).await.expect("create"));
            assert!(
                s.container_create(&container("AUTH_b", "x"))
                    .await
                    .expect("create")
            );
            let objects = [
                obj("Photos", "a/1", 1, None),
                obj("Photos", "B", 2, Some(5)),
                obj("Photos", "é", 3, Some(50)),
            ];
            for o in &objects {
                s.object_put(o).await.expect("put");
            }

            assert_eq!(db.migrate("objectstore", MIGRATIONS).await.expect("v2"), 1);
            assert!(
                db.pending("objectstore", MIGRATIONS)
                    .await
                    .expect("pending")
                    .is_empty()
            );
            let got = s.account_get("AUTH_a").await.expect("get").expect("row");
            assert_eq!((got.created_at, got.meta), (3, meta), "{engine:?}");
            let got = s
                .container_get("AUTH_a", "Photos")
                .await
                .expect("get")
                .expect("row");
            assert_eq!(
                (got.created_at, got.updated_at, got.meta),
                (c.created_at, c.updated_at, c.meta),
                "{engine:?}"
            );
            assert!(s.container_get("AUTH_b", "x").await.expect("get").is_some());
            let q = ListQuery {
                limit: 10,
                ..Default::default()
            };
            let listed = s
                .object_list("AUTH_a", "Photos", &q, 1)
                .await
                .expect("list");
            let mut want = objects.to_vec();
            want.sort_by(|a, b| a.name.cmp(&b.name));
            assert_eq!(listed, want, "{engine:?}");
            assert_eq!(
                s.object_list_expired(10, 10).await.expect("expired"),
                [objects[1].clone()]
            );
            assert_eq!(s.object_data_keys().await.expect("keys").len(), 3);
            // The indexes are back and the names now byte strings.
            assert!(
                s.container_create(&container("AUTH_a", "photos"))
                    .await
                    .expect("create")
            );
            let (n, stats) = s.account_stats("AUTH_a", 10).await.expect("stats");
            assert_eq!((n, stats), (2, Stats { count: 2, bytes: 4 }), "{engine:?}");
            t.cleanup().await;
        }
    }
}
