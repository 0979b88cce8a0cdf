//! What backup and restore refuse: callers without the admin scope, damaged or foreign
//! archives, occupied data directories. A refusal never writes anything.

use std::path::Path;

use system_tests::backup::{self, Run, listing};
use system_tests::{CatalogNode, Client, OrderSystem, SearchSystem, product};

/// Checks the backup route of a node: 401 without or with an unknown token, 403 for each
/// of `others`, 200 with an archive for `operator`; the health routes stay open.
async fn check_route(node: &Client, operator: String, others: &[String]) {
    let path = "/v1/admin/backup";
    let none = node.as_caller(None).get(path).await;
    assert_eq!(none.status, 401, "{}", none.text);
    assert_eq!(none.code(), "unauthorized");
    let unknown = node
        .as_caller(Some("not-a-token-anyone-has".into()))
        .get(path)
        .await;
    assert_eq!(unknown.status, 401, "{}", unknown.text);
    for token in others {
        let r = node.as_caller(Some(token.clone())).get(path).await;
        assert_eq!(r.status, 403, "{}", r.text);
        assert_eq!(r.code(), "forbidden");
    }
    let ok = node.as_caller(Some(operator)).get(path).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(
        ok.header("content-type").as_deref(),
        Some("application/octet-stream")
    );
    assert!(ok.header("x-backup-point").is_some());
    for open in ["/healthz", "/readyz", "/metrics"] {
        assert_eq!(node.as_caller(None).get(open).await.status, 200, "{open}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backup_route_needs_the_admin_scope() {
    let cat = CatalogNode::start().await;
    let others: Vec<String> = ["admin", "order-node", "search-node", "reader"]
        .iter()
        .map(|r| cat.callers.token(r))
        .collect();
    check_route(&cat.anonymous(), cat.callers.token("operator"), &others).await;

    let orders = OrderSystem::start().await;
    let others: Vec<String> = ["shop", "viewer", "clerk", "other-service"]
        .iter()
        .map(|r| orders.callers.token(r))
        .collect();
    check_route(
        &orders.anonymous(),
        orders.callers.token("operator"),
        &others,
    )
    .await;
    // A catalog operator is nobody at order-node.
    let foreign = orders
        .anonymous()
        .as_caller(Some(orders.catalog.callers.token("operator")))
        .get("/v1/admin/backup")
        .await;
    assert_eq!(foreign.status, 401, "{}", foreign.text);

    let search = SearchSystem::start().await;
    let others: Vec<String> = ["shop", "other"]
        .iter()
        .map(|r| search.callers.token(r))
        .collect();
    check_route(
        &search.anonymous(),
        search.callers.token("operator"),
        &others,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backup_command_writes_nothing_when_refused() {
    let cat = CatalogNode::start().await;
    let dir = cat.dir.path().join("backups");
    std::fs::create_dir(&dir).unwrap();
    let out = dir.join("catalog.backup");
    backup::backup(
        "catalog-node",
        cat.node.base(),
        &cat.callers.token("admin"),
        &out,
    )
    .await
    .expect_refusal("a backup without catalog:admin", "403");
    backup::backup(
        "catalog-node",
        cat.node.base(),
        "not-a-token-anyone-has",
        &out,
    )
    .await
    .expect_refusal("a backup with an unknown token", "401");
    backup::backup(
        "catalog-node",
        "http://127.0.0.1:9",
        &cat.callers.token("operator"),
        &out,
    )
    .await
    .expect_refusal("a backup of nothing", "cannot fetch the backup");
    assert!(listing(&dir).is_empty(), "{:?}", listing(&dir));
    // Every node speaks the same format, but each takes only its own kind.
    let orders = OrderSystem::start().await;
    backup::backup(
        "catalog-node",
        orders.node.base(),
        &orders.callers.token("operator"),
        &out,
    )
    .await
    .expect_refusal(
        "an orders archive fetched as a catalog backup",
        "kind \"orders\"",
    );
    backup::backup(
        "order-node",
        cat.node.base(),
        &cat.callers.token("operator"),
        &out,
    )
    .await
    .expect_refusal(
        "a catalog archive fetched as an orders backup",
        "kind \"catalog\"",
    );
    assert!(listing(&dir).is_empty(), "{:?}", listing(&dir));
}

/// Restores `archive` with `bin` into `data` and expects a refusal saying `needle`, with
/// nothing changed beside `data` (no staging directory, no moved-aside directory).
async fn refused(bin: &str, archive: &Path, data: &Path, force: bool, needle: &str) -> Run {
    let parent = data.parent().unwrap();
    let before = listing(parent);
    let inside = listing(data);
    let run = backup::restore(bin, archive, data, force).await;
    run.expect_refusal(&format!("restoring {}", archive.display()), needle);
    assert_eq!(
        listing(parent),
        before,
        "{needle}: something was written beside it"
    );
    assert_eq!(
        listing(data),
        inside,
        "{needle}: the data directory changed"
    );
    run
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_or_foreign_archive_is_refused_and_nothing_is_written() {
    let mut cat = CatalogNode::start().await;
    let admin = cat.as_role("admin");
    for i in 0..50 {
        let r = admin
            .put(
                &format!("/v1/products/p{i}"),
                &product(&format!("P {i}"), 100, 5),
            )
            .await;
        assert_eq!(r.status, 201);
    }
    let work = tempfile::tempdir().unwrap();
    let good = work.path().join("good.backup");
    backup::backup(
        "catalog-node",
        cat.node.base(),
        &cat.callers.token("operator"),
        &good,
    )
    .await
    .expect_ok("backup");
    let bytes = std::fs::read(&good).unwrap();

    let truncated = work.path().join("truncated.backup");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let mut flipped_bytes = bytes.clone();
    let at = bytes.len() / 2;
    flipped_bytes[at] ^= 0x20;
    let flipped = work.path().join("flipped.backup");
    std::fs::write(&flipped, &flipped_bytes).unwrap();
    let noise = work.path().join("noise.backup");
    std::fs::write(&noise, b"this is not an archive at all").unwrap();

    let target = work.path().join("restored");
    refused("catalog-node", &truncated, &target, false, "truncated").await;
    let damaged = refused(
        "catalog-node",
        &flipped,
        &target,
        false,
        "nothing was written",
    )
    .await;
    assert!(
        ["checksum", "corrupt", "truncated"]
            .iter()
            .any(|w| damaged.stderr.contains(w)),
        "{}",
        damaged.stderr
    );
    refused(
        "catalog-node",
        &noise,
        &target,
        false,
        "not a backup archive",
    )
    .await;
    refused("order-node", &good, &target, false, "kind \"catalog\"").await;
    refused("search-node", &good, &target, false, "kind \"catalog\"").await;
    assert!(!target.exists());

    // An occupied data directory: refused without --force, refused with it while the node
    // runs, replaced (the old contents moved aside) once it is stopped.
    let live = cat.node.data_dir().to_owned();
    refused("catalog-node", &good, &live, false, "not empty").await;
    refused("catalog-node", &good, &live, true, "in use").await;
    assert_eq!(cat.node.terminate().await, Some(0));
    let old = listing(&live);
    let forced = backup::restore("catalog-node", &good, &live, true).await;
    forced.expect_ok("forced restore");
    assert!(forced.stdout.contains("moved to"), "{}", forced.stdout);
    let aside: Vec<String> = listing(live.parent().unwrap())
        .into_iter()
        .filter(|n| n.contains(".replaced-"))
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_eq!(listing(&live.parent().unwrap().join(&aside[0])), old);
    cat.node.restart().await;
    let page = admin.get("/v1/products?limit=1000").await;
    assert_eq!(page.body["products"].as_array().unwrap().len(), 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_node_is_never_restored_over() {
    let work = tempfile::tempdir().unwrap();

    let orders = OrderSystem::start().await;
    let archive = work.path().join("orders.backup");
    let token = orders.callers.token("operator");
    backup::backup("order-node", orders.node.base(), &token, &archive)
        .await
        .expect_ok("orders backup");
    let live = orders.node.data_dir().to_owned();
    refused("order-node", &archive, &live, true, "in use").await;

    let search = SearchSystem::start().await;
    let archive = work.path().join("search.backup");
    let token = search.callers.token("operator");
    backup::backup("search-node", search.node.base(), &token, &archive)
        .await
        .expect_ok("search backup");
    let live = search.node.data_dir().to_owned();
    refused("search-node", &archive, &live, true, "in use").await;
    refused("search-node", &archive, &live, false, "not empty").await;
}
