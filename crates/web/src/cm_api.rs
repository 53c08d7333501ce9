//! Contingency management and the rewards store over JSON: a patient's
//! ledger, enrolment, prize draws at the desk, redemptions; the program's
//! catalog, stock, funding sources and spend report.

use crate::AppState;
use crate::auth::Principal;
use crate::dosing_api::{body, pid, program};
use crate::error::ApiResult;
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use carepath_app::cm::{self, EnrollInput, FundingInput, ItemInput, Ledger, Report};
use serde::Deserialize;
use utoipa::{OpenApi, ToSchema};

#[derive(OpenApi)]
#[openapi(
    paths(
        ledger,
        enroll,
        end,
        draw,
        redeem,
        decide,
        report,
        add_item,
        stock,
        add_funding
    ),
    components(schemas(
        Ledger,
        Report,
        EnrollInput,
        EndInput,
        RedeemInput,
        DecideInput,
        ItemInput,
        StockInput,
        FundingInput,
        cm::LedgerLine,
        cm::EnrollmentView,
        cm::Month
    ))
)]
pub struct CmApiDoc;

/// A patient's incentives: enrolments with every sample and what it
/// earned, the balance, requests, the program's catalog.
#[utoipa::path(get, path = "/api/v1/patients/{id}/incentives", params(("id" = String, Path)), responses((status = 200, body = Ledger)))]
pub async fn ledger(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Ledger>> {
    Ok(Json(cm::ledger(&state.app, &p, pid(&id)?).await?))
}

/// Enrol the patient in a schedule (vouchers or prize draws).
#[utoipa::path(post, path = "/api/v1/patients/{id}/incentives/enrollments", params(("id" = String, Path)), request_body = EnrollInput, responses((status = 201, body = Object)))]
pub async fn enroll(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    b: Result<Json<EnrollInput>, JsonRejection>,
) -> ApiResult<Response> {
    let e = cm::enroll(&state.app, &p, pid(&id)?, &body(b)?).await?;
    Ok((StatusCode::CREATED, Json(e)).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndInput {
    pub reason: String,
}

/// End an enrolment, with a reason.
#[utoipa::path(post, path = "/api/v1/patients/{id}/incentives/enrollments/{eid}/end", params(("id" = String, Path), ("eid" = String, Path)), request_body = EndInput, responses((status = 204)))]
pub async fn end(
    State(state): State<AppState>,
    p: Principal,
    Path((id, eid)): Path<(String, String)>,
    b: Result<Json<EndInput>, JsonRejection>,
) -> ApiResult<StatusCode> {
    let i = body(b)?;
    cm::end(&state.app, &p, pid(&id)?, &eid, &i.reason).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Draw at the desk for a negative sample of a prize enrolment (once).
#[utoipa::path(post, path = "/api/v1/patients/{id}/incentives/samples/{sid}/draw", params(("id" = String, Path), ("sid" = String, Path)), responses((status = 201, body = Ledger)))]
pub async fn draw(
    State(state): State<AppState>,
    p: Principal,
    Path((id, sid)): Path<(String, String)>,
) -> ApiResult<Response> {
    let l = cm::draw(&state.app, &p, pid(&id)?, &sid).await?;
    Ok((StatusCode::CREATED, Json(l)).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedeemInput {
    pub item_id: String,
}

/// Redeem an item at the desk (handed over at once).
#[utoipa::path(post, path = "/api/v1/patients/{id}/incentives/redemptions", params(("id" = String, Path)), request_body = RedeemInput, responses((status = 201, body = Ledger)))]
pub async fn redeem(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    b: Result<Json<RedeemInput>, JsonRejection>,
) -> ApiResult<Response> {
    let i = body(b)?;
    let l = cm::redeem(&state.app, &p, pid(&id)?, &i.item_id).await?;
    Ok((StatusCode::CREATED, Json(l)).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecideInput {
    /// true: hand the item over; false: decline (the cost is released).
    pub fulfil: bool,
    #[serde(default)]
    pub note: Option<String>,
}

/// Fulfil or decline a patient's request.
#[utoipa::path(post, path = "/api/v1/patients/{id}/incentives/redemptions/{rid}/decide", params(("id" = String, Path), ("rid" = String, Path)), request_body = DecideInput, responses((status = 200, body = Ledger)))]
pub async fn decide(
    State(state): State<AppState>,
    p: Principal,
    Path((id, rid)): Path<(String, String)>,
    b: Result<Json<DecideInput>, JsonRejection>,
) -> ApiResult<Json<Ledger>> {
    let i = body(b)?;
    Ok(Json(
        cm::decide(&state.app, &p, pid(&id)?, &rid, i.fulfil, i.note.as_deref()).await?,
    ))
}

/// The program's incentive report: twelve months against the budget, per
/// patient, open requests, the catalog with stock.
#[utoipa::path(get, path = "/api/v1/programs/{pid}/rewards", params(("pid" = String, Path)), responses((status = 200, body = Report)))]
pub async fn report(
    State(state): State<AppState>,
    p: Principal,
    Path(pid): Path<String>,
) -> ApiResult<Json<Report>> {
    Ok(Json(cm::report(&state.app, &p, program(&pid)?).await?))
}

/// Add a catalog item (never cash, alcohol, tobacco, weapons or gambling).
#[utoipa::path(post, path = "/api/v1/programs/{pid}/rewards/items", params(("pid" = String, Path)), request_body = ItemInput, responses((status = 201, body = Object)))]
pub async fn add_item(
    State(state): State<AppState>,
    p: Principal,
    Path(pid): Path<String>,
    b: Result<Json<ItemInput>, JsonRejection>,
) -> ApiResult<Response> {
    let it = cm::add_item(&state.app, &p, program(&pid)?, &body(b)?).await?;
    Ok((StatusCode::CREATED, Json(it)).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StockInput {
    /// Received (positive) or written off (negative).
    pub delta: i64,
    pub reason: String,
}

/// Receive or write off stock of an item.
#[utoipa::path(post, path = "/api/v1/programs/{pid}/rewards/items/{iid}/stock", params(("pid" = String, Path), ("iid" = String, Path)), request_body = StockInput, responses((status = 201, body = Object)))]
pub async fn stock(
    State(state): State<AppState>,
    p: Principal,
    Path((pid, iid)): Path<(String, String)>,
    b: Result<Json<StockInput>, JsonRejection>,
) -> ApiResult<Response> {
    let i = body(b)?;
    let it = cm::stock(&state.app, &p, program(&pid)?, &iid, i.delta, &i.reason).await?;
    Ok((StatusCode::CREATED, Json(it)).into_response())
}

/// Add a funding source with its annual cap per patient and budget.
#[utoipa::path(post, path = "/api/v1/programs/{pid}/cm-funding", params(("pid" = String, Path)), request_body = FundingInput, responses((status = 201, body = Object)))]
pub async fn add_funding(
    State(state): State<AppState>,
    p: Principal,
    Path(pid): Path<String>,
    b: Result<Json<FundingInput>, JsonRejection>,
) -> ApiResult<Response> {
    let f = cm::add_funding(&state.app, &p, program(&pid)?, &body(b)?).await?;
    Ok((StatusCode::CREATED, Json(f)).into_response())
}
