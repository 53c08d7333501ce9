//! FHIR R4 out for an opioid treatment program's patient (issue 15, item 1),
//! on SQLite and PostgreSQL: three weeks of methadone — an induction order
//! and the titration that superseded it, a dose each clinic day, two
//! take-home bottles — plus a COWS entry, leave as MedicationRequest,
//! MedicationAdministration and MedicationDispense under a consent, and the
//! outside validator (`fhir.resources` < 7) accepts every resource.

use carepath_app::chart::{self, AdmitInput, DisclosureInput};
use carepath_app::clock::{Clock, DAY_US, ManualClock, SystemClock};
use carepath_app::dosing::{self, DoseInput, OrderInput, ProductInput, ReceiptInput};
use carepath_app::kinds::Input;
use carepath_app::takehome::{self, AssessInput};
use carepath_app::{Error, fhir};
use carepath_domain::authz::Role;
use carepath_testkit::{World, both, system};
use std::sync::Arc;

fn methadone(dose: f64, phase: &str) -> OrderInput {
    OrderInput {
        medication: "methadone".into(),
        form: "oral_liquid".into(),
        phase: phase.into(),
        dose_mg: dose,
        ..Default::default()
    }
}

both!(an_otp_patients_medication_leaves_as_valid_r4, |db| {
    let w = World::new(db).await;
    let clock = ManualClock::at(SystemClock.now_us());
    let app = w.app.clone().with_clock(Arc::new(clock.clone()));
    let pid = w.patient_a;
    chart::admit(
        &app,
        &system(),
        pid,
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
    dosing::receive(
        &app,
        &nurse,
        w.a,
        &ReceiptInput {
            product_id: product,
            lot: "M-2026-11".into(),
            expires_on: Some("2027-11-30".into()),
            amount_mg: 2000.0,
        },
    )
    .await
    .unwrap();
    dosing::create_order(&app, &prescriber, pid, &methadone(30.0, "induction"))
        .await
        .unwrap();
    for day in 0..19 {
        if day == 8 {
            dosing::create_order(&app, &prescriber, pid, &methadone(35.0, "titration"))
                .await
                .unwrap();
        }
        dosing::record_dose(&app, &nurse, pid, &DoseInput::default())
            .await
            .unwrap();
        clock.advance(DAY_US);
    }
    let criteria = carepath_clinical::policy::get("federal-2024")
        .unwrap()
        .criteria
        .iter()
        .map(|c| (c.clone(), true))
        .collect();
    takehome::assess(
        &app,
        &prescriber,
        pid,
        &AssessInput {
            criteria,
            doses_granted: 2,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    dosing::record_dose(&app, &nurse, pid, &DoseInput::default())
        .await
        .unwrap();
    let bottles = takehome::dispense(&app, &nurse, pid).await.unwrap();
    assert_eq!(bottles.len(), 2);
    // A urine drug screen: methadone positive, fentanyl negative.
    let result = |analyte: &str, outcome: &str| carepath_app::drugtest::ResultInput {
        analyte: analyte.into(),
        outcome: outcome.into(),
        method: None,
        source: None,
        value: None,
        unit: None,
        cutoff: None,
    };
    carepath_app::drugtest::collect(
        &app,
        &nurse,
        pid,
        &carepath_app::drugtest::CollectInput {
            specimen: "urine".into(),
            observed: true,
            temperature_in_range: Some(true),
            results: vec![
                result("methadone", "positive"),
                result("fentanyl", "negative"),
            ],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let today = clock.now().in_tz("America/Chicago").unwrap().date();
    let recipient = "Dr. Ana Lopez, Eastside Primary Care";
    let consent = chart::create(
        &app,
        &nurse,
        pid,
        &Input::Consent(carepath_clinical::consent::Consent {
            kind: carepath_clinical::consent::Kind::Disclosure,
            recipient: recipient.into(),
            information: "medications and doses (SUD treatment information)".into(),
            purpose: "coordination of care".into(),
            expires_on: Some(
                today
                    .checked_add(jiff::Span::new().days(90))
                    .unwrap()
                    .to_string(),
            ),
            expiry_event: None,
            signed_by: "Alex Alpha".into(),
            signed_on: today.to_string(),
        }),
    )
    .await
    .unwrap()
    .0;
    let ask = |consent: &str| DisclosureInput {
        consent_id: consent.into(),
        recipient: recipient.into(),
        purpose: "coordination of care".into(),
        channel: "print".into(),
    };
    // No consent: refused.
    let r = fhir::everything(&app, &nurse, pid, &ask("no-such-consent")).await;
    assert!(matches!(r, Err(Error::Forbidden(_))), "{r:?}");
    // The front desk is not clinical staff: refused whatever the consent.
    let desk = w.principal(Role::FrontDesk).await;
    assert!(
        fhir::everything(&app, &desk, pid, &ask(&consent))
            .await
            .is_err()
    );

    let e = fhir::everything(&app, &nurse, pid, &ask(&consent))
        .await
        .unwrap();
    let resources: Vec<serde_json::Value> = e.bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["resource"].clone())
        .collect();
    let of = |t: &str| -> Vec<&serde_json::Value> {
        resources
            .iter()
            .filter(|r| r["resourceType"] == t)
            .collect()
    };
    // Two orders, the first stopped when the titration superseded it.
    let orders = of("MedicationRequest");
    assert_eq!(orders.len(), 2, "{:?}", orders);
    let statuses: Vec<&str> = orders
        .iter()
        .map(|o| o["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["stopped", "active"]);
    assert_eq!(
        orders[1]["priorPrescription"]["reference"],
        format!("MedicationRequest/{}", orders[0]["id"].as_str().unwrap())
    );
    // Twenty doses at the window, two bottles taken home.
    let given = of("MedicationAdministration");
    assert_eq!(given.len(), 20);
    assert!(given.iter().all(|g| {
        g["request"]["reference"]
            .as_str()
            .unwrap()
            .starts_with("MedicationRequest/")
    }));
    let doses_mg: Vec<f64> = given
        .iter()
        .map(|g| g["dosage"]["dose"]["value"].as_f64().unwrap())
        .collect();
    assert!(
        doses_mg.contains(&30.0) && doses_mg.contains(&35.0),
        "{doses_mg:?}"
    );
    let bottles = of("MedicationDispense");
    assert_eq!(bottles.len(), 2);
    assert_eq!(bottles[0]["quantity"]["value"], 35);
    assert_eq!(bottles[0]["daysSupply"]["value"], 1);
    // The drug screen as laboratory Observations with LOINC and the outcome.
    let labs: Vec<&serde_json::Value> = of("Observation")
        .into_iter()
        .filter(|o| o["category"][0]["coding"][0]["code"] == "laboratory")
        .collect();
    assert_eq!(labs.len(), 2, "{labs:?}");
    let meth = labs
        .iter()
        .find(|o| o["code"]["text"].as_str().unwrap().starts_with("methadone"))
        .unwrap();
    assert_eq!(meth["code"]["coding"][0]["system"], "http://loinc.org");
    assert_eq!(
        meth["valueCodeableConcept"]["coding"][0]["display"],
        "Positive"
    );
    // Who recorded each order, dose, bottle and result, and when: one
    // Provenance each, naming the person and their part.
    let provs = of("Provenance");
    for r in orders.iter().chain(&given).chain(&bottles).chain(&labs) {
        let target = format!(
            "{}/{}",
            r["resourceType"].as_str().unwrap(),
            r["id"].as_str().unwrap()
        );
        let p = provs
            .iter()
            .find(|p| p["target"][0]["reference"] == target.as_str())
            .unwrap_or_else(|| panic!("no Provenance for {target}"));
        assert_eq!(p["activity"]["coding"][0]["code"], "CREATE");
        let who = p["agent"][0]["who"]["display"].as_str().unwrap();
        assert!(
            who.ends_with("(ordered)") || who.ends_with("(nurse)") || who.ends_with("(result)"),
            "{who}"
        );
    }
    // The accounting says FHIR, to whom.
    let s = carepath_app::access::open(
        &app,
        &nurse,
        pid,
        carepath_domain::authz::Permission::ReadClinical,
        "test",
    )
    .await
    .unwrap();
    let acc = s.disclosures(&app).await.unwrap();
    assert_eq!(acc.len(), 1);
    assert_eq!(
        (acc[0].channel.as_str(), acc[0].recipient.as_str()),
        ("fhir", recipient)
    );
    assert_eq!(acc[0].id, e.disclosure_id);

    // The outside validator accepts every resource.
    if let Some(v) = carepath_testkit::validate_fhir(&e.bundle) {
        assert!(v.valid, "{}", v.report);
        assert_eq!(
            v.report.lines().filter(|l| l.starts_with("ok ")).count(),
            resources.len() + 1,
            "{}",
            v.report
        );
    }
});
