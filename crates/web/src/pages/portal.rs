//! The patient portal's pages (`/portal…`) and JSON (`/api/v1/portal…`):
//! English and Spanish (interface text and education are content files in
//! `content/`), mobile-first, no JavaScript, crisis lines on every page.
//!
//! A portal session is its own cookie (`carepath_portal`) resolved by
//! `carepath_app::portal::resolve` to a patient principal; staff cookies
//! mean nothing here and the portal cookie means nothing on staff routes.
//! Notices across a redirect are catalog keys (`?done=reported`), so a
//! link cannot put words on a portal page.

use crate::AppState;
use crate::auth::{Principal, cookie_value};
use crate::client::ClientInfo;
use crate::error::{ApiResult, AppError, status};
use crate::views::render;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::http::header::SET_COOKIE;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use carepath_app::portal::{self, Home, JoinInput, ReportInput, Reported, RequestLine};
use carepath_domain::FieldError;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

pub const PORTAL_COOKIE: &str = "carepath_portal";

pub fn portal_cookie(token: &str, secure: bool) -> String {
    format!(
        "{PORTAL_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict{}",
        if secure { "; Secure" } else { "" }
    )
}

fn clear_cookie(secure: bool) -> String {
    format!(
        "{PORTAL_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
        if secure { "; Secure" } else { "" }
    )
}

/// Resolve the request's portal session (the route guard calls this).
pub async fn resolve(
    state: &AppState,
    parts: &axum::http::request::Parts,
) -> Result<Option<Principal>, AppError> {
    let Some(token) = cookie_value(&parts.headers, PORTAL_COOKIE) else {
        return Ok(None);
    };
    let client = crate::auth::client_ip(parts).map(|ip| ip.to_string());
    Ok(portal::resolve(&state.app, &token, client)
        .await?
        .map(Principal))
}

// ---------------------------------------------------------------------------
// Interface text and education content.

/// The interface text of both languages (`content/portal/{en,es}.toml`).
fn catalogs() -> &'static HashMap<&'static str, BTreeMap<String, String>> {
    static C: OnceLock<HashMap<&'static str, BTreeMap<String, String>>> = OnceLock::new();
    C.get_or_init(|| {
        let mut m = HashMap::new();
        for (lang, text) in [
            ("en", include_str!("../../../../content/portal/en.toml")),
            ("es", include_str!("../../../../content/portal/es.toml")),
        ] {
            m.insert(
                lang,
                toml::from_str(text).expect("content/portal catalog is valid TOML"),
            );
        }
        m
    })
}

/// One education topic (`content/education/{en,es}.toml`).
#[derive(Debug, Clone, Deserialize)]
pub struct Topic {
    pub slug: String,
    pub title: String,
    pub summary: String,
    pub sections: Vec<Section>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Section {
    pub heading: String,
    #[serde(default)]
    pub paragraphs: Vec<String>,
    #[serde(default)]
    pub points: Vec<String>,
}

#[derive(Deserialize)]
struct Education {
    topic: Vec<Topic>,
}

pub fn topics(lang: &str) -> &'static [Topic] {
    static T: OnceLock<HashMap<&'static str, Vec<Topic>>> = OnceLock::new();
    let m = T.get_or_init(|| {
        let mut m = HashMap::new();
        for (lang, text) in [
            ("en", include_str!("../../../../content/education/en.toml")),
            ("es", include_str!("../../../../content/education/es.toml")),
        ] {
            let e: Education = toml::from_str(text).expect("content/education file is valid TOML");
            m.insert(lang, e.topic);
        }
        m
    });
    m.get(lang).map(Vec::as_slice).unwrap_or_default()
}

/// The interface text in one language.
#[derive(Clone, Copy)]
pub struct Tr {
    pub lang: &'static str,
}

impl Tr {
    pub fn new(lang: &str) -> Tr {
        Tr {
            lang: if lang == "es" { "es" } else { "en" },
        }
    }
    pub fn other(&self) -> &'static str {
        if self.lang == "es" { "en" } else { "es" }
    }
    /// The text of `key` (the key itself if missing: a test keeps both
    /// catalogs complete).
    pub fn s<'a>(&self, key: &'a str) -> &'a str {
        catalogs()
            .get(self.lang)
            .and_then(|c| c.get(key))
            .map(String::as_str)
            .unwrap_or(key)
    }
    /// `key` with `{n}` replaced.
    pub fn f(&self, key: &str, n: impl std::fmt::Display) -> String {
        self.s(key).replace("{n}", &n.to_string())
    }
    /// A value from the data in words, if the catalog has it (`prefix.value`),
    /// else the value itself (e.g. an analyte the catalog does not know).
    pub fn word(&self, prefix: &str, value: impl std::fmt::Display) -> String {
        let value = value.to_string();
        let k = format!("{prefix}.{value}");
        catalogs()
            .get(self.lang)
            .and_then(|c| c.get(&k))
            .cloned()
            .unwrap_or_else(|| value.replace('_', " "))
    }
    pub fn words(&self, prefix: &str, values: &[String]) -> String {
        values
            .iter()
            .map(|v| self.word(prefix, v))
            .collect::<Vec<_>>()
            .join(", ")
    }
    pub fn weekday(&self, d: impl std::borrow::Borrow<u8>) -> String {
        self.word("weekday", d.borrow())
    }
    pub fn money(&self, cents: impl std::borrow::Borrow<i64>) -> String {
        format!("${}", carepath_clinical::cm::fmt(*cents.borrow()))
    }
}

/// Every key used by the catalogs (for the completeness test).
pub fn catalog_keys(lang: &str) -> Vec<String> {
    catalogs()
        .get(lang)
        .map(|c| c.keys().cloned().collect())
        .unwrap_or_default()
}

/// The language of a request: `?lang=` first, then the account's choice.
fn lang_of(q: Option<&str>, account: Option<&str>) -> Tr {
    Tr::new(q.or(account).unwrap_or("en"))
}

#[derive(Deserialize, Default)]
pub struct PageQuery {
    #[serde(default)]
    lang: Option<String>,
    /// A catalog key of a notice (`done.…`).
    #[serde(default)]
    done: Option<String>,
    /// Sign-in notices: `out`, `idle`.
    #[serde(default)]
    m: Option<String>,
    /// An invitation code from the link staff printed.
    #[serde(default)]
    code: Option<String>,
}

impl PageQuery {
    fn lang(&self) -> Option<&str> {
        self.lang.as_deref().filter(|l| matches!(*l, "en" | "es"))
    }
    fn notice(&self, t: Tr) -> Option<String> {
        let k = format!("done.{}", self.done.as_deref()?);
        let s = t.s(&k);
        (s != k).then(|| s.to_string())
    }
}

/// The frame every portal page shares.
pub struct Frame {
    pub t: Tr,
    pub title: String,
    pub signed_in: bool,
    /// This page's path (the language switch comes back to it).
    pub here: String,
    pub notice: Option<String>,
    /// A family member's page: no patient navigation.
    pub family: bool,
}

impl Frame {
    /// A frame titled by the catalog's `title_key`, without a notice.
    fn new(t: Tr, title_key: &str, signed_in: bool, here: &str) -> Frame {
        Frame {
            t,
            title: t.s(title_key).into(),
            signed_in,
            here: here.into(),
            notice: None,
            family: false,
        }
    }
}

// ---------------------------------------------------------------------------
// Sign-in and joining (public).

#[derive(Template)]
#[template(path = "portal_sign_in.html")]
struct SignInPage {
    f: Frame,
    username: String,
    error: Option<String>,
}

pub async fn sign_in_form(Query(q): Query<PageQuery>) -> Response {
    let t = lang_of(q.lang(), None);
    let notice = match q.m.as_deref() {
        Some("out") => Some(t.s("signed_out").to_string()),
        Some("idle") => Some(t.s("signed_out_idle").to_string()),
        _ => None,
    };
    render(&SignInPage {
        f: Frame {
            t,
            title: t.s("sign_in_title").into(),
            signed_in: false,
            here: "/portal/sign-in".into(),
            notice,
            family: false,
        },
        username: String::new(),
        error: None,
    })
    .into_response()
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    lang: String,
}

pub async fn sign_in(
    State(state): State<AppState>,
    from: ClientInfo,
    Form(f): Form<SignInForm>,
) -> Response {
    let t = Tr::new(&f.lang);
    let client = from.ip.to_string();
    let fail = |status: StatusCode, key: &str| {
        (
            status,
            render(&SignInPage {
                f: Frame::new(t, "sign_in_title", false, "/portal/sign-in"),
                username: f.username.trim().to_lowercase(),
                error: Some(t.s(key).to_string()),
            }),
        )
            .into_response()
    };
    if !state.login_limiter.check(from.ip) {
        return fail(StatusCode::TOO_MANY_REQUESTS, "err_too_many");
    }
    match portal::sign_in(&state.app, &f.username, f.password.clone(), Some(&client)).await {
        Ok(Some(s)) => (
            [(
                SET_COOKIE,
                portal_cookie(&s.token, state.secure_cookies(&from)),
            )],
            Redirect::to(if s.mfa_due {
                "/portal/code"
            } else if s.family {
                "/portal/family"
            } else {
                "/portal"
            }),
        )
            .into_response(),
        Ok(None) => fail(StatusCode::UNAUTHORIZED, "err_sign_in"),
        Err(e) => page_error(t, e),
    }
}

#[derive(Template)]
#[template(path = "portal_join.html")]
struct JoinPage {
    f: Frame,
    code: String,
    username: String,
    errors: Vec<FieldError>,
}

impl JoinPage {
    /// The error beside `field`, in the reader's language.
    fn err(&self, field: &str) -> Option<String> {
        field_error(self.f.t, &self.errors, field)
    }
}

/// The error beside `field` (or one of its items, `field[…]`), in the
/// reader's language.
fn field_error(t: Tr, errors: &[FieldError], field: &str) -> Option<String> {
    errors
        .iter()
        .find(|e| e.field == field || e.field.starts_with(&format!("{field}[")))
        .map(|e| field_text(t, field, &e.message))
}

/// A field error in the reader's language: English shows the service's
/// words; Spanish the catalog's advice for that field.
fn field_text(t: Tr, field: &str, message: &str) -> String {
    if t.lang == "en" {
        message.to_string()
    } else {
        t.s(&format!("field_err.{field}")).to_string()
    }
}

pub async fn join_form(Query(q): Query<PageQuery>) -> Response {
    let t = lang_of(q.lang(), None);
    render(&JoinPage {
        f: Frame::new(t, "join_title", false, "/portal/join"),
        code: q.code.clone().unwrap_or_default(),
        username: String::new(),
        errors: vec![],
    })
    .into_response()
}

pub async fn join(
    State(state): State<AppState>,
    from: ClientInfo,
    Form(f): Form<JoinInput>,
) -> Response {
    let t = Tr::new(&f.language);
    if !state.login_limiter.check(from.ip) {
        return page_error(
            t,
            AppError::TooManyRequests(t.s("err_too_many").to_string()),
        );
    }
    let client = from.ip.to_string();
    match portal::join(&state.app, &f, Some(&client)).await {
        Ok(token) => (
            [(
                SET_COOKIE,
                portal_cookie(&token, state.secure_cookies(&from)),
            )],
            Redirect::to("/portal?done=joined"),
        )
            .into_response(),
        Err(AppError::Invalid(errors)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            render(&JoinPage {
                f: Frame::new(t, "join_title", false, "/portal/join"),
                code: f.code.clone(),
                username: f.username.trim().to_lowercase(),
                errors,
            }),
        )
            .into_response(),
        Err(e) => page_error(t, e),
    }
}

pub async fn sign_out(State(state): State<AppState>, from: ClientInfo, p: Principal) -> Response {
    let lang = account_lang(&state, &p).await;
    let _ = portal::sign_out(&state.app, &p).await;
    (
        [(SET_COOKIE, clear_cookie(state.secure_cookies(&from)))],
        Redirect::to(&format!("/portal/sign-in?m=out&lang={lang}")),
    )
        .into_response()
}

// ---------------------------------------------------------------------------
// Errors in the portal's frame.

#[derive(Template)]
#[template(path = "portal_error.html")]
struct ErrorPage {
    f: Frame,
    message: String,
}

fn page_error(t: Tr, e: AppError) -> Response {
    match e {
        AppError::Unauthenticated => Redirect::to("/portal/sign-in").into_response(),
        AppError::SessionExpired => Redirect::to("/portal/sign-in?m=idle").into_response(),
        other => {
            if let AppError::Internal(cause) = &other {
                tracing::error!(%cause, "internal error");
            }
            let st = status(&other);
            let message = match &other {
                AppError::NotFound => t.s("err_not_found").to_string(),
                AppError::Internal(_) => t.s("err_internal").to_string(),
                AppError::Invalid(v) => v
                    .iter()
                    .map(|e| field_text(t, &e.field, &e.message))
                    .collect::<Vec<_>>()
                    .join(" "),
                AppError::Conflict(m) if t.lang == "en" => m.clone(),
                AppError::Conflict(_) => t.s("err_conflict").to_string(),
                o if t.lang == "en" => o.to_string(),
                _ => t.s("err_generic").to_string(),
            };
            (
                st,
                render(&ErrorPage {
                    f: Frame::new(t, "err_title", true, "/portal"),
                    message,
                }),
            )
                .into_response()
        }
    }
}

// ---------------------------------------------------------------------------
// Signed-in pages.

async fn account_lang(state: &AppState, p: &Principal) -> &'static str {
    match portal::language(&state.app, p).await {
        Ok(l) if l == "es" => "es",
        _ => "en",
    }
}

/// Load the patient's view and the frame for a page.
async fn load(
    state: &AppState,
    p: &Principal,
    q: &PageQuery,
    title_key: &str,
    here: &str,
) -> Result<(Frame, Home), Response> {
    let home = match portal::home(&state.app, p).await {
        Ok(h) => h,
        Err(e) => return Err(page_error(lang_of(q.lang(), None), e)),
    };
    let t = lang_of(q.lang(), Some(&home.language));
    Ok((
        Frame {
            t,
            title: t.s(title_key).into(),
            signed_in: true,
            here: here.into(),
            notice: q.notice(t),
            family: false,
        },
        home,
    ))
}

#[derive(Template)]
#[template(path = "portal_home.html")]
struct HomePage {
    f: Frame,
    h: Home,
}

/// A page over the patient's view: `make` builds it, or says it is not
/// there for this patient (`None`: the program does not show it).
async fn view_page<T: Template>(
    state: &AppState,
    p: &Principal,
    q: &PageQuery,
    title_key: &str,
    here: &str,
    make: impl FnOnce(Frame, Home) -> Result<T, Frame>,
) -> Response {
    match load(state, p, q, title_key, here).await {
        Ok((f, h)) => match make(f, h) {
            Ok(page) => render(&page).into_response(),
            Err(f) => page_error(f.t, AppError::NotFound),
        },
        Err(r) => r,
    }
}

pub async fn home(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<PageQuery>,
) -> Response {
    view_page(&state, &p, &q, "home_title", "/portal", |f, h| {
        Ok(HomePage { f, h })
    })
    .await
}

#[derive(Template)]
#[template(path = "portal_treatment.html")]
struct TreatmentPage {
    f: Frame,
    h: Home,
}

pub async fn treatment(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<PageQuery>,
) -> Response {
    view_page(
        &state,
        &p,
        &q,
        "treatment_title",
        "/portal/treatment",
        |f, h| Ok(TreatmentPage { f, h }),
    )
    .await
}

#[derive(Template)]
#[template(path = "portal_rewards.html")]
struct RewardsPage {
    f: Frame,
    h: Home,
}

pub async fn rewards(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<PageQuery>,
) -> Response {
    view_page(
        &state,
        &p,
        &q,
        "rewards_title",
        "/portal/rewards",
        |f, h| {
            if h.points.is_some() {
                Ok(RewardsPage { f, h })
            } else {
                Err(f)
            }
        },
    )
    .await
}

pub async fn request_reward(
    State(state): State<AppState>,
    p: Principal,
    Path(item): Path<String>,
) -> Response {
    let lang = account_lang(&state, &p).await;
    match portal::request_reward(&state.app, &p, &item).await {
        Ok(_) => Redirect::to("/portal/rewards?done=requested").into_response(),
        Err(e) => page_error(Tr::new(lang), e),
    }
}

#[derive(Template)]
#[template(path = "portal_check_in.html")]
struct CheckInPage {
    f: Frame,
    h: Home,
    /// The SOWS items' catalog keys, in the published order.
    items: Vec<String>,
    form: CheckInForm,
    errors: Vec<FieldError>,
}

impl CheckInPage {
    fn err(&self, field: &str) -> Option<String> {
        field_error(self.f.t, &self.errors, field)
    }
    /// Whether answer `v` of SOWS item `i` was chosen (kept after an error).
    fn sows_is(&self, i: &usize, v: &u8) -> bool {
        self.form.sows_value(*i) == Some(*v)
    }
    fn craving_is(&self, v: &u8) -> bool {
        self.form.craving.as_deref().and_then(|x| x.parse().ok()) == Some(*v)
    }
    fn mood_is(&self, v: &u8) -> bool {
        self.form.mood.as_deref().and_then(|x| x.parse().ok()) == Some(*v)
    }
}

/// The check-in form as posted: `s0`…`s15` (SOWS answers), `craving`,
/// `mood`; every field optional so that nothing typed is lost on an error.
#[derive(Deserialize, Default, Clone)]
pub struct CheckInForm {
    #[serde(flatten)]
    sows: HashMap<String, String>,
    #[serde(default)]
    craving: Option<String>,
    #[serde(default)]
    mood: Option<String>,
}

impl CheckInForm {
    fn sows_value(&self, i: usize) -> Option<u8> {
        self.sows
            .get(&format!("s{i}"))
            .and_then(|v| v.parse().ok())
            .filter(|v| *v <= 4)
    }
    fn input(&self) -> ReportInput {
        ReportInput {
            // Nothing answered: withdrawal not rated. Some answered: what
            // was answered, so the service names the gap.
            sows: (0..16).filter_map(|i| self.sows_value(i)).collect(),
            craving: self.craving.as_deref().and_then(|x| x.parse().ok()),
            mood: self.mood.as_deref().and_then(|x| x.parse().ok()),
        }
    }
}

fn sows_keys() -> Vec<String> {
    carepath_clinical::sows::ITEMS
        .iter()
        .map(|i| format!("sows.{i}"))
        .collect()
}

pub async fn check_in_form(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<PageQuery>,
) -> Response {
    view_page(
        &state,
        &p,
        &q,
        "check_in_title",
        "/portal/check-in",
        |f, h| {
            Ok(CheckInPage {
                f,
                h,
                items: sows_keys(),
                form: CheckInForm::default(),
                errors: vec![],
            })
        },
    )
    .await
}

pub async fn check_in(
    State(state): State<AppState>,
    p: Principal,
    Form(form): Form<CheckInForm>,
) -> Response {
    match portal::report(&state.app, &p, &form.input()).await {
        Ok(r) => Redirect::to(if r.alerted {
            "/portal?done=reported_alert"
        } else {
            "/portal?done=reported"
        })
        .into_response(),
        Err(AppError::Invalid(errors)) => {
            let q = PageQuery::default();
            match load(&state, &p, &q, "check_in_title", "/portal/check-in").await {
                Ok((f, h)) => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    render(&CheckInPage {
                        f,
                        h,
                        items: sows_keys(),
                        form,
                        errors,
                    }),
                )
                    .into_response(),
                Err(r) => r,
            }
        }
        Err(e) => page_error(Tr::new(account_lang(&state, &p).await), e),
    }
}

// ---------------------------------------------------------------------------
// A family member's page.

#[derive(Template)]
#[template(path = "portal_family.html")]
struct FamilyPage {
    f: Frame,
    v: portal::FamilyView,
    help: Option<&'static Topic>,
}

pub async fn family(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<PageQuery>,
) -> Response {
    let t = lang_of(q.lang(), Some(account_lang(&state, &p).await));
    match portal::family_view(&state.app, &p).await {
        Ok(v) => {
            let mut f = Frame::new(t, "family_title", true, "/portal/family");
            f.family = true;
            render(&FamilyPage {
                f,
                v,
                help: topics(t.lang).iter().find(|x| x.slug == "family"),
            })
            .into_response()
        }
        Err(AppError::Forbidden(_)) => {
            let mut f = Frame::new(t, "err_title", true, "/portal/family");
            f.family = true;
            (
                StatusCode::FORBIDDEN,
                render(&ErrorPage {
                    f,
                    message: t.s("family_ended").into(),
                }),
            )
                .into_response()
        }
        Err(e) => page_error(t, e),
    }
}

// ---------------------------------------------------------------------------
// The optional second factor.

#[derive(Template)]
#[template(path = "portal_code.html")]
struct CodePage {
    f: Frame,
    error: Option<String>,
}

pub async fn code_form(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<PageQuery>,
) -> Response {
    if p.mfa_done {
        return Redirect::to("/portal").into_response();
    }
    let t = lang_of(q.lang(), Some(account_lang(&state, &p).await));
    render(&CodePage {
        f: Frame::new(t, "code_title", false, "/portal/code"),
        error: None,
    })
    .into_response()
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
}

pub async fn code_submit(
    State(state): State<AppState>,
    from: ClientInfo,
    p: Principal,
    Form(f): Form<CodeForm>,
) -> Response {
    if p.mfa_done {
        return Redirect::to("/portal").into_response();
    }
    let t = Tr::new(account_lang(&state, &p).await);
    match portal::second_factor(&state.app, &p, &f.code).await {
        Ok(Some(token)) => (
            [(
                SET_COOKIE,
                portal_cookie(&token, state.secure_cookies(&from)),
            )],
            Redirect::to("/portal"),
        )
            .into_response(),
        Ok(None) => (
            StatusCode::UNAUTHORIZED,
            render(&CodePage {
                f: Frame::new(t, "code_title", false, "/portal/code"),
                error: Some(t.s("err_code").into()),
            }),
        )
            .into_response(),
        Err(e) => page_error(t, e),
    }
}

#[derive(Template)]
#[template(path = "portal_security.html")]
struct SecurityPage {
    f: Frame,
    enrolled: bool,
    secret: Option<String>,
    qr_svg: String,
    errors: Vec<FieldError>,
}

impl SecurityPage {
    fn err(&self, field: &str) -> Option<String> {
        field_error(self.f.t, &self.errors, field)
    }
}

async fn security_page(
    state: &AppState,
    p: &Principal,
    notice: Option<String>,
    errors: Vec<FieldError>,
) -> Response {
    let t = Tr::new(account_lang(state, p).await);
    let (enrolled, secret) = match portal::factor_state(&state.app, p).await {
        Ok(x) => x,
        Err(e) => return page_error(t, e),
    };
    let qr_svg = match &secret {
        Some(s) => carepath_app::auth::totp(s, &p.username)
            .ok()
            .and_then(|x| x.to_url().ok())
            .and_then(|url| super::auth::qr_svg(&url, t.s("qr_label")).ok())
            .unwrap_or_default(),
        None => String::new(),
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    (
        status,
        render(&SecurityPage {
            f: Frame {
                t,
                title: t.s("security_title").into(),
                signed_in: true,
                here: "/portal/security".into(),
                notice,
                family: false,
            },
            enrolled,
            secret,
            qr_svg,
            errors,
        }),
    )
        .into_response()
}

pub async fn security(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<PageQuery>,
) -> Response {
    let t = Tr::new(account_lang(&state, &p).await);
    security_page(&state, &p, q.notice(t), vec![]).await
}

pub async fn security_start(State(state): State<AppState>, p: Principal) -> Response {
    match portal::begin_factor(&state.app, &p).await {
        Ok(_) => Redirect::to("/portal/security").into_response(),
        Err(e) => page_error(Tr::new(account_lang(&state, &p).await), e),
    }
}

pub async fn security_enable(
    State(state): State<AppState>,
    p: Principal,
    Form(f): Form<CodeForm>,
) -> Response {
    match portal::enable_factor(&state.app, &p, &f.code).await {
        Ok(()) => Redirect::to("/portal/security?done=factor_on").into_response(),
        Err(AppError::Invalid(errors)) => security_page(&state, &p, None, errors).await,
        Err(e) => page_error(Tr::new(account_lang(&state, &p).await), e),
    }
}

#[derive(Deserialize)]
pub struct DisableForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    code: String,
}

pub async fn security_disable(
    State(state): State<AppState>,
    p: Principal,
    Form(f): Form<DisableForm>,
) -> Response {
    match portal::disable_factor(&state.app, &p, &f.password, &f.code).await {
        Ok(()) => Redirect::to("/portal/security?done=factor_off").into_response(),
        Err(AppError::Invalid(errors)) => security_page(&state, &p, None, errors).await,
        Err(e) => page_error(Tr::new(account_lang(&state, &p).await), e),
    }
}

#[derive(Deserialize)]
pub struct LanguageForm {
    lang: String,
    #[serde(default)]
    back: String,
}

/// Switch the account's language and go back to the page.
pub async fn set_language(
    State(state): State<AppState>,
    p: Principal,
    Form(f): Form<LanguageForm>,
) -> Response {
    if let Err(e) = portal::set_language(&state.app, &p, &f.lang).await {
        return page_error(Tr::new(&f.lang), e);
    }
    // Only a portal path (never an absolute or protocol-relative URL).
    let back = if f.back.starts_with("/portal") && !f.back.starts_with("//") {
        f.back
    } else {
        "/portal".into()
    };
    Redirect::to(&back).into_response()
}

#[derive(Template)]
#[template(path = "portal_learn.html")]
struct LearnPage {
    f: Frame,
    topics: &'static [Topic],
    topic: Option<&'static Topic>,
}

async fn learn_frame(state: &AppState, p: &Principal, q: &PageQuery, here: &str) -> Frame {
    let t = lang_of(q.lang(), Some(account_lang(state, p).await));
    Frame {
        t,
        title: t.s("learn_title").into(),
        signed_in: true,
        here: here.into(),
        notice: None,
        family: false,
    }
}

pub async fn learn(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<PageQuery>,
) -> Response {
    let f = learn_frame(&state, &p, &q, "/portal/learn").await;
    let topics = topics(f.t.lang);
    render(&LearnPage {
        f,
        topics,
        topic: None,
    })
    .into_response()
}

pub async fn learn_topic(
    State(state): State<AppState>,
    p: Principal,
    Path(slug): Path<String>,
    Query(q): Query<PageQuery>,
) -> Response {
    let mut f = learn_frame(&state, &p, &q, &format!("/portal/learn/{slug}")).await;
    let topics = topics(f.t.lang);
    match topics.iter().find(|x| x.slug == slug) {
        Some(topic) => {
            f.title = topic.title.clone();
            render(&LearnPage {
                f,
                topics,
                topic: Some(topic),
            })
            .into_response()
        }
        None => page_error(f.t, AppError::NotFound),
    }
}

// ---------------------------------------------------------------------------
// JSON for the patient's own apps.

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(api_me, api_report, api_request_reward),
    components(schemas(Home, ReportInput, Reported, RequestLine,
        portal::Appointment, portal::DoseToday, portal::BottleDay, portal::TestLine,
        portal::Points, portal::PointsLine, portal::RewardLine, portal::Goal,
        portal::AftercareView, portal::ReportLine)),
    tags((name = "portal", description = "The patient's own view and actions (portal session cookie only)"))
)]
pub struct PortalApiDoc;

/// The patient's view (`GET /api/v1/portal/me`).
#[utoipa::path(get, path = "/api/v1/portal/me", tag = "portal",
    responses((status = 200, body = Home), (status = 401)))]
pub async fn api_me(State(state): State<AppState>, p: Principal) -> ApiResult<Json<Home>> {
    Ok(Json(portal::home(&state.app, &p).await?))
}

/// Record a self-report.
#[utoipa::path(post, path = "/api/v1/portal/reports", tag = "portal",
    request_body = ReportInput,
    responses((status = 201, body = Reported), (status = 422)))]
pub async fn api_report(
    State(state): State<AppState>,
    p: Principal,
    b: Result<Json<ReportInput>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Response> {
    let i = crate::dosing_api::body(b)?;
    let r = portal::report(&state.app, &p, &i).await?;
    Ok((StatusCode::CREATED, Json(r)).into_response())
}

/// Ask for a reward.
#[utoipa::path(post, path = "/api/v1/portal/rewards/{item}", tag = "portal",
    params(("item" = String, Path)),
    responses((status = 201, body = RequestLine), (status = 404), (status = 409)))]
pub async fn api_request_reward(
    State(state): State<AppState>,
    p: Principal,
    Path(item): Path<String>,
) -> ApiResult<Response> {
    let r = portal::request_reward(&state.app, &p, &item).await?;
    Ok((StatusCode::CREATED, Json(r)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATES: [&str; 12] = [
        include_str!("../../templates/portal_family.html"),
        include_str!("../../templates/portal_code.html"),
        include_str!("../../templates/portal_security.html"),
        include_str!("../../templates/portal_base.html"),
        include_str!("../../templates/portal_sign_in.html"),
        include_str!("../../templates/portal_join.html"),
        include_str!("../../templates/portal_error.html"),
        include_str!("../../templates/portal_home.html"),
        include_str!("../../templates/portal_treatment.html"),
        include_str!("../../templates/portal_rewards.html"),
        include_str!("../../templates/portal_check_in.html"),
        include_str!("../../templates/portal_learn.html"),
    ];

    #[test]
    fn both_languages_have_every_text() {
        let (en, es) = (catalog_keys("en"), catalog_keys("es"));
        assert!(en.len() > 150);
        assert_eq!(en, es, "content/portal/en.toml and es.toml differ in keys");
        // Every key a template or this module asks for exists.
        let here = include_str!("portal.rs");
        let mut wanted = vec![];
        for text in TEMPLATES.iter().chain([&here]) {
            for part in text.split("t.s(\"").skip(1) {
                wanted.push(part.split('"').next().unwrap_or_default().to_string());
            }
        }
        for k in [
            "err_too_many",
            "err_sign_in",
            "signed_out",
            "signed_out_idle",
        ] {
            wanted.push(k.into());
        }
        for i in carepath_clinical::sows::ITEMS {
            wanted.push(format!("sows.{i}"));
        }
        for v in 0..=4 {
            wanted.push(format!("sows_answer.{v}"));
        }
        for v in 1..=5 {
            wanted.push(format!("mood.{v}"));
        }
        for v in 0..=6 {
            wanted.push(format!("weekday.{v}"));
        }
        for f in [
            "code", "username", "password", "confirm", "craving", "mood", "sows",
        ] {
            wanted.push(format!("field_err.{f}"));
        }
        for d in [
            "joined",
            "reported",
            "reported_alert",
            "requested",
            "factor_on",
            "factor_off",
        ] {
            wanted.push(format!("done.{d}"));
        }
        for (a, ..) in carepath_clinical::drugtest::ANALYTES {
            wanted.push(format!("analyte.{a}"));
        }
        for k in wanted {
            assert!(en.contains(&k), "missing text {k:?}");
        }
    }

    #[test]
    fn education_is_in_both_languages() {
        let slugs = |l| topics(l).iter().map(|t| t.slug.clone()).collect::<Vec<_>>();
        assert_eq!(
            slugs("en"),
            [
                "withdrawal",
                "medications",
                "overdose",
                "aftercare",
                "contingency-management",
                "family"
            ]
        );
        assert_eq!(slugs("en"), slugs("es"));
        for (e, s) in topics("en").iter().zip(topics("es")) {
            assert_eq!(e.sections.len(), s.sections.len(), "{}", e.slug);
        }
    }

    /// Plain language: short sentences (a rough check of reading level —
    /// the average sentence of the English education stays under 15 words,
    /// and no sentence runs past 30).
    #[test]
    fn education_reads_plainly() {
        let mut words = 0usize;
        let mut sentences = 0usize;
        for t in topics("en") {
            for s in &t.sections {
                for text in s.paragraphs.iter().chain(&s.points) {
                    for sentence in text.split(['.', '?', '!']).filter(|x| !x.trim().is_empty()) {
                        let n = sentence.split_whitespace().count();
                        assert!(n <= 30, "long sentence in {}: {sentence}", t.slug);
                        words += n;
                        sentences += 1;
                    }
                }
            }
        }
        let avg = words as f64 / sentences as f64;
        assert!(avg < 15.0, "average sentence {avg:.1} words");
    }

    #[test]
    fn no_script_on_any_portal_page() {
        for t in TEMPLATES {
            assert!(!t.contains("<script"), "the portal needs no JavaScript");
        }
    }
}
