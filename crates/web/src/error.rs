//! The application's errors, as HTTP. JSON routes answer
//! `{"error": {"code", "message", "field", "fields"}}` (every invalid field
//! in `fields`); HTML routes answer a page. Internal causes are logged without
//! patient data and never shown.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use carepath_domain::FieldError;
use serde::Serialize;

/// The services' error (no HTTP in it); mapped here.
pub use carepath_app::Error as AppError;

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct FieldProblem {
    pub field: String,
    pub message: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code.
    pub code: String,
    /// A message for people.
    pub message: String,
    /// The request field at fault, when there is one (the first of `fields`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Every field at fault, each with why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldProblem>,
}

pub fn status(e: &AppError) -> StatusCode {
    match e {
        AppError::Unauthenticated | AppError::SessionExpired | AppError::MfaPending => {
            StatusCode::UNAUTHORIZED
        }
        AppError::Forbidden(_) | AppError::OutsideYourPrograms => StatusCode::FORBIDDEN,
        AppError::NotFound => StatusCode::NOT_FOUND,
        AppError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
        AppError::Conflict(_) | AppError::PossibleDuplicates(_) => StatusCode::CONFLICT,
        AppError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
        AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn detail(e: &AppError) -> ErrorDetail {
    let (code, message, field, fields) = match e {
        AppError::Unauthenticated => (
            "unauthenticated",
            "sign in first (session cookie or bearer token)".to_string(),
            None,
            vec![],
        ),
        AppError::SessionExpired => (
            "session_expired",
            "the session ended after inactivity or reached its lifetime; sign in again".into(),
            None,
            vec![],
        ),
        AppError::MfaPending => (
            "mfa_required",
            "complete the second sign-in step first".into(),
            None,
            vec![],
        ),
        AppError::Forbidden(m) => ("forbidden", m.clone(), None, vec![]),
        AppError::OutsideYourPrograms => ("forbidden", e.to_string(), None, vec![]),
        AppError::NotFound => ("not_found", e.to_string(), None, vec![]),
        AppError::Invalid(v) => (
            "invalid",
            v.iter()
                .map(|f| format!("{}: {}", f.field, f.message))
                .collect::<Vec<_>>()
                .join("; "),
            v.first().map(|f| f.field.to_string()),
            v.iter()
                .map(|f| FieldProblem {
                    field: f.field.to_string(),
                    message: f.message.clone(),
                })
                .collect(),
        ),
        AppError::Conflict(c) => ("conflict", c.clone(), None, vec![]),
        AppError::TooManyRequests(m) => ("rate_limited", m.clone(), None, vec![]),
        AppError::PossibleDuplicates(v) => (
            "possible_duplicate",
            format!(
                "may already be registered as MRN {}; to register a different person anyway, confirm_new",
                v.iter()
                    .map(|x| x.mrn.clone())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Some("confirm_new".into()),
            vec![],
        ),
        AppError::Internal(_) => (
            "internal",
            "something went wrong; the error was logged".into(),
            None,
            vec![],
        ),
    };
    ErrorDetail {
        code: code.into(),
        message,
        field,
        fields,
    }
}

/// How an error answers.
pub trait Respond {
    /// The JSON form (API routes).
    fn json(self) -> Response;
    /// The HTML form (pages).
    fn html(self) -> Response;
}

impl Respond for AppError {
    fn json(self) -> Response {
        if let AppError::Internal(cause) = &self {
            tracing::error!(%cause, "internal error");
        }
        let body = ErrorBody {
            error: detail(&self),
        };
        (status(&self), axum::Json(body)).into_response()
    }

    fn html(self) -> Response {
        match self {
            AppError::Unauthenticated => Redirect::to("/login").into_response(),
            AppError::SessionExpired => Redirect::to("/login?m=idle").into_response(),
            AppError::MfaPending => Redirect::to("/mfa").into_response(),
            other => {
                if let AppError::Internal(cause) = &other {
                    tracing::error!(%cause, "internal error");
                }
                let status = status(&other);
                let page = crate::views::ErrorPage {
                    nav: crate::views::Nav::anonymous(),
                    title: status.canonical_reason().unwrap_or("Error").to_string(),
                    message: detail(&other).message,
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

/// A form's field errors re-render the form; any other error propagates.
pub fn field_errors(e: AppError) -> Result<Vec<FieldError>, AppError> {
    match e {
        AppError::Invalid(v) => Ok(v),
        other => Err(other),
    }
}

/// `Query<T>` for the JSON API: a query string that cannot be read is a 422
/// JSON error naming it (axum's own rejection is a plain-text 400).
pub struct ApiQuery<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for ApiQuery<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(t)| ApiQuery(t))
            .map_err(|e| AppError::invalid("query", e.body_text()).json())
    }
}
