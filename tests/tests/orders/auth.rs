use reqwest::Method;
use serde_json::{Value, json};
use system_tests::orders::order_body;
use system_tests::{Client, OrderSystem};

use crate::{id_of, stocks};

/// Every /v1 route with a request that would succeed, and a role of order-node's callers
/// that lacks its scope.
fn routes(id: &str) -> Vec<(Method, String, Option<Value>, &'static str)> {
    vec![
        (
            Method::POST,
            "/v1/orders".into(),
            Some(order_body("mallory", &[("a", 1)])),
            "viewer",
        ),
        (
            Method::POST,
            format!("/v1/orders/{id}/cancel"),
            None,
            "viewer",
        ),
        (Method::GET, format!("/v1/orders/{id}"), None, "clerk"),
        (
            Method::GET,
            "/v1/orders?customer_id=tina".into(),
            None,
            "clerk",
        ),
        (Method::GET, format!("/v1/orders?ids={id}"), None, "clerk"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_needs_a_valid_token_with_its_scope() {
    let sys = OrderSystem::start().await;
    sys.seed(&[("a", "A", 100, 10)]).await;
    let order = sys.place_confirmed("tina", &[("a", 2)]).await;
    let id = id_of(&order);
    sys.proxy.reset_counts();

    let anonymous = sys.anonymous();
    let unknown = sys.node.client(Some("not-a-known-token-at-all".into()));
    // Tokens of the catalog's callers file mean nothing to order-node.
    let catalog_token = sys
        .node
        .client(Some(sys.catalog.callers.token("order-node")));
    let catalog_orders_client = sys
        .node
        .client(Some(sys.catalog.callers.token("orders-client")));
    let other_service = sys.as_role("other-service");
    for (method, path, body, wrong_role) in routes(&id) {
        let callers: [(&Client, u16, &str, &str); 6] = [
            (&anonymous, 401, "unauthorized", "no token"),
            (&unknown, 401, "unauthorized", "an unknown token"),
            (&catalog_token, 401, "unauthorized", "a catalog token"),
            (
                &catalog_orders_client,
                401,
                "unauthorized",
                "a token of the catalog's callers",
            ),
            (
                &sys.as_role(wrong_role),
                403,
                "forbidden",
                "a token without the scope",
            ),
            (
                &other_service,
                403,
                "forbidden",
                "a token with only catalog scopes",
            ),
        ];
        for (client, status, code, label) in callers {
            let reply = client
                .send(
                    method.clone(),
                    &path,
                    body.as_ref(),
                    &[("idempotency-key", "auth-key")],
                )
                .await;
            assert_eq!(
                reply.status, status,
                "{method} {path} with {label}: {}",
                reply.text
            );
            assert_eq!(reply.code(), code, "{method} {path} with {label}");
        }
    }
    // Nothing was written, and no refused request reached the catalog.
    assert_eq!(
        sys.proxy.total(),
        0,
        "{:?}",
        sys.proxy
            .all_requests()
            .iter()
            .map(|s| format!("{} {}", s.method, s.path))
            .collect::<Vec<_>>()
    );
    assert!(sys.customer_orders("mallory", 20).await.is_empty());
    assert_eq!(sys.order(&id).await.body["status"], "confirmed");
    assert_eq!(sys.stock("a").await, 8);
    // The idempotency key of a refused request was not consumed.
    let later = sys
        .as_role("shop")
        .send(
            Method::POST,
            "/v1/orders",
            Some(&order_body("mallory", &[("a", 1)])),
            &[("idempotency-key", "auth-key")],
        )
        .await;
    assert_eq!(later.status, 201, "{}", later.text);

    for open in ["/healthz", "/readyz", "/metrics"] {
        assert_eq!(anonymous.get(open).await.status, 200, "{open}");
    }
    sys.assert_invariant(&stocks(&[("a", 10)]), &["tina", "mallory"])
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_right_scope_is_enough() {
    let sys = OrderSystem::start().await;
    sys.seed(&[("a", "A", 100, 10)]).await;
    let clerk = sys.as_role("clerk");
    let placed = clerk
        .post("/v1/orders", &order_body("uma", &[("a", 1)]))
        .await;
    assert_eq!(placed.status, 201, "{}", placed.text);
    let id = id_of(&placed.body);
    let viewer = sys.as_role("viewer");
    assert_eq!(viewer.get(&format!("/v1/orders/{id}")).await.status, 200);
    assert_eq!(
        viewer.get("/v1/orders?customer_id=uma").await.body["orders"][0]["id"],
        json!(id)
    );
    assert_eq!(
        viewer.get(&format!("/v1/orders?ids={id}")).await.status,
        200
    );
    let cancelled = clerk
        .send(Method::POST, &format!("/v1/orders/{id}/cancel"), None, &[])
        .await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.text);
    assert_eq!(sys.stock("a").await, 10);
}
