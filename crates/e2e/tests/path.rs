//! The patient's path in headless Chromium, as a new user would walk it: a
//! call-back request from the finder becomes a patient; the intake assessment
//! shows the placement recommendation; two COWS entries draw the chart; a group
//! session records attendance; a note is signed and amended (both versions
//! kept); discharge schedules follow-up calls that show on the worklist.

use carepath_domain::authz::Role;
use carepath_domain::program::ProgramKind;
use carepath_e2e::{axe, browser, click, main_text, select, skip_or_fail, submit, type_in};
use carepath_testkit::{Clinic, PW, TestDb};
use fantoccini::Locator;

#[tokio::test]
async fn a_referral_walks_the_whole_path_in_headless_chromium() {
    let Some(b) = browser(1100, 900, true).await else {
        return skip_or_fail("chromedriver (apt-get install chromium chromium-driver)");
    };
    let c = &b.client;
    let axe_js = carepath_e2e::axe_source("this journey");
    let mut problems: Vec<String> = vec![];
    let clinic = Clinic::new(
        TestDb::sqlite().await,
        "E2E Detox",
        ProgramKind::WithdrawalManagement,
        "America/New_York",
    )
    .await;
    clinic
        .staff(
            "clin.e2e",
            "Casey Clinician",
            &[Role::Intake, Role::Nurse, Role::Counselor],
        )
        .await;
    let referral = carepath_app::intake::request_callback(
        &clinic.app,
        clinic.program,
        &carepath_app::model::NewReferral {
            name: "Robin".into(),
            phone: "(302) 555-0190".into(),
            best_time: "evenings".into(),
            note: None,
            language: "en".into(),
        },
        None,
    )
    .await
    .unwrap();
    let base = clinic.serve().await;

    let result = async {
        c.goto(&format!("{base}/login")).await?;
        type_in(c, "username", "clin.e2e").await?;
        type_in(c, "password", PW).await?;
        click(c, "form[action='/login'] button").await?;
        c.wait()
            .for_element(Locator::XPath("//h1[text()='Worklist']"))
            .await?;

        // 1. The call-back request becomes a patient (name carried across).
        c.goto(&format!("{base}/referrals")).await?;
        click(c, &format!("a[href='/patients/new?referral={referral}']")).await?;
        let first = c
            .find(Locator::Id("legal_first_name"))
            .await?
            .prop("value")
            .await?;
        assert_eq!(first.as_deref(), Some("Robin"));
        axe(c, &axe_js, "registration from a call-back", &mut problems).await?;
        type_in(c, "legal_last_name", "Reyes").await?;
        c.execute(
            "document.getElementById('date_of_birth').value = '1990-02-03'",
            vec![],
        )
        .await?;
        select(c, "admit_level", "withdrawal_management").await?;
        click(c, "form[action='/patients'] button[type=submit]").await?;
        c.wait().for_element(Locator::Id("patient-name")).await?;
        let chart_url = c.current_url().await?.to_string();
        assert!(main_text(c).await?.contains("Reyes, Robin"));

        // 2. Intake assessment: the recommendation is shown before saving.
        click(c, "a[href$='/assessment']").await?;
        carepath_e2e::fill_assessment(c).await?;
        axe(c, &axe_js, "assessment form with recommendation", &mut problems).await?;
        let page = main_text(c).await?;
        assert!(
            page.contains("Recommended now: Withdrawal management"),
            "{page}"
        );
        assert!(page.contains("Dimension 1"), "{page}");
        submit(c, "Save assessment").await?;
        c.wait().for_element(Locator::Id("assessment-h")).await?;
        let chart = main_text(c).await?;
        assert!(
            chart.contains("Placed: Withdrawal management (detox) (recommendation accepted)"),
            "{chart}"
        );
        assert!(chart.contains("F11.2"), "diagnosis code shown: {chart}");

        // 3. Two COWS entries draw the chart.
        for scores in [
            [
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
                ("gooseflesh", "0"),
            ],
            [
                ("pulse", "2"),
                ("sweating", "2"),
                ("restlessness", "3"),
                ("pupils", "2"),
                ("bone_joint_aches", "2"),
                ("runny_nose_tearing", "2"),
                ("gi_upset", "2"),
                ("tremor", "2"),
                ("yawning", "2"),
                ("anxiety_irritability", "2"),
                ("gooseflesh", "3"),
            ],
        ] {
            c.goto(&format!("{chart_url}/flowsheet")).await?;
            for (item, v) in scores {
                select(c, &format!("items.{item}"), v).await?;
            }
            type_in(c, "vitals.sbp", "128").await?;
            type_in(c, "vitals.dbp", "80").await?;
            type_in(c, "vitals.hr", "96").await?;
            // The live score (htmx) appears as the items are chosen.
            c.wait()
                .for_element(Locator::XPath(
                    "//div[@id='preview']//strong[starts-with(., 'COWS ')]",
                ))
                .await?;
            axe(c, &axe_js, "COWS form", &mut problems).await?;
            submit(c, "Save entry").await?;
            c.wait().for_element(Locator::Id("withdrawal-h")).await?;
        }
        let points = c
            .find_all(Locator::Css("figure.cows-chart circle.point"))
            .await?;
        assert_eq!(points.len(), 2, "two points on the chart");
        assert!(main_text(c).await?.contains("moderately severe"));
        axe(c, &axe_js, "chart with flowsheet", &mut problems).await?;
        // A reading in the red band: the chart says so at the top, in words.
        c.goto(&format!("{chart_url}/flowsheet")).await?;
        for (item, _) in carepath_clinical::cows::ITEMS.iter() {
            select(c, &format!("items.{item}"), "0").await?;
        }
        type_in(c, "vitals.sbp", "88").await?;
        type_in(c, "vitals.dbp", "50").await?;
        type_in(c, "vitals.spo2", "89").await?;
        submit(c, "Save entry").await?;
        c.wait().for_element(Locator::Id("danger-h")).await?;
        let chart = main_text(c).await?;
        assert!(
            chart.contains("Notify the prescriber now") && chart.contains("SpO2 89%"),
            "{chart}"
        );
        axe(c, &axe_js, "chart with a dangerous reading", &mut problems).await?;

        // 4. A group session on the calendar; attendance.
        c.goto(&format!("{base}/calendar/new")).await?;
        type_in(c, "title", "Evening process group").await?;
        submit(c, "Schedule").await?;
        c.wait()
            .for_element(Locator::XPath("//h1[text()='Calendar']"))
            .await?;
        c.find(Locator::XPath("//a[contains(., 'Evening process group')]"))
            .await?
            .click()
            .await?;
        c.wait()
            .for_element(Locator::XPath("//caption[text()='Roster and attendance']"))
            .await?;
        click(c, "input[type=radio][value='present']").await?;
        axe(c, &axe_js, "session roster", &mut problems).await?;
        submit(c, "Save attendance").await?;
        c.wait()
            .for_element(Locator::XPath("//p[text()='Attendance saved.']"))
            .await?;
        let checked = c
            .find(Locator::Css("input[type=radio][value='present']"))
            .await?
            .prop("checked")
            .await?;
        assert_eq!(checked.as_deref(), Some("true"));

        // 5. A note: signed, then amended; both versions kept.
        c.goto(&format!("{chart_url}/notes")).await?;
        type_in(c, "sections.data", "Talked about sleep and cravings.").await?;
        type_in(c, "sections.assessment", "Withdrawal easing; engaged.").await?;
        type_in(
            c,
            "sections.plan",
            "Continue comfort medication; group tomorrow.",
        )
        .await?;
        submit(c, "Save note (sign it next)").await?;
        c.wait().for_element(Locator::Id("notes-h")).await?;
        submit(c, "Sign note").await?;
        // The chart reloads with the signature (wait for it, not for the old page).
        c.wait()
            .for_element(Locator::XPath("//article[contains(@class,'note')]//p[starts-with(normalize-space(.),'Signed: Casey Clinician')]"))
            .await?;
        click(c, "a.button[href$='/amend']").await?;
        type_in(c, "reason", "cravings were rated, add the rating").await?;
        c.find(Locator::Css("[name='sections.data']"))
            .await?
            .clear()
            .await?;
        type_in(
            c,
            "sections.data",
            "Talked about sleep and cravings (7/10).",
        )
        .await?;
        submit(c, "Save amendment").await?;
        c.wait().for_element(Locator::Id("notes-h")).await?;
        let chart = main_text(c).await?;
        assert!(chart.contains("cravings (7/10)"), "{chart}");
        assert!(chart.contains("Earlier versions (1)"), "{chart}");
        click(c, "article.note details summary").await?;
        let chart = main_text(c).await?;
        assert!(
            chart.contains("Replaced because: cravings were rated, add the rating"),
            "{chart}"
        );
        assert!(
            chart.contains("Talked about sleep and cravings."),
            "the first version stays: {chart}"
        );

        // 6. Discharge: naloxone is required after completed withdrawal management;
        //    follow-up calls are scheduled and show on the worklist.
        c.goto(&format!("{chart_url}/discharge")).await?;
        select(c, "reason", "1").await?;
        type_in(
            c,
            "summary",
            "Completed withdrawal management; COWS under 5 for a day.",
        )
        .await?;
        submit(c, "Discharge").await?;
        c.wait()
            .for_element(Locator::Css("div.error-summary"))
            .await?;
        assert!(main_text(c).await?.contains("naloxone kit are required"));
        axe(c, &axe_js, "discharge form with an error", &mut problems).await?;
        click(c, "input[name='naloxone.education_given']").await?;
        click(c, "input[name='naloxone.kit_given']").await?;
        submit(c, "Discharge").await?;
        c.wait().for_element(Locator::Id("aftercare-h")).await?;
        let chart = main_text(c).await?;
        assert!(chart.contains("Follow-up call 12 of 12"), "{chart}");
        c.goto(&format!("{base}/worklist")).await?;
        let wl = c.find(Locator::Id("wl-followups")).await?.text().await?;
        assert!(
            wl.contains("Reyes, Robin") && wl.contains("Follow-up call 1 of 12"),
            "{wl}"
        );
        axe(c, &axe_js, "worklist", &mut problems).await?;
        c.goto(&chart_url).await?;
        c.find(Locator::LinkText("Print the aftercare plan for the patient"))
            .await?
            .click()
            .await?;
        c.wait()
            .for_element(Locator::XPath("//h1[text()='Your aftercare plan']"))
            .await?;
        let plan = main_text(c).await?;
        assert!(plan.contains("1-800-662-4357") && plan.contains("We will call you"), "{plan}");
        axe(c, &axe_js, "printed aftercare plan", &mut problems).await?;
        c.goto(&chart_url).await?;
        axe(c, &axe_js, "full chart", &mut problems).await?;
        c.find(Locator::LinkText("Correct this assessment")).await?.click().await?;
        c.wait()
            .for_element(Locator::XPath("//h1[text()='Correct the intake assessment']"))
            .await?;
        let dims = c
            .find(Locator::Css("input[name='dimensions.withdrawal'][value='3']"))
            .await?
            .prop("checked")
            .await?;
        assert_eq!(dims.as_deref(), Some("true"), "the correction starts from the saved answers");
        axe(c, &axe_js, "assessment correction", &mut problems).await?;
        c.goto(&chart_url).await?;
        c.find(Locator::Css("table.flowsheet a[href$='/amend']")).await?.click().await?;
        c.wait()
            .for_element(Locator::XPath("//h1[text()='Correct a COWS entry']"))
            .await?;
        axe(c, &axe_js, "COWS correction", &mut problems).await?;
        for page in ["/calendar", "/calendar/new", "/dashboard", "/dashboard/outcomes"] {
            c.goto(&format!("{base}{page}")).await?;
            axe(c, &axe_js, page, &mut problems).await?;
        }
        for page in ["/notes", "/plan", "/consents", "/disclose", "/profile", "/orders", "/episode", "/disclosures", "/flowsheet?scale=sows"] {
            c.goto(&format!("{chart_url}{page}")).await?;
            axe(c, &axe_js, page, &mut problems).await?;
        }
        Ok::<(), fantoccini::error::CmdError>(())
    }
    .await;
    let _ = c.clone().close().await;
    result.expect("the patient's path in the browser");
    assert!(
        problems.is_empty(),
        "axe-core serious/critical violations:\n{}",
        problems.join("\n")
    );
    assert!(matches!(
        clinic.db.store.verify_audit_chain(|_| {}).await.unwrap(),
        carepath_store::VerifyResult::Intact { .. }
    ));
}
