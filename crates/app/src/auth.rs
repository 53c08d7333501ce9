//! Authentication without HTTP: password hashing (argon2id), sign-in with
//! lockout, sessions (only hashes stored; idle and absolute timeouts), the
//! TOTP second factor with replay protection and recovery codes, personal
//! API tokens, and resolving a request's credential to a [`Principal`].
//!
//! Whether a principal still owes the second factor is decided on every
//! request from the roles held *now* (a session that was granted prescriber
//! after signing in must pass the second factor before it can act).

use crate::App;
use crate::actor::{ActorKind, Principal, Via};
use crate::error::{Error, Problems, Result};
use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use carepath_domain::audit::{NewEvent, Outcome};
use carepath_domain::authz::Permission;
use carepath_domain::ids::UserId;
use carepath_store::{Grant, OrgGrant, User};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Hash a password with argon2id (OWASP baseline parameters: m=19 MiB, t=2,
/// p=1) on a blocking thread.
pub async fn hash_password(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| Error::Internal(format!("hashing failed: {e}")))
    })
    .await
    .map_err(|e| Error::Internal(e.to_string()))?
}

/// A fixed hash verified for unknown usernames so that timing does not
/// reveal whether an account exists.
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
pub fn totp(secret_b32: &str, account: &str) -> Result<totp_rs::Totp> {
    let secret = totp_rs::Secret::try_from_base32(secret_b32)
        .map_err(|_| Error::invalid("secret", "is not valid base32"))?;
    totp_rs::Builder::new()
        .with_secret(secret)
        .with_account_name(account)
        .with_issuer(Some("Carepath"))
        .build()
        .map_err(|e| Error::invalid("secret", format!("cannot be used: {e}")))
}

/// A new random TOTP secret (160 bits, as RFC 4226 § 4 recommends), base32.
pub fn new_totp_secret() -> String {
    totp_rs::Secret::generate().to_base32()
}

/// Whether the user must pass a second factor with the roles held now.
pub fn mfa_needed(app: &App, user: &User, grants: &[Grant], org: &[OrgGrant]) -> bool {
    user.mfa_enrolled()
        || grants
            .iter()
            .map(|g| g.role)
            .chain(org.iter().map(|g| g.role))
            .any(|r| app.settings.mfa_required_for(r))
}

/// A successful password sign-in.
#[derive(Debug)]
pub struct SignedIn {
    /// The session secret for the cookie.
    pub token: String,
    /// The second factor is still due.
    pub mfa_due: bool,
    pub mfa_enrolled: bool,
}

/// Why a sign-in failed (shown to the person as one message: which of these
/// is not revealed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInRefused {
    Unknown,
    Disabled,
    Locked,
    WrongPassword,
}

fn attempt(username: &str, client: Option<&str>, outcome: Outcome, detail: &str) -> NewEvent {
    let mut e = NewEvent::new("auth.login", outcome).detail(detail);
    e.username = Some(username.chars().take(64).collect());
    e.client_addr = client.map(str::to_string);
    e
}

/// Audit a sign-in refused before the password was checked (rate limited).
pub async fn refuse_rate_limited(app: &App, username: &str, client: Option<&str>) -> Result<()> {
    app.audit(attempt(username, client, Outcome::Denied, "rate limited"))
        .await
}

/// Sign in with a password: a new session, the second factor still due when
/// the user's roles or enrolment require it. Failures count towards the
/// account's lockout and are audited.
pub async fn sign_in(
    app: &App,
    username: &str,
    password: String,
    client: Option<&str>,
) -> Result<std::result::Result<SignedIn, SignInRefused>> {
    let username = username.trim().to_lowercase();
    let user = app.store.user_by_username(&username).await?;
    let ok = verify_password(password, user.as_ref().map(|u| u.password_hash.clone())).await;
    let Some(user) = user else {
        app.audit(attempt(&username, client, Outcome::Failure, "unknown user"))
            .await?;
        return Ok(Err(SignInRefused::Unknown));
    };
    let now = app.now_us();
    let mut ev = attempt(&username, client, Outcome::Failure, "");
    ev.user_id = Some(user.id.to_string());
    if user.disabled {
        app.audit(ev.detail("account disabled")).await?;
        return Ok(Err(SignInRefused::Disabled));
    }
    if user.locked_until.is_some_and(|t| t > now) {
        app.audit(ev.detail("account locked")).await?;
        return Ok(Err(SignInRefused::Locked));
    }
    if !ok {
        let s = &app.settings;
        let mut tx = app.begin().await?;
        tx.record_login_failure(user.id, s.max_failed_logins, s.lockout_secs * 1_000_000)
            .await?;
        tx.audit(ev.object("user", user.id).detail("wrong password"));
        tx.commit().await?;
        return Ok(Err(SignInRefused::WrongPassword));
    }
    let (grants, org) = app.store.roles_of(user.id).await?;
    let mfa_due = mfa_needed(app, &user, &grants, &org);
    let token = random_token("");
    let expires = now + app.settings.absolute_timeout_secs * 1_000_000;
    let mut ok_ev = attempt(
        &username,
        client,
        Outcome::Success,
        if mfa_due {
            "password accepted; second factor due"
        } else {
            "signed in"
        },
    );
    ok_ev.user_id = Some(user.id.to_string());
    let mut tx = app.begin().await?;
    tx.clear_login_failures(user.id).await?;
    // The session records only whether the second factor was *passed*;
    // whether it is needed is decided on every request.
    tx.create_session(&sha256_hex(&token), user.id, expires, false, client)
        .await?;
    tx.audit(ok_ev);
    tx.commit().await?;
    Ok(Ok(SignedIn {
        token,
        mfa_due,
        mfa_enrolled: user.mfa_enrolled(),
    }))
}

/// The credential a request carries.
pub enum Credential<'a> {
    Bearer(&'a str),
    Session(&'a str),
}

/// Resolve a request's credential to its principal. `Ok(None)`: no valid
/// credential (the request is anonymous). Expired or idle sessions are ended
/// here, audited as a logoff, and answered `SessionExpired`.
pub async fn resolve(
    app: &App,
    cred: Credential<'_>,
    client_addr: Option<String>,
) -> Result<Option<Principal>> {
    let now = app.now_us();
    match cred {
        Credential::Bearer(token) => {
            let mut tx = app.begin().await?;
            let t = tx.use_api_token(&sha256_hex(token.trim())).await?;
            tx.commit().await?;
            let Some(t) = t else {
                return Err(Error::Unauthenticated);
            };
            let user = app.store.user(t.user_id).await?;
            if user.disabled {
                return Err(Error::Unauthenticated);
            }
            let roles = app.store.roles_of(user.id).await?;
            let scopes = t.scopes.0.iter().filter_map(|s| s.parse().ok()).collect();
            Ok(Some(Principal {
                kind: ActorKind::Staff,
                user_id: user.id,
                username: user.username.clone(),
                display_name: user.display_name.clone(),
                grants: roles.0,
                org_roles: roles.1,
                via: Via::ApiToken { scopes },
                mfa_done: true,
                mfa_enrolled: user.mfa_enrolled(),
                client_addr,
            }))
        }
        Credential::Session(token) => {
            let token_hash = sha256_hex(token);
            let Some((s, user)) = app.store.session_with_user(&token_hash).await? else {
                return Ok(None);
            };
            if s.ended_at.is_some() {
                return Ok(None);
            }
            let idle_us = app.settings.idle_timeout_secs * 1_000_000;
            let idle = now - s.last_seen_at > idle_us;
            if idle || now >= s.expires_at {
                let mut e = NewEvent::new("auth.logout", Outcome::Success).detail(if idle {
                    "idle timeout"
                } else {
                    "session lifetime reached"
                });
                e.user_id = Some(s.user_id.to_string());
                e.client_addr = client_addr;
                let mut tx = app.begin().await?;
                tx.end_session(&token_hash).await?;
                tx.audit(e);
                tx.commit().await?;
                return Err(Error::SessionExpired);
            }
            if user.disabled {
                return Ok(None);
            }
            // Record activity at most every 30 s to spare the writer.
            if now - s.last_seen_at > 30_000_000 {
                let mut tx = app.begin().await?;
                tx.touch_session(&token_hash).await?;
                tx.commit().await?;
            }
            let (grants, org_roles) = app.store.roles_of(user.id).await?;
            let mfa_done = s.mfa_done || !mfa_needed(app, &user, &grants, &org_roles);
            Ok(Some(Principal {
                kind: ActorKind::Staff,
                user_id: user.id,
                username: user.username.clone(),
                display_name: user.display_name.clone(),
                grants,
                org_roles,
                via: Via::Session { token_hash },
                mfa_done,
                mfa_enrolled: user.mfa_enrolled(),
                client_addr,
            }))
        }
    }
}

/// End the principal's session (sign out); audited.
pub async fn sign_out(app: &App, who: &Principal) -> Result<()> {
    let mut tx = app.begin().await?;
    if let Via::Session { token_hash } = &who.via {
        tx.end_session(token_hash).await?;
    }
    tx.audit(who.event("auth.logout", Outcome::Success));
    Ok(tx.commit().await?)
}

/// Replace the session with a fresh one whose second factor is passed
/// (session fixation defence: the identifier changes when privilege does).
/// Returns the new session secret.
async fn promote_session(
    app: &App,
    who: &Principal,
    tx: &mut carepath_store::Tx,
) -> Result<String> {
    let Via::Session { token_hash } = &who.via else {
        return Err(Error::Forbidden("sessions only".into()));
    };
    let old = app
        .store
        .session(token_hash)
        .await?
        .ok_or(Error::Unauthenticated)?;
    tx.end_session(token_hash).await?;
    let token = random_token("");
    tx.create_session(
        &sha256_hex(&token),
        who.user_id,
        old.expires_at,
        true,
        who.client_addr.as_deref(),
    )
    .await?;
    Ok(token)
}

/// The outcome of a second-factor attempt.
#[derive(Debug)]
pub enum SecondFactor {
    /// Accepted: the new session secret.
    Passed(String),
    /// Refused; try again.
    Refused,
    /// Refused, and the account is now locked (the session was ended).
    Locked,
}

/// Check a 6-digit code (each time step accepted once) or a recovery code
/// (each used once); on success the session is replaced by one whose second
/// factor is passed.
pub async fn second_factor(app: &App, who: &Principal, code: &str) -> Result<SecondFactor> {
    let user = app.store.user(who.user_id).await?;
    let mut tx = app.begin().await?;
    let accepted = match &user.totp_secret {
        None => false,
        Some(secret) => {
            let code = code.trim().replace([' ', '-'], "");
            if code.len() == 6 && code.chars().all(|c| c.is_ascii_digit()) {
                let t = totp(secret, &user.username)?;
                let now = app.now().as_second().max(0) as u64;
                match t.check(&code, now) {
                    Some(step) => tx.accept_totp_step(user.id, step as i64).await?,
                    None => false,
                }
            } else {
                tx.use_recovery_code(user.id, &sha256_hex(&code.to_lowercase()))
                    .await?
            }
        }
    };
    if accepted {
        let token = promote_session(app, who, &mut tx).await?;
        tx.audit(who.event("auth.mfa", Outcome::Success));
        tx.commit().await?;
        return Ok(SecondFactor::Passed(token));
    }
    let s = &app.settings;
    let out = tx
        .record_login_failure(who.user_id, s.max_failed_logins, s.lockout_secs * 1_000_000)
        .await?;
    tx.audit(
        who.event("auth.mfa", Outcome::Failure)
            .object("user", who.user_id)
            .detail("wrong or reused code"),
    );
    if out.locked_until.is_some() {
        if let Via::Session { token_hash } = &who.via {
            tx.end_session(token_hash).await?;
        }
        tx.commit().await?;
        return Ok(SecondFactor::Locked);
    }
    tx.commit().await?;
    Ok(SecondFactor::Refused)
}

/// Whether the principal's roles require a second factor.
pub fn mfa_required(app: &App, who: &Principal) -> bool {
    who.roles()
        .into_iter()
        .any(|r| app.settings.mfa_required_for(r))
}

/// A completed enrolment: the recovery codes (shown once) and the new session.
#[derive(Debug)]
pub struct Enrolled {
    pub recovery_codes: Vec<String>,
    pub session_token: String,
}

/// Offer a new second-factor secret for enrolment. The server chooses it
/// (160 random bits, RFC 4226 § 4 R6 recommends at least 128); it waits on
/// the account until a code from it is entered ([`enrol`]). Replacing an
/// existing factor needs a completed sign-in.
pub async fn begin_enrolment(app: &App, who: &Principal) -> Result<String> {
    if !who.is_staff() {
        return Err(Error::Forbidden("staff accounts only".into()));
    }
    if who.mfa_enrolled && !who.mfa_done {
        return Err(Error::MfaPending);
    }
    let secret = new_totp_secret();
    let mut tx = app.begin().await?;
    tx.set_pending_totp(who.user_id, Some(&secret)).await?;
    tx.commit().await?;
    Ok(secret)
}

/// The secret on offer for enrolment, if any (to show it again after a
/// mistyped code).
pub async fn pending_secret(app: &App, who: &Principal) -> Result<Option<String>> {
    Ok(app.store.user(who.user_id).await?.pending_totp_secret)
}

/// What enrolment asks for.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct EnrolInput {
    /// A code from the new secret.
    #[serde(default)]
    pub code: String,
    /// Replacing a factor: the account's password.
    #[serde(default)]
    pub password: String,
    /// Replacing a factor: a current code from the factor being replaced.
    #[serde(default)]
    pub current_code: String,
}

/// Enrol the secret on offer after checking a code from it; replaces any
/// earlier factor and the recovery codes. Replacing an existing factor also
/// needs the password and a current code from the old factor (a stolen
/// session alone cannot move the second factor to another phone). Wrong
/// answers count towards the account's lockout and are audited.
pub async fn enrol(app: &App, who: &Principal, i: &EnrolInput) -> Result<Enrolled> {
    if !who.is_staff() {
        return Err(Error::Forbidden("staff accounts only".into()));
    }
    if who.mfa_enrolled && !who.mfa_done {
        return Err(Error::MfaPending);
    }
    let user = app.store.user(who.user_id).await?;
    let Some(secret) = user.pending_totp_secret.clone() else {
        return Err(Error::Conflict(
            "no second factor is being set up; start again".into(),
        ));
    };
    let now = app.now().as_second().max(0) as u64;
    let mut p = Problems::new();
    let mut tx = app.begin().await?;
    if let Some(old) = &user.totp_secret {
        if !verify_password(i.password.clone(), Some(user.password_hash.clone())).await {
            p.add("password", "is not your password");
        }
        let current = i.current_code.trim().replace([' ', '-'], "");
        let ok = match totp(old, &user.username)?.check(&current, now) {
            Some(step) => tx.accept_totp_step(user.id, step as i64).await?,
            None => false,
        };
        if !ok {
            p.add(
                "current_code",
                "enter a current code from the authenticator you are replacing",
            );
        }
    }
    let step = totp(&secret, &user.username)?.check(i.code.trim(), now);
    if step.is_none() {
        p.add(
            "code",
            "did not match; check the phone's clock and try the next code",
        );
    }
    if let Err(e) = p.finish() {
        let s = &app.settings;
        tx.record_login_failure(user.id, s.max_failed_logins, s.lockout_secs * 1_000_000)
            .await?;
        tx.audit(
            who.event("auth.mfa_enrol", Outcome::Failure)
                .object("user", user.id)
                .detail(e.to_string()),
        );
        tx.commit().await?;
        return Err(e);
    }
    let codes: Vec<String> = (0..10)
        .map(|_| random_token("")[..10].to_string())
        .collect();
    let hashes: Vec<String> = codes.iter().map(|c| sha256_hex(c)).collect();
    tx.set_totp(
        who.user_id,
        &secret,
        step.unwrap_or_default() as i64,
        &hashes,
    )
    .await?;
    // Every other session of the account ends: a factor changed from one
    // place is not left usable in another.
    tx.end_sessions_of(who.user_id).await?;
    tx.audit(
        who.event("auth.mfa_enrol", Outcome::Success)
            .object("user", who.user_id)
            .detail(if user.totp_secret.is_some() {
                "second factor replaced"
            } else {
                "second factor set up"
            }),
    );
    let token = promote_session(app, who, &mut tx).await?;
    tx.commit().await?;
    Ok(Enrolled {
        recovery_codes: codes,
        session_token: token,
    })
}

/// Create a personal API token; returns the secret (shown once).
pub async fn issue_token(
    app: &App,
    who: &Principal,
    name: &str,
    scopes: &[String],
    days: i64,
) -> Result<String> {
    if matches!(who.via, Via::ApiToken { .. }) {
        return Err(Error::Forbidden(
            "an API token cannot create tokens; sign in to create one".into(),
        ));
    }
    let mut p = Problems::new();
    let name = name.trim();
    if name.is_empty() || name.len() > 80 {
        p.add("name", "is required (at most 80 characters)");
    }
    let max = app.settings.max_token_days;
    if !(1..=max).contains(&days) {
        p.add("days", format!("must be between 1 and {max}"));
    }
    if scopes.is_empty() {
        p.add("scopes", "choose at least one scope");
    }
    for s in scopes {
        match s.parse::<Permission>() {
            Ok(perm) if !who.can(perm) => {
                p.add("scopes", format!("your roles do not include {perm}"));
            }
            Ok(_) => {}
            Err(e) => p.add("scopes", e.message),
        }
    }
    p.finish()?;
    let secret = random_token("cp_");
    let expires = app.now_us() + days * 86_400 * 1_000_000;
    let mut tx = app.begin().await?;
    let id = tx
        .create_api_token(who.user_id, name, &sha256_hex(&secret), scopes, expires)
        .await?;
    tx.audit(
        who.event("token.create", Outcome::Success)
            .object("api_token", id),
    );
    tx.commit().await?;
    Ok(secret)
}

/// The principal's own tokens.
pub async fn tokens(app: &App, who: &Principal) -> Result<Vec<carepath_store::ApiToken>> {
    Ok(app.store.list_api_tokens(who.user_id).await?)
}

/// Revoke one of the principal's own tokens.
pub async fn revoke_token(
    app: &App,
    who: &Principal,
    id: carepath_domain::ids::TokenId,
) -> Result<()> {
    let mut tx = app.begin().await?;
    tx.revoke_api_token(who.user_id, id).await?;
    tx.audit(
        who.event("token.revoke", Outcome::Success)
            .object("api_token", id),
    );
    Ok(tx.commit().await?)
}

/// A user by id (for the second-factor pages).
pub async fn user(app: &App, id: UserId) -> Result<User> {
    Ok(app.store.user(id).await?)
}

/// Audit a request refused because the principal lacks the route's permission.
pub async fn refuse_route(app: &App, who: &Principal, route: &str, perm: Permission) -> Result<()> {
    app.audit(
        who.event("access.denied", Outcome::Denied)
            .object("route", route)
            .detail(format!("lacks {perm}")),
    )
    .await
}

/// The person at the screen is still there (they typed or clicked): their
/// session's idle clock starts again. Answers the idle timeout in seconds,
/// for the page's warning.
pub async fn keep_alive(app: &App, p: &Principal) -> Result<i64> {
    if let Via::Session { token_hash } = &p.via {
        let mut tx = app.begin().await?;
        tx.touch_session(token_hash).await?;
        tx.commit().await?;
    }
    Ok(app.settings.idle_timeout_secs)
}
