//! Assembling composed views from the primary records and the product lookups.

use std::collections::HashMap;

use contracts::catalog::{BatchGetResponse, Product};
use contracts::composer::{
    CustomerViews, HitView, LineView, LiveProduct, OrderView, SearchView, ViewError,
};
use contracts::orders::{Order, OrderPage};
use contracts::search::SearchResponse;

/// What the product lookups of one hop returned: the products found, and why some batches
/// could not be fetched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lookup {
    products: HashMap<String, Product>,
    errors: Vec<String>,
}

impl Lookup {
    /// Collects the answers of a hop's batches.
    pub fn from_batches(answers: impl IntoIterator<Item = BatchGetResponse>) -> Self {
        let mut lookup = Self::default();
        for answer in answers {
            lookup.add(answer);
        }
        lookup
    }

    /// Adds one batch's answer.
    pub fn add(&mut self, answer: BatchGetResponse) {
        for product in answer.products {
            self.products.insert(product.id.clone(), product);
        }
    }

    /// Records that a batch could not be fetched (timeout, unavailable, error status).
    pub fn fail(&mut self, message: impl Into<String>) {
        self.errors.push(message.into());
    }

    /// The product with this id, if the catalog returned it.
    pub fn product(&self, id: &str) -> Option<&Product> {
        self.products.get(id)
    }

    /// The errors to report, as the `catalog` part.
    fn view_errors(&self) -> Vec<ViewError> {
        self.errors
            .iter()
            .map(|message| ViewError {
                part: "catalog".into(),
                message: message.clone(),
            })
            .collect()
    }
}

fn live(product: &Product) -> LiveProduct {
    LiveProduct {
        name: product.name.clone(),
        price_minor: product.price_minor,
        currency: product.currency.clone(),
        stock: product.stock,
        available: product.stock > 0,
    }
}

fn view(order: &Order, lookup: &Lookup, errors: Vec<ViewError>) -> OrderView {
    OrderView {
        order_id: order.id.clone(),
        customer_id: order.customer_id.clone(),
        status: order.status,
        currency: order.currency.clone(),
        total_minor: order.total_minor,
        created_at: order.created_at.clone(),
        lines: order
            .lines
            .iter()
            .map(|line| LineView {
                product_id: line.product_id.clone(),
                qty: line.qty,
                name: line.name.clone(),
                unit_price_minor: line.unit_price_minor,
                line_total_minor: line.line_total_minor,
                product: lookup.product(&line.product_id).map(live),
            })
            .collect(),
        degraded: !errors.is_empty(),
        errors,
    }
}

/// An order with the current state of its products.
pub fn order_view(order: &Order, lookup: &Lookup) -> OrderView {
    view(order, lookup, lookup.view_errors())
}

/// A page of a customer's orders, composed from one lookup hop for the whole page.
pub fn customer_views(page: &OrderPage, lookup: &Lookup) -> CustomerViews {
    let errors = lookup.view_errors();
    CustomerViews {
        views: page
            .orders
            .iter()
            .map(|order| view(order, lookup, Vec::new()))
            .map(|mut v| {
                v.degraded = !errors.is_empty();
                v
            })
            .collect(),
        next_cursor: page.next_cursor.clone(),
        degraded: !errors.is_empty(),
        errors,
    }
}

/// Search hits, in the search's order, hydrated with live price and stock.
pub fn search_view(search: &SearchResponse, lookup: &Lookup) -> SearchView {
    let errors = lookup.view_errors();
    SearchView {
        hits: search
            .hits
            .iter()
            .map(|hit| {
                let product = lookup.product(&hit.product_id);
                HitView {
                    product_id: hit.product_id.clone(),
                    score: hit.score,
                    name: product.map_or_else(|| hit.name.clone(), |p| p.name.clone()),
                    category: hit.category.clone(),
                    price_minor: product.map(|p| p.price_minor),
                    currency: product.map(|p| p.currency.clone()),
                    stock: product.map(|p| p.stock),
                }
            })
            .collect(),
        total: search.total,
        degraded: !errors.is_empty(),
        errors,
    }
}

/// Composes an order view from JSON inputs and returns it as JSON: the one entry point that
/// every host (native, Spin, JavaScript) can call with the same bytes.
pub fn order_view_json(order: &str, batches: &[&str]) -> Result<String, serde_json::Error> {
    let order: Order = serde_json::from_str(order)?;
    let mut lookup = Lookup::default();
    for batch in batches {
        lookup.add(serde_json::from_str(batch)?);
    }
    serde_json::to_string(&order_view(&order, &lookup))
}

#[cfg(test)]
mod tests {
    use contracts::orders::{OrderLine, OrderStatus};
    use contracts::search::SearchHit;

    use super::*;

    fn product(id: &str, price: u64, stock: u64) -> Product {
        Product {
            id: id.into(),
            name: format!("{id} now"),
            description: String::new(),
            category: "c".into(),
            price_minor: price,
            currency: "EUR".into(),
            stock,
            version: 2,
            updated_seq: 9,
            updated_at: String::new(),
        }
    }

    fn order(id: &str, products: &[&str]) -> Order {
        Order {
            id: id.into(),
            customer_id: "alice".into(),
            status: OrderStatus::Confirmed,
            status_reason: None,
            lines: products
                .iter()
                .map(|p| OrderLine {
                    product_id: (*p).into(),
                    name: format!("{p} then"),
                    unit_price_minor: 100,
                    qty: 2,
                    line_total_minor: 200,
                })
                .collect(),
            total_minor: 200 * products.len() as u64,
            currency: "EUR".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
            updated_at: "2026-01-01T00:00:00Z".into(),
        }
    }

    fn batch(products: Vec<Product>, missing: &[&str]) -> BatchGetResponse {
        BatchGetResponse {
            products,
            missing: missing.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn lines_keep_order_time_data_and_gain_live_data() {
        let lookup = Lookup::from_batches([batch(vec![product("a", 150, 0)], &["gone"])]);
        let v = order_view(&order("o1", &["a", "gone"]), &lookup);
        assert_eq!(v.lines[0].name, "a then");
        assert_eq!(v.lines[0].unit_price_minor, 100);
        let live = v.lines[0].product.as_ref().unwrap();
        assert_eq!(
            (live.name.as_str(), live.price_minor, live.available),
            ("a now", 150, false)
        );
        assert!(
            v.lines[1].product.is_none(),
            "a product the catalog lost is null, not an error"
        );
        assert!(!v.degraded);
        assert!(v.errors.is_empty());
    }

    #[test]
    fn a_failed_lookup_degrades_instead_of_failing() {
        let mut lookup = Lookup::from_batches([batch(vec![product("a", 1, 1)], &[])]);
        lookup.fail("catalog timed out after 500 ms");
        let v = order_view(&order("o1", &["a", "b"]), &lookup);
        assert!(v.degraded);
        assert_eq!(v.errors[0].part, "catalog");
        assert!(v.lines[0].product.is_some());
        assert!(v.lines[1].product.is_none());
    }

    #[test]
    fn customer_pages_share_one_lookup() {
        let page = OrderPage {
            orders: vec![order("o2", &["a", "b"]), order("o1", &["b", "c"])],
            next_cursor: Some("7".into()),
        };
        let lookup = Lookup::from_batches([batch(
            vec![product("a", 1, 1), product("b", 2, 2), product("c", 3, 3)],
            &[],
        )]);
        let views = customer_views(&page, &lookup);
        assert_eq!(views.views.len(), 2);
        assert_eq!(
            views.views[1].lines[1]
                .product
                .as_ref()
                .unwrap()
                .price_minor,
            3
        );
        assert_eq!(views.next_cursor.as_deref(), Some("7"));
        assert!(!views.degraded);
    }

    #[test]
    fn search_hits_keep_their_order() {
        let search = SearchResponse {
            hits: ["z", "a", "m"]
                .iter()
                .map(|id| SearchHit {
                    product_id: (*id).into(),
                    score: 1.0,
                    name: format!("{id} indexed"),
                    category: "c".into(),
                })
                .collect(),
            total: 3,
            indexed_seq: 1,
            caught_up: true,
        };
        let lookup =
            Lookup::from_batches([batch(vec![product("a", 5, 1), product("z", 6, 0)], &["m"])]);
        let v = search_view(&search, &lookup);
        let ids: Vec<&str> = v.hits.iter().map(|h| h.product_id.as_str()).collect();
        assert_eq!(ids, ["z", "a", "m"]);
        assert_eq!(v.hits[0].price_minor, Some(6));
        assert_eq!(v.hits[2].price_minor, None);
        assert_eq!(v.hits[2].name, "m indexed");
    }

    #[test]
    fn the_json_entry_point_matches_the_typed_one() {
        let o = order("o1", &["a"]);
        let b = batch(vec![product("a", 1, 1)], &[]);
        let json = order_view_json(
            &serde_json::to_string(&o).unwrap(),
            &[&serde_json::to_string(&b).unwrap()],
        )
        .unwrap();
        let typed = order_view(&o, &Lookup::from_batches([b]));
        assert_eq!(json, serde_json::to_string(&typed).unwrap());
    }
}
