//! Dashboard, patient search, registration, the chart shell, emergency access.

use crate::AppState;
use crate::access::{self, Basis, Refusal};
use crate::auth::Principal;
use crate::error::{AppError, HtmlResult};
use crate::views::{Nav, fmt_time, render};
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use carepath_domain::FieldError;
use carepath_domain::audit::Outcome;
use carepath_domain::authz::Permission;
use carepath_domain::ids::{PatientId, ProgramId};
use carepath_domain::patient::{PatientInput, Sex};
use carepath_domain::program::{ProgramKind, clinic_day, parse_time_zone};
use carepath_store::{CensusRow, PatientSearch};
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
    let since = carepath_store::now_us() - 7 * 86_400 * 1_000_000;
    let mut rows = state
        .store
        .census(p.user_id, &p.roles_csv(Permission::ViewDashboard), since)
        .await?;
    let totals = by_kind(&rows);
    for r in &mut rows {
        if let Ok(k) = r.kind.parse::<ProgramKind>() {
            r.kind = k.label().to_string();
        }
    }
    state
        .store
        .audit(p.event("dashboard.view", Outcome::Success))
        .await?;
    Ok(render(&DashboardPage {
        nav: Nav::for_principal(&p),
        title: "Dashboard".into(),
        by_kind: totals,
        rows,
        by_level: crate::work::census_by_level(&state, &p).await?,
    })
    .into_response())
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
        let found = access::search(&state, &p, &s).await?;
        let programs = state.store.list_programs().await?;
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

#[derive(Deserialize, Default, Clone)]
pub struct RegisterForm {
    #[serde(default)]
    pub program_id: String,
    #[serde(default)]
    pub legal_first_name: String,
    #[serde(default)]
    pub legal_last_name: String,
    #[serde(default)]
    pub preferred_name: String,
    #[serde(default)]
    pub date_of_birth: String,
    #[serde(default)]
    pub sex: String,
    #[serde(default)]
    pub admit_level: String,
    /// The call-back request this registration comes from (closed as registered).
    #[serde(default)]
    pub referral: String,
    /// "yes": the registrar checked the possible duplicates and this is a different person.
    #[serde(default)]
    pub confirm_new: String,
    /// Optional registration details taken at the same time.
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub language: String,
    #[serde(default)]
    pub payer: String,
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
    form: RegisterForm,
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
    form: RegisterForm,
    err: Option<FieldError>,
) -> Result<Response, AppError> {
    let allowed = p.programs_with(Permission::RegisterPatient);
    let programs = state
        .store
        .list_programs()
        .await?
        .into_iter()
        .filter(|g| allowed.contains(&g.id))
        .map(|g| (g.id.to_string(), g.name))
        .collect();
    let e = |name: &str| {
        err.as_ref()
            .filter(|e| e.field == name)
            .map(|e| e.message.clone())
    };
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
            value: form.preferred_name.clone(),
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
            value: form.phone.clone(),
            required: false,
            error: e("phone"),
        },
        Field {
            name: "language",
            label: "Preferred language (optional)",
            kind: "text",
            value: form.language.clone(),
            required: false,
            error: e("language"),
        },
    ];
    let status = if err.is_some() {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    } else {
        axum::http::StatusCode::OK
    };
    let page = RegisterPage {
        nav: Nav::for_principal(p),
        title: "Register patient".into(),
        error: err.as_ref().map(|e| e.to_string()),
        sex_error: e("sex"),
        payer_error: e("payer"),
        payers: crate::path_api::PAYERS.to_vec(),
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
    let mut form = RegisterForm {
        sex: "unknown".into(),
        ..Default::default()
    };
    // Start from a call-back request: the name and program come across without retyping.
    if !r.referral.is_empty() {
        let mine = p.programs_with(Permission::ManageReferrals);
        let found = state
            .store
            .referrals(&mine, false)
            .await?
            .into_iter()
            .find(|x| x.id == r.referral);
        let Some(x) = found else {
            return Err(AppError::NotFound.into());
        };
        state
            .store
            .audit(
                p.event("referral.read", Outcome::Success)
                    .object("referral", &x.id)
                    .program(x.program_id),
            )
            .await?;
        form.legal_first_name = x.name;
        form.program_id = x.program_id.to_string();
        form.phone = x.phone;
        form.language = if x.language == "es" {
            "Spanish"
        } else {
            "English"
        }
        .into();
        form.referral = x.id;
    }
    Ok(register_page(&state, &p, form, None).await?)
}

/// Register (and optionally admit) a patient: shared by the page and the API.
pub async fn register_patient(
    state: &AppState,
    p: &Principal,
    f: &RegisterForm,
) -> Result<carepath_store::Patient, AppError> {
    let program: ProgramId = f
        .program_id
        .parse()
        .map_err(|_| FieldError::new("program_id", "choose a program"))?;
    if !p
        .programs_with(Permission::RegisterPatient)
        .contains(&program)
    {
        return Err(AppError::Invalid(FieldError::new(
            "program_id",
            "you cannot register patients in that program",
        )));
    }
    let prog = state.store.program(program).await?;
    let tz = parse_time_zone(&prog.timezone)?;
    let today = clinic_day(jiff::Timestamp::now(), &tz);
    let input = PatientInput {
        legal_first_name: f.legal_first_name.clone(),
        legal_last_name: f.legal_last_name.clone(),
        preferred_name: Some(f.preferred_name.clone()),
        date_of_birth: f.date_of_birth.clone(),
        sex: f.sex.clone(),
    };
    let d = input.validate(today)?;
    let details = crate::path_api::ProfileDto {
        phone: f.phone.trim().into(),
        language: f.language.trim().into(),
        payer: f.payer.trim().into(),
        ..Default::default()
    };
    crate::path_api::check_profile(&details)?;
    // Flag possible duplicates among the patients this user can see (same birthday, near-identical name).
    if f.confirm_new != "yes" {
        let same_day = access::search(
            state,
            p,
            &PatientSearch {
                date_of_birth: Some(d.date_of_birth.to_string()),
                limit: 200,
                ..Default::default()
            },
        )
        .await?;
        let dups: Vec<(String, String, String, String)> = same_day
            .into_iter()
            .filter(|x| {
                carepath_domain::patient::possible_duplicate(
                    &d,
                    &x.legal_first_name,
                    &x.legal_last_name,
                    &x.date_of_birth,
                )
            })
            .map(|x| {
                (
                    x.id.to_string(),
                    x.display_name(),
                    x.date_of_birth.clone(),
                    x.mrn.clone(),
                )
            })
            .collect();
        if !dups.is_empty() {
            return Err(AppError::PossibleDuplicates(dups));
        }
    }
    let level = if f.admit_level.trim().is_empty() {
        None
    } else {
        Some(
            f.admit_level
                .parse::<ProgramKind>()
                .map_err(|_| FieldError::new("admit_level", "unknown level of care"))?,
        )
    };
    let mut patient = None;
    for _ in 0..8 {
        let serial: u32 = rand::random_range(0..10_000_000);
        let mrn = carepath_domain::patient::mrn_from_serial(serial);
        match state
            .store
            .create_patient(
                program,
                &d,
                &mrn,
                Some(p.user_id),
                p.event("patient.create", Outcome::Success),
            )
            .await
        {
            Ok(x) => {
                patient = Some(x);
                break;
            }
            Err(carepath_store::StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    let patient = patient.ok_or_else(|| AppError::Internal("could not allocate an MRN".into()))?;
    if !(details.phone.is_empty() && details.language.is_empty() && details.payer.is_empty()) {
        state
            .store
            .add_profile(
                patient.id,
                &serde_json::to_value(&details).map_err(|e| AppError::Internal(e.to_string()))?,
                p.user_id,
                p.event("profile.update", Outcome::Success),
            )
            .await?;
    }
    // A registration from a call-back request closes that request.
    if !f.referral.is_empty()
        && let Ok(program) = state.store.referral_program(&f.referral).await
        && p.programs_with(Permission::ManageReferrals)
            .contains(&program)
    {
        let ev = p
            .event("referral.close", Outcome::Success)
            .program(program)
            .patient(patient.id);
        // Already closed by someone else: the registration still stands.
        let _ = state
            .store
            .close_referral(&f.referral, "registered", ev)
            .await;
    }
    if let Some(level) = level {
        state
            .store
            .admit(
                patient.id,
                program,
                level.as_str(),
                carepath_store::now_us(),
                Some(p.user_id),
                p.event("episode.admit", Outcome::Success),
            )
            .await?;
    }
    Ok(patient)
}

pub async fn register(
    State(state): State<AppState>,
    p: Principal,
    Form(f): Form<RegisterForm>,
) -> HtmlResult<Response> {
    match register_patient(&state, &p, &f).await {
        Ok(x) => Ok(Redirect::to(&format!("/patients/{}", x.id)).into_response()),
        Err(AppError::Invalid(e)) => Ok(register_page(&state, &p, f, Some(e)).await?),
        Err(AppError::PossibleDuplicates(v)) => {
            let list = v
                .iter()
                .map(|x| format!("{} (born {}, MRN {})", x.1, x.2, x.3))
                .collect::<Vec<_>>()
                .join("; ");
            let e = FieldError::new(
                "confirm_new",
                format!(
                    "this may be someone already registered: {list}. Open their chart instead, or tick the box to register a different person."
                ),
            );
            Ok(register_page(&state, &p, f, Some(e)).await?)
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
    /// `all`: the whole timeline instead of the newest entries.
    #[serde(default)]
    timeline: String,
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
    let (patient, basis) = match access::patient(&state, &p, id, perm, "patient.read").await {
        Ok(x) => x,
        Err((_, Some(Refusal::OutsideButBreakable))) => {
            let page = BreakGlassPage {
                nav: Nav::for_principal(&p),
                title: "Emergency access".into(),
                patient_id: id,
                minutes: state.config.break_glass_minutes,
                error: None,
            };
            return Ok((axum::http::StatusCode::FORBIDDEN, render(&page)).into_response());
        }
        Err((e, _)) => return Err(e.into()),
    };
    let program = state.store.program(patient.program_id).await?;
    let tz = parse_time_zone(&program.timezone)?;
    let today = clinic_day(jiff::Timestamp::now(), &tz);
    let dob: jiff::civil::Date = patient
        .date_of_birth
        .parse()
        .map_err(|_| AppError::Internal("stored DOB".into()))?;
    let age = today
        .since(dob)
        .ok()
        .and_then(|s| {
            s.round(
                jiff::SpanRound::new()
                    .largest(jiff::Unit::Year)
                    .relative(dob),
            )
            .ok()
        })
        .map(|s| s.get_years())
        .unwrap_or(0) as i16;
    let mut timeline = vec![];
    let episodes = state.store.episodes(patient.id).await?;
    // The record is loaded once for the chart's sections and its timeline,
    // with private counseling notes redacted for everyone but their author.
    let records = if clinical_allowed {
        crate::chart::redact(&p, state.store.patient_records(patient.id, &[]).await?)
    } else {
        vec![]
    };
    let mut x = crate::pages::chart_view::build(
        &state,
        &p,
        patient.id,
        &episodes,
        &tz,
        clinical_allowed,
        &records,
    )
    .await?;
    if !q.error.is_empty() {
        x.error = Some(q.error.chars().take(300).collect());
    }
    if clinical_allowed {
        for (at, when, what, detail) in crate::pages::chart_view::timeline(&records, &tz) {
            timeline.push((at, TimelineItem { when, what, detail }));
        }
        let programs = state.store.list_programs().await?;
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
    if state.store.patient_programs(id).await?.is_empty() {
        return Err(AppError::NotFound.into());
    }
    let reason = f.reason.trim();
    if reason.chars().count() < 10 {
        let page = BreakGlassPage {
            nav: Nav::for_principal(&p),
            title: "Emergency access".into(),
            patient_id: id,
            minutes: state.config.break_glass_minutes,
            error: Some("reason: describe the emergency in at least 10 characters".into()),
        };
        return Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response());
    }
    let ttl = state.config.break_glass_minutes * 60 * 1_000_000;
    state
        .store
        .create_break_glass(
            p.user_id,
            id,
            reason,
            ttl,
            p.event("break_glass.open", Outcome::Success),
        )
        .await?;
    Ok(Redirect::to(&format!("/patients/{id}")).into_response())
}
