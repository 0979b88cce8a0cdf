//! The baseline end to end: a throwaway PostgreSQL, the service in process on a loopback
//! port, and real HTTP requests.

// A test's helpers: a failure anywhere should stop the test where it happened.
#![allow(clippy::unwrap_used)]

use contracts::catalog::Product;
use contracts::composer::OrderView;
use contracts::orders::{Order, OrderStatus};
use contracts::{Code, ErrorBody, ShortItem};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use shared_db::postgres::Throwaway;
use shared_db::{Store, schema};

const CATALOGUE: &str = concat!(
    r#"{"id":"a","name":"Skillet","category":"kitchen","price_minor":100,"currency":"EUR","stock":5}"#,
    "\n",
    r#"{"id":"b","name":"Kettle","description":"Loud.","category":"kitchen","price_minor":250,"currency":"EUR","stock":1}"#,
    "\n",
    r#"{"id":"c","name":"Spoon","category":"kitchen","price_minor":5,"currency":"EUR","stock":5}"#,
    "\n",
);

#[derive(Clone)]
struct Service {
    base: String,
    http: reqwest::Client,
}

impl Service {
    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        (response.status(), response.json().await.unwrap())
    }

    async fn place(&self, body: Value) -> (StatusCode, Option<String>, Value) {
        let response = self
            .http
            .post(format!("{}/v1/orders", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        let location = response
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned());
        (response.status(), location, response.json().await.unwrap())
    }

    async fn product(&self, id: &str) -> Product {
        let (status, body) = self.get(&format!("/v1/products/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        exactly(body)
    }
}

/// `body` as a `T`, checking that it has exactly the fields of `T`: no more, no fewer.
fn exactly<T: DeserializeOwned + serde::Serialize>(body: Value) -> T {
    let typed: T = serde_json::from_value(body.clone()).unwrap();
    assert_eq!(serde_json::to_value(&typed).unwrap(), body);
    typed
}

fn error(body: Value) -> ErrorBody {
    exactly(body)
}

fn order(customer: &str, items: &[(&str, u32)]) -> Value {
    let items: Vec<Value> = items
        .iter()
        .map(|(id, qty)| json!({"product_id": id, "qty": qty}))
        .collect();
    json!({"customer_id": customer, "items": items})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL (initdb); scripts/test runs it where it is installed"]
async fn the_baseline_serves_the_nodes_answers_from_one_database() {
    let pg = Throwaway::start()
        .await
        .unwrap_or_else(|e| panic!("this test needs PostgreSQL and could not start it: {e}"));
    let store = Store::open(&pg.url(), 8).unwrap();
    schema::create(&store).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("catalogue.jsonl");
    std::fs::write(&file, CATALOGUE).unwrap();
    assert_eq!(schema::load(&store, &file).await.unwrap(), 3);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = shared_db::router(store.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let svc = Service {
        base,
        http: reqwest::Client::new(),
    };

    // Reads.
    assert_eq!(svc.get("/healthz").await.0, StatusCode::OK);
    let a = svc.product("a").await;
    assert_eq!(
        (a.name.as_str(), a.price_minor, a.stock, a.version),
        ("Skillet", 100, 5, 1)
    );
    assert!(a.updated_at.ends_with('Z'), "{}", a.updated_at);
    assert_eq!(svc.product("b").await.description, "Loud.");
    let (status, body) = svc.get("/v1/products/ghost").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error(body).error.code, Code::ProductNotFound);
    let (status, body) = svc.get("/v1/products/not%20an%20id").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error(body).error.code, Code::InvalidInput);

    // Placement: the repeated product is merged, the stock taken, the answer confirmed.
    let (status, location, body) = svc
        .place(order("alice", &[("a", 2), ("b", 1), ("a", 1)]))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let placed: Order = exactly(body);
    assert_eq!(
        location.as_deref(),
        Some(format!("/v1/orders/{}", placed.id).as_str())
    );
    assert!(placed.id.starts_with("ord-"), "{}", placed.id);
    assert_eq!(placed.status, OrderStatus::Confirmed);
    assert_eq!((placed.total_minor, placed.currency.as_str()), (550, "EUR"));
    assert_eq!(placed.created_at, placed.updated_at);
    let lines: Vec<(&str, &str, u64, u32, u64)> = placed
        .lines
        .iter()
        .map(|l| {
            (
                l.product_id.as_str(),
                l.name.as_str(),
                l.unit_price_minor,
                l.qty,
                l.line_total_minor,
            )
        })
        .collect();
    assert_eq!(
        lines,
        [("a", "Skillet", 100, 3, 300), ("b", "Kettle", 250, 1, 250)]
    );
    let a = svc.product("a").await;
    assert_eq!((a.stock, a.version), (2, 2));
    assert_eq!(svc.product("b").await.stock, 0);

    // Refusals change nothing.
    let before = (svc.product("a").await, svc.product("b").await);
    let (status, _, body) = svc.place(order("bob", &[("a", 3), ("b", 1)])).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let refused = error(body).error;
    assert_eq!(refused.code, Code::InsufficientStock);
    assert_eq!(
        refused.short_items,
        [
            ShortItem {
                product_id: "a".into(),
                requested: 3,
                available: 2
            },
            ShortItem {
                product_id: "b".into(),
                requested: 1,
                available: 0
            },
        ]
    );
    let (status, _, body) = svc.place(order("bob", &[("a", 1), ("ghost", 1)])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let unknown = error(body).error;
    assert_eq!(
        (unknown.code, unknown.missing_ids),
        (Code::UnknownProducts, vec!["ghost".to_owned()])
    );
    let (status, _, body) = svc.place(json!({"customer_id": "bob", "items": []})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error(body).error.field.as_deref(), Some("items"));
    assert_eq!((svc.product("a").await, svc.product("b").await), before);
    let client = store.client().await.unwrap();
    let orders: i64 = client
        .query_one("SELECT count(*) FROM orders", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(orders, 1, "a refused placement stored an order");

    // The view: order-time data, live product data, and null for a product gone since.
    client
        .batch_execute("UPDATE products SET price_minor = 120 WHERE id = 'a'; DELETE FROM products WHERE id = 'b'")
        .await
        .unwrap();
    let (status, body) = svc.get(&format!("/v1/order-views/{}", placed.id)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let view: OrderView = exactly(body);
    assert_eq!(
        (view.order_id.as_str(), view.customer_id.as_str()),
        (placed.id.as_str(), "alice")
    );
    assert_eq!(
        (view.status, view.total_minor, view.created_at.as_str()),
        (OrderStatus::Confirmed, 550, placed.created_at.as_str())
    );
    assert_eq!(view.lines.len(), 2);
    assert_eq!(
        (
            view.lines[0].unit_price_minor,
            view.lines[0].line_total_minor
        ),
        (100, 300)
    );
    let live = view.lines[0].product.as_ref().unwrap();
    assert_eq!(
        (live.price_minor, live.stock, live.available),
        (120, 2, true)
    );
    assert_eq!(view.lines[1].name, "Kettle");
    assert!(view.lines[1].product.is_none(), "a deleted product is null");
    assert!(!view.degraded && view.errors.is_empty());

    // Concurrent placements for the last units: the row locks let exactly the stock through.
    let mut racers = tokio::task::JoinSet::new();
    for i in 0..10 {
        let body = order(&format!("racer{i}"), &[("c", 1)]);
        let svc = svc.clone();
        racers.spawn(async move { svc.place(body).await.0 });
    }
    let statuses = racers.join_all().await;
    let created = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    let conflicts = statuses
        .iter()
        .filter(|s| **s == StatusCode::CONFLICT)
        .count();
    assert_eq!((created, conflicts), (5, 5), "{statuses:?}");
    assert_eq!(svc.product("c").await.stock, 0);

    // Not found.
    let (status, body) = svc.get("/v1/order-views/ord-missing").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error(body).error.code, Code::OrderNotFound);
    let (status, body) = svc.get("/v1/nowhere").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error(body).error.code, Code::RouteNotFound);
}
