//! SIGTERM in the middle of a stream of writes, for catalog-node and search-node (order-node's
//! is in `shutdown`): the node stops its background tasks, closes its store, exits 0, and a
//! restart on the same directory finds every acknowledged write and no lock left behind.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use system_tests::{CatalogNode, Node, SearchSystem, product};

/// Logged when a background task did not stop within the drain limit.
const LEFT_RUNNING: &str = "background tasks still running at shutdown";

/// Writes products `drain-0`, `drain-1`, ... to the catalog at `base` until it stops
/// answering; counts the acknowledged ones in `acked` (they are acknowledged in order).
fn write_stream(base: String, token: String, acked: Arc<AtomicU64>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let http = reqwest::Client::new();
        for i in 0u64..1_000_000 {
            let sent = http
                .put(format!("{base}/v1/products/drain-{i}"))
                .bearer_auth(&token)
                .json(&product(&format!("Drained {i}"), 100 + i, 5))
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => acked.store(i + 1, Ordering::SeqCst),
                _ => break,
            }
        }
    })
}

fn assert_clean_exit(code: Option<i32>, log: &str, closed: &str) {
    assert_eq!(
        code,
        Some(0),
        "the node did not exit cleanly:\n{}",
        tail(log)
    );
    assert!(
        log.contains(closed),
        "no clean close logged:\n{}",
        tail(log)
    );
    assert!(
        !log.contains(LEFT_RUNNING),
        "a task outlived shutdown:\n{}",
        tail(log)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_node_drains_and_closes_its_store_on_sigterm() {
    let _serial = crate::SERIAL.lock().await;
    let mut catalog = CatalogNode::start().await;
    let acked = Arc::new(AtomicU64::new(0));
    let writes = write_stream(
        catalog.node.base().to_owned(),
        catalog.callers.token("admin"),
        acked.clone(),
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let code = catalog.node.terminate().await;
    writes.abort();
    let acked = acked.load(Ordering::SeqCst);
    assert!(acked > 0, "no write was acknowledged before SIGTERM");
    assert_clean_exit(code, &catalog.node.log(), "store closed cleanly");

    // sled locks its directory while open: the restart proves the lock was let go.
    catalog.node = Node::start(catalog.node.spec().clone()).await;
    let admin = catalog.as_role("admin");
    for i in [0, acked / 2, acked - 1] {
        let reply = admin.get(&format!("/v1/products/drain-{i}")).await;
        assert_eq!(
            reply.status, 200,
            "acknowledged write drain-{i} lost: {:?}",
            reply.body
        );
    }
    eprintln!("catalog-node: {acked} writes acknowledged before SIGTERM, all there after restart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_node_drains_and_releases_its_index_on_sigterm() {
    let _serial = crate::SERIAL.lock().await;
    let mut system = SearchSystem::start().await;
    let acked = Arc::new(AtomicU64::new(0));
    let writes = write_stream(
        system.catalog.node.base().to_owned(),
        system.catalog.callers.token("admin"),
        acked.clone(),
    );
    // Long enough for the follower to be applying and committing when the signal comes.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let code = system.node.terminate().await;
    assert_clean_exit(code, &system.node.log(), "index closed cleanly");
    tokio::time::sleep(Duration::from_millis(200)).await;
    writes.abort();
    let written = acked.load(Ordering::SeqCst);
    assert!(written > 0, "no catalog write was acknowledged");

    // tantivy allows one writer per index: the restart proves the first was released, and
    // the follower resumes from the last commit up to every catalog write.
    system.node = Node::start(system.node.spec().clone()).await;
    let ready = system.catalog.anonymous().get("/readyz").await;
    let head = ready.body["details"]["durable_seq"]
        .as_u64()
        .unwrap_or_else(|| panic!("no durable_seq in the catalog's /readyz: {:?}", ready.body));
    let search = system.node.client(Some(system.callers.token("shop")));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let reply = search
            .get(&format!("/v1/search?q=drained&limit=1&min_seq={head}"))
            .await;
        if reply.status == 200 {
            let total = reply.body["total"].as_u64().unwrap_or(0);
            assert!(
                total >= written,
                "{total} products indexed after the restart, {written} written"
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "search-node did not catch up after the restart: {} {:?}",
            reply.status,
            reply.body
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("search-node: restarted and caught up on {written} catalog writes");
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}
