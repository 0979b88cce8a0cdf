//! `ComposerSystem`: the edge composer (`edge_composer.wasm` served by `edge-host`) in front
//! of a real catalog-node (demo catalogue imported), order-node and search-node.
//!
//! ```text
//!                 ┌──────────── catalog proxy ───────────┐
//!   edge-host ────┼──────────── orders proxy ── order-node ──┐
//!                 └──────────── search proxy ── search-node ─┴── catalog-node
//! ```
//!
//! The composer reaches every upstream through its own [`FaultProxy`], so a test can count
//! exactly the calls one composed request made, and delay, fail or hang any of them without
//! disturbing order-node and search-node, which talk to the catalog directly.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::backends::{Backends, Options, composer_vars, wait_indexed};
use crate::http::Reply;
use crate::orders::order_body;
use crate::proxy::{FaultProxy, Route};
use crate::search::{SEARCH_ROLES, tail};
use crate::{Callers, CatalogNode, Client, Node, NodeSpec, binary, identity};

/// The name of the composer's caller at every node.
pub const COMPOSER: &str = "edge-composer";

/// The catalog's callers: the standard test roles plus the composer (catalog:read only).
pub const CATALOG_ROLES: &[(&str, &[&str])] = &[
    ("admin", &["catalog:read", "catalog:write"]),
    ("order-node", &["catalog:read", "catalog:reserve"]),
    ("search-node", &["catalog:read", "catalog:feed"]),
    ("replica", &["catalog:read", "catalog:feed"]),
    ("reader", &["catalog:read"]),
    (COMPOSER, &["catalog:read"]),
    ("operator", &["catalog:admin"]),
];

/// order-node's callers: a shop (for placing orders directly), the composer (which acts for
/// the end users it has verified) and an operator (backups, audit).
pub const COMPOSER_ORDER_ROLES: &[(&str, &[&str])] = &[
    ("shop", &["orders:read", "orders:write"]),
    (
        COMPOSER,
        &["orders:read", "orders:write", "orders:on-behalf"],
    ),
    ("operator", &["orders:admin"]),
];

/// The subject of the staff token the harness reads composed views with.
pub const STAFF: &str = "staff-reader";

/// search-node's callers: [`SEARCH_ROLES`] plus the composer.
pub fn composer_search_roles() -> Vec<(&'static str, &'static [&'static str])> {
    let mut roles = SEARCH_ROLES.to_vec();
    roles.push((COMPOSER, &["search:read"]));
    roles
}

/// The composer's time budget of one upstream read.
pub const BUDGET: Duration = Duration::from_millis(1500);

/// The composer's time budget of forwarding an order to order-node.
pub const WRITE_BUDGET: Duration = Duration::from_millis(5000);

/// The longest [`ComposerSystem::get_timed`] waits for an answer.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// How long edge-host may take to compile the component and listen.
pub const HOST_START_WITHIN: Duration = Duration::from_secs(180);

/// How long a test waits for search-node to be ready or caught up.
pub const SEARCH_WITHIN: Duration = Duration::from_secs(60);

/// The catalog's batch read, as the catalog proxy sees it.
pub fn batch_get_route() -> Route {
    Route::new("POST", "/v1/products:batchGet")
}

/// Any request to order-node, as the orders proxy sees it.
pub fn any_route() -> Route {
    Route::prefix("*", "/")
}

/// The demo catalogue (`demo/catalog.jsonl`).
pub fn demo_catalogue() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../demo/catalog.jsonl")
}

/// The demo catalogue's products, in file order.
pub fn demo_products() -> Vec<Value> {
    let path = demo_catalogue();
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("a demo product line"))
        .collect()
}

/// The composer's component: `$EDGE_COMPOSER_WASM` if set, else
/// `<target>/wasm32-wasip2/release/edge_composer.wasm` next to the node binaries' target dir.
pub fn composer_wasm() -> PathBuf {
    if let Ok(path) = std::env::var("EDGE_COMPOSER_WASM") {
        let path = PathBuf::from(path);
        assert!(
            path.exists(),
            "EDGE_COMPOSER_WASM={} does not exist",
            path.display()
        );
        return path;
    }
    let bin = binary("catalog-node");
    let target = bin
        .parent()
        .and_then(Path::parent)
        .expect("the binaries' target directory");
    let path = target.join("wasm32-wasip2/release/edge_composer.wasm");
    assert!(
        path.exists(),
        "{} not found: build the component first (`cargo build -p edge-composer --target \
         wasm32-wasip2 --release`) or set EDGE_COMPOSER_WASM",
        path.display()
    );
    path
}

/// `Server-Timing` of a composer answer, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerTiming {
    /// `(name, dur)` of each hop, in header order.
    pub hops: Vec<(String, f64)>,
    /// `calls=N` of the `upstream` entry.
    pub calls: usize,
}

impl ServerTiming {
    /// Parses the `Server-Timing` header of `reply`; panics if it is missing or malformed.
    pub fn of(reply: &Reply) -> Self {
        let header = reply
            .header("server-timing")
            .unwrap_or_else(|| panic!("no Server-Timing in {reply:?}"));
        Self::parse(&header).unwrap_or_else(|| panic!("malformed Server-Timing {header:?}"))
    }

    /// Parses a header value like `orders;dur=1.2, catalog;dur=3.4, upstream;desc="calls=2"`.
    pub fn parse(header: &str) -> Option<Self> {
        let mut hops = Vec::new();
        let mut calls = None;
        for entry in header.split(',').map(str::trim) {
            let (name, param) = entry.split_once(';')?;
            if name == "upstream" {
                let n = param
                    .trim()
                    .strip_prefix("desc=\"calls=")?
                    .strip_suffix('"')?;
                calls = Some(n.parse().ok()?);
            } else {
                let dur = param.trim().strip_prefix("dur=")?.parse().ok()?;
                hops.push((name.trim().to_owned(), dur));
            }
        }
        Some(Self {
            hops,
            calls: calls?,
        })
    }

    /// The duration of hop `name` in milliseconds, if it is there.
    pub fn dur(&self, name: &str) -> Option<f64> {
        self.hops.iter().find(|(n, _)| n == name).map(|(_, d)| *d)
    }

    /// The hops' names, in header order.
    pub fn names(&self) -> Vec<&str> {
        self.hops.iter().map(|(n, _)| n.as_str()).collect()
    }
}

/// A running `edge-host`; killed when dropped.
#[derive(Debug)]
pub struct EdgeHost {
    child: Option<Child>,
    base: String,
    log: PathBuf,
}

impl EdgeHost {
    /// Starts `edge-host` serving `component` with `vars` (`KEY=VALUE`) on an ephemeral port;
    /// waits until it listens and panics with its log if it does not.
    pub async fn start(component: &Path, vars: &[String], log: &Path) -> Self {
        Self::start_with_env(component, vars, log, &[]).await
    }

    /// [`Self::start`] with `env` set in the host's environment.
    pub async fn start_with_env(
        component: &Path,
        vars: &[String],
        log: &Path,
        env: &[(String, String)],
    ) -> Self {
        Self::start_limited(component, vars, log, env, None).await
    }

    /// [`Self::start_with_env`] under an open-files limit of `file_limit` when given.
    pub async fn start_limited(
        component: &Path,
        vars: &[String],
        log: &Path,
        env: &[(String, String)],
        file_limit: Option<u64>,
    ) -> Self {
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("open edge-host log");
        let mut cmd = crate::node::command(&binary("edge-host"), file_limit);
        cmd.arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--component")
            .arg(component);
        for var in vars {
            // Secrets go through the environment: edge-host refuses them on its command line.
            match var.split_once('=') {
                Some((key, value)) if key.ends_with("_token") => {
                    cmd.env(format!("EDGE_VAR_{}", key.to_uppercase()), value);
                }
                _ => {
                    cmd.arg("--var").arg(var);
                }
            }
        }
        let mut child = cmd
            .env("RUST_LOG", "info")
            .env_remove("RUST_BACKTRACE")
            .env_remove("EDGE_LISTEN")
            .env_remove("EDGE_COMPONENT")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file))
            .kill_on_drop(true)
            .spawn()
            .expect("spawn edge-host");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(HOST_START_WITHIN, lines.next_line()).await;
        match first {
            Ok(Ok(Some(line))) if line.starts_with("listening on http://") => Self {
                child: Some(child),
                base: line.trim_start_matches("listening on ").to_owned(),
                log: log.to_owned(),
            },
            other => {
                let _ = child.start_kill();
                let status = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
                panic!(
                    "edge-host did not start ({other:?}, exit {:?}):\n{}",
                    status.ok().and_then(Result::ok),
                    std::fs::read_to_string(log).unwrap_or_default()
                );
            }
        }
    }

    /// The host's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The host's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The process id while the host runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    /// Stops the host with SIGTERM and waits for it to exit; returns its exit code.
    pub async fn terminate(&mut self) -> Option<i32> {
        crate::node::terminate(self.child.take()?).await
    }

    /// Kills the host with SIGKILL.
    pub async fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
    }
}

/// The whole system under test; every process is killed when dropped.
pub struct ComposerSystem {
    /// edge-host serving the composer.
    pub host: EdgeHost,
    /// Between the composer and the catalog (order-node and search-node do not use it).
    pub catalog_proxy: FaultProxy,
    /// Between the composer and order-node.
    pub orders_proxy: FaultProxy,
    /// Between the composer and search-node.
    pub search_proxy: FaultProxy,
    /// order-node, reading the catalog directly.
    pub orders: Node,
    /// search-node, following the catalog directly.
    pub search: Node,
    /// catalog-node, with [`CATALOG_ROLES`].
    pub catalog: CatalogNode,
    /// order-node's callers ([`COMPOSER_ORDER_ROLES`]).
    pub order_callers: Callers,
    /// search-node's callers ([`composer_search_roles`]).
    pub search_callers: Callers,
    /// Keeps the callers files, data directories and logs alive.
    pub dir: tempfile::TempDir,
}

impl ComposerSystem {
    /// Starts everything with the demo catalogue imported; waits until search-node has
    /// indexed it.
    pub async fn start() -> Self {
        Self::start_with(true).await
    }

    /// Starts everything, importing the demo catalogue first when `demo`; waits until
    /// search-node is ready and caught up with the catalog.
    pub async fn start_with(demo: bool) -> Self {
        let catalog = Self::start_catalog(demo).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let catalog_url = catalog.node.base().to_owned();
        let backends = Backends::start(
            dir.path(),
            &catalog.callers,
            &catalog_url,
            &Options::quick_sagas(),
        )
        .await;
        let catalog_proxy = FaultProxy::start(&catalog_url).await;
        let orders_proxy = FaultProxy::start(backends.orders.base()).await;
        let search_proxy = FaultProxy::start(backends.search.base()).await;
        let urls = [
            catalog_proxy.base(),
            orders_proxy.base(),
            search_proxy.base(),
        ];
        let host = backends
            .start_host(
                &catalog.callers,
                [&urls[0], &urls[1], &urls[2]],
                &dir.path().join("edge-host.log"),
                &[],
            )
            .await;
        let Backends {
            orders,
            search,
            order_callers,
            search_callers,
        } = backends;
        let sys = Self {
            host,
            catalog_proxy,
            orders_proxy,
            search_proxy,
            orders,
            search,
            catalog,
            order_callers,
            search_callers,
            dir,
        };
        sys.wait_search_caught_up().await;
        sys
    }

    /// Starts catalog-node with [`CATALOG_ROLES`], after importing the demo catalogue into
    /// its data directory when `demo`.
    pub async fn start_catalog(demo: bool) -> CatalogNode {
        Self::start_catalog_with_env(demo, &[]).await
    }

    /// [`Self::start_catalog`] with `env` set in the node's environment.
    pub async fn start_catalog_with_env(demo: bool, env: &[(String, String)]) -> CatalogNode {
        let dir = tempfile::tempdir().expect("tempdir");
        let callers = Callers::write(dir.path(), CATALOG_ROLES);
        let data = dir.path().join("data");
        if demo {
            let mut cmd = Command::new(binary("catalog-node"));
            cmd.arg("--data-dir")
                .arg(&data)
                .arg("import")
                .arg(demo_catalogue())
                .env_remove("RUST_BACKTRACE")
                .stdin(Stdio::null())
                .kill_on_drop(true);
            let out = tokio::time::timeout(Duration::from_secs(120), cmd.output())
                .await
                .expect("the demo import did not finish within 120s")
                .expect("run catalog-node import");
            assert!(
                out.status.success(),
                "importing the demo catalogue failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let callers_path = callers.path.to_string_lossy().into_owned();
        let spec = NodeSpec::new(
            binary("catalog-node"),
            &data,
            &dir.path().join("catalog.log"),
            &["--callers", &callers_path],
        )
        .with_env(env);
        let node = Node::start(spec).await;
        CatalogNode { node, callers, dir }
    }

    /// A client of the composer with a staff token: it reads every customer's orders, and
    /// search ignores the token.
    pub fn composer(&self) -> Client {
        Client::new(self.host.base(), Some(identity::staff_token(STAFF)))
    }

    /// A client of the composer acting as customer `subject`.
    pub fn composer_for(&self, subject: &str) -> Client {
        Client::new(self.host.base(), Some(identity::token(subject)))
    }

    /// A client of the composer sending `token` as is (`None`: no Authorization header).
    pub fn composer_with(&self, token: Option<String>) -> Client {
        Client::new(self.host.base(), token)
    }

    /// The composer's variables, with `identity_vars` in place of the test issuer's, for
    /// restarting edge-host with another key set.
    pub fn host_vars(&self, identity_vars: Vec<String>) -> Vec<String> {
        composer_vars(
            [
                &self.catalog.callers,
                &self.order_callers,
                &self.search_callers,
            ],
            [
                &self.catalog_proxy.base(),
                &self.orders_proxy.base(),
                &self.search_proxy.base(),
            ],
            identity_vars,
        )
    }

    /// `GET path` at the composer; the answer and how long it took. Panics (with edge-host's
    /// log) if there is no answer within [`ANSWER_WITHIN`]: the composer must answer within
    /// its budget whatever its upstreams do.
    pub async fn get_timed(&self, path: &str) -> (Reply, Duration) {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(ANSWER_WITHIN)
            .build()
            .expect("client");
        let started = tokio::time::Instant::now();
        let sent = http
            .get(format!("{}{path}", self.host.base()))
            .bearer_auth(identity::staff_token(STAFF))
            .send()
            .await;
        let res = sent.unwrap_or_else(|e| {
            panic!(
                "the composer gave no answer to GET {path} within {:?} ({e}); its upstream \
                 budget is {BUDGET:?}\n{}",
                started.elapsed(),
                tail(&self.host.log(), 3000)
            )
        });
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap_or_else(|e| {
            panic!(
                "the composer's answer to GET {path} did not finish within {ANSWER_WITHIN:?}: \
                 {e}"
            )
        });
        let took = started.elapsed();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        (
            Reply {
                status,
                headers,
                body,
                text,
            },
            took,
        )
    }

    /// `GET /v1/order-views/{id}`.
    pub async fn order_view(&self, id: &str) -> Reply {
        self.composer().get(&format!("/v1/order-views/{id}")).await
    }

    /// `GET /v1/customers/{customer}/order-views` with an optional query string, as that
    /// customer.
    pub async fn customer_views(&self, customer: &str, query: &str) -> Reply {
        let path = if query.is_empty() {
            format!("/v1/customers/{customer}/order-views")
        } else {
            format!("/v1/customers/{customer}/order-views?{query}")
        };
        self.composer_for(customer).get(&path).await
    }

    /// A client straight to the catalog as its `admin`.
    pub fn catalog_admin(&self) -> Client {
        self.catalog.as_role("admin")
    }

    /// A client straight to order-node as `operator` (backups, audit).
    pub fn orders_operator(&self) -> Client {
        self.orders
            .client(Some(self.order_callers.token("operator")))
    }

    /// A client straight to order-node as `shop`.
    pub fn orders_shop(&self) -> Client {
        self.orders.client(Some(self.order_callers.token("shop")))
    }

    /// A client straight to search-node as `shop`.
    pub fn search_shop(&self) -> Client {
        self.search.client(Some(self.search_callers.token("shop")))
    }

    /// Creates or replaces product `id` with `body`; returns the write's seq.
    pub async fn put_product(&self, id: &str, body: &Value) -> u64 {
        let r = self
            .catalog_admin()
            .put(&format!("/v1/products/{id}"), body)
            .await;
        assert!(r.status.is_success(), "putting {id}: {}", r.text);
        r.seq()
    }

    /// Changes the stock of product `id` by `delta`; returns the write's seq.
    pub async fn change_stock(&self, id: &str, delta: i64) -> u64 {
        let r = self
            .catalog_admin()
            .patch(
                &format!("/v1/products/{id}/stock"),
                &json!({ "delta": delta }),
            )
            .await;
        assert!(r.status.is_success(), "stock of {id}: {}", r.text);
        r.seq()
    }

    /// Product `id`, straight from the catalog; panics if it is not there.
    pub async fn product(&self, id: &str) -> Value {
        let r = self
            .catalog_admin()
            .get(&format!("/v1/products/{id}"))
            .await;
        assert_eq!(r.status, 200, "product {id}: {}", r.text);
        r.body
    }

    /// Places an order straight at order-node (not through the composer); it must be
    /// confirmed. Returns it.
    pub async fn place(&self, customer: &str, list: &[(&str, u32)]) -> Value {
        let r = self
            .orders_shop()
            .post("/v1/orders", &order_body(customer, list))
            .await;
        assert_eq!(r.status, 201, "placing {} lines: {}", list.len(), r.text);
        assert_eq!(r.body["status"], "confirmed", "{}", r.text);
        r.body
    }

    /// Order `id`, straight from order-node.
    pub async fn order(&self, id: &str) -> Reply {
        self.orders_shop().get(&format!("/v1/orders/{id}")).await
    }

    /// Forgets every request the three proxies have seen.
    pub fn reset_counts(&self) {
        self.catalog_proxy.reset_counts();
        self.orders_proxy.reset_counts();
        self.search_proxy.reset_counts();
    }

    /// The catalog's head seq.
    pub async fn catalog_head(&self) -> u64 {
        let r = self
            .catalog
            .as_role("reader")
            .get("/v1/products?limit=1")
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.body["head_seq"]
            .as_u64()
            .unwrap_or_else(|| panic!("no head_seq in {}", r.text))
    }

    /// Waits until search-node is ready and has indexed the catalog's current head.
    pub async fn wait_search_caught_up(&self) {
        let head = self.catalog_head().await;
        wait_indexed(&self.search, head, SEARCH_WITHIN).await;
    }

    /// The logs of edge-host and the nodes, for failure messages.
    pub fn logs(&self) -> String {
        format!(
            "edge-host log:\n{}\norder-node log:\n{}\ncatalog log:\n{}",
            tail(&self.host.log(), 3000),
            tail(&self.orders.log(), 2000),
            tail(&self.catalog.node.log(), 2000)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_server_timing() {
        let t = ServerTiming::parse("orders;dur=1.2, catalog;dur=3.4, upstream;desc=\"calls=2\"")
            .unwrap();
        assert_eq!(t.calls, 2);
        assert_eq!(t.names(), ["orders", "catalog"]);
        assert_eq!(t.dur("catalog"), Some(3.4));
        assert_eq!(t.dur("search"), None);
        assert_eq!(
            ServerTiming::parse("upstream;desc=\"calls=0\"")
                .unwrap()
                .calls,
            0
        );
        assert!(ServerTiming::parse("orders;dur=1.2").is_none());
        assert!(ServerTiming::parse("orders;dur=x, upstream;desc=\"calls=1\"").is_none());
    }
}
