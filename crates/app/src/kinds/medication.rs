//! Comfort-medication orders for withdrawal (checked against the formulary's
//! single dose and daily maximum) and their administrations (checked against
//! the signed order, its hold parameters, the minimum interval and the daily
//! maximum — inside the unit of work that writes the dose, so two nurses
//! cannot both pass the daily maximum).

use super::{BODY_VERSION, Entry, Kind, encode, v1};
use crate::access::PatientScope;
use crate::clock::{DAY_US, HOUR_US};
use crate::error::{Error, Result};
use carepath_clinical as clinical;
use carepath_domain::authz::Role;
use carepath_store::{NewRecord, Tx};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OrderInput {
    /// A formulary name (`comfort-med` calculator), e.g. clonidine, lofexidine, loperamide.
    pub medication: String,
    pub dose_mg: f64,
    /// Minimum hours between doses.
    pub every_h: f64,
    #[serde(default)]
    pub prn: bool,
    #[serde(default)]
    pub indication: String,
    /// Hold parameters replacing the defaults.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<Object>>))]
    pub holds: Option<Vec<clinical::comfort::Hold>>,
}

/// A stored order.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct OrderBody {
    #[serde(default = "v1")]
    pub v: u32,
    pub medication: String,
    pub dose_mg: f64,
    pub every_h: f64,
    #[serde(default)]
    pub prn: bool,
    #[serde(default)]
    pub indication: String,
    #[serde(default)]
    pub holds: Vec<clinical::comfort::Hold>,
    pub max_daily_mg: f64,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AdministrationInput {
    pub order_id: String,
    pub sbp: u32,
    pub dbp: u32,
    pub hr: u32,
    /// Given (true) or held (false).
    pub given: bool,
    /// Why the dose was held (required whenever it is not given).
    #[serde(default)]
    pub hold_reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub struct DoseVitals {
    pub sbp: u32,
    pub dbp: u32,
    pub hr: u32,
}

/// A stored administration (given or held) against an order.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct AdministrationBody {
    #[serde(default = "v1")]
    pub v: u32,
    /// The order's first version (its `root_id`).
    pub order_id: String,
    pub medication: String,
    pub dose_mg: f64,
    pub given: bool,
    #[serde(default)]
    pub hold_reason: String,
    pub vitals: DoseVitals,
    pub check: clinical::comfort::Output,
}

pub fn build_order(s: &PatientScope, i: &OrderInput) -> Result<NewRecord> {
    if !(0.5..=48.0).contains(&i.every_h) {
        return Err(Error::invalid("every_h", "must be 0.5 to 48 hours"));
    }
    // The order itself against the formulary (single dose and daily maximum).
    // Hold parameters are checked at each administration, with its vital signs.
    let check =
        clinical::comfort::check_order(&i.medication, i.dose_mg, i.holds.clone()).map_err(|e| {
            match e.field.as_str() {
                "proposed_dose_mg" => Error::invalid("dose_mg", e.message),
                _ => e.into(),
            }
        })?;
    if let Some(v) = check.verdict.violations.first() {
        return Err(Error::invalid("dose_mg", v.message.clone()));
    }
    let holds = i
        .holds
        .clone()
        .unwrap_or_else(clinical::comfort::default_holds);
    let summary = format!(
        "Order: {} {} mg every {} h{}{}",
        i.medication,
        i.dose_mg,
        i.every_h,
        if i.prn { " as needed" } else { "" },
        if i.indication.trim().is_empty() {
            String::new()
        } else {
            format!(" for {}", i.indication.trim())
        }
    );
    let body = OrderBody {
        v: BODY_VERSION,
        medication: i.medication.clone(),
        dose_mg: i.dose_mg,
        every_h: i.every_h,
        prn: i.prn,
        indication: i.indication.trim().into(),
        holds,
        max_daily_mg: check.max_daily_mg,
    };
    let mut r = s.new_record(Kind::Order, encode(&body)?, summary, s.now);
    r.sign_role = Some(Role::Prescriber.as_str().into());
    Ok(r)
}

impl OrderBody {
    pub fn to_input(&self) -> OrderInput {
        OrderInput {
            medication: self.medication.clone(),
            dose_mg: self.dose_mg,
            every_h: self.every_h,
            prn: self.prn,
            indication: self.indication.clone(),
            holds: Some(self.holds.clone()),
        }
    }
}

impl AdministrationBody {
    pub fn to_input(&self) -> AdministrationInput {
        AdministrationInput {
            order_id: self.order_id.clone(),
            sbp: self.vitals.sbp,
            dbp: self.vitals.dbp,
            hr: self.vitals.hr,
            given: self.given,
            hold_reason: self.hold_reason.clone(),
        }
    }
}

/// Check an administration against its signed order, inside `tx`: the
/// order is locked for the rest of the unit of work, and the doses already
/// given are read in it, so the daily maximum and the interval hold under
/// concurrency on both databases.
pub async fn build_administration(
    s: &PatientScope,
    tx: &mut Tx,
    i: &AdministrationInput,
) -> Result<(NewRecord, clinical::comfort::Output)> {
    tx.lock(&format!("order:{}", i.order_id)).await?;
    let order = match tx.record(&i.order_id).await {
        Ok(r) => r,
        Err(carepath_store::StoreError::NotFound) => {
            return Err(Error::invalid("order_id", "no such order for this patient"));
        }
        Err(e) => return Err(e.into()),
    };
    if order.patient_id != s.patient.id || order.kind != Kind::Order.as_str() {
        return Err(Error::invalid("order_id", "no such order for this patient"));
    }
    if !order.is_current() {
        return Err(Error::invalid(
            "order_id",
            "this order was amended; use the current version",
        ));
    }
    if !order.is_signed() {
        return Err(Error::invalid(
            "order_id",
            "the order is waiting for a prescriber's signature",
        ));
    }
    let order = Entry::decode(order)?;
    let super::Body::Order(o) = &order.body else {
        return Err(Error::invalid("order_id", "no such order for this patient"));
    };
    let now = s.now;
    // Doses in the last 24 h and the time since the last one.
    let mut last24 = vec![];
    let mut last_at: Option<i64> = None;
    for r in tx.records_referring(&order.root_id).await? {
        if r.kind != Kind::Administration.as_str() || !r.is_current() {
            continue;
        }
        if let super::Body::Administration(a) = Entry::decode(r.clone())?.body
            && a.given
        {
            if r.occurred_at > now - DAY_US {
                last24.push(a.dose_mg);
            }
            last_at = Some(last_at.map_or(r.occurred_at, |t: i64| t.max(r.occurred_at)));
        }
    }
    let since = last_at.map(|t| (now - t) as f64 / HOUR_US as f64);
    clinical::flowsheet::check_vitals(&clinical::flowsheet::Vitals {
        sbp: Some(i.sbp),
        dbp: Some(i.dbp),
        hr: Some(i.hr),
        ..Default::default()
    })?;
    let out = clinical::comfort::check(&clinical::comfort::Input {
        medication: o.medication.clone(),
        proposed_dose_mg: o.dose_mg,
        given_last_24h_mg: last24,
        hours_since_last_dose: since,
        vitals: Some(clinical::comfort::Vitals {
            sbp: i.sbp,
            dbp: i.dbp,
            hr: i.hr,
        }),
        hold_parameters: Some(o.holds.clone()),
        max_daily_mg: None,
        override_: None,
    })?;
    if i.given && !out.verdict.approved {
        let why = out
            .verdict
            .violations
            .iter()
            .map(|v| v.message.clone())
            .collect::<Vec<_>>()
            .join("; ");
        return Err(Error::invalid(
            "given",
            format!("this dose is blocked: {why}. Hold it and document the reason."),
        ));
    }
    if !i.given && i.hold_reason.trim().chars().count() < 5 {
        return Err(Error::invalid(
            "hold_reason",
            "a held dose needs a documented reason",
        ));
    }
    let (med, dose) = (o.medication.clone(), o.dose_mg);
    let summary = if i.given {
        format!(
            "Given: {med} {dose} mg (BP {}/{}, HR {})",
            i.sbp, i.dbp, i.hr
        )
    } else {
        format!(
            "Held: {med} {dose} mg — {} (BP {}/{}, HR {})",
            i.hold_reason.trim(),
            i.sbp,
            i.dbp,
            i.hr
        )
    };
    let body = AdministrationBody {
        v: BODY_VERSION,
        order_id: order.root_id.clone(),
        medication: med,
        dose_mg: dose,
        given: i.given,
        hold_reason: i.hold_reason.trim().into(),
        vitals: DoseVitals {
            sbp: i.sbp,
            dbp: i.dbp,
            hr: i.hr,
        },
        check: out.clone(),
    };
    let mut r = s.new_record(Kind::Administration, encode(&body)?, summary, now);
    r.ref_id = Some(order.root_id.clone());
    Ok((r, out))
}

/// What limits the next dose of a comfort-medication order, to read before
/// giving it: the hold parameters, the interval since the last dose given and
/// when the next one may be given, and what was given in the last 24 hours
/// against the daily maximum. `given` holds (time, mg) of the doses given;
/// `at` writes a time the way the chart does. The same limits the service
/// enforces on recording ([`clinical::comfort::check`]).
pub fn limits_text(
    o: &OrderBody,
    given: &[(i64, f64)],
    now: i64,
    at: impl Fn(i64) -> String,
) -> Vec<String> {
    use clinical::comfort::Vital;
    let mut out = vec![];
    let holds: Vec<String> = o
        .holds
        .iter()
        .map(|h| {
            let name = match h.vital {
                Vital::Sbp => "systolic BP",
                Vital::Dbp => "diastolic BP",
                Vital::Hr => "heart rate",
            };
            format!("{name} below {}", h.below)
        })
        .collect();
    if !holds.is_empty() {
        out.push(format!("Hold if {}.", holds.join(", or ")));
    }
    let every = clinical::comfort::elapsed_text(o.every_h);
    match given.iter().map(|g| g.0).max() {
        Some(last) => {
            let next = last + (o.every_h * HOUR_US as f64) as i64;
            let since = clinical::comfort::elapsed_text((now - last) as f64 / HOUR_US as f64);
            if next > now {
                out.push(format!(
                    "At least {every} between doses: last given {} ({since} ago), next not before {}.",
                    at(last),
                    at(next)
                ));
            } else {
                out.push(format!(
                    "At least {every} between doses: last given {} ({since} ago); a dose may be given now.",
                    at(last)
                ));
            }
        }
        None => out.push(format!("At least {every} between doses; none given yet.")),
    }
    let day: f64 = given
        .iter()
        .filter(|g| g.0 > now - DAY_US)
        .map(|g| g.1)
        .sum();
    let left = (o.max_daily_mg - day).max(0.0);
    out.push(format!(
        "Last 24 hours: {} of {} mg given; {} mg left today (this dose {} mg).",
        trim(day),
        trim(o.max_daily_mg),
        trim(left),
        trim(o.dose_mg)
    ));
    out
}

fn trim(x: f64) -> String {
    // `+ 0.0` turns the -0 an empty sum gives into 0.
    let s = format!("{:.3}", x + 0.0);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod limits_tests {
    use super::*;

    #[test]
    fn the_limits_are_read_before_the_dose() {
        let o = OrderBody {
            v: 1,
            medication: "clonidine".into(),
            dose_mg: 0.1,
            every_h: 6.0,
            prn: true,
            indication: String::new(),
            holds: clinical::comfort::default_holds(),
            max_daily_mg: 1.2,
        };
        let h = HOUR_US;
        let at = |t: i64| format!("t{}", t / h);
        let none = limits_text(&o, &[], 10 * h, at);
        assert_eq!(
            none[2],
            "Last 24 hours: 0 of 1.2 mg given; 1.2 mg left today (this dose 0.1 mg)."
        );
        assert_eq!(
            none[0],
            "Hold if systolic BP below 90, or diastolic BP below 60, or heart rate below 60."
        );
        assert_eq!(none[1], "At least 6 h between doses; none given yet.");
        let two = limits_text(&o, &[(2 * h, 0.1), (8 * h, 0.1)], 10 * h, at);
        assert_eq!(
            two[1],
            "At least 6 h between doses: last given t8 (2 h ago), next not before t14."
        );
        assert_eq!(
            two[2],
            "Last 24 hours: 0.2 of 1.2 mg given; 1 mg left today (this dose 0.1 mg)."
        );
        let later = limits_text(&o, &[(2 * h, 0.1)], 9 * h, at);
        assert!(
            later[1].ends_with("a dose may be given now."),
            "{}",
            later[1]
        );
    }
}
