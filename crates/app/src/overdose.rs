//! Overdose response and naloxone kits. An overdose record holds each
//! naloxone dose (product, dose, route, time), breathing support, vital
//! signs, EMS and transport, and the outcome; it appears on the chart and
//! puts two items on the worklist until they are done: a prescriber's
//! review (a new order or take-home decision after the event) and
//! overdose-risk education with a naloxone kit (SAMHSA Overdose Prevention
//! and Response Toolkit, 2018; 42 CFR § 8.12(f)(4)).

use crate::App;
use crate::access;
use crate::actor::Principal;
use crate::error::{Error, Problems, Result};
use carepath_domain::audit::Outcome;
use carepath_domain::authz::Permission;
use carepath_domain::ids::{PatientId, ProgramId};
use carepath_store::takehome::{Kit, NewKit, NewOverdose, Overdose};
use serde::{Deserialize, Serialize};

/// One naloxone dose given.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NaloxoneDose {
    /// e.g. "Naloxone nasal spray 4 mg".
    pub product: String,
    pub dose_mg: f64,
    /// intranasal, intramuscular, intravenous or subcutaneous.
    pub route: String,
    /// When (YYYY-MM-DDTHH:MM program time, or RFC 3339).
    pub at: String,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OverdoseInput {
    /// When it began (program time or RFC 3339).
    pub occurred_at: String,
    #[serde(default)]
    pub naloxone: Vec<NaloxoneDose>,
    /// none, rescue_breathing, bag_valve_mask, cpr, oxygen.
    pub breathing_support: String,
    /// Vital signs as observed (free text: RR, SpO2, pulse, BP).
    #[serde(default)]
    pub vitals: String,
    pub ems_called: bool,
    pub transported: bool,
    /// recovered_on_site, transported, refused_transport, died, unknown.
    pub outcome: String,
    #[serde(default)]
    pub note: Option<String>,
}

const ROUTES: &[&str] = &["intranasal", "intramuscular", "intravenous", "subcutaneous"];
const SUPPORT: &[&str] = &[
    "none",
    "rescue_breathing",
    "bag_valve_mask",
    "cpr",
    "oxygen",
];
const OUTCOMES: &[&str] = &[
    "recovered_on_site",
    "transported",
    "refused_transport",
    "died",
    "unknown",
];

/// Record an overdose and the response.
pub async fn record(
    app: &App,
    who: &Principal,
    patient: PatientId,
    i: &OverdoseInput,
) -> Result<Overdose> {
    let s = access::open(
        app,
        who,
        patient,
        Permission::WriteClinical,
        "overdose.open",
    )
    .await?;
    let w = s.writer()?;
    let mut p = Problems::new();
    let at = p.take(crate::kinds::parse_when(
        "occurred_at",
        Some(i.occurred_at.as_str()),
        &s.tz,
        s.now,
        s.earliest_entry(),
    ));
    let mut doses = vec![];
    for (n, d) in i.naloxone.iter().enumerate() {
        if d.product.trim().is_empty() {
            p.add(format!("naloxone[{n}].product"), "name the product");
        }
        if !(d.dose_mg.is_finite() && d.dose_mg > 0.0 && d.dose_mg <= 10.0) {
            p.add(format!("naloxone[{n}].dose_mg"), "between 0 and 10 mg");
        }
        if !ROUTES.contains(&d.route.as_str()) {
            p.add(
                format!("naloxone[{n}].route"),
                format!("must be one of {}", ROUTES.join(", ")),
            );
        }
        let when = p.take(crate::kinds::parse_when(
            "naloxone.at",
            Some(d.at.as_str()),
            &s.tz,
            s.now,
            s.earliest_entry(),
        ));
        doses.push(serde_json::json!({
            "product": d.product.trim(), "dose_mg": d.dose_mg, "route": d.route,
            "at": when.map(|t| crate::fmt::time(t, &s.tz)).unwrap_or_default(),
        }));
    }
    if !SUPPORT.contains(&i.breathing_support.as_str()) {
        p.add(
            "breathing_support",
            format!("must be one of {}", SUPPORT.join(", ")),
        );
    }
    if !OUTCOMES.contains(&i.outcome.as_str()) {
        p.add("outcome", format!("must be one of {}", OUTCOMES.join(", ")));
    }
    if i.outcome == "transported" && !i.transported {
        p.add("transported", "the outcome says transported");
    }
    p.finish()?;
    let at = at.ok_or_else(|| Error::Internal("occurred_at".into()))?;
    let program = s.program.id;
    let o = NewOverdose {
        patient_id: patient,
        program_id: program,
        occurred_at: at,
        naloxone: serde_json::Value::Array(doses).to_string(),
        breathing_support: i.breathing_support.clone(),
        vitals: i.vitals.trim().to_string(),
        ems_called: i.ems_called,
        transported: i.transported,
        outcome: i.outcome.clone(),
        note: i
            .note
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string),
        by: who.user_id,
        by_name: who.display_name.clone(),
    };
    let mut tx = app.begin().await?;
    let id = tx.add_overdose(&w, &o).await?;
    tx.audit(
        who.event("overdose.record", Outcome::Success)
            .object("overdose_event", &id)
            .patient(patient)
            .program(program)
            .detail(format!(
                "naloxone doses={} outcome={}",
                i.naloxone.len(),
                i.outcome
            )),
    );
    tx.commit().await?;
    app.store
        .overdoses(patient)
        .await?
        .into_iter()
        .find(|x| x.id == id)
        .ok_or(Error::NotFound)
}

/// A patient's overdose records and naloxone kits; audited as a read.
pub async fn history(
    app: &App,
    who: &Principal,
    patient: PatientId,
) -> Result<(Vec<Overdose>, Vec<Kit>)> {
    access::open(app, who, patient, Permission::ReadClinical, "overdose.read").await?;
    Ok((
        app.store.overdoses(patient).await?,
        app.store.patient_kits(patient).await?,
    ))
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct KitInput {
    /// The patient, when the kit goes to (or for) one.
    #[serde(default)]
    pub patient_id: Option<String>,
    /// patient, family_or_friend or community.
    pub recipient: String,
    pub product: String,
    #[serde(default = "one")]
    pub quantity: i64,
    #[serde(default)]
    pub lot: Option<String>,
    /// Overdose-risk education given with the kit.
    pub education: bool,
}

fn one() -> i64 {
    1
}

/// Log a naloxone kit handed out. With a patient it goes through the
/// patient's access path; a community kit needs only a program role.
pub async fn give_kit(app: &App, who: &Principal, program: ProgramId, i: &KitInput) -> Result<Kit> {
    access::program(app, who, program, Permission::WriteClinical).await?;
    let mut p = Problems::new();
    if !matches!(
        i.recipient.as_str(),
        "patient" | "family_or_friend" | "community"
    ) {
        p.add(
            "recipient",
            "must be patient, family_or_friend or community",
        );
    }
    if i.product.trim().is_empty() {
        p.add(
            "product",
            "name the product (e.g. naloxone nasal spray 4 mg)",
        );
    }
    if !(1..=20).contains(&i.quantity) {
        p.add("quantity", "between 1 and 20");
    }
    let patient = match i.patient_id.as_deref().filter(|x| !x.is_empty()) {
        None => None,
        Some(x) => p.take(
            x.parse::<PatientId>()
                .map_err(|_| Error::invalid("patient_id", "not a patient id")),
        ),
    };
    if i.recipient == "patient" && patient.is_none() {
        p.add("patient_id", "a kit for the patient names the patient");
    }
    p.finish()?;
    if let Some(pid) = patient {
        access::open(app, who, pid, Permission::WriteClinical, "naloxone.kit").await?;
    }
    let mut tx = app.begin().await?;
    let id = tx
        .add_kit(&NewKit {
            program_id: program,
            patient_id: patient,
            recipient: i.recipient.clone(),
            product: i.product.trim().to_string(),
            quantity: i.quantity,
            lot: i
                .lot
                .as_deref()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string),
            education: i.education,
            by: who.user_id,
            by_name: who.display_name.clone(),
        })
        .await?;
    let mut ev = who
        .event("naloxone.kit", Outcome::Success)
        .object("naloxone_kit", &id)
        .program(program)
        .detail(format!("{} × {}", i.quantity, i.recipient));
    if let Some(pid) = patient {
        ev = ev.patient(pid);
    }
    tx.audit(ev);
    tx.commit().await?;
    let kits = app.store.kits(program, 0).await?;
    kits.into_iter().find(|k| k.id == id).ok_or(Error::NotFound)
}
