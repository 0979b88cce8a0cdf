//! kill -9 of search-node while the catalog keeps changing. The write stream is seeded:
//! `CHURN_SEED` replays the one of a run whose seed was printed.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use system_tests::crash::{Churn, REBUILT, Until, churn};
use system_tests::search::{hit_ids, name_with_token, token_of};
use system_tests::{Rng, SearchSystem};

use crate::{assert_found, wait_until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_a_stream_of_writes_converges_to_the_catalog() {
    let mut sys = SearchSystem::start().await;
    let seed = system_tests::rng::seed_from_env("CHURN_SEED", "search/crash", || {
        u64::from(std::process::id())
    });
    let done = Arc::new(AtomicUsize::new(0));
    let stream = tokio::spawn(churn(
        sys.admin(),
        Churn {
            products: 40,
            until: Until::Writes(300),
            pause_ms: (10, 10),
        },
        Rng::new(seed),
        done.clone(),
    ));
    let within = Duration::from_secs(60);
    let count = || done.load(Ordering::SeqCst);

    wait_until("100 writes", within, || count() >= 100).await;
    sys.kill_search().await;
    let killed_at = count();
    wait_until("70 writes while search-node is down", within, || {
        count() >= killed_at + 70 || stream.is_finished()
    })
    .await;
    sys.restart_search().await;
    sys.wait_ready().await;
    // Once more, while it is catching up.
    wait_until("another 40 writes", within, || {
        count() >= 230 || stream.is_finished()
    })
    .await;
    sys.kill_search().await;
    sys.restart_search().await;
    sys.wait_ready().await;

    let churned = stream.await.unwrap();
    assert_eq!(count(), 300);
    println!(
        "search-node killed at write {killed_at}; {} products left, last seq {}",
        churned.present.len(),
        churned.last_seq
    );
    churned.assert_converged(&sys).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_resumes_from_the_committed_cursor() {
    let mut sys = SearchSystem::start().await;
    let mut names = Vec::new();
    let mut seq = 0;
    for i in 0..20 {
        let id = format!("r{i}");
        let name = name_with_token(&id, "Pebble");
        seq = sys.put_product(&id, &name, "", "garden").await;
        names.push((id, name));
    }
    let before = sys.search_after("pebble", seq).await;
    assert_eq!(before.body["total"], 20);
    sys.wait_caught_up(seq).await;

    sys.kill_search().await;
    sys.restart_search().await;
    // Ready at once from its own index, at the seq it had reached.
    let details = sys.wait_ready().await;
    assert!(details["indexed_seq"].as_u64().unwrap() >= seq, "{details}");
    let after = sys.search_with(&[("q", "pebble"), ("limit", "100")]).await;
    assert_eq!(after.body["total"], 20, "{}", after.text);
    for (id, name) in &names {
        assert_found(&sys, id, name).await;
    }

    // And it keeps following.
    let seq = sys.delete_product("r3").await;
    let r = sys.search_after(&token_of("r3"), seq).await;
    assert_eq!(r.body["caught_up"], true, "{}", r.text);
    assert!(hit_ids(&r).is_empty(), "{}", r.text);
    sys.index_equals_catalog().await;
    assert_eq!(sys.log_count(REBUILT), 1);

    // A clean stop (SIGTERM) exits 0 and resumes the same way.
    assert_eq!(sys.stop_search().await, Some(0), "{}", sys.node.log());
    sys.restart_search().await;
    sys.wait_ready().await;
    sys.index_equals_catalog().await;
    assert_eq!(sys.log_count(REBUILT), 1);
}
