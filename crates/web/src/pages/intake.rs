//! The intake queue of call-back requests, and the program's finder listing.

use crate::AppState;
use crate::auth::Principal;
use crate::error::{AppError, HtmlResult};
use crate::views::{Nav, fmt_time, render};
use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use carepath_domain::FieldError;
use carepath_domain::audit::Outcome;
use carepath_domain::authz::Permission;
use carepath_domain::ids::ProgramId;
use carepath_store::referrals::Listing;
use serde::Deserialize;

pub struct ReferralView {
    pub id: String,
    pub program: String,
    pub name: String,
    pub phone: String,
    pub best_time: String,
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
    let programs = state.store.list_programs().await?;
    let mine = p.programs_with(Permission::ManageReferrals);
    let list = state.store.referrals(&mine, true).await?;
    state
        .store
        .audit(
            p.event("referral.list", Outcome::Success)
                .detail(format!("results={}", list.len())),
        )
        .await?;
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

/// The referral's program must be one where the user works the queue.
async fn check_program(state: &AppState, p: &Principal, id: &str) -> Result<ProgramId, AppError> {
    let program = state.store.referral_program(id).await?;
    if !p
        .programs_with(Permission::ManageReferrals)
        .contains(&program)
    {
        state
            .store
            .audit(
                p.event("referral.access", Outcome::Denied)
                    .object("referral", id),
            )
            .await?;
        return Err(AppError::NotFound);
    }
    Ok(program)
}

pub async fn claim(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> HtmlResult<Response> {
    let program = check_program(&state, &p, &id).await?;
    match state
        .store
        .claim_referral(
            &id,
            &p.username,
            p.event("referral.claim", Outcome::Success).program(program),
        )
        .await
    {
        Ok(()) => Ok(Redirect::to("/referrals").into_response()),
        Err(carepath_store::StoreError::Conflict(_)) => Ok(referrals_page(
            &state,
            &p,
            Some("Someone else already claimed that request.".into()),
        )
        .await?),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct CloseForm {
    #[serde(default)]
    outcome: String,
}

/// Closing outcomes.
pub const OUTCOMES: [&str; 5] = [
    "registered",
    "scheduled_intake",
    "referred_elsewhere",
    "no_answer",
    "declined",
];

pub async fn close(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(f): Form<CloseForm>,
) -> HtmlResult<Response> {
    let program = check_program(&state, &p, &id).await?;
    if !OUTCOMES.contains(&f.outcome.as_str()) {
        return Err(AppError::Invalid(FieldError::new(
            "outcome",
            format!("choose one of {}", OUTCOMES.join(", ")),
        ))
        .into());
    }
    match state
        .store
        .close_referral(
            &id,
            &f.outcome,
            p.event("referral.close", Outcome::Success).program(program),
        )
        .await
    {
        Ok(()) => Ok(Redirect::to("/referrals").into_response()),
        Err(carepath_store::StoreError::Conflict(_)) => {
            Ok(referrals_page(&state, &p, Some("That request is already closed.".into())).await?)
        }
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
    let mine = p.programs_with(Permission::ManageListing);
    let existing = state.store.program_listings().await?;
    let listings = state
        .store
        .list_programs()
        .await?
        .into_iter()
        .filter(|g| mine.contains(&g.id))
        .map(|g| {
            let l = existing
                .iter()
                .find(|(id, _)| *id == g.id)
                .map(|x| x.1.clone());
            ListingView {
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
                codes: l.as_ref().map(|l| l.codes.join(" ")).unwrap_or_default(),
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
            }
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

#[derive(Deserialize)]
pub struct ListingForm {
    #[serde(default)]
    latitude: String,
    #[serde(default)]
    longitude: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    codes: String,
    #[serde(default)]
    accepting: Option<String>,
    #[serde(default)]
    open_beds: String,
    #[serde(default)]
    waitlist_days: String,
    #[serde(default)]
    same_day: Option<String>,
}

fn parse_listing(f: &ListingForm) -> Result<Listing, FieldError> {
    let num = |field: &'static str, v: &str| {
        v.trim()
            .parse::<f64>()
            .map_err(|_| FieldError::new(field, "must be a number"))
    };
    let (lat, lon) = (
        num("latitude", &f.latitude)?,
        num("longitude", &f.longitude)?,
    );
    if !carepath_finder::geo::valid(lat, lon) {
        return Err(FieldError::new(
            "latitude",
            "latitude and longitude must be a real position",
        ));
    }
    let opt = |field: &'static str, v: &str| -> Result<Option<i64>, FieldError> {
        let t = v.trim();
        if t.is_empty() {
            return Ok(None);
        }
        t.parse::<i64>()
            .ok()
            .filter(|n| (0..=10_000).contains(n))
            .map(Some)
            .ok_or_else(|| FieldError::new(field, "must be a whole number 0 or more"))
    };
    let mut codes = vec![];
    for c in f
        .codes
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|c| !c.is_empty())
    {
        codes.push(
            carepath_finder::codes::normalize(c)
                .ok_or_else(|| FieldError::new("codes", format!("{c:?} is not a service code")))?,
        );
    }
    if f.phone.chars().filter(|c| c.is_ascii_digit()).count() < 10 {
        return Err(FieldError::new(
            "phone",
            "give a phone number with area code",
        ));
    }
    Ok(Listing {
        latitude: lat,
        longitude: lon,
        phone: f.phone.trim().to_string(),
        codes,
        accepting_new_patients: f.accepting.is_some(),
        open_beds: opt("open_beds", &f.open_beds)?,
        waitlist_days: opt("waitlist_days", &f.waitlist_days)?,
        same_day_medication: f.same_day.is_some(),
        last_verified_at: carepath_store::now_us(),
    })
}

pub async fn save_listing(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(f): Form<ListingForm>,
) -> HtmlResult<Response> {
    let program: ProgramId = id.parse().map_err(|_| AppError::NotFound)?;
    if !p
        .programs_with(Permission::ManageListing)
        .contains(&program)
    {
        return Err(AppError::NotFound.into());
    }
    match parse_listing(&f) {
        Ok(l) => {
            state
                .store
                .set_program_listing(
                    program,
                    &l,
                    Some(p.user_id),
                    p.event("listing.update", Outcome::Success),
                )
                .await?;
            // Show the change in the public finder at once.
            let _ = state.finder.refresh(&state.store).await;
            Ok(listing_page(
                &state,
                &p,
                Some("Saved. The public finder shows it now.".into()),
                None,
            )
            .await?)
        }
        Err(e) => Ok((
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            listing_page(&state, &p, None, Some(e.to_string())).await?,
        )
            .into_response()),
    }
}
