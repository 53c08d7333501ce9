//! THE authorization-and-audit path for patient data. Every handler that reads
//! or writes a patient's record calls [`patient`] (or [`search`]); nothing else
//! loads patient rows. It checks the principal's roles in the patient's
//! programs (`authz::patient_access`), falls back to an unexpired
//! break-the-glass grant for reading, and records the attempt — allowed or
//! denied — in the audit chain.

use crate::AppState;
use crate::auth::Principal;
use crate::error::AppError;
use carepath_domain::audit::Outcome;
use carepath_domain::authz::{self, Permission};
use carepath_domain::ids::PatientId;
use carepath_store::{Patient, PatientSearch};

/// How access to a patient was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// A role in one of the patient's programs.
    Program,
    /// An emergency (break-the-glass) grant.
    Emergency,
}

/// Why access to a patient was refused.
#[derive(Debug)]
pub enum Refusal {
    /// Outside the user's programs; the user could break the glass.
    OutsideButBreakable,
    /// Not allowed (answered 404 so existence is not revealed).
    Hidden,
}

/// Load a patient for `permission` on behalf of `who`, auditing `action`.
pub async fn patient(
    state: &AppState,
    who: &Principal,
    id: PatientId,
    permission: Permission,
    action: &str,
) -> Result<(Patient, Basis), (AppError, Option<Refusal>)> {
    let programs = state
        .store
        .patient_programs(id)
        .await
        .map_err(|e| (e.into(), None))?;
    let audit = |outcome, detail: Option<String>| {
        let mut e = who.event(action, outcome).object("patient", id).patient(id);
        if let Some(d) = detail {
            e = e.detail(d);
        }
        e
    };
    if programs.is_empty() {
        state
            .store
            .audit(audit(Outcome::Failure, Some("no such patient".into())))
            .await
            .map_err(|e| (e.into(), None))?;
        return Err((AppError::NotFound, Some(Refusal::Hidden)));
    }
    let grants = who.grant_pairs(permission);
    let basis = if authz::patient_access(&grants, &programs, permission) {
        Some(Basis::Program)
    } else if authz::break_glass_opens(grants.iter().map(|g| g.1), permission) {
        let now = carepath_store::now_us();
        match state.store.active_break_glass(who.user_id, id, now).await {
            Ok(Some(_)) => Some(Basis::Emergency),
            Ok(None) => None,
            Err(e) => return Err((e.into(), None)),
        }
    } else {
        None
    };
    let Some(basis) = basis else {
        state
            .store
            .audit(audit(
                Outcome::Denied,
                Some(format!("outside the user's programs ({permission})")),
            ))
            .await
            .map_err(|e| (e.into(), None))?;
        let breakable = who.can(Permission::BreakGlass);
        return Err(if breakable {
            (
                AppError::Forbidden(
                    "this patient is outside your programs; emergency access must be requested"
                        .into(),
                ),
                Some(Refusal::OutsideButBreakable),
            )
        } else {
            (AppError::NotFound, Some(Refusal::Hidden))
        });
    };
    let patient = state
        .store
        .patient(id)
        .await
        .map_err(|e| (e.into(), None))?;
    let detail = (basis == Basis::Emergency).then(|| "break-the-glass access".to_string());
    state
        .store
        .audit(audit(Outcome::Success, detail).program(patient.program_id))
        .await
        .map_err(|e| (e.into(), None))?;
    Ok((patient, basis))
}

/// Search patients the principal may see; the search itself is audited (with
/// the number of results, not the query, which may contain names).
pub async fn search(
    state: &AppState,
    who: &Principal,
    q: &PatientSearch,
) -> Result<Vec<Patient>, AppError> {
    let roles = who.roles_csv(Permission::ReadDemographics);
    let found = if roles.is_empty() {
        vec![]
    } else {
        state.store.search_patients(who.user_id, &roles, q).await?
    };
    state
        .store
        .audit(
            who.event("patient.search", Outcome::Success)
                .detail(format!("results={}", found.len())),
        )
        .await?;
    Ok(found)
}
