//! The clinical calculators over the API agree with the engine.

use super::*;

/// `POST /api/v1/calc/{name}` gives exactly what the engine (and so the CLI)
/// gives, for every documented example; overrides come from the signed-in
/// prescriber, never from the body.
#[tokio::test]
async fn calculators_over_the_api_match_the_engine() {
    let w = World::new(TestDb::sqlite().await).await;
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
