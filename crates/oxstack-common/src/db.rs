//! The SQL store seam: one [`Db`] handle over SQLite (embedded default), MariaDB/MySQL or
//! PostgreSQL, chosen by URL.
//!
//! Queries are written once, in a portable subset of SQL with `?` placeholders; [`Db`]
//! rewrites them to `$1, $2, ...` for PostgreSQL. Portable column types: `VARCHAR(n)` for
//! ids, names and anything indexed; `TEXT` for free text; `BIGINT` for integers, flags (0/1)
//! and timestamps (microseconds since the epoch, see [`crate::time`]); `DOUBLE PRECISION`;
//! `{blob}` and `{longtext}` in migrations expand to the engine's binary and large-text types.
//! `{bin}` after a text column's type gives it the engine's binary collation: values compare,
//! sort and are unique by their UTF-8 bytes, case-sensitively (SQLite's default; MariaDB's
//! and PostgreSQL's defaults are case-insensitive or linguistic). Use it for names that an
//! API treats as byte strings or lists in byte order.
//! (The `Any` driver cannot decode MySQL's `TINYINT`, hence no `BOOLEAN` columns.)

use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyArguments, AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::query::{Query, QueryAs, QueryScalar};
use sqlx::{Any, AnyPool, AssertSqlSafe, Connection, Executor, FromRow};

/// Which SQL engine a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    MySql,
    Postgres,
}

impl Engine {
    pub fn from_url(url: &str) -> Result<Self, DbError> {
        let scheme = url.split_once(':').map(|(s, _)| s).unwrap_or_default();
        match scheme {
            "sqlite" => Ok(Engine::Sqlite),
            "mysql" | "mariadb" => Ok(Engine::MySql),
            "postgres" | "postgresql" => Ok(Engine::Postgres),
            _ => Err(DbError::BadUrl(format!(
                "unsupported database URL scheme `{scheme}` (use sqlite://, mysql:// or postgres://)"
            ))),
        }
    }
}

/// Failures of the store seam itself (connecting, migrating).
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("{0}")]
    BadUrl(String),
    #[error("cannot connect to the database at {url}")]
    Connect {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("migration {service}/{version} ({name}) failed")]
    Migration {
        service: &'static str,
        version: i64,
        name: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error(
        "migration history of {service} does not match this binary: version {version} is `{found}` in the database but `{expected}` here"
    )]
    MigrationMismatch {
        service: &'static str,
        version: i64,
        found: String,
        expected: &'static str,
    },
    #[error("database error")]
    Sql(#[from] sqlx::Error),
}

/// A handle to the database. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    engine: Engine,
}

/// One schema change of one service. Append-only: never edit a released migration.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    /// Statements separated by `;` at the end of a line.
    pub sql: &'static str,
}

impl Db {
    /// Connects, creating the SQLite file if needed (WAL journal, foreign keys on).
    pub async fn connect(url: &str, max_connections: u32) -> Result<Db, DbError> {
        sqlx::any::install_default_drivers();
        let engine = Engine::from_url(url)?;
        let mut url = url.to_string();
        if engine == Engine::Sqlite && !url.contains("mode=") {
            url.push_str(if url.contains('?') {
                "&mode=rwc"
            } else {
                "?mode=rwc"
            });
        }
        let redacted = redact(&url);
        let opts = AnyConnectOptions::from_str(&url).map_err(|source| DbError::Connect {
            url: redacted.clone(),
            source,
        })?;
        // One plain attempt first: the pool would retry an unreachable server until its
        // acquire timeout, and start-up should fail at once with the real reason.
        let probe = sqlx::AnyConnection::connect_with(&opts)
            .await
            .map_err(|source| DbError::Connect {
                url: redacted.clone(),
                source,
            })?;
        let _ = probe.close().await;
        let max = match (max_connections, engine) {
            (0, Engine::Sqlite) => 8,
            (0, _) => 16,
            (n, _) => n,
        };
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if engine == Engine::Sqlite {
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(opts)
            .await
            .map_err(|source| DbError::Connect {
                url: redacted,
                source,
            })?;
        Ok(Db { pool, engine })
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// `SUM(expr)` as a BIGINT on every engine, 0 over no rows: MariaDB and PostgreSQL sum
    /// integers to DECIMAL, which the `Any` driver cannot read.
    pub fn sum_i64(&self, expr: &str) -> String {
        match self.engine {
            Engine::MySql => format!("CAST(COALESCE(SUM({expr}), 0) AS SIGNED)"),
            Engine::Postgres => format!("CAST(COALESCE(SUM({expr}), 0) AS BIGINT)"),
            Engine::Sqlite => format!("COALESCE(SUM({expr}), 0)"),
        }
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Closes every connection (waits for those in use to be returned).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Rewrites portable SQL (`?` placeholders) for this engine.
    pub fn sql(&self, sql: impl Into<Cow<'static, str>>) -> Cow<'static, str> {
        let sql = sql.into();
        if self.engine != Engine::Postgres || !sql.contains('?') {
            return sql;
        }
        Cow::Owned(numbered_placeholders(&sql))
    }

    /// A query in portable SQL. Dynamic SQL must only splice identifiers chosen by code, never
    /// request data: request data goes through `bind`.
    pub fn query(&self, sql: impl Into<Cow<'static, str>>) -> Query<'static, Any, AnyArguments> {
        sqlx::query(AssertSqlSafe(self.sql(sql)))
    }

    pub fn query_as<T>(
        &self,
        sql: impl Into<Cow<'static, str>>,
    ) -> QueryAs<'static, Any, T, AnyArguments>
    where
        T: for<'r> FromRow<'r, AnyRow>,
    {
        sqlx::query_as(AssertSqlSafe(self.sql(sql)))
    }

    pub fn query_scalar<T>(
        &self,
        sql: impl Into<Cow<'static, str>>,
    ) -> QueryScalar<'static, Any, T, AnyArguments>
    where
        (T,): for<'r> FromRow<'r, AnyRow>,
    {
        sqlx::query_scalar(AssertSqlSafe(self.sql(sql)))
    }

    /// Starts a transaction that will write. On SQLite it takes the write lock up front
    /// (`BEGIN IMMEDIATE`), so concurrent writers wait on the busy timeout instead of failing
    /// when a read lock cannot be upgraded.
    pub async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Any>, sqlx::Error> {
        self.pool.begin_with(self.begin_write_sql()).await
    }

    /// The statement [`begin_write`](Self::begin_write) starts its transaction with, for a
    /// transaction on a connection already held.
    pub fn begin_write_sql(&self) -> &'static str {
        match self.engine {
            Engine::Sqlite => "BEGIN IMMEDIATE",
            _ => "BEGIN",
        }
    }

    /// Applies the pending migrations of `service`, in version order, each in a transaction
    /// where the engine allows (MySQL commits DDL implicitly).
    pub async fn migrate(
        &self,
        service: &'static str,
        migrations: &[Migration],
    ) -> Result<usize, DbError> {
        self.ensure_migration_table().await?;
        let applied = self.applied(service).await?;
        let mut count = 0;
        let mut bin = None;
        for m in migrations {
            if let Some((_, name)) = applied.iter().find(|(v, _)| *v == m.version) {
                if name != m.name {
                    return Err(DbError::MigrationMismatch {
                        service,
                        version: m.version,
                        found: name.clone(),
                        expected: m.name,
                    });
                }
                continue;
            }
            let fail = |source| DbError::Migration {
                service,
                version: m.version,
                name: m.name,
                source,
            };
            if bin.is_none() && m.sql.contains("{bin}") {
                bin = Some(self.binary_collation().await.map_err(fail)?);
            }
            let mut tx = self.pool.begin().await.map_err(fail)?;
            for stmt in split_statements(m.sql) {
                let stmt = self.expand_types(&stmt, bin.as_deref().unwrap_or_default());
                tx.execute(AssertSqlSafe(stmt)).await.map_err(fail)?;
            }
            sqlx::query(AssertSqlSafe(self.sql(
                "INSERT INTO oxstack_migrations (service, version, name, applied_at) VALUES (?, ?, ?, ?)",
            )))
            .bind(service)
            .bind(m.version)
            .bind(m.name)
            .bind(crate::time::now().timestamp_micros())
            .execute(&mut *tx)
            .await
            .map_err(fail)?;
            tx.commit().await.map_err(fail)?;
            tracing::info!(
                service,
                version = m.version,
                name = m.name,
                "applied migration"
            );
            count += 1;
        }
        Ok(count)
    }

    /// Versions of `migrations` not yet applied (for `oxstack doctor`).
    pub async fn pending(
        &self,
        service: &'static str,
        migrations: &[Migration],
    ) -> Result<Vec<i64>, DbError> {
        self.ensure_migration_table().await?;
        let applied = self.applied(service).await?;
        Ok(migrations
            .iter()
            .filter(|m| !applied.iter().any(|(v, _)| *v == m.version))
            .map(|m| m.version)
            .collect())
    }

    async fn ensure_migration_table(&self) -> Result<(), DbError> {
        self.pool
            .execute(
                "CREATE TABLE IF NOT EXISTS oxstack_migrations (\
                 service VARCHAR(64) NOT NULL, version BIGINT NOT NULL, name VARCHAR(255) NOT NULL, \
                 applied_at BIGINT NOT NULL, PRIMARY KEY (service, version))",
            )
            .await?;
        Ok(())
    }

    async fn applied(&self, service: &str) -> Result<Vec<(i64, String)>, DbError> {
        Ok(self
            .query_as::<(i64, String)>(
                "SELECT version, name FROM oxstack_migrations WHERE service = ? ORDER BY version",
            )
            .bind(service.to_string())
            .fetch_all(&self.pool)
            .await?)
    }

    /// What `{bin}` expands to: the column clause of the engine's binary collation.
    /// MariaDB's `utf8mb4_bin` pads with spaces (`a` equals `a ` and sorts after `a\t`), so
    /// its NO PAD twin `utf8mb4_nopad_bin` is used, or MySQL 8's `utf8mb4_0900_bin`; the
    /// character set is named too, as the collation needs it and a database's default may
    /// be another.
    async fn binary_collation(&self) -> Result<String, sqlx::Error> {
        Ok(match self.engine {
            Engine::Sqlite => "COLLATE BINARY".into(),
            Engine::Postgres => "COLLATE \"C\"".into(),
            Engine::MySql => {
                let found: Vec<String> = self
                    .query_scalar(
                        "SELECT COLLATION_NAME FROM information_schema.COLLATIONS \
                         WHERE COLLATION_NAME IN ('utf8mb4_nopad_bin', 'utf8mb4_0900_bin')",
                    )
                    .fetch_all(&self.pool)
                    .await?;
                let name = ["utf8mb4_nopad_bin", "utf8mb4_0900_bin"]
                    .into_iter()
                    .find(|c| found.iter().any(|f| f == c))
                    .unwrap_or("utf8mb4_bin");
                format!("CHARACTER SET utf8mb4 COLLATE {name}")
            }
        })
    }

    fn expand_types(&self, stmt: &str, bin: &str) -> String {
        let (blob, longtext) = match self.engine {
            Engine::Sqlite => ("BLOB", "TEXT"),
            Engine::MySql => ("LONGBLOB", "LONGTEXT"),
            Engine::Postgres => ("BYTEA", "TEXT"),
        };
        stmt.replace("{blob}", blob)
            .replace("{longtext}", longtext)
            .replace("{bin}", bin)
    }

    /// Whether `e` is a unique-constraint violation (a duplicate), on any engine.
    pub fn is_unique_violation(e: &sqlx::Error) -> bool {
        matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
    }

    /// Whether `e` is a foreign-key violation, on any engine.
    pub fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
        matches!(e, sqlx::Error::Database(d) if d.is_foreign_key_violation())
    }
}

/// `?` → `$n`, leaving `?` inside quoted strings and identifiers alone.
fn numbered_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    let mut quote: Option<char> = None;
    for c in sql.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '\'' | '"') => quote = Some(c),
            (None, '?') => {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    out
}

fn split_statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in sql.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("--") || trimmed.is_empty() {
            continue;
        }
        cur.push_str(line);
        cur.push('\n');
        if trimmed.ends_with(';') {
            let stmt = cur.trim().trim_end_matches(';').trim().to_string();
            if !stmt.is_empty() {
                out.push(stmt);
            }
            cur.clear();
        }
    }
    let rest = cur.trim().trim_end_matches(';').trim();
    if !rest.is_empty() {
        out.push(rest.to_string());
    }
    out
}

fn redact(url: &str) -> String {
    // scheme://user:password@host → scheme://user:***@host
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((auth, host)) = rest.split_once('@')
        && let Some((user, _)) = auth.split_once(':')
    {
        return format!("{scheme}://{user}:***@{host}");
    }
    url.to_string()
}

pub mod testing;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_outside_quotes() {
        assert_eq!(
            numbered_placeholders("SELECT '?' , a FROM t WHERE a = ? AND b = ?"),
            "SELECT '?' , a FROM t WHERE a = $1 AND b = $2"
        );
    }

    #[test]
    fn statements_split_on_line_ends() {
        let s = split_statements("-- c\nCREATE TABLE a (x BIGINT);\n\nCREATE INDEX i ON a (x);\n");
        assert_eq!(
            s,
            vec!["CREATE TABLE a (x BIGINT)", "CREATE INDEX i ON a (x)"]
        );
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("mysql://root:pw@h/db"), "mysql://root:***@h/db");
        assert_eq!(redact("sqlite:///x"), "sqlite:///x");
    }

    const MIGRATIONS: &[Migration] = &[
        Migration {
            version: 1,
            name: "things",
            sql: "CREATE TABLE test_things (id VARCHAR(64) NOT NULL PRIMARY KEY, n BIGINT NOT NULL, \
                  data {blob}, note {longtext});\nCREATE INDEX test_things_n ON test_things (n);",
        },
        Migration {
            version: 2,
            name: "more",
            sql: "ALTER TABLE test_things ADD COLUMN label VARCHAR(255)",
        },
    ];

    #[tokio::test]
    async fn migrations_and_queries_on_every_engine() {
        for t in testing::engines().await {
            let db = t.db();
            assert_eq!(
                db.migrate("test", MIGRATIONS).await.expect("migrate"),
                2,
                "{t:?}"
            );
            assert_eq!(db.migrate("test", MIGRATIONS).await.expect("re-migrate"), 0);
            assert!(
                db.pending("test", MIGRATIONS)
                    .await
                    .expect("pending")
                    .is_empty()
            );
            db.query("INSERT INTO test_things (id, n, data, label) VALUES (?, ?, ?, ?)")
                .bind("a")
                .bind(7_i64)
                .bind(vec![0u8, 1, 2])
                .bind("x")
                .execute(db.pool())
                .await
                .expect("insert");
            let dup = db
                .query("INSERT INTO test_things (id, n) VALUES (?, ?)")
                .bind("a")
                .bind(1_i64)
                .execute(db.pool())
                .await
                .expect_err("duplicate");
            assert!(Db::is_unique_violation(&dup), "{t:?}: {dup:?}");
            let (n, data, label): (i64, Vec<u8>, Option<String>) = db
                .query_as("SELECT n, data, label FROM test_things WHERE id = ?")
                .bind("a")
                .fetch_one(db.pool())
                .await
                .expect("select");
            assert_eq!((n, data, label.as_deref()), (7, vec![0, 1, 2], Some("x")));
            let count: i64 = db
                .query_scalar("SELECT COUNT(*) FROM test_things")
                .fetch_one(db.pool())
                .await
                .expect("count");
            assert_eq!(count, 1);
            let mismatch = [Migration {
                version: 1,
                name: "renamed",
                sql: "",
            }];
            assert!(matches!(
                db.migrate("test", &mismatch).await,
                Err(DbError::MigrationMismatch { .. })
            ));
            t.cleanup().await;
        }
    }

    #[tokio::test]
    async fn bin_columns_compare_by_bytes_on_every_engine() {
        const BIN: &[Migration] = &[Migration {
            version: 1,
            name: "names",
            sql: "CREATE TABLE test_names (name VARCHAR(64) {bin} NOT NULL PRIMARY KEY)",
        }];
        let mut names = [
            "B",
            "a",
            "A",
            "a ",
            "a\t",
            "Z",
            "é",
            "e",
            "_",
            "~",
            "ä",
            "\u{10FFFF}",
            "😀",
        ];
        names.sort_unstable();
        for t in testing::engines_with_locale().await {
            let db = t.db();
            db.migrate("test", BIN).await.expect("migrate");
            for n in names.iter().rev() {
                db.query("INSERT INTO test_names (name) VALUES (?)")
                    .bind(*n)
                    .execute(db.pool())
                    .await
                    .unwrap_or_else(|e| panic!("{t:?}: insert {n:?}: {e}"));
            }
            let sorted: Vec<String> = db
                .query_scalar("SELECT name FROM test_names ORDER BY name")
                .fetch_all(db.pool())
                .await
                .expect("select");
            assert_eq!(sorted, names, "{t:?}");
            let below: i64 = db
                .query_scalar("SELECT COUNT(*) FROM test_names WHERE name < ?")
                .bind("a")
                .fetch_one(db.pool())
                .await
                .expect("count");
            assert_eq!(below, 4, "{t:?}: A, B, Z and _ sort before a");
            t.cleanup().await;
        }
    }
}
