//! The patient portal in headless Chromium on a 360-px phone screen: a
//! nurse makes an invitation; the patient joins, sees their points, asks
//! for a reward and checks in with a SOWS that alarms; the nurse sees the
//! check-in on the worklist and hands the reward over. axe-core on every
//! portal page, in English and in Spanish.

use carepath_app::cm::{self, EnrollInput, FundingInput, ItemInput};
use carepath_app::drugtest::{self, CollectInput, ResultInput};
use carepath_domain::authz::Role;
use carepath_domain::program::ProgramKind;
use carepath_e2e::{
    axe, browser, click, main_text, sign_in, skip_or_fail, submit_and_leave, type_in,
};
use carepath_testkit::{Clinic, PW, TestDb, system};
use fantoccini::Locator;

const PATIENT_PW: &str = "river stone lamp garden";

#[tokio::test]
async fn a_patient_on_a_phone_checks_in_and_asks_for_a_reward() {
    let Some(b) = browser(360, 740, true).await else {
        return skip_or_fail("chromedriver (apt-get install chromium chromium-driver)");
    };
    let c = &b.client;
    let axe_js = carepath_e2e::axe_source("the portal");
    let mut problems: Vec<String> = vec![];
    let clinic = Clinic::new(
        TestDb::sqlite().await,
        "E2E OTP",
        ProgramKind::OpioidTreatmentProgram,
        "America/New_York",
    )
    .await;
    let app = clinic.app.clone();
    let nurse_id = clinic
        .staff("nurse.portal", "Nurse Lee Park", &[Role::Nurse])
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
            name: "Bus pass (day)".into(),
            category: "transport".into(),
            cost_cents: 200,
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
            kind: "voucher".into(),
            preset: "higgins".into(),
            analytes: vec!["fentanyl".into()],
            attendance: false,
            activities: false,
            funding_id: f.id,
        },
    )
    .await
    .unwrap();
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
    let base = carepath_web::spawn_loopback(carepath_web::AppState::new(app.clone()))
        .await
        .unwrap();

    let result = async {
        // 1. The nurse makes an invitation code on the patient's portal page.
        sign_in(c, &base, "nurse.portal", PW, None).await?;
        c.goto(&format!("{base}/patients/{}/portal", sam.id))
            .await?;
        submit_and_leave(c, "Make an invitation code").await?;
        let code = c
            .wait()
            .for_element(Locator::Id("invite-code"))
            .await?
            .text()
            .await?;
        assert_eq!(code.len(), 14, "{code}");
        axe(c, &axe_js, "staff: patient portal page", &mut problems).await?;
        // 2. The patient joins on their phone.
        c.delete_all_cookies().await?;
        c.goto(&format!("{base}/portal/join")).await?;
        axe(c, &axe_js, "join (en)", &mut problems).await?;
        type_in(c, "code", &code).await?;
        type_in(c, "username", "sam.o").await?;
        type_in(c, "password", PATIENT_PW).await?;
        type_in(c, "confirm", PATIENT_PW).await?;
        submit_and_leave(c, "Create my account").await?;
        c.wait()
            .for_element(Locator::XPath(
                "//h1[starts-with(normalize-space(), 'Hello')]",
            ))
            .await?;
        let page = main_text(c).await?;
        assert!(page.contains("Welcome! Your account is ready."), "{page}");
        assert!(page.contains("$2.50"), "points: {page}");
        // Nothing wider than the phone's screen.
        let wide = c
            .execute(
                "return document.documentElement.scrollWidth > window.innerWidth",
                vec![],
            )
            .await?;
        assert_eq!(
            wide,
            serde_json::json!(false),
            "horizontal scroll at 360 px"
        );
        // 3. A reward.
        c.goto(&format!("{base}/portal/rewards")).await?;
        submit_and_leave(c, "Ask for this").await?;
        c.wait()
            .for_element(Locator::Css("p.notice[role=status]"))
            .await?;
        let page = main_text(c).await?;
        assert!(page.contains("Your request was sent"), "{page}");
        assert!(page.contains("waiting for staff"), "{page}");
        assert!(page.contains("$0.50"), "held against the balance: {page}");
        // 4. A check-in with withdrawal that alarms.
        c.goto(&format!("{base}/portal/check-in")).await?;
        click(c, "input[name='craving'][value='8']").await?;
        click(c, "input[name='mood'][value='2']").await?;
        click(c, "details summary").await?;
        for i in 0..16 {
            click(c, &format!("input[name='s{i}'][value='2']")).await?;
        }
        submit_and_leave(c, "Send").await?;
        c.wait()
            .for_element(Locator::Css("p.notice[role=status]"))
            .await?;
        let page = main_text(c).await?;
        assert!(page.contains("told right away"), "{page}");
        // 5. Every page, in English and then in Spanish, through axe-core.
        let pages = [
            "/portal",
            "/portal/treatment",
            "/portal/check-in",
            "/portal/rewards",
            "/portal/learn",
            "/portal/learn/withdrawal",
            "/portal/learn/medications",
            "/portal/learn/overdose",
            "/portal/learn/aftercare",
            "/portal/learn/contingency-management",
            "/portal/learn/family",
            "/portal/security",
            "/portal/learn/no-such-topic",
        ];
        for p in pages {
            c.goto(&format!("{base}{p}")).await?;
            axe(c, &axe_js, &format!("{p} (en)"), &mut problems).await?;
        }
        click(c, "form.lang button").await?;
        c.wait()
            .for_element(Locator::Css("html[lang='es']"))
            .await?;
        for p in pages {
            c.goto(&format!("{base}{p}")).await?;
            let lang = c.find(Locator::Css("html")).await?.attr("lang").await?;
            assert_eq!(lang.as_deref(), Some("es"), "{p}");
            axe(c, &axe_js, &format!("{p} (es)"), &mut problems).await?;
        }
        c.goto(&format!("{base}/portal")).await?;
        let page = main_text(c).await?;
        assert!(page.contains("Hola,"), "{page}");
        click(c, "footer form button").await?;
        c.wait().for_element(Locator::Id("username")).await?;
        axe(c, &axe_js, "sign-in (es)", &mut problems).await?;
        c.goto(&format!("{base}/portal/sign-in?lang=en")).await?;
        axe(c, &axe_js, "sign-in (en)", &mut problems).await?;
        c.goto(&format!("{base}/portal/join?lang=es")).await?;
        axe(c, &axe_js, "join (es)", &mut problems).await?;
        // 6. The nurse sees the check-in first on the worklist and hands the
        // reward over.
        sign_in(c, &base, "nurse.portal", PW, None).await?;
        let page = main_text(c).await?;
        assert!(page.contains("check-ins that need a call"), "{page}");
        assert!(page.contains("withdrawal SOWS 32"), "{page}");
        c.goto(&format!("{base}/patients/{}/incentives", sam.id))
            .await?;
        submit_and_leave(c, "Hand over").await?;
        c.wait()
            .for_element(Locator::Css("p.notice[role=status]"))
            .await?;
        let page = main_text(c).await?;
        assert!(page.contains("fulfilled"), "{page}");
        c.goto(&format!("{base}/patients/{}/portal", sam.id))
            .await?;
        type_in(c, "note", "Called Sam; comfort medication at the window").await?;
        submit_and_leave(c, "Acknowledge").await?;
        c.wait()
            .for_element(Locator::Css("p.notice[role=status]"))
            .await?;
        let page = main_text(c).await?;
        assert!(page.contains("Acknowledged by Nurse Lee Park"), "{page}");
        // 7. Sam's mother, under Sam's family-involvement consent, on her
        // phone: her one page, in both languages.
        let today = jiff::Timestamp::now()
            .in_tz("America/New_York")
            .unwrap()
            .date();
        let (consent, _) = carepath_app::chart::create(
            &app,
            &nurse,
            sam.id,
            &carepath_app::kinds::Input::from_json(
                carepath_app::kinds::Kind::Consent,
                serde_json::json!({"kind": "family", "recipient": "Rosa Ortiz (mother)",
                    "information": "appointments and how to help", "purpose": "family involvement",
                    "expires_on": today.checked_add(jiff::Span::new().days(60)).unwrap().to_string(),
                    "signed_by": "Sam Ortiz", "signed_on": today.to_string()}),
            )
            .unwrap(),
        )
        .await
        .unwrap();
        let inv = carepath_app::portal::invite_family(&app, &nurse, sam.id, &consent, true)
            .await
            .unwrap();
        c.delete_all_cookies().await?;
        c.goto(&format!("{base}/portal/join?code={}", inv.code)).await?;
        type_in(c, "username", "rosa.o").await?;
        type_in(c, "password", PATIENT_PW).await?;
        type_in(c, "confirm", PATIENT_PW).await?;
        submit_and_leave(c, "Create my account").await?;
        c.wait()
            .for_element(Locator::XPath("//h1[normalize-space()='Family view']"))
            .await?;
        let page = main_text(c).await?;
        assert!(page.contains("Rosa Ortiz (mother)"), "{page}");
        assert!(!page.contains("$"), "no points, no record: {page}");
        axe(c, &axe_js, "family view (en)", &mut problems).await?;
        click(c, "form.lang button").await?;
        c.wait()
            .for_element(Locator::Css("html[lang='es']"))
            .await?;
        axe(c, &axe_js, "family view (es)", &mut problems).await?;
        // 8. Sam turns on the second step; signing in asks for the code.
        let s = carepath_app::portal::sign_in(&app, "sam.o", PATIENT_PW.into(), None)
            .await
            .unwrap()
            .unwrap();
        let me = carepath_app::portal::resolve(&app, &s.token, None)
            .await
            .unwrap()
            .unwrap();
        let secret = carepath_app::portal::begin_factor(&app, &me).await.unwrap();
        let code = carepath_app::auth::totp(&secret, "sam.o")
            .unwrap()
            .generate_current()
            .to_string();
        carepath_app::portal::enable_factor(&app, &me, &code)
            .await
            .unwrap();
        c.delete_all_cookies().await?;
        c.goto(&format!("{base}/portal/sign-in")).await?;
        type_in(c, "username", "sam.o").await?;
        type_in(c, "password", PATIENT_PW).await?;
        submit_and_leave(c, "Sign in").await?;
        c.wait().for_element(Locator::Id("code")).await?;
        // Sam chose Spanish earlier: the code page follows the account.
        let lang = c.find(Locator::Css("html")).await?.attr("lang").await?;
        assert_eq!(lang.as_deref(), Some("es"));
        axe(c, &axe_js, "second-step code (es)", &mut problems).await?;
        click(c, "a.lang").await?;
        c.wait()
            .for_element(Locator::Css("html[lang='en']"))
            .await?;
        axe(c, &axe_js, "second-step code (en)", &mut problems).await?;
        Ok::<_, fantoccini::error::CmdError>(())
    }
    .await;
    let shot = if result.is_err() {
        c.screenshot().await.ok()
    } else {
        None
    };
    if let Some(png) = shot {
        let _ = std::fs::write(std::env::temp_dir().join("portal-e2e-failure.png"), png);
    }
    b.client.clone().close().await.ok();
    result.unwrap();
    assert!(problems.is_empty(), "axe-core: {problems:#?}");
}
