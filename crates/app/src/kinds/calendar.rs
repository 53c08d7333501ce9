//! Records the program calendar writes into a patient's record: attendance
//! marks for a session and enrollment in a closed group.

use super::{BODY_VERSION, Kind, encode, v1};
use crate::error::Result;
use carepath_domain::ids::PatientId;
use carepath_store::{Author, CalendarSession, NewRecord};
use serde::{Deserialize, Serialize};

pub const SESSION_KINDS: [(&str, &str); 4] = [
    ("group", "Group"),
    ("individual", "Individual"),
    ("family", "Family"),
    ("activity", "Therapeutic activity"),
];

pub const MODALITIES: [(&str, &str); 15] = [
    ("process", "Process group"),
    ("psychoeducation", "Psychoeducation"),
    ("relapse_prevention", "Relapse prevention"),
    ("cbt", "Cognitive behavioral therapy"),
    ("contingency_management", "Contingency management"),
    ("family_therapy", "Family therapy"),
    ("motivational_interviewing", "Motivational interviewing"),
    ("twelve_step", "12-step facilitation"),
    ("smart_recovery", "SMART Recovery"),
    ("medication", "Medication education"),
    ("case_management", "Case management"),
    ("nutrition", "Nutrition"),
    ("yoga", "Yoga"),
    ("art", "Art therapy"),
    ("dance", "Dance and movement"),
];

pub const STATUSES: [(&str, &str); 4] = [
    ("present", "Present"),
    ("late", "Late"),
    ("absent", "Absent"),
    ("excused", "Excused"),
];

/// The label of `key` in a (key, label) list, or a dash.
pub fn label<'a>(list: &[(&'a str, &'a str)], key: &str) -> &'a str {
    list.iter()
        .find(|(k, _)| *k == key)
        .map(|(_, l)| *l)
        .unwrap_or("—")
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct AttendanceBody {
    #[serde(default = "v1")]
    pub v: u32,
    pub session_id: String,
    /// present, late, absent, excused.
    pub status: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub modality: String,
    #[serde(default)]
    pub session_kind: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Membership {
    Add,
    Remove,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct EnrollmentBody {
    #[serde(default = "v1")]
    pub v: u32,
    pub action: Membership,
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub series_id: Option<String>,
}

/// The key a group's membership is kept under: the series (a weekly group),
/// or the session itself when it stands alone.
pub fn group_key(s: &CalendarSession) -> String {
    s.series_id.clone().unwrap_or_else(|| s.id.clone())
}

/// A patient joining (`add`) or leaving a session's group.
pub fn enrollment_record(
    s: &CalendarSession,
    patient: PatientId,
    add: bool,
    author: Author,
    at: i64,
) -> Result<NewRecord> {
    let body = EnrollmentBody {
        v: BODY_VERSION,
        action: if add {
            Membership::Add
        } else {
            Membership::Remove
        },
        group: s.title.clone(),
        series_id: s.series_id.clone(),
    };
    Ok(NewRecord {
        patient_id: patient,
        program_id: s.program_id,
        episode_id: None,
        kind: Kind::Enrollment.as_str().into(),
        body: encode(&body)?,
        summary: format!("{} group: {}", if add { "Joined" } else { "Left" }, s.title),
        occurred_at: at,
        author,
        ref_id: Some(group_key(s)),
        due_at: None,
        sign_role: None,
        cosigner_id: None,
        late_entry: false,
    })
}

/// A patient's attendance mark for a session, written at `now`.
pub fn attendance_record(
    s: &CalendarSession,
    patient: PatientId,
    status: &str,
    author: Author,
    now: i64,
) -> Result<NewRecord> {
    let body = AttendanceBody {
        v: BODY_VERSION,
        session_id: s.id.clone(),
        status: status.into(),
        title: s.title.clone(),
        modality: s.modality.clone(),
        session_kind: s.kind.clone(),
    };
    Ok(NewRecord {
        patient_id: patient,
        program_id: s.program_id,
        episode_id: None,
        kind: Kind::Attendance.as_str().into(),
        body: encode(&body)?,
        summary: format!(
            "{}: {} ({}, {})",
            label(&STATUSES, status),
            s.title,
            label(&SESSION_KINDS, &s.kind),
            label(&MODALITIES, &s.modality)
        ),
        occurred_at: s.starts_at,
        author,
        ref_id: Some(s.id.clone()),
        due_at: None,
        sign_role: None,
        cosigner_id: None,
        late_entry: carepath_clinical::flowsheet::is_late_entry(s.starts_at, now, 24),
    })
}
