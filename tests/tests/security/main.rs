//! Security campaigns against the real binaries, driven by the route list each node publishes
//! at `GET /openapi.json` (generated from the node's route table, the same table its router is
//! built from), so that a route added to a node is covered without touching these tests:
//!
//! - `auth_matrix`: every operation × {no token, unknown token, every known caller lacking
//!   the scope, a caller of another service, a token of another node} is refused (401/403)
//!   and writes nothing; the caller holding the scope gets past the guard; the open routes
//!   stay open; no method the document does not list is served.
//! - `bad_input`: a seeded corpus of malformed, oversized, wrong-typed, wrong-encoding,
//!   huge-batch and injection-shaped requests (`BAD_INPUT_CASES` per node, 10,000 by default),
//!   sent with a token holding every scope: no 5xx, no panic, and nothing written.
//!
//! - `composer`: the composer's order routes refuse service tokens and forged end-user
//!   tokens, and a valid end user's malformed requests get a 4xx and write nothing.
//!
//! See docs/reliability.md.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod auth_matrix;
mod bad_input;
mod composer;
mod raw;

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use system_tests::http::Reply;
use system_tests::orders::try_send;
use system_tests::search::SearchSystem;
use system_tests::{Callers, Client, Node, NodeSpec, binary, product};

/// The scopes each node checks, as its callers file spells them.
pub const CATALOG_SCOPES: &[&str] = &[
    "catalog:read",
    "catalog:write",
    "catalog:reserve",
    "catalog:feed",
    "catalog:admin",
];
/// order-node's scopes.
pub const ORDER_SCOPES: &[&str] = &[
    "orders:read",
    "orders:write",
    "orders:admin",
    "orders:on-behalf",
];
/// search-node's scopes.
pub const SEARCH_SCOPES: &[&str] = &["search:read", "search:admin"];

/// Which node a test targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// catalog-node.
    Catalog,
    /// order-node.
    Orders,
    /// search-node.
    Search,
}

impl Which {
    /// All three.
    pub const ALL: [Which; 3] = [Which::Catalog, Which::Orders, Which::Search];

    /// The node's binary name.
    pub fn name(self) -> &'static str {
        match self {
            Which::Catalog => "catalog-node",
            Which::Orders => "order-node",
            Which::Search => "search-node",
        }
    }

    /// The scopes the node checks.
    pub fn scopes(self) -> &'static [&'static str] {
        match self {
            Which::Catalog => CATALOG_SCOPES,
            Which::Orders => ORDER_SCOPES,
            Which::Search => SEARCH_SCOPES,
        }
    }
}

/// The role holding only `scope` (`only-catalog-read`).
pub fn only(scope: &str) -> String {
    format!("only-{}", scope.replace(':', "-"))
}

/// A callers file for `which`: `all` (every scope of the node), one `only-…` role per scope,
/// `foreign` (every scope of the other nodes: a known caller of another service), and
/// `extra` roles.
fn callers_for(dir: &std::path::Path, which: Which, extra: &[(&str, &[&str])]) -> Callers {
    let mine = which.scopes();
    let foreign: Vec<&str> = Which::ALL
        .iter()
        .filter(|w| **w != which)
        .flat_map(|w| w.scopes().iter().copied())
        .collect();
    let singles: Vec<(String, &str)> = mine.iter().map(|s| (only(s), *s)).collect();
    let single_scopes: Vec<[&str; 1]> = singles.iter().map(|(_, s)| [*s]).collect();
    let mut roles: Vec<(&str, &[&str])> = vec![("all", mine), ("foreign", &foreign)];
    for ((name, _), scopes) in singles.iter().zip(&single_scopes) {
        roles.push((name.as_str(), scopes));
    }
    roles.extend_from_slice(extra);
    Callers::write(dir, &roles)
}

/// One node of the trio, with its callers.
pub struct Started {
    /// The process.
    pub node: Node,
    /// Its callers (`all`, `foreign`, `only-…`).
    pub callers: Callers,
}

impl Started {
    /// A client presenting role `name`'s token.
    pub fn as_role(&self, name: &str) -> Client {
        self.node.client(Some(self.callers.token(name)))
    }
}

/// catalog-node, order-node and search-node, wired together as in production (order-node and
/// search-node call the catalog with their own tokens), with a little data in each store:
/// products, a reservation, a confirmed order, and an index caught up with the catalog.
pub struct Trio {
    /// catalog-node.
    pub catalog: Started,
    /// order-node.
    pub orders: Started,
    /// search-node.
    pub search: Started,
    /// The id of the confirmed order.
    pub order_id: String,
    /// Keeps the callers files, data and logs alive.
    _dir: tempfile::TempDir,
}

/// Products every trio holds.
pub const PRODUCTS: &[&str] = &["p-1", "p-2", "p-3"];
/// The reservation every trio holds (besides the order's).
pub const RESERVATION: &str = "r-1";
/// The customer of the trio's order.
pub const CUSTOMER: &str = "c-1";

impl Trio {
    /// Starts the three nodes and seeds them.
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = |name: &str| dir.path().join(name);
        std::fs::create_dir_all(path("catalog")).unwrap();
        std::fs::create_dir_all(path("orders")).unwrap();
        std::fs::create_dir_all(path("search")).unwrap();

        let catalog_callers = callers_for(
            &path("catalog"),
            Which::Catalog,
            &[
                ("order-node", &["catalog:read", "catalog:reserve"]),
                ("search-node", &["catalog:read", "catalog:feed"]),
            ],
        );
        let catalog_file = catalog_callers.path.to_string_lossy().into_owned();
        let catalog = Node::start(NodeSpec::new(
            binary("catalog-node"),
            &path("catalog").join("data"),
            &path("catalog").join("node.log"),
            &["--callers", &catalog_file],
        ))
        .await;

        let order_callers = callers_for(&path("orders"), Which::Orders, &[]);
        let order_file = order_callers.path.to_string_lossy().into_owned();
        let order_token = catalog_callers.token("order-node");
        let orders = Node::start(
            NodeSpec::new(
                binary("order-node"),
                &path("orders").join("data"),
                &path("orders").join("node.log"),
                &[
                    "--callers",
                    &order_file,
                    "--catalog-url",
                    catalog.base(),
                    "--saga-retry-ms",
                    "200",
                ],
            )
            .with_catalog_token(&order_token),
        )
        .await;

        let search_callers = callers_for(&path("search"), Which::Search, &[]);
        let search_token = catalog_callers.token("search-node");
        let search = Node::start(SearchSystem::search_spec(
            catalog.base(),
            &search_token,
            &search_callers,
            &path("search"),
            &[],
        ))
        .await;

        let mut trio = Self {
            catalog: Started {
                node: catalog,
                callers: catalog_callers,
            },
            orders: Started {
                node: orders,
                callers: order_callers,
            },
            search: Started {
                node: search,
                callers: search_callers,
            },
            order_id: String::new(),
            _dir: dir,
        };
        trio.seed().await;
        trio
    }

    async fn seed(&mut self) {
        let admin = self.catalog.as_role("all");
        for (i, id) in PRODUCTS.iter().enumerate() {
            let r = admin
                .put(
                    &format!("/v1/products/{id}"),
                    &product(&format!("Product {i}"), 100 + i as u64, 50),
                )
                .await;
            assert_eq!(r.status, 201, "seeding {id}: {}", r.text);
        }
        let r = admin
            .post(
                "/v1/reservations",
                &json!({"id": RESERVATION, "items": [{"product_id": "p-1", "qty": 1}]}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let r = self
            .orders
            .as_role("all")
            .post(
                "/v1/orders",
                &json!({"customer_id": CUSTOMER, "items": [{"product_id": "p-2", "qty": 2}]}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        self.order_id = r.body["id"].as_str().unwrap().to_owned();
        let head = self.catalog_head().await;
        self.wait_search_at(head).await;
        self.wait_catalog_counted().await;
    }

    /// Waits until the counts in the catalog's `/readyz` include the seeded products. The
    /// catalog refreshes them on a 10 s tick, so a tick between two fingerprints would
    /// otherwise show as a change that no request made.
    async fn wait_catalog_counted(&self) {
        let seeded = Some(PRODUCTS.len() as u64);
        wait_readyz(
            &self.catalog.node,
            "the catalog counting the seeded products",
            |_, d| d["products"].as_u64() == seeded,
        )
        .await;
    }

    /// The catalog's newest durable feed seq.
    pub async fn catalog_head(&self) -> u64 {
        let r = self.catalog.node.client(None).get("/readyz").await;
        r.body["details"]["durable_seq"]
            .as_u64()
            .unwrap_or_else(|| panic!("no durable_seq in {}", r.text))
    }

    /// Waits until search-node has indexed the catalog's feed up to `seq`.
    pub async fn wait_search_at(&self, seq: u64) {
        wait_readyz(
            &self.search.node,
            &format!("search-node reaching seq {seq}"),
            |status, d| status == 200 && d["indexed_seq"].as_u64() >= Some(seq),
        )
        .await;
    }

    /// The node `which`.
    pub fn node(&self, which: Which) -> &Started {
        match which {
            Which::Catalog => &self.catalog,
            Which::Orders => &self.orders,
            Which::Search => &self.search,
        }
    }

    /// Everything a write to any of the three stores would change: the catalog's feed head,
    /// counts, products (with versions and stock) and reservations; order-node's order count,
    /// the customer's orders and the order; search-node's indexed seq and document count.
    pub async fn fingerprint(&self) -> Value {
        let catalog = self.catalog.as_role("all");
        let orders = self.orders.as_role("all");
        let search = self.search.as_role("all");
        let body = |r: Reply| {
            assert!(r.status.is_success(), "{}", r.text);
            r.body
        };
        let mut search_ready = self.search.node.client(None).get("/readyz").await.body;
        // Only what search-node's own store holds: the catalog side is compared above.
        let indexed = search_ready["details"]["indexed_seq"].take();
        // The documents, as a search matching every product's description finds them.
        let mut documents = body(search.get("/v1/search?q=fine&limit=100").await);
        documents["indexed_seq"].take();
        json!({
            "catalog_ready": self.catalog.node.client(None).get("/readyz").await.body["details"],
            "products": body(catalog.get("/v1/products?limit=1000").await),
            "events": body(catalog.get("/v1/events?after=0&limit=5000").await),
            "reservation": body(catalog.get(&format!("/v1/reservations/{RESERVATION}")).await),
            "order_reservation": body(catalog.get(&format!("/v1/reservations/{}", self.order_id)).await),
            "orders_ready": self.orders.node.client(None).get("/readyz").await.body["details"],
            "customer_orders": body(orders.get(&format!("/v1/orders?customer_id={CUSTOMER}&limit=200")).await),
            "order": body(orders.get(&format!("/v1/orders/{}", self.order_id)).await),
            "indexed_seq": indexed,
            "search_hits": documents,
        })
    }

    /// Panics when any node's log shows a panic.
    pub fn assert_no_panic(&self) {
        for which in Which::ALL {
            let log = self.node(which).node.log();
            assert!(
                !log.contains("panicked"),
                "{} panicked:\n{}",
                which.name(),
                tail(&log, 4000)
            );
        }
    }
}

/// Polls `node`'s `/readyz` until `done(status, details)`; panics naming `what` after 30 s.
async fn wait_readyz(node: &Node, what: &str, done: impl Fn(u16, &Value) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let r = node.client(None).get("/readyz").await;
        if done(r.status.as_u16(), &r.body["details"]) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within 30 s; last /readyz: {}",
            r.text
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Panics, naming what changed, when two fingerprints differ.
pub fn assert_unchanged(before: &Value, after: &Value) {
    let changed: Vec<String> = before
        .as_object()
        .expect("a fingerprint")
        .iter()
        .filter(|(k, v)| after.get(k.as_str()) != Some(v))
        .map(|(k, v)| format!("{k}: before {v}\n  after {}", after[k.as_str()]))
        .collect();
    assert!(
        changed.is_empty(),
        "a store changed:\n{}",
        changed.join("\n")
    );
}

/// One operation of an OpenAPI document.
#[derive(Debug, Clone)]
pub struct Operation {
    /// The method, upper-case.
    pub method: String,
    /// The path template, e.g. `/v1/products/{id}`.
    pub path: String,
    /// The scope it needs; `None` for an open route.
    pub scope: Option<String>,
    /// Every method the document lists on this path.
    pub path_methods: Vec<String>,
}

impl Operation {
    /// `GET /v1/products/{id}`.
    pub fn label(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// The path with every `{param}` filled by `fill(param, previous segment)`.
    pub fn path_with(&self, mut fill: impl FnMut(&str, &str) -> String) -> String {
        let mut previous = "";
        let mut out = Vec::new();
        for segment in self.path.split('/') {
            match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(param) => out.push(fill(param, previous)),
                None => out.push(segment.to_owned()),
            }
            previous = segment;
        }
        out.join("/")
    }
}

/// Reads `GET /openapi.json` of the node at `base` (without a token: the document is open)
/// and lists its operations.
pub async fn operations(base: &str) -> Vec<Operation> {
    let r = try_send(base, None, Method::GET, "/openapi.json", None, &[])
        .await
        .expect("openapi.json");
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["openapi"], "3.1.0", "{}", r.text);
    let mut out = Vec::new();
    for (path, item) in r.body["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if method == "parameters" {
                continue;
            }
            let security = op["security"].as_array().expect("security");
            let scope = security
                .first()
                .map(|req| req["bearer"][0].as_str().expect("a scope").to_owned());
            assert_eq!(
                scope.as_deref(),
                op["x-scope"].as_str(),
                "{method} {path}: security and x-scope disagree"
            );
            out.push(Operation {
                method: method.to_uppercase(),
                path: path.clone(),
                scope,
                path_methods: item
                    .as_object()
                    .expect("path item")
                    .keys()
                    .filter(|k| *k != "parameters")
                    .map(|k| k.to_uppercase())
                    .collect(),
            });
        }
    }
    out
}

/// The last `n` bytes of `text` (on a char boundary).
pub fn tail(text: &str, n: usize) -> &str {
    let mut start = text.len().saturating_sub(n);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}
