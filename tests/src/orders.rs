//! `OrderSystem`: a real catalog-node, a [`FaultProxy`] in front of it, and a real order-node
//! that talks to the catalog only through the proxy.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::http::Reply;
use crate::proxy::{FaultProxy, Mode, Route};
use crate::{Callers, CatalogNode, Client, Node, NodeSpec, binary};

/// The roles of order-node's callers file in tests.
pub const ORDER_ROLES: &[(&str, &[&str])] = &[
    ("shop", &["orders:read", "orders:write"]),
    ("viewer", &["orders:read"]),
    ("clerk", &["orders:write"]),
    ("other-service", &["catalog:read", "catalog:reserve"]),
    ("operator", &["orders:admin"]),
];

/// Base backoff of order-node's saga recovery loop in tests, in milliseconds.
pub const SAGA_RETRY_MS: u64 = 200;

/// How long a test waits for a pending order to settle on its own.
pub const SETTLE_WITHIN: Duration = Duration::from_secs(20);

/// The catalog's reservation route, as the proxy sees it.
pub fn reservations_route() -> Route {
    Route::new("POST", "/v1/reservations")
}

/// The catalog's release route (`DELETE /v1/reservations/{id}`).
pub fn release_route() -> Route {
    Route::prefix("DELETE", "/v1/reservations/")
}

/// The catalog's batch read route.
pub fn batch_get_route() -> Route {
    Route::new("POST", "/v1/products:batchGet")
}

/// `[{product_id, qty}]` from pairs.
pub fn items(list: &[(&str, u32)]) -> Value {
    json!(
        list.iter()
            .map(|(p, q)| json!({"product_id": p, "qty": q}))
            .collect::<Vec<_>>()
    )
}

/// A `POST /v1/orders` body.
pub fn order_body(customer: &str, list: &[(&str, u32)]) -> Value {
    json!({"customer_id": customer, "items": items(list)})
}

/// A catalog product body with an explicit currency.
pub fn product_in(name: &str, price_minor: u64, stock: u64, currency: &str) -> Value {
    let mut p = crate::product(name, price_minor, stock);
    p["currency"] = json!(currency);
    p
}

/// The whole system under test; every process is killed when dropped.
pub struct OrderSystem {
    /// order-node.
    pub node: Node,
    /// The proxy between order-node and the catalog.
    pub proxy: FaultProxy,
    /// catalog-node, with its callers (`admin`, `order-node`, ...).
    pub catalog: CatalogNode,
    /// order-node's callers (see [`ORDER_ROLES`]).
    pub callers: Callers,
    /// Keeps order-node's callers file, data and log alive.
    pub dir: tempfile::TempDir,
}

impl OrderSystem {
    /// Starts catalog-node, the proxy and order-node.
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// Starts the system, passing `extra` flags to order-node.
    pub async fn start_with(extra: &[&str]) -> Self {
        let catalog = CatalogNode::start().await;
        let proxy = FaultProxy::start(catalog.node.base()).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let callers = Callers::write(dir.path(), ORDER_ROLES);
        let spec = Self::order_spec(&catalog, &proxy, &callers, dir.path(), extra);
        let node = Node::start(spec).await;
        Self {
            node,
            proxy,
            catalog,
            callers,
            dir,
        }
    }

    /// The spec order-node is started with: callers, catalog URL (the proxy), catalog token
    /// (the catalog's `order-node` role) and a short saga backoff.
    pub fn order_spec(
        catalog: &CatalogNode,
        proxy: &FaultProxy,
        callers: &Callers,
        dir: &std::path::Path,
        extra: &[&str],
    ) -> NodeSpec {
        let callers_path = callers.path.to_string_lossy().into_owned();
        let catalog_url = proxy.base();
        let token = catalog.callers.token("order-node");
        let retry = SAGA_RETRY_MS.to_string();
        let mut args = vec![
            "--callers",
            callers_path.as_str(),
            "--catalog-url",
            catalog_url.as_str(),
            "--saga-retry-ms",
            retry.as_str(),
        ];
        args.extend_from_slice(extra);
        NodeSpec::new(
            binary("order-node"),
            &dir.join("orders-data"),
            &dir.join("orders.log"),
            &args,
        )
        .with_catalog_token(token.as_str())
    }

    /// An order-node client acting as role `name` of [`ORDER_ROLES`].
    pub fn as_role(&self, name: &str) -> Client {
        self.node.client(Some(self.callers.token(name)))
    }

    /// An order-node client as `shop` (orders:read + orders:write).
    pub fn orders(&self) -> Client {
        self.as_role("shop")
    }

    /// An order-node client with no token.
    pub fn anonymous(&self) -> Client {
        self.node.client(None)
    }

    /// A client straight to the catalog (not through the proxy) as catalog role `name`.
    pub fn catalog_as(&self, name: &str) -> Client {
        self.catalog.as_role(name)
    }

    /// A client straight to the catalog as its `admin`.
    pub fn catalog_admin(&self) -> Client {
        self.catalog.as_role("admin")
    }

    /// Creates products `(id, name, price_minor, stock)` in EUR.
    pub async fn seed(&self, products: &[(&str, &str, u64, u64)]) {
        let admin = self.catalog_admin();
        for (id, name, price, stock) in products {
            let r = admin
                .put(
                    &format!("/v1/products/{id}"),
                    &crate::product(name, *price, *stock),
                )
                .await;
            assert!(r.status.is_success(), "seeding {id}: {}", r.text);
        }
    }

    /// Creates or replaces one product with the given body.
    pub async fn put_product(&self, id: &str, body: &Value) {
        let r = self
            .catalog_admin()
            .put(&format!("/v1/products/{id}"), body)
            .await;
        assert!(r.status.is_success(), "putting {id}: {}", r.text);
    }

    /// The catalog's stock of product `id`, read straight from the catalog.
    pub async fn stock(&self, id: &str) -> u64 {
        let r = self
            .catalog_admin()
            .get(&format!("/v1/products/{id}"))
            .await;
        r.body["stock"]
            .as_u64()
            .unwrap_or_else(|| panic!("no stock for {id}: {}", r.text))
    }

    /// The stock of each of `ids`.
    pub async fn stocks(&self, ids: &[&str]) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for id in ids {
            out.insert((*id).to_owned(), self.stock(id).await);
        }
        out
    }

    /// The catalog's reservation `id` (straight from the catalog).
    pub async fn reservation(&self, id: &str) -> Reply {
        self.catalog_as("order-node")
            .get(&format!("/v1/reservations/{id}"))
            .await
    }

    /// `POST /v1/orders` as `shop`.
    pub async fn place(&self, customer: &str, list: &[(&str, u32)]) -> Reply {
        self.orders()
            .post("/v1/orders", &order_body(customer, list))
            .await
    }

    /// `POST /v1/orders` as `shop` with an `Idempotency-Key`.
    pub async fn place_with_key(&self, customer: &str, list: &[(&str, u32)], key: &str) -> Reply {
        self.orders()
            .send(
                Method::POST,
                "/v1/orders",
                Some(&order_body(customer, list)),
                &[("idempotency-key", key)],
            )
            .await
    }

    /// Places an order that must be confirmed; returns it.
    pub async fn place_confirmed(&self, customer: &str, list: &[(&str, u32)]) -> Value {
        let r = self.place(customer, list).await;
        assert_eq!(r.status, 201, "placing {list:?}: {}", r.text);
        assert_eq!(r.body["status"], "confirmed", "{}", r.text);
        r.body
    }

    /// `GET /v1/orders/{id}` as `shop`.
    pub async fn order(&self, id: &str) -> Reply {
        self.orders().get(&format!("/v1/orders/{id}")).await
    }

    /// `POST /v1/orders/{id}/cancel` as `shop`, with no body.
    pub async fn cancel(&self, id: &str) -> Reply {
        self.orders()
            .send(Method::POST, &format!("/v1/orders/{id}/cancel"), None, &[])
            .await
    }

    /// Polls `GET /v1/orders/{id}` until its status is `status`; panics after `within` with
    /// the last answer.
    pub async fn wait_status(&self, id: &str, status: &str, within: Duration) -> Value {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let r = self
                .try_send(Method::GET, &format!("/v1/orders/{id}"), None)
                .await;
            if let Ok(r) = &r
                && r.status == 200
                && r.body["status"] == status
            {
                return r.body.clone();
            }
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "order {id} not {status} within {within:?}; last answer: {r:?}\n\
                     order-node log:\n{}",
                    tail(&self.node.log(), 4000)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Every order of `customer`, walking the cursor with pages of `limit` (newest first).
    pub async fn customer_orders(&self, customer: &str, limit: usize) -> Vec<Value> {
        let client = self.orders();
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..10_000 {
            let path = match &cursor {
                Some(c) => format!("/v1/orders?customer_id={customer}&limit={limit}&cursor={c}"),
                None => format!("/v1/orders?customer_id={customer}&limit={limit}"),
            };
            let page = client.get(&path).await;
            assert_eq!(page.status, 200, "{path}: {}", page.text);
            out.extend(
                page.body["orders"]
                    .as_array()
                    .unwrap_or_else(|| panic!("no orders in {}", page.text))
                    .iter()
                    .cloned(),
            );
            match page.body["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => return out,
            }
        }
        panic!("the cursor walk of {customer} did not end");
    }

    /// Checks, once every saga is over, that nothing was lost or held twice:
    /// for each product in `initial`, initial stock = current stock + units held by the
    /// confirmed orders of `customers`; no order of theirs is still `pending` or `cancelling`;
    /// each confirmed order's reservation is held at the catalog with the order's quantities,
    /// and no other order's is.
    pub async fn assert_invariant(&self, initial: &BTreeMap<String, u64>, customers: &[&str]) {
        let mut held: BTreeMap<String, u64> = BTreeMap::new();
        for customer in customers {
            for order in self.customer_orders(customer, 200).await {
                let id = order["id"].as_str().expect("order id").to_owned();
                let status = order["status"].as_str().unwrap_or("");
                assert!(
                    status == "confirmed" || status == "rejected" || status == "cancelled",
                    "order {id} is still {status}: {order}"
                );
                let reservation = self.reservation(&id).await;
                if status == "confirmed" {
                    assert_eq!(
                        reservation.body["status"], "held",
                        "confirmed order {id} holds nothing at the catalog: {}",
                        reservation.text
                    );
                    let mut wanted: Vec<(String, u64)> = Vec::new();
                    for line in order["lines"].as_array().expect("lines") {
                        let product = line["product_id"].as_str().expect("product").to_owned();
                        let qty = line["qty"].as_u64().expect("qty");
                        *held.entry(product.clone()).or_default() += qty;
                        wanted.push((product, qty));
                    }
                    let mut got: Vec<(String, u64)> = reservation.body["items"]
                        .as_array()
                        .expect("reservation items")
                        .iter()
                        .map(|i| {
                            (
                                i["product_id"].as_str().unwrap_or("").to_owned(),
                                i["qty"].as_u64().unwrap_or(0),
                            )
                        })
                        .collect();
                    wanted.sort();
                    got.sort();
                    assert_eq!(got, wanted, "reservation of {id} differs from its lines");
                } else {
                    assert_ne!(
                        reservation.body["status"], "held",
                        "{status} order {id} still holds stock: {}",
                        reservation.text
                    );
                }
            }
        }
        for (product, before) in initial {
            let now = self.stock(product).await;
            let by_orders = held.get(product).copied().unwrap_or(0);
            assert_eq!(
                *before,
                now + by_orders,
                "{product}: initial {before} != current {now} + held by confirmed orders \
                 {by_orders}"
            );
        }
    }

    /// Kills order-node with SIGKILL.
    pub async fn kill_orders(&mut self) {
        self.node.kill9().await;
    }

    /// Kills order-node with SIGKILL (if running) and starts it again on the same port and
    /// data directory.
    pub async fn restart_orders(&mut self) {
        self.node.restart().await;
    }

    /// Switches the proxy's mode.
    pub fn set_mode(&self, mode: Mode) {
        self.proxy.set_mode(mode);
    }

    /// Sends a request to order-node as role `role` (`None`: no token) in the background;
    /// the task answers `Err` if the connection fails (e.g. order-node was killed meanwhile).
    pub fn spawn_request(
        &self,
        role: Option<&str>,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> tokio::task::JoinHandle<Result<Reply, String>> {
        let base = self.node.base().to_owned();
        let token = role.map(|r| self.callers.token(r));
        let path = path.to_owned();
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        tokio::spawn(async move {
            try_send(
                &base,
                token.as_deref(),
                method,
                &path,
                body.as_ref(),
                &headers,
            )
            .await
        })
    }

    /// Sends a request to order-node as `shop`; a failed connection is an `Err`.
    pub async fn try_send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Reply, String> {
        let token = self.callers.token("shop");
        try_send(self.node.base(), Some(&token), method, path, body, &[]).await
    }
}

/// Like [`Client::send`], but a failed connection is an `Err`, not a panic.
pub async fn try_send(
    base: &str,
    token: Option<&str>,
    method: Method,
    path: &str,
    body: Option<&Value>,
    headers: &[(String, String)],
) -> Result<Reply, String> {
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| e.to_string())?;
    let mut req = http.request(method, format!("{base}{path}"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let res = req.send().await.map_err(|e| e.to_string())?;
    let status = res.status();
    let headers = res.headers().clone();
    let text = res.text().await.map_err(|e| e.to_string())?;
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Ok(Reply {
        status,
        headers,
        body,
        text,
    })
}

/// The last `n` bytes of `text` (on a char boundary).
fn tail(text: &str, n: usize) -> &str {
    let mut start = text.len().saturating_sub(n);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}
