//! Carepath's application layer: every service behind every door (staff
//! pages, the JSON API, the CLI, the demo, and the jobs to come).
//!
//! - [`access`]: **the patient access path** — [`access::open`] returns a
//!   [`access::PatientScope`], the only way to a patient's data; every read
//!   and write hangs off it, and every attempt is audited. Program-level
//!   lists (worklists, rosters, census) are built only for programs where the
//!   principal holds the permission.
//! - [`kinds`]: the typed record kinds — each kind's input, stored body
//!   (versioned; readers read every shape ever stored), builder (validated and
//!   computed with the clinical engine) and the way back to its input for
//!   corrections.
//! - [`chart`], [`registration`], [`work`]: the patient's path.
//! - [`auth`], [`admin`], [`intake`], [`finder`]: accounts, sessions, second
//!   factor, tokens, the audit viewer, the intake queue and listings, the
//!   finder's index.
//!
//! Services take a [`Principal`] (staff, patient or system), compute, and
//! write through one unit of work per change (`carepath_store::Tx`), which
//! commits together with its audit event. Time comes from the injected
//! [`clock::Clock`]. Errors are [`Error`]s with no HTTP in them.

pub mod access;
pub mod actor;
pub mod admin;
pub mod auth;
pub mod chart;
pub mod clock;
pub mod cm;
pub mod dashboard;
pub mod dosing;
pub mod drafts;
pub mod drugtest;
pub mod error;
pub mod fhir;
pub mod finder;
pub mod fmt;
pub mod intake;
pub mod kinds;
pub mod lab;
pub mod overdose;
pub mod portal;
pub mod registration;
pub mod stock;
pub mod takehome;
pub mod teds;
pub mod window;
pub mod work;

pub use actor::{ActorKind, Principal, Via};
pub use error::{Error, Result};

/// Data types the services hand out (owned by the store, read-only here).
/// The portal's stored shapes.
pub mod portal_model {
    pub use carepath_store::portal::{PortalAccount, PortalInvite, PortalSettings, Report};
}

pub mod model {
    pub use carepath_store::cm::{
        Enrollment, Funding, Item as RewardItem, Redemption, Sample as CmSample,
    };
    pub use carepath_store::dosing::{Dose, Lot, MedOrder, Product};
    pub use carepath_store::drugtest::{DrugTest, LabMessage, Review as TestReview, TestResult};
    pub use carepath_store::referrals::Codes;
    pub use carepath_store::sessions::Scopes;
    pub use carepath_store::takehome::{
        Bottle, BottleEvent, Closure, Flows, Grant as TakehomeGrant, Kit, Overdose, Reconciliation,
        Signature as ReconciliationSignature,
    };
    pub use carepath_store::window::{Hold, QueueEntry};
    pub use carepath_store::{
        ApiToken, BreakGlassGrant, CalendarSession, CensusRow, Disclosure, Episode, Grant, Listing,
        NewReferral, Organization, Patient, PatientSearch, Program, ProgramProtocol, Record,
        Referral, Signature, User,
    };
    pub use carepath_store::{AuditFilter, AuditPage, VerifyResult};
}

use carepath_domain::authz::Role;
use carepath_store::Store;
use clock::{Clock, SystemClock};
use std::sync::Arc;

/// Settings that affect behaviour (not where to listen or which database).
/// Read from the `web.*` configuration keys.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Log a session off after this many seconds without a request (HIPAA
    /// § 164.312(a)(2)(iii), automatic logoff).
    pub idle_timeout_secs: i64,
    /// End a session this many seconds after sign-in, active or not.
    pub absolute_timeout_secs: i64,
    /// Always mark cookies `Secure`. They are anyway whenever the request
    /// came over HTTPS (through a trusted proxy that says so).
    pub secure_cookies: bool,
    /// Reverse proxies (IP addresses or CIDR blocks) whose
    /// `X-Forwarded-For` / `X-Forwarded-Proto` headers are believed: the
    /// client address (for rate limits and the audit trail) and whether the
    /// request came over HTTPS (then cookies are `Secure` and HSTS is sent).
    /// Read by the web door. Empty: the TCP peer is the client.
    pub trusted_proxies: Vec<String>,
    /// A bearer token for `GET /metrics`. Unset: metrics answer only
    /// requests from the loopback interface.
    pub metrics_token: Option<String>,
    /// Roles that must use a second factor, in addition to admin and prescriber.
    pub mfa_required_roles: Vec<Role>,
    /// Consecutive failed sign-ins before the account is locked.
    pub max_failed_logins: i64,
    /// How long a locked account stays locked.
    pub lockout_secs: i64,
    /// Sign-in attempts allowed per client address per minute.
    pub login_attempts_per_minute: u32,
    /// How long a break-the-glass grant lasts.
    pub break_glass_minutes: i64,
    /// Longest lifetime of a personal API token.
    pub max_token_days: i64,
    /// How often the server checks for a newly imported facility directory.
    pub finder_refresh_secs: u64,
    /// The withdrawal unit's COWS check protocol (every 4 h; hourly from 25).
    pub cows_protocol: carepath_clinical::flowsheet::Protocol,
    /// Follow-up calls after discharge: every N days…
    pub followup_every_days: u32,
    /// …this many times (default weekly for 12 weeks).
    pub followup_count: u32,
    /// How long a portal invitation works (hours).
    pub portal_invite_hours: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            idle_timeout_secs: 15 * 60,
            absolute_timeout_secs: 12 * 3600,
            secure_cookies: false,
            trusted_proxies: vec![],
            metrics_token: None,
            mfa_required_roles: vec![Role::Admin, Role::Prescriber],
            max_failed_logins: 5,
            lockout_secs: 15 * 60,
            login_attempts_per_minute: 20,
            break_glass_minutes: 60,
            max_token_days: 365,
            finder_refresh_secs: 30,
            cows_protocol: carepath_clinical::flowsheet::Protocol::default(),
            followup_every_days: 7,
            followup_count: 12,
            portal_invite_hours: 72,
        }
    }
}

impl Settings {
    /// Refuse settings that would weaken what the law or the brief requires
    /// (every problem, by key).
    pub fn validate(&self) -> std::result::Result<(), String> {
        let mut bad = vec![];
        // HIPAA § 164.312(a)(2)(iii) automatic logoff: a logoff after less
        // than a minute would sign people out mid-sentence; more than the
        // absolute lifetime would never apply.
        if self.idle_timeout_secs < 60 {
            bad.push("web.idle_timeout_secs: at least 60 seconds".to_string());
        }
        if self.absolute_timeout_secs < self.idle_timeout_secs {
            bad.push("web.absolute_timeout_secs: at least web.idle_timeout_secs".into());
        }
        if self.max_failed_logins < 1 {
            bad.push("web.max_failed_logins: at least 1".into());
        }
        if !(1..=3650).contains(&self.max_token_days) {
            bad.push("web.max_token_days: 1 to 3650".into());
        }
        if !(1..=720).contains(&self.portal_invite_hours) {
            bad.push("web.portal_invite_hours: 1 to 720".into());
        }
        if self.metrics_token.as_ref().is_some_and(|t| t.len() < 16) {
            bad.push("web.metrics_token: at least 16 characters".into());
        }
        if bad.is_empty() {
            Ok(())
        } else {
            Err(bad.join("; "))
        }
    }

    pub fn mfa_required_for(&self, role: Role) -> bool {
        role.mfa_required_by_default() || self.mfa_required_roles.contains(&role)
    }
}

/// The application: the store (private to this crate), the clock, the
/// settings, the finder's index. Cheap to clone, shared by every request.
#[derive(Clone)]
pub struct App {
    pub(crate) store: Store,
    clock: Arc<dyn Clock>,
    pub settings: Arc<Settings>,
    pub finder: Arc<finder::FinderIndex>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").field("store", &self.store).finish()
    }
}

impl App {
    /// The application over `store`, on the system clock.
    pub fn new(store: Store, settings: Settings) -> App {
        App {
            store,
            clock: Arc::new(SystemClock),
            settings: Arc::new(settings),
            finder: Arc::new(finder::FinderIndex::default()),
        }
    }

    /// The same application on another clock (demo, tests, benchmarks).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> App {
        self.clock = clock;
        self
    }

    /// Now, in UTC microseconds (from the injected clock).
    pub fn now_us(&self) -> i64 {
        self.clock.now_us()
    }

    pub fn now(&self) -> jiff::Timestamp {
        self.clock.now()
    }

    pub fn backend(&self) -> carepath_store::Backend {
        self.store.backend()
    }

    /// Whether the database answers (readiness).
    pub async fn ping(&self) -> Result<()> {
        Ok(self.store.ping().await?)
    }

    /// A unit of work recorded now.
    pub(crate) async fn begin(&self) -> Result<carepath_store::Tx> {
        Ok(self.store.begin(self.now_us()).await?)
    }

    /// Append one audit event on its own (reads, sign-ins, refusals).
    pub(crate) async fn audit(&self, ev: carepath_domain::audit::NewEvent) -> Result<()> {
        Ok(self.store.audit(ev, self.now_us()).await?)
    }
}

#[cfg(test)]
mod settings_tests {
    use super::Settings;

    #[test]
    fn protocol_settings_default_field_by_field() {
        let c: Settings =
            serde_json::from_str(r#"{"cows_protocol": {"every_h": 2}, "followup_count": 8}"#)
                .unwrap();
        assert_eq!(c.cows_protocol.every_h, 2);
        assert_eq!(c.cows_protocol.severe_every_h, 1);
        assert_eq!(c.cows_protocol.severe_from, 25);
        assert_eq!((c.followup_every_days, c.followup_count), (7, 8));
        assert!(
            serde_json::from_str::<Settings>(r#"{"cows_protocol": {"every_hours": 2}}"#).is_err()
        );
    }
}
