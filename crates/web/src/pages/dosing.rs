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
use carepath_app::{overdose, stock, takehome};
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
    queue: carepath_app::window::Queue,
    /// Patients waiting or at a window.
    queued: std::collections::HashSet<String>,
    /// The window this desk is (kept across pages).
    window: String,
    message: Option<String>,
}

#[derive(Deserialize)]
pub struct DeskQuery {
    #[serde(default)]
    program: String,
    #[serde(default)]
    done: String,
    #[serde(default)]
    sig: String,
    #[serde(default)]
    window: String,
}

/// A window name from a form or query: short, defaulting to "1".
fn window_name(w: &str) -> String {
    let w: String = w.trim().chars().take(20).collect();
    if w.is_empty() { "1".into() } else { w }
}

async fn my_programs(state: &AppState, p: &Principal) -> Result<Vec<(String, String)>, AppError> {
    programs_where(state, p, Permission::WriteClinical).await
}

pub(crate) async fn programs_where(
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

/// A page shown again with an error answers `code`; otherwise 200.
pub(crate) fn on_error(error: &Option<String>, code: StatusCode) -> StatusCode {
    if error.is_some() {
        code
    } else {
        StatusCode::OK
    }
}

/// The program asked for when the user works there, else their first.
/// The name of `program` among `programs` (id, name).
fn name_of(programs: &[(String, String)], program: &str) -> String {
    programs
        .iter()
        .find(|g| g.0 == program)
        .map(|g| g.1.clone())
        .unwrap_or_default()
}

pub(crate) fn pick(
    programs: &[(String, String)],
    asked: &str,
) -> Result<(String, ProgramId), AppError> {
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
    let queue = carepath_app::window::queue(&state.app, &p, pid).await?;
    let queued = queue
        .waiting
        .iter()
        .chain(&queue.at_windows)
        .map(|q| q.patient_id.clone())
        .collect();
    let dosed = rows.iter().filter(|r| r.given >= r.per_day).count();
    Ok(render(&DeskPage {
        nav: Nav::for_principal(&p),
        title: "Dosing desk".into(),
        programs,
        program,
        day,
        rows,
        dosed,
        queue,
        queued,
        window: window_name(&q.window),
        message: crate::flash::read(&q.done, &q.sig),
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
    /// The patient's identification and allergies.
    bar: carepath_app::registration::Banner,
    holds: Vec<carepath_app::model::Hold>,
    hold_kinds: &'static [(&'static str, &'static str)],
    window: String,
    error: Option<String>,
}

/// One line about a hold for the panel.
pub fn hold_text(h: &carepath_app::model::Hold) -> String {
    let mut t = format!(
        "{} on {}: {} — {}",
        carepath_app::window::hold_label(&h.kind),
        h.clinic_day,
        h.reason,
        h.placed_by_name
    );
    if let (Some(by), Some(why)) = (&h.released_by_name, &h.release_reason) {
        t.push_str(&format!("; lifted by {by}: {why}"));
    }
    t
}

async fn dose_page(
    state: &AppState,
    p: &Principal,
    id: PatientId,
    error: Option<String>,
    window: &str,
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
        bar: carepath_app::registration::banner(&state.app, p, id).await?,
        holds: carepath_app::window::holds(&state.app, p, id).await?,
        hold_kinds: carepath_app::window::HOLD_KINDS,
        window: window.to_string(),
        error: error.clone(),
        p: panel,
    };
    let status = on_error(&error, StatusCode::CONFLICT);
    Ok((status, render(&page)).into_response())
}

#[derive(Deserialize)]
pub struct WindowQuery {
    #[serde(default)]
    window: String,
}

pub async fn panel(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Query(q): Query<WindowQuery>,
) -> HtmlResult<Response> {
    let id: PatientId = id.parse().map_err(|_| AppError::NotFound)?;
    Ok(dose_page(&state, &p, id, None, &window_name(&q.window)).await?)
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
    #[serde(default)]
    window: String,
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
            Ok(back_to_desk(
                &d.program_id.to_string(),
                &window_name(&f.window),
                &msg,
            )?)
        }
        Err(e @ (AppError::Conflict(_) | AppError::Invalid(_))) => {
            Ok(dose_page(&state, &p, id, Some(e.to_string()), "1").await?)
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
    Ok(csv_download(body, filename))
}

/// A CSV file to download: its type, its name, never cached.
pub(crate) fn csv_download(body: Vec<u8>, filename: &str) -> Response {
    (
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
        .into_response()
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
    let status = on_error(&error, StatusCode::BAD_REQUEST);
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
    let program_name = name_of(&programs, &program);
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

// ---- Random bottle call-backs ------------------------------------------

#[derive(Template)]
#[template(path = "callbacks.html")]
struct CallbacksPage {
    nav: Nav,
    title: String,
    program: String,
    program_name: String,
    /// Picked just now: (patient id, name, bottles held), or None before a pick.
    picked: Option<Vec<(String, String, usize)>>,
    n: usize,
}

#[derive(Deserialize)]
pub struct CallbackPick {
    #[serde(default)]
    program: String,
    #[serde(default)]
    n: String,
}

async fn callbacks_page(
    state: &AppState,
    p: &Principal,
    asked: &str,
    picked: Option<Vec<(String, String, usize)>>,
    n: usize,
) -> Result<Response, AppError> {
    let programs = my_programs(state, p).await?;
    let (program, _) = pick(&programs, asked)?;
    let program_name = name_of(&programs, &program);
    Ok(render(&CallbacksPage {
        nav: Nav::for_principal(p),
        title: "Bottle call-backs".into(),
        program,
        program_name,
        picked,
        n,
    })
    .into_response())
}

/// `GET /dosing/callbacks`: the diversion-control call-back, before the pick.
pub async fn callbacks_view(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<DeskQuery>,
) -> HtmlResult<Response> {
    Ok(callbacks_page(&state, &p, &q.program, None, 3).await?)
}

/// `POST /dosing/callbacks`: pick patients holding take-home bottles at
/// random, now (a pick cannot be known ahead, and reloading the page does
/// not pick again); each is called back to bring every bottle in.
pub async fn callbacks_pick(
    State(state): State<AppState>,
    p: Principal,
    Form(f): Form<CallbackPick>,
) -> HtmlResult<Response> {
    let n: usize = match f.n.trim().parse() {
        Ok(n) if (1..=50).contains(&n) => n,
        _ => {
            return Err(
                AppError::invalid("n", "how many patients to call: a number from 1 to 50").into(),
            );
        }
    };
    let programs = my_programs(&state, &p).await?;
    let (_, pid) = pick(&programs, &f.program)?;
    let picked = carepath_app::takehome::callbacks(&state.app, &p, pid, n)
        .await?
        .into_iter()
        .map(|(id, name, bottles)| (id.to_string(), name, bottles))
        .collect();
    Ok(callbacks_page(&state, &p, &f.program, Some(picked), n).await?)
}

// ---- Take-homes -------------------------------------------------------

#[derive(Template)]
#[template(path = "takehome.html")]
struct TakehomePage {
    nav: Nav,
    title: String,
    /// Who this page is about (name, DOB, MRN, allergies).
    bar: Option<carepath_app::registration::Banner>,
    p: Panel,
    e: Option<takehome::Eligibility>,
    eligibility_error: Option<String>,
    prescriber: bool,
    bottles: Vec<carepath_app::model::Bottle>,
    events: Vec<carepath_app::model::BottleEvent>,
    calendar: String,
    calendar_alt: String,
    error: Option<String>,
    message: Option<String>,
}

async fn takehome_page(
    state: &AppState,
    p: &Principal,
    id: PatientId,
    error: Option<String>,
    message: Option<String>,
) -> Result<Response, AppError> {
    let panel = dosing::panel(&state.app, p, id).await?;
    let (e, eligibility_error) = match takehome::eligibility(&state.app, p, id).await {
        Ok(e) => (Some(e), None),
        Err(e @ (AppError::Conflict(_) | AppError::Invalid(_))) => (None, Some(e.to_string())),
        Err(e) => return Err(e),
    };
    let (_, bottles, events) = takehome::schedule(&state.app, p, id).await?;
    let history = dosing::history(&state.app, p, id).await?;
    let today: jiff::civil::Date = panel
        .clinic_day
        .parse()
        .map_err(|_| AppError::Internal("clinic day".into()))?;
    let (calendar, calendar_alt) =
        calendar_chart(&takehome::calendar(today, &history.days, &bottles, &events));
    let prescriber = panel
        .order
        .as_ref()
        .is_some_and(|o| p.holds_in(o.program_id, Permission::OrderMedication));
    let status = on_error(&error, StatusCode::UNPROCESSABLE_ENTITY);
    Ok((
        status,
        render(&TakehomePage {
            nav: Nav::for_principal(p),
            bar: carepath_app::registration::banner(&state.app, p, id)
                .await
                .ok(),
            title: format!("Take-homes — {}", panel.name),
            p: panel,
            e,
            eligibility_error,
            prescriber,
            bottles,
            events,
            calendar,
            calendar_alt,
            error,
            message,
        }),
    )
        .into_response())
}

/// The take-home calendar as an inline SVG: six weeks, a column per
/// weekday; each day says in a letter as well as a colour what it was
/// (W window dose, T with the bottle number, C clinic closed, M missed),
/// a flagged bottle (lost, stolen, a count that did not match) is marked
/// "!", today is outlined. The text alternative counts each kind.
fn calendar_chart(days: &[takehome::CalendarDay]) -> (String, String) {
    let (cell, top) = (64.0_f64, 22.0_f64);
    let rows = days.len().div_ceil(7).max(1);
    let (w, h) = (cell * 7.0, top + cell * rows as f64);
    let mut svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-labelledby=\"th-cal-t\"><title id=\"th-cal-t\">Take-home calendar, six weeks</title>"
    );
    for (k, name) in ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
        .iter()
        .enumerate()
    {
        svg.push_str(&format!(
            "<text x=\"{:.0}\" y=\"15\" font-size=\"12\" text-anchor=\"middle\">{name}</text>",
            cell * k as f64 + cell / 2.0
        ));
    }
    for (i, d) in days.iter().enumerate() {
        let (x, y) = (cell * (i % 7) as f64, top + cell * (i / 7) as f64);
        let (fill, code) = match d.state {
            "window" => ("#1d4e89", "W".to_string()),
            "take_home" => ("#7fb3e6", format!("T{}", d.bottle_no.unwrap_or(0))),
            "closure" => ("#d9d9d9", "C".to_string()),
            "missed" => ("#f2b8b5", "M".to_string()),
            _ => ("#ffffff", String::new()),
        };
        let ink = if d.state == "window" {
            "#ffffff"
        } else {
            "#111111"
        };
        svg.push_str(&format!(
            "<rect x=\"{:.0}\" y=\"{:.0}\" width=\"{:.0}\" height=\"{:.0}\" fill=\"{fill}\" stroke=\"{}\" stroke-width=\"{}\"/>",
            x + 1.0,
            y + 1.0,
            cell - 2.0,
            cell - 2.0,
            if d.today { "#000000" } else { "#999999" },
            if d.today { 3 } else { 1 }
        ));
        svg.push_str(&format!(
            "<text x=\"{:.0}\" y=\"{:.0}\" font-size=\"11\" fill=\"{ink}\">{}</text>",
            x + 5.0,
            y + 15.0,
            d.day.get(5..).unwrap_or(&d.day)
        ));
        if !code.is_empty() || d.flag.is_some() {
            svg.push_str(&format!(
                "<text x=\"{:.0}\" y=\"{:.0}\" font-size=\"16\" font-weight=\"bold\" fill=\"{ink}\">{code}{}</text>",
                x + 8.0,
                y + 42.0,
                if d.flag.is_some() { " !" } else { "" }
            ));
        }
    }
    svg.push_str("</svg>");
    let count = |st: &str| days.iter().filter(|d| d.state == st).count();
    let flagged: Vec<String> = days
        .iter()
        .filter_map(|d| d.flag.as_ref().map(|f| format!("{} ({f})", d.day)))
        .collect();
    let alt = format!(
        "{} to {}: {} window doses, {} take-home days, {} closure days, {} missed days{}.",
        days.first().map(|d| d.day.as_str()).unwrap_or(""),
        days.last().map(|d| d.day.as_str()).unwrap_or(""),
        count("window"),
        count("take_home"),
        count("closure"),
        count("missed"),
        if flagged.is_empty() {
            String::new()
        } else {
            format!("; flagged bottles: {}", flagged.join(", "))
        }
    );
    (svg, alt)
}

#[derive(Deserialize)]
pub struct DoneQuery {
    #[serde(default)]
    pub(crate) done: String,
    #[serde(default)]
    pub(crate) sig: String,
}

pub async fn takehome_view(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> HtmlResult<Response> {
    let id: PatientId = id.parse().map_err(|_| AppError::NotFound)?;
    let msg = crate::flash::read(&q.done, &q.sig);
    Ok(takehome_page(&state, &p, id, None, msg).await?)
}

/// The prescriber's decision: `criteria.NAME=true` for each criterion met
/// (a box left unticked is "not met"), `doses_granted`, `override_reason`.
pub async fn takehome_decide(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(f): Form<Vec<(String, String)>>,
) -> HtmlResult<Response> {
    let id: PatientId = id.parse().map_err(|_| AppError::NotFound)?;
    let get = |k: &str| {
        f.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    let e = takehome::eligibility(&state.app, &p, id).await?;
    let criteria = e
        .criteria
        .iter()
        .map(|c| {
            let met = f
                .iter()
                .any(|(n, v)| n == &format!("criteria.{c}") && v == "true");
            (c.clone(), met)
        })
        .collect();
    let doses = get("doses_granted");
    let doses_granted = match doses.parse::<u32>() {
        Ok(n) => n,
        Err(_) => {
            let msg = AppError::invalid(
                "doses_granted",
                "a whole number of doses (0 stops take-homes)",
            )
            .to_string();
            return Ok(takehome_page(&state, &p, id, Some(msg), None).await?);
        }
    };
    let reason = get("override_reason");
    let input = takehome::AssessInput {
        criteria,
        doses_granted,
        treatment_type: None,
        override_reason: (!reason.is_empty()).then_some(reason),
    };
    match takehome::assess(&state.app, &p, id, &input).await {
        Ok(g) => {
            let q = done_query(&format!(
                "Decision recorded: {} take-home doses per supply",
                g.doses_granted
            ));
            Ok(Redirect::to(&format!("/dosing/{id}/takehome?{q}")).into_response())
        }
        Err(e @ (AppError::Invalid(_) | AppError::Conflict(_))) => {
            Ok(takehome_page(&state, &p, id, Some(e.to_string()), None).await?)
        }
        Err(e) => Err(e.into()),
    }
}

/// Hand out the bottles due, then print their labels.
pub async fn takehome_dispense(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> HtmlResult<Response> {
    let id: PatientId = id.parse().map_err(|_| AppError::NotFound)?;
    match takehome::dispense(&state.app, &p, id).await {
        Ok(_) => Ok(Redirect::to(&format!("/dosing/{id}/labels")).into_response()),
        Err(e @ (AppError::Conflict(_) | AppError::Invalid(_))) => {
            Ok(dose_page(&state, &p, id, Some(e.to_string()), "1").await?)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "labels.html")]
struct LabelsPage {
    patient_id: String,
    labels: Vec<takehome::Label>,
}

#[derive(Deserialize)]
pub struct LabelQuery {
    #[serde(default)]
    day: String,
}

/// Bottle labels, one per bottle, ready to print.
pub async fn labels(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Query(q): Query<LabelQuery>,
) -> HtmlResult<Response> {
    let pid: PatientId = id.parse().map_err(|_| AppError::NotFound)?;
    let labels = takehome::labels(&state.app, &p, pid, Some(&q.day)).await?;
    Ok(render(&LabelsPage {
        patient_id: pid.to_string(),
        labels,
    })
    .into_response())
}

#[derive(Deserialize)]
pub struct BottleForm {
    #[serde(default)]
    bottle: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    note: String,
}

pub async fn bottle_event(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(f): Form<BottleForm>,
) -> HtmlResult<Response> {
    let id: PatientId = id.parse().map_err(|_| AppError::NotFound)?;
    let input = takehome::BottleEventInput {
        bottle: f.bottle,
        kind: f.kind,
        outcome: (!f.outcome.is_empty()).then_some(f.outcome),
        note: (!f.note.trim().is_empty()).then_some(f.note),
    };
    match takehome::bottle_event(&state.app, &p, id, &input).await {
        Ok(e) => {
            let q = done_query(&format!(
                "Bottle {}: {}",
                e.kind,
                e.outcome.replace('_', " ")
            ));
            Ok(Redirect::to(&format!("/dosing/{id}/takehome?{q}")).into_response())
        }
        Err(e @ (AppError::Invalid(_) | AppError::Conflict(_))) => {
            Ok(takehome_page(&state, &p, id, Some(e.to_string()), None).await?)
        }
        Err(e) => Err(e.into()),
    }
}

// ---- Stock and reconciliation ----------------------------------------

#[derive(Template)]
#[template(path = "stock.html")]
struct StockPage {
    nav: Nav,
    title: String,
    programs: Vec<(String, String)>,
    program: String,
    day: stock::StockDay,
    chart: String,
    me: String,
    error: Option<String>,
    message: Option<String>,
}

#[derive(Deserialize)]
pub struct StockQuery {
    #[serde(default)]
    program: String,
    #[serde(default)]
    day: String,
    #[serde(default)]
    done: String,
    #[serde(default)]
    sig: String,
}

/// Bars of each lot's balance against the largest (inline SVG with a
/// text alternative in its title and the table beside it).
fn stock_chart(day: &stock::StockDay) -> String {
    let max = day
        .lots
        .iter()
        .map(|l| l.lot.balance_ug)
        .max()
        .unwrap_or(0)
        .max(1);
    let row = 28;
    let h = row * day.lots.len().max(1) + 8;
    let mut svg = format!(
        "<svg class=\"chart\" role=\"img\" viewBox=\"0 0 520 {h}\" width=\"520\" height=\"{h}\" aria-labelledby=\"stock-chart-t\"><title id=\"stock-chart-t\">Balance on hand per lot: {}</title>",
        day.lots
            .iter()
            .map(|l| format!("{} {} mg", l.lot.lot, dosing::mg(l.lot.balance_ug)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for (n, l) in day.lots.iter().enumerate() {
        let y = 4 + n * row;
        let w = (l.lot.balance_ug as f64 / max as f64 * 300.0).round() as i64;
        svg.push_str(&format!(
            "<text x=\"0\" y=\"{}\" font-size=\"13\">{}</text><rect x=\"120\" y=\"{y}\" width=\"{w}\" height=\"18\" fill=\"#1f5f8b\"></rect><text x=\"{}\" y=\"{}\" font-size=\"13\">{} mg</text>",
            y + 14,
            escape(&l.lot.lot),
            130 + w,
            y + 14,
            dosing::mg(l.lot.balance_ug)
        ));
    }
    svg.push_str("</svg>");
    svg
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn stock_page(
    state: &AppState,
    p: &Principal,
    program: &str,
    day: &str,
    error: Option<String>,
    message: Option<String>,
) -> Result<Response, AppError> {
    let programs = programs_where(state, p, Permission::ReadClinical).await?;
    let (program, pid) = pick(&programs, program)?;
    let day = stock::stock_day(&state.app, p, pid, Some(day)).await?;
    let chart = stock_chart(&day);
    let status = on_error(&error, StatusCode::UNPROCESSABLE_ENTITY);
    Ok((
        status,
        render(&StockPage {
            nav: Nav::for_principal(p),
            title: "Stock and reconciliation".into(),
            programs,
            program,
            day,
            chart,
            me: p.user_id.to_string(),
            error,
            message,
        }),
    )
        .into_response())
}

pub async fn stock_view(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<StockQuery>,
) -> HtmlResult<Response> {
    let msg = crate::flash::read(&q.done, &q.sig);
    Ok(stock_page(&state, &p, &q.program, &q.day, None, msg).await?)
}

fn back_to_stock(program: &str, day: &str, done: &str) -> Result<Response, AppError> {
    let q = serde_urlencoded::to_string([("program", program), ("day", day)])
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let notice = crate::flash::query("done", done);
    Ok(Redirect::to(&format!("/dosing/stock?{q}&{notice}")).into_response())
}

/// The count form: `count.LOT_ID=mg` per lot, `note`, `program`, `day`.
pub async fn stock_reconcile(
    State(state): State<AppState>,
    p: Principal,
    Form(f): Form<Vec<(String, String)>>,
) -> HtmlResult<Response> {
    let get = |k: &str| {
        f.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    let (program, day) = (get("program"), get("day"));
    let programs = my_programs(&state, &p).await?;
    let (_, pid) = pick(&programs, &program)?;
    let mut counts = vec![];
    for (k, v) in &f {
        if let Some(lot) = k.strip_prefix("count.")
            && !v.trim().is_empty()
        {
            match v.trim().parse::<f64>() {
                Ok(mg) => counts.push(stock::CountInput {
                    lot_id: lot.to_string(),
                    counted_mg: mg,
                }),
                Err(_) => {
                    let e =
                        AppError::invalid("counted_mg", "each count is a number of mg").to_string();
                    return Ok(stock_page(&state, &p, &program, &day, Some(e), None).await?);
                }
            }
        }
    }
    let note = get("note");
    let input = stock::ReconcileInput {
        day: (!day.is_empty()).then(|| day.clone()),
        counts,
        note: (!note.is_empty()).then_some(note),
    };
    match stock::reconcile(&state.app, &p, pid, &input).await {
        Ok(r) => Ok(back_to_stock(
            &program,
            &day,
            &format!(
                "Count signed for {} lot(s): a second person co-signs",
                r.len()
            ),
        )?),
        Err(e @ (AppError::Invalid(_) | AppError::Conflict(_))) => {
            Ok(stock_page(&state, &p, &program, &day, Some(e.to_string()), None).await?)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct CosignForm {
    #[serde(default)]
    program: String,
    #[serde(default)]
    day: String,
}

pub async fn stock_cosign(
    State(state): State<AppState>,
    p: Principal,
    Path(rid): Path<String>,
    Form(f): Form<CosignForm>,
) -> HtmlResult<Response> {
    match stock::cosign(&state.app, &p, &rid).await {
        Ok(()) => Ok(back_to_stock(&f.program, &f.day, "Co-signed")?),
        Err(e @ AppError::Conflict(_)) => {
            Ok(stock_page(&state, &p, &f.program, &f.day, Some(e.to_string()), None).await?)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct WasteForm {
    #[serde(default)]
    program: String,
    #[serde(default)]
    lot_id: String,
    #[serde(default)]
    amount_mg: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    witness_username: String,
    #[serde(default)]
    witness_password: String,
}

pub async fn stock_waste(
    State(state): State<AppState>,
    p: Principal,
    Form(f): Form<WasteForm>,
) -> HtmlResult<Response> {
    let programs = my_programs(&state, &p).await?;
    let (program, pid) = pick(&programs, &f.program)?;
    let Ok(amount_mg) = f.amount_mg.trim().parse::<f64>() else {
        let e = AppError::invalid("amount_mg", "must be a number of mg").to_string();
        return Ok(stock_page(&state, &p, &program, "", Some(e), None).await?);
    };
    let input = stock::WasteInput {
        lot_id: f.lot_id,
        amount_mg,
        reason: f.reason,
        witness_username: f.witness_username,
        witness_password: f.witness_password,
    };
    match stock::waste(&state.app, &p, pid, &input).await {
        Ok(_) => Ok(back_to_stock(
            &program,
            "",
            "Waste recorded with its witness",
        )?),
        Err(e @ (AppError::Invalid(_) | AppError::Conflict(_))) => {
            Ok(stock_page(&state, &p, &program, "", Some(e.to_string()), None).await?)
        }
        Err(e) => Err(e.into()),
    }
}

// ---- Overdose response -------------------------------------------------

#[derive(Template)]
#[template(path = "overdose.html")]
struct OverdosePage {
    nav: Nav,
    title: String,
    /// Who this page is about (name, DOB, MRN, allergies).
    bar: Option<carepath_app::registration::Banner>,
    p: Panel,
    program: String,
    history: Vec<carepath_app::model::Overdose>,
    kits: Vec<carepath_app::model::Kit>,
    error: Option<String>,
    message: Option<String>,
}

async fn overdose_page(
    state: &AppState,
    p: &Principal,
    id: PatientId,
    error: Option<String>,
    message: Option<String>,
) -> Result<Response, AppError> {
    let panel = dosing::panel(&state.app, p, id).await?;
    let scope =
        carepath_app::access::open(&state.app, p, id, Permission::ReadClinical, "overdose.page")
            .await?;
    let (history, kits) = overdose::history(&state.app, p, id).await?;
    let status = on_error(&error, StatusCode::UNPROCESSABLE_ENTITY);
    Ok((
        status,
        render(&OverdosePage {
            nav: Nav::for_principal(p),
            bar: carepath_app::registration::banner(&state.app, p, id)
                .await
                .ok(),
            title: format!("Overdose response — {}", panel.name),
            program: scope.program.id.to_string(),
            p: panel,
            history,
            kits,
            error,
            message,
        }),
    )
        .into_response())
}

pub async fn overdose_view(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> HtmlResult<Response> {
    let id: PatientId = id.parse().map_err(|_| AppError::NotFound)?;
    let msg = crate::flash::read(&q.done, &q.sig);
    Ok(overdose_page(&state, &p, id, None, msg).await?)
}

#[derive(Deserialize)]
pub struct OverdoseForm {
    #[serde(default)]
    occurred_at: String,
    #[serde(default)]
    naloxone_product: String,
    #[serde(default)]
    naloxone_mg: String,
    #[serde(default)]
    naloxone_route: String,
    #[serde(default)]
    naloxone_doses: String,
    #[serde(default)]
    breathing_support: String,
    #[serde(default)]
    vitals: String,
    #[serde(default)]
    ems_called: String,
    #[serde(default)]
    transported: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    note: String,
}

pub async fn overdose_record(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(f): Form<OverdoseForm>,
) -> HtmlResult<Response> {
    let id: PatientId = id.parse().map_err(|_| AppError::NotFound)?;
    let n: usize = f.naloxone_doses.trim().parse().unwrap_or(0).min(10);
    let mg = f.naloxone_mg.trim().parse::<f64>().unwrap_or(0.0);
    let input = overdose::OverdoseInput {
        occurred_at: f.occurred_at.clone(),
        naloxone: (0..n)
            .map(|_| overdose::NaloxoneDose {
                product: f.naloxone_product.clone(),
                dose_mg: mg,
                route: f.naloxone_route.clone(),
                at: f.occurred_at.clone(),
            })
            .collect(),
        breathing_support: f.breathing_support,
        vitals: f.vitals,
        ems_called: f.ems_called == "true",
        transported: f.transported == "true",
        outcome: f.outcome,
        note: (!f.note.trim().is_empty()).then_some(f.note),
    };
    match overdose::record(&state.app, &p, id, &input).await {
        Ok(_) => Ok(Redirect::to(&format!(
            "/dosing/{id}/overdose?{}",
            done_query("Overdose recorded: the prescriber reviews and education follows")
        ))
        .into_response()),
        Err(e @ (AppError::Invalid(_) | AppError::Conflict(_))) => {
            Ok(overdose_page(&state, &p, id, Some(e.to_string()), None).await?)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct KitForm {
    #[serde(default)]
    program: String,
    #[serde(default)]
    recipient: String,
    #[serde(default)]
    product: String,
    #[serde(default)]
    quantity: String,
    #[serde(default)]
    education: String,
}

pub async fn kit(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(f): Form<KitForm>,
) -> HtmlResult<Response> {
    let pid: PatientId = id.parse().map_err(|_| AppError::NotFound)?;
    let program: ProgramId = f.program.parse().map_err(|_| AppError::NotFound)?;
    let input = overdose::KitInput {
        patient_id: Some(pid.to_string()),
        recipient: f.recipient,
        product: f.product,
        quantity: f.quantity.trim().parse().unwrap_or(0),
        lot: None,
        education: f.education == "true",
    };
    match overdose::give_kit(&state.app, &p, program, &input).await {
        Ok(_) => Ok(Redirect::to(&format!(
            "/dosing/{pid}/overdose?{}",
            done_query("Naloxone kit logged")
        ))
        .into_response()),
        Err(e @ (AppError::Invalid(_) | AppError::Conflict(_))) => {
            Ok(overdose_page(&state, &p, pid, Some(e.to_string()), None).await?)
        }
        Err(e) => Err(e.into()),
    }
}

/// Micrograms as milligrams for templates (which hand values by reference).
pub fn mgs<T: std::borrow::Borrow<i64>>(ug: T) -> String {
    dosing::mg(*ug.borrow())
}

/// What the order form held, shown again after an error so nothing typed is lost.
#[derive(Deserialize, Default, Clone)]
pub struct OrderForm {
    #[serde(default)]
    medication: String,
    #[serde(default)]
    form: String,
    #[serde(default)]
    phase: String,
    #[serde(default)]
    dose_mg: String,
    #[serde(default)]
    split: String,
    #[serde(default)]
    first_dose_mg: String,
    #[serde(default)]
    starts_on: String,
    #[serde(default)]
    ends_on: String,
    #[serde(default)]
    qtc_ms: String,
    #[serde(default)]
    cows: String,
    #[serde(default)]
    days_on_medication: String,
    #[serde(default)]
    last_opioid: String,
    #[serde(default)]
    last_opioid_use: String,
    #[serde(default)]
    urine_opioid_negative: String,
    #[serde(default)]
    naloxone_challenge: String,
    #[serde(default)]
    override_reason: String,
    #[serde(default)]
    verbal_from: String,
}

#[derive(Template)]
#[template(path = "orders.html")]
struct OrdersPage {
    nav: Nav,
    title: String,
    /// Who this page is about (name, DOB, MRN, allergies).
    bar: Option<carepath_app::registration::Banner>,
    patient_id: String,
    name: String,
    orders: Vec<OrderRow>,
    doses: Vec<(String, String, String, String, String)>,
    chart: String,
    chart_alt: String,
    prescriber: bool,
    f: OrderForm,
    medications: &'static [(&'static str, &'static str)],
    forms: &'static [(&'static str, &'static str)],
    phases: &'static [(&'static str, &'static str)],
    opioids: &'static [(&'static str, &'static str)],
    error: Option<String>,
    message: Option<String>,
}

/// The last opioid before a naltrexone start, as the engine names them.
const OPIOIDS: &[(&str, &str)] = &[
    ("heroin", "Heroin"),
    (
        "short_acting",
        "Another short-acting opioid (pills, tramadol)",
    ),
    ("fentanyl", "Fentanyl"),
    ("methadone", "Methadone"),
    ("buprenorphine", "Buprenorphine"),
];

struct OrderRow {
    starts_on: String,
    summary: String,
    status: String,
    by: String,
    override_reason: Option<String>,
}

/// Dose history as an inline SVG: a bar per day (window doses dark,
/// take-home bottles hatched-light), a line for the ordered dose, a mark under
/// each missed day and a tick at each order change.
fn history_chart(days: &[dosing::DayPoint]) -> (String, String) {
    let (w, h, left, bottom) = (720.0_f64, 200.0_f64, 40.0_f64, 24.0_f64);
    let top = days
        .iter()
        .map(|d| {
            d.observed_mg
                .max(d.take_home_mg)
                .max(d.ordered_mg.unwrap_or(0.0))
        })
        .fold(10.0_f64, f64::max)
        * 1.1;
    let n = days.len().max(1) as f64;
    let step = (w - left) / n;
    let y = |mg: f64| h - bottom - (mg / top) * (h - bottom - 8.0);
    let mut svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-labelledby=\"dose-chart-t\"><title id=\"dose-chart-t\">Dose history, last {} days</title>",
        days.len()
    );
    svg.push_str(&format!(
        "<line x1=\"{left}\" y1=\"{b}\" x2=\"{w}\" y2=\"{b}\" stroke=\"#555\"/><text x=\"2\" y=\"{t}\" font-size=\"11\">{top:.0} mg</text><text x=\"2\" y=\"{b}\" font-size=\"11\">0</text>",
        b = h - bottom,
        t = y(top) + 10.0,
    ));
    let mut ordered_path = String::new();
    for (i, d) in days.iter().enumerate() {
        let x = left + i as f64 * step;
        let bw = (step * 0.7).max(1.0);
        if d.observed_mg > 0.0 {
            svg.push_str(&format!(
                "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{bw:.1}\" height=\"{:.1}\" fill=\"#1d4e89\"><title>{}: {} mg at the window</title></rect>",
                y(d.observed_mg),
                h - bottom - y(d.observed_mg),
                d.day,
                d.observed_mg
            ));
        } else if d.take_home_mg > 0.0 {
            svg.push_str(&format!(
                "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{bw:.1}\" height=\"{:.1}\" fill=\"#9cc3e6\" stroke=\"#1d4e89\"><title>{}: {} mg take-home bottle</title></rect>",
                y(d.take_home_mg),
                h - bottom - y(d.take_home_mg),
                d.day,
                d.take_home_mg
            ));
        }
        if d.missed {
            svg.push_str(&format!(
                "<text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"12\" fill=\"#b00020\">×<title>{}: missed</title></text>",
                h - bottom + 14.0,
                d.day
            ));
        }
        if d.order_change {
            svg.push_str(&format!(
                "<line x1=\"{x:.1}\" y1=\"4\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#777\" stroke-dasharray=\"3 3\"><title>{}: order change</title></line>",
                h - bottom,
                d.day
            ));
        }
        if let Some(o) = d.ordered_mg {
            let cmd = if ordered_path.is_empty() { 'M' } else { 'L' };
            ordered_path.push_str(&format!(
                "{cmd}{x:.1},{:.1} L{:.1},{:.1} ",
                y(o),
                x + step,
                y(o)
            ));
        }
    }
    if !ordered_path.is_empty() {
        svg.push_str(&format!(
            "<path d=\"{ordered_path}\" fill=\"none\" stroke=\"#e07b00\" stroke-width=\"2\"/>"
        ));
    }
    svg.push_str("</svg>");
    let given = days.iter().filter(|d| d.observed_mg > 0.0).count();
    let home = days
        .iter()
        .filter(|d| d.take_home_mg > 0.0 && d.observed_mg == 0.0)
        .count();
    let missed = days.iter().filter(|d| d.missed).count();
    let changes = days.iter().filter(|d| d.order_change).count();
    let last = days
        .iter()
        .rev()
        .find_map(|d| d.ordered_mg)
        .map(|m| format!("; ordered dose now {m} mg"))
        .unwrap_or_default();
    let alt = format!(
        "Last {} days: {given} day(s) dosed at the window, {home} take-home day(s), {missed} missed day(s), {changes} order change(s){last}.",
        days.len()
    );
    (svg, alt)
}

async fn orders_page(
    state: &AppState,
    p: &Principal,
    id: PatientId,
    f: OrderForm,
    error: Option<String>,
    message: Option<String>,
) -> Result<Response, AppError> {
    let panel = dosing::panel(&state.app, p, id).await?;
    let h = dosing::history(&state.app, p, id).await?;
    let by_id: std::collections::HashMap<&str, &carepath_app::model::MedOrder> =
        h.orders.iter().map(|o| (o.id.as_str(), o)).collect();
    let today = panel.clinic_day.clone();
    let active = dosing::active_on(&h.orders, &today).map(|o| o.id.clone());
    let orders = h
        .orders
        .iter()
        .rev()
        .map(|o| OrderRow {
            starts_on: o.starts_on.clone(),
            summary: dosing::order_summary(o),
            status: if Some(&o.id) == active.as_ref() {
                "active".into()
            } else if o.superseded_by.is_some() {
                "superseded".into()
            } else if o.starts_on > today {
                "starts later".into()
            } else {
                "ended".into()
            },
            by: format!(
                "{}{}",
                o.ordered_by_name,
                if o.verbal {
                    match &o.signer_name {
                        Some(s) => format!(" (verbal, signed by {s})"),
                        None => " (verbal, not yet signed)".into(),
                    }
                } else {
                    String::new()
                }
            ),
            override_reason: o.override_reason.clone(),
        })
        .collect();
    let doses = h
        .doses
        .iter()
        .take(30)
        .map(|d| {
            let under = by_id
                .get(d.order_id.as_str())
                .map(|o| format!("{} mg order of {}", dosing::mg(o.dose_ug), o.starts_on))
                .unwrap_or_default();
            (
                d.clinic_day.clone(),
                d.kind.replace('_', " "),
                dosing::mg(d.amount_ug),
                d.nurse_name.clone(),
                under,
            )
        })
        .collect();
    let (chart, chart_alt) = history_chart(&h.days);
    let prescriber = panel
        .order
        .as_ref()
        .map(|o| o.program_id)
        .map(|g| p.holds_in(g, Permission::OrderMedication))
        .unwrap_or_else(|| !p.programs_with(Permission::OrderMedication).is_empty());
    let status = on_error(&error, StatusCode::UNPROCESSABLE_ENTITY);
    Ok((
        status,
        render(&OrdersPage {
            nav: Nav::for_principal(p),
            bar: carepath_app::registration::banner(&state.app, p, id)
                .await
                .ok(),
            title: format!("Orders — {}", panel.name),
            patient_id: id.to_string(),
            name: panel.name,
            orders,
            doses,
            chart,
            chart_alt,
            prescriber,
            f,
            medications: dosing::MEDICATIONS,
            forms: dosing::FORMS,
            phases: dosing::PHASES,
            opioids: OPIOIDS,
            error,
            message,
        }),
    )
        .into_response())
}

pub async fn orders_view(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> HtmlResult<Response> {
    let id: PatientId = id.parse().map_err(|_| AppError::NotFound)?;
    let msg = crate::flash::read(&q.done, &q.sig);
    let f = OrderForm {
        medication: "methadone".into(),
        form: "oral_liquid".into(),
        phase: "induction".into(),
        ..Default::default()
    };
    Ok(orders_page(&state, &p, id, f, None, msg).await?)
}

fn number<T: std::str::FromStr>(
    field: &'static str,
    v: &str,
    what: &'static str,
) -> Result<Option<T>, AppError> {
    match v.trim() {
        "" => Ok(None),
        t => t
            .parse::<T>()
            .map(Some)
            .map_err(|_| AppError::invalid(field, what)),
    }
}

pub async fn orders_create(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(f): Form<OrderForm>,
) -> HtmlResult<Response> {
    let id: PatientId = id.parse().map_err(|_| AppError::NotFound)?;
    let parsed = async {
        let dose_mg = number::<f64>("dose_mg", &f.dose_mg, "the daily dose in mg, e.g. 30")?
            .ok_or_else(|| AppError::invalid("dose_mg", "the daily dose in mg, e.g. 30"))?;
        let verbal_from = match f.verbal_from.trim() {
            "" => None,
            u => Some(
                carepath_app::admin::user_by_username(&state.app, u)
                    .await?
                    .ok_or_else(|| AppError::invalid("verbal_from", "no user by that name"))?
                    .id
                    .to_string(),
            ),
        };
        let text = |v: &str| (!v.trim().is_empty()).then(|| v.trim().to_string());
        Ok::<_, AppError>(dosing::OrderInput {
            medication: f.medication.clone(),
            form: f.form.clone(),
            phase: f.phase.clone(),
            dose_mg,
            split: f.split == "true",
            first_dose_mg: number("first_dose_mg", &f.first_dose_mg, "mg, e.g. 20")?,
            starts_on: text(&f.starts_on),
            ends_on: text(&f.ends_on),
            override_reason: text(&f.override_reason),
            verbal_from,
            qtc_ms: number("qtc_ms", &f.qtc_ms, "milliseconds, e.g. 430")?,
            cows: number("cows", &f.cows, "a COWS score 0–48")?,
            days_on_medication: number(
                "days_on_medication",
                &f.days_on_medication,
                "a whole number of days",
            )?,
            last_opioid: text(&f.last_opioid),
            last_opioid_use: text(&f.last_opioid_use),
            urine_opioid_negative: match f.urine_opioid_negative.as_str() {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            },
            naloxone_challenge: text(&f.naloxone_challenge),
        })
    }
    .await;
    let input = match parsed {
        Ok(i) => i,
        Err(e @ AppError::Invalid(_)) => {
            return Ok(orders_page(&state, &p, id, f, Some(e.to_string()), None).await?);
        }
        Err(e) => return Err(e.into()),
    };
    match dosing::create_order(&state.app, &p, id, &input).await {
        Ok(_) => {
            let q = done_query(&format!(
                "Order saved: {} {} mg a day",
                input.medication, input.dose_mg
            ));
            Ok(Redirect::to(&format!("/dosing/{id}/orders?{q}")).into_response())
        }
        Err(e @ (AppError::Invalid(_) | AppError::Conflict(_))) => {
            Ok(orders_page(&state, &p, id, f, Some(e.to_string()), None).await?)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct HoldForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    reason: String,
}

/// Place a hold from the panel; the panel shows it (or the error).
pub async fn hold_place(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(f): Form<HoldForm>,
) -> HtmlResult<Response> {
    let id: PatientId = id.parse().map_err(|_| AppError::NotFound)?;
    let input = carepath_app::window::HoldInput {
        kind: f.kind,
        reason: f.reason,
    };
    match carepath_app::window::place_hold(&state.app, &p, id, &input).await {
        Ok(_) => Ok(Redirect::to(&format!("/dosing/{id}")).into_response()),
        Err(e @ (AppError::Invalid(_) | AppError::Conflict(_))) => {
            Ok(dose_page(&state, &p, id, Some(e.to_string()), "1").await?)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct LiftForm {
    #[serde(default)]
    reason: String,
}

pub async fn hold_lift(
    State(state): State<AppState>,
    p: Principal,
    Path((id, hid)): Path<(String, String)>,
    Form(f): Form<LiftForm>,
) -> HtmlResult<Response> {
    let id: PatientId = id.parse().map_err(|_| AppError::NotFound)?;
    match carepath_app::window::lift_hold(&state.app, &p, id, &hid, &f.reason).await {
        Ok(()) => Ok(Redirect::to(&format!("/dosing/{id}")).into_response()),
        Err(e @ (AppError::Invalid(_) | AppError::Conflict(_))) => {
            Ok(dose_page(&state, &p, id, Some(e.to_string()), "1").await?)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct WindowForm {
    #[serde(default)]
    program: String,
    #[serde(default)]
    window: String,
}

fn back_to_desk(program: &str, window: &str, done: &str) -> Result<Response, AppError> {
    let q = serde_urlencoded::to_string([("program", program), ("window", window)])
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let notice = crate::flash::query("done", done);
    Ok(Redirect::to(&format!("/dosing?{q}&{notice}")).into_response())
}

/// Check a patient in at the window's queue.
pub async fn arrive(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(f): Form<WindowForm>,
) -> HtmlResult<Response> {
    let id: PatientId = id.parse().map_err(|_| AppError::NotFound)?;
    let window = window_name(&f.window);
    let panel = dosing::panel(&state.app, &p, id).await?;
    let program = panel
        .order
        .as_ref()
        .map(|o| o.program_id.to_string())
        .unwrap_or_default();
    let msg = match carepath_app::window::arrive(&state.app, &p, id).await {
        Ok(_) => format!("{} is in the queue", panel.name),
        Err(AppError::Conflict(m)) => format!("{}: {m}", panel.name),
        Err(e) => return Err(e.into()),
    };
    Ok(back_to_desk(&program, &window, &msg)?)
}

/// The nurse at a window calls the next in line: their pre-dose panel opens.
pub async fn call_next(
    State(state): State<AppState>,
    p: Principal,
    Form(f): Form<WindowForm>,
) -> HtmlResult<Response> {
    let programs = my_programs(&state, &p).await?;
    let (program, pid) = pick(&programs, &f.program)?;
    let window = window_name(&f.window);
    match carepath_app::window::call_next(&state.app, &p, pid, &window).await {
        Ok(patient) => {
            let q = serde_urlencoded::to_string([("window", window.as_str())])
                .map_err(|e| AppError::Internal(e.to_string()))?;
            Ok(Redirect::to(&format!("/dosing/{patient}?{q}")).into_response())
        }
        Err(AppError::Conflict(m)) => Ok(back_to_desk(&program, &window, &m)?),
        Err(e) => Err(e.into()),
    }
}

/// `done=…&sig=…` for a notice shown after a redirect.
pub(crate) fn done_query(text: &str) -> String {
    crate::flash::query("done", text)
}
