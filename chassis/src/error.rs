//! The API error: a [`Code`] (which decides the status) and the JSON body of
//! docs/ARCHITECTURE.md.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use contracts::{Code, ErrorBody, ErrorDetail, ShortItem, ValidationError};

/// An error answer: a code (which decides the status), a message and optional details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    // Boxed: errors travel in every handler's Result, and the Ok side should stay small.
    detail: Box<ErrorDetail>,
}

/// The status of `code` as axum's type.
pub fn status_of(code: Code) -> StatusCode {
    // Every code's status is a valid one (a unit test checks them all); the fallback only
    // keeps a mistake in that list from becoming a panic.
    StatusCode::from_u16(code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

impl ApiError {
    /// An error with `code`, answered with the code's status.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            detail: Box::new(ErrorDetail::new(code, message)),
        }
    }

    /// 401 `unauthorized`: no or unknown credentials.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(Code::Unauthorized, message)
    }

    /// 403 `forbidden`: known caller without the needed scope.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(Code::Forbidden, message)
    }

    /// An error naming the ids of the request that do not exist (`missing_ids`).
    pub fn unknown_ids(code: Code, message: impl Into<String>, ids: Vec<String>) -> Self {
        let mut err = Self::new(code, message);
        err.detail.missing_ids = ids;
        err
    }

    /// 409 `insufficient_stock` naming each short item.
    pub fn insufficient_stock(short: Vec<ShortItem>) -> Self {
        let names: Vec<&str> = short.iter().map(|s| s.product_id.as_str()).collect();
        let mut err = Self::new(
            Code::InsufficientStock,
            format!("not enough stock for: {}", names.join(", ")),
        );
        err.detail.short_items = short;
        err
    }

    /// 500 `internal`, logged here; the message given to the client stays generic.
    pub fn internal(context: &str, error: &dyn std::error::Error) -> Self {
        tracing::error!(%error, context, "internal error");
        Self::new(Code::Internal, format!("internal error while {context}"))
    }

    /// The code.
    pub fn code(&self) -> Code {
        self.detail.code
    }

    /// The HTTP status, the code's.
    pub fn status(&self) -> StatusCode {
        status_of(self.detail.code)
    }

    /// The body's detail.
    pub fn detail(&self) -> &ErrorDetail {
        &self.detail
    }

    /// The JSON body this error answers with.
    pub fn body_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&ErrorBody {
            error: (*self.detail).clone(),
        })
        .unwrap_or_default()
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        let mut err = Self::new(Code::InvalidInput, e.to_string());
        err.detail.field = Some(e.field);
        err
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
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
    ApiError::new(Code::RouteNotFound, "no such route")
}

/// Answer for a known path with the wrong method.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        Code::MethodNotAllowed,
        "this route does not accept that method",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_valid_status_of_its_own() {
        for &code in Code::ALL {
            let status = StatusCode::from_u16(code.status());
            assert!(status.is_ok(), "{code}");
            assert_eq!(status_of(code).as_u16(), code.status(), "{code}");
            assert_eq!(ApiError::new(code, "m").status().as_u16(), code.status());
        }
    }

    #[test]
    fn the_status_follows_the_code() {
        assert_eq!(
            ApiError::unauthorized("m").status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(ApiError::forbidden("m").status(), StatusCode::FORBIDDEN);
        assert_eq!(
            ApiError::insufficient_stock(Vec::new()).status(),
            StatusCode::CONFLICT
        );
        assert_eq!(
            ApiError::from(ValidationError::new("f", "bad")).status(),
            StatusCode::BAD_REQUEST
        );
    }

    #[tokio::test]
    async fn the_answer_is_the_documented_body() {
        let response =
            ApiError::unknown_ids(Code::UnknownProducts, "no", vec!["x".into()]).into_response();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        assert_eq!(
            &bytes[..],
            br#"{"error":{"code":"unknown_products","message":"no","missing_ids":["x"]}}"#
        );
        let unauthorized = ApiError::unauthorized("who").into_response();
        assert_eq!(
            unauthorized
                .headers()
                .get(header::WWW_AUTHENTICATE)
                .unwrap(),
            "Bearer"
        );
    }
}
