//! Program-level work: the calendar of sessions and their attendance, group
//! membership, each role's worklist, the census by level of care, and the
//! programs' protocol settings. Lists that name patients are built only for
//! programs where the principal holds the permission, and audited as one
//! event with the number of rows.

use crate::access;
use crate::actor::Principal;
use crate::clock::{DAY_US, HOUR_US};
use crate::error::{Error, Problems, Result};
use crate::kinds::calendar::{
    self, AttendanceBody, EnrollmentBody, MODALITIES, Membership, SESSION_KINDS, STATUSES,
    group_key,
};
use crate::kinds::{Body, Entry, Kind};
use crate::{App, fmt};
use carepath_clinical as clinical;
use carepath_domain::FieldError;
use carepath_domain::audit::Outcome;
use carepath_domain::authz::Permission;
use carepath_domain::ids::{PatientId, ProgramId};
use carepath_domain::program::{ProgramKind, clinic_day, parse_time_zone};
use carepath_store::{Author, CalendarSession, Pending, Program, ProgramProtocol};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

/// Schedule a session or a weekly series (e.g. IOP: Mon/Wed/Fri 09:00,
/// 3 hours, 12 weeks). Every invalid field at once.
pub async fn schedule(
    app: &App,
    who: &Principal,
    program: ProgramId,
    i: &SeriesInput,
) -> Result<Vec<String>> {
    if !who.holds_in(program, Permission::WriteClinical) {
        return Err(Error::Forbidden("you do not work in that program".into()));
    }
    let prog = app.store.program(program).await?;
    let tz = parse_time_zone(&prog.timezone)?;
    let mut p = Problems::new();
    if !SESSION_KINDS.iter().any(|(k, _)| *k == i.kind) {
        p.add("kind", "must be group, individual, family or activity");
    }
    if !MODALITIES.iter().any(|(k, _)| *k == i.modality) {
        p.add("modality", "choose a modality");
    }
    if i.title.trim().chars().count() < 3 {
        p.add("title", "give the session a title");
    }
    if !(5..=600).contains(&i.minutes) {
        p.add("minutes", "must be 5 to 600 minutes");
    }
    if !(1..=26).contains(&i.weeks) {
        p.add("weeks", "must be 1 to 26");
    }
    if i.weekdays.iter().any(|d| !(1..=7).contains(d)) {
        p.add("weekdays", "weekdays are 1 (Monday) to 7 (Sunday)");
    }
    let start = p.take(
        i.start_date
            .trim()
            .parse::<jiff::civil::Date>()
            .map_err(|_| Error::invalid("start_date", "must be a date, YYYY-MM-DD")),
    );
    let time = p.take(
        i.time
            .trim()
            .parse::<jiff::civil::Time>()
            .map_err(|_| Error::invalid("time", "must be a time, HH:MM")),
    );
    p.finish()?;
    let (Some(start), Some(time)) = (start, time) else {
        return Err(Error::Internal("schedule checks".into()));
    };
    let mut days = vec![];
    if i.weekdays.is_empty() {
        days.push(start);
    } else {
        for k in 0..(i.weeks as i64 * 7) {
            let d = start
                .checked_add(jiff::Span::new().days(k))
                .map_err(|_| Error::invalid("start_date", "out of range"))?;
            if i.weekdays
                .contains(&(d.weekday().to_monday_one_offset() as u8))
            {
                days.push(d);
            }
        }
    }
    let series = (days.len() > 1).then(|| uuid::Uuid::now_v7().to_string());
    let leader = Some(who.user_id.to_string()).filter(|_| !who.user_id.0.is_nil());
    let mut sessions = vec![];
    for d in days {
        let at = d
            .to_datetime(time)
            .to_zoned(tz.clone())
            .map_err(|_| Error::invalid("time", "not a valid local time"))?
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
            leader_id: leader.clone(),
            location: i.location.trim().to_string(),
            series_id: series.clone(),
        });
    }
    let mut tx = app.begin().await?;
    tx.create_sessions(&sessions, who.user_id).await?;
    tx.audit(
        who.event("session.create", Outcome::Success)
            .object("session", &sessions[0].id)
            .program(program)
            .detail(format!("sessions={}", sessions.len())),
    );
    tx.commit().await?;
    Ok(sessions.into_iter().map(|s| s.id).collect())
}

/// Sessions of a program in `[from, to)` (clinical staff of the program).
pub async fn sessions(
    app: &App,
    who: &Principal,
    program: ProgramId,
    from: i64,
    to: i64,
) -> Result<Vec<CalendarSession>> {
    access::program(app, who, program, Permission::ReadClinical).await?;
    Ok(app.store.sessions(program, from, to).await?)
}

/// One session of a program the principal holds `perm` in.
pub async fn session(
    app: &App,
    who: &Principal,
    id: &str,
    perm: Permission,
) -> Result<(CalendarSession, Program)> {
    let s = app.store.calendar_session(id).await?;
    let g = access::program(app, who, s.program_id, perm).await?;
    Ok((s, g))
}

/// The µs range of `days` program-local days from `from` (default today).
pub async fn range(
    app: &App,
    program: ProgramId,
    from: Option<&str>,
    days: i64,
) -> Result<(i64, i64)> {
    let prog = app.store.program(program).await?;
    let tz = parse_time_zone(&prog.timezone)?;
    let day = match from.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => s
            .parse::<jiff::civil::Date>()
            .map_err(|_| FieldError::new("from", "must be a date, YYYY-MM-DD"))?,
        None => clinic_day(app.now(), &tz),
    };
    let days = days.clamp(1, 62);
    let start = day
        .to_zoned(tz.clone())
        .map_err(|_| FieldError::new("from", "out of range"))?;
    let end = start
        .checked_add(jiff::Span::new().days(days))
        .map_err(|_| FieldError::new("days", "out of range"))?;
    Ok((
        start.timestamp().as_microsecond(),
        end.timestamp().as_microsecond(),
    ))
}

/// The sessions of `program` in `[from, to)` that `patient` is on: a
/// closed group (or an individual or family session) they are enrolled in,
/// or an open group or activity. Not audited: the caller's read is.
pub(crate) async fn patient_sessions(
    app: &App,
    patient: PatientId,
    program: ProgramId,
    from: i64,
    to: i64,
) -> Result<Vec<CalendarSession>> {
    let mut out = vec![];
    for s in app.store.sessions(program, from, to).await? {
        let mut memberships = vec![];
        for r in app.store.records_referring(&group_key(&s)).await? {
            if r.kind != Kind::Enrollment.as_str() {
                continue;
            }
            let (p, at) = (r.patient_id, r.recorded_at);
            if let Body::Enrollment(b) = Entry::decode(r)?.body {
                memberships.push((p, at, b));
            }
        }
        let on = match enrolled(&memberships) {
            Some(members) => members.contains(&patient),
            None => matches!(s.kind.as_str(), "group" | "activity"),
        };
        if on {
            out.push(s);
        }
    }
    Ok(out)
}

/// Who is enrolled in a group, from its enrollment records (newest per
/// patient wins). `None` when nobody was ever enrolled: an open group.
pub fn enrolled(records: &[(PatientId, i64, EnrollmentBody)]) -> Option<Vec<PatientId>> {
    let mut latest: HashMap<PatientId, (i64, &EnrollmentBody)> = HashMap::new();
    for (p, at, b) in records {
        let e = latest.entry(*p).or_insert((*at, b));
        if *at >= e.0 {
            *e = (*at, b);
        }
    }
    if latest.is_empty() {
        return None;
    }
    let mut v: Vec<PatientId> = latest
        .into_iter()
        .filter(|(_, (_, b))| b.action == Membership::Add)
        .map(|(p, _)| p)
        .collect();
    v.sort();
    Some(v)
}

/// One roster line: the patient, their name, their current attendance mark.
pub type RosterLine = (PatientId, String, Option<(String, AttendanceBody)>);

/// A session's roster: the enrolled members still in care (closed group) or
/// everyone in care in the program (open group), each with their current
/// attendance mark if taken; and whether the group is closed. Audited as one
/// event (`session.roster`) with the number of patients.
pub async fn roster(
    app: &App,
    who: &Principal,
    session: &CalendarSession,
) -> Result<(Vec<RosterLine>, bool)> {
    let lines = roster_unaudited(app, session).await?;
    app.audit(
        who.event("session.roster", Outcome::Success)
            .object("session", &session.id)
            .program(session.program_id)
            .detail(format!("patients={}", lines.0.len())),
    )
    .await?;
    Ok(lines)
}

async fn roster_unaudited(app: &App, session: &CalendarSession) -> Result<(Vec<RosterLine>, bool)> {
    let eps = app.store.open_episodes(session.program_id).await?;
    let mut ids: Vec<PatientId> = eps.iter().map(|e| e.patient_id).collect();
    ids.sort();
    ids.dedup();
    let mut memberships = vec![];
    for r in app.store.records_referring(&group_key(session)).await? {
        if r.kind != Kind::Enrollment.as_str() {
            continue;
        }
        let (p, at) = (r.patient_id, r.recorded_at);
        if let Body::Enrollment(b) = Entry::decode(r)?.body {
            memberships.push((p, at, b));
        }
    }
    let members = enrolled(&memberships);
    if let Some(m) = &members {
        ids.retain(|id| m.contains(id));
    }
    // Names with birth date and MRN: two people of the same name on one
    // roster are told apart.
    let names: HashMap<PatientId, String> = app
        .store
        .patient_idents(&ids)
        .await?
        .into_iter()
        .map(|(id, name, dob, mrn)| (id, format!("{name} (DOB {dob}, MRN {mrn})")))
        .collect();
    let mut marks: HashMap<PatientId, (String, AttendanceBody)> = HashMap::new();
    for r in app.store.records_referring(&session.id).await? {
        if r.kind != Kind::Attendance.as_str() || !r.is_current() {
            continue;
        }
        let (p, id) = (r.patient_id, r.id.clone());
        if let Body::Attendance(b) = Entry::decode(r)?.body {
            marks.insert(p, (id, b));
        }
    }
    let mut out: Vec<RosterLine> = ids
        .iter()
        .map(|id| {
            (
                *id,
                names.get(id).cloned().unwrap_or_default(),
                marks.remove(id),
            )
        })
        .collect();
    out.sort_by(|a, b| a.1.cmp(&b.1));
    Ok((out, members.is_some()))
}

/// The author of a program-level entry: the principal, in their role there.
fn author(who: &Principal, program: ProgramId) -> Author {
    Author {
        id: who.user_id,
        name: who.display_name.clone(),
        role: who
            .role_in(program)
            .map(|r| r.as_str().to_string())
            .unwrap_or_default(),
    }
}

/// Enroll a patient in a group (the session's series) or take them off it.
/// The patient must belong to the session's program, reached through the
/// access path like any write into a record.
pub async fn enroll(
    app: &App,
    who: &Principal,
    session_id: &str,
    patient: &str,
    add: bool,
) -> Result<()> {
    let (s, _) = session(app, who, session_id, Permission::WriteClinical).await?;
    let pid: PatientId = patient
        .parse()
        .map_err(|_| Error::invalid("patient_id", "choose a patient"))?;
    let w = access::program_writer(app, who, s.program_id, pid, "group.enroll").await?;
    if add {
        let in_care = app
            .store
            .open_episodes(s.program_id)
            .await?
            .iter()
            .any(|e| e.patient_id == pid);
        if !in_care {
            return Err(Error::invalid(
                "patient_id",
                "only patients in care in this program can join",
            ));
        }
    }
    let r = calendar::enrollment_record(&s, pid, add, author(who, s.program_id), app.now_us())?;
    let mut tx = app.begin().await?;
    let id = tx.append_record(&w, &r).await?;
    tx.audit(
        who.event("group.enroll", Outcome::Success)
            .object(&r.kind, &id)
            .patient(pid)
            .program(s.program_id)
            .detail(if add { "add" } else { "remove" }),
    );
    tx.commit().await?;
    Ok(())
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AttendanceEntry {
    pub patient_id: String,
    /// present, late, absent, excused.
    pub status: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AttendanceInput {
    pub entries: Vec<AttendanceEntry>,
}

/// Record attendance; a changed status amends the earlier mark (both kept).
/// All or nothing: every invalid entry is reported at once and nothing is
/// written then. Returns how many marks were written.
pub async fn attendance(
    app: &App,
    who: &Principal,
    session_id: &str,
    i: &AttendanceInput,
) -> Result<usize> {
    let (s, _) = session(app, who, session_id, Permission::WriteClinical).await?;
    let (roster, _) = roster_unaudited(app, &s).await?;
    let mut p = Problems::new();
    let mut todo = vec![];
    for (k, e) in i.entries.iter().enumerate() {
        if !STATUSES.iter().any(|(x, _)| *x == e.status) {
            p.add(
                format!("entries[{k}].status"),
                "must be present, late, absent or excused",
            );
            continue;
        }
        let Ok(pid) = e.patient_id.parse::<PatientId>() else {
            p.add(format!("entries[{k}].patient_id"), "unknown patient");
            continue;
        };
        let Some((_, _, prior)) = roster.iter().find(|r| r.0 == pid) else {
            p.add(
                format!("entries[{k}].patient_id"),
                "not on this program's roster",
            );
            continue;
        };
        let _ = prior;
        todo.push((pid, e.status.clone()));
    }
    p.finish()?;
    let mut permits = vec![];
    for (pid, status) in &todo {
        let w = access::program_writer(app, who, s.program_id, *pid, "attendance.record").await?;
        permits.push((w, *pid, status.clone()));
    }
    // The batch is all or nothing, and serialized per session: concurrent
    // batches for one session take turns, each seeing the marks before it.
    let mut tx = app.begin().await?;
    tx.lock(&format!("attendance:{}", s.id)).await?;
    let mut marks: HashMap<PatientId, (String, String)> = HashMap::new();
    for r in tx.records_referring(&s.id).await? {
        if r.kind != Kind::Attendance.as_str() || !r.is_current() {
            continue;
        }
        let (p, id) = (r.patient_id, r.id.clone());
        if let Body::Attendance(b) = Entry::decode(r)?.body {
            marks.insert(p, (id, b.status));
        }
    }
    let mut written = 0;
    for (w, pid, status) in permits {
        let prior = marks.get(&pid);
        if prior.is_some_and(|(_, st)| *st == status) {
            continue;
        }
        let r =
            calendar::attendance_record(&s, pid, &status, author(who, s.program_id), app.now_us())?;
        // Each mark is a write to that patient's record: its own audit event.
        let (action, id) = match prior {
            Some((old, _)) => (
                "attendance.amend",
                tx.amend_record(&w, old, &r, "attendance corrected").await?,
            ),
            None => ("attendance.record", tx.append_record(&w, &r).await?),
        };
        tx.audit(
            who.event(action, Outcome::Success)
                .object(&r.kind, &id)
                .patient(pid)
                .program(s.program_id),
        );
        written += 1;
    }
    tx.commit().await?;
    for (pid, _) in &todo {
        crate::cm::after_evidence(app, *pid).await;
    }
    Ok(written)
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorkItem {
    pub patient_id: String,
    pub patient: String,
    /// Birth date and MRN, to tell two patients of the same name apart.
    #[serde(default)]
    pub ident: String,
    pub what: String,
    pub due_at: Option<i64>,
    /// The due time in the program's time zone, for people.
    pub due: String,
    pub overdue: bool,
    pub record_id: Option<String>,
    pub program: String,
}

#[derive(Debug, Clone, Serialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Worklist {
    /// Withdrawal entries with dangerous readings (`flowsheet::danger`) in
    /// the last 48 hours that no prescriber has signed yet.
    pub danger: Vec<WorkItem>,
    /// Admitted in the last 30 days without an intake assessment since.
    pub assessments_due: Vec<WorkItem>,
    pub cows_due: Vec<WorkItem>,
    pub to_sign: Vec<WorkItem>,
    pub to_cosign: Vec<WorkItem>,
    pub orders_to_sign: Vec<WorkItem>,
    pub plan_reviews: Vec<WorkItem>,
    pub followups: Vec<WorkItem>,
    /// Medication and dosing: verbal orders to sign (overdue past the
    /// program's window), patients the missed-dose rule sends to the
    /// prescriber, suspended take-homes, reviews and education after an
    /// overdose.
    pub dosing: Vec<WorkItem>,
    /// Drug tests of the last 30 days whose reading needs a prescriber's
    /// review (prescribers only).
    pub drug_tests: Vec<WorkItem>,
    /// Patients' portal self-reports of the last 7 days that alerted
    /// (severe withdrawal, strong craving, a very bad mood) and that nobody
    /// has acknowledged yet.
    pub self_reports: Vec<WorkItem>,
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

#[derive(Clone, Copy)]
enum List {
    Danger,
    Assess,
    Cows,
    Sign,
    Cosign,
    Order,
    Plan,
    Followup,
    Dosing,
    DrugTest,
    SelfReport,
}

/// The principal's worklist across the programs where they read clinical
/// records; audited as one event with the number of items.
pub async fn worklist(app: &App, who: &Principal) -> Result<Worklist> {
    let now = app.now_us();
    let mut w = Worklist::default();
    let programs = who.programs_with(Permission::ReadClinical);
    let all_programs = app.store.list_programs().await?;
    let find = |id: ProgramId| all_programs.iter().find(|g| g.id == id);
    let mut pending: Vec<(List, ProgramId, PatientId, WorkItem)> = vec![];
    let item = |r: &carepath_store::Record, what: String, due: Option<i64>| WorkItem {
        patient_id: r.patient_id.to_string(),
        patient: String::new(),
        ident: String::new(),
        what,
        due_at: due,
        due: String::new(),
        overdue: due.is_some_and(|d| d < now),
        record_id: Some(r.id.clone()),
        program: find(r.program_id)
            .map(|g| g.name.clone())
            .unwrap_or_default(),
    };
    // Each patient's newest assessment in any of the user's programs.
    let mut assessed: HashMap<PatientId, i64> = HashMap::new();
    for &g in &programs {
        for (pid, at, _) in app.store.latest_per_patient(g, "assessment").await? {
            let e = assessed.entry(pid).or_insert(at);
            *e = (*e).max(at);
        }
    }
    for &prog in &programs {
        let pname = find(prog).map(|g| g.name.clone()).unwrap_or_default();
        let open = app.store.open_episodes(prog).await?;
        let open_ids: HashSet<PatientId> = open.iter().map(|e| e.patient_id).collect();
        let tz = find(prog)
            .and_then(|g| parse_time_zone(&g.timezone).ok())
            .unwrap_or(jiff::tz::TimeZone::UTC);
        // Intake assessments due: recent admissions without an assessment
        // since (an assessment in the 30 days before admission counts, e.g.
        // from detox).
        for e in open.iter().filter(|e| e.admitted_at > now - 30 * DAY_US) {
            if assessed
                .get(&e.patient_id)
                .is_none_or(|at| *at < e.admitted_at - 30 * DAY_US)
            {
                pending.push((
                    List::Assess,
                    prog,
                    e.patient_id,
                    WorkItem {
                        patient_id: e.patient_id.to_string(),
                        patient: String::new(),
                        ident: String::new(),
                        what: "Intake assessment due".into(),
                        due_at: Some(e.admitted_at),
                        due: String::new(),
                        overdue: e.admitted_at < now - DAY_US,
                        record_id: None,
                        program: pname.clone(),
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
            let latest = app.store.latest_per_patient(prog, "cows").await?;
            for (pid, due) in cows_due(&wm, &latest, now + HOUR_US) {
                pending.push((
                    List::Cows,
                    prog,
                    pid,
                    WorkItem {
                        patient_id: pid.to_string(),
                        patient: String::new(),
                        ident: String::new(),
                        what: if due < now {
                            "COWS overdue".into()
                        } else {
                            "COWS due within the hour".into()
                        },
                        due_at: Some(due),
                        due: String::new(),
                        overdue: due < now,
                        record_id: None,
                        program: pname.clone(),
                    },
                ));
            }
        }
        // Dangerous readings until a prescriber signs the entry.
        for kind in [Kind::Cows, Kind::Sows] {
            for r in app
                .store
                .program_records(
                    prog,
                    kind.as_str(),
                    now - 2 * DAY_US,
                    None,
                    Pending::Unsigned,
                )
                .await?
                .into_iter()
                .filter(|r| r.sign_role.is_some())
            {
                let what = r.summary.clone();
                let at = r.occurred_at;
                let mut it = item(&r, what, Some(at));
                it.overdue = true;
                pending.push((List::Danger, prog, r.patient_id, it));
            }
        }
        // Notes and plans to sign; co-signatures (filtered in SQL).
        for kind in [Kind::Note, Kind::Plan] {
            let since = now - 90 * DAY_US;
            for r in app
                .store
                .program_records(
                    prog,
                    kind.as_str(),
                    since,
                    None,
                    Pending::UnsignedBy(who.user_id),
                )
                .await?
            {
                let what = format!("Sign: {}", r.summary);
                pending.push((List::Sign, prog, r.patient_id, item(&r, what, None)));
            }
            for r in app
                .store
                .program_records(
                    prog,
                    kind.as_str(),
                    since,
                    None,
                    Pending::CosignBy(who.user_id),
                )
                .await?
            {
                let what = format!("Co-sign: {} (by {})", r.summary, r.author_name);
                pending.push((List::Cosign, prog, r.patient_id, item(&r, what, None)));
            }
        }
        if who.holds_in(prog, Permission::OrderMedication) {
            for r in app
                .store
                .program_records(prog, "order", now - 30 * DAY_US, None, Pending::Unsigned)
                .await?
            {
                let what = format!("{} (entered by {})", r.summary, r.author_name);
                pending.push((List::Order, prog, r.patient_id, item(&r, what, None)));
            }
        }
        // Plan reviews due within a week, for patients still in care.
        for r in app
            .store
            .program_records(prog, "plan", 0, Some(now + 7 * DAY_US), Pending::All)
            .await?
        {
            if open_ids.contains(&r.patient_id) {
                pending.push((
                    List::Plan,
                    prog,
                    r.patient_id,
                    item(&r, "Treatment plan review due".into(), r.due_at),
                ));
            }
        }
        // Follow-up calls due by the end of the coming week without an
        // outcome (overdue and today's first).
        let end_of_day = clinic_day(app.now(), &tz)
            .checked_add(jiff::Span::new().days(8))
            .ok()
            .and_then(|d| d.to_zoned(tz.clone()).ok())
            .map(|z| z.timestamp().as_microsecond())
            .unwrap_or(now + 8 * DAY_US);
        for r in app
            .store
            .program_records(
                prog,
                "followup",
                now - 400 * DAY_US,
                Some(end_of_day),
                Pending::Unanswered,
            )
            .await?
        {
            let what = r.summary.clone();
            pending.push((List::Followup, prog, r.patient_id, item(&r, what, r.due_at)));
        }
    }
    for &prog in &programs {
        let pname = find(prog).map(|g| g.name.clone()).unwrap_or_default();
        let tz = find(prog)
            .and_then(|g| parse_time_zone(&g.timezone).ok())
            .unwrap_or(jiff::tz::TimeZone::UTC);
        // Portal self-reports that alerted, until someone acknowledges them.
        if who.holds_in(prog, Permission::WriteClinical) {
            for r in crate::portal::unacknowledged(app, prog, now).await? {
                pending.push((
                    List::SelfReport,
                    prog,
                    r.patient_id,
                    WorkItem {
                        patient_id: r.patient_id.to_string(),
                        patient: String::new(),
                        ident: String::new(),
                        what: format!("Self-report from the portal: {}", r.alert),
                        due_at: Some(r.reported_at),
                        due: String::new(),
                        overdue: true,
                        record_id: Some(r.id.clone()),
                        program: pname.clone(),
                    },
                ));
            }
        }
        for (pid, it) in dosing_items(app, who, prog, &pname, &tz, now).await? {
            pending.push((List::Dosing, prog, pid, it));
        }
        // Drug tests whose reading needs a prescriber (the last 30 days).
        if who.holds_in(prog, Permission::OrderMedication) {
            for v in crate::drugtest::program_needing_review(app, prog, &tz, now).await? {
                let why = v
                    .findings
                    .iter()
                    .find(|f| f.level == carepath_clinical::drugtest::Level::NeedsReview)
                    .map(|f| f.message.clone())
                    .unwrap_or_default();
                pending.push((
                    List::DrugTest,
                    prog,
                    v.test.patient_id,
                    WorkItem {
                        patient_id: v.test.patient_id.to_string(),
                        patient: String::new(),
                        ident: String::new(),
                        what: format!("Drug test {}: {} — {why}", v.collected, v.summary),
                        due_at: Some(v.test.collected_at),
                        due: String::new(),
                        overdue: false,
                        record_id: Some(v.test.id.clone()),
                        program: pname.clone(),
                    },
                ));
            }
        }
    }
    let ids: Vec<PatientId> = pending
        .iter()
        .map(|x| x.2)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let names: HashMap<PatientId, (String, String, String)> = app
        .store
        .patient_idents(&ids)
        .await?
        .into_iter()
        .map(|(id, name, dob, mrn)| (id, (name, dob, mrn)))
        .collect();
    for (list, prog, pid, mut it) in pending {
        if let Some((name, dob, mrn)) = names.get(&pid) {
            it.patient = name.clone();
            it.ident = format!("DOB {dob} · MRN {mrn}");
        }
        // Each item's time in its own program's zone (by id, not by name).
        let tz = find(prog)
            .and_then(|g| parse_time_zone(&g.timezone).ok())
            .unwrap_or(jiff::tz::TimeZone::UTC);
        it.due = it.due_at.map(|d| fmt::time(d, &tz)).unwrap_or_default();
        match list {
            List::Danger => w.danger.push(it),
            List::Assess => w.assessments_due.push(it),
            List::Cows => w.cows_due.push(it),
            List::Sign => w.to_sign.push(it),
            List::Cosign => w.to_cosign.push(it),
            List::Order => w.orders_to_sign.push(it),
            List::Plan => w.plan_reviews.push(it),
            List::Followup => w.followups.push(it),
            List::Dosing => w.dosing.push(it),
            List::DrugTest => w.drug_tests.push(it),
            List::SelfReport => w.self_reports.push(it),
        }
    }
    w.followups.sort_by_key(|i| i.due_at);
    w.assessments_due.sort_by_key(|i| i.due_at);
    w.plan_reviews.sort_by_key(|i| i.due_at);
    let rp = who.programs_with(Permission::ManageReferrals);
    if !rp.is_empty() {
        w.referrals_waiting = app
            .store
            .referrals(&rp, false)
            .await?
            .iter()
            .filter(|r| r.status == "new")
            .count() as i64;
    }
    app.audit(who.event("worklist.view", Outcome::Success).detail(format!(
        "items={}",
        w.danger.len()
            + w.cows_due.len()
            + w.assessments_due.len()
            + w.to_sign.len()
            + w.to_cosign.len()
            + w.orders_to_sign.len()
            + w.plan_reviews.len()
            + w.followups.len()
            + w.dosing.len()
            + w.drug_tests.len()
            + w.self_reports.len()
    )))
    .await?;
    Ok(w)
}

/// Census of the programs the principal sees the dashboard of: active
/// episodes now, admissions and discharges in the last 7 days. Audited.
pub async fn census(app: &App, who: &Principal) -> Result<Vec<carepath_store::CensusRow>> {
    let since = app.now_us() - 7 * DAY_US;
    let rows = app
        .store
        .census(&who.programs_with(Permission::ViewDashboard), since)
        .await?;
    app.audit(who.event("dashboard.view", Outcome::Success))
        .await?;
    Ok(rows)
}

/// One month of a program's census.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MonthRow {
    /// `2026-11`.
    pub month: String,
    /// In care at the end of the month (now, for the current month).
    pub census: i64,
    pub admissions: i64,
    pub discharges: i64,
    /// The census by level of care (its label), for a program with more
    /// than one.
    pub by_level: BTreeMap<String, i64>,
}

/// Retention: of the admissions at least `days` ago (in the period), how
/// many stayed in care at least `days` days.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Retention {
    pub days: i64,
    pub admitted: i64,
    pub retained: i64,
}

/// What a director sees of a program over the last twelve months.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Trends {
    pub program: String,
    pub months: Vec<MonthRow>,
    pub retention: Vec<Retention>,
    /// Discharges of the twelve months by reason (code, count).
    pub reasons: Vec<(String, i64)>,
    /// In care now at a bed-based level (detox, residential).
    pub in_beds: i64,
    /// Open beds as the program last published them on its finder listing.
    pub open_beds: Option<i64>,
}

/// Month-by-month figures from episodes (pure): the `n` months ending with
/// the one holding `now`, in `tz`. Retention counts admissions of the last
/// two years; a stay still open counts its days to `now`.
pub fn trends_of(
    episodes: &[carepath_store::Episode],
    now: i64,
    tz: &jiff::tz::TimeZone,
    n: usize,
) -> (Vec<MonthRow>, Vec<Retention>, Vec<(String, i64)>) {
    let month_of = |t: i64| -> (i16, i8) {
        let d = jiff::Timestamp::from_microsecond(t)
            .unwrap_or_default()
            .to_zoned(tz.clone())
            .date();
        (d.year(), d.month())
    };
    let start_of = |(y, m): (i16, i8)| -> i64 {
        jiff::civil::date(y, m, 1)
            .to_zoned(tz.clone())
            .map(|z| z.timestamp().as_microsecond())
            .unwrap_or(0)
    };
    let next = |(y, m): (i16, i8)| if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    let mut months = vec![month_of(now)];
    while months.len() < n {
        let (y, m) = months[0];
        months.insert(0, if m == 1 { (y - 1, 12) } else { (y, m - 1) });
    }
    let first = start_of(months[0]);
    let rows = months
        .iter()
        .map(|&mo| {
            let (from, to) = (start_of(mo), start_of(next(mo)).min(now + 1));
            let in_care: Vec<_> = episodes
                .iter()
                .filter(|e| e.admitted_at < to && e.discharged_at.is_none_or(|d| d >= to))
                .collect();
            let mut by_level: BTreeMap<String, i64> = BTreeMap::new();
            for e in &in_care {
                let label = e
                    .level_of_care
                    .parse::<ProgramKind>()
                    .map(|k| k.label().to_string())
                    .unwrap_or_else(|_| e.level_of_care.clone());
                *by_level.entry(label).or_default() += 1;
            }
            MonthRow {
                month: format!("{}-{:02}", mo.0, mo.1),
                census: in_care.len() as i64,
                by_level,
                admissions: episodes
                    .iter()
                    .filter(|e| e.admitted_at >= from && e.admitted_at < to)
                    .count() as i64,
                discharges: episodes
                    .iter()
                    .filter(|e| e.discharged_at.is_some_and(|d| d >= from && d < to))
                    .count() as i64,
            }
        })
        .collect();
    let two_years = now - 730 * DAY_US;
    let retention = [30, 90, 180]
        .into_iter()
        .map(|days| {
            let eligible: Vec<_> = episodes
                .iter()
                .filter(|e| e.admitted_at >= two_years && e.admitted_at <= now - days * DAY_US)
                .collect();
            let retained = eligible
                .iter()
                .filter(|e| e.discharged_at.unwrap_or(now) - e.admitted_at >= days * DAY_US)
                .count() as i64;
            Retention {
                days,
                admitted: eligible.len() as i64,
                retained,
            }
        })
        .collect();
    let mut reasons: BTreeMap<String, i64> = BTreeMap::new();
    for e in episodes {
        if e.discharged_at.is_some_and(|d| d >= first && d <= now) {
            *reasons
                .entry(
                    e.discharge_reason
                        .clone()
                        .unwrap_or_else(|| "not recorded".into()),
                )
                .or_default() += 1;
        }
    }
    let mut reasons: Vec<(String, i64)> = reasons.into_iter().collect();
    reasons.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    (rows, retention, reasons)
}

/// Twelve months of each program the principal may see the dashboard of:
/// census at each month's end, admissions and discharges by month and
/// reason, retention at 30/90/180 days, beds. Counts only; audited.
pub async fn trends(app: &App, who: &Principal) -> Result<Vec<Trends>> {
    let programs = app.store.list_programs().await?;
    let listings = app.store.program_listings().await?;
    let now = app.now_us();
    let mut out = vec![];
    for prog in who.programs_with(Permission::ViewDashboard) {
        let Some(g) = programs.iter().find(|g| g.id == prog) else {
            continue;
        };
        let tz = parse_time_zone(&g.timezone)?;
        // Two years back: retention at 180 days needs admissions that old.
        let eps = app.store.program_episodes(prog, now - 740 * DAY_US).await?;
        let (months, retention, reasons) = trends_of(&eps, now, &tz, 12);
        let in_beds = eps
            .iter()
            .filter(|e| e.discharged_at.is_none())
            .filter(|e| {
                e.level_of_care.parse::<ProgramKind>().is_ok_and(|k| {
                    matches!(
                        k,
                        ProgramKind::WithdrawalManagement | ProgramKind::Residential
                    )
                })
            })
            .count() as i64;
        out.push(Trends {
            program: g.name.clone(),
            months,
            retention,
            reasons,
            in_beds,
            open_beds: listings
                .iter()
                .find(|(id, _)| *id == prog)
                .and_then(|(_, l)| l.open_beds),
        });
    }
    app.audit(
        who.event("dashboard.trends", Outcome::Success)
            .detail(format!("programs={}", out.len())),
    )
    .await?;
    Ok(out)
}

/// Open episodes per program and level of care: (program, level label, count).
pub async fn census_by_level(app: &App, who: &Principal) -> Result<Vec<(String, String, i64)>> {
    let programs = app.store.list_programs().await?;
    let mut out = vec![];
    for prog in who.programs_with(Permission::ViewDashboard) {
        let Some(g) = programs.iter().find(|g| g.id == prog) else {
            continue;
        };
        let mut by: BTreeMap<String, i64> = BTreeMap::new();
        for e in app.store.open_episodes(prog).await? {
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
    Ok(out)
}

/// The programs of the organization (names and settings, no patient data).
pub async fn programs(app: &App) -> Result<Vec<Program>> {
    Ok(app.store.list_programs().await?)
}

pub async fn program(app: &App, id: ProgramId) -> Result<Program> {
    Ok(app.store.program(id).await?)
}

/// A program's protocol settings in force (administrators of that program).
pub async fn protocol(
    app: &App,
    who: &Principal,
    program: ProgramId,
) -> Result<(carepath_clinical::flowsheet::Protocol, (u32, u32))> {
    access::program(app, who, program, Permission::ManagePrograms).await?;
    access::program_settings(app, program).await
}

/// Check and save a program's protocol settings (administrators of that program).
pub async fn set_protocol(
    app: &App,
    who: &Principal,
    program: ProgramId,
    s: &ProgramProtocol,
) -> Result<()> {
    access::program(app, who, program, Permission::ManagePrograms).await?;
    let mut p = Problems::new();
    let mut range = |field: &'static str, v: u32, lo: u32, hi: u32| {
        if !(lo..=hi).contains(&v) {
            p.add(field, format!("must be {lo} to {hi}"));
        }
    };
    range("cows_every_h", s.cows_every_h, 1, 24);
    range("cows_severe_every_h", s.cows_severe_every_h, 1, 24);
    range("cows_severe_from", s.cows_severe_from as u32, 5, 48);
    range("followup_every_days", s.followup_every_days, 1, 90);
    range("followup_count", s.followup_count, 0, 52);
    if s.cows_severe_every_h > s.cows_every_h {
        p.add(
            "cows_severe_every_h",
            "severe withdrawal is checked at least as often as the usual interval",
        );
    }
    p.finish()?;
    let mut tx = app.begin().await?;
    tx.set_program_protocol(program, s, who.user_id).await?;
    tx.audit(
        who.event("program.protocol", Outcome::Success)
            .object("program_protocol", program)
            .program(program)
            .detail(format!(
                "cows every {} h, every {} h from {}; follow-up every {} days x {}",
                s.cows_every_h,
                s.cows_severe_every_h,
                s.cows_severe_from,
                s.followup_every_days,
                s.followup_count
            )),
    );
    tx.commit().await?;
    Ok(())
}

/// Patients in care in the session's program who are not yet on a closed
/// group's roster (to enroll), by name.
pub async fn enrollable(
    app: &App,
    who: &Principal,
    session: &CalendarSession,
    roster: &[RosterLine],
    closed: bool,
) -> Result<Vec<(PatientId, String)>> {
    access::program(app, who, session.program_id, Permission::WriteClinical).await?;
    let mut ids: Vec<PatientId> = app
        .store
        .open_episodes(session.program_id)
        .await?
        .iter()
        .map(|e| e.patient_id)
        .filter(|id| !closed || !roster.iter().any(|r| r.0 == *id))
        .collect();
    ids.sort();
    ids.dedup();
    let mut v = app.store.patient_names(&ids).await?;
    v.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(v)
}

/// The programs the principal administers, whether each has its own
/// protocol settings, and the settings in force.
#[allow(clippy::type_complexity)]
pub async fn protocols(
    app: &App,
    who: &Principal,
) -> Result<
    Vec<(
        Program,
        bool,
        (carepath_clinical::flowsheet::Protocol, (u32, u32)),
    )>,
> {
    let mine = who.programs_with(Permission::ManagePrograms);
    let mut out = vec![];
    for g in app.store.list_programs().await? {
        if !mine.contains(&g.id) {
            continue;
        }
        let own = app.store.program_protocol(g.id).await?.is_some();
        let settings = access::program_settings(app, g.id).await?;
        out.push((g, own, settings));
    }
    Ok(out)
}

/// The open episodes of a program (who is in care there now), for staff
/// of the program; audited as one event with the number of patients.
pub async fn in_care(
    app: &App,
    who: &Principal,
    program: ProgramId,
) -> Result<Vec<carepath_store::Episode>> {
    access::program(app, who, program, Permission::ReadClinical).await?;
    let v = app.store.open_episodes(program).await?;
    app.audit(
        who.event("program.in_care", Outcome::Success)
            .program(program)
            .detail(format!("patients={}", v.len())),
    )
    .await?;
    Ok(v)
}

/// The dosing desk's part of the worklist for one program (see
/// [`Worklist::dosing`]); nurses see the education item, prescribers all.
async fn dosing_items(
    app: &App,
    who: &Principal,
    prog: ProgramId,
    pname: &str,
    tz: &jiff::tz::TimeZone,
    now: i64,
) -> Result<Vec<(PatientId, WorkItem)>> {
    let mut out = vec![];
    let prescriber = who.holds_in(prog, Permission::OrderMedication);
    let item = |pid: PatientId, what: String, due: Option<i64>, overdue: bool| WorkItem {
        patient_id: pid.to_string(),
        patient: String::new(),
        ident: String::new(),
        what,
        due_at: due,
        due: String::new(),
        overdue,
        record_id: None,
        program: pname.to_string(),
    };
    let orders = app.store.program_orders(prog).await?;
    if orders.is_empty() && !prescriber {
        return Ok(out);
    }
    let today = clinic_day(app.now(), tz);
    let day = today.to_string();
    let settings = crate::takehome::settings(app, prog).await?;
    if prescriber {
        // Verbal orders naming this prescriber, until signed; overdue past
        // the program's co-signature window.
        for o in orders
            .iter()
            .filter(|o| o.verbal && !o.is_signed() && o.prescriber_id == who.user_id.to_string())
        {
            let due = o.ordered_at + settings.verbal_cosign_hours * HOUR_US;
            let mut it = item(
                o.patient_id,
                format!(
                    "Sign verbal order: {} (taken by {})",
                    crate::dosing::order_summary(o),
                    o.ordered_by_name
                ),
                Some(due),
                due < now,
            );
            // Signed from the worklist, several at once (each on its own).
            it.record_id = Some(o.id.to_string());
            out.push((o.patient_id, it));
        }
        // The missed-dose rule: who must be seen before the next dose.
        let closures: Vec<String> = app
            .store
            .closures(
                prog,
                &today
                    .checked_sub(jiff::Span::new().days(60))
                    .unwrap_or(today)
                    .to_string(),
            )
            .await?
            .into_iter()
            .map(|c| c.day)
            .collect();
        let last: HashMap<String, String> = app
            .store
            .last_dose_days(prog, &day)
            .await?
            .into_iter()
            .collect();
        let mut seen = HashSet::new();
        for o in orders.iter().rev() {
            if !seen.insert(o.patient_id) {
                continue;
            }
            let mine: Vec<carepath_store::dosing::MedOrder> = orders
                .iter()
                .filter(|x| x.patient_id == o.patient_id)
                .cloned()
                .collect();
            let Some(active) = crate::dosing::active_on(&mine, &day) else {
                continue;
            };
            let Some(l) = last.get(&o.patient_id.to_string()) else {
                continue;
            };
            // A long-acting injection: late past its due day and grace days
            // (the injection schedule), not missed clinic days.
            if let Some(k) = crate::dosing::injection_kind(active) {
                let (Ok(last_day), Ok(today)) = (l.parse(), day.parse()) else {
                    continue;
                };
                let sc =
                    clinical::injection::schedule(k, &Default::default(), Some(last_day), today);
                if sc.state == clinical::injection::State::Late {
                    out.push((
                        o.patient_id,
                        item(
                            o.patient_id,
                            format!(
                                "Injection late by {} days (due {}): see the patient",
                                sc.days_from_due.unwrap_or(0),
                                sc.due_on.map(|d| d.to_string()).unwrap_or_default()
                            ),
                            None,
                            true,
                        ),
                    ));
                }
                continue;
            }
            let missed = crate::dosing::missed_clinic_days(l, &day, &closures);
            if missed == 0 {
                continue;
            }
            let needs = if active.medication == "methadone" {
                clinical::methadone::missed(&clinical::methadone::MissedInput {
                    consecutive_missed_days: missed,
                    usual_dose_mg: active.dose_ug as f64 / 1000.0,
                    intoxicated: false,
                    schedule: None,
                })
                .map(|r| r.needs_prescriber.then_some(r.rule))
                .unwrap_or(None)
            } else {
                (missed >= 3).then(|| format!("{missed} days missed: assess before the next dose"))
            };
            if let Some(rule) = needs {
                out.push((
                    o.patient_id,
                    item(
                        o.patient_id,
                        format!("Missed doses ({missed} days): {rule}"),
                        None,
                        true,
                    ),
                ));
            }
        }
        for g in app.store.latest_grants(prog).await? {
            if let Some(r) = &g.suspended_reason {
                out.push((
                    g.patient_id,
                    item(
                        g.patient_id,
                        format!("Take-homes suspended — decide again: {r}"),
                        Some(g.decided_at),
                        false,
                    ),
                ));
            }
        }
    }
    // After an overdose: the prescriber's review (a new order or take-home
    // decision since), and education with a naloxone kit (any clinician).
    for od in app.store.program_overdoses(prog, now - 30 * DAY_US).await? {
        if prescriber {
            let reviewed = orders
                .iter()
                .any(|o| o.patient_id == od.patient_id && o.ordered_at > od.recorded_at)
                || app
                    .store
                    .takehome_grants(od.patient_id)
                    .await?
                    .iter()
                    .any(|g| g.decided_at > od.recorded_at);
            if !reviewed {
                out.push((
                    od.patient_id,
                    item(
                        od.patient_id,
                        "Review after an overdose: the order and take-homes".into(),
                        Some(od.occurred_at),
                        true,
                    ),
                ));
            }
        }
        let educated = app
            .store
            .patient_kits(od.patient_id)
            .await?
            .iter()
            .any(|k| k.education && k.handed_at > od.occurred_at);
        if !educated {
            out.push((
                od.patient_id,
                item(
                    od.patient_id,
                    "Overdose-risk education and a naloxone kit after an overdose".into(),
                    Some(od.occurred_at),
                    true,
                ),
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(p: PatientId, at: i64, add: bool) -> (PatientId, i64, EnrollmentBody) {
        (
            p,
            at,
            EnrollmentBody {
                v: 1,
                action: if add {
                    Membership::Add
                } else {
                    Membership::Remove
                },
                group: String::new(),
                series_id: None,
            },
        )
    }

    #[test]
    fn enrollment_follows_the_newest_record_per_patient() {
        let a = PatientId::new();
        let b = PatientId::new();
        assert_eq!(enrolled(&[]), None, "never enrolled: an open group");
        let v = enrolled(&[member(a, 1, true), member(b, 2, true), member(a, 3, false)]).unwrap();
        assert_eq!(v, vec![b]);
        let v = enrolled(&[member(a, 1, true), member(a, 2, false), member(a, 4, true)]).unwrap();
        assert_eq!(v, vec![a]);
        assert_eq!(
            enrolled(&[member(a, 1, true), member(a, 2, false)]),
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

#[cfg(test)]
mod trends_tests {
    use super::*;
    use carepath_domain::ids::{EpisodeId, PatientId, ProgramId};

    fn ep(admit_day: i64, out_day: Option<i64>, reason: Option<&str>) -> carepath_store::Episode {
        carepath_store::Episode {
            id: EpisodeId::new(),
            patient_id: PatientId::new(),
            program_id: ProgramId::new(),
            level_of_care: "outpatient".into(),
            admitted_at: admit_day * DAY_US,
            discharged_at: out_day.map(|d| d * DAY_US),
            discharge_reason: reason.map(str::to_string),
        }
    }

    #[test]
    fn months_retention_and_reasons_from_episodes() {
        let tz = jiff::tz::TimeZone::UTC;
        // Day 0 = 1970-01-01; "now" is day 400 (1971-02-05).
        let now = 400 * DAY_US;
        let eps = vec![
            ep(10, None, None),                    // in care 390 days
            ep(200, Some(220), Some("dropout")),   // 20 days
            ep(250, Some(350), Some("completed")), // 100 days
            ep(398, None, None),                   // too new for 30-day retention
        ];
        let (months, retention, reasons) = trends_of(&eps, now, &tz, 12);
        assert_eq!(months.len(), 12);
        assert_eq!(months[11].month, "1971-02");
        assert_eq!(months[0].month, "1970-03");
        assert_eq!(months[11].census, 2, "now: the first and the last");
        assert_eq!(
            months[11].by_level.values().sum::<i64>(),
            2,
            "{:?}",
            months[11].by_level
        );
        assert_eq!(months[11].admissions, 1);
        // Day 350 is 1970-12-17: one discharge in December.
        let dec = months.iter().find(|m| m.month == "1970-12").unwrap();
        assert_eq!((dec.discharges, dec.census), (1, 1));
        assert_eq!(
            retention[0],
            Retention {
                days: 30,
                admitted: 3,
                retained: 2
            }
        );
        assert_eq!(
            retention[1],
            Retention {
                days: 90,
                admitted: 3,
                retained: 2
            }
        );
        assert_eq!(
            retention[2],
            Retention {
                days: 180,
                admitted: 2,
                retained: 1
            }
        );
        assert_eq!(reasons.len(), 2);
    }
}
