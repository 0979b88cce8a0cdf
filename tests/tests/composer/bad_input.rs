//! Requests the composer refuses itself, before any upstream call.

use reqwest::Method;
use serde_json::json;
use system_tests::{ComposerSystem, ServerTiming};

fn assert_no_upstream_calls(sys: &ComposerSystem) {
    assert_eq!(
        (
            sys.catalog_proxy.total(),
            sys.orders_proxy.total(),
            sys.search_proxy.total()
        ),
        (0, 0, 0),
        "a refused request reached an upstream"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_ids_and_parameters_are_400() {
    let sys = ComposerSystem::start_with(false).await;
    let long = "x".repeat(65);
    let paths = [
        "/v1/order-views/bad%20id".to_owned(),
        "/v1/order-views/a.b".to_owned(),
        format!("/v1/order-views/{long}"),
        "/v1/order-views/a%2Fb".to_owned(),
        "/v1/customers/bad%20id/order-views".to_owned(),
        format!("/v1/customers/{long}/order-views"),
        "/v1/customers/ann/order-views?limit=0".to_owned(),
        "/v1/customers/ann/order-views?limit=201".to_owned(),
        "/v1/customers/ann/order-views?limit=x".to_owned(),
        "/v1/customers/ann/order-views?limit=-1".to_owned(),
        "/v1/customers/ann/order-views?cursor=abc".to_owned(),
        "/v1/customers/ann/order-views?cursor=".to_owned(),
        "/v1/customers/ann/order-views?colour=red".to_owned(),
    ];
    for path in &paths {
        let r = sys.composer().get(path).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (400, "invalid_input"),
            "{path}: {}",
            r.text
        );
        assert!(
            r.body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{path}: {}",
            r.text
        );
        assert_eq!(ServerTiming::of(&r).calls, 0, "{path}");
    }
    assert_no_upstream_calls(&sys);
    // The limits themselves are fine.
    for query in ["limit=1", "limit=200", "cursor=123"] {
        let r = sys
            .composer()
            .get(&format!("/v1/customers/ann/order-views?{query}"))
            .await;
        assert_eq!(r.status, 200, "{query}: {}", r.text);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_are_404_and_other_methods_405() {
    let sys = ComposerSystem::start_with(false).await;
    for path in [
        "/",
        "/nope",
        "/v1",
        "/v1/order-views",
        "/v1/order-views/a/b",
        "/v1/customers/ann",
        "/v1/customers/ann/orders",
        "/v2/search?q=x",
    ] {
        let r = sys.composer().get(path).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (404, "route_not_found"),
            "{path}: {}",
            r.text
        );
    }
    for (method, path) in [
        (Method::DELETE, "/v1/order-views/o1"),
        (Method::POST, "/v1/order-views/o1"),
        (Method::PUT, "/v1/customers/ann/order-views"),
        (Method::POST, "/v1/search?q=x"),
        (Method::GET, "/v1/orders"),
        (Method::DELETE, "/v1/orders"),
    ] {
        let r = sys
            .composer()
            .send(method.clone(), path, Some(&json!({})), &[])
            .await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (405, "method_not_allowed"),
            "{method} {path}: {}",
            r.text
        );
    }
    let health = sys.composer().get("/healthz").await;
    assert_eq!(health.status, 200, "{}", health.text);
    assert_eq!(health.body, json!({"status": "ok"}));
    assert_eq!(ServerTiming::of(&health).calls, 0);
    assert_no_upstream_calls(&sys);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_order_node_refuses_is_the_clients_400() {
    let sys = ComposerSystem::start_with(false).await;
    // A cursor the composer cannot tell from a real one is order-node's to refuse, and
    // still the client's mistake: 400, not an unavailable order-node.
    let r = sys
        .composer()
        .get("/v1/customers/ann/order-views?cursor=99999999999999999999999")
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (400, "invalid_input"),
        "{}",
        r.text
    );
    assert_eq!(sys.catalog_proxy.total(), 0);
}
