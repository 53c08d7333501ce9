//! Group commit on SQLite: the units of work of concurrent requests share one
//! database transaction and one fsync.
//!
//! SQLite has one writer at a time, and with `synchronous=FULL` each commit
//! waits for the disk. When requests arrive together (the dosing window at
//! opening time), committing each alone makes the disk the limit. Here the
//! single writer connection passes from one unit of work to the next while an
//! outer transaction stays open: each unit runs inside its own `SAVEPOINT`
//! (released when it commits, rolled back to when it fails, so a failed unit
//! leaves no trace and the others are untouched), and when nobody is waiting
//! for the connection — or the batch is full or old enough — the last unit
//! commits the outer transaction once for all. **No unit is acknowledged
//! before that commit is durable**: [`Lease::commit`] returns only after the
//! outer `COMMIT` succeeded, and with its error if it failed (then every unit
//! of the batch gets the error, and none of them was written).
//!
//! Units of work still run one at a time on the connection, in arrival order,
//! so each sees the writes of the units before it exactly as with separate
//! transactions (serializable, like before).
//!
//! The connection is lent by the writer pool (one connection) for the length
//! of a run of batches and given back when the writer falls idle, so other
//! users of the writer pool (migrations, the storage probe) simply wait their
//! turn.
//!
//! Cancellation: a [`Lease`] that is dropped without being finished (a
//! request whose client went away, a unit of work that returned early with an
//! error) rolls back to its savepoint and passes the connection on from a
//! spawned task, so the connection is never lost and no waiter starves.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::{Sqlite, SqliteConnection, SqlitePool};
use tokio::sync::{oneshot, watch};

use crate::{Result, StoreError};

/// The most units of work one outer transaction holds.
const MAX_UNITS: usize = 64;
/// The longest an outer transaction stays open once begun, so that under a
/// steady stream of requests the first of a batch is not kept waiting long.
const MAX_AGE: Duration = Duration::from_millis(5);
/// How long a unit of work waits for the writer (as the pool's acquire
/// timeout did before).
const WAIT: Duration = Duration::from_secs(60);

type Outcome = Option<std::result::Result<(), Arc<str>>>;

/// The open outer transaction.
struct Batch {
    started: Instant,
    units: usize,
    /// Set once to the outer commit's result; every unit of the batch waits
    /// on it before it is acknowledged.
    done: watch::Sender<Outcome>,
    /// A unit's savepoint could not be released or rolled back to: SQLite
    /// rolled the whole transaction back (disk full, I/O error). The batch
    /// ends with an error for all its units.
    poisoned: bool,
}

#[derive(Default)]
struct State {
    /// Someone holds (or is fetching) the writer connection.
    busy: bool,
    /// Units of work waiting for the connection, in arrival order.
    waiters: VecDeque<oneshot::Sender<Held>>,
}

/// The writer connection with the batch open on it, as it passes from unit
/// to unit.
struct Held {
    conn: PoolConnection<Sqlite>,
    batch: Option<Batch>,
}

pub(crate) struct GroupCommit {
    pool: SqlitePool,
    state: Mutex<State>,
    /// Outer transactions committed, and the units of work they carried.
    commits: AtomicU64,
    units: AtomicU64,
}

impl GroupCommit {
    pub(crate) fn new(pool: SqlitePool) -> Arc<GroupCommit> {
        Arc::new(GroupCommit {
            pool,
            state: Mutex::new(State::default()),
            commits: AtomicU64::new(0),
            units: AtomicU64::new(0),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the queue half-changed
        // (every critical section is a single push, pop or flag change).
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Begin a unit of work: wait for the connection, open the batch if none
    /// is open, and set the unit's savepoint.
    pub(crate) async fn begin(self: &Arc<Self>) -> Result<Lease> {
        let held = loop {
            let wait = {
                let mut st = self.state();
                if st.busy {
                    let (tx, rx) = oneshot::channel();
                    st.waiters.push_back(tx);
                    Some(rx)
                } else {
                    st.busy = true;
                    None
                }
            };
            match wait {
                Some(rx) => match tokio::time::timeout(WAIT, rx).await {
                    Ok(Ok(held)) => break held,
                    // The holder could not fetch the connection and let the
                    // queue go: try again from the start.
                    Ok(Err(_)) => continue,
                    Err(_) => {
                        return Err(StoreError::Config(
                            "the database writer stayed busy too long".into(),
                        ));
                    }
                },
                None => match self.pool.acquire().await {
                    Ok(conn) => break Held { conn, batch: None },
                    Err(e) => {
                        self.pass_on(None);
                        return Err(e.into());
                    }
                },
            }
        };
        let mut lease = Lease {
            gc: self.clone(),
            held: Some(held),
            in_unit: false,
            respawn: true,
        };
        lease.open_unit().await?;
        Ok(lease)
    }

    /// (outer commits, units of work committed) since the store opened.
    pub(crate) fn stats(&self) -> (u64, u64) {
        (
            self.commits.load(Ordering::Relaxed),
            self.units.load(Ordering::Relaxed),
        )
    }

    /// Give the connection to the next waiter, or give it back to the pool
    /// and mark the writer idle. Only called with no batch open.
    fn pass_on(&self, mut held: Option<Held>) {
        let mut st = self.state();
        while let Some(w) = st.waiters.pop_front() {
            match held.take() {
                Some(h) => match w.send(h) {
                    Ok(()) => return,
                    // That waiter gave up; try the next.
                    Err(h) => held = Some(h),
                },
                None => {
                    // No connection to give (fetching it failed): let every
                    // waiter go; each starts over and fetches its own.
                    drop(w);
                    st.waiters.clear();
                    break;
                }
            }
        }
        st.busy = false;
        drop(held);
    }

    /// Hand the connection, with the batch still open, to the next waiter if
    /// the batch may grow. Returns it when nobody takes it.
    fn hand_over_open(&self, mut held: Held) -> Option<Held> {
        let grow = held
            .batch
            .as_ref()
            .is_some_and(|b| !b.poisoned && b.units < MAX_UNITS && b.started.elapsed() < MAX_AGE);
        if !grow {
            return Some(held);
        }
        let mut st = self.state();
        while let Some(w) = st.waiters.pop_front() {
            match w.send(held) {
                Ok(()) => return None,
                Err(h) => held = h,
            }
        }
        Some(held)
    }
}

/// One unit of work's hold on the writer connection.
pub(crate) struct Lease {
    gc: Arc<GroupCommit>,
    held: Option<Held>,
    /// The unit's savepoint is set (and not yet released or rolled back to).
    in_unit: bool,
    /// Dropped unfinished, pass the connection on from a spawned task. False
    /// for that task's own lease: if the runtime drops the task unfinished
    /// (it is shutting down), the connection just goes back to the pool.
    respawn: bool,
}

async fn exec(
    conn: &mut SqliteConnection,
    sql: &'static str,
) -> std::result::Result<(), sqlx::Error> {
    sqlx::query(sql).execute(conn).await.map(|_| ())
}

impl Lease {
    fn held(&mut self) -> &mut Held {
        self.held
            .as_mut()
            .expect("a lease holds the connection until it ends")
    }

    async fn open_unit(&mut self) -> Result<()> {
        let h = self.held();
        if h.batch.is_none() {
            exec(&mut h.conn, "BEGIN IMMEDIATE").await?;
            h.batch = Some(Batch {
                started: Instant::now(),
                units: 0,
                done: watch::channel(None).0,
                poisoned: false,
            });
        }
        match exec(&mut h.conn, "SAVEPOINT unit").await {
            Ok(()) => {
                self.in_unit = true;
                Ok(())
            }
            Err(e) => {
                if let Some(b) = h.batch.as_mut() {
                    b.poisoned = true;
                }
                Err(e.into())
            }
        }
    }

    /// Keep the unit's writes and return once they are durable.
    pub(crate) async fn commit(mut self) -> Result<()> {
        let h = self.held.as_mut().expect("lease");
        let released = exec(&mut h.conn, "RELEASE unit").await;
        self.in_unit = false;
        let batch = h.batch.as_mut().expect("a unit runs inside a batch");
        let mut done = batch.done.subscribe();
        match released {
            Ok(()) => batch.units += 1,
            Err(_) => batch.poisoned = true,
        }
        let held = self.held.take().expect("lease");
        if let Some(held) = self.gc.hand_over_open(held) {
            finish_batch(&self.gc, held).await;
        }
        // Acknowledge only after the outer commit.
        let outcome = match done.wait_for(Option::is_some).await {
            Ok(v) => v.clone().expect("set"),
            Err(_) => Err(Arc::from("the batch ended without a result")),
        };
        match (released, outcome) {
            (Err(e), _) => Err(e.into()),
            (Ok(()), Ok(())) => Ok(()),
            (Ok(()), Err(e)) => Err(StoreError::Config(format!(
                "the commit of this unit of work failed: {e}"
            ))),
        }
    }

    async fn end_unit_rolled_back(&mut self) {
        let Some(mut held) = self.held.take() else {
            return;
        };
        if self.in_unit {
            self.in_unit = false;
            let undone = async {
                exec(&mut held.conn, "ROLLBACK TO unit").await?;
                exec(&mut held.conn, "RELEASE unit").await
            }
            .await;
            if undone.is_err()
                && let Some(b) = held.batch.as_mut()
            {
                b.poisoned = true;
            }
        }
        if let Some(held) = self.gc.hand_over_open(held) {
            finish_batch(&self.gc, held).await;
        }
    }
}

/// Commit (or, if poisoned, roll back) the outer transaction, tell every unit
/// of the batch, and pass the connection on.
async fn finish_batch(gc: &Arc<GroupCommit>, mut held: Held) {
    if let Some(b) = held.batch.take() {
        let outcome = if b.poisoned {
            let _ = exec(&mut held.conn, "ROLLBACK").await;
            Err(Arc::from(
                "SQLite rolled back the transaction (disk full or I/O error)",
            ))
        } else if b.units == 0 {
            // Only failed units: nothing to keep.
            exec(&mut held.conn, "ROLLBACK")
                .await
                .map_err(|e| Arc::from(e.to_string()))
        } else {
            match exec(&mut held.conn, "COMMIT").await {
                Ok(()) => {
                    gc.commits.fetch_add(1, Ordering::Relaxed);
                    gc.units.fetch_add(b.units as u64, Ordering::Relaxed);
                    Ok(())
                }
                Err(e) => {
                    let _ = exec(&mut held.conn, "ROLLBACK").await;
                    Err(Arc::from(e.to_string()))
                }
            }
        };
        b.done.send_replace(Some(outcome));
    }
    gc.pass_on(Some(held));
}

impl Drop for Lease {
    fn drop(&mut self) {
        if self.held.is_none() || !self.respawn {
            return;
        }
        // Ended without commit or rollback (an early return or a cancelled
        // request): roll back to the savepoint and pass the connection on,
        // off this thread since that takes statements.
        let mut rest = Lease {
            gc: self.gc.clone(),
            held: self.held.take(),
            in_unit: self.in_unit,
            respawn: false,
        };
        self.in_unit = false;
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(async move { rest.end_unit_rolled_back().await });
            }
            Err(_) => {
                // No runtime left (the process is ending): the connection goes
                // back to the pool, which discards its open transaction.
                rest.held = None;
                tracing::warn!("a unit of work was dropped outside the runtime");
            }
        }
    }
}

impl std::ops::Deref for Lease {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        &self
            .held
            .as_ref()
            .expect("a lease holds the connection until it ends")
            .conn
    }
}

impl std::ops::DerefMut for Lease {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.held().conn
    }
}
