//! Programs (sites) and the clinic day.

use crate::FieldError;
use jiff::{Timestamp, civil::Date, tz::TimeZone};
use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// The type of a program. The list follows the service settings of SAMHSA's
/// treatment locator and the levels of care in the product brief.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProgramKind {
    WithdrawalManagement,
    Residential,
    PartialHospitalization,
    IntensiveOutpatient,
    Outpatient,
    OpioidTreatmentProgram,
    SoberLiving,
}

impl ProgramKind {
    pub const ALL: [ProgramKind; 7] = [
        ProgramKind::WithdrawalManagement,
        ProgramKind::Residential,
        ProgramKind::PartialHospitalization,
        ProgramKind::IntensiveOutpatient,
        ProgramKind::Outpatient,
        ProgramKind::OpioidTreatmentProgram,
        ProgramKind::SoberLiving,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProgramKind::WithdrawalManagement => "withdrawal_management",
            ProgramKind::Residential => "residential",
            ProgramKind::PartialHospitalization => "partial_hospitalization",
            ProgramKind::IntensiveOutpatient => "intensive_outpatient",
            ProgramKind::Outpatient => "outpatient",
            ProgramKind::OpioidTreatmentProgram => "opioid_treatment_program",
            ProgramKind::SoberLiving => "sober_living",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ProgramKind::WithdrawalManagement => "Withdrawal management (detox)",
            ProgramKind::Residential => "Residential",
            ProgramKind::PartialHospitalization => "Partial hospitalization",
            ProgramKind::IntensiveOutpatient => "Intensive outpatient",
            ProgramKind::Outpatient => "Outpatient",
            ProgramKind::OpioidTreatmentProgram => "Opioid treatment program",
            ProgramKind::SoberLiving => "Sober living",
        }
    }
}

impl FromStr for ProgramKind {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ProgramKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| FieldError::new("kind", format!("unknown program type {s:?}")))
    }
}

/// Stored program kinds decode with this (`#[sqlx(try_from = "String")]`).
impl TryFrom<String> for ProgramKind {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

/// Parse an IANA time-zone name (e.g. `America/New_York`) from the bundled database.
pub fn parse_time_zone(name: &str) -> Result<TimeZone, FieldError> {
    TimeZone::get(name)
        .map_err(|_| FieldError::new("timezone", format!("unknown IANA time zone {name:?}")))
}

/// The clinic day: the calendar date at the program's location when `at` happened.
/// Dosing rules ("one dose per dosing day") count days in this calendar, never in
/// UTC, so a 1 a.m. dose and an 11 p.m. dose the same local day are the same day
/// even though they straddle UTC midnight.
pub fn clinic_day(at: Timestamp, tz: &TimeZone) -> Date {
    at.to_zoned(tz.clone()).date()
}

/// The UTC instants bounding a clinic day: `[start, end)`, correct across DST changes.
pub fn clinic_day_bounds(day: Date, tz: &TimeZone) -> (Timestamp, Timestamp) {
    let start = day
        .to_zoned(tz.clone())
        .expect("start of day exists in every zone")
        .timestamp();
    let next = day.tomorrow().expect("date in range");
    let end = next
        .to_zoned(tz.clone())
        .expect("start of day exists in every zone")
        .timestamp();
    (start, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clinic_day_uses_local_calendar() {
        let tz = parse_time_zone("America/New_York").unwrap();
        // 2026-11-22T03:30Z is still 22:30 on the 21st in New York (EST, UTC-5).
        let at: Timestamp = "2026-11-22T03:30:00Z".parse().unwrap();
        assert_eq!(clinic_day(at, &tz), jiff::civil::date(2026, 11, 21));
        let at: Timestamp = "2026-11-22T05:30:00Z".parse().unwrap();
        assert_eq!(clinic_day(at, &tz), jiff::civil::date(2026, 11, 22));
    }

    #[test]
    fn dst_day_is_23_hours() {
        let tz = parse_time_zone("America/Los_Angeles").unwrap();
        let (s, e) = clinic_day_bounds(jiff::civil::date(2026, 3, 8), &tz);
        assert_eq!((e.as_second() - s.as_second()) / 3600, 23);
        assert!(parse_time_zone("Mars/Olympus").is_err());
    }

    #[test]
    fn kinds_round_trip() {
        for k in ProgramKind::ALL {
            assert_eq!(k.as_str().parse::<ProgramKind>().unwrap(), k);
        }
    }
}
