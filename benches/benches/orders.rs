//! Order creation throughput of the real release `order-node` with real durability (redb
//! fsync per commit, group commit), in front of the real `catalog-node` with the demo
//! catalogue, over loopback.
//!
//! Each iteration sends C concurrent `POST /v1/orders` (2–3 lines of distinct random demo
//! products each) and requires every answer to be 201 with a confirmed order. Besides
//! criterion's figures, each C prints the orders/s over all its timed iterations and the mean
//! writes per order-node commit (`orders_commit_writes`), which shows group commit at work.
//!
//! Needs `cargo build --release --workspace --bins` first. See
//! `docs/benchmarks-orders-search.md`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use benches::system::OrderBench;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futures::future::join_all;
use system_tests::Rng;
use tokio::runtime::Runtime;

/// Concurrent clients, each placing one order per iteration.
const CLIENTS: [usize; 3] = [1, 8, 32];
/// Customers the orders are spread over.
const CUSTOMERS: u64 = 64;

/// Orders placed (warm-up included), to number customers and check `orders_stored`.
static PLACED: AtomicU64 = AtomicU64::new(0);

/// C concurrent `POST /v1/orders` per iteration, for each C of [`CLIENTS`].
fn order_create(c: &mut Criterion, rt: &Runtime, ob: &OrderBench) {
    let mut rng = Rng::new(0x0D0E_0001);
    // Once, outside the measurement: one order goes through end to end.
    let body = ob.order_body(&mut rng, "bench-check", 3);
    rt.block_on(ob.place(&body));
    PLACED.fetch_add(1, Ordering::Relaxed);

    let mut group = c.benchmark_group("order_create");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(8));
    let mut summary = Vec::new();
    for &clients in &CLIENTS {
        let commits_before = rt.block_on(ob.commit_counters());
        let flushes_before = rt.block_on(ob.fx.flush_counters());
        let placed_before = PLACED.load(Ordering::Relaxed);
        let mut timed = Duration::ZERO;
        group.throughput(Throughput::Elements(clients as u64));
        group.bench_with_input(
            BenchmarkId::new("clients", clients),
            &clients,
            |b, &clients| {
                b.iter_custom(|iters| {
                    rt.block_on(async {
                        let mut spent = Duration::ZERO;
                        for _ in 0..iters {
                            let bodies: Vec<serde_json::Value> = (0..clients)
                                .map(|_| {
                                    let n = PLACED.fetch_add(1, Ordering::Relaxed);
                                    let customer = format!("bench-c{}", n % CUSTOMERS);
                                    let lines = 2 + rng.index(2);
                                    ob.order_body(&mut rng, &customer, lines)
                                })
                                .collect();
                            let start = Instant::now();
                            let done = join_all(bodies.iter().map(|body| ob.place(body))).await;
                            spent += start.elapsed();
                            black_box(done);
                        }
                        timed += spent;
                        spent
                    })
                });
            },
        );
        if timed.is_zero() {
            continue; // filtered out on the command line
        }
        // Outside the measurement (warm-up included): orders/s and writes per commit.
        let commits_after = rt.block_on(ob.commit_counters());
        let flushes_after = rt.block_on(ob.fx.flush_counters());
        let placed = PLACED.load(Ordering::Relaxed) - placed_before;
        let per_second = placed as f64 / timed.as_secs_f64();
        let writes_per_commit = commits_after.writes_per_commit_since(&commits_before);
        let writers_per_flush = flushes_after.writers_per_flush_since(&flushes_before);
        println!(
            "order_create/clients/{clients}: {placed} orders in {:.2} s timed = {per_second:.0} \
             orders/s; order-node: {:.0} commits, {:.2} writes per commit; catalog: {:.2} \
             writers per flush",
            timed.as_secs_f64(),
            commits_after.commits - commits_before.commits,
            writes_per_commit,
            writers_per_flush,
        );
        summary.push((clients, per_second, writes_per_commit, writers_per_flush));
    }
    group.finish();

    print_summary(&summary);

    // Once, outside the measurement: order-node stored every order placed, none unsettled.
    let ready = rt.block_on(ob.readyz());
    let placed = PLACED.load(Ordering::Relaxed);
    assert_eq!(
        (ready["orders"].as_u64(), ready["unsettled"].as_u64()),
        (Some(placed), Some(0)),
        "order-node /readyz after {placed} orders: {ready}"
    );
    println!("order_create: {placed} orders placed, /readyz agrees, none unsettled");
}

/// Prints orders/s per C (and its ratio to the first C), writes per commit and catalog writers
/// per flush, from `(C, orders/s, writes per commit, writers per flush)` rows.
fn print_summary(summary: &[(usize, f64, f64, f64)]) {
    let Some(&(first, base, _, _)) = summary.first() else {
        return; // every C filtered out
    };
    println!("order_create summary (all timed iterations, warm-up included):");
    println!("  C  orders/s  ratio to C={first}  writes/commit  catalog writers/flush");
    for &(clients, per_second, writes, writers) in summary {
        println!(
            "  {clients:>2}  {per_second:>8.0}  {:>12.2}  {writes:>13.2}  {writers:>21.2}",
            per_second / base
        );
    }
    let grows = summary.windows(2).all(|w| w[1].1 > w[0].1 * 1.1);
    if !grows {
        println!(
            "  NOTE: throughput does NOT grow (by more than 10%) with every step of C in this run"
        );
    }
}

/// Starts catalog-node and order-node for the whole suite, runs the group, then stops them.
fn orders(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let ob = rt.block_on(OrderBench::start());
    order_create(c, &rt, &ob);
    rt.block_on(async move {
        let mut ob = ob;
        ob.node.terminate().await;
        ob.fx.node.node.terminate().await;
    });
}

criterion_group!(benches, orders);
criterion_main!(benches);
