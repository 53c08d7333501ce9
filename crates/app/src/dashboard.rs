//! The director's outcome dashboards, per program: doses per day and the
//! missed-dose rate, the negative-test rate, incentive spend against the
//! budget, overdoses and naloxone kits, follow-up calls reached, and the
//! time from first call to admission and to first dose. The census,
//! admissions, discharges and retention are `work::trends`.
//!
//! The database does the counting (`carepath_store::dashboard`); what it
//! cannot count by index — the patient-days a daily dose was due, from the
//! orders and the episodes — is computed here from order and episode spans
//! (a few rows per patient), never from doses. Counts only, program-scoped
//! (`ViewDashboard`), one audit event per view.

use crate::actor::Principal;
use crate::error::{Error, Result};
use crate::{App, work};
use carepath_domain::audit::Outcome;
use carepath_domain::authz::Permission;
use carepath_domain::ids::ProgramId;
use carepath_domain::program::{clinic_day, parse_time_zone};
use carepath_store::dashboard::{MonthRange, OrderSpan};
use carepath_store::{Episode, Program};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Serialize;
use std::collections::BTreeMap;

/// The months a dashboard covers and the days that bound them.
#[derive(Debug, Clone)]
pub struct Window {
    pub months: Vec<MonthRange>,
    /// First day of the first month.
    pub first_day: Date,
    /// Today in the program's time zone (not over: not yet missed).
    pub today: Date,
    pub now: i64,
    pub tz: TimeZone,
}

impl Window {
    /// The `n` months ending with the current one, in `tz`.
    pub fn last_months(now: i64, tz: &TimeZone, n: usize) -> Window {
        let today = clinic_day(
            jiff::Timestamp::from_microsecond(now).unwrap_or_default(),
            tz,
        );
        let mut firsts = vec![today.first_of_month()];
        while firsts.len() < n.max(1) {
            let prev = firsts[0]
                .checked_sub(jiff::Span::new().months(1))
                .unwrap_or(firsts[0]);
            firsts.insert(0, prev);
        }
        let start = |d: Date| {
            d.to_zoned(tz.clone())
                .map(|z| z.timestamp().as_microsecond())
                .unwrap_or(0)
        };
        let months = firsts
            .iter()
            .map(|&d| MonthRange {
                label: format!("{:04}-{:02}", d.year(), d.month()),
                lo: start(d),
                hi: start(d.checked_add(jiff::Span::new().months(1)).unwrap_or(d)),
            })
            .collect();
        Window {
            months,
            first_day: firsts[0],
            today,
            now,
            tz: tz.clone(),
        }
    }
}

/// One month of a program's outcomes.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Month {
    /// `2026-11`.
    pub month: String,
    /// Days of the month so far (all of it for a past month).
    pub days: i64,
    pub doses: i64,
    pub take_home: i64,
    pub dosed_patients: i64,
    /// Patient-days a daily dose was due: a daily order in force, in care,
    /// the clinic open, the day over.
    pub due_days: i64,
    /// Of those, days with a dose or a take-home bottle.
    pub covered_days: i64,
    pub tests: i64,
    pub tests_refused: i64,
    pub tests_pending: i64,
    pub tests_negative: i64,
    pub cm_earned_cents: i64,
    pub cm_redeemed_cents: i64,
    /// The month's share of the annual incentive budget.
    pub cm_budget_cents: i64,
    pub overdoses: i64,
    pub overdose_deaths: i64,
    pub naloxone_kits: i64,
    pub followups_due: i64,
    pub followups_called: i64,
    pub followups_reached: i64,
}

impl Month {
    pub fn doses_per_day(&self) -> f64 {
        if self.days > 0 {
            self.doses as f64 / self.days as f64
        } else {
            0.0
        }
    }
    /// Missed patient-days per due patient-day, when any were due.
    pub fn missed_rate(&self) -> Option<f64> {
        (self.due_days > 0)
            .then(|| (self.due_days - self.covered_days).max(0) as f64 / self.due_days as f64)
    }
    /// Negative tests among the tests with an answer (a refusal counts as
    /// not negative, as contingency management reads it).
    pub fn negative_rate(&self) -> Option<f64> {
        let answered = self.tests - self.tests_pending;
        (answered > 0).then(|| self.tests_negative as f64 / answered as f64)
    }
    pub fn reached_rate(&self) -> Option<f64> {
        (self.followups_due > 0).then(|| self.followups_reached as f64 / self.followups_due as f64)
    }
}

/// Admissions of one month and how fast they were reached.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Timing {
    pub month: String,
    pub admissions: i64,
    /// Admissions of someone registered from a call-back request.
    pub from_call: i64,
    /// Admissions followed by a dose in the program.
    pub dosed: i64,
    /// Medians, in hours.
    pub call_to_admission_h: Option<f64>,
    pub call_to_first_dose_h: Option<f64>,
    pub admission_to_first_dose_h: Option<f64>,
}

/// What a director sees of one program's outcomes.
#[derive(Debug, Clone, Serialize)]
pub struct Outcomes {
    pub program: String,
    pub months: Vec<Month>,
    pub timing: Vec<Timing>,
    pub cm_annual_budget_cents: i64,
    /// The admissions behind `timing` (to combine programs).
    #[serde(skip)]
    pub admissions: Vec<Admission>,
}

/// A day as a number (days since 1970-01-01) for interval arithmetic.
fn day_no(d: Date) -> i64 {
    d.since(Date::constant(1970, 1, 1))
        .map(|s| s.get_days() as i64)
        .unwrap_or(0)
}

fn parse_day(s: &str) -> Option<i64> {
    s.parse::<Date>().ok().map(day_no)
}

/// Merge half-open intervals into a sorted, disjoint list.
fn merge(mut v: Vec<(i64, i64)>) -> Vec<(i64, i64)> {
    v.retain(|(a, b)| a < b);
    v.sort();
    let mut out: Vec<(i64, i64)> = vec![];
    for (a, b) in v {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// Intersection of two sorted, disjoint interval lists.
fn intersect(a: &[(i64, i64)], b: &[(i64, i64)]) -> Vec<(i64, i64)> {
    let (mut i, mut j, mut out) = (0, 0, vec![]);
    while i < a.len() && j < b.len() {
        let lo = a[i].0.max(b[j].0);
        let hi = a[i].1.min(b[j].1);
        if lo < hi {
            out.push((lo, hi));
        }
        if a[i].1 < b[j].1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

/// Patient-days a daily dose was due, by month label (pure). A day is due
/// for a patient when a daily order is in force (from its first day until
/// it ends or its successor starts — the dosing desk's rule), an episode in
/// the program is open (admission day to the day before discharge), the
/// clinic is not closed, and the day is before `today`.
pub fn due_days(
    spans: &[OrderSpan],
    episodes: &[Episode],
    closures: &[String],
    w: &Window,
) -> BTreeMap<String, i64> {
    let lo = day_no(w.first_day);
    let hi = day_no(w.today);
    let closed: Vec<i64> = {
        let mut v: Vec<i64> = closures.iter().filter_map(|d| parse_day(d)).collect();
        v.sort();
        v
    };
    let months: Vec<(String, i64, i64)> = w
        .months
        .iter()
        .filter_map(|m| {
            let first: Date = format!("{}-01", m.label).parse().ok()?;
            let next = first.checked_add(jiff::Span::new().months(1)).ok()?;
            Some((m.label.clone(), day_no(first), day_no(next)))
        })
        .collect();
    let day_of = |t: i64| {
        day_no(clinic_day(
            jiff::Timestamp::from_microsecond(t).unwrap_or_default(),
            &w.tz,
        ))
    };
    let mut care: BTreeMap<String, Vec<(i64, i64)>> = BTreeMap::new();
    for e in episodes {
        let end = e.discharged_at.map(day_of).unwrap_or(i64::MAX);
        care.entry(e.patient_id.to_string())
            .or_default()
            .push((day_of(e.admitted_at), end));
    }
    let mut orders: BTreeMap<&str, Vec<(i64, i64)>> = BTreeMap::new();
    for s in spans {
        let Some(start) = parse_day(&s.starts_on) else {
            continue;
        };
        let mut end = s
            .ends_on
            .as_deref()
            .and_then(parse_day)
            .map(|d| d + 1)
            .unwrap_or(i64::MAX);
        if let Some(next) = s.successor_starts_on.as_deref().and_then(parse_day) {
            end = end.min(next);
        }
        orders
            .entry(s.patient_id.as_str())
            .or_default()
            .push((start, end));
    }
    let mut out: BTreeMap<String, i64> = months.iter().map(|m| (m.0.clone(), 0)).collect();
    for (patient, o) in orders {
        let Some(c) = care.remove(patient) else {
            continue;
        };
        let due = intersect(&intersect(&merge(o), &merge(c)), &[(lo, hi)]);
        for (label, m_lo, m_hi) in &months {
            let mut n = 0;
            for &(a, b) in &due {
                let (a, b) = (a.max(*m_lo), b.min(*m_hi));
                if a < b {
                    n += b - a;
                    let from = closed.partition_point(|d| *d < a);
                    let to = closed.partition_point(|d| *d < b);
                    n -= (to - from) as i64;
                }
            }
            *out.entry(label.clone()).or_default() += n;
        }
    }
    out
}

/// The median of `v` (sorted here), if any.
pub fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Doses, dosed patients and due/covered patient-days by month.
pub async fn dosing(app: &App, program: &Program, w: &Window) -> Result<Vec<Month>> {
    let last = w.today.to_string();
    let yesterday = w.today.yesterday().unwrap_or(w.today).to_string();
    let from = w.first_day.to_string();
    let counts = app
        .store
        .dashboard_doses(program.id, &from, &last, &yesterday)
        .await?;
    let spans = app.store.dashboard_order_spans(program.id, &from).await?;
    let lo = w.months.first().map(|m| m.lo).unwrap_or(0);
    let episodes = app.store.program_episodes(program.id, lo).await?;
    let closures: Vec<String> = app
        .store
        .closures(program.id, &from)
        .await?
        .into_iter()
        .map(|c| c.day)
        .collect();
    let due = due_days(&spans, &episodes, &closures, w);
    let today_no = day_no(w.today);
    Ok(w.months
        .iter()
        .map(|m| {
            let c = counts.get(&m.label).cloned().unwrap_or_default();
            let first = format!("{}-01", m.label).parse::<Date>().ok();
            let days = first
                .map(|f| {
                    let next = f
                        .checked_add(jiff::Span::new().months(1))
                        .map(day_no)
                        .unwrap_or(0);
                    next.min(today_no + 1) - day_no(f)
                })
                .unwrap_or(0);
            Month {
                month: m.label.clone(),
                days,
                doses: c.doses,
                take_home: c.take_home,
                dosed_patients: c.patients,
                due_days: due.get(&m.label).copied().unwrap_or(0),
                covered_days: c.covered_days,
                ..Default::default()
            }
        })
        .collect())
}

/// One admission of the window, as the timing table reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Admission {
    pub month: String,
    pub call_to_admission_h: Option<f64>,
    pub call_to_first_dose_h: Option<f64>,
    pub admission_to_first_dose_h: Option<f64>,
}

/// The admissions of the window, each with its month and intervals.
pub async fn admissions(app: &App, program: &Program, w: &Window) -> Result<Vec<Admission>> {
    let (lo, hi) = match (w.months.first(), w.months.last()) {
        (Some(a), Some(b)) => (a.lo, b.hi),
        _ => return Ok(vec![]),
    };
    let rows = app.store.dashboard_admissions(program.id, lo, hi).await?;
    let hours = |a: i64, b: i64| (b - a) as f64 / crate::clock::HOUR_US as f64;
    Ok(rows
        .iter()
        .filter_map(|r| {
            let m = w
                .months
                .iter()
                .find(|m| r.admitted_at >= m.lo && r.admitted_at < m.hi)?;
            Some(Admission {
                month: m.label.clone(),
                call_to_admission_h: r.first_call_at.map(|c| hours(c, r.admitted_at)),
                call_to_first_dose_h: r
                    .first_call_at
                    .zip(r.first_dose_at)
                    .map(|(c, d)| hours(c, d)),
                admission_to_first_dose_h: r.first_dose_at.map(|d| hours(r.admitted_at, d)),
            })
        })
        .collect())
}

/// Admissions by month with the medians from first call and to first dose
/// (pure).
pub fn timing_of(rows: &[Admission], months: &[String]) -> Vec<Timing> {
    months
        .iter()
        .map(|label| {
            let mine: Vec<&Admission> = rows.iter().filter(|r| &r.month == label).collect();
            let mut call_adm: Vec<f64> =
                mine.iter().filter_map(|r| r.call_to_admission_h).collect();
            let mut call_dose: Vec<f64> =
                mine.iter().filter_map(|r| r.call_to_first_dose_h).collect();
            let mut adm_dose: Vec<f64> = mine
                .iter()
                .filter_map(|r| r.admission_to_first_dose_h)
                .collect();
            Timing {
                month: label.clone(),
                admissions: mine.len() as i64,
                from_call: call_adm.len() as i64,
                dosed: adm_dose.len() as i64,
                call_to_admission_h: median(&mut call_adm),
                call_to_first_dose_h: median(&mut call_dose),
                admission_to_first_dose_h: median(&mut adm_dose),
            }
        })
        .collect()
}

/// Several programs' outcomes as one ("all programs"): counts summed by
/// month, medians taken again over every admission (pure).
pub fn combine(name: &str, list: &[Outcomes]) -> Outcomes {
    let mut months: BTreeMap<String, Month> = BTreeMap::new();
    for o in list {
        for m in &o.months {
            let e = months.entry(m.month.clone()).or_insert_with(|| Month {
                month: m.month.clone(),
                days: m.days,
                ..Default::default()
            });
            e.days = e.days.max(m.days);
            e.doses += m.doses;
            e.take_home += m.take_home;
            e.dosed_patients += m.dosed_patients;
            e.due_days += m.due_days;
            e.covered_days += m.covered_days;
            e.tests += m.tests;
            e.tests_refused += m.tests_refused;
            e.tests_pending += m.tests_pending;
            e.tests_negative += m.tests_negative;
            e.cm_earned_cents += m.cm_earned_cents;
            e.cm_redeemed_cents += m.cm_redeemed_cents;
            e.cm_budget_cents += m.cm_budget_cents;
            e.overdoses += m.overdoses;
            e.overdose_deaths += m.overdose_deaths;
            e.naloxone_kits += m.naloxone_kits;
            e.followups_due += m.followups_due;
            e.followups_called += m.followups_called;
            e.followups_reached += m.followups_reached;
        }
    }
    let admissions: Vec<Admission> = list.iter().flat_map(|o| o.admissions.clone()).collect();
    let labels: Vec<String> = months.keys().cloned().collect();
    Outcomes {
        program: name.to_string(),
        timing: timing_of(&admissions, &labels),
        months: months.into_values().collect(),
        cm_annual_budget_cents: list.iter().map(|o| o.cm_annual_budget_cents).sum(),
        admissions,
    }
}

/// One program's outcomes over the window (not audited: the callers are).
pub async fn outcomes_of(app: &App, program: &Program, w: &Window) -> Result<Outcomes> {
    let mut months = dosing(app, program, w).await?;
    let tests = app.store.dashboard_tests(program.id, &w.months).await?;
    let (cm, budget) = app.store.dashboard_cm(program.id, &w.months).await?;
    let safety = app.store.dashboard_safety(program.id, &w.months).await?;
    let calls = app
        .store
        .dashboard_followups(program.id, &w.months, w.now)
        .await?;
    for m in &mut months {
        if let Some(t) = tests.get(&m.month) {
            m.tests = t.collected;
            m.tests_refused = t.refused;
            m.tests_pending = t.pending;
            m.tests_negative = t.negative;
        }
        if let Some(c) = cm.get(&m.month) {
            m.cm_earned_cents = c.earned_cents;
            m.cm_redeemed_cents = c.redeemed_cents;
        }
        m.cm_budget_cents = budget / 12;
        if let Some(s) = safety.get(&m.month) {
            m.overdoses = s.overdoses;
            m.overdose_deaths = s.overdose_deaths;
            m.naloxone_kits = s.naloxone_kits;
        }
        if let Some(f) = calls.get(&m.month) {
            m.followups_due = f.due;
            m.followups_called = f.called;
            m.followups_reached = f.reached;
        }
    }
    let admissions = admissions(app, program, w).await?;
    let labels: Vec<String> = w.months.iter().map(|m| m.label.clone()).collect();
    Ok(Outcomes {
        program: program.name.clone(),
        timing: timing_of(&admissions, &labels),
        months,
        cm_annual_budget_cents: budget,
        admissions,
    })
}

/// The last twelve months of outcomes of each program the principal may
/// see the dashboard of (or of `only`, when they may); one audit event.
pub async fn outcomes(
    app: &App,
    who: &Principal,
    only: Option<ProgramId>,
) -> Result<Vec<Outcomes>> {
    let programs = work::programs(app).await?;
    let now = app.now_us();
    let mut out = vec![];
    let mine = who.programs_with(Permission::ViewDashboard);
    if only.is_some_and(|p| !mine.contains(&p)) {
        return Err(Error::Forbidden(
            "you may not see this program's dashboard".into(),
        ));
    }
    for id in mine.into_iter().filter(|p| only.is_none_or(|o| o == *p)) {
        let Some(g) = programs.iter().find(|g| g.id == id) else {
            continue;
        };
        let tz = parse_time_zone(&g.timezone)?;
        let w = Window::last_months(now, &tz, 12);
        out.push(outcomes_of(app, g, &w).await?);
    }
    app.audit(
        who.event("dashboard.outcomes", Outcome::Success)
            .detail(format!("programs={}", out.len())),
    )
    .await?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use carepath_domain::ids::{EpisodeId, PatientId};
    use proptest::prelude::*;

    fn tz() -> TimeZone {
        TimeZone::get("America/New_York").unwrap()
    }

    fn at(day: &str, hour: i8) -> i64 {
        day.parse::<Date>()
            .unwrap()
            .at(hour, 0, 0, 0)
            .to_zoned(tz())
            .unwrap()
            .timestamp()
            .as_microsecond()
    }

    fn span(p: &PatientId, from: &str, to: Option<&str>, next: Option<&str>) -> OrderSpan {
        OrderSpan {
            patient_id: p.to_string(),
            starts_on: from.into(),
            ends_on: to.map(Into::into),
            successor_starts_on: next.map(Into::into),
        }
    }

    fn episode(p: PatientId, from: i64, to: Option<i64>) -> Episode {
        Episode {
            id: EpisodeId::new(),
            patient_id: p,
            program_id: ProgramId::new(),
            level_of_care: "otp".into(),
            admitted_at: from,
            discharged_at: to,
            discharge_reason: None,
        }
    }

    #[test]
    fn window_months_end_with_this_one_in_the_program_zone() {
        // 03:00 UTC on 1 December is still 30 November in New York.
        let now = jiff::Timestamp::from_second(1_796_094_000).unwrap(); // 2026-12-01T03:00Z
        let w = Window::last_months(now.as_microsecond(), &tz(), 3);
        let labels: Vec<_> = w.months.iter().map(|m| m.label.as_str()).collect();
        assert_eq!(labels, ["2026-09", "2026-10", "2026-11"]);
        assert_eq!(w.today.to_string(), "2026-11-30");
        assert_eq!(w.months[2].lo, at("2026-11-01", 0));
        assert_eq!(w.months[2].hi, at("2026-12-01", 0));
    }

    #[test]
    fn due_days_follow_orders_care_closures_and_today() {
        let p = PatientId::new();
        let now = at("2026-11-20", 9);
        let w = Window::last_months(now, &tz(), 2); // October, November
        // Order from 25 October, replaced on 5 November by one still in force.
        let spans = [
            span(&p, "2026-10-25", None, Some("2026-11-05")),
            span(&p, "2026-11-05", None, None),
        ];
        // In care from 24 October, discharged on 15 November (afternoon).
        let eps = [episode(p, at("2026-10-24", 10), Some(at("2026-11-15", 15)))];
        let closures = vec!["2026-10-31".to_string(), "2026-11-26".to_string()];
        let d = due_days(&spans, &eps, &closures, &w);
        // October: 25..=31 is 7 days, less the closure on the 31st.
        assert_eq!(d["2026-10"], 6);
        // November: 1..=14 (discharge day not due).
        assert_eq!(d["2026-11"], 14);
        // Still in care: due up to yesterday only.
        let eps = [episode(p, at("2026-10-24", 10), None)];
        let d = due_days(&spans, &eps, &closures, &w);
        assert_eq!(d["2026-11"], 19);
        // No episode in the program: nothing is due whatever the orders say.
        assert_eq!(due_days(&spans, &[], &closures, &w)["2026-11"], 0);
    }

    #[test]
    fn an_ended_order_is_due_through_its_last_day() {
        let p = PatientId::new();
        let w = Window::last_months(at("2026-11-20", 9), &tz(), 1);
        let spans = [span(&p, "2026-11-01", Some("2026-11-03"), None)];
        let eps = [episode(p, at("2026-10-01", 9), None)];
        assert_eq!(due_days(&spans, &eps, &[], &w)["2026-11"], 3);
    }

    #[test]
    fn timing_takes_medians_per_month_and_combine_sums_programs() {
        let a = |m: &str, call: Option<f64>, dose: Option<f64>| Admission {
            month: m.into(),
            call_to_admission_h: call,
            call_to_first_dose_h: call.zip(dose).map(|(c, d)| c + d),
            admission_to_first_dose_h: dose,
        };
        let rows = vec![
            a("2026-10", Some(48.0), Some(2.0)),
            a("2026-10", None, Some(4.0)),
            a("2026-11", Some(24.0), None),
        ];
        let labels = vec!["2026-10".to_string(), "2026-11".to_string()];
        let t = timing_of(&rows, &labels);
        assert_eq!((t[0].admissions, t[0].from_call, t[0].dosed), (2, 1, 2));
        assert_eq!(t[0].admission_to_first_dose_h, Some(3.0));
        assert_eq!(t[0].call_to_first_dose_h, Some(50.0));
        assert_eq!(t[1].admission_to_first_dose_h, None);
        let one = |name: &str, doses: i64, rows: Vec<Admission>| Outcomes {
            program: name.into(),
            months: vec![Month {
                month: "2026-10".into(),
                days: 31,
                doses,
                due_days: doses,
                covered_days: doses - 1,
                ..Default::default()
            }],
            timing: timing_of(&rows, &labels),
            cm_annual_budget_cents: 1200,
            admissions: rows,
        };
        let all = combine(
            "All programs",
            &[
                one("A", 10, rows[..1].to_vec()),
                one("B", 30, rows[1..].to_vec()),
            ],
        );
        assert_eq!(all.months[0].doses, 40);
        assert_eq!(all.months[0].missed_rate(), Some(2.0 / 40.0));
        assert_eq!(all.cm_annual_budget_cents, 2400);
        assert_eq!(all.timing[0].admission_to_first_dose_h, Some(3.0));
    }

    #[test]
    fn medians() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
    }

    proptest! {
        /// Due days never exceed the days of the window, and adding an
        /// order (or a closure) never lowers (or raises) them.
        #[test]
        fn due_days_are_bounded_and_monotone(
            starts in proptest::collection::vec(0i64..90, 1..5),
            lens in proptest::collection::vec(1i64..60, 5),
            closure in 0i64..90,
        ) {
            let p = PatientId::new();
            let w = Window::last_months(at("2026-11-20", 9), &tz(), 3);
            let base: Date = "2026-09-01".parse().unwrap();
            let day = |n: i64| base.checked_add(jiff::Span::new().days(n)).unwrap().to_string();
            let spans: Vec<OrderSpan> = starts
                .iter()
                .zip(&lens)
                .map(|(s, l)| span(&p, &day(*s), Some(&day(s + l)), None))
                .collect();
            let eps = [episode(p, at("2026-08-01", 9), None)];
            let all: i64 = due_days(&spans, &eps, &[], &w).values().sum();
            prop_assert!(all <= 80); // 1 September .. 19 November
            let fewer: i64 = due_days(&spans[..spans.len() - 1], &eps, &[], &w).values().sum();
            prop_assert!(fewer <= all);
            let closed: i64 = due_days(&spans, &eps, &[day(closure)], &w).values().sum();
            prop_assert!(closed == all || closed == all - 1);
        }
    }
}
