//! Clients that give up mid-request: the catalog answers each saga step late, the client hangs
//! up before it does, and the order must still settle within seconds of the catalog's answer
//! (not at the next restart, nor at the pending timeout), with stock consistent.

use std::time::{Duration, Instant};

use serde_json::Value;
use system_tests::orders::{batch_get_route, order_body, release_route, reservations_route};
use system_tests::{Mode, OrderSystem, Route};

/// How late the catalog answers the step under test.
const CATALOG_LATE: Duration = Duration::from_millis(1500);

/// How long the client waits before it hangs up.
const CLIENT_GIVES_UP: Duration = Duration::from_millis(500);

/// How soon after the catalog's answer the order must have settled.
const SETTLES_WITHIN: Duration = Duration::from_secs(5);

fn impatient() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(CLIENT_GIVES_UP)
        .build()
        .unwrap()
}

/// Sends `POST path` as `shop` and hangs up after [`CLIENT_GIVES_UP`].
async fn hang_up(system: &OrderSystem, path: &str, body: Option<&Value>) {
    let mut request = impatient()
        .post(format!("{}{path}", system.node.base()))
        .bearer_auth(system.callers.token("shop"));
    if let Some(body) = body {
        request = request.json(body);
    }
    let outcome = request.send().await;
    assert!(
        outcome.as_ref().is_err_and(reqwest::Error::is_timeout),
        "the client was meant to give up, but got {outcome:?}"
    );
}

/// The customer's orders, newest first.
async fn orders_of(system: &OrderSystem, customer: &str) -> Vec<Value> {
    let reply = system
        .orders()
        .get(&format!("/v1/orders?customer_id={customer}"))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.body["orders"].as_array().cloned().unwrap_or_default()
}

/// Waits until `customer`'s only order has `status`; panics with the logs past `within`.
async fn wait_status(
    system: &OrderSystem,
    customer: &str,
    status: &str,
    within: Duration,
) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let orders = orders_of(system, customer).await;
        if let [order] = orders.as_slice()
            && order["status"] == status
        {
            return order.clone();
        }
        assert!(
            Instant::now() < deadline,
            "{customer}'s order did not become {status} within {within:?}: {orders:?}\n{}",
            system.node.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn slow_step(system: &OrderSystem, route: Route) {
    system.proxy.set_mode(Mode::Delay(route, CATALOG_LATE));
}

#[tokio::test]
async fn a_client_hanging_up_during_the_batch_read_still_gets_a_settled_order() {
    let _serial = crate::SERIAL.lock().await;
    let system = OrderSystem::start().await;
    system.seed(&[("hang-a", "Anvil", 500, 10)]).await;
    slow_step(&system, batch_get_route()).await;
    hang_up(
        &system,
        "/v1/orders",
        Some(&order_body("hang-read", &[("hang-a", 2)])),
    )
    .await;
    // Placing runs apart from the request: once the catalog answers, the order is priced,
    // recorded and reserved as if the client had waited (a retry with the same
    // Idempotency-Key would be given this order).
    wait_status(
        &system,
        "hang-read",
        "confirmed",
        CATALOG_LATE + SETTLES_WITHIN,
    )
    .await;
    assert_eq!(system.stock("hang-a").await, 8);
}

#[tokio::test]
async fn a_client_hanging_up_during_the_reservation_still_gets_its_order_confirmed() {
    let _serial = crate::SERIAL.lock().await;
    let system = OrderSystem::start().await;
    system.seed(&[("hang-b", "Bellows", 700, 10)]).await;
    slow_step(&system, reservations_route()).await;
    let started = Instant::now();
    hang_up(
        &system,
        "/v1/orders",
        Some(&order_body("hang-reserve", &[("hang-b", 3)])),
    )
    .await;
    let order = wait_status(
        &system,
        "hang-reserve",
        "confirmed",
        CATALOG_LATE + SETTLES_WITHIN,
    )
    .await;
    eprintln!(
        "reservation answered {CATALOG_LATE:?} late; order confirmed {:?} after the client hung up",
        started.elapsed()
    );
    assert_eq!(system.stock("hang-b").await, 7);
    let id = order["id"].as_str().unwrap();
    let reservation = system.reservation(id).await;
    assert_eq!(reservation.status, 200, "{}", reservation.text);
}

#[tokio::test]
async fn a_client_hanging_up_during_the_cancellation_still_gets_its_stock_back() {
    let _serial = crate::SERIAL.lock().await;
    let system = OrderSystem::start().await;
    system.seed(&[("hang-c", "Chisel", 300, 10)]).await;
    let order = system
        .place_confirmed("hang-cancel", &[("hang-c", 4)])
        .await;
    assert_eq!(system.stock("hang-c").await, 6);
    let id = order["id"].as_str().unwrap().to_owned();
    slow_step(&system, release_route()).await;
    hang_up(&system, &format!("/v1/orders/{id}/cancel"), None).await;
    wait_status(
        &system,
        "hang-cancel",
        "cancelled",
        CATALOG_LATE + SETTLES_WITHIN,
    )
    .await;
    assert_eq!(system.stock("hang-c").await, 10);
}

#[tokio::test]
async fn clients_hanging_up_at_random_moments_leave_every_order_settled() {
    let _serial = crate::SERIAL.lock().await;
    let system = OrderSystem::start().await;
    system.seed(&[("hang-d", "Drill", 900, 1_000)]).await;
    let n = if crate::long() { 200 } else { 30 };
    let mut rng = system_tests::Rng::new(0x004a_04e6);
    system.proxy.set_mode(Mode::Delay(
        Route::prefix("*", "/v1/"),
        Duration::from_millis(300),
    ));
    let mut placed = Vec::new();
    for i in 0..n {
        let customer = format!("hang-rand-{i}");
        let gives_up = Duration::from_millis(rng.range(1, 900));
        let client = reqwest::Client::builder()
            .timeout(gives_up)
            .build()
            .unwrap();
        let _ = client
            .post(format!("{}/v1/orders", system.node.base()))
            .bearer_auth(system.callers.token("shop"))
            .json(&order_body(&customer, &[("hang-d", 1)]))
            .send()
            .await;
        placed.push(customer);
    }
    system.proxy.set_mode(Mode::Forward);
    // Steps under way when their client hung up go on: let the slowed calls land first.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let deadline = Instant::now() + SETTLES_WITHIN;
    let mut confirmed = 0u64;
    for customer in &placed {
        loop {
            let orders = orders_of(&system, customer).await;
            // None: the client hung up before the order was recorded. One: it must settle.
            match orders.as_slice() {
                [] => break,
                [order] if order["status"] == "confirmed" => {
                    confirmed += 1;
                    break;
                }
                [order] => assert!(
                    Instant::now() < deadline,
                    "{customer}'s order stays {}",
                    order["status"]
                ),
                more => panic!("{customer} has {} orders", more.len()),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    assert_eq!(system.stock("hang-d").await, 1_000 - confirmed);
}
