//! No lost work, on a tablet (768×1024) in headless Chromium: a counselor's
//! note typed while the session ran out is not lost on Save — signing in again
//! lands on the note with the text back in it (the patient's bar above it),
//! and saving then files it; "Save draft" keeps a half-written form for later
//! and "Discard" drops it; staff pages carry the idle warning's script, and
//! typing keeps the session alive through `/session/alive`.

use carepath_app::clock::{Clock, ManualClock};
use carepath_domain::authz::Role;
use carepath_domain::program::ProgramKind;
use carepath_e2e::{axe, browser, skip_or_fail};
use carepath_testkit::{Clinic, PW, TestDb};
use fantoccini::Locator;
use std::sync::Arc;

#[tokio::test]
async fn a_note_survives_the_idle_sign_off_and_drafts_keep_and_discard() {
    let Some(b) = browser(768, 1024, true).await else {
        return skip_or_fail("chromedriver");
    };
    let c = &b.client;
    let axe_js = carepath_e2e::axe_source("this journey");
    let mut problems: Vec<String> = vec![];
    let clinic = Clinic::new(
        TestDb::sqlite().await,
        "Tablet OTP",
        ProgramKind::OpioidTreatmentProgram,
        "America/New_York",
    )
    .await;
    let patient = clinic
        .patient(
            "Rosa",
            "Drafttest",
            "1979-03-14",
            Some(ProgramKind::OpioidTreatmentProgram),
        )
        .await;
    clinic.staff("nurse.tab", "nurse.tab", &[Role::Nurse]).await;
    let clock = ManualClock::from_system();
    let app = clinic.app.clone().with_clock(Arc::new(clock.clone()));
    let base = carepath_web::spawn_loopback(carepath_web::AppState::new(app.clone()))
        .await
        .unwrap();
    let notes = format!("{base}/patients/{}/notes", patient.id);
    let sign_in = || async {
        c.find(Locator::Id("username"))
            .await?
            .send_keys("nurse.tab")
            .await?;
        c.find(Locator::Id("password")).await?.send_keys(PW).await?;
        c.find(Locator::Css("form[action='/login'] button"))
            .await?
            .click()
            .await
    };
    let run = async {
        c.goto(&format!("{base}/login")).await?;
        sign_in().await?;
        c.wait()
            .for_element(Locator::XPath("//h1[text()='Worklist']"))
            .await?;
        // Typing keeps the session alive: the page's script asks the server.
        c.goto(&notes).await?;
        c.find(Locator::Css("script[src='/static/idle.js']"))
            .await?;
        let alive = c
            .execute_async(
                "const done = arguments[arguments.length - 1]; fetch('/session/alive').then(r => r.json()).then(done);",
                vec![],
            )
            .await?;
        assert_eq!(alive["idle_seconds"], 900, "{alive}");
        // The patient is named above the form.
        let bar = c.find(Locator::Css(".patient-bar")).await?.text().await?;
        assert!(bar.contains("Drafttest") && bar.contains("1979-03-14"), "{bar}");
        let text = "Reports cravings down since the dose change; sleeping better.";
        c.find(Locator::Id("f-sections-data"))
            .await?
            .send_keys(text)
            .await?;
        c.find(Locator::Id("f-sections-assessment"))
            .await?
            .send_keys("Engaged, stable.")
            .await?;
        c.find(Locator::Id("f-sections-plan"))
            .await?
            .send_keys("Continue weekly sessions.")
            .await?;
        // Twenty minutes pass with no request: the session ends (15 min idle).
        clock.advance(20 * 60 * 1_000_000);
        c.find(Locator::XPath("//button[starts-with(text(),'Save note')]"))
            .await?
            .click()
            .await?;
        c.wait().for_element(Locator::Id("username")).await?;
        let login = c.find(Locator::Css("main")).await?.text().await?;
        assert!(login.contains("What you typed was kept"), "{login}");
        sign_in().await?;
        // Back on the note, the text in it.
        c.wait()
            .for_element(Locator::Css(".draft-restored"))
            .await?;
        assert!(c.current_url().await?.as_str().ends_with("/notes"));
        let kept = c
            .find(Locator::Id("f-sections-data"))
            .await?
            .prop("value")
            .await?
            .unwrap_or_default();
        assert_eq!(kept, text);
        axe(c, &axe_js, "a note given back after signing in", &mut problems).await?;
        c.find(Locator::XPath("//button[starts-with(text(),'Save note')]"))
            .await?
            .click()
            .await?;
        c.wait().for_element(Locator::Id("patient-name")).await?;
        let chart = c.find(Locator::Css("main")).await?.text().await?;
        assert!(chart.contains("Reports cravings down"), "the note is filed: {chart}");
        // The director's view at tablet size: charts with their text.
        c.goto(&format!("{base}/dashboard")).await?;
        c.find(Locator::Css("figure.chart svg[role='img'] desc"))
            .await?;
        axe(c, &axe_js, "the dashboard's charts", &mut problems).await?;
        c.goto(&format!("{base}/worklist")).await?;
        axe(c, &axe_js, "the worklist", &mut problems).await?;
        // Saved: the draft has done its work.
        c.goto(&notes).await?;
        assert!(
            c.find_all(Locator::Css(".draft-restored")).await?.is_empty(),
            "no draft after the note was saved"
        );
        // Save draft, come back later, then discard it.
        c.find(Locator::Id("f-sections-data"))
            .await?
            .send_keys("Half a thought")
            .await?;
        c.find(Locator::XPath("//button[text()='Save draft']"))
            .await?
            .click()
            .await?;
        c.wait()
            .for_element(Locator::Css(".draft-restored"))
            .await?;
        c.goto(&format!("{base}/worklist")).await?;
        c.goto(&notes).await?;
        let notice = c.find(Locator::Css(".draft-restored")).await?.text().await?;
        assert!(notice.contains("Your draft"), "{notice}");
        let v = c
            .find(Locator::Id("f-sections-data"))
            .await?
            .prop("value")
            .await?
            .unwrap_or_default();
        assert_eq!(v, "Half a thought");
        c.find(Locator::XPath("//button[text()='Discard it and start again']"))
            .await?
            .click()
            .await?;
        c.wait().for_element(Locator::Id("f-sections-data")).await?;
        assert!(c.find_all(Locator::Css(".draft-restored")).await?.is_empty());
        let v = c
            .find(Locator::Id("f-sections-data"))
            .await?
            .prop("value")
            .await?
            .unwrap_or_default();
        assert_eq!(v, "");
        Ok::<(), fantoccini::error::CmdError>(())
    }
    .await;
    let _ = c.clone().close().await;
    run.expect("no lost work on a tablet");
    assert!(
        problems.is_empty(),
        "axe-core serious/critical violations:\n{}",
        problems.join("\n")
    );
    let _ = clock.now_us();
}
