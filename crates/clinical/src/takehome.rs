//! Take-home (unsupervised) dose eligibility.
//!
//! The ceiling comes from the policy pack (federal-2024: 42 CFR § 8.12(i)(3),
//! 7 days in days 1–14, 14 from day 15, 28 from day 31; states may be
//! stricter, and then the most restrictive applies). The ladder is a ceiling,
//! not an entitlement: each decision weighs the listed criteria
//! (§ 8.12(i)(2)); any criterion not met blocks ladder doses. Closure-day doses
//! (§ 8.12(i)(1)) are separate from the ladder, and are withheld only when a
//! diversion or safe-storage criterion fails.

use crate::policy::{self, Policy, PolicyRef, Tier};
use crate::{InputError, Override, Result, Verdict, Violation};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Medication {
    Methadone,
    Buprenorphine,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TreatmentType {
    Maintenance,
    WithdrawalManagement,
    Interim,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    pub policy: String,
    pub medication: Medication,
    /// Day of continuous treatment, counting the first day as 1.
    pub days_in_treatment: u32,
    pub treatment_type: TreatmentType,
    /// Every criterion the policy lists, answered true (met) or false.
    pub criteria: BTreeMap<String, bool>,
    /// Days the clinic is closed in the coming supply period (Sundays, holidays).
    #[serde(default)]
    pub closure_days: u32,
    /// A proposed number of take-home doses to check.
    #[serde(default)]
    pub requested_doses: Option<u32>,
    #[serde(rename = "override", default)]
    pub override_: Option<Override>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Output {
    /// Take-home doses allowed now: ladder doses (if no criterion blocks) plus closure-day doses.
    pub max_doses: u32,
    /// The ladder ceiling in force (doses in one supply, beyond closure-day doses).
    pub ceiling: u32,
    /// Where the rule counts per week, the weekly limit.
    pub max_per_week: Option<u32>,
    pub citation: String,
    /// Which policy's limit binds (a state pack, or the federal rule it narrows).
    pub binding_policy: String,
    pub ladder_doses: u32,
    pub closure_day_doses: u32,
    /// Criteria not met, which block ladder doses.
    pub blocking: Vec<String>,
    pub criteria_citation: String,
    pub verified: bool,
    pub policy: PolicyRef,
    /// Present when `requested_doses` was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
}

struct Limit {
    supply: u32,
    per_week: Option<u32>,
    citation: String,
    verified: bool,
    policy: String,
}

fn limit_for(p: &Policy, i: &Input) -> Limit {
    if i.treatment_type != TreatmentType::Maintenance {
        let key = match i.treatment_type {
            TreatmentType::WithdrawalManagement => "withdrawal_management",
            _ => "interim",
        };
        let t = &p.treatment_types[key];
        return Limit {
            supply: t.max_supply,
            per_week: None,
            citation: t.citation.clone(),
            verified: t.verified,
            policy: p.name.clone(),
        };
    }
    let ladder = match i.medication {
        Medication::Methadone => &p.methadone,
        Medication::Buprenorphine => &p.buprenorphine,
    };
    let t: &Tier = ladder
        .tier(i.days_in_treatment)
        .expect("ladders start on day 1");
    Limit {
        supply: t.max_supply,
        per_week: t.max_per_week,
        citation: t.citation.clone(),
        verified: t.verified,
        policy: p.name.clone(),
    }
}

fn stricter(a: Limit, b: Limit) -> Limit {
    let weekly = |l: &Limit| {
        l.per_week
            .unwrap_or(u32::MAX)
            .min(l.supply.max(l.per_week.unwrap_or(0)))
    };
    // Fewer doses in one supply binds; ties go to the narrower weekly rule, then to the state pack (a).
    if b.supply < a.supply || (b.supply == a.supply && weekly(&b) < weekly(&a)) {
        b
    } else {
        a
    }
}

pub fn evaluate(i: &Input) -> Result<Output> {
    let p = policy::get(&i.policy)?;
    if i.days_in_treatment == 0 {
        return Err(InputError::new(
            "days_in_treatment",
            "counts from 1 (the first day of treatment)",
        ));
    }
    if i.closure_days > 31 {
        return Err(InputError::new("closure_days", "must be at most 31"));
    }
    for k in i.criteria.keys() {
        if !p.criteria.contains(k) {
            return Err(InputError::new(
                format!("criteria.{k}"),
                format!(
                    "not a criterion of {}; expected {}",
                    p.name,
                    p.criteria.join(", ")
                ),
            ));
        }
    }
    for c in &p.criteria {
        if !i.criteria.contains_key(c) {
            return Err(InputError::new(
                format!("criteria.{c}"),
                format!(
                    "is required: the decision must weigh every criterion of {} ({})",
                    p.criteria_citation,
                    p.criteria.join(", ")
                ),
            ));
        }
    }
    let mut limit = limit_for(p, i);
    if let Some(base) = &p.stricter_than {
        limit = stricter(limit, limit_for(policy::get(base)?, i));
    }
    let blocking: Vec<String> = p
        .criteria
        .iter()
        .filter(|c| !i.criteria[*c])
        .cloned()
        .collect();
    let ladder_doses = if blocking.is_empty() { limit.supply } else { 0 };
    let closure_blocked = p.closure_day_criteria.iter().any(|c| !i.criteria[c]);
    let closure_day_doses = if closure_blocked { 0 } else { i.closure_days };
    let max_doses = ladder_doses + closure_day_doses;
    let verdict = match i.requested_doses {
        None => {
            if i.override_.is_some() {
                return Err(InputError::new(
                    "override",
                    "an override needs requested_doses to apply to",
                ));
            }
            None
        }
        Some(r) => {
            let mut v = vec![];
            if r > max_doses {
                let why = if blocking.is_empty() {
                    format!(
                        "{r} take-home doses exceed the {} allowed now ({})",
                        max_doses, limit.citation
                    )
                } else {
                    format!(
                        "{r} take-home doses exceed the {max_doses} allowed while these criteria are not met: {}",
                        blocking.join(", ")
                    )
                };
                v.push(Violation {
                    rule: "take_home.ceiling".into(),
                    message: why,
                    citation: limit.citation.clone(),
                    overridable: true,
                });
            }
            Some(Verdict::decide(v, vec![], i.override_.as_ref())?)
        }
    };
    Ok(Output {
        max_doses,
        ceiling: limit.supply,
        max_per_week: limit.per_week,
        citation: limit.citation,
        binding_policy: limit.policy,
        ladder_doses,
        closure_day_doses,
        blocking,
        criteria_citation: p.criteria_citation.clone(),
        verified: limit.verified,
        policy: p.reference(),
        verdict,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn all_met(policy: &str) -> BTreeMap<String, bool> {
        policy::get(policy)
            .unwrap()
            .criteria
            .iter()
            .map(|c| (c.clone(), true))
            .collect()
    }

    fn inp(policy: &str, day: u32) -> Input {
        Input {
            policy: policy.into(),
            medication: Medication::Methadone,
            days_in_treatment: day,
            treatment_type: TreatmentType::Maintenance,
            criteria: all_met(policy),
            closure_days: 0,
            requested_doses: None,
            override_: None,
        }
    }

    #[test]
    fn federal_2024_ladder_boundaries() {
        for (day, max) in [(1, 7), (14, 7), (15, 14), (30, 14), (31, 28), (400, 28)] {
            let o = evaluate(&inp("federal-2024", day)).unwrap();
            assert_eq!((o.max_doses, o.ceiling), (max, max), "day {day}");
            assert_eq!(o.policy.name, "federal-2024");
        }
    }

    #[test]
    fn federal_2001_ladder() {
        for (day, max) in [
            (90, 1),
            (91, 2),
            (180, 2),
            (181, 3),
            (271, 6),
            (365, 6),
            (366, 14),
            (730, 14),
            (731, 30),
        ] {
            assert_eq!(
                evaluate(&inp("federal-2001", day)).unwrap().ceiling,
                max,
                "day {day}"
            );
        }
    }

    #[test]
    fn states_are_stricter_and_say_which_limit_binds() {
        let o = evaluate(&inp("virginia", 5)).unwrap();
        assert_eq!((o.ceiling, o.binding_policy.as_str()), (0, "virginia"));
        let o = evaluate(&inp("virginia", 20)).unwrap();
        assert_eq!(o.ceiling, 5);
        let o = evaluate(&inp("virginia", 40)).unwrap();
        assert_eq!(o.ceiling, 14);
        let o = evaluate(&inp("california", 20)).unwrap();
        assert_eq!((o.ceiling, o.max_per_week), (1, Some(1)));
        let o = evaluate(&inp("california", 800)).unwrap();
        assert_eq!(o.ceiling, 28);
        let o = evaluate(&inp("wisconsin", 10)).unwrap();
        assert_eq!(o.ceiling, 0);
        // Where the state would allow more than federal, federal binds.
        let o = evaluate(&inp("california", 400)).unwrap();
        assert_eq!((o.ceiling, o.binding_policy.as_str()), (14, "california"));
    }

    #[test]
    fn criteria_block_ladder_but_not_closure_days() {
        let mut i = inp("federal-2024", 40);
        i.closure_days = 1;
        i.criteria.insert("regular_attendance".into(), false);
        let o = evaluate(&i).unwrap();
        assert_eq!(
            (o.max_doses, o.ladder_doses, o.closure_day_doses),
            (1, 0, 1)
        );
        assert_eq!(o.blocking, vec!["regular_attendance"]);
        i.criteria
            .insert("safe_transport_and_storage".into(), false);
        assert_eq!(evaluate(&i).unwrap().max_doses, 0);
    }

    #[test]
    fn withdrawal_management_and_errors() {
        let mut i = inp("federal-2024", 40);
        i.treatment_type = TreatmentType::WithdrawalManagement;
        i.closure_days = 1;
        assert_eq!(evaluate(&i).unwrap().max_doses, 1);
        let mut t = inp("federal-2024", 1);
        t.policy = "texas".into();
        assert_eq!(evaluate(&t).unwrap_err().field, "policy");
        let mut m = inp("federal-2024", 3);
        m.criteria.remove("regular_attendance");
        assert_eq!(
            evaluate(&m).unwrap_err().field,
            "criteria.regular_attendance"
        );
        let mut u = inp("federal-2024", 3);
        u.criteria.insert("likes_cats".into(), true);
        assert_eq!(evaluate(&u).unwrap_err().field, "criteria.likes_cats");
    }

    #[test]
    fn overrides_need_a_prescriber_and_a_reason() {
        let mut i = inp("federal-2024", 10);
        i.requested_doses = Some(10);
        let o = evaluate(&i).unwrap();
        assert!(!o.verdict.unwrap().approved);
        i.override_ = Some(Override {
            role: "nurse".into(),
            by: "n".into(),
            reason: "travel for a funeral".into(),
        });
        assert_eq!(evaluate(&i).unwrap_err().field, "override.role");
        i.override_ = Some(Override {
            role: "prescriber".into(),
            by: "dr".into(),
            reason: "short".into(),
        });
        assert_eq!(evaluate(&i).unwrap_err().field, "override.reason");
        i.override_ = Some(Override {
            role: "prescriber".into(),
            by: "dr".into(),
            reason: "SOTA exception approved for travel".into(),
        });
        let v = evaluate(&i).unwrap().verdict.unwrap();
        assert!(v.approved);
        assert_eq!(v.overridden.len(), 1);
        assert!(v.override_applied.is_some());
    }

    proptest! {
        /// No request above max_doses is approved without a prescriber override with a reason,
        /// and the ladder never exceeds the federal ceiling.
        #[test]
        fn never_above_ceiling_without_override(
            pol in proptest::sample::select(vec!["federal-2024", "federal-2001", "california", "virginia", "wisconsin"]),
            day in 1u32..1000, req in 0u32..40, closure in 0u32..5, bup in proptest::bool::ANY, fail in proptest::option::of(0usize..6),
        ) {
            let mut i = inp(pol, day);
            i.medication = if bup { Medication::Buprenorphine } else { Medication::Methadone };
            i.closure_days = closure;
            i.requested_doses = Some(req);
            if let Some(k) = fail {
                let c = policy::get(pol).unwrap().criteria[k].clone();
                i.criteria.insert(c, false);
            }
            let o = evaluate(&i).unwrap();
            prop_assert!(o.ladder_doses <= o.ceiling);
            prop_assert!(o.max_doses <= o.ceiling + closure);
            let mut f = inp("federal-2024", day);
            f.medication = i.medication;
            prop_assert!(o.ceiling <= evaluate(&f).unwrap().ceiling.max(30));
            let v = o.verdict.unwrap();
            prop_assert_eq!(v.approved, req <= o.max_doses);
        }
    }
}
