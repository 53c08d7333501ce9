//! The state report: TEDS admission and discharge records of a program for a
//! reporting period (DOMAIN-regulatory.md § 5), from the episodes, the
//! intake assessments and the discharge summaries. The mapping to TEDS
//! elements is pure (`clinical::teds`); this module reads the record through
//! the one access path (each patient's record opened, and audited, as
//! `teds.extract`), names every missing or invalid element of every record,
//! and writes the extract as CSV (columns in docs/TEDS.md). The same data
//! gives the same bytes: rows are ordered by admission day and episode id,
//! and nothing of the moment of the run enters the file.

use crate::access::{self, PatientScope};
use crate::actor::Principal;
use crate::error::{Error, Problems, Result};
use crate::kinds::{Body, Entry, Kind};
use crate::{App, clock::DAY_US};
use carepath_clinical::teds::{self, AdmissionFacts, DischargeFacts, IntakeFacts, Row};
use carepath_domain::audit::Outcome;
use carepath_domain::authz::Permission;
use carepath_domain::ids::{PatientId, ProgramId};
use carepath_domain::program::parse_time_zone;
use jiff::civil::Date;
use sha2::Digest;
use std::collections::BTreeMap;

/// A reporting period: the days `from` to `to`, both included, in the
/// program's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Period {
    pub from: Date,
    pub to: Date,
}

impl Period {
    /// Read a period from two `YYYY-MM-DD` dates; every bad field is named.
    pub fn parse(from: &str, to: &str) -> Result<Period> {
        let mut p = Problems::new();
        let date = |field: &'static str, v: &str| {
            v.trim()
                .parse::<Date>()
                .map_err(|_| Error::invalid(field, "must be a date, YYYY-MM-DD"))
        };
        let from = p.take(date("from", from));
        let to = p.take(date("to", to));
        if let (Some(f), Some(t)) = (from, to)
            && t < f
        {
            p.add("to", "the period ends before it starts");
        }
        p.finish()?;
        match (from, to) {
            (Some(from), Some(to)) => Ok(Period { from, to }),
            _ => Err(Error::Internal("period checks".into())),
        }
    }

    /// The calendar quarter before the one holding `today`.
    pub fn last_quarter(today: Date) -> Period {
        let q = (today.month() - 1) / 3;
        let (y, q) = if q == 0 {
            (today.year() - 1, 3)
        } else {
            (today.year(), q - 1)
        };
        let from = jiff::civil::date(y, q * 3 + 1, 1);
        let to = from
            .checked_add(jiff::Span::new().months(3))
            .and_then(|d| d.checked_sub(jiff::Span::new().days(1)))
            .unwrap_or(from);
        Period { from, to }
    }
}

/// Which file of the extract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Admissions,
    Discharges,
}

impl Which {
    pub fn parse(s: &str) -> Result<Which> {
        match s {
            "admissions" => Ok(Which::Admissions),
            "discharges" => Ok(Which::Discharges),
            _ => Err(Error::invalid("type", "must be admissions or discharges")),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Which::Admissions => "admissions",
            Which::Discharges => "discharges",
        }
    }
}

/// The TEDS records of a program for a period.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Extract {
    pub program: ProgramId,
    pub program_name: String,
    pub period: Period,
    pub admissions: Vec<Row>,
    pub discharges: Vec<Row>,
    /// Each record's patient (by episode id): where to fix a problem.
    pub patients: BTreeMap<String, RecordPatient>,
}

/// The patient a record is about, as the preview names them (read once,
/// through the access path that opened the record).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RecordPatient {
    pub id: PatientId,
    /// "Name (MRN)".
    pub label: String,
}

impl Extract {
    /// How many records cannot be submitted as they are.
    pub fn records_with_problems(&self) -> usize {
        self.admissions
            .iter()
            .chain(&self.discharges)
            .filter(|r| !r.problems.is_empty())
            .count()
    }

    /// How many element problems in all.
    pub fn problems(&self) -> usize {
        self.admissions
            .iter()
            .chain(&self.discharges)
            .map(|r| r.problems.len())
            .sum()
    }

    /// One file of the extract: a header of TEDS element names, then one
    /// line per record.
    pub fn csv(&self, which: Which) -> String {
        let (cols, rows): (&[&str], _) = match which {
            Which::Admissions => (&teds::ADMISSION_COLUMNS, &self.admissions),
            Which::Discharges => (&teds::DISCHARGE_COLUMNS, &self.discharges),
        };
        let mut out = cols.join(",");
        out.push('\n');
        for r in rows {
            out.push_str(&r.values.join(","));
            out.push('\n');
        }
        out
    }

    /// The file name of one part: `teds-admissions-<program>-<from>-<to>.csv`.
    pub fn file_name(&self, which: Which) -> String {
        format!(
            "teds-{}-{}-{}-{}.csv",
            which.as_str(),
            self.program,
            self.period.from,
            self.period.to
        )
    }

    /// SHA-256 of both files: a re-run over the same records gives the same.
    pub fn digest(&self) -> String {
        let mut h = sha2::Sha256::new();
        h.update(self.csv(Which::Admissions));
        h.update(self.csv(Which::Discharges));
        hex::encode(h.finalize())
    }
}

fn day_of(us: i64, tz: &jiff::tz::TimeZone) -> Date {
    jiff::Timestamp::from_microsecond(us)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .to_zoned(tz.clone())
        .date()
}

/// The intake assessment of an episode (its current version): of those
/// filed in the episode, or in the program from 30 days before the
/// admission to the episode's end, the first that asked the state-report
/// items, else the first.
fn intake_of<'a>(
    entries: &'a [Entry],
    ep: &carepath_store::Episode,
) -> Option<&'a crate::kinds::assessment::AssessmentBody> {
    let mut found: Vec<&Entry> = access::current(entries, Kind::Assessment)
        .filter(|e| e.program_id == ep.program_id)
        .filter(|e| {
            e.episode_id.as_deref() == Some(&ep.id.to_string())
                || (e.occurred_at >= ep.admitted_at - 30 * DAY_US
                    && ep.discharged_at.is_none_or(|d| e.occurred_at <= d))
        })
        .collect();
    found.sort_by_key(|e| (e.occurred_at, e.id.clone()));
    let bodies: Vec<_> = found
        .into_iter()
        .filter_map(|e| match &e.body {
            Body::Assessment(a) => Some(a.as_ref()),
            _ => None,
        })
        .collect();
    let asked = |a: &&&crate::kinds::assessment::AssessmentBody| {
        a.input.teds != carepath_clinical::teds::Intake::default()
    };
    bodies.iter().find(asked).or(bodies.first()).copied()
}

fn intake_facts(a: &crate::kinds::assessment::AssessmentBody) -> IntakeFacts {
    let flag = |f: &str| a.input.flags.iter().chain(&a.flags).any(|x| x == f);
    IntakeFacts {
        substances: a
            .input
            .substances
            .iter()
            .map(|s| (s.code, s.route, s.frequency, s.age_first_use))
            .collect(),
        prior_episodes: a.input.prior_treatment_episodes,
        pregnancy: a.input.pregnancy.clone(),
        veteran: flag("veteran"),
        co_occurring: flag("co_occurring"),
        diagnosis: a.diagnosis.icd10cm.clone(),
        teds: a.input.teds.clone(),
    }
}

/// The medications for opioid use disorder (TEDS METHUSE).
const MOUD: [&str; 4] = [
    "methadone",
    "buprenorphine",
    "buprenorphine_naloxone",
    "naltrexone",
];

async fn facts(
    app: &App,
    sc: &PatientScope,
    entries: &[Entry],
    ep: &carepath_store::Episode,
    tz: &jiff::tz::TimeZone,
) -> Result<AdmissionFacts> {
    let p = &sc.patient;
    let admitted_on = day_of(ep.admitted_at, tz);
    let stay_days = ep.discharged_at.map(|d| {
        admitted_on
            .until(day_of(d, tz))
            .map(|s| s.get_days() as i64)
            .unwrap_or(0)
    });
    let orders = app.store.orders(p.id).await?;
    let moud = ep.level_of_care == "opioid_treatment_program"
        || orders.iter().any(|o| {
            o.program_id == ep.program_id
                && MOUD.contains(&o.medication.as_str())
                && o.ordered_at >= ep.admitted_at - DAY_US
                && ep.discharged_at.is_none_or(|d| o.ordered_at <= d)
        });
    Ok(AdmissionFacts {
        provider: ep.program_id.to_string(),
        case_id: ep.id.to_string(),
        client_id: p.mrn.clone(),
        admitted_on,
        level: ep.level_of_care.clone(),
        stay_days,
        date_of_birth: p
            .date_of_birth
            .parse()
            .map_err(|_| Error::Internal("stored date of birth".into()))?,
        sex: p.sex.clone(),
        moud,
        intake: intake_of(entries, ep).map(intake_facts),
    })
}

/// The TEDS extract of `program` for `period`, read by clinical staff of the
/// program (ReadClinical there), every patient's record opened through the
/// access path. Admissions: episodes admitted in the period; discharges:
/// episodes discharged in it.
pub async fn extract(
    app: &App,
    who: &Principal,
    program: ProgramId,
    period: Period,
) -> Result<Extract> {
    if !who.holds_in(program, Permission::ReadClinical) {
        app.audit(
            who.event("teds.extract", Outcome::Denied)
                .detail(format!("program={program}")),
        )
        .await?;
        return Err(Error::Forbidden(
            "the state report is prepared by clinical staff of the program".into(),
        ));
    }
    let prog = app
        .store
        .list_programs()
        .await?
        .into_iter()
        .find(|g| g.id == program)
        .ok_or(Error::NotFound)?;
    let tz = parse_time_zone(&prog.timezone).map_err(Error::from)?;
    let start = period
        .from
        .to_zoned(tz.clone())
        .map(|z| z.timestamp().as_microsecond())
        .map_err(|e| Error::Internal(e.to_string()))?;
    let in_period = |us: i64| {
        let d = day_of(us, &tz);
        d >= period.from && d <= period.to
    };
    let mut by_patient: BTreeMap<PatientId, Vec<carepath_store::Episode>> = BTreeMap::new();
    for ep in app.store.program_episodes(program, start).await? {
        if in_period(ep.admitted_at) || ep.discharged_at.is_some_and(in_period) {
            by_patient.entry(ep.patient_id).or_default().push(ep);
        }
    }
    let mut admissions = vec![];
    let mut discharges = vec![];
    let mut patients = BTreeMap::new();
    for (pid, eps) in by_patient {
        let sc = access::open(app, who, pid, Permission::ReadClinical, "teds.extract").await?;
        let entries = sc
            .entries(app, &[Kind::Assessment, Kind::Discharge])
            .await?;
        for ep in eps {
            patients.insert(
                ep.id.to_string(),
                RecordPatient {
                    id: pid,
                    label: format!("{} ({})", sc.patient.display_name(), sc.patient.mrn),
                },
            );
            let f = facts(app, &sc, &entries, &ep, &tz).await?;
            if in_period(ep.admitted_at) {
                admissions.push((f.admitted_on, teds::admission_record(&f)));
            }
            if let Some(d) = ep.discharged_at.filter(|d| in_period(*d)) {
                let summary = access::current(&entries, Kind::Discharge)
                    .filter(|e| e.episode_id.as_deref() == Some(&ep.id.to_string()))
                    .find_map(|e| match &e.body {
                        Body::Discharge(b) => Some(b.clone()),
                        _ => None,
                    });
                let reason = summary.as_ref().map(|s| s.reason_code).or_else(|| {
                    ep.discharge_reason.as_deref().and_then(|k| {
                        teds::DISCHARGE_KEYS
                            .iter()
                            .find(|(_, key)| *key == k)
                            .map(|(c, _)| *c)
                    })
                });
                let row = teds::discharge_record(&DischargeFacts {
                    discharged_on: day_of(d, &tz),
                    reason,
                    teds: summary.and_then(|s| s.teds),
                    admission: f,
                });
                discharges.push((day_of(d, &tz), row));
            }
        }
    }
    let order = |v: &mut Vec<(Date, Row)>| {
        v.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.case_id.cmp(&b.1.case_id)));
        std::mem::take(v)
            .into_iter()
            .map(|(_, r)| r)
            .collect::<Vec<_>>()
    };
    let out = Extract {
        program,
        program_name: prog.name.clone(),
        period,
        admissions: order(&mut admissions),
        discharges: order(&mut discharges),
        patients,
    };
    app.audit(who.event("teds.extract", Outcome::Success).detail(format!(
        "program={program} period={}..{} admissions={} discharges={} problems={}",
        period.from,
        period.to,
        out.admissions.len(),
        out.discharges.len(),
        out.problems()
    )))
    .await?;
    Ok(out)
}
