//! The clinical record: append-only entries (assessments, flowsheet rows,
//! orders, administrations, plans, notes, consents, discharge summaries,
//! follow-ups), their signatures and amendments; the program calendar; the
//! accounting of disclosures; versioned registration details and photos.
//!
//! Nothing here updates or deletes a clinical row (database triggers refuse
//! it). A correction is a new row that `amends` the version it replaces; the
//! unique index on `amends` keeps each record's history one straight line, so
//! two people amending the same version at once cannot both win.
//!
//! The store keeps a record's body as the JSON text it was given: what a kind
//! of record contains is the application's business (`carepath-app`'s record
//! kinds), not the database's.

use crate::{PatientWrite, Result, Src, Store, StoreError, Tx, conflict_on, placeholders};
use carepath_domain::ids::{EpisodeId, PatientId, ProgramId, UserId};
use serde::Serialize;

/// Who wrote an entry, as they were at the time.
#[derive(Debug, Clone, Serialize)]
pub struct Author {
    pub id: UserId,
    pub name: String,
    pub role: String,
}

/// A record to append.
#[derive(Debug, Clone)]
pub struct NewRecord {
    pub patient_id: PatientId,
    pub program_id: ProgramId,
    pub episode_id: Option<EpisodeId>,
    pub kind: String,
    /// The body as JSON text.
    pub body: String,
    /// One line for timelines and worklists.
    pub summary: String,
    /// When the thing described happened (µs); may be earlier than now (late entry).
    pub occurred_at: i64,
    pub author: Author,
    /// Another record this one refers to (a follow-up's schedule, a revoked consent, a session…).
    pub ref_id: Option<String>,
    /// When something is due (next check, follow-up call, plan review).
    pub due_at: Option<i64>,
    /// The role that must sign this record (orders: `prescriber`); `None` = the author signs.
    pub sign_role: Option<String>,
    pub cosigner_id: Option<UserId>,
    pub late_entry: bool,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Signature {
    pub kind: String,
    pub signer_id: Option<String>,
    pub signer_name: String,
    pub signer_role: String,
    pub method: String,
    pub drawing: Option<String>,
    pub signed_at: i64,
}

/// One stored version of a record.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Record {
    pub id: String,
    #[sqlx(try_from = "String")]
    pub patient_id: PatientId,
    #[sqlx(try_from = "String")]
    pub program_id: ProgramId,
    pub episode_id: Option<String>,
    pub kind: String,
    /// The body as stored (JSON text); read it through the record kinds.
    pub body: String,
    pub summary: String,
    pub occurred_at: i64,
    pub recorded_at: i64,
    pub author_id: String,
    pub author_name: String,
    pub author_role: String,
    pub amends: Option<String>,
    pub amend_reason: Option<String>,
    /// The first version's id: all versions of one record share it.
    pub root_id: String,
    pub ref_id: Option<String>,
    pub due_at: Option<i64>,
    pub sign_role: Option<String>,
    pub cosigner_id: Option<String>,
    pub late_entry: bool,
    /// The id of the version that replaced this one, if any.
    pub superseded_by: Option<String>,
    #[sqlx(skip)]
    pub signatures: Vec<Signature>,
}

impl Record {
    pub fn is_current(&self) -> bool {
        self.superseded_by.is_none()
    }
    pub fn signature(&self, kind: &str) -> Option<&Signature> {
        self.signatures.iter().find(|s| s.kind == kind)
    }
    /// Signed by its author (or, for orders, by someone in the signing role).
    pub fn is_signed(&self) -> bool {
        self.signature("author").is_some()
    }
    /// Waiting for a co-signature.
    pub fn awaits_cosign(&self) -> bool {
        self.cosigner_id.is_some() && self.signature("cosign").is_none()
    }
}

/// A signature to add.
#[derive(Debug, Clone)]
pub struct NewSignature {
    pub kind: &'static str,
    pub signer_id: Option<UserId>,
    pub signer_name: String,
    pub signer_role: String,
    pub method: &'static str,
    pub drawing: Option<String>,
}

/// What a worklist query keeps (filtered in SQL).
#[derive(Debug, Clone, Copy)]
pub enum Pending {
    All,
    /// Written by this user and not yet signed.
    UnsignedBy(UserId),
    /// Not signed by anyone (orders waiting for a prescriber).
    Unsigned,
    /// Signed by the author, waiting for this user's co-signature.
    CosignBy(UserId),
    /// Scheduled follow-up calls without an outcome.
    Unanswered,
}

/// A session on a program's calendar.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct CalendarSession {
    pub id: String,
    #[sqlx(try_from = "String")]
    pub program_id: ProgramId,
    pub kind: String,
    pub title: String,
    pub modality: String,
    pub starts_at: i64,
    pub minutes: i64,
    pub leader_id: Option<String>,
    pub location: String,
    pub series_id: Option<String>,
}

/// One line of the accounting of disclosures.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Disclosure {
    pub id: String,
    pub patient_id: String,
    pub program_id: String,
    pub consent_id: String,
    pub recipient: String,
    pub purpose: String,
    pub information: String,
    pub channel: String,
    pub notice: String,
    pub disclosed_at: i64,
    pub disclosed_by: String,
}

const RECORD_COLS: &str = "r.id, r.patient_id, r.program_id, r.episode_id, r.kind, r.body, r.summary, \
    r.occurred_at, r.recorded_at, r.author_id, r.author_name, r.author_role, r.amends, r.amend_reason, \
    r.root_id, r.ref_id, r.due_at, r.sign_role, r.cosigner_id, r.late_entry, \
    (SELECT a.id FROM clinical_record a WHERE a.amends = r.id) AS superseded_by";

const SESSION_COLS: &str =
    "id, program_id, kind, title, modality, starts_at, minutes, leader_id, location, series_id";

/// The unique constraint a new (not amending) record of `kind` can collide with.
fn constraint_for(kind: &str, amends: bool) -> &'static str {
    if amends {
        return "clinical_record_one_amendment";
    }
    match kind {
        "followup_outcome" | "consent_revocation" => "clinical_record_one_answer",
        "attendance" => "clinical_record_one_mark",
        _ => "clinical_record_pkey",
    }
}

async fn insert_record(
    tx: &mut Tx,
    id: &str,
    r: &NewRecord,
    amends: Option<&str>,
    reason: Option<&str>,
    root: &str,
) -> Result<()> {
    let now = tx.now();
    on_tx!(tx, c => {
        sqlx::query(
            "INSERT INTO clinical_record (id, patient_id, program_id, episode_id, kind, body, summary, occurred_at, \
             recorded_at, author_id, author_name, author_role, amends, amend_reason, root_id, ref_id, due_at, \
             sign_role, cosigner_id, late_entry) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)",
        )
        .bind(id)
        .bind(r.patient_id.to_string())
        .bind(r.program_id.to_string())
        .bind(r.episode_id.map(|e| e.to_string()))
        .bind(&r.kind)
        .bind(&r.body)
        .bind(&r.summary)
        .bind(r.occurred_at)
        .bind(now)
        .bind(r.author.id.to_string())
        .bind(&r.author.name)
        .bind(&r.author.role)
        .bind(amends)
        .bind(reason)
        .bind(root)
        .bind(&r.ref_id)
        .bind(r.due_at)
        .bind(&r.sign_role)
        .bind(r.cosigner_id.map(|c| c.to_string()))
        .bind(r.late_entry)
        .execute(&mut *c)
        .await
        .map_err(conflict_on(constraint_for(&r.kind, amends.is_some())))?;
    });
    tx.touched.push(("clinical_record", id.to_string()));
    Ok(())
}

async fn record_on(src: Src<'_>, id: &str) -> Result<Record> {
    let sql = format!("SELECT {RECORD_COLS} FROM clinical_record r WHERE r.id = $1");
    Ok(with_src!(src, c => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_one(c).await?
    }))
}

async fn referring_on(src: Src<'_>, ref_id: &str) -> Result<Vec<Record>> {
    let sql = format!(
        "SELECT {RECORD_COLS} FROM clinical_record r WHERE r.ref_id = $1 ORDER BY r.recorded_at"
    );
    Ok(with_src!(src, c => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(ref_id).fetch_all(c).await?
    }))
}

async fn signatures_on(src: Src<'_>, ids: &[String]) -> Result<Vec<(String, Signature)>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        record_id: String,
        #[sqlx(flatten)]
        sig: Signature,
    }
    let sql = format!(
        "SELECT record_id, kind, signer_id, signer_name, signer_role, method, drawing, signed_at \
         FROM record_signature s WHERE s.record_id IN ({}) ORDER BY signed_at",
        placeholders(1, ids.len())
    );
    let rows: Vec<Row> = with_src!(src, c => {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
        for id in ids {
            q = q.bind(id);
        }
        q.fetch_all(c).await?
    });
    Ok(rows.into_iter().map(|r| (r.record_id, r.sig)).collect())
}

fn attach(records: &mut [Record], sigs: Vec<(String, Signature)>) {
    for (rid, s) in sigs {
        if let Some(r) = records.iter_mut().find(|r| r.id == rid) {
            r.signatures.push(s);
        }
    }
}

impl Tx {
    /// Append records of the opened patient. Returns their ids.
    pub async fn append_records(
        &mut self,
        w: &PatientWrite,
        records: &[NewRecord],
    ) -> Result<Vec<String>> {
        let mut ids = vec![];
        for r in records {
            w.check(r.patient_id)?;
            let id = uuid::Uuid::now_v7().to_string();
            insert_record(self, &id, r, None, None, &id).await?;
            ids.push(id);
        }
        Ok(ids)
    }

    /// Append one record of the opened patient.
    pub async fn append_record(&mut self, w: &PatientWrite, r: &NewRecord) -> Result<String> {
        Ok(self
            .append_records(w, std::slice::from_ref(r))
            .await?
            .remove(0))
    }

    /// Amend `old` (which must be a version of a record of the same patient
    /// and kind) with a new version and a reason.
    /// `Conflict("clinical_record_one_amendment")` if someone amended it first.
    pub async fn amend_record(
        &mut self,
        w: &PatientWrite,
        old: &str,
        new: &NewRecord,
        reason: &str,
    ) -> Result<String> {
        w.check(new.patient_id)?;
        let id = uuid::Uuid::now_v7().to_string();
        let row: Option<(String, String, String)> = on_tx!(self, c => {
            sqlx::query_as("SELECT patient_id, kind, root_id FROM clinical_record WHERE id = $1")
                .bind(old)
                .fetch_optional(&mut *c)
                .await?
        });
        let Some((patient, kind, root)) = row else {
            return Err(StoreError::NotFound);
        };
        if patient != new.patient_id.to_string() || kind != new.kind {
            return Err(StoreError::Refused(
                "an amendment must keep the patient and kind".into(),
            ));
        }
        insert_record(self, &id, new, Some(old), Some(reason), &root).await?;
        Ok(id)
    }

    /// Sign a record of the opened patient.
    /// `Conflict("record_signature_pkey")` if that signature already exists.
    pub async fn sign_record(
        &mut self,
        w: &PatientWrite,
        id: &str,
        s: &NewSignature,
    ) -> Result<()> {
        let now = self.now();
        let patient: Option<(String,)> = on_tx!(self, c => {
            sqlx::query_as("SELECT patient_id FROM clinical_record WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *c)
                .await?
        });
        let Some((patient,)) = patient else {
            return Err(StoreError::NotFound);
        };
        if patient != w.patient().to_string() {
            return Err(StoreError::NotFound);
        }
        let done = on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO record_signature (record_id, kind, signer_id, signer_name, signer_role, method, drawing, signed_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (record_id, kind) DO NOTHING",
            )
            .bind(id)
            .bind(s.kind)
            .bind(s.signer_id.map(|u| u.to_string()))
            .bind(&s.signer_name)
            .bind(&s.signer_role)
            .bind(s.method)
            .bind(&s.drawing)
            .bind(now)
            .execute(&mut *c)
            .await?
            .rows_affected()
        });
        if done == 0 {
            return Err(StoreError::Conflict("record_signature_pkey".into()));
        }
        self.touched
            .push(("record_signature", format!("{id}/{}", s.kind)));
        Ok(())
    }

    /// One record version, read inside the transaction (with signatures).
    pub async fn record(&mut self, id: &str) -> Result<Record> {
        let mut r = vec![record_on(Src::Tx(self), id).await?];
        let sigs = signatures_on(Src::Tx(self), &[id.to_string()]).await?;
        attach(&mut r, sigs);
        Ok(r.remove(0))
    }

    /// Records referring to `ref_id`, read inside the transaction (no signatures).
    pub async fn records_referring(&mut self, ref_id: &str) -> Result<Vec<Record>> {
        referring_on(Src::Tx(self), ref_id).await
    }

    /// Add sessions to a program's calendar.
    pub async fn create_sessions(
        &mut self,
        sessions: &[CalendarSession],
        by: UserId,
    ) -> Result<()> {
        let now = self.now();
        for s in sessions {
            on_tx!(self, c => {
                sqlx::query(
                    "INSERT INTO group_session (id, program_id, kind, title, modality, starts_at, minutes, leader_id, location, series_id, created_at, created_by) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                )
                .bind(&s.id)
                .bind(s.program_id.to_string())
                .bind(&s.kind)
                .bind(&s.title)
                .bind(&s.modality)
                .bind(s.starts_at)
                .bind(s.minutes)
                .bind(&s.leader_id)
                .bind(&s.location)
                .bind(&s.series_id)
                .bind(now)
                .bind(by.to_string())
                .execute(&mut *c)
                .await?;
            });
        }
        Ok(())
    }

    /// Write a disclosure of the opened patient to the accounting log.
    pub async fn record_disclosure(&mut self, w: &PatientWrite, d: &Disclosure) -> Result<()> {
        if d.patient_id != w.patient().to_string() {
            return Err(StoreError::Refused(
                "a disclosure of another patient than the one opened".into(),
            ));
        }
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO disclosure (id, patient_id, program_id, consent_id, recipient, purpose, information, channel, notice, disclosed_at, disclosed_by) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(&d.id)
            .bind(&d.patient_id)
            .bind(&d.program_id)
            .bind(&d.consent_id)
            .bind(&d.recipient)
            .bind(&d.purpose)
            .bind(&d.information)
            .bind(&d.channel)
            .bind(&d.notice)
            .bind(d.disclosed_at)
            .bind(&d.disclosed_by)
            .execute(&mut *c)
            .await?;
        });
        self.touched.push(("disclosure", d.id.clone()));
        Ok(())
    }

    /// Add a version of the opened patient's registration details (JSON text).
    pub async fn add_profile(
        &mut self,
        w: &PatientWrite,
        body: &str,
        by: UserId,
    ) -> Result<String> {
        let id = uuid::Uuid::now_v7().to_string();
        let now = self.now();
        on_tx!(self, c => {
            sqlx::query("INSERT INTO patient_profile (id, patient_id, body, recorded_at, recorded_by) VALUES ($1, $2, $3, $4, $5)")
                .bind(&id)
                .bind(w.patient().to_string())
                .bind(body)
                .bind(now)
                .bind(by.to_string())
                .execute(&mut *c)
                .await?;
        });
        self.touched.push(("patient_profile", id.clone()));
        Ok(id)
    }

    /// Store a new identification photo of the opened patient (the newest is shown).
    pub async fn add_photo(
        &mut self,
        w: &PatientWrite,
        content_type: &str,
        bytes: &[u8],
        by: UserId,
    ) -> Result<String> {
        let id = uuid::Uuid::now_v7().to_string();
        let now = self.now();
        on_tx!(self, c => {
            sqlx::query("INSERT INTO patient_photo (id, patient_id, content_type, bytes, recorded_at, recorded_by) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(&id)
                .bind(w.patient().to_string())
                .bind(content_type)
                .bind(bytes)
                .bind(now)
                .bind(by.to_string())
                .execute(&mut *c)
                .await?;
        });
        self.touched.push(("patient_photo", id.clone()));
        Ok(id)
    }
}

impl Store {
    /// Records with their signatures (one indexed `IN` query per 200 ids
    /// keeps the parameter list small on both backends).
    async fn with_signatures(&self, mut records: Vec<Record>) -> Result<Vec<Record>> {
        for chunk in records.chunks_mut(200) {
            let ids: Vec<String> = chunk.iter().map(|r| r.id.clone()).collect();
            let sigs = signatures_on(Src::Store(self), &ids).await?;
            attach(chunk, sigs);
        }
        Ok(records)
    }

    /// One record (any version) with its signatures.
    pub async fn record(&self, id: &str) -> Result<Record> {
        let r = record_on(Src::Store(self), id).await?;
        Ok(self.with_signatures(vec![r]).await?.remove(0))
    }

    /// The current version of a patient's latest record of `kind` (by
    /// clinical time), without signatures: one statement, for hot paths
    /// that need only its body.
    pub async fn latest_record(&self, patient: PatientId, kind: &str) -> Result<Option<Record>> {
        let sql = format!(
            "SELECT {RECORD_COLS} FROM clinical_record r WHERE r.patient_id = $1 AND r.kind = $2 \
             AND NOT EXISTS (SELECT 1 FROM clinical_record a WHERE a.amends = r.id) \
             ORDER BY r.occurred_at DESC, r.recorded_at DESC LIMIT 1"
        );
        Ok(with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(patient.to_string())
                .bind(kind)
                .fetch_optional(c)
                .await?
        }))
    }

    /// A patient's records of the given kinds (empty = all), every version, oldest first.
    pub async fn patient_records(&self, patient: PatientId, kinds: &[&str]) -> Result<Vec<Record>> {
        let filter = if kinds.is_empty() {
            String::new()
        } else {
            format!("AND r.kind IN ({})", placeholders(2, kinds.len()))
        };
        let sql = format!(
            "SELECT {RECORD_COLS} FROM clinical_record r WHERE r.patient_id = $1 {filter} \
             ORDER BY r.occurred_at, r.recorded_at"
        );
        let rows: Vec<Record> = with_reader!(self, c => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(patient.to_string());
            for k in kinds {
                q = q.bind(*k);
            }
            q.fetch_all(c).await?
        });
        self.with_signatures(rows).await
    }

    /// Current versions of records of `kind` in a program, occurring at or
    /// after `since`, narrowed in SQL to what a worklist needs. `due_before`
    /// limits to records due by then.
    pub async fn program_records(
        &self,
        program: ProgramId,
        kind: &str,
        since: i64,
        due_before: Option<i64>,
        pending: Pending,
    ) -> Result<Vec<Record>> {
        let (filter, user) = match pending {
            Pending::All => ("", None),
            Pending::UnsignedBy(u) => (
                "AND r.author_id = $5 AND NOT EXISTS (SELECT 1 FROM record_signature s WHERE s.record_id = r.id AND s.kind = 'author')",
                Some(u.to_string()),
            ),
            Pending::Unsigned => (
                "AND NOT EXISTS (SELECT 1 FROM record_signature s WHERE s.record_id = r.id AND s.kind = 'author')",
                None,
            ),
            Pending::CosignBy(u) => (
                "AND r.cosigner_id = $5 AND EXISTS (SELECT 1 FROM record_signature s WHERE s.record_id = r.id AND s.kind = 'author') \
                 AND NOT EXISTS (SELECT 1 FROM record_signature s WHERE s.record_id = r.id AND s.kind = 'cosign')",
                Some(u.to_string()),
            ),
            Pending::Unanswered => (
                "AND NOT EXISTS (SELECT 1 FROM clinical_record o WHERE o.ref_id = r.id AND o.kind = 'followup_outcome')",
                None,
            ),
        };
        let sql = format!(
            "SELECT {RECORD_COLS} FROM clinical_record r WHERE r.program_id = $1 AND r.kind = $2 \
             AND r.occurred_at >= $3 AND ($4 IS NULL OR r.due_at <= $4) \
             AND NOT EXISTS (SELECT 1 FROM clinical_record a WHERE a.amends = r.id) {filter} \
             ORDER BY r.occurred_at"
        );
        let rows: Vec<Record> = with_reader!(self, c => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(program.to_string())
                .bind(kind)
                .bind(since)
                .bind(due_before);
            if let Some(u) = &user {
                q = q.bind(u);
            }
            q.fetch_all(c).await?
        });
        self.with_signatures(rows).await
    }

    /// The newest current record of `kind` per patient in a program:
    /// (patient, occurred_at, due_at) — e.g. each patient's last COWS check.
    pub async fn latest_per_patient(
        &self,
        program: ProgramId,
        kind: &str,
    ) -> Result<Vec<(PatientId, i64, Option<i64>)>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(try_from = "String")]
            patient_id: PatientId,
            occurred_at: i64,
            due_at: Option<i64>,
        }
        let rows: Vec<Row> = with_reader!(self, c => {
            sqlx::query_as(
                "SELECT patient_id, occurred_at, due_at FROM ( \
                   SELECT r.patient_id, r.occurred_at, r.due_at, ROW_NUMBER() OVER \
                     (PARTITION BY r.patient_id ORDER BY r.occurred_at DESC, r.recorded_at DESC) AS n \
                   FROM clinical_record r WHERE r.program_id = $1 AND r.kind = $2 \
                   AND NOT EXISTS (SELECT 1 FROM clinical_record a WHERE a.amends = r.id)) t \
                 WHERE n = 1",
            )
            .bind(program.to_string())
            .bind(kind)
            .fetch_all(c)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|r| (r.patient_id, r.occurred_at, r.due_at))
            .collect())
    }

    /// Records referring to `ref_id` (outcomes of a scheduled follow-up,
    /// attendance at a session…), with their signatures.
    pub async fn records_referring(&self, ref_id: &str) -> Result<Vec<Record>> {
        let rows = referring_on(Src::Store(self), ref_id).await?;
        self.with_signatures(rows).await
    }

    /// Sessions of a program starting in `[from, to)`.
    pub async fn sessions(
        &self,
        program: ProgramId,
        from: i64,
        to: i64,
    ) -> Result<Vec<CalendarSession>> {
        let sql = format!(
            "SELECT {SESSION_COLS} FROM group_session WHERE program_id = $1 AND starts_at >= $2 AND starts_at < $3 ORDER BY starts_at"
        );
        Ok(with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(program.to_string())
                .bind(from)
                .bind(to)
                .fetch_all(c)
                .await?
        }))
    }

    pub async fn calendar_session(&self, id: &str) -> Result<CalendarSession> {
        let sql = format!("SELECT {SESSION_COLS} FROM group_session WHERE id = $1");
        Ok(with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_one(c).await?
        }))
    }

    /// The accounting of disclosures for a patient, newest first.
    pub async fn disclosures(&self, patient: PatientId) -> Result<Vec<Disclosure>> {
        Ok(with_reader!(self, c => {
            sqlx::query_as(
                "SELECT id, patient_id, program_id, consent_id, recipient, purpose, information, channel, notice, disclosed_at, disclosed_by \
                 FROM disclosure WHERE patient_id = $1 ORDER BY disclosed_at DESC",
            )
            .bind(patient.to_string())
            .fetch_all(c)
            .await?
        }))
    }

    /// The current registration details (JSON text) and how many versions exist.
    pub async fn profile(&self, patient: PatientId) -> Result<(Option<String>, i64)> {
        let rows: Vec<(String,)> = with_reader!(self, c => {
            sqlx::query_as("SELECT body FROM patient_profile WHERE patient_id = $1 ORDER BY recorded_at DESC, id DESC")
                .bind(patient.to_string())
                .fetch_all(c)
                .await?
        });
        let n = rows.len() as i64;
        Ok((rows.into_iter().next().map(|(b,)| b), n))
    }

    /// Whether the patient has a photo (without loading it).
    pub async fn has_photo(&self, patient: PatientId) -> Result<bool> {
        // COUNT is BIGINT on both backends (a bare `SELECT 1` is int4 on PostgreSQL).
        let (n,): (i64,) = with_reader!(self, c => {
            sqlx::query_as(
                "SELECT COUNT(*) FROM (SELECT 1 FROM patient_photo WHERE patient_id = $1 LIMIT 1) t",
            )
            .bind(patient.to_string())
            .fetch_one(c)
            .await?
        });
        Ok(n > 0)
    }

    /// The newest photo: (content type, bytes).
    pub async fn photo(&self, patient: PatientId) -> Result<Option<(String, Vec<u8>)>> {
        Ok(with_reader!(self, c => {
            sqlx::query_as("SELECT content_type, bytes FROM patient_photo WHERE patient_id = $1 ORDER BY recorded_at DESC, id DESC LIMIT 1")
                .bind(patient.to_string())
                .fetch_optional(c)
                .await?
        }))
    }
}
