use reqwest::Method;
use serde_json::{Value, json};
use system_tests::OrderSystem;
use system_tests::orders::{items, order_body, reservations_route};

use crate::stocks;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_orders_get_400_and_store_nothing() {
    let sys = OrderSystem::start().await;
    sys.seed(&[("a", "A", 100, 20_000), ("b", "B", 100, 10)])
        .await;
    sys.proxy.reset_counts();
    let shop = sys.orders();

    let with = |field: &str, value: Value| {
        let mut body = order_body("zoe", &[("a", 1)]);
        body[field] = value;
        body
    };
    let item =
        |qty: Value| json!({"customer_id": "zoe", "items": [{"product_id": "a", "qty": qty}]});
    let too_many: Vec<(String, u32)> = (0..1001).map(|i| (format!("p{i}"), 1)).collect();
    let too_many: Vec<(&str, u32)> = too_many.iter().map(|(p, q)| (p.as_str(), *q)).collect();
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "missing items",
            json!({"customer_id": "zoe"}),
            "invalid_json",
        ),
        (
            "missing customer",
            json!({"items": items(&[("a", 1)])}),
            "invalid_json",
        ),
        ("unknown field", with("note", json!("hi")), "invalid_json"),
        (
            "items not a list",
            with("items", json!({"a": 1})),
            "invalid_json",
        ),
        (
            "customer not a string",
            with("customer_id", json!(7)),
            "invalid_json",
        ),
        ("negative qty", item(json!(-1)), "invalid_json"),
        ("fractional qty", item(json!(1.5)), "invalid_json"),
        ("qty as text", item(json!("1")), "invalid_json"),
        (
            "unknown item field",
            json!({"customer_id": "zoe", "items": [{"product_id": "a", "qty": 1, "price": 1}]}),
            "invalid_json",
        ),
        ("zero qty", item(json!(0)), "invalid_input"),
        ("qty over the limit", item(json!(10_001)), "invalid_input"),
        (
            "merged qty over the limit",
            order_body("zoe", &[("a", 10_000), ("a", 1)]),
            "invalid_input",
        ),
        ("no items", with("items", json!([])), "invalid_input"),
        (
            "empty customer",
            with("customer_id", json!("")),
            "invalid_input",
        ),
        (
            "customer with a space",
            with("customer_id", json!("bad id")),
            "invalid_input",
        ),
        (
            "customer too long",
            with("customer_id", json!("c".repeat(65))),
            "invalid_input",
        ),
        (
            "bad product id",
            order_body("zoe", &[("a/b", 1)]),
            "invalid_input",
        ),
        (
            "empty product id",
            order_body("zoe", &[("", 1)]),
            "invalid_input",
        ),
        (
            "too many products",
            order_body("zoe", &too_many),
            "invalid_input",
        ),
    ];
    for (label, body, code) in cases {
        let reply = shop.post("/v1/orders", &body).await;
        assert_eq!(
            (reply.status.as_u16(), reply.code()),
            (400, code),
            "{label}: {}",
            reply.text
        );
    }
    for raw in [
        &b"not json"[..],
        b"",
        b"{\"customer_id\": \"zoe\", \"items\": [",
    ] {
        let reply = shop
            .send_raw(Method::POST, "/v1/orders", "application/json", raw.to_vec())
            .await;
        assert_eq!(
            (reply.status.as_u16(), reply.code()),
            (400, "invalid_json"),
            "{:?}: {}",
            String::from_utf8_lossy(raw),
            reply.text
        );
    }
    for key in ["has space", &"k".repeat(129)] {
        let reply = shop
            .send(
                Method::POST,
                "/v1/orders",
                Some(&order_body("zoe", &[("a", 1)])),
                &[("idempotency-key", key)],
            )
            .await;
        assert_eq!(reply.status, 400, "key {key:?}: {}", reply.text);
    }

    assert_eq!(sys.proxy.count_matching(&reservations_route()), 0);
    assert!(sys.customer_orders("zoe", 20).await.is_empty());
    sys.assert_invariant(&stocks(&[("a", 20_000), ("b", 10)]), &["zoe"])
        .await;
    // The largest valid quantity is fine.
    sys.place_confirmed("zoe", &[("a", 10_000)]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_queries_get_400() {
    let sys = OrderSystem::start().await;
    let shop = sys.orders();
    let too_many_ids: Vec<String> = (0..1001).map(|i| format!("o{i}")).collect();
    let too_many = format!("/v1/orders?ids={}", too_many_ids.join(","));
    let cases = [
        "/v1/orders",
        "/v1/orders?customer_id=c1&limit=0",
        "/v1/orders?customer_id=c1&limit=201",
        "/v1/orders?customer_id=c1&limit=ten",
        "/v1/orders?customer_id=c1&limit=-1",
        too_many.as_str(),
    ];
    for path in cases {
        let reply = shop.get(path).await;
        assert_eq!(reply.status, 400, "{path}: {}", reply.text);
        assert!(!reply.code().is_empty(), "{path}: {}", reply.text);
    }
    // The edges of the limit are fine.
    for limit in [1, 200] {
        let reply = shop
            .get(&format!("/v1/orders?customer_id=c1&limit={limit}"))
            .await;
        assert_eq!(reply.status, 200, "limit {limit}: {}", reply.text);
    }
}
