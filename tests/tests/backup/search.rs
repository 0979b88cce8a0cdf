//! search-node: a restored index resumes following the catalog from its backup's cursor and
//! catches up with everything that changed since.

use system_tests::SearchSystem;
use system_tests::backup::{self, listing};
use system_tests::search::name_with_token;

use crate::{Stop, WRITES_AROUND_BACKUP};

/// Upserts `live{i}` products until `stop`; returns how many.
async fn write_until(sys: &SearchSystem, stop: Stop) -> usize {
    let mut n = 0;
    while !stop.is_set() {
        let id = format!("live{n}");
        sys.put_product(
            &id,
            &name_with_token(&id, "Lantern"),
            "lights the way",
            "outdoor",
        )
        .await;
        n += 1;
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_index_resumes_the_feed_from_its_cursor() {
    let mut sys = SearchSystem::start().await;
    let mut seq = 0;
    for i in 0..150 {
        let id = format!("seed{i}");
        seq = sys
            .put_product(
                &id,
                &name_with_token(&id, "Kettle"),
                "boils water",
                "kitchen",
            )
            .await;
    }
    sys.wait_caught_up(seq).await;

    // The catalog keeps changing, so search-node commits (and merges) during the copy.
    let stop = Stop::default();
    let writing = {
        let stop = stop.clone();
        let sys = &sys;
        async move { write_until(sys, stop).await }
    };
    let backup_run = async {
        tokio::time::sleep(WRITES_AROUND_BACKUP).await;
        let out = sys.dir.path().join("search.backup");
        let run = backup::backup(
            "search-node",
            sys.node.base(),
            &sys.callers.token("operator"),
            &out,
        )
        .await;
        tokio::time::sleep(WRITES_AROUND_BACKUP).await;
        stop.now();
        (run, out)
    };
    let (written, (run, out)) = tokio::join!(writing, backup_run);
    run.expect_ok("search-node backup");
    let cursor = run.point("cursor");
    assert!(written > 0);
    assert!(
        cursor >= seq,
        "the backup holds at least what was caught up before it"
    );
    let (_, head) = sys.catalog_products().await;
    assert!(
        head > cursor,
        "the catalog kept changing after the backup's cursor {cursor}"
    );

    assert_eq!(
        sys.stop_search().await,
        Some(0),
        "search-node stops cleanly"
    );
    let data = sys.node.data_dir().to_owned();
    std::fs::remove_dir_all(&data).unwrap();
    backup::restore("search-node", &out, &data, false)
        .await
        .expect_ok("search-node restore");
    assert!(
        !listing(data.parent().unwrap())
            .iter()
            .any(|n| n.contains("restoring")),
        "no staging directory is left behind"
    );

    // While it is down the catalog moves on: new products, changed names, deletes.
    for i in 0..20 {
        let id = format!("late{i}");
        sys.put_product(&id, &name_with_token(&id, "Blanket"), "warm", "home")
            .await;
    }
    for i in 0..10 {
        let id = format!("seed{i}");
        sys.put_product(&id, &name_with_token(&id, "Teapot"), "brews tea", "kitchen")
            .await;
    }
    for i in 10..15 {
        sys.delete_product(&format!("seed{i}")).await;
    }
    let rebuilds = sys.log_count("index rebuilt from a catalog snapshot");
    sys.restart_search().await;
    sys.wait_ready().await;
    sys.index_equals_catalog().await;

    let log = sys.node.log();
    assert!(
        log.contains(&format!("seq=Some({cursor})")),
        "the restored index opens at the backup's cursor {cursor}"
    );
    assert_eq!(
        sys.log_count("index rebuilt from a catalog snapshot"),
        rebuilds,
        "the restored index resumes the feed instead of being rebuilt"
    );
}
