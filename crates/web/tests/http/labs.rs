//! Drug testing and the lab interface over HTTP: the patient's drug-test
//! page (collect, keep what was typed on an error, review), the day's
//! random list, the HL7 endpoint answering ACKs, the inbox, on both
//! databases.

use crate::*;

carepath_testkit::both!(drug_tests_pages_and_the_hl7_endpoint, |db| {
    let w = World::new(db).await;
    let base = &w.base;
    let nurse = w.login(Role::Nurse).await;
    let prescriber = w.login(Role::Prescriber).await;
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
    let page = format!("{base}/patients/{pid}/drug-tests");
    let html = get_text(&nurse, page.clone()).await;
    assert!(
        html.contains("Record a collection") && html.contains("No drug tests yet"),
        "{html}"
    );
    // A bad form comes back with the error in words and what was typed kept.
    let r = nurse
        .post(&page)
        .form(&[
            ("specimen", "urine"),
            ("refused", "true"),
            ("specimen_id", "KEEP-ME-1"),
            ("r_fentanyl", "positive"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("a refused collection has no results"),
        "{html}"
    );
    assert!(html.contains("value=\"KEEP-ME-1\""), "{html}");
    // A cup read at the desk: fentanyl positive needs the prescriber.
    let r = nurse
        .post(&page)
        .form(&[
            ("specimen", "urine"),
            ("observed", "true"),
            ("temperature", "in_range"),
            ("specimen_id", "CUP-77"),
            ("r_fentanyl", "positive"),
            ("r_6_mam", "negative"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let html = get_text(&nurse, page.clone()).await;
    assert!(
        html.contains("needs the prescriber") || html.contains("Needs the prescriber"),
        "{html}"
    );
    assert!(html.contains("<svg class=\"chart\""), "{html}");
    assert!(
        !html.contains("Record the review"),
        "nurses do not review: {html}"
    );
    let html = get_text(&prescriber, page.clone()).await;
    assert!(html.contains("Record the review"), "{html}");
    let wl = get_text(&prescriber, format!("{base}/worklist")).await;
    assert!(
        wl.contains("Drug tests to review") && wl.contains("fentanyl"),
        "{wl}"
    );
    // The JSON API: the same test, by analyte too.
    let v = get_json(&nurse, format!("{base}/api/v1/patients/{pid}/drug-tests")).await;
    let test_id = v["tests"][0]["test"]["id"].as_str().unwrap().to_string();
    assert_eq!(v["tests"][0]["status"], "needs_review");
    let v = get_json(
        &nurse,
        format!("{base}/api/v1/patients/{pid}/drug-results/fentanyl"),
    )
    .await;
    assert_eq!(v.as_array().unwrap().len(), 1);
    let (st, e) = post_json(
        &nurse,
        format!("{base}/api/v1/patients/{pid}/drug-tests"),
        serde_json::json!({"specimen": "urine", "results": [{"analyte": "fentanyl", "outcome": "maybe"}]}),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["error"]["field"], "results[0].outcome");
    let r = nurse
        .post(format!(
            "{base}/api/v1/patients/{pid}/drug-tests/{test_id}/review"
        ))
        .json(&serde_json::json!({"note": "seen"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = prescriber
        .post(format!("{page}/{test_id}/review"))
        .form(&[("note", "discussed; naloxone kit given")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let v = get_json(&nurse, format!("{base}/api/v1/patients/{pid}/drug-tests")).await;
    assert_eq!(v["tests"][0]["status"], "reviewed");

    // The day's random list.
    let html = get_text(&nurse, format!("{base}/drug-tests/today")).await;
    assert!(html.contains("Random drug tests"), "{html}");
    let v = get_json(
        &nurse,
        format!("{base}/api/v1/programs/{}/drug-tests/random-today", w.a),
    )
    .await;
    assert!(v["patients"].is_array(), "{v}");

    // The HL7 endpoint: text in, the ACK out; unknown patients wait in the inbox.
    let mrn = w.store().patient(pid).await.unwrap().mrn;
    let msg = |control: &str, mrn: &str, dob: &str| {
        format!(
            "MSH|^~\\&|TOXLAB|ACMELAB|CAREPATH|A|20261201083000||ORU^R01^ORU_R01|{control}|P|2.5.1\r\
             PID|1||{mrn}^^^CAREPATH^MR||Testcase^Alpha||{dob}\r\
             OBR|1|CUP-77|ACC-{control}|URDS^Urine drug screen^L|||20261201080000\r\
             OBX|1|NM|58381-5^Fentanyl confirm^LN||22|ng/mL|1||||F"
        )
    };
    let hl7 = format!("{base}/api/v1/programs/{}/lab/hl7", w.a);
    let r = nurse
        .post(&hl7)
        .body(msg("H-1", &mrn, "19900102"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["x-carepath-status"], "filed");
    let ack = r.text().await.unwrap();
    assert!(ack.contains("MSA|AA|H-1"), "{ack}");
    let r = nurse
        .post(&hl7)
        .body(msg("H-2", "ZZZ", "19900102"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-carepath-status"], "unmatched");
    let r = nurse.post(&hl7).body("MSH|^~\\&|X").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("MSA|AR"));
    let r = nurse.post(&hl7).body("").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // The confirmation attached to the desk's cup (placer CUP-77): the
    // review is open again.
    let v = get_json(&nurse, format!("{base}/api/v1/patients/{pid}/drug-tests")).await;
    assert_eq!(v["tests"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["tests"][0]["status"], "needs_review");
    // The inbox: match the waiting message to the patient.
    let html = get_text(&nurse, format!("{base}/labs/inbox")).await;
    assert!(html.contains("Waiting for a patient match (1)"), "{html}");
    let q = get_json(&nurse, format!("{base}/api/v1/programs/{}/lab/queue", w.a)).await;
    let mid = q[0]["message"]["id"].as_str().unwrap().to_string();
    let r = nurse
        .post(format!("{base}/labs/inbox/{mid}/match"))
        .form(&[
            ("program", w.a.to_string()),
            ("patient_id", pid.to_string()),
            ("reason", "".to_string()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let (st, v) = post_json(
        &nurse,
        format!("{base}/api/v1/lab/messages/{mid}/match"),
        serde_json::json!({"patient_id": pid.to_string(), "reason": "MRN typo confirmed with the lab"}),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    assert_eq!(v["results"], 1);
    let html = get_text(&nurse, format!("{base}/labs/inbox")).await;
    assert!(
        html.contains("Waiting for a patient match (0)") && html.contains("matched by"),
        "{html}"
    );
    // Policy: readable by clinicians, set only by administrators.
    let v = get_json(
        &nurse,
        format!("{base}/api/v1/programs/{}/testing-policy", w.a),
    )
    .await;
    assert_eq!(v["min_per_year"], 8);
    let r = nurse
        .put(format!("{base}/api/v1/programs/{}/testing-policy", w.a))
        .json(&serde_json::json!({"early_days": 90, "early_per_block": 4, "per_block": 2, "min_per_year": 12}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // The rewards catalog: an administrator adds items (never cash) and a
    // funding source; clinicians see the store and the patient's ledger.
    let admin = w.login(Role::Admin).await;
    let r = admin
        .post(format!("{base}/rewards/items"))
        .form(&[
            ("program", w.a.to_string().as_str()),
            ("name", "Cigarettes"),
            ("category", "grocery"),
            ("cost", "5"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("never cash, alcohol, tobacco"), "{html}");
    for (path, form) in [
        (
            "/rewards/items",
            vec![
                ("name", "Bus pass, 7 days"),
                ("category", "transport"),
                ("cost", "15"),
                ("stock", "4"),
            ],
        ),
        (
            "/rewards/funding",
            vec![("name", "County grant"), ("budget", "12000")],
        ),
    ] {
        let mut f = form.clone();
        let prog = w.a.to_string();
        f.push(("program", prog.as_str()));
        let r = admin
            .post(format!("{base}{path}"))
            .form(&f)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{path}");
    }
    let html = get_text(&admin, format!("{base}/rewards/catalog")).await;
    assert!(
        html.contains("Bus pass, 7 days") && html.contains("$15.00") && html.contains("4 in stock"),
        "{html}"
    );
    assert!(html.contains("County grant: cap $750.00"), "{html}");
    let html = get_text(&nurse, format!("{base}/rewards")).await;
    assert!(
        html.contains("Bus pass, 7 days") && html.contains("<svg class=\"chart\""),
        "{html}"
    );
    let html = get_text(&nurse, format!("{base}/patients/{pid}/incentives")).await;
    assert!(
        html.contains("Enrol in contingency management") && html.contains("County grant"),
        "{html}"
    );
    let v = get_json(&nurse, format!("{base}/api/v1/patients/{pid}/incentives")).await;
    assert_eq!(v["balance_cents"], 0);
    // The program's random-testing policy from the programs page.
    let form = format!("{base}/programs/{}/testing", w.a);
    let html = get_text(&admin, form.clone()).await;
    assert!(html.contains("42 CFR § 8.12(f)(6)"), "{html}");
    let policy = |min: &'static str| {
        vec![
            ("early_days", "60"),
            ("early_per_block", "6"),
            ("per_block", "2"),
            ("min_per_year", min),
        ]
    };
    let r = admin.post(&form).form(&policy("6")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("federal minimum"), "{html}");
    let r = admin.post(&form).form(&policy("24")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let html = get_text(&admin, format!("{base}/programs")).await;
    assert!(
        html.contains("6 a month for the first 60 days, then 3 (at least 24 a year)"),
        "{html}"
    );
});
