//! Methadone: order and dose validation during induction, titration and
//! maintenance; split dosing; tapers; missed doses.
//!
//! Sources: 42 CFR § 8.12(h)(3)(ii) (first-day ceiling, via the policy pack);
//! SAMHSA TIP 63 (2021): increases of 5–10 mg no more often than every 3–5
//! days, because plasma levels keep rising for ~5 days at a constant dose;
//! usual maintenance 60–120 mg/day; Krantz et al., Ann Intern Med
//! 2009;150:387-395 (ECG above 100 mg/day; QTc 450–500 ms discuss and monitor;
//! ≥500 ms consider reduction); methadone label (taper < 10 % every 10–14 days
//! for ambulatory patients); Australian National Guidelines for
//! Methadone (missed doses). Step and interval limits are program parameters.

use crate::policy::{self, PolicyRef};
use crate::{Alert, InputError, Override, Result, Verdict, mg_to_ug, ug_to_mg};
use crate::{alert as a, overridable as v};
use serde::{Deserialize, Serialize};

pub const TIP63: &str = "SAMHSA TIP 63 (2021), methadone induction and titration";
pub const KRANTZ: &str = "Krantz et al., Ann Intern Med 2009;150:387-395 (QTc and methadone)";
pub const LABEL_TAPER: &str =
    "Methadone label: ambulatory taper reductions < 10% of the established dose every 10–14 days";
pub const AUS_MISSED: &str =
    "Australian National Guidelines for Methadone Treatment, missed doses (§ 3.5)";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Induction,
    Maintenance,
    Taper,
}

/// Program parameters (defaults from TIP 63 and Krantz 2009).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub max_step_mg: f64,
    pub min_days_between_increases: u32,
    pub maintenance_low_mg: f64,
    pub maintenance_high_mg: f64,
    pub ecg_review_above_mg: f64,
    pub qtc_monitor_ms: u32,
    pub qtc_stop_ms: u32,
    pub taper_max_percent: f64,
    pub taper_min_days: u32,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            max_step_mg: 10.0,
            min_days_between_increases: 3,
            maintenance_low_mg: 60.0,
            maintenance_high_mg: 120.0,
            ecg_review_above_mg: 100.0,
            qtc_monitor_ms: 450,
            qtc_stop_ms: 500,
            taper_max_percent: 10.0,
            taper_min_days: 10,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    #[serde(default = "default_policy")]
    pub policy: String,
    pub phase: Phase,
    /// Day of treatment in this episode (1 = first dose day).
    pub day_of_treatment: u32,
    /// The dose to validate (mg).
    pub proposed_dose_mg: f64,
    /// Doses already given today (mg), for split dosing and day-1 totals.
    #[serde(default)]
    pub given_today_mg: Vec<f64>,
    /// The current established daily dose (mg), for increases and tapers.
    #[serde(default)]
    pub current_daily_dose_mg: Option<f64>,
    /// Days since the last dose change.
    #[serde(default)]
    pub days_since_last_change: Option<u32>,
    /// Most recent QTc (ms), if known.
    #[serde(default)]
    pub qtc_ms: Option<u32>,
    #[serde(default)]
    pub params: Params,
    #[serde(rename = "override", default)]
    pub override_: Option<Override>,
}

fn default_policy() -> String {
    "federal-2024".into()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Output {
    #[serde(flatten)]
    pub verdict: Verdict,
    pub total_today_mg: f64,
    pub split_dose: bool,
    pub policy: PolicyRef,
}

pub fn check_order(i: &Input) -> Result<Output> {
    let pol = policy::get(&i.policy)?;
    let pr = &i.params;
    if i.day_of_treatment == 0 {
        return Err(InputError::new("day_of_treatment", "counts from 1"));
    }
    let dose = mg_to_ug("proposed_dose_mg", i.proposed_dose_mg)?;
    if dose == 0 {
        return Err(InputError::new("proposed_dose_mg", "must be more than 0"));
    }
    let mut given = 0;
    for (k, g) in i.given_today_mg.iter().enumerate() {
        given += mg_to_ug(&format!("given_today_mg[{k}]"), *g)?;
    }
    let total = given + dose;
    let current = i
        .current_daily_dose_mg
        .map(|c| mg_to_ug("current_daily_dose_mg", c))
        .transpose()?;
    let mut violations = vec![];
    let mut alerts = vec![];
    let first_dose_max = pol.dosing.methadone_first_dose_max_mg as i64 * 1000;
    let first_day_max = pol.dosing.methadone_first_day_max_mg as i64 * 1000;
    if i.day_of_treatment == 1 {
        if given == 0 && dose > first_dose_max {
            violations.push(v(
                "methadone.first_dose_ceiling",
                format!("a first dose of {} mg exceeds the {} mg ceiling; a higher first dose needs a documented clinical reason", ug_to_mg(dose), pol.dosing.methadone_first_dose_max_mg),
                &pol.dosing.first_dose_citation,
            ));
        }
        if total > first_day_max {
            violations.push(v(
                "methadone.first_day_total",
                format!(
                    "{} mg on the first day exceeds the {} mg first-day total",
                    ug_to_mg(total),
                    pol.dosing.methadone_first_day_max_mg
                ),
                &pol.dosing.first_dose_citation,
            ));
        }
        if given > 0 {
            alerts.push(a(
                "methadone.observe_before_additional",
                "an additional first-day dose: observe 2–4 h after the first dose before giving it"
                    .into(),
                TIP63,
            ));
        }
    }
    // Increases during induction (and any increase): size and interval.
    if let (Some(cur), true) = (current, i.day_of_treatment > 1) {
        if total > cur {
            let step = total - cur;
            let max_step = mg_to_ug("params.max_step_mg", pr.max_step_mg)?;
            if step > max_step {
                violations.push(v(
                    "methadone.max_step",
                    format!(
                        "an increase of {} mg exceeds the {} mg step",
                        ug_to_mg(step),
                        pr.max_step_mg
                    ),
                    TIP63,
                ));
            }
            match i.days_since_last_change {
                Some(d) if d < pr.min_days_between_increases => violations.push(v(
                    "methadone.increase_interval",
                    format!("the last change was {d} day(s) ago; increase no more often than every {} days (levels keep rising for about 5 days at a constant dose)", pr.min_days_between_increases),
                    TIP63,
                )),
                None if i.phase == Phase::Induction => {
                    return Err(InputError::new("days_since_last_change", "is required to check an increase during induction"));
                }
                _ => {}
            }
            if i.phase == Phase::Taper {
                violations.push(v(
                    "methadone.taper_increase",
                    "an increase during a taper: change the phase to maintenance first".into(),
                    LABEL_TAPER,
                ));
            }
        }
        if i.phase == Phase::Taper && total < cur {
            let pct = (cur - total) as f64 * 100.0 / cur as f64;
            if pct > pr.taper_max_percent {
                alerts.push(a("methadone.taper_step", format!("a reduction of {pct:.0}% is faster than the {}% per step the label suggests for ambulatory patients", pr.taper_max_percent), LABEL_TAPER));
            }
            if i.days_since_last_change
                .is_some_and(|d| d < pr.taper_min_days)
            {
                alerts.push(a(
                    "methadone.taper_interval",
                    format!(
                        "reductions every {}+ days are suggested for ambulatory patients",
                        pr.taper_min_days
                    ),
                    LABEL_TAPER,
                ));
            }
            alerts.push(a(
                "overdose.loss_of_tolerance",
                "tolerance falls during a taper: give overdose education and a naloxone kit".into(),
                "Strang et al., BMJ 2003;326:959",
            ));
        }
    }
    let total_mg = ug_to_mg(total);
    if i.phase == Phase::Maintenance
        && (total_mg < pr.maintenance_low_mg || total_mg > pr.maintenance_high_mg)
    {
        alerts.push(a(
            "methadone.maintenance_range",
            format!(
                "{total_mg} mg/day is outside the usual maintenance range of {}–{} mg",
                pr.maintenance_low_mg, pr.maintenance_high_mg
            ),
            TIP63,
        ));
    }
    if total_mg > pr.ecg_review_above_mg {
        alerts.push(a(
            "methadone.ecg_review",
            format!(
                "above {} mg/day: obtain an ECG and review the QTc",
                pr.ecg_review_above_mg
            ),
            KRANTZ,
        ));
    }
    if let Some(q) = i.qtc_ms {
        if q >= pr.qtc_stop_ms {
            let increasing = current.is_some_and(|c| total > c);
            if increasing {
                violations.push(v("methadone.qtc_increase", format!("QTc {q} ms ≥ {} ms: do not increase; consider reduction, correcting contributors, or another medication", pr.qtc_stop_ms), KRANTZ));
            } else {
                alerts.push(a(
                    "methadone.qtc_high",
                    format!(
                        "QTc {q} ms ≥ {} ms: consider dose reduction or alternative therapy",
                        pr.qtc_stop_ms
                    ),
                    KRANTZ,
                ));
            }
        } else if q > pr.qtc_monitor_ms {
            alerts.push(a(
                "methadone.qtc_monitor",
                format!("QTc {q} ms: discuss risks and monitor more often"),
                KRANTZ,
            ));
        }
    }
    if i.day_of_treatment <= 14 {
        alerts.push(a("methadone.induction_risk", "the first two weeks carry the highest overdose risk: watch for sedation before each dose".into(), TIP63));
    }
    let split = !i.given_today_mg.is_empty() && i.day_of_treatment > 1;
    Ok(Output {
        verdict: Verdict::decide(violations, alerts, i.override_.as_ref())?,
        total_today_mg: total_mg,
        split_dose: split,
        policy: pol.reference(),
    })
}

/// A planned taper.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaperInput {
    pub from_mg: f64,
    /// Reduce by this percentage of the current dose each step …
    #[serde(default)]
    pub step_percent: Option<f64>,
    /// … or by this many mg each step.
    #[serde(default)]
    pub step_mg: Option<f64>,
    pub interval_days: u32,
    /// Stop reducing at this dose (0 = off methadone).
    #[serde(default)]
    pub floor_mg: f64,
    /// Smallest single reduction (mg); doses round to whole mg.
    #[serde(default = "one")]
    pub min_step_mg: f64,
}

fn one() -> f64 {
    1.0
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaperStep {
    pub day: u32,
    pub dose_mg: f64,
}

/// Generate taper steps (whole mg), alerting when faster than the label suggests.
pub fn taper(t: &TaperInput) -> Result<(Vec<TaperStep>, Vec<Alert>)> {
    mg_to_ug("from_mg", t.from_mg)?;
    mg_to_ug("floor_mg", t.floor_mg)?;
    if t.floor_mg >= t.from_mg {
        return Err(InputError::new("floor_mg", "must be below from_mg"));
    }
    if t.interval_days == 0 {
        return Err(InputError::new("interval_days", "must be at least 1"));
    }
    let by = match (t.step_percent, t.step_mg) {
        (Some(p), None) if p > 0.0 && p <= 50.0 => Ok(p),
        (None, Some(m)) if m > 0.0 => Err(m),
        _ => {
            return Err(InputError::new(
                "step_percent",
                "give step_percent (0–50) or step_mg, not both",
            ));
        }
    };
    let mut alerts = vec![];
    if t.interval_days < 10
        || matches!(by, Ok(p) if p > 10.0)
        || matches!(by, Err(m) if m * 10.0 > t.from_mg)
    {
        alerts.push(a(
            "methadone.taper_pace",
            "faster than the < 10% every 10–14 days suggested for ambulatory patients".into(),
            LABEL_TAPER,
        ));
    }
    alerts.push(a("overdose.loss_of_tolerance", "tolerance is lost as the dose falls: overdose education and naloxone before the taper ends".into(), "Strang et al., BMJ 2003;326:959"));
    let mut steps = vec![TaperStep {
        day: 0,
        dose_mg: t.from_mg,
    }];
    let mut dose = t.from_mg;
    let mut day = 0;
    while dose > t.floor_mg && steps.len() < 400 {
        let cut = match by {
            Ok(p) => (dose * p / 100.0).max(t.min_step_mg),
            Err(m) => m,
        };
        dose = (dose - cut).round().max(t.floor_mg);
        day += t.interval_days;
        steps.push(TaperStep { day, dose_mg: dose });
    }
    Ok((steps, alerts))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissedAction {
    Give,
    Reduce,
    HoldForPrescriber,
    Reinduce,
}

/// One row of a missed-dose schedule: from this many consecutive missed days.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MissedRule {
    pub from_days: u32,
    pub action: MissedAction,
    /// Dose as a fraction of the usual dose (1 = usual).
    pub fraction: f64,
    /// Cap on the restart dose (mg), if any.
    #[serde(default)]
    pub cap_mg: Option<f64>,
    pub needs_prescriber: bool,
    pub rule: String,
}

/// The Australian national guideline schedule (the default).
pub fn australian_schedule() -> Vec<MissedRule> {
    vec![
        MissedRule { from_days: 0, action: MissedAction::Give, fraction: 1.0, cap_mg: None, needs_prescriber: false, rule: "no missed days: usual dose".into() },
        MissedRule { from_days: 1, action: MissedAction::Give, fraction: 1.0, cap_mg: None, needs_prescriber: false, rule: "1 day missed: no change".into() },
        MissedRule { from_days: 2, action: MissedAction::Give, fraction: 1.0, cap_mg: None, needs_prescriber: false, rule: "2 days missed: usual dose if not intoxicated".into() },
        MissedRule { from_days: 3, action: MissedAction::Reduce, fraction: 0.5, cap_mg: None, needs_prescriber: true, rule: "3 days missed: half dose after discussion with the prescriber".into() },
        MissedRule { from_days: 4, action: MissedAction::HoldForPrescriber, fraction: 0.5, cap_mg: Some(40.0), needs_prescriber: true, rule: "4 days missed: prescriber review; restart at 40 mg or half the usual dose, whichever is lower".into() },
        MissedRule { from_days: 5, action: MissedAction::Reinduce, fraction: 0.0, cap_mg: None, needs_prescriber: true, rule: "5 or more days missed: treat as a new induction".into() },
    ]
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MissedInput {
    pub consecutive_missed_days: u32,
    pub usual_dose_mg: f64,
    /// Signs of intoxication now (dose is withheld until assessed).
    #[serde(default)]
    pub intoxicated: bool,
    /// A program schedule replacing the Australian default.
    #[serde(default)]
    pub schedule: Option<Vec<MissedRule>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MissedOutput {
    pub action: MissedAction,
    /// The dose to give (mg); null when the prescriber decides or re-induction starts.
    pub dose_mg: Option<f64>,
    pub needs_prescriber: bool,
    pub rule: String,
    pub take_homes_suspended: bool,
    pub alerts: Vec<Alert>,
    pub citation: String,
}

pub fn missed(i: &MissedInput) -> Result<MissedOutput> {
    let usual = mg_to_ug("usual_dose_mg", i.usual_dose_mg)?;
    let custom = i.schedule.is_some();
    let sched = i.schedule.clone().unwrap_or_else(australian_schedule);
    if sched.is_empty() || sched.iter().all(|r| r.from_days > 0) {
        return Err(InputError::new(
            "schedule",
            "must include a row with from_days = 0",
        ));
    }
    let row = sched
        .iter()
        .filter(|r| r.from_days <= i.consecutive_missed_days)
        .max_by_key(|r| r.from_days)
        .expect("row 0 exists");
    let mut dose = match row.action {
        MissedAction::Reinduce => None,
        _ => {
            let mut d = (usual as f64 * row.fraction).round() as i64;
            if let Some(c) = row.cap_mg {
                d = d.min(mg_to_ug("schedule.cap_mg", c)?);
            }
            Some(ug_to_mg(d))
        }
    };
    let mut alerts = vec![];
    let mut action = row.action;
    let mut needs = row.needs_prescriber;
    if i.intoxicated {
        action = MissedAction::HoldForPrescriber;
        needs = true;
        dose = None;
        alerts.push(a(
            "methadone.intoxicated",
            "signs of intoxication: withhold the dose and assess".into(),
            AUS_MISSED,
        ));
    }
    if i.consecutive_missed_days >= 3 {
        alerts.push(a(
            "overdose.loss_of_tolerance",
            "tolerance may be reduced after missed doses: assess before dosing; offer naloxone"
                .into(),
            AUS_MISSED,
        ));
    }
    Ok(MissedOutput {
        action,
        dose_mg: dose,
        needs_prescriber: needs,
        rule: row.rule.clone(),
        take_homes_suspended: i.consecutive_missed_days >= 3,
        alerts,
        citation: if custom {
            "program missed-dose schedule".into()
        } else {
            AUS_MISSED.into()
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn order(day: u32, dose: f64) -> Input {
        Input {
            policy: "federal-2024".into(),
            phase: Phase::Induction,
            day_of_treatment: day,
            proposed_dose_mg: dose,
            given_today_mg: vec![],
            current_daily_dose_mg: None,
            days_since_last_change: None,
            qtc_ms: None,
            params: Params::default(),
            override_: None,
        }
    }

    #[test]
    fn first_dose_ceiling_by_policy() {
        assert!(check_order(&order(1, 50.0)).unwrap().verdict.approved);
        let o = check_order(&order(1, 60.0)).unwrap();
        assert!(!o.verdict.approved);
        assert!(
            o.verdict
                .violations
                .iter()
                .any(|v| v.rule == "methadone.first_dose_ceiling")
        );
        let mut old = order(1, 35.0);
        old.policy = "federal-2001".into();
        assert!(!check_order(&old).unwrap().verdict.approved);
        // Day-1 total: 30 + 25 > 50.
        let mut second = order(1, 25.0);
        second.given_today_mg = vec![30.0];
        let o = check_order(&second).unwrap();
        assert_eq!(o.total_today_mg, 55.0);
        assert!(
            o.verdict
                .violations
                .iter()
                .any(|v| v.rule == "methadone.first_day_total")
        );
    }

    #[test]
    fn titration_step_and_interval() {
        let mut i = order(5, 45.0);
        i.current_daily_dose_mg = Some(30.0);
        i.days_since_last_change = Some(4);
        let o = check_order(&i).unwrap();
        assert!(
            o.verdict
                .violations
                .iter()
                .any(|v| v.rule == "methadone.max_step")
        );
        i.proposed_dose_mg = 40.0;
        i.days_since_last_change = Some(1);
        let o = check_order(&i).unwrap();
        assert_eq!(
            o.verdict
                .violations
                .iter()
                .map(|v| v.rule.as_str())
                .collect::<Vec<_>>(),
            vec!["methadone.increase_interval"]
        );
        i.days_since_last_change = Some(3);
        assert!(check_order(&i).unwrap().verdict.approved);
        i.days_since_last_change = None;
        assert_eq!(check_order(&i).unwrap_err().field, "days_since_last_change");
    }

    #[test]
    fn qtc_and_ecg_alerts() {
        let mut i = order(60, 110.0);
        i.phase = Phase::Maintenance;
        i.current_daily_dose_mg = Some(110.0);
        let o = check_order(&i).unwrap();
        assert!(o.verdict.approved);
        assert!(
            o.verdict
                .alerts
                .iter()
                .any(|a| a.rule == "methadone.ecg_review")
        );
        i.qtc_ms = Some(510);
        i.proposed_dose_mg = 115.0;
        i.days_since_last_change = Some(7);
        assert!(
            check_order(&i)
                .unwrap()
                .verdict
                .violations
                .iter()
                .any(|v| v.rule == "methadone.qtc_increase")
        );
    }

    #[test]
    fn override_applies_only_with_prescriber_reason() {
        let mut i = order(1, 60.0);
        i.override_ = Some(Override {
            role: "prescriber".into(),
            by: "dr.okafor".into(),
            reason: "high tolerance confirmed, transferred from another OTP at 80 mg".into(),
        });
        let o = check_order(&i).unwrap();
        assert!(o.verdict.approved);
        // Both the first-dose and the first-day ceilings were set aside, and say so.
        assert_eq!(o.verdict.overridden.len(), 2);
        assert!(o.verdict.override_applied.is_some());
    }

    #[test]
    fn missed_dose_schedule() {
        let m = |d, usual| {
            missed(&MissedInput {
                consecutive_missed_days: d,
                usual_dose_mg: usual,
                intoxicated: false,
                schedule: None,
            })
            .unwrap()
        };
        assert_eq!(
            (m(1, 90.0).action, m(1, 90.0).dose_mg),
            (MissedAction::Give, Some(90.0))
        );
        assert_eq!(m(2, 90.0).dose_mg, Some(90.0));
        assert_eq!(
            (m(3, 90.0).action, m(3, 90.0).dose_mg),
            (MissedAction::Reduce, Some(45.0))
        );
        assert_eq!(
            (m(4, 90.0).action, m(4, 90.0).dose_mg),
            (MissedAction::HoldForPrescriber, Some(40.0))
        );
        assert_eq!(m(4, 60.0).dose_mg, Some(30.0));
        assert_eq!(
            (m(5, 90.0).action, m(5, 90.0).dose_mg),
            (MissedAction::Reinduce, None)
        );
        assert_eq!(m(12, 90.0).action, MissedAction::Reinduce);
        let x = missed(&MissedInput {
            consecutive_missed_days: 1,
            usual_dose_mg: 80.0,
            intoxicated: true,
            schedule: None,
        })
        .unwrap();
        assert_eq!(
            (x.action, x.dose_mg),
            (MissedAction::HoldForPrescriber, None)
        );
    }

    #[test]
    fn taper_schedule() {
        let (steps, alerts) = taper(&TaperInput {
            from_mg: 80.0,
            step_percent: Some(10.0),
            step_mg: None,
            interval_days: 14,
            floor_mg: 0.0,
            min_step_mg: 1.0,
        })
        .unwrap();
        assert_eq!(
            steps[1],
            TaperStep {
                day: 14,
                dose_mg: 72.0
            }
        );
        assert_eq!(steps.last().unwrap().dose_mg, 0.0);
        assert!(steps.windows(2).all(|w| w[1].dose_mg < w[0].dose_mg));
        assert!(!alerts.iter().any(|a| a.rule == "methadone.taper_pace"));
        let (_, fast) = taper(&TaperInput {
            from_mg: 80.0,
            step_percent: None,
            step_mg: Some(20.0),
            interval_days: 7,
            floor_mg: 0.0,
            min_step_mg: 1.0,
        })
        .unwrap();
        assert!(fast.iter().any(|a| a.rule == "methadone.taper_pace"));
    }

    proptest! {
        /// No first dose above the policy ceiling is ever approved without an override.
        #[test]
        fn first_dose_never_above_ceiling(dose in 1u32..200, pol in proptest::sample::select(vec!["federal-2024", "federal-2001"])) {
            let mut i = order(1, dose as f64);
            i.policy = pol.into();
            let o = check_order(&i).unwrap();
            let ceiling = policy::get(pol).unwrap().dosing.methadone_first_dose_max_mg;
            if dose > ceiling { prop_assert!(!o.verdict.approved); }
        }
    }
}
