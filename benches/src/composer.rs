//! Setup of the composer benchmark and the load runs: the real release `catalog-node` (demo
//! catalogue, every product stocked) and `order-node` of [`OrderBench`], plus `edge-host`
//! serving the real `edge_composer.wasm` straight in front of them (no proxies), and the
//! ways of composing an order view that the benchmark compares.
//!
//! The composition strategies all end in composer-core and produce the same bytes, which
//! [`ComposerBench::check_same_views`] verifies before anything is measured:
//!
//! - batched, through the composer: `GET /v1/order-views/{id}` at edge-host, which makes 2
//!   upstream calls (the order, then one catalog batch);
//! - batched, natively: the same 2 calls made by the bench itself, composed with the native
//!   core, so the cost of the WebAssembly hop and host can be told apart;
//! - N+1: the order, then one `GET /v1/products/{id}` per line, one after the other. This
//!   strategy exists only here, as the baseline the composer is designed to avoid.

use composer_core::{Lookup, customer_views, order_view, plan_products};
use contracts::catalog::{BatchGetResponse, MAX_BATCH_IDS, Product};
use contracts::orders::{Order, OrderLine, OrderPage, OrderStatus};
use futures::future::join_all;
use serde_json::json;
use system_tests::composer::composer_wasm;
use system_tests::{EdgeHost, Rng, identity};

use crate::demo_catalog;
use crate::system::{OrderBench, demo_products, order_body};

/// Where the composer's `search_url` points: a closed loopback port. The order-view routes
/// measured here never call search-node, so it is not started; `/v1/search` answers 503.
pub const NO_SEARCH_URL: &str = "http://127.0.0.1:9";

/// Inputs of the composition core for one order size, as its hosts receive them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreInputs {
    /// The order, as order-node answers `GET /v1/orders/{id}`.
    pub order: String,
    /// The catalog's answer to one batch read of the order's products.
    pub batch: String,
}

impl CoreInputs {
    /// Deterministic inputs for an order of `lines` distinct demo products: the order as it
    /// was placed (names and prices copied at order time) and a batch answer with the same
    /// products a little later (one price changed, stock moved), both built from the wire
    /// types and serialised as the nodes do.
    pub fn generate(lines: usize) -> Self {
        let demo = demo_products(&demo_catalog());
        let mut rng = Rng::new(0xC0DE_0000 + lines as u64);
        let picked = rng.distinct(demo.len(), lines);
        let mut order_lines = Vec::with_capacity(lines);
        let mut products = Vec::with_capacity(lines);
        for (n, &i) in picked.iter().enumerate() {
            let (id, body) = &demo[i];
            let text = |k: &str| body[k].as_str().unwrap_or_default().to_owned();
            let price = body["price_minor"].as_u64().unwrap_or(100);
            let qty = 1 + (n % 3) as u32;
            order_lines.push(OrderLine {
                product_id: id.clone(),
                name: text("name"),
                unit_price_minor: price,
                qty,
                line_total_minor: price * u64::from(qty),
            });
            products.push(Product {
                id: id.clone(),
                name: text("name"),
                description: text("description"),
                category: text("category"),
                price_minor: if n % 4 == 0 { price + 50 } else { price },
                currency: text("currency"),
                stock: body["stock"].as_u64().unwrap_or(0).saturating_sub(1),
                version: 2,
                updated_seq: 3000 + n as u64,
                updated_at: "2026-11-22T09:00:00.000Z".into(),
            });
        }
        let order = Order {
            id: format!("ord-bench-{lines}"),
            customer_id: "bench-customer".into(),
            status: OrderStatus::Confirmed,
            status_reason: None,
            total_minor: order_lines.iter().map(|l| l.line_total_minor).sum(),
            lines: order_lines,
            currency: "EUR".into(),
            created_at: "2026-11-22T08:39:02.976Z".into(),
            updated_at: "2026-11-22T08:39:02.979Z".into(),
        };
        let batch = BatchGetResponse {
            products,
            missing: Vec::new(),
        };
        Self {
            order: serde_json::to_string(&order).expect("order JSON"),
            batch: serde_json::to_string(&batch).expect("batch JSON"),
        }
    }

    /// The guest's standard input: the order on one line, the batch answer on the next.
    pub fn guest_stdin(&self) -> Vec<u8> {
        format!("{}\n{}\n", self.order, self.batch).into_bytes()
    }
}

/// How a customer's page of orders looks its products up before composing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageLookup {
    /// Every product id of the page once (the composer's plan), one batch per 1,000 ids.
    Dedup,
    /// Every mention, repeats included (`plan_products(…, dedupe: false)`): the same calls,
    /// with each id named as often as the page mentions it.
    NoDedup,
    /// One batch per order, as composing each order on its own would; the batches are sent
    /// concurrently, as the composer sends the batches of one hop.
    PerOrder,
}

/// catalog-node and order-node of [`OrderBench`] with `edge-host` serving the composer.
pub struct ComposerBench {
    /// edge-host (killed when dropped; declared first so it goes before the nodes).
    pub host: EdgeHost,
    /// edge-host's base URL, `http://127.0.0.1:PORT`.
    pub host_base: String,
    /// The nodes, their tokens and the shared keep-alive HTTP client.
    pub ob: OrderBench,
    /// A staff token of the test issuer (reads every customer's orders), valid for a day.
    pub staff: String,
    /// The composer's variables (`KEY=VALUE`), for serving it on another host too.
    pub vars: Vec<String>,
}

impl ComposerBench {
    /// Starts the nodes of [`OrderBench::start`], then `edge-host` (release binary) serving
    /// the release `edge_composer.wasm` with the catalog's `reader` token (catalog:read) and
    /// order-node's `shop` token (orders:read and orders:write, as the composer's own caller
    /// has in the end-to-end tests).
    pub async fn start() -> Self {
        let ob = OrderBench::start().await;
        let vars = vec![
            format!("catalog_url={}", ob.fx.base),
            format!("catalog_token={}", ob.fx.reader),
            format!("orders_url={}", ob.base),
            format!("orders_token={}", ob.shop),
            format!("search_url={NO_SEARCH_URL}"),
            "search_token=unused".to_owned(),
        ];
        let vars = [vars, identity::vars()].concat();
        let log = ob.dir.path().join("edge-host.log");
        let host = EdgeHost::start(&composer_wasm(), &vars, &log).await;
        let host_base = host.base().trim_end_matches('/').to_owned();
        assert!(
            host_base.starts_with("http://127.0.0.1:"),
            "edge-host must listen on loopback, got {host_base}"
        );
        Self {
            host,
            host_base,
            ob,
            staff: identity::token_valid_for("bench-staff", true, 24 * 3600),
            vars,
        }
    }

    /// `GET url` (with `token`, if any); panics unless 200; the body as text.
    pub async fn get_text(&self, url: &str, token: Option<&str>) -> String {
        let mut request = self.ob.fx.http.get(url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let res = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        let status = res.status();
        let text = res.text().await.expect("response body");
        assert_eq!(status, 200, "GET {url} answered {status}: {text}");
        text
    }

    /// Places an order of one unit of each of `products` for `customer` at order-node (as
    /// `shop`); panics unless it is confirmed. Returns the order.
    pub async fn place(&self, customer: &str, products: &[String]) -> Order {
        self.ob
            .place(&order_body(customer, products.iter().map(String::as_str)))
            .await
    }

    /// `GET /v1/orders/{id}` at order-node, parsed.
    pub async fn fetch_order(&self, id: &str) -> Order {
        let url = format!("{}/v1/orders/{id}", self.ob.base);
        let text = self.get_text(&url, Some(&self.ob.shop)).await;
        serde_json::from_str(&text).expect("order JSON")
    }

    /// `GET /v1/orders?customer_id=…&limit=…` at order-node, parsed.
    pub async fn fetch_page(&self, customer: &str, limit: usize) -> OrderPage {
        let url = format!(
            "{}/v1/orders?customer_id={customer}&limit={limit}",
            self.ob.base
        );
        let text = self.get_text(&url, Some(&self.ob.shop)).await;
        serde_json::from_str(&text).expect("order page JSON")
    }

    /// `POST /v1/products:batchGet` of `ids` at the catalog (as the composer sends it),
    /// parsed.
    pub async fn fetch_batch(&self, ids: &[String]) -> BatchGetResponse {
        let url = self.ob.fx.url("/v1/products:batchGet");
        let res = self
            .ob
            .fx
            .http
            .post(&url)
            .bearer_auth(&self.ob.fx.reader)
            .json(&json!({ "ids": ids }))
            .send()
            .await
            .expect("batch read");
        let status = res.status();
        let text = res.text().await.expect("batch body");
        assert_eq!(status, 200, "batch read answered {status}: {text}");
        serde_json::from_str(&text).expect("batch JSON")
    }

    /// `GET /v1/products/{id}` at the catalog, parsed; `None` on 404.
    pub async fn fetch_product(&self, id: &str) -> Option<Product> {
        let url = self.ob.fx.url(&format!("/v1/products/{id}"));
        let res = self
            .ob
            .fx
            .http
            .get(&url)
            .bearer_auth(&self.ob.fx.reader)
            .send()
            .await
            .expect("product read");
        let status = res.status();
        let text = res.text().await.expect("product body");
        match status.as_u16() {
            200 => Some(serde_json::from_str(&text).expect("product JSON")),
            404 => None,
            _ => panic!("GET /v1/products/{id} answered {status}: {text}"),
        }
    }

    /// Looks up `ids` as the composer does: de-duplicated, batches of at most 1,000, all
    /// batches of the hop sent concurrently.
    async fn lookup_batched<'a>(&self, ids: impl IntoIterator<Item = &'a str>) -> Lookup {
        self.lookup_planned(ids, true).await
    }

    /// Looks up `ids` planned with or without de-duplication, batches sent concurrently.
    async fn lookup_planned<'a>(
        &self,
        ids: impl IntoIterator<Item = &'a str>,
        dedupe: bool,
    ) -> Lookup {
        let plan = plan_products(ids, MAX_BATCH_IDS, dedupe);
        let answers = join_all(plan.batches.iter().map(|b| self.fetch_batch(b))).await;
        Lookup::from_batches(answers)
    }

    /// The order view through the composer: `GET /v1/order-views/{id}` at edge-host.
    pub async fn view_composer(&self, id: &str) -> String {
        let url = format!("{}/v1/order-views/{id}", self.host_base);
        self.get_text(&url, Some(&self.staff)).await
    }

    /// The composer's `Server-Timing` for the view of order `id` (its hops' durations in ms
    /// and its upstream calls); panics unless 200.
    pub async fn view_composer_timing(&self, id: &str) -> String {
        let url = format!("{}/v1/order-views/{id}", self.host_base);
        let res = self
            .ob
            .fx
            .http
            .get(&url)
            .bearer_auth(&self.staff)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        assert_eq!(res.status(), 200, "GET {url}");
        res.headers()
            .get("server-timing")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    }

    /// The order view composed by the bench itself with the composer's calls: the order, one
    /// batch hop, the native core.
    pub async fn view_batched_native(&self, id: &str) -> String {
        let order = self.fetch_order(id).await;
        let lookup = self
            .lookup_batched(order.lines.iter().map(|l| l.product_id.as_str()))
            .await;
        serde_json::to_string(&order_view(&order, &lookup)).expect("view JSON")
    }

    /// The order view the N+1 way: the order, then one `GET /v1/products/{id}` per line, one
    /// after the other, then the native core.
    pub async fn view_n_plus_1(&self, id: &str) -> String {
        let order = self.fetch_order(id).await;
        let mut lookup = Lookup::default();
        for line in &order.lines {
            let (products, missing) = match self.fetch_product(&line.product_id).await {
                Some(p) => (vec![p], Vec::new()),
                None => (Vec::new(), vec![line.product_id.clone()]),
            };
            lookup.add(BatchGetResponse { products, missing });
        }
        serde_json::to_string(&order_view(&order, &lookup)).expect("view JSON")
    }

    /// A customer's page through the composer: `GET /v1/customers/{c}/order-views?limit=N`.
    pub async fn page_composer(&self, customer: &str, limit: usize) -> String {
        let url = format!(
            "{}/v1/customers/{customer}/order-views?limit={limit}",
            self.host_base
        );
        self.get_text(&url, Some(&self.staff)).await
    }

    /// A customer's page composed by the bench itself: the page from order-node, the product
    /// lookups as `how` says, the native core.
    pub async fn page_native(&self, customer: &str, limit: usize, how: PageLookup) -> String {
        let page = self.fetch_page(customer, limit).await;
        let ids = page
            .orders
            .iter()
            .flat_map(|o| o.lines.iter().map(|l| l.product_id.as_str()));
        let lookup = match how {
            PageLookup::Dedup => self.lookup_planned(ids, true).await,
            PageLookup::NoDedup => self.lookup_planned(ids, false).await,
            PageLookup::PerOrder => {
                let per_order = page.orders.iter().map(|o| {
                    let plan = plan_products(
                        o.lines.iter().map(|l| l.product_id.as_str()),
                        MAX_BATCH_IDS,
                        true,
                    );
                    async move { join_all(plan.batches.iter().map(|b| self.fetch_batch(b))).await }
                });
                Lookup::from_batches(join_all(per_order).await.into_iter().flatten())
            }
        };
        serde_json::to_string(&customer_views(&page, &lookup)).expect("views JSON")
    }

    /// Panics unless the composer, the native batched strategy and the N+1 strategy give the
    /// same bytes for order `id` (nothing changes the catalog while the bench runs).
    pub async fn check_same_views(&self, id: &str) {
        let composer = self.view_composer(id).await;
        let native = self.view_batched_native(id).await;
        let n_plus_1 = self.view_n_plus_1(id).await;
        assert_eq!(composer, native, "composer and native views of {id} differ");
        assert_eq!(native, n_plus_1, "batched and N+1 views of {id} differ");
    }

    /// Panics unless every way of composing the customer's page gives the same bytes.
    pub async fn check_same_pages(&self, customer: &str, limit: usize) {
        let composer = self.page_composer(customer, limit).await;
        for how in [PageLookup::Dedup, PageLookup::NoDedup, PageLookup::PerOrder] {
            let native = self.page_native(customer, limit, how).await;
            assert_eq!(composer, native, "page of {customer} differs with {how:?}");
        }
    }

    /// edge-host's log so far, for failure messages.
    pub fn host_log(&self) -> String {
        self.host.log()
    }

    /// Stops edge-host and both nodes.
    pub async fn stop(mut self) {
        self.host.kill9().await;
        self.ob.node.terminate().await;
        self.ob.fx.node.node.terminate().await;
    }
}
