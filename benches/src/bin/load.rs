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

use std::process::{ExitCode, Stdio};
use std::time::Duration;

use benches::composer::ComposerBench;
use benches::system::order_body;
use serde_json::Value;
use system_tests::Rng;

/// Lines of the order whose view is loaded through the composer.
const VIEW_LINES: usize = 50;
/// Ids in each batch GET.
const BATCH_IDS: usize = 50;
/// Lines of each order the POST target places.
const POST_LINES: usize = 3;

/// One load target: an HTTP request `oha` repeats.
struct Target {
    name: &'static str,
    method: &'static str,
    url: String,
    token: Option<String>,
    body: Option<String>,
}

/// What `oha` measured for one target.
struct Measured {
    name: &'static str,
    ok_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    statuses: String,
    errors: String,
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

/// Runs `oha` on `target`; kills it if it overruns its duration by 30 s.
async fn run_oha(settings: &Settings, target: &Target) -> Result<Measured, String> {
    let mut cmd = tokio::process::Command::new(&settings.oha);
    cmd.args(["--no-tui", "--output-format", "json"])
        .args(["-z", &format!("{}s", settings.seconds)])
        .args(["-c", &settings.connections.to_string()])
        .args(["-m", target.method]);
    if let Some(token) = &target.token {
        cmd.args(["-H", &format!("authorization: Bearer {token}")]);
    }
    if let Some(body) = &target.body {
        cmd.args(["-T", "application/json", "-d", body]);
    }
    cmd.arg(&target.url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", settings.oha))?;
    let limit = Duration::from_secs(settings.seconds + 30);
    let out = tokio::time::timeout(limit, child.wait_with_output())
        .await
        .map_err(|_| format!("oha overran {limit:?} on {}", target.name))?
        .map_err(|e| format!("oha on {}: {e}", target.name))?;
    if !out.status.success() {
        return Err(format!(
            "oha on {} failed ({}): {}",
            target.name,
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let report: Value = serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "oha's JSON on {}: {e}: {}",
            target.name,
            String::from_utf8_lossy(&out.stdout)
        )
    })?;
    let total_secs = report["summary"]["total"].as_f64().unwrap_or(f64::NAN);
    let statuses = report["statusCodeDistribution"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let ok: u64 = statuses
        .iter()
        .filter(|(code, _)| code.starts_with('2'))
        .filter_map(|(_, n)| n.as_u64())
        .sum();
    let list = |v: &Value| {
        v.as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, n)| format!("{k}: {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    };
    Ok(Measured {
        name: target.name,
        ok_per_sec: ok as f64 / total_secs,
        p50_ms: report["metrics"]["latency_ms"]["p50"]
            .as_f64()
            .unwrap_or(f64::NAN),
        p99_ms: report["metrics"]["latency_ms"]["p99"]
            .as_f64()
            .unwrap_or(f64::NAN),
        statuses: list(&report["statusCodeDistribution"]),
        errors: list(&report["errorDistribution"]),
    })
}

/// The four targets on a started system with its 50-line order `view_id`.
fn targets(sys: &ComposerBench, rng: &mut Rng, view_id: &str) -> Vec<Target> {
    let fx = &sys.ob.fx;
    let product = fx.pick_ids(rng, 1).remove(0);
    let batch = fx.pick_ids(rng, BATCH_IDS).join(",");
    let lines = fx.pick_ids(rng, POST_LINES);
    let order = order_body("load-customer", lines.iter().map(String::as_str)).to_string();
    let reader = Some(sys.ob.fx.reader.clone());
    vec![
        Target {
            name: "catalog GET /v1/products/{id}",
            method: "GET",
            url: sys.ob.fx.url(&format!("/v1/products/{product}")),
            token: reader.clone(),
            body: None,
        },
        Target {
            name: "catalog batch GET /v1/products?ids= (50 ids)",
            method: "GET",
            url: sys.ob.fx.url(&format!("/v1/products?ids={batch}")),
            token: reader,
            body: None,
        },
        Target {
            name: "composer GET /v1/order-views/{id} (50 lines)",
            method: "GET",
            url: format!("{}/v1/order-views/{view_id}", sys.host_base),
            token: Some(sys.staff.clone()),
            body: None,
        },
        // Last, so the reads above run on a store no load has written to.
        Target {
            name: "order-node POST /v1/orders (3 lines, durable, saga)",
            method: "POST",
            url: format!("{}/v1/orders", sys.ob.base),
            token: Some(sys.ob.shop.clone()),
            body: Some(order),
        },
    ]
}

async fn run(settings: Settings) -> Result<Vec<Measured>, String> {
    let version = tokio::process::Command::new(&settings.oha)
        .arg("--version")
        .output()
        .await
        .map_err(|e| {
            format!(
                "cannot run {} ({e}); install it with `cargo install oha --locked`",
                settings.oha
            )
        })?;
    println!(
        "load tool: {}",
        String::from_utf8_lossy(&version.stdout).trim()
    );

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
    for target in targets(&sys, &mut rng, &order.id) {
        println!("\n==> {}", target.name);
        match run_oha(&settings, &target).await {
            Ok(m) => {
                println!(
                    "    {:.0} 2xx/s, p50 {:.2} ms, p99 {:.2} ms; statuses {{{}}}; errors {{{}}}",
                    m.ok_per_sec, m.p50_ms, m.p99_ms, m.statuses, m.errors
                );
                results.push(m);
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
            for m in &results {
                println!(
                    "| {} | {:.0} | {:.2} ms | {:.2} ms |",
                    m.name, m.ok_per_sec, m.p50_ms, m.p99_ms
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
