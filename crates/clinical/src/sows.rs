//! SOWS — Subjective Opiate Withdrawal Scale (Handelsman et al. 1987).
//!
//! Source: Handelsman L, Cochrane KJ, Aronson MJ, et al. Two new rating scales
//! for opiate withdrawal. Am J Drug Alcohol Abuse 1987;13(3):293-308. 16
//! self-rated items, 0 (not at all) to 4 (extremely); total 0–64. No published
//! severity bands exist, so bands are optional input (site configuration).

use crate::{InputError, Result};
use serde::{Deserialize, Serialize};

pub const CITATION: &str = "Handelsman et al., Am J Drug Alcohol Abuse 1987;13(3):293-308 (SOWS)";

/// Items in the published order.
pub const ITEMS: [&str; 16] = [
    "anxious",
    "yawning",
    "perspiring",
    "eyes_tearing",
    "nose_running",
    "gooseflesh",
    "shaking",
    "hot_flashes",
    "cold_flashes",
    "bones_muscles_ache",
    "restless",
    "nauseous",
    "feel_like_vomiting",
    "muscles_twitch",
    "stomach_cramps",
    "craving",
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BandDef {
    pub min: u8,
    pub max: u8,
    pub label: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    /// 16 scores in the published order.
    pub items: Vec<serde_json::Value>,
    /// Site-configured bands (none by default).
    #[serde(default)]
    pub bands: Vec<BandDef>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemScore {
    pub item: String,
    pub score: u8,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Output {
    pub total: u8,
    /// The site band containing the total, if bands were given.
    pub band: Option<String>,
    pub items: Vec<ItemScore>,
    pub citation: String,
}

pub fn score(input: &Input) -> Result<Output> {
    if input.items.len() != 16 {
        return Err(InputError::new(
            "items",
            format!(
                "must list 16 scores in the published order ({}); got {}",
                ITEMS.join(", "),
                input.items.len()
            ),
        ));
    }
    let mut items = Vec::with_capacity(16);
    for (i, v) in input.items.iter().enumerate() {
        let field = format!("items[{i}]");
        let n = v.as_i64().filter(|n| (0..=4).contains(n)).ok_or_else(|| {
            InputError::new(
                field.clone(),
                format!("{} ({}) must be 0, 1, 2, 3 or 4", ITEMS[i], v),
            )
        })?;
        items.push(ItemScore {
            item: ITEMS[i].into(),
            score: n as u8,
        });
    }
    // Bands must not overlap and must lie within 0–64.
    let mut sorted = input.bands.clone();
    sorted.sort_by_key(|b| b.min);
    for (i, b) in sorted.iter().enumerate() {
        if b.min > b.max || b.max > 64 {
            return Err(InputError::new(
                "bands",
                format!("band {:?} must have min ≤ max ≤ 64", b.label),
            ));
        }
        if i > 0 && sorted[i - 1].max >= b.min {
            return Err(InputError::new("bands", "bands overlap"));
        }
    }
    let total: u8 = items.iter().map(|i| i.score).sum();
    let band = sorted
        .iter()
        .find(|b| (b.min..=b.max).contains(&total))
        .map(|b| b.label.clone());
    Ok(Output {
        total,
        band,
        items,
        citation: CITATION.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn range_and_validation() {
        let max = Input {
            items: vec![json!(4); 16],
            bands: vec![],
        };
        assert_eq!(score(&max).unwrap().total, 64);
        let short = Input {
            items: vec![json!(1); 15],
            bands: vec![],
        };
        assert_eq!(score(&short).unwrap_err().field, "items");
        let mut bad = vec![json!(0); 16];
        bad[5] = json!(5);
        let e = score(&Input {
            items: bad,
            bands: vec![],
        })
        .unwrap_err();
        assert_eq!(e.field, "items[5]");
        assert!(e.message.contains("gooseflesh"));
    }

    #[test]
    fn bands_are_configurable_and_absent_by_default() {
        let i = Input {
            items: vec![json!(1); 16],
            bands: vec![],
        };
        assert_eq!(score(&i).unwrap().band, None);
        let bands = vec![
            BandDef {
                min: 0,
                max: 10,
                label: "mild".into(),
            },
            BandDef {
                min: 11,
                max: 20,
                label: "moderate".into(),
            },
            BandDef {
                min: 21,
                max: 64,
                label: "severe".into(),
            },
        ];
        let i = Input {
            items: vec![json!(1); 16],
            bands: bands.clone(),
        };
        assert_eq!(score(&i).unwrap().band.as_deref(), Some("moderate"));
        let overlapping = vec![
            BandDef {
                min: 0,
                max: 10,
                label: "a".into(),
            },
            BandDef {
                min: 10,
                max: 20,
                label: "b".into(),
            },
        ];
        assert!(
            score(&Input {
                items: vec![json!(0); 16],
                bands: overlapping
            })
            .is_err()
        );
    }

    proptest! {
        #[test]
        fn total_is_sum(v in proptest::collection::vec(0u8..=4, 16)) {
            let i = Input { items: v.iter().map(|x| json!(x)).collect(), bands: vec![] };
            prop_assert_eq!(score(&i).unwrap().total as u32, v.iter().map(|x| *x as u32).sum::<u32>());
        }
    }
}
