//! Take-homes, stock reconciliation and overdose response: per-program
//! dosing settings and closure days, take-home decisions, bottles and what
//! became of them, end-of-day reconciliations with their two signatures,
//! overdose records and naloxone kits. Amounts are integer micrograms.
//! A bottle is a dose row (kind `take_home`) in the slot of the day it is to
//! be taken, so `dose_one_per_slot` refuses an observed dose that day.

use crate::{PatientWrite, Result, StoreError, Tx, conflict_on};
use carepath_domain::ids::{PatientId, ProgramId, UserId};
use serde::Serialize;

/// A program's dosing settings (defaults when none were saved).
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct ProgramDosing {
    #[sqlx(try_from = "String")]
    pub program_id: ProgramId,
    pub takehome_policy: String,
    pub verbal_cosign_hours: i64,
    pub phone: String,
    pub updated_at: i64,
    pub updated_by: String,
    /// Opioid-free days before naltrexone after short-acting opioids,
    /// fentanyl, and long-acting opioids.
    pub naltrexone_days_short: i64,
    pub naltrexone_days_fentanyl: i64,
    pub naltrexone_days_long: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Closure {
    pub day: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Grant {
    pub id: String,
    #[sqlx(try_from = "String")]
    pub patient_id: PatientId,
    #[sqlx(try_from = "String")]
    pub program_id: ProgramId,
    pub decided_on: String,
    pub days_in_treatment: i64,
    /// The criteria weighed (JSON object, criterion → met).
    pub criteria: String,
    pub policy: String,
    pub doses_granted: i64,
    pub max_doses: i64,
    /// The engine's output (JSON text).
    pub engine_result: String,
    pub override_reason: Option<String>,
    pub suspended_reason: Option<String>,
    pub decided_by: String,
    pub decided_by_name: String,
    pub decided_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewGrant {
    pub patient_id: PatientId,
    pub program_id: ProgramId,
    pub decided_on: String,
    pub days_in_treatment: i64,
    pub criteria: String,
    pub policy: String,
    pub doses_granted: i64,
    pub max_doses: i64,
    pub engine_result: String,
    pub override_reason: Option<String>,
    pub suspended_reason: Option<String>,
    pub decided_by: String,
    pub decided_by_name: String,
}

/// A bottle with its dose.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Bottle {
    pub dose_id: String,
    #[sqlx(try_from = "String")]
    pub patient_id: PatientId,
    #[sqlx(try_from = "String")]
    pub program_id: ProgramId,
    pub grant_id: Option<String>,
    pub bottle_no: i64,
    pub take_on: String,
    pub handed_out_on: String,
    pub closure: bool,
    pub amount_ug: i64,
    pub lot_id: String,
    pub product_id: String,
    pub order_id: String,
    pub given_at: i64,
    pub nurse_name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct BottleEvent {
    pub id: String,
    pub dose_id: String,
    #[sqlx(try_from = "String")]
    pub patient_id: PatientId,
    pub kind: String,
    pub outcome: String,
    pub note: Option<String>,
    pub at_us: i64,
    pub by_name: String,
}

/// Sums of a lot's movements over a period, by kind (signed micrograms).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Flows {
    pub opening_ug: i64,
    pub received_ug: i64,
    pub administered_ug: i64,
    pub dispensed_ug: i64,
    pub waste_ug: i64,
    pub adjusted_ug: i64,
}

impl Flows {
    pub fn expected_ug(&self) -> i64 {
        self.opening_ug + self.received_ug
            - self.administered_ug
            - self.dispensed_ug
            - self.waste_ug
            + self.adjusted_ug
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Reconciliation {
    pub id: String,
    #[sqlx(try_from = "String")]
    pub program_id: ProgramId,
    pub lot_id: String,
    pub clinic_day: String,
    pub opening_ug: i64,
    pub received_ug: i64,
    pub administered_ug: i64,
    pub dispensed_ug: i64,
    pub waste_ug: i64,
    pub adjusted_ug: i64,
    pub expected_ug: i64,
    pub counted_ug: i64,
    pub variance_ug: i64,
    pub note: Option<String>,
    pub counted_by: String,
    pub counted_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Signature {
    pub reconciliation_id: String,
    pub signer_id: String,
    pub signer_name: String,
    pub signed_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Overdose {
    pub id: String,
    #[sqlx(try_from = "String")]
    pub patient_id: PatientId,
    #[sqlx(try_from = "String")]
    pub program_id: ProgramId,
    pub occurred_at: i64,
    /// JSON list of naloxone doses.
    pub naloxone: String,
    pub breathing_support: String,
    pub vitals: String,
    pub ems_called: bool,
    pub transported: bool,
    pub outcome: String,
    pub note: Option<String>,
    pub recorded_by_name: String,
    pub recorded_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewOverdose {
    pub patient_id: PatientId,
    pub program_id: ProgramId,
    pub occurred_at: i64,
    pub naloxone: String,
    pub breathing_support: String,
    pub vitals: String,
    pub ems_called: bool,
    pub transported: bool,
    pub outcome: String,
    pub note: Option<String>,
    pub by: UserId,
    pub by_name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Kit {
    pub id: String,
    #[sqlx(try_from = "String")]
    pub program_id: ProgramId,
    pub patient_id: Option<String>,
    pub recipient: String,
    pub product: String,
    pub quantity: i64,
    pub lot: Option<String>,
    pub education: bool,
    pub handed_at: i64,
    pub by_name: String,
}

#[derive(Debug, Clone)]
pub struct NewKit {
    pub program_id: ProgramId,
    pub patient_id: Option<PatientId>,
    pub recipient: String,
    pub product: String,
    pub quantity: i64,
    pub lot: Option<String>,
    pub education: bool,
    pub by: UserId,
    pub by_name: String,
}

const GRANT_COLS: &str = "id, patient_id, program_id, decided_on, days_in_treatment, criteria, policy, \
    doses_granted, max_doses, engine_result, override_reason, suspended_reason, decided_by, decided_by_name, decided_at";

const BOTTLE_COLS: &str = "b.dose_id, b.patient_id, b.program_id, b.grant_id, b.bottle_no, b.take_on, \
    b.handed_out_on, b.closure, d.amount_ug, d.lot_id, d.product_id, d.order_id, d.given_at, d.nurse_name";

const RECON_COLS: &str = "id, program_id, lot_id, clinic_day, opening_ug, received_ug, administered_ug, \
    dispensed_ug, waste_ug, adjusted_ug, expected_ug, counted_ug, variance_ug, note, counted_by, counted_at";

const OVERDOSE_COLS: &str = "id, patient_id, program_id, occurred_at, naloxone, breathing_support, vitals, \
    ems_called, transported, outcome, note, recorded_by_name, recorded_at";

const KIT_COLS: &str =
    "id, program_id, patient_id, recipient, product, quantity, lot, education, handed_at, by_name";

const FLOWS_SQL: &str = "SELECT kind, CAST(COALESCE(SUM(CASE WHEN at_us < $2 THEN amount_ug ELSE 0 END), 0) AS BIGINT), \
     CAST(COALESCE(SUM(CASE WHEN at_us >= $2 THEN amount_ug ELSE 0 END), 0) AS BIGINT) \
     FROM stock_movement WHERE lot_id = $1 AND at_us < $3 GROUP BY kind";

fn flows(rows: Vec<(String, i64, i64)>) -> Flows {
    let mut f = Flows::default();
    for (kind, before, during) in rows {
        f.opening_ug += before;
        match kind.as_str() {
            "receipt" => f.received_ug += during,
            "dose" => f.administered_ug -= during,
            "take_home" => f.dispensed_ug -= during,
            "waste" => f.waste_ug -= during,
            // Returns (unused take-home doses back into stock) and count
            // adjustments both correct the balance.
            _ => f.adjusted_ug += during,
        }
    }
    f
}

impl Tx {
    /// Save a program's dosing settings (replacing the previous ones: they
    /// are configuration, not a clinical record; the audit keeps history).
    pub async fn set_program_dosing(
        &mut self,
        program: ProgramId,
        policy: &str,
        cosign_hours: i64,
        phone: &str,
        naltrexone_days: [i64; 3],
        by: UserId,
    ) -> Result<()> {
        self.changes_reference();
        let now = self.now();
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO program_dosing (program_id, takehome_policy, verbal_cosign_hours, phone, updated_at, updated_by, \
                 naltrexone_days_short, naltrexone_days_fentanyl, naltrexone_days_long) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (program_id) DO UPDATE SET \
                 takehome_policy = excluded.takehome_policy, verbal_cosign_hours = excluded.verbal_cosign_hours, \
                 phone = excluded.phone, updated_at = excluded.updated_at, updated_by = excluded.updated_by, \
                 naltrexone_days_short = excluded.naltrexone_days_short, \
                 naltrexone_days_fentanyl = excluded.naltrexone_days_fentanyl, \
                 naltrexone_days_long = excluded.naltrexone_days_long",
            )
            .bind(program.to_string()).bind(policy).bind(cosign_hours).bind(phone).bind(now).bind(by.to_string())
            .bind(naltrexone_days[0]).bind(naltrexone_days[1]).bind(naltrexone_days[2])
            .execute(&mut *c).await?;
        });
        Ok(())
    }

    /// Add a closure day (`Conflict("clinic_closure_pkey")` when present).
    pub async fn add_closure(
        &mut self,
        program: ProgramId,
        day: &str,
        reason: &str,
        by: UserId,
    ) -> Result<()> {
        self.changes_reference();
        let now = self.now();
        on_tx!(self, c => {
            sqlx::query("INSERT INTO clinic_closure (program_id, day, reason, created_at, created_by) VALUES ($1, $2, $3, $4, $5)")
                .bind(program.to_string()).bind(day).bind(reason).bind(now).bind(by.to_string())
                .execute(&mut *c).await.map_err(conflict_on("clinic_closure_pkey"))?;
        });
        Ok(())
    }

    /// Remove a planned closure day (a calendar entry, not a record).
    pub async fn remove_closure(&mut self, program: ProgramId, day: &str) -> Result<bool> {
        self.changes_reference();
        let n = on_tx!(self, c => {
            sqlx::query("DELETE FROM clinic_closure WHERE program_id = $1 AND day = $2")
                .bind(program.to_string()).bind(day).execute(&mut *c).await?.rows_affected()
        });
        Ok(n > 0)
    }

    /// Record a take-home decision for the opened patient.
    pub async fn add_grant(&mut self, w: &PatientWrite, g: &NewGrant) -> Result<String> {
        w.check(g.patient_id)?;
        let id = uuid::Uuid::now_v7().to_string();
        let now = self.now();
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO takehome_grant (id, patient_id, program_id, decided_on, days_in_treatment, criteria, policy, \
                 doses_granted, max_doses, engine_result, override_reason, suspended_reason, decided_by, decided_by_name, decided_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
            )
            .bind(&id).bind(g.patient_id.to_string()).bind(g.program_id.to_string()).bind(&g.decided_on)
            .bind(g.days_in_treatment).bind(&g.criteria).bind(&g.policy).bind(g.doses_granted).bind(g.max_doses)
            .bind(&g.engine_result).bind(&g.override_reason).bind(&g.suspended_reason).bind(&g.decided_by)
            .bind(&g.decided_by_name).bind(now)
            .execute(&mut *c).await?;
        });
        self.touched.push(("takehome_grant", id.clone()));
        Ok(id)
    }

    /// Attach a bottle to a take-home dose just recorded in this unit of work.
    #[allow(clippy::too_many_arguments)]
    pub async fn add_bottle(
        &mut self,
        w: &PatientWrite,
        dose_id: &str,
        program: ProgramId,
        grant_id: Option<&str>,
        bottle_no: i64,
        take_on: &str,
        handed_out_on: &str,
        closure: bool,
    ) -> Result<()> {
        let patient = w.patient();
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO takehome_bottle (dose_id, patient_id, program_id, grant_id, bottle_no, take_on, handed_out_on, closure) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(dose_id).bind(patient.to_string()).bind(program.to_string()).bind(grant_id).bind(bottle_no)
            .bind(take_on).bind(handed_out_on).bind(closure)
            .execute(&mut *c).await?;
        });
        self.touched.push(("takehome_bottle", dose_id.to_string()));
        Ok(())
    }

    /// Record what became of a bottle.
    #[allow(clippy::too_many_arguments)]
    pub async fn add_bottle_event(
        &mut self,
        w: &PatientWrite,
        dose_id: &str,
        program: ProgramId,
        kind: &str,
        outcome: &str,
        note: Option<&str>,
        by: UserId,
        by_name: &str,
    ) -> Result<String> {
        let id = uuid::Uuid::now_v7().to_string();
        let now = self.now();
        let patient = w.patient();
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO bottle_event (id, dose_id, patient_id, program_id, kind, outcome, note, at_us, by_user, by_name) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(&id).bind(dose_id).bind(patient.to_string()).bind(program.to_string()).bind(kind).bind(outcome)
            .bind(note).bind(now).bind(by.to_string()).bind(by_name)
            .execute(&mut *c).await?;
        });
        self.touched.push(("bottle_event", id.clone()));
        Ok(id)
    }

    /// A lot's flows from `from_us` (inclusive) to `to_us` (exclusive), read
    /// in the unit of work; opening is the balance at `from_us`.
    pub async fn lot_flows(&mut self, lot_id: &str, from_us: i64, to_us: i64) -> Result<Flows> {
        let rows: Vec<(String, i64, i64)> = on_tx!(self, c => {
            sqlx::query_as(FLOWS_SQL).bind(lot_id).bind(from_us).bind(to_us).fetch_all(&mut *c).await?
        });
        Ok(flows(rows))
    }

    /// Record a lot's reconciliation and the counter's signature.
    /// `Conflict("reconciliation_lot_id_clinic_day_key")` when the day's
    /// count for the lot exists.
    #[allow(clippy::too_many_arguments)]
    pub async fn add_reconciliation(
        &mut self,
        program: ProgramId,
        lot_id: &str,
        day: &str,
        f: &Flows,
        counted_ug: i64,
        note: Option<&str>,
        by: UserId,
        by_name: &str,
    ) -> Result<String> {
        let id = uuid::Uuid::now_v7().to_string();
        let now = self.now();
        let expected = f.expected_ug();
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO reconciliation (id, program_id, lot_id, clinic_day, opening_ug, received_ug, administered_ug, \
                 dispensed_ug, waste_ug, adjusted_ug, expected_ug, counted_ug, variance_ug, note, counted_by, counted_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
            )
            .bind(&id).bind(program.to_string()).bind(lot_id).bind(day).bind(f.opening_ug).bind(f.received_ug)
            .bind(f.administered_ug).bind(f.dispensed_ug).bind(f.waste_ug).bind(f.adjusted_ug).bind(expected)
            .bind(counted_ug).bind(counted_ug - expected).bind(note).bind(by.to_string()).bind(now)
            .execute(&mut *c).await.map_err(conflict_on("reconciliation_lot_id_clinic_day_key"))?;
        });
        self.touched.push(("reconciliation", id.clone()));
        self.sign_reconciliation(&id, by, by_name).await?;
        Ok(id)
    }

    /// Sign a reconciliation (`Conflict("reconciliation_signature_pkey")`
    /// when this person signed it already).
    pub async fn sign_reconciliation(&mut self, id: &str, by: UserId, name: &str) -> Result<()> {
        let now = self.now();
        on_tx!(self, c => {
            sqlx::query("INSERT INTO reconciliation_signature (reconciliation_id, signer_id, signer_name, signed_at) VALUES ($1, $2, $3, $4)")
                .bind(id).bind(by.to_string()).bind(name).bind(now)
                .execute(&mut *c).await.map_err(conflict_on("reconciliation_signature_pkey"))?;
        });
        self.touched
            .push(("reconciliation_signature", format!("{id}/{by}")));
        Ok(())
    }

    /// Record an overdose and the response for the opened patient.
    pub async fn add_overdose(&mut self, w: &PatientWrite, o: &NewOverdose) -> Result<String> {
        w.check(o.patient_id)?;
        let id = uuid::Uuid::now_v7().to_string();
        let now = self.now();
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO overdose_event (id, patient_id, program_id, occurred_at, naloxone, breathing_support, vitals, \
                 ems_called, transported, outcome, note, recorded_by, recorded_by_name, recorded_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
            )
            .bind(&id).bind(o.patient_id.to_string()).bind(o.program_id.to_string()).bind(o.occurred_at)
            .bind(&o.naloxone).bind(&o.breathing_support).bind(&o.vitals).bind(o.ems_called).bind(o.transported)
            .bind(&o.outcome).bind(&o.note).bind(o.by.to_string()).bind(&o.by_name).bind(now)
            .execute(&mut *c).await?;
        });
        self.touched.push(("overdose_event", id.clone()));
        Ok(id)
    }

    /// Log a naloxone kit handed out.
    pub async fn add_kit(&mut self, k: &NewKit) -> Result<String> {
        let id = uuid::Uuid::now_v7().to_string();
        let now = self.now();
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO naloxone_kit (id, program_id, patient_id, recipient, product, quantity, lot, education, handed_at, by_user, by_name) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(&id).bind(k.program_id.to_string()).bind(k.patient_id.map(|p| p.to_string())).bind(&k.recipient)
            .bind(&k.product).bind(k.quantity).bind(&k.lot).bind(k.education).bind(now).bind(k.by.to_string())
            .bind(&k.by_name)
            .execute(&mut *c).await?;
        });
        self.touched.push(("naloxone_kit", id.clone()));
        Ok(id)
    }
}

impl crate::Store {
    /// A lot's flows from `from_us` (inclusive) to `to_us` (exclusive).
    pub async fn lot_flows(&self, lot_id: &str, from_us: i64, to_us: i64) -> Result<Flows> {
        let rows: Vec<(String, i64, i64)> = with_reader!(self, c => {
            sqlx::query_as(FLOWS_SQL).bind(lot_id).bind(from_us).bind(to_us).fetch_all(c).await?
        });
        Ok(flows(rows))
    }

    /// A program's dosing settings, if saved.
    pub async fn program_dosing(&self, program: ProgramId) -> Result<Option<ProgramDosing>> {
        Ok(with_reader!(self, c => {
            sqlx::query_as("SELECT program_id, takehome_policy, verbal_cosign_hours, phone, updated_at, updated_by, \
                            naltrexone_days_short, naltrexone_days_fentanyl, naltrexone_days_long \
                            FROM program_dosing WHERE program_id = $1")
                .bind(program.to_string()).fetch_optional(c).await?
        }))
    }

    /// A program's closure days from `from` on, in order.
    pub async fn closures(&self, program: ProgramId, from: &str) -> Result<Vec<Closure>> {
        let key = format!("closures:{program}:{from}");
        if let Some(c) = self.refs.get::<Vec<Closure>>(&key) {
            return Ok(c);
        }
        let g = self.refs.generation();
        let v: Vec<Closure> = with_reader!(self, c => {
            sqlx::query_as("SELECT day, reason FROM clinic_closure WHERE program_id = $1 AND day >= $2 ORDER BY day")
                .bind(program.to_string()).bind(from).fetch_all(c).await?
        });
        self.refs.put(key, g, v.clone());
        Ok(v)
    }

    /// A patient's take-home decisions, newest first.
    pub async fn takehome_grants(&self, patient: PatientId) -> Result<Vec<Grant>> {
        let sql = format!(
            "SELECT {GRANT_COLS} FROM takehome_grant WHERE patient_id = $1 ORDER BY decided_at DESC, id DESC"
        );
        Ok(with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(patient.to_string()).fetch_all(c).await?
        }))
    }

    /// A patient's bottles taken on `from` or later, in order of the day.
    pub async fn bottles(&self, patient: PatientId, from: &str) -> Result<Vec<Bottle>> {
        let sql = format!(
            "SELECT {BOTTLE_COLS} FROM takehome_bottle b JOIN dose d ON d.id = b.dose_id \
             WHERE b.patient_id = $1 AND b.take_on >= $2 ORDER BY b.take_on, b.bottle_no"
        );
        Ok(with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(patient.to_string()).bind(from).fetch_all(c).await?
        }))
    }

    /// Bottles of a program handed out on a day (the labels to print).
    pub async fn bottles_handed_out(
        &self,
        patient: PatientId,
        handed_out_on: &str,
    ) -> Result<Vec<Bottle>> {
        let sql = format!(
            "SELECT {BOTTLE_COLS} FROM takehome_bottle b JOIN dose d ON d.id = b.dose_id \
             WHERE b.patient_id = $1 AND b.handed_out_on = $2 ORDER BY b.take_on, b.bottle_no"
        );
        Ok(with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(patient.to_string()).bind(handed_out_on).fetch_all(c).await?
        }))
    }

    /// What became of a patient's bottles, newest first.
    pub async fn bottle_events(&self, patient: PatientId) -> Result<Vec<BottleEvent>> {
        Ok(with_reader!(self, c => {
            sqlx::query_as("SELECT id, dose_id, patient_id, kind, outcome, note, at_us, by_name FROM bottle_event \
                            WHERE patient_id = $1 ORDER BY at_us DESC")
                .bind(patient.to_string()).fetch_all(c).await?
        }))
    }

    /// A program's reconciliations of a clinic day.
    pub async fn reconciliations(
        &self,
        program: ProgramId,
        day: &str,
    ) -> Result<Vec<(Reconciliation, Vec<Signature>)>> {
        let sql = format!(
            "SELECT {RECON_COLS} FROM reconciliation WHERE program_id = $1 AND clinic_day = $2 ORDER BY counted_at"
        );
        let recs: Vec<Reconciliation> = with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(program.to_string()).bind(day).fetch_all(c).await?
        });
        let sigs: Vec<Signature> = with_reader!(self, c => {
            sqlx::query_as("SELECT s.reconciliation_id, s.signer_id, s.signer_name, s.signed_at FROM reconciliation_signature s \
                            JOIN reconciliation r ON r.id = s.reconciliation_id WHERE r.program_id = $1 AND r.clinic_day = $2 \
                            ORDER BY s.signed_at")
                .bind(program.to_string()).bind(day).fetch_all(c).await?
        });
        Ok(recs
            .into_iter()
            .map(|r| {
                let s = sigs
                    .iter()
                    .filter(|s| s.reconciliation_id == r.id)
                    .cloned()
                    .collect();
                (r, s)
            })
            .collect())
    }

    /// One reconciliation by id.
    pub async fn reconciliation(&self, id: &str) -> Result<Reconciliation> {
        let sql = format!("SELECT {RECON_COLS} FROM reconciliation WHERE id = $1");
        let r: Option<Reconciliation> = with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(c).await?
        });
        r.ok_or(StoreError::NotFound)
    }

    /// A patient's overdose records, newest first.
    pub async fn overdoses(&self, patient: PatientId) -> Result<Vec<Overdose>> {
        let sql = format!(
            "SELECT {OVERDOSE_COLS} FROM overdose_event WHERE patient_id = $1 ORDER BY occurred_at DESC"
        );
        Ok(with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(patient.to_string()).fetch_all(c).await?
        }))
    }

    /// Naloxone kits a program handed out from `from_us`, newest first.
    pub async fn kits(&self, program: ProgramId, from_us: i64) -> Result<Vec<Kit>> {
        let sql = format!(
            "SELECT {KIT_COLS} FROM naloxone_kit WHERE program_id = $1 AND handed_at >= $2 ORDER BY handed_at DESC"
        );
        Ok(with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(program.to_string()).bind(from_us).fetch_all(c).await?
        }))
    }

    /// A patient's kits, newest first.
    pub async fn patient_kits(&self, patient: PatientId) -> Result<Vec<Kit>> {
        let sql = format!(
            "SELECT {KIT_COLS} FROM naloxone_kit WHERE patient_id = $1 ORDER BY handed_at DESC"
        );
        Ok(with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(patient.to_string()).fetch_all(c).await?
        }))
    }

    /// The newest take-home decision of each patient of a program.
    pub async fn latest_grants(&self, program: ProgramId) -> Result<Vec<Grant>> {
        let sql = format!(
            "SELECT {GRANT_COLS} FROM takehome_grant g WHERE program_id = $1 AND NOT EXISTS \
             (SELECT 1 FROM takehome_grant n WHERE n.patient_id = g.patient_id \
              AND (n.decided_at > g.decided_at OR (n.decided_at = g.decided_at AND n.id > g.id)))"
        );
        Ok(with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(program.to_string()).fetch_all(c).await?
        }))
    }

    /// A program's overdoses from `from_us`, newest first.
    pub async fn program_overdoses(
        &self,
        program: ProgramId,
        from_us: i64,
    ) -> Result<Vec<Overdose>> {
        let sql = format!(
            "SELECT {OVERDOSE_COLS} FROM overdose_event WHERE program_id = $1 AND occurred_at >= $2 ORDER BY occurred_at DESC"
        );
        Ok(with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(program.to_string()).bind(from_us).fetch_all(c).await?
        }))
    }

    /// Each patient's last clinic day before `before` with a dose or bottle
    /// in a program.
    pub async fn last_dose_days(
        &self,
        program: ProgramId,
        before: &str,
    ) -> Result<Vec<(String, String)>> {
        Ok(with_reader!(self, c => {
            sqlx::query_as("SELECT patient_id, MAX(clinic_day) FROM dose WHERE program_id = $1 AND clinic_day < $2 GROUP BY patient_id")
                .bind(program.to_string()).bind(before).fetch_all(c).await?
        }))
    }
}
