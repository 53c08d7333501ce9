//! The dosing desk over HTTP: the JSON API a desk client uses, and the
//! pages a nurse uses at the window, on both databases.

use crate::*;

carepath_testkit::both!(the_window_from_order_to_dose, |db| {
    let w = World::new(db).await;
    let base = &w.base;
    let admin = w.login(Role::Admin).await;
    let prescriber = w.login(Role::Prescriber).await;
    let nurse = w.login(Role::Nurse).await;
    let pid = w.patient_a;
    carepath_app::chart::admit(
        &w.app,
        &system(),
        pid,
        &carepath_app::chart::AdmitInput {
            program_id: w.a.to_string(),
            level_of_care: "opioid_treatment_program".into(),
        },
    )
    .await
    .unwrap();
    // The formulary and a lot on the shelf.
    let (st, v) = post_json(
        &admin,
        format!("{base}/api/v1/programs/{}/products", w.a),
        serde_json::json!({"medication": "methadone", "form": "oral_liquid", "name": "Methadone 10 mg/mL", "strength_mg": 10}),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let product = v["id"].as_str().unwrap().to_string();
    let (st, v) = post_json(
        &nurse,
        format!("{base}/api/v1/programs/{}/stock/lots", w.a),
        serde_json::json!({"product_id": product, "lot": "L-1", "amount_mg": 500}),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    // The prescriber starts methadone at 30 mg; 80 mg on day 1 is refused
    // by the engine, naming the field.
    let orders = format!("{base}/api/v1/patients/{pid}/medication-orders");
    let (st, e) = post_json(
        &prescriber,
        orders.clone(),
        serde_json::json!({"medication": "methadone", "form": "oral_liquid", "phase": "induction", "dose_mg": 80}),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["error"]["field"], "dose_mg");
    let (st, v) = post_json(
        &prescriber,
        orders.clone(),
        serde_json::json!({"medication": "methadone", "form": "oral_liquid", "phase": "induction", "dose_mg": 30}),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    assert_eq!(v["engine"]["approved"], true);
    // The window: the desk lists the patient as due; the panel offers one press.
    let desk = get_text(&nurse, format!("{base}/dosing")).await;
    assert!(
        desk.contains("Testcase, Alpha") && desk.contains("due"),
        "{desk}"
    );
    let page = get_text(&nurse, format!("{base}/dosing/{pid}")).await;
    assert!(page.contains("Dose 30 mg (lot L-1)"), "{page}");
    let r = nurse
        .post(format!("{base}/dosing/{pid}"))
        .form(&[("observed", "true")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let desk = get_text(
        &nurse,
        format!("{base}{}", r.headers()["location"].to_str().unwrap()),
    )
    .await;
    assert!(
        desk.contains("30 mg given") && desk.contains("dosed at"),
        "{desk}"
    );
    // A second press the same clinic day: refused, saying when and by whom.
    let r = nurse
        .post(format!("{base}/dosing/{pid}"))
        .form(&[("observed", "true")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let t = r.text().await.unwrap();
    assert!(
        t.contains("already dosed today") && t.contains("u.nurse"),
        "{t}"
    );
    let (st, e) = post_json(
        &nurse,
        format!("{base}/api/v1/patients/{pid}/doses"),
        serde_json::json!({}),
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT, "{e}");
    // The panel and stock over the API.
    let panel = get_json(&nurse, format!("{base}/api/v1/patients/{pid}/dosing")).await;
    assert_eq!(panel["today"].as_array().unwrap().len(), 1);
    assert!(panel["next_slot"].is_null());
    let stock = get_json(&nurse, format!("{base}/api/v1/programs/{}/stock", w.a)).await;
    assert_eq!(stock["lots"][0]["balance_ug"], 470_000);
    // The dispensing log as CSV carries every element of 21 CFR 1304.24.
    let r = nurse
        .get(format!("{base}/dosing/log.csv?program={}", w.a))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = r.text().await.unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "substance,strength,dosage_form,date,time,patient_mrn,patient_name,amount_consumed_mg,amount_taken_home_mg,dispenser_initials,dispenser,lot,kind"
    );
    let row = lines.next().unwrap();
    assert!(
        row.starts_with("Methadone,10 mg/mL,Oral liquid,")
            && row.contains(",30,,")
            && row.contains("L-1,observed"),
        "{row}"
    );
    assert!(lines.next().is_none());
    let r = nurse
        .get(format!("{base}/dosing/log?program={}&from=2026-13-01", w.a))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("from"));
    // The outage list, printable and as CSV, names the patient and the dose.
    let out = get_text(&nurse, format!("{base}/dosing/outage?program={}", w.a)).await;
    assert!(
        out.contains("Testcase, Alpha") && out.contains("Methadone"),
        "{out}"
    );
    let r = nurse
        .get(format!("{base}/dosing/outage.csv?program={}", w.a))
        .send()
        .await
        .unwrap();
    let csv = r.text().await.unwrap();
    assert!(
        csv.starts_with("patient_id,name,date_of_birth,mrn,order,today_mg"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 2, "{csv}");
    // A front-desk account sees neither the desk nor the panel.
    let fd = w.login(Role::FrontDesk).await;
    let r = fd.get(format!("{base}/dosing/{pid}")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
});
