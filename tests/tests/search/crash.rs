//! kill -9 of search-node while the catalog keeps changing.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use system_tests::search::{hit_ids, name_with_token, product_body, token_of};
use system_tests::{Client, SearchSystem};

use crate::{assert_absent, assert_found, wait_until};

/// What a churn stream did.
struct Churned {
    /// Seq of its last write.
    last_seq: u64,
    /// Products that exist at the end.
    present: BTreeSet<String>,
    /// Every id it touched.
    ids: Vec<String>,
}

/// A small deterministic generator (64-bit LCG, high bits).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

/// Writes `ops` random changes (create, replace, rename, stock change, delete) to `ids`
/// products straight to the catalog, pausing `pause` between them; counts them in `done`.
async fn churn(
    admin: Client,
    n_ids: usize,
    ops: usize,
    pause: Duration,
    seed: u64,
    done: Arc<AtomicUsize>,
) -> Churned {
    let ids: Vec<String> = (0..n_ids).map(|i| format!("churn{i:02}")).collect();
    let categories = ["toys", "garden", "office"];
    let mut rng = Rng(seed);
    let mut present = BTreeSet::new();
    let mut last_seq = 0;
    for op in 0..ops {
        let id = &ids[rng.next() as usize % ids.len()];
        let path = format!("/v1/products/{id}");
        let category = categories[rng.next() as usize % categories.len()];
        let name = name_with_token(id, &format!("Gizmo rev{op}"));
        let reply = if !present.contains(id) {
            let r = admin
                .put(&path, &product_body(&name, "churned gizmo", category))
                .await;
            assert_eq!(r.status, 201, "{}", r.text);
            present.insert(id.clone());
            r
        } else {
            match rng.next() % 10 {
                0..=3 => {
                    admin
                        .put(&path, &product_body(&name, "replaced gizmo", category))
                        .await
                }
                4..=5 => {
                    admin
                        .send(
                            Method::PATCH,
                            &path,
                            Some(&json!({"name": name})),
                            &[("if-match", "*")],
                        )
                        .await
                }
                6 => {
                    admin
                        .patch(&format!("{path}/stock"), &json!({"delta": 1}))
                        .await
                }
                _ => {
                    let r = admin.delete(&path).await;
                    assert_eq!(r.status, 204, "{}", r.text);
                    present.remove(id);
                    r
                }
            }
        };
        assert!(reply.status.is_success(), "op {op} on {id}: {}", reply.text);
        last_seq = last_seq.max(reply.seq());
        done.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(pause).await;
    }
    Churned {
        last_seq,
        present,
        ids,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_a_stream_of_writes_converges_to_the_catalog() {
    let mut sys = SearchSystem::start().await;
    let seed = u64::from(std::process::id());
    println!("churn seed {seed}");
    let done = Arc::new(AtomicUsize::new(0));
    let stream = tokio::spawn(churn(
        sys.admin(),
        40,
        300,
        Duration::from_millis(10),
        seed,
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
    let details = sys.wait_caught_up(churned.last_seq).await;
    assert_eq!(details["bootstrapped"], true);
    let r = sys.search_after("gizmo", churned.last_seq).await;
    assert_eq!(r.body["caught_up"], true, "{}", r.text);

    let products = sys.index_equals_catalog().await;
    let in_catalog: BTreeSet<String> = products
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        in_catalog, churned.present,
        "the stream's model disagrees with the catalog"
    );
    for id in churned
        .ids
        .iter()
        .filter(|id| !churned.present.contains(*id))
    {
        assert_absent(&sys, id).await;
    }
    let gizmos = sys.search_with(&[("q", "gizmo"), ("limit", "100")]).await;
    assert_eq!(
        gizmos.body["total"].as_u64().unwrap() as usize,
        churned.present.len(),
        "{}",
        gizmos.text
    );

    // Restarts resumed from the cursor committed with the index, never rebuilding.
    assert_eq!(
        sys.log_count("index rebuilt from a catalog snapshot"),
        1,
        "search-node rebuilt its index on a restart:\n{}",
        sys.node.log()
    );
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
    assert_eq!(sys.log_count("index rebuilt from a catalog snapshot"), 1);

    // A clean stop (SIGTERM) exits 0 and resumes the same way.
    assert_eq!(sys.stop_search().await, Some(0), "{}", sys.node.log());
    sys.restart_search().await;
    sys.wait_ready().await;
    sys.index_equals_catalog().await;
    assert_eq!(sys.log_count("index rebuilt from a catalog snapshot"), 1);
}
