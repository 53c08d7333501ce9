//! The clinical record: append-only entries (assessments, flowsheet rows,
//! orders, administrations, plans, notes, consents, discharge summaries,
//! follow-ups), their signatures and amendments; the program calendar; the
//! accounting of disclosures; versioned registration details and photos.
//!
//! Nothing here updates or deletes a clinical row (database triggers refuse
//! it). A correction is a new row that `amends` the version it replaces; the
//! unique index on `amends` keeps each record's history one straight line, so
//! two people amending the same version at once cannot both win.

use crate::{Result, Store, StoreError, now_us, parse_id};
use carepath_domain::audit::NewEvent;
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
    pub body: serde_json::Value,
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

impl NewRecord {
    /// A record with what every entry has; episode, reference, due time,
    /// signing role, co-signer and late flag start empty.
    pub fn new(
        patient_id: PatientId,
        program_id: ProgramId,
        kind: &str,
        body: serde_json::Value,
        summary: String,
        occurred_at: i64,
        author: Author,
    ) -> Self {
        NewRecord {
            patient_id,
            program_id,
            episode_id: None,
            kind: kind.into(),
            body,
            summary,
            occurred_at,
            author,
            ref_id: None,
            due_at: None,
            sign_role: None,
            cosigner_id: None,
            late_entry: false,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Signature {
    pub kind: String,
    pub signer_id: Option<String>,
    pub signer_name: String,
    pub signer_role: String,
    pub method: String,
    pub drawing: Option<String>,
    pub signed_at: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Record {
    pub id: String,
    pub patient_id: PatientId,
    pub program_id: ProgramId,
    pub episode_id: Option<String>,
    pub kind: String,
    pub body: serde_json::Value,
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

#[derive(sqlx::FromRow)]
struct RecordRow {
    id: String,
    patient_id: String,
    program_id: String,
    episode_id: Option<String>,
    kind: String,
    body: String,
    summary: String,
    occurred_at: i64,
    recorded_at: i64,
    author_id: String,
    author_name: String,
    author_role: String,
    amends: Option<String>,
    amend_reason: Option<String>,
    root_id: String,
    ref_id: Option<String>,
    due_at: Option<i64>,
    sign_role: Option<String>,
    cosigner_id: Option<String>,
    late_entry: bool,
    superseded_by: Option<String>,
}

#[derive(sqlx::FromRow)]
struct SignatureRow {
    record_id: String,
    kind: String,
    signer_id: Option<String>,
    signer_name: String,
    signer_role: String,
    method: String,
    drawing: Option<String>,
    signed_at: i64,
}

const RECORD_COLS: &str = "r.id, r.patient_id, r.program_id, r.episode_id, r.kind, r.body, r.summary, \
    r.occurred_at, r.recorded_at, r.author_id, r.author_name, r.author_role, r.amends, r.amend_reason, \
    r.root_id, r.ref_id, r.due_at, r.sign_role, r.cosigner_id, r.late_entry, \
    (SELECT a.id FROM clinical_record a WHERE a.amends = r.id) AS superseded_by";

impl TryFrom<RecordRow> for Record {
    type Error = StoreError;
    fn try_from(r: RecordRow) -> Result<Self> {
        Ok(Record {
            patient_id: parse_id(&r.patient_id, "clinical_record.patient_id")?,
            program_id: parse_id(&r.program_id, "clinical_record.program_id")?,
            body: serde_json::from_str(&r.body)
                .map_err(|_| StoreError::Corrupt("clinical_record.body"))?,
            id: r.id,
            episode_id: r.episode_id,
            kind: r.kind,
            summary: r.summary,
            occurred_at: r.occurred_at,
            recorded_at: r.recorded_at,
            author_id: r.author_id,
            author_name: r.author_name,
            author_role: r.author_role,
            amends: r.amends,
            amend_reason: r.amend_reason,
            root_id: r.root_id,
            ref_id: r.ref_id,
            due_at: r.due_at,
            sign_role: r.sign_role,
            cosigner_id: r.cosigner_id,
            late_entry: r.late_entry,
            superseded_by: r.superseded_by,
            signatures: vec![],
        })
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
#[derive(Debug, Clone, Serialize)]
pub struct CalendarSession {
    pub id: String,
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

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: String,
    program_id: String,
    kind: String,
    title: String,
    modality: String,
    starts_at: i64,
    minutes: i64,
    leader_id: Option<String>,
    location: String,
    series_id: Option<String>,
}

impl TryFrom<SessionRow> for CalendarSession {
    type Error = StoreError;
    fn try_from(r: SessionRow) -> Result<Self> {
        Ok(CalendarSession {
            id: r.id,
            program_id: parse_id(&r.program_id, "group_session.program_id")?,
            kind: r.kind,
            title: r.title,
            modality: r.modality,
            starts_at: r.starts_at,
            minutes: r.minutes,
            leader_id: r.leader_id,
            location: r.location,
            series_id: r.series_id,
        })
    }
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

/// `$1, $2, …, $n` for an `IN` list (both backends accept numbered placeholders).
fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn csv_like(col: &str, param: &str) -> String {
    format!("(',' || {param} || ',') LIKE ('%,' || {col} || ',%')")
}

macro_rules! insert_record {
    ($tx:ident, $id:expr, $r:expr, $now:expr, $amends:expr, $reason:expr, $root:expr) => {{
        let r: &NewRecord = $r;
        sqlx::query(
            "INSERT INTO clinical_record (id, patient_id, program_id, episode_id, kind, body, summary, occurred_at, \
             recorded_at, author_id, author_name, author_role, amends, amend_reason, root_id, ref_id, due_at, \
             sign_role, cosigner_id, late_entry) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)",
        )
        .bind($id)
        .bind(r.patient_id.to_string())
        .bind(r.program_id.to_string())
        .bind(r.episode_id.map(|e| e.to_string()))
        .bind(&r.kind)
        .bind(r.body.to_string())
        .bind(&r.summary)
        .bind(r.occurred_at)
        .bind($now)
        .bind(r.author.id.to_string())
        .bind(&r.author.name)
        .bind(&r.author.role)
        .bind($amends)
        .bind($reason)
        .bind($root)
        .bind(&r.ref_id)
        .bind(r.due_at)
        .bind(&r.sign_role)
        .bind(r.cosigner_id.map(|c| c.to_string()))
        .bind(r.late_entry)
        .execute(&mut *$tx)
        .await?;
    }};
}

impl Store {
    /// Append records (one transaction, one audit event naming the first).
    pub async fn append_records(&self, records: &[NewRecord], ev: NewEvent) -> Result<Vec<String>> {
        self.append_records_at(records, now_us(), ev).await
    }

    /// As [`Store::append_records`], written at `recorded_at` (imports and the
    /// demo clinic's history; live entries use the present).
    pub async fn append_records_at(
        &self,
        records: &[NewRecord],
        recorded_at: i64,
        ev: NewEvent,
    ) -> Result<Vec<String>> {
        let Some(first) = records.first() else {
            return Ok(vec![]);
        };
        let now = recorded_at;
        let ids: Vec<String> = records
            .iter()
            .map(|_| uuid::Uuid::now_v7().to_string())
            .collect();
        with_tx!(self, tx => {
            for (id, r) in ids.iter().zip(records) {
                insert_record!(tx, id, r, now, None::<String>, None::<String>, id);
            }
            append_audit!(tx, ev.object(&first.kind, &ids[0]).patient(first.patient_id).program(first.program_id)
                .detail(format!("records={}", records.len())));
        });
        Ok(ids)
    }

    /// Append one record.
    pub async fn append_record(&self, r: &NewRecord, ev: NewEvent) -> Result<String> {
        Ok(self
            .append_records(std::slice::from_ref(r), ev)
            .await?
            .remove(0))
    }

    /// Amend `old` (which must be the current version of a record of the same
    /// patient and kind) with a new version and a reason. `Conflict` if someone
    /// amended it first.
    pub async fn amend_record(
        &self,
        old: &str,
        new: &NewRecord,
        reason: &str,
        ev: NewEvent,
    ) -> Result<String> {
        let id = uuid::Uuid::now_v7().to_string();
        let now = now_us();
        with_tx!(self, tx => {
            let row: Option<(String, String, String)> = sqlx::query_as(
                "SELECT patient_id, kind, root_id FROM clinical_record WHERE id = $1",
            )
            .bind(old)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((patient, kind, root)) = row else {
                return Err(StoreError::NotFound);
            };
            if patient != new.patient_id.to_string() || kind != new.kind {
                return Err(StoreError::Conflict("an amendment must keep the patient and kind".into()));
            }
            insert_record!(tx, &id, new, now, Some(old.to_string()), Some(reason.to_string()), &root);
            append_audit!(tx, ev.object(&new.kind, &id).patient(new.patient_id).program(new.program_id)
                .detail(format!("amends {old}")));
        });
        Ok(id)
    }

    /// Sign a record. `Conflict` if that signature already exists.
    pub async fn sign_record(&self, id: &str, s: &NewSignature, ev: NewEvent) -> Result<()> {
        self.sign_record_at(id, s, now_us(), ev).await
    }

    /// As [`Store::sign_record`], signed at `at` (the demo clinic's history).
    pub async fn sign_record_at(
        &self,
        id: &str,
        s: &NewSignature,
        at: i64,
        ev: NewEvent,
    ) -> Result<()> {
        with_tx!(self, tx => {
            let row: Option<(String, String, String)> = sqlx::query_as(
                "SELECT patient_id, program_id, kind FROM clinical_record WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((patient, program, kind)) = row else {
                return Err(StoreError::NotFound);
            };
            let done = sqlx::query(
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
            .bind(at)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::Conflict(format!("already has a {} signature", s.kind)));
            }
            append_audit!(tx, ev.object(&kind, id).patient(patient).program(program).detail(format!("signature={}", s.kind)));
        });
        Ok(())
    }

    /// Rows to records with their signatures.
    async fn finish(&self, rows: Vec<RecordRow>) -> Result<Vec<Record>> {
        let v = rows
            .into_iter()
            .map(Record::try_from)
            .collect::<Result<Vec<_>>>()?;
        self.attach_signatures(v).await
    }

    async fn attach_signatures(&self, mut records: Vec<Record>) -> Result<Vec<Record>> {
        if records.is_empty() {
            return Ok(records);
        }
        // One indexed `IN` query per 200 ids keeps the parameter list small on both backends.
        for chunk in records.chunks_mut(200) {
            let ids: Vec<String> = chunk.iter().map(|r| r.id.clone()).collect();
            let sql = format!(
                "SELECT record_id, kind, signer_id, signer_name, signer_role, method, drawing, signed_at \
                 FROM record_signature s WHERE s.record_id IN ({}) ORDER BY signed_at",
                placeholders(ids.len())
            );
            let rows: Vec<SignatureRow> = with_reader!(self, c => {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
                for id in &ids {
                    q = q.bind(id);
                }
                q.fetch_all(c).await?
            });
            for s in rows {
                if let Some(r) = chunk.iter_mut().find(|r| r.id == s.record_id) {
                    r.signatures.push(Signature {
                        kind: s.kind,
                        signer_id: s.signer_id,
                        signer_name: s.signer_name,
                        signer_role: s.signer_role,
                        method: s.method,
                        drawing: s.drawing,
                        signed_at: s.signed_at,
                    });
                }
            }
        }
        Ok(records)
    }

    /// One record (any version) with its signatures.
    pub async fn record(&self, id: &str) -> Result<Record> {
        let sql = format!("SELECT {RECORD_COLS} FROM clinical_record r WHERE r.id = $1");
        let row: RecordRow = with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_one(c).await?
        });
        Ok(self
            .attach_signatures(vec![row.try_into()?])
            .await?
            .remove(0))
    }

    /// A patient's records of the given kinds (empty = all), every version, oldest first.
    pub async fn patient_records(&self, patient: PatientId, kinds: &[&str]) -> Result<Vec<Record>> {
        let sql = format!(
            "SELECT {RECORD_COLS} FROM clinical_record r WHERE r.patient_id = $1 AND ($2 = '' OR {}) \
             ORDER BY r.occurred_at, r.recorded_at",
            csv_like("r.kind", "$2")
        );
        let rows: Vec<RecordRow> = with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(patient.to_string())
                .bind(kinds.join(","))
                .fetch_all(c)
                .await?
        });
        self.finish(rows).await
    }

    /// Current versions of records of `kind` in a program, occurring at or after `since`
    /// (worklists and calendars). `due_before` limits to records due by then.
    pub async fn program_records(
        &self,
        program: ProgramId,
        kind: &str,
        since: i64,
        due_before: Option<i64>,
    ) -> Result<Vec<Record>> {
        self.program_records_where(program, kind, since, due_before, Pending::All)
            .await
    }

    /// As [`Store::program_records`], narrowed in SQL to what a worklist needs.
    pub async fn program_records_where(
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
        let rows: Vec<RecordRow> = with_reader!(self, c => {
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
        self.finish(rows).await
    }

    /// The newest current record of `kind` per patient in a program:
    /// (patient, occurred_at, due_at) — e.g. each patient's last COWS check.
    pub async fn latest_per_patient(
        &self,
        program: ProgramId,
        kind: &str,
    ) -> Result<Vec<(PatientId, i64, Option<i64>)>> {
        let rows: Vec<(String, i64, Option<i64>)> = with_reader!(self, c => {
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
        rows.into_iter()
            .map(|(p, o, d)| Ok((parse_id(&p, "clinical_record.patient_id")?, o, d)))
            .collect()
    }

    /// Records referring to `ref_id` (outcomes of a scheduled follow-up, attendance at a session…).
    pub async fn records_referring(&self, ref_id: &str) -> Result<Vec<Record>> {
        let sql = format!(
            "SELECT {RECORD_COLS} FROM clinical_record r WHERE r.ref_id = $1 ORDER BY r.recorded_at"
        );
        let rows: Vec<RecordRow> = with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(ref_id).fetch_all(c).await?
        });
        self.finish(rows).await
    }

    /// Discharge an open episode and append the discharge records (summary,
    /// aftercare, scheduled follow-ups) in the same transaction.
    pub async fn discharge_with_records(
        &self,
        episode: EpisodeId,
        discharged_at: i64,
        reason: &str,
        records: &[NewRecord],
        ev: NewEvent,
    ) -> Result<Vec<String>> {
        let now = discharged_at.max(now_us().min(discharged_at + 60_000_000));
        let ids: Vec<String> = records
            .iter()
            .map(|_| uuid::Uuid::now_v7().to_string())
            .collect();
        with_tx!(self, tx => {
            let row: Option<(String, String)> = sqlx::query_as(
                "UPDATE episode SET discharged_at = $2, discharge_reason = $3 WHERE id = $1 AND discharged_at IS NULL \
                 RETURNING patient_id, program_id",
            )
            .bind(episode.to_string())
            .bind(discharged_at)
            .bind(reason)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((patient, program)) = row else {
                return Err(StoreError::Conflict("the episode is already discharged".into()));
            };
            for (id, r) in ids.iter().zip(records) {
                insert_record!(tx, id, r, now, None::<String>, None::<String>, id);
            }
            append_audit!(tx, ev.object("episode", episode).patient(patient).program(program)
                .detail(format!("records={}", records.len())));
        });
        Ok(ids)
    }

    /// Transfer: discharge the open episode as transferred and open the next
    /// one (another level of care or program) in one transaction.
    pub async fn transfer(
        &self,
        episode: EpisodeId,
        to_program: ProgramId,
        to_level: &str,
        at: i64,
        by: UserId,
        ev: NewEvent,
    ) -> Result<EpisodeId> {
        let id = EpisodeId::new();
        with_tx!(self, tx => {
            let row: Option<(String,)> = sqlx::query_as(
                "UPDATE episode SET discharged_at = $2, discharge_reason = 'transferred' WHERE id = $1 AND discharged_at IS NULL \
                 RETURNING patient_id",
            )
            .bind(episode.to_string())
            .bind(at)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((patient,)) = row else {
                return Err(StoreError::Conflict("the episode is already discharged".into()));
            };
            sqlx::query(
                "INSERT INTO episode (id, patient_id, program_id, level_of_care, admitted_at, created_at, created_by) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(id.to_string())
            .bind(&patient)
            .bind(to_program.to_string())
            .bind(to_level)
            .bind(at)
            .bind(now_us())
            .bind(by.to_string())
            .execute(&mut *tx)
            .await?;
            append_audit!(tx, ev.object("episode", id).patient(patient).program(to_program)
                .detail(format!("from {episode}")));
        });
        Ok(id)
    }

    /// Open episodes in a program: (episode, patient, level, admitted_at).
    pub async fn open_episodes(&self, program: ProgramId) -> Result<Vec<crate::Episode>> {
        let rows: Vec<(String, String, String, String, i64)> = with_reader!(self, c => {
            sqlx::query_as(
                "SELECT id, patient_id, program_id, level_of_care, admitted_at FROM episode \
                 WHERE program_id = $1 AND discharged_at IS NULL ORDER BY admitted_at",
            )
            .bind(program.to_string())
            .fetch_all(c)
            .await?
        });
        rows.into_iter()
            .map(|(id, p, g, l, a)| {
                Ok(crate::Episode {
                    id: parse_id(&id, "episode.id")?,
                    patient_id: parse_id(&p, "episode.patient_id")?,
                    program_id: parse_id(&g, "episode.program_id")?,
                    level_of_care: l,
                    admitted_at: a,
                    discharged_at: None,
                    discharge_reason: None,
                })
            })
            .collect()
    }

    /// Patients discharged from a program since `since` (newest first).
    pub async fn patient_ids_discharged_since(
        &self,
        program: ProgramId,
        since: i64,
    ) -> Result<Vec<PatientId>> {
        let rows: Vec<(String,)> = with_reader!(self, c => {
            sqlx::query_as(
                "SELECT patient_id FROM episode WHERE program_id = $1 AND discharged_at >= $2 ORDER BY discharged_at DESC",
            )
            .bind(program.to_string())
            .bind(since)
            .fetch_all(c)
            .await?
        });
        rows.iter()
            .map(|(p,)| parse_id(p, "episode.patient_id"))
            .collect()
    }

    /// Names of patients by id (for worklists the caller is already allowed to see).
    pub async fn patient_names(&self, ids: &[PatientId]) -> Result<Vec<(PatientId, String)>> {
        let mut out = vec![];
        for chunk in ids.chunks(200) {
            let keys: Vec<String> = chunk.iter().map(|i| i.to_string()).collect();
            let sql = format!(
                "SELECT id, legal_last_name, legal_first_name, preferred_name FROM patient p WHERE p.id IN ({})",
                placeholders(keys.len())
            );
            let rows: Vec<(String, String, String, Option<String>)> = with_reader!(self, c => {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
                for k in &keys {
                    q = q.bind(k);
                }
                q.fetch_all(c).await?
            });
            for (id, last, first, pref) in rows {
                let name = crate::patients::display_name(&last, &first, pref.as_deref());
                out.push((parse_id(&id, "patient.id")?, name));
            }
        }
        Ok(out)
    }

    /// Add sessions to a program's calendar.
    pub async fn create_sessions(
        &self,
        sessions: &[CalendarSession],
        by: UserId,
        ev: NewEvent,
    ) -> Result<()> {
        let Some(first) = sessions.first() else {
            return Ok(());
        };
        with_tx!(self, tx => {
            for s in sessions {
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
                .bind(now_us())
                .bind(by.to_string())
                .execute(&mut *tx)
                .await?;
            }
            append_audit!(tx, ev.object("session", &first.id).program(first.program_id).detail(format!("sessions={}", sessions.len())));
        });
        Ok(())
    }

    /// Sessions of a program starting in `[from, to)`.
    pub async fn sessions(
        &self,
        program: ProgramId,
        from: i64,
        to: i64,
    ) -> Result<Vec<CalendarSession>> {
        let rows: Vec<SessionRow> = with_reader!(self, c => {
            sqlx::query_as(
                "SELECT id, program_id, kind, title, modality, starts_at, minutes, leader_id, location, series_id \
                 FROM group_session WHERE program_id = $1 AND starts_at >= $2 AND starts_at < $3 ORDER BY starts_at",
            )
            .bind(program.to_string())
            .bind(from)
            .bind(to)
            .fetch_all(c)
            .await?
        });
        rows.into_iter().map(CalendarSession::try_from).collect()
    }

    pub async fn calendar_session(&self, id: &str) -> Result<CalendarSession> {
        let row: SessionRow = with_reader!(self, c => {
            sqlx::query_as(
                "SELECT id, program_id, kind, title, modality, starts_at, minutes, leader_id, location, series_id \
                 FROM group_session WHERE id = $1",
            )
            .bind(id)
            .fetch_one(c)
            .await?
        });
        row.try_into()
    }

    /// Write a disclosure to the accounting log.
    pub async fn record_disclosure(&self, d: &Disclosure, ev: NewEvent) -> Result<()> {
        with_tx!(self, tx => {
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
            .execute(&mut *tx)
            .await?;
            append_audit!(tx, ev.object("disclosure", &d.id).patient(&d.patient_id).program(&d.program_id)
                .detail(format!("consent={}", d.consent_id)));
        });
        Ok(())
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

    /// Add a version of the registration details.
    pub async fn add_profile(
        &self,
        patient: PatientId,
        body: &serde_json::Value,
        by: UserId,
        ev: NewEvent,
    ) -> Result<()> {
        let id = uuid::Uuid::now_v7().to_string();
        with_tx!(self, tx => {
            sqlx::query("INSERT INTO patient_profile (id, patient_id, body, recorded_at, recorded_by) VALUES ($1, $2, $3, $4, $5)")
                .bind(&id)
                .bind(patient.to_string())
                .bind(body.to_string())
                .bind(now_us())
                .bind(by.to_string())
                .execute(&mut *tx)
                .await?;
            append_audit!(tx, ev.object("patient_profile", &id).patient(patient));
        });
        Ok(())
    }

    /// The current registration details and how many versions exist.
    pub async fn profile(&self, patient: PatientId) -> Result<(Option<serde_json::Value>, i64)> {
        let rows: Vec<(String,)> = with_reader!(self, c => {
            sqlx::query_as("SELECT body FROM patient_profile WHERE patient_id = $1 ORDER BY recorded_at DESC, id DESC")
                .bind(patient.to_string())
                .fetch_all(c)
                .await?
        });
        let n = rows.len() as i64;
        let cur = rows
            .into_iter()
            .next()
            .map(|(b,)| {
                serde_json::from_str(&b).map_err(|_| StoreError::Corrupt("patient_profile.body"))
            })
            .transpose()?;
        Ok((cur, n))
    }

    /// Store a new identification photo (the newest is shown).
    pub async fn add_photo(
        &self,
        patient: PatientId,
        content_type: &str,
        bytes: &[u8],
        by: UserId,
        ev: NewEvent,
    ) -> Result<()> {
        let id = uuid::Uuid::now_v7().to_string();
        with_tx!(self, tx => {
            sqlx::query("INSERT INTO patient_photo (id, patient_id, content_type, bytes, recorded_at, recorded_by) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(&id)
                .bind(patient.to_string())
                .bind(content_type)
                .bind(bytes)
                .bind(now_us())
                .bind(by.to_string())
                .execute(&mut *tx)
                .await?;
            append_audit!(tx, ev.object("patient_photo", &id).patient(patient));
        });
        Ok(())
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
