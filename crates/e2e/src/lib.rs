//! Browser end-to-end tests live in `tests/`. They drive Debian's headless
//! Chromium through chromedriver (WebDriver) against the real server. This
//! library holds what they share: starting chromedriver and a browser session.

use fantoccini::{Client, ClientBuilder};
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
