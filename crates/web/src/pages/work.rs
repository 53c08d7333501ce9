//! Worklist, calendar and session attendance pages.

use crate::AppState;
use crate::auth::Principal;
use crate::error::{AppError, HtmlResult, field_errors};
use crate::pages::forms::{Builder, FormPage, Values};
use crate::views::{Nav, fmt_time, render};
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use carepath_app::kinds::calendar::{MODALITIES, SESSION_KINDS, STATUSES, label};
use carepath_app::model::ProgramProtocol;
use carepath_app::work;
use carepath_domain::FieldError;
use carepath_domain::authz::{Permission, Role};
use carepath_domain::ids::ProgramId;
use carepath_domain::program::parse_time_zone;
use serde::Deserialize;

pub struct Item {
    pub patient_id: String,
    pub patient: String,
    pub ident: String,
    pub what: String,
    pub due: String,
    pub overdue: bool,
    pub record_id: String,
    pub program: String,
}

#[derive(Template)]
#[template(path = "worklist.html")]
struct WorklistPage {
    nav: Nav,
    title: String,
    message: Option<String>,
    sections: Vec<(String, String, Vec<Item>, &'static str)>,
    referrals: i64,
    /// Verbal dosing orders waiting for this prescriber's signature.
    verbal: usize,
}

#[derive(Deserialize, Default)]
pub struct WorklistQuery {
    #[serde(default)]
    done: String,
    #[serde(default)]
    sig: String,
}

/// The non-empty values posted under `key`.
fn posted(pairs: Vec<(String, String)>, key: &str) -> Vec<String> {
    pairs
        .into_iter()
        .filter(|(k, v)| k == key && !v.is_empty())
        .map(|(_, v)| v)
        .collect()
}

/// Sign each of `ids` on its own with `sign`, then back to the worklist
/// saying how many were signed and why the others were not.
async fn sign_each<F, Fut>(ids: &[String], what: &str, sign: F) -> HtmlResult<Response>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<(), AppError>>,
{
    let (mut signed, mut refused) = (0, vec![]);
    for id in ids {
        match sign(id.clone()).await {
            Ok(()) => signed += 1,
            Err(e @ (AppError::Forbidden(_) | AppError::Conflict(_) | AppError::NotFound)) => {
                refused.push(e.to_string())
            }
            Err(e) => return Err(e.into()),
        }
    }
    let mut text = if ids.is_empty() {
        "Nothing was selected.".to_string()
    } else {
        format!("Signed {signed} of {}{what}.", ids.len())
    };
    if !refused.is_empty() {
        refused.sort();
        refused.dedup();
        text.push_str(&format!(" Not signed: {}", refused.join("; ")));
    }
    let q = crate::flash::query("done", &text);
    Ok(Redirect::to(&format!("/worklist?{q}")).into_response())
}

/// Sign several entries from the worklist (a prescriber's orders, an
/// author's notes and plans): each is signed on its own through the same
/// service as from the chart; what could not be signed is said.
pub async fn sign_batch(
    State(state): State<AppState>,
    p: Principal,
    Form(pairs): Form<Vec<(String, String)>>,
) -> HtmlResult<Response> {
    let (app, who) = (&state.app, &p);
    sign_each(&posted(pairs, "rid"), "", |rid| async move {
        carepath_app::chart::sign(app, who, &rid, &Default::default()).await
    })
    .await
}

/// `POST /worklist/sign-orders`: the prescriber signs several verbal dosing
/// orders at once; each is signed on its own through the same path as from
/// the patient's dosing page (only the prescriber the order names may).
pub async fn sign_orders_batch(
    State(state): State<AppState>,
    p: Principal,
    Form(pairs): Form<Vec<(String, String)>>,
) -> HtmlResult<Response> {
    let (app, who) = (&state.app, &p);
    sign_each(&posted(pairs, "oid"), " verbal order(s)", |id| async move {
        carepath_app::dosing::sign_order(app, who, &id).await
    })
    .await
}

pub async fn worklist(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<WorklistQuery>,
) -> HtmlResult<Response> {
    let w = work::worklist(&state.app, &p).await?;
    let conv = |v: Vec<work::WorkItem>| -> Vec<Item> {
        v.into_iter()
            .map(|i| Item {
                patient_id: i.patient_id,
                patient: i.patient,
                ident: i.ident,
                what: i.what,
                due: i.due,
                overdue: i.overdue,
                record_id: i.record_id.unwrap_or_default(),
                program: i.program,
            })
            .collect()
    };
    let mut sections = vec![
        (
            "danger".into(),
            "Notify the prescriber now".into(),
            conv(w.danger),
            "withdrawal",
        ),
        (
            "selfreports".into(),
            "Patients' check-ins that need a call".into(),
            conv(w.self_reports),
            "portal",
        ),
        (
            "assess".into(),
            "Intake assessments due".into(),
            conv(w.assessments_due),
            "assessment",
        ),
        (
            "cows".into(),
            "COWS checks due".into(),
            conv(w.cows_due),
            "withdrawal",
        ),
        (
            "orders".into(),
            "Orders to sign".into(),
            conv(w.orders_to_sign),
            "orders",
        ),
        (
            "sign".into(),
            "Notes and plans to sign".into(),
            conv(w.to_sign),
            "notes",
        ),
        (
            "cosign".into(),
            "Co-signatures".into(),
            conv(w.to_cosign),
            "notes",
        ),
        (
            "plans".into(),
            "Treatment-plan reviews due".into(),
            conv(w.plan_reviews),
            "plan",
        ),
        (
            "followups".into(),
            "Follow-up calls this week".into(),
            conv(w.followups),
            "aftercare",
        ),
        (
            "dosing".into(),
            "Medication and dosing".into(),
            conv(w.dosing),
            "dose",
        ),
        (
            "drugtests".into(),
            "Drug tests to review".into(),
            conv(w.drug_tests),
            "drugtest",
        ),
    ];
    // Only prescribers sign orders and review drug tests; the empty
    // sections would only be noise for others.
    if !p.can(Permission::OrderMedication) {
        sections
            .retain(|s: &(String, String, Vec<Item>, &str)| s.0 != "orders" && s.0 != "drugtests");
    }
    // Each role's own work first: counselors their notes and plans, intake and
    // front desk their calls; nurses and prescribers keep the bedside order.
    let roles = p.roles();
    let first: &[&str] = if roles.contains(&Role::Prescriber) || roles.contains(&Role::Nurse) {
        &[]
    } else if roles.contains(&Role::Counselor) {
        &["sign", "cosign", "plans"]
    } else {
        &["assess", "followups"]
    };
    sections.sort_by_key(|s| first.iter().position(|f| *f == s.0).unwrap_or(first.len()));
    // Danger comes first for everyone, and only when there is some.
    // So do patients' alarming check-ins, right after, when there are some.
    sections.retain(|s| (s.0 != "danger" && s.0 != "selfreports") || !s.2.is_empty());
    sections.sort_by_key(|s| match s.0.as_str() {
        "danger" => 0,
        "selfreports" => 1,
        _ => 2,
    });
    let verbal = sections
        .iter()
        .filter(|s| s.0 == "dosing")
        .flat_map(|s| s.2.iter())
        .filter(|i| !i.record_id.is_empty())
        .count();
    Ok(render(&WorklistPage {
        nav: Nav::for_principal(&p),
        title: "Worklist".into(),
        message: crate::flash::read(&q.done, &q.sig),
        sections,
        referrals: w.referrals_waiting,
        verbal,
    })
    .into_response())
}

pub struct Day {
    pub label: String,
    pub sessions: Vec<(String, String, String, String, String)>,
}

#[derive(Template)]
#[template(path = "calendar.html")]
struct CalendarPage {
    nav: Nav,
    title: String,
    programs: Vec<(String, String, Vec<Day>)>,
    prev: String,
    next: String,
    can_schedule: bool,
}

#[derive(Deserialize, Default)]
pub struct WeekQuery {
    #[serde(default)]
    from: String,
}

pub async fn calendar(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<WeekQuery>,
) -> HtmlResult<Response> {
    let all = work::programs(&state.app).await?;
    let mine = p.programs_with(Permission::ReadClinical);
    let mut programs = vec![];
    let mut first_day = None;
    for g in all.iter().filter(|g| mine.contains(&g.id)) {
        let tz = parse_time_zone(&g.timezone)?;
        let (from, to) = work::range(&state.app, g.id, Some(&q.from), 7).await?;
        let day0 = jiff::Timestamp::from_microsecond(from)
            .map(|t| t.to_zoned(tz.clone()).date())
            .map_err(|_| AppError::NotFound)?;
        first_day.get_or_insert(day0);
        let sessions = work::sessions(&state.app, &p, g.id, from, to).await?;
        let mut days = vec![];
        for k in 0..7 {
            let d = day0
                .checked_add(jiff::Span::new().days(k))
                .map_err(|_| AppError::NotFound)?;
            let list = sessions
                .iter()
                .filter(|s| {
                    jiff::Timestamp::from_microsecond(s.starts_at)
                        .map(|t| t.to_zoned(tz.clone()).date() == d)
                        .unwrap_or(false)
                })
                .map(|s| {
                    let t = jiff::Timestamp::from_microsecond(s.starts_at)
                        .map(|t| t.to_zoned(tz.clone()).strftime("%H:%M").to_string())
                        .unwrap_or_default();
                    (
                        s.id.clone(),
                        t,
                        s.title.clone(),
                        format!(
                            "{} · {} · {} min",
                            label(&SESSION_KINDS, &s.kind),
                            label(&MODALITIES, &s.modality),
                            s.minutes
                        ),
                        s.location.clone(),
                    )
                })
                .collect();
            days.push(Day {
                label: d.strftime("%a %b %-d").to_string(),
                sessions: list,
            });
        }
        programs.push((g.id.to_string(), g.name.clone(), days));
    }
    let d = first_day.unwrap_or_else(|| state.app.now().to_zoned(jiff::tz::TimeZone::UTC).date());
    let shift = |n: i64| {
        d.checked_add(jiff::Span::new().days(n))
            .map(|x| x.to_string())
            .unwrap_or_default()
    };
    Ok(render(&CalendarPage {
        nav: Nav::for_principal(&p),
        title: "Calendar".into(),
        programs,
        prev: shift(-7),
        next: shift(7),
        can_schedule: p.can(Permission::WriteClinical),
    })
    .into_response())
}

async fn schedule_page(
    state: &AppState,
    p: &Principal,
    v: &Values,
    errs: &[FieldError],
) -> Result<Response, AppError> {
    let mine = p.programs_with(Permission::WriteClinical);
    let programs: Vec<(String, String)> = work::programs(&state.app)
        .await?
        .into_iter()
        .filter(|g| mine.contains(&g.id))
        .map(|g| (g.id.to_string(), g.name))
        .collect();
    let mut b = Builder::new(v, errs);
    b.select("program_id", "Program", programs);
    b.radio("kind", "Kind", SESSION_KINDS);
    b.text("title", "Title").required();
    b.select("modality", "Modality or activity", MODALITIES);
    b.date("start_date", "First day").required();
    b.time("time", "Start time").required();
    b.number("minutes", "Length (minutes)", "5")
        .hint("IOP: 180–360 minutes a day");
    b.checks(
        "weekdays",
        "Repeat on",
        [
            ("1", "Monday"),
            ("2", "Tuesday"),
            ("3", "Wednesday"),
            ("4", "Thursday"),
            ("5", "Friday"),
            ("6", "Saturday"),
            ("7", "Sunday"),
        ],
    );
    b.number("weeks", "For how many weeks", "1");
    b.text("location", "Room or place");
    let mut page = FormPage::new(p, "Schedule a session", "/calendar");
    page.back = Some(("/calendar".into(), "Back to the calendar".into()));
    page.fields = b.fields;
    page.submit = "Schedule".into();
    Ok(page.with_errors(errs).respond())
}

pub async fn schedule_form(State(state): State<AppState>, p: Principal) -> HtmlResult<Response> {
    let mut v = Values::default();
    v.set("kind", "group");
    v.set("minutes", "90");
    v.set("weeks", "1");
    v.set(
        "start_date",
        state
            .app
            .now()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date()
            .to_string(),
    );
    v.set("time", "10:00");
    Ok(schedule_page(&state, &p, &v, &[]).await?)
}

pub async fn schedule_submit(
    State(state): State<AppState>,
    p: Principal,
    Form(pairs): Form<Vec<(String, String)>>,
) -> HtmlResult<Response> {
    let v = Values(pairs);
    let r = async {
        let program: ProgramId = v
            .get("program_id")
            .parse()
            .map_err(|_| AppError::invalid("program_id", "choose a program"))?;
        let i: work::SeriesInput = crate::form::parse(&v.0, &["program_id"])?;
        work::schedule(&state.app, &p, program, &i).await
    }
    .await;
    match r {
        Ok(_) => {
            Ok(Redirect::to(&format!("/calendar?from={}", v.get("start_date"))).into_response())
        }
        Err(e) => Ok(schedule_page(&state, &p, &v, &field_errors(e)?).await?),
    }
}

pub struct RosterRow {
    pub patient_id: String,
    pub name: String,
    pub status: String,
}

#[derive(Template)]
#[template(path = "session.html")]
struct SessionPage {
    nav: Nav,
    title: String,
    id: String,
    when: String,
    detail: String,
    rows: Vec<RosterRow>,
    statuses: Vec<(&'static str, &'static str)>,
    can_write: bool,
    saved: bool,
    closed: bool,
    others: Vec<(String, String)>,
}

#[derive(Deserialize, Default)]
pub struct SavedQuery {
    #[serde(default)]
    saved: String,
}

pub async fn session(
    State(state): State<AppState>,
    p: Principal,
    Path(sid): Path<String>,
    Query(q): Query<SavedQuery>,
) -> HtmlResult<Response> {
    let (s, program) = work::session(&state.app, &p, &sid, Permission::ReadClinical).await?;
    let tz = parse_time_zone(&program.timezone)?;
    let can_write = p.holds_in(s.program_id, Permission::WriteClinical);
    let (roster, closed) = work::roster(&state.app, &p, &s).await?;
    // Patients in care who are not on a closed group's roster, to enroll.
    let others: Vec<(String, String)> = if can_write {
        work::enrollable(&state.app, &p, &s, &roster, closed)
            .await?
            .into_iter()
            .map(|(id, n)| (id.to_string(), n))
            .collect()
    } else {
        vec![]
    };
    let rows = roster
        .into_iter()
        .map(|(id, name, rec)| RosterRow {
            patient_id: id.to_string(),
            name,
            status: rec.map(|(_, b)| b.status).unwrap_or_default(),
        })
        .collect();
    Ok(render(&SessionPage {
        nav: Nav::for_principal(&p),
        title: s.title.clone(),
        id: s.id.clone(),
        when: format!("{} · {} min", fmt_time(s.starts_at, &tz), s.minutes),
        detail: format!(
            "{} · {}{}",
            label(&SESSION_KINDS, &s.kind),
            label(&MODALITIES, &s.modality),
            if s.location.is_empty() {
                String::new()
            } else {
                format!(" · {}", s.location)
            }
        ),
        rows,
        statuses: STATUSES.to_vec(),
        can_write,
        saved: q.saved == "1",
        closed,
        others,
    })
    .into_response())
}

pub async fn session_submit(
    State(state): State<AppState>,
    p: Principal,
    Path(sid): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> HtmlResult<Response> {
    let entries = pairs
        .into_iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("status.").map(|id| work::AttendanceEntry {
                patient_id: id.to_string(),
                status: v,
            })
        })
        .filter(|e| !e.status.is_empty())
        .collect();
    work::attendance(&state.app, &p, &sid, &work::AttendanceInput { entries }).await?;
    Ok(Redirect::to(&format!("/sessions/{sid}?saved=1")).into_response())
}

/// Enroll a patient in the session's group, or take them off it.
pub async fn enroll(
    State(state): State<AppState>,
    p: Principal,
    Path(sid): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> HtmlResult<Response> {
    let v = Values(pairs);
    work::enroll(
        &state.app,
        &p,
        &sid,
        v.get("patient_id"),
        v.get("action") != "remove",
    )
    .await?;
    Ok(Redirect::to(&format!("/sessions/{sid}")).into_response())
}

#[derive(Template)]
#[template(path = "programs.html")]
struct ProgramsPage {
    nav: Nav,
    title: String,
    rows: Vec<(String, String, String, String, bool)>,
    /// Each program's random drug-testing policy, in words.
    testing: Vec<String>,
}

/// Programs and their protocol settings (administrators).
pub async fn programs(State(state): State<AppState>, p: Principal) -> HtmlResult<Response> {
    let mut rows = vec![];
    let mut testing = vec![];
    for (g, own, (proto, follow)) in work::protocols(&state.app, &p).await? {
        let t = carepath_app::drugtest::policy(&state.app, g.id).await?;
        testing.push(format!(
            "{} a month for the first {} days, then {} (at least {} a year)",
            t.early_per_block,
            t.early_days,
            t.steady(),
            t.min_per_year
        ));
        rows.push((
            g.id.to_string(),
            g.name,
            format!(
                "every {} h; every {} h from a score of {}",
                proto.every_h, proto.severe_every_h, proto.severe_from
            ),
            format!("every {} days, {} calls", follow.0, follow.1),
            own,
        ));
    }
    Ok(render(&ProgramsPage {
        nav: Nav::for_principal(&p),
        title: "Programs".into(),
        rows,
        testing,
    })
    .into_response())
}

fn protocol_page(
    p: &Principal,
    pid: &str,
    name: &str,
    v: &Values,
    errs: &[FieldError],
) -> Response {
    let mut b = Builder::new(v, errs);
    b.heading("Withdrawal flowsheet");
    b.number("cows_every_h", "COWS every (hours)", "1")
        .required();
    b.number("cows_severe_every_h", "…when severe, every (hours)", "1")
        .required();
    b.number("cows_severe_from", "Severe from a COWS score of", "1")
        .required()
        .hint("25 is the start of the moderately severe band (Wesson & Ling 2003).");
    b.heading("Follow-up calls after discharge");
    b.number("followup_every_days", "Every (days)", "1")
        .required();
    b.number("followup_count", "Number of calls", "1")
        .required();
    let mut page = FormPage::new(
        p,
        format!("Protocol: {name}"),
        format!("/programs/{pid}/protocol"),
    );
    page.back = Some(("/programs".into(), "Back to the programs".into()));
    page.fields = b.fields;
    page.submit = "Save settings".into();
    page.with_errors(errs).respond()
}

pub async fn protocol_form(
    State(state): State<AppState>,
    p: Principal,
    Path(pid): Path<String>,
) -> HtmlResult<Response> {
    let program: ProgramId = pid.parse().map_err(|_| AppError::NotFound)?;
    let (proto, follow) = work::protocol(&state.app, &p, program).await?;
    let g = work::program(&state.app, program).await?;
    let mut v = Values::default();
    v.set("cows_every_h", proto.every_h.to_string());
    v.set("cows_severe_every_h", proto.severe_every_h.to_string());
    v.set("cows_severe_from", proto.severe_from.to_string());
    v.set("followup_every_days", follow.0.to_string());
    v.set("followup_count", follow.1.to_string());
    Ok(protocol_page(&p, &pid, &g.name, &v, &[]))
}

pub async fn protocol_submit(
    State(state): State<AppState>,
    p: Principal,
    Path(pid): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> HtmlResult<Response> {
    let program: ProgramId = pid.parse().map_err(|_| AppError::NotFound)?;
    work::protocol(&state.app, &p, program).await?;
    let g = work::program(&state.app, program).await?;
    let v = Values(pairs);
    let r = async {
        let s: ProgramProtocol = crate::form::parse(&v.0, &[])?;
        work::set_protocol(&state.app, &p, program, &s).await
    }
    .await;
    match r {
        Ok(()) => Ok(Redirect::to("/programs").into_response()),
        Err(e) => Ok(protocol_page(&p, &pid, &g.name, &v, &field_errors(e)?)),
    }
}

fn testing_page(p: &Principal, pid: &str, name: &str, v: &Values, errs: &[FieldError]) -> Response {
    let mut b = Builder::new(v, errs);
    b.heading("Random drug tests (30-day blocks from admission)");
    b.number("early_days", "Early treatment lasts (days)", "1")
        .required();
    b.number(
        "early_per_block",
        "Random tests per 30 days in early treatment",
        "1",
    )
    .required();
    b.number("per_block", "Random tests per 30 days after that", "1")
        .required();
    b.number("min_per_year", "At least this many in any 365 days", "1")
        .required()
        .hint("8 is the federal minimum for patients in maintenance treatment (42 CFR § 8.12(f)(6)); a state may require more.");
    let mut page = FormPage::new(
        p,
        format!("Drug testing: {name}"),
        format!("/programs/{pid}/testing"),
    );
    page.back = Some(("/programs".into(), "Back to the programs".into()));
    page.fields = b.fields;
    page.submit = "Save the policy".into();
    page.with_errors(errs).respond()
}

pub async fn testing_form(
    State(state): State<AppState>,
    p: Principal,
    Path(pid): Path<String>,
) -> HtmlResult<Response> {
    let program: ProgramId = pid.parse().map_err(|_| AppError::NotFound)?;
    work::protocol(&state.app, &p, program).await?;
    let g = work::program(&state.app, program).await?;
    let t = carepath_app::drugtest::policy(&state.app, program).await?;
    let mut v = Values::default();
    v.set("early_days", t.early_days.to_string());
    v.set("early_per_block", t.early_per_block.to_string());
    v.set("per_block", t.per_block.to_string());
    v.set("min_per_year", t.min_per_year.to_string());
    Ok(testing_page(&p, &pid, &g.name, &v, &[]))
}

pub async fn testing_submit(
    State(state): State<AppState>,
    p: Principal,
    Path(pid): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> HtmlResult<Response> {
    let program: ProgramId = pid.parse().map_err(|_| AppError::NotFound)?;
    work::protocol(&state.app, &p, program).await?;
    let g = work::program(&state.app, program).await?;
    let v = Values(pairs);
    let r = async {
        let s: carepath_clinical::drugtest::RandomPolicy = crate::form::parse(&v.0, &[])?;
        carepath_app::drugtest::set_policy(&state.app, &p, program, &s).await
    }
    .await;
    match r {
        Ok(_) => Ok(Redirect::to("/programs").into_response()),
        Err(e) => Ok(testing_page(&p, &pid, &g.name, &v, &field_errors(e)?)),
    }
}
