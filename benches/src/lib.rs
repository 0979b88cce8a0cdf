//! Shared setup of the criterion benchmarks: starts the real release `catalog-node` on
//! loopback with the demo catalogue imported, and gives the benches one keep-alive HTTP
//! client, the callers' tokens and the demo ids; random picks use the tests' seeded
//! [`system_tests::Rng`].
//!
//! Native only: the package also builds for wasm32-wasip2, where only the composer bench's
//! guest (`src/bin/compose_guest.rs`) is compiled and this library is empty.
#![cfg(not(target_family = "wasm"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use system_tests::{CatalogNode, Rng, binary};

/// Id of the product the reservation benchmark reserves from.
pub const STOCK_PRODUCT: &str = "bench-stock";

/// Stock given to [`STOCK_PRODUCT`]: the catalog's maximum, far more than a run reserves.
pub const STOCK_UNITS: u64 = 1_000_000_000;

/// Path of the demo catalogue (`demo/catalog.jsonl` at the workspace root).
pub fn demo_catalog() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("demo")
        .join("catalog.jsonl")
}

/// The product ids of the demo catalogue, in file order.
pub fn demo_ids(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read demo catalogue {}: {e}", path.display()));
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).expect("demo line is JSON");
            value["id"]
                .as_str()
                .expect("demo line has an id")
                .to_owned()
        })
        .collect()
}

/// A running `catalog-node` with the demo catalogue, and what the benches need to call it.
pub struct Fixture {
    /// The running node (killed when dropped) with its callers file.
    pub node: CatalogNode,
    /// One HTTP client shared by every request, so connections are kept alive and reused.
    pub http: reqwest::Client,
    /// The node's base URL, `http://127.0.0.1:PORT`.
    pub base: String,
    /// Bearer token of a caller with `catalog:read`.
    pub reader: String,
    /// Bearer token of a caller with `catalog:read` and `catalog:reserve`.
    pub order_node: String,
    /// Bearer token of a caller with `catalog:read` and `catalog:write`.
    pub admin: String,
    /// The demo product ids.
    pub ids: Vec<String>,
    /// The data directory the demo catalogue was imported into; dropped after the node.
    pub data: tempfile::TempDir,
}

impl Fixture {
    /// Imports the demo catalogue into a fresh data directory with the release binary's
    /// `import` subcommand, then starts the node on an ephemeral loopback port.
    pub async fn start() -> Self {
        let bin = binary("catalog-node");
        let catalog = demo_catalog();
        let ids = demo_ids(&catalog);
        assert!(
            ids.len() >= 50,
            "the demo catalogue has only {} ids",
            ids.len()
        );
        let data = tempfile::tempdir().expect("tempdir");
        let data_dir = data.path().join("catalog");
        let out = Command::new(&bin)
            .arg("--data-dir")
            .arg(&data_dir)
            .arg("import")
            .arg(&catalog)
            .output()
            .expect("run catalog-node import");
        assert!(
            out.status.success(),
            "catalog-node import failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let node = CatalogNode::start_with(bin, Some(data_dir)).await;
        let base = node.node.base().trim_end_matches('/').to_owned();
        assert!(
            base.starts_with("http://127.0.0.1:"),
            "the node must listen on loopback, got {base}"
        );
        let http = reqwest::Client::builder()
            .no_proxy()
            .tcp_nodelay(true)
            .timeout(Duration::from_secs(30))
            .build()
            .expect("http client");
        let fixture = Self {
            reader: node.callers.token("reader"),
            order_node: node.callers.token("order-node"),
            admin: node.callers.token("admin"),
            node,
            http,
            base,
            ids,
            data,
        };
        fixture.read_every_product().await;
        fixture
    }

    /// Reads every demo product once (batch reads of 500), so measurements start with the
    /// store's cache as warm as a running node's would be, not cold from the import; panics
    /// if any id is missing.
    pub async fn read_every_product(&self) {
        for chunk in self.ids.chunks(500) {
            let body = serde_json::json!({ "ids": chunk });
            let res = self
                .http
                .post(self.url("/v1/products:batchGet"))
                .bearer_auth(&self.reader)
                .json(&body)
                .send()
                .await
                .expect("batch read");
            let status = res.status();
            let text = res.text().await.expect("batch read body");
            assert!(status.is_success(), "batch read answered {status}: {text}");
            let value: serde_json::Value = serde_json::from_str(&text).expect("JSON body");
            let found = value["products"].as_array().map_or(0, Vec::len);
            assert_eq!(
                found,
                chunk.len(),
                "batch read found {found} of {}",
                chunk.len()
            );
        }
    }

    /// `n` distinct demo product ids drawn with `rng`.
    pub fn pick_ids(&self, rng: &mut Rng, n: usize) -> Vec<String> {
        rng.distinct(self.ids.len(), n)
            .into_iter()
            .map(|i| self.ids[i].clone())
            .collect()
    }

    /// The absolute URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends `request` with `token`, checks the status is 2xx and reads the whole body (so
    /// the connection goes back to the pool); returns the body's length.
    pub async fn call(&self, request: reqwest::RequestBuilder, token: &str) -> usize {
        let res = request
            .bearer_auth(token)
            .send()
            .await
            .expect("request to catalog-node");
        let status = res.status();
        let body = res.bytes().await.expect("response body");
        assert!(
            status.is_success(),
            "catalog-node answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
        body.len()
    }

    /// `GET path` as the reader; panics unless 2xx.
    pub async fn get(&self, path: &str) -> usize {
        self.call(self.http.get(self.url(path)), &self.reader).await
    }

    /// `GET path` as the reader, parsed as JSON; panics unless 2xx.
    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        let res = self
            .http
            .get(self.url(path))
            .bearer_auth(&self.reader)
            .send()
            .await
            .expect("request to catalog-node");
        let status = res.status();
        let text = res.text().await.expect("response body");
        assert!(
            status.is_success(),
            "catalog-node answered {status}: {text}"
        );
        serde_json::from_str(&text).expect("JSON body")
    }

    /// The node's group-commit counters from `/metrics`: flushes run, and writers they
    /// acknowledged (the sum of the `catalog_flush_writers` histogram).
    pub async fn flush_counters(&self) -> FlushCounters {
        let text = self
            .http
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("metrics body");
        let value = |name: &str| -> f64 {
            text.lines()
                .find_map(|line| {
                    let (key, rest) = line.split_once(' ')?;
                    (key == name).then(|| rest.trim().parse().ok()).flatten()
                })
                .unwrap_or_else(|| panic!("no {name} in /metrics:\n{text}"))
        };
        FlushCounters {
            flushes: value("catalog_flushes_total"),
            writers: value("catalog_flush_writers_sum"),
        }
    }

    /// Creates or replaces [`STOCK_PRODUCT`] with [`STOCK_UNITS`] units, as admin.
    pub async fn seed_stock_product(&self) {
        let body = serde_json::json!({
            "name": "Benchmark stock",
            "description": "Reserved from by the reservation benchmark.",
            "category": "kitchen",
            "price_minor": 100,
            "currency": "EUR",
            "stock": STOCK_UNITS,
        });
        let path = format!("/v1/products/{STOCK_PRODUCT}");
        self.call(self.http.put(self.url(&path)).json(&body), &self.admin)
            .await;
    }

    /// `POST /v1/reservations` of one unit of [`STOCK_PRODUCT`] under `id`, as the
    /// order-node; panics unless 2xx.
    pub async fn reserve_one(&self, id: &str) -> usize {
        let body = serde_json::json!({
            "id": id,
            "items": [{ "product_id": STOCK_PRODUCT, "qty": 1 }],
        });
        self.call(
            self.http.post(self.url("/v1/reservations")).json(&body),
            &self.order_node,
        )
        .await
    }
}

/// A reading of the node's group-commit counters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlushCounters {
    /// Flushes run so far.
    pub flushes: f64,
    /// Writers acknowledged by those flushes.
    pub writers: f64,
}

impl FlushCounters {
    /// Writers per flush between an earlier reading and this one (0 when nothing flushed).
    pub fn writers_per_flush_since(&self, earlier: &Self) -> f64 {
        let flushes = self.flushes - earlier.flushes;
        if flushes > 0.0 {
            (self.writers - earlier.writers) / flushes
        } else {
            0.0
        }
    }
}

pub mod composer;
pub mod estimates;
pub mod oha;
pub mod system;
pub mod wasm;
