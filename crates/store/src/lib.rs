//! Carepath storage: one schema on SQLite (embedded, the default) and PostgreSQL.
//!
//! Every query is written once, with `$1`-style placeholders that both backends
//! accept, and expanded for each backend by the [`with_reader!`] and [`with_tx!`]
//! macros below. What differs per backend is confined to this file: how
//! connections are opened, how a write transaction begins, and backups.
//!
//! SQLite: WAL, `synchronous=FULL` (a committed dose survives power loss), one
//! writer connection whose transactions all start `BEGIN IMMEDIATE` (so writers
//! queue instead of failing with SQLITE_BUSY), plus a pool of read-only readers.
//! PostgreSQL: one pool; races are closed with unique constraints and by locking
//! the audit-chain head row.
//!
//! Every write that touches patient or security data takes the audit event that
//! describes it and appends it to the hash chain *in the same transaction*.

use carepath_domain::audit::{self, NewEvent};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// Run `$body` with `$c` bound to a read pool of whichever backend is in use.
macro_rules! with_reader {
    ($store:expr, $c:ident => $body:expr) => {
        match &$store.db {
            $crate::Db::Sqlite { reader, .. } => {
                let $c = reader;
                $body
            }
            $crate::Db::Postgres(pool) => {
                let $c = pool;
                $body
            }
        }
    };
}

/// Run `$body` inside a write transaction bound to `$tx`, committing when it
/// completes. An early return (`?`) rolls back. On SQLite the transaction begins
/// `BEGIN IMMEDIATE` on the single writer connection.
macro_rules! with_tx {
    ($store:expr, $tx:ident => $body:expr) => {
        match &$store.db {
            $crate::Db::Sqlite { writer, .. } => {
                #[allow(unused_mut)]
                let mut $tx = writer.begin_with("BEGIN IMMEDIATE").await?;
                let out = $body;
                $tx.commit().await?;
                out
            }
            $crate::Db::Postgres(pool) => {
                #[allow(unused_mut)]
                let mut $tx = pool.begin().await?;
                let out = $body;
                $tx.commit().await?;
                out
            }
        }
    };
}

/// Append an audit event inside the open transaction `$tx`; yields its sequence number.
/// The head row is advanced first, which locks it on PostgreSQL until commit, so
/// concurrent appends form one linear chain on both backends.
macro_rules! append_audit {
    ($tx:ident, $ev:expr) => {{
        let ev: carepath_domain::audit::NewEvent = $ev;
        let (seq, prev): (i64, String) =
            sqlx::query_as("UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash")
                .fetch_one(&mut *$tx)
                .await?;
        let sealed = carepath_domain::audit::seal(
            seq - 1,
            &prev,
            uuid::Uuid::now_v7().to_string(),
            $crate::now_us(),
            ev,
        );
        sqlx::query(
            "INSERT INTO audit_event (seq, id, at_us, user_id, username, role, program_id, patient_id, \
             action, object_type, object_id, client_addr, outcome, detail, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        )
        .bind(sealed.seq)
        .bind(&sealed.id)
        .bind(sealed.at_us)
        .bind(&sealed.event.user_id)
        .bind(&sealed.event.username)
        .bind(&sealed.event.role)
        .bind(&sealed.event.program_id)
        .bind(&sealed.event.patient_id)
        .bind(&sealed.event.action)
        .bind(&sealed.event.object_type)
        .bind(&sealed.event.object_id)
        .bind(&sealed.event.client_addr)
        .bind(sealed.event.outcome.as_str())
        .bind(&sealed.event.detail)
        .bind(&sealed.prev_hash)
        .bind(&sealed.hash)
        .execute(&mut *$tx)
        .await?;
        sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
            .bind(&sealed.hash)
            .execute(&mut *$tx)
            .await?;
        sealed.seq
    }};
}

pub mod audit_log;
pub mod backup;
pub mod finder;
pub mod patients;
pub mod programs;
pub mod records;
pub mod referrals;
pub mod sessions;
pub mod testing;
pub mod users;

pub use audit_log::{AuditFilter, AuditPage};
pub use patients::{CensusRow, Episode, Patient, PatientSearch};
pub use programs::{Organization, Program};
pub use records::{
    Author, CalendarSession, Disclosure, NewRecord, NewSignature, Pending, Record, Signature,
};
pub use sessions::{ApiToken, Session};
pub use users::{BreakGlassGrant, User};

/// Errors from the store. `NotFound` and `Conflict` are for callers to map to
/// 404 and 409; everything else is an internal error (logged, never shown).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("refused by the database: {0}")]
    Refused(String),
    #[error("corrupt stored value in {0}")]
    Corrupt(&'static str),
    #[error("database error: {0}")]
    Db(sqlx::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    Config(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(d) if d.is_unique_violation() => {
                StoreError::Conflict(d.constraint().unwrap_or("unique").to_string())
            }
            sqlx::Error::Database(d)
                if d.message().contains("append-only")
                    || d.message().contains("never deleted")
                    || d.message().contains("only change") =>
            {
                StoreError::Refused(d.message().to_string())
            }
            _ => StoreError::Db(e),
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Which database is behind a [`Store`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub(crate) enum Db {
    Sqlite {
        writer: SqlitePool,
        reader: SqlitePool,
        path: PathBuf,
    },
    Postgres(PgPool),
}

/// The storage handle: cheap to clone, shared by every request.
#[derive(Clone)]
pub struct Store {
    pub(crate) db: Db,
    url_redacted: String,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("url", &self.url_redacted)
            .finish()
    }
}

/// Current time as UTC microseconds since the epoch.
pub fn now_us() -> i64 {
    jiff::Timestamp::now().as_microsecond()
}

fn redact(url: &str) -> String {
    // Hide any password in `scheme://user:password@host`.
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}://{}:***{}", &url[..s], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

impl Store {
    /// Open the database named by `url` (`sqlite://PATH` or `postgres://…`),
    /// creating an SQLite file if missing. Does not migrate.
    pub async fn connect(url: &str) -> Result<Store> {
        let db = if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // Durable commits: a recorded dose survives power loss.
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(30))
                .pragma("temp_store", "memory");
            let path = opts.get_filename().to_path_buf();
            // Exactly one writer connection: writers queue in the pool instead of
            // contending for SQLite's lock.
            let writer = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .acquire_timeout(Duration::from_secs(60))
                .connect_with(opts.clone())
                .await?;
            let reader = SqlitePoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(opts.read_only(true))
                .await?;
            Db::Sqlite {
                writer,
                reader,
                path,
            }
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let opts = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(opts)
                .await?;
            Db::Postgres(pool)
        } else {
            return Err(StoreError::Config(format!(
                "unsupported database URL {:?}: use sqlite://PATH or postgres://…",
                redact(url)
            )));
        };
        Ok(Store {
            db,
            url_redacted: redact(url),
        })
    }

    pub fn backend(&self) -> Backend {
        match self.db {
            Db::Sqlite { .. } => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// The SQLite file, if this is an SQLite store.
    pub fn sqlite_path(&self) -> Option<&std::path::Path> {
        match &self.db {
            Db::Sqlite { path, .. } => Some(path),
            Db::Postgres(_) => None,
        }
    }

    /// Apply pending schema migrations.
    pub async fn migrate(&self) -> Result<()> {
        match &self.db {
            Db::Sqlite { writer, .. } => sqlx::migrate!("./migrations/sqlite").run(writer).await?,
            Db::Postgres(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    /// Whether the database answers (for `/readyz`).
    pub async fn ping(&self) -> Result<()> {
        with_reader!(self, c => {
            sqlx::query("SELECT 1").execute(c).await?;
        });
        Ok(())
    }

    /// Close all connections (lets SQLite checkpoint the WAL).
    pub async fn close(&self) {
        match &self.db {
            Db::Sqlite { writer, reader, .. } => {
                reader.close().await;
                writer.close().await;
            }
            Db::Postgres(p) => p.close().await,
        }
    }

    /// Append one audit event in its own transaction (reads, logins, denials).
    pub async fn audit(&self, ev: NewEvent) -> Result<i64> {
        let seq = with_tx!(self, tx => append_audit!(tx, ev));
        Ok(seq)
    }
}

/// Parse a stored identifier, treating failure as corruption.
pub(crate) fn parse_id<T: FromStr>(s: &str, what: &'static str) -> Result<T> {
    s.parse().map_err(|_| StoreError::Corrupt(what))
}

pub use audit::Outcome;
