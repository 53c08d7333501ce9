//! Take-home doses: per-program settings (the jurisdiction policy pack,
//! federal-2024 by default), the clinic's closure calendar, the
//! prescriber's decision (criteria weighed by the engine's `takehome`
//! rule, 42 CFR § 8.12(i)), bottles handed out at the window with their
//! labels, and what became of each bottle (returned, random call-back
//! count, lost, stolen).
//!
//! A bottle is a dose in the slot of the day it is to be taken, so the
//! dose table's unique index refuses an observed dose on a take-home day
//! and a second bottle for the same day.

use crate::App;
use crate::access::{self, PatientScope};
use crate::actor::Principal;
use crate::dosing::{self, mg};
use crate::error::{Error, Problems, Result};
use carepath_clinical as clinical;
use carepath_domain::audit::Outcome;
use carepath_domain::authz::Permission;
use carepath_domain::ids::{PatientId, ProgramId};
use carepath_store::StoreError;
use carepath_store::dosing::{MedOrder, NewDose};
use carepath_store::takehome::{Bottle, BottleEvent, Closure, Grant, NewGrant};
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The policy pack used when a program has not chosen one.
pub const DEFAULT_POLICY: &str = "federal-2024";
/// Hours a verbal order may wait for the prescriber's signature by default.
pub const DEFAULT_COSIGN_HOURS: i64 = 24;

/// A program's dosing settings, with defaults filled in.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Settings {
    pub takehome_policy: String,
    pub verbal_cosign_hours: i64,
    /// Printed on bottle labels.
    pub phone: String,
    /// Opioid-free days the program requires before naltrexone (the
    /// engine's `naltrexone-start` parameters).
    #[serde(default)]
    pub naltrexone_free_days: NaltrexoneDays,
}

/// Opioid-free days before naltrexone by the opioid last used. The label
/// (Vivitrol/naltrexone prescribing information) gives 7–10 days, up to two
/// weeks after methadone or buprenorphine; each program chooses within 1–30.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, default)]
pub struct NaltrexoneDays {
    pub short_acting: i64,
    pub fentanyl: i64,
    pub long_acting: i64,
}

impl Default for NaltrexoneDays {
    fn default() -> Self {
        let p = clinical::naltrexone::Params::default();
        NaltrexoneDays {
            short_acting: p.opioid_free_days_short_acting.into(),
            fentanyl: p.opioid_free_days_fentanyl.into(),
            long_acting: p.opioid_free_days_long_acting.into(),
        }
    }
}

impl NaltrexoneDays {
    /// The engine's parameters.
    pub fn params(&self) -> clinical::naltrexone::Params {
        let d = |x: i64| u32::try_from(x.clamp(1, 30)).unwrap_or(7);
        clinical::naltrexone::Params {
            opioid_free_days_short_acting: d(self.short_acting),
            opioid_free_days_fentanyl: d(self.fentanyl),
            opioid_free_days_long_acting: d(self.long_acting),
        }
    }
}

pub async fn settings(app: &App, program: ProgramId) -> Result<Settings> {
    Ok(match app.store.program_dosing(program).await? {
        Some(s) => Settings {
            takehome_policy: s.takehome_policy,
            verbal_cosign_hours: s.verbal_cosign_hours,
            phone: s.phone,
            naltrexone_free_days: NaltrexoneDays {
                short_acting: s.naltrexone_days_short,
                fentanyl: s.naltrexone_days_fentanyl,
                long_acting: s.naltrexone_days_long,
            },
        },
        None => Settings {
            takehome_policy: DEFAULT_POLICY.into(),
            verbal_cosign_hours: DEFAULT_COSIGN_HOURS,
            phone: String::new(),
            naltrexone_free_days: NaltrexoneDays::default(),
        },
    })
}

/// Save a program's dosing settings (program administrators).
pub async fn save_settings(
    app: &App,
    who: &Principal,
    program: ProgramId,
    s: &Settings,
) -> Result<()> {
    access::program(app, who, program, Permission::ManagePrograms).await?;
    let mut p = Problems::new();
    if clinical::policy::get(&s.takehome_policy).is_err() {
        p.add(
            "takehome_policy",
            format!("must be one of {}", clinical::policy::names().join(", ")),
        );
    }
    if !(1..=168).contains(&s.verbal_cosign_hours) {
        p.add("verbal_cosign_hours", "must be between 1 and 168 hours");
    }
    let digits = s.phone.chars().filter(char::is_ascii_digit).count();
    if !(7..=15).contains(&digits) {
        p.add("phone", "the program's phone number, with area code");
    }
    let n = s.naltrexone_free_days;
    for (field, days) in [
        ("naltrexone_free_days.short_acting", n.short_acting),
        ("naltrexone_free_days.fentanyl", n.fentanyl),
        ("naltrexone_free_days.long_acting", n.long_acting),
    ] {
        if !(1..=30).contains(&days) {
            p.add(field, "must be between 1 and 30 days");
        }
    }
    p.finish()?;
    let mut tx = app.begin().await?;
    tx.set_program_dosing(
        program,
        &s.takehome_policy,
        s.verbal_cosign_hours,
        s.phone.trim(),
        [n.short_acting, n.fentanyl, n.long_acting],
        who.user_id,
    )
    .await?;
    tx.audit(
        who.event("dosing.settings", Outcome::Success)
            .program(program)
            .detail(format!(
                "policy={} cosign_hours={} naltrexone_days={}/{}/{}",
                s.takehome_policy, s.verbal_cosign_hours, n.short_acting, n.fentanyl, n.long_acting
            )),
    );
    Ok(tx.commit().await?)
}

fn parse_day(field: &'static str, v: &str) -> Result<Date> {
    v.trim()
        .parse::<Date>()
        .map_err(|_| Error::invalid(field, "must be a date (YYYY-MM-DD)"))
}

/// Add a closure day (Sunday, holiday) to the program's calendar.
pub async fn add_closure(
    app: &App,
    who: &Principal,
    program: ProgramId,
    day: &str,
    reason: &str,
) -> Result<()> {
    access::program(app, who, program, Permission::ManagePrograms).await?;
    let mut p = Problems::new();
    let d = p.take(parse_day("day", day));
    if reason.trim().chars().count() < 3 {
        p.add("reason", "say why the clinic is closed (e.g. Thanksgiving)");
    }
    p.finish()?;
    let d = d.ok_or_else(|| Error::Internal("day".into()))?;
    let mut tx = app.begin().await?;
    tx.add_closure(program, &d.to_string(), reason.trim(), who.user_id)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => Error::Conflict(format!("{d} is already a closure day")),
            other => other.into(),
        })?;
    tx.audit(
        who.event("dosing.closure.add", Outcome::Success)
            .program(program)
            .detail(d.to_string()),
    );
    Ok(tx.commit().await?)
}

/// The program's closure days from today on.
pub async fn closures(app: &App, who: &Principal, program: ProgramId) -> Result<Vec<Closure>> {
    let prog = access::program(app, who, program, Permission::ReadClinical).await?;
    let tz = carepath_domain::program::parse_time_zone(&prog.timezone)?;
    let today = carepath_domain::program::clinic_day(app.now(), &tz);
    Ok(app.store.closures(program, &today.to_string()).await?)
}

/// The prescriber's take-home decision.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AssessInput {
    /// Every criterion of the program's policy, met (true) or not.
    pub criteria: BTreeMap<String, bool>,
    /// Take-home doses granted per supply (0 stops take-homes).
    pub doses_granted: u32,
    /// maintenance (default), withdrawal_management or interim.
    #[serde(default)]
    pub treatment_type: Option<String>,
    /// Needed when the engine refuses the number: the prescriber's written
    /// reason (at least 10 characters).
    #[serde(default)]
    pub override_reason: Option<String>,
}

/// What the engine says for a patient today, before a decision.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Eligibility {
    pub policy: String,
    pub medication: String,
    pub days_in_treatment: u32,
    pub criteria: Vec<String>,
    pub criteria_citation: String,
    /// Closure days in the coming week.
    pub closure_days: u32,
    /// With every criterion met: the most the policy allows now.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub ceiling: clinical::takehome::Output,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub current: Option<Grant>,
}

fn engine_medication(o: &MedOrder) -> Result<clinical::takehome::Medication> {
    match o.medication.as_str() {
        "methadone" => Ok(clinical::takehome::Medication::Methadone),
        "buprenorphine" | "buprenorphine_naloxone" => {
            Ok(clinical::takehome::Medication::Buprenorphine)
        }
        other => Err(Error::Conflict(format!(
            "take-home rules apply to methadone and buprenorphine, not {other}"
        ))),
    }
}

/// Days of continuous treatment counting today as a day: from the start of
/// the patient's earliest order in an unbroken chain of orders here.
fn days_in_treatment(orders: &[MedOrder], program: ProgramId, today: Date) -> u32 {
    let start = orders
        .iter()
        .filter(|o| o.program_id == program)
        .filter_map(|o| o.starts_on.parse::<Date>().ok())
        .min()
        .unwrap_or(today);
    start
        .until(today)
        .map(|s| s.get_days().max(0) as u32 + 1)
        .unwrap_or(1)
}

async fn closure_days_ahead(
    app: &App,
    program: ProgramId,
    today: Date,
    days: i64,
) -> Result<Vec<String>> {
    let end = today
        .checked_add(jiff::Span::new().days(days))
        .map_err(|e| Error::Internal(e.to_string()))?
        .to_string();
    Ok(app
        .store
        .closures(program, &today.to_string())
        .await?
        .into_iter()
        .map(|c| c.day)
        .filter(|d| d.as_str() > today.to_string().as_str() && d.as_str() <= end.as_str())
        .collect())
}

struct Context {
    s: PatientScope,
    order: MedOrder,
    orders: Vec<MedOrder>,
    settings: Settings,
    today: Date,
}

async fn context(app: &App, s: PatientScope) -> Result<Context> {
    let today = s.today();
    let orders = app.store.orders(s.patient.id).await?;
    let order = dosing::active_on(&orders, &today.to_string())
        .cloned()
        .ok_or_else(|| Error::Conflict("no active medication order".into()))?;
    let settings = settings(app, order.program_id).await?;
    Ok(Context {
        s,
        order,
        orders,
        settings,
        today,
    })
}

fn treatment_type(v: Option<&str>) -> Result<clinical::takehome::TreatmentType> {
    use clinical::takehome::TreatmentType as T;
    match v.unwrap_or("maintenance") {
        "maintenance" | "" => Ok(T::Maintenance),
        "withdrawal_management" => Ok(T::WithdrawalManagement),
        "interim" => Ok(T::Interim),
        _ => Err(Error::invalid(
            "treatment_type",
            "must be maintenance, withdrawal_management or interim",
        )),
    }
}

/// The engine's ceiling for the patient today (every criterion met) and the
/// decision in force; audited as a read.
pub async fn eligibility(app: &App, who: &Principal, patient: PatientId) -> Result<Eligibility> {
    let s = access::open(app, who, patient, Permission::ReadClinical, "takehome.read").await?;
    let c = context(app, s).await?;
    let policy = clinical::policy::get(&c.settings.takehome_policy)?;
    let day = days_in_treatment(&c.orders, c.order.program_id, c.today);
    let closures = closure_days_ahead(app, c.order.program_id, c.today, 7).await?;
    let ceiling = clinical::takehome::evaluate(&clinical::takehome::Input {
        policy: c.settings.takehome_policy.clone(),
        medication: engine_medication(&c.order)?,
        days_in_treatment: day,
        treatment_type: clinical::takehome::TreatmentType::Maintenance,
        criteria: policy.criteria.iter().map(|k| (k.clone(), true)).collect(),
        closure_days: closures.len() as u32,
        requested_doses: None,
        override_: None,
    })?;
    let current = app.store.takehome_grants(patient).await?.into_iter().next();
    Ok(Eligibility {
        policy: c.settings.takehome_policy,
        medication: c.order.medication,
        days_in_treatment: day,
        criteria: policy.criteria.clone(),
        criteria_citation: policy.criteria_citation.clone(),
        closure_days: closures.len() as u32,
        ceiling,
        current,
    })
}

/// Record the prescriber's take-home decision: every criterion of the
/// program's policy weighed, the number of doses checked by the engine; a
/// number above what it allows needs an override with a written reason.
pub async fn assess(
    app: &App,
    who: &Principal,
    patient: PatientId,
    i: &AssessInput,
) -> Result<Grant> {
    let s = access::open(
        app,
        who,
        patient,
        Permission::WriteClinical,
        "takehome.open",
    )
    .await?;
    let w = s.writer()?;
    let c = context(app, s).await?;
    if !c.s.prescribes_in(c.order.program_id) {
        return Err(Error::Forbidden(
            "a prescriber decides take-home doses".into(),
        ));
    }
    let tt = treatment_type(i.treatment_type.as_deref())?;
    let day = days_in_treatment(&c.orders, c.order.program_id, c.today);
    let closures = closure_days_ahead(app, c.order.program_id, c.today, 7).await?;
    let override_ = i
        .override_reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|r| clinical::Override {
            role: "prescriber".into(),
            by: who.display_name.clone(),
            reason: r.to_string(),
        });
    let out = clinical::takehome::evaluate(&clinical::takehome::Input {
        policy: c.settings.takehome_policy.clone(),
        medication: engine_medication(&c.order)?,
        days_in_treatment: day,
        treatment_type: tt,
        criteria: i.criteria.clone(),
        closure_days: closures.len() as u32,
        requested_doses: Some(i.doses_granted),
        override_: override_.clone(),
    })?;
    if let Some(v) = &out.verdict
        && !v.approved
    {
        let why = v
            .violations
            .iter()
            .map(|x| x.message.clone())
            .collect::<Vec<_>>()
            .join("; ");
        return Err(Error::invalid(
            "doses_granted",
            format!("{why}; a prescriber override with a written reason is needed"),
        ));
    }
    // access::open refused a session without its second factor, so an
    // override here always comes from one that passed it.
    let g = NewGrant {
        patient_id: patient,
        program_id: c.order.program_id,
        decided_on: c.today.to_string(),
        days_in_treatment: day as i64,
        criteria: serde_json::to_string(&i.criteria).map_err(|e| Error::Internal(e.to_string()))?,
        policy: c.settings.takehome_policy.clone(),
        doses_granted: i.doses_granted as i64,
        max_doses: out.max_doses as i64,
        engine_result: serde_json::to_string(&out).map_err(|e| Error::Internal(e.to_string()))?,
        override_reason: override_.map(|o| o.reason),
        suspended_reason: None,
        decided_by: who.user_id.to_string(),
        decided_by_name: who.display_name.clone(),
    };
    let mut tx = app.begin().await?;
    let id = tx.add_grant(&w, &g).await?;
    tx.audit(
        who.event("takehome.decide", Outcome::Success)
            .object("takehome_grant", &id)
            .patient(patient)
            .program(c.order.program_id)
            .detail(format!(
                "day {day}: {} of {} doses ({})",
                i.doses_granted, out.max_doses, out.binding_policy
            )),
    );
    tx.commit().await?;
    app.store
        .takehome_grants(patient)
        .await?
        .into_iter()
        .find(|x| x.id == id)
        .ok_or(Error::NotFound)
}

/// Suspend take-homes (the missed-dose rule, or a prescriber): a decision
/// granting none, with the reason. Written by the scheduled job as a
/// system actor.
pub async fn suspend(app: &App, who: &Principal, patient: PatientId, reason: &str) -> Result<()> {
    let s = access::open(
        app,
        who,
        patient,
        Permission::WriteClinical,
        "takehome.suspend",
    )
    .await?;
    let w = s.writer()?;
    let c = context(app, s).await?;
    let day = days_in_treatment(&c.orders, c.order.program_id, c.today);
    let mut tx = app.begin().await?;
    let id = tx
        .add_grant(
            &w,
            &NewGrant {
                patient_id: patient,
                program_id: c.order.program_id,
                decided_on: c.today.to_string(),
                days_in_treatment: day as i64,
                criteria: "{}".into(),
                policy: c.settings.takehome_policy.clone(),
                doses_granted: 0,
                max_doses: 0,
                engine_result: "{}".into(),
                override_reason: None,
                suspended_reason: Some(reason.to_string()),
                decided_by: who.user_id.to_string(),
                decided_by_name: who.display_name.clone(),
            },
        )
        .await?;
    tx.audit(
        who.event("takehome.suspend", Outcome::Success)
            .object("takehome_grant", &id)
            .patient(patient)
            .program(c.order.program_id)
            .detail(reason.chars().take(120).collect::<String>()),
    );
    Ok(tx.commit().await?)
}

/// The days after `today` that bottles handed out today cover: the
/// grant's number of doses in a row, extended over any closure days (which
/// always get a bottle when `closure_ok`), minus days already covered.
/// Pure: the caller loads the closure calendar and existing bottles.
pub fn plan_days(
    today: &str,
    granted: i64,
    closure_ok: bool,
    closures: &[String],
    covered: &[String],
) -> Vec<(String, bool)> {
    let Ok(mut d) = today.parse::<Date>() else {
        return vec![];
    };
    let mut days = vec![];
    let mut ladder = 0;
    while days.len() < 31 {
        let Ok(next) = d.tomorrow() else { break };
        d = next;
        let ds = d.to_string();
        let closure = closure_ok && closures.contains(&ds);
        if closure {
            days.push((ds, true));
        } else if ladder < granted {
            ladder += 1;
            days.push((ds, false));
        } else {
            break;
        }
    }
    days.retain(|(d, _)| !covered.contains(d));
    days
}

/// Closure-day bottles are withheld only when the decision in force found
/// a criterion the policy names for closure days (diversion, safe storage:
/// § 8.12(i)(1)) not met.
pub fn closure_allowed(grant: Option<&Grant>) -> bool {
    grant.is_none_or(|g| {
        let Ok(policy) = clinical::policy::get(&g.policy) else {
            return true;
        };
        let criteria: BTreeMap<String, bool> =
            serde_json::from_str(&g.criteria).unwrap_or_default();
        !policy
            .closure_day_criteria
            .iter()
            .any(|c| criteria.get(c) == Some(&false))
    })
}

async fn due_days(
    app: &App,
    patient: PatientId,
    program: ProgramId,
    today: Date,
) -> Result<(Vec<(String, bool)>, Option<Grant>)> {
    let grant = app.store.takehome_grants(patient).await?.into_iter().next();
    let closures: Vec<String> = app
        .store
        .closures(program, &today.to_string())
        .await?
        .into_iter()
        .map(|c| c.day)
        .collect();
    let granted = grant
        .as_ref()
        .filter(|g| g.suspended_reason.is_none())
        .map(|g| g.doses_granted)
        .unwrap_or(0);
    let closure_ok = closure_allowed(grant.as_ref());
    let covered: Vec<String> = app
        .store
        .bottles(patient, &today.to_string())
        .await?
        .into_iter()
        .map(|b| b.take_on)
        .collect();
    Ok((
        plan_days(&today.to_string(), granted, closure_ok, &closures, &covered),
        grant,
    ))
}

/// Hand out today's take-home bottles: one per day due (see [`due_days`]),
/// each a take-home dose in its day's slot, taken out of the lot, in one
/// unit of work with the audit event. Today's observed dose comes first.
pub async fn dispense(app: &App, who: &Principal, patient: PatientId) -> Result<Vec<Bottle>> {
    let s = access::open(
        app,
        who,
        patient,
        Permission::WriteClinical,
        "takehome.dispense",
    )
    .await?;
    let w = s.writer()?;
    let panel = dosing::panel(app, who, patient).await?;
    let order = panel
        .order
        .clone()
        .ok_or_else(|| Error::Conflict("no active medication order".into()))?;
    engine_medication(&order)?;
    if panel.next_slot.is_some() {
        return Err(Error::Conflict(
            "give today's observed dose before handing out take-homes".into(),
        ));
    }
    if let Some(r) = &panel.missed_rule
        && r.needs_prescriber
    {
        return Err(Error::Conflict(format!("take-homes held: {}", r.rule)));
    }
    let today = s.today();
    let (days, grant) = due_days(app, patient, order.program_id, today).await?;
    if days.is_empty() {
        return Err(Error::Conflict(
            "no take-home doses are due: none granted and no closure day ahead".into(),
        ));
    }
    let per_day = order.dose_ug;
    let need = per_day * days.len() as i64;
    let lots = app.store.lots(order.program_id, false).await?;
    let products = app.store.products(order.program_id).await?;
    let (lot, product) = lots
        .iter()
        .filter_map(|l| {
            products
                .iter()
                .find(|p| {
                    p.id == l.product_id && p.medication == order.medication && p.form == order.form
                })
                .map(|p| (l, p))
        })
        .find(|(l, _)| l.balance_ug >= need)
        .ok_or_else(|| {
            Error::Conflict(format!(
                "no single lot holds the {} mg these {} bottles need",
                mg(need),
                days.len()
            ))
        })?;
    let mut tx = app.begin().await?;
    let mut ids = vec![];
    for (n, (day, closure)) in days.iter().enumerate() {
        tx.lock(&format!("dose:{patient}:{day}")).await?;
        let d = NewDose {
            patient_id: patient,
            program_id: order.program_id,
            order_id: order.id.clone(),
            clinic_day: day.clone(),
            slot: "1".into(),
            kind: "take_home".into(),
            amount_ug: per_day,
            product_id: product.id.clone(),
            lot_id: lot.id.clone(),
            observed: false,
            given_at: s.now,
            nurse_id: who.user_id,
            nurse_name: who.display_name.clone(),
            late_entry: false,
            reason: None,
        };
        let id = tx.record_dose(&w, &d).await.map_err(|e| match e {
            StoreError::Conflict(c) if c == "dose_one_per_slot" => {
                Error::Conflict(format!("{day} already has a dose or a bottle"))
            }
            StoreError::Conflict(_) => {
                Error::Conflict("the lot does not hold enough for these bottles".into())
            }
            other => other.into(),
        })?;
        tx.add_bottle(
            &w,
            &id,
            order.program_id,
            grant
                .as_ref()
                .filter(|g| g.doses_granted > 0)
                .map(|g| g.id.as_str()),
            n as i64 + 1,
            day,
            &today.to_string(),
            *closure,
        )
        .await?;
        ids.push(id);
    }
    tx.audit(
        who.event("takehome.dispense", Outcome::Success)
            .patient(patient)
            .program(order.program_id)
            .detail(format!(
                "{} bottles of {} mg, {}..{}",
                days.len(),
                mg(per_day),
                days[0].0,
                days[days.len() - 1].0
            )),
    );
    tx.commit().await?;
    Ok(app
        .store
        .bottles_handed_out(patient, &today.to_string())
        .await?)
}

/// A printable bottle label.
#[derive(Debug, Clone, Serialize)]
pub struct Label {
    pub patient: String,
    pub date_of_birth: String,
    pub medication: String,
    pub dose: String,
    pub take_on: String,
    pub program: String,
    pub phone: String,
    pub bottle: String,
    pub lot: String,
    pub closure: bool,
    pub dispensed: String,
}

/// Labels for the bottles handed out to a patient on a day (default today).
pub async fn labels(
    app: &App,
    who: &Principal,
    patient: PatientId,
    handed_out_on: Option<&str>,
) -> Result<Vec<Label>> {
    let s = access::open(
        app,
        who,
        patient,
        Permission::ReadClinical,
        "takehome.labels",
    )
    .await?;
    let day = match handed_out_on.filter(|d| !d.trim().is_empty()) {
        Some(d) => parse_day("day", d)?.to_string(),
        None => s.today().to_string(),
    };
    let bottles = app.store.bottles_handed_out(patient, &day).await?;
    let mut out = vec![];
    let n = bottles.len();
    // A day's bottles come from one program (the order's); read it once.
    let mut cache: Option<(ProgramId, _, Settings, Vec<_>, Vec<_>)> = None;
    for b in &bottles {
        if cache.as_ref().is_none_or(|c| c.0 != b.program_id) {
            cache = Some((
                b.program_id,
                app.store.program(b.program_id).await?,
                settings(app, b.program_id).await?,
                app.store.products(b.program_id).await?,
                app.store.lots(b.program_id, true).await?,
            ));
        }
        let Some((_, prog, set, products, lots)) = &cache else {
            continue;
        };
        let product = products.iter().find(|p| p.id == b.product_id);
        let volume = product
            .filter(|p| p.form == "oral_liquid")
            .map(|p| format!(" ({} mL)", mg(b.amount_ug * 1000 / p.strength_ug)))
            .unwrap_or_default();
        out.push(Label {
            patient: s.patient.display_name(),
            date_of_birth: s.patient.date_of_birth.clone(),
            medication: product.map(|p| p.name.clone()).unwrap_or_default(),
            dose: format!("{} mg{volume}", mg(b.amount_ug)),
            take_on: b.take_on.clone(),
            program: prog.name.clone(),
            phone: set.phone.clone(),
            bottle: format!("{} of {n}", b.bottle_no),
            lot: lots
                .iter()
                .find(|l| l.id == b.lot_id)
                .map(|l| l.lot.clone())
                .unwrap_or_default(),
            closure: b.closure,
            dispensed: b.handed_out_on.clone(),
        });
    }
    app.audit(
        who.event("takehome.labels", Outcome::Success)
            .patient(patient)
            .detail(format!("{day}: {n} labels")),
    )
    .await?;
    Ok(out)
}

/// What became of a bottle.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BottleEventInput {
    /// The bottle (its dose id).
    pub bottle: String,
    /// returned, callback, lost or stolen.
    pub kind: String,
    /// as_expected, discrepancy or not_reached (lost/stolen: reported).
    #[serde(default)]
    pub outcome: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

/// Record a bottle's return, a call-back count, or a loss or theft. A
/// discrepancy, loss or theft needs a note; loss or theft suspends
/// take-homes until the prescriber decides again (diversion control,
/// 42 CFR § 8.12(i)(2)(iv)).
pub async fn bottle_event(
    app: &App,
    who: &Principal,
    patient: PatientId,
    i: &BottleEventInput,
) -> Result<BottleEvent> {
    let s = access::open(app, who, patient, Permission::WriteClinical, "bottle.open").await?;
    let w = s.writer()?;
    let mut p = Problems::new();
    let kind = i.kind.trim();
    if !matches!(kind, "returned" | "callback" | "lost" | "stolen") {
        p.add("kind", "must be returned, callback, lost or stolen");
    }
    let outcome = match (kind, i.outcome.as_deref().map(str::trim)) {
        ("lost" | "stolen", _) => "reported".to_string(),
        (_, Some(o @ ("as_expected" | "discrepancy" | "not_reached"))) => o.to_string(),
        _ => {
            p.add("outcome", "must be as_expected, discrepancy or not_reached");
            String::new()
        }
    };
    let note = i
        .note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string);
    if (outcome == "discrepancy" || outcome == "reported")
        && note.as_deref().is_none_or(|n| n.chars().count() < 5)
    {
        p.add("note", "describe what happened (at least 5 characters)");
    }
    p.finish()?;
    let bottle = app
        .store
        .bottles(patient, "0000-00-00")
        .await?
        .into_iter()
        .find(|b| b.dose_id == i.bottle)
        .ok_or_else(|| Error::invalid("bottle", "no such bottle for this patient"))?;
    let mut tx = app.begin().await?;
    let id = tx
        .add_bottle_event(
            &w,
            &bottle.dose_id,
            bottle.program_id,
            kind,
            &outcome,
            note.as_deref(),
            who.user_id,
            &who.display_name,
        )
        .await?;
    tx.audit(
        who.event("takehome.bottle", Outcome::Success)
            .object("bottle_event", &id)
            .patient(patient)
            .program(bottle.program_id)
            .detail(format!("{kind}: {outcome}")),
    );
    tx.commit().await?;
    if matches!(kind, "lost" | "stolen") || outcome == "discrepancy" {
        suspend(
            app,
            who,
            patient,
            &format!("bottle {kind} ({outcome}): the prescriber reviews take-homes"),
        )
        .await?;
    }
    app.store
        .bottle_events(patient)
        .await?
        .into_iter()
        .find(|e| e.id == id)
        .ok_or(Error::NotFound)
}

/// Patients picked at random for a bottle call-back today: among those
/// holding bottles for days after today, `n` chosen with a fresh random
/// seed (no advance notice is possible). Audited with the count.
pub async fn callbacks(
    app: &App,
    who: &Principal,
    program: ProgramId,
    n: usize,
) -> Result<Vec<(PatientId, String, usize)>> {
    use rand::seq::IndexedRandom;
    let prog = access::program(app, who, program, Permission::WriteClinical).await?;
    let tz = carepath_domain::program::parse_time_zone(&prog.timezone)?;
    let today = carepath_domain::program::clinic_day(app.now(), &tz).to_string();
    let mut holders: BTreeMap<PatientId, usize> = BTreeMap::new();
    for o in app.store.program_orders(program).await? {
        if holders.contains_key(&o.patient_id) {
            continue;
        }
        let n = app
            .store
            .bottles(o.patient_id, &today)
            .await?
            .into_iter()
            .filter(|b| b.take_on > today)
            .count();
        if n > 0 {
            holders.insert(o.patient_id, n);
        }
    }
    let all: Vec<(PatientId, usize)> = holders.into_iter().collect();
    let picked: Vec<(PatientId, usize)> = all
        .choose_multiple(&mut rand::rng(), n.min(all.len()))
        .copied()
        .collect();
    let ids: Vec<PatientId> = picked.iter().map(|x| x.0).collect();
    let names: std::collections::HashMap<PatientId, String> =
        app.store.patient_names(&ids).await?.into_iter().collect();
    app.audit(
        who.event("takehome.callbacks", Outcome::Success)
            .program(program)
            .detail(format!("picked {} of {}", picked.len(), all.len())),
    )
    .await?;
    Ok(picked
        .into_iter()
        .map(|(p, n)| (p, names.get(&p).cloned().unwrap_or_default(), n))
        .collect())
}

/// A patient's take-home picture: the decision in force, bottles from
/// today on, and what became of earlier ones.
pub async fn schedule(
    app: &App,
    who: &Principal,
    patient: PatientId,
) -> Result<(Option<Grant>, Vec<Bottle>, Vec<BottleEvent>)> {
    let s = access::open(
        app,
        who,
        patient,
        Permission::ReadClinical,
        "takehome.schedule",
    )
    .await?;
    let from = s
        .today()
        .checked_sub(jiff::Span::new().days(60))
        .map_err(|e| Error::Internal(e.to_string()))?;
    Ok((
        app.store.takehome_grants(patient).await?.into_iter().next(),
        app.store.bottles(patient, &from.to_string()).await?,
        app.store.bottle_events(patient).await?,
    ))
}

/// One day of the take-home calendar.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CalendarDay {
    pub day: String,
    /// Monday 0 … Sunday 6.
    pub weekday: u8,
    /// window (an observed dose), take_home (a bottle for the day),
    /// closure, missed, or none.
    pub state: &'static str,
    pub bottle_no: Option<i64>,
    /// A bottle reported lost or stolen, or a count that did not match.
    pub flag: Option<String>,
    pub today: bool,
}

/// Six weeks of take-home calendar — the three weeks before this one, this
/// week and the two after — from the dose history (`dosing::history`), the
/// bottles and what became of them. Pure: the page draws it.
pub fn calendar(
    today: jiff::civil::Date,
    days: &[dosing::DayPoint],
    bottles: &[carepath_store::takehome::Bottle],
    events: &[carepath_store::takehome::BottleEvent],
) -> Vec<CalendarDay> {
    let monday = today
        .checked_sub(
            jiff::Span::new().days(i64::from(today.weekday().to_monday_zero_offset()) + 21),
        )
        .unwrap_or(today);
    (0..42)
        .filter_map(|k| monday.checked_add(jiff::Span::new().days(k)).ok())
        .map(|d| {
            let key = d.to_string();
            let bottle = bottles.iter().find(|b| b.take_on == key);
            let point = days.iter().find(|p| p.day == key);
            let flag = bottle.and_then(|b| {
                events
                    .iter()
                    .filter(|e| e.dose_id == b.dose_id)
                    .find(|e| {
                        matches!(e.kind.as_str(), "lost" | "stolen") || e.outcome == "discrepancy"
                    })
                    .map(|e| {
                        if e.outcome == "discrepancy"
                            && !matches!(e.kind.as_str(), "lost" | "stolen")
                        {
                            format!("{} count did not match", e.kind)
                        } else {
                            e.kind.clone()
                        }
                    })
            });
            let state = match (bottle, point) {
                (Some(_), _) => "take_home",
                (None, Some(p)) if p.observed_mg > 0.0 => "window",
                (None, Some(p)) if p.closure => "closure",
                (None, Some(p)) if p.missed => "missed",
                _ => "none",
            };
            CalendarDay {
                day: key,
                weekday: d.weekday().to_monday_zero_offset() as u8,
                state,
                bottle_no: bottle.map(|b| b.bottle_no),
                flag,
                today: d == today,
            }
        })
        .collect()
}

#[cfg(test)]
mod calendar_tests {
    use super::*;
    use carepath_store::takehome::{Bottle, BottleEvent};
    use jiff::civil::date;

    fn point(day: &str, observed: f64, missed: bool, closure: bool) -> dosing::DayPoint {
        dosing::DayPoint {
            day: day.into(),
            observed_mg: observed,
            take_home_mg: 0.0,
            ordered_mg: Some(60.0),
            order_change: false,
            missed,
            closure,
        }
    }

    fn bottle(day: &str, no: i64) -> Bottle {
        Bottle {
            dose_id: format!("d-{day}"),
            patient_id: "00000000-0000-0000-0000-000000000001".parse().unwrap(),
            program_id: "00000000-0000-0000-0000-000000000002".parse().unwrap(),
            grant_id: None,
            bottle_no: no,
            take_on: day.into(),
            handed_out_on: "2026-11-27".into(),
            closure: false,
            amount_ug: 60_000,
            lot_id: "l".into(),
            product_id: "p".into(),
            order_id: "o".into(),
            given_at: 0,
            nurse_name: "N".into(),
        }
    }

    #[test]
    fn six_weeks_from_a_monday_with_each_day_named() {
        // Wednesday 2 December 2026.
        let today = date(2026, 12, 2);
        let days = vec![
            point("2026-11-30", 60.0, false, false),
            point("2026-11-29", 0.0, false, true),
            point("2026-11-25", 0.0, true, false),
        ];
        let bottles = vec![bottle("2026-12-03", 1), bottle("2026-12-04", 2)];
        let events = vec![BottleEvent {
            id: "e".into(),
            dose_id: "d-2026-12-04".into(),
            patient_id: "00000000-0000-0000-0000-000000000001".parse().unwrap(),
            kind: "lost".into(),
            outcome: "as_expected".into(),
            note: None,
            at_us: 0,
            by_name: "N".into(),
        }];
        let c = calendar(today, &days, &bottles, &events);
        assert_eq!(c.len(), 42);
        assert_eq!(c[0].day, "2026-11-09");
        assert_eq!(c[0].weekday, 0);
        let at = |d: &str| c.iter().find(|x| x.day == d).unwrap();
        assert_eq!(at("2026-11-30").state, "window");
        assert_eq!(at("2026-11-29").state, "closure");
        assert_eq!(at("2026-11-25").state, "missed");
        assert_eq!(at("2026-12-03").state, "take_home");
        assert_eq!(at("2026-12-03").bottle_no, Some(1));
        assert_eq!(at("2026-12-04").flag.as_deref(), Some("lost"));
        assert!(at("2026-12-02").today);
        assert_eq!(c.iter().filter(|x| x.today).count(), 1);
    }
}
