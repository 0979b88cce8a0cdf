//! Maps the service's outcomes to API errors: the one place order-node's refusals and
//! rejections become codes and statuses.

use chassis::ApiError;
use contracts::Code;

use crate::catalog::CatalogError;
use crate::service::{Rejection, ServiceError};

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::UnknownProducts(ids) => unknown_products(ids),
            ServiceError::MixedCurrencies(which) => ApiError::new(
                Code::MixedCurrencies,
                format!("an order is priced in one currency; these products use {which}"),
            ),
            ServiceError::TotalTooLarge => ApiError::new(
                Code::TotalTooLarge,
                "the order total does not fit in the money type",
            ),
            ServiceError::KeyReused => ApiError::new(
                Code::IdempotencyKeyReused,
                "this Idempotency-Key was already used with a different request body",
            ),
            ServiceError::Catalog(CatalogError::Unavailable(why)) => ApiError::new(
                Code::CatalogUnavailable,
                format!("the catalog cannot be reached, nothing was stored: {why}"),
            ),
            ServiceError::Catalog(e @ CatalogError::Unexpected { .. }) => ApiError::new(
                Code::CatalogError,
                format!("the catalog answered unexpectedly, nothing was stored: {e}"),
            ),
            ServiceError::NotFound(id) => order_not_found(&id),
            ServiceError::NotCancellable(status) => ApiError::new(
                Code::OrderNotCancellable,
                format!("the order is {status:?} and cannot be cancelled"),
            ),
            ServiceError::Store(e) => {
                ApiError::new(Code::StorageUnavailable, format!("storage failed: {e}"))
            }
            ServiceError::Backup(e) => {
                ApiError::new(Code::BackupFailed, format!("the backup failed: {e}"))
            }
            ServiceError::Task(e) => ApiError::internal("running a task", &e),
        }
    }
}

/// The answer to a rejected order, first given or replayed: a retry with the same
/// `Idempotency-Key` gets the same bytes, since both are built here from the same outcome.
impl From<Rejection> for ApiError {
    fn from(r: Rejection) -> Self {
        match r {
            Rejection::InsufficientStock(short) => ApiError::insufficient_stock(short),
            Rejection::UnknownProducts(ids) => unknown_products(ids),
            Rejection::ReservationReleased => {
                ApiError::new(Code::OrderRejected, "the reservation was already released")
            }
            Rejection::Settled(reason) => ApiError::new(
                Code::OrderRejected,
                format!("the order was rejected: {reason}"),
            ),
        }
    }
}

fn unknown_products(ids: Vec<String>) -> ApiError {
    ApiError::unknown_ids(
        Code::UnknownProducts,
        format!("no such products: {}", ids.join(", ")),
        ids,
    )
}

/// 404 `order_not_found`.
pub fn order_not_found(id: &str) -> ApiError {
    ApiError::new(Code::OrderNotFound, format!("no order {id:?}"))
}

#[cfg(test)]
mod tests {
    use contracts::ShortItem;
    use contracts::orders::OrderStatus;

    use super::*;

    fn short() -> Vec<ShortItem> {
        vec![ShortItem {
            product_id: "a".into(),
            requested: 5,
            available: 2,
        }]
    }

    /// The error bodies answered (and kept by store layout v1) for each kind of rejection,
    /// as the builds before the domain outcomes made them.
    fn v1_bodies() -> Vec<(u16, &'static str, Rejection)> {
        vec![
            (
                409,
                r#"{"error":{"code":"insufficient_stock","message":"not enough stock for: a","short_items":[{"product_id":"a","requested":5,"available":2}]}}"#,
                Rejection::InsufficientStock(short()),
            ),
            (
                422,
                r#"{"error":{"code":"unknown_products","message":"no such products: x, y","missing_ids":["x","y"]}}"#,
                Rejection::UnknownProducts(vec!["x".into(), "y".into()]),
            ),
            (
                409,
                r#"{"error":{"code":"order_rejected","message":"the reservation was already released"}}"#,
                Rejection::ReservationReleased,
            ),
            (
                409,
                r#"{"error":{"code":"order_rejected","message":"the order was rejected: the catalog did not confirm the reservation in time"}}"#,
                Rejection::Settled("the catalog did not confirm the reservation in time".into()),
            ),
        ]
    }

    #[test]
    fn a_rejection_answers_as_it_always_did() {
        for (status, body, rejection) in v1_bodies() {
            let error = ApiError::from(rejection);
            assert_eq!(error.status().as_u16(), status, "{body}");
            assert_eq!(String::from_utf8(error.body_bytes()).unwrap(), body);
        }
    }

    #[test]
    fn service_errors_keep_their_codes_and_statuses() {
        let cases = [
            (
                ServiceError::UnknownProducts(vec!["x".into()]),
                422,
                "unknown_products",
            ),
            (
                ServiceError::MixedCurrencies("EUR and USD".into()),
                422,
                "mixed_currencies",
            ),
            (ServiceError::TotalTooLarge, 422, "total_too_large"),
            (ServiceError::KeyReused, 422, "idempotency_key_reused"),
            (
                ServiceError::Catalog(CatalogError::Unavailable("down".into())),
                503,
                "catalog_unavailable",
            ),
            (
                ServiceError::Catalog(CatalogError::Unexpected {
                    status: 401,
                    body: String::new(),
                }),
                502,
                "catalog_error",
            ),
            (ServiceError::NotFound("o".into()), 404, "order_not_found"),
            (
                ServiceError::NotCancellable(OrderStatus::Pending),
                409,
                "order_not_cancellable",
            ),
        ];
        for (error, status, code) in cases {
            let error = ApiError::from(error);
            assert_eq!(
                (error.status().as_u16(), error.code().as_str()),
                (status, code)
            );
        }
        let not_cancellable = ApiError::from(ServiceError::NotCancellable(OrderStatus::Rejected));
        assert_eq!(
            not_cancellable.detail().message,
            "the order is Rejected and cannot be cancelled"
        );
    }
}
