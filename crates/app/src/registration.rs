//! Registration: a new patient (validated demographics, a medical record
//! number with a check digit, possible duplicates flagged first), the
//! registration details beyond the core identity (versioned: every change
//! kept), the identification photo, and admission at registration — each
//! registration one unit of work.

use crate::access::{self, PatientScope};
use crate::actor::Principal;
use crate::error::{Duplicate, Error, Problems, Result};
use crate::{App, kinds};
use carepath_domain::audit::Outcome;
use carepath_domain::authz::Permission;
use carepath_domain::ids::{PatientId, ProgramId};
use carepath_domain::patient::{PatientInput, possible_duplicate};
use carepath_domain::program::{ProgramKind, clinic_day, parse_time_zone};
use carepath_store::{Patient, PatientSearch, StoreError};
use serde::{Deserialize, Serialize};

#[derive(Deserialize, Serialize, Default, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Contact {
    #[serde(default)]
    pub name: String,
    /// emergency, family, other.
    #[serde(default)]
    pub relationship: String,
    #[serde(default)]
    pub phone: String,
    /// May be contacted in an emergency.
    #[serde(default)]
    pub emergency: bool,
}

/// Registration details beyond name, birth date and sex (versioned: every change kept).
#[derive(Deserialize, Serialize, Default, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Profile {
    #[serde(default)]
    pub gender_identity: String,
    #[serde(default)]
    pub pronouns: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub address: String,
    /// Preferred language (e.g. English, Spanish, ASL).
    #[serde(default)]
    pub language: String,
    #[serde(default)]
    pub interpreter_needed: bool,
    /// uninsured, medicaid, medicare, private, state_funded, sliding_fee.
    #[serde(default)]
    pub payer: String,
    #[serde(default)]
    pub payer_member_id: String,
    #[serde(default)]
    pub contacts: Vec<Contact>,
    /// Known allergies and intolerances, one each ("penicillin — hives").
    #[serde(default)]
    pub allergies: Vec<String>,
    /// "No known allergies" as an explicit answer: an empty list alone
    /// means nobody has asked yet.
    #[serde(default)]
    pub no_known_allergies: bool,
}

/// Where a patient's allergies stand, for every page that shows the patient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "state", content = "items", rename_all = "snake_case")]
pub enum Allergies {
    /// Nobody has recorded an answer.
    NotRecorded,
    /// "No known allergies", recorded.
    NoneKnown,
    Listed(Vec<String>),
}

impl Profile {
    pub fn allergy_state(&self) -> Allergies {
        if !self.allergies.is_empty() {
            Allergies::Listed(self.allergies.clone())
        } else if self.no_known_allergies {
            Allergies::NoneKnown
        } else {
            Allergies::NotRecorded
        }
    }
}

pub const PAYERS: [(&str, &str); 6] = [
    ("uninsured", "Uninsured / self-pay"),
    ("medicaid", "Medicaid"),
    ("medicare", "Medicare"),
    ("private", "Private insurance"),
    ("state_funded", "State-funded"),
    ("sliding_fee", "Sliding fee"),
];

pub const RELATIONSHIPS: [(&str, &str); 3] = [
    ("emergency", "Emergency contact"),
    ("family", "Family"),
    ("other", "Other"),
];

impl Profile {
    /// Trim every text field; drop contacts left entirely empty.
    pub fn tidy(mut self) -> Profile {
        for s in [
            &mut self.gender_identity,
            &mut self.pronouns,
            &mut self.phone,
            &mut self.email,
            &mut self.address,
            &mut self.language,
            &mut self.payer,
            &mut self.payer_member_id,
        ] {
            *s = s.trim().to_string();
        }
        self.allergies = self
            .allergies
            .iter()
            .map(|a| a.trim().to_string())
            .filter(|a| !a.is_empty())
            .collect();
        self.contacts
            .retain(|c| !(c.name.trim().is_empty() && c.phone.trim().is_empty()));
        for c in &mut self.contacts {
            c.name = c.name.trim().into();
            c.phone = c.phone.trim().into();
        }
        self
    }

    pub fn is_empty(&self) -> bool {
        *self == Profile::default()
    }
}

/// Validate registration details (phone digits, email, payer, contacts);
/// every field at fault at once.
pub fn check_profile(d: &Profile) -> Result<()> {
    let phone_ok = |s: &str| {
        let digits = s.chars().filter(|c| c.is_ascii_digit()).count();
        s.trim().is_empty()
            || ((7..=15).contains(&digits)
                && s.chars()
                    .all(|c| c.is_ascii_digit() || " +-().".contains(c)))
    };
    let mut p = Problems::new();
    if !phone_ok(&d.phone) {
        p.add("phone", "enter a phone number (7–15 digits)");
    }
    if !d.email.trim().is_empty() && !d.email.contains('@') {
        p.add("email", "enter an email address or leave it empty");
    }
    if d.no_known_allergies && d.allergies.iter().any(|a| !a.trim().is_empty()) {
        p.add(
            "allergies",
            "list the allergies or tick \"no known allergies\", not both",
        );
    }
    if d.allergies.iter().any(|a| a.chars().count() > 200) {
        p.add("allergies", "keep each allergy under 200 characters");
    }
    if !d.payer.is_empty() && !PAYERS.iter().any(|(k, _)| *k == d.payer) {
        p.add("payer", "choose a payer category");
    }
    for (k, c) in d.contacts.iter().enumerate() {
        if c.name.trim().is_empty() {
            p.add(format!("contacts[{k}].name"), "is required");
        }
        if !RELATIONSHIPS.iter().any(|(r, _)| *r == c.relationship) {
            p.add(
                format!("contacts[{k}].relationship"),
                "must be emergency, family or other",
            );
        }
        if c.phone.trim().is_empty() || !phone_ok(&c.phone) {
            p.add(format!("contacts[{k}].phone"), "enter a phone number");
        }
    }
    p.finish()
}

/// The current registration details through an open scope.
pub async fn profile_of(s: &PatientScope, app: &App) -> Result<Option<Profile>> {
    let (text, _) = s.profile_text(app).await?;
    text.map(|t| {
        serde_json::from_str(&t)
            .map_err(|e| Error::Internal(format!("stored registration details: {e}")))
    })
    .transpose()
}

/// What identifies a patient on every page where staff act: name, birth
/// date and age, sex, MRN, program, allergies.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Banner {
    pub patient_id: String,
    pub name: String,
    pub date_of_birth: String,
    pub age: i16,
    pub sex: String,
    pub mrn: String,
    pub program: String,
    pub allergies: Allergies,
    pub has_photo: bool,
    /// What must not be missed, for those who read the chart: withdrawal
    /// entries with dangerous readings no prescriber has signed (48 h), the
    /// patient's alarming portal check-ins nobody has answered (7 days).
    pub alerts: Vec<String>,
}

impl Banner {
    /// The allergies in words, for the bar every patient page shows.
    pub fn allergy_text(&self) -> String {
        match &self.allergies {
            Allergies::NotRecorded => "Allergies not recorded — ask".into(),
            Allergies::NoneKnown => "No known allergies".into(),
            Allergies::Listed(v) => format!("Allergies: {}", v.join("; ")),
        }
    }
    /// `alert` (listed), `warn` (not recorded) or `ok` (none known).
    pub fn allergy_tone(&self) -> &'static str {
        match &self.allergies {
            Allergies::NotRecorded => "warn",
            Allergies::NoneKnown => "ok",
            Allergies::Listed(_) => "alert",
        }
    }
}

/// Age in whole years on `day`.
pub fn age_on(dob: jiff::civil::Date, day: jiff::civil::Date) -> i16 {
    day.since(dob)
        .ok()
        .and_then(|sp| {
            sp.round(
                jiff::SpanRound::new()
                    .largest(jiff::Unit::Year)
                    .relative(dob),
            )
            .ok()
        })
        .map(|sp| sp.get_years())
        .unwrap_or(0)
}

/// The banner of a patient (audited as a demographics read).
pub async fn banner(app: &App, who: &Principal, id: PatientId) -> Result<Banner> {
    let s = access::open(app, who, id, Permission::ReadDemographics, "patient.banner").await?;
    let profile = profile_of(&s, app).await?.unwrap_or_default();
    let dob: jiff::civil::Date = s
        .patient
        .date_of_birth
        .parse()
        .map_err(|_| Error::Internal("stored date of birth".into()))?;
    let age = age_on(dob, s.today());
    Ok(Banner {
        patient_id: id.to_string(),
        name: s.patient.display_name(),
        date_of_birth: s.patient.date_of_birth.clone(),
        age,
        sex: s.patient.sex.clone(),
        mrn: s.patient.mrn.clone(),
        program: s.program.name.clone(),
        allergies: profile.allergy_state(),
        has_photo: s.has_photo(app).await?,
        alerts: if s.holds_in(s.program.id, Permission::ReadClinical) {
            alerts_of(app, id, s.now).await?
        } else {
            vec![]
        },
    })
}

/// The banner's alerts (see [`Banner::alerts`]).
async fn alerts_of(app: &App, id: PatientId, now: i64) -> Result<Vec<String>> {
    let day = crate::clock::DAY_US;
    let mut out: Vec<String> = app
        .store
        .patient_records(id, &["cows", "sows"])
        .await?
        .into_iter()
        .filter(|r| {
            r.is_current()
                && r.sign_role.is_some()
                && !r.is_signed()
                && r.occurred_at >= now - 2 * day
        })
        .map(|r| r.summary)
        .collect();
    for r in app.store.patient_reports(id, 20).await? {
        if !r.alert.is_empty() && r.ack_at.is_none() && r.reported_at >= now - 7 * day {
            out.push(format!("Portal check-in: {}", r.alert));
        }
    }
    Ok(out)
}

/// Record the patient's allergies (clinical staff or registration): a new
/// version of the registration details with the allergy answer changed.
pub async fn save_allergies(
    app: &App,
    who: &Principal,
    id: PatientId,
    allergies: &[String],
    none_known: bool,
) -> Result<()> {
    // Clinical staff record them, and so does registration.
    let perm = if who.can(Permission::WriteClinical) {
        Permission::WriteClinical
    } else {
        Permission::RegisterPatient
    };
    let s = access::open(app, who, id, perm, "allergies.open").await?;
    let w = s.writer()?;
    let mut d = profile_of(&s, app).await?.unwrap_or_default();
    d.allergies = allergies.to_vec();
    d.no_known_allergies = none_known;
    let d = d.tidy();
    check_profile(&d)?;
    let mut tx = app.begin().await?;
    let pid = tx.add_profile(&w, &kinds::encode(&d)?, who.user_id).await?;
    tx.audit(
        who.event("allergies.update", Outcome::Success)
            .object("patient_profile", pid)
            .patient(id),
    );
    tx.commit().await?;
    Ok(())
}

/// A patient's current registration details (front desk and clinicians).
pub async fn profile(app: &App, who: &Principal, id: PatientId) -> Result<Profile> {
    let s = access::open(app, who, id, Permission::ReadDemographics, "profile.read").await?;
    Ok(profile_of(&s, app).await?.unwrap_or_default())
}

/// Replace the registration details (a new version; earlier ones are kept).
pub async fn save_profile(app: &App, who: &Principal, id: PatientId, d: &Profile) -> Result<()> {
    let s = access::open(app, who, id, Permission::RegisterPatient, "profile.open").await?;
    let w = s.writer()?;
    check_profile(d)?;
    let mut tx = app.begin().await?;
    let pid = tx.add_profile(&w, &kinds::encode(d)?, who.user_id).await?;
    tx.audit(
        who.event("profile.update", Outcome::Success)
            .object("patient_profile", pid)
            .patient(id),
    );
    tx.commit().await?;
    Ok(())
}

/// The largest identification photo accepted.
pub const MAX_PHOTO_BYTES: usize = 900_000;

/// Store a new identification photo (JPEG or PNG by their signatures, up to
/// 900 kB); the newest is shown, earlier ones are kept.
pub async fn save_photo(app: &App, who: &Principal, id: PatientId, bytes: &[u8]) -> Result<()> {
    let s = access::open(app, who, id, Permission::RegisterPatient, "photo.open").await?;
    let w = s.writer()?;
    let ct = if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        "image/jpeg"
    } else if bytes.starts_with(&[0x89, b'P', b'N', b'G']) {
        "image/png"
    } else {
        return Err(Error::invalid("photo", "choose a JPEG or PNG picture"));
    };
    if bytes.len() > MAX_PHOTO_BYTES {
        return Err(Error::invalid("photo", "the picture is larger than 900 kB"));
    }
    let mut tx = app.begin().await?;
    let pid = tx.add_photo(&w, ct, bytes, who.user_id).await?;
    tx.audit(
        who.event("photo.add", Outcome::Success)
            .object("patient_photo", pid)
            .patient(id),
    );
    tx.commit().await?;
    Ok(())
}

/// The newest identification photo: (content type, bytes).
pub async fn photo(app: &App, who: &Principal, id: PatientId) -> Result<(String, Vec<u8>)> {
    let s = access::open(app, who, id, Permission::ReadDemographics, "photo.read").await?;
    s.photo(app).await?.ok_or(Error::NotFound)
}

/// A registration, from the page or the API.
#[derive(Deserialize, Serialize, Default, Clone, Debug)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Registration {
    #[serde(default)]
    pub program_id: String,
    #[serde(default)]
    pub legal_first_name: String,
    #[serde(default)]
    pub legal_last_name: String,
    #[serde(default)]
    pub preferred_name: Option<String>,
    /// `YYYY-MM-DD`
    #[serde(default)]
    pub date_of_birth: String,
    /// female, male, intersex or unknown
    #[serde(default)]
    pub sex: String,
    /// Admit now at this level of care (a program type), optional.
    #[serde(default)]
    pub admit_level: Option<String>,
    /// Register even though a patient with the same birthday and a
    /// near-identical name exists (refused as a possible duplicate otherwise).
    #[serde(default)]
    pub confirm_new: bool,
    /// The call-back request this registration comes from (closed as registered).
    #[serde(default, alias = "referral")]
    pub referral_id: Option<String>,
    /// Optional registration details (more on the profile).
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub language: Option<String>,
    /// uninsured, medicaid, medicare, private, state_funded, sliding_fee.
    #[serde(default)]
    pub payer: Option<String>,
}

fn opt(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Register (and optionally admit) a patient, in one unit of work: the
/// patient, their first details, the call-back request closed, the admission.
pub async fn register(app: &App, who: &Principal, f: &Registration) -> Result<Patient> {
    let mut p = Problems::new();
    let program: Option<ProgramId> = p.take(
        f.program_id
            .parse()
            .map_err(|_| Error::invalid("program_id", "choose a program")),
    );
    if let Some(g) = program
        && !who.holds_in(g, Permission::RegisterPatient)
    {
        p.add("program_id", "you cannot register patients in that program");
    }
    let prog = match program {
        Some(g) if p.is_empty() => Some(app.store.program(g).await?),
        _ => None,
    };
    let tz = match &prog {
        Some(g) => parse_time_zone(&g.timezone)?,
        None => jiff::tz::TimeZone::UTC,
    };
    let today = clinic_day(app.now(), &tz);
    let input = PatientInput {
        legal_first_name: f.legal_first_name.clone(),
        legal_last_name: f.legal_last_name.clone(),
        preferred_name: f.preferred_name.clone(),
        date_of_birth: f.date_of_birth.clone(),
        sex: f.sex.clone(),
    };
    let d = p.take(input.validate(today));
    let details = Profile {
        phone: opt(&f.phone).unwrap_or("").into(),
        language: opt(&f.language).unwrap_or("").into(),
        payer: opt(&f.payer).unwrap_or("").into(),
        ..Default::default()
    };
    p.take(check_profile(&details));
    let level = match opt(&f.admit_level) {
        None => None,
        Some(l) => p.take(
            l.parse::<ProgramKind>()
                .map_err(|_| Error::invalid("admit_level", "unknown level of care")),
        ),
    };
    p.finish()?;
    let (Some(program), Some(d)) = (program, d) else {
        return Err(Error::Internal("registration checks".into()));
    };
    // Possible duplicates among the patients this user can see (same
    // birthday, near-identical name).
    if !f.confirm_new {
        let same_day = access::search(
            app,
            who,
            &PatientSearch {
                date_of_birth: Some(d.date_of_birth.to_string()),
                limit: 200,
                ..Default::default()
            },
        )
        .await?;
        let dups: Vec<Duplicate> = same_day
            .into_iter()
            .filter(|x| {
                possible_duplicate(
                    &d,
                    &x.legal_first_name,
                    &x.legal_last_name,
                    &x.date_of_birth,
                )
            })
            .map(|x| Duplicate {
                id: x.id.to_string(),
                name: x.display_name(),
                date_of_birth: x.date_of_birth.clone(),
                mrn: x.mrn.clone(),
            })
            .collect();
        if !dups.is_empty() {
            return Err(Error::PossibleDuplicates(dups));
        }
    }
    let referral = match opt(&f.referral_id) {
        Some(r) => match app.store.referral_program(r).await {
            Ok(g) if who.holds_in(g, Permission::ManageReferrals) => Some((r.to_string(), g)),
            _ => None,
        },
        None => None,
    };
    let by = Some(who.user_id).filter(|u| !u.0.is_nil());
    let mut tx = app.begin().await?;
    let mut patient = None;
    for _ in 0..8 {
        let serial: u32 = rand::random_range(0..10_000_000);
        let mrn = carepath_domain::patient::mrn_from_serial(serial);
        match tx.create_patient(program, &d, &mrn, by).await {
            Ok(x) => {
                patient = Some(x);
                break;
            }
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    let patient = patient.ok_or_else(|| Error::Internal("could not allocate an MRN".into()))?;
    tx.audit(
        who.event("patient.create", Outcome::Success)
            .object("patient", patient.id)
            .patient(patient.id)
            .program(program),
    );
    let w = access::new_patient_writer(&patient);
    if !details.is_empty() {
        let pid = tx
            .add_profile(&w, &kinds::encode(&details)?, who.user_id)
            .await?;
        tx.audit(
            who.event("profile.update", Outcome::Success)
                .object("patient_profile", pid)
                .patient(patient.id),
        );
    }
    // A registration from a call-back request closes that request (already
    // closed by someone else: the registration still stands).
    if let Some((rid, g)) = referral {
        match tx
            .close_referral(&rid, "registered", Some(patient.id))
            .await
        {
            Ok(()) => tx.audit(
                who.event("referral.close", Outcome::Success)
                    .object("referral", &rid)
                    .program(g)
                    .patient(patient.id)
                    .detail("registered"),
            ),
            Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    if let Some(level) = level {
        let eid = tx
            .admit(&w, program, level.as_str(), app.now_us(), by)
            .await?;
        tx.audit(
            who.event("episode.admit", Outcome::Success)
                .object("episode", eid)
                .patient(patient.id)
                .program(program),
        );
    }
    tx.commit().await?;
    Ok(patient)
}

/// What a contact may be told about the patient's treatment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Telling {
    /// Not a family contact (emergency or other).
    NotFamily,
    /// A family-involvement consent names them: what it allows.
    Consent(String),
    /// Family, but no family-involvement consent names them: nothing.
    NoConsent,
}

/// The registration details with what each family contact may be told,
/// from the family-involvement consents in force (42 CFR § 2.31): a consent
/// counts for a contact when it names them (every word of the contact's name
/// is a word of the recipient), is not revoked and has not expired.
pub async fn contacts(
    s: &PatientScope,
    app: &App,
) -> Result<Option<(Profile, Vec<(Contact, Telling)>)>> {
    let Some(profile) = profile_of(s, app).await? else {
        return Ok(None);
    };
    let entries = s.consent_entries(app).await?;
    let today = s.today();
    let family: Vec<(String, String)> = crate::chart::consents_with_state(&entries)
        .into_iter()
        .filter(|(_, rev)| rev.is_none())
        .filter_map(|(c, _)| match &c.body {
            kinds::Body::Consent(b) => Some(&b.consent),
            _ => None,
        })
        .filter(|c| c.kind == carepath_clinical::consent::Kind::Family)
        .filter(|c| {
            c.expires_on
                .as_deref()
                .and_then(|d| d.parse::<jiff::civil::Date>().ok())
                .is_none_or(|d| d >= today)
        })
        .map(|c| (c.recipient.clone(), c.information.clone()))
        .collect();
    let lines = profile
        .contacts
        .iter()
        .map(|c| {
            let t = if c.relationship != "family" {
                Telling::NotFamily
            } else {
                match family
                    .iter()
                    .find(|(r, _)| crate::fmt::same_person(&c.name, r))
                {
                    Some((_, info)) => Telling::Consent(info.clone()),
                    None => Telling::NoConsent,
                }
            };
            (c.clone(), t)
        })
        .collect();
    Ok(Some((profile, lines)))
}
