//! HTML page handlers.

pub mod admin;
pub mod auth;
pub mod chart_view;
pub mod clinic;
pub mod cm;
pub mod dosing;
pub mod forms;
pub mod intake;
pub mod labs;
pub mod outcomes;
pub mod path;
pub mod portal;
pub mod portal_staff;
pub mod work;

use crate::AppState;
use crate::auth::resolve;
use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use carepath_domain::authz::Permission;

/// `/`: where a user starts, by what they may do.
pub async fn home(State(state): State<AppState>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let Ok(Some(p)) = resolve(&state, &parts).await else {
        // The public's front door is the treatment finder; staff sign in
        // from its header.
        return Redirect::to("/find").into_response();
    };
    // Back to the page the sign-in interrupted, once signed in fully.
    if p.mfa_done
        && let Some(next) = crate::auth::next_of(&parts.headers)
    {
        let secure = state.settings().secure_cookies || crate::client::of(&parts).https;
        return (
            [(header::SET_COOKIE, crate::auth::clear_next_cookie(secure))],
            Redirect::to(&next),
        )
            .into_response();
    }
    Redirect::to(landing(&p)).into_response()
}

/// The first page for a principal: their work. Clinical staff (prescriber,
/// nurse, counselor, intake) land on the worklist, which puts each role's
/// own items first (danger, then the bedside for nurses and prescribers,
/// notes for counselors, assessments and calls for intake); the front desk
/// on the call-back queue; administrators on the dashboard; auditors on
/// the audit log.
pub fn landing(p: &carepath_app::Principal) -> &'static str {
    use carepath_domain::authz::Role;
    let roles = p.roles();
    let clinical = [Role::Prescriber, Role::Nurse, Role::Counselor, Role::Intake]
        .iter()
        .any(|r| roles.contains(r));
    if !p.mfa_done {
        "/mfa"
    } else if clinical && p.can(Permission::ReadClinical) {
        "/worklist"
    } else if roles.contains(&Role::FrontDesk) && p.can(Permission::ManageReferrals) {
        "/referrals"
    } else if p.can(Permission::ViewDashboard) {
        "/dashboard"
    } else if p.can(Permission::ReadAudit) {
        "/audit"
    } else if p.can(Permission::ManageOwnTokens) {
        "/account/tokens"
    } else {
        "/login"
    }
}

const CSS: &str = include_str!("../../assets/app.css");
const HTMX: &[u8] = include_bytes!("../../assets/vendor/htmx-2.0.11.min.js");
const SIGNATURE_JS: &str = include_str!("../../assets/signature.js");
const LOCATE_JS: &str = include_str!("../../assets/locate.js");
const IDLE_JS: &str = include_str!("../../assets/idle.js");

/// Static assets compiled into the binary (no CDN).
/// The stylesheet's entity tag (a digest of its text, fixed per build).
fn css_etag() -> &'static str {
    static E: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    E.get_or_init(|| format!("\"{}\"", &crate::auth::sha256_hex(CSS)[..16]))
}

pub async fn asset(Path(file): Path<String>, headers: axum::http::HeaderMap) -> Response {
    match file.as_str() {
        // Cached for ten minutes, then revalidated by its entity tag: a
        // phone on a slow link does not fetch it again on every page (a new
        // release's stylesheet is in use within ten minutes).
        "app.css" => {
            let fresh = headers
                .get(header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.split(',').any(|t| t.trim() == css_etag()));
            let head = [
                (header::CONTENT_TYPE, "text/css; charset=utf-8"),
                (header::CACHE_CONTROL, "public, max-age=600"),
                (header::ETAG, css_etag()),
            ];
            if fresh {
                (axum::http::StatusCode::NOT_MODIFIED, head).into_response()
            } else {
                (head, CSS).into_response()
            }
        }
        "signature.js" => (
            [
                (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            SIGNATURE_JS,
        )
            .into_response(),
        "idle.js" => (
            [
                (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            IDLE_JS,
        )
            .into_response(),
        "locate.js" => (
            [
                (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            LOCATE_JS,
        )
            .into_response(),
        "htmx-2.0.11.min.js" => (
            [
                (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            HTMX,
        )
            .into_response(),
        "us-states.svg" => (
            [
                (header::CONTENT_TYPE, "image/svg+xml"),
                (header::CACHE_CONTROL, "public, max-age=86400"),
            ],
            crate::map::states_svg(),
        )
            .into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}
