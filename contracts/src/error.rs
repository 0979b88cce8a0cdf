//! The error body every node answers with: `{"error": {"code": "...", "message": "..."}}`,
//! and [`Code`], the one list of the codes it may carry.
//!
//! Each code has one HTTP status (a plain `u16`: this crate knows no HTTP library, so that it
//! builds for WebAssembly). Servers build their errors from a [`Code`] and take the status from
//! it; clients parse the code of an answer into a [`Code`] and branch on that, never on text.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

/// Declares [`Code`] from one table of variant, wire text and status, so that the three can
/// never drift apart.
macro_rules! codes {
    ($( $(#[$doc:meta])* $variant:ident = $text:literal => $status:literal, )*) => {
        /// A machine-readable error code: the `code` of an error body.
        ///
        /// Serialised as its snake_case wire text ([`Code::as_str`]). A code this build does
        /// not know (an answer from a newer service, say) deserialises to
        /// [`Code::Unrecognised`] instead of failing, so a client reading another service's
        /// error never stumbles over a code added after it was built.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $( $(#[$doc])* $variant, )*
            /// A code this build does not know, read from another service's answer. No part
            /// of this system answers with it.
            Unrecognised,
        }

        impl Code {
            /// Every code the system answers with (all but [`Code::Unrecognised`]).
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            /// The wire text, e.g. `"insufficient_stock"`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $text,)*
                    Code::Unrecognised => "unrecognised",
                }
            }

            /// The HTTP status every answer with this code has.
            pub const fn status(self) -> u16 {
                match self {
                    $(Code::$variant => $status,)*
                    // Only ever read from an upstream: relayed, it is the upstream's fault.
                    Code::Unrecognised => 502,
                }
            }
        }

        impl FromStr for Code {
            type Err = UnknownCode;

            /// The code with this wire text; text naming no code is an error (see
            /// [`Code::parse`] for the lenient form).
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                match text {
                    $($text => Ok(Code::$variant),)*
                    _ => Err(UnknownCode(text.to_owned())),
                }
            }
        }
    };
}

codes! {
    /// A value breaks a documented rule; `field` names it.
    InvalidInput = "invalid_input" => 400,
    /// The body is not JSON of the right shape.
    InvalidJson = "invalid_json" => 400,
    /// The query string does not fit the route.
    InvalidQuery = "invalid_query" => 400,
    /// A path parameter does not fit the route.
    InvalidPath = "invalid_path" => 400,
    /// `If-Match` is neither `*` nor a version.
    InvalidIfMatch = "invalid_if_match" => 400,
    /// A batch names more ids than allowed.
    BatchTooLarge = "batch_too_large" => 400,
    /// A search query that the query parser refuses.
    InvalidQuerySyntax = "invalid_query_syntax" => 400,
    /// The request body could not be read (edge-host).
    InvalidBody = "invalid_body" => 400,
    /// No or unknown credentials.
    Unauthorized = "unauthorized" => 401,
    /// An end user's token that does not verify (the composer).
    InvalidToken = "invalid_token" => 401,
    /// A known caller without the needed scope, or acting for someone else.
    Forbidden = "forbidden" => 403,
    /// No such route.
    RouteNotFound = "route_not_found" => 404,
    /// No such product.
    ProductNotFound = "product_not_found" => 404,
    /// No such reservation.
    ReservationNotFound = "reservation_not_found" => 404,
    /// No such order (or not one the end user may see).
    OrderNotFound = "order_not_found" => 404,
    /// A customer page the end user may not see.
    CustomerNotFound = "customer_not_found" => 404,
    /// A known path with another method.
    MethodNotAllowed = "method_not_allowed" => 405,
    /// Stock cannot cover a request; `short_items` names each short item.
    InsufficientStock = "insufficient_stock" => 409,
    /// A reservation id reused with other items.
    ReservationConflict = "reservation_conflict" => 409,
    /// A stock change would pass the maximum.
    StockLimit = "stock_limit" => 409,
    /// An order in a status that cannot be cancelled.
    OrderNotCancellable = "order_not_cancellable" => 409,
    /// An order rejected for a reason other than stock or unknown products.
    OrderRejected = "order_rejected" => 409,
    /// A backup was asked for while another one runs.
    BackupInProgress = "backup_in_progress" => 409,
    /// A feed cursor older than the retained history.
    CursorExpired = "cursor_expired" => 410,
    /// `If-Match` names another version.
    VersionMismatch = "version_mismatch" => 412,
    /// A body over the limit.
    PayloadTooLarge = "payload_too_large" => 413,
    /// A body that is not declared as JSON.
    UnsupportedMediaType = "unsupported_media_type" => 415,
    /// Products named that do not exist; `missing_ids` lists them.
    UnknownProducts = "unknown_products" => 422,
    /// An order of products priced in different currencies.
    MixedCurrencies = "mixed_currencies" => 422,
    /// An order total that does not fit the money type.
    TotalTooLarge = "total_too_large" => 422,
    /// An `Idempotency-Key` used before with another request.
    IdempotencyKeyReused = "idempotency_key_reused" => 422,
    /// A write, reservation or feed read sent to a catalog read replica; the message names
    /// the primary.
    ReadOnlyReplica = "read_only_replica" => 421,
    /// A `PATCH` without `If-Match`.
    PreconditionRequired = "precondition_required" => 428,
    /// A failure inside the server; the message stays generic.
    Internal = "internal" => 500,
    /// The composer lacks or cannot read a setting.
    Misconfigured = "misconfigured" => 500,
    /// The catalog answered order-node unexpectedly.
    CatalogError = "catalog_error" => 502,
    /// A change that may not be durable.
    StorageUnavailable = "storage_unavailable" => 503,
    /// A backup that could not be staged.
    BackupFailed = "backup_failed" => 503,
    /// The catalog could not be reached (order-node).
    CatalogUnavailable = "catalog_unavailable" => 503,
    /// A read's `min_seq` was not applied within its `wait_ms` (a lagging catalog replica).
    NotCaughtUp = "not_caught_up" => 503,
    /// The search index is not built yet.
    IndexNotReady = "index_not_ready" => 503,
    /// Over a limit of the server; retry shortly.
    Overloaded = "overloaded" => 503,
    /// Not answered within the request's time limit.
    RequestTimeout = "request_timeout" => 503,
    /// order-node could not be reached (the composer).
    OrdersUnavailable = "orders_unavailable" => 503,
    /// search-node could not be reached (the composer).
    SearchUnavailable = "search_unavailable" => 503,
    /// A composer instance needed more memory than allowed (edge-host).
    MemoryLimit = "memory_limit" => 503,
    /// The composer failed before answering (edge-host).
    ComposerFailed = "composer_failed" => 503,
    /// The composer did not finish within the deadline (edge-host).
    DeadlineExceeded = "deadline_exceeded" => 504,
}

impl Code {
    /// The code with this wire text, or [`Code::Unrecognised`] for text naming none: what a
    /// client reading another service's answer wants.
    pub fn parse(text: &str) -> Self {
        text.parse().unwrap_or(Self::Unrecognised)
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Text that names no [`Code`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown error code {0:?}")]
pub struct UnknownCode(pub String);

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CodeText;
        impl Visitor<'_> for CodeText {
            type Value = Code;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an error code")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Code, E> {
                Ok(Code::parse(text))
            }
        }
        deserializer.deserialize_str(CodeText)
    }
}

/// The JSON body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error itself.
    pub error: ErrorDetail,
}

/// A machine-readable code, a human message, and the details some codes carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable code that clients branch on (e.g. `insufficient_stock`).
    pub code: Code,
    /// Human-readable explanation; wording may change.
    pub message: String,
    /// The request field at fault, for validation errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Ids named by the request that do not exist (422).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_ids: Vec<String>,
    /// Items that could not be served from stock (409 `insufficient_stock`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub short_items: Vec<ShortItem>,
}

impl ErrorDetail {
    /// An error with `code` and `message` and no details.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            field: None,
            missing_ids: Vec::new(),
            short_items: Vec::new(),
        }
    }
}

/// One line of a stock request that the stock cannot cover.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShortItem {
    /// The product that is short.
    pub product_id: String,
    /// Units the request asked for.
    pub requested: u64,
    /// Units available when the request was evaluated.
    pub available: u64,
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn every_code_round_trips_through_its_text() {
        for &code in Code::ALL {
            assert_eq!(code.as_str().parse::<Code>(), Ok(code));
            assert_eq!(Code::parse(code.as_str()), code);
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(serde_json::from_str::<Code>(&json).unwrap(), code);
        }
        let texts: HashSet<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(texts.len(), Code::ALL.len(), "two codes share a text");
        assert!(!Code::ALL.contains(&Code::Unrecognised));
    }

    #[test]
    fn codes_are_snake_case_and_statuses_are_errors() {
        for &code in Code::ALL {
            let text = code.as_str();
            assert!(
                !text.is_empty()
                    && text.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                    && !text.starts_with('_')
                    && !text.ends_with('_'),
                "{text}"
            );
            assert!((400..600).contains(&code.status()), "{text}");
        }
    }

    #[test]
    fn an_unknown_code_is_unrecognised_not_a_failure() {
        assert_eq!(
            "teapot_overflow".parse::<Code>(),
            Err(UnknownCode("teapot_overflow".into()))
        );
        assert_eq!(Code::parse("teapot_overflow"), Code::Unrecognised);
        assert_eq!(Code::parse(""), Code::Unrecognised);
        let body: ErrorBody = serde_json::from_str(
            r#"{"error": {"code": "added_later", "message": "m", "extra": 1}}"#,
        )
        .unwrap();
        assert_eq!(body.error.code, Code::Unrecognised);
        // Not a string: a malformed body, refused as such.
        assert!(
            serde_json::from_str::<ErrorBody>(r#"{"error": {"code": 7, "message": "m"}}"#).is_err()
        );
    }

    #[test]
    fn the_body_is_the_documented_shape() {
        let mut detail = ErrorDetail::new(Code::InsufficientStock, "not enough stock for: a");
        detail.short_items.push(ShortItem {
            product_id: "a".into(),
            requested: 3,
            available: 1,
        });
        let json = serde_json::to_string(&ErrorBody { error: detail }).unwrap();
        assert_eq!(
            json,
            r#"{"error":{"code":"insufficient_stock","message":"not enough stock for: a","short_items":[{"product_id":"a","requested":3,"available":1}]}}"#
        );
    }
}
