//! Staff pages for the patient's path: the forms (assessment, flowsheet,
//! orders, notes, plans, consents, disclosures, discharge, episodes,
//! registration details, photo) and the actions on records (sign, co-sign,
//! amend, revoke, administer, follow-up outcome). Each form is read straight
//! into the service's typed input ([`crate::form`]) and handed to
//! `carepath_app`; a correction's form is prefilled from the stored input.

use crate::AppState;
use crate::auth::Principal;
use crate::error::{AppError, HtmlResult, field_errors};
use crate::form;
use crate::pages::forms::{Builder, FormPage, Panel, Values};
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use carepath_app::access::{self, PatientScope};
use carepath_app::kinds::assessment::{self, AssessmentBody, AssessmentInput};
use carepath_app::kinds::discharge::{DischargeInput, FollowUpOutcome};
use carepath_app::kinds::flowsheet::FlowsheetInput;
use carepath_app::kinds::medication::{AdministrationInput, OrderInput};
use carepath_app::kinds::notes::{self, NoteInput, PlanInput};
use carepath_app::kinds::{Body, Input, Kind, local_input};
use carepath_app::registration::{self, Profile};
use carepath_app::{admin, chart, work};
use carepath_clinical as clinical;
use carepath_domain::FieldError;
use carepath_domain::authz::Permission;
use carepath_domain::ids::{PatientId, ProgramId};
use carepath_domain::program::ProgramKind;
use serde::Deserialize;

type Pairs = Form<Vec<(String, String)>>;

fn pid(s: &str) -> Result<PatientId, AppError> {
    s.parse().map_err(|_| AppError::NotFound)
}

fn back(id: PatientId) -> Option<(String, String)> {
    Some((format!("/patients/{id}"), "Back to the chart".into()))
}

/// A patient form page: title, where it posts, its fields, its button.
fn patient_form(
    p: &Principal,
    id: PatientId,
    title: impl Into<String>,
    action: String,
    b: Builder,
    submit: &str,
) -> FormPage {
    let mut page = FormPage::new(p, title, action);
    page.back = back(id);
    page.patient_id = Some(id);
    page.fields = b.fields;
    page.submit = submit.into();
    page
}

/// When a form corrects a record: the reason field first, and the form posts
/// to the record's amend action.
fn amend_fields(b: &mut Builder, amend: Option<&str>) {
    if amend.is_some() {
        b.area("reason", "Reason for the correction")
            .required()
            .hint("Kept with the new version; the original stays in the record.");
    }
}

fn action_for(amend: Option<&str>, create: String) -> String {
    match amend {
        Some(rid) => format!("/records/{rid}/amend"),
        None => create,
    }
}

fn chart_url(id: PatientId, anchor: &str) -> String {
    format!("/patients/{id}#{anchor}")
}

/// Redirect to the chart with the problems shown at the top (inline forms).
fn chart_with_errors(id: PatientId, errs: &[FieldError], anchor: &str) -> Response {
    let text = errs
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ");
    // The eye lands on the problem (the summary at the top, focused), which
    // links back to the form's section.
    let q = crate::flash::query("error", &text);
    let back = serde_urlencoded::to_string([("at", anchor)]).unwrap_or_default();
    Redirect::to(&format!("/patients/{id}?{q}&{back}#chart-error")).into_response()
}

fn levels() -> Vec<(String, String)> {
    ProgramKind::ALL
        .iter()
        .map(|k| (k.as_str().to_string(), k.label().to_string()))
        .collect()
}

fn codes(list: &[(u8, &str)]) -> Vec<(String, String)> {
    let mut v = vec![(String::new(), "—".to_string())];
    v.extend(
        list.iter()
            .map(|(c, l)| (c.to_string(), format!("{c} {l}"))),
    );
    v
}

/// A state-report (TEDS) question's answers: not asked (empty), each code,
/// and the explicit "unknown / declined" (-9).
fn teds_answers(list: &[(u8, &str)]) -> Vec<(String, String)> {
    let mut v = vec![(String::new(), "— not asked —".to_string())];
    v.extend(list.iter().map(|(c, l)| (c.to_string(), l.to_string())));
    v.push(("-9".into(), "Unknown / declined".into()));
    v
}

/// Where each kind's section is on the chart.
fn anchor(kind: Kind) -> &'static str {
    match kind {
        Kind::Assessment => "assessment",
        Kind::Cows | Kind::Sows => "withdrawal",
        Kind::Order | Kind::Administration => "orders",
        Kind::Plan => "plan",
        Kind::Consent | Kind::ConsentRevocation => "consents",
        Kind::Discharge | Kind::Followup | Kind::FollowupOutcome => "aftercare",
        Kind::Attendance | Kind::Enrollment => "timeline",
        Kind::Note => "notes",
    }
}

/// Open the patient for writing (audited as `action`).
async fn open_write(
    state: &AppState,
    p: &Principal,
    id: PatientId,
    action: &str,
) -> Result<PatientScope, AppError> {
    access::open(&state.app, p, id, Permission::WriteClinical, action).await
}

/// Read a form into the input of a writable kind.
fn parse_input(kind: Kind, pairs: &[(String, String)], skip: &[&str]) -> Result<Input, AppError> {
    Ok(match kind {
        Kind::Assessment => Input::Assessment(Box::new(form::parse(pairs, skip)?)),
        Kind::Cows | Kind::Sows => Input::Flowsheet(form::parse(pairs, skip)?),
        Kind::Order => Input::Order(form::parse(pairs, skip)?),
        Kind::Administration => Input::Administration(form::parse(pairs, skip)?),
        Kind::Note => Input::Note(form::parse(pairs, skip)?),
        Kind::Plan => Input::Plan(form::parse(pairs, skip)?),
        Kind::Consent => Input::Consent(form::parse(pairs, skip)?),
        Kind::ConsentRevocation
        | Kind::Attendance
        | Kind::Enrollment
        | Kind::Discharge
        | Kind::Followup
        | Kind::FollowupOutcome => {
            return Err(AppError::invalid(
                "kind",
                "this kind of entry is corrected by its own action",
            ));
        }
    })
}

// ---------------------------------------------------------------- assessment

fn assessment_fields(b: &mut Builder) {
    b.heading("Substance use (TEDS)");
    for k in 0..3 {
        let which = ["Primary", "Secondary", "Tertiary"][k];
        b.row();
        b.select(
            &format!("substances[{k}].code"),
            &format!("{which} substance"),
            codes(&clinical::teds::SUBSTANCES),
        );
        b.select(
            &format!("substances[{k}].route"),
            &format!("{which}: usual route"),
            codes(&clinical::teds::ROUTES),
        );
        b.select(
            &format!("substances[{k}].frequency"),
            &format!("{which}: frequency, past month"),
            codes(&clinical::teds::FREQUENCIES),
        );
        b.number(
            &format!("substances[{k}].age_first_use"),
            &format!("{which}: age at first use"),
            "1",
        );
        b.end_row();
    }
    let mut opioids = vec![("", "—")];
    opioids.extend(assessment::LAST_OPIOIDS);
    b.select("last_opioid", "Last opioid used", opioids);
    b.datetime("last_use_at", "Time of last opioid use");
    b.number("prior_treatment_episodes", "Prior treatment episodes", "1");
    b.number("overdoses_lifetime", "Overdoses (lifetime)", "1");
    b.check("overdose_past_year", "Overdose in the past year");
    b.heading("DSM-5 opioid use disorder criteria (past 12 months)");
    b.checks(
        "dsm5",
        "Criteria met",
        clinical::oud::CRITERIA
            .iter()
            .map(|(k, l)| (*k, format!("{k}: {l}"))),
    );
    b.check(
        "medically_supervised",
        "Tolerance/withdrawal only under medical supervision (not counted)",
    );
    b.heading("Six dimensions (0 none – 4 severe risk)");
    let r = [
        ("0", "0 — none"),
        ("1", "1 — mild"),
        ("2", "2 — moderate"),
        ("3", "3 — significant"),
        ("4", "4 — severe"),
    ];
    for (k, l) in [
        ("withdrawal", "1. Intoxication and withdrawal"),
        ("biomedical", "2. Biomedical conditions"),
        (
            "emotional_behavioral",
            "3. Emotional, behavioral, cognitive",
        ),
        ("readiness", "4. Readiness to change"),
        ("relapse", "5. Relapse / continued use potential"),
        ("recovery_environment", "6. Recovery environment"),
    ] {
        b.radio(&format!("dimensions.{k}"), l, r);
    }
    b.number("cows", "COWS now (if measured)", "1");
    b.check(
        "complicated_withdrawal",
        "History of complicated withdrawal (seizures, delirium)",
    );
    b.check("medical_instability", "Acute medical instability");
    b.check("psychiatric_instability", "Acute psychiatric instability");
    b.check("imminent_danger", "Imminent danger to self or others");
    b.check(
        "on_medication",
        "Already on methadone, buprenorphine or naltrexone",
    );
    {
        use clinical::teds as t;
        b.heading("For the state report (TEDS)");
        b.date("teds.requested_on", "Day treatment was first requested");
        for (name, label, list) in [
            ("referral_source", "Referred by", &t::REFERRAL_SOURCES[..]),
            (
                "criminal_justice_referral",
                "If by court or criminal justice: which",
                &t::CRIMINAL_JUSTICE[..],
            ),
            ("education", "Education", &t::EDUCATION[..]),
            ("employment", "Employment", &t::EMPLOYMENT[..]),
            (
                "not_in_labor_force",
                "If not in the labor force",
                &t::NOT_IN_LABOR_FORCE[..],
            ),
            ("living", "Living arrangement", &t::LIVING[..]),
            ("marital", "Marital status", &t::MARITAL[..]),
            ("race", "Race", &t::RACE[..]),
            ("ethnicity", "Hispanic or Latino origin", &t::ETHNICITY[..]),
            ("income", "Main source of income", &t::INCOME[..]),
            ("insurance", "Health insurance", &t::INSURANCE[..]),
            ("payment", "Expected source of payment", &t::PAYMENT[..]),
            (
                "self_help_30d",
                "Self-help groups, past 30 days",
                &t::SELF_HELP[..],
            ),
        ] {
            b.select(&format!("teds.{name}"), label, teds_answers(list));
        }
        b.number(
            "teds.arrests_30d",
            "Arrests in the past 30 days (-9 unknown)",
            "1",
        );
    }
    b.heading("PHQ-9: over the last 2 weeks…");
    // Unanswered is a value: nothing is pre-chosen, and a screen left
    // wholly unanswered is recorded as not done.
    let ans: Vec<(String, String)> = std::iter::once((String::new(), "— not asked —".to_string()))
        .chain(
            clinical::screens::ANSWERS
                .iter()
                .enumerate()
                .map(|(i, a)| (i.to_string(), format!("{i} {a}"))),
        )
        .collect();
    for (i, q) in clinical::screens::PHQ9_ITEMS.iter().enumerate() {
        b.select(
            &format!("phq9[{i}]"),
            &format!("{}. {q}", i + 1),
            ans.clone(),
        );
    }
    b.heading("GAD-7: over the last 2 weeks…");
    for (i, q) in clinical::screens::GAD7_ITEMS.iter().enumerate() {
        b.select(
            &format!("gad7[{i}]"),
            &format!("{}. {q}", i + 1),
            ans.clone(),
        );
    }
    b.radio(
        "suicide_question",
        "Suicide risk: has thoughts of ending their life now or recently",
        [("true", "Yes"), ("false", "No")],
    )
    .hint("Leave unanswered if it was not asked: it is then recorded as not asked, not as no.");
    b.select(
        "suicide_followup.risk",
        "If PHQ-9 item 9 or the question above is positive: risk after further assessment",
        [
            ("", "—"),
            ("low", "Low"),
            ("moderate", "Moderate"),
            ("high", "High"),
        ],
    );
    b.text(
        "suicide_followup.action",
        "Action taken (safety plan, 988, evaluation…)",
    );
    b.heading("Pregnancy and special populations");
    b.select("pregnancy", "Pregnancy status", assessment::PREGNANCY);
    b.date("due_date", "Due date (if pregnant)");
    b.checks("flags", "Special populations", assessment::FLAGS);
    b.heading("Placement");
    b.radio(
        "placement.accept",
        "Placement decision",
        [
            ("true", "Accept the recommendation"),
            ("false", "Place differently"),
        ],
    );
    let mut lv = vec![(String::new(), "—".to_string())];
    lv.extend(levels());
    b.select(
        "placement.level",
        "Level of care placed (when different)",
        lv,
    );
    b.area("placement.reason", "Reason for a different placement");
}

/// Panels describing the engine's results in an assessment.
pub fn assessment_panels(a: &AssessmentBody) -> Vec<Panel> {
    let dx = &a.diagnosis;
    let rec = &a.recommendation;
    let mut d = vec![format!(
        "{} criteria counted → severity: {}",
        dx.count,
        serde_json::to_value(dx.severity)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    )];
    for c in &dx.codes {
        d.push(format!("{} — {}", c.code, c.title));
    }
    let mut r = vec![format!(
        "Recommended now: {} ({})",
        a.recommended_program_kind()
            .map(|k| k.label())
            .unwrap_or(""),
        rec.recommended_label
    )];
    r.push(format!("Treatment setting: {}", rec.setting_label));
    for x in &rec.dimensions {
        r.push(format!(
            "Dimension {} {} (rated {}): {}",
            x.dimension, x.name, x.rating, x.rule
        ));
    }
    r.push(format!("Medication: {}", rec.medication.rule));
    r.extend(rec.notes.iter().cloned());
    r.push(rec.disclaimer.clone());
    let s = vec![
        format!("PHQ-9 {}", assessment::screen_text(a.phq9.as_ref())),
        format!("GAD-7 {}", assessment::screen_text(a.gad7.as_ref())),
    ];
    vec![
        Panel {
            title: "Diagnosis (DSM-5 → ICD-10-CM)".into(),
            lines: d,
            tone: "info",
        },
        Panel {
            title: "Level-of-care recommendation".into(),
            lines: r,
            tone: "info",
        },
        Panel {
            title: "Screens".into(),
            lines: s,
            tone: "info",
        },
    ]
}

fn assessment_page(
    p: &Principal,
    id: PatientId,
    v: &Values,
    errs: &[FieldError],
    panels: Vec<Panel>,
    amend: Option<&str>,
) -> FormPage {
    let mut b = Builder::new(v, errs);
    amend_fields(&mut b, amend);
    assessment_fields(&mut b);
    let mut page = FormPage::new(
        p,
        if amend.is_some() {
            "Correct the intake assessment"
        } else {
            "Intake assessment"
        },
        action_for(amend, format!("/patients/{id}/assessment")),
    );
    page.back = back(id);
    page.patient_id = Some(id);
    page.intro = "Substance history, diagnosis, six-dimension ratings and screens. \"Show recommendation\" computes the placement without saving.".into();
    page.fields = b.fields;
    page.panels = panels;
    page.buttons = vec![(
        "action".into(),
        "review".into(),
        "Show recommendation".into(),
    )];
    page.submit = "Save assessment".into();
    page.with_errors(errs)
}

pub async fn assessment_form(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> HtmlResult<Response> {
    let id = pid(&id)?;
    open_write(&state, &p, id, "assessment.form").await?;
    let mut v = Values::default();
    v.set("placement.accept", "true");
    v.set("pregnancy", "not_applicable");
    Ok(assessment_page(&p, id, &v, &[], vec![], None)
        .show(&state, &p)
        .await)
}

pub async fn assessment_submit(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(pairs): Pairs,
) -> HtmlResult<Response> {
    let id = pid(&id)?;
    let v = Values(pairs);
    let review = v.get("action") == "review";
    let r = async {
        let pairs = screens_answered(&v.0)?;
        let mut input: AssessmentInput = form::parse(&pairs, &["action"])?;
        if review {
            // The recommendation alone: computed, nothing stored.
            input.placement.accept = true;
            let s = open_write(&state, &p, id, "assessment.preview").await?;
            let (body, _) = assessment::compute(&s, &input)?;
            return Ok(Some(body));
        }
        chart::create(&state.app, &p, id, &Input::Assessment(Box::new(input))).await?;
        Ok::<_, AppError>(None)
    }
    .await;
    match r {
        Ok(Some(body)) => Ok(
            assessment_page(&p, id, &v, &[], assessment_panels(&body), None)
                .show(&state, &p)
                .await,
        ),
        Ok(None) => Ok(Redirect::to(&chart_url(id, "assessment")).into_response()),
        Err(e) => Ok(assessment_page(&p, id, &v, &field_errors(e)?, vec![], None)
            .show(&state, &p)
            .await),
    }
}

/// The PHQ-9 and GAD-7 answers as the form sent them: a screen with every
/// item answered is kept, one with none answered is dropped (not done), and
/// one answered in part is refused naming the first item left blank.
fn screens_answered(pairs: &[(String, String)]) -> Result<Vec<(String, String)>, AppError> {
    let mut out: Vec<(String, String)> = pairs.to_vec();
    for (prefix, n, name) in [("phq9", 9, "PHQ-9"), ("gad7", 7, "GAD-7")] {
        let answered: Vec<bool> = (0..n)
            .map(|i| {
                let k = format!("{prefix}[{i}]");
                pairs
                    .iter()
                    .any(|(pk, pv)| *pk == k && !pv.trim().is_empty())
            })
            .collect();
        if answered.iter().all(|a| !a) {
            out.retain(|(k, _)| !k.starts_with(&format!("{prefix}[")));
        } else if let Some(i) = answered.iter().position(|a| !a) {
            return Err(AppError::invalid(
                if prefix == "phq9" { "phq9" } else { "gad7" },
                format!(
                    "{name} item {} is unanswered: answer every item, or none if the screen was not done",
                    i + 1
                ),
            ));
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------- flowsheet

fn flowsheet_fields(b: &mut Builder, scale: &str) {
    b.hidden("scale");
    b.datetime("observed_at", "Observed at")
        .hint("Leave as is for now; entries more than 24 hours old are marked late.");
    if scale == "sows" {
        b.heading("SOWS: the patient rates each 0 (not at all) – 4 (extremely)");
        // Handelsman 1987: each symptom rated by the patient, now.
        let r: Vec<(String, String)> = [
            "not at all",
            "a little",
            "moderately",
            "quite a bit",
            "extremely",
        ]
        .iter()
        .enumerate()
        .map(|(i, l)| (i.to_string(), format!("{i} — {l}")))
        .collect();
        for (i, item) in clinical::sows::ITEMS.iter().enumerate() {
            b.select(
                &format!("sows[{i}]"),
                &format!("{}. {item}", i + 1),
                r.clone(),
            );
        }
    } else {
        b.heading("COWS items");
        b.note("Pulse: leave empty to score it from the heart rate below.");
        b.row();
        for ((name, _), (question, anchors)) in clinical::cows::ITEMS
            .iter()
            .zip(clinical::cows::ANCHORS.iter())
        {
            let mut opts = vec![(String::new(), "—".to_string())];
            opts.extend(
                anchors
                    .iter()
                    .map(|(v, l)| (v.to_string(), format!("{v} — {l}"))),
            );
            b.select(&format!("items.{name}"), question, opts);
        }
        b.end_row();
    }
    b.heading("Vital signs");
    b.row();
    b.number("vitals.sbp", "Systolic BP (mmHg)", "1");
    b.number("vitals.dbp", "Diastolic BP (mmHg)", "1");
    b.number("vitals.hr", "Heart rate (/min)", "1");
    b.number("vitals.temp_c", "Temperature (°C)", "0.1");
    b.number("vitals.spo2", "SpO2 (%)", "1");
    b.number("vitals.rr", "Respiratory rate (/min)", "1");
    b.end_row();
}

fn flowsheet_page(
    p: &Principal,
    id: PatientId,
    v: &Values,
    errs: &[FieldError],
    amend: Option<&str>,
) -> FormPage {
    let scale = if v.get("scale") == "sows" {
        "sows"
    } else {
        "cows"
    };
    let mut b = Builder::new(v, errs);
    amend_fields(&mut b, amend);
    flowsheet_fields(&mut b, scale);
    let mut page = FormPage::new(
        p,
        match (scale, amend.is_some()) {
            ("sows", false) => "SOWS entry",
            ("sows", true) => "Correct a SOWS entry",
            (_, false) => "COWS entry",
            (_, true) => "Correct a COWS entry",
        },
        action_for(amend, format!("/patients/{id}/flowsheet")),
    );
    page.back = back(id);
    page.patient_id = Some(id);
    page.intro = if scale == "sows" {
        "Subjective Opiate Withdrawal Scale with vital signs.".into()
    } else {
        "Clinical Opiate Withdrawal Scale with vital signs. The score updates as you choose.".into()
    };
    page.fields = b.fields;
    // A calculator over the form being typed: it names no patient.
    page.preview = Some("/flowsheet/preview".to_string());
    page.submit = "Save entry".into();
    page.with_errors(errs)
}

#[derive(Deserialize, Default)]
pub struct ScaleQuery {
    #[serde(default)]
    scale: String,
}

pub async fn flowsheet_form(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Query(q): Query<ScaleQuery>,
) -> HtmlResult<Response> {
    let id = pid(&id)?;
    let s = open_write(&state, &p, id, "flowsheet.form").await?;
    let mut v = Values::default();
    v.set("scale", if q.scale == "sows" { "sows" } else { "cows" });
    v.set("observed_at", local_input(s.now, &s.tz));
    Ok(flowsheet_page(&p, id, &v, &[], None).show(&state, &p).await)
}

pub async fn flowsheet_submit(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(pairs): Pairs,
) -> HtmlResult<Response> {
    let id = pid(&id)?;
    let v = Values(pairs);
    let r = async {
        let input: FlowsheetInput = form::parse(&v.0, &[])?;
        chart::create(&state.app, &p, id, &Input::Flowsheet(input)).await
    }
    .await;
    match r {
        // A dangerous reading opens the chart at its alert, not below it.
        Ok((_, body)) => {
            let danger = match &body {
                carepath_app::kinds::Body::Cows(b) => !b.danger.is_empty(),
                carepath_app::kinds::Body::Sows(b) => !b.danger.is_empty(),
                _ => false,
            };
            let at = if danger { "danger-h" } else { "withdrawal" };
            Ok(Redirect::to(&chart_url(id, at)).into_response())
        }
        Err(e) => Ok(flowsheet_page(&p, id, &v, &field_errors(e)?, None)
            .show(&state, &p)
            .await),
    }
}

/// Live score for the flowsheet form (htmx); nothing is stored.
pub async fn flowsheet_preview(Form(pairs): Pairs) -> Response {
    let v = Values(pairs);
    let text = if v.get("scale") == "sows" {
        let items: Vec<u8> = (0..16)
            .filter_map(|i| v.num::<u8>(&format!("sows[{i}]")))
            .collect();
        format!(
            "SOWS so far: {}",
            items.iter().map(|x| *x as u32).sum::<u32>()
        )
    } else {
        let mut items = std::collections::BTreeMap::new();
        for (name, _) in clinical::cows::ITEMS.iter() {
            if let Some(x) = v.num::<u8>(&format!("items.{name}")) {
                items.insert((*name).to_string(), x as u32);
            }
        }
        if !items.contains_key("pulse")
            && let Some(hr) = v.num::<u16>("vitals.hr")
        {
            items.insert("pulse".into(), clinical::cows::pulse_score(hr) as u32);
        }
        let scored = items.len();
        let total: u32 = items.values().sum();
        let band = clinical::cows::band(total.min(48) as u8).label();
        format!("COWS {total} — {band} ({scored} of 11 items scored)")
    };
    crate::views::render(&ScorePreview { text }).into_response()
}

/// The live score fragment swapped into the flowsheet form.
#[derive(askama::Template)]
#[template(
    source = "<p class=\"score\"><strong>{{ text }}</strong></p>",
    ext = "html"
)]
struct ScorePreview {
    text: String,
}

// ---------------------------------------------------------------- orders

fn order_page(
    p: &Principal,
    id: PatientId,
    v: &Values,
    errs: &[FieldError],
    amend: Option<&str>,
) -> FormPage {
    let mut b = Builder::new(v, errs);
    amend_fields(&mut b, amend);
    b.select(
        "medication",
        "Medication",
        clinical::comfort::FORMULARY.iter().map(|m| {
            (
                m.name,
                format!(
                    "{} (max {} mg/dose, {} mg/day)",
                    m.name, m.max_single_mg, m.max_daily_mg
                ),
            )
        }),
    );
    b.number("dose_mg", "Dose (mg)", "any").required();
    b.number("every_h", "At most every (hours)", "0.5")
        .required();
    b.check("prn", "As needed (PRN)");
    b.text("indication", "Indication (e.g. anxiety, diarrhea, aches)");
    b.note("Default hold parameters for alpha-2 agonists apply (hold for low blood pressure or heart rate). A nurse's entry waits for a prescriber's signature before it can be given.");
    patient_form(
        p,
        id,
        if amend.is_some() {
            "Change a comfort-medication order"
        } else {
            "Comfort-medication order"
        },
        action_for(amend, format!("/patients/{id}/orders")),
        b,
        "Enter order",
    )
    .with_errors(errs)
}

pub async fn order_form(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> HtmlResult<Response> {
    let id = pid(&id)?;
    open_write(&state, &p, id, "order.form").await?;
    let mut v = Values::default();
    v.set("every_h", "6");
    v.set("prn", "true");
    Ok(order_page(&p, id, &v, &[], None).show(&state, &p).await)
}

pub async fn order_submit(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(pairs): Pairs,
) -> HtmlResult<Response> {
    let id = pid(&id)?;
    let v = Values(pairs);
    let r = async {
        let input: OrderInput = form::parse(&v.0, &[])?;
        chart::create(&state.app, &p, id, &Input::Order(input)).await
    }
    .await;
    match r {
        Ok(_) => Ok(Redirect::to(&chart_url(id, "orders")).into_response()),
        Err(e) => Ok(order_page(&p, id, &v, &field_errors(e)?, None)
            .show(&state, &p)
            .await),
    }
}

/// A dose given or held against an order, as a page of its own: shown
/// again when the dose is refused, with what was typed, each problem beside
/// its field, and the order (its hold limits) above.
fn administer_page(
    p: &Principal,
    id: PatientId,
    rid: &str,
    order: &str,
    v: &Values,
    errs: &[FieldError],
) -> FormPage {
    let mut b = Builder::new(v, errs);
    b.number("sbp", "Systolic BP", "1").required();
    b.number("dbp", "Diastolic BP", "1").required();
    b.number("hr", "Heart rate", "1").required();
    b.radio("given", "Dose", [("true", "Given"), ("false", "Held")]);
    b.text("hold_reason", "Reason held (required when held)");
    let mut page = patient_form(
        p,
        id,
        "Give or hold a dose",
        format!("/records/{rid}/administer"),
        b,
        "Record",
    );
    page.panels.push(crate::pages::forms::Panel {
        title: "The order".into(),
        lines: vec![order.to_string()],
        tone: "info",
    });
    page.with_errors(errs)
}

/// Inline administration form on the chart.
pub async fn administer(
    State(state): State<AppState>,
    p: Principal,
    Path(rid): Path<String>,
    Form(mut pairs): Pairs,
) -> HtmlResult<Response> {
    let (s, order) = access::open_for_record(
        &state.app,
        &p,
        &rid,
        Permission::WriteClinical,
        "order.open",
    )
    .await?;
    let id = s.patient.id;
    pairs.retain(|(k, _)| k != "order_id");
    let typed = Values(pairs.clone());
    pairs.push(("order_id".into(), rid.clone()));
    let r = async {
        let input: AdministrationInput = form::parse(&pairs, &[])?;
        chart::create(&state.app, &p, id, &Input::Administration(input)).await
    }
    .await;
    match r {
        Ok(_) => Ok(Redirect::to(&chart_url(id, "orders")).into_response()),
        Err(e) => {
            let errs = field_errors(e)?;
            Ok(administer_page(&p, id, &rid, &order.summary, &typed, &errs)
                .show(&state, &p)
                .await)
        }
    }
}

// ---------------------------------------------------------------- notes

async fn cosigners(
    state: &AppState,
    p: &Principal,
    program: ProgramId,
) -> Result<Vec<(String, String)>, AppError> {
    let mut out = vec![(String::new(), "No co-signature needed".to_string())];
    for (id, name) in admin::cosigners(&state.app, p, program).await? {
        out.push((id.to_string(), format!("{name} (supervisor)")));
    }
    Ok(out)
}

fn note_fields(
    b: &mut Builder,
    template: &str,
    cosign: Vec<(String, String)>,
    goals: Vec<(String, String)>,
    sessions: Vec<(String, String)>,
) {
    b.hidden("template");
    b.radio("service", "Service", notes::SERVICES);
    b.datetime("occurred_at", "Session time")
        .hint("More than 24 hours ago: the note is flagged as a late entry.");
    if sessions.len() > 1 {
        b.select("session_id", "Calendar session (optional)", sessions);
    }
    for (k, l) in notes::sections_of(template).iter() {
        b.area(&format!("sections.{k}"), l).required();
    }
    if !goals.is_empty() {
        b.checks("goal_refs", "Treatment-plan goals addressed", goals);
    }
    b.select("cosigner_id", "Co-signature (trainees)", cosign);
    b.check(
        "private",
        "Private counseling note (42 CFR § 2.11): only you and the co-signer can read it; never disclosed",
    );
}

/// Goals of the patient's current plan, for linking notes.
async fn plan_goals(state: &AppState, s: &PatientScope) -> Result<Vec<(String, String)>, AppError> {
    let plans = s.entries(&state.app, &[Kind::Plan]).await?;
    let Some(plan) = plans.iter().rev().find(|r| r.is_current()) else {
        return Ok(vec![]);
    };
    let Body::Plan(b) = &plan.body else {
        return Ok(vec![]);
    };
    Ok(b.problems
        .iter()
        .enumerate()
        .map(|(i, x)| {
            (
                format!("{}#{i}", plan.root_id),
                format!("Goal {}: {}", i + 1, x.goal),
            )
        })
        .collect())
}

async fn recent_sessions(
    state: &AppState,
    p: &Principal,
    s: &PatientScope,
) -> Result<Vec<(String, String)>, AppError> {
    let now = s.now;
    let mut v = vec![(String::new(), "—".to_string())];
    let day = carepath_app::clock::DAY_US;
    if !p.holds_in(s.program.id, Permission::ReadClinical) {
        return Ok(v);
    }
    for x in work::sessions(&state.app, p, s.program.id, now - 14 * day, now + day).await? {
        v.push((
            x.id,
            format!(
                "{} — {}",
                crate::views::fmt_time(x.starts_at, &s.tz),
                x.title
            ),
        ));
    }
    Ok(v)
}

async fn note_page(
    state: &AppState,
    p: &Principal,
    s: &PatientScope,
    v: &Values,
    errs: &[FieldError],
    amend: Option<&str>,
) -> Result<FormPage, AppError> {
    let id = s.patient.id;
    let template = v.opt("template").unwrap_or("DAP".into());
    let mut b = Builder::new(v, errs);
    if amend.is_some() {
        b.area("reason", "Reason for the amendment")
            .required()
            .hint("Kept with the new version; the original stays in the record.");
    }
    note_fields(
        &mut b,
        &template,
        cosigners(state, p, s.program.id).await?,
        plan_goals(state, s).await?,
        recent_sessions(state, p, s).await?,
    );
    let title = if amend.is_some() {
        "Amend note"
    } else {
        "Progress note"
    };
    let mut page = FormPage::new(
        p,
        format!("{title} ({template})"),
        action_for(amend, format!("/patients/{id}/notes")),
    );
    page.back = back(id);
    page.patient_id = Some(id);
    if amend.is_none() {
        page.intro = format!(
            "Template: {template}. Switch to another template (what you typed is not kept):"
        );
        page.links = notes::TEMPLATES
            .iter()
            .map(|t| t.0)
            .filter(|t| *t != template)
            .map(|t| {
                (
                    format!("/patients/{id}/notes?template={t}"),
                    format!("{t} note"),
                )
            })
            .collect();
    }
    page.fields = b.fields;
    page.submit = if amend.is_some() {
        "Save amendment".into()
    } else {
        "Save note (sign it next)".into()
    };
    Ok(page.with_errors(errs))
}

#[derive(Deserialize, Default)]
pub struct NoteQuery {
    #[serde(default)]
    template: String,
    #[serde(default)]
    session: String,
}

pub async fn note_form(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Query(q): Query<NoteQuery>,
) -> HtmlResult<Response> {
    let id = pid(&id)?;
    let s = open_write(&state, &p, id, "note.form").await?;
    let mut v = Values::default();
    let t = if ["DAP", "SOAP", "BIRP"].contains(&q.template.as_str()) {
        q.template.as_str()
    } else {
        "DAP"
    };
    v.set("template", t);
    v.set(
        "service",
        if q.session.is_empty() {
            "individual"
        } else {
            "group"
        },
    );
    v.set("session_id", q.session);
    v.set("occurred_at", local_input(s.now, &s.tz));
    Ok(note_page(&state, &p, &s, &v, &[], None)
        .await?
        .show(&state, &p)
        .await)
}

pub async fn note_submit(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(pairs): Pairs,
) -> HtmlResult<Response> {
    let id = pid(&id)?;
    let v = Values(pairs);
    let r = async {
        let input: NoteInput = form::parse(&v.0, &[])?;
        chart::create(&state.app, &p, id, &Input::Note(input)).await
    }
    .await;
    match r {
        Ok(_) => Ok(Redirect::to(&chart_url(id, "notes")).into_response()),
        Err(e) => {
            let errs = field_errors(e)?;
            let s = open_write(&state, &p, id, "note.form").await?;
            Ok(note_page(&state, &p, &s, &v, &errs, None)
                .await?
                .show(&state, &p)
                .await)
        }
    }
}

// ---------------------------------------------------------------- plan

fn plan_fields(b: &mut Builder) {
    let mut kinds = vec![(String::new(), "—".to_string())];
    kinds.extend(
        notes::INTERVENTIONS
            .iter()
            .map(|(k, l)| (k.to_string(), l.to_string())),
    );
    for k in 0..2 {
        b.heading(&format!(
            "Problem {}{}",
            k + 1,
            if k > 0 { " (optional)" } else { "" }
        ));
        b.area(
            &format!("problems[{k}].problem"),
            "Problem (in the patient's words where possible)",
        );
        b.text(&format!("problems[{k}].goal"), "Measurable goal");
        b.text(
            &format!("problems[{k}].measure"),
            "How progress is measured",
        );
        for j in 0..2 {
            b.row();
            b.text(
                &format!("problems[{k}].objectives[{j}].text"),
                &format!("Objective {}", j + 1),
            );
            b.date(
                &format!("problems[{k}].objectives[{j}].target_date"),
                &format!("Objective {}: target date", j + 1),
            );
            b.end_row();
        }
        for j in 0..3 {
            b.row();
            b.select(
                &format!("problems[{k}].interventions[{j}].kind"),
                &format!("Intervention {}", j + 1),
                kinds.clone(),
            );
            b.text(
                &format!("problems[{k}].interventions[{j}].responsible"),
                &format!("Intervention {}: responsible staff", j + 1),
            );
            b.end_row();
        }
        b.area(&format!("problems[{k}].progress"), "Progress (at review)");
    }
    b.heading("Review and participation");
    b.date("review_due", "Next review").required();
    b.check(
        "patient_participated",
        "The patient took part in writing this plan",
    );
}

fn plan_page(
    p: &Principal,
    id: PatientId,
    v: &Values,
    errs: &[FieldError],
    amend: Option<&str>,
) -> FormPage {
    let review = amend.is_some();
    let mut b = Builder::new(v, errs);
    if review {
        b.area("reason", "Review note (why the plan changes)")
            .required();
    }
    plan_fields(&mut b);
    let mut page = FormPage::new(
        p,
        if review {
            "Treatment plan review"
        } else {
            "Treatment plan"
        },
        action_for(amend, format!("/patients/{id}/plan")),
    );
    page.back = back(id);
    page.patient_id = Some(id);
    page.intro = "Problems, measurable goals, objectives with target dates, interventions and who is responsible for each. The patient signs on the chart.".into();
    page.fields = b.fields;
    page.submit = "Save plan".into();
    page.with_errors(errs)
}

pub async fn plan_form(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> HtmlResult<Response> {
    let id = pid(&id)?;
    let s = open_write(&state, &p, id, "plan.form").await?;
    let mut v = Values::default();
    v.set(
        "review_due",
        s.today()
            .checked_add(jiff::Span::new().days(30))
            .map(|d| d.to_string())
            .unwrap_or_default(),
    );
    Ok(plan_page(&p, id, &v, &[], None).show(&state, &p).await)
}

pub async fn plan_submit(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(pairs): Pairs,
) -> HtmlResult<Response> {
    let id = pid(&id)?;
    let v = Values(pairs);
    let r = async {
        let input: PlanInput = form::parse(&v.0, &[])?;
        chart::create(&state.app, &p, id, &Input::Plan(input)).await
    }
    .await;
    match r {
        Ok(_) => Ok(Redirect::to(&chart_url(id, "plan")).into_response()),
        Err(e) => Ok(plan_page(&p, id, &v, &field_errors(e)?, None)
            .show(&state, &p)
            .await),
    }
}

// ---------------------------------------------------------------- corrections

/// The correction page of a record of `kind`, with values and errors.
async fn amend_page(
    state: &AppState,
    p: &Principal,
    s: &PatientScope,
    rid: &str,
    kind: Kind,
    v: &Values,
    errs: &[FieldError],
) -> Result<FormPage, AppError> {
    let id = s.patient.id;
    let amend = Some(rid);
    Ok(match kind {
        Kind::Note => note_page(state, p, s, v, errs, amend).await?,
        Kind::Plan => plan_page(p, id, v, errs, amend),
        Kind::Cows | Kind::Sows => flowsheet_page(p, id, v, errs, amend),
        Kind::Consent => consent_page(p, id, v, errs, amend),
        Kind::Assessment => assessment_page(p, id, v, errs, vec![], amend),
        Kind::Order => order_page(p, id, v, errs, amend),
        Kind::Administration
        | Kind::ConsentRevocation
        | Kind::Attendance
        | Kind::Enrollment
        | Kind::Discharge
        | Kind::Followup
        | Kind::FollowupOutcome => {
            return Err(AppError::invalid(
                "kind",
                "this kind of entry is corrected through the API or its own action",
            ));
        }
    })
}

pub async fn amend_form(
    State(state): State<AppState>,
    p: Principal,
    Path(rid): Path<String>,
) -> HtmlResult<Response> {
    let (s, e) = access::open_for_record(
        &state.app,
        &p,
        &rid,
        Permission::WriteClinical,
        "record.amend.form",
    )
    .await?;
    if e.kind == Kind::Note && e.author_id != p.user_id.to_string() {
        return Err(AppError::Forbidden(
            "a note is amended by its author; write your own note instead".into(),
        )
        .into());
    }
    let v = chart::input_of(&s, &e)
        .map(|i| form::values(&i.to_json()))
        .unwrap_or_default();
    Ok(amend_page(&state, &p, &s, &rid, e.kind, &v, &[])
        .await?
        .show(&state, &p)
        .await)
}

pub async fn amend_submit(
    State(state): State<AppState>,
    p: Principal,
    Path(rid): Path<String>,
    Form(pairs): Pairs,
) -> HtmlResult<Response> {
    let (s, e) = access::open_for_record(
        &state.app,
        &p,
        &rid,
        Permission::WriteClinical,
        "record.amend.form",
    )
    .await?;
    let v = Values(pairs);
    let r = async {
        let input = parse_input(e.kind, &v.0, &["reason", "action"])?;
        chart::amend(&state.app, &p, &rid, v.get("reason"), &input).await
    }
    .await;
    match r {
        Ok(_) => Ok(Redirect::to(&chart_url(s.patient.id, anchor(e.kind))).into_response()),
        Err(err) => {
            let errs = field_errors(err)?;
            Ok(amend_page(&state, &p, &s, &rid, e.kind, &v, &errs)
                .await?
                .show(&state, &p)
                .await)
        }
    }
}

/// Sign (author, co-sign, or the patient's signature) from the chart.
pub async fn sign(
    State(state): State<AppState>,
    p: Principal,
    Path(rid): Path<String>,
    Form(pairs): Pairs,
) -> HtmlResult<Response> {
    let (s, e) = access::open_for_record(
        &state.app,
        &p,
        &rid,
        Permission::WriteClinical,
        "record.sign.form",
    )
    .await?;
    let at = anchor(e.kind);
    let r = async {
        let input: chart::SignInput = form::parse(&pairs, &[])?;
        chart::sign(&state.app, &p, &rid, &input).await
    }
    .await;
    match r {
        Ok(()) => Ok(Redirect::to(&chart_url(s.patient.id, at)).into_response()),
        Err(AppError::Invalid(errs)) => Ok(chart_with_errors(s.patient.id, &errs, at)),
        Err(e) => Err(e.into()),
    }
}

pub async fn revoke(
    State(state): State<AppState>,
    p: Principal,
    Path(rid): Path<String>,
    Form(pairs): Pairs,
) -> HtmlResult<Response> {
    let v = Values(pairs);
    chart::revoke(&state.app, &p, &rid, v.get("note")).await?;
    let (s, _) = access::open_for_record(
        &state.app,
        &p,
        &rid,
        Permission::ReadClinical,
        "consent.read",
    )
    .await?;
    Ok(Redirect::to(&chart_url(s.patient.id, "consents")).into_response())
}

// ---------------------------------------------------------------- consents and disclosures

fn consent_page(
    p: &Principal,
    id: PatientId,
    v: &Values,
    errs: &[FieldError],
    amend: Option<&str>,
) -> FormPage {
    let mut b = Builder::new(v, errs);
    amend_fields(&mut b, amend);
    b.radio(
        "kind",
        "Kind of consent",
        clinical::consent::Kind::ALL
            .iter()
            .map(|k| (k.as_str(), k.label())),
    );
    b.text("recipient", "Who may receive the information (name or entity)").hint("For the TPO consent, a general designation such as \"my treating providers and health plan\".");
    b.area(
        "information",
        "How much and what kind of information, including the substance-use-disorder information",
    );
    b.text("purpose", "Purpose of the disclosure");
    b.date("expires_on", "Expires on");
    b.text(
        "expiry_event",
        "…or expires at an event (e.g. \"end of treatment\"; \"none\" only for TPO)",
    );
    b.text("signed_by", "Signed by (patient or legal representative)")
        .required();
    b.date("signed_on", "Date signed").required();
    b.note("The patient may revoke this consent in writing at any time, except where action has already been taken in reliance on it (42 CFR § 2.31).");
    patient_form(
        p,
        id,
        if amend.is_some() {
            "Correct a consent"
        } else {
            "Consent"
        },
        action_for(amend, format!("/patients/{id}/consents")),
        b,
        "Record consent",
    )
    .with_errors(errs)
}

pub async fn consent_form(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> HtmlResult<Response> {
    let id = pid(&id)?;
    let s = open_write(&state, &p, id, "consent.form").await?;
    let mut v = Values::default();
    v.set("kind", "disclosure");
    v.set("signed_on", s.today().to_string());
    v.set(
        "signed_by",
        format!(
            "{} {}",
            s.patient.legal_first_name, s.patient.legal_last_name
        ),
    );
    Ok(consent_page(&p, id, &v, &[], None).show(&state, &p).await)
}

pub async fn consent_submit(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(pairs): Pairs,
) -> HtmlResult<Response> {
    let id = pid(&id)?;
    let v = Values(pairs);
    let r = async {
        let input = parse_input(Kind::Consent, &v.0, &[])?;
        chart::create(&state.app, &p, id, &input).await
    }
    .await;
    match r {
        Ok(_) => Ok(Redirect::to(&chart_url(id, "consents")).into_response()),
        Err(e) => Ok(consent_page(&p, id, &v, &field_errors(e)?, None)
            .show(&state, &p)
            .await),
    }
}

async fn disclose_page(
    state: &AppState,
    p: &Principal,
    s: &PatientScope,
    v: &Values,
    errs: &[FieldError],
) -> Result<FormPage, AppError> {
    let id = s.patient.id;
    let records = s
        .entries(&state.app, &[Kind::Consent, Kind::ConsentRevocation])
        .await?;
    let mut opts = vec![(String::new(), "— choose the consent —".to_string())];
    for (c, rev) in chart::consents_with_state(&records) {
        if matches!(&c.body, Body::Consent(b) if b.consent.kind == clinical::consent::Kind::Treatment)
        {
            continue;
        }
        opts.push((
            c.id.clone(),
            format!(
                "{}{}",
                c.summary,
                if rev.is_some() { " (REVOKED)" } else { "" }
            ),
        ));
    }
    let mut b = Builder::new(v, errs);
    b.select("consent_id", "Consent that permits this disclosure", opts);
    b.text("recipient", "Recipient").required();
    b.text("purpose", "Purpose").required();
    b.select(
        "channel",
        "How",
        [
            ("print", "Printed / handed over"),
            ("fax", "Fax"),
            ("export", "Electronic export"),
        ],
    );
    let mut page = FormPage::new(p, "Disclose records", format!("/patients/{id}/disclose"));
    page.back = back(id);
    page.patient_id = Some(id);
    page.intro = "A disclosure needs a valid consent naming this recipient. The summary carries the 42 CFR § 2.32 notice and is written to the accounting of disclosures.".into();
    page.fields = b.fields;
    page.submit = "Disclose".into();
    Ok(page.with_errors(errs))
}

pub async fn disclose_form(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> HtmlResult<Response> {
    let id = pid(&id)?;
    let s = open_write(&state, &p, id, "disclosure.form").await?;
    Ok(disclose_page(&state, &p, &s, &Values::default(), &[])
        .await?
        .show(&state, &p)
        .await)
}

#[derive(askama::Template)]
#[template(path = "disclosure.html")]
struct DisclosurePage {
    nav: crate::views::Nav,
    title: String,
    patient_id: PatientId,
    doc: chart::DisclosedDocument,
}

pub async fn disclose_submit(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(pairs): Pairs,
) -> HtmlResult<Response> {
    let id = pid(&id)?;
    let v = Values(pairs);
    let r = async {
        let input: chart::DisclosureInput = form::parse(&v.0, &[])?;
        chart::disclose(&state.app, &p, id, &input).await
    }
    .await;
    let errs = match r {
        Ok(doc) => {
            return Ok(crate::views::render(&DisclosurePage {
                nav: crate::views::Nav::for_principal(&p),
                title: "Disclosed summary".into(),
                patient_id: id,
                doc,
            })
            .into_response());
        }
        Err(AppError::Forbidden(msg)) => vec![FieldError::new("consent_id", msg)],
        Err(e) => field_errors(e)?,
    };
    let s = open_write(&state, &p, id, "disclosure.form").await?;
    Ok(disclose_page(&state, &p, &s, &v, &errs)
        .await?
        .show(&state, &p)
        .await)
}

#[derive(askama::Template)]
#[template(path = "disclosures.html")]
struct AccountingPage {
    nav: crate::views::Nav,
    title: String,
    patient_id: PatientId,
    name: String,
    rows: Vec<(String, String, String, String, String)>,
}

pub async fn disclosures(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> HtmlResult<Response> {
    let id = pid(&id)?;
    let s = access::open(
        &state.app,
        &p,
        id,
        Permission::ReadClinical,
        "disclosure.list",
    )
    .await?;
    let rows = s
        .disclosures(&state.app)
        .await?
        .into_iter()
        .map(|d| {
            (
                crate::views::fmt_time(d.disclosed_at, &s.tz),
                d.recipient,
                d.purpose,
                d.information,
                d.channel,
            )
        })
        .collect();
    Ok(crate::views::render(&AccountingPage {
        nav: crate::views::Nav::for_principal(&p),
        title: "Accounting of disclosures".into(),
        patient_id: id,
        name: s.patient.display_name(),
        rows,
    })
    .into_response())
}

// ---------------------------------------------------------------- discharge and episodes

fn discharge_page(p: &Principal, s: &PatientScope, v: &Values, errs: &[FieldError]) -> FormPage {
    let id = s.patient.id;
    let mut b = Builder::new(v, errs);
    b.select(
        "reason",
        "Reason (TEDS)",
        codes(&clinical::teds::DISCHARGE_REASONS),
    )
    .required();
    b.area("summary", "Discharge summary").required();
    b.heading("Aftercare plan");
    b.text(
        "aftercare.outpatient_therapy",
        "Continuing outpatient therapy (where, when)",
    );
    b.text("aftercare.medication", "Medication continuation and where");
    b.text(
        "aftercare.support_groups",
        "Support groups (Narcotics Anonymous, SMART Recovery…)",
    );
    b.text("aftercare.sober_living", "Sober living referral");
    b.text(
        "aftercare.housing_employment",
        "Housing and employment supports",
    );
    b.heading("Overdose risk");
    let level = s
        .episode
        .as_ref()
        .map(|e| e.level_of_care.clone())
        .unwrap_or_default();
    let rule = clinical::discharge::naloxone_required(&clinical::discharge::Situation {
        level_of_care: level,
        reason: 1,
        taper_completed: false,
        continuing_agonist: false,
    });
    b.warn(&format!(
        "If treatment is completed here: {} — {}",
        if rule.required {
            "naloxone and overdose education REQUIRED"
        } else {
            "naloxone recommended"
        },
        rule.why
    ));
    b.check(
        "taper_completed",
        "A methadone or buprenorphine taper was completed",
    );
    b.check(
        "continuing_agonist",
        "Continues methadone or buprenorphine after discharge",
    );
    b.check(
        "naloxone.education_given",
        "Overdose-risk education given (loss of tolerance, never use alone, call 911)",
    );
    b.check("naloxone.kit_given", "Naloxone kit given");
    b.text(
        "naloxone.not_given_reason",
        "If not given: why (declined, already has a kit…)",
    );
    {
        use clinical::teds as t;
        b.heading("For the state report (TEDS), at discharge");
        for (k, which) in ["Primary", "Secondary", "Tertiary"].iter().enumerate() {
            b.select(
                &format!("teds.frequencies[{k}]"),
                &format!("{which} substance of the intake: use in the past month"),
                teds_answers(&t::FREQUENCIES),
            );
        }
        b.select(
            "teds.employment",
            "Employment",
            teds_answers(&t::EMPLOYMENT),
        );
        b.select(
            "teds.not_in_labor_force",
            "If not in the labor force",
            teds_answers(&t::NOT_IN_LABOR_FORCE),
        );
        b.select(
            "teds.living",
            "Living arrangement",
            teds_answers(&t::LIVING),
        );
        b.select(
            "teds.self_help_30d",
            "Self-help groups, past 30 days",
            teds_answers(&t::SELF_HELP),
        );
        b.number(
            "teds.arrests_30d",
            "Arrests in the past 30 days (-9 unknown)",
            "1",
        );
    }
    b.heading("Follow-up calls");
    b.number("followup_every_days", "Every (days)", "1");
    b.number("followup_count", "Number of calls", "1");
    patient_form(
        p,
        id,
        "Discharge",
        format!("/patients/{id}/discharge"),
        b,
        "Discharge",
    )
    .with_errors(errs)
}

pub async fn discharge_form(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> HtmlResult<Response> {
    let id = pid(&id)?;
    let s = open_write(&state, &p, id, "discharge.form").await?;
    let mut v = Values::default();
    v.set("followup_every_days", s.followup.0.to_string());
    v.set("followup_count", s.followup.1.to_string());
    Ok(discharge_page(&p, &s, &v, &[]).show(&state, &p).await)
}

pub async fn discharge_submit(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(pairs): Pairs,
) -> HtmlResult<Response> {
    let id = pid(&id)?;
    let v = Values(pairs);
    let r = async {
        let input: DischargeInput = form::parse(&v.0, &[])?;
        chart::discharge(&state.app, &p, id, &input).await
    }
    .await;
    match r {
        Ok(_) => Ok(Redirect::to(&chart_url(id, "aftercare")).into_response()),
        Err(e) => {
            let errs = field_errors(e)?;
            let s = open_write(&state, &p, id, "discharge.form").await?;
            Ok(discharge_page(&p, &s, &v, &errs).show(&state, &p).await)
        }
    }
}

fn episode_page(
    p: &Principal,
    s: &PatientScope,
    programs: Vec<(String, String)>,
    v: &Values,
    errs: &[FieldError],
) -> FormPage {
    let id = s.patient.id;
    let mut b = Builder::new(v, errs);
    b.select("program_id", "Program", programs);
    b.select("level_of_care", "Level of care", levels());
    let transfer = s.episode.is_some();
    let mut page = FormPage::new(
        p,
        if transfer { "Transfer" } else { "Admit" },
        format!("/patients/{id}/episode"),
    );
    page.back = back(id);
    page.patient_id = Some(id);
    page.intro = if transfer {
        "Closes the current episode as transferred and opens the next one.".into()
    } else {
        "Opens a new episode of care; earlier episodes stay in the history.".into()
    };
    page.fields = b.fields;
    page.submit = if transfer {
        "Transfer".into()
    } else {
        "Admit".into()
    };
    page.with_errors(errs)
}

async fn my_programs(state: &AppState, p: &Principal) -> Result<Vec<(String, String)>, AppError> {
    let mine = p.programs_with(Permission::WriteClinical);
    Ok(work::programs(&state.app)
        .await?
        .into_iter()
        .filter(|g| mine.contains(&g.id))
        .map(|g| (g.id.to_string(), g.name))
        .collect())
}

pub async fn episode_form(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> HtmlResult<Response> {
    let id = pid(&id)?;
    let s = open_write(&state, &p, id, "episode.form").await?;
    let mut v = Values::default();
    v.set("program_id", s.program.id.to_string());
    // The program's own level of care, never the first in the list (a
    // methadone clinic's patient is not admitted to detox by one click).
    v.set("level_of_care", s.program.kind.as_str().to_string());
    Ok(
        episode_page(&p, &s, my_programs(&state, &p).await?, &v, &[])
            .show(&state, &p)
            .await,
    )
}

pub async fn episode_submit(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(pairs): Pairs,
) -> HtmlResult<Response> {
    let id = pid(&id)?;
    let v = Values(pairs);
    let s = open_write(&state, &p, id, "episode.form").await?;
    let r = if s.episode.is_some() {
        match form::parse::<chart::TransferInput>(&v.0, &[]) {
            Ok(i) => chart::transfer(&state.app, &p, id, &i).await.map(|_| ()),
            Err(e) => Err(e),
        }
    } else {
        match form::parse::<chart::AdmitInput>(&v.0, &[]) {
            Ok(i) => chart::admit(&state.app, &p, id, &i).await.map(|_| ()),
            Err(e) => Err(e),
        }
    };
    let errs = match r {
        Ok(()) => return Ok(Redirect::to(&chart_url(id, "timeline")).into_response()),
        Err(AppError::Conflict(m)) => vec![FieldError::new("program_id", m)],
        Err(e) => field_errors(e)?,
    };
    Ok(
        episode_page(&p, &s, my_programs(&state, &p).await?, &v, &errs)
            .show(&state, &p)
            .await,
    )
}

// ---------------------------------------------------------------- follow-up outcome

pub async fn followup(
    State(state): State<AppState>,
    p: Principal,
    Path(rid): Path<String>,
    Form(pairs): Pairs,
) -> HtmlResult<Response> {
    let v = Values(pairs);
    let o: FollowUpOutcome = form::parse(&v.0, &["from"])?;
    chart::followup_outcome(&state.app, &p, &rid, &o).await?;
    let to = if v.get("from") == "worklist" {
        "/worklist".to_string()
    } else {
        let (s, _) = access::open_for_record(
            &state.app,
            &p,
            &rid,
            Permission::ReadClinical,
            "followup.read",
        )
        .await?;
        chart_url(s.patient.id, "aftercare")
    };
    Ok(Redirect::to(&to).into_response())
}

// ---------------------------------------------------------------- registration details and photo

fn profile_page(p: &Principal, id: PatientId, v: &Values, errs: &[FieldError]) -> FormPage {
    let mut b = Builder::new(v, errs);
    b.text("gender_identity", "Gender identity");
    b.text("pronouns", "Pronouns");
    b.tel("phone", "Phone");
    b.text("email", "Email");
    b.area("address", "Address");
    b.text("language", "Preferred language");
    b.check("interpreter_needed", "Interpreter needed");
    let mut payers = vec![(String::new(), "—".to_string())];
    payers.extend(
        registration::PAYERS
            .iter()
            .map(|(k, l)| (k.to_string(), l.to_string())),
    );
    b.select("payer", "Payer", payers);
    b.text("payer_member_id", "Member ID");
    for k in 0..3 {
        b.heading(&format!("Contact {}", k + 1));
        b.text(&format!("contacts[{k}].name"), "Name");
        let mut rel = vec![("", "—")];
        rel.extend(registration::RELATIONSHIPS);
        b.select(&format!("contacts[{k}].relationship"), "Relationship", rel);
        b.tel(&format!("contacts[{k}].phone"), "Phone");
        b.check(&format!("contacts[{k}].emergency"), "Call in an emergency");
    }
    b.note("What a family contact may be told is governed by the family-involvement consent on the chart.");
    b.heading("Allergies");
    for k in 0..4 {
        b.text(
            &format!("allergies[{k}]"),
            &format!("Allergy {} (substance — reaction)", k + 1),
        );
    }
    b.check(
        "no_known_allergies",
        "No known allergies (asked and answered)",
    );
    patient_form(
        p,
        id,
        "Registration details",
        format!("/patients/{id}/profile"),
        b,
        "Save details",
    )
    .with_errors(errs)
}

pub async fn profile_form(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> HtmlResult<Response> {
    let id = pid(&id)?;
    access::open(
        &state.app,
        &p,
        id,
        Permission::RegisterPatient,
        "profile.form",
    )
    .await?;
    let d = registration::profile(&state.app, &p, id).await?;
    Ok(profile_page(&p, id, &form::values(&d), &[])
        .show(&state, &p)
        .await)
}

pub async fn profile_submit(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(pairs): Pairs,
) -> HtmlResult<Response> {
    let id = pid(&id)?;
    let v = Values(pairs);
    let r = async {
        let d: Profile = form::parse(&v.0, &[])?;
        registration::save_profile(&state.app, &p, id, &d.tidy()).await
    }
    .await;
    match r {
        Ok(()) => Ok(Redirect::to(&format!("/patients/{id}")).into_response()),
        Err(e) => Ok(profile_page(&p, id, &v, &field_errors(e)?)
            .show(&state, &p)
            .await),
    }
}

#[derive(Deserialize)]
pub struct AllergyForm {
    #[serde(default)]
    allergies: String,
    #[serde(default)]
    no_known_allergies: Option<String>,
}

/// Record allergies from the chart (one per line), or "no known allergies".
pub async fn allergies(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(f): Form<AllergyForm>,
) -> HtmlResult<Response> {
    let id = pid(&id)?;
    let list: Vec<String> = f
        .allergies
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    match registration::save_allergies(&state.app, &p, id, &list, f.no_known_allergies.is_some())
        .await
    {
        Ok(()) => Ok(Redirect::to(&chart_url(id, "identity")).into_response()),
        Err(AppError::Invalid(errs)) => Ok(chart_with_errors(id, &errs, "allergies")),
        Err(e) => Err(e.into()),
    }
}

/// The newest identification photo.
pub async fn photo(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> HtmlResult<Response> {
    let id = pid(&id)?;
    let (ct, bytes) = registration::photo(&state.app, &p, id).await?;
    Ok((
        [
            (header::CONTENT_TYPE, ct),
            (header::CACHE_CONTROL, "no-store".into()),
        ],
        bytes,
    )
        .into_response())
}

/// Upload an identification photo (JPEG or PNG, up to 900 kB).
pub async fn photo_upload(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    mp: axum::extract::Multipart,
) -> HtmlResult<Response> {
    let id = pid(&id)?;
    let bytes = crate::form::photo_part(mp).await?;
    match registration::save_photo(&state.app, &p, id, &bytes).await {
        Ok(()) => Ok(Redirect::to(&chart_url(id, "identity")).into_response()),
        Err(AppError::Invalid(e)) => Ok(chart_with_errors(id, &e, "identity")),
        Err(e) => Err(e.into()),
    }
}

#[derive(askama::Template)]
#[template(path = "aftercare.html")]
struct AftercarePrint {
    id: PatientId,
    name: String,
    program: String,
    when: String,
    lines: Vec<String>,
    calls: Vec<String>,
}

/// The aftercare plan as a page to print and hand to the patient: the plan, the
/// follow-up call dates, overdose-risk education and naloxone steps, helplines.
/// Giving patients their own record is not a disclosure (42 CFR § 2.23); copies
/// for anyone else go through `chart::disclose` and its consent check.
pub async fn aftercare_print(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> HtmlResult<Response> {
    let id = pid(&id)?;
    let s = access::open(
        &state.app,
        &p,
        id,
        Permission::ReadClinical,
        "aftercare.print",
    )
    .await?;
    let records = s
        .entries(&state.app, &[Kind::Discharge, Kind::Followup])
        .await?;
    let Some((d, body)) = records.iter().rev().find_map(|r| match &r.body {
        Body::Discharge(b) => Some((r, b)),
        _ => None,
    }) else {
        return Err(AppError::NotFound.into());
    };
    let program = work::program(&state.app, d.program_id).await?;
    let a = &body.aftercare;
    let lines = [
        ("Counseling", &a.outpatient_therapy),
        ("Medication", &a.medication),
        ("Support groups", &a.support_groups),
        ("Sober living", &a.sober_living),
        ("Housing and work", &a.housing_employment),
    ]
    .into_iter()
    .filter(|(_, v)| !v.trim().is_empty())
    .map(|(l, v)| format!("{l}: {v}"))
    .collect();
    let calls = records
        .iter()
        .filter(|r| r.kind == Kind::Followup && r.episode_id == d.episode_id)
        .filter_map(|r| r.due_at)
        .filter_map(|t| jiff::Timestamp::from_microsecond(t).ok())
        .map(|t| t.to_zoned(s.tz.clone()).strftime("%b %-d").to_string())
        .collect();
    Ok(crate::views::render(&AftercarePrint {
        id,
        name: s.patient.display_name(),
        program: program.name,
        when: crate::views::fmt_time(d.occurred_at, &s.tz),
        lines,
        calls,
    })
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn a_screen_is_all_answered_or_not_done() {
        let mut all: Vec<(String, String)> = (0..9)
            .map(|i| (format!("phq9[{i}]"), "1".to_string()))
            .collect();
        all.push(("gad7[0]".into(), String::new()));
        let kept = screens_answered(&all).unwrap();
        assert_eq!(
            kept.iter().filter(|(k, _)| k.starts_with("phq9")).count(),
            9
        );
        assert!(
            kept.iter().all(|(k, _)| !k.starts_with("gad7")),
            "none answered: not done"
        );
        let e = screens_answered(&pairs(&[("phq9[0]", "2"), ("phq9[1]", "")])).unwrap_err();
        assert!(e.to_string().contains("item 2 is unanswered"), "{e}");
        assert!(screens_answered(&pairs(&[("name", "x")])).is_ok());
    }
}
