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
    // The queue: checked in, called to window 2, the panel opens there.
    let r = nurse
        .post(format!("{base}/dosing/{pid}/arrive"))
        .form(&[("window", "2")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let desk = get_text(&nurse, format!("{base}/dosing?program={}", w.a)).await;
    assert!(desk.contains("Queue: 1 waiting"), "{desk}");
    let r = nurse
        .post(format!("{base}/dosing/call"))
        .form(&[("program", w.a.to_string()), ("window", "2".into())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        r.headers()["location"].to_str().unwrap(),
        format!("/dosing/{pid}?window=2")
    );
    let desk = get_text(&nurse, format!("{base}/dosing?program={}", w.a)).await;
    assert!(
        desk.contains("Queue: 0 waiting") && desk.contains("Window 2"),
        "{desk}"
    );
    // A hold from the panel: no dose button until it is lifted.
    let r = nurse
        .post(format!("{base}/dosing/{pid}/holds"))
        .form(&[
            ("kind", "intoxication"),
            ("reason", "smells of alcohol, unsteady"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let page = get_text(&nurse, format!("{base}/dosing/{pid}")).await;
    assert!(
        page.contains("Do not dose") && !page.contains("Dose 30 mg"),
        "{page}"
    );
    let r = nurse
        .post(format!("{base}/dosing/{pid}/holds"))
        .form(&[("kind", "intoxication"), ("reason", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.unwrap().contains("reason"));
    let hold = carepath_app::window::holds(&w.app, &w.principal(Role::Nurse).await, pid)
        .await
        .unwrap()
        .remove(0);
    let r = nurse
        .post(format!("{base}/dosing/{pid}/holds/{}/lift", hold.id))
        .form(&[("reason", "breathalyser 0.00 at 08:30")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let page = get_text(&nurse, format!("{base}/dosing/{pid}?window=2")).await;
    assert!(page.contains("Dose 30 mg (lot L-1)"), "{page}");
    assert!(page.contains("lifted by"), "{page}");
    // The same over the JSON API the desk uses.
    let (st, e) = post_json(
        &nurse,
        format!("{base}/api/v1/patients/{pid}/arrivals"),
        serde_json::json!({}),
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT, "{e}");
    assert!(e.to_string().contains("already called to window 2"), "{e}");
    let q = get_json(&nurse, format!("{base}/api/v1/programs/{}/queue", w.a)).await;
    assert_eq!(q["at_windows"][0]["window"], "2", "{q}");
    let (st, e) = post_json(
        &nurse,
        format!("{base}/api/v1/programs/{}/queue/call", w.a),
        serde_json::json!({"window": "3"}),
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT, "{e}");
    let holds = format!("{base}/api/v1/patients/{pid}/dosing-holds");
    let (st, e) = post_json(
        &nurse,
        holds.clone(),
        serde_json::json!({"kind": "asleep", "reason": "nodding off"}),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["error"]["field"], "kind");
    let (st, v) = post_json(
        &nurse,
        holds.clone(),
        serde_json::json!({"kind": "sedation", "reason": "nodding off at the window"}),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let hid = v["id"].as_str().unwrap().to_string();
    let (st, e) = post_json(
        &nurse,
        format!("{base}/api/v1/patients/{pid}/doses"),
        serde_json::json!({}),
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT, "{e}");
    let lift = format!("{holds}/{hid}/lift");
    let (st, _) = post_json(
        &nurse,
        lift.clone(),
        serde_json::json!({"reason": "awake and talking at 09:10"}),
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, _) = post_json(
        &nurse,
        lift,
        serde_json::json!({"reason": "awake and talking at 09:10"}),
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT);
    let list = get_json(&nurse, holds).await;
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
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

carepath_testkit::both!(take_homes_labels_reconciliation_and_overdose_pages, |db| {
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
    let (_, v) = post_json(
        &admin,
        format!("{base}/api/v1/programs/{}/products", w.a),
        serde_json::json!({"medication": "methadone", "form": "oral_liquid", "name": "Methadone 10 mg/mL", "strength_mg": 10}),
    )
    .await;
    let product = v["id"].as_str().unwrap().to_string();
    let (_, v) = post_json(
        &nurse,
        format!("{base}/api/v1/programs/{}/stock/lots", w.a),
        serde_json::json!({"product_id": product, "lot": "L-7", "amount_mg": 500}),
    )
    .await;
    let lot = v["id"].as_str().unwrap().to_string();
    let r = admin
        .put(format!("{base}/api/v1/programs/{}/dosing-settings", w.a))
        .json(&serde_json::json!({"takehome_policy": "federal-2024", "verbal_cosign_hours": 24, "phone": "(410) 555-0100"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (st, _) = post_json(
        &prescriber,
        format!("{base}/api/v1/patients/{pid}/medication-orders"),
        serde_json::json!({"medication": "methadone", "form": "oral_liquid", "phase": "induction", "dose_mg": 30}),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED);
    // The prescriber's decision on the form: 8 doses on day 1 are refused
    // (7 allowed in the first 14 days), 2 with every criterion met pass.
    let criteria = [
        "no_active_substance_use",
        "regular_attendance",
        "no_serious_behavior_problems",
        "no_recent_diversion",
        "safe_transport_and_storage",
        "other_criteria_met",
    ];
    let mut form: Vec<(String, String)> = criteria
        .iter()
        .map(|c| (format!("criteria.{c}"), "true".to_string()))
        .collect();
    form.push(("doses_granted".into(), "8".into()));
    let r = prescriber
        .post(format!("{base}/dosing/{pid}/takehome"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("doses_granted"));
    form.pop();
    form.push(("doses_granted".into(), "2".into()));
    let r = prescriber
        .post(format!("{base}/dosing/{pid}/takehome"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // A nurse cannot decide.
    let r = nurse
        .post(format!("{base}/dosing/{pid}/takehome"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // The panel says two bottles are due; the nurse doses, hands them out,
    // and the labels print with what a bottle must carry.
    let page = get_text(&nurse, format!("{base}/dosing/{pid}")).await;
    assert!(page.contains("Take-homes due today: 2 bottle(s)"), "{page}");
    nurse
        .post(format!("{base}/dosing/{pid}"))
        .form(&[("observed", "true")])
        .send()
        .await
        .unwrap();
    let r = nurse
        .post(format!("{base}/dosing/{pid}/bottles"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let labels = get_text(
        &nurse,
        format!("{base}{}", r.headers()["location"].to_str().unwrap()),
    )
    .await;
    assert_eq!(
        labels.matches("KEEP OUT OF REACH OF CHILDREN").count(),
        2,
        "{labels}"
    );
    assert!(
        labels.contains("(410) 555-0100")
            && labels.contains("30 mg (3 mL)")
            && labels.contains("lot L-7")
            && labels.contains("bottle 2 of 2"),
        "{labels}"
    );
    // The take-home calendar shows today's window dose and both bottles on
    // their days, in letters as well as colours, with a text alternative.
    let th = get_text(&nurse, format!("{base}/dosing/{pid}/takehome")).await;
    assert!(
        th.contains("Take-home calendar, six weeks")
            && th.contains(">W<")
            && th.contains(">T1<")
            && th.contains(">T2<")
            && th.contains("1 window doses, 2 take-home days"),
        "{th}"
    );
    // Diversion control: a random call-back picks among patients holding
    // bottles, when the nurse asks (a reload does not pick again).
    let page = get_text(&nurse, format!("{base}/dosing/callbacks?program={}", w.a)).await;
    assert!(
        page.contains("Pick at random now") && !page.contains("Picked just now"),
        "{page}"
    );
    let r = nurse
        .post(format!("{base}/dosing/callbacks"))
        .form(&[("program", w.a.to_string()), ("n", "3".into())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    assert!(page.contains("Picked just now (1)"), "{page}");
    assert!(
        page.contains("Testcase, Alpha") && page.contains(&format!("/dosing/{pid}/takehome")),
        "{page}"
    );
    let r = nurse
        .post(format!("{base}/dosing/callbacks"))
        .form(&[("program", w.a.to_string()), ("n", "0".into())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("how many patients to call")
    );
    // Reconciliation: the nurse counts 410 mg (500 − 30 − 2 × 30) and signs;
    // the prescriber co-signs; the day balances.
    let stock = get_text(&nurse, format!("{base}/dosing/stock?program={}", w.a)).await;
    assert!(
        stock.contains("Not yet balanced") && stock.contains("<svg"),
        "{stock}"
    );
    let r = nurse
        .post(format!("{base}/dosing/stock/reconcile"))
        .form(&[
            ("program", w.a.to_string()),
            (&format!("count.{lot}"), "410".to_string()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let day = get_json(&nurse, format!("{base}/api/v1/programs/{}/stock/day", w.a)).await;
    let rid = day["lots"][0]["reconciliation"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(day["lots"][0]["reconciliation"]["variance_ug"], 0);
    let r = nurse
        .post(format!("{base}/api/v1/reconciliations/{rid}/cosign"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let r = prescriber
        .post(format!("{base}/dosing/stock/{rid}/cosign"))
        .form(&[("program", w.a.to_string())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let stock = get_text(&nurse, format!("{base}/dosing/stock?program={}", w.a)).await;
    assert!(stock.contains("Balanced"), "{stock}");
    // An overdose recorded on the form reaches the prescriber's worklist.
    let now = (jiff::Zoned::now() - jiff::Span::new().minutes(5))
        .with_time_zone(jiff::tz::TimeZone::get("America/Chicago").unwrap())
        .strftime("%Y-%m-%dT%H:%M")
        .to_string();
    let r = nurse
        .post(format!("{base}/dosing/{pid}/overdose"))
        .form(&[
            ("occurred_at", now.as_str()),
            ("naloxone_product", "Naloxone nasal spray 4 mg"),
            ("naloxone_mg", "4"),
            ("naloxone_route", "intranasal"),
            ("naloxone_doses", "2"),
            ("breathing_support", "rescue_breathing"),
            ("vitals", "RR 6, SpO2 84%"),
            ("ems_called", "true"),
            ("outcome", "recovered_on_site"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "{}",
        r.text().await.unwrap()
    );
    let wl = get_text(&prescriber, format!("{base}/worklist")).await;
    assert!(wl.contains("Review after an overdose"), "{wl}");
});

// A nurse takes two verbal orders from the prescriber; the prescriber signs
// both from the worklist at once — each signed on its own, as from the
// dosing page — and another prescriber may not sign them.
carepath_testkit::both!(verbal_orders_are_signed_from_the_worklist_in_one_go, |db| {
    let w = World::new(db).await;
    let base = &w.base;
    let nurse = w.login(Role::Nurse).await;
    let (dr_id, _) = w.user(Role::Prescriber);
    let mut ids = vec![];
    for pid in [w.patient_a] {
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
        let (st, v) = post_json(
            &nurse,
            format!("{base}/api/v1/patients/{pid}/medication-orders"),
            serde_json::json!({"medication": "methadone", "form": "oral_liquid", "phase": "induction",
                "dose_mg": 30, "verbal_from": dr_id.to_string()}),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        ids.push(v["order"]["id"].as_str().unwrap().to_string());
    }
    // The nurse may not sign them, from the worklist or anywhere.
    let r = nurse
        .post(format!("{base}/worklist/sign-orders"))
        .form(&[("oid", ids[0].as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let dr = w.login(Role::Prescriber).await;
    let page = get_text(&dr, format!("{base}/worklist")).await;
    assert!(page.contains("Sign verbal order"), "{page}");
    assert!(page.contains("Sign all 1 verbal orders shown"), "{page}");
    let r = dr
        .post(format!("{base}/worklist/sign-orders"))
        .form(&[("oid", ids[0].as_str()), ("oid", "no-such-order")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let page = get_text(&dr, format!("{base}{loc}")).await;
    assert!(page.contains("Signed 1 of 2 verbal order(s)."), "{page}");
    assert!(!page.contains("Sign verbal order"), "nothing left: {page}");
    // Signed by the prescriber, once.
    let again = dr
        .post(format!("{base}/worklist/sign-orders"))
        .form(&[("oid", ids[0].as_str())])
        .send()
        .await
        .unwrap();
    let loc = again.headers()["location"].to_str().unwrap().to_string();
    let page = get_text(&dr, format!("{base}{loc}")).await;
    assert!(
        page.contains("Signed 0 of 1") && page.contains("already signed"),
        "{page}"
    );
});

// The director's twelve months: census, admissions and discharges as charts
// with their text (a table), retention, discharges by reason, beds.
carepath_testkit::both!(
    the_dashboard_shows_twelve_months_as_charts_and_tables,
    |db| {
        let w = World::new(db).await;
        carepath_app::chart::admit(
            &w.app,
            &system(),
            w.patient_a,
            &carepath_app::chart::AdmitInput {
                program_id: w.a.to_string(),
                level_of_care: "residential".into(),
            },
        )
        .await
        .unwrap();
        // A second level of care in the same program: the census splits.
        carepath_app::chart::admit(
            &w.app,
            &system(),
            w.patient_b,
            &carepath_app::chart::AdmitInput {
                program_id: w.a.to_string(),
                level_of_care: "opioid_treatment_program".into(),
            },
        )
        .await
        .unwrap();
        let admin = w.login(Role::Admin).await;
        let page = get_text(&admin, format!("{}/dashboard", w.base)).await;
        assert!(page.contains("the last twelve months"), "{page}");
        assert!(
            page.contains("in care at each month's end by level of care"),
            "{page}"
        );
        let levels = get_text(&admin, format!("{}/dashboard.csv?table=levels", w.base)).await;
        assert!(
            levels.starts_with("program,month,level_of_care,in_care_at_month_end"),
            "{levels}"
        );
        assert_eq!(
            levels.lines().filter(|l| l.starts_with("A,")).count(),
            2,
            "one in each level, this month: {levels}"
        );
        assert!(page.contains("<svg") && page.contains("<desc"), "{page}");
        assert!(
            page.contains("admissions and discharges by month"),
            "{page}"
        );
        assert!(
            page.contains("In care at month's end"),
            "the same as a table: {page}"
        );
        assert!(
            page.contains("Stayed at least") && page.contains("180 days"),
            "{page}"
        );
        assert!(
        page.contains("In care now at a bed-based level (withdrawal management, residential): <strong>1</strong>"),
        "{page}"
    );
        // The same tables as CSV, for a spreadsheet.
        assert!(
            page.contains("href=\"/dashboard.csv?table=months\""),
            "{page}"
        );
        let r = admin
            .get(format!("{}/dashboard.csv?table=months", w.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
        let csv = r.text().await.unwrap();
        let mut lines = csv.lines();
        assert_eq!(
            lines.next(),
            Some("program,month,in_care_at_month_end,admissions,discharges")
        );
        let rows: Vec<&str> = lines.collect();
        assert!(
            !rows.is_empty() && rows.len().is_multiple_of(12),
            "twelve months of each program: {csv}"
        );
        let now = rows.iter().rfind(|r| r.starts_with("A,")).unwrap();
        assert!(now.ends_with(",2,2,0"), "{now}");
        let retention = get_text(&admin, format!("{}/dashboard.csv?table=retention", w.base)).await;
        assert!(retention.starts_with("program,days,admitted,retained,retained_percent"));
        assert!(
            retention.lines().any(|l| l.starts_with("A,180,")),
            "{retention}"
        );
        let r = admin
            .get(format!("{}/dashboard.csv?table=secrets", w.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        // Not for an auditor (who reads the audit trail, not the program's figures).
        let auditor = w.login(Role::Auditor).await;
        let r = auditor
            .get(format!("{}/dashboard.csv?table=months", w.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }
);

// Public pages go compressed to a browser that asks; staff pages never do.
carepath_testkit::both!(public_pages_are_compressed_and_staff_pages_are_not, |db| {
    let w = World::new(db).await;
    let raw = reqwest::Client::builder().build().unwrap();
    let r = raw
        .get(format!("{}/find?near=21201", w.base))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-encoding"], "gzip");
    let css = raw
        .get(format!("{}/static/app.css", w.base))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(css.headers()["content-encoding"], "gzip");
    let admin = w.login(Role::Admin).await;
    let r = admin
        .get(format!("{}/dashboard", w.base))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().get("content-encoding").is_none());
});
