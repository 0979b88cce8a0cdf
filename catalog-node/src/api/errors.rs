//! Maps the service's outcomes to API errors: the one place the catalog's refusals become
//! codes and statuses.

use chassis::ApiError;
use contracts::Code;

use crate::service::{Refusal, ServiceError};

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Refused(r) => r.into(),
            ServiceError::CursorExpired { after, horizon } => ApiError::new(
                Code::CursorExpired,
                format!(
                    "cursor {after} is older than the feed's retention (horizon {horizon}); \
                     bootstrap from GET /v1/products?after= and follow the feed from its head_seq"
                ),
            ),
            ServiceError::Flush(f) => ApiError::new(
                Code::StorageUnavailable,
                format!("the change may not be durable: {f}"),
            ),
            ServiceError::ReadOnly { primary } => ApiError::new(
                Code::ReadOnlyReplica,
                format!(
                    "this catalog-node is a read replica of {primary}; send writes, \
                     reservations and feed reads to the primary"
                ),
            ),
            ServiceError::NotCaughtUp { asked: 0, .. } => ApiError::new(
                Code::NotCaughtUp,
                "this read replica is still loading its primary's products; read from the \
                 primary or another replica",
            ),
            ServiceError::NotCaughtUp { asked, applied } => ApiError::new(
                Code::NotCaughtUp,
                format!(
                    "change {asked} is not applied here yet (newest applied: {applied}); retry, \
                     or read from the primary"
                ),
            ),
            ServiceError::Store(s) => ApiError::internal("reading the store", &s),
            ServiceError::WriteFailed(s) => ApiError::internal("writing the store", &s),
            ServiceError::Task(t) => ApiError::internal("running a store task", &t),
            ServiceError::Backup(b) => {
                ApiError::new(Code::BackupFailed, format!("the backup failed: {b}"))
            }
        }
    }
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::ProductNotFound(id) => not_found(Code::ProductNotFound, "product", &id),
            Refusal::VersionMismatch { current } => ApiError::new(
                Code::VersionMismatch,
                format!("If-Match does not match the product's version ({current})"),
            ),
            Refusal::InsufficientStock(short) => ApiError::insufficient_stock(short),
            Refusal::UnknownProducts(ids) => ApiError::unknown_ids(
                Code::UnknownProducts,
                format!("no such products: {}", ids.join(", ")),
                ids,
            ),
            Refusal::StockOverflow { product_id } => ApiError::new(
                Code::StockLimit,
                format!(
                    "stock of {product_id:?} would exceed {}",
                    contracts::catalog::MAX_STOCK
                ),
            ),
            Refusal::ReservationMismatch(id) => ApiError::new(
                Code::ReservationConflict,
                format!("reservation {id:?} already exists with different items"),
            ),
            Refusal::ReservationNotFound(id) => {
                not_found(Code::ReservationNotFound, "reservation", &id)
            }
        }
    }
}

/// A 404 for the thing `what` named `id`; the handlers' own lookups answer the same way.
pub fn not_found(code: Code, what: &str, id: &str) -> ApiError {
    ApiError::new(code, format!("no {what} {id:?}"))
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;

    #[test]
    fn refusals_keep_their_codes_and_statuses() {
        let cases = [
            (
                Refusal::ProductNotFound("p".into()),
                StatusCode::NOT_FOUND,
                "product_not_found",
            ),
            (
                Refusal::VersionMismatch { current: 3 },
                StatusCode::PRECONDITION_FAILED,
                "version_mismatch",
            ),
            (
                Refusal::InsufficientStock(Vec::new()),
                StatusCode::CONFLICT,
                "insufficient_stock",
            ),
            (
                Refusal::UnknownProducts(vec!["x".into()]),
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_products",
            ),
            (
                Refusal::StockOverflow {
                    product_id: "p".into(),
                },
                StatusCode::CONFLICT,
                "stock_limit",
            ),
            (
                Refusal::ReservationMismatch("r".into()),
                StatusCode::CONFLICT,
                "reservation_conflict",
            ),
            (
                Refusal::ReservationNotFound("r".into()),
                StatusCode::NOT_FOUND,
                "reservation_not_found",
            ),
        ];
        for (refusal, status, code) in cases {
            let error = ApiError::from(refusal);
            assert_eq!((error.status(), error.code().as_str()), (status, code));
        }
        let expired = ApiError::from(ServiceError::CursorExpired {
            after: 1,
            horizon: 5,
        });
        assert_eq!(
            (expired.status(), expired.code()),
            (StatusCode::GONE, Code::CursorExpired)
        );
    }
}
