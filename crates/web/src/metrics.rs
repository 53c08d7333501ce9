//! Prometheus metrics: request counts and latencies by route template and
//! status. Labels are route *templates* (`/patients/{id}`), never concrete
//! paths or query strings, so no patient data reaches the metrics or the log.

use crate::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::time::Instant;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReqLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    pub route: String,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<ReqLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
}

fn new_histogram() -> Histogram {
    Histogram::new([
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    ])
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<ReqLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(
            new_histogram as fn() -> Histogram,
        );
        registry.register(
            "carepath_http_requests",
            "HTTP requests by route template and status",
            requests.clone(),
        );
        registry.register(
            "carepath_http_request_duration_seconds",
            "HTTP request latency by route template",
            latency.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
        }
    }
}

/// Middleware: count and time every request; log method, route template and status.
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let resp = next.run(req).await;
    let secs = start.elapsed().as_secs_f64();
    let status = resp.status().as_u16();
    state
        .metrics
        .requests
        .get_or_create(&ReqLabels {
            method: method.clone(),
            route: route.clone(),
            status,
        })
        .inc();
    state
        .metrics
        .latency
        .get_or_create(&RouteLabels {
            method: method.clone(),
            route: route.clone(),
        })
        .observe(secs);
    tracing::info!(target: "carepath::http", %method, %route, status, ms = secs * 1000.0, "request");
    resp
}

/// `GET /metrics` in the Prometheus text format: with `web.metrics_token`
/// set, for a request bearing it; otherwise only from the loopback
/// interface (a scraper on the same host). Anyone else gets 404.
pub async fn render(
    State(state): State<AppState>,
    from: crate::client::ClientInfo,
    headers: axum::http::HeaderMap,
) -> Response {
    let allowed = match &state.settings().metrics_token {
        Some(token) => headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|given| {
                use subtle::ConstantTimeEq;
                given.trim().as_bytes().ct_eq(token.as_bytes()).into()
            }),
        None => from.peer.is_loopback() && from.ip.is_loopback(),
    };
    if !allowed {
        return crate::error::Respond::json(crate::error::AppError::NotFound);
    }
    let mut out = String::new();
    if prometheus_client::encoding::text::encode(&mut out, &state.metrics.registry).is_err() {
        return axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        out,
    )
        .into_response()
}
