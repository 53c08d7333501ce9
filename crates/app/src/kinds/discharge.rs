//! Discharge (TEDS reason, summary, aftercare plan, naloxone and overdose
//! education when tolerance is lost), the follow-up calls it schedules, and
//! their outcomes.

use super::{BODY_VERSION, Kind, encode, v1};
use crate::access::PatientScope;
use crate::clock::DAY_US;
use crate::error::{Error, Problems, Result};
use carepath_clinical as clinical;
use carepath_store::{Episode, NewRecord};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Aftercare {
    /// Continuing outpatient therapy: where, when.
    #[serde(default)]
    pub outpatient_therapy: String,
    /// Medication continuation and where (e.g. "methadone at Eastside OTP").
    #[serde(default)]
    pub medication: String,
    /// Support groups: Narcotics Anonymous, SMART Recovery…
    #[serde(default)]
    pub support_groups: String,
    #[serde(default)]
    pub sober_living: String,
    #[serde(default)]
    pub housing_employment: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Naloxone {
    #[serde(default)]
    pub education_given: bool,
    #[serde(default)]
    pub kit_given: bool,
    /// Why not, when required and not given (declined, already has a kit…).
    #[serde(default)]
    pub not_given_reason: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DischargeInput {
    /// TEDS REASON code: 1 completed, 2 left against advice, 3 terminated by facility,
    /// 4 transferred, 5 incarcerated, 6 died, 7 other.
    pub reason: u8,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub aftercare: Aftercare,
    #[serde(default)]
    pub naloxone: Naloxone,
    #[serde(default)]
    pub taper_completed: bool,
    #[serde(default)]
    pub continuing_agonist: bool,
    /// Every N days (default: the program's setting, else the server's: 7).
    #[serde(default)]
    pub followup_every_days: Option<u32>,
    /// How many calls (default: the program's setting, else the server's: 12).
    #[serde(default)]
    pub followup_count: Option<u32>,
    /// The state-report (TEDS-D) outcome items: use at discharge of each
    /// admission substance, employment, living arrangement, arrests,
    /// self-help attendance. Absent until asked.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub teds: Option<clinical::teds::Discharge>,
}

/// A stored discharge summary.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct DischargeBody {
    #[serde(default = "v1")]
    pub v: u32,
    pub reason_code: u8,
    /// The TEDS reason key (completed, left_against_advice…).
    pub reason: String,
    pub summary: String,
    #[serde(default)]
    pub aftercare: Aftercare,
    #[serde(default)]
    pub naloxone: Naloxone,
    pub naloxone_rule: clinical::discharge::NaloxoneRule,
    #[serde(default)]
    pub taper_completed: bool,
    #[serde(default)]
    pub continuing_agonist: bool,
    /// The level of care left.
    pub level_of_care: String,
    /// How many follow-up calls were scheduled.
    pub followups: usize,
    /// The TEDS-D outcome items, when asked.
    #[serde(default)]
    pub teds: Option<clinical::teds::Discharge>,
}

/// A scheduled follow-up call.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct FollowupBody {
    #[serde(default = "v1")]
    pub v: u32,
    pub number: usize,
    pub of: usize,
    /// Days after discharge.
    pub day: u32,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FollowUpOutcome {
    pub reached: bool,
    #[serde(default)]
    pub using: Option<bool>,
    #[serde(default)]
    pub in_treatment: Option<bool>,
    #[serde(default)]
    pub needs_reengagement: bool,
    #[serde(default)]
    pub note: String,
}

/// A stored follow-up outcome.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct OutcomeBody {
    #[serde(default = "v1")]
    pub v: u32,
    pub reached: bool,
    #[serde(default)]
    pub using: Option<bool>,
    #[serde(default)]
    pub in_treatment: Option<bool>,
    #[serde(default)]
    pub needs_reengagement: bool,
    #[serde(default)]
    pub note: String,
}

impl OutcomeBody {
    /// The outcome in a few words ("reached; not using; in treatment").
    pub fn text(&self) -> String {
        let yn = |b: Option<bool>, y: &str, n: &str| match b {
            Some(true) => y.to_string(),
            Some(false) => n.to_string(),
            None => "unknown".to_string(),
        };
        let re = if self.needs_reengagement {
            "; re-engagement referral made"
        } else {
            ""
        };
        if self.reached {
            format!(
                "reached; {}; {}{re}",
                yn(self.using, "using", "not using"),
                yn(self.in_treatment, "in treatment", "not in treatment"),
            )
        } else {
            format!("not reached{re}")
        }
    }
}

/// The discharge records (summary and follow-up calls due from `at`) for
/// episode `ep`, and the TEDS reason key stored on the episode. Every invalid
/// field is reported at once.
pub fn build(
    s: &PatientScope,
    ep: &Episode,
    i: &DischargeInput,
    at: i64,
) -> Result<(&'static str, Vec<NewRecord>)> {
    let mut p = Problems::new();
    let key = clinical::teds::label(&clinical::teds::DISCHARGE_KEYS, i.reason);
    if key.is_none() {
        p.add("reason", "choose a TEDS discharge reason (1–7)");
    }
    if i.summary.trim().chars().count() < 10 {
        p.add(
            "summary",
            "write a discharge summary (at least 10 characters)",
        );
    }
    let rule = clinical::discharge::naloxone_required(&clinical::discharge::Situation {
        level_of_care: ep.level_of_care.clone(),
        reason: i.reason,
        taper_completed: i.taper_completed,
        continuing_agonist: i.continuing_agonist,
    });
    let covered = i.naloxone.education_given && i.naloxone.kit_given;
    if rule.required && !covered && i.naloxone.not_given_reason.trim().chars().count() < 5 {
        p.add(
            "naloxone",
            format!(
                "overdose education and a naloxone kit are required ({}); document them or why not",
                rule.why
            ),
        );
    }
    if let Some(t) = &i.teds {
        for (f, m) in t.invalid() {
            p.add(format!("teds.{f}"), m);
        }
    }
    let every = i.followup_every_days.unwrap_or(s.followup.0);
    let count = i.followup_count.unwrap_or(s.followup.1);
    let offsets = if i.reason == 6 {
        Some(vec![])
    } else {
        p.take(clinical::discharge::follow_up_offsets(every, count))
    };
    p.finish()?;
    let (Some(key), Some(offsets)) = (key, offsets) else {
        return Err(Error::Internal("discharge checks".into()));
    };
    let reason_label =
        clinical::teds::label(&clinical::teds::DISCHARGE_REASONS, i.reason).unwrap_or("");
    let summary = format!(
        "Discharged: {reason_label}{}; {} follow-up call(s) scheduled",
        if rule.required {
            if covered {
                "; naloxone kit and overdose education given"
            } else {
                "; naloxone REQUIRED — not given (reason documented)"
            }
        } else {
            ""
        },
        offsets.len()
    );
    let body = DischargeBody {
        v: BODY_VERSION,
        reason_code: i.reason,
        reason: key.into(),
        summary: i.summary.trim().into(),
        aftercare: i.aftercare.clone(),
        naloxone: i.naloxone.clone(),
        naloxone_rule: rule,
        taper_completed: i.taper_completed,
        continuing_agonist: i.continuing_agonist,
        level_of_care: ep.level_of_care.clone(),
        followups: offsets.len(),
        teds: i.teds.clone(),
    };
    let in_episode = |mut r: NewRecord| {
        r.episode_id = Some(ep.id);
        r.program_id = ep.program_id;
        r
    };
    let mut records = vec![in_episode(s.new_record(
        Kind::Discharge,
        encode(&body)?,
        summary,
        at,
    ))];
    for (k, d) in offsets.iter().enumerate() {
        let body = FollowupBody {
            v: BODY_VERSION,
            number: k + 1,
            of: offsets.len(),
            day: *d,
        };
        let mut r = in_episode(s.new_record(
            Kind::Followup,
            encode(&body)?,
            format!("Follow-up call {} of {}", k + 1, offsets.len()),
            at,
        ));
        r.due_at = Some(at + *d as i64 * DAY_US);
        records.push(r);
    }
    Ok((key, records))
}

/// The outcome record of follow-up call `followup_root` (of program `program`).
pub fn outcome_record(
    s: &PatientScope,
    program: carepath_domain::ids::ProgramId,
    followup_id: &str,
    o: &FollowUpOutcome,
) -> Result<NewRecord> {
    let body = OutcomeBody {
        v: BODY_VERSION,
        reached: o.reached,
        using: o.using,
        in_treatment: o.in_treatment,
        needs_reengagement: o.needs_reengagement,
        note: o.note.clone(),
    };
    let mut r = s.new_record(
        Kind::FollowupOutcome,
        encode(&body)?,
        format!("Follow-up call: {}", body.text()),
        s.now,
    );
    r.program_id = program;
    r.ref_id = Some(followup_id.to_string());
    Ok(r)
}
