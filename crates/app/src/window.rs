//! The dosing window: holds on dosing and the queue.
//!
//! A nurse who finds a patient sedated or intoxicated at the window does not
//! dose (assess for intoxication before dosing: the Australian national
//! methadone guideline's missed-dose schedule and published clinic practice,
//! DOMAIN-clinical § 4.3; methadone's label warns of respiratory depression
//! with other CNS depressants) — she places a hold for the clinic day with
//! what she saw, and the pre-dose panel refuses the dose until the hold is
//! lifted with a reason (a re-assessment later that day, or the
//! prescriber). An
//! administrative hold (e.g. identity not confirmed, an order under review)
//! lasts until lifted. Holds are append-only; lifting is a second row.
//!
//! The queue: the front desk (or the nurse) records a patient's arrival; a
//! nurse at a window calls the next in line; two windows never get the same
//! person (the call is keyed by the arrival in the database, and the pick
//! runs under the queue's lock).

use crate::App;
use crate::access;
use crate::actor::Principal;
use crate::error::{Error, Problems, Result};
use carepath_domain::audit::Outcome;
use carepath_domain::authz::Permission;
use carepath_domain::ids::{PatientId, ProgramId};
use carepath_store::StoreError;
use carepath_store::window::{Hold, NewHold};
use serde::{Deserialize, Serialize};

pub const HOLD_KINDS: &[(&str, &str)] = &[
    ("sedation", "Sedated at the window"),
    ("intoxication", "Intoxicated at the window"),
    ("administrative", "Administrative hold"),
];

pub fn hold_label(kind: &str) -> &'static str {
    HOLD_KINDS
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, l)| *l)
        .unwrap_or("Hold")
}

/// A hold as the nurse writes it.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct HoldInput {
    /// sedation, intoxication (this clinic day) or administrative (until lifted).
    pub kind: String,
    /// What was seen or why (at least 5 characters).
    pub reason: String,
}

fn reason(p: &mut Problems, field: &'static str, r: &str) -> Option<String> {
    let r = r.trim();
    if r.chars().count() < 5 {
        p.add(field, "say what you saw or why (at least 5 characters)");
        None
    } else if r.chars().count() > 500 {
        p.add(field, "at most 500 characters");
        None
    } else {
        Some(r.to_string())
    }
}

/// Place a hold on dosing for the opened patient.
pub async fn place_hold(
    app: &App,
    who: &Principal,
    patient: PatientId,
    i: &HoldInput,
) -> Result<String> {
    let s = access::open(app, who, patient, Permission::WriteClinical, "dosing.hold").await?;
    let w = s.writer()?;
    let mut p = Problems::new();
    if !HOLD_KINDS.iter().any(|(k, _)| *k == i.kind) {
        p.add("kind", "must be sedation, intoxication or administrative");
    }
    let why = reason(&mut p, "reason", &i.reason);
    p.finish()?;
    let mut tx = app.begin().await?;
    let id = tx
        .add_hold(
            &w,
            &NewHold {
                patient_id: patient,
                program_id: s.program.id,
                kind: i.kind.clone(),
                reason: why.unwrap_or_default(),
                clinic_day: s.today().to_string(),
                by: who.user_id,
                by_name: who.display_name.clone(),
            },
        )
        .await?;
    tx.audit(
        who.event("dosing.hold", Outcome::Success)
            .object("dosing_hold", &id)
            .patient(patient)
            .program(s.program.id)
            .detail(i.kind.clone()),
    );
    tx.commit().await?;
    Ok(id)
}

/// Lift a hold with a reason (once).
pub async fn lift_hold(
    app: &App,
    who: &Principal,
    patient: PatientId,
    hold_id: &str,
    why: &str,
) -> Result<()> {
    let s = access::open(
        app,
        who,
        patient,
        Permission::WriteClinical,
        "dosing.hold.lift",
    )
    .await?;
    let w = s.writer()?;
    let mut p = Problems::new();
    let why = reason(&mut p, "reason", why);
    p.finish()?;
    let hold = app
        .store
        .holds(patient, "0000-01-01")
        .await?
        .into_iter()
        .find(|h| h.id == hold_id)
        .ok_or(Error::NotFound)?;
    if hold.released_at.is_some() {
        return Err(Error::Conflict("this hold was lifted already".into()));
    }
    let mut tx = app.begin().await?;
    tx.release_hold(
        &w,
        &hold,
        &why.unwrap_or_default(),
        who.user_id,
        &who.display_name,
    )
    .await
    .map_err(|e| match e {
        StoreError::Conflict(_) => Error::Conflict("this hold was lifted already".into()),
        other => other.into(),
    })?;
    tx.audit(
        who.event("dosing.hold.lift", Outcome::Success)
            .object("dosing_hold", &hold.id)
            .patient(patient)
            .program(hold.program_id)
            .detail(hold.kind.clone()),
    );
    tx.commit().await?;
    Ok(())
}

/// The patient's holds of the last 30 days and any administrative hold
/// still in force, oldest first.
pub async fn holds(app: &App, who: &Principal, patient: PatientId) -> Result<Vec<Hold>> {
    let s = access::open(app, who, patient, Permission::ReadClinical, "dosing.holds").await?;
    let from = s
        .today()
        .checked_sub(jiff::Span::new().days(30))
        .map_err(|e| Error::Internal(e.to_string()))?;
    Ok(app.store.holds(patient, &from.to_string()).await?)
}

/// One person in the queue.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QueueRow {
    pub queue_id: String,
    pub patient_id: String,
    pub name: String,
    /// 1 for the day's first visit, 2 for a split dose's second.
    pub visit: i64,
    /// Arrival, local time (HH:MM).
    pub arrived: String,
    pub waiting_minutes: i64,
    pub window: Option<String>,
    pub called_by: Option<String>,
}

/// The day's queue: who waits, in arrival order, and who is at a window.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Queue {
    pub clinic_day: String,
    pub waiting: Vec<QueueRow>,
    pub at_windows: Vec<QueueRow>,
}

fn hhmm(us: i64, tz: &jiff::tz::TimeZone) -> String {
    jiff::Timestamp::from_microsecond(us)
        .map(|t| t.to_zoned(tz.clone()).strftime("%H:%M").to_string())
        .unwrap_or_default()
}

/// A patient arrives at the window (checked in by staff).
pub async fn arrive(app: &App, who: &Principal, patient: PatientId) -> Result<i64> {
    let s = access::open(
        app,
        who,
        patient,
        Permission::WriteClinical,
        "dosing.arrive",
    )
    .await?;
    s.writer()?;
    let program = s.program.id;
    let day = s.today().to_string();
    let mut tx = app.begin().await?;
    tx.lock(&format!("queue:{program}:{day}")).await?;
    let mine: Vec<_> = tx
        .queue_in_tx(program, &day)
        .await?
        .into_iter()
        .filter(|q| q.patient_id == patient)
        .collect();
    if let Some(w) = mine.iter().find(|q| q.called_at.is_none()) {
        return Err(Error::Conflict(format!(
            "already waiting since {}",
            hhmm(w.arrived_at, &s.tz)
        )));
    }
    let given = tx
        .doses_on(patient, &day)
        .await?
        .iter()
        .filter(|d| !d.slot.starts_with('x'))
        .count() as i64;
    if let Some(w) = mine
        .iter()
        .find(|q| q.visit > given && q.called_at.is_some())
    {
        return Err(Error::Conflict(format!(
            "already called to window {}",
            w.window_name.as_deref().unwrap_or("")
        )));
    }
    let visit = mine.len() as i64 + 1;
    tx.arrive(program, patient, &day, visit, who.user_id)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => Error::Conflict("already in the queue".into()),
            other => other.into(),
        })?;
    tx.audit(
        who.event("dosing.arrive", Outcome::Success)
            .patient(patient)
            .program(program)
            .detail(format!("visit {visit}")),
    );
    tx.commit().await?;
    Ok(visit)
}

/// The nurse at `window` calls the next person in line.
pub async fn call_next(
    app: &App,
    who: &Principal,
    program: ProgramId,
    window: &str,
) -> Result<PatientId> {
    let prog = access::program(app, who, program, Permission::WriteClinical).await?;
    let window = window.trim();
    if window.is_empty() || window.chars().count() > 20 {
        return Err(Error::invalid(
            "window",
            "name the window (up to 20 characters, e.g. 1)",
        ));
    }
    let tz = carepath_domain::program::parse_time_zone(&prog.timezone)?;
    let day = carepath_domain::program::clinic_day(app.now(), &tz).to_string();
    let mut tx = app.begin().await?;
    tx.lock(&format!("queue:{program}:{day}")).await?;
    let next = tx
        .queue_in_tx(program, &day)
        .await?
        .into_iter()
        .find(|q| q.called_at.is_none())
        .ok_or_else(|| Error::Conflict("nobody is waiting".into()))?;
    tx.call(&next.id, window, who.user_id, &who.display_name)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => {
                Error::Conflict("another window called them first: call again".into())
            }
            other => other.into(),
        })?;
    tx.audit(
        who.event("dosing.call", Outcome::Success)
            .patient(next.patient_id)
            .program(program)
            .detail(format!("window {window}")),
    );
    tx.commit().await?;
    Ok(next.patient_id)
}

/// The day's queue of a program; people dosed for their visit leave it.
pub async fn queue(app: &App, who: &Principal, program: ProgramId) -> Result<Queue> {
    let prog = access::program(app, who, program, Permission::WriteClinical).await?;
    let tz = carepath_domain::program::parse_time_zone(&prog.timezone)?;
    let day = carepath_domain::program::clinic_day(app.now(), &tz).to_string();
    let entries = app.store.queue(program, &day).await?;
    let doses = app.store.program_doses(program, &day).await?;
    let ids: Vec<PatientId> = entries.iter().map(|q| q.patient_id).collect();
    let names: std::collections::HashMap<PatientId, String> =
        app.store.patient_names(&ids).await?.into_iter().collect();
    let now = app.now_us();
    let (mut waiting, mut at_windows) = (vec![], vec![]);
    for q in entries {
        let given = doses
            .iter()
            .filter(|d| d.patient_id == q.patient_id && !d.slot.starts_with('x'))
            .count() as i64;
        if given >= q.visit {
            continue;
        }
        let row = QueueRow {
            queue_id: q.id.clone(),
            patient_id: q.patient_id.to_string(),
            name: names.get(&q.patient_id).cloned().unwrap_or_default(),
            visit: q.visit,
            arrived: hhmm(q.arrived_at, &tz),
            waiting_minutes: (now - q.arrived_at).max(0) / 60_000_000,
            window: q.window_name.clone(),
            called_by: q.called_by_name.clone(),
        };
        if q.called_at.is_some() {
            at_windows.push(row);
        } else {
            waiting.push(row);
        }
    }
    if !waiting.is_empty() || !at_windows.is_empty() {
        app.audit(
            who.event("dosing.queue", Outcome::Success)
                .program(program)
                .detail(format!(
                    "waiting={} at_windows={}",
                    waiting.len(),
                    at_windows.len()
                )),
        )
        .await?;
    }
    Ok(Queue {
        clinic_day: day,
        waiting,
        at_windows,
    })
}
