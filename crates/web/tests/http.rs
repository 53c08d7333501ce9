//! HTTP tests against the real server on a port-0 listener, on SQLite and
//! (when configured) PostgreSQL.

use carepath_domain::audit::{NewEvent, Outcome};
use carepath_domain::authz::{Permission, Role, role_allows};
use carepath_domain::ids::{PatientId, ProgramId, UserId};
use carepath_domain::patient::{Demographics, Sex, mrn_from_serial};
use carepath_domain::program::ProgramKind;
use carepath_store::Store;
use carepath_store::programs::NewProgram;
use carepath_store::testing::TestDb;
use carepath_web::routes::{Guard, specs};
use carepath_web::{AppState, WebConfig};
use reqwest::StatusCode;

const PW: &str = "correct horse battery staple";
const SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

struct World {
    base: String,
    store: Store,
    a: ProgramId,
    patient_a: PatientId,
    patient_b: PatientId,
    users: Vec<(Role, UserId, String)>,
    _db: TestDb,
}

fn ev(a: &str) -> NewEvent {
    NewEvent::new(a, Outcome::Success)
}

async fn world(db: TestDb) -> World {
    world_with(
        db,
        WebConfig {
            login_attempts_per_minute: 1000,
            ..Default::default()
        },
    )
    .await
}

async fn world_with(db: TestDb, cfg: WebConfig) -> World {
    let s = db.store.clone();
    let org = s.create_organization("T", ev("org.create")).await.unwrap();
    let mk = |n: &str, k| NewProgram {
        name: n.into(),
        kind: k,
        address: "x".into(),
        timezone: "America/Chicago".into(),
        hours: "x".into(),
    };
    let a = s
        .create_program(
            org.id,
            &mk("A", ProgramKind::OpioidTreatmentProgram),
            ev("p"),
        )
        .await
        .unwrap()
        .id;
    let b = s
        .create_program(org.id, &mk("B", ProgramKind::Residential), ev("p"))
        .await
        .unwrap()
        .id;
    let d = |f: &str| Demographics {
        legal_first_name: f.into(),
        legal_last_name: "Testcase".into(),
        preferred_name: None,
        date_of_birth: jiff::civil::date(1990, 1, 2),
        sex: Sex::Male,
    };
    let patient_a = s
        .create_patient(a, &d("Alpha"), &mrn_from_serial(1), None, ev("x"))
        .await
        .unwrap()
        .id;
    let patient_b = s
        .create_patient(b, &d("Bravo"), &mrn_from_serial(2), None, ev("x"))
        .await
        .unwrap()
        .id;
    let hash = carepath_web::auth::hash_password(PW.into()).await.unwrap();
    let mut users = vec![];
    for role in Role::ALL {
        let name = format!("u.{}", role.as_str().replace('_', "-"));
        let u = s.create_user(&name, &name, &hash, ev("u")).await.unwrap();
        s.grant_role(u.id, a, role, None, ev("g")).await.unwrap();
        if role.mfa_required_by_default() {
            s.set_totp(u.id, SECRET, 0, &[], ev("m")).await.unwrap();
        }
        users.push((role, u.id, name));
    }
    let base = carepath_web::spawn_loopback(AppState::new(s.clone(), cfg))
        .await
        .unwrap();
    World {
        base,
        store: s,
        a,
        patient_a,
        patient_b,
        users,
        _db: db,
    }
}

/// A directory listing in Baltimore for finder tests.
fn fac(id: &str, lat: f64, lon: f64, codes: &[&str]) -> carepath_finder::Facility {
    carepath_finder::Facility {
        id: id.into(),
        name: format!("Harbor Clinic {id}"),
        name2: None,
        street: "1 Main St".into(),
        city: "Baltimore".into(),
        state: "MD".into(),
        zip: "21201".into(),
        phone: Some("(410) 555-0100".into()),
        latitude: lat,
        longitude: lon,
        codes: codes.iter().map(|c| c.to_string()).collect(),
        sources: vec![],
        live: None,
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn code_now() -> String {
    let t = carepath_web::auth::totp(SECRET, "x").unwrap();
    t.generate_current().to_string()
}

async fn login(w: &World, username: &str, mfa: bool) -> reqwest::Client {
    let c = client();
    let r = c
        .post(format!("{}/login", w.base))
        .form(&[("username", username), ("password", PW)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "login {username}");
    if mfa {
        assert_eq!(r.headers()["location"], "/mfa");
        // The second factor is due: clinical pages are refused until it is given.
        let r = c.get(format!("{}/dashboard", w.base)).send().await.unwrap();
        assert_eq!(
            r.headers()["location"],
            "/mfa",
            "no dashboard before the second factor"
        );
        let r = c
            .post(format!("{}/mfa", w.base))
            .form(&[("code", code_now())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "mfa for {username}");
    }
    c
}

fn concrete(path: &str, w: &World, uid: UserId) -> String {
    path.replace("/patients/{id}", &format!("/patients/{}", w.patient_a))
        .replace("/admin/users/{id}", &format!("/admin/users/{uid}"))
        .replace("{file}", "app.css")
        .replace("{name}", "cows")
        .replace("{id}", &uuid::Uuid::now_v7().to_string())
}

#[tokio::test]
async fn every_route_for_every_role_matches_the_authorization_table() {
    for db in TestDb::all().await {
        let w = world(db).await;
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
                _ if spec.path.starts_with("/api/") => assert_eq!(
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
            w.store.verify_audit_chain(|_| {}).await.unwrap(),
            carepath_store::audit_log::VerifyResult::Intact { .. }
        ));
    }
}

#[tokio::test]
async fn program_a_staff_cannot_see_program_b_patients_and_break_glass_is_audited() {
    for db in TestDb::all().await {
        let w = world(db).await;
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
        let grants = w.store.list_break_glass(10).await.unwrap();
        assert_eq!(grants.len(), 1);
        let audit = w
            .store
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
}

#[tokio::test]
async fn api_tokens_errors_headers_csrf_and_openapi() {
    let w = world(TestDb::sqlite().await).await;
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
        .filter(|r| r.path.starts_with("/api/v1/") && r.path != "/api/v1/openapi.json")
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
    let w = world(TestDb::sqlite().await).await;
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
        .store
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
    let w = world_with(TestDb::sqlite().await, cfg).await;
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
        .store
        .audit_events(&carepath_store::AuditFilter {
            action: Some("auth.logout".into()),
            limit: 5,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(ev.events[0].event.detail.as_deref(), Some("idle timeout"));
}

/// `POST /api/v1/calc/{name}` gives exactly what the engine (and so the CLI)
/// gives, for every documented example; overrides come from the signed-in
/// prescriber, never from the body.
#[tokio::test]
async fn calculators_over_the_api_match_the_engine() {
    let w = world(TestDb::sqlite().await).await;
    let nurse = login(&w, "u.nurse", false).await;
    let prescriber = login(&w, "u.prescriber", true).await;
    let ctx = carepath_clinical::calc::Context {
        now: Some(jiff::Timestamp::now().to_string()),
    };
    for (name, input, _) in carepath_clinical::calc::documented_examples() {
        let has_override = input.get("override").is_some();
        let c = if has_override { &prescriber } else { &nurse };
        let r = c
            .post(format!("{}/api/v1/calc/{name}", w.base))
            .json(&input)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{name}");
        let got: serde_json::Value = r.json().await.unwrap();
        let mut expected_input = input.clone();
        if has_override {
            expected_input["override"]["by"] = "u.prescriber".into();
        }
        let want = carepath_clinical::calc::run(&name, expected_input, &ctx).unwrap();
        assert_eq!(got, want, "{name}");
    }
    // A nurse may not override; errors name the field; unknown calculators are 404.
    let ov = serde_json::json!({"policy": "federal-2024", "phase": "induction", "day_of_treatment": 1, "proposed_dose_mg": 60,
        "override": {"role": "prescriber", "by": "someone", "reason": "pretending to be a prescriber"}});
    let r = nurse
        .post(format!("{}/api/v1/calc/methadone-order", w.base))
        .json(&ov)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = nurse
        .post(format!("{}/api/v1/calc/cows", w.base))
        .json(&serde_json::json!({"items": {"pulse": 3}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let j: serde_json::Value = r.json().await.unwrap();
    assert_eq!(j["error"]["field"], "items.pulse");
    let r = nurse
        .post(format!("{}/api/v1/calc/astrology", w.base))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // Front desk has no calculators.
    let fd = login(&w, "u.front-desk", false).await;
    let r = fd
        .post(format!("{}/api/v1/calc/cows", w.base))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn facility_search_api_is_public_and_picks_up_imports() {
    let db = TestDb::sqlite().await;
    db.store
        .upsert_facilities(
            &[
                fac("near", 39.30, -76.62, &["MD", "METH"]),
                fac("far", 39.95, -75.16, &["MD", "METH"]),
                fac("nometh", 39.29, -76.61, &["MD"]),
            ],
            NewEvent::new("finder.import", Outcome::Success),
        )
        .await
        .unwrap();
    let w = world_with(
        db,
        WebConfig {
            finder_refresh_secs: 1,
            login_attempts_per_minute: 1000,
            ..Default::default()
        },
    )
    .await;
    let api = reqwest::Client::new();
    let j = get_json(
        &api,
        format!(
            "{}/api/v1/facilities?near=21201&radius_mi=25&codes=METH,MD",
            w.base
        ),
    )
    .await;
    assert_eq!(j["total"], 1);
    assert_eq!(j["results"][0]["id"], "near");
    assert!(j["results"][0]["distance_mi"].as_f64().unwrap() < 2.0);
    assert!(
        j["results"][0]["services"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["label"] == "Methadone")
    );
    let j = get_json(
        &api,
        format!("{}/api/v1/facilities?near=39.3,-76.6&page_size=2", w.base),
    )
    .await;
    assert_eq!(j["total"], 3);
    assert_eq!(j["results"].as_array().unwrap().len(), 2);
    let r = api
        .get(format!(
            "{}/api/v1/facilities?near=21201&page_size=500",
            w.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let j: serde_json::Value = r.json().await.unwrap();
    assert_eq!(j["error"]["field"], "page_size");
    let r = api
        .get(format!("{}/api/v1/facilities/near", w.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers().get("set-cookie").is_none(),
        "no cookies on public pages"
    );
    // An import while serving is picked up without a restart.
    w.store
        .upsert_facilities(
            &[fac("new", 39.31, -76.63, &["METH"])],
            NewEvent::new("finder.import", Outcome::Success),
        )
        .await
        .unwrap();
    let mut seen = false;
    for _ in 0..40 {
        let j = get_json(
            &api,
            format!("{}/api/v1/facilities?near=21201&codes=METH", w.base),
        )
        .await;
        if j["total"] == 3 {
            seen = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(seen, "the new facility appears after the refresh");
}

#[tokio::test]
async fn public_finder_pages_work_without_login_or_cookies_in_two_languages() {
    let db = TestDb::sqlite().await;
    db.store
        .upsert_facilities(
            &[
                fac("otp", 39.30, -76.62, &["OTP", "MD"]),
                fac("bup", 39.30, -76.62, &["BU", "PI"]),
            ],
            NewEvent::new("finder.import", Outcome::Success),
        )
        .await
        .unwrap();
    let w = world_with(
        db,
        WebConfig {
            login_attempts_per_minute: 1000,
            ..Default::default()
        },
    )
    .await;
    let c = client();
    let r = c
        .get(format!(
            "{}/find?near=21201&radius=10&f=methadone&f=medicaid",
            w.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().get("set-cookie").is_none());
    let html = r.text().await.unwrap();
    assert!(
        html.contains("Harbor Clinic otp") && !html.contains("Harbor Clinic bup"),
        "methadone + Medicaid filters"
    );
    assert!(html.contains("tel:+14105550100"), "tap-to-call");
    assert!(html.contains("1-800-662-4357") && html.contains("tel:988"));
    assert!(!html.contains("<script"), "public pages need no JavaScript");
    assert!(
        html.contains("/static/us-states.svg") && html.contains("class=\"pin\""),
        "an offline map with the results"
    );
    let map = c
        .get(format!("{}/static/us-states.svg", w.base))
        .send()
        .await
        .unwrap();
    assert_eq!(map.headers()["content-type"], "image/svg+xml");
    assert!(
        map.text()
            .await
            .unwrap()
            .contains("<title>Maryland</title>")
    );
    let es = get_text(&c, format!("{}/find?lang=es&near=21201", w.base)).await;
    assert!(es.contains("lang=\"es\"") && es.contains("programas encontrados"));
    let es2 = c
        .get(format!("{}/find", w.base))
        .header("accept-language", "es-MX,es;q=0.9")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(es2.contains("Encuentre tratamiento"));
    let r = c
        .get(format!("{}/find?near=00000", w.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("near-error"));
    let page = get_text(
        &c,
        format!("{}/find/facility/otp?back=https://evil.example/", w.base),
    )
    .await;
    assert!(
        page.contains("Federally certified opioid treatment program") && page.contains("Medicaid")
    );
    assert!(
        !page.contains("evil.example"),
        "the back link stays on this site"
    );
    assert_eq!(
        c.get(format!("{}/find/facility/nope", w.base))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn call_backs_reach_the_program_intake_queue() {
    let w = world(TestDb::sqlite().await).await;
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
    let queue = w.store.referrals(&[w.a], true).await.unwrap();
    assert_eq!(queue.len(), 1, "one real request, none from the bot");
    assert_eq!(queue[0].language, "es");

    // Intake of program A sees, claims and closes it; front desk of program A sees it too.
    let html = get_text(&intake, format!("{}/referrals", w.base)).await;
    assert!(html.contains("Sam") && html.contains("410-555-0199"));
    let id = queue[0].id.clone();
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
        w.store.referrals(&[w.a], true).await.unwrap()[0].status,
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
        .store
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
async fn self_screen_suggests_care_and_prefills_a_search() {
    let w = world(TestDb::sqlite().await).await;
    let c = client();
    let html = get_text(&c, format!("{}/find/options", w.base)).await;
    assert!(html.contains("Know your options") && !html.contains("What could help you"));
    let before = w.store.audit_count().await.unwrap();
    let r = c
        .get(format!("{}/find/options?lang=en&go=1&uses=heroin_fentanyl&last_use=today&withdrawal=severe&pregnant=no&mental_health=ok&living=stable&insurance=medicaid&medication=yes&residential=must_stay", w.base))
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("set-cookie").is_none());
    let html = r.text().await.unwrap();
    assert!(
        html.contains("Medication: methadone or buprenorphine")
            && html.contains("What to expect in withdrawal")
    );
    assert!(
        html.contains("radius=25&#38;f=methadone&#38;f=medicaid"),
        "prefilled search"
    );
    assert_eq!(
        w.store.audit_count().await.unwrap(),
        before,
        "nothing is stored"
    );
    let es = get_text(
        &c,
        format!(
            "{}/find/options?lang=es&go=1&uses=pills&mental_health=suicidal",
            w.base
        ),
    )
    .await;
    assert!(es.contains("Ayuda ahora mismo") && es.contains("988"));
}

#[tokio::test]
async fn a_call_back_becomes_a_registration_without_retyping() {
    let w = world(TestDb::sqlite().await).await;
    let r = carepath_store::referrals::NewReferral {
        name: "Robin".into(),
        phone: "410-555-0177".into(),
        best_time: "noon".into(),
        note: None,
        language: "en".into(),
    };
    let id = w
        .store
        .create_referral(w.a, &r, NewEvent::new("referral.create", Outcome::Success))
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
    let closed = w.store.referrals(&[w.a], true).await.unwrap();
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
    let w = world(TestDb::sqlite().await).await;
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

async fn get_json(c: &reqwest::Client, url: String) -> serde_json::Value {
    c.get(url).send().await.unwrap().json().await.unwrap()
}

async fn get_text(c: &reqwest::Client, url: String) -> String {
    c.get(url).send().await.unwrap().text().await.unwrap()
}

async fn post_json(
    c: &reqwest::Client,
    url: String,
    body: serde_json::Value,
) -> (StatusCode, serde_json::Value) {
    let r = c.post(url).json(&body).send().await.unwrap();
    let st = r.status();
    let v = r.json().await.unwrap_or(serde_json::Value::Null);
    (st, v)
}

fn assessment_body() -> serde_json::Value {
    serde_json::json!({
        "substances": [{"code": 5, "route": 4, "frequency": 3, "age_first_use": 19},
                       {"code": 13, "route": 1, "frequency": 2, "age_first_use": 22}],
        "last_opioid": "heroin",
        "last_use_at": jiff::Timestamp::now().checked_sub(jiff::SignedDuration::from_hours(10)).unwrap().to_string(),
        "prior_treatment_episodes": 2,
        "overdoses_lifetime": 1,
        "dsm5": ["A1","A2","A3","A4","A5","A6","A10","A11"],
        "dimensions": {"withdrawal": 3, "biomedical": 1, "emotional_behavioral": 2, "readiness": 2, "relapse": 3, "recovery_environment": 3},
        "cows": 14,
        "phq9": [1,2,1,2,1,1,0,1,0],
        "gad7": [2,2,1,1,0,1,1],
        "suicide_question": false,
        "pregnancy": "not_applicable",
        "flags": ["co_occurring"],
        "placement": {"accept": true}
    })
}

/// The patient's path through the JSON API: registration and admission,
/// assessment with a placement recommendation, two COWS entries, an order only a
/// prescriber can sign, a held comfort dose, a group with attendance, a note
/// signed and amended (both versions kept), consent-gated disclosure with its
/// accounting, discharge with naloxone rule and follow-ups on the worklist.
#[tokio::test]
async fn the_patients_path_through_the_api() {
    for db in TestDb::all().await {
        let w = world(db).await;
        let base = &w.base;
        let intake = login(&w, "u.intake", false).await;
        let nurse = login(&w, "u.nurse", false).await;
        let counselor = login(&w, "u.counselor", false).await;
        let prescriber = login(&w, "u.prescriber", true).await;
        let front = login(&w, "u.front-desk", false).await;
        let auditor = login(&w, "u.auditor", false).await;
        // A call-back request from the finder becomes the registration.
        let referral = w
            .store
            .create_referral(
                w.a,
                &carepath_store::referrals::NewReferral {
                    name: "Casey".into(),
                    phone: "410-555-0101".into(),
                    best_time: "noon".into(),
                    note: None,
                    language: "en".into(),
                },
                NewEvent::new("referral.create", Outcome::Success),
            )
            .await
            .unwrap();
        let (st, v) = post_json(
            &intake,
            format!("{base}/api/v1/patients"),
            serde_json::json!({
            "program_id": w.a.to_string(), "legal_first_name": "Casey", "legal_last_name": "Morgan",
            "date_of_birth": "1991-05-06", "sex": "female", "admit_level": "withdrawal_management",
            "referral_id": referral}),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        let pid = v["id"].as_str().unwrap().to_string();
        let rec = |kind: &str| format!("{base}/api/v1/patients/{pid}/records/{kind}");
        let closed = w.store.referrals(&[w.a], true).await.unwrap();
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
        assert!(
            form.contains("Change a comfort-medication order") && form.contains("value=\"0.1\"")
        );
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
            "start_date": jiff::Zoned::now().date().to_string(), "time": "00:01", "minutes": 90, "weekdays": [1,3,5], "weeks": 4})).await;
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
        let enroll =
            |action: &'static str| serde_json::json!({"patient_id": pid, "action": action});
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
        let review = jiff::Zoned::now()
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
        let today = jiff::Zoned::now().date();
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
        let today = jiff::Zoned::now().date();
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
        let (st, _) = post_json(&intake, format!("{base}/api/v1/patients/{pid}/disclosures"), serde_json::json!({
            "consent_id": consent, "recipient": "Acme Insurance", "purpose": "coordination of care"})).await;
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
        let q = w.store.referrals(&[w.a], false).await.unwrap();
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
            w.store.verify_audit_chain(|_| {}).await.unwrap(),
            carepath_store::audit_log::VerifyResult::Intact { .. }
        ));
    }
}
