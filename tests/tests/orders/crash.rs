//! kill -9 of order-node between the steps of the saga, placed precisely with the proxy.

use std::time::Duration;

use reqwest::Method;
use system_tests::orders::{SETTLE_WITHIN, order_body, release_route, reservations_route};
use system_tests::{Mode, OrderSystem, Route};

use crate::{id_of, stocks};

const SEEN_WITHIN: Duration = Duration::from_secs(30);

fn hold(route: Route, after_forward: bool) -> Mode {
    if after_forward {
        Mode::HoldAfterForward(route)
    } else {
        Mode::HoldBeforeForward(route)
    }
}

/// Places an order, holds its reservation call before or after the catalog applied it, kills
/// order-node there, lets the catalog through again and restarts order-node.
async fn crash_while_reserving(after_forward: bool) {
    let mut sys = OrderSystem::start().await;
    sys.seed(&[("a", "A", 100, 10), ("b", "B", 100, 5)]).await;
    let initial = stocks(&[("a", 10), ("b", 5)]);
    let route = reservations_route();
    sys.set_mode(hold(route.clone(), after_forward));
    let post = sys.spawn_request(
        Some("shop"),
        Method::POST,
        "/v1/orders",
        Some(order_body("kim", &[("a", 3), ("b", 1)])),
        &[],
    );
    if after_forward {
        sys.proxy.wait_forwarded(&route, 1, SEEN_WITHIN).await;
    } else {
        sys.proxy.wait_for(&route, 1, SEEN_WITHIN).await;
    }
    let reserved = sys.proxy.requests(&route)[0].json();
    let id = reserved["id"].as_str().expect("reservation id").to_owned();

    // The order was recorded as pending before the catalog was asked to hold stock.
    let listed = sys.customer_orders("kim", 20).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(id_of(&listed[0]), id, "the reservation id is the order id");
    assert_eq!(listed[0]["status"], "pending");
    if after_forward {
        assert_eq!(
            sys.stock("a").await,
            7,
            "the catalog applied the reservation"
        );
        assert_eq!(sys.reservation(&id).await.body["status"], "held");
    } else {
        assert_eq!(
            sys.stock("a").await,
            10,
            "the catalog never saw the reservation"
        );
        assert_eq!(sys.reservation(&id).await.status, 404);
    }

    sys.kill_orders().await;
    // The client got no answer, or (if order-node gave up on the catalog first) 202 pending.
    if let Ok(reply) = post.await.unwrap() {
        assert_eq!(reply.status, 202, "{}", reply.text);
        assert_eq!(id_of(&reply.body), id);
        assert_eq!(reply.body["status"], "pending");
    }
    sys.set_mode(Mode::Forward);
    sys.restart_orders().await;

    let order = sys.wait_status(&id, "confirmed", SETTLE_WITHIN).await;
    assert_eq!(order["lines"].as_array().unwrap().len(), 2);
    assert_eq!(sys.stock("a").await, 7, "held exactly once");
    assert_eq!(sys.stock("b").await, 4, "held exactly once");
    sys.assert_invariant(&initial, &["kim"]).await;

    // Nothing more happens later, or after another restart.
    sys.restart_orders().await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(sys.order(&id).await.body["status"], "confirmed");
    sys.assert_invariant(&initial, &["kim"]).await;
    assert_eq!(sys.customer_orders("kim", 20).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_after_recording_before_the_catalog_reserved() {
    crash_while_reserving(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_after_the_catalog_reserved_before_hearing_so() {
    crash_while_reserving(true).await;
}

/// Cancels a confirmed order, holds the release call before or after the catalog applied it,
/// kills order-node there, lets the catalog through again and restarts order-node.
async fn crash_while_releasing(after_forward: bool) {
    let mut sys = OrderSystem::start().await;
    sys.seed(&[("a", "A", 100, 10), ("b", "B", 100, 5)]).await;
    let initial = stocks(&[("a", 10), ("b", 5)]);
    let order = sys.place_confirmed("lena", &[("a", 3), ("b", 1)]).await;
    let id = id_of(&order);
    let other = sys.place_confirmed("lena", &[("a", 2)]).await;
    assert_eq!(sys.stock("a").await, 5);
    assert_eq!(sys.stock("b").await, 4);

    let route = release_route();
    sys.set_mode(hold(route.clone(), after_forward));
    let cancel = sys.spawn_request(
        Some("shop"),
        Method::POST,
        &format!("/v1/orders/{id}/cancel"),
        None,
        &[],
    );
    if after_forward {
        sys.proxy.wait_forwarded(&route, 1, SEEN_WITHIN).await;
    } else {
        sys.proxy.wait_for(&route, 1, SEEN_WITHIN).await;
    }
    assert_eq!(
        sys.proxy.requests(&route)[0].path,
        format!("/v1/reservations/{id}")
    );
    // The cancel was recorded before the catalog was asked to release.
    assert_eq!(sys.order(&id).await.body["status"], "cancelling");
    if after_forward {
        assert_eq!(sys.stock("a").await, 8, "the catalog applied the release");
        assert_eq!(sys.reservation(&id).await.body["status"], "released");
    } else {
        assert_eq!(sys.stock("a").await, 5, "the catalog never saw the release");
        assert_eq!(sys.reservation(&id).await.body["status"], "held");
    }

    sys.kill_orders().await;
    if let Ok(reply) = cancel.await.unwrap() {
        assert_eq!(reply.status, 202, "{}", reply.text);
        assert_eq!(reply.body["status"], "cancelling");
    }
    sys.set_mode(Mode::Forward);
    sys.restart_orders().await;

    sys.wait_status(&id, "cancelled", SETTLE_WITHIN).await;
    assert_eq!(sys.stock("a").await, 8, "released exactly once");
    assert_eq!(sys.stock("b").await, 5, "released exactly once");
    assert_eq!(sys.order(&id_of(&other)).await.body["status"], "confirmed");
    sys.assert_invariant(&initial, &["lena"]).await;

    sys.restart_orders().await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(sys.stock("a").await, 8);
    sys.assert_invariant(&initial, &["lena"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_during_cancel_before_the_catalog_released() {
    crash_while_releasing(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_during_cancel_after_the_catalog_released() {
    crash_while_releasing(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_orders_survive_kill_9() {
    let mut sys = OrderSystem::start().await;
    sys.seed(&[("a", "A", 100, 100), ("b", "B", 700, 3)]).await;
    let attempts: Vec<_> = (0..20)
        .map(|i| {
            let list: &[(&str, u32)] = if i % 4 == 0 {
                &[("b", 1), ("a", 1)]
            } else {
                &[("a", 2)]
            };
            sys.spawn_request(
                Some("shop"),
                Method::POST,
                "/v1/orders",
                Some(order_body("mo", list)),
                &[],
            )
        })
        .collect();
    let mut acknowledged = Vec::new();
    for attempt in attempts {
        let reply = attempt.await.unwrap().expect("order-node answered");
        let id = match reply.status.as_u16() {
            201 => id_of(&reply.body),
            409 => {
                assert_eq!(reply.code(), "insufficient_stock", "{}", reply.text);
                let location = reply.header("location").expect("location");
                location.trim_start_matches("/v1/orders/").to_owned()
            }
            other => panic!("unexpected {other}: {}", reply.text),
        };
        acknowledged.push(id);
    }
    let before: Vec<_> = {
        let mut v = Vec::new();
        for id in &acknowledged {
            let r = sys.order(id).await;
            assert_eq!(r.status, 200, "{}", r.text);
            v.push(r.body);
        }
        v
    };
    let confirmed = before.iter().filter(|o| o["status"] == "confirmed").count();
    assert_eq!(confirmed, 15 + 3, "15 orders of a, 3 of the 5 asking for b");

    sys.kill_orders().await;
    sys.restart_orders().await;
    for (id, was) in acknowledged.iter().zip(&before) {
        let now = sys.order(id).await;
        assert_eq!(now.status, 200, "{id} lost: {}", now.text);
        assert_eq!(&now.body, was, "{id} changed across the crash");
    }
    assert_eq!(sys.customer_orders("mo", 7).await.len(), 20);
    sys.assert_invariant(&stocks(&[("a", 100), ("b", 3)]), &["mo"])
        .await;
}
