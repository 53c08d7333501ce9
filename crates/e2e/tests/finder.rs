//! The public finder in a phone-sized headless Chromium: a search from a ZIP
//! code finds nearby methadone programs that take Medicaid, Spanish works,
//! everything works with JavaScript disabled, and axe-core reports no serious
//! or critical accessibility violation on the search, results and facility pages.

use carepath_e2e::{browser, skip_or_fail};
use carepath_testkit::{TestDb, system};
use fantoccini::Locator;

async fn server() -> (String, TestDb) {
    let db = TestDb::sqlite().await;
    let fac =
        |id: &str, name: &str, lat: f64, lon: f64, codes: &[&str]| carepath_finder::Facility {
            id: id.into(),
            name: name.into(),
            name2: None,
            street: "10 Harbor St".into(),
            city: "Baltimore".into(),
            state: "MD".into(),
            zip: "21201".into(),
            phone: Some("(410)555-0199x12 Intake: (410)555-0100".into()),
            latitude: lat,
            longitude: lon,
            codes: codes.iter().map(|c| c.to_string()).collect(),
            sources: vec![],
            live: None,
            updated: None,
        };
    let app = carepath_app::App::new(db.store.clone(), carepath_testkit::settings());
    carepath_app::finder::replace(
        &app,
        &system(),
        vec![
            fac(
                "m1",
                "Harbor Methadone Clinic",
                39.300,
                -76.620,
                &["METH", "OTP", "MD", "SP"],
            ),
            fac(
                "m2",
                "Eastside Recovery OTP",
                39.305,
                -76.590,
                &["OTP", "MD", "PI"],
            ),
            fac(
                "b1",
                "Midtown Buprenorphine Practice",
                39.310,
                -76.615,
                &["BU", "PI"],
            ),
            fac("far", "Far Away Methadone", 40.5, -80.0, &["METH", "MD"]),
            fac(
                "pay",
                "Private Pay Methadone",
                39.302,
                -76.610,
                &["METH", "PI"],
            ),
        ],
    )
    .await
    .unwrap();
    let base = carepath_web::spawn_loopback(carepath_web::AppState::new(app))
        .await
        .unwrap();
    (base, db)
}

#[tokio::test]
async fn phone_search_without_javascript_in_english_and_spanish() {
    let Some(b) = browser(390, 844, false).await else {
        return skip_or_fail("chromedriver");
    };
    let c = &b.client;
    let (base, _db) = server().await;
    let run = async {
        c.goto(&format!("{base}/find")).await?;
        c.find(Locator::Id("near"))
            .await?
            .send_keys("21201")
            .await?;
        c.find(Locator::Css("input[value='methadone']"))
            .await?
            .click()
            .await?;
        c.find(Locator::Css("input[value='medicaid']"))
            .await?
            .click()
            .await?;
        c.find(Locator::Css("form.finder button[type='submit']"))
            .await?
            .click()
            .await?;
        c.wait().for_element(Locator::Id("results-h")).await?;
        // On the phone the answer is on the screen: the first result starts
        // within the first 844 px, the search folded under "Change search".
        let (_, y, _, _) = c
            .find(Locator::Css("#results ol.results > li"))
            .await?
            .rectangle()
            .await?;
        assert!(y < 844.0, "first result at {y} px");
        assert!(
            !c.find(Locator::Id("near")).await?.is_displayed().await?,
            "the form waits under 'Change search'"
        );
        // Every number dials, the extension too; where each comes from.
        c.find(Locator::Css("#results a[href='tel:+14105550199,12']"))
            .await?;
        c.find(Locator::Css("#results a[href='tel:+14105550100']"))
            .await?;
        let text = c.find(Locator::Id("results")).await?.text().await?;
        assert!(
            text.contains("ext. 12") && text.contains("Source:"),
            "{text}"
        );
        assert!(
            text.contains("Harbor Methadone Clinic") && text.contains("Eastside Recovery OTP"),
            "{text}"
        );
        assert!(
            !text.contains("Midtown Buprenorphine") && !text.contains("Private Pay"),
            "filters apply: {text}"
        );
        assert!(
            !text.contains("Far Away"),
            "the 25-mile default radius applies: {text}"
        );
        // Nearest first.
        assert!(text.find("Harbor Methadone").unwrap() < text.find("Eastside Recovery").unwrap());
        // Spanish, keeping the search.
        c.find(Locator::Css("header nav a")).await?.click().await?;
        c.wait().for_element(Locator::Id("results-h")).await?;
        let es = c.find(Locator::Css("main")).await?.text().await?;
        assert!(es.contains("programas encontrados"), "{es}");
        // The facility page, with a tap-to-call link.
        c.find(Locator::LinkText("Harbor Methadone Clinic"))
            .await?
            .click()
            .await?;
        c.wait()
            .for_element(Locator::Css("a[href^='tel:+1410']"))
            .await?;
        let page = c.find(Locator::Css("main")).await?.text().await?;
        assert!(
            page.contains("Metadona") || page.contains("Methadone"),
            "{page}"
        );
        Ok::<(), fantoccini::error::CmdError>(())
    }
    .await;
    let _ = c.clone().close().await;
    run.expect("finder journey without JavaScript");
}

#[tokio::test]
async fn axe_core_finds_no_serious_violations() {
    let Some(axe_path) = std::env::var("AXE_CORE_JS")
        .ok()
        .filter(|p| std::path::Path::new(p).exists())
    else {
        return skip_or_fail("axe-core (AXE_CORE_JS)");
    };
    let axe = std::fs::read_to_string(axe_path).unwrap();
    let Some(b) = browser(390, 844, true).await else {
        return skip_or_fail("chromedriver");
    };
    let c = &b.client;
    let (base, _db) = server().await;
    // Sanity: axe does flag a page with a real violation (an unlabeled field).
    c.goto("data:text/html,<html lang=en><title>t</title><main><input id=x></main></html>")
        .await
        .unwrap();
    c.execute(&axe, vec![]).await.unwrap();
    let bad = c
        .execute_async("const done = arguments[arguments.length - 1]; axe.run(document).then(r => done(r.violations.map(v => v.id)));", vec![])
        .await
        .unwrap();
    assert!(
        bad.as_array()
            .is_some_and(|a| a.iter().any(|v| v == "label")),
        "axe must catch an unlabeled input: {bad}"
    );
    let pages = [
        "/find",
        "/find/options",
        "/find/options?go=1&uses=pills&living=homeless&mental_health=suicidal",
        "/find?near=21201&f=methadone",
        "/find?lang=es&near=21201",
        "/find/facility/m1",
        "/find?near=xx",
        "/login",
    ];
    let mut problems = vec![];
    for p in pages {
        c.goto(&format!("{base}{p}")).await.unwrap();
        c.execute(&axe, vec![]).await.unwrap();
        let version = c.execute("return axe.version", vec![]).await.unwrap();
        assert!(
            version.as_str().is_some_and(|v| v.starts_with('4')),
            "axe-core loaded: {version}"
        );
        let r = c
            .execute_async(
                "const done = arguments[arguments.length - 1]; axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical').map(v => v.id + ': ' + v.help + ' (' + v.nodes.length + ')')));",
                vec![],
            )
            .await
            .unwrap();
        assert!(r.is_array(), "axe returned {r}");
        for v in r.as_array().cloned().unwrap_or_default() {
            problems.push(format!("{p}: {}", v.as_str().unwrap_or_default()));
        }
    }
    let _ = c.clone().close().await;
    assert!(
        problems.is_empty(),
        "axe-core serious/critical violations:\n{}",
        problems.join("\n")
    );
}
