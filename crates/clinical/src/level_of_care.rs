//! Level-of-care decision support.
//!
//! Carepath's own transparent rules, in its own words, over the six publicly
//! known assessment dimensions (withdrawal, physical health, emotional and
//! behavioral health, readiness, relapse risk, recovery environment). This is
//! decision support for a clinician — it is **not** ASAM Criteria placement and
//! contains no ASAM text; level numbers are used only as identifiers.
//! Medication for OUD: ASAM National Practice Guideline 2020 focused update and
//! SAMHSA TIP 63 (offer methadone, buprenorphine or XR-naltrexone for moderate
//! to severe OUD, in any setting); pregnancy: ACOG Committee Opinion 711 (2017)
//! — opioid agonist treatment is preferred to withdrawal management; 42 CFR
//! § 8.12 (2024) gives pregnant patients priority admission.

use crate::oud::Severity;
use crate::{InputError, Result};
use serde::{Deserialize, Serialize};

pub const DISCLAIMER: &str = "Decision support from Carepath's own published rules over six assessment dimensions. Not ASAM Criteria placement; the clinician decides and records the reason for any different placement.";

/// Settings from least to most intensive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Setting {
    Outpatient,
    IntensiveOutpatient,
    PartialHospitalization,
    ResidentialClinicallyManagedLow,
    ResidentialClinicallyManagedHigh,
    ResidentialMedicallyMonitored,
    MedicallyManagedInpatient,
}

impl Setting {
    pub fn label(self) -> &'static str {
        match self {
            Setting::Outpatient => "Outpatient (under 9 hours a week)",
            Setting::IntensiveOutpatient => "Intensive outpatient (9–19 hours a week)",
            Setting::PartialHospitalization => "Partial hospitalization (20+ hours a week)",
            Setting::ResidentialClinicallyManagedLow => {
                "Residential, clinically managed, low intensity"
            }
            Setting::ResidentialClinicallyManagedHigh => {
                "Residential, clinically managed, high intensity"
            }
            Setting::ResidentialMedicallyMonitored => {
                "Residential, medically monitored (24-hour nursing)"
            }
            Setting::MedicallyManagedInpatient => "Medically managed inpatient (hospital)",
        }
    }
    /// Level identifier (numbering only).
    pub fn level(self) -> &'static str {
        match self {
            Setting::Outpatient => "1",
            Setting::IntensiveOutpatient => "2.1",
            Setting::PartialHospitalization => "2.5",
            Setting::ResidentialClinicallyManagedLow => "3.1",
            Setting::ResidentialClinicallyManagedHigh => "3.5",
            Setting::ResidentialMedicallyMonitored => "3.7",
            Setting::MedicallyManagedInpatient => "4",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Withdrawal {
    None,
    Ambulatory,
    MedicallyMonitored,
    MedicallyManaged,
}

impl Withdrawal {
    pub fn label(self) -> &'static str {
        match self {
            Withdrawal::None => "No withdrawal management needed",
            Withdrawal::Ambulatory => "Ambulatory withdrawal management (outpatient, daily checks)",
            Withdrawal::MedicallyMonitored => {
                "Medically monitored withdrawal management (24-hour nursing)"
            }
            Withdrawal::MedicallyManaged => "Medically managed withdrawal management (hospital)",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dimensions {
    pub withdrawal: u8,
    pub biomedical: u8,
    pub emotional_behavioral: u8,
    pub readiness: u8,
    pub relapse: u8,
    pub recovery_environment: u8,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    /// Risk ratings 0 (none) to 4 (severe) per dimension.
    pub dimensions: Dimensions,
    /// COWS total now, if measured.
    #[serde(default)]
    pub cows: Option<u8>,
    /// History of withdrawal seizures or delirium, or a complicated expected course.
    #[serde(default)]
    pub complicated_withdrawal: bool,
    #[serde(default)]
    pub pregnant: bool,
    /// Acute medical instability needing daily physician care.
    #[serde(default)]
    pub medical_instability: bool,
    /// Acute psychiatric instability (psychosis, mania, severe depression).
    #[serde(default)]
    pub psychiatric_instability: bool,
    /// Imminent danger to self or others.
    #[serde(default)]
    pub imminent_danger: bool,
    /// Opioid use disorder severity (from `oud-diagnosis`).
    #[serde(default = "unknown_severity")]
    pub oud_severity: Severity,
    /// Already on methadone, buprenorphine or naltrexone.
    #[serde(default)]
    pub on_medication: bool,
}

fn unknown_severity() -> Severity {
    Severity::None
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DimensionResult {
    pub dimension: u8,
    pub name: String,
    pub rating: u8,
    /// The least intensive setting this dimension allows (null: no constraint).
    pub needs: Option<Setting>,
    pub rule: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Medication {
    pub indicated: bool,
    pub options: Vec<String>,
    pub rule: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Output {
    /// What to arrange now: a withdrawal-management setting when one is needed,
    /// else the treatment setting (or an OTP / office-based medication start).
    pub recommended: String,
    pub recommended_label: String,
    pub withdrawal_management: Withdrawal,
    /// The treatment setting (during or after withdrawal management).
    pub setting: Setting,
    pub setting_label: String,
    pub level: String,
    pub medication: Medication,
    pub dimensions: Vec<DimensionResult>,
    pub notes: Vec<String>,
    pub disclaimer: String,
}

fn dim(n: u8, name: &str, rating: u8, needs: Option<Setting>, rule: &str) -> DimensionResult {
    DimensionResult {
        dimension: n,
        name: name.into(),
        rating,
        needs,
        rule: rule.into(),
    }
}

pub fn recommend(i: &Input) -> Result<Output> {
    let d = &i.dimensions;
    for (f, v) in [
        ("withdrawal", d.withdrawal),
        ("biomedical", d.biomedical),
        ("emotional_behavioral", d.emotional_behavioral),
        ("readiness", d.readiness),
        ("relapse", d.relapse),
        ("recovery_environment", d.recovery_environment),
    ] {
        if v > 4 {
            return Err(InputError::new(
                format!("dimensions.{f}"),
                "must be a risk rating from 0 to 4",
            ));
        }
    }
    if i.cows.is_some_and(|c| c > 48) {
        return Err(InputError::new("cows", "must be 0–48"));
    }
    use Setting as S;
    let mut notes = vec![];
    // Dimension 1: withdrawal.
    let mut wm = match d.withdrawal {
        0 | 1 => Withdrawal::None,
        2 => Withdrawal::Ambulatory,
        3 => Withdrawal::MedicallyMonitored,
        _ => Withdrawal::MedicallyManaged,
    };
    let mut d1_rule = match d.withdrawal {
        0 | 1 => "little or no withdrawal risk: no separate withdrawal management",
        2 => {
            "moderate withdrawal expected: manage as an outpatient with daily checks and medication"
        }
        3 => "severe withdrawal expected: 24-hour nursing observation",
        _ => "dangerous withdrawal: hospital care",
    }
    .to_string();
    if i.cows.is_some_and(|c| c >= 25) && wm < Withdrawal::MedicallyMonitored {
        wm = Withdrawal::MedicallyMonitored;
        d1_rule.push_str(
            "; COWS ≥ 25 (moderately severe or worse) raises this to 24-hour observation",
        );
    }
    if i.complicated_withdrawal && wm < Withdrawal::MedicallyMonitored && d.withdrawal >= 2 {
        wm = Withdrawal::MedicallyMonitored;
        d1_rule.push_str("; a complicated course (seizures, delirium) needs 24-hour observation");
    }
    if i.medical_instability && wm >= Withdrawal::Ambulatory {
        wm = Withdrawal::MedicallyManaged;
        d1_rule.push_str("; withdrawal with medical instability belongs in a hospital");
    }
    let d2 = match (d.biomedical, i.medical_instability) {
        (_, true) | (4, _) => (
            Some(S::MedicallyManagedInpatient),
            "acute medical instability: hospital-level care",
        ),
        (3, _) => (
            Some(S::ResidentialMedicallyMonitored),
            "medical problems need 24-hour nursing and a physician on call",
        ),
        (2, _) => (
            None,
            "medical problems can be followed by a primary-care or program clinician",
        ),
        _ => (None, "no medical problem limits the setting"),
    };
    let d3 = match (
        d.emotional_behavioral,
        i.imminent_danger || i.psychiatric_instability,
    ) {
        (_, true) | (4, _) => (
            Some(S::MedicallyManagedInpatient),
            "imminent danger or acute psychiatric instability: inpatient psychiatric-capable care",
        ),
        (3, _) if d.recovery_environment >= 3 => (
            Some(S::ResidentialClinicallyManagedHigh),
            "serious symptoms and no safe home: 24-hour structured residential care",
        ),
        (3, _) => (
            Some(S::PartialHospitalization),
            "serious symptoms with a safe home: daily, many-hours-a-day treatment",
        ),
        (2, _) => (
            Some(S::IntensiveOutpatient),
            "symptoms need co-occurring care several times a week",
        ),
        _ => (
            None,
            "no emotional or behavioral condition limits the setting",
        ),
    };
    let d4 = match d.readiness {
        3 | 4 => (
            Some(S::IntensiveOutpatient),
            "ambivalent or not ready: frequent contact and motivational work; low readiness alone does not justify residential care",
        ),
        2 => (None, "some readiness: motivational work within any setting"),
        _ => (None, "ready to engage"),
    };
    let d5 = match d.relapse {
        4 => (
            Some(S::ResidentialClinicallyManagedHigh),
            "unable to stop using without 24-hour structure",
        ),
        3 => (
            Some(S::PartialHospitalization),
            "high risk of continued use: daily structure and skills",
        ),
        2 => (
            Some(S::IntensiveOutpatient),
            "some relapse-prevention skills: several sessions a week",
        ),
        _ => (None, "relapse risk does not limit the setting"),
    };
    let d6 = match d.recovery_environment {
        4 => (
            Some(S::ResidentialClinicallyManagedHigh),
            "home is dangerous to recovery: leave it for structured residential care",
        ),
        3 => (
            Some(S::ResidentialClinicallyManagedLow),
            "home does not support recovery: supportive residential setting (or sober living with intensive outpatient)",
        ),
        2 => (
            Some(S::IntensiveOutpatient),
            "limited support at home: more frequent treatment contact",
        ),
        _ => (None, "home supports recovery"),
    };
    let dims = vec![
        dim(1, "Withdrawal", d.withdrawal, None, &d1_rule),
        dim(2, "Physical health", d.biomedical, d2.0, d2.1),
        dim(
            3,
            "Emotional, behavioral and cognitive health",
            d.emotional_behavioral,
            d3.0,
            d3.1,
        ),
        dim(4, "Readiness to change", d.readiness, d4.0, d4.1),
        dim(5, "Relapse or continued-use risk", d.relapse, d5.0, d5.1),
        dim(
            6,
            "Recovery environment",
            d.recovery_environment,
            d6.0,
            d6.1,
        ),
    ];
    let setting = dims
        .iter()
        .filter_map(|x| x.needs)
        .max()
        .unwrap_or(S::Outpatient);
    let moud = matches!(i.oud_severity, Severity::Moderate | Severity::Severe)
        || i.on_medication
        || (i.pregnant && i.oud_severity != Severity::None);
    let mut options = vec![];
    if moud {
        options.push("methadone (opioid treatment program)".to_string());
        options.push("buprenorphine (opioid treatment program or office-based)".to_string());
        if !i.pregnant {
            options.push("extended-release naltrexone (after 7–14 opioid-free days)".to_string());
        }
    }
    let med_rule = if i.on_medication {
        "already on medication: continue it in every setting"
    } else if moud {
        "moderate to severe opioid use disorder: offer medication in any setting"
    } else {
        "no moderate or severe opioid use disorder recorded: medication not indicated by these rules"
    };
    if i.pregnant {
        notes.push("Pregnant: priority admission; starting methadone or buprenorphine is preferred to withdrawal management (ACOG CO 711).".into());
    }
    if wm >= Withdrawal::Ambulatory {
        notes.push("Tolerance falls after withdrawal: overdose education and a naloxone kit before discharge.".into());
    }
    let (recommended, recommended_label) = if wm >= Withdrawal::MedicallyMonitored {
        let code = if wm == Withdrawal::MedicallyManaged {
            "medically_managed_withdrawal_management"
        } else {
            "medically_monitored_withdrawal_management"
        };
        (code.to_string(), wm.label().to_string())
    } else if setting == S::Outpatient && moud {
        (
            "opioid_treatment_program_or_office_based".to_string(),
            "Opioid treatment program or office-based medication, with outpatient counseling"
                .to_string(),
        )
    } else {
        (
            serde_json::to_value(setting)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            setting.label().to_string(),
        )
    };
    Ok(Output {
        recommended,
        recommended_label,
        withdrawal_management: wm,
        setting,
        setting_label: setting.label().into(),
        level: setting.level().into(),
        medication: Medication {
            indicated: moud,
            options,
            rule: med_rule.into(),
        },
        dimensions: dims,
        notes,
        disclaimer: DISCLAIMER.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn inp(r: [u8; 6]) -> Input {
        Input {
            dimensions: Dimensions {
                withdrawal: r[0],
                biomedical: r[1],
                emotional_behavioral: r[2],
                readiness: r[3],
                relapse: r[4],
                recovery_environment: r[5],
            },
            cows: None,
            complicated_withdrawal: false,
            pregnant: false,
            medical_instability: false,
            psychiatric_instability: false,
            imminent_danger: false,
            oud_severity: Severity::Severe,
            on_medication: false,
        }
    }

    #[test]
    fn stable_person_with_severe_oud_starts_medication_as_outpatient() {
        let o = recommend(&inp([1, 0, 0, 1, 1, 1])).unwrap();
        assert_eq!(o.recommended, "opioid_treatment_program_or_office_based");
        assert!(o.medication.indicated);
        assert_eq!(o.dimensions.len(), 6);
    }

    #[test]
    fn withdrawal_and_environment_drive_placement() {
        let mut i = inp([3, 1, 1, 2, 3, 4]);
        i.cows = Some(27);
        let o = recommend(&i).unwrap();
        assert_eq!(o.recommended, "medically_monitored_withdrawal_management");
        assert_eq!(o.setting, Setting::ResidentialClinicallyManagedHigh);
        let o = recommend(&inp([0, 0, 2, 1, 2, 2])).unwrap();
        assert_eq!(o.setting, Setting::IntensiveOutpatient);
        assert_eq!(o.recommended, "intensive_outpatient");
        let mut danger = inp([0, 0, 1, 0, 0, 0]);
        danger.imminent_danger = true;
        assert_eq!(
            recommend(&danger).unwrap().setting,
            Setting::MedicallyManagedInpatient
        );
    }

    #[test]
    fn pregnancy_prefers_agonists() {
        let mut i = inp([2, 0, 0, 0, 1, 1]);
        i.pregnant = true;
        i.oud_severity = Severity::Mild;
        let o = recommend(&i).unwrap();
        assert!(o.medication.indicated);
        assert!(
            !o.medication
                .options
                .iter()
                .any(|x| x.contains("naltrexone"))
        );
        assert!(o.notes.iter().any(|n| n.contains("ACOG")));
        let bad = inp([5, 0, 0, 0, 0, 0]);
        assert_eq!(recommend(&bad).unwrap_err().field, "dimensions.withdrawal");
    }

    proptest! {
        /// Raising any one rating never lowers the recommended setting.
        #[test]
        fn monotone(r in proptest::array::uniform6(0u8..=4), k in 0usize..6) {
            let base = recommend(&inp(r)).unwrap();
            let mut up = r;
            up[k] = (up[k] + 1).min(4);
            let higher = recommend(&inp(up)).unwrap();
            prop_assert!(higher.setting >= base.setting);
            prop_assert!(higher.withdrawal_management >= base.withdrawal_management);
        }
    }
}
