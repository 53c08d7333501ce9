//! Naltrexone: when it may start, and oral or extended-release schedules.
//!
//! Sources: naltrexone labels (oral: 25 mg day 1, then 50 mg daily; supervised
//! alternatives); XR-naltrexone (Vivitrol) label: 380 mg IM every 4 weeks;
//! opioid-free 7–10 days after short-acting opioids; after methadone or
//! buprenorphine precipitated withdrawal is possible for up to 2 weeks;
//! naloxone challenge; December 2025 label update: counsel on and consider an
//! overdose-reversal agent at each injection. The required opioid-free days
//! are program parameters.

use crate::course::Opioid;
use crate::{Alert, InputError, Result};
use serde::{Deserialize, Serialize};

pub const LABEL: &str = "Naltrexone (oral) and XR-naltrexone (Vivitrol) labeling";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub opioid_free_days_short_acting: u32,
    pub opioid_free_days_fentanyl: u32,
    pub opioid_free_days_long_acting: u32,
}

impl Default for Params {
    fn default() -> Self {
        // Short-acting: 7 (label 7–10); fentanyl: 10 (UNVERIFIED, lipophilic); methadone/buprenorphine: 14 ("up to 2 weeks").
        Params {
            opioid_free_days_short_acting: 7,
            opioid_free_days_fentanyl: 10,
            opioid_free_days_long_acting: 14,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Formulation {
    Oral,
    ExtendedRelease,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Challenge {
    #[default]
    NotDone,
    Negative,
    Positive,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    pub last_opioid: Opioid,
    /// ISO date of the last opioid use.
    pub last_use_date: String,
    /// ISO date of the proposed first dose.
    pub proposed_start_date: String,
    pub formulation: Formulation,
    /// Urine drug screen negative for opioids (including fentanyl, methadone, buprenorphine).
    #[serde(default)]
    pub urine_opioid_negative: Option<bool>,
    #[serde(default)]
    pub naloxone_challenge: Challenge,
    /// Acute hepatitis or liver failure.
    #[serde(default)]
    pub acute_hepatitis_or_liver_failure: bool,
    /// Needs opioid analgesia.
    #[serde(default)]
    pub needs_opioid_analgesia: bool,
    #[serde(default)]
    pub params: Params,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dose {
    pub date: String,
    pub dose_mg: u32,
    pub route: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Output {
    pub eligible: bool,
    pub required_opioid_free_days: u32,
    pub opioid_free_days: i64,
    pub earliest_start: String,
    pub blocking: Vec<String>,
    pub schedule: Vec<Dose>,
    pub alerts: Vec<Alert>,
    pub citation: String,
}

fn date(field: &str, s: &str) -> Result<jiff::civil::Date> {
    s.parse()
        .map_err(|_| InputError::new(field, "must be a date written YYYY-MM-DD"))
}

pub fn start(i: &Input) -> Result<Output> {
    let last = date("last_use_date", &i.last_use_date)?;
    let proposed = date("proposed_start_date", &i.proposed_start_date)?;
    if proposed < last {
        return Err(InputError::new(
            "proposed_start_date",
            "is before the last opioid use",
        ));
    }
    let p = &i.params;
    let required = match i.last_opioid {
        Opioid::Heroin | Opioid::ShortActing => p.opioid_free_days_short_acting,
        Opioid::Fentanyl => p.opioid_free_days_fentanyl,
        Opioid::Methadone | Opioid::Buprenorphine => p.opioid_free_days_long_acting,
    };
    let free = (proposed - last).get_days() as i64;
    let earliest = last
        .checked_add(jiff::Span::new().days(required as i64))
        .unwrap_or(last);
    let mut blocking = vec![];
    if free < required as i64 {
        blocking.push(
            format!(
                "opioid_free_days: {free} of {required} required after {:?}",
                i.last_opioid
            )
            .to_lowercase(),
        );
    }
    match i.urine_opioid_negative {
        Some(true) => {}
        Some(false) => blocking.push("urine_opioid_negative: the screen shows opioids".into()),
        None => blocking.push("urine_opioid_negative: screen for opioids first".into()),
    }
    if i.naloxone_challenge == Challenge::Positive {
        blocking.push("naloxone_challenge: positive (withdrawal signs); repeat in 24 h".into());
    }
    if i.acute_hepatitis_or_liver_failure {
        blocking.push("contraindicated: acute hepatitis or liver failure".into());
    }
    if i.needs_opioid_analgesia {
        blocking.push("contraindicated: needs opioid analgesia".into());
    }
    let mut alerts = vec![Alert { rule: "naltrexone.overdose_risk".into(), message: "after stopping (or as an injection wears off) opioid tolerance is low: give overdose education and naloxone".into(), citation: "XR-naltrexone labeling (2025 update)".into() }];
    if i.naloxone_challenge == Challenge::NotDone {
        alerts.push(Alert { rule: "naltrexone.challenge".into(), message: "consider a naloxone challenge (0.8 mg SC, observe 20 min) when opioid-free status is uncertain".into(), citation: LABEL.into() });
    }
    let add = |d: i64| {
        proposed
            .checked_add(jiff::Span::new().days(d))
            .unwrap_or(proposed)
            .to_string()
    };
    let schedule = match i.formulation {
        Formulation::Oral => {
            let mut s = vec![Dose {
                date: add(0),
                dose_mg: 25,
                route: "oral".into(),
            }];
            s.extend((1..7).map(|d| Dose {
                date: add(d),
                dose_mg: 50,
                route: "oral".into(),
            }));
            s
        }
        Formulation::ExtendedRelease => (0..6)
            .map(|k| Dose {
                date: add(28 * k),
                dose_mg: 380,
                route: "intramuscular (gluteal)".into(),
            })
            .collect(),
    };
    Ok(Output {
        eligible: blocking.is_empty(),
        required_opioid_free_days: required,
        opioid_free_days: free,
        earliest_start: earliest.to_string(),
        blocking,
        schedule,
        alerts,
        citation: LABEL.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inp(o: Opioid, last: &str, start_d: &str) -> Input {
        Input {
            last_opioid: o,
            last_use_date: last.into(),
            proposed_start_date: start_d.into(),
            formulation: Formulation::ExtendedRelease,
            urine_opioid_negative: Some(true),
            naloxone_challenge: Challenge::Negative,
            acute_hepatitis_or_liver_failure: false,
            needs_opioid_analgesia: false,
            params: Params::default(),
        }
    }

    #[test]
    fn longer_wait_after_methadone() {
        assert!(
            start(&inp(Opioid::Heroin, "2026-11-01", "2026-11-08"))
                .unwrap()
                .eligible
        );
        let o = start(&inp(Opioid::Methadone, "2026-11-01", "2026-11-08")).unwrap();
        assert!(!o.eligible);
        assert_eq!(o.earliest_start, "2026-11-15");
        let o = start(&inp(Opioid::Buprenorphine, "2026-11-01", "2026-11-15")).unwrap();
        assert!(o.eligible);
        assert_eq!(o.schedule.len(), 6);
        assert_eq!(o.schedule[1].date, "2026-12-13");
    }

    #[test]
    fn oral_schedule_and_blocks() {
        let mut i = inp(Opioid::Heroin, "2026-11-01", "2026-11-10");
        i.formulation = Formulation::Oral;
        i.urine_opioid_negative = None;
        let o = start(&i).unwrap();
        assert!(!o.eligible);
        assert_eq!((o.schedule[0].dose_mg, o.schedule[1].dose_mg), (25, 50));
        assert_eq!(
            start(&inp(Opioid::Heroin, "2026-11-10", "2026-11-01"))
                .unwrap_err()
                .field,
            "proposed_start_date"
        );
    }
}
