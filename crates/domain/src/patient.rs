//! Validated patient demographics (the part of the record the foundation owns;
//! the full registration record grows in later work).

use crate::FieldError;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

/// Sex recorded at registration (TEDS "SEX" uses male/female/unknown; we add intersex).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Female,
    Male,
    Intersex,
    Unknown,
}

impl Sex {
    pub const ALL: [Sex; 4] = [Sex::Female, Sex::Male, Sex::Intersex, Sex::Unknown];
    pub fn as_str(self) -> &'static str {
        match self {
            Sex::Female => "female",
            Sex::Male => "male",
            Sex::Intersex => "intersex",
            Sex::Unknown => "unknown",
        }
    }
    pub fn parse(s: &str) -> Result<Sex, FieldError> {
        Sex::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| FieldError::new("sex", "must be one of female, male, intersex, unknown"))
    }
}

/// Input for registering a patient, before validation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PatientInput {
    pub legal_first_name: String,
    pub legal_last_name: String,
    #[serde(default)]
    pub preferred_name: Option<String>,
    /// ISO date, `YYYY-MM-DD`.
    pub date_of_birth: String,
    pub sex: String,
}

/// Validated demographics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Demographics {
    pub legal_first_name: String,
    pub legal_last_name: String,
    pub preferred_name: Option<String>,
    pub date_of_birth: Date,
    pub sex: Sex,
}

fn name(field: &'static str, v: &str) -> Result<String, FieldError> {
    let t = v.trim();
    if t.is_empty() {
        return Err(FieldError::new(field, "is required"));
    }
    if t.chars().count() > 100 {
        return Err(FieldError::new(field, "must be at most 100 characters"));
    }
    if t.chars().any(char::is_control) {
        return Err(FieldError::new(field, "may not contain control characters"));
    }
    Ok(t.to_string())
}

/// Parse a date of birth: ISO `YYYY-MM-DD`, not after `today`, not before 1900.
pub fn parse_dob(v: &str, today: Date) -> Result<Date, FieldError> {
    let d: Date = v
        .trim()
        .parse()
        .map_err(|_| FieldError::new("date_of_birth", "must be a date written YYYY-MM-DD"))?;
    if d > today {
        return Err(FieldError::new("date_of_birth", "may not be in the future"));
    }
    if d.year() < 1900 {
        return Err(FieldError::new("date_of_birth", "must be in 1900 or later"));
    }
    Ok(d)
}

impl PatientInput {
    /// Validate against `today` (the caller's clinic day), naming the first bad field.
    pub fn validate(&self, today: Date) -> Result<Demographics, FieldError> {
        let preferred = match self.preferred_name.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(p) => Some(name("preferred_name", p)?),
        };
        Ok(Demographics {
            legal_first_name: name("legal_first_name", &self.legal_first_name)?,
            legal_last_name: name("legal_last_name", &self.legal_last_name)?,
            preferred_name: preferred,
            date_of_birth: parse_dob(&self.date_of_birth, today)?,
            sex: Sex::parse(self.sex.trim())?,
        })
    }
}

/// The Luhn check digit of a string of decimal digits (ISO/IEC 7812-1 Annex B),
/// so a mistyped medical record number is caught at the front desk.
pub fn luhn_digit(digits: &str) -> u8 {
    let mut sum = 0u32;
    for (i, c) in digits.chars().rev().enumerate() {
        let mut d = c.to_digit(10).unwrap_or(0);
        if i % 2 == 0 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    ((10 - (sum % 10)) % 10) as u8
}

/// Format a medical record number from a 7-digit serial: `CP` + serial + check digit.
pub fn mrn_from_serial(serial: u32) -> String {
    let body = format!("{:07}", serial % 10_000_000);
    format!("CP{body}{}", luhn_digit(&body))
}

/// Whether an MRN is well-formed and its check digit correct.
pub fn mrn_is_valid(mrn: &str) -> bool {
    let Some(rest) = mrn.strip_prefix("CP") else {
        return false;
    };
    if rest.len() != 8 || !rest.chars().all(|c| c.is_ascii_digit()) {
        return false;
    }
    let (body, check) = rest.split_at(7);
    check.parse::<u8>().ok() == Some(luhn_digit(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn today() -> Date {
        jiff::civil::date(2026, 11, 22)
    }

    #[test]
    fn validation_names_fields() {
        let mut p = PatientInput {
            legal_first_name: " Ana ".into(),
            legal_last_name: "Diaz".into(),
            preferred_name: Some("".into()),
            date_of_birth: "1990-02-03".into(),
            sex: "female".into(),
        };
        let d = p.validate(today()).unwrap();
        assert_eq!(d.legal_first_name, "Ana");
        assert_eq!(d.preferred_name, None);
        p.date_of_birth = "2030-01-01".into();
        assert_eq!(p.validate(today()).unwrap_err().field, "date_of_birth");
        p.date_of_birth = "03/02/1990".into();
        assert_eq!(p.validate(today()).unwrap_err().field, "date_of_birth");
        p.date_of_birth = "1990-02-03".into();
        p.legal_last_name = "  ".into();
        assert_eq!(p.validate(today()).unwrap_err().field, "legal_last_name");
    }

    #[test]
    fn luhn_known_value() {
        // The classic example from ISO/IEC 7812: 7992739871 has check digit 3.
        assert_eq!(luhn_digit("7992739871"), 3);
    }

    proptest! {
        #[test]
        fn mrns_validate_and_catch_single_digit_typos(serial in 0u32..10_000_000, pos in 2usize..9, delta in 1u32..10) {
            let m = mrn_from_serial(serial);
            prop_assert!(mrn_is_valid(&m));
            let mut chars: Vec<char> = m.chars().collect();
            let d = chars[pos].to_digit(10).unwrap();
            chars[pos] = char::from_digit((d + delta) % 10, 10).unwrap();
            let typo: String = chars.into_iter().collect();
            prop_assert!(!mrn_is_valid(&typo));
        }
    }
}

/// Whether two registrations may be the same person: the same date of birth
/// and names that are near-identical after normalization (Jaro–Winkler ≥ 0.9 on
/// "last first", or first and last swapped). Flags, never merges: a person
/// decides (duplicate records split a patient's history, which is a safety risk).
pub fn possible_duplicate(a: &Demographics, b_first: &str, b_last: &str, b_dob: &str) -> bool {
    if a.date_of_birth.to_string() != b_dob {
        return false;
    }
    let norm = |s: &str| {
        s.trim()
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == ' ')
            .collect::<String>()
    };
    let (af, al, bf, bl) = (
        norm(&a.legal_first_name),
        norm(&a.legal_last_name),
        norm(b_first),
        norm(b_last),
    );
    let same = |x: &str, y: &str| strsim::jaro_winkler(x, y) >= 0.9;
    same(&format!("{al} {af}"), &format!("{bl} {bf}")) || (same(&af, &bl) && same(&al, &bf))
}

#[cfg(test)]
mod duplicate_tests {
    use super::*;

    fn d(first: &str, last: &str, dob: &str) -> Demographics {
        PatientInput {
            legal_first_name: first.into(),
            legal_last_name: last.into(),
            preferred_name: None,
            date_of_birth: dob.into(),
            sex: "unknown".into(),
        }
        .validate(jiff::civil::date(2026, 11, 22))
        .unwrap()
    }

    #[test]
    fn flags_typos_and_swaps_on_the_same_birthday_only() {
        let a = d("Jonathan", "Smith", "1990-01-02");
        assert!(
            possible_duplicate(&a, "Jonathon", "Smith", "1990-01-02"),
            "one-letter typo"
        );
        assert!(
            possible_duplicate(&a, "Smith", "Jonathan", "1990-01-02"),
            "first and last swapped"
        );
        assert!(
            !possible_duplicate(&a, "Jonathan", "Smith", "1990-01-03"),
            "another birthday"
        );
        assert!(
            !possible_duplicate(&a, "Maria", "Lopez", "1990-01-02"),
            "another person"
        );
    }
}
