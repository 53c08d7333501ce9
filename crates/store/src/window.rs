//! The dosing window: holds on dosing (a nurse's sedation or intoxication
//! assessment for the clinic day, administrative holds until released) and
//! the queue (arrival, then the call to a window). Both append-only.

use crate::{PatientWrite, Result, Tx, conflict_on};
use carepath_domain::ids::{PatientId, ProgramId, UserId};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Hold {
    pub id: String,
    #[sqlx(try_from = "String")]
    pub patient_id: PatientId,
    #[sqlx(try_from = "String")]
    pub program_id: ProgramId,
    /// sedation, intoxication, administrative.
    pub kind: String,
    pub reason: String,
    pub clinic_day: String,
    pub placed_by_name: String,
    pub placed_at: i64,
    pub released_by_name: Option<String>,
    pub released_at: Option<i64>,
    pub release_reason: Option<String>,
}

impl Hold {
    /// Whether the hold stops a dose on `day`: not released, and for a
    /// sedation or intoxication assessment, placed that clinic day.
    pub fn holds_on(&self, day: &str) -> bool {
        self.released_at.is_none()
            && match self.kind.as_str() {
                "administrative" => self.clinic_day.as_str() <= day,
                _ => self.clinic_day == day,
            }
    }
}

pub struct NewHold {
    pub patient_id: PatientId,
    pub program_id: ProgramId,
    pub kind: String,
    pub reason: String,
    pub clinic_day: String,
    pub by: UserId,
    pub by_name: String,
}

/// One arrival in the queue and, once called, its window.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct QueueEntry {
    pub id: String,
    #[sqlx(try_from = "String")]
    pub patient_id: PatientId,
    pub visit: i64,
    pub arrived_at: i64,
    pub window_name: Option<String>,
    pub called_at: Option<i64>,
    pub called_by_name: Option<String>,
}

const HOLD_COLS: &str = "h.id, h.patient_id, h.program_id, h.kind, h.reason, h.clinic_day, h.placed_by_name, h.placed_at, \
     r.released_by_name, r.released_at, r.reason AS release_reason";

const QUEUE_COLS: &str = "q.id, q.patient_id, q.visit, q.arrived_at, c.window_name, c.called_at, c.by_name AS called_by_name";

impl Tx {
    /// Place a hold on the opened patient.
    pub async fn add_hold(&mut self, w: &PatientWrite, h: &NewHold) -> Result<String> {
        w.check(h.patient_id)?;
        let id = uuid::Uuid::now_v7().to_string();
        let now = self.now();
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO dosing_hold (id, patient_id, program_id, kind, reason, clinic_day, placed_by, placed_by_name, placed_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(&id).bind(h.patient_id.to_string()).bind(h.program_id.to_string()).bind(&h.kind)
            .bind(&h.reason).bind(&h.clinic_day).bind(h.by.to_string()).bind(&h.by_name).bind(now)
            .execute(&mut *c).await?;
        });
        self.touched.push(("dosing_hold", id.clone()));
        Ok(id)
    }

    /// Lift a hold of the opened patient, once (`Conflict("dosing_hold_release_pkey")`
    /// when it was lifted already).
    pub async fn release_hold(
        &mut self,
        w: &PatientWrite,
        hold: &Hold,
        reason: &str,
        by: UserId,
        by_name: &str,
    ) -> Result<()> {
        w.check(hold.patient_id)?;
        let now = self.now();
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO dosing_hold_release (hold_id, reason, released_by, released_by_name, released_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&hold.id).bind(reason).bind(by.to_string()).bind(by_name).bind(now)
            .execute(&mut *c).await.map_err(conflict_on("dosing_hold_release_pkey"))?;
        });
        self.touched.push(("dosing_hold_release", hold.id.clone()));
        Ok(())
    }

    /// The day's queue of a program, in arrival order (inside the unit of
    /// work that changes it).
    pub async fn queue_in_tx(&mut self, program: ProgramId, day: &str) -> Result<Vec<QueueEntry>> {
        queue(crate::Src::Tx(self), program, day).await
    }

    /// A patient arrives for visit `visit` of the clinic day
    /// (`Conflict("window_queue_one_per_visit")` when already queued for it).
    pub async fn arrive(
        &mut self,
        program: ProgramId,
        patient: PatientId,
        day: &str,
        visit: i64,
        by: UserId,
    ) -> Result<String> {
        let id = uuid::Uuid::now_v7().to_string();
        let now = self.now();
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO window_queue (id, program_id, patient_id, clinic_day, visit, arrived_at, by_user) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&id).bind(program.to_string()).bind(patient.to_string()).bind(day).bind(visit).bind(now)
            .bind(by.to_string())
            .execute(&mut *c).await.map_err(conflict_on("window_queue_one_per_visit"))?;
        });
        Ok(id)
    }

    /// Call an arrival to a window, once (`Conflict("window_call_pkey")` when
    /// another window called them first).
    pub async fn call(
        &mut self,
        queue_id: &str,
        window: &str,
        by: UserId,
        by_name: &str,
    ) -> Result<()> {
        let now = self.now();
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO window_call (queue_id, window_name, called_at, by_user, by_name) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(queue_id).bind(window).bind(now).bind(by.to_string()).bind(by_name)
            .execute(&mut *c).await.map_err(conflict_on("window_call_pkey"))?;
        });
        Ok(())
    }
}

async fn queue(src: crate::Src<'_>, program: ProgramId, day: &str) -> Result<Vec<QueueEntry>> {
    let sql = format!(
        "SELECT {QUEUE_COLS} FROM window_queue q LEFT JOIN window_call c ON c.queue_id = q.id \
         WHERE q.program_id = $1 AND q.clinic_day = $2 ORDER BY q.arrived_at, q.id"
    );
    Ok(with_src!(src, c => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(program.to_string()).bind(day).fetch_all(c).await?
    }))
}

impl crate::Store {
    /// A patient's holds placed on or after `from` (clinic day) and every
    /// administrative hold not lifted, oldest first.
    pub async fn holds(&self, patient: PatientId, from: &str) -> Result<Vec<Hold>> {
        let sql = format!(
            "SELECT {HOLD_COLS} FROM dosing_hold h LEFT JOIN dosing_hold_release r ON r.hold_id = h.id \
             WHERE h.patient_id = $1 AND (h.clinic_day >= $2 OR (h.kind = 'administrative' AND r.hold_id IS NULL)) \
             ORDER BY h.placed_at"
        );
        Ok(with_reader!(self, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(patient.to_string()).bind(from).fetch_all(c).await?
        }))
    }

    /// The day's queue of a program, in arrival order.
    pub async fn queue(&self, program: ProgramId, day: &str) -> Result<Vec<QueueEntry>> {
        queue(crate::Src::Store(self), program, day).await
    }
}
