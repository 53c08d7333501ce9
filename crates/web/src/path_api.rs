//! JSON API for the patient's path: records (assessment, flowsheet, orders,
//! administrations, plans, notes, consents), signatures and amendments,
//! disclosures and their accounting, admission/transfer/discharge, follow-up
//! outcomes, the program calendar with attendance, registration details, and
//! the caller's worklist. Everything goes through [`crate::chart`] and
//! [`crate::work`], the same services as the staff pages.

use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiResult, AppError, ErrorBody};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use carepath_app::kinds::{Entry, Kind, assessment, discharge, flowsheet, medication, notes};
use carepath_app::model::ProgramProtocol;
use carepath_app::registration::{self, Contact, Profile};
use carepath_app::{access, chart, work};
use carepath_domain::authz::Permission;
use carepath_domain::ids::{PatientId, ProgramId};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, OpenApi, ToSchema};

#[derive(OpenApi)]
#[openapi(
    paths(
        list_records,
        create_record,
        sign_record,
        amend_record,
        revoke_consent,
        make_disclosure,
        fhir_everything,
        fhir_search,
        list_disclosures,
        admit,
        transfer,
        discharge,
        followup_outcome,
        schedule_sessions,
        list_sessions,
        record_attendance,
        worklist,
        get_profile,
        put_profile,
        upload_photo,
        enrollment,
        get_protocol,
        put_protocol
    ),
    components(schemas(
        RecordDto,
        SignatureDto,
        assessment::AssessmentInput,
        assessment::SubstanceUse,
        assessment::Placement,
        flowsheet::FlowsheetInput,
        flowsheet::Scale,
        medication::OrderInput,
        medication::AdministrationInput,
        notes::NoteInput,
        notes::PlanInput,
        notes::Problem,
        notes::Objective,
        notes::Intervention,
        chart::SignInput,
        chart::AmendInput,
        chart::DisclosureInput,
        chart::DisclosedDocument,
        discharge::DischargeInput,
        discharge::Aftercare,
        discharge::Naloxone,
        chart::TransferInput,
        discharge::FollowUpOutcome,
        work::SeriesInput,
        work::AttendanceInput,
        work::AttendanceEntry,
        work::Worklist,
        work::WorkItem,
        chart::AdmitInput,
        CreatedDto,
        DisclosureDto,
        SessionDto,
        Profile,
        Contact,
        EnrollmentInput,
        ProtocolDto
    ))
)]
pub struct PathApiDoc;

fn body<T>(b: Result<Json<T>, JsonRejection>) -> Result<T, AppError> {
    b.map(|Json(x)| x)
        .map_err(|e| AppError::invalid("body", e.body_text()))
}

fn pid(s: &str) -> Result<PatientId, AppError> {
    s.parse().map_err(|_| AppError::NotFound)
}

#[derive(Serialize, ToSchema)]
pub struct SignatureDto {
    /// author, cosign or patient.
    pub kind: String,
    pub signer_name: String,
    pub signer_role: String,
    pub method: String,
    pub signed_at: String,
}

/// One version of a clinical record.
#[derive(Serialize, ToSchema)]
pub struct RecordDto {
    pub id: String,
    /// All versions of one record share the first version's id.
    pub root_id: String,
    pub kind: String,
    pub summary: String,
    #[schema(value_type = Object)]
    pub body: Value,
    pub occurred_at: String,
    pub recorded_at: String,
    pub author: String,
    pub author_role: String,
    pub late_entry: bool,
    pub amends: Option<String>,
    pub amend_reason: Option<String>,
    pub superseded_by: Option<String>,
    pub current: bool,
    pub due_at: Option<String>,
    pub ref_id: Option<String>,
    pub sign_role: Option<String>,
    pub awaits_cosign: bool,
    pub signatures: Vec<SignatureDto>,
}

use carepath_app::fmt::rfc3339 as ts;

pub fn record_dto(e: Entry) -> RecordDto {
    let body = e.body.to_json();
    let r = e.rec;
    RecordDto {
        current: r.is_current(),
        awaits_cosign: r.awaits_cosign(),
        id: r.id,
        root_id: r.root_id,
        kind: r.kind,
        summary: r.summary,
        body,
        occurred_at: ts(r.occurred_at),
        recorded_at: ts(r.recorded_at),
        author: r.author_name,
        author_role: r.author_role,
        late_entry: r.late_entry,
        amends: r.amends,
        amend_reason: r.amend_reason,
        superseded_by: r.superseded_by,
        due_at: r.due_at.map(ts),
        ref_id: r.ref_id,
        sign_role: r.sign_role,
        signatures: r
            .signatures
            .into_iter()
            .map(|s| SignatureDto {
                kind: s.kind,
                signer_name: s.signer_name,
                signer_role: s.signer_role,
                method: s.method,
                signed_at: ts(s.signed_at),
            })
            .collect(),
    }
}

#[derive(Deserialize, IntoParams)]
pub struct KindQuery {
    /// Only records of this kind (assessment, cows, sows, order, administration, plan, note,
    /// consent, consent_revocation, attendance, discharge, followup, followup_outcome).
    #[serde(default)]
    pub kind: Option<String>,
}

/// A patient's clinical record: every version of every entry, oldest first.
#[utoipa::path(get, path = "/api/v1/patients/{id}/records", params(("id" = String, Path), KindQuery), responses((status = 200, body = Vec<RecordDto>), (status = 404, body = ErrorBody)))]
pub async fn list_records(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    crate::error::ApiQuery(q): crate::error::ApiQuery<KindQuery>,
) -> ApiResult<Json<Vec<RecordDto>>> {
    let id = pid(&id)?;
    let kinds: Vec<Kind> = match q.kind.as_deref() {
        Some(k) => vec![k.parse()?],
        None => vec![],
    };
    let s = access::open(&state.app, &p, id, Permission::ReadClinical, "record.list").await?;
    let rs = s.entries(&state.app, &kinds).await?;
    Ok(Json(rs.into_iter().map(record_dto).collect()))
}

#[derive(Serialize, ToSchema)]
pub struct CreatedDto {
    pub id: String,
    /// The stored entry with the engine's results (scores, bands, recommendation…).
    #[schema(value_type = Object)]
    pub record: Value,
}

/// Write a clinical record. `kind`: assessment (AssessmentInput), cows or sows
/// (FlowsheetInput), order (OrderInput), administration (AdministrationInput),
/// plan (PlanInput), note (NoteInput), consent (a § 2.31 consent).
#[utoipa::path(post, path = "/api/v1/patients/{id}/records/{kind}", params(("id" = String, Path), ("kind" = String, Path)), request_body = Object, responses((status = 201, body = CreatedDto), (status = 422, body = ErrorBody)))]
pub async fn create_record(
    State(state): State<AppState>,
    p: Principal,
    Path((id, kind)): Path<(String, String)>,
    b: Result<Json<Value>, JsonRejection>,
) -> ApiResult<Response> {
    let id = pid(&id)?;
    let input = chart::input_from_json(&kind, body(b)?)?;
    let (rid, record) = chart::create(&state.app, &p, id, &input).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedDto {
            id: rid,
            record: record.to_json(),
        }),
    )
        .into_response())
}

/// Sign a record: as its author (orders: only a prescriber of the program), as the named
/// co-signer, or record the patient's typed or drawn signature on a plan or consent.
#[utoipa::path(post, path = "/api/v1/records/{rid}/sign", params(("rid" = String, Path)), request_body = chart::SignInput, responses((status = 204), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn sign_record(
    State(state): State<AppState>,
    p: Principal,
    Path(rid): Path<String>,
    b: Result<Json<chart::SignInput>, JsonRejection>,
) -> ApiResult<StatusCode> {
    chart::sign(&state.app, &p, &rid, &body(b)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Amend the current version of a record (both versions are kept).
#[utoipa::path(post, path = "/api/v1/records/{rid}/amend", params(("rid" = String, Path)), request_body = chart::AmendInput, responses((status = 201, body = CreatedDto), (status = 409, body = ErrorBody)))]
pub async fn amend_record(
    State(state): State<AppState>,
    p: Principal,
    Path(rid): Path<String>,
    b: Result<Json<chart::AmendInput>, JsonRejection>,
) -> ApiResult<Response> {
    let i = body(b)?;
    let (id, record) = chart::amend_json(&state.app, &p, &rid, &i).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedDto {
            id,
            record: record.to_json(),
        }),
    )
        .into_response())
}

#[derive(Deserialize, ToSchema, Default)]
pub struct RevokeDto {
    #[serde(default)]
    pub note: String,
}

/// Revoke a consent (written revocation; future disclosures stop).
#[utoipa::path(post, path = "/api/v1/records/{rid}/revoke", params(("rid" = String, Path)), responses((status = 201, body = CreatedDto), (status = 409, body = ErrorBody)))]
pub async fn revoke_consent(
    State(state): State<AppState>,
    p: Principal,
    Path(rid): Path<String>,
    b: Result<Json<Value>, JsonRejection>,
) -> ApiResult<Response> {
    let note = b
        .ok()
        .and_then(|Json(v)| v["note"].as_str().map(str::to_string))
        .unwrap_or_default();
    let id = chart::revoke(&state.app, &p, &rid, &note).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedDto {
            id,
            record: Value::Null,
        }),
    )
        .into_response())
}

/// Disclose a summary to a recipient: refused (403) without a valid consent; on
/// success the document carries the 42 CFR § 2.32 notice and is logged.
#[utoipa::path(post, path = "/api/v1/patients/{id}/disclosures", params(("id" = String, Path)), request_body = chart::DisclosureInput, responses((status = 201, body = chart::DisclosedDocument), (status = 403, body = ErrorBody)))]
pub async fn make_disclosure(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    b: Result<Json<chart::DisclosureInput>, JsonRejection>,
) -> ApiResult<Response> {
    let doc = chart::disclose(&state.app, &p, pid(&id)?, &body(b)?).await?;
    Ok((StatusCode::CREATED, Json(doc)).into_response())
}

/// What a FHIR export asks for: the consent that permits it, the recipient
/// and the purpose (as for any disclosure; the channel is `fhir`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FhirExportInput {
    pub consent_id: String,
    pub recipient: String,
    pub purpose: String,
}

/// The patient's record as a FHIR R4 `searchset` Bundle (Patient,
/// EpisodeOfCare, Condition, Observation, Consent, MedicationRequest,
/// MedicationAdministration; each labelled 42 CFR Part 2). A disclosure:
/// refused (403) without a consent that permits the recipient and purpose;
/// on success it is in the accounting of disclosures (channel `fhir`).
#[utoipa::path(post, path = "/fhir/r4/Patient/{id}/$everything", params(("id" = String, Path)), request_body = FhirExportInput,
    responses((status = 200, description = "a FHIR R4 Bundle", content_type = "application/fhir+json", body = Object), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn fhir_everything(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    b: Result<Json<FhirExportInput>, JsonRejection>,
) -> ApiResult<Response> {
    let b = body(b)?;
    let e = carepath_app::fhir::everything(
        &state.app,
        &p,
        pid(&id)?,
        &chart::DisclosureInput {
            consent_id: b.consent_id,
            recipient: b.recipient,
            purpose: b.purpose,
            channel: "fhir".into(),
        },
    )
    .await?;
    Ok(fhir_json(e.bundle))
}

/// A FHIR resource as the answer (`application/fhir+json`).
fn fhir_json(v: Value) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/fhir+json"),
        )],
        Json(v),
    )
        .into_response()
}

/// The search parameters of `GET /fhir/r4/{type}`.
#[derive(Deserialize, IntoParams)]
pub struct FhirSearchParams {
    /// The patient's id (required).
    pub patient: Option<String>,
    /// A day the resource is about, `YYYY-MM-DD`, after an optional prefix
    /// (`ge`, `gt`, `le`, `lt`, `eq`, `ne`); repeat it for a range.
    #[param(required = false)]
    pub date: Option<Vec<String>>,
}

/// A patient's resources of one type (Patient, EpisodeOfCare, Condition,
/// Observation, Consent, MedicationRequest, MedicationAdministration,
/// MedicationDispense) as a FHIR R4 `searchset` Bundle: a read by the
/// patient's own program (clinical staff), audited like any chart read; to
/// send records outside the program use `$everything` (a disclosure).
#[utoipa::path(get, path = "/fhir/r4/{type}", params(("type" = String, Path, description = "a FHIR resource type"), FhirSearchParams),
    responses((status = 200, description = "a FHIR R4 Bundle", content_type = "application/fhir+json", body = Object), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn fhir_search(
    State(state): State<AppState>,
    p: Principal,
    Path(kind): Path<String>,
    axum::extract::RawQuery(q): axum::extract::RawQuery,
) -> ApiResult<Response> {
    let mut patient = None;
    let mut dates = vec![];
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(q.as_deref().unwrap_or(""))
        .map_err(|_| AppError::invalid("query", "a URL-encoded query string"))?;
    for (k, v) in pairs {
        match k.as_str() {
            "patient" => patient = Some(v.trim_start_matches("Patient/").to_string()),
            "date" => dates.push(v.parse::<carepath_app::fhir::DateParam>()?),
            _ => {}
        }
    }
    let patient =
        patient.ok_or_else(|| AppError::invalid("patient", "name the patient: patient=ID"))?;
    let bundle = carepath_app::fhir::search(&state.app, &p, pid(&patient)?, &kind, &dates).await?;
    Ok(fhir_json(bundle))
}

#[derive(Serialize, ToSchema)]
pub struct DisclosureDto {
    pub id: String,
    pub disclosed_at: String,
    pub recipient: String,
    pub purpose: String,
    pub information: String,
    pub channel: String,
    pub consent_id: String,
    pub notice: String,
}

/// The accounting of disclosures (42 CFR § 2.25), newest first.
#[utoipa::path(get, path = "/api/v1/patients/{id}/disclosures", params(("id" = String, Path)), responses((status = 200, body = Vec<DisclosureDto>)))]
pub async fn list_disclosures(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<DisclosureDto>>> {
    let id = pid(&id)?;
    let s = access::open(
        &state.app,
        &p,
        id,
        Permission::ReadClinical,
        "disclosure.list",
    )
    .await?;
    Ok(Json(
        s.disclosures(&state.app)
            .await?
            .into_iter()
            .map(|d| DisclosureDto {
                id: d.id,
                disclosed_at: ts(d.disclosed_at),
                recipient: d.recipient,
                purpose: d.purpose,
                information: d.information,
                channel: d.channel,
                consent_id: d.consent_id,
                notice: d.notice,
            })
            .collect(),
    ))
}

/// Admit (or readmit: a new episode, the earlier ones stay in the history).
#[utoipa::path(post, path = "/api/v1/patients/{id}/admit", params(("id" = String, Path)), request_body = chart::AdmitInput, responses((status = 201, body = CreatedDto), (status = 409, body = ErrorBody)))]
pub async fn admit(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    b: Result<Json<chart::AdmitInput>, JsonRejection>,
) -> ApiResult<Response> {
    let id = pid(&id)?;
    let i = body(b)?;
    let eid = chart::admit(&state.app, &p, id, &i).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedDto {
            id: eid.to_string(),
            record: Value::Null,
        }),
    )
        .into_response())
}

/// Transfer to another level of care or program (closes the episode as transferred, opens the next).
#[utoipa::path(post, path = "/api/v1/patients/{id}/transfer", params(("id" = String, Path)), request_body = chart::TransferInput, responses((status = 201, body = CreatedDto)))]
pub async fn transfer(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    b: Result<Json<chart::TransferInput>, JsonRejection>,
) -> ApiResult<Response> {
    let e = chart::transfer(&state.app, &p, pid(&id)?, &body(b)?).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedDto {
            id: e.to_string(),
            record: Value::Null,
        }),
    )
        .into_response())
}

/// Discharge with a TEDS reason, summary, aftercare plan and naloxone documentation;
/// schedules the follow-up calls. Returns the ids of the records written.
#[utoipa::path(post, path = "/api/v1/patients/{id}/discharge", params(("id" = String, Path)), request_body = discharge::DischargeInput, responses((status = 201, body = Vec<String>), (status = 422, body = ErrorBody)))]
pub async fn discharge(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    b: Result<Json<discharge::DischargeInput>, JsonRejection>,
) -> ApiResult<Response> {
    let ids = chart::discharge(&state.app, &p, pid(&id)?, &body(b)?).await?;
    Ok((StatusCode::CREATED, Json(ids)).into_response())
}

/// Record the outcome of a follow-up call; `needs_reengagement` opens a referral.
#[utoipa::path(post, path = "/api/v1/followups/{rid}/outcome", params(("rid" = String, Path)), request_body = discharge::FollowUpOutcome, responses((status = 201, body = CreatedDto)))]
pub async fn followup_outcome(
    State(state): State<AppState>,
    p: Principal,
    Path(rid): Path<String>,
    b: Result<Json<discharge::FollowUpOutcome>, JsonRejection>,
) -> ApiResult<Response> {
    let referral = chart::followup_outcome(&state.app, &p, &rid, &body(b)?).await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "referral_id": referral })),
    )
        .into_response())
}

#[derive(Serialize, ToSchema)]
pub struct SessionDto {
    pub id: String,
    pub kind: String,
    pub title: String,
    pub modality: String,
    pub starts_at: String,
    pub minutes: i64,
    pub location: String,
    pub series_id: Option<String>,
}

/// Schedule a session or a weekly series on the program calendar.
#[utoipa::path(post, path = "/api/v1/programs/{pid}/sessions", params(("pid" = String, Path)), request_body = work::SeriesInput, responses((status = 201, body = Vec<String>)))]
pub async fn schedule_sessions(
    State(state): State<AppState>,
    p: Principal,
    Path(program): Path<String>,
    b: Result<Json<work::SeriesInput>, JsonRejection>,
) -> ApiResult<Response> {
    let program: ProgramId = program.parse().map_err(|_| AppError::NotFound)?;
    let ids = work::schedule(&state.app, &p, program, &body(b)?).await?;
    Ok((StatusCode::CREATED, Json(ids)).into_response())
}

#[derive(Deserialize, IntoParams)]
pub struct RangeQuery {
    /// First day, `YYYY-MM-DD` (default today).
    #[serde(default)]
    pub from: Option<String>,
    /// Number of days (default 7, max 62).
    #[serde(default)]
    pub days: Option<i64>,
}

/// Sessions on a program's calendar.
#[utoipa::path(get, path = "/api/v1/programs/{pid}/sessions", params(("pid" = String, Path), RangeQuery), responses((status = 200, body = Vec<SessionDto>)))]
pub async fn list_sessions(
    State(state): State<AppState>,
    p: Principal,
    Path(program): Path<String>,
    crate::error::ApiQuery(q): crate::error::ApiQuery<RangeQuery>,
) -> ApiResult<Json<Vec<SessionDto>>> {
    let program: ProgramId = program.parse().map_err(|_| AppError::NotFound)?;
    let (from, to) =
        work::range(&state.app, program, q.from.as_deref(), q.days.unwrap_or(7)).await?;
    let s = work::sessions(&state.app, &p, program, from, to).await?;
    Ok(Json(
        s.into_iter()
            .map(|s| SessionDto {
                id: s.id,
                kind: s.kind,
                title: s.title,
                modality: s.modality,
                starts_at: ts(s.starts_at),
                minutes: s.minutes,
                location: s.location,
                series_id: s.series_id,
            })
            .collect(),
    ))
}

/// Record attendance for a session (changes amend the earlier entry).
#[utoipa::path(post, path = "/api/v1/sessions/{sid}/attendance", params(("sid" = String, Path)), request_body = work::AttendanceInput, responses((status = 200, description = "number of entries written")))]
pub async fn record_attendance(
    State(state): State<AppState>,
    p: Principal,
    Path(sid): Path<String>,
    b: Result<Json<work::AttendanceInput>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let n = work::attendance(&state.app, &p, &sid, &body(b)?).await?;
    Ok(Json(serde_json::json!({ "written": n })))
}

/// The caller's worklist: COWS due, notes to sign and co-sign, orders to sign,
/// plan reviews, follow-up calls due this week, referrals waiting.
#[utoipa::path(get, path = "/api/v1/worklist", responses((status = 200, body = work::Worklist)))]
pub async fn worklist(
    State(state): State<AppState>,
    p: Principal,
) -> ApiResult<Json<work::Worklist>> {
    Ok(Json(work::worklist(&state.app, &p).await?))
}

/// Current registration details.
#[utoipa::path(get, path = "/api/v1/patients/{id}/profile", params(("id" = String, Path)), responses((status = 200, body = Profile)))]
pub async fn get_profile(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Profile>> {
    let id = pid(&id)?;
    Ok(Json(registration::profile(&state.app, &p, id).await?))
}

/// Replace the registration details (a new version; earlier ones are kept).
#[utoipa::path(put, path = "/api/v1/patients/{id}/profile", params(("id" = String, Path)), request_body = Profile, responses((status = 204), (status = 422, body = ErrorBody)))]
pub async fn put_profile(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    b: Result<Json<Profile>, JsonRejection>,
) -> ApiResult<StatusCode> {
    let id = pid(&id)?;
    registration::save_profile(&state.app, &p, id, &body(b)?.tidy()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Upload an identification photo (multipart field `photo`, JPEG or PNG, up to 900 kB).
/// The newest is shown at `GET /patients/{id}/photo`; earlier photos are kept.
#[utoipa::path(post, path = "/api/v1/patients/{id}/photo", params(("id" = String, Path)), request_body(content_type = "multipart/form-data", description = "field `photo`"), responses((status = 204), (status = 422, body = ErrorBody)))]
pub async fn upload_photo(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    mp: axum::extract::Multipart,
) -> ApiResult<StatusCode> {
    let bytes = crate::form::photo_part(mp).await?;
    registration::save_photo(&state.app, &p, pid(&id)?, &bytes).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrollmentInput {
    pub patient_id: String,
    /// add (default) or remove.
    #[serde(default)]
    pub action: Option<String>,
}

/// Enroll a patient in the session's group (its weekly series), or take them
/// off it. A group with enrollments is closed: only members are on its roster.
#[utoipa::path(post, path = "/api/v1/sessions/{sid}/enrollment", params(("sid" = String, Path)), request_body = EnrollmentInput, responses((status = 204), (status = 422, body = ErrorBody)))]
pub async fn enrollment(
    State(state): State<AppState>,
    p: Principal,
    Path(sid): Path<String>,
    b: Result<Json<EnrollmentInput>, JsonRejection>,
) -> ApiResult<StatusCode> {
    let i = body(b)?;
    let add = match i.action.as_deref() {
        None | Some("add") => true,
        Some("remove") => false,
        Some(_) => {
            return Err(AppError::invalid("action", "must be add or remove").into());
        }
    };
    work::enroll(&state.app, &p, &sid, &i.patient_id, add).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A program's protocol settings in force (its own, else the server's).
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProtocolDto {
    /// COWS every N hours (1–24).
    pub cows_every_h: u32,
    /// When severe, every N hours (1–24, not longer than the usual interval).
    pub cows_severe_every_h: u32,
    /// Severe from this COWS score (5–48).
    pub cows_severe_from: u8,
    /// Follow-up calls every N days (1–90)…
    pub followup_every_days: u32,
    /// …this many times (0–52).
    pub followup_count: u32,
}

/// A program's protocol settings (administrators).
#[utoipa::path(get, path = "/api/v1/programs/{pid}/protocol", params(("pid" = String, Path)), responses((status = 200, body = ProtocolDto)))]
pub async fn get_protocol(
    State(state): State<AppState>,
    p: Principal,
    Path(pid): Path<String>,
) -> ApiResult<Json<ProtocolDto>> {
    let program: ProgramId = pid.parse().map_err(|_| AppError::NotFound)?;
    let (proto, follow) = work::protocol(&state.app, &p, program).await?;
    Ok(Json(ProtocolDto {
        cows_every_h: proto.every_h,
        cows_severe_every_h: proto.severe_every_h,
        cows_severe_from: proto.severe_from,
        followup_every_days: follow.0,
        followup_count: follow.1,
    }))
}

/// Set a program's protocol settings (audited).
#[utoipa::path(put, path = "/api/v1/programs/{pid}/protocol", params(("pid" = String, Path)), request_body = ProtocolDto, responses((status = 204), (status = 422, body = ErrorBody)))]
pub async fn put_protocol(
    State(state): State<AppState>,
    p: Principal,
    Path(pid): Path<String>,
    b: Result<Json<ProtocolDto>, JsonRejection>,
) -> ApiResult<StatusCode> {
    let program: ProgramId = pid.parse().map_err(|_| AppError::NotFound)?;
    let i = body(b)?;
    work::set_protocol(
        &state.app,
        &p,
        program,
        &ProgramProtocol {
            cows_every_h: i.cows_every_h,
            cows_severe_every_h: i.cows_severe_every_h,
            cows_severe_from: i.cows_severe_from,
            followup_every_days: i.followup_every_days,
            followup_count: i.followup_count,
        },
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
