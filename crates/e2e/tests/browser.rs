//! Log in through the real login page in headless Chromium, open the
//! dashboard and a patient chart; a prescriber cannot get past the second factor
//! without a code. Skips (loudly) when chromedriver is absent, except under CI,
//! where its absence fails the test.

use carepath_domain::authz::Role;
use carepath_domain::program::ProgramKind;
use carepath_e2e::{browser, skip_or_fail};
use carepath_testkit::{Clinic, PW, SECRET, TestDb};
use fantoccini::Locator;

#[tokio::test]
async fn login_dashboard_chart_and_mfa_in_headless_chromium() {
    let Some(b) = browser(1024, 768, true).await else {
        return skip_or_fail("chromedriver (apt-get install chromium chromium-driver)");
    };
    let c = &b.client;
    // Server with a small clinic.
    let clinic = Clinic::new(
        TestDb::sqlite().await,
        "E2E OTP",
        ProgramKind::OpioidTreatmentProgram,
        "America/New_York",
    )
    .await;
    let patient = clinic
        .patient(
            "Maria",
            "Browsertest",
            "1985-06-01",
            Some(ProgramKind::OpioidTreatmentProgram),
        )
        .await;
    clinic.staff("nurse.e2e", "nurse.e2e", &[Role::Nurse]).await;
    clinic.staff("dr.e2e", "dr.e2e", &[Role::Prescriber]).await;
    let base = clinic.serve().await;

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
            .for_element(Locator::XPath("//h1[text()='Worklist']"))
            .await?;
        // A nurse lands on her work; the dashboard is a click away.
        assert!(c.current_url().await?.as_str().ends_with("/worklist"));
        c.goto(&format!("{base}/dashboard")).await?;
        c.wait()
            .for_element(Locator::XPath("//h1[text()='Program dashboard']"))
            .await?;
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
            .for_element(Locator::XPath("//h1[text()='Worklist']"))
            .await?;
        Ok::<(), fantoccini::error::CmdError>(())
    }
    .await;
    let _ = c.clone().close().await;
    result.expect("browser journey");
}
