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

/// Further LOINC codes laboratories send for the same analytes: presence
/// with the method unspecified, and quantitative (mass/volume) results,
/// each with the method it stands for (CDC Opioid CDS value sets, HL7
/// `cqframework/opioid-cds-r4`; DOMAIN-clinical § 9.3). A method-unspecified
/// code counts as a screen: only a confirmatory code supersedes one.
pub const OTHER_LOINC: &[(&str, &str, Method)] = &[
    ("10976-9", "6_mam", Method::Screen),
    ("10975-1", "6_mam", Method::Screen),
    ("19593-3", "6_mam", Method::Confirmation),
    ("3830-7", "morphine", Method::Screen),
    ("3507-1", "codeine", Method::Screen),
    ("70151-6", "opiates", Method::Screen),
    ("21431-2", "opiates", Method::Screen),
    ("3879-4", "opiates", Method::Screen),
    ("11235-9", "fentanyl", Method::Screen),
    ("3637-6", "fentanyl", Method::Screen),
    ("58381-5", "fentanyl", Method::Confirmation),
    ("43199-9", "norfentanyl", Method::Screen),
    ("11075-9", "norfentanyl", Method::Screen),
    ("58383-1", "norfentanyl", Method::Confirmation),
    ("3773-9", "methadone", Method::Screen),
    ("3774-7", "methadone", Method::Screen),
    ("16246-1", "methadone", Method::Confirmation),
    ("41858-2", "eddp", Method::Screen),
    ("50542-0", "eddp", Method::Screen),
    ("58429-2", "eddp", Method::Confirmation),
    ("3414-0", "buprenorphine", Method::Screen),
    ("3415-7", "buprenorphine", Method::Screen),
    ("49752-9", "buprenorphine", Method::Confirmation),
    ("49753-7", "norbuprenorphine", Method::Screen),
    ("49751-1", "norbuprenorphine", Method::Confirmation),
    ("10998-3", "oxycodone", Method::Screen),
    ("3393-6", "benzoylecgonine", Method::Screen),
    ("3394-4", "benzoylecgonine", Method::Screen),
    ("3349-8", "amphetamines", Method::Screen),
    ("3779-6", "methamphetamine", Method::Screen),
    ("3390-2", "benzodiazepines", Method::Screen),
    ("3427-2", "cannabinoids", Method::Screen),
    ("3435-5", "carboxy_thc", Method::Screen),
];

/// The analyte and method a LOINC code reports, from the table of screens
/// and confirmations and from [`OTHER_LOINC`]; `None` for a code that is
/// not a drug test this engine reads.
pub fn analyte_for_loinc(code: &str) -> Option<(&'static str, Method)> {
    let code = code.trim();
    ANALYTES
        .iter()
        .find_map(|(n, s, c, _)| {
            if *s == code {
                Some((*n, Method::Screen))
            } else if *c == code {
                Some((*n, Method::Confirmation))
            } else {
                None
            }
        })
        .or_else(|| {
            OTHER_LOINC
                .iter()
                .find(|(c, _, _)| *c == code)
                .map(|(_, n, m)| (*n, *m))
        })
}

/// The plain-language name of an analyte (`eddp` → "EDDP (methadone
/// metabolite)").
pub fn plain_name(analyte: &str) -> Option<&'static str> {
    ANALYTES.iter().find(|a| a.0 == analyte).map(|a| a.3)
}

fn resolve(a: &str) -> Option<usize> {
    if let Some((name, _)) = analyte_for_loinc(a) {
        return ANALYTES.iter().position(|x| x.0 == name);
    }
    let a = a.trim().to_lowercase().replace(['-', ' '], "_");
    ANALYTES
        .iter()
        .position(|(n, s, c, _)| *n == a || s.replace('-', "_") == a || c.replace('-', "_") == a)
}

/// Findings about the collection itself, before any result: a refusal,
/// and a urine specimen whose temperature was out of range or not read.
/// Urine must read 32–38 °C within four minutes of collection, else the
/// specimen may be substituted or adulterated and is collected again under
/// direct observation (HHS Mandatory Guidelines for Federal Workplace Drug
/// Testing Programs — Urine, 2017, § 8.5; section number UNVERIFIED).
/// Findings inform care; a refusal is discussed, never a sanction here.
pub fn collection_findings(
    specimen: &str,
    refused: bool,
    observed: bool,
    temperature_in_range: Option<bool>,
) -> Vec<Finding> {
    let mut f = vec![];
    if refused {
        f.push(Finding {
            code: "collection_refused".into(),
            level: Level::NeedsReview,
            message:
                "the patient declined the collection: discuss it with them and offer another time"
                    .into(),
            analytes: vec![],
        });
        return f;
    }
    if specimen == "urine" {
        match temperature_in_range {
            Some(false) => f.push(Finding {
                code: "temperature_out_of_range".into(),
                level: Level::NeedsReview,
                message: "specimen temperature outside 32–38 °C: it may not be fresh urine; collect again under observation".into(),
                analytes: vec![],
            }),
            None if !observed => f.push(Finding {
                code: "temperature_not_read".into(),
                level: Level::Info,
                message: "unobserved collection without a temperature reading".into(),
                analytes: vec![],
            }),
            _ => {}
        }
    }
    f
}

/// Random testing policy. Federal floor: at least 8 random drug tests a
/// year for each patient in maintenance treatment (42 CFR § 8.12(f)(6));
/// states and programs test more often, especially early in treatment
/// (e.g. Maine: at least every 30 days — DOMAIN-regulatory § 1.8). The days
/// are drawn in 30-day blocks counted from admission, so a patient cannot
/// tell from the last test when the next one falls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomPolicy {
    /// Days from admission counted as early treatment.
    pub early_days: u32,
    /// Random tests in each 30-day block of early treatment.
    pub early_per_block: u32,
    /// Random tests in each later 30-day block (raised when needed to reach
    /// `min_per_year`).
    pub per_block: u32,
    /// Random tests at least, in any 365 days.
    pub min_per_year: u32,
}

/// The length of a block of the random schedule.
pub const BLOCK_DAYS: u32 = 30;

/// Complete 30-day blocks inside any window of 365 days: a window that
/// starts a day into a block loses up to 29 days at each end.
const FULL_BLOCKS_PER_YEAR: u32 = (365 - (BLOCK_DAYS - 1)) / BLOCK_DAYS;

impl Default for RandomPolicy {
    /// The federal minimum, weekly for the first 90 days (common practice —
    /// UNVERIFIED as a rule; a program sets its own).
    fn default() -> Self {
        RandomPolicy {
            early_days: 90,
            early_per_block: 4,
            per_block: 1,
            min_per_year: 8,
        }
    }
}

impl RandomPolicy {
    pub fn validate(&self) -> Result<()> {
        if self.min_per_year < 8 {
            return Err(InputError::new(
                "min_per_year",
                "at least 8: the federal minimum of random tests a year (42 CFR § 8.12(f)(6))",
            ));
        }
        if self.min_per_year > 365 {
            return Err(InputError::new("min_per_year", "at most 365"));
        }
        if !(1..=BLOCK_DAYS).contains(&self.per_block) {
            return Err(InputError::new("per_block", "between 1 and 30"));
        }
        if !(1..=BLOCK_DAYS).contains(&self.early_per_block) {
            return Err(InputError::new("early_per_block", "between 1 and 30"));
        }
        if self.early_days > 365 {
            return Err(InputError::new("early_days", "at most 365"));
        }
        if self.steady() > BLOCK_DAYS {
            return Err(InputError::new(
                "min_per_year",
                "too many to fit one a day in 30-day blocks",
            ));
        }
        Ok(())
    }

    /// Tests per block after early treatment: enough that any 365 days
    /// hold at least `min_per_year`.
    pub fn steady(&self) -> u32 {
        self.per_block
            .max(self.min_per_year.div_ceil(FULL_BLOCKS_PER_YEAR))
    }

    /// Tests in block `n` (block 0 starts on the admission day).
    pub fn in_block(&self, n: u32) -> u32 {
        let steady = self.steady();
        if n.saturating_mul(BLOCK_DAYS) < self.early_days {
            self.early_per_block.max(steady)
        } else {
            steady
        }
    }
}

/// The random test days of block `n` after `admitted`: `in_block(n)`
/// distinct days drawn with ChaCha8 stream `n` under `seed` (the caller
/// keeps the seed secret and stores it, so the draw can be replayed).
pub fn random_block(
    seed: u64,
    admitted: jiff::civil::Date,
    n: u32,
    policy: &RandomPolicy,
) -> Result<Vec<jiff::civil::Date>> {
    use rand::SeedableRng;
    policy.validate()?;
    let k = policy.in_block(n) as usize;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(u64::from(n));
    let mut offsets = rand::seq::index::sample(&mut rng, BLOCK_DAYS as usize, k).into_vec();
    offsets.sort_unstable();
    let start = i64::from(n) * i64::from(BLOCK_DAYS);
    offsets
        .into_iter()
        .map(|o| {
            admitted
                .checked_add(jiff::Span::new().days(start + o as i64))
                .map_err(|e| InputError::new("admitted", e.to_string()))
        })
        .collect()
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

    #[test]
    fn lab_codes_resolve_to_analytes() {
        // The LOINC codes of DOMAIN-regulatory § 7.3's example message.
        assert_eq!(
            analyte_for_loinc("3773-9"),
            Some(("methadone", Method::Screen))
        );
        assert_eq!(
            analyte_for_loinc("3414-0"),
            Some(("buprenorphine", Method::Screen))
        );
        assert_eq!(
            analyte_for_loinc("11235-9"),
            Some(("fentanyl", Method::Screen))
        );
        assert_eq!(
            analyte_for_loinc("16199-2"),
            Some(("methadone", Method::Confirmation))
        );
        assert_eq!(
            analyte_for_loinc("58428-4"),
            Some(("eddp", Method::Confirmation))
        );
        assert_eq!(analyte_for_loinc("2345-7"), None); // glucose
        let o = interpret(&Input {
            results: vec![r("3773-9", Outcome::Positive)],
            medications: vec!["methadone".into()],
        })
        .unwrap();
        assert_eq!(o.results[0].analyte, "methadone");
        // every alias names an analyte of the table
        for (_, a, _) in OTHER_LOINC {
            assert!(plain_name(a).is_some(), "{a}");
        }
    }

    #[test]
    fn collection_checks() {
        let c = |s: &str, r, o, t| {
            collection_findings(s, r, o, t)
                .into_iter()
                .map(|f| (f.code, f.level))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            c("urine", true, false, Some(false))[0].0,
            "collection_refused"
        );
        assert_eq!(
            c("urine", false, true, Some(false)),
            vec![("temperature_out_of_range".to_string(), Level::NeedsReview)]
        );
        assert_eq!(c("urine", false, false, None)[0].1, Level::Info);
        assert!(c("urine", false, true, None).is_empty());
        assert!(c("urine", false, false, Some(true)).is_empty());
        assert!(c("oral_fluid", false, false, None).is_empty());
    }

    #[test]
    fn random_policy_floor() {
        let p = RandomPolicy::default();
        p.validate().unwrap();
        assert_eq!(p.in_block(0), 4);
        assert_eq!(p.in_block(2), 4); // days 60–89 are early
        assert_eq!(p.in_block(3), 1);
        let low = RandomPolicy {
            min_per_year: 7,
            ..p
        };
        assert_eq!(low.validate().unwrap_err().field, "min_per_year");
        let monthly = RandomPolicy {
            min_per_year: 12,
            ..p
        };
        assert_eq!(monthly.steady(), 2);
    }

    proptest::proptest! {
        /// Any 365 days after early treatment hold at least the yearly
        /// minimum; days are distinct, inside their block and replayable.
        #[test]
        fn random_days_meet_the_floor(
            seed in proptest::prelude::any::<u64>(),
            min in 8u32..40,
            per in 1u32..4,
            early in 1u32..8,
            start in 0u32..400,
        ) {
            let p = RandomPolicy { early_days: 90, early_per_block: early, per_block: per, min_per_year: min };
            proptest::prop_assume!(p.validate().is_ok());
            let adm = jiff::civil::date(2025, 1, 6);
            let mut days = vec![];
            for n in 0..30u32 {
                let b = random_block(seed, adm, n, &p).unwrap();
                proptest::prop_assert_eq!(&b, &random_block(seed, adm, n, &p).unwrap());
                proptest::prop_assert_eq!(b.len() as u32, p.in_block(n));
                for d in &b {
                    let off = (*d - adm).get_days() as u32;
                    proptest::prop_assert!(off / BLOCK_DAYS == n);
                }
                days.extend(b);
            }
            let mut sorted = days.clone();
            sorted.dedup();
            proptest::prop_assert_eq!(sorted.len(), days.len());
            let from = adm.checked_add(jiff::Span::new().days(i64::from(start))).unwrap();
            let to = from.checked_add(jiff::Span::new().days(365)).unwrap();
            let n = days.iter().filter(|d| **d >= from && **d < to).count() as u32;
            proptest::prop_assert!(n >= min, "{} tests in 365 days from {}", n, from);
        }
    }

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
