//! The error answer: a [`Code`] (which decides the status) in the `{"error": {...}}` body
//! every node answers with, so a client cannot tell the baseline's errors from the nodes'.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use contracts::{Code, ErrorBody, ErrorDetail, ShortItem, ValidationError};

use crate::plan::Refusal;
use crate::store::{PlaceError, StoreError};

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    // Boxed: errors travel in every handler's Result, and the Ok side should stay small.
    detail: Box<ErrorDetail>,
}

impl ApiError {
    /// An error with `code`, answered with the code's status.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            detail: Box::new(ErrorDetail::new(code, message)),
        }
    }

    /// The HTTP status, the code's.
    pub fn status(&self) -> StatusCode {
        // Every code's status is a valid one; the fallback keeps a mistake from panicking.
        StatusCode::from_u16(self.detail.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The body's detail.
    pub fn detail(&self) -> &ErrorDetail {
        &self.detail
    }

    /// 404 `product_not_found`, worded as catalog-node words it.
    pub fn product_not_found(id: &str) -> Self {
        Self::new(Code::ProductNotFound, format!("no product {id:?}"))
    }

    /// 404 `order_not_found`, worded as order-node words it.
    pub fn order_not_found(id: &str) -> Self {
        Self::new(Code::OrderNotFound, format!("no order {id:?}"))
    }

    /// 404 `route_not_found`.
    pub fn route_not_found() -> Self {
        Self::new(Code::RouteNotFound, "no such route")
    }

    /// 405 `method_not_allowed`.
    pub fn method_not_allowed() -> Self {
        Self::new(
            Code::MethodNotAllowed,
            "this route does not accept that method",
        )
    }

    fn unknown_products(ids: Vec<String>) -> Self {
        let mut err = Self::new(
            Code::UnknownProducts,
            format!("no such products: {}", ids.join(", ")),
        );
        err.detail.missing_ids = ids;
        err
    }

    fn insufficient_stock(short: Vec<ShortItem>) -> Self {
        let names: Vec<&str> = short.iter().map(|s| s.product_id.as_str()).collect();
        let mut err = Self::new(
            Code::InsufficientStock,
            format!("not enough stock for: {}", names.join(", ")),
        );
        err.detail.short_items = short;
        err
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        let mut err = Self::new(Code::InvalidInput, e.to_string());
        err.detail.field = Some(e.field);
        err
    }
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::UnknownProducts(ids) => Self::unknown_products(ids),
            Refusal::InsufficientStock(short) => Self::insufficient_stock(short),
            Refusal::MixedCurrencies(which) => Self::new(
                Code::MixedCurrencies,
                format!("an order is priced in one currency; these products use {which}"),
            ),
            Refusal::TotalTooLarge => Self::new(
                Code::TotalTooLarge,
                "the order total does not fit in the money type",
            ),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        // The cause goes to the log, not to the client: it may name tables and queries.
        tracing::error!(error = %e, "database failed");
        match e {
            StoreError::Pool(deadpool_postgres::PoolError::Timeout(_)) => Self::new(
                Code::Overloaded,
                "no database connection became free in time; retry shortly",
            ),
            _ => Self::new(
                Code::StorageUnavailable,
                "the database failed; retry shortly",
            ),
        }
    }
}

impl From<PlaceError> for ApiError {
    fn from(e: PlaceError) -> Self {
        match e {
            PlaceError::Refused(refusal) => refusal.into(),
            PlaceError::Store(e) => e.into(),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => Self::new(
                Code::PayloadTooLarge,
                "request body is larger than this route accepts",
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::new(
                Code::UnsupportedMediaType,
                "send the body as JSON with Content-Type: application/json",
            ),
            _ => Self::new(Code::InvalidJson, rejection.body_text()),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::new(Code::InvalidPath, rejection.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status(),
            Json(ErrorBody {
                error: *self.detail,
            }),
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_body_is_the_nodes_body() {
        let response = ApiError::from(Refusal::UnknownProducts(vec!["x".into()])).into_response();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        assert_eq!(
            &bytes[..],
            br#"{"error":{"code":"unknown_products","message":"no such products: x","missing_ids":["x"]}}"#
        );
    }

    #[test]
    fn refusals_take_the_codes_of_order_node() {
        let short = ShortItem {
            product_id: "a".into(),
            requested: 3,
            available: 1,
        };
        let err = ApiError::from(Refusal::InsufficientStock(vec![short.clone()]));
        assert_eq!(err.status(), StatusCode::CONFLICT);
        assert_eq!(err.detail().message, "not enough stock for: a");
        assert_eq!(err.detail().short_items, vec![short]);
        assert_eq!(
            ApiError::from(Refusal::TotalTooLarge).detail().code,
            Code::TotalTooLarge
        );
        let invalid = ApiError::from(ValidationError::new("items", "must name one"));
        assert_eq!(invalid.status(), StatusCode::BAD_REQUEST);
        assert_eq!(invalid.detail().field.as_deref(), Some("items"));
    }
}
