//! The typed record kinds. Every kind of clinical record is a variant of
//! [`Kind`]; its stored body is a variant of [`Body`]; the kinds staff write
//! directly take an [`Input`]. Each kind's module owns its input (what a form
//! or the API sends), its body (what is stored: the input and the engine's
//! results, so the record shows what the clinician saw), its builder
//! (validate, compute with the clinical engine, return the record to append)
//! and the way back from a stored body to its input (to prefill a
//! correction). Nothing outside this module reads a body's JSON.
//!
//! Bodies carry a version `v` (absent in bodies written before it existed:
//! version 1); a reader reads every shape ever stored.

pub mod assessment;
pub mod calendar;
pub mod consent;
pub mod discharge;
pub mod flowsheet;
pub mod medication;
pub mod notes;

use crate::access::PatientScope;
use crate::error::{Error, Result, from_json};
use carepath_store::{NewRecord, Record};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The version of the body shapes written now.
pub const BODY_VERSION: u32 = 1;

pub(crate) fn v1() -> u32 {
    1
}

/// Every kind of clinical record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Assessment,
    Cows,
    Sows,
    Order,
    Administration,
    Note,
    Plan,
    Consent,
    ConsentRevocation,
    Attendance,
    Enrollment,
    Discharge,
    Followup,
    FollowupOutcome,
}

impl Kind {
    pub const ALL: [Kind; 14] = [
        Kind::Assessment,
        Kind::Cows,
        Kind::Sows,
        Kind::Order,
        Kind::Administration,
        Kind::Note,
        Kind::Plan,
        Kind::Consent,
        Kind::ConsentRevocation,
        Kind::Attendance,
        Kind::Enrollment,
        Kind::Discharge,
        Kind::Followup,
        Kind::FollowupOutcome,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Assessment => "assessment",
            Kind::Cows => "cows",
            Kind::Sows => "sows",
            Kind::Order => "order",
            Kind::Administration => "administration",
            Kind::Note => "note",
            Kind::Plan => "plan",
            Kind::Consent => "consent",
            Kind::ConsentRevocation => "consent_revocation",
            Kind::Attendance => "attendance",
            Kind::Enrollment => "enrollment",
            Kind::Discharge => "discharge",
            Kind::Followup => "followup",
            Kind::FollowupOutcome => "followup_outcome",
        }
    }

    /// Words for timelines.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Assessment => "Assessment",
            Kind::Cows => "COWS",
            Kind::Sows => "SOWS",
            Kind::Order => "Order",
            Kind::Administration => "Medication",
            Kind::Note => "Note",
            Kind::Plan => "Treatment plan",
            Kind::Consent => "Consent",
            Kind::ConsentRevocation => "Consent revoked",
            Kind::Attendance => "Attendance",
            Kind::Enrollment => "Group",
            Kind::Discharge => "Discharge",
            Kind::Followup => "Follow-up call",
            Kind::FollowupOutcome => "Follow-up call",
        }
    }

    /// Kinds written directly by staff (created and corrected through the
    /// record forms and `POST /api/v1/patients/{id}/records/{kind}`); the
    /// others are written by their own services (discharge, calendar…).
    pub fn writable(self) -> bool {
        match self {
            Kind::Assessment
            | Kind::Cows
            | Kind::Sows
            | Kind::Order
            | Kind::Administration
            | Kind::Note
            | Kind::Plan
            | Kind::Consent => true,
            Kind::ConsentRevocation
            | Kind::Attendance
            | Kind::Enrollment
            | Kind::Discharge
            | Kind::Followup
            | Kind::FollowupOutcome => false,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Kind> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| Error::invalid("kind", format!("unknown kind of record {s:?}")))
    }
}

/// A stored body, typed by its kind.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Body {
    Assessment(Box<assessment::AssessmentBody>),
    Cows(flowsheet::CowsBody),
    Sows(flowsheet::SowsBody),
    Order(medication::OrderBody),
    Administration(medication::AdministrationBody),
    Note(notes::NoteBody),
    Plan(notes::PlanBody),
    Consent(consent::ConsentBody),
    ConsentRevocation(consent::RevocationBody),
    Attendance(calendar::AttendanceBody),
    Enrollment(calendar::EnrollmentBody),
    Discharge(discharge::DischargeBody),
    Followup(discharge::FollowupBody),
    FollowupOutcome(discharge::OutcomeBody),
}

impl Body {
    pub fn kind(&self) -> Kind {
        match self {
            Body::Assessment(_) => Kind::Assessment,
            Body::Cows(_) => Kind::Cows,
            Body::Sows(_) => Kind::Sows,
            Body::Order(_) => Kind::Order,
            Body::Administration(_) => Kind::Administration,
            Body::Note(_) => Kind::Note,
            Body::Plan(_) => Kind::Plan,
            Body::Consent(_) => Kind::Consent,
            Body::ConsentRevocation(_) => Kind::ConsentRevocation,
            Body::Attendance(_) => Kind::Attendance,
            Body::Enrollment(_) => Kind::Enrollment,
            Body::Discharge(_) => Kind::Discharge,
            Body::Followup(_) => Kind::Followup,
            Body::FollowupOutcome(_) => Kind::FollowupOutcome,
        }
    }

    /// Read a stored body of `kind` (any version ever written).
    pub fn decode(kind: Kind, text: &str) -> Result<Body> {
        fn de<T: serde::de::DeserializeOwned>(kind: Kind, text: &str) -> Result<T> {
            serde_json::from_str(text)
                .map_err(|e| Error::Internal(format!("stored {kind} body does not read: {e}")))
        }
        Ok(match kind {
            Kind::Assessment => Body::Assessment(Box::new(de(kind, text)?)),
            Kind::Cows => Body::Cows(de(kind, text)?),
            Kind::Sows => Body::Sows(de(kind, text)?),
            Kind::Order => Body::Order(de(kind, text)?),
            Kind::Administration => Body::Administration(de(kind, text)?),
            Kind::Note => Body::Note(de(kind, text)?),
            Kind::Plan => Body::Plan(de(kind, text)?),
            Kind::Consent => Body::Consent(de(kind, text)?),
            Kind::ConsentRevocation => Body::ConsentRevocation(de(kind, text)?),
            Kind::Attendance => Body::Attendance(de(kind, text)?),
            Kind::Enrollment => Body::Enrollment(de(kind, text)?),
            Kind::Discharge => Body::Discharge(de(kind, text)?),
            Kind::Followup => Body::Followup(de(kind, text)?),
            Kind::FollowupOutcome => Body::FollowupOutcome(de(kind, text)?),
        })
    }

    /// The body as JSON (the API shows it as stored).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// One version of a record with its body read.
#[derive(Debug, Clone)]
pub struct Entry {
    pub rec: Record,
    pub kind: Kind,
    pub body: Body,
    /// The content was withheld from this reader (a § 2.11 counseling note
    /// of someone else): the body keeps only what a timeline may show.
    pub withheld: bool,
}

impl std::ops::Deref for Entry {
    type Target = Record;
    fn deref(&self) -> &Record {
        &self.rec
    }
}

impl Entry {
    /// Read a stored record (no redaction: the patient scope applies it).
    pub(crate) fn decode(rec: Record) -> Result<Entry> {
        let kind: Kind = rec
            .kind
            .parse()
            .map_err(|_| Error::Internal(format!("stored record of unknown kind {}", rec.kind)))?;
        let body = Body::decode(kind, &rec.body)?;
        Ok(Entry {
            rec,
            kind,
            body,
            withheld: false,
        })
    }

    pub fn note(&self) -> Option<&notes::NoteBody> {
        match &self.body {
            Body::Note(n) => Some(n),
            _ => None,
        }
    }
}

/// What staff send to write a record of a writable kind.
#[derive(Debug, Clone)]
pub enum Input {
    Assessment(Box<assessment::AssessmentInput>),
    Flowsheet(flowsheet::FlowsheetInput),
    Order(medication::OrderInput),
    Administration(medication::AdministrationInput),
    Note(notes::NoteInput),
    Plan(notes::PlanInput),
    Consent(carepath_clinical::consent::Consent),
}

impl Input {
    /// Read the input for a record of `kind` from JSON, naming the field at fault.
    pub fn from_json(kind: Kind, v: serde_json::Value) -> Result<Input> {
        Ok(match kind {
            Kind::Assessment => Input::Assessment(Box::new(from_json(v)?)),
            Kind::Cows | Kind::Sows => {
                let mut i: flowsheet::FlowsheetInput = from_json(v)?;
                let scale = if kind == Kind::Cows {
                    flowsheet::Scale::Cows
                } else {
                    flowsheet::Scale::Sows
                };
                match i.scale {
                    None => i.scale = Some(scale),
                    Some(s) if s == scale => {}
                    Some(_) => {
                        return Err(Error::invalid(
                            "scale",
                            format!("does not match the kind of record ({kind})"),
                        ));
                    }
                }
                Input::Flowsheet(i)
            }
            Kind::Order => Input::Order(from_json(v)?),
            Kind::Administration => Input::Administration(from_json(v)?),
            Kind::Note => Input::Note(from_json(v)?),
            Kind::Plan => Input::Plan(from_json(v)?),
            Kind::Consent => Input::Consent(from_json(v)?),
            Kind::ConsentRevocation
            | Kind::Attendance
            | Kind::Enrollment
            | Kind::Discharge
            | Kind::Followup
            | Kind::FollowupOutcome => {
                return Err(Error::invalid(
                    "kind",
                    "this kind of record cannot be written here",
                ));
            }
        })
    }

    pub fn kind(&self) -> Kind {
        match self {
            Input::Assessment(_) => Kind::Assessment,
            Input::Flowsheet(f) => match f.scale {
                Some(flowsheet::Scale::Sows) => Kind::Sows,
                _ => Kind::Cows,
            },
            Input::Order(_) => Kind::Order,
            Input::Administration(_) => Kind::Administration,
            Input::Note(_) => Kind::Note,
            Input::Plan(_) => Kind::Plan,
            Input::Consent(_) => Kind::Consent,
        }
    }

    /// The input that would write `e` again (to prefill a correction), for
    /// the writable kinds.
    pub fn of(e: &Entry, tz: &jiff::tz::TimeZone) -> Option<Input> {
        Some(match &e.body {
            Body::Assessment(b) => Input::Assessment(Box::new(b.input.clone())),
            Body::Cows(b) => Input::Flowsheet(b.to_input(e.occurred_at, tz)),
            Body::Sows(b) => Input::Flowsheet(b.to_input(e.occurred_at, tz)),
            Body::Order(b) => Input::Order(b.to_input()),
            Body::Administration(b) => Input::Administration(b.to_input()),
            Body::Note(b) => Input::Note(b.to_input(e, tz)),
            Body::Plan(b) => Input::Plan(b.to_input()),
            Body::Consent(b) => Input::Consent(b.consent.clone()),
            Body::ConsentRevocation(_)
            | Body::Attendance(_)
            | Body::Enrollment(_)
            | Body::Discharge(_)
            | Body::Followup(_)
            | Body::FollowupOutcome(_) => return None,
        })
    }

    /// The input as JSON (the API's shape; forms serialize it too).
    pub fn to_json(&self) -> serde_json::Value {
        let v = match self {
            Input::Assessment(i) => serde_json::to_value(i),
            Input::Flowsheet(i) => serde_json::to_value(i),
            Input::Order(i) => serde_json::to_value(i),
            Input::Administration(i) => serde_json::to_value(i),
            Input::Note(i) => serde_json::to_value(i),
            Input::Plan(i) => serde_json::to_value(i),
            Input::Consent(i) => serde_json::to_value(i),
        };
        v.unwrap_or(serde_json::Value::Null)
    }
}

/// Build the record an input describes (everything but administrations,
/// which are checked against their order inside the unit of work that
/// writes them: see [`medication::build_administration`]).
pub(crate) fn build(s: &PatientScope, i: &Input) -> Result<NewRecord> {
    match i {
        Input::Assessment(a) => assessment::build(s, a),
        Input::Flowsheet(f) => flowsheet::build(s, f),
        Input::Order(o) => medication::build_order(s, o),
        Input::Note(n) => notes::build_note(s, n),
        Input::Plan(p) => notes::build_plan(s, p),
        Input::Consent(c) => consent::build(s, c),
        Input::Administration(_) => Err(Error::Internal(
            "administrations are built inside their unit of work".into(),
        )),
    }
}

/// Serialize a body for the store.
pub(crate) fn encode<B: Serialize>(b: &B) -> Result<String> {
    serde_json::to_string(b).map_err(|e| Error::Internal(format!("body: {e}")))
}

/// Parse a clinical time: RFC 3339, or a local `YYYY-MM-DDTHH:MM` in the
/// program's zone; empty means `now`. No more than 5 minutes ahead.
pub fn parse_when(
    field: &'static str,
    s: Option<&str>,
    tz: &jiff::tz::TimeZone,
    now: i64,
    earliest: Earliest,
) -> Result<i64> {
    let Some(s) = s.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(now);
    };
    let t = if let Ok(ts) = s.parse::<jiff::Timestamp>() {
        ts
    } else {
        let dt: jiff::civil::DateTime = s.parse().map_err(|_| {
            Error::invalid(
                field,
                "must be a date and time, e.g. 2026-11-22T06:00 (program time) or RFC 3339",
            )
        })?;
        dt.to_zoned(tz.clone())
            .map_err(|_| Error::invalid(field, "not a valid time in the program's time zone"))?
            .timestamp()
    };
    let us = t.as_microsecond();
    if us > now + 5 * 60 * 1_000_000 {
        return Err(Error::invalid(field, "cannot be in the future"));
    }
    if us < earliest.at {
        return Err(Error::invalid(field, earliest.why));
    }
    Ok(us)
}

/// The earliest time an entry may be dated, and what to say below it.
#[derive(Debug, Clone, Copy)]
pub struct Earliest {
    pub at: i64,
    pub why: &'static str,
}

/// A time as a `datetime-local` value in the program's zone.
pub fn local_input(us: i64, tz: &jiff::tz::TimeZone) -> String {
    jiff::Timestamp::from_microsecond(us)
        .map(|t| {
            t.to_zoned(tz.clone())
                .strftime("%Y-%m-%dT%H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_by_name() {
        for k in Kind::ALL {
            assert_eq!(k.as_str().parse::<Kind>().unwrap(), k);
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(json, format!("\"{}\"", k.as_str()));
        }
        assert!("lab".parse::<Kind>().is_err());
    }

    #[test]
    fn only_the_writable_kinds_take_an_input() {
        for k in Kind::ALL {
            let r = Input::from_json(k, serde_json::json!({}));
            if !k.writable() {
                assert!(
                    matches!(&r, Err(Error::Invalid(v)) if v[0].field == "kind"),
                    "{k}"
                );
            }
        }
    }
}
