//! The JSON API under `/api/v1`, and health endpoints. The OpenAPI document is
//! generated from these handlers' annotations and types (utoipa).

use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiResult, AppError, ErrorBody};
use crate::pages::admin::{AuditQuery, audit_filter};
use crate::pages::clinic::SearchQuery;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use carepath_app::model::{Episode, Patient, PatientSearch};
use carepath_app::{access, admin, registration, work};
use carepath_domain::authz::Permission;
use carepath_domain::ids::PatientId;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

#[derive(OpenApi)]
#[openapi(
    info(title = "Carepath API", version = "1", description = "Carepath's JSON API. Authenticate with a personal API token (`Authorization: Bearer cp_…`) or a browser session. Every access to patient data is audited."),
    paths(me, programs, dashboard, search_patients, register_patient_api, get_patient, audit_events, calc, crate::finder::search, crate::finder::export, crate::finder::get, healthz, readyz),
    components(schemas(crate::finder::SearchDto, crate::finder::FacilityDto, crate::finder::ServiceDto, crate::finder::PhoneDto, crate::finder::NearDto, ErrorBody, crate::error::ErrorDetail, crate::error::FieldProblem, MeDto, GrantDto, ProgramDto, CensusDto, PatientDto, EpisodeDto, AuditEventDto, AuditPageDto)),
    modifiers(&Security),
    security(("bearer" = []))
)]
pub struct ApiDoc;

struct Security;
impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let c = openapi.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub async fn openapi_json() -> Response {
    Json(document()).into_response()
}

/// The whole OpenAPI document: the annotated operations, and for each the
/// error answers the shared layers and guard give (from the route table, so
/// a new route is documented the same way): 401/403 on guarded routes, 404
/// where the path names something, 409/413 on writes, 422 for input that
/// cannot be accepted — every one an [`ErrorBody`].
pub fn document() -> utoipa::openapi::OpenApi {
    use crate::routes::{Guard, specs};
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    let mut doc = ApiDoc::openapi();
    doc.merge(crate::path_api::PathApiDoc::openapi());
    doc.merge(crate::dosing_api::DosingApiDoc::openapi());
    doc.merge(crate::lab_api::LabApiDoc::openapi());
    doc.merge(crate::cm_api::CmApiDoc::openapi());
    doc.merge(crate::pages::portal::PortalApiDoc::openapi());
    let err = |what: &str| {
        ResponseBuilder::new()
            .description(what)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build()
    };
    let routes = specs();
    for (path, item) in doc.paths.paths.iter_mut() {
        for (method, op) in [
            (axum::http::Method::GET, item.get.as_mut()),
            (axum::http::Method::POST, item.post.as_mut()),
            (axum::http::Method::PUT, item.put.as_mut()),
            (axum::http::Method::DELETE, item.delete.as_mut()),
        ] {
            let Some(op) = op else { continue };
            let Some(spec) = routes.iter().find(|r| r.method == method && r.path == path) else {
                continue;
            };
            if !crate::routes::is_api(path) || path.ends_with("/openapi.json") {
                continue;
            }
            let r = &mut op.responses.responses;
            let mut add = |code: &str, what: &str| {
                r.entry(code.to_string())
                    .or_insert_with(|| err(what).into());
            };
            add("422", "invalid input: every field at fault, each with why");
            if spec.guard != Guard::Public {
                add(
                    "401",
                    "no valid credential (sign in, or a live API token), or the session ended",
                );
                add(
                    "403",
                    "the credential does not carry this permission here, or the second factor is due",
                );
            }
            if path.contains('{') {
                add("404", "no such thing, or not yours to see");
            }
            if method == axum::http::Method::POST || method == axum::http::Method::PUT {
                add("409", "conflicts with the record as it stands (says what)");
                r.entry("413".to_string()).or_insert_with(|| {
                    ResponseBuilder::new()
                        .description("the body is larger than 1 MiB (plain text)")
                        .build()
                        .into()
                });
            }
        }
    }
    doc
}

/// Process is up.
#[utoipa::path(get, path = "/healthz", security(()), responses((status = 200, description = "up")))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// Database reachable.
#[utoipa::path(get, path = "/readyz", security(()), responses((status = 200, description = "ready"), (status = 503, description = "database unreachable")))]
pub async fn readyz(State(state): State<AppState>) -> Response {
    match state.app.ping().await {
        Ok(()) => "ready".into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response()
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct GrantDto {
    pub program_id: String,
    pub role: String,
}

#[derive(Serialize, ToSchema)]
pub struct MeDto {
    pub user_id: String,
    pub username: String,
    pub display_name: String,
    pub roles: Vec<GrantDto>,
    /// Permissions this credential carries.
    pub permissions: Vec<String>,
}

/// The caller.
#[utoipa::path(get, path = "/api/v1/me", responses((status = 200, body = MeDto), (status = 401, body = ErrorBody)))]
pub async fn me(p: Principal) -> Json<MeDto> {
    Json(MeDto {
        user_id: p.user_id.to_string(),
        username: p.username.clone(),
        display_name: p.display_name.clone(),
        roles: p
            .grants
            .iter()
            .map(|g| GrantDto {
                program_id: g.program_id.to_string(),
                role: g.role.as_str().into(),
            })
            .collect(),
        permissions: Permission::ALL
            .into_iter()
            .filter(|x| p.can(*x))
            .map(|x| x.as_str().into())
            .collect(),
    })
}

#[derive(Serialize, ToSchema)]
pub struct ProgramDto {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub address: String,
    pub timezone: String,
    pub hours: String,
}

/// Programs of the organization.
#[utoipa::path(get, path = "/api/v1/programs", responses((status = 200, body = [ProgramDto])))]
pub async fn programs(State(state): State<AppState>) -> ApiResult<Json<Vec<ProgramDto>>> {
    let v = work::programs(&state.app)
        .await?
        .into_iter()
        .map(|g| ProgramDto {
            id: g.id.to_string(),
            name: g.name,
            kind: g.kind.as_str().into(),
            address: g.address,
            timezone: g.timezone,
            hours: g.hours,
        })
        .collect();
    Ok(Json(v))
}

#[derive(Serialize, ToSchema)]
pub struct CensusDto {
    pub program_id: String,
    pub program_name: String,
    pub kind: String,
    pub active: i64,
    pub admissions_7d: i64,
    pub discharges_7d: i64,
}

/// Census per program the caller works in (counts only).
#[utoipa::path(get, path = "/api/v1/dashboard", responses((status = 200, body = [CensusDto])))]
pub async fn dashboard(
    State(state): State<AppState>,
    p: Principal,
) -> ApiResult<Json<Vec<CensusDto>>> {
    let rows = work::census(&state.app, &p).await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| CensusDto {
                program_id: r.program_id.to_string(),
                program_name: r.program_name,
                kind: r.kind,
                active: r.active,
                admissions_7d: r.admissions,
                discharges_7d: r.discharges,
            })
            .collect(),
    ))
}

#[derive(Serialize, ToSchema)]
pub struct PatientDto {
    pub id: String,
    pub program_id: String,
    pub mrn: String,
    pub legal_first_name: String,
    pub legal_last_name: String,
    pub preferred_name: Option<String>,
    /// `YYYY-MM-DD`
    pub date_of_birth: String,
    pub sex: String,
    /// Present when the caller may read clinical data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub episodes: Option<Vec<EpisodeDto>>,
}

#[derive(Serialize, ToSchema)]
pub struct EpisodeDto {
    pub id: String,
    pub program_id: String,
    pub level_of_care: String,
    /// RFC 3339 UTC.
    pub admitted_at: String,
    pub discharged_at: Option<String>,
    pub discharge_reason: Option<String>,
}

use carepath_app::fmt::rfc3339;

fn patient_dto(p: Patient, episodes: Option<Vec<Episode>>) -> PatientDto {
    PatientDto {
        id: p.id.to_string(),
        program_id: p.program_id.to_string(),
        mrn: p.mrn,
        legal_first_name: p.legal_first_name,
        legal_last_name: p.legal_last_name,
        preferred_name: p.preferred_name,
        date_of_birth: p.date_of_birth,
        sex: p.sex,
        episodes: episodes.map(|v| {
            v.into_iter()
                .map(|e| EpisodeDto {
                    id: e.id.to_string(),
                    program_id: e.program_id.to_string(),
                    level_of_care: e.level_of_care,
                    admitted_at: rfc3339(e.admitted_at),
                    discharged_at: e.discharged_at.map(rfc3339),
                    discharge_reason: e.discharge_reason,
                })
                .collect()
        }),
    }
}

#[derive(Deserialize, IntoParams)]
pub struct SearchParams {
    /// Words of the name.
    pub name: Option<String>,
    /// Date of birth `YYYY-MM-DD`.
    pub dob: Option<String>,
    /// Medical record number.
    pub mrn: Option<String>,
}

/// Search patients in the caller's programs (at least one criterion).
#[utoipa::path(get, path = "/api/v1/patients", params(SearchParams), responses((status = 200, body = [PatientDto]), (status = 422, body = ErrorBody)))]
pub async fn search_patients(
    State(state): State<AppState>,
    p: Principal,
    crate::error::ApiQuery(q): crate::error::ApiQuery<SearchQuery>,
) -> ApiResult<Json<Vec<PatientDto>>> {
    let o = |s: &str| {
        let t = s.trim();
        (!t.is_empty()).then(|| t.to_string())
    };
    let s = PatientSearch {
        name: o(&q.name),
        date_of_birth: o(&q.dob),
        mrn: o(&q.mrn).map(|m| m.to_uppercase()),
        limit: 100,
    };
    if s.name.is_none() && s.date_of_birth.is_none() && s.mrn.is_none() {
        return Err(AppError::invalid("name", "give a name, dob or mrn to search by").into());
    }
    if let Some(d) = &s.date_of_birth {
        d.parse::<jiff::civil::Date>().map_err(|_| {
            carepath_domain::FieldError::new("dob", "must be a date written YYYY-MM-DD")
        })?;
    }
    let found = access::search(&state.app, &p, &s).await?;
    Ok(Json(
        found.into_iter().map(|x| patient_dto(x, None)).collect(),
    ))
}

/// Register a patient (and optionally admit).
#[utoipa::path(post, path = "/api/v1/patients", request_body = registration::Registration, responses((status = 201, body = PatientDto), (status = 409, description = "possible duplicate", body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn register_patient_api(
    State(state): State<AppState>,
    p: Principal,
    body: Result<Json<registration::Registration>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Response> {
    let Json(b) = body.map_err(|e| AppError::invalid("body", e.body_text()))?;
    let x = registration::register(&state.app, &p, &b).await?;
    Ok((StatusCode::CREATED, Json(patient_dto(x, None))).into_response())
}

/// One patient; episodes included when the caller may read clinical data.
#[utoipa::path(get, path = "/api/v1/patients/{id}", params(("id" = String, Path, description = "patient id")), responses((status = 200, body = PatientDto), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_patient(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<PatientDto>> {
    let id: PatientId = id.parse().map_err(|_| AppError::NotFound)?;
    let clinical = p.can(Permission::ReadClinical);
    let perm = if clinical {
        Permission::ReadClinical
    } else {
        Permission::ReadDemographics
    };
    let s = access::open(&state.app, &p, id, perm, "patient.read").await?;
    let episodes = clinical.then(|| s.episodes.clone());
    Ok(Json(patient_dto(s.patient, episodes)))
}

#[derive(Serialize, ToSchema)]
pub struct AuditEventDto {
    pub seq: i64,
    pub id: String,
    /// RFC 3339 UTC.
    pub at: String,
    pub user_id: Option<String>,
    pub username: Option<String>,
    pub role: Option<String>,
    pub program_id: Option<String>,
    pub patient_id: Option<String>,
    pub action: String,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    pub client_addr: Option<String>,
    pub outcome: String,
    pub detail: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Serialize, ToSchema)]
pub struct AuditPageDto {
    pub events: Vec<AuditEventDto>,
    /// Pass as `before` for the next (older) page.
    pub next_before: Option<i64>,
}

#[derive(Deserialize, IntoParams)]
#[allow(dead_code)]
pub struct AuditParams {
    user: Option<String>,
    patient: Option<String>,
    action: Option<String>,
    /// UTC date `YYYY-MM-DD`
    from: Option<String>,
    /// UTC date `YYYY-MM-DD`, inclusive
    to: Option<String>,
    before: Option<i64>,
}

/// Audit events, newest first (auditors).
#[utoipa::path(get, path = "/api/v1/audit/events", params(AuditParams), responses((status = 200, body = AuditPageDto), (status = 403, body = ErrorBody)))]
pub async fn audit_events(
    State(state): State<AppState>,
    p: Principal,
    crate::error::ApiQuery(q): crate::error::ApiQuery<AuditQuery>,
) -> ApiResult<Json<AuditPageDto>> {
    let f = audit_filter(&q, 200)?;
    let (page, _) = admin::audit_events(&state.app, &p, &f, "api").await?;
    Ok(Json(AuditPageDto {
        next_before: page.next_before,
        events: page
            .events
            .into_iter()
            .map(|e| AuditEventDto {
                seq: e.seq,
                id: e.id,
                at: rfc3339(e.at_us),
                user_id: e.event.user_id,
                username: e.event.username,
                role: e.event.role,
                program_id: e.event.program_id,
                patient_id: e.event.patient_id,
                action: e.event.action,
                object_type: e.event.object_type,
                object_id: e.event.object_id,
                client_addr: e.event.client_addr,
                outcome: e.event.outcome.as_str().into(),
                detail: e.event.detail,
                prev_hash: e.prev_hash,
                hash: e.hash,
            })
            .collect(),
    }))
}

/// Run a clinical calculator (decision support; see docs/calculators.md).
///
/// Names: cows, sows, oud-diagnosis, level-of-care, withdrawal-course,
/// methadone-order, missed-doses, buprenorphine-order, naltrexone-start,
/// comfort-med, take-home, cm-ledger, cm-draw, drug-test. The answer is the
/// same as `carepath calc NAME`. An `override` in the body is accepted only
/// from a prescriber; its `role` and `by` are taken from the signed-in user.
#[utoipa::path(post, path = "/api/v1/calc/{name}",
    params(("name" = String, Path, description = "calculator name")),
    request_body(content = Object, description = "the calculator's input", content_type = "application/json"),
    responses((status = 200, description = "the result", body = Object), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn calc(
    State(state): State<AppState>,
    p: Principal,
    Path(name): Path<String>,
    body: Result<Json<serde_json::Value>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Response> {
    let Json(mut input) = body.map_err(|e| AppError::invalid("body", e.body_text()))?;
    if let Some(o) = input.get_mut("override").and_then(|o| o.as_object_mut()) {
        if !p
            .roles()
            .contains(&carepath_domain::authz::Role::Prescriber)
        {
            return Err(AppError::Forbidden(
                "only a prescriber may override a medication rule".into(),
            )
            .into());
        }
        o.insert("role".into(), "prescriber".into());
        o.insert("by".into(), p.username.clone().into());
    }
    let ctx = carepath_clinical::calc::Context {
        now: Some(state.app.now().to_string()),
    };
    match carepath_clinical::calc::run(&name, input, &ctx) {
        Ok(v) => Ok(Json(v).into_response()),
        Err(e @ carepath_clinical::calc::CalcError::UnknownCalculator(_)) => {
            Ok((StatusCode::NOT_FOUND, Json(e.to_json())).into_response())
        }
        Err(e) => Ok((StatusCode::UNPROCESSABLE_ENTITY, Json(e.to_json())).into_response()),
    }
}
