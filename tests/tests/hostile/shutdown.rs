//! SIGTERM under load, then a restart of order-node holding many orders: the node drains, its
//! writer finishes, redb is closed cleanly (the next start runs no repair), and the start
//! time is reported.

use std::time::{Duration, Instant};

use futures::StreamExt;
use system_tests::orders::order_body;
use system_tests::{Node, OrderSystem};

fn orders() -> usize {
    if crate::long() { 100_000 } else { 20_000 }
}

/// What order-node logs when redb was not closed cleanly and must repair.
const REPAIR: &str = "repairing the database";
/// What order-node logs once its store is closed at shutdown.
const CLOSED: &str = "store closed cleanly";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_the_store_cleanly_and_the_restart_needs_no_repair() {
    let _serial = crate::SERIAL.lock().await;
    let mut system = OrderSystem::start().await;
    system.seed(&[("term-1", "Tea", 250, 10_000_000)]).await;
    let n = orders();
    let client = system.orders();
    let started = Instant::now();
    let statuses: Vec<u16> = futures::stream::iter(0..n)
        .map(|i| {
            let client = client.clone();
            async move {
                client
                    .post(
                        "/v1/orders",
                        &order_body(&format!("term-{}", i % 500), &[("term-1", 1)]),
                    )
                    .await
                    .status
                    .as_u16()
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let placed_in = started.elapsed();
    assert!(
        statuses.iter().all(|s| *s == 201),
        "not every order was confirmed: {:?}",
        statuses
            .iter()
            .filter(|s| **s != 201)
            .take(5)
            .collect::<Vec<_>>()
    );
    eprintln!("{n} orders placed in {placed_in:?}");

    // SIGTERM while a stream of orders is still arriving.
    let load = {
        let url = format!("{}/v1/orders", system.node.base());
        let token = system.callers.token("shop");
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            for i in 0u64.. {
                let sent = http
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&order_body(&format!("late-{i}"), &[("term-1", 1)]))
                    .send()
                    .await;
                if sent.is_err() {
                    break;
                }
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let code = system.node.terminate().await;
    load.abort();
    assert_eq!(
        code,
        Some(0),
        "order-node did not exit cleanly:\n{}",
        system.node.log()
    );
    let log = system.node.log();
    assert!(
        log.contains(CLOSED),
        "no clean close logged:\n{}",
        tail(&log)
    );

    let spec = system.node.spec().clone();
    let restarted = Instant::now();
    let node = Node::start(spec).await;
    let start_time = restarted.elapsed();
    let log = node.log();
    let starts = log.matches("listening").count();
    assert!(
        starts >= 2,
        "the log does not show the restart:\n{}",
        tail(&log)
    );
    assert!(
        !log.contains(REPAIR),
        "redb repaired at restart:\n{}",
        tail(&log)
    );
    let ready = node.client(None).get("/readyz").await;
    let count = ready.body["details"]["orders"].as_u64().unwrap();
    assert!(
        count >= n as u64,
        "{count} orders after the restart, {n} placed before"
    );
    eprintln!("order-node restarted on {count} orders in {start_time:?}, no repair");
    system.node = node;
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}
