//! Reading and verifying the audit log. Appends happen only when a unit of
//! work commits ([`crate::Tx::commit`]).

use crate::{Result, Store, StoreError};
use carepath_domain::audit::{ChainError, ChainVerifier, NewEvent, Outcome, StoredEvent};
use carepath_domain::ids::ProgramId;

/// Filters for the auditor's view. All optional; combined with AND.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// A user id or username.
    pub user: Option<String>,
    pub patient_id: Option<String>,
    /// An action, or a prefix ending in `.` (e.g. `patient.`).
    pub action: Option<String>,
    pub from_us: Option<i64>,
    pub to_us: Option<i64>,
    pub limit: i64,
    /// Return events with `seq` below this (newest-first paging).
    pub before_seq: Option<i64>,
    /// Only what concerns these programs (a program's auditor): events
    /// naming one of them; events naming no program but a patient of one of
    /// them; and events naming neither (sign-ins, account changes) by staff
    /// who hold a role in one of them. `None`: everything.
    pub programs: Option<Vec<ProgramId>>,
}

#[derive(Debug, Clone)]
pub struct AuditPage {
    pub events: Vec<StoredEvent>,
    /// Pass as `before_seq` for the next (older) page.
    pub next_before: Option<i64>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct EventRow {
    seq: i64,
    id: String,
    at_us: i64,
    user_id: Option<String>,
    username: Option<String>,
    role: Option<String>,
    program_id: Option<String>,
    patient_id: Option<String>,
    action: String,
    object_type: Option<String>,
    object_id: Option<String>,
    client_addr: Option<String>,
    outcome: String,
    detail: Option<String>,
    digests: Option<String>,
    prev_hash: String,
    hash: String,
}

impl EventRow {
    pub(crate) fn into_event(self) -> StoredEvent {
        // An unknown outcome string cannot be produced by Carepath; keep it
        // detectable by hashing it as "failure", which will not verify.
        let outcome = Outcome::parse(&self.outcome).unwrap_or(Outcome::Failure);
        StoredEvent {
            seq: self.seq,
            id: self.id,
            at_us: self.at_us,
            event: NewEvent {
                user_id: self.user_id,
                username: self.username,
                role: self.role,
                program_id: self.program_id,
                patient_id: self.patient_id,
                action: self.action,
                object_type: self.object_type,
                object_id: self.object_id,
                client_addr: self.client_addr,
                outcome,
                detail: self.detail,
                digests: self.digests,
            },
            prev_hash: self.prev_hash,
            hash: self.hash,
        }
    }
}

pub(crate) const EVENT_COLS: &str = "seq, id, at_us, user_id, username, role, program_id, patient_id, action, object_type, \
    object_id, client_addr, outcome, detail, digests, prev_hash, hash";

/// Outcome of walking the chain.
#[derive(Debug)]
pub enum VerifyResult {
    /// Every link and the head check out: how many events, and the head
    /// (sequence number, hash).
    Intact {
        events: u64,
        head: (i64, String),
    },
    Broken(ChainError),
}

impl Store {
    /// Events matching `f`, newest first.
    pub async fn audit_events(&self, f: &AuditFilter) -> Result<AuditPage> {
        let action_like = f.action.as_ref().map(|a| {
            if a.ends_with('.') {
                format!("{a}%")
            } else {
                a.clone()
            }
        });
        let scope = match &f.programs {
            None => String::new(),
            Some(g) => {
                let list = crate::placeholders(8, g.len().max(1));
                format!(
                    "AND (program_id IN ({list}) \
                     OR (program_id IS NULL AND patient_id IN (SELECT id FROM patient WHERE program_id IN ({list}) \
                         UNION SELECT patient_id FROM episode WHERE program_id IN ({list}))) \
                     OR (program_id IS NULL AND patient_id IS NULL \
                         AND user_id IN (SELECT user_id FROM user_role WHERE program_id IN ({list}))))"
                )
            }
        };
        let sql = format!(
            "SELECT {EVENT_COLS} FROM audit_event WHERE ($1 IS NULL OR user_id = $1 OR username = $1) \
             AND ($2 IS NULL OR patient_id = $2) AND ($3 IS NULL OR action LIKE $3) \
             AND ($4 IS NULL OR at_us >= $4) AND ($5 IS NULL OR at_us < $5) AND ($6 IS NULL OR seq < $6) \
             {scope} ORDER BY seq DESC LIMIT $7"
        );
        let limit = f.limit.clamp(1, 1000);
        let rows: Vec<EventRow> = with_reader!(self, c => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(f.user.clone())
                .bind(f.patient_id.clone())
                .bind(action_like)
                .bind(f.from_us)
                .bind(f.to_us)
                .bind(f.before_seq)
                .bind(limit);
            match f.programs.as_deref() {
                None => {}
                Some([]) => q = q.bind(String::new()),
                Some(g) => {
                    for p in g {
                        q = q.bind(p.to_string());
                    }
                }
            }
            q.fetch_all(c).await?
        });
        let events: Vec<StoredEvent> = rows.into_iter().map(EventRow::into_event).collect();
        let next_before = if events.len() as i64 == limit {
            events.last().map(|e| e.seq)
        } else {
            None
        };
        Ok(AuditPage {
            events,
            next_before,
        })
    }

    /// The chain head: (last sequence number, its hash).
    pub async fn audit_head(&self) -> Result<(i64, String)> {
        let head: (i64, String) = with_reader!(self, c => {
            sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(c).await?
        });
        Ok(head)
    }

    /// Walk the whole chain in pages, verifying each link, each keyed seal
    /// (with the store's key) and the head. The chain only: the full check
    /// with checkpoints and clinical rows is [`Store::verify_integrity`].
    pub async fn verify_audit_chain(&self, mut progress: impl FnMut(u64)) -> Result<VerifyResult> {
        let head = self.audit_head().await?;
        let mut v = match self.key.as_deref() {
            Some(k) => ChainVerifier::keyed(k.clone()),
            None => ChainVerifier::default(),
        };
        let mut after = 0i64;
        let sql =
            format!("SELECT {EVENT_COLS} FROM audit_event WHERE seq > $1 ORDER BY seq LIMIT 5000");
        loop {
            let rows: Vec<EventRow> = with_reader!(self, c => {
                sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(after).fetch_all(c).await?
            });
            if rows.is_empty() {
                break;
            }
            for r in rows {
                let ev = r.into_event();
                after = ev.seq;
                if let Err(e) = v.push(&ev) {
                    return Ok(VerifyResult::Broken(e));
                }
            }
            progress(v.checked);
        }
        match v.finish(Some((head.0, &head.1))) {
            Ok(()) => Ok(VerifyResult::Intact {
                events: v.checked,
                head,
            }),
            Err(e) => Ok(VerifyResult::Broken(e)),
        }
    }

    /// Count of events (for status output and tests).
    pub async fn audit_count(&self) -> Result<i64> {
        let (n,): (i64,) = with_reader!(self, c => {
            sqlx::query_as("SELECT COUNT(*) FROM audit_event").fetch_one(c).await?
        });
        Ok(n)
    }
}

impl From<ChainError> for StoreError {
    fn from(e: ChainError) -> Self {
        StoreError::Refused(e.to_string())
    }
}
