//! Program listings in the finder (live information) and call-back referrals
//! (the intake queue). Referrals hold a person's name and phone number: every
//! write is audited in its transaction; staff reads are audited by the web layer.

use crate::{Result, Store, StoreError, now_us, parse_id};
use carepath_domain::audit::NewEvent;
use carepath_domain::ids::{ProgramId, UserId};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Listing {
    pub latitude: f64,
    pub longitude: f64,
    pub phone: String,
    pub codes: Vec<String>,
    pub accepting_new_patients: bool,
    pub open_beds: Option<i64>,
    pub waitlist_days: Option<i64>,
    pub same_day_medication: bool,
    pub last_verified_at: i64,
}

#[derive(sqlx::FromRow)]
struct ListingRow {
    program_id: String,
    latitude: f64,
    longitude: f64,
    phone: String,
    codes: String,
    accepting_new_patients: bool,
    open_beds: Option<i64>,
    waitlist_days: Option<i64>,
    same_day_medication: bool,
    last_verified_at: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Referral {
    pub id: String,
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

#[derive(sqlx::FromRow)]
struct ReferralRow {
    id: String,
    program_id: String,
    name: String,
    phone: String,
    best_time: String,
    note: Option<String>,
    language: String,
    status: String,
    created_at: i64,
    claimed_by: Option<String>,
    closed_at: Option<i64>,
    outcome: Option<String>,
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

impl Store {
    /// Set (or replace) a program's public listing.
    pub async fn set_program_listing(
        &self,
        program: ProgramId,
        l: &Listing,
        by: Option<UserId>,
        ev: NewEvent,
    ) -> Result<()> {
        with_tx!(self, tx => {
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
            .bind(l.codes.join(" "))
            .bind(l.accepting_new_patients)
            .bind(l.open_beds)
            .bind(l.waitlist_days)
            .bind(l.same_day_medication)
            .bind(l.last_verified_at)
            .bind(by.map(|b| b.to_string()))
            .execute(&mut *tx)
            .await?;
            append_audit!(tx, ev.object("program_listing", program).program(program));
        });
        Ok(())
    }

    /// Every program listing, by program.
    pub async fn program_listings(&self) -> Result<Vec<(ProgramId, Listing)>> {
        let rows: Vec<ListingRow> = with_reader!(self, c => {
            sqlx::query_as(
                "SELECT program_id, latitude, longitude, phone, codes, accepting_new_patients, open_beds, waitlist_days, \
                 same_day_medication, last_verified_at FROM program_listing ORDER BY program_id",
            )
            .fetch_all(c)
            .await?
        });
        rows.into_iter()
            .map(|r| {
                Ok((
                    parse_id(&r.program_id, "program_listing.program_id")?,
                    Listing {
                        latitude: r.latitude,
                        longitude: r.longitude,
                        phone: r.phone,
                        codes: r.codes.split_whitespace().map(str::to_string).collect(),
                        accepting_new_patients: r.accepting_new_patients,
                        open_beds: r.open_beds,
                        waitlist_days: r.waitlist_days,
                        same_day_medication: r.same_day_medication,
                        last_verified_at: r.last_verified_at,
                    },
                ))
            })
            .collect()
    }

    /// A fingerprint of the listings (count, last verification).
    pub async fn listings_version(&self) -> Result<(i64, i64)> {
        let v: (i64, Option<i64>) = with_reader!(self, c => {
            sqlx::query_as("SELECT COUNT(*), MAX(last_verified_at) FROM program_listing").fetch_one(c).await?
        });
        Ok((v.0, v.1.unwrap_or(0)))
    }

    /// Record a call-back request in a program's intake queue.
    pub async fn create_referral(
        &self,
        program: ProgramId,
        r: &NewReferral,
        ev: NewEvent,
    ) -> Result<String> {
        let id = uuid::Uuid::now_v7().to_string();
        with_tx!(self, tx => {
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
            .bind(now_us())
            .execute(&mut *tx)
            .await?;
            append_audit!(tx, ev.object("referral", &id).program(program));
        });
        Ok(id)
    }

    /// Referrals of the given programs (comma-separated ids), open ones first.
    pub async fn referrals(
        &self,
        programs: &[ProgramId],
        include_closed: bool,
    ) -> Result<Vec<Referral>> {
        let csv = programs
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let rows: Vec<ReferralRow> = with_reader!(self, c => {
            sqlx::query_as(
                "SELECT id, program_id, name, phone, best_time, note, language, status, created_at, claimed_by, closed_at, outcome \
                 FROM referral WHERE (',' || $1 || ',') LIKE ('%,' || program_id || ',%') AND ($2 OR status <> 'closed') \
                 ORDER BY CASE status WHEN 'new' THEN 0 WHEN 'claimed' THEN 1 ELSE 2 END, created_at LIMIT 500",
            )
            .bind(csv)
            .bind(include_closed)
            .fetch_all(c)
            .await?
        });
        rows.into_iter()
            .map(|r| {
                Ok(Referral {
                    program_id: parse_id(&r.program_id, "referral.program_id")?,
                    id: r.id,
                    name: r.name,
                    phone: r.phone,
                    best_time: r.best_time,
                    note: r.note,
                    language: r.language,
                    status: r.status,
                    created_at: r.created_at,
                    claimed_by: r.claimed_by,
                    closed_at: r.closed_at,
                    outcome: r.outcome,
                })
            })
            .collect()
    }

    pub async fn referral_program(&self, id: &str) -> Result<ProgramId> {
        let (p,): (String,) = with_reader!(self, c => {
            sqlx::query_as("SELECT program_id FROM referral WHERE id = $1").bind(id).fetch_one(c).await?
        });
        parse_id(&p, "referral.program_id")
    }

    /// Claim a new referral (first claimer wins).
    pub async fn claim_referral(&self, id: &str, by: &str, ev: NewEvent) -> Result<()> {
        with_tx!(self, tx => {
            let n = sqlx::query("UPDATE referral SET status = 'claimed', claimed_by = $2, claimed_at = $3 WHERE id = $1 AND status = 'new'")
                .bind(id)
                .bind(by)
                .bind(now_us())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 0 {
                return Err(StoreError::Conflict("referral is not new".into()));
            }
            append_audit!(tx, ev.object("referral", id));
        });
        Ok(())
    }

    /// Close an open referral with an outcome.
    pub async fn close_referral(&self, id: &str, outcome: &str, ev: NewEvent) -> Result<()> {
        with_tx!(self, tx => {
            let n = sqlx::query("UPDATE referral SET status = 'closed', closed_at = $3, outcome = $2 WHERE id = $1 AND status <> 'closed'")
                .bind(id)
                .bind(outcome)
                .bind(now_us())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 0 {
                return Err(StoreError::Conflict("referral is already closed".into()));
            }
            append_audit!(tx, ev.object("referral", id).detail(outcome.to_string()));
        });
        Ok(())
    }
}
