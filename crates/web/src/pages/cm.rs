//! Incentives pages: a patient's contingency-management ledger (enrol,
//! draw at the desk, redeem, decide requests) and the program's rewards
//! store (catalog and stock, funding sources, the spend report with its
//! chart).

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
use carepath_app::cm::{self, EnrollInput, FundingInput, ItemInput, Ledger, Report};
use carepath_clinical::cm::fmt as money;
use carepath_domain::authz::Permission;
use carepath_domain::ids::PatientId;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "incentives.html")]
struct LedgerPage {
    nav: Nav,
    title: String,
    /// Who this page is about (name, DOB, MRN, allergies).
    bar: Option<carepath_app::registration::Banner>,
    patient_id: String,
    name: String,
    l: Ledger,
    active: bool,
    may_write: bool,
    /// (name, plain name) of the analytes offered as targets.
    targets: Vec<(String, String)>,
    error: Option<String>,
    message: Option<String>,
}

const TARGETS: &[&str] = &[
    "fentanyl",
    "6_mam",
    "opiates",
    "oxycodone",
    "benzoylecgonine",
    "methamphetamine",
    "amphetamines",
    "benzodiazepines",
];

fn dollars(c: &i64) -> String {
    format!("${}", money(*c))
}

/// An amount in cents however the template holds it (by value or by
/// reference).
trait Cents {
    fn cents(&self) -> i64;
}

impl Cents for i64 {
    fn cents(&self) -> i64 {
        *self
    }
}

impl<T: Cents + ?Sized> Cents for &T {
    fn cents(&self) -> i64 {
        (**self).cents()
    }
}

impl LedgerPage {
    fn d(&self, c: impl Cents) -> String {
        dollars(&c.cents())
    }
}

impl RewardsPage {
    fn d(&self, c: impl Cents) -> String {
        dollars(&c.cents())
    }
}

async fn ledger_page(
    state: &AppState,
    p: &Principal,
    id: PatientId,
    error: Option<String>,
    message: Option<String>,
) -> Result<Response, AppError> {
    let scope =
        carepath_app::access::open(&state.app, p, id, Permission::ReadClinical, "cm.page").await?;
    let l = cm::ledger(&state.app, p, id).await?;
    Ok((
        on_error(&error, StatusCode::UNPROCESSABLE_ENTITY),
        render(&LedgerPage {
            nav: Nav::for_principal(p),
            bar: carepath_app::registration::banner(&state.app, p, id)
                .await
                .ok(),
            title: format!("Incentives — {}", scope.patient.display_name()),
            patient_id: id.to_string(),
            name: scope.patient.display_name(),
            active: l
                .enrollments
                .iter()
                .any(|e| e.enrollment.ended_at.is_none()),
            l,
            may_write: p.holds_in(scope.program.id, Permission::WriteClinical),
            targets: TARGETS
                .iter()
                .map(|a| {
                    (
                        a.to_string(),
                        carepath_clinical::drugtest::plain_name(a)
                            .unwrap_or(a)
                            .to_string(),
                    )
                })
                .collect(),
            error,
            message,
        }),
    )
        .into_response())
}

fn pid(id: &str) -> Result<PatientId, AppError> {
    id.parse().map_err(|_| AppError::NotFound)
}

pub async fn ledger_view(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> HtmlResult<Response> {
    let msg = crate::flash::read(&q.done, &q.sig);
    Ok(ledger_page(&state, &p, pid(&id)?, None, msg).await?)
}

/// After a change: back to the page with a message, or the page again with
/// the error in words.
async fn after(
    state: &AppState,
    p: &Principal,
    id: PatientId,
    r: Result<String, AppError>,
) -> HtmlResult<Response> {
    match r {
        Ok(msg) => Ok(
            Redirect::to(&format!("/patients/{id}/incentives?{}", done_query(&msg)))
                .into_response(),
        ),
        Err(e @ (AppError::Invalid(_) | AppError::Conflict(_))) => {
            Ok(ledger_page(state, p, id, Some(e.to_string()), None).await?)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct EnrollForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    funding_id: String,
    #[serde(default)]
    attendance: String,
    #[serde(default)]
    activities: String,
    #[serde(flatten)]
    rest: std::collections::HashMap<String, String>,
}

pub async fn enroll(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(f): Form<EnrollForm>,
) -> HtmlResult<Response> {
    let id = pid(&id)?;
    let (kind, preset) = match f.kind.as_str() {
        "prize" => ("prize", "petry_500"),
        "silverman" => ("voucher", "silverman"),
        _ => ("voucher", "higgins"),
    };
    let mut analytes: Vec<String> = TARGETS
        .iter()
        .filter(|a| f.rest.get(&format!("t_{a}")).is_some_and(|v| v == "true"))
        .map(|a| a.to_string())
        .collect();
    analytes.sort();
    let input = EnrollInput {
        kind: kind.into(),
        preset: preset.into(),
        analytes,
        attendance: f.attendance == "true",
        activities: f.activities == "true",
        funding_id: f.funding_id,
    };
    let r = cm::enroll(&state.app, &p, id, &input)
        .await
        .map(|_| "Enrolled: samples from now on count".to_string());
    after(&state, &p, id, r).await
}

pub async fn draw(
    State(state): State<AppState>,
    p: Principal,
    Path((id, sid)): Path<(String, String)>,
) -> HtmlResult<Response> {
    let id = pid(&id)?;
    let r = cm::draw(&state.app, &p, id, &sid).await.map(|l| {
        let line = l
            .enrollments
            .iter()
            .flat_map(|e| e.lines.iter())
            .find(|x| x.sample.id == sid)
            .and_then(|x| x.sample.detail.clone())
            .unwrap_or_default();
        format!("Drawn: {line}")
    });
    after(&state, &p, id, r).await
}

#[derive(Deserialize)]
pub struct RedeemForm {
    #[serde(default)]
    item_id: String,
}

pub async fn redeem(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(f): Form<RedeemForm>,
) -> HtmlResult<Response> {
    let id = pid(&id)?;
    let r = cm::redeem(&state.app, &p, id, &f.item_id)
        .await
        .map(|l| format!("Handed over; balance now ${}", l.balance));
    after(&state, &p, id, r).await
}

#[derive(Deserialize)]
pub struct DecideForm {
    #[serde(default)]
    fulfil: String,
    #[serde(default)]
    note: String,
}

pub async fn decide(
    State(state): State<AppState>,
    p: Principal,
    Path((id, rid)): Path<(String, String)>,
    Form(f): Form<DecideForm>,
) -> HtmlResult<Response> {
    let id = pid(&id)?;
    let fulfil = f.fulfil == "true";
    let note = Some(f.note.trim()).filter(|n| !n.is_empty());
    let r = cm::decide(&state.app, &p, id, &rid, fulfil, note)
        .await
        .map(|_| {
            if fulfil {
                "Request fulfilled".to_string()
            } else {
                "Request declined; the points are back".to_string()
            }
        });
    after(&state, &p, id, r).await
}

#[derive(Template)]
#[template(path = "rewards.html")]
struct RewardsPage {
    nav: Nav,
    title: String,
    programs: Vec<(String, String)>,
    program: String,
    r: Report,
    chart: String,
    chart_alt: String,
    may_admin: bool,
    may_write: bool,
    error: Option<String>,
    message: Option<String>,
}

/// Earned and redeemed per month as bars against the monthly budget
/// (a dashed line); the text alternative gives every month's figures.
fn spend_chart(r: &Report) -> (String, String) {
    let top = r
        .months
        .iter()
        .flat_map(|m| [m.earned_cents, m.redeemed_cents, m.budget_cents])
        .max()
        .unwrap_or(0)
        .max(100);
    let (w, h, left, bottom) = (640.0_f64, 220.0_f64, 48.0_f64, 30.0_f64);
    let plot = h - bottom - 10.0;
    let slot = (w - left) / r.months.len().max(1) as f64;
    let y = |c: i64| 10.0 + plot * (1.0 - c as f64 / top as f64);
    let mut svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-labelledby=\"cm-chart-t\"><title id=\"cm-chart-t\">Incentives earned and redeemed per month against the budget</title>"
    );
    svg.push_str(&format!(
        "<text x=\"2\" y=\"14\" font-size=\"10\">${}</text><text x=\"2\" y=\"{:.0}\" font-size=\"10\">$0</text>",
        money(top),
        h - bottom
    ));
    for (k, m) in r.months.iter().enumerate() {
        let x = left + slot * k as f64;
        let bw = (slot - 6.0) / 2.0;
        svg.push_str(&format!(
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{bw:.1}\" height=\"{:.1}\" fill=\"#1d4e89\"/><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{bw:.1}\" height=\"{:.1}\" fill=\"#7fb3e6\"/><text x=\"{:.1}\" y=\"{:.0}\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
            x + 2.0,
            y(m.earned_cents),
            h - bottom - y(m.earned_cents),
            x + 2.0 + bw,
            y(m.redeemed_cents),
            h - bottom - y(m.redeemed_cents),
            x + slot / 2.0,
            h - 12.0,
            m.month.get(5..).unwrap_or(&m.month)
        ));
    }
    if let Some(m) = r.months.first() {
        let by = y(m.budget_cents);
        svg.push_str(&format!(
            "<line x1=\"{left}\" y1=\"{by:.1}\" x2=\"{w}\" y2=\"{by:.1}\" stroke=\"#a33\" stroke-dasharray=\"6 4\"/>"
        ));
    }
    svg.push_str("</svg>");
    let alt = r
        .months
        .iter()
        .map(|m| {
            format!(
                "{}: earned ${}, redeemed ${}",
                m.month,
                money(m.earned_cents),
                money(m.redeemed_cents)
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    (
        svg,
        format!(
            "{alt}. Monthly budget ${}.",
            money(r.months.first().map(|m| m.budget_cents).unwrap_or(0))
        ),
    )
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

async fn rewards_page(
    state: &AppState,
    p: &Principal,
    asked: &str,
    error: Option<String>,
    message: Option<String>,
) -> Result<Response, AppError> {
    let programs = programs_where(state, p, Permission::ReadClinical).await?;
    let (program, prog) = pick(&programs, asked)?;
    let r = cm::report(&state.app, p, prog).await?;
    let (chart, chart_alt) = spend_chart(&r);
    Ok((
        on_error(&error, StatusCode::UNPROCESSABLE_ENTITY),
        render(&RewardsPage {
            nav: Nav::for_principal(p),
            title: "Rewards store".into(),
            programs,
            program,
            r,
            chart,
            chart_alt,
            may_admin: p.holds_in(prog, Permission::ManagePrograms),
            may_write: p.holds_in(prog, Permission::WriteClinical),
            error,
            message,
        }),
    )
        .into_response())
}

pub async fn rewards(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<ProgramQuery>,
) -> HtmlResult<Response> {
    let msg = crate::flash::read(&q.done, &q.sig);
    Ok(rewards_page(&state, &p, &q.program, None, msg).await?)
}

async fn rewards_after(
    state: &AppState,
    p: &Principal,
    program: &str,
    r: Result<String, AppError>,
) -> HtmlResult<Response> {
    match r {
        Ok(msg) => Ok(
            Redirect::to(&format!("/rewards?program={program}&{}", done_query(&msg)))
                .into_response(),
        ),
        Err(e @ (AppError::Invalid(_) | AppError::Conflict(_))) => {
            Ok(rewards_page(state, p, program, Some(e.to_string()), None).await?)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "rewards_catalog.html")]
struct CatalogPage {
    nav: Nav,
    title: String,
    programs: Vec<(String, String)>,
    program: String,
    items: Vec<carepath_app::model::RewardItem>,
    fundings: Vec<carepath_app::model::Funding>,
    categories: Vec<(String, String)>,
    error: Option<String>,
    message: Option<String>,
}

impl CatalogPage {
    fn d(&self, c: impl Cents) -> String {
        dollars(&c.cents())
    }
}

async fn catalog_page(
    state: &AppState,
    p: &Principal,
    asked: &str,
    error: Option<String>,
    message: Option<String>,
) -> Result<Response, AppError> {
    let programs = programs_where(state, p, Permission::ManagePrograms).await?;
    let (program, prog) = pick(&programs, asked)?;
    let (items, fundings) = cm::catalog(&state.app, p, prog).await?;
    Ok((
        on_error(&error, StatusCode::UNPROCESSABLE_ENTITY),
        render(&CatalogPage {
            nav: Nav::for_principal(p),
            title: "Rewards catalog and funding".into(),
            programs,
            program,
            items,
            fundings,
            categories: cm::CATEGORIES
                .iter()
                .map(|c| (c.0.to_string(), c.1.to_string()))
                .collect(),
            error,
            message,
        }),
    )
        .into_response())
}

pub async fn catalog(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<ProgramQuery>,
) -> HtmlResult<Response> {
    let msg = crate::flash::read(&q.done, &q.sig);
    Ok(catalog_page(&state, &p, &q.program, None, msg).await?)
}

async fn catalog_after(
    state: &AppState,
    p: &Principal,
    program: &str,
    r: Result<String, AppError>,
) -> HtmlResult<Response> {
    match r {
        Ok(msg) => Ok(Redirect::to(&format!(
            "/rewards/catalog?program={program}&{}",
            done_query(&msg)
        ))
        .into_response()),
        Err(e @ (AppError::Invalid(_) | AppError::Conflict(_))) => {
            Ok(catalog_page(state, p, program, Some(e.to_string()), None).await?)
        }
        Err(e) => Err(e.into()),
    }
}

fn program_id(s: &str) -> Result<carepath_domain::ids::ProgramId, AppError> {
    s.parse()
        .map_err(|_| AppError::invalid("program", "choose a program"))
}

/// Dollars typed ("2.50", "$10") as cents.
fn cents(field: &'static str, s: &str) -> Result<i64, AppError> {
    let t = s.trim().trim_start_matches('$');
    let (w, f) = t.split_once('.').unwrap_or((t, ""));
    let ok = !w.is_empty()
        && f.len() <= 2
        && w.chars().all(|c| c.is_ascii_digit())
        && f.chars().all(|c| c.is_ascii_digit())
        && w.len() < 9;
    if !ok {
        return Err(AppError::invalid(field, "an amount in dollars, like 2.50"));
    }
    let whole: i64 = w.parse().unwrap_or(0);
    let frac: i64 = format!("{f:0<2}").parse().unwrap_or(0);
    Ok(whole * 100 + frac)
}

#[derive(Deserialize)]
pub struct ItemForm {
    #[serde(default)]
    program: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    cost: String,
    #[serde(default)]
    stock: String,
}

pub async fn add_item(
    State(state): State<AppState>,
    p: Principal,
    Form(f): Form<ItemForm>,
) -> HtmlResult<Response> {
    let r = async {
        let prog = program_id(&f.program)?;
        let input = ItemInput {
            name: f.name.clone(),
            category: f.category.clone(),
            cost_cents: cents("cost", &f.cost)?,
            stock: f.stock.trim().parse().unwrap_or(0),
        };
        cm::add_item(&state.app, &p, prog, &input)
            .await
            .map(|it| format!("{} added to the catalog", it.name))
    }
    .await;
    catalog_after(&state, &p, &f.program, r).await
}

#[derive(Deserialize)]
pub struct StockForm {
    #[serde(default)]
    program: String,
    #[serde(default)]
    delta: String,
    #[serde(default)]
    reason: String,
}

pub async fn stock(
    State(state): State<AppState>,
    p: Principal,
    Path(iid): Path<String>,
    Form(f): Form<StockForm>,
) -> HtmlResult<Response> {
    let r = async {
        let prog = program_id(&f.program)?;
        let delta: i64 =
            f.delta.trim().parse().map_err(|_| {
                AppError::invalid("delta", "a whole number (negative to write off)")
            })?;
        cm::stock(&state.app, &p, prog, &iid, delta, &f.reason)
            .await
            .map(|it| format!("{}: {} in stock", it.name, it.in_stock))
    }
    .await;
    rewards_after(&state, &p, &f.program, r).await
}

#[derive(Deserialize)]
pub struct FundingForm {
    #[serde(default)]
    program: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    cap: String,
    #[serde(default)]
    budget: String,
}

pub async fn add_funding(
    State(state): State<AppState>,
    p: Principal,
    Form(f): Form<FundingForm>,
) -> HtmlResult<Response> {
    let r = async {
        let prog = program_id(&f.program)?;
        let input = FundingInput {
            name: f.name.clone(),
            annual_cap_cents: if f.cap.trim().is_empty() {
                None
            } else {
                Some(cents("cap", &f.cap)?)
            },
            annual_budget_cents: if f.budget.trim().is_empty() {
                0
            } else {
                cents("budget", &f.budget)?
            },
        };
        cm::add_funding(&state.app, &p, prog, &input)
            .await
            .map(|x| format!("Funding source {} added", x.name))
    }
    .await;
    catalog_after(&state, &p, &f.program, r).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn dollars_typed() {
        assert_eq!(super::cents("c", "2.50").unwrap(), 250);
        assert_eq!(super::cents("c", "$10").unwrap(), 1000);
        assert_eq!(super::cents("c", "7.5").unwrap(), 750);
        assert!(super::cents("c", "-1").is_err());
        assert!(super::cents("c", "1.234").is_err());
        assert_eq!(super::dollars(&1234), "$12.34");
    }
}
