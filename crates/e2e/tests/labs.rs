//! Drug testing and incentives in headless Chromium, as staff would use
//! them: a nurse records a cup (fentanyl negative) for a patient enrolled
//! in prize draws, sees the result on the timeline and chart, draws at the
//! desk, and redeems a reward from the catalog; a prescriber sees a
//! positive cup on the worklist and reviews it; the lab inbox and the
//! rewards store render. axe-core on every page on the way.

use carepath_app::cm::{self, EnrollInput, FundingInput, ItemInput};
use carepath_app::drugtest::{self, CollectInput, ResultInput};
use carepath_domain::authz::Role;
use carepath_domain::program::ProgramKind;
use carepath_e2e::{
    axe, browser, main_text, select, sign_in, skip_or_fail, submit_and_leave, type_in,
};
use carepath_testkit::{Clinic, PW, TestDb, code_now, system};
use fantoccini::Locator;

#[tokio::test]
async fn a_cup_a_prize_draw_and_a_reward_in_headless_chromium() {
    let Some(b) = browser(1100, 900, true).await else {
        return skip_or_fail("chromedriver (apt-get install chromium chromium-driver)");
    };
    let c = &b.client;
    let axe_js = carepath_e2e::axe_source("drug testing");
    let mut problems: Vec<String> = vec![];
    let clinic = Clinic::new(
        TestDb::sqlite().await,
        "E2E OTP",
        ProgramKind::OpioidTreatmentProgram,
        "America/New_York",
    )
    .await;
    let app = clinic.app.clone();
    clinic
        .staff("dr.labs", "Dr Ada Quinn", &[Role::Prescriber])
        .await;
    let nurse_id = clinic
        .staff("nurse.labs", "Nurse Lee Park", &[Role::Nurse])
        .await;
    let sam = clinic
        .patient(
            "Sam",
            "Ortiz",
            "1988-05-06",
            Some(ProgramKind::OpioidTreatmentProgram),
        )
        .await;
    let nurse = carepath_app::Principal::system_for(
        "e2e",
        nurse_id,
        "Nurse Lee Park",
        Role::Nurse,
        clinic.program,
    );
    let f = cm::add_funding(
        &app,
        &system(),
        clinic.program,
        &FundingInput {
            name: "State opioid response".into(),
            annual_cap_cents: None,
            annual_budget_cents: 1_200_000,
        },
    )
    .await
    .unwrap();
    cm::add_item(
        &app,
        &system(),
        clinic.program,
        &ItemInput {
            name: "Pharmacy card $1".into(),
            category: "pharmacy".into(),
            cost_cents: 100,
            stock: 3,
        },
    )
    .await
    .unwrap();
    cm::enroll(
        &app,
        &nurse,
        sam.id,
        &EnrollInput {
            kind: "prize".into(),
            preset: "petry_500".into(),
            analytes: vec!["fentanyl".into()],
            attendance: false,
            activities: false,
            funding_id: f.id,
        },
    )
    .await
    .unwrap();
    let base = carepath_web::spawn_loopback(carepath_web::AppState::new(app.clone()))
        .await
        .unwrap();

    let result = async {
        // 1. The nurse records an observed cup: fentanyl negative.
        sign_in(c, &base, "nurse.labs", PW, None).await?;
        let tests = format!("{base}/patients/{}/drug-tests", sam.id);
        c.goto(&tests).await?;
        axe(c, &axe_js, "drug tests (empty)", &mut problems).await?;
        type_in(c, "specimen_id", "CUP-1001").await?;
        select(c, "r_fentanyl", "negative").await?;
        select(c, "r_6_mam", "negative").await?;
        submit_and_leave(c, "Record the collection").await?;
        c.wait()
            .for_element(Locator::Css("p.notice[role=status]"))
            .await?;
        let page = main_text(c).await?;
        assert!(page.contains("Recorded: all 2 negative"), "{page}");
        assert!(page.contains("#CUP-1001"), "{page}");
        c.find(Locator::Css("figure svg.chart")).await?;
        axe(c, &axe_js, "drug tests with a result", &mut problems).await?;
        // 2. The sample waits for its draw at the desk.
        c.goto(&format!("{base}/patients/{}/incentives", sam.id))
            .await?;
        axe(c, &axe_js, "incentives before the draw", &mut problems).await?;
        submit_and_leave(c, "Draw now").await?;
        c.wait()
            .for_element(Locator::Css("p.notice[role=status]"))
            .await?;
        let page = main_text(c).await?;
        assert!(page.contains("Drawn: 1 draws"), "{page}");
        assert!(!page.contains("Draw now"), "drawn once");
        axe(c, &axe_js, "incentives after the draw", &mut problems).await?;
        // 3. Half the slips win nothing: more negative cups (recorded through
        // the service) and draws until the bowl pays, then a reward is handed
        // over at the desk.
        for _ in 0..20 {
            if cm::ledger(&app, &nurse, sam.id)
                .await
                .unwrap()
                .balance_cents
                >= 100
            {
                break;
            }
            drugtest::collect(
                &app,
                &nurse,
                sam.id,
                &CollectInput {
                    specimen: "urine".into(),
                    observed: true,
                    temperature_in_range: Some(true),
                    results: vec![ResultInput {
                        analyte: "fentanyl".into(),
                        outcome: "negative".into(),
                        ..Default::default()
                    }],
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            c.goto(&format!("{base}/patients/{}/incentives", sam.id))
                .await?;
            submit_and_leave(c, "Draw now").await?;
            c.wait()
                .for_element(Locator::Css("p.notice[role=status]"))
                .await?;
        }
        let l = cm::ledger(&app, &nurse, sam.id).await.unwrap();
        assert!(l.balance_cents >= 100, "twenty draws without a prize");
        submit_and_leave(c, "Hand over and deduct").await?;
        c.wait()
            .for_element(Locator::Css("p.notice[role=status]"))
            .await?;
        let page = main_text(c).await?;
        assert!(page.contains("Handed over"), "{page}");
        assert!(
            page.contains("Pharmacy card $1") && page.contains("fulfilled"),
            "{page}"
        );
        axe(c, &axe_js, "incentives after a reward", &mut problems).await?;
        // 4. A positive cup goes to the prescriber.
        c.goto(&tests).await?;
        select(c, "r_fentanyl", "positive").await?;
        submit_and_leave(c, "Record the collection").await?;
        c.wait()
            .for_element(Locator::Css("p.notice[role=status]"))
            .await?;
        sign_in(c, &base, "dr.labs", PW, Some(code_now())).await?;
        let page = main_text(c).await?;
        assert!(page.contains("Drug tests to review (1)"), "{page}");
        c.goto(&tests).await?;
        axe(c, &axe_js, "drug tests needing review", &mut problems).await?;
        type_in(c, "note", "Discussed fentanyl use; naloxone kit given").await?;
        submit_and_leave(c, "Record the review").await?;
        c.wait()
            .for_element(Locator::Css("p.notice[role=status]"))
            .await?;
        let page = main_text(c).await?;
        assert!(page.contains("Reviewed by Dr Ada Quinn"), "{page}");
        // 5. The day's random list, the lab inbox and the rewards store.
        for (path, label) in [
            ("/drug-tests/today", "random list"),
            ("/labs/inbox", "lab inbox"),
            ("/rewards", "rewards store"),
        ] {
            c.goto(&format!("{base}{path}")).await?;
            axe(c, &axe_js, label, &mut problems).await?;
        }
        let page = main_text(c).await?;
        assert!(
            page.contains("Pharmacy card $1") && page.contains("State opioid response"),
            "{page}"
        );
        c.find(Locator::Css("figure svg.chart")).await?;
        Ok::<_, fantoccini::error::CmdError>(())
    }
    .await;
    let shot = if result.is_err() {
        c.screenshot().await.ok()
    } else {
        None
    };
    if let Some(png) = shot {
        let _ = std::fs::write(std::env::temp_dir().join("labs-e2e-failure.png"), png);
    }
    b.client.clone().close().await.ok();
    result.unwrap();
    assert!(problems.is_empty(), "axe-core: {problems:#?}");
}
