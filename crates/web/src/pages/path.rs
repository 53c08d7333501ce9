//! Staff pages for the patient's path: the forms (assessment, flowsheet,
//! orders, notes, plans, consents, disclosures, discharge, episodes,
//! registration details, photo) and the actions on records (sign, co-sign,
//! amend, revoke, administer, follow-up outcome). Each form converts its
//! fields into the same input the JSON API takes and calls [`crate::chart`].

use crate::AppState;
use crate::auth::Principal;
use crate::chart::{self, Ctx, holds_in};
use crate::error::{AppError, HtmlResult};
use crate::pages::forms::{Builder, FormPage, Panel, Values, field_error};
use crate::path_api;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use carepath_clinical as clinical;
use carepath_domain::FieldError;
use carepath_domain::authz::{Permission, Role};
use carepath_domain::ids::{PatientId, ProgramId};
use carepath_domain::program::ProgramKind;
use serde::Deserialize;
use serde_json::{Value, json};

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
    page.fields = b.fields;
    page.submit = submit.into();
    page
}

/// When a form amends a record: the reason field first, and the form posts to
/// the record's amend action.
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

/// Redirect to the chart with a message shown at the top (inline forms).
fn chart_with_error(id: PatientId, e: &FieldError, anchor: &str) -> Response {
    let q = serde_urlencoded::to_string([("error", format!("{}: {}", e.field, e.message))])
        .unwrap_or_default();
    Redirect::to(&format!("/patients/{id}?{q}#{anchor}")).into_response()
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

/// Now, as a `datetime-local` value in the program's time zone.
fn now_local(ctx: &Ctx) -> String {
    local(ctx, carepath_store::now_us())
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
    b.select(
        "last_opioid",
        "Last opioid used",
        [
            ("", "—"),
            ("heroin", "Heroin"),
            ("fentanyl", "Fentanyl"),
            ("short_acting", "Other short-acting opioid"),
            ("methadone", "Methadone"),
            ("buprenorphine", "Buprenorphine"),
        ],
    );
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
    b.heading("PHQ-9: over the last 2 weeks…");
    let ans: Vec<(String, String)> = clinical::screens::ANSWERS
        .iter()
        .enumerate()
        .map(|(i, a)| (i.to_string(), format!("{i} {a}")))
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
    b.check(
        "suicide_question",
        "Suicide risk: has thoughts of ending their life now or recently",
    );
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
    b.select("pregnancy", "Pregnancy status", chart::PREGNANCY);
    b.date("due_date", "Due date (if pregnant)");
    b.checks("flags", "Special populations", chart::FLAGS);
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

fn arr_u8(v: &Values, name: &str, n: usize) -> Result<Vec<u8>, AppError> {
    (0..n)
        .map(|i| {
            let f = format!("{name}[{i}]");
            v.num::<u8>(&f)?
                .ok_or_else(|| AppError::Invalid(FieldError::new(f, "answer every question")))
        })
        .collect()
}

fn assessment_input(v: &Values) -> Result<Value, AppError> {
    let mut subs = vec![];
    for k in 0..3 {
        let f = |n: &str| format!("substances[{k}].{n}");
        if v.get(&f("code")).is_empty() {
            continue;
        }
        subs.push(json!({
            "code": v.req::<u8>(&f("code"))?,
            "route": v.req::<u8>(&f("route"))?,
            "frequency": v.req::<u8>(&f("frequency"))?,
            "age_first_use": v.req::<u8>(&f("age_first_use"))?,
        }));
    }
    let mut dims = serde_json::Map::new();
    for k in [
        "withdrawal",
        "biomedical",
        "emotional_behavioral",
        "readiness",
        "relapse",
        "recovery_environment",
    ] {
        let f = format!("dimensions.{k}");
        dims.insert(
            k.into(),
            json!(
                v.num::<u8>(&f)?
                    .ok_or_else(|| AppError::Invalid(FieldError::new(f, "rate every dimension")))?
            ),
        );
    }
    Ok(json!({
        "substances": subs,
        "last_opioid": v.opt("last_opioid"),
        "last_use_at": v.opt("last_use_at"),
        "prior_treatment_episodes": v.num::<u8>("prior_treatment_episodes")?.unwrap_or(0),
        "overdoses_lifetime": v.num::<u8>("overdoses_lifetime")?.unwrap_or(0),
        "overdose_past_year": v.flag("overdose_past_year"),
        "dsm5": v.all("dsm5"),
        "medically_supervised": v.flag("medically_supervised"),
        "dimensions": dims,
        "cows": v.num::<u8>("cows")?,
        "complicated_withdrawal": v.flag("complicated_withdrawal"),
        "medical_instability": v.flag("medical_instability"),
        "psychiatric_instability": v.flag("psychiatric_instability"),
        "imminent_danger": v.flag("imminent_danger"),
        "on_medication": v.flag("on_medication"),
        "phq9": arr_u8(v, "phq9", 9)?,
        "gad7": arr_u8(v, "gad7", 7)?,
        "suicide_question": v.flag("suicide_question"),
        "suicide_followup": {"risk": v.get("suicide_followup.risk"), "action": v.get("suicide_followup.action")},
        "pregnancy": v.opt("pregnancy").unwrap_or("not_applicable".into()),
        "due_date": v.opt("due_date"),
        "flags": v.all("flags"),
        "placement": {"accept": v.get("placement.accept") != "false", "level": v.opt("placement.level"), "reason": v.get("placement.reason")},
    }))
}

/// Panels describing the engine's results in an assessment body.
pub fn assessment_panels(body: &Value) -> Vec<Panel> {
    let dx = &body["diagnosis"];
    let rec = &body["recommendation"];
    let mut d = vec![format!(
        "{} criteria counted → severity: {}",
        dx["count"],
        dx["severity"].as_str().unwrap_or("")
    )];
    for c in dx["codes"].as_array().into_iter().flatten() {
        d.push(format!(
            "{} — {}",
            c["code"].as_str().unwrap_or(""),
            c["title"].as_str().unwrap_or("")
        ));
    }
    let mut r = vec![format!(
        "Recommended now: {} ({})",
        body["recommended_kind"]
            .as_str()
            .and_then(|k| k.parse::<ProgramKind>().ok())
            .map(|k| k.label())
            .unwrap_or(""),
        rec["recommended_label"].as_str().unwrap_or("")
    )];
    r.push(format!(
        "Treatment setting: {}",
        rec["setting_label"].as_str().unwrap_or("")
    ));
    for x in rec["dimensions"].as_array().into_iter().flatten() {
        r.push(format!(
            "Dimension {} {} (rated {}): {}",
            x["dimension"],
            x["name"].as_str().unwrap_or(""),
            x["rating"],
            x["rule"].as_str().unwrap_or("")
        ));
    }
    r.push(format!(
        "Medication: {}",
        rec["medication"]["rule"].as_str().unwrap_or("")
    ));
    for n in rec["notes"].as_array().into_iter().flatten() {
        r.push(n.as_str().unwrap_or("").to_string());
    }
    r.push(rec["disclaimer"].as_str().unwrap_or("").to_string());
    let s = vec![
        format!(
            "PHQ-9 {} ({})",
            body["phq9"]["total"],
            body["phq9"]["severity"].as_str().unwrap_or("")
        ),
        format!(
            "GAD-7 {} ({})",
            body["gad7"]["total"],
            body["gad7"]["severity"].as_str().unwrap_or("")
        ),
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
    err: Option<&FieldError>,
    panels: Vec<Panel>,
) -> Response {
    assessment_page_for(p, id, v, err, panels, None)
}

fn assessment_page_for(
    p: &Principal,
    id: PatientId,
    v: &Values,
    err: Option<&FieldError>,
    panels: Vec<Panel>,
    amend: Option<&str>,
) -> Response {
    let mut b = Builder::new(v, err);
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
    page.intro = "Substance history, diagnosis, six-dimension ratings and screens. \"Show recommendation\" computes the placement without saving.".into();
    page.fields = b.fields;
    page.panels = panels;
    page.buttons = vec![(
        "action".into(),
        "review".into(),
        "Show recommendation".into(),
    )];
    page.submit = "Save assessment".into();
    page.with_error(err).respond()
}

pub async fn assessment_form(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> HtmlResult<Response> {
    let id = pid(&id)?;
    chart::open(&state, &p, id, Permission::WriteClinical, "assessment.form").await?;
    let mut v = Values::default();
    v.set("placement.accept", "true");
    v.set("pregnancy", "not_applicable");
    for i in 0..9 {
        v.set(&format!("phq9[{i}]"), "0");
    }
    for i in 0..7 {
        v.set(&format!("gad7[{i}]"), "0");
    }
    Ok(assessment_page(&p, id, &v, None, vec![]))
}

pub async fn assessment_submit(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(pairs): Pairs,
) -> HtmlResult<Response> {
    let id = pid(&id)?;
    let v = Values(pairs);
    let input = match assessment_input(&v) {
        Ok(x) => x,
        Err(e) => return Ok(assessment_page(&p, id, &v, Some(&field_error(e)?), vec![])),
    };
    if v.get("action") == "review" {
        let ctx = chart::open(
            &state,
            &p,
            id,
            Permission::WriteClinical,
            "assessment.preview",
        )
        .await?;
        let mut preview = input.clone();
        preview["placement"] = json!({"accept": true});
        let parsed: Result<chart::AssessmentInput, _> = serde_json::from_value(preview);
        let r = match parsed {
            Ok(i) => chart::build_assessment(&ctx, &i),
            Err(e) => Err(AppError::Invalid(FieldError::new("body", e.to_string()))),
        };
        return Ok(match r {
            Ok(rec) => assessment_page(&p, id, &v, None, assessment_panels(&rec.body)),
            Err(e) => assessment_page(&p, id, &v, Some(&field_error(e)?), vec![]),
        });
    }
    match chart::create(&state, &p, id, "assessment", input).await {
        Ok(_) => Ok(Redirect::to(&chart_url(id, "assessment")).into_response()),
        Err(e) => Ok(assessment_page(&p, id, &v, Some(&field_error(e)?), vec![])),
    }
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

fn flowsheet_input(v: &Values) -> Result<Value, AppError> {
    let scale = v.opt("scale").unwrap_or("cows".into());
    let mut items = serde_json::Map::new();
    let mut sows = vec![];
    if scale == "sows" {
        sows = arr_u8(v, "sows", 16)?;
    } else {
        for (name, _) in clinical::cows::ITEMS.iter() {
            let f = format!("items.{name}");
            match v.num::<u8>(&f)? {
                Some(x) => {
                    items.insert((*name).into(), json!(x));
                }
                None if *name == "pulse" => {}
                None => return Err(AppError::Invalid(FieldError::new(f, "score every item"))),
            }
        }
    }
    Ok(json!({
        "scale": scale,
        "items": items,
        "sows": sows,
        "observed_at": v.opt("observed_at"),
        "vitals": {
            "sbp": v.num::<u32>("vitals.sbp")?, "dbp": v.num::<u32>("vitals.dbp")?, "hr": v.num::<u32>("vitals.hr")?,
            "temp_c": v.num::<f64>("vitals.temp_c")?, "spo2": v.num::<u32>("vitals.spo2")?, "rr": v.num::<u32>("vitals.rr")?,
        },
    }))
}

fn flowsheet_page(p: &Principal, id: PatientId, v: &Values, err: Option<&FieldError>) -> Response {
    flowsheet_page_for(p, id, v, err, None)
}

fn flowsheet_page_for(
    p: &Principal,
    id: PatientId,
    v: &Values,
    err: Option<&FieldError>,
    amend: Option<&str>,
) -> Response {
    let scale = if v.get("scale") == "sows" {
        "sows"
    } else {
        "cows"
    };
    let mut b = Builder::new(v, err);
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
    page.intro = if scale == "sows" {
        "Subjective Opiate Withdrawal Scale with vital signs.".into()
    } else {
        "Clinical Opiate Withdrawal Scale with vital signs. The score updates as you choose.".into()
    };
    page.fields = b.fields;
    page.preview = Some(format!("/patients/{id}/flowsheet/preview"));
    page.submit = "Save entry".into();
    page.with_error(err).respond()
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
    let ctx = chart::open(&state, &p, id, Permission::WriteClinical, "flowsheet.form").await?;
    let mut v = Values::default();
    v.set("scale", if q.scale == "sows" { "sows" } else { "cows" });
    v.set("observed_at", now_local(&ctx));
    Ok(flowsheet_page(&p, id, &v, None))
}

pub async fn flowsheet_submit(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(pairs): Pairs,
) -> HtmlResult<Response> {
    let id = pid(&id)?;
    let v = Values(pairs);
    let r = match flowsheet_input(&v) {
        Ok(input) => {
            chart::create(
                &state,
                &p,
                id,
                if v.get("scale") == "sows" {
                    "sows"
                } else {
                    "cows"
                },
                input,
            )
            .await
        }
        Err(e) => Err(e),
    };
    match r {
        Ok(_) => Ok(Redirect::to(&chart_url(id, "withdrawal")).into_response()),
        Err(e) => Ok(flowsheet_page(&p, id, &v, Some(&field_error(e)?))),
    }
}

/// Live score for the flowsheet form (htmx); nothing is stored.
pub async fn flowsheet_preview(Form(pairs): Pairs) -> Response {
    let v = Values(pairs);
    let text = if v.get("scale") == "sows" {
        let items: Vec<u8> = (0..16)
            .filter_map(|i| v.num::<u8>(&format!("sows[{i}]")).ok().flatten())
            .collect();
        format!(
            "SOWS so far: {}",
            items.iter().map(|x| *x as u32).sum::<u32>()
        )
    } else {
        let mut items = std::collections::BTreeMap::new();
        for (name, _) in clinical::cows::ITEMS.iter() {
            if let Ok(Some(x)) = v.num::<u8>(&format!("items.{name}")) {
                items.insert((*name).to_string(), json!(x));
            }
        }
        if !items.contains_key("pulse")
            && let Ok(Some(hr)) = v.num::<u16>("vitals.hr")
        {
            items.insert("pulse".into(), json!(clinical::cows::pulse_score(hr)));
        }
        let scored = items.len();
        let total: u32 = items
            .values()
            .filter_map(|x| x.as_u64())
            .map(|x| x as u32)
            .sum();
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

fn order_page(p: &Principal, id: PatientId, v: &Values, err: Option<&FieldError>) -> Response {
    order_page_for(p, id, v, err, None)
}

fn order_page_for(
    p: &Principal,
    id: PatientId,
    v: &Values,
    err: Option<&FieldError>,
    amend: Option<&str>,
) -> Response {
    let mut b = Builder::new(v, err);
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
    .with_error(err)
    .respond()
}

pub async fn order_form(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> HtmlResult<Response> {
    let id = pid(&id)?;
    chart::open(&state, &p, id, Permission::WriteClinical, "order.form").await?;
    let mut v = Values::default();
    v.set("every_h", "6");
    v.set("prn", "true");
    Ok(order_page(&p, id, &v, None))
}

fn order_input(v: &Values) -> Result<Value, AppError> {
    Ok(
        json!({"medication": v.get("medication"), "dose_mg": v.req::<f64>("dose_mg")?, "every_h": v.req::<f64>("every_h")?,
              "prn": v.flag("prn"), "indication": v.get("indication")}),
    )
}

pub async fn order_submit(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(pairs): Pairs,
) -> HtmlResult<Response> {
    let id = pid(&id)?;
    let v = Values(pairs);
    let input = order_input(&v);
    let r = match input {
        Ok(i) => chart::create(&state, &p, id, "order", i).await,
        Err(e) => Err(e),
    };
    match r {
        Ok(_) => Ok(Redirect::to(&chart_url(id, "orders")).into_response()),
        Err(e) => Ok(order_page(&p, id, &v, Some(&field_error(e)?))),
    }
}

/// Inline administration form on the chart.
pub async fn administer(
    State(state): State<AppState>,
    p: Principal,
    Path(rid): Path<String>,
    Form(pairs): Pairs,
) -> HtmlResult<Response> {
    let v = Values(pairs);
    let order = state.store.record(&rid).await?;
    let id = order.patient_id;
    let input = (|| -> Result<Value, AppError> {
        Ok(
            json!({"order_id": rid, "sbp": v.req::<u32>("sbp")?, "dbp": v.req::<u32>("dbp")?, "hr": v.req::<u32>("hr")?,
                  "given": v.get("given") == "true", "hold_reason": v.get("hold_reason")}),
        )
    })();
    let r = match input {
        Ok(i) => chart::create(&state, &p, id, "administration", i).await,
        Err(e) => Err(e),
    };
    match r {
        Ok(_) => Ok(Redirect::to(&chart_url(id, "orders")).into_response()),
        Err(e) => Ok(chart_with_error(id, &field_error(e)?, "orders")),
    }
}

// ---------------------------------------------------------------- notes

async fn cosigners(
    state: &AppState,
    p: &Principal,
    program: ProgramId,
) -> Result<Vec<(String, String)>, AppError> {
    let mut out = vec![(String::new(), "No co-signature needed".to_string())];
    for u in state.store.list_users().await? {
        if u.disabled || u.id == p.user_id {
            continue;
        }
        let g = state.store.grants(u.id).await?;
        if g.iter().any(|g| {
            g.program_id == program
                && matches!(g.role, Role::Prescriber | Role::Counselor | Role::Nurse)
        }) {
            out.push((u.id.to_string(), format!("{} (supervisor)", u.display_name)));
        }
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
    b.radio(
        "service",
        "Service",
        [
            ("individual", "Individual"),
            ("group", "Group"),
            ("family", "Family"),
            ("other", "Other"),
        ],
    );
    b.datetime("occurred_at", "Session time")
        .hint("More than 24 hours ago: the note is flagged as a late entry.");
    if sessions.len() > 1 {
        b.select("session_id", "Calendar session (optional)", sessions);
    }
    let (_, sections) = chart::TEMPLATES
        .iter()
        .find(|(t, _)| *t == template)
        .unwrap_or(&chart::TEMPLATES[0]);
    for (k, l) in sections.iter() {
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

fn note_input(v: &Values) -> Value {
    let template = v.opt("template").unwrap_or("DAP".into());
    let (_, sections) = chart::TEMPLATES
        .iter()
        .find(|(t, _)| *t == template)
        .unwrap_or(&chart::TEMPLATES[0]);
    let mut s = serde_json::Map::new();
    for (k, _) in sections.iter() {
        s.insert((*k).into(), json!(v.get(&format!("sections.{k}"))));
    }
    json!({"template": template, "service": v.opt("service").unwrap_or("individual".into()), "occurred_at": v.opt("occurred_at"),
           "session_id": v.opt("session_id"), "goal_refs": v.all("goal_refs"), "cosigner_id": v.opt("cosigner_id"), "sections": s,
           "private": v.flag("private")})
}

/// Goals of the patient's current plan, for linking notes.
async fn plan_goals(state: &AppState, id: PatientId) -> Result<Vec<(String, String)>, AppError> {
    let plans = state.store.patient_records(id, &["plan"]).await?;
    let Some(plan) = plans.iter().rev().find(|r| r.is_current()) else {
        return Ok(vec![]);
    };
    Ok(plan.body["problems"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, x)| {
            (
                format!("{}#{i}", plan.root_id),
                format!("Goal {}: {}", i + 1, x["goal"].as_str().unwrap_or("")),
            )
        })
        .collect())
}

async fn recent_sessions(
    state: &AppState,
    program: ProgramId,
) -> Result<Vec<(String, String)>, AppError> {
    let now = carepath_store::now_us();
    let mut v = vec![(String::new(), "—".to_string())];
    let tz =
        carepath_domain::program::parse_time_zone(&state.store.program(program).await?.timezone)?;
    for s in state
        .store
        .sessions(program, now - 14 * chart::DAY_US, now + chart::DAY_US)
        .await?
    {
        v.push((
            s.id,
            format!("{} — {}", crate::views::fmt_time(s.starts_at, &tz), s.title),
        ));
    }
    Ok(v)
}

/// Where a note form posts: a new note, or an amendment of one.
struct NoteMode {
    action: String,
    title: &'static str,
    reason: bool,
}

impl NoteMode {
    fn new(id: PatientId) -> Self {
        NoteMode {
            action: format!("/patients/{id}/notes"),
            title: "Progress note",
            reason: false,
        }
    }
    fn amend(rid: &str) -> Self {
        NoteMode {
            action: format!("/records/{rid}/amend"),
            title: "Amend note",
            reason: true,
        }
    }
}

async fn note_page(
    state: &AppState,
    p: &Principal,
    id: PatientId,
    ctx: &Ctx,
    v: &Values,
    err: Option<&FieldError>,
    mode: NoteMode,
) -> Result<Response, AppError> {
    let NoteMode {
        action,
        title,
        reason,
    } = mode;
    let template = v.opt("template").unwrap_or("DAP".into());
    let mut b = Builder::new(v, err);
    if reason {
        b.area("reason", "Reason for the amendment")
            .required()
            .hint("Kept with the new version; the original stays in the record.");
    }
    note_fields(
        &mut b,
        &template,
        cosigners(state, p, ctx.program.id).await?,
        plan_goals(state, id).await?,
        recent_sessions(state, ctx.program.id).await?,
    );
    let mut page = FormPage::new(p, format!("{title} ({template})"), action);
    page.back = back(id);
    if !reason {
        page.intro = format!(
            "Template: {template}. Switch to another template (what you typed is not kept):"
        );
        page.links = chart::TEMPLATES
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
    page.submit = if reason {
        "Save amendment".into()
    } else {
        "Save note (sign it next)".into()
    };
    Ok(page.with_error(err).respond())
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
    let ctx = chart::open(&state, &p, id, Permission::WriteClinical, "note.form").await?;
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
    v.set("occurred_at", now_local(&ctx));
    Ok(note_page(&state, &p, id, &ctx, &v, None, NoteMode::new(id)).await?)
}

pub async fn note_submit(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(pairs): Pairs,
) -> HtmlResult<Response> {
    let id = pid(&id)?;
    let v = Values(pairs);
    match chart::create(&state, &p, id, "note", note_input(&v)).await {
        Ok(_) => Ok(Redirect::to(&chart_url(id, "notes")).into_response()),
        Err(e) => {
            let fe = field_error(e)?;
            let ctx = chart::open(&state, &p, id, Permission::WriteClinical, "note.form").await?;
            Ok(note_page(&state, &p, id, &ctx, &v, Some(&fe), NoteMode::new(id)).await?)
        }
    }
}

// ---------------------------------------------------------------- plan

fn plan_fields(b: &mut Builder) {
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
            b.text(
                &format!("problems[{k}].objectives[{j}].text"),
                &format!("Objective {}", j + 1),
            );
            b.date(
                &format!("problems[{k}].objectives[{j}].target_date"),
                &format!("Objective {}: target date", j + 1),
            );
        }
        b.checks(
            &format!("problems[{k}].interventions"),
            "Interventions",
            chart::INTERVENTIONS,
        );
        b.text(&format!("problems[{k}].responsible"), "Responsible staff");
        b.area(&format!("problems[{k}].progress"), "Progress (at review)");
    }
    b.heading("Review and participation");
    b.date("review_due", "Next review").required();
    b.check(
        "patient_participated",
        "The patient took part in writing this plan",
    );
}

fn plan_input(v: &Values) -> Value {
    let mut problems = vec![];
    for k in 0..2 {
        let f = |n: &str| format!("problems[{k}].{n}");
        if k > 0 && v.get(&f("problem")).trim().is_empty() && v.get(&f("goal")).trim().is_empty() {
            continue;
        }
        let objectives: Vec<Value> = (0..2)
            .filter(|j| j == &0 || !v.get(&format!("problems[{k}].objectives[{j}].text")).trim().is_empty())
            .map(|j| json!({"text": v.get(&format!("problems[{k}].objectives[{j}].text")), "target_date": v.get(&format!("problems[{k}].objectives[{j}].target_date"))}))
            .collect();
        let interventions: Vec<Value> = v
            .all(&f("interventions"))
            .into_iter()
            .map(
                |kind| json!({"kind": kind, "detail": "", "responsible": v.get(&f("responsible"))}),
            )
            .collect();
        problems.push(json!({"problem": v.get(&f("problem")), "goal": v.get(&f("goal")), "measure": v.get(&f("measure")),
                             "objectives": objectives, "interventions": interventions, "progress": v.get(&f("progress"))}));
    }
    json!({"problems": problems, "review_due": v.get("review_due"), "patient_participated": v.flag("patient_participated")})
}

/// Form values from a stored plan (for a review).
fn plan_values(body: &Value) -> Values {
    let mut v = Values::default();
    for (k, x) in body["problems"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .take(2)
    {
        let f = |n: &str| format!("problems[{k}].{n}");
        for n in ["problem", "goal", "measure", "progress"] {
            v.set(&f(n), x[n].as_str().unwrap_or(""));
        }
        for (j, o) in x["objectives"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
            .take(2)
        {
            v.set(
                &format!("problems[{k}].objectives[{j}].text"),
                o["text"].as_str().unwrap_or(""),
            );
            v.set(
                &format!("problems[{k}].objectives[{j}].target_date"),
                o["target_date"].as_str().unwrap_or(""),
            );
        }
        for i in x["interventions"].as_array().into_iter().flatten() {
            v.push(&f("interventions"), i["kind"].as_str().unwrap_or(""));
            v.set(&f("responsible"), i["responsible"].as_str().unwrap_or(""));
        }
    }
    v.set("review_due", body["review_due"].as_str().unwrap_or(""));
    if body["patient_participated"] == json!(true) {
        v.set("patient_participated", "true");
    }
    v
}

fn plan_page(
    p: &Principal,
    id: PatientId,
    v: &Values,
    err: Option<&FieldError>,
    action: String,
    review: bool,
) -> Response {
    let mut b = Builder::new(v, err);
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
        action,
    );
    page.back = back(id);
    page.intro = "Problems, measurable goals, objectives with target dates, interventions and who is responsible. The patient signs on the chart.".into();
    page.fields = b.fields;
    page.submit = "Save plan".into();
    page.with_error(err).respond()
}

pub async fn plan_form(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> HtmlResult<Response> {
    let id = pid(&id)?;
    let ctx = chart::open(&state, &p, id, Permission::WriteClinical, "plan.form").await?;
    let mut v = Values::default();
    v.set(
        "review_due",
        ctx.today()
            .checked_add(jiff::Span::new().days(30))
            .map(|d| d.to_string())
            .unwrap_or_default(),
    );
    v.set("problems[0].responsible", p.display_name.clone());
    Ok(plan_page(
        &p,
        id,
        &v,
        None,
        format!("/patients/{id}/plan"),
        false,
    ))
}

pub async fn plan_submit(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(pairs): Pairs,
) -> HtmlResult<Response> {
    let id = pid(&id)?;
    let v = Values(pairs);
    match chart::create(&state, &p, id, "plan", plan_input(&v)).await {
        Ok(_) => Ok(Redirect::to(&chart_url(id, "plan")).into_response()),
        Err(e) => Ok(plan_page(
            &p,
            id,
            &v,
            Some(&field_error(e)?),
            format!("/patients/{id}/plan"),
            false,
        )),
    }
}

// ---------------------------------------------------------------- amend (notes, plans, flowsheet)

fn note_values(body: &Value) -> Values {
    let mut v = Values::default();
    v.set("template", body["template"].as_str().unwrap_or("DAP"));
    v.set("service", body["service"].as_str().unwrap_or("individual"));
    v.set("session_id", body["session_id"].as_str().unwrap_or(""));
    for (k, t) in body["sections"].as_object().into_iter().flatten() {
        v.set(&format!("sections.{k}"), t.as_str().unwrap_or(""));
    }
    for g in body["goal_refs"].as_array().into_iter().flatten() {
        v.push("goal_refs", g.as_str().unwrap_or(""));
    }
    if body["private"] == Value::Bool(true) {
        v.set("private", "true");
    }
    v
}

/// Form values from a stored flowsheet entry.
fn flowsheet_values(kind: &str, body: &Value, ctx: &Ctx, occurred_at: i64) -> Values {
    let mut v = Values::default();
    v.set("scale", kind);
    v.set("observed_at", local(ctx, occurred_at));
    if kind == "sows" {
        for (i, it) in body["score"]["items"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            v.set(&format!("sows[{i}]"), it["score"].to_string());
        }
    } else {
        for (k, x) in body["score"]["items"].as_object().into_iter().flatten() {
            v.set(&format!("items.{k}"), x.to_string());
        }
    }
    for (k, x) in body["vitals"].as_object().into_iter().flatten() {
        if !x.is_null() {
            v.set(&format!("vitals.{k}"), x.to_string());
        }
    }
    v
}

/// Form values from a stored consent.
fn consent_values(body: &Value) -> Values {
    let mut v = Values::default();
    for k in [
        "kind",
        "recipient",
        "information",
        "purpose",
        "expires_on",
        "expiry_event",
        "signed_by",
        "signed_on",
    ] {
        if let Some(x) = body[k].as_str() {
            v.set(k, x);
        }
    }
    v
}

/// Form values from a stored assessment (its input).
fn assessment_values(body: &Value, ctx: &Ctx) -> Values {
    let i = &body["input"];
    let mut v = Values::default();
    for (k, sub) in i["substances"].as_array().into_iter().flatten().enumerate() {
        for f in ["code", "route", "frequency", "age_first_use"] {
            v.set(&format!("substances[{k}].{f}"), sub[f].to_string());
        }
    }
    for k in ["last_opioid", "pregnancy", "due_date"] {
        if let Some(x) = i[k].as_str() {
            v.set(k, x);
        }
    }
    if let Some(t) = i["last_use_at"]
        .as_str()
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
    {
        v.set("last_use_at", local(ctx, t.as_microsecond()));
    }
    for k in ["prior_treatment_episodes", "overdoses_lifetime", "cows"] {
        if !i[k].is_null() {
            v.set(k, i[k].to_string());
        }
    }
    for k in [
        "overdose_past_year",
        "medically_supervised",
        "complicated_withdrawal",
        "medical_instability",
        "psychiatric_instability",
        "imminent_danger",
        "on_medication",
        "suicide_question",
    ] {
        if i[k] == Value::Bool(true) {
            v.set(k, "true");
        }
    }
    for c in i["dsm5"].as_array().into_iter().flatten() {
        v.push("dsm5", c.as_str().unwrap_or(""));
    }
    for f in i["flags"].as_array().into_iter().flatten() {
        v.push("flags", f.as_str().unwrap_or(""));
    }
    for (k, x) in i["dimensions"].as_object().into_iter().flatten() {
        v.set(&format!("dimensions.{k}"), x.to_string());
    }
    for (n, name) in [(9, "phq9"), (7, "gad7")] {
        for j in 0..n {
            v.set(&format!("{name}[{j}]"), i[name][j].to_string());
        }
    }
    v.set(
        "suicide_followup.risk",
        i["suicide_followup"]["risk"].as_str().unwrap_or(""),
    );
    v.set(
        "suicide_followup.action",
        i["suicide_followup"]["action"].as_str().unwrap_or(""),
    );
    v.set(
        "placement.accept",
        if i["placement"]["accept"] == Value::Bool(false) {
            "false"
        } else {
            "true"
        },
    );
    v.set(
        "placement.level",
        i["placement"]["level"].as_str().unwrap_or(""),
    );
    v.set(
        "placement.reason",
        i["placement"]["reason"].as_str().unwrap_or(""),
    );
    v
}

/// A time as a `datetime-local` value in the program's time zone.
fn local(ctx: &Ctx, us: i64) -> String {
    jiff::Timestamp::from_microsecond(us)
        .map(|t| {
            t.to_zoned(ctx.tz.clone())
                .strftime("%Y-%m-%dT%H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

/// The amendment page of a record kind, with values and an optional error.
async fn amend_page(
    state: &AppState,
    p: &Principal,
    ctx: &Ctx,
    rid: &str,
    kind: &str,
    v: &Values,
    err: Option<&FieldError>,
) -> Result<Response, AppError> {
    let id = ctx.patient.id;
    Ok(match kind {
        "note" => note_page(state, p, id, ctx, v, err, NoteMode::amend(rid)).await?,
        "plan" => plan_page(p, id, v, err, format!("/records/{rid}/amend"), true),
        "cows" | "sows" => flowsheet_page_for(p, id, v, err, Some(rid)),
        "consent" => consent_page_for(p, id, v, err, Some(rid)),
        "assessment" => assessment_page_for(p, id, v, err, vec![], Some(rid)),
        "order" => order_page_for(p, id, v, err, Some(rid)),
        _ => {
            return Err(AppError::Invalid(FieldError::new(
                "kind",
                "this kind of entry is corrected through the API",
            )));
        }
    })
}

pub async fn amend_form(
    State(state): State<AppState>,
    p: Principal,
    Path(rid): Path<String>,
) -> HtmlResult<Response> {
    let r = state.store.record(&rid).await?;
    let ctx = chart::open(
        &state,
        &p,
        r.patient_id,
        Permission::WriteClinical,
        "record.amend.form",
    )
    .await?;
    if r.kind == "note" && r.author_id != p.user_id.to_string() {
        return Err(AppError::Forbidden(
            "a note is amended by its author; write your own note instead".into(),
        )
        .into());
    }
    let v = match r.kind.as_str() {
        "note" => {
            let mut v = note_values(&r.body);
            v.set("occurred_at", local(&ctx, r.occurred_at));
            v
        }
        "plan" => plan_values(&r.body),
        "cows" | "sows" => flowsheet_values(&r.kind, &r.body, &ctx, r.occurred_at),
        "consent" => consent_values(&r.body),
        "assessment" => assessment_values(&r.body, &ctx),
        "order" => {
            let mut v = Values::default();
            v.set("medication", r.body["medication"].as_str().unwrap_or(""));
            v.set("dose_mg", r.body["dose_mg"].to_string());
            v.set("every_h", r.body["every_h"].to_string());
            if r.body["prn"] == Value::Bool(true) {
                v.set("prn", "true");
            }
            v.set("indication", r.body["indication"].as_str().unwrap_or(""));
            v
        }
        _ => Values::default(),
    };
    Ok(amend_page(&state, &p, &ctx, &rid, &r.kind, &v, None).await?)
}

pub async fn amend_submit(
    State(state): State<AppState>,
    p: Principal,
    Path(rid): Path<String>,
    Form(pairs): Pairs,
) -> HtmlResult<Response> {
    let r = state.store.record(&rid).await?;
    let id = r.patient_id;
    let v = Values(pairs);
    let entry = match r.kind.as_str() {
        "note" => Ok(note_input(&v)),
        "plan" => Ok(plan_input(&v)),
        "cows" | "sows" => flowsheet_input(&v),
        "consent" => Ok(
            json!({"kind": v.opt("kind").unwrap_or("disclosure".into()), "recipient": v.get("recipient"),
            "information": v.get("information"), "purpose": v.get("purpose"), "expires_on": v.opt("expires_on"),
            "expiry_event": v.opt("expiry_event"), "signed_by": v.get("signed_by"), "signed_on": v.get("signed_on")}),
        ),
        "assessment" => assessment_input(&v),
        "order" => order_input(&v),
        _ => return Err(AppError::NotFound.into()),
    };
    let result = match entry {
        Ok(entry) => {
            let input = chart::AmendInput {
                reason: v.get("reason").to_string(),
                entry,
            };
            chart::amend(&state, &p, &rid, &input).await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => {
            let anchor = match r.kind.as_str() {
                "plan" => "plan",
                "cows" | "sows" => "withdrawal",
                "consent" => "consents",
                "assessment" => "assessment",
                "order" => "orders",
                _ => "notes",
            };
            Ok(Redirect::to(&chart_url(id, anchor)).into_response())
        }
        Err(e) => {
            let fe = field_error(e)?;
            let ctx = chart::open(
                &state,
                &p,
                id,
                Permission::WriteClinical,
                "record.amend.form",
            )
            .await?;
            Ok(amend_page(&state, &p, &ctx, &rid, &r.kind, &v, Some(&fe)).await?)
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
    let v = Values(pairs);
    let r = state.store.record(&rid).await?;
    let input = chart::SignInput {
        as_: v.opt("as"),
        typed_name: v.get("typed_name").into(),
        drawing: v.get("drawing").into(),
    };
    let anchor = match r.kind.as_str() {
        "order" => "orders",
        "plan" => "plan",
        "consent" => "consents",
        _ => "notes",
    };
    match chart::sign(&state, &p, &rid, &input).await {
        Ok(()) => Ok(Redirect::to(&chart_url(r.patient_id, anchor)).into_response()),
        Err(AppError::Invalid(e)) => Ok(chart_with_error(r.patient_id, &e, anchor)),
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
    let r = state.store.record(&rid).await?;
    chart::revoke(&state, &p, &rid, v.get("note")).await?;
    Ok(Redirect::to(&chart_url(r.patient_id, "consents")).into_response())
}

// ---------------------------------------------------------------- consents and disclosures

fn consent_page(p: &Principal, id: PatientId, v: &Values, err: Option<&FieldError>) -> Response {
    consent_page_for(p, id, v, err, None)
}

fn consent_page_for(
    p: &Principal,
    id: PatientId,
    v: &Values,
    err: Option<&FieldError>,
    amend: Option<&str>,
) -> Response {
    let mut b = Builder::new(v, err);
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
    .with_error(err)
    .respond()
}

pub async fn consent_form(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> HtmlResult<Response> {
    let id = pid(&id)?;
    let ctx = chart::open(&state, &p, id, Permission::WriteClinical, "consent.form").await?;
    let mut v = Values::default();
    v.set("kind", "disclosure");
    v.set("signed_on", ctx.today().to_string());
    v.set(
        "signed_by",
        format!(
            "{} {}",
            ctx.patient.legal_first_name, ctx.patient.legal_last_name
        ),
    );
    Ok(consent_page(&p, id, &v, None))
}

pub async fn consent_submit(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(pairs): Pairs,
) -> HtmlResult<Response> {
    let id = pid(&id)?;
    let v = Values(pairs);
    let input = json!({"kind": v.opt("kind").unwrap_or("disclosure".into()), "recipient": v.get("recipient"), "information": v.get("information"),
        "purpose": v.get("purpose"), "expires_on": v.opt("expires_on"), "expiry_event": v.opt("expiry_event"), "signed_by": v.get("signed_by"), "signed_on": v.get("signed_on")});
    match chart::create(&state, &p, id, "consent", input).await {
        Ok(_) => Ok(Redirect::to(&chart_url(id, "consents")).into_response()),
        Err(e) => Ok(consent_page(&p, id, &v, Some(&field_error(e)?))),
    }
}

async fn disclose_page(
    state: &AppState,
    p: &Principal,
    id: PatientId,
    v: &Values,
    err: Option<&FieldError>,
) -> Result<Response, AppError> {
    let records = state
        .store
        .patient_records(id, &["consent", "consent_revocation"])
        .await?;
    let mut opts = vec![(String::new(), "— choose the consent —".to_string())];
    for (c, rev) in chart::consents_with_state(&records) {
        if c.body["kind"] == json!("treatment") {
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
    let mut b = Builder::new(v, err);
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
    page.intro = "A disclosure needs a valid consent naming this recipient. The summary carries the 42 CFR § 2.32 notice and is written to the accounting of disclosures.".into();
    page.fields = b.fields;
    page.submit = "Disclose".into();
    Ok(page.with_error(err).respond())
}

pub async fn disclose_form(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> HtmlResult<Response> {
    let id = pid(&id)?;
    chart::open(&state, &p, id, Permission::WriteClinical, "disclosure.form").await?;
    Ok(disclose_page(&state, &p, id, &Values::default(), None).await?)
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
    let input = chart::DisclosureInput {
        consent_id: v.get("consent_id").into(),
        recipient: v.get("recipient").into(),
        purpose: v.get("purpose").into(),
        channel: v.opt("channel").unwrap_or("print".into()),
    };
    match chart::disclose(&state, &p, id, &input).await {
        Ok(doc) => Ok(crate::views::render(&DisclosurePage {
            nav: crate::views::Nav::for_principal(&p),
            title: "Disclosed summary".into(),
            patient_id: id,
            doc,
        })
        .into_response()),
        Err(AppError::Forbidden(msg)) => {
            let e = FieldError::new("consent_id", msg);
            Ok(disclose_page(&state, &p, id, &v, Some(&e)).await?)
        }
        Err(e) => Ok(disclose_page(&state, &p, id, &v, Some(&field_error(e)?)).await?),
    }
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
    let ctx = chart::open(&state, &p, id, Permission::ReadClinical, "disclosure.list").await?;
    let rows = state
        .store
        .disclosures(id)
        .await?
        .into_iter()
        .map(|d| {
            (
                crate::views::fmt_time(d.disclosed_at, &ctx.tz),
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
        name: ctx.patient.display_name(),
        rows,
    })
    .into_response())
}

// ---------------------------------------------------------------- discharge and episodes

fn discharge_page(
    p: &Principal,
    id: PatientId,
    ctx: &Ctx,
    v: &Values,
    err: Option<&FieldError>,
) -> Response {
    let mut b = Builder::new(v, err);
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
    let level = ctx
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
    .with_error(err)
    .respond()
}

pub async fn discharge_form(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> HtmlResult<Response> {
    let id = pid(&id)?;
    let ctx = chart::open(&state, &p, id, Permission::WriteClinical, "discharge.form").await?;
    let mut v = Values::default();
    v.set("followup_every_days", ctx.followup.0.to_string());
    v.set("followup_count", ctx.followup.1.to_string());
    Ok(discharge_page(&p, id, &ctx, &v, None))
}

pub async fn discharge_submit(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(pairs): Pairs,
) -> HtmlResult<Response> {
    let id = pid(&id)?;
    let v = Values(pairs);
    let input = (|| -> Result<chart::DischargeInput, AppError> {
        Ok(chart::DischargeInput {
            reason: v
                .num::<u8>("reason")?
                .ok_or_else(|| AppError::Invalid(FieldError::new("reason", "choose a reason")))?,
            summary: v.get("summary").into(),
            aftercare: chart::Aftercare {
                outpatient_therapy: v.get("aftercare.outpatient_therapy").into(),
                medication: v.get("aftercare.medication").into(),
                support_groups: v.get("aftercare.support_groups").into(),
                sober_living: v.get("aftercare.sober_living").into(),
                housing_employment: v.get("aftercare.housing_employment").into(),
            },
            naloxone: chart::Naloxone {
                education_given: v.flag("naloxone.education_given"),
                kit_given: v.flag("naloxone.kit_given"),
                not_given_reason: v.get("naloxone.not_given_reason").into(),
            },
            taper_completed: v.flag("taper_completed"),
            continuing_agonist: v.flag("continuing_agonist"),
            followup_every_days: v.num("followup_every_days")?,
            followup_count: v.num("followup_count")?,
        })
    })();
    let r = match input {
        Ok(i) => chart::discharge(&state, &p, id, &i).await.map(|_| ()),
        Err(e) => Err(e),
    };
    match r {
        Ok(()) => Ok(Redirect::to(&chart_url(id, "aftercare")).into_response()),
        Err(e) => {
            let fe = field_error(e)?;
            let ctx =
                chart::open(&state, &p, id, Permission::WriteClinical, "discharge.form").await?;
            Ok(discharge_page(&p, id, &ctx, &v, Some(&fe)))
        }
    }
}

fn episode_page(
    p: &Principal,
    id: PatientId,
    ctx: &Ctx,
    programs: Vec<(String, String)>,
    v: &Values,
    err: Option<&FieldError>,
) -> Response {
    let mut b = Builder::new(v, err);
    b.select("program_id", "Program", programs);
    b.select("level_of_care", "Level of care", levels());
    let transfer = ctx.episode.is_some();
    let mut page = FormPage::new(
        p,
        if transfer { "Transfer" } else { "Admit" },
        format!("/patients/{id}/episode"),
    );
    page.back = back(id);
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
    page.with_error(err).respond()
}

async fn my_programs(state: &AppState, p: &Principal) -> Result<Vec<(String, String)>, AppError> {
    let mine = p.programs_with(Permission::WriteClinical);
    Ok(state
        .store
        .list_programs()
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
    let ctx = chart::open(&state, &p, id, Permission::WriteClinical, "episode.form").await?;
    let mut v = Values::default();
    v.set("program_id", ctx.program.id.to_string());
    Ok(episode_page(
        &p,
        id,
        &ctx,
        my_programs(&state, &p).await?,
        &v,
        None,
    ))
}

pub async fn episode_submit(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(pairs): Pairs,
) -> HtmlResult<Response> {
    let id = pid(&id)?;
    let v = Values(pairs);
    let ctx = chart::open(&state, &p, id, Permission::WriteClinical, "episode.form").await?;
    let r = if ctx.episode.is_some() {
        chart::transfer(
            &state,
            &p,
            id,
            &chart::TransferInput {
                program_id: v.get("program_id").into(),
                level_of_care: v.get("level_of_care").into(),
            },
        )
        .await
        .map(|_| ())
    } else {
        path_api::admit_patient(
            &state,
            &p,
            id,
            &path_api::AdmitInput {
                program_id: v.get("program_id").into(),
                level_of_care: v.get("level_of_care").into(),
            },
        )
        .await
        .map(|_| ())
    };
    match r {
        Ok(()) => Ok(Redirect::to(&chart_url(id, "timeline")).into_response()),
        Err(AppError::Conflict(m)) => Ok(episode_page(
            &p,
            id,
            &ctx,
            my_programs(&state, &p).await?,
            &v,
            Some(&FieldError::new("program_id", m)),
        )),
        Err(e) => Ok(episode_page(
            &p,
            id,
            &ctx,
            my_programs(&state, &p).await?,
            &v,
            Some(&field_error(e)?),
        )),
    }
}

// ---------------------------------------------------------------- follow-up outcome

pub async fn followup(
    State(state): State<AppState>,
    p: Principal,
    Path(rid): Path<String>,
    Form(pairs): Pairs,
) -> HtmlResult<Response> {
    let v = Values(pairs);
    let f = state.store.record(&rid).await?;
    let yn = |n: &str| match v.get(n) {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    };
    let o = chart::FollowUpOutcome {
        reached: v.get("reached") == "yes",
        using: yn("using"),
        in_treatment: yn("in_treatment"),
        needs_reengagement: v.flag("needs_reengagement"),
        note: v.get("note").into(),
    };
    chart::followup_outcome(&state, &p, &rid, &o).await?;
    let to = if v.get("from") == "worklist" {
        "/worklist".to_string()
    } else {
        chart_url(f.patient_id, "aftercare")
    };
    Ok(Redirect::to(&to).into_response())
}

// ---------------------------------------------------------------- registration details and photo

fn profile_page(p: &Principal, id: PatientId, v: &Values, err: Option<&FieldError>) -> Response {
    let mut b = Builder::new(v, err);
    b.text("gender_identity", "Gender identity");
    b.text("pronouns", "Pronouns");
    b.tel("phone", "Phone");
    b.text("email", "Email");
    b.area("address", "Address");
    b.text("language", "Preferred language");
    b.check("interpreter_needed", "Interpreter needed");
    let mut payers = vec![(String::new(), "—".to_string())];
    payers.extend(
        path_api::PAYERS
            .iter()
            .map(|(k, l)| (k.to_string(), l.to_string())),
    );
    b.select("payer", "Payer", payers);
    b.text("payer_member_id", "Member ID");
    for k in 0..3 {
        b.heading(&format!("Contact {}", k + 1));
        b.text(&format!("contacts[{k}].name"), "Name");
        b.select(
            &format!("contacts[{k}].relationship"),
            "Relationship",
            [
                ("emergency", "Emergency contact"),
                ("family", "Family"),
                ("other", "Other"),
            ],
        );
        b.tel(&format!("contacts[{k}].phone"), "Phone");
        b.check(&format!("contacts[{k}].emergency"), "Call in an emergency");
    }
    b.note("What a family contact may be told is governed by the family-involvement consent on the chart.");
    patient_form(
        p,
        id,
        "Registration details",
        format!("/patients/{id}/profile"),
        b,
        "Save details",
    )
    .with_error(err)
    .respond()
}

fn profile_values(d: &path_api::ProfileDto) -> Values {
    let mut v = Values::default();
    v.set("gender_identity", d.gender_identity.clone());
    v.set("pronouns", d.pronouns.clone());
    v.set("phone", d.phone.clone());
    v.set("email", d.email.clone());
    v.set("address", d.address.clone());
    v.set("language", d.language.clone());
    if d.interpreter_needed {
        v.set("interpreter_needed", "true");
    }
    v.set("payer", d.payer.clone());
    v.set("payer_member_id", d.payer_member_id.clone());
    for (k, c) in d.contacts.iter().enumerate().take(3) {
        v.set(&format!("contacts[{k}].name"), c.name.clone());
        v.set(
            &format!("contacts[{k}].relationship"),
            c.relationship.clone(),
        );
        v.set(&format!("contacts[{k}].phone"), c.phone.clone());
        if c.emergency {
            v.set(&format!("contacts[{k}].emergency"), "true");
        }
    }
    v
}

pub async fn profile_form(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> HtmlResult<Response> {
    let id = pid(&id)?;
    crate::access::patient(&state, &p, id, Permission::RegisterPatient, "profile.form")
        .await
        .map_err(|(e, _)| e)?;
    let (cur, _) = state.store.profile(id).await?;
    let d: path_api::ProfileDto = cur
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    Ok(profile_page(&p, id, &profile_values(&d), None))
}

pub async fn profile_submit(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(pairs): Pairs,
) -> HtmlResult<Response> {
    let id = pid(&id)?;
    let v = Values(pairs);
    let contacts = (0..3)
        .filter(|k| {
            !v.get(&format!("contacts[{k}].name")).trim().is_empty()
                || !v.get(&format!("contacts[{k}].phone")).trim().is_empty()
        })
        .map(|k| path_api::Contact {
            name: v.get(&format!("contacts[{k}].name")).trim().into(),
            relationship: v.get(&format!("contacts[{k}].relationship")).into(),
            phone: v.get(&format!("contacts[{k}].phone")).trim().into(),
            emergency: v.flag(&format!("contacts[{k}].emergency")),
        })
        .collect();
    let d = path_api::ProfileDto {
        gender_identity: v.get("gender_identity").trim().into(),
        pronouns: v.get("pronouns").trim().into(),
        phone: v.get("phone").trim().into(),
        email: v.get("email").trim().into(),
        address: v.get("address").trim().into(),
        language: v.get("language").trim().into(),
        interpreter_needed: v.flag("interpreter_needed"),
        payer: v.get("payer").into(),
        payer_member_id: v.get("payer_member_id").trim().into(),
        contacts,
    };
    match path_api::save_profile(&state, &p, id, &d).await {
        Ok(()) => Ok(Redirect::to(&format!("/patients/{id}")).into_response()),
        Err(e) => Ok(profile_page(&p, id, &v, Some(&field_error(e)?))),
    }
}

/// The newest identification photo.
pub async fn photo(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> HtmlResult<Response> {
    let id = pid(&id)?;
    crate::access::patient(&state, &p, id, Permission::ReadDemographics, "photo.read")
        .await
        .map_err(|(e, _)| e)?;
    match state.store.photo(id).await? {
        Some((ct, bytes)) => Ok((
            [
                (header::CONTENT_TYPE, ct),
                (header::CACHE_CONTROL, "no-store".into()),
            ],
            bytes,
        )
            .into_response()),
        None => Err(AppError::NotFound.into()),
    }
}

/// Upload an identification photo (JPEG or PNG, up to 900 kB).
pub async fn photo_upload(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    mp: axum::extract::Multipart,
) -> HtmlResult<Response> {
    let id = pid(&id)?;
    match save_photo(&state, &p, id, mp).await {
        Ok(()) => Ok(Redirect::to(&chart_url(id, "identity")).into_response()),
        Err(AppError::Invalid(e)) => Ok(chart_with_error(id, &e, "identity")),
        Err(e) => Err(e.into()),
    }
}

/// Store the `photo` part of a multipart upload as the patient's newest
/// identification photo (JPEG or PNG by their signatures, up to 900 kB).
pub async fn save_photo(
    state: &AppState,
    p: &Principal,
    id: PatientId,
    mut mp: axum::extract::Multipart,
) -> Result<(), AppError> {
    crate::access::patient(state, p, id, Permission::RegisterPatient, "photo.open")
        .await
        .map_err(|(e, _)| e)?;
    let mut data = None;
    while let Ok(Some(field)) = mp.next_field().await {
        if field.name() == Some("photo") {
            data = field.bytes().await.ok();
        }
    }
    let bytes = data.unwrap_or_default();
    let ct = if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        "image/jpeg"
    } else if bytes.starts_with(&[0x89, b'P', b'N', b'G']) {
        "image/png"
    } else {
        return Err(FieldError::new("photo", "choose a JPEG or PNG picture").into());
    };
    if bytes.len() > 900_000 {
        return Err(FieldError::new("photo", "the picture is larger than 900 kB").into());
    }
    state
        .store
        .add_photo(
            id,
            ct,
            &bytes,
            p.user_id,
            p.event("photo.add", carepath_domain::audit::Outcome::Success),
        )
        .await?;
    Ok(())
}

/// Whether the user may sign orders in a program (for showing the button).
pub fn may_order(p: &Principal, program: ProgramId) -> bool {
    holds_in(p, program, Permission::OrderMedication)
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
    let ctx = chart::open(&state, &p, id, Permission::ReadClinical, "aftercare.print").await?;
    let records = state
        .store
        .patient_records(id, &["discharge", "followup"])
        .await?;
    let Some(d) = records.iter().rev().find(|r| r.kind == "discharge") else {
        return Err(AppError::NotFound.into());
    };
    let program = state.store.program(d.program_id).await?;
    let mut lines = vec![];
    for (k, l) in [
        ("outpatient_therapy", "Counseling"),
        ("medication", "Medication"),
        ("support_groups", "Support groups"),
        ("sober_living", "Sober living"),
        ("housing_employment", "Housing and work"),
    ] {
        if let Some(v) = d.body["aftercare"][k]
            .as_str()
            .filter(|v| !v.trim().is_empty())
        {
            lines.push(format!("{l}: {v}"));
        }
    }
    let calls = records
        .iter()
        .filter(|r| r.kind == "followup" && r.episode_id == d.episode_id)
        .filter_map(|r| r.due_at)
        .filter_map(|t| jiff::Timestamp::from_microsecond(t).ok())
        .map(|t| t.to_zoned(ctx.tz.clone()).strftime("%b %-d").to_string())
        .collect();
    Ok(crate::views::render(&AftercarePrint {
        id,
        name: ctx.patient.display_name(),
        program: program.name,
        when: crate::views::fmt_time(d.occurred_at, &ctx.tz),
        lines,
        calls,
    })
    .into_response())
}
