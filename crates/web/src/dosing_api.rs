//! The dosing desk's JSON API (what the desk page uses, and any client):
//! orders, the pre-dose panel, doses, the program's stock.

use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiResult, AppError, ErrorBody};
use axum::Json;
use axum::extract::Query;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use carepath_app::dosing::{self, DoseInput, OrderInput, Panel, ProductInput, ReceiptInput};
use carepath_app::overdose::{KitInput, NaloxoneDose, OverdoseInput};
use carepath_app::stock::{CountInput, LotDay, ReconcileInput, StockDay, WasteInput};
use carepath_app::takehome::{AssessInput, BottleEventInput, Eligibility, Settings};
use carepath_app::window::{HoldInput, Queue, QueueRow};
use carepath_app::{overdose, stock as stockmod, takehome, window};
use carepath_domain::ids::{PatientId, ProgramId};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

#[derive(OpenApi)]
#[openapi(
    paths(
        create_order,
        list_orders,
        sign_order,
        panel,
        record_dose,
        stock,
        add_product,
        receive,
        eligibility,
        decide,
        dispense,
        bottles,
        bottle_event,
        stock_day,
        reconcile,
        cosign,
        waste,
        record_overdose,
        give_kit,
        save_settings,
        add_closure,
        place_hold,
        list_holds,
        lift_hold,
        arrive,
        queue,
        call_next
    ),
    components(schemas(
        OrderInput,
        DoseInput,
        ProductInput,
        ReceiptInput,
        Panel,
        OrderDto,
        DoseDto,
        StockDto,
        IdDto,
        AssessInput,
        Eligibility,
        BottleEventInput,
        BottlesDto,
        StockDay,
        LotDay,
        ReconcileInput,
        CountInput,
        WasteInput,
        OverdoseInput,
        NaloxoneDose,
        KitInput,
        Settings,
        ClosureInput,
        BalanceDto,
        HoldInput,
        LiftInput,
        ArrivalDto,
        CallInput,
        CallDto,
        Queue,
        QueueRow
    ))
)]
pub struct DosingApiDoc;

pub(crate) fn body<T>(b: Result<Json<T>, JsonRejection>) -> Result<T, AppError> {
    b.map(|Json(x)| x)
        .map_err(|e| AppError::invalid("body", e.body_text()))
}

pub(crate) fn pid(s: &str) -> Result<PatientId, AppError> {
    s.parse().map_err(|_| AppError::NotFound)
}

pub(crate) fn program(s: &str) -> Result<ProgramId, AppError> {
    s.parse().map_err(|_| AppError::NotFound)
}

/// An order and the engine's verdict on it.
#[derive(Serialize, ToSchema)]
pub struct OrderDto {
    #[schema(value_type = Object)]
    pub order: carepath_app::model::MedOrder,
    /// The engine's verdict (approved, violations, overridden, alerts).
    #[schema(value_type = Object)]
    pub engine: serde_json::Value,
}

#[derive(Serialize, ToSchema)]
pub struct DoseDto {
    #[schema(value_type = Object)]
    pub dose: carepath_app::model::Dose,
    /// The amount in mg, for people.
    pub amount_mg: String,
}

#[derive(Serialize, ToSchema)]
pub struct StockDto {
    #[schema(value_type = Vec<Object>)]
    pub products: Vec<carepath_app::model::Product>,
    #[schema(value_type = Vec<Object>)]
    pub lots: Vec<carepath_app::model::Lot>,
}

#[derive(Serialize, ToSchema)]
pub struct IdDto {
    pub id: String,
}

/// Write a methadone or buprenorphine order (prescribers; nurses record a
/// verbal order with `verbal_from`). The engine checks it against the
/// patient's dosing history; what it blocks needs `override_reason`.
#[utoipa::path(post, path = "/api/v1/patients/{id}/medication-orders", params(("id" = String, Path)), request_body = OrderInput, responses((status = 201, body = OrderDto)))]
pub async fn create_order(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    b: Result<Json<OrderInput>, JsonRejection>,
) -> ApiResult<Response> {
    let (order, engine) = dosing::create_order(&state.app, &p, pid(&id)?, &body(b)?).await?;
    Ok((StatusCode::CREATED, Json(OrderDto { order, engine })).into_response())
}

/// Every order of the patient, oldest first (superseded ones name their successor).
#[utoipa::path(get, path = "/api/v1/patients/{id}/medication-orders", params(("id" = String, Path)), responses((status = 200, body = Vec<Object>)))]
pub async fn list_orders(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<carepath_app::model::MedOrder>>> {
    Ok(Json(dosing::orders(&state.app, &p, pid(&id)?).await?))
}

/// Sign a verbal order (the prescriber it names).
#[utoipa::path(post, path = "/api/v1/medication-orders/{oid}/sign", params(("oid" = String, Path)), responses((status = 204)))]
pub async fn sign_order(
    State(state): State<AppState>,
    p: Principal,
    Path(oid): Path<String>,
) -> ApiResult<StatusCode> {
    dosing::sign_order(&state.app, &p, &oid).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The pre-dose panel: the active order, today's doses, what is due, holds and alerts.
#[utoipa::path(get, path = "/api/v1/patients/{id}/dosing", params(("id" = String, Path)), responses((status = 200, body = Panel)))]
pub async fn panel(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Panel>> {
    Ok(Json(dosing::panel(&state.app, &p, pid(&id)?).await?))
}

/// Record a dose (one per clinic day and slot: a second answers 409 saying when and by whom).
#[utoipa::path(post, path = "/api/v1/patients/{id}/doses", params(("id" = String, Path)), request_body = DoseInput, responses((status = 201, body = DoseDto), (status = 409, body = ErrorBody)))]
pub async fn record_dose(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    b: Result<Json<DoseInput>, JsonRejection>,
) -> ApiResult<Response> {
    let dose = dosing::record_dose(&state.app, &p, pid(&id)?, &body(b)?).await?;
    let amount_mg = dosing::mg(dose.amount_ug);
    Ok((StatusCode::CREATED, Json(DoseDto { dose, amount_mg })).into_response())
}

/// The program's products and lots with their balances.
#[utoipa::path(get, path = "/api/v1/programs/{pid}/stock", params(("pid" = String, Path)), responses((status = 200, body = StockDto)))]
pub async fn stock(
    State(state): State<AppState>,
    p: Principal,
    Path(pid): Path<String>,
) -> ApiResult<Json<StockDto>> {
    let (products, lots) = dosing::stock(&state.app, &p, program(&pid)?).await?;
    Ok(Json(StockDto { products, lots }))
}

/// Add a product to the program's formulary (administrators).
#[utoipa::path(post, path = "/api/v1/programs/{pid}/products", params(("pid" = String, Path)), request_body = ProductInput, responses((status = 201, body = IdDto)))]
pub async fn add_product(
    State(state): State<AppState>,
    p: Principal,
    Path(pid): Path<String>,
    b: Result<Json<ProductInput>, JsonRejection>,
) -> ApiResult<Response> {
    let id = dosing::add_product(&state.app, &p, program(&pid)?, &body(b)?).await?;
    Ok((StatusCode::CREATED, Json(IdDto { id })).into_response())
}

/// Receive a lot into stock.
#[utoipa::path(post, path = "/api/v1/programs/{pid}/stock/lots", params(("pid" = String, Path)), request_body = ReceiptInput, responses((status = 201, body = IdDto)))]
pub async fn receive(
    State(state): State<AppState>,
    p: Principal,
    Path(pid): Path<String>,
    b: Result<Json<ReceiptInput>, JsonRejection>,
) -> ApiResult<Response> {
    let id = dosing::receive(&state.app, &p, program(&pid)?, &body(b)?).await?;
    Ok((StatusCode::CREATED, Json(IdDto { id })).into_response())
}

/// Take-home eligibility under the program's policy (the engine's ceiling
/// with every criterion met) and the decision in force.
#[utoipa::path(get, path = "/api/v1/patients/{id}/takehome", params(("id" = String, Path)), responses((status = 200, body = Eligibility), (status = 409, body = ErrorBody)))]
pub async fn eligibility(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Eligibility>> {
    Ok(Json(
        takehome::eligibility(&state.app, &p, pid(&id)?).await?,
    ))
}

/// Record the prescriber's take-home decision: every criterion weighed,
/// the doses granted checked by the engine (above the limit: override).
#[utoipa::path(post, path = "/api/v1/patients/{id}/takehome", params(("id" = String, Path)), request_body = AssessInput, responses((status = 201, body = Object), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn decide(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    b: Result<Json<AssessInput>, JsonRejection>,
) -> ApiResult<Response> {
    let g = takehome::assess(&state.app, &p, pid(&id)?, &body(b)?).await?;
    Ok((StatusCode::CREATED, Json(g)).into_response())
}

#[derive(Serialize, ToSchema)]
pub struct BottlesDto {
    #[schema(value_type = Option<Object>)]
    pub grant: Option<carepath_app::model::TakehomeGrant>,
    #[schema(value_type = Vec<Object>)]
    pub bottles: Vec<carepath_app::model::Bottle>,
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<carepath_app::model::BottleEvent>,
}

/// Hand out today's take-home bottles (after today's observed dose): one
/// per day due, each filling its day's slot.
#[utoipa::path(post, path = "/api/v1/patients/{id}/takehome/bottles", params(("id" = String, Path)), responses((status = 201, body = Vec<Object>), (status = 409, body = ErrorBody)))]
pub async fn dispense(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let b = takehome::dispense(&state.app, &p, pid(&id)?).await?;
    Ok((StatusCode::CREATED, Json(b)).into_response())
}

/// The take-home schedule: the decision in force, bottles of the last 60
/// days and ahead, what became of them.
#[utoipa::path(get, path = "/api/v1/patients/{id}/takehome/bottles", params(("id" = String, Path)), responses((status = 200, body = BottlesDto), (status = 409, body = ErrorBody)))]
pub async fn bottles(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<BottlesDto>> {
    let (grant, bottles, events) = takehome::schedule(&state.app, &p, pid(&id)?).await?;
    Ok(Json(BottlesDto {
        grant,
        bottles,
        events,
    }))
}

/// Record a bottle's return, a call-back count, a loss or a theft.
#[utoipa::path(post, path = "/api/v1/patients/{id}/takehome/bottle-events", params(("id" = String, Path)), request_body = BottleEventInput, responses((status = 201, body = Object), (status = 409, body = ErrorBody)))]
pub async fn bottle_event(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    b: Result<Json<BottleEventInput>, JsonRejection>,
) -> ApiResult<Response> {
    let e = takehome::bottle_event(&state.app, &p, pid(&id)?, &body(b)?).await?;
    Ok((StatusCode::CREATED, Json(e)).into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct DayQuery {
    /// The clinic day (default today).
    #[serde(default)]
    pub day: Option<String>,
}

/// The program's stock on a clinic day: each lot's opening, received,
/// administered, dispensed, waste, expected balance and reconciliation.
#[utoipa::path(get, path = "/api/v1/programs/{pid}/stock/day", params(("pid" = String, Path), DayQuery), responses((status = 200, body = StockDay)))]
pub async fn stock_day(
    State(state): State<AppState>,
    p: Principal,
    Path(pid): Path<String>,
    Query(q): Query<DayQuery>,
) -> ApiResult<Json<StockDay>> {
    Ok(Json(
        stockmod::stock_day(&state.app, &p, program(&pid)?, q.day.as_deref()).await?,
    ))
}

/// Reconcile the day: the physical count of each lot, signed by the counter.
#[utoipa::path(post, path = "/api/v1/programs/{pid}/stock/reconciliations", params(("pid" = String, Path)), request_body = ReconcileInput, responses((status = 201, body = Vec<Object>), (status = 409, body = ErrorBody)))]
pub async fn reconcile(
    State(state): State<AppState>,
    p: Principal,
    Path(pid): Path<String>,
    b: Result<Json<ReconcileInput>, JsonRejection>,
) -> ApiResult<Response> {
    let r = stockmod::reconcile(&state.app, &p, program(&pid)?, &body(b)?).await?;
    Ok((StatusCode::CREATED, Json(r)).into_response())
}

/// Co-sign a reconciliation (a second person, not the counter).
#[utoipa::path(post, path = "/api/v1/reconciliations/{rid}/cosign", params(("rid" = String, Path)), responses((status = 204), (status = 409, body = ErrorBody)))]
pub async fn cosign(
    State(state): State<AppState>,
    p: Principal,
    Path(rid): Path<String>,
) -> ApiResult<StatusCode> {
    stockmod::cosign(&state.app, &p, &rid).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct BalanceDto {
    /// The lot's balance after the movement (µg).
    pub balance_ug: i64,
}

/// Record waste or a spill, confirmed by a witness's own credentials.
#[utoipa::path(post, path = "/api/v1/programs/{pid}/stock/waste", params(("pid" = String, Path)), request_body = WasteInput, responses((status = 201, body = BalanceDto), (status = 409, body = ErrorBody)))]
pub async fn waste(
    State(state): State<AppState>,
    p: Principal,
    Path(pid): Path<String>,
    b: Result<Json<WasteInput>, JsonRejection>,
) -> ApiResult<Response> {
    let balance_ug = stockmod::waste(&state.app, &p, program(&pid)?, &body(b)?).await?;
    Ok((StatusCode::CREATED, Json(BalanceDto { balance_ug })).into_response())
}

/// Record an overdose and the response (naloxone doses, breathing support, EMS, outcome).
#[utoipa::path(post, path = "/api/v1/patients/{id}/overdoses", params(("id" = String, Path)), request_body = OverdoseInput, responses((status = 201, body = Object)))]
pub async fn record_overdose(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    b: Result<Json<OverdoseInput>, JsonRejection>,
) -> ApiResult<Response> {
    let o = overdose::record(&state.app, &p, pid(&id)?, &body(b)?).await?;
    Ok((StatusCode::CREATED, Json(o)).into_response())
}

/// Log a naloxone kit handed out (to a patient, family or the community).
#[utoipa::path(post, path = "/api/v1/programs/{pid}/naloxone-kits", params(("pid" = String, Path)), request_body = KitInput, responses((status = 201, body = Object)))]
pub async fn give_kit(
    State(state): State<AppState>,
    p: Principal,
    Path(pid): Path<String>,
    b: Result<Json<KitInput>, JsonRejection>,
) -> ApiResult<Response> {
    let k = overdose::give_kit(&state.app, &p, program(&pid)?, &body(b)?).await?;
    Ok((StatusCode::CREATED, Json(k)).into_response())
}

/// Save the program's dosing settings: the take-home policy pack, the
/// verbal-order co-signature window, the phone number for labels.
#[utoipa::path(put, path = "/api/v1/programs/{pid}/dosing-settings", params(("pid" = String, Path)), request_body = Settings, responses((status = 204)))]
pub async fn save_settings(
    State(state): State<AppState>,
    p: Principal,
    Path(pid): Path<String>,
    b: Result<Json<Settings>, JsonRejection>,
) -> ApiResult<StatusCode> {
    takehome::save_settings(&state.app, &p, program(&pid)?, &body(b)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClosureInput {
    /// YYYY-MM-DD.
    pub day: String,
    pub reason: String,
}

/// Add a closure day (Sunday, holiday): it generates closure take-homes.
#[utoipa::path(post, path = "/api/v1/programs/{pid}/closures", params(("pid" = String, Path)), request_body = ClosureInput, responses((status = 204), (status = 409, body = ErrorBody)))]
pub async fn add_closure(
    State(state): State<AppState>,
    p: Principal,
    Path(pid): Path<String>,
    b: Result<Json<ClosureInput>, JsonRejection>,
) -> ApiResult<StatusCode> {
    let c = body(b)?;
    takehome::add_closure(&state.app, &p, program(&pid)?, &c.day, &c.reason).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Put a hold on dosing: sedation or intoxication seen at the window (this
/// clinic day), or an administrative hold (until lifted).
#[utoipa::path(post, path = "/api/v1/patients/{id}/dosing-holds", params(("id" = String, Path)), request_body = HoldInput, responses((status = 201, body = IdDto), (status = 422, body = ErrorBody)))]
pub async fn place_hold(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    b: Result<Json<HoldInput>, JsonRejection>,
) -> ApiResult<Response> {
    let id = window::place_hold(&state.app, &p, pid(&id)?, &body(b)?).await?;
    Ok((StatusCode::CREATED, Json(IdDto { id })).into_response())
}

/// The patient's holds of the last 30 days and any administrative hold in force.
#[utoipa::path(get, path = "/api/v1/patients/{id}/dosing-holds", params(("id" = String, Path)), responses((status = 200, body = Vec<Object>)))]
pub async fn list_holds(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    Ok(Json(window::holds(&state.app, &p, pid(&id)?).await?).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LiftInput {
    /// Why the hold can be lifted (at least 5 characters).
    pub reason: String,
}

/// Lift a hold, once, with a reason.
#[utoipa::path(post, path = "/api/v1/patients/{id}/dosing-holds/{hid}/lift", params(("id" = String, Path), ("hid" = String, Path)), request_body = LiftInput, responses((status = 204), (status = 409, body = ErrorBody)))]
pub async fn lift_hold(
    State(state): State<AppState>,
    p: Principal,
    Path((id, hid)): Path<(String, String)>,
    b: Result<Json<LiftInput>, JsonRejection>,
) -> ApiResult<Response> {
    let i = body(b)?;
    window::lift_hold(&state.app, &p, pid(&id)?, &hid, &i.reason).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Serialize, ToSchema)]
pub struct ArrivalDto {
    /// 1 for the day's first visit, 2 for a split dose's second.
    pub visit: i64,
}

/// Check the patient in at the window's queue.
#[utoipa::path(post, path = "/api/v1/patients/{id}/arrivals", params(("id" = String, Path)), responses((status = 201, body = ArrivalDto), (status = 409, body = ErrorBody)))]
pub async fn arrive(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let visit = window::arrive(&state.app, &p, pid(&id)?).await?;
    Ok((StatusCode::CREATED, Json(ArrivalDto { visit })).into_response())
}

/// The day's queue: who waits, in arrival order, and who is at a window.
#[utoipa::path(get, path = "/api/v1/programs/{pid}/queue", params(("pid" = String, Path)), responses((status = 200, body = Queue)))]
pub async fn queue(
    State(state): State<AppState>,
    p: Principal,
    Path(pid): Path<String>,
) -> ApiResult<Response> {
    Ok(Json(window::queue(&state.app, &p, program(&pid)?).await?).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallInput {
    /// The window calling (e.g. "1").
    pub window: String,
}

#[derive(Serialize, ToSchema)]
pub struct CallDto {
    /// The patient called to the window.
    pub patient_id: String,
}

/// Call the next person in line to a window (409 when nobody is waiting).
#[utoipa::path(post, path = "/api/v1/programs/{pid}/queue/call", params(("pid" = String, Path)), request_body = CallInput, responses((status = 200, body = CallDto), (status = 409, body = ErrorBody)))]
pub async fn call_next(
    State(state): State<AppState>,
    p: Principal,
    Path(pid): Path<String>,
    b: Result<Json<CallInput>, JsonRejection>,
) -> ApiResult<Response> {
    let i = body(b)?;
    let patient = window::call_next(&state.app, &p, program(&pid)?, &i.window).await?;
    Ok(Json(CallDto {
        patient_id: patient.to_string(),
    })
    .into_response())
}
