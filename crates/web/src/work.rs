//! Program-level work: the calendar of sessions and their attendance, each
//! role's worklist, and the census by level of care.

use crate::AppState;
use crate::auth::Principal;
use crate::chart::{self, DAY_US, HOUR_US, holds_in};
use crate::error::AppError;
use carepath_domain::FieldError;
use carepath_domain::audit::Outcome;
use carepath_domain::authz::Permission;
use carepath_domain::ids::{PatientId, ProgramId};
use carepath_domain::program::{ProgramKind, parse_time_zone};
use carepath_store::{Author, CalendarSession, NewRecord, Pending, Record};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::{BTreeMap, HashMap, HashSet};

fn invalid(field: &'static str, msg: impl Into<String>) -> AppError {
    AppError::Invalid(FieldError::new(field, msg))
}

pub const SESSION_KINDS: [(&str, &str); 4] = [
    ("group", "Group"),
    ("individual", "Individual"),
    ("family", "Family"),
    ("activity", "Therapeutic activity"),
];

pub const MODALITIES: [(&str, &str); 15] = [
    ("process", "Process group"),
    ("psychoeducation", "Psychoeducation"),
    ("relapse_prevention", "Relapse prevention"),
    ("cbt", "Cognitive behavioral therapy"),
    ("contingency_management", "Contingency management"),
    ("family_therapy", "Family therapy"),
    ("motivational_interviewing", "Motivational interviewing"),
    ("twelve_step", "12-step facilitation"),
    ("smart_recovery", "SMART Recovery"),
    ("medication", "Medication education"),
    ("case_management", "Case management"),
    ("nutrition", "Nutrition"),
    ("yoga", "Yoga"),
    ("art", "Art therapy"),
    ("dance", "Dance and movement"),
];

pub fn label<'a>(list: &[(&'a str, &'a str)], key: &str) -> &'a str {
    list.iter()
        .find(|(k, _)| *k == key)
        .map(|(_, l)| *l)
        .unwrap_or("—")
}

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SeriesInput {
    /// group, individual, family, activity.
    pub kind: String,
    pub title: String,
    /// One of the modalities (process, cbt, yoga…).
    pub modality: String,
    /// First day, `YYYY-MM-DD` (program time).
    pub start_date: String,
    /// Start time, `HH:MM` (program time).
    pub time: String,
    pub minutes: i64,
    /// ISO weekdays 1 (Monday)–7 (Sunday) on which it repeats; empty = once.
    #[serde(default)]
    pub weekdays: Vec<u8>,
    /// Number of weeks to repeat (1–26).
    #[serde(default = "one")]
    pub weeks: u8,
    #[serde(default)]
    pub location: String,
}

fn one() -> u8 {
    1
}

/// Schedule a session or a weekly series (e.g. IOP: Mon/Wed/Fri 09:00, 3 hours, 12 weeks).
pub async fn schedule(
    state: &AppState,
    p: &Principal,
    program: ProgramId,
    i: &SeriesInput,
) -> Result<Vec<String>, AppError> {
    if !holds_in(p, program, Permission::WriteClinical) {
        return Err(AppError::Forbidden(
            "you do not work in that program".into(),
        ));
    }
    let prog = state.store.program(program).await?;
    let tz = parse_time_zone(&prog.timezone)?;
    if !SESSION_KINDS.iter().any(|(k, _)| *k == i.kind) {
        return Err(invalid(
            "kind",
            "must be group, individual, family or activity",
        ));
    }
    if !MODALITIES.iter().any(|(k, _)| *k == i.modality) {
        return Err(invalid("modality", "choose a modality"));
    }
    if i.title.trim().chars().count() < 3 {
        return Err(invalid("title", "give the session a title"));
    }
    if !(5..=600).contains(&i.minutes) {
        return Err(invalid("minutes", "must be 5 to 600 minutes"));
    }
    if !(1..=26).contains(&i.weeks) {
        return Err(invalid("weeks", "must be 1 to 26"));
    }
    if i.weekdays.iter().any(|d| !(1..=7).contains(d)) {
        return Err(invalid("weekdays", "weekdays are 1 (Monday) to 7 (Sunday)"));
    }
    let start: jiff::civil::Date = i
        .start_date
        .trim()
        .parse()
        .map_err(|_| invalid("start_date", "must be a date, YYYY-MM-DD"))?;
    let time: jiff::civil::Time = i
        .time
        .trim()
        .parse()
        .map_err(|_| invalid("time", "must be a time, HH:MM"))?;
    let mut days = vec![];
    if i.weekdays.is_empty() {
        days.push(start);
    } else {
        for k in 0..(i.weeks as i64 * 7) {
            let d = start
                .checked_add(jiff::Span::new().days(k))
                .map_err(|_| invalid("start_date", "out of range"))?;
            if i.weekdays
                .contains(&(d.weekday().to_monday_one_offset() as u8))
            {
                days.push(d);
            }
        }
    }
    let series = (days.len() > 1).then(|| uuid::Uuid::now_v7().to_string());
    let mut sessions = vec![];
    for d in days {
        let at = d
            .to_datetime(time)
            .to_zoned(tz.clone())
            .map_err(|_| invalid("time", "not a valid local time"))?
            .timestamp()
            .as_microsecond();
        sessions.push(CalendarSession {
            id: uuid::Uuid::now_v7().to_string(),
            program_id: program,
            kind: i.kind.clone(),
            title: i.title.trim().to_string(),
            modality: i.modality.clone(),
            starts_at: at,
            minutes: i.minutes,
            leader_id: Some(p.user_id.to_string()),
            location: i.location.trim().to_string(),
            series_id: series.clone(),
        });
    }
    state
        .store
        .create_sessions(
            &sessions,
            p.user_id,
            p.event("session.create", Outcome::Success),
        )
        .await?;
    Ok(sessions.into_iter().map(|s| s.id).collect())
}

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttendanceEntry {
    pub patient_id: String,
    /// present, late, absent, excused.
    pub status: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttendanceInput {
    pub entries: Vec<AttendanceEntry>,
}

pub const STATUSES: [(&str, &str); 4] = [
    ("present", "Present"),
    ("late", "Late"),
    ("absent", "Absent"),
    ("excused", "Excused"),
];

/// The key a group's membership is kept under: the series (a weekly group), or
/// the session itself when it stands alone.
pub fn group_key(s: &CalendarSession) -> String {
    s.series_id.clone().unwrap_or_else(|| s.id.clone())
}

/// Who is enrolled in a group, from its enrollment records (newest per
/// patient wins). `None` when nobody was ever enrolled: an open group.
pub fn enrolled(records: &[Record]) -> Option<Vec<PatientId>> {
    let mut latest: HashMap<PatientId, &Record> = HashMap::new();
    for r in records.iter().filter(|r| r.kind == "enrollment") {
        let e = latest.entry(r.patient_id).or_insert(r);
        if r.recorded_at >= e.recorded_at {
            *e = r;
        }
    }
    if latest.is_empty() {
        return None;
    }
    let mut v: Vec<PatientId> = latest
        .into_iter()
        .filter(|(_, r)| r.body["action"] == "add")
        .map(|(p, _)| p)
        .collect();
    v.sort();
    Some(v)
}

/// A session's roster: the enrolled members still in care (closed group) or
/// everyone in care in the program (open group), each with their current
/// attendance record if taken. Also returns whether the group is closed.
pub async fn roster(
    state: &AppState,
    session: &CalendarSession,
) -> Result<(Vec<(PatientId, String, Option<Record>)>, bool), AppError> {
    let eps = state.store.open_episodes(session.program_id).await?;
    let mut ids: Vec<PatientId> = eps.iter().map(|e| e.patient_id).collect();
    ids.dedup();
    let members = enrolled(&state.store.records_referring(&group_key(session)).await?);
    if let Some(m) = &members {
        ids.retain(|id| m.contains(id));
    }
    let names: HashMap<PatientId, String> =
        state.store.patient_names(&ids).await?.into_iter().collect();
    let taken = state.store.records_referring(&session.id).await?;
    let mut out: Vec<(PatientId, String, Option<Record>)> = ids
        .iter()
        .map(|id| {
            let rec = taken
                .iter()
                .rfind(|r| r.kind == "attendance" && r.patient_id == *id && r.is_current())
                .cloned();
            (*id, names.get(id).cloned().unwrap_or_default(), rec)
        })
        .collect();
    out.sort_by(|a, b| a.1.cmp(&b.1));
    Ok((out, members.is_some()))
}

/// Enroll a patient in a group (the session's series) or take them off it.
pub async fn enroll(
    state: &AppState,
    p: &Principal,
    session_id: &str,
    patient: &str,
    add: bool,
) -> Result<(), AppError> {
    let s = state.store.calendar_session(session_id).await?;
    if !holds_in(p, s.program_id, Permission::WriteClinical) {
        return Err(AppError::Forbidden(
            "you do not work in that program".into(),
        ));
    }
    let pid: PatientId = patient
        .parse()
        .map_err(|_| invalid("patient_id", "choose a patient"))?;
    let in_care = state
        .store
        .open_episodes(s.program_id)
        .await?
        .iter()
        .any(|e| e.patient_id == pid);
    if add && !in_care {
        return Err(invalid(
            "patient_id",
            "only patients in care in this program can join",
        ));
    }
    let r = enrollment_record(
        &s,
        pid,
        add,
        author(p, s.program_id),
        carepath_store::now_us(),
    );
    state
        .store
        .append_record(&r, p.event("group.enroll", Outcome::Success))
        .await?;
    Ok(())
}

/// The author of a program-level entry: the user, in their role there.
fn author(p: &Principal, program: ProgramId) -> Author {
    Author {
        id: p.user_id,
        name: p.display_name.clone(),
        role: chart::role_in(p, program)
            .map(|r| r.as_str().to_string())
            .unwrap_or_default(),
    }
}

/// A patient joining (`add`) or leaving a session's group.
pub fn enrollment_record(
    s: &CalendarSession,
    patient: PatientId,
    add: bool,
    author: Author,
    at: i64,
) -> NewRecord {
    let mut r = NewRecord::new(
        patient,
        s.program_id,
        "enrollment",
        json!({"action": if add { "add" } else { "remove" }, "group": s.title, "series_id": s.series_id}),
        format!("{} group: {}", if add { "Joined" } else { "Left" }, s.title),
        at,
        author,
    );
    r.ref_id = Some(group_key(s));
    r
}

/// A patient's attendance mark for a session.
pub fn attendance_record(
    s: &CalendarSession,
    patient: PatientId,
    status: &str,
    author: Author,
) -> NewRecord {
    let mut r = NewRecord::new(
        patient,
        s.program_id,
        "attendance",
        json!({"session_id": s.id, "status": status, "title": s.title, "modality": s.modality, "session_kind": s.kind}),
        format!(
            "{}: {} ({}, {})",
            label(&STATUSES, status),
            s.title,
            label(&SESSION_KINDS, &s.kind),
            label(&MODALITIES, &s.modality)
        ),
        s.starts_at,
        author,
    );
    r.ref_id = Some(s.id.clone());
    r.late_entry = clinical_late(s.starts_at);
    r
}

/// Record attendance; a changed status amends the earlier entry (both kept).
pub async fn attendance(
    state: &AppState,
    p: &Principal,
    session_id: &str,
    i: &AttendanceInput,
) -> Result<usize, AppError> {
    let s = state.store.calendar_session(session_id).await?;
    if !holds_in(p, s.program_id, Permission::WriteClinical) {
        return Err(AppError::Forbidden(
            "you do not work in that program".into(),
        ));
    }
    let (roster, _) = roster(state, &s).await?;
    let mut new = vec![];
    let mut amended = 0;
    for (k, e) in i.entries.iter().enumerate() {
        if !STATUSES.iter().any(|(x, _)| *x == e.status) {
            return Err(FieldError::new(
                format!("entries[{k}].status"),
                "must be present, late, absent or excused",
            )
            .into());
        }
        let pid: PatientId = e
            .patient_id
            .parse()
            .map_err(|_| FieldError::new(format!("entries[{k}].patient_id"), "unknown patient"))?;
        let Some((_, _, prior)) = roster.iter().find(|r| r.0 == pid) else {
            return Err(FieldError::new(
                format!("entries[{k}].patient_id"),
                "not on this program's roster",
            )
            .into());
        };
        let r = attendance_record(&s, pid, &e.status, author(p, s.program_id));
        match prior {
            Some(old) if old.body["status"] == json!(e.status) => {}
            Some(old) => {
                state
                    .store
                    .amend_record(
                        &old.id,
                        &r,
                        "attendance corrected",
                        p.event("attendance.amend", Outcome::Success),
                    )
                    .await?;
                amended += 1;
            }
            None => new.push(r),
        }
    }
    // One audit event per patient: each is a write to that patient's record.
    let mut written = amended;
    for r in &new {
        // Someone else marked this patient a moment ago: theirs stands (the
        // database allows one first mark per patient and session).
        match state
            .store
            .append_record(r, p.event("attendance.record", Outcome::Success))
            .await
        {
            Ok(_) => written += 1,
            Err(carepath_store::StoreError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(written)
}

fn clinical_late(at: i64) -> bool {
    carepath_clinical::flowsheet::is_late_entry(at, carepath_store::now_us(), 24)
}

// ---------------------------------------------------------------- worklists

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WorkItem {
    pub patient_id: String,
    pub patient: String,
    pub what: String,
    pub due_at: Option<i64>,
    /// The due time in the program's time zone, for people.
    pub due: String,
    pub overdue: bool,
    pub record_id: Option<String>,
    pub program: String,
}

#[derive(Debug, Clone, Serialize, Default, utoipa::ToSchema)]
pub struct Worklist {
    /// Admitted in the last 30 days without an intake assessment since.
    pub assessments_due: Vec<WorkItem>,
    pub cows_due: Vec<WorkItem>,
    pub to_sign: Vec<WorkItem>,
    pub to_cosign: Vec<WorkItem>,
    pub orders_to_sign: Vec<WorkItem>,
    pub plan_reviews: Vec<WorkItem>,
    pub followups: Vec<WorkItem>,
    pub referrals_waiting: i64,
}

/// When each patient's next COWS is due, from their latest check (or from
/// admission when none since). Pure: the caller loads each patient's latest
/// check as (patient, observed at, due at).
pub fn cows_due(
    open: &[(PatientId, i64)],
    latest: &[(PatientId, i64, Option<i64>)],
    horizon: i64,
) -> Vec<(PatientId, i64)> {
    let last: HashMap<PatientId, (i64, Option<i64>)> = latest
        .iter()
        .map(|(p, at, due)| (*p, (*at, *due)))
        .collect();
    let mut out: Vec<(PatientId, i64)> = open
        .iter()
        .map(|(pid, admitted)| {
            let due = match last.get(pid) {
                Some((at, due)) if at >= admitted => due.unwrap_or(*at),
                _ => *admitted,
            };
            (*pid, due)
        })
        .filter(|(_, due)| *due <= horizon)
        .collect();
    out.sort_by_key(|x| x.1);
    out
}

pub async fn worklist(state: &AppState, p: &Principal) -> Result<Worklist, AppError> {
    let now = carepath_store::now_us();
    let mut w = Worklist::default();
    let programs = p.programs_with(Permission::ReadClinical);
    let all_programs = state.store.list_programs().await?;
    let pname = |id: ProgramId| {
        all_programs
            .iter()
            .find(|g| g.id == id)
            .map(|g| g.name.clone())
            .unwrap_or_default()
    };
    let mut pending: Vec<(&str, PatientId, WorkItem)> = vec![];
    let item = |r: &Record, what: String, due: Option<i64>| WorkItem {
        patient_id: r.patient_id.to_string(),
        patient: String::new(),
        what,
        due_at: due,
        due: String::new(),
        overdue: due.is_some_and(|d| d < now),
        record_id: Some(r.id.clone()),
        program: pname(r.program_id),
    };
    // Each patient's newest assessment in any of the user's programs.
    let mut assessed: HashMap<PatientId, i64> = HashMap::new();
    for &g in &programs {
        for (pid, at, _) in state.store.latest_per_patient(g, "assessment").await? {
            let e = assessed.entry(pid).or_insert(at);
            *e = (*e).max(at);
        }
    }
    for &prog in &programs {
        let open = state.store.open_episodes(prog).await?;
        let open_ids: HashSet<PatientId> = open.iter().map(|e| e.patient_id).collect();
        let program = all_programs.iter().find(|g| g.id == prog);
        let tz = program
            .and_then(|g| parse_time_zone(&g.timezone).ok())
            .unwrap_or(jiff::tz::TimeZone::UTC);
        // Intake assessments due: recent admissions without an assessment since
        // (an assessment in the 30 days before admission counts, e.g. from detox).
        for e in open.iter().filter(|e| e.admitted_at > now - 30 * DAY_US) {
            if assessed
                .get(&e.patient_id)
                .is_none_or(|at| *at < e.admitted_at - 30 * DAY_US)
            {
                pending.push((
                    "assess",
                    e.patient_id,
                    WorkItem {
                        patient_id: e.patient_id.to_string(),
                        patient: String::new(),
                        what: "Intake assessment due".into(),
                        due_at: Some(e.admitted_at),
                        due: String::new(),
                        overdue: e.admitted_at < now - DAY_US,
                        record_id: None,
                        program: pname(prog),
                    },
                ));
            }
        }
        // COWS due: patients in withdrawal management.
        let wm: Vec<(PatientId, i64)> = open
            .iter()
            .filter(|e| e.level_of_care == ProgramKind::WithdrawalManagement.as_str())
            .map(|e| (e.patient_id, e.admitted_at))
            .collect();
        if !wm.is_empty() {
            let latest = state.store.latest_per_patient(prog, "cows").await?;
            for (pid, due) in cows_due(&wm, &latest, now + HOUR_US) {
                pending.push((
                    "cows",
                    pid,
                    WorkItem {
                        patient_id: pid.to_string(),
                        patient: String::new(),
                        what: if due < now {
                            "COWS overdue".into()
                        } else {
                            "COWS due within the hour".into()
                        },
                        due_at: Some(due),
                        due: String::new(),
                        overdue: due < now,
                        record_id: None,
                        program: pname(prog),
                    },
                ));
            }
        }
        // Notes and plans to sign; co-signatures (filtered in SQL).
        for kind in ["note", "plan"] {
            let since = now - 90 * DAY_US;
            for r in state
                .store
                .program_records_where(prog, kind, since, None, Pending::UnsignedBy(p.user_id))
                .await?
            {
                let what = format!("Sign: {}", r.summary);
                pending.push(("sign", r.patient_id, item(&r, what, None)));
            }
            for r in state
                .store
                .program_records_where(prog, kind, since, None, Pending::CosignBy(p.user_id))
                .await?
            {
                let what = format!("Co-sign: {} (by {})", r.summary, r.author_name);
                pending.push(("cosign", r.patient_id, item(&r, what, None)));
            }
        }
        if holds_in(p, prog, Permission::OrderMedication) {
            for r in state
                .store
                .program_records_where(prog, "order", now - 30 * DAY_US, None, Pending::Unsigned)
                .await?
            {
                let what = format!("{} (entered by {})", r.summary, r.author_name);
                pending.push(("order", r.patient_id, item(&r, what, None)));
            }
        }
        // Plan reviews due within a week, for patients still in care.
        for r in state
            .store
            .program_records(prog, "plan", 0, Some(now + 7 * DAY_US))
            .await?
        {
            if open_ids.contains(&r.patient_id) {
                pending.push((
                    "plan",
                    r.patient_id,
                    item(&r, "Treatment plan review due".into(), r.due_at),
                ));
            }
        }
        // Follow-up calls due by the end of the coming week without an outcome
        // (overdue and today's first).
        let end_of_day = carepath_domain::program::clinic_day(jiff::Timestamp::now(), &tz)
            .checked_add(jiff::Span::new().days(8))
            .ok()
            .and_then(|d| d.to_zoned(tz.clone()).ok())
            .map(|z| z.timestamp().as_microsecond())
            .unwrap_or(now + 8 * DAY_US);
        for r in state
            .store
            .program_records_where(
                prog,
                "followup",
                now - 400 * DAY_US,
                Some(end_of_day),
                Pending::Unanswered,
            )
            .await?
        {
            let what = r.summary.clone();
            pending.push(("followup", r.patient_id, item(&r, what, r.due_at)));
        }
    }
    let ids: Vec<PatientId> = pending
        .iter()
        .map(|x| x.1)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let names: HashMap<PatientId, String> =
        state.store.patient_names(&ids).await?.into_iter().collect();
    for (list, pid, mut it) in pending {
        it.patient = names.get(&pid).cloned().unwrap_or_default();
        let tz = all_programs
            .iter()
            .find(|g| g.name == it.program)
            .and_then(|g| parse_time_zone(&g.timezone).ok())
            .unwrap_or(jiff::tz::TimeZone::UTC);
        it.due = it
            .due_at
            .map(|d| crate::views::fmt_time(d, &tz))
            .unwrap_or_default();
        match list {
            "assess" => w.assessments_due.push(it),
            "cows" => w.cows_due.push(it),
            "sign" => w.to_sign.push(it),
            "cosign" => w.to_cosign.push(it),
            "order" => w.orders_to_sign.push(it),
            "plan" => w.plan_reviews.push(it),
            _ => w.followups.push(it),
        }
    }
    w.followups.sort_by_key(|i| i.due_at);
    w.assessments_due.sort_by_key(|i| i.due_at);
    w.plan_reviews.sort_by_key(|i| i.due_at);
    let rp = p.programs_with(Permission::ManageReferrals);
    if !rp.is_empty() {
        w.referrals_waiting = state
            .store
            .referrals(&rp, false)
            .await?
            .iter()
            .filter(|r| r.status == "new")
            .count() as i64;
    }
    state
        .store
        .audit(p.event("worklist.view", Outcome::Success).detail(format!(
            "items={}",
            w.cows_due.len()
                + w.assessments_due.len()
                + w.to_sign.len()
                + w.to_cosign.len()
                + w.orders_to_sign.len()
                + w.plan_reviews.len()
                + w.followups.len()
        )))
        .await?;
    Ok(w)
}

/// Open episodes per program and level of care: (program, level label, count).
pub async fn census_by_level(
    state: &AppState,
    p: &Principal,
) -> Result<Vec<(String, String, i64)>, AppError> {
    let programs = state.store.list_programs().await?;
    let mut out = vec![];
    for prog in p.programs_with(Permission::ViewDashboard) {
        let Some(g) = programs.iter().find(|g| g.id == prog) else {
            continue;
        };
        let mut by: BTreeMap<String, i64> = BTreeMap::new();
        for e in state.store.open_episodes(prog).await? {
            let l = e
                .level_of_care
                .parse::<ProgramKind>()
                .map(|k| k.label().to_string())
                .unwrap_or(e.level_of_care);
            *by.entry(l).or_default() += 1;
        }
        for (l, n) in by {
            out.push((g.name.clone(), l, n));
        }
    }
    out.dedup();
    Ok(out)
}

// ---------------------------------------------------------------- program protocol settings

/// Check and save a program's protocol settings (administrators of that program).
pub async fn set_protocol(
    state: &AppState,
    p: &Principal,
    program: ProgramId,
    s: &carepath_store::programs::ProgramProtocol,
) -> Result<(), AppError> {
    if !holds_in(p, program, Permission::ManagePrograms) {
        return Err(AppError::NotFound);
    }
    let range = |field: &'static str, v: u32, lo: u32, hi: u32| {
        if (lo..=hi).contains(&v) {
            Ok(())
        } else {
            Err(invalid(field, format!("must be {lo} to {hi}")))
        }
    };
    range("cows_every_h", s.cows_every_h, 1, 24)?;
    range("cows_severe_every_h", s.cows_severe_every_h, 1, 24)?;
    range("cows_severe_from", s.cows_severe_from as u32, 5, 48)?;
    range("followup_every_days", s.followup_every_days, 1, 90)?;
    range("followup_count", s.followup_count, 0, 52)?;
    if s.cows_severe_every_h > s.cows_every_h {
        return Err(invalid(
            "cows_severe_every_h",
            "severe withdrawal is checked at least as often as the usual interval",
        ));
    }
    state
        .store
        .set_program_protocol(
            program,
            s,
            p.user_id,
            p.event("program.protocol", Outcome::Success),
        )
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(pid: PatientId, at: i64, due: i64) -> Record {
        Record {
            id: uuid::Uuid::now_v7().to_string(),
            patient_id: pid,
            program_id: ProgramId::new(),
            episode_id: None,
            kind: "cows".into(),
            body: json!({}),
            summary: String::new(),
            occurred_at: at,
            recorded_at: at,
            author_id: String::new(),
            author_name: String::new(),
            author_role: String::new(),
            amends: None,
            amend_reason: None,
            root_id: String::new(),
            ref_id: None,
            due_at: Some(due),
            sign_role: None,
            cosigner_id: None,
            late_entry: false,
            superseded_by: None,
            signatures: vec![],
        }
    }

    #[test]
    fn enrollment_follows_the_newest_record_per_patient() {
        let a = PatientId::new();
        let b = PatientId::new();
        let mk = |pid, action: &str, at| {
            let mut r = rec(pid, at, 0);
            r.kind = "enrollment".into();
            r.body = json!({ "action": action });
            r.recorded_at = at;
            r
        };
        assert_eq!(enrolled(&[]), None, "never enrolled: an open group");
        let v = enrolled(&[mk(a, "add", 1), mk(b, "add", 2), mk(a, "remove", 3)]).unwrap();
        assert_eq!(v, vec![b]);
        let v = enrolled(&[mk(a, "add", 1), mk(a, "remove", 2), mk(a, "add", 4)]).unwrap();
        assert_eq!(v, vec![a]);
        assert_eq!(
            enrolled(&[mk(a, "add", 1), mk(a, "remove", 2)]),
            Some(vec![]),
            "closed and empty"
        );
    }

    #[test]
    fn cows_due_uses_the_latest_check_or_admission() {
        let a = PatientId::new();
        let b = PatientId::new();
        let c = PatientId::new();
        let open = [(a, 0), (b, 0), (c, 500)];
        let latest = [(a, 50, Some(60)), (b, 10, Some(1000)), (c, 100, Some(200))];
        // a: latest check at 50 → due 60; b: due 1000 (beyond horizon); c: check predates
        // this admission → due at admission (500).
        let due = cows_due(&open, &latest, 600);
        assert_eq!(due, vec![(a, 60), (c, 500)]);
    }
}
