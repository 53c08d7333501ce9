//! Carepath's pure core. Everything here is deterministic and free of I/O: no
//! database, no network, no clock reads (callers pass the time in).
//!
//! - [`ids`]: typed UUIDv7 identifiers, never sequential integers in URLs.
//! - [`authz`]: roles, permissions and the single authorization table.
//! - [`audit`]: the audit-event model and its SHA-256 hash chain.
//! - [`program`]: program (site) types and the clinic-local "dosing day".
//! - [`patient`]: validated patient demographics.
//! - [`password`]: the password policy.

pub mod audit;
pub mod authz;
pub mod ids;
pub mod password;
pub mod patient;
pub mod program;

/// An error in input supplied by a person or client, naming the offending field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: std::borrow::Cow<'static, str>,
    pub message: String,
}

impl FieldError {
    pub fn new(
        field: impl Into<std::borrow::Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}
