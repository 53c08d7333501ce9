//! Danger is shown (issue 12, item 10): a withdrawal entry with readings in
//! NEWS2's red band or COWS above 36 opens its summary with "Notify the
//! prescriber now", is on the worklist of the program's nurses and
//! prescribers, and leaves it when a prescriber signs it. On both databases.

use carepath_app::chart::{self, AdmitInput, SignInput};
use carepath_app::kinds::{Input, Kind};
use carepath_app::work;
use carepath_domain::authz::Role;
use carepath_testkit::{World, both, system};

fn cows(max: bool, vitals: serde_json::Value) -> Input {
    let mut items = serde_json::Map::new();
    for (name, allowed) in carepath_clinical::cows::ITEMS.iter() {
        let v = if max {
            *allowed.last().unwrap()
        } else {
            allowed[1]
        };
        items.insert(name.to_string(), v.into());
    }
    Input::from_json(
        Kind::Cows,
        serde_json::json!({"items": items, "vitals": vitals}),
    )
    .unwrap()
}

both!(dangerous_readings_reach_the_prescriber, |db| {
    let w = World::new(db).await;
    chart::admit(
        &w.app,
        &system(),
        w.patient_a,
        &AdmitInput {
            program_id: w.a.to_string(),
            level_of_care: "withdrawal_management".into(),
        },
    )
    .await
    .unwrap();
    let nurse = w.principal(Role::Nurse).await;
    let prescriber = w.principal(Role::Prescriber).await;
    // An ordinary entry raises nothing.
    chart::create(
        &w.app,
        &nurse,
        w.patient_a,
        &cows(
            false,
            serde_json::json!({"sbp": 128, "dbp": 80, "hr": 88, "spo2": 98}),
        ),
    )
    .await
    .unwrap();
    assert!(
        work::worklist(&w.app, &nurse)
            .await
            .unwrap()
            .danger
            .is_empty()
    );
    // The example: COWS 48 with SpO2 89 %, BP 88/50, T 38.6 °C.
    let (rid, _) = chart::create(
        &w.app,
        &nurse,
        w.patient_a,
        &cows(
            true,
            serde_json::json!({"sbp": 88, "dbp": 50, "temp_c": 38.6, "spo2": 89}),
        ),
    )
    .await
    .unwrap();
    for who in [&nurse, &prescriber] {
        let wl = work::worklist(&w.app, who).await.unwrap();
        assert_eq!(wl.danger.len(), 1, "{:?}", wl.danger);
        let what = &wl.danger[0].what;
        assert!(
            what.starts_with("Notify the prescriber now: COWS 48")
                && what.contains("SpO2 89%")
                && what.contains("systolic BP 88"),
            "{what}"
        );
    }
    // The nurse cannot make it go away; the prescriber's signature does.
    let r = chart::sign(&w.app, &nurse, &rid, &SignInput::default()).await;
    assert!(r.is_err(), "{r:?}");
    chart::sign(&w.app, &prescriber, &rid, &SignInput::default())
        .await
        .unwrap();
    assert!(
        work::worklist(&w.app, &nurse)
            .await
            .unwrap()
            .danger
            .is_empty()
    );
});
