//! The public treatment finder: the JSON API (`/api/v1/facilities`) over the
//! in-memory index. No login, no cookies, no tracking.

use crate::AppState;
use crate::error::{ApiResult, AppError};
use axum::Json;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use carepath_domain::FieldError;
use carepath_finder::{Facility, Index, Query as FQuery};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

pub use carepath_app::finder::{FinderIndex, program_facility_id};

#[derive(Debug, Deserialize, IntoParams)]
pub struct SearchParams {
    /// A ZIP code, `City, ST`, or `lat,lon` (required; a place the
    /// gazetteer does not know is refused with 422).
    #[param(
        required = true,
        pattern = r"^(\d{5}|[^,]+, ?[A-Za-z]{2}|-?\d{1,2}(\.\d+)?, ?-?\d{1,3}(\.\d+)?)$"
    )]
    pub near: Option<String>,
    /// Radius in miles (omit for any distance).
    #[param(minimum = 0.0, maximum = 500.0)]
    pub radius_mi: Option<f64>,
    /// Comma-separated SAMHSA service codes, all required.
    pub codes: Option<String>,
    /// 1-based page.
    #[param(minimum = 1)]
    pub page: Option<usize>,
    /// Results per page (max 100, default 20).
    #[param(minimum = 1, maximum = 100)]
    pub page_size: Option<usize>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FacilityDto {
    pub id: String,
    pub name: String,
    pub name2: Option<String>,
    pub street: String,
    pub city: String,
    pub state: String,
    pub zip: String,
    /// The contact field as the directory wrote it.
    pub phone: Option<String>,
    /// Every number in it, each with its use and a `tel:` link that dials
    /// its extension too.
    pub phones: Vec<PhoneDto>,
    /// The files the listing came from (`samhsa-csv`, `samhsa-keys`,
    /// `otp-directory`, or `carepath` for a program's own listing).
    pub sources: Vec<String>,
    /// The day the listing was last copied into Carepath (directory listings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated: Option<String>,
    pub latitude: f64,
    pub longitude: f64,
    /// Miles from `near` (search results only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distance_mi: Option<f64>,
    pub codes: Vec<String>,
    /// Plain-language labels of the known codes.
    pub services: Vec<ServiceDto>,
    /// Live information, for programs that run Carepath.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub live: Option<carepath_finder::model::Live>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PhoneDto {
    /// `main` or `intake`.
    #[serde(rename = "use")]
    pub usage: String,
    /// "(410) 555-0100 ext. 12".
    pub display: String,
    /// "tel:+14105550100,12".
    pub tel: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceDto {
    pub code: String,
    pub category: &'static str,
    pub label: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchDto {
    pub total: usize,
    pub page: usize,
    pub page_size: usize,
    pub near: NearDto,
    pub radius_mi: Option<f64>,
    pub results: Vec<FacilityDto>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NearDto {
    pub query: String,
    pub latitude: f64,
    pub longitude: f64,
}

pub fn dto(f: &Facility, distance: Option<f64>) -> FacilityDto {
    FacilityDto {
        id: f.id.clone(),
        name: f.name.clone(),
        name2: f.name2.clone(),
        street: f.street.clone(),
        city: f.city.clone(),
        state: f.state.clone(),
        zip: f.zip.clone(),
        phone: f.phone.clone(),
        phones: f
            .phones()
            .iter()
            .map(|p| PhoneDto {
                usage: match p.usage {
                    carepath_finder::model::PhoneUse::Main => "main".into(),
                    carepath_finder::model::PhoneUse::Intake => "intake".into(),
                },
                display: p.display(),
                tel: p.tel(),
            })
            .collect(),
        sources: f.sources.clone(),
        updated: f.updated.clone(),
        latitude: f.latitude,
        longitude: f.longitude,
        distance_mi: distance.map(|d| (d * 100.0).round() / 100.0),
        codes: f.codes.clone(),
        services: f
            .codes
            .iter()
            .filter_map(|c| {
                carepath_finder::codes::describe(c).map(|(category, label)| ServiceDto {
                    code: c.clone(),
                    category,
                    label,
                })
            })
            .collect(),
        live: f.live.clone(),
    }
}

/// Validate search parameters into an index query (shared with the HTML pages).
pub fn parse_query(idx: &Index, p: &SearchParams) -> Result<(FQuery, String), AppError> {
    let near = p
        .near
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| FieldError::new("near", "give a ZIP code, \"City, ST\" or \"lat,lon\""))?;
    let (lat, lon) = idx
        .geocode(near)
        .map_err(|e| FieldError::new("near", e.0))?;
    if let Some(r) = p.radius_mi
        && !(r > 0.0 && r <= 1000.0)
    {
        return Err(FieldError::new(
            "radius_mi",
            "must be more than 0 and at most 1000 miles (omit it for any distance)",
        )
        .into());
    }
    let page_size = p.page_size.unwrap_or(20);
    if !(1..=100).contains(&page_size) {
        return Err(FieldError::new("page_size", "must be 1–100").into());
    }
    let page = p.page.unwrap_or(1);
    if page == 0 || page > 100_000 {
        return Err(FieldError::new("page", "must be 1 or more").into());
    }
    let mut codes = vec![];
    for c in p
        .codes
        .as_deref()
        .unwrap_or("")
        .split(',')
        .filter(|c| !c.trim().is_empty())
    {
        codes.push(
            carepath_finder::codes::normalize(c)
                .ok_or_else(|| FieldError::new("codes", format!("{c:?} is not a service code")))?,
        );
    }
    codes.sort();
    codes.dedup();
    Ok((
        FQuery {
            lat,
            lon,
            radius_mi: p.radius_mi,
            codes,
            any_of: vec![],
            page,
            page_size,
        },
        near.to_string(),
    ))
}

/// Search treatment facilities near a place.
#[utoipa::path(get, path = "/api/v1/facilities", security(()), params(SearchParams),
    responses((status = 200, body = SearchDto), (status = 422, body = crate::error::ErrorBody)))]
pub async fn search(
    State(state): State<AppState>,
    crate::error::ApiQuery(p): crate::error::ApiQuery<SearchParams>,
) -> ApiResult<axum::response::Response> {
    let idx = state.app.finder.get();
    let (q, near) = parse_query(&idx, &p)?;
    let r = idx.search(&q);
    let cache = state.facility_json.of(&idx);
    // The envelope through serde; each result is the facility's JSON written
    // once per index, with its distance put in front.
    let head = serde_json::to_vec(&SearchHead {
        total: r.total,
        page: q.page,
        page_size: q.page_size,
        near: NearDto {
            query: near,
            latitude: q.lat,
            longitude: q.lon,
        },
        radius_mi: q.radius_mi,
    })
    .map_err(|e| AppError::Internal(e.to_string()))?;
    let mut body = Vec::with_capacity(head.len() + 16 + r.hits.len() * 1024);
    body.extend_from_slice(&head[..head.len() - 1]);
    body.extend_from_slice(b",\"results\":[");
    for (n, h) in r.hits.iter().enumerate() {
        if n > 0 {
            body.push(b',');
        }
        cache
            .write(&mut body, h.facility, h.position as usize, h.distance_mi)
            .map_err(|e| AppError::Internal(e.to_string()))?;
    }
    body.extend_from_slice(b"]}");
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response())
}

/// [`SearchDto`] without its results, as written before them.
#[derive(Serialize)]
struct SearchHead {
    total: usize,
    page: usize,
    page_size: usize,
    near: NearDto,
    radius_mi: Option<f64>,
}

/// The API JSON of the facilities of one index, each written the first time
/// a search returns it and kept until the index is replaced: a search then
/// costs its lookup and copying bytes, not re-serializing twenty facilities
/// with their services (issue 12, item 7; figures in BENCHMARKS.md).
#[derive(Default)]
pub struct JsonCache {
    current: std::sync::RwLock<Option<(Arc<Index>, Arc<FacilityJson>)>>,
}

/// One index's facility JSON, by position in the index.
pub struct FacilityJson(Vec<std::sync::OnceLock<Box<str>>>);

impl JsonCache {
    /// The JSON slots of `idx` (a new, empty set when the index changed).
    pub fn of(&self, idx: &Arc<Index>) -> Arc<FacilityJson> {
        if let Ok(g) = self.current.read()
            && let Some((i, j)) = g.as_ref()
            && Arc::ptr_eq(i, idx)
        {
            return j.clone();
        }
        let fresh = Arc::new(FacilityJson(
            (0..idx.len()).map(|_| std::sync::OnceLock::new()).collect(),
        ));
        if let Ok(mut g) = self.current.write() {
            match g.as_ref() {
                Some((i, j)) if Arc::ptr_eq(i, idx) => return j.clone(),
                _ => *g = Some((idx.clone(), fresh.clone())),
            }
        }
        fresh
    }
}

impl FacilityJson {
    /// Append `f` (at `position` in the index) to `out` as JSON with
    /// `"distance_mi"` (rounded to hundredths) first.
    pub fn write(
        &self,
        out: &mut Vec<u8>,
        f: &Facility,
        position: usize,
        distance_mi: f64,
    ) -> serde_json::Result<()> {
        let fresh;
        let body: &str = match self.0.get(position) {
            Some(slot) => match slot.get() {
                Some(b) => b,
                None => {
                    let b = serde_json::to_string(&dto(f, None))?.into_boxed_str();
                    slot.get_or_init(|| b)
                }
            },
            // Positions come from the same index; written afresh all the same.
            None => {
                fresh = serde_json::to_string(&dto(f, None))?;
                &fresh
            }
        };
        out.extend_from_slice(b"{\"distance_mi\":");
        serde_json::to_writer(&mut *out, &((distance_mi * 100.0).round() / 100.0))?;
        out.push(b',');
        // `body` is an object: `{` then its members (never empty: `id` is first).
        out.extend_from_slice(&body.as_bytes()[1..]);
        Ok(())
    }
}

/// One facility.
#[utoipa::path(get, path = "/api/v1/facilities/{id}", security(()), params(("id" = String, Path, description = "facility id")),
    responses((status = 200, body = FacilityDto), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<FacilityDto>> {
    let idx = state.app.finder.get();
    let f = idx.get(&id).ok_or(AppError::NotFound)?;
    Ok(Json(dto(f, None)))
}

/// SAMHSA locator category code (`f2`) and label (`f1`) for Carepath's categories.
fn samhsa_category(cat: &str) -> (&'static str, &'static str) {
    match cat {
        "type_of_care" => ("TC", "Type of Care"),
        "setting" => ("SET", "Service Settings"),
        "medication" => ("OM", "Opioid Medications used in Treatment"),
        "payment" => ("PAY", "Payment/Insurance/Funding Accepted"),
        "population" => ("SG", "Special Programs/Groups Offered"),
        "age" => ("AGE", "Age Groups Accepted"),
        "gender" => ("GN", "Gender Accepted"),
        "language" => ("SL", "Language Services"),
        "ancillary" => ("AS", "Ancillary Services"),
        _ => ("TAP", "Treatment Approaches"),
    }
}

/// A search answered in the shape of SAMHSA's locator JSON export
/// (`page`, `totalPages`, `recordCount`, `rows[]` with `services[]` of `{f1, f2, f3}`).
#[utoipa::path(get, path = "/api/v1/facilities/export", security(()), params(SearchParams),
    responses((status = 200, description = "SAMHSA locator-compatible JSON", body = Object), (status = 422, body = crate::error::ErrorBody)))]
pub async fn export(
    State(state): State<AppState>,
    crate::error::ApiQuery(p): crate::error::ApiQuery<SearchParams>,
) -> ApiResult<Json<serde_json::Value>> {
    let idx = state.app.finder.get();
    let (q, _) = parse_query(&idx, &p)?;
    let r = idx.search(&q);
    let rows: Vec<serde_json::Value> = r
        .hits
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let f = h.facility;
            let mut groups: Vec<(&str, &str, Vec<&str>)> = vec![];
            for c in &f.codes {
                if let Some((cat, label)) = carepath_finder::codes::describe(c) {
                    let (code, name) = samhsa_category(cat);
                    match groups.iter_mut().find(|g| g.0 == code) {
                        Some(g) => g.2.push(label),
                        None => groups.push((code, name, vec![label])),
                    }
                }
            }
            let (street1, street2) = match f.street.split_once(", ") {
                Some((a, b)) => (a.to_string(), b.to_string()),
                None => (f.street.clone(), String::new()),
            };
            serde_json::json!({
                "_irow": (q.page - 1) * q.page_size + i + 1,
                "frid": f.id,
                "name1": f.name,
                "name2": f.name2.clone().unwrap_or_default(),
                "street1": street1,
                "street2": street2,
                "city": f.city,
                "state": f.state,
                "zip": f.zip,
                "phone": f.phone.clone().unwrap_or_default(),
                "latitude": f.latitude.to_string(),
                "longitude": f.longitude.to_string(),
                "miles": (h.distance_mi * 10.0).round() / 10.0,
                "typeFacility": "SA",
                "services": groups.iter().map(|(code, name, vals)| serde_json::json!({"f1": name, "f2": code, "f3": vals.join("; ")})).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Json(serde_json::json!({
        "page": q.page,
        "totalPages": r.total.div_ceil(q.page_size),
        "recordCount": r.total,
        "rows": rows,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fac(id: &str, codes: &[&str]) -> Facility {
        Facility {
            id: id.into(),
            name: format!("Clinic {id}"),
            name2: None,
            street: "1 Main St".into(),
            city: "Baltimore".into(),
            state: "MD".into(),
            zip: "21201".into(),
            phone: Some("(410) 555-0100 x12".into()),
            latitude: 39.3,
            longitude: -76.6,
            codes: codes.iter().map(|c| c.to_string()).collect(),
            sources: vec!["samhsa-csv".into()],
            live: None,
            updated: Some("2026-12-01".into()),
        }
    }

    /// What the cache sends is exactly the facility's DTO with its distance,
    /// the first time and from the cache; a new index starts a new cache.
    #[test]
    fn cached_json_is_the_dto_with_its_distance() {
        let cache = JsonCache::default();
        let idx = Arc::new(Index::new(vec![fac("a", &["OTP", "MD"]), fac("b", &[])]));
        for d in [0.0, 1.234_567, 12.0] {
            for id in ["a", "b"] {
                let f = idx.get(id).unwrap();
                let at = idx.position(id).unwrap();
                for _ in 0..2 {
                    let mut raw = vec![];
                    cache.of(&idx).write(&mut raw, f, at, d).unwrap();
                    let got: serde_json::Value = serde_json::from_slice(&raw).unwrap();
                    let want = serde_json::to_value(dto(f, Some(d))).unwrap();
                    assert_eq!(got, want, "{id} at {d}");
                }
            }
        }
        let first = cache.of(&idx);
        assert!(
            Arc::ptr_eq(&first, &cache.of(&idx)),
            "kept for the same index"
        );
        let other = Arc::new(Index::new(vec![fac("c", &["BU"])]));
        let second = cache.of(&other);
        assert!(!Arc::ptr_eq(&first, &second), "a new index, new JSON");
        let c = other.get("c").unwrap();
        let mut raw = vec![];
        second.write(&mut raw, c, 0, 2.5).unwrap();
        let raw = String::from_utf8(raw).unwrap();
        assert!(
            raw.starts_with("{\"distance_mi\":2.5,\"id\":\"c\""),
            "{raw}"
        );
    }
}
