//! `/dashboard/outcomes`: how a program's patients are doing, month by
//! month — doses per day and missed doses, negative tests, incentive spend
//! against the budget, overdoses and naloxone kits, follow-up calls
//! reached, and how long from the first call to admission and to the first
//! dose. Charts with their tables, and CSV. Counts only; program-scoped
//! and audited by `dashboard::outcomes`.

use crate::AppState;
use crate::auth::Principal;
use crate::charts::{Chart, bars};
use crate::error::{AppError, HtmlResult};
use crate::pages::dosing::{csv_download, programs_where};
use crate::views::{Nav, render};
use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use carepath_app::dashboard::{self, Month, Outcomes, Timing};
use carepath_domain::authz::Permission;
use serde::Deserialize;

#[derive(Deserialize, Default)]
pub struct OutcomesQuery {
    /// A program id, or `all` (every program the user sees, combined).
    #[serde(default)]
    program: String,
    /// CSV only: `months` or `timing`.
    #[serde(default)]
    table: String,
}

/// A month's row as the page shows it.
pub struct MonthRow {
    pub m: Month,
    pub doses_per_day: String,
    pub missed: String,
    pub negative: String,
    pub reached: String,
    pub earned: String,
    pub redeemed: String,
    pub budget: String,
}

pub struct TimingRow {
    pub t: Timing,
    pub call_to_admission: String,
    pub call_to_dose: String,
    pub admission_to_dose: String,
}

#[derive(Template)]
#[template(path = "outcomes.html")]
struct OutcomesPage {
    nav: Nav,
    title: String,
    programs: Vec<(String, String)>,
    program: String,
    name: String,
    charts: Vec<Chart>,
    rows: Vec<MonthRow>,
    timing: Vec<TimingRow>,
    annual_budget: String,
}

fn pct(r: Option<f64>) -> String {
    r.map(|x| format!("{:.1}%", 100.0 * x))
        .unwrap_or_else(|| "—".into())
}

/// `$60,000.00`.
fn dollars(cents: i64) -> String {
    let whole = (cents / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("${grouped}.{:02}", cents % 100)
}

/// "1 overdose", "2 overdoses".
fn count(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Hours as people say them: "5 h" under two days, else "3.5 days".
fn duration(h: Option<f64>) -> String {
    match h {
        None => "—".into(),
        Some(h) if h < 48.0 => format!("{h:.1} h"),
        Some(h) => format!("{:.1} days", h / 24.0),
    }
}

/// What the user asked to see: one program, or all of theirs combined.
async fn view(
    state: &AppState,
    p: &Principal,
    programs: &[(String, String)],
    asked: &str,
) -> Result<(String, Outcomes), AppError> {
    if programs.is_empty() {
        return Err(AppError::Forbidden(
            "you do not see a program's dashboard".into(),
        ));
    }
    if asked == "all" && programs.len() > 1 {
        let list = dashboard::outcomes(&state.app, p, None).await?;
        return Ok(("all".into(), dashboard::combine("All programs", &list)));
    }
    let (program, pid) = crate::pages::dosing::pick(programs, asked)?;
    let mut list = dashboard::outcomes(&state.app, p, Some(pid)).await?;
    let one = list
        .pop()
        .ok_or_else(|| AppError::Forbidden("you do not see this program's dashboard".into()))?;
    Ok((program, one))
}

fn charts(o: &Outcomes) -> Vec<Chart> {
    let short = |m: &str| m.get(2..).unwrap_or(m).to_string();
    let series = |f: &dyn Fn(&Month) -> Vec<i64>| -> Vec<(String, Vec<i64>)> {
        o.months.iter().map(|m| (short(&m.month), f(m))).collect()
    };
    let last = o.months.last().cloned().unwrap_or_default();
    let sum = |f: &dyn Fn(&Month) -> i64| -> i64 { o.months.iter().map(f).sum() };
    let p = &o.program;
    let mut out = vec![];
    out.push(bars(
        "doses",
        &format!("{p}: doses per day"),
        format!(
            "On average {:.0} doses a day (observed and take-home) in {}, to {} patients; {} doses over the twelve months.",
            last.doses_per_day(),
            last.month,
            last.dosed_patients,
            sum(&|m| m.doses)
        ),
        &["doses a day"],
        &series(&|m| vec![m.doses_per_day().round() as i64]),
    ));
    let missed_total = sum(&|m| (m.due_days - m.covered_days).max(0));
    let due_total = sum(&|m| m.due_days);
    out.push(bars(
        "missed",
        &format!("{p}: missed doses, % of patient-days due"),
        format!(
            "{missed_total} of {due_total} patient-days with a daily dose due were missed over the twelve months ({}); {} in {}.",
            pct((due_total > 0).then(|| missed_total as f64 / due_total as f64)),
            pct(last.missed_rate()),
            last.month
        ),
        &["% missed"],
        &series(&|m| vec![(100.0 * m.missed_rate().unwrap_or(0.0)).round() as i64]),
    ));
    let (neg, answered) = (
        sum(&|m| m.tests_negative),
        sum(&|m| m.tests - m.tests_pending),
    );
    out.push(bars(
        "negative",
        &format!("{p}: negative drug tests, %"),
        format!(
            "{neg} of {answered} tests with a result were negative for every substance other than the treatment medication ({}); {} in {}.",
            pct((answered > 0).then(|| neg as f64 / answered as f64)),
            pct(last.negative_rate()),
            last.month
        ),
        &["% negative"],
        &series(&|m| vec![(100.0 * m.negative_rate().unwrap_or(0.0)).round() as i64]),
    ));
    let share = |m: &Month| {
        if m.cm_budget_cents > 0 {
            (100.0 * m.cm_earned_cents as f64 / m.cm_budget_cents as f64).round() as i64
        } else {
            0
        }
    };
    out.push(bars(
        "incentives",
        &format!("{p}: incentives earned, % of the month's budget"),
        format!(
            "{} earned over the twelve months ({} handed over as rewards) against an annual budget of {} ({} a month); {}% of the month's budget in {}.",
            dollars(sum(&|m| m.cm_earned_cents)),
            dollars(sum(&|m| m.cm_redeemed_cents)),
            dollars(o.cm_annual_budget_cents),
            dollars(o.cm_annual_budget_cents / 12),
            share(&last),
            last.month
        ),
        &["% of budget"],
        &series(&|m| vec![share(m)]),
    ));
    out.push(bars(
        "overdoses",
        &format!("{p}: overdoses and naloxone kits"),
        format!(
            "{} ({}) and {} handed out over the twelve months.",
            count(sum(&|m| m.overdoses), "overdose", "overdoses"),
            count(sum(&|m| m.overdose_deaths), "death", "deaths"),
            count(sum(&|m| m.naloxone_kits), "naloxone kit", "naloxone kits")
        ),
        &["overdoses", "naloxone kits"],
        &series(&|m| vec![m.overdoses, m.naloxone_kits]),
    ));
    let (due, reached) = (sum(&|m| m.followups_due), sum(&|m| m.followups_reached));
    out.push(bars(
        "followups",
        &format!("{p}: aftercare follow-up calls"),
        format!(
            "{reached} of {due} follow-up calls due were reached ({}).",
            pct((due > 0).then(|| reached as f64 / due as f64))
        ),
        &["due", "reached"],
        &series(&|m| vec![m.followups_due, m.followups_reached]),
    ));
    out
}

/// `GET /dashboard/outcomes`.
pub async fn page(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<OutcomesQuery>,
) -> HtmlResult<Response> {
    let mut programs = programs_where(&state, &p, Permission::ViewDashboard).await?;
    let (program, o) = view(&state, &p, &programs, &q.program).await?;
    if programs.len() > 1 {
        programs.insert(0, ("all".into(), "All programs".into()));
    }
    let rows = o
        .months
        .iter()
        .map(|m| MonthRow {
            doses_per_day: format!("{:.1}", m.doses_per_day()),
            missed: pct(m.missed_rate()),
            negative: pct(m.negative_rate()),
            reached: pct(m.reached_rate()),
            earned: dollars(m.cm_earned_cents),
            redeemed: dollars(m.cm_redeemed_cents),
            budget: dollars(m.cm_budget_cents),
            m: m.clone(),
        })
        .collect();
    let timing = o
        .timing
        .iter()
        .map(|t| TimingRow {
            call_to_admission: duration(t.call_to_admission_h),
            call_to_dose: duration(t.call_to_first_dose_h),
            admission_to_dose: duration(t.admission_to_first_dose_h),
            t: t.clone(),
        })
        .collect();
    Ok(render(&OutcomesPage {
        nav: Nav::for_principal(&p),
        title: "Outcomes".into(),
        programs,
        program,
        name: o.program.clone(),
        charts: charts(&o),
        rows,
        timing,
        annual_budget: dollars(o.cm_annual_budget_cents),
    })
    .into_response())
}

/// `GET /dashboard/outcomes.csv?program=&table=months|timing`.
pub async fn csv(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<OutcomesQuery>,
) -> HtmlResult<Response> {
    if !matches!(q.table.as_str(), "months" | "timing") {
        return Err(AppError::invalid("table", "choose months or timing").into());
    }
    let programs = programs_where(&state, &p, Permission::ViewDashboard).await?;
    let (program, o) = view(&state, &p, &programs, &q.program).await?;
    let mut w = csv::Writer::from_writer(vec![]);
    let opt = |x: Option<f64>| x.map(|v| format!("{v:.3}")).unwrap_or_default();
    let mut row = |cells: Vec<String>| {
        w.write_record(&cells)
            .map_err(|e| AppError::Internal(e.to_string()))
    };
    if q.table == "months" {
        row([
            "program",
            "month",
            "days",
            "doses",
            "take_home_doses",
            "patients_dosed",
            "doses_per_day",
            "patient_days_due",
            "patient_days_dosed",
            "missed_dose_rate",
            "tests",
            "tests_refused",
            "tests_pending",
            "tests_negative",
            "negative_test_rate",
            "incentives_earned_cents",
            "rewards_redeemed_cents",
            "incentive_budget_cents",
            "overdoses",
            "overdose_deaths",
            "naloxone_kits",
            "followups_due",
            "followups_called",
            "followups_reached",
        ]
        .map(String::from)
        .to_vec())?;
        for m in &o.months {
            row(vec![
                o.program.clone(),
                m.month.clone(),
                m.days.to_string(),
                m.doses.to_string(),
                m.take_home.to_string(),
                m.dosed_patients.to_string(),
                format!("{:.2}", m.doses_per_day()),
                m.due_days.to_string(),
                m.covered_days.to_string(),
                opt(m.missed_rate()),
                m.tests.to_string(),
                m.tests_refused.to_string(),
                m.tests_pending.to_string(),
                m.tests_negative.to_string(),
                opt(m.negative_rate()),
                m.cm_earned_cents.to_string(),
                m.cm_redeemed_cents.to_string(),
                m.cm_budget_cents.to_string(),
                m.overdoses.to_string(),
                m.overdose_deaths.to_string(),
                m.naloxone_kits.to_string(),
                m.followups_due.to_string(),
                m.followups_called.to_string(),
                m.followups_reached.to_string(),
            ])?;
        }
    } else {
        row([
            "program",
            "month",
            "admissions",
            "from_call",
            "dosed",
            "median_hours_call_to_admission",
            "median_hours_call_to_first_dose",
            "median_hours_admission_to_first_dose",
        ]
        .map(String::from)
        .to_vec())?;
        for t in &o.timing {
            row(vec![
                o.program.clone(),
                t.month.clone(),
                t.admissions.to_string(),
                t.from_call.to_string(),
                t.dosed.to_string(),
                opt(t.call_to_admission_h),
                opt(t.call_to_first_dose_h),
                opt(t.admission_to_first_dose_h),
            ])?;
        }
    }
    let body = w
        .into_inner()
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let scope = if program == "all" {
        "all-programs"
    } else {
        "program"
    };
    Ok(csv_download(
        body,
        &format!("outcomes-{scope}-{}.csv", q.table),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_and_counts_read_as_people_say_them() {
        assert_eq!(dollars(6_000_000), "$60,000.00");
        assert_eq!(dollars(7_225), "$72.25");
        assert_eq!(dollars(123_456_789), "$1,234,567.89");
        assert_eq!(count(1, "overdose", "overdoses"), "1 overdose");
        assert_eq!(count(0, "overdose", "overdoses"), "0 overdoses");
        assert_eq!(duration(Some(5.0)), "5.0 h");
        assert_eq!(duration(Some(72.0)), "3.0 days");
        assert_eq!(pct(None), "—");
    }
}
