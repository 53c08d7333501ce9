//! Sign-in, second factor, sign-out.

use crate::AppState;
use crate::auth::{self as a, Principal};
use crate::client::ClientInfo;
use crate::error::{AppError, HtmlResult};
use crate::views::{Nav, render};
use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::header::SET_COOKIE;
use axum::response::{IntoResponse, Redirect, Response};
use carepath_app::auth::{SecondFactor, SignInRefused};
use serde::Deserialize;

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
        Some("kept") => Some(
            "You were signed out after a period of inactivity, just as you saved. What you typed was kept: sign in and it will be back in the form, ready to save."
                .to_string(),
        ),
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
    from: ClientInfo,
    Form(f): Form<LoginForm>,
) -> HtmlResult<Response> {
    let client = from.ip.to_string();
    let username = f.username.trim().to_lowercase();
    if !state.login_limiter.check(from.ip) {
        carepath_app::auth::refuse_rate_limited(&state.app, &username, Some(&client)).await?;
        return Ok(login_error(
            &username,
            "Too many sign-in attempts from this device. Wait a minute and try again.",
            axum::http::StatusCode::TOO_MANY_REQUESTS,
        ));
    }
    let signed =
        carepath_app::auth::sign_in(&state.app, &username, f.password, Some(&client)).await?;
    let s = match signed {
        Ok(s) => s,
        Err(
            SignInRefused::Unknown
            | SignInRefused::Disabled
            | SignInRefused::Locked
            | SignInRefused::WrongPassword,
        ) => {
            return Ok(login_error(
                &username,
                LOGIN_FAILED,
                axum::http::StatusCode::UNAUTHORIZED,
            ));
        }
    };
    let next = if !s.mfa_due {
        "/"
    } else if s.mfa_enrolled {
        "/mfa"
    } else {
        "/mfa/enroll"
    };
    Ok((
        [(
            SET_COOKIE,
            a::session_cookie(&s.token, state.secure_cookies(&from)),
        )],
        Redirect::to(next),
    )
        .into_response())
}

pub async fn logout(
    State(state): State<AppState>,
    from: ClientInfo,
    p: Principal,
) -> HtmlResult<Response> {
    carepath_app::auth::sign_out(&state.app, &p).await?;
    Ok((
        [(
            SET_COOKIE,
            a::clear_session_cookie(state.secure_cookies(&from)),
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

pub async fn mfa_submit(
    State(state): State<AppState>,
    from: ClientInfo,
    p: Principal,
    Form(f): Form<CodeForm>,
) -> HtmlResult<Response> {
    match carepath_app::auth::second_factor(&state.app, &p, &f.code).await? {
        SecondFactor::Passed(token) => {
            let cookie = a::session_cookie(&token, state.secure_cookies(&from));
            // `/` sends each role to its work, or back to the page the
            // sign-in interrupted.
            return Ok(([(SET_COOKIE, cookie)], Redirect::to("/")).into_response());
        }
        SecondFactor::Locked => return Ok(Redirect::to("/login").into_response()),
        SecondFactor::Refused => {}
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
    /// Replacing an existing factor: the password and a current code are asked for.
    replacing: bool,
    secret: String,
    qr_svg: String,
    errors: Vec<carepath_domain::FieldError>,
}

/// An `otpauth://` URL as an inline SVG QR code named `label` for screen
/// readers.
pub(crate) fn qr_svg(url: &str, label: &str) -> Result<String, AppError> {
    let qr = qrcode::QrCode::new(url.as_bytes()).map_err(|e| AppError::Internal(e.to_string()))?;
    let svg = qr
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .dark_color(qrcode::render::svg::Color("#000000"))
        .light_color(qrcode::render::svg::Color("#ffffff"))
        .build();
    // Drop the XML declaration; give the image a name for screen readers.
    let svg = svg.trim_start_matches(|c| c != '<').to_string();
    let label = label.replace('"', "'");
    Ok(match svg.find("<svg") {
        Some(i) => svg[i..].replacen(
            "<svg",
            &format!("<svg role=\"img\" aria-label=\"{label}\""),
            1,
        ),
        None => svg,
    })
}

fn enroll_page(
    state: &AppState,
    p: &Principal,
    secret: String,
    errors: Vec<carepath_domain::FieldError>,
) -> Result<Response, AppError> {
    let totp = a::totp(&secret, &p.username)?;
    let url = totp
        .to_url()
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let svg = qr_svg(&url, "QR code for your authenticator app")?;
    let required = carepath_app::auth::mfa_required(&state.app, p);
    let page = EnrollPage {
        nav: Nav::for_principal(p),
        title: "Set up second factor".into(),
        required,
        replacing: p.mfa_enrolled,
        secret,
        qr_svg: svg,
        errors,
    };
    Ok(render(&page).into_response())
}

pub async fn enroll_form(State(state): State<AppState>, p: Principal) -> HtmlResult<Response> {
    // Re-enrolment replaces an existing factor, so it requires a completed sign-in.
    if p.mfa_enrolled && !p.mfa_done {
        return Ok(Redirect::to("/mfa").into_response());
    }
    // The server chooses the secret; the form never sends one back.
    let secret = carepath_app::auth::begin_enrolment(&state.app, &p).await?;
    Ok(enroll_page(&state, &p, secret, vec![])?)
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
    from: ClientInfo,
    p: Principal,
    Form(f): Form<carepath_app::auth::EnrolInput>,
) -> HtmlResult<Response> {
    if p.mfa_enrolled && !p.mfa_done {
        return Ok(Redirect::to("/mfa").into_response());
    }
    let done_enrol = match carepath_app::auth::enrol(&state.app, &p, &f).await {
        Ok(d) => d,
        Err(AppError::Invalid(errors)) => {
            let secret = match carepath_app::auth::pending_secret(&state.app, &p).await? {
                Some(s) => s,
                None => carepath_app::auth::begin_enrolment(&state.app, &p).await?,
            };
            return Ok(enroll_page(&state, &p, secret, errors)?);
        }
        Err(AppError::Conflict(_)) => return Ok(Redirect::to("/mfa/enroll").into_response()),
        Err(e) => return Err(e.into()),
    };
    let cookie = a::session_cookie(&done_enrol.session_token, state.secure_cookies(&from));
    let codes = done_enrol.recovery_codes;
    let mut done = p.0.clone();
    done.mfa_done = true;
    done.mfa_enrolled = true;
    let page = RecoveryPage {
        nav: Nav::for_principal(&done),
        title: "Recovery codes".into(),
        codes,
    };
    Ok(([(SET_COOKIE, cookie)], render(&page)).into_response())
}

/// `GET /session/alive`: the page saw typing or a click; the session's idle
/// clock starts again. Answers `{"idle_seconds": N}` for the warning.
pub async fn alive(State(state): State<AppState>, p: Principal) -> HtmlResult<Response> {
    let idle = carepath_app::auth::keep_alive(&state.app, &p).await?;
    Ok(axum::Json(serde_json::json!({ "idle_seconds": idle })).into_response())
}
