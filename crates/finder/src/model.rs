//! A treatment facility.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Facility {
    /// Stable id: derived from the normalized name and address.
    pub id: String,
    pub name: String,
    pub name2: Option<String>,
    pub street: String,
    pub city: String,
    pub state: String,
    pub zip: String,
    pub phone: Option<String>,
    pub latitude: f64,
    pub longitude: f64,
    /// SAMHSA service codes, sorted and unique (unknown codes kept raw).
    pub codes: Vec<String>,
    /// Which files listed it (e.g. `samhsa-csv`, `samhsa-keys`, `otp-directory`).
    pub sources: Vec<String>,
    /// Live information for programs run in this Carepath instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<Live>,
}

/// What a program running Carepath publishes about itself, kept current by its staff.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Live {
    pub program_id: String,
    pub accepting_new_patients: bool,
    pub open_beds: Option<i64>,
    pub waitlist_days: Option<i64>,
    pub same_day_medication: bool,
    /// ISO date the information was last verified.
    pub last_verified: String,
    /// Opening hours as the program states them ("Mon–Fri 5:30–13:00,
    /// Sat 7–10"); empty when it has not said.
    #[serde(default)]
    pub hours: String,
}

/// Normalize text for de-duplication: lowercase ASCII letters and digits,
/// single spaces, common street words abbreviated.
pub fn normalize(s: &str) -> String {
    let lowered: String = s
        .chars()
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                ' '
            }
        })
        .collect();
    lowered
        .split_whitespace()
        .map(|w| match w {
            "street" => "st",
            "avenue" => "ave",
            "road" => "rd",
            "boulevard" => "blvd",
            "drive" => "dr",
            "lane" => "ln",
            "court" => "ct",
            "suite" => "ste",
            "highway" => "hwy",
            "north" => "n",
            "south" => "s",
            "east" => "e",
            "west" => "w",
            "and" => "",
            "the" => "",
            "inc" | "llc" => "",
            other => other,
        })
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The de-duplication key and the stable id derived from it.
pub fn key(name: &str, street: &str, city: &str, state: &str) -> String {
    format!(
        "{}|{}|{}|{}",
        normalize(name),
        normalize(street),
        normalize(city),
        state.trim().to_uppercase()
    )
}

pub fn id_for(key: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(key.as_bytes())[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalization_merges_spellings() {
        assert_eq!(
            key(
                "A New Beginning, Inc.",
                "122 Helton Court",
                "Florence",
                "al"
            ),
            key("a new beginning", "122 HELTON CT.", "Florence", "AL")
        );
        assert_ne!(
            key("A", "1 Main St", "X", "AL"),
            key("A", "2 Main St", "X", "AL")
        );
        assert_eq!(id_for("x").len(), 16);
    }
}
