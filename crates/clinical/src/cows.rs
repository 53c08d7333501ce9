//! COWS — Clinical Opiate Withdrawal Scale.
//!
//! Source: Wesson DR, Ling W. The Clinical Opiate Withdrawal Scale (COWS).
//! J Psychoactive Drugs 2003;35(2):253-259; form reproduced in SAMHSA TIP 45
//! (NBK64244). Item values are non-contiguous sets and are validated as sets.
//! Bands: 5–12 mild, 13–24 moderate, 25–36 moderately severe, >36 severe;
//! 0–4 below the mild threshold (Wesson & Ling form; MDCalc).

use crate::{InputError, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const CITATION: &str =
    "Wesson & Ling, J Psychoactive Drugs 2003;35(2):253-259 (COWS); SAMHSA TIP 45";

/// The 11 items in form order, with their allowed values.
pub const ITEMS: [(&str, &[u8]); 11] = [
    ("pulse", &[0, 1, 2, 4]),
    ("sweating", &[0, 1, 2, 3, 4]),
    ("restlessness", &[0, 1, 3, 5]),
    ("pupils", &[0, 1, 2, 5]),
    ("bone_joint_aches", &[0, 1, 2, 4]),
    ("runny_nose_tearing", &[0, 1, 2, 4]),
    ("gi_upset", &[0, 1, 2, 3, 5]),
    ("tremor", &[0, 1, 2, 4]),
    ("yawning", &[0, 1, 2, 4]),
    ("anxiety_irritability", &[0, 1, 2, 4]),
    ("gooseflesh", &[0, 3, 5]),
];

/// What each allowed value means at the bedside, per item in form order
/// (the anchors of the Wesson & Ling form, in short words for a select list).
pub const ANCHORS: [(&str, &[(u8, &str)]); 11] = [
    (
        "Resting pulse after one minute sitting",
        &[
            (0, "80 or below"),
            (1, "81–100"),
            (2, "101–120"),
            (4, "above 120"),
        ],
    ),
    (
        "Sweating in the last half hour, not explained by room temperature or activity",
        &[
            (0, "none"),
            (1, "reports chills or flushing"),
            (2, "flushed or moist face"),
            (3, "beads of sweat on brow or face"),
            (4, "sweat streaming off the face"),
        ],
    ),
    (
        "Restlessness during the assessment",
        &[
            (0, "sits still"),
            (1, "says it is hard to sit still, but does"),
            (3, "shifts often or moves arms and legs"),
            (5, "cannot sit still for more than a few seconds"),
        ],
    ),
    (
        "Pupil size",
        &[
            (0, "pinpoint or normal for the light"),
            (1, "possibly larger than normal"),
            (2, "moderately dilated"),
            (5, "so dilated only the rim of the iris shows"),
        ],
    ),
    (
        "Bone or joint aches (new, from withdrawal)",
        &[
            (0, "none"),
            (1, "mild diffuse discomfort"),
            (2, "severe diffuse aching"),
            (
                4,
                "rubbing joints or muscles, cannot sit still for the discomfort",
            ),
        ],
    ),
    (
        "Runny nose or tearing (not from a cold or allergy)",
        &[
            (0, "none"),
            (1, "stuffy nose or unusually moist eyes"),
            (2, "nose running or tearing"),
            (4, "nose constantly running or tears streaming"),
        ],
    ),
    (
        "Stomach upset in the last half hour",
        &[
            (0, "none"),
            (1, "stomach cramps"),
            (2, "nausea or loose stool"),
            (3, "vomiting or diarrhea"),
            (5, "several episodes of vomiting or diarrhea"),
        ],
    ),
    (
        "Tremor of outstretched hands",
        &[
            (0, "none"),
            (1, "can be felt, not seen"),
            (2, "slight tremor visible"),
            (4, "gross tremor or muscle twitching"),
        ],
    ),
    (
        "Yawning during the assessment",
        &[
            (0, "none"),
            (1, "once or twice"),
            (2, "three or more times"),
            (4, "several times a minute"),
        ],
    ),
    (
        "Anxiety or irritability",
        &[
            (0, "none"),
            (1, "reports growing irritability or anxiety"),
            (2, "obviously irritable or anxious"),
            (4, "so irritable or anxious that taking part is difficult"),
        ],
    ),
    (
        "Gooseflesh",
        &[
            (0, "skin smooth"),
            (3, "piloerection can be felt, or hairs stand up on the arms"),
            (5, "prominent piloerection"),
        ],
    ),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Band {
    BelowMild,
    Mild,
    Moderate,
    ModeratelySevere,
    Severe,
}

impl Band {
    pub fn label(self) -> &'static str {
        match self {
            Band::BelowMild => "below the mild threshold",
            Band::Mild => "mild",
            Band::Moderate => "moderate",
            Band::ModeratelySevere => "moderately severe",
            Band::Severe => "severe",
        }
    }
}

/// The band of a total (Wesson & Ling 2003 scoring key).
pub fn band(total: u8) -> Band {
    match total {
        0..=4 => Band::BelowMild,
        5..=12 => Band::Mild,
        13..=24 => Band::Moderate,
        25..=36 => Band::ModeratelySevere,
        _ => Band::Severe,
    }
}

/// Map a resting pulse in beats per minute to the item score
/// (≤80 → 0, 81–100 → 1, 101–120 → 2, >120 → 4).
pub fn pulse_score(bpm: u16) -> u8 {
    match bpm {
        0..=80 => 0,
        81..=100 => 1,
        101..=120 => 2,
        _ => 4,
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    /// Item name → score; `pulse_bpm` may replace `pulse`.
    pub items: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Output {
    pub total: u8,
    pub band: Band,
    pub band_label: String,
    /// Item scores in form order.
    pub items: BTreeMap<String, u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pulse_bpm: Option<u16>,
    pub citation: String,
}

fn allowed(vals: &[u8]) -> String {
    vals.iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn as_int(field: &str, v: &serde_json::Value) -> Result<i64> {
    v.as_i64()
        .ok_or_else(|| InputError::new(field, "must be a whole number"))
}

/// Score a COWS administration, validating every item against its set.
pub fn score(input: &Input) -> Result<Output> {
    let names: Vec<&str> = ITEMS.iter().map(|i| i.0).collect();
    for k in input.items.keys() {
        if k != "pulse_bpm" && !names.contains(&k.as_str()) {
            return Err(InputError::new(
                format!("items.{k}"),
                format!(
                    "unknown item; expected one of {}, or pulse_bpm",
                    names.join(", ")
                ),
            ));
        }
    }
    let mut items = BTreeMap::new();
    let mut pulse_bpm = None;
    for (name, set) in ITEMS {
        let field = format!("items.{name}");
        let value = match (name, input.items.get(name), input.items.get("pulse_bpm")) {
            ("pulse", Some(_), Some(_)) => {
                return Err(InputError::new(
                    "items.pulse_bpm",
                    "give pulse or pulse_bpm, not both",
                ));
            }
            ("pulse", None, Some(bpm)) => {
                let b = as_int("items.pulse_bpm", bpm)?;
                if !(20..=250).contains(&b) {
                    return Err(InputError::new(
                        "items.pulse_bpm",
                        "must be a resting pulse between 20 and 250 beats per minute",
                    ));
                }
                pulse_bpm = Some(b as u16);
                pulse_score(b as u16)
            }
            (_, Some(v), _) => {
                let n = as_int(&field, v)?;
                match u8::try_from(n).ok().filter(|n| set.contains(n)) {
                    Some(n) => n,
                    None => {
                        return Err(InputError::new(
                            field,
                            format!("{n} is not allowed; allowed values are {}", allowed(set)),
                        ));
                    }
                }
            }
            (_, None, _) => {
                let extra = if name == "pulse" {
                    " (or give pulse_bpm)"
                } else {
                    ""
                };
                return Err(InputError::new(
                    field,
                    format!("is required{extra}; allowed values are {}", allowed(set)),
                ));
            }
        };
        items.insert(name.to_string(), value);
    }
    let total: u8 = items.values().sum();
    let b = band(total);
    Ok(Output {
        total,
        band: b,
        band_label: b.label().into(),
        items,
        pulse_bpm,
        citation: CITATION.into(),
    })
}

#[cfg(test)]
mod anchor_tests {
    use super::*;

    #[test]
    fn every_allowed_value_has_an_anchor() {
        for ((name, allowed), (_, anchors)) in ITEMS.iter().zip(ANCHORS.iter()) {
            let vals: Vec<u8> = anchors.iter().map(|a| a.0).collect();
            assert_eq!(&vals[..], *allowed, "{name}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn input(vals: [u8; 11]) -> Input {
        let mut m = BTreeMap::new();
        for ((name, _), v) in ITEMS.iter().zip(vals) {
            m.insert(name.to_string(), json!(v));
        }
        Input { items: m }
    }

    /// The worked examples of the domain reference (§1.3).
    #[test]
    fn published_examples() {
        let cases: [([u8; 11], u8, Band); 5] = [
            ([2, 2, 3, 2, 2, 2, 2, 2, 2, 2, 0], 21, Band::Moderate),
            ([2, 2, 1, 2, 1, 1, 1, 1, 1, 0, 0], 12, Band::Mild),
            ([4, 4, 5, 5, 4, 4, 3, 2, 2, 1, 3], 37, Band::Severe),
            ([1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0], 4, Band::BelowMild),
            ([4, 4, 5, 5, 4, 4, 5, 4, 4, 4, 5], 48, Band::Severe),
        ];
        for (vals, total, b) in cases {
            let o = score(&input(vals)).unwrap();
            assert_eq!((o.total, o.band), (total, b));
        }
    }

    #[test]
    fn band_boundaries() {
        assert_eq!(band(4), Band::BelowMild);
        assert_eq!(band(5), Band::Mild);
        assert_eq!(band(12), Band::Mild);
        assert_eq!(band(13), Band::Moderate);
        assert_eq!(band(24), Band::Moderate);
        assert_eq!(band(25), Band::ModeratelySevere);
        assert_eq!(band(36), Band::ModeratelySevere);
        assert_eq!(band(37), Band::Severe);
    }

    #[test]
    fn errors_name_the_item_and_the_set() {
        let mut i = input([0; 11]);
        i.items.insert("restlessness".into(), json!(2));
        let e = score(&i).unwrap_err();
        assert_eq!(e.field, "items.restlessness");
        assert!(e.message.contains("0, 1, 3, 5"));
        let mut i = input([0; 11]);
        i.items.remove("gooseflesh");
        assert_eq!(score(&i).unwrap_err().field, "items.gooseflesh");
        let mut i = input([0; 11]);
        i.items.insert("sneezing".into(), json!(1));
        assert_eq!(score(&i).unwrap_err().field, "items.sneezing");
    }

    #[test]
    fn pulse_in_bpm_is_mapped_and_kept() {
        let mut i = input([0; 11]);
        i.items.remove("pulse");
        i.items.insert("pulse_bpm".into(), json!(104));
        let o = score(&i).unwrap();
        assert_eq!(o.items["pulse"], 2);
        assert_eq!(o.pulse_bpm, Some(104));
        assert_eq!(
            (
                pulse_score(80),
                pulse_score(81),
                pulse_score(100),
                pulse_score(101),
                pulse_score(120),
                pulse_score(121)
            ),
            (0, 1, 1, 2, 2, 4)
        );
    }

    fn valid_items() -> impl Strategy<Value = [u8; 11]> {
        let sets: Vec<Vec<u8>> = ITEMS.iter().map(|(_, s)| s.to_vec()).collect();
        (
            proptest::sample::select(sets[0].clone()),
            proptest::sample::select(sets[1].clone()),
            proptest::sample::select(sets[2].clone()),
            proptest::sample::select(sets[3].clone()),
            proptest::sample::select(sets[4].clone()),
            proptest::sample::select(sets[5].clone()),
            proptest::sample::select(sets[6].clone()),
            proptest::sample::select(sets[7].clone()),
            proptest::sample::select(sets[8].clone()),
            proptest::sample::select(sets[9].clone()),
            proptest::sample::select(sets[10].clone()),
        )
            .prop_map(|t| [t.0, t.1, t.2, t.3, t.4, t.5, t.6, t.7, t.8, t.9, t.10])
    }

    proptest! {
        #[test]
        fn total_is_the_sum_and_bands_are_monotone(a in valid_items(), b in valid_items()) {
            let oa = score(&input(a)).unwrap();
            prop_assert_eq!(oa.total as u32, a.iter().map(|x| *x as u32).sum::<u32>());
            prop_assert!(oa.total <= 48);
            let ob = score(&input(b)).unwrap();
            if oa.total <= ob.total { prop_assert!(oa.band <= ob.band); }
        }

        #[test]
        fn values_outside_the_set_are_rejected(idx in 0usize..11, v in 0u8..10) {
            let (name, set) = ITEMS[idx];
            let mut i = input([0; 11]);
            i.items.insert(name.into(), json!(v));
            let r = score(&i);
            prop_assert_eq!(r.is_ok(), set.contains(&v));
        }
    }
}
