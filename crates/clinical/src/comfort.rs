//! Withdrawal comfort medications: single-dose and daily maxima, minimum
//! intervals, and vital-sign hold parameters for alpha-2 agonists.
//!
//! Sources: lofexidine (Lucemyra) label — 0.18 mg tablets, usually 0.54 mg
//! four times daily 5–6 h apart, max 0.72 mg per dose and 2.88 mg/day, hold for
//! hypotension, bradycardia or sedation (no numeric threshold in the label);
//! clonidine — VA-derived withdrawal table: 0.1–0.2 mg every 6–8 h, hold if BP
//! < 90/60; an inpatient protocol adds HR < 60; daily maxima reported 1.2 mg
//! (CMAJ table); comfort medications from the VA-derived table (loperamide
//! max 16 mg/day, ondansetron max 16 mg/day, ibuprofen 2,400 mg/day,
//! acetaminophen 4,000 mg/day, hydroxyzine 400 mg/day, prochlorperazine
//! 40 mg/day …). Hold thresholds are local protocol: parameters, not code.

use crate::{Alert, InputError, Override, Result, Verdict, Violation, mg_to_ug, ug_to_mg};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Vital {
    Sbp,
    Dbp,
    Hr,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hold {
    pub vital: Vital,
    /// Hold when the vital is below this value.
    pub below: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MedRule {
    pub name: &'static str,
    pub max_single_mg: f64,
    pub max_daily_mg: f64,
    pub min_interval_h: f64,
    pub needs_vitals: bool,
    pub citation: &'static str,
}

const VA: &str = "VA-derived opioid withdrawal symptom-management table";

/// The formulary of comfort medications (adult doses).
pub const FORMULARY: &[MedRule] = &[
    MedRule {
        name: "clonidine",
        max_single_mg: 0.2,
        max_daily_mg: 1.2,
        min_interval_h: 6.0,
        needs_vitals: true,
        citation: "Clonidine for withdrawal: VA-derived table (0.1–0.2 mg q6–8h, hold BP < 90/60); CMAJ table (1.2 mg/day)",
    },
    MedRule {
        name: "lofexidine",
        max_single_mg: 0.72,
        max_daily_mg: 2.88,
        min_interval_h: 5.0,
        needs_vitals: true,
        citation: "Lofexidine (Lucemyra) label: max 0.72 mg per dose, 2.88 mg/day, doses 5–6 h apart",
    },
    MedRule {
        name: "loperamide",
        max_single_mg: 4.0,
        max_daily_mg: 16.0,
        min_interval_h: 0.0,
        needs_vitals: false,
        citation: VA,
    },
    MedRule {
        name: "ondansetron",
        max_single_mg: 8.0,
        max_daily_mg: 16.0,
        min_interval_h: 4.0,
        needs_vitals: false,
        citation: VA,
    },
    MedRule {
        name: "prochlorperazine",
        max_single_mg: 10.0,
        max_daily_mg: 40.0,
        min_interval_h: 6.0,
        needs_vitals: false,
        citation: VA,
    },
    MedRule {
        name: "ibuprofen",
        max_single_mg: 800.0,
        max_daily_mg: 2400.0,
        min_interval_h: 4.0,
        needs_vitals: false,
        citation: VA,
    },
    MedRule {
        name: "acetaminophen",
        max_single_mg: 1000.0,
        max_daily_mg: 4000.0,
        min_interval_h: 4.0,
        needs_vitals: false,
        citation: VA,
    },
    MedRule {
        name: "hydroxyzine",
        max_single_mg: 100.0,
        max_daily_mg: 400.0,
        min_interval_h: 6.0,
        needs_vitals: false,
        citation: VA,
    },
    MedRule {
        name: "diphenhydramine",
        max_single_mg: 50.0,
        max_daily_mg: 200.0,
        min_interval_h: 6.0,
        needs_vitals: false,
        citation: VA,
    },
    MedRule {
        name: "dicyclomine",
        max_single_mg: 20.0,
        max_daily_mg: 80.0,
        min_interval_h: 6.0,
        needs_vitals: false,
        citation: "Inpatient withdrawal protocol example (20 mg q6h PRN)",
    },
    MedRule {
        name: "bismuth_subsalicylate",
        max_single_mg: 524.0,
        max_daily_mg: 4200.0,
        min_interval_h: 0.5,
        needs_vitals: false,
        citation: VA,
    },
    MedRule {
        name: "trazodone",
        max_single_mg: 100.0,
        max_daily_mg: 100.0,
        min_interval_h: 24.0,
        needs_vitals: false,
        citation: VA,
    },
];

/// Default holds for alpha-2 agonists: SBP < 90, DBP < 60, HR < 60 (local protocol; configurable).
/// Hours as people say them: "less than a minute", "25 min", "2 h 10 min",
/// "6 h" (never a long decimal).
pub fn elapsed_text(hours: f64) -> String {
    let minutes = (hours.max(0.0) * 60.0).round() as i64;
    match (minutes / 60, minutes % 60) {
        (0, 0) => "less than a minute".into(),
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

pub fn default_holds() -> Vec<Hold> {
    vec![
        Hold {
            vital: Vital::Sbp,
            below: 90,
        },
        Hold {
            vital: Vital::Dbp,
            below: 60,
        },
        Hold {
            vital: Vital::Hr,
            below: 60,
        },
    ]
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vitals {
    pub sbp: u32,
    pub dbp: u32,
    pub hr: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    pub medication: String,
    pub proposed_dose_mg: f64,
    /// Doses of this medication in the past 24 hours (mg).
    #[serde(default)]
    pub given_last_24h_mg: Vec<f64>,
    #[serde(default)]
    pub hours_since_last_dose: Option<f64>,
    #[serde(default)]
    pub vitals: Option<Vitals>,
    /// Program hold parameters replacing the defaults (alpha-2 agonists).
    #[serde(default)]
    pub hold_parameters: Option<Vec<Hold>>,
    /// Program daily maximum replacing the formulary's.
    #[serde(default)]
    pub max_daily_mg: Option<f64>,
    #[serde(rename = "override", default)]
    pub override_: Option<Override>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Output {
    #[serde(flatten)]
    pub verdict: Verdict,
    /// Holds that fired (vital and value).
    pub held: Vec<String>,
    pub total_24h_mg: f64,
    pub max_daily_mg: f64,
}

pub fn check(i: &Input) -> Result<Output> {
    check_with(i, true)
}

/// Check a proposed order rather than a dose: the formulary's single dose and
/// daily maximum, and the hold parameters' form. Vital signs belong to each
/// administration, where [`check`] fires the holds (same sources as above).
pub fn check_order(
    medication: &str,
    dose_mg: f64,
    hold_parameters: Option<Vec<Hold>>,
) -> Result<Output> {
    check_with(
        &Input {
            medication: medication.into(),
            proposed_dose_mg: dose_mg,
            given_last_24h_mg: vec![],
            hours_since_last_dose: None,
            vitals: None,
            hold_parameters,
            max_daily_mg: None,
            override_: None,
        },
        false,
    )
}

fn check_with(i: &Input, dose_now: bool) -> Result<Output> {
    let rule = FORMULARY
        .iter()
        .find(|m| m.name == i.medication)
        .ok_or_else(|| {
            InputError::new(
                "medication",
                format!(
                    "unknown medication {:?}; expected one of {}",
                    i.medication,
                    FORMULARY
                        .iter()
                        .map(|m| m.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })?;
    let dose = mg_to_ug("proposed_dose_mg", i.proposed_dose_mg)?;
    if dose == 0 {
        return Err(InputError::new("proposed_dose_mg", "must be more than 0"));
    }
    let mut given = 0;
    for (k, g) in i.given_last_24h_mg.iter().enumerate() {
        given += mg_to_ug(&format!("given_last_24h_mg[{k}]"), *g)?;
    }
    let max_daily = match i.max_daily_mg {
        Some(m) if m > rule.max_daily_mg => {
            return Err(InputError::new(
                "max_daily_mg",
                format!(
                    "may lower but not raise the formulary maximum of {} mg",
                    rule.max_daily_mg
                ),
            ));
        }
        Some(m) => m,
        None => rule.max_daily_mg,
    };
    let mut v = vec![];
    let mut held = vec![];
    if ug_to_mg(dose) > rule.max_single_mg {
        v.push(Violation {
            rule: "comfort.max_single".into(),
            message: format!(
                "{} mg exceeds the {} mg single dose",
                ug_to_mg(dose),
                rule.max_single_mg
            ),
            citation: rule.citation.into(),
            overridable: true,
        });
    }
    let total = given + dose;
    if ug_to_mg(total) > max_daily {
        v.push(Violation {
            rule: "comfort.max_daily".into(),
            message: format!(
                "{} mg in 24 h exceeds the {max_daily} mg daily maximum",
                ug_to_mg(total)
            ),
            citation: rule.citation.into(),
            overridable: false,
        });
    }
    if given > 0 && rule.min_interval_h > 0.0 {
        match i.hours_since_last_dose {
            Some(h) if h < rule.min_interval_h => v.push(Violation {
                rule: "comfort.interval".into(),
                message: format!(
                    "{} since the last dose; at least {}",
                    elapsed_text(h),
                    elapsed_text(rule.min_interval_h)
                ),
                citation: rule.citation.into(),
                overridable: true,
            }),
            None => {
                return Err(InputError::new(
                    "hours_since_last_dose",
                    "is required when doses were given in the past 24 h",
                ));
            }
            _ => {}
        }
    }
    if rule.needs_vitals && dose_now {
        let vit = i.vitals.as_ref().ok_or_else(|| {
            InputError::new(
                "vitals",
                format!(
                    "blood pressure and heart rate are required before {}",
                    rule.name
                ),
            )
        })?;
        for h in i.hold_parameters.clone().unwrap_or_else(default_holds) {
            let (name, val) = match h.vital {
                Vital::Sbp => ("systolic BP", vit.sbp),
                Vital::Dbp => ("diastolic BP", vit.dbp),
                Vital::Hr => ("heart rate", vit.hr),
            };
            if val < h.below {
                held.push(format!("{name} {val} < {}", h.below));
                v.push(Violation {
                    rule: "comfort.hold_parameter".into(),
                    message: format!("hold: {name} {val} is below {}", h.below),
                    citation: rule.citation.into(),
                    overridable: true,
                });
            }
        }
    }
    let alerts = if rule.needs_vitals {
        vec![Alert {
            rule: "comfort.recheck_vitals".into(),
            message: "recheck blood pressure about 1 h after the dose".into(),
            citation: rule.citation.into(),
        }]
    } else {
        vec![]
    };
    Ok(Output {
        verdict: Verdict::decide(v, alerts, i.override_.as_ref())?,
        held,
        total_24h_mg: ug_to_mg(total),
        max_daily_mg: max_daily,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn clon(dose: f64, sbp: u32, dbp: u32, hr: u32) -> Input {
        Input {
            medication: "clonidine".into(),
            proposed_dose_mg: dose,
            given_last_24h_mg: vec![],
            hours_since_last_dose: None,
            vitals: Some(Vitals { sbp, dbp, hr }),
            hold_parameters: None,
            max_daily_mg: None,
            override_: None,
        }
    }

    #[test]
    fn elapsed_time_reads_in_hours_and_minutes() {
        assert_eq!(elapsed_text(0.000_406_304_444), "less than a minute");
        assert_eq!(elapsed_text(0.25), "15 min");
        assert_eq!(elapsed_text(2.5), "2 h 30 min");
        assert_eq!(elapsed_text(6.0), "6 h");
        assert_eq!(elapsed_text(-1.0), "less than a minute");
    }

    #[test]
    fn holds_fire_on_low_vitals() {
        assert!(check(&clon(0.1, 118, 76, 72)).unwrap().verdict.approved);
        let o = check(&clon(0.1, 86, 58, 72)).unwrap();
        assert!(!o.verdict.approved);
        assert_eq!(o.held.len(), 2);
        let mut no_vitals = clon(0.1, 0, 0, 0);
        no_vitals.vitals = None;
        assert_eq!(check(&no_vitals).unwrap_err().field, "vitals");
        let mut custom = clon(0.1, 95, 70, 72);
        custom.hold_parameters = Some(vec![Hold {
            vital: Vital::Sbp,
            below: 100,
        }]);
        assert!(!check(&custom).unwrap().verdict.approved);
    }

    #[test]
    fn daily_maximum_is_not_overridable() {
        let mut i = Input {
            medication: "loperamide".into(),
            proposed_dose_mg: 2.0,
            given_last_24h_mg: vec![4.0, 2.0, 2.0, 2.0, 2.0, 2.0],
            hours_since_last_dose: Some(1.0),
            vitals: None,
            hold_parameters: None,
            max_daily_mg: None,
            override_: None,
        };
        assert!(check(&i).unwrap().verdict.approved);
        i.given_last_24h_mg.push(2.0);
        i.override_ = Some(Override {
            role: "prescriber".into(),
            by: "dr".into(),
            reason: "ongoing severe diarrhea".into(),
        });
        let o = check(&i).unwrap();
        assert!(!o.verdict.approved, "16 mg/day is a hard maximum");
        i.medication = "unknownium".into();
        assert_eq!(check(&i).unwrap_err().field, "medication");
    }

    #[test]
    fn an_order_is_checked_without_vital_signs() {
        // Clonidine needs vital signs at each dose, not to be ordered (VA table:
        // 0.1–0.2 mg; the single-dose ceiling still applies to the order).
        let o = check_order("clonidine", 0.1, None).unwrap();
        assert!(o.verdict.approved);
        assert!(o.held.is_empty());
        let big = check_order("clonidine", 5.0, None).unwrap();
        assert!(!big.verdict.approved);
        assert!(
            big.verdict
                .violations
                .iter()
                .any(|v| v.rule == "comfort.max_single")
        );
        assert_eq!(
            check_order("unknownium", 1.0, None).unwrap_err().field,
            "medication"
        );
    }

    proptest! {
        #[test]
        fn never_approves_above_daily_max(med in 0usize..12, doses in proptest::collection::vec(1u32..200, 0..8), dose in 1u32..200) {
            let m = &FORMULARY[med];
            let scale = m.max_single_mg / 100.0;
            let i = Input { medication: m.name.into(), proposed_dose_mg: ((dose as f64 * scale) * 1000.0).round() / 1000.0, given_last_24h_mg: doses.iter().map(|d| ((*d as f64 * scale) * 1000.0).round() / 1000.0).collect(), hours_since_last_dose: Some(24.0), vitals: Some(Vitals { sbp: 120, dbp: 80, hr: 80 }), hold_parameters: None, max_daily_mg: None, override_: None };
            if let Ok(o) = check(&i) && o.verdict.approved {
                prop_assert!(o.total_24h_mg <= m.max_daily_mg + 1e-9);
            }
        }
    }
}
