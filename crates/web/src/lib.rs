//! Carepath's HTTP server: staff HTML pages (askama templates, htmx vendored
//! into the binary), the JSON API under `/api/v1` with a generated OpenAPI
//! document, authentication (argon2id, sessions, TOTP, API tokens) and the one
//! authorization-and-audit path for patient data ([`access`]).
//!
//! Request flow: security headers, metrics and CSRF layers wrap the router;
//! every route is registered from the table in [`routes`] together with its
//! guard, which resolves the [`auth::Principal`] and checks the permission from
//! `carepath_domain::authz` before the handler runs.

pub mod access;
pub mod api;
pub mod auth;
pub mod chart;
pub mod error;
pub mod finder;
pub mod map;
pub mod metrics;
pub mod pages;
pub mod path_api;
pub mod public;
pub mod routes;
pub mod selfscreen;
pub mod views;
pub mod work;

use carepath_domain::authz::Role;
use carepath_store::Store;
use std::net::SocketAddr;
use std::sync::Arc;

/// Server settings that affect behaviour (not where to listen or which database).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct WebConfig {
    /// Log a session off after this many seconds without a request (HIPAA
    /// § 164.312(a)(2)(iii), automatic logoff).
    pub idle_timeout_secs: i64,
    /// End a session this many seconds after sign-in, active or not.
    pub absolute_timeout_secs: i64,
    /// Mark cookies `Secure` (set when served over TLS, directly or via a proxy).
    pub secure_cookies: bool,
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
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            idle_timeout_secs: 15 * 60,
            absolute_timeout_secs: 12 * 3600,
            secure_cookies: false,
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
        }
    }
}

impl WebConfig {
    pub fn mfa_required_for(&self, role: Role) -> bool {
        role.mfa_required_by_default() || self.mfa_required_roles.contains(&role)
    }
}

/// Shared state of every request.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<WebConfig>,
    pub login_limiter: Arc<auth::LoginLimiter>,
    /// Call-back requests per client address per minute (public form).
    pub callback_limiter: Arc<auth::LoginLimiter>,
    pub metrics: Arc<metrics::Metrics>,
    /// The treatment finder's index, swapped whole when the directory changes.
    pub finder: Arc<finder::FinderIndex>,
}

impl AppState {
    pub fn new(store: Store, config: WebConfig) -> Self {
        let limiter = auth::LoginLimiter::new(config.login_attempts_per_minute);
        Self {
            store,
            config: Arc::new(config),
            login_limiter: Arc::new(limiter),
            callback_limiter: Arc::new(auth::LoginLimiter::new(3)),
            metrics: Arc::new(metrics::Metrics::default()),
            finder: Arc::new(finder::FinderIndex::default()),
        }
    }
}

/// Serve on `listener` until `shutdown` resolves. Tests pass a port-0 listener.
/// Serve `state` on a free loopback port in the background (tests and
/// benchmarks); returns the base URL, e.g. `http://127.0.0.1:41234`.
pub async fn spawn_loopback(state: AppState) -> std::io::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(serve(listener, state, std::future::pending()));
    Ok(base)
}

pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Build the finder index before accepting requests, then keep it current:
    // an import by `carepath finder import` is picked up without downtime.
    if let Err(e) = state.finder.refresh(&state.store).await {
        tracing::error!(error = %e, "loading the facility directory failed");
    }
    let refresher = state.clone();
    let refresh_task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(
            refresher.config.finder_refresh_secs.max(1),
        ));
        loop {
            tick.tick().await;
            if let Err(e) = refresher.finder.refresh(&refresher.store).await {
                tracing::warn!(error = %e, "refreshing the facility directory failed");
            }
        }
    });
    let app = routes::app(state);
    let served = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    refresh_task.abort();
    served
}

#[cfg(test)]
mod config_tests {
    use super::WebConfig;

    #[test]
    fn protocol_settings_default_field_by_field() {
        let c: WebConfig =
            serde_json::from_str(r#"{"cows_protocol": {"every_h": 2}, "followup_count": 8}"#)
                .unwrap();
        assert_eq!(c.cows_protocol.every_h, 2);
        assert_eq!(c.cows_protocol.severe_every_h, 1);
        assert_eq!(c.cows_protocol.severe_from, 25);
        assert_eq!((c.followup_every_days, c.followup_count), (7, 8));
        assert!(
            serde_json::from_str::<WebConfig>(r#"{"cows_protocol": {"every_hours": 2}}"#).is_err()
        );
    }
}
