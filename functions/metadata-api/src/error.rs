//! API errors as JSON: `{"error": {"code": "...", "message": "...", "parameter": "..."}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadParameter { parameter: String, message: String },
    #[error("{0}")]
    NotFound(String),
    /// A 404 for an id the API issued an upload for, which the pipeline has not recorded yet:
    /// worth polling again, unlike an unknown id.
    #[error("{0}")]
    Pending(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    /// Details go to the log, never to the client.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn bad(parameter: &str, message: impl Into<String>) -> Self {
        ApiError::BadParameter {
            parameter: parameter.to_owned(),
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match &self {
            ApiError::BadParameter { parameter, message } => (
                StatusCode::BAD_REQUEST,
                json!({"error": {"code": "bad_parameter", "message": message, "parameter": parameter}}),
            ),
            ApiError::NotFound(message) => (
                StatusCode::NOT_FOUND,
                json!({"error": {"code": "not_found", "message": message}}),
            ),
            ApiError::Pending(message) => (
                StatusCode::NOT_FOUND,
                json!({"error": {"code": "pending", "message": message}}),
            ),
            ApiError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                json!({"error": {"code": "method_not_allowed", "message": "this route does not take that method (the API answers GET, and POST on /uploads)"}}),
            ),
            ApiError::Internal(detail) => {
                tracing::error!(error = %detail, "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    json!({"error": {"code": "internal", "message": "internal error"}}),
                )
            }
        };
        (status, Json(body)).into_response()
    }
}
