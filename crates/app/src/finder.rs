//! The treatment finder's index: the facility directory and the programs'
//! own listings, built into one in-memory spatial index off the request
//! path and swapped in whole when either changes; and the directory import.

use crate::App;
use crate::error::Result;
use carepath_domain::audit::Outcome;
use carepath_finder::{Facility, Index};
use std::sync::{Arc, RwLock};

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
        let programs = program_facilities(store).await?;
        // A program that runs Carepath replaces its own directory listing:
        // one place, shown once, with what its staff keep current.
        facilities.retain(|f| {
            !programs
                .iter()
                .any(|p| carepath_finder::import::same_place(p, f))
        });
        facilities.extend(programs);
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
        let mut codes = l.codes.0.clone();
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
                hours: p.hours.trim().to_string(),
            }),
            updated: None,
        });
    }
    Ok(out)
}

impl App {
    /// Rebuild the finder's index if the directory or a listing changed.
    pub async fn refresh_finder(&self) -> Result<bool> {
        Ok(self.finder.refresh(&self.store).await?)
    }
}

/// The outcome of a directory import.
#[derive(Debug)]
pub struct Imported {
    pub format: carepath_finder::import::Format,
    pub report: carepath_finder::import::Report,
    /// Facilities before and after.
    pub before: usize,
    pub total: usize,
}

/// Import a SAMHSA directory file, merged with what is stored (duplicates by
/// normalized name and address merged), in one unit of work: a malformed
/// file changes nothing. Audited as the principal's import.
pub async fn import(
    app: &App,
    who: &crate::Principal,
    bytes: &[u8],
    format: Option<carepath_finder::import::Format>,
    source: &str,
) -> Result<Imported> {
    use carepath_finder::import::Directory;
    let mut dir = Directory::new();
    for f in app.store.facilities().await? {
        dir.insert(f);
    }
    let before = dir.by_key.len() + dir.absorbed.len();
    let (format, report) = dir.import(bytes, format).map_err(|e| {
        crate::Error::invalid("file", format!("{source}: {e} (nothing was imported)"))
    })?;
    // Stored listings found to be one place with another (an import before
    // listings were merged by place) are folded into it and removed.
    let absorbed = std::mem::take(&mut dir.absorbed);
    let all = dir.into_facilities();
    let mut tx = app.begin().await?;
    tx.delete_facilities(&absorbed).await?;
    tx.upsert_facilities(&all).await?;
    tx.audit(who.event("finder.import", Outcome::Success).detail(format!(
        "{} {source}: {} rows, {} added, {} merged, {} skipped",
        format.name(),
        report.rows,
        report.added,
        report.merged,
        report.skipped.len()
    )));
    tx.commit().await?;
    Ok(Imported {
        format,
        report,
        before,
        total: all.len(),
    })
}

/// Every facility in the directory (no live listings).
pub async fn directory(app: &App) -> Result<Vec<Facility>> {
    Ok(app.store.facilities().await?)
}

/// Replace the stored directory's facilities with `facilities` as given (a
/// benchmark's or a test's fixture; imports merge with [`import`]).
pub async fn replace(app: &App, who: &crate::Principal, facilities: Vec<Facility>) -> Result<u64> {
    let mut tx = app.begin().await?;
    let n = tx.upsert_facilities(&facilities).await?;
    tx.audit(
        who.event("finder.load", Outcome::Success)
            .detail(format!("facilities={n}")),
    );
    tx.commit().await?;
    Ok(n)
}
