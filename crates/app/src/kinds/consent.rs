//! 42 CFR Part 2 consents (treatment, TPO, named-recipient disclosure, family
//! involvement; § 2.31 elements checked by the engine) and their written
//! revocations.

use super::{BODY_VERSION, Kind, encode, v1};
use crate::access::PatientScope;
use crate::error::Result;
use carepath_clinical::consent::{self, Consent};
use carepath_store::NewRecord;
use serde::{Deserialize, Serialize};

/// A stored consent: the consent as signed.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct ConsentBody {
    #[serde(default = "v1")]
    pub v: u32,
    #[serde(flatten)]
    pub consent: Consent,
}

/// A stored revocation (in writing, § 2.31(a)(4)).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct RevocationBody {
    #[serde(default = "v1")]
    pub v: u32,
    #[serde(default)]
    pub note: String,
}

pub fn build(s: &PatientScope, c: &Consent) -> Result<NewRecord> {
    consent::validate(c, s.today())?;
    let summary = match c.kind {
        consent::Kind::Treatment => "Consent to treatment signed".to_string(),
        k => format!(
            "Consent ({}): to {} for {}; until {}",
            k.label(),
            c.recipient.trim(),
            c.purpose.trim(),
            c.expires_on
                .clone()
                .filter(|d| !d.trim().is_empty())
                .or_else(|| c.expiry_event.clone())
                .unwrap_or_default()
        ),
    };
    let body = ConsentBody {
        v: BODY_VERSION,
        consent: c.clone(),
    };
    Ok(s.new_record(Kind::Consent, encode(&body)?, summary, s.now))
}

/// The revocation record of consent `root_id` (summary names the consent).
pub fn revocation(
    s: &PatientScope,
    consent_summary: &str,
    root_id: &str,
    note: &str,
) -> Result<NewRecord> {
    let body = RevocationBody {
        v: BODY_VERSION,
        note: note.trim().into(),
    };
    let mut r = s.new_record(
        Kind::ConsentRevocation,
        encode(&body)?,
        format!("Consent revoked: {consent_summary}"),
        s.now,
    );
    r.ref_id = Some(root_id.to_string());
    Ok(r)
}
