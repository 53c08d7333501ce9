//! Throwaway databases for the benchmarks: an SQLite file in a temporary
//! directory, or a fresh database on a PostgreSQL server, dropped at the end.

use anyhow::Result;
use carepath_store::Store;

pub struct Scratch {
    pub store: Store,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
}

impl Scratch {
    pub async fn sqlite() -> Result<Scratch> {
        let dir = tempfile::tempdir()?;
        let store = Store::connect(&format!(
            "sqlite://{}",
            dir.path().join("bench.sqlite3").display()
        ))
        .await?;
        store.migrate().await?;
        Ok(Scratch {
            store,
            _dir: Some(dir),
            pg: None,
        })
    }

    pub async fn postgres(admin_url: &str) -> Result<Scratch> {
        use sqlx::Connection;
        let name = format!("carepath_bench_{}", uuid::Uuid::now_v7().simple());
        let mut c = sqlx::PgConnection::connect(admin_url).await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut c)
            .await?;
        let store = Store::connect(&carepath_store::postgres_url_for(admin_url, &name)).await?;
        store.migrate().await?;
        Ok(Scratch {
            store,
            _dir: None,
            pg: Some((admin_url.to_string(), name)),
        })
    }

    /// The scratch database's URL (PostgreSQL only).
    pub fn url(&self) -> Option<String> {
        self.pg
            .as_ref()
            .map(|(admin, name)| carepath_store::postgres_url_for(admin, name))
    }

    /// Close and drop the database.
    pub async fn drop_now(self) -> Result<()> {
        self.store.close().await;
        if let Some((admin, name)) = &self.pg {
            use sqlx::Connection;
            let mut c = sqlx::PgConnection::connect(admin).await?;
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut c)
            .await?;
        }
        Ok(())
    }
}
