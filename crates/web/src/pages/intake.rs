//! The intake queue of call-back requests, and the program's finder listing.

use crate::AppState;
use crate::auth::Principal;
use crate::error::{AppError, HtmlResult};
use crate::views::{Nav, fmt_time, render};
use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use carepath_app::intake::{self, ListingInput};
use carepath_domain::ids::ProgramId;
use serde::Deserialize;

pub struct ReferralView {
    pub id: String,
    pub program: String,
    pub name: String,
    pub phone: String,
    pub best_time: String,
    /// Who is calling for whom, when the caller is not the patient.
    pub note: String,
    pub language: String,
    pub status: String,
    pub received: String,
    pub claimed_by: String,
    pub outcome: String,
}

#[derive(Template)]
#[template(path = "referrals.html")]
struct ReferralsPage {
    nav: Nav,
    title: String,
    referrals: Vec<ReferralView>,
    error: Option<String>,
}

async fn referrals_page(
    state: &AppState,
    p: &Principal,
    error: Option<String>,
) -> Result<Response, AppError> {
    let programs = carepath_app::work::programs(&state.app).await?;
    let list = intake::referrals(&state.app, p, true).await?;
    let tz = jiff::tz::TimeZone::get("America/New_York").unwrap_or(jiff::tz::TimeZone::UTC);
    let referrals = list
        .into_iter()
        .map(|r| {
            let prog = programs.iter().find(|g| g.id == r.program_id);
            let ptz = prog
                .and_then(|g| jiff::tz::TimeZone::get(&g.timezone).ok())
                .unwrap_or(tz.clone());
            ReferralView {
                id: r.id,
                program: prog.map(|g| g.name.clone()).unwrap_or_default(),
                name: r.name,
                phone: r.phone,
                best_time: r.best_time,
                note: r.note.unwrap_or_default(),
                language: if r.language == "es" {
                    "Español".into()
                } else {
                    "English".into()
                },
                status: r.status,
                received: fmt_time(r.created_at, &ptz),
                claimed_by: r.claimed_by.unwrap_or_default(),
                outcome: r.outcome.unwrap_or_default(),
            }
        })
        .collect();
    Ok(render(&ReferralsPage {
        nav: Nav::for_principal(p),
        title: "Call-back requests".into(),
        referrals,
        error,
    })
    .into_response())
}

pub async fn referrals(State(state): State<AppState>, p: Principal) -> HtmlResult<Response> {
    Ok(referrals_page(&state, &p, None).await?)
}

pub async fn claim(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> HtmlResult<Response> {
    match intake::claim(&state.app, &p, &id).await {
        Ok(()) => Ok(Redirect::to("/referrals").into_response()),
        Err(AppError::Conflict(m)) => Ok(referrals_page(&state, &p, Some(capital(&m))).await?),
        Err(e) => Err(e.into()),
    }
}

/// A message as a sentence.
fn capital(m: &str) -> String {
    let mut c = m.chars();
    match c.next() {
        Some(f) => format!("{}{}.", f.to_uppercase(), c.as_str()),
        None => String::new(),
    }
}

#[derive(Deserialize)]
pub struct CloseForm {
    #[serde(default)]
    outcome: String,
}

pub async fn close(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(f): Form<CloseForm>,
) -> HtmlResult<Response> {
    match intake::close(&state.app, &p, &id, &f.outcome).await {
        Ok(()) => Ok(Redirect::to("/referrals").into_response()),
        Err(AppError::Conflict(m)) => Ok(referrals_page(&state, &p, Some(capital(&m))).await?),
        Err(e) => Err(e.into()),
    }
}

pub struct ListingView {
    pub program_id: String,
    pub name: String,
    pub latitude: String,
    pub longitude: String,
    pub phone: String,
    pub codes: String,
    pub accepting: bool,
    pub open_beds: String,
    pub waitlist_days: String,
    pub same_day: bool,
    pub verified: String,
    pub hours: String,
}

#[derive(Template)]
#[template(path = "listing.html")]
struct ListingPage {
    nav: Nav,
    title: String,
    listings: Vec<ListingView>,
    message: Option<String>,
    error: Option<String>,
}

async fn listing_page(
    state: &AppState,
    p: &Principal,
    message: Option<String>,
    error: Option<String>,
) -> Result<Response, AppError> {
    let listings = intake::listings(&state.app, p)
        .await?
        .into_iter()
        .map(|(g, l)| ListingView {
            hours: g.hours.clone(),
            program_id: g.id.to_string(),
            name: g.name.clone(),
            latitude: l
                .as_ref()
                .map(|l| l.latitude.to_string())
                .unwrap_or_default(),
            longitude: l
                .as_ref()
                .map(|l| l.longitude.to_string())
                .unwrap_or_default(),
            phone: l.as_ref().map(|l| l.phone.clone()).unwrap_or_default(),
            codes: l.as_ref().map(|l| l.codes.0.join(" ")).unwrap_or_default(),
            accepting: l.as_ref().is_some_and(|l| l.accepting_new_patients),
            open_beds: l
                .as_ref()
                .and_then(|l| l.open_beds)
                .map(|b| b.to_string())
                .unwrap_or_default(),
            waitlist_days: l
                .as_ref()
                .and_then(|l| l.waitlist_days)
                .map(|b| b.to_string())
                .unwrap_or_default(),
            same_day: l.as_ref().is_some_and(|l| l.same_day_medication),
            verified: l
                .as_ref()
                .map(|l| crate::views::fmt_utc(l.last_verified_at))
                .unwrap_or_else(|| "never".into()),
        })
        .collect();
    Ok(render(&ListingPage {
        nav: Nav::for_principal(p),
        title: "Finder listing".into(),
        listings,
        message,
        error,
    })
    .into_response())
}

pub async fn listing(State(state): State<AppState>, p: Principal) -> HtmlResult<Response> {
    Ok(listing_page(&state, &p, None, None).await?)
}

pub async fn save_listing(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(f): Form<ListingInput>,
) -> HtmlResult<Response> {
    let program: ProgramId = id.parse().map_err(|_| AppError::NotFound)?;
    match intake::set_listing(&state.app, &p, program, &f).await {
        Ok(()) => Ok(listing_page(
            &state,
            &p,
            Some("Saved. The public finder shows it now.".into()),
            None,
        )
        .await?),
        Err(e @ AppError::Invalid(_)) => Ok((
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            listing_page(&state, &p, None, Some(e.to_string())).await?,
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}
