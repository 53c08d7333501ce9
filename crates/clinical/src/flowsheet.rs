//! Withdrawal-management flowsheet rules: when the next COWS is due, vital-sign
//! ranges, and the late-entry flag for documentation.
//!
//! Check frequency: SAMHSA TIP 45 (2015 rev.), ch. 3 — serial withdrawal scales
//! at regular intervals, more often as severity rises. Carepath's default
//! protocol: every 4 hours, hourly once the score reaches the moderately severe
//! band (COWS ≥ 25, Wesson & Ling 2003). Both are program parameters.
//! Late entries: CMS Medicare Program Integrity Manual (Pub. 100-08) ch. 3
//! § 3.3.2.5 — a delayed entry must be identified as such, with the date it
//! was written; Carepath flags entries written more than `late_after_h` hours
//! after the time they describe.

use crate::{InputError, Result};
use serde::{Deserialize, Serialize};

pub const CITATION: &str =
    "SAMHSA TIP 45 ch. 3 (serial withdrawal scales); Wesson & Ling 2003 (COWS bands)";

/// A program's COWS check protocol.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Protocol {
    pub every_h: u32,
    pub severe_every_h: u32,
    /// Score at or above which the shorter interval applies.
    pub severe_from: u8,
}

impl Default for Protocol {
    fn default() -> Self {
        Protocol {
            every_h: 4,
            severe_every_h: 1,
            severe_from: 25,
        }
    }
}

const HOUR_US: i64 = 3_600_000_000;

/// When the next COWS is due after a check scoring `score` at `at_us`.
pub fn next_due(p: &Protocol, at_us: i64, score: u8) -> i64 {
    let h = if score >= p.severe_from {
        p.severe_every_h
    } else {
        p.every_h
    };
    at_us + h as i64 * HOUR_US
}

/// Vital signs at the bedside. All optional; each checked when given.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Vitals {
    #[serde(default)]
    pub sbp: Option<u32>,
    #[serde(default)]
    pub dbp: Option<u32>,
    #[serde(default)]
    pub hr: Option<u32>,
    /// Degrees Celsius.
    #[serde(default)]
    pub temp_c: Option<f64>,
    #[serde(default)]
    pub spo2: Option<u32>,
    #[serde(default)]
    pub rr: Option<u32>,
}

/// Reject physiologically impossible values (typing errors), naming the field.
pub fn check_vitals(v: &Vitals) -> Result<()> {
    fn range(field: &str, v: Option<f64>, lo: f64, hi: f64) -> Result<()> {
        match v {
            Some(x) if !(lo..=hi).contains(&x) => Err(InputError::new(
                field,
                format!("{x} is outside {lo}–{hi}; check the reading"),
            )),
            _ => Ok(()),
        }
    }
    range("vitals.sbp", v.sbp.map(f64::from), 50.0, 260.0)?;
    range("vitals.dbp", v.dbp.map(f64::from), 20.0, 160.0)?;
    range("vitals.hr", v.hr.map(f64::from), 20.0, 250.0)?;
    range("vitals.temp_c", v.temp_c, 30.0, 44.0)?;
    range("vitals.spo2", v.spo2.map(f64::from), 50.0, 100.0)?;
    range("vitals.rr", v.rr.map(f64::from), 4.0, 60.0)?;
    if let (Some(s), Some(d)) = (v.sbp, v.dbp)
        && d >= s
    {
        return Err(InputError::new(
            "vitals.dbp",
            "must be below the systolic pressure",
        ));
    }
    Ok(())
}

pub const DANGER_CITATION: &str = "NEWS2 (Royal College of Physicians, 2017): a single parameter in the red band calls for urgent clinical review; COWS > 36 severe withdrawal (Wesson & Ling 2003)";

/// Readings that must reach the prescriber now: any single vital sign in
/// NEWS2's red band (3 points: RR ≤ 8 or ≥ 25; SpO2 ≤ 91 %; systolic ≤ 90
/// or ≥ 220; pulse ≤ 40 or ≥ 131; temperature ≤ 35.0 °C), a temperature
/// of 39.1 °C or more (NEWS2's highest fever band), and severe withdrawal
/// (COWS above 36, Wesson & Ling 2003). Each reason names the reading and
/// the limit; empty when nothing is dangerous. (NEWS2 scores air-breathing
/// adults on scale 1; the limits are those of its published chart.)
pub fn danger(v: &Vitals, cows_total: Option<u8>) -> Vec<String> {
    let mut out = vec![];
    if let Some(c) = cows_total
        && c > 36
    {
        out.push(format!("COWS {c}: severe withdrawal (above 36)"));
    }
    if let Some(x) = v.spo2
        && x <= 91
    {
        out.push(format!("SpO2 {x}% (91% or less)"));
    }
    if let Some(x) = v.rr {
        if x <= 8 {
            out.push(format!("respiratory rate {x} (8 or less)"));
        } else if x >= 25 {
            out.push(format!("respiratory rate {x} (25 or more)"));
        }
    }
    if let Some(x) = v.sbp {
        if x <= 90 {
            out.push(format!("systolic BP {x} (90 or less)"));
        } else if x >= 220 {
            out.push(format!("systolic BP {x} (220 or more)"));
        }
    }
    if let Some(x) = v.hr {
        if x <= 40 {
            out.push(format!("heart rate {x} (40 or less)"));
        } else if x >= 131 {
            out.push(format!("heart rate {x} (131 or more)"));
        }
    }
    if let Some(t) = v.temp_c {
        if t <= 35.0 {
            out.push(format!("temperature {t:.1} °C (35.0 or less)"));
        } else if t >= 39.1 {
            out.push(format!("temperature {t:.1} °C (39.1 or more)"));
        }
    }
    out
}

/// Whether an entry written at `recorded_us` about `occurred_us` is a late entry.
pub fn is_late_entry(occurred_us: i64, recorded_us: i64, late_after_h: u32) -> bool {
    recorded_us - occurred_us > late_after_h as i64 * HOUR_US
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_issue_example_is_dangerous_on_every_count() {
        // COWS 48 with SpO2 89%, BP 88/50, T 38.6 °C (issue 12, item 10).
        let v = Vitals {
            sbp: Some(88),
            dbp: Some(50),
            temp_c: Some(38.6),
            spo2: Some(89),
            ..Default::default()
        };
        let d = danger(&v, Some(48));
        assert_eq!(d.len(), 3, "{d:?}");
        assert!(d[0].starts_with("COWS 48"));
        assert!(d.iter().any(|x| x.starts_with("SpO2 89%")));
        assert!(d.iter().any(|x| x.starts_with("systolic BP 88")));
    }

    #[test]
    fn the_red_band_edges() {
        let at = |v: Vitals| danger(&v, None).len();
        assert_eq!(
            at(Vitals {
                spo2: Some(92),
                ..Default::default()
            }),
            0
        );
        assert_eq!(
            at(Vitals {
                spo2: Some(91),
                ..Default::default()
            }),
            1
        );
        assert_eq!(
            at(Vitals {
                rr: Some(9),
                ..Default::default()
            }),
            0
        );
        assert_eq!(
            at(Vitals {
                rr: Some(8),
                ..Default::default()
            }),
            1
        );
        assert_eq!(
            at(Vitals {
                rr: Some(24),
                ..Default::default()
            }),
            0
        );
        assert_eq!(
            at(Vitals {
                rr: Some(25),
                ..Default::default()
            }),
            1
        );
        assert_eq!(
            at(Vitals {
                sbp: Some(91),
                ..Default::default()
            }),
            0
        );
        assert_eq!(
            at(Vitals {
                sbp: Some(220),
                ..Default::default()
            }),
            1
        );
        assert_eq!(
            at(Vitals {
                hr: Some(41),
                ..Default::default()
            }),
            0
        );
        assert_eq!(
            at(Vitals {
                hr: Some(131),
                ..Default::default()
            }),
            1
        );
        assert_eq!(
            at(Vitals {
                temp_c: Some(35.1),
                ..Default::default()
            }),
            0
        );
        assert_eq!(
            at(Vitals {
                temp_c: Some(39.1),
                ..Default::default()
            }),
            1
        );
        assert!(danger(&Vitals::default(), Some(36)).is_empty());
    }

    proptest::proptest! {
        /// Normal adult readings are never dangerous.
        #[test]
        fn normal_readings_are_quiet(
            sbp in 100u32..200, hr in 51u32..120, rr in 12u32..21,
            spo2 in 96u32..101, t in 36.0f64..38.0, cows in 0u8..37,
        ) {
            let v = Vitals { sbp: Some(sbp), dbp: Some(60), hr: Some(hr), temp_c: Some(t), spo2: Some(spo2), rr: Some(rr) };
            proptest::prop_assert!(danger(&v, Some(cows)).is_empty());
        }
    }

    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hourly_when_moderately_severe() {
        let p = Protocol::default();
        assert_eq!(next_due(&p, 0, 12), 4 * HOUR_US);
        assert_eq!(next_due(&p, 0, 24), 4 * HOUR_US);
        assert_eq!(next_due(&p, 0, 25), HOUR_US);
    }

    #[test]
    fn vitals_are_range_checked() {
        check_vitals(&Vitals {
            sbp: Some(128),
            dbp: Some(82),
            hr: Some(96),
            temp_c: Some(37.2),
            spo2: Some(98),
            rr: Some(16),
        })
        .unwrap();
        let e = check_vitals(&Vitals {
            hr: Some(900),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(e.field, "vitals.hr");
        let e = check_vitals(&Vitals {
            sbp: Some(80),
            dbp: Some(90),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(e.field, "vitals.dbp");
    }

    #[test]
    fn late_entries() {
        assert!(!is_late_entry(0, 24 * HOUR_US, 24));
        assert!(is_late_entry(0, 24 * HOUR_US + 1, 24));
    }

    proptest! {
        #[test]
        fn higher_scores_are_never_checked_later(a in 0u8..=48, b in 0u8..=48, at in 0i64..1_000_000_000_000) {
            let p = Protocol::default();
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            prop_assert!(next_due(&p, at, hi) <= next_due(&p, at, lo));
            prop_assert!(next_due(&p, at, hi) > at);
        }
    }
}
