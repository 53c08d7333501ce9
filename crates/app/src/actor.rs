//! Who is acting: the [`Principal`] every service takes. Three kinds:
//!
//! - **staff**: a signed-in user with roles per program (as granted);
//! - **patient**: a portal user who can reach exactly one patient's own record;
//! - **system**: a job inside Carepath (the demo's seeding, lab import,
//!   nightly work), trusted by the access path, optionally writing in the name
//!   of a staff member (the author a record names).
//!
//! Audit events say which (`role` is the staff roles, `patient` or `system`).

use carepath_domain::audit::{NewEvent, Outcome};
use carepath_domain::authz::{self, Permission, Role};
use carepath_domain::ids::{PatientId, ProgramId, UserId};
use carepath_store::{Grant, OrgGrant};

/// How the principal authenticated.
#[derive(Debug, Clone)]
pub enum Via {
    Session {
        token_hash: String,
    },
    ApiToken {
        scopes: Vec<Permission>,
    },
    /// In-process: the CLI, the demo, background jobs.
    Internal,
}

/// What kind of actor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActorKind {
    Staff,
    /// A portal user: their own record only.
    Patient(PatientId),
    /// A patient's family member in the portal: only what the patient's
    /// family-involvement consent (`consent`, its root record id) names —
    /// `appointments` or not — while the consent stands; never the record.
    Family {
        patient: PatientId,
        consent: String,
        appointments: bool,
    },
    /// A job inside Carepath.
    System {
        job: String,
    },
}

/// The acting party of a request or job.
#[derive(Debug, Clone)]
pub struct Principal {
    pub kind: ActorKind,
    /// Staff: the user. System: the staff member it writes in the name of
    /// (records name them as author), if any.
    pub user_id: UserId,
    pub username: String,
    pub display_name: String,
    /// Staff: every (program, role) held. System on behalf of staff: the
    /// roles it writes in (informational; system actors are not checked).
    pub grants: Vec<Grant>,
    /// Staff: organization-wide roles (administrator, auditor), which allow
    /// administration and audit in every program, never patient data.
    pub org_roles: Vec<OrgGrant>,
    pub via: Via,
    pub mfa_done: bool,
    pub mfa_enrolled: bool,
    pub client_addr: Option<String>,
}

impl Principal {
    /// A system job (e.g. `demo`, `lab-import`) acting in nobody's name.
    pub fn system(job: &str) -> Principal {
        Principal {
            kind: ActorKind::System { job: job.into() },
            user_id: UserId(uuid::Uuid::nil()),
            username: format!("system:{job}"),
            display_name: format!("Carepath ({job})"),
            grants: vec![],
            org_roles: vec![],
            via: Via::Internal,
            mfa_done: true,
            mfa_enrolled: false,
            client_addr: None,
        }
    }

    /// A system job writing in the name of a staff member (the demo writes
    /// each entry as the nurse or counselor it belongs to).
    pub fn system_for(
        job: &str,
        user: UserId,
        name: &str,
        role: Role,
        program: ProgramId,
    ) -> Principal {
        Principal {
            user_id: user,
            display_name: name.into(),
            grants: vec![Grant {
                program_id: program,
                role,
            }],
            ..Principal::system(job)
        }
    }

    pub fn is_system(&self) -> bool {
        matches!(self.kind, ActorKind::System { .. })
    }

    pub fn is_staff(&self) -> bool {
        self.kind == ActorKind::Staff
    }

    /// Whether this credential may use `p` at all: a session whose second
    /// factor is still due may use nothing (decided per request, so a role
    /// granted mid-session that needs the factor closes the door at once).
    fn scope_allows(&self, p: Permission) -> bool {
        if !self.mfa_done {
            return false;
        }
        match &self.via {
            Via::Session { .. } | Via::Internal => true,
            Via::ApiToken { scopes } => scopes.contains(&p),
        }
    }

    /// Holds `p` in at least one program (system actors: always).
    pub fn can(&self, p: Permission) -> bool {
        match self.kind {
            ActorKind::System { .. } => true,
            ActorKind::Patient(_) => p == Permission::UsePortal,
            ActorKind::Family { .. } => false,
            ActorKind::Staff => {
                self.scope_allows(p)
                    && (self.grants.iter().any(|g| authz::role_allows(g.role, p))
                        || self.org_allows(p))
            }
        }
    }

    /// Holds `p` through an organization-wide role (system actors: always).
    pub fn org_allows(&self, p: Permission) -> bool {
        match self.kind {
            ActorKind::System { .. } => true,
            ActorKind::Patient(_) | ActorKind::Family { .. } => false,
            ActorKind::Staff => {
                self.scope_allows(p)
                    && self
                        .org_roles
                        .iter()
                        .any(|g| authz::org_role_allows(g.role, p))
            }
        }
    }

    /// Holds `p` in `program` itself or organization-wide (administration
    /// and audit; patient data never comes from an organization role).
    pub fn administers(&self, program: ProgramId, p: Permission) -> bool {
        self.holds_in(program, p) || self.org_allows(p)
    }

    /// Programs in which the user holds `p` (sorted, each once).
    pub fn programs_with(&self, p: Permission) -> Vec<ProgramId> {
        if self.kind != ActorKind::Staff || !self.scope_allows(p) {
            return vec![];
        }
        let mut v: Vec<ProgramId> = self
            .grants
            .iter()
            .filter(|g| authz::role_allows(g.role, p))
            .map(|g| g.program_id)
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// Whether the user holds `p` in `program` (system actors: always).
    pub fn holds_in(&self, program: ProgramId, p: Permission) -> bool {
        self.is_system() || self.programs_with(p).contains(&program)
    }

    /// Roles held, in programs or organization-wide (sorted, each once).
    pub fn roles(&self) -> Vec<Role> {
        let mut r: Vec<Role> = self
            .grants
            .iter()
            .map(|g| g.role)
            .chain(self.org_roles.iter().map(|g| g.role))
            .collect();
        r.sort();
        r.dedup();
        r
    }

    /// (program, role) pairs usable for `p` by this credential.
    pub fn grant_pairs(&self, p: Permission) -> Vec<(ProgramId, Role)> {
        if self.kind != ActorKind::Staff || !self.scope_allows(p) {
            return vec![];
        }
        self.grants.iter().map(|g| (g.program_id, g.role)).collect()
    }

    /// The clinical role the user writes in within `program`, most
    /// responsible first.
    pub fn role_in(&self, program: ProgramId) -> Option<Role> {
        [
            Role::Prescriber,
            Role::Nurse,
            Role::Counselor,
            Role::Intake,
            Role::FrontDesk,
        ]
        .into_iter()
        .find(|r| {
            self.grants
                .iter()
                .any(|g| g.program_id == program && g.role == *r)
        })
    }

    /// An audit event attributed to this principal.
    pub fn event(&self, action: &str, outcome: Outcome) -> NewEvent {
        let mut e = NewEvent::new(action, outcome);
        match &self.kind {
            ActorKind::Staff => {
                e.user_id = Some(self.user_id.to_string());
                e.username = Some(self.username.clone());
                e.role = Some(
                    self.roles()
                        .iter()
                        .map(|r| r.as_str())
                        .collect::<Vec<_>>()
                        .join("+"),
                );
            }
            ActorKind::Patient(p) => {
                e.user_id = Some(self.user_id.to_string());
                e.username = Some(self.username.clone());
                e.role = Some("patient".into());
                e.patient_id = Some(p.to_string());
            }
            ActorKind::Family {
                patient, consent, ..
            } => {
                e.user_id = Some(self.user_id.to_string());
                e.username = Some(self.username.clone());
                e.role = Some("family".into());
                e.patient_id = Some(patient.to_string());
                e.detail = Some(format!("under family-involvement consent {consent}"));
            }
            ActorKind::System { .. } => {
                e.username = Some(self.username.clone());
                e.role = Some("system".into());
                if !self.user_id.0.is_nil() {
                    e.user_id = Some(self.user_id.to_string());
                    e.detail = Some(format!("in the name of {}", self.display_name));
                }
            }
        }
        e.client_addr = self.client_addr.clone();
        if let Via::ApiToken { .. } = self.via {
            e.detail = Some("via API token".into());
        }
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staff(grants: Vec<(ProgramId, Role)>) -> Principal {
        Principal {
            kind: ActorKind::Staff,
            user_id: UserId::new(),
            username: "u".into(),
            display_name: "U".into(),
            grants: grants
                .into_iter()
                .map(|(program_id, role)| Grant { program_id, role })
                .collect(),
            org_roles: vec![],
            via: Via::Session {
                token_hash: String::new(),
            },
            mfa_done: true,
            mfa_enrolled: false,
            client_addr: None,
        }
    }

    #[test]
    fn programs_with_are_sorted_and_unique_whatever_the_grant_order() {
        let (a, b) = (ProgramId::new(), ProgramId::new());
        // Nurse and counselor in A around a grant in B: `dedup` alone would keep A twice.
        let p = staff(vec![
            (a, Role::Nurse),
            (b, Role::Nurse),
            (a, Role::Counselor),
        ]);
        let v = p.programs_with(Permission::ReadClinical);
        assert_eq!(v.len(), 2);
        assert!(v.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn audit_events_say_which_kind_of_actor() {
        let s = Principal::system("demo");
        let e = s.event("x", Outcome::Success);
        assert_eq!(e.role.as_deref(), Some("system"));
        assert_eq!(e.username.as_deref(), Some("system:demo"));
        let p = staff(vec![(ProgramId::new(), Role::Nurse)]);
        assert_eq!(
            p.event("x", Outcome::Success).role.as_deref(),
            Some("nurse")
        );
    }

    #[test]
    fn a_token_carries_only_its_scopes() {
        let a = ProgramId::new();
        let mut p = staff(vec![(a, Role::Nurse)]);
        p.via = Via::ApiToken {
            scopes: vec![Permission::ReadClinical],
        };
        assert!(p.can(Permission::ReadClinical));
        assert!(!p.can(Permission::WriteClinical));
        assert!(p.programs_with(Permission::WriteClinical).is_empty());
    }
}
