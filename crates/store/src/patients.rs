//! Patients and episodes of care. Both are clinical records: never deleted
//! (database triggers refuse it); an episode changes only by being discharged.

use crate::{PatientWrite, Result, Src, Store, StoreError, Tx, conflict_on, placeholders};
use carepath_domain::ids::{EpisodeId, PatientId, ProgramId, UserId};
use carepath_domain::patient::Demographics;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Patient {
    #[sqlx(try_from = "String")]
    pub id: PatientId,
    #[sqlx(try_from = "String")]
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

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Episode {
    #[sqlx(try_from = "String")]
    pub id: EpisodeId,
    #[sqlx(try_from = "String")]
    pub patient_id: PatientId,
    #[sqlx(try_from = "String")]
    pub program_id: ProgramId,
    pub level_of_care: String,
    pub admitted_at: i64,
    pub discharged_at: Option<i64>,
    pub discharge_reason: Option<String>,
}

/// A patient search. Only patients whose home program is one of `programs`
/// (or who have an episode in one) are returned.
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
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct CensusRow {
    #[sqlx(try_from = "String")]
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
const EPISODE_COLS: &str =
    "id, patient_id, program_id, level_of_care, admitted_at, discharged_at, discharge_reason";

impl Tx {
    /// Register a patient with medical record number `mrn`. If the MRN is
    /// taken, `Conflict("patient_mrn_key")` (the caller picks another).
    pub async fn create_patient(
        &mut self,
        program: ProgramId,
        d: &Demographics,
        mrn: &str,
        by: Option<UserId>,
    ) -> Result<Patient> {
        let id = PatientId::new();
        let now = self.now();
        let inserted: Option<(String,)> = on_tx!(self, c => {
            sqlx::query_as(
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
            .fetch_optional(&mut *c)
            .await?
        });
        if inserted.is_none() {
            return Err(StoreError::Conflict("patient_mrn_key".into()));
        }
        self.touched.push(("patient", id.to_string()));
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

    /// Admit the patient to a program at a level of care.
    /// `Conflict("episode_one_open")` when an episode there is already open.
    pub async fn admit(
        &mut self,
        w: &PatientWrite,
        program: ProgramId,
        level_of_care: &str,
        admitted_at: i64,
        by: Option<UserId>,
    ) -> Result<EpisodeId> {
        let id = EpisodeId::new();
        let now = self.now();
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO episode (id, patient_id, program_id, level_of_care, admitted_at, created_at, created_by) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(id.to_string())
            .bind(w.patient().to_string())
            .bind(program.to_string())
            .bind(level_of_care)
            .bind(admitted_at)
            .bind(now)
            .bind(by.map(|b| b.to_string()))
            .execute(&mut *c)
            .await
            .map_err(conflict_on("episode_one_open"))?;
        });
        self.touched.push(("episode", id.to_string()));
        Ok(id)
    }

    /// Discharge an open episode of the patient (once).
    /// `Conflict("episode_discharged")` when it is not open.
    pub async fn discharge(
        &mut self,
        w: &PatientWrite,
        episode: EpisodeId,
        discharged_at: i64,
        reason: &str,
    ) -> Result<()> {
        let row: Option<(String,)> = on_tx!(self, c => {
            sqlx::query_as(
                "UPDATE episode SET discharged_at = $3, discharge_reason = $4 \
                 WHERE id = $1 AND patient_id = $2 AND discharged_at IS NULL RETURNING id",
            )
            .bind(episode.to_string())
            .bind(w.patient().to_string())
            .bind(discharged_at)
            .bind(reason)
            .fetch_optional(&mut *c)
            .await?
        });
        match row {
            Some(_) => {
                self.touched.push(("episode", episode.to_string()));
                Ok(())
            }
            None => Err(StoreError::Conflict("episode_discharged".into())),
        }
    }

    /// The patient's episodes, read inside the transaction.
    pub async fn episodes(&mut self, patient: PatientId) -> Result<Vec<Episode>> {
        episodes(Src::Tx(self), patient).await
    }
}

async fn episodes(src: Src<'_>, patient: PatientId) -> Result<Vec<Episode>> {
    let sql = format!(
        "SELECT {EPISODE_COLS} FROM episode WHERE patient_id = $1 ORDER BY admitted_at DESC"
    );
    Ok(with_src!(src, c => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(patient.to_string())
            .fetch_all(c)
            .await?
    }))
}

/// `p.program_id IN (…) OR an episode in one of them`: patient `p` belongs to
/// one of the programs bound from placeholder `$from` on.
fn in_programs(from: usize, n: usize) -> String {
    let ph = placeholders(from, n);
    format!(
        "(p.program_id IN ({ph}) OR EXISTS (SELECT 1 FROM episode e WHERE e.patient_id = p.id AND e.program_id IN ({ph})))"
    )
}

impl Store {
    /// A patient by id, with no access check: the application's access path
    /// is the only caller that hands patient data on.
    pub async fn patient(&self, id: PatientId) -> Result<Patient> {
        let sql = format!("SELECT {PATIENT_COLS} FROM patient p WHERE p.id = $1");
        Ok(with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id.to_string()).fetch_one(c).await?
        }))
    }

    /// One patient, or none for an unknown id.
    pub async fn find_patient(&self, id: PatientId) -> Result<Option<Patient>> {
        let sql = format!("SELECT {PATIENT_COLS} FROM patient p WHERE p.id = $1");
        Ok(with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id.to_string()).fetch_optional(c).await?
        }))
    }

    /// The programs a patient belongs to: the home program and every program
    /// with an episode. Empty for an unknown id.
    pub async fn patient_programs(&self, id: PatientId) -> Result<Vec<ProgramId>> {
        let rows: Vec<(String,)> = with_reader!(self, c => {
            sqlx::query_as(
                "SELECT program_id FROM patient WHERE id = $1 UNION SELECT program_id FROM episode WHERE patient_id = $1",
            )
            .bind(id.to_string())
            .fetch_all(c)
            .await?
        });
        rows.into_iter()
            .map(|(p,)| p.parse().map_err(|_| StoreError::Corrupt("program_id")))
            .collect()
    }

    /// Search patients of `programs` (home program or an episode there).
    pub async fn search_patients(
        &self,
        programs: &[ProgramId],
        q: &PatientSearch,
    ) -> Result<Vec<Patient>> {
        if programs.is_empty() {
            return Ok(vec![]);
        }
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
            "SELECT {PATIENT_COLS} FROM patient p WHERE \
             ($1 IS NULL OR p.search_name LIKE $1) AND ($2 IS NULL OR p.search_name LIKE $2) \
             AND ($3 IS NULL OR p.search_name LIKE $3) AND ($4 IS NULL OR p.date_of_birth = $4) \
             AND ($5 IS NULL OR p.mrn = $5) AND {} \
             ORDER BY p.search_name, p.date_of_birth LIMIT $6",
            in_programs(7, programs.len())
        );
        Ok(with_reader!(self, c => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(w(0))
                .bind(w(1))
                .bind(w(2))
                .bind(q.date_of_birth.clone())
                .bind(q.mrn.clone())
                .bind(q.limit.clamp(1, 200));
            for p in programs {
                q = q.bind(p.to_string());
            }
            q.fetch_all(c).await?
        }))
    }

    pub async fn episodes(&self, patient: PatientId) -> Result<Vec<Episode>> {
        episodes(Src::Store(self), patient).await
    }

    /// Episodes of a program in care at any time since `since` (open, or
    /// discharged since then), oldest admission first.
    pub async fn program_episodes(&self, program: ProgramId, since: i64) -> Result<Vec<Episode>> {
        let sql = format!(
            "SELECT {EPISODE_COLS} FROM episode WHERE program_id = $1 AND (discharged_at IS NULL OR discharged_at >= $2) ORDER BY admitted_at"
        );
        Ok(with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(program.to_string())
                .bind(since)
                .fetch_all(c)
                .await?
        }))
    }

    /// Open episodes in a program, oldest admission first.
    pub async fn open_episodes(&self, program: ProgramId) -> Result<Vec<Episode>> {
        let sql = format!(
            "SELECT {EPISODE_COLS} FROM episode WHERE program_id = $1 AND discharged_at IS NULL ORDER BY admitted_at"
        );
        Ok(with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(program.to_string())
                .fetch_all(c)
                .await?
        }))
    }

    /// Census of `programs`: active episodes now, admissions and discharges
    /// since `since`.
    pub async fn census(&self, programs: &[ProgramId], since: i64) -> Result<Vec<CensusRow>> {
        if programs.is_empty() {
            return Ok(vec![]);
        }
        let sql = format!(
            "SELECT g.id AS program_id, g.name AS program_name, g.kind, \
               (SELECT COUNT(*) FROM episode e WHERE e.program_id = g.id AND e.discharged_at IS NULL) AS active, \
               (SELECT COUNT(*) FROM episode e WHERE e.program_id = g.id AND e.admitted_at >= $1) AS admissions, \
               (SELECT COUNT(*) FROM episode e WHERE e.program_id = g.id AND e.discharged_at >= $1) AS discharges \
             FROM program g WHERE g.id IN ({}) ORDER BY g.name",
            placeholders(2, programs.len())
        );
        Ok(with_reader!(self, c => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(since);
            for p in programs {
                q = q.bind(p.to_string());
            }
            q.fetch_all(c).await?
        }))
    }

    /// Number of patients (all programs), for status output.
    pub async fn patient_count(&self) -> Result<i64> {
        let (n,): (i64,) = with_reader!(self, c => {
            sqlx::query_as("SELECT COUNT(*) FROM patient").fetch_one(c).await?
        });
        Ok(n)
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
        rows.into_iter()
            .map(|(p,)| p.parse().map_err(|_| StoreError::Corrupt("patient_id")))
            .collect()
    }

    /// Names of patients by id (for lists the caller is already allowed to see).
    pub async fn patient_names(&self, ids: &[PatientId]) -> Result<Vec<(PatientId, String)>> {
        Ok(self
            .patient_idents(ids)
            .await?
            .into_iter()
            .map(|p| (p.0, p.1))
            .collect())
    }

    /// Who the patients are, to tell two of the same name apart: (id,
    /// "Last, First (Preferred)", date of birth, MRN).
    pub async fn patient_idents(
        &self,
        ids: &[PatientId],
    ) -> Result<Vec<(PatientId, String, String, String)>> {
        #[derive(sqlx::FromRow)]
        struct NameRow {
            #[sqlx(try_from = "String")]
            id: PatientId,
            legal_last_name: String,
            legal_first_name: String,
            preferred_name: Option<String>,
            date_of_birth: String,
            mrn: String,
        }
        let mut out = vec![];
        for chunk in ids.chunks(200) {
            let sql = format!(
                "SELECT id, legal_last_name, legal_first_name, preferred_name, date_of_birth, mrn \
                 FROM patient p WHERE p.id IN ({})",
                placeholders(1, chunk.len())
            );
            let rows: Vec<NameRow> = with_reader!(self, c => {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
                for k in chunk {
                    q = q.bind(k.to_string());
                }
                q.fetch_all(c).await?
            });
            for r in rows {
                let name = display_name(
                    &r.legal_last_name,
                    &r.legal_first_name,
                    r.preferred_name.as_deref(),
                );
                out.push((r.id, name, r.date_of_birth, r.mrn));
            }
        }
        Ok(out)
    }
}
