//! End-to-end tests of `stack up` / `stack status`: the README's first command, run against the
//! real binaries in a temporary data directory on ports of its own.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use serde_json::Value;
use system_tests::binary;
use system_tests::composer::composer_wasm;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long `up` may take until it prints its banner (the composer compiles at start).
const UP_WITHIN: Duration = Duration::from_secs(400);

/// How long `up` may take to stop everything after SIGTERM.
const STOP_WITHIN: Duration = Duration::from_secs(60);

/// Six consecutive free ports (the four parts and two catalog replicas) below the ephemeral
/// range, so that the ports other tests get from the kernel cannot collide with them; tests
/// of this process never share a base.
fn free_base_port() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let seed = (std::process::id() % 1_000) as u16 * 8;
    loop {
        let attempt = NEXT.fetch_add(1, Ordering::Relaxed);
        assert!(attempt < 2_000, "no six consecutive free ports found");
        let base = 20_000 + (seed + attempt * 8) % 12_000;
        if (0..6).all(|i| TcpListener::bind(("127.0.0.1", base + i)).is_ok()) {
            return base;
        }
    }
}

fn port_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// A running `stack up`.
struct Stack {
    child: Child,
    data: PathBuf,
    base: u16,
    stderr: PathBuf,
    banner: Vec<String>,
}

impl Stack {
    /// Starts `stack up` without building, using the binaries this test run built.
    async fn spawn(data: &Path, base: u16, run: &str) -> (Child, PathBuf) {
        Self::spawn_with(data, base, run, None, 0).await
    }

    /// [`Self::spawn`] importing `catalogue` on first start instead of the demo's, with
    /// `replicas` catalog read replicas.
    async fn spawn_with(
        data: &Path,
        base: u16,
        run: &str,
        catalogue: Option<&Path>,
        replicas: u8,
    ) -> (Child, PathBuf) {
        let bin_dir = binary("catalog-node").parent().unwrap().to_owned();
        let stderr = data.with_extension(format!("{run}.stderr"));
        let mut command = Command::new(binary("stack"));
        if let Some(catalogue) = catalogue {
            command.env("STACK_DEMO_CATALOGUE", catalogue);
        } else {
            command.env_remove("STACK_DEMO_CATALOGUE");
        }
        let child = command
            .arg("up")
            .arg("--no-build")
            .arg("--bin-dir")
            .arg(&bin_dir)
            .arg("--component")
            .arg(composer_wasm())
            .arg("--data-dir")
            .arg(data)
            .arg("--base-port")
            .arg(base.to_string())
            .arg("--catalog-replicas")
            .arg(replicas.to_string())
            .env_remove("STACK_DATA_DIR")
            .env_remove("STACK_BASE_PORT")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(std::fs::File::create(&stderr).unwrap()))
            .kill_on_drop(true)
            .spawn()
            .expect("spawn stack");
        (child, stderr)
    }

    /// Starts `stack up` and waits for its banner.
    async fn up(data: &Path, base: u16, run: &str) -> Self {
        Self::up_with(data, base, run, None, 0).await
    }

    /// [`Self::up`] importing `catalogue` on first start instead of the demo's, with
    /// `replicas` catalog read replicas.
    async fn up_with(
        data: &Path,
        base: u16,
        run: &str,
        catalogue: Option<&Path>,
        replicas: u8,
    ) -> Self {
        let (mut child, stderr) = Self::spawn_with(data, base, run, catalogue, replicas).await;
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let mut banner = Vec::new();
        let read = async {
            while let Some(line) = lines.next_line().await.unwrap() {
                let done = line.contains("Ctrl-C stops everything");
                banner.push(line);
                if done {
                    return true;
                }
            }
            false
        };
        let complete = tokio::time::timeout(UP_WITHIN, read).await;
        if complete != Ok(true) {
            let _ = child.start_kill();
            panic!(
                "stack up printed no complete banner ({complete:?}); stdout so far:\n{}\nstderr:\n{}",
                banner.join("\n"),
                std::fs::read_to_string(&stderr).unwrap_or_default()
            );
        }
        Self {
            child,
            data: data.to_owned(),
            base,
            stderr,
            banner,
        }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// The curl commands of the banner.
    fn curls(&self) -> Vec<String> {
        self.banner
            .iter()
            .map(|l| l.trim())
            .filter(|l| l.starts_with("curl "))
            .map(str::to_owned)
            .collect()
    }

    fn running_state(&self) -> Value {
        let text = std::fs::read_to_string(self.data.join("stack/running.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    /// Sends SIGTERM and waits for the exit; returns whether it exited successfully.
    async fn stop(mut self) -> (bool, String) {
        signal(self.child.id().unwrap(), "TERM").await;
        let status = tokio::time::timeout(STOP_WITHIN, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("stack did not stop within {STOP_WITHIN:?}"))
            .unwrap();
        (status.success(), self.stderr())
    }
}

async fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .await
        .unwrap();
    assert!(status.success(), "kill -{name} {pid}");
}

async fn run_curl(line: &str) -> Value {
    let out = Command::new("bash")
        .arg("-c")
        .arg(line)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "`{line}` failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "`{line}` printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

async fn status(data: &Path) -> (bool, String) {
    let out = Command::new(binary("stack"))
        .arg("status")
        .arg("--data-dir")
        .arg(data)
        .env_remove("STACK_BASE_PORT")
        .output()
        .await
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_serves_the_printed_curls_reports_status_stops_and_restarts_on_the_same_data() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let base = free_base_port();

    let stack = Stack::up(&data, base, "first").await;
    let first_stderr = stack.stderr();
    assert!(
        first_stderr.contains("importing the demo catalogue"),
        "{first_stderr}"
    );
    assert!(
        first_stderr.contains("placing demo orders"),
        "{first_stderr}"
    );

    // Every printed curl works and answers what it says.
    let curls = stack.curls();
    assert_eq!(curls.len(), 5, "{:#?}", stack.banner);
    let view = run_curl(&curls[0]).await;
    assert!(!view["lines"].as_array().unwrap().is_empty(), "{view}");
    assert!(
        view["lines"][0]["product"]["price_minor"].is_u64(),
        "{view}"
    );
    assert_eq!(view["degraded"], false, "{view}");
    let page = run_curl(&curls[1]).await;
    assert_eq!(
        page["views"].as_array().unwrap().len(),
        2,
        "alice has two demo orders: {page}"
    );
    let hits = run_curl(&curls[2]).await;
    assert!(!hits["hits"].as_array().unwrap().is_empty(), "{hits}");
    assert!(hits["hits"][0]["stock"].is_u64(), "{hits}");
    let placed = run_curl(&curls[3]).await;
    assert_eq!(placed["status"], "confirmed", "{placed}");
    let again = run_curl(&curls[3]).await;
    assert_eq!(
        again["id"], placed["id"],
        "the idempotency key gives the same order"
    );
    let product = run_curl(&curls[4]).await;
    assert_eq!(product["id"], placed["lines"][0]["product_id"], "{product}");

    let (all_ready, table) = status(&data).await;
    assert!(all_ready, "{table}");
    for name in ["catalog-node", "order-node", "search-node", "edge-composer"] {
        assert!(table.contains(name), "{table}");
    }
    assert!(table.contains("lag"), "{table}");
    assert!(table.contains("MiB") || table.contains("KiB"), "{table}");
    let state = stack.running_state();
    assert_eq!(state["base_port"], stack.base);

    let (ok, stderr) = stack.stop().await;
    assert!(ok, "stack up did not exit cleanly:\n{stderr}");
    for name in ["catalog-node", "order-node", "search-node", "edge-composer"] {
        assert!(stderr.contains(&format!("{name} stopped\n")), "{stderr}");
    }
    for port in base..base + 4 {
        assert!(port_free(port), "port {port} still in use after stop");
    }
    assert!(!data.join("stack/running.json").exists());
    let (all_ready, table) = status(&data).await;
    assert!(
        !all_ready,
        "status says ready with nothing running: {table}"
    );
    assert!(table.contains("down"), "{table}");

    // A second start reuses the data: no import, no new demo orders, the order placed above
    // is still there.
    let stack = Stack::up(&data, base, "second").await;
    let second_stderr = stack.stderr();
    assert!(!second_stderr.contains("importing"), "{second_stderr}");
    assert!(
        !second_stderr.contains("placing demo orders"),
        "{second_stderr}"
    );
    let page = run_curl(&stack.curls()[1]).await;
    let ids: Vec<&Value> = page["views"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| &v["order_id"])
        .collect();
    assert_eq!(ids.len(), 3, "{page}");
    assert!(ids.contains(&&placed["id"]), "{page}");
    let (ok, stderr) = stack.stop().await;
    assert!(ok, "{stderr}");
}

/// Product reads a node answered (`POST /v1/products:batchGet`, 2xx), from its `/metrics`.
async fn batch_reads(port: u16) -> f64 {
    let text = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    system_tests::http::answered(&text, "POST", "/v1/products:batchGet")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_runs_on_a_catalogue_that_shares_no_id_with_the_demo_with_two_catalog_replicas() {
    let dir = tempfile::tempdir().unwrap();
    let catalogue = dir.path().join("teas.jsonl");
    let lines: Vec<String> = (1..=12)
        .map(|i| {
            serde_json::json!({
                "id": format!("tea-{i:03}"),
                "name": format!("Loose leaf tea no. {i}"),
                "description": "A waterproof jacket of a tea, for drinking in any weather.",
                "category": "grocery",
                "price_minor": 450 + i,
                "currency": "EUR",
                "stock": if i == 1 { 1 } else { 40 },
            })
            .to_string()
        })
        .collect();
    std::fs::write(&catalogue, lines.join("\n")).unwrap();
    let data = dir.path().join("data");
    let base = free_base_port();
    let stack = Stack::up_with(&data, base, "teas", Some(&catalogue), 2).await;
    let banner = stack.banner.join("\n");
    for port in [base + 4, base + 5] {
        assert!(
            banner.contains(&format!("catalog replica http://127.0.0.1:{port}")),
            "{banner}"
        );
    }
    let (ready, report) = status(&data).await;
    assert!(ready, "{report}");
    assert!(report.contains("catalog-replica-2"), "{report}");
    let curls = stack.curls();
    assert_eq!(curls.len(), 5, "{:#?}", stack.banner);
    for curl in &curls {
        assert!(!curl.contains("kitchen-"), "a demo id in {curl}");
    }
    let view = run_curl(&curls[0]).await;
    assert!(
        view["lines"][0]["product_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("tea-")),
        "{view}"
    );
    let placed = run_curl(&curls[3]).await;
    assert_eq!(placed["status"], "confirmed", "{placed}");
    let product = run_curl(&curls[4]).await;
    // tea-001 has too little stock for the demo; the first well-stocked tea is used.
    assert_eq!(product["id"], "tea-002", "{product}");
    // The demo orders, the view and the order read their products from the replicas only.
    let replica_reads = batch_reads(base + 4).await + batch_reads(base + 5).await;
    assert!(replica_reads >= 3.0, "{replica_reads}");
    assert_eq!(batch_reads(base + 1).await, 0.0);
    let (ok, stderr) = stack.stop().await;
    assert!(ok, "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_in_use_is_named_and_nothing_starts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let base = free_base_port();
    let _taken = TcpListener::bind(("127.0.0.1", base + 2)).unwrap();
    let (child, stderr) = Stack::spawn(&data, base, "busy").await;
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("stack up hung on a busy port")
        .unwrap();
    assert!(!out.status.success());
    let stderr = std::fs::read_to_string(stderr).unwrap();
    assert!(
        stderr.contains(&format!("port {} is already in use", base + 2))
            && stderr.contains("order-node"),
        "{stderr}"
    );
    for port in [base, base + 1, base + 3] {
        assert!(port_free(port), "port {port} in use: something started");
    }
    assert!(!data.join("catalog").exists(), "a refused start wrote data");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_that_dies_is_named_and_the_rest_are_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let base = free_base_port();
    let mut stack = Stack::up(&data, base, "dies").await;
    let pid = stack.running_state()["parts"]["order-node"]
        .as_u64()
        .unwrap() as u32;
    signal(pid, "KILL").await;
    let status = tokio::time::timeout(STOP_WITHIN, stack.child.wait())
        .await
        .expect("stack up did not notice order-node died")
        .unwrap();
    assert!(!status.success());
    let stderr = stack.stderr();
    assert!(stderr.contains("order-node exited"), "{stderr}");
    assert!(
        stderr.contains("order-node.log"),
        "the message names the log: {stderr}"
    );
    for port in base..base + 4 {
        assert!(
            port_free(port),
            "port {port} still in use after order-node died"
        );
    }
}
