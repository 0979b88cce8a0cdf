//! `GET /v1/order-views/{id}`: an order joined with the live state of its products.

use serde_json::Value;
use system_tests::composer::batch_get_route;
use system_tests::{ComposerSystem, Route, ServerTiming, product};

use crate::{
    assert_complete, assert_live, assert_view_matches_order, batch_ids, demo_ids, id_of, lines,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_view_joins_the_order_with_its_live_products() {
    let sys = ComposerSystem::start().await;
    let ids = demo_ids(0, 3, 3);
    let order = sys
        .place(
            "alma",
            &[
                (ids[0].as_str(), 2),
                (ids[1].as_str(), 1),
                (ids[2].as_str(), 3),
            ],
        )
        .await;
    let id = id_of(&order);
    sys.reset_counts();

    let view = sys.order_view(&id).await;
    assert_complete(&view);
    assert_eq!(
        view.header("content-type").as_deref(),
        Some("application/json"),
        "{view:?}"
    );
    assert_view_matches_order(&view.body, &order);
    for line in lines(&view.body) {
        let now = sys.product(line["product_id"].as_str().unwrap()).await;
        assert_live(&line["product"], &now);
    }

    // Two upstream calls: the order, then one batch read of its three products.
    let timing = ServerTiming::of(&view);
    assert_eq!(timing.calls, 2, "{timing:?}");
    assert_eq!(timing.names(), ["orders", "catalog"], "{timing:?}");
    assert_eq!(sys.orders_proxy.total(), 1);
    assert_eq!(
        sys.orders_proxy.count("GET", &format!("/v1/orders/{id}")),
        1
    );
    assert_eq!(sys.catalog_proxy.total(), 1);
    let batches = batch_ids(&sys.catalog_proxy.requests(&batch_get_route()));
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0], ids.iter().cloned().collect());
    assert_eq!(sys.search_proxy.total(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lines_keep_what_was_ordered_and_products_show_what_is_now() {
    let sys = ComposerSystem::start_with(false).await;
    sys.put_product("kettle", &product("Kettle", 1000, 5)).await;
    sys.put_product("mug", &product("Mug", 400, 1)).await;
    let order = sys.place("bo", &[("kettle", 2), ("mug", 1)]).await;
    let id = id_of(&order);

    // After the order: the kettle is renamed and repriced, the mug is sold out.
    sys.put_product("kettle", &product("Kettle Pro", 1500, 7))
        .await;
    assert_eq!(sys.product("mug").await["stock"], 0);

    let view = sys.order_view(&id).await;
    assert_complete(&view);
    assert_view_matches_order(&view.body, &order);
    let l = lines(&view.body);
    let kettle = l.iter().find(|l| l["product_id"] == "kettle").unwrap();
    assert_eq!(
        (
            &kettle["name"],
            &kettle["unit_price_minor"],
            &kettle["line_total_minor"]
        ),
        (
            &Value::from("Kettle"),
            &Value::from(1000),
            &Value::from(2000)
        ),
        "the line keeps what was ordered: {kettle}"
    );
    let live = &kettle["product"];
    assert_eq!(
        (
            &live["name"],
            &live["price_minor"],
            &live["stock"],
            &live["available"]
        ),
        (
            &Value::from("Kettle Pro"),
            &Value::from(1500),
            &Value::from(7),
            &Value::from(true)
        ),
        "the product is what the catalog has now: {kettle}"
    );
    let mug = l.iter().find(|l| l["product_id"] == "mug").unwrap();
    assert_eq!(
        (&mug["name"], &mug["unit_price_minor"]),
        (&Value::from("Mug"), &Value::from(400))
    );
    assert_eq!(
        (&mug["product"]["stock"], &mug["product"]["available"]),
        (&Value::from(0), &Value::from(false)),
        "{mug}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_product_the_catalog_no_longer_has_is_null_not_an_error() {
    let sys = ComposerSystem::start_with(false).await;
    sys.put_product("gone", &product("Gone", 300, 5)).await;
    sys.put_product("kept", &product("Kept", 200, 5)).await;
    let order = sys.place("cy", &[("gone", 1), ("kept", 1)]).await;
    let id = id_of(&order);
    let deleted = sys.catalog_admin().delete("/v1/products/gone").await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    sys.reset_counts();

    let view = sys.order_view(&id).await;
    assert_complete(&view);
    assert_view_matches_order(&view.body, &order);
    let l = lines(&view.body);
    let gone = l.iter().find(|l| l["product_id"] == "gone").unwrap();
    assert_eq!(gone["product"], Value::Null, "{gone}");
    assert_eq!(gone["name"], "Gone", "the line still says what was ordered");
    let kept = l.iter().find(|l| l["product_id"] == "kept").unwrap();
    assert_live(&kept["product"], &sys.product("kept").await);
    assert_eq!(ServerTiming::of(&view).calls, 2);
    assert_eq!(sys.catalog_proxy.count_matching(&batch_get_route()), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifty_line_order_costs_exactly_two_upstream_calls() {
    let sys = ComposerSystem::start().await;
    let ids = demo_ids(100, 50, 1);
    let list: Vec<(&str, u32)> = ids.iter().map(|i| (i.as_str(), 1)).collect();
    let order = sys.place("dee", &list).await;
    let id = id_of(&order);
    sys.reset_counts();

    let view = sys.order_view(&id).await;
    assert_complete(&view);
    assert_view_matches_order(&view.body, &order);
    let l = lines(&view.body);
    assert_eq!(l.len(), 50);
    for line in &l {
        assert!(line["product"].is_object(), "{line}");
    }
    let timing = ServerTiming::of(&view);
    assert_eq!(timing.calls, 2, "{timing:?}");
    assert_eq!(timing.names(), ["orders", "catalog"]);
    // Not one call per line: exactly one batch read, of the fifty ids.
    assert_eq!(sys.catalog_proxy.total(), 1);
    assert_eq!(sys.catalog_proxy.count("POST", "/v1/products:batchGet"), 1);
    assert_eq!(
        batch_ids(&sys.catalog_proxy.requests(&batch_get_route()))[0],
        ids.iter().cloned().collect()
    );
    assert_eq!(sys.orders_proxy.total(), 1);
    assert_eq!(
        sys.catalog_proxy
            .count_matching(&Route::prefix("GET", "/v1/products/")),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_order_is_404_without_asking_the_catalog() {
    let sys = ComposerSystem::start_with(false).await;
    let r = sys.order_view("no-such-order").await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (404, "order_not_found"),
        "{}",
        r.text
    );
    let timing = ServerTiming::of(&r);
    assert_eq!(timing.calls, 1, "{timing:?}");
    assert_eq!(timing.names(), ["orders"]);
    assert_eq!(sys.orders_proxy.total(), 1);
    assert_eq!(sys.catalog_proxy.total(), 0);
}
