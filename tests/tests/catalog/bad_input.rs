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

    let mut p = product("X", 1, 1);
    let cases: Vec<(
        reqwest::Method,
        String,
        Option<serde_json::Value>,
        u16,
        &str,
    )> = vec![
        (
            Method::PUT,
            "/v1/products/bad%20id".into(),
            Some(product("X", 1, 1)),
            400,
            "invalid_input",
        ),
        (
            Method::PUT,
            format!("/v1/products/{}", "x".repeat(65)),
            Some(product("X", 1, 1)),
            400,
            "invalid_input",
        ),
        (
            Method::PUT,
            "/v1/products/x".into(),
            Some(json!({"name": "X"})),
            400,
            "invalid_json",
        ),
        (
            Method::PUT,
            "/v1/products/x".into(),
            Some({
                p["price_minor"] = json!(-1);
                p.clone()
            }),
            400,
            "invalid_json",
        ),
        (
            Method::PUT,
            "/v1/products/x".into(),
            Some({
                p["price_minor"] = json!(1.5);
                p.clone()
            }),
            400,
            "invalid_json",
        ),
        (
            Method::PUT,
            "/v1/products/x".into(),
            Some({
                p = product("X", 1, 1);
                p["currency"] = json!("eur");
                p.clone()
            }),
            400,
            "invalid_input",
        ),
        (
            Method::PUT,
            "/v1/products/x".into(),
            Some({
                p = product("X", 1, 1);
                p["name"] = json!("");
                p.clone()
            }),
            400,
            "invalid_input",
        ),
        (
            Method::PUT,
            "/v1/products/x".into(),
            Some({
                p = product("X", 1, 1);
                p["extra"] = json!(1);
                p.clone()
            }),
            400,
            "invalid_json",
        ),
        (
            Method::PUT,
            "/v1/products/x".into(),
            Some({
                p = product("X", 1, 1);
                p["stock"] = json!(1_000_000_001u64);
                p.clone()
            }),
            400,
            "invalid_input",
        ),
        (
            Method::PUT,
            "/v1/products/x".into(),
            Some({
                p = product("X", 1, 1);
                p["price_minor"] = json!(u64::MAX);
                p.clone()
            }),
            400,
            "invalid_input",
        ),
        (
            Method::PATCH,
            "/v1/products/p".into(),
            Some(json!({})),
            400,
            "invalid_input",
        ),
        (
            Method::PATCH,
            "/v1/products/p/stock".into(),
            Some(json!({"delta": "1"})),
            400,
            "invalid_json",
        ),
        (
            Method::POST,
            "/v1/reservations".into(),
            Some(json!({"id": "r", "items": []})),
            400,
            "invalid_input",
        ),
        (
            Method::POST,
            "/v1/reservations".into(),
            Some(json!({"id": "r", "items": [{"product_id": "p", "qty": 0}]})),
            400,
            "invalid_input",
        ),
        (
            Method::POST,
            "/v1/reservations".into(),
            Some(json!({"id": "r", "items": [{"product_id": "p", "qty": 10001}]})),
            400,
            "invalid_input",
        ),
        (
            Method::POST,
            "/v1/reservations".into(),
            Some(
                json!({"id": "r", "items": [{"product_id": "p", "qty": 1}, {"product_id": "p", "qty": 1}]}),
            ),
            400,
            "invalid_input",
        ),
        (
            Method::POST,
            "/v1/reservations".into(),
            Some(json!({"id": "r/1", "items": [{"product_id": "p", "qty": 1}]})),
            400,
            "invalid_input",
        ),
        (
            Method::GET,
            "/v1/products?ids=a,,b".into(),
            None,
            400,
            "invalid_input",
        ),
        (
            Method::GET,
            "/v1/products?ids=a&limit=3".into(),
            None,
            400,
            "invalid_query",
        ),
        (
            Method::GET,
            "/v1/products?limit=0".into(),
            None,
            400,
            "invalid_input",
        ),
        (
            Method::GET,
            "/v1/products?limit=abc".into(),
            None,
            400,
            "invalid_query",
        ),
        (
            Method::GET,
            "/v1/products?surprise=1".into(),
            None,
            400,
            "invalid_query",
        ),
        (
            Method::GET,
            "/v1/events?after=-1".into(),
            None,
            400,
            "invalid_query",
        ),
        (
            Method::GET,
            "/v1/events?wait_ms=999999".into(),
            None,
            400,
            "invalid_input",
        ),
    ];
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
