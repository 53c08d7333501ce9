//! The patient's path, as services: write, sign, co-sign and correct records;
//! revoke consents and disclose with one; admit, transfer and discharge;
//! record follow-up calls. Each opens the patient through the access path,
//! computes with the record kinds (and so the clinical engine), and writes in
//! one unit of work that commits with its audit events.

use crate::access::{self, PatientScope};
use crate::actor::Principal;
use crate::error::{Error, Result, from_json};
use crate::kinds::consent as consent_kind;
use crate::kinds::discharge::{self, DischargeInput, FollowUpOutcome};
use crate::kinds::{self, Body, Entry, Input, Kind, medication};
use crate::{App, fmt};
use carepath_clinical as clinical;
use carepath_domain::audit::{NewEvent, Outcome};
use carepath_domain::authz::{Permission, Role};
use carepath_domain::ids::{EpisodeId, PatientId, ProgramId};
use carepath_domain::program::ProgramKind;
use carepath_store::{NewRecord, NewSignature, PatientWrite, StoreError, Tx};
use serde::{Deserialize, Serialize};

/// The audit event of a record written.
fn written(who: &Principal, action: &str, r: &NewRecord, id: &str, n: usize) -> NewEvent {
    who.event(action, Outcome::Success)
        .object(&r.kind, id)
        .patient(r.patient_id)
        .program(r.program_id)
        .detail(format!("records={n}"))
}

/// Create a record of a writable kind for a patient. Returns its id and the
/// stored body (with the engine's results). A prescriber's own order is
/// signed as it is written, in the same unit of work.
pub async fn create(
    app: &App,
    who: &Principal,
    id: PatientId,
    input: &Input,
) -> Result<(String, Body)> {
    Ok(
        create_batch(app, who, id, std::slice::from_ref(input), false)
            .await?
            .remove(0),
    )
}

/// Create several records of one patient in one unit of work (a batch of
/// flowsheet entries, an imported history): all are written or none.
/// With `sign`, notes and plans are signed by their author as they are
/// written ("save and sign"); a prescriber's orders always are.
pub async fn create_batch(
    app: &App,
    who: &Principal,
    id: PatientId,
    inputs: &[Input],
    sign: bool,
) -> Result<Vec<(String, Body)>> {
    let Some(first) = inputs.first() else {
        return Ok(vec![]);
    };
    let s = access::open(
        app,
        who,
        id,
        Permission::WriteClinical,
        &format!("{}.open", first.kind()),
    )
    .await?;
    let w = s.writer()?;
    let mut prebuilt = vec![];
    for input in inputs {
        prebuilt.push(match input {
            Input::Administration(_) => None,
            other => Some(kinds::build(&s, other)?),
        });
    }
    let mut tx = app.begin().await?;
    let mut out = vec![];
    for (input, pre) in inputs.iter().zip(prebuilt) {
        let kind = input.kind();
        let r = match (pre, input) {
            (Some(r), _) => r,
            (None, Input::Administration(a)) => {
                medication::build_administration(&s, &mut tx, a).await?.0
            }
            (None, _) => return Err(Error::Internal("record not built".into())),
        };
        let rid = tx.append_record(&w, &r).await?;
        tx.audit(written(who, &format!("{kind}.create"), &r, &rid, 1));
        let signs = match kind {
            Kind::Order => s.prescribes_in(s.program.id),
            Kind::Note | Kind::Plan => sign,
            _ => false,
        };
        if signs {
            sign_in(&mut tx, &s, &w, who, &rid, r.program_id, kind).await?;
        }
        out.push((rid, Body::decode(kind, &r.body)?));
    }
    tx.commit().await?;
    Ok(out)
}

/// A prescriber's signature on an order, in `tx`.
async fn sign_in(
    tx: &mut Tx,
    s: &PatientScope,
    w: &PatientWrite,
    who: &Principal,
    rid: &str,
    program: ProgramId,
    kind: Kind,
) -> Result<()> {
    let sig = NewSignature {
        kind: "author",
        signer_id: Some(who.user_id),
        signer_name: who.display_name.clone(),
        signer_role: s.author.role.clone(),
        method: "credential",
        drawing: None,
    };
    tx.sign_record(w, rid, &sig).await?;
    tx.audit(
        who.event("record.sign", Outcome::Success)
            .object(kind.as_str(), rid)
            .patient(s.patient.id)
            .program(program)
            .detail("signature=author"),
    );
    Ok(())
}

#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SignInput {
    /// author (default), cosign, or patient.
    #[serde(default, alias = "as")]
    pub as_: Option<String>,
    /// Patient signatures: the typed name, or a drawn path (SVG path data).
    #[serde(default)]
    pub typed_name: String,
    #[serde(default)]
    pub drawing: String,
}

/// Sign a record. Orders are signed only by a prescriber of the record's
/// program; notes and other entries by their author; co-signatures only by
/// the named co-signer after the author; patient signatures (plans,
/// consents) are witnessed by staff.
pub async fn sign(app: &App, who: &Principal, record_id: &str, i: &SignInput) -> Result<()> {
    let (s, r) = access::open_for_record(
        app,
        who,
        record_id,
        Permission::WriteClinical,
        "record.sign.open",
    )
    .await?;
    let w = s.writer()?;
    if !r.is_current() {
        return Err(Error::Conflict(
            "this version was amended; sign the current version".into(),
        ));
    }
    let rr = &r;
    let deny = |msg: String| async move {
        app.audit(
            who.event("record.sign", Outcome::Denied)
                .object(rr.kind.as_str(), &rr.id)
                .patient(rr.patient_id)
                .detail(msg.clone()),
        )
        .await?;
        Err::<(), Error>(Error::Forbidden(msg))
    };
    let me = who.user_id.to_string();
    let sig = match i.as_.as_deref().unwrap_or("author") {
        "author" => {
            if let Some(role) = &r.sign_role {
                let role: Role = role
                    .parse()
                    .map_err(|_| Error::Internal("stored sign_role".into()))?;
                // A prescriber's signature is the order permission (authz);
                // any other signing role is a role held in the record's program.
                let ok = match role {
                    Role::Prescriber => s.prescribes_in(r.program_id),
                    other => {
                        who.is_system()
                            || who
                                .grants
                                .iter()
                                .any(|g| g.program_id == r.program_id && g.role == other)
                    }
                };
                if !ok {
                    return deny(format!(
                        "only a {} of this program may sign this {}",
                        role.label().to_lowercase(),
                        r.kind
                    ))
                    .await;
                }
            } else if r.author_id != me {
                return deny(
                    "only the author signs an entry; others may amend it or add a note".into(),
                )
                .await;
            }
            NewSignature {
                kind: "author",
                signer_id: Some(who.user_id),
                signer_name: who.display_name.clone(),
                signer_role: s.author.role.clone(),
                method: "credential",
                drawing: None,
            }
        }
        "cosign" => {
            if r.cosigner_id.as_deref() != Some(&me) {
                return deny("only the named supervisor co-signs".into()).await;
            }
            if !r.is_signed() {
                return Err(Error::Conflict("the author has not signed yet".into()));
            }
            NewSignature {
                kind: "cosign",
                signer_id: Some(who.user_id),
                signer_name: who.display_name.clone(),
                signer_role: s.author.role.clone(),
                method: "credential",
                drawing: None,
            }
        }
        "patient" => {
            if !matches!(r.kind, Kind::Plan | Kind::Consent) {
                return Err(Error::invalid("as_", "patients sign plans and consents"));
            }
            let drawing = i.drawing.trim();
            let typed = i.typed_name.trim();
            if drawing.is_empty() && typed.chars().count() < 2 {
                return Err(Error::invalid(
                    "typed_name",
                    "type the patient's name or draw the signature",
                ));
            }
            if !drawing.is_empty()
                && (drawing.len() > 20_000
                    || !drawing
                        .chars()
                        .all(|c| c.is_ascii_digit() || " .,-MLmlZz".contains(c)))
            {
                return Err(Error::invalid(
                    "drawing",
                    "not a drawn signature (SVG M/L path data)",
                ));
            }
            NewSignature {
                kind: "patient",
                signer_id: None,
                signer_name: if typed.is_empty() {
                    s.patient.display_name()
                } else {
                    typed.to_string()
                },
                signer_role: "patient".into(),
                method: if drawing.is_empty() { "typed" } else { "drawn" },
                drawing: (!drawing.is_empty()).then(|| drawing.to_string()),
            }
        }
        _ => return Err(Error::invalid("as_", "must be author, cosign or patient")),
    };
    let mut tx = app.begin().await?;
    tx.sign_record(&w, record_id, &sig)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => {
                Error::Conflict(format!("already has a {} signature", sig.kind))
            }
            e => e.into(),
        })?;
    tx.audit(
        who.event("record.sign", Outcome::Success)
            .object(r.kind.as_str(), record_id)
            .patient(r.patient_id)
            .program(r.program_id)
            .detail(format!("signature={}", sig.kind)),
    );
    tx.commit().await?;
    Ok(())
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AmendInput {
    /// Why the entry is corrected (kept with the new version).
    pub reason: String,
    /// The full corrected entry, in the same shape as when it was created.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub entry: serde_json::Value,
}

/// Amend the current version of a record with a corrected input: both
/// versions are kept; the new one carries author, time and reason. Notes are
/// amended by their author only. A prescriber's change to an order is signed
/// as it is written; anyone else's waits for a prescriber, like a new order.
pub async fn amend(
    app: &App,
    who: &Principal,
    record_id: &str,
    reason: &str,
    input: &Input,
) -> Result<(String, Body)> {
    let (s, old) = access::open_for_record(
        app,
        who,
        record_id,
        Permission::WriteClinical,
        "record.amend.open",
    )
    .await?;
    let w = s.writer()?;
    if !old.is_current() {
        return Err(Error::Conflict(
            "this version was already amended; amend the current version".into(),
        ));
    }
    if input.kind() != old.kind {
        return Err(Error::invalid(
            "entry",
            format!("a {} is corrected with a {}", old.kind, old.kind),
        ));
    }
    if old.kind == Kind::Note && old.author_id != who.user_id.to_string() {
        return Err(Error::Forbidden(
            "a note is amended by its author; write your own note instead".into(),
        ));
    }
    if reason.trim().chars().count() < 5 {
        return Err(Error::invalid(
            "reason",
            "say why the entry is corrected (at least 5 characters)",
        ));
    }
    let prebuilt = match input {
        Input::Administration(_) => None,
        other => Some(kinds::build(&s, other)?),
    };
    let mut tx = app.begin().await?;
    let mut new = match (prebuilt, input) {
        (Some(r), _) => r,
        (None, Input::Administration(a)) => {
            medication::build_administration(&s, &mut tx, a).await?.0
        }
        (None, _) => return Err(Error::Internal("record not built".into())),
    };
    new.program_id = old.program_id;
    new.ref_id = new.ref_id.or(old.ref_id.clone());
    if old.kind == Kind::Plan {
        // A plan keeps its episode; its review date moves with the new version.
        new.episode_id = old.episode_id.as_deref().and_then(|e| e.parse().ok());
    }
    let id = tx.amend_record(&w, &old.id, &new, reason.trim()).await?;
    tx.audit(
        who.event("record.amend", Outcome::Success)
            .object(&new.kind, &id)
            .patient(new.patient_id)
            .program(new.program_id)
            .detail(format!("amends {}", old.id)),
    );
    if old.kind == Kind::Order && s.prescribes_in(old.program_id) {
        sign_in(&mut tx, &s, &w, who, &id, old.program_id, Kind::Order).await?;
    }
    tx.commit().await?;
    Ok((id, Body::decode(old.kind, &new.body)?))
}

/// [`amend`] with the corrected entry as JSON (the API).
pub async fn amend_json(
    app: &App,
    who: &Principal,
    record_id: &str,
    i: &AmendInput,
) -> Result<(String, Body)> {
    let (_, old) = access::open_for_record(
        app,
        who,
        record_id,
        Permission::WriteClinical,
        "record.amend.open",
    )
    .await?;
    if !old.is_current() {
        return Err(Error::Conflict(
            "this version was already amended; amend the current version".into(),
        ));
    }
    if !old.kind.writable() {
        return Err(Error::invalid(
            "kind",
            "this kind of record is corrected by its own action",
        ));
    }
    let input = Input::from_json(old.kind, i.entry.clone()).map_err(|e| match e {
        Error::Invalid(v) => Error::Invalid(
            v.into_iter()
                .map(|f| carepath_domain::FieldError::new(format!("entry.{}", f.field), f.message))
                .collect(),
        ),
        e => e,
    })?;
    amend(app, who, record_id, &i.reason, &input).await
}

/// A consent revocation (in writing, § 2.31): stops future disclosures;
/// the history is kept. Once per consent.
pub async fn revoke(app: &App, who: &Principal, consent_id: &str, note: &str) -> Result<String> {
    let (s, c) = access::open_for_record(
        app,
        who,
        consent_id,
        Permission::WriteClinical,
        "consent.revoke.open",
    )
    .await?;
    if c.kind != Kind::Consent {
        return Err(Error::NotFound);
    }
    let w = s.writer()?;
    let mut r = consent_kind::revocation(&s, &c.summary, &c.root_id, note)?;
    r.program_id = c.program_id;
    let mut tx = app.begin().await?;
    let id = tx.append_record(&w, &r).await.map_err(|e| match e {
        StoreError::Conflict(_) => Error::Conflict("this consent is already revoked".into()),
        e => e.into(),
    })?;
    tx.audit(written(who, "consent.revoke", &r, &id, 1));
    tx.commit().await?;
    Ok(id)
}

/// Consents (current versions) with their revocation, if any.
pub fn consents_with_state(entries: &[Entry]) -> Vec<(&Entry, Option<&Entry>)> {
    access::current(entries, Kind::Consent)
        .map(|c| {
            let rev = entries.iter().find(|r| {
                r.kind == Kind::ConsentRevocation && r.ref_id.as_deref() == Some(&c.root_id)
            });
            (c, rev)
        })
        .collect()
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DisclosureInput {
    pub consent_id: String,
    pub recipient: String,
    pub purpose: String,
    /// print, export, fax, fhir.
    #[serde(default = "print")]
    pub channel: String,
}

fn print() -> String {
    "print".into()
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DisclosedDocument {
    pub disclosure_id: String,
    pub recipient: String,
    pub purpose: String,
    /// What the consent allows to be disclosed.
    pub information: String,
    pub notice: String,
    /// The patient summary released (within the consent's description).
    pub patient: String,
    pub date_of_birth: String,
    pub lines: Vec<String>,
    pub consent_summary: String,
}

/// A disclosure the consent allows, checked and not yet recorded: the
/// patient's scope and record, the consent, and the accounting entry.
pub(crate) struct Granted {
    pub s: PatientScope,
    pub entries: Vec<Entry>,
    pub consent: Entry,
    pub d: carepath_store::Disclosure,
    w: carepath_store::PatientWrite,
}

/// Check a disclosure out of Carepath (any channel: print, export, fhir):
/// clinical staff of the patient's program, a recipient and a purpose, and
/// a consent on file that permits them (42 CFR § 2.31); a refusal is
/// audited. Nothing is released until [`record_disclosure`].
pub(crate) async fn grant_disclosure(
    app: &App,
    who: &Principal,
    id: PatientId,
    i: &DisclosureInput,
) -> Result<Granted> {
    let s = access::open(app, who, id, Permission::ReadClinical, "disclosure.prepare").await?;
    if !s.holds_in(s.program.id, Permission::WriteClinical) {
        return Err(Error::Forbidden(
            "disclosures are made by clinical staff of the patient's program".into(),
        ));
    }
    let w = s.writer()?;
    let mut p = crate::error::Problems::new();
    if i.recipient.trim().is_empty() {
        p.add("recipient", "name the recipient");
    }
    if i.purpose.trim().is_empty() {
        p.add("purpose", "state the purpose");
    }
    p.finish()?;
    let entries = s.entries(app, &[]).await?;
    let refuse = |why: String| async move {
        app.audit(
            who.event("disclosure.refused", Outcome::Denied)
                .patient(id)
                .detail(why.clone()),
        )
        .await?;
        Err::<Granted, Error>(Error::Forbidden(format!("disclosure refused: {why}")))
    };
    let (consent, revoked) = {
        let consents = consents_with_state(&entries);
        match consents
            .iter()
            .find(|(c, _)| c.id == i.consent_id || c.root_id == i.consent_id)
        {
            Some((c, r)) => ((*c).clone(), r.is_some()),
            None => {
                return refuse("no consent on file with that id (42 CFR § 2.31)".into()).await;
            }
        }
    };
    let Body::Consent(c) = &consent.body else {
        return Err(Error::Internal("consent body".into()));
    };
    let c = c.consent.clone();
    let standing = clinical::consent::Standing {
        revoked,
        treatment_ended: s.episodes.iter().all(|e| e.discharged_at.is_some()),
        today: s.today(),
    };
    if let Err(why) = clinical::consent::permits(
        &c,
        standing,
        &clinical::consent::Request {
            recipient: i.recipient.clone(),
            purpose: i.purpose.clone(),
        },
    ) {
        return refuse(why).await;
    }
    let d = carepath_store::Disclosure {
        id: uuid::Uuid::now_v7().to_string(),
        patient_id: id.to_string(),
        program_id: s.program.id.to_string(),
        consent_id: consent.id.clone(),
        recipient: i.recipient.trim().to_string(),
        purpose: i.purpose.trim().to_string(),
        information: c.information.clone(),
        channel: i.channel.clone(),
        notice: clinical::consent::REDISCLOSURE_NOTICE.into(),
        disclosed_at: s.now,
        disclosed_by: who.user_id.to_string(),
    };
    Ok(Granted {
        s,
        entries,
        consent,
        d,
        w,
    })
}

/// Put a granted disclosure in the accounting of disclosures (§ 2.25) and
/// the audit, in one transaction, before anything is handed over.
pub(crate) async fn record_disclosure(app: &App, who: &Principal, g: &Granted) -> Result<()> {
    let mut tx = app.begin().await?;
    tx.record_disclosure(&g.w, &g.d).await?;
    tx.audit(
        who.event("disclosure.make", Outcome::Success)
            .object("disclosure", &g.d.id)
            .patient(g.s.patient.id)
            .program(&g.d.program_id)
            .detail(format!(
                "consent={} channel={}",
                g.d.consent_id, g.d.channel
            )),
    );
    tx.commit().await?;
    Ok(())
}

/// Disclose a summary out of Carepath: only with a valid consent; every
/// disclosure goes to the accounting log with the § 2.32 notice; refusals
/// are audited. § 2.11 counseling notes are never part of it.
pub async fn disclose(
    app: &App,
    who: &Principal,
    id: PatientId,
    i: &DisclosureInput,
) -> Result<DisclosedDocument> {
    let g = grant_disclosure(app, who, id, i).await?;
    let (s, entries) = (&g.s, &g.entries);
    // What is released: the patient's episodes and the newest diagnosis,
    // limited to what a summary contains (the consent's description is shown
    // with it).
    let mut lines = vec![];
    for e in &s.episodes {
        let level = e
            .level_of_care
            .parse::<ProgramKind>()
            .map(|k| k.label())
            .unwrap_or("—");
        lines.push(format!(
            "Episode: {level}, admitted {}{}",
            fmt::time(e.admitted_at, &s.tz),
            e.discharged_at
                .map(|d| format!(", discharged {}", fmt::time(d, &s.tz)))
                .unwrap_or_default()
        ));
    }
    if let Some(Body::Assessment(a)) = access::current(entries, Kind::Assessment)
        .last()
        .map(|e| &e.body)
    {
        for code in &a.diagnosis.codes {
            lines.push(format!("Diagnosis: {} {}", code.code, code.title));
        }
    }
    record_disclosure(app, who, &g).await?;
    let d = g.d;
    Ok(DisclosedDocument {
        disclosure_id: d.id,
        recipient: d.recipient,
        purpose: d.purpose,
        information: d.information,
        notice: d.notice,
        patient: g.s.patient.display_name(),
        date_of_birth: g.s.patient.date_of_birth.clone(),
        lines,
        consent_summary: g.consent.summary.clone(),
    })
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AdmitInput {
    pub program_id: String,
    /// A program kind (withdrawal_management, residential, …).
    pub level_of_care: String,
}

/// Admit (or readmit: a new episode; the earlier ones stay in the history).
pub async fn admit(app: &App, who: &Principal, id: PatientId, i: &AdmitInput) -> Result<EpisodeId> {
    let s = access::open(
        app,
        who,
        id,
        Permission::WriteClinical,
        "episode.admit.open",
    )
    .await?;
    let w = s.writer()?;
    let mut p = crate::error::Problems::new();
    let program: Option<ProgramId> = p.take(
        i.program_id
            .parse()
            .map_err(|_| Error::invalid("program_id", "choose a program")),
    );
    if let Some(g) = program
        && !who.holds_in(g, Permission::WriteClinical)
    {
        p.add("program_id", "you do not work in that program");
    }
    let level = p.take(
        i.level_of_care
            .parse::<ProgramKind>()
            .map_err(|_| Error::invalid("level_of_care", "unknown level of care")),
    );
    p.finish()?;
    let (Some(program), Some(level)) = (program, level) else {
        return Err(Error::Internal("admission checks".into()));
    };
    let mut tx = app.begin().await?;
    let eid = tx
        .admit(
            &w,
            program,
            level.as_str(),
            s.now,
            Some(who.user_id).filter(|u| !u.0.is_nil()),
        )
        .await?;
    tx.audit(
        who.event("episode.admit", Outcome::Success)
            .object("episode", eid)
            .patient(id)
            .program(program),
    );
    tx.commit().await?;
    Ok(eid)
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TransferInput {
    pub program_id: String,
    /// The new level of care (a program kind).
    pub level_of_care: String,
}

/// Transfer to another level of care or program: the open episode is
/// discharged as transferred and the next one opened, in one unit of work.
pub async fn transfer(
    app: &App,
    who: &Principal,
    id: PatientId,
    i: &TransferInput,
) -> Result<EpisodeId> {
    let s = access::open(
        app,
        who,
        id,
        Permission::WriteClinical,
        "episode.transfer.open",
    )
    .await?;
    let w = s.writer()?;
    let Some(ep) = s.episode.clone() else {
        return Err(Error::Conflict("the patient has no open episode".into()));
    };
    let to: ProgramId = i
        .program_id
        .parse()
        .map_err(|_| Error::invalid("program_id", "choose a program"))?;
    if !who.holds_in(to, Permission::WriteClinical)
        || !who.holds_in(ep.program_id, Permission::WriteClinical)
    {
        return Err(Error::invalid(
            "program_id",
            "you can transfer only between programs you work in",
        ));
    }
    let level = i
        .level_of_care
        .parse::<ProgramKind>()
        .map_err(|_| Error::invalid("level_of_care", "unknown level of care"))?;
    if to == ep.program_id && level.as_str() == ep.level_of_care {
        return Err(Error::invalid(
            "level_of_care",
            "that is the current level and program",
        ));
    }
    let mut tx = app.begin().await?;
    tx.discharge(&w, ep.id, s.now, "transferred").await?;
    let next = tx
        .admit(&w, to, level.as_str(), s.now, Some(who.user_id))
        .await?;
    tx.audit(
        who.event("episode.transfer", Outcome::Success)
            .object("episode", next)
            .patient(id)
            .program(to)
            .detail(format!("from {}", ep.id)),
    );
    tx.commit().await?;
    Ok(next)
}

/// Discharge the open episode with its summary, aftercare plan, naloxone
/// documentation and scheduled follow-up calls, in one unit of work.
/// Returns the ids of the records written.
pub async fn discharge(
    app: &App,
    who: &Principal,
    id: PatientId,
    i: &DischargeInput,
) -> Result<Vec<String>> {
    let s = access::open(
        app,
        who,
        id,
        Permission::WriteClinical,
        "episode.discharge.open",
    )
    .await?;
    let w = s.writer()?;
    let Some(ep) = s.episode.clone() else {
        return Err(Error::Conflict("the patient has no open episode".into()));
    };
    if !who.holds_in(ep.program_id, Permission::WriteClinical) {
        return Err(Error::Forbidden(
            "only staff of the admitting program may discharge".into(),
        ));
    }
    let (key, records) = discharge::build(&s, &ep, i, s.now)?;
    let mut tx = app.begin().await?;
    tx.discharge(&w, ep.id, s.now, key).await?;
    let ids = tx.append_records(&w, &records).await?;
    tx.audit(
        who.event("episode.discharge", Outcome::Success)
            .object("episode", ep.id)
            .patient(id)
            .program(ep.program_id)
            .detail(format!("records={}", records.len())),
    );
    tx.commit().await?;
    Ok(ids)
}

/// Record a follow-up call's outcome (once); re-engagement opens a referral
/// in the program's intake queue, in the same unit of work.
pub async fn followup_outcome(
    app: &App,
    who: &Principal,
    followup_id: &str,
    o: &FollowUpOutcome,
) -> Result<Option<String>> {
    let (s, f) = access::open_for_record(
        app,
        who,
        followup_id,
        Permission::WriteClinical,
        "followup.open",
    )
    .await?;
    if f.kind != Kind::Followup {
        return Err(Error::NotFound);
    }
    let w = s.writer()?;
    let r = discharge::outcome_record(&s, f.program_id, &f.id, o)?;
    let phone = if o.needs_reengagement {
        crate::registration::profile_of(&s, app)
            .await?
            .map(|p| p.phone)
            .unwrap_or_default()
    } else {
        String::new()
    };
    let mut tx = app.begin().await?;
    let rid = tx.append_record(&w, &r).await.map_err(|e| match e {
        StoreError::Conflict(_) => Error::Conflict("this call already has an outcome".into()),
        e => e.into(),
    })?;
    tx.audit(written(who, "followup.outcome", &r, &rid, 1));
    let mut referral = None;
    if o.needs_reengagement {
        let id = tx
            .create_referral(
                f.program_id,
                &carepath_store::NewReferral {
                    name: s
                        .patient
                        .preferred_name
                        .clone()
                        .unwrap_or(s.patient.legal_first_name.clone()),
                    phone: if phone.is_empty() {
                        "see chart".into()
                    } else {
                        phone
                    },
                    best_time: "any".into(),
                    note: Some(format!(
                        "Re-engagement after follow-up call (MRN {})",
                        s.patient.mrn
                    )),
                    language: "en".into(),
                },
            )
            .await?;
        tx.audit(
            who.event("referral.reengage", Outcome::Success)
                .object("referral", &id)
                .program(f.program_id)
                .patient(s.patient.id),
        );
        referral = Some(id);
    }
    tx.commit().await?;
    Ok(referral)
}

/// The form input of a writable record, to correct it: `None` for kinds
/// corrected by their own action.
pub fn input_of(s: &PatientScope, e: &Entry) -> Option<Input> {
    Input::of(e, &s.tz)
}

/// Read a writable kind's input from JSON (the API's record routes).
pub fn input_from_json(kind: &str, v: serde_json::Value) -> Result<Input> {
    let kind: Kind = kind.parse()?;
    Input::from_json(kind, v)
}

/// Read an amendment request from JSON.
pub fn amend_input(v: serde_json::Value) -> Result<AmendInput> {
    from_json(v)
}
