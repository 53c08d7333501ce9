//! `carepath bench dashboard`: the director's dashboards on five years of an
//! opioid treatment program (2,000 patients by default: episodes, orders,
//! daily doses and take-homes, weekly drug tests, incentives, notes,
//! overdoses and kits, aftercare follow-up calls, call-back requests).
//!
//! The program, its staff and products are made through the services; the
//! five years of rows are generated deterministically and bulk-loaded
//! (SQLite: multi-row inserts in one transaction; PostgreSQL: COPY) — the
//! same rows on both databases, and written as CSV for DuckDB. Each
//! dashboard is then timed as the page computes it (`work::trends` for the
//! census, admissions, discharges and retention; `dashboard::*` for the
//! outcomes) over the twelve months the page shows and over all five
//! years. DuckDB (PyPI `duckdb`, through `--duckdb-python`) loads the CSVs
//! and runs the same aggregates — the store's SQL text itself where the
//! store computes in SQL; for the patient-days due, which the application
//! computes from order and episode spans, an SQL expansion of the same
//! spans — and its answers are checked against ours. Results belong in
//! BENCHMARKS.md.

use crate::bench::pct;
use crate::scratch::Scratch;
use anyhow::{Context, Result};
use carepath_app::clock::{Clock, DAY_US, ManualClock, SystemClock};
use carepath_app::dashboard::{self, Window};
use carepath_app::{App, Principal, admin, work};
use carepath_domain::program::{ProgramKind, clinic_day};
use carepath_store::dashboard::MonthRange;
use carepath_store::{Backend, NewProgram, Program};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct DashboardArgs {
    /// Patients over the whole period.
    #[arg(long, default_value_t = 2_000)]
    pub patients: usize,
    /// Years of history.
    #[arg(long, default_value_t = 5)]
    pub years: i64,
    /// Timed runs of each dashboard (the median and the slowest are shown).
    #[arg(long, default_value_t = 15)]
    pub samples: usize,
    /// A PostgreSQL server URL: run the same on a fresh database there too.
    #[arg(long)]
    pub postgres: Option<String>,
    /// A Python with the `duckdb` package: time the same aggregates there.
    #[arg(long)]
    pub duckdb_python: Option<PathBuf>,
    /// Keep a copy of the SQLite database here (to look at the plans).
    #[arg(long)]
    pub keep: Option<PathBuf>,
}

const TZ: &str = "America/New_York";
const PW: &str = "bench-password-2026";

/// A cell of a generated row.
#[derive(Clone)]
enum V {
    T(Option<String>),
    I(Option<i64>),
    B(bool),
}

fn t(s: impl Into<String>) -> V {
    V::T(Some(s.into()))
}
fn i(n: i64) -> V {
    V::I(Some(n))
}
const NT: V = V::T(None);
const NI: V = V::I(None);

impl V {
    fn csv(&self) -> String {
        match self {
            V::T(Some(s)) => s.clone(),
            V::I(Some(n)) => n.to_string(),
            V::B(b) => b.to_string(),
            V::T(None) | V::I(None) => String::new(),
        }
    }
}

/// One table's generated rows, with each column's type for DuckDB.
struct Table {
    name: &'static str,
    cols: &'static [(&'static str, &'static str)],
    rows: Vec<Vec<V>>,
}

impl Table {
    fn new(name: &'static str, cols: &'static [(&'static str, &'static str)]) -> Table {
        Table {
            name,
            cols,
            rows: vec![],
        }
    }
    fn push(&mut self, row: Vec<V>) {
        debug_assert_eq!(row.len(), self.cols.len(), "{}", self.name);
        self.rows.push(row);
    }
    fn write_csv(&self, dir: &Path) -> Result<PathBuf> {
        let path = dir.join(format!("{}.csv", self.name));
        let mut w = csv::Writer::from_path(&path)?;
        w.write_record(self.cols.iter().map(|c| c.0))?;
        for r in &self.rows {
            w.write_record(r.iter().map(V::csv))?;
        }
        w.flush()?;
        Ok(path)
    }
}

macro_rules! insert_rows {
    ($conn:expr, $db:ty, $table:expr) => {{
        let tb: &Table = $table;
        let per = (30_000 / tb.cols.len()).max(1);
        for chunk in tb.rows.chunks(per) {
            let mut qb: sqlx::QueryBuilder<$db> = sqlx::QueryBuilder::new(format!(
                "INSERT INTO {} ({}) ",
                tb.name,
                tb.cols.iter().map(|c| c.0).collect::<Vec<_>>().join(", ")
            ));
            qb.push_values(chunk, |mut b, row| {
                for v in row {
                    match v {
                        V::T(s) => b.push_bind(s.clone()),
                        V::I(n) => b.push_bind(*n),
                        V::B(x) => b.push_bind(*x),
                    };
                }
            });
            qb.build().execute(&mut *$conn).await?;
        }
    }};
}

/// Ids that parse as the domain's UUIDs, from the generator.
fn uid(rng: &mut ChaCha8Rng) -> String {
    uuid::Uuid::from_u128(rng.random::<u128>()).to_string()
}

fn day_str(at: i64, tz: &jiff::tz::TimeZone) -> String {
    clinic_day(
        jiff::Timestamp::from_microsecond(at).unwrap_or_default(),
        tz,
    )
    .to_string()
}

/// Five years of the program, generated.
fn generate(
    a: &DashboardArgs,
    program: &Program,
    user: &str,
    products: (&str, &str),
    now: i64,
) -> Vec<Table> {
    let tz = jiff::tz::TimeZone::get(TZ).expect("zone");
    let mut rng = ChaCha8Rng::seed_from_u64(20_261_202);
    let prog = program.id.to_string();
    let start = now - a.years * 365 * DAY_US;
    let mut patient = Table::new(
        "patient",
        &[
            ("id", "VARCHAR"),
            ("program_id", "VARCHAR"),
            ("mrn", "VARCHAR"),
            ("legal_first_name", "VARCHAR"),
            ("legal_last_name", "VARCHAR"),
            ("date_of_birth", "VARCHAR"),
            ("sex", "VARCHAR"),
            ("search_name", "VARCHAR"),
            ("created_at", "BIGINT"),
        ],
    );
    let mut episode = Table::new(
        "episode",
        &[
            ("id", "VARCHAR"),
            ("patient_id", "VARCHAR"),
            ("program_id", "VARCHAR"),
            ("level_of_care", "VARCHAR"),
            ("admitted_at", "BIGINT"),
            ("discharged_at", "BIGINT"),
            ("discharge_reason", "VARCHAR"),
            ("created_at", "BIGINT"),
        ],
    );
    let mut referral = Table::new(
        "referral",
        &[
            ("id", "VARCHAR"),
            ("program_id", "VARCHAR"),
            ("name", "VARCHAR"),
            ("phone", "VARCHAR"),
            ("best_time", "VARCHAR"),
            ("language", "VARCHAR"),
            ("status", "VARCHAR"),
            ("created_at", "BIGINT"),
            ("closed_at", "BIGINT"),
            ("outcome", "VARCHAR"),
            ("patient_id", "VARCHAR"),
        ],
    );
    let mut order = Table::new(
        "med_order",
        &[
            ("id", "VARCHAR"),
            ("patient_id", "VARCHAR"),
            ("program_id", "VARCHAR"),
            ("medication", "VARCHAR"),
            ("form", "VARCHAR"),
            ("phase", "VARCHAR"),
            ("dose_ug", "BIGINT"),
            ("doses_per_day", "BIGINT"),
            ("starts_on", "VARCHAR"),
            ("ends_on", "VARCHAR"),
            ("supersedes", "VARCHAR"),
            ("engine_check", "VARCHAR"),
            ("verbal", "BOOLEAN"),
            ("ordered_by", "VARCHAR"),
            ("ordered_by_name", "VARCHAR"),
            ("prescriber_id", "VARCHAR"),
            ("ordered_at", "BIGINT"),
        ],
    );
    let mut dose = Table::new(
        "dose",
        &[
            ("id", "VARCHAR"),
            ("patient_id", "VARCHAR"),
            ("program_id", "VARCHAR"),
            ("order_id", "VARCHAR"),
            ("clinic_day", "VARCHAR"),
            ("slot", "VARCHAR"),
            ("kind", "VARCHAR"),
            ("amount_ug", "BIGINT"),
            ("product_id", "VARCHAR"),
            ("lot_id", "VARCHAR"),
            ("observed", "BOOLEAN"),
            ("given_at", "BIGINT"),
            ("recorded_at", "BIGINT"),
            ("nurse_id", "VARCHAR"),
            ("nurse_name", "VARCHAR"),
            ("late_entry", "BOOLEAN"),
        ],
    );
    let mut test = Table::new(
        "drug_test",
        &[
            ("id", "VARCHAR"),
            ("patient_id", "VARCHAR"),
            ("program_id", "VARCHAR"),
            ("collected_at", "BIGINT"),
            ("specimen", "VARCHAR"),
            ("observed", "BOOLEAN"),
            ("refused", "BOOLEAN"),
            ("random", "BOOLEAN"),
            ("by_user", "VARCHAR"),
            ("by_name", "VARCHAR"),
            ("recorded_at", "BIGINT"),
        ],
    );
    let mut result = Table::new(
        "drug_test_result",
        &[
            ("id", "VARCHAR"),
            ("test_id", "VARCHAR"),
            ("patient_id", "VARCHAR"),
            ("analyte", "VARCHAR"),
            ("loinc", "VARCHAR"),
            ("method", "VARCHAR"),
            ("source", "VARCHAR"),
            ("outcome", "VARCHAR"),
            ("status", "VARCHAR"),
            ("resulted_at", "BIGINT"),
            ("recorded_at", "BIGINT"),
            ("by_name", "VARCHAR"),
        ],
    );
    let mut funding = Table::new(
        "cm_funding",
        &[
            ("id", "VARCHAR"),
            ("program_id", "VARCHAR"),
            ("name", "VARCHAR"),
            ("annual_cap_cents", "BIGINT"),
            ("annual_budget_cents", "BIGINT"),
            ("created_at", "BIGINT"),
            ("created_by", "VARCHAR"),
        ],
    );
    let mut enrollment = Table::new(
        "cm_enrollment",
        &[
            ("id", "VARCHAR"),
            ("patient_id", "VARCHAR"),
            ("program_id", "VARCHAR"),
            ("funding_id", "VARCHAR"),
            ("kind", "VARCHAR"),
            ("preset", "VARCHAR"),
            ("schedule", "VARCHAR"),
            ("analytes", "VARCHAR"),
            ("attendance", "BOOLEAN"),
            ("seed", "BIGINT"),
            ("starts_at", "BIGINT"),
            ("by_user", "VARCHAR"),
            ("by_name", "VARCHAR"),
            ("enrolled_at", "BIGINT"),
        ],
    );
    let mut sample = Table::new(
        "cm_sample",
        &[
            ("id", "VARCHAR"),
            ("enrollment_id", "VARCHAR"),
            ("patient_id", "VARCHAR"),
            ("source", "VARCHAR"),
            ("evidence_id", "VARCHAR"),
            ("sample", "VARCHAR"),
            ("evidence_at", "BIGINT"),
            ("recorded_at", "BIGINT"),
        ],
    );
    let mut earning = Table::new(
        "cm_earning",
        &[
            ("sample_id", "VARCHAR"),
            ("enrollment_id", "VARCHAR"),
            ("patient_id", "VARCHAR"),
            ("funding_id", "VARCHAR"),
            ("earned_year", "VARCHAR"),
            ("amount_cents", "BIGINT"),
            ("wanted_cents", "BIGINT"),
            ("detail", "VARCHAR"),
            ("by_name", "VARCHAR"),
            ("earned_at", "BIGINT"),
        ],
    );
    let mut overdose = Table::new(
        "overdose_event",
        &[
            ("id", "VARCHAR"),
            ("patient_id", "VARCHAR"),
            ("program_id", "VARCHAR"),
            ("occurred_at", "BIGINT"),
            ("naloxone", "VARCHAR"),
            ("breathing_support", "VARCHAR"),
            ("vitals", "VARCHAR"),
            ("ems_called", "BOOLEAN"),
            ("transported", "BOOLEAN"),
            ("outcome", "VARCHAR"),
            ("recorded_by", "VARCHAR"),
            ("recorded_by_name", "VARCHAR"),
            ("recorded_at", "BIGINT"),
        ],
    );
    let mut kit = Table::new(
        "naloxone_kit",
        &[
            ("id", "VARCHAR"),
            ("program_id", "VARCHAR"),
            ("patient_id", "VARCHAR"),
            ("recipient", "VARCHAR"),
            ("product", "VARCHAR"),
            ("quantity", "BIGINT"),
            ("education", "BOOLEAN"),
            ("handed_at", "BIGINT"),
            ("by_user", "VARCHAR"),
            ("by_name", "VARCHAR"),
        ],
    );
    let mut record = Table::new(
        "clinical_record",
        &[
            ("id", "VARCHAR"),
            ("patient_id", "VARCHAR"),
            ("program_id", "VARCHAR"),
            ("episode_id", "VARCHAR"),
            ("kind", "VARCHAR"),
            ("body", "VARCHAR"),
            ("summary", "VARCHAR"),
            ("occurred_at", "BIGINT"),
            ("recorded_at", "BIGINT"),
            ("author_id", "VARCHAR"),
            ("author_name", "VARCHAR"),
            ("author_role", "VARCHAR"),
            ("amends", "VARCHAR"),
            ("root_id", "VARCHAR"),
            ("ref_id", "VARCHAR"),
            ("due_at", "BIGINT"),
            ("late_entry", "BOOLEAN"),
        ],
    );
    let mut closure = Table::new(
        "clinic_closure",
        &[
            ("program_id", "VARCHAR"),
            ("day", "VARCHAR"),
            ("reason", "VARCHAR"),
            ("created_at", "BIGINT"),
            ("created_by", "VARCHAR"),
        ],
    );
    // Two holidays a year: New Year's Day and Independence Day.
    let first_year = day_str(start, &tz)[..4].parse::<i32>().unwrap_or(2021);
    let last_day = day_str(now, &tz);
    let mut closed = std::collections::BTreeSet::new();
    for y in first_year..=first_year + a.years as i32 {
        for md in ["01-01", "07-04"] {
            let d = format!("{y}-{md}");
            if d <= last_day {
                closure.push(vec![t(&prog), t(&d), t("holiday"), i(start), t(user)]);
                closed.insert(d);
            }
        }
    }
    let fid = uid(&mut rng);
    funding.push(vec![
        t(&fid),
        t(&prog),
        t("State opioid response grant"),
        i(75_000),
        i(6_000_000),
        i(start),
        t(user),
    ]);
    let (liquid, lot) = products;
    for n in 0..a.patients {
        let pid = uid(&mut rng);
        patient.push(vec![
            t(&pid),
            t(&prog),
            t(format!("B{n:07}")),
            t(format!("Pat{n}")),
            t("Bench"),
            t("1988-04-05"),
            t(if n % 2 == 0 { "male" } else { "female" }),
            t(format!("bench pat{n}")),
            i(start),
        ]);
        // One or two episodes; a stay of a few days to several years.
        let episodes = if rng.random_bool(0.25) { 2 } else { 1 };
        let mut at = start + rng.random_range(0..(now - start) * 9 / 10);
        for e in 0..episodes {
            if at >= now {
                break;
            }
            let eid = uid(&mut rng);
            let stay_days = (-(1.0 - rng.random::<f64>()).ln() * 330.0) as i64 + 2;
            let end = at + stay_days * DAY_US;
            let (discharged, open) = if end < now && !(e + 1 == episodes && rng.random_bool(0.05)) {
                (Some(end), false)
            } else {
                (None, true)
            };
            episode.push(vec![
                t(&eid),
                t(&pid),
                t(&prog),
                t("opioid_treatment_program"),
                i(at),
                V::I(discharged),
                if open {
                    NT
                } else {
                    t(["completed", "left_before_completion", "transferred"]
                        [rng.random_range(0..3)])
                },
                i(at),
            ]);
            // Most arrive after asking for a call back one to ten days before.
            if e == 0 && rng.random_bool(0.6) {
                let called = at - rng.random_range(DAY_US..10 * DAY_US);
                referral.push(vec![
                    uid_v(&mut rng),
                    t(&prog),
                    t("Caller"),
                    t("410-555-0100"),
                    t("morning"),
                    t("en"),
                    t("closed"),
                    i(called),
                    i(at),
                    t("registered"),
                    t(&pid),
                ]);
            }
            let until = discharged.unwrap_or(now);
            // Induction on the day of admission; the maintenance order
            // supersedes it two weeks later.
            let o1 = uid(&mut rng);
            let d0 = day_str(at, &tz);
            order.push(order_row(
                &o1,
                &pid,
                &prog,
                "induction",
                30_000,
                &d0,
                None,
                user,
                at,
            ));
            let mut orders = vec![(d0.clone(), o1.clone(), 30_000)];
            if until - at > 14 * DAY_US {
                let o2 = uid(&mut rng);
                let d14 = day_str(at + 14 * DAY_US, &tz);
                order.push(order_row(
                    &o2,
                    &pid,
                    &prog,
                    "maintenance",
                    80_000,
                    &d14,
                    Some(&o1),
                    user,
                    at + 13 * DAY_US,
                ));
                orders.push((d14, o2, 80_000));
            }
            // Daily doses: observed, take-home on Sundays after 90 days,
            // closure days covered by a bottle; a dose missed now and then
            // (more often early on).
            let enrolled = rng.random_bool(0.3).then(|| {
                let id = uid(&mut rng);
                enrollment.push(vec![
                    t(&id),
                    t(&pid),
                    t(&prog),
                    t(&fid),
                    t("voucher"),
                    t("higgins"),
                    t("{}"),
                    t("fentanyl"),
                    V::B(false),
                    i(1),
                    i(at),
                    t(user),
                    t("Bench Nurse"),
                    i(at),
                ]);
                id
            });
            // Day by day in the program's calendar (a day is not always
            // 24 hours); each day's events at their hour of that day.
            let mut date = clinic_day(
                jiff::Timestamp::from_microsecond(at).unwrap_or_default(),
                &tz,
            );
            let end_date = clinic_day(
                jiff::Timestamp::from_microsecond(until.min(now)).unwrap_or_default(),
                &tz,
            );
            let mut k = 0i64;
            let mut earned_year: BTreeMap<String, i64> = BTreeMap::new();
            while date < end_date || (date == end_date && discharged.is_none()) {
                let day = date.to_string();
                let day_at = date
                    .to_zoned(tz.clone())
                    .map(|z| z.timestamp().as_microsecond())
                    .unwrap_or(at);
                let (order_id, amount) = orders
                    .iter()
                    .rev()
                    .find(|o| o.0 <= day)
                    .map(|o| (o.1.clone(), o.2))
                    .unwrap_or((o1.clone(), 30_000));
                let miss = if k < 30 { 0.12 } else { 0.05 };
                let weekday = date.weekday().to_sunday_zero_offset();
                let bottle = closed.contains(&day) || (k > 90 && weekday == 0);
                if day != last_day && (bottle || !rng.random_bool(miss)) {
                    dose.push(vec![
                        uid_v(&mut rng),
                        t(&pid),
                        t(&prog),
                        t(&order_id),
                        t(&day),
                        t("1"),
                        t(if bottle { "take_home" } else { "observed" }),
                        i(amount),
                        t(liquid),
                        t(lot),
                        V::B(!bottle),
                        i(day_at + 7 * 3_600_000_000),
                        i(day_at + 7 * 3_600_000_000),
                        t(user),
                        t("Bench Nurse"),
                        V::B(false),
                    ]);
                }
                // A drug test a week; fentanyl less often as treatment goes on.
                if k % 7 == 3 {
                    let tid = uid(&mut rng);
                    let refused = rng.random_bool(0.02);
                    let when = day_at + 8 * 3_600_000_000;
                    test.push(vec![
                        t(&tid),
                        t(&pid),
                        t(&prog),
                        i(when),
                        t("urine"),
                        V::B(true),
                        V::B(refused),
                        V::B(false),
                        t(user),
                        t("Bench Nurse"),
                        i(when),
                    ]);
                    let fentanyl = rng.random_bool(if k < 60 { 0.45 } else { 0.15 });
                    if !refused {
                        for (analyte, loinc, pos) in [
                            ("fentanyl", "59673-4", fentanyl),
                            ("6_mam", "19321-9", fentanyl && rng.random_bool(0.2)),
                            ("methadone", "19550-3", true),
                        ] {
                            result.push(vec![
                                uid_v(&mut rng),
                                t(&tid),
                                t(&pid),
                                t(analyte),
                                t(loinc),
                                t("screen"),
                                t("point_of_care"),
                                t(if pos { "positive" } else { "negative" }),
                                t("final"),
                                i(when),
                                i(when),
                                t("Bench Nurse"),
                            ]);
                        }
                    }
                    if let Some(eid) = &enrolled {
                        let sid = uid(&mut rng);
                        let neg = !refused && !fentanyl;
                        sample.push(vec![
                            t(&sid),
                            t(eid),
                            t(&pid),
                            t("drug_test"),
                            t(&tid),
                            t(if refused {
                                "refused"
                            } else if neg {
                                "negative"
                            } else {
                                "positive"
                            }),
                            i(when),
                            i(when),
                        ]);
                        let year = day[..4].to_string();
                        let so_far = earned_year.entry(year.clone()).or_default();
                        if neg && *so_far + 500 <= 75_000 {
                            *so_far += 500;
                            earning.push(vec![
                                t(&sid),
                                t(eid),
                                t(&pid),
                                t(&fid),
                                t(&year),
                                i(500),
                                i(500),
                                t("voucher"),
                                t("Bench Nurse"),
                                i(when),
                            ]);
                        }
                    }
                }
                // A progress note a week.
                if k % 7 == 5 {
                    let id = uid(&mut rng);
                    record.push(vec![
                        t(&id),
                        t(&pid),
                        t(&prog),
                        t(&eid),
                        t("note"),
                        t(r#"{"v":1,"note_type":"progress","text":"Seen at the window; doing well."}"#),
                        t("Progress note"),
                        i(day_at + 9 * 3_600_000_000),
                        i(day_at + 9 * 3_600_000_000),
                        t(user),
                        t("Bench Counselor"),
                        t("counselor"),
                        NT,
                        t(&id),
                        NT,
                        NI,
                        V::B(false),
                    ]);
                }
                // Rarely, an overdose; now and then, a kit.
                if rng.random_bool(0.0004) {
                    let died = rng.random_bool(0.05);
                    overdose.push(vec![
                        uid_v(&mut rng),
                        t(&pid),
                        t(&prog),
                        i(day_at + 10 * 3_600_000_000),
                        t("[]"),
                        t("rescue_breathing"),
                        t("RR 6, SpO2 84%"),
                        V::B(true),
                        V::B(died),
                        t(if died { "died" } else { "recovered_on_site" }),
                        t(user),
                        t("Bench Nurse"),
                        i(day_at + 10 * 3_600_000_000),
                    ]);
                }
                if rng.random_bool(0.004) {
                    kit.push(vec![
                        uid_v(&mut rng),
                        t(&prog),
                        t(&pid),
                        t("patient"),
                        t("Naloxone nasal spray 4 mg"),
                        i(rng.random_range(1..3)),
                        V::B(true),
                        i(day_at + 10 * 3_600_000_000),
                        t(user),
                        t("Bench Nurse"),
                    ]);
                }
                date = match date.tomorrow() {
                    Ok(d) => d,
                    Err(_) => break,
                };
                k += 1;
            }
            // Aftercare: calls at 7, 30 and 90 days; most get an answer.
            if let Some(d) = discharged {
                for (number, days) in [(1, 7), (2, 30), (3, 90)] {
                    let due = d + days * DAY_US;
                    let fid_ = uid(&mut rng);
                    record.push(vec![
                        t(&fid_),
                        t(&pid),
                        t(&prog),
                        t(&eid),
                        t("followup"),
                        t(format!(
                            r#"{{"v":1,"number":{number},"of":3,"day":{days}}}"#
                        )),
                        t(format!("Follow-up call {number} of 3")),
                        i(d),
                        i(d),
                        t(user),
                        t("Bench Counselor"),
                        t("counselor"),
                        NT,
                        t(&fid_),
                        NT,
                        i(due),
                        V::B(false),
                    ]);
                    if due < now && rng.random_bool(0.8) {
                        let reached = rng.random_bool(0.6);
                        let oid = uid(&mut rng);
                        record.push(vec![
                            t(&oid),
                            t(&pid),
                            t(&prog),
                            t(&eid),
                            t("followup_outcome"),
                            t(format!(r#"{{"v":1,"reached":{reached}}}"#)),
                            t("Follow-up call"),
                            i(due),
                            i(due),
                            t(user),
                            t("Bench Counselor"),
                            t("counselor"),
                            NT,
                            t(&oid),
                            t(&fid_),
                            NI,
                            V::B(false),
                        ]);
                    }
                }
            }
            at = until + rng.random_range(30..400) * DAY_US;
        }
    }
    vec![
        patient, episode, referral, order, dose, test, result, funding, enrollment, sample,
        earning, overdose, kit, record, closure,
    ]
}

fn uid_v(rng: &mut ChaCha8Rng) -> V {
    t(uid(rng))
}

#[allow(clippy::too_many_arguments)]
fn order_row(
    id: &str,
    pid: &str,
    prog: &str,
    phase: &str,
    dose_ug: i64,
    starts_on: &str,
    supersedes: Option<&str>,
    user: &str,
    at: i64,
) -> Vec<V> {
    vec![
        t(id),
        t(pid),
        t(prog),
        t("methadone"),
        t("oral_liquid"),
        t(phase),
        i(dose_ug),
        i(1),
        t(starts_on),
        NT,
        V::T(supersedes.map(String::from)),
        t("{}"),
        V::B(false),
        t(user),
        t("Bench Prescriber"),
        t(user),
        i(at),
    ]
}

/// The program, its account and its product, through the services.
async fn setup(app: &App) -> Result<(Program, String, String)> {
    let sys = Principal::system("bench");
    let org = admin::create_organization(app, &sys, "Bench Health").await?;
    let program = admin::create_program(
        app,
        &sys,
        org.id,
        &NewProgram {
            name: "Bench OTP".into(),
            kind: ProgramKind::OpioidTreatmentProgram,
            address: "1 Bench St".into(),
            timezone: TZ.into(),
            hours: "Mon–Sat 6–14".into(),
        },
    )
    .await?;
    admin::create_user(
        app,
        &sys,
        &admin::NewUser {
            username: "bench.manager".into(),
            display_name: "Bench Nurse Manager".into(),
            password: PW.into(),
            program_id: program.id.to_string(),
            // The nurse manager: clinical staff, sees the dashboard.
            role: "nurse".into(),
        },
    )
    .await?;
    let user = admin::user_by_username(app, "bench.manager")
        .await?
        .context("bench user")?;
    let product = carepath_app::dosing::add_product(
        app,
        &sys,
        program.id,
        &carepath_app::dosing::ProductInput {
            medication: "methadone".into(),
            form: "oral_liquid".into(),
            name: "Methadone oral concentrate 10 mg/mL".into(),
            strength_mg: 10.0,
        },
    )
    .await?;
    Ok((program, user.id.to_string(), product))
}

/// Load the generated rows (and a stock lot) into the scratch database.
async fn load(db: &Scratch, program: &Program, product: &str, tables: &[Table]) -> Result<()> {
    let lot = LOT;
    let lot_sql = format!(
        "INSERT INTO stock_lot (id, program_id, product_id, lot, balance_ug, received_at) VALUES ('{lot}', '{}', '{product}', 'BENCH-1', 1000000000, 0)",
        program.id
    );
    match db.store.backend() {
        Backend::Sqlite => {
            use sqlx::Connection;
            let path = db.store.sqlite_path().context("sqlite path")?;
            let mut c =
                sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display())).await?;
            sqlx::raw_sql(sqlx::AssertSqlSafe(lot_sql))
                .execute(&mut c)
                .await?;
            let mut tx = c.begin().await?;
            for tb in tables {
                insert_rows!(&mut *tx, sqlx::Sqlite, tb);
            }
            tx.commit().await?;
            sqlx::raw_sql("ANALYZE").execute(&mut c).await?;
        }
        Backend::Postgres => {
            use sqlx::Connection;
            let url = db.url().context("postgres url")?;
            let mut c = sqlx::PgConnection::connect(&url).await?;
            sqlx::raw_sql(sqlx::AssertSqlSafe(lot_sql))
                .execute(&mut c)
                .await?;
            for tb in tables {
                let cols: Vec<&str> = tb.cols.iter().map(|c| c.0).collect();
                let mut copy = c
                    .copy_in_raw(&format!(
                        "COPY {} ({}) FROM STDIN WITH (FORMAT csv, HEADER true)",
                        tb.name,
                        cols.join(", ")
                    ))
                    .await?;
                let mut w = csv::Writer::from_writer(vec![]);
                w.write_record(&cols)?;
                for r in &tb.rows {
                    w.write_record(r.iter().map(V::csv))?;
                }
                copy.send(w.into_inner()?).await?;
                copy.finish().await?;
            }
            sqlx::raw_sql("ANALYZE").execute(&mut c).await?;
        }
    }
    Ok(())
}

/// One dashboard's timings.
struct Timed {
    name: &'static str,
    window: &'static str,
    p50: Duration,
    max: Duration,
}

async fn time<F, Fut, T>(samples: usize, mut f: F) -> Result<(Duration, Duration, T)>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut v = vec![];
    let mut last = None;
    // One untimed run warms the caches.
    f().await?;
    for _ in 0..samples.max(1) {
        let t0 = Instant::now();
        let r = f().await?;
        v.push(t0.elapsed());
        last = Some(r);
    }
    v.sort();
    Ok((
        pct(&v, 0.5),
        *v.last().unwrap_or(&Duration::ZERO),
        last.expect("ran"),
    ))
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

/// The results of one database, to check DuckDB's against.
type Answers = BTreeMap<String, serde_json::Value>;

async fn measure(
    db: &Scratch,
    a: &DashboardArgs,
    program: &Program,
    now: i64,
    label: &str,
) -> Result<(Vec<Timed>, Answers)> {
    // The clock stands still at the moment the data was generated for, so
    // both databases answer for the same instant.
    let app = App::new(db.store.clone(), Default::default())
        .with_clock(std::sync::Arc::new(ManualClock::at(now)));
    // A staff member of the program, signed in, as the page sees them.
    use carepath_app::auth::{self, Credential};
    let s = auth::sign_in(&app, "bench.manager", PW.into(), None)
        .await?
        .map_err(|_| anyhow::anyhow!("bench.manager could not sign in"))?;
    let who = auth::resolve(&app, Credential::Session(&s.token), None)
        .await?
        .context("session")?;
    let tz = jiff::tz::TimeZone::get(TZ)?;
    let mut out = vec![];
    let mut answers = Answers::new();
    for (window, n) in [("12 months", 12usize), ("5 years", (a.years * 12) as usize)] {
        let w = Window::last_months(now, &tz, n);
        let s = a.samples;
        if n == 12 {
            // Always twelve months (retention looks two years back).
            let (p50, max, r) = time(s, || async { Ok(work::trends(&app, &who).await?) }).await?;
            answers.insert("census 12".into(), serde_json::to_value(&r[0].months)?);
            out.push(Timed {
                name: "census, admissions, discharges, retention",
                window,
                p50,
                max,
            });
        }
        let (p50, max, r) = time(s, || async {
            Ok(dashboard::dosing(&app, program, &w).await?)
        })
        .await?;
        answers.insert(format!("dosing {n}"), serde_json::to_value(&r)?);
        out.push(Timed {
            name: "doses per day, missed-dose rate",
            window,
            p50,
            max,
        });
        // The same doses counted from the rows, not the rollup (the reference).
        let (from, to) = (w.first_day.to_string(), w.today.to_string());
        let yesterday = w.today.yesterday().unwrap_or(w.today).to_string();
        let (p50, max, rows) = time(s, || async {
            Ok(db
                .store
                .dashboard_doses_from_rows(program.id, &from, &to, &yesterday)
                .await?)
        })
        .await?;
        let rolled = db
            .store
            .dashboard_doses(program.id, &from, &to, &yesterday)
            .await?;
        anyhow::ensure!(
            rows == rolled,
            "{label}: the dose rollup differs from the rows"
        );
        out.push(Timed {
            name: "(doses counted from the rows, no rollup)",
            window,
            p50,
            max,
        });
        let (p50, max, r) = time(s, || async {
            Ok(db.store.dashboard_tests(program.id, &w.months).await?)
        })
        .await?;
        answers.insert(format!("tests {n}"), serde_json::to_value(&r)?);
        out.push(Timed {
            name: "negative-test rate",
            window,
            p50,
            max,
        });
        let (p50, max, rows) = time(s, || async {
            Ok(db
                .store
                .dashboard_tests_from_rows(program.id, &w.months)
                .await?)
        })
        .await?;
        anyhow::ensure!(
            rows == r,
            "{label}: the test rollup differs from the results"
        );
        out.push(Timed {
            name: "(tests read from the results, no rollup)",
            window,
            p50,
            max,
        });
        let (p50, max, r) = time(s, || async {
            Ok(db.store.dashboard_cm(program.id, &w.months).await?)
        })
        .await?;
        answers.insert(format!("cm {n}"), serde_json::to_value(&r.0)?);
        out.push(Timed {
            name: "incentive spend against budget",
            window,
            p50,
            max,
        });
        let (p50, max, r) = time(s, || async {
            Ok(db.store.dashboard_safety(program.id, &w.months).await?)
        })
        .await?;
        answers.insert(format!("safety {n}"), serde_json::to_value(&r)?);
        out.push(Timed {
            name: "overdoses and naloxone kits",
            window,
            p50,
            max,
        });
        let (p50, max, r) = time(s, || async {
            Ok(db
                .store
                .dashboard_followups(program.id, &w.months, now)
                .await?)
        })
        .await?;
        answers.insert(format!("followups {n}"), serde_json::to_value(&r)?);
        out.push(Timed {
            name: "follow-up calls reached",
            window,
            p50,
            max,
        });
        let (p50, max, r) = time(s, || async {
            Ok(dashboard::admissions(&app, program, &w).await?)
        })
        .await?;
        let linked = r.iter().filter(|x| x.call_to_admission_h.is_some()).count();
        let dosed = r
            .iter()
            .filter(|x| x.admission_to_first_dose_h.is_some())
            .count();
        answers.insert(
            format!("timing {n}"),
            serde_json::json!([r.len(), linked, dosed]),
        );
        out.push(Timed {
            name: "first call to admission and first dose",
            window,
            p50,
            max,
        });
        if n == 12 {
            let (p50, max, _) = time(s, || async {
                Ok(dashboard::outcomes(&app, &who, Some(program.id)).await?)
            })
            .await?;
            out.push(Timed {
                name: "the whole outcomes page (all of the above but census)",
                window,
                p50,
                max,
            });
        }
    }
    println!("{label}:");
    for t in &out {
        println!(
            "  {:<55} {:>9}  p50 {:>8} ms  max {:>8} ms",
            t.name,
            t.window,
            ms(t.p50),
            ms(t.max)
        );
    }
    Ok((out, answers))
}

/// The SQL DuckDB runs for each dashboard, with its parameters.
fn duck_jobs(program: &Program, w: &Window, now: i64) -> Vec<serde_json::Value> {
    let prog = program.id.to_string();
    let months: Vec<serde_json::Value> = w
        .months
        .iter()
        .flat_map(|m: &MonthRange| {
            [
                serde_json::json!(m.label),
                serde_json::json!(m.lo),
                serde_json::json!(m.hi),
            ]
        })
        .collect();
    let mut with_months = vec![serde_json::json!(prog)];
    with_months.extend(months.clone());
    let first = w.first_day.to_string();
    let today = w.today.to_string();
    let yesterday = w.today.yesterday().unwrap_or(w.today).to_string();
    let lo = w.months.first().map(|m| m.lo).unwrap_or(0);
    let hi = w.months.last().map(|m| m.hi).unwrap_or(0);
    use carepath_store::dashboard::{Aggregate as A, Engine, sql_text as sql};
    let n = w.months.len();
    let mut followups_params = with_months.clone();
    followups_params.push(serde_json::json!(now));
    let mut census_params = with_months.clone();
    census_params.push(serde_json::json!(now));
    census_params.push(serde_json::json!(now - 740 * DAY_US));
    let mut jobs = vec![
        serde_json::json!({"name": "dosing", "sql": DUCK_DOSING, "params": [prog, first, today, yesterday, lo, format!("{}-31", &today[..7])]}),
        serde_json::json!({"name": "tests", "sql": sql(A::Tests, n), "params": with_months}),
        serde_json::json!({"name": "cm", "sql": sql(A::CmEarned, n), "params": with_months}),
        serde_json::json!({"name": "safety", "sql": sql(A::Overdoses, n), "params": with_months}),
        serde_json::json!({"name": "followups", "sql": sql(A::Followups(Engine::DuckDb), n), "params": followups_params}),
        serde_json::json!({"name": "timing", "sql": sql(A::Admissions, 0), "params": [prog, lo, hi]}),
    ];
    if n == 12 {
        jobs.insert(
            0,
            serde_json::json!({"name": "census", "sql": duck_census(n), "params": census_params}),
        );
    }
    jobs
}

/// Census at each month's end, admissions and discharges by month — what
/// `work::trends_of` counts from the episodes of the last two years.
fn duck_census(months: usize) -> String {
    let now = 2 + 3 * months;
    let since = now + 1;
    format!(
        "{} , e AS (SELECT * FROM episode WHERE program_id = $1 AND (discharged_at IS NULL OR discharged_at >= ${since})) \
         SELECT m.label, \
           (SELECT COUNT(*) FROM e WHERE admitted_at < LEAST(m.hi, ${now} + 1) AND (discharged_at IS NULL OR discharged_at >= LEAST(m.hi, ${now} + 1))), \
           (SELECT COUNT(*) FROM e WHERE admitted_at >= m.lo AND admitted_at < LEAST(m.hi, ${now} + 1)), \
           (SELECT COUNT(*) FROM e WHERE discharged_at >= m.lo AND discharged_at < LEAST(m.hi, ${now} + 1)) \
         FROM m ORDER BY m.label",
        carepath_store::dashboard::months_cte(2, months)
    )
}

/// Patient-days due (daily orders in force ∩ in care ∩ not closed, before
/// today) and days dosed, by month — what `dashboard::dosing` computes.
const DUCK_DOSING: &str = "
WITH o AS (
  SELECT o.patient_id, o.starts_on::DATE AS s,
         LEAST(COALESCE(o.ends_on::DATE + 1, DATE '9999-12-31'),
               COALESCE((SELECT n.starts_on::DATE FROM med_order n WHERE n.supersedes = o.id), DATE '9999-12-31')) AS e
  FROM med_order o WHERE o.program_id = $1 AND o.form <> 'injection_xr' AND (o.ends_on IS NULL OR o.ends_on >= $2)
),
c AS (
  SELECT patient_id, admitted_day::DATE AS s, COALESCE(discharged_day::DATE, DATE '9999-12-31') AS e
  FROM episode_days WHERE program_id = $1 AND (discharged_at IS NULL OR discharged_at >= $5)
),
spans AS (
  SELECT o.patient_id, GREATEST(o.s, c.s, $2::DATE) AS a, LEAST(o.e, c.e, $3::DATE) AS b
  FROM o JOIN c ON c.patient_id = o.patient_id AND c.s < o.e AND o.s < c.e
),
days AS (
  SELECT patient_id, unnest(range(a::TIMESTAMP, b::TIMESTAMP, INTERVAL 1 DAY)) AS day FROM spans WHERE a < b
),
due AS (
  SELECT DISTINCT patient_id, day::DATE AS day FROM days
  WHERE strftime(day, '%Y-%m-%d') NOT IN (SELECT day FROM clinic_closure WHERE program_id = $1)
),
dosed AS (
  SELECT substr(clinic_day, 1, 7) AS m, COUNT(*) AS doses,
         SUM(CASE WHEN kind = 'take_home' THEN 1 ELSE 0 END) AS take_home, COUNT(DISTINCT patient_id) AS patients
  FROM dose WHERE program_id = $1 AND clinic_day >= $2 AND clinic_day <= $6 GROUP BY 1
),
covered AS (
  SELECT substr(clinic_day, 1, 7) AS m, COUNT(*) AS n FROM (
    SELECT DISTINCT patient_id, clinic_day FROM dose
    WHERE program_id = $1 AND clinic_day >= $2 AND clinic_day <= $4
      AND product_id IN (SELECT id FROM med_product WHERE program_id = $1 AND form <> 'injection_xr')
      AND clinic_day NOT IN (SELECT day FROM clinic_closure WHERE program_id = $1)) x GROUP BY 1
),
due_m AS (SELECT strftime(day, '%Y-%m') AS m, COUNT(*) AS n FROM due GROUP BY 1)
SELECT dosed.m, dosed.doses, dosed.take_home, dosed.patients, COALESCE(covered.n, 0), COALESCE(due_m.n, 0)
FROM dosed LEFT JOIN covered ON covered.m = dosed.m LEFT JOIN due_m ON due_m.m = dosed.m ORDER BY 1";

/// DuckDB: load the CSVs, run each job, report timings and answers.
fn run_duckdb(
    python: &Path,
    dir: &Path,
    tables: &[Table],
    jobs: &[serde_json::Value],
    samples: usize,
) -> Result<serde_json::Value> {
    let spec = serde_json::json!({
        "tables": tables.iter().map(|tb| serde_json::json!({
            "name": tb.name,
            "csv": dir.join(format!("{}.csv", tb.name)),
            "columns": tb.cols.iter().map(|c| [c.0, c.1]).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "jobs": jobs,
        "samples": samples,
    });
    let spec_path = dir.join("duckdb-jobs.json");
    std::fs::write(&spec_path, serde_json::to_vec(&spec)?)?;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scripts/bench_dashboard_duckdb.py"
    );
    let out = std::process::Command::new(python)
        .arg(script)
        .arg(&spec_path)
        .output()
        .context("run the DuckDB script")?;
    anyhow::ensure!(
        out.status.success(),
        "DuckDB script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(serde_json::from_slice(&out.stdout)?)
}

/// The generated rows for a database whose services made `program`,
/// `user` and `product`; written as CSV in `dir`.
fn rows_for(
    a: &DashboardArgs,
    program: &Program,
    user: &str,
    product: &str,
    now: i64,
    dir: &Path,
) -> Result<Vec<Table>> {
    let tables = generate(a, program, user, (product, LOT), now);
    for tb in &tables {
        tb.write_csv(dir)?;
    }
    Ok(tables)
}

const LOT: &str = "00000000-0000-4000-8000-00000000b07e";

/// What DuckDB needs besides our tables: the product's form, and each
/// episode's clinic days in the program's zone (the application computes
/// them from the time zone; handing them over keeps DuckDB off ICU).
fn duck_extras(tables: &[Table], program: &Program, product: &str) -> Result<Vec<Table>> {
    let tz = jiff::tz::TimeZone::get(TZ)?;
    let mut product_t = Table::new(
        "med_product",
        &[
            ("id", "VARCHAR"),
            ("program_id", "VARCHAR"),
            ("form", "VARCHAR"),
        ],
    );
    product_t.push(vec![
        t(product),
        t(program.id.to_string()),
        t("oral_liquid"),
    ]);
    let mut days = Table::new(
        "episode_days",
        &[
            ("patient_id", "VARCHAR"),
            ("program_id", "VARCHAR"),
            ("admitted_at", "BIGINT"),
            ("discharged_at", "BIGINT"),
            ("admitted_day", "VARCHAR"),
            ("discharged_day", "VARCHAR"),
        ],
    );
    let episodes = tables
        .iter()
        .find(|tb| tb.name == "episode")
        .context("episodes")?;
    for r in &episodes.rows {
        let (V::I(Some(adm)), V::I(dis)) = (&r[4], &r[5]) else {
            continue;
        };
        days.push(vec![
            r[1].clone(),
            r[2].clone(),
            i(*adm),
            V::I(*dis),
            t(day_str(*adm, &tz)),
            V::T(dis.map(|d| day_str(d, &tz))),
        ]);
    }
    Ok(vec![product_t, days])
}

pub async fn dashboard(a: &DashboardArgs) -> Result<()> {
    let now = SystemClock.now_us();
    let sqlite = Scratch::sqlite().await?;
    let app = App::new(sqlite.store.clone(), Default::default());
    let (program, user, product) = setup(&app).await?;
    let dir = tempfile::tempdir()?;
    let t0 = Instant::now();
    let mut tables = rows_for(a, &program, &user, &product, now, dir.path())?;
    let counts: Vec<String> = tables
        .iter()
        .map(|tb| format!("{} {}", tb.name, tb.rows.len()))
        .collect();
    println!(
        "{} patients, {} years, generated in {:.1} s: {}",
        a.patients,
        a.years,
        t0.elapsed().as_secs_f64(),
        counts.join(", ")
    );
    let t0 = Instant::now();
    load(&sqlite, &program, &product, &tables).await?;
    println!("SQLite loaded in {:.1} s", t0.elapsed().as_secs_f64());
    if let Some(keep) = &a.keep {
        let path = sqlite.store.sqlite_path().context("sqlite path")?;
        use sqlx::Connection;
        let mut c =
            sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display())).await?;
        sqlx::query("VACUUM INTO $1")
            .bind(keep.display().to_string())
            .execute(&mut c)
            .await?;
    }
    let (sq, answers) = measure(&sqlite, a, &program, now, "SQLite").await?;
    let mut pg_times = None;
    if let Some(url) = &a.postgres {
        let pg = Scratch::postgres(url).await?;
        let pg_app = App::new(pg.store.clone(), Default::default());
        let (pg_program, pg_user, pg_product) = setup(&pg_app).await?;
        let pg_dir = tempfile::tempdir()?;
        // The same rows (the generator is seeded), with this database's ids.
        let pg_tables = rows_for(a, &pg_program, &pg_user, &pg_product, now, pg_dir.path())?;
        let t0 = Instant::now();
        load(&pg, &pg_program, &pg_product, &pg_tables).await?;
        println!(
            "PostgreSQL loaded in {:.1} s (COPY)",
            t0.elapsed().as_secs_f64()
        );
        drop(pg_tables);
        let (pt, pg_answers) = measure(&pg, a, &pg_program, now, "PostgreSQL").await?;
        if let Some((k, v)) = pg_answers.iter().find(|(k, v)| answers.get(*k) != Some(*v)) {
            anyhow::bail!(
                "PostgreSQL and SQLite disagree on {k}: {v} vs {:?}",
                answers.get(k)
            );
        }
        println!("PostgreSQL and SQLite give the same answers.");
        pg_times = Some(pt);
        pg.drop_now().await?;
    }
    let mut duck: BTreeMap<(String, &str), f64> = BTreeMap::new();
    if let Some(py) = &a.duckdb_python {
        let extras = duck_extras(&tables, &program, &product)?;
        for tb in &extras {
            tb.write_csv(dir.path())?;
        }
        tables.extend(extras);
        let tz = jiff::tz::TimeZone::get(TZ)?;
        for (window, n) in [("12 months", 12usize), ("5 years", (a.years * 12) as usize)] {
            let w = Window::last_months(now, &tz, n);
            let jobs = duck_jobs(&program, &w, now);
            let r = run_duckdb(py, dir.path(), &tables, &jobs, a.samples)?;
            println!(
                "DuckDB {} ({window}): loaded in {} s",
                r["version"], r["load_s"]
            );
            for j in r["jobs"].as_array().cloned().unwrap_or_default() {
                let name = j["name"].as_str().unwrap_or("").to_string();
                check_duck(&name, n, &j["rows"], &answers)?;
                duck.insert((name, window), j["p50_ms"].as_f64().unwrap_or(f64::NAN));
            }
        }
        println!("DuckDB's answers agree with ours.");
    }
    println!(
        "\n| Dashboard | Window | SQLite p50 (ms) | PostgreSQL p50 (ms) | DuckDB p50 (ms) | SQLite ÷ DuckDB |"
    );
    println!("|---|---|---:|---:|---:|---:|");
    let key = |name: &str| match name {
        "census, admissions, discharges, retention" => "census",
        "doses per day, missed-dose rate" | "(doses counted from the rows, no rollup)" => "dosing",
        "negative-test rate" | "(tests read from the results, no rollup)" => "tests",
        "incentive spend against budget" => "cm",
        "overdoses and naloxone kits" => "safety",
        "follow-up calls reached" => "followups",
        "first call to admission and first dose" => "timing",
        _ => "",
    };
    for (k, s) in sq.iter().enumerate() {
        let d = duck.get(&(key(s.name).to_string(), s.window)).copied();
        let p = pg_times
            .as_ref()
            .map(|v| ms(v[k].p50))
            .unwrap_or_else(|| "—".into());
        let sq_ms = s.p50.as_secs_f64() * 1000.0;
        println!(
            "| {} | {} | {:.1} | {} | {} | {} |",
            s.name,
            s.window,
            sq_ms,
            p,
            d.map(|x| format!("{x:.1}")).unwrap_or_else(|| "—".into()),
            d.map(|x| format!("{:.2}", sq_ms / x))
                .unwrap_or_else(|| "—".into()),
        );
    }
    sqlite.drop_now().await?;
    Ok(())
}

/// Our answer for the month DuckDB names (an error when we have none).
fn ours_for<'a>(
    m: &'a BTreeMap<String, serde_json::Value>,
    label: &serde_json::Value,
) -> Result<&'a serde_json::Value> {
    let label = label.as_str().unwrap_or("");
    m.get(label)
        .with_context(|| format!("DuckDB answers for {label}, we do not"))
}

/// DuckDB's rows against our answers, where they say the same thing.
fn check_duck(name: &str, n: usize, rows: &serde_json::Value, ours: &Answers) -> Result<()> {
    let rows = rows.as_array().cloned().unwrap_or_default();
    let by_month = |key: &str| -> BTreeMap<String, serde_json::Value> {
        ours.get(key)
            .and_then(|v| v.as_object().cloned())
            .map(|o| o.into_iter().collect())
            .unwrap_or_default()
    };
    let num = |v: &serde_json::Value| {
        v.as_i64()
            .or_else(|| v.as_f64().map(|f| f as i64))
            .unwrap_or(-1)
    };
    match name {
        "census" => {
            let ours = ours
                .get("census 12")
                .and_then(|v| v.as_array().cloned())
                .unwrap_or_default();
            anyhow::ensure!(ours.len() == rows.len(), "census: months");
            for (o, r) in ours.iter().zip(&rows) {
                let want = [&o["census"], &o["admissions"], &o["discharges"]].map(num);
                let got = [num(&r[1]), num(&r[2]), num(&r[3])];
                anyhow::ensure!(
                    want == got,
                    "census {}: DuckDB {got:?}, ours {want:?}",
                    r[0]
                );
            }
        }
        "tests" => {
            let m = by_month(&format!("tests {n}"));
            for r in &rows {
                let o = ours_for(&m, &r[0])?;
                let want = [
                    &o["collected"],
                    &o["refused"],
                    &o["pending"],
                    &o["negative"],
                ]
                .map(num);
                let got = [num(&r[1]), num(&r[2]), num(&r[3]), num(&r[4])];
                anyhow::ensure!(want == got, "tests {}: DuckDB {got:?}, ours {want:?}", r[0]);
            }
            anyhow::ensure!(rows.len() == m.len(), "tests: months");
        }
        "cm" => {
            let m = by_month(&format!("cm {n}"));
            for r in &rows {
                let want = num(&ours_for(&m, &r[0])?["earned_cents"]);
                anyhow::ensure!(
                    want == num(&r[1]),
                    "cm {}: DuckDB {}, ours {want}",
                    r[0],
                    r[1]
                );
            }
        }
        "safety" => {
            let m = by_month(&format!("safety {n}"));
            for r in &rows {
                let o = ours_for(&m, &r[0])?;
                anyhow::ensure!(
                    num(&o["overdoses"]) == num(&r[1]) && num(&o["overdose_deaths"]) == num(&r[2]),
                    "overdoses {}",
                    r[0]
                );
            }
        }
        "followups" => {
            let m = by_month(&format!("followups {n}"));
            for r in &rows {
                let o = ours_for(&m, &r[0])?;
                let want = [&o["due"], &o["called"], &o["reached"]].map(num);
                let got = [num(&r[1]), num(&r[2]), num(&r[3])];
                anyhow::ensure!(
                    want == got,
                    "follow-ups {}: DuckDB {got:?}, ours {want:?}",
                    r[0]
                );
            }
        }
        "dosing" => {
            let ours = ours
                .get(&format!("dosing {n}"))
                .and_then(|v| v.as_array().cloned())
                .unwrap_or_default();
            for r in &rows {
                let label = r[0].as_str().unwrap_or("");
                let Some(o) = ours.iter().find(|m| m["month"] == label) else {
                    anyhow::bail!("dosing: DuckDB has month {label}");
                };
                let want = [
                    &o["doses"],
                    &o["take_home"],
                    &o["dosed_patients"],
                    &o["covered_days"],
                    &o["due_days"],
                ]
                .map(num);
                let got = [num(&r[1]), num(&r[2]), num(&r[3]), num(&r[4]), num(&r[5])];
                anyhow::ensure!(want == got, "dosing {label}: DuckDB {got:?}, ours {want:?}");
            }
        }
        "timing" => {
            let want = ours
                .get(&format!("timing {n}"))
                .cloned()
                .unwrap_or_default();
            let linked = rows.iter().filter(|r| !r[1].is_null()).count();
            let dosed = rows.iter().filter(|r| !r[2].is_null()).count();
            anyhow::ensure!(
                want == serde_json::json!([rows.len(), linked, dosed]),
                "timing: DuckDB {} {linked} {dosed}, ours {want}",
                rows.len()
            );
        }
        _ => {}
    }
    Ok(())
}
