//! The dosing desk through its services, on SQLite and PostgreSQL: orders
//! checked by the engine (and overridden only by a prescriber with a
//! reason), one dose per clinic day however many nurses press at once,
//! stock that cannot go below zero, verbal orders, missed-dose holds.

use carepath_app::chart::{self, AdmitInput};
use carepath_app::clock::{Clock, DAY_US, ManualClock, SystemClock};
use carepath_app::dosing::{self, DoseInput, OrderInput, ProductInput, ReceiptInput};
use carepath_app::{App, Error, Principal};
use carepath_domain::authz::Role;
use carepath_testkit::{World, both, system};
use std::sync::Arc;

struct Desk {
    w: World,
    app: App,
    clock: ManualClock,
    prescriber: Principal,
    nurse: Principal,
    lot: String,
}

/// An opioid treatment program with methadone 10 mg/mL on the shelf and
/// patient A admitted, on an app whose clock the test moves.
async fn desk(db: carepath_testkit::TestDb) -> Desk {
    let w = World::new(db).await;
    let clock = ManualClock::at(SystemClock.now_us());
    let app = w.app.clone().with_clock(Arc::new(clock.clone()));
    chart::admit(
        &app,
        &system(),
        w.patient_a,
        &AdmitInput {
            program_id: w.a.to_string(),
            level_of_care: "opioid_treatment_program".into(),
        },
    )
    .await
    .unwrap();
    let product = dosing::add_product(
        &app,
        &system(),
        w.a,
        &ProductInput {
            medication: "methadone".into(),
            form: "oral_liquid".into(),
            name: "Methadone oral concentrate 10 mg/mL".into(),
            strength_mg: 10.0,
        },
    )
    .await
    .unwrap();
    let prescriber = carepath_testkit::signed_in(&app, w.user(Role::Prescriber).1, true).await;
    let nurse = carepath_testkit::signed_in(&app, w.user(Role::Nurse).1, false).await;
    let lot = dosing::receive(
        &app,
        &nurse,
        w.a,
        &ReceiptInput {
            product_id: product,
            lot: "M-2026-11".into(),
            expires_on: Some("2027-11-30".into()),
            amount_mg: 1000.0,
        },
    )
    .await
    .unwrap();
    Desk {
        w,
        app,
        clock,
        prescriber,
        nurse,
        lot,
    }
}

fn methadone(dose: f64, phase: &str) -> OrderInput {
    OrderInput {
        medication: "methadone".into(),
        form: "oral_liquid".into(),
        phase: phase.into(),
        dose_mg: dose,
        ..Default::default()
    }
}

fn fields(e: &Error) -> Vec<String> {
    match e {
        Error::Invalid(v) => v.iter().map(|f| f.field.to_string()).collect(),
        other => panic!("expected invalid input, got {other:?}"),
    }
}

both!(a_dose_a_day_and_the_engine_in_charge, |db| {
    let d = desk(db).await;
    let (app, pid) = (&d.app, d.w.patient_a);
    // A nurse does not write orders; a prescriber does, signed as written.
    let r = dosing::create_order(app, &d.nurse, pid, &methadone(30.0, "induction")).await;
    assert!(matches!(r, Err(Error::Forbidden(_))), "{r:?}");
    let (order, _) = dosing::create_order(app, &d.prescriber, pid, &methadone(30.0, "induction"))
        .await
        .unwrap();
    assert!(order.is_signed());
    // The panel: 30 mg due, from the lot on the shelf.
    let panel = dosing::panel(app, &d.nurse, pid).await.unwrap();
    assert_eq!(panel.due_mg, Some(30.0));
    assert!(panel.holds.is_empty(), "{:?}", panel.holds);
    assert_eq!(
        panel.lot.as_ref().map(|l| l.id.as_str()),
        Some(d.lot.as_str())
    );
    // One action doses; a second attempt the same clinic day is refused
    // with when and by whom.
    let dose = dosing::record_dose(app, &d.nurse, pid, &DoseInput::default())
        .await
        .unwrap();
    assert_eq!(dose.amount_ug, 30_000);
    let again = dosing::record_dose(app, &d.nurse, pid, &DoseInput::default()).await;
    match again {
        Err(Error::Conflict(m)) => assert!(m.contains("already dosed today"), "{m}"),
        other => panic!("{other:?}"),
    }
    // A different amount than the order says is refused, naming the field.
    d.clock.advance(DAY_US);
    let e = dosing::record_dose(
        app,
        &d.nurse,
        pid,
        &DoseInput {
            amount_mg: Some(40.0),
            observed: true,
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(fields(&e), ["amount_mg"]);
    dosing::record_dose(app, &d.nurse, pid, &DoseInput::default())
        .await
        .unwrap();
    // Day 3: doubling to 60 mg in the first week is blocked by the engine…
    d.clock.advance(DAY_US);
    let e = dosing::create_order(app, &d.prescriber, pid, &methadone(60.0, "titration"))
        .await
        .unwrap_err();
    assert_eq!(fields(&e), ["dose_mg"], "{e}");
    assert!(e.to_string().contains("override"), "{e}");
    // …until the prescriber overrides with a written reason; the new order
    // supersedes the old, and the panel follows it.
    let (o2, verdict) = dosing::create_order(
        app,
        &d.prescriber,
        pid,
        &OrderInput {
            override_reason: Some(
                "transferred from another OTP on 60 mg, verified by phone".into(),
            ),
            ..methadone(60.0, "titration")
        },
    )
    .await
    .unwrap();
    assert_eq!(o2.supersedes.as_deref(), Some(order.id.as_str()));
    assert!(!verdict["overridden"].as_array().unwrap().is_empty());
    let panel = dosing::panel(app, &d.nurse, pid).await.unwrap();
    assert_eq!(panel.due_mg, Some(60.0));
    // Stock followed every dose: 1000 − 30 − 30.
    let (_, lots) = dosing::stock(app, &d.nurse, d.w.a).await.unwrap();
    assert_eq!(lots[0].balance_ug, 940_000);
    // Four missed days: the engine says the prescriber must see the patient.
    d.clock.advance(5 * DAY_US);
    let panel = dosing::panel(app, &d.nurse, pid).await.unwrap();
    assert_eq!(panel.missed_days, 5);
    assert!(!panel.holds.is_empty(), "{panel:?}");
    let r = dosing::record_dose(app, &d.nurse, pid, &DoseInput::default()).await;
    assert!(matches!(r, Err(Error::Conflict(_))), "{r:?}");
    // Everything written is sealed: the installation verifies clean.
    let report = d.w.store().verify_integrity(&[], |_| {}).await.unwrap();
    assert!(report.intact(), "{:#?}", report.findings);
});

both!(fifty_nurses_one_dose, |db| {
    let d = desk(db).await;
    let pid = d.w.patient_a;
    dosing::create_order(&d.app, &d.prescriber, pid, &methadone(30.0, "induction"))
        .await
        .unwrap();
    let mut handles = vec![];
    for _ in 0..50 {
        let (app, nurse) = (d.app.clone(), d.nurse.clone());
        handles.push(tokio::spawn(async move {
            dosing::record_dose(&app, &nurse, pid, &DoseInput::default()).await
        }));
    }
    let mut given = 0;
    for h in handles {
        match h.await.unwrap() {
            Ok(_) => given += 1,
            Err(Error::Conflict(m)) => assert!(m.contains("already dosed"), "{m}"),
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(
        given, 1,
        "exactly one of fifty concurrent doses is recorded"
    );
    assert_eq!(d.w.store().doses(pid, 100).await.unwrap().len(), 1);
    let (_, lots) = dosing::stock(&d.app, &d.nurse, d.w.a).await.unwrap();
    assert_eq!(lots[0].balance_ug, 970_000, "stock taken once");
});

both!(verbal_orders_and_stock_limits, |db| {
    let d = desk(db).await;
    let pid = d.w.patient_a;
    // A nurse takes a telephone order from the prescriber: dosable at once,
    // flagged until the prescriber signs it.
    let (order, _) = dosing::create_order(
        &d.app,
        &d.nurse,
        pid,
        &OrderInput {
            verbal_from: Some(d.prescriber.user_id.to_string()),
            ..methadone(25.0, "induction")
        },
    )
    .await
    .unwrap();
    assert!(order.verbal && !order.is_signed());
    let panel = dosing::panel(&d.app, &d.nurse, pid).await.unwrap();
    assert!(
        panel.alerts.iter().any(|a| a.contains("verbal")),
        "{panel:?}"
    );
    // Only the prescriber it names signs it, once.
    let r = dosing::sign_order(&d.app, &d.nurse, &order.id).await;
    assert!(matches!(r, Err(Error::Forbidden(_))), "{r:?}");
    dosing::sign_order(&d.app, &d.prescriber, &order.id)
        .await
        .unwrap();
    let r = dosing::sign_order(&d.app, &d.prescriber, &order.id).await;
    assert!(matches!(r, Err(Error::Conflict(_))), "{r:?}");
    // A replacement for a vomited dose needs a reason and fills its own slot.
    dosing::record_dose(&d.app, &d.nurse, pid, &DoseInput::default())
        .await
        .unwrap();
    let e = dosing::record_dose(
        &d.app,
        &d.nurse,
        pid,
        &DoseInput {
            kind: Some("exception".into()),
            observed: true,
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(fields(&e), ["reason"]);
    let x = dosing::record_dose(
        &d.app,
        &d.nurse,
        pid,
        &DoseInput {
            kind: Some("exception".into()),
            reason: Some("vomited within 10 minutes, witnessed".into()),
            amount_mg: Some(25.0),
            observed: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(x.slot, "x1");
    // A lot never goes below zero: the store refuses, whatever the caller.
    let mut tx = d.w.store().begin(SystemClock.now_us()).await.unwrap();
    let r = tx
        .move_stock(
            &d.lot,
            "waste",
            -2_000_000_000,
            None,
            Some("test"),
            None,
            d.nurse.user_id,
        )
        .await;
    assert!(
        matches!(r, Err(carepath_store::StoreError::Conflict(_))),
        "{r:?}"
    );
    drop(tx);
    // And the database itself refuses a negative balance written directly.
    let r =
        d.w.db
            .exec_raw(&format!(
                "UPDATE stock_lot SET balance_ug = -1 WHERE id = '{}'",
                d.lot
            ))
            .await;
    assert!(r.is_err(), "CHECK (balance_ug >= 0)");
    // The database refuses a second dose in a slot however it is written.
    let dup = "INSERT INTO dose (id, patient_id, program_id, order_id, clinic_day, slot, kind, amount_ug, product_id, lot_id, \
         observed, given_at, recorded_at, nurse_id, nurse_name, late_entry, reason) \
         SELECT 'dup', patient_id, program_id, order_id, clinic_day, slot, kind, amount_ug, product_id, lot_id, \
         observed, given_at, recorded_at, nurse_id, nurse_name, late_entry, reason FROM dose WHERE slot = '1'";
    assert!(d.w.db.exec_raw(dup).await.is_err(), "dose_one_per_slot");
    // Orders and doses cannot be changed or removed in the database.
    for sql in [
        format!("UPDATE med_order SET dose_ug = 1 WHERE id = '{}'", order.id),
        format!("DELETE FROM dose WHERE order_id = '{}'", order.id),
    ] {
        assert!(d.w.db.exec_raw(&sql).await.is_err(), "{sql}");
    }
});
