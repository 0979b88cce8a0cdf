//! Benchmarks of the edge composer, by order size (1, 10, 50, 200 lines):
//!
//! - `compose_core_native`: composer-core's `order_view_json` (parse the order and a catalog
//!   batch answer, compose, serialise) natively, on pre-generated inputs;
//! - `compose_core_wasm`: the same function on the same inputs inside WebAssembly, in wasmtime
//!   48 as edge-host runs the composer: `instance` is one fresh store and instance of the
//!   pre-instantiated guest per composition (stdin and stdout in memory); `in_guest` is the
//!   compose loop alone, timed by the guest itself around `iters` compositions in one
//!   instance;
//! - `order_view_e2e`: an order view over loopback against the real nodes: `batched` through
//!   the composer in edge-host (2 upstream calls), `batched_native` (the same 2 calls and the
//!   native core, from the bench), `n_plus_1` (the order, then one product GET per line);
//! - `customer_page`: a page of 20 orders of 20 lines (400 product mentions) whose products
//!   overlap 1×, 4× or 20×, through the composer (de-duplicated, one batch) and natively with
//!   de-duplication, without it (every mention named in the batch) and with one batch per
//!   order.
//!
//! Needs the release nodes, edge-host and the composer component:
//! `cargo build --release -p catalog-node -p order-node -p edge-host` and
//! `cargo build --release -p edge-composer --target wasm32-wasip2`. The guest of
//! `compose_core_wasm` is built by the bench itself. See `docs/BENCHMARKS.md`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime};

use benches::composer::{ComposerBench, CoreInputs, PageLookup};
use benches::estimates::{median_since, us};
use benches::wasm::{GuestRunner, build_guest};
use bytes::Bytes;
use criterion::measurement::WallTime;
use criterion::{
    BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group,
    criterion_main,
};
use system_tests::Rng;
use tokio::runtime::Runtime;

/// Order sizes, in lines (distinct products).
const SIZES: [usize; 4] = [1, 10, 50, 200];
/// Orders on a customer's page.
const PAGE_ORDERS: usize = 20;
/// Lines of each order on a customer's page.
const PAGE_LINES: usize = 20;
/// How often each product of a page is mentioned on it (pages of 400 mentions each).
const OVERLAPS: [usize; 3] = [1, 4, 20];

/// Settings of the in-process groups: fast iterations, many of them.
fn quick(group: &mut BenchmarkGroup<'_, WallTime>) {
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
}

/// Settings of the loopback groups: iterations of up to tens of milliseconds, so flat
/// sampling (the same iteration count in every sample) and few samples.
fn loopback(group: &mut BenchmarkGroup<'_, WallTime>) {
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
}

/// `order_view_json` natively.
fn compose_core_native(c: &mut Criterion, inputs: &[(usize, CoreInputs)]) {
    let mut group = c.benchmark_group("compose_core_native");
    quick(&mut group);
    for (lines, input) in inputs {
        group.throughput(Throughput::Elements(*lines as u64));
        group.bench_with_input(
            BenchmarkId::new("order_view_json", lines),
            input,
            |b, input| {
                let batches = [input.batch.as_str()];
                b.iter(|| {
                    composer_core::order_view_json(black_box(&input.order), black_box(&batches))
                        .expect("compose")
                });
            },
        );
    }
    group.finish();
}

/// `order_view_json` inside WebAssembly: per instance, and the compose loop alone.
fn compose_core_wasm(
    c: &mut Criterion,
    rt: &Runtime,
    runner: &GuestRunner,
    inputs: &[(usize, CoreInputs)],
) {
    let mut group = c.benchmark_group("compose_core_wasm");
    quick(&mut group);
    for (lines, input) in inputs {
        let stdin = Bytes::from(input.guest_stdin());
        // Once, outside the measurement: the guest composes exactly the native bytes.
        let native =
            composer_core::order_view_json(&input.order, &[&input.batch]).expect("compose");
        let guest = rt.block_on(runner.run(&stdin, None));
        assert_eq!(
            String::from_utf8_lossy(&guest.stdout),
            native,
            "the guest's view of {lines} lines differs from the native one"
        );
        group.throughput(Throughput::Elements(*lines as u64));
        group.bench_with_input(BenchmarkId::new("instance", lines), &stdin, |b, stdin| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        black_box(runner.run(stdin, None).await);
                    }
                    start.elapsed()
                })
            });
        });
        group.bench_with_input(BenchmarkId::new("in_guest", lines), &stdin, |b, stdin| {
            b.iter_custom(|iters| {
                let out = rt.block_on(runner.run(stdin, Some(iters)));
                out.loop_time.expect("the guest timed its loop")
            });
        });
    }
    group.finish();
}

/// An order view end to end, three ways, for orders placed once per size.
fn order_view_e2e(
    c: &mut Criterion,
    rt: &Runtime,
    sys: &ComposerBench,
    orders: &[(usize, String)],
) {
    let mut group = c.benchmark_group("order_view_e2e");
    loopback(&mut group);
    for (lines, id) in orders {
        group.throughput(Throughput::Elements(*lines as u64));
        group.bench_with_input(BenchmarkId::new("batched", lines), id, |b, id| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        black_box(sys.view_composer(id).await);
                    }
                    start.elapsed()
                })
            });
        });
        group.bench_with_input(BenchmarkId::new("batched_native", lines), id, |b, id| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        black_box(sys.view_batched_native(id).await);
                    }
                    start.elapsed()
                })
            });
        });
        group.bench_with_input(BenchmarkId::new("n_plus_1", lines), id, |b, id| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        black_box(sys.view_n_plus_1(id).await);
                    }
                    start.elapsed()
                })
            });
        });
        // Outside the measurement: where the composer's time goes, by its own account.
        let timing = rt.block_on(sys.view_composer_timing(id));
        println!("order_view_e2e/batched/{lines}: composer Server-Timing: {timing}");
    }
    group.finish();
}

/// A customer's page of orders with and without de-duplication of its product lookups.
fn customer_page(c: &mut Criterion, rt: &Runtime, sys: &ComposerBench, pages: &[(usize, String)]) {
    let mut group = c.benchmark_group("customer_page");
    loopback(&mut group);
    let ways = [
        ("dedup_native", PageLookup::Dedup),
        ("no_dedup_native", PageLookup::NoDedup),
        ("per_order_native", PageLookup::PerOrder),
    ];
    for (overlap, customer) in pages {
        let param = format!("overlap_{overlap}x");
        group.throughput(Throughput::Elements((PAGE_ORDERS * PAGE_LINES) as u64));
        group.bench_with_input(
            BenchmarkId::new("composer", &param),
            customer,
            |b, customer| {
                b.iter_custom(|iters| {
                    rt.block_on(async {
                        let start = Instant::now();
                        for _ in 0..iters {
                            black_box(sys.page_composer(customer, PAGE_ORDERS).await);
                        }
                        start.elapsed()
                    })
                });
            },
        );
        for (name, how) in ways {
            group.bench_with_input(BenchmarkId::new(name, &param), customer, |b, customer| {
                b.iter_custom(|iters| {
                    rt.block_on(async {
                        let start = Instant::now();
                        for _ in 0..iters {
                            black_box(sys.page_native(customer, PAGE_ORDERS, how).await);
                        }
                        start.elapsed()
                    })
                });
            });
        }
    }
    group.finish();
}

/// Places one order per size of [`SIZES`] (distinct random demo products); returns
/// `(lines, order id)`.
async fn place_view_orders(sys: &ComposerBench) -> Vec<(usize, String)> {
    let mut rng = Rng::new(0xC0_3E05);
    let mut orders = Vec::new();
    for lines in SIZES {
        let ids = sys.ob.fx.pick_ids(&mut rng, lines);
        let order = sys.place(&format!("bench-view-{lines}"), &ids).await;
        assert_eq!(order.lines.len(), lines);
        sys.check_same_views(&order.id).await;
        orders.push((lines, order.id));
    }
    orders
}

/// Places, per overlap of [`OVERLAPS`], [`PAGE_ORDERS`] orders of [`PAGE_LINES`] lines for
/// one customer, drawn as sliding windows over a pool of 400 / overlap demo products so that
/// each product is on exactly `overlap` orders; returns `(overlap, customer)`.
async fn place_pages(sys: &ComposerBench) -> Vec<(usize, String)> {
    let mut rng = Rng::new(0xC0_9A6E);
    let mut pages = Vec::new();
    for overlap in OVERLAPS {
        let pool_size = PAGE_ORDERS * PAGE_LINES / overlap;
        let pool = sys.ob.fx.pick_ids(&mut rng, pool_size);
        let step = pool_size / PAGE_ORDERS;
        let customer = format!("bench-page-{overlap}x");
        for k in 0..PAGE_ORDERS {
            let ids: Vec<String> = (0..PAGE_LINES)
                .map(|j| pool[(k * step + j) % pool_size].clone())
                .collect();
            sys.place(&customer, &ids).await;
        }
        sys.check_same_pages(&customer, PAGE_ORDERS).await;
        println!(
            "customer_page/overlap_{overlap}x: {PAGE_ORDERS} orders x {PAGE_LINES} lines = {} \
             mentions of {pool_size} distinct products",
            PAGE_ORDERS * PAGE_LINES
        );
        pages.push((overlap, customer));
    }
    pages
}

/// Prints this run's medians side by side with their ratios (criterion's `estimates.json`,
/// written during this run only).
fn print_summary(since: SystemTime, pages: &[(usize, String)]) {
    let m = |group: &str, function: &str, param: &str| median_since(group, function, param, since);
    let fmt = |d: Option<Duration>| d.map_or_else(|| "-".to_owned(), |d| format!("{:.1}", us(d)));
    let ratio = |a: Option<Duration>, b: Option<Duration>| match (a, b) {
        (Some(a), Some(b)) if !b.is_zero() => format!("{:.2}", a.as_secs_f64() / b.as_secs_f64()),
        _ => "-".to_owned(),
    };
    println!("\ncomposer summary (medians in µs, this run):");
    println!(
        "  lines  native  wasm in_guest  wasm instance  in_guest/native  instance/native  \
         e2e batched  batched_native  n_plus_1  n_plus_1/batched  batched/batched_native"
    );
    for lines in SIZES {
        let p = lines.to_string();
        let native = m("compose_core_native", "order_view_json", &p);
        let in_guest = m("compose_core_wasm", "in_guest", &p);
        let instance = m("compose_core_wasm", "instance", &p);
        let batched = m("order_view_e2e", "batched", &p);
        let batched_native = m("order_view_e2e", "batched_native", &p);
        let n_plus_1 = m("order_view_e2e", "n_plus_1", &p);
        println!(
            "  {lines:>5}  {:>6}  {:>13}  {:>13}  {:>15}  {:>15}  {:>11}  {:>14}  {:>8}  {:>16}  \
             {:>22}",
            fmt(native),
            fmt(in_guest),
            fmt(instance),
            ratio(in_guest, native),
            ratio(instance, native),
            fmt(batched),
            fmt(batched_native),
            fmt(n_plus_1),
            ratio(n_plus_1, batched),
            ratio(batched, batched_native),
        );
    }
    println!(
        "  overlap  composer  dedup_native  no_dedup_native  per_order_native  no_dedup/dedup  \
         per_order/dedup"
    );
    for (overlap, _) in pages {
        let p = format!("overlap_{overlap}x");
        let composer = m("customer_page", "composer", &p);
        let dedup = m("customer_page", "dedup_native", &p);
        let no_dedup = m("customer_page", "no_dedup_native", &p);
        let per_order = m("customer_page", "per_order_native", &p);
        println!(
            "  {:>7}  {:>8}  {:>12}  {:>15}  {:>16}  {:>14}  {:>15}",
            format!("{overlap}x"),
            fmt(composer),
            fmt(dedup),
            fmt(no_dedup),
            fmt(per_order),
            ratio(no_dedup, dedup),
            ratio(per_order, dedup),
        );
    }
}

/// Runs the in-process groups, then starts the system for the loopback groups.
fn composer(c: &mut Criterion) {
    let since = SystemTime::now();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");

    let inputs: Vec<(usize, CoreInputs)> = SIZES
        .iter()
        .map(|&n| (n, CoreInputs::generate(n)))
        .collect();
    compose_core_native(c, &inputs);
    let runner = GuestRunner::load(&build_guest());
    compose_core_wasm(c, &rt, &runner, &inputs);
    drop(runner);

    let sys = rt.block_on(ComposerBench::start());
    let orders = rt.block_on(place_view_orders(&sys));
    let pages = rt.block_on(place_pages(&sys));
    order_view_e2e(c, &rt, &sys, &orders);
    customer_page(c, &rt, &sys, &pages);
    rt.block_on(sys.stop());

    print_summary(since, &pages);
}

criterion_group!(benches, composer);
criterion_main!(benches);
