//! Fresh databases for tests: always an SQLite file in a temporary directory,
//! and a newly created PostgreSQL database when `CAREPATH_TEST_POSTGRES_URL`
//! names a server (e.g. `postgres://postgres@127.0.0.1:5432/test`). Each
//! PostgreSQL test database is dropped when its guard is dropped.

use carepath_domain::audit::AuditKey;
use carepath_store::{Backend, Store};

/// The environment variable naming a PostgreSQL server for tests.
pub const PG_ENV: &str = "CAREPATH_TEST_POSTGRES_URL";

/// A migrated store on a throwaway database, dropped with the guard.
pub struct TestDb {
    /// Sealing its audit chain with [`TestDb::key`] from the first event.
    pub store: Store,
    pub url: String,
    /// The installation key of this throwaway installation (random).
    pub key: AuditKey,
    cleanup: Cleanup,
}

/// A random installation key, and the store sealing with it from its first
/// event (as `carepath migrate` does for a new installation).
async fn keyed(store: Store) -> carepath_store::Result<(Store, AuditKey)> {
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    let key = AuditKey::from_bytes(b);
    let store = store.with_key(key.clone());
    store
        .ensure_keyed(carepath_app::clock::Clock::now_us(
            &carepath_app::clock::SystemClock,
        ))
        .await?;
    Ok((store, key))
}

enum Cleanup {
    /// Removed when dropped.
    Dir(#[allow(dead_code)] tempfile::TempDir),
    Postgres {
        admin_url: String,
        name: String,
    },
}

impl TestDb {
    pub fn backend(&self) -> Backend {
        self.store.backend()
    }

    /// A fresh migrated SQLite database in its own directory.
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::Builder::new()
            .prefix("carepath-test-")
            .tempdir()
            .expect("create temp dir");
        let url = format!("sqlite://{}", dir.path().join("carepath.sqlite3").display());
        let store = Store::connect(&url).await.expect("open sqlite");
        store.migrate().await.expect("migrate sqlite");
        let (store, key) = keyed(store).await.expect("key the chain");
        TestDb {
            store,
            url,
            key,
            cleanup: Cleanup::Dir(dir),
        }
    }

    /// A fresh migrated PostgreSQL database, if `CAREPATH_TEST_POSTGRES_URL` is set.
    pub async fn postgres() -> Option<TestDb> {
        let admin_url = std::env::var(PG_ENV).ok().filter(|s| !s.is_empty())?;
        Some(
            TestDb::postgres_at(&admin_url).await.unwrap_or_else(|e| {
                panic!("{PG_ENV} is set but no test database could be made: {e}")
            }),
        )
    }

    /// A fresh migrated database on the PostgreSQL server `admin_url` names
    /// (tests and benchmarks), dropped with the guard.
    pub async fn postgres_at(admin_url: &str) -> carepath_store::Result<TestDb> {
        let name = format!("carepath_test_{}", uuid::Uuid::now_v7().simple());
        {
            use sqlx::Connection;
            let mut c = sqlx::PgConnection::connect(admin_url).await?;
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut c)
                .await?;
        }
        let url = carepath_store::postgres_url_for(admin_url, &name);
        let cleanup = Cleanup::Postgres {
            admin_url: admin_url.to_string(),
            name,
        };
        let store = Store::connect(&url).await?;
        store.migrate().await?;
        let (store, key) = keyed(store).await?;
        Ok(TestDb {
            store,
            url,
            key,
            cleanup,
        })
    }

    /// A fresh database of the given backend; `None` for PostgreSQL when no
    /// server is configured (the test then passes with a note on stderr).
    pub async fn of(backend: Backend) -> Option<TestDb> {
        match backend {
            Backend::Sqlite => Some(TestDb::sqlite().await),
            Backend::Postgres => {
                let db = TestDb::postgres().await;
                if db.is_none() {
                    eprintln!("{PG_ENV} is not set: the PostgreSQL half of this test did not run");
                }
                db
            }
        }
    }

    /// Run raw SQL on a separate connection, bypassing the store (tamper
    /// drills: proving the database's own rules and `audit verify` catch an
    /// edit). Returns the rows affected.
    pub async fn exec_raw(&self, sql: &str) -> Result<u64, sqlx::Error> {
        use sqlx::Connection;
        let sql = sqlx::AssertSqlSafe(sql.to_string());
        match self.backend() {
            Backend::Sqlite => {
                let mut c = sqlx::SqliteConnection::connect(&self.url).await?;
                Ok(sqlx::raw_sql(sql).execute(&mut c).await?.rows_affected())
            }
            Backend::Postgres => {
                let mut c = sqlx::PgConnection::connect(&self.url).await?;
                Ok(sqlx::raw_sql(sql).execute(&mut c).await?.rows_affected())
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Cleanup::Postgres { admin_url, name } = &self.cleanup {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Drop on a separate thread with its own runtime: Drop cannot await.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                if let Ok(rt) = rt {
                    rt.block_on(async {
                        use sqlx::Connection;
                        if let Ok(mut c) = sqlx::PgConnection::connect(&admin_url).await {
                            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            )))
                            .execute(&mut c)
                            .await;
                        }
                    });
                }
            })
            .join();
        }
    }
}
