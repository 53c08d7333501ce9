//! Jurisdiction policy packs: data files in `policies/` at the repository root,
//! embedded in the binary. An unknown policy name is an error.

use crate::{InputError, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::OnceLock;

const FILES: [(&str, &str); 5] = [
    (
        "federal-2024",
        include_str!("../../../policies/federal-2024.toml"),
    ),
    (
        "federal-2001",
        include_str!("../../../policies/federal-2001.toml"),
    ),
    (
        "california",
        include_str!("../../../policies/california.toml"),
    ),
    ("virginia", include_str!("../../../policies/virginia.toml")),
    (
        "wisconsin",
        include_str!("../../../policies/wisconsin.toml"),
    ),
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    pub from_day: u32,
    pub max_supply: u32,
    #[serde(default)]
    pub max_per_week: Option<u32>,
    pub citation: String,
    pub verified: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ladder {
    pub tiers: Vec<Tier>,
}

impl Ladder {
    /// The tier in force on a day of continuous treatment (1-based).
    pub fn tier(&self, day: u32) -> Option<&Tier> {
        self.tiers
            .iter()
            .filter(|t| t.from_day <= day)
            .max_by_key(|t| t.from_day)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypeCeiling {
    pub max_supply: u32,
    pub citation: String,
    pub verified: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dosing {
    pub methadone_first_dose_max_mg: u32,
    pub methadone_first_day_max_mg: u32,
    pub first_dose_citation: String,
    pub verified: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub name: String,
    pub version: String,
    pub title: String,
    pub citation: String,
    #[serde(default)]
    pub stricter_than: Option<String>,
    pub criteria: Vec<String>,
    pub criteria_citation: String,
    pub closure_day_criteria: Vec<String>,
    pub closure_day_citation: String,
    pub dosing: Dosing,
    pub methadone: Ladder,
    pub buprenorphine: Ladder,
    pub treatment_types: BTreeMap<String, TypeCeiling>,
}

/// Name and version, carried in every result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRef {
    pub name: String,
    pub version: String,
}

impl Policy {
    pub fn reference(&self) -> PolicyRef {
        PolicyRef {
            name: self.name.clone(),
            version: self.version.clone(),
        }
    }
}

fn all() -> &'static BTreeMap<String, Policy> {
    static P: OnceLock<BTreeMap<String, Policy>> = OnceLock::new();
    P.get_or_init(|| {
        FILES
            .iter()
            .map(|(name, text)| {
                let p: Policy = toml::from_str(text)
                    .unwrap_or_else(|e| panic!("policy file {name} is invalid: {e}"));
                assert_eq!(&p.name, name, "policy file name and `name` differ");
                (p.name.clone(), p)
            })
            .collect()
    })
}

/// Names of the bundled policies.
pub fn names() -> Vec<&'static str> {
    FILES.iter().map(|f| f.0).collect()
}

/// A policy by name.
pub fn get(name: &str) -> Result<&'static Policy> {
    all().get(name).ok_or_else(|| {
        InputError::new(
            "policy",
            format!("unknown policy {name:?}; known: {}", names().join(", ")),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pack_parses_and_is_consistent() {
        for n in names() {
            let p = get(n).unwrap();
            for l in [&p.methadone, &p.buprenorphine] {
                assert_eq!(l.tiers[0].from_day, 1, "{n}: a ladder starts on day 1");
                assert!(
                    l.tiers.windows(2).all(|w| w[0].from_day < w[1].from_day),
                    "{n}: tiers ascend"
                );
            }
            assert!(
                p.closure_day_criteria
                    .iter()
                    .all(|c| p.criteria.contains(c)),
                "{n}"
            );
            assert!(
                p.treatment_types.contains_key("withdrawal_management")
                    && p.treatment_types.contains_key("interim")
            );
            if let Some(base) = &p.stricter_than {
                get(base).unwrap();
            }
        }
        assert!(get("texas").is_err());
    }
}
