//! Log in through the real login page in headless Chromium, open the
//! dashboard and a patient chart; a prescriber cannot get past the second factor
//! without a code. Skips (loudly) when chromedriver is absent, except under CI,
//! where its absence fails the test.

use carepath_domain::audit::{NewEvent, Outcome};
use carepath_domain::authz::Role;
use carepath_domain::patient::{Demographics, Sex, mrn_from_serial};
use carepath_domain::program::ProgramKind;
use carepath_e2e::{browser, skip_or_fail};
use carepath_store::programs::NewProgram;
use carepath_store::testing::TestDb;
use fantoccini::Locator;

const PW: &str = "correct horse battery staple";
const SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

fn ev(a: &str) -> NewEvent {
    NewEvent::new(a, Outcome::Success)
}

#[tokio::test]
async fn login_dashboard_chart_and_mfa_in_headless_chromium() {
    let Some(b) = browser(1024, 768, true).await else {
        return skip_or_fail("chromedriver (apt-get install chromium chromium-driver)");
    };
    let c = &b.client;
    // Server with a small clinic.
    let db = TestDb::sqlite().await;
    let s = db.store.clone();
    let org = s.create_organization("E2E", ev("o")).await.unwrap();
    let prog = s
        .create_program(
            org.id,
            &NewProgram {
                name: "E2E OTP".into(),
                kind: ProgramKind::OpioidTreatmentProgram,
                address: "x".into(),
                timezone: "America/New_York".into(),
                hours: "x".into(),
            },
            ev("p"),
        )
        .await
        .unwrap();
    let d = Demographics {
        legal_first_name: "Maria".into(),
        legal_last_name: "Browsertest".into(),
        preferred_name: None,
        date_of_birth: jiff::civil::date(1985, 6, 1),
        sex: Sex::Female,
    };
    let patient = s
        .create_patient(prog.id, &d, &mrn_from_serial(42), None, ev("x"))
        .await
        .unwrap();
    s.admit(
        patient.id,
        prog.id,
        "opioid_treatment_program",
        carepath_store::now_us(),
        None,
        ev("a"),
    )
    .await
    .unwrap();
    let hash = carepath_web::auth::hash_password(PW.into()).await.unwrap();
    for (name, role) in [("nurse.e2e", Role::Nurse), ("dr.e2e", Role::Prescriber)] {
        let u = s.create_user(name, name, &hash, ev("u")).await.unwrap();
        s.grant_role(u.id, prog.id, role, None, ev("g"))
            .await
            .unwrap();
        if role == Role::Prescriber {
            s.set_totp(u.id, SECRET, 0, &[], ev("m")).await.unwrap();
        }
    }
    let base =
        carepath_web::spawn_loopback(carepath_web::AppState::new(s.clone(), Default::default()))
            .await
            .unwrap();

    let result = async {
        // Nurse: login page → dashboard → search → chart.
        c.goto(&format!("{base}/login")).await?;
        c.find(Locator::Id("username"))
            .await?
            .send_keys("nurse.e2e")
            .await?;
        c.find(Locator::Id("password")).await?.send_keys(PW).await?;
        c.find(Locator::Css("form[action='/login'] button"))
            .await?
            .click()
            .await?;
        c.wait()
            .for_element(Locator::XPath("//h1[text()='Program dashboard']"))
            .await?;
        assert!(c.current_url().await?.as_str().ends_with("/dashboard"));
        let body = c.find(Locator::Css("main")).await?.text().await?;
        assert!(body.contains("E2E OTP"), "{body}");
        c.goto(&format!("{base}/patients?name=browsertest")).await?;
        c.find(Locator::LinkText("Browsertest, Maria"))
            .await?
            .click()
            .await?;
        c.wait().for_element(Locator::Id("patient-name")).await?;
        let chart = c.find(Locator::Css("main")).await?.text().await?;
        assert!(chart.contains(&patient.mrn), "{chart}");
        assert!(chart.contains("Admitted"), "{chart}");
        c.find(Locator::Css("form.signout button"))
            .await?
            .click()
            .await?;
        c.wait().for_element(Locator::Id("username")).await?;

        // Prescriber: password alone does not reach the dashboard.
        c.find(Locator::Id("username"))
            .await?
            .send_keys("dr.e2e")
            .await?;
        c.find(Locator::Id("password")).await?.send_keys(PW).await?;
        c.find(Locator::Css("form[action='/login'] button"))
            .await?
            .click()
            .await?;
        c.wait().for_element(Locator::Id("code")).await?;
        c.goto(&format!("{base}/dashboard")).await?;
        assert!(
            c.current_url().await?.as_str().ends_with("/mfa"),
            "dashboard must wait for the second factor"
        );
        c.find(Locator::Id("code"))
            .await?
            .send_keys("000000")
            .await?;
        c.find(Locator::Css("form[action='/mfa'] button"))
            .await?
            .click()
            .await?;
        c.wait().for_element(Locator::Id("mfa-error")).await?;
        let code = carepath_web::auth::totp(SECRET, "x")
            .unwrap()
            .generate_current()
            .to_string();
        c.find(Locator::Id("code")).await?.send_keys(&code).await?;
        c.find(Locator::Css("form[action='/mfa'] button"))
            .await?
            .click()
            .await?;
        c.wait()
            .for_element(Locator::XPath("//h1[text()='Program dashboard']"))
            .await?;
        Ok::<(), fantoccini::error::CmdError>(())
    }
    .await;
    let _ = c.clone().close().await;
    result.expect("browser journey");
}
