//! The dosing desk in headless Chromium, as its users would try it: a
//! prescriber starts methadone at 30 mg and the engine blocks a same-day jump
//! to 60 mg until an override with a written reason; a nurse doses the patient
//! at the desk, and a second attempt from a stale second window the same clinic
//! day is refused with a clear message; a day-20 patient under the federal
//! policy shows at most 14 take-home doses with the criteria; the labels of the
//! bottles print (to PDF); the day's reconciliation balances with two
//! signatures; the outage list prints. axe-core on every page on the way.

use carepath_app::clock::{Clock, DAY_US, ManualClock, SystemClock};
use carepath_app::dosing::{self, DoseInput, OrderInput, ProductInput, ReceiptInput};
use carepath_domain::authz::Role;
use carepath_domain::program::ProgramKind;
use carepath_e2e::{axe, browser, click, main_text, sign_in, skip_or_fail, submit, type_in};
use carepath_testkit::{Clinic, PW, TestDb, code_now, system};
use fantoccini::Locator;
use fantoccini::wd::PrintConfiguration;
use std::sync::Arc;

#[tokio::test]
async fn the_dosing_desk_from_order_to_reconciliation_in_headless_chromium() {
    let Some(b) = browser(1100, 900, true).await else {
        return skip_or_fail("chromedriver (apt-get install chromium chromium-driver)");
    };
    let c = &b.client;
    let axe_js = carepath_e2e::axe_source("the dosing desk");
    let mut problems: Vec<String> = vec![];
    // An opioid treatment program whose clock the test sets: Dana has been
    // dosed for 19 days (today is her day 20); Alex is new.
    let clinic = Clinic::new(
        TestDb::sqlite().await,
        "E2E OTP",
        ProgramKind::OpioidTreatmentProgram,
        "America/New_York",
    )
    .await;
    let clock = ManualClock::at(SystemClock.now_us() - 19 * DAY_US);
    let app = clinic.app.clone().with_clock(Arc::new(clock.clone()));
    let dr = clinic
        .staff("dr.e2e", "Dr Morgan Lee", &[Role::Prescriber])
        .await;
    let nurse_one = clinic
        .staff("nurse.one", "Nurse Pat One", &[Role::Nurse])
        .await;
    clinic
        .staff("nurse.two", "Nurse Sam Two", &[Role::Nurse])
        .await;
    // The seeding acts as these two (the browser signs in for itself later;
    // a TOTP code works once, so none is spent here).
    let prescriber = carepath_app::Principal::system_for(
        "e2e",
        dr,
        "Dr Morgan Lee",
        Role::Prescriber,
        clinic.program,
    );
    let nurse = carepath_app::Principal::system_for(
        "e2e",
        nurse_one,
        "Nurse Pat One",
        Role::Nurse,
        clinic.program,
    );
    let product = dosing::add_product(
        &app,
        &system(),
        clinic.program,
        &ProductInput {
            medication: "methadone".into(),
            form: "oral_liquid".into(),
            name: "Methadone oral concentrate 10 mg/mL".into(),
            strength_mg: 10.0,
        },
    )
    .await
    .unwrap();
    dosing::receive(
        &app,
        &nurse,
        clinic.program,
        &ReceiptInput {
            product_id: product,
            lot: "M-E2E-1".into(),
            expires_on: None,
            amount_mg: 5000.0,
        },
    )
    .await
    .unwrap();
    let alex = clinic
        .patient(
            "Alex",
            "Rivera",
            "1991-03-04",
            Some(ProgramKind::OpioidTreatmentProgram),
        )
        .await;
    let dana = clinic
        .patient(
            "Dana",
            "Okoro",
            "1985-07-08",
            Some(ProgramKind::OpioidTreatmentProgram),
        )
        .await;
    dosing::create_order(
        &app,
        &prescriber,
        dana.id,
        &OrderInput {
            medication: "methadone".into(),
            form: "oral_liquid".into(),
            phase: "induction".into(),
            dose_mg: 30.0,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    for _ in 0..19 {
        dosing::record_dose(&app, &nurse, dana.id, &DoseInput::default())
            .await
            .unwrap();
        clock.advance(DAY_US);
    }
    let base = carepath_web::spawn_loopback(carepath_web::AppState::new(app.clone()))
        .await
        .unwrap();

    let result = async {
        // 1. The prescriber starts Alex on methadone 30 mg.
        sign_in(c, &base, "dr.e2e", PW, Some(code_now())).await?;
        let orders = format!("{base}/dosing/{}/orders", alex.id);
        c.goto(&orders).await?;
        axe(c, &axe_js, "orders (empty)", &mut problems).await?;
        type_in(c, "dose_mg", "30").await?;
        submit(c, "Save the order").await?;
        c.wait()
            .for_element(Locator::Css("p.notice[role=status]"))
            .await?;
        let page = main_text(c).await?;
        assert!(page.contains("Order saved"), "{page}");
        assert!(page.contains("30 mg"), "{page}");
        // 2. A jump to 60 mg the same week is blocked by the engine, with
        // what was typed kept …
        c.find(Locator::Css("select[name='phase']"))
            .await?
            .select_by_value("titration")
            .await?;
        type_in(c, "dose_mg", "60").await?;
        submit(c, "Save the order").await?;
        c.wait().for_element(Locator::Id("order-error")).await?;
        let error = c.find(Locator::Id("order-error")).await?.text().await?;
        assert!(error.contains("override"), "{error}");
        let kept = c.find(Locator::Id("dose_mg")).await?.prop("value").await?;
        assert_eq!(kept.as_deref(), Some("60"), "the typed dose is kept");
        axe(
            c,
            &axe_js,
            "orders with the engine's refusal",
            &mut problems,
        )
        .await?;
        // … until the prescriber overrides it with a reason.
        type_in(
            c,
            "override_reason",
            "Transfer patient stable on 60 mg elsewhere, verified by phone",
        )
        .await?;
        submit(c, "Save the order").await?;
        c.wait()
            .for_element(Locator::Css("p.notice[role=status]"))
            .await?;
        let page = main_text(c).await?;
        assert!(
            page.contains("Transfer patient stable on 60 mg") && page.contains("superseded"),
            "{page}"
        );
        // 3. Dana, day 20: at most 14 take-home doses under the federal
        // policy, with the criteria to weigh; the prescriber grants 2.
        c.goto(&format!("{base}/dosing/{}/takehome", dana.id))
            .await?;
        let page = main_text(c).await?;
        assert!(page.contains("Day 20 of treatment"), "{page}");
        assert!(page.contains("at most 14 take-home doses"), "{page}");
        let boxes = c
            .find_all(Locator::Css("input[type=checkbox][name^='criteria.']"))
            .await?;
        assert!(boxes.len() >= 5, "the criteria are listed");
        axe(c, &axe_js, "take-home decision", &mut problems).await?;
        for b in boxes {
            b.click().await?;
        }
        let n = c.find(Locator::Id("doses_granted")).await?;
        n.clear().await?;
        n.send_keys("2").await?;
        submit(c, "Record the decision").await?;
        c.wait()
            .for_element(Locator::Css("p.notice[role=status]"))
            .await?;
        assert!(main_text(c).await?.contains("Decision recorded: 2"));

        // 4. At the window: the nurse doses Alex (60 mg under the new order).
        // A second window still shows the button; pressing it is refused.
        sign_in(c, &base, "nurse.one", PW, None).await?;
        c.goto(&format!("{base}/dosing")).await?;
        axe(c, &axe_js, "dosing desk", &mut problems).await?;
        let panel = format!("{base}/dosing/{}", alex.id);
        c.goto(&panel).await?;
        let first = c.window().await?;
        let second = c.new_window(true).await?.handle;
        c.switch_to_window(second.clone()).await?;
        c.goto(&panel).await?;
        c.switch_to_window(first).await?;
        let button = c.find(Locator::Css("form.dose-now button")).await?;
        assert_eq!(button.text().await?, "Dose 60 mg (lot M-E2E-1)");
        axe(c, &axe_js, "pre-dose panel", &mut problems).await?;
        button.click().await?;
        c.wait()
            .for_element(Locator::XPath("//h1[text()='Dosing desk']"))
            .await?;
        assert!(main_text(c).await?.contains("60 mg given"));
        c.switch_to_window(second).await?;
        click(c, "form.dose-now button").await?;
        c.wait()
            .for_element(Locator::Css("p.error[role=alert]"))
            .await?;
        let refused = c
            .find(Locator::Css("p.error[role=alert]"))
            .await?
            .text()
            .await?;
        assert!(
            refused.contains("already dosed today: 60 mg") && refused.contains("Nurse Pat One"),
            "{refused}"
        );
        c.close_window().await?;
        let handles = c.windows().await?;
        c.switch_to_window(handles[0].clone()).await?;

        // 5. Dana: today's observed dose, then her two bottles and their
        // labels, which print.
        c.goto(&format!("{base}/dosing/{}", dana.id)).await?;
        click(c, "form.dose-now button").await?;
        c.wait()
            .for_element(Locator::XPath("//h1[text()='Dosing desk']"))
            .await?;
        c.goto(&format!("{base}/dosing/{}", dana.id)).await?;
        click(
            c,
            &format!("form[action='/dosing/{}/bottles'] button", dana.id),
        )
        .await?;
        c.wait()
            .for_element(Locator::XPath("//h1[text()='Take-home bottle labels']"))
            .await?;
        let labels = c.find(Locator::Css("body")).await?.text().await?;
        assert!(
            labels
                .to_uppercase()
                .contains("KEEP OUT OF REACH OF CHILDREN")
                && labels.contains("1 of 2")
                && labels.contains("Okoro")
                && labels.contains("M-E2E-1"),
            "{labels}"
        );
        axe(c, &axe_js, "bottle labels", &mut problems).await?;
        let pdf = c.print(PrintConfiguration::default()).await?;
        assert!(pdf.starts_with(b"%PDF") && pdf.len() > 1000, "labels print");

        // 6. End of day: nurse one counts and signs, nurse two co-signs.
        c.goto(&format!("{base}/dosing/stock")).await?;
        let page = main_text(c).await?;
        assert!(page.contains("Not yet balanced"), "{page}");
        let count = c.find(Locator::Css("input[name^='count.']")).await?;
        // Received 5,000 mg; Dana 19 × 30 mg + 30 mg + 2 bottles × 30 mg,
        // Alex 60 mg.
        count
            .send_keys(&(5000 - 19 * 30 - 30 - 60 - 60).to_string())
            .await?;
        axe(c, &axe_js, "stock and reconciliation", &mut problems).await?;
        submit(c, "Sign the count").await?;
        c.wait()
            .for_element(Locator::Css("p.notice[role=status]"))
            .await?;
        let page = main_text(c).await?;
        assert!(page.contains("a second person co-signs"), "{page}");
        // The counter cannot be the second signature.
        assert!(
            c.find_all(Locator::Css("form[action$='/cosign'] button"))
                .await?
                .is_empty()
        );
        sign_in(c, &base, "nurse.two", PW, None).await?;
        c.goto(&format!("{base}/dosing/stock")).await?;
        click(c, "form[action$='/cosign'] button").await?;
        c.wait().for_element(Locator::Css("strong.ok")).await?;
        let page = main_text(c).await?;
        assert!(page.contains("Balanced"), "{page}");
        assert!(
            page.contains("Nurse Pat One") && page.contains("Nurse Sam Two"),
            "{page}"
        );

        // 7. Tomorrow's outage list prints.
        c.goto(&format!("{base}/dosing/outage")).await?;
        let list = c.find(Locator::Css("body")).await?.text().await?;
        assert!(
            list.contains("Rivera, Alex") && list.contains("Okoro, Dana"),
            "{list}"
        );
        axe(c, &axe_js, "outage list", &mut problems).await?;
        let pdf = c.print(PrintConfiguration::default()).await?;
        assert!(pdf.starts_with(b"%PDF"), "outage list prints");
        Ok::<_, fantoccini::error::CmdError>(())
    }
    .await;
    let shot = if result.is_err() {
        c.screenshot().await.ok()
    } else {
        None
    };
    if let Some(png) = shot {
        let _ = std::fs::write(std::env::temp_dir().join("dosing-e2e-failure.png"), png);
    }
    b.client.clone().close().await.ok();
    result.unwrap();
    assert!(problems.is_empty(), "axe-core: {problems:#?}");
}
