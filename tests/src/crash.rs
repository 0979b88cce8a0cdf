//! What the crash tests share: SIGKILL-and-restart rounds at seeded moments, and a seeded
//! stream of catalog writes whose model search-node's index is compared with once the kills
//! are over.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::search::{hit_ids, name_with_token, product_body, tail, token_of};
use crate::{Client, Node, Rng, SearchSystem};

/// The log line search-node writes when it builds its index from a catalog snapshot.
pub const REBUILT: &str = "index rebuilt from a catalog snapshot";

/// Kill timing of a campaign.
#[derive(Debug, Clone, Copy)]
pub struct Kills {
    /// How many kills.
    pub count: usize,
    /// How long a node runs between its restart and the next kill, in ms (uniform).
    pub up_ms: (u64, u64),
    /// How long a killed node stays down, in ms (uniform).
    pub down_ms: (u64, u64),
}

impl Kills {
    /// Lets the node run for a drawn while before the next kill.
    pub async fn wait_up(&self, rng: &mut Rng) {
        let ms = rng.range(self.up_ms.0, self.up_ms.1);
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }

    /// Kills `node` with SIGKILL, keeps it down for a drawn while and starts it again (see
    /// [`restart`]); returns the failed start attempts.
    pub async fn outage(&self, rng: &mut Rng, node: &mut Node, what: &str) -> usize {
        node.kill9().await;
        let ms = rng.range(self.down_ms.0, self.down_ms.1);
        tokio::time::sleep(Duration::from_millis(ms)).await;
        restart(node, what).await
    }
}

/// Kills `node` and starts it again on the same port and data directory, trying again when
/// the start fails (the port may be briefly taken by a client's outgoing connection; that
/// is the test's problem, not the node's, but a node that cannot open its data after a
/// crash fails every attempt and is reported with its log). Returns the failed attempts.
pub async fn restart(node: &mut Node, what: &str) -> usize {
    const ATTEMPTS: usize = 20;
    for attempt in 0..ATTEMPTS {
        match node.try_restart().await {
            Ok(()) => return attempt,
            Err(failure) => {
                println!(
                    "[crash] {what} did not start (exit {:?}); trying again. Its log ends:\n{}",
                    failure.code,
                    tail(&failure.stderr, 600)
                );
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
    }
    panic!(
        "{what} did not start again after {ATTEMPTS} attempts; its log ends:\n{}",
        tail(&node.log(), 4000)
    );
}

/// When a write stream ends.
#[derive(Debug, Clone)]
pub enum Until {
    /// After this many writes.
    Writes(usize),
    /// Once the flag is set (finishing the write under way).
    Stopped(Arc<AtomicBool>),
}

impl Until {
    fn reached(&self, written: usize) -> bool {
        match self {
            Until::Writes(n) => written >= *n,
            Until::Stopped(stop) => stop.load(Ordering::SeqCst),
        }
    }
}

/// A write stream: which products it writes, for how long and how fast.
#[derive(Debug, Clone)]
pub struct Churn {
    /// How many product ids it spreads its writes over.
    pub products: usize,
    /// When it ends.
    pub until: Until,
    /// The pause after each write, in ms (uniform).
    pub pause_ms: (u64, u64),
}

/// What a write stream did: the model the catalog and the index must agree with.
#[derive(Debug, Clone)]
pub struct Churned {
    /// Writes made.
    pub writes: usize,
    /// Seq of its last write.
    pub last_seq: u64,
    /// Products that exist at the end.
    pub present: BTreeSet<String>,
    /// Every id it may have touched.
    pub ids: Vec<String>,
}

/// Writes random changes (create, replace, rename, stock change, delete) to `plan.products`
/// products straight to the catalog as `admin` until `plan.until`; counts them in `written`.
pub async fn churn(admin: Client, plan: Churn, mut rng: Rng, written: Arc<AtomicUsize>) -> Churned {
    let ids: Vec<String> = (0..plan.products).map(|i| format!("churn{i:03}")).collect();
    let categories = ["toys", "garden", "office"];
    let mut present = BTreeSet::new();
    let mut last_seq = 0;
    let mut op = 0;
    while !plan.until.reached(op) {
        op += 1;
        let id = &ids[rng.index(ids.len())];
        let path = format!("/v1/products/{id}");
        let category = categories[rng.index(categories.len())];
        let name = name_with_token(id, &format!("Gizmo rev{op}"));
        let reply = if !present.contains(id) {
            let r = admin
                .put(&path, &product_body(&name, "churned gizmo", category))
                .await;
            assert_eq!(r.status, 201, "{}", r.text);
            present.insert(id.clone());
            r
        } else {
            match rng.below(10) {
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
        written.fetch_add(1, Ordering::SeqCst);
        let pause = rng.range(plan.pause_ms.0, plan.pause_ms.1);
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
    Churned {
        writes: op,
        last_seq,
        present,
        ids,
    }
}

impl Churned {
    /// Checks that search-node converged on what the stream wrote: caught up with its last
    /// write, the index equal to the catalog, the catalog equal to the stream's model, no
    /// deleted product found, and every restart resumed from the cursor committed with the
    /// index (only the first start built it from a catalog snapshot). Returns search-node's
    /// `/readyz` details.
    pub async fn assert_converged(&self, sys: &SearchSystem) -> Value {
        let details = sys.wait_caught_up(self.last_seq).await;
        assert_eq!(details["bootstrapped"], true, "{details}");
        let r = sys.search_after("gizmo", self.last_seq).await;
        assert_eq!(r.body["caught_up"], true, "{}", r.text);

        let products = sys.index_equals_catalog().await;
        let in_catalog: BTreeSet<String> = products
            .iter()
            .map(|p| p["id"].as_str().expect("id").to_owned())
            .collect();
        assert_eq!(
            in_catalog, self.present,
            "the stream's model disagrees with the catalog"
        );
        for id in self.ids.iter().filter(|id| !self.present.contains(*id)) {
            let r = sys.search(&token_of(id)).await;
            assert_eq!(
                r.body["total"], 0,
                "deleted {id} is still indexed: {}",
                r.text
            );
            assert!(hit_ids(&r).is_empty(), "{}", r.text);
        }
        let gizmos = sys.search_with(&[("q", "gizmo"), ("limit", "100")]).await;
        assert_eq!(
            gizmos.body["total"].as_u64(),
            Some(self.present.len() as u64),
            "{}",
            gizmos.text
        );
        assert_eq!(
            sys.log_count(REBUILT),
            1,
            "search-node rebuilt its index on a restart:\n{}",
            tail(&sys.node.log(), 4000)
        );
        details
    }
}
