use reqwest::Method;
use serde_json::{Value, json};
use system_tests::{CatalogNode, product};

/// Every /v1 route with a body that would succeed, and a role that lacks its scope.
fn routes() -> Vec<(Method, &'static str, Option<Value>, &'static str)> {
    let reservation = json!({"id": "r-1", "items": [{"product_id": "p", "qty": 1}]});
    vec![
        (
            Method::PUT,
            "/v1/products/new",
            Some(product("New", 1, 1)),
            "order-node",
        ),
        (
            Method::PATCH,
            "/v1/products/p",
            Some(json!({"stock": 9})),
            "order-node",
        ),
        (Method::DELETE, "/v1/products/p", None, "order-node"),
        (
            Method::PATCH,
            "/v1/products/p/stock",
            Some(json!({"delta": 1})),
            "search-node",
        ),
        (Method::POST, "/v1/reservations", Some(reservation), "admin"),
        (Method::DELETE, "/v1/reservations/r-0", None, "admin"),
        (Method::GET, "/v1/reservations/r-0", None, "search-node"),
        (Method::GET, "/v1/products?ids=p", None, "orders-client"),
        (
            Method::POST,
            "/v1/products:batchGet",
            Some(json!({"ids": ["p"]})),
            "orders-client",
        ),
        (Method::GET, "/v1/products/p", None, "orders-client"),
        (Method::GET, "/v1/products", None, "orders-client"),
        (Method::GET, "/v1/events?after=0", None, "order-node"),
    ]
}

#[tokio::test]
async fn every_route_needs_a_valid_token_with_its_scope() {
    let cat = CatalogNode::start().await;
    let admin = cat.as_role("admin");
    admin.put("/v1/products/p", &product("P", 100, 5)).await;
    let reserve = json!({"id": "r-0", "items": [{"product_id": "p", "qty": 1}]});
    assert_eq!(
        cat.as_role("order-node")
            .post("/v1/reservations", &reserve)
            .await
            .status,
        201
    );
    let before = admin.get("/v1/products?limit=1000").await.body;

    let anonymous = cat.anonymous();
    let unknown = cat.node.client(Some("not-a-known-token-at-all".into()));
    let other_service = cat.as_role("orders-client");
    for (method, path, body, wrong_role) in routes() {
        let callers = [
            (&anonymous, 401, "unauthorized", "no token"),
            (&unknown, 401, "unauthorized", "an unknown token"),
            (
                &cat.as_role(wrong_role),
                403,
                "forbidden",
                "a token without the scope",
            ),
            (&other_service, 403, "forbidden", "another service's token"),
        ];
        for (client, status, code, label) in callers {
            let reply = client
                .send(method.clone(), path, body.as_ref(), &[("if-match", "*")])
                .await;
            assert_eq!(
                reply.status, status,
                "{method} {path} with {label}: {}",
                reply.text
            );
            assert_eq!(reply.code(), code, "{method} {path} with {label}");
            if status == 401 {
                assert_eq!(reply.header("www-authenticate").as_deref(), Some("Bearer"));
            }
        }
    }
    // Nothing was written by any refused request.
    assert_eq!(admin.get("/v1/products?limit=1000").await.body, before);
    assert_eq!(
        cat.as_role("order-node")
            .get("/v1/reservations/r-1")
            .await
            .status,
        404
    );

    for open in ["/healthz", "/readyz", "/metrics"] {
        assert_eq!(anonymous.get(open).await.status, 200, "{open}");
    }
}

#[tokio::test]
async fn the_right_scope_is_enough() {
    let cat = CatalogNode::start().await;
    let admin = cat.as_role("admin");
    admin.put("/v1/products/p", &product("P", 100, 5)).await;
    assert_eq!(
        cat.as_role("reader").get("/v1/products/p").await.status,
        200
    );
    assert_eq!(
        cat.as_role("search-node")
            .get("/v1/events?after=0")
            .await
            .status,
        200
    );
    let reserve = json!({"id": "r", "items": [{"product_id": "p", "qty": 1}]});
    assert_eq!(
        cat.as_role("order-node")
            .post("/v1/reservations", &reserve)
            .await
            .status,
        201
    );
}
