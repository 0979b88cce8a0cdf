//! order-node's wire types: orders, their lines, pages and batch reads.

use serde::{Deserialize, Serialize};

use crate::catalog::MAX_QTY;
use crate::validate::{self, ValidationError};

/// Most distinct products in one order (one catalog batch read covers them all).
pub const MAX_ORDER_LINES: usize = crate::catalog::MAX_BATCH_IDS;
/// Most orders one `GET /v1/orders?ids=` names.
pub const MAX_ORDER_BATCH: usize = 1000;
/// Default page size of `GET /v1/orders?customer_id=`.
pub const DEFAULT_ORDER_PAGE: usize = 20;
/// Largest page of `GET /v1/orders?customer_id=`.
pub const MAX_ORDER_PAGE: usize = 200;
/// Longest `Idempotency-Key`, in bytes.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 128;

/// Body of `POST /v1/orders`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateOrder {
    /// The customer placing the order.
    pub customer_id: String,
    /// What to buy; a product named twice is merged into one line.
    pub items: Vec<OrderItem>,
}

/// A product and a quantity, as requested.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderItem {
    /// The product.
    pub product_id: String,
    /// Units, 1 to [`MAX_QTY`].
    pub qty: u32,
}

impl CreateOrder {
    /// Checks the request and merges repeated products (first appearance keeps its place).
    pub fn validated_items(&self) -> Result<Vec<OrderItem>, ValidationError> {
        validate::id("customer_id", &self.customer_id)?;
        if self.items.is_empty() {
            return Err(ValidationError::new(
                "items",
                "must name at least one product",
            ));
        }
        let mut merged: Vec<OrderItem> = Vec::new();
        // Where each product's line is in `merged`: a linear search per item would make a
        // body of many repeated items cost quadratic time before any count is checked.
        let mut lines: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
        for (i, item) in self.items.iter().enumerate() {
            validate::id(&format!("items[{i}].product_id"), &item.product_id)?;
            validate::range(&format!("items[{i}].qty"), item.qty, 1, MAX_QTY)?;
            match lines
                .get(item.product_id.as_str())
                .and_then(|&at| merged.get_mut(at))
            {
                Some(line) => {
                    line.qty = line.qty.saturating_add(item.qty);
                    validate::range(&format!("items[{i}].qty"), line.qty, 1, MAX_QTY).map_err(
                        |_| {
                            ValidationError::new(
                                format!("items[{i}].qty"),
                                format!(
                                    "the merged quantity of {} exceeds {MAX_QTY}",
                                    item.product_id
                                ),
                            )
                        },
                    )?;
                }
                None => {
                    if merged.len() == MAX_ORDER_LINES {
                        return Err(ValidationError::new(
                            "items",
                            format!("at most {MAX_ORDER_LINES} distinct products per order"),
                        ));
                    }
                    lines.insert(item.product_id.as_str(), merged.len());
                    merged.push(item.clone());
                }
            }
        }
        Ok(merged)
    }
}

/// Where an order is in its saga.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Recorded; its stock is being reserved.
    Pending,
    /// Stock held: the order stands.
    Confirmed,
    /// The catalog refused (unknown products or stock); nothing is held.
    Rejected,
    /// Cancel requested; its stock is being released.
    Cancelling,
    /// Cancelled; its stock went back.
    Cancelled,
}

impl OrderStatus {
    /// Whether the saga is over for this order.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Confirmed | Self::Rejected | Self::Cancelled)
    }
}

/// One line of an order, with the product's name and price copied at order time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    /// The product.
    pub product_id: String,
    /// The product's name when the order was placed.
    pub name: String,
    /// The product's unit price when the order was placed, in minor units.
    pub unit_price_minor: u64,
    /// Units.
    pub qty: u32,
    /// `unit_price_minor * qty`.
    pub line_total_minor: u64,
}

/// An order as order-node serves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// The order id (assigned by order-node).
    pub id: String,
    /// The customer.
    pub customer_id: String,
    /// Saga status.
    pub status: OrderStatus,
    /// Why the order was rejected, when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    /// The lines, one per product.
    pub lines: Vec<OrderLine>,
    /// Sum of the line totals, in minor units.
    pub total_minor: u64,
    /// The one currency of every line.
    pub currency: String,
    /// RFC 3339 time the order was placed.
    pub created_at: String,
    /// RFC 3339 time of the last status change.
    pub updated_at: String,
}

/// A page of a customer's orders, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderPage {
    /// The orders.
    pub orders: Vec<Order>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Answer of `GET /v1/orders?ids=`: found orders in request order, then the missing ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderBatch {
    /// Orders found.
    pub orders: Vec<Order>,
    /// Ids with no order.
    pub missing: Vec<String>,
}

/// Checks an `Idempotency-Key`: 1 to 128 visible ASCII characters.
pub fn validate_idempotency_key(key: &str) -> Result<(), ValidationError> {
    if key.is_empty()
        || key.len() > MAX_IDEMPOTENCY_KEY_LEN
        || !key.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(ValidationError::new(
            "Idempotency-Key",
            format!("must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} visible ASCII characters"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(p: &str, qty: u32) -> OrderItem {
        OrderItem {
            product_id: p.into(),
            qty,
        }
    }

    #[test]
    fn repeated_products_are_merged_in_first_order() {
        let req = CreateOrder {
            customer_id: "c1".into(),
            items: vec![item("a", 1), item("b", 2), item("a", 3)],
        };
        assert_eq!(
            req.validated_items().unwrap(),
            vec![item("a", 4), item("b", 2)]
        );
    }

    #[test]
    fn merged_quantities_stay_within_limits() {
        let req = CreateOrder {
            customer_id: "c1".into(),
            items: vec![item("a", MAX_QTY), item("a", 1)],
        };
        assert!(req.validated_items().is_err());
        let empty = CreateOrder {
            customer_id: "c1".into(),
            items: vec![],
        };
        assert!(empty.validated_items().is_err());
    }

    #[test]
    fn idempotency_keys() {
        assert!(validate_idempotency_key("abc-123_XYZ.:/").is_ok());
        assert!(validate_idempotency_key("").is_err());
        assert!(validate_idempotency_key("has space").is_err());
        assert!(validate_idempotency_key(&"k".repeat(129)).is_err());
    }
}
