//! The order view from the rows of its JOIN, built field for field as the composer builds it
//! from an order and a catalog lookup (edge-composer/core's `assemble`).

use contracts::composer::{LineView, LiveProduct, OrderView};
use contracts::orders::OrderStatus;

/// One row of `orders ⨝ order_lines ⟕ products`: the order's columns repeat on every line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewRow {
    /// The order id.
    pub order_id: String,
    /// The customer.
    pub customer_id: String,
    /// The order's status.
    pub status: OrderStatus,
    /// The order's currency.
    pub currency: String,
    /// The order's total at order time.
    pub total_minor: u64,
    /// RFC 3339 time the order was placed.
    pub created_at: String,
    /// The line's product.
    pub product_id: String,
    /// Units ordered.
    pub qty: u32,
    /// Name copied at order time.
    pub name: String,
    /// Unit price copied at order time.
    pub unit_price_minor: u64,
    /// The product now; `None` when the LEFT JOIN found no product.
    pub live: Option<LiveRow>,
}

/// The product columns of a [`ViewRow`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveRow {
    /// Current name.
    pub name: String,
    /// Current unit price.
    pub price_minor: u64,
    /// Currency of the price.
    pub currency: String,
    /// Units available now.
    pub stock: u64,
}

/// The view of the order whose lines are `rows` (in line order); `None` for no rows, which
/// is no order, since every stored order has at least one line.
pub fn order_view(rows: &[ViewRow]) -> Option<OrderView> {
    let first = rows.first()?;
    Some(OrderView {
        order_id: first.order_id.clone(),
        customer_id: first.customer_id.clone(),
        status: first.status,
        currency: first.currency.clone(),
        total_minor: first.total_minor,
        created_at: first.created_at.clone(),
        lines: rows
            .iter()
            .map(|row| LineView {
                product_id: row.product_id.clone(),
                qty: row.qty,
                name: row.name.clone(),
                unit_price_minor: row.unit_price_minor,
                // Placement checked this product against the money type before storing it.
                line_total_minor: row.unit_price_minor.saturating_mul(u64::from(row.qty)),
                product: row.live.as_ref().map(|live| LiveProduct {
                    name: live.name.clone(),
                    price_minor: live.price_minor,
                    currency: live.currency.clone(),
                    stock: live.stock,
                    available: live.stock > 0,
                }),
            })
            .collect(),
        // One database answers everything or nothing: a view is never partly filled in.
        degraded: false,
        errors: Vec::new(),
    })
}

/// The status as stored: its wire text.
pub fn status_text(status: OrderStatus) -> &'static str {
    match status {
        OrderStatus::Pending => "pending",
        OrderStatus::Confirmed => "confirmed",
        OrderStatus::Rejected => "rejected",
        OrderStatus::Cancelling => "cancelling",
        OrderStatus::Cancelled => "cancelled",
    }
}

/// The status stored as `text`, if it names one.
pub fn parse_status(text: &str) -> Option<OrderStatus> {
    [
        OrderStatus::Pending,
        OrderStatus::Confirmed,
        OrderStatus::Rejected,
        OrderStatus::Cancelling,
        OrderStatus::Cancelled,
    ]
    .into_iter()
    .find(|s| status_text(*s) == text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(product: &str, live: Option<LiveRow>) -> ViewRow {
        ViewRow {
            order_id: "ord-1".into(),
            customer_id: "alice".into(),
            status: OrderStatus::Confirmed,
            currency: "EUR".into(),
            total_minor: 400,
            created_at: "2026-01-01T00:00:00Z".into(),
            product_id: product.into(),
            qty: 2,
            name: format!("{product} then"),
            unit_price_minor: 100,
            live,
        }
    }

    fn live(stock: u64) -> LiveRow {
        LiveRow {
            name: "a now".into(),
            price_minor: 150,
            currency: "EUR".into(),
            stock,
        }
    }

    #[test]
    fn lines_keep_order_time_data_and_gain_live_data() {
        let v = order_view(&[row("a", Some(live(0))), row("gone", None)]).unwrap();
        assert_eq!(
            (v.order_id.as_str(), v.customer_id.as_str()),
            ("ord-1", "alice")
        );
        assert_eq!(v.lines[0].name, "a then");
        assert_eq!(v.lines[0].line_total_minor, 200);
        let product = v.lines[0].product.as_ref().unwrap();
        assert_eq!(
            (
                product.name.as_str(),
                product.price_minor,
                product.available
            ),
            ("a now", 150, false)
        );
        assert!(v.lines[1].product.is_none(), "a deleted product is null");
        assert!(!v.degraded && v.errors.is_empty());
        let again = order_view(&[row("a", Some(live(3)))]).unwrap();
        assert!(again.lines[0].product.as_ref().unwrap().available);
    }

    #[test]
    fn no_rows_is_no_order() {
        assert_eq!(order_view(&[]), None);
    }

    #[test]
    fn the_json_is_the_composers_shape() {
        let json = serde_json::to_value(order_view(&[row("gone", None)]).unwrap()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "order_id": "ord-1", "customer_id": "alice", "status": "confirmed",
                "currency": "EUR", "total_minor": 400, "created_at": "2026-01-01T00:00:00Z",
                "lines": [{"product_id": "gone", "qty": 2, "name": "gone then",
                           "unit_price_minor": 100, "line_total_minor": 200, "product": null}],
                "degraded": false, "errors": []
            })
        );
    }

    #[test]
    fn statuses_round_trip_as_their_wire_text() {
        for status in [OrderStatus::Pending, OrderStatus::Cancelled] {
            let wire = serde_json::to_value(status).unwrap();
            assert_eq!(wire, status_text(status));
            assert_eq!(parse_status(status_text(status)), Some(status));
        }
        assert_eq!(parse_status("shipped"), None);
    }
}
