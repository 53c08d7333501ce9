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

/// Dose the patient every day for `days` days (moving the clock a day
/// after each), the way the window would.
async fn dose_days(d: &Desk, days: usize) {
    for _ in 0..days {
        dosing::record_dose(&d.app, &d.nurse, d.w.patient_a, &DoseInput::default())
            .await
            .unwrap();
        d.clock.advance(DAY_US);
    }
}

fn all_met(app_policy: &str) -> std::collections::BTreeMap<String, bool> {
    carepath_clinical::policy::get(app_policy)
        .unwrap()
        .criteria
        .iter()
        .map(|c| (c.clone(), true))
        .collect()
}

both!(take_homes_under_the_federal_ladder_fill_their_days, |db| {
    use carepath_app::takehome::{self, AssessInput, BottleEventInput};
    let d = desk(db).await;
    let (app, pid) = (&d.app, d.w.patient_a);
    dosing::create_order(app, &d.prescriber, pid, &methadone(30.0, "induction"))
        .await
        .unwrap();
    // Day 20 of treatment: the federal 2024 ladder allows 14 doses.
    dose_days(&d, 19).await;
    let e = takehome::eligibility(app, &d.nurse, pid).await.unwrap();
    assert_eq!(e.policy, "federal-2024");
    assert_eq!(e.days_in_treatment, 20);
    assert_eq!(e.ceiling.ceiling, 14, "{:?}", e.ceiling);
    // A nurse does not decide; 15 doses are refused naming the field; a
    // criterion not met blocks ladder doses; 14 with every criterion met pass.
    let mut i = AssessInput {
        criteria: all_met("federal-2024"),
        doses_granted: 14,
        ..Default::default()
    };
    let r = takehome::assess(app, &d.nurse, pid, &i).await;
    assert!(matches!(r, Err(Error::Forbidden(_))), "{r:?}");
    i.doses_granted = 15;
    let r = takehome::assess(app, &d.prescriber, pid, &i)
        .await
        .unwrap_err();
    assert_eq!(fields(&r), ["doses_granted"]);
    i.criteria.insert("regular_attendance".into(), false);
    i.doses_granted = 2;
    let r = takehome::assess(app, &d.prescriber, pid, &i)
        .await
        .unwrap_err();
    assert_eq!(fields(&r), ["doses_granted"]);
    i.criteria.insert("regular_attendance".into(), true);
    // Two doses granted, and a closure day the day after tomorrow's run.
    i.doses_granted = 2;
    let g = takehome::assess(app, &d.prescriber, pid, &i).await.unwrap();
    assert_eq!((g.doses_granted, g.max_doses), (2, 14));
    let admin = d.w.principal(Role::Admin).await;
    let today = dosing::panel(app, &d.nurse, pid).await.unwrap().clinic_day;
    let day = |n: i64| {
        today
            .parse::<jiff::civil::Date>()
            .unwrap()
            .checked_add(jiff::Span::new().days(n))
            .unwrap()
            .to_string()
    };
    takehome::add_closure(app, &admin, d.w.a, &day(3), "Thanksgiving")
        .await
        .unwrap();
    // Before today's observed dose no bottle goes out.
    let panel = dosing::panel(app, &d.nurse, pid).await.unwrap();
    let due: Vec<(String, bool)> = panel
        .takehomes_due
        .iter()
        .map(|t| (t.day.clone(), t.closure))
        .collect();
    assert_eq!(due, [(day(1), false), (day(2), false), (day(3), true)]);
    let r = takehome::dispense(app, &d.nurse, pid).await;
    assert!(matches!(r, Err(Error::Conflict(_))), "{r:?}");
    dosing::record_dose(app, &d.nurse, pid, &DoseInput::default())
        .await
        .unwrap();
    let bottles = takehome::dispense(app, &d.nurse, pid).await.unwrap();
    assert_eq!(bottles.len(), 3);
    assert!(bottles[2].closure);
    // Labels carry what a bottle must say.
    let labels = takehome::labels(app, &d.nurse, pid, None).await.unwrap();
    assert_eq!(labels.len(), 3);
    assert_eq!(labels[0].bottle, "1 of 3");
    assert_eq!(labels[0].dose, "30 mg (3 mL)");
    assert_eq!(labels[0].lot, "M-2026-11");
    assert_eq!(labels[1].take_on, day(2));
    // Handing out twice is refused: the days are covered.
    let r = takehome::dispense(app, &d.nurse, pid).await;
    assert!(matches!(r, Err(Error::Conflict(_))), "{r:?}");
    // Tomorrow is a take-home day: an observed dose is refused.
    d.clock.advance(DAY_US);
    let panel = dosing::panel(app, &d.nurse, pid).await.unwrap();
    assert!(
        panel.holds[0].contains("take-home day"),
        "{:?}",
        panel.holds
    );
    let r = dosing::record_dose(app, &d.nurse, pid, &DoseInput::default()).await;
    assert!(matches!(r, Err(Error::Conflict(_))), "{r:?}");
    // A lost bottle: a note is required; then take-homes are suspended.
    let lost = BottleEventInput {
        bottle: bottles[1].dose_id.clone(),
        kind: "lost".into(),
        ..Default::default()
    };
    let r = takehome::bottle_event(app, &d.nurse, pid, &lost)
        .await
        .unwrap_err();
    assert_eq!(fields(&r), ["note"]);
    takehome::bottle_event(
        app,
        &d.nurse,
        pid,
        &BottleEventInput {
            note: Some("left on the bus".into()),
            ..lost
        },
    )
    .await
    .unwrap();
    let (grant, _, events) = takehome::schedule(app, &d.nurse, pid).await.unwrap();
    assert!(grant.unwrap().suspended_reason.is_some());
    assert_eq!(events.len(), 1);
    // The bottles are in the dispensing log as taken home.
    let (_, _, log) = dosing::dispensing_log(app, &d.nurse, d.w.a, &day(-19), &day(3))
        .await
        .unwrap();
    assert_eq!(log.iter().filter(|l| l.kind == "take_home").count(), 3);
    assert_eq!(
        log.iter()
            .filter(|l| l.amount_taken_home_mg == "30")
            .count(),
        3
    );
    // The stock: 21 doses and 3 bottles of 30 mg out of 1,000 mg.
    let (_, lots) = dosing::stock(app, &d.nurse, d.w.a).await.unwrap();
    assert_eq!(lots[0].balance_ug, 1_000_000 - 23 * 30_000);
});

both!(reconciliation_balances_with_two_signatures, |db| {
    use carepath_app::stock::{self, CountInput, ReconcileInput, WasteInput};
    let d = desk(db).await;
    let (app, pid) = (&d.app, d.w.patient_a);
    dosing::create_order(app, &d.prescriber, pid, &methadone(30.0, "induction"))
        .await
        .unwrap();
    dosing::record_dose(app, &d.nurse, pid, &DoseInput::default())
        .await
        .unwrap();
    // A spill, witnessed: a wrong password and the nurse herself are refused.
    let mut w = WasteInput {
        lot_id: d.lot.clone(),
        amount_mg: 5.0,
        reason: "cup knocked over".into(),
        witness_username: d.w.user(Role::Prescriber).1.to_string(),
        witness_password: "wrong".into(),
    };
    let r = stock::waste(app, &d.nurse, d.w.a, &w).await.unwrap_err();
    assert_eq!(fields(&r), ["witness_username"]);
    w.witness_username = d.w.user(Role::Nurse).1.to_string();
    w.witness_password = carepath_testkit::PW.into();
    let r = stock::waste(app, &d.nurse, d.w.a, &w).await.unwrap_err();
    assert_eq!(fields(&r), ["witness_username"]);
    w.witness_username = d.w.user(Role::Prescriber).1.to_string();
    assert_eq!(
        stock::waste(app, &d.nurse, d.w.a, &w).await.unwrap(),
        965_000
    );
    // The day: opening 0 (received today), received 1,000, administered 30,
    // waste 5 → expected 965 mg.
    let day = stock::stock_day(app, &d.nurse, d.w.a, None).await.unwrap();
    let l = &day.lots[0];
    assert_eq!(
        (
            l.flows.received_ug,
            l.flows.administered_ug,
            l.flows.waste_ug,
            l.expected_ug
        ),
        (1_000_000, 30_000, 5_000, 965_000)
    );
    assert!(!day.balanced);
    // A count that differs needs a note; then the balance follows the count.
    let count = |mg: f64| ReconcileInput {
        day: None,
        counts: vec![CountInput {
            lot_id: d.lot.clone(),
            counted_mg: mg,
        }],
        note: None,
    };
    let r = stock::reconcile(app, &d.nurse, d.w.a, &count(964.0))
        .await
        .unwrap_err();
    assert_eq!(fields(&r), ["note"]);
    let recs = stock::reconcile(app, &d.nurse, d.w.a, &count(965.0))
        .await
        .unwrap();
    assert_eq!(recs[0].variance_ug, 0);
    // Counted once a day per lot.
    let r = stock::reconcile(app, &d.nurse, d.w.a, &count(965.0)).await;
    assert!(matches!(r, Err(Error::Conflict(_))), "{r:?}");
    // The counter cannot co-sign; a second person can, once.
    let r = stock::cosign(app, &d.nurse, &recs[0].id).await;
    assert!(matches!(r, Err(Error::Conflict(_))), "{r:?}");
    stock::cosign(app, &d.prescriber, &recs[0].id)
        .await
        .unwrap();
    let r = stock::cosign(app, &d.prescriber, &recs[0].id).await;
    assert!(matches!(r, Err(Error::Conflict(_))), "{r:?}");
    let day = stock::stock_day(app, &d.nurse, d.w.a, None).await.unwrap();
    assert!(day.balanced, "{day:?}");
    assert_eq!(day.lots[0].signatures.len(), 2);
    // The database refuses rewriting a reconciliation.
    for sql in [
        "UPDATE reconciliation SET counted_ug = 0",
        "DELETE FROM reconciliation_signature",
        "UPDATE stock_movement SET amount_ug = 1",
    ] {
        assert!(d.w.db.exec_raw(sql).await.is_err(), "{sql}");
    }
});

both!(
    overdose_response_reaches_the_worklist_and_the_sweep_suspends,
    |db| {
        use carepath_app::overdose::{self, KitInput, NaloxoneDose, OverdoseInput};
        use carepath_app::takehome::{self, AssessInput};
        let d = desk(db).await;
        let (app, pid) = (&d.app, d.w.patient_a);
        dosing::create_order(app, &d.prescriber, pid, &methadone(30.0, "induction"))
            .await
            .unwrap();
        dose_days(&d, 16).await;
        takehome::assess(
            app,
            &d.prescriber,
            pid,
            &AssessInput {
                criteria: all_met("federal-2024"),
                doses_granted: 1,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        // An overdose in the parking lot, two naloxone sprays.
        let now = carepath_app::fmt::rfc3339(d.clock.now_us() - 600_000_000);
        let spray = |at: &str| NaloxoneDose {
            product: "Naloxone nasal spray 4 mg".into(),
            dose_mg: 4.0,
            route: "intranasal".into(),
            at: at.into(),
        };
        let bad = OverdoseInput {
            occurred_at: now.clone(),
            naloxone: vec![spray(&now)],
            breathing_support: "rescue_breathing".into(),
            vitals: "RR 6, SpO2 82%".into(),
            ems_called: true,
            transported: false,
            outcome: "flew away".into(),
            note: None,
        };
        let r = overdose::record(app, &d.nurse, pid, &bad)
            .await
            .unwrap_err();
        assert_eq!(fields(&r), ["outcome"]);
        overdose::record(
            app,
            &d.nurse,
            pid,
            &OverdoseInput {
                naloxone: vec![spray(&now), spray(&now)],
                outcome: "recovered_on_site".into(),
                ..bad
            },
        )
        .await
        .unwrap();
        let wl = carepath_app::work::worklist(app, &d.prescriber)
            .await
            .unwrap();
        let what: Vec<&str> = wl.dosing.iter().map(|i| i.what.as_str()).collect();
        assert!(
            what.iter()
                .any(|w| w.starts_with("Review after an overdose")),
            "{what:?}"
        );
        assert!(
            what.iter()
                .any(|w| w.starts_with("Overdose-risk education")),
            "{what:?}"
        );
        let panel = dosing::panel(app, &d.nurse, pid).await.unwrap();
        assert!(
            panel.alerts.iter().any(|a| a.starts_with("overdose on")),
            "{:?}",
            panel.alerts
        );
        // Education with a kit clears the nurse's item.
        overdose::give_kit(
            app,
            &d.nurse,
            d.w.a,
            &KitInput {
                patient_id: Some(pid.to_string()),
                recipient: "patient".into(),
                product: "Naloxone nasal spray 4 mg".into(),
                quantity: 2,
                lot: None,
                education: true,
            },
        )
        .await
        .unwrap();
        let wl = carepath_app::work::worklist(app, &d.nurse).await.unwrap();
        assert!(
            !wl.dosing
                .iter()
                .any(|i| i.what.starts_with("Overdose-risk")),
            "{:?}",
            wl.dosing
        );
        // Six clinic days away: the sweep applies the missed-dose rule, suspends the
        // take-homes once, and the prescriber's worklist names the patient.
        d.clock.advance(6 * DAY_US);
        let who = Principal::system("missed-dose sweep");
        let r = dosing::missed_dose_sweep(app, &who).await.unwrap();
        let mine = r.iter().find(|x| x.missed > 0).unwrap();
        assert_eq!((mine.prescriber, mine.suspended), (1, 1));
        let r = dosing::missed_dose_sweep(app, &who).await.unwrap();
        assert_eq!(r.iter().map(|x| x.suspended).sum::<usize>(), 0);
        let wl = carepath_app::work::worklist(app, &d.prescriber)
            .await
            .unwrap();
        let what: Vec<&str> = wl.dosing.iter().map(|i| i.what.as_str()).collect();
        assert!(
            what.iter().any(|w| w.starts_with("Missed doses (6 days)")),
            "{what:?}"
        );
        assert!(
            what.iter().any(|w| w.starts_with("Take-homes suspended")),
            "{what:?}"
        );
        let panel = dosing::panel(app, &d.nurse, pid).await.unwrap();
        assert!(panel.takehomes_due.is_empty());
        // The director's outcomes count the same: 22 patient-days due (the
        // admission day to yesterday), 16 dosed, 6 missed; the overdose and
        // the two kits; the admission dosed the same day.
        let o = carepath_app::dashboard::outcomes(app, &d.nurse, Some(d.w.a))
            .await
            .unwrap();
        let sum = |f: &dyn Fn(&carepath_app::dashboard::Month) -> i64| -> i64 {
            o[0].months.iter().map(f).sum()
        };
        assert_eq!(sum(&|m| m.due_days), 22, "{:?}", o[0].months);
        assert_eq!(sum(&|m| m.covered_days), 16);
        assert_eq!(sum(&|m| m.doses), 16);
        assert!(sum(&|m| m.dosed_patients) >= 1);
        assert_eq!((sum(&|m| m.overdoses), sum(&|m| m.naloxone_kits)), (1, 2));
        // The rollups the dashboard reads say what the rows say.
        let tz = jiff::tz::TimeZone::get("America/Chicago").unwrap();
        let w = carepath_app::dashboard::Window::last_months(d.clock.now_us(), &tz, 2);
        let (from, to) = (w.first_day.to_string(), w.today.to_string());
        let yesterday = w.today.yesterday().unwrap().to_string();
        let store = d.w.store();
        assert_eq!(
            store
                .dashboard_doses(d.w.a, &from, &to, &yesterday)
                .await
                .unwrap(),
            store
                .dashboard_doses_from_rows(d.w.a, &from, &to, &yesterday)
                .await
                .unwrap()
        );
        let t: Vec<_> = o[0].timing.iter().filter(|t| t.admissions > 0).collect();
        assert_eq!((t.len(), t[0].dosed, t[0].from_call), (1, 1, 0));
        assert!(t[0].admission_to_first_dose_h.unwrap() < 1.0, "{t:?}");
        // Counts are for the program's staff: not for another program's.
        let other =
            Principal::system_for("t", d.w.user(Role::Nurse).0, "Other", Role::Nurse, d.w.b);
        assert!(matches!(
            carepath_app::dashboard::outcomes(app, &other, Some(d.w.a)).await,
            Err(Error::Forbidden(_))
        ));
    }
);

// A nurse who finds the patient sedated holds the dose — a replacement dose
// too — until the hold is lifted with a reason; an administrative hold lasts
// past the day; nothing of it is deleted.
both!(a_hold_stops_the_dose_until_lifted, |db| {
    use carepath_app::window::{self, HoldInput};
    let d = desk(db).await;
    let (app, pid) = (&d.app, d.w.patient_a);
    dosing::create_order(app, &d.prescriber, pid, &methadone(30.0, "induction"))
        .await
        .unwrap();
    let r = window::place_hold(
        app,
        &d.nurse,
        pid,
        &HoldInput {
            kind: "sedation".into(),
            reason: "x".into(),
        },
    )
    .await
    .unwrap_err();
    assert_eq!(fields(&r), ["reason"]);
    let hold = window::place_hold(
        app,
        &d.nurse,
        pid,
        &HoldInput {
            kind: "sedation".into(),
            reason: "nodding off, pinpoint pupils".into(),
        },
    )
    .await
    .unwrap();
    let panel = dosing::panel(app, &d.nurse, pid).await.unwrap();
    assert!(
        panel.holds[0].starts_with("Sedated at the window: nodding off"),
        "{:?}",
        panel.holds
    );
    for input in [
        DoseInput::default(),
        DoseInput {
            kind: Some("exception".into()),
            amount_mg: Some(30.0),
            reason: Some("spilled the cup".into()),
            ..Default::default()
        },
    ] {
        let r = dosing::record_dose(app, &d.nurse, pid, &input).await;
        assert!(
            matches!(&r, Err(Error::Conflict(m)) if m.contains("on hold") && m.contains("nodding off")),
            "{r:?}"
        );
    }
    // Re-assessed at noon: lifted with a reason, then dosed; lifting twice is refused.
    window::lift_hold(app, &d.nurse, pid, &hold, "alert and oriented at 12:00")
        .await
        .unwrap();
    let r = window::lift_hold(app, &d.nurse, pid, &hold, "again for the record").await;
    assert!(matches!(r, Err(Error::Conflict(_))), "{r:?}");
    dosing::record_dose(app, &d.nurse, pid, &DoseInput::default())
        .await
        .unwrap();
    // An administrative hold stays until lifted, the next day too.
    let admin_hold = window::place_hold(
        app,
        &d.nurse,
        pid,
        &HoldInput {
            kind: "administrative".into(),
            reason: "identity not confirmed: photo does not match".into(),
        },
    )
    .await
    .unwrap();
    d.clock.advance(DAY_US);
    let r = dosing::record_dose(app, &d.nurse, pid, &DoseInput::default()).await;
    assert!(matches!(r, Err(Error::Conflict(_))), "{r:?}");
    window::lift_hold(
        app,
        &d.nurse,
        pid,
        &admin_hold,
        "identity confirmed with ID card",
    )
    .await
    .unwrap();
    dosing::record_dose(app, &d.nurse, pid, &DoseInput::default())
        .await
        .unwrap();
    let holds = window::holds(app, &d.nurse, pid).await.unwrap();
    assert_eq!(holds.len(), 2);
    assert!(holds.iter().all(|h| h.released_at.is_some()));
    let r = d.w.db.exec_raw("DELETE FROM dosing_hold").await;
    assert!(r.is_err(), "holds are never deleted");
});

// The queue: arrivals in order; two windows calling at once never get the
// same person; those dosed leave the queue.
both!(windows_call_the_queue_in_order_and_never_twice, |db| {
    use carepath_app::registration;
    use carepath_app::window;
    let d = desk(db).await;
    let app = &d.app;
    let mut patients = vec![d.w.patient_a];
    for i in 0..9 {
        let p = registration::register(
            app,
            &system(),
            &registration::Registration {
                program_id: d.w.a.to_string(),
                legal_first_name: format!("Q{i}"),
                legal_last_name: "Queue".into(),
                date_of_birth: "1980-01-02".into(),
                sex: "male".into(),
                admit_level: Some("opioid_treatment_program".into()),
                confirm_new: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        patients.push(p.id);
    }
    for (k, p) in patients.iter().enumerate() {
        dosing::create_order(app, &d.prescriber, *p, &methadone(30.0, "induction"))
            .await
            .unwrap();
        assert_eq!(window::arrive(app, &d.nurse, *p).await.unwrap(), 1);
        d.clock.advance(1_000_000 + k as i64);
    }
    let r = window::arrive(app, &d.nurse, patients[0]).await;
    assert!(
        matches!(&r, Err(Error::Conflict(m)) if m.contains("already waiting")),
        "{r:?}"
    );
    let q = window::queue(app, &d.nurse, d.w.a).await.unwrap();
    assert_eq!(q.waiting.len(), 10);
    assert_eq!(q.waiting[0].patient_id, patients[0].to_string());
    let r = window::call_next(app, &d.nurse, d.w.a, "  ")
        .await
        .unwrap_err();
    assert_eq!(fields(&r), ["window"]);
    // Twenty presses of "Call next" from four windows at once: ten calls,
    // ten different people, the rest told nobody is waiting.
    let mut tasks = vec![];
    for i in 0..20 {
        let (app, nurse) = (app.clone(), d.nurse.clone());
        let program = d.w.a;
        tasks.push(tokio::spawn(async move {
            window::call_next(&app, &nurse, program, &format!("{}", i % 4 + 1)).await
        }));
    }
    let mut called = vec![];
    for t in tasks {
        match t.await.unwrap() {
            Ok(p) => called.push(p),
            Err(Error::Conflict(m)) => assert!(m.contains("nobody is waiting"), "{m}"),
            Err(e) => panic!("{e:?}"),
        }
    }
    called.sort();
    called.dedup();
    assert_eq!(called.len(), 10, "each person called once");
    let q = window::queue(app, &d.nurse, d.w.a).await.unwrap();
    assert!(q.waiting.is_empty());
    assert_eq!(q.at_windows.len(), 10);
    // Dosed people leave the queue.
    dosing::record_dose(app, &d.nurse, patients[3], &DoseInput::default())
        .await
        .unwrap();
    let q = window::queue(app, &d.nurse, d.w.a).await.unwrap();
    assert_eq!(q.at_windows.len(), 9);
    assert!(
        q.at_windows
            .iter()
            .all(|r| r.patient_id != patients[3].to_string())
    );
});

/// A formulary product and a lot of it in program A.
async fn stock_of(d: &Desk, medication: &str, form: &str, name: &str, strength: f64, amount: f64) {
    let product = dosing::add_product(
        &d.app,
        &system(),
        d.w.a,
        &ProductInput {
            medication: medication.into(),
            form: form.into(),
            name: name.into(),
            strength_mg: strength,
        },
    )
    .await
    .unwrap();
    dosing::receive(
        &d.app,
        &d.nurse,
        d.w.a,
        &ReceiptInput {
            product_id: product,
            lot: format!("{name}-L1"),
            expires_on: Some("2027-11-30".into()),
            amount_mg: amount,
        },
    )
    .await
    .unwrap();
}

both!(long_acting_injections_follow_the_label_intervals, |db| {
    let d = desk(db).await;
    let (app, pid) = (&d.app, d.w.patient_a);
    stock_of(
        &d,
        "buprenorphine",
        "sublingual_film",
        "Bup-nx film 8 mg",
        8.0,
        400.0,
    )
    .await;
    stock_of(
        &d,
        "buprenorphine",
        "injection_xr",
        "Sublocade 300 mg",
        300.0,
        3000.0,
    )
    .await;
    let xr = |dose: f64| OrderInput {
        medication: "buprenorphine".into(),
        form: "injection_xr".into(),
        phase: "maintenance".into(),
        dose_mg: dose,
        ..Default::default()
    };
    // No transmucosal buprenorphine on record: the first injection waits
    // (the prescriber may override with a reason).
    let e = dosing::create_order(app, &d.prescriber, pid, &xr(300.0))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("transmucosal"), "{e}");
    // A strength no product comes in is refused outright, override or not.
    let e = dosing::create_order(
        app,
        &d.prescriber,
        pid,
        &OrderInput {
            override_reason: Some("the patient asked for a middle dose".into()),
            ..xr(150.0)
        },
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("100, 300 mg"), "{e}");
    // A dose of sublingual buprenorphine here first, then the first 300 mg.
    dosing::create_order(
        app,
        &d.prescriber,
        pid,
        &OrderInput {
            medication: "buprenorphine".into(),
            form: "sublingual_film".into(),
            phase: "maintenance".into(),
            dose_mg: 8.0,
            days_on_medication: Some(10),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    dosing::record_dose(app, &d.nurse, pid, &DoseInput::default())
        .await
        .unwrap();
    d.clock.advance(DAY_US);
    dosing::create_order(app, &d.prescriber, pid, &xr(300.0))
        .await
        .unwrap();
    let panel = dosing::panel(app, &d.nurse, pid).await.unwrap();
    assert_eq!(panel.due_mg, Some(300.0));
    assert!(
        panel.alerts.iter().any(|a| a.contains("first injection")),
        "{:?}",
        panel.alerts
    );
    assert!(panel.takehomes_due.is_empty());
    dosing::record_dose(app, &d.nurse, pid, &DoseInput::default())
        .await
        .unwrap();
    // Day 20 after it: too early (the label's 26 days), a hold that refuses.
    d.clock.advance(20 * DAY_US);
    let panel = dosing::panel(app, &d.nurse, pid).await.unwrap();
    assert!(
        panel.holds.iter().any(|h| h.contains("at least 26 days")),
        "{:?}",
        panel.holds
    );
    assert_eq!(panel.missed_days, 0, "no daily dose is due");
    assert!(
        panel.missed_rule.is_none(),
        "no daily missed-dose rule for an injection"
    );
    let r = dosing::record_dose(app, &d.nurse, pid, &DoseInput::default()).await;
    assert!(matches!(r, Err(Error::Conflict(_))), "{r:?}");
    // Day 27: may be given, due on day 28.
    d.clock.advance(7 * DAY_US);
    let panel = dosing::panel(app, &d.nurse, pid).await.unwrap();
    assert!(panel.holds.is_empty(), "{:?}", panel.holds);
    assert!(
        panel.alerts.iter().any(|a| a.contains("injection due")),
        "{:?}",
        panel.alerts
    );
    // Day 40: late, and says so.
    d.clock.advance(13 * DAY_US);
    let panel = dosing::panel(app, &d.nurse, pid).await.unwrap();
    assert!(
        panel.alerts.iter().any(|a| a.contains("late by 12 days")),
        "{:?}",
        panel.alerts
    );
    dosing::record_dose(app, &d.nurse, pid, &DoseInput::default())
        .await
        .unwrap();
});

both!(naltrexone_starts_only_when_opioid_free, |db| {
    let d = desk(db).await;
    let (app, pid) = (&d.app, d.w.patient_a);
    stock_of(
        &d,
        "naltrexone",
        "injection_xr",
        "Vivitrol 380 mg",
        380.0,
        3800.0,
    )
    .await;
    // Methadone dosed here today.
    dosing::create_order(app, &d.prescriber, pid, &methadone(30.0, "induction"))
        .await
        .unwrap();
    dosing::record_dose(app, &d.nurse, pid, &DoseInput::default())
        .await
        .unwrap();
    let vivitrol = |last_use: &str| OrderInput {
        medication: "naltrexone".into(),
        form: "injection_xr".into(),
        phase: "maintenance".into(),
        dose_mg: 380.0,
        last_opioid: Some("heroin".into()),
        last_opioid_use: Some(last_use.into()),
        urine_opioid_negative: Some(true),
        naloxone_challenge: Some("negative".into()),
        ..Default::default()
    };
    // Three days later, claiming heroin a month ago: the methadone dose
    // recorded here counts, and two weeks after methadone are required.
    d.clock.advance(3 * DAY_US);
    let e = dosing::create_order(app, &d.prescriber, pid, &vivitrol("2020-01-01"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("of 14 required"), "{e}");
    // Without a typed day of last use the recorded methadone dose decides.
    let e = dosing::create_order(
        app,
        &d.prescriber,
        pid,
        &OrderInput {
            last_opioid_use: None,
            ..vivitrol("")
        },
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("of 14 required"), "{e}");
    // Fifteen days after the last methadone dose it starts.
    d.clock.advance(12 * DAY_US);
    let (o, verdict) = dosing::create_order(app, &d.prescriber, pid, &vivitrol("2020-01-01"))
        .await
        .unwrap();
    assert_eq!(
        (o.medication.as_str(), o.form.as_str()),
        ("naltrexone", "injection_xr")
    );
    assert!(
        verdict["alerts"].to_string().contains("naloxone"),
        "{verdict}"
    );
    let panel = dosing::panel(app, &d.nurse, pid).await.unwrap();
    assert_eq!(panel.due_mg, Some(380.0));
    dosing::record_dose(app, &d.nurse, pid, &DoseInput::default())
        .await
        .unwrap();
    // Five weeks later the blockade has worn off: the panel warns.
    d.clock.advance(37 * DAY_US);
    let panel = dosing::panel(app, &d.nurse, pid).await.unwrap();
    assert!(
        panel.alerts.iter().any(|a| a.contains("offer naloxone")),
        "{:?}",
        panel.alerts
    );
});

both!(
    the_panel_says_pregnant_and_dosing_does_not_wait_for_it,
    |db| {
        let d = desk(db).await;
        let (app, pid) = (&d.app, d.w.patient_a);
        dosing::create_order(app, &d.prescriber, pid, &methadone(30.0, "induction"))
            .await
            .unwrap();
        let last_use = jiff::Timestamp::from_microsecond(d.clock.now_us() - 10 * 3_600_000_000)
            .unwrap()
            .to_string();
        let input = carepath_app::kinds::Input::from_json(
        carepath_app::kinds::Kind::Assessment,
        serde_json::json!({
            "substances": [{"code": 5, "route": 4, "frequency": 3, "age_first_use": 19}],
            "last_opioid": "heroin",
            "last_use_at": last_use,
            "prior_treatment_episodes": 0,
            "overdoses_lifetime": 0,
            "dsm5": ["A1","A2","A3","A4","A5","A6"],
            "dimensions": {"withdrawal": 3, "biomedical": 1, "emotional_behavioral": 1, "readiness": 2, "relapse": 3, "recovery_environment": 2},
            "cows": 12,
            "pregnancy": "pregnant",
            "due_date": "2027-04-20",
            "placement": {"accept": true}
        }),
    )
    .unwrap();
        chart::create(app, &d.nurse, pid, &input).await.unwrap();
        let panel = dosing::panel(app, &d.nurse, pid).await.unwrap();
        assert!(
            panel
                .alerts
                .iter()
                .any(|a| a.starts_with("pregnant, due 2027-04-20") && a.contains("TIP 63")),
            "{:?}",
            panel.alerts
        );
        // An alert informs; it does not stop the dose.
        assert!(panel.holds.is_empty(), "{:?}", panel.holds);
        dosing::record_dose(app, &d.nurse, pid, &DoseInput::default())
            .await
            .unwrap();
    }
);

both!(a_long_qtc_on_the_order_shows_at_the_window, |db| {
    let d = desk(db).await;
    let (app, pid) = (&d.app, d.w.patient_a);
    dosing::create_order(
        app,
        &d.prescriber,
        pid,
        &OrderInput {
            qtc_ms: Some(470),
            ..methadone(30.0, "induction")
        },
    )
    .await
    .unwrap();
    let panel = dosing::panel(app, &d.nurse, pid).await.unwrap();
    assert!(
        panel
            .alerts
            .iter()
            .any(|a| a.starts_with("ECG: QTc 470 ms")),
        "{:?}",
        panel.alerts
    );
    assert!(panel.holds.is_empty());
});

// A program that asks three weeks off long-acting opioids before naltrexone
// (its dosing settings): fifteen days after methadone is still too soon,
// twenty-two days is not. Bad numbers are refused by name; only a program
// administrator changes them.
both!(naltrexone_waits_as_long_as_the_program_says, |db| {
    let d = desk(db).await;
    let (app, pid) = (&d.app, d.w.patient_a);
    let admin = carepath_testkit::signed_in(app, d.w.user(Role::Admin).1, true).await;
    let mut s = carepath_app::takehome::settings(app, d.w.a).await.unwrap();
    assert_eq!(
        s.naltrexone_free_days.long_acting, 14,
        "the label's two weeks by default"
    );
    s.phone = "(410) 555-0100".into();
    s.naltrexone_free_days.long_acting = 45;
    let e = carepath_app::takehome::save_settings(app, &admin, d.w.a, &s)
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("naltrexone_free_days.long_acting"),
        "{e}"
    );
    s.naltrexone_free_days.long_acting = 21;
    assert!(
        carepath_app::takehome::save_settings(app, &d.nurse, d.w.a, &s)
            .await
            .is_err()
    );
    carepath_app::takehome::save_settings(app, &admin, d.w.a, &s)
        .await
        .unwrap();
    assert_eq!(
        carepath_app::takehome::settings(app, d.w.a)
            .await
            .unwrap()
            .naltrexone_free_days
            .long_acting,
        21
    );
    stock_of(&d, "naltrexone", "tablet", "Naltrexone 50 mg", 50.0, 5000.0).await;
    dosing::create_order(app, &d.prescriber, pid, &methadone(30.0, "induction"))
        .await
        .unwrap();
    dosing::record_dose(app, &d.nurse, pid, &DoseInput::default())
        .await
        .unwrap();
    let oral = OrderInput {
        medication: "naltrexone".into(),
        form: "tablet".into(),
        phase: "maintenance".into(),
        dose_mg: 50.0,
        last_opioid: Some("methadone".into()),
        urine_opioid_negative: Some(true),
        naloxone_challenge: Some("negative".into()),
        ..Default::default()
    };
    d.clock.advance(15 * DAY_US);
    let e = dosing::create_order(app, &d.prescriber, pid, &oral)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("of 21 required"), "{e}");
    d.clock.advance(7 * DAY_US);
    dosing::create_order(app, &d.prescriber, pid, &oral)
        .await
        .unwrap();
});
