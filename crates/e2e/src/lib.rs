//! Browser end-to-end tests live in `tests/`. They drive Debian's headless
//! Chromium through chromedriver (WebDriver) against the real server.
