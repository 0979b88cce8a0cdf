//! End-to-end tests of order-node: the real binary, in front of a real catalog-node reached
//! through a fault-injecting proxy, each with its own ports and temporary data directories.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod auth;
mod bad_input;
mod catalog_down;
mod crash;
mod idempotency;
mod lifecycle;
mod listing;
mod placing;
mod stock;

use std::collections::BTreeMap;

use serde_json::Value;

/// Initial stocks as the invariant helper wants them.
pub fn stocks(list: &[(&str, u64)]) -> BTreeMap<String, u64> {
    list.iter().map(|(p, s)| ((*p).to_owned(), *s)).collect()
}

/// The id of an order body.
pub fn id_of(order: &Value) -> String {
    order["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no order id in {order}"))
        .to_owned()
}

/// `(product_id, qty)` of an order's or a reservation's lines/items, sorted.
pub fn quantities(list: &Value) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = list
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|l| {
            (
                l["product_id"].as_str().unwrap_or("").to_owned(),
                l["qty"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    out.sort();
    out
}
