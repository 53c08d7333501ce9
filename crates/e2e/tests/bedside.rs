//! The bedside on a tablet (768×1024, headless Chromium), as a detox unit's
//! staff use it (issue 12, items 9, 10, 12, 13 and 14):
//! - the public who open the root URL land in the finder, staff each on
//!   their work (nurse and prescriber on the worklist, the administrator on
//!   the dashboard); words put in a link are not shown on a page; the admit
//!   form starts from the program's own level of care and "Grant role" from
//!   no role;
//! - the intake assessment pre-fills no screen: PHQ-9 and GAD-7 left alone
//!   are recorded as not done, never as a score of 0;
//! - a COWS entry with vital signs in the red raises an alert at the top of
//!   the chart and "Notify the prescriber now" at the top of the worklist;
//! - the prescriber signs the waiting comfort orders with one button;
//! - the chart shows an order's limits before the dose; a dose the hold
//!   parameters refuse is explained on the screen with the vital signs typed
//!   kept; a second dose too soon says how long ago the last was in minutes.
//!
//! axe-core checks each page on the way.

use carepath_domain::authz::Role;
use carepath_domain::program::ProgramKind;
use carepath_e2e::{
    axe, browser, click, click_and_leave, main_text, sign_in, skip_or_fail, submit, top_on_screen,
};
use carepath_testkit::{Clinic, PW, TestDb, code_now};
use fantoccini::error::CmdError;
use fantoccini::{Client, Locator};

async fn path_of(c: &Client) -> Result<String, CmdError> {
    Ok(c.current_url().await?.path().to_string())
}

/// On the chart, open the clonidine order's "Give or hold a dose" form, fill
/// it in, record, and wait until the browser has left the chart.
async fn give(c: &Client, sbp: &str, dbp: &str, hr: &str) -> Result<(), CmdError> {
    let order = clonidine(c).await?;
    order
        .find(Locator::Css("details > summary"))
        .await?
        .click()
        .await?;
    for (name, v) in [("sbp", sbp), ("dbp", dbp), ("hr", hr)] {
        let f = order
            .find(Locator::Css(&format!("[name='{name}']")))
            .await?;
        f.clear().await?;
        f.send_keys(v).await?;
    }
    let old = c.find(Locator::Css("html")).await?;
    order
        .find(Locator::Css(
            "form[action$='/administer'] button[type='submit']",
        ))
        .await?
        .click()
        .await?;
    carepath_e2e::wait_stale(&old).await;
    Ok(())
}

/// The clonidine order's card on the chart.
async fn clonidine(c: &Client) -> Result<fantoccini::elements::Element, CmdError> {
    c.find(Locator::XPath(
        "//section[@id='orders']//article[contains(translate(h3, 'C', 'c'), 'clonidine')]",
    ))
    .await
}

#[tokio::test]
async fn a_detox_unit_on_a_tablet_safe_defaults_danger_shown_nothing_assumed() {
    let Some(b) = browser(768, 1024, true).await else {
        return skip_or_fail("chromedriver");
    };
    let c = &b.client;
    let axe_js = carepath_e2e::axe_source("this journey");
    let mut problems: Vec<String> = vec![];
    let clinic = Clinic::new(
        TestDb::sqlite().await,
        "Bayview Detox",
        ProgramKind::WithdrawalManagement,
        "America/New_York",
    )
    .await;
    let patient = clinic
        .patient(
            "Dana",
            "Bedside",
            "1984-07-09",
            Some(ProgramKind::WithdrawalManagement),
        )
        .await;
    let walk_in = clinic.patient("Eli", "Walkin", "1990-01-02", None).await;
    clinic
        .staff("nurse.bed", "Nora Nurse", &[Role::Nurse])
        .await;
    clinic
        .staff("dr.bed", "Dr Priya Prescriber", &[Role::Prescriber])
        .await;
    clinic.staff("admin.bed", "Ada Admin", &[Role::Admin]).await;
    let base = clinic.serve().await;
    // Two comfort orders taken by the nurse, waiting for the prescriber.
    let nurse_api = carepath_testkit::login(&base, "nurse.bed", false).await;
    for (med, dose) in [("clonidine", 0.1), ("ondansetron", 4.0)] {
        let (st, v) = carepath_testkit::post_json(
            &nurse_api,
            format!("{base}/api/v1/patients/{}/records/order", patient.id),
            serde_json::json!({"medication": med, "dose_mg": dose, "every_h": 6, "prn": true,
                "indication": "withdrawal"}),
        )
        .await;
        assert_eq!(st.as_u16(), 201, "{v}");
    }
    let chart = format!("{base}/patients/{}", patient.id);

    let run = async {
        // Item 14: the public land in the finder, not at the staff sign-in.
        c.goto(&format!("{base}/")).await?;
        c.wait().for_element(Locator::Id("near")).await?;
        assert_eq!(path_of(c).await?, "/find");

        // Item 13: the nurse lands on the worklist.
        sign_in(c, &base, "nurse.bed", PW, None).await?;
        assert_eq!(path_of(c).await?, "/worklist");
        axe(c, &axe_js, "the nurse's worklist", &mut problems).await?;

        // Item 14: a link cannot put words on a page.
        let forged = "Call 555-0100 now to keep your dose";
        c.goto(&format!("{chart}?error=Call+555-0100+now+to+keep+your+dose"))
            .await?;
        c.wait().for_element(Locator::Id("patient-name")).await?;
        assert!(!main_text(c).await?.contains(forged));
        // The admit form starts from the program's own level of care.
        c.goto(&format!("{base}/patients/{}/episode", walk_in.id)).await?;
        let level = c
            .find(Locator::Css("select[name='level_of_care']"))
            .await?
            .prop("value")
            .await?;
        assert_eq!(level.as_deref(), Some("withdrawal_management"));
        axe(c, &axe_js, "the admit form", &mut problems).await?;

        // Item 9: nothing clinical recorded by default.
        c.goto(&format!("{chart}/assessment")).await?;
        let prefilled = c
            .execute(
                "return [...document.querySelectorAll(\"select[name^='phq9'], select[name^='gad7']\")].filter(s => s.value !== '').length + ':' + document.querySelectorAll(\"select[name^='phq9'], select[name^='gad7']\").length + ':' + document.querySelectorAll(\"input[name='suicide_question']:checked\").length",
                vec![],
            )
            .await?;
        assert_eq!(prefilled.as_str(), Some("0:16:0"), "no screen answer chosen for the nurse");
        // Nor a state-report answer: each starts "not asked".
        let teds = c
            .execute(
                "const s = [...document.querySelectorAll(\"select[name^='teds.']\")]; return s.filter(x => x.value !== '').length + ':' + s.length",
                vec![],
            )
            .await?;
        assert_eq!(teds.as_str(), Some("0:13"), "no TEDS answer chosen");
        carepath_e2e::fill_assessment(c).await?;
        axe(c, &axe_js, "the assessment form", &mut problems).await?;
        submit(c, "Save assessment").await?;
        c.wait().for_element(Locator::Id("assessment-h")).await?;
        let page = main_text(c).await?;
        assert!(
            page.contains("PHQ-9 not done") && page.contains("GAD-7 not done"),
            "screens left alone are not done, not 0: {page}"
        );
        assert!(!page.contains("minimal"), "{page}");

        // Item 10: danger is shown — on the chart and first on the worklist.
        c.goto(&format!("{chart}/flowsheet")).await?;
        // Every item at its worst answer (COWS 48), as in the report.
        for (item, _) in carepath_clinical::cows::ITEMS.iter() {
            c.execute(
                "const s = document.querySelector(`select[name='${arguments[0]}']`); s.selectedIndex = s.options.length - 1; s.dispatchEvent(new Event('change', {bubbles: true}));",
                vec![serde_json::json!(format!("items.{item}"))],
            )
            .await?;
        }
        for (f, v) in [
            ("vitals.sbp", "88"),
            ("vitals.dbp", "50"),
            ("vitals.spo2", "89"),
            ("vitals.temp_c", "38.6"),
        ] {
            c.find(Locator::Css(&format!("[name='{f}']")))
                .await?
                .send_keys(v)
                .await?;
        }
        submit(c, "Save entry").await?;
        c.wait().for_element(Locator::Id("danger-h")).await?;
        let y = top_on_screen(c, "#danger-h").await?;
        assert!((-1.0..1024.0).contains(&y), "the alert is on the screen: {y}");
        let page = main_text(c).await?;
        assert!(
            page.contains("Notify the prescriber now") && page.contains("SpO2 89%"),
            "{page}"
        );
        axe(c, &axe_js, "the chart with a dangerous reading", &mut problems).await?;
        c.goto(&format!("{base}/worklist")).await?;
        let first = c.find(Locator::Css("main section h2")).await?.text().await?;
        assert!(first.starts_with("Notify the prescriber now"), "{first}");
        let row = c
            .find(Locator::Css("#wl-danger tbody tr"))
            .await?
            .text()
            .await?;
        assert!(
            row.contains("Bedside, Dana") && row.contains("1984-07-09"),
            "who it is, with the date of birth: {row}"
        );

        // Item 13: the prescriber lands on the worklist and signs both
        // waiting orders with one button.
        sign_in(c, &base, "dr.bed", PW, Some(code_now())).await?;
        assert_eq!(path_of(c).await?, "/worklist");
        let first = c.find(Locator::Css("main section h2")).await?.text().await?;
        assert!(first.starts_with("Notify the prescriber now"), "{first}");
        axe(c, &axe_js, "the prescriber's worklist", &mut problems).await?;
        submit(c, "Sign all 2 shown").await?;
        c.wait()
            .for_element(Locator::XPath("//p[contains(., 'Signed 2 of 2.')]"))
            .await?;
        assert!(!main_text(c).await?.contains("Sign all"), "nothing left to sign");

        // Item 12: limits before the dose; a refusal on the screen, with
        // what was typed kept; times in minutes.
        sign_in(c, &base, "nurse.bed", PW, None).await?;
        c.goto(&format!("{chart}#orders")).await?;
        let limits = clonidine(c)
            .await?
            .find(Locator::Css(".limits"))
            .await?
            .text()
            .await?;
        assert!(
            limits.contains("Hold if systolic BP below 90") && limits.contains("none given yet"),
            "{limits}"
        );
        give(c, "84", "50", "58").await?;
        c.wait().for_element(Locator::Css("div.error-summary")).await?;
        let y = top_on_screen(c, "div.error-summary").await?;
        assert!((-1.0..1024.0).contains(&y), "the refusal is on the screen: {y}");
        for (name, kept) in [("sbp", "84"), ("dbp", "50"), ("hr", "58")] {
            let v = c
                .find(Locator::Css(&format!("[name='{name}']")))
                .await?
                .prop("value")
                .await?;
            assert_eq!(v.as_deref(), Some(kept), "{name} kept");
        }
        assert!(
            c.find(Locator::Css(".patient-bar")).await?.text().await?.contains("Bedside, Dana"),
            "the patient named above the refusal"
        );
        axe(c, &axe_js, "a refused comfort dose", &mut problems).await?;
        // Normal vital signs: given, then a second dose too soon.
        c.goto(&format!("{chart}#orders")).await?;
        give(c, "124", "78", "88").await?;
        assert_eq!(path_of(c).await?, format!("/patients/{}", patient.id), "given");
        give(c, "124", "78", "88").await?;
        c.wait().for_element(Locator::Css("div.error-summary")).await?;
        let text = main_text(c).await?;
        assert!(
            (text.contains(" min since the last dose") || text.contains("less than a minute since the last dose"))
                && text.contains("at least 6 h"),
            "{text}"
        );
        assert!(!text.contains("0.000"), "no fractions of an hour: {text}");

        // Item 14: granting a role starts from no role.
        c.delete_all_cookies().await?;
        c.goto(&format!("{base}/login")).await?;
        c.find(Locator::Id("username")).await?.send_keys("admin.bed").await?;
        c.find(Locator::Id("password")).await?.send_keys(PW).await?;
        click(c, "form[action='/login'] button").await?;
        c.wait().for_element(Locator::Id("code")).await?;
        c.find(Locator::Id("code")).await?.send_keys(&code_now()).await?;
        click_and_leave(c, "form[action='/mfa'] button").await?;
        c.wait().for_element(Locator::Css("main h1")).await?;
        assert_eq!(path_of(c).await?, "/dashboard", "the director lands on the program");
        c.goto(&format!("{base}/admin/users")).await?;
        let roles = c.find_all(Locator::Css("select[name='role']")).await?;
        assert!(!roles.is_empty());
        for r in roles {
            assert_eq!(r.prop("value").await?.as_deref(), Some(""), "no role chosen");
        }
        axe(c, &axe_js, "users and roles", &mut problems).await?;
        Ok::<(), CmdError>(())
    }
    .await;
    let _ = c.clone().close().await;
    run.expect("the bedside on a tablet");
    assert!(
        problems.is_empty(),
        "axe-core serious/critical violations:\n{}",
        problems.join("\n")
    );
}
