//! The dosing desk's JSON API (what the desk page uses, and any client):
//! orders, the pre-dose panel, doses, the program's stock.

use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiResult, AppError, ErrorBody};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use carepath_app::dosing::{self, DoseInput, OrderInput, Panel, ProductInput, ReceiptInput};
use carepath_domain::ids::{PatientId, ProgramId};
use serde::Serialize;
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
        receive
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
        IdDto
    ))
)]
pub struct DosingApiDoc;

fn body<T>(b: Result<Json<T>, JsonRejection>) -> Result<T, AppError> {
    b.map(|Json(x)| x)
        .map_err(|e| AppError::invalid("body", e.body_text()))
}

fn pid(s: &str) -> Result<PatientId, AppError> {
    s.parse().map_err(|_| AppError::NotFound)
}

fn program(s: &str) -> Result<ProgramId, AppError> {
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
