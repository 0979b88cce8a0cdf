//! Bootstrapping from a catalog that already holds products, and the `reindex` subcommand.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use system_tests::search::{has_word, hit_ids, hits, name_with_token, total};
use system_tests::{CatalogNode, Mode, Route, SearchSystem, binary};

use crate::{assert_absent, assert_found, seed};

/// Products in `demo/catalog.jsonl`.
const DEMO_PRODUCTS: usize = 3000;

/// A catalog started on a data directory into which the demo catalogue was imported, and the
/// temporary directory that holds that data directory.
async fn demo_catalog() -> (CatalogNode, tempfile::TempDir) {
    let demo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../demo/catalog.jsonl");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = std::process::Command::new(binary("catalog-node"))
        .arg("--data-dir")
        .arg(&data)
        .arg("import")
        .arg(&demo)
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        CatalogNode::start_with(binary("catalog-node"), Some(data)).await,
        dir,
    )
}

/// Products of `products` whose name or description holds `word`, optionally in `category`.
fn matching(products: &[Value], word: &str, category: Option<&str>) -> usize {
    products
        .iter()
        .filter(|p| category.is_none_or(|c| p["category"] == c))
        .filter(|p| {
            has_word(p["name"].as_str().unwrap(), word)
                || has_word(p["description"].as_str().unwrap(), word)
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstraps_from_the_demo_catalogue() {
    let (catalog, _data) = demo_catalog().await;
    let sys = SearchSystem::on_catalog(catalog, None).await;
    let details = sys.wait_ready().await;
    assert_eq!(details["bootstrapped"], true, "{details}");
    let (products, head) = sys.catalog_products().await;
    assert_eq!(products.len(), DEMO_PRODUCTS);
    let details = sys.wait_caught_up(head).await;
    assert_eq!(details["indexed_seq"], head, "{details}");
    sys.wait_metrics(
        &[
            "search_documents",
            "search_indexed_seq",
            "search_lag_events",
        ],
        Duration::from_secs(10),
        |v| v[0] == Some(DEMO_PRODUCTS as f64) && v[1] == Some(head as f64) && v[2] == Some(0.0),
    )
    .await;

    let r = sys
        .search_with(&[("q", "waterproof"), ("limit", "100")])
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let want = matching(&products, "waterproof", None);
    assert!(
        want > 100,
        "the demo catalogue changed: {want} waterproof products"
    );
    assert_eq!(total(&r), want as u64, "{}", r.text);
    assert_eq!(hits(&r).len(), 100);
    let r = sys
        .search_with(&[
            ("q", "waterproof"),
            ("category", "footwear"),
            ("limit", "100"),
        ])
        .await;
    assert_eq!(
        total(&r),
        matching(&products, "waterproof", Some("footwear")) as u64,
        "{}",
        r.text
    );
    assert!(hits(&r).iter().all(|h| h["category"] == "footwear"));
    // Every hit is a real product with its real name.
    for hit in hits(&r) {
        let id = hit["product_id"].as_str().unwrap();
        let product = products.iter().find(|p| p["id"] == id).unwrap();
        assert_eq!(hit["name"], product["name"]);
    }
    assert_eq!(sys.log_count("index rebuilt from a catalog snapshot"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_between_snapshot_pages_are_not_lost() {
    let (catalog, _data) = demo_catalog().await;
    let pages = Route::new("GET", "/v1/products");
    let sys = SearchSystem::on_catalog(catalog, Some(Mode::HoldBeforeForward(pages.clone()))).await;
    let proxy = sys.proxy();
    let within = Duration::from_secs(30);

    // Let the first page (ids up to electronics-00235) through, hold the second.
    proxy.wait_for(&pages, 1, within).await;
    proxy.set_mode_forwarding_held(Mode::HoldBeforeForward(pages.clone()));
    proxy.wait_for(&pages, 2, within).await;
    let r = sys.readyz().await.unwrap();
    assert_eq!(
        r.status, 503,
        "ready in the middle of its snapshot: {}",
        r.text
    );
    assert_eq!(r.body["details"]["bootstrapped"], false);

    // Change products of the page already read, of pages not read yet, and add new ones.
    let renamed = [
        ("apparel-00005", "page one"),
        ("books-00100", "page one"),
        ("outdoor-00010", "page three"),
    ];
    for (id, words) in renamed {
        sys.patch_product(
            id,
            &json!({ "name": name_with_token(id, &format!("Renamed {words}")) }),
        )
        .await;
    }
    for id in ["apparel-00010", "electronics-00001", "toys-00007"] {
        sys.delete_product(id).await;
    }
    sys.put_product(
        "aaa-first",
        &name_with_token("aaa-first", "Newcomer"),
        "",
        "toys",
    )
    .await;
    let seq = sys
        .put_product(
            "zzz-last",
            &name_with_token("zzz-last", "Newcomer"),
            "",
            "toys",
        )
        .await;

    proxy.set_mode_forwarding_held(Mode::Forward);
    sys.wait_ready().await;
    let r = sys.search_after("renamed", seq).await;
    assert_eq!(r.body["caught_up"], true, "{}", r.text);
    assert_eq!(total(&r), 3, "{}", r.text);
    for (id, words) in renamed {
        assert_found(&sys, id, &name_with_token(id, &format!("Renamed {words}"))).await;
    }
    for id in ["apparel-00010", "electronics-00001", "toys-00007"] {
        let r = sys.search(&format!("product_id:\"{id}\"")).await;
        assert_eq!(total(&r), 0, "deleted {id} is indexed: {}", r.text);
    }
    let r = sys.search("newcomer").await;
    let mut ids = hit_ids(&r);
    ids.sort();
    assert_eq!(ids, ["aaa-first", "zzz-last"], "{}", r.text);
    let products = sys.index_equals_catalog_by_id().await;
    assert_eq!(products.len(), DEMO_PRODUCTS - 3 + 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reindex_rebuilds_the_index_from_the_catalog() {
    let mut sys = SearchSystem::start_proxied().await;
    let seq = seed(&sys, "ri", 12, "Garden hose", "garden").await;
    let r = sys.search_after("hose", seq).await;
    assert_eq!(total(&r), 12);
    sys.wait_caught_up(seq).await;
    let queries = ["hose", "garden", "ri3", "product_id:ri7", "hose garden"];
    let mut before = Vec::new();
    for q in queries {
        before.push(sys.search_with(&[("q", q), ("limit", "100")]).await.body);
    }

    // While search-node runs, its index is locked.
    let locked = sys.reindex().await;
    assert!(
        !locked.status.success(),
        "reindex ran beside a running node"
    );
    let stderr = String::from_utf8_lossy(&locked.stderr);
    assert!(stderr.contains("in use by another process"), "{stderr}");

    // Stopped: the same catalog gives the same answers after a reindex.
    assert_eq!(sys.stop_search().await, Some(0));
    let out = sys.reindex().await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("reindexed 12 products"), "{stdout}");
    sys.restart_search().await;
    sys.wait_ready().await;
    for (q, was) in queries.iter().zip(&before) {
        let now = sys.search_with(&[("q", q), ("limit", "100")]).await;
        assert_eq!(now.status, 200, "{}", now.text);
        let ids = |v: &Value| -> Vec<String> {
            let mut ids: Vec<String> = v["hits"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| format!("{} {}", h["product_id"], h["name"]))
                .collect();
            ids.sort();
            ids
        };
        assert_eq!(ids(&now.body), ids(was), "{q:?} changed after reindex");
        assert_eq!(now.body["total"], was["total"], "{q:?}");
    }

    // Changes made while the node is stopped are in the rebuilt index, even when the node
    // then cannot reach the catalog at all.
    assert_eq!(sys.stop_search().await, Some(0));
    let renamed = name_with_token("ri0", "Watering can");
    sys.patch_product("ri0", &json!({ "name": renamed })).await;
    sys.delete_product("ri1").await;
    let added = name_with_token("ri99", "Garden hose reel");
    let head = sys.put_product("ri99", &added, "", "garden").await;
    let out = sys.reindex().await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("reindexed 12 products"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    sys.set_mode(Mode::Down);
    sys.restart_search().await;
    let details = sys.wait_ready().await;
    assert_eq!(details["indexed_seq"], head, "{details}");
    assert_found(&sys, "ri0", &renamed).await;
    assert_absent(&sys, "ri1").await;
    assert_found(&sys, "ri99", &added).await;
    assert_eq!(total(&sys.search("hose").await), 11);

    // A reindex that cannot reach the catalog fails and leaves the index as it was.
    assert_eq!(sys.stop_search().await, Some(0));
    let out = sys.reindex().await;
    assert!(!out.status.success(), "reindex succeeded without a catalog");
    sys.restart_search().await;
    sys.wait_ready().await;
    assert_eq!(total(&sys.search("hose").await), 11);
    sys.set_mode(Mode::Forward);
    sys.index_equals_catalog().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_feed_cursor_rebuilds_the_index() {
    let mut sys = SearchSystem::start().await;
    let seq = seed(&sys, "x", 5, "Flower pot", "garden").await;
    assert_eq!(total(&sys.search_after("pot", seq).await), 5);
    sys.wait_caught_up(seq).await;

    // search-node is away while a product is deleted and its tombstone expires.
    sys.kill_search().await;
    let deleted = sys.delete_product("x1").await;
    let renamed = name_with_token("x2", "Seed tray");
    sys.patch_product("x2", &json!({ "name": renamed })).await;
    let mut spec = sys.catalog.node.spec().clone();
    spec.args
        .extend(["--tombstone-retention-hours".to_owned(), "0".to_owned()]);
    sys.catalog.node.kill9().await;
    sys.catalog.node = system_tests::Node::start(spec).await;
    // The catalog expires tombstones in the background right after it starts.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let ready = sys.catalog.anonymous().get("/readyz").await;
        if ready.body["details"]["feed_horizon"]
            .as_u64()
            .is_some_and(|h| h >= deleted)
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the catalog did not expire the tombstone: {}",
            ready.text
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let feed = sys.catalog.as_role("search-node");
    let expired = feed.get(&format!("/v1/events?after={seq}")).await;
    assert_eq!(
        (expired.status.as_u16(), expired.code()),
        (410, "cursor_expired"),
        "the scenario needs an expired cursor: {}",
        expired.text
    );

    sys.restart_search().await;
    let head = sys.catalog_products().await.1;
    assert!(head > deleted);
    sys.wait_caught_up(head).await;
    assert_absent(&sys, "x1").await;
    assert_found(&sys, "x2", &renamed).await;
    assert_eq!(total(&sys.search("pot").await), 3);
    sys.index_equals_catalog().await;
    assert!(
        sys.log_count("feed cursor expired") >= 1,
        "{}",
        sys.node.log()
    );
    assert_eq!(sys.log_count("index rebuilt from a catalog snapshot"), 2);
}
