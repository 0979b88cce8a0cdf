use reqwest::Method;
use serde_json::json;
use system_tests::OrderSystem;
use system_tests::orders::order_body;

use crate::{id_of, stocks};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insufficient_stock_rejects_the_order_and_holds_nothing() {
    let sys = OrderSystem::start().await;
    sys.seed(&[("a", "A", 100, 5), ("b", "B", 100, 1)]).await;

    let short = sys.place("hana", &[("a", 2), ("b", 3)]).await;
    assert_eq!(
        (short.status.as_u16(), short.code()),
        (409, "insufficient_stock"),
        "{}",
        short.text
    );
    assert_eq!(
        short.body["error"]["short_items"],
        json!([{"product_id": "b", "requested": 3, "available": 1}])
    );
    let location = short
        .header("location")
        .expect("the rejected order's location");
    let id = location
        .strip_prefix("/v1/orders/")
        .unwrap_or_else(|| panic!("odd location {location}"))
        .to_owned();
    let rejected = sys.order(&id).await;
    assert_eq!(rejected.status, 200, "{}", rejected.text);
    assert_eq!(rejected.body["status"], "rejected");
    assert_eq!(rejected.body["customer_id"], "hana");
    assert_eq!(sys.stock("a").await, 5);
    assert_eq!(sys.stock("b").await, 1);
    assert_eq!(sys.reservation(&id).await.status, 404);

    // A rejected order cannot be cancelled, and cancelling it changes nothing.
    let cancel = sys.cancel(&id).await;
    assert_eq!(
        (cancel.status.as_u16(), cancel.code()),
        (409, "order_not_cancellable"),
        "{}",
        cancel.text
    );
    assert_eq!(sys.order(&id).await.body["status"], "rejected");

    // What the stock allows still goes through.
    sys.place_confirmed("hana", &[("a", 2), ("b", 1)]).await;
    sys.assert_invariant(&stocks(&[("a", 5), ("b", 1)]), &["hana"])
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_gives_the_stock_back_once() {
    let sys = OrderSystem::start().await;
    sys.seed(&[("a", "A", 100, 10), ("b", "B", 100, 4)]).await;
    let order = sys.place_confirmed("ivan", &[("a", 3), ("b", 4)]).await;
    let id = id_of(&order);
    let keep = sys.place_confirmed("ivan", &[("a", 1)]).await;
    assert_eq!(sys.stock("a").await, 6);
    assert_eq!(sys.stock("b").await, 0);

    let cancelled = sys.cancel(&id).await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.text);
    assert_eq!(cancelled.body["status"], "cancelled");
    assert_eq!(cancelled.body["lines"], order["lines"]);
    assert_eq!(sys.stock("a").await, 9);
    assert_eq!(sys.stock("b").await, 4);
    assert_eq!(sys.reservation(&id).await.body["status"], "released");

    let twice = sys.cancel(&id).await;
    assert_eq!(
        (twice.status.as_u16(), twice.body["status"].as_str()),
        (200, Some("cancelled")),
        "{}",
        twice.text
    );
    assert_eq!(sys.stock("a").await, 9);
    assert_eq!(sys.stock("b").await, 4);
    assert_eq!(sys.order(&id).await.body["status"], "cancelled");
    assert_eq!(sys.order(&id_of(&keep)).await.body["status"], "confirmed");

    let unknown = sys.cancel("no-such-order").await;
    assert_eq!(unknown.status, 404, "{}", unknown.text);
    let missing = sys.order("no-such-order").await;
    assert_eq!(
        (missing.status.as_u16(), missing.code()),
        (404, "order_not_found")
    );
    sys.assert_invariant(&stocks(&[("a", 10), ("b", 4)]), &["ivan"])
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_orders_never_oversell() {
    const STOCK: u64 = 10;
    const ORDERS: usize = 30;
    let sys = OrderSystem::start().await;
    sys.seed(&[("hot", "Hot", 100, STOCK), ("side", "Side", 50, 1000)])
        .await;
    let attempts: Vec<_> = (0..ORDERS)
        .map(|i| {
            sys.spawn_request(
                Some("shop"),
                Method::POST,
                "/v1/orders",
                Some(order_body(
                    &format!("rush-{}", i % 3),
                    &[("side", 1), ("hot", 1)],
                )),
                &[],
            )
        })
        .collect();
    let mut confirmed = 0;
    let mut rejected = 0;
    for attempt in attempts {
        let reply = attempt.await.unwrap().expect("order-node answered");
        match (reply.status.as_u16(), reply.code()) {
            (201, _) => {
                assert_eq!(reply.body["status"], "confirmed");
                confirmed += 1;
            }
            (409, "insufficient_stock") => rejected += 1,
            other => panic!("unexpected {other:?}: {}", reply.text),
        }
    }
    assert_eq!(confirmed, STOCK as usize);
    assert_eq!(rejected, ORDERS - STOCK as usize);
    assert_eq!(sys.stock("hot").await, 0);
    assert_eq!(sys.stock("side").await, 1000 - STOCK);
    sys.assert_invariant(
        &stocks(&[("hot", STOCK), ("side", 1000)]),
        &["rush-0", "rush-1", "rush-2"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_product_deleted_between_the_read_and_the_reservation_rejects_the_order() {
    // A generous catalog timeout: the held reservation is answered, late, not given up on.
    let sys = OrderSystem::start_with(&["--catalog-timeout-ms", "20000"]).await;
    sys.seed(&[("a", "A", 100, 10), ("b", "B", 100, 10)]).await;
    let route = system_tests::orders::reservations_route();
    sys.set_mode(system_tests::Mode::HoldBeforeForward(route.clone()));
    let post = sys.spawn_request(
        Some("shop"),
        Method::POST,
        "/v1/orders",
        Some(order_body("xena", &[("a", 1), ("b", 2)])),
        &[],
    );
    sys.proxy
        .wait_for(&route, 1, std::time::Duration::from_secs(30))
        .await;
    assert_eq!(
        sys.catalog_admin().delete("/v1/products/b").await.status,
        204
    );
    sys.proxy
        .set_mode_forwarding_held(system_tests::Mode::Forward);
    let reply = post.await.unwrap().expect("order-node answered");
    assert_eq!(
        (reply.status.as_u16(), reply.code()),
        (422, "unknown_products"),
        "{}",
        reply.text
    );
    assert_eq!(reply.body["error"]["missing_ids"], json!(["b"]));
    let orders = sys.customer_orders("xena", 20).await;
    assert_eq!(orders.len(), 1, "{orders:?}");
    assert_eq!(orders[0]["status"], "rejected");
    assert_eq!(sys.stock("a").await, 10);
    assert_eq!(sys.reservation(&id_of(&orders[0])).await.status, 404);
    sys.assert_invariant(&stocks(&[("a", 10)]), &["xena"]).await;
}
