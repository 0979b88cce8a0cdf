//! The composer's routes, parsed and validated before anything is fetched.

use contracts::orders::{DEFAULT_ORDER_PAGE, MAX_ORDER_PAGE};
use contracts::validate::{self, ValidationError};
use contracts::{Code, ErrorBody};

/// What a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `GET /healthz`.
    Health,
    /// `GET /v1/order-views/{order_id}`.
    OrderView {
        /// The order.
        order_id: String,
    },
    /// `GET /v1/customers/{customer_id}/order-views?limit=N&cursor=C`.
    CustomerViews {
        /// The customer.
        customer_id: String,
        /// Page size.
        limit: usize,
        /// order-node's cursor, passed through.
        cursor: Option<String>,
    },
    /// `GET /v1/search?…`: the query string is passed to search-node as is (it validates).
    Search {
        /// The raw query string.
        query: String,
    },
    /// `POST /v1/orders`: forwarded to order-node with the composer's own credentials.
    CreateOrder,
    /// `POST /v1/orders/{order_id}/cancel`: forwarded to order-node's cancel route.
    CancelOrder {
        /// The order.
        order_id: String,
    },
}

impl Route {
    /// Whether the route needs an end user's token: everything about orders does; health,
    /// search and product browsing stay anonymous.
    pub fn needs_end_user(&self) -> bool {
        !matches!(self, Self::Health | Self::Search { .. })
    }
}

/// Why a request has no route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteError {
    /// No such path.
    NotFound,
    /// Known path, other method.
    MethodNotAllowed,
    /// Bad ids or parameters.
    Invalid(ValidationError),
}

impl From<ValidationError> for RouteError {
    fn from(e: ValidationError) -> Self {
        Self::Invalid(e)
    }
}

fn query_pairs(query: &str) -> impl Iterator<Item = (&str, &str)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
}

/// Maps a method, path and query string to a route.
pub fn route(method: &str, path: &str, query: &str) -> Result<Route, RouteError> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let get = || {
        if method == "GET" {
            Ok(())
        } else {
            Err(RouteError::MethodNotAllowed)
        }
    };
    match segments.as_slice() {
        ["healthz"] => get().map(|()| Route::Health),
        ["v1", "order-views", order_id] => {
            get()?;
            validate::id("order_id", order_id)?;
            Ok(Route::OrderView {
                order_id: (*order_id).to_owned(),
            })
        }
        ["v1", "customers", customer_id, "order-views"] => {
            get()?;
            validate::id("customer_id", customer_id)?;
            let mut limit = DEFAULT_ORDER_PAGE;
            let mut cursor = None;
            for (key, value) in query_pairs(query) {
                match key {
                    "limit" => {
                        limit = value
                            .parse()
                            .map_err(|_| ValidationError::new("limit", "must be a whole number"))?;
                        validate::range("limit", limit, 1, MAX_ORDER_PAGE)?;
                    }
                    "cursor" => {
                        if value.parse::<u64>().is_err() {
                            return Err(ValidationError::new(
                                "cursor",
                                "is not a cursor order-node gave out",
                            )
                            .into());
                        }
                        cursor = Some(value.to_owned());
                    }
                    other => {
                        return Err(ValidationError::new(
                            other,
                            "is not a parameter of this route",
                        )
                        .into());
                    }
                }
            }
            Ok(Route::CustomerViews {
                customer_id: (*customer_id).to_owned(),
                limit,
                cursor,
            })
        }
        ["v1", "search"] => get().map(|()| Route::Search {
            query: query.to_owned(),
        }),
        ["v1", "orders"] => {
            if method == "POST" {
                Ok(Route::CreateOrder)
            } else {
                Err(RouteError::MethodNotAllowed)
            }
        }
        ["v1", "orders", order_id, "cancel"] => {
            if method != "POST" {
                return Err(RouteError::MethodNotAllowed);
            }
            validate::id("order_id", order_id)?;
            Ok(Route::CancelOrder {
                order_id: (*order_id).to_owned(),
            })
        }
        _ => Err(RouteError::NotFound),
    }
}

/// Where an order that order-node placed at `/v1/orders/{id}` is read at the edge: its view.
/// order-node's `Location` names a route the composer does not serve.
pub fn edge_location(upstream: &str) -> Option<String> {
    upstream
        .strip_prefix("/v1/orders/")
        .filter(|id| !id.is_empty() && !id.contains('/'))
        .map(|id| format!("/v1/order-views/{id}"))
}

/// Whether an upstream's 404 says that the record asked for does not exist, read from the
/// code of its body. Any other 404 (`route_not_found` from an upstream URL pointing at the
/// wrong place, a body that is no error of ours) is a failure of the upstream, not an answer.
pub fn names_a_missing_record(error_body: &[u8]) -> bool {
    serde_json::from_slice::<ErrorBody>(error_body).is_ok_and(|body| {
        matches!(
            body.error.code,
            Code::OrderNotFound
                | Code::ProductNotFound
                | Code::ReservationNotFound
                | Code::CustomerNotFound
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_missing_record_is_not_found() {
        assert!(names_a_missing_record(
            br#"{"error": {"code": "order_not_found", "message": "no order \"x\""}}"#
        ));
        for other in [
            &br#"{"error": {"code": "route_not_found", "message": "no such route"}}"#[..],
            br#"{"error": {"code": "added_later", "message": "?"}}"#,
            b"<html>Not Found</html>",
            b"",
        ] {
            assert!(
                !names_a_missing_record(other),
                "{}",
                String::from_utf8_lossy(other)
            );
        }
    }

    #[test]
    fn order_nodes_location_becomes_the_edge_view() {
        assert_eq!(
            edge_location("/v1/orders/ord-1").as_deref(),
            Some("/v1/order-views/ord-1")
        );
        assert_eq!(edge_location("/v1/orders/"), None);
        assert_eq!(edge_location("/v1/orders/a/cancel"), None);
        assert_eq!(edge_location("/elsewhere"), None);
    }

    #[test]
    fn routes_and_validates() {
        assert_eq!(route("GET", "/healthz", ""), Ok(Route::Health));
        assert_eq!(
            route("GET", "/v1/order-views/ord-1", ""),
            Ok(Route::OrderView {
                order_id: "ord-1".into()
            })
        );
        assert_eq!(
            route(
                "GET",
                "/v1/customers/alice/order-views",
                "limit=5&cursor=42"
            ),
            Ok(Route::CustomerViews {
                customer_id: "alice".into(),
                limit: 5,
                cursor: Some("42".into())
            })
        );
        assert_eq!(
            route("GET", "/v1/search", "q=tent&limit=3"),
            Ok(Route::Search {
                query: "q=tent&limit=3".into()
            })
        );
        assert_eq!(route("POST", "/v1/orders", ""), Ok(Route::CreateOrder));
        assert_eq!(
            route("POST", "/v1/orders/ord-1/cancel", ""),
            Ok(Route::CancelOrder {
                order_id: "ord-1".into()
            })
        );
    }

    #[test]
    fn only_order_routes_need_an_end_user() {
        assert!(!Route::Health.needs_end_user());
        assert!(
            !Route::Search {
                query: String::new()
            }
            .needs_end_user()
        );
        assert!(Route::CreateOrder.needs_end_user());
        assert!(
            route("GET", "/v1/order-views/o", "")
                .unwrap()
                .needs_end_user()
        );
    }

    #[test]
    fn refuses_bad_requests() {
        assert!(matches!(
            route("GET", "/v1/order-views/bad%20id", ""),
            Err(RouteError::Invalid(_))
        ));
        assert!(matches!(
            route("GET", "/v1/customers/a/order-views", "limit=0"),
            Err(RouteError::Invalid(_))
        ));
        assert!(matches!(
            route("GET", "/v1/customers/a/order-views", "limit=x"),
            Err(RouteError::Invalid(_))
        ));
        assert!(matches!(
            route(
                "GET",
                "/v1/customers/a/order-views",
                "cursor=99999999999999999999999"
            ),
            Err(RouteError::Invalid(_))
        ));
        assert!(matches!(
            route("GET", "/v1/customers/a/order-views", "cursor=abc"),
            Err(RouteError::Invalid(_))
        ));
        assert!(matches!(
            route("GET", "/v1/customers/a/order-views", "x=1"),
            Err(RouteError::Invalid(_))
        ));
        assert_eq!(
            route("DELETE", "/v1/order-views/o", ""),
            Err(RouteError::MethodNotAllowed)
        );
        assert_eq!(
            route("GET", "/v1/orders", ""),
            Err(RouteError::MethodNotAllowed)
        );
        assert_eq!(route("GET", "/nope", ""), Err(RouteError::NotFound));
        assert_eq!(
            route("GET", "/v1/orders/o/cancel", ""),
            Err(RouteError::MethodNotAllowed)
        );
        assert!(matches!(
            route("POST", "/v1/orders/bad%20id/cancel", ""),
            Err(RouteError::Invalid(_))
        ));
    }
}
