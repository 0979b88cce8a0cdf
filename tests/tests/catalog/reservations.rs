use serde_json::json;
use system_tests::{CatalogNode, product};

fn items(list: &[(&str, u32)]) -> serde_json::Value {
    json!(
        list.iter()
            .map(|(p, q)| json!({"product_id": p, "qty": q}))
            .collect::<Vec<_>>()
    )
}

#[tokio::test]
async fn reservations_hold_release_and_are_idempotent() {
    let cat = CatalogNode::start().await;
    let admin = cat.as_role("admin");
    admin.put("/v1/products/a", &product("A", 100, 5)).await;
    admin.put("/v1/products/b", &product("B", 100, 2)).await;
    let orders = cat.as_role("order-node");

    let body = json!({"id": "order-1", "items": items(&[("a", 3), ("b", 2)])});
    let held = orders.post("/v1/reservations", &body).await;
    assert_eq!(held.status, 201, "{}", held.text);
    assert_eq!(held.body["status"], "held");
    assert!(held.seq() > 0);
    let replay = orders.post("/v1/reservations", &body).await;
    assert_eq!(replay.status, 200);
    assert_eq!(replay.body, held.body);
    let conflicting = orders
        .post(
            "/v1/reservations",
            &json!({"id": "order-1", "items": items(&[("a", 1)])}),
        )
        .await;
    assert_eq!(
        (conflicting.status.as_u16(), conflicting.code()),
        (409, "reservation_conflict")
    );
    assert_eq!(admin.get("/v1/products/a").await.body["stock"], 2);
    assert_eq!(admin.get("/v1/products/b").await.body["stock"], 0);

    let got = orders.get("/v1/reservations/order-1").await;
    assert_eq!(got.body, held.body);

    let released = orders.delete("/v1/reservations/order-1").await;
    assert_eq!(released.status, 200);
    assert_eq!(released.body["status"], "released");
    assert!(released.body["released_at"].is_string());
    let twice = orders.delete("/v1/reservations/order-1").await;
    assert_eq!(
        (twice.status.as_u16(), twice.body["status"].as_str()),
        (200, Some("released"))
    );
    assert_eq!(admin.get("/v1/products/a").await.body["stock"], 5);
    assert_eq!(admin.get("/v1/products/b").await.body["stock"], 2);
    // A stale retry of the original request never holds again.
    let late = orders.post("/v1/reservations", &body).await;
    assert_eq!(late.body["status"], "released");
    assert_eq!(admin.get("/v1/products/a").await.body["stock"], 5);

    assert_eq!(
        orders.delete("/v1/reservations/never").await.code(),
        "reservation_not_found"
    );
    assert_eq!(orders.get("/v1/reservations/never").await.status, 404);
}

#[tokio::test]
async fn refused_reservations_hold_nothing() {
    let cat = CatalogNode::start().await;
    let admin = cat.as_role("admin");
    admin.put("/v1/products/a", &product("A", 100, 5)).await;
    admin.put("/v1/products/b", &product("B", 100, 1)).await;
    let orders = cat.as_role("order-node");

    let unknown = orders
        .post(
            "/v1/reservations",
            &json!({"id": "o1", "items": items(&[("a", 1), ("ghost", 1), ("ghost2", 1)])}),
        )
        .await;
    assert_eq!(
        (unknown.status.as_u16(), unknown.code()),
        (422, "unknown_products")
    );
    assert_eq!(
        unknown.body["error"]["missing_ids"],
        json!(["ghost", "ghost2"])
    );

    let short = orders
        .post(
            "/v1/reservations",
            &json!({"id": "o2", "items": items(&[("a", 5), ("b", 3)])}),
        )
        .await;
    assert_eq!(
        (short.status.as_u16(), short.code()),
        (409, "insufficient_stock")
    );
    assert_eq!(
        short.body["error"]["short_items"],
        json!([{"product_id": "b", "requested": 3, "available": 1}])
    );
    assert_eq!(admin.get("/v1/products/a").await.body["stock"], 5);
    assert_eq!(admin.get("/v1/products/b").await.body["stock"], 1);
    assert_eq!(orders.get("/v1/reservations/o1").await.status, 404);
    assert_eq!(orders.get("/v1/reservations/o2").await.status, 404);
    // A refused id stays free: the same id may succeed once stock allows.
    let ok = orders
        .post(
            "/v1/reservations",
            &json!({"id": "o2", "items": items(&[("a", 5), ("b", 1)])}),
        )
        .await;
    assert_eq!(ok.status, 201);
}

#[tokio::test]
async fn concurrent_reservations_never_oversell() {
    let cat = CatalogNode::start().await;
    let admin = cat.as_role("admin");
    const STOCK: u64 = 23;
    const CLIENTS: usize = 60;
    admin
        .put("/v1/products/hot", &product("Hot", 100, STOCK))
        .await;
    admin
        .put("/v1/products/side", &product("Side", 100, 1000))
        .await;
    let orders = cat.as_role("order-node");
    let attempts = (0..CLIENTS).map(|i| {
        let orders = orders.clone();
        async move {
            orders
                .post(
                    "/v1/reservations",
                    &json!({"id": format!("r-{i}"), "items": items(&[("side", 1), ("hot", 1)])}),
                )
                .await
        }
    });
    let replies = futures::future::join_all(attempts).await;
    let held = replies.iter().filter(|r| r.status == 201).count();
    let refused = replies
        .iter()
        .filter(|r| r.status == 409 && r.code() == "insufficient_stock")
        .count();
    assert_eq!(held, STOCK as usize);
    assert_eq!(refused, CLIENTS - STOCK as usize);
    assert_eq!(admin.get("/v1/products/hot").await.body["stock"], 0);
    // All-or-nothing: the side product lost exactly as many units as were held.
    assert_eq!(
        admin.get("/v1/products/side").await.body["stock"],
        1000 - STOCK
    );
}
