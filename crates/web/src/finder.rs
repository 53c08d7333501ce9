//! The public treatment finder: the JSON API (`/api/v1/facilities`) over the
//! in-memory index. No login, no cookies, no tracking.

use crate::AppState;
use crate::error::{ApiResult, AppError};
use axum::Json;
use axum::extract::{Path, Query, State};
use carepath_domain::FieldError;
use carepath_finder::{Facility, Index, Query as FQuery};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, RwLock};
use utoipa::{IntoParams, ToSchema};

/// The directory version (facility count, last change; listing count, last
/// verification) an index was built from.
type Version = ((i64, i64), (i64, i64));

/// The current index and the directory version it was built from.
#[derive(Default)]
pub struct FinderIndex {
    current: RwLock<Option<(Arc<Index>, Version)>>,
}

impl FinderIndex {
    /// The index in use (an empty one before the first load).
    pub fn get(&self) -> Arc<Index> {
        self.current
            .read()
            .ok()
            .and_then(|g| g.as_ref().map(|c| c.0.clone()))
            .unwrap_or_else(|| Arc::new(Index::new(vec![])))
    }

    /// Rebuild if the stored directory changed; the old index serves until the
    /// new one is ready, then is swapped in whole.
    pub async fn refresh(
        &self,
        store: &carepath_store::Store,
    ) -> Result<bool, carepath_store::StoreError> {
        let version = (
            store.facilities_version().await?,
            store.listings_version().await?,
        );
        let unchanged = self
            .current
            .read()
            .ok()
            .is_some_and(|g| g.as_ref().is_some_and(|c| c.1 == version));
        if unchanged {
            return Ok(false);
        }
        let mut facilities = store.facilities().await?;
        facilities.extend(program_facilities(store).await?);
        let idx = tokio::task::spawn_blocking(move || Index::new(facilities))
            .await
            .map_err(|e| carepath_store::StoreError::Config(e.to_string()))?;
        tracing::info!(facilities = idx.len(), "finder index built");
        if let Ok(mut g) = self.current.write() {
            *g = Some((Arc::new(idx), version));
        }
        Ok(true)
    }
}

/// The id under which a Carepath program appears in the finder.
pub fn program_facility_id(p: carepath_domain::ids::ProgramId) -> String {
    format!("cp-{p}")
}

/// Programs of this instance with a listing, as finder facilities with live information.
pub async fn program_facilities(
    store: &carepath_store::Store,
) -> Result<Vec<Facility>, carepath_store::StoreError> {
    let programs = store.list_programs().await?;
    let mut out = vec![];
    for (pid, l) in store.program_listings().await? {
        let Some(p) = programs.iter().find(|g| g.id == pid) else {
            continue;
        };
        // Address "street, city, ST ZIP".
        let parts: Vec<&str> = p.address.split(',').map(str::trim).collect();
        let (street, city, st_zip) = match parts.as_slice() {
            [street, city, st_zip, ..] => {
                (street.to_string(), city.to_string(), st_zip.to_string())
            }
            _ => (p.address.clone(), String::new(), String::new()),
        };
        let mut sz = st_zip.split_whitespace();
        let (state, zip) = (
            sz.next().unwrap_or("").to_string(),
            sz.next().unwrap_or("").to_string(),
        );
        let mut codes = l.codes.clone();
        codes.sort();
        codes.dedup();
        let verified = jiff::Timestamp::from_microsecond(l.last_verified_at)
            .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC).date().to_string())
            .unwrap_or_default();
        out.push(Facility {
            id: program_facility_id(pid),
            name: p.name.clone(),
            name2: None,
            street,
            city,
            state,
            zip,
            phone: Some(l.phone.clone()),
            latitude: l.latitude,
            longitude: l.longitude,
            codes,
            sources: vec!["carepath".into()],
            live: Some(carepath_finder::model::Live {
                program_id: pid.to_string(),
                accepting_new_patients: l.accepting_new_patients,
                open_beds: l.open_beds,
                waitlist_days: l.waitlist_days,
                same_day_medication: l.same_day_medication,
                last_verified: verified,
            }),
        });
    }
    Ok(out)
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct SearchParams {
    /// A ZIP code, `City, ST`, or `lat,lon`.
    pub near: Option<String>,
    /// Radius in miles (omit for any distance).
    pub radius_mi: Option<f64>,
    /// Comma-separated SAMHSA service codes, all required.
    pub codes: Option<String>,
    /// 1-based page.
    pub page: Option<usize>,
    /// Results per page (max 100, default 20).
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
    pub phone: Option<String>,
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
pub struct ServiceDto {
    pub code: String,
    pub category: String,
    pub label: String,
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
        latitude: f.latitude,
        longitude: f.longitude,
        distance_mi: distance.map(|d| (d * 100.0).round() / 100.0),
        codes: f.codes.clone(),
        services: f
            .codes
            .iter()
            .filter_map(|c| {
                carepath_finder::codes::describe(c).map(|(cat, label)| ServiceDto {
                    code: c.clone(),
                    category: cat.into(),
                    label: label.into(),
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
    Query(p): Query<SearchParams>,
) -> ApiResult<Json<SearchDto>> {
    let idx = state.finder.get();
    let (q, near) = parse_query(&idx, &p)?;
    let r = idx.search(&q);
    Ok(Json(SearchDto {
        total: r.total,
        page: q.page,
        page_size: q.page_size,
        near: NearDto {
            query: near,
            latitude: q.lat,
            longitude: q.lon,
        },
        radius_mi: q.radius_mi,
        results: r
            .hits
            .iter()
            .map(|h| dto(h.facility, Some(h.distance_mi)))
            .collect(),
    }))
}

/// One facility.
#[utoipa::path(get, path = "/api/v1/facilities/{id}", security(()), params(("id" = String, Path, description = "facility id")),
    responses((status = 200, body = FacilityDto), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<FacilityDto>> {
    let idx = state.finder.get();
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
    Query(p): Query<SearchParams>,
) -> ApiResult<Json<serde_json::Value>> {
    let idx = state.finder.get();
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
