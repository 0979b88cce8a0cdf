use reqwest::Method;
use serde_json::json;
use system_tests::orders::{batch_get_route, product_in, reservations_route};
use system_tests::{OrderSystem, Route, product};

use crate::{id_of, quantities, stocks};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lines_copy_name_and_price_at_order_time_and_keep_them() {
    let mut sys = OrderSystem::start().await;
    sys.seed(&[
        ("pan", "Pan", 2999, 10),
        ("lid", "Lid", 450, 10),
        ("cup", "Cup", 125, 10),
    ])
    .await;

    let placed = sys
        .place("alice", &[("pan", 2), ("lid", 1), ("cup", 3)])
        .await;
    assert_eq!(placed.status, 201, "{}", placed.text);
    let order = placed.body.clone();
    let id = id_of(&order);
    assert_eq!(
        placed.header("location").as_deref(),
        Some(format!("/v1/orders/{id}").as_str())
    );
    assert_eq!(order["customer_id"], "alice");
    assert_eq!(order["status"], "confirmed");
    assert_eq!(order["currency"], "EUR");
    let lines = json!([
        {"product_id": "pan", "name": "Pan", "unit_price_minor": 2999, "qty": 2, "line_total_minor": 5998},
        {"product_id": "lid", "name": "Lid", "unit_price_minor": 450, "qty": 1, "line_total_minor": 450},
        {"product_id": "cup", "name": "Cup", "unit_price_minor": 125, "qty": 3, "line_total_minor": 375},
    ]);
    assert_eq!(order["lines"], lines);
    assert_eq!(order["total_minor"], 5998 + 450 + 375);
    assert!(order["created_at"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(order["updated_at"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(
        sys.stocks(&["pan", "lid", "cup"]).await,
        stocks(&[("pan", 8), ("lid", 9), ("cup", 7)])
    );
    let got = sys.order(&id).await;
    assert_eq!(got.status, 200, "{}", got.text);
    assert_eq!(got.body["lines"], lines);

    // The catalog renames and reprices one product, replaces another and deletes the third.
    let admin = sys.catalog_admin();
    let patched = admin
        .send(
            Method::PATCH,
            "/v1/products/pan",
            Some(&json!({"name": "Pan Deluxe", "price_minor": 5000})),
            &[("if-match", "*")],
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    sys.put_product("lid", &product("Lid v2", 999, 10)).await;
    assert_eq!(admin.delete("/v1/products/cup").await.status, 204);

    // The order keeps what was true when it was placed, on every read path.
    let unchanged = |body: &serde_json::Value| {
        assert_eq!(body["lines"], lines, "{body}");
        assert_eq!(body["total_minor"], 5998 + 450 + 375, "{body}");
        assert_eq!(body["currency"], "EUR", "{body}");
        assert_eq!(body["status"], "confirmed", "{body}");
    };
    unchanged(&sys.order(&id).await.body);
    let batch = sys.orders().get(&format!("/v1/orders?ids={id}")).await;
    assert_eq!(batch.status, 200, "{}", batch.text);
    unchanged(&batch.body["orders"][0]);
    let listed = sys.customer_orders("alice", 20).await;
    assert_eq!(listed.len(), 1);
    unchanged(&listed[0]);
    // ... and after a crash.
    sys.restart_orders().await;
    unchanged(&sys.order(&id).await.body);

    // A new order copies the catalog's current name and price.
    let later = sys
        .place_confirmed("alice", &[("pan", 1), ("lid", 1)])
        .await;
    assert_eq!(
        later["lines"],
        json!([
            {"product_id": "pan", "name": "Pan Deluxe", "unit_price_minor": 5000, "qty": 1, "line_total_minor": 5000},
            {"product_id": "lid", "name": "Lid v2", "unit_price_minor": 999, "qty": 1, "line_total_minor": 999},
        ])
    );
    assert_eq!(later["total_minor"], 5999);
    // The deleted product can no longer be ordered.
    let gone = sys.place("alice", &[("cup", 1)]).await;
    assert_eq!(
        (gone.status.as_u16(), gone.code()),
        (422, "unknown_products"),
        "{}",
        gone.text
    );
    assert_eq!(gone.body["error"]["missing_ids"], json!(["cup"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_batch_read_and_one_reservation_per_order() {
    let sys = OrderSystem::start().await;
    let ids: Vec<String> = (0..50).map(|i| format!("p{i:02}")).collect();
    for (i, id) in ids.iter().enumerate() {
        sys.put_product(id, &product(&format!("P{i}"), 100 + i as u64, 100))
            .await;
    }

    for n in [1usize, 50] {
        sys.proxy.reset_counts();
        let list: Vec<(&str, u32)> = ids[..n].iter().map(|id| (id.as_str(), 2)).collect();
        let order = sys.place_confirmed(&format!("bulk-{n}"), &list).await;
        assert_eq!(order["lines"].as_array().unwrap().len(), n);
        for (i, line) in order["lines"].as_array().unwrap().iter().enumerate() {
            assert_eq!(line["product_id"], ids[i]);
            assert_eq!(line["name"], format!("P{i}"));
            assert_eq!(line["unit_price_minor"], 100 + i as u64);
            assert_eq!(line["line_total_minor"], 2 * (100 + i as u64));
        }
        let expected_total: u64 = (0..n as u64).map(|i| 2 * (100 + i)).sum();
        assert_eq!(order["total_minor"], expected_total);

        let seen: Vec<String> = sys
            .proxy
            .all_requests()
            .iter()
            .map(|s| format!("{} {}", s.method, s.path))
            .collect();
        assert_eq!(
            sys.proxy.count("POST", "/v1/products:batchGet"),
            1,
            "{n} lines: {seen:?}"
        );
        assert_eq!(
            sys.proxy.count("POST", "/v1/reservations"),
            1,
            "{n} lines: {seen:?}"
        );
        assert_eq!(
            sys.proxy.total(),
            2,
            "{n} lines: only the batch read and the reservation reach the catalog: {seen:?}"
        );
        // The batch read named every product; the reservation used the order id.
        let batch = &sys.proxy.requests(&batch_get_route())[0];
        let mut named: Vec<String> = batch.json()["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        named.sort();
        named.dedup();
        assert_eq!(named, ids[..n].to_vec());
        let reservation = sys.proxy.requests(&reservations_route())[0].json();
        assert_eq!(reservation["id"], order["id"]);
        assert_eq!(
            quantities(&reservation["items"]),
            quantities(&order["lines"])
        );
    }
    for (i, id) in ids.iter().enumerate() {
        let expected = if i == 0 { 96 } else { 98 };
        assert_eq!(sys.stock(id).await, expected, "{id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_products_are_merged_into_one_line() {
    let sys = OrderSystem::start().await;
    sys.seed(&[("a", "A", 300, 10), ("b", "B", 200, 10)]).await;
    sys.proxy.reset_counts();
    let order = sys
        .place_confirmed("bob", &[("a", 1), ("b", 2), ("a", 3)])
        .await;
    assert_eq!(
        order["lines"],
        json!([
            {"product_id": "a", "name": "A", "unit_price_minor": 300, "qty": 4, "line_total_minor": 1200},
            {"product_id": "b", "name": "B", "unit_price_minor": 200, "qty": 2, "line_total_minor": 400},
        ])
    );
    assert_eq!(order["total_minor"], 1600);
    let reservation = sys.proxy.requests(&reservations_route());
    assert_eq!(reservation.len(), 1);
    assert_eq!(
        quantities(&reservation[0].json()["items"]),
        vec![("a".to_owned(), 4), ("b".to_owned(), 2)]
    );
    assert_eq!(sys.stock("a").await, 6);
    assert_eq!(sys.stock("b").await, 8);
    sys.assert_invariant(&stocks(&[("a", 10), ("b", 10)]), &["bob"])
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_products_and_mixed_currencies_store_nothing() {
    let sys = OrderSystem::start().await;
    sys.seed(&[("a", "A", 300, 10)]).await;
    sys.put_product("usd", &product_in("Dollar thing", 500, 10, "USD"))
        .await;
    sys.proxy.reset_counts();

    let unknown = sys
        .place("carol", &[("a", 1), ("ghost", 1), ("ghost2", 2)])
        .await;
    assert_eq!(
        (unknown.status.as_u16(), unknown.code()),
        (422, "unknown_products"),
        "{}",
        unknown.text
    );
    let mut missing: Vec<String> = unknown.body["error"]["missing_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    missing.sort();
    assert_eq!(missing, ["ghost", "ghost2"]);
    assert!(unknown.header("location").is_none());

    let mixed = sys.place("carol", &[("a", 1), ("usd", 1)]).await;
    assert_eq!(
        (mixed.status.as_u16(), mixed.code()),
        (422, "mixed_currencies"),
        "{}",
        mixed.text
    );

    assert_eq!(sys.proxy.count_matching(&reservations_route()), 0);
    assert!(sys.customer_orders("carol", 20).await.is_empty());
    assert_eq!(sys.stock("a").await, 10);
    assert_eq!(sys.stock("usd").await, 10);

    // One currency other than EUR is fine.
    let dollars = sys.place_confirmed("carol", &[("usd", 2)]).await;
    assert_eq!(dollars["currency"], "USD");
    assert_eq!(dollars["total_minor"], 1000);
    assert_eq!(sys.customer_orders("carol", 20).await.len(), 1);
    assert_eq!(
        sys.proxy
            .count_matching(&Route::new("POST", "/v1/reservations")),
        1
    );
}
