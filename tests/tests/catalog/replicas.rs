//! Read replicas (`catalog-node --replica-of`): they converge to the primary exactly under a
//! stream of writes, also after a SIGKILL; `min_seq` reads see their write; writes are
//! refused with the primary named; a replica is not ready before it has caught up.

use std::time::Duration;

use serde_json::json;
use system_tests::replica::all_products;
use system_tests::{CatalogNode, Client, Replica, Rng, product};

const CONVERGE: Duration = Duration::from_secs(30);

/// `n` writes of every kind on products `w0..w39`; returns the seq of the last one.
async fn write_stream(admin: &Client, rng: &mut Rng, n: usize) -> u64 {
    let mut last = 0;
    for _ in 0..n {
        let id = format!("w{}", rng.below(40));
        let path = format!("/v1/products/{id}");
        let reply = match rng.below(10) {
            0..=4 => {
                let body = product(&format!("W {}", rng.below(1000)), rng.range(1, 9999), 50);
                admin.put(&path, &body).await
            }
            5 | 6 => {
                let delta = i64::try_from(rng.range(1, 5)).unwrap();
                let delta = if rng.chance(50) { delta } else { -delta };
                admin
                    .patch(&format!("{path}/stock"), &json!({ "delta": delta }))
                    .await
            }
            _ => admin.delete(&path).await,
        };
        // Stock below zero and absent products are refused: those writes change nothing.
        if reply.status.is_success() {
            last = reply.seq();
        }
    }
    last
}

async fn head(primary: &CatalogNode) -> u64 {
    primary.anonymous().get("/readyz").await.body["details"]["durable_seq"]
        .as_u64()
        .unwrap()
}

#[tokio::test]
async fn two_replicas_converge_to_the_primary_exactly_under_a_stream_of_writes() {
    let primary = CatalogNode::start().await;
    let admin = primary.as_role("admin");
    let mut rng = Rng::new(15);
    // Some products exist before the replicas load, the rest arrive while they follow.
    write_stream(&admin, &mut rng, 60).await;
    let (a, b) = tokio::join!(Replica::start(&primary), Replica::start(&primary));
    let writer = {
        let admin = admin.clone();
        tokio::spawn(async move { write_stream(&admin, &mut Rng::new(16), 300).await })
    };
    writer.await.unwrap();
    let seq = head(&primary).await;
    let reader = primary.callers.token("reader");
    let expected = all_products(&primary.as_role("reader"), 0).await;
    assert!(!expected.is_empty());
    for replica in [&a, &b] {
        replica.wait_applied(seq, CONVERGE).await;
        let got = all_products(&replica.client(reader.clone()), seq).await;
        assert_eq!(got, expected, "replica {} differs", replica.base());
    }
}

#[tokio::test]
async fn a_replica_killed_mid_stream_resumes_and_converges() {
    let primary = CatalogNode::start().await;
    let admin = primary.as_role("admin");
    let mut rng = Rng::new(17);
    write_stream(&admin, &mut rng, 40).await;
    let mut replica = Replica::start(&primary).await;
    for round in 0..3 {
        let writer = {
            let admin = admin.clone();
            tokio::spawn(async move { write_stream(&admin, &mut Rng::new(18 + round), 100).await })
        };
        tokio::time::sleep(Duration::from_millis(150)).await;
        replica.node.kill9().await;
        writer.await.unwrap();
        replica.node.restart().await;
    }
    let seq = head(&primary).await;
    replica.wait_applied(seq, CONVERGE).await;
    let reader = primary.callers.token("reader");
    assert_eq!(
        all_products(&replica.client(reader), seq).await,
        all_products(&primary.as_role("reader"), 0).await
    );
}

#[tokio::test]
async fn a_read_with_min_seq_through_a_replica_sees_its_write() {
    let primary = CatalogNode::start().await;
    let admin = primary.as_role("admin");
    let replica = Replica::start(&primary).await;
    let read = replica.client(primary.callers.token("reader"));
    for price in 1..=20u64 {
        let put = admin.put("/v1/products/rw", &product("RW", price, 3)).await;
        assert!(put.status.is_success(), "{}", put.text);
        let seq = put.seq();
        // Without sleeping: the read waits for its seq.
        let got = read.get(&format!("/v1/products/rw?min_seq={seq}")).await;
        assert_eq!(got.status, 200, "{}", got.text);
        assert_eq!(got.body["price_minor"], price);
        assert!(got.seq() >= seq);
        let batch = read
            .post(
                &format!("/v1/products:batchGet?min_seq={seq}"),
                &json!({"ids": ["rw"]}),
            )
            .await;
        assert_eq!(batch.body["products"][0]["price_minor"], price);
    }
    // A seq the primary never wrote is not waited for forever.
    let far = head(&primary).await + 1000;
    let late = read
        .get(&format!("/v1/products/rw?min_seq={far}&wait_ms=200"))
        .await;
    assert_eq!((late.status.as_u16(), late.code()), (503, "not_caught_up"));
    let bad = read.get("/v1/products/rw?wait_ms=10001").await;
    assert_eq!(bad.status, 400, "{}", bad.text);
}

#[tokio::test]
async fn a_replica_refuses_writes_reservations_and_the_feed_naming_its_primary() {
    let primary = CatalogNode::start().await;
    let admin = primary.as_role("admin");
    let put = admin
        .put("/v1/products/kept", &product("Kept", 700, 5))
        .await;
    let replica = Replica::start(&primary).await;
    replica.wait_applied(put.seq(), CONVERGE).await;
    let as_admin = replica.client(primary.callers.token("admin"));
    let as_orders = replica.client(primary.callers.token("order-node"));
    let as_feed = replica.client(primary.callers.token("search-node"));
    let reservation = json!({"id": "r1", "items": [{"product_id": "kept", "qty": 1}]});
    let refused = [
        as_admin
            .put("/v1/products/kept", &product("Changed", 1, 1))
            .await,
        as_admin
            .put("/v1/products/new", &product("New", 1, 1))
            .await,
        as_admin.delete("/v1/products/kept").await,
        as_admin
            .patch("/v1/products/kept/stock", &json!({"delta": -1}))
            .await,
        as_orders.post("/v1/reservations", &reservation).await,
        as_orders.delete("/v1/reservations/r1").await,
        as_feed.get("/v1/events?after=0").await,
    ];
    for reply in refused {
        assert_eq!(
            (reply.status.as_u16(), reply.code()),
            (421, "read_only_replica"),
            "{}",
            reply.text
        );
        let message = reply.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(primary.node.base()), "{message}");
    }
    // Nothing changed, here or at the primary; the replica still serves.
    for node in [as_admin.clone(), admin.clone()] {
        let kept = node.get("/v1/products/kept").await;
        assert_eq!(kept.body["name"], "Kept", "{}", kept.text);
        assert_eq!(kept.body["stock"], 5);
        assert_eq!(node.get("/v1/products/new").await.status, 404);
    }
    // Auth still comes first: a reader cannot learn more than a 403.
    let reader = replica.client(primary.callers.token("reader"));
    let put = reader.put("/v1/products/kept", &product("X", 1, 1)).await;
    assert_eq!(put.status, 403);
}

#[tokio::test]
async fn a_replica_that_has_not_loaded_is_not_ready_and_answers_no_product_as_missing() {
    let primary = CatalogNode::start().await;
    // Nothing listens there: the replica cannot load anything.
    let replica = Replica::start_of(&primary, "http://127.0.0.1:9").await;
    let ready = replica.node.client(None).get("/readyz").await;
    assert_eq!(ready.status, 503, "{}", ready.text);
    assert_eq!(ready.body["details"]["replica"]["caught_up"], false);
    let read = replica.client(primary.callers.token("reader"));
    let got = read.get("/v1/products/anything").await;
    assert_eq!((got.status.as_u16(), got.code()), (503, "not_caught_up"));
}

#[tokio::test]
async fn a_primary_data_directory_is_not_taken_over_by_a_replica() {
    let mut primary = CatalogNode::start().await;
    primary
        .as_role("admin")
        .put("/v1/products/mine", &product("Mine", 1, 1))
        .await;
    let data = primary.node.data_dir().to_owned();
    primary.node.terminate().await;
    let mut spec = primary.node.spec().clone();
    spec.listen = "127.0.0.1:0".into();
    spec.args
        .extend(["--replica-of".into(), "http://127.0.0.1:9".into()]);
    spec.env
        .push(("CATALOG_PRIMARY_TOKEN".into(), "x".repeat(32)));
    let failed = system_tests::Node::try_start(spec).await.unwrap_err();
    assert!(
        failed.stderr.contains("holds a primary's data"),
        "{}",
        failed.stderr
    );
    assert!(data.exists());
}

#[tokio::test]
async fn a_replica_of_an_idle_catalog_is_ready_without_waiting_for_a_write() {
    let primary = CatalogNode::start().await;
    let replica = Replica::start(&primary).await;
    // Well under the feed's 10 s long-poll, which an idle primary would hold to the end.
    replica.wait_applied(0, Duration::from_secs(5)).await;
}
