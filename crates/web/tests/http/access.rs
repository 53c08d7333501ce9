//! Who reaches what: the route × role matrix, program tenancy and break-the-glass, API tokens, CSRF and headers, lockout, idle logoff.

use super::*;

carepath_testkit::both!(
    every_route_for_every_role_matches_the_authorization_table,
    |db| {
        let w = World::new(db).await;
        let anon = client();
        for spec in specs() {
            let url = format!("{}{}", w.base, concrete(spec.path, &w, w.users[0].1));
            let r = anon
                .request(spec.method.clone(), &url)
                .send()
                .await
                .unwrap();
            match spec.guard {
                Guard::Public => assert!(
                    r.status() != StatusCode::UNAUTHORIZED && r.status() != StatusCode::FORBIDDEN,
                    "{} {} public",
                    spec.method,
                    spec.path
                ),
                Guard::Portal | Guard::PortalSignedIn | Guard::Family
                    if !carepath_web::routes::is_api(spec.path) =>
                {
                    assert_eq!(
                        r.headers().get("location").map(|v| v.to_str().unwrap()),
                        Some("/portal/sign-in"),
                        "{} {} anonymous",
                        spec.method,
                        spec.path
                    )
                }
                _ if carepath_web::routes::is_api(spec.path) => assert_eq!(
                    r.status(),
                    StatusCode::UNAUTHORIZED,
                    "{} {}",
                    spec.method,
                    spec.path
                ),
                _ => assert_eq!(
                    r.headers().get("location").map(|v| v.to_str().unwrap()),
                    Some("/login"),
                    "{} {} anonymous",
                    spec.method,
                    spec.path
                ),
            }
        }
        for (role, uid, name) in &w.users {
            let c = login(&w, name, role.mfa_required_by_default()).await;
            for spec in specs() {
                let Guard::Perm(p) = spec.guard else { continue };
                if spec.method == reqwest::Method::POST && spec.path == "/admin/users/{id}/status" {
                    continue; // would disable the admin's own session mid-walk; covered below
                }
                let url = format!("{}{}", w.base, concrete(spec.path, &w, *uid));
                let r = c
                    .request(spec.method.clone(), &url)
                    .form(&[("x", "y")])
                    .send()
                    .await
                    .unwrap();
                let st = r.status();
                assert!(
                    r.headers().get("x-carepath-unrouted").is_none(),
                    "{} {} not routed",
                    spec.method,
                    spec.path
                );
                if role_allows(*role, p) {
                    assert!(
                        st != StatusCode::FORBIDDEN && st != StatusCode::UNAUTHORIZED,
                        "{role} should reach {} {} (got {st})",
                        spec.method,
                        spec.path
                    );
                    assert!(
                        r.headers()
                            .get("location")
                            .is_none_or(|l| l != "/login" && l != "/mfa"),
                        "{role} bounced from {}",
                        spec.path
                    );
                } else {
                    assert_eq!(
                        st,
                        StatusCode::FORBIDDEN,
                        "{role} must be refused {} {}",
                        spec.method,
                        spec.path
                    );
                }
            }
        }
        assert!(matches!(
            w.store().verify_audit_chain(|_| {}).await.unwrap(),
            carepath_store::VerifyResult::Intact { .. }
        ));
    }
);

carepath_testkit::both!(
    program_a_staff_cannot_see_program_b_patients_and_break_glass_is_audited,
    |db| {
        let w = World::new(db).await;
        let nurse = login(&w, "u.nurse", false).await;
        let r = nurse
            .get(format!("{}/api/v1/patients/{}", w.base, w.patient_b))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let r = nurse
            .get(format!("{}/api/v1/patients/{}", w.base, w.patient_a))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let fd = login(&w, "u.front-desk", false).await;
        let r = fd
            .get(format!("{}/api/v1/patients/{}", w.base, w.patient_b))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::NOT_FOUND,
            "non-clinicians are not told the patient exists"
        );
        // Front desk sees demographics but not episodes.
        let j = get_json(&fd, format!("{}/api/v1/patients/{}", w.base, w.patient_a)).await;
        assert!(j.get("episodes").is_none());
        // Search never returns program B's patient to program A's nurse.
        let j = get_json(&nurse, format!("{}/api/v1/patients?name=testcase", w.base)).await;
        assert_eq!(j.as_array().unwrap().len(), 1);
        // Break the glass: the page offers it, a short reason is refused, a real one opens read access.
        let r = nurse
            .get(format!("{}/patients/{}", w.base, w.patient_b))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert!(r.text().await.unwrap().contains("break-glass"));
        let r = nurse
            .post(format!("{}/patients/{}/break-glass", w.base, w.patient_b))
            .form(&[("reason", "short")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let r = nurse
            .post(format!("{}/patients/{}/break-glass", w.base, w.patient_b))
            .form(&[("reason", "found unresponsive, need medication list")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let r = nurse
            .get(format!("{}/patients/{}", w.base, w.patient_b))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(
            r.text()
                .await
                .unwrap()
                .contains("Emergency (break-the-glass) access")
        );
        let grants = w.store().list_break_glass(10, None).await.unwrap();
        assert_eq!(grants.len(), 1);
        let audit = w
            .store()
            .audit_events(&carepath_store::AuditFilter {
                patient_id: Some(w.patient_b.to_string()),
                limit: 50,
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(
            audit
                .events
                .iter()
                .any(|e| e.event.outcome == Outcome::Denied && e.event.action == "patient.read")
        );
        assert!(
            audit
                .events
                .iter()
                .any(|e| e.event.detail.as_deref() == Some("break-the-glass access"))
        );
    }
);

#[tokio::test]
async fn api_tokens_errors_headers_csrf_and_openapi() {
    let w = World::new(TestDb::sqlite().await).await;
    let intake = login(&w, "u.intake", false).await;
    // A token limited to reading demographics.
    let r = intake
        .post(format!("{}/account/tokens", w.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("name=script&scope=read_demographics&days=7")
        .send()
        .await
        .unwrap();
    let html = r.text().await.unwrap();
    let token = html
        .split("id=\"new-token\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_string();
    assert!(token.starts_with("cp_"));
    let api = reqwest::Client::new();
    let r = api
        .get(format!("{}/api/v1/patients/{}", w.base, w.patient_a))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // Out of scope: registering needs register_patient, which the token lacks.
    let body = serde_json::json!({"program_id": w.a.to_string(), "legal_first_name": "N", "legal_last_name": "P", "date_of_birth": "1999-01-01", "sex": "female"});
    let r = api
        .post(format!("{}/api/v1/patients", w.base))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = api
        .get(format!("{}/api/v1/me", w.base))
        .bearer_auth("cp_wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // Validation errors name the field.
    let bad = serde_json::json!({"program_id": w.a.to_string(), "legal_first_name": "N", "legal_last_name": "P", "date_of_birth": "01/02/1999", "sex": "female"});
    let r = intake
        .post(format!("{}/api/v1/patients", w.base))
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let j: serde_json::Value = r.json().await.unwrap();
    assert_eq!(j["error"]["field"], "date_of_birth");
    let r = intake
        .post(format!("{}/api/v1/patients", w.base))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    // Cross-site form posts are refused (CSRF).
    let r = intake
        .post(format!("{}/patients", w.base))
        .header("sec-fetch-site", "cross-site")
        .form(&[("program_id", w.a.to_string())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // Security headers.
    let r = intake
        .get(format!("{}/dashboard", w.base))
        .send()
        .await
        .unwrap();
    let h = r.headers();
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["cache-control"], "no-store");
    // OpenAPI is generated and lists the API.
    let j: serde_json::Value = reqwest::get(format!("{}/api/v1/openapi.json", w.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(j["openapi"].as_str().unwrap().starts_with("3."));
    assert!(j["paths"]["/api/v1/patients/{id}"].is_object());
    // Every API route in the table is documented, with its method.
    let missing: Vec<String> = specs()
        .into_iter()
        .filter(|r| carepath_web::routes::is_api(r.path) && r.path != "/api/v1/openapi.json")
        .filter(|r| !j["paths"][r.path][r.method.as_str().to_lowercase()].is_object())
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(missing.is_empty(), "undocumented API routes: {missing:?}");
    // Metrics carry route templates, never concrete ids.
    let m = reqwest::get(format!("{}/metrics", w.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(m.contains("carepath_http_requests"));
    assert!(!m.contains(&w.patient_a.to_string()));
    assert_eq!(
        reqwest::get(format!("{}/readyz", w.base))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn lockout_and_replayed_codes() {
    let w = World::new(TestDb::sqlite().await).await;
    let c = client();
    for _ in 0..5 {
        let r = c
            .post(format!("{}/login", w.base))
            .form(&[("username", "u.nurse"), ("password", "wrong password here")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = c
        .post(format!("{}/login", w.base))
        .form(&[("username", "u.nurse"), ("password", PW)])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "locked after 5 failures even with the right password"
    );
    // A TOTP code works once.
    let p = login(&w, "u.prescriber", true).await;
    drop(p);
    let c2 = client();
    c2.post(format!("{}/login", w.base))
        .form(&[("username", "u.prescriber"), ("password", PW)])
        .send()
        .await
        .unwrap();
    let r = c2
        .post(format!("{}/mfa", w.base))
        .form(&[("code", code_now())])
        .send()
        .await
        .unwrap();
    // Either the same step (replay, refused) or a new step (accepted) if the clock moved on.
    assert!(r.status() == StatusCode::UNAUTHORIZED || r.status() == StatusCode::SEE_OTHER);
    let events = w
        .store()
        .audit_events(&carepath_store::AuditFilter {
            action: Some("auth.".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        events
            .events
            .iter()
            .filter(|e| e.event.action == "auth.login" && e.event.outcome == Outcome::Failure)
            .count()
            >= 6
    );
    let _ = Permission::ALL;
}

#[tokio::test]
async fn idle_sessions_are_logged_off_and_audited() {
    let cfg = WebConfig {
        idle_timeout_secs: 1,
        login_attempts_per_minute: 1000,
        ..Default::default()
    };
    let w = World::with(TestDb::sqlite().await, cfg).await;
    let c = login(&w, "u.nurse", false).await;
    assert_eq!(
        c.get(format!("{}/dashboard", w.base))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
    let r = c.get(format!("{}/dashboard", w.base)).send().await.unwrap();
    assert_eq!(r.headers()["location"], "/login?m=idle");
    // The session is over for good, not just for one request.
    let r = c.get(format!("{}/dashboard", w.base)).send().await.unwrap();
    assert_eq!(r.headers()["location"], "/login");
    let r = c.get(format!("{}/api/v1/me", w.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let ev = w
        .store()
        .audit_events(&carepath_store::AuditFilter {
            action: Some("auth.logout".into()),
            limit: 5,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(ev.events[0].event.detail.as_deref(), Some("idle timeout"));
}

// Every route that names something — a patient, a record, a session, a
// program, an account, a referral — asked by every role of program A about
// program B's: never an answer, never a write, never a successful access in
// the audit trail. Walks the route table, so a new route is covered the
// day it is added. (400: a body the route cannot read, refused before
// anything is looked up.)
carepath_testkit::both!(
    no_role_of_program_a_reaches_program_b_through_any_route,
    |db| {
        let w = World::new(db).await;
        let sys = system();
        // Program B's things.
        carepath_app::chart::admit(
            &w.app,
            &sys,
            w.patient_b,
            &carepath_app::chart::AdmitInput {
                program_id: w.b.to_string(),
                level_of_care: "residential".into(),
            },
        )
        .await
        .unwrap();
        carepath_app::admin::create_user(
            &w.app,
            &sys,
            &carepath_app::admin::NewUser {
                username: "nurse.b".into(),
                display_name: "Nurse B".into(),
                password: PW.into(),
                program_id: w.b.to_string(),
                role: "nurse".into(),
            },
        )
        .await
        .unwrap();
        let nurse_b = carepath_testkit::signed_in(&w.app, "nurse.b", false).await;
        let user_b = nurse_b.user_id;
        let mut items = serde_json::Map::new();
        for (name, _) in carepath_clinical::cows::ITEMS.iter() {
            items.insert(name.to_string(), 0.into());
        }
        let (record_b, _) = carepath_app::chart::create(
            &w.app,
            &nurse_b,
            w.patient_b,
            &carepath_app::kinds::Input::from_json(
                carepath_app::kinds::Kind::Cows,
                serde_json::json!({"items": items, "vitals": {"hr": 80}}),
            )
            .unwrap(),
        )
        .await
        .unwrap();
        let session_b = carepath_app::work::schedule(
            &w.app,
            &sys,
            w.b,
            &carepath_app::work::SeriesInput {
                kind: "group".into(),
                title: "B group".into(),
                modality: "process".into(),
                start_date: "2030-01-07".into(),
                time: "10:00".into(),
                minutes: 60,
                weekdays: vec![],
                weeks: 1,
                location: String::new(),
            },
        )
        .await
        .unwrap()
        .remove(0);
        let rows_b = w
            .store()
            .patient_records(w.patient_b, &[])
            .await
            .unwrap()
            .len();
        let grants_b = w.store().grants(user_b).await.unwrap();
        let before = w.store().audit_count().await.unwrap();
        let b_path = |path: &str| {
            path.replace("/admin/users/{id}", &format!("/admin/users/{user_b}"))
                .replace("/patients/{id}", &format!("/patients/{}", w.patient_b))
                .replace("{pid}", &w.b.to_string())
                .replace("/listing/{id}", &format!("/listing/{}", w.b))
                .replace("{rid}", &record_b)
                .replace("{sid}", &session_b)
                .replace("{kind}", "cows")
                .replace("{name}", "cows")
                .replace("{file}", "app.css")
                .replace("{id}", &uuid::Uuid::now_v7().to_string())
        };
        let mut tried = 0;
        for (role, _, name) in &w.users {
            let c = login(&w, name, role.mfa_required_by_default()).await;
            for spec in specs() {
                if matches!(
                    spec.guard,
                    Guard::Public | Guard::Portal | Guard::PortalSignedIn | Guard::Family
                ) || !spec.path.contains('{')
                {
                    continue;
                }
                let url = format!("{}{}", w.base, b_path(spec.path));
                let req = c.request(spec.method.clone(), &url);
                let req = if carepath_web::routes::is_api(spec.path) {
                    req.json(&serde_json::json!({}))
                } else {
                    req.form(&[("x", "y")])
                };
                let r = req.send().await.unwrap();
                let st = r.status();
                tried += 1;
                assert!(
                    matches!(st.as_u16(), 400 | 403 | 404 | 422),
                    "{role} {} {} about program B answered {st}",
                    spec.method,
                    spec.path
                );
            }
        }
        assert!(tried > 100, "{tried}");
        eprintln!("{tried} cross-program requests refused");
        // Nothing was written into B, and nothing of B was opened.
        assert_eq!(
            w.store()
                .patient_records(w.patient_b, &[])
                .await
                .unwrap()
                .len(),
            rows_b
        );
        assert_eq!(w.store().grants(user_b).await.unwrap(), grants_b);
        let events = w
            .store()
            .audit_events(&carepath_store::AuditFilter {
                patient_id: Some(w.patient_b.to_string()),
                limit: 1000,
                ..Default::default()
            })
            .await
            .unwrap()
            .events;
        let a_users: Vec<String> = w.users.iter().map(|u| u.1.to_string()).collect();
        for e in events.iter().filter(|e| e.seq > before) {
            assert!(
                e.event.outcome != Outcome::Success
                    || !e
                        .event
                        .user_id
                        .as_ref()
                        .is_some_and(|u| a_users.contains(u)),
                "program A opened program B's patient: {:?}",
                e.event
            );
        }
    }
);

// Signing in returns to the page that asked for it (a link opened while
// signed out, a session that ended), once; otherwise each role's landing.
carepath_testkit::both!(signing_in_returns_to_the_page_asked_for, |db| {
    let w = World::new(db).await;
    let c = client();
    let page = format!("/patients/{}/notes", w.patient_a);
    let r = c.get(w.url(&page)).send().await.unwrap();
    assert_eq!(r.headers()["location"], "/login");
    assert!(
        r.headers()
            .get_all("set-cookie")
            .iter()
            .any(|v| v.to_str().unwrap().starts_with("carepath_next=")),
        "the page is remembered"
    );
    let r = c
        .post(w.url("/login"))
        .form(&[("username", "u.nurse"), ("password", PW)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/");
    let r = c.get(w.url("/")).send().await.unwrap();
    assert_eq!(r.headers()["location"].to_str().unwrap(), page);
    // Once: the next visit to `/` is the nurse's own landing.
    let r = c.get(w.url("/")).send().await.unwrap();
    assert_eq!(r.headers()["location"], "/worklist");
    // The API and form posts are never remembered.
    let anon = client();
    let r = anon
        .get(w.url(&format!("/api/v1/patients/{}", w.patient_a)))
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("set-cookie").is_none());
    let r = anon
        .post(w.url(&page))
        .form(&[("x", "y")])
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("set-cookie").is_none());
});
