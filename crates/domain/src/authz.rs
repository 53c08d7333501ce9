//! Roles, permissions and the one authorization table.
//!
//! Deny by default: [`role_allows`] is the only place that says which role may do
//! what, and any pair it does not list is refused. Roles are held per program
//! (see the store's `user_role` table); a permission on a patient's data is checked
//! against the roles the user holds *in that patient's program* (or an active
//! break-the-glass grant). Least privilege follows HIPAA § 164.308(a)(4) (access
//! management) and § 164.312(a)(1) (access control); 42 CFR § 2.13 limits
//! disclosure of SUD records to those who need them.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A staff or portal role. Roles are granted per program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Prescriber,
    Nurse,
    Counselor,
    Intake,
    FrontDesk,
    Auditor,
    Patient,
}

impl Role {
    pub const ALL: [Role; 8] = [
        Role::Admin,
        Role::Prescriber,
        Role::Nurse,
        Role::Counselor,
        Role::Intake,
        Role::FrontDesk,
        Role::Auditor,
        Role::Patient,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Prescriber => "prescriber",
            Role::Nurse => "nurse",
            Role::Counselor => "counselor",
            Role::Intake => "intake",
            Role::FrontDesk => "front_desk",
            Role::Auditor => "auditor",
            Role::Patient => "patient",
        }
    }

    /// A label for people.
    pub fn label(self) -> &'static str {
        match self {
            Role::Admin => "Administrator",
            Role::Prescriber => "Prescriber",
            Role::Nurse => "Nurse",
            Role::Counselor => "Counselor",
            Role::Intake => "Intake coordinator",
            Role::FrontDesk => "Front desk",
            Role::Auditor => "Auditor",
            Role::Patient => "Patient",
        }
    }

    /// Roles for which a second factor is required by default. The server's
    /// configuration (`mfa_required_roles`) may add more; it cannot remove these
    /// two, which can change accounts (admin) or order controlled substances
    /// (prescriber; compare DEA EPCS two-factor rule, 21 CFR § 1311.115).
    pub fn mfa_required_by_default(self) -> bool {
        matches!(self, Role::Admin | Role::Prescriber)
    }

    pub fn is_staff(self) -> bool {
        self != Role::Patient
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = crate::FieldError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                crate::FieldError::new(
                    "role",
                    format!(
                        "unknown role {s:?}; expected one of {}",
                        Role::ALL.map(|r| r.as_str()).join(", ")
                    ),
                )
            })
    }
}

/// Stored role names decode with this (`#[sqlx(try_from = "String")]`).
impl TryFrom<String> for Role {
    type Error = crate::FieldError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

/// Something a user may be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Program dashboard: census and admission counts (no names).
    ViewDashboard,
    /// Find patients and read their demographics (name, DOB, MRN, contact).
    ReadDemographics,
    /// Read clinical records (assessments, notes, medications, tests).
    ReadClinical,
    /// Register a patient and edit demographics.
    RegisterPatient,
    /// Write clinical records (admit, discharge, assess, note).
    WriteClinical,
    /// Emergency access to a patient outside one's programs (42 CFR § 2.51).
    BreakGlass,
    /// Create, disable and grant roles to accounts.
    ManageUsers,
    /// Read the audit log and the accounting of access.
    ReadAudit,
    /// Review break-the-glass grants.
    ReviewBreakGlass,
    /// Create and revoke one's own API tokens.
    ManageOwnTokens,
    /// Use the patient portal for one's own record.
    UsePortal,
    /// Run the clinical calculators (decision support; no patient record).
    UseCalculators,
    /// Work the intake queue of call-back requests from the public finder.
    ManageReferrals,
    /// Keep the program's public finder listing current (openings, beds, waitlist).
    ManageListing,
    /// Write and sign medication orders (a prescriber's signature).
    OrderMedication,
    /// Set a program's protocol settings (check intervals, follow-up schedule).
    ManagePrograms,
}

impl Permission {
    pub const ALL: [Permission; 16] = [
        Permission::ViewDashboard,
        Permission::ReadDemographics,
        Permission::ReadClinical,
        Permission::RegisterPatient,
        Permission::WriteClinical,
        Permission::BreakGlass,
        Permission::ManageUsers,
        Permission::ReadAudit,
        Permission::ReviewBreakGlass,
        Permission::ManageOwnTokens,
        Permission::UsePortal,
        Permission::UseCalculators,
        Permission::ManageReferrals,
        Permission::ManageListing,
        Permission::OrderMedication,
        Permission::ManagePrograms,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::ViewDashboard => "view_dashboard",
            Permission::ReadDemographics => "read_demographics",
            Permission::ReadClinical => "read_clinical",
            Permission::RegisterPatient => "register_patient",
            Permission::WriteClinical => "write_clinical",
            Permission::BreakGlass => "break_glass",
            Permission::ManageUsers => "manage_users",
            Permission::ReadAudit => "read_audit",
            Permission::ReviewBreakGlass => "review_break_glass",
            Permission::ManageOwnTokens => "manage_own_tokens",
            Permission::UsePortal => "use_portal",
            Permission::UseCalculators => "use_calculators",
            Permission::ManageReferrals => "manage_referrals",
            Permission::ManageListing => "manage_listing",
            Permission::OrderMedication => "order_medication",
            Permission::ManagePrograms => "manage_programs",
        }
    }

    /// Whether the permission concerns patient data (and so is checked against
    /// the patient's program, not just "any program").
    pub fn is_patient_data(self) -> bool {
        matches!(
            self,
            Permission::ReadDemographics
                | Permission::ReadClinical
                | Permission::RegisterPatient
                | Permission::WriteClinical
        )
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Permission {
    type Err = crate::FieldError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Permission::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| {
                crate::FieldError::new(
                    "scopes",
                    format!(
                        "unknown scope {s:?}; expected one of {}",
                        Permission::ALL.map(|p| p.as_str()).join(", ")
                    ),
                )
            })
    }
}

/// THE authorization table. Every pair not listed is denied.
///
/// Design choices (least privilege):
/// - the administrator manages accounts and programs but reads no patient data;
/// - the auditor reads the audit log and reviews emergency access, and reads no
///   clinical notes;
/// - front desk sees demographics (to check people in) but no clinical record;
/// - only clinicians may break the glass.
pub fn role_allows(role: Role, permission: Permission) -> bool {
    use Permission as P;
    use Role as R;
    match permission {
        P::ViewDashboard => matches!(
            role,
            R::Admin | R::Prescriber | R::Nurse | R::Counselor | R::Intake | R::FrontDesk
        ),
        P::ReadDemographics => matches!(
            role,
            R::Prescriber | R::Nurse | R::Counselor | R::Intake | R::FrontDesk
        ),
        P::ReadClinical | P::WriteClinical | P::UseCalculators => {
            matches!(role, R::Prescriber | R::Nurse | R::Counselor | R::Intake)
        }
        P::RegisterPatient => matches!(role, R::Intake | R::FrontDesk),
        P::BreakGlass => matches!(role, R::Prescriber | R::Nurse | R::Counselor),
        P::ManageUsers => role == R::Admin,
        P::ReadAudit | P::ReviewBreakGlass => role == R::Auditor,
        P::ManageOwnTokens => role.is_staff(),
        P::UsePortal => role == R::Patient,
        P::ManageReferrals => matches!(role, R::Intake | R::FrontDesk),
        P::ManageListing => matches!(role, R::Admin | R::Intake),
        P::OrderMedication => role == R::Prescriber,
        P::ManagePrograms => role == R::Admin,
    }
}

/// What an organization-wide role allows, in every program of the
/// organization: administration and audit only — never a patient's data
/// (HIPAA § 164.308(a)(4)(ii)(B): access is granted per need; an
/// organization administrator who needs clinical access grants it to
/// themselves in a program, which is audited and listed for review).
/// Only `Admin` and `Auditor` can be held organization-wide.
pub fn org_role_allows(role: Role, permission: Permission) -> bool {
    use Permission as P;
    match role {
        Role::Admin => matches!(
            permission,
            P::ManageUsers | P::ManagePrograms | P::ManageOwnTokens
        ),
        Role::Auditor => matches!(
            permission,
            P::ReadAudit | P::ReviewBreakGlass | P::ManageOwnTokens
        ),
        _ => false,
    }
}

/// Whether any of `roles` grants `permission`.
pub fn any_allows(roles: impl IntoIterator<Item = Role>, permission: Permission) -> bool {
    roles.into_iter().any(|r| role_allows(r, permission))
}

/// Whether a user holding `grants` (program, role) may exercise `permission`
/// on a patient who belongs to `patient_programs` (home program and programs
/// with an episode). A user of program A has no access to a patient of
/// program B alone; emergency access is a separate, audited grant.
pub fn patient_access<P: PartialEq>(
    grants: &[(P, Role)],
    patient_programs: &[P],
    permission: Permission,
) -> bool {
    grants
        .iter()
        .any(|(p, r)| patient_programs.contains(p) && role_allows(*r, permission))
}

/// What an unexpired break-the-glass grant opens (42 CFR § 2.51: disclosure
/// to medical personnel to the extent necessary to meet a bona fide medical
/// emergency): reading, never writing, and only for roles that could read in
/// their own programs.
pub fn break_glass_opens(roles: impl IntoIterator<Item = Role>, permission: Permission) -> bool {
    matches!(
        permission,
        Permission::ReadDemographics | Permission::ReadClinical
    ) && any_allows(roles, permission)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn organization_roles_never_open_patient_data() {
        for role in Role::ALL {
            for p in Permission::ALL {
                if org_role_allows(role, p) {
                    assert!(!p.is_patient_data(), "{role} org-wide allows {p}");
                    assert!(matches!(role, Role::Admin | Role::Auditor));
                }
            }
        }
        assert!(org_role_allows(Role::Admin, Permission::ManageUsers));
        assert!(org_role_allows(Role::Auditor, Permission::ReadAudit));
        assert!(!org_role_allows(Role::Admin, Permission::ReadAudit));
        assert!(!org_role_allows(Role::Auditor, Permission::ManageUsers));
    }

    #[test]
    fn role_and_permission_names_round_trip() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        }
        for p in Permission::ALL {
            assert_eq!(p.as_str().parse::<Permission>().unwrap(), p);
        }
        assert!("superuser".parse::<Role>().is_err());
    }

    #[test]
    fn least_privilege_holds() {
        // Front desk: demographics, never clinical.
        assert!(role_allows(Role::FrontDesk, Permission::ReadDemographics));
        assert!(!role_allows(Role::FrontDesk, Permission::ReadClinical));
        // Auditor: audit, never notes or demographics.
        assert!(role_allows(Role::Auditor, Permission::ReadAudit));
        assert!(!role_allows(Role::Auditor, Permission::ReadClinical));
        assert!(!role_allows(Role::Auditor, Permission::ReadDemographics));
        // Admin: accounts, never patients.
        assert!(role_allows(Role::Admin, Permission::ManageUsers));
        assert!(!role_allows(Role::Admin, Permission::ReadDemographics));
        // Only a prescriber signs medication orders.
        assert!(role_allows(Role::Prescriber, Permission::OrderMedication));
        assert!(!role_allows(Role::Counselor, Permission::OrderMedication));
        assert!(!role_allows(Role::Nurse, Permission::OrderMedication));
        // Patient: portal only.
        for p in Permission::ALL {
            assert_eq!(role_allows(Role::Patient, p), p == Permission::UsePortal);
        }
    }

    #[test]
    fn program_a_user_cannot_reach_program_b_patient() {
        let grants = [("A", Role::Nurse)];
        assert!(patient_access(&grants, &["A"], Permission::ReadClinical));
        assert!(!patient_access(&grants, &["B"], Permission::ReadClinical));
        assert!(patient_access(
            &grants,
            &["B", "A"],
            Permission::ReadClinical
        ));
        assert!(!patient_access(
            &[("A", Role::FrontDesk)],
            &["A"],
            Permission::ReadClinical
        ));
        assert!(break_glass_opens([Role::Nurse], Permission::ReadClinical));
        assert!(!break_glass_opens([Role::Nurse], Permission::WriteClinical));
        assert!(!break_glass_opens(
            [Role::FrontDesk],
            Permission::ReadClinical
        ));
    }

    #[test]
    fn every_permission_has_at_least_one_role() {
        for p in Permission::ALL {
            assert!(
                Role::ALL.iter().any(|r| role_allows(*r, p)),
                "{p} unreachable"
            );
        }
    }
}
