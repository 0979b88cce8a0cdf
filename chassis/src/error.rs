//! The API error: a status plus the JSON body of docs/ARCHITECTURE.md.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use contracts::{ErrorBody, ErrorDetail, ShortItem, ValidationError};

/// An error answer: status, stable code, message and optional details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    status: StatusCode,
    // Boxed: errors travel in every handler's Result, and the Ok side should stay small.
    detail: Box<ErrorDetail>,
}

impl ApiError {
    /// An error with any status and code.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            detail: Box::new(ErrorDetail {
                code: code.to_owned(),
                message: message.into(),
                field: None,
                missing_ids: Vec::new(),
                short_items: Vec::new(),
            }),
        }
    }

    /// 400 with a code of the caller's choice.
    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 401: no or unknown credentials.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403: known caller without the needed scope.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404 for a missing thing.
    pub fn not_found(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    /// 409 for a conflict with the current state.
    pub fn conflict(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// 422 for a well-formed request naming things that do not exist.
    pub fn unknown_ids(code: &str, message: impl Into<String>, ids: Vec<String>) -> Self {
        let mut err = Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message);
        err.detail.missing_ids = ids;
        err
    }

    /// 409 `insufficient_stock` naming each short item.
    pub fn insufficient_stock(short: Vec<ShortItem>) -> Self {
        let names: Vec<&str> = short.iter().map(|s| s.product_id.as_str()).collect();
        let mut err = Self::conflict(
            "insufficient_stock",
            format!("not enough stock for: {}", names.join(", ")),
        );
        err.detail.short_items = short;
        err
    }

    /// 503: a dependency (storage, another node) is unavailable.
    pub fn unavailable(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, code, message)
    }

    /// 500, logged here; the message given to the client stays generic.
    pub fn internal(context: &str, error: &dyn std::error::Error) -> Self {
        tracing::error!(%error, context, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("internal error while {context}"),
        )
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The body's detail.
    pub fn detail(&self) -> &ErrorDetail {
        &self.detail
    }

    /// The JSON body this error answers with, e.g. to keep it for an idempotent replay.
    pub fn body_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&ErrorBody {
            error: (*self.detail).clone(),
        })
        .unwrap_or_default()
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        let mut err = Self::bad_request("invalid_input", e.to_string());
        err.detail.field = Some(e.field);
        err
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status;
        let mut response = (
            status,
            Json(ErrorBody {
                error: *self.detail,
            }),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// Answer for unmatched paths.
pub async fn route_not_found() -> ApiError {
    ApiError::not_found("route_not_found", "no such route")
}

/// Answer for a known path with the wrong method.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not accept that method",
    )
}
