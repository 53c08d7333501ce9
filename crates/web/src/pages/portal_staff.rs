//! Staff pages around the portal: a patient's portal access (invite, turn
//! off) and self-reports (acknowledge one that alerted), and a program's
//! portal settings.

use crate::AppState;
use crate::auth::Principal;
use crate::error::{AppError, HtmlResult, field_errors};
use crate::views::{Nav, fmt_time, render};
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use carepath_app::portal::{self, AccessState, Invite};
use carepath_app::portal_model::{PortalSettings, Report};
use carepath_domain::ids::{PatientId, ProgramId};
use serde::Deserialize;

#[derive(Template)]
#[template(path = "patient_portal.html")]
struct PatientPortalPage {
    nav: Nav,
    title: String,
    /// Who this page is about (name, DOB, MRN, allergies).
    bar: Option<carepath_app::registration::Banner>,
    patient_id: String,
    a: AccessState,
    reports: Vec<Report>,
    invite: Option<Invite>,
    message: Option<String>,
    error: Option<String>,
}

impl PatientPortalPage {
    fn t(&self, us: &i64) -> String {
        fmt_time(*us, &self.a.tz)
    }
    fn mood(&self, m: &i64) -> &'static str {
        carepath_clinical::selfreport::mood_word(u8::try_from(*m).unwrap_or(5))
    }
}

#[derive(Deserialize, Default)]
pub struct Notice {
    #[serde(default)]
    done: String,
    #[serde(default)]
    error: String,
    #[serde(default)]
    sig: String,
}

async fn page(
    state: &AppState,
    p: &Principal,
    id: PatientId,
    invite: Option<Invite>,
    message: Option<String>,
    error: Option<String>,
) -> HtmlResult<Response> {
    let a = portal::access_state(&state.app, p, id).await?;
    let reports = portal::reports(&state.app, p, id).await.unwrap_or_default();
    Ok(render(&PatientPortalPage {
        nav: Nav::for_principal(p),
        bar: carepath_app::registration::banner(&state.app, p, id)
            .await
            .ok(),
        title: format!("Portal — {}", a.patient_name),
        patient_id: id.to_string(),
        a,
        reports,
        invite,
        message,
        error,
    })
    .into_response())
}

pub async fn patient_portal(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Query(q): Query<Notice>,
) -> HtmlResult<Response> {
    let id: PatientId = id.parse().map_err(|_| AppError::NotFound)?;
    let message = crate::flash::read(&q.done, &q.sig);
    let error = crate::flash::read(&q.error, &q.sig);
    page(&state, &p, id, None, message, error).await
}

/// Make an invitation: the code is shown on this page, once.
pub async fn invite(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> HtmlResult<Response> {
    let id: PatientId = id.parse().map_err(|_| AppError::NotFound)?;
    let inv = portal::invite(&state.app, &p, id).await?;
    page(&state, &p, id, Some(inv), None, None).await
}

#[derive(Deserialize)]
pub struct FamilyInviteForm {
    #[serde(default)]
    consent: String,
    #[serde(default)]
    appointments: Option<String>,
}

/// Make a family member's invitation under a family-involvement consent:
/// the code is shown on this page, once.
pub async fn invite_family(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(f): Form<FamilyInviteForm>,
) -> HtmlResult<Response> {
    let id: PatientId = id.parse().map_err(|_| AppError::NotFound)?;
    match portal::invite_family(&state.app, &p, id, &f.consent, f.appointments.is_some()).await {
        Ok(inv) => page(&state, &p, id, Some(inv), None, None).await,
        Err(e @ AppError::Invalid(_)) => {
            page(&state, &p, id, None, None, Some(e.to_string())).await
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn disable_family(
    State(state): State<AppState>,
    p: Principal,
    Path((id, aid)): Path<(String, String)>,
) -> HtmlResult<Response> {
    let id: PatientId = id.parse().map_err(|_| AppError::NotFound)?;
    portal::disable_family(&state.app, &p, id, &aid).await?;
    let q = crate::flash::query("done", "Family access turned off; their sessions ended.");
    Ok(Redirect::to(&format!("/patients/{id}/portal?{q}")).into_response())
}

pub async fn disable(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> HtmlResult<Response> {
    let id: PatientId = id.parse().map_err(|_| AppError::NotFound)?;
    let q = match portal::disable(&state.app, &p, id).await {
        Ok(()) => crate::flash::query("done", "Portal access turned off; their sessions ended."),
        Err(AppError::Conflict(m)) => crate::flash::query("error", &m),
        Err(e) => return Err(e.into()),
    };
    Ok(Redirect::to(&format!("/patients/{id}/portal?{q}")).into_response())
}

#[derive(Deserialize)]
pub struct AckForm {
    #[serde(default)]
    note: String,
}

pub async fn acknowledge(
    State(state): State<AppState>,
    p: Principal,
    Path(rid): Path<String>,
    Form(f): Form<AckForm>,
) -> HtmlResult<Response> {
    let patient = portal::report_patient(&state.app, &rid).await?;
    let q = match portal::acknowledge(&state.app, &p, &rid, &f.note).await {
        Ok(()) => crate::flash::query("done", "Acknowledged; it is off the worklist."),
        Err(e @ (AppError::Invalid(_) | AppError::Conflict(_))) => {
            crate::flash::query("error", &e.to_string())
        }
        Err(e) => return Err(e.into()),
    };
    Ok(Redirect::to(&format!("/patients/{patient}/portal?{q}")).into_response())
}

#[derive(Template)]
#[template(path = "portal_settings.html")]
struct SettingsPage {
    nav: Nav,
    title: String,
    program_id: String,
    program: String,
    s: PortalSettings,
    errors: Vec<carepath_domain::FieldError>,
    message: Option<String>,
}

impl SettingsPage {
    fn err(&self, field: &str) -> Option<String> {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.clone())
    }
}

pub async fn settings_form(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Query(q): Query<Notice>,
) -> HtmlResult<Response> {
    let id: ProgramId = id.parse().map_err(|_| AppError::NotFound)?;
    let (program, s) = portal::settings_for(&state.app, &p, id).await?;
    Ok(render(&SettingsPage {
        nav: Nav::for_principal(&p),
        title: format!("Portal — {}", program.name),
        program_id: id.to_string(),
        program: program.name,
        s,
        errors: vec![],
        message: crate::flash::read(&q.done, &q.sig),
    })
    .into_response())
}

#[derive(Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    show_drug_tests: Option<String>,
    #[serde(default)]
    show_dosing: Option<String>,
    #[serde(default)]
    show_plan: Option<String>,
    #[serde(default)]
    show_rewards: Option<String>,
    #[serde(default)]
    sows_alert_from: String,
    #[serde(default)]
    craving_alert_from: String,
    #[serde(default)]
    mood_alert_at_most: String,
}

pub async fn settings_submit(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(f): Form<SettingsForm>,
) -> HtmlResult<Response> {
    let id: ProgramId = id.parse().map_err(|_| AppError::NotFound)?;
    let (program, _) = portal::settings_for(&state.app, &p, id).await?;
    let mut errors = vec![];
    let mut num = |field: &'static str, v: &str| -> i64 {
        v.trim().parse().unwrap_or_else(|_| {
            errors.push(carepath_domain::FieldError::new(
                field,
                "must be a whole number",
            ));
            -1
        })
    };
    let s = PortalSettings {
        show_drug_tests: f.show_drug_tests.is_some(),
        show_dosing: f.show_dosing.is_some(),
        show_plan: f.show_plan.is_some(),
        show_rewards: f.show_rewards.is_some(),
        sows_alert_from: num("sows_alert_from", &f.sows_alert_from),
        craving_alert_from: num("craving_alert_from", &f.craving_alert_from),
        mood_alert_at_most: num("mood_alert_at_most", &f.mood_alert_at_most),
    };
    if errors.is_empty() {
        match portal::save_settings(&state.app, &p, id, &s).await {
            Ok(_) => {
                let q = crate::flash::query("done", "Portal settings saved.");
                return Ok(Redirect::to(&format!("/programs/{id}/portal?{q}")).into_response());
            }
            Err(e) => errors = field_errors(e)?,
        }
    }
    Ok((
        axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        render(&SettingsPage {
            nav: Nav::for_principal(&p),
            title: format!("Portal — {}", program.name),
            program_id: id.to_string(),
            program: program.name,
            s,
            errors,
            message: None,
        }),
    )
        .into_response())
}
