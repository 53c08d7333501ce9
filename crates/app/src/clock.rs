//! The one place Carepath reads the time of day. Services and the store take
//! times as parameters; the application asks its [`Clock`] once per operation.
//! The server runs on [`SystemClock`]; the demo clinic, the tests and
//! benchmarks run on a [`ManualClock`] they set and advance.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Where "now" comes from.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// UTC microseconds since the Unix epoch.
    fn now_us(&self) -> i64;

    fn now(&self) -> jiff::Timestamp {
        jiff::Timestamp::from_microsecond(self.now_us()).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
    }
}

/// The operating system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_us(&self) -> i64 {
        jiff::Timestamp::now().as_microsecond()
    }
}

/// A clock that stands still until moved (demo history, tests, benchmarks).
/// Clones share the same time.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn at(us: i64) -> Self {
        ManualClock(Arc::new(AtomicI64::new(us)))
    }
    /// Set to the present of the operating system (the demo's "today").
    pub fn from_system() -> Self {
        Self::at(SystemClock.now_us())
    }
    pub fn set(&self, us: i64) {
        self.0.store(us, Ordering::SeqCst);
    }
    pub fn advance(&self, us: i64) {
        self.0.fetch_add(us, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_us(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// One hour and one day in microseconds.
pub const HOUR_US: i64 = 3_600_000_000;
pub const DAY_US: i64 = 24 * HOUR_US;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_is_shared_by_its_clones() {
        let c = ManualClock::at(10);
        let d = c.clone();
        d.advance(5);
        assert_eq!(c.now_us(), 15);
        c.set(100);
        assert_eq!(d.now_us(), 100);
        assert_eq!(d.now().as_microsecond(), 100);
    }
}
