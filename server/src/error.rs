//! API errors as data: a stable `code`, an HTTP status and a message.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds to wait before retrying (sent as `Retry-After` with 429).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": { "code": self.code, "message": self.message } });
        let mut r = (self.status, Json(body)).into_response();
        if let Some(s) = self.retry_after {
            r.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(s),
            );
        }
        r
    }
}

impl From<sebroker_engine::Error> for ApiError {
    fn from(e: sebroker_engine::Error) -> Self {
        use sebroker_engine::Error as E;
        match e {
            E::Invalid(m) => ApiError::new(StatusCode::BAD_REQUEST, "invalid_parameter", m),
            E::NotFound(m) => ApiError::new(StatusCode::NOT_FOUND, "not_found", m),
            E::Conflict { code, message } => ApiError::new(StatusCode::CONFLICT, code, message),
            E::Unprocessable { code, message } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
            }
            E::Index(e @ sebroker_index::IndexError::Window { .. }) => {
                ApiError::new(StatusCode::BAD_REQUEST, "offset_too_large", e.to_string())
            }
            E::Unavailable { code, message } => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code, message)
            }
            E::Index(sebroker_index::IndexError::Filter { field, message }) => ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_parameter",
                format!("{field}: {message}"),
            ),
            other => {
                tracing::error!(error = %other, "internal error");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error; see the server log",
                )
            }
        }
    }
}

pub async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "route_not_found",
        "no such route; the API lives under /api/v1",
    )
}

impl From<sebroker_ledger::Error> for ApiError {
    fn from(e: sebroker_ledger::Error) -> Self {
        sebroker_engine::Error::from(e).into()
    }
}

impl From<sebroker_store::Error> for ApiError {
    fn from(e: sebroker_store::Error) -> Self {
        sebroker_engine::Error::from(e).into()
    }
}

impl From<sebroker_alerts::Error> for ApiError {
    fn from(e: sebroker_alerts::Error) -> Self {
        sebroker_engine::Error::from(e).into()
    }
}
