//! Controlled-substance stock: waste and spills with a witness, the
//! end-of-day physical count and the daily reconciliation of every lot
//! (opening + received − administered − dispensed − waste ± adjustments =
//! expected; counted − expected = variance), signed by the counter and
//! co-signed by a second person. 21 CFR 1304.04 and 1304.24 (records kept
//! by a narcotic treatment program); 21 CFR 1301.76 (security).
//!
//! A variance is never hidden: it needs a note, and the lot's balance is
//! brought to the physical count by a `count_adjustment` movement in the
//! same unit of work, so tomorrow opens from what is on the shelf.

use crate::App;
use crate::access;
use crate::actor::Principal;
use crate::dosing::{mg, ug};
use crate::error::{Error, Problems, Result};
use carepath_domain::audit::Outcome;
use carepath_domain::authz::Permission;
use carepath_domain::ids::{ProgramId, UserId};
use carepath_domain::program::{clinic_day, clinic_day_bounds, parse_time_zone};
use carepath_store::StoreError;
use carepath_store::dosing::{Lot, Product};
use carepath_store::takehome::{Flows, Reconciliation, Signature};
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

/// Waste or a spill, witnessed.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WasteInput {
    pub lot_id: String,
    pub amount_mg: f64,
    pub reason: String,
    /// The witness's user name and password: a second person present,
    /// who confirms with their own credentials.
    pub witness_username: String,
    pub witness_password: String,
}

/// Record waste or a spill: out of the lot, with the witness, audited.
pub async fn waste(app: &App, who: &Principal, program: ProgramId, i: &WasteInput) -> Result<i64> {
    access::program(app, who, program, Permission::WriteClinical).await?;
    let mut p = Problems::new();
    let amount = ug(i.amount_mg);
    if !(i.amount_mg.is_finite() && amount > 0) {
        p.add("amount_mg", "must be more than 0 mg");
    }
    if i.reason.trim().chars().count() < 5 {
        p.add("reason", "say what happened (at least 5 characters)");
    }
    let lots = app.store.lots(program, true).await?;
    let lot = lots.iter().find(|l| l.id == i.lot_id);
    if lot.is_none() {
        p.add("lot_id", "no such lot in this program");
    }
    p.finish()?;
    let witness = witness(app, who, program, &i.witness_username, &i.witness_password).await?;
    let lot = lot.ok_or(Error::NotFound)?;
    let mut tx = app.begin().await?;
    let balance = tx
        .move_stock(
            &lot.id,
            "waste",
            -amount,
            None,
            Some(i.reason.trim()),
            Some(witness),
            who.user_id,
        )
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => Error::invalid(
                "amount_mg",
                format!("the lot holds {} mg", mg(lot.balance_ug)),
            ),
            other => other.into(),
        })?;
    tx.audit(
        who.event("stock.waste", Outcome::Success)
            .program(program)
            .object("stock_lot", &lot.id)
            .detail(format!("{} mg, lot {}", mg(amount), lot.lot)),
    );
    tx.commit().await?;
    Ok(balance)
}

/// Check a witness: another staff member of the program, by their own
/// password. A wrong password is refused like a failed sign-in (audited).
async fn witness(
    app: &App,
    who: &Principal,
    program: ProgramId,
    username: &str,
    password: &str,
) -> Result<UserId> {
    let bad = || {
        Error::invalid(
            "witness_username",
            "the witness's user name and password do not match",
        )
    };
    let user = app
        .store
        .user_by_username(username.trim())
        .await?
        .ok_or_else(bad)?;
    if user.id == who.user_id {
        return Err(Error::invalid(
            "witness_username",
            "the witness must be someone else",
        ));
    }
    let ok =
        crate::auth::verify_password(password.to_string(), Some(user.password_hash.clone())).await;
    let works_here = app.store.grants(user.id).await?.iter().any(|g| {
        g.program_id == program
            && carepath_domain::authz::role_allows(g.role, Permission::WriteClinical)
    });
    if !ok || user.disabled || !works_here {
        app.audit(
            who.event("stock.witness", Outcome::Denied)
                .program(program)
                .detail("witness credentials refused"),
        )
        .await?;
        return Err(bad());
    }
    Ok(user.id)
}

/// One lot on a clinic day: its flows so far and its reconciliation.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LotDay {
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub lot: Lot,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub product: Product,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub flows: Flows,
    pub expected_ug: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub reconciliation: Option<Reconciliation>,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub signatures: Vec<Signature>,
}

impl LotDay {
    /// Counted, balanced (no variance) and signed by two people.
    pub fn closed(&self) -> bool {
        self.reconciliation
            .as_ref()
            .is_some_and(|r| r.variance_ug == 0)
            && self.signatures.len() >= 2
    }
}

/// The stock page for a clinic day: every lot that held stock or moved.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StockDay {
    pub clinic_day: String,
    pub lots: Vec<LotDay>,
    /// Every lot counted, balanced and signed twice.
    pub balanced: bool,
}

fn day_of(app: &App, tz: &jiff::tz::TimeZone, day: Option<&str>) -> Result<Date> {
    match day.map(str::trim).filter(|d| !d.is_empty()) {
        None => Ok(clinic_day(app.now(), tz)),
        Some(d) => d
            .parse::<Date>()
            .map_err(|_| Error::invalid("day", "must be a date (YYYY-MM-DD)")),
    }
}

/// The day's stock and reconciliation state; audited as a program read.
pub async fn stock_day(
    app: &App,
    who: &Principal,
    program: ProgramId,
    day: Option<&str>,
) -> Result<StockDay> {
    let prog = access::program(app, who, program, Permission::ReadClinical).await?;
    let tz = parse_time_zone(&prog.timezone)?;
    let d = day_of(app, &tz, day)?;
    let (start, end) = clinic_day_bounds(d, &tz);
    let products = app.store.products(program).await?;
    let recs = app.store.reconciliations(program, &d.to_string()).await?;
    let mut lots = vec![];
    for lot in app.store.lots(program, true).await? {
        let flows = app
            .store
            .lot_flows(&lot.id, start.as_microsecond(), end.as_microsecond())
            .await?;
        let moved = flows.received_ug != 0
            || flows.administered_ug != 0
            || flows.dispensed_ug != 0
            || flows.waste_ug != 0
            || flows.adjusted_ug != 0;
        let rec = recs.iter().find(|(r, _)| r.lot_id == lot.id).cloned();
        if flows.opening_ug == 0 && !moved && rec.is_none() {
            continue;
        }
        let Some(product) = products.iter().find(|p| p.id == lot.product_id).cloned() else {
            continue;
        };
        lots.push(LotDay {
            expected_ug: flows.expected_ug(),
            flows,
            product,
            signatures: rec.as_ref().map(|r| r.1.clone()).unwrap_or_default(),
            reconciliation: rec.map(|r| r.0),
            lot,
        });
    }
    app.audit(
        who.event("stock.view", Outcome::Success)
            .program(program)
            .detail(d.to_string()),
    )
    .await?;
    let balanced = !lots.is_empty() && lots.iter().all(LotDay::closed);
    Ok(StockDay {
        clinic_day: d.to_string(),
        lots,
        balanced,
    })
}

/// The physical count of one lot.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CountInput {
    pub lot_id: String,
    pub counted_mg: f64,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ReconcileInput {
    /// The clinic day (default today).
    #[serde(default)]
    pub day: Option<String>,
    pub counts: Vec<CountInput>,
    /// Needed when a count differs from what the records expect.
    #[serde(default)]
    pub note: Option<String>,
}

/// Reconcile the day: for each lot counted, the flows of the clinic day
/// up to now, the expected balance, the count and the variance, signed by
/// the counter; a variance needs a note and brings the lot's balance to
/// the count. One unit of work for all lots.
pub async fn reconcile(
    app: &App,
    who: &Principal,
    program: ProgramId,
    i: &ReconcileInput,
) -> Result<Vec<Reconciliation>> {
    let prog = access::program(app, who, program, Permission::WriteClinical).await?;
    let tz = parse_time_zone(&prog.timezone)?;
    let d = day_of(app, &tz, i.day.as_deref())?;
    let today = clinic_day(app.now(), &tz);
    let mut p = Problems::new();
    if d > today {
        p.add("day", "cannot reconcile a day that has not happened");
    }
    if i.counts.is_empty() {
        p.add("counts", "count at least one lot");
    }
    let lots = app.store.lots(program, true).await?;
    for (n, c) in i.counts.iter().enumerate() {
        if !lots.iter().any(|l| l.id == c.lot_id) {
            p.add(format!("counts[{n}].lot_id"), "no such lot in this program");
        }
        if !(c.counted_mg.is_finite() && c.counted_mg >= 0.0) {
            p.add(format!("counts[{n}].counted_mg"), "must be 0 mg or more");
        }
    }
    let note = i.note.as_deref().map(str::trim).filter(|n| !n.is_empty());
    p.finish()?;
    let (start, end) = clinic_day_bounds(d, &tz);
    // Counting today: flows up to now (the window may still be open).
    let until = end.as_microsecond().min(app.now_us() + 1);
    let mut tx = app.begin().await?;
    tx.lock(&format!("reconcile:{program}:{d}")).await?;
    let mut ids = vec![];
    let mut variances = vec![];
    for c in &i.counts {
        let lot = lots
            .iter()
            .find(|l| l.id == c.lot_id)
            .ok_or(Error::NotFound)?;
        let flows = tx.lot_flows(&lot.id, start.as_microsecond(), until).await?;
        let counted = ug(c.counted_mg);
        let variance = counted - flows.expected_ug();
        if variance != 0 && note.is_none_or(|n| n.chars().count() < 5) {
            return Err(Error::invalid(
                "note",
                format!(
                    "lot {}: counted {} mg, the records expect {} mg — explain the variance",
                    lot.lot,
                    mg(counted),
                    mg(flows.expected_ug())
                ),
            ));
        }
        let id = tx
            .add_reconciliation(
                program,
                &lot.id,
                &d.to_string(),
                &flows,
                counted,
                note.filter(|_| variance != 0).or(note),
                who.user_id,
                &who.display_name,
            )
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => {
                    Error::Conflict(format!("lot {} is already reconciled for {d}", lot.lot))
                }
                other => other.into(),
            })?;
        if variance != 0 {
            tx.move_stock(
                &lot.id,
                "count_adjustment",
                variance,
                None,
                note,
                None,
                who.user_id,
            )
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => Error::Conflict(format!(
                    "lot {}: the count cannot bring the balance below zero",
                    lot.lot
                )),
                other => other.into(),
            })?;
            variances.push(format!("{} {} mg", lot.lot, mg(variance)));
        }
        ids.push(id);
    }
    tx.audit(
        who.event("stock.reconcile", Outcome::Success)
            .program(program)
            .detail(format!(
                "{d}: {} lots{}",
                ids.len(),
                if variances.is_empty() {
                    String::new()
                } else {
                    format!(", variance {}", variances.join(", "))
                }
            )),
    );
    tx.commit().await?;
    let mut out = vec![];
    for id in ids {
        out.push(app.store.reconciliation(&id).await?);
    }
    Ok(out)
}

/// Co-sign a reconciliation: a second person of the program, not the
/// counter, once.
pub async fn cosign(app: &App, who: &Principal, id: &str) -> Result<()> {
    let r = app.store.reconciliation(id).await.map_err(|e| match e {
        StoreError::NotFound => Error::NotFound,
        other => other.into(),
    })?;
    access::program(app, who, r.program_id, Permission::WriteClinical).await?;
    if r.counted_by == who.user_id.to_string() {
        return Err(Error::Conflict(
            "a second person co-signs: the counter cannot".into(),
        ));
    }
    let mut tx = app.begin().await?;
    tx.sign_reconciliation(id, who.user_id, &who.display_name)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => Error::Conflict("you have already signed it".into()),
            other => other.into(),
        })?;
    tx.audit(
        who.event("stock.cosign", Outcome::Success)
            .program(r.program_id)
            .object("reconciliation", id)
            .detail(r.clinic_day.clone()),
    );
    Ok(tx.commit().await?)
}
