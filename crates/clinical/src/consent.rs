//! Consent to disclose substance-use-disorder records (42 CFR Part 2, as
//! amended 2024) and the check every disclosure out of Carepath runs.
//!
//! - § 2.31(a): a written consent names the recipient, describes how much and
//!   what kind of information (including the SUD information), states the
//!   purpose, the right to revoke, an expiry date or event ("end of treatment"
//!   or "none" allowed for the single TPO consent), and carries the patient's
//!   signature and the date.
//! - § 2.31 (2024): one consent may cover all future uses and disclosures for
//!   treatment, payment and health-care operations (TPO) until revoked in
//!   writing; it cannot authorize other purposes.
//! - § 2.32: each disclosure made with consent carries a notice; Statement 2
//!   (short form) is used here.
//! - § 2.25: an accounting of disclosures made with consent is owed to the patient.

use crate::{InputError, Result};
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

pub const CITATION: &str =
    "42 CFR § 2.31 (consent requirements), § 2.32 (notice), § 2.25 (accounting)";

/// § 2.32(a)(2), Statement 2 (short form), in its verified pre-2024 wording.
pub const REDISCLOSURE_NOTICE: &str =
    "42 CFR part 2 prohibits unauthorized disclosure of these records.";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Consent to treatment (not a disclosure consent).
    Treatment,
    /// The single consent for treatment, payment and health-care operations.
    Tpo,
    /// A specific disclosure consent (recipient, information, purpose).
    Disclosure,
    /// Family involvement: what a named family contact may be told.
    Family,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Treatment, Kind::Tpo, Kind::Disclosure, Kind::Family];
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Treatment => "treatment",
            Kind::Tpo => "tpo",
            Kind::Disclosure => "disclosure",
            Kind::Family => "family",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Kind::Treatment => "Consent to treatment",
            Kind::Tpo => "Treatment, payment and operations (TPO)",
            Kind::Disclosure => "Disclosure to a named recipient",
            Kind::Family => "Family involvement",
        }
    }
}

/// A consent as signed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Consent {
    pub kind: Kind,
    /// Who may receive (a named person or entity; for TPO, a general designation).
    #[serde(default)]
    pub recipient: String,
    /// How much and what kind of information, including the SUD information.
    #[serde(default)]
    pub information: String,
    #[serde(default)]
    pub purpose: String,
    /// Expiry date (`YYYY-MM-DD`), or none when an event is given.
    #[serde(default)]
    pub expires_on: Option<String>,
    /// Expiry event, e.g. "end of treatment"; "none" only for TPO.
    #[serde(default)]
    pub expiry_event: Option<String>,
    /// The patient's (or legal representative's) typed signature.
    pub signed_by: String,
    /// `YYYY-MM-DD`.
    pub signed_on: String,
}

fn need(field: &str, v: &str, what: &str) -> Result<()> {
    if v.trim().chars().count() < 2 {
        return Err(InputError::new(field, format!("§ 2.31 requires {what}")));
    }
    Ok(())
}

fn date(field: &str, s: &str) -> Result<Date> {
    s.trim()
        .parse()
        .map_err(|_| InputError::new(field, "must be a date, YYYY-MM-DD"))
}

/// Check that a consent has every element § 2.31 requires for its kind.
pub fn validate(c: &Consent, today: Date) -> Result<()> {
    need("signed_by", &c.signed_by, "the signature of the patient")?;
    let signed = date("signed_on", &c.signed_on)?;
    if signed > today {
        return Err(InputError::new("signed_on", "cannot be in the future"));
    }
    if matches!(c.kind, Kind::Disclosure | Kind::Family | Kind::Tpo) {
        need("recipient", &c.recipient, "the name of the recipient")?;
        need(
            "information",
            &c.information,
            "a description of how much and what kind of information, including the SUD information",
        )?;
        need("purpose", &c.purpose, "the purpose of the disclosure")?;
        let event = c.expiry_event.as_deref().map(str::trim).unwrap_or("");
        match (&c.expires_on, event) {
            (Some(d), _) if !d.trim().is_empty() => {
                let d = date("expires_on", d)?;
                if d < signed {
                    return Err(InputError::new(
                        "expires_on",
                        "is before the signature date",
                    ));
                }
            }
            (_, "") => {
                return Err(InputError::new(
                    "expires_on",
                    "§ 2.31 requires an expiry date or event",
                ));
            }
            (_, "none") if c.kind != Kind::Tpo => {
                return Err(InputError::new(
                    "expiry_event",
                    "only the TPO consent may run until revoked (\"none\")",
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// A proposed disclosure.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Request {
    pub recipient: String,
    pub purpose: String,
}

/// The state of a consent at the time of a disclosure.
#[derive(Debug, Clone, Copy)]
pub struct Standing {
    pub revoked: bool,
    /// Treatment has ended (for an "end of treatment" expiry event).
    pub treatment_ended: bool,
    pub today: Date,
}

fn norm(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Whether `c` permits disclosure `r` now; the error says why not.
pub fn permits(c: &Consent, st: Standing, r: &Request) -> std::result::Result<(), String> {
    match c.kind {
        Kind::Treatment => return Err("a consent to treatment does not permit disclosure".into()),
        Kind::Tpo => {
            let p = norm(&r.purpose);
            if ![
                "treatment",
                "payment",
                "health care operations",
                "operations",
            ]
            .iter()
            .any(|x| p.starts_with(x))
            {
                return Err(
                    "the TPO consent covers only treatment, payment and health-care operations (§ 2.31)"
                        .into(),
                );
            }
        }
        Kind::Disclosure | Kind::Family => {
            if norm(&c.recipient) != norm(&r.recipient) {
                return Err(format!(
                    "the consent names {:?} as recipient, not {:?}",
                    c.recipient, r.recipient
                ));
            }
        }
    }
    if st.revoked {
        return Err("the consent was revoked".into());
    }
    if let Some(d) = c.expires_on.as_deref().filter(|d| !d.trim().is_empty()) {
        match d.trim().parse::<Date>() {
            Ok(d) if st.today > d => return Err(format!("the consent expired on {d}")),
            Ok(_) => {}
            Err(_) => return Err("the consent's expiry date is unreadable".into()),
        }
    }
    if let Some(e) = &c.expiry_event
        && norm(e).contains("end of treatment")
        && st.treatment_ended
    {
        return Err("the consent expired at the end of treatment".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use proptest::prelude::*;

    fn consent() -> Consent {
        Consent {
            kind: Kind::Disclosure,
            recipient: "Dr. Ana Lopez, Eastside Primary Care".into(),
            information:
                "Diagnosis, medication and dose, last 3 drug tests (SUD treatment information)"
                    .into(),
            purpose: "coordination of care".into(),
            expires_on: Some("2027-06-30".into()),
            expiry_event: None,
            signed_by: "Jordan Smith".into(),
            signed_on: "2026-11-01".into(),
        }
    }

    fn st(today: Date) -> Standing {
        Standing {
            revoked: false,
            treatment_ended: false,
            today,
        }
    }

    #[test]
    fn a_complete_consent_permits_its_recipient() {
        let c = consent();
        validate(&c, date(2026, 11, 22)).unwrap();
        let r = Request {
            recipient: "dr. ana lopez,  eastside primary care".into(),
            purpose: "coordination of care".into(),
        };
        permits(&c, st(date(2026, 11, 22)), &r).unwrap();
        let other = Request {
            recipient: "Acme Insurance".into(),
            purpose: "x".into(),
        };
        assert!(permits(&c, st(date(2026, 11, 22)), &other).is_err());
        let mut revoked = st(date(2026, 11, 22));
        revoked.revoked = true;
        assert!(permits(&c, revoked, &r).unwrap_err().contains("revoked"));
        assert!(
            permits(&c, st(date(2027, 7, 1)), &r)
                .unwrap_err()
                .contains("expired")
        );
    }

    #[test]
    fn missing_elements_are_named() {
        let today = date(2026, 11, 22);
        let mut c = consent();
        c.recipient = "".into();
        assert_eq!(validate(&c, today).unwrap_err().field, "recipient");
        let mut c = consent();
        c.expires_on = None;
        assert_eq!(validate(&c, today).unwrap_err().field, "expires_on");
        c.expiry_event = Some("none".into());
        assert_eq!(validate(&c, today).unwrap_err().field, "expiry_event");
        c.kind = Kind::Tpo;
        validate(&c, today).unwrap();
        let mut c = consent();
        c.signed_on = "2026-12-01".into();
        assert_eq!(validate(&c, today).unwrap_err().field, "signed_on");
    }

    #[test]
    fn tpo_consent_is_limited_to_tpo() {
        let mut c = consent();
        c.kind = Kind::Tpo;
        let today = st(date(2026, 11, 22));
        permits(
            &c,
            today,
            &Request {
                recipient: "anyone".into(),
                purpose: "payment".into(),
            },
        )
        .unwrap();
        assert!(
            permits(
                &c,
                today,
                &Request {
                    recipient: "anyone".into(),
                    purpose: "court proceeding".into()
                }
            )
            .is_err()
        );
    }

    proptest! {
        #[test]
        fn revoked_or_expired_never_permits(days in 0i64..2000, revoked: bool) {
            let c = consent();
            let today = date(2026, 11, 1).checked_add(jiff::Span::new().days(days)).unwrap();
            let r = Request { recipient: c.recipient.clone(), purpose: c.purpose.clone() };
            let ok = permits(&c, Standing { revoked, treatment_ended: false, today }, &r).is_ok();
            prop_assert_eq!(ok, !revoked && today <= date(2027, 6, 30));
        }
    }
}
