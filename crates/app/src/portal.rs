//! The patient portal: a patient's own window onto their treatment.
//!
//! - **Its own realm.** Portal accounts, invitations and sessions are their
//!   own tables (`store::portal`); a portal session resolves to a
//!   [`Principal`] of kind `Patient(id)`, which the access path lets read
//!   that one patient's record and nothing else (`access::open`, basis
//!   `Own`), and which holds no staff permission.
//! - **Invitation.** Staff who register patients or write in their record
//!   make a one-time code (only its hash is stored; it works once, for
//!   [`crate::Settings::portal_invite_hours`]); joining with it sets the
//!   username and password (an invitation also recovers an account).
//! - **What the patient sees** is built here and filtered by the program's
//!   portal settings: appointments, today's dose and the take-home bottles,
//!   drug tests in plain words, points and rewards, treatment-plan goals,
//!   the aftercare plan. Never notes (least of all § 2.11 counseling notes),
//!   never who wrote what, never other patients.
//! - **Self-reports** (`clinical::selfreport`) are stored as the patient's
//!   own rows; one that alerts sits on the staff worklist until someone
//!   acknowledges it with a note.
//! - **Reward requests** wait against the balance until staff fulfil or
//!   decline them (`cm::decide`).

use crate::App;
use crate::access::{self, PatientScope};
use crate::actor::{ActorKind, Principal, Via};
use crate::auth::{hash_password, random_token, sha256_hex, verify_password};
use crate::clock::DAY_US;
use crate::error::{Error, Problems, Result};
use crate::kinds::{Body, Kind};
use carepath_clinical::selfreport;
use carepath_domain::audit::{NewEvent, Outcome};
use carepath_domain::authz::Permission;
use carepath_domain::ids::{PatientId, ProgramId, UserId};
use carepath_store::portal::{NewReport, PortalAccount, PortalSettings, Report};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// The settings a program has not changed.
pub fn default_settings() -> PortalSettings {
    let t = selfreport::Thresholds::default();
    PortalSettings {
        show_drug_tests: true,
        show_dosing: true,
        show_plan: true,
        show_rewards: true,
        sows_alert_from: t.sows_from.into(),
        craving_alert_from: t.craving_from.into(),
        mood_alert_at_most: t.mood_at_most.into(),
    }
}

/// A program's portal settings (its own, else the defaults).
pub async fn settings(app: &App, program: ProgramId) -> Result<PortalSettings> {
    Ok(app
        .store
        .portal_settings(program)
        .await?
        .unwrap_or_else(default_settings))
}

fn thresholds(s: &PortalSettings) -> selfreport::Thresholds {
    let b = |x: i64| u8::try_from(x).unwrap_or(u8::MAX);
    selfreport::Thresholds {
        sows_from: b(s.sows_alert_from),
        craving_from: b(s.craving_alert_from),
        mood_at_most: b(s.mood_alert_at_most),
    }
}

/// A program and its portal settings (its administrators).
pub async fn settings_for(
    app: &App,
    who: &Principal,
    program: ProgramId,
) -> Result<(carepath_store::Program, PortalSettings)> {
    let g = access::program(app, who, program, Permission::ManagePrograms).await?;
    Ok((g, settings(app, program).await?))
}

/// Change a program's portal settings (its administrators).
pub async fn save_settings(
    app: &App,
    who: &Principal,
    program: ProgramId,
    s: &PortalSettings,
) -> Result<PortalSettings> {
    access::program(app, who, program, Permission::ManagePrograms).await?;
    let t = thresholds(s);
    t.check()?;
    let mut tx = app.begin().await?;
    tx.set_portal_settings(program, s, &who.username).await?;
    tx.audit(
        who.event("portal.settings", Outcome::Success)
            .object("program", program)
            .program(program),
    );
    tx.commit().await?;
    settings(app, program).await
}

// ---------------------------------------------------------------------------
// Access: invitations, joining, signing in, sessions.

/// A one-time invitation, shown once to the staff member who made it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Invite {
    /// `XXXX-XXXX-XXXX` from an alphabet without look-alikes (60 bits).
    pub code: String,
    pub expires_at: i64,
    /// When it expires, in the program's time zone.
    pub expires: String,
}

/// The alphabet of invitation codes: no 0/O, 1/I/L, so it can be read
/// aloud or copied from paper.
const CODE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

fn new_code() -> String {
    let mut rng = rand::rng();
    let chars: Vec<char> = (0..12)
        .map(|_| CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())] as char)
        .collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// A code as typed: case and separators do not matter.
fn normalize_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Staff who register patients or write in their record (and jobs) manage
/// a patient's portal access; never a patient.
fn may_manage(who: &Principal, s: &PatientScope) -> bool {
    (who.is_staff() || who.is_system())
        && (s.holds_in(s.program.id, Permission::RegisterPatient)
            || s.holds_in(s.program.id, Permission::WriteClinical))
}

/// Invite a patient to the portal (staff who register patients or write in
/// their record). Earlier unused invitations stay valid until they expire.
pub async fn invite(app: &App, who: &Principal, patient: PatientId) -> Result<Invite> {
    let s = access::open(
        app,
        who,
        patient,
        Permission::ReadDemographics,
        "portal.invite.open",
    )
    .await?;
    if !may_manage(who, &s) {
        return Err(Error::Forbidden(
            "only staff who register patients or write in their record invite them".into(),
        ));
    }
    issue_invite(app, who, &s, None).await
}

/// Make and record an invitation (for the patient, or with `family` for a
/// family member under that consent); the code is returned once.
async fn issue_invite(
    app: &App,
    who: &Principal,
    s: &PatientScope,
    family: Option<carepath_store::portal::FamilyGrant>,
) -> Result<Invite> {
    let patient = s.patient.id;
    let code = new_code();
    let expires_at = app.now_us() + app.settings.portal_invite_hours * 3600 * 1_000_000;
    let mut tx = app.begin().await?;
    let id = tx
        .create_portal_invite(
            patient,
            &sha256_hex(&normalize_code(&code)),
            (!who.user_id.0.is_nil()).then_some(who.user_id),
            &who.display_name,
            expires_at,
            family.as_ref(),
        )
        .await?;
    let mut ev = who
        .event(
            if family.is_some() {
                "portal.family_invite"
            } else {
                "portal.invite"
            },
            Outcome::Success,
        )
        .object("portal_invite", &id)
        .patient(patient)
        .program(s.program.id);
    if let Some(f) = &family {
        ev = ev.detail(format!(
            "consent {}; appointments: {}",
            f.consent_id, f.show_appointments
        ));
    }
    tx.audit(ev);
    tx.commit().await?;
    Ok(Invite {
        code,
        expires_at,
        expires: crate::fmt::time(expires_at, &s.tz),
    })
}

/// Where a patient's portal access stands (for the staff chart).
#[derive(Debug, Clone, Serialize)]
pub struct AccessState {
    pub patient_name: String,
    /// The program's time zone, for showing times.
    #[serde(skip)]
    pub tz: jiff::tz::TimeZone,
    /// The principal may invite or turn off access.
    pub may_manage: bool,
    /// The principal may acknowledge self-reports.
    pub may_acknowledge: bool,
    pub account: Option<PortalAccount>,
    pub invites: Vec<carepath_store::portal::PortalInvite>,
    /// Family members' accounts.
    pub family: Vec<PortalAccount>,
    /// Family-involvement consents in force: (root record id, recipient,
    /// what it shares).
    pub family_consents: Vec<(String, String, String)>,
}

pub async fn access_state(app: &App, who: &Principal, patient: PatientId) -> Result<AccessState> {
    let s = access::open(
        app,
        who,
        patient,
        Permission::ReadDemographics,
        "portal.access.read",
    )
    .await?;
    let family_consents = if s.holds_in(s.program.id, Permission::ReadClinical) {
        let clinical = access::open(
            app,
            who,
            patient,
            Permission::ReadClinical,
            "portal.family.consents",
        )
        .await?;
        family_consents(app, &clinical)
            .await?
            .into_iter()
            .map(|(id, c)| (id, c.recipient, c.information))
            .collect()
    } else {
        vec![]
    };
    Ok(AccessState {
        family: app.store.family_accounts(patient).await?,
        family_consents,
        patient_name: s.patient.display_name(),
        tz: s.tz.clone(),
        may_manage: may_manage(who, &s),
        may_acknowledge: who.is_staff() && s.holds_in(s.program.id, Permission::WriteClinical),
        account: app.store.portal_account_of(patient).await?,
        invites: app.store.portal_invites(patient).await?,
    })
}

/// Turn off a patient's portal access; their sessions end.
pub async fn disable(app: &App, who: &Principal, patient: PatientId) -> Result<()> {
    turn_off(app, who, patient, None).await
}

/// Turn off the patient's own access, or (`account`) a family member's.
async fn turn_off(
    app: &App,
    who: &Principal,
    patient: PatientId,
    account: Option<&str>,
) -> Result<()> {
    let s = access::open(
        app,
        who,
        patient,
        Permission::ReadDemographics,
        "portal.disable.open",
    )
    .await?;
    if !may_manage(who, &s) {
        return Err(Error::Forbidden(
            "only staff who register patients or write in their record turn off portal access"
                .into(),
        ));
    }
    let mut tx = app.begin().await?;
    if !tx.disable_portal_account(patient, account).await? {
        return Err(match account {
            None => Error::Conflict("this patient has no portal access to turn off".into()),
            Some(_) => Error::NotFound,
        });
    }
    tx.audit(match account {
        None => who
            .event("portal.disable", Outcome::Success)
            .object("patient", patient)
            .patient(patient),
        Some(a) => who
            .event("portal.family_disable", Outcome::Success)
            .object("portal_account", a)
            .patient(patient),
    });
    Ok(tx.commit().await?)
}

/// The patient's family-involvement consents that permit disclosure today
/// (root record id and the consent), read through a scope opened for
/// clinical reading.
async fn family_consents(
    app: &App,
    s: &PatientScope,
) -> Result<Vec<(String, carepath_clinical::consent::Consent)>> {
    let entries = s
        .entries(app, &[Kind::Consent, Kind::ConsentRevocation])
        .await?;
    let standing = |revoked: bool| access::consent_standing(&s.episodes, revoked, s.today());
    Ok(crate::chart::consents_with_state(&entries)
        .into_iter()
        .filter_map(|(e, rev)| match &e.body {
            Body::Consent(c) if c.consent.kind == carepath_clinical::consent::Kind::Family => {
                let ok = carepath_clinical::consent::permits(
                    &c.consent,
                    standing(rev.is_some()),
                    &carepath_clinical::consent::Request {
                        recipient: c.consent.recipient.clone(),
                        purpose: c.consent.purpose.clone(),
                    },
                )
                .is_ok();
                ok.then(|| (e.root_id.clone(), c.consent.clone()))
            }
            _ => None,
        })
        .collect())
}

/// Invite a family member the patient's family-involvement consent names
/// (clinical staff of the program): the code works once, and what the
/// family member sees stays within the consent — `appointments` only if
/// the consent shares them — for as long as it stands.
pub async fn invite_family(
    app: &App,
    who: &Principal,
    patient: PatientId,
    consent: &str,
    appointments: bool,
) -> Result<Invite> {
    let s = access::open(
        app,
        who,
        patient,
        Permission::ReadClinical,
        "portal.family_invite.open",
    )
    .await?;
    if !(who.is_staff() || who.is_system()) || !s.holds_in(s.program.id, Permission::WriteClinical)
    {
        return Err(Error::Forbidden(
            "clinical staff of the patient's program invite family members".into(),
        ));
    }
    let Some((root, c)) = family_consents(app, &s)
        .await?
        .into_iter()
        .find(|(id, _)| id == consent)
    else {
        return Err(Error::invalid(
            "consent",
            "choose a family-involvement consent that is in force (signed, not revoked, not expired)",
        ));
    };
    issue_invite(
        app,
        who,
        &s,
        Some(carepath_store::portal::FamilyGrant {
            consent_id: root,
            recipient: c.recipient,
            show_appointments: appointments,
        }),
    )
    .await
}

/// Turn off one family member's access.
pub async fn disable_family(
    app: &App,
    who: &Principal,
    patient: PatientId,
    account: &str,
) -> Result<()> {
    turn_off(app, who, patient, Some(account)).await
}

/// What a family member sees.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FamilyView {
    /// The patient's first (or preferred) name.
    pub first_name: String,
    /// The family member, as the consent names them.
    pub recipient: String,
    pub program: String,
    pub program_address: String,
    pub program_hours: String,
    /// What the patient agreed to share, in the consent's words.
    pub information: String,
    pub purpose: String,
    /// Until when (a date or an event).
    pub until: String,
    /// Upcoming appointments, when the consent shares them.
    pub appointments: Option<Vec<Appointment>>,
}

/// The family member's view, within the consent; audited (`family.view`),
/// refused once the consent is revoked or expired.
pub async fn family_view(app: &App, who: &Principal) -> Result<FamilyView> {
    let f = access::open_family(app, who, "family.view").await?;
    let appointments = if f.appointments {
        let (from, to) = crate::work::range(app, f.program.id, None, 14).await?;
        let from = from.max(f.now - 3600 * 1_000_000);
        Some(
            crate::work::patient_sessions(app, f.patient_id, f.program.id, from, to)
                .await?
                .into_iter()
                .map(|x| appointment(x, &f.tz))
                .collect(),
        )
    } else {
        None
    };
    Ok(FamilyView {
        first_name: f.first_name,
        recipient: who.display_name.clone(),
        program: f.program.name.clone(),
        program_address: f.program.address.clone(),
        program_hours: f.program.hours.clone(),
        information: f.consent.information.clone(),
        purpose: f.consent.purpose.clone(),
        until: f
            .consent
            .expires_on
            .clone()
            .filter(|d| !d.trim().is_empty())
            .or(f.consent.expiry_event.clone())
            .unwrap_or_default(),
        appointments,
    })
}

fn appointment(x: carepath_store::CalendarSession, tz: &jiff::tz::TimeZone) -> Appointment {
    let (day, time) = day_of(x.starts_at, tz);
    Appointment {
        kind: x.kind,
        title: x.title,
        starts_at: x.starts_at,
        day,
        time,
        minutes: x.minutes,
        location: x.location,
    }
}

/// What joining asks for.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct JoinInput {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub confirm: String,
    /// en or es.
    #[serde(default)]
    pub language: String,
}

fn portal_event(action: &str, outcome: Outcome, client: Option<&str>) -> NewEvent {
    let mut e = NewEvent::new(action, outcome);
    e.role = Some("patient".into());
    e.client_addr = client.map(str::to_string);
    e
}

fn lang_code(l: &str) -> &'static str {
    if l.trim() == "es" { "es" } else { "en" }
}

/// Join with an invitation: set the username and password and sign in.
/// Returns the session secret. Every invalid field at once; a wrong,
/// used or expired code is one message (which is not revealed).
pub async fn join(app: &App, i: &JoinInput, client: Option<&str>) -> Result<String> {
    let username = i.username.trim().to_lowercase();
    let mut p = Problems::new();
    let code = normalize_code(&i.code);
    if code.len() != 12 {
        p.add("code", "enter the 12 letters and numbers of your code");
    }
    if let Err(e) = carepath_domain::password::check_username(&username) {
        p.add("username", e.message);
    }
    if let Err(e) = carepath_domain::password::check(&i.password, &username) {
        p.add("password", e.message);
    } else if i.password != i.confirm {
        p.add("confirm", "does not match the password");
    }
    p.finish()?;
    let hash = hash_password(i.password.clone()).await?;
    let mut tx = app.begin().await?;
    let Some((patient, family)) = tx.use_portal_invite(&sha256_hex(&code)).await? else {
        drop(tx);
        app.audit(
            portal_event("portal.join", Outcome::Failure, client)
                .detail("unknown, used or expired code"),
        )
        .await?;
        return Err(Error::invalid(
            "code",
            "this code does not work: it may be mistyped, used already or expired; ask the clinic for a new one",
        ));
    };
    let account = match tx
        .set_portal_account(
            patient,
            &username,
            &hash,
            lang_code(&i.language),
            family.as_ref(),
        )
        .await
    {
        Ok(a) => a,
        Err(e) if e.is_conflict("portal_account_username") => {
            return Err(Error::invalid("username", "is taken; choose another"));
        }
        Err(e) => return Err(e.into()),
    };
    let token = random_token("");
    let expires = app.now_us() + app.settings.absolute_timeout_secs * 1_000_000;
    tx.create_portal_session(&sha256_hex(&token), &account, expires, true, client)
        .await?;
    let mut e = portal_event("portal.join", Outcome::Success, client)
        .object("portal_account", &account)
        .patient(patient);
    e.username = Some(username);
    e.user_id = Some(account.clone());
    if let Some(f) = &family {
        e.role = Some("family".into());
        e.detail = Some(format!("family member under consent {}", f.consent_id));
    }
    tx.audit(e);
    tx.commit().await?;
    Ok(token)
}

/// A password accepted: the session secret, and whether the patient's
/// second factor is still due.
#[derive(Debug)]
pub struct SignedIn {
    pub token: String,
    pub mfa_due: bool,
    /// A family member's account (their page is the family view).
    pub family: bool,
}

/// Sign in to the portal: a session, or `None` (wrong username or
/// password, locked or turned off — one message for all). Failures count
/// towards the account's lockout and are audited. A patient who set up a
/// second factor gets a session that can do nothing until the code is
/// given ([`second_factor`]).
pub async fn sign_in(
    app: &App,
    username: &str,
    password: String,
    client: Option<&str>,
) -> Result<Option<SignedIn>> {
    let username = username.trim().to_lowercase();
    let acc = app.store.portal_account_by_username(&username).await?;
    let ok = verify_password(password, acc.as_ref().map(|a| a.password_hash.clone())).await;
    let mut ev = portal_event("portal.login", Outcome::Failure, client);
    ev.username = Some(username.chars().take(64).collect());
    let Some(acc) = acc else {
        app.audit(ev.detail("unknown user")).await?;
        return Ok(None);
    };
    ev.user_id = Some(acc.id.clone());
    ev.patient_id = Some(acc.patient_id.to_string());
    let now = app.now_us();
    if acc.disabled_at.is_some() {
        app.audit(ev.detail("portal access turned off")).await?;
        return Ok(None);
    }
    if acc.locked_until.is_some_and(|t| t > now) {
        app.audit(ev.detail("account locked")).await?;
        return Ok(None);
    }
    let mut tx = app.begin().await?;
    if !ok {
        let s = &app.settings;
        tx.portal_login_failure(&acc.id, s.max_failed_logins, s.lockout_secs * 1_000_000)
            .await?;
        tx.audit(ev.detail("wrong password"));
        tx.commit().await?;
        return Ok(None);
    }
    tx.portal_login_success(&acc.id).await?;
    let token = random_token("");
    let expires = now + app.settings.absolute_timeout_secs * 1_000_000;
    let mfa_due = acc.mfa_enrolled();
    tx.create_portal_session(&sha256_hex(&token), &acc.id, expires, !mfa_due, client)
        .await?;
    ev.outcome = Outcome::Success;
    tx.audit(ev.detail(if mfa_due {
        "password accepted; second factor due"
    } else {
        "signed in"
    }));
    tx.commit().await?;
    Ok(Some(SignedIn {
        token,
        mfa_due,
        family: acc.consent_id.is_some(),
    }))
}

/// Resolve a portal session to the patient's principal. `Ok(None)`: no
/// live session (ended, turned off). An idle or expired session is ended,
/// audited, and answered `SessionExpired`.
pub async fn resolve(
    app: &App,
    token: &str,
    client_addr: Option<String>,
) -> Result<Option<Principal>> {
    let token_hash = sha256_hex(token);
    let Some((s, acc)) = app.store.portal_session(&token_hash).await? else {
        return Ok(None);
    };
    if s.ended_at.is_some() || acc.disabled_at.is_some() {
        return Ok(None);
    }
    let now = app.now_us();
    let idle = now - s.last_seen_at > app.settings.idle_timeout_secs * 1_000_000;
    if idle || now >= s.expires_at {
        let mut e = portal_event("portal.logout", Outcome::Success, client_addr.as_deref()).detail(
            if idle {
                "idle timeout"
            } else {
                "session lifetime reached"
            },
        );
        e.user_id = Some(acc.id.clone());
        e.patient_id = Some(acc.patient_id.to_string());
        let mut tx = app.begin().await?;
        tx.end_portal_session(&token_hash).await?;
        tx.audit(e);
        tx.commit().await?;
        return Err(Error::SessionExpired);
    }
    if now - s.last_seen_at > 30_000_000 {
        let mut tx = app.begin().await?;
        tx.touch_portal_session(&token_hash).await?;
        tx.commit().await?;
    }
    let patient = app
        .store
        .find_patient(acc.patient_id)
        .await?
        .ok_or(Error::NotFound)?;
    let first = patient
        .preferred_name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| patient.legal_first_name.clone());
    // A family member is named as their consent names them; they reach
    // only what `access::open_family` allows.
    let (kind, display_name) = match (&acc.consent_id, &acc.recipient) {
        (Some(consent), Some(recipient)) => (
            ActorKind::Family {
                patient: acc.patient_id,
                consent: consent.clone(),
                appointments: acc.show_appointments,
            },
            recipient.clone(),
        ),
        _ => (
            ActorKind::Patient(acc.patient_id),
            format!("{first} {}", patient.legal_last_name),
        ),
    };
    Ok(Some(Principal {
        kind,
        user_id: acc
            .id
            .parse::<uuid::Uuid>()
            .map(UserId)
            .map_err(|_| Error::Internal("portal account id".into()))?,
        username: acc.username.clone(),
        display_name,
        grants: vec![],
        org_roles: vec![],
        via: Via::Session { token_hash },
        mfa_done: s.mfa_done || !acc.mfa_enrolled(),
        mfa_enrolled: acc.mfa_enrolled(),
        client_addr,
    }))
}

// ---------------------------------------------------------------------------
// The optional second factor (TOTP, RFC 6238), as for staff: the server
// chooses the secret, each time step is accepted once, wrong codes count
// towards the lockout. A lost phone is handled in person: a new invitation
// from staff resets the password and removes the factor.

async fn account_of(app: &App, who: &Principal) -> Result<PortalAccount> {
    let patient = own(who)?;
    app.store
        .portal_account_of(patient)
        .await?
        .ok_or(Error::Unauthenticated)
}

/// Check the second factor of a session that gave its password; on success
/// the session is replaced by one whose factor is passed (the new secret),
/// else `None`.
pub async fn second_factor(app: &App, who: &Principal, code: &str) -> Result<Option<String>> {
    let acc = account_of(app, who).await?;
    let Via::Session { token_hash } = &who.via else {
        return Err(Error::Forbidden("sessions only".into()));
    };
    let mut tx = app.begin().await?;
    let ok = match &acc.totp_secret {
        Some(secret) => {
            let code = code.trim().replace([' ', '-'], "");
            let now = app.now().as_second().max(0) as u64;
            match crate::auth::totp(secret, &acc.username)?.check(&code, now) {
                Some(step) => tx.accept_portal_totp_step(&acc.id, step as i64).await?,
                None => false,
            }
        }
        None => false,
    };
    if !ok {
        let s = &app.settings;
        let locked = tx
            .portal_login_failure(&acc.id, s.max_failed_logins, s.lockout_secs * 1_000_000)
            .await?;
        tx.audit(
            who.event("portal.mfa", Outcome::Failure)
                .detail("wrong or reused code"),
        );
        if locked.is_some_and(|t| t > app.now_us()) {
            tx.end_portal_session(token_hash).await?;
        }
        tx.commit().await?;
        return Ok(None);
    }
    let old = app
        .store
        .portal_session(token_hash)
        .await?
        .ok_or(Error::Unauthenticated)?
        .0;
    tx.end_portal_session(token_hash).await?;
    let token = random_token("");
    tx.create_portal_session(
        &sha256_hex(&token),
        &acc.id,
        old.expires_at,
        true,
        who.client_addr.as_deref(),
    )
    .await?;
    tx.portal_login_success(&acc.id).await?;
    tx.audit(who.event("portal.mfa", Outcome::Success));
    tx.commit().await?;
    Ok(Some(token))
}

/// Where the patient's second factor stands: enrolled, and the secret on
/// offer while setting it up.
pub async fn factor_state(app: &App, who: &Principal) -> Result<(bool, Option<String>)> {
    let acc = account_of(app, who).await?;
    Ok((acc.mfa_enrolled(), acc.pending_totp))
}

/// Offer a new secret for the patient's authenticator app.
pub async fn begin_factor(app: &App, who: &Principal) -> Result<String> {
    if !who.mfa_done {
        return Err(Error::MfaPending);
    }
    let acc = account_of(app, who).await?;
    if acc.mfa_enrolled() {
        return Err(Error::Conflict(
            "a second factor is set up already; turn it off first".into(),
        ));
    }
    let secret = crate::auth::new_totp_secret();
    let mut tx = app.begin().await?;
    tx.set_portal_pending_totp(&acc.id, Some(&secret)).await?;
    tx.commit().await?;
    Ok(secret)
}

/// Turn the second factor on after checking a code from the offered secret.
pub async fn enable_factor(app: &App, who: &Principal, code: &str) -> Result<()> {
    if !who.mfa_done {
        return Err(Error::MfaPending);
    }
    let acc = account_of(app, who).await?;
    let Some(secret) = acc.pending_totp.clone() else {
        return Err(Error::Conflict("start the set-up again".into()));
    };
    let now = app.now().as_second().max(0) as u64;
    let code = code.trim().replace([' ', '-'], "");
    let Some(step) = crate::auth::totp(&secret, &acc.username)?.check(&code, now) else {
        return Err(Error::invalid(
            "code",
            "did not match; check the phone's clock and try the next code",
        ));
    };
    let mut tx = app.begin().await?;
    tx.set_portal_totp(&acc.id, Some(&secret), Some(step as i64))
        .await?;
    tx.audit(
        who.event("portal.mfa_enrol", Outcome::Success)
            .detail("second factor set up"),
    );
    tx.commit().await?;
    Ok(())
}

/// Turn the second factor off: the password and a current code.
pub async fn disable_factor(app: &App, who: &Principal, password: &str, code: &str) -> Result<()> {
    if !who.mfa_done {
        return Err(Error::MfaPending);
    }
    let acc = account_of(app, who).await?;
    let Some(secret) = acc.totp_secret.clone() else {
        return Err(Error::Conflict("no second factor is set up".into()));
    };
    let mut p = Problems::new();
    if !verify_password(password.to_string(), Some(acc.password_hash.clone())).await {
        p.add("password", "is not your password");
    }
    let now = app.now().as_second().max(0) as u64;
    let mut tx = app.begin().await?;
    let ok = match crate::auth::totp(&secret, &acc.username)?
        .check(&code.trim().replace([' ', '-'], ""), now)
    {
        Some(step) => tx.accept_portal_totp_step(&acc.id, step as i64).await?,
        None => false,
    };
    if !ok {
        p.add("code", "enter a current code from your authenticator app");
    }
    if let Err(e) = p.finish() {
        let s = &app.settings;
        tx.portal_login_failure(&acc.id, s.max_failed_logins, s.lockout_secs * 1_000_000)
            .await?;
        tx.audit(who.event("portal.mfa_remove", Outcome::Failure));
        tx.commit().await?;
        return Err(e);
    }
    tx.set_portal_totp(&acc.id, None, None).await?;
    tx.audit(
        who.event("portal.mfa_remove", Outcome::Success)
            .detail("second factor turned off"),
    );
    tx.commit().await?;
    Ok(())
}

fn own(who: &Principal) -> Result<PatientId> {
    match who.kind {
        ActorKind::Patient(p) => Ok(p),
        _ => Err(Error::Forbidden("the portal is for patients".into())),
    }
}

/// End the portal session; audited.
pub async fn sign_out(app: &App, who: &Principal) -> Result<()> {
    own(who)?;
    let mut tx = app.begin().await?;
    if let Via::Session { token_hash } = &who.via {
        tx.end_portal_session(token_hash).await?;
    }
    tx.audit(who.event("portal.logout", Outcome::Success));
    Ok(tx.commit().await?)
}

/// The portal account's language (en or es; en for anyone else).
pub async fn language(app: &App, who: &Principal) -> Result<String> {
    if !matches!(who.kind, ActorKind::Patient(_) | ActorKind::Family { .. }) {
        return Ok("en".into());
    }
    Ok(app
        .store
        .portal_account(&who.user_id.to_string())
        .await?
        .map(|a| a.language)
        .unwrap_or_else(|| "en".into()))
}

/// The account's preferred language (en or es): the patient's or a family
/// member's.
pub async fn set_language(app: &App, who: &Principal, lang: &str) -> Result<()> {
    if !matches!(who.kind, ActorKind::Patient(_) | ActorKind::Family { .. }) {
        return Err(Error::Forbidden("the portal is for patients".into()));
    }
    let acc = app
        .store
        .portal_account(&who.user_id.to_string())
        .await?
        .ok_or(Error::NotFound)?;
    let mut tx = app.begin().await?;
    tx.set_portal_language(&acc.id, lang_code(lang)).await?;
    tx.audit(who.event("portal.language", Outcome::Success));
    Ok(tx.commit().await?)
}

// ---------------------------------------------------------------------------
// What the patient sees.

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Appointment {
    /// group, individual, family or activity.
    pub kind: String,
    pub title: String,
    pub starts_at: i64,
    /// Program-local date, `YYYY-MM-DD`.
    pub day: String,
    /// Program-local time, `HH:MM`.
    pub time: String,
    pub minutes: i64,
    pub location: String,
}

/// Today at the window.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DoseToday {
    /// dosed (observed at the window), bottle (today's dose is a take-home
    /// bottle), due (an order is in force and no dose yet), none.
    pub state: String,
    /// When dosed, `HH:MM`.
    pub at: Option<String>,
    pub bottle_no: Option<i64>,
}

/// A take-home bottle and the day it is for.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BottleDay {
    pub day: String,
    /// Monday 0 … Sunday 6.
    pub weekday: u8,
    pub bottle_no: i64,
    pub today: bool,
}

/// A drug test in plain terms (words are the door's, in the reader's language).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TestLine {
    pub day: String,
    pub refused: bool,
    /// No result yet.
    pub pending: bool,
    /// Positive for a medication ordered for the patient (expected).
    pub expected: Vec<String>,
    /// Positive for anything else.
    pub positive: Vec<String>,
    /// Could not be read.
    pub unclear: Vec<String>,
    /// Results in force that were negative.
    pub negatives: usize,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PointsLine {
    pub day: String,
    /// The evidence: a drug test or attendance.
    pub source: String,
    /// negative, positive, missed, attended, …
    pub sample: String,
    pub cents: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RewardLine {
    pub id: String,
    pub name: String,
    pub category: String,
    pub cost_cents: i64,
    pub in_stock: bool,
    pub affordable: bool,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RequestLine {
    pub id: String,
    pub item: String,
    pub cost_cents: i64,
    pub day: String,
    /// waiting, fulfilled or declined.
    pub state: String,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Points {
    pub enrolled: bool,
    pub balance_cents: i64,
    pub earned_cents: i64,
    pub history: Vec<PointsLine>,
    pub rewards: Vec<RewardLine>,
    pub requests: Vec<RequestLine>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Goal {
    pub problem: String,
    pub goal: String,
    pub progress: String,
    pub objectives: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AftercareView {
    pub outpatient_therapy: String,
    pub medication: String,
    pub support_groups: String,
    pub sober_living: String,
    pub housing_employment: String,
    pub naloxone_kit: bool,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReportLine {
    pub day: String,
    pub time: String,
    pub sows_total: Option<i64>,
    pub craving: i64,
    pub mood: i64,
    /// Staff were told.
    pub alerted: bool,
    /// Staff saw it and answered.
    pub seen: bool,
}

/// Everything the portal's pages show, filtered by the program's settings.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Home {
    pub first_name: String,
    pub program: String,
    pub program_address: String,
    pub program_hours: String,
    pub today: String,
    pub language: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub settings: PortalSettings,
    pub appointments: Vec<Appointment>,
    pub dose_today: Option<DoseToday>,
    pub bottles: Vec<BottleDay>,
    pub tests: Vec<TestLine>,
    pub points: Option<Points>,
    pub goals: Vec<Goal>,
    pub plan_review: Option<String>,
    pub aftercare: Option<AftercareView>,
    pub reports: Vec<ReportLine>,
}

fn day_of(us: i64, tz: &jiff::tz::TimeZone) -> (String, String) {
    jiff::Timestamp::from_microsecond(us)
        .map(|t| {
            let z = t.to_zoned(tz.clone());
            (
                z.strftime("%Y-%m-%d").to_string(),
                z.strftime("%H:%M").to_string(),
            )
        })
        .unwrap_or_default()
}

/// Open the patient's own record (audited as `action`).
async fn open_own(app: &App, who: &Principal, action: &str) -> Result<PatientScope> {
    let patient = own(who)?;
    access::open(app, who, patient, Permission::ReadClinical, action).await
}

/// The portal's view of the patient's treatment (audited as one read).
pub async fn home(app: &App, who: &Principal) -> Result<Home> {
    let s = open_own(app, who, "portal.read").await?;
    let patient = s.patient.id;
    let settings = settings(app, s.program.id).await?;
    let today = s.today();
    let today_s = today.to_string();
    let acc = app
        .store
        .portal_account_of(patient)
        .await?
        .ok_or(Error::NotFound)?;

    // Appointments: the next 14 days of sessions the patient is on.
    let (from, to) = crate::work::range(app, s.program.id, None, 14).await?;
    let from = from.max(s.now - 3600 * 1_000_000);
    let appointments = crate::work::patient_sessions(app, patient, s.program.id, from, to)
        .await?
        .into_iter()
        .map(|x| appointment(x, &s.tz))
        .collect();

    // Today's dose and the bottles from today on.
    let (mut dose_today, mut bottles) = (None, vec![]);
    if settings.show_dosing {
        let doses = app.store.doses(patient, 20).await?;
        let orders = app.store.orders(patient).await?;
        for b in app.store.bottles(patient, &today_s).await? {
            let wd = b
                .take_on
                .parse::<jiff::civil::Date>()
                .map(|d| d.weekday().to_monday_zero_offset() as u8)
                .unwrap_or(0);
            bottles.push(BottleDay {
                today: b.take_on == today_s,
                day: b.take_on,
                weekday: wd,
                bottle_no: b.bottle_no,
            });
        }
        bottles.sort_by(|a, b| a.day.cmp(&b.day));
        let observed = doses
            .iter()
            .find(|d| d.clinic_day == today_s && d.kind != "take_home");
        let bottle = bottles.iter().find(|b| b.today);
        dose_today = if let Some(d) = observed {
            Some(DoseToday {
                state: "dosed".into(),
                at: Some(day_of(d.given_at, &s.tz).1),
                bottle_no: None,
            })
        } else if let Some(b) = bottle {
            Some(DoseToday {
                state: "bottle".into(),
                at: None,
                bottle_no: Some(b.bottle_no),
            })
        } else if crate::dosing::active_on(&orders, &today_s).is_some() {
            Some(DoseToday {
                state: "due".into(),
                at: None,
                bottle_no: None,
            })
        } else {
            None
        };
    }

    // Drug tests, the last 12 months, in plain terms.
    let mut tests = vec![];
    if settings.show_drug_tests {
        let year_ago = s.now - 365 * DAY_US;
        for v in crate::drugtest::history_of(app, &s)
            .await?
            .tests
            .into_iter()
            .filter(|v| v.test.collected_at >= year_ago)
        {
            let (forced, _) = crate::drugtest::in_force(&v.results);
            let expected: Vec<String> = v
                .findings
                .iter()
                .filter(|f| f.level == carepath_clinical::drugtest::Level::Expected)
                .flat_map(|f| f.analytes.clone())
                .collect();
            let mut line = TestLine {
                day: day_of(v.test.collected_at, &s.tz).0,
                refused: v.test.refused,
                pending: forced.is_empty() && !v.test.refused,
                expected: vec![],
                positive: vec![],
                unclear: vec![],
                negatives: 0,
            };
            for r in forced {
                match r.outcome.as_str() {
                    "positive" if expected.contains(&r.analyte) => {
                        line.expected.push(r.analyte.clone())
                    }
                    "positive" => line.positive.push(r.analyte.clone()),
                    "negative" => line.negatives += 1,
                    _ => line.unclear.push(r.analyte.clone()),
                }
            }
            tests.push(line);
        }
    }

    // Points and rewards.
    let points = if settings.show_rewards {
        crate::cm::sync(app, patient).await?;
        let l = crate::cm::ledger_of(app, &s).await?;
        let mut history: Vec<PointsLine> = l
            .enrollments
            .iter()
            .flat_map(|e| e.lines.iter())
            .map(|x| PointsLine {
                day: day_of(x.sample.evidence_at, &s.tz).0,
                source: x.sample.source.clone(),
                sample: x.sample.sample.clone(),
                cents: x.sample.amount_cents,
            })
            .collect();
        history.sort_by(|a, b| b.day.cmp(&a.day));
        history.truncate(30);
        Some(Points {
            enrolled: l
                .enrollments
                .iter()
                .any(|e| e.enrollment.ended_at.is_none()),
            balance_cents: l.balance_cents,
            earned_cents: l.earned_cents,
            history,
            rewards: l
                .catalog
                .iter()
                .map(|i| RewardLine {
                    id: i.id.clone(),
                    name: i.name.clone(),
                    category: i.category.clone(),
                    cost_cents: i.cost_cents,
                    in_stock: i.in_stock > 0,
                    affordable: i.cost_cents <= l.balance_cents,
                })
                .collect(),
            requests: l
                .redemptions
                .iter()
                .map(|r| RequestLine {
                    id: r.id.clone(),
                    item: r.item_name.clone(),
                    cost_cents: r.cost_cents,
                    day: day_of(r.requested_at, &s.tz).0,
                    state: r.outcome.clone().unwrap_or_else(|| "waiting".into()),
                })
                .collect(),
        })
    } else {
        None
    };

    // The current treatment plan's goals; the aftercare plan of the latest
    // discharge. Read through the scope (which withholds what it must);
    // notes are never read here.
    let (mut goals, mut plan_review, mut aftercare) = (vec![], None, None);
    let entries = s.entries(app, &[Kind::Plan, Kind::Discharge]).await?;
    if settings.show_plan
        && let Some(e) = entries
            .iter()
            .filter(|e| e.kind == Kind::Plan && e.rec.is_current())
            .max_by_key(|e| e.rec.occurred_at)
        && let Body::Plan(p) = &e.body
    {
        plan_review = Some(p.review_due.clone());
        goals = p
            .problems
            .iter()
            .map(|x| Goal {
                problem: x.problem.clone(),
                goal: x.goal.clone(),
                progress: x.progress.clone(),
                objectives: x.objectives.iter().map(|o| o.text.clone()).collect(),
            })
            .collect();
    }
    if let Some(e) = entries
        .iter()
        .filter(|e| e.kind == Kind::Discharge && e.rec.is_current())
        .max_by_key(|e| e.rec.occurred_at)
        && let Body::Discharge(d) = &e.body
    {
        let a = &d.aftercare;
        aftercare = Some(AftercareView {
            outpatient_therapy: a.outpatient_therapy.clone(),
            medication: a.medication.clone(),
            support_groups: a.support_groups.clone(),
            sober_living: a.sober_living.clone(),
            housing_employment: a.housing_employment.clone(),
            naloxone_kit: d.naloxone.kit_given,
        });
    }

    let reports = app
        .store
        .patient_reports(patient, 10)
        .await?
        .into_iter()
        .map(|r| report_line(&r, &s.tz))
        .collect();

    Ok(Home {
        first_name: s
            .patient
            .preferred_name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| s.patient.legal_first_name.clone()),
        program: s.program.name.clone(),
        program_address: s.program.address.clone(),
        program_hours: s.program.hours.clone(),
        today: today_s,
        language: acc.language,
        settings,
        appointments,
        dose_today,
        bottles,
        tests,
        points,
        goals,
        plan_review,
        aftercare,
        reports,
    })
}

fn report_line(r: &Report, tz: &jiff::tz::TimeZone) -> ReportLine {
    let (day, time) = day_of(r.reported_at, tz);
    ReportLine {
        day,
        time,
        sows_total: r.sows_total,
        craving: r.craving,
        mood: r.mood,
        alerted: !r.alert.is_empty(),
        seen: r.ack_at.is_some(),
    }
}

// ---------------------------------------------------------------------------
// What the patient does: self-reports and reward requests.

/// A self-report as the portal's form sends it.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReportInput {
    /// The 16 SOWS answers 0–4 in the published order; empty = not rated.
    #[serde(default)]
    pub sows: Vec<u8>,
    pub craving: Option<u8>,
    pub mood: Option<u8>,
}

/// What came of a self-report.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Reported {
    pub id: String,
    pub sows_total: Option<u8>,
    /// Staff were told at once.
    pub alerted: bool,
}

/// Record the patient's self-report; one that alerts goes on the worklist.
pub async fn report(app: &App, who: &Principal, i: &ReportInput) -> Result<Reported> {
    let s = open_own(app, who, "portal.report.open").await?;
    let w = s.own_writer()?;
    let mut p = Problems::new();
    if i.craving.is_none() {
        p.add("craving", "choose a number from 0 to 10");
    }
    if i.mood.is_none() {
        p.add("mood", "choose one of the five answers");
    }
    if !i.sows.is_empty() && i.sows.len() != 16 {
        p.add(
            "sows",
            format!("answer all 16 questions or none (got {})", i.sows.len()),
        );
    }
    p.finish()?;
    let settings = settings(app, s.program.id).await?;
    let out = selfreport::assess(
        &selfreport::Input {
            sows: (!i.sows.is_empty()).then(|| i.sows.clone()),
            craving: i.craving.unwrap_or_default(),
            mood: i.mood.unwrap_or_default(),
        },
        &thresholds(&settings),
    )?;
    let mut tx = app.begin().await?;
    let id = tx
        .add_patient_report(
            &w,
            &NewReport {
                patient_id: s.patient.id,
                program_id: s.program.id,
                sows_items: (!i.sows.is_empty())
                    .then(|| serde_json::to_string(&i.sows).unwrap_or_default()),
                sows_total: out.sows_total.map(i64::from),
                craving: i.craving.unwrap_or_default().into(),
                mood: i.mood.unwrap_or_default().into(),
                alert: out.alerts.join("; "),
            },
        )
        .await?;
    tx.audit(
        who.event("portal.report", Outcome::Success)
            .object("patient_report", &id)
            .program(s.program.id)
            .detail(if out.alerts.is_empty() {
                "no alert"
            } else {
                "alert raised"
            }),
    );
    tx.commit().await?;
    Ok(Reported {
        id,
        sows_total: out.sows_total,
        alerted: !out.alerts.is_empty(),
    })
}

/// Ask for a reward: held against the balance until staff fulfil or
/// decline it. The item must be in the patient's program's catalog and in
/// stock; the database refuses a request the balance cannot cover.
pub async fn request_reward(app: &App, who: &Principal, item: &str) -> Result<RequestLine> {
    let s = open_own(app, who, "portal.reward.open").await?;
    if !settings(app, s.program.id).await?.show_rewards {
        return Err(Error::NotFound);
    }
    let w = s.own_writer()?;
    let patient = s.patient.id;
    let it = app
        .store
        .reward_items(s.program.id)
        .await?
        .into_iter()
        .find(|x| x.id == item)
        .ok_or(Error::NotFound)?;
    if it.in_stock < 1 {
        return Err(Error::Conflict(format!("{} is out of stock", it.name)));
    }
    crate::cm::sync(app, patient).await?;
    let mut tx = app.begin().await?;
    tx.lock(&format!("cm:{patient}")).await?;
    let rid = tx
        .add_redemption(&w, patient, s.program.id, &it, "patient", &who.display_name)
        .await
        .map_err(crate::cm::balance_error)?;
    tx.audit(
        who.event("portal.reward.request", Outcome::Success)
            .object("cm_redemption", &rid)
            .program(s.program.id)
            .detail(format!("cost={}", it.cost_cents)),
    );
    tx.commit().await?;
    Ok(RequestLine {
        id: rid,
        item: it.name,
        cost_cents: it.cost_cents,
        day: s.today().to_string(),
        state: "waiting".into(),
    })
}

// ---------------------------------------------------------------------------
// Staff: a patient's self-reports and their acknowledgement.

/// A patient's self-reports, newest first (staff reading the chart).
pub async fn reports(app: &App, who: &Principal, patient: PatientId) -> Result<Vec<Report>> {
    access::open(
        app,
        who,
        patient,
        Permission::ReadClinical,
        "portal.reports.read",
    )
    .await?;
    Ok(app.store.patient_reports(patient, 50).await?)
}

/// The patient a self-report belongs to (to go back to their page; the
/// report itself is read only through `reports` / `acknowledge`).
pub async fn report_patient(app: &App, report_id: &str) -> Result<PatientId> {
    Ok(app
        .store
        .patient_report(report_id)
        .await?
        .ok_or(Error::NotFound)?
        .patient_id)
}

/// A staff member saw an alerting report and says what they did (once).
pub async fn acknowledge(app: &App, who: &Principal, report_id: &str, note: &str) -> Result<()> {
    let r = app
        .store
        .patient_report(report_id)
        .await?
        .ok_or(Error::NotFound)?;
    let s = access::open(
        app,
        who,
        r.patient_id,
        Permission::WriteClinical,
        "portal.report.ack.open",
    )
    .await?;
    let w = s.writer()?;
    let note = note.trim();
    if note.chars().count() < 3 {
        return Err(Error::invalid(
            "note",
            "say in a few words what you did (called them, saw them at the window…)",
        ));
    }
    if r.alert.is_empty() {
        return Err(Error::Conflict(
            "this report did not alert; nothing to acknowledge".into(),
        ));
    }
    let mut tx = app.begin().await?;
    match tx
        .ack_patient_report(
            &w,
            r.patient_id,
            &r.id,
            who.user_id,
            &who.display_name,
            note,
        )
        .await
    {
        Ok(()) => {}
        Err(e) if e.is_conflict("patient_report_ack_pkey") => {
            return Err(Error::Conflict(
                "someone acknowledged this report already".into(),
            ));
        }
        Err(e) => return Err(e.into()),
    }
    tx.audit(
        who.event("portal.report.ack", Outcome::Success)
            .object("patient_report", &r.id)
            .patient(r.patient_id)
            .program(r.program_id),
    );
    Ok(tx.commit().await?)
}

/// Alerting self-reports of the last 7 days nobody has acknowledged, per
/// program the principal writes in (the worklist).
pub(crate) async fn unacknowledged(app: &App, program: ProgramId, now: i64) -> Result<Vec<Report>> {
    Ok(app
        .store
        .unacknowledged_reports(program, now - 7 * DAY_US)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_aloud_and_typed_loosely() {
        let c = new_code();
        assert_eq!(c.len(), 14);
        assert!(
            normalize_code(&c)
                .bytes()
                .all(|b| CODE_ALPHABET.contains(&b))
        );
        assert_eq!(normalize_code(" kx7m-q2rt 9hvp "), "KX7MQ2RT9HVP");
    }
}
