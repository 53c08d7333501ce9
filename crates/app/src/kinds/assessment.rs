//! The intake assessment: TEDS substance history, DSM-5 criteria → severity
//! and ICD-10-CM code, six dimension ratings → a level-of-care
//! recommendation (accepted, or a different placement with a reason), PHQ-9
//! and GAD-7, the suicide-risk follow-up rule, pregnancy and special
//! populations, and the expected withdrawal course from the last use.

use super::{BODY_VERSION, Kind, encode, parse_when, v1};
use crate::access::PatientScope;
use crate::error::{Error, Problems, Result};
use carepath_clinical as clinical;
use carepath_domain::FieldError;
use carepath_domain::program::ProgramKind;
use carepath_store::NewRecord;
use clinical::level_of_care::Dimensions;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SubstanceUse {
    /// TEDS SUB code (5 heroin, 7 other opiates incl. fentanyl…).
    pub code: u8,
    /// TEDS ROUTE code (1 oral, 2 smoking, 3 inhalation, 4 injection, 5 other).
    pub route: u8,
    /// TEDS FREQ code (1 none in past month, 2 some use, 3 daily).
    pub frequency: u8,
    /// Age at first use, in years.
    pub age_first_use: u8,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Placement {
    /// Accept the recommendation.
    pub accept: bool,
    /// The level of care chosen instead (a program kind), when not accepting.
    #[serde(default)]
    pub level: Option<String>,
    /// Why a different placement (required when not accepting).
    #[serde(default)]
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AssessmentInput {
    /// Primary, secondary, tertiary substances (TEDS codes).
    pub substances: Vec<SubstanceUse>,
    /// heroin, short_acting, fentanyl, methadone, buprenorphine.
    #[serde(default)]
    pub last_opioid: Option<String>,
    /// Time of last opioid use (program-local `YYYY-MM-DDTHH:MM` or RFC 3339).
    #[serde(default)]
    pub last_use_at: Option<String>,
    #[serde(default)]
    pub prior_treatment_episodes: u8,
    #[serde(default)]
    pub overdoses_lifetime: u8,
    #[serde(default)]
    pub overdose_past_year: bool,
    /// DSM-5 criteria met, A1…A11.
    #[serde(default)]
    pub dsm5: Vec<String>,
    /// Withdrawal being managed under medical supervision (A10/A11 not counted).
    #[serde(default)]
    pub medically_supervised: bool,
    /// Six dimension ratings 0–4 (see `level-of-care` calculator).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub dimensions: Dimensions,
    #[serde(default)]
    pub cows: Option<u8>,
    #[serde(default)]
    pub complicated_withdrawal: bool,
    #[serde(default)]
    pub medical_instability: bool,
    #[serde(default)]
    pub psychiatric_instability: bool,
    #[serde(default)]
    pub imminent_danger: bool,
    #[serde(default)]
    pub on_medication: bool,
    /// Nine answers 0–3, or none at all when the screen was not done
    /// (unanswered is recorded as such, never as 0).
    #[serde(default)]
    pub phq9: Vec<u8>,
    /// Seven answers 0–3, or none when not done.
    #[serde(default)]
    pub gad7: Vec<u8>,
    /// The intake's direct suicide-risk question: yes (true), no (false),
    /// or absent when it was not asked (never assumed "no").
    #[serde(default)]
    pub suicide_question: Option<bool>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub suicide_followup: clinical::screens::SuicideFollowUp,
    /// not_pregnant, pregnant, postpartum, unknown, not_applicable.
    #[serde(default = "na")]
    pub pregnancy: String,
    #[serde(default)]
    pub due_date: Option<String>,
    /// pregnant_postpartum, co_occurring, adolescent, veteran, justice_involved.
    #[serde(default)]
    pub flags: Vec<String>,
    pub placement: Placement,
    /// The state-report (TEDS) items asked at intake: referral, education,
    /// employment, living arrangement, race, ethnicity, payment… Each is
    /// absent until asked; -9 is the explicit "unknown / declined".
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub teds: clinical::teds::Intake,
}

fn na() -> String {
    "not_applicable".into()
}

/// The placement decided.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct PlacementResult {
    pub accepted: bool,
    /// The program kind placed.
    pub level: String,
    pub level_label: String,
    /// Why a different placement than recommended.
    pub reason: Option<String>,
}

/// A stored assessment: the input and everything the engine computed.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct AssessmentBody {
    #[serde(default = "v1")]
    pub v: u32,
    pub input: AssessmentInput,
    pub flags: Vec<String>,
    pub due_date: Option<String>,
    pub diagnosis: clinical::oud::Output,
    pub recommendation: clinical::level_of_care::Output,
    /// The program kind providing the recommendation.
    pub recommended_kind: String,
    pub placement: PlacementResult,
    /// None: the screen was not done.
    #[serde(default)]
    pub phq9: Option<clinical::screens::ScreenResult>,
    #[serde(default)]
    pub gad7: Option<clinical::screens::ScreenResult>,
    /// The expected withdrawal course from the last use, if given.
    pub course: Option<clinical::course::Output>,
}

pub const FLAGS: [(&str, &str); 5] = [
    ("pregnant_postpartum", "Pregnant or postpartum"),
    ("co_occurring", "Co-occurring mental health condition"),
    ("adolescent", "Adolescent"),
    ("veteran", "Veteran"),
    ("justice_involved", "Justice-involved"),
];

pub const PREGNANCY: [(&str, &str); 5] = [
    ("not_applicable", "Not applicable"),
    ("not_pregnant", "Not pregnant"),
    ("pregnant", "Pregnant"),
    ("postpartum", "Postpartum (within 12 months)"),
    ("unknown", "Unknown / test pending"),
];

pub const LAST_OPIOIDS: [(&str, &str); 5] = [
    ("heroin", "Heroin"),
    ("fentanyl", "Fentanyl"),
    ("short_acting", "Other short-acting opioid"),
    ("methadone", "Methadone"),
    ("buprenorphine", "Buprenorphine"),
];

/// Map the engine's recommendation to the program kind that provides it.
pub fn kind_for(rec: &clinical::level_of_care::Output) -> ProgramKind {
    use clinical::level_of_care::{Setting, Withdrawal};
    if matches!(
        rec.withdrawal_management,
        Withdrawal::MedicallyMonitored | Withdrawal::MedicallyManaged
    ) {
        return ProgramKind::WithdrawalManagement;
    }
    match rec.setting {
        Setting::Outpatient => {
            if rec.medication.indicated {
                ProgramKind::OpioidTreatmentProgram
            } else {
                ProgramKind::Outpatient
            }
        }
        Setting::IntensiveOutpatient => ProgramKind::IntensiveOutpatient,
        Setting::PartialHospitalization => ProgramKind::PartialHospitalization,
        _ => ProgramKind::Residential,
    }
}

fn opioid(s: &str) -> Option<clinical::course::Opioid> {
    use clinical::course::Opioid;
    Some(match s {
        "heroin" => Opioid::Heroin,
        "short_acting" => Opioid::ShortActing,
        "fentanyl" => Opioid::Fentanyl,
        "methadone" => Opioid::Methadone,
        "buprenorphine" => Opioid::Buprenorphine,
        _ => return None,
    })
}

/// Check the input, run the engine, and compute the body. Every invalid
/// field of the substance history, pregnancy and flags is reported at once;
/// the engine then checks the scores.
pub fn compute(s: &PatientScope, i: &AssessmentInput) -> Result<(AssessmentBody, String)> {
    let mut p = Problems::new();
    if i.substances.is_empty() {
        p.add("substances", "record at least the primary substance");
    }
    if i.substances.len() > 3 {
        p.add(
            "substances",
            "TEDS records primary, secondary and tertiary substances only",
        );
    }
    for (k, sub) in i.substances.iter().enumerate() {
        use clinical::teds;
        let f = |n: &str| format!("substances[{k}].{n}");
        if teds::label(&teds::SUBSTANCES, sub.code).is_none() {
            p.add(f("code"), "unknown TEDS substance code (1–19)");
        }
        if teds::label(&teds::ROUTES, sub.route).is_none() {
            p.add(f("route"), "unknown TEDS route code (1–5)");
        }
        if teds::label(&teds::FREQUENCIES, sub.frequency).is_none() {
            p.add(f("frequency"), "unknown TEDS frequency code (1–3)");
        }
        if !(1..=96).contains(&sub.age_first_use) {
            p.add(f("age_first_use"), "must be an age from 1 to 96");
        }
    }
    for (f, m) in i.teds.invalid(s.today()) {
        p.add(format!("teds.{f}"), m);
    }
    let pregnant = i.pregnancy == "pregnant";
    if !PREGNANCY.iter().any(|(k, _)| *k == i.pregnancy) {
        p.add("pregnancy", "unknown pregnancy status");
    }
    let due_date = match (&i.due_date, pregnant) {
        (Some(d), true) if !d.trim().is_empty() => p.take(
            d.trim()
                .parse::<jiff::civil::Date>()
                .map(|d| d.to_string())
                .map_err(|_| FieldError::new("due_date", "must be a date, YYYY-MM-DD")),
        ),
        _ => None,
    };
    for f in &i.flags {
        if !FLAGS.iter().any(|(k, _)| k == f) {
            p.add("flags", format!("unknown flag {f:?}"));
        }
    }
    let last_opioid = match i.last_opioid.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(o) => match opioid(o) {
            Some(x) => Some(x),
            None => {
                p.add(
                    "last_opioid",
                    "must be heroin, short_acting, fentanyl, methadone or buprenorphine",
                );
                None
            }
        },
    };
    let last_use = match &i.last_use_at {
        Some(t) if !t.trim().is_empty() => {
            p.take(parse_when("last_use_at", Some(t), &s.tz, s.now, s.born()))
        }
        _ => None,
    };
    let placed_other = if i.placement.accept {
        None
    } else {
        let level = p.take(
            i.placement
                .level
                .as_deref()
                .unwrap_or("")
                .parse::<ProgramKind>()
                .map_err(|_| Error::invalid("placement.level", "choose the level of care placed")),
        );
        if i.placement.reason.trim().chars().count() < 10 {
            p.add(
                "placement.reason",
                "a different placement needs a reason (at least 10 characters)",
            );
        }
        level
    };
    p.finish()?;
    let ts = |us: i64| {
        jiff::Timestamp::from_microsecond(us)
            .map(|t| t.to_string())
            .unwrap_or_default()
    };
    let course = match (last_opioid, last_use) {
        (Some(o), Some(t)) => Some(
            clinical::course::course(&clinical::course::Input {
                opioid: o,
                last_use: ts(t),
                now: Some(ts(s.now)),
                windows: None,
            })
            .map_err(|e| Error::invalid("last_use_at", e.to_string()))?,
        ),
        _ => None,
    };
    let dx = clinical::oud::diagnose(&clinical::oud::Input {
        criteria: i.dsm5.clone(),
        medically_supervised: i.medically_supervised,
        remission: Default::default(),
        prior_severity: None,
        on_maintenance_therapy: false,
        controlled_environment: false,
        withdrawal_present: false,
        intoxication: Default::default(),
    })
    .map_err(|e| Error::invalid("dsm5", e.message))?;
    let rec = clinical::level_of_care::recommend(&clinical::level_of_care::Input {
        dimensions: i.dimensions.clone(),
        cows: i.cows,
        complicated_withdrawal: i.complicated_withdrawal,
        pregnant,
        medical_instability: i.medical_instability,
        psychiatric_instability: i.psychiatric_instability,
        imminent_danger: i.imminent_danger,
        oud_severity: dx.severity,
        on_medication: i.on_medication,
    })?;
    // A screen is scored only when every item was answered; none answered
    // is "not done" (the engine refuses a partial screen, naming it).
    let phq9 = (!i.phq9.is_empty())
        .then(|| clinical::screens::phq9(&i.phq9))
        .transpose()?;
    let gad7 = (!i.gad7.is_empty())
        .then(|| clinical::screens::gad7(&i.gad7))
        .transpose()?;
    clinical::screens::require_suicide_follow_up(
        phq9.as_ref().is_some_and(|r| r.suicide_item_positive) || i.suicide_question == Some(true),
        &i.suicide_followup,
    )?;
    let recommended_kind = kind_for(&rec);
    let placed = placed_other.unwrap_or(recommended_kind);
    let reason = (!i.placement.accept).then(|| i.placement.reason.trim().to_string());
    let mut flags = i.flags.clone();
    if matches!(i.pregnancy.as_str(), "pregnant" | "postpartum")
        && !flags.iter().any(|f| f == "pregnant_postpartum")
    {
        flags.push("pregnant_postpartum".into());
    }
    let code = dx.codes.first().map(|c| c.code.clone()).unwrap_or_default();
    let summary = format!(
        "Intake assessment: OUD {:?}{}; recommended {}; placed {}{}; PHQ-9 {}, GAD-7 {}",
        dx.severity,
        if code.is_empty() {
            String::new()
        } else {
            format!(" ({code})")
        },
        recommended_kind.label(),
        placed.label(),
        if reason.is_some() { " (override)" } else { "" },
        screen_text(phq9.as_ref()),
        screen_text(gad7.as_ref()),
    )
    .replace("Severe", "severe")
    .replace("Moderate", "moderate")
    .replace("Mild", "mild")
    .replace("None", "not met");
    Ok((
        AssessmentBody {
            v: BODY_VERSION,
            input: i.clone(),
            flags,
            due_date,
            diagnosis: dx,
            recommendation: rec,
            recommended_kind: recommended_kind.as_str().into(),
            placement: PlacementResult {
                accepted: i.placement.accept,
                level: placed.as_str().into(),
                level_label: placed.label().into(),
                reason,
            },
            phq9,
            gad7,
            course,
        },
        summary,
    ))
}

/// The assessment record.
pub fn build(s: &PatientScope, i: &AssessmentInput) -> Result<NewRecord> {
    let (body, summary) = compute(s, i)?;
    Ok(s.new_record(Kind::Assessment, encode(&body)?, summary, s.now))
}

impl AssessmentBody {
    pub fn recommended_program_kind(&self) -> Option<ProgramKind> {
        self.recommended_kind.parse().ok()
    }
}

/// "7 (mild)", or "not done".
pub fn screen_text(r: Option<&clinical::screens::ScreenResult>) -> String {
    match r {
        Some(r) => format!("{} ({})", r.total, r.severity),
        None => "not done".into(),
    }
}
