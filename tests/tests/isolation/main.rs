//! Fault isolation: one service stopped, hung or cut off must not take the others down with
//! it. Each test runs the real binaries (catalog-node, order-node, search-node, and the
//! composer served by edge-host) and asserts both the documented answer and how long it
//! took, so that a missing timeout shows up as a failed bound, not as a slow suite.
//!
//! - `catalog_stopped`, `search_stopped`: the process is killed; everything else talks to it
//!   directly (no proxy in between), as in production.
//! - `hung`: upstreams that accept connections and never answer, through [`Cable`]s (TCP
//!   relays that can be cut), for the composer and for the nodes' own catalog clients.
//! - `across_hosts`: catalog-node in its own network namespace behind a veth link that the
//!   test takes down and up again (skipped with a message where namespaces are unavailable).
//!
//! See the "Fault isolation" section of docs/reliability.md.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod across_hosts;
mod cable;
mod catalog_stopped;
mod hung;
mod search_stopped;

use std::path::Path;
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;
use system_tests::backends::{Backends, Options, composer_vars, wait_indexed};
use system_tests::composer::{ComposerSystem, STAFF, composer_wasm};
use system_tests::http::Reply;
use system_tests::orders::order_body;
use system_tests::search::{search_path, tail};
use system_tests::{Callers, CatalogNode, Client, EdgeHost, Node, identity};

pub use cable::Cable;

/// A read that a node answers from its own store must take less than this, whatever its
/// upstreams do.
pub const READ_WITHIN: Duration = Duration::from_secs(1);

/// order-node's `--catalog-timeout-ms` default: the longest one catalog call may take.
pub const CATALOG_TIMEOUT: Duration = Duration::from_millis(2000);

/// An order-node write that needs the catalog must be answered (503 or 202) within this
/// when the catalog is gone or hung: one catalog timeout, plus margin for a debug build on
/// two shared cores.
pub const REFUSED_WITHIN: Duration = Duration::from_millis(3500);

/// A composed answer with one upstream hop given up on: the composer's budget (1.5 s) plus
/// margin for the other hop and a debug build on two shared cores.
pub const COMPOSED_WITHIN: Duration = Duration::from_millis(2500);

/// A request that touches no broken upstream must stay this fast while others hang.
pub const FAST: Duration = Duration::from_millis(600);

/// How long a saga may take to settle once its catalog is back (its per-order backoff
/// doubles from 200 ms while the catalog is away).
pub const SETTLE_WITHIN: Duration = Duration::from_secs(30);

/// How long search-node may take to catch up once its catalog is back.
pub const CATCH_UP_WITHIN: Duration = Duration::from_secs(40);

/// A request with its answer and how long it took.
pub struct Timed {
    pub reply: Reply,
    pub took: Duration,
}

/// Sends one request with a client of its own (no connection reuse, no proxy from the
/// environment) and times it; panics with `what` if there is no answer within 15 s, far
/// past every bound asserted here, so a hang fails the test instead of stalling it.
pub async fn timed(
    what: &str,
    method: Method,
    url: &str,
    token: Option<&str>,
    body: Option<&Value>,
    headers: &[(&str, &str)],
) -> Timed {
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(15))
        .build()
        .expect("client");
    let mut req = http.request(method, url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let started = tokio::time::Instant::now();
    let res = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("{what}: no answer after {:?}: {e}", started.elapsed()));
    let status = res.status();
    let headers = res.headers().clone();
    let text = res
        .text()
        .await
        .unwrap_or_else(|e| panic!("{what}: the body did not arrive: {e}"));
    let took = started.elapsed();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Timed {
        reply: Reply {
            status,
            headers,
            body,
            text,
        },
        took,
    }
}

/// Asserts `status` (and the error `code` when given) and that it took less than `within`.
pub fn expect(what: &str, t: &Timed, status: u16, code: Option<&str>, within: Duration) {
    assert_eq!(t.reply.status.as_u16(), status, "{what}: {}", t.reply.text);
    if let Some(code) = code {
        assert_eq!(t.reply.code(), code, "{what}: {}", t.reply.text);
    }
    assert!(
        t.took < within,
        "{what} took {:?}, more than {within:?}",
        t.took
    );
    println!("{what}: {} in {:?}", status, t.took);
}

/// Checks a composed answer that lacks the catalog: 200, `degraded: true`, and errors that
/// all name the catalog.
pub fn assert_degraded_by_catalog(what: &str, reply: &Reply) {
    assert_eq!(reply.status, 200, "{what}: {}", reply.text);
    assert_eq!(reply.body["degraded"], true, "{what}: {}", reply.text);
    let errors = reply.body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("{what}: no errors in {}", reply.text));
    assert!(!errors.is_empty(), "{what}: {}", reply.text);
    for e in errors {
        assert_eq!(e["part"], "catalog", "{what}: {}", reply.text);
    }
}

/// Checks a composed answer that is whole.
pub fn assert_whole(what: &str, reply: &Reply) {
    assert_eq!(reply.status, 200, "{what}: {}", reply.text);
    assert_eq!(reply.body["degraded"], false, "{what}: {}", reply.text);
}

/// The id of an order body.
pub fn id_of(order: &Value) -> String {
    order["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no order id in {order}"))
        .to_owned()
}

/// catalog-node, order-node, search-node and (optionally) edge-host; every process is
/// killed when dropped.
pub struct Cluster {
    /// catalog-node (its `node.base()` is not used: see `catalog_base`).
    pub catalog: CatalogNode,
    /// Where the test reaches the catalog.
    pub catalog_base: String,
    pub orders: Node,
    pub search: Node,
    pub order_callers: Callers,
    pub search_callers: Callers,
    pub host: Option<EdgeHost>,
    pub dir: tempfile::TempDir,
}

impl Cluster {
    /// Starts a catalog on loopback and the rest wired to it directly (no proxy anywhere),
    /// with an edge-host when `with_host`.
    pub async fn start(with_host: bool) -> Self {
        let catalog = ComposerSystem::start_catalog(false).await;
        let base = catalog.node.base().to_owned();
        let mut cluster = Self::start_wired(catalog, base.clone(), &base).await;
        if with_host {
            let urls = [
                base,
                cluster.orders.base().to_owned(),
                cluster.search.base().to_owned(),
            ];
            cluster.host = Some(cluster.start_host(&urls, "edge-host.log").await);
        }
        cluster
    }

    /// Starts order-node and search-node reading the catalog at `nodes_catalog` (the test
    /// reaches it at `catalog_base`); no edge-host yet. Waits until search-node has indexed
    /// the catalog.
    pub async fn start_wired(
        catalog: CatalogNode,
        catalog_base: String,
        nodes_catalog: &str,
    ) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let Backends {
            orders,
            search,
            order_callers,
            search_callers,
        } = Backends::start(
            dir.path(),
            &catalog.callers,
            nodes_catalog,
            &Options::quick_sagas(),
        )
        .await;
        let cluster = Self {
            catalog,
            catalog_base,
            orders,
            search,
            order_callers,
            search_callers,
            host: None,
            dir,
        };
        let head = cluster.catalog_head().await;
        cluster.wait_indexed(head, Duration::from_secs(60)).await;
        cluster
    }

    /// Starts an edge-host whose composer reaches the catalog, order-node and search-node at
    /// `urls` (in that order), with the cluster's tokens.
    pub async fn start_host(&self, urls: &[String; 3], log: &str) -> EdgeHost {
        let vars = composer_vars(
            [
                &self.catalog.callers,
                &self.order_callers,
                &self.search_callers,
            ],
            [&urls[0], &urls[1], &urls[2]],
            identity::vars(),
        );
        EdgeHost::start(&composer_wasm(), &vars, &self.dir.path().join(log)).await
    }

    /// The composer's base URL; panics when started without one.
    pub fn composer(&self) -> &str {
        self.host
            .as_ref()
            .expect("started without edge-host")
            .base()
    }

    pub fn shop_token(&self) -> String {
        self.order_callers.token("shop")
    }

    pub fn search_token(&self) -> String {
        self.search_callers.token("shop")
    }

    /// The catalog as its `admin`, at `catalog_base`.
    pub fn admin(&self) -> Client {
        Client::new(
            &self.catalog_base,
            Some(self.catalog.callers.token("admin")),
        )
    }

    /// Creates or replaces product `id` (EUR, category kitchen); returns the write's seq.
    pub async fn put(&self, id: &str, name: &str, stock: u64) -> u64 {
        let r = self
            .admin()
            .put(
                &format!("/v1/products/{id}"),
                &system_tests::product(name, 250, stock),
            )
            .await;
        assert!(r.status.is_success(), "putting {id}: {}", r.text);
        r.seq()
    }

    /// The catalog's stock of `id`.
    pub async fn stock(&self, id: &str) -> u64 {
        let r = self.admin().get(&format!("/v1/products/{id}")).await;
        r.body["stock"]
            .as_u64()
            .unwrap_or_else(|| panic!("no stock for {id}: {}", r.text))
    }

    /// The catalog's head seq.
    pub async fn catalog_head(&self) -> u64 {
        let r = self.admin().get("/v1/products?limit=1").await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.body["head_seq"].as_u64().expect("head_seq")
    }

    /// Places an order straight at order-node; it must be confirmed. Returns it.
    pub async fn place(&self, customer: &str, list: &[(&str, u32)]) -> Value {
        let t = self.place_timed(customer, list, None).await;
        assert_eq!(t.reply.status, 201, "placing: {}", t.reply.text);
        t.reply.body
    }

    /// `POST /v1/orders` straight at order-node, timed.
    pub async fn place_timed(
        &self,
        customer: &str,
        list: &[(&str, u32)],
        key: Option<&str>,
    ) -> Timed {
        let headers: Vec<(&str, &str)> = key.map(|k| ("idempotency-key", k)).into_iter().collect();
        timed(
            "placing an order at order-node",
            Method::POST,
            &format!("{}/v1/orders", self.orders.base()),
            Some(&self.shop_token()),
            Some(&order_body(customer, list)),
            &headers,
        )
        .await
    }

    /// `GET path` at order-node as `shop`, timed.
    pub async fn orders_get(&self, what: &str, path: &str) -> Timed {
        let url = format!("{}{path}", self.orders.base());
        timed(what, Method::GET, &url, Some(&self.shop_token()), None, &[]).await
    }

    /// `POST /v1/orders/{id}/cancel` at order-node, timed.
    pub async fn cancel(&self, id: &str) -> Timed {
        let url = format!("{}/v1/orders/{id}/cancel", self.orders.base());
        timed(
            "cancelling",
            Method::POST,
            &url,
            Some(&self.shop_token()),
            None,
            &[],
        )
        .await
    }

    /// Searches `q` straight at search-node, timed.
    pub async fn search_direct(&self, q: &str) -> Timed {
        let url = format!("{}{}", self.search.base(), search_path(&[("q", q)]));
        timed(
            "searching at search-node",
            Method::GET,
            &url,
            Some(&self.search_token()),
            None,
            &[],
        )
        .await
    }

    /// `GET path` at the composer with a staff token, timed.
    pub async fn composer_get(&self, what: &str, path: &str) -> Timed {
        timed(
            what,
            Method::GET,
            &format!("{}{path}", self.composer()),
            Some(&identity::staff_token(STAFF)),
            None,
            &[],
        )
        .await
    }

    /// `POST /v1/orders` at the composer, timed.
    pub async fn composer_place(&self, customer: &str, list: &[(&str, u32)]) -> Timed {
        timed(
            "placing an order through the composer",
            Method::POST,
            &format!("{}/v1/orders", self.composer()),
            Some(&identity::token(customer)),
            Some(&order_body(customer, list)),
            &[],
        )
        .await
    }

    /// The ids of the orders of `customer` at order-node (first page of 200).
    pub async fn order_ids(&self, customer: &str) -> Vec<String> {
        let t = self
            .orders_get(
                "listing",
                &format!("/v1/orders?customer_id={customer}&limit=200"),
            )
            .await;
        assert_eq!(t.reply.status, 200, "{}", t.reply.text);
        t.reply.body["orders"]
            .as_array()
            .expect("orders")
            .iter()
            .map(id_of)
            .collect()
    }

    /// Polls order `id` until its status is `status`; panics after `within`.
    pub async fn wait_status(&self, id: &str, status: &str, within: Duration) -> Duration {
        let started = tokio::time::Instant::now();
        loop {
            let t = self
                .orders_get("polling", &format!("/v1/orders/{id}"))
                .await;
            if t.reply.body["status"] == status {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < within,
                "order {id} not {status} within {within:?}: {}\norder-node log:\n{}",
                t.reply.text,
                tail(&self.orders.log(), 3000)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// search-node's `/readyz` details, if it answers.
    pub async fn search_readyz(&self) -> Option<(u16, Value)> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(5))
            .build()
            .ok()?;
        let res = http
            .get(format!("{}/readyz", self.search.base()))
            .send()
            .await
            .ok()?;
        let status = res.status().as_u16();
        let body: Value = res.json().await.ok()?;
        Some((status, body["details"].clone()))
    }

    /// Waits until search-node is ready and has applied `seq`; returns how long it took.
    pub async fn wait_indexed(&self, seq: u64, within: Duration) -> Duration {
        wait_indexed(&self.search, seq, within).await
    }

    /// Logs of every process, for failure messages.
    pub fn logs(&self) -> String {
        format!(
            "order-node:\n{}\nsearch-node:\n{}\ncatalog-node:\n{}\nedge-host:\n{}",
            tail(&self.orders.log(), 2000),
            tail(&self.search.log(), 2000),
            tail(&self.catalog.node.log(), 2000),
            self.host
                .as_ref()
                .map(|h| tail(&h.log(), 2000).to_owned())
                .unwrap_or_default()
        )
    }
}

/// The stock each product should have: `initial` minus what the confirmed orders among
/// `orders` hold.
pub fn expected_stock(initial: &[(&str, u64)], orders: &[Value]) -> Vec<(String, u64)> {
    initial
        .iter()
        .map(|(id, stock)| {
            let held: u64 = orders
                .iter()
                .filter(|o| o["status"] == "confirmed")
                .flat_map(|o| o["lines"].as_array().cloned().unwrap_or_default())
                .filter(|l| l["product_id"] == *id)
                .map(|l| l["qty"].as_u64().unwrap_or(0))
                .sum();
            ((*id).to_owned(), stock - held)
        })
        .collect()
}

/// Whether `reply` (a search answer, direct or composed) has a hit for `id`.
pub fn has_hit(reply: &Reply, id: &str) -> bool {
    reply.body["hits"]
        .as_array()
        .is_some_and(|hits| hits.iter().any(|h| h["product_id"] == id))
}

/// Writes an executable shell script, for starting a binary through a wrapper.
pub fn write_script(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).expect("write script");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}
