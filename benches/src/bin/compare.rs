//! Side by side on one machine: this project against the shared-database baseline
//! (`benches/shared-db`: one axum service over one PostgreSQL, the order view as one JOIN,
//! placement as one transaction), and a bare hyper "hello" server as the ceiling of what
//! any HTTP service can do here.
//!
//! Starts the release catalog-node (demo catalogue), order-node and edge-host with the
//! composer; the same composer on the wasmtime CLI (`wasmtime serve`, with the
//! `config-from-env` adapter plugged in) when it is available; a throwaway PostgreSQL with the release `shared-db` over the same catalogue; and
//! the hello server (this binary, `compare hello`). Places orders of 1, 10 and 50 lines in
//! both systems, then drives the same load tool (`oha`) against both, scenario by scenario,
//! at 1 and 32 connections, alternating which system goes first from round to round, and
//! prints one table of medians over the rounds: 2xx/s, p50 and p99 per system and the ratio.
//! The composer's own scenarios (order views, `/healthz`) also run on `wasmtime serve`, in
//! the same rounds, so the two hosts of the one component are measured side by side.
//! Upstream calls per composed request are counted on the nodes' own `/metrics`.
//!
//! `compare [--seconds N (default 5)] [--rounds N (default 3)] [--oha PATH] [--out FILE]`;
//! `scripts/compare` builds what it needs and installs `oha` (and wasmtime, through
//! `scripts/build-wasmtime-composer`) when missing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::Duration;

use benches::composer::ComposerBench;
use benches::oha::{Oha, Report, Target};
use benches::system::{metrics_text, order_body};
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};
use serde_json::Value;
use shared_db::postgres::Throwaway;
use system_tests::Rng;
use system_tests::node::binary;
use system_tests::wasmtime_serve::{WasmtimeServe, composed_wasm, wasmtime_bin};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The font every label of the chart is drawn with (see the `chart` program).
static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// Connection counts every scenario runs at.
const CONNECTIONS: [u64; 2] = [1, 32];
/// Sizes of the orders whose views are loaded.
const VIEW_SIZES: [usize; 3] = [1, 10, 50];
/// Lines of each placed order.
const POST_LINES: usize = 3;
/// Stock given to the products the placements take from, so that no run runs out.
const PLENTY: u64 = 100_000_000;

/// Side by side: this project against one axum service over one shared PostgreSQL, and a
/// bare hyper server, under the same load tool, alternating, medians over the rounds.
#[derive(Debug, clap::Parser)]
#[command(name = "compare", about, long_about)]
struct Settings {
    /// Seconds of load per run (1 to 30).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=30))]
    seconds: u64,

    /// Rounds; each scenario runs once per system per round (1 to 9).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=9))]
    rounds: u64,

    /// The oha binary to run.
    #[arg(long, default_value = "oha")]
    oha: String,

    /// Also write the table (Markdown) to this file.
    #[arg(long)]
    out: Option<PathBuf>,

    /// Also draw the 32-connection throughput of both systems as a bar chart (PNG) here.
    #[arg(long)]
    chart: Option<PathBuf>,

    #[command(subcommand)]
    command: Option<Sub>,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Serves "hello" on a loopback port (printed as `listening on http://ADDR`) until killed:
    /// the bare hyper server of the comparison.
    Hello,
}

/// The systems compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum System {
    Project,
    /// The same composer on `wasmtime serve`; the nodes behind it are the project's.
    Wasmtime,
    Shared,
    Hello,
}

impl System {
    fn label(self) -> &'static str {
        match self {
            Self::Project => "this project",
            Self::Wasmtime => "wasmtime serve",
            Self::Shared => "shared PostgreSQL",
            Self::Hello => "bare hyper",
        }
    }
}

/// What one system does for one scenario.
struct Scenario {
    name: String,
    targets: Vec<(System, Target)>,
}

/// A child process that printed `listening on http://ADDR`; killed when dropped.
struct Server {
    _child: Child,
    base: String,
}

async fn spawn_server(mut cmd: Command, what: &str) -> Server {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("start {what}: {e}"));
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let base = tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(addr) = line.strip_prefix("listening on ") {
                return Some(addr.trim().to_owned());
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
    .unwrap_or_else(|| panic!("{what} did not say where it listens"));
    // Keep draining its standard output so that it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Server {
        _child: child,
        base,
    }
}

/// The demo catalogue with every product's stock at [`PLENTY`], for the baseline.
fn plentiful_catalogue(dir: &std::path::Path) -> PathBuf {
    let text = std::fs::read_to_string(benches::demo_catalog()).expect("demo catalogue");
    let mut out = String::with_capacity(text.len());
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut product: Value = serde_json::from_str(line).expect("catalogue line");
        product["stock"] = PLENTY.into();
        out.push_str(&product.to_string());
        out.push('\n');
    }
    let path = dir.join("catalogue.jsonl");
    std::fs::write(&path, out).expect("write catalogue");
    path
}

/// The sum of every `http_requests_total` sample in a node's metrics.
async fn requests_served(http: &reqwest::Client, base: &str) -> f64 {
    metrics_text(http, base)
        .await
        .lines()
        .filter(|l| l.starts_with("http_requests_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn post_json(http: &reqwest::Client, url: &str, token: Option<&str>, body: &Value) -> Value {
    let mut request = http.post(url).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("POST");
    let status = response.status();
    let text = response.text().await.expect("body");
    assert!(status.is_success(), "POST {url}: {status}: {text}");
    serde_json::from_str(&text).expect("JSON")
}

struct Setup {
    project: ComposerBench,
    /// `None` when wasmtime or the composed component is not there (said as SKIPPED).
    wasmtime: Option<WasmtimeServe>,
    shared: Server,
    hello: Server,
    scenarios: Vec<Scenario>,
    upstream_calls: BTreeMap<usize, f64>,
    _postgres: Throwaway,
    _dir: tempfile::TempDir,
}

/// `wasmtime serve` with the composed component and the project's composer variables, or
/// why not.
async fn start_wasmtime(project: &ComposerBench, dir: &Path) -> Result<WasmtimeServe, String> {
    let wasmtime = wasmtime_bin()?;
    let component = composed_wasm()?;
    let server = WasmtimeServe::start(
        &wasmtime,
        &component,
        &project.vars,
        &dir.join("wasmtime.log"),
    )
    .await;
    assert!(
        server.base().starts_with("http://127.0.0.1:"),
        "wasmtime serve must listen on loopback, got {}",
        server.base()
    );
    Ok(server)
}

async fn setup() -> Result<Setup, String> {
    let postgres = Throwaway::start().await.map_err(|e| e.to_string())?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let project = ComposerBench::start().await;
    let http = project.ob.fx.http.clone();
    let wasmtime = match start_wasmtime(&project, dir.path()).await {
        Ok(server) => Some(server),
        Err(why) => {
            println!(
                "SKIPPED: the wasmtime serve column is NOT measured: {why} ({})",
                system_tests::wasmtime_serve::HOW_TO_INSTALL
            );
            None
        }
    };

    let mut cmd = Command::new(binary("shared-db"));
    cmd.args(["--listen", "127.0.0.1:0", "--database-url"])
        .arg(postgres.url())
        .arg("--catalogue")
        .arg(plentiful_catalogue(dir.path()));
    let shared = spawn_server(cmd, "shared-db").await;
    let mut cmd = Command::new(std::env::current_exe().expect("current exe"));
    cmd.arg("hello");
    let hello = spawn_server(cmd, "the hello server").await;

    let mut rng = Rng::new(0xC0_4FA2E);
    let fx = &project.ob.fx;
    // The placements take from three products with plenty of stock in both systems.
    let post_ids = fx.pick_ids(&mut rng, POST_LINES);
    for id in &post_ids {
        let mut product = fx.get_json(&format!("/v1/products/{id}")).await;
        let mut input = serde_json::Map::new();
        for field in ["name", "description", "category", "price_minor", "currency"] {
            input.insert(field.to_owned(), product[field].take());
        }
        input.insert("stock".to_owned(), PLENTY.into());
        let put = fx
            .http
            .put(fx.url(&format!("/v1/products/{id}")))
            .bearer_auth(&fx.admin)
            .json(&input)
            .send()
            .await
            .expect("PUT product");
        assert!(put.status().is_success(), "raising the stock of {id}");
    }
    let post_body = order_body("compare-customer", post_ids.iter().map(String::as_str));

    let product = fx.pick_ids(&mut rng, 1).remove(0);
    let mut scenarios = vec![Scenario {
        name: "product GET".to_owned(),
        targets: vec![
            (
                System::Project,
                Target {
                    method: "GET",
                    url: fx.url(&format!("/v1/products/{product}")),
                    token: Some(fx.reader.clone()),
                    body: None,
                },
            ),
            (
                System::Shared,
                Target {
                    method: "GET",
                    url: format!("{}/v1/products/{product}", shared.base),
                    token: None,
                    body: None,
                },
            ),
            (
                System::Hello,
                Target {
                    method: "GET",
                    url: format!("{}/", hello.base),
                    token: None,
                    body: None,
                },
            ),
        ],
    }];
    let mut upstream_calls = BTreeMap::new();
    for lines in VIEW_SIZES {
        let ids = fx.pick_ids(&mut rng, lines);
        let order = project.place(&format!("compare-view-{lines}"), &ids).await;
        project.check_same_views(&order.id).await;
        let body = order_body(
            &format!("compare-view-{lines}"),
            ids.iter().map(String::as_str),
        );
        let placed = post_json(&http, &format!("{}/v1/orders", shared.base), None, &body).await;
        let shared_id = placed["id"].as_str().expect("order id").to_owned();
        let view_url = format!("{}/v1/order-views/{}", project.host_base, order.id);
        let wasmtime_view = match &wasmtime {
            Some(server) => {
                let url = format!("{}/v1/order-views/{}", server.base(), order.id);
                let (edge, other) = (
                    project.get_text(&view_url, Some(&project.staff)).await,
                    project.get_text(&url, Some(&project.staff)).await,
                );
                assert_eq!(
                    edge, other,
                    "edge-host and wasmtime serve compose {} differently",
                    order.id
                );
                Some(url)
            }
            None => None,
        };

        // Upstream calls per composed view, from the nodes' own request counters.
        const PROBES: usize = 20;
        let before =
            requests_served(&http, &fx.base).await + requests_served(&http, &project.ob.base).await;
        for _ in 0..PROBES {
            project.get_text(&view_url, Some(&project.staff)).await;
        }
        let after =
            requests_served(&http, &fx.base).await + requests_served(&http, &project.ob.base).await;
        // Each reading of /metrics is itself one request on each node, counted in `after`.
        upstream_calls.insert(lines, (after - before - 2.0) / PROBES as f64);

        let mut targets = vec![(
            System::Project,
            Target {
                method: "GET",
                url: view_url,
                token: Some(project.staff.clone()),
                body: None,
            },
        )];
        if let Some(url) = wasmtime_view {
            targets.push((
                System::Wasmtime,
                Target {
                    method: "GET",
                    url,
                    token: Some(project.staff.clone()),
                    body: None,
                },
            ));
        }
        targets.push((
            System::Shared,
            Target {
                method: "GET",
                url: format!("{}/v1/order-views/{shared_id}", shared.base),
                token: None,
                body: None,
            },
        ));
        scenarios.push(Scenario {
            name: format!(
                "order view, {lines} line{}",
                if lines == 1 { "" } else { "s" }
            ),
            targets,
        });
    }
    // The composer's product-less route: what each host costs on its own, no upstream call.
    let mut targets = vec![(
        System::Project,
        Target {
            method: "GET",
            url: format!("{}/healthz", project.host_base),
            token: None,
            body: None,
        },
    )];
    if let Some(server) = &wasmtime {
        targets.push((
            System::Wasmtime,
            Target {
                method: "GET",
                url: format!("{}/healthz", server.base()),
                token: None,
                body: None,
            },
        ));
    }
    targets.push((
        System::Shared,
        Target {
            method: "GET",
            url: format!("{}/healthz", shared.base),
            token: None,
            body: None,
        },
    ));
    scenarios.push(Scenario {
        name: "composer GET /healthz".to_owned(),
        targets,
    });
    // Last, so that the reads above run on stores no load has written to.
    scenarios.push(Scenario {
        name: format!("POST order ({POST_LINES} lines, durable)"),
        targets: vec![
            (
                System::Project,
                Target {
                    method: "POST",
                    url: format!("{}/v1/orders", project.ob.base),
                    token: Some(project.ob.shop.clone()),
                    body: Some(post_body.to_string()),
                },
            ),
            (
                System::Shared,
                Target {
                    method: "POST",
                    url: format!("{}/v1/orders", shared.base),
                    token: None,
                    body: Some(post_body.to_string()),
                },
            ),
        ],
    });
    Ok(Setup {
        project,
        wasmtime,
        shared,
        hello,
        scenarios,
        upstream_calls,
        _postgres: postgres,
        _dir: dir,
    })
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

type Key = (usize, u64, System);

async fn measure(
    oha: &Oha,
    settings: &Settings,
    setup: &Setup,
) -> Result<BTreeMap<Key, Vec<Report>>, String> {
    let mut runs: BTreeMap<Key, Vec<Report>> = BTreeMap::new();
    for round in 0..settings.rounds {
        println!("\n== round {} of {}", round + 1, settings.rounds);
        for (index, scenario) in setup.scenarios.iter().enumerate() {
            for connections in CONNECTIONS {
                let mut order: Vec<&(System, Target)> = scenario.targets.iter().collect();
                // Alternate who goes first, so that neither system always runs on the
                // machine as the other left it.
                if round % 2 == 1 {
                    order.reverse();
                }
                for (system, target) in order {
                    let run = oha.run(target, connections).await?;
                    println!(
                        "{:<28} c={:<2} {:<18} {:>8.0} 2xx/s  p50 {:>7.2} ms  p99 {:>7.2} ms{}",
                        scenario.name,
                        connections,
                        system.label(),
                        run.ok_per_sec,
                        run.p50_ms,
                        run.p99_ms,
                        if run.not_ok > 0 {
                            format!("  ({} not 2xx)", run.not_ok)
                        } else {
                            String::new()
                        }
                    );
                    runs.entry((index, connections, *system))
                        .or_default()
                        .push(run);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
    Ok(runs)
}

fn table(
    settings: &Settings,
    scenarios: &[Scenario],
    upstream_calls: &BTreeMap<usize, f64>,
    runs: &BTreeMap<Key, Vec<Report>>,
) -> String {
    let mut out = format!(
        "Medians of {} rounds of {} s per run (oha, keep-alive), systems alternating. \
         \"this project\" is the composer on edge-host (the nodes' own answers for product \
         GET and POST); \"wasmtime serve\" is the same component on the wasmtime CLI, in \
         front of the same nodes (composer routes only).\n\n\
         | scenario | conns | this project 2xx/s | p50 | p99 | wasmtime serve 2xx/s | p50 | p99 | \
         shared PostgreSQL 2xx/s | p50 | p99 | req/s ratio | p50 ratio |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
        settings.rounds, settings.seconds
    );
    let stat = |key: &Key, f: fn(&Report) -> f64| {
        runs.get(key)
            .map(|r| median(r.iter().map(f).collect()))
            .unwrap_or(f64::NAN)
    };
    // A system that did not run a scenario shows a dash, never a number.
    let cells = |key: &Key| match runs.get(key) {
        Some(_) => format!(
            "{:.0} | {:.2} ms | {:.2} ms",
            stat(key, |r| r.ok_per_sec),
            stat(key, |r| r.p50_ms),
            stat(key, |r| r.p99_ms)
        ),
        None => "— | — | —".to_owned(),
    };
    for (index, scenario) in scenarios.iter().enumerate() {
        for connections in CONNECTIONS {
            let p = (index, connections, System::Project);
            let w = (index, connections, System::Wasmtime);
            let s = (index, connections, System::Shared);
            let (p_rps, s_rps) = (stat(&p, |r| r.ok_per_sec), stat(&s, |r| r.ok_per_sec));
            let (p_p50, s_p50) = (stat(&p, |r| r.p50_ms), stat(&s, |r| r.p50_ms));
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {:.2}× | {:.2}× |\n",
                scenario.name,
                connections,
                cells(&p),
                cells(&w),
                cells(&s),
                p_rps / s_rps,
                p_p50 / s_p50,
            ));
        }
    }
    out.push_str("\nThe ceiling: a bare hyper server answering \"hello\" on the same machine:\n\n");
    for connections in CONNECTIONS {
        let h = (0, connections, System::Hello);
        let p = (0, connections, System::Project);
        let h_rps = stat(&h, |r| r.ok_per_sec);
        out.push_str(&format!(
            "- c={connections}: {:.0} req/s, p50 {:.2} ms; catalog-node's product GET reaches {:.0}% of it\n",
            h_rps,
            stat(&h, |r| r.p50_ms),
            100.0 * stat(&p, |r| r.ok_per_sec) / h_rps
        ));
    }
    out.push_str("\nUpstream calls per composed order view (counted on the nodes' /metrics):\n\n");
    for (lines, calls) in upstream_calls {
        out.push_str(&format!("- {lines} line(s): {calls:.2}\n"));
    }
    out
}

/// One bar group of the chart: a scenario's 2xx/s at 32 connections, per system.
struct Bars {
    scenario: String,
    project: f64,
    shared: f64,
}

fn bars(scenarios: &[Scenario], runs: &BTreeMap<Key, Vec<Report>>) -> Vec<Bars> {
    let rps = |key: &Key| {
        runs.get(key)
            .map(|r| median(r.iter().map(|r| r.ok_per_sec).collect()))
            .unwrap_or(f64::NAN)
    };
    scenarios
        .iter()
        .enumerate()
        .map(|(index, scenario)| Bars {
            scenario: scenario.name.clone(),
            project: rps(&(index, 32, System::Project)),
            shared: rps(&(index, 32, System::Shared)),
        })
        .collect()
}

/// Draws `bars` into `out` (PNG): per scenario, both systems' 2xx/s at 32 connections.
fn draw(out: &Path, bars: &[Bars], note: &str) -> Result<(), Box<dyn std::error::Error>> {
    register_font("sans-serif", FontStyle::Normal, FONT).map_err(|_| "the font does not load")?;
    let top = bars
        .iter()
        .flat_map(|b| [b.project, b.shared])
        .filter(|v| v.is_finite())
        .fold(1.0f64, f64::max)
        * 1.15;
    let root = BitMapBackend::new(out, (1200, 700)).into_drawing_area();
    root.fill(&WHITE)?;
    let (chart_area, note_area) = root.split_vertically(660);
    let mut chart = ChartBuilder::on(&chart_area)
        .caption(
            "Requests per second at 32 connections: this project vs one shared PostgreSQL",
            ("sans-serif", 24),
        )
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(90)
        .build_cartesian_2d(0f64..bars.len() as f64, 0f64..top)?;
    let names: Vec<String> = bars.iter().map(|b| b.scenario.clone()).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(bars.len() * 2 + 1)
        .x_label_formatter(&|x| {
            let i = x.floor() as usize;
            if (x - x.floor() - 0.5).abs() < 0.01 {
                names.get(i).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_desc("2xx responses per second (median over the rounds)")
        .y_label_formatter(&|y| format!("{y:.0}"))
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 17))
        .draw()?;
    let systems = [
        ("this project", RGBColor(31, 119, 180), 0.1),
        ("shared PostgreSQL", RGBColor(214, 39, 40), 0.5),
    ];
    for (label, color, offset) in systems {
        let values: Vec<(usize, f64)> = bars
            .iter()
            .enumerate()
            .map(|(i, b)| (i, if offset < 0.3 { b.project } else { b.shared }))
            .filter(|(_, v)| v.is_finite())
            .collect();
        chart
            .draw_series(values.iter().map(|&(i, v)| {
                let x = i as f64 + offset;
                Rectangle::new([(x, 0.0), (x + 0.38, v)], color.filled())
            }))?
            .label(label)
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 18, y + 6)], color.filled()));
        chart.draw_series(values.iter().map(|&(i, v)| {
            Text::new(
                format!("{v:.0}"),
                (i as f64 + offset + 0.02, v + top * 0.01),
                ("sans-serif", 14).into_font(),
            )
        }))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font(("sans-serif", 16))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    note_area.draw(&Text::new(
        note.to_owned(),
        (20, 10),
        ("sans-serif", 15).into_font().color(&BLACK.mix(0.7)),
    ))?;
    root.present()?;
    Ok(())
}

async fn compare(settings: Settings) -> Result<String, String> {
    let oha = Oha {
        program: settings.oha.clone(),
        seconds: settings.seconds,
    };
    println!("load tool: {}", oha.version().await?);
    let setup = setup().await?;
    println!("this project: composer {}", setup.project.host_base);
    match &setup.wasmtime {
        Some(server) => println!("wasmtime serve: composer {}", server.base()),
        None => println!("wasmtime serve: not measured (see SKIPPED above)"),
    }
    println!("shared PostgreSQL: {}", setup.shared.base);
    println!("bare hyper: {}", setup.hello.base);
    // Interrupted, it still stops what it started (PostgreSQL among them) on the way out.
    let runs = tokio::select! {
        runs = measure(&oha, &settings, &setup) => runs,
        () = interrupted() => Err("interrupted; everything it started is stopped".to_owned()),
    };
    let Setup {
        project,
        scenarios,
        upstream_calls,
        ..
    } = setup;
    project.stop().await;
    let runs = runs?;
    if let Some(path) = &settings.chart {
        let note = format!(
            "oha, {} rounds of {} s per system and scenario, alternating; medians; one 2-core machine, loopback",
            settings.rounds, settings.seconds
        );
        draw(path, &bars(&scenarios, &runs), &note)
            .map_err(|e| format!("drawing {}: {e}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(table(&settings, &scenarios, &upstream_calls, &runs))
}

/// Resolves on SIGINT or SIGTERM.
async fn interrupted() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// The hello server: hyper's http1 server on a multi-threaded runtime, nothing else.
fn hello() -> ExitCode {
    use http_body_util::Full;
    use hyper::body::Bytes;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        println!(
            "listening on http://{}",
            listener.local_addr().expect("addr")
        );
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|_request| async {
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                        Bytes::from_static(b"hello"),
                    )))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}

fn main() -> ExitCode {
    let settings = <Settings as clap::Parser>::parse();
    if let Some(Sub::Hello) = settings.command {
        return hello();
    }
    let out = settings.out.clone();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match rt.block_on(compare(settings)) {
        Ok(table) => {
            println!("\n{table}");
            if let Some(path) = out
                && let Err(e) = std::fs::write(&path, &table)
            {
                eprintln!("compare: cannot write {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("compare: {e}");
            ExitCode::FAILURE
        }
    }
}
