//! Drug testing and the laboratory interface over JSON (and HL7 v2 for the
//! lab endpoint): collections and results, reviews, results by analyte,
//! the day's random-testing list, the program's testing policy, HL7 ORU
//! messages in with an ACK out, and the reconciliation queue.

use crate::AppState;
use crate::auth::Principal;
use crate::dosing_api::{body, pid, program};
use crate::error::{ApiResult, AppError};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use carepath_app::drugtest::{self, CollectInput, History, RandomItem, ResultInput, TestView};
use carepath_app::lab::{self, Receipt, Waiting};
use carepath_clinical::drugtest::RandomPolicy;
use carepath_domain::ids::PatientId;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

#[derive(OpenApi)]
#[openapi(
    paths(
        list_tests,
        collect,
        add_results,
        review,
        analyte,
        random_today,
        get_policy,
        put_policy,
        receive_hl7,
        lab_queue,
        lab_match
    ),
    components(schemas(
        CollectInput,
        ResultInput,
        TestView,
        History,
        RandomItem,
        ResultsInput,
        ReviewInput,
        RandomDto,
        PolicyDto,
        Receipt,
        Waiting,
        MatchInput,
        FiledDto
    ))
)]
pub struct LabApiDoc;

/// A patient's drug tests (newest first) with the engine's reading of each,
/// and where random testing stands.
#[utoipa::path(get, path = "/api/v1/patients/{id}/drug-tests", params(("id" = String, Path)), responses((status = 200, body = History)))]
pub async fn list_tests(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<History>> {
    Ok(Json(drugtest::history(&state.app, &p, pid(&id)?).await?))
}

/// Record a collection (or a refusal) with any point-of-care results.
#[utoipa::path(post, path = "/api/v1/patients/{id}/drug-tests", params(("id" = String, Path)), request_body = CollectInput, responses((status = 201, body = TestView)))]
pub async fn collect(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    b: Result<Json<CollectInput>, JsonRejection>,
) -> ApiResult<Response> {
    let v = drugtest::collect(&state.app, &p, pid(&id)?, &body(b)?).await?;
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResultsInput {
    pub results: Vec<ResultInput>,
}

/// Add results to a test (a later reading, or a laboratory's paper report).
#[utoipa::path(post, path = "/api/v1/patients/{id}/drug-tests/{test}/results", params(("id" = String, Path), ("test" = String, Path)), request_body = ResultsInput, responses((status = 201, body = TestView)))]
pub async fn add_results(
    State(state): State<AppState>,
    p: Principal,
    Path((id, test)): Path<(String, String)>,
    b: Result<Json<ResultsInput>, JsonRejection>,
) -> ApiResult<Response> {
    let i = body(b)?;
    let v = drugtest::add_results(&state.app, &p, pid(&id)?, &test, &i.results).await?;
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewInput {
    /// What was reviewed, discussed or decided.
    pub note: String,
}

/// A prescriber's review of a test that needs one.
#[utoipa::path(post, path = "/api/v1/patients/{id}/drug-tests/{test}/review", params(("id" = String, Path), ("test" = String, Path)), request_body = ReviewInput, responses((status = 201, body = TestView)))]
pub async fn review(
    State(state): State<AppState>,
    p: Principal,
    Path((id, test)): Path<(String, String)>,
    b: Result<Json<ReviewInput>, JsonRejection>,
) -> ApiResult<Response> {
    let i = body(b)?;
    let v = drugtest::review(&state.app, &p, pid(&id)?, &test, &i.note).await?;
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

/// A patient's results for one analyte, oldest first (name or LOINC code).
#[utoipa::path(get, path = "/api/v1/patients/{id}/drug-results/{analyte}", params(("id" = String, Path), ("analyte" = String, Path)), responses((status = 200, body = Object)))]
pub async fn analyte(
    State(state): State<AppState>,
    p: Principal,
    Path((id, analyte)): Path<(String, String)>,
) -> ApiResult<Response> {
    let v = drugtest::analyte(&state.app, &p, pid(&id)?, &analyte).await?;
    Ok(Json(v).into_response())
}

#[derive(Serialize, ToSchema)]
pub struct RandomDto {
    pub day: String,
    pub patients: Vec<RandomItem>,
}

/// Today's random-testing list (staff only; drawn per program policy).
#[utoipa::path(get, path = "/api/v1/programs/{pid}/drug-tests/random-today", params(("pid" = String, Path)), responses((status = 200, body = RandomDto)))]
pub async fn random_today(
    State(state): State<AppState>,
    p: Principal,
    Path(pid): Path<String>,
) -> ApiResult<Json<RandomDto>> {
    let (day, patients) = drugtest::random_today(&state.app, &p, program(&pid)?).await?;
    Ok(Json(RandomDto { day, patients }))
}

/// A program's random-testing policy.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyDto {
    /// Days from admission counted as early treatment.
    pub early_days: u32,
    /// Random tests per 30 days in early treatment.
    pub early_per_block: u32,
    /// Random tests per 30 days after.
    pub per_block: u32,
    /// At least this many in any 365 days (8 or more: 42 CFR § 8.12(f)(6)).
    pub min_per_year: u32,
}

impl From<RandomPolicy> for PolicyDto {
    fn from(p: RandomPolicy) -> Self {
        PolicyDto {
            early_days: p.early_days,
            early_per_block: p.early_per_block,
            per_block: p.per_block,
            min_per_year: p.min_per_year,
        }
    }
}

/// The program's random-testing policy in force.
#[utoipa::path(get, path = "/api/v1/programs/{pid}/testing-policy", params(("pid" = String, Path)), responses((status = 200, body = PolicyDto)))]
pub async fn get_policy(
    State(state): State<AppState>,
    p: Principal,
    Path(pid): Path<String>,
) -> ApiResult<Json<PolicyDto>> {
    let prog = program(&pid)?;
    carepath_app::access::program(
        &state.app,
        &p,
        prog,
        carepath_domain::authz::Permission::ReadClinical,
    )
    .await?;
    Ok(Json(drugtest::policy(&state.app, prog).await?.into()))
}

/// Set the program's random-testing policy (program administrators).
#[utoipa::path(put, path = "/api/v1/programs/{pid}/testing-policy", params(("pid" = String, Path)), request_body = PolicyDto, responses((status = 200, body = PolicyDto)))]
pub async fn put_policy(
    State(state): State<AppState>,
    p: Principal,
    Path(pid): Path<String>,
    b: Result<Json<PolicyDto>, JsonRejection>,
) -> ApiResult<Json<PolicyDto>> {
    let d = body(b)?;
    let policy = RandomPolicy {
        early_days: d.early_days,
        early_per_block: d.early_per_block,
        per_block: d.per_block,
        min_per_year: d.min_per_year,
    };
    Ok(Json(
        drugtest::set_policy(&state.app, &p, program(&pid)?, &policy)
            .await?
            .into(),
    ))
}

/// Receive one HL7 v2 ORU^R01 message (the request body, ER7 text) for the
/// program; the answer is the ACK (AA, AE or AR with MSA echoing the
/// control id). `X-Carepath-Status` says filed, unmatched, duplicate or
/// rejected.
#[utoipa::path(post, path = "/api/v1/programs/{pid}/lab/hl7", params(("pid" = String, Path)), request_body(content = String, content_type = "text/plain"), responses((status = 200, description = "the ACK", content_type = "text/plain")))]
pub async fn receive_hl7(
    State(state): State<AppState>,
    p: Principal,
    Path(pid): Path<String>,
    raw: String,
) -> ApiResult<Response> {
    if raw.trim().is_empty() {
        return Err(AppError::invalid("body", "send one HL7 v2 message").into());
    }
    if raw.len() > 1_000_000 {
        return Err(AppError::invalid("body", "a message is at most 1 MB").into());
    }
    let r = lab::receive(&state.app, &p, program(&pid)?, lab::Channel::Http, &raw).await?;
    let mut resp = (StatusCode::OK, r.ack.clone()).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&r.status) {
        h.insert("x-carepath-status", v);
    }
    Ok(resp)
}

/// The program's lab messages waiting for a match to a patient.
#[utoipa::path(get, path = "/api/v1/programs/{pid}/lab/queue", params(("pid" = String, Path)), responses((status = 200, body = Vec<Waiting>)))]
pub async fn lab_queue(
    State(state): State<AppState>,
    p: Principal,
    Path(pid): Path<String>,
) -> ApiResult<Json<Vec<Waiting>>> {
    Ok(Json(lab::queue(&state.app, &p, program(&pid)?).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MatchInput {
    pub patient_id: String,
    /// How the patient was identified.
    pub reason: String,
}

#[derive(Serialize, ToSchema)]
pub struct FiledDto {
    pub results: usize,
}

/// Match a waiting lab message to a patient; its results are filed.
#[utoipa::path(post, path = "/api/v1/lab/messages/{mid}/match", params(("mid" = String, Path)), request_body = MatchInput, responses((status = 201, body = FiledDto)))]
pub async fn lab_match(
    State(state): State<AppState>,
    p: Principal,
    Path(mid): Path<String>,
    b: Result<Json<MatchInput>, JsonRejection>,
) -> ApiResult<Response> {
    let i = body(b)?;
    let patient: PatientId = i
        .patient_id
        .parse()
        .map_err(|_| AppError::invalid("patient_id", "not a patient id"))?;
    let results = lab::resolve(&state.app, &p, &mid, patient, &i.reason).await?;
    Ok((StatusCode::CREATED, Json(FiledDto { results })).into_response())
}
