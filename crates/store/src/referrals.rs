//! Program listings in the finder (live information) and call-back referrals
//! (the intake queue). Referrals hold a person's name and phone number: every
//! write is audited in its unit of work; staff reads are audited by the
//! application layer.

use crate::{Result, Store, StoreError, Tx, placeholders};
use carepath_domain::ids::{PatientId, ProgramId, UserId};
use serde::Serialize;

/// Listing codes are stored as a space-separated list of SAMHSA service codes.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Codes(pub Vec<String>);

impl From<String> for Codes {
    fn from(s: String) -> Self {
        Codes(s.split_whitespace().map(str::to_string).collect())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Listing {
    pub latitude: f64,
    pub longitude: f64,
    pub phone: String,
    #[sqlx(try_from = "String")]
    pub codes: Codes,
    pub accepting_new_patients: bool,
    pub open_beds: Option<i64>,
    pub waitlist_days: Option<i64>,
    pub same_day_medication: bool,
    pub last_verified_at: i64,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Referral {
    pub id: String,
    #[sqlx(try_from = "String")]
    pub program_id: ProgramId,
    pub name: String,
    pub phone: String,
    pub best_time: String,
    pub note: Option<String>,
    pub language: String,
    pub status: String,
    pub created_at: i64,
    pub claimed_by: Option<String>,
    pub closed_at: Option<i64>,
    pub outcome: Option<String>,
}

/// A new call-back request.
#[derive(Debug, Clone)]
pub struct NewReferral {
    pub name: String,
    pub phone: String,
    pub best_time: String,
    pub note: Option<String>,
    pub language: String,
}

impl Tx {
    /// Set (or replace) a program's public listing.
    pub async fn set_program_listing(
        &mut self,
        program: ProgramId,
        l: &Listing,
        by: Option<UserId>,
    ) -> Result<()> {
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO program_listing (program_id, latitude, longitude, phone, codes, accepting_new_patients, open_beds, \
                 waitlist_days, same_day_medication, last_verified_at, verified_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                 ON CONFLICT (program_id) DO UPDATE SET latitude = excluded.latitude, longitude = excluded.longitude, \
                 phone = excluded.phone, codes = excluded.codes, accepting_new_patients = excluded.accepting_new_patients, \
                 open_beds = excluded.open_beds, waitlist_days = excluded.waitlist_days, \
                 same_day_medication = excluded.same_day_medication, last_verified_at = excluded.last_verified_at, \
                 verified_by = excluded.verified_by",
            )
            .bind(program.to_string())
            .bind(l.latitude)
            .bind(l.longitude)
            .bind(&l.phone)
            .bind(l.codes.0.join(" "))
            .bind(l.accepting_new_patients)
            .bind(l.open_beds)
            .bind(l.waitlist_days)
            .bind(l.same_day_medication)
            .bind(l.last_verified_at)
            .bind(by.map(|b| b.to_string()))
            .execute(&mut *c)
            .await?;
        });
        Ok(())
    }

    /// Record a call-back request in a program's intake queue.
    pub async fn create_referral(&mut self, program: ProgramId, r: &NewReferral) -> Result<String> {
        let id = uuid::Uuid::now_v7().to_string();
        let now = self.now();
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO referral (id, program_id, name, phone, best_time, note, language, status, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'new', $8)",
            )
            .bind(&id)
            .bind(program.to_string())
            .bind(&r.name)
            .bind(&r.phone)
            .bind(&r.best_time)
            .bind(&r.note)
            .bind(&r.language)
            .bind(now)
            .execute(&mut *c)
            .await?;
        });
        Ok(id)
    }

    /// Claim a new referral (first claimer wins): `Conflict("referral_not_new")`.
    pub async fn claim_referral(&mut self, id: &str, by: &str) -> Result<()> {
        let now = self.now();
        let n = on_tx!(self, c => {
            sqlx::query("UPDATE referral SET status = 'claimed', claimed_by = $2, claimed_at = $3 WHERE id = $1 AND status = 'new'")
                .bind(id)
                .bind(by)
                .bind(now)
                .execute(&mut *c)
                .await?
                .rows_affected()
        });
        if n == 0 {
            return Err(StoreError::Conflict("referral_not_new".into()));
        }
        Ok(())
    }

    /// Close an open referral with an outcome: `Conflict("referral_closed")`.
    /// `patient`: the patient registered from the request, kept so the
    /// dashboard can time the way from first call to admission.
    pub async fn close_referral(
        &mut self,
        id: &str,
        outcome: &str,
        patient: Option<PatientId>,
    ) -> Result<()> {
        let now = self.now();
        let n = on_tx!(self, c => {
            sqlx::query("UPDATE referral SET status = 'closed', closed_at = $3, outcome = $2, patient_id = $4 WHERE id = $1 AND status <> 'closed'")
                .bind(id)
                .bind(outcome)
                .bind(now)
                .bind(patient.map(|p| p.to_string()))
                .execute(&mut *c)
                .await?
                .rows_affected()
        });
        if n == 0 {
            return Err(StoreError::Conflict("referral_closed".into()));
        }
        Ok(())
    }
}

impl Store {
    /// Every program listing, by program.
    pub async fn program_listings(&self) -> Result<Vec<(ProgramId, Listing)>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(try_from = "String")]
            program_id: ProgramId,
            #[sqlx(flatten)]
            listing: Listing,
        }
        let rows: Vec<Row> = with_reader!(self, c => {
            sqlx::query_as(
                "SELECT program_id, latitude, longitude, phone, codes, accepting_new_patients, open_beds, waitlist_days, \
                 same_day_medication, last_verified_at FROM program_listing ORDER BY program_id",
            )
            .fetch_all(c)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|r| (r.program_id, r.listing))
            .collect())
    }

    /// A fingerprint of the listings (count, last verification).
    pub async fn listings_version(&self) -> Result<(i64, i64)> {
        let v: (i64, Option<i64>) = with_reader!(self, c => {
            sqlx::query_as("SELECT COUNT(*), MAX(last_verified_at) FROM program_listing").fetch_one(c).await?
        });
        Ok((v.0, v.1.unwrap_or(0)))
    }

    /// Referrals of the given programs, open ones first.
    pub async fn referrals(
        &self,
        programs: &[ProgramId],
        include_closed: bool,
    ) -> Result<Vec<Referral>> {
        if programs.is_empty() {
            return Ok(vec![]);
        }
        let sql = format!(
            "SELECT id, program_id, name, phone, best_time, note, language, status, created_at, claimed_by, closed_at, outcome \
             FROM referral WHERE program_id IN ({}) AND ($1 OR status <> 'closed') \
             ORDER BY CASE status WHEN 'new' THEN 0 WHEN 'claimed' THEN 1 ELSE 2 END, created_at LIMIT 500",
            placeholders(2, programs.len())
        );
        Ok(with_reader!(self, c => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(include_closed);
            for p in programs {
                q = q.bind(p.to_string());
            }
            q.fetch_all(c).await?
        }))
    }

    pub async fn referral_program(&self, id: &str) -> Result<ProgramId> {
        let (p,): (String,) = with_reader!(self, c => {
            sqlx::query_as("SELECT program_id FROM referral WHERE id = $1").bind(id).fetch_one(c).await?
        });
        p.parse()
            .map_err(|_| StoreError::Corrupt("referral.program_id"))
    }
}
