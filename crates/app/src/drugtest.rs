//! Drug testing: collection at the desk (specimen, observed or not,
//! temperature, chain-of-custody number, refusal), results per analyte
//! (point-of-care screens, laboratory screens and confirmations — a
//! confirmation supersedes the screen, a correction the result before it),
//! interpretation by the engine against the medications ordered here
//! (`clinical::drugtest`: expected / needs review, never sanctions), the
//! prescriber's review, and random test days drawn per program policy
//! (`clinical::drugtest::random_block`) that staff see only on the day.

use crate::App;
use crate::access::{self, PatientScope};
use crate::actor::Principal;
use crate::error::{Error, Problems, Result};
use carepath_clinical::drugtest::{self as engine, Finding, Level, RandomPolicy};
use carepath_domain::audit::Outcome;
use carepath_domain::authz::Permission;
use carepath_domain::ids::{PatientId, ProgramId};
use carepath_store::dosing::MedOrder;
use carepath_store::drugtest::{DrugTest, NewDrugTest, NewResult, Review, TestResult};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// One analyte's result as staff type it (or as the lab interface maps it).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ResultInput {
    /// Analyte name (`methadone`, `eddp`, `fentanyl`, `6_mam` …) or its LOINC code.
    pub analyte: String,
    /// positive, negative or inconclusive.
    pub outcome: String,
    /// screen (default) or confirmation. A LOINC code implies its own.
    #[serde(default)]
    pub method: Option<String>,
    /// point_of_care (default for the desk) or laboratory.
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub unit: Option<String>,
    #[serde(default)]
    pub cutoff: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CollectInput {
    /// When collected (program time or RFC 3339); now when empty.
    #[serde(default)]
    pub collected_at: Option<String>,
    /// urine or oral_fluid.
    pub specimen: String,
    /// Directly observed collection.
    #[serde(default)]
    pub observed: bool,
    /// Urine: temperature read within four minutes was 32–38 °C (true),
    /// out of range (false), or not read (absent).
    #[serde(default)]
    pub temperature_in_range: Option<bool>,
    /// The patient declined (no results follow).
    #[serde(default)]
    pub refused: bool,
    /// The chain-of-custody / accession number on the label (the lab's
    /// results attach to it).
    #[serde(default)]
    pub specimen_id: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
    /// Point-of-care results read at collection (none when sent to the lab).
    #[serde(default)]
    pub results: Vec<ResultInput>,
}

/// One test as staff see it: the collection, every result (superseded ones
/// marked), the results in force, the engine's reading, and the review.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TestView {
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub test: DrugTest,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub results: Vec<TestResult>,
    /// Ids of results superseded by a confirmation or a later result.
    pub superseded: Vec<String>,
    /// The engine's findings (collection and results).
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub findings: Vec<Finding>,
    /// pending (no result yet), expected, needs_review, reviewed.
    pub status: String,
    pub needs_review: bool,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub review: Option<Review>,
    /// Medications ordered here on the collection day (what "expected" means).
    pub medications: Vec<String>,
    pub summary: String,
    /// When collected, in the program's time zone.
    pub collected: String,
}

/// The results in force: per analyte the latest confirmation, else the
/// latest screen (a correction is simply the later result). Pure.
pub fn in_force(results: &[TestResult]) -> (Vec<&TestResult>, Vec<String>) {
    let mut best: HashMap<&str, &TestResult> = HashMap::new();
    for r in results {
        let rank = |x: &TestResult| (x.method == "confirmation", x.recorded_at, x.id.clone());
        match best.get(r.analyte.as_str()) {
            Some(b) if rank(b) > rank(r) => {}
            _ => {
                best.insert(r.analyte.as_str(), r);
            }
        }
    }
    let mut keep: Vec<&TestResult> = results
        .iter()
        .filter(|r| best.get(r.analyte.as_str()).is_some_and(|b| b.id == r.id))
        .collect();
    keep.sort_by(|a, b| a.analyte.cmp(&b.analyte));
    let superseded = results
        .iter()
        .filter(|r| !keep.iter().any(|k| k.id == r.id))
        .map(|r| r.id.clone())
        .collect();
    (keep, superseded)
}

/// Medications ordered here active on `day` (engine names).
pub fn medications_on(orders: &[MedOrder], day: &str) -> Vec<String> {
    let mut v: Vec<String> = crate::dosing::in_force_on(orders, day)
        .map(|o| o.medication.clone())
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Build the view of one test. Pure.
pub fn view(
    test: DrugTest,
    all: &[TestResult],
    reviews: &[Review],
    medications: Vec<String>,
    tz: &jiff::tz::TimeZone,
) -> TestView {
    let results: Vec<TestResult> = all
        .iter()
        .filter(|r| r.test_id == test.id)
        .cloned()
        .collect();
    let (force, superseded) = in_force(&results);
    let mut findings = engine::collection_findings(
        &test.specimen,
        test.refused,
        test.observed,
        test.temperature_in_range,
    );
    if !force.is_empty() {
        let input = engine::Input {
            results: force
                .iter()
                .map(|r| engine::Result_ {
                    analyte: r.analyte.clone(),
                    result: match r.outcome.as_str() {
                        "positive" => engine::Outcome::Positive,
                        "negative" => engine::Outcome::Negative,
                        _ => engine::Outcome::Inconclusive,
                    },
                    method: if r.method == "confirmation" {
                        engine::Method::Confirmation
                    } else {
                        engine::Method::Screen
                    },
                })
                .collect(),
            medications: medications.clone(),
        };
        match engine::interpret(&input) {
            Ok(o) => findings.extend(o.findings),
            Err(e) => findings.push(Finding {
                code: "not_interpreted".into(),
                level: Level::NeedsReview,
                message: format!("the results could not be read: {}", e.message),
                analytes: vec![],
            }),
        }
    }
    let flagged = findings.iter().any(|f| f.level == Level::NeedsReview);
    let review = reviews
        .iter()
        .filter(|v| v.test_id == test.id)
        .max_by_key(|v| v.reviewed_at)
        .cloned();
    let reviewed = review
        .as_ref()
        .is_some_and(|v| v.results_seen >= results.len() as i64);
    let needs_review = flagged && !reviewed;
    let status = if test.refused || !force.is_empty() {
        if needs_review {
            "needs_review"
        } else if flagged {
            "reviewed"
        } else {
            "expected"
        }
    } else {
        "pending"
    };
    let summary = if test.refused {
        "collection refused".to_string()
    } else if force.is_empty() {
        "waiting for results".to_string()
    } else {
        let pos: Vec<String> = force
            .iter()
            .filter(|r| r.outcome == "positive")
            .map(|r| {
                engine::plain_name(&r.analyte)
                    .unwrap_or(&r.analyte)
                    .to_string()
            })
            .collect();
        if pos.is_empty() {
            format!("all {} negative", force.len())
        } else {
            format!("positive: {}", pos.join(", "))
        }
    };
    TestView {
        collected: crate::fmt::time(test.collected_at, tz),
        test,
        results,
        superseded,
        findings,
        status: status.into(),
        needs_review,
        review,
        medications,
        summary,
    }
}

/// A patient's tests with their readings, and where random testing stands.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct History {
    pub patient_id: String,
    pub tests: Vec<TestView>,
    /// Random test days in the last 365 days up to today, and how many of
    /// them had a collection (or a refusal) that day.
    pub random_days_past_year: usize,
    pub random_days_collected: usize,
    /// Tests (collections and refusals) in the last 365 days.
    pub tests_past_year: usize,
    /// Random testing is due today (staff only; never shown to the patient).
    pub random_today: bool,
}

fn parse_result(
    p: &mut Problems,
    k: usize,
    r: &ResultInput,
    default_source: &str,
) -> Option<NewResult> {
    let Some((analyte, implied)) = engine::analyte_for_loinc(&r.analyte).or_else(|| {
        let a = r.analyte.trim().to_lowercase().replace(['-', ' '], "_");
        engine::ANALYTES
            .iter()
            .find(|x| x.0 == a)
            .map(|x| (x.0, engine::Method::Screen))
    }) else {
        p.add(
            format!("results[{k}].analyte"),
            format!(
                "unknown analyte {:?}; use a name ({}) or its LOINC code",
                r.analyte,
                engine::ANALYTES
                    .iter()
                    .map(|a| a.0)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
        return None;
    };
    let by_code = engine::analyte_for_loinc(&r.analyte).is_some();
    let method = match r.method.as_deref().map(str::trim).filter(|m| !m.is_empty()) {
        None => implied,
        Some("screen") if !by_code || implied == engine::Method::Screen => engine::Method::Screen,
        Some("confirmation") if !by_code || implied == engine::Method::Confirmation => {
            engine::Method::Confirmation
        }
        Some(m @ ("screen" | "confirmation")) => {
            p.add(
                format!("results[{k}].method"),
                format!("{m} does not match the LOINC code's method"),
            );
            return None;
        }
        Some(_) => {
            p.add(format!("results[{k}].method"), "screen or confirmation");
            return None;
        }
    };
    let (screen, confirm) = engine::ANALYTES
        .iter()
        .find(|x| x.0 == analyte)
        .map(|x| (x.1, x.2))
        .unwrap_or(("", ""));
    let loinc = if by_code {
        r.analyte.trim().to_string()
    } else if method == engine::Method::Confirmation {
        confirm.to_string()
    } else {
        screen.to_string()
    };
    let outcome = r.outcome.trim().to_lowercase();
    if !matches!(outcome.as_str(), "positive" | "negative" | "inconclusive") {
        p.add(
            format!("results[{k}].outcome"),
            "positive, negative or inconclusive",
        );
        return None;
    }
    let source = r
        .source
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or(default_source)
        .to_string();
    if !matches!(source.as_str(), "point_of_care" | "laboratory") {
        p.add(
            format!("results[{k}].source"),
            "point_of_care or laboratory",
        );
        return None;
    }
    let opt = |s: &Option<String>, field: &str, p: &mut Problems| {
        let v = s.as_deref().map(str::trim).filter(|v| !v.is_empty());
        if v.is_some_and(|v| v.chars().count() > 40) {
            p.add(format!("results[{k}].{field}"), "at most 40 characters");
        }
        v.map(str::to_string)
    };
    Some(NewResult {
        analyte: analyte.to_string(),
        loinc,
        method: if method == engine::Method::Confirmation {
            "confirmation"
        } else {
            "screen"
        }
        .into(),
        source,
        outcome,
        value: opt(&r.value, "value", p),
        unit: opt(&r.unit, "unit", p),
        cutoff: opt(&r.cutoff, "cutoff", p),
        status: "final".into(),
        lab_message_id: None,
        resulted_at: 0,
        by_name: String::new(),
    })
}

/// Results typed by staff, validated (each problem names its field).
pub(crate) fn parse_results(
    inputs: &[ResultInput],
    default_source: &str,
) -> Result<Vec<NewResult>> {
    let mut p = Problems::new();
    let mut out = vec![];
    for (k, r) in inputs.iter().enumerate() {
        if let Some(n) = parse_result(&mut p, k, r, default_source) {
            if out
                .iter()
                .any(|o: &NewResult| o.analyte == n.analyte && o.method == n.method)
            {
                p.add(
                    format!("results[{k}].analyte"),
                    format!("{} is listed twice", n.analyte),
                );
            }
            out.push(n);
        }
    }
    p.finish()?;
    Ok(out)
}

async fn load_view(app: &App, s: &PatientScope, test: DrugTest) -> Result<TestView> {
    let results = app.store.test_results(s.patient.id).await?;
    let reviews = app.store.test_reviews(s.patient.id).await?;
    let orders = app.store.orders(s.patient.id).await?;
    let day = day_of(test.collected_at, &s.tz);
    Ok(view(
        test,
        &results,
        &reviews,
        medications_on(&orders, &day),
        &s.tz,
    ))
}

fn day_of(at_us: i64, tz: &jiff::tz::TimeZone) -> String {
    jiff::Timestamp::from_microsecond(at_us)
        .map(|t| carepath_domain::program::clinic_day(t, tz).to_string())
        .unwrap_or_default()
}

/// Record a collection (or a refusal) with any point-of-care results.
pub async fn collect(
    app: &App,
    who: &Principal,
    patient: PatientId,
    i: &CollectInput,
) -> Result<TestView> {
    let s = access::open(
        app,
        who,
        patient,
        Permission::WriteClinical,
        "drugtest.collect",
    )
    .await?;
    let w = s.writer()?;
    let mut p = Problems::new();
    let at = p.take(crate::kinds::parse_when(
        "collected_at",
        i.collected_at.as_deref(),
        &s.tz,
        s.now,
        s.earliest_entry(),
    ));
    if !matches!(i.specimen.as_str(), "urine" | "oral_fluid") {
        p.add("specimen", "urine or oral_fluid");
    }
    if i.specimen != "urine" && i.temperature_in_range.is_some() {
        p.add(
            "temperature_in_range",
            "only a urine specimen's temperature is read",
        );
    }
    if i.refused && !i.results.is_empty() {
        p.add("results", "a refused collection has no results");
    }
    let specimen_id = i
        .specimen_id
        .as_deref()
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_string);
    if specimen_id.as_ref().is_some_and(|x| x.chars().count() > 60) {
        p.add("specimen_id", "at most 60 characters");
    }
    let results = p.take(parse_results(&i.results, "point_of_care"));
    p.finish()?;
    let at = at.ok_or_else(|| Error::Internal("collected_at".into()))?;
    let mut results = results.unwrap_or_default();
    let program = s.program.id;
    let day = day_of(at, &s.tz);
    let random = app
        .store
        .patient_random_days(patient, &day)
        .await?
        .iter()
        .any(|d| d.test_day == day);
    let mut tx = app.begin().await?;
    let id = tx
        .add_drug_test(
            &w,
            &NewDrugTest {
                patient_id: patient,
                program_id: program,
                collected_at: at,
                specimen: i.specimen.clone(),
                observed: i.observed,
                temperature_in_range: i.temperature_in_range,
                refused: i.refused,
                random,
                specimen_id,
                note: i
                    .note
                    .as_deref()
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(str::to_string),
                lab_message_id: None,
                by: Some(who.user_id),
                by_name: who.display_name.clone(),
            },
        )
        .await?;
    let test = tx
        .drug_test_in_tx(&id)
        .await?
        .ok_or_else(|| Error::Internal("test just written".into()))?;
    for r in &mut results {
        r.resulted_at = at;
        r.by_name = who.display_name.clone();
    }
    tx.add_results(&w, &test, &results).await?;
    tx.audit(
        who.event("drugtest.collect", Outcome::Success)
            .object("drug_test", &id)
            .patient(patient)
            .program(program)
            .detail(format!(
                "specimen={} observed={} refused={} results={}",
                i.specimen,
                i.observed,
                i.refused,
                results.len()
            )),
    );
    tx.commit().await?;
    crate::cm::after_evidence(app, patient).await;
    load_view(app, &s, test).await
}

/// Add results to a test (a later point-of-care reading, or laboratory
/// results typed from a paper report).
pub async fn add_results(
    app: &App,
    who: &Principal,
    patient: PatientId,
    test_id: &str,
    inputs: &[ResultInput],
) -> Result<TestView> {
    let s = access::open(
        app,
        who,
        patient,
        Permission::WriteClinical,
        "drugtest.results",
    )
    .await?;
    let w = s.writer()?;
    let test = app
        .store
        .drug_test(test_id)
        .await?
        .filter(|t| t.patient_id == patient)
        .ok_or(Error::NotFound)?;
    if test.refused {
        return Err(Error::Conflict(
            "a refused collection has no results".into(),
        ));
    }
    if inputs.is_empty() {
        return Err(Error::invalid("results", "give at least one result"));
    }
    let mut results = parse_results(inputs, "point_of_care")?;
    let now = app.now_us();
    for r in &mut results {
        r.resulted_at = now;
        r.by_name = who.display_name.clone();
    }
    let mut tx = app.begin().await?;
    tx.add_results(&w, &test, &results).await?;
    tx.audit(
        who.event("drugtest.results", Outcome::Success)
            .object("drug_test", &test.id)
            .patient(patient)
            .program(test.program_id)
            .detail(format!("results={}", results.len())),
    );
    tx.commit().await?;
    crate::cm::after_evidence(app, patient).await;
    load_view(app, &s, test).await
}

/// A prescriber reviews a test that needs it (what was discussed or
/// decided). A result arriving later opens it again.
pub async fn review(
    app: &App,
    who: &Principal,
    patient: PatientId,
    test_id: &str,
    note: &str,
) -> Result<TestView> {
    let s = access::open(
        app,
        who,
        patient,
        Permission::WriteClinical,
        "drugtest.review",
    )
    .await?;
    let test = app
        .store
        .drug_test(test_id)
        .await?
        .filter(|t| t.patient_id == patient)
        .ok_or(Error::NotFound)?;
    if !who.holds_in(test.program_id, Permission::OrderMedication) {
        return Err(Error::Forbidden(
            "a prescriber of the program reviews drug test results".into(),
        ));
    }
    let note = note.trim();
    if note.chars().count() < 3 {
        return Err(Error::invalid(
            "note",
            "say what was reviewed or decided (at least 3 characters)",
        ));
    }
    let v = load_view(app, &s, test.clone()).await?;
    if !v.needs_review {
        return Err(Error::Conflict("this test does not need a review".into()));
    }
    let w = s.writer()?;
    let mut tx = app.begin().await?;
    tx.add_review(
        &w,
        &test,
        v.results.len() as i64,
        note,
        who.user_id,
        &who.display_name,
    )
    .await?;
    tx.audit(
        who.event("drugtest.review", Outcome::Success)
            .object("drug_test", &test.id)
            .patient(patient)
            .program(test.program_id),
    );
    tx.commit().await?;
    load_view(app, &s, test).await
}

/// A patient's results for one analyte (name or LOINC code), oldest
/// first, each with its test's collection time and whether it is in force.
pub async fn analyte(
    app: &App,
    who: &Principal,
    patient: PatientId,
    analyte: &str,
) -> Result<Vec<AnalyteResult>> {
    let name = engine::analyte_for_loinc(analyte)
        .map(|(a, _)| a.to_string())
        .unwrap_or_else(|| analyte.trim().to_lowercase().replace(['-', ' '], "_"));
    if engine::plain_name(&name).is_none() {
        return Err(Error::invalid(
            "analyte",
            format!(
                "unknown analyte {analyte:?}; use a name ({}) or its LOINC code",
                engine::ANALYTES
                    .iter()
                    .map(|a| a.0)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    access::open(
        app,
        who,
        patient,
        Permission::ReadClinical,
        "drugtest.analyte",
    )
    .await?;
    let rows = app.store.analyte_results(patient, &name).await?;
    let tests = app.store.drug_tests(patient).await?;
    let all = app.store.test_results(patient).await?;
    let mut force: Vec<String> = vec![];
    for t in &tests {
        let of_test: Vec<TestResult> = all.iter().filter(|r| r.test_id == t.id).cloned().collect();
        force.extend(in_force(&of_test).0.into_iter().map(|r| r.id.clone()));
    }
    Ok(rows
        .into_iter()
        .map(|r| AnalyteResult {
            collected_at: tests
                .iter()
                .find(|t| t.id == r.test_id)
                .map(|t| t.collected_at)
                .unwrap_or(r.resulted_at),
            in_force: force.contains(&r.id),
            result: r,
        })
        .collect())
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AnalyteResult {
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub result: TestResult,
    pub collected_at: i64,
    /// Not superseded by a confirmation or a later result.
    pub in_force: bool,
}

/// A patient's drug tests, newest first, with where random testing stands.
pub async fn history(app: &App, who: &Principal, patient: PatientId) -> Result<History> {
    let s = access::open(app, who, patient, Permission::ReadClinical, "drugtest.read").await?;
    history_of(app, &s).await
}

pub(crate) async fn history_of(app: &App, s: &PatientScope) -> Result<History> {
    let patient = s.patient.id;
    let tests = app.store.drug_tests(patient).await?;
    let results = app.store.test_results(patient).await?;
    let reviews = app.store.test_reviews(patient).await?;
    let orders = app.store.orders(patient).await?;
    let today = s.today();
    let year_ago = today
        .checked_sub(jiff::Span::new().days(364))
        .map_err(|e| Error::Internal(e.to_string()))?
        .to_string();
    let today_s = today.to_string();
    let random: Vec<String> = app
        .store
        .patient_random_days(patient, &today_s)
        .await?
        .into_iter()
        .map(|d| d.test_day)
        .filter(|d| d.as_str() >= year_ago.as_str())
        .collect();
    let days: Vec<String> = tests
        .iter()
        .map(|t| day_of(t.collected_at, &s.tz))
        .collect();
    let views: Vec<TestView> = tests
        .into_iter()
        .map(|t| {
            let day = day_of(t.collected_at, &s.tz);
            view(t, &results, &reviews, medications_on(&orders, &day), &s.tz)
        })
        .collect();
    Ok(History {
        patient_id: patient.to_string(),
        random_days_collected: random.iter().filter(|d| days.contains(d)).count(),
        random_days_past_year: random.len(),
        tests_past_year: days
            .iter()
            .filter(|d| d.as_str() >= year_ago.as_str())
            .count(),
        random_today: random.contains(&today_s),
        tests: views,
    })
}

/// A program's tests from the last `days` days that need a review, for
/// the prescriber's worklist.
pub async fn program_needing_review(
    app: &App,
    program: ProgramId,
    tz: &jiff::tz::TimeZone,
    now: i64,
) -> Result<Vec<TestView>> {
    let from = now - 30 * 86_400_000_000;
    let (tests, results, reviews) = app.store.program_tests(program, from).await?;
    let orders = app.store.program_orders(program).await?;
    let mut out = vec![];
    for t in tests {
        let day = day_of(t.collected_at, tz);
        let mine: Vec<MedOrder> = orders
            .iter()
            .filter(|o| o.patient_id == t.patient_id)
            .cloned()
            .collect();
        let v = view(t, &results, &reviews, medications_on(&mine, &day), tz);
        if v.needs_review {
            out.push(v);
        }
    }
    Ok(out)
}

/// The program's random-testing policy in force.
pub async fn policy(app: &App, program: ProgramId) -> Result<RandomPolicy> {
    Ok(match app.store.testing_policy(program).await? {
        Some(p) => RandomPolicy {
            early_days: p.early_days as u32,
            early_per_block: p.early_per_block as u32,
            per_block: p.per_block as u32,
            min_per_year: p.min_per_year as u32,
        },
        None => RandomPolicy::default(),
    })
}

/// Save a program's random-testing policy (program administrators).
pub async fn set_policy(
    app: &App,
    who: &Principal,
    program: ProgramId,
    p: &RandomPolicy,
) -> Result<RandomPolicy> {
    access::program(app, who, program, Permission::ManagePrograms).await?;
    p.validate()?;
    let mut tx = app.begin().await?;
    tx.set_testing_policy(
        program,
        &carepath_store::drugtest::TestingPolicy {
            early_days: p.early_days.into(),
            early_per_block: p.early_per_block.into(),
            per_block: p.per_block.into(),
            min_per_year: p.min_per_year.into(),
        },
        who.user_id,
    )
    .await?;
    tx.audit(
        who.event("drugtest.policy", Outcome::Success)
            .program(program)
            .detail(format!(
                "early_days={} early_per_block={} per_block={} min_per_year={}",
                p.early_days, p.early_per_block, p.per_block, p.min_per_year
            )),
    );
    tx.commit().await?;
    Ok(*p)
}

/// One patient on the day's random-testing list.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RandomItem {
    pub patient_id: String,
    pub patient: String,
    /// Already collected (or refused) today.
    pub collected: bool,
}

/// Today's random-testing list of a program: draws the 30-day block of
/// each patient in care that has none yet (a fresh secret seed per block,
/// stored with the days), then lists the patients due today. Staff only.
pub async fn random_today(
    app: &App,
    who: &Principal,
    program: ProgramId,
) -> Result<(String, Vec<RandomItem>)> {
    let prog = access::program(app, who, program, Permission::ReadClinical).await?;
    let tz = carepath_domain::program::parse_time_zone(&prog.timezone)?;
    let today = carepath_domain::program::clinic_day(app.now(), &tz);
    let policy = policy(app, program).await?;
    let drawn = app.store.random_blocks(program).await?;
    let episodes = app.store.open_episodes(program).await?;
    let mut draws = vec![];
    for e in &episodes {
        let admitted = carepath_domain::program::clinic_day(
            jiff::Timestamp::from_microsecond(e.admitted_at)
                .map_err(|x| Error::Internal(x.to_string()))?,
            &tz,
        );
        let since = admitted
            .until(today)
            .map_err(|x| Error::Internal(x.to_string()))?
            .get_days();
        if since < 0 {
            continue;
        }
        let block = since as u32 / engine::BLOCK_DAYS;
        let adm = admitted.to_string();
        let pid = e.patient_id.to_string();
        if drawn
            .iter()
            .any(|(p, a, b)| *p == pid && *a == adm && *b == i64::from(block))
        {
            continue;
        }
        let seed: u64 = rand::random();
        let days = engine::random_block(seed, admitted, block, &policy)?;
        draws.push((e.patient_id, adm, block, seed, days));
    }
    if !draws.is_empty() {
        let mut tx = app.begin().await?;
        for (pid, adm, block, seed, days) in &draws {
            let days: Vec<String> = days.iter().map(|d| d.to_string()).collect();
            tx.add_random_days(*pid, program, adm, i64::from(*block), *seed, &days)
                .await?;
        }
        tx.audit(
            who.event("drugtest.random_draw", Outcome::Success)
                .program(program)
                .detail(format!("blocks={}", draws.len())),
        );
        tx.commit().await?;
    }
    let day = today.to_string();
    let in_care: Vec<PatientId> = episodes.iter().map(|e| e.patient_id).collect();
    let due: Vec<PatientId> = app
        .store
        .random_days(program, &day, &day)
        .await?
        .into_iter()
        .map(|d| d.patient_id)
        .filter(|p| in_care.contains(p))
        .collect();
    let (start, _) = carepath_domain::program::clinic_day_bounds(today, &tz);
    let (tests, _, _) = app
        .store
        .program_tests(program, start.as_microsecond())
        .await?;
    let names: HashMap<PatientId, String> =
        app.store.patient_names(&due).await?.into_iter().collect();
    let mut items: Vec<RandomItem> = due
        .iter()
        .map(|p| RandomItem {
            patient_id: p.to_string(),
            patient: names.get(p).cloned().unwrap_or_default(),
            collected: tests.iter().any(|t| t.patient_id == *p),
        })
        .collect();
    items.sort_by(|a, b| a.patient.cmp(&b.patient));
    app.audit(
        who.event("drugtest.random_list", Outcome::Success)
            .program(program)
            .detail(format!("due={}", items.len())),
    )
    .await?;
    Ok((day, items))
}
