//! Co-occurring condition screens at intake: PHQ-9 (depression) and GAD-7
//! (anxiety), and the suicide-risk follow-up rule.
//!
//! PHQ-9: Kroenke K, Spitzer RL, Williams JBW. The PHQ-9: validity of a brief
//! depression severity measure. J Gen Intern Med 2001;16(9):606-613. Nine items
//! scored 0–3; total 0–27; severity cut points 5, 10, 15, 20 (minimal, mild,
//! moderate, moderately severe, severe). LOINC 44261-6 (total score).
//! Item 9 ("thoughts that you would be better off dead, or of hurting yourself")
//! is a suicide-risk question: any answer above 0 needs a clinician's
//! follow-up assessment the same day (Kroenke 2001; PHQ instruction manual).
//!
//! GAD-7: Spitzer RL, Kroenke K, Williams JBW, Löwe B. A brief measure for
//! assessing generalized anxiety disorder: the GAD-7. Arch Intern Med
//! 2006;166(10):1092-1097. Seven items 0–3; total 0–21; cut points 5, 10, 15
//! (minimal, mild, moderate, severe). LOINC 70274-6 (total score).

use crate::{InputError, Result};
use serde::{Deserialize, Serialize};

pub const PHQ9_CITATION: &str =
    "Kroenke, Spitzer & Williams, J Gen Intern Med 2001;16(9):606-613 (PHQ-9)";
pub const GAD7_CITATION: &str =
    "Spitzer, Kroenke, Williams & Löwe, Arch Intern Med 2006;166(10):1092-1097 (GAD-7)";

/// The nine PHQ-9 questions ("Over the last 2 weeks, how often have you been bothered by…").
pub const PHQ9_ITEMS: [&str; 9] = [
    "Little interest or pleasure in doing things",
    "Feeling down, depressed, or hopeless",
    "Trouble falling or staying asleep, or sleeping too much",
    "Feeling tired or having little energy",
    "Poor appetite or overeating",
    "Feeling bad about yourself, or that you are a failure or have let yourself or your family down",
    "Trouble concentrating on things, such as reading the newspaper or watching television",
    "Moving or speaking so slowly that other people could have noticed, or the opposite: being so fidgety or restless that you have been moving around a lot more than usual",
    "Thoughts that you would be better off dead, or of hurting yourself in some way",
];

/// The seven GAD-7 questions.
pub const GAD7_ITEMS: [&str; 7] = [
    "Feeling nervous, anxious, or on edge",
    "Not being able to stop or control worrying",
    "Worrying too much about different things",
    "Trouble relaxing",
    "Being so restless that it is hard to sit still",
    "Becoming easily annoyed or irritable",
    "Feeling afraid as if something awful might happen",
];

/// Answer labels shared by both screens.
pub const ANSWERS: [&str; 4] = [
    "Not at all",
    "Several days",
    "More than half the days",
    "Nearly every day",
];

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ScreenResult {
    pub total: u8,
    pub severity: String,
    pub loinc: String,
    /// PHQ-9 only: item 9 answered above 0.
    pub suicide_item_positive: bool,
    pub citation: String,
}

fn check_items(field: &str, items: &[u8], n: usize) -> Result<u8> {
    if items.len() != n {
        return Err(InputError::new(
            field,
            format!("expected {n} answers, got {}", items.len()),
        ));
    }
    for (i, v) in items.iter().enumerate() {
        if *v > 3 {
            return Err(InputError::new(
                format!("{field}[{i}]"),
                "must be 0 (not at all) to 3 (nearly every day)",
            ));
        }
    }
    Ok(items.iter().sum())
}

/// PHQ-9 severity of a total (Kroenke 2001, table 3 cut points).
pub fn phq9_severity(total: u8) -> &'static str {
    match total {
        0..=4 => "minimal",
        5..=9 => "mild",
        10..=14 => "moderate",
        15..=19 => "moderately severe",
        _ => "severe",
    }
}

/// GAD-7 severity of a total (Spitzer 2006 cut points 5/10/15).
pub fn gad7_severity(total: u8) -> &'static str {
    match total {
        0..=4 => "minimal",
        5..=9 => "mild",
        10..=14 => "moderate",
        _ => "severe",
    }
}

pub fn phq9(items: &[u8]) -> Result<ScreenResult> {
    let total = check_items("phq9", items, 9)?;
    Ok(ScreenResult {
        total,
        severity: phq9_severity(total).into(),
        loinc: "44261-6".into(),
        suicide_item_positive: items[8] > 0,
        citation: PHQ9_CITATION.into(),
    })
}

pub fn gad7(items: &[u8]) -> Result<ScreenResult> {
    let total = check_items("gad7", items, 7)?;
    Ok(ScreenResult {
        total,
        severity: gad7_severity(total).into(),
        loinc: "70274-6".into(),
        suicide_item_positive: false,
        citation: GAD7_CITATION.into(),
    })
}

/// The documented follow-up a positive suicide-risk answer requires.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct SuicideFollowUp {
    /// Risk judged by the clinician after asking further: low, moderate, high.
    #[serde(default)]
    pub risk: String,
    /// What was done: safety plan, 988 information, same-day psychiatric evaluation…
    #[serde(default)]
    pub action: String,
}

/// A positive suicide-risk question (PHQ-9 item 9 above 0, or the intake's own
/// question answered yes) must carry a follow-up with a risk level and the
/// action taken (Joint Commission NPSG 15.01.01 EP 2–6: screen, assess, document
/// mitigation). Returns the error naming the missing field.
pub fn require_suicide_follow_up(positive: bool, f: &SuicideFollowUp) -> Result<()> {
    if !positive {
        return Ok(());
    }
    if !matches!(f.risk.as_str(), "low" | "moderate" | "high") {
        return Err(InputError::new(
            "suicide_followup.risk",
            "the suicide-risk answer is positive: record the risk after further assessment (low, moderate or high)",
        ));
    }
    if f.action.trim().chars().count() < 5 {
        return Err(InputError::new(
            "suicide_followup.action",
            "the suicide-risk answer is positive: record what was done (safety plan, 988, evaluation…)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn published_cut_points() {
        // Kroenke 2001: 5, 10, 15, 20 are the lower bounds of mild..severe.
        assert_eq!(phq9_severity(4), "minimal");
        assert_eq!(phq9_severity(5), "mild");
        assert_eq!(phq9_severity(10), "moderate");
        assert_eq!(phq9_severity(15), "moderately severe");
        assert_eq!(phq9_severity(20), "severe");
        assert_eq!(phq9_severity(27), "severe");
        // Spitzer 2006: 5, 10, 15.
        assert_eq!(gad7_severity(4), "minimal");
        assert_eq!(gad7_severity(5), "mild");
        assert_eq!(gad7_severity(10), "moderate");
        assert_eq!(gad7_severity(15), "severe");
        assert_eq!(gad7_severity(21), "severe");
    }

    #[test]
    fn item_nine_triggers_follow_up() {
        let r = phq9(&[0, 0, 0, 0, 0, 0, 0, 0, 1]).unwrap();
        assert!(r.suicide_item_positive);
        assert_eq!(r.total, 1);
        let e = require_suicide_follow_up(true, &SuicideFollowUp::default()).unwrap_err();
        assert_eq!(e.field, "suicide_followup.risk");
        let e = require_suicide_follow_up(
            true,
            &SuicideFollowUp {
                risk: "low".into(),
                action: "".into(),
            },
        )
        .unwrap_err();
        assert_eq!(e.field, "suicide_followup.action");
        require_suicide_follow_up(
            true,
            &SuicideFollowUp {
                risk: "low".into(),
                action: "safety plan written; 988 card given".into(),
            },
        )
        .unwrap();
        require_suicide_follow_up(false, &SuicideFollowUp::default()).unwrap();
    }

    #[test]
    fn bad_answers_name_the_item() {
        assert_eq!(phq9(&[0; 8]).unwrap_err().field, "phq9");
        assert_eq!(gad7(&[0, 0, 4, 0, 0, 0, 0]).unwrap_err().field, "gad7[2]");
    }

    proptest! {
        #[test]
        fn totals_are_sums_and_severity_is_monotone(items in proptest::collection::vec(0u8..=3, 9)) {
            let r = phq9(&items).unwrap();
            prop_assert_eq!(r.total as u32, items.iter().map(|v| *v as u32).sum::<u32>());
            prop_assert!(r.total <= 27);
            let g = gad7(&items[..7]).unwrap();
            prop_assert!(g.total <= 21);
            for t in 0..27u8 {
                let rank = |s: &str| ["minimal","mild","moderate","moderately severe","severe"].iter().position(|x| *x == s).unwrap();
                prop_assert!(rank(phq9_severity(t)) <= rank(phq9_severity(t + 1)));
            }
        }
    }
}
