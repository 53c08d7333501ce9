//! THE authorization-and-audit path for patient data. Every service that
//! reads or writes a patient's record opens the patient with [`open`] (or
//! finds patients with [`search`]); nothing else hands patient rows on. It
//! checks the principal's roles in the patient's programs
//! (`authz::patient_access`), falls back to an unexpired break-the-glass
//! grant for reading, and records the attempt — allowed or denied — in the
//! audit chain. What it returns, a [`PatientScope`], is the only way to the
//! patient's records, registration details and photo, and the only maker of
//! the store's write permit ([`carepath_store::PatientWrite`]) — so no
//! service can write into a record it did not open for writing. The scope
//! also withholds § 2.11 counseling notes from everyone but their author and
//! co-signer, on every read path.

use crate::App;
use crate::actor::{ActorKind, Principal};
use crate::error::{Error, Result};
use crate::kinds::{Body, Entry, Kind};
use carepath_domain::audit::Outcome;
use carepath_domain::authz::{self, Permission, Role};
use carepath_domain::ids::{PatientId, ProgramId};
use carepath_domain::program::parse_time_zone;
use carepath_store::{
    Author, Disclosure, Episode, NewRecord, Patient, PatientSearch, PatientWrite, Program, Record,
};

/// How access to a patient was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// A role in one of the patient's programs.
    Program,
    /// An emergency (break-the-glass) grant: reading only.
    Emergency,
    /// The patient's own record (portal).
    Own,
    /// A job inside Carepath.
    System,
}

/// An opened patient: who, where, and as whom the principal writes.
pub struct PatientScope {
    pub patient: Patient,
    pub basis: Basis,
    perm: Permission,
    actor: Principal,
    /// The program the record belongs to: the open episode's (preferring one
    /// of the principal's programs), else the home program.
    pub program: Program,
    pub tz: jiff::tz::TimeZone,
    pub episode: Option<Episode>,
    /// Every episode, newest admission first.
    pub episodes: Vec<Episode>,
    /// The author the principal writes as.
    pub author: Author,
    /// The COWS check protocol in force (the program's, else the server's).
    pub protocol: carepath_clinical::flowsheet::Protocol,
    /// Follow-up calls after discharge: (every N days, how many).
    pub followup: (u32, u32),
    /// When the scope was opened (UTC µs): the time its writes record.
    pub now: i64,
}

/// The protocol settings in force for a program: its own, else the server's.
pub async fn program_settings(
    app: &App,
    program: ProgramId,
) -> Result<(carepath_clinical::flowsheet::Protocol, (u32, u32))> {
    Ok(match app.store.program_protocol(program).await? {
        Some(p) => (
            carepath_clinical::flowsheet::Protocol {
                every_h: p.cows_every_h,
                severe_every_h: p.cows_severe_every_h,
                severe_from: p.cows_severe_from,
            },
            (p.followup_every_days, p.followup_count),
        ),
        None => (
            app.settings.cows_protocol,
            (
                app.settings.followup_every_days,
                app.settings.followup_count,
            ),
        ),
    })
}

/// Open patient `id` for `perm` on behalf of `who`, auditing `action`.
///
/// Refusals: an unknown id or a patient the principal may not see is
/// `NotFound` (existence is not revealed), except that a clinician who could
/// break the glass is told `OutsideYourPrograms`.
pub async fn open(
    app: &App,
    who: &Principal,
    id: PatientId,
    perm: Permission,
    action: &str,
) -> Result<PatientScope> {
    let (scope, event) = open_deferred(app, who, id, perm, action).await?;
    app.audit(event.0).await?;
    Ok(scope)
}

/// The success event of an access, not yet written: the caller queues it in
/// the unit of work the access is for ([`AccessEvent::queue`]), so the
/// access and the change it made commit (and are audited) together — or,
/// when that unit of work fails or never starts, writes it alone
/// ([`AccessEvent::record`]). Either way the access is in the audit chain
/// before the caller answers.
#[must_use = "an access must reach the audit chain: queue or record it"]
pub struct AccessEvent(carepath_domain::audit::NewEvent);

impl AccessEvent {
    /// Queue the access in the unit of work it is for.
    pub(crate) fn queue(&self, tx: &mut carepath_store::Tx) {
        tx.audit(self.0.clone());
    }

    /// Write the access on its own (the unit of work it was for failed).
    pub(crate) async fn record(self, app: &App) -> Result<()> {
        app.audit(self.0).await
    }
}

/// [`open`], but the success event is handed back instead of written: see
/// [`AccessEvent`]. Refusals are audited here, as in `open`.
pub(crate) async fn open_deferred(
    app: &App,
    who: &Principal,
    id: PatientId,
    perm: Permission,
    action: &str,
) -> Result<(PatientScope, AccessEvent)> {
    if !who.mfa_done {
        return Err(Error::MfaPending);
    }
    // The patient row and episodes are read first (nothing is shown before
    // the decision): the programs the patient belongs to are the home
    // program and every program with an episode.
    let found = app.store.find_patient(id).await?;
    let episodes = match &found {
        Some(_) => app.store.episodes(id).await?,
        None => vec![],
    };
    let mut programs: Vec<ProgramId> = found.iter().map(|p| p.program_id).collect();
    for e in &episodes {
        if !programs.contains(&e.program_id) {
            programs.push(e.program_id);
        }
    }
    let audit = |outcome, detail: Option<String>| {
        let mut e = who.event(action, outcome).object("patient", id).patient(id);
        if let Some(d) = detail {
            e.detail = Some(d);
        }
        e
    };
    if programs.is_empty() {
        app.audit(audit(Outcome::Failure, Some("no such patient".into())))
            .await?;
        return Err(Error::NotFound);
    }
    let basis = match &who.kind {
        ActorKind::System { .. } => Some(Basis::System),
        ActorKind::Patient(own) => (*own == id
            && matches!(
                perm,
                Permission::ReadDemographics | Permission::ReadClinical
            ))
        .then_some(Basis::Own),
        // A family member never opens the record: `open_family` is their path.
        ActorKind::Family { .. } => None,
        ActorKind::Staff => {
            let grants = who.grant_pairs(perm);
            if authz::patient_access(&grants, &programs, perm) {
                Some(Basis::Program)
            } else if authz::break_glass_opens(grants.iter().map(|g| g.1), perm) {
                app.store
                    .active_break_glass(who.user_id, id, app.now_us())
                    .await?
                    .map(|_| Basis::Emergency)
            } else {
                None
            }
        }
    };
    let Some(basis) = basis else {
        app.audit(audit(
            Outcome::Denied,
            Some(format!("outside the user's programs ({perm})")),
        ))
        .await?;
        return Err(if who.is_staff() && who.can(Permission::BreakGlass) {
            Error::OutsideYourPrograms
        } else {
            Error::NotFound
        });
    };
    let patient = found.ok_or(Error::NotFound)?;
    let mine = who.programs_with(perm);
    let episode = episodes
        .iter()
        .filter(|e| e.discharged_at.is_none())
        .max_by_key(|e| (mine.contains(&e.program_id), e.admitted_at))
        .cloned();
    let program_id = episode
        .as_ref()
        .map(|e| e.program_id)
        .unwrap_or(patient.program_id);
    let program = app.store.program(program_id).await?;
    let tz = parse_time_zone(&program.timezone)?;
    let (protocol, followup) = program_settings(app, program_id).await?;
    let role = who
        .role_in(program_id)
        .or_else(|| who.roles().into_iter().next())
        .map(|r| r.as_str().to_string())
        .unwrap_or_default();
    let detail = (basis == Basis::Emergency).then(|| "break-the-glass access".to_string());
    let event = AccessEvent(audit(Outcome::Success, detail).program(patient.program_id));
    let scope = PatientScope {
        author: Author {
            id: who.user_id,
            name: who.display_name.clone(),
            role,
        },
        actor: who.clone(),
        patient,
        basis,
        perm,
        program,
        tz,
        episode,
        episodes,
        protocol,
        followup,
        now: app.now_us(),
    };
    Ok((scope, event))
}

/// What a family member may see: the patient's first name, the program,
/// and the consent they stand on (what it shares, until when).
pub struct FamilyScope {
    pub patient_id: PatientId,
    /// The patient's preferred or first name (never the full record).
    pub first_name: String,
    pub program: Program,
    pub tz: jiff::tz::TimeZone,
    pub consent: carepath_clinical::consent::Consent,
    /// The consent lets them see upcoming appointments.
    pub appointments: bool,
    pub now: i64,
}

/// Where a consent stands today for the portal's family view: revoked or
/// not, and whether treatment has ended (every episode discharged; a
/// patient never admitted has not ended treatment).
pub(crate) fn consent_standing(
    episodes: &[Episode],
    revoked: bool,
    today: jiff::civil::Date,
) -> carepath_clinical::consent::Standing {
    carepath_clinical::consent::Standing {
        revoked,
        treatment_ended: !episodes.is_empty() && episodes.iter().all(|e| e.discharged_at.is_some()),
        today,
    }
}

/// The family member's path to a patient: only while the patient's
/// family-involvement consent stands (`clinical::consent::permits`: the
/// recipient it names, not revoked, not expired, treatment not ended when
/// it ends with treatment), checked on every request and audited either
/// way. Never opens the record itself.
pub async fn open_family(app: &App, who: &Principal, action: &str) -> Result<FamilyScope> {
    let ActorKind::Family {
        patient,
        consent,
        appointments,
    } = &who.kind
    else {
        return Err(Error::Forbidden("this view is for family members".into()));
    };
    if !who.mfa_done {
        return Err(Error::MfaPending);
    }
    let deny = |why: String| async move {
        app.audit(
            who.event(action, Outcome::Denied)
                .object("patient", patient)
                .patient(*patient)
                .detail(why.clone()),
        )
        .await?;
        Err::<FamilyScope, Error>(Error::Forbidden(why))
    };
    let Some(p) = app.store.find_patient(*patient).await? else {
        return deny("no such patient".into()).await;
    };
    let mut entries = vec![];
    for r in app
        .store
        .patient_records(*patient, &["consent", "consent_revocation"])
        .await?
    {
        entries.push(Entry::decode(r)?);
    }
    let found = current(&entries, Kind::Consent).find(|e| &e.root_id == consent);
    let Some(found) = found else {
        return deny("the consent is not on file".into()).await;
    };
    let Body::Consent(c) = &found.body else {
        return Err(Error::Internal("consent body".into()));
    };
    let c = c.consent.clone();
    if c.kind != carepath_clinical::consent::Kind::Family {
        return deny("not a family-involvement consent".into()).await;
    }
    let revoked = entries
        .iter()
        .any(|r| r.kind == Kind::ConsentRevocation && r.ref_id.as_deref() == Some(consent));
    let episodes = app.store.episodes(*patient).await?;
    let program_id = episodes
        .iter()
        .filter(|e| e.discharged_at.is_none())
        .max_by_key(|e| e.admitted_at)
        .map(|e| e.program_id)
        .unwrap_or(p.program_id);
    let program = app.store.program(program_id).await?;
    let tz = parse_time_zone(&program.timezone)?;
    let now = app.now_us();
    let today = carepath_domain::program::clinic_day(app.now(), &tz);
    let standing = consent_standing(&episodes, revoked, today);
    if let Err(why) = carepath_clinical::consent::permits(
        &c,
        standing,
        &carepath_clinical::consent::Request {
            recipient: who.display_name.clone(),
            purpose: c.purpose.clone(),
        },
    ) {
        return deny(why).await;
    }
    app.audit(
        who.event(action, Outcome::Success)
            .object("patient", patient)
            .patient(*patient)
            .program(program_id),
    )
    .await?;
    Ok(FamilyScope {
        patient_id: *patient,
        first_name: p
            .preferred_name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or(p.legal_first_name.clone()),
        program,
        tz,
        consent: c,
        appointments: *appointments,
        now,
    })
}

/// The permit to write a just-registered patient's first details and
/// admission, in the unit of work that registers them.
pub(crate) fn new_patient_writer(p: &Patient) -> PatientWrite {
    PatientWrite::granted_by_access_path(p.id)
}

/// The permit for program-level work to write into a patient's record
/// (attendance, group membership): the principal must hold `WriteClinical`
/// in `program`, and the patient must belong to it (home program or an
/// episode there). Refusals are audited; an unknown patient or one of
/// another program is `NotFound`.
pub(crate) async fn program_writer(
    app: &App,
    who: &Principal,
    program: ProgramId,
    patient: PatientId,
    action: &str,
) -> Result<PatientWrite> {
    let belongs = app
        .store
        .patient_programs(patient)
        .await?
        .contains(&program);
    if !belongs || !who.holds_in(program, Permission::WriteClinical) {
        app.audit(
            who.event(action, Outcome::Denied)
                .object("patient", patient)
                .patient(patient)
                .program(program)
                .detail("not a patient of a program the user writes in"),
        )
        .await?;
        return Err(Error::NotFound);
    }
    Ok(PatientWrite::granted_by_access_path(patient))
}

/// Open the patient a record belongs to (the record is then read through
/// the scope). An unknown record id is `NotFound`.
pub async fn open_for_record(
    app: &App,
    who: &Principal,
    record_id: &str,
    perm: Permission,
    action: &str,
) -> Result<(PatientScope, Entry)> {
    let rec = app.store.record(record_id).await?;
    let scope = open(app, who, rec.patient_id, perm, action).await?;
    let entry = scope.entry(rec)?;
    Ok((scope, entry))
}

/// Search patients the principal may see; the search itself is audited (with
/// the number of results, not the query, which may contain names).
pub async fn search(app: &App, who: &Principal, q: &PatientSearch) -> Result<Vec<Patient>> {
    let programs = who.programs_with(Permission::ReadDemographics);
    let found = app.store.search_patients(&programs, q).await?;
    app.audit(
        who.event("patient.search", Outcome::Success)
            .detail(format!("results={}", found.len())),
    )
    .await?;
    Ok(found)
}

/// Open an emergency-access grant for a patient outside the user's programs
/// (42 CFR § 2.51), for the configured time. Audited.
pub async fn break_glass(app: &App, who: &Principal, id: PatientId, reason: &str) -> Result<()> {
    if !who.is_staff() || !who.can(Permission::BreakGlass) {
        return Err(Error::Forbidden(
            "only clinicians may break the glass".into(),
        ));
    }
    if app.store.patient_programs(id).await?.is_empty() {
        return Err(Error::NotFound);
    }
    let reason = reason.trim();
    if reason.chars().count() < 10 {
        return Err(Error::invalid(
            "reason",
            "describe the emergency in at least 10 characters",
        ));
    }
    let ttl = app.settings.break_glass_minutes * 60 * 1_000_000;
    let mut tx = app.begin().await?;
    let gid = tx.create_break_glass(who.user_id, id, reason, ttl).await?;
    tx.audit(
        who.event("break_glass.open", Outcome::Success)
            .object("break_glass", gid)
            .patient(id),
    );
    tx.commit().await?;
    Ok(())
}

/// A program the principal holds `perm` in, for program-level work
/// (calendar, roster, protocol, listing). `NotFound` otherwise.
pub async fn program(
    app: &App,
    who: &Principal,
    id: ProgramId,
    perm: Permission,
) -> Result<Program> {
    if !who.holds_in(id, perm) {
        return Err(Error::NotFound);
    }
    Ok(app.store.program(id).await?)
}

impl PatientScope {
    pub fn permission(&self) -> Permission {
        self.perm
    }

    pub fn principal(&self) -> &Principal {
        &self.actor
    }

    /// The store's permit to write into this patient's record: for a scope
    /// opened to write, or by someone who writes in the record's program
    /// (never by an emergency grant, never by the patient).
    pub fn writer(&self) -> Result<PatientWrite> {
        let may_write = matches!(self.basis, Basis::Program | Basis::System)
            && (matches!(
                self.perm,
                Permission::WriteClinical | Permission::RegisterPatient
            ) || self.holds_in(self.program.id, Permission::WriteClinical));
        if !may_write {
            return Err(Error::Forbidden(
                "this patient was opened for reading only".into(),
            ));
        }
        Ok(PatientWrite::granted_by_access_path(self.patient.id))
    }

    /// The permit for a patient to add to their own record from the portal
    /// (self-reports, reward requests): only for a scope opened by the
    /// patient themself. Their chart, orders and notes stay closed to them:
    /// `writer` refuses patients.
    pub fn own_writer(&self) -> Result<PatientWrite> {
        match self.actor.kind {
            ActorKind::Patient(p) if self.basis == Basis::Own && p == self.patient.id => {
                Ok(PatientWrite::granted_by_access_path(self.patient.id))
            }
            _ => Err(Error::Forbidden(
                "only the patient adds to their own record here".into(),
            )),
        }
    }

    /// Whether the scope may read clinical records.
    fn clinical(&self) -> bool {
        matches!(
            self.perm,
            Permission::ReadClinical | Permission::WriteClinical
        )
    }

    /// Whether this principal may read the content of `r`: everyone who may
    /// read the chart, except for private counseling notes (42 CFR § 2.11):
    /// their author and named co-signer only — never a patient, a family
    /// member, an export or a disclosure.
    pub fn may_read_content(&self, e: &Entry) -> bool {
        let private = matches!(&e.body, Body::Note(n) if n.private);
        if !private {
            return true;
        }
        if matches!(
            self.actor.kind,
            ActorKind::Patient(_) | ActorKind::Family { .. }
        ) {
            return false;
        }
        let me = self.actor.user_id.to_string();
        e.author_id == me || e.cosigner_id.as_deref() == Some(&me)
    }

    fn redact(&self, mut e: Entry) -> Entry {
        if !self.may_read_content(&e) {
            if let Body::Note(n) = &mut e.body {
                n.withhold();
            }
            e.withheld = true;
        }
        e
    }

    /// Read one stored record of this patient through the scope.
    pub fn entry(&self, rec: Record) -> Result<Entry> {
        if rec.patient_id != self.patient.id {
            return Err(Error::NotFound);
        }
        Ok(self.redact(Entry::decode(rec)?))
    }

    /// The patient's records of `kinds` (empty: all), every version, oldest
    /// first; counseling notes withheld as the scope requires.
    pub async fn entries(&self, app: &App, kinds: &[Kind]) -> Result<Vec<Entry>> {
        if !self.clinical() {
            return Err(Error::Forbidden(
                "clinical records are not open to you".into(),
            ));
        }
        let names: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
        app.store
            .patient_records(self.patient.id, &names)
            .await?
            .into_iter()
            .map(|r| self.entry(r))
            .collect()
    }

    /// The consents and their revocations, for any scope that may read
    /// demographics (what family may be told; the front desk needs it).
    pub(crate) async fn consent_entries(&self, app: &App) -> Result<Vec<Entry>> {
        app.store
            .patient_records(
                self.patient.id,
                &[Kind::Consent.as_str(), Kind::ConsentRevocation.as_str()],
            )
            .await?
            .into_iter()
            .map(|r| self.entry(r))
            .collect()
    }

    /// One record of this patient by id.
    pub async fn record(&self, app: &App, id: &str) -> Result<Entry> {
        if !self.clinical() {
            return Err(Error::Forbidden(
                "clinical records are not open to you".into(),
            ));
        }
        self.entry(app.store.record(id).await?)
    }

    /// Records referring to `ref_id` that belong to this patient.
    pub async fn referring(&self, app: &App, ref_id: &str) -> Result<Vec<Entry>> {
        app.store
            .records_referring(ref_id)
            .await?
            .into_iter()
            .filter(|r| r.patient_id == self.patient.id)
            .map(|r| self.entry(r))
            .collect()
    }

    /// The current registration details (as stored, JSON text) and how many versions exist.
    pub async fn profile_text(&self, app: &App) -> Result<(Option<String>, i64)> {
        Ok(app.store.profile(self.patient.id).await?)
    }

    pub async fn has_photo(&self, app: &App) -> Result<bool> {
        Ok(app.store.has_photo(self.patient.id).await?)
    }

    /// The newest identification photo: (content type, bytes).
    pub async fn photo(&self, app: &App) -> Result<Option<(String, Vec<u8>)>> {
        Ok(app.store.photo(self.patient.id).await?)
    }

    /// The accounting of disclosures, newest first.
    pub async fn disclosures(&self, app: &App) -> Result<Vec<Disclosure>> {
        if !self.clinical() {
            return Err(Error::Forbidden(
                "clinical records are not open to you".into(),
            ));
        }
        Ok(app.store.disclosures(self.patient.id).await?)
    }

    /// A record of `kind` for this patient in the scope's program and open
    /// episode, written by the scope's author.
    pub fn new_record(
        &self,
        kind: Kind,
        body: String,
        summary: String,
        occurred_at: i64,
    ) -> NewRecord {
        NewRecord {
            patient_id: self.patient.id,
            program_id: self.program.id,
            episode_id: self.episode.as_ref().map(|e| e.id),
            kind: kind.as_str().into(),
            body,
            summary,
            occurred_at,
            author: self.author.clone(),
            ref_id: None,
            due_at: None,
            sign_role: None,
            cosigner_id: None,
            late_entry: false,
        }
    }

    /// Today in the program's calendar.
    /// The earliest an entry about this patient may be dated: a late entry
    /// is accepted up to a year after the fact (documentation standards
    /// expect entries within 24 hours and flag later ones; a year is the
    /// outer bound past which history belongs in a note), never before
    /// the patient's birth.
    pub fn earliest_entry(&self) -> crate::kinds::Earliest {
        let year_ago = self.now - 366 * crate::clock::DAY_US;
        let born = self.born();
        if born.at > year_ago {
            born
        } else {
            crate::kinds::Earliest {
                at: year_ago,
                why: "is more than a year ago; record older history in a note",
            }
        }
    }

    /// The start of the patient's date of birth (program time).
    pub fn born(&self) -> crate::kinds::Earliest {
        let at = self
            .patient
            .date_of_birth
            .parse::<jiff::civil::Date>()
            .ok()
            .and_then(|d| d.to_zoned(self.tz.clone()).ok())
            .map(|z| z.timestamp().as_microsecond())
            .unwrap_or(i64::MIN);
        crate::kinds::Earliest {
            at,
            why: "is before the patient's date of birth",
        }
    }

    pub fn today(&self) -> jiff::civil::Date {
        let t = jiff::Timestamp::from_microsecond(self.now).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        carepath_domain::program::clinic_day(t, &self.tz)
    }

    /// Whether the principal holds `perm` in `program`.
    pub fn holds_in(&self, program: ProgramId, perm: Permission) -> bool {
        self.actor.holds_in(program, perm)
    }

    /// Whether the principal may sign as a prescriber in `program`.
    pub fn prescribes_in(&self, program: ProgramId) -> bool {
        match &self.actor.kind {
            ActorKind::System { .. } => self.actor.roles().contains(&Role::Prescriber),
            _ => self.actor.holds_in(program, Permission::OrderMedication),
        }
    }
}

/// Records of a body kind, current versions only.
pub fn current(entries: &[Entry], kind: Kind) -> impl Iterator<Item = &Entry> {
    entries
        .iter()
        .filter(move |e| e.kind == kind && e.is_current())
}

#[cfg(test)]
mod tests {
    /// Only this module makes the store's write permit: a source check over
    /// the crate (the permit's constructor is public for crate boundaries only).
    #[test]
    fn only_the_access_path_makes_write_permits() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut offenders = vec![];
        let mut stack = vec![src];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "rs")
                    && !p.ends_with("access.rs")
                    && std::fs::read_to_string(&p)
                        .unwrap()
                        .contains("granted_by_access_path")
                {
                    offenders.push(p);
                }
            }
        }
        assert!(offenders.is_empty(), "{offenders:?}");
    }
}
