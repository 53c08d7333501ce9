//! Buprenorphine: induction checks (withdrawal threshold, wait since the last
//! full agonist, first dose, re-dosing interval, day-1 and day-2 totals), the
//! soft alert above 24 mg/day, and low-dose ("micro") induction schedules.
//!
//! Sources: buprenorphine and buprenorphine/naloxone labels (first dose 2–4 mg;
//! up to 8 mg day 1; up to 16 mg day 2; re-dose in 2–4 mg steps while
//! withdrawal persists); MDCalc and common protocols for the COWS threshold
//! (≥8; higher after fentanyl or methadone); FDA notice of 2024-12-27 (FR Doc
//! 2024-30776) and 2025 label updates: no labeled maximum, doses above 24 mg/day
//! may be appropriate — so an alert with a rationale, never a block; low-dose
//! induction schedules from Canadian practice (7-day) and hospital rapid
//! protocols (3-day), both widely reproduced.

use crate::course::{Opioid, default_windows};
use crate::overridable as v;
use crate::{Alert, InputError, Override, Result, Verdict, mg_to_ug, ug_to_mg};
use serde::{Deserialize, Serialize};

pub const LABEL: &str = "Buprenorphine/naloxone sublingual labeling: induction dosing";
pub const FDA_2024: &str = "FDA notice, Federal Register 2024-12-27 (FR Doc 2024-30776), and 2025 label updates: no maximum daily dose; > 24 mg/day may be appropriate";
pub const COWS_SRC: &str =
    "MDCalc COWS guidance; ASAM 2020 focused update (objective withdrawal before the first dose)";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub cows_threshold: u8,
    /// Threshold after fentanyl or methadone (long-acting or lipophilic opioids).
    pub cows_threshold_long_acting: u8,
    pub first_dose_max_mg: f64,
    pub redose_min_hours: f64,
    pub day1_max_mg: f64,
    pub day2_max_mg: f64,
    pub alert_above_mg: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            cows_threshold: 8,
            cows_threshold_long_acting: 12,
            first_dose_max_mg: 4.0,
            redose_min_hours: 1.0,
            day1_max_mg: 8.0,
            day2_max_mg: 16.0,
            alert_above_mg: 24.0,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LastAgonist {
    pub opioid: Opioid,
    pub hours_ago: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MicroRequest {
    /// `canadian_7day` (default) or `rapid_3day`.
    #[serde(default = "default_protocol")]
    pub protocol: String,
    /// ISO date of day 1.
    pub start_date: String,
}

fn default_protocol() -> String {
    "canadian_7day".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    /// Day of induction (1 = first dose day). Ignored for a micro-induction schedule.
    #[serde(default)]
    pub day: Option<u32>,
    #[serde(default)]
    pub proposed_dose_mg: Option<f64>,
    #[serde(default)]
    pub given_today_mg: Vec<f64>,
    #[serde(default)]
    pub hours_since_last_dose: Option<f64>,
    /// COWS total now (required before the first dose).
    #[serde(default)]
    pub cows: Option<u8>,
    #[serde(default)]
    pub last_full_agonist: Option<LastAgonist>,
    /// Rationale for a daily total above the alert threshold.
    #[serde(default)]
    pub rationale: Option<String>,
    /// Ask for a low-dose induction schedule instead of checking a dose.
    #[serde(default)]
    pub micro_induction: Option<MicroRequest>,
    #[serde(default)]
    pub params: Params,
    #[serde(rename = "override", default)]
    pub override_: Option<Override>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleDay {
    pub day: u32,
    pub date: String,
    /// Buprenorphine doses that day (mg).
    pub buprenorphine_mg: Vec<f64>,
    pub total_mg: f64,
    pub full_agonist: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Output {
    #[serde(flatten)]
    pub verdict: Verdict,
    pub total_today_mg: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Vec<ScheduleDay>>,
    pub citation: String,
}

fn micro(m: &MicroRequest) -> Result<Vec<ScheduleDay>> {
    let start: jiff::civil::Date = m.start_date.parse().map_err(|_| {
        InputError::new(
            "micro_induction.start_date",
            "must be a date written YYYY-MM-DD",
        )
    })?;
    let plan: Vec<(Vec<f64>, &str)> = match m.protocol.as_str() {
        // Canadian 7-day schedule (full agonist continued through day 6).
        "canadian_7day" => vec![
            (vec![0.5], "continue"),
            (vec![0.5, 0.5], "continue"),
            (vec![1.0, 1.0], "continue"),
            (vec![2.0, 2.0], "continue"),
            (vec![3.0, 3.0], "continue"),
            (vec![4.0, 4.0], "continue"),
            (vec![12.0], "stop"),
            (vec![16.0], "stopped"),
        ],
        // Rapid hospital protocol: 0.5 mg q3h day 1, 1 mg q3h day 2, 8–16 mg day 3.
        "rapid_3day" => vec![
            (vec![0.5; 8], "continue"),
            (vec![1.0; 8], "continue"),
            (vec![8.0, 4.0, 4.0], "stop"),
        ],
        other => {
            return Err(InputError::new(
                "micro_induction.protocol",
                format!("unknown protocol {other:?}; expected canadian_7day or rapid_3day"),
            ));
        }
    };
    Ok(plan
        .into_iter()
        .enumerate()
        .map(|(k, (doses, agonist))| {
            let date = start
                .checked_add(jiff::Span::new().days(k as i64))
                .unwrap_or(start);
            ScheduleDay {
                day: k as u32 + 1,
                date: date.to_string(),
                total_mg: doses.iter().sum(),
                buprenorphine_mg: doses,
                full_agonist: agonist.into(),
            }
        })
        .collect())
}

pub fn check(i: &Input) -> Result<Output> {
    let p = &i.params;
    if let Some(m) = &i.micro_induction {
        let schedule = micro(m)?;
        let alerts = vec![Alert { rule: "buprenorphine.micro_induction".into(), message: "low-dose induction: continue the full agonist as scheduled; review daily for withdrawal or sedation".into(), citation: "Hämmig et al., Subst Abuse Rehabil 2016 (Bernese method); Canadian low-dose induction practice".into() }];
        return Ok(Output {
            verdict: Verdict::decide(vec![], alerts, None)?,
            total_today_mg: None,
            schedule: Some(schedule),
            citation: LABEL.into(),
        });
    }
    let day = i
        .day
        .ok_or_else(|| InputError::new("day", "is required (1 = first dose day)"))?;
    if day == 0 {
        return Err(InputError::new("day", "counts from 1"));
    }
    let dose = mg_to_ug(
        "proposed_dose_mg",
        i.proposed_dose_mg
            .ok_or_else(|| InputError::new("proposed_dose_mg", "is required"))?,
    )?;
    if dose == 0 {
        return Err(InputError::new("proposed_dose_mg", "must be more than 0"));
    }
    let mut given = 0;
    for (k, g) in i.given_today_mg.iter().enumerate() {
        given += mg_to_ug(&format!("given_today_mg[{k}]"), *g)?;
    }
    let total = given + dose;
    let mut violations = vec![];
    let mut alerts = vec![];
    let first_dose = day == 1 && given == 0;
    if first_dose {
        let cows = i.cows.ok_or_else(|| {
            InputError::new("cows", "a COWS score is required before the first dose")
        })?;
        if cows > 48 {
            return Err(InputError::new("cows", "must be 0–48"));
        }
        let agonist = i.last_full_agonist.as_ref().ok_or_else(|| {
            InputError::new(
                "last_full_agonist",
                "give the last full agonist and hours since (precipitated withdrawal risk)",
            )
        })?;
        let long = matches!(agonist.opioid, Opioid::Fentanyl | Opioid::Methadone);
        let threshold = if long {
            p.cows_threshold_long_acting
        } else {
            p.cows_threshold
        };
        if cows < threshold {
            violations.push(v("buprenorphine.cows_threshold", format!("COWS {cows} is below {threshold}: wait for objective withdrawal to avoid precipitated withdrawal (or use a low-dose induction)"), COWS_SRC));
        }
        if let Some(wait) = default_windows(agonist.opioid).buprenorphine_wait_h
            && agonist.hours_ago < wait as f64
        {
            violations.push(v("buprenorphine.agonist_wait", format!("{} h since the last full agonist; wait at least {wait} h", agonist.hours_ago), "Buprenorphine label; ASAM 2020 focused update (timing after short-acting, fentanyl, methadone)"));
        }
        if ug_to_mg(dose) > p.first_dose_max_mg {
            violations.push(v(
                "buprenorphine.first_dose",
                format!(
                    "a first dose of {} mg exceeds {} mg",
                    ug_to_mg(dose),
                    p.first_dose_max_mg
                ),
                LABEL,
            ));
        }
    }
    if given > 0 {
        match i.hours_since_last_dose {
            Some(h) if h < p.redose_min_hours => violations.push(v("buprenorphine.redose_interval", format!("{} since the last dose; re-dose no sooner than {}, and only while withdrawal persists", crate::comfort::elapsed_text(h), crate::comfort::elapsed_text(p.redose_min_hours)), LABEL)),
            None => return Err(InputError::new("hours_since_last_dose", "is required when doses were already given today")),
            _ => {}
        }
    }
    let total_mg = ug_to_mg(total);
    if day == 1 && total_mg > p.day1_max_mg {
        violations.push(v(
            "buprenorphine.day1_total",
            format!("{total_mg} mg on day 1 exceeds {} mg", p.day1_max_mg),
            LABEL,
        ));
    }
    if day == 2 && total_mg > p.day2_max_mg {
        violations.push(v(
            "buprenorphine.day2_total",
            format!("{total_mg} mg on day 2 exceeds {} mg", p.day2_max_mg),
            LABEL,
        ));
    }
    if total_mg > p.alert_above_mg {
        let documented = i
            .rationale
            .as_deref()
            .is_some_and(|r| r.trim().chars().count() >= crate::MIN_REASON);
        alerts.push(Alert {
            rule: "buprenorphine.above_24mg".into(),
            message: if documented { format!("{total_mg} mg/day is above {} mg: rationale documented", p.alert_above_mg) } else { format!("{total_mg} mg/day is above {} mg: document the clinical rationale (not a limit)", p.alert_above_mg) },
            citation: FDA_2024.into(),
        });
    }
    Ok(Output {
        verdict: Verdict::decide(violations, alerts, i.override_.as_ref())?,
        total_today_mg: Some(total_mg),
        schedule: None,
        citation: LABEL.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn first(cows: u8, opioid: Opioid, hours: f64, dose: f64) -> Input {
        Input {
            day: Some(1),
            proposed_dose_mg: Some(dose),
            given_today_mg: vec![],
            hours_since_last_dose: None,
            cows: Some(cows),
            last_full_agonist: Some(LastAgonist {
                opioid,
                hours_ago: hours,
            }),
            rationale: None,
            micro_induction: None,
            params: Params::default(),
            override_: None,
        }
    }

    #[test]
    fn first_dose_needs_withdrawal_and_time() {
        assert!(
            check(&first(10, Opioid::Heroin, 14.0, 4.0))
                .unwrap()
                .verdict
                .approved
        );
        let o = check(&first(6, Opioid::Heroin, 14.0, 4.0)).unwrap();
        assert_eq!(o.verdict.violations[0].rule, "buprenorphine.cows_threshold");
        let o = check(&first(10, Opioid::Fentanyl, 30.0, 4.0)).unwrap();
        assert_eq!(
            o.verdict.violations[0].rule, "buprenorphine.cows_threshold",
            "fentanyl uses the higher threshold"
        );
        let o = check(&first(14, Opioid::Methadone, 48.0, 2.0)).unwrap();
        assert_eq!(o.verdict.violations[0].rule, "buprenorphine.agonist_wait");
        let mut i = first(10, Opioid::Heroin, 14.0, 4.0);
        i.cows = None;
        assert_eq!(check(&i).unwrap_err().field, "cows");
    }

    #[test]
    fn redosing_and_daily_totals() {
        let mut i = first(10, Opioid::Heroin, 14.0, 4.0);
        i.given_today_mg = vec![4.0];
        i.hours_since_last_dose = Some(0.5);
        let o = check(&i).unwrap();
        assert_eq!(
            o.verdict.violations[0].rule,
            "buprenorphine.redose_interval"
        );
        i.hours_since_last_dose = Some(2.0);
        assert!(check(&i).unwrap().verdict.approved);
        i.given_today_mg = vec![4.0, 4.0];
        assert!(
            check(&i)
                .unwrap()
                .verdict
                .violations
                .iter()
                .any(|v| v.rule == "buprenorphine.day1_total")
        );
        let day2 = Input {
            day: Some(2),
            proposed_dose_mg: Some(16.0),
            ..first(0, Opioid::Heroin, 40.0, 1.0)
        };
        assert!(check(&day2).unwrap().verdict.approved);
    }

    #[test]
    fn above_24_is_an_alert_never_a_block() {
        let i = Input {
            day: Some(30),
            proposed_dose_mg: Some(32.0),
            ..first(0, Opioid::Heroin, 40.0, 1.0)
        };
        let o = check(&i).unwrap();
        assert!(o.verdict.approved);
        assert!(o.verdict.alerts[0].message.contains("document"));
    }

    #[test]
    fn micro_induction_schedule() {
        let i = Input {
            micro_induction: Some(MicroRequest {
                protocol: "canadian_7day".into(),
                start_date: "2026-11-23".into(),
            }),
            ..first(0, Opioid::Heroin, 0.0, 1.0)
        };
        let s = check(&i).unwrap().schedule.unwrap();
        assert_eq!(s.len(), 8);
        assert_eq!(
            (s[0].total_mg, s[5].total_mg, s[6].total_mg),
            (0.5, 8.0, 12.0)
        );
        assert_eq!(s[6].full_agonist, "stop");
        assert_eq!(s[6].date, "2026-11-29");
    }

    proptest! {
        #[test]
        fn high_totals_never_blocked_after_day_2(day in 3u32..400, dose in 1u32..64) {
            let i = Input { day: Some(day), proposed_dose_mg: Some(dose as f64), ..first(0, Opioid::Heroin, 40.0, 1.0) };
            prop_assert!(check(&i).unwrap().verdict.approved);
        }
    }
}
