//! Contingency management and the rewards store: funding sources,
//! enrolments, samples (once per piece of evidence), earnings (once per
//! sample; the annual cap by trigger), the catalog with its stock (never
//! below zero), redemptions (the balance never below zero) and their
//! outcomes. Append-only but the funding and catalog definitions.

use crate::{PatientWrite, Result, Src, Tx, conflict_on};
use carepath_domain::ids::{PatientId, ProgramId, UserId};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Funding {
    pub id: String,
    #[sqlx(try_from = "String")]
    pub program_id: ProgramId,
    pub name: String,
    pub annual_cap_cents: i64,
    pub annual_budget_cents: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Enrollment {
    pub id: String,
    #[sqlx(try_from = "String")]
    pub patient_id: PatientId,
    #[sqlx(try_from = "String")]
    pub program_id: ProgramId,
    pub funding_id: String,
    /// voucher or prize.
    pub kind: String,
    pub preset: String,
    /// The engine's schedule (voucher) or draw rules and bowl (prize), JSON.
    pub schedule: String,
    /// Target analytes, comma-separated engine names.
    pub analytes: String,
    /// Attending groups and individual or family sessions is a target.
    pub attendance: bool,
    /// Attending the plan's activities (sessions of kind `activity`) is a target.
    pub activities: bool,
    #[serde(skip)]
    pub seed: i64,
    pub starts_at: i64,
    pub by_name: String,
    pub enrolled_at: i64,
    pub ended_at: Option<i64>,
    pub end_reason: Option<String>,
}

pub struct NewEnrollment {
    pub patient_id: PatientId,
    pub program_id: ProgramId,
    pub funding_id: String,
    pub kind: String,
    pub preset: String,
    pub schedule: String,
    pub analytes: String,
    pub attendance: bool,
    pub activities: bool,
    pub seed: i64,
    pub starts_at: i64,
    pub by: UserId,
    pub by_name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Sample {
    pub id: String,
    pub enrollment_id: String,
    /// drug_test or attendance.
    pub source: String,
    pub evidence_id: String,
    /// negative, positive, missed, refused, invalid.
    pub sample: String,
    pub evidence_at: i64,
    pub recorded_at: i64,
    /// Set once earned (a voucher at once, prize draws when drawn).
    pub amount_cents: Option<i64>,
    pub wanted_cents: Option<i64>,
    pub draw: Option<String>,
    pub detail: Option<String>,
    pub earned_at: Option<i64>,
}

pub struct NewEarning {
    pub sample_id: String,
    pub enrollment_id: String,
    pub patient_id: PatientId,
    pub funding_id: String,
    pub earned_year: String,
    pub amount_cents: i64,
    pub wanted_cents: i64,
    pub draw: Option<String>,
    pub detail: String,
    pub by_name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Item {
    pub id: String,
    #[sqlx(try_from = "String")]
    pub program_id: ProgramId,
    pub name: String,
    pub category: String,
    pub cost_cents: i64,
    pub in_stock: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Redemption {
    pub id: String,
    #[sqlx(try_from = "String")]
    pub patient_id: PatientId,
    #[sqlx(try_from = "String")]
    pub program_id: ProgramId,
    pub item_id: String,
    pub item_name: String,
    pub cost_cents: i64,
    pub requested_by: String,
    pub by_name: String,
    pub requested_at: i64,
    /// fulfilled or declined, once decided.
    pub outcome: Option<String>,
    pub outcome_by_name: Option<String>,
    pub outcome_at: Option<i64>,
}

const ENROLL_COLS: &str = "e.id, e.patient_id, e.program_id, e.funding_id, e.kind, e.preset, e.schedule, e.analytes, \
     e.attendance, e.activities, e.seed, e.starts_at, e.by_name, e.enrolled_at, x.ended_at, x.reason AS end_reason";
const SAMPLE_COLS: &str = "s.id, s.enrollment_id, s.source, s.evidence_id, s.sample, s.evidence_at, s.recorded_at, \
     g.amount_cents, g.wanted_cents, g.draw, g.detail, g.earned_at";
const ITEM_COLS: &str = "i.id, i.program_id, i.name, i.category, i.cost_cents, \
     CAST(COALESCE((SELECT SUM(k.delta) FROM reward_stock k WHERE k.item_id = i.id), 0) AS BIGINT) AS in_stock";
const REDEEM_COLS: &str = "r.id, r.patient_id, r.program_id, r.item_id, i.name AS item_name, r.cost_cents, r.requested_by, \
     r.by_name, r.requested_at, o.outcome, o.by_name AS outcome_by_name, o.at_us AS outcome_at";

impl Tx {
    pub async fn add_funding(
        &mut self,
        program: ProgramId,
        name: &str,
        cap: i64,
        budget: i64,
        by: UserId,
    ) -> Result<String> {
        let id = uuid::Uuid::now_v7().to_string();
        let now = self.now();
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO cm_funding (id, program_id, name, annual_cap_cents, annual_budget_cents, created_at, created_by) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&id).bind(program.to_string()).bind(name).bind(cap).bind(budget).bind(now).bind(by.to_string())
            .execute(&mut *c).await.map_err(conflict_on("cm_funding_name"))?;
        });
        Ok(id)
    }

    pub async fn add_enrollment(&mut self, w: &PatientWrite, e: &NewEnrollment) -> Result<String> {
        w.check(e.patient_id)?;
        let id = uuid::Uuid::now_v7().to_string();
        let now = self.now();
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO cm_enrollment (id, patient_id, program_id, funding_id, kind, preset, schedule, analytes, attendance, \
                 activities, seed, starts_at, by_user, by_name, enrolled_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
            )
            .bind(&id).bind(e.patient_id.to_string()).bind(e.program_id.to_string()).bind(&e.funding_id)
            .bind(&e.kind).bind(&e.preset).bind(&e.schedule).bind(&e.analytes).bind(e.attendance).bind(e.activities).bind(e.seed)
            .bind(e.starts_at).bind(e.by.to_string()).bind(&e.by_name).bind(now)
            .execute(&mut *c).await?;
        });
        self.touched.push(("cm_enrollment", id.clone()));
        Ok(id)
    }

    pub async fn end_enrollment(
        &mut self,
        w: &PatientWrite,
        e: &Enrollment,
        reason: &str,
        by: UserId,
        by_name: &str,
    ) -> Result<()> {
        w.check(e.patient_id)?;
        let now = self.now();
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO cm_enrollment_end (enrollment_id, reason, by_user, by_name, ended_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&e.id).bind(reason).bind(by.to_string()).bind(by_name).bind(now)
            .execute(&mut *c).await.map_err(conflict_on("cm_enrollment_end_pkey"))?;
        });
        self.touched.push(("cm_enrollment_end", e.id.clone()));
        Ok(())
    }

    /// A program's funding sources, inside the unit of work.
    pub async fn fundings_in_tx(&mut self, program: ProgramId) -> Result<Vec<Funding>> {
        Ok(on_tx!(self, c => {
            sqlx::query_as(
                "SELECT id, program_id, name, annual_cap_cents, annual_budget_cents FROM cm_funding WHERE program_id = $1",
            )
            .bind(program.to_string()).fetch_all(&mut *c).await?
        }))
    }

    /// The enrolments of a patient, inside the unit of work.
    pub async fn enrollments_in_tx(&mut self, patient: PatientId) -> Result<Vec<Enrollment>> {
        enrollments(Src::Tx(self), patient).await
    }

    /// The samples of an enrolment in the order recorded, inside the unit of work.
    pub async fn samples_in_tx(&mut self, enrollment: &str) -> Result<Vec<Sample>> {
        samples(Src::Tx(self), enrollment).await
    }

    /// Record a sample (`Conflict("cm_sample_once")` when that evidence
    /// already counted for the enrolment).
    #[allow(clippy::too_many_arguments)]
    pub async fn add_sample(
        &mut self,
        w: &PatientWrite,
        e: &Enrollment,
        source: &str,
        evidence_id: &str,
        sample: &str,
        evidence_at: i64,
    ) -> Result<String> {
        w.check(e.patient_id)?;
        let id = uuid::Uuid::now_v7().to_string();
        let now = self.now();
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO cm_sample (id, enrollment_id, patient_id, source, evidence_id, sample, evidence_at, recorded_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&id).bind(&e.id).bind(e.patient_id.to_string()).bind(source).bind(evidence_id).bind(sample)
            .bind(evidence_at).bind(now)
            .execute(&mut *c).await.map_err(conflict_on("cm_sample_once"))?;
        });
        self.touched.push(("cm_sample", id.clone()));
        Ok(id)
    }

    /// What a sample earned, once (`Conflict("cm_earning_pkey")`); refused
    /// by the database past the annual cap.
    pub async fn add_earning(&mut self, w: &PatientWrite, g: &NewEarning) -> Result<()> {
        w.check(g.patient_id)?;
        let now = self.now();
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO cm_earning (sample_id, enrollment_id, patient_id, funding_id, earned_year, amount_cents, \
                 wanted_cents, draw, detail, by_name, earned_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(&g.sample_id).bind(&g.enrollment_id).bind(g.patient_id.to_string()).bind(&g.funding_id)
            .bind(&g.earned_year).bind(g.amount_cents).bind(g.wanted_cents).bind(&g.draw).bind(&g.detail)
            .bind(&g.by_name).bind(now)
            .execute(&mut *c).await.map_err(conflict_on("cm_earning_pkey"))?;
        });
        self.touched.push(("cm_earning", g.sample_id.clone()));
        Ok(())
    }

    /// Earned this year from a funding source by a patient (inside the unit of work).
    pub async fn earned_in_year(
        &mut self,
        patient: PatientId,
        funding: &str,
        year: &str,
    ) -> Result<i64> {
        let (n,): (i64,) = on_tx!(self, c => {
            sqlx::query_as(
                "SELECT CAST(COALESCE(SUM(amount_cents), 0) AS BIGINT) FROM cm_earning WHERE patient_id = $1 AND funding_id = $2 AND earned_year = $3",
            )
            .bind(patient.to_string()).bind(funding).bind(year).fetch_one(&mut *c).await?
        });
        Ok(n)
    }

    pub async fn add_item(
        &mut self,
        program: ProgramId,
        name: &str,
        category: &str,
        cost: i64,
        by: UserId,
    ) -> Result<String> {
        let id = uuid::Uuid::now_v7().to_string();
        let now = self.now();
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO reward_item (id, program_id, name, category, cost_cents, created_at, by_user) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&id).bind(program.to_string()).bind(name).bind(category).bind(cost).bind(now).bind(by.to_string())
            .execute(&mut *c).await.map_err(conflict_on("reward_item_name"))?;
        });
        self.touched.push(("reward_item", id.clone()));
        Ok(id)
    }

    /// Stock in (positive) or out (negative; refused below zero).
    pub async fn add_stock(
        &mut self,
        item: &str,
        delta: i64,
        reason: &str,
        redemption: Option<&str>,
        by: UserId,
    ) -> Result<()> {
        let id = uuid::Uuid::now_v7().to_string();
        let now = self.now();
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO reward_stock (id, item_id, delta, reason, redemption_id, by_user, at_us) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&id).bind(item).bind(delta).bind(reason).bind(redemption).bind(by.to_string()).bind(now)
            .execute(&mut *c).await?;
        });
        self.touched.push(("reward_stock", id));
        Ok(())
    }

    /// Ask for an item (refused by the database when the balance would go below zero).
    #[allow(clippy::too_many_arguments)]
    pub async fn add_redemption(
        &mut self,
        w: &PatientWrite,
        patient: PatientId,
        program: ProgramId,
        item: &Item,
        requested_by: &str,
        by_name: &str,
    ) -> Result<String> {
        w.check(patient)?;
        let id = uuid::Uuid::now_v7().to_string();
        let now = self.now();
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO cm_redemption (id, patient_id, program_id, item_id, cost_cents, requested_by, by_name, requested_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&id).bind(patient.to_string()).bind(program.to_string()).bind(&item.id).bind(item.cost_cents)
            .bind(requested_by).bind(by_name).bind(now)
            .execute(&mut *c).await?;
        });
        self.touched.push(("cm_redemption", id.clone()));
        Ok(id)
    }

    /// Fulfil or decline a redemption, once (`Conflict("cm_redemption_outcome_pkey")`).
    pub async fn decide_redemption(
        &mut self,
        w: &PatientWrite,
        r: &Redemption,
        outcome: &str,
        note: Option<&str>,
        by: UserId,
        by_name: &str,
    ) -> Result<()> {
        w.check(r.patient_id)?;
        let now = self.now();
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO cm_redemption_outcome (redemption_id, outcome, note, by_user, by_name, at_us) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&r.id).bind(outcome).bind(note).bind(by.to_string()).bind(by_name).bind(now)
            .execute(&mut *c).await.map_err(conflict_on("cm_redemption_outcome_pkey"))?;
        });
        self.touched.push(("cm_redemption_outcome", r.id.clone()));
        Ok(())
    }

    pub async fn redemption_in_tx(&mut self, id: &str) -> Result<Option<Redemption>> {
        let sql = format!(
            "SELECT {REDEEM_COLS} FROM cm_redemption r JOIN reward_item i ON i.id = r.item_id \
             LEFT JOIN cm_redemption_outcome o ON o.redemption_id = r.id WHERE r.id = $1"
        );
        Ok(on_tx!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&mut *c).await?
        }))
    }
}

async fn enrollments(src: Src<'_>, patient: PatientId) -> Result<Vec<Enrollment>> {
    let sql = format!(
        "SELECT {ENROLL_COLS} FROM cm_enrollment e LEFT JOIN cm_enrollment_end x ON x.enrollment_id = e.id \
         WHERE e.patient_id = $1 ORDER BY e.enrolled_at"
    );
    Ok(with_src!(src, c => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(patient.to_string()).fetch_all(c).await?
    }))
}

async fn samples(src: Src<'_>, enrollment: &str) -> Result<Vec<Sample>> {
    let sql = format!(
        "SELECT {SAMPLE_COLS} FROM cm_sample s LEFT JOIN cm_earning g ON g.sample_id = s.id \
         WHERE s.enrollment_id = $1 ORDER BY s.recorded_at, s.id"
    );
    Ok(with_src!(src, c => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(enrollment).fetch_all(c).await?
    }))
}

impl crate::Store {
    pub async fn fundings(&self, program: ProgramId) -> Result<Vec<Funding>> {
        Ok(with_reader!(self, c => {
            sqlx::query_as(
                "SELECT id, program_id, name, annual_cap_cents, annual_budget_cents FROM cm_funding WHERE program_id = $1 ORDER BY name",
            )
            .bind(program.to_string()).fetch_all(c).await?
        }))
    }

    pub async fn enrollments(&self, patient: PatientId) -> Result<Vec<Enrollment>> {
        enrollments(Src::Store(self), patient).await
    }

    pub async fn samples(&self, enrollment: &str) -> Result<Vec<Sample>> {
        samples(Src::Store(self), enrollment).await
    }

    /// A program's active enrolments.
    pub async fn program_enrollments(&self, program: ProgramId) -> Result<Vec<Enrollment>> {
        let sql = format!(
            "SELECT {ENROLL_COLS} FROM cm_enrollment e LEFT JOIN cm_enrollment_end x ON x.enrollment_id = e.id \
             WHERE e.program_id = $1 ORDER BY e.enrolled_at"
        );
        Ok(with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(program.to_string()).fetch_all(c).await?
        }))
    }

    /// A patient's earnings and held or spent redemptions (cents).
    pub async fn cm_balance(&self, patient: PatientId) -> Result<(i64, i64)> {
        let (earned,): (i64,) = with_reader!(self, c => {
            sqlx::query_as("SELECT CAST(COALESCE(SUM(amount_cents), 0) AS BIGINT) FROM cm_earning WHERE patient_id = $1")
                .bind(patient.to_string()).fetch_one(c).await?
        });
        let (spent,): (i64,) = with_reader!(self, c => {
            sqlx::query_as(
                "SELECT CAST(COALESCE(SUM(r.cost_cents), 0) AS BIGINT) FROM cm_redemption r WHERE r.patient_id = $1 AND NOT EXISTS \
                 (SELECT 1 FROM cm_redemption_outcome o WHERE o.redemption_id = r.id AND o.outcome = 'declined')",
            )
            .bind(patient.to_string()).fetch_one(c).await?
        });
        Ok((earned, spent))
    }

    pub async fn reward_items(&self, program: ProgramId) -> Result<Vec<Item>> {
        let sql = format!(
            "SELECT {ITEM_COLS} FROM reward_item i WHERE i.program_id = $1 ORDER BY i.category, i.name"
        );
        Ok(with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(program.to_string()).fetch_all(c).await?
        }))
    }

    pub async fn redemptions(&self, patient: PatientId) -> Result<Vec<Redemption>> {
        let sql = format!(
            "SELECT {REDEEM_COLS} FROM cm_redemption r JOIN reward_item i ON i.id = r.item_id \
             LEFT JOIN cm_redemption_outcome o ON o.redemption_id = r.id WHERE r.patient_id = $1 ORDER BY r.requested_at DESC"
        );
        Ok(with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(patient.to_string()).fetch_all(c).await?
        }))
    }

    /// A program's redemptions waiting for staff (oldest first).
    pub async fn open_redemptions(&self, program: ProgramId) -> Result<Vec<Redemption>> {
        let sql = format!(
            "SELECT {REDEEM_COLS} FROM cm_redemption r JOIN reward_item i ON i.id = r.item_id \
             LEFT JOIN cm_redemption_outcome o ON o.redemption_id = r.id WHERE r.program_id = $1 AND o.outcome IS NULL \
             ORDER BY r.requested_at"
        );
        Ok(with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(program.to_string()).fetch_all(c).await?
        }))
    }

    /// Per month (YYYY-MM of the UTC time) and funding source: earned and
    /// fulfilled (cents), for the program's spend report.
    pub async fn cm_months(
        &self,
        program: ProgramId,
        from_us: i64,
    ) -> Result<(Vec<(String, i64, i64)>, Vec<(i64, i64)>)> {
        let earned: Vec<(String, i64, i64)> = with_reader!(self, c => {
            sqlx::query_as(
                "SELECT g.patient_id, g.earned_at, g.amount_cents FROM cm_earning g JOIN cm_enrollment e ON e.id = g.enrollment_id \
                 WHERE e.program_id = $1 AND g.earned_at >= $2",
            )
            .bind(program.to_string()).bind(from_us).fetch_all(c).await?
        });
        let spent: Vec<(i64, i64)> = with_reader!(self, c => {
            sqlx::query_as(
                "SELECT o.at_us, r.cost_cents FROM cm_redemption r JOIN cm_redemption_outcome o ON o.redemption_id = r.id \
                 WHERE r.program_id = $1 AND o.outcome = 'fulfilled' AND o.at_us >= $2",
            )
            .bind(program.to_string()).bind(from_us).fetch_all(c).await?
        });
        Ok((earned, spent))
    }
}
