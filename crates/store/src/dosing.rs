//! The dosing desk's tables: products, stock lots and their movements,
//! orders for opioid use disorder medications with their signatures, and
//! doses. Amounts are integer micrograms. The invariants are constraints:
//! one dose per patient, clinic day and slot (`dose_one_per_slot`); a lot's
//! balance never below zero (`CHECK`, and the conditional update here);
//! orders, signatures, doses and movements never updated or deleted
//! (triggers); an order superseded at most once.

use crate::{PatientWrite, Result, StoreError, Tx, conflict_on};
use carepath_domain::ids::{PatientId, ProgramId, UserId};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Product {
    pub id: String,
    #[sqlx(try_from = "String")]
    pub program_id: ProgramId,
    pub medication: String,
    pub form: String,
    pub name: String,
    /// Micrograms per millilitre (liquids) or per unit.
    pub strength_ug: i64,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Lot {
    pub id: String,
    #[sqlx(try_from = "String")]
    pub program_id: ProgramId,
    pub product_id: String,
    pub lot: String,
    pub expires_on: Option<String>,
    pub balance_ug: i64,
    pub received_at: i64,
}

/// An order as stored, with its signature and successor (if any).
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct MedOrder {
    pub id: String,
    #[sqlx(try_from = "String")]
    pub patient_id: PatientId,
    #[sqlx(try_from = "String")]
    pub program_id: ProgramId,
    pub medication: String,
    pub form: String,
    pub phase: String,
    pub dose_ug: i64,
    pub doses_per_day: i64,
    pub first_dose_ug: Option<i64>,
    pub starts_on: String,
    pub ends_on: Option<String>,
    pub supersedes: Option<String>,
    /// The engine's verdict at ordering (JSON text).
    pub engine_check: String,
    pub override_reason: Option<String>,
    pub verbal: bool,
    pub ordered_by: String,
    pub ordered_by_name: String,
    pub prescriber_id: String,
    pub ordered_at: i64,
    pub signer_name: Option<String>,
    pub signed_at: Option<i64>,
    pub superseded_by: Option<String>,
}

impl MedOrder {
    pub fn is_signed(&self) -> bool {
        self.signed_at.is_some()
    }
    /// The amount for a regular slot (1 or 2) of this order.
    pub fn slot_amount_ug(&self, slot: u8) -> i64 {
        match (self.doses_per_day, self.first_dose_ug, slot) {
            (2, Some(first), 1) => first,
            (2, Some(first), _) => self.dose_ug - first,
            (2, None, _) => self.dose_ug / 2,
            _ => self.dose_ug,
        }
    }
}

/// A new order (the id and time are the store's).
#[derive(Debug, Clone)]
pub struct NewOrder {
    pub patient_id: PatientId,
    pub program_id: ProgramId,
    pub medication: String,
    pub form: String,
    pub phase: String,
    pub dose_ug: i64,
    pub doses_per_day: i64,
    pub first_dose_ug: Option<i64>,
    pub starts_on: String,
    pub ends_on: Option<String>,
    pub supersedes: Option<String>,
    pub engine_check: String,
    pub override_reason: Option<String>,
    pub verbal: bool,
    pub ordered_by: UserId,
    pub ordered_by_name: String,
    pub prescriber_id: UserId,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Dose {
    pub id: String,
    #[sqlx(try_from = "String")]
    pub patient_id: PatientId,
    #[sqlx(try_from = "String")]
    pub program_id: ProgramId,
    pub order_id: String,
    pub clinic_day: String,
    pub slot: String,
    pub kind: String,
    pub amount_ug: i64,
    pub product_id: String,
    pub lot_id: String,
    pub observed: bool,
    pub given_at: i64,
    pub recorded_at: i64,
    pub nurse_id: String,
    pub nurse_name: String,
    pub late_entry: bool,
    pub reason: Option<String>,
}

impl NewDose {
    /// The dose as stored under `id`, recorded at `recorded_at` (the unit
    /// of work's time): what reading it back would return.
    pub fn stored(&self, id: String, recorded_at: i64) -> Dose {
        Dose {
            id,
            patient_id: self.patient_id,
            program_id: self.program_id,
            order_id: self.order_id.clone(),
            clinic_day: self.clinic_day.clone(),
            slot: self.slot.clone(),
            kind: self.kind.clone(),
            amount_ug: self.amount_ug,
            product_id: self.product_id.clone(),
            lot_id: self.lot_id.clone(),
            observed: self.observed,
            given_at: self.given_at,
            recorded_at,
            nurse_id: self.nurse_id.to_string(),
            nurse_name: self.nurse_name.clone(),
            late_entry: self.late_entry,
            reason: self.reason.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewDose {
    pub patient_id: PatientId,
    pub program_id: ProgramId,
    pub order_id: String,
    pub clinic_day: String,
    pub slot: String,
    pub kind: String,
    pub amount_ug: i64,
    pub product_id: String,
    pub lot_id: String,
    pub observed: bool,
    pub given_at: i64,
    pub nurse_id: UserId,
    pub nurse_name: String,
    pub late_entry: bool,
    pub reason: Option<String>,
}

const ORDER_COLS: &str = "o.id, o.patient_id, o.program_id, o.medication, o.form, o.phase, o.dose_ug, \
    o.doses_per_day, o.first_dose_ug, o.starts_on, o.ends_on, o.supersedes, o.engine_check, \
    o.override_reason, o.verbal, o.ordered_by, o.ordered_by_name, o.prescriber_id, o.ordered_at, \
    s.signer_name, s.signed_at, (SELECT n.id FROM med_order n WHERE n.supersedes = o.id) AS superseded_by";

const DOSE_COLS: &str = "id, patient_id, program_id, order_id, clinic_day, slot, kind, amount_ug, product_id, \
    lot_id, observed, given_at, recorded_at, nurse_id, nurse_name, late_entry, reason";

impl Tx {
    /// Add a product to a program's formulary.
    pub async fn add_product(
        &mut self,
        program: ProgramId,
        medication: &str,
        form: &str,
        name: &str,
        strength_ug: i64,
    ) -> Result<String> {
        self.changes_reference();
        let id = uuid::Uuid::now_v7().to_string();
        let now = self.now();
        on_tx!(self, c => {
            sqlx::query("INSERT INTO med_product (id, program_id, medication, form, name, strength_ug, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(&id).bind(program.to_string()).bind(medication).bind(form).bind(name).bind(strength_ug).bind(now)
                .execute(&mut *c).await?;
        });
        Ok(id)
    }

    /// Receive a lot into stock: the lot with its balance and the receipt
    /// movement. `Conflict("stock_lot_product_id_lot_key")` for a lot
    /// number already received for the product.
    pub async fn receive_lot(
        &mut self,
        program: ProgramId,
        product_id: &str,
        lot: &str,
        expires_on: Option<&str>,
        amount_ug: i64,
        by: UserId,
    ) -> Result<String> {
        let id = uuid::Uuid::now_v7().to_string();
        let now = self.now();
        on_tx!(self, c => {
            sqlx::query("INSERT INTO stock_lot (id, program_id, product_id, lot, expires_on, balance_ug, received_at) VALUES ($1, $2, $3, $4, $5, 0, $6)")
                .bind(&id).bind(program.to_string()).bind(product_id).bind(lot).bind(expires_on).bind(now)
                .execute(&mut *c).await.map_err(conflict_on("stock_lot_product_id_lot_key"))?;
        });
        self.move_stock(&id, "receipt", amount_ug, None, None, None, by)
            .await?;
        Ok(id)
    }

    /// Move stock: change the lot's balance by `amount_ug` (negative takes
    /// stock out) and record the movement. Taking out more than the lot
    /// holds is `Conflict("stock_lot_balance")` (and the CHECK constraint
    /// refuses it had this check been skipped).
    #[allow(clippy::too_many_arguments)]
    pub async fn move_stock(
        &mut self,
        lot_id: &str,
        kind: &str,
        amount_ug: i64,
        dose_id: Option<&str>,
        reason: Option<&str>,
        witness: Option<UserId>,
        by: UserId,
    ) -> Result<i64> {
        let now = self.now();
        let id = uuid::Uuid::now_v7().to_string();
        let balance: Option<(i64,)> = on_tx!(self, c => {
            sqlx::query_as(
                "UPDATE stock_lot SET balance_ug = balance_ug + $2 WHERE id = $1 AND balance_ug + $2 >= 0 RETURNING balance_ug",
            )
            .bind(lot_id)
            .bind(amount_ug)
            .fetch_optional(&mut *c)
            .await?
        });
        let Some((balance,)) = balance else {
            return Err(StoreError::Conflict("stock_lot_balance".into()));
        };
        on_tx!(self, c => {
            sqlx::query("INSERT INTO stock_movement (id, lot_id, kind, amount_ug, dose_id, reason, witness_id, at_us, by_user) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
                .bind(&id).bind(lot_id).bind(kind).bind(amount_ug).bind(dose_id).bind(reason)
                .bind(witness.map(|w| w.to_string())).bind(now).bind(by.to_string())
                .execute(&mut *c).await?;
        });
        self.touched.push(("stock_movement", id));
        Ok(balance)
    }

    /// Write an order for the opened patient.
    pub async fn create_order(&mut self, w: &PatientWrite, o: &NewOrder) -> Result<String> {
        w.check(o.patient_id)?;
        let id = uuid::Uuid::now_v7().to_string();
        let now = self.now();
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO med_order (id, patient_id, program_id, medication, form, phase, dose_ug, doses_per_day, \
                 first_dose_ug, starts_on, ends_on, supersedes, engine_check, override_reason, verbal, ordered_by, \
                 ordered_by_name, prescriber_id, ordered_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
            )
            .bind(&id).bind(o.patient_id.to_string()).bind(o.program_id.to_string()).bind(&o.medication)
            .bind(&o.form).bind(&o.phase).bind(o.dose_ug).bind(o.doses_per_day).bind(o.first_dose_ug)
            .bind(&o.starts_on).bind(&o.ends_on).bind(&o.supersedes).bind(&o.engine_check)
            .bind(&o.override_reason).bind(o.verbal).bind(o.ordered_by.to_string()).bind(&o.ordered_by_name)
            .bind(o.prescriber_id.to_string()).bind(now)
            .execute(&mut *c).await.map_err(conflict_on("med_order_one_successor"))?;
        });
        self.touched.push(("med_order", id.clone()));
        Ok(id)
    }

    /// Sign an order (once; `Conflict("med_order_signature_pkey")` after).
    pub async fn sign_order(
        &mut self,
        w: &PatientWrite,
        order_id: &str,
        signer: UserId,
        name: &str,
    ) -> Result<()> {
        let o = self.order(order_id).await?;
        w.check(o.patient_id)?;
        let now = self.now();
        on_tx!(self, c => {
            sqlx::query("INSERT INTO med_order_signature (order_id, signer_id, signer_name, signed_at) VALUES ($1, $2, $3, $4)")
                .bind(order_id).bind(signer.to_string()).bind(name).bind(now)
                .execute(&mut *c).await.map_err(conflict_on("med_order_signature_pkey"))?;
        });
        self.touched
            .push(("med_order_signature", order_id.to_string()));
        Ok(())
    }

    /// One order, read inside the unit of work.
    pub async fn order(&mut self, id: &str) -> Result<MedOrder> {
        let sql = format!(
            "SELECT {ORDER_COLS} FROM med_order o LEFT JOIN med_order_signature s ON s.order_id = o.id WHERE o.id = $1"
        );
        let o: Option<MedOrder> = on_tx!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&mut *c).await?
        });
        o.ok_or(StoreError::NotFound)
    }

    /// The patient's doses on a clinic day, read inside the unit of work.
    pub async fn doses_on(&mut self, patient: PatientId, day: &str) -> Result<Vec<Dose>> {
        let sql = format!(
            "SELECT {DOSE_COLS} FROM dose WHERE patient_id = $1 AND clinic_day = $2 ORDER BY given_at"
        );
        Ok(on_tx!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(patient.to_string()).bind(day).fetch_all(&mut *c).await?
        }))
    }

    /// Record a dose for the opened patient and take it out of its lot, in
    /// this unit of work. A second dose in the same slot of the same clinic
    /// day is `Conflict("dose_one_per_slot")` — from the unique index, so
    /// it holds whatever the caller checked before.
    pub async fn record_dose(&mut self, w: &PatientWrite, d: &NewDose) -> Result<String> {
        w.check(d.patient_id)?;
        let id = uuid::Uuid::now_v7().to_string();
        let now = self.now();
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO dose (id, patient_id, program_id, order_id, clinic_day, slot, kind, amount_ug, product_id, \
                 lot_id, observed, given_at, recorded_at, nurse_id, nurse_name, late_entry, reason) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
            )
            .bind(&id).bind(d.patient_id.to_string()).bind(d.program_id.to_string()).bind(&d.order_id)
            .bind(&d.clinic_day).bind(&d.slot).bind(&d.kind).bind(d.amount_ug).bind(&d.product_id)
            .bind(&d.lot_id).bind(d.observed).bind(d.given_at).bind(now).bind(d.nurse_id.to_string())
            .bind(&d.nurse_name).bind(d.late_entry).bind(&d.reason)
            .execute(&mut *c).await.map_err(conflict_on("dose_one_per_slot"))?;
        });
        self.touched.push(("dose", id.clone()));
        let kind = if d.kind == "take_home" {
            "take_home"
        } else {
            "dose"
        };
        self.move_stock(
            &d.lot_id,
            kind,
            -d.amount_ug,
            Some(&id),
            None,
            None,
            d.nurse_id,
        )
        .await?;
        Ok(id)
    }
}

impl crate::Store {
    /// The program's formulary.
    pub async fn products(&self, program: ProgramId) -> Result<Vec<Product>> {
        let key = format!("products:{program}");
        if let Some(p) = self.refs.get::<Vec<Product>>(&key) {
            return Ok(p);
        }
        let g = self.refs.generation();
        let p: Vec<Product> = with_reader!(self, c => {
            sqlx::query_as("SELECT id, program_id, medication, form, name, strength_ug, created_at FROM med_product WHERE program_id = $1 ORDER BY name")
                .bind(program.to_string()).fetch_all(c).await?
        });
        self.refs.put(key, g, p.clone());
        Ok(p)
    }

    /// The program's lots with stock left, oldest first (first in, first out).
    pub async fn lots(&self, program: ProgramId, with_empty: bool) -> Result<Vec<Lot>> {
        Ok(with_reader!(self, c => {
            sqlx::query_as("SELECT id, program_id, product_id, lot, expires_on, balance_ug, received_at FROM stock_lot \
                            WHERE program_id = $1 AND ($2 OR balance_ug > 0) ORDER BY received_at, lot")
                .bind(program.to_string()).bind(with_empty).fetch_all(c).await?
        }))
    }

    /// One order by id.
    pub async fn order_by_id(&self, id: &str) -> Result<Option<MedOrder>> {
        let sql = format!(
            "SELECT {ORDER_COLS} FROM med_order o LEFT JOIN med_order_signature s ON s.order_id = o.id WHERE o.id = $1"
        );
        Ok(with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(c).await?
        }))
    }

    /// Every order of a patient, oldest first.
    pub async fn orders(&self, patient: PatientId) -> Result<Vec<MedOrder>> {
        let sql = format!(
            "SELECT {ORDER_COLS} FROM med_order o LEFT JOIN med_order_signature s ON s.order_id = o.id \
             WHERE o.patient_id = $1 ORDER BY o.ordered_at"
        );
        Ok(with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(patient.to_string()).fetch_all(c).await?
        }))
    }

    /// Every order written in a program, oldest first (the desk's day list).
    pub async fn program_orders(&self, program: ProgramId) -> Result<Vec<MedOrder>> {
        let sql = format!(
            "SELECT {ORDER_COLS} FROM med_order o LEFT JOIN med_order_signature s ON s.order_id = o.id \
             WHERE o.program_id = $1 ORDER BY o.ordered_at"
        );
        Ok(with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(program.to_string()).fetch_all(c).await?
        }))
    }

    /// A patient's doses, newest first, at most `limit`.
    pub async fn doses(&self, patient: PatientId, limit: i64) -> Result<Vec<Dose>> {
        let sql = format!(
            "SELECT {DOSE_COLS} FROM dose WHERE patient_id = $1 ORDER BY clinic_day DESC, given_at DESC LIMIT $2"
        );
        Ok(with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(patient.to_string()).bind(limit).fetch_all(c).await?
        }))
    }

    /// Every dose a program recorded on clinic days `from..=to`, in order.
    pub async fn program_doses_between(
        &self,
        program: ProgramId,
        from: &str,
        to: &str,
    ) -> Result<Vec<Dose>> {
        let sql = format!(
            "SELECT {DOSE_COLS} FROM dose WHERE program_id = $1 AND clinic_day >= $2 AND clinic_day <= $3 \
             ORDER BY clinic_day, given_at"
        );
        Ok(with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(program.to_string()).bind(from).bind(to).fetch_all(c).await?
        }))
    }

    /// Every dose a program recorded on a clinic day (the dispensing log).
    pub async fn program_doses(&self, program: ProgramId, day: &str) -> Result<Vec<Dose>> {
        let sql = format!(
            "SELECT {DOSE_COLS} FROM dose WHERE program_id = $1 AND clinic_day = $2 ORDER BY given_at"
        );
        Ok(with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(program.to_string()).bind(day).fetch_all(c).await?
        }))
    }
}
