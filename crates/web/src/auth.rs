//! Authentication: password hashing, sessions, second factor, API tokens, and
//! the [`Principal`] every guarded request carries.

use crate::AppState;
use crate::error::AppError;
use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use carepath_domain::audit::{NewEvent, Outcome};
use carepath_domain::authz::{self, Permission, Role};
use carepath_domain::ids::{ProgramId, UserId};
use carepath_store::users::Grant;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use std::num::NonZeroU32;

pub const SESSION_COOKIE: &str = "carepath_session";

/// Hash a password with argon2id (OWASP baseline parameters: m=19 MiB, t=2, p=1)
/// on a blocking thread.
pub async fn hash_password(password: String) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| AppError::Internal(format!("hashing failed: {e}")))
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))?
}

/// A fixed hash verified for unknown usernames so that timing does not reveal
/// whether an account exists.
static DUMMY_HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Verify a password on a blocking thread. `hash = None` verifies the dummy hash.
pub async fn verify_password(password: String, hash: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let dummy;
        let h = match &hash {
            Some(h) => h.as_str(),
            None => {
                dummy = DUMMY_HASH
                    .get_or_init(|| {
                        Argon2::default()
                            .hash_password(b"carepath-dummy-password")
                            .map(|h| h.to_string())
                            .unwrap_or_default()
                    })
                    .clone();
                dummy.as_str()
            }
        };
        Argon2::default()
            .verify_password(password.as_bytes(), h)
            .is_ok()
            && hash.is_some()
    })
    .await
    .unwrap_or(false)
}

/// 256 random bits, base32 (lowercase, no padding), with a prefix.
pub fn random_token(prefix: &str) -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    format!(
        "{prefix}{}",
        data_encoding::BASE32_NOPAD.encode(&b).to_lowercase()
    )
}

/// SHA-256 hex of a secret; what the database stores.
pub fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// The TOTP generator for a base32 secret (RFC 6238: SHA-1, 6 digits, 30 s, skew 1).
pub fn totp(secret_b32: &str, account: &str) -> Result<totp_rs::Totp, AppError> {
    let secret = totp_rs::Secret::try_from_base32(secret_b32).map_err(|_| {
        AppError::Invalid(carepath_domain::FieldError::new(
            "secret",
            "is not valid base32",
        ))
    })?;
    totp_rs::Builder::new()
        .with_secret(secret)
        .with_account_name(account)
        .with_issuer(Some("Carepath"))
        .build()
        .map_err(|e| AppError::Internal(format!("totp: {e}")))
}

/// A new random TOTP secret (160 bits, as RFC 4226 § 4 recommends), base32.
pub fn new_totp_secret() -> String {
    totp_rs::Secret::generate().to_base32()
}

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

/// How the principal authenticated.
#[derive(Debug, Clone)]
pub enum Via {
    Session { token_hash: String },
    ApiToken { scopes: Vec<Permission> },
}

/// The signed-in user of a request, with every role they hold per program.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: UserId,
    pub username: String,
    pub display_name: String,
    pub grants: Vec<Grant>,
    pub via: Via,
    pub mfa_done: bool,
    pub mfa_enrolled: bool,
    pub client_addr: Option<String>,
}

impl Principal {
    fn scope_allows(&self, p: Permission) -> bool {
        match &self.via {
            Via::Session { .. } => true,
            Via::ApiToken { scopes } => scopes.contains(&p),
        }
    }

    /// Holds `p` in at least one program.
    pub fn can(&self, p: Permission) -> bool {
        self.scope_allows(p) && self.grants.iter().any(|g| authz::role_allows(g.role, p))
    }

    /// Programs in which the user holds `p`.
    pub fn programs_with(&self, p: Permission) -> Vec<ProgramId> {
        if !self.scope_allows(p) {
            return vec![];
        }
        let mut v: Vec<ProgramId> = self
            .grants
            .iter()
            .filter(|g| authz::role_allows(g.role, p))
            .map(|g| g.program_id)
            .collect();
        v.dedup();
        v
    }

    /// Roles (comma-separated names) granting `p`, for store queries that scope by role.
    pub fn roles_csv(&self, p: Permission) -> String {
        if !self.scope_allows(p) {
            return String::new();
        }
        let mut roles: Vec<Role> = Role::ALL
            .into_iter()
            .filter(|r| authz::role_allows(*r, p))
            .collect();
        roles.retain(|r| self.grants.iter().any(|g| g.role == *r));
        roles
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn roles(&self) -> Vec<Role> {
        let mut r: Vec<Role> = self.grants.iter().map(|g| g.role).collect();
        r.sort();
        r.dedup();
        r
    }

    pub fn grant_pairs(&self, p: Permission) -> Vec<(ProgramId, Role)> {
        if !self.scope_allows(p) {
            return vec![];
        }
        self.grants.iter().map(|g| (g.program_id, g.role)).collect()
    }

    /// An audit event attributed to this principal.
    pub fn event(&self, action: &str, outcome: Outcome) -> NewEvent {
        let mut e = NewEvent::new(action, outcome);
        e.user_id = Some(self.user_id.to_string());
        e.username = Some(self.username.clone());
        e.role = Some(
            self.roles()
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join("+"),
        );
        e.client_addr = self.client_addr.clone();
        if let Via::ApiToken { .. } = self.via {
            e.detail = Some("via API token".into());
        }
        e
    }
}

/// The client address: the TCP peer (a reverse proxy's address is not trusted
/// for forwarded headers unless configured; see ARCHITECTURE.md).
pub fn client_ip(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())
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

/// Resolve the principal of a request from its bearer token or session cookie.
/// Returns `Ok(None)` when the request carries neither. Expired or idle
/// sessions are ended here (and audited as a logoff).
pub async fn resolve(state: &AppState, parts: &Parts) -> Result<Option<Principal>, AppError> {
    let now = carepath_store::now_us();
    let client_addr = client_ip(parts).map(|ip| ip.to_string());
    if let Some(auth) = parts.headers.get(axum::http::header::AUTHORIZATION) {
        let v = auth.to_str().unwrap_or("");
        let Some(token) = v.strip_prefix("Bearer ") else {
            return Err(AppError::Unauthenticated);
        };
        let Some(t) = state
            .store
            .use_api_token(&sha256_hex(token.trim()), now)
            .await?
        else {
            return Err(AppError::Unauthenticated);
        };
        let user = state.store.user(t.user_id).await?;
        if user.disabled {
            return Err(AppError::Unauthenticated);
        }
        let scopes = t.scopes.iter().filter_map(|s| s.parse().ok()).collect();
        return Ok(Some(Principal {
            user_id: user.id,
            username: user.username.clone(),
            display_name: user.display_name.clone(),
            grants: state.store.grants(user.id).await?,
            via: Via::ApiToken { scopes },
            mfa_done: true,
            mfa_enrolled: user.mfa_enrolled(),
            client_addr,
        }));
    }
    let Some(token) = cookie_value(&parts.headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let token_hash = sha256_hex(&token);
    let Some(s) = state.store.session(&token_hash).await? else {
        return Ok(None);
    };
    if s.ended_at.is_some() {
        return Ok(None);
    }
    let idle_us = state.config.idle_timeout_secs * 1_000_000;
    let idle = now - s.last_seen_at > idle_us;
    if idle || now >= s.expires_at {
        state.store.end_session(&token_hash).await?;
        let mut e = NewEvent::new("auth.logout", Outcome::Success).detail(if idle {
            "idle timeout"
        } else {
            "session lifetime reached"
        });
        e.user_id = Some(s.user_id.to_string());
        e.client_addr = client_addr;
        state.store.audit(e).await?;
        return Err(AppError::SessionExpired);
    }
    let user = state.store.user(s.user_id).await?;
    if user.disabled {
        return Ok(None);
    }
    // Record activity at most every 30 s to spare the writer.
    if now - s.last_seen_at > 30_000_000 {
        state.store.touch_session(&token_hash, now).await?;
    }
    Ok(Some(Principal {
        user_id: user.id,
        username: user.username.clone(),
        display_name: user.display_name.clone(),
        grants: state.store.grants(user.id).await?,
        via: Via::Session { token_hash },
        mfa_done: s.mfa_done,
        mfa_enrolled: user.mfa_enrolled(),
        client_addr,
    }))
}

/// Extract the principal the route guard put in the request.
impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or(AppError::Unauthenticated)
    }
}

impl axum::response::IntoResponse for AppError {
    fn into_response(self) -> axum::response::Response {
        self.json()
    }
}
