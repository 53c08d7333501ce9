//! Import of the three SAMHSA directory files in `shared/data/`:
//! - `samhsa-csv`: the locator listing (name1, name2, street1, street2, city,
//!   state, zip, zip4, county, latitude, longitude), no service codes;
//! - `samhsa-keys`: the 2017 National Directory methadone listing with service
//!   codes in `Keys` (slash-separated);
//! - `otp-directory`: SAMHSA's opioid treatment program directory.
//!
//! Rows are de-duplicated by normalized name + address across files (codes
//! merged). Every skipped row is reported with its line and reason. A file
//! whose header is not one of these formats is an error and imports nothing.

use crate::codes;
use crate::geo;
use crate::model::{Facility, house, id_for, key, lead_word, name_words, normalize};
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    SamhsaCsv,
    SamhsaKeys,
    OtpDirectory,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::SamhsaCsv => "samhsa-csv",
            Format::SamhsaKeys => "samhsa-keys",
            Format::OtpDirectory => "otp-directory",
        }
    }
    pub fn parse(s: &str) -> Option<Format> {
        [Format::SamhsaCsv, Format::SamhsaKeys, Format::OtpDirectory]
            .into_iter()
            .find(|f| f.name() == s)
    }
    fn required(self) -> &'static [&'static str] {
        match self {
            Format::SamhsaCsv => &[
                "name1",
                "street1",
                "city",
                "state",
                "zip",
                "latitude",
                "longitude",
            ],
            Format::SamhsaKeys => &[
                "Name1",
                "Address1",
                "City",
                "State",
                "ZIP_Code",
                "Keys",
                "Longitude",
                "Latitude",
            ],
            Format::OtpDirectory => &[
                "ID",
                "ADDRESS",
                "CITY",
                "STATE",
                "POSTAL",
                "Latitude",
                "Longitude",
            ],
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ImportError {
    #[error("the file is not a {expected} file: missing column {missing:?} (header: {header})")]
    WrongFormat {
        expected: &'static str,
        missing: String,
        header: String,
    },
    #[error(
        "the file's format could not be recognized from its header ({0}); pass --format samhsa-csv, samhsa-keys or otp-directory"
    )]
    Unrecognized(String),
    #[error("the file is empty")]
    Empty,
    #[error("line {line}: {message}")]
    Malformed { line: u64, message: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub line: u64,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub rows: u64,
    pub added: u64,
    pub merged: u64,
    pub skipped: Vec<Skipped>,
    pub unknown_codes: BTreeMap<String, u64>,
}

/// A directory being built: facilities by de-duplication key, and where
/// each one is (for finding the same place listed under another spelling).
#[derive(Debug, Default)]
pub struct Directory {
    pub by_key: BTreeMap<String, Facility>,
    /// Keys by a grid cell of 0.01° (about 0.7 miles north–south).
    grid: HashMap<(i32, i32), Vec<String>>,
    /// Ids of stored facilities found to be another facility's place and
    /// merged into it (to be removed from the store).
    pub absorbed: Vec<String>,
}

/// Two listings this close (miles) stand at the same place, whatever their
/// addresses say: the geocoded points of one building differ by a few
/// metres between files.
const SAME_PLACE_MI: f64 = 0.15;

fn cell(lat: f64, lon: f64) -> (i32, i32) {
    ((lat * 100.0).floor() as i32, (lon * 100.0).floor() as i32)
}

/// How much of the shorter name the two names share (0–1).
fn name_overlap(a: &Facility, b: &Facility) -> f64 {
    let words = |f: &Facility| {
        let mut w = name_words(&f.name);
        if let Some(n) = &f.name2 {
            w.extend(name_words(n));
        }
        w
    };
    let (wa, wb) = (words(a), words(b));
    let shared = wa.intersection(&wb).count() as f64;
    shared / wa.len().min(wb.len()).max(1) as f64
}

/// Whether `a` and `b` are listings of one facility from different sources:
/// at the same place (within [`SAME_PLACE_MI`], or the same house number,
/// street and ZIP code) with names sharing at least half their words.
pub fn same_place(a: &Facility, b: &Facility) -> bool {
    if a.state != b.state {
        return false;
    }
    let ha = house(&a.street);
    let near = geo::haversine_mi(a.latitude, a.longitude, b.latitude, b.longitude) <= SAME_PLACE_MI
        || (ha.is_some() && ha == house(&b.street) && a.zip == b.zip);
    near && name_overlap(a, b) >= 0.5
}

/// Add what `from` knows to `into`: services, files, every phone number
/// and program name it lists.
fn merge_into(into: &mut Facility, from: Facility) {
    into.codes.extend(from.codes);
    into.codes.sort();
    into.codes.dedup();
    for s in from.sources {
        if !into.sources.contains(&s) {
            into.sources.push(s);
        }
    }
    into.phone = match (into.phone.take(), from.phone) {
        (Some(a), Some(b)) if !a.contains(b.as_str()) => Some(format!("{a}; {b}")),
        (Some(a), _) => Some(a),
        (None, b) => b,
    };
    let mut names: Vec<String> = into
        .name2
        .iter()
        .flat_map(|n| n.split("; ").map(str::to_string).collect::<Vec<_>>())
        .collect();
    for n in from.name2.into_iter().chain(
        (normalize(&from.name) != normalize(&into.name)
            && !into.name.to_lowercase().contains(&from.name.to_lowercase()))
        .then_some(from.name),
    ) {
        if !names.iter().any(|m| normalize(m) == normalize(&n)) && !n.trim().is_empty() {
            names.push(n);
        }
    }
    into.name2 = (!names.is_empty()).then(|| names.join("; "));
}

fn text(b: &[u8]) -> String {
    // The files mix UTF-8 with Windows-1252/Latin-1 bytes: decode UTF-8 when
    // valid, else byte-for-byte as Latin-1, so no character is lost.
    match std::str::from_utf8(b) {
        Ok(s) => s.trim().to_string(),
        Err(_) => b
            .iter()
            .map(|&c| c as char)
            .collect::<String>()
            .trim()
            .to_string(),
    }
}

/// Detect the format from a header line.
pub fn detect(header: &[String]) -> Option<Format> {
    let has = |c: &str| header.iter().any(|h| h == c);
    if has("Keys") && has("Name1") {
        Some(Format::SamhsaKeys)
    } else if has("POSTAL") && has("ID") {
        Some(Format::OtpDirectory)
    } else if has("name1") && has("street1") {
        Some(Format::SamhsaCsv)
    } else {
        None
    }
}

impl Directory {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a facility already in the model (e.g. loaded from the database).
    /// One found to be at the place of an earlier one is merged into it and
    /// its id listed in [`Directory::absorbed`].
    pub fn insert(&mut self, f: Facility) {
        let id = f.id.clone();
        if self.absorb(f) {
            self.absorbed.push(id);
        }
    }

    /// The facility already here that `f` is another listing of: the same
    /// normalized name and address; or, at the same place (within
    /// [`SAME_PLACE_MI`], or the same house number, street and ZIP code), a
    /// listing from another file whose name shares at least half its words
    /// — or the only one at that address, when the names share none — or a
    /// listing from the same file under the same name (one organization's
    /// programs in one building become one place with each program named).
    fn same_as(&self, f: &Facility) -> Option<String> {
        let k = key(&f.name, &f.street, &f.city, &f.state);
        if self.by_key.contains_key(&k) {
            return Some(k);
        }
        let (cy, cx) = cell(f.latitude, f.longitude);
        let fh = house(&f.street);
        let mut best: Option<(f64, f64, String)> = None;
        let mut address_matches = vec![];
        for dy in -1..=1 {
            for dx in -1..=1 {
                for ck in self.grid.get(&(cy + dy, cx + dx)).into_iter().flatten() {
                    let c = &self.by_key[ck];
                    if c.state != f.state {
                        continue;
                    }
                    let d = geo::haversine_mi(f.latitude, f.longitude, c.latitude, c.longitude);
                    let same_address = fh.is_some() && fh == house(&c.street) && c.zip == f.zip;
                    if d > SAME_PLACE_MI && !same_address {
                        continue;
                    }
                    let same_file = c.sources.iter().any(|s| f.sources.contains(s));
                    let score = if same_file {
                        // One file's listings at one place are one facility
                        // only under the same organization's name.
                        let overlap = name_overlap(f, c);
                        if normalize(&c.name) != normalize(&f.name) && overlap < 0.5 {
                            continue;
                        }
                        1.0 + overlap
                    } else {
                        if same_address {
                            address_matches.push(ck.clone());
                        }
                        // The same leading word at the same place (the
                        // files spell one clinic's name differently).
                        let lead =
                            lead_word(&f.name).is_some_and(|w| Some(w) == lead_word(&c.name));
                        name_overlap(f, c).max(if lead { 0.5 } else { 0.0 })
                    };
                    let better = best
                        .as_ref()
                        .is_none_or(|b| score > b.0 || (score == b.0 && d < b.1));
                    if better {
                        best = Some((score, d, ck.clone()));
                    }
                }
            }
        }
        match best {
            Some((score, _, k)) if score >= 0.5 => Some(k),
            _ if address_matches.len() == 1 => address_matches.pop(),
            _ => None,
        }
    }

    /// Merge `f` into the facility it is another listing of, or add it.
    /// True when merged.
    fn absorb(&mut self, f: Facility) -> bool {
        match self.same_as(&f) {
            Some(k) => {
                if let Some(existing) = self.by_key.get_mut(&k) {
                    merge_into(existing, f);
                }
                true
            }
            None => {
                let k = key(&f.name, &f.street, &f.city, &f.state);
                self.grid
                    .entry(cell(f.latitude, f.longitude))
                    .or_default()
                    .push(k.clone());
                self.by_key.insert(k, f);
                false
            }
        }
    }

    /// Import one file's bytes. On a format error nothing is added.
    pub fn import(
        &mut self,
        bytes: &[u8],
        format: Option<Format>,
    ) -> Result<(Format, Report), ImportError> {
        let mut rdr = csv::ReaderBuilder::new()
            .flexible(true)
            .has_headers(true)
            .from_reader(bytes);
        let header: Vec<String> = rdr
            .byte_headers()
            .map_err(|e| ImportError::Malformed {
                line: 1,
                message: e.to_string(),
            })?
            .iter()
            .map(text)
            .collect();
        if header.is_empty() || header.iter().all(|h| h.is_empty()) {
            return Err(ImportError::Empty);
        }
        let fmt = match format {
            Some(f) => f,
            None => detect(&header).ok_or_else(|| ImportError::Unrecognized(header.join(",")))?,
        };
        for col in fmt.required() {
            if !header.iter().any(|h| h == col) {
                return Err(ImportError::WrongFormat {
                    expected: fmt.name(),
                    missing: col.to_string(),
                    header: header.join(","),
                });
            }
        }
        let col = |name: &str| header.iter().position(|h| h == name);
        // Parse everything first; merge only when the whole file parsed.
        let mut parsed: Vec<Facility> = vec![];
        let mut report = Report::default();
        for (i, rec) in rdr.byte_records().enumerate() {
            let line = i as u64 + 2;
            let rec = rec.map_err(|e| ImportError::Malformed {
                line,
                message: e.to_string(),
            })?;
            report.rows += 1;
            let get = |name: &str| {
                col(name)
                    .and_then(|c| rec.get(c))
                    .map(text)
                    .unwrap_or_default()
            };
            let (name, name2, street, city, state, zip, phone, lat, lon, raw_codes): (
                String,
                String,
                String,
                String,
                String,
                String,
                String,
                String,
                String,
                Vec<String>,
            ) = match fmt {
                Format::SamhsaCsv => {
                    let street = [get("street1"), get("street2")]
                        .into_iter()
                        .filter(|s| !s.is_empty())
                        .collect::<Vec<_>>()
                        .join(", ");
                    (
                        get("name1"),
                        get("name2"),
                        street,
                        get("city"),
                        get("state"),
                        get("zip"),
                        String::new(),
                        get("latitude"),
                        get("longitude"),
                        vec![],
                    )
                }
                Format::SamhsaKeys => {
                    let name2 = [get("Name2"), get("Name3")]
                        .into_iter()
                        .filter(|s| !s.is_empty())
                        .collect::<Vec<_>>()
                        .join(" ");
                    let street = [get("Address1"), get("Address2"), get("Address3")]
                        .into_iter()
                        .filter(|s| !s.is_empty())
                        .collect::<Vec<_>>()
                        .join(", ");
                    let codes = get("Keys").split('/').map(str::to_string).collect();
                    (
                        get("Name1"),
                        name2,
                        street,
                        get("City"),
                        get("State"),
                        get("ZIP_Code"),
                        get("Contact"),
                        get("Latitude"),
                        get("Longitude"),
                        codes,
                    )
                }
                Format::OtpDirectory => {
                    // Every listing in the OTP directory is a federally certified OTP.
                    (
                        get("ID"),
                        String::new(),
                        get("ADDRESS"),
                        get("CITY"),
                        get("STATE"),
                        get("POSTAL"),
                        String::new(),
                        get("Latitude"),
                        get("Longitude"),
                        vec!["OTP".to_string()],
                    )
                }
            };
            let skip = |reason: &str| Skipped {
                line,
                reason: reason.to_string(),
            };
            if name.is_empty() {
                report.skipped.push(skip("no facility name"));
                continue;
            }
            let state = state.to_uppercase();
            if state.len() != 2 || !state.chars().all(|c| c.is_ascii_alphabetic()) {
                report
                    .skipped
                    .push(skip(&format!("state {state:?} is not a two-letter code")));
                continue;
            }
            let (Ok(la), Ok(lo)) = (lat.parse::<f64>(), lon.parse::<f64>()) else {
                report.skipped.push(skip(&format!(
                    "missing or unreadable coordinates ({lat:?}, {lon:?})"
                )));
                continue;
            };
            if !geo::valid(la, lo) {
                report.skipped.push(skip(&format!(
                    "coordinates ({la}, {lo}) are not a position"
                )));
                continue;
            }
            let mut codes_v: Vec<String> = vec![];
            for c in raw_codes.iter().filter_map(|c| codes::normalize(c)) {
                if codes::describe(&c).is_none() {
                    *report.unknown_codes.entry(c.clone()).or_default() += 1;
                }
                codes_v.push(c);
            }
            codes_v.sort();
            codes_v.dedup();
            let zip5: String = zip.chars().filter(|c| c.is_ascii_digit()).take(5).collect();
            let k = key(&name, &street, &city, &state);
            parsed.push(Facility {
                id: id_for(&k),
                name,
                name2: (!name2.is_empty()).then_some(name2),
                street,
                city,
                state,
                zip: format!("{zip5:0>5}"),
                phone: (!phone.is_empty()).then_some(phone),
                latitude: la,
                longitude: lo,
                codes: codes_v,
                sources: vec![fmt.name().to_string()],
                live: None,
                updated: None,
            });
        }
        for f in parsed {
            if self.absorb(f) {
                report.merged += 1;
            } else {
                report.added += 1;
            }
        }
        Ok((fmt, report))
    }

    pub fn into_facilities(self) -> Vec<Facility> {
        self.by_key.into_values().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = "name1,name2,street1,street2,city,state,zip,zip4,county,latitude,longitude\n\
A New Beginning,,122 Helton Court,,Florence,AL,35630,1465,Lauderdale,34.832909,-87.66639\n\
No Coordinates Clinic,,1 Main St,,Town,AL,35000,,X,,\n\
,,2 Main St,,Town,AL,35000,,X,34.1,-87.1\n";

    const KEYS: &str = "Name1,Name2,Name3,Address1,Address2,Address3,City,State,ZIP_Code,Contact,Note,Keys,ID,Longitude,Latitude,Match Score\n\
A New Beginning Inc,,,122 Helton Ct,,,Florence,AL,35630,(256)555-0100,,SA/METH/OTP/MD/ZZTOP/,X1,-87.66639,34.832909,100\n";

    #[test]
    fn imports_dedupes_and_reports() {
        let mut d = Directory::new();
        let (f, r) = d.import(CSV.as_bytes(), None).unwrap();
        assert_eq!(f, Format::SamhsaCsv);
        assert_eq!((r.rows, r.added, r.skipped.len()), (3, 1, 2));
        assert_eq!(r.skipped[0].line, 3);
        let (f, r) = d.import(KEYS.as_bytes(), None).unwrap();
        assert_eq!(f, Format::SamhsaKeys);
        assert_eq!(
            (r.added, r.merged),
            (0, 1),
            "same facility, spelled differently"
        );
        assert_eq!(r.unknown_codes.get("ZZTOP"), Some(&1));
        let all = d.into_facilities();
        assert_eq!(all.len(), 1);
        assert!(
            all[0].codes.contains(&"METH".to_string())
                && all[0].codes.contains(&"ZZTOP".to_string())
        );
        assert_eq!(all[0].phone.as_deref(), Some("(256)555-0100"));
        assert_eq!(all[0].sources, vec!["samhsa-csv", "samhsa-keys"]);
    }

    #[test]
    fn one_facility_per_place_across_files() {
        let csv = "name1,name2,street1,street2,city,state,zip,zip4,county,latitude,longitude\n\
Integrity House,,103 Lincoln Park,,Newark,NJ,07102,,Essex,40.73570,-74.17240\n\
CURA Inc,Newark Outpatient,103 Lincoln Park,,Newark,NJ,07102,,Essex,40.73571,-74.17241\n\
Project Renewal,Medically Monitored Crisis,8 East 3rd Street,,New York,NY,10003,,NY,40.72580,-73.99100\n\
Project Renewal,Medically Supervised Outpatient,8 E 3rd St,Floor 2,New York,NY,10003,,NY,40.72581,-73.99101\n\
Harbor House,,1 Water St,,Baltimore,MD,21202,,B,39.28900,-76.61000\n";
        let keys = "Name1,Name2,Name3,Address1,Address2,Address3,City,State,ZIP_Code,Contact,Note,Keys,ID,Longitude,Latitude,Match Score\n\
Integrity House Incorporated,,,103 Lincoln Park Avenue,,,Newark,NJ,07102,(973)623-0600x12 Intake: (973)623-0601,,OTP/MM/,X1,-74.17290,40.73600,100\n\
Totally Different Place,,,1 Water Street,,,Baltimore,MD,21202,(410)555-0100,,OTP/,X2,-76.61700,39.28100,100\n";
        let otp = "ID,ADDRESS,CITY,STATE,POSTAL,Latitude,Longitude\n\
Unrelated OTP LLC,9 Other Rd,Newark,NJ,07102,40.80000,-74.20000\n";
        let mut d = Directory::new();
        d.import(csv.as_bytes(), None).unwrap();
        let (_, r) = d.import(keys.as_bytes(), None).unwrap();
        assert_eq!((r.added, r.merged), (0, 2));
        d.import(otp.as_bytes(), None).unwrap();
        let all = d.into_facilities();
        let named = |n: &str| all.iter().filter(|f| f.name == n).collect::<Vec<_>>();
        // The same clinic in two files, spelled and geocoded differently: one
        // facility with the phone, services and both sources.
        let ih = named("Integrity House");
        assert_eq!(ih.len(), 1);
        assert_eq!(ih[0].phones().len(), 2);
        assert_eq!(ih[0].sources, vec!["samhsa-csv", "samhsa-keys"]);
        assert!(ih[0].codes.contains(&"OTP".to_string()));
        assert!(named("Integrity House Incorporated").is_empty());
        // Another organization in the same building stays its own listing.
        assert_eq!(named("CURA Inc").len(), 1);
        assert!(named("CURA Inc")[0].phone.is_none());
        // One organization's two programs at one address: one place, both named.
        let pr = named("Project Renewal");
        assert_eq!(pr.len(), 1);
        assert_eq!(
            pr[0].name2.as_deref(),
            Some("Medically Monitored Crisis; Medically Supervised Outpatient")
        );
        // The same house number and ZIP code, the only listing there from the
        // other file: one place, even under another name and geocoded apart.
        assert_eq!(named("Harbor House").len(), 1);
        assert!(named("Harbor House")[0].phone.is_some());
        assert_eq!(all.len(), 5, "and the unrelated OTP");
    }

    #[test]
    fn stored_duplicates_are_folded_on_the_next_import() {
        let mut a = Directory::new();
        a.import(
            b"ID,ADDRESS,CITY,STATE,POSTAL,Latitude,Longitude\nIntegrity House OTP,103 Lincoln Park,Newark,NJ,07102,40.7357,-74.1724\n",
            None,
        )
        .unwrap();
        let mut b = Directory::new();
        b.import(
            b"Name1,Name2,Name3,Address1,Address2,Address3,City,State,ZIP_Code,Contact,Note,Keys,ID,Longitude,Latitude,Match Score\nIntegrity House Inc,,,103 Lincoln Park Ave,,,Newark,NJ,07102,(973)623-0600,,OTP/,X1,-74.1729,40.7360,100\n",
            None,
        )
        .unwrap();
        // Both stored separately (as an import before merging by place did).
        let mut stored = a.into_facilities();
        stored.extend(b.into_facilities());
        let mut d = Directory::new();
        for f in stored {
            d.insert(f);
        }
        assert_eq!(d.absorbed.len(), 1);
        assert_eq!(d.into_facilities().len(), 1);
    }

    #[test]
    fn malformed_files_change_nothing() {
        let mut d = Directory::new();
        assert!(matches!(
            d.import(b"foo,bar\n1,2\n", None),
            Err(ImportError::Unrecognized(_))
        ));
        assert!(matches!(
            d.import(CSV.as_bytes(), Some(Format::OtpDirectory)),
            Err(ImportError::WrongFormat { .. })
        ));
        assert!(d.by_key.is_empty());
        // Latin-1 bytes are kept, not dropped.
        let latin = b"ID,ADDRESS,CITY,STATE,POSTAL,Latitude,Longitude\nCl\xednica Esperanza,1 Calle,San Juan,PR,00901,18.46,-66.1\n";
        let (_, r) = d.import(latin, None).unwrap();
        assert_eq!(r.added, 1);
        assert!(d.into_facilities()[0].name.contains('í'));
    }
}
