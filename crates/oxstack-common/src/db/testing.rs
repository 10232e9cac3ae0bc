//! Fresh databases for tests, on every engine that is reachable.
//!
//! SQLite always; MariaDB (`OXSTEST_MYSQL_URL`, default `mysql://root@127.0.0.1:3306`)
//! and PostgreSQL (`OXSTEST_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432`)
//! when they answer. With `OXSTEST_ALL_ENGINES=1` (set by `scripts/test` and CI) an
//! unreachable server is a test failure rather than a skip. Each test database gets a unique
//! name and is dropped by [`TestDb::cleanup`].
//! [`engines_with_locale`] gives the servers' databases a linguistic default collation.

use super::{Db, Engine};

/// A database created for one test.
#[derive(Debug)]
pub struct TestDb {
    db: Db,
    engine: Engine,
    admin_url: Option<String>,
    name: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub fn db(&self) -> &Db {
        &self.db
    }
    pub fn engine(&self) -> Engine {
        self.engine
    }
    /// Closes the pool and drops the database.
    pub async fn cleanup(self) {
        self.db.close().await;
        if let Some(admin) = &self.admin_url
            && let Ok(a) = Db::connect(admin, 1).await
        {
            let _ = a
                .query(format!("DROP DATABASE IF EXISTS {}", self.name))
                .execute(a.pool())
                .await;
            a.close().await;
        }
    }
}

fn unique_name() -> String {
    format!("oxs_test_{}", uuid::Uuid::new_v4().simple())
}

fn require_all() -> bool {
    std::env::var("OXSTEST_ALL_ENGINES").is_ok_and(|v| v == "1")
}

/// A fresh SQLite database in a temporary directory.
pub async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("test.db").display());
    let db = Db::connect(&url, 4).await.expect("sqlite connect");
    TestDb {
        db,
        engine: Engine::Sqlite,
        admin_url: None,
        name: "test".into(),
        _dir: Some(dir),
    }
}

/// How a test database is created on a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Collation {
    /// The server's default.
    Default,
    /// A linguistic default collation, as deployments often have.
    Locale,
}

async fn server(
    engine: Engine,
    admin_url: String,
    db_url: impl Fn(&str) -> String,
    collation: Collation,
) -> Option<TestDb> {
    let admin = match Db::connect(&admin_url, 1).await {
        Ok(a) => a,
        Err(e) if require_all() => panic!("{engine:?} test server unreachable: {e}"),
        Err(_) => return None,
    };
    let name = unique_name();
    let create = format!("CREATE DATABASE {name}");
    let locale = match (collation, engine) {
        (Collation::Default, _) | (_, Engine::Sqlite) => None,
        // Case- and accent-insensitive, whatever this server's default is.
        (Collation::Locale, Engine::MySql) => Some(format!(
            "{create} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        )),
        // ICU (PostgreSQL 15+), as the libc locales installed vary by machine.
        (Collation::Locale, Engine::Postgres) => Some(format!(
            "{create} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'"
        )),
    };
    let mut created = false;
    if let Some(sql) = locale {
        match admin.query(sql).execute(admin.pool()).await {
            Ok(_) => created = true,
            Err(e) if require_all() => panic!("{engine:?}: no locale-collated test database: {e}"),
            Err(e) => eprintln!("{engine:?}: no locale-collated test database ({e}); default used"),
        }
    }
    if !created {
        admin
            .query(create)
            .execute(admin.pool())
            .await
            .expect("create test database");
    }
    admin.close().await;
    let db = Db::connect(&db_url(&name), 4)
        .await
        .expect("connect to test database");
    Some(TestDb {
        db,
        engine,
        admin_url: Some(admin_url),
        name,
        _dir: None,
    })
}

/// One fresh database per reachable engine.
pub async fn engines() -> Vec<TestDb> {
    engines_collated(Collation::Default).await
}

/// Like [`engines`], but the server databases default to a linguistic collation, as
/// deployments' databases often do (MariaDB `utf8mb4_unicode_ci`, case-insensitive; PostgreSQL ICU
/// `en-US`): for tests of columns that must compare and sort by bytes (`{bin}`), which
/// would pass on a server whose default happens to be binary. Falls back to the default
/// (with a note on stderr; a failure under `OXSTEST_ALL_ENGINES=1`) where the server cannot
/// create such a database.
pub async fn engines_with_locale() -> Vec<TestDb> {
    engines_collated(Collation::Locale).await
}

async fn engines_collated(collation: Collation) -> Vec<TestDb> {
    let mut out = vec![sqlite().await];
    let my =
        std::env::var("OXSTEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into());
    let my = my.trim_end_matches('/').to_string();
    if let Some(t) = server(
        Engine::MySql,
        my.clone(),
        |n| format!("{my}/{n}"),
        collation,
    )
    .await
    {
        out.push(t);
    }
    let pg = std::env::var("OXSTEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let pg = pg.trim_end_matches('/').to_string();
    let pg_admin = format!("{pg}/postgres");
    if let Some(t) = server(
        Engine::Postgres,
        pg_admin,
        |n| format!("{pg}/{n}"),
        collation,
    )
    .await
    {
        out.push(t);
    }
    out
}
