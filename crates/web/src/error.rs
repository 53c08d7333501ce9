//! One error type for handlers. JSON routes answer `{"error": {"code", "message", "field"}}`;
//! HTML routes answer a page. Internal causes are logged without patient data and
//! never shown.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use carepath_domain::FieldError;
use carepath_store::StoreError;
use serde::Serialize;

#[derive(Debug)]
pub enum AppError {
    /// Not signed in (HTML: redirect to the login page).
    Unauthenticated,
    /// The session ended for inactivity or reached its lifetime.
    SessionExpired,
    /// Signed in with a password but the second factor is still due.
    MfaPending,
    Forbidden(String),
    NotFound,
    Invalid(FieldError),
    Conflict(String),
    TooManyRequests(String),
    /// Registration stopped: these patients (id, name, DOB, MRN) may be the same person.
    PossibleDuplicates(Vec<(String, String, String, String)>),
    Internal(String),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => AppError::NotFound,
            StoreError::Conflict(c) => AppError::Conflict(c),
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<carepath_clinical::InputError> for AppError {
    fn from(e: carepath_clinical::InputError) -> Self {
        AppError::Invalid(FieldError::new(e.field, e.message))
    }
}

impl From<FieldError> for AppError {
    fn from(e: FieldError) -> Self {
        AppError::Invalid(e)
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code.
    pub code: String,
    /// A message for people.
    pub message: String,
    /// The request field at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Unauthenticated | AppError::SessionExpired | AppError::MfaPending => {
                StatusCode::UNAUTHORIZED
            }
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::PossibleDuplicates(_) => StatusCode::CONFLICT,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn parts(&self) -> (&'static str, String, Option<String>) {
        match self {
            AppError::Unauthenticated => (
                "unauthenticated",
                "sign in first (session cookie or bearer token)".into(),
                None,
            ),
            AppError::SessionExpired => (
                "session_expired",
                "the session ended after inactivity or reached its lifetime; sign in again".into(),
                None,
            ),
            AppError::MfaPending => (
                "mfa_required",
                "complete the second sign-in step first".into(),
                None,
            ),
            AppError::Forbidden(m) => ("forbidden", m.clone(), None),
            AppError::NotFound => (
                "not_found",
                "no such record, or it is not yours to see".into(),
                None,
            ),
            AppError::Invalid(f) => (
                "invalid",
                format!("{}: {}", f.field, f.message),
                Some(f.field.to_string()),
            ),
            AppError::Conflict(c) => ("conflict", format!("already exists ({c})"), None),
            AppError::TooManyRequests(m) => ("rate_limited", m.clone(), None),
            AppError::PossibleDuplicates(v) => (
                "possible_duplicate",
                format!(
                    "may already be registered as MRN {}; to register a different person anyway, confirm_new",
                    v.iter().map(|x| x.3.clone()).collect::<Vec<_>>().join(", ")
                ),
                Some("confirm_new".into()),
            ),
            AppError::Internal(_) => (
                "internal",
                "something went wrong; the error was logged".into(),
                None,
            ),
        }
    }

    /// The JSON form (API routes).
    pub fn json(self) -> Response {
        if let AppError::Internal(cause) = &self {
            tracing::error!(%cause, "internal error");
        }
        let (code, message, field) = self.parts();
        let body = ErrorBody {
            error: ErrorDetail {
                code: code.into(),
                message,
                field,
            },
        };
        (self.status(), axum::Json(body)).into_response()
    }

    /// The HTML form (pages).
    pub fn html(self) -> Response {
        match self {
            AppError::Unauthenticated => Redirect::to("/login").into_response(),
            AppError::SessionExpired => Redirect::to("/login?m=idle").into_response(),
            AppError::MfaPending => Redirect::to("/mfa").into_response(),
            other => {
                if let AppError::Internal(cause) = &other {
                    tracing::error!(%cause, "internal error");
                }
                let status = other.status();
                let (_, message, _) = other.parts();
                let page = crate::views::ErrorPage {
                    nav: crate::views::Nav::anonymous(),
                    title: status.canonical_reason().unwrap_or("Error").to_string(),
                    message,
                };
                (status, crate::views::render(&page)).into_response()
            }
        }
    }
}

/// Handlers of HTML pages return this; its errors render as pages.
pub struct HtmlError(pub AppError);

impl<E: Into<AppError>> From<E> for HtmlError {
    fn from(e: E) -> Self {
        HtmlError(e.into())
    }
}

impl IntoResponse for HtmlError {
    fn into_response(self) -> Response {
        self.0.html()
    }
}

/// Handlers of the JSON API return this; its errors render as JSON.
pub struct ApiError(pub AppError);

impl<E: Into<AppError>> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.0.json()
    }
}

pub type HtmlResult<T> = Result<T, HtmlError>;
pub type ApiResult<T> = Result<T, ApiError>;
