//! The catalog's read replicas, measured: how far a replica trails its primary under a
//! steady stream of writes, and what product reads give with 0, 1 and 2 replicas.
//!
//! Starts the release catalog-node with the demo catalogue and two `--replica-of` it, all on
//! loopback. Then:
//!
//! - **lag**: for each write rate, writes (stock changes) at that rate for `--seconds`, and
//!   right after a sampled write's acknowledgement reads the product on a replica with
//!   `min_seq` = the write's seq: the read's wait is the time from the primary's answer until
//!   the change can be read on the replica. The replica's own `catalog_replica_lag` gauge is
//!   sampled every 100 ms beside it.
//! - **reads**: `oha` on `GET /v1/products/{id}` for `--seconds`: against the primary alone
//!   (0 replicas), one replica, then both replicas at once (half the connections each), the
//!   order rotating from round to round, medians over the rounds. The CPU time the serving
//!   processes used (from `/proc`) per request gives the cost that predicts throughput on a
//!   machine with more cores.
//!
//! `replicas [--seconds N (default 10)] [--rounds N (default 3)] [--oha PATH] [--out FILE]`;
//! `scripts/replicas` builds what it needs and installs `oha` when missing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use benches::Fixture;
use benches::oha::{Oha, Report, Target};
use benches::system::{Percentiles, metrics_text, ms};
use system_tests::{Replica, Rng};
use tokio::sync::Semaphore;

/// Write rates the lag is measured at, per second.
const RATES: [u64; 2] = [100, 1000];
/// Connections of the read runs (split evenly over the targets).
const CONNECTIONS: u64 = 32;
/// Writes in flight at most: enough for 1,000/s at a few ms each.
const WRITERS: usize = 64;

/// Replica lag under writes, and read throughput with 0, 1 and 2 replicas.
#[derive(Debug, clap::Parser)]
#[command(name = "replicas", about, long_about)]
struct Args {
    /// Seconds of each write stream and of each load run (1 to 60).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=60))]
    seconds: u64,
    /// Rounds of the read runs; the figures are medians over them (1 to 9).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=9))]
    rounds: u64,
    /// The oha binary.
    #[arg(long, default_value = "oha")]
    oha: String,
    /// Also write the Markdown tables to this file.
    #[arg(long)]
    out: Option<std::path::PathBuf>,
}

/// What one write rate gave.
struct LagRun {
    rate: u64,
    achieved: f64,
    sampled: usize,
    visible: Percentiles,
    gauge_median: f64,
    gauge_max: f64,
}

/// Writes at `rate` per second for `seconds`, probing the replica after sampled writes.
async fn lag_at(fx: &Arc<Fixture>, replica: &str, rate: u64, seconds: u64) -> LagRun {
    let every = (rate / 100).max(1);
    let slots = Arc::new(Semaphore::new(WRITERS));
    let mut tick = tokio::time::interval(Duration::from_nanos(1_000_000_000 / rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let gauge = {
        let fx = fx.clone();
        let replica = replica.to_owned();
        let end = Instant::now() + Duration::from_secs(seconds);
        tokio::spawn(async move {
            let mut samples = Vec::new();
            while Instant::now() < end {
                let text = metrics_text(&fx.http, &replica).await;
                if let Some(v) = text
                    .lines()
                    .find_map(|l| l.strip_prefix("catalog_replica_lag "))
                    .and_then(|v| v.trim().parse::<f64>().ok())
                {
                    samples.push(v);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            samples
        })
    };
    let started = Instant::now();
    let mut tasks = Vec::new();
    let mut rng = Rng::new(rate);
    let mut n = 0u64;
    while started.elapsed() < Duration::from_secs(seconds) {
        tick.tick().await;
        let permit = slots.clone().acquire_owned().await.expect("semaphore");
        let id = fx.ids[rng.index(fx.ids.len())].clone();
        let probe = n.is_multiple_of(every);
        n += 1;
        let fx = fx.clone();
        let replica = replica.to_owned();
        tasks.push(tokio::spawn(async move {
            let _permit = permit;
            let res = fx
                .http
                .patch(fx.url(&format!("/v1/products/{id}/stock")))
                .bearer_auth(&fx.admin)
                .json(&serde_json::json!({ "delta": 1 }))
                .send()
                .await
                .expect("write");
            assert!(res.status().is_success(), "write answered {}", res.status());
            let seq: u64 = res
                .headers()
                .get("x-catalog-seq")
                .and_then(|v| v.to_str().ok()?.parse().ok())
                .expect("x-catalog-seq");
            if !probe {
                return None;
            }
            let acked = Instant::now();
            let read = fx
                .http
                .get(format!(
                    "{replica}/v1/products/{id}?min_seq={seq}&wait_ms=10000"
                ))
                .bearer_auth(&fx.reader)
                .send()
                .await
                .expect("read");
            assert!(
                read.status().is_success(),
                "read answered {}",
                read.status()
            );
            Some(acked.elapsed())
        }));
    }
    let mut visible = Vec::new();
    for task in tasks {
        if let Some(d) = task.await.expect("write task") {
            visible.push(d);
        }
    }
    let achieved = n as f64 / started.elapsed().as_secs_f64();
    let mut gauge = gauge.await.expect("gauge task");
    gauge.sort_by(f64::total_cmp);
    LagRun {
        rate,
        achieved,
        sampled: visible.len(),
        visible: Percentiles::of(&mut visible),
        gauge_median: gauge.get(gauge.len() / 2).copied().unwrap_or(f64::NAN),
        gauge_max: gauge.last().copied().unwrap_or(f64::NAN),
    }
}

/// CPU time (user + system) a process has used, from `/proc/PID/stat`.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of stat, 11 and 12 after the name; the kernel
    // counts them in USER_HZ, 100 on Linux.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// One read run over `targets` (base URL, pid) at once.
struct ReadRun {
    ok_per_sec: f64,
    p50_ms: f64,
    cpu_us_per_read: f64,
    not_ok: u64,
}

async fn reads(
    oha: &Oha,
    fx: &Fixture,
    targets: &[(String, u32)],
    id: &str,
) -> Result<ReadRun, String> {
    let per = CONNECTIONS / targets.len() as u64;
    let before: Vec<Duration> = targets.iter().map(|(_, pid)| cpu_time(*pid)).collect();
    let runs = targets.iter().map(|(base, _)| {
        let target = Target {
            method: "GET",
            url: format!("{base}/v1/products/{id}"),
            token: Some(fx.reader.clone()),
            body: None,
        };
        async move { oha.run(&target, per).await }
    });
    let reports: Vec<Report> = futures::future::join_all(runs)
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    let cpu: Duration = targets
        .iter()
        .zip(before)
        .map(|((_, pid), b)| cpu_time(*pid).saturating_sub(b))
        .sum();
    let ok_per_sec: f64 = reports.iter().map(|r| r.ok_per_sec).sum();
    let requests = ok_per_sec * oha.seconds as f64;
    let mut p50: Vec<f64> = reports.iter().map(|r| r.p50_ms).collect();
    p50.sort_by(f64::total_cmp);
    Ok(ReadRun {
        ok_per_sec,
        p50_ms: p50[p50.len() / 2],
        cpu_us_per_read: cpu.as_secs_f64() * 1e6 / requests.max(1.0),
        not_ok: reports.iter().map(|r| r.not_ok).sum(),
    })
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

async fn run(args: Args) -> Result<String, String> {
    let oha = Oha {
        program: args.oha.clone(),
        seconds: args.seconds,
    };
    let version = oha.version().await?;
    let fx = Arc::new(Fixture::start().await);
    let (first, second) = tokio::join!(Replica::start(&fx.node), Replica::start(&fx.node));
    for replica in [&first, &second] {
        replica.wait_applied(0, Duration::from_secs(60)).await;
    }
    eprintln!(
        "==> primary {} with replicas {} and {}",
        fx.base,
        first.base(),
        second.base()
    );

    let mut out = String::new();
    out.push_str(&format!(
        "Replica lag: stock changes written at a steady rate for {} s each ({} in flight \
         at most); after a sampled write's acknowledgement, a read of that product on a \
         replica with `min_seq` = the write's seq. \"Visible after\" is that read's time from \
         the primary's answer: replication plus one loopback read.\n\n",
        args.seconds, WRITERS
    ));
    out.push_str("| writes/s asked | writes/s done | sampled | visible after p50 | p99 | max | `catalog_replica_lag` median | max |\n");
    out.push_str("|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for rate in RATES {
        eprintln!("==> lag at {rate} writes/s");
        let lag = lag_at(&fx, first.base(), rate, args.seconds).await;
        out.push_str(&format!(
            "| {} | {:.0} | {} | {:.2} ms | {:.2} ms | {:.2} ms | {:.0} | {:.0} |\n",
            lag.rate,
            lag.achieved,
            lag.sampled,
            ms(lag.visible.p50),
            ms(lag.visible.p99),
            ms(lag.visible.max),
            lag.gauge_median,
            lag.gauge_max,
        ));
    }
    // Let the replicas settle before the reads.
    let head = fx.node.node.client(None).get("/readyz").await.body["details"]["durable_seq"]
        .as_u64()
        .unwrap_or(0);
    for replica in [&first, &second] {
        replica.wait_applied(head, Duration::from_secs(60)).await;
    }

    let pid = |node: &system_tests::Node| node.pid().expect("running");
    let setups: [(&str, Vec<(String, u32)>); 3] = [
        (
            "0 (the primary alone)",
            vec![(fx.base.clone(), pid(&fx.node.node))],
        ),
        ("1", vec![(first.base().to_owned(), pid(&first.node))]),
        (
            "2 (both at once)",
            vec![
                (first.base().to_owned(), pid(&first.node)),
                (second.base().to_owned(), pid(&second.node)),
            ],
        ),
    ];
    let id = fx.ids[fx.ids.len() / 2].clone();
    let mut results: Vec<Vec<ReadRun>> = setups.iter().map(|_| Vec::new()).collect();
    for round in 0..args.rounds {
        for k in 0..setups.len() {
            let i = (k + round as usize) % setups.len();
            eprintln!(
                "==> round {} reads with {} replicas",
                round + 1,
                setups[i].0
            );
            results[i].push(reads(&oha, &fx, &setups[i].1, &id).await?);
        }
    }
    out.push_str(&format!(
        "\nReads: `GET /v1/products/{{id}}` with {} keep-alive connections in all (split \
         evenly over the targets), {} s per run, {} rounds with the order rotating, medians; \
         {version}. CPU per read is the serving processes' user + system time over the reads \
         they answered.\n\n",
        CONNECTIONS, args.seconds, args.rounds
    ));
    out.push_str(
        "| replicas | reads/s | p50 | CPU per read | reads/s per core at that cost | not 2xx |\n",
    );
    out.push_str("|---|---:|---:|---:|---:|---:|\n");
    for ((name, _), runs) in setups.iter().zip(&results) {
        let cpu = median(runs.iter().map(|r| r.cpu_us_per_read).collect());
        out.push_str(&format!(
            "| {name} | {:.0} | {:.2} ms | {:.1} µs | {:.0} | {} |\n",
            median(runs.iter().map(|r| r.ok_per_sec).collect()),
            median(runs.iter().map(|r| r.p50_ms).collect()),
            cpu,
            1e6 / cpu,
            runs.iter().map(|r| r.not_ok).sum::<u64>(),
        ));
    }
    Ok(out)
}

fn main() -> ExitCode {
    let args = <Args as clap::Parser>::parse();
    let out_file = args.out.clone();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("replicas: no runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(table) => {
            println!("{table}");
            if let Some(path) = out_file
                && let Err(e) = std::fs::write(&path, &table)
            {
                eprintln!("replicas: cannot write {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("replicas: {e}");
            ExitCode::FAILURE
        }
    }
}
