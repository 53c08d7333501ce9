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
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use carepath_app::dosing::{self, DeskRow, DoseInput, LogLine, OutageLine, Panel};
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
    programs_where(state, p, Permission::WriteClinical).await
}

async fn programs_where(
    state: &AppState,
    p: &Principal,
    perm: Permission,
) -> Result<Vec<(String, String)>, AppError> {
    let mine = p.programs_with(perm);
    Ok(carepath_app::work::programs(&state.app)
        .await?
        .into_iter()
        .filter(|g| mine.contains(&g.id))
        .map(|g| (g.id.to_string(), g.name))
        .collect())
}

/// The program asked for when the user works there, else their first.
fn pick(programs: &[(String, String)], asked: &str) -> Result<(String, ProgramId), AppError> {
    let program = if programs.iter().any(|g| g.0 == asked) {
        asked.to_string()
    } else {
        programs
            .first()
            .map(|g| g.0.clone())
            .ok_or_else(|| AppError::Forbidden("you do not work in a program".into()))?
    };
    let pid: ProgramId = program.parse().map_err(|_| AppError::NotFound)?;
    Ok((program, pid))
}

pub async fn desk(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<DeskQuery>,
) -> HtmlResult<Response> {
    let programs = my_programs(&state, &p).await?;
    let (program, pid) = pick(&programs, &q.program)?;
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

fn csv_response<T: serde::Serialize>(rows: &[T], filename: &str) -> Result<Response, AppError> {
    let mut w = csv::Writer::from_writer(vec![]);
    for r in rows {
        w.serialize(r)
            .map_err(|e| AppError::Internal(e.to_string()))?;
    }
    let body = w
        .into_inner()
        .map_err(|e| AppError::Internal(e.to_string()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        body,
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct LogQuery {
    #[serde(default)]
    program: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

#[derive(Template)]
#[template(path = "dosing_log.html")]
struct LogPage {
    nav: Nav,
    title: String,
    programs: Vec<(String, String)>,
    program: String,
    from: String,
    to: String,
    lines: Vec<LogLine>,
    total_consumed: String,
    total_home: String,
    error: Option<String>,
}

/// The dispensing log (21 CFR 1304.24) for a range of clinic days, on screen.
pub async fn log_page(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<LogQuery>,
) -> HtmlResult<Response> {
    let programs = programs_where(&state, &p, Permission::ReadClinical).await?;
    let (program, pid) = pick(&programs, &q.program)?;
    let (from, to, lines, error) =
        match dosing::dispensing_log(&state.app, &p, pid, &q.from, &q.to).await {
            Ok((f, t, l)) => (f, t, l, None),
            Err(e @ AppError::Invalid(_)) => {
                (q.from.clone(), q.to.clone(), vec![], Some(e.to_string()))
            }
            Err(e) => return Err(e.into()),
        };
    let sum = |f: fn(&LogLine) -> &str| -> String {
        let ug: i64 = lines
            .iter()
            .filter_map(|l| f(l).parse::<f64>().ok())
            .map(|m| (m * 1000.0).round() as i64)
            .sum();
        dosing::mg(ug)
    };
    let total_consumed = sum(|l| &l.amount_consumed_mg);
    let total_home = sum(|l| &l.amount_taken_home_mg);
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        render(&LogPage {
            nav: Nav::for_principal(&p),
            title: "Dispensing log".into(),
            programs,
            program,
            from,
            to,
            lines,
            total_consumed,
            total_home,
            error,
        }),
    )
        .into_response())
}

/// The dispensing log as CSV, one row per dose or take-home bottle.
pub async fn log_csv(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<LogQuery>,
) -> HtmlResult<Response> {
    let programs = programs_where(&state, &p, Permission::ReadClinical).await?;
    let (_, pid) = pick(&programs, &q.program)?;
    let (from, to, lines) = dosing::dispensing_log(&state.app, &p, pid, &q.from, &q.to).await?;
    Ok(csv_response(
        &lines,
        &format!("dispensing-log-{from}-{to}.csv"),
    )?)
}

#[derive(Template)]
#[template(path = "outage.html")]
struct OutagePage {
    program: String,
    program_name: String,
    day: String,
    lines: Vec<OutageLine>,
}

/// Today's dosing list for the paper procedure, printable.
pub async fn outage(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<DeskQuery>,
) -> HtmlResult<Response> {
    let programs = my_programs(&state, &p).await?;
    let (program, pid) = pick(&programs, &q.program)?;
    let program_name = programs
        .iter()
        .find(|g| g.0 == program)
        .map(|g| g.1.clone())
        .unwrap_or_default();
    let (day, lines) = dosing::outage_list(&state.app, &p, pid).await?;
    Ok(render(&OutagePage {
        program,
        program_name,
        day,
        lines,
    })
    .into_response())
}

/// The same list as CSV, to keep on a laptop that works without the server.
pub async fn outage_csv(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<DeskQuery>,
) -> HtmlResult<Response> {
    let programs = my_programs(&state, &p).await?;
    let (_, pid) = pick(&programs, &q.program)?;
    let (day, lines) = dosing::outage_list(&state.app, &p, pid).await?;
    Ok(csv_response(&lines, &format!("dosing-list-{day}.csv"))?)
}
