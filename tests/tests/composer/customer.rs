//! `GET /v1/customers/{id}/order-views`: a page of a customer's orders, composed with one
//! product lookup hop for the whole page.

use std::collections::BTreeSet;

use serde_json::Value;
use system_tests::composer::batch_get_route;
use system_tests::{ComposerSystem, ServerTiming, product};

use crate::{
    assert_complete, assert_live, assert_view_matches_order, batch_ids, id_of, lines, views,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_page_shares_one_deduplicated_lookup() {
    let sys = ComposerSystem::start_with(false).await;
    for (id, price) in [("a", 100), ("b", 200), ("c", 300), ("d", 400), ("x", 500)] {
        sys.put_product(id, &product(&id.to_uppercase(), price, 50))
            .await;
    }
    let o1 = sys.place("cora", &[("a", 1), ("b", 2)]).await;
    let o2 = sys.place("cora", &[("b", 1), ("c", 1)]).await;
    let o3 = sys.place("cora", &[("a", 3), ("c", 1), ("d", 1)]).await;
    sys.place("other", &[("x", 1)]).await;
    // What order-node lists, newest first.
    let direct = sys
        .orders_shop()
        .get("/v1/orders?customer_id=cora&limit=20")
        .await;
    assert_eq!(direct.status, 200, "{}", direct.text);
    let listed: Vec<Value> = direct.body["orders"].as_array().unwrap().clone();
    assert_eq!(
        listed.iter().map(id_of).collect::<BTreeSet<_>>(),
        [&o1, &o2, &o3].iter().map(|o| id_of(o)).collect()
    );
    sys.reset_counts();

    let page = sys.customer_views("cora", "").await;
    assert_complete(&page);
    let got = views(&page);
    assert_eq!(got.len(), 3, "{}", page.text);
    assert!(
        page.body.get("next_cursor").is_none_or(Value::is_null),
        "{}",
        page.text
    );
    for (view, order) in got.iter().zip(&listed) {
        assert_view_matches_order(view, order);
        assert_eq!(
            (&view["degraded"], &view["errors"]),
            (&Value::Bool(false), &serde_json::json!([]))
        );
        for line in lines(view) {
            let now = sys.product(line["product_id"].as_str().unwrap()).await;
            assert_live(&line["product"], &now);
        }
    }

    // One orders call, one batch read naming each product once.
    let timing = ServerTiming::of(&page);
    assert_eq!(timing.calls, 2, "{timing:?}");
    assert_eq!(timing.names(), ["orders", "catalog"]);
    assert_eq!(sys.orders_proxy.total(), 1);
    let seen = sys.orders_proxy.all_requests();
    assert_eq!(seen[0].path, "/v1/orders");
    assert!(
        seen[0]
            .query
            .as_deref()
            .is_some_and(|q| q.contains("customer_id=cora")),
        "{seen:?}"
    );
    assert_eq!(sys.catalog_proxy.total(), 1);
    let batches = batch_ids(&sys.catalog_proxy.requests(&batch_get_route()));
    let want: BTreeSet<String> = ["a", "b", "c", "d"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    assert_eq!(batches, vec![want]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_follow_order_nodes_cursor() {
    let sys = ComposerSystem::start_with(false).await;
    sys.put_product("p", &product("P", 100, 100)).await;
    let mut placed = BTreeSet::new();
    for _ in 0..5 {
        placed.insert(id_of(&sys.place("dana", &[("p", 1)]).await));
    }

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let query = match &cursor {
            Some(c) => format!("limit=2&cursor={c}"),
            None => "limit=2".to_owned(),
        };
        let page = sys.customer_views("dana", &query).await;
        assert_complete(&page);
        let direct = sys
            .orders_shop()
            .get(&format!("/v1/orders?customer_id=dana&{query}"))
            .await;
        assert_eq!(direct.status, 200, "{}", direct.text);
        let ids: Vec<String> = views(&page).iter().map(id_of).collect();
        let direct_ids: Vec<String> = direct.body["orders"]
            .as_array()
            .unwrap()
            .iter()
            .map(id_of)
            .collect();
        assert_eq!(ids, direct_ids, "the page is order-node's page");
        assert_eq!(page.body["next_cursor"], direct.body["next_cursor"]);
        assert!(ids.len() <= 2);
        seen.extend(ids);
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5, "{seen:?}");
    assert_eq!(seen.iter().cloned().collect::<BTreeSet<_>>(), placed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_without_orders_costs_one_call() {
    let sys = ComposerSystem::start_with(false).await;
    let page = sys.customer_views("nobody", "limit=5").await;
    assert_complete(&page);
    assert_eq!(page.body["views"], serde_json::json!([]), "{}", page.text);
    let timing = ServerTiming::of(&page);
    assert_eq!(timing.calls, 1, "{timing:?}");
    assert_eq!(sys.orders_proxy.total(), 1);
    assert_eq!(sys.catalog_proxy.total(), 0);
}
