//! Fresh databases for tests: always an SQLite file in a temporary directory,
//! and a newly created PostgreSQL database when `CAREPATH_TEST_POSTGRES_URL`
//! names a server (e.g. `postgres://postgres@127.0.0.1:5432/test`). Each
//! PostgreSQL test database is dropped when its guard is dropped.

use crate::{Backend, Store};

/// The environment variable naming a PostgreSQL server for tests.
pub const PG_ENV: &str = "CAREPATH_TEST_POSTGRES_URL";

/// A migrated store on a throwaway database, dropped with the guard.
pub struct TestDb {
    pub store: Store,
    pub url: String,
    cleanup: Cleanup,
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
        TestDb {
            store,
            url,
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
    pub async fn postgres_at(admin_url: &str) -> crate::Result<TestDb> {
        let name = format!("carepath_test_{}", uuid::Uuid::now_v7().simple());
        {
            use sqlx::Connection;
            let mut c = sqlx::PgConnection::connect(admin_url).await?;
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut c)
                .await?;
        }
        let url = replace_db_name(admin_url, &name);
        let cleanup = Cleanup::Postgres {
            admin_url: admin_url.to_string(),
            name,
        };
        let store = Store::connect(&url).await?;
        store.migrate().await?;
        Ok(TestDb {
            store,
            url,
            cleanup,
        })
    }

    /// SQLite always, plus PostgreSQL when configured: the backends every
    /// storage test must pass on.
    pub async fn all() -> Vec<TestDb> {
        let mut v = vec![TestDb::sqlite().await];
        if let Some(pg) = TestDb::postgres().await {
            v.push(pg);
        }
        v
    }
}

/// Replace the database name (the path) in a PostgreSQL URL.
pub fn replace_db_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
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

#[cfg(test)]
mod tests {
    use super::replace_db_name;

    #[test]
    fn replaces_database_name() {
        assert_eq!(
            replace_db_name("postgres://u@h:5432/test", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            replace_db_name("postgres://u@h/test?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
        assert_eq!(
            replace_db_name("postgres://u@h:5432", "x"),
            "postgres://u@h:5432/x"
        );
    }
}
