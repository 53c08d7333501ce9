//! The front door on a phone (390×844, headless Chromium), as a parent would
//! use it at night (issue 12, items 2, 3 and 5): a place typed the way people
//! type it — a bare city, "Baltimore MD", a ZIP+4 — is found; a filter shows
//! the listings that name no services after the matches, labelled "call to
//! ask", instead of hiding them; nothing within the distance shows the
//! nearest programs and how far they are; a mother asks for a call back for
//! her son, a mistyped number is explained in words on the screen with
//! everything she typed kept, and the thanks appear where she is looking.
//! axe-core checks every page on the way.

use carepath_domain::program::ProgramKind;
use carepath_e2e::{axe, browser, click_and_leave, skip_or_fail, top_on_screen};
use carepath_testkit::{Clinic, TestDb, system};
use fantoccini::error::CmdError;
use fantoccini::{Client, Locator};

fn facility(id: &str, name: &str, lat: f64, lon: f64, codes: &[&str]) -> carepath_finder::Facility {
    carepath_finder::Facility {
        id: id.into(),
        name: name.into(),
        name2: None,
        street: "10 Harbor St".into(),
        city: "Baltimore".into(),
        state: "MD".into(),
        zip: "21201".into(),
        phone: Some("(410)555-0199".into()),
        latitude: lat,
        longitude: lon,
        codes: codes.iter().map(|c| c.to_string()).collect(),
        sources: vec!["samhsa-csv".into()],
        live: None,
        updated: Some("2026-11-30".into()),
    }
}

async fn search(c: &Client, base: &str, near: &str, query: &str) -> Result<String, CmdError> {
    c.goto(&format!("{base}/find{query}")).await?;
    // The form folds under "Change search" once a search was made: open it.
    if let Ok(d) = c.find(Locator::Css("details.change-search")).await
        && d.attr("open").await?.is_none()
    {
        c.find(Locator::Css("details.change-search > summary"))
            .await?
            .click()
            .await?;
    }
    let field = c.find(Locator::Id("near")).await?;
    field.clear().await?;
    field.send_keys(near).await?;
    click_and_leave(c, "form.finder button[type='submit']").await?;
    c.wait()
        .for_element(Locator::Css("#results-h, #near-error"))
        .await?;
    c.find(Locator::Css("main")).await?.text().await
}

#[tokio::test]
async fn a_parent_on_a_phone_finds_help_as_she_types_and_asks_for_a_call_back() {
    let Some(b) = browser(390, 844, true).await else {
        return skip_or_fail("chromedriver");
    };
    let c = &b.client;
    let axe_js = carepath_e2e::axe_source("this journey");
    let mut problems: Vec<String> = vec![];
    let clinic = Clinic::new(
        TestDb::sqlite().await,
        "Harbor Lights OTP",
        ProgramKind::OpioidTreatmentProgram,
        "America/New_York",
    )
    .await;
    carepath_app::finder::replace(
        &clinic.app,
        &system(),
        vec![
            facility("dtx", "Inner Harbor Detox", 39.300, -76.620, &["DT", "MD"]),
            facility(
                "bup",
                "Midtown Buprenorphine",
                39.305,
                -76.610,
                &["BU", "PI"],
            ),
            facility("quiet", "Quiet Street Counseling", 39.310, -76.600, &[]),
        ],
    )
    .await
    .unwrap();
    // A program that runs Carepath, with its own listing (and call-backs).
    carepath_app::intake::set_listing(
        &clinic.app,
        &system(),
        clinic.program,
        &carepath_app::intake::ListingInput {
            latitude: "39.29".into(),
            longitude: "-76.61".into(),
            phone: "(410) 555-0100".into(),
            codes: "OTP MD".into(),
            accepting: Some("yes".into()),
            waitlist_days: "0".into(),
            hours: Some("Dosing Mon–Fri 05:30–13:00".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let base = clinic.serve().await;
    let fid = carepath_web::finder::program_facility_id(clinic.program);

    let run = async {
        // Item 3: a bare city name, the way people type it.
        let page = search(c, &base, "baltimore", "").await?;
        assert!(
            page.contains("Inner Harbor Detox") && page.contains("programs found"),
            "{page}"
        );
        axe(c, &axe_js, "results for a bare city", &mut problems).await?;
        // "Use my location" is offered where the browser can locate; it
        // fills the place with the position (to two decimals) and searches.
        // (The browser's position is set by the test: headless Chromium has
        // no location of its own.)
        c.goto(&format!("{base}/find")).await?;
        let locate = c.find(Locator::Id("locate")).await?;
        assert!(locate.is_displayed().await?, "the location button shows");
        c.execute(
            "navigator.geolocation.getCurrentPosition = ok => ok({coords: {latitude: 39.29041, longitude: -76.61219}});",
            vec![],
        )
        .await?;
        let page = c.find(Locator::Css("html")).await?;
        locate.click().await?;
        carepath_e2e::wait_stale(&page).await;
        c.wait().for_element(Locator::Id("results-h")).await?;
        let near = c.find(Locator::Id("near")).await?.prop("value").await?;
        assert_eq!(near.as_deref(), Some("39.29,-76.61"));
        assert!(
            c.find(Locator::Id("results")).await?.text().await?.contains("Inner Harbor Detox")
        );
        for near in ["Baltimore MD", "21201-1234", "baltimore, md"] {
            let page = search(c, &base, near, "?near=21201").await?;
            assert!(page.contains("Inner Harbor Detox"), "{near}: {page}");
        }
        // A place the finder does not know is explained beside the field.
        let page = search(c, &base, "Atlantis", "").await?;
        assert!(page.contains("no treatment listing in a place called"), "{page}");
        let y = top_on_screen(c, "#near-error").await?;
        assert!((-1.0..844.0).contains(&y), "the error is on the screen: {y}");
        axe(c, &axe_js, "a place not found", &mut problems).await?;

        // Item 2: unknown is not "no" — a detox filter keeps the listing
        // that names no services, after the matches and labelled.
        c.goto(&format!("{base}/find?near=21201&f=detox")).await?;
        c.wait().for_element(Locator::Id("results-h")).await?;
        let page = c.find(Locator::Id("results")).await?.text().await?;
        let (matches, apart) = page
            .split_once("Services not listed — call to ask")
            .unwrap_or_else(|| panic!("the unlisted come apart: {page}"));
        assert!(matches.contains("Inner Harbor Detox"), "{matches}");
        assert!(!matches.contains("Quiet Street"), "{matches}");
        assert!(!page.contains("Midtown Buprenorphine"), "{page}");
        assert!(apart.contains("Quiet Street Counseling"), "{apart}");
        axe(c, &axe_js, "a filter with unlisted services", &mut problems).await?;

        // Item 3: nothing within the distance — the nearest, and how far.
        c.goto(&format!("{base}/find?near=10001&radius=10")).await?;
        c.wait().for_element(Locator::Id("results-h")).await?;
        let page = c.find(Locator::Css("main")).await?.text().await?;
        assert!(page.contains("0 programs found"), "{page}");
        let nearest = page
            .split_once("Nothing within this distance. The nearest programs:")
            .map(|(_, n)| n.to_string())
            .unwrap_or_else(|| panic!("the nearest are offered: {page}"));
        assert!(
            nearest.contains("Baltimore") && nearest.contains("miles away"),
            "{nearest}"
        );
        axe(c, &axe_js, "nothing within the distance", &mut problems).await?;

        // Item 5: a mother asks for a call back for her son.
        c.goto(&format!("{base}/find/facility/{fid}")).await?;
        c.find(Locator::Css("input[name='for_whom'][value='other']"))
            .await?
            .click()
            .await?;
        for (id, text) in [
            ("cb-their", "Luis"),
            ("cb-rel", "mother"),
            ("cb-name", "Maria"),
            ("cb-phone", "555-0142"),
            ("cb-time", "after 6 pm"),
        ] {
            c.find(Locator::Id(id)).await?.send_keys(text).await?;
        }
        c.find(Locator::Css("input[name='consent']"))
            .await?
            .click()
            .await?;
        click_and_leave(c, "form[action$='/callback#cb-h'] button[type='submit']").await?;
        c.wait().for_element(Locator::Id("callback-error")).await?;
        let err = c.find(Locator::Id("callback-error")).await?.text().await?;
        assert!(err.contains("10 digits"), "said in words: {err}");
        let y = top_on_screen(c, "#callback-error").await?;
        assert!((-1.0..844.0).contains(&y), "the error is where the eye is: {y}");
        for (id, kept) in [
            ("cb-their", "Luis"),
            ("cb-rel", "mother"),
            ("cb-name", "Maria"),
            ("cb-phone", "555-0142"),
            ("cb-time", "after 6 pm"),
        ] {
            let v = c.find(Locator::Id(id)).await?.prop("value").await?;
            assert_eq!(v.as_deref(), Some(kept), "{id} kept");
        }
        let other = c
            .find(Locator::Css("input[name='for_whom'][value='other']"))
            .await?
            .prop("checked")
            .await?;
        assert_eq!(other.as_deref(), Some("true"), "still for someone else");
        axe(c, &axe_js, "call-back with an error", &mut problems).await?;
        let phone = c.find(Locator::Id("cb-phone")).await?;
        phone.clear().await?;
        phone.send_keys("410-555-0142").await?;
        click_and_leave(c, "form[action$='/callback#cb-h'] button[type='submit']").await?;
        c.wait().for_element(Locator::Id("callback-status")).await?;
        let y = top_on_screen(c, "#callback-status").await?;
        assert!((-1.0..844.0).contains(&y), "the thanks are on the screen: {y}");
        axe(c, &axe_js, "call-back sent", &mut problems).await?;
        Ok::<(), CmdError>(())
    }
    .await;
    let _ = c.clone().close().await;
    run.expect("the front door on a phone");
    assert!(
        problems.is_empty(),
        "axe-core serious/critical violations:\n{}",
        problems.join("\n")
    );
    // The request is for the son, saying who asked.
    let queue = clinic
        .db
        .store
        .referrals(&[clinic.program], true)
        .await
        .unwrap();
    assert_eq!(queue.len(), 1, "one request stored, the mistake none");
    assert_eq!(queue[0].name, "Luis");
    assert_eq!(
        queue[0].note.as_deref(),
        Some("Call-back asked by someone else: Maria (mother) is calling for Luis.")
    );
}
