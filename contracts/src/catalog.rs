//! catalog-node's wire types: products, batch reads, reservations and the change feed.

use serde::{Deserialize, Serialize};

use crate::validate::{self, ValidationError};

/// Most ids one batch read may name (`GET /v1/products?ids=` or `POST /v1/products:batchGet`).
pub const MAX_BATCH_IDS: usize = 1000;
/// Default page size of `GET /v1/products?after=`.
pub const DEFAULT_PAGE_LIMIT: usize = 100;
/// Largest page of `GET /v1/products?after=`.
pub const MAX_PAGE_LIMIT: usize = 1000;
/// Default number of events per `GET /v1/events` answer.
pub const DEFAULT_EVENTS_LIMIT: usize = 500;
/// Most events per `GET /v1/events` answer.
pub const MAX_EVENTS_LIMIT: usize = 5000;
/// Longest long-poll of `GET /v1/events`, in milliseconds.
pub const MAX_WAIT_MS: u64 = 30_000;
/// Longest wait of a product read for its `min_seq`, in milliseconds.
pub const MAX_READ_WAIT_MS: u64 = 10_000;
/// Wait of a product read for its `min_seq` when `wait_ms` is not given, in milliseconds.
pub const DEFAULT_READ_WAIT_MS: u64 = 2_000;
/// Largest quantity of one reservation item.
pub const MAX_QTY: u32 = 10_000;
/// Most items in one reservation.
pub const MAX_RESERVATION_ITEMS: usize = 1000;
/// Largest stock of one product.
pub const MAX_STOCK: u64 = 1_000_000_000;
/// Largest price, in minor units (ten billion in major units: far above any real price, far
/// below the 2^53 that JavaScript clients can represent exactly).
pub const MAX_PRICE_MINOR: u64 = 1_000_000_000_000;
/// Longest product name, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest product description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 5000;

/// A product as the catalog serves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    /// The product id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Free-text description.
    pub description: String,
    /// Category slug.
    pub category: String,
    /// Unit price in minor units of `currency`.
    pub price_minor: u64,
    /// ISO 4217 currency code.
    pub currency: String,
    /// Units available (on hand minus reserved).
    pub stock: u64,
    /// Incremented by every change; the value to send in `If-Match`.
    pub version: u64,
    /// Change-feed sequence number of the last change to this product.
    pub updated_seq: u64,
    /// RFC 3339 time of the last change.
    pub updated_at: String,
}

/// Body of `PUT /v1/products/{id}`: the whole product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductInput {
    /// Display name, 1 to 200 characters.
    pub name: String,
    /// Description, up to 5000 characters.
    #[serde(default)]
    pub description: String,
    /// Category slug.
    pub category: String,
    /// Unit price in minor units.
    pub price_minor: u64,
    /// ISO 4217 currency code.
    pub currency: String,
    /// Units in stock.
    pub stock: u64,
}

impl ProductInput {
    /// Checks every field against the documented limits.
    pub fn validate(&self) -> Result<(), ValidationError> {
        validate::text("name", &self.name, 1, MAX_NAME_CHARS)?;
        validate::text("description", &self.description, 0, MAX_DESCRIPTION_CHARS)?;
        validate::category("category", &self.category)?;
        validate::range("price_minor", self.price_minor, 0, MAX_PRICE_MINOR)?;
        validate::currency("currency", &self.currency)?;
        validate::range("stock", self.stock, 0, MAX_STOCK)
    }
}

/// Body of `PATCH /v1/products/{id}`: the fields to change, all optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductPatch {
    /// New display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// New category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// New unit price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_minor: Option<u64>,
    /// New currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// New stock level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stock: Option<u64>,
}

impl ProductPatch {
    /// Checks the fields present; an empty patch is an error.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if *self == Self::default() {
            return Err(ValidationError::new("body", "names no field to change"));
        }
        if let Some(name) = &self.name {
            validate::text("name", name, 1, MAX_NAME_CHARS)?;
        }
        if let Some(description) = &self.description {
            validate::text("description", description, 0, MAX_DESCRIPTION_CHARS)?;
        }
        if let Some(category) = &self.category {
            validate::category("category", category)?;
        }
        if let Some(price) = self.price_minor {
            validate::range("price_minor", price, 0, MAX_PRICE_MINOR)?;
        }
        if let Some(currency) = &self.currency {
            validate::currency("currency", currency)?;
        }
        if let Some(stock) = self.stock {
            validate::range("stock", stock, 0, MAX_STOCK)?;
        }
        Ok(())
    }
}

/// Body of `POST /v1/products:batchGet`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchGetRequest {
    /// Ids to read, at most [`MAX_BATCH_IDS`]; duplicates are answered once.
    pub ids: Vec<String>,
}

/// Answer of a batch read: found products in request order, then the ids not found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchGetResponse {
    /// Products found, in the order their ids were first named.
    pub products: Vec<Product>,
    /// Ids with no product, in request order.
    pub missing: Vec<String>,
}

/// One page of `GET /v1/products?after=ID&limit=N`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductPage {
    /// Products in id order.
    pub products: Vec<Product>,
    /// Pass as `after` to get the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_after: Option<String>,
    /// Feed sequence number read before this page: the page reflects at least every change up
    /// to it, so a consumer that snapshots from the first page follows the feed from here.
    pub head_seq: u64,
}

/// Body of `PATCH /v1/products/{id}/stock`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StockChange {
    /// Units to add (positive) or remove (negative); never zero.
    pub delta: i64,
}

/// Body of `POST /v1/reservations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReservationRequest {
    /// Caller-chosen id that makes the request idempotent (the order id, for orders).
    pub id: String,
    /// Items to hold, each product at most once.
    pub items: Vec<ReservationItem>,
}

impl ReservationRequest {
    /// Checks ids, quantities and that no product appears twice.
    pub fn validate(&self) -> Result<(), ValidationError> {
        validate::id("id", &self.id)?;
        if self.items.is_empty() || self.items.len() > MAX_RESERVATION_ITEMS {
            return Err(ValidationError::new(
                "items",
                format!("must hold 1 to {MAX_RESERVATION_ITEMS} items"),
            ));
        }
        let mut seen = std::collections::HashSet::with_capacity(self.items.len());
        for (i, item) in self.items.iter().enumerate() {
            validate::id(&format!("items[{i}].product_id"), &item.product_id)?;
            validate::range(&format!("items[{i}].qty"), item.qty, 1, MAX_QTY)?;
            if !seen.insert(item.product_id.as_str()) {
                return Err(ValidationError::new(
                    format!("items[{i}].product_id"),
                    "names a product already listed; merge the quantities",
                ));
            }
        }
        Ok(())
    }
}

/// A quantity of one product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReservationItem {
    /// The product.
    pub product_id: String,
    /// Units, 1 to [`MAX_QTY`].
    pub qty: u32,
}

/// Whether a reservation still holds its stock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReservationStatus {
    /// The stock is held.
    Held,
    /// The stock went back; a released reservation never holds again.
    Released,
}

/// A reservation as the catalog serves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservation {
    /// The caller's id.
    pub id: String,
    /// Held or released.
    pub status: ReservationStatus,
    /// The items, as requested.
    pub items: Vec<ReservationItem>,
    /// RFC 3339 time the stock was first held.
    pub created_at: String,
    /// RFC 3339 time of the release, once released.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub released_at: Option<String>,
}

/// What changed a product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// Created, replaced or patched.
    Upsert,
    /// Stock changed (seed change, reservation or release).
    Stock,
    /// Deleted.
    Delete,
}

/// One entry of the change feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeEvent {
    /// Position in the feed; strictly increasing, with gaps where older events were compacted.
    pub seq: u64,
    /// The product that changed.
    pub product_id: String,
    /// The kind of change.
    pub kind: EventKind,
    /// The product's state after the change; `null` for a delete.
    pub product: Option<Product>,
    /// The caller that made the change (its name in the catalog's callers file); absent for
    /// changes recorded before the catalog kept it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller: Option<String>,
}

/// Answer of `GET /v1/events`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventsPage {
    /// Events after the requested `after`, in `seq` order.
    pub events: Vec<ChangeEvent>,
    /// Pass as `after` next time (the last event's seq, or the request's `after`).
    pub next_after: u64,
    /// Highest durable seq of the feed when answered.
    pub head_seq: u64,
}

/// One line of a catalogue file: a product with its id.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogueLine {
    id: String,
    name: String,
    #[serde(default)]
    description: String,
    category: String,
    price_minor: u64,
    currency: String,
    stock: u64,
}

/// The first line of a catalogue file that cannot be taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct CatalogueError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

/// Every product of a catalogue file (JSON Lines, one product with its `id` a line, the
/// format of `catalog-node import` and `stack up --demo-catalogue`), each checked as a PUT
/// would be, no id twice; blank lines are skipped.
pub fn parse_catalogue(text: &str) -> Result<Vec<(String, ProductInput)>, CatalogueError> {
    let mut products = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let invalid = |message: String| CatalogueError {
            line: n + 1,
            message,
        };
        let parsed: CatalogueLine =
            serde_json::from_str(line).map_err(|e| invalid(e.to_string()))?;
        validate::id("id", &parsed.id).map_err(|e| invalid(e.to_string()))?;
        let input = ProductInput {
            name: parsed.name,
            description: parsed.description,
            category: parsed.category,
            price_minor: parsed.price_minor,
            currency: parsed.currency,
            stock: parsed.stock,
        };
        input.validate().map_err(|e| invalid(e.to_string()))?;
        if !seen.insert(parsed.id.clone()) {
            return Err(invalid(format!("id {:?} appears twice", parsed.id)));
        }
        products.push((parsed.id, input));
    }
    Ok(products)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> ProductInput {
        ProductInput {
            name: "Skillet".into(),
            description: String::new(),
            category: "kitchen".into(),
            price_minor: 1999,
            currency: "EUR".into(),
            stock: 3,
        }
    }

    #[test]
    fn product_input_limits() {
        assert!(input().validate().is_ok());
        let mut p = input();
        p.price_minor = MAX_PRICE_MINOR + 1;
        assert_eq!(p.validate().unwrap_err().field, "price_minor");
        let mut p = input();
        p.stock = MAX_STOCK + 1;
        assert_eq!(p.validate().unwrap_err().field, "stock");
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let err = serde_json::from_str::<ProductInput>(
            r#"{"name":"a","category":"c","price_minor":1,"currency":"EUR","stock":1,"x":1}"#,
        );
        assert!(err.is_err());
    }

    #[test]
    fn reservation_rules() {
        let ok = ReservationRequest {
            id: "o-1".into(),
            items: vec![ReservationItem {
                product_id: "p".into(),
                qty: 1,
            }],
        };
        assert!(ok.validate().is_ok());
        let mut dup = ok.clone();
        dup.items.push(dup.items[0].clone());
        assert!(dup.validate().is_err());
        let mut zero = ok.clone();
        zero.items[0].qty = 0;
        assert!(zero.validate().is_err());
        let mut big = ok;
        big.items[0].qty = MAX_QTY + 1;
        assert!(big.validate().is_err());
    }

    #[test]
    fn empty_patch_is_refused() {
        assert!(ProductPatch::default().validate().is_err());
        let p = ProductPatch {
            stock: Some(2),
            ..Default::default()
        };
        assert!(p.validate().is_ok());
    }
}
