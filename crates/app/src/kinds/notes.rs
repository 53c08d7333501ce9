//! Progress notes (DAP, SOAP, BIRP; signed by their author, co-signed by a
//! named supervisor, late entries flagged, private § 2.11 counseling notes)
//! and treatment plans (problems, measurable goals, objectives with dates,
//! interventions with responsible staff, review dates).

use super::{BODY_VERSION, Entry, Kind, encode, local_input, parse_when, v1};
use crate::access::PatientScope;
use crate::error::{Error, Problems, Result};
use carepath_clinical as clinical;
use carepath_domain::ids::UserId;
use carepath_store::NewRecord;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const TEMPLATES: [(&str, &[(&str, &str)]); 3] = [
    (
        "DAP",
        &[
            ("data", "Data"),
            ("assessment", "Assessment"),
            ("plan", "Plan"),
        ],
    ),
    (
        "SOAP",
        &[
            ("subjective", "Subjective"),
            ("objective", "Objective"),
            ("assessment", "Assessment"),
            ("plan", "Plan"),
        ],
    ),
    (
        "BIRP",
        &[
            ("behavior", "Behavior"),
            ("intervention", "Intervention"),
            ("response", "Response"),
            ("plan", "Plan"),
        ],
    ),
];

pub const SERVICES: [(&str, &str); 4] = [
    ("individual", "Individual"),
    ("group", "Group"),
    ("family", "Family"),
    ("other", "Other"),
];

/// The sections of a template (DAP when unknown).
pub fn sections_of(template: &str) -> &'static [(&'static str, &'static str)] {
    TEMPLATES
        .iter()
        .find(|(t, _)| *t == template)
        .unwrap_or(&TEMPLATES[0])
        .1
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NoteInput {
    /// DAP, SOAP or BIRP.
    pub template: String,
    /// Section name → text (e.g. data, assessment, plan).
    #[serde(default)]
    pub sections: BTreeMap<String, String>,
    /// individual, group, family, other.
    #[serde(default = "individual")]
    pub service: String,
    /// When the session took place (default now); more than 24 h ago → late entry.
    #[serde(default)]
    pub occurred_at: Option<String>,
    #[serde(default)]
    pub session_id: Option<String>,
    /// Treatment-plan goals this note addresses (`PLANID#n`).
    #[serde(default)]
    pub goal_refs: Vec<String>,
    /// A supervisor who must co-sign (trainee notes).
    #[serde(default)]
    pub cosigner_id: Option<String>,
    /// A SUD counseling note (42 CFR § 2.11, like HIPAA's psychotherapy notes):
    /// kept apart from the record — only its author (and named co-signer) read
    /// it, and it is never part of a disclosure or a summary.
    #[serde(default)]
    pub private: bool,
}

fn individual() -> String {
    "individual".into()
}

/// A stored note.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct NoteBody {
    #[serde(default = "v1")]
    pub v: u32,
    pub template: String,
    /// Empty only when withheld from the reader (§ 2.11): then not shown at all.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sections: BTreeMap<String, String>,
    #[serde(default = "individual")]
    pub service: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub goal_refs: Vec<String>,
    #[serde(default)]
    pub private: bool,
}

impl NoteBody {
    /// Keep only what a timeline may show of someone else's private note.
    pub(crate) fn withhold(&mut self) {
        self.sections.clear();
        self.goal_refs.clear();
        self.session_id = None;
    }

    pub fn to_input(&self, e: &Entry, tz: &jiff::tz::TimeZone) -> NoteInput {
        NoteInput {
            template: self.template.clone(),
            sections: self.sections.clone(),
            service: self.service.clone(),
            occurred_at: Some(local_input(e.occurred_at, tz)),
            session_id: self.session_id.clone(),
            goal_refs: self.goal_refs.clone(),
            cosigner_id: e.cosigner_id.clone(),
            private: self.private,
        }
    }

    /// The sections in template order, with their labels.
    pub fn labelled(&self) -> Vec<(String, String)> {
        sections_of(&self.template)
            .iter()
            .map(|(k, l)| {
                (
                    l.to_string(),
                    self.sections.get(*k).cloned().unwrap_or_default(),
                )
            })
            .collect()
    }
}

pub fn build_note(s: &PatientScope, i: &NoteInput) -> Result<NewRecord> {
    let mut p = Problems::new();
    let Some((_, sections)) = TEMPLATES.iter().find(|(t, _)| *t == i.template) else {
        return Err(Error::invalid("template", "must be DAP, SOAP or BIRP"));
    };
    for k in i.sections.keys() {
        if !sections.iter().any(|(s, _)| s == k) {
            p.add(format!("sections.{k}"), "not a section of this template");
        }
    }
    for (k, label) in sections.iter() {
        if i.sections.get(*k).is_none_or(|t| t.trim().is_empty()) {
            p.add(format!("sections.{k}"), format!("{label} is required"));
        }
    }
    if !SERVICES.iter().any(|(k, _)| *k == i.service) {
        p.add("service", "must be individual, group, family or other");
    }
    let at = p.take(parse_when(
        "occurred_at",
        i.occurred_at.as_deref(),
        &s.tz,
        s.now,
        s.earliest_entry(),
    ));
    let cosigner = match i.cosigner_id.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => p.take(
            c.parse::<UserId>()
                .map_err(|_| Error::invalid("cosigner_id", "choose a supervisor")),
        ),
        None => None,
    };
    if cosigner.is_some() && cosigner == Some(s.author.id) {
        p.add("cosigner_id", "a co-signer must be someone else");
    }
    p.finish()?;
    let at = at.unwrap_or(s.now);
    let first = i.sections.get(sections[0].0).cloned().unwrap_or_default();
    let mut excerpt: String = first.chars().take(80).collect();
    if first.chars().count() > 80 {
        excerpt.push('…');
    }
    // A private counseling note's summary says nothing of its content: the
    // summary appears in timelines other staff read.
    let summary = if i.private {
        format!("Private counseling note ({})", i.service)
    } else {
        format!("{} {} note: {excerpt}", i.service, i.template)
    };
    let session = i.session_id.clone().filter(|x| !x.is_empty());
    let body = NoteBody {
        v: BODY_VERSION,
        template: i.template.clone(),
        sections: i.sections.clone(),
        service: i.service.clone(),
        session_id: session.clone(),
        goal_refs: i.goal_refs.clone(),
        private: i.private,
    };
    let mut r = s.new_record(Kind::Note, encode(&body)?, summary, at);
    r.late_entry = clinical::flowsheet::is_late_entry(at, s.now, 24);
    r.cosigner_id = cosigner;
    r.ref_id = session;
    Ok(r)
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Objective {
    pub text: String,
    /// `YYYY-MM-DD`.
    pub target_date: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Intervention {
    /// One of [`INTERVENTIONS`].
    pub kind: String,
    #[serde(default)]
    pub detail: String,
    /// Responsible staff (name or role).
    pub responsible: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Problem {
    pub problem: String,
    /// A measurable goal.
    pub goal: String,
    /// How progress is measured.
    pub measure: String,
    pub objectives: Vec<Objective>,
    pub interventions: Vec<Intervention>,
    /// Progress at the last review.
    #[serde(default)]
    pub progress: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PlanInput {
    pub problems: Vec<Problem>,
    /// Next review date, `YYYY-MM-DD`.
    pub review_due: String,
    /// The patient took part in writing the plan.
    #[serde(default)]
    pub patient_participated: bool,
}

/// A stored plan.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct PlanBody {
    #[serde(default = "v1")]
    pub v: u32,
    pub problems: Vec<Problem>,
    pub review_due: String,
    #[serde(default)]
    pub patient_participated: bool,
}

impl PlanBody {
    pub fn to_input(&self) -> PlanInput {
        PlanInput {
            problems: self.problems.clone(),
            review_due: self.review_due.clone(),
            patient_participated: self.patient_participated,
        }
    }
}

pub const INTERVENTIONS: [(&str, &str); 12] = [
    ("cbt", "Cognitive behavioral therapy"),
    ("contingency_management", "Contingency management"),
    ("family_therapy", "Family therapy"),
    ("medication", "Medication (MOUD)"),
    ("twelve_step", "12-step facilitation"),
    ("smart_recovery", "SMART Recovery facilitation"),
    ("motivational_interviewing", "Motivational interviewing"),
    ("case_management", "Case management"),
    ("nutrition", "Nutrition"),
    ("yoga", "Yoga"),
    ("art", "Art therapy"),
    ("dance", "Dance and movement"),
];

pub fn build_plan(s: &PatientScope, i: &PlanInput) -> Result<NewRecord> {
    let mut p = Problems::new();
    if i.problems.is_empty() {
        p.add("problems", "a plan needs at least one problem");
    }
    for (k, x) in i.problems.iter().enumerate() {
        let f = |n: &str| format!("problems[{k}].{n}");
        for (n, v) in [
            ("problem", &x.problem),
            ("goal", &x.goal),
            ("measure", &x.measure),
        ] {
            if v.trim().chars().count() < 3 {
                p.add(f(n), "is required");
            }
        }
        if x.objectives.is_empty() {
            p.add(
                f("objectives"),
                "add at least one objective with a target date",
            );
        }
        for (j, o) in x.objectives.iter().enumerate() {
            if o.text.trim().is_empty() {
                p.add(format!("problems[{k}].objectives[{j}].text"), "is required");
            }
            if o.target_date.trim().parse::<jiff::civil::Date>().is_err() {
                p.add(
                    format!("problems[{k}].objectives[{j}].target_date"),
                    "must be a date, YYYY-MM-DD",
                );
            }
        }
        if x.interventions.is_empty() {
            p.add(f("interventions"), "choose at least one intervention");
        }
        for (j, v) in x.interventions.iter().enumerate() {
            if !INTERVENTIONS.iter().any(|(c, _)| *c == v.kind) {
                p.add(
                    format!("problems[{k}].interventions[{j}].kind"),
                    "unknown intervention",
                );
            }
            if v.responsible.trim().is_empty() {
                p.add(
                    format!("problems[{k}].interventions[{j}].responsible"),
                    "name who is responsible",
                );
            }
        }
    }
    let review = match i.review_due.trim().parse::<jiff::civil::Date>() {
        Ok(d) if d < s.today() => {
            p.add("review_due", "must be today or later");
            None
        }
        Ok(d) => Some(d),
        Err(_) => {
            p.add("review_due", "must be a date, YYYY-MM-DD");
            None
        }
    };
    p.finish()?;
    let review = review.ok_or_else(|| Error::invalid("review_due", "is required"))?;
    let due = review
        .to_zoned(s.tz.clone())
        .map_err(|_| Error::invalid("review_due", "not a valid date"))?
        .timestamp()
        .as_microsecond();
    let body = PlanBody {
        v: BODY_VERSION,
        problems: i.problems.clone(),
        review_due: i.review_due.clone(),
        patient_participated: i.patient_participated,
    };
    let mut r = s.new_record(
        Kind::Plan,
        encode(&body)?,
        format!(
            "Treatment plan: {} problem(s), first goal: {}; review by {review}",
            i.problems.len(),
            i.problems[0].goal.trim()
        ),
        s.now,
    );
    r.due_at = Some(due);
    Ok(r)
}
