//! End-to-end tests of the edge composer: `edge_composer.wasm` served by the real `edge-host`,
//! in front of real catalog-, order- and search-nodes, each upstream reached through its own
//! fault-injecting proxy so that every composed request's upstream calls can be counted,
//! delayed, failed or hung.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod bad_input;
mod batching;
mod create;
mod customer;
mod identity;
mod outages;
mod replicas;
mod search;
mod views;
mod wasmtime_serve;

use std::collections::BTreeSet;

use serde_json::Value;
use system_tests::composer::demo_products;
use system_tests::http::Reply;

/// The id of an order (or an order view's `order_id`).
pub fn id_of(order: &Value) -> String {
    order["id"]
        .as_str()
        .or_else(|| order["order_id"].as_str())
        .unwrap_or_else(|| panic!("no order id in {order}"))
        .to_owned()
}

/// The lines of an order or an order view.
pub fn lines(order: &Value) -> Vec<Value> {
    order["lines"]
        .as_array()
        .unwrap_or_else(|| panic!("no lines in {order}"))
        .clone()
}

/// The views of a customer page.
pub fn views(reply: &Reply) -> Vec<Value> {
    reply.body["views"]
        .as_array()
        .unwrap_or_else(|| panic!("no views in {}", reply.text))
        .clone()
}

/// The first `n` demo products (in file order, skipping `skip`) that have at least `stock`
/// units, as ids.
pub fn demo_ids(skip: usize, n: usize, stock: u64) -> Vec<String> {
    let ids: Vec<String> = demo_products()
        .iter()
        .filter(|p| p["stock"].as_u64().unwrap_or(0) >= stock)
        .skip(skip)
        .take(n)
        .map(|p| p["id"].as_str().expect("demo id").to_owned())
        .collect();
    assert_eq!(ids.len(), n, "the demo catalogue has too few products");
    ids
}

/// The ids of the batch reads a proxy saw, one set per request.
pub fn batch_ids(seen: &[system_tests::proxy::Seen]) -> Vec<BTreeSet<String>> {
    seen.iter()
        .map(|s| {
            let body = s.json();
            let ids = body["ids"]
                .as_array()
                .unwrap_or_else(|| panic!("a batch read without ids: {body}"));
            let set: BTreeSet<String> = ids
                .iter()
                .map(|i| i.as_str().expect("an id").to_owned())
                .collect();
            assert_eq!(
                set.len(),
                ids.len(),
                "a batch read asks for an id twice: {body}"
            );
            set
        })
        .collect()
}

/// Checks that `view` is `order` (as order-node has it) line for line, with order-time data
/// from the order.
pub fn assert_view_matches_order(view: &Value, order: &Value) {
    assert_eq!(view["order_id"], order["id"], "{view}");
    for field in [
        "customer_id",
        "status",
        "currency",
        "total_minor",
        "created_at",
    ] {
        assert_eq!(view[field], order[field], "{field} of {view}");
    }
    let (vl, ol) = (lines(view), lines(order));
    assert_eq!(vl.len(), ol.len(), "{view}");
    for (v, o) in vl.iter().zip(&ol) {
        for field in [
            "product_id",
            "qty",
            "name",
            "unit_price_minor",
            "line_total_minor",
        ] {
            assert_eq!(v[field], o[field], "{field} of line {v}");
        }
    }
}

/// Checks that `live` (a line's `product`) is the catalog's `product` now.
pub fn assert_live(live: &Value, product: &Value) {
    assert_eq!(live["name"], product["name"], "{live} vs {product}");
    assert_eq!(
        live["price_minor"], product["price_minor"],
        "{live} vs {product}"
    );
    assert_eq!(live["currency"], product["currency"], "{live} vs {product}");
    assert_eq!(live["stock"], product["stock"], "{live} vs {product}");
    let stock = product["stock"].as_u64().expect("stock");
    assert_eq!(live["available"], stock > 0, "{live}");
}

/// Checks that an answer is 200, degraded, with exactly one error per failed batch, every
/// one of part `catalog`.
pub fn assert_catalog_degraded(reply: &Reply) {
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["degraded"], true, "{}", reply.text);
    let errors = reply.body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors in {}", reply.text));
    assert!(
        !errors.is_empty(),
        "degraded without errors: {}",
        reply.text
    );
    for e in errors {
        assert_eq!(e["part"], "catalog", "{}", reply.text);
        assert!(
            e["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{}",
            reply.text
        );
    }
}

/// Checks that an answer is complete: not degraded, no errors.
pub fn assert_complete(reply: &Reply) {
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        (&reply.body["degraded"], &reply.body["errors"]),
        (&Value::Bool(false), &serde_json::json!([])),
        "{}",
        reply.text
    );
}
