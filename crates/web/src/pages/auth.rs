//! Sign-in, second factor, sign-out.

use crate::AppState;
use crate::auth::{self as a, Principal, Via};
use crate::error::{AppError, HtmlResult};
use crate::views::{Nav, render};
use askama::Template;
use axum::Form;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::header::SET_COOKIE;
use axum::response::{IntoResponse, Redirect, Response};
use carepath_domain::audit::{NewEvent, Outcome};
use serde::Deserialize;
use std::net::SocketAddr;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    nav: Nav,
    title: String,
    message: Option<String>,
    error: Option<String>,
    username: String,
}

#[derive(Deserialize)]
pub struct LoginMsg {
    m: Option<String>,
}

pub async fn login_form(Query(q): Query<LoginMsg>) -> Response {
    let message = match q.m.as_deref() {
        Some("out") => Some("You have signed out.".to_string()),
        Some("idle") => Some("You were signed out after a period of inactivity.".to_string()),
        _ => None,
    };
    render(&LoginPage {
        nav: Nav::anonymous(),
        title: "Sign in".into(),
        message,
        error: None,
        username: String::new(),
    })
    .into_response()
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
}

const LOGIN_FAILED: &str =
    "Username or password is incorrect, or the account is locked or disabled.";

fn login_error(username: &str, msg: &str, status: axum::http::StatusCode) -> Response {
    let page = LoginPage {
        nav: Nav::anonymous(),
        title: "Sign in".into(),
        message: None,
        error: Some(msg.into()),
        username: username.into(),
    };
    (status, render(&page)).into_response()
}

pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Form(f): Form<LoginForm>,
) -> HtmlResult<Response> {
    let client = addr.ip().to_string();
    let username = f.username.trim().to_lowercase();
    let attempt = |outcome, detail: &str| {
        let mut e = NewEvent::new("auth.login", outcome).detail(detail);
        e.username = Some(username.chars().take(64).collect());
        e.client_addr = Some(client.clone());
        e
    };
    if !state.login_limiter.check(addr.ip()) {
        state
            .store
            .audit(attempt(Outcome::Denied, "rate limited"))
            .await?;
        return Ok(login_error(
            &username,
            "Too many sign-in attempts from this device. Wait a minute and try again.",
            axum::http::StatusCode::TOO_MANY_REQUESTS,
        ));
    }
    let user = state.store.user_by_username(&username).await?;
    let ok = a::verify_password(f.password, user.as_ref().map(|u| u.password_hash.clone())).await;
    let Some(user) = user else {
        state
            .store
            .audit(attempt(Outcome::Failure, "unknown user"))
            .await?;
        return Ok(login_error(
            &username,
            LOGIN_FAILED,
            axum::http::StatusCode::UNAUTHORIZED,
        ));
    };
    let now = carepath_store::now_us();
    let mut ev = attempt(Outcome::Failure, "");
    ev.user_id = Some(user.id.to_string());
    if user.disabled {
        state.store.audit(ev.detail("account disabled")).await?;
        return Ok(login_error(
            &username,
            LOGIN_FAILED,
            axum::http::StatusCode::UNAUTHORIZED,
        ));
    }
    if user.locked_until.is_some_and(|t| t > now) {
        state.store.audit(ev.detail("account locked")).await?;
        return Ok(login_error(
            &username,
            LOGIN_FAILED,
            axum::http::StatusCode::UNAUTHORIZED,
        ));
    }
    if !ok {
        let c = &state.config;
        state
            .store
            .record_login_failure(
                user.id,
                c.max_failed_logins,
                c.lockout_secs * 1_000_000,
                ev.detail("wrong password"),
            )
            .await?;
        return Ok(login_error(
            &username,
            LOGIN_FAILED,
            axum::http::StatusCode::UNAUTHORIZED,
        ));
    }
    state.store.clear_login_failures(user.id).await?;
    let grants = state.store.grants(user.id).await?;
    let mfa_needed =
        user.mfa_enrolled() || grants.iter().any(|g| state.config.mfa_required_for(g.role));
    let token = a::random_token("");
    let expires = now + state.config.absolute_timeout_secs * 1_000_000;
    state
        .store
        .create_session(
            &a::sha256_hex(&token),
            user.id,
            expires,
            !mfa_needed,
            Some(&client),
        )
        .await?;
    let mut ok_ev = attempt(
        Outcome::Success,
        if mfa_needed {
            "password accepted; second factor due"
        } else {
            "signed in"
        },
    );
    ok_ev.user_id = Some(user.id.to_string());
    state.store.audit(ok_ev).await?;
    let next = if !mfa_needed {
        "/"
    } else if user.mfa_enrolled() {
        "/mfa"
    } else {
        "/mfa/enroll"
    };
    Ok((
        [(
            SET_COOKIE,
            a::session_cookie(&token, state.config.secure_cookies),
        )],
        Redirect::to(next),
    )
        .into_response())
}

pub async fn logout(State(state): State<AppState>, p: Principal) -> HtmlResult<Response> {
    if let Via::Session { token_hash } = &p.via {
        state.store.end_session(token_hash).await?;
    }
    state
        .store
        .audit(p.event("auth.logout", Outcome::Success))
        .await?;
    Ok((
        [(
            SET_COOKIE,
            a::clear_session_cookie(state.config.secure_cookies),
        )],
        Redirect::to("/login?m=out"),
    )
        .into_response())
}

#[derive(Template)]
#[template(path = "mfa.html")]
struct MfaPage {
    nav: Nav,
    title: String,
    error: Option<String>,
}

pub async fn mfa_form(p: Principal) -> Response {
    if !p.mfa_enrolled {
        return Redirect::to("/mfa/enroll").into_response();
    }
    render(&MfaPage {
        nav: Nav::for_principal(&p),
        title: "Second step".into(),
        error: None,
    })
    .into_response()
}

#[derive(Deserialize)]
pub struct CodeForm {
    code: String,
}

/// Replace the session with a fresh one whose second factor is done (session
/// fixation defence: the identifier changes when privilege does).
async fn promote_session(state: &AppState, p: &Principal) -> Result<String, AppError> {
    let Via::Session { token_hash } = &p.via else {
        return Err(AppError::Forbidden("sessions only".into()));
    };
    let old = state
        .store
        .session(token_hash)
        .await?
        .ok_or(AppError::Unauthenticated)?;
    state.store.end_session(token_hash).await?;
    let token = a::random_token("");
    state
        .store
        .create_session(
            &a::sha256_hex(&token),
            p.user_id,
            old.expires_at,
            true,
            p.client_addr.as_deref(),
        )
        .await?;
    Ok(a::session_cookie(&token, state.config.secure_cookies))
}

/// Check a 6-digit code or a recovery code; true when accepted.
async fn check_second_factor(
    state: &AppState,
    p: &Principal,
    code: &str,
) -> Result<bool, AppError> {
    let user = state.store.user(p.user_id).await?;
    let Some(secret) = &user.totp_secret else {
        return Ok(false);
    };
    let code = code.trim().replace([' ', '-'], "");
    if code.len() == 6 && code.chars().all(|c| c.is_ascii_digit()) {
        let totp = a::totp(secret, &user.username)?;
        let now = jiff::Timestamp::now().as_second().max(0) as u64;
        if let Some(step) = totp.check(&code, now) {
            return Ok(state.store.accept_totp_step(user.id, step as i64).await?);
        }
        return Ok(false);
    }
    Ok(state
        .store
        .use_recovery_code(user.id, &a::sha256_hex(&code.to_lowercase()))
        .await?)
}

pub async fn mfa_submit(
    State(state): State<AppState>,
    p: Principal,
    Form(f): Form<CodeForm>,
) -> HtmlResult<Response> {
    if check_second_factor(&state, &p, &f.code).await? {
        let cookie = promote_session(&state, &p).await?;
        state
            .store
            .audit(p.event("auth.mfa", Outcome::Success))
            .await?;
        let mut done = p.clone();
        done.mfa_done = true;
        return Ok(([(SET_COOKIE, cookie)], Redirect::to(super::landing(&done))).into_response());
    }
    let c = &state.config;
    let out = state
        .store
        .record_login_failure(
            p.user_id,
            c.max_failed_logins,
            c.lockout_secs * 1_000_000,
            p.event("auth.mfa", Outcome::Failure)
                .detail("wrong or reused code"),
        )
        .await?;
    if out.locked_until.is_some() {
        if let Via::Session { token_hash } = &p.via {
            state.store.end_session(token_hash).await?;
        }
        return Ok(Redirect::to("/login").into_response());
    }
    let page = MfaPage {
        nav: Nav::for_principal(&p),
        title: "Second step".into(),
        error: Some("That code was not accepted. Codes work once; wait for the next one.".into()),
    };
    Ok((axum::http::StatusCode::UNAUTHORIZED, render(&page)).into_response())
}

#[derive(Template)]
#[template(path = "enroll.html")]
struct EnrollPage {
    nav: Nav,
    title: String,
    required: bool,
    secret: String,
    qr_svg: String,
    error: Option<String>,
}

fn enroll_page(
    state: &AppState,
    p: &Principal,
    secret: String,
    error: Option<String>,
) -> Result<Response, AppError> {
    let totp = a::totp(&secret, &p.username)?;
    let url = totp
        .to_url()
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let qr = qrcode::QrCode::new(url.as_bytes()).map_err(|e| AppError::Internal(e.to_string()))?;
    let svg = qr
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .dark_color(qrcode::render::svg::Color("#000000"))
        .light_color(qrcode::render::svg::Color("#ffffff"))
        .build();
    // Drop the XML declaration; give the image a name for screen readers.
    let svg = svg.trim_start_matches(|c| c != '<').to_string();
    let svg = match svg.find("<svg") {
        Some(i) => svg[i..].replacen(
            "<svg",
            "<svg role=\"img\" aria-label=\"QR code for your authenticator app\"",
            1,
        ),
        None => svg,
    };
    let required = p
        .grants
        .iter()
        .any(|g| state.config.mfa_required_for(g.role));
    let page = EnrollPage {
        nav: Nav::for_principal(p),
        title: "Set up second factor".into(),
        required,
        secret,
        qr_svg: svg,
        error,
    };
    Ok(render(&page).into_response())
}

pub async fn enroll_form(State(state): State<AppState>, p: Principal) -> HtmlResult<Response> {
    // Re-enrolment replaces an existing factor, so it requires a completed sign-in.
    if p.mfa_enrolled && !p.mfa_done {
        return Ok(Redirect::to("/mfa").into_response());
    }
    Ok(enroll_page(&state, &p, a::new_totp_secret(), None)?)
}

#[derive(Deserialize)]
pub struct EnrollForm {
    secret: String,
    code: String,
}

#[derive(Template)]
#[template(path = "recovery.html")]
struct RecoveryPage {
    nav: Nav,
    title: String,
    codes: Vec<String>,
}

pub async fn enroll_submit(
    State(state): State<AppState>,
    p: Principal,
    Form(f): Form<EnrollForm>,
) -> HtmlResult<Response> {
    if p.mfa_enrolled && !p.mfa_done {
        return Ok(Redirect::to("/mfa").into_response());
    }
    let totp = a::totp(&f.secret, &p.username)?;
    let now = jiff::Timestamp::now().as_second().max(0) as u64;
    let Some(step) = totp.check(f.code.trim(), now) else {
        state
            .store
            .audit(
                p.event("auth.mfa_enrol", Outcome::Failure)
                    .detail("wrong code"),
            )
            .await?;
        return Ok(enroll_page(
            &state,
            &p,
            f.secret,
            Some("That code did not match. Check the phone's clock and try the next code.".into()),
        )?);
    };
    let codes: Vec<String> = (0..10)
        .map(|_| a::random_token("")[..10].to_string())
        .collect();
    let hashes: Vec<String> = codes.iter().map(|c| a::sha256_hex(c)).collect();
    state
        .store
        .set_totp(
            p.user_id,
            &f.secret,
            step as i64,
            &hashes,
            p.event("auth.mfa_enrol", Outcome::Success),
        )
        .await?;
    let cookie = promote_session(&state, &p).await?;
    let mut done = p.clone();
    done.mfa_done = true;
    done.mfa_enrolled = true;
    let page = RecoveryPage {
        nav: Nav::for_principal(&done),
        title: "Recovery codes".into(),
        codes,
    };
    Ok(([(SET_COOKIE, cookie)], render(&page)).into_response())
}
