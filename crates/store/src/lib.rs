//! Carepath storage: one schema on SQLite (embedded, the default) and PostgreSQL.
//!
//! Every query is written once, with `$1`-style placeholders that both backends
//! accept, and expanded for each backend by the macros below. What differs per
//! backend is confined to this file: how connections are opened, how a write
//! transaction begins, the one dialect escape hatch ([`Tx::lock`]), and backups.
//!
//! **Reads** run on [`Store`] (SQLite: a pool of read-only connections).
//! **Writes** run in a unit of work: [`Store::begin`] opens a [`Tx`], the
//! caller runs as many statements as the change needs, queues the audit
//! event(s) describing it with [`Tx::audit`], and [`Tx::commit`] appends them
//! to the hash chain *last* and commits everything together — so the chain
//! head's lock (PostgreSQL) is held only for the end of the transaction.
//! Dropping a `Tx` without committing rolls it back.
//!
//! The store never reads the clock: the caller passes the time in
//! ([`Store::begin`] takes `now`, the transaction's recorded time).
//!
//! SQLite: WAL, `synchronous=FULL` (a committed dose survives power loss), one
//! writer connection whose transactions all start `BEGIN IMMEDIATE` (so writers
//! queue instead of failing with SQLITE_BUSY), plus a pool of read-only readers.
//! Concurrent units of work are group-committed (`group`): each runs in its own
//! savepoint of a shared transaction, which commits once for all of them
//! before any is acknowledged.
//! PostgreSQL: one pool; races are closed with unique constraints, advisory
//! locks ([`Tx::lock`]) and by locking the audit-chain head row.

use carepath_domain::audit::NewEvent;
use carepath_domain::ids::PatientId;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// Run `$body` with `$c` bound to a read pool of whichever backend is in use.
/// `$c` is a shared pool reference (use it as the executor directly).
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

/// Run `$body` with `$c` bound to the open transaction's connection
/// (`&mut …Connection`: pass `&mut *$c` to each statement).
macro_rules! on_tx {
    ($tx:expr, $c:ident => $body:expr) => {
        match &mut $tx.conn {
            $crate::TxConn::Sqlite(t) => {
                #[allow(unused_mut)]
                let mut $c: &mut sqlx::SqliteConnection = &mut *t;
                $body
            }
            $crate::TxConn::Postgres(t) => {
                #[allow(unused_mut)]
                let mut $c: &mut sqlx::PgConnection = &mut *t;
                $body
            }
        }
    };
}

/// Run a read `$body` either on the store's read pool or inside an open
/// transaction ([`Src`]), so a query needed in both places is written once.
/// `$c` must be used exactly once in `$body` (it is a pool reference or a
/// mutable connection borrow).
macro_rules! with_src {
    ($src:expr, $c:ident => $body:expr) => {
        match $src {
            $crate::Src::Store(s) => with_reader!(s, $c => $body),
            $crate::Src::Tx(t) => match &mut t.conn {
                $crate::TxConn::Sqlite(x) => {
                    let $c: &mut sqlx::SqliteConnection = &mut *x;
                    $body
                }
                $crate::TxConn::Postgres(x) => {
                    let $c: &mut sqlx::PgConnection = &mut *x;
                    $body
                }
            },
        }
    };
}

pub mod audit_log;
pub mod backup;
pub mod cm;
pub mod dashboard;
pub mod dosing;
pub mod drafts;
pub mod drugtest;
pub mod finder;
mod group;
pub mod integrity;
pub mod patients;
pub mod portal;
mod probe;
pub mod programs;
pub mod records;
mod refcache;
pub mod referrals;
pub mod sessions;
pub mod takehome;
pub mod users;
pub mod window;

pub use audit_log::{AuditFilter, AuditPage, VerifyResult};
pub use patients::{CensusRow, Episode, Patient, PatientSearch};
pub use programs::{NewProgram, Organization, Program, ProgramProtocol};
pub use records::{
    Author, CalendarSession, Disclosure, NewRecord, NewSignature, Pending, Record, Signature,
};
pub use referrals::{Listing, NewReferral, Referral};
pub use sessions::{ApiToken, Session};
pub use users::{BreakGlassGrant, FailureOutcome, Grant, OrgGrant, User};

/// The SQLSTATE our PostgreSQL triggers raise when they refuse a change
/// (append-only tables, an episode discharged twice). SQLite's triggers raise
/// `SQLITE_CONSTRAINT_TRIGGER` (extended code 1811).
pub const REFUSED_SQLSTATE: &str = "ZR001";
const SQLITE_CONSTRAINT_TRIGGER: &str = "1811";

/// Errors from the store. `NotFound`, `Conflict` and `Refused` are for the
/// application to turn into what they mean; everything else is internal
/// (logged, never shown).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A unique constraint (named as in the schema, on both backends) or a
    /// compare-and-set that found the row already changed.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A database rule refused the change (a trigger: append-only tables, an
    /// episode discharged twice) or a CHECK constraint.
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

impl StoreError {
    /// Whether this is a conflict on the named constraint.
    pub fn is_conflict(&self, constraint: &str) -> bool {
        matches!(self, StoreError::Conflict(c) if c == constraint)
    }
}

impl From<sqlx::Error> for StoreError {
    /// Classify by error code and constraint name, never by message text.
    fn from(e: sqlx::Error) -> Self {
        use sqlx::error::ErrorKind;
        match &e {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::ColumnDecode { .. } => StoreError::Corrupt("a stored column"),
            sqlx::Error::Database(d) => match d.kind() {
                ErrorKind::UniqueViolation => {
                    StoreError::Conflict(d.constraint().unwrap_or("unique").to_string())
                }
                ErrorKind::CheckViolation => {
                    StoreError::Refused(d.constraint().unwrap_or("check").to_string())
                }
                _ => match d.code().as_deref() {
                    Some(REFUSED_SQLSTATE) | Some(SQLITE_CONSTRAINT_TRIGGER) => {
                        StoreError::Refused(d.message().to_string())
                    }
                    _ => StoreError::Db(e),
                },
            },
            _ => StoreError::Db(e),
        }
    }
}

/// A unique violation from a statement that can hit only one constraint,
/// named `constraint` (PostgreSQL names it itself; SQLite does not, so the
/// statement's author names it).
pub(crate) fn conflict_on(constraint: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| match StoreError::from(e) {
        StoreError::Conflict(c) if c == "unique" => StoreError::Conflict(constraint.into()),
        other => other,
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
        /// Units of work share transactions through this (group commit).
        group: std::sync::Arc<group::GroupCommit>,
        reader: SqlitePool,
        path: PathBuf,
    },
    Postgres(PgPool),
}

/// The storage handle: cheap to clone, shared by every request.
#[derive(Clone)]
pub struct Store {
    pub(crate) db: Db,
    url_redacted: std::sync::Arc<str>,
    /// The installation's audit key: events are sealed with it when set.
    pub(crate) key: Option<std::sync::Arc<carepath_domain::audit::AuditKey>>,
    /// Programs' reference data (program, protocol, formulary, closures).
    pub(crate) refs: std::sync::Arc<refcache::RefCache>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("url", &self.url_redacted)
            .finish()
    }
}

pub(crate) enum TxConn {
    /// A unit of work inside a group-committed SQLite transaction.
    Sqlite(group::Lease),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

/// A unit of work: one database transaction, the time it records, and the
/// audit events to append when it commits. Dropped without [`Tx::commit`], it
/// rolls back and nothing is written (nor audited).
pub struct Tx {
    pub(crate) conn: TxConn,
    now: i64,
    events: Vec<NewEvent>,
    key: Option<std::sync::Arc<carepath_domain::audit::AuditKey>>,
    /// Clinical rows written in this unit of work, (table, key): their
    /// digests go into its audit events at commit.
    pub(crate) touched: Vec<(&'static str, String)>,
    refs: std::sync::Arc<refcache::RefCache>,
    /// This unit of work writes programs' reference data (see `refcache`).
    changes_reference: bool,
}

/// Where a read runs: the read pool, or inside an open transaction.
pub(crate) enum Src<'a> {
    Store(&'a Store),
    Tx(&'a mut Tx),
}

/// Proof that the application's patient access path opened this patient for
/// writing. Every statement that writes into a patient's record takes one and
/// refuses a row of any other patient. Only the application crate's access
/// module constructs it (`carepath-app` checks that with a source test).
#[derive(Debug, Clone, Copy)]
pub struct PatientWrite {
    patient: PatientId,
}

impl PatientWrite {
    /// For the access path only (see the type's documentation).
    #[doc(hidden)]
    pub fn granted_by_access_path(patient: PatientId) -> Self {
        PatientWrite { patient }
    }
    pub fn patient(&self) -> PatientId {
        self.patient
    }
    pub(crate) fn check(&self, patient: PatientId) -> Result<()> {
        if patient == self.patient {
            Ok(())
        } else {
            Err(StoreError::Refused(
                "a write into another patient's record than the one opened".into(),
            ))
        }
    }
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

/// The URL of database `name` on the PostgreSQL server `url` names (the
/// path replaced; query parameters kept). For tools that make scratch
/// databases (tests, benchmarks).
pub fn postgres_url_for(url: &str, name: &str) -> String {
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

/// `$from, $from+1, …` for an `IN` list of `n` values (both backends accept
/// numbered placeholders).
pub(crate) fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
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
                group: group::GroupCommit::new(writer.clone()),
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
            url_redacted: redact(url).into(),
            key: None,
            refs: Default::default(),
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

    /// SQLite's group commit so far: (transactions committed, units of work
    /// they carried). `None` on PostgreSQL (one transaction per unit).
    pub fn group_commit_stats(&self) -> Option<(u64, u64)> {
        match &self.db {
            Db::Sqlite { group, .. } => Some(group.stats()),
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

    /// Begin a unit of work recorded at `now` (UTC microseconds). On SQLite
    /// the unit is a savepoint inside a `BEGIN IMMEDIATE` transaction on the
    /// single writer, shared with the units that run just before and after
    /// it (group commit; [`Tx::commit`] returns once that transaction is
    /// durable).
    pub async fn begin(&self, now: i64) -> Result<Tx> {
        let conn = match &self.db {
            Db::Sqlite { group, .. } => TxConn::Sqlite(group.begin().await?),
            Db::Postgres(pool) => TxConn::Postgres(pool.begin().await?),
        };
        Ok(Tx {
            conn,
            now,
            events: vec![],
            key: self.key.clone(),
            touched: vec![],
            refs: self.refs.clone(),
            changes_reference: false,
        })
    }

    /// Append one audit event in its own transaction (reads, logins, denials).
    pub async fn audit(&self, ev: NewEvent, now: i64) -> Result<()> {
        let mut tx = self.begin(now).await?;
        tx.audit(ev);
        tx.commit().await
    }
}

impl Tx {
    /// The time this unit of work records (UTC microseconds).
    pub fn now(&self) -> i64 {
        self.now
    }

    /// Mark this unit of work as changing programs' reference data (the
    /// program, its protocol, formulary or closure days): its commit makes
    /// every cached copy stale.
    pub(crate) fn changes_reference(&mut self) {
        self.changes_reference = true;
    }

    /// Queue an audit event; it is appended to the chain at commit.
    pub fn audit(&mut self, ev: NewEvent) {
        self.events.push(ev);
    }

    /// Serialize units of work that check-then-write the same thing (e.g. the
    /// doses given against one order today) until this transaction ends.
    /// PostgreSQL: a transaction-scoped advisory lock on the key's hash.
    /// SQLite: nothing to do — every write transaction holds the database's
    /// write lock from `BEGIN IMMEDIATE`. The dialect escape hatch.
    pub async fn lock(&mut self, key: &str) -> Result<()> {
        if let TxConn::Postgres(t) = &mut self.conn {
            use sha2::{Digest, Sha256};
            let h = Sha256::digest(key.as_bytes());
            let k = i64::from_be_bytes(h[..8].try_into().expect("8 bytes"));
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(k)
                .execute(&mut **t)
                .await?;
        }
        Ok(())
    }

    /// Append the queued audit events (last, so the chain head is locked only
    /// briefly) and commit. Returns the last sequence number appended.
    pub async fn commit(mut self) -> Result<()> {
        let mut events = std::mem::take(&mut self.events);
        let touched = std::mem::take(&mut self.touched);
        if !touched.is_empty() {
            let digests = integrity::digests_in(&mut self, &touched).await?;
            integrity::attach(&mut events, digests);
        }
        self.append_audit(events).await?;
        let (refs, changed) = (self.refs.clone(), self.changes_reference);
        let r = match self.conn {
            // Returns once the batch holding this unit is durable.
            TxConn::Sqlite(t) => t.commit().await,
            TxConn::Postgres(t) => t.commit().await.map_err(StoreError::from),
        };
        // Bumped whatever the outcome: a failed commit's change may still
        // have landed (a lost acknowledgement), so nothing cached survives.
        if changed {
            refs.bump();
        }
        r?;
        Ok(())
    }

    /// Seal a unit of work's events onto the chain: three statements
    /// however many there are. The head row is advanced first (by all of
    /// them), which locks it on PostgreSQL until commit, so concurrent
    /// appends form one linear chain on both backends; then one insert of
    /// every sealed event; then the head takes the last hash.
    async fn append_audit(&mut self, events: Vec<NewEvent>) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let now = self.now;
        let n = events.len() as i64;
        let key = self.key.clone();
        on_tx!(self, c => {
            let (last, head): (i64, String) = sqlx::query_as(
                "UPDATE audit_head SET seq = seq + $1 WHERE id = 1 RETURNING seq, hash",
            )
            .bind(n)
            .fetch_one(&mut *c)
            .await?;
            let mut prev = head;
            let mut sealed = Vec::with_capacity(events.len());
            for (k, ev) in events.into_iter().enumerate() {
                let e = carepath_domain::audit::seal(
                    last - n + k as i64,
                    &prev,
                    uuid::Uuid::now_v7().to_string(),
                    now,
                    ev,
                    key.as_deref(),
                );
                prev = e.hash.clone();
                sealed.push(e);
            }
            // 17 parameters a row: 500 rows stay under both databases'
            // limits on parameters per statement.
            const COLS: usize = 17;
            for chunk in sealed.chunks(500) {
            let rows: Vec<String> = (0..chunk.len())
                .map(|r| format!("({})", placeholders(1 + r * COLS, COLS)))
                .collect();
            let sql = format!(
                "INSERT INTO audit_event (seq, id, at_us, user_id, username, role, program_id, patient_id, \
                 action, object_type, object_id, client_addr, outcome, detail, prev_hash, hash, digests) \
                 VALUES {}",
                rows.join(", ")
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for e in chunk {
                q = q
                    .bind(e.seq)
                    .bind(&e.id)
                    .bind(e.at_us)
                    .bind(&e.event.user_id)
                    .bind(&e.event.username)
                    .bind(&e.event.role)
                    .bind(&e.event.program_id)
                    .bind(&e.event.patient_id)
                    .bind(&e.event.action)
                    .bind(&e.event.object_type)
                    .bind(&e.event.object_id)
                    .bind(&e.event.client_addr)
                    .bind(e.event.outcome.as_str())
                    .bind(&e.event.detail)
                    .bind(&e.prev_hash)
                    .bind(&e.hash)
                    .bind(&e.event.digests);
            }
            q.execute(&mut *c).await?;
            }
            sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
                .bind(&prev)
                .execute(&mut *c)
                .await?;
            Ok(())
        })
    }
}

pub use carepath_domain::audit::Outcome;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_number_from_the_given_position() {
        assert_eq!(placeholders(1, 3), "$1, $2, $3");
        assert_eq!(placeholders(4, 2), "$4, $5");
        assert_eq!(placeholders(1, 0), "");
    }

    #[test]
    fn replaces_database_name() {
        assert_eq!(
            postgres_url_for("postgres://u@h:5432/test", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            postgres_url_for("postgres://u@h/test?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
        assert_eq!(
            postgres_url_for("postgres://u@h:5432", "x"),
            "postgres://u@h:5432/x"
        );
    }

    #[test]
    fn urls_hide_passwords() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("sqlite:///x"), "sqlite:///x");
    }
}
