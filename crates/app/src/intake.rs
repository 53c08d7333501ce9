//! The front door: call-back requests from the public finder into a
//! program's intake queue (claim, then close with an outcome), and the
//! program's public listing (openings, beds, waitlist) kept current by staff.

use crate::App;
use crate::actor::Principal;
use crate::error::{Error, Problems, Result};
use carepath_domain::audit::{NewEvent, Outcome};
use carepath_domain::authz::Permission;
use carepath_domain::ids::ProgramId;
use carepath_store::referrals::Codes;
use carepath_store::{Listing, NewReferral, Program, Referral, StoreError};

/// Closing outcomes.
pub const OUTCOMES: [&str; 5] = [
    "registered",
    "scheduled_intake",
    "referred_elsewhere",
    "no_answer",
    "declined",
];

/// The intake queue of the programs where the principal works it; audited
/// with the number of requests.
pub async fn referrals(app: &App, who: &Principal, include_closed: bool) -> Result<Vec<Referral>> {
    let mine = who.programs_with(Permission::ManageReferrals);
    let list = app.store.referrals(&mine, include_closed).await?;
    app.audit(
        who.event("referral.list", Outcome::Success)
            .detail(format!("results={}", list.len())),
    )
    .await?;
    Ok(list)
}

/// One open request of the principal's queue (to register from it); audited.
pub async fn referral(app: &App, who: &Principal, id: &str) -> Result<Referral> {
    let mine = who.programs_with(Permission::ManageReferrals);
    let found = app
        .store
        .referrals(&mine, false)
        .await?
        .into_iter()
        .find(|x| x.id == id)
        .ok_or(Error::NotFound)?;
    app.audit(
        who.event("referral.read", Outcome::Success)
            .object("referral", &found.id)
            .program(found.program_id),
    )
    .await?;
    Ok(found)
}

/// The request's program must be one where the principal works the queue.
async fn check_program(app: &App, who: &Principal, id: &str) -> Result<ProgramId> {
    let program = app.store.referral_program(id).await?;
    if !who.holds_in(program, Permission::ManageReferrals) {
        app.audit(
            who.event("referral.access", Outcome::Denied)
                .object("referral", id),
        )
        .await?;
        return Err(Error::NotFound);
    }
    Ok(program)
}

/// Claim a new request (first claimer wins).
pub async fn claim(app: &App, who: &Principal, id: &str) -> Result<()> {
    let program = check_program(app, who, id).await?;
    let mut tx = app.begin().await?;
    tx.claim_referral(id, &who.username)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => {
                Error::Conflict("someone else already claimed that request".into())
            }
            e => e.into(),
        })?;
    tx.audit(
        who.event("referral.claim", Outcome::Success)
            .object("referral", id)
            .program(program),
    );
    Ok(tx.commit().await?)
}

/// Close an open request with an outcome.
pub async fn close(app: &App, who: &Principal, id: &str, outcome: &str) -> Result<()> {
    let program = check_program(app, who, id).await?;
    if !OUTCOMES.contains(&outcome) {
        return Err(Error::invalid(
            "outcome",
            format!("choose one of {}", OUTCOMES.join(", ")),
        ));
    }
    let mut tx = app.begin().await?;
    tx.close_referral(id, outcome, None)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => Error::Conflict("that request is already closed".into()),
            e => e.into(),
        })?;
    tx.audit(
        who.event("referral.close", Outcome::Success)
            .object("referral", id)
            .program(program)
            .detail(outcome.to_string()),
    );
    Ok(tx.commit().await?)
}

/// A call-back request from the public finder (no sign-in): stored in the
/// program's queue and audited with the client address only.
pub async fn request_callback(
    app: &App,
    program: ProgramId,
    r: &NewReferral,
    client: Option<String>,
) -> Result<String> {
    let mut tx = app.begin().await?;
    let id = tx.create_referral(program, r).await?;
    let mut ev = NewEvent::new("referral.create", Outcome::Success)
        .object("referral", &id)
        .program(program)
        .detail("public call-back request");
    ev.client_addr = client;
    tx.audit(ev);
    tx.commit().await?;
    Ok(id)
}

/// The listings of the programs the principal keeps current.
pub async fn listings(app: &App, who: &Principal) -> Result<Vec<(Program, Option<Listing>)>> {
    let mine = who.programs_with(Permission::ManageListing);
    let existing = app.store.program_listings().await?;
    Ok(app
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
            (g, l)
        })
        .collect())
}

/// A listing as staff type it.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct ListingInput {
    #[serde(default)]
    pub latitude: String,
    #[serde(default)]
    pub longitude: String,
    #[serde(default)]
    pub phone: String,
    /// Service codes separated by spaces or commas.
    #[serde(default)]
    pub codes: String,
    #[serde(default)]
    pub accepting: Option<String>,
    #[serde(default)]
    pub open_beds: String,
    #[serde(default)]
    pub waitlist_days: String,
    #[serde(default)]
    pub same_day: Option<String>,
    /// Opening hours in the program's words ("Dosing Mon–Fri 05:30–13:00");
    /// shown on the finder. Absent: unchanged.
    #[serde(default)]
    pub hours: Option<String>,
}

fn parse_listing(f: &ListingInput, now: i64) -> Result<Listing> {
    let mut p = Problems::new();
    let num = |field: &'static str, v: &str| {
        v.trim()
            .parse::<f64>()
            .map_err(|_| Error::invalid(field, "must be a number"))
    };
    let lat = p.take(num("latitude", &f.latitude));
    let lon = p.take(num("longitude", &f.longitude));
    if let (Some(a), Some(o)) = (lat, lon)
        && !carepath_finder::geo::valid(a, o)
    {
        p.add("latitude", "latitude and longitude must be a real position");
    }
    let mut opt = |field: &'static str, v: &str| -> Option<i64> {
        let t = v.trim();
        if t.is_empty() {
            return None;
        }
        match t.parse::<i64>().ok().filter(|n| (0..=10_000).contains(n)) {
            Some(n) => Some(n),
            None => {
                p.add(field, "must be a whole number 0 or more");
                None
            }
        }
    };
    let open_beds = opt("open_beds", &f.open_beds);
    let waitlist_days = opt("waitlist_days", &f.waitlist_days);
    let mut codes = vec![];
    for c in f
        .codes
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|c| !c.is_empty())
    {
        match carepath_finder::codes::normalize(c) {
            Some(n) => codes.push(n),
            None => p.add("codes", format!("{c:?} is not a service code")),
        }
    }
    if f.phone.chars().filter(|c| c.is_ascii_digit()).count() < 10 {
        p.add("phone", "give a phone number with area code");
    }
    p.finish()?;
    Ok(Listing {
        latitude: lat.unwrap_or_default(),
        longitude: lon.unwrap_or_default(),
        phone: f.phone.trim().to_string(),
        codes: Codes(codes),
        accepting_new_patients: f.accepting.is_some(),
        open_beds,
        waitlist_days,
        same_day_medication: f.same_day.is_some(),
        last_verified_at: now,
    })
}

/// Save a program's listing and show it in the public finder at once.
pub async fn set_listing(
    app: &App,
    who: &Principal,
    program: ProgramId,
    f: &ListingInput,
) -> Result<()> {
    crate::access::program(app, who, program, Permission::ManageListing).await?;
    let l = parse_listing(f, app.now_us())?;
    let hours = f.hours.as_deref().map(str::trim);
    if hours.is_some_and(|h| h.chars().count() > 200) {
        return Err(Error::invalid(
            "hours",
            "keep the hours under 200 characters",
        ));
    }
    let by = Some(who.user_id).filter(|u| !u.0.is_nil());
    let mut tx = app.begin().await?;
    tx.set_program_listing(program, &l, by).await?;
    if let Some(h) = hours {
        tx.set_program_hours(program, h).await?;
    }
    tx.audit(
        who.event("listing.update", Outcome::Success)
            .object("program_listing", program)
            .program(program),
    );
    tx.commit().await?;
    if let Err(e) = app.refresh_finder().await {
        tracing::warn!(error = %e, "refreshing the finder after a listing change failed");
    }
    Ok(())
}
