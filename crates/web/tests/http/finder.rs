//! The public treatment finder: API, pages in two languages, the self-screen.

use super::*;

#[tokio::test]
async fn facility_search_api_is_public_and_picks_up_imports() {
    let db = TestDb::sqlite().await;
    let seeding = carepath_web::App::new(db.store.clone(), carepath_testkit::settings());
    carepath_app::finder::replace(
        &seeding,
        &system(),
        vec![
            fac("near", 39.30, -76.62, &["MD", "METH"]),
            fac("far", 39.95, -75.16, &["MD", "METH"]),
            fac("nometh", 39.29, -76.61, &["MD"]),
        ],
    )
    .await
    .unwrap();
    let w = World::with(
        db,
        WebConfig {
            finder_refresh_secs: 1,
            login_attempts_per_minute: 1000,
            ..Default::default()
        },
    )
    .await;
    let api = reqwest::Client::new();
    let j = get_json(
        &api,
        format!(
            "{}/api/v1/facilities?near=21201&radius_mi=25&codes=METH,MD",
            w.base
        ),
    )
    .await;
    assert_eq!(j["total"], 1);
    assert_eq!(j["results"][0]["id"], "near");
    assert!(j["results"][0]["distance_mi"].as_f64().unwrap() < 2.0);
    assert!(
        j["results"][0]["services"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["label"] == "Methadone")
    );
    let j = get_json(
        &api,
        format!("{}/api/v1/facilities?near=39.3,-76.6&page_size=2", w.base),
    )
    .await;
    assert_eq!(j["total"], 3);
    assert_eq!(j["results"].as_array().unwrap().len(), 2);
    let r = api
        .get(format!(
            "{}/api/v1/facilities?near=21201&page_size=500",
            w.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let j: serde_json::Value = r.json().await.unwrap();
    assert_eq!(j["error"]["field"], "page_size");
    let r = api
        .get(format!("{}/api/v1/facilities/near", w.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers().get("set-cookie").is_none(),
        "no cookies on public pages"
    );
    // An import while serving is picked up without a restart.
    carepath_app::finder::replace(
        &w.app,
        &system(),
        vec![fac("new", 39.31, -76.63, &["METH"])],
    )
    .await
    .unwrap();
    let mut seen = false;
    for _ in 0..40 {
        let j = get_json(
            &api,
            format!("{}/api/v1/facilities?near=21201&codes=METH", w.base),
        )
        .await;
        if j["total"] == 3 {
            seen = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(seen, "the new facility appears after the refresh");
}

#[tokio::test]
async fn public_finder_pages_work_without_login_or_cookies_in_two_languages() {
    let db = TestDb::sqlite().await;
    let seeding = carepath_web::App::new(db.store.clone(), carepath_testkit::settings());
    carepath_app::finder::replace(
        &seeding,
        &system(),
        vec![
            fac("otp", 39.30, -76.62, &["OTP", "MD"]),
            fac("bup", 39.30, -76.62, &["BU", "PI"]),
            fac("quiet", 39.31, -76.60, &[]),
        ],
    )
    .await
    .unwrap();
    let w = World::with(
        db,
        WebConfig {
            login_attempts_per_minute: 1000,
            ..Default::default()
        },
    )
    .await;
    let c = client();
    let r = c
        .get(format!(
            "{}/find?near=21201&radius=10&f=methadone&f=medicaid",
            w.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().get("set-cookie").is_none());
    // "Use my location": this page (and only it) may ask for the position;
    // the button is hidden until the script finds the browser can locate.
    assert_eq!(
        r.headers()["permissions-policy"],
        "camera=(), microphone=(), geolocation=(self)"
    );
    let html = r.text().await.unwrap();
    assert!(
        html.contains("Harbor Clinic otp") && !html.contains("Harbor Clinic bup"),
        "methadone + Medicaid filters"
    );
    assert!(
        html.contains("id=\"locate\"")
            && html.contains(" hidden ")
            && html.contains("/static/locate.js"),
        "{html}"
    );
    let js = c
        .get(format!("{}/static/locate.js", w.base))
        .send()
        .await
        .unwrap();
    assert_eq!(js.status(), StatusCode::OK);
    assert!(js.text().await.unwrap().contains("toFixed(2)"));
    let login = c.get(format!("{}/login", w.base)).send().await.unwrap();
    assert!(
        login.headers()["permissions-policy"]
            .to_str()
            .unwrap()
            .contains("geolocation=()")
    );
    // What the button fills in is a place the finder takes.
    let by_position = c
        .get(format!("{}/find?near=39.30,-76.62&radius=10", w.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(by_position.contains("Harbor Clinic otp"), "{by_position}");
    // Unknown is not "no": a listing that names no services comes after the
    // matches, labelled, never among them and never hidden.
    let (matches, apart) = html
        .split_once("Services not listed — call to ask")
        .expect(&html);
    assert!(
        !matches.contains("Harbor Clinic quiet"),
        "not counted as a match"
    );
    assert!(apart.contains("Harbor Clinic quiet"), "{apart}");
    assert!(
        html.contains("1 programs found"),
        "the count is the matches"
    );
    // Switching language keeps the place, the filters and the page …
    assert!(
        html.contains(
            "href=\"/find?lang=es&#38;near=21201&#38;radius=10&#38;f=methadone&#38;f=medicaid\""
        ),
        "{html}"
    );
    // … and on a facility page stays on the facility, with the way back.
    let fpage = get_text(
        &c,
        format!(
            "{}/find/facility/otp?lang=en&back=%2Ffind%3Flang%3Den%26near%3D21201",
            w.base
        ),
    )
    .await;
    assert!(
        fpage.contains(
            "href=\"/find/facility/otp?lang=es&#38;back=%2Ffind%3Flang%3Des%26near%3D21201\""
        ),
        "{fpage}"
    );
    // Nothing within the distance: the nearest, with how far they are.
    let far = get_text(&c, format!("{}/find?near=10001&radius=10", w.base)).await;
    assert!(far.contains("0 programs found"), "{far}");
    let (_, nearest) = far
        .split_once("Nothing within this distance. The nearest programs:")
        .expect(&far);
    assert!(
        nearest.contains("Harbor Clinic") && nearest.contains("miles away"),
        "{nearest}"
    );
    assert!(html.contains("tel:+14105550100"), "tap-to-call");
    assert!(html.contains("1-800-662-4357") && html.contains("tel:988"));
    // Public pages need no JavaScript: the results above are in the HTML;
    // the one script only adds "Use my location".
    assert_eq!(
        html.matches("<script").count(),
        html.matches("<script src=\"/static/locate.js\" defer></script>")
            .count(),
        "no script but the location button's"
    );
    assert!(
        html.contains("/static/us-states.svg") && html.contains("class=\"pin\""),
        "an offline map with the results"
    );
    let map = c
        .get(format!("{}/static/us-states.svg", w.base))
        .send()
        .await
        .unwrap();
    assert_eq!(map.headers()["content-type"], "image/svg+xml");
    assert!(
        map.text()
            .await
            .unwrap()
            .contains("<title>Maryland</title>")
    );
    let es = get_text(&c, format!("{}/find?lang=es&near=21201", w.base)).await;
    assert!(es.contains("lang=\"es\"") && es.contains("programas encontrados"));
    let es2 = c
        .get(format!("{}/find", w.base))
        .header("accept-language", "es-MX,es;q=0.9")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(es2.contains("Encuentre tratamiento"));
    let r = c
        .get(format!("{}/find?near=00000", w.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("near-error"));
    let page = get_text(
        &c,
        format!("{}/find/facility/otp?back=https://evil.example/", w.base),
    )
    .await;
    assert!(
        page.contains("Federally certified opioid treatment program") && page.contains("Medicaid")
    );
    assert!(
        !page.contains("evil.example"),
        "the back link stays on this site"
    );
    assert_eq!(
        c.get(format!("{}/find/facility/nope", w.base))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn self_screen_suggests_care_and_prefills_a_search() {
    let w = World::new(TestDb::sqlite().await).await;
    let c = client();
    let html = get_text(&c, format!("{}/find/options", w.base)).await;
    assert!(html.contains("Know your options") && !html.contains("What could help you"));
    let before = w.store().audit_count().await.unwrap();
    let r = c
        .get(format!("{}/find/options?lang=en&go=1&uses=heroin_fentanyl&last_use=today&withdrawal=severe&pregnant=no&mental_health=ok&living=stable&insurance=medicaid&medication=yes&residential=must_stay", w.base))
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("set-cookie").is_none());
    let html = r.text().await.unwrap();
    assert!(
        html.contains("Medication: methadone or buprenorphine")
            && html.contains("What to expect in withdrawal")
    );
    assert!(
        html.contains("radius=25&#38;f=methadone&#38;f=medicaid"),
        "prefilled search"
    );
    assert_eq!(
        w.store().audit_count().await.unwrap(),
        before,
        "nothing is stored"
    );
    let es = get_text(
        &c,
        format!(
            "{}/find/options?lang=es&go=1&uses=pills&mental_health=suicidal",
            w.base
        ),
    )
    .await;
    assert!(es.contains("Ayuda ahora mismo") && es.contains("988"));
}
