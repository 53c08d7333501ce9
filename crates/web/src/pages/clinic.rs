//! Dashboard, patient search, registration, the chart shell, emergency access.

use crate::AppState;
use crate::auth::Principal;
use crate::error::{AppError, HtmlResult};
use crate::pages::dosing::{csv_download, on_error, pick, programs_where};
use crate::views::{Nav, fmt_time, render};
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use carepath_app::access::{self, Basis};
use carepath_app::model::{CensusRow, PatientSearch};
use carepath_app::registration::{self, Registration};
use carepath_app::{intake, teds, work};
use carepath_domain::FieldError;
use carepath_domain::authz::Permission;
use carepath_domain::ids::{PatientId, ProgramId};
use carepath_domain::patient::Sex;
use carepath_domain::program::{ProgramKind, clinic_day, parse_time_zone};
use serde::Deserialize;
use std::collections::BTreeMap;

pub struct KindTotal {
    pub label: &'static str,
    pub active: i64,
    pub admissions: i64,
    pub discharges: i64,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    nav: Nav,
    title: String,
    by_kind: Vec<KindTotal>,
    rows: Vec<CensusRow>,
    by_level: Vec<(String, String, i64)>,
    trends: Vec<TrendView>,
}

/// One program's twelve months, as charts and the tables that say the same.
pub struct TrendView {
    pub t: carepath_app::work::Trends,
    pub census: crate::charts::Chart,
    pub flow: crate::charts::Chart,
    /// (days, "12 of 20", "60%").
    pub retention: Vec<(i64, String, String)>,
    /// The census by level of care, when the program has more than one.
    pub levels: Option<Levels>,
}

/// The census by level of care: the chart, the levels, and each month's
/// counts in that order.
pub struct Levels {
    pub chart: crate::charts::Chart,
    pub names: Vec<String>,
    pub rows: Vec<(String, Vec<i64>)>,
}

fn trend_view(i: usize, t: carepath_app::work::Trends) -> TrendView {
    let short = |m: &str| m.get(2..).unwrap_or(m).to_string();
    let census_groups: Vec<(String, Vec<i64>)> = t
        .months
        .iter()
        .map(|m| (short(&m.month), vec![m.census]))
        .collect();
    let flow_groups: Vec<(String, Vec<i64>)> = t
        .months
        .iter()
        .map(|m| (short(&m.month), vec![m.admissions, m.discharges]))
        .collect();
    let (first, last) = (t.months.first(), t.months.last());
    let census_desc = match (first, last) {
        (Some(a), Some(b)) => format!(
            "In care at the end of each month: {} at the end of {}, {} now ({}).",
            a.census, a.month, b.census, b.month
        ),
        _ => "No months.".into(),
    };
    let (adm, dis): (i64, i64) = t.months.iter().fold((0, 0), |acc, m| {
        (acc.0 + m.admissions, acc.1 + m.discharges)
    });
    let flow_desc = format!(
        "{adm} admissions and {dis} discharges over the twelve months; the table below gives each month."
    );
    let census = crate::charts::bars(
        &format!("census-{i}"),
        &format!("{}: in care at each month's end", t.program),
        census_desc,
        &["in care"],
        &census_groups,
    );
    let flow = crate::charts::bars(
        &format!("flow-{i}"),
        &format!("{}: admissions and discharges by month", t.program),
        flow_desc,
        &["admitted", "discharged"],
        &flow_groups,
    );
    let retention = t
        .retention
        .iter()
        .map(|r| {
            (
                r.days,
                format!("{} of {}", r.retained, r.admitted),
                if r.admitted > 0 {
                    format!("{:.0}%", 100.0 * r.retained as f64 / r.admitted as f64)
                } else {
                    "—".into()
                },
            )
        })
        .collect();
    let names: Vec<String> = t
        .months
        .iter()
        .flat_map(|m| m.by_level.keys().cloned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let levels = (names.len() > 1).then(|| {
        let rows: Vec<(String, Vec<i64>)> = t
            .months
            .iter()
            .map(|m| {
                (
                    m.month.clone(),
                    names
                        .iter()
                        .map(|n| m.by_level.get(n).copied().unwrap_or(0))
                        .collect(),
                )
            })
            .collect();
        let now = rows.last().map(|r| r.1.clone()).unwrap_or_default();
        let desc = format!(
            "In care now: {}.",
            names
                .iter()
                .zip(&now)
                .map(|(n, c)| format!("{c} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let series: Vec<&str> = names.iter().map(String::as_str).collect();
        let groups: Vec<(String, Vec<i64>)> =
            rows.iter().map(|(m, v)| (short(m), v.clone())).collect();
        let chart = crate::charts::bars(
            &format!("levels-{i}"),
            &format!(
                "{}: in care at each month's end by level of care",
                t.program
            ),
            desc,
            &series,
            &groups,
        );
        Levels {
            chart,
            names: names.clone(),
            rows,
        }
    });
    TrendView {
        t,
        census,
        flow,
        retention,
        levels,
    }
}

/// Census totals per program type.
pub fn by_kind(rows: &[CensusRow]) -> Vec<KindTotal> {
    let mut m: BTreeMap<ProgramKind, KindTotal> = BTreeMap::new();
    for r in rows {
        let Ok(k) = r.kind.parse::<ProgramKind>() else {
            continue;
        };
        let t = m.entry(k).or_insert(KindTotal {
            label: k.label(),
            active: 0,
            admissions: 0,
            discharges: 0,
        });
        t.active += r.active;
        t.admissions += r.admissions;
        t.discharges += r.discharges;
    }
    m.into_values().collect()
}

pub async fn dashboard(State(state): State<AppState>, p: Principal) -> HtmlResult<Response> {
    let mut rows = work::census(&state.app, &p).await?;
    let totals = by_kind(&rows);
    for r in &mut rows {
        if let Ok(k) = r.kind.parse::<ProgramKind>() {
            r.kind = k.label().to_string();
        }
    }
    Ok(render(&DashboardPage {
        nav: Nav::for_principal(&p),
        title: "Dashboard".into(),
        by_kind: totals,
        rows,
        by_level: work::census_by_level(&state.app, &p).await?,
        trends: work::trends(&state.app, &p)
            .await?
            .into_iter()
            .enumerate()
            .map(|(i, t)| trend_view(i, t))
            .collect(),
    })
    .into_response())
}

#[derive(Deserialize)]
pub struct CsvQuery {
    /// `months` (census, admissions, discharges), `levels` (census by level
    /// of care), `retention` or `reasons`.
    table: String,
}

/// `GET /dashboard.csv?table=`: the dashboard's twelve-month tables as CSV,
/// one row per program and month (or retention period, or discharge
/// reason) — what the charts draw, for a spreadsheet. Program-scoped and
/// audited as the dashboard is (`work::trends`).
pub async fn dashboard_csv(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<CsvQuery>,
) -> HtmlResult<Response> {
    let trends = work::trends(&state.app, &p).await?;
    let mut w = csv::Writer::from_writer(vec![]);
    let mut row = |cells: &[&str]| {
        w.write_record(cells)
            .map_err(|e| AppError::Internal(e.to_string()))
    };
    match q.table.as_str() {
        "months" => {
            row(&[
                "program",
                "month",
                "in_care_at_month_end",
                "admissions",
                "discharges",
            ])?;
            for t in &trends {
                for m in &t.months {
                    row(&[
                        &t.program,
                        &m.month,
                        &m.census.to_string(),
                        &m.admissions.to_string(),
                        &m.discharges.to_string(),
                    ])?;
                }
            }
        }
        "retention" => {
            row(&[
                "program",
                "days",
                "admitted",
                "retained",
                "retained_percent",
            ])?;
            for t in &trends {
                for r in &t.retention {
                    let pct = if r.admitted > 0 {
                        format!("{:.1}", 100.0 * r.retained as f64 / r.admitted as f64)
                    } else {
                        String::new()
                    };
                    row(&[
                        &t.program,
                        &r.days.to_string(),
                        &r.admitted.to_string(),
                        &r.retained.to_string(),
                        &pct,
                    ])?;
                }
            }
        }
        "levels" => {
            row(&["program", "month", "level_of_care", "in_care_at_month_end"])?;
            for t in &trends {
                for m in &t.months {
                    for (level, n) in &m.by_level {
                        row(&[&t.program, &m.month, level, &n.to_string()])?;
                    }
                }
            }
        }
        "reasons" => {
            row(&["program", "discharge_reason", "discharges"])?;
            for t in &trends {
                for (reason, n) in &t.reasons {
                    row(&[&t.program, reason, &n.to_string()])?;
                }
            }
        }
        _ => {
            return Err(
                AppError::invalid("table", "choose months, levels, retention or reasons").into(),
            );
        }
    }
    let body = w
        .into_inner()
        .map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(super::dosing::csv_download(
        body,
        &format!("dashboard-{}.csv", q.table),
    ))
}

#[derive(Deserialize, Default)]
pub struct SearchQuery {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub dob: String,
    #[serde(default)]
    pub mrn: String,
}

pub struct Row {
    pub id: PatientId,
    pub name: String,
    pub dob: String,
    pub mrn: String,
    pub program: String,
}

#[derive(Template)]
#[template(path = "patients.html")]
struct SearchPage {
    nav: Nav,
    title: String,
    name: String,
    dob: String,
    mrn: String,
    searched: bool,
    patients: Vec<Row>,
}

fn opt(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

pub async fn patient_search(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<SearchQuery>,
) -> HtmlResult<Response> {
    let searched = opt(&q.name).is_some() || opt(&q.dob).is_some() || opt(&q.mrn).is_some();
    let mut patients = vec![];
    if searched {
        let s = PatientSearch {
            name: opt(&q.name),
            date_of_birth: opt(&q.dob),
            mrn: opt(&q.mrn).map(|m| m.to_uppercase()),
            limit: 50,
        };
        let found = access::search(&state.app, &p, &s).await?;
        let programs = work::programs(&state.app).await?;
        patients = found
            .into_iter()
            .map(|x| Row {
                id: x.id,
                name: x.display_name(),
                dob: x.date_of_birth.clone(),
                mrn: x.mrn.clone(),
                program: programs
                    .iter()
                    .find(|g| g.id == x.program_id)
                    .map(|g| g.name.clone())
                    .unwrap_or_default(),
            })
            .collect();
    }
    let page = SearchPage {
        nav: Nav::for_principal(&p),
        title: "Patients".into(),
        name: q.name,
        dob: q.dob,
        mrn: q.mrn,
        searched,
        patients,
    };
    Ok(render(&page).into_response())
}

pub struct Field {
    pub name: &'static str,
    pub label: &'static str,
    pub kind: &'static str,
    pub value: String,
    pub required: bool,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "register.html")]
struct RegisterPage {
    nav: Nav,
    title: String,
    error: Option<String>,
    form: Registration,
    referral: String,
    payer: String,
    admit_level: String,
    programs: Vec<(String, String)>,
    fields: Vec<Field>,
    sexes: Vec<&'static str>,
    sex_error: Option<String>,
    levels: Vec<(&'static str, &'static str)>,
    payers: Vec<(&'static str, &'static str)>,
    payer_error: Option<String>,
}

async fn register_page(
    state: &AppState,
    p: &Principal,
    form: Registration,
    errs: Vec<FieldError>,
) -> Result<Response, AppError> {
    let allowed = p.programs_with(Permission::RegisterPatient);
    let programs = work::programs(&state.app)
        .await?
        .into_iter()
        .filter(|g| allowed.contains(&g.id))
        .map(|g| (g.id.to_string(), g.name))
        .collect();
    let e = |name: &str| {
        errs.iter()
            .filter(|e| e.field == name)
            .map(|e| e.message.clone())
            .reduce(|a, b| format!("{a}; {b}"))
    };
    let opt = |s: &Option<String>| s.clone().unwrap_or_default();
    let fields = vec![
        Field {
            name: "legal_first_name",
            label: "Legal first name",
            kind: "text",
            value: form.legal_first_name.clone(),
            required: true,
            error: e("legal_first_name"),
        },
        Field {
            name: "legal_last_name",
            label: "Legal last name",
            kind: "text",
            value: form.legal_last_name.clone(),
            required: true,
            error: e("legal_last_name"),
        },
        Field {
            name: "preferred_name",
            label: "Preferred name (optional)",
            kind: "text",
            value: opt(&form.preferred_name),
            required: false,
            error: e("preferred_name"),
        },
        Field {
            name: "date_of_birth",
            label: "Date of birth",
            kind: "date",
            value: form.date_of_birth.clone(),
            required: true,
            error: e("date_of_birth"),
        },
        Field {
            name: "phone",
            label: "Phone (optional)",
            kind: "tel",
            value: opt(&form.phone),
            required: false,
            error: e("phone"),
        },
        Field {
            name: "language",
            label: "Preferred language (optional)",
            kind: "text",
            value: opt(&form.language),
            required: false,
            error: e("language"),
        },
    ];
    let status = if !errs.is_empty() {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    } else {
        axum::http::StatusCode::OK
    };
    let page = RegisterPage {
        nav: Nav::for_principal(p),
        title: "Register patient".into(),
        error: errs
            .iter()
            .find(|x| x.field == "confirm_new")
            .map(|x| x.to_string())
            .or_else(|| errs.first().map(|x| x.to_string())),
        sex_error: e("sex"),
        payer_error: e("payer"),
        payers: registration::PAYERS.to_vec(),
        referral: opt(&form.referral_id),
        payer: opt(&form.payer),
        admit_level: opt(&form.admit_level),
        form,
        programs,
        fields,
        sexes: Sex::ALL.iter().map(|s| s.as_str()).collect(),
        levels: ProgramKind::ALL
            .iter()
            .map(|k| (k.as_str(), k.label()))
            .collect(),
    };
    Ok((status, render(&page)).into_response())
}

#[derive(Deserialize, Default)]
pub struct FromReferral {
    #[serde(default)]
    referral: String,
}

pub async fn register_form(
    State(state): State<AppState>,
    p: Principal,
    Query(r): Query<FromReferral>,
) -> HtmlResult<Response> {
    let mut form = Registration {
        sex: "unknown".into(),
        ..Default::default()
    };
    // Start from a call-back request: the name and program come across without retyping.
    if !r.referral.is_empty() {
        let x = intake::referral(&state.app, &p, &r.referral).await?;
        form.legal_first_name = x.name;
        form.program_id = x.program_id.to_string();
        form.phone = Some(x.phone);
        form.language = Some(
            if x.language == "es" {
                "Spanish"
            } else {
                "English"
            }
            .into(),
        );
        form.referral_id = Some(x.id);
    }
    Ok(register_page(&state, &p, form, vec![]).await?)
}

pub async fn register(
    State(state): State<AppState>,
    p: Principal,
    Form(f): Form<Registration>,
) -> HtmlResult<Response> {
    match registration::register(&state.app, &p, &f).await {
        Ok(x) => Ok(Redirect::to(&format!("/patients/{}", x.id)).into_response()),
        Err(AppError::Invalid(e)) => Ok(register_page(&state, &p, f, e).await?),
        Err(AppError::PossibleDuplicates(v)) => {
            let list = v
                .iter()
                .map(|x| format!("{} (born {}, MRN {})", x.name, x.date_of_birth, x.mrn))
                .collect::<Vec<_>>()
                .join("; ");
            let e = FieldError::new(
                "confirm_new",
                format!(
                    "this may be someone already registered: {list}. Open their chart instead, or tick the box to register a different person."
                ),
            );
            Ok(register_page(&state, &p, f, vec![e]).await?)
        }
        Err(e) => Err(e.into()),
    }
}

pub struct TimelineItem {
    pub when: String,
    pub what: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "chart.html")]
struct ChartPage {
    nav: Nav,
    title: String,
    name: String,
    dob: String,
    age: i16,
    sex: String,
    mrn: String,
    program: String,
    emergency: bool,
    clinical: bool,
    timeline: Vec<TimelineItem>,
    timeline_total: usize,
    id: PatientId,
    x: crate::pages::chart_view::Sections,
}

#[derive(Deserialize, Default)]
pub struct ChartQuery {
    #[serde(default)]
    error: String,
    /// The error's signature (`crate::flash`): unsigned text is not shown.
    #[serde(default)]
    sig: String,
    /// `all`: the whole timeline instead of the newest entries.
    #[serde(default)]
    timeline: String,
    /// The section whose form the error belongs to (its anchor).
    #[serde(default)]
    at: String,
}

/// Timeline entries shown before "show the whole timeline".
const TIMELINE_FIRST: usize = 60;

#[derive(Template)]
#[template(path = "break_glass.html")]
struct BreakGlassPage {
    nav: Nav,
    title: String,
    patient_id: PatientId,
    minutes: i64,
    error: Option<String>,
}

fn bad_id() -> AppError {
    AppError::NotFound
}

pub async fn chart(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Query(q): Query<ChartQuery>,
) -> HtmlResult<Response> {
    let id: PatientId = id.parse().map_err(|_| bad_id())?;
    let clinical_allowed = p.can(Permission::ReadClinical);
    let perm = if clinical_allowed {
        Permission::ReadClinical
    } else {
        Permission::ReadDemographics
    };
    let scope = match access::open(&state.app, &p, id, perm, "patient.read").await {
        Ok(x) => x,
        Err(AppError::OutsideYourPrograms) => {
            let page = BreakGlassPage {
                nav: Nav::for_principal(&p),
                title: "Emergency access".into(),
                patient_id: id,
                minutes: state.settings().break_glass_minutes,
                error: None,
            };
            return Ok((axum::http::StatusCode::FORBIDDEN, render(&page)).into_response());
        }
        Err(e) => return Err(e.into()),
    };
    let patient = scope.patient.clone();
    let basis = scope.basis;
    // The chart is shown in the patient's home program; the scope has
    // already loaded it unless the patient's open episode is elsewhere.
    let (program, tz) = if scope.program.id == patient.program_id {
        (scope.program.clone(), scope.tz.clone())
    } else {
        let g = work::program(&state.app, patient.program_id).await?;
        let tz = parse_time_zone(&g.timezone)?;
        (g, tz)
    };
    let today = clinic_day(state.app.now(), &tz);
    let dob: jiff::civil::Date = patient
        .date_of_birth
        .parse()
        .map_err(|_| AppError::Internal("stored DOB".into()))?;
    let age = carepath_app::registration::age_on(dob, today);
    let mut timeline = vec![];
    let episodes = scope.episodes.clone();
    // The record is loaded once for the chart's sections and its timeline;
    // the scope withholds private counseling notes from all but their author.
    let records = if clinical_allowed {
        scope.entries(&state.app, &[]).await?
    } else {
        vec![]
    };
    let mut x =
        crate::pages::chart_view::build(&state, &p, &scope, &tz, clinical_allowed, &records)
            .await?;
    if let Some(e) = crate::flash::read(&q.error, &q.sig) {
        x.error = Some(e);
        // Only an anchor of this page (letters, digits, dashes).
        if !q.at.is_empty()
            && q.at.len() < 40
            && q.at.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            x.error_at = q.at.clone();
        }
    }
    if clinical_allowed {
        for (at, when, what, detail) in crate::pages::chart_view::timeline(&records, &tz) {
            timeline.push((at, TimelineItem { when, what, detail }));
        }
        let programs = work::programs(&state.app).await?;
        let pname = |pid: ProgramId| {
            programs
                .iter()
                .find(|g| g.id == pid)
                .map(|g| g.name.clone())
                .unwrap_or_default()
        };
        for e in episodes.iter().cloned() {
            let level = e
                .level_of_care
                .parse::<ProgramKind>()
                .map(|k| k.label())
                .unwrap_or("—");
            if let Some(d) = e.discharged_at {
                timeline.push((
                    d,
                    TimelineItem {
                        when: fmt_time(d, &tz),
                        what: "Discharged".into(),
                        detail: format!(
                            "{} ({})",
                            pname(e.program_id),
                            e.discharge_reason.clone().unwrap_or_default()
                        ),
                    },
                ));
            }
            timeline.push((
                e.admitted_at,
                TimelineItem {
                    when: fmt_time(e.admitted_at, &tz),
                    what: "Admitted".into(),
                    detail: format!("{} — {level}", pname(e.program_id)),
                },
            ));
        }
        // The patient's own check-ins from the portal.
        for r in carepath_app::portal::reports(&state.app, &p, patient.id).await? {
            let mut detail = format!(
                "craving {}/10, mood {}",
                r.craving,
                carepath_clinical::selfreport::mood_word(u8::try_from(r.mood).unwrap_or(5))
            );
            if let Some(s) = r.sows_total {
                detail.push_str(&format!(", SOWS {s}"));
            }
            if !r.alert.is_empty() {
                detail.push_str(&format!(" — alerted: {}", r.alert));
                match &r.ack_by {
                    Some(by) => detail.push_str(&format!(" (acknowledged by {by})")),
                    None => detail.push_str(" (not yet acknowledged)"),
                }
            }
            timeline.push((
                r.reported_at,
                TimelineItem {
                    when: fmt_time(r.reported_at, &tz),
                    what: "Portal check-in".into(),
                    detail,
                },
            ));
        }
        timeline.push((
            patient.created_at,
            TimelineItem {
                when: fmt_time(patient.created_at, &tz),
                what: "Registered".into(),
                detail: program.name.clone(),
            },
        ));
        timeline.sort_by_key(|t| std::cmp::Reverse(t.0));
    }
    let timeline_total = timeline.len();
    if q.timeline != "all" {
        timeline.truncate(TIMELINE_FIRST);
    }
    let page = ChartPage {
        nav: Nav::for_principal(&p),
        title: patient.display_name(),
        name: patient.display_name(),
        dob: patient.date_of_birth.clone(),
        age,
        sex: patient.sex.clone(),
        mrn: patient.mrn.clone(),
        program: program.name,
        emergency: basis == Basis::Emergency,
        clinical: clinical_allowed,
        timeline: timeline.into_iter().map(|t| t.1).collect(),
        timeline_total,
        id: patient.id,
        x,
    };
    Ok(render(&page).into_response())
}

#[derive(Deserialize)]
pub struct BreakGlassForm {
    #[serde(default)]
    reason: String,
}

pub async fn break_glass(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(f): Form<BreakGlassForm>,
) -> HtmlResult<Response> {
    let id: PatientId = id.parse().map_err(|_| bad_id())?;
    match access::break_glass(&state.app, &p, id, &f.reason).await {
        Ok(()) => {}
        Err(AppError::Invalid(_)) => {
            let page = BreakGlassPage {
                nav: Nav::for_principal(&p),
                title: "Emergency access".into(),
                patient_id: id,
                minutes: state.settings().break_glass_minutes,
                error: Some("reason: describe the emergency in at least 10 characters".into()),
            };
            return Ok(
                (axum::http::StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response(),
            );
        }
        Err(e) => return Err(e.into()),
    }
    Ok(Redirect::to(&format!("/patients/{id}")).into_response())
}

// ---------------------------------------------------------------- TEDS

#[derive(Deserialize)]
pub struct TedsQuery {
    #[serde(default)]
    program: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    /// `admissions` or `discharges` (the CSV download).
    #[serde(default)]
    r#type: String,
}

struct TedsIssue {
    record: &'static str,
    case_id: String,
    patient_id: String,
    patient: String,
    element: &'static str,
    message: String,
}

struct TedsTable {
    title: &'static str,
    columns: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

struct TedsView {
    admissions: usize,
    discharges: usize,
    with_problems: usize,
    problems: usize,
    digest: String,
    issues: Vec<TedsIssue>,
    tables: Vec<TedsTable>,
}

#[derive(Template)]
#[template(path = "teds.html")]
struct TedsPage {
    nav: Nav,
    title: String,
    programs: Vec<(String, String)>,
    program: String,
    from: String,
    to: String,
    extract: Option<TedsView>,
    error: Option<String>,
}

/// The period asked, or the last calendar quarter when none is.
fn teds_period(q: &TedsQuery, today: jiff::civil::Date) -> Result<teds::Period, AppError> {
    if q.from.trim().is_empty() && q.to.trim().is_empty() {
        return Ok(teds::Period::last_quarter(today));
    }
    teds::Period::parse(&q.from, &q.to)
}

/// Today in the program's time zone (the quarter that just ended is the
/// program's, not UTC's).
async fn today(state: &AppState, program: ProgramId) -> carepath_app::Result<jiff::civil::Date> {
    let tz = work::programs(&state.app)
        .await?
        .into_iter()
        .find(|g| g.id == program)
        .map(|g| parse_time_zone(&g.timezone))
        .transpose()?
        .unwrap_or(jiff::tz::TimeZone::UTC);
    let now = jiff::Timestamp::from_microsecond(state.app.now_us())
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    Ok(clinic_day(now, &tz))
}

/// `GET /reports/teds`: the state report's preview — the records of the
/// period, each missing or invalid element named with the patient to fix it
/// in, and the two files to download. Clinical staff of the program only
/// (every patient's record is opened through the access path, audited).
pub async fn teds_page(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<TedsQuery>,
) -> HtmlResult<Response> {
    let programs = programs_where(&state, &p, Permission::ReadClinical).await?;
    let (program, pid) = pick(&programs, &q.program)?;
    let r = async {
        let period = teds_period(&q, today(&state, pid).await?)?;
        teds::extract(&state.app, &p, pid, period).await
    }
    .await;
    let (from, to, extract, error) = match r {
        Ok(x) => {
            let mut issues = vec![];
            for (record, rows) in [("Admission", &x.admissions), ("Discharge", &x.discharges)] {
                for row in rows {
                    // Named as the extract read them (through the access
                    // path, audited there): no second opening per record.
                    let who = x.patients.get(&row.case_id);
                    for pr in &row.problems {
                        issues.push(TedsIssue {
                            record,
                            case_id: row.case_id.clone(),
                            patient_id: who.map(|w| w.id.to_string()).unwrap_or_default(),
                            patient: who.map(|w| w.label.clone()).unwrap_or_default(),
                            element: pr.element,
                            message: pr.message.clone(),
                        });
                    }
                }
            }
            let table =
                |title, cols: &[&'static str], rows: &[carepath_clinical::teds::Row]| TedsTable {
                    title,
                    columns: cols.to_vec(),
                    rows: rows.iter().map(|r| r.values.clone()).collect(),
                };
            let view = TedsView {
                admissions: x.admissions.len(),
                discharges: x.discharges.len(),
                with_problems: x.records_with_problems(),
                problems: x.problems(),
                digest: x.digest(),
                issues,
                tables: vec![
                    table(
                        "Admissions",
                        &carepath_clinical::teds::ADMISSION_COLUMNS,
                        &x.admissions,
                    ),
                    table(
                        "Discharges",
                        &carepath_clinical::teds::DISCHARGE_COLUMNS,
                        &x.discharges,
                    ),
                ],
            };
            (
                x.period.from.to_string(),
                x.period.to.to_string(),
                Some(view),
                None,
            )
        }
        Err(e @ AppError::Invalid(_)) => (q.from.clone(), q.to.clone(), None, Some(e.to_string())),
        Err(e) => return Err(e.into()),
    };
    let status = on_error(&error, StatusCode::BAD_REQUEST);
    Ok((
        status,
        render(&TedsPage {
            nav: Nav::for_principal(&p),
            title: "State report (TEDS)".into(),
            programs,
            program,
            from,
            to,
            extract,
            error,
        }),
    )
        .into_response())
}

/// `GET /reports/teds.csv?type=admissions|discharges`: one file of the
/// extract, as the preview shows it.
pub async fn teds_csv(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<TedsQuery>,
) -> HtmlResult<Response> {
    let programs = programs_where(&state, &p, Permission::ReadClinical).await?;
    let (_, pid) = pick(&programs, &q.program)?;
    let which = teds::Which::parse(&q.r#type)?;
    let period = teds_period(&q, today(&state, pid).await?)?;
    let x = teds::extract(&state.app, &p, pid, period).await?;
    Ok(csv_download(x.csv(which).into_bytes(), &x.file_name(which)))
}
