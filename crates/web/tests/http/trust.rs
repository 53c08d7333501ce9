//! Issue 10 over HTTP: hostile or malformed input answers 4xx and changes
//! nothing (no 500, no half-written account), on both databases.

use crate::*;

carepath_testkit::both!(bad_input_is_refused_whole, |db| {
    let w = World::new(db).await;
    let admin = w.login(Role::Admin).await;
    let nurse = w.login(Role::Nurse).await;
    let base = &w.base;

    // A new account in a program that does not exist: refused by name, and
    // no account is left behind without a role.
    let before = w.store().list_users().await.unwrap().len();
    let r = admin
        .post(format!("{base}/admin/users"))
        .form(&[
            ("username", "ghost.user"),
            ("display_name", "Ghost"),
            ("password", "a long enough password 1"),
            ("program_id", &uuid::Uuid::now_v7().to_string()),
            ("role", "nurse"),
        ])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    assert!(r.text().await.unwrap().contains("no such program"));
    assert_eq!(w.store().list_users().await.unwrap().len(), before);
    // In program B, which this administrator does not administer: refused.
    let r = admin
        .post(format!("{base}/admin/users"))
        .form(&[
            ("username", "b.user"),
            ("display_name", "B"),
            ("password", "a long enough password 1"),
            ("program_id", &w.b.to_string()),
            ("role", "nurse"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(w.store().list_users().await.unwrap().len(), before);

    // The enrolment page offers a server-made secret; a secret sent by the
    // client (80 bits, all zero) is ignored, and a wrong code is a 200 page
    // with the error, not a 500.
    let page = get_text(&nurse, format!("{base}/mfa/enroll")).await;
    assert!(!page.contains("name=\"secret\""), "no secret in the form");
    let r = nurse
        .post(format!("{base}/mfa/enroll"))
        .form(&[("secret", "AAAAAAAAAAAAAAAA"), ("code", "123456")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("did not match"));
    let u = w.store().user(w.user(Role::Nurse).0).await.unwrap();
    assert!(u.totp_secret.is_none());

    // Enrollment with an unknown patient id: 404, not 500.
    let sessions = carepath_app::work::schedule(
        &w.app,
        &w.principal(Role::Counselor).await,
        w.a,
        &carepath_app::work::SeriesInput {
            kind: "group".into(),
            title: "Group".into(),
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
    .unwrap();
    let (st, _) = post_json(
        &nurse,
        format!("{base}/api/v1/sessions/{}/enrollment", sessions[0]),
        serde_json::json!({"patient_id": uuid::Uuid::now_v7().to_string(), "action": "remove"}),
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // A COWS dated in year 0001 is refused, naming the field.
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
    let mut items = serde_json::Map::new();
    for (name, _) in carepath_clinical::cows::ITEMS.iter() {
        items.insert(name.to_string(), 0.into());
    }
    let (st, e) = post_json(
        &nurse,
        format!("{base}/api/v1/patients/{}/records/cows", w.patient_a),
        serde_json::json!({"items": items, "vitals": {"hr": 80}, "observed_at": "0001-01-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["error"]["field"], "observed_at", "{e}");
});

/// Behind a trusted reverse proxy that terminates TLS: cookies are Secure,
/// HSTS is sent, the client's own address is what is rate-limited and
/// audited; a spoofed forwarding header from anyone else is ignored.
/// `/metrics` needs its token when one is configured.
#[tokio::test]
async fn behind_a_trusted_proxy_and_metrics_behind_a_token() {
    let w = World::with(
        TestDb::sqlite().await,
        with(|c| {
            c.trusted_proxies = vec!["127.0.0.1".into()];
            c.metrics_token = Some("a-long-metrics-token".into());
        }),
    )
    .await;
    let (_, name) = w.user(Role::Nurse);
    let r = client()
        .post(w.url("/login"))
        .header("x-forwarded-for", "6.6.6.6, 198.51.100.7")
        .header("x-forwarded-proto", "https")
        .form(&[("username", name), ("password", PW)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let cookie = r.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(r.headers().contains_key("strict-transport-security"));
    let logins = w
        .store()
        .audit_events(&carepath_store::AuditFilter {
            action: Some("auth.login".into()),
            limit: 5,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        logins.events[0].event.client_addr.as_deref(),
        Some("198.51.100.7"),
        "the client the proxy saw, not the spoofed left part"
    );
    // Plain HTTP through the proxy: no Secure flag, no HSTS.
    let r = client()
        .post(w.url("/login"))
        .form(&[("username", name), ("password", PW)])
        .send()
        .await
        .unwrap();
    assert!(
        !r.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Secure")
    );
    assert!(!r.headers().contains_key("strict-transport-security"));

    let r = client().get(w.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = client()
        .get(w.url("/metrics"))
        .bearer_auth("a-long-metrics-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

/// A link cannot put words on a Carepath page: notices carried across a
/// redirect show only when the server signed them (issue 12, item 14).
#[tokio::test]
async fn a_link_cannot_put_words_on_a_page() {
    let w = World::new(TestDb::sqlite().await).await;
    let nurse = w.login(Role::Nurse).await;
    let base = &w.base;
    let pid = w.patient_a;
    let forged = "Call 555-0100 now to keep your dose";
    for url in [
        format!("{base}/patients/{pid}?error=Call+555-0100+now+to+keep+your+dose"),
        format!("{base}/patients/{pid}?error=Call+555-0100+now+to+keep+your+dose&sig=00ff"),
        format!("{base}/dosing?done=Call+555-0100+now+to+keep+your+dose"),
        format!("{base}/dosing/{pid}/orders?done=Call+555-0100+now+to+keep+your+dose"),
    ] {
        let page = get_text(&nurse, url.clone()).await;
        assert!(!page.contains(forged), "{url}");
    }
    // What the server itself says after a redirect still shows.
    let r = nurse
        .post(format!("{base}/dosing/{pid}/arrive"))
        .form(&[("window", "1")])
        .send()
        .await
        .unwrap();
    let to = r.headers()["location"].to_str().unwrap().to_string();
    assert!(to.contains("sig="), "{to}");
    let page = get_text(&nurse, format!("{base}{to}")).await;
    assert!(page.contains("is in the queue"), "{page}");
}

/// Safe defaults (issue 12, item 14): the public lands on the finder, an
/// admission defaults to the program's own level of care, and granting a
/// role starts from no role.
#[tokio::test]
async fn defaults_are_safe() {
    let w = World::new(TestDb::sqlite().await).await;
    let base = &w.base;
    let r = client().get(format!("{base}/")).send().await.unwrap();
    assert_eq!(r.headers()["location"], "/find");
    let find = get_text(&client(), format!("{base}/find")).await;
    assert!(find.contains("href=\"/login\""), "staff can still sign in");
    let nurse = w.login(Role::Nurse).await;
    let r = nurse.get(format!("{base}/")).send().await.unwrap();
    // Each role lands on its work: the nurse on the worklist, the
    // administrator on the dashboard.
    assert_eq!(r.headers()["location"], "/worklist");
    let admit = get_text(&nurse, format!("{base}/patients/{}/episode", w.patient_a)).await;
    assert!(
        admit.contains("<option value=\"opioid_treatment_program\" selected>"),
        "{admit}"
    );
    assert!(!admit.contains("<option value=\"withdrawal_management\" selected>"));
    let admin = w.login(Role::Admin).await;
    let r = admin.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(r.headers()["location"], "/dashboard");
    let users = get_text(&admin, format!("{base}/admin/users")).await;
    assert!(users.contains("<option value=\"\" selected disabled>Choose a role…</option>"));
    assert!(!users.contains("<option value=\"admin\" selected"));
    // A dead link followed by the public lands in the finder's frame, not
    // at the staff sign-in; a dead facility link too, in the asked language.
    for (path, words) in [
        ("/no/such/page", "We could not find that page"),
        ("/find/facility/no-such-id", "We could not find that page"),
        (
            "/find/facility/no-such-id?lang=es",
            "No encontramos esa página",
        ),
    ] {
        let r = client().get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), reqwest::StatusCode::NOT_FOUND, "{path}");
        let page = r.text().await.unwrap();
        assert!(
            page.contains(words) && page.contains("href=\"/find?lang=") && page.contains("tel:988"),
            "{path}: {page}"
        );
        assert!(!page.contains("action=\"/login\""), "{path}");
    }
    // Staff keep their own frame.
    let r = nurse
        .get(format!("{base}/no/such/page"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::NOT_FOUND);
    assert!(
        !r.text()
            .await
            .unwrap()
            .contains("We could not find that page")
    );
}
