//! The patient portal on a slow phone connection: page weight and load time
//! of every portal page in headless Chromium at 360 × 740 px under Chrome
//! DevTools' "Slow 3G" emulation (2 s latency, 400 kbit/s). Prints a table
//! for BENCHMARKS.md.
//!
//!     cargo run -p carepath-e2e --example portal_weight
//!
//! Needs chromium and chromium-driver. The server is local (loopback); the
//! network emulation is Chromium's. "Cold" = first page with an empty cache
//! (the stylesheet comes too); the others reuse the cached stylesheet.

use carepath_app::cm::{self, EnrollInput, FundingInput, ItemInput};
use carepath_app::drugtest::{self, CollectInput, ResultInput};
use carepath_app::portal::{self, JoinInput};
use carepath_domain::authz::Role;
use carepath_domain::program::ProgramKind;
use carepath_e2e::{NetworkConditions, browser, throttle, type_in};
use carepath_testkit::{Clinic, TestDb, system};
use fantoccini::Locator;

const PW: &str = "river stone lamp garden";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let b = browser(360, 740, true).await.ok_or_else(|| {
        anyhow::anyhow!("chromedriver not found (apt-get install chromium chromium-driver)")
    })?;
    let c = &b.client;
    let clinic = Clinic::new(
        TestDb::sqlite().await,
        "Bench OTP",
        ProgramKind::OpioidTreatmentProgram,
        "America/New_York",
    )
    .await;
    let app = clinic.app.clone();
    let nurse_id = clinic
        .staff("nurse.bench", "Nurse Bench", &[Role::Nurse])
        .await;
    let nurse = carepath_app::Principal::system_for(
        "bench",
        nurse_id,
        "Nurse Bench",
        Role::Nurse,
        clinic.program,
    );
    let sam = clinic
        .patient(
            "Sam",
            "Ortiz",
            "1988-05-06",
            Some(ProgramKind::OpioidTreatmentProgram),
        )
        .await;
    let f = cm::add_funding(
        &app,
        &system(),
        clinic.program,
        &FundingInput {
            name: "Grant".into(),
            annual_cap_cents: None,
            annual_budget_cents: 100_000,
        },
    )
    .await?;
    for (name, cost) in [
        ("Bus pass, 7 days", 1500),
        ("Grocery card $10", 1000),
        ("Hygiene kit", 800),
    ] {
        cm::add_item(
            &app,
            &system(),
            clinic.program,
            &ItemInput {
                name: name.into(),
                category: "transport".into(),
                cost_cents: cost,
                stock: 10,
            },
        )
        .await?;
    }
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
    .await?;
    for _ in 0..6 {
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
        .await?;
    }
    let inv = portal::invite(&app, &system(), sam.id).await?;
    portal::join(
        &app,
        &JoinInput {
            code: inv.code,
            username: "sam.bench".into(),
            password: PW.into(),
            confirm: PW.into(),
            language: "en".into(),
        },
        None,
    )
    .await?;
    let base = carepath_web::spawn_loopback(carepath_web::AppState::new(app.clone())).await?;

    throttle(c, NetworkConditions::SLOW_3G).await?;
    let mut rows = vec![];
    // The sign-in page, cold: HTML and stylesheet over the slow link.
    c.goto(&format!("{base}/portal/sign-in")).await?;
    rows.push(("/portal/sign-in (cold)".to_string(), measure(c).await?));
    type_in(c, "username", "sam.bench").await?;
    type_in(c, "password", PW).await?;
    c.find(Locator::Css("form[action='/portal/sign-in'] button"))
        .await?
        .click()
        .await?;
    c.wait().for_element(Locator::Css("h1")).await?;
    for p in [
        "/portal",
        "/portal/treatment",
        "/portal/check-in",
        "/portal/rewards",
        "/portal/learn",
        "/portal/learn/overdose",
    ] {
        c.goto(&format!("{base}{p}")).await?;
        rows.push((p.to_string(), measure(c).await?));
    }
    println!(
        "| Page | HTML (bytes, gzip off) | Transferred incl. CSS (bytes) | Load on Slow 3G (ms) |"
    );
    println!("|---|---:|---:|---:|");
    for (p, (html, total, ms)) in &rows {
        println!("| `{p}` | {html} | {total} | {ms:.0} |");
    }
    b.client.clone().close().await.ok();
    Ok(())
}

/// (document bytes, bytes transferred for the page and its resources, load
/// time from navigation start to the load event, ms).
async fn measure(c: &fantoccini::Client) -> anyhow::Result<(u64, u64, f64)> {
    let v = c
        .execute(
            "const n = performance.getEntriesByType('navigation')[0];
             const r = performance.getEntriesByType('resource');
             return [n.encodedBodySize, n.transferSize + r.reduce((a, x) => a + x.transferSize, 0), n.loadEventEnd - n.startTime];",
            vec![],
        )
        .await?;
    let a = v.as_array().cloned().unwrap_or_default();
    let n = |i: usize| a.get(i).and_then(|x| x.as_f64()).unwrap_or(0.0);
    Ok((n(0) as u64, n(1) as u64, n(2)))
}
