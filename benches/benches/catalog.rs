//! Benchmarks of the real release `catalog-node` over loopback: single reads, a batch read
//! against the same number of single reads, and reservation throughput under concurrency.
//!
//! Needs `cargo build --release -p catalog-node` first. See `docs/BENCHMARKS.md`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use benches::{Fixture, STOCK_PRODUCT, STOCK_UNITS};
use criterion::measurement::WallTime;
use criterion::{
    BenchmarkGroup, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main,
};
use futures::future::join_all;
use system_tests::Rng;
use tokio::runtime::Runtime;

/// Ids per batch read, and single reads compared against it.
const BATCH: usize = 50;
/// Concurrent reservations per iteration.
const CONCURRENCY: [usize; 3] = [1, 8, 32];
/// Precomputed id sets the batch benchmarks cycle through.
const ID_SETS: usize = 256;

/// Numbers the reservation ids, unique within the run (the data directory is fresh).
static RESERVATION_SEQ: AtomicU64 = AtomicU64::new(0);

/// The same quick settings for every group.
fn quick(group: &mut BenchmarkGroup<'_, WallTime>) {
    group
        .sample_size(25)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
}

/// `GET /v1/products/{id}` of a random demo id.
fn catalog_get(c: &mut Criterion, rt: &Runtime, fx: &Fixture) {
    let paths: Vec<String> = fx
        .ids
        .iter()
        .map(|id| format!("/v1/products/{id}"))
        .collect();
    let mut rng = Rng::new(0x5EED_0001);
    let mut group = c.benchmark_group("catalog_get");
    quick(&mut group);
    group.throughput(Throughput::Elements(1));
    group.bench_function("random_id", |b| {
        b.iter_custom(|iters| {
            let picks: Vec<usize> = (0..iters).map(|_| rng.index(paths.len())).collect();
            rt.block_on(async {
                let start = Instant::now();
                for &i in &picks {
                    black_box(fx.get(&paths[i]).await);
                }
                start.elapsed()
            })
        });
    });
    group.finish();
}

/// `GET /v1/products?ids=` of 50 distinct ids against 50 sequential single reads of them.
fn catalog_batch_get(c: &mut Criterion, rt: &Runtime, fx: &Fixture) {
    let mut rng = Rng::new(0x5EED_0002);
    let sets: Vec<Vec<&str>> = (0..ID_SETS)
        .map(|_| {
            rng.distinct(fx.ids.len(), BATCH)
                .into_iter()
                .map(|i| fx.ids[i].as_str())
                .collect()
        })
        .collect();
    let batch_paths: Vec<String> = sets
        .iter()
        .map(|set| format!("/v1/products?ids={}", set.join(",")))
        .collect();
    let single_paths: Vec<Vec<String>> = sets
        .iter()
        .map(|set| set.iter().map(|id| format!("/v1/products/{id}")).collect())
        .collect();

    // Once, outside the measurement: a batch answers every id with a product.
    let first = rt.block_on(fx.get_json(&batch_paths[0]));
    let found = first["products"].as_array().map_or(0, Vec::len);
    let missing = first["missing"].as_array().map_or(usize::MAX, Vec::len);
    assert_eq!((found, missing), (BATCH, 0), "batch read answered {first}");

    let mut group = c.benchmark_group("catalog_batch_get");
    quick(&mut group);
    group.throughput(Throughput::Elements(BATCH as u64));
    let mut next = 0usize;
    group.bench_function("batch_50", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(fx.get(&batch_paths[next % ID_SETS]).await);
                    next += 1;
                }
                start.elapsed()
            })
        });
    });
    let mut next = 0usize;
    group.bench_function("single_x50", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    for path in &single_paths[next % ID_SETS] {
                        black_box(fx.get(path).await);
                    }
                    next += 1;
                }
                start.elapsed()
            })
        });
    });
    group.finish();
}

/// C concurrent `POST /v1/reservations`, one unit each of a product with huge stock.
fn catalog_reserve(c: &mut Criterion, rt: &Runtime, fx: &Fixture) {
    rt.block_on(fx.seed_stock_product());
    let mut group = c.benchmark_group("catalog_reserve");
    quick(&mut group);
    for &concurrency in &CONCURRENCY {
        let before = rt.block_on(fx.flush_counters());
        let made_before = RESERVATION_SEQ.load(Ordering::Relaxed);
        group.throughput(Throughput::Elements(concurrency as u64));
        group.bench_with_input(
            BenchmarkId::new("concurrent", concurrency),
            &concurrency,
            |b, &concurrency| {
                b.iter_custom(|iters| {
                    rt.block_on(async {
                        let mut spent = Duration::ZERO;
                        for _ in 0..iters {
                            let ids: Vec<String> = (0..concurrency)
                                .map(|_| {
                                    let n = RESERVATION_SEQ.fetch_add(1, Ordering::Relaxed);
                                    format!("bench-{n}")
                                })
                                .collect();
                            let start = Instant::now();
                            let done = join_all(ids.iter().map(|id| fx.reserve_one(id))).await;
                            spent += start.elapsed();
                            black_box(done);
                        }
                        spent
                    })
                });
            },
        );
        // Outside the measurement: how many writers shared a flush (warm-up included).
        let after = rt.block_on(fx.flush_counters());
        let made = RESERVATION_SEQ.load(Ordering::Relaxed) - made_before;
        println!(
            "catalog_reserve/concurrent/{concurrency}: {made} reservations, {} flushes, \
             {:.2} writers per flush",
            after.flushes - before.flushes,
            after.writers_per_flush_since(&before)
        );
    }
    group.finish();

    // Once, outside the measurement: every reservation took exactly one unit.
    let product = rt.block_on(fx.get_json(&format!("/v1/products/{STOCK_PRODUCT}")));
    let reserved = RESERVATION_SEQ.load(Ordering::Relaxed);
    assert_eq!(
        product["stock"].as_u64(),
        Some(STOCK_UNITS - reserved),
        "stock of {STOCK_PRODUCT} after {reserved} reservations: {product}"
    );
    println!("catalog_reserve: {reserved} reservations made, stock consistent");
}

/// Starts one node for the whole suite, runs every group, then stops the node.
fn catalog(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let fx = rt.block_on(Fixture::start());
    catalog_get(c, &rt, &fx);
    catalog_batch_get(c, &rt, &fx);
    catalog_reserve(c, &rt, &fx);
    rt.block_on(async move {
        let mut fx = fx;
        fx.node.node.terminate().await;
    });
}

criterion_group!(benches, catalog);
criterion_main!(benches);
