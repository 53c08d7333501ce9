//! The dosing desk: medication orders for opioid use disorder (checked by
//! the clinical engine, immutable, superseded by new orders), the pre-dose
//! panel, and recording a dose — one per patient, clinic day and slot,
//! enforced by the database's unique index inside the unit of work that
//! also takes the dose out of stock and audits it.
//!
//! Clinical rules are the engine's (`carepath_clinical::methadone`,
//! `buprenorphine`); nothing here re-implements them. Sources: 42 CFR
//! § 8.12(h) (initial methadone dose, via the policy pack); SAMHSA TIP 63
//! (titration); Australian National Guidelines § 3.5 (missed doses);
//! Krantz et al. 2009 (ECG above 100 mg/day); 21 CFR 1304.24 (what each
//! dispensing record holds).

use crate::App;
use crate::access::{self, PatientScope};
use crate::actor::Principal;
use crate::error::{Error, Problems, Result};
use carepath_clinical as clinical;
use carepath_domain::audit::Outcome;
use carepath_domain::authz::{Permission, Role};
use carepath_domain::ids::{PatientId, ProgramId, UserId};
use carepath_store::StoreError;
use carepath_store::dosing::{Dose, Lot, MedOrder, NewDose, NewOrder, Product};
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

/// Medications the desk orders and gives.
pub const MEDICATIONS: &[(&str, &str)] = &[
    ("methadone", "Methadone"),
    ("buprenorphine", "Buprenorphine"),
    ("buprenorphine_naloxone", "Buprenorphine-naloxone"),
    ("naltrexone", "Naltrexone"),
];

pub const FORMS: &[(&str, &str)] = &[
    ("oral_liquid", "Oral liquid"),
    ("tablet", "Tablet"),
    ("sublingual_tablet", "Sublingual tablet"),
    ("sublingual_film", "Sublingual film"),
    ("injection_xr", "Extended-release injection"),
];

/// The injection schedule an order follows, if it is a long-acting
/// injection (the engine's `injection` module keeps the intervals).
pub fn injection_kind(o: &MedOrder) -> Option<clinical::injection::Kind> {
    injection_kind_of(&o.medication, &o.form, o.dose_ug as f64 / 1000.0)
}

/// Buprenorphine XR comes weekly (8–32 mg) or monthly (64–300 mg): the
/// strengths do not overlap, so the dose names the schedule.
fn injection_kind_of(
    medication: &str,
    form: &str,
    dose_mg: f64,
) -> Option<clinical::injection::Kind> {
    use clinical::injection::Kind;
    match (medication, form) {
        ("buprenorphine", "injection_xr") if dose_mg <= 32.0 => Some(Kind::BuprenorphineWeekly),
        ("buprenorphine", "injection_xr") => Some(Kind::BuprenorphineMonthly),
        ("naltrexone", "injection_xr") => Some(Kind::NaltrexoneMonthly),
        _ => None,
    }
}

/// The day of the last injection of `kind` before `day`, from the history.
fn last_injection(
    orders: &[MedOrder],
    history: &[Dose],
    kind: clinical::injection::Kind,
    day: &str,
) -> Option<Date> {
    history
        .iter()
        .filter(|d| d.clinic_day.as_str() < day)
        .filter(|d| {
            orders
                .iter()
                .any(|o| o.id == d.order_id && injection_kind(o) == Some(kind))
        })
        .filter_map(|d| d.clinic_day.parse().ok())
        .max()
}

pub const PHASES: &[(&str, &str)] = &[
    ("induction", "Induction"),
    ("titration", "Titration"),
    ("maintenance", "Maintenance"),
    ("taper", "Taper"),
];

pub(crate) fn ug(mg: f64) -> i64 {
    (mg * 1000.0).round() as i64
}

/// Milligrams for display, without trailing zeros.
pub fn mg(ug: i64) -> String {
    let v = ug as f64 / 1000.0;
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A new order as the prescriber (or a nurse taking a verbal order) writes it.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OrderInput {
    /// methadone, buprenorphine, buprenorphine_naloxone, naltrexone.
    pub medication: String,
    /// oral_liquid, tablet, sublingual_tablet, sublingual_film, or
    /// injection_xr (buprenorphine weekly 8–32 mg or monthly 64–300 mg;
    /// naltrexone 380 mg every 4 weeks).
    pub form: String,
    /// induction, titration, maintenance, taper.
    pub phase: String,
    /// The daily dose (mg).
    pub dose_mg: f64,
    /// Split: two visits a day.
    #[serde(default)]
    pub split: bool,
    /// For a split order, the first visit's amount (default: half).
    #[serde(default)]
    pub first_dose_mg: Option<f64>,
    /// First day (YYYY-MM-DD, program time; default today).
    #[serde(default)]
    pub starts_on: Option<String>,
    #[serde(default)]
    pub ends_on: Option<String>,
    /// The prescriber's written reason to set aside what the engine blocks
    /// (a prescriber who passed the second factor only).
    #[serde(default)]
    pub override_reason: Option<String>,
    /// A verbal or telephone order taken by a nurse: the prescriber's user id.
    #[serde(default)]
    pub verbal_from: Option<String>,
    /// Latest QTc (ms), if known (methadone).
    #[serde(default)]
    pub qtc_ms: Option<u32>,
    /// COWS now (buprenorphine induction).
    #[serde(default)]
    pub cows: Option<u8>,
    /// A patient already on this medication elsewhere (a transfer, a
    /// continuing patient when the program starts using Carepath): days of
    /// treatment so far, so the engine checks a continuing dose rather than
    /// a first dose.
    #[serde(default)]
    pub days_on_medication: Option<u32>,
    /// Naltrexone start: the last opioid used (heroin, short_acting,
    /// fentanyl, methadone, buprenorphine). Doses recorded here count too.
    #[serde(default)]
    pub last_opioid: Option<String>,
    /// Naltrexone start: the day of the last opioid use (YYYY-MM-DD).
    #[serde(default)]
    pub last_opioid_use: Option<String>,
    /// Naltrexone start: a urine screen negative for opioids (fentanyl,
    /// methadone and buprenorphine included).
    #[serde(default)]
    pub urine_opioid_negative: Option<bool>,
    /// Naltrexone start: naloxone challenge not_done, negative or positive.
    #[serde(default)]
    pub naloxone_challenge: Option<String>,
}

/// The order a patient is dosed under on `day`: among orders started by
/// then and not ended, the newest whose successor (if any) starts later.
pub fn active_on<'a>(orders: &'a [MedOrder], day: &str) -> Option<&'a MedOrder> {
    in_force_on(orders, day).max_by_key(|o| o.ordered_at)
}

/// The orders in force on `day`: started by then, not ended, and not yet
/// replaced by a successor that has started.
pub fn in_force_on<'a, 'd>(
    orders: &'a [MedOrder],
    day: &'d str,
) -> impl Iterator<Item = &'a MedOrder> + use<'a, 'd> {
    orders
        .iter()
        .filter(move |o| {
            o.starts_on.as_str() <= day && o.ends_on.as_deref().is_none_or(|e| e >= day)
        })
        .filter(move |o| {
            o.superseded_by.as_ref().is_none_or(|next| {
                orders
                    .iter()
                    .find(|n| &n.id == next)
                    .is_none_or(|n| n.starts_on.as_str() > day)
            })
        })
}

fn days_between(a: &str, b: &str) -> Option<i64> {
    let a: Date = a.parse().ok()?;
    let b: Date = b.parse().ok()?;
    Some(a.until(b).ok()?.get_days() as i64)
}

/// Clinic days without a dose strictly between the last dose's day and
/// `day`; closure days are not missed (a closure take-home covers them).
/// Pure: the panel and the prescriber's worklist both count with it.
pub fn missed_clinic_days(last_dose_day: &str, day: &str, closures: &[String]) -> u32 {
    let gap = days_between(last_dose_day, day).unwrap_or(0) - 1;
    let closed = closures
        .iter()
        .filter(|c| c.as_str() > last_dose_day && c.as_str() < day)
        .count() as i64;
    (gap - closed).max(0) as u32
}

fn check(p: &mut Problems, i: &OrderInput) {
    if !MEDICATIONS.iter().any(|(k, _)| *k == i.medication) {
        p.add(
            "medication",
            "must be methadone, buprenorphine, buprenorphine_naloxone or naltrexone",
        );
    }
    let form_ok = match i.medication.as_str() {
        "methadone" => matches!(i.form.as_str(), "oral_liquid" | "tablet"),
        "buprenorphine" => matches!(
            i.form.as_str(),
            "sublingual_tablet" | "sublingual_film" | "injection_xr"
        ),
        "buprenorphine_naloxone" => {
            matches!(i.form.as_str(), "sublingual_tablet" | "sublingual_film")
        }
        "naltrexone" => matches!(i.form.as_str(), "tablet" | "injection_xr"),
        _ => true,
    };
    if !form_ok {
        p.add("form", "is not a form of this medication");
    }
    if !PHASES.iter().any(|(k, _)| *k == i.phase) {
        p.add(
            "phase",
            "must be induction, titration, maintenance or taper",
        );
    }
    if !(i.dose_mg > 0.0 && i.dose_mg <= 1000.0) {
        p.add("dose_mg", "must be more than 0 mg");
    }
    if i.split && i.form == "injection_xr" {
        p.add("split", "an injection is not split");
    }
    if let Some(f) = i.first_dose_mg {
        if !i.split {
            p.add("first_dose_mg", "only for a split order");
        } else if !(f > 0.0 && f < i.dose_mg) {
            p.add(
                "first_dose_mg",
                "must be more than 0 and less than the daily dose",
            );
        }
    }
}

/// Write an order (methadone or buprenorphine), checked by the engine
/// against the patient's dosing history. A prescriber's order is signed as
/// written; a nurse's verbal order names the prescriber and waits for their
/// signature. Returns the order and the engine's verdict.
pub async fn create_order(
    app: &App,
    who: &Principal,
    patient: PatientId,
    i: &OrderInput,
) -> Result<(MedOrder, serde_json::Value)> {
    let s = access::open(app, who, patient, Permission::WriteClinical, "order.open").await?;
    let w = s.writer()?;
    let program = s.program.id;
    let today = s.today().to_string();
    let mut p = Problems::new();
    check(&mut p, i);
    let prescriber: Option<UserId> = match &i.verbal_from {
        None => {
            if !s.prescribes_in(program) {
                return Err(Error::Forbidden(
                    "only a prescriber writes an order; a nurse records a verbal order with the prescriber's name".into(),
                ));
            }
            Some(who.user_id)
        }
        Some(id) => p.take(id.parse::<UserId>().map_err(|_| {
            Error::invalid("verbal_from", "choose the prescriber who gave the order")
        })),
    };
    let starts_on = match i.starts_on.as_deref().filter(|d| !d.trim().is_empty()) {
        None => Some(today.clone()),
        Some(d) => match d.trim().parse::<Date>() {
            Ok(d) if d.to_string() >= today => Some(d.to_string()),
            Ok(_) => {
                p.add("starts_on", "cannot be in the past");
                None
            }
            Err(_) => {
                p.add("starts_on", "must be a date (YYYY-MM-DD)");
                None
            }
        },
    };
    let ends_on = match i.ends_on.as_deref().filter(|d| !d.trim().is_empty()) {
        None => None,
        Some(d) => match d.trim().parse::<Date>() {
            Ok(d)
                if starts_on
                    .as_deref()
                    .is_none_or(|s| d.to_string().as_str() >= s) =>
            {
                Some(d.to_string())
            }
            _ => {
                p.add("ends_on", "must be a date on or after the first day");
                None
            }
        },
    };
    p.finish()?;
    let (Some(prescriber), Some(starts_on)) = (prescriber, starts_on) else {
        return Err(Error::Internal("order checks".into()));
    };
    if i.verbal_from.is_some() {
        let grants = app.store.grants(prescriber).await?;
        if !grants
            .iter()
            .any(|g| g.program_id == program && g.role == Role::Prescriber)
        {
            return Err(Error::invalid(
                "verbal_from",
                "is not a prescriber of this program",
            ));
        }
        if i.override_reason.is_some() {
            return Err(Error::Forbidden(
                "an override is the prescriber's own: they enter it themselves".into(),
            ));
        }
    }
    let orders = app.store.orders(patient).await?;
    let previous = active_on(&orders, &starts_on).cloned();
    let history = app.store.doses(patient, 400).await?;
    let naltrexone = crate::takehome::settings(app, program)
        .await?
        .naltrexone_free_days
        .params();
    let verdict = engine_check(
        &s,
        who,
        i,
        &orders,
        previous.as_ref(),
        &history,
        &starts_on,
        &naltrexone,
    )?;
    let approved = verdict["approved"].as_bool().unwrap_or(false);
    if !approved {
        let why: Vec<String> = verdict["violations"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v["message"].as_str().map(str::to_string))
            .collect();
        return Err(Error::invalid(
            "dose_mg",
            format!(
                "{}. A prescriber may override with a written reason.",
                why.join("; ")
            ),
        ));
    }
    let new = NewOrder {
        patient_id: patient,
        program_id: program,
        medication: i.medication.clone(),
        form: i.form.clone(),
        phase: i.phase.clone(),
        dose_ug: ug(i.dose_mg),
        doses_per_day: if i.split { 2 } else { 1 },
        first_dose_ug: if i.split {
            Some(ug(i.first_dose_mg.unwrap_or(i.dose_mg / 2.0)))
        } else {
            None
        },
        starts_on,
        ends_on,
        supersedes: previous.as_ref().map(|o| o.id.clone()),
        engine_check: verdict.to_string(),
        override_reason: i
            .override_reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_string),
        verbal: i.verbal_from.is_some(),
        ordered_by: who.user_id,
        ordered_by_name: who.display_name.clone(),
        prescriber_id: prescriber,
    };
    let mut tx = app.begin().await?;
    tx.lock(&format!("orders:{patient}")).await?;
    let id = tx.create_order(&w, &new).await.map_err(|e| match e {
        StoreError::Conflict(c) if c == "med_order_one_successor" => Error::Conflict(
            "the order was changed meanwhile by someone else; reload and write the change again"
                .into(),
        ),
        other => other.into(),
    })?;
    let mut ev = who
        .event("order.create", Outcome::Success)
        .object("med_order", &id)
        .patient(patient)
        .program(program)
        .detail(format!(
            "{} {} mg/day{}{}",
            new.medication,
            mg(new.dose_ug),
            if new.verbal { ", verbal" } else { "" },
            if new.override_reason.is_some() {
                ", engine overridden"
            } else {
                ""
            }
        ));
    if !new.verbal {
        tx.sign_order(&w, &id, who.user_id, &who.display_name)
            .await?;
        let d = ev.detail.take().unwrap_or_default();
        ev.detail = Some(format!("{d}; signed"));
    }
    tx.audit(ev);
    let order = tx.order(&id).await?;
    tx.commit().await?;
    Ok((order, verdict))
}

/// Run the engine on an order against the patient's history.
#[allow(clippy::too_many_arguments)]
fn engine_check(
    s: &PatientScope,
    who: &Principal,
    i: &OrderInput,
    orders: &[MedOrder],
    previous: Option<&MedOrder>,
    history: &[Dose],
    starts_on: &str,
    naltrexone: &clinical::naltrexone::Params,
) -> Result<serde_json::Value> {
    let over = i
        .override_reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|reason| clinical::Override {
            role: "prescriber".into(),
            by: who.display_name.clone(),
            reason: reason.into(),
        });
    // Day of treatment: clinic days since the first dose of this medication.
    let same_med = |d: &&Dose| {
        orders
            .iter()
            .any(|o| o.id == d.order_id && o.medication == i.medication)
    };
    let first_day = history
        .iter()
        .filter(same_med)
        .map(|d| d.clinic_day.as_str())
        .min();
    let day_of_treatment = first_day
        .and_then(|f| days_between(f, starts_on))
        .map(|d| d.max(0) as u32 + 1)
        .unwrap_or(1)
        + i.days_on_medication.unwrap_or(0);
    let today = s.today().to_string();
    let given_today: Vec<f64> = history
        .iter()
        .filter(|d| d.clinic_day == today && starts_on == today)
        .map(|d| d.amount_ug as f64 / 1000.0)
        .collect();
    let prev_same = previous.filter(|o| o.medication == i.medication);
    let v = match i.medication.as_str() {
        "methadone" => {
            let input = clinical::methadone::Input {
                policy: "federal-2024".into(),
                phase: match i.phase.as_str() {
                    "induction" => clinical::methadone::Phase::Induction,
                    "taper" => clinical::methadone::Phase::Taper,
                    _ => clinical::methadone::Phase::Maintenance,
                },
                day_of_treatment,
                proposed_dose_mg: i.dose_mg,
                given_today_mg: given_today,
                current_daily_dose_mg: prev_same.map(|o| o.dose_ug as f64 / 1000.0),
                days_since_last_change: prev_same
                    .and_then(|o| days_between(&o.starts_on, starts_on))
                    .map(|d| d.max(0) as u32),
                qtc_ms: i.qtc_ms,
                params: Default::default(),
                override_: over,
            };
            serde_json::to_value(clinical::methadone::check_order(&input)?)
        }
        _ if i.medication == "naltrexone" || i.form == "injection_xr" => {
            let v =
                antagonist_or_xr_check(i, orders, history, starts_on, over.as_ref(), naltrexone)?;
            serde_json::to_value(v)
        }
        _ => {
            let input = clinical::buprenorphine::Input {
                day: Some(day_of_treatment),
                proposed_dose_mg: Some(if i.split {
                    i.first_dose_mg.unwrap_or(i.dose_mg / 2.0)
                } else {
                    i.dose_mg
                }),
                given_today_mg: given_today,
                hours_since_last_dose: None,
                cows: i.cows,
                last_full_agonist: None,
                rationale: over.as_ref().map(|o| o.reason.clone()),
                micro_induction: None,
                params: Default::default(),
                override_: over,
            };
            serde_json::to_value(clinical::buprenorphine::check(&input)?)
        }
    };
    v.map_err(|e| Error::Internal(e.to_string()))
}

/// The engine on a long-acting injection or a naltrexone order: the
/// injection's strengths and ladder (`injection::dose_check`); a first
/// buprenorphine injection only after transmucosal buprenorphine; a first
/// naltrexone order through `naltrexone::start` (opioid-free days, urine,
/// naloxone challenge), with the last agonist dose recorded here counted as
/// opioid use whatever was typed.
fn antagonist_or_xr_check(
    i: &OrderInput,
    orders: &[MedOrder],
    history: &[Dose],
    starts_on: &str,
    over: Option<&clinical::Override>,
    naltrexone: &clinical::naltrexone::Params,
) -> Result<clinical::Verdict> {
    let mut violations = vec![];
    let mut alerts = vec![];
    let med_of = |d: &Dose| {
        orders
            .iter()
            .find(|o| o.id == d.order_id)
            .map(|o| o.medication.as_str())
    };
    let xr = i.form == "injection_xr";
    if let Some(k) = injection_kind_of(&i.medication, &i.form, i.dose_mg) {
        let before = history
            .iter()
            .filter(|d| {
                orders
                    .iter()
                    .any(|o| o.id == d.order_id && injection_kind(o) == Some(k))
            })
            .count() as u32;
        let c = clinical::injection::dose_check(k, i.dose_mg, before);
        if let Some(m) = c.not_a_strength {
            violations.push(clinical::Violation {
                rule: "injection.strength".into(),
                message: m,
                citation: k.citation().into(),
                overridable: false,
            });
        }
        if let Some(m) = c.ladder_note {
            alerts.push(clinical::Alert {
                rule: "injection.ladder".into(),
                message: m,
                citation: k.citation().into(),
            });
        }
    }
    if xr && i.medication == "buprenorphine" {
        // Sublocade (Feb 2025 label): after a single transmucosal dose and
        // about an hour's observation; Brixadi: after a 4 mg test dose.
        let had = history
            .iter()
            .any(|d| matches!(med_of(d), Some("buprenorphine" | "buprenorphine_naloxone")))
            || i.days_on_medication.unwrap_or(0) > 0;
        if !had {
            violations.push(clinical::Violation {
                rule: "buprenorphine.xr_transmucosal_first".into(),
                message: "no transmucosal buprenorphine on record: give a test dose and observe about an hour before the first injection, or record the days on buprenorphine".into(),
                citation: format!(
                    "{}; {}",
                    clinical::injection::SUBLOCADE,
                    clinical::injection::BRIXADI
                ),
                overridable: true,
            });
        }
    }
    let on_naltrexone_already = orders.iter().any(|o| o.medication == "naltrexone");
    if i.medication == "naltrexone" && !on_naltrexone_already {
        use clinical::course::Opioid;
        let mut last: Option<(Opioid, Date)> = None;
        if let Some(t) = i
            .last_opioid_use
            .as_deref()
            .filter(|t| !t.trim().is_empty())
        {
            let d: Date = t.trim().parse().map_err(|_| {
                Error::invalid("last_opioid_use", "must be a date written YYYY-MM-DD")
            })?;
            let o: Opioid = serde_json::from_value(serde_json::Value::String(
                i.last_opioid.clone().unwrap_or_default(),
            ))
            .map_err(|_| {
                Error::invalid(
                    "last_opioid",
                    "must be heroin, short_acting, fentanyl, methadone or buprenorphine",
                )
            })?;
            last = Some((o, d));
        }
        // The last agonist dose given here is opioid use too.
        let agonist = history
            .iter()
            .filter_map(|d| {
                let o = match med_of(d)? {
                    "methadone" => Opioid::Methadone,
                    "buprenorphine" | "buprenorphine_naloxone" => Opioid::Buprenorphine,
                    _ => return None,
                };
                Some((o, d.clinic_day.parse::<Date>().ok()?))
            })
            .max_by_key(|(_, d)| *d);
        if let Some((o, d)) = agonist
            && last.is_none_or(|(_, t)| d >= t)
        {
            last = Some((o, d));
        }
        let Some((last_opioid, last_use)) = last else {
            return Err(Error::invalid(
                "last_opioid_use",
                "a naltrexone start needs the day of the last opioid use and which opioid",
            ));
        };
        let challenge = match i.naloxone_challenge.as_deref().unwrap_or("not_done") {
            "" | "not_done" => clinical::naltrexone::Challenge::NotDone,
            "negative" => clinical::naltrexone::Challenge::Negative,
            "positive" => clinical::naltrexone::Challenge::Positive,
            _ => {
                return Err(Error::invalid(
                    "naloxone_challenge",
                    "must be not_done, negative or positive",
                ));
            }
        };
        let out = clinical::naltrexone::start(&clinical::naltrexone::Input {
            last_opioid,
            last_use_date: last_use.to_string(),
            proposed_start_date: starts_on.to_string(),
            formulation: if xr {
                clinical::naltrexone::Formulation::ExtendedRelease
            } else {
                clinical::naltrexone::Formulation::Oral
            },
            urine_opioid_negative: i.urine_opioid_negative,
            naloxone_challenge: challenge,
            acute_hepatitis_or_liver_failure: false,
            needs_opioid_analgesia: false,
            // The program's own opioid-free days (its dosing settings).
            params: naltrexone.clone(),
        })?;
        for b in out.blocking {
            violations.push(clinical::Violation {
                rule: "naltrexone.start".into(),
                message: format!("{b} (earliest start {})", out.earliest_start),
                citation: out.citation.clone(),
                overridable: true,
            });
        }
        alerts.extend(out.alerts);
    }
    Ok(clinical::Verdict::decide(violations, alerts, over)?)
}

/// Every order of the patient, oldest first; audited as a read.
pub async fn orders(app: &App, who: &Principal, patient: PatientId) -> Result<Vec<MedOrder>> {
    access::open(app, who, patient, Permission::ReadClinical, "orders.read").await?;
    Ok(app.store.orders(patient).await?)
}

/// One clinic day of a patient's dose history, for the chart.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DayPoint {
    pub day: String,
    /// mg given at the window (observed, exception, back entry).
    pub observed_mg: f64,
    /// mg in take-home bottles for this day.
    pub take_home_mg: f64,
    /// The order's dose for the day, if an order was active.
    pub ordered_mg: Option<f64>,
    /// An order began this day (a start or a change).
    pub order_change: bool,
    /// An order was active, the clinic was open, the day is over, and no
    /// dose or bottle covered it.
    pub missed: bool,
    pub closure: bool,
}

/// A patient's orders, recent doses and the day-by-day series.
#[derive(Debug, Clone, Serialize)]
pub struct History {
    pub orders: Vec<MedOrder>,
    /// Newest first (up to 200).
    pub doses: Vec<Dose>,
    /// The last 60 clinic days, oldest first.
    pub days: Vec<DayPoint>,
}

/// The day-by-day series from `from` to `to` (inclusive; `to` is today and
/// not yet missed). Pure.
pub fn day_series(
    orders: &[MedOrder],
    doses: &[Dose],
    closures: &[String],
    from: Date,
    to: Date,
) -> Vec<DayPoint> {
    let mut out = vec![];
    let mut d = from;
    while d <= to {
        let day = d.to_string();
        let (mut observed, mut home) = (0i64, 0i64);
        for x in doses.iter().filter(|x| x.clinic_day == day) {
            if x.kind == "take_home" {
                home += x.amount_ug;
            } else {
                observed += x.amount_ug;
            }
        }
        let order = active_on(orders, &day);
        let closure = closures.contains(&day);
        out.push(DayPoint {
            observed_mg: observed as f64 / 1000.0,
            take_home_mg: home as f64 / 1000.0,
            ordered_mg: order.map(|o| o.dose_ug as f64 / 1000.0),
            order_change: orders.iter().any(|o| o.starts_on == day),
            missed: order.is_some() && d < to && !closure && observed == 0 && home == 0,
            closure,
            day,
        });
        match d.tomorrow() {
            Ok(n) => d = n,
            Err(_) => break,
        }
    }
    out
}

/// Orders, doses and the 60-day series for the dose-history chart; audited
/// as a read.
pub async fn history(app: &App, who: &Principal, patient: PatientId) -> Result<History> {
    let s = access::open(
        app,
        who,
        patient,
        Permission::ReadClinical,
        "dosing.history",
    )
    .await?;
    let orders = app.store.orders(patient).await?;
    let doses = app.store.doses(patient, 200).await?;
    let today = s.today();
    let from = today
        .checked_sub(jiff::Span::new().days(59))
        .map_err(|e| Error::Internal(e.to_string()))?;
    let home = orders.last().map(|o| o.program_id).unwrap_or(s.program.id);
    let closures: Vec<String> = app
        .store
        .closures(home, &from.to_string())
        .await?
        .into_iter()
        .map(|c| c.day)
        .collect();
    Ok(History {
        days: day_series(&orders, &doses, &closures, from, today),
        orders,
        doses,
    })
}

/// Sign a verbal order: the prescriber it names, once.
pub async fn sign_order(app: &App, who: &Principal, order_id: &str) -> Result<()> {
    let order = app
        .store
        .order_by_id(order_id)
        .await?
        .ok_or(Error::NotFound)?;
    let s = access::open(
        app,
        who,
        order.patient_id,
        Permission::WriteClinical,
        "order.sign.open",
    )
    .await?;
    let w = s.writer()?;
    if !s.prescribes_in(order.program_id) || order.prescriber_id != who.user_id.to_string() {
        return Err(Error::Forbidden(
            "the prescriber who gave the order signs it".into(),
        ));
    }
    let mut tx = app.begin().await?;
    tx.sign_order(&w, order_id, who.user_id, &who.display_name)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => Error::Conflict("the order is already signed".into()),
            other => other.into(),
        })?;
    tx.audit(
        who.event("order.sign", Outcome::Success)
            .object("med_order", order_id)
            .patient(order.patient_id)
            .program(order.program_id),
    );
    Ok(tx.commit().await?)
}

/// What the nurse sees before dosing.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Panel {
    pub patient_id: String,
    pub name: String,
    pub date_of_birth: String,
    pub mrn: String,
    pub clinic_day: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub order: Option<MedOrder>,
    /// Doses already recorded today.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub today: Vec<Dose>,
    /// The next regular slot to give (none: dosed for the day).
    pub next_slot: Option<u8>,
    /// What to give now (mg), after the missed-dose rule.
    pub due_mg: Option<f64>,
    /// Consecutive clinic days without a dose before today.
    pub missed_days: u32,
    /// The engine's missed-dose rule, when days were missed.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub missed_rule: Option<clinical::methadone::MissedOutput>,
    /// Why the dose may not be given now (a prescriber must see the patient,
    /// no active order…); empty when it may.
    pub holds: Vec<String>,
    pub alerts: Vec<String>,
    /// The lot to dose from (first in, first out), if any.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub lot: Option<Lot>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub product: Option<Product>,
    pub last_dose_day: Option<String>,
    /// Bottles to hand out today, after the observed dose: one per day.
    pub takehomes_due: Vec<TakehomeDay>,
    /// Take-home doses per supply in force (none: never decided).
    pub takehome_grant: Option<i64>,
    /// A long-acting injection order: where the schedule stands.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub injection: Option<clinical::injection::Schedule>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TakehomeDay {
    pub day: String,
    /// A closure day (Sunday, holiday) rather than a ladder dose.
    pub closure: bool,
}

/// A product fits an order of its medication and form; an injection is one
/// prefilled syringe or vial, so its strength must be the ordered dose.
fn matches_product(p: &Product, o: &MedOrder) -> bool {
    p.medication == o.medication
        && p.form == o.form
        && (o.form != "injection_xr" || p.strength_ug == o.dose_ug)
}

/// What the panel is computed from, read before any unit of work begins
/// (a dose's transaction then reads only the day's doses, so it never waits
/// for a connection while holding one).
struct Loaded {
    orders: Vec<MedOrder>,
    history: Vec<Dose>,
    products: Vec<Product>,
    lots: Vec<Lot>,
    /// The program's closure days from 60 days back.
    closures: Vec<String>,
    grant: Option<carepath_store::takehome::Grant>,
    /// Days from today on already covered by a bottle.
    bottles: Vec<carepath_store::takehome::Bottle>,
    /// Overdoses in the last 30 days.
    overdoses: Vec<carepath_store::takehome::Overdose>,
    /// Holds placed from today on, and administrative holds not lifted.
    holds: Vec<carepath_store::window::Hold>,
    /// The latest assessment's pregnancy status and due date, when pregnant
    /// or postpartum.
    pregnancy: Option<(String, Option<String>)>,
    /// Drug tests whose reading waits for a prescriber's review, and a
    /// random test due today (alerts only).
    drug_tests: Vec<String>,
}

/// What the panel is loaded for: showing it (everything that informs the
/// nurse) or recording a dose (only what decides whether and how much:
/// take-home plans, recent overdoses and pregnancy are alerts, not
/// decisions, and are not read).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Show,
    Dose,
}

async fn load(app: &App, s: &PatientScope, purpose: Purpose) -> Result<Loaded> {
    let show = purpose == Purpose::Show;
    let patient = s.patient.id;
    let orders = app.store.orders(patient).await?;
    let mut programs = vec![s.program.id];
    for o in &orders {
        if !programs.contains(&o.program_id) {
            programs.push(o.program_id);
        }
    }
    let (mut products, mut lots) = (vec![], vec![]);
    for g in programs {
        products.extend(app.store.products(g).await?);
        lots.extend(app.store.lots(g, true).await?);
    }
    let today = s.today();
    let back = today
        .checked_sub(jiff::Span::new().days(60))
        .map_err(|e| Error::Internal(e.to_string()))?
        .to_string();
    let home = orders.last().map(|o| o.program_id).unwrap_or(s.program.id);
    let month_ago = s.now - 30 * 86_400_000_000;
    Ok(Loaded {
        orders,
        history: app.store.doses(patient, 60).await?,
        products,
        lots,
        closures: app
            .store
            .closures(home, &back)
            .await?
            .into_iter()
            .map(|c| c.day)
            .collect(),
        grant: if show {
            app.store.takehome_grants(patient).await?.into_iter().next()
        } else {
            None
        },
        bottles: if show {
            app.store.bottles(patient, &today.to_string()).await?
        } else {
            vec![]
        },
        overdoses: if show {
            app.store
                .overdoses(patient)
                .await?
                .into_iter()
                .filter(|o| o.occurred_at >= month_ago)
                .collect()
        } else {
            vec![]
        },
        holds: app.store.holds(patient, &today.to_string()).await?,
        pregnancy: if show {
            pregnancy(app, patient).await?
        } else {
            None
        },
        drug_tests: if show {
            drug_test_alerts(app, s, &today.to_string()).await?
        } else {
            vec![]
        },
    })
}

/// The drug-test alerts of the pre-dose panel: a random test due today
/// (collect before the dose), and each test whose reading needs the
/// prescriber's review (issue 13; findings are never sanctions).
async fn drug_test_alerts(app: &App, s: &PatientScope, today: &str) -> Result<Vec<String>> {
    // One read of the patient's tests serves both alerts.
    let h = crate::drugtest::history_of(app, s).await?;
    let mut out = vec![];
    let collected_today = h.tests.iter().any(|t| {
        jiff::Timestamp::from_microsecond(t.test.collected_at)
            .map(|x| carepath_domain::program::clinic_day(x, &s.tz).to_string() == today)
            .unwrap_or(false)
    });
    if h.random_today && !collected_today {
        out.push("random drug test due today: collect before the dose".into());
    }
    for v in h.tests.iter().filter(|t| t.needs_review) {
        out.push(format!(
            "drug test {} needs the prescriber's review: {}",
            v.collected, v.summary
        ));
    }
    Ok(out)
}

/// Pregnant or postpartum at the latest assessment, with the due date.
async fn pregnancy(app: &App, patient: PatientId) -> Result<Option<(String, Option<String>)>> {
    let Some(r) = app.store.latest_record(patient, "assessment").await? else {
        return Ok(None);
    };
    let crate::kinds::Body::Assessment(a) =
        crate::kinds::Body::decode(crate::kinds::Kind::Assessment, &r.body)?
    else {
        return Ok(None);
    };
    let status = a.input.pregnancy.clone();
    Ok(
        matches!(status.as_str(), "pregnant" | "postpartum").then(|| {
            (
                status,
                a.due_date.clone().or_else(|| a.input.due_date.clone()),
            )
        }),
    )
}

/// The pre-dose panel for `day` (normally today), from what was loaded and
/// the day's doses.
fn panel_for(s: &PatientScope, day: &str, doses_today: Vec<Dose>, l: &Loaded) -> Result<Panel> {
    let patient = s.patient.id;
    let order = active_on(&l.orders, day).cloned();
    let history = &l.history;
    let last_dose_day = history
        .iter()
        .map(|d| d.clinic_day.clone())
        .filter(|d| d.as_str() < day)
        .max();
    let mut holds = vec![];
    let mut alerts = vec![];
    // Clinic days without a dose since the last one; closure days are not
    // missed (a closure take-home covers them when granted).
    let mut missed_days = last_dose_day
        .as_deref()
        .map(|last| missed_clinic_days(last, day, &l.closures))
        .unwrap_or(0);
    let mut due_mg = None;
    let mut missed_rule: Option<clinical::methadone::MissedOutput> = None;
    let mut takehomes_due: Vec<(String, bool)> = vec![];
    let mut injection_status = None;
    let mut next_slot = None;
    let (mut lot, mut product) = (None, None);
    // A nurse's hold (sedation, intoxication) or an administrative hold.
    for h in l.holds.iter().filter(|h| h.holds_on(day)) {
        holds.push(format!(
            "{}: {} — {}, {}",
            crate::window::hold_label(&h.kind),
            h.reason,
            h.placed_by_name,
            crate::fmt::time(h.placed_at, &s.tz)
        ));
    }
    match &order {
        None => holds.push("no active order: a prescriber must write one".into()),
        Some(o) => {
            let taken: Vec<&str> = doses_today.iter().map(|d| d.slot.as_str()).collect();
            next_slot =
                (1..=o.doses_per_day as u8).find(|k| !taken.contains(&k.to_string().as_str()));
            if let Some(b) = doses_today.iter().find(|d| d.kind == "take_home") {
                holds.push(format!(
                    "today is a take-home day: the bottle was handed out {} by {} — no observed dose",
                    crate::fmt::time(b.given_at, &s.tz),
                    b.nurse_name
                ));
            } else if next_slot.is_none() {
                holds.push(format!(
                    "already dosed today ({} of {} dose{})",
                    doses_today.len(),
                    o.doses_per_day,
                    if o.doses_per_day == 1 { "" } else { "s" }
                ));
            }
            let usual = next_slot.map(|k| o.slot_amount_ug(k)).unwrap_or(o.dose_ug);
            due_mg = Some(usual as f64 / 1000.0);
            let injection = injection_kind(o);
            if let Some(k) = injection {
                // No daily dose is due, so no day is missed.
                missed_days = 0;
                injection_status = Some(injection_panel(
                    o,
                    k,
                    l,
                    day,
                    next_slot.is_some(),
                    &mut holds,
                    &mut alerts,
                ));
            } else if o.medication == "methadone" && missed_days > 0 {
                let r = clinical::methadone::missed(&clinical::methadone::MissedInput {
                    consecutive_missed_days: missed_days,
                    usual_dose_mg: usual as f64 / 1000.0,
                    intoxicated: false,
                    schedule: None,
                })?;
                due_mg = r.dose_mg;
                if r.needs_prescriber {
                    holds.push(format!("{} — {}", r.rule, r.citation));
                }
                missed_rule = Some(r);
            } else if missed_days >= 3 {
                alerts.push(format!(
                    "{missed_days} days missed: assess for withdrawal and intoxication before dosing"
                ));
            }
            let held = missed_rule.as_ref().is_some_and(|r| r.needs_prescriber);
            let granted = match &l.grant {
                // Nothing to take home from an injection.
                _ if injection.is_some() => 0,
                Some(g) => match &g.suspended_reason {
                    Some(r) => {
                        alerts.push(format!("take-homes suspended: {r}"));
                        0
                    }
                    None => g.doses_granted,
                },
                None => 0,
            };
            if held && granted > 0 {
                alerts.push("take-homes held until the prescriber sees the patient".into());
            }
            if !held {
                let covered: Vec<String> = l.bottles.iter().map(|b| b.take_on.clone()).collect();
                takehomes_due = crate::takehome::plan_days(
                    day,
                    granted,
                    crate::takehome::closure_allowed(l.grant.as_ref()),
                    &l.closures,
                    &covered,
                );
            }
            if let Some(od) = l.overdoses.first() {
                alerts.push(format!(
                    "overdose on {} ({}): check for sedation before dosing",
                    crate::fmt::time(od.occurred_at, &s.tz),
                    od.outcome.replace('_', " ")
                ));
            }
            if let Some((status, due)) = &l.pregnancy {
                // Methadone and buprenorphine continue in pregnancy; the
                // dose often has to rise or be split in the third trimester
                // (SAMHSA TIP 63, 2021 ed., part 3; ACOG Committee Opinion
                // 711, 2017).
                alerts.push(if status == "pregnant" {
                    format!(
                        "pregnant{}: watch for withdrawal late in pregnancy — the dose may need to rise or be split (SAMHSA TIP 63; ACOG CO 711)",
                        due.as_deref()
                            .map(|d| format!(", due {d}"))
                            .unwrap_or_default()
                    )
                } else {
                    "postpartum: review the dose for sedation as the pregnancy changes wear off (SAMHSA TIP 63)".to_string()
                });
            }
            alerts.extend(l.drug_tests.iter().cloned());
            if o.verbal && !o.is_signed() {
                alerts.push("verbal order waiting for the prescriber's signature".into());
            }
            // The QTc the prescriber recorded with the order, as the engine
            // judged it then (monitor above 450 ms, 500 ms or more: no
            // increase — Krantz et al., Ann Intern Med 2009): at the window
            // too, with the order it belongs to.
            for a in order_qtc_alerts(o) {
                alerts.push(a);
            }
            if o.medication == "methadone" && o.dose_ug > 100_000 {
                alerts.push(
                    "above 100 mg/day: ECG review (Krantz et al., Ann Intern Med 2009)".into(),
                );
            }
            let need = due_mg.map(ug).unwrap_or(0);
            for x in l.lots.iter().filter(|x| x.program_id == o.program_id) {
                if let Some(p) = l
                    .products
                    .iter()
                    .find(|p| p.id == x.product_id && matches_product(p, o))
                    && x.balance_ug >= need
                    && x.balance_ug > 0
                {
                    product = Some(p.clone());
                    lot = Some(x.clone());
                    break;
                }
            }
            if lot.is_none() {
                holds.push("no stock of this product on hand: receive a lot first".into());
            }
        }
    }
    Ok(Panel {
        patient_id: patient.to_string(),
        name: s.patient.display_name(),
        date_of_birth: s.patient.date_of_birth.clone(),
        mrn: s.patient.mrn.clone(),
        clinic_day: day.to_string(),
        order,
        today: doses_today,
        next_slot,
        due_mg,
        missed_days,
        missed_rule,
        holds,
        alerts,
        lot,
        product,
        last_dose_day,
        takehomes_due: takehomes_due
            .into_iter()
            .map(|(d, closure)| TakehomeDay { day: d, closure })
            .collect(),
        takehome_grant: l.grant.as_ref().map(|g| g.doses_granted),
        injection: injection_status,
    })
}

/// The QTc alerts and overridden QTc violations in an order's engine
/// verdict (kept with the order as JSON), in the engine's words.
fn order_qtc_alerts(o: &MedOrder) -> Vec<String> {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&o.engine_check) else {
        return vec![];
    };
    ["alerts", "overridden"]
        .iter()
        .flat_map(|k| v[*k].as_array().cloned().unwrap_or_default())
        .filter(|a| a["rule"].as_str().is_some_and(|r| r.contains("qtc")))
        .filter_map(|a| a["message"].as_str().map(|m| format!("ECG: {m}")))
        .collect()
}

/// What the panel says about a long-acting injection: too early is a hold
/// (the label's minimum interval), due and late are alerts; a late
/// naltrexone injection adds the label's overdose warning.
#[allow(clippy::too_many_arguments)]
fn injection_panel(
    o: &MedOrder,
    k: clinical::injection::Kind,
    l: &Loaded,
    day: &str,
    open_slot: bool,
    holds: &mut Vec<String>,
    alerts: &mut Vec<String>,
) -> clinical::injection::Schedule {
    use clinical::injection::State;
    let today = day.parse::<Date>().unwrap_or_default();
    // The engine's default policy (naltrexone: 21 days at the earliest);
    // not yet a per-program setting.
    let p = clinical::injection::Params::default();
    let last = last_injection(&l.orders, &l.history, k, day);
    let sc = clinical::injection::schedule(k, &p, last, today);
    let (due, earliest) = (
        sc.due_on.map(|d| d.to_string()).unwrap_or_default(),
        sc.earliest_on.map(|d| d.to_string()).unwrap_or_default(),
    );
    if !open_slot {
        return sc;
    }
    match sc.state {
        State::First => alerts.push(format!(
            "first injection under this order: {} mg",
            mg(o.dose_ug)
        )),
        State::TooEarly => holds.push(format!(
            "next injection from {earliest} (due {due}): at least {} days between injections — {}",
            k.min_days(&p),
            k.citation()
        )),
        State::Due => {
            let n = sc.days_from_due.unwrap_or(0);
            alerts.push(match n {
                0 => "injection due today".to_string(),
                n if n < 0 => format!("injection due {due} (may be given from {earliest})"),
                n => format!(
                    "injection due {due}, {n} day{} ago",
                    if n == 1 { "" } else { "s" }
                ),
            });
        }
        State::Late => {
            let n = sc.days_from_due.unwrap_or(0);
            let mut a = format!("injection late by {n} days (due {due})");
            if o.medication == "naltrexone" {
                a.push_str(
                    ": the blockade has worn off and tolerance is low — counsel on overdose risk and offer naloxone",
                );
            } else {
                a.push_str(": assess for withdrawal and use before giving it");
            }
            alerts.push(a);
        }
    }
    sc
}

/// The pre-dose panel for today; audited as a read of the patient.
pub async fn panel(app: &App, who: &Principal, patient: PatientId) -> Result<Panel> {
    let s = access::open(app, who, patient, Permission::ReadClinical, "dosing.panel").await?;
    let day = s.today().to_string();
    let loaded = load(app, &s, Purpose::Show).await?;
    let today: Vec<Dose> = loaded
        .history
        .iter()
        .filter(|d| d.clinic_day == day)
        .cloned()
        .collect();
    panel_for(&s, &day, today, &loaded)
}

/// Recording a dose.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DoseInput {
    /// The amount (mg); default: what the panel says is due.
    #[serde(default)]
    pub amount_mg: Option<f64>,
    /// The lot (default: first in, first out).
    #[serde(default)]
    pub lot_id: Option<String>,
    /// Ingestion observed (default true).
    #[serde(default = "yes")]
    pub observed: bool,
    /// observed (default), exception (a replacement for a spilled or
    /// vomited dose: needs a reason) or back_entry (a dose given on paper
    /// during downtime: needs the clinic day, the time and a reason).
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    /// Back entry: the clinic day the dose was given (YYYY-MM-DD).
    #[serde(default)]
    pub clinic_day: Option<String>,
    /// Back entry: when (RFC 3339 or YYYY-MM-DDTHH:MM program time).
    #[serde(default)]
    pub given_at: Option<String>,
}

fn yes() -> bool {
    true
}

/// Record a dose. One unit of work: read the day's doses under a lock on
/// the patient's clinic day, choose the slot, insert the dose (the unique
/// index refuses a second one in the slot whatever happened before), take
/// it out of the lot, audit. A second regular dose the same clinic day is a
/// conflict that says when the first was given and by whom.
pub async fn record_dose(
    app: &App,
    who: &Principal,
    patient: PatientId,
    i: &DoseInput,
) -> Result<Dose> {
    // The access is audited in the dose's own unit of work (one commit for
    // both), or alone when no dose is recorded.
    let (s, access) =
        access::open_deferred(app, who, patient, Permission::WriteClinical, "dose.open").await?;
    match record_dose_in(app, who, &s, &access, i).await {
        Ok(d) => Ok(d),
        Err(e) => {
            access.record(app).await?;
            Err(e)
        }
    }
}

async fn record_dose_in(
    app: &App,
    who: &Principal,
    s: &PatientScope,
    access: &access::AccessEvent,
    i: &DoseInput,
) -> Result<Dose> {
    let patient = s.patient.id;
    let w = s.writer()?;
    let kind = i.kind.clone().unwrap_or_else(|| "observed".into());
    let mut p = Problems::new();
    if !matches!(kind.as_str(), "observed" | "exception" | "back_entry") {
        p.add("kind", "must be observed, exception or back_entry");
    }
    let reason = i
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_string);
    if kind != "observed" && reason.as_deref().is_none_or(|r| r.chars().count() < 5) {
        p.add("reason", "say why (at least 5 characters)");
    }
    let today = s.today();
    let (day, given_at) = if kind == "back_entry" {
        let day = match i
            .clinic_day
            .as_deref()
            .map(str::trim)
            .map(str::parse::<Date>)
        {
            Some(Ok(d)) if d <= today && d >= today.saturating_sub(jiff::Span::new().days(30)) => {
                Some(d)
            }
            Some(Ok(_)) => {
                p.add("clinic_day", "must be within the last 30 days");
                None
            }
            _ => {
                p.add("clinic_day", "the day the dose was given (YYYY-MM-DD)");
                None
            }
        };
        let at = p.take(crate::kinds::parse_when(
            "given_at",
            i.given_at.as_deref(),
            &s.tz,
            s.now,
            s.earliest_entry(),
        ));
        (day.unwrap_or(today), at.unwrap_or(s.now))
    } else {
        (today, s.now)
    };
    p.finish()?;
    let day = day.to_string();
    let loaded = load(app, s, Purpose::Dose).await?;
    let mut tx = app.begin().await?;
    tx.lock(&format!("dose:{patient}:{day}")).await?;
    let doses_today = tx.doses_on(patient, &day).await?;
    let panel = panel_for(s, &day, doses_today.clone(), &loaded)?;
    let Some(order) = panel.order.clone() else {
        return Err(Error::Conflict(
            "no active order: a prescriber must write one before dosing".into(),
        ));
    };
    let slot = if kind == "exception" {
        let n = doses_today
            .iter()
            .filter(|d| d.slot.starts_with('x'))
            .count();
        format!("x{}", n + 1)
    } else {
        match panel.next_slot {
            Some(k) => k.to_string(),
            None => {
                let last = doses_today.last();
                return Err(Error::Conflict(match last {
                    Some(d) => format!(
                        "already dosed today: {} mg at {} by {}",
                        mg(d.amount_ug),
                        crate::fmt::time(d.given_at, &s.tz),
                        d.nurse_name
                    ),
                    None => "already dosed today".into(),
                }));
            }
        }
    };
    // A hold stops every dose, a replacement too.
    if let Some(h) = loaded.holds.iter().find(|h| h.holds_on(&day)) {
        return Err(Error::Conflict(format!(
            "not dosed: on hold — {}: {}",
            crate::window::hold_label(&h.kind),
            h.reason
        )));
    }
    if kind != "exception"
        && let Some(h) = panel.holds.first()
    {
        return Err(Error::Conflict(format!("not dosed: {h}")));
    }
    let due = panel.due_mg.map(ug);
    let amount = match i.amount_mg {
        None => due.ok_or_else(|| Error::invalid("amount_mg", "give the amount"))?,
        Some(a) => {
            let a = ug(a);
            if a <= 0 {
                return Err(Error::invalid("amount_mg", "must be more than 0 mg"));
            }
            if kind != "exception" && Some(a) != due {
                return Err(Error::invalid(
                    "amount_mg",
                    format!(
                        "today's dose under the order is {} mg; a different amount needs a new order",
                        due.map(mg).unwrap_or_else(|| "—".into())
                    ),
                ));
            }
            a
        }
    };
    let (lot_id, product_id) = match &i.lot_id {
        None => match (&panel.lot, &panel.product) {
            (Some(l), Some(p)) => (l.id.clone(), p.id.clone()),
            _ => {
                return Err(Error::Conflict(
                    "no stock of this product on hand: receive a lot first".into(),
                ));
            }
        },
        Some(l) => {
            let lot = loaded
                .lots
                .iter()
                .find(|x| &x.id == l && x.program_id == order.program_id)
                .ok_or_else(|| Error::invalid("lot_id", "no such lot in this program"))?;
            let prod = loaded
                .products
                .iter()
                .find(|p| p.id == lot.product_id && matches_product(p, &order))
                .ok_or_else(|| Error::invalid("lot_id", "this lot is not the ordered product"))?;
            (lot.id.clone(), prod.id.clone())
        }
    };
    let d = NewDose {
        patient_id: patient,
        program_id: order.program_id,
        order_id: order.id.clone(),
        clinic_day: day.clone(),
        slot,
        kind: kind.clone(),
        amount_ug: amount,
        product_id,
        lot_id,
        observed: i.observed,
        given_at,
        nurse_id: who.user_id,
        nurse_name: who.display_name.clone(),
        late_entry: kind == "back_entry",
        reason,
    };
    let id = tx.record_dose(&w, &d).await.map_err(|e| match e {
        StoreError::Conflict(c) if c == "dose_one_per_slot" => {
            Error::Conflict("already dosed today (recorded a moment ago)".into())
        }
        StoreError::Conflict(c) if c == "stock_lot_balance" => {
            Error::Conflict("the lot does not hold this much: count it and receive stock".into())
        }
        other => other.into(),
    })?;
    tx.audit(
        who.event("dose.record", Outcome::Success)
            .object("dose", &id)
            .patient(patient)
            .program(order.program_id)
            .detail(format!(
                "{} {} mg, {day} slot {}{}",
                order.medication,
                mg(amount),
                d.slot,
                if d.late_entry { ", back entry" } else { "" }
            )),
    );
    access.queue(&mut tx);
    let recorded = d.stored(id, tx.now());
    tx.commit().await?;
    Ok(recorded)
}

/// A product for the program's formulary (administrators).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ProductInput {
    pub medication: String,
    pub form: String,
    pub name: String,
    /// mg per mL (liquids) or per unit.
    pub strength_mg: f64,
}

pub async fn add_product(
    app: &App,
    who: &Principal,
    program: ProgramId,
    i: &ProductInput,
) -> Result<String> {
    if !who.administers(program, Permission::ManagePrograms) {
        return Err(Error::Forbidden(
            "the program's administrators keep its formulary".into(),
        ));
    }
    let mut p = Problems::new();
    if !MEDICATIONS.iter().any(|(k, _)| *k == i.medication) {
        p.add(
            "medication",
            "must be methadone, buprenorphine, buprenorphine_naloxone or naltrexone",
        );
    }
    if !FORMS.iter().any(|(k, _)| *k == i.form) {
        p.add(
            "form",
            "must be oral_liquid, tablet, sublingual_tablet, sublingual_film or injection_xr",
        );
    }
    if i.name.trim().is_empty() {
        p.add("name", "is required");
    }
    if i.strength_mg.is_nan() || i.strength_mg <= 0.0 {
        p.add("strength_mg", "must be more than 0");
    }
    p.finish()?;
    let mut tx = app.begin().await?;
    let id = tx
        .add_product(
            program,
            &i.medication,
            &i.form,
            i.name.trim(),
            ug(i.strength_mg),
        )
        .await?;
    tx.audit(
        who.event("product.create", Outcome::Success)
            .object("med_product", &id)
            .program(program),
    );
    tx.commit().await?;
    Ok(id)
}

/// A lot received into stock.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ReceiptInput {
    pub product_id: String,
    pub lot: String,
    #[serde(default)]
    pub expires_on: Option<String>,
    /// The amount received (mg).
    pub amount_mg: f64,
}

/// Receive a lot into the program's stock (nurses and prescribers of the program).
pub async fn receive(
    app: &App,
    who: &Principal,
    program: ProgramId,
    i: &ReceiptInput,
) -> Result<String> {
    if !who.holds_in(program, Permission::WriteClinical) {
        return Err(Error::Forbidden("you do not work in that program".into()));
    }
    let products = app.store.products(program).await?;
    let mut p = Problems::new();
    if !products.iter().any(|x| x.id == i.product_id) {
        p.add("product_id", "no such product in this program");
    }
    if i.lot.trim().is_empty() {
        p.add("lot", "is required");
    }
    if i.amount_mg.is_nan() || i.amount_mg <= 0.0 {
        p.add("amount_mg", "must be more than 0");
    }
    if let Some(e) = i.expires_on.as_deref().filter(|e| !e.trim().is_empty())
        && e.trim().parse::<Date>().is_err()
    {
        p.add("expires_on", "must be a date (YYYY-MM-DD)");
    }
    p.finish()?;
    let mut tx = app.begin().await?;
    let id = tx
        .receive_lot(
            program,
            &i.product_id,
            i.lot.trim(),
            i.expires_on
                .as_deref()
                .map(str::trim)
                .filter(|e| !e.is_empty()),
            ug(i.amount_mg),
            who.user_id,
        )
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => {
                Error::invalid("lot", "this lot number was already received")
            }
            other => other.into(),
        })?;
    tx.audit(
        who.event("stock.receive", Outcome::Success)
            .object("stock_lot", &id)
            .program(program)
            .detail(format!("lot {}: {} mg", i.lot.trim(), i.amount_mg)),
    );
    tx.commit().await?;
    Ok(id)
}

/// The program's products and lots (staff of the program).
pub async fn stock(
    app: &App,
    who: &Principal,
    program: ProgramId,
) -> Result<(Vec<Product>, Vec<Lot>)> {
    if !who.holds_in(program, Permission::ReadClinical) && !who.is_system() {
        return Err(Error::Forbidden("you do not work in that program".into()));
    }
    Ok((
        app.store.products(program).await?,
        app.store.lots(program, true).await?,
    ))
}

/// One patient on the desk's list for the day.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeskRow {
    pub patient_id: String,
    pub name: String,
    /// e.g. "Methadone 60 mg" or "Methadone 80 mg (split 50 + 30)".
    pub order: String,
    /// Doses recorded today, and how many the order calls for.
    pub given: usize,
    pub per_day: usize,
    /// When the last dose today was given (program time).
    pub last_given: Option<String>,
}

/// The desk's list for today: every patient of the program with an active
/// order, dosed or not. A program-level list, audited with its count.
pub async fn desk(
    app: &App,
    who: &Principal,
    program: ProgramId,
) -> Result<(String, Vec<DeskRow>)> {
    let prog = access::program(app, who, program, Permission::WriteClinical).await?;
    let tz = carepath_domain::program::parse_time_zone(&prog.timezone)?;
    let day = carepath_domain::program::clinic_day(app.now(), &tz).to_string();
    let orders = app.store.program_orders(program).await?;
    let doses = app.store.program_doses(program, &day).await?;
    let mut by_patient: std::collections::BTreeMap<PatientId, Vec<MedOrder>> = Default::default();
    for o in orders {
        by_patient.entry(o.patient_id).or_default().push(o);
    }
    let ids: Vec<PatientId> = by_patient.keys().copied().collect();
    let names: std::collections::HashMap<PatientId, String> =
        app.store.patient_names(&ids).await?.into_iter().collect();
    let mut rows = vec![];
    for (pid, list) in &by_patient {
        let Some(o) = active_on(list, &day) else {
            continue;
        };
        let today: Vec<&Dose> = doses.iter().filter(|d| d.patient_id == *pid).collect();
        rows.push(DeskRow {
            patient_id: pid.to_string(),
            name: names.get(pid).cloned().unwrap_or_default(),
            order: order_summary(o),
            given: today.iter().filter(|d| !d.slot.starts_with('x')).count(),
            per_day: o.doses_per_day as usize,
            last_given: today
                .iter()
                .map(|d| d.given_at)
                .max()
                .map(|t| crate::fmt::time(t, &tz)),
        });
    }
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    app.audit(
        who.event("dosing.desk", Outcome::Success)
            .program(program)
            .detail(format!("patients={}", rows.len())),
    )
    .await?;
    Ok((day, rows))
}

/// "Methadone 60 mg", "Methadone 80 mg (split 50 + 30)".
pub fn order_summary(o: &MedOrder) -> String {
    let med = MEDICATIONS
        .iter()
        .find(|(k, _)| *k == o.medication)
        .map(|(_, l)| *l)
        .unwrap_or("");
    if o.doses_per_day == 2 {
        format!(
            "{med} {} mg (split {} + {})",
            mg(o.dose_ug),
            mg(o.slot_amount_ug(1)),
            mg(o.slot_amount_ug(2))
        )
    } else if let Some(k) = injection_kind(o) {
        format!("{med} {} mg every {} days", mg(o.dose_ug), k.every_days())
    } else {
        format!("{med} {} mg", mg(o.dose_ug))
    }
}

/// One line of the dispensing log: every element 21 CFR 1304.24(a) asks of
/// a narcotic treatment program's record, plus the lot and the time.
#[derive(Debug, Clone, Serialize)]
pub struct LogLine {
    /// (1) Name of substance.
    pub substance: String,
    /// (2) Strength.
    pub strength: String,
    /// (3) Dosage form.
    pub dosage_form: String,
    /// (4) Date dispensed (the clinic day) and time.
    pub date: String,
    pub time: String,
    /// (5) Adequate identification of the patient.
    pub patient_mrn: String,
    pub patient_name: String,
    /// (6) Amount consumed (mg), for observed doses.
    pub amount_consumed_mg: String,
    /// (7) Amount and dosage form taken home.
    pub amount_taken_home_mg: String,
    /// (8) Dispenser's initials (and name).
    pub dispenser_initials: String,
    pub dispenser: String,
    pub lot: String,
    pub kind: String,
}

fn initials(name: &str) -> String {
    name.split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| w.chars().next().is_some_and(char::is_alphabetic))
        .filter(|w| !matches!(*w, "RN" | "LPN" | "MD" | "DO" | "NP" | "PA"))
        .filter_map(|w| w.chars().next())
        .flat_map(char::to_uppercase)
        .collect()
}

/// The program's dispensing log for clinic days `from..=to` (at most a
/// year; an empty `from` is today, an empty `to` is `from`), for inspection
/// or export; audited as an export with its size.
pub async fn dispensing_log(
    app: &App,
    who: &Principal,
    program: ProgramId,
    from: &str,
    to: &str,
) -> Result<(String, String, Vec<LogLine>)> {
    let prog = access::program(app, who, program, Permission::ReadClinical).await?;
    let tz = carepath_domain::program::parse_time_zone(&prog.timezone)?;
    let today = carepath_domain::program::clinic_day(app.now(), &tz).to_string();
    let from = if from.trim().is_empty() {
        today.as_str()
    } else {
        from
    };
    let to = if to.trim().is_empty() { from } else { to };
    let mut p = Problems::new();
    let f = p.take(
        from.trim()
            .parse::<Date>()
            .map_err(|_| Error::invalid("from", "must be a date (YYYY-MM-DD)")),
    );
    let t = p.take(
        to.trim()
            .parse::<Date>()
            .map_err(|_| Error::invalid("to", "must be a date (YYYY-MM-DD)")),
    );
    p.finish()?;
    let (Some(f), Some(t)) = (f, t) else {
        return Err(Error::Internal("dates".into()));
    };
    if t < f || f.until(t).map(|s| s.get_days()).unwrap_or(0) > 366 {
        return Err(Error::invalid(
            "to",
            "must be on or after `from`, within a year",
        ));
    }
    let doses = app
        .store
        .program_doses_between(program, &f.to_string(), &t.to_string())
        .await?;
    let products = app.store.products(program).await?;
    let lots = app.store.lots(program, true).await?;
    let mut ids: Vec<PatientId> = doses.iter().map(|d| d.patient_id).collect();
    ids.sort();
    ids.dedup();
    let names: std::collections::HashMap<PatientId, String> =
        app.store.patient_names(&ids).await?.into_iter().collect();
    let mut mrns = std::collections::HashMap::new();
    for id in &ids {
        mrns.insert(*id, app.store.patient(*id).await?.mrn);
    }
    let out: Vec<LogLine> = doses
        .iter()
        .map(|d| {
            let prod = products.iter().find(|p| p.id == d.product_id);
            let med = prod
                .and_then(|p| MEDICATIONS.iter().find(|(k, _)| *k == p.medication))
                .map(|(_, l)| l.to_string())
                .unwrap_or_default();
            let form = prod
                .and_then(|p| FORMS.iter().find(|(k, _)| *k == p.form))
                .map(|(_, l)| l.to_string())
                .unwrap_or_default();
            let strength = prod
                .map(|p| {
                    if p.form == "oral_liquid" {
                        format!("{} mg/mL", mg(p.strength_ug))
                    } else {
                        format!("{} mg", mg(p.strength_ug))
                    }
                })
                .unwrap_or_default();
            let home = d.kind == "take_home";
            LogLine {
                substance: med,
                strength,
                dosage_form: form,
                date: d.clinic_day.clone(),
                time: crate::fmt::time(d.given_at, &tz),
                patient_mrn: mrns.get(&d.patient_id).cloned().unwrap_or_default(),
                patient_name: names.get(&d.patient_id).cloned().unwrap_or_default(),
                amount_consumed_mg: if home { String::new() } else { mg(d.amount_ug) },
                amount_taken_home_mg: if home { mg(d.amount_ug) } else { String::new() },
                dispenser_initials: initials(&d.nurse_name),
                dispenser: d.nurse_name.clone(),
                lot: lots
                    .iter()
                    .find(|l| l.id == d.lot_id)
                    .map(|l| l.lot.clone())
                    .unwrap_or_default(),
                kind: d.kind.clone(),
            }
        })
        .collect();
    app.audit(
        who.event("dosing.log.export", Outcome::Success)
            .program(program)
            .detail(format!("{f}..{t}: {} doses", out.len())),
    )
    .await?;
    Ok((f.to_string(), t.to_string(), out))
}

/// One line of the outage list: what a nurse needs to dose from paper.
#[derive(Debug, Clone, Serialize)]
pub struct OutageLine {
    pub patient_id: String,
    pub name: String,
    pub date_of_birth: String,
    pub mrn: String,
    pub order: String,
    pub today_mg: String,
    pub per_day: i64,
    pub last_dose: String,
    pub notes: String,
}

/// The dosing list for a clinic day, prepared ahead for downtime: every
/// patient with an active order that day, today's dose, the last dose
/// before it. Audited as a program-level list.
pub async fn outage_list(
    app: &App,
    who: &Principal,
    program: ProgramId,
) -> Result<(String, Vec<OutageLine>)> {
    let prog = access::program(app, who, program, Permission::WriteClinical).await?;
    let tz = carepath_domain::program::parse_time_zone(&prog.timezone)?;
    let day = carepath_domain::program::clinic_day(app.now(), &tz).to_string();
    let orders = app.store.program_orders(program).await?;
    let mut by_patient: std::collections::BTreeMap<PatientId, Vec<MedOrder>> = Default::default();
    for o in orders {
        by_patient.entry(o.patient_id).or_default().push(o);
    }
    let mut out = vec![];
    for (pid, list) in &by_patient {
        let Some(o) = active_on(list, &day) else {
            continue;
        };
        let patient = app.store.patient(*pid).await?;
        let last = app
            .store
            .doses(*pid, 5)
            .await?
            .into_iter()
            .find(|d| d.clinic_day < day);
        let mut notes = vec![];
        if o.verbal && !o.is_signed() {
            notes.push("verbal order not yet signed".to_string());
        }
        if let Some(l) = &last
            && let Some(gap) = days_between(&l.clinic_day, &day)
            && gap > 2
        {
            notes.push(format!(
                "{} days since last dose: check the missed-dose rule",
                gap - 1
            ));
        }
        out.push(OutageLine {
            patient_id: pid.to_string(),
            name: patient.display_name(),
            date_of_birth: patient.date_of_birth.clone(),
            mrn: patient.mrn.clone(),
            order: order_summary(o),
            today_mg: if o.doses_per_day == 2 {
                format!("{} + {}", mg(o.slot_amount_ug(1)), mg(o.slot_amount_ug(2)))
            } else {
                mg(o.dose_ug)
            },
            per_day: o.doses_per_day,
            last_dose: last
                .map(|d| format!("{} {} mg", d.clinic_day, mg(d.amount_ug)))
                .unwrap_or_else(|| "—".into()),
            notes: notes.join("; "),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    app.audit(
        who.event("dosing.outage_list", Outcome::Success)
            .program(program)
            .detail(format!("{day}: patients={}", out.len())),
    )
    .await?;
    Ok((day, out))
}

/// What one missed-dose sweep found in a program.
#[derive(Debug, Clone, Serialize)]
pub struct SweepReport {
    pub program: String,
    pub clinic_day: String,
    pub patients: usize,
    /// Patients with at least one missed clinic day before today.
    pub missed: usize,
    /// Of those, whose rule says a prescriber must see them first.
    pub prescriber: usize,
    /// Take-homes suspended by this sweep.
    pub suspended: usize,
}

/// The missed-dose job (hourly in `carepath serve`, on demand with
/// `carepath dosing sweep`): for every patient with an active order, count
/// the clinic days missed before today (closure days excepted), apply the
/// engine's rule, and suspend take-homes where the rule needs the
/// prescriber — once (a suspension in force is not repeated). The panel
/// and the prescriber's worklist show the same rule, computed live.
pub async fn missed_dose_sweep(app: &App, who: &Principal) -> Result<Vec<SweepReport>> {
    let mut out = vec![];
    for prog in app.store.list_programs().await? {
        if !who.holds_in(prog.id, Permission::WriteClinical) {
            continue;
        }
        let orders = app.store.program_orders(prog.id).await?;
        if orders.is_empty() {
            continue;
        }
        let tz = carepath_domain::program::parse_time_zone(&prog.timezone)?;
        let day = carepath_domain::program::clinic_day(app.now(), &tz).to_string();
        let mut patients: Vec<PatientId> = orders.iter().map(|o| o.patient_id).collect();
        patients.sort();
        patients.dedup();
        let mut r = SweepReport {
            program: prog.name.clone(),
            clinic_day: day.clone(),
            patients: 0,
            missed: 0,
            prescriber: 0,
            suspended: 0,
        };
        for pid in patients {
            let mine: Vec<MedOrder> = orders
                .iter()
                .filter(|o| o.patient_id == pid)
                .cloned()
                .collect();
            if active_on(&mine, &day).is_none() {
                continue;
            }
            r.patients += 1;
            let p = panel(app, who, pid).await?;
            if p.missed_days == 0 && p.injection.is_none() {
                continue;
            }
            let late = p
                .injection
                .is_some_and(|s| s.state == clinical::injection::State::Late);
            if p.missed_days == 0 && !late {
                continue;
            }
            r.missed += 1;
            let needs = late
                || p.missed_rule.as_ref().is_some_and(|m| m.needs_prescriber)
                || (p.missed_rule.is_none() && p.missed_days >= 3);
            if !needs {
                continue;
            }
            r.prescriber += 1;
            let grant = app.store.takehome_grants(pid).await?.into_iter().next();
            if grant.is_some_and(|g| g.suspended_reason.is_none() && g.doses_granted > 0) {
                crate::takehome::suspend(
                    app,
                    who,
                    pid,
                    &format!(
                        "{} clinic days missed before {day}: the prescriber sees the patient first",
                        p.missed_days
                    ),
                )
                .await?;
                r.suspended += 1;
            }
        }
        app.audit(
            who.event("dosing.sweep", Outcome::Success)
                .program(prog.id)
                .detail(format!(
                    "{day}: patients={} missed={} prescriber={} suspended={}",
                    r.patients, r.missed, r.prescriber, r.suspended
                )),
        )
        .await?;
        out.push(r);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn order(id: &str, starts_on: &str, mg: i64, superseded_by: Option<&str>, at: i64) -> MedOrder {
        MedOrder {
            id: id.into(),
            patient_id: PatientId::new(),
            program_id: ProgramId::new(),
            medication: "methadone".into(),
            form: "oral_liquid".into(),
            phase: "induction".into(),
            dose_ug: mg * 1000,
            doses_per_day: 1,
            first_dose_ug: None,
            starts_on: starts_on.into(),
            ends_on: None,
            supersedes: None,
            engine_check: "{}".into(),
            override_reason: None,
            verbal: false,
            ordered_by: String::new(),
            ordered_by_name: String::new(),
            prescriber_id: String::new(),
            ordered_at: at,
            signer_name: None,
            signed_at: None,
            superseded_by: superseded_by.map(str::to_string),
        }
    }

    fn dose(day: &str, kind: &str, mg: i64) -> Dose {
        Dose {
            id: format!("{day}-{kind}"),
            patient_id: PatientId::new(),
            program_id: ProgramId::new(),
            order_id: "o1".into(),
            clinic_day: day.into(),
            slot: "1".into(),
            kind: kind.into(),
            amount_ug: mg * 1000,
            product_id: String::new(),
            lot_id: String::new(),
            observed: true,
            given_at: 0,
            recorded_at: 0,
            nurse_id: String::new(),
            nurse_name: String::new(),
            late_entry: false,
            reason: None,
        }
    }

    #[test]
    fn the_series_shows_doses_bottles_missed_days_and_order_changes() {
        let orders = [
            order("o1", "2026-11-02", 30, Some("o2"), 1),
            order("o2", "2026-11-05", 40, None, 2),
        ];
        let doses = [
            dose("2026-11-02", "observed", 30),
            // 11-03 missed; 11-04 a closure with no bottle (not missed).
            dose("2026-11-05", "observed", 40),
            dose("2026-11-06", "take_home", 40),
        ];
        let closures = ["2026-11-04".to_string()];
        let s = day_series(
            &orders,
            &doses,
            &closures,
            date(2026, 11, 1),
            date(2026, 11, 7),
        );
        let row = |d: &str| s.iter().find(|p| p.day == d).unwrap().clone();
        assert_eq!(s.len(), 7);
        assert_eq!(row("2026-11-01").ordered_mg, None);
        assert!(!row("2026-11-01").missed, "no order yet");
        assert!(row("2026-11-02").order_change);
        assert_eq!(row("2026-11-02").observed_mg, 30.0);
        assert!(row("2026-11-03").missed);
        assert!(row("2026-11-04").closure && !row("2026-11-04").missed);
        assert!(row("2026-11-05").order_change);
        assert_eq!(row("2026-11-05").ordered_mg, Some(40.0));
        assert_eq!(row("2026-11-06").take_home_mg, 40.0);
        assert!(!row("2026-11-06").missed);
        assert!(!row("2026-11-07").missed, "today is not over");
    }

    fn date(y: i16, m: i8, d: i8) -> Date {
        jiff::civil::date(y, m, d)
    }

    proptest! {
        /// One point per day; a day is missed exactly when an order was
        /// active, the clinic open, the day over and nothing given.
        #[test]
        fn missed_days_are_exactly_the_uncovered_open_days(
            given in proptest::collection::vec(0u8..3, 1..40),
            closed in proptest::collection::vec(any::<bool>(), 40),
        ) {
            let from = date(2026, 10, 1);
            let day = |i: usize| from.checked_add(jiff::Span::new().days(i as i64)).unwrap().to_string();
            let orders = [order("o1", &day(0), 50, None, 1)];
            let mut doses = vec![];
            let mut closures = vec![];
            for (i, g) in given.iter().enumerate() {
                match g {
                    1 => doses.push(dose(&day(i), "observed", 50)),
                    2 => doses.push(dose(&day(i), "take_home", 50)),
                    _ => {}
                }
                if closed[i] {
                    closures.push(day(i));
                }
            }
            let to = from.checked_add(jiff::Span::new().days(given.len() as i64 - 1)).unwrap();
            let s = day_series(&orders, &doses, &closures, from, to);
            prop_assert_eq!(s.len(), given.len());
            for (i, p) in s.iter().enumerate() {
                let last = i + 1 == given.len();
                prop_assert_eq!(p.missed, given[i] == 0 && !closed[i] && !last);
            }
        }
    }
}
