//! Maps service failures to API errors.

use axum::http::StatusCode;
use chassis::ApiError;

use crate::service::ServiceError;
use crate::store::WriteError;

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Write(w) => write_error(w),
            ServiceError::CursorExpired { after, horizon } => ApiError::new(
                StatusCode::GONE,
                "cursor_expired",
                format!(
                    "cursor {after} is older than the feed's retention (horizon {horizon}); \
                     bootstrap from GET /v1/products?after= and follow the feed from its head_seq"
                ),
            ),
            ServiceError::Flush(f) => ApiError::unavailable(
                "storage_unavailable",
                format!("the change may not be durable: {f}"),
            ),
            ServiceError::Store(s) => ApiError::internal("reading the store", &s),
            ServiceError::Task(t) => ApiError::internal("running a store task", &t),
            ServiceError::Backup(b) => {
                ApiError::unavailable("backup_failed", format!("the backup failed: {b}"))
            }
        }
    }
}

fn write_error(e: WriteError) -> ApiError {
    match e {
        WriteError::ProductNotFound(id) => {
            ApiError::not_found("product_not_found", format!("no product {id:?}"))
        }
        WriteError::VersionMismatch { current } => ApiError::new(
            StatusCode::PRECONDITION_FAILED,
            "version_mismatch",
            format!("If-Match does not match the product's version ({current})"),
        ),
        WriteError::InsufficientStock(short) => ApiError::insufficient_stock(short),
        WriteError::UnknownProducts(ids) => ApiError::unknown_ids(
            "unknown_products",
            format!("no such products: {}", ids.join(", ")),
            ids,
        ),
        WriteError::StockOverflow { product_id } => ApiError::conflict(
            "stock_limit",
            format!(
                "stock of {product_id:?} would exceed {}",
                contracts::catalog::MAX_STOCK
            ),
        ),
        WriteError::ReservationMismatch(id) => ApiError::conflict(
            "reservation_conflict",
            format!("reservation {id:?} already exists with different items"),
        ),
        WriteError::ReservationNotFound(id) => {
            ApiError::not_found("reservation_not_found", format!("no reservation {id:?}"))
        }
        WriteError::Store(s) => ApiError::internal("writing the store", &s),
    }
}
