//! The withdrawal flowsheet: COWS (clinician-rated) and SOWS (patient-rated)
//! entries with vital signs; the next COWS check is due by the program's
//! protocol; entries written more than 24 hours after the observation are
//! late entries.

use super::{BODY_VERSION, Kind, encode, local_input, parse_when, v1};
use crate::access::PatientScope;
use crate::clock::HOUR_US;
use crate::error::{Error, Result};
use carepath_clinical as clinical;
use carepath_store::NewRecord;
use clinical::flowsheet::Vitals;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    Cows,
    Sows,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FlowsheetInput {
    /// `cows` or `sows` (default: the kind of record written).
    #[serde(default)]
    pub scale: Option<Scale>,
    /// COWS: item → score; `pulse_bpm` (the measured rate) may replace `pulse`.
    #[serde(default)]
    pub items: BTreeMap<String, u16>,
    /// SOWS: the 16 answers 0–4 in the published order.
    #[serde(default)]
    pub sows: Vec<u8>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub vitals: Vitals,
    /// When observed (default now); entries more than 24 h old are marked late.
    #[serde(default)]
    pub observed_at: Option<String>,
}

/// A stored COWS entry.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct CowsBody {
    #[serde(default = "v1")]
    pub v: u32,
    pub scale: Scale,
    pub score: clinical::cows::Output,
    #[serde(default)]
    pub vitals: Vitals,
    /// Readings the prescriber must hear of now (`flowsheet::danger`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub danger: Vec<String>,
}

/// A stored SOWS entry.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct SowsBody {
    #[serde(default = "v1")]
    pub v: u32,
    pub scale: Scale,
    pub score: clinical::sows::Output,
    #[serde(default)]
    pub vitals: Vitals,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub danger: Vec<String>,
}

/// Vital signs in a few words ("BP 120/80, HR 88").
pub fn vitals_text(v: &Vitals) -> String {
    let mut parts = vec![];
    if let (Some(s), Some(d)) = (v.sbp, v.dbp) {
        parts.push(format!("BP {s}/{d}"));
    }
    if let Some(h) = v.hr {
        parts.push(format!("HR {h}"));
    }
    if let Some(t) = v.temp_c {
        parts.push(format!("T {t:.1} °C"));
    }
    if let Some(s) = v.spo2 {
        parts.push(format!("SpO2 {s}%"));
    }
    if let Some(r) = v.rr {
        parts.push(format!("RR {r}"));
    }
    parts.join(", ")
}

fn with_vitals(head: String, v: &Vitals) -> String {
    let vt = vitals_text(v);
    if vt.is_empty() {
        head
    } else {
        format!("{head}; {vt}")
    }
}

/// The words that open a dangerous entry's summary (chart and worklist).
pub const DANGER: &str = "Notify the prescriber now";

/// A dangerous entry says so first in its summary and waits for a
/// prescriber's signature (their acknowledgement that they were told):
/// until then it is on the worklist of everyone caring for the patient.
fn flag_danger(r: &mut NewRecord, danger: &[String]) {
    if danger.is_empty() {
        return;
    }
    r.summary = format!("{DANGER}: {} — {}", danger.join("; "), r.summary);
    r.sign_role = Some(carepath_domain::authz::Role::Prescriber.as_str().into());
}

/// Score a COWS entry (the measured heart rate scores the pulse item when no
/// pulse score is given).
pub fn score_cows(i: &FlowsheetInput) -> Result<clinical::cows::Output> {
    let mut items: BTreeMap<String, serde_json::Value> = i
        .items
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::from(*v)))
        .collect();
    if !items.contains_key("pulse")
        && !items.contains_key("pulse_bpm")
        && let Some(hr) = i.vitals.hr
    {
        items.insert("pulse_bpm".into(), serde_json::Value::from(hr));
    }
    Ok(clinical::cows::score(&clinical::cows::Input { items })?)
}

pub fn build(s: &PatientScope, i: &FlowsheetInput) -> Result<NewRecord> {
    clinical::flowsheet::check_vitals(&i.vitals)?;
    let at = parse_when(
        "observed_at",
        i.observed_at.as_deref(),
        &s.tz,
        s.now,
        s.earliest_entry(),
    )?;
    let late = clinical::flowsheet::is_late_entry(at, s.now, 24);
    let mut r = match i.scale.unwrap_or(Scale::Cows) {
        Scale::Cows => {
            let out = score_cows(i)?;
            let due = clinical::flowsheet::next_due(&s.protocol, at, out.total);
            let summary = with_vitals(
                format!("COWS {} ({})", out.total, out.band_label),
                &i.vitals,
            );
            let danger = clinical::flowsheet::danger(&i.vitals, Some(out.total));
            let body = CowsBody {
                v: BODY_VERSION,
                scale: Scale::Cows,
                score: out,
                vitals: i.vitals.clone(),
                danger: danger.clone(),
            };
            let mut r = s.new_record(Kind::Cows, encode(&body)?, summary, at);
            r.due_at = Some(due);
            flag_danger(&mut r, &danger);
            r
        }
        Scale::Sows => {
            if i.sows.len() != 16 {
                return Err(Error::invalid(
                    "sows",
                    format!("answer all 16 items (got {})", i.sows.len()),
                ));
            }
            let out = clinical::sows::score(&clinical::sows::Input {
                items: i.sows.iter().map(|x| serde_json::Value::from(*x)).collect(),
                bands: vec![],
            })?;
            let summary = with_vitals(format!("SOWS {}", out.total), &i.vitals);
            let danger = clinical::flowsheet::danger(&i.vitals, None);
            let body = SowsBody {
                v: BODY_VERSION,
                scale: Scale::Sows,
                score: out,
                vitals: i.vitals.clone(),
                danger: danger.clone(),
            };
            let mut r = s.new_record(Kind::Sows, encode(&body)?, summary, at);
            r.due_at = Some(at + s.protocol.every_h as i64 * HOUR_US);
            flag_danger(&mut r, &danger);
            r
        }
    };
    r.late_entry = late;
    Ok(r)
}

impl CowsBody {
    /// The input that writes this entry again (item scores as scored;
    /// a pulse scored from the heart rate stays so).
    pub fn to_input(&self, occurred_at: i64, tz: &jiff::tz::TimeZone) -> FlowsheetInput {
        let mut items: BTreeMap<String, u16> = self
            .score
            .items
            .iter()
            .map(|(k, v)| (k.clone(), *v as u16))
            .collect();
        if let Some(bpm) = self.score.pulse_bpm {
            items.remove("pulse");
            if self.vitals.hr != Some(bpm as u32) {
                items.insert("pulse_bpm".into(), bpm);
            }
        }
        FlowsheetInput {
            scale: Some(Scale::Cows),
            items,
            sows: vec![],
            vitals: self.vitals.clone(),
            observed_at: Some(local_input(occurred_at, tz)),
        }
    }
}

impl SowsBody {
    pub fn to_input(&self, occurred_at: i64, tz: &jiff::tz::TimeZone) -> FlowsheetInput {
        FlowsheetInput {
            scale: Some(Scale::Sows),
            items: BTreeMap::new(),
            sows: self.score.items.iter().map(|x| x.score).collect(),
            vitals: self.vitals.clone(),
            observed_at: Some(local_input(occurred_at, tz)),
        }
    }
}
