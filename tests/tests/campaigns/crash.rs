//! Crash consistency: SIGKILL at random moments while clients keep working, a restart after
//! each kill, and then the invariants.
//!
//! - Orders: 16 clients place and cancel orders at order-node (each place retried with its
//!   own Idempotency-Key until it gets an answer) while catalog-node or order-node is killed.
//!   Afterwards every acknowledged order exists and is in an end state that agrees with what
//!   its client was told, no order exists that no client knows of, and for every product
//!   initial stock = current stock + units held by confirmed orders, with a held reservation
//!   exactly for each confirmed order.
//! - Search: a stream of catalog writes while search-node is killed; afterwards the index
//!   holds exactly the catalog and search-node never rebuilt from a snapshot.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use system_tests::crash::{Churn, Kills, Until, churn};
use system_tests::search::tail;
use system_tests::{OrderSystem, Rng, SearchSystem};
use tokio::time::Instant;

use crate::{Profile, SERIAL, pooled, seed, send};

/// How long one client operation keeps retrying before the campaign calls it lost.
const RETRY_FOR: Duration = Duration::from_secs(120);

/// How long order-node may take to settle every saga after the last kill. A pending order
/// that failed a few times while the catalog was down backs off up to 30 s.
const SETTLE_WITHIN: Duration = Duration::from_secs(120);

/// Kill timing: `counts` kills (CI profile, long profile), each after `up_ms` of running and
/// followed by `down_ms` down.
fn kill_timing(
    profile: Profile,
    counts: (usize, usize),
    up_ms: (u64, u64),
    down_ms: (u64, u64),
) -> Kills {
    let count = match profile {
        Profile::Ci => counts.0,
        Profile::Long => counts.1,
    };
    Kills {
        count,
        up_ms,
        down_ms,
    }
}

/// What a client was told about one order.
#[derive(Debug, Clone)]
struct Known {
    customer: String,
    key: String,
    /// The status code of the answer to the placing request (a replay's, possibly).
    code: u16,
    /// The order's status in that answer: `confirmed`, `pending` or `rejected`.
    acked_as: String,
    /// A cancel was sent (whether or not it got an answer).
    cancel_tried: bool,
    /// A cancel was answered 200 or 202: the order must end cancelled.
    cancel_acked: bool,
}

impl Known {
    /// The end states this order may be in after recovery.
    fn allowed_ends(&self) -> &'static [&'static str] {
        match (self.acked_as.as_str(), self.cancel_tried, self.cancel_acked) {
            (_, _, true) => &["cancelled"],
            ("confirmed", true, false) => &["confirmed", "cancelled"],
            ("confirmed", false, _) => &["confirmed"],
            ("rejected", _, _) => &["rejected"],
            // Pending when answered: the saga may go either way, but no client cancelled it.
            _ => &["confirmed", "rejected"],
        }
    }
}

/// What one client did and saw.
#[derive(Debug, Default)]
struct Ledger {
    orders: BTreeMap<String, Known>,
    /// Answers no correct node gives (each described).
    failures: Vec<String>,
    /// Answers by status code, retries included.
    codes: BTreeMap<u16, usize>,
    /// Requests that got no answer (connection refused or reset, timeout) and were retried.
    no_answer: usize,
    cancels: usize,
}

impl Ledger {
    fn merge(&mut self, other: Ledger) {
        self.orders.extend(other.orders);
        self.failures.extend(other.failures);
        for (code, n) in other.codes {
            *self.codes.entry(code).or_default() += n;
        }
        self.no_answer += other.no_answer;
        self.cancels += other.cancels;
    }
}

/// Where a client sends its requests.
#[derive(Clone)]
struct Target {
    base: String,
    token: String,
}

async fn pause(rng: &mut Rng) {
    tokio::time::sleep(Duration::from_millis(rng.range(20, 100))).await;
}

/// Places one order, retrying with the same Idempotency-Key until order-node gives an answer
/// that says what became of it. Returns its id when it was confirmed (so it may be cancelled).
async fn place(
    http: &reqwest::Client,
    to: &Target,
    customer: &str,
    key: &str,
    body: &Value,
    rng: &mut Rng,
    ledger: &mut Ledger,
) -> Option<String> {
    let url = format!("{}/v1/orders", to.base);
    let started = Instant::now();
    loop {
        if started.elapsed() > RETRY_FOR {
            ledger.failures.push(format!(
                "order {key}: no answer within {RETRY_FOR:?} of retrying"
            ));
            return None;
        }
        let reply = match send(
            http,
            Method::POST,
            &url,
            Some(&to.token),
            Some(body),
            &[("idempotency-key", key)],
        )
        .await
        {
            Ok(r) => r,
            Err(_) => {
                ledger.no_answer += 1;
                pause(rng).await;
                continue;
            }
        };
        let code = reply.status.as_u16();
        *ledger.codes.entry(code).or_default() += 1;
        let (id, acked_as) = match code {
            201 | 202 => {
                let id = reply.body["id"].as_str().map(str::to_owned);
                let status = reply.body["status"].as_str().unwrap_or("").to_owned();
                let consistent = match code {
                    201 => status == "confirmed",
                    // A first 202 says pending; its replay shows the state of now.
                    _ => ["pending", "confirmed", "rejected"].contains(&status.as_str()),
                };
                match id {
                    Some(id) if consistent => (id, status),
                    _ => {
                        ledger
                            .failures
                            .push(format!("order {key}: {code} with {}", reply.text));
                        return None;
                    }
                }
            }
            409 => {
                let id = reply
                    .header("location")
                    .and_then(|l| l.strip_prefix("/v1/orders/").map(str::to_owned));
                let known_code = ["insufficient_stock", "order_rejected"].contains(&reply.code());
                match id {
                    Some(id) if known_code => (id, "rejected".to_owned()),
                    _ => {
                        ledger
                            .failures
                            .push(format!("order {key}: 409 {:?} {}", id, reply.text));
                        return None;
                    }
                }
            }
            // The catalog could not be read: nothing was stored, the same key may try again.
            503 if reply.code() == "catalog_unavailable" => {
                pause(rng).await;
                continue;
            }
            _ => {
                ledger
                    .failures
                    .push(format!("order {key}: unexpected {code}: {}", reply.text));
                return None;
            }
        };
        let confirmed = acked_as == "confirmed";
        ledger.orders.insert(
            id.clone(),
            Known {
                customer: customer.to_owned(),
                key: key.to_owned(),
                code,
                acked_as,
                cancel_tried: false,
                cancel_acked: false,
            },
        );
        return confirmed.then_some(id);
    }
}

/// Cancels a confirmed order, retrying until order-node answers.
async fn cancel(http: &reqwest::Client, to: &Target, id: &str, rng: &mut Rng, ledger: &mut Ledger) {
    let url = format!("{}/v1/orders/{id}/cancel", to.base);
    if let Some(k) = ledger.orders.get_mut(id) {
        k.cancel_tried = true;
    }
    ledger.cancels += 1;
    let started = Instant::now();
    loop {
        if started.elapsed() > RETRY_FOR {
            ledger.failures.push(format!(
                "cancel {id}: no answer within {RETRY_FOR:?} of retrying"
            ));
            return;
        }
        let reply = match send(http, Method::POST, &url, Some(&to.token), None, &[]).await {
            Ok(r) => r,
            Err(_) => {
                ledger.no_answer += 1;
                pause(rng).await;
                continue;
            }
        };
        let code = reply.status.as_u16();
        *ledger.codes.entry(code).or_default() += 1;
        let status = reply.body["status"].as_str().unwrap_or("");
        match (code, status) {
            (200, "cancelled") | (202, "cancelling") => {
                if let Some(k) = ledger.orders.get_mut(id) {
                    k.cancel_acked = true;
                }
                return;
            }
            _ => {
                // 404 would be a lost order, 409 a confirmed order that is no longer so.
                ledger
                    .failures
                    .push(format!("cancel {id}: unexpected {code}: {}", reply.text));
                return;
            }
        }
    }
}

/// One client: places orders of 1–3 lines (a cancel of one of its confirmed orders now and
/// then) until told to stop, finishing the operation under way.
async fn order_client(
    n: usize,
    to: Target,
    products: Arc<Vec<String>>,
    mut rng: Rng,
    stop: Arc<AtomicBool>,
) -> Ledger {
    let http = pooled(Duration::from_secs(15));
    let customer = format!("cust{n:02}");
    let mut ledger = Ledger::default();
    let mut cancellable: Vec<String> = Vec::new();
    let mut placed = 0;
    while !stop.load(Ordering::SeqCst) {
        if !cancellable.is_empty() && rng.chance(35) {
            let id = cancellable.swap_remove(rng.index(cancellable.len()));
            cancel(&http, &to, &id, &mut rng, &mut ledger).await;
            continue;
        }
        placed += 1;
        let key = format!("{customer}-{placed}");
        let mut lines: BTreeMap<&str, u64> = BTreeMap::new();
        for _ in 0..rng.range(1, 3) {
            let product = &products[rng.index(products.len())];
            lines.insert(product, rng.range(1, 4));
        }
        let items: Vec<Value> = lines
            .iter()
            .map(|(p, q)| json!({"product_id": p, "qty": q}))
            .collect();
        let body = json!({"customer_id": customer, "items": items});
        if let Some(id) = place(&http, &to, &customer, &key, &body, &mut rng, &mut ledger).await {
            cancellable.push(id);
        }
    }
    ledger
}

/// Waits until order-node's `/readyz` reports no unsettled order; returns how long it took.
async fn wait_settled(sys: &OrderSystem) -> Duration {
    let started = Instant::now();
    let http = pooled(Duration::from_secs(5));
    let url = format!("{}/readyz", sys.node.base());
    loop {
        let last = send(&http, Method::GET, &url, None, None, &[]).await;
        if let Ok(r) = &last
            && r.status == 200
            && r.body["details"]["unsettled"] == 0
        {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < SETTLE_WITHIN,
            "order-node still has unsettled orders {SETTLE_WITHIN:?} after the last kill; \
             last /readyz: {:?}\norder-node log:\n{}",
            last.map(|r| r.text),
            tail(&sys.node.log(), 4000)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn orders_survive_kill_9_of_either_node_at_random_moments() {
    let _serial = SERIAL.lock().await;
    let profile = Profile::current();
    let seed = seed("crash/orders");
    let clients = 16;
    let kills = kill_timing(profile, (24, 240), (200, 1200), (0, 400));
    let mut sys = OrderSystem::start().await;
    let mut rng = Rng::derive(seed, 0);

    // Few products with little stock, so that orders contend, stock runs out and rejections
    // happen; cancellations give stock back.
    let ids: Vec<String> = (0..8).map(|i| format!("p{i}")).collect();
    let mut initial = BTreeMap::new();
    for id in &ids {
        let stock = rng.range(100, 500);
        sys.put_product(id, &system_tests::product(id, rng.range(100, 9_999), stock))
            .await;
        initial.insert(id.clone(), stock);
    }
    let products = Arc::new(ids);
    let to = Target {
        base: sys.node.base().to_owned(),
        token: sys.callers.token("shop"),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..clients)
        .map(|n| {
            tokio::spawn(order_client(
                n,
                to.clone(),
                products.clone(),
                Rng::derive(seed, 100 + n as u64),
                stop.clone(),
            ))
        })
        .collect();

    let started = Instant::now();
    let (mut orders_kills, mut catalog_kills, mut failed_starts) = (0, 0, 0);
    for _ in 0..kills.count {
        kills.wait_up(&mut rng).await;
        let (node, what) = if rng.chance(50) {
            orders_kills += 1;
            (&mut sys.node, "order-node")
        } else {
            catalog_kills += 1;
            (&mut sys.catalog.node, "catalog-node")
        };
        failed_starts += kills.outage(&mut rng, node, what).await;
    }
    let killing = started.elapsed();
    stop.store(true, Ordering::SeqCst);
    let mut ledger = Ledger::default();
    for w in workers {
        ledger.merge(w.await.expect("client task"));
    }
    let settled_in = wait_settled(&sys).await;

    println!(
        "[crash/orders] profile {}, {clients} clients, {} kills in {:.1}s ({orders_kills} \
         order-node, {catalog_kills} catalog-node; {failed_starts} restarts needed another \
         try); every saga settled {:.1}s after the clients stopped",
        profile.name(),
        kills.count,
        killing.as_secs_f64(),
        settled_in.as_secs_f64()
    );
    assert!(
        ledger.failures.is_empty(),
        "{} unexpected answers, the first ones:\n{}",
        ledger.failures.len(),
        ledger.failures[..ledger.failures.len().min(20)].join("\n")
    );

    // Every order a client was told about exists, in an end state that agrees with what the
    // client was told.
    let reader = sys.orders();
    let mut ends: BTreeMap<String, usize> = BTreeMap::new();
    for (id, known) in &ledger.orders {
        let r = reader.get(&format!("/v1/orders/{id}")).await;
        assert_eq!(
            r.status, 200,
            "order {id} (key {}, answered {} {}) is lost: {}",
            known.key, known.code, known.acked_as, r.text
        );
        let status = r.body["status"].as_str().unwrap_or("").to_owned();
        assert!(
            known.allowed_ends().contains(&status.as_str()),
            "order {id} (key {}) was answered {} {} (cancel tried {}, acknowledged {}) but \
             ended {status}: {}",
            known.key,
            known.code,
            known.acked_as,
            known.cancel_tried,
            known.cancel_acked,
            r.text
        );
        assert_eq!(r.body["customer_id"], known.customer.as_str());
        *ends.entry(status).or_default() += 1;
    }
    // No order exists that no client knows of (a retried request never made a second one).
    let customers: Vec<String> = (0..clients).map(|n| format!("cust{n:02}")).collect();
    for customer in &customers {
        let listed: BTreeSet<String> = sys
            .customer_orders(customer, 200)
            .await
            .iter()
            .map(|o| o["id"].as_str().expect("order id").to_owned())
            .collect();
        let known: BTreeSet<String> = ledger
            .orders
            .iter()
            .filter(|(_, k)| &k.customer == customer)
            .map(|(id, _)| id.clone())
            .collect();
        assert_eq!(
            listed.difference(&known).collect::<Vec<_>>(),
            Vec::<&String>::new(),
            "{customer} has orders no answer ever named"
        );
        assert_eq!(
            known.difference(&listed).collect::<Vec<_>>(),
            Vec::<&String>::new(),
            "{customer}'s listing lacks orders it was told about"
        );
    }
    // Stock conservation and reservations: every listed order is in an end state, each
    // confirmed one holds exactly its lines at the catalog, no other holds anything, and
    // initial = current + held by confirmed orders for every product.
    let names: Vec<&str> = customers.iter().map(String::as_str).collect();
    sys.assert_invariant(&initial, &names).await;
    let stock_left: u64 = sys
        .stocks(&products.iter().map(String::as_str).collect::<Vec<_>>())
        .await
        .values()
        .sum();

    println!(
        "[crash/orders] {} orders placed and acknowledged ({} confirmed at the answer, {} \
         pending, {} rejected), {} cancels; answers by status {:?}; {} requests got no answer \
         and were retried; end states {ends:?}; stock {} at start, {stock_left} left",
        ledger.orders.len(),
        ledger
            .orders
            .values()
            .filter(|k| k.acked_as == "confirmed")
            .count(),
        ledger
            .orders
            .values()
            .filter(|k| k.acked_as == "pending")
            .count(),
        ledger
            .orders
            .values()
            .filter(|k| k.acked_as == "rejected")
            .count(),
        ledger.cancels,
        ledger.codes,
        ledger.no_answer,
        initial.values().sum::<u64>(),
    );
    let min_orders = kills.count * 4;
    assert!(
        ledger.orders.len() >= min_orders,
        "only {} orders in {} kills: the campaign exercised too little",
        ledger.orders.len(),
        kills.count
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn search_index_converges_after_kill_9_at_random_moments() {
    let _serial = SERIAL.lock().await;
    let profile = Profile::current();
    let seed = seed("crash/search");
    let kills = kill_timing(profile, (24, 200), (150, 1200), (0, 500));
    let mut sys = SearchSystem::start().await;
    let mut rng = Rng::derive(seed, 0);
    let stop = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(AtomicUsize::new(0));
    let stream = tokio::spawn(churn(
        sys.admin(),
        Churn {
            products: 80,
            until: Until::Stopped(stop.clone()),
            pause_ms: (2, 12),
        },
        Rng::derive(seed, 1),
        writes.clone(),
    ));

    let started = Instant::now();
    let mut failed_starts = 0;
    let mut written_while_down = 0;
    for _ in 0..kills.count {
        kills.wait_up(&mut rng).await;
        let before = writes.load(Ordering::SeqCst);
        failed_starts += kills.outage(&mut rng, &mut sys.node, "search-node").await;
        written_while_down += writes.load(Ordering::SeqCst) - before;
    }
    // A little more writing while it catches up from the last restart.
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::SeqCst);
    let churned = stream.await.expect("write stream");
    let killing = started.elapsed();

    let caught_up = Instant::now();
    sys.wait_caught_up(churned.last_seq).await;
    let caught_up = caught_up.elapsed();
    churned.assert_converged(&sys).await;
    println!(
        "[crash/search] profile {}, {} kills in {:.1}s ({failed_starts} restarts needed another \
         try); {} catalog writes ({written_while_down} while search-node was down), last seq \
         {}; {} products at the end, {} deleted; caught up {:.1}s after the stream ended; the \
         index equals the catalog",
        profile.name(),
        kills.count,
        killing.as_secs_f64(),
        churned.writes,
        churned.last_seq,
        churned.present.len(),
        churned.ids.len() - churned.present.len(),
        caught_up.as_secs_f64()
    );
}
