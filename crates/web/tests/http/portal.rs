//! The patient portal over HTTP: staff invite, the patient joins and signs
//! in on their own cookie; every route of the server, walked with a portal
//! session and other patients' ids, gives nothing; check-ins reach the
//! staff worklist; rewards are requested and fulfilled.

use super::*;
use carepath_app::chart::{self, AdmitInput};

/// The invitation code on the staff page after "Make an invitation code".
async fn invite(staff: &reqwest::Client, w: &World, patient: &str) -> String {
    let r = staff
        .post(w.url(&format!("/patients/{patient}/portal/invite")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    let at = page.find("id=\"invite-code\">").expect("code shown") + 17;
    page[at..at + 14].to_string()
}

/// A browser that joined the portal with `code`.
async fn join(w: &World, code: &str, username: &str, lang: &str) -> reqwest::Client {
    let c = client();
    let r = c
        .post(w.url("/portal/join"))
        .form(&[
            ("code", code),
            ("username", username),
            ("password", PW),
            ("confirm", PW),
            ("language", lang),
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
    c
}

async fn admit(w: &World, patient: carepath_domain::ids::PatientId) {
    chart::admit(
        &w.app,
        &system(),
        patient,
        &AdmitInput {
            program_id: w.a.to_string(),
            level_of_care: "opioid_treatment_program".into(),
        },
    )
    .await
    .unwrap();
}

carepath_testkit::both!(
    every_route_with_a_portal_session_reaches_only_its_own_patient,
    |db| {
        let w = World::new(db).await;
        admit(&w, w.patient_a).await;
        // A second patient of the same program, with a record and a portal account.
        let other = carepath_app::registration::register(
            &w.app,
            &system(),
            &carepath_app::registration::Registration {
                program_id: w.a.to_string(),
                legal_first_name: "Charlie".into(),
                legal_last_name: "Otherperson".into(),
                date_of_birth: "1985-03-04".into(),
                sex: "female".into(),
                confirm_new: true,
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .id;
        admit(&w, other).await;
        let intake = w.login(Role::Intake).await;
        let code = invite(&intake, &w, &w.patient_a.to_string()).await;
        let me = join(&w, &code, "alpha.t", "en").await;
        let code_o = invite(&intake, &w, &other.to_string()).await;
        let them = join(&w, &code_o, "charlie.o", "en").await;
        let r = them
            .post(w.url("/api/v1/portal/reports"))
            .json(&serde_json::json!({"craving": 9, "mood": 1}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        let home = get_text(&me, w.url("/portal")).await;
        assert!(home.contains("Alpha"), "{home}");
        let me_json = get_json(&me, w.url("/api/v1/portal/me")).await;
        assert_eq!(me_json["first_name"], "Alpha");
        let record_o = w
            .store()
            .patient_records(other, &[])
            .await
            .unwrap()
            .first()
            .map(|r| r.id.clone())
            .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
        let report_o = w.store().patient_reports(other, 1).await.unwrap()[0]
            .id
            .clone();
        let before = w.store().audit_head().await.unwrap().0;
        // Every route, with the other patients' ids wherever an id goes.
        let mut tried = 0;
        let unknown = uuid::Uuid::now_v7().to_string();
        for (victim, rid) in [(other, record_o.as_str()), (w.patient_b, unknown.as_str())] {
            for spec in specs() {
                if spec.guard == Guard::Public {
                    continue;
                }
                if spec.path == "/portal/sign-out" {
                    continue;
                }
                let path = spec
                    .path
                    .replace("{id}", &victim.to_string())
                    .replace(
                        "{rid}",
                        if spec.path.starts_with("/portal-reports") {
                            &report_o
                        } else {
                            rid
                        },
                    )
                    .replace("{item}", &uuid::Uuid::now_v7().to_string())
                    .replace("{slug}", "withdrawal")
                    .replace("{sid}", &uuid::Uuid::now_v7().to_string())
                    .replace("{kind}", "cows")
                    .replace("{name}", "cows")
                    .replace("{file}", "app.css")
                    .replace(['{', '}'], "");
                let req = me.request(spec.method.clone(), w.url(&path));
                let req = if carepath_web::routes::is_api(spec.path) {
                    req.json(&serde_json::json!({}))
                } else {
                    req.form(&[("x", "y")])
                };
                let r = req.send().await.unwrap();
                let st = r.status();
                let loc = r
                    .headers()
                    .get("location")
                    .map(|v| v.to_str().unwrap().to_string());
                let body = r.text().await.unwrap_or_default();
                tried += 1;
                assert!(
                    !body.contains("Charlie")
                        && !body.contains("Otherperson")
                        && !body.contains("Bravo"),
                    "{} {} showed another patient",
                    spec.method,
                    spec.path
                );
                match spec.guard {
                    Guard::Portal | Guard::PortalSignedIn | Guard::Family => assert!(
                        st.is_success() || matches!(st.as_u16(), 303 | 404 | 409 | 422),
                        "{} {} answered {st}",
                        spec.method,
                        spec.path
                    ),
                    _ if carepath_web::routes::is_api(spec.path) => {
                        assert_eq!(
                            st,
                            StatusCode::UNAUTHORIZED,
                            "{} {}",
                            spec.method,
                            spec.path
                        )
                    }
                    _ => assert_eq!(
                        loc.as_deref(),
                        Some("/login"),
                        "{} {} ({st})",
                        spec.method,
                        spec.path
                    ),
                }
            }
        }
        assert!(tried > 300, "{tried}");
        // A family member of the first patient, walking every route with
        // that patient's own ids: their one page, nothing of the record.
        let nurse_p = w.principal(Role::Nurse).await;
        let today = jiff::Timestamp::now()
            .in_tz("America/Chicago")
            .unwrap()
            .date();
        let (consent, _) = carepath_app::chart::create(
            &w.app,
            &nurse_p,
            w.patient_a,
            &carepath_app::kinds::Input::from_json(
                carepath_app::kinds::Kind::Consent,
                serde_json::json!({"kind": "family", "recipient": "Maria Lopez (mother)",
                    "information": "appointments", "purpose": "family involvement",
                    "expires_on": today.checked_add(jiff::Span::new().days(30)).unwrap().to_string(),
                    "signed_by": "Alpha Testcase", "signed_on": today.to_string()}),
            )
            .unwrap(),
        )
        .await
        .unwrap();
        let inv =
            carepath_app::portal::invite_family(&w.app, &nurse_p, w.patient_a, &consent, true)
                .await
                .unwrap();
        let fam = join(&w, &inv.code, "maria.l", "en").await;
        let page = get_text(&fam, w.url("/portal/family")).await;
        assert!(
            page.contains("Maria Lopez (mother)") && page.contains("Alpha"),
            "{page}"
        );
        let own_record = w.store().patient_records(w.patient_a, &[]).await.unwrap()[0]
            .id
            .clone();
        for spec in specs() {
            if spec.guard == Guard::Public || spec.path == "/portal/sign-out" {
                continue;
            }
            let path = spec
                .path
                .replace("{id}", &w.patient_a.to_string())
                .replace("{rid}", &own_record)
                .replace("{item}", &uuid::Uuid::now_v7().to_string())
                .replace("{slug}", "withdrawal")
                .replace("{aid}", &uuid::Uuid::now_v7().to_string())
                .replace("{sid}", &uuid::Uuid::now_v7().to_string())
                .replace("{kind}", "cows")
                .replace("{name}", "cows")
                .replace("{file}", "app.css")
                .replace(['{', '}'], "");
            let req = fam.request(spec.method.clone(), w.url(&path));
            let req = if carepath_web::routes::is_api(spec.path) {
                req.json(&serde_json::json!({}))
            } else {
                req.form(&[("x", "y")])
            };
            let r = req.send().await.unwrap();
            let st = r.status();
            let loc = r
                .headers()
                .get("location")
                .map(|v| v.to_str().unwrap().to_string());
            let body = r.text().await.unwrap_or_default();
            assert!(
                !body.contains("Testcase") && !body.contains("MRN"),
                "{} {} showed the record to a family member",
                spec.method,
                spec.path
            );
            match spec.guard {
                Guard::Family => assert!(st.is_success(), "{} {st}", spec.path),
                Guard::Portal if carepath_web::routes::is_api(spec.path) => {
                    assert_eq!(st, StatusCode::FORBIDDEN, "{} {}", spec.method, spec.path)
                }
                Guard::Portal => assert_eq!(
                    loc.as_deref(),
                    Some("/portal/family"),
                    "{} {} ({st})",
                    spec.method,
                    spec.path
                ),
                Guard::PortalSignedIn => assert!(
                    matches!(st.as_u16(), 303 | 422),
                    "{} {} answered {st}",
                    spec.method,
                    spec.path
                ),
                _ if carepath_web::routes::is_api(spec.path) => {
                    assert_eq!(
                        st,
                        StatusCode::UNAUTHORIZED,
                        "{} {}",
                        spec.method,
                        spec.path
                    )
                }
                _ => assert_eq!(
                    loc.as_deref(),
                    Some("/login"),
                    "{} {} ({st})",
                    spec.method,
                    spec.path
                ),
            }
        }
        // Nothing of the others was opened or written by the portal account.
        let events = w
            .store()
            .audit_events(&carepath_store::AuditFilter {
                limit: 5000,
                ..Default::default()
            })
            .await
            .unwrap()
            .events;
        let mine = me_json["first_name"].as_str().unwrap().to_string();
        assert_eq!(mine, "Alpha");
        for e in events.iter().filter(|e| e.seq > before) {
            if e.event.role.as_deref() == Some("patient")
                && e.event.outcome == Outcome::Success
                && let Some(p) = &e.event.patient_id
            {
                assert_eq!(p, &w.patient_a.to_string(), "{:?}", e.event);
            }
        }
        assert_eq!(w.store().patient_reports(other, 10).await.unwrap().len(), 1);
        assert!(
            w.store()
                .patient_reports(w.patient_a, 10)
                .await
                .unwrap()
                .is_empty()
        );
        // A staff session is nothing to the portal, and the reverse.
        let nurse = w.login(Role::Nurse).await;
        let r = nurse.get(w.url("/portal")).send().await.unwrap();
        assert_eq!(r.headers()["location"], "/portal/sign-in");
        let r = nurse.get(w.url("/api/v1/portal/me")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        // The worklist shows the other patient's alert to staff.
        let wl = get_text(&nurse, w.url("/worklist")).await;
        assert!(wl.contains("craving 9/10"), "{wl}");
        // Who it is, beyond the name: birth date and MRN.
        assert!(wl.contains("DOB 1985-03-04 · MRN"), "{wl}");
    }
);

carepath_testkit::both!(
    a_patient_checks_in_asks_for_a_reward_and_reads_in_spanish,
    |db| {
        let w = World::new(db).await;
        admit(&w, w.patient_a).await;
        let intake = w.login(Role::Intake).await;
        let code = invite(&intake, &w, &w.patient_a.to_string()).await;
        let me = join(&w, &code, "alpha.t", "es").await;
        let home = get_text(&me, w.url("/portal")).await;
        assert!(home.contains("lang=\"es\""), "the account's language");
        assert!(home.contains("Hola,"));
        assert!(home.contains("988") && home.contains("1-800-662-4357"));
        // An incomplete check-in keeps what was chosen and names the gap.
        let r = me
            .post(w.url("/portal/check-in"))
            .form(&[("craving", "9"), ("s0", "3")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let page = r.text().await.unwrap();
        assert!(
            page.contains("name=\"craving\" value=\"9\" checked"),
            "kept"
        );
        assert!(page.contains("name=\"s0\" value=\"3\" checked"), "kept");
        assert!(page.contains("Elija cómo se siente."), "{page}");
        let mut form: Vec<(String, String)> = (0..16)
            .map(|i| (format!("s{i}"), "2".to_string()))
            .collect();
        form.push(("craving".into(), "9".into()));
        form.push(("mood".into(), "2".into()));
        let r = me
            .post(w.url("/portal/check-in"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["location"], "/portal?done=reported_alert");
        // Switch to English; the page comes back in English.
        let r = me
            .post(w.url("/portal/language"))
            .form(&[("lang", "en"), ("back", "/portal/check-in")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["location"], "/portal/check-in");
        let page = get_text(&me, w.url("/portal/check-in")).await;
        assert!(page.contains("How strong is your craving right now?"));
        assert!(page.contains("SOWS 32"));
        // An open redirect is not possible through the switch.
        let r = me
            .post(w.url("/portal/language"))
            .form(&[("lang", "en"), ("back", "//evil.example/")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["location"], "/portal");
        // Staff see it on the patient's portal page and acknowledge it.
        let nurse = w.login(Role::Nurse).await;
        let page = get_text(&nurse, w.url(&format!("/patients/{}/portal", w.patient_a))).await;
        assert!(page.contains("withdrawal SOWS 32"), "{page}");
        let rid = w.store().patient_reports(w.patient_a, 1).await.unwrap()[0]
            .id
            .clone();
        let r = nurse
            .post(w.url(&format!("/portal-reports/{rid}/ack")))
            .form(&[("note", "Called; seen at the window")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let page = get_text(&me, w.url("/portal")).await;
        assert!(page.contains("your care team saw it"));
        // The stylesheet is cached by a phone and revalidated cheaply.
        let r = client().get(w.url("/static/app.css")).send().await.unwrap();
        assert_eq!(r.headers()["cache-control"], "public, max-age=600");
        let tag = r.headers()["etag"].to_str().unwrap().to_string();
        let r = client()
            .get(w.url("/static/app.css"))
            .header("if-none-match", &tag)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
        // Education in both languages.
        let en = get_text(&me, w.url("/portal/learn/overdose")).await;
        assert!(en.contains("How to use naloxone nasal spray"));
        let es = get_text(&me, w.url("/portal/learn/overdose?lang=es")).await;
        assert!(es.contains("Cómo usar la naloxona"));
        let r = me.get(w.url("/portal/learn/nope")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        // Signing out ends the session.
        let r = me.post(w.url("/portal/sign-out")).send().await.unwrap();
        assert!(
            r.headers()["location"]
                .to_str()
                .unwrap()
                .starts_with("/portal/sign-in?m=out")
        );
        let r = me.get(w.url("/api/v1/portal/me")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        // Signing in again works; a wrong password says so in the page's language.
        let c = client();
        let r = c
            .post(w.url("/portal/sign-in"))
            .form(&[
                ("username", "alpha.t"),
                ("password", "nope nope nope"),
                ("lang", "es"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(
            r.text()
                .await
                .unwrap()
                .contains("El usuario o la contraseña no son correctos")
        );
        let r = c
            .post(w.url("/portal/sign-in"))
            .form(&[("username", "alpha.t"), ("password", PW)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["location"], "/portal");
        // A second factor: set it up on the security page; from then on a
        // password alone opens nothing but the code page.
        let r = c
            .post(w.url("/portal/security/start"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["location"], "/portal/security");
        let page = get_text(&c, w.url("/portal/security")).await;
        let at = page.find("id=\"totp-secret\">").unwrap() + 17;
        let secret = page[at..].split('<').next().unwrap().to_string();
        assert!(page.contains("<svg role=\"img\""), "QR code");
        let code = carepath_app::auth::totp(&secret, "alpha.t")
            .unwrap()
            .generate_current()
            .to_string();
        let r = c
            .post(w.url("/portal/security/enable"))
            .form(&[("code", code.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["location"], "/portal/security?done=factor_on");
        let r = c.post(w.url("/portal/sign-out")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let r = c
            .post(w.url("/portal/sign-in"))
            .form(&[("username", "alpha.t"), ("password", PW)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["location"], "/portal/code");
        for page in ["/portal", "/portal/treatment", "/portal/security"] {
            let r = c.get(w.url(page)).send().await.unwrap();
            assert_eq!(r.headers()["location"], "/portal/code", "{page}");
        }
        let r = c.get(w.url("/api/v1/portal/me")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let r = c
            .post(w.url("/portal/code"))
            .form(&[("code", code.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::UNAUTHORIZED,
            "a code is accepted once"
        );
        assert!(r.text().await.unwrap().contains("That code did not work"));
    }
);
