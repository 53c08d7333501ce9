//! Patients and episodes of care. Both are clinical records: never deleted
//! (database triggers refuse it); an episode changes only by being discharged.

use crate::{Result, Store, StoreError, now_us, parse_id};
use carepath_domain::audit::NewEvent;
use carepath_domain::ids::{EpisodeId, PatientId, ProgramId, UserId};
use carepath_domain::patient::Demographics;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Patient {
    pub id: PatientId,
    pub program_id: ProgramId,
    pub mrn: String,
    pub legal_first_name: String,
    pub legal_last_name: String,
    pub preferred_name: Option<String>,
    /// ISO `YYYY-MM-DD`.
    pub date_of_birth: String,
    pub sex: String,
    pub created_at: i64,
}

impl Patient {
    /// "Last, First (Preferred)".
    pub fn display_name(&self) -> String {
        display_name(
            &self.legal_last_name,
            &self.legal_first_name,
            self.preferred_name.as_deref(),
        )
    }
}

/// "Last, First (Preferred)": how staff see a patient's name everywhere.
pub(crate) fn display_name(last: &str, first: &str, preferred: Option<&str>) -> String {
    match preferred {
        Some(p) => format!("{last}, {first} ({p})"),
        None => format!("{last}, {first}"),
    }
}

#[derive(sqlx::FromRow)]
struct PatientRow {
    id: String,
    program_id: String,
    mrn: String,
    legal_first_name: String,
    legal_last_name: String,
    preferred_name: Option<String>,
    date_of_birth: String,
    sex: String,
    created_at: i64,
}

impl TryFrom<PatientRow> for Patient {
    type Error = StoreError;
    fn try_from(r: PatientRow) -> Result<Self> {
        Ok(Patient {
            id: parse_id(&r.id, "patient.id")?,
            program_id: parse_id(&r.program_id, "patient.program_id")?,
            mrn: r.mrn,
            legal_first_name: r.legal_first_name,
            legal_last_name: r.legal_last_name,
            preferred_name: r.preferred_name,
            date_of_birth: r.date_of_birth,
            sex: r.sex,
            created_at: r.created_at,
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Episode {
    pub id: EpisodeId,
    pub patient_id: PatientId,
    pub program_id: ProgramId,
    pub level_of_care: String,
    pub admitted_at: i64,
    pub discharged_at: Option<i64>,
    pub discharge_reason: Option<String>,
}

#[derive(sqlx::FromRow)]
struct EpisodeRow {
    id: String,
    patient_id: String,
    program_id: String,
    level_of_care: String,
    admitted_at: i64,
    discharged_at: Option<i64>,
    discharge_reason: Option<String>,
}

impl TryFrom<EpisodeRow> for Episode {
    type Error = StoreError;
    fn try_from(r: EpisodeRow) -> Result<Self> {
        Ok(Episode {
            id: parse_id(&r.id, "episode.id")?,
            patient_id: parse_id(&r.patient_id, "episode.patient_id")?,
            program_id: parse_id(&r.program_id, "episode.program_id")?,
            level_of_care: r.level_of_care,
            admitted_at: r.admitted_at,
            discharged_at: r.discharged_at,
            discharge_reason: r.discharge_reason,
        })
    }
}

/// A patient search. Only patients in programs where `user` holds one of
/// `roles` (or who have an episode there) are returned.
#[derive(Debug, Clone, Default)]
pub struct PatientSearch {
    /// Up to three words matched against last, first and preferred names.
    pub name: Option<String>,
    /// Exact date of birth, `YYYY-MM-DD`.
    pub date_of_birth: Option<String>,
    /// Exact medical record number.
    pub mrn: Option<String>,
    pub limit: i64,
}

/// Census for one program.
#[derive(Debug, Clone, Serialize)]
pub struct CensusRow {
    pub program_id: ProgramId,
    pub program_name: String,
    pub kind: String,
    pub active: i64,
    pub admissions: i64,
    pub discharges: i64,
}

fn search_name(d: &Demographics) -> String {
    let mut s = format!("{} {}", d.legal_last_name, d.legal_first_name);
    if let Some(p) = &d.preferred_name {
        s.push(' ');
        s.push_str(p);
    }
    s.to_lowercase()
}

const PATIENT_COLS: &str = "p.id, p.program_id, p.mrn, p.legal_first_name, p.legal_last_name, p.preferred_name, p.date_of_birth, p.sex, p.created_at";

/// SQL fragment: patient `p` is visible to user `$1` holding one of the roles in
/// the comma-separated list `$2` — in the patient's home program or in a program
/// where the patient has an episode.
const VISIBLE: &str = "(p.program_id IN (SELECT r.program_id FROM user_role r WHERE r.user_id = $1 \
      AND (',' || $2 || ',') LIKE ('%,' || r.role || ',%')) \
   OR EXISTS (SELECT 1 FROM episode e JOIN user_role r ON r.program_id = e.program_id \
      WHERE e.patient_id = p.id AND r.user_id = $1 AND (',' || $2 || ',') LIKE ('%,' || r.role || ',%')))";

impl Store {
    /// Register a patient with medical record number `mrn`. If the MRN is taken,
    /// returns `Conflict("mrn")` and writes nothing (the caller picks another).
    pub async fn create_patient(
        &self,
        program: ProgramId,
        d: &Demographics,
        mrn: &str,
        by: Option<UserId>,
        ev: NewEvent,
    ) -> Result<Patient> {
        self.create_patient_at(program, d, mrn, by, now_us(), ev)
            .await
    }

    /// As [`Store::create_patient`], with the registration time given (imports,
    /// the demo clinic's history).
    pub async fn create_patient_at(
        &self,
        program: ProgramId,
        d: &Demographics,
        mrn: &str,
        by: Option<UserId>,
        registered_at: i64,
        ev: NewEvent,
    ) -> Result<Patient> {
        let id = PatientId::new();
        let now = registered_at;
        with_tx!(self, tx => {
            let inserted: Option<(String,)> = sqlx::query_as(
                "INSERT INTO patient (id, program_id, mrn, legal_first_name, legal_last_name, preferred_name, date_of_birth, sex, search_name, created_at, created_by) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (mrn) DO NOTHING RETURNING id",
            )
            .bind(id.to_string())
            .bind(program.to_string())
            .bind(mrn)
            .bind(&d.legal_first_name)
            .bind(&d.legal_last_name)
            .bind(&d.preferred_name)
            .bind(d.date_of_birth.to_string())
            .bind(d.sex.as_str())
            .bind(search_name(d))
            .bind(now)
            .bind(by.map(|b| b.to_string()))
            .fetch_optional(&mut *tx)
            .await?;
            if inserted.is_none() {
                return Err(StoreError::Conflict("mrn".into()));
            }
            append_audit!(tx, ev.object("patient", id).patient(id).program(program));
        });
        Ok(Patient {
            id,
            program_id: program,
            mrn: mrn.to_string(),
            legal_first_name: d.legal_first_name.clone(),
            legal_last_name: d.legal_last_name.clone(),
            preferred_name: d.preferred_name.clone(),
            date_of_birth: d.date_of_birth.to_string(),
            sex: d.sex.as_str().to_string(),
            created_at: now,
        })
    }

    /// A patient by id, with no access check: callers go through the web
    /// layer's access path, which checks and audits.
    pub async fn patient(&self, id: PatientId) -> Result<Patient> {
        let sql = format!("SELECT {PATIENT_COLS} FROM patient p WHERE p.id = $1");
        let row: PatientRow = with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id.to_string()).fetch_one(c).await?
        });
        row.try_into()
    }

    /// The programs a patient belongs to: the home program and every program
    /// with an episode.
    pub async fn patient_programs(&self, id: PatientId) -> Result<Vec<ProgramId>> {
        let rows: Vec<(String,)> = with_reader!(self, c => {
            sqlx::query_as(
                "SELECT program_id FROM patient WHERE id = $1 UNION SELECT program_id FROM episode WHERE patient_id = $1",
            )
            .bind(id.to_string())
            .fetch_all(c)
            .await?
        });
        rows.iter()
            .map(|(p,)| parse_id(p, "patient.program_id"))
            .collect()
    }

    /// Search patients visible to `user` through any of `roles` (comma-separated names).
    pub async fn search_patients(
        &self,
        user: UserId,
        roles: &str,
        q: &PatientSearch,
    ) -> Result<Vec<Patient>> {
        let words: Vec<String> = q
            .name
            .as_deref()
            .unwrap_or("")
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|w| !w.is_empty())
            .take(3)
            .map(|w| format!("%{}%", w.to_lowercase().replace(['%', '_', '\\'], "")))
            .collect();
        let w = |i: usize| words.get(i).cloned();
        let sql = format!(
            "SELECT {PATIENT_COLS} FROM patient p WHERE {VISIBLE} \
             AND ($3 IS NULL OR p.search_name LIKE $3) AND ($4 IS NULL OR p.search_name LIKE $4) \
             AND ($5 IS NULL OR p.search_name LIKE $5) AND ($6 IS NULL OR p.date_of_birth = $6) \
             AND ($7 IS NULL OR p.mrn = $7) \
             ORDER BY p.search_name, p.date_of_birth LIMIT $8"
        );
        let rows: Vec<PatientRow> = with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(user.to_string())
                .bind(roles)
                .bind(w(0))
                .bind(w(1))
                .bind(w(2))
                .bind(q.date_of_birth.clone())
                .bind(q.mrn.clone())
                .bind(q.limit.clamp(1, 200))
                .fetch_all(c)
                .await?
        });
        rows.into_iter().map(Patient::try_from).collect()
    }

    /// Admit a patient to a program at a level of care.
    pub async fn admit(
        &self,
        patient: PatientId,
        program: ProgramId,
        level_of_care: &str,
        admitted_at: i64,
        by: Option<UserId>,
        ev: NewEvent,
    ) -> Result<EpisodeId> {
        let id = EpisodeId::new();
        with_tx!(self, tx => {
            sqlx::query(
                "INSERT INTO episode (id, patient_id, program_id, level_of_care, admitted_at, created_at, created_by) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(id.to_string())
            .bind(patient.to_string())
            .bind(program.to_string())
            .bind(level_of_care)
            .bind(admitted_at)
            .bind(now_us())
            .bind(by.map(|b| b.to_string()))
            .execute(&mut *tx)
            .await?;
            append_audit!(tx, ev.object("episode", id).patient(patient).program(program));
        });
        Ok(id)
    }

    /// Discharge an open episode (once).
    pub async fn discharge(
        &self,
        episode: EpisodeId,
        discharged_at: i64,
        reason: &str,
        ev: NewEvent,
    ) -> Result<()> {
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
                return Err(StoreError::NotFound);
            };
            append_audit!(tx, ev.object("episode", episode).patient(patient).program(program));
        });
        Ok(())
    }

    pub async fn episodes(&self, patient: PatientId) -> Result<Vec<Episode>> {
        let rows: Vec<EpisodeRow> = with_reader!(self, c => {
            sqlx::query_as(
                "SELECT id, patient_id, program_id, level_of_care, admitted_at, discharged_at, discharge_reason \
                 FROM episode WHERE patient_id = $1 ORDER BY admitted_at DESC",
            )
            .bind(patient.to_string())
            .fetch_all(c)
            .await?
        });
        rows.into_iter().map(Episode::try_from).collect()
    }

    /// Census per program the user may see the dashboard of (`roles`, comma-separated):
    /// active episodes now, admissions and discharges since `since`.
    pub async fn census(&self, user: UserId, roles: &str, since: i64) -> Result<Vec<CensusRow>> {
        let rows: Vec<(String, String, String, i64, i64, i64)> = with_reader!(self, c => {
            sqlx::query_as(
                "SELECT g.id, g.name, g.kind, \
                   (SELECT COUNT(*) FROM episode e WHERE e.program_id = g.id AND e.discharged_at IS NULL), \
                   (SELECT COUNT(*) FROM episode e WHERE e.program_id = g.id AND e.admitted_at >= $3), \
                   (SELECT COUNT(*) FROM episode e WHERE e.program_id = g.id AND e.discharged_at >= $3) \
                 FROM program g WHERE g.id IN (SELECT r.program_id FROM user_role r WHERE r.user_id = $1 \
                   AND (',' || $2 || ',') LIKE ('%,' || r.role || ',%')) ORDER BY g.name",
            )
            .bind(user.to_string())
            .bind(roles)
            .bind(since)
            .fetch_all(c)
            .await?
        });
        rows.into_iter()
            .map(|(id, name, kind, active, admissions, discharges)| {
                Ok(CensusRow {
                    program_id: parse_id(&id, "program.id")?,
                    program_name: name,
                    kind,
                    active,
                    admissions,
                    discharges,
                })
            })
            .collect()
    }

    /// Number of patients (all programs), for status output.
    pub async fn patient_count(&self) -> Result<i64> {
        let (n,): (i64,) = with_reader!(self, c => {
            sqlx::query_as("SELECT COUNT(*) FROM patient").fetch_one(c).await?
        });
        Ok(n)
    }
}
