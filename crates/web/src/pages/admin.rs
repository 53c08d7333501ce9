//! User administration, personal API tokens, the audit viewer, emergency-access review.

use crate::AppState;
use crate::auth::Principal;
use crate::error::{AppError, HtmlResult};
use crate::views::{Nav, fmt_utc, render};
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use carepath_app::model::AuditFilter;
use carepath_app::{admin, auth as app_auth};
use carepath_domain::FieldError;
use carepath_domain::authz::{Permission, Role};
use carepath_domain::ids::{GrantId, TokenId, UserId};
use serde::Deserialize;

pub struct UserRow {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    /// (program name, role label, program id, role name)
    pub grants: Vec<(String, &'static str, String, &'static str)>,
    /// Organization-wide roles: (label, name).
    pub org_roles: Vec<(&'static str, &'static str)>,
    pub mfa: bool,
    pub disabled: bool,
    pub status: String,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    nav: Nav,
    title: String,
    message: Option<String>,
    error: Option<String>,
    users: Vec<UserRow>,
    programs: Vec<(String, String)>,
    roles: Vec<(&'static str, &'static str)>,
    /// The viewer administers the whole organization.
    org_admin: bool,
}

async fn users_page(
    state: &AppState,
    p: &Principal,
    message: Option<String>,
    error: Option<String>,
) -> Result<Response, AppError> {
    let programs = carepath_app::work::programs(&state.app).await?;
    let (mine, org_admin) = admin::administered(&state.app, p).await?;
    let now = state.app.now_us();
    let mut users = vec![];
    for acc in admin::users(&state.app, p).await? {
        let u = acc.user;
        let org_roles = acc
            .org_roles
            .iter()
            .map(|g| (g.role.label(), g.role.as_str()))
            .collect();
        let grants = acc
            .grants
            .into_iter()
            .map(|g| {
                let name = programs
                    .iter()
                    .find(|x| x.id == g.program_id)
                    .map(|x| x.name.clone())
                    .unwrap_or_default();
                (
                    name,
                    g.role.label(),
                    g.program_id.to_string(),
                    g.role.as_str(),
                )
            })
            .collect();
        let status = if u.disabled {
            "disabled".to_string()
        } else if u.locked_until.is_some_and(|t| t > now) {
            "locked".to_string()
        } else {
            "active".to_string()
        };
        users.push(UserRow {
            id: u.id,
            mfa: u.mfa_enrolled(),
            disabled: u.disabled,
            username: u.username,
            display_name: u.display_name,
            grants,
            org_roles,
            status,
        });
    }
    let page = UsersPage {
        nav: Nav::for_principal(p),
        title: "Users".into(),
        message,
        error,
        users,
        programs: mine
            .iter()
            .map(|g| (g.id.to_string(), g.name.clone()))
            .collect(),
        roles: Role::ALL
            .iter()
            .filter(|r| org_admin || **r != Role::Admin)
            .map(|r| (r.as_str(), r.label()))
            .collect(),
        org_admin,
    };
    Ok(render(&page).into_response())
}

pub async fn users(State(state): State<AppState>, p: Principal) -> HtmlResult<Response> {
    Ok(users_page(&state, &p, None, None).await?)
}

pub async fn create_user(
    State(state): State<AppState>,
    p: Principal,
    Form(f): Form<admin::NewUser>,
) -> HtmlResult<Response> {
    match admin::create_user(&state.app, &p, &f).await {
        Ok(u) => Ok(users_page(&state, &p, Some(format!("Account {u} created.")), None).await?),
        Err(e @ AppError::Invalid(_)) => {
            Ok(users_page(&state, &p, None, Some(e.to_string())).await?)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct RoleForm {
    op: String,
    #[serde(default)]
    program_id: String,
    role: String,
}

pub async fn change_role(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(f): Form<RoleForm>,
) -> HtmlResult<Response> {
    let id: UserId = id.parse().map_err(|_| AppError::NotFound)?;
    let grant = match f.op.as_str() {
        "grant" => true,
        "revoke" => false,
        _ => return Err(AppError::invalid("op", "must be grant or revoke").into()),
    };
    match admin::change_role(&state.app, &p, id, &f.program_id, &f.role, grant).await {
        Ok(()) => {}
        Err(e @ (AppError::Forbidden(_) | AppError::Invalid(_))) => {
            return Ok(users_page(&state, &p, None, Some(e.to_string())).await?);
        }
        Err(e) => return Err(e.into()),
    }
    Ok(Redirect::to("/admin/users").into_response())
}

pub async fn change_org_role(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(f): Form<RoleForm>,
) -> HtmlResult<Response> {
    let id: UserId = id.parse().map_err(|_| AppError::NotFound)?;
    let grant = match f.op.as_str() {
        "grant" => true,
        "revoke" => false,
        _ => return Err(AppError::invalid("op", "must be grant or revoke").into()),
    };
    match admin::change_org_role(&state.app, &p, id, &f.role, grant).await {
        Ok(()) => {}
        Err(e @ (AppError::Forbidden(_) | AppError::Invalid(_))) => {
            return Ok(users_page(&state, &p, None, Some(e.to_string())).await?);
        }
        Err(e) => return Err(e.into()),
    }
    Ok(Redirect::to("/admin/users").into_response())
}

#[derive(Deserialize)]
pub struct StatusForm {
    disabled: String,
}

pub async fn set_status(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(f): Form<StatusForm>,
) -> HtmlResult<Response> {
    let id: UserId = id.parse().map_err(|_| AppError::NotFound)?;
    let disabled = f.disabled == "true";
    match admin::set_disabled(&state.app, &p, id, disabled).await {
        Ok(()) => {}
        Err(e @ AppError::Forbidden(_)) => {
            return Ok(users_page(&state, &p, None, Some(e.to_string())).await?);
        }
        Err(e) => return Err(e.into()),
    }
    Ok(Redirect::to("/admin/users").into_response())
}

pub struct TokenRow {
    pub id: TokenId,
    pub name: String,
    pub scopes: String,
    pub expires: String,
    pub last_used: String,
    pub status: &'static str,
    pub live: bool,
}

#[derive(Template)]
#[template(path = "tokens.html")]
struct TokensPage {
    nav: Nav,
    title: String,
    new_token: Option<String>,
    error: Option<String>,
    tokens: Vec<TokenRow>,
    scopes: Vec<&'static str>,
    max_days: i64,
    mfa_enrolled: bool,
}

async fn tokens_page(
    state: &AppState,
    p: &Principal,
    new_token: Option<String>,
    error: Option<String>,
) -> Result<Response, AppError> {
    let now = state.app.now_us();
    let tokens = app_auth::tokens(&state.app, p)
        .await?
        .into_iter()
        .map(|t| {
            let (status, live) = if t.revoked_at.is_some() {
                ("revoked", false)
            } else if t.expires_at <= now {
                ("expired", false)
            } else {
                ("active", true)
            };
            TokenRow {
                id: t.id,
                name: t.name,
                scopes: t.scopes.0.join(", "),
                expires: fmt_utc(t.expires_at),
                last_used: t
                    .last_used_at
                    .map(fmt_utc)
                    .unwrap_or_else(|| "never".into()),
                status,
                live,
            }
        })
        .collect();
    let scopes = Permission::ALL
        .into_iter()
        .filter(|x| p.can(*x))
        .map(|x| x.as_str())
        .collect();
    let page = TokensPage {
        nav: Nav::for_principal(p),
        title: "Your account".into(),
        new_token,
        error,
        tokens,
        scopes,
        mfa_enrolled: p.mfa_enrolled,
        max_days: state.settings().max_token_days,
    };
    Ok(render(&page).into_response())
}

pub async fn tokens(State(state): State<AppState>, p: Principal) -> HtmlResult<Response> {
    Ok(tokens_page(&state, &p, None, None).await?)
}

pub async fn create_token(
    State(state): State<AppState>,
    p: Principal,
    body: String,
) -> HtmlResult<Response> {
    // Repeated `scope` fields: parse the urlencoded body by hand-free pairs.
    let pairs: Vec<(String, String)> = serde_urlencoded_pairs(&body);
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(a, _)| a == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let scopes: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "scope")
        .map(|(_, v)| v.clone())
        .collect();
    let days: i64 = get("days").trim().parse().unwrap_or(0);
    match app_auth::issue_token(&state.app, &p, &get("name"), &scopes, days).await {
        Ok(t) => Ok(tokens_page(&state, &p, Some(t), None).await?),
        Err(e @ AppError::Invalid(_)) => {
            Ok(tokens_page(&state, &p, None, Some(e.to_string())).await?)
        }
        Err(e) => Err(e.into()),
    }
}

/// Decode an `application/x-www-form-urlencoded` body into ordered pairs.
fn serde_urlencoded_pairs(body: &str) -> Vec<(String, String)> {
    axum::extract::Query::<Vec<(String, String)>>::try_from_uri(
        &format!("/?{body}").parse().unwrap_or_default(),
    )
    .map(|q| q.0)
    .unwrap_or_default()
}

pub async fn revoke_token(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> HtmlResult<Response> {
    let id: TokenId = id.parse().map_err(|_| AppError::NotFound)?;
    app_auth::revoke_token(&state.app, &p, id).await?;
    Ok(Redirect::to("/account/tokens").into_response())
}

#[derive(Deserialize, Default)]
pub struct AuditQuery {
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub patient: String,
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    pub before: Option<i64>,
}

pub struct EventRow {
    pub seq: i64,
    pub at: String,
    pub user: String,
    pub role: String,
    pub action: String,
    pub outcome: &'static str,
    pub patient: String,
    pub object: String,
    pub client: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    nav: Nav,
    title: String,
    f_user: String,
    f_patient: String,
    f_action: String,
    f_from: String,
    f_to: String,
    head_seq: i64,
    head_hash: String,
    events: Vec<EventRow>,
    next_link: Option<String>,
}

/// Turn the query into a store filter; dates are UTC days, `to` inclusive.
pub fn audit_filter(q: &AuditQuery, limit: i64) -> Result<AuditFilter, AppError> {
    let day = |field: &'static str, s: &str, plus: i64| -> Result<Option<i64>, FieldError> {
        let t = s.trim();
        if t.is_empty() {
            return Ok(None);
        }
        let d: jiff::civil::Date = t
            .parse()
            .map_err(|_| FieldError::new(field, "must be a date written YYYY-MM-DD"))?;
        let ts = d
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map_err(|_| FieldError::new(field, "out of range"))?
            .timestamp();
        Ok(Some(ts.as_microsecond() + plus))
    };
    let o = |s: &str| {
        let t = s.trim();
        (!t.is_empty()).then(|| t.to_string())
    };
    Ok(AuditFilter {
        user: o(&q.user),
        patient_id: o(&q.patient),
        action: o(&q.action),
        from_us: day("from", &q.from, 0)?,
        to_us: day("to", &q.to, 86_400 * 1_000_000)?,
        limit,
        before_seq: q.before,
        // Set by the service from the auditor's programs.
        programs: None,
    })
}

pub async fn audit(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<AuditQuery>,
) -> HtmlResult<Response> {
    let f = audit_filter(&q, 100)?;
    let (page, head) = admin::audit_events(&state.app, &p, &f, "").await?;
    let events = page
        .events
        .into_iter()
        .map(|e| EventRow {
            seq: e.seq,
            at: fmt_utc(e.at_us),
            user: e.event.username.or(e.event.user_id).unwrap_or_default(),
            role: e.event.role.unwrap_or_default(),
            action: e.event.action,
            outcome: e.event.outcome.as_str(),
            patient: e.event.patient_id.unwrap_or_default(),
            object: match (e.event.object_type, e.event.object_id) {
                (Some(t), Some(i)) => format!("{t} {i}"),
                (Some(t), None) => t,
                _ => String::new(),
            },
            client: e.event.client_addr.unwrap_or_default(),
            detail: e.event.detail.unwrap_or_default(),
        })
        .collect();
    let next_link = page.next_before.map(|b| {
        let enc = |s: &str| {
            s.replace('%', "%25")
                .replace('&', "%26")
                .replace('#', "%23")
                .replace('+', "%2B")
                .replace(' ', "+")
        };
        format!(
            "/audit?user={}&patient={}&action={}&from={}&to={}&before={b}",
            enc(&q.user),
            enc(&q.patient),
            enc(&q.action),
            enc(&q.from),
            enc(&q.to)
        )
    });
    let view = AuditPage {
        nav: Nav::for_principal(&p),
        title: "Audit log".into(),
        f_user: q.user,
        f_patient: q.patient,
        f_action: q.action,
        f_from: q.from,
        f_to: q.to,
        head_seq: head.0,
        head_hash: head.1,
        events,
        next_link,
    };
    Ok(render(&view).into_response())
}

pub struct GrantView {
    pub id: GrantId,
    pub created: String,
    pub username: String,
    pub patient_id: String,
    pub reason: String,
    pub expires: String,
    pub review: Option<String>,
}

#[derive(Template)]
#[template(path = "break_glass_list.html")]
struct BreakGlassListPage {
    nav: Nav,
    title: String,
    grants: Vec<GrantView>,
    /// Roles administrators granted themselves: (when, who, program, what).
    self_grants: Vec<(String, String, String, String)>,
}

pub async fn break_glass_list(State(state): State<AppState>, p: Principal) -> HtmlResult<Response> {
    let grants = admin::break_glass_grants(&state.app, &p)
        .await?
        .into_iter()
        .map(|g| GrantView {
            id: g.id,
            created: fmt_utc(g.created_at),
            username: g.username,
            patient_id: g.patient_id.to_string(),
            reason: g.reason,
            expires: fmt_utc(g.expires_at),
            review: g.reviewed_at.map(|t| {
                format!(
                    "{} by {}: {}",
                    fmt_utc(t),
                    g.reviewed_by.unwrap_or_default(),
                    g.review_note.unwrap_or_default()
                )
            }),
        })
        .collect();
    let programs = carepath_app::work::programs(&state.app).await?;
    let self_grants = admin::self_grants(&state.app, &p)
        .await?
        .into_iter()
        .map(|e| {
            let program = e
                .event
                .program_id
                .as_deref()
                .and_then(|id| programs.iter().find(|g| g.id.to_string() == id))
                .map(|g| g.name.clone())
                .unwrap_or_default();
            (
                fmt_utc(e.at_us),
                e.event.username.unwrap_or_default(),
                program,
                e.event.detail.unwrap_or_default(),
            )
        })
        .collect();
    Ok(render(&BreakGlassListPage {
        nav: Nav::for_principal(&p),
        title: "Emergency access review".into(),
        grants,
        self_grants,
    })
    .into_response())
}

#[derive(Deserialize)]
pub struct ReviewForm {
    #[serde(default)]
    note: String,
}

pub async fn break_glass_review(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(f): Form<ReviewForm>,
) -> HtmlResult<Response> {
    let id: GrantId = id.parse().map_err(|_| AppError::NotFound)?;
    admin::review_break_glass(&state.app, &p, id, &f.note).await?;
    Ok(Redirect::to("/audit/break-glass").into_response())
}
