//! Discharge rules: when overdose education and a naloxone kit are required,
//! and the follow-up contact schedule after discharge.
//!
//! Loss of tolerance: Strang J et al., BMJ 2003;326:959-960 — all overdose
//! deaths within four months of inpatient detoxification occurred among those
//! who completed it and had lost tolerance. SAMHSA Opioid Overdose Prevention
//! Toolkit (2018): offer naloxone and overdose education to people leaving
//! treatment. The software cue (DOMAIN-clinical §8): flag patients completing a
//! taper or withdrawal, or leaving residential care, for naloxone and education.

use crate::{InputError, Result};
use serde::{Deserialize, Serialize};

pub const NALOXONE_CITATION: &str = "Strang et al., BMJ 2003;326:959 (loss of tolerance after detoxification); SAMHSA Opioid Overdose Prevention Toolkit (2018)";

/// What the discharge rule needs to know.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Situation {
    /// The level of care being left (program kind, e.g. `withdrawal_management`).
    pub level_of_care: String,
    /// TEDS REASON code (1 completed … 7 other).
    pub reason: u8,
    /// A taper off methadone or buprenorphine was completed.
    #[serde(default)]
    pub taper_completed: bool,
    /// Continues on methadone or buprenorphine after discharge (tolerance kept).
    #[serde(default)]
    pub continuing_agonist: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NaloxoneRule {
    pub required: bool,
    pub why: String,
    pub citation: String,
}

/// Whether overdose-risk education and a naloxone kit must be documented.
pub fn naloxone_required(s: &Situation) -> NaloxoneRule {
    let lost_tolerance_by_withdrawal = s.level_of_care == "withdrawal_management" && s.reason == 1;
    let leaving_residential = matches!(
        s.level_of_care.as_str(),
        "residential" | "withdrawal_management"
    );
    let (required, why) = if s.reason == 6 {
        (false, "the patient died".to_string())
    } else if s.taper_completed {
        (
            true,
            "a taper was completed: tolerance falls within days".to_string(),
        )
    } else if lost_tolerance_by_withdrawal {
        (
            true,
            "withdrawal management completed: tolerance is lost".to_string(),
        )
    } else if leaving_residential && !s.continuing_agonist {
        (
            true,
            "leaving residential care without agonist medication: tolerance is low".to_string(),
        )
    } else {
        (
            false,
            "recommended for everyone with opioid use disorder; not mandatory here".to_string(),
        )
    };
    NaloxoneRule {
        required,
        why,
        citation: NALOXONE_CITATION.into(),
    }
}

/// Follow-up contact schedule: `count` contacts every `every_days` days from
/// the discharge day (default weekly for 12 weeks). Returns day offsets.
pub fn follow_up_offsets(every_days: u32, count: u32) -> Result<Vec<u32>> {
    if !(1..=90).contains(&every_days) {
        return Err(InputError::new("followup_every_days", "must be 1 to 90"));
    }
    if count > 52 {
        return Err(InputError::new("followup_count", "must be 0 to 52"));
    }
    Ok((1..=count).map(|k| k * every_days).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn s(level: &str, reason: u8) -> Situation {
        Situation {
            level_of_care: level.into(),
            reason,
            taper_completed: false,
            continuing_agonist: false,
        }
    }

    #[test]
    fn completed_detox_requires_naloxone() {
        assert!(naloxone_required(&s("withdrawal_management", 1)).required);
        assert!(naloxone_required(&s("residential", 2)).required);
        let mut otp = s("opioid_treatment_program", 2);
        assert!(!naloxone_required(&otp).required);
        otp.taper_completed = true;
        assert!(naloxone_required(&otp).required);
        let mut res = s("residential", 1);
        res.continuing_agonist = true;
        assert!(!naloxone_required(&res).required);
        assert!(!naloxone_required(&s("withdrawal_management", 6)).required);
    }

    #[test]
    fn default_schedule_is_weekly_for_twelve_weeks() {
        let o = follow_up_offsets(7, 12).unwrap();
        assert_eq!(o.len(), 12);
        assert_eq!(o[0], 7);
        assert_eq!(o[11], 84);
        assert_eq!(
            follow_up_offsets(0, 3).unwrap_err().field,
            "followup_every_days"
        );
    }

    proptest! {
        #[test]
        fn taper_completion_always_requires(level in "[a-z_]{3,20}", reason in 1u8..=5) {
            let mut x = s(&level, reason);
            x.taper_completed = true;
            prop_assert!(naloxone_required(&x).required);
        }

        #[test]
        fn offsets_are_increasing(every in 1u32..=90, count in 0u32..=52) {
            let o = follow_up_offsets(every, count).unwrap();
            prop_assert_eq!(o.len() as u32, count);
            prop_assert!(o.windows(2).all(|w| w[1] - w[0] == every));
        }
    }
}
