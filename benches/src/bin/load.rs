//! Throughput of the running system under a real load tool (`oha`), loopback only.
//!
//! Starts the real release catalog-node (demo catalogue, every product stocked), order-node
//! and edge-host with the composer (as the composer bench does), places one 50-line order,
//! prints the URLs and tokens, then runs `oha` against each target for a bounded time with a
//! bounded number of connections, one target after the other, and prints requests/s, p50 and
//! p99 of each. Everything is stopped at the end. `scripts/load` builds what it needs and
//! installs `oha` when missing.
//!
//! `load [--seconds N (default 10, at most 60)] [--connections N (default 8, at most 64)]`
//! `[--oha PATH]`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::ExitCode;
use std::time::Duration;

use benches::composer::ComposerBench;
use benches::oha::{Oha, Report, Target};
use benches::system::order_body;
use system_tests::Rng;

/// Lines of the order whose view is loaded through the composer.
const VIEW_LINES: usize = 50;
/// Ids in each batch GET.
const BATCH_IDS: usize = 50;
/// Lines of each order the POST target places.
const POST_LINES: usize = 3;

/// One load target: a name and the request `oha` repeats.
struct Named {
    name: &'static str,
    target: Target,
}

/// Throughput of the running system under oha, loopback only: starts the release
/// catalog-node, order-node and edge-host with the composer, then loads each target for a
/// bounded time with a bounded number of connections, one after the other, and prints
/// requests/s, p50 and p99 of each.
#[derive(Debug, clap::Parser)]
#[command(name = "load", about, long_about)]
struct Settings {
    /// Seconds of load per target (1 to 60).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=60))]
    seconds: u64,

    /// Concurrent connections (1 to 64).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=64))]
    connections: u64,

    /// The oha binary to run.
    #[arg(long, default_value = "oha")]
    oha: String,
}

/// The four targets on a started system with its 50-line order `view_id`.
fn targets(sys: &ComposerBench, rng: &mut Rng, view_id: &str) -> Vec<Named> {
    let fx = &sys.ob.fx;
    let product = fx.pick_ids(rng, 1).remove(0);
    let batch = fx.pick_ids(rng, BATCH_IDS).join(",");
    let lines = fx.pick_ids(rng, POST_LINES);
    let order = order_body("load-customer", lines.iter().map(String::as_str)).to_string();
    let reader = Some(sys.ob.fx.reader.clone());
    vec![
        Named {
            name: "catalog GET /v1/products/{id}",
            target: Target {
                method: "GET",
                url: sys.ob.fx.url(&format!("/v1/products/{product}")),
                token: reader.clone(),
                body: None,
            },
        },
        Named {
            name: "catalog batch GET /v1/products?ids= (50 ids)",
            target: Target {
                method: "GET",
                url: sys.ob.fx.url(&format!("/v1/products?ids={batch}")),
                token: reader,
                body: None,
            },
        },
        Named {
            name: "composer GET /v1/order-views/{id} (50 lines)",
            target: Target {
                method: "GET",
                url: format!("{}/v1/order-views/{view_id}", sys.host_base),
                token: Some(sys.staff.clone()),
                body: None,
            },
        },
        // Last, so the reads above run on a store no load has written to.
        Named {
            name: "order-node POST /v1/orders (3 lines, durable, saga)",
            target: Target {
                method: "POST",
                url: format!("{}/v1/orders", sys.ob.base),
                token: Some(sys.ob.shop.clone()),
                body: Some(order),
            },
        },
    ]
}

async fn run(settings: Settings) -> Result<Vec<(&'static str, Report)>, String> {
    let oha = Oha {
        program: settings.oha.clone(),
        seconds: settings.seconds,
    };
    println!("load tool: {}", oha.version().await?);

    let sys = ComposerBench::start().await;
    let mut rng = Rng::new(0x10AD_0001);
    let lines = sys.ob.fx.pick_ids(&mut rng, VIEW_LINES);
    let order = sys.place("load-view", &lines).await;
    sys.check_same_views(&order.id).await;

    println!(
        "catalog-node: {} (reader token {})",
        sys.ob.fx.base, sys.ob.fx.reader
    );
    println!("order-node:   {} (shop token {})", sys.ob.base, sys.ob.shop);
    println!("edge-host:    {} (no token)", sys.host_base);
    println!("{VIEW_LINES}-line order: {}", order.id);
    println!(
        "each target: oha for {} s with {} connections (keep-alive), one target at a time",
        settings.seconds, settings.connections
    );

    let mut results = Vec::new();
    for named in targets(&sys, &mut rng, &order.id) {
        println!("\n==> {}", named.name);
        match oha.run(&named.target, settings.connections).await {
            Ok(m) => {
                println!(
                    "    {:.0} 2xx/s, p50 {:.2} ms, p99 {:.2} ms; statuses {{{}}}; errors {{{}}}",
                    m.ok_per_sec, m.p50_ms, m.p99_ms, m.statuses, m.errors
                );
                results.push((named.name, m));
            }
            Err(e) => {
                sys.stop().await;
                return Err(e);
            }
        }
        // A pause between targets, so one target's tail does not overlap the next.
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    sys.stop().await;
    Ok(results)
}

fn main() -> ExitCode {
    let settings = <Settings as clap::Parser>::parse();
    let (seconds, connections) = (settings.seconds, settings.connections);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match rt.block_on(run(settings)) {
        Ok(results) => {
            println!("\n| target ({seconds} s, {connections} connections) | 2xx/s | p50 | p99 |");
            println!("| --- | --- | --- | --- |");
            for (name, m) in &results {
                println!(
                    "| {} | {:.0} | {:.2} ms | {:.2} ms |",
                    name, m.ok_per_sec, m.p50_ms, m.p99_ms
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("load: {e}");
            ExitCode::FAILURE
        }
    }
}
