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
use crate::model::{Facility, id_for, key};
use std::collections::BTreeMap;

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

/// A directory being built: facilities by de-duplication key.
#[derive(Debug, Default)]
pub struct Directory {
    pub by_key: BTreeMap<String, Facility>,
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
    pub fn insert(&mut self, f: Facility) {
        let k = key(&f.name, &f.street, &f.city, &f.state);
        self.by_key.insert(k, f);
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
            });
        }
        for f in parsed {
            let k = key(&f.name, &f.street, &f.city, &f.state);
            match self.by_key.get_mut(&k) {
                Some(existing) => {
                    report.merged += 1;
                    existing.codes.extend(f.codes);
                    existing.codes.sort();
                    existing.codes.dedup();
                    if !existing.sources.contains(&f.sources[0]) {
                        existing.sources.push(f.sources[0].clone());
                    }
                    if existing.phone.is_none() {
                        existing.phone = f.phone;
                    }
                }
                None => {
                    report.added += 1;
                    self.by_key.insert(k, f);
                }
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
