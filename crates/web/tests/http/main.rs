//! HTTP tests against the real server on a port-0 listener (SQLite, and
//! PostgreSQL when `CAREPATH_TEST_POSTGRES_URL` is set), one module per area.

mod access;
mod calc;
mod dosing;
mod fhir;
mod finder;
mod intake;
mod labs;
mod outcomes;
mod path;
mod portal;
mod teds;
mod trust;

pub use carepath_domain::audit::Outcome;
pub use carepath_domain::authz::{Permission, Role, role_allows};
pub use carepath_domain::ids::UserId;
pub use carepath_testkit::{
    PW, TestDb, World, client, code_now, get_json, get_text, post_json, system,
};
pub use carepath_web::WebConfig;
pub use carepath_web::routes::{Guard, specs};
pub use reqwest::StatusCode;

/// Sign in as `username` (giving the second factor when `mfa`).
pub async fn login(w: &World, username: &str, mfa: bool) -> reqwest::Client {
    carepath_testkit::login(&w.base, username, mfa).await
}

/// Settings for tests with a change.
/// A call-back request from the finder, then the registration from it (with
/// an admission at `level`) by `client` over the API: (referral, patient id).
pub async fn register_from_callback(
    w: &World,
    client: &reqwest::Client,
    caller: &str,
    level: &str,
) -> (String, String) {
    let referral = carepath_app::intake::request_callback(
        &w.app,
        w.a,
        &carepath_app::model::NewReferral {
            name: caller.into(),
            phone: "410-555-0101".into(),
            best_time: "noon".into(),
            note: None,
            language: "en".into(),
        },
        None,
    )
    .await
    .unwrap();
    let (st, v) = post_json(
        client,
        format!("{}/api/v1/patients", w.base),
        serde_json::json!({
        "program_id": w.a.to_string(), "legal_first_name": "Casey", "legal_last_name": "Morgan",
        "date_of_birth": "1991-05-06", "sex": "female", "admit_level": level,
        "referral_id": referral}),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    (referral, v["id"].as_str().unwrap().to_string())
}

pub fn with(f: impl FnOnce(&mut WebConfig)) -> WebConfig {
    let mut c = carepath_testkit::settings();
    f(&mut c);
    c
}

/// A directory listing in Baltimore for finder tests.
pub fn fac(id: &str, lat: f64, lon: f64, codes: &[&str]) -> carepath_finder::Facility {
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
        updated: None,
    }
}

pub fn concrete(path: &str, w: &World, uid: UserId) -> String {
    path.replace("/patients/{id}", &format!("/patients/{}", w.patient_a))
        .replace("/admin/users/{id}", &format!("/admin/users/{uid}"))
        .replace("{file}", "app.css")
        .replace("{name}", "cows")
        .replace("{id}", &uuid::Uuid::now_v7().to_string())
}

pub fn assessment_body() -> serde_json::Value {
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
