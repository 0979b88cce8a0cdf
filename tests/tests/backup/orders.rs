//! order-node: a backup taken while orders are placed holds every order acknowledged before
//! it started, none placed after it ended, and each order whole.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::Value;
use system_tests::OrderSystem;
use system_tests::backup::{self, listing};
use system_tests::orders::{SETTLE_WITHIN, order_body};

use crate::{Stop, WRITES_AROUND_BACKUP};

const CUSTOMERS: [&str; 3] = ["cust-a", "cust-b", "cust-c"];
/// Placers running at once during the backup.
const PLACERS: usize = 3;

/// An order placed in the background: its id (when the node answered) and whether it was
/// sent after the backup had finished.
#[derive(Debug, Clone)]
struct Placed {
    id: Option<String>,
    sent_after_backup: bool,
}

/// Places orders until `stop`; `backup_done` tells when the backup has returned.
async fn place_until(
    sys_base: String,
    token: String,
    n: usize,
    stop: Stop,
    backup_done: Stop,
) -> Vec<Placed> {
    let client = system_tests::Client::new(&sys_base, Some(token));
    let mut placed = Vec::new();
    let mut i = 0;
    while !stop.is_set() {
        let sent_after_backup = backup_done.is_set();
        let customer = CUSTOMERS[(n + i) % CUSTOMERS.len()];
        let r = client
            .post("/v1/orders", &order_body(customer, &[("p1", 1), ("p2", 2)]))
            .await;
        assert!(
            r.status == 201 || r.status == 202,
            "placing: {} {}",
            r.status,
            r.text
        );
        placed.push(Placed {
            id: r.body["id"].as_str().map(str::to_owned),
            sent_after_backup,
        });
        i += 1;
    }
    placed
}

/// Asserts that an order's numbers add up and its status is one the saga produces.
fn assert_whole(order: &Value) {
    let id = &order["id"];
    let mut total = 0;
    for line in order["lines"].as_array().unwrap() {
        let unit = line["unit_price_minor"].as_u64().unwrap();
        let qty = line["qty"].as_u64().unwrap();
        assert_eq!(line["line_total_minor"], unit * qty, "order {id}: {order}");
        total += unit * qty;
    }
    assert_eq!(order["total_minor"], total, "order {id}: {order}");
    let status = order["status"].as_str().unwrap();
    assert!(
        [
            "pending",
            "confirmed",
            "rejected",
            "cancelling",
            "cancelled"
        ]
        .contains(&status),
        "order {id}: {order}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_orders_restores_every_acknowledged_order() {
    let mut sys = OrderSystem::start().await;
    sys.seed(&[
        ("p1", "Kettle", 1999, 1_000_000),
        ("p2", "Mug", 450, 1_000_000),
    ])
    .await;

    // Acknowledged before the backup: some confirmed, some cancelled.
    let mut before: BTreeMap<String, Value> = BTreeMap::new();
    for i in 0..30 {
        let order = sys
            .place_confirmed(CUSTOMERS[i % CUSTOMERS.len()], &[("p1", 1), ("p2", 3)])
            .await;
        let id = order["id"].as_str().unwrap().to_owned();
        if i % 5 == 0 {
            let r = sys.cancel(&id).await;
            assert_eq!(r.status, 200, "{}", r.text);
            before.insert(id, r.body);
        } else {
            before.insert(id, order);
        }
    }

    let stop = Stop::default();
    let backup_done = Stop::default();
    let placers: Vec<_> = (0..PLACERS)
        .map(|n| {
            tokio::spawn(place_until(
                sys.node.base().to_owned(),
                sys.callers.token("shop"),
                n,
                stop.clone(),
                backup_done.clone(),
            ))
        })
        .collect();
    tokio::time::sleep(WRITES_AROUND_BACKUP).await;

    let out = sys.dir.path().join("orders.backup");
    let run = backup::backup(
        "order-node",
        sys.node.base(),
        &sys.callers.token("operator"),
        &out,
    )
    .await;
    run.expect_ok("order-node backup");
    run.point("commit");
    backup_done.now();
    tokio::time::sleep(WRITES_AROUND_BACKUP).await;
    stop.now();
    let mut during = Vec::new();
    for p in placers {
        during.extend(p.await.unwrap());
    }
    let after: BTreeSet<String> = during
        .iter()
        .filter(|p| p.sent_after_backup)
        .filter_map(|p| p.id.clone())
        .collect();
    assert!(!after.is_empty(), "orders were placed after the backup");
    let placed: BTreeSet<String> = before
        .keys()
        .cloned()
        .chain(during.iter().filter_map(|p| p.id.clone()))
        .collect();

    assert_eq!(
        sys.node.terminate().await,
        Some(0),
        "order-node stops cleanly"
    );
    let data = sys.node.data_dir().to_owned();
    std::fs::remove_dir_all(&data).unwrap();
    backup::restore("order-node", &out, &data, false)
        .await
        .expect_ok("order-node restore");
    assert!(
        !listing(data.parent().unwrap())
            .iter()
            .any(|n| n.contains("restoring")),
        "no staging directory is left behind"
    );
    sys.restart_orders().await;

    // Every order acknowledged before the backup is back, exactly as it was.
    for (id, want) in &before {
        let r = sys.order(id).await;
        assert_eq!(r.status, 200, "order {id} is missing: {}", r.text);
        assert_eq!(&r.body, want, "order {id} changed");
    }
    // Whatever the customer index lists is a whole order we placed, listed once, and no
    // order sent after the backup had returned is there.
    let mut restored = BTreeSet::new();
    for customer in CUSTOMERS {
        for order in sys.customer_orders(customer, 50).await {
            assert_whole(&order);
            assert_eq!(order["customer_id"], customer, "{order}");
            let id = order["id"].as_str().unwrap().to_owned();
            assert!(placed.contains(&id), "order {id} was never placed");
            assert!(!after.contains(&id), "order {id} came after the backup");
            assert!(restored.insert(id.clone()), "order {id} listed twice");
        }
    }
    assert!(
        restored.len() > before.len(),
        "orders placed during the backup"
    );
    // The index and the orders agree: a batch read of everything placed finds exactly them.
    let ids: Vec<&str> = placed.iter().map(String::as_str).collect();
    let mut found = BTreeSet::new();
    for chunk in ids.chunks(500) {
        let r = sys
            .orders()
            .get(&format!("/v1/orders?ids={}", chunk.join(",")))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        for order in r.body["orders"].as_array().unwrap() {
            found.insert(order["id"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(found, restored);

    // The restored node goes on: open sagas settle and new orders are taken.
    for id in &restored {
        let deadline = tokio::time::Instant::now() + SETTLE_WITHIN;
        loop {
            let status = sys.order(id).await.body["status"].clone();
            if status != "pending" && status != "cancelling" {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "order {id} still {status}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    sys.place_confirmed("cust-a", &[("p1", 1)]).await;
}
