//! The one error type of the API: 4xx answers carry a JSON message (and a flow's located
//! problems); a 5xx answer is generic and its cause goes to the server's log.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use weir_core::Diagnostic;

use super::wire::{ErrorBody, Located};
use crate::control::ControlError;

#[derive(Debug)]
pub enum ApiError {
    NotFound(String),
    /// Bad input or a request that cannot be done in the current state (422).
    Invalid(String),
    /// A flow source with problems (422).
    Flow(String, Vec<Located>),
    /// Kestra's answer when an execution already ended (409).
    Conflict(String),
    Unauthorized,
    /// A failure of weir or its store: logged, never shown in detail.
    Internal(String),
}

impl ApiError {
    pub fn invalid(m: impl Into<String>) -> Self {
        ApiError::Invalid(m.into())
    }
    pub fn not_found(m: impl Into<String>) -> Self {
        ApiError::NotFound(m.into())
    }
    pub fn flow(diagnostics: &[Diagnostic], line_offset: u64) -> Self {
        let errors: Vec<Located> = diagnostics
            .iter()
            .map(|d| Located::from_diagnostic(d, line_offset))
            .collect();
        let message = format!(
            "the flow is invalid: {}",
            errors
                .iter()
                .map(|e| format!("{}:{}: {}", e.line, e.column, e.message))
                .collect::<Vec<_>>()
                .join("; ")
        );
        ApiError::Flow(message, errors)
    }
}

impl From<ControlError> for ApiError {
    fn from(e: ControlError) -> Self {
        match e {
            ControlError::NotFound(m) | ControlError::Forbidden(m) => ApiError::NotFound(m),
            ControlError::Invalid(m) => ApiError::Invalid(m),
            ControlError::Flow(d) => ApiError::flow(&d, 0),
            ControlError::Store(e) => e.into(),
        }
    }
}

impl From<weir_store::StoreError> for ApiError {
    fn from(e: weir_store::StoreError) -> Self {
        ApiError::Internal(error_chain(&e))
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message, errors) = match self {
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, m, None),
            ApiError::Invalid(m) => (StatusCode::UNPROCESSABLE_ENTITY, m, None),
            ApiError::Flow(m, e) => (StatusCode::UNPROCESSABLE_ENTITY, m, Some(e)),
            ApiError::Conflict(m) => (StatusCode::CONFLICT, m, None),
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "a valid `Authorization: Bearer <token>` header is required".to_string(),
                None,
            ),
            ApiError::Internal(cause) => {
                #[expect(
                    clippy::print_stderr,
                    reason = "the server has no logger yet; a 5xx cause must not be lost"
                )]
                {
                    eprintln!("error: the API could not answer a request: {cause}");
                }
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "weir could not answer this request; the cause is in the server's log"
                        .to_string(),
                    None,
                )
            }
        };
        let mut resp = (status, Json(ErrorBody { message, errors })).into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}
