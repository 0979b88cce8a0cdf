use reqwest::Method;
use serde_json::json;
use system_tests::{CatalogNode, product};

#[tokio::test]
async fn bad_input_gets_a_clear_error_and_writes_nothing() {
    let cat = CatalogNode::start().await;
    let admin = cat.as_role("admin");
    let orders = cat.as_role("order-node");
    admin.put("/v1/products/p", &product("P", 100, 5)).await;
    let head = admin.get("/v1/products?limit=1000").await;
    let head_seq = head.body["head_seq"].as_u64().unwrap();

    // A valid product body with one field replaced.
    let with = |field: &str, value: serde_json::Value| {
        let mut p = product("X", 1, 1);
        p[field] = value;
        Some(p)
    };
    let put = |path: &str| (Method::PUT, path.to_owned());
    let reserve =
        |body: serde_json::Value| (Method::POST, "/v1/reservations".to_owned(), Some(body));
    let item = |product_id: &str, qty: i64| json!({"product_id": product_id, "qty": qty});
    let long_id = format!("/v1/products/{}", "x".repeat(65));
    let mut cases: Vec<(Method, String, Option<serde_json::Value>, u16, &str)> = vec![
        (
            put("/v1/products/bad%20id"),
            with("name", json!("X")),
            400,
            "invalid_input",
        ),
        (
            put(&long_id),
            with("name", json!("X")),
            400,
            "invalid_input",
        ),
        (
            put("/v1/products/x"),
            Some(json!({"name": "X"})),
            400,
            "invalid_json",
        ),
        (
            put("/v1/products/x"),
            with("price_minor", json!(-1)),
            400,
            "invalid_json",
        ),
        (
            put("/v1/products/x"),
            with("price_minor", json!(1.5)),
            400,
            "invalid_json",
        ),
        (
            put("/v1/products/x"),
            with("price_minor", json!(u64::MAX)),
            400,
            "invalid_input",
        ),
        (
            put("/v1/products/x"),
            with("currency", json!("eur")),
            400,
            "invalid_input",
        ),
        (
            put("/v1/products/x"),
            with("name", json!("")),
            400,
            "invalid_input",
        ),
        (
            put("/v1/products/x"),
            with("name", json!("a\u{0}b")),
            400,
            "invalid_input",
        ),
        (
            put("/v1/products/x"),
            with("extra", json!(1)),
            400,
            "invalid_json",
        ),
        (
            put("/v1/products/x"),
            with("stock", json!(1_000_000_001u64)),
            400,
            "invalid_input",
        ),
    ]
    .into_iter()
    .map(|((m, p), b, s, c)| (m, p, b, s, c))
    .collect();
    for (body, code) in [
        (json!({"id": "r", "items": []}), "invalid_input"),
        (json!({"id": "r", "items": [item("p", 0)]}), "invalid_input"),
        (
            json!({"id": "r", "items": [item("p", 10001)]}),
            "invalid_input",
        ),
        (json!({"id": "r", "items": [item("p", -1)]}), "invalid_json"),
        (
            json!({"id": "r", "items": [item("p", 1), item("p", 1)]}),
            "invalid_input",
        ),
        (
            json!({"id": "r/1", "items": [item("p", 1)]}),
            "invalid_input",
        ),
        (json!({"items": [item("p", 1)]}), "invalid_json"),
    ] {
        let (m, p, b) = reserve(body);
        cases.push((m, p, b, 400, code));
    }
    for (method, path, body, code) in [
        (
            Method::PATCH,
            "/v1/products/p",
            Some(json!({})),
            "invalid_input",
        ),
        (
            Method::PATCH,
            "/v1/products/p/stock",
            Some(json!({"delta": "1"})),
            "invalid_json",
        ),
        (Method::GET, "/v1/products?ids=a,,b", None, "invalid_input"),
        (
            Method::GET,
            "/v1/products?ids=a&limit=3",
            None,
            "invalid_query",
        ),
        (Method::GET, "/v1/products?limit=0", None, "invalid_input"),
        (Method::GET, "/v1/products?limit=abc", None, "invalid_query"),
        (
            Method::GET,
            "/v1/products?surprise=1",
            None,
            "invalid_query",
        ),
        (Method::GET, "/v1/events?after=-1", None, "invalid_query"),
        (
            Method::GET,
            "/v1/events?wait_ms=999999",
            None,
            "invalid_input",
        ),
    ] {
        cases.push((method, path.to_owned(), body, 400, code));
    }
    for (method, path, body, status, code) in cases {
        let client = if path.starts_with("/v1/reservations") {
            &orders
        } else if path.starts_with("/v1/events") {
            &cat.as_role("search-node")
        } else {
            &admin
        };
        let headers = [("if-match", "*")];
        let reply = client
            .send(method.clone(), &path, body.as_ref(), &headers)
            .await;
        assert_eq!(
            reply.status.as_u16(),
            status,
            "{method} {path} {body:?}: {}",
            reply.text
        );
        assert_eq!(reply.code(), code, "{method} {path}: {}", reply.text);
        assert!(!reply.body["error"]["message"].as_str().unwrap().is_empty());
    }

    let not_json = admin
        .send_raw(
            Method::PUT,
            "/v1/products/x",
            "application/json",
            b"{not json".to_vec(),
        )
        .await;
    assert_eq!(
        (not_json.status.as_u16(), not_json.code()),
        (400, "invalid_json")
    );
    let not_utf8 = admin
        .send_raw(
            Method::PUT,
            "/v1/products/x",
            "application/json",
            vec![0xff, 0xfe, 0x00],
        )
        .await;
    assert_eq!(not_utf8.status, 400);
    let wrong_type = admin
        .send_raw(Method::PUT, "/v1/products/x", "text/plain", b"{}".to_vec())
        .await;
    assert_eq!(
        (wrong_type.status.as_u16(), wrong_type.code()),
        (415, "unsupported_media_type")
    );
    let mut huge = product("X", 1, 1);
    huge["description"] = json!("y".repeat(300 * 1024));
    let too_large = admin.put("/v1/products/x", &huge).await;
    assert_eq!(
        (too_large.status.as_u16(), too_large.code()),
        (413, "payload_too_large")
    );
    let bad_if_match = admin
        .send(
            Method::PATCH,
            "/v1/products/p",
            Some(&json!({"stock": 1})),
            &[("if-match", "W/\"1\"")],
        )
        .await;
    assert_eq!(bad_if_match.status, 400);
    assert_eq!(
        admin.get("/v1/nothing-here").await.code(),
        "route_not_found"
    );
    assert_eq!(
        admin
            .send(Method::POST, "/v1/products/p", None, &[])
            .await
            .status,
        405
    );

    // Nothing was written: same products, same feed head, node still healthy.
    let after = admin.get("/v1/products?limit=1000").await;
    assert_eq!(after.body["products"], head.body["products"]);
    assert_eq!(after.body["head_seq"].as_u64().unwrap(), head_seq);
    assert_eq!(admin.get("/v1/products/x").await.status, 404);
    assert_eq!(orders.get("/v1/reservations/r").await.status, 404);
    assert_eq!(cat.anonymous().get("/healthz").await.status, 200);
}
