//! Load and soak: mixed traffic at 32 concurrent connections against the whole system —
//! product and batch reads at the catalog; orders placed, order views, customer pages and
//! searches through the composer — for a bounded time. Every answer must have the expected
//! status and no composed answer may be degraded; p50/p99 per kind are printed, and the
//! resident memory of every node and of edge-host may grow less than 10% between the end of
//! the warm-up and the end of the run (beyond the growth of the node's data directory, which
//! its store may cache).
//!
//! The composer reaches the nodes directly here (no test proxy in between), so the figures
//! are the system's own.

use std::collections::BTreeMap;
use std::path::Path;

use futures::StreamExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use system_tests::backends::{Backends, Options, wait_indexed};
use system_tests::composer::demo_products;
use system_tests::search::{search_path, tail};
use system_tests::{
    CatalogNode, Client, ComposerSystem, EdgeHost, Node, Rng, identity, proc_status_kib, vm_rss_kib,
};
use tokio::time::Instant;

use crate::{Profile, SERIAL, pooled, quantile_ms, seed, send};

/// Concurrent connections (one worker each).
const CONNECTIONS: usize = 32;

/// Largest allowed growth of a process's resident memory over the measured run.
const RSS_GROWTH_LIMIT: f64 = 0.10;

/// The last seconds of a phase whose memory samples give the phase's figure.
const MEMORY_WINDOW: Duration = Duration::from_secs(5);

/// How often the memory of every process is sampled.
const MEMORY_SAMPLE_EVERY: Duration = Duration::from_millis(250);

/// Customers the orders are spread over.
const CUSTOMERS: u64 = 64;

/// Products orders are placed for; their stock is raised first, so no order is refused.
const ORDERED_PRODUCTS: usize = 300;

/// Steps in which each ordered product's stock is raised before the run.
const STOCK_RAISES: usize = 10;

/// Words of the demo catalogue's names to search for.
const WORDS: &[&str] = &[
    "steel",
    "organic cotton",
    "leather",
    "wooden",
    "guide",
    "aluminium",
    "rain",
    "boots",
    "desk",
    "recycled bag",
    "stainless",
    "nylon",
];

/// The kinds of request, with their share of the traffic in percent.
const KINDS: &[(Kind, u64)] = &[
    (Kind::CatalogGet, 20),
    (Kind::CatalogBatch, 10),
    (Kind::PlaceOrder, 5),
    (Kind::OrderView, 30),
    (Kind::CustomerPage, 15),
    (Kind::Search, 20),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    CatalogGet,
    CatalogBatch,
    PlaceOrder,
    OrderView,
    CustomerPage,
    Search,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::CatalogGet => "catalog GET product",
            Kind::CatalogBatch => "catalog batch read (50)",
            Kind::PlaceOrder => "composer POST order",
            Kind::OrderView => "composer order view",
            Kind::CustomerPage => "composer customer page",
            Kind::Search => "composer search",
        }
    }
}

/// catalog-node (demo catalogue), order-node and search-node, and edge-host serving the
/// composer with every upstream reached directly.
struct System {
    host: EdgeHost,
    orders: Node,
    search: Node,
    catalog: CatalogNode,
    _dir: tempfile::TempDir,
}

impl System {
    /// Starts everything with `env` in every process's environment.
    async fn start(env: &[(String, String)]) -> Self {
        let catalog = ComposerSystem::start_catalog_with_env(true, env).await;
        let catalog_url = catalog.node.base().to_owned();
        let dir = tempfile::tempdir().expect("tempdir");
        let options = Options {
            env: env.to_vec(),
            ..Options::default()
        };
        let backends = Backends::start(dir.path(), &catalog.callers, &catalog_url, &options).await;
        let host = backends
            .start_host(
                &catalog.callers,
                [&catalog_url, backends.orders.base(), backends.search.base()],
                &dir.path().join("edge-host.log"),
                env,
            )
            .await;
        Self {
            host,
            orders: backends.orders,
            search: backends.search,
            catalog,
            _dir: dir,
        }
    }

    /// Waits until search-node has indexed everything the catalog has now.
    async fn wait_search_caught_up(&self) {
        let reader = self.catalog.as_role("reader");
        let head = reader.get("/v1/products?limit=1").await.body["head_seq"]
            .as_u64()
            .expect("head_seq");
        wait_indexed(&self.search, head, Duration::from_secs(120)).await;
    }

    /// `(name, pid, data directory)` of every process of the system.
    fn processes(&self) -> Vec<(&'static str, u32, Option<&Path>)> {
        vec![
            (
                "catalog-node",
                self.catalog.node.pid().expect("catalog pid"),
                Some(self.catalog.node.data_dir()),
            ),
            (
                "order-node",
                self.orders.pid().expect("orders pid"),
                Some(self.orders.data_dir()),
            ),
            (
                "search-node",
                self.search.pid().expect("search pid"),
                Some(self.search.data_dir()),
            ),
            ("edge-host", self.host.pid().expect("edge-host pid"), None),
        ]
    }

    fn memory(&self) -> BTreeMap<&'static str, Memory> {
        self.processes()
            .into_iter()
            .map(|(name, pid, data)| {
                let field = |f: &str| {
                    proc_status_kib(pid, f)
                        .unwrap_or_else(|| panic!("no {f} for {name} ({pid}) in /proc"))
                };
                let memory = Memory {
                    rss: vm_rss_kib(pid).unwrap_or_else(|| panic!("no VmRSS for {name} ({pid})")),
                    anon: field("RssAnon"),
                    file: field("RssFile"),
                    threads: field("Threads"),
                    data: data.map_or(0, dir_bytes) / 1024,
                };
                (name, memory)
            })
            .collect()
    }
}

/// Resident memory of a process, in KiB.
#[derive(Debug, Clone, Copy, Default)]
struct Memory {
    /// `VmRSS`: what the limit applies to.
    rss: u64,
    /// `RssAnon`: heap and stacks.
    anon: u64,
    /// `RssFile`: pages of mapped files (binary, mmapped index and database files).
    file: u64,
    /// Threads of the process (storage engines start IO threads under load).
    threads: u64,
    /// Size of the node's data directory (0 for edge-host, which has none).
    data: u64,
}

/// Bytes of the files under `dir`.
fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// What the workers share.
struct Shared {
    catalog: String,
    composer: String,
    reader_token: String,
    all_ids: Vec<String>,
    ordered_ids: Vec<String>,
    /// `(order id, customer)` of every order placed so far.
    orders: Mutex<Vec<(String, String)>>,
    measuring: AtomicBool,
    stop: AtomicBool,
}

/// One worker's figures.
#[derive(Default)]
struct Tally {
    /// Latencies of the measured phase, per kind.
    samples: BTreeMap<Kind, Vec<Duration>>,
    /// Requests of both phases, per kind.
    counts: BTreeMap<Kind, usize>,
    /// Every unexpected answer or failed request, described.
    errors: Vec<String>,
}

fn pick_kind(rng: &mut Rng) -> Kind {
    let total: u64 = KINDS.iter().map(|(_, w)| w).sum();
    let mut r = rng.below(total);
    for (kind, weight) in KINDS {
        if r < *weight {
            return *kind;
        }
        r -= weight;
    }
    KINDS[0].0
}

/// Whether a composed answer is complete (200 and not degraded).
fn complete(reply: &system_tests::http::Reply) -> bool {
    reply.status == 200 && reply.body["degraded"] == false
}

async fn worker(n: usize, shared: Arc<Shared>, mut rng: Rng) -> Tally {
    // One keep-alive connection per upstream this worker talks to.
    let http = pooled(Duration::from_secs(30));
    let mut tally = Tally::default();
    let mut placed = 0;
    while !shared.stop.load(Ordering::SeqCst) {
        let mut kind = pick_kind(&mut rng);
        let known = {
            let orders = shared.orders.lock().expect("orders");
            (!orders.is_empty()).then(|| orders[rng.index(orders.len())].clone())
        };
        if known.is_none() && matches!(kind, Kind::OrderView | Kind::CustomerPage) {
            kind = Kind::PlaceOrder;
        }
        let started = Instant::now();
        let (reply, ok) = match kind {
            Kind::CatalogGet => {
                let id = &shared.all_ids[rng.index(shared.all_ids.len())];
                let url = format!("{}/v1/products/{id}", shared.catalog);
                let r = send(
                    &http,
                    Method::GET,
                    &url,
                    Some(&shared.reader_token),
                    None,
                    &[],
                )
                .await;
                let ok = r
                    .as_ref()
                    .is_ok_and(|r| r.status == 200 && r.body["id"] == **id);
                (r, ok)
            }
            Kind::CatalogBatch => {
                let ids: Vec<&String> = (0..50)
                    .map(|_| &shared.all_ids[rng.index(shared.all_ids.len())])
                    .collect();
                let url = format!("{}/v1/products:batchGet", shared.catalog);
                let body = json!({ "ids": ids });
                let r = send(
                    &http,
                    Method::POST,
                    &url,
                    Some(&shared.reader_token),
                    Some(&body),
                    &[],
                )
                .await;
                let ok = r.as_ref().is_ok_and(|r| {
                    r.status == 200 && r.body["missing"].as_array().is_some_and(Vec::is_empty)
                });
                (r, ok)
            }
            Kind::PlaceOrder => {
                placed += 1;
                let customer = format!("soak{:02}", rng.below(CUSTOMERS));
                let mut items: BTreeMap<&str, u64> = BTreeMap::new();
                for _ in 0..rng.range(1, 3) {
                    let id = &shared.ordered_ids[rng.index(shared.ordered_ids.len())];
                    items.insert(id, rng.range(1, 2));
                }
                let items: Vec<Value> = items
                    .iter()
                    .map(|(p, q)| json!({"product_id": p, "qty": q}))
                    .collect();
                let body = json!({"customer_id": customer, "items": items});
                let key = format!("soak-{n}-{placed}");
                let url = format!("{}/v1/orders", shared.composer);
                let token = identity::token(&customer);
                let r = send(
                    &http,
                    Method::POST,
                    &url,
                    Some(&token),
                    Some(&body),
                    &[("idempotency-key", &key)],
                )
                .await;
                let ok = match &r {
                    Ok(r) if r.status == 201 && r.body["status"] == "confirmed" => {
                        let id = r.body["id"].as_str().unwrap_or("").to_owned();
                        shared.orders.lock().expect("orders").push((id, customer));
                        true
                    }
                    _ => false,
                };
                (r, ok)
            }
            Kind::OrderView => {
                let (id, customer) = known.expect("a known order");
                let url = format!("{}/v1/order-views/{id}", shared.composer);
                let token = identity::token(&customer);
                let r = send(&http, Method::GET, &url, Some(&token), None, &[]).await;
                let ok = r
                    .as_ref()
                    .is_ok_and(|r| complete(r) && r.body["order_id"] == *id);
                (r, ok)
            }
            Kind::CustomerPage => {
                let (_, customer) = known.expect("a known order");
                let url = format!(
                    "{}/v1/customers/{customer}/order-views?limit=20",
                    shared.composer
                );
                let token = identity::token(&customer);
                let r = send(&http, Method::GET, &url, Some(&token), None, &[]).await;
                let ok = r.as_ref().is_ok_and(|r| {
                    complete(r) && r.body["views"].as_array().is_some_and(|v| !v.is_empty())
                });
                (r, ok)
            }
            Kind::Search => {
                let q = WORDS[rng.index(WORDS.len())];
                let url = format!(
                    "{}{}",
                    shared.composer,
                    search_path(&[("q", q), ("limit", "10")])
                );
                let r = send(&http, Method::GET, &url, None, None, &[]).await;
                let ok = r.as_ref().is_ok_and(|r| {
                    complete(r) && r.body["hits"].as_array().is_some_and(|h| !h.is_empty())
                });
                (r, ok)
            }
        };
        let took = started.elapsed();
        *tally.counts.entry(kind).or_default() += 1;
        if !ok {
            tally.errors.push(match reply {
                Ok(r) => format!("{}: {} {}", kind.name(), r.status, tail(&r.text, 400)),
                Err(e) => format!("{}: no answer: {e}", kind.name()),
            });
        }
        if shared.measuring.load(Ordering::SeqCst) {
            tally.samples.entry(kind).or_default().push(took);
        }
    }
    tally
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mixed_load_through_the_composer_has_no_errors_and_no_memory_growth() {
    let _serial = SERIAL.lock().await;
    let profile = Profile::current();
    let seed = seed("soak");
    let (warm_up, run) = match profile {
        Profile::Ci => (Duration::from_secs(12), Duration::from_secs(15)),
        Profile::Long => (Duration::from_secs(15), Duration::from_secs(60)),
    };
    // A longer soak for a closer look at memory: CAMPAIGN_SOAK_SECS=600.
    let run = std::env::var("CAMPAIGN_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(run, Duration::from_secs);
    // With glibc's defaults, RSS says more about the allocator than about the code: once a
    // large block (search-node's indexing buffers, tens of MiB per commit) is freed, glibc
    // raises its mmap threshold, so later blocks of that size come from the arenas and stay
    // there when freed; and each contending thread gets an arena of its own (up to 8 per
    // core). search-node's RSS then climbs to several times its working set without a leak
    // in its code (see docs/reliability.md), which would hide a real leak. The soak fixes the
    // thresholds at glibc's initial 128 KiB (large blocks are mapped and returned when freed)
    // and caps the arenas at 2, so that RSS tracks live memory; CAMPAIGN_MALLOC=glibc runs
    // with glibc's defaults instead.
    let env: Vec<(String, String)> = match std::env::var("CAMPAIGN_MALLOC").as_deref() {
        Ok("glibc") => Vec::new(),
        _ => vec![
            ("MALLOC_ARENA_MAX".into(), "2".into()),
            ("MALLOC_MMAP_THRESHOLD_".into(), "131072".into()),
            ("MALLOC_TRIM_THRESHOLD_".into(), "131072".into()),
        ],
    };
    println!(
        "[soak] process environment: {}",
        if env.is_empty() {
            "glibc malloc defaults".to_owned()
        } else {
            format!("{env:?}")
        }
    );
    let sys = System::start(&env).await;
    let mut rng = Rng::derive(seed, 0);

    // Enough stock that no order placed during the run is refused.
    let all_ids: Vec<String> = demo_products()
        .iter()
        .map(|p| p["id"].as_str().expect("demo id").to_owned())
        .collect();
    let mut ordered_ids: Vec<String> = Vec::with_capacity(ORDERED_PRODUCTS);
    while ordered_ids.len() < ORDERED_PRODUCTS {
        let id = &all_ids[rng.index(all_ids.len())];
        if !ordered_ids.contains(id) {
            ordered_ids.push(id.clone());
        }
    }
    // Raised in steps, by concurrent writers: besides the stock, this warms the catalog's
    // write path (sled's buffers and caches grow over its first few thousand writes), which
    // the orders of a short run alone would not do before the warm-up ends.
    let admin = sys.catalog.as_role("admin");
    let raises = ordered_ids
        .iter()
        .flat_map(|id| std::iter::repeat_n(id, STOCK_RAISES))
        .map(|id| {
            let admin = admin.clone();
            async move {
                let r = admin
                    .patch(
                        &format!("/v1/products/{id}/stock"),
                        &json!({"delta": 100_000}),
                    )
                    .await;
                assert_eq!(r.status, 200, "raising the stock of {id}: {}", r.text);
            }
        });
    futures::stream::iter(raises)
        .buffer_unordered(16)
        .collect::<Vec<()>>()
        .await;
    // One order per customer to start with, so that views and pages have something to show
    // from the first request on.
    let mut initial_orders = Vec::new();
    for c in 0..CUSTOMERS {
        let customer = format!("soak{c:02}");
        let composer = Client::new(sys.host.base(), Some(identity::token(&customer)));
        let id = &ordered_ids[rng.index(ordered_ids.len())];
        let body = json!({"customer_id": customer, "items": [{"product_id": id, "qty": 1}]});
        let r = composer.post("/v1/orders", &body).await;
        assert_eq!(r.status, 201, "placing a first order: {}", r.text);
        let order = r.body["id"].as_str().expect("order id").to_owned();
        initial_orders.push((order, customer));
    }
    sys.wait_search_caught_up().await;

    let shared = Arc::new(Shared {
        catalog: sys.catalog.node.base().to_owned(),
        composer: sys.host.base().to_owned(),
        reader_token: sys.catalog.callers.token("reader"),
        all_ids,
        ordered_ids,
        orders: Mutex::new(initial_orders),
        measuring: AtomicBool::new(false),
        stop: AtomicBool::new(false),
    });
    let workers: Vec<_> = (0..CONNECTIONS)
        .map(|n| tokio::spawn(worker(n, shared.clone(), Rng::derive(seed, 100 + n as u64))))
        .collect();

    // Memory is sampled every second from the start; a process's figure for a phase is the
    // floor (minimum) of its samples over the last seconds of that phase, so that a sawtooth
    // (search-node's indexing buffers fill and empty with every commit) or a passing spike
    // does not count as growth, while a leak, which raises the floor, does.
    let started = Instant::now();
    let mut samples: Vec<(Duration, BTreeMap<&'static str, Memory>)> = Vec::new();
    let mut measured: Option<(Instant, usize)> = None;
    let verbose = std::env::var_os("CAMPAIGN_VERBOSE").is_some();
    loop {
        tokio::time::sleep(MEMORY_SAMPLE_EVERY).await;
        let at = started.elapsed();
        if at >= warm_up && measured.is_none() {
            shared.measuring.store(true, Ordering::SeqCst);
            measured = Some((Instant::now(), shared.orders.lock().expect("orders").len()));
        }
        let now = sys.memory();
        if verbose {
            let line: Vec<String> = now
                .iter()
                .map(|(n, m)| {
                    format!(
                        "{n} {} (anon {}, file {}, {} threads)",
                        m.rss, m.anon, m.file, m.threads
                    )
                })
                .collect();
            println!("[soak]   {:>3}s RSS KiB: {}", at.as_secs(), line.join("; "));
        }
        samples.push((at, now));
        if at >= warm_up + run {
            break;
        }
    }
    shared.measuring.store(false, Ordering::SeqCst);
    let (measured_at, orders_before) = measured.expect("the run was measured");
    let measured = measured_at.elapsed();
    shared.stop.store(true, Ordering::SeqCst);
    let floor = |from: Duration, to: Duration| -> BTreeMap<&'static str, Memory> {
        let mut out: BTreeMap<&'static str, Memory> = BTreeMap::new();
        for (_, sample) in samples.iter().filter(|(at, _)| *at > from && *at <= to) {
            for (name, m) in sample {
                out.entry(name)
                    .and_modify(|f| {
                        if m.rss < f.rss {
                            *f = *m;
                        }
                    })
                    .or_insert(*m);
            }
        }
        out
    };
    let end = samples.last().map(|(at, _)| *at).expect("samples");
    let warm_end = samples
        .iter()
        .map(|(at, _)| *at)
        .filter(|at| *at <= warm_up + Duration::from_millis(500))
        .max()
        .unwrap_or(warm_up);
    let before = floor(warm_end.saturating_sub(MEMORY_WINDOW), warm_end);
    let after = floor(end.saturating_sub(MEMORY_WINDOW), end);
    let peak = |name: &str| {
        samples
            .iter()
            .filter_map(|(_, s)| s.get(name).map(|m| m.rss))
            .max()
            .unwrap_or(0)
    };
    let mut tally = Tally::default();
    for w in workers {
        let t = w.await.expect("worker");
        for (kind, mut s) in t.samples {
            tally.samples.entry(kind).or_default().append(&mut s);
        }
        for (kind, c) in t.counts {
            *tally.counts.entry(kind).or_default() += c;
        }
        tally.errors.extend(t.errors);
    }
    let orders_after = shared.orders.lock().expect("orders").len();

    let total: usize = tally.samples.values().map(Vec::len).sum();
    println!(
        "[soak] profile {}, {CONNECTIONS} connections, warm-up {:?}, measured {:.1}s: {total} \
         requests ({:.0}/s), {} orders placed in the measured run, {} errors",
        profile.name(),
        warm_up,
        measured.as_secs_f64(),
        total as f64 / measured.as_secs_f64(),
        orders_after - orders_before,
        tally.errors.len()
    );
    for (kind, samples) in &mut tally.samples {
        println!(
            "[soak]   {:<26} {:>6} requests  p50 {:>7.1} ms  p99 {:>7.1} ms",
            kind.name(),
            samples.len(),
            quantile_ms(samples, 0.50),
            quantile_ms(samples, 0.99)
        );
    }
    let mib = |kib: u64| kib as f64 / 1024.0;
    let mut grew = Vec::new();
    for (name, start) in &before {
        let end = after[name];
        let growth = end.rss as f64 / start.rss as f64 - 1.0;
        // An embedded store keeps what it stores in its cache (redb and sled cache up to
        // 1 GiB by default), so RSS growing with the data directory is expected; growth
        // beyond that is what the limit is about.
        let data_growth = end.data.saturating_sub(start.data);
        let net = (end.rss as f64 - data_growth as f64) / start.rss as f64 - 1.0;
        println!(
            "[soak]   RSS {name:<13} {:>6.1} MiB after warm-up (anon {:.1}, file {:.1}, data \
             {:.1})  {:>6.1} MiB at the end (anon {:.1}, file {:.1}, data {:.1})  {:+.1}% \
             ({:+.1}% beyond data growth), peak {:.1} MiB",
            mib(start.rss),
            mib(start.anon),
            mib(start.file),
            mib(start.data),
            mib(end.rss),
            mib(end.anon),
            mib(end.file),
            mib(end.data),
            growth * 100.0,
            net * 100.0,
            mib(peak(name))
        );
        if net >= RSS_GROWTH_LIMIT {
            grew.push(format!(
                "{name}: {} KiB -> {} KiB ({:+.1}%; its data grew by {data_growth} KiB)",
                start.rss,
                end.rss,
                growth * 100.0
            ));
        }
    }
    assert!(
        tally.errors.is_empty(),
        "{} requests failed or answered unexpectedly, the first ones:\n{}",
        tally.errors.len(),
        tally.errors[..tally.errors.len().min(20)].join("\n")
    );
    for (kind, _) in KINDS {
        assert!(
            tally.samples.get(kind).is_some_and(|s| s.len() >= 10),
            "too few {} requests measured: {:?}",
            kind.name(),
            tally.samples.get(kind).map(Vec::len)
        );
    }
    assert!(
        grew.is_empty(),
        "resident memory grew by {}% or more (beyond the growth of the data) over the \
         measured run: {grew:?}",
        RSS_GROWTH_LIMIT * 100.0
    );
}
