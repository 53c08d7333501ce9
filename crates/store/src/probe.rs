//! The storage limit, for benchmarks: bare durable single-row inserts into
//! the same database, through the same pools and with the same durability
//! settings the services use (SQLite: WAL, `synchronous=FULL`, one writer;
//! PostgreSQL: the default `synchronous_commit=on`). Each insert is its own
//! committed transaction — what one fsync per write costs.

use crate::{Db, Result};
use std::time::{Duration, Instant};

impl crate::Store {
    /// Insert `n` rows, one per transaction, from `concurrency` tasks; the
    /// wall time. Uses a scratch table `bench_probe` created if missing.
    pub async fn durable_insert_probe(&self, n: usize, concurrency: usize) -> Result<Duration> {
        let ddl = "CREATE TABLE IF NOT EXISTS bench_probe (id TEXT PRIMARY KEY, v BIGINT NOT NULL)";
        match &self.db {
            Db::Sqlite { writer, .. } => {
                sqlx::query(ddl).execute(writer).await?;
            }
            Db::Postgres(pool) => {
                sqlx::query(ddl).execute(pool).await?;
            }
        }
        let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let t = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..concurrency.max(1) {
            let next = next.clone();
            let db = self.db.clone();
            tasks.spawn(async move {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= n {
                        return Ok::<(), crate::StoreError>(());
                    }
                    let id = uuid::Uuid::now_v7().to_string();
                    let sql = "INSERT INTO bench_probe (id, v) VALUES ($1, $2)";
                    match &db {
                        Db::Sqlite { writer, .. } => {
                            sqlx::query(sql)
                                .bind(&id)
                                .bind(i as i64)
                                .execute(writer)
                                .await?;
                        }
                        Db::Postgres(pool) => {
                            sqlx::query(sql)
                                .bind(&id)
                                .bind(i as i64)
                                .execute(pool)
                                .await?;
                        }
                    }
                }
            });
        }
        while let Some(r) = tasks.join_next().await {
            r.map_err(|e| crate::StoreError::Config(e.to_string()))??;
        }
        Ok(t.elapsed())
    }
}
