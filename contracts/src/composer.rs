//! edge-composer's wire types: composed views that a shared database would have answered
//! with a JOIN.

use serde::{Deserialize, Serialize};

use crate::orders::OrderStatus;

/// A part of a composed answer that could not be filled in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewError {
    /// The upstream that failed: `catalog`, `orders` or `search`.
    pub part: String,
    /// What went wrong.
    pub message: String,
}

/// A product's current state, live from the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveProduct {
    /// Current name.
    pub name: String,
    /// Current unit price, minor units.
    pub price_minor: u64,
    /// Currency of the price.
    pub currency: String,
    /// Units available now.
    pub stock: u64,
    /// Whether any stock is available.
    pub available: bool,
}

/// One line of an order view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineView {
    /// The product.
    pub product_id: String,
    /// Units ordered.
    pub qty: u32,
    /// Name copied at order time.
    pub name: String,
    /// Unit price copied at order time.
    pub unit_price_minor: u64,
    /// `unit_price_minor * qty`.
    pub line_total_minor: u64,
    /// The product now; `null` when the catalog no longer has it or could not be asked.
    pub product: Option<LiveProduct>,
}

/// An order with the current state of its products.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderView {
    /// The order id.
    pub order_id: String,
    /// The customer.
    pub customer_id: String,
    /// Saga status.
    pub status: OrderStatus,
    /// The order's currency.
    pub currency: String,
    /// Total at order time, minor units.
    pub total_minor: u64,
    /// When the order was placed.
    pub created_at: String,
    /// The lines.
    pub lines: Vec<LineView>,
    /// Whether some live data is missing.
    pub degraded: bool,
    /// What is missing and why.
    pub errors: Vec<ViewError>,
}

/// A page of a customer's orders, composed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerViews {
    /// The views, newest first.
    pub views: Vec<OrderView>,
    /// Cursor of the next page, as order-node gave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// Whether some live data is missing.
    pub degraded: bool,
    /// What is missing and why.
    pub errors: Vec<ViewError>,
}

/// A search hit with the product's live price and stock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HitView {
    /// The product.
    pub product_id: String,
    /// Relevance.
    pub score: f32,
    /// Name (live when the catalog answered, else as indexed).
    pub name: String,
    /// Category.
    pub category: String,
    /// Live unit price; `null` when unknown.
    pub price_minor: Option<u64>,
    /// Currency of the price; `null` when unknown.
    pub currency: Option<String>,
    /// Live stock; `null` when unknown.
    pub stock: Option<u64>,
}

/// Search hits, hydrated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchView {
    /// Hits in the search's order.
    pub hits: Vec<HitView>,
    /// Number of matching products.
    pub total: usize,
    /// Whether some live data is missing.
    pub degraded: bool,
    /// What is missing and why.
    pub errors: Vec<ViewError>,
}
