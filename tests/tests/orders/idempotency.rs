use reqwest::Method;
use system_tests::OrderSystem;
use system_tests::orders::order_body;

use crate::{id_of, stocks};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_request_returns_the_first_answer_and_reserves_once() {
    let mut sys = OrderSystem::start().await;
    sys.seed(&[("a", "A", 100, 10), ("b", "B", 250, 5)]).await;
    let list = [("a", 3), ("b", 1)];

    let first = sys.place_with_key("dora", &list, "key-1").await;
    assert_eq!(first.status, 201, "{}", first.text);
    let id = id_of(&first.body);
    let again = sys.place_with_key("dora", &list, "key-1").await;
    assert_eq!(again.status, 201, "{}", again.text);
    assert_eq!(id_of(&again.body), id);
    assert_eq!(again.header("location"), first.header("location"));
    assert_eq!(again.body["lines"], first.body["lines"]);
    assert_eq!(sys.stock("a").await, 7);
    assert_eq!(sys.stock("b").await, 4);
    assert_eq!(sys.customer_orders("dora", 20).await.len(), 1);

    // The same key with another body is a client bug, not a new order.
    let reused = sys.place_with_key("dora", &[("a", 1)], "key-1").await;
    assert_eq!(
        (reused.status.as_u16(), reused.code()),
        (422, "idempotency_key_reused"),
        "{}",
        reused.text
    );
    let other_customer = sys.place_with_key("eve", &list, "key-1").await;
    assert_eq!(
        (other_customer.status.as_u16(), other_customer.code()),
        (422, "idempotency_key_reused"),
        "{}",
        other_customer.text
    );
    assert_eq!(sys.stock("a").await, 7);
    assert_eq!(sys.customer_orders("dora", 20).await.len(), 1);
    assert!(sys.customer_orders("eve", 20).await.is_empty());

    // Another key is another order.
    let second = sys.place_with_key("dora", &list, "key-2").await;
    assert_eq!(second.status, 201, "{}", second.text);
    assert_ne!(id_of(&second.body), id);
    assert_eq!(sys.stock("a").await, 4);

    // The stored answers survive a crash.
    sys.restart_orders().await;
    let after_crash = sys.place_with_key("dora", &list, "key-1").await;
    assert_eq!(after_crash.status, 201, "{}", after_crash.text);
    assert_eq!(id_of(&after_crash.body), id);
    assert_eq!(sys.stock("a").await, 4);
    assert_eq!(sys.customer_orders("dora", 20).await.len(), 2);
    sys.assert_invariant(&stocks(&[("a", 10), ("b", 5)]), &["dora", "eve"])
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_rejection_is_the_same_rejection() {
    let sys = OrderSystem::start().await;
    sys.seed(&[("a", "A", 100, 2)]).await;
    let first = sys.place_with_key("finn", &[("a", 5)], "reject-me").await;
    assert_eq!(
        (first.status.as_u16(), first.code()),
        (409, "insufficient_stock"),
        "{}",
        first.text
    );
    let location = first
        .header("location")
        .expect("location of the rejected order");
    // Stock arrives meanwhile: the retry still gets the stored answer, not a new order.
    sys.put_product("a", &system_tests::product("A", 100, 50))
        .await;
    let again = sys.place_with_key("finn", &[("a", 5)], "reject-me").await;
    assert_eq!(
        (again.status.as_u16(), again.code()),
        (409, "insufficient_stock"),
        "{}",
        again.text
    );
    assert_eq!(again.header("location").as_deref(), Some(location.as_str()));
    assert_eq!(
        again.text, first.text,
        "an error answer is replayed as it was"
    );
    let orders = sys.customer_orders("finn", 20).await;
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0]["status"], "rejected");
    assert_eq!(sys.stock("a").await, 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_retries_with_one_key_make_one_order() {
    let sys = OrderSystem::start().await;
    sys.seed(&[("a", "A", 100, 100)]).await;
    let body = order_body("gus", &[("a", 7)]);
    let attempts: Vec<_> = (0..8)
        .map(|_| {
            sys.spawn_request(
                Some("shop"),
                Method::POST,
                "/v1/orders",
                Some(body.clone()),
                &[("idempotency-key", "same-key")],
            )
        })
        .collect();
    let mut ids = Vec::new();
    for attempt in attempts {
        let reply = attempt.await.unwrap().expect("order-node answered");
        assert!(
            reply.status == 201 || reply.status == 409 || reply.status == 202,
            "{}: {}",
            reply.status,
            reply.text
        );
        if reply.status.is_success() {
            ids.push(id_of(&reply.body));
        }
    }
    assert!(!ids.is_empty(), "no attempt succeeded");
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 1, "one key made several orders: {ids:?}");
    let orders = sys.customer_orders("gus", 20).await;
    assert_eq!(orders.len(), 1, "{orders:?}");
    let id = id_of(&orders[0]);
    sys.wait_status(&id, "confirmed", system_tests::orders::SETTLE_WITHIN)
        .await;
    assert_eq!(sys.stock("a").await, 93);
}
