//! Benchmarks of the real release `search-node` following the real `catalog-node` with the
//! demo catalogue (3000 products), over loopback:
//!
//! - `search_query`: latency of `GET /v1/search` for a few representative queries
//!   (criterion), then p50/p99 of [`TIMED_REQUESTS`] sequential requests per query, printed.
//! - `search_lag`: write-to-searchable lag while a background writer PUTs demo products at a
//!   steady [`WRITES_PER_SECOND`]: for every [`SAMPLE_EVERY`]-th write, the time from the
//!   PUT's acknowledgement to the first `GET /v1/search` (`min_seq` = its `X-Catalog-Seq`,
//!   `wait_ms` 5000) that answers `caught_up: true` with the product found. criterion gets
//!   the lags as its measured time; their p50/p99 are printed.
//!
//! Needs `cargo build --release --workspace --bins` first. See
//! `docs/benchmarks-orders-search.md`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use benches::demo_catalog;
use benches::system::{Percentiles, SearchBench, demo_products, ms};
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use serde_json::Value;
use system_tests::Rng;
use system_tests::search::search_path;
use tokio::runtime::Runtime;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// Sequential requests per query timed for p50/p99.
const TIMED_REQUESTS: usize = 2000;
/// Longest the timed requests of one query may take.
const TIMED_REQUESTS_WITHIN: Duration = Duration::from_secs(30);
/// The steady catalog write rate of the lag benchmark.
const WRITES_PER_SECOND: u64 = 100;
/// Every this many writes, one is timed until searchable.
const SAMPLE_EVERY: u64 = 5;
/// Hard limits of the background writer, whatever criterion asks for.
const WRITER_MAX_WRITES: u64 = 9_000;
/// See [`WRITER_MAX_WRITES`].
const WRITER_MAX_TIME: Duration = Duration::from_secs(90);
/// Writes (with their probes) in flight at most; a tick finding this many is skipped.
const MAX_IN_FLIGHT: usize = 200;
/// `wait_ms` of a probe's search.
const PROBE_WAIT_MS: u64 = 5000;
/// Searches one probe may send before it gives up.
const PROBE_MAX_ATTEMPTS: u32 = 10;
/// The p99 the issue sets for the lag at 100 writes/s.
const LAG_TARGET: Duration = Duration::from_millis(200);

/// The queries of `search_query`: `(name, parameters)`.
const QUERIES: [(&str, &[(&str, &str)]); 3] = [
    ("one_word", &[("q", "waterproof")]),
    ("two_words", &[("q", "wireless headphones")]),
    (
        "word_in_category",
        &[("q", "cotton"), ("category", "apparel")],
    ),
];

/// `GET /v1/search` of each of [`QUERIES`]: criterion's figures, then p50/p99 of
/// [`TIMED_REQUESTS`] sequential requests.
fn search_query(c: &mut Criterion, rt: &Runtime, sb: &SearchBench) {
    let urls: Vec<(&str, String)> = QUERIES
        .iter()
        .map(|(name, params)| (*name, sb.search_url(params)))
        .collect();
    // Once, outside the measurement: every query finds something, from a caught-up index.
    for (name, url) in &urls {
        let answer = rt.block_on(sb.search_json(url));
        let total = answer["total"].as_u64().unwrap_or(0);
        assert!(total > 0 && answer["caught_up"] == true, "{name}: {answer}");
        println!("search_query/{name}: {total} matching products");
    }

    let mut group = c.benchmark_group("search_query");
    group
        .sample_size(50)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .throughput(Throughput::Elements(1));
    for (name, url) in &urls {
        group.bench_function(*name, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        black_box(sb.search(url).await);
                    }
                    start.elapsed()
                })
            });
        });
    }
    group.finish();

    println!("search_query: {TIMED_REQUESTS} sequential timed requests per query");
    for (name, url) in &urls {
        let mut times = Vec::with_capacity(TIMED_REQUESTS);
        let began = Instant::now();
        rt.block_on(async {
            for _ in 0..TIMED_REQUESTS {
                if began.elapsed() > TIMED_REQUESTS_WITHIN {
                    break;
                }
                let start = Instant::now();
                black_box(sb.search(url).await);
                times.push(start.elapsed());
            }
        });
        let p = Percentiles::of(&mut times);
        println!(
            "search_query/{name}: n={} p50={:.3} ms p99={:.3} ms max={:.3} ms",
            p.count,
            ms(p.p50),
            ms(p.p99),
            ms(p.max)
        );
    }
}

/// What the writes and probes of the lag benchmark need, shared by their tasks.
struct LagCtx {
    http: reqwest::Client,
    catalog: String,
    admin: String,
    search: String,
    shop: String,
    /// Demo products `(id, PUT body)`, in the (shuffled) order they are written.
    products: Vec<(String, Value)>,
}

/// One timed write: how long until it was searchable.
#[derive(Debug, Clone, Copy)]
struct Probe {
    lag: Duration,
    attempts: u32,
}

/// What one write task reports.
#[derive(Debug, Clone, Copy)]
struct WriteOutcome {
    /// From sending the PUT to its acknowledgement; `None` when the PUT failed.
    latency: Option<Duration>,
    /// Whether it was sampled and its probe gave up.
    probe_failed: bool,
}

/// What the background writer did.
#[derive(Debug, Default)]
struct WriterStats {
    writes: u64,
    elapsed: Duration,
    failed_writes: u64,
    failed_probes: u64,
    skipped_ticks: u64,
    latencies: Vec<Duration>,
}

impl WriterStats {
    /// Counts one finished write task.
    fn record(&mut self, outcome: WriteOutcome) {
        match outcome.latency {
            Some(latency) => self.latencies.push(latency),
            None => self.failed_writes += 1,
        }
        self.failed_probes += u64::from(outcome.probe_failed);
    }
}

/// PUTs the `n`-th write (its product's demo body, named with the word `lagw{n}`); when
/// `sampled`, then times it until searchable and sends the [`Probe`].
async fn write_and_probe(
    ctx: Arc<LagCtx>,
    n: u64,
    sampled: bool,
    probes: mpsc::UnboundedSender<Probe>,
) -> WriteOutcome {
    let (id, demo) = &ctx.products[(n as usize) % ctx.products.len()];
    let word = format!("lagw{n}");
    let mut body = demo.clone();
    body["name"] = Value::String(format!("{} {word}", demo["name"].as_str().unwrap_or("")));
    let sent = Instant::now();
    let res = ctx
        .http
        .put(format!("{}/v1/products/{id}", ctx.catalog))
        .bearer_auth(&ctx.admin)
        .json(&body)
        .send()
        .await;
    let Ok(res) = res else {
        return WriteOutcome {
            latency: None,
            probe_failed: sampled,
        };
    };
    let ok = res.status().is_success();
    let seq = res
        .headers()
        .get("x-catalog-seq")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let read = res.bytes().await.is_ok();
    let acked = Instant::now();
    let (true, true, Some(seq)) = (ok, read, seq) else {
        return WriteOutcome {
            latency: None,
            probe_failed: sampled,
        };
    };
    let latency = Some(acked - sent);
    if !sampled {
        return WriteOutcome {
            latency,
            probe_failed: false,
        };
    }
    let seq = seq.to_string();
    let wait = PROBE_WAIT_MS.to_string();
    let url = format!(
        "{}{}",
        ctx.search,
        search_path(&[
            ("q", &word),
            ("min_seq", &seq),
            ("wait_ms", &wait),
            ("limit", "10")
        ])
    );
    for attempt in 1..=PROBE_MAX_ATTEMPTS {
        let answer = async {
            let res = ctx
                .http
                .get(&url)
                .bearer_auth(&ctx.shop)
                .send()
                .await
                .ok()?;
            if !res.status().is_success() {
                return None;
            }
            res.json::<Value>().await.ok()
        }
        .await;
        let found = answer.as_ref().is_some_and(|a| {
            a["caught_up"] == true
                && a["hits"]
                    .as_array()
                    .is_some_and(|hits| hits.iter().any(|h| h["product_id"] == id.as_str()))
        });
        if found {
            let _ = probes.send(Probe {
                lag: acked.elapsed(),
                attempts: attempt,
            });
            return WriteOutcome {
                latency,
                probe_failed: false,
            };
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    WriteOutcome {
        latency,
        probe_failed: true,
    }
}

/// Writes at [`WRITES_PER_SECOND`] (open loop: one write task per tick) until `stop` is set
/// or a hard limit is reached, then waits (at most 30 s) for the writes in flight.
async fn writer(
    ctx: Arc<LagCtx>,
    stop: Arc<AtomicBool>,
    probes: mpsc::UnboundedSender<Probe>,
) -> WriterStats {
    let mut stats = WriterStats::default();
    let mut tasks = JoinSet::new();
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / WRITES_PER_SECOND));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let start = Instant::now();
    while !stop.load(Ordering::Relaxed)
        && stats.writes < WRITER_MAX_WRITES
        && start.elapsed() < WRITER_MAX_TIME
    {
        tick.tick().await;
        while let Some(done) = tasks.try_join_next() {
            stats.record(done.expect("write task"));
        }
        if tasks.len() >= MAX_IN_FLIGHT {
            stats.skipped_ticks += 1;
            continue;
        }
        let n = stats.writes;
        tasks.spawn(write_and_probe(
            ctx.clone(),
            n,
            n % SAMPLE_EVERY == 0,
            probes.clone(),
        ));
        stats.writes += 1;
    }
    stats.elapsed = start.elapsed();
    drop(probes);
    let drained = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(done) = tasks.join_next().await {
            stats.record(done.expect("write task"));
        }
    })
    .await;
    assert!(drained.is_ok(), "writes still in flight after 30 s");
    stats
}

/// Write-to-searchable lag at a steady [`WRITES_PER_SECOND`].
fn search_lag(c: &mut Criterion, rt: &Runtime, sb: &SearchBench) {
    let mut products = demo_products(&demo_catalog());
    // A shuffled round: a product is rewritten only after every other one, so a probe's
    // product is never renamed again while it is being looked for.
    let mut rng = Rng::new(0x5EA2_0001);
    for i in (1..products.len()).rev() {
        products.swap(i, rng.index(i + 1));
    }
    let ctx = Arc::new(LagCtx {
        http: sb.fx.http.clone(),
        catalog: sb.fx.base.clone(),
        admin: sb.fx.admin.clone(),
        search: sb.base.clone(),
        shop: sb.shop.clone(),
        products,
    });
    let stop = Arc::new(AtomicBool::new(false));
    let (probes_tx, mut probes) = mpsc::unbounded_channel();
    let commits_before = rt.block_on(async {
        system_tests::search::metric_value(&sb.metrics().await, "search_commits_total")
    });
    let background = rt.spawn(writer(ctx, stop.clone(), probes_tx));

    let mut lags: Vec<Duration> = Vec::new();
    let mut retried = 0u64;
    let mut group = c.benchmark_group("search_lag");
    group
        .sample_size(100)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(15))
        .throughput(Throughput::Elements(1));
    group.bench_function("put_to_searchable_100_writes_per_s", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let probe = tokio::time::timeout(Duration::from_secs(30), probes.recv())
                        .await
                        .expect("no write became searchable within 30 s")
                        .expect("the background writer stopped (hit its limits) too early");
                    retried += u64::from(probe.attempts > 1);
                    lags.push(probe.lag);
                    total += probe.lag;
                }
                total
            })
        });
    });
    group.finish();
    stop.store(true, Ordering::Relaxed);
    let mut stats = rt.block_on(background).expect("writer task");
    let commits_after = rt.block_on(async {
        system_tests::search::metric_value(&sb.metrics().await, "search_commits_total")
    });

    let rate = stats.writes as f64 / stats.elapsed.as_secs_f64();
    let put = Percentiles::of(&mut stats.latencies);
    println!(
        "search_lag: writer made {} writes in {:.1} s = {rate:.1} writes/s (target \
         {WRITES_PER_SECOND}); PUT p50={:.2} ms p99={:.2} ms; failed writes {}, failed probes \
         {}, skipped ticks {}",
        stats.writes,
        stats.elapsed.as_secs_f64(),
        ms(put.p50),
        ms(put.p99),
        stats.failed_writes,
        stats.failed_probes,
        stats.skipped_ticks
    );
    if let (Some(before), Some(after)) = (commits_before, commits_after) {
        println!(
            "search_lag: search-node committed {:.0} times ({:.1} commits/s)",
            after - before,
            (after - before) / stats.elapsed.as_secs_f64()
        );
    }
    let p = Percentiles::of(&mut lags);
    println!(
        "search_lag: {} timed writes (warm-up included), {retried} needed a second search; \
         lag p50={:.1} ms p99={:.1} ms max={:.1} ms; target p99 <= {} ms: {}",
        p.count,
        ms(p.p50),
        ms(p.p99),
        ms(p.max),
        LAG_TARGET.as_millis(),
        if p.p99 <= LAG_TARGET { "met" } else { "MISSED" }
    );
    assert_eq!(
        (stats.failed_writes, stats.failed_probes),
        (0, 0),
        "writes or probes failed"
    );
}

/// Starts catalog-node and search-node for the whole suite, runs every group, then stops them.
fn search(c: &mut Criterion) {
    // Two workers: the background writer and the probes must run while criterion is busy
    // between its calls into the benchmark.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let sb = rt.block_on(SearchBench::start());
    search_query(c, &rt, &sb);
    search_lag(c, &rt, &sb);
    rt.block_on(async move {
        let mut sb = sb;
        sb.node.terminate().await;
        sb.fx.node.node.terminate().await;
    });
}

criterion_group!(benches, search);
criterion_main!(benches);
