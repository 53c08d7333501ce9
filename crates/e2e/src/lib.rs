//! Browser end-to-end tests live in `tests/`. They drive Debian's headless
//! Chromium through chromedriver (WebDriver) against the real server. This
//! library holds what they share: starting chromedriver and a browser session.

use fantoccini::error::CmdError;
use fantoccini::{Client, ClientBuilder, Locator};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A chromedriver process, killed when dropped.
pub struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A browser session with its driver and its throwaway profile directory.
pub struct Browser {
    pub client: Client,
    _driver: Driver,
    _profile: tempfile::TempDir,
}

/// Where Debian installs chromedriver.
pub fn find_driver() -> Option<&'static str> {
    ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
}

/// Under CI a missing browser is a failure; on a developer machine the test is skipped, loudly.
pub fn skip_or_fail(what: &str) {
    if std::env::var("CI").is_ok() {
        panic!("{what} missing: .ci/run must install it");
    }
    eprintln!("SKIPPED: {what} not installed");
}

/// Start chromedriver on a free loopback port and open headless Chromium with
/// the flags this sandbox needs, a fresh profile, the given window size, and
/// JavaScript on or off. `None` when chromedriver is not installed.
pub async fn browser(width: u32, height: u32, javascript: bool) -> Option<Browser> {
    let bin = find_driver()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let driver = Driver(
        Command::new(bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?,
    );
    let profile = tempfile::tempdir().ok()?;
    let mut opts = serde_json::json!({
        "binary": "/usr/bin/chromium",
        "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic",
                 format!("--window-size={width},{height}"), format!("--user-data-dir={}", profile.path().display())]
    });
    if !javascript {
        opts["prefs"] =
            serde_json::json!({"profile.managed_default_content_settings.javascript": 2});
    }
    let mut caps = serde_json::Map::new();
    caps.insert("goog:chromeOptions".into(), opts);
    for _ in 0..50 {
        let conn = hyper_util::client::legacy::connect::HttpConnector::new();
        if let Ok(client) = ClientBuilder::new(conn)
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            return Some(Browser {
                client,
                _driver: driver,
                _profile: profile,
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    None
}

// Steps the journeys share.

pub async fn click(c: &Client, css: &str) -> Result<(), CmdError> {
    c.find(Locator::Css(css)).await?.click().await
}

pub async fn select(c: &Client, name: &str, value: &str) -> Result<(), CmdError> {
    c.find(Locator::Css(&format!("select[name='{name}']")))
        .await?
        .select_by_value(value)
        .await
}

pub async fn type_in(c: &Client, name: &str, text: &str) -> Result<(), CmdError> {
    c.find(Locator::Css(&format!("[name='{name}']")))
        .await?
        .send_keys(text)
        .await
}

/// axe-core's source (`AXE_CORE_JS`) for a journey's accessibility checks
/// of `what`; `None` (skipped loudly off CI, a failure under CI) when missing.
pub fn axe_source(what: &str) -> Option<String> {
    let js = std::env::var("AXE_CORE_JS")
        .ok()
        .and_then(|p| std::fs::read_to_string(p).ok());
    if js.is_none() {
        skip_or_fail(&format!(
            "axe-core (AXE_CORE_JS): the accessibility checks of {what}"
        ));
    }
    js
}

/// Fill the intake assessment form (opened) with a severe OUD picture —
/// heroin, injected, daily; seven DSM-5 criteria; the six ASAM dimensions —
/// and ask for the recommendation, waiting until it shows.
pub async fn fill_assessment(c: &Client) -> Result<(), CmdError> {
    select(c, "substances[0].code", "5").await?;
    select(c, "substances[0].route", "4").await?;
    select(c, "substances[0].frequency", "3").await?;
    type_in(c, "substances[0].age_first_use", "19").await?;
    for k in ["A1", "A2", "A3", "A4", "A6", "A10", "A11"] {
        click(c, &format!("input[name='dsm5'][value='{k}']")).await?;
    }
    for (d, v) in [
        ("withdrawal", "3"),
        ("biomedical", "1"),
        ("emotional_behavioral", "1"),
        ("readiness", "2"),
        ("relapse", "3"),
        ("recovery_environment", "2"),
    ] {
        click(c, &format!("input[name='dimensions.{d}'][value='{v}']")).await?;
    }
    submit(c, "Show recommendation").await?;
    c.wait()
        .for_element(Locator::Css(
            "section.panel[aria-label='Level-of-care recommendation']",
        ))
        .await?;
    Ok(())
}

/// axe-core's serious and critical findings on the current page, prefixed by `label`.
pub async fn axe(
    c: &Client,
    js: &Option<String>,
    label: &str,
    problems: &mut Vec<String>,
) -> Result<(), CmdError> {
    let Some(js) = js else { return Ok(()) };
    c.execute(js, vec![]).await?;
    let version = c.execute("return axe.version", vec![]).await?;
    assert!(
        version.as_str().is_some_and(|v| v.starts_with('4')),
        "axe-core loaded on {label}: {version}"
    );
    let r = c
        .execute_async(
            "const done = arguments[arguments.length - 1]; axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical').map(v => v.id + ': ' + v.help + ' ' + v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', '))));",
            vec![],
        )
        .await?;
    for v in r.as_array().cloned().unwrap_or_default() {
        problems.push(format!("{label}: {}", v.as_str().unwrap_or_default()));
    }
    Ok(())
}

/// Where the element `css` starts, in CSS pixels from the top of the
/// viewport (negative: scrolled above; beyond the height: below the screen).
pub async fn top_on_screen(c: &Client, css: &str) -> Result<f64, CmdError> {
    let v = c
        .execute(
            "return document.querySelector(arguments[0]).getBoundingClientRect().top",
            vec![serde_json::json!(css)],
        )
        .await?;
    Ok(v.as_f64().unwrap_or(f64::NAN))
}

pub async fn main_text(c: &Client) -> Result<String, CmdError> {
    c.find(Locator::Css("main")).await?.text().await
}

/// Press the form button `label` and wait until the browser has left the
/// page (its document is gone), so that what is looked for next is on the
/// page the form leads to — not a notice still showing on the old one.
pub async fn submit_and_leave(c: &Client, label: &str) -> Result<(), CmdError> {
    let old = c.find(Locator::Css("html")).await?;
    submit(c, label).await?;
    wait_stale(&old).await;
    Ok(())
}

/// Click the element `css` and wait until the browser has left the page
/// (as [`submit_and_leave`], for a control found by CSS).
pub async fn click_and_leave(c: &Client, css: &str) -> Result<(), CmdError> {
    let old = c.find(Locator::Css("html")).await?;
    click(c, css).await?;
    wait_stale(&old).await;
    Ok(())
}

/// Wait (up to 10 s) until `old` — an element of the page being left — is gone.
pub async fn wait_stale(old: &fantoccini::elements::Element) {
    for _ in 0..400 {
        match old.tag_name().await {
            Err(CmdError::Standard(e))
                if e.error == fantoccini::error::ErrorStatus::StaleElementReference =>
            {
                return;
            }
            _ => tokio::time::sleep(Duration::from_millis(25)).await,
        }
    }
}

pub async fn submit(c: &Client, label: &str) -> Result<(), CmdError> {
    c.find(Locator::XPath(&format!(
        "//main//button[normalize-space()='{label}']"
    )))
    .await?
    .click()
    .await
}

/// Sign in as `user` with `password` (and the second factor's `code` when
/// one is due), waiting for the worklist every clinical role lands on.
pub async fn sign_in(
    c: &Client,
    base: &str,
    user: &str,
    password: &str,
    code: Option<String>,
) -> Result<(), CmdError> {
    c.delete_all_cookies().await?;
    c.goto(&format!("{base}/login")).await?;
    type_in(c, "username", user).await?;
    type_in(c, "password", password).await?;
    click(c, "form[action='/login'] button").await?;
    if let Some(code) = code {
        c.wait().for_element(Locator::Id("code")).await?;
        type_in(c, "code", &code).await?;
        click(c, "form[action='/mfa'] button").await?;
    }
    c.wait()
        .for_element(Locator::XPath("//h1[text()='Worklist']"))
        .await?;
    Ok(())
}

/// Chromium's network emulation (the WebDriver extension
/// `POST /session/{id}/chromium/network_conditions`): round-trip latency in
/// milliseconds and throughput in bytes per second.
#[derive(Debug, Clone, Copy)]
pub struct NetworkConditions {
    pub latency_ms: u32,
    pub download_bps: u32,
    pub upload_bps: u32,
}

impl NetworkConditions {
    /// Chrome DevTools' "Slow 3G" preset: 2,000 ms latency (400 ms × 5),
    /// 500 kbit/s × 0.8 each way.
    pub const SLOW_3G: NetworkConditions = NetworkConditions {
        latency_ms: 2_000,
        download_bps: 500 * 1000 / 8 * 8 / 10,
        upload_bps: 500 * 1000 / 8 * 8 / 10,
    };
}

impl fantoccini::wd::WebDriverCompatibleCommand for NetworkConditions {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/chromium/network_conditions",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let body = serde_json::json!({"network_conditions": {
            "offline": false,
            "latency": self.latency_ms,
            "download_throughput": self.download_bps,
            "upload_throughput": self.upload_bps,
        }});
        (http::Method::POST, Some(body.to_string()))
    }
}

/// Emulate `n` on the browser's network from now on.
pub async fn throttle(c: &Client, n: NetworkConditions) -> Result<(), CmdError> {
    c.issue_cmd(n).await.map(|_| ())
}
