//! The patient's path as services shared by the staff pages and the JSON API:
//! intake assessment, withdrawal flowsheet, comfort-medication orders and
//! administrations, treatment plans, progress notes (sign, co-sign, amend),
//! consents and disclosures, discharge with aftercare and follow-ups, transfers.
//!
//! Every function here opens the patient through [`crate::access::patient`]
//! (authorization and audit), computes with the pure clinical engine, and
//! writes through the store, whose triggers keep the record append-only.

use crate::AppState;
use crate::access;
use crate::auth::Principal;
use crate::error::AppError;
use carepath_clinical as clinical;
use carepath_domain::FieldError;
use carepath_domain::audit::Outcome;
use carepath_domain::authz::{Permission, Role};
use carepath_domain::ids::{EpisodeId, PatientId, ProgramId, UserId};
use carepath_domain::program::{ProgramKind, parse_time_zone};
use carepath_store::{Author, Episode, NewRecord, NewSignature, Patient, Program, Record};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;

pub const HOUR_US: i64 = 3_600_000_000;
pub const DAY_US: i64 = 24 * HOUR_US;

/// An opened patient: who, where, and as whom the user writes.
pub struct Ctx {
    pub patient: Patient,
    /// The program the record belongs to: the open episode's, else the home program.
    pub program: Program,
    pub tz: jiff::tz::TimeZone,
    pub episode: Option<Episode>,
    pub episodes: Vec<Episode>,
    pub author: Author,
    /// The COWS check protocol in force (the program's, else the server's).
    pub protocol: clinical::flowsheet::Protocol,
    /// Follow-up calls after discharge: (every N days, how many).
    pub followup: (u32, u32),
}

/// The protocol settings in force for a program: its own, else the server's.
pub async fn program_settings(
    state: &AppState,
    program: ProgramId,
) -> Result<(clinical::flowsheet::Protocol, (u32, u32)), AppError> {
    Ok(match state.store.program_protocol(program).await? {
        Some(p) => (
            clinical::flowsheet::Protocol {
                every_h: p.cows_every_h,
                severe_every_h: p.cows_severe_every_h,
                severe_from: p.cows_severe_from,
            },
            (p.followup_every_days, p.followup_count),
        ),
        None => (
            state.config.cows_protocol,
            (
                state.config.followup_every_days,
                state.config.followup_count,
            ),
        ),
    })
}

fn map_access(e: (AppError, Option<access::Refusal>)) -> AppError {
    e.0
}

/// The clinical role a user writes in, most responsible first.
pub fn role_in(p: &Principal, program: ProgramId) -> Option<Role> {
    [
        Role::Prescriber,
        Role::Nurse,
        Role::Counselor,
        Role::Intake,
        Role::FrontDesk,
    ]
    .into_iter()
    .find(|r| {
        p.grants
            .iter()
            .any(|g| g.program_id == program && g.role == *r)
    })
}

/// Whether the user holds `perm` in `program`.
pub fn holds_in(p: &Principal, program: ProgramId, perm: Permission) -> bool {
    p.programs_with(perm).contains(&program)
}

/// Open a patient for `perm` (audited as `action`).
pub async fn open(
    state: &AppState,
    p: &Principal,
    id: PatientId,
    perm: Permission,
    action: &str,
) -> Result<Ctx, AppError> {
    let (patient, _) = access::patient(state, p, id, perm, action)
        .await
        .map_err(map_access)?;
    let episodes = state.store.episodes(id).await?;
    let mine = p.programs_with(perm);
    let episode = episodes
        .iter()
        .filter(|e| e.discharged_at.is_none())
        .max_by_key(|e| (mine.contains(&e.program_id), e.admitted_at))
        .cloned();
    let program_id = episode
        .as_ref()
        .map(|e| e.program_id)
        .unwrap_or(patient.program_id);
    let program = state.store.program(program_id).await?;
    let tz = parse_time_zone(&program.timezone)?;
    let (protocol, followup) = program_settings(state, program_id).await?;
    let role = role_in(p, program_id)
        .or_else(|| p.roles().into_iter().next())
        .map(|r| r.as_str().to_string())
        .unwrap_or_default();
    Ok(Ctx {
        author: Author {
            id: p.user_id,
            name: p.display_name.clone(),
            role,
        },
        patient,
        program,
        tz,
        episode,
        episodes,
        protocol,
        followup,
    })
}

impl Ctx {
    pub fn record(&self, kind: &str, body: Value, summary: String, occurred_at: i64) -> NewRecord {
        let mut r = NewRecord::new(
            self.patient.id,
            self.program.id,
            kind,
            body,
            summary,
            occurred_at,
            self.author.clone(),
        );
        r.episode_id = self.episode.as_ref().map(|e| e.id);
        r
    }
    pub fn today(&self) -> jiff::civil::Date {
        carepath_domain::program::clinic_day(jiff::Timestamp::now(), &self.tz)
    }
}

fn invalid(field: &'static str, msg: impl Into<String>) -> AppError {
    AppError::Invalid(FieldError::new(field, msg))
}

/// Parse a clinical time: RFC 3339, or a local `YYYY-MM-DDTHH:MM` in the program's zone.
pub fn parse_when(
    field: &'static str,
    s: Option<&str>,
    tz: &jiff::tz::TimeZone,
) -> Result<i64, AppError> {
    let now = carepath_store::now_us();
    let Some(s) = s.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(now);
    };
    let t = if let Ok(ts) = s.parse::<jiff::Timestamp>() {
        ts
    } else {
        let dt: jiff::civil::DateTime = s.parse().map_err(|_| {
            invalid(
                field,
                "must be a date and time, e.g. 2026-11-22T06:00 (program time) or RFC 3339",
            )
        })?;
        dt.to_zoned(tz.clone())
            .map_err(|_| invalid(field, "not a valid time in the program's time zone"))?
            .timestamp()
    };
    let us = t.as_microsecond();
    if us > now + 5 * 60 * 1_000_000 {
        return Err(invalid(field, "cannot be in the future"));
    }
    Ok(us)
}

// ---------------------------------------------------------------- assessment

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubstanceUse {
    /// TEDS SUB code (5 heroin, 7 other opiates incl. fentanyl…).
    pub code: u8,
    /// TEDS ROUTE code (1 oral, 2 smoking, 3 inhalation, 4 injection, 5 other).
    pub route: u8,
    /// TEDS FREQ code (1 none in past month, 2 some use, 3 daily).
    pub frequency: u8,
    /// Age at first use, in years.
    pub age_first_use: u8,
}

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Placement {
    /// Accept the recommendation.
    pub accept: bool,
    /// The level of care chosen instead (a program kind), when not accepting.
    #[serde(default)]
    pub level: Option<String>,
    /// Why a different placement (required when not accepting).
    #[serde(default)]
    pub reason: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssessmentInput {
    /// Primary, secondary, tertiary substances (TEDS codes).
    pub substances: Vec<SubstanceUse>,
    /// heroin, short_acting, fentanyl, methadone, buprenorphine.
    #[serde(default)]
    pub last_opioid: Option<String>,
    /// Time of last opioid use (program-local `YYYY-MM-DDTHH:MM` or RFC 3339).
    #[serde(default)]
    pub last_use_at: Option<String>,
    #[serde(default)]
    pub prior_treatment_episodes: u8,
    #[serde(default)]
    pub overdoses_lifetime: u8,
    #[serde(default)]
    pub overdose_past_year: bool,
    /// DSM-5 criteria met, A1…A11.
    #[serde(default)]
    pub dsm5: Vec<String>,
    /// Withdrawal being managed under medical supervision (A10/A11 not counted).
    #[serde(default)]
    pub medically_supervised: bool,
    /// Six dimension ratings 0–4 (see `level-of-care` calculator).
    #[schema(value_type = Object)]
    pub dimensions: Value,
    #[serde(default)]
    pub cows: Option<u8>,
    #[serde(default)]
    pub complicated_withdrawal: bool,
    #[serde(default)]
    pub medical_instability: bool,
    #[serde(default)]
    pub psychiatric_instability: bool,
    #[serde(default)]
    pub imminent_danger: bool,
    #[serde(default)]
    pub on_medication: bool,
    /// Nine answers 0–3.
    pub phq9: Vec<u8>,
    /// Seven answers 0–3.
    pub gad7: Vec<u8>,
    /// The intake's direct suicide-risk question answered yes.
    #[serde(default)]
    pub suicide_question: bool,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub suicide_followup: clinical::screens::SuicideFollowUp,
    /// not_pregnant, pregnant, postpartum, unknown, not_applicable.
    #[serde(default = "na")]
    pub pregnancy: String,
    #[serde(default)]
    pub due_date: Option<String>,
    /// pregnant_postpartum, co_occurring, adolescent, veteran, justice_involved.
    #[serde(default)]
    pub flags: Vec<String>,
    pub placement: Placement,
}

fn na() -> String {
    "not_applicable".into()
}

pub const FLAGS: [(&str, &str); 5] = [
    ("pregnant_postpartum", "Pregnant or postpartum"),
    ("co_occurring", "Co-occurring mental health condition"),
    ("adolescent", "Adolescent"),
    ("veteran", "Veteran"),
    ("justice_involved", "Justice-involved"),
];

pub const PREGNANCY: [(&str, &str); 5] = [
    ("not_applicable", "Not applicable"),
    ("not_pregnant", "Not pregnant"),
    ("pregnant", "Pregnant"),
    ("postpartum", "Postpartum (within 12 months)"),
    ("unknown", "Unknown / test pending"),
];

/// Map the engine's recommendation to the program kind that provides it.
pub fn kind_for(rec: &clinical::level_of_care::Output) -> ProgramKind {
    use clinical::level_of_care::{Setting, Withdrawal};
    if matches!(
        rec.withdrawal_management,
        Withdrawal::MedicallyMonitored | Withdrawal::MedicallyManaged
    ) {
        return ProgramKind::WithdrawalManagement;
    }
    match rec.setting {
        Setting::Outpatient => {
            if rec.medication.indicated {
                ProgramKind::OpioidTreatmentProgram
            } else {
                ProgramKind::Outpatient
            }
        }
        Setting::IntensiveOutpatient => ProgramKind::IntensiveOutpatient,
        Setting::PartialHospitalization => ProgramKind::PartialHospitalization,
        _ => ProgramKind::Residential,
    }
}

/// Build the assessment record (engine results included) from the input.
pub fn build_assessment(ctx: &Ctx, i: &AssessmentInput) -> Result<NewRecord, AppError> {
    if i.substances.is_empty() {
        return Err(invalid(
            "substances",
            "record at least the primary substance",
        ));
    }
    if i.substances.len() > 3 {
        return Err(invalid(
            "substances",
            "TEDS records primary, secondary and tertiary substances only",
        ));
    }
    for (k, s) in i.substances.iter().enumerate() {
        use clinical::teds;
        let f = |n: &str| format!("substances[{k}].{n}");
        if teds::label(&teds::SUBSTANCES, s.code).is_none() {
            return Err(FieldError::new(f("code"), "unknown TEDS substance code (1–19)").into());
        }
        if teds::label(&teds::ROUTES, s.route).is_none() {
            return Err(FieldError::new(f("route"), "unknown TEDS route code (1–5)").into());
        }
        if teds::label(&teds::FREQUENCIES, s.frequency).is_none() {
            return Err(
                FieldError::new(f("frequency"), "unknown TEDS frequency code (1–3)").into(),
            );
        }
        if !(1..=96).contains(&s.age_first_use) {
            return Err(FieldError::new(f("age_first_use"), "must be an age from 1 to 96").into());
        }
    }
    let last_use_us = match &i.last_use_at {
        Some(s) if !s.trim().is_empty() => Some(parse_when("last_use_at", Some(s), &ctx.tz)?),
        _ => None,
    };
    let course = match (&i.last_opioid, last_use_us) {
        (Some(o), Some(t)) if !o.is_empty() => {
            let input = json!({
                "opioid": o,
                "last_use": jiff::Timestamp::from_microsecond(t).map(|t| t.to_string()).unwrap_or_default(),
                "now": jiff::Timestamp::now().to_string(),
            });
            let v = clinical::calc::run(
                "withdrawal-course",
                input,
                &clinical::calc::Context::default(),
            )
            .map_err(|e| invalid("last_opioid", e.to_string()))?;
            Some(v)
        }
        _ => None,
    };
    let dx = clinical::oud::diagnose(
        &serde_json::from_value(json!({
            "criteria": i.dsm5,
            "medically_supervised": i.medically_supervised,
        }))
        .map_err(|e| invalid("dsm5", e.to_string()))?,
    )?;
    let pregnant = matches!(i.pregnancy.as_str(), "pregnant");
    if !PREGNANCY.iter().any(|(k, _)| *k == i.pregnancy) {
        return Err(invalid("pregnancy", "unknown pregnancy status"));
    }
    let due_date = match (&i.due_date, pregnant) {
        (Some(d), true) if !d.trim().is_empty() => Some(
            d.trim()
                .parse::<jiff::civil::Date>()
                .map_err(|_| invalid("due_date", "must be a date, YYYY-MM-DD"))?
                .to_string(),
        ),
        _ => None,
    };
    for f in &i.flags {
        if !FLAGS.iter().any(|(k, _)| k == f) {
            return Err(invalid("flags", format!("unknown flag {f:?}")));
        }
    }
    let loc_input: clinical::level_of_care::Input = serde_json::from_value(json!({
        "dimensions": i.dimensions,
        "cows": i.cows,
        "complicated_withdrawal": i.complicated_withdrawal,
        "pregnant": pregnant,
        "medical_instability": i.medical_instability,
        "psychiatric_instability": i.psychiatric_instability,
        "imminent_danger": i.imminent_danger,
        "oud_severity": dx.severity,
        "on_medication": i.on_medication,
    }))
    .map_err(|e| invalid("dimensions", format!("six ratings 0–4 are needed: {e}")))?;
    let rec = clinical::level_of_care::recommend(&loc_input)?;
    let phq9 = clinical::screens::phq9(&i.phq9)?;
    let gad7 = clinical::screens::gad7(&i.gad7)?;
    clinical::screens::require_suicide_follow_up(
        phq9.suicide_item_positive || i.suicide_question,
        &i.suicide_followup,
    )?;
    let recommended_kind = kind_for(&rec);
    let (placed, reason) = if i.placement.accept {
        (recommended_kind, None)
    } else {
        let level = i
            .placement
            .level
            .as_deref()
            .unwrap_or("")
            .parse::<ProgramKind>()
            .map_err(|_| invalid("placement.level", "choose the level of care placed"))?;
        if i.placement.reason.trim().chars().count() < 10 {
            return Err(invalid(
                "placement.reason",
                "a different placement needs a reason (at least 10 characters)",
            ));
        }
        (level, Some(i.placement.reason.trim().to_string()))
    };
    let mut flags = i.flags.clone();
    if matches!(i.pregnancy.as_str(), "pregnant" | "postpartum")
        && !flags.iter().any(|f| f == "pregnant_postpartum")
    {
        flags.push("pregnant_postpartum".into());
    }
    let code = dx.codes.first().map(|c| c.code.clone()).unwrap_or_default();
    let summary = format!(
        "Intake assessment: OUD {:?}{}; recommended {}; placed {}{}; PHQ-9 {} ({}), GAD-7 {} ({})",
        dx.severity,
        if code.is_empty() {
            String::new()
        } else {
            format!(" ({code})")
        },
        recommended_kind.label(),
        placed.label(),
        if reason.is_some() { " (override)" } else { "" },
        phq9.total,
        phq9.severity,
        gad7.total,
        gad7.severity,
    )
    .replace("Severe", "severe")
    .replace("Moderate", "moderate")
    .replace("Mild", "mild")
    .replace("None", "not met");
    let body = json!({
        "input": i,
        "flags": flags,
        "due_date": due_date,
        "diagnosis": dx,
        "recommendation": rec,
        "recommended_kind": recommended_kind.as_str(),
        "placement": {
            "accepted": i.placement.accept,
            "level": placed.as_str(),
            "level_label": placed.label(),
            "reason": reason,
        },
        "phq9": phq9,
        "gad7": gad7,
        "course": course,
    });
    Ok(ctx.record("assessment", body, summary, carepath_store::now_us()))
}

// ---------------------------------------------------------------- flowsheet

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FlowsheetInput {
    /// `cows` (default) or `sows`.
    #[serde(default = "cows_name")]
    pub scale: String,
    /// COWS: item → score (or `pulse_bpm`); SOWS: `items` as a list of 16 answers under key `list`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub items: BTreeMap<String, Value>,
    #[serde(default)]
    pub sows: Vec<u8>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub vitals: clinical::flowsheet::Vitals,
    /// When observed (default now); entries more than 24 h old are marked late.
    #[serde(default)]
    pub observed_at: Option<String>,
}

fn cows_name() -> String {
    "cows".into()
}

pub fn vitals_text(v: &clinical::flowsheet::Vitals) -> String {
    let mut parts = vec![];
    if let (Some(s), Some(d)) = (v.sbp, v.dbp) {
        parts.push(format!("BP {s}/{d}"));
    }
    if let Some(h) = v.hr {
        parts.push(format!("HR {h}"));
    }
    if let Some(t) = v.temp_c {
        parts.push(format!("T {t:.1} °C"));
    }
    if let Some(s) = v.spo2 {
        parts.push(format!("SpO2 {s}%"));
    }
    if let Some(r) = v.rr {
        parts.push(format!("RR {r}"));
    }
    parts.join(", ")
}

pub fn build_flowsheet(ctx: &Ctx, i: &FlowsheetInput) -> Result<NewRecord, AppError> {
    clinical::flowsheet::check_vitals(&i.vitals)?;
    let at = parse_when("observed_at", i.observed_at.as_deref(), &ctx.tz)?;
    let now = carepath_store::now_us();
    let late = clinical::flowsheet::is_late_entry(at, now, 24);
    let vt = vitals_text(&i.vitals);
    let (kind, body, summary, due) = match i.scale.as_str() {
        "cows" => {
            let mut items = i.items.clone();
            // The measured heart rate feeds the pulse item when no pulse score is given.
            if !items.contains_key("pulse")
                && !items.contains_key("pulse_bpm")
                && let Some(hr) = i.vitals.hr
            {
                items.insert("pulse_bpm".into(), json!(hr));
            }
            let out = clinical::cows::score(&clinical::cows::Input { items })?;
            let due = clinical::flowsheet::next_due(&ctx.protocol, at, out.total);
            let summary = format!(
                "COWS {} ({}){}",
                out.total,
                out.band_label,
                if vt.is_empty() {
                    String::new()
                } else {
                    format!("; {vt}")
                }
            );
            (
                "cows",
                json!({"scale": "cows", "score": out, "vitals": i.vitals}),
                summary,
                due,
            )
        }
        "sows" => {
            let out = clinical::sows::score(
                &serde_json::from_value(json!({ "items": i.sows }))
                    .map_err(|e| invalid("sows", e.to_string()))?,
            )?;
            let summary = format!(
                "SOWS {}{}",
                out.total,
                if vt.is_empty() {
                    String::new()
                } else {
                    format!("; {vt}")
                }
            );
            (
                "sows",
                json!({"scale": "sows", "score": out, "vitals": i.vitals}),
                summary,
                at + ctx.protocol.every_h as i64 * HOUR_US,
            )
        }
        _ => return Err(invalid("scale", "must be cows or sows")),
    };
    let mut r = ctx.record(kind, body, summary, at);
    r.due_at = Some(due);
    r.late_entry = late;
    Ok(r)
}

// ---------------------------------------------------------------- comfort medication

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderInput {
    /// A formulary name (`comfort-med` calculator), e.g. clonidine, lofexidine, loperamide.
    pub medication: String,
    pub dose_mg: f64,
    /// Minimum hours between doses.
    pub every_h: f64,
    #[serde(default)]
    pub prn: bool,
    #[serde(default)]
    pub indication: String,
    /// Hold parameters replacing the defaults.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    pub holds: Option<Vec<clinical::comfort::Hold>>,
}

pub fn build_order(ctx: &Ctx, i: &OrderInput) -> Result<NewRecord, AppError> {
    // Check the order itself against the formulary (single dose and daily
    // maximum). Vital signs belong to each administration, where the hold
    // parameters are checked; here in-range placeholders let the dose rules run.
    let check = clinical::comfort::check(
        &serde_json::from_value(json!({
            "medication": i.medication,
            "proposed_dose_mg": i.dose_mg,
            "hold_parameters": i.holds,
            "vitals": {"sbp": 120, "dbp": 80, "hr": 80},
        }))
        .map_err(|e| invalid("medication", e.to_string()))?,
    )?;
    if let Some(v) = check.verdict.violations.first() {
        return Err(invalid("dose_mg", v.message.clone()));
    }
    if !(0.5..=48.0).contains(&i.every_h) {
        return Err(invalid("every_h", "must be 0.5 to 48 hours"));
    }
    let holds = i
        .holds
        .clone()
        .unwrap_or_else(clinical::comfort::default_holds);
    let summary = format!(
        "Order: {} {} mg every {} h{}{}",
        i.medication,
        i.dose_mg,
        i.every_h,
        if i.prn { " as needed" } else { "" },
        if i.indication.trim().is_empty() {
            String::new()
        } else {
            format!(" for {}", i.indication.trim())
        }
    );
    let mut r = ctx.record(
        "order",
        json!({"medication": i.medication, "dose_mg": i.dose_mg, "every_h": i.every_h, "prn": i.prn,
               "indication": i.indication.trim(), "holds": holds, "max_daily_mg": check.max_daily_mg}),
        summary,
        carepath_store::now_us(),
    );
    r.sign_role = Some(Role::Prescriber.as_str().into());
    Ok(r)
}

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdministrationInput {
    pub order_id: String,
    pub sbp: u32,
    pub dbp: u32,
    pub hr: u32,
    /// Given (true) or held (false).
    pub given: bool,
    /// Why the dose was held (required whenever it is not given).
    #[serde(default)]
    pub hold_reason: String,
}

/// Check an administration against the signed order and its hold parameters.
pub async fn build_administration(
    state: &AppState,
    ctx: &Ctx,
    i: &AdministrationInput,
) -> Result<(NewRecord, clinical::comfort::Output), AppError> {
    let order = state.store.record(&i.order_id).await?;
    if order.patient_id != ctx.patient.id || order.kind != "order" {
        return Err(invalid("order_id", "no such order for this patient"));
    }
    if !order.is_current() {
        return Err(invalid(
            "order_id",
            "this order was amended; use the current version",
        ));
    }
    if !order.is_signed() {
        return Err(invalid(
            "order_id",
            "the order is waiting for a prescriber's signature",
        ));
    }
    let now = carepath_store::now_us();
    let past: Vec<Record> = state
        .store
        .records_referring(&order.root_id)
        .await?
        .into_iter()
        .filter(|r| r.kind == "administration" && r.body["given"] == json!(true))
        .collect();
    let last24: Vec<f64> = past
        .iter()
        .filter(|r| r.occurred_at > now - DAY_US)
        .filter_map(|r| r.body["dose_mg"].as_f64())
        .collect();
    let since = past
        .iter()
        .map(|r| r.occurred_at)
        .max()
        .map(|t| (now - t) as f64 / HOUR_US as f64);
    let dose = order.body["dose_mg"].as_f64().unwrap_or(0.0);
    let out = clinical::comfort::check(
        &serde_json::from_value(json!({
            "medication": order.body["medication"],
            "proposed_dose_mg": dose,
            "given_last_24h_mg": last24,
            "hours_since_last_dose": since,
            "vitals": {"sbp": i.sbp, "dbp": i.dbp, "hr": i.hr},
            "hold_parameters": order.body["holds"],
        }))
        .map_err(|e| invalid("order_id", e.to_string()))?,
    )?;
    clinical::flowsheet::check_vitals(&clinical::flowsheet::Vitals {
        sbp: Some(i.sbp),
        dbp: Some(i.dbp),
        hr: Some(i.hr),
        ..Default::default()
    })?;
    if i.given && !out.verdict.approved {
        let why = out
            .verdict
            .violations
            .iter()
            .map(|v| v.message.clone())
            .collect::<Vec<_>>()
            .join("; ");
        return Err(invalid(
            "given",
            format!("this dose is blocked: {why}. Hold it and document the reason."),
        ));
    }
    if !i.given && i.hold_reason.trim().chars().count() < 5 {
        return Err(invalid(
            "hold_reason",
            "a held dose needs a documented reason",
        ));
    }
    let med = order.body["medication"].as_str().unwrap_or("").to_string();
    let summary = if i.given {
        format!(
            "Given: {med} {dose} mg (BP {}/{}, HR {})",
            i.sbp, i.dbp, i.hr
        )
    } else {
        format!(
            "Held: {med} {dose} mg — {} (BP {}/{}, HR {})",
            i.hold_reason.trim(),
            i.sbp,
            i.dbp,
            i.hr
        )
    };
    let mut r = ctx.record(
        "administration",
        json!({"order_id": order.root_id, "medication": med, "dose_mg": dose, "given": i.given,
               "hold_reason": i.hold_reason.trim(), "vitals": {"sbp": i.sbp, "dbp": i.dbp, "hr": i.hr},
               "check": out}),
        summary,
        now,
    );
    r.ref_id = Some(order.root_id.clone());
    Ok((r, out))
}

// ---------------------------------------------------------------- notes

pub const TEMPLATES: [(&str, &[(&str, &str)]); 3] = [
    (
        "DAP",
        &[
            ("data", "Data"),
            ("assessment", "Assessment"),
            ("plan", "Plan"),
        ],
    ),
    (
        "SOAP",
        &[
            ("subjective", "Subjective"),
            ("objective", "Objective"),
            ("assessment", "Assessment"),
            ("plan", "Plan"),
        ],
    ),
    (
        "BIRP",
        &[
            ("behavior", "Behavior"),
            ("intervention", "Intervention"),
            ("response", "Response"),
            ("plan", "Plan"),
        ],
    ),
];

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteInput {
    /// DAP, SOAP or BIRP.
    pub template: String,
    /// Section name → text (e.g. data, assessment, plan).
    pub sections: BTreeMap<String, String>,
    /// individual, group, family, other.
    #[serde(default = "individual")]
    pub service: String,
    /// When the session took place (default now); more than 24 h ago → late entry.
    #[serde(default)]
    pub occurred_at: Option<String>,
    #[serde(default)]
    pub session_id: Option<String>,
    /// Treatment-plan goals this note addresses (`PLANID#n`).
    #[serde(default)]
    pub goal_refs: Vec<String>,
    /// A supervisor who must co-sign (trainee notes).
    #[serde(default)]
    pub cosigner_id: Option<String>,
    /// A SUD counseling note (42 CFR § 2.11, like HIPAA's psychotherapy notes):
    /// kept apart from the record — only its author (and named co-signer) read
    /// it, and it is never part of a disclosure or a summary.
    #[serde(default)]
    pub private: bool,
}

fn individual() -> String {
    "individual".into()
}

pub fn build_note(ctx: &Ctx, i: &NoteInput) -> Result<NewRecord, AppError> {
    let Some((_, sections)) = TEMPLATES.iter().find(|(t, _)| *t == i.template) else {
        return Err(invalid("template", "must be DAP, SOAP or BIRP"));
    };
    for k in i.sections.keys() {
        if !sections.iter().any(|(s, _)| s == k) {
            return Err(
                FieldError::new(format!("sections.{k}"), "not a section of this template").into(),
            );
        }
    }
    for (s, label) in sections.iter() {
        if i.sections.get(*s).is_none_or(|t| t.trim().is_empty()) {
            return Err(
                FieldError::new(format!("sections.{s}"), format!("{label} is required")).into(),
            );
        }
    }
    if !["individual", "group", "family", "other"].contains(&i.service.as_str()) {
        return Err(invalid(
            "service",
            "must be individual, group, family or other",
        ));
    }
    let at = parse_when("occurred_at", i.occurred_at.as_deref(), &ctx.tz)?;
    let now = carepath_store::now_us();
    let cosigner = match i.cosigner_id.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => Some(
            c.parse::<UserId>()
                .map_err(|_| invalid("cosigner_id", "choose a supervisor"))?,
        ),
        None => None,
    };
    if cosigner == Some(ctx.author.id) {
        return Err(invalid("cosigner_id", "a co-signer must be someone else"));
    }
    let first = i.sections.get(sections[0].0).cloned().unwrap_or_default();
    let mut excerpt: String = first.chars().take(80).collect();
    if first.chars().count() > 80 {
        excerpt.push('…');
    }
    // A private counseling note's summary says nothing of its content: the
    // summary appears in timelines other staff read.
    let summary = if i.private {
        format!("Private counseling note ({})", i.service)
    } else {
        format!("{} {} note: {excerpt}", i.service, i.template)
    };
    let mut r = ctx.record(
        "note",
        json!({"template": i.template, "sections": i.sections, "service": i.service,
               "session_id": i.session_id, "goal_refs": i.goal_refs, "private": i.private}),
        summary,
        at,
    );
    r.late_entry = clinical::flowsheet::is_late_entry(at, now, 24);
    r.cosigner_id = cosigner;
    r.ref_id = i.session_id.clone().filter(|s| !s.is_empty());
    Ok(r)
}

// ---------------------------------------------------------------- treatment plan

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Objective {
    pub text: String,
    /// `YYYY-MM-DD`.
    pub target_date: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Intervention {
    /// One of [`INTERVENTIONS`].
    pub kind: String,
    #[serde(default)]
    pub detail: String,
    /// Responsible staff (name or role).
    pub responsible: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Problem {
    pub problem: String,
    /// A measurable goal.
    pub goal: String,
    /// How progress is measured.
    pub measure: String,
    pub objectives: Vec<Objective>,
    pub interventions: Vec<Intervention>,
    /// Progress at the last review.
    #[serde(default)]
    pub progress: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanInput {
    pub problems: Vec<Problem>,
    /// Next review date, `YYYY-MM-DD`.
    pub review_due: String,
    /// The patient took part in writing the plan.
    #[serde(default)]
    pub patient_participated: bool,
}

pub const INTERVENTIONS: [(&str, &str); 12] = [
    ("cbt", "Cognitive behavioral therapy"),
    ("contingency_management", "Contingency management"),
    ("family_therapy", "Family therapy"),
    ("medication", "Medication (MOUD)"),
    ("twelve_step", "12-step facilitation"),
    ("smart_recovery", "SMART Recovery facilitation"),
    ("motivational_interviewing", "Motivational interviewing"),
    ("case_management", "Case management"),
    ("nutrition", "Nutrition"),
    ("yoga", "Yoga"),
    ("art", "Art therapy"),
    ("dance", "Dance and movement"),
];

pub fn build_plan(ctx: &Ctx, i: &PlanInput) -> Result<NewRecord, AppError> {
    if i.problems.is_empty() {
        return Err(invalid("problems", "a plan needs at least one problem"));
    }
    let today = ctx.today();
    for (k, p) in i.problems.iter().enumerate() {
        let f = |n: &str| format!("problems[{k}].{n}");
        for (n, v) in [
            ("problem", &p.problem),
            ("goal", &p.goal),
            ("measure", &p.measure),
        ] {
            if v.trim().chars().count() < 3 {
                return Err(FieldError::new(f(n), "is required").into());
            }
        }
        if p.objectives.is_empty() {
            return Err(FieldError::new(
                f("objectives"),
                "add at least one objective with a target date",
            )
            .into());
        }
        for (j, o) in p.objectives.iter().enumerate() {
            if o.text.trim().is_empty() {
                return Err(FieldError::new(
                    format!("problems[{k}].objectives[{j}].text"),
                    "is required",
                )
                .into());
            }
            o.target_date
                .trim()
                .parse::<jiff::civil::Date>()
                .map_err(|_| {
                    FieldError::new(
                        format!("problems[{k}].objectives[{j}].target_date"),
                        "must be a date, YYYY-MM-DD",
                    )
                })?;
        }
        if p.interventions.is_empty() {
            return Err(
                FieldError::new(f("interventions"), "choose at least one intervention").into(),
            );
        }
        for (j, x) in p.interventions.iter().enumerate() {
            if !INTERVENTIONS.iter().any(|(c, _)| *c == x.kind) {
                return Err(FieldError::new(
                    format!("problems[{k}].interventions[{j}].kind"),
                    "unknown intervention",
                )
                .into());
            }
            if x.responsible.trim().is_empty() {
                return Err(FieldError::new(
                    format!("problems[{k}].interventions[{j}].responsible"),
                    "name who is responsible",
                )
                .into());
            }
        }
    }
    let review: jiff::civil::Date = i
        .review_due
        .trim()
        .parse()
        .map_err(|_| invalid("review_due", "must be a date, YYYY-MM-DD"))?;
    if review < today {
        return Err(invalid("review_due", "must be today or later"));
    }
    let due = review
        .to_zoned(ctx.tz.clone())
        .map_err(|_| invalid("review_due", "not a valid date"))?
        .timestamp()
        .as_microsecond();
    let mut r = ctx.record(
        "plan",
        serde_json::to_value(i).map_err(|e| AppError::Internal(e.to_string()))?,
        format!(
            "Treatment plan: {} problem(s), first goal: {}; review by {review}",
            i.problems.len(),
            i.problems[0].goal.trim()
        ),
        carepath_store::now_us(),
    );
    r.due_at = Some(due);
    Ok(r)
}

// ---------------------------------------------------------------- consents & disclosure

pub fn build_consent(ctx: &Ctx, c: &clinical::consent::Consent) -> Result<NewRecord, AppError> {
    clinical::consent::validate(c, ctx.today())?;
    let summary = match c.kind {
        clinical::consent::Kind::Treatment => "Consent to treatment signed".to_string(),
        k => format!(
            "Consent ({}): to {} for {}; until {}",
            k.label(),
            c.recipient.trim(),
            c.purpose.trim(),
            c.expires_on
                .clone()
                .filter(|d| !d.trim().is_empty())
                .or_else(|| c.expiry_event.clone())
                .unwrap_or_default()
        ),
    };
    Ok(ctx.record(
        "consent",
        serde_json::to_value(c).map_err(|e| AppError::Internal(e.to_string()))?,
        summary,
        carepath_store::now_us(),
    ))
}

/// Consents of a patient (current versions) with whether each was revoked.
pub fn consents_with_state(records: &[Record]) -> Vec<(Record, Option<Record>)> {
    records
        .iter()
        .filter(|r| r.kind == "consent" && r.is_current())
        .map(|c| {
            let rev = records
                .iter()
                .find(|r| r.kind == "consent_revocation" && r.ref_id.as_deref() == Some(&c.root_id))
                .cloned();
            (c.clone(), rev)
        })
        .collect()
}

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisclosureInput {
    pub consent_id: String,
    pub recipient: String,
    pub purpose: String,
    /// print, export, fax, fhir.
    #[serde(default = "print")]
    pub channel: String,
}

fn print() -> String {
    "print".into()
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DisclosedDocument {
    pub disclosure_id: String,
    pub recipient: String,
    pub purpose: String,
    /// What the consent allows to be disclosed.
    pub information: String,
    pub notice: String,
    /// The patient summary released (within the consent's description).
    pub patient: String,
    pub date_of_birth: String,
    pub lines: Vec<String>,
    pub consent_summary: String,
}

/// Disclose a summary out of Carepath: only with a valid consent; every
/// disclosure goes to the accounting log with the § 2.32 notice; refusals are audited.
pub async fn disclose(
    state: &AppState,
    p: &Principal,
    id: PatientId,
    i: &DisclosureInput,
) -> Result<DisclosedDocument, AppError> {
    let ctx = open(state, p, id, Permission::ReadClinical, "disclosure.prepare").await?;
    if !holds_in(p, ctx.program.id, Permission::WriteClinical) {
        return Err(AppError::Forbidden(
            "disclosures are made by clinical staff of the patient's program".into(),
        ));
    }
    if i.recipient.trim().is_empty() {
        return Err(invalid("recipient", "name the recipient"));
    }
    if i.purpose.trim().is_empty() {
        return Err(invalid("purpose", "state the purpose"));
    }
    let records = state.store.patient_records(id, &[]).await?;
    let consents = consents_with_state(&records);
    let found = consents
        .iter()
        .find(|(c, _)| c.id == i.consent_id || c.root_id == i.consent_id);
    let refuse = |why: String| async move {
        state
            .store
            .audit(
                p.event("disclosure.refused", Outcome::Denied)
                    .patient(id)
                    .detail(why.clone()),
            )
            .await?;
        Err::<DisclosedDocument, AppError>(AppError::Forbidden(format!(
            "disclosure refused: {why}"
        )))
    };
    let Some((consent, revoked)) = found else {
        return refuse("no consent on file with that id (42 CFR § 2.31)".into()).await;
    };
    let c: clinical::consent::Consent = serde_json::from_value(consent.body.clone())
        .map_err(|_| AppError::Internal("stored consent".into()))?;
    let standing = clinical::consent::Standing {
        revoked: revoked.is_some(),
        treatment_ended: ctx.episodes.iter().all(|e| e.discharged_at.is_some()),
        today: ctx.today(),
    };
    if let Err(why) = clinical::consent::permits(
        &c,
        standing,
        &clinical::consent::Request {
            recipient: i.recipient.clone(),
            purpose: i.purpose.clone(),
        },
    ) {
        return refuse(why).await;
    }
    // What is released: the patient's episodes and the newest diagnosis, limited
    // to what a summary contains (the consent's description is shown with it).
    let mut lines = vec![];
    for e in &ctx.episodes {
        let level = e
            .level_of_care
            .parse::<ProgramKind>()
            .map(|k| k.label())
            .unwrap_or("—");
        lines.push(format!(
            "Episode: {level}, admitted {}{}",
            crate::views::fmt_time(e.admitted_at, &ctx.tz),
            e.discharged_at
                .map(|d| format!(", discharged {}", crate::views::fmt_time(d, &ctx.tz)))
                .unwrap_or_default()
        ));
    }
    if let Some(a) = records
        .iter()
        .rev()
        .find(|r| r.kind == "assessment" && r.is_current())
    {
        for c in a.body["diagnosis"]["codes"]
            .as_array()
            .into_iter()
            .flatten()
        {
            lines.push(format!(
                "Diagnosis: {} {}",
                c["code"].as_str().unwrap_or(""),
                c["title"].as_str().unwrap_or("")
            ));
        }
    }
    let d = carepath_store::Disclosure {
        id: uuid::Uuid::now_v7().to_string(),
        patient_id: id.to_string(),
        program_id: ctx.program.id.to_string(),
        consent_id: consent.id.clone(),
        recipient: i.recipient.trim().to_string(),
        purpose: i.purpose.trim().to_string(),
        information: c.information.clone(),
        channel: i.channel.clone(),
        notice: clinical::consent::REDISCLOSURE_NOTICE.into(),
        disclosed_at: carepath_store::now_us(),
        disclosed_by: p.user_id.to_string(),
    };
    state
        .store
        .record_disclosure(&d, p.event("disclosure.make", Outcome::Success))
        .await?;
    Ok(DisclosedDocument {
        disclosure_id: d.id,
        recipient: d.recipient,
        purpose: d.purpose,
        information: d.information,
        notice: d.notice,
        patient: ctx.patient.display_name(),
        date_of_birth: ctx.patient.date_of_birth.clone(),
        lines,
        consent_summary: consent.summary.clone(),
    })
}

// ---------------------------------------------------------------- discharge

#[derive(Debug, Clone, Deserialize, Serialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Aftercare {
    /// Continuing outpatient therapy: where, when.
    #[serde(default)]
    pub outpatient_therapy: String,
    /// Medication continuation and where (e.g. "methadone at Eastside OTP").
    #[serde(default)]
    pub medication: String,
    /// Support groups: Narcotics Anonymous, SMART Recovery…
    #[serde(default)]
    pub support_groups: String,
    #[serde(default)]
    pub sober_living: String,
    #[serde(default)]
    pub housing_employment: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Naloxone {
    #[serde(default)]
    pub education_given: bool,
    #[serde(default)]
    pub kit_given: bool,
    /// Why not, when required and not given (declined, already has a kit…).
    #[serde(default)]
    pub not_given_reason: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DischargeInput {
    /// TEDS REASON code: 1 completed, 2 left against advice, 3 terminated by facility,
    /// 4 transferred, 5 incarcerated, 6 died, 7 other.
    pub reason: u8,
    pub summary: String,
    #[serde(default)]
    pub aftercare: Aftercare,
    #[serde(default)]
    pub naloxone: Naloxone,
    #[serde(default)]
    pub taper_completed: bool,
    #[serde(default)]
    pub continuing_agonist: bool,
    /// Every N days (default from the server configuration: 7).
    #[serde(default)]
    pub followup_every_days: Option<u32>,
    /// How many calls (default from the server configuration: 12).
    #[serde(default)]
    pub followup_count: Option<u32>,
}

/// Build the discharge records (summary, aftercare, naloxone, follow-up calls
/// due from `at`) for episode `ep`; returns the stored reason key with them.
pub fn build_discharge(
    ctx: &Ctx,
    ep: &Episode,
    i: &DischargeInput,
    at: i64,
) -> Result<(&'static str, Vec<NewRecord>), AppError> {
    let key = clinical::teds::label(&clinical::teds::DISCHARGE_KEYS, i.reason)
        .ok_or_else(|| invalid("reason", "choose a TEDS discharge reason (1–7)"))?;
    if i.summary.trim().chars().count() < 10 {
        return Err(invalid(
            "summary",
            "write a discharge summary (at least 10 characters)",
        ));
    }
    let rule = clinical::discharge::naloxone_required(&clinical::discharge::Situation {
        level_of_care: ep.level_of_care.clone(),
        reason: i.reason,
        taper_completed: i.taper_completed,
        continuing_agonist: i.continuing_agonist,
    });
    let covered = i.naloxone.education_given && i.naloxone.kit_given;
    if rule.required && !covered && i.naloxone.not_given_reason.trim().chars().count() < 5 {
        return Err(invalid(
            "naloxone",
            format!(
                "overdose education and a naloxone kit are required ({}); document them or why not",
                rule.why
            ),
        ));
    }
    let offsets = if i.reason == 6 {
        vec![]
    } else {
        clinical::discharge::follow_up_offsets(
            i.followup_every_days.unwrap_or(7),
            i.followup_count.unwrap_or(12),
        )?
    };
    let reason_label =
        clinical::teds::label(&clinical::teds::DISCHARGE_REASONS, i.reason).unwrap_or("");
    let mut records = vec![{
        let mut r = ctx.record(
            "discharge",
            json!({"reason_code": i.reason, "reason": key, "summary": i.summary.trim(),
                   "aftercare": i.aftercare, "naloxone": i.naloxone, "naloxone_rule": rule,
                   "taper_completed": i.taper_completed, "continuing_agonist": i.continuing_agonist,
                   "level_of_care": ep.level_of_care, "followups": offsets.len()}),
            format!(
                "Discharged: {reason_label}{}; {} follow-up call(s) scheduled",
                if rule.required {
                    if covered {
                        "; naloxone kit and overdose education given"
                    } else {
                        "; naloxone REQUIRED — not given (reason documented)"
                    }
                } else {
                    ""
                },
                offsets.len()
            ),
            at,
        );
        r.episode_id = Some(ep.id);
        r.program_id = ep.program_id;
        r
    }];
    for (k, d) in offsets.iter().enumerate() {
        let mut r = ctx.record(
            "followup",
            json!({"number": k + 1, "of": offsets.len(), "day": d}),
            format!("Follow-up call {} of {}", k + 1, offsets.len()),
            at,
        );
        r.episode_id = Some(ep.id);
        r.program_id = ep.program_id;
        r.due_at = Some(at + *d as i64 * DAY_US);
        records.push(r);
    }
    Ok((key, records))
}

pub async fn discharge(
    state: &AppState,
    p: &Principal,
    id: PatientId,
    i: &DischargeInput,
) -> Result<Vec<String>, AppError> {
    let ctx = open(
        state,
        p,
        id,
        Permission::WriteClinical,
        "episode.discharge.open",
    )
    .await?;
    let Some(ep) = ctx.episode.clone() else {
        return Err(AppError::Conflict("the patient has no open episode".into()));
    };
    if !holds_in(p, ep.program_id, Permission::WriteClinical) {
        return Err(AppError::Forbidden(
            "only staff of the admitting program may discharge".into(),
        ));
    }
    let now = carepath_store::now_us();
    let mut i = i.clone();
    i.followup_every_days.get_or_insert(ctx.followup.0);
    i.followup_count.get_or_insert(ctx.followup.1);
    let (key, records) = build_discharge(&ctx, &ep, &i, now)?;
    Ok(state
        .store
        .discharge_with_records(
            ep.id,
            now,
            key,
            &records,
            p.event("episode.discharge", Outcome::Success),
        )
        .await?)
}

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferInput {
    pub program_id: String,
    /// The new level of care (a program kind).
    pub level_of_care: String,
}

pub async fn transfer(
    state: &AppState,
    p: &Principal,
    id: PatientId,
    i: &TransferInput,
) -> Result<EpisodeId, AppError> {
    let ctx = open(
        state,
        p,
        id,
        Permission::WriteClinical,
        "episode.transfer.open",
    )
    .await?;
    let Some(ep) = ctx.episode.clone() else {
        return Err(AppError::Conflict("the patient has no open episode".into()));
    };
    let to: ProgramId = i
        .program_id
        .parse()
        .map_err(|_| invalid("program_id", "choose a program"))?;
    if !holds_in(p, to, Permission::WriteClinical)
        || !holds_in(p, ep.program_id, Permission::WriteClinical)
    {
        return Err(invalid(
            "program_id",
            "you can transfer only between programs you work in",
        ));
    }
    let level = i
        .level_of_care
        .parse::<ProgramKind>()
        .map_err(|_| invalid("level_of_care", "unknown level of care"))?;
    if to == ep.program_id && level.as_str() == ep.level_of_care {
        return Err(invalid(
            "level_of_care",
            "that is the current level and program",
        ));
    }
    Ok(state
        .store
        .transfer(
            ep.id,
            to,
            level.as_str(),
            carepath_store::now_us(),
            p.user_id,
            p.event("episode.transfer", Outcome::Success).patient(id),
        )
        .await?)
}

// ---------------------------------------------------------------- follow-up outcomes

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowUpOutcome {
    pub reached: bool,
    #[serde(default)]
    pub using: Option<bool>,
    #[serde(default)]
    pub in_treatment: Option<bool>,
    #[serde(default)]
    pub needs_reengagement: bool,
    #[serde(default)]
    pub note: String,
}

/// Record a follow-up call; re-engagement opens a new referral in the intake queue.
pub async fn followup_outcome(
    state: &AppState,
    p: &Principal,
    followup_id: &str,
    o: &FollowUpOutcome,
) -> Result<Option<String>, AppError> {
    let f = state.store.record(followup_id).await?;
    if f.kind != "followup" {
        return Err(AppError::NotFound);
    }
    let ctx = open(
        state,
        p,
        f.patient_id,
        Permission::WriteClinical,
        "followup.open",
    )
    .await?;
    if !state.store.records_referring(&f.id).await?.is_empty() {
        return Err(AppError::Conflict(
            "this call already has an outcome".into(),
        ));
    }
    let yn = |b: Option<bool>, y: &str, n: &str| match b {
        Some(true) => y.to_string(),
        Some(false) => n.to_string(),
        None => "unknown".to_string(),
    };
    let summary = if o.reached {
        format!(
            "Follow-up call: reached; {}; {}{}",
            yn(o.using, "using", "not using"),
            yn(o.in_treatment, "in treatment", "not in treatment"),
            if o.needs_reengagement {
                "; re-engagement referral made"
            } else {
                ""
            }
        )
    } else {
        format!(
            "Follow-up call: not reached{}",
            if o.needs_reengagement {
                "; re-engagement referral made"
            } else {
                ""
            }
        )
    };
    let mut r = ctx.record(
        "followup_outcome",
        serde_json::to_value(o).map_err(|e| AppError::Internal(e.to_string()))?,
        summary,
        carepath_store::now_us(),
    );
    r.program_id = f.program_id;
    r.ref_id = Some(f.id.clone());
    state
        .store
        .append_record(&r, p.event("followup.outcome", Outcome::Success))
        .await?;
    if o.needs_reengagement {
        let (profile, _) = state.store.profile(f.patient_id).await?;
        let phone = profile
            .as_ref()
            .and_then(|v| v["phone"].as_str())
            .unwrap_or("")
            .to_string();
        let id = state
            .store
            .create_referral(
                f.program_id,
                &carepath_store::referrals::NewReferral {
                    name: ctx
                        .patient
                        .preferred_name
                        .clone()
                        .unwrap_or(ctx.patient.legal_first_name.clone()),
                    phone: if phone.is_empty() {
                        "see chart".into()
                    } else {
                        phone
                    },
                    best_time: "any".into(),
                    note: Some(format!(
                        "Re-engagement after follow-up call (MRN {})",
                        ctx.patient.mrn
                    )),
                    language: "en".into(),
                },
                p.event("referral.reengage", Outcome::Success)
                    .patient(f.patient_id),
            )
            .await?;
        return Ok(Some(id));
    }
    Ok(None)
}

// ---------------------------------------------------------------- signing and amending

#[derive(Debug, Clone, Deserialize, Serialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInput {
    /// author (default), cosign, or patient.
    #[serde(default)]
    pub as_: Option<String>,
    /// Patient signatures: the typed name, or a drawn path (SVG path data).
    #[serde(default)]
    pub typed_name: String,
    #[serde(default)]
    pub drawing: String,
}

/// Sign a record. Orders are signed only by a prescriber of the record's
/// program; notes and other entries by their author; co-signatures only by the
/// named co-signer after the author; patient signatures are witnessed by staff.
pub async fn sign(
    state: &AppState,
    p: &Principal,
    record_id: &str,
    i: &SignInput,
) -> Result<(), AppError> {
    let r = state.store.record(record_id).await?;
    let ctx = open(
        state,
        p,
        r.patient_id,
        Permission::WriteClinical,
        "record.sign.open",
    )
    .await?;
    if !r.is_current() {
        return Err(AppError::Conflict(
            "this version was amended; sign the current version".into(),
        ));
    }
    let kind = i.as_.as_deref().unwrap_or("author");
    let rr = &r;
    let deny = |msg: String| async move {
        let r = rr;
        state
            .store
            .audit(
                p.event("record.sign", Outcome::Denied)
                    .object(&r.kind, &r.id)
                    .patient(r.patient_id)
                    .detail(msg.clone()),
            )
            .await?;
        Err::<(), AppError>(AppError::Forbidden(msg))
    };
    let sig = match kind {
        "author" => {
            if let Some(role) = &r.sign_role {
                let role: Role = role
                    .parse()
                    .map_err(|_| AppError::Internal("sign_role".into()))?;
                // A prescriber's signature is the order permission (authz);
                // any other signing role is a role held in the record's program.
                let ok = match role {
                    Role::Prescriber => holds_in(p, r.program_id, Permission::OrderMedication),
                    other => p
                        .grants
                        .iter()
                        .any(|g| g.program_id == r.program_id && g.role == other),
                };
                if !ok {
                    return deny(format!(
                        "only a {} of this program may sign this {}",
                        role.label().to_lowercase(),
                        r.kind
                    ))
                    .await;
                }
            } else if r.author_id != p.user_id.to_string() {
                return deny(
                    "only the author signs an entry; others may amend it or add a note".into(),
                )
                .await;
            }
            NewSignature {
                kind: "author",
                signer_id: Some(p.user_id),
                signer_name: p.display_name.clone(),
                signer_role: ctx.author.role.clone(),
                method: "credential",
                drawing: None,
            }
        }
        "cosign" => {
            if r.cosigner_id.as_deref() != Some(&p.user_id.to_string()) {
                return deny("only the named supervisor co-signs".into()).await;
            }
            if !r.is_signed() {
                return Err(AppError::Conflict("the author has not signed yet".into()));
            }
            NewSignature {
                kind: "cosign",
                signer_id: Some(p.user_id),
                signer_name: p.display_name.clone(),
                signer_role: ctx.author.role.clone(),
                method: "credential",
                drawing: None,
            }
        }
        "patient" => {
            if r.kind != "plan" && r.kind != "consent" {
                return Err(invalid("as_", "patients sign plans and consents"));
            }
            let drawing = i.drawing.trim();
            let typed = i.typed_name.trim();
            if drawing.is_empty() && typed.chars().count() < 2 {
                return Err(invalid(
                    "typed_name",
                    "type the patient's name or draw the signature",
                ));
            }
            if !drawing.is_empty()
                && (drawing.len() > 20_000
                    || !drawing
                        .chars()
                        .all(|c| c.is_ascii_digit() || " .,-MLmlZz".contains(c)))
            {
                return Err(invalid(
                    "drawing",
                    "not a drawn signature (SVG M/L path data)",
                ));
            }
            NewSignature {
                kind: "patient",
                signer_id: None,
                signer_name: if typed.is_empty() {
                    ctx.patient.display_name()
                } else {
                    typed.to_string()
                },
                signer_role: "patient".into(),
                method: if drawing.is_empty() { "typed" } else { "drawn" },
                drawing: (!drawing.is_empty()).then(|| drawing.to_string()),
            }
        }
        _ => return Err(invalid("as_", "must be author, cosign or patient")),
    };
    state
        .store
        .sign_record(record_id, &sig, p.event("record.sign", Outcome::Success))
        .await?;
    Ok(())
}

/// Whether `p` may read the content of record `r`: everyone who may read the
/// chart, except for private counseling notes (author and named co-signer only).
pub fn may_read_content(p: &Principal, r: &Record) -> bool {
    if r.kind != "note" || r.body["private"] != json!(true) {
        return true;
    }
    let me = p.user_id.to_string();
    r.author_id == me || r.cosigner_id.as_deref() == Some(&me)
}

/// Hide the content of records `p` may not read (private counseling notes).
pub fn redact(p: &Principal, records: Vec<Record>) -> Vec<Record> {
    records
        .into_iter()
        .map(|mut r| {
            if !may_read_content(p, &r) {
                r.body = json!({"private": true, "service": r.body["service"], "template": r.body["template"]});
            }
            r
        })
        .collect()
}

/// Rebuild a record of `kind` from its input (create and amend share this).
pub async fn build(
    state: &AppState,
    ctx: &Ctx,
    kind: &str,
    input: Value,
) -> Result<NewRecord, AppError> {
    fn parse<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, AppError> {
        serde_json::from_value(v).map_err(|e| {
            let msg = e.to_string();
            let field = msg
                .split('`')
                .nth(1)
                .map(|s| s.to_string())
                .unwrap_or_else(|| "body".into());
            AppError::Invalid(FieldError::new(field, msg))
        })
    }
    match kind {
        "assessment" => build_assessment(ctx, &parse(input)?),
        "cows" | "sows" => build_flowsheet(ctx, &parse(input)?),
        "note" => build_note(ctx, &parse(input)?),
        "plan" => build_plan(ctx, &parse(input)?),
        "consent" => build_consent(ctx, &parse(input)?),
        "order" => build_order(ctx, &parse(input)?),
        "administration" => Ok(build_administration(state, ctx, &parse(input)?).await?.0),
        _ => Err(invalid(
            "kind",
            "this kind of record cannot be written here",
        )),
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AmendInput {
    /// Why the entry is corrected (kept with the new version).
    pub reason: String,
    /// The full corrected entry, in the same shape as when it was created.
    #[schema(value_type = Object)]
    pub entry: Value,
}

/// Amend the current version of a record: both versions are kept; the new one
/// carries author, time and reason. Notes are amended by their author only.
pub async fn amend(
    state: &AppState,
    p: &Principal,
    record_id: &str,
    i: &AmendInput,
) -> Result<String, AppError> {
    let old = state.store.record(record_id).await?;
    let ctx = open(
        state,
        p,
        old.patient_id,
        Permission::WriteClinical,
        "record.amend.open",
    )
    .await?;
    if !old.is_current() {
        return Err(AppError::Conflict(
            "this version was already amended; amend the current version".into(),
        ));
    }
    if old.kind == "note" && old.author_id != p.user_id.to_string() {
        return Err(AppError::Forbidden(
            "a note is amended by its author; write your own note instead".into(),
        ));
    }
    if i.reason.trim().chars().count() < 5 {
        return Err(invalid(
            "reason",
            "say why the entry is corrected (at least 5 characters)",
        ));
    }
    let mut new = build(state, &ctx, &old.kind, i.entry.clone()).await?;
    new.program_id = old.program_id;
    new.ref_id = new.ref_id.or(old.ref_id.clone());
    if old.kind == "plan" {
        // A plan keeps its episode; its review date moves with the new version.
        new.episode_id = old.episode_id.as_deref().and_then(|e| e.parse().ok());
    }
    let id = state
        .store
        .amend_record(
            &old.id,
            &new,
            i.reason.trim(),
            p.event("record.amend", Outcome::Success),
        )
        .await?;
    // A prescriber's change to an order is signed as it is written; anyone
    // else's waits for a prescriber, like a new order.
    if old.kind == "order" && holds_in(p, old.program_id, Permission::OrderMedication) {
        sign(state, p, &id, &SignInput::default()).await?;
    }
    Ok(id)
}

/// Create a record of `kind` for a patient from JSON input.
pub async fn create(
    state: &AppState,
    p: &Principal,
    id: PatientId,
    kind: &str,
    input: Value,
) -> Result<(String, Value), AppError> {
    let ctx = open(
        state,
        p,
        id,
        Permission::WriteClinical,
        &format!("{kind}.open"),
    )
    .await?;
    let r = build(state, &ctx, kind, input).await?;
    let body = r.body.clone();
    let rid = state
        .store
        .append_record(&r, p.event(&format!("{kind}.create"), Outcome::Success))
        .await?;
    // A prescriber's own order is signed as it is written.
    if kind == "order" && holds_in(p, ctx.program.id, Permission::OrderMedication) {
        sign(state, p, &rid, &SignInput::default()).await?;
    }
    Ok((rid, body))
}

/// A consent revocation (in writing, § 2.31): stops future disclosures; history kept.
pub async fn revoke(
    state: &AppState,
    p: &Principal,
    consent_id: &str,
    note: &str,
) -> Result<String, AppError> {
    let c = state.store.record(consent_id).await?;
    if c.kind != "consent" {
        return Err(AppError::NotFound);
    }
    let ctx = open(
        state,
        p,
        c.patient_id,
        Permission::WriteClinical,
        "consent.revoke.open",
    )
    .await?;
    let all = state
        .store
        .patient_records(c.patient_id, &["consent_revocation"])
        .await?;
    if all.iter().any(|r| r.ref_id.as_deref() == Some(&c.root_id)) {
        return Err(AppError::Conflict("this consent is already revoked".into()));
    }
    let mut r = ctx.record(
        "consent_revocation",
        json!({"note": note.trim()}),
        format!("Consent revoked: {}", c.summary),
        carepath_store::now_us(),
    );
    r.ref_id = Some(c.root_id.clone());
    r.program_id = c.program_id;
    Ok(state
        .store
        .append_record(&r, p.event("consent.revoke", Outcome::Success))
        .await?)
}
