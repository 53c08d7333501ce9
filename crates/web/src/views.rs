//! Page models (askama templates in `templates/`).

use askama::Template;
use axum::response::Html;
use carepath_domain::authz::Permission;

/// Render a template to an HTML response (a rendering failure is a bug: logged, 500 text).
pub fn render<T: Template>(t: &T) -> Html<String> {
    match t.render() {
        Ok(s) => Html(s),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            Html("<!doctype html><title>Error</title><p>Page failed to render.</p>".into())
        }
    }
}

/// The navigation bar: which links the signed-in user gets.
#[derive(Debug, Clone, Default)]
pub struct Nav {
    pub signed_in: bool,
    pub user: String,
    pub roles: String,
    pub dashboard: bool,
    pub patients: bool,
    pub register: bool,
    pub users: bool,
    pub audit: bool,
    pub tokens: bool,
    pub referrals: bool,
    pub listing: bool,
    pub worklist: bool,
    pub calendar: bool,
    pub programs: bool,
    pub dosing: bool,
    /// Drug tests (the day's random list) and the lab inbox.
    pub tests: bool,
    pub labs: bool,
}

impl Nav {
    pub fn anonymous() -> Nav {
        Nav::default()
    }
    pub fn for_principal(p: &carepath_app::Principal) -> Nav {
        Nav {
            signed_in: true,
            user: p.display_name.clone(),
            roles: p
                .roles()
                .iter()
                .map(|r| r.label())
                .collect::<Vec<_>>()
                .join(", "),
            dashboard: p.mfa_done && p.can(Permission::ViewDashboard),
            patients: p.mfa_done && p.can(Permission::ReadDemographics),
            register: p.mfa_done && p.can(Permission::RegisterPatient),
            users: p.mfa_done && p.can(Permission::ManageUsers),
            audit: p.mfa_done && p.can(Permission::ReadAudit),
            tokens: p.mfa_done && p.can(Permission::ManageOwnTokens),
            referrals: p.mfa_done && p.can(Permission::ManageReferrals),
            listing: p.mfa_done && p.can(Permission::ManageListing),
            worklist: p.mfa_done && p.can(Permission::ReadClinical),
            calendar: p.mfa_done && p.can(Permission::ReadClinical),
            dosing: p.mfa_done
                && p.can(Permission::WriteClinical)
                && p.grants.iter().any(|g| {
                    matches!(
                        g.role,
                        carepath_domain::authz::Role::Nurse
                            | carepath_domain::authz::Role::Prescriber
                    )
                }),
            programs: p.mfa_done && p.can(Permission::ManagePrograms),
            tests: p.mfa_done && p.can(Permission::ReadClinical),
            labs: p.mfa_done && p.can(Permission::WriteClinical),
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub nav: Nav,
    pub title: String,
    pub message: String,
}

/// Format UTC microseconds for people, in the given time zone.
pub use carepath_app::fmt::time as fmt_time;
/// Format UTC microseconds as UTC.
pub use carepath_app::fmt::utc as fmt_utc;
