//! Drug testing pages: a patient's tests (timeline, chart, collection form,
//! the prescriber's review), the day's random-testing list, and the lab
//! interface's inbox (messages waiting for a patient match, and the log).

use super::dosing::{DoneQuery, done_query, on_error, pick, programs_where};
use crate::AppState;
use crate::auth::Principal;
use crate::error::{AppError, HtmlResult};
use crate::views::{Nav, render};
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use carepath_app::drugtest::{self, CollectInput, History, RandomItem, ResultInput, TestView};
use carepath_app::lab::{self, Waiting};
use carepath_clinical::drugtest as engine;
use carepath_domain::authz::Permission;
use carepath_domain::ids::PatientId;
use serde::Deserialize;

/// The analytes offered on the point-of-care form: a common cup panel.
const CUP: &[&str] = &[
    "fentanyl",
    "6_mam",
    "opiates",
    "methadone",
    "eddp",
    "buprenorphine",
    "oxycodone",
    "benzoylecgonine",
    "methamphetamine",
    "amphetamines",
    "benzodiazepines",
    "cannabinoids",
];

#[derive(Template)]
#[template(path = "drug_tests.html")]
struct TestsPage {
    nav: Nav,
    title: String,
    /// Who this page is about (name, DOB, MRN, allergies).
    bar: Option<carepath_app::registration::Banner>,
    patient_id: String,
    name: String,
    h: History,
    review_needed: usize,
    chart: String,
    chart_alt: String,
    /// (name, plain name) for the form.
    cup: Vec<(String, String)>,
    may_write: bool,
    may_review: bool,
    error: Option<String>,
    message: Option<String>,
    form: CollectForm,
}

/// The collection form as posted (kept on an error so nothing is retyped).
#[derive(Deserialize, Default, Clone)]
pub struct CollectForm {
    #[serde(default)]
    pub collected_at: String,
    #[serde(default)]
    pub specimen: String,
    #[serde(default)]
    pub observed: String,
    /// in_range, out_of_range or not_read.
    #[serde(default)]
    pub temperature: String,
    #[serde(default)]
    pub refused: String,
    #[serde(default)]
    pub specimen_id: String,
    #[serde(default)]
    pub note: String,
    #[serde(flatten)]
    pub rest: std::collections::HashMap<String, String>,
}

impl CollectForm {
    /// The outcome typed for an analyte of the cup (`r_<name>`).
    pub fn outcome(&self, analyte: &str) -> &str {
        self.rest
            .get(&format!("r_{analyte}"))
            .map(String::as_str)
            .unwrap_or("")
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Results × tests as an inline SVG: a column per test (oldest left, up
/// to 12), a row per analyte tested; a positive is a filled dark square
/// with "+", a negative an open square with "−", inconclusive "?". The
/// text alternative lists each test's positives.
fn chart(tests: &[TestView]) -> (String, String) {
    let shown: Vec<&TestView> = tests
        .iter()
        .filter(|t| !t.results.is_empty())
        .take(12)
        .collect();
    let mut shown = shown;
    shown.reverse();
    let mut analytes: Vec<String> = vec![];
    for t in &shown {
        for r in &t.results {
            if !t.superseded.contains(&r.id) && !analytes.contains(&r.analyte) {
                analytes.push(r.analyte.clone());
            }
        }
    }
    if shown.is_empty() {
        return (String::new(), String::new());
    }
    let (left, top, cell) = (150.0_f64, 44.0_f64, 30.0_f64);
    let (w, h) = (
        left + cell * shown.len() as f64 + 10.0,
        top + cell * analytes.len() as f64 + 10.0,
    );
    let mut svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-labelledby=\"dt-chart-t\"><title id=\"dt-chart-t\">Drug test results over time</title>"
    );
    for (j, t) in shown.iter().enumerate() {
        let x = left + cell * j as f64 + cell / 2.0;
        svg.push_str(&format!(
            "<text x=\"{x:.0}\" y=\"14\" font-size=\"10\" text-anchor=\"middle\">{}</text><text x=\"{x:.0}\" y=\"28\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
            t.collected.get(5..10).unwrap_or(""),
            if t.test.observed { "obs" } else { "" }
        ));
    }
    for (i, a) in analytes.iter().enumerate() {
        let y = top + cell * i as f64;
        svg.push_str(&format!(
            "<text x=\"4\" y=\"{:.0}\" font-size=\"11\">{}</text>",
            y + 19.0,
            escape(
                &engine::plain_name(a)
                    .unwrap_or(a)
                    .chars()
                    .take(26)
                    .collect::<String>()
            )
        ));
        for (j, t) in shown.iter().enumerate() {
            let Some(r) = t
                .results
                .iter()
                .rev()
                .find(|r| r.analyte == *a && !t.superseded.contains(&r.id))
            else {
                continue;
            };
            let x = left + cell * j as f64;
            let (fill, ink, mark) = match r.outcome.as_str() {
                "positive" => ("#7a1f1f", "#ffffff", "+"),
                "negative" => ("#ffffff", "#1b4d2e", "−"),
                _ => ("#e8d9a8", "#111111", "?"),
            };
            svg.push_str(&format!(
                "<rect x=\"{:.0}\" y=\"{:.0}\" width=\"{:.0}\" height=\"{:.0}\" fill=\"{fill}\" stroke=\"#555555\"/><text x=\"{:.0}\" y=\"{:.0}\" font-size=\"14\" font-weight=\"bold\" text-anchor=\"middle\" fill=\"{ink}\">{mark}</text>",
                x + 3.0,
                y + 3.0,
                cell - 6.0,
                cell - 6.0,
                x + cell / 2.0,
                y + 20.0
            ));
        }
    }
    svg.push_str("</svg>");
    let alt = shown
        .iter()
        .map(|t| format!("{}: {}", t.collected, t.summary))
        .collect::<Vec<_>>()
        .join("; ");
    (svg, alt)
}

async fn tests_page(
    state: &AppState,
    p: &Principal,
    id: PatientId,
    error: Option<String>,
    message: Option<String>,
    form: CollectForm,
) -> Result<Response, AppError> {
    let scope =
        carepath_app::access::open(&state.app, p, id, Permission::ReadClinical, "drugtest.page")
            .await?;
    let h = drugtest::history(&state.app, p, id).await?;
    let (chart, chart_alt) = chart(&h.tests);
    let program = scope.program.id;
    Ok((
        on_error(&error, StatusCode::UNPROCESSABLE_ENTITY),
        render(&TestsPage {
            nav: Nav::for_principal(p),
            bar: carepath_app::registration::banner(&state.app, p, id)
                .await
                .ok(),
            title: format!("Drug tests — {}", scope.patient.display_name()),
            patient_id: id.to_string(),
            name: scope.patient.display_name(),
            review_needed: h.tests.iter().filter(|t| t.needs_review).count(),
            h,
            chart,
            chart_alt,
            cup: CUP
                .iter()
                .map(|a| {
                    (
                        a.to_string(),
                        engine::plain_name(a).unwrap_or(a).to_string(),
                    )
                })
                .collect(),
            may_write: p.holds_in(program, Permission::WriteClinical),
            may_review: p.holds_in(program, Permission::OrderMedication),
            error,
            message,
            form,
        }),
    )
        .into_response())
}

pub async fn tests_view(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> HtmlResult<Response> {
    let id: PatientId = id.parse().map_err(|_| AppError::NotFound)?;
    let msg = crate::flash::read(&q.done, &q.sig);
    let form = CollectForm {
        specimen: "urine".into(),
        observed: "true".into(),
        temperature: "in_range".into(),
        ..Default::default()
    };
    Ok(tests_page(&state, &p, id, None, msg, form).await?)
}

pub async fn collect(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(f): Form<CollectForm>,
) -> HtmlResult<Response> {
    let id: PatientId = id.parse().map_err(|_| AppError::NotFound)?;
    let results: Vec<ResultInput> = CUP
        .iter()
        .filter_map(|a| {
            let o = f.outcome(a);
            (!o.is_empty()).then(|| ResultInput {
                analyte: a.to_string(),
                outcome: o.to_string(),
                ..Default::default()
            })
        })
        .collect();
    let input = CollectInput {
        collected_at: Some(f.collected_at.clone()).filter(|s| !s.trim().is_empty()),
        specimen: f.specimen.clone(),
        observed: f.observed == "true",
        temperature_in_range: match f.temperature.as_str() {
            "in_range" if f.specimen == "urine" => Some(true),
            "out_of_range" if f.specimen == "urine" => Some(false),
            _ => None,
        },
        refused: f.refused == "true",
        specimen_id: Some(f.specimen_id.clone()).filter(|s| !s.trim().is_empty()),
        note: Some(f.note.clone()).filter(|s| !s.trim().is_empty()),
        results,
    };
    match drugtest::collect(&state.app, &p, id, &input).await {
        Ok(v) => Ok(Redirect::to(&format!(
            "/patients/{id}/drug-tests?{}",
            done_query(&format!(
                "Recorded: {}{}",
                v.summary,
                if v.needs_review {
                    " — needs the prescriber's review"
                } else {
                    ""
                }
            ))
        ))
        .into_response()),
        Err(e @ (AppError::Invalid(_) | AppError::Conflict(_))) => {
            Ok(tests_page(&state, &p, id, Some(e.to_string()), None, f).await?)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct ReviewForm {
    #[serde(default)]
    note: String,
}

pub async fn review(
    State(state): State<AppState>,
    p: Principal,
    Path((id, test)): Path<(String, String)>,
    Form(f): Form<ReviewForm>,
) -> HtmlResult<Response> {
    let id: PatientId = id.parse().map_err(|_| AppError::NotFound)?;
    match drugtest::review(&state.app, &p, id, &test, &f.note).await {
        Ok(_) => Ok(Redirect::to(&format!(
            "/patients/{id}/drug-tests?{}",
            done_query("Review recorded")
        ))
        .into_response()),
        Err(e @ (AppError::Invalid(_) | AppError::Conflict(_))) => Ok(tests_page(
            &state,
            &p,
            id,
            Some(e.to_string()),
            None,
            CollectForm::default(),
        )
        .await?),
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "random_today.html")]
struct RandomPage {
    nav: Nav,
    title: String,
    programs: Vec<(String, String)>,
    program: String,
    day: String,
    items: Vec<RandomItem>,
}

#[derive(Deserialize)]
pub struct ProgramQuery {
    #[serde(default)]
    program: String,
    #[serde(default)]
    done: String,
    #[serde(default)]
    sig: String,
}

pub async fn random_today(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<ProgramQuery>,
) -> HtmlResult<Response> {
    let programs = programs_where(&state, &p, Permission::ReadClinical).await?;
    let (program, pid) = pick(&programs, &q.program)?;
    let (day, items) = drugtest::random_today(&state.app, &p, pid).await?;
    Ok(render(&RandomPage {
        nav: Nav::for_principal(&p),
        title: "Random drug tests today".into(),
        programs,
        program,
        day,
        items,
    })
    .into_response())
}

#[derive(Template)]
#[template(path = "lab_inbox.html")]
struct InboxPage {
    nav: Nav,
    title: String,
    programs: Vec<(String, String)>,
    program: String,
    waiting: Vec<Waiting>,
    log: Vec<(carepath_app::model::LabMessage, String)>,
    error: Option<String>,
    message: Option<String>,
}

async fn inbox_page(
    state: &AppState,
    p: &Principal,
    asked: &str,
    error: Option<String>,
    message: Option<String>,
) -> Result<Response, AppError> {
    let programs = programs_where(state, p, Permission::WriteClinical).await?;
    let (program, pid) = pick(&programs, asked)?;
    let waiting = lab::queue(&state.app, p, pid).await?;
    let log = lab::log(&state.app, p, pid).await?;
    Ok((
        on_error(&error, StatusCode::UNPROCESSABLE_ENTITY),
        render(&InboxPage {
            nav: Nav::for_principal(p),
            title: "Lab results inbox".into(),
            programs,
            program,
            waiting,
            log,
            error,
            message,
        }),
    )
        .into_response())
}

pub async fn inbox(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<ProgramQuery>,
) -> HtmlResult<Response> {
    let msg = crate::flash::read(&q.done, &q.sig);
    Ok(inbox_page(&state, &p, &q.program, None, msg).await?)
}

#[derive(Deserialize)]
pub struct MatchForm {
    #[serde(default)]
    program: String,
    #[serde(default)]
    patient_id: String,
    #[serde(default)]
    reason: String,
}

pub async fn match_message(
    State(state): State<AppState>,
    p: Principal,
    Path(mid): Path<String>,
    Form(f): Form<MatchForm>,
) -> HtmlResult<Response> {
    let patient = f.patient_id.trim().parse::<PatientId>();
    let r = match patient {
        Ok(pid) => lab::resolve(&state.app, &p, &mid, pid, &f.reason).await,
        Err(_) => Err(AppError::invalid("patient_id", "choose the patient")),
    };
    match r {
        Ok(n) => Ok(Redirect::to(&format!(
            "/labs/inbox?program={}&{}",
            f.program,
            done_query(&format!("Matched: {n} results filed"))
        ))
        .into_response()),
        Err(e @ (AppError::Invalid(_) | AppError::Conflict(_))) => {
            Ok(inbox_page(&state, &p, &f.program, Some(e.to_string()), None).await?)
        }
        Err(e) => Err(e.into()),
    }
}
