//! Carepath's HTTP server: staff HTML pages (askama templates, htmx vendored
//! into the binary), the JSON API under `/api/v1` with a generated OpenAPI
//! document. Every service behind these doors is in `carepath-app`; this
//! crate turns requests into service calls and results into pages or JSON,
//! and never touches the database (it does not depend on the store).
//!
//! Request flow: security headers, metrics and CSRF layers wrap the router;
//! every route is registered from the table in [`routes`] together with its
//! guard, which resolves the [`auth::Principal`] and checks the permission from
//! `carepath_domain::authz` before the handler runs.

pub mod api;
pub mod auth;
pub mod charts;
pub mod client;
pub mod cm_api;
pub mod dosing_api;
pub mod error;
pub mod finder;
pub mod flash;
pub mod form;
pub mod lab_api;
pub mod map;
pub mod metrics;
pub mod pages;
pub mod path_api;
pub mod public;
pub mod routes;
pub mod selfscreen;
pub mod views;

pub use carepath_app::App;
/// The behaviour settings (`web.*` configuration keys) live with the services.
pub use carepath_app::Settings as WebConfig;
use std::net::SocketAddr;
use std::sync::Arc;

/// Shared state of every request: the application and what only HTTP needs.
/// One pointer: every extractor and layer that takes the state clones it,
/// several times per request, so a clone is one reference count (cloning
/// the dozen handles inside at each step cost the finder API a quarter of
/// its time; BENCHMARKS.md).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] points to.
pub struct Shared {
    pub app: App,
    pub login_limiter: Arc<auth::LoginLimiter>,
    /// Call-back requests stored per client address per minute (public
    /// form; failed attempts do not count).
    pub callback_limiter: Arc<auth::LoginLimiter>,
    /// Call-back requests stored per phone number per hour.
    pub callback_phone_limiter: Arc<auth::KeyLimiter>,
    pub metrics: Arc<metrics::Metrics>,
    /// `web.trusted_proxies`, parsed (invalid entries are refused when the
    /// configuration is read).
    pub trusted_proxies: Arc<Vec<ipnet::IpNet>>,
    /// Each finder facility's API JSON, written once per index.
    pub facility_json: Arc<finder::JsonCache>,
}

impl AppState {
    pub fn new(app: App) -> Self {
        let limiter = auth::LoginLimiter::new(app.settings.login_attempts_per_minute);
        Self(Arc::new(Shared {
            login_limiter: Arc::new(limiter),
            callback_limiter: Arc::new(auth::LoginLimiter::new(10)),
            callback_phone_limiter: Arc::new(auth::KeyLimiter::per_hour(3)),
            metrics: Arc::new(metrics::Metrics::default()),
            facility_json: Arc::new(finder::JsonCache::default()),
            trusted_proxies: Arc::new(
                app.settings
                    .trusted_proxies
                    .iter()
                    .filter_map(|p| client::parse_proxy(p).ok())
                    .collect(),
            ),
            app,
        }))
    }

    pub fn settings(&self) -> &WebConfig {
        &self.app.settings
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
    if let Err(e) = state.app.refresh_finder().await {
        tracing::error!(error = %e, "loading the facility directory failed");
    }
    let refresher = state.clone();
    let refresh_task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(
            refresher.app.settings.finder_refresh_secs.max(1),
        ));
        loop {
            tick.tick().await;
            if let Err(e) = refresher.app.refresh_finder().await {
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
