//! Carepath's clinical rules: pure functions, no I/O, no clock reads (callers
//! pass the time), every rule citing its source. Facts marked UNVERIFIED in the
//! project's domain references are *parameters* with defaults, never hard limits.
//!
//! Every calculator takes a JSON-shaped input struct and returns a result
//! struct; [`calc::run`] dispatches by name for the CLI (`carepath calc`) and
//! the API (`POST /api/v1/calc/{name}`), so both give identical answers.
//!
//! Nothing here is medical advice: results are decision support for licensed
//! clinicians, to be reviewed by each program's medical director.

pub mod buprenorphine;
pub mod calc;
pub mod cm;
pub mod comfort;
pub mod consent;
pub mod course;
pub mod cows;
pub mod discharge;
pub mod drugtest;
pub mod flowsheet;
pub mod injection;
pub mod level_of_care;
pub mod methadone;
pub mod naltrexone;
pub mod oud;
pub mod policy;
pub mod screens;
pub mod selfreport;
pub mod sows;
pub mod takehome;
pub mod teds;

use serde::{Deserialize, Serialize};

/// Bad input: which field, and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InputError {
    pub field: String,
    pub message: String,
}

impl InputError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

pub type Result<T> = std::result::Result<T, InputError>;

/// A rule that a proposed order or dose breaks, with its source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Violation {
    /// Stable rule identifier, e.g. `methadone.first_dose_ceiling`.
    pub rule: String,
    pub message: String,
    pub citation: String,
    /// Whether a prescriber may override it with a written reason.
    pub overridable: bool,
}

/// Information for the clinician that does not block (e.g. "ECG review").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub rule: String,
    pub message: String,
    pub citation: String,
}

/// A violation a prescriber may override with a written reason.
pub(crate) fn overridable(rule: &str, message: String, citation: &str) -> Violation {
    Violation {
        rule: rule.into(),
        message,
        citation: citation.into(),
        overridable: true,
    }
}

/// An alert.
pub(crate) fn alert(rule: &str, message: String, citation: &str) -> Alert {
    Alert {
        rule: rule.into(),
        message,
        citation: citation.into(),
    }
}

/// A prescriber's documented decision to proceed despite violations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Override {
    /// Must be `prescriber`. (The API fills this from the signed-in user, not
    /// from the request body.)
    pub role: String,
    /// Who overrides (user id or name).
    pub by: String,
    /// The written rationale; at least 10 characters.
    pub reason: String,
}

/// Minimum length of an override reason.
pub const MIN_REASON: usize = 10;

impl Override {
    /// Check that the override is made by a prescriber with a written reason.
    pub fn validate(&self) -> Result<()> {
        if self.role != "prescriber" {
            return Err(InputError::new(
                "override.role",
                "only a prescriber may override a medication rule",
            ));
        }
        if self.by.trim().is_empty() {
            return Err(InputError::new("override.by", "name who overrides"));
        }
        if self.reason.trim().chars().count() < MIN_REASON {
            return Err(InputError::new(
                "override.reason",
                format!("write the clinical rationale (at least {MIN_REASON} characters)"),
            ));
        }
        Ok(())
    }
}

/// The verdict on a proposed order or dose.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// True when nothing blocks (no violations, or all overridden).
    pub approved: bool,
    /// Violations not covered by an override.
    pub violations: Vec<Violation>,
    /// Violations a valid prescriber override set aside.
    pub overridden: Vec<Violation>,
    pub alerts: Vec<Alert>,
    /// The override that was applied, if any.
    #[serde(rename = "override", skip_serializing_if = "Option::is_none")]
    pub override_applied: Option<Override>,
}

impl Verdict {
    /// Combine found violations with an optional override. Non-overridable
    /// violations always stand.
    pub fn decide(
        violations: Vec<Violation>,
        alerts: Vec<Alert>,
        ov: Option<&Override>,
    ) -> Result<Verdict> {
        if let Some(o) = ov {
            o.validate()?;
        }
        let (overridden, standing): (Vec<Violation>, Vec<Violation>) = match ov {
            Some(_) => violations.into_iter().partition(|v| v.overridable),
            None => (vec![], violations),
        };
        Ok(Verdict {
            approved: standing.is_empty(),
            override_applied: if overridden.is_empty() {
                None
            } else {
                ov.cloned()
            },
            violations: standing,
            overridden,
            alerts,
        })
    }
}

/// Milligram amounts are decimals with at most 3 places; carried as integer
/// micrograms internally so sums are exact.
pub fn mg_to_ug(field: &str, mg: f64) -> Result<i64> {
    if !mg.is_finite() || mg < 0.0 {
        return Err(InputError::new(
            field,
            "must be a non-negative number of milligrams",
        ));
    }
    if mg > 100_000.0 {
        return Err(InputError::new(field, "is implausibly large"));
    }
    let ug = (mg * 1000.0).round();
    if (ug - mg * 1000.0).abs() > 1e-6 {
        return Err(InputError::new(field, "use at most 3 decimal places"));
    }
    Ok(ug as i64)
}

/// Micrograms back to milligrams for output.
pub fn ug_to_mg(ug: i64) -> f64 {
    ug as f64 / 1000.0
}
