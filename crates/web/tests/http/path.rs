//! The patient's whole path through the JSON API.

use super::*;

// Registration and admission, an assessment with a placement recommendation,
// two COWS entries, an order only a prescriber can sign, a held comfort dose,
// a group with attendance, a note signed and amended (both versions kept),
// consent-gated disclosure and its accounting, discharge with naloxone rule and
// follow-ups on the worklist.
carepath_testkit::both!(the_patients_path_through_the_api, |db| {
    let w = World::new(db).await;
    let base = &w.base;
    let intake = login(&w, "u.intake", false).await;
    let nurse = login(&w, "u.nurse", false).await;
    let counselor = login(&w, "u.counselor", false).await;
    let prescriber = login(&w, "u.prescriber", true).await;
    let front = login(&w, "u.front-desk", false).await;
    let auditor = login(&w, "u.auditor", false).await;
    // A call-back request from the finder becomes the registration.
    let (referral, pid) =
        register_from_callback(&w, &intake, "Casey", "withdrawal_management").await;
    let rec = |kind: &str| format!("{base}/api/v1/patients/{pid}/records/{kind}");
    let closed = w.store().referrals(&[w.a], true).await.unwrap();
    assert!(
        closed
            .iter()
            .any(|r| r.id == referral && r.outcome.as_deref() == Some("registered"))
    );

    // Registration details: front desk may write them; versions are kept.
    let r = front.put(format!("{base}/api/v1/patients/{pid}/profile")).json(&serde_json::json!({
        "phone": "410-555-0101", "language": "Spanish", "payer": "medicaid", "gender_identity": "woman",
        "contacts": [{"name": "Pat Morgan", "relationship": "family", "phone": "410-555-0102", "emergency": true}]
    })).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = front
        .put(format!("{base}/api/v1/patients/{pid}/profile"))
        .json(&serde_json::json!({"phone": "12"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let e: serde_json::Value = r.json().await.unwrap();
    assert_eq!(e["error"]["field"], "phone");

    // A new admission waits for its intake assessment on the worklist.
    let wl = get_json(&nurse, format!("{base}/api/v1/worklist")).await;
    assert!(
        wl["assessments_due"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["patient_id"] == pid.as_str()),
        "{wl}"
    );
    // Assessment: engine diagnosis and placement; a positive suicide answer needs follow-up.
    let mut bad = assessment_body();
    bad["phq9"] = serde_json::json!([1, 2, 1, 2, 1, 1, 0, 0, 2]);
    let (st, e) = post_json(&nurse, rec("assessment"), bad).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["error"]["field"], "suicide_followup.risk");
    let (st, v) = post_json(&nurse, rec("assessment"), assessment_body()).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    assert_eq!(v["record"]["diagnosis"]["severity"], "severe");
    assert_eq!(v["record"]["placement"]["level"], "withdrawal_management");
    assert!(
        v["record"]["recommendation"]["dimensions"]
            .as_array()
            .unwrap()
            .len()
            == 6
    );
    assert_eq!(v["record"]["phq9"]["total"], 9);
    // Unanswered is a value: a screen not done is recorded as not done,
    // never as 0; a screen answered in part is refused.
    let mut partial = assessment_body();
    partial["phq9"] = serde_json::json!([1, 2]);
    let (st, e) = post_json(&nurse, rec("assessment"), partial).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["error"]["field"], "phq9");
    let mut skipped = assessment_body();
    skipped["phq9"] = serde_json::json!([]);
    skipped.as_object_mut().unwrap().remove("gad7");
    let (st, v2) = post_json(&nurse, rec("assessment"), skipped).await;
    assert_eq!(st, StatusCode::CREATED, "{v2}");
    assert!(
        v2["record"]["phq9"].is_null() && v2["record"]["gad7"].is_null(),
        "{v2}"
    );
    assert_eq!(v2["record"]["input"]["phq9"], serde_json::json!([]));
    // The direct question: yes needs the follow-up; not asked is recorded as such.
    let mut yes = assessment_body();
    yes["suicide_question"] = serde_json::json!(true);
    let (st, e) = post_json(&nurse, rec("assessment"), yes).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["error"]["field"], "suicide_followup.risk");
    let mut unasked = assessment_body();
    unasked.as_object_mut().unwrap().remove("suicide_question");
    let (st, v3) = post_json(&nurse, rec("assessment"), unasked).await;
    assert_eq!(st, StatusCode::CREATED, "{v3}");
    assert!(v3["record"]["input"]["suicide_question"].is_null(), "{v3}");
    let mut over = assessment_body();
    over["placement"] = serde_json::json!({"accept": false, "level": "residential"});
    let (st, e) = post_json(&nurse, rec("assessment"), over).await;
    assert_eq!(
        (st, e["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("placement.reason"))
    );

    let wl = get_json(&nurse, format!("{base}/api/v1/worklist")).await;
    assert!(
        !wl["assessments_due"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["patient_id"] == pid.as_str()),
        "assessed: {wl}"
    );
    // The program's own protocol: COWS every 2 hours (administrators; ranges checked).
    let admin = login(&w, "u.admin", true).await;
    let r = admin.put(format!("{base}/api/v1/programs/{}/protocol", w.a)).json(&serde_json::json!({
        "cows_every_h": 2, "cows_severe_every_h": 3, "cows_severe_from": 25, "followup_every_days": 7, "followup_count": 12})).send().await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "severe checks cannot be rarer"
    );
    let r = admin.put(format!("{base}/api/v1/programs/{}/protocol", w.a)).json(&serde_json::json!({
        "cows_every_h": 2, "cows_severe_every_h": 1, "cows_severe_from": 25, "followup_every_days": 7, "followup_count": 12})).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        nurse
            .put(format!("{base}/api/v1/programs/{}/protocol", w.a))
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
    // Two COWS entries; the second is moderately severe → next check in an hour.
    let (st, v) = post_json(&nurse, rec("cows"), serde_json::json!({
        "items": {"sweating": 1, "restlessness": 1, "pupils": 1, "bone_joint_aches": 2, "runny_nose_tearing": 1,
                  "gi_upset": 2, "tremor": 1, "yawning": 1, "anxiety_irritability": 2, "gooseflesh": 0},
        "vitals": {"sbp": 132, "dbp": 84, "hr": 96, "temp_c": 37.1, "spo2": 98, "rr": 16}})).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    assert_eq!(v["record"]["score"]["total"], 13);
    let cows = get_json(
        &nurse,
        format!("{base}/api/v1/patients/{pid}/records?kind=cows"),
    )
    .await;
    let at: jiff::Timestamp = cows[0]["occurred_at"].as_str().unwrap().parse().unwrap();
    let due: jiff::Timestamp = cows[0]["due_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        due.duration_since(at).as_secs(),
        2 * 3600,
        "the program's 2-hour protocol"
    );
    let (st, v) = post_json(&nurse, rec("cows"), serde_json::json!({
        "items": {"pulse": 4, "sweating": 4, "restlessness": 5, "pupils": 5, "bone_joint_aches": 4, "runny_nose_tearing": 2,
                  "gi_upset": 3, "tremor": 2, "yawning": 2, "anxiety_irritability": 2, "gooseflesh": 3},
        "vitals": {"hr": 900}})).await;
    assert_eq!(
        (st, v["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("vitals.hr"))
    );
    let (st, v) = post_json(&nurse, rec("cows"), serde_json::json!({
        "items": {"pulse": 4, "sweating": 4, "restlessness": 5, "pupils": 5, "bone_joint_aches": 4, "runny_nose_tearing": 2,
                  "gi_upset": 3, "tremor": 2, "yawning": 2, "anxiety_irritability": 2, "gooseflesh": 3}})).await;
    assert_eq!(st, StatusCode::CREATED);
    assert_eq!(
        v["record"]["score"]["band"], "moderately_severe",
        "total 36"
    );

    // A COWS entry corrected through the page: both versions stay, the reason with the new one.
    let cows = get_json(
        &nurse,
        format!("{base}/api/v1/patients/{pid}/records?kind=cows"),
    )
    .await;
    let first = cows[0]["id"].as_str().unwrap().to_string();
    let form = get_text(&nurse, format!("{base}/records/{first}/amend")).await;
    assert!(
        form.contains("Correct a COWS entry") && form.contains("selected"),
        "prefilled form"
    );
    let mut fields: Vec<(String, String)> = vec![
        ("scale".into(), "cows".into()),
        ("reason".into(), "gooseflesh was misread".into()),
    ];
    for (k, v) in [
        ("pulse", "1"),
        ("sweating", "1"),
        ("restlessness", "1"),
        ("pupils", "1"),
        ("bone_joint_aches", "2"),
        ("runny_nose_tearing", "1"),
        ("gi_upset", "2"),
        ("tremor", "1"),
        ("yawning", "1"),
        ("anxiety_irritability", "2"),
        ("gooseflesh", "3"),
    ] {
        fields.push((format!("items.{k}"), v.into()));
    }
    let r = nurse
        .post(format!("{base}/records/{first}/amend"))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let cows = get_json(
        &nurse,
        format!("{base}/api/v1/patients/{pid}/records?kind=cows"),
    )
    .await;
    let versions: Vec<&serde_json::Value> = cows
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["root_id"] == first.as_str())
        .collect();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[1]["body"]["score"]["total"], 16);
    assert_eq!(versions[1]["amend_reason"], "gooseflesh was misread");
    // A nurse enters a (telephone) order: only a prescriber may sign it.
    let (st, v) = post_json(&nurse, rec("order"), serde_json::json!({
        "medication": "clonidine", "dose_mg": 0.1, "every_h": 6, "prn": true, "indication": "withdrawal"})).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let order = v["id"].as_str().unwrap().to_string();
    let (st, _) = post_json(
        &counselor,
        format!("{base}/api/v1/records/{order}/sign"),
        serde_json::json!({}),
    )
    .await;
    assert_eq!(
        st,
        StatusCode::FORBIDDEN,
        "a counselor cannot sign a prescriber's order"
    );
    let (st, _) = post_json(
        &nurse,
        format!("{base}/api/v1/records/{order}/sign"),
        serde_json::json!({}),
    )
    .await;
    assert_eq!(
        st,
        StatusCode::FORBIDDEN,
        "nor can the nurse who entered it"
    );
    let admin_body =
        serde_json::json!({"order_id": order, "sbp": 84, "dbp": 50, "hr": 58, "given": true});
    let (st, e) = post_json(&nurse, rec("administration"), admin_body.clone()).await;
    assert_eq!(
        (st, e["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("order_id")),
        "unsigned"
    );
    let (st, _) = post_json(
        &prescriber,
        format!("{base}/api/v1/records/{order}/sign"),
        serde_json::json!({}),
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, e) = post_json(&nurse, rec("administration"), admin_body).await;
    assert_eq!(
        (st, e["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("given")),
        "hold parameters block"
    );
    let (st, e) = post_json(
        &nurse,
        rec("administration"),
        serde_json::json!({"order_id": order, "sbp": 84, "dbp": 50, "hr": 58, "given": false}),
    )
    .await;
    assert_eq!(
        (st, e["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("hold_reason"))
    );
    let (st, _) = post_json(&nurse, rec("administration"), serde_json::json!({"order_id": order, "sbp": 84, "dbp": 50, "hr": 58, "given": false, "hold_reason": "SBP below 90"})).await;
    assert_eq!(st, StatusCode::CREATED);
    // The prescriber changes the dose (signed as written); the administrations stay with the order.
    let form = get_text(&prescriber, format!("{base}/records/{order}/amend")).await;
    assert!(form.contains("Change a comfort-medication order") && form.contains("value=\"0.1\""));
    let r = prescriber
        .post(format!("{base}/records/{order}/amend"))
        .form(&[
            ("reason", "lower dose for low blood pressure"),
            ("medication", "clonidine"),
            ("dose_mg", "0.05"),
            ("every_h", "8"),
            ("prn", "true"),
            ("indication", "withdrawal"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let orders = get_json(
        &nurse,
        format!("{base}/api/v1/patients/{pid}/records?kind=order"),
    )
    .await;
    let cur = orders
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["current"] == true && o["root_id"] == order.as_str())
        .unwrap();
    assert_eq!(cur["body"]["dose_mg"], 0.05);
    assert_eq!(cur["signatures"][0]["signer_role"], "prescriber");

    // A group on the calendar; attendance.
    let (st, v) = post_json(&counselor, format!("{base}/api/v1/programs/{}/sessions", w.a), serde_json::json!({
        "kind": "group", "title": "Morning process group", "modality": "process",
        "start_date": jiff::Timestamp::now().in_tz("America/Chicago").unwrap().date().to_string(), "time": "00:01", "minutes": 90, "weekdays": [1,3,5], "weeks": 4})).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    assert!(v.as_array().unwrap().len() >= 11);
    let sid = v[0].as_str().unwrap().to_string();
    // Two people mark the same patient for the same session at once: one mark.
    let sid2 = v[1].as_str().unwrap().to_string();
    let mark = serde_json::json!({"entries": [{"patient_id": pid, "status": "present"}]});
    let url2 = format!("{base}/api/v1/sessions/{sid2}/attendance");
    let (a, b) = tokio::join!(
        post_json(&counselor, url2.clone(), mark.clone()),
        post_json(&nurse, url2, mark)
    );
    assert_eq!((a.0, b.0), (StatusCode::OK, StatusCode::OK));
    assert_eq!(
        a.1["written"].as_i64().unwrap() + b.1["written"].as_i64().unwrap(),
        1,
        "{a:?} {b:?}"
    );
    let (st, v) = post_json(
        &counselor,
        format!("{base}/api/v1/sessions/{sid}/attendance"),
        serde_json::json!({
        "entries": [{"patient_id": pid, "status": "present"}]}),
    )
    .await;
    assert_eq!((st, v["written"].as_i64()), (StatusCode::OK, Some(1)));
    let (st, _) = post_json(
        &counselor,
        format!("{base}/api/v1/sessions/{sid}/attendance"),
        serde_json::json!({
        "entries": [{"patient_id": w.patient_b.to_string(), "status": "present"}]}),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "not on the roster");
    // Enrolling makes the group closed; a member taken off it is no longer on the roster.
    let enroll = |action: &'static str| serde_json::json!({"patient_id": pid, "action": action});
    let (st, _) = post_json(
        &counselor,
        format!("{base}/api/v1/sessions/{sid}/enrollment"),
        enroll("add"),
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, _) = post_json(
        &counselor,
        format!("{base}/api/v1/sessions/{sid}/attendance"),
        serde_json::json!({
        "entries": [{"patient_id": pid, "status": "late"}]}),
    )
    .await;
    assert_eq!(
        st,
        StatusCode::OK,
        "a member; a changed status amends the mark"
    );
    let (st, _) = post_json(
        &counselor,
        format!("{base}/api/v1/sessions/{sid}/enrollment"),
        enroll("remove"),
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, _) = post_json(
        &counselor,
        format!("{base}/api/v1/sessions/{sid}/attendance"),
        serde_json::json!({
        "entries": [{"patient_id": pid, "status": "present"}]}),
    )
    .await;
    assert_eq!(
        st,
        StatusCode::UNPROCESSABLE_ENTITY,
        "closed group without this patient"
    );
    let marks = get_json(
        &counselor,
        format!("{base}/api/v1/patients/{pid}/records?kind=attendance"),
    )
    .await;
    assert_eq!(
        marks.as_array().unwrap().len(),
        3,
        "both versions of one mark kept, and the other session's single mark"
    );

    // A note: signed, then amended; both versions kept.
    let (st, v) = post_json(&counselor, rec("note"), serde_json::json!({
        "template": "DAP", "service": "group", "session_id": sid,
        "sections": {"data": "Attended and shared about cravings.", "assessment": "Engaged.", "plan": "Continue group."}})).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let note = v["id"].as_str().unwrap().to_string();
    let (st, _) = post_json(
        &nurse,
        format!("{base}/api/v1/records/{note}/sign"),
        serde_json::json!({}),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "only the author signs");
    let (st, _) = post_json(
        &counselor,
        format!("{base}/api/v1/records/{note}/sign"),
        serde_json::json!({}),
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, v) = post_json(&counselor, format!("{base}/api/v1/records/{note}/amend"), serde_json::json!({
        "reason": "wrong session described",
        "entry": {"template": "DAP", "service": "group", "session_id": sid,
                  "sections": {"data": "Attended; shared about cravings and sleep.", "assessment": "Engaged.", "plan": "Continue group."}}})).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let (st, _) = post_json(
        &counselor,
        format!("{base}/api/v1/records/{note}/amend"),
        serde_json::json!({
        "reason": "again", "entry": {}}),
    )
    .await;
    assert_eq!(
        st,
        StatusCode::CONFLICT,
        "the old version cannot be amended twice"
    );
    let notes = get_json(
        &counselor,
        format!("{base}/api/v1/patients/{pid}/records?kind=note"),
    )
    .await;
    let notes = notes.as_array().unwrap();
    assert_eq!(notes.len(), 2);
    assert_eq!(notes[0]["current"], false);
    assert_eq!(notes[0]["signatures"][0]["kind"], "author");
    assert_eq!(notes[1]["amend_reason"], "wrong session described");
    assert_eq!(notes[1]["root_id"], note);

    // A trainee's note names a supervisor, who co-signs after the author;
    // a note about a session two days ago is a late entry.
    let supervisor = w.users.iter().find(|u| u.0 == Role::Prescriber).unwrap().1;
    let two_days_ago = jiff::Timestamp::now()
        .checked_sub(jiff::SignedDuration::from_hours(48))
        .unwrap()
        .to_string();
    let (st, v) = post_json(&counselor, rec("note"), serde_json::json!({
        "template": "BIRP", "occurred_at": two_days_ago, "cosigner_id": supervisor.to_string(),
        "sections": {"behavior": "Calm.", "intervention": "MI.", "response": "Set a goal.", "plan": "Review Friday."}})).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let trainee = v["id"].as_str().unwrap().to_string();
    let (st, _) = post_json(
        &prescriber,
        format!("{base}/api/v1/records/{trainee}/sign"),
        serde_json::json!({"as_": "cosign"}),
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT, "the author signs first");
    let (st, _) = post_json(
        &counselor,
        format!("{base}/api/v1/records/{trainee}/sign"),
        serde_json::json!({}),
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, _) = post_json(
        &nurse,
        format!("{base}/api/v1/records/{trainee}/sign"),
        serde_json::json!({"as_": "cosign"}),
    )
    .await;
    assert_eq!(
        st,
        StatusCode::FORBIDDEN,
        "only the named supervisor co-signs"
    );
    let wl = get_json(&prescriber, format!("{base}/api/v1/worklist")).await;
    assert!(
        wl["to_cosign"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["record_id"] == trainee.as_str()),
        "{wl}"
    );
    let (st, _) = post_json(
        &prescriber,
        format!("{base}/api/v1/records/{trainee}/sign"),
        serde_json::json!({"as_": "cosign"}),
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let r = get_json(
        &counselor,
        format!("{base}/api/v1/patients/{pid}/records?kind=note"),
    )
    .await;
    let t = r
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == trainee.as_str())
        .unwrap();
    assert_eq!(t["late_entry"], true);
    assert_eq!(t["signatures"].as_array().unwrap().len(), 2);

    // A treatment plan; the patient signs it (typed); the plan review is a new version.
    let review = jiff::Timestamp::now()
        .in_tz("America/Chicago")
        .unwrap()
        .date()
        .checked_add(jiff::Span::new().days(30))
        .unwrap()
        .to_string();
    let plan_body = serde_json::json!({"problems": [{"problem": "Daily fentanyl use", "goal": "30 days without opioids",
        "measure": "weekly urine tests", "objectives": [{"text": "Name three triggers", "target_date": review}],
        "interventions": [{"kind": "cbt", "responsible": "u.counselor"}, {"kind": "yoga", "responsible": "u.counselor"}]}],
        "review_due": review, "patient_participated": true});
    let (st, v) = post_json(&counselor, rec("plan"), plan_body.clone()).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let plan = v["id"].as_str().unwrap().to_string();
    let (st, _) = post_json(
        &counselor,
        format!("{base}/api/v1/records/{plan}/sign"),
        serde_json::json!({"as_": "patient", "typed_name": "Casey Morgan"}),
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, e) = post_json(
        &counselor,
        format!("{base}/api/v1/records/{plan}/sign"),
        serde_json::json!({"as_": "patient", "drawing": "M 1 2 <script>"}),
    )
    .await;
    assert_eq!(
        (st, e["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("drawing"))
    );
    let (st, _) = post_json(
        &counselor,
        format!("{base}/api/v1/records/{plan}/sign"),
        serde_json::json!({"as_": "patient", "drawing": "M 10 20 L 30 40"}),
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT, "already signed by the patient");
    let (st, _) = post_json(
        &counselor,
        format!("{base}/api/v1/records/{plan}/amend"),
        serde_json::json!({"reason": "30-day review", "entry": plan_body}),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED);

    // An identification photo (front desk) is served to staff who see demographics.
    let jpeg = [0xFFu8, 0xD8, 0xFF, 0xE0, 0, 16, b'J', b'F', b'I', b'F'];
    let form = reqwest::multipart::Form::new().part(
        "photo",
        reqwest::multipart::Part::bytes(jpeg.to_vec()).file_name("p.jpg"),
    );
    let r = front
        .post(format!("{base}/patients/{pid}/photo"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = front
        .get(format!("{base}/patients/{pid}/photo"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    let form = reqwest::multipart::Form::new().part(
        "photo",
        reqwest::multipart::Part::bytes(b"GIF89a".to_vec()).file_name("p.gif"),
    );
    let r = front
        .post(format!("{base}/patients/{pid}/photo"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .contains("error=photo"),
        "only JPEG or PNG"
    );
    let form = reqwest::multipart::Form::new().part(
        "photo",
        reqwest::multipart::Part::bytes(b"GIF89a".to_vec()).file_name("p.gif"),
    );
    let r = front
        .post(format!("{base}/api/v1/patients/{pid}/photo"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let png = [0x89u8, b'P', b'N', b'G', 13, 10, 26, 10];
    let form = reqwest::multipart::Form::new().part(
        "photo",
        reqwest::multipart::Part::bytes(png.to_vec()).file_name("p.png"),
    );
    let r = front
        .post(format!("{base}/api/v1/patients/{pid}/photo"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = front
        .get(format!("{base}/patients/{pid}/photo"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["content-type"],
        "image/png",
        "the newest photo is shown"
    );

    // Family involvement: what the family contact may be told follows the consent.
    let chart = get_text(&front, format!("{base}/patients/{pid}")).await;
    assert!(
        chart.contains("no family-involvement consent"),
        "nothing without consent"
    );
    let today = jiff::Timestamp::now()
        .in_tz("America/Chicago")
        .unwrap()
        .date();
    let (st, _) = post_json(&intake, rec("consent"), serde_json::json!({
        "kind": "family", "recipient": "Pat Morgan (mother)", "information": "attendance and appointment times only",
        "purpose": "family involvement", "expiry_event": "end of treatment", "signed_by": "Casey Morgan", "signed_on": today.to_string()})).await;
    assert_eq!(st, StatusCode::CREATED);
    let chart = get_text(&front, format!("{base}/patients/{pid}")).await;
    assert!(
        chart.contains("may be told: attendance and appointment times only"),
        "{chart}"
    );
    assert!(
        !chart.contains("Progress notes"),
        "front desk sees no clinical sections"
    );

    // A private counseling note: its author reads it, other clinicians see that it exists.
    let (st, v) = post_json(&counselor, rec("note"), serde_json::json!({
        "template": "DAP", "private": true,
        "sections": {"data": "Talked about the loss of her brother.", "assessment": "Grieving.", "plan": "Weekly."}})).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let private = v["id"].as_str().unwrap().to_string();
    let seen = |c: &reqwest::Client| {
        let c = c.clone();
        let url = format!("{base}/api/v1/patients/{pid}/records?kind=note");
        let private = private.clone();
        async move {
            let all = get_json(&c, url).await;
            all.as_array()
                .unwrap()
                .iter()
                .find(|r| r["id"] == private.as_str())
                .cloned()
                .unwrap()
        }
    };
    let mine = seen(&counselor).await;
    assert!(
        mine["body"]["sections"]["data"]
            .as_str()
            .unwrap()
            .contains("brother")
    );
    let theirs = seen(&nurse).await;
    assert!(
        theirs["body"].get("sections").is_none()
            && theirs["summary"] == "Private counseling note (individual)",
        "{theirs}"
    );
    let chart = get_text(&nurse, format!("{base}/patients/{pid}")).await;
    assert!(!chart.contains("brother") && chart.contains("Private counseling note"));
    assert_eq!(
        nurse
            .get(format!("{base}/records/{private}/amend"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );

    // Front desk: demographics, never the clinical record; the auditor: audit only.
    assert_eq!(
        front
            .get(format!("{base}/api/v1/patients/{pid}"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        front
            .get(format!("{base}/api/v1/patients/{pid}/records"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        auditor
            .get(format!("{base}/api/v1/patients/{pid}/records"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        auditor
            .get(format!("{base}/api/v1/audit/events"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );

    // Disclosure: refused without consent, allowed with one, in the accounting; revocation stops it.
    let recipient = "Dr. Ana Lopez, Eastside Primary Care";
    let (st, e) = post_json(&intake, format!("{base}/api/v1/patients/{pid}/disclosures"), serde_json::json!({
        "consent_id": uuid::Uuid::now_v7().to_string(), "recipient": recipient, "purpose": "coordination of care"})).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{e}");
    let today = jiff::Timestamp::now()
        .in_tz("America/Chicago")
        .unwrap()
        .date();
    let (st, v) = post_json(&intake, rec("consent"), serde_json::json!({
        "kind": "disclosure", "recipient": recipient, "information": "diagnosis and treatment dates (SUD treatment information)",
        "purpose": "coordination of care", "expires_on": today.checked_add(jiff::Span::new().days(90)).unwrap().to_string(),
        "signed_by": "Casey Morgan", "signed_on": today.to_string()})).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let consent = v["id"].as_str().unwrap().to_string();
    let (st, doc) = post_json(
        &intake,
        format!("{base}/api/v1/patients/{pid}/disclosures"),
        serde_json::json!({
        "consent_id": consent, "recipient": recipient, "purpose": "coordination of care"}),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{doc}");
    assert!(doc["notice"].as_str().unwrap().contains("42 CFR part 2"));
    let (st, _) = post_json(
        &intake,
        format!("{base}/api/v1/patients/{pid}/disclosures"),
        serde_json::json!({
        "consent_id": consent, "recipient": "Acme Insurance", "purpose": "coordination of care"}),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "another recipient");
    let acc = get_json(&intake, format!("{base}/api/v1/patients/{pid}/disclosures")).await;
    assert_eq!(acc.as_array().unwrap().len(), 1);
    assert_eq!(acc[0]["recipient"], recipient);
    let (st, _) = post_json(
        &intake,
        format!("{base}/api/v1/records/{consent}/revoke"),
        serde_json::json!({"note": "patient asked in writing"}),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED);
    let (st, e) = post_json(
        &intake,
        format!("{base}/api/v1/patients/{pid}/disclosures"),
        serde_json::json!({
        "consent_id": consent, "recipient": recipient, "purpose": "coordination of care"}),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert!(e["error"]["message"].as_str().unwrap().contains("revoked"));

    // Discharge: completed withdrawal management requires naloxone documentation.
    let dis = serde_json::json!({"reason": 1, "summary": "Completed withdrawal management; stable.",
        "aftercare": {"medication": "naltrexone XR at Eastside clinic", "support_groups": "SMART Recovery Tuesdays"}});
    let (st, e) = post_json(
        &nurse,
        format!("{base}/api/v1/patients/{pid}/discharge"),
        dis.clone(),
    )
    .await;
    assert_eq!(
        (st, e["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("naloxone"))
    );
    let mut ok = dis.clone();
    ok["naloxone"] = serde_json::json!({"education_given": true, "kit_given": true});
    let (st, v) = post_json(
        &nurse,
        format!("{base}/api/v1/patients/{pid}/discharge"),
        ok.clone(),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    assert_eq!(v.as_array().unwrap().len(), 13, "summary + 12 weekly calls");
    let plan = get_text(&nurse, format!("{base}/patients/{pid}/aftercare")).await;
    assert!(
        plan.contains("naltrexone XR at Eastside clinic") && plan.contains("988"),
        "printable aftercare plan"
    );
    assert_eq!(
        front
            .get(format!("{base}/patients/{pid}/aftercare"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
    let (st, _) = post_json(
        &nurse,
        format!("{base}/api/v1/patients/{pid}/discharge"),
        ok,
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT, "no open episode left");
    let wl = get_json(&nurse, format!("{base}/api/v1/worklist")).await;
    let calls = wl["followups"].as_array().unwrap();
    assert!(
        calls.iter().any(|c| c["patient_id"] == pid.as_str()),
        "{wl}"
    );
    let call = calls
        .iter()
        .find(|c| c["patient_id"] == pid.as_str())
        .unwrap()["record_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (st, v) = post_json(
        &nurse,
        format!("{base}/api/v1/followups/{call}/outcome"),
        serde_json::json!({
        "reached": true, "using": true, "in_treatment": false, "needs_reengagement": true}),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    assert!(v["referral_id"].is_string());
    let q = w.store().referrals(&[w.a], false).await.unwrap();
    assert!(q.iter().any(|r| {
        r.note
            .as_deref()
            .is_some_and(|n| n.contains("Re-engagement"))
    }));
    // Readmission opens a new episode; the history stays.
    let (st, _) = post_json(
        &nurse,
        format!("{base}/api/v1/patients/{pid}/admit"),
        serde_json::json!({
        "program_id": w.a.to_string(), "level_of_care": "opioid_treatment_program"}),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED);
    let p = get_json(&nurse, format!("{base}/api/v1/patients/{pid}")).await;
    assert_eq!(p["episodes"].as_array().unwrap().len(), 2);
    assert!(matches!(
        w.store().verify_audit_chain(|_| {}).await.unwrap(),
        carepath_store::VerifyResult::Intact { .. }
    ));
});

// The patient is identified on every form staff write in (name, birth
// date, MRN, allergies); allergies are an explicit answer, recorded from
// the chart by clinical staff or at registration, never both "none" and a
// list.
carepath_testkit::both!(forms_identify_the_patient_and_show_allergies, |db| {
    let w = World::new(db).await;
    let nurse = w.login(Role::Nurse).await;
    let id = w.patient_a;
    for form in [
        "/patients/{id}/flowsheet",
        "/patients/{id}/notes",
        "/patients/{id}/assessment",
        "/patients/{id}/orders",
        "/patients/{id}/consents",
        "/patients/{id}/plan",
        "/patients/{id}/drug-tests",
        "/patients/{id}/incentives",
        "/patients/{id}/portal",
        "/dosing/{id}/orders",
        "/dosing/{id}/takehome",
        "/dosing/{id}/overdose",
    ] {
        let page = get_text(&nurse, w.url(&form.replace("{id}", &id.to_string()))).await;
        assert!(page.contains("class=\"patient-bar\""), "{form}: {page}");
        assert!(page.contains("Testcase, Alpha"), "{form}");
        assert!(page.contains("DOB 1990-01-02"), "{form}");
        assert!(page.contains("Allergies not recorded — ask"), "{form}");
    }
    // Both answers at once: refused, said on the chart.
    let r = nurse
        .post(w.url(&format!("/patients/{id}/allergies")))
        .form(&[
            ("allergies", "penicillin — hives"),
            ("no_known_allergies", "1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let page = get_text(&nurse, w.url(&loc)).await;
    assert!(page.contains("not both"), "{page}");
    let r = nurse
        .post(w.url(&format!("/patients/{id}/allergies")))
        .form(&[("allergies", "penicillin — hives\n\n  sulfa — rash ")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let page = get_text(&nurse, w.url(&format!("/patients/{id}/flowsheet"))).await;
    assert!(
        page.contains("Allergies: penicillin — hives; sulfa — rash"),
        "{page}"
    );
    // Registration keeps them when it saves other details.
    let desk = w.login(Role::FrontDesk).await;
    let r = desk
        .post(w.url(&format!("/patients/{id}/profile")))
        .form(&[
            ("phone", "410 555 0100"),
            ("allergies[0]", "penicillin — hives"),
            ("allergies[1]", "sulfa — rash"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let page = get_text(&nurse, w.url(&format!("/patients/{id}"))).await;
    assert!(page.contains("penicillin — hives; sulfa — rash"), "{page}");
    // "No known allergies" is an answer of its own.
    let r = nurse
        .post(w.url(&format!("/patients/{id}/allergies")))
        .form(&[("allergies", ""), ("no_known_allergies", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let page = get_text(&nurse, w.url(&format!("/patients/{id}/notes"))).await;
    assert!(page.contains("No known allergies"), "{page}");
    // Another program's patient: nothing.
    let r = nurse
        .post(w.url(&format!("/patients/{}/allergies", w.patient_b)))
        .form(&[("no_known_allergies", "1")])
        .send()
        .await
        .unwrap();
    assert!(matches!(r.status().as_u16(), 403 | 404), "{}", r.status());
});

// A prescriber signs the orders waiting on the worklist at once — each one
// signed on its own, as from the chart — and whoever may not sign is told.
carepath_testkit::both!(a_prescriber_signs_waiting_orders_in_one_go, |db| {
    let w = World::new(db).await;
    carepath_app::chart::admit(
        &w.app,
        &system(),
        w.patient_a,
        &carepath_app::chart::AdmitInput {
            program_id: w.a.to_string(),
            level_of_care: "withdrawal_management".into(),
        },
    )
    .await
    .unwrap();
    let nurse = w.login(Role::Nurse).await;
    let rec = format!("{}/api/v1/patients/{}/records/order", w.base, w.patient_a);
    let mut ids = vec![];
    for (med, dose) in [("clonidine", 0.1), ("ondansetron", 4.0)] {
        let (st, v) = post_json(
            &nurse,
            rec.clone(),
            serde_json::json!({"medication": med, "dose_mg": dose, "every_h": 6, "prn": true,
                "indication": "withdrawal"}),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        ids.push(v["id"].as_str().unwrap().to_string());
    }
    // The nurse cannot sign them in a batch either.
    let r = nurse
        .post(w.url("/worklist/sign"))
        .form(&[("rid", ids[0].as_str())])
        .send()
        .await
        .unwrap();
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let page = get_text(&nurse, w.url(&loc)).await;
    assert!(
        page.contains("Signed 0 of 1. Not signed: only a prescriber"),
        "{page}"
    );
    let dr = w.login(Role::Prescriber).await;
    let page = get_text(&dr, w.url("/worklist")).await;
    assert!(page.contains("Sign all 2 shown"), "{page}");
    let r = dr
        .post(w.url("/worklist/sign"))
        .form(&[("rid", ids[0].as_str()), ("rid", ids[1].as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let page = get_text(&dr, w.url(&loc)).await;
    assert!(page.contains("Signed 2 of 2."), "{page}");
    assert!(!page.contains("Sign all"), "nothing left to sign: {page}");
    // Each order carries its own signature.
    for id in &ids {
        let sigs = w.store().record(id).await.unwrap().signatures;
        assert_eq!(sigs.len(), 1, "{id}");
        assert_eq!(sigs[0].kind, "author");
    }
    // Signed, each order says what limits its next dose before it is given.
    let chart = get_text(&nurse, w.url(&format!("/patients/{}", w.patient_a))).await;
    assert!(chart.contains("Before the next dose"), "{chart}");
    assert!(
        chart.contains("Hold if systolic BP below 90") && chart.contains("none given yet"),
        "{chart}"
    );
    assert!(
        chart.contains("Last 24 hours: 0 of 1.2 mg given"),
        "{chart}"
    );
});

// A comfort dose the hold parameters block: the page says why beside the
// answer, keeps the vital signs typed, and shows the order's limits — it
// does not jump back to the chart and lose them.
carepath_testkit::both!(a_refused_comfort_dose_keeps_what_was_typed, |db| {
    let w = World::new(db).await;
    carepath_app::chart::admit(
        &w.app,
        &system(),
        w.patient_a,
        &carepath_app::chart::AdmitInput {
            program_id: w.a.to_string(),
            level_of_care: "withdrawal_management".into(),
        },
    )
    .await
    .unwrap();
    let nurse = w.login(Role::Nurse).await;
    let dr = w.login(Role::Prescriber).await;
    let (st, v) = post_json(
        &nurse,
        format!("{}/api/v1/patients/{}/records/order", w.base, w.patient_a),
        serde_json::json!({"medication": "clonidine", "dose_mg": 0.1, "every_h": 6, "prn": true,
            "indication": "withdrawal"}),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let order = v["id"].as_str().unwrap().to_string();
    let (st, _) = post_json(
        &dr,
        format!("{}/api/v1/records/{order}/sign", w.base),
        serde_json::json!({}),
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let r = nurse
        .post(w.url(&format!("/records/{order}/administer")))
        .form(&[
            ("sbp", "84"),
            ("dbp", "50"),
            ("hr", "58"),
            ("given", "true"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.unwrap();
    assert!(page.contains("class=\"patient-bar\""), "{page}");
    assert!(page.contains("value=\"84\""), "the vitals typed are kept");
    assert!(page.contains("value=\"58\""));
    assert!(page.contains("The order"), "{page}");
    assert!(page.to_lowercase().contains("clonidine"), "{page}");
    // Held, with a reason: recorded, back to the chart.
    let r = nurse
        .post(w.url(&format!("/records/{order}/administer")))
        .form(&[
            ("sbp", "84"),
            ("dbp", "50"),
            ("hr", "58"),
            ("given", "false"),
            ("hold_reason", "SBP below 90"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
});

// The bar carries what must not be missed to clinicians — an alarming
// check-in nobody has answered — and not to the front desk.
carepath_testkit::both!(the_patient_bar_shows_alerts_to_clinicians, |db| {
    let w = World::new(db).await;
    carepath_app::chart::admit(
        &w.app,
        &system(),
        w.patient_a,
        &carepath_app::chart::AdmitInput {
            program_id: w.a.to_string(),
            level_of_care: "opioid_treatment_program".into(),
        },
    )
    .await
    .unwrap();
    let inv = carepath_app::portal::invite(&w.app, &system(), w.patient_a)
        .await
        .unwrap();
    let token = carepath_app::portal::join(
        &w.app,
        &carepath_app::portal::JoinInput {
            code: inv.code,
            username: "alpha.t".into(),
            password: PW.into(),
            confirm: PW.into(),
            language: "en".into(),
        },
        None,
    )
    .await
    .unwrap();
    let me = carepath_app::portal::resolve(&w.app, &token, None)
        .await
        .unwrap()
        .unwrap();
    carepath_app::portal::report(
        &w.app,
        &me,
        &carepath_app::portal::ReportInput {
            sows: vec![],
            craving: Some(9),
            mood: Some(3),
        },
    )
    .await
    .unwrap();
    let id = w.patient_a;
    let nurse = w.login(Role::Nurse).await;
    let page = get_text(&nurse, w.url(&format!("/patients/{id}/notes"))).await;
    assert!(page.contains("Portal check-in: craving 9/10"), "{page}");
    let desk = w.login(Role::FrontDesk).await;
    let page = get_text(&desk, w.url(&format!("/patients/{id}/profile"))).await;
    assert!(page.contains("class=\"patient-bar\""), "{page}");
    assert!(
        !page.contains("Portal check-in"),
        "no clinical alerts for the desk"
    );
});
