//! The front door: call-back requests into the intake queue, registration from them, possible duplicates.

use super::*;

#[tokio::test]
async fn call_backs_reach_the_program_intake_queue() {
    let w = World::new(TestDb::sqlite().await).await;
    // Program A publishes a listing (intake may), so it appears in the finder with live information.
    let intake = login(&w, "u.intake", false).await;
    let form = [
        ("latitude", "39.30"),
        ("longitude", "-76.62"),
        ("phone", "(410) 555-0100"),
        ("codes", "OTP MD"),
        ("accepting", "yes"),
        ("waitlist_days", "0"),
        ("same_day", "yes"),
        ("open_beds", ""),
        ("hours", "Dosing Mon–Fri 05:30–13:00"),
    ];
    let r = intake
        .post(format!("{}/listing/{}", w.base, w.a))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let fid = carepath_web::finder::program_facility_id(w.a);
    let j: serde_json::Value = reqwest::get(format!("{}/api/v1/facilities/{fid}", w.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(j["live"]["accepting_new_patients"], true);
    assert_eq!(j["live"]["same_day_medication"], true);
    let page = client()
        .get(format!("{}/find/facility/{fid}", w.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Accepting new patients") && page.contains("Ask for a call back"));
    // The hours the program states, instead of "call to confirm".
    assert_eq!(j["live"]["hours"], "Dosing Mon–Fri 05:30–13:00");
    assert!(page.contains("Dosing Mon–Fri 05:30–13:00"), "{page}");

    // A member of the public asks for a call back.
    let public = client();
    let url = format!("{}/find/facility/{fid}/callback", w.base);
    let r = public
        .post(&url)
        .form(&[
            ("name", "Sam"),
            ("phone", "410-555-0199"),
            ("best_time", "evenings"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "consent is required"
    );
    let r = public
        .post(&url)
        .form(&[
            ("name", "Bot"),
            ("phone", "410-555-0199"),
            ("consent", "yes"),
            ("website", "http://spam"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "the honeypot gets thanks and stores nothing"
    );
    let r = public
        .post(&url)
        .form(&[
            ("name", "Sam"),
            ("phone", "410-555-0199"),
            ("best_time", "evenings"),
            ("consent", "yes"),
            ("lang", "es"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("callback-status"));
    let queue = w.store().referrals(&[w.a], true).await.unwrap();
    assert_eq!(queue.len(), 1, "one real request, none from the bot");
    assert_eq!(queue[0].language, "es");

    // A mother asks for her son: a wrong number comes back in words with
    // everything she typed; mistakes do not count against the limit.
    let mother = [
        ("for_whom", "other"),
        ("their_name", "Luis"),
        ("relation", "mother"),
        ("name", "Maria"),
        ("phone", "555-0142"),
        ("best_time", "after 6 pm"),
        ("consent", "yes"),
    ];
    for _ in 0..4 {
        let r = public.post(&url).form(&mother).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = r.text().await.unwrap();
        assert!(html.contains("10 digits"), "{html}");
        for kept in [
            "value=\"Maria\"",
            "value=\"Luis\"",
            "value=\"mother\"",
            "value=\"555-0142\"",
            "value=\"after 6 pm\"",
        ] {
            assert!(html.contains(kept), "{kept} kept: {html}");
        }
        assert!(html.contains("value=\"other\" checked"), "{html}");
    }
    let mut fixed = mother.to_vec();
    fixed[4] = ("phone", "410-555-0142");
    let r = public.post(&url).form(&fixed).send().await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "four mistakes did not lock her out"
    );
    let queue = w.store().referrals(&[w.a], true).await.unwrap();
    let luis = queue.iter().find(|q| q.phone == "410-555-0142").unwrap();
    assert_eq!(
        luis.name, "Luis",
        "the request is for the person who needs help"
    );
    assert_eq!(
        luis.note.as_deref(),
        Some("Call-back asked by someone else: Maria (mother) is calling for Luis.")
    );
    // The same number can ask three times an hour; the fourth is turned
    // back with the form kept (and the queue unchanged).
    for _ in 0..2 {
        let r = public.post(&url).form(&fixed).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    let r = public.post(&url).form(&fixed).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("already") && html.contains("value=\"Maria\""),
        "{html}"
    );
    let n = w
        .store()
        .referrals(&[w.a], true)
        .await
        .unwrap()
        .iter()
        .filter(|q| q.phone == "410-555-0142")
        .count();
    assert_eq!(n, 3);

    // Intake of program A sees, claims and closes it; front desk of program A sees it too.
    let html = get_text(&intake, format!("{}/referrals", w.base)).await;
    assert!(html.contains("Sam") && html.contains("410-555-0199"));
    assert!(
        html.contains("Maria (mother) is calling for Luis"),
        "{html}"
    );
    let id = queue
        .iter()
        .find(|q| q.name == "Sam")
        .map(|q| q.id.clone())
        .unwrap();
    assert_eq!(
        intake
            .post(format!("{}/referrals/{id}/claim", w.base))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::SEE_OTHER
    );
    let r = intake
        .post(format!("{}/referrals/{id}/close", w.base))
        .form(&[("outcome", "scheduled_intake")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        w.store()
            .referrals(&[w.a], true)
            .await
            .unwrap()
            .iter()
            .find(|q| q.id == id)
            .unwrap()
            .status,
        "closed"
    );
    // A nurse has no intake queue.
    let nurse = login(&w, "u.nurse", false).await;
    assert_eq!(
        nurse
            .get(format!("{}/referrals", w.base))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
    // Rate limit: the same address cannot flood the queue.
    let mut limited = false;
    for _ in 0..6 {
        let r = public
            .post(&url)
            .form(&[
                ("name", "Flood"),
                ("phone", "410-555-0100"),
                ("consent", "yes"),
            ])
            .send()
            .await
            .unwrap();
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = true;
        }
    }
    assert!(limited);
    let ev = w
        .store()
        .audit_events(&carepath_store::AuditFilter {
            action: Some("referral.".into()),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        ev.events
            .iter()
            .any(|e| e.event.action == "referral.create")
    );
    assert!(ev.events.iter().any(|e| e.event.action == "referral.close"));
}

#[tokio::test]
async fn a_call_back_becomes_a_registration_without_retyping() {
    let w = World::new(TestDb::sqlite().await).await;
    let r = carepath_app::model::NewReferral {
        name: "Robin".into(),
        phone: "410-555-0177".into(),
        best_time: "noon".into(),
        note: None,
        language: "en".into(),
    };
    let id = carepath_app::intake::request_callback(&w.app, w.a, &r, None)
        .await
        .unwrap();
    let intake = login(&w, "u.intake", false).await;
    let queue = get_text(&intake, format!("{}/referrals", w.base)).await;
    assert!(queue.contains(&format!("/patients/new?referral={id}")));
    let form = get_text(&intake, format!("{}/patients/new?referral={id}", w.base)).await;
    assert!(
        form.contains("value=\"Robin\"") && form.contains(&id),
        "the name comes across"
    );
    assert!(
        form.contains("value=\"410-555-0177\""),
        "and the phone number"
    );
    let r = intake
        .post(format!("{}/patients", w.base))
        .form(&[
            ("program_id", w.a.to_string()),
            ("legal_first_name", "Robin".into()),
            ("legal_last_name", "Reyes".into()),
            ("date_of_birth", "1992-03-04".into()),
            ("sex", "unknown".into()),
            ("referral", id.clone()),
            ("phone", "410-555-0177".into()),
            ("payer", "medicaid".into()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let chart = get_text(
        &intake,
        format!("{}{}", w.base, r.headers()["location"].to_str().unwrap()),
    )
    .await;
    assert!(
        chart.contains("410-555-0177") && chart.contains("Medicaid"),
        "details saved with the registration"
    );
    let closed = w.store().referrals(&[w.a], true).await.unwrap();
    assert_eq!(
        (closed[0].status.as_str(), closed[0].outcome.as_deref()),
        ("closed", Some("registered"))
    );
    // Someone without the queue cannot open a referral through the form.
    let nurse = login(&w, "u.nurse", false).await;
    assert_eq!(
        nurse
            .get(format!("{}/patients/new?referral={id}", w.base))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn possible_duplicates_are_flagged_before_registration() {
    let w = World::new(TestDb::sqlite().await).await;
    let intake = login(&w, "u.intake", false).await;
    // The world already holds "Alpha Testcase", born 1990-01-02, in program A.
    let body = serde_json::json!({"program_id": w.a.to_string(), "legal_first_name": "Alfa", "legal_last_name": "Testcase", "date_of_birth": "1990-01-02", "sex": "male"});
    let r = intake
        .post(format!("{}/api/v1/patients", w.base))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let j: serde_json::Value = r.json().await.unwrap();
    assert_eq!(j["error"]["code"], "possible_duplicate");
    assert_eq!(j["error"]["field"], "confirm_new");
    let mut confirmed = body.clone();
    confirmed["confirm_new"] = true.into();
    assert_eq!(
        intake
            .post(format!("{}/api/v1/patients", w.base))
            .json(&confirmed)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::CREATED
    );
    // The page shows the warning and the confirmation box.
    let form = [
        ("program_id", w.a.to_string()),
        ("legal_first_name", "Alpha".into()),
        ("legal_last_name", "Testcase".into()),
        ("date_of_birth", "1990-01-02".into()),
        ("sex", "male".into()),
    ];
    let html = intake
        .post(format!("{}/patients", w.base))
        .form(&form)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("duplicate-warning") && html.contains("name=\"confirm_new\""));
    // A different birthday is not flagged.
    let other = serde_json::json!({"program_id": w.a.to_string(), "legal_first_name": "Alpha", "legal_last_name": "Testcase", "date_of_birth": "1991-01-02", "sex": "male"});
    assert_eq!(
        intake
            .post(format!("{}/api/v1/patients", w.base))
            .json(&other)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::CREATED
    );
}
