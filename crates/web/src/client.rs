//! Who is on the other end of a request: the client's address and whether
//! the request came over HTTPS. Behind a reverse proxy the TCP peer is the
//! proxy; its `X-Forwarded-For` / `X-Forwarded-Proto` are believed only
//! when the peer is one of `web.trusted_proxies`, and the client is the
//! right-most forwarded address that is not itself a trusted proxy (the
//! left part of the header is whatever the client chose to send).

use crate::AppState;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};

/// The request's client, computed once per request.
#[derive(Debug, Clone, Copy)]
pub struct ClientInfo {
    /// The client's address (rate limits, the audit trail).
    pub ip: IpAddr,
    /// The TCP peer (the proxy, when there is one).
    pub peer: IpAddr,
    /// Came over HTTPS (a trusted proxy said so).
    pub https: bool,
}

/// A trusted-proxy entry: an address or a CIDR block.
pub fn parse_proxy(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{s:?} is not an IP address or CIDR block"))
}

/// Work out the client from the peer and, when the peer is trusted, the
/// forwarding headers.
pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> ClientInfo {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return ClientInfo {
            ip: peer,
            peer,
            https: false,
        };
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .collect();
    let ip = forwarded
        .iter()
        .rev()
        .find(|ip| !is_trusted(ip))
        .copied()
        .or_else(|| forwarded.first().copied())
        .unwrap_or(peer);
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next_back())
        .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"));
    ClientInfo { ip, peer, https }
}

/// Layer: record the client on the request; over HTTPS, tell browsers to
/// use nothing else for a year (HSTS, RFC 6797).
pub async fn layer(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]));
    let info = resolve(peer, req.headers(), &state.trusted_proxies);
    req.extensions_mut().insert(info);
    let mut resp = next.run(req).await;
    if info.https {
        resp.headers_mut().insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    resp
}

impl<S: Send + Sync> FromRequestParts<S> for ClientInfo {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(of(parts))
    }
}

/// The client of a request (the TCP peer if the layer did not run).
pub fn of(parts: &Parts) -> ClientInfo {
    if let Some(c) = parts.extensions.get::<ClientInfo>() {
        return *c;
    }
    let peer = parts
        .extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]));
    ClientInfo {
        ip: peer,
        peer,
        https: false,
    }
}

impl AppState {
    /// Whether cookies set on this request are `Secure`.
    pub fn secure_cookies(&self, c: &ClientInfo) -> bool {
        self.settings().secure_cookies || c.https
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(xff: &str, proto: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert("x-forwarded-for", xff.parse().unwrap());
        m.insert("x-forwarded-proto", proto.parse().unwrap());
        m
    }

    #[test]
    fn forwarded_headers_count_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.5".parse().unwrap();
        let trusted = vec![parse_proxy("10.0.0.0/24").unwrap()];
        // Direct, untrusted: the peer, whatever the headers claim.
        let c = resolve(
            "203.0.113.9".parse().unwrap(),
            &h("1.2.3.4", "https"),
            &trusted,
        );
        assert_eq!(c.ip.to_string(), "203.0.113.9");
        assert!(!c.https);
        // Through the proxy: the right-most address the proxy saw.
        let c = resolve(proxy, &h("6.6.6.6, 198.51.100.7", "https"), &trusted);
        assert_eq!(
            c.ip.to_string(),
            "198.51.100.7",
            "the spoofed left part is ignored"
        );
        assert!(c.https);
        // Two trusted hops.
        let c = resolve(proxy, &h("198.51.100.7, 10.0.0.9", "http"), &trusted);
        assert_eq!(c.ip.to_string(), "198.51.100.7");
        assert!(!c.https);
        assert!(parse_proxy("not an ip").is_err());
        assert!(parse_proxy("::1").is_ok());
    }
}
