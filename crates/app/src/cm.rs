//! Contingency management and the rewards store.
//!
//! A patient is enrolled in a schedule — escalating vouchers (the engine's
//! Higgins or Silverman presets) or prize draws (Petry's bowl) — with
//! targets: negative for chosen analytes, attendance. Samples post
//! themselves from the evidence (drug tests read by `clinical::cm::
//! sample_of_test`, attendance marks), once per piece of evidence (database
//! unique key); a voucher is earned at once, prize draws are drawn at the
//! desk with the engine's seeded RNG (seed, stream and slips kept). The
//! annual cap per funding source (default $750, non-cash) and a balance
//! that never goes below zero are enforced by the database as well. Items
//! are non-cash and support healthy living; stock never goes below zero.

use crate::App;
use crate::access::{self, PatientScope};
use crate::actor::Principal;
use crate::error::{Error, Problems, Result};
use carepath_clinical::cm as engine;
use carepath_domain::audit::Outcome;
use carepath_domain::authz::Permission;
use carepath_domain::ids::{PatientId, ProgramId};
use carepath_store::cm::{
    Enrollment, Funding, Item, NewEarning, NewEnrollment, Redemption, Sample,
};
use serde::{Deserialize, Serialize};

/// Catalog categories (all non-cash, for healthy living).
pub const CATEGORIES: &[(&str, &str)] = &[
    ("transport", "Transport (bus pass, ride card)"),
    ("grocery", "Grocery card"),
    ("pharmacy", "Pharmacy card"),
    ("hygiene", "Hygiene kit"),
    ("clothing", "Clothing"),
    ("fitness", "Gym or fitness pass"),
    ("phone", "Phone minutes"),
    ("household", "Household goods"),
    ("education", "Books, classes"),
    ("recreation", "Movie, museum, recreation"),
];

/// Words an item may never carry: cash and cash equivalents, alcohol,
/// tobacco and nicotine, weapons, gambling (SAMHSA CM guidance, 2025:
/// non-cash incentives; items must not undermine recovery or safety).
const FORBIDDEN: &[&str] = &[
    "cash",
    "money order",
    "prepaid visa",
    "prepaid mastercard",
    "debit card",
    "atm",
    "alcohol",
    "beer",
    "wine",
    "liquor",
    "vodka",
    "whiskey",
    "tobacco",
    "cigarette",
    "cigar",
    "vape",
    "e-cig",
    "nicotine",
    "lighter",
    "lottery",
    "scratch",
    "casino",
    "gun",
    "ammunition",
    "ammo",
    "knife",
    "weapon",
    "pepper spray",
];

/// Whether an item name names something a program may never give. Pure.
pub fn forbidden_item(name: &str) -> Option<&'static str> {
    // Whole words, singular or plural ("cigarettes" is "cigarette"; "cashew"
    // is not "cash").
    let words = |t: &str| -> Vec<String> {
        t.to_lowercase()
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(|w| {
                if w.len() > 3 && w.ends_with('s') {
                    w[..w.len() - 1].to_string()
                } else {
                    w.to_string()
                }
            })
            .collect()
    };
    let n = words(name);
    FORBIDDEN.iter().copied().find(|term| {
        let t = words(term);
        !t.is_empty() && n.windows(t.len()).any(|w| w == t.as_slice())
    })
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FundingInput {
    pub name: String,
    /// Per patient per calendar year (cents); default 75000 ($750).
    #[serde(default)]
    pub annual_cap_cents: Option<i64>,
    /// The program's annual incentive budget from this source (cents).
    #[serde(default)]
    pub annual_budget_cents: i64,
}

/// Add a funding source (program administrators).
pub async fn add_funding(
    app: &App,
    who: &Principal,
    program: ProgramId,
    i: &FundingInput,
) -> Result<Funding> {
    access::program(app, who, program, Permission::ManagePrograms).await?;
    let mut p = Problems::new();
    let name = i.name.trim();
    if name.chars().count() < 2 {
        p.add("name", "name the funding source");
    }
    let cap = i.annual_cap_cents.unwrap_or(engine::DEFAULT_CAP_CENTS);
    if !(0..=1_000_000).contains(&cap) {
        p.add("annual_cap_cents", "between 0 and 1000000");
    }
    if i.annual_budget_cents < 0 {
        p.add("annual_budget_cents", "may not be negative");
    }
    p.finish()?;
    let mut tx = app.begin().await?;
    let id = tx
        .add_funding(program, name, cap, i.annual_budget_cents, who.user_id)
        .await?;
    tx.audit(
        who.event("cm.funding", Outcome::Success)
            .object("cm_funding", &id)
            .program(program)
            .detail(format!("cap={cap} budget={}", i.annual_budget_cents)),
    );
    tx.commit().await?;
    app.store
        .fundings(program)
        .await?
        .into_iter()
        .find(|f| f.id == id)
        .ok_or(Error::NotFound)
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EnrollInput {
    /// voucher or prize.
    pub kind: String,
    /// voucher: higgins or silverman; prize: petry_500.
    pub preset: String,
    /// Target analytes that must be negative (engine names or LOINC codes).
    #[serde(default)]
    pub analytes: Vec<String>,
    /// Attending scheduled groups and individual or family sessions is a target.
    #[serde(default)]
    pub attendance: bool,
    /// Attending the activities of the treatment plan (calendar sessions of
    /// kind `activity`: yoga, art, exercise …) is a target.
    #[serde(default)]
    pub activities: bool,
    pub funding_id: String,
}

/// Enrol a patient (one active enrolment per program); evidence from now
/// on counts.
pub async fn enroll(
    app: &App,
    who: &Principal,
    patient: PatientId,
    i: &EnrollInput,
) -> Result<Enrollment> {
    let s = access::open(app, who, patient, Permission::WriteClinical, "cm.enroll").await?;
    let w = s.writer()?;
    let program = s.program.id;
    let mut p = Problems::new();
    let schedule = match (i.kind.as_str(), i.preset.as_str()) {
        ("voucher", name) => match engine::preset(name) {
            Ok(sch) => serde_json::to_string(&sch).map_err(|e| Error::Internal(e.to_string()))?,
            Err(_) => {
                p.add("preset", "for vouchers: higgins or silverman");
                String::new()
            }
        },
        ("prize", "petry_500") => serde_json::json!({"bowl": "petry_500"}).to_string(),
        ("prize", _) => {
            p.add("preset", "for prize draws: petry_500");
            String::new()
        }
        _ => {
            p.add("kind", "voucher or prize");
            String::new()
        }
    };
    let mut analytes: Vec<String> = vec![];
    for (k, a) in i.analytes.iter().enumerate() {
        let name = carepath_clinical::drugtest::analyte_for_loinc(a)
            .map(|(n, _)| n.to_string())
            .unwrap_or_else(|| a.trim().to_lowercase().replace(['-', ' '], "_"));
        if carepath_clinical::drugtest::plain_name(&name).is_none() {
            p.add(format!("analytes[{k}]"), format!("unknown analyte {a:?}"));
        } else if ["methadone", "eddp", "buprenorphine", "norbuprenorphine"]
            .contains(&name.as_str())
        {
            p.add(
                format!("analytes[{k}]"),
                "a treatment medication is never a target",
            );
        } else if !analytes.contains(&name) {
            analytes.push(name);
        }
    }
    if analytes.is_empty() && !i.attendance && !i.activities {
        p.add(
            "analytes",
            "choose at least one target: analytes, attendance or plan activities",
        );
    }
    let funding = app
        .store
        .fundings(program)
        .await?
        .into_iter()
        .find(|f| f.id == i.funding_id);
    if funding.is_none() {
        p.add("funding_id", "not a funding source of this program");
    }
    p.finish()?;
    let mut tx = app.begin().await?;
    tx.lock(&format!("cm:{patient}")).await?;
    if tx
        .enrollments_in_tx(patient)
        .await?
        .iter()
        .any(|e| e.program_id == program && e.ended_at.is_none())
    {
        return Err(Error::Conflict(
            "the patient is already enrolled in this program: end that enrolment first".into(),
        ));
    }
    let id = tx
        .add_enrollment(
            &w,
            &NewEnrollment {
                patient_id: patient,
                program_id: program,
                funding_id: i.funding_id.clone(),
                kind: i.kind.clone(),
                preset: i.preset.clone(),
                schedule,
                analytes: analytes.join(","),
                attendance: i.attendance,
                activities: i.activities,
                seed: rand::random::<i64>(),
                starts_at: app.now_us(),
                by: who.user_id,
                by_name: who.display_name.clone(),
            },
        )
        .await?;
    tx.audit(
        who.event("cm.enroll", Outcome::Success)
            .object("cm_enrollment", &id)
            .patient(patient)
            .program(program)
            .detail(format!("{} {}", i.kind, i.preset)),
    );
    tx.commit().await?;
    app.store
        .enrollments(patient)
        .await?
        .into_iter()
        .find(|e| e.id == id)
        .ok_or(Error::NotFound)
}

/// End an enrolment, with a reason.
pub async fn end(
    app: &App,
    who: &Principal,
    patient: PatientId,
    enrollment: &str,
    reason: &str,
) -> Result<()> {
    let s = access::open(app, who, patient, Permission::WriteClinical, "cm.end").await?;
    let w = s.writer()?;
    let e = app
        .store
        .enrollments(patient)
        .await?
        .into_iter()
        .find(|e| e.id == enrollment)
        .ok_or(Error::NotFound)?;
    if reason.trim().chars().count() < 3 {
        return Err(Error::invalid("reason", "say why (at least 3 characters)"));
    }
    let mut tx = app.begin().await?;
    tx.end_enrollment(&w, &e, reason.trim(), who.user_id, &who.display_name)
        .await?;
    tx.audit(
        who.event("cm.end", Outcome::Success)
            .object("cm_enrollment", &e.id)
            .patient(patient)
            .program(e.program_id),
    );
    tx.commit().await?;
    Ok(())
}

fn year_of(us: i64, tz: &jiff::tz::TimeZone) -> String {
    jiff::Timestamp::from_microsecond(us)
        .map(|t| t.to_zoned(tz.clone()).year().to_string())
        .unwrap_or_default()
}

fn sample_name(s: engine::Sample) -> &'static str {
    match s {
        engine::Sample::Negative => "negative",
        engine::Sample::Positive => "positive",
        engine::Sample::Missed => "missed",
        engine::Sample::Refused => "refused",
        engine::Sample::Invalid => "invalid",
    }
}

fn sample_of(name: &str) -> engine::Sample {
    match name {
        "negative" => engine::Sample::Negative,
        "positive" => engine::Sample::Positive,
        "missed" => engine::Sample::Missed,
        "refused" => engine::Sample::Refused,
        _ => engine::Sample::Invalid,
    }
}

/// What the voucher schedule gives for the last of `samples` (uncapped,
/// cents) and a line saying why. The engine replays the whole sequence.
fn voucher_for(e: &Enrollment, samples: &[engine::Sample]) -> Result<(i64, String)> {
    let schedule: engine::Schedule =
        serde_json::from_str(&e.schedule).map_err(|x| Error::Internal(x.to_string()))?;
    let out = engine::ledger(&engine::LedgerInput {
        schedule: Some(schedule),
        preset: None,
        results: samples.to_vec(),
        cap: Some(engine::Cents(i64::MAX / 4)),
        earned_before: None,
    })?;
    let last = out
        .entries
        .last()
        .ok_or_else(|| Error::Internal("no sample".into()))?;
    Ok((
        last.earned_cents,
        format!(
            "voucher {} + bonus {}{}",
            last.voucher_value,
            last.bonus,
            if last.reset { " (reset)" } else { "" }
        ),
    ))
}

/// [`sync`] after new evidence was committed: a failure is logged (no
/// patient data) and retried by the next sync — the evidence itself stands.
pub(crate) async fn after_evidence(app: &App, patient: PatientId) {
    if let Err(e) = sync(app, patient).await {
        tracing::warn!(error = %e, "contingency-management posting deferred");
    }
}

/// Post the samples the evidence makes (drug tests of the enrolment's
/// program collected since it began, attendance marks when attendance is a
/// target), once each, and earn the vouchers they give. Idempotent: every
/// writer of evidence calls it, and so does reading the ledger. Returns how
/// many samples were posted.
pub async fn sync(app: &App, patient: PatientId) -> Result<usize> {
    let enrollments: Vec<Enrollment> = app
        .store
        .enrollments(patient)
        .await?
        .into_iter()
        .filter(|e| e.ended_at.is_none())
        .collect();
    if enrollments.is_empty() {
        return Ok(0);
    }
    let sys = Principal::system("contingency management");
    let s = access::open(app, &sys, patient, Permission::WriteClinical, "cm.sync").await?;
    let tests = app.store.drug_tests(patient).await?;
    let results = app.store.test_results(patient).await?;
    let attendance = app.store.patient_records(patient, &["attendance"]).await?;
    let mut evidence: Vec<(ProgramId, &'static str, String, engine::Sample, i64)> = vec![];
    for e in &enrollments {
        let targets: Vec<String> = e
            .analytes
            .split(',')
            .filter(|a| !a.is_empty())
            .map(str::to_string)
            .collect();
        if !targets.is_empty() {
            for t in tests
                .iter()
                .filter(|t| t.program_id == e.program_id && t.collected_at >= e.starts_at)
            {
                let mine: Vec<carepath_store::drugtest::TestResult> = results
                    .iter()
                    .filter(|r| r.test_id == t.id)
                    .cloned()
                    .collect();
                let force: Vec<(String, carepath_clinical::drugtest::Outcome)> =
                    crate::drugtest::in_force(&mine)
                        .0
                        .into_iter()
                        .map(|r| {
                            (
                                r.analyte.clone(),
                                match r.outcome.as_str() {
                                    "positive" => carepath_clinical::drugtest::Outcome::Positive,
                                    "negative" => carepath_clinical::drugtest::Outcome::Negative,
                                    _ => carepath_clinical::drugtest::Outcome::Inconclusive,
                                },
                            )
                        })
                        .collect();
                if let Some(x) = engine::sample_of_test(
                    &targets,
                    t.refused,
                    t.temperature_in_range != Some(false),
                    &force,
                ) {
                    evidence.push((e.program_id, "drug_test", t.id.clone(), x, t.collected_at));
                }
            }
        }
        if e.attendance || e.activities {
            for r in attendance.iter().filter(|r| {
                r.is_current() && r.program_id == e.program_id && r.occurred_at >= e.starts_at
            }) {
                if let Ok(entry) = crate::kinds::Entry::decode(r.clone())
                    && let crate::kinds::Body::Attendance(b) = entry.body
                    && (if b.session_kind == "activity" {
                        e.activities
                    } else {
                        e.attendance
                    })
                    && let Some(x) = engine::sample_of_attendance(&b.status)
                {
                    evidence.push((
                        e.program_id,
                        "attendance",
                        b.session_id.clone(),
                        x,
                        r.occurred_at,
                    ));
                }
            }
        }
    }
    evidence.sort_by_key(|x| x.4);
    let w = s.writer()?;
    let mut tx = app.begin().await?;
    tx.lock(&format!("cm:{patient}")).await?;
    let mut posted = 0;
    for e in &enrollments {
        let mut done: Vec<Sample> = tx.samples_in_tx(&e.id).await?;
        for (prog, source, id, sample, at) in evidence.iter().filter(|x| x.0 == e.program_id) {
            if done
                .iter()
                .any(|d| d.source == *source && d.evidence_id == *id)
            {
                continue;
            }
            let _ = prog;
            let sid = tx
                .add_sample(&w, e, source, id, sample_name(*sample), *at)
                .await?;
            posted += 1;
            let mut seq: Vec<engine::Sample> = done.iter().map(|d| sample_of(&d.sample)).collect();
            seq.push(*sample);
            if e.kind == "voucher" {
                let (want, detail) = voucher_for(e, &seq)?;
                earn(
                    &mut tx,
                    &w,
                    e,
                    &sid,
                    want,
                    None,
                    detail,
                    &s.tz,
                    app.now_us(),
                )
                .await?;
            }
            done = tx.samples_in_tx(&e.id).await?;
        }
    }
    if posted > 0 {
        tx.audit(
            sys.event("cm.post", Outcome::Success)
                .patient(patient)
                .detail(format!("samples={posted}")),
        );
        tx.commit().await?;
    }
    Ok(posted)
}

/// Record what a sample earned: what the schedule gives, but no more than
/// what is left of the funding source's annual cap for this patient.
#[allow(clippy::too_many_arguments)]
async fn earn(
    tx: &mut carepath_store::Tx,
    w: &carepath_store::PatientWrite,
    e: &Enrollment,
    sample_id: &str,
    want: i64,
    draw: Option<String>,
    detail: String,
    tz: &jiff::tz::TimeZone,
    now: i64,
) -> Result<i64> {
    let year = year_of(now, tz);
    let cap = tx
        .fundings_in_tx(e.program_id)
        .await?
        .into_iter()
        .find(|f| f.id == e.funding_id)
        .map(|f| f.annual_cap_cents)
        .unwrap_or(0);
    let before = tx
        .earned_in_year(e.patient_id, &e.funding_id, &year)
        .await?;
    let amount = want.min((cap - before).max(0));
    tx.add_earning(
        w,
        &NewEarning {
            sample_id: sample_id.to_string(),
            enrollment_id: e.id.clone(),
            patient_id: e.patient_id,
            funding_id: e.funding_id.clone(),
            earned_year: year,
            amount_cents: amount,
            wanted_cents: want,
            draw,
            detail: if amount < want {
                format!("{detail}; capped at the annual limit")
            } else {
                detail
            },
            by_name: "Carepath (contingency management)".into(),
        },
    )
    .await?;
    Ok(amount)
}

/// Draw at the desk for a negative sample of a prize enrolment: the
/// engine's draws for that sample (ChaCha8 under the enrolment's seed,
/// stream = the sample's index), recorded with the slips; once.
pub async fn draw(
    app: &App,
    who: &Principal,
    patient: PatientId,
    sample_id: &str,
) -> Result<Ledger> {
    let s = access::open(app, who, patient, Permission::WriteClinical, "cm.draw").await?;
    let w = s.writer()?;
    let mut tx = app.begin().await?;
    tx.lock(&format!("cm:{patient}")).await?;
    let enrollments = tx.enrollments_in_tx(patient).await?;
    let mut found = None;
    for e in &enrollments {
        let samples = tx.samples_in_tx(&e.id).await?;
        if let Some(k) = samples.iter().position(|x| x.id == sample_id) {
            found = Some((e.clone(), samples, k));
            break;
        }
    }
    let (e, samples, k) = found.ok_or(Error::NotFound)?;
    if e.kind != "prize" {
        return Err(Error::Conflict("vouchers are earned without a draw".into()));
    }
    if samples[k].earned_at.is_some() {
        return Err(Error::Conflict("this sample was drawn already".into()));
    }
    if samples[k].sample != "negative" {
        return Err(Error::Conflict("only a negative sample earns draws".into()));
    }
    let seq: Vec<engine::Sample> = samples[..=k].iter().map(|x| sample_of(&x.sample)).collect();
    let out = engine::draw(&engine::DrawInput {
        bowl: None,
        preset: Some("petry_500".into()),
        results: seq,
        seed: e.seed as u64,
        draws: None,
        cap: Some(engine::Cents(i64::MAX / 4)),
        earned_before: None,
    })?;
    let last = out
        .entries
        .last()
        .ok_or_else(|| Error::Internal("no draw".into()))?;
    let draw = serde_json::json!({
        "rng": out.rng, "stream": k, "draws": last.draws, "slips": last.slips,
    })
    .to_string();
    let detail = format!("{} draws: {}", last.draws, last.slips.join(", "));
    let amount = earn(
        &mut tx,
        &w,
        &e,
        sample_id,
        last.earned_cents,
        Some(draw),
        detail,
        &s.tz,
        app.now_us(),
    )
    .await?;
    tx.audit(
        who.event("cm.draw", Outcome::Success)
            .object("cm_sample", sample_id)
            .patient(patient)
            .program(e.program_id)
            .detail(format!("draws={} amount={amount}", last.draws)),
    );
    tx.commit().await?;
    ledger_of(app, &s).await
}

/// One sample as the ledger shows it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LedgerLine {
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub sample: Sample,
    pub when: String,
    /// A prize sample waiting for its draw at the desk.
    pub draw_due: bool,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnrollmentView {
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub enrollment: Enrollment,
    pub lines: Vec<LedgerLine>,
    pub earned_cents: i64,
}

/// A patient's contingency-management ledger.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Ledger {
    pub patient_id: String,
    pub enrollments: Vec<EnrollmentView>,
    pub earned_cents: i64,
    /// Held by open requests or spent on fulfilled ones.
    pub spent_cents: i64,
    pub balance_cents: i64,
    pub balance: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub redemptions: Vec<Redemption>,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub catalog: Vec<Item>,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub fundings: Vec<Funding>,
}

/// The ledger (after posting what the evidence makes).
pub async fn ledger(app: &App, who: &Principal, patient: PatientId) -> Result<Ledger> {
    let s = access::open(app, who, patient, Permission::ReadClinical, "cm.ledger").await?;
    sync(app, patient).await?;
    ledger_of(app, &s).await
}

pub(crate) async fn ledger_of(app: &App, s: &PatientScope) -> Result<Ledger> {
    let patient = s.patient.id;
    let mut views = vec![];
    for e in app.store.enrollments(patient).await? {
        let samples = app.store.samples(&e.id).await?;
        let earned = samples.iter().filter_map(|x| x.amount_cents).sum();
        let prize = e.kind == "prize";
        views.push(EnrollmentView {
            lines: samples
                .into_iter()
                .rev()
                .map(|x| LedgerLine {
                    when: crate::fmt::time(x.evidence_at, &s.tz),
                    draw_due: prize && x.sample == "negative" && x.earned_at.is_none(),
                    sample: x,
                })
                .collect(),
            earned_cents: earned,
            enrollment: e,
        });
    }
    let (earned, spent) = app.store.cm_balance(patient).await?;
    Ok(Ledger {
        patient_id: patient.to_string(),
        enrollments: views,
        earned_cents: earned,
        spent_cents: spent,
        balance_cents: earned - spent,
        balance: engine::fmt(earned - spent),
        redemptions: app.store.redemptions(patient).await?,
        catalog: app.store.reward_items(s.program.id).await?,
        fundings: app.store.fundings(s.program.id).await?,
    })
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ItemInput {
    pub name: String,
    /// transport, grocery, pharmacy, hygiene, clothing, fitness, phone,
    /// household, education or recreation.
    pub category: String,
    pub cost_cents: i64,
    /// Initial stock.
    #[serde(default)]
    pub stock: i64,
}

/// Add an item to the program's catalog (program administrators): never
/// cash, alcohol, tobacco, weapons or gambling.
pub async fn add_item(
    app: &App,
    who: &Principal,
    program: ProgramId,
    i: &ItemInput,
) -> Result<Item> {
    access::program(app, who, program, Permission::ManagePrograms).await?;
    let mut p = Problems::new();
    let name = i.name.trim();
    if name.chars().count() < 3 {
        p.add("name", "name the item");
    } else if let Some(w) = forbidden_item(name) {
        p.add(
            "name",
            format!("{w:?}: incentives are never cash, alcohol, tobacco, weapons or gambling"),
        );
    }
    if !CATEGORIES.iter().any(|c| c.0 == i.category) {
        p.add(
            "category",
            format!(
                "one of {}",
                CATEGORIES
                    .iter()
                    .map(|c| c.0)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
    if !(1..=10_000).contains(&i.cost_cents) {
        p.add("cost_cents", "between 1 and 10000 ($100)");
    }
    if !(0..=10_000).contains(&i.stock) {
        p.add("stock", "between 0 and 10000");
    }
    p.finish()?;
    let mut tx = app.begin().await?;
    let id = tx
        .add_item(program, name, &i.category, i.cost_cents, who.user_id)
        .await?;
    if i.stock > 0 {
        tx.add_stock(&id, i.stock, "initial stock", None, who.user_id)
            .await?;
    }
    tx.audit(
        who.event("rewards.item", Outcome::Success)
            .object("reward_item", &id)
            .program(program)
            .detail(format!("cost={} stock={}", i.cost_cents, i.stock)),
    );
    tx.commit().await?;
    app.store
        .reward_items(program)
        .await?
        .into_iter()
        .find(|x| x.id == id)
        .ok_or(Error::NotFound)
}

/// The program's catalog and funding sources, for the administrators who
/// keep them (no patient data).
pub async fn catalog(
    app: &App,
    who: &Principal,
    program: ProgramId,
) -> Result<(Vec<Item>, Vec<Funding>)> {
    access::program(app, who, program, Permission::ManagePrograms).await?;
    Ok((
        app.store.reward_items(program).await?,
        app.store.fundings(program).await?,
    ))
}

/// Receive stock (positive) or write it off (negative, with a reason).
pub async fn stock(
    app: &App,
    who: &Principal,
    program: ProgramId,
    item: &str,
    delta: i64,
    reason: &str,
) -> Result<Item> {
    access::program(app, who, program, Permission::WriteClinical).await?;
    let it = app
        .store
        .reward_items(program)
        .await?
        .into_iter()
        .find(|x| x.id == item)
        .ok_or(Error::NotFound)?;
    if delta == 0 || delta.abs() > 10_000 {
        return Err(Error::invalid("delta", "a non-zero count up to 10000"));
    }
    if reason.trim().chars().count() < 3 {
        return Err(Error::invalid(
            "reason",
            "say why (received, damaged, counted …)",
        ));
    }
    let mut tx = app.begin().await?;
    tx.add_stock(&it.id, delta, reason.trim(), None, who.user_id)
        .await?;
    tx.audit(
        who.event("rewards.stock", Outcome::Success)
            .object("reward_item", &it.id)
            .program(program)
            .detail(format!("delta={delta}")),
    );
    tx.commit().await?;
    app.store
        .reward_items(program)
        .await?
        .into_iter()
        .find(|x| x.id == item)
        .ok_or(Error::NotFound)
}

/// Redeem an item: at the desk by staff (handed over at once: fulfilled,
/// stock out), or asked for by the patient in the portal (held against the
/// balance until staff fulfil or decline it).
pub async fn redeem(app: &App, who: &Principal, patient: PatientId, item: &str) -> Result<Ledger> {
    let s = access::open(app, who, patient, Permission::WriteClinical, "cm.redeem").await?;
    let w = s.writer()?;
    let it = app
        .store
        .reward_items(s.program.id)
        .await?
        .into_iter()
        .find(|x| x.id == item)
        .ok_or(Error::NotFound)?;
    if it.in_stock < 1 {
        return Err(Error::Conflict(format!("{} is out of stock", it.name)));
    }
    let mut tx = app.begin().await?;
    tx.lock(&format!("cm:{patient}")).await?;
    let rid = tx
        .add_redemption(&w, patient, s.program.id, &it, "staff", &who.display_name)
        .await
        .map_err(balance_error)?;
    let r = tx
        .redemption_in_tx(&rid)
        .await?
        .ok_or_else(|| Error::Internal("redemption just written".into()))?;
    tx.decide_redemption(&w, &r, "fulfilled", None, who.user_id, &who.display_name)
        .await?;
    tx.add_stock(&it.id, -1, "redeemed", Some(&rid), who.user_id)
        .await
        .map_err(balance_error)?;
    tx.audit(
        who.event("cm.redeem", Outcome::Success)
            .object("cm_redemption", &rid)
            .patient(patient)
            .program(s.program.id)
            .detail(format!("cost={}", it.cost_cents)),
    );
    tx.commit().await?;
    ledger_of(app, &s).await
}

/// Staff fulfil (hand over; stock out) or decline a patient's request.
pub async fn decide(
    app: &App,
    who: &Principal,
    patient: PatientId,
    redemption: &str,
    fulfil: bool,
    note: Option<&str>,
) -> Result<Ledger> {
    let s = access::open(app, who, patient, Permission::WriteClinical, "cm.decide").await?;
    let w = s.writer()?;
    let mut tx = app.begin().await?;
    tx.lock(&format!("cm:{patient}")).await?;
    let r = tx
        .redemption_in_tx(redemption)
        .await?
        .filter(|r| r.patient_id == patient)
        .ok_or(Error::NotFound)?;
    if r.outcome.is_some() {
        return Err(Error::Conflict("this request was already decided".into()));
    }
    let outcome = if fulfil { "fulfilled" } else { "declined" };
    tx.decide_redemption(&w, &r, outcome, note, who.user_id, &who.display_name)
        .await?;
    if fulfil {
        tx.add_stock(&r.item_id, -1, "redeemed", Some(&r.id), who.user_id)
            .await
            .map_err(balance_error)?;
    }
    tx.audit(
        who.event("cm.decide", Outcome::Success)
            .object("cm_redemption", &r.id)
            .patient(patient)
            .program(r.program_id)
            .detail(outcome.to_string()),
    );
    tx.commit().await?;
    ledger_of(app, &s).await
}

/// The database's refusals, in words.
pub(crate) fn balance_error(e: carepath_store::StoreError) -> Error {
    match e {
        carepath_store::StoreError::Refused(m) if m.contains("balance") => {
            Error::Conflict("not enough points for this item".into())
        }
        carepath_store::StoreError::Refused(m) if m.contains("stock") => {
            Error::Conflict("this item is out of stock".into())
        }
        other => other.into(),
    }
}

/// One month of the program's incentive spending.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Month {
    /// YYYY-MM (program time).
    pub month: String,
    pub earned_cents: i64,
    /// Items handed over.
    pub redeemed_cents: i64,
    /// The program's annual budgets / 12.
    pub budget_cents: i64,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Report {
    pub months: Vec<Month>,
    /// (patient id, name, earned cents) over the twelve months.
    pub patients: Vec<(String, String, i64)>,
    pub annual_budget_cents: i64,
    pub earned_cents: i64,
    pub redeemed_cents: i64,
    pub enrolled: usize,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub open_requests: Vec<Redemption>,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub catalog: Vec<Item>,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub fundings: Vec<Funding>,
}

/// The program's incentive report: the last twelve months, per month and
/// per patient, against the budget; audited (it names patients).
pub async fn report(app: &App, who: &Principal, program: ProgramId) -> Result<Report> {
    let prog = access::program(app, who, program, Permission::ReadClinical).await?;
    let tz = carepath_domain::program::parse_time_zone(&prog.timezone)?;
    let today = carepath_domain::program::clinic_day(app.now(), &tz);
    let first = today
        .first_of_month()
        .checked_sub(jiff::Span::new().months(11))
        .map_err(|e| Error::Internal(e.to_string()))?;
    let (from, _) = carepath_domain::program::clinic_day_bounds(first, &tz);
    let (earned, spent) = app.store.cm_months(program, from.as_microsecond()).await?;
    let fundings = app.store.fundings(program).await?;
    let annual: i64 = fundings.iter().map(|f| f.annual_budget_cents).sum();
    let month_of = |us: i64| {
        jiff::Timestamp::from_microsecond(us)
            .map(|t| t.to_zoned(tz.clone()).strftime("%Y-%m").to_string())
            .unwrap_or_default()
    };
    let mut months = vec![];
    let mut d = first;
    for _ in 0..12 {
        let m = d.strftime("%Y-%m").to_string();
        months.push(Month {
            earned_cents: earned
                .iter()
                .filter(|x| month_of(x.1) == m)
                .map(|x| x.2)
                .sum(),
            redeemed_cents: spent
                .iter()
                .filter(|x| month_of(x.0) == m)
                .map(|x| x.1)
                .sum(),
            budget_cents: annual / 12,
            month: m,
        });
        d = d
            .checked_add(jiff::Span::new().months(1))
            .map_err(|e| Error::Internal(e.to_string()))?;
    }
    let mut per: std::collections::BTreeMap<String, i64> = Default::default();
    for (p, _, c) in &earned {
        *per.entry(p.clone()).or_default() += c;
    }
    let ids: Vec<PatientId> = per.keys().filter_map(|p| p.parse().ok()).collect();
    let names: std::collections::HashMap<PatientId, String> =
        app.store.patient_names(&ids).await?.into_iter().collect();
    let mut patients: Vec<(String, String, i64)> = per
        .into_iter()
        .map(|(p, c)| {
            let name = p
                .parse::<PatientId>()
                .ok()
                .and_then(|id| names.get(&id).cloned())
                .unwrap_or_default();
            (p, name, c)
        })
        .collect();
    patients.sort_by_key(|p| std::cmp::Reverse(p.2));
    let enrolled = app
        .store
        .program_enrollments(program)
        .await?
        .iter()
        .filter(|e| e.ended_at.is_none())
        .count();
    app.audit(
        who.event("cm.report", Outcome::Success)
            .program(program)
            .detail(format!("patients={}", patients.len())),
    )
    .await?;
    Ok(Report {
        earned_cents: months.iter().map(|m| m.earned_cents).sum(),
        redeemed_cents: months.iter().map(|m| m.redeemed_cents).sum(),
        months,
        patients,
        annual_budget_cents: annual,
        enrolled,
        open_requests: app.store.open_redemptions(program).await?,
        catalog: app.store.reward_items(program).await?,
        fundings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_items_are_named() {
        assert_eq!(forbidden_item("Bus pass (monthly)"), None);
        assert_eq!(forbidden_item("Grocery gift card $10"), None);
        assert_eq!(forbidden_item("$20 Cash"), Some("cash"));
        assert_eq!(forbidden_item("Cigarettes, 1 pack"), Some("cigarette"));
        assert_eq!(forbidden_item("E-cig starter"), Some("e-cig"));
        assert_eq!(forbidden_item("Vape pen"), Some("vape"));
        assert_eq!(forbidden_item("Pocket knife"), Some("knife"));
        assert_eq!(forbidden_item("Prepaid Visa card"), Some("prepaid visa"));
        assert_eq!(forbidden_item("Lottery tickets"), Some("lottery"));
        // whole words only: "cashew" and "Atmosphere" are fine
        assert_eq!(forbidden_item("Cashew snack pack"), None);
        assert_eq!(forbidden_item("Atmosphere yoga pass"), None);
    }
}
