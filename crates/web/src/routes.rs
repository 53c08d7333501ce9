//! The route table: every route with its guard, in one place. Nothing is
//! reachable without a guard except the routes marked [`Guard::Public`], which
//! form the reviewed public list (sign-in pages, health, metrics, static
//! assets, the OpenAPI document). `tests/route_matrix.rs` walks this table ×
//! every role and checks allow/deny against `carepath_domain::authz`.

use crate::auth::{self, Principal};
use crate::error::{AppError, Respond};
use crate::{AppState, api, pages};
use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post, put};
use carepath_domain::authz::Permission;
use tower_http::set_header::SetResponseHeaderLayer;

/// Who may reach a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    /// On the reviewed public list.
    Public,
    /// Any signed-in user, even before the second factor (second-factor pages, sign-out).
    SignedIn,
    /// A fully signed-in user holding the permission in at least one program.
    /// Patient-level checks happen again in [`crate::access`].
    Perm(Permission),
    /// A patient signed in to the portal (its own cookie and realm: a staff
    /// session never passes, and a portal session passes nothing else),
    /// second factor passed when they set one up.
    Portal,
    /// A portal session even before its second factor (the code page,
    /// signing out, the language), the patient's or a family member's.
    PortalSignedIn,
    /// A family member signed in to the portal: their one page.
    Family,
}

#[derive(Debug, Clone)]
pub struct RouteSpec {
    pub method: Method,
    pub path: &'static str,
    pub guard: Guard,
}

fn r(method: Method, path: &'static str, guard: Guard) -> RouteSpec {
    RouteSpec {
        method,
        path,
        guard,
    }
}

/// Every route: (spec, handler).
pub fn table() -> Vec<(RouteSpec, MethodRouter<AppState>)> {
    use Guard::*;
    use Method as M;
    use Permission as P;
    vec![
        (r(M::GET, "/", Public), get(pages::home)),
        (r(M::GET, "/login", Public), get(pages::auth::login_form)),
        (r(M::POST, "/login", Public), post(pages::auth::login)),
        (r(M::POST, "/logout", SignedIn), post(pages::auth::logout)),
        (r(M::GET, "/mfa", SignedIn), get(pages::auth::mfa_form)),
        (r(M::POST, "/mfa", SignedIn), post(pages::auth::mfa_submit)),
        (
            r(M::GET, "/mfa/enroll", SignedIn),
            get(pages::auth::enroll_form),
        ),
        (
            r(M::POST, "/mfa/enroll", SignedIn),
            post(pages::auth::enroll_submit),
        ),
        (
            r(M::GET, "/dashboard", Perm(P::ViewDashboard)),
            get(pages::clinic::dashboard),
        ),
        (
            r(M::GET, "/dashboard.csv", Perm(P::ViewDashboard)),
            get(pages::clinic::dashboard_csv),
        ),
        (
            r(M::GET, "/dashboard/outcomes", Perm(P::ViewDashboard)),
            get(pages::outcomes::page),
        ),
        (
            r(M::GET, "/dashboard/outcomes.csv", Perm(P::ViewDashboard)),
            get(pages::outcomes::csv),
        ),
        (
            r(M::GET, "/patients", Perm(P::ReadDemographics)),
            get(pages::clinic::patient_search),
        ),
        (
            r(M::GET, "/patients/new", Perm(P::RegisterPatient)),
            get(pages::clinic::register_form),
        ),
        (
            r(M::POST, "/patients", Perm(P::RegisterPatient)),
            post(pages::clinic::register),
        ),
        (
            r(M::GET, "/patients/{id}", Perm(P::ReadDemographics)),
            get(pages::clinic::chart),
        ),
        (
            r(M::POST, "/patients/{id}/break-glass", Perm(P::BreakGlass)),
            post(pages::clinic::break_glass),
        ),
        (
            r(M::GET, "/patients/{id}/assessment", Perm(P::WriteClinical)),
            get(pages::path::assessment_form),
        ),
        (
            r(M::POST, "/patients/{id}/assessment", Perm(P::WriteClinical)),
            post(pages::path::assessment_submit),
        ),
        (
            r(M::GET, "/patients/{id}/flowsheet", Perm(P::WriteClinical)),
            get(pages::path::flowsheet_form),
        ),
        (
            r(M::POST, "/patients/{id}/flowsheet", Perm(P::WriteClinical)),
            post(pages::path::flowsheet_submit),
        ),
        (
            r(M::POST, "/flowsheet/preview", Perm(P::WriteClinical)),
            post(pages::path::flowsheet_preview),
        ),
        (
            r(M::GET, "/patients/{id}/orders", Perm(P::WriteClinical)),
            get(pages::path::order_form),
        ),
        (
            r(M::POST, "/patients/{id}/orders", Perm(P::WriteClinical)),
            post(pages::path::order_submit),
        ),
        (
            r(M::POST, "/records/{rid}/administer", Perm(P::WriteClinical)),
            post(pages::path::administer),
        ),
        (
            r(M::GET, "/patients/{id}/notes", Perm(P::WriteClinical)),
            get(pages::path::note_form),
        ),
        (
            r(M::POST, "/patients/{id}/notes", Perm(P::WriteClinical)),
            post(pages::path::note_submit),
        ),
        (
            r(M::GET, "/patients/{id}/plan", Perm(P::WriteClinical)),
            get(pages::path::plan_form),
        ),
        (
            r(M::POST, "/patients/{id}/plan", Perm(P::WriteClinical)),
            post(pages::path::plan_submit),
        ),
        (
            r(M::GET, "/records/{rid}/amend", Perm(P::WriteClinical)),
            get(pages::path::amend_form),
        ),
        (
            r(M::POST, "/records/{rid}/amend", Perm(P::WriteClinical)),
            post(pages::path::amend_submit),
        ),
        (
            r(M::POST, "/records/{rid}/sign", Perm(P::WriteClinical)),
            post(pages::path::sign),
        ),
        (
            r(M::POST, "/records/{rid}/revoke", Perm(P::WriteClinical)),
            post(pages::path::revoke),
        ),
        (
            r(M::GET, "/patients/{id}/consents", Perm(P::WriteClinical)),
            get(pages::path::consent_form),
        ),
        (
            r(M::POST, "/patients/{id}/consents", Perm(P::WriteClinical)),
            post(pages::path::consent_submit),
        ),
        (
            r(M::GET, "/patients/{id}/disclose", Perm(P::WriteClinical)),
            get(pages::path::disclose_form),
        ),
        (
            r(M::POST, "/patients/{id}/disclose", Perm(P::WriteClinical)),
            post(pages::path::disclose_submit),
        ),
        (
            r(M::GET, "/patients/{id}/disclosures", Perm(P::ReadClinical)),
            get(pages::path::disclosures),
        ),
        (
            r(M::GET, "/patients/{id}/discharge", Perm(P::WriteClinical)),
            get(pages::path::discharge_form),
        ),
        (
            r(M::POST, "/patients/{id}/discharge", Perm(P::WriteClinical)),
            post(pages::path::discharge_submit),
        ),
        (
            r(M::GET, "/patients/{id}/episode", Perm(P::WriteClinical)),
            get(pages::path::episode_form),
        ),
        (
            r(M::POST, "/patients/{id}/episode", Perm(P::WriteClinical)),
            post(pages::path::episode_submit),
        ),
        (
            r(M::POST, "/followups/{rid}/outcome", Perm(P::WriteClinical)),
            post(pages::path::followup),
        ),
        (
            r(M::GET, "/patients/{id}/profile", Perm(P::RegisterPatient)),
            get(pages::path::profile_form),
        ),
        (
            r(
                M::POST,
                "/patients/{id}/allergies",
                Perm(P::ReadDemographics),
            ),
            post(pages::path::allergies),
        ),
        (
            r(M::POST, "/patients/{id}/profile", Perm(P::RegisterPatient)),
            post(pages::path::profile_submit),
        ),
        (
            r(M::GET, "/patients/{id}/photo", Perm(P::ReadDemographics)),
            get(pages::path::photo),
        ),
        (
            r(M::POST, "/patients/{id}/photo", Perm(P::RegisterPatient)),
            post(pages::path::photo_upload),
        ),
        (
            r(M::GET, "/worklist", Perm(P::ReadClinical)),
            get(pages::work::worklist),
        ),
        (
            r(M::POST, "/worklist/sign", Perm(P::WriteClinical)),
            post(pages::work::sign_batch),
        ),
        (
            r(M::POST, "/worklist/sign-orders", Perm(P::OrderMedication)),
            post(pages::work::sign_orders_batch),
        ),
        (
            r(M::GET, "/calendar", Perm(P::ReadClinical)),
            get(pages::work::calendar),
        ),
        (
            r(M::GET, "/calendar/new", Perm(P::WriteClinical)),
            get(pages::work::schedule_form),
        ),
        (
            r(M::POST, "/calendar", Perm(P::WriteClinical)),
            post(pages::work::schedule_submit),
        ),
        (
            r(M::GET, "/sessions/{sid}", Perm(P::ReadClinical)),
            get(pages::work::session),
        ),
        (
            r(M::POST, "/sessions/{sid}", Perm(P::WriteClinical)),
            post(pages::work::session_submit),
        ),
        (
            r(M::POST, "/sessions/{sid}/enroll", Perm(P::WriteClinical)),
            post(pages::work::enroll),
        ),
        (
            r(M::GET, "/patients/{id}/aftercare", Perm(P::ReadClinical)),
            get(pages::path::aftercare_print),
        ),
        (
            r(M::GET, "/programs", Perm(P::ManagePrograms)),
            get(pages::work::programs),
        ),
        (
            r(M::GET, "/programs/{pid}/testing", Perm(P::ManagePrograms)),
            get(pages::work::testing_form),
        ),
        (
            r(M::POST, "/programs/{pid}/testing", Perm(P::ManagePrograms)),
            post(pages::work::testing_submit),
        ),
        (
            r(M::GET, "/programs/{pid}/protocol", Perm(P::ManagePrograms)),
            get(pages::work::protocol_form),
        ),
        (
            r(M::POST, "/programs/{pid}/protocol", Perm(P::ManagePrograms)),
            post(pages::work::protocol_submit),
        ),
        (
            r(
                M::GET,
                "/api/v1/programs/{pid}/protocol",
                Perm(P::ManagePrograms),
            ),
            get(crate::path_api::get_protocol),
        ),
        (
            r(
                M::PUT,
                "/api/v1/programs/{pid}/protocol",
                Perm(P::ManagePrograms),
            ),
            axum::routing::put(crate::path_api::put_protocol),
        ),
        (
            r(M::GET, "/account/tokens", Perm(P::ManageOwnTokens)),
            get(pages::admin::tokens),
        ),
        (
            r(M::POST, "/account/tokens", Perm(P::ManageOwnTokens)),
            post(pages::admin::create_token),
        ),
        (
            r(
                M::POST,
                "/account/tokens/{id}/revoke",
                Perm(P::ManageOwnTokens),
            ),
            post(pages::admin::revoke_token),
        ),
        (
            r(M::GET, "/admin/users", Perm(P::ManageUsers)),
            get(pages::admin::users),
        ),
        (
            r(M::POST, "/admin/users", Perm(P::ManageUsers)),
            post(pages::admin::create_user),
        ),
        (
            r(M::POST, "/admin/users/{id}/roles", Perm(P::ManageUsers)),
            post(pages::admin::change_role),
        ),
        (
            r(M::POST, "/admin/users/{id}/status", Perm(P::ManageUsers)),
            post(pages::admin::set_status),
        ),
        (
            r(M::POST, "/admin/users/{id}/org-roles", Perm(P::ManageUsers)),
            post(pages::admin::change_org_role),
        ),
        (
            r(M::GET, "/audit", Perm(P::ReadAudit)),
            get(pages::admin::audit),
        ),
        (
            r(M::GET, "/audit/break-glass", Perm(P::ReviewBreakGlass)),
            get(pages::admin::break_glass_list),
        ),
        (
            r(
                M::POST,
                "/audit/break-glass/{id}/review",
                Perm(P::ReviewBreakGlass),
            ),
            post(pages::admin::break_glass_review),
        ),
        (
            r(M::GET, "/session/alive", SignedIn),
            get(pages::auth::alive),
        ),
        (
            r(M::POST, "/drafts", SignedIn),
            post(pages::forms::save_draft),
        ),
        (
            r(M::POST, "/drafts/discard", SignedIn),
            post(pages::forms::discard_draft),
        ),
        (r(M::GET, "/healthz", Public), get(api::healthz)),
        (r(M::GET, "/readyz", Public), get(api::readyz)),
        (r(M::GET, "/metrics", Public), get(crate::metrics::render)),
        (r(M::GET, "/static/{file}", Public), get(pages::asset)),
        (
            r(M::GET, "/api/v1/openapi.json", Public),
            get(api::openapi_json),
        ),
        (
            r(M::GET, "/api/v1/me", Perm(P::ManageOwnTokens)),
            get(api::me),
        ),
        (
            r(M::GET, "/api/v1/programs", Perm(P::ViewDashboard)),
            get(api::programs),
        ),
        (
            r(M::GET, "/api/v1/dashboard", Perm(P::ViewDashboard)),
            get(api::dashboard),
        ),
        (
            r(M::GET, "/api/v1/patients", Perm(P::ReadDemographics)),
            get(api::search_patients),
        ),
        (
            r(M::POST, "/api/v1/patients", Perm(P::RegisterPatient)),
            post(api::register_patient_api),
        ),
        (
            r(M::GET, "/api/v1/patients/{id}", Perm(P::ReadDemographics)),
            get(api::get_patient),
        ),
        (
            r(M::GET, "/api/v1/audit/events", Perm(P::ReadAudit)),
            get(api::audit_events),
        ),
        (
            r(M::GET, "/api/v1/facilities", Public),
            get(crate::finder::search),
        ),
        (
            r(M::GET, "/api/v1/facilities/export", Public),
            get(crate::finder::export),
        ),
        (
            r(M::GET, "/api/v1/facilities/{id}", Public),
            get(crate::finder::get),
        ),
        (
            r(M::POST, "/api/v1/calc/{name}", Perm(P::UseCalculators)),
            post(api::calc),
        ),
        (
            r(
                M::GET,
                "/api/v1/patients/{id}/records",
                Perm(P::ReadClinical),
            ),
            get(crate::path_api::list_records),
        ),
        (
            r(
                M::POST,
                "/api/v1/patients/{id}/records/{kind}",
                Perm(P::WriteClinical),
            ),
            post(crate::path_api::create_record),
        ),
        (
            r(
                M::POST,
                "/api/v1/records/{rid}/sign",
                Perm(P::WriteClinical),
            ),
            post(crate::path_api::sign_record),
        ),
        (
            r(
                M::POST,
                "/api/v1/records/{rid}/amend",
                Perm(P::WriteClinical),
            ),
            post(crate::path_api::amend_record),
        ),
        (
            r(
                M::POST,
                "/api/v1/records/{rid}/revoke",
                Perm(P::WriteClinical),
            ),
            post(crate::path_api::revoke_consent),
        ),
        (
            r(
                M::POST,
                "/api/v1/patients/{id}/disclosures",
                Perm(P::WriteClinical),
            ),
            post(crate::path_api::make_disclosure),
        ),
        (
            r(
                M::POST,
                "/fhir/r4/Patient/{id}/$everything",
                Perm(P::WriteClinical),
            ),
            post(crate::path_api::fhir_everything),
        ),
        (
            r(M::GET, "/fhir/r4/{type}", Perm(P::ReadClinical)),
            get(crate::path_api::fhir_search),
        ),
        (
            r(
                M::GET,
                "/api/v1/patients/{id}/disclosures",
                Perm(P::ReadClinical),
            ),
            get(crate::path_api::list_disclosures),
        ),
        (
            r(M::GET, "/dosing", Perm(P::WriteClinical)),
            get(pages::dosing::desk),
        ),
        (
            r(M::GET, "/reports/teds", Perm(P::ReadClinical)),
            get(pages::clinic::teds_page),
        ),
        (
            r(M::GET, "/reports/teds.csv", Perm(P::ReadClinical)),
            get(pages::clinic::teds_csv),
        ),
        (
            r(M::GET, "/dosing/log", Perm(P::ReadClinical)),
            get(pages::dosing::log_page),
        ),
        (
            r(M::GET, "/dosing/log.csv", Perm(P::ReadClinical)),
            get(pages::dosing::log_csv),
        ),
        (
            r(M::GET, "/dosing/outage", Perm(P::WriteClinical)),
            get(pages::dosing::outage),
        ),
        (
            r(M::GET, "/dosing/outage.csv", Perm(P::WriteClinical)),
            get(pages::dosing::outage_csv),
        ),
        (
            r(M::GET, "/dosing/callbacks", Perm(P::WriteClinical)),
            get(pages::dosing::callbacks_view),
        ),
        (
            r(M::POST, "/dosing/callbacks", Perm(P::WriteClinical)),
            post(pages::dosing::callbacks_pick),
        ),
        (
            r(M::GET, "/dosing/stock", Perm(P::ReadClinical)),
            get(pages::dosing::stock_view),
        ),
        (
            r(M::POST, "/dosing/stock/reconcile", Perm(P::WriteClinical)),
            post(pages::dosing::stock_reconcile),
        ),
        (
            r(M::POST, "/dosing/stock/waste", Perm(P::WriteClinical)),
            post(pages::dosing::stock_waste),
        ),
        (
            r(
                M::POST,
                "/dosing/stock/{rid}/cosign",
                Perm(P::WriteClinical),
            ),
            post(pages::dosing::stock_cosign),
        ),
        (
            r(M::POST, "/dosing/call", Perm(P::WriteClinical)),
            post(pages::dosing::call_next),
        ),
        (
            r(M::POST, "/dosing/{id}/arrive", Perm(P::WriteClinical)),
            post(pages::dosing::arrive),
        ),
        (
            r(M::POST, "/dosing/{id}/holds", Perm(P::WriteClinical)),
            post(pages::dosing::hold_place),
        ),
        (
            r(
                M::POST,
                "/dosing/{id}/holds/{hid}/lift",
                Perm(P::WriteClinical),
            ),
            post(pages::dosing::hold_lift),
        ),
        (
            r(M::GET, "/dosing/{id}/orders", Perm(P::ReadClinical)),
            get(pages::dosing::orders_view),
        ),
        (
            r(M::POST, "/dosing/{id}/orders", Perm(P::WriteClinical)),
            post(pages::dosing::orders_create),
        ),
        (
            r(M::GET, "/dosing/{id}/takehome", Perm(P::ReadClinical)),
            get(pages::dosing::takehome_view),
        ),
        (
            r(M::POST, "/dosing/{id}/takehome", Perm(P::OrderMedication)),
            post(pages::dosing::takehome_decide),
        ),
        (
            r(M::POST, "/dosing/{id}/bottles", Perm(P::WriteClinical)),
            post(pages::dosing::takehome_dispense),
        ),
        (
            r(M::GET, "/dosing/{id}/labels", Perm(P::ReadClinical)),
            get(pages::dosing::labels),
        ),
        (
            r(
                M::POST,
                "/dosing/{id}/bottle-events",
                Perm(P::WriteClinical),
            ),
            post(pages::dosing::bottle_event),
        ),
        (
            r(M::GET, "/dosing/{id}/overdose", Perm(P::WriteClinical)),
            get(pages::dosing::overdose_view),
        ),
        (
            r(M::GET, "/patients/{id}/drug-tests", Perm(P::ReadClinical)),
            get(pages::labs::tests_view),
        ),
        (
            r(M::POST, "/patients/{id}/drug-tests", Perm(P::WriteClinical)),
            post(pages::labs::collect),
        ),
        (
            r(
                M::POST,
                "/patients/{id}/drug-tests/{test}/review",
                Perm(P::OrderMedication),
            ),
            post(pages::labs::review),
        ),
        (
            r(M::GET, "/patients/{id}/incentives", Perm(P::ReadClinical)),
            get(pages::cm::ledger_view),
        ),
        (
            r(
                M::POST,
                "/patients/{id}/incentives/enroll",
                Perm(P::WriteClinical),
            ),
            post(pages::cm::enroll),
        ),
        (
            r(
                M::POST,
                "/patients/{id}/incentives/draw/{sid}",
                Perm(P::WriteClinical),
            ),
            post(pages::cm::draw),
        ),
        (
            r(
                M::POST,
                "/patients/{id}/incentives/redeem",
                Perm(P::WriteClinical),
            ),
            post(pages::cm::redeem),
        ),
        (
            r(
                M::POST,
                "/patients/{id}/incentives/requests/{rid}",
                Perm(P::WriteClinical),
            ),
            post(pages::cm::decide),
        ),
        (
            r(M::GET, "/rewards", Perm(P::ReadClinical)),
            get(pages::cm::rewards),
        ),
        (
            r(M::GET, "/rewards/catalog", Perm(P::ManagePrograms)),
            get(pages::cm::catalog),
        ),
        (
            r(M::POST, "/rewards/items", Perm(P::ManagePrograms)),
            post(pages::cm::add_item),
        ),
        (
            r(
                M::POST,
                "/rewards/items/{iid}/stock",
                Perm(P::WriteClinical),
            ),
            post(pages::cm::stock),
        ),
        (
            r(M::POST, "/rewards/funding", Perm(P::ManagePrograms)),
            post(pages::cm::add_funding),
        ),
        (
            r(M::GET, "/drug-tests/today", Perm(P::ReadClinical)),
            get(pages::labs::random_today),
        ),
        (
            r(M::GET, "/labs/inbox", Perm(P::WriteClinical)),
            get(pages::labs::inbox),
        ),
        (
            r(M::POST, "/labs/inbox/{mid}/match", Perm(P::WriteClinical)),
            post(pages::labs::match_message),
        ),
        (
            r(M::POST, "/dosing/{id}/overdose", Perm(P::WriteClinical)),
            post(pages::dosing::overdose_record),
        ),
        (
            r(
                M::POST,
                "/dosing/{id}/naloxone-kits",
                Perm(P::WriteClinical),
            ),
            post(pages::dosing::kit),
        ),
        (
            r(M::GET, "/dosing/{id}", Perm(P::WriteClinical)),
            get(pages::dosing::panel),
        ),
        (
            r(M::POST, "/dosing/{id}", Perm(P::WriteClinical)),
            post(pages::dosing::record),
        ),
        (
            r(
                M::POST,
                "/api/v1/patients/{id}/medication-orders",
                Perm(P::WriteClinical),
            ),
            post(crate::dosing_api::create_order),
        ),
        (
            r(
                M::GET,
                "/api/v1/patients/{id}/medication-orders",
                Perm(P::ReadClinical),
            ),
            get(crate::dosing_api::list_orders),
        ),
        (
            r(
                M::POST,
                "/api/v1/medication-orders/{oid}/sign",
                Perm(P::OrderMedication),
            ),
            post(crate::dosing_api::sign_order),
        ),
        (
            r(
                M::GET,
                "/api/v1/patients/{id}/dosing",
                Perm(P::ReadClinical),
            ),
            get(crate::dosing_api::panel),
        ),
        (
            r(
                M::POST,
                "/api/v1/patients/{id}/doses",
                Perm(P::WriteClinical),
            ),
            post(crate::dosing_api::record_dose),
        ),
        (
            r(
                M::GET,
                "/api/v1/programs/{pid}/stock",
                Perm(P::ReadClinical),
            ),
            get(crate::dosing_api::stock),
        ),
        (
            r(
                M::POST,
                "/api/v1/programs/{pid}/products",
                Perm(P::ManagePrograms),
            ),
            post(crate::dosing_api::add_product),
        ),
        (
            r(
                M::POST,
                "/api/v1/programs/{pid}/stock/lots",
                Perm(P::WriteClinical),
            ),
            post(crate::dosing_api::receive),
        ),
        (
            r(
                M::GET,
                "/api/v1/patients/{id}/takehome",
                Perm(P::ReadClinical),
            ),
            get(crate::dosing_api::eligibility),
        ),
        (
            r(
                M::POST,
                "/api/v1/patients/{id}/takehome",
                Perm(P::OrderMedication),
            ),
            post(crate::dosing_api::decide),
        ),
        (
            r(
                M::POST,
                "/api/v1/patients/{id}/takehome/bottles",
                Perm(P::WriteClinical),
            ),
            post(crate::dosing_api::dispense),
        ),
        (
            r(
                M::GET,
                "/api/v1/patients/{id}/takehome/bottles",
                Perm(P::ReadClinical),
            ),
            get(crate::dosing_api::bottles),
        ),
        (
            r(
                M::POST,
                "/api/v1/patients/{id}/takehome/bottle-events",
                Perm(P::WriteClinical),
            ),
            post(crate::dosing_api::bottle_event),
        ),
        (
            r(
                M::GET,
                "/api/v1/programs/{pid}/stock/day",
                Perm(P::ReadClinical),
            ),
            get(crate::dosing_api::stock_day),
        ),
        (
            r(
                M::POST,
                "/api/v1/programs/{pid}/stock/reconciliations",
                Perm(P::WriteClinical),
            ),
            post(crate::dosing_api::reconcile),
        ),
        (
            r(
                M::POST,
                "/api/v1/reconciliations/{rid}/cosign",
                Perm(P::WriteClinical),
            ),
            post(crate::dosing_api::cosign),
        ),
        (
            r(
                M::POST,
                "/api/v1/programs/{pid}/stock/waste",
                Perm(P::WriteClinical),
            ),
            post(crate::dosing_api::waste),
        ),
        (
            r(
                M::POST,
                "/api/v1/patients/{id}/overdoses",
                Perm(P::WriteClinical),
            ),
            post(crate::dosing_api::record_overdose),
        ),
        (
            r(
                M::GET,
                "/api/v1/patients/{id}/incentives",
                Perm(P::ReadClinical),
            ),
            get(crate::cm_api::ledger),
        ),
        (
            r(
                M::POST,
                "/api/v1/patients/{id}/incentives/enrollments",
                Perm(P::WriteClinical),
            ),
            post(crate::cm_api::enroll),
        ),
        (
            r(
                M::POST,
                "/api/v1/patients/{id}/incentives/enrollments/{eid}/end",
                Perm(P::WriteClinical),
            ),
            post(crate::cm_api::end),
        ),
        (
            r(
                M::POST,
                "/api/v1/patients/{id}/incentives/samples/{sid}/draw",
                Perm(P::WriteClinical),
            ),
            post(crate::cm_api::draw),
        ),
        (
            r(
                M::POST,
                "/api/v1/patients/{id}/incentives/redemptions",
                Perm(P::WriteClinical),
            ),
            post(crate::cm_api::redeem),
        ),
        (
            r(
                M::POST,
                "/api/v1/patients/{id}/incentives/redemptions/{rid}/decide",
                Perm(P::WriteClinical),
            ),
            post(crate::cm_api::decide),
        ),
        (
            r(
                M::GET,
                "/api/v1/programs/{pid}/rewards",
                Perm(P::ReadClinical),
            ),
            get(crate::cm_api::report),
        ),
        (
            r(
                M::POST,
                "/api/v1/programs/{pid}/rewards/items",
                Perm(P::ManagePrograms),
            ),
            post(crate::cm_api::add_item),
        ),
        (
            r(
                M::POST,
                "/api/v1/programs/{pid}/rewards/items/{iid}/stock",
                Perm(P::WriteClinical),
            ),
            post(crate::cm_api::stock),
        ),
        (
            r(
                M::POST,
                "/api/v1/programs/{pid}/cm-funding",
                Perm(P::ManagePrograms),
            ),
            post(crate::cm_api::add_funding),
        ),
        (
            r(
                M::GET,
                "/api/v1/patients/{id}/drug-tests",
                Perm(P::ReadClinical),
            ),
            get(crate::lab_api::list_tests),
        ),
        (
            r(
                M::POST,
                "/api/v1/patients/{id}/drug-tests",
                Perm(P::WriteClinical),
            ),
            post(crate::lab_api::collect),
        ),
        (
            r(
                M::POST,
                "/api/v1/patients/{id}/drug-tests/{test}/results",
                Perm(P::WriteClinical),
            ),
            post(crate::lab_api::add_results),
        ),
        (
            r(
                M::POST,
                "/api/v1/patients/{id}/drug-tests/{test}/review",
                Perm(P::OrderMedication),
            ),
            post(crate::lab_api::review),
        ),
        (
            r(
                M::GET,
                "/api/v1/patients/{id}/drug-results/{analyte}",
                Perm(P::ReadClinical),
            ),
            get(crate::lab_api::analyte),
        ),
        (
            r(
                M::GET,
                "/api/v1/programs/{pid}/drug-tests/random-today",
                Perm(P::ReadClinical),
            ),
            get(crate::lab_api::random_today),
        ),
        (
            r(
                M::GET,
                "/api/v1/programs/{pid}/testing-policy",
                Perm(P::ReadClinical),
            ),
            get(crate::lab_api::get_policy),
        ),
        (
            r(
                M::PUT,
                "/api/v1/programs/{pid}/testing-policy",
                Perm(P::ManagePrograms),
            ),
            put(crate::lab_api::put_policy),
        ),
        (
            r(
                M::POST,
                "/api/v1/programs/{pid}/lab/hl7",
                Perm(P::WriteClinical),
            ),
            post(crate::lab_api::receive_hl7),
        ),
        (
            r(
                M::GET,
                "/api/v1/programs/{pid}/lab/queue",
                Perm(P::WriteClinical),
            ),
            get(crate::lab_api::lab_queue),
        ),
        (
            r(
                M::POST,
                "/api/v1/lab/messages/{mid}/match",
                Perm(P::WriteClinical),
            ),
            post(crate::lab_api::lab_match),
        ),
        (
            r(
                M::POST,
                "/api/v1/programs/{pid}/naloxone-kits",
                Perm(P::WriteClinical),
            ),
            post(crate::dosing_api::give_kit),
        ),
        (
            r(
                M::PUT,
                "/api/v1/programs/{pid}/dosing-settings",
                Perm(P::ManagePrograms),
            ),
            put(crate::dosing_api::save_settings),
        ),
        (
            r(
                M::POST,
                "/api/v1/programs/{pid}/closures",
                Perm(P::ManagePrograms),
            ),
            post(crate::dosing_api::add_closure),
        ),
        (
            r(
                M::POST,
                "/api/v1/patients/{id}/dosing-holds",
                Perm(P::WriteClinical),
            ),
            post(crate::dosing_api::place_hold),
        ),
        (
            r(
                M::GET,
                "/api/v1/patients/{id}/dosing-holds",
                Perm(P::ReadClinical),
            ),
            get(crate::dosing_api::list_holds),
        ),
        (
            r(
                M::POST,
                "/api/v1/patients/{id}/dosing-holds/{hid}/lift",
                Perm(P::WriteClinical),
            ),
            post(crate::dosing_api::lift_hold),
        ),
        (
            r(
                M::POST,
                "/api/v1/patients/{id}/arrivals",
                Perm(P::WriteClinical),
            ),
            post(crate::dosing_api::arrive),
        ),
        (
            r(
                M::GET,
                "/api/v1/programs/{pid}/queue",
                Perm(P::WriteClinical),
            ),
            get(crate::dosing_api::queue),
        ),
        (
            r(
                M::POST,
                "/api/v1/programs/{pid}/queue/call",
                Perm(P::WriteClinical),
            ),
            post(crate::dosing_api::call_next),
        ),
        (
            r(
                M::POST,
                "/api/v1/patients/{id}/admit",
                Perm(P::WriteClinical),
            ),
            post(crate::path_api::admit),
        ),
        (
            r(
                M::POST,
                "/api/v1/patients/{id}/transfer",
                Perm(P::WriteClinical),
            ),
            post(crate::path_api::transfer),
        ),
        (
            r(
                M::POST,
                "/api/v1/patients/{id}/discharge",
                Perm(P::WriteClinical),
            ),
            post(crate::path_api::discharge),
        ),
        (
            r(
                M::POST,
                "/api/v1/followups/{rid}/outcome",
                Perm(P::WriteClinical),
            ),
            post(crate::path_api::followup_outcome),
        ),
        (
            r(
                M::POST,
                "/api/v1/programs/{pid}/sessions",
                Perm(P::WriteClinical),
            ),
            post(crate::path_api::schedule_sessions),
        ),
        (
            r(
                M::GET,
                "/api/v1/programs/{pid}/sessions",
                Perm(P::ReadClinical),
            ),
            get(crate::path_api::list_sessions),
        ),
        (
            r(
                M::POST,
                "/api/v1/sessions/{sid}/attendance",
                Perm(P::WriteClinical),
            ),
            post(crate::path_api::record_attendance),
        ),
        (
            r(
                M::POST,
                "/api/v1/sessions/{sid}/enrollment",
                Perm(P::WriteClinical),
            ),
            post(crate::path_api::enrollment),
        ),
        (
            r(M::GET, "/api/v1/worklist", Perm(P::ReadClinical)),
            get(crate::path_api::worklist),
        ),
        (
            r(
                M::POST,
                "/api/v1/patients/{id}/photo",
                Perm(P::RegisterPatient),
            ),
            post(crate::path_api::upload_photo),
        ),
        (
            r(
                M::GET,
                "/api/v1/patients/{id}/profile",
                Perm(P::ReadDemographics),
            ),
            get(crate::path_api::get_profile),
        ),
        (
            r(
                M::PUT,
                "/api/v1/patients/{id}/profile",
                Perm(P::RegisterPatient),
            ),
            axum::routing::put(crate::path_api::put_profile),
        ),
        (r(M::GET, "/find", Public), get(crate::public::find)),
        // The patient portal (its own realm: Guard::Portal).
        (
            r(M::GET, "/portal/sign-in", Public),
            get(pages::portal::sign_in_form),
        ),
        (
            r(M::POST, "/portal/sign-in", Public),
            post(pages::portal::sign_in),
        ),
        (
            r(M::GET, "/portal/join", Public),
            get(pages::portal::join_form),
        ),
        (
            r(M::POST, "/portal/join", Public),
            post(pages::portal::join),
        ),
        (
            r(M::POST, "/portal/sign-out", PortalSignedIn),
            post(pages::portal::sign_out),
        ),
        (
            r(M::GET, "/portal/code", PortalSignedIn),
            get(pages::portal::code_form),
        ),
        (
            r(M::POST, "/portal/code", PortalSignedIn),
            post(pages::portal::code_submit),
        ),
        (
            r(M::GET, "/portal/security", Portal),
            get(pages::portal::security),
        ),
        (
            r(M::POST, "/portal/security/start", Portal),
            post(pages::portal::security_start),
        ),
        (
            r(M::POST, "/portal/security/enable", Portal),
            post(pages::portal::security_enable),
        ),
        (
            r(M::POST, "/portal/security/disable", Portal),
            post(pages::portal::security_disable),
        ),
        (r(M::GET, "/portal", Portal), get(pages::portal::home)),
        (
            r(M::GET, "/portal/treatment", Portal),
            get(pages::portal::treatment),
        ),
        (
            r(M::GET, "/portal/rewards", Portal),
            get(pages::portal::rewards),
        ),
        (
            r(M::POST, "/portal/rewards/{item}", Portal),
            post(pages::portal::request_reward),
        ),
        (
            r(M::GET, "/portal/check-in", Portal),
            get(pages::portal::check_in_form),
        ),
        (
            r(M::POST, "/portal/check-in", Portal),
            post(pages::portal::check_in),
        ),
        (
            r(M::POST, "/portal/language", PortalSignedIn),
            post(pages::portal::set_language),
        ),
        (
            r(M::GET, "/portal/family", Family),
            get(pages::portal::family),
        ),
        (
            r(M::GET, "/portal/learn", Portal),
            get(pages::portal::learn),
        ),
        (
            r(M::GET, "/portal/learn/{slug}", Portal),
            get(pages::portal::learn_topic),
        ),
        (
            r(M::GET, "/api/v1/portal/me", Portal),
            get(pages::portal::api_me),
        ),
        (
            r(M::POST, "/api/v1/portal/reports", Portal),
            post(pages::portal::api_report),
        ),
        (
            r(M::POST, "/api/v1/portal/rewards/{item}", Portal),
            post(pages::portal::api_request_reward),
        ),
        // Staff: a patient's portal access and self-reports; the program's
        // portal settings.
        (
            r(M::GET, "/patients/{id}/portal", Perm(P::ReadDemographics)),
            get(pages::portal_staff::patient_portal),
        ),
        (
            r(
                M::POST,
                "/patients/{id}/portal/invite",
                Perm(P::ReadDemographics),
            ),
            post(pages::portal_staff::invite),
        ),
        (
            r(
                M::POST,
                "/patients/{id}/portal/disable",
                Perm(P::ReadDemographics),
            ),
            post(pages::portal_staff::disable),
        ),
        (
            r(
                M::POST,
                "/patients/{id}/portal/family-invite",
                Perm(P::WriteClinical),
            ),
            post(pages::portal_staff::invite_family),
        ),
        (
            r(
                M::POST,
                "/patients/{id}/portal/family/{aid}/disable",
                Perm(P::ReadDemographics),
            ),
            post(pages::portal_staff::disable_family),
        ),
        (
            r(M::POST, "/portal-reports/{rid}/ack", Perm(P::WriteClinical)),
            post(pages::portal_staff::acknowledge),
        ),
        (
            r(M::GET, "/programs/{id}/portal", Perm(P::ManagePrograms)),
            get(pages::portal_staff::settings_form),
        ),
        (
            r(M::POST, "/programs/{id}/portal", Perm(P::ManagePrograms)),
            post(pages::portal_staff::settings_submit),
        ),
        (
            r(M::GET, "/find/facility/{id}", Public),
            get(crate::public::facility),
        ),
        (
            r(M::POST, "/find/facility/{id}/callback", Public),
            post(crate::public::callback),
        ),
        (
            r(M::GET, "/find/options", Public),
            get(crate::selfscreen::options),
        ),
        (
            r(M::GET, "/referrals", Perm(P::ManageReferrals)),
            get(pages::intake::referrals),
        ),
        (
            r(M::POST, "/referrals/{id}/claim", Perm(P::ManageReferrals)),
            post(pages::intake::claim),
        ),
        (
            r(M::POST, "/referrals/{id}/close", Perm(P::ManageReferrals)),
            post(pages::intake::close),
        ),
        (
            r(M::GET, "/listing", Perm(P::ManageListing)),
            get(pages::intake::listing),
        ),
        (
            r(M::POST, "/listing/{id}", Perm(P::ManageListing)),
            post(pages::intake::save_listing),
        ),
    ]
}

/// The specs alone (for tests and documentation).
pub fn specs() -> Vec<RouteSpec> {
    table().into_iter().map(|(s, _)| s).collect()
}

/// The JSON doors (`/api/…` and FHIR's `/fhir/…`): errors answer JSON,
/// never a page.
pub fn is_api(path: &str) -> bool {
    path.starts_with("/api/") || path.starts_with("/fhir/")
}

async fn guard(state: AppState, g: Guard, api: bool, mut req: Request, next: Next) -> Response {
    let fail = |e: AppError| if api { e.json() } else { e.html() };
    if g == Guard::Public {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    if matches!(g, Guard::Portal | Guard::PortalSignedIn | Guard::Family) {
        let principal = match pages::portal::resolve(&state, &parts).await {
            Ok(Some(p)) => p,
            Ok(None) if api => return AppError::Unauthenticated.json(),
            Ok(None) => return axum::response::Redirect::to("/portal/sign-in").into_response(),
            Err(AppError::SessionExpired) if !api => {
                return axum::response::Redirect::to("/portal/sign-in?m=idle").into_response();
            }
            Err(e) => return fail(e),
        };
        if g == Guard::Portal && !principal.mfa_done {
            if api {
                return AppError::MfaPending.json();
            }
            return axum::response::Redirect::to("/portal/code").into_response();
        }
        // The patient's pages are the patient's; a family member has one.
        let family = matches!(principal.kind, carepath_app::ActorKind::Family { .. });
        if g == Guard::Portal && family {
            if api {
                return AppError::Forbidden("the patient's own view".into()).json();
            }
            return axum::response::Redirect::to("/portal/family").into_response();
        }
        if g == Guard::Family && !family {
            return axum::response::Redirect::to("/portal").into_response();
        }
        parts.extensions.insert(principal);
        return next.run(Request::from_parts(parts, body)).await;
    }
    // A page asked for while signed out (or after the session ended):
    // signing in returns to it.
    let remember = |r: Response, parts: &axum::http::request::Parts| -> Response {
        if api || parts.method != Method::GET {
            return r;
        }
        let path = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default();
        if !auth::safe_next(&path) {
            return r;
        }
        with_next_cookie(&state, parts, &path, r)
    };
    let principal: Principal = match auth::resolve(&state, &parts).await {
        Ok(Some(p)) => p,
        Ok(None) => return remember(fail(AppError::Unauthenticated), &parts),
        Err(AppError::SessionExpired) if !api && parts.method == Method::POST => {
            return hold_form(&state, &parts, body).await;
        }
        Err(e @ AppError::SessionExpired) => return remember(fail(e), &parts),
        Err(e) => return fail(e),
    };
    if let Guard::Perm(p) = g {
        if !principal.mfa_done {
            return fail(AppError::MfaPending);
        }
        if !principal.can(p) {
            let path = parts
                .extensions
                .get::<axum::extract::MatchedPath>()
                .map(|m| m.as_str().to_string())
                .unwrap_or_default();
            let route = format!("{} {path}", parts.method);
            if let Err(e) =
                carepath_app::auth::refuse_route(&state.app, &principal, &route, p).await
            {
                return fail(e);
            }
            return fail(AppError::Forbidden(format!(
                "your role does not allow this ({p})"
            )));
        }
    }
    // A form saved: any draft of it has done its work (only a form whose
    // page opens again can have one).
    let reopenable = parts
        .extensions
        .get::<axum::extract::MatchedPath>()
        .is_some_and(|m| has_page(m.as_str()));
    let saved_form =
        (parts.method == Method::POST && !api && reopenable).then(|| parts.uri.path().to_string());
    let who = saved_form.as_ref().map(|_| principal.clone());
    parts.extensions.insert(principal);
    req = Request::from_parts(parts, body);
    let resp = next.run(req).await;
    if let (Some(path), Some(who)) = (saved_form, who)
        && resp.status().is_redirection()
        && let Err(e) = carepath_app::drafts::submitted(&state.app, &who, &path).await
    {
        tracing::warn!(error = %e, "clearing a submitted form's draft failed");
    }
    resp
}

/// The route patterns of pages (GET routes).
fn pages() -> &'static std::collections::HashSet<&'static str> {
    static PAGES: std::sync::OnceLock<std::collections::HashSet<&'static str>> =
        std::sync::OnceLock::new();
    PAGES.get_or_init(|| {
        specs()
            .into_iter()
            .filter(|s| s.method == Method::GET)
            .map(|s| s.path)
            .collect()
    })
}

/// Whether a page (GET) is routed at `pattern` (a matched route pattern).
fn has_page(pattern: &str) -> bool {
    pages().contains(pattern)
}

/// Whether a page opens at the concrete `path` (a form's action): a form
/// posted there can be reopened with what was typed (drafts). Matched
/// segment by segment, `{…}` standing for any one segment.
pub fn page_at(path: &str) -> bool {
    let want: Vec<&str> = path.split('/').collect();
    pages().iter().any(|p| {
        let segs: Vec<&str> = p.split('/').collect();
        segs.len() == want.len()
            && segs
                .iter()
                .zip(&want)
                .all(|(a, b)| a == b || (a.starts_with('{') && !b.is_empty()))
    })
}

/// A form that arrived just after its session ended for inactivity: keep
/// what was typed for the person whose session it was, and send them to sign
/// in; the form page gives it back (see `carepath_app::drafts`).
async fn hold_form(
    state: &AppState,
    parts: &axum::http::request::Parts,
    body: axum::body::Body,
) -> Response {
    let path = parts.uri.path().to_string();
    let form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let token = auth::cookie_value(&parts.headers, auth::SESSION_COOKIE);
    // Only a form whose page can be opened again (a GET at the same path)
    // can be handed back.
    let reopenable = parts
        .extensions
        .get::<axum::extract::MatchedPath>()
        .is_some_and(|m| has_page(m.as_str()));
    let mut kept = false;
    if form
        && reopenable
        && auth::safe_next(&path)
        && let Some(token) = token
        && let Ok(bytes) = axum::body::to_bytes(body, 1024 * 1024).await
        && let Ok(text) = std::str::from_utf8(&bytes)
    {
        match carepath_app::drafts::hold_on_expiry(&state.app, &token, &path, text).await {
            Ok(k) => kept = k,
            Err(e) => tracing::warn!(error = %e, "keeping a form across sign-in failed"),
        }
    }
    if kept {
        let r = axum::response::Redirect::to("/login?m=kept").into_response();
        with_next_cookie(state, parts, &path, r)
    } else {
        axum::response::Redirect::to("/login?m=idle").into_response()
    }
}

/// `r` with the cookie that brings the person back to `path` after signing in.
fn with_next_cookie(
    state: &AppState,
    parts: &axum::http::request::Parts,
    path: &str,
    mut r: Response,
) -> Response {
    let secure = state.settings().secure_cookies || crate::client::of(parts).https;
    if let Ok(v) = HeaderValue::from_str(&auth::next_cookie(path, secure)) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

/// The whole application: routes with guards, then the cross-cutting layers.
pub fn app(state: AppState) -> Router {
    let mut router: Router<AppState> = Router::new();
    for (spec, handler) in table() {
        let st = state.clone();
        let g = spec.guard;
        let api = is_api(spec.path);
        let layered = handler.route_layer(middleware::from_fn(move |req: Request, next: Next| {
            let st = st.clone();
            async move { guard(st, g, api, req, next).await }
        }));
        router = router.route(spec.path, layered);
    }
    let csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
               frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'";
    router
        .fallback(fallback)
        .with_state(state.clone())
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::metrics::track,
        ))
        .layer(middleware::from_fn_with_state(state, crate::client::layer))
        .layer(tower_http::csrf::CsrfLayer::new())
        .layer(tower_http::limit::RequestBodyLimitLayer::new(1024 * 1024))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(csp),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::HeaderName::from_static("permissions-policy"),
            HeaderValue::from_static("camera=(), microphone=(), geolocation=()"),
        ))
        // Pages carry patient data: never cache them (assets override this).
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(middleware::from_fn(mark_compressible))
        .layer(
            tower_http::compression::CompressionLayer::new()
                .gzip(true)
                .compress_when(tower_http::compression::Predicate::and(
                    tower_http::compression::predicate::DefaultPredicate::new(),
                    |_: axum::http::StatusCode,
                     _: axum::http::Version,
                     _: &axum::http::HeaderMap,
                     x: &axum::http::Extensions| {
                        x.get::<Compressible>().is_some()
                    },
                )),
        )
}

/// Marks a response that may be gzip-compressed.
#[derive(Clone, Copy)]
struct Compressible;

/// Public pages, the public directory API and static assets are compressed
/// (a results page is ~137 KB as HTML, a sixth of that gzipped: what a
/// phone on a slow link waits for). Staff and portal pages are not: they
/// carry patient data next to text a request can put on the page, the
/// combination a compression side channel (BREACH) reads secrets from; and
/// they are small and served on the clinic's own network.
async fn mark_compressible(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let public = path == "/find"
        || path.starts_with("/find/")
        || path.starts_with("/static/")
        || path.starts_with("/api/v1/facilities")
        || path == "/api/v1/openapi.json";
    let mut resp = next.run(req).await;
    if public {
        resp.extensions_mut().insert(Compressible);
    }
    resp
}

async fn fallback(req: Request) -> Response {
    // Marked so tests can tell "no such route" from a handler's own 404.
    let signed_in = crate::auth::cookie_value(req.headers(), crate::auth::SESSION_COOKIE).is_some();
    let mut resp = if is_api(req.uri().path()) {
        AppError::NotFound.json()
    } else if signed_in {
        AppError::NotFound.html().into_response()
    } else {
        // The public (no staff session): back to the finder, not the login.
        crate::public::not_found(req.headers(), None)
    };
    resp.headers_mut()
        .insert("x-carepath-unrouted", HeaderValue::from_static("1"));
    resp
}

#[cfg(test)]
mod page_tests {
    use super::page_at;

    #[test]
    fn forms_with_a_page_can_keep_drafts() {
        assert!(page_at("/patients/0190-x/notes"));
        assert!(page_at("/patients/0190-x/assessment"));
        // Posted from the chart only: no page to open again.
        assert!(!page_at("/records/0190-x/administer"));
        assert!(!page_at("/drafts"));
        assert!(!page_at("/patients//notes"));
    }
}
