//! A patient's self-report from the portal: withdrawal on the SOWS
//! (optional), craving now on a 0–10 numeric rating scale, and mood on a
//! five-point scale (1 very bad … 5 very good). Decides which answers reach
//! staff at once.
//!
//! Sources:
//! - SOWS: Handelsman et al. 1987 (see [`crate::sows`]). The paper
//!   publishes no severity bands; the bands in common clinical use (mild
//!   1–10, moderate 11–20, severe ≥ 21) give the default alert point, which
//!   each program may change.
//! - Craving: a single 0–10 rating of craving now, the usual clinical
//!   measure (Tiffany & Wray, "The clinical significance of drug craving",
//!   Ann N Y Acad Sci 2012;1248:1–17); no cut-off is published, so the alert
//!   point (default 8, "strong") is the program's.
//! - Mood: a single-item five-point self-rating; "very bad" alerts by
//!   default. It is not a depression or suicide screen (PHQ-9 and the
//!   suicide-risk follow-up live in [`crate::screens`], given by staff);
//!   the portal shows crisis lines on every page whatever the answer.
//!
//! An alert never blocks anything the patient does; it puts the report on
//! the worklist of the staff caring for them until someone acknowledges it.

use crate::{InputError, Result};
use serde::{Deserialize, Serialize};

/// When a report alerts staff (program data; see the module sources).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Thresholds {
    /// SOWS total at or above which a report alerts (1–64).
    pub sows_from: u8,
    /// Craving at or above which a report alerts (1–10).
    pub craving_from: u8,
    /// Mood at or below which a report alerts (0 = never; 1–5).
    pub mood_at_most: u8,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            sows_from: 21,
            craving_from: 8,
            mood_at_most: 1,
        }
    }
}

impl Thresholds {
    pub fn check(&self) -> Result<()> {
        if !(1..=64).contains(&self.sows_from) {
            return Err(InputError::new("sows_alert_from", "must be 1 to 64"));
        }
        if !(1..=10).contains(&self.craving_from) {
            return Err(InputError::new("craving_alert_from", "must be 1 to 10"));
        }
        if self.mood_at_most > 5 {
            return Err(InputError::new(
                "mood_alert_at_most",
                "must be 0 (never) to 5",
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// The 16 SOWS answers (0–4) in the published order, or none.
    pub sows: Option<Vec<u8>>,
    pub craving: u8,
    pub mood: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Output {
    pub sows_total: Option<u8>,
    /// Why staff are told, in words ("" when they are not).
    pub alerts: Vec<String>,
}

/// Check and read a self-report against the program's thresholds.
pub fn assess(i: &Input, t: &Thresholds) -> Result<Output> {
    t.check()?;
    if i.craving > 10 {
        return Err(InputError::new("craving", "must be 0 to 10"));
    }
    if !(1..=5).contains(&i.mood) {
        return Err(InputError::new("mood", "choose one of the five answers"));
    }
    let sows_total = match &i.sows {
        None => None,
        Some(items) => {
            let out = crate::sows::score(&crate::sows::Input {
                items: items.iter().map(|x| serde_json::Value::from(*x)).collect(),
                bands: vec![],
            })?;
            Some(out.total)
        }
    };
    let mut alerts = vec![];
    if let Some(total) = sows_total.filter(|x| *x >= t.sows_from) {
        alerts.push(format!(
            "withdrawal SOWS {total} (alert from {})",
            t.sows_from
        ));
    }
    if i.craving >= t.craving_from {
        alerts.push(format!("craving {}/10", i.craving));
    }
    if i.mood <= t.mood_at_most {
        alerts.push(format!("mood {}", mood_word(i.mood)));
    }
    Ok(Output { sows_total, alerts })
}

/// The mood answer in words.
pub fn mood_word(m: u8) -> &'static str {
    match m {
        1 => "very bad",
        2 => "bad",
        3 => "okay",
        4 => "good",
        _ => "very good",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn input(sows: Option<Vec<u8>>, craving: u8, mood: u8) -> Input {
        Input {
            sows,
            craving,
            mood,
        }
    }

    #[test]
    fn a_calm_day_alerts_nobody() {
        let out = assess(&input(Some(vec![1; 16]), 3, 4), &Thresholds::default()).unwrap();
        assert_eq!(out.sows_total, Some(16));
        assert!(out.alerts.is_empty());
    }

    #[test]
    fn severe_withdrawal_strong_craving_and_a_very_bad_mood_each_alert() {
        let t = Thresholds::default();
        // 21 = the start of the "severe" clinical band.
        let mut items = vec![1u8; 16];
        items[0] = 4;
        items[1] = 3;
        let out = assess(&input(Some(items), 0, 3), &t).unwrap();
        assert_eq!(out.sows_total, Some(21));
        assert_eq!(out.alerts.len(), 1);
        assert!(out.alerts[0].starts_with("withdrawal SOWS 21"));
        let out = assess(&input(None, 8, 3), &t).unwrap();
        assert_eq!(out.alerts, vec!["craving 8/10".to_string()]);
        let out = assess(&input(None, 0, 1), &t).unwrap();
        assert_eq!(out.alerts, vec!["mood very bad".to_string()]);
    }

    #[test]
    fn the_program_sets_the_alert_points() {
        let t = Thresholds {
            sows_from: 30,
            craving_from: 10,
            mood_at_most: 0,
        };
        let out = assess(&input(Some(vec![1; 16]), 9, 1), &t).unwrap();
        assert!(out.alerts.is_empty());
        let bad = Thresholds { sows_from: 0, ..t };
        assert_eq!(
            assess(&input(None, 0, 3), &bad).unwrap_err().field,
            "sows_alert_from"
        );
    }

    #[test]
    fn bad_answers_name_their_field() {
        let t = Thresholds::default();
        assert_eq!(
            assess(&input(None, 11, 3), &t).unwrap_err().field,
            "craving"
        );
        assert_eq!(assess(&input(None, 0, 0), &t).unwrap_err().field, "mood");
        assert_eq!(
            assess(&input(Some(vec![1; 15]), 0, 3), &t)
                .unwrap_err()
                .field,
            "items"
        );
        assert_eq!(
            assess(&input(Some(vec![5; 16]), 0, 3), &t)
                .unwrap_err()
                .field,
            "items[0]"
        );
    }

    proptest! {
        /// Feeling worse never removes an alert: a higher craving, a lower
        /// mood or a higher answer on any SOWS item alerts at least as much.
        #[test]
        fn worse_never_alerts_less(
            items in proptest::collection::vec(0u8..=4, 16),
            which in 0usize..16,
            craving in 0u8..=9,
            mood in 2u8..=5,
            sf in 1u8..=64, cf in 1u8..=10, mf in 0u8..=5,
        ) {
            let t = Thresholds { sows_from: sf, craving_from: cf, mood_at_most: mf };
            let base = assess(&input(Some(items.clone()), craving, mood), &t).unwrap();
            let mut worse_items = items.clone();
            worse_items[which] = (worse_items[which] + 1).min(4);
            for worse in [
                input(Some(worse_items), craving, mood),
                input(Some(items.clone()), craving + 1, mood),
                input(Some(items.clone()), craving, mood - 1),
            ] {
                let w = assess(&worse, &t).unwrap();
                prop_assert!(w.alerts.len() >= base.alerts.len());
            }
        }
    }
}
