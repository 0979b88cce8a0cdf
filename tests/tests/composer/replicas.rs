//! The catalog's read replicas behind order-node and the composer: product reads are spread
//! over them (counted on each replica's `/metrics`), reservations stay on the primary, and
//! with one replica down orders and composed views still succeed through the other.

use reqwest::Method;
use system_tests::backends::{Backends, Options, composer_vars};
use system_tests::composer::composer_wasm;
use system_tests::orders::order_body;
use system_tests::{Client, ComposerSystem, EdgeHost, Replica, identity, product};

use crate::id_of;

/// Requests a node answered on `route` with `method` and status 2xx, from its `/metrics`.
async fn answered(base: &str, method: &str, route: &str) -> f64 {
    let text = Client::new(base, None).get("/metrics").await.text;
    system_tests::http::answered(&text, method, route)
}

async fn batch_reads(base: &str) -> f64 {
    answered(base, "POST", "/v1/products:batchGet").await
}

async fn place(composer: &Client, customer: &str, key: &str) -> String {
    let placed = composer
        .send(
            Method::POST,
            "/v1/orders",
            Some(&order_body(customer, &[("lamp", 1), ("vase", 2)])),
            &[("idempotency-key", key)],
        )
        .await;
    assert_eq!(placed.status, 201, "{}", placed.text);
    assert_eq!(placed.body["status"], "confirmed", "{}", placed.text);
    id_of(&placed.body)
}

async fn view_is_whole(composer: &Client, id: &str) {
    let view = composer.get(&format!("/v1/order-views/{id}")).await;
    assert_eq!(view.status, 200, "{}", view.text);
    assert_eq!(
        view.body["errors"].as_array().map_or(0, Vec::len),
        0,
        "{}",
        view.text
    );
    for line in view.body["lines"].as_array().unwrap() {
        assert!(line["product"].is_object(), "{}", view.text);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_spread_over_the_replicas_and_survive_one_of_them_down() {
    let catalog = ComposerSystem::start_catalog(false).await;
    let admin = catalog.as_role("admin");
    admin
        .put("/v1/products/lamp", &product("Lamp", 2500, 500))
        .await;
    let seq = admin
        .put("/v1/products/vase", &product("Vase", 1200, 500))
        .await
        .seq();
    let (mut first, mut second) = tokio::join!(Replica::start(&catalog), Replica::start(&catalog));
    first
        .wait_applied(seq, std::time::Duration::from_secs(30))
        .await;
    second
        .wait_applied(seq, std::time::Duration::from_secs(30))
        .await;
    let reads = format!("{},{}", first.base(), second.base());

    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        orders_args: vec!["--catalog-read-urls".into(), reads.clone()],
        ..Options::quick_sagas()
    };
    let primary = catalog.node.base().to_owned();
    let backends = Backends::start(dir.path(), &catalog.callers, &primary, &options).await;
    let mut vars = composer_vars(
        [
            &catalog.callers,
            &backends.order_callers,
            &backends.search_callers,
        ],
        [&primary, backends.orders.base(), backends.search.base()],
        identity::vars(),
    );
    vars.push(format!("catalog_read_urls={reads}"));
    let host = EdgeHost::start(&composer_wasm(), &vars, &dir.path().join("edge-host.log")).await;
    let composer = Client::new(host.base(), Some(identity::token("ada")));

    // order-node takes the replicas in turn: six orders, three reads each.
    let mut orders = Vec::new();
    for i in 0..6 {
        orders.push(place(&composer, "ada", &format!("spread-{i}")).await);
    }
    let placed_reads = [
        batch_reads(first.base()).await,
        batch_reads(second.base()).await,
    ];
    assert_eq!(placed_reads, [3.0, 3.0], "order-node's reads per replica");
    // The composer starts each read at a random replica: over 20 views both get some.
    for i in 0..20 {
        view_is_whole(&composer, &orders[i % orders.len()]).await;
    }
    let view_reads = [
        batch_reads(first.base()).await - placed_reads[0],
        batch_reads(second.base()).await - placed_reads[1],
    ];
    assert_eq!(view_reads[0] + view_reads[1], 20.0, "{view_reads:?}");
    assert!(view_reads.iter().all(|n| *n > 0.0), "{view_reads:?}");
    // Reads never reached the primary; every reservation did.
    assert_eq!(batch_reads(&primary).await, 0.0);
    assert_eq!(answered(&primary, "POST", "/v1/reservations").await, 6.0);

    // One replica down: the other answers every read.
    first.node.kill9().await;
    for i in 0..4 {
        let id = place(&composer, "ada", &format!("one-down-{i}")).await;
        view_is_whole(&composer, &id).await;
    }
    assert_eq!(batch_reads(&primary).await, 0.0);

    // Both down: the primary answers the reads too.
    second.node.kill9().await;
    let id = place(&composer, "ada", "both-down").await;
    view_is_whole(&composer, &id).await;
    assert_eq!(batch_reads(&primary).await, 2.0);
    let lamp = catalog.as_role("reader").get("/v1/products/lamp").await;
    assert_eq!(lamp.body["stock"], 489);
}
