//! The dosing desk pages: today's list for the window, and one patient's
//! pre-dose panel with the button that records the dose.

use crate::AppState;
use crate::auth::Principal;
use crate::error::{AppError, HtmlResult};
use crate::views::{Nav, render};
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use carepath_app::dosing::{self, DeskRow, DoseInput, Panel};
use carepath_domain::authz::Permission;
use carepath_domain::ids::{PatientId, ProgramId};
use serde::Deserialize;

#[derive(Template)]
#[template(path = "dosing.html")]
struct DeskPage {
    nav: Nav,
    title: String,
    programs: Vec<(String, String)>,
    program: String,
    day: String,
    rows: Vec<DeskRow>,
    dosed: usize,
    message: Option<String>,
}

#[derive(Deserialize)]
pub struct DeskQuery {
    #[serde(default)]
    program: String,
    #[serde(default)]
    done: String,
}

async fn my_programs(state: &AppState, p: &Principal) -> Result<Vec<(String, String)>, AppError> {
    let mine = p.programs_with(Permission::WriteClinical);
    Ok(carepath_app::work::programs(&state.app)
        .await?
        .into_iter()
        .filter(|g| mine.contains(&g.id))
        .map(|g| (g.id.to_string(), g.name))
        .collect())
}

pub async fn desk(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<DeskQuery>,
) -> HtmlResult<Response> {
    let programs = my_programs(&state, &p).await?;
    let program = if programs.iter().any(|g| g.0 == q.program) {
        q.program.clone()
    } else {
        programs
            .first()
            .map(|g| g.0.clone())
            .ok_or_else(|| AppError::Forbidden("you do not work in a program".into()))?
    };
    let pid: ProgramId = program.parse().map_err(|_| AppError::NotFound)?;
    let (day, rows) = dosing::desk(&state.app, &p, pid).await?;
    let dosed = rows.iter().filter(|r| r.given >= r.per_day).count();
    Ok(render(&DeskPage {
        nav: Nav::for_principal(&p),
        title: "Dosing desk".into(),
        programs,
        program,
        day,
        rows,
        dosed,
        message: (!q.done.is_empty()).then(|| q.done.chars().take(200).collect()),
    })
    .into_response())
}

#[derive(Template)]
#[template(path = "dose.html")]
struct DosePage {
    nav: Nav,
    title: String,
    p: Panel,
    program: String,
    order: Option<String>,
    due: Option<String>,
    given: Vec<String>,
    has_photo: bool,
    error: Option<String>,
}

async fn dose_page(
    state: &AppState,
    p: &Principal,
    id: PatientId,
    error: Option<String>,
) -> Result<Response, AppError> {
    let panel = dosing::panel(&state.app, p, id).await?;
    let has_photo = carepath_app::access::open(
        &state.app,
        p,
        id,
        Permission::ReadDemographics,
        "dosing.photo",
    )
    .await?
    .has_photo(&state.app)
    .await?;
    let page = DosePage {
        nav: Nav::for_principal(p),
        title: format!("Dose — {}", panel.name),
        program: panel
            .order
            .as_ref()
            .map(|o| o.program_id.to_string())
            .unwrap_or_default(),
        order: panel.order.as_ref().map(dosing::order_summary),
        due: panel.due_mg.and_then(|d| {
            panel.next_slot.map(|_| {
                let lot = panel
                    .lot
                    .as_ref()
                    .map(|l| format!(" (lot {})", l.lot))
                    .unwrap_or_default();
                format!("{} mg{lot}", dosing::mg((d * 1000.0).round() as i64))
            })
        }),
        given: panel
            .today
            .iter()
            .map(|d| format!("{} mg by {}", dosing::mg(d.amount_ug), d.nurse_name))
            .collect(),
        has_photo,
        error: error.clone(),
        p: panel,
    };
    let status = if error.is_some() {
        StatusCode::CONFLICT
    } else {
        StatusCode::OK
    };
    Ok((status, render(&page)).into_response())
}

pub async fn panel(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> HtmlResult<Response> {
    let id: PatientId = id.parse().map_err(|_| AppError::NotFound)?;
    Ok(dose_page(&state, &p, id, None).await?)
}

#[derive(Deserialize)]
pub struct DoseForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    amount_mg: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    observed: String,
}

pub async fn record(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(f): Form<DoseForm>,
) -> HtmlResult<Response> {
    let id: PatientId = id.parse().map_err(|_| AppError::NotFound)?;
    let amount_mg = match f.amount_mg.trim() {
        "" => None,
        a => Some(
            a.parse::<f64>()
                .map_err(|_| AppError::invalid("amount_mg", "must be a number of mg"))?,
        ),
    };
    let input = DoseInput {
        kind: (!f.kind.is_empty()).then(|| f.kind.clone()),
        amount_mg,
        reason: (!f.reason.trim().is_empty()).then(|| f.reason.clone()),
        observed: f.observed == "true",
        ..Default::default()
    };
    match dosing::record_dose(&state.app, &p, id, &input).await {
        Ok(d) => {
            let panel = dosing::panel(&state.app, &p, id).await?;
            let msg = format!("{} — {} mg given", panel.name, dosing::mg(d.amount_ug));
            let q =
                serde_urlencoded::to_string([("program", d.program_id.to_string()), ("done", msg)])
                    .map_err(|e| AppError::Internal(e.to_string()))?;
            Ok(Redirect::to(&format!("/dosing?{q}")).into_response())
        }
        Err(e @ (AppError::Conflict(_) | AppError::Invalid(_))) => {
            Ok(dose_page(&state, &p, id, Some(e.to_string())).await?)
        }
        Err(e) => Err(e.into()),
    }
}
