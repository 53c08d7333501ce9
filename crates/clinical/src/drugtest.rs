//! Urine drug test interpretation against the active medication list.
//! Findings are for clinical review — never automatic sanctions.
//!
//! Sources: ASAM, Appropriate Use of Drug Testing in Clinical Addiction
//! Medicine (2017): immunoassays are presumptive; confirm when a result will
//! drive a decision. Methadone present without its metabolite EDDP suggests a
//! spiked sample (LabCE, adulterants in prescription-monitoring samples);
//! buprenorphine without norbuprenorphine likewise (common practice,
//! UNVERIFIED in a primary source); 6-MAM is specific for heroin; morphine
//! alone does not prove heroin. LOINC codes: CDC Opioid CDS value sets
//! (HL7 `cqframework/opioid-cds-r4`).

use crate::{InputError, Result};
use serde::{Deserialize, Serialize};

pub const CITATION: &str = "ASAM Appropriate Use of Drug Testing in Clinical Addiction Medicine (2017); LOINC per CDC Opioid CDS value sets";

/// Analyte: (name, LOINC presence screen, LOINC presence confirmation, plain name).
pub const ANALYTES: &[(&str, &str, &str, &str)] = &[
    (
        "6_mam",
        "19321-9",
        "19322-7",
        "6-monoacetylmorphine (heroin metabolite)",
    ),
    ("morphine", "19597-4", "16196-8", "morphine"),
    ("codeine", "19411-8", "16197-6", "codeine"),
    ("opiates", "19295-5", "18390-5", "opiates (class)"),
    ("fentanyl", "59673-4", "40839-3", "fentanyl"),
    ("norfentanyl", "95797-7", "43200-5", "norfentanyl"),
    ("methadone", "19550-3", "16199-2", "methadone"),
    ("eddp", "93495-0", "58428-4", "EDDP (methadone metabolite)"),
    ("buprenorphine", "93494-3", "16208-1", "buprenorphine"),
    ("norbuprenorphine", "82371-6", "58362-5", "norbuprenorphine"),
    ("oxycodone", "19642-8", "19643-6", "oxycodone"),
    (
        "benzoylecgonine",
        "14314-9",
        "14315-6",
        "cocaine metabolite",
    ),
    ("amphetamines", "19261-7", "16369-1", "amphetamines (class)"),
    ("amphetamine", "19343-3", "19344-1", "amphetamine"),
    ("methamphetamine", "19554-5", "19555-2", "methamphetamine"),
    (
        "benzodiazepines",
        "14316-4",
        "16195-0",
        "benzodiazepines (class)",
    ),
    ("cannabinoids", "18282-4", "19289-8", "cannabinoids (class)"),
    ("carboxy_thc", "19381-3", "19382-1", "carboxy-THC"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Positive,
    Negative,
    Inconclusive,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    #[default]
    Screen,
    Confirmation,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Result_ {
    /// Analyte name (e.g. `eddp`) or a LOINC code from the table.
    pub analyte: String,
    pub result: Outcome,
    #[serde(default)]
    pub method: Method,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    pub results: Vec<Result_>,
    /// Active medications: methadone, buprenorphine, naltrexone, oxycodone, morphine,
    /// codeine, fentanyl, benzodiazepine, amphetamine …
    #[serde(default)]
    pub medications: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Expected,
    Info,
    NeedsReview,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub code: String,
    pub level: Level,
    pub message: String,
    pub analytes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Coded {
    pub analyte: String,
    pub loinc: String,
    pub result: Outcome,
    pub method: Method,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Output {
    pub findings: Vec<Finding>,
    pub needs_review: bool,
    pub results: Vec<Coded>,
    pub note: String,
    pub citation: String,
}

fn resolve(a: &str) -> Option<usize> {
    let a = a.trim().to_lowercase().replace(['-', ' '], "_");
    ANALYTES
        .iter()
        .position(|(n, s, c, _)| *n == a || s.replace('-', "_") == a || c.replace('-', "_") == a)
}

pub fn interpret(i: &Input) -> Result<Output> {
    if i.results.is_empty() {
        return Err(InputError::new(
            "results",
            "give at least one analyte result",
        ));
    }
    let mut coded: Vec<Coded> = vec![];
    for (k, r) in i.results.iter().enumerate() {
        let idx = resolve(&r.analyte).ok_or_else(|| {
            InputError::new(
                format!("results[{k}].analyte"),
                format!(
                    "unknown analyte {:?}; expected one of {}",
                    r.analyte,
                    ANALYTES.iter().map(|a| a.0).collect::<Vec<_>>().join(", ")
                ),
            )
        })?;
        let (name, screen, confirm, _) = ANALYTES[idx];
        if coded.iter().any(|c| c.analyte == name) {
            return Err(InputError::new(
                format!("results[{k}].analyte"),
                format!("{name} is listed twice"),
            ));
        }
        coded.push(Coded {
            analyte: name.into(),
            loinc: if r.method == Method::Screen {
                screen
            } else {
                confirm
            }
            .into(),
            result: r.result,
            method: r.method,
        });
    }
    let meds: Vec<String> = i
        .medications
        .iter()
        .map(|m| m.trim().to_lowercase())
        .collect();
    let on = |m: &str| meds.iter().any(|x| x == m);
    let get = |a: &str| coded.iter().find(|c| c.analyte == a).map(|c| c.result);
    let pos = |a: &str| get(a) == Some(Outcome::Positive);
    let neg = |a: &str| get(a) == Some(Outcome::Negative);
    let mut f: Vec<Finding> = vec![];
    fn add(f: &mut Vec<Finding>, code: &str, level: Level, message: String, analytes: &[&str]) {
        f.push(Finding {
            code: code.into(),
            level,
            message,
            analytes: analytes.iter().map(|s| s.to_string()).collect(),
        });
    }

    // Prescribed agonists and their metabolites.
    for (drug, metab) in [("methadone", "eddp"), ("buprenorphine", "norbuprenorphine")] {
        if on(drug) {
            match (get(drug), get(metab)) {
                (Some(Outcome::Positive), Some(Outcome::Positive)) => add(
                    &mut f,
                    &format!("{drug}_present"),
                    Level::Expected,
                    format!("{drug} and its metabolite present, as prescribed"),
                    &[drug, metab],
                ),
                (Some(Outcome::Positive), Some(Outcome::Negative)) => add(
                    &mut f,
                    "possible_adulterated_sample",
                    Level::NeedsReview,
                    format!(
                        "{drug} present without its metabolite {metab}: the sample may have had medication added; confirm and consider an observed collection"
                    ),
                    &[drug, metab],
                ),
                (Some(Outcome::Positive), None) => add(
                    &mut f,
                    &format!("{drug}_metabolite_not_tested"),
                    Level::Info,
                    format!("{drug} present; test {metab} to rule out an adulterated sample"),
                    &[drug],
                ),
                (Some(Outcome::Negative), Some(Outcome::Negative))
                | (Some(Outcome::Negative), None) => add(
                    &mut f,
                    "prescribed_medication_absent",
                    Level::NeedsReview,
                    format!(
                        "prescribed {drug} not found: possible missed doses, non-adherence or diversion, or a dilute sample; discuss with the patient"
                    ),
                    &[drug],
                ),
                (Some(Outcome::Negative), Some(Outcome::Positive)) => add(
                    &mut f,
                    &format!("{drug}_metabolite_only"),
                    Level::Info,
                    format!(
                        "{metab} present without parent {drug}: consistent with earlier use; check timing"
                    ),
                    &[drug, metab],
                ),
                _ => {}
            }
        } else if pos(drug) || pos(metab) {
            add(
                &mut f,
                "unexpected_medication",
                Level::NeedsReview,
                format!(
                    "{drug} found but not prescribed here: check for another prescriber or non-prescribed use"
                ),
                &[drug, metab],
            );
        }
    }
    if pos("6_mam") {
        add(
            &mut f,
            "heroin_use",
            Level::NeedsReview,
            "6-MAM present: recent heroin use (detectable only hours after use)".into(),
            &["6_mam"],
        );
    } else if (pos("morphine") || pos("opiates")) && !on("morphine") && !on("codeine") {
        let note = if neg("6_mam") {
            "6-MAM negative"
        } else {
            "6-MAM not tested"
        };
        add(
            &mut f,
            "opiate_indeterminate",
            Level::NeedsReview,
            format!(
                "morphine/opiates present ({note}): heroin, morphine, codeine or poppy seeds; morphine alone does not prove heroin"
            ),
            &["morphine", "opiates"],
        );
    }
    if (pos("fentanyl") || pos("norfentanyl")) && !on("fentanyl") {
        add(
            &mut f,
            "fentanyl_exposure",
            Level::NeedsReview,
            "fentanyl exposure: high overdose risk; offer naloxone and review the treatment plan"
                .into(),
            &["fentanyl", "norfentanyl"],
        );
    }
    if pos("oxycodone") && !on("oxycodone") {
        add(
            &mut f,
            "unexpected_opioid",
            Level::NeedsReview,
            "oxycodone present without a prescription here".into(),
            &["oxycodone"],
        );
    }
    if on("naltrexone")
        && [
            "6_mam",
            "morphine",
            "opiates",
            "fentanyl",
            "norfentanyl",
            "oxycodone",
            "methadone",
            "buprenorphine",
        ]
        .iter()
        .any(|a| pos(a))
    {
        add(&mut f, "opioid_use_on_naltrexone", Level::NeedsReview, "opioids present during naltrexone treatment: overdose risk when the blockade is overridden or wears off".into(), &[]);
    }
    if pos("benzodiazepines") && !on("benzodiazepine") {
        add(&mut f, "sedative_co_use", Level::NeedsReview, "benzodiazepines present without a prescription: combined with opioids this raises overdose risk".into(), &["benzodiazepines"]);
    }
    for (a, what) in [
        ("benzoylecgonine", "cocaine"),
        ("amphetamines", "amphetamines"),
        ("amphetamine", "amphetamine"),
        ("methamphetamine", "methamphetamine"),
        ("cannabinoids", "cannabis"),
        ("carboxy_thc", "cannabis"),
    ] {
        if pos(a) && !on(what) {
            add(
                &mut f,
                "unexpected_substance",
                Level::NeedsReview,
                format!("{what} present"),
                &[a],
            );
        }
    }
    if coded.iter().any(|c| c.result == Outcome::Inconclusive) {
        add(
            &mut f,
            "inconclusive",
            Level::Info,
            "an inconclusive result: repeat or confirm".into(),
            &[],
        );
    }
    if coded
        .iter()
        .any(|c| c.method == Method::Screen && c.result == Outcome::Positive)
        && f.iter().any(|x| x.level == Level::NeedsReview)
    {
        add(&mut f, "confirm_presumptive", Level::Info, "screen results are presumptive: confirm by GC-MS or LC-MS/MS before a decision that depends on them".into(), &[]);
    }
    let needs_review = f.iter().any(|x| x.level == Level::NeedsReview);
    Ok(Output {
        findings: f,
        needs_review,
        results: coded,
        note: "Findings inform care and are discussed with the patient; they are never automatic sanctions.".into(),
        citation: CITATION.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(a: &str, o: Outcome) -> Result_ {
        Result_ {
            analyte: a.into(),
            result: o,
            method: Method::Screen,
        }
    }

    fn codes(o: &Output) -> Vec<&str> {
        o.findings.iter().map(|f| f.code.as_str()).collect()
    }

    #[test]
    fn methadone_without_eddp_suggests_spiking() {
        let o = interpret(&Input {
            results: vec![
                r("methadone", Outcome::Positive),
                r("eddp", Outcome::Negative),
            ],
            medications: vec!["methadone".into()],
        })
        .unwrap();
        assert!(codes(&o).contains(&"possible_adulterated_sample"));
        assert!(o.needs_review);
        let o = interpret(&Input {
            results: vec![
                r("methadone", Outcome::Positive),
                r("EDDP", Outcome::Positive),
            ],
            medications: vec!["methadone".into()],
        })
        .unwrap();
        assert_eq!(codes(&o), vec!["methadone_present"]);
        assert!(!o.needs_review);
        assert_eq!(o.results[1].loinc, "93495-0");
    }

    #[test]
    fn absent_medication_heroin_and_fentanyl() {
        let o = interpret(&Input {
            results: vec![
                r("buprenorphine", Outcome::Negative),
                r("norbuprenorphine", Outcome::Negative),
                r("6-MAM", Outcome::Positive),
                r("fentanyl", Outcome::Positive),
            ],
            medications: vec!["buprenorphine".into()],
        })
        .unwrap();
        let c = codes(&o);
        assert!(c.contains(&"prescribed_medication_absent"));
        assert!(c.contains(&"heroin_use"));
        assert!(c.contains(&"fentanyl_exposure"));
        assert!(c.contains(&"confirm_presumptive"));
    }

    #[test]
    fn morphine_alone_is_indeterminate_and_loinc_codes_resolve() {
        let o = interpret(&Input {
            results: vec![
                r("19597-4", Outcome::Positive),
                r("6_mam", Outcome::Negative),
            ],
            medications: vec![],
        })
        .unwrap();
        assert!(codes(&o).contains(&"opiate_indeterminate"));
        assert_eq!(
            interpret(&Input {
                results: vec![r("kryptonite", Outcome::Positive)],
                medications: vec![]
            })
            .unwrap_err()
            .field,
            "results[0].analyte"
        );
    }
}
