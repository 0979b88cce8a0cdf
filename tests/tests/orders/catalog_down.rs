//! The catalog unreachable, failing or hanging at each step.

use std::time::Duration;

use system_tests::orders::{SETTLE_WITHIN, batch_get_route, reservations_route};
use system_tests::{Mode, OrderSystem, product};

use crate::{id_of, stocks};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_are_served_and_new_orders_refused_while_the_catalog_is_down() {
    let sys = OrderSystem::start().await;
    sys.seed(&[("a", "A", 100, 10)]).await;
    let order = sys.place_confirmed("nina", &[("a", 2)]).await;
    let id = id_of(&order);

    sys.set_mode(Mode::Down);
    let got = sys.order(&id).await;
    assert_eq!(got.status, 200, "{}", got.text);
    assert_eq!(got.body["lines"], order["lines"]);
    assert_eq!(got.body["status"], "confirmed");
    assert_eq!(sys.customer_orders("nina", 20).await.len(), 1);
    let batch = sys.orders().get(&format!("/v1/orders?ids={id}")).await;
    assert_eq!(batch.status, 200, "{}", batch.text);
    assert_eq!(batch.body["orders"][0]["id"], id.as_str());

    let refused = sys.place("nina", &[("a", 1)]).await;
    assert_eq!(
        (refused.status.as_u16(), refused.code()),
        (503, "catalog_unavailable"),
        "{}",
        refused.text
    );
    assert!(refused.header("location").is_none());

    // Nothing was stored: no order appears, not even once the catalog is back.
    sys.set_mode(Mode::Forward);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let listed = sys.customer_orders("nina", 20).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(sys.stock("a").await, 8);
    assert_eq!(sys.proxy.count_matching(&reservations_route()), 1);

    sys.place_confirmed("nina", &[("a", 1)]).await;
    sys.assert_invariant(&stocks(&[("a", 10)]), &["nina"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_reservation_leaves_the_order_pending_until_the_catalog_answers() {
    let sys = OrderSystem::start().await;
    sys.seed(&[("a", "A", 100, 10)]).await;
    sys.proxy.reset_counts();
    sys.set_mode(Mode::FailRoute(reservations_route()));

    let placed = sys.place("olga", &[("a", 3)]).await;
    assert_eq!(placed.status, 202, "{}", placed.text);
    assert_eq!(placed.body["status"], "pending");
    let id = id_of(&placed.body);
    assert_eq!(
        placed.header("location").as_deref(),
        Some(format!("/v1/orders/{id}").as_str())
    );
    assert_eq!(sys.proxy.count_matching(&batch_get_route()), 1);
    assert_eq!(sys.order(&id).await.body["status"], "pending");
    assert_eq!(sys.stock("a").await, 10);

    // A pending order cannot be cancelled.
    let cancel = sys.cancel(&id).await;
    assert_eq!(
        (cancel.status.as_u16(), cancel.code()),
        (409, "order_not_cancellable"),
        "{}",
        cancel.text
    );

    // The node retries on its own while the catalog keeps failing...
    sys.proxy
        .wait_for(&reservations_route(), 3, Duration::from_secs(20))
        .await;
    assert_eq!(sys.order(&id).await.body["status"], "pending");
    for seen in sys.proxy.requests(&reservations_route()) {
        assert_eq!(
            seen.json()["id"],
            id.as_str(),
            "every retry uses the order id"
        );
    }
    // ... and the order settles once it answers.
    sys.set_mode(Mode::Forward);
    let order = sys.wait_status(&id, "confirmed", SETTLE_WITHIN).await;
    assert_eq!(order["lines"][0]["qty"], 3);
    assert_eq!(sys.stock("a").await, 7);
    // Only the one batch read: retries reserve, they do not re-read the products.
    assert_eq!(sys.proxy.count_matching(&batch_get_route()), 1);
    sys.assert_invariant(&stocks(&[("a", 10)]), &["olga"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_order_the_catalog_then_refuses_ends_rejected() {
    let sys = OrderSystem::start().await;
    sys.seed(&[("a", "A", 100, 3)]).await;
    sys.set_mode(Mode::FailRoute(reservations_route()));
    let placed = sys.place("pia", &[("a", 3)]).await;
    assert_eq!(placed.status, 202, "{}", placed.text);
    let id = id_of(&placed.body);
    // The stock goes elsewhere meanwhile.
    sys.put_product("a", &product("A", 100, 1)).await;
    sys.set_mode(Mode::Forward);
    sys.wait_status(&id, "rejected", SETTLE_WITHIN).await;
    assert_eq!(sys.stock("a").await, 1);
    assert_eq!(sys.reservation(&id).await.status, 404);
    sys.assert_invariant(&stocks(&[("a", 1)]), &["pia"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_while_the_catalog_is_down_finishes_later() {
    let sys = OrderSystem::start().await;
    sys.seed(&[("a", "A", 100, 10)]).await;
    let order = sys.place_confirmed("quinn", &[("a", 4)]).await;
    let id = id_of(&order);
    assert_eq!(sys.stock("a").await, 6);

    sys.set_mode(Mode::Down);
    let cancel = sys.cancel(&id).await;
    assert_eq!(cancel.status, 202, "{}", cancel.text);
    assert_eq!(cancel.body["status"], "cancelling");
    assert_eq!(sys.order(&id).await.body["status"], "cancelling");
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(sys.stock("a").await, 6);

    sys.set_mode(Mode::Forward);
    sys.wait_status(&id, "cancelled", SETTLE_WITHIN).await;
    assert_eq!(sys.stock("a").await, 10);
    let again = sys.cancel(&id).await;
    assert_eq!(
        (again.status.as_u16(), again.body["status"].as_str()),
        (200, Some("cancelled"))
    );
    sys.assert_invariant(&stocks(&[("a", 10)]), &["quinn"])
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_catalog_is_given_up_on() {
    let sys = OrderSystem::start().await;
    sys.seed(&[("a", "A", 100, 10)]).await;

    // The batch read never answers: 503, nothing stored.
    sys.set_mode(Mode::HoldBeforeForward(batch_get_route()));
    let refused = sys.place("rex", &[("a", 1)]).await;
    assert_eq!(
        (refused.status.as_u16(), refused.code()),
        (503, "catalog_unavailable"),
        "{}",
        refused.text
    );
    sys.set_mode(Mode::Forward);
    assert!(sys.customer_orders("rex", 20).await.is_empty());

    // The reservation never answers: 202 pending, settled once the catalog answers again.
    sys.set_mode(Mode::HoldBeforeForward(reservations_route()));
    let placed = sys.place("rex", &[("a", 2)]).await;
    assert_eq!(placed.status, 202, "{}", placed.text);
    assert_eq!(placed.body["status"], "pending");
    let id = id_of(&placed.body);
    sys.set_mode(Mode::Forward);
    sys.wait_status(&id, "confirmed", SETTLE_WITHIN).await;
    assert_eq!(sys.stock("a").await, 8);
    sys.assert_invariant(&stocks(&[("a", 10)]), &["rex"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalog_process_dies_and_comes_back() {
    let mut sys = OrderSystem::start().await;
    sys.seed(&[("a", "A", 100, 10)]).await;
    let order = sys.place_confirmed("sam", &[("a", 1)]).await;

    sys.catalog.node.kill9().await;
    let refused = sys.place("sam", &[("a", 1)]).await;
    assert_eq!(
        (refused.status.as_u16(), refused.code()),
        (503, "catalog_unavailable"),
        "{}",
        refused.text
    );
    assert_eq!(sys.order(&id_of(&order)).await.status, 200);

    sys.catalog.node.restart().await;
    sys.place_confirmed("sam", &[("a", 2)]).await;
    assert_eq!(sys.customer_orders("sam", 20).await.len(), 2);
    sys.assert_invariant(&stocks(&[("a", 10)]), &["sam"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_order_past_its_timeout_is_released_and_rejected() {
    let sys = OrderSystem::start_with(&["--pending-timeout-secs", "3"]).await;
    sys.seed(&[("a", "A", 100, 10)]).await;
    let route = reservations_route();
    // The catalog holds the stock every time, but order-node never hears of it.
    sys.set_mode(Mode::HoldAfterForward(route.clone()));
    let post = sys.spawn_request(
        Some("shop"),
        reqwest::Method::POST,
        "/v1/orders",
        Some(system_tests::orders::order_body("yuri", &[("a", 4)])),
        &[],
    );
    sys.proxy
        .wait_forwarded(&route, 1, Duration::from_secs(30))
        .await;
    assert_eq!(sys.stock("a").await, 6);
    let placed = post.await.unwrap().expect("order-node answered");
    assert_eq!(placed.status, 202, "{}", placed.text);
    let id = id_of(&placed.body);

    // Given up: the reservation the catalog did make is released, the order rejected.
    sys.wait_status(&id, "rejected", Duration::from_secs(40))
        .await;
    assert_eq!(sys.stock("a").await, 10);
    assert_eq!(sys.reservation(&id).await.body["status"], "released");

    // Late retries never hold again.
    sys.set_mode(Mode::Forward);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(sys.order(&id).await.body["status"], "rejected");
    sys.assert_invariant(&stocks(&[("a", 10)]), &["yuri"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_catalog_within_the_timeout_is_just_slow() {
    let sys = OrderSystem::start_with(&["--catalog-timeout-ms", "20000"]).await;
    sys.seed(&[("a", "A", 100, 10)]).await;
    sys.set_mode(Mode::HoldBeforeForward(batch_get_route()));
    let post = sys.spawn_request(
        Some("shop"),
        reqwest::Method::POST,
        "/v1/orders",
        Some(system_tests::orders::order_body("zed", &[("a", 1)])),
        &[],
    );
    sys.proxy
        .wait_for(&batch_get_route(), 1, Duration::from_secs(30))
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!post.is_finished());
    sys.proxy
        .set_mode_forwarding_held(Mode::HoldAfterForward(reservations_route()));
    sys.proxy
        .wait_forwarded(&reservations_route(), 1, Duration::from_secs(30))
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!post.is_finished());
    sys.proxy.set_mode_forwarding_held(Mode::Forward);
    let reply = post.await.unwrap().expect("order-node answered");
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.body["status"], "confirmed");
    assert_eq!(sys.stock("a").await, 9);
    sys.assert_invariant(&stocks(&[("a", 10)]), &["zed"]).await;
}
