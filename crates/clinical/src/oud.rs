//! Opioid use disorder: DSM-5(-TR) criteria count, severity, specifiers and the
//! ICD-10-CM code that follows.
//!
//! Sources: APA DSM-5-TR (2022) opioid use disorder criteria A1–A11, severity
//! (2–3 mild, 4–5 moderate, ≥6 severe), the footnote that tolerance (A10) and
//! withdrawal (A11) are not counted for opioids taken solely under appropriate
//! medical supervision, remission and "on maintenance therapy" / "in a
//! controlled environment" specifiers, and the DSM-5-TR coding note (severity
//! carried in the code of a co-occurring withdrawal or intoxication); ICD-10-CM
//! F11 code titles (CDC Opioid CDS value set `opioid-misuse-disorders`).

use crate::{InputError, Result};
use serde::{Deserialize, Serialize};

pub const CITATION: &str =
    "DSM-5-TR (APA 2022), opioid use disorder criteria, specifiers and coding note; ICD-10-CM F11";

pub const CRITERIA: [(&str, &str); 11] = [
    ("A1", "uses more, or for longer, than intended"),
    ("A2", "persistent wish or failed efforts to cut down"),
    ("A3", "much time spent obtaining, using or recovering"),
    ("A4", "craving"),
    ("A5", "failure to fulfil major roles"),
    (
        "A6",
        "continued use despite social or interpersonal problems",
    ),
    ("A7", "important activities given up or reduced"),
    ("A8", "recurrent use in physically hazardous situations"),
    (
        "A9",
        "continued use despite known physical or psychological harm",
    ),
    ("A10", "tolerance"),
    ("A11", "withdrawal"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    None,
    Mild,
    Moderate,
    Severe,
}

/// Severity from the number of criteria counted.
pub fn severity(count: usize) -> Severity {
    match count {
        0 | 1 => Severity::None,
        2 | 3 => Severity::Mild,
        4 | 5 => Severity::Moderate,
        _ => Severity::Severe,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Remission {
    #[default]
    None,
    /// No criteria (except craving) for ≥3 and <12 months.
    Early,
    /// No criteria (except craving) for ≥12 months.
    Sustained,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Intoxication {
    #[default]
    None,
    Uncomplicated,
    Delirium,
    PerceptualDisturbance,
    Unspecified,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    /// Criteria met in the past 12 months (or, in remission, currently): "A1".."A11".
    pub criteria: Vec<String>,
    /// Opioids taken solely under appropriate medical supervision: A10 and A11 are not counted.
    #[serde(default)]
    pub medically_supervised: bool,
    #[serde(default)]
    pub remission: Remission,
    /// For remission: the severity when criteria were last fully met.
    #[serde(default)]
    pub prior_severity: Option<Severity>,
    #[serde(default)]
    pub on_maintenance_therapy: bool,
    #[serde(default)]
    pub controlled_environment: bool,
    /// Opioid withdrawal is present now.
    #[serde(default)]
    pub withdrawal_present: bool,
    #[serde(default)]
    pub intoxication: Intoxication,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Code {
    pub code: String,
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Output {
    pub count: usize,
    pub counted: Vec<String>,
    /// Criteria given but not counted (A10/A11 under medical supervision).
    pub excluded: Vec<String>,
    pub severity: Severity,
    /// The principal ICD-10-CM code (null when no disorder is coded).
    pub icd10cm: Option<String>,
    pub icd10cm_title: Option<String>,
    /// Every code to record (withdrawal and intoxication together give two).
    pub codes: Vec<Code>,
    pub specifiers: Vec<String>,
    pub notes: Vec<String>,
    pub citation: String,
}

fn title(code: &str) -> &'static str {
    match code {
        "F11.10" => "Opioid abuse, uncomplicated",
        "F11.11" => "Opioid abuse, in remission",
        "F11.120" => "Opioid abuse with intoxication, uncomplicated",
        "F11.121" => "Opioid abuse with intoxication delirium",
        "F11.122" => "Opioid abuse with intoxication with perceptual disturbance",
        "F11.129" => "Opioid abuse with intoxication, unspecified",
        "F11.13" => "Opioid abuse with withdrawal",
        "F11.20" => "Opioid dependence, uncomplicated",
        "F11.21" => "Opioid dependence, in remission",
        "F11.220" => "Opioid dependence with intoxication, uncomplicated",
        "F11.221" => "Opioid dependence with intoxication delirium",
        "F11.222" => "Opioid dependence with intoxication with perceptual disturbance",
        "F11.229" => "Opioid dependence with intoxication, unspecified",
        "F11.23" => "Opioid dependence with withdrawal",
        "F11.920" => "Opioid use, unspecified with intoxication, uncomplicated",
        "F11.921" => "Opioid use, unspecified with intoxication delirium",
        "F11.922" => "Opioid use, unspecified with intoxication with perceptual disturbance",
        "F11.929" => "Opioid use, unspecified with intoxication, unspecified",
        "F11.93" => "Opioid use, unspecified with withdrawal",
        _ => "",
    }
}

fn code(c: &str) -> Code {
    Code {
        code: c.into(),
        title: title(c).into(),
    }
}

pub fn diagnose(input: &Input) -> Result<Output> {
    let mut seen = std::collections::BTreeSet::new();
    for (i, c) in input.criteria.iter().enumerate() {
        let c = c.trim().to_uppercase();
        if !CRITERIA.iter().any(|(id, _)| *id == c) {
            return Err(InputError::new(
                format!("criteria[{i}]"),
                format!("unknown criterion {c:?}; expected A1 … A11"),
            ));
        }
        if !seen.insert(c.clone()) {
            return Err(InputError::new(
                format!("criteria[{i}]"),
                format!("{c} is listed twice"),
            ));
        }
    }
    let order = |c: &String| CRITERIA.iter().position(|(id, _)| id == c).unwrap_or(99);
    let mut all: Vec<String> = seen.into_iter().collect();
    all.sort_by_key(order);
    let (excluded, counted): (Vec<String>, Vec<String>) = all
        .into_iter()
        .partition(|c| input.medically_supervised && (c == "A10" || c == "A11"));
    let count = counted.len();
    let current = severity(count);
    let mut notes = vec![];
    if !excluded.is_empty() {
        notes.push("Tolerance and withdrawal are not counted: opioids are taken under medical supervision.".to_string());
    }
    let mut specifiers = vec![];
    // The severity carried by the codes: the current one, or in remission the prior one.
    let coded = match input.remission {
        Remission::None => current,
        r => {
            if counted.iter().any(|c| c != "A4") {
                return Err(InputError::new(
                    "remission",
                    "remission requires that no criterion except craving (A4) is met now",
                ));
            }
            let prior = input
                .prior_severity
                .filter(|s| *s != Severity::None)
                .ok_or_else(|| {
                    InputError::new(
                        "prior_severity",
                        "give the severity when criteria were last met (mild, moderate or severe)",
                    )
                })?;
            specifiers.push(
                if r == Remission::Early {
                    "in early remission"
                } else {
                    "in sustained remission"
                }
                .to_string(),
            );
            prior
        }
    };
    if input.on_maintenance_therapy {
        specifiers.push("on maintenance therapy".into());
    }
    if input.controlled_environment {
        specifiers.push("in a controlled environment".into());
    }
    let in_remission = input.remission != Remission::None;
    let intox_digit = match input.intoxication {
        Intoxication::None => None,
        Intoxication::Uncomplicated => Some('0'),
        Intoxication::Delirium => Some('1'),
        Intoxication::PerceptualDisturbance => Some('2'),
        Intoxication::Unspecified => Some('9'),
    };
    // Stem: F11.1 abuse (mild), F11.2 dependence (moderate/severe), F11.9 use (no disorder).
    let stem = match coded {
        Severity::None => "F11.9",
        Severity::Mild => "F11.1",
        _ => "F11.2",
    };
    let mut codes = vec![];
    if input.withdrawal_present {
        codes.push(code(&format!("{stem}3")));
    }
    if let Some(d) = intox_digit {
        codes.push(code(&format!("{stem}2{d}")));
    }
    if codes.is_empty() && coded != Severity::None {
        codes.push(code(&format!(
            "{stem}{}",
            if in_remission { "1" } else { "0" }
        )));
    }
    if !codes.is_empty()
        && (input.withdrawal_present || intox_digit.is_some())
        && coded != Severity::None
    {
        notes.push("The use-disorder severity is carried in the withdrawal/intoxication code; no separate F11.x0 code is recorded.".into());
    }
    if input.on_maintenance_therapy || input.controlled_environment {
        notes.push("Specifiers do not change the ICD-10-CM code.".into());
    }
    let principal = codes.first().cloned();
    Ok(Output {
        count,
        counted,
        excluded,
        severity: current,
        icd10cm: principal.as_ref().map(|c| c.code.clone()),
        icd10cm_title: principal.map(|c| c.title),
        codes,
        specifiers,
        notes,
        citation: CITATION.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn inp(c: &[&str]) -> Input {
        Input {
            criteria: c.iter().map(|s| s.to_string()).collect(),
            medically_supervised: false,
            remission: Remission::None,
            prior_severity: None,
            on_maintenance_therapy: false,
            controlled_environment: false,
            withdrawal_present: false,
            intoxication: Intoxication::None,
        }
    }

    #[test]
    fn severity_thresholds_and_codes() {
        let o = diagnose(&inp(&["A1"])).unwrap();
        assert_eq!((o.severity, o.icd10cm.as_deref()), (Severity::None, None));
        let o = diagnose(&inp(&["A1", "A4"])).unwrap();
        assert_eq!(
            (o.severity, o.icd10cm.as_deref()),
            (Severity::Mild, Some("F11.10"))
        );
        let o = diagnose(&inp(&["A1", "A2", "A3", "A4"])).unwrap();
        assert_eq!(
            (o.severity, o.icd10cm.as_deref()),
            (Severity::Moderate, Some("F11.20"))
        );
        let o = diagnose(&inp(&["A1", "A2", "A3", "A4", "A5", "A6"])).unwrap();
        assert_eq!(o.severity, Severity::Severe);
    }

    #[test]
    fn medical_supervision_excludes_tolerance_and_withdrawal() {
        let mut i = inp(&["A10", "A11", "A4"]);
        i.medically_supervised = true;
        let o = diagnose(&i).unwrap();
        assert_eq!(o.count, 1);
        assert_eq!(o.excluded, vec!["A10", "A11"]);
        assert_eq!(o.severity, Severity::None);
        // Withdrawal without a use disorder, under supervision: F11.93.
        i.withdrawal_present = true;
        assert_eq!(diagnose(&i).unwrap().icd10cm.as_deref(), Some("F11.93"));
    }

    #[test]
    fn remission_and_combination_codes() {
        let mut i = inp(&["A4"]);
        i.remission = Remission::Early;
        assert_eq!(diagnose(&i).unwrap_err().field, "prior_severity");
        i.prior_severity = Some(Severity::Severe);
        let o = diagnose(&i).unwrap();
        assert_eq!(o.icd10cm.as_deref(), Some("F11.21"));
        assert!(o.specifiers.contains(&"in early remission".to_string()));
        i.prior_severity = Some(Severity::Mild);
        assert_eq!(diagnose(&i).unwrap().icd10cm.as_deref(), Some("F11.11"));
        let mut bad = inp(&["A1"]);
        bad.remission = Remission::Sustained;
        bad.prior_severity = Some(Severity::Moderate);
        assert_eq!(diagnose(&bad).unwrap_err().field, "remission");

        let mut w = inp(&["A1", "A2", "A3", "A4", "A11"]);
        w.withdrawal_present = true;
        assert_eq!(diagnose(&w).unwrap().icd10cm.as_deref(), Some("F11.23"));
        let mut m = inp(&["A1", "A2"]);
        m.withdrawal_present = true;
        assert_eq!(diagnose(&m).unwrap().icd10cm.as_deref(), Some("F11.13"));
        let mut x = inp(&["A1", "A2", "A3", "A4"]);
        x.intoxication = Intoxication::PerceptualDisturbance;
        x.withdrawal_present = true;
        let o = diagnose(&x).unwrap();
        assert_eq!(
            o.codes.iter().map(|c| c.code.as_str()).collect::<Vec<_>>(),
            vec!["F11.23", "F11.222"]
        );
        assert!(o.codes.iter().all(|c| !c.title.is_empty()));
    }

    #[test]
    fn bad_criteria_are_named() {
        assert_eq!(
            diagnose(&inp(&["A1", "B2"])).unwrap_err().field,
            "criteria[1]"
        );
        assert_eq!(
            diagnose(&inp(&["A1", "a1"])).unwrap_err().field,
            "criteria[1]"
        );
    }

    proptest! {
        #[test]
        fn severity_is_monotone_in_count(mask in 0u16..2048, extra in 0usize..11) {
            let chosen: Vec<&str> = (0..11).filter(|i| mask & (1 << i) != 0).map(|i| CRITERIA[i].0).collect();
            let o = diagnose(&inp(&chosen)).unwrap();
            prop_assert_eq!(o.count, chosen.len());
            let mut more = chosen.clone();
            if !more.contains(&CRITERIA[extra].0) { more.push(CRITERIA[extra].0); }
            prop_assert!(diagnose(&inp(&more)).unwrap().severity >= o.severity);
        }
    }
}
