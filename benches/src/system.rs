//! Setups of the order and search benchmarks: the real release `order-node` and
//! `search-node` started on loopback next to the demo-catalogue [`Fixture`], plus the
//! percentile and `/metrics` helpers those benchmarks print their figures with.

use std::path::Path;
use std::time::Duration;

use contracts::orders::{Order, OrderStatus};
use serde_json::{Value, json};
use system_tests::orders::ORDER_ROLES;
use system_tests::search::{SEARCH_ROLES, metric_value, search_path};
use system_tests::{Callers, Node, NodeSpec, Rng, binary};

use crate::{Fixture, demo_catalog};

/// Stock every demo product gets before the order benchmark: the catalog's maximum.
pub const ORDER_STOCK: u64 = 1_000_000_000;

/// `--commit-delay-ms` search-node is started with in the benchmarks (its default).
pub const SEARCH_COMMIT_DELAY_MS: u64 = 50;

/// The demo catalogue as `(id, PUT body)` pairs, in file order.
pub fn demo_products(path: &Path) -> Vec<(String, Value)> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read demo catalogue {}: {e}", path.display()));
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let mut value: Value = serde_json::from_str(line).expect("demo line is JSON");
            let id = value["id"]
                .as_str()
                .expect("demo line has an id")
                .to_owned();
            value
                .as_object_mut()
                .expect("demo line is an object")
                .remove("id");
            (id, value)
        })
        .collect()
}

/// The `p`-th percentile (0–100, nearest rank) of `sorted`, which must be sorted ascending
/// and not empty.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    assert!(!sorted.is_empty(), "percentile of no samples");
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Median, 99th percentile and maximum of a set of timings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Percentiles {
    /// How many timings.
    pub count: usize,
    /// The median.
    pub p50: Duration,
    /// The 99th percentile (nearest rank).
    pub p99: Duration,
    /// The largest.
    pub max: Duration,
}

impl Percentiles {
    /// The percentiles of `samples` (sorted in place); panics when empty.
    pub fn of(samples: &mut [Duration]) -> Self {
        samples.sort_unstable();
        Self {
            count: samples.len(),
            p50: percentile(samples, 50.0),
            p99: percentile(samples, 99.0),
            max: samples[samples.len() - 1],
        }
    }
}

/// `duration` in milliseconds, for printing.
pub fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// `GET {base}/metrics` (open, no token) as text.
pub async fn metrics_text(http: &reqwest::Client, base: &str) -> String {
    let res = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("GET /metrics");
    assert!(
        res.status().is_success(),
        "/metrics answered {}",
        res.status()
    );
    res.text().await.expect("metrics body")
}

/// A running `order-node` in front of the demo-catalogue catalog-node.
pub struct OrderBench {
    /// order-node (killed when dropped; declared first so it goes before its directory).
    pub node: Node,
    /// Its base URL, `http://127.0.0.1:PORT`.
    pub base: String,
    /// Bearer token of order-node's `shop` caller (`orders:read`, `orders:write`).
    pub shop: String,
    /// order-node's callers.
    pub callers: Callers,
    /// Keeps order-node's callers file, data and log alive.
    pub dir: tempfile::TempDir,
    /// The catalog with the demo catalogue, and the shared HTTP client.
    pub fx: Fixture,
}

/// A reading of order-node's `orders_commit_writes` histogram.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CommitCounters {
    /// Commits (fsyncs) run so far.
    pub commits: f64,
    /// Writes those commits made durable.
    pub writes: f64,
}

impl CommitCounters {
    /// Writes per commit between an earlier reading and this one (0 when nothing committed).
    pub fn writes_per_commit_since(&self, earlier: &Self) -> f64 {
        let commits = self.commits - earlier.commits;
        if commits > 0.0 {
            (self.writes - earlier.writes) / commits
        } else {
            0.0
        }
    }
}

impl OrderBench {
    /// Starts the catalog with the demo catalogue, gives every demo product [`ORDER_STOCK`]
    /// units, then starts `order-node` (release binary, default flags) on the catalog.
    pub async fn start() -> Self {
        let fx = Fixture::start().await;
        stock_everything(&fx).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let callers = Callers::write(dir.path(), ORDER_ROLES);
        let callers_path = callers.path.to_string_lossy().into_owned();
        let catalog_token = fx.order_node.clone();
        let spec = NodeSpec::new(
            binary("order-node"),
            &dir.path().join("orders-data"),
            &dir.path().join("orders.log"),
            &["--callers", &callers_path, "--catalog-url", &fx.base],
        )
        .with_catalog_token(&catalog_token);
        let node = Node::start(spec).await;
        let base = node.base().trim_end_matches('/').to_owned();
        assert!(
            base.starts_with("http://127.0.0.1:"),
            "order-node must listen on loopback, got {base}"
        );
        Self {
            shop: callers.token("shop"),
            node,
            base,
            callers,
            dir,
            fx,
        }
    }

    /// A `POST /v1/orders` body of `lines` distinct random demo products, one unit each.
    pub fn order_body(&self, rng: &mut Rng, customer: &str, lines: usize) -> Value {
        let mut picked: Vec<usize> = Vec::with_capacity(lines);
        for _ in 0..lines * 100 {
            if picked.len() == lines {
                break;
            }
            let i = rng.index(self.fx.ids.len());
            if !picked.contains(&i) {
                picked.push(i);
            }
        }
        assert_eq!(
            picked.len(),
            lines,
            "could not pick {lines} distinct products"
        );
        order_body(customer, picked.iter().map(|&i| self.fx.ids[i].as_str()))
    }

    /// `POST /v1/orders` as `shop`; panics unless the answer is 201 with a confirmed order.
    /// Returns the order.
    pub async fn place(&self, body: &Value) -> Order {
        let res = self
            .fx
            .http
            .post(format!("{}/v1/orders", self.base))
            .bearer_auth(&self.shop)
            .json(body)
            .send()
            .await
            .expect("POST /v1/orders");
        let status = res.status();
        let text = res.text().await.expect("order body");
        assert_eq!(status, 201, "POST /v1/orders answered {status}: {text}");
        let order: Order = serde_json::from_str(&text).expect("order JSON");
        assert_eq!(
            order.status,
            OrderStatus::Confirmed,
            "order not confirmed: {text}"
        );
        order
    }

    /// The `details` of order-node's `/readyz` (`{orders, unsettled}`); panics unless 200.
    pub async fn readyz(&self) -> Value {
        let res = self
            .fx
            .http
            .get(format!("{}/readyz", self.base))
            .send()
            .await
            .expect("GET /readyz");
        let status = res.status();
        let text = res.text().await.expect("readyz body");
        assert_eq!(status, 200, "order-node /readyz answered {status}: {text}");
        let body: Value = serde_json::from_str(&text).expect("readyz JSON");
        body["details"].clone()
    }

    /// order-node's `/metrics` text.
    pub async fn metrics(&self) -> String {
        metrics_text(&self.fx.http, &self.base).await
    }

    /// The sum and count of order-node's `orders_commit_writes` histogram.
    pub async fn commit_counters(&self) -> CommitCounters {
        let text = self.metrics().await;
        let value = |name: &str| {
            metric_value(&text, name).unwrap_or_else(|| panic!("no {name} in /metrics:\n{text}"))
        };
        CommitCounters {
            commits: value("orders_commit_writes_count"),
            writes: value("orders_commit_writes_sum"),
        }
    }
}

/// A `POST /v1/orders` body: one unit of each of `products` for `customer`.
pub fn order_body<'a>(customer: &str, products: impl IntoIterator<Item = &'a str>) -> Value {
    let items: Vec<Value> = products
        .into_iter()
        .map(|id| json!({ "product_id": id, "qty": 1 }))
        .collect();
    json!({ "customer_id": customer, "items": items })
}

/// PUTs every demo product back with [`ORDER_STOCK`] units, 16 writes at a time, as admin.
async fn stock_everything(fx: &Fixture) {
    use futures::StreamExt;
    let products = demo_products(&demo_catalog());
    let puts = products.into_iter().map(|(id, mut body)| async move {
        body["stock"] = serde_json::json!(ORDER_STOCK);
        let path = format!("/v1/products/{id}");
        fx.call(fx.http.put(fx.url(&path)).json(&body), &fx.admin)
            .await;
    });
    futures::stream::iter(puts)
        .buffer_unordered(16)
        .collect::<Vec<()>>()
        .await;
}

/// A running `search-node` following the demo-catalogue catalog-node.
pub struct SearchBench {
    /// search-node (killed when dropped; declared first so it goes before its directory).
    pub node: Node,
    /// Its base URL, `http://127.0.0.1:PORT`.
    pub base: String,
    /// Bearer token of search-node's `shop` caller (`search:read`).
    pub shop: String,
    /// search-node's callers.
    pub callers: Callers,
    /// Keeps search-node's callers file, data and log alive.
    pub dir: tempfile::TempDir,
    /// The catalog with the demo catalogue, and the shared HTTP client.
    pub fx: Fixture,
}

impl SearchBench {
    /// Starts the catalog with the demo catalogue, then `search-node` (release binary,
    /// `--commit-delay-ms` [`SEARCH_COMMIT_DELAY_MS`]) reading it, and waits until the index
    /// holds the whole catalogue.
    pub async fn start() -> Self {
        let fx = Fixture::start().await;
        let dir = tempfile::tempdir().expect("tempdir");
        let callers = Callers::write(dir.path(), SEARCH_ROLES);
        let callers_path = callers.path.to_string_lossy().into_owned();
        let catalog_token = fx.node.callers.token("search-node");
        let delay = SEARCH_COMMIT_DELAY_MS.to_string();
        let spec = NodeSpec::new(
            binary("search-node"),
            &dir.path().join("search-data"),
            &dir.path().join("search.log"),
            &[
                "--callers",
                &callers_path,
                "--catalog-url",
                &fx.base,
                "--commit-delay-ms",
                &delay,
            ],
        )
        .with_catalog_token(&catalog_token);
        let node = Node::start(spec).await;
        let base = node.base().trim_end_matches('/').to_owned();
        assert!(
            base.starts_with("http://127.0.0.1:"),
            "search-node must listen on loopback, got {base}"
        );
        let bench = Self {
            shop: callers.token("shop"),
            node,
            base,
            callers,
            dir,
            fx,
        };
        bench.wait_caught_up().await;
        bench
    }

    /// Waits (at most 120 s) until `/readyz` is 200 with no lag and `search_documents` equals
    /// the demo catalogue's size.
    pub async fn wait_caught_up(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        let want = self.fx.ids.len() as f64;
        loop {
            let ready = self
                .fx
                .http
                .get(format!("{}/readyz", self.base))
                .send()
                .await
                .ok();
            let mut caught_up = false;
            if let Some(res) = ready
                && res.status().is_success()
            {
                let body: Value = res.json().await.unwrap_or(Value::Null);
                let details = &body["details"];
                caught_up = details["lag_events"] == 0
                    && details["catalog_reachable"] == true
                    && metric_value(&self.metrics().await, "search_documents") == Some(want);
            }
            if caught_up {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "search-node did not index the demo catalogue within 120 s; log:\n{}",
                self.node.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// search-node's `/metrics` text.
    pub async fn metrics(&self) -> String {
        metrics_text(&self.fx.http, &self.base).await
    }

    /// The absolute URL of `GET /v1/search` with `params` (values percent-encoded).
    pub fn search_url(&self, params: &[(&str, &str)]) -> String {
        format!("{}{}", self.base, search_path(params))
    }

    /// `GET url` as `shop`; panics unless 200; returns the parsed answer.
    pub async fn search_json(&self, url: &str) -> Value {
        let res = self
            .fx
            .http
            .get(url)
            .bearer_auth(&self.shop)
            .send()
            .await
            .expect("GET /v1/search");
        let status = res.status();
        let text = res.text().await.expect("search body");
        assert_eq!(status, 200, "search answered {status}: {text}");
        serde_json::from_str(&text).expect("search JSON")
    }

    /// `GET url` as `shop`; panics unless 200; returns the body's length.
    pub async fn search(&self, url: &str) -> usize {
        let res = self
            .fx
            .http
            .get(url)
            .bearer_auth(&self.shop)
            .send()
            .await
            .expect("GET /v1/search");
        let status = res.status();
        let body = res.bytes().await.expect("search body");
        assert!(
            status == 200,
            "search answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
        body.len()
    }
}
