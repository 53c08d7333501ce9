//! The HTTP half of authentication: the session cookie, the bearer token,
//! per-address sign-in rate limits, and the [`Principal`] extractor. Hashing,
//! sessions, second factor and tokens are `carepath_app::auth`.

use crate::AppState;
use crate::error::{ApiError, AppError};
use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use carepath_app::auth::Credential;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;

pub use carepath_app::auth::{sha256_hex, totp};

pub const SESSION_COOKIE: &str = "carepath_session";

/// Per-client-address limit on sign-in attempts (in memory, per process). The
/// per-account lockout in the database is the second line.
pub struct LoginLimiter(DefaultKeyedRateLimiter<IpAddr>);

impl LoginLimiter {
    pub fn new(per_minute: u32) -> Self {
        let n = NonZeroU32::new(per_minute.max(1)).expect("non-zero");
        LoginLimiter(RateLimiter::keyed(Quota::per_minute(n)))
    }
    pub fn check(&self, ip: IpAddr) -> bool {
        self.0.check_key(&ip).is_ok()
    }
}

/// A rate limit keyed by text (a phone number's digits), per hour.
pub struct KeyLimiter(DefaultKeyedRateLimiter<String>);

impl KeyLimiter {
    pub fn per_hour(n: u32) -> Self {
        let n = NonZeroU32::new(n.max(1)).expect("non-zero");
        KeyLimiter(RateLimiter::keyed(Quota::per_hour(n)))
    }
    pub fn check(&self, key: &str) -> bool {
        self.0.check_key(&key.to_string()).is_ok()
    }
}

/// The signed-in principal of a request (put there by the route guard).
#[derive(Debug, Clone)]
pub struct Principal(pub carepath_app::Principal);

impl std::ops::Deref for Principal {
    type Target = carepath_app::Principal;
    fn deref(&self) -> &carepath_app::Principal {
        &self.0
    }
}

/// The client address (through trusted proxies: see [`crate::client`]).
pub fn client_ip(parts: &Parts) -> Option<IpAddr> {
    Some(crate::client::of(parts).ip)
}

pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// Where a member of staff was going when the sign-in page interrupted them
/// (an ended session, a link opened while signed out): a page of Carepath,
/// remembered for ten minutes, so that signing in returns there.
pub const NEXT_COOKIE: &str = "carepath_next";

/// Whether `path` may be returned to after signing in: a page of this
/// server (never another site), and not the sign-in pages themselves.
pub fn safe_next(path: &str) -> bool {
    path.starts_with('/')
        && !path.starts_with("//")
        && !path.contains("://")
        && !path.contains('\\')
        && path.len() <= 500
        && !["/login", "/logout", "/mfa", "/portal"].iter().any(|p| {
            path == *p || path.starts_with(&format!("{p}/")) || path.starts_with(&format!("{p}?"))
        })
}

pub fn next_cookie(path: &str, secure: bool) -> String {
    // URL-encoded as `p=…`: only cookie-safe characters remain.
    let v = serde_urlencoded::to_string([("p", path)]).unwrap_or_default();
    format!(
        "{NEXT_COOKIE}={v}; Path=/; HttpOnly; SameSite=Strict; Max-Age=600{}",
        if secure { "; Secure" } else { "" }
    )
}

pub fn clear_next_cookie(secure: bool) -> String {
    format!(
        "{NEXT_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The remembered page, if it is safe to return to.
pub fn next_of(headers: &HeaderMap) -> Option<String> {
    let raw = cookie_value(headers, NEXT_COOKIE)?;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&raw).ok()?;
    let path = pairs.into_iter().find(|(k, _)| k == "p")?.1;
    safe_next(&path).then_some(path)
}

/// The `Set-Cookie` value for a session token.
pub fn session_cookie(token: &str, secure: bool) -> String {
    format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict{}",
        if secure { "; Secure" } else { "" }
    )
}

pub fn clear_session_cookie(secure: bool) -> String {
    format!(
        "{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
        if secure { "; Secure" } else { "" }
    )
}

/// Resolve the principal of a request from its bearer token or session
/// cookie. `Ok(None)`: the request carries neither (or a dead session).
pub async fn resolve(state: &AppState, parts: &Parts) -> Result<Option<Principal>, AppError> {
    let client_addr = client_ip(parts).map(|ip| ip.to_string());
    let cred = if let Some(auth) = parts.headers.get(axum::http::header::AUTHORIZATION) {
        let v = auth.to_str().unwrap_or("");
        let Some(token) = v.strip_prefix("Bearer ") else {
            return Err(AppError::Unauthenticated);
        };
        token.to_string()
    } else {
        match cookie_value(&parts.headers, SESSION_COOKIE) {
            Some(t) => {
                return Ok(carepath_app::auth::resolve(
                    &state.app,
                    Credential::Session(&t),
                    client_addr,
                )
                .await?
                .map(Principal));
            }
            None => return Ok(None),
        }
    };
    Ok(
        carepath_app::auth::resolve(&state.app, Credential::Bearer(&cred), client_addr)
            .await?
            .map(Principal),
    )
}

/// Extract the principal the route guard put in the request.
impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or(ApiError(AppError::Unauthenticated))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_own_pages_are_returned_to() {
        for ok in [
            "/patients/1/notes",
            "/worklist",
            "/dosing?program=x&window=2",
        ] {
            assert!(safe_next(ok), "{ok}");
        }
        for bad in [
            "//evil.example/",
            "https://evil.example/",
            "/\\evil.example",
            "evil",
            "/login",
            "/login?m=idle",
            "/mfa",
            "/mfa/enroll",
            "/logout",
            "/portal/family",
        ] {
            assert!(!safe_next(bad), "{bad}");
        }
        let mut h = HeaderMap::new();
        let v = next_cookie("/dosing?program=x&window=2", false);
        let pair = v.split(';').next().unwrap().to_string();
        h.insert(axum::http::header::COOKIE, pair.parse().unwrap());
        assert_eq!(next_of(&h).as_deref(), Some("/dosing?program=x&window=2"));
    }
}
