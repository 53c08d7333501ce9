//! Consistent snapshots of the database while the server runs.

use crate::{Db, Result, Store, StoreError};
use std::path::Path;

impl Store {
    /// Write a consistent copy of an SQLite database to `dest` with
    /// `VACUUM INTO`, which reads one snapshot under WAL without blocking the
    /// writer for long. `dest` must not exist.
    pub async fn sqlite_snapshot(&self, dest: &Path) -> Result<()> {
        match &self.db {
            Db::Sqlite { reader, .. } => {
                let d = dest
                    .to_str()
                    .ok_or_else(|| StoreError::Config("backup path must be UTF-8".into()))?;
                sqlx::query("VACUUM INTO $1")
                    .bind(d)
                    .execute(reader)
                    .await?;
                Ok(())
            }
            Db::Postgres(_) => Err(StoreError::Config(
                "snapshot of PostgreSQL is taken with pg_dump".into(),
            )),
        }
    }

    /// `PRAGMA integrity_check` on SQLite; `Ok(())` when the file is sound.
    pub async fn sqlite_integrity_check(&self) -> Result<()> {
        match &self.db {
            Db::Sqlite { reader, .. } => {
                let (r,): (String,) = sqlx::query_as("PRAGMA integrity_check")
                    .fetch_one(reader)
                    .await?;
                if r == "ok" {
                    Ok(())
                } else {
                    Err(StoreError::Refused(format!("integrity check failed: {r}")))
                }
            }
            Db::Postgres(_) => Ok(()),
        }
    }
}
