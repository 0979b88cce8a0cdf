//! `SearchSystem`: a real catalog-node, optionally a [`FaultProxy`] in front of it, and a real
//! search-node that follows the catalog's feed (through the proxy when there is one).
//!
//! Products written by the tests carry a *token* in their name: the product id lower-cased
//! with everything but letters and digits removed (see [`token_of`] and [`name_with_token`]).
//! Since no other product's name ever holds that word, searching it must find exactly that
//! product, which makes [`SearchSystem::index_equals_catalog`] an exact check.

use std::time::Duration;

use futures::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};

use crate::http::Reply;
use crate::orders::try_send;
use crate::proxy::{FaultProxy, Mode};
use crate::{Callers, CatalogNode, Client, Node, NodeSpec, binary};

/// The roles of search-node's callers file in tests.
pub const SEARCH_ROLES: &[(&str, &[&str])] = &[
    ("shop", &["search:read"]),
    ("other", &["orders:read"]),
    ("operator", &["search:admin"]),
];

/// `--commit-delay-ms` of search-node in tests.
pub const COMMIT_DELAY_MS: u64 = 20;

/// How long a test waits for search-node to become ready or to catch up with the catalog.
pub const CATCH_UP_WITHIN: Duration = Duration::from_secs(30);

/// `wait_ms` of [`SearchSystem::search_after`]: the longest the API allows.
pub const READ_YOUR_WRITES_WAIT_MS: u64 = 10_000;

/// The word that identifies product `id` in its name: `id` lower-cased, letters and digits
/// only (`Kettle-7` → `kettle7`).
pub fn token_of(id: &str) -> String {
    id.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// A product name made of `words` followed by the token of `id`.
pub fn name_with_token(id: &str, words: &str) -> String {
    format!("{words} {}", token_of(id))
}

/// Whether `text` holds `word` as a whole word (letters and digits, case-insensitive).
pub fn has_word(text: &str, word: &str) -> bool {
    text.split(|c: char| !c.is_alphanumeric())
        .any(|w| w.eq_ignore_ascii_case(word))
}

/// Percent-encodes a query-string value (everything but unreserved characters).
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `/v1/search?…` with the given parameters, each value percent-encoded.
pub fn search_path(params: &[(&str, &str)]) -> String {
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    format!("/v1/search?{}", query.join("&"))
}

/// The product ids of a search answer's hits, best first.
pub fn hit_ids(reply: &Reply) -> Vec<String> {
    hits(reply)
        .iter()
        .map(|h| h["product_id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The hits of a search answer; panics if it has none.
pub fn hits(reply: &Reply) -> Vec<Value> {
    reply.body["hits"]
        .as_array()
        .unwrap_or_else(|| panic!("no hits in {}", reply.text))
        .clone()
}

/// `total` of a search answer.
pub fn total(reply: &Reply) -> u64 {
    reply.body["total"]
        .as_u64()
        .unwrap_or_else(|| panic!("no total in {}", reply.text))
}

/// A `PUT /v1/products/{id}` body.
pub fn product_body(name: &str, description: &str, category: &str) -> Value {
    json!({
        "name": name,
        "description": description,
        "category": category,
        "price_minor": 1999,
        "currency": "EUR",
        "stock": 10,
    })
}

/// The value of an unlabelled sample `name` in Prometheus text.
pub fn metric_value(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?;
        let value = rest.strip_prefix(' ')?;
        value.split_whitespace().next()?.parse().ok()
    })
}

/// The last `n` bytes of `text` (on a char boundary).
pub fn tail(text: &str, n: usize) -> &str {
    let mut start = text.len().saturating_sub(n);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// The whole system under test; every process is killed when dropped.
pub struct SearchSystem {
    /// search-node.
    pub node: Node,
    /// The proxy between search-node and the catalog, when started with one.
    pub proxy: Option<FaultProxy>,
    /// catalog-node, with its callers (`admin`, `search-node`, ...).
    pub catalog: CatalogNode,
    /// search-node's callers (see [`SEARCH_ROLES`]).
    pub callers: Callers,
    /// Keeps search-node's callers file, data and log alive.
    pub dir: tempfile::TempDir,
}

impl SearchSystem {
    /// Starts catalog-node and search-node (reading the catalog directly); waits until
    /// search-node is ready.
    pub async fn start() -> Self {
        let sys = Self::on_catalog(CatalogNode::start().await, None).await;
        sys.wait_ready().await;
        sys
    }

    /// Starts catalog-node, a proxy in front of it and search-node reading the catalog
    /// through the proxy; waits until search-node is ready.
    pub async fn start_proxied() -> Self {
        let sys = Self::on_catalog(CatalogNode::start().await, Some(Mode::Forward)).await;
        sys.wait_ready().await;
        sys
    }

    /// Starts search-node in front of a running catalog, through a proxy in mode `proxy`
    /// when given (set before search-node starts); does not wait for readiness.
    pub async fn on_catalog(catalog: CatalogNode, proxy: Option<Mode>) -> Self {
        let proxy = match proxy {
            Some(mode) => {
                let p = FaultProxy::start(catalog.node.base()).await;
                p.set_mode(mode);
                Some(p)
            }
            None => None,
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let callers = Callers::write(dir.path(), SEARCH_ROLES);
        let url = proxy
            .as_ref()
            .map_or_else(|| catalog.node.base().to_owned(), FaultProxy::base);
        let token = catalog.callers.token("search-node");
        let spec = Self::search_spec(&url, &token, &callers, dir.path(), &[]);
        let node = Node::start(spec).await;
        Self {
            node,
            proxy,
            catalog,
            callers,
            dir,
        }
    }

    /// The spec search-node is started with: its callers, the catalog URL and token, and a
    /// commit delay of [`COMMIT_DELAY_MS`].
    pub fn search_spec(
        catalog_url: &str,
        catalog_token: &str,
        callers: &Callers,
        dir: &std::path::Path,
        extra: &[&str],
    ) -> NodeSpec {
        let callers_path = callers.path.to_string_lossy().into_owned();
        let delay = COMMIT_DELAY_MS.to_string();
        let mut args = vec![
            "--callers",
            callers_path.as_str(),
            "--catalog-url",
            catalog_url,
            "--commit-delay-ms",
            delay.as_str(),
        ];
        args.extend_from_slice(extra);
        NodeSpec::new(
            binary("search-node"),
            &dir.join("search-data"),
            &dir.join("search.log"),
            &args,
        )
        .with_catalog_token(catalog_token)
    }

    /// The catalog URL search-node uses (the proxy's when there is one).
    pub fn catalog_url(&self) -> String {
        self.proxy
            .as_ref()
            .map_or_else(|| self.catalog.node.base().to_owned(), FaultProxy::base)
    }

    /// The proxy; panics when the system was started without one.
    pub fn proxy(&self) -> &FaultProxy {
        self.proxy
            .as_ref()
            .expect("this SearchSystem was started without a proxy")
    }

    /// Switches the proxy's mode.
    pub fn set_mode(&self, mode: Mode) {
        self.proxy().set_mode(mode);
    }

    /// A search-node client acting as role `name` of [`SEARCH_ROLES`].
    pub fn as_role(&self, name: &str) -> Client {
        self.node.client(Some(self.callers.token(name)))
    }

    /// A search-node client as `shop` (search:read).
    pub fn shop(&self) -> Client {
        self.as_role("shop")
    }

    /// A search-node client with no token.
    pub fn anonymous(&self) -> Client {
        self.node.client(None)
    }

    /// A client straight to the catalog as its `admin`.
    pub fn admin(&self) -> Client {
        self.catalog.as_role("admin")
    }

    /// Creates or replaces product `id`; returns the write's `X-Catalog-Seq`.
    pub async fn put_product(
        &self,
        id: &str,
        name: &str,
        description: &str,
        category: &str,
    ) -> u64 {
        let r = self
            .admin()
            .put(
                &format!("/v1/products/{id}"),
                &product_body(name, description, category),
            )
            .await;
        assert!(r.status.is_success(), "putting {id}: {}", r.text);
        r.seq()
    }

    /// Changes some fields of product `id` (`If-Match: *`); returns the write's seq.
    pub async fn patch_product(&self, id: &str, patch: &Value) -> u64 {
        let r = self
            .admin()
            .send(
                Method::PATCH,
                &format!("/v1/products/{id}"),
                Some(patch),
                &[("if-match", "*")],
            )
            .await;
        assert!(r.status.is_success(), "patching {id}: {}", r.text);
        r.seq()
    }

    /// Changes the stock of product `id` by `delta`; returns the write's seq.
    pub async fn change_stock(&self, id: &str, delta: i64) -> u64 {
        let r = self
            .admin()
            .patch(
                &format!("/v1/products/{id}/stock"),
                &json!({ "delta": delta }),
            )
            .await;
        assert!(r.status.is_success(), "stock of {id}: {}", r.text);
        r.seq()
    }

    /// Deletes product `id` (which must exist); returns the write's seq.
    pub async fn delete_product(&self, id: &str) -> u64 {
        let r = self.admin().delete(&format!("/v1/products/{id}")).await;
        assert_eq!(r.status, 204, "deleting {id}: {}", r.text);
        r.seq()
    }

    /// `GET /v1/search` as `shop` with the given parameters; the answer is not checked.
    pub async fn search_with(&self, params: &[(&str, &str)]) -> Reply {
        self.shop().get(&search_path(params)).await
    }

    /// Searches `q` as `shop`; asserts 200.
    pub async fn search(&self, q: &str) -> Reply {
        let r = self.search_with(&[("q", q)]).await;
        assert_eq!(r.status, 200, "searching {q:?}: {}", r.text);
        r
    }

    /// Searches `q` as `shop` once the index has applied `seq` (`min_seq`, waiting up to
    /// [`READ_YOUR_WRITES_WAIT_MS`]); asserts 200. Whether it caught up is in the answer.
    pub async fn search_after(&self, q: &str, seq: u64) -> Reply {
        let seq = seq.to_string();
        let wait = READ_YOUR_WRITES_WAIT_MS.to_string();
        let r = self
            .search_with(&[("q", q), ("min_seq", &seq), ("wait_ms", &wait)])
            .await;
        assert_eq!(r.status, 200, "searching {q:?} after {seq}: {}", r.text);
        r
    }

    /// `/readyz` of search-node; `Err` when it does not answer.
    pub async fn readyz(&self) -> Result<Reply, String> {
        try_send(self.node.base(), None, Method::GET, "/readyz", None, &[]).await
    }

    /// Polls `/readyz` until `done(status, details)`; panics after `within` with the last
    /// answer and the log.
    pub async fn wait_readyz(
        &self,
        what: &str,
        within: Duration,
        done: impl Fn(u16, &Value) -> bool,
    ) -> Value {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let r = self.readyz().await;
            if let Ok(r) = &r
                && done(r.status.as_u16(), &r.body["details"])
            {
                return r.body["details"].clone();
            }
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "search-node not {what} within {within:?}; last /readyz: {:?}\n\
                     search-node log:\n{}",
                    r.map(|r| r.text),
                    tail(&self.node.log(), 4000)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until `/readyz` answers 200; returns its details.
    pub async fn wait_ready(&self) -> Value {
        self.wait_readyz("ready", CATCH_UP_WITHIN, |status, _| status == 200)
            .await
    }

    /// Waits until `/readyz` reports the catalog reachable, `indexed_seq >= seq` and no lag;
    /// returns its details.
    pub async fn wait_caught_up(&self, seq: u64) -> Value {
        self.wait_readyz(
            &format!("caught up with seq {seq}"),
            CATCH_UP_WITHIN,
            |status, d| {
                status == 200
                    && d["catalog_reachable"] == true
                    && d["indexed_seq"].as_u64().is_some_and(|s| s >= seq)
                    && d["lag_events"] == 0
            },
        )
        .await
    }

    /// search-node's `/metrics` text.
    pub async fn metrics(&self) -> String {
        let r = self.node.client(None).get("/metrics").await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.text
    }

    /// One unlabelled metric of search-node.
    pub async fn metric(&self, name: &str) -> Option<f64> {
        metric_value(&self.metrics().await, name)
    }

    /// Polls `/metrics` until `done(values of names)`; panics after `within` with the values.
    /// (search-node refreshes its gauges once a second.)
    pub async fn wait_metrics(
        &self,
        names: &[&str],
        within: Duration,
        done: impl Fn(&[Option<f64>]) -> bool,
    ) -> Vec<Option<f64>> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let text = self.metrics().await;
            let values: Vec<Option<f64>> = names.iter().map(|n| metric_value(&text, n)).collect();
            if done(&values) {
                return values;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!("metrics {names:?} = {values:?} still not as expected after {within:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Kills search-node with SIGKILL.
    pub async fn kill_search(&mut self) {
        self.node.kill9().await;
    }

    /// Stops search-node with SIGTERM; returns its exit code.
    pub async fn stop_search(&mut self) -> Option<i32> {
        self.node.terminate().await
    }

    /// Kills search-node with SIGKILL (if running) and starts it again on the same port and
    /// data directory; does not wait for readiness.
    pub async fn restart_search(&mut self) {
        self.node.restart().await;
    }

    /// Runs `search-node … reindex` on search-node's data directory (stop the node first).
    pub async fn reindex(&self) -> std::process::Output {
        let mut cmd = tokio::process::Command::new(binary("search-node"));
        cmd.arg("--data-dir")
            .arg(self.node.data_dir())
            .arg("--catalog-url")
            .arg(self.catalog_url())
            .env(
                "SEARCH_CATALOG_TOKEN",
                self.catalog.callers.token("search-node"),
            )
            .arg("reindex")
            .env_remove("RUST_BACKTRACE")
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        tokio::time::timeout(Duration::from_secs(120), cmd.output())
            .await
            .expect("reindex did not finish within 120s")
            .expect("run reindex")
    }

    /// Every product of the catalog in id order (read straight from the catalog), and the
    /// largest `head_seq` of the pages.
    pub async fn catalog_products(&self) -> (Vec<Value>, u64) {
        let reader = self.catalog.as_role("reader");
        let mut out = Vec::new();
        let mut head = 0;
        let mut after: Option<String> = None;
        for _ in 0..10_000 {
            let path = match &after {
                Some(a) => format!("/v1/products?limit=1000&after={a}"),
                None => "/v1/products?limit=1000".to_owned(),
            };
            let page = reader.get(&path).await;
            assert_eq!(page.status, 200, "{path}: {}", page.text);
            head = head.max(page.body["head_seq"].as_u64().expect("head_seq"));
            out.extend(
                page.body["products"]
                    .as_array()
                    .expect("products")
                    .iter()
                    .cloned(),
            );
            match page.body["next_after"].as_str() {
                Some(a) => after = Some(a.to_owned()),
                None => return (out, head),
            }
        }
        panic!("the catalog's product pages did not end");
    }

    /// Checks that search-node holds exactly the catalog (the catalog must be quiet): waits
    /// until it has caught up with the catalog's head, then for every product finds it
    /// exactly once by id (`product_id:"ID"`) and by its token, with its latest name and
    /// category, and checks that `search_documents` equals the catalog's product count, so
    /// that nothing else (old versions, deleted products) is indexed. Every product's name
    /// must hold its token (see [`name_with_token`]). Returns the catalog's products.
    pub async fn index_equals_catalog(&self) -> Vec<Value> {
        self.check_index(true).await
    }

    /// [`Self::index_equals_catalog`] for products without tokens in their names: every
    /// product is looked up by id only.
    pub async fn index_equals_catalog_by_id(&self) -> Vec<Value> {
        self.check_index(false).await
    }

    async fn check_index(&self, by_token: bool) -> Vec<Value> {
        let (products, head) = self.catalog_products().await;
        self.wait_caught_up(head).await;
        let checks = products.iter().map(|p| async move {
            let id = p["id"].as_str().expect("id");
            let name = p["name"].as_str().expect("name");
            let category = p["category"].as_str().expect("category");
            let by_id = self
                .search_with(&[("q", &format!("product_id:\"{id}\"")), ("limit", "100")])
                .await;
            let mut found = vec![("id", by_id)];
            if by_token {
                let token = token_of(id);
                assert!(
                    has_word(name, &token),
                    "product {id}'s name {name:?} lacks its token {token:?}: name test products \
                     with name_with_token"
                );
                found.push((
                    "token",
                    self.search_with(&[("q", &token), ("limit", "100")]).await,
                ));
            }
            for (how, r) in found {
                assert_eq!(r.status, 200, "searching {id} by {how}: {}", r.text);
                let ids = hit_ids(&r);
                assert_eq!(
                    (ids.as_slice(), total(&r)),
                    (&[id.to_owned()][..], 1),
                    "searching {id} by {how} must find it exactly once: {}",
                    r.text
                );
                let hit = &r.body["hits"][0];
                assert_eq!(
                    (hit["name"].as_str(), hit["category"].as_str()),
                    (Some(name), Some(category)),
                    "{id} is indexed with a stale name or category: {}",
                    r.text
                );
            }
        });
        futures::stream::iter(checks)
            .buffer_unordered(8)
            .collect::<Vec<()>>()
            .await;
        let count = products.len() as f64;
        self.wait_metrics(
            &["search_documents", "search_indexed_seq"],
            Duration::from_secs(10),
            |v| v[0] == Some(count) && v[1].is_some_and(|s| s >= head as f64),
        )
        .await;
        products
    }

    /// A log line count: how often search-node's log (all its runs) contains `needle`.
    pub fn log_count(&self, needle: &str) -> usize {
        self.node.log().matches(needle).count()
    }

    /// Sets the proxy down and waits until search-node's `/readyz` reports the catalog
    /// unreachable.
    pub async fn catalog_down(&self) -> Value {
        self.set_mode(Mode::Down);
        self.wait_readyz("seeing the catalog down", CATCH_UP_WITHIN, |status, d| {
            status == 200 && d["catalog_reachable"] == false
        })
        .await
    }
}
