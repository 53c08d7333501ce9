//! FHIR R4 out (issue 15, item 1): `$everything` is a disclosure — refused
//! without a consent, in the accounting with one — and every resource it
//! carries passes an outside validator (`fhir.resources` < 7, PyPI), labelled
//! 42 CFR Part 2; the Part 2 consent round-trips through the model.

use super::*;

carepath_testkit::both!(fhir_everything_is_a_consented_disclosure_valid_r4, |db| {
    let w = World::new(db).await;
    let base = &w.base;
    let pid = w.patient_a;
    carepath_app::chart::admit(
        &w.app,
        &system(),
        pid,
        &carepath_app::chart::AdmitInput {
            program_id: w.a.to_string(),
            level_of_care: "withdrawal_management".into(),
        },
    )
    .await
    .unwrap();
    let nurse = w.login(Role::Nurse).await;
    let dr = w.login(Role::Prescriber).await;
    let rec = |k: &str| format!("{base}/api/v1/patients/{pid}/records/{k}");
    let (st, v) = post_json(&nurse, rec("assessment"), assessment_body()).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let (st, v) = post_json(&nurse, rec("cows"), serde_json::json!({
        "items": {"sweating": 1, "restlessness": 1, "pupils": 1, "bone_joint_aches": 2, "runny_nose_tearing": 1,
                  "gi_upset": 2, "tremor": 1, "yawning": 1, "anxiety_irritability": 2, "gooseflesh": 0},
        "vitals": {"sbp": 132, "dbp": 84, "hr": 96, "temp_c": 37.1, "spo2": 98, "rr": 16}})).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let (st, v) = post_json(
        &nurse,
        rec("order"),
        serde_json::json!({"medication": "clonidine", "dose_mg": 0.1, "every_h": 6, "prn": true,
            "indication": "withdrawal"}),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let order = v["id"].as_str().unwrap().to_string();
    let (st, _) = post_json(
        &dr,
        format!("{base}/api/v1/records/{order}/sign"),
        serde_json::json!({}),
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, v) = post_json(
        &nurse,
        rec("administration"),
        serde_json::json!({"order_id": order, "sbp": 124, "dbp": 78, "hr": 84, "given": true}),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let counselor = w.login(Role::Counselor).await;
    let review = jiff::Timestamp::now()
        .in_tz("America/Chicago")
        .unwrap()
        .date()
        .checked_add(jiff::Span::new().days(30))
        .unwrap()
        .to_string();
    let (st, v) = post_json(&counselor, rec("plan"), serde_json::json!({"problems": [{"problem": "Daily fentanyl use", "goal": "30 days without opioids",
        "measure": "weekly urine tests", "objectives": [{"text": "Name three triggers", "target_date": review}],
        "interventions": [{"kind": "cbt", "responsible": "u.counselor"}]}],
        "review_due": review, "patient_participated": true})).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let everything = format!("{base}/fhir/r4/Patient/{pid}/$everything");
    let recipient = "Dr. Ana Lopez, Eastside Primary Care";
    let ask = |consent: &str| serde_json::json!({"consent_id": consent, "recipient": recipient, "purpose": "coordination of care"});

    // Without a consent: refused, and nothing in the accounting.
    let (st, e) = post_json(
        &nurse,
        everything.clone(),
        ask(&uuid::Uuid::now_v7().to_string()),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{e}");
    let acc = get_json(&nurse, format!("{base}/api/v1/patients/{pid}/disclosures")).await;
    assert_eq!(acc.as_array().unwrap().len(), 0);

    // With one: a searchset bundle, in the accounting as a FHIR disclosure.
    let today = jiff::Timestamp::now()
        .in_tz("America/Chicago")
        .unwrap()
        .date();
    let (st, v) = post_json(&nurse, rec("consent"), serde_json::json!({
        "kind": "disclosure", "recipient": recipient, "information": "diagnosis, withdrawal scores, vital signs and medications (SUD treatment information)",
        "purpose": "coordination of care", "expires_on": today.checked_add(jiff::Span::new().days(90)).unwrap().to_string(),
        "signed_by": "Casey Morgan", "signed_on": today.to_string()})).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let consent = v["id"].as_str().unwrap().to_string();
    let r = nurse
        .post(&everything)
        .json(&ask(&consent))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/fhir+json");
    let bundle: serde_json::Value = r.json().await.unwrap();
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["type"], "searchset");
    let acc = get_json(&nurse, format!("{base}/api/v1/patients/{pid}/disclosures")).await;
    assert_eq!(acc.as_array().unwrap().len(), 1, "{acc}");
    assert_eq!(acc[0]["channel"], "fhir");
    assert_eq!(acc[0]["recipient"], recipient);
    assert_eq!(acc[0]["id"], bundle["id"], "the bundle is the disclosure");

    let resources: Vec<&serde_json::Value> = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .collect();
    let of = |t: &str| resources.iter().filter(|r| r["resourceType"] == t).count();
    for (t, n) in [
        ("Patient", 1),
        ("EpisodeOfCare", 1),
        ("Consent", 1),
        ("MedicationRequest", 1),
        ("MedicationAdministration", 1),
        ("CarePlan", 1),
        ("Goal", 1),
    ] {
        assert_eq!(of(t), n, "{t}: {bundle}");
    }
    assert!(of("Condition") >= 1, "the OUD diagnosis");
    // COWS and PHQ-9 scores, blood pressure, heart rate, temperature, SpO2, RR.
    assert!(of("Observation") >= 7, "{bundle}");
    // Every resource labelled 42 CFR Part 2, restricted.
    for r in &resources {
        let labels = r["meta"]["security"].to_string();
        assert!(
            labels.contains("42CFRPart2") && labels.contains("\"R\""),
            "{}: {labels}",
            r["resourceType"]
        );
    }
    let dx = resources
        .iter()
        .find(|r| r["resourceType"] == "Condition")
        .unwrap();
    assert_eq!(
        dx["code"]["coding"][0]["system"],
        "http://hl7.org/fhir/sid/icd-10-cm"
    );
    assert!(
        dx["code"]["coding"][0]["code"]
            .as_str()
            .unwrap()
            .starts_with("F11")
    );
    let bp = resources
        .iter()
        .find(|r| r["code"]["coding"][0]["code"] == "85354-9")
        .unwrap();
    assert_eq!(bp["component"][0]["valueQuantity"]["value"], 132);
    // The Part 2 consent round-trips through the R4 model unchanged.
    let c = resources
        .iter()
        .find(|r| r["resourceType"] == "Consent")
        .unwrap();
    assert_eq!(c["provision"]["type"], "permit");
    assert_eq!(
        c["provision"]["actor"][0]["reference"]["display"],
        recipient
    );
    let parsed: ::fhir::r4::resources::Resource = serde_json::from_value((*c).clone()).unwrap();
    assert_eq!(&serde_json::to_value(&parsed).unwrap(), *c);
    let plan = resources
        .iter()
        .find(|r| r["resourceType"] == "CarePlan")
        .unwrap();
    assert_eq!(plan["intent"], "plan");
    assert_eq!(plan["period"]["end"], review.as_str());
    let goal = resources
        .iter()
        .find(|r| r["resourceType"] == "Goal")
        .unwrap();
    assert_eq!(goal["description"]["text"], "30 days without opioids");
    assert_eq!(
        plan["goal"][0]["reference"],
        format!("Goal/{}", goal["id"].as_str().unwrap())
    );
    // Counseling notes never leave.
    assert!(!bundle.to_string().contains("\"Note\""));
    // Who wrote each chart-derived resource, and when: one Provenance each.
    let provs: Vec<_> = resources
        .iter()
        .filter(|r| r["resourceType"] == "Provenance")
        .collect();
    for t in [
        "Condition",
        "Consent",
        "CarePlan",
        "Goal",
        "MedicationRequest",
    ] {
        let r = resources.iter().find(|r| r["resourceType"] == t).unwrap();
        let target = format!("{t}/{}", r["id"].as_str().unwrap());
        let p = provs
            .iter()
            .find(|p| p["target"][0]["reference"] == target.as_str())
            .unwrap_or_else(|| panic!("no Provenance for {target}"));
        assert_eq!(p["activity"]["coding"][0]["code"], "CREATE");
        assert!(
            p["agent"][0]["who"]["display"]
                .as_str()
                .unwrap()
                .contains('(')
        );
        assert!(p["recorded"].as_str().unwrap().ends_with('Z'));
    }

    // Another recipient: refused (the consent names one).
    let mut other = ask(&consent);
    other["recipient"] = "Acme Insurance".into();
    let (st, _) = post_json(&nurse, everything.clone(), other).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    // Another program's patient: nothing, whatever consent is named.
    let (st, _) = post_json(
        &nurse,
        format!("{base}/fhir/r4/Patient/{}/$everything", w.patient_b),
        ask(&consent),
    )
    .await;
    assert!(matches!(st.as_u16(), 403 | 404), "{st}");

    // Search inside the program: by patient and date (an audited read, not
    // a disclosure — the accounting is unchanged).
    let today_s = jiff::Timestamp::now().to_string()[..10].to_string();
    let found = get_json(
        &nurse,
        format!("{base}/fhir/r4/Observation?patient={pid}&date=ge2000-01-01&date=le2100-01-01"),
    )
    .await;
    assert_eq!(found["type"], "searchset");
    assert_eq!(found["total"], of("Observation") as u64, "{found}");
    assert!(
        found["entry"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["resource"]["resourceType"] == "Observation"
                && e["search"]["mode"] == "match")
    );
    let none = get_json(
        &nurse,
        format!("{base}/fhir/r4/Observation?patient={pid}&date=lt2000-01-01"),
    )
    .await;
    assert_eq!(none["total"], 0);
    let todays = get_json(
        &nurse,
        format!("{base}/fhir/r4/MedicationRequest?patient=Patient/{pid}&date={today_s}"),
    )
    .await;
    assert_eq!(todays["total"], 1, "{todays}");
    let me = get_json(&nurse, format!("{base}/fhir/r4/Patient?patient={pid}")).await;
    assert_eq!(me["entry"][0]["resource"]["birthDate"], "1990-01-02");
    for (url, status) in [
        (
            format!("{base}/fhir/r4/Observation"),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            format!("{base}/fhir/r4/Observation?patient={pid}&date=soon"),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            format!("{base}/fhir/r4/Spaceship?patient={pid}"),
            StatusCode::NOT_FOUND,
        ),
    ] {
        let r = nurse.get(&url).send().await.unwrap();
        assert_eq!(r.status(), status, "{url}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .contains("json"),
            "{url}"
        );
    }
    let r = client()
        .get(format!("{base}/fhir/r4/Observation?patient={pid}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "signed out: JSON, not the sign-in page"
    );
    let r = nurse
        .get(format!(
            "{base}/fhir/r4/Observation?patient={}",
            w.patient_b
        ))
        .send()
        .await
        .unwrap();
    assert!(matches!(r.status().as_u16(), 403 | 404), "{}", r.status());
    let acc = get_json(&nurse, format!("{base}/api/v1/patients/{pid}/disclosures")).await;
    assert_eq!(
        acc.as_array().unwrap().len(),
        1,
        "a search is not a disclosure"
    );

    // The outside validator: every resource valid …
    if let Some(v) = carepath_testkit::validate_fhir(&bundle) {
        assert!(v.valid, "fhir.resources: {}", v.report);
        assert_eq!(
            v.report.lines().filter(|l| l.starts_with("ok ")).count(),
            resources.len() + 1,
            "{}",
            v.report
        );
        // … and it does refuse what is wrong: an Observation without its
        // required status, a Consent with an unknown element.
        let mut wrong = bundle.clone();
        for e in wrong["entry"].as_array_mut().unwrap().iter_mut() {
            match e["resource"]["resourceType"].as_str() {
                Some("Observation") => {
                    e["resource"].as_object_mut().unwrap().remove("status");
                }
                Some("Consent") => e["resource"]["consentColour"] = "blue".into(),
                _ => {}
            }
        }
        let v = carepath_testkit::validate_fhir(&wrong).unwrap();
        assert!(!v.valid, "{}", v.report);
        assert!(
            v.report
                .lines()
                .any(|l| l.starts_with("INVALID Observation/"))
                && v.report.lines().any(|l| l.starts_with("INVALID Consent/")),
            "{}",
            v.report
        );
    }
});
