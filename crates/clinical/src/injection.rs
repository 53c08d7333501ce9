//! Extended-release injections: when the next one is due, the earliest it
//! may be given, and whether it is late.
//!
//! Sources (DOMAIN-clinical §§ 5.4, 6):
//! - Sublocade (buprenorphine extended-release, monthly subcutaneous) label:
//!   300 mg monthly for the first two doses, then 100 mg monthly; **at least
//!   26 days between doses**.
//! - Brixadi (buprenorphine extended-release, weekly or monthly subcutaneous)
//!   label: weekly doses may be given up to 2 days before or after the weekly
//!   time point, monthly doses up to 1 week before or after; weekly and
//!   monthly formulations are different products and are not combined.
//! - Vivitrol (naltrexone extended-release) label: 380 mg intramuscular
//!   every 4 weeks or once a month. The label gives no minimum interval; the
//!   earliest day (`Params::naltrexone_min_days`) is program policy. After a
//!   missed injection the blockade wears off and the overdose risk rises
//!   (label): a late injection raises an alert to counsel and offer naloxone.
//!
//! Pure: dates in, a schedule out.

use serde::{Deserialize, Serialize};

pub const SUBLOCADE: &str = "Sublocade (buprenorphine extended-release) injection labeling";
pub const BRIXADI: &str = "Brixadi (buprenorphine extended-release) injection labeling";
pub const VIVITROL: &str = "Vivitrol (naltrexone extended-release) injection labeling";

/// The injection products the schedule knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Buprenorphine XR, monthly (Sublocade-type: ≥ 26 days apart).
    BuprenorphineMonthly,
    /// Buprenorphine XR, weekly (Brixadi weekly: ± 2 days).
    BuprenorphineWeekly,
    /// Naltrexone XR, every 4 weeks (Vivitrol).
    NaltrexoneMonthly,
}

/// Program policy where the labels leave a choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    /// Earliest day for the next naltrexone injection (no label minimum).
    pub naltrexone_min_days: u32,
}

impl Default for Params {
    fn default() -> Self {
        // Policy default: a week early at most (UNVERIFIED: not in the label).
        Params {
            naltrexone_min_days: 21,
        }
    }
}

impl Kind {
    /// Days from one injection to the next one's due day.
    pub fn every_days(self) -> u32 {
        match self {
            Kind::BuprenorphineWeekly => 7,
            Kind::BuprenorphineMonthly | Kind::NaltrexoneMonthly => 28,
        }
    }

    /// The fewest days allowed between two injections.
    pub fn min_days(self, p: &Params) -> u32 {
        match self {
            // Sublocade: at least 26 days between doses (label). A monthly
            // Brixadi dose may come a week early (21 days): the stricter
            // Sublocade limit is used for every monthly buprenorphine order.
            Kind::BuprenorphineMonthly => 26,
            // Brixadi weekly: up to 2 days before the weekly time point.
            Kind::BuprenorphineWeekly => 5,
            Kind::NaltrexoneMonthly => p.naltrexone_min_days,
        }
    }

    /// Days after the due day that still count as on time.
    pub fn grace_days(self) -> u32 {
        match self {
            Kind::BuprenorphineWeekly => 2,
            // Brixadi monthly: ± 1 week; Sublocade and Vivitrol give no
            // window, so a week is used for every monthly product.
            Kind::BuprenorphineMonthly | Kind::NaltrexoneMonthly => 7,
        }
    }

    pub fn citation(self) -> &'static str {
        match self {
            Kind::BuprenorphineMonthly => SUBLOCADE,
            Kind::BuprenorphineWeekly => BRIXADI,
            Kind::NaltrexoneMonthly => VIVITROL,
        }
    }
}

/// Where a patient stands on `today`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum State {
    /// No injection yet under this kind of order: the first may be given.
    First,
    /// Too early: the next may be given from `earliest`.
    TooEarly,
    /// May be given (from the earliest day up to the end of the grace days).
    Due,
    /// Past the due day and its grace days.
    Late,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    pub state: State,
    /// The due day of the next injection (none before the first).
    pub due_on: Option<jiff::civil::Date>,
    /// The earliest day it may be given.
    pub earliest_on: Option<jiff::civil::Date>,
    /// Days past the due day (positive) or before it (negative).
    pub days_from_due: Option<i64>,
    /// Whether an injection may be given today.
    pub may_give: bool,
}

fn add(d: jiff::civil::Date, days: u32) -> jiff::civil::Date {
    d.checked_add(jiff::Span::new().days(i64::from(days)))
        .unwrap_or(d)
}

/// The schedule on `today` after the last injection given on `last`.
pub fn schedule(
    kind: Kind,
    p: &Params,
    last: Option<jiff::civil::Date>,
    today: jiff::civil::Date,
) -> Schedule {
    let Some(last) = last else {
        return Schedule {
            state: State::First,
            due_on: None,
            earliest_on: None,
            days_from_due: None,
            may_give: true,
        };
    };
    let due = add(last, kind.every_days());
    let earliest = add(last, kind.min_days(p));
    let from_due = (today - due).get_days() as i64;
    let state = if today < earliest {
        State::TooEarly
    } else if from_due > i64::from(kind.grace_days()) {
        State::Late
    } else {
        State::Due
    };
    Schedule {
        state,
        due_on: Some(due),
        earliest_on: Some(earliest),
        days_from_due: Some(from_due),
        may_give: state != State::TooEarly,
    }
}

/// What an ordered injection dose looks like against the products'
/// strengths and the label's ladder.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoseCheck {
    /// The dose is not a strength any product of this kind comes in.
    pub not_a_strength: Option<String>,
    /// The dose departs from the label's ladder (a note, not a block).
    pub ladder_note: Option<String>,
}

fn is(dose_mg: f64, set: &[f64]) -> bool {
    set.iter().any(|x| (dose_mg - x).abs() < 0.001)
}

/// Check an injection dose; `given_before` is how many injections of this
/// kind the patient had before this order.
/// - Buprenorphine XR weekly (Brixadi): 8, 16, 24, 32 mg.
/// - Buprenorphine XR monthly: Brixadi 64, 96, 128 mg; Sublocade 300 mg for
///   the first two monthly doses, then 100 mg (300 mg maintenance allowed
///   when 100 mg is not enough).
/// - Naltrexone XR (Vivitrol): 380 mg.
pub fn dose_check(kind: Kind, dose_mg: f64, given_before: u32) -> DoseCheck {
    let mut c = DoseCheck::default();
    match kind {
        Kind::BuprenorphineWeekly => {
            if !is(dose_mg, &[8.0, 16.0, 24.0, 32.0]) {
                c.not_a_strength = Some(format!(
                    "weekly buprenorphine XR comes in 8, 16, 24 and 32 mg, not {dose_mg} mg ({BRIXADI})"
                ));
            }
        }
        Kind::BuprenorphineMonthly => {
            if is(dose_mg, &[64.0, 96.0, 128.0]) {
            } else if is(dose_mg, &[100.0, 300.0]) {
                if given_before < 2 && is(dose_mg, &[100.0]) {
                    c.ladder_note = Some(format!(
                        "the label gives 300 mg for the first two monthly injections, then 100 mg; this is injection {} ({SUBLOCADE})",
                        given_before + 1
                    ));
                }
            } else {
                c.not_a_strength = Some(format!(
                    "monthly buprenorphine XR comes in 64, 96, 128 mg (Brixadi) or 100, 300 mg (Sublocade), not {dose_mg} mg"
                ));
            }
        }
        Kind::NaltrexoneMonthly => {
            if !is(dose_mg, &[380.0]) {
                c.not_a_strength = Some(format!(
                    "naltrexone XR is 380 mg every 4 weeks, not {dose_mg} mg ({VIVITROL})"
                ));
            }
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use proptest::prelude::*;

    #[test]
    fn sublocade_26_days_apart() {
        // Label: at least 26 days between doses. Given 1 March: 26 March is
        // too early, 27 March (26 days later) may be given, due 29 March.
        let p = Params::default();
        let last = Some(date(2026, 3, 1));
        let s = schedule(Kind::BuprenorphineMonthly, &p, last, date(2026, 3, 26));
        assert_eq!(s.state, State::TooEarly);
        assert!(!s.may_give);
        assert_eq!(s.earliest_on, Some(date(2026, 3, 27)));
        assert_eq!(s.due_on, Some(date(2026, 3, 29)));
        let s = schedule(Kind::BuprenorphineMonthly, &p, last, date(2026, 3, 27));
        assert_eq!(s.state, State::Due);
        assert_eq!(s.days_from_due, Some(-2));
    }

    #[test]
    fn brixadi_weekly_two_days_either_side() {
        let p = Params::default();
        let last = Some(date(2026, 5, 4));
        // Due 11 May; 9 May (2 days early) allowed, 8 May not; 13 May on
        // time, 14 May late.
        let at = |d| schedule(Kind::BuprenorphineWeekly, &p, last, d).state;
        assert_eq!(at(date(2026, 5, 8)), State::TooEarly);
        assert_eq!(at(date(2026, 5, 9)), State::Due);
        assert_eq!(at(date(2026, 5, 13)), State::Due);
        assert_eq!(at(date(2026, 5, 14)), State::Late);
    }

    #[test]
    fn vivitrol_every_four_weeks_and_late() {
        let p = Params::default();
        let s = schedule(
            Kind::NaltrexoneMonthly,
            &p,
            Some(date(2026, 1, 5)),
            date(2026, 2, 12),
        );
        assert_eq!(s.due_on, Some(date(2026, 2, 2)));
        assert_eq!(s.state, State::Late);
        assert_eq!(s.days_from_due, Some(10));
        assert!(s.may_give, "a late injection may still be given");
    }

    #[test]
    fn first_injection_may_be_given() {
        let s = schedule(
            Kind::NaltrexoneMonthly,
            &Params::default(),
            None,
            date(2026, 1, 1),
        );
        assert_eq!(s.state, State::First);
        assert!(s.may_give);
    }

    #[test]
    fn strengths_and_ladder() {
        use Kind::*;
        assert_eq!(
            dose_check(BuprenorphineMonthly, 300.0, 0),
            DoseCheck::default()
        );
        assert_eq!(
            dose_check(BuprenorphineMonthly, 300.0, 1),
            DoseCheck::default()
        );
        assert_eq!(
            dose_check(BuprenorphineMonthly, 100.0, 2),
            DoseCheck::default()
        );
        assert_eq!(
            dose_check(BuprenorphineMonthly, 300.0, 5),
            DoseCheck::default()
        );
        assert_eq!(
            dose_check(BuprenorphineMonthly, 96.0, 0),
            DoseCheck::default()
        );
        assert!(
            dose_check(BuprenorphineMonthly, 100.0, 0)
                .ladder_note
                .unwrap()
                .contains("first two")
        );
        assert!(
            dose_check(BuprenorphineMonthly, 150.0, 3)
                .not_a_strength
                .is_some()
        );
        assert!(
            dose_check(BuprenorphineWeekly, 24.0, 0)
                .not_a_strength
                .is_none()
        );
        assert!(
            dose_check(BuprenorphineWeekly, 64.0, 0)
                .not_a_strength
                .is_some()
        );
        assert!(
            dose_check(NaltrexoneMonthly, 380.0, 0)
                .not_a_strength
                .is_none()
        );
        assert!(
            dose_check(NaltrexoneMonthly, 50.0, 0)
                .not_a_strength
                .is_some()
        );
    }

    proptest! {
        /// Never may two injections be closer than the minimum, and the
        /// state moves forward with the days: too early, due, late.
        #[test]
        fn never_closer_than_the_minimum(
            k in prop_oneof![Just(Kind::BuprenorphineMonthly), Just(Kind::BuprenorphineWeekly), Just(Kind::NaltrexoneMonthly)],
            start in 0i64..3000,
            gap in 0i64..80,
        ) {
            let p = Params::default();
            let last = date(2020, 1, 1).checked_add(jiff::Span::new().days(start)).unwrap();
            let today = last.checked_add(jiff::Span::new().days(gap)).unwrap();
            let s = schedule(k, &p, Some(last), today);
            prop_assert_eq!(s.may_give, gap >= i64::from(k.min_days(&p)));
            let rank = |st: State| match st { State::First => 0, State::TooEarly => 1, State::Due => 2, State::Late => 3 };
            let next = schedule(k, &p, Some(last), today.checked_add(jiff::Span::new().days(1)).unwrap());
            prop_assert!(rank(next.state) >= rank(s.state));
            prop_assert_eq!(s.days_from_due, Some(gap - i64::from(k.every_days())));
        }
    }
}
