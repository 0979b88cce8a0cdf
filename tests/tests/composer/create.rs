//! `POST /v1/orders` through the composer: forwarded to order-node with the composer's own
//! credentials and the verified end user, `Idempotency-Key` passed through, status, body and `Location` passed back.

use reqwest::Method;
use serde_json::json;
use system_tests::orders::order_body;
use system_tests::{ComposerSystem, Route, ServerTiming, product};

use crate::id_of;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_placed_through_the_composer_is_created_once_per_key() {
    let sys = ComposerSystem::start_with(false).await;
    sys.put_product("lamp", &product("Lamp", 2500, 10)).await;
    let body = order_body("eli", &[("lamp", 3)]);
    sys.reset_counts();

    let post = |key: &'static str| {
        let composer = sys.composer_for("eli");
        let body = body.clone();
        async move {
            composer
                .send(
                    Method::POST,
                    "/v1/orders",
                    Some(&body),
                    &[("idempotency-key", key)],
                )
                .await
        }
    };
    let first = post("key-1").await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(first.body["status"], "confirmed", "{}", first.text);
    let id = id_of(&first.body);
    // The composer's own route for the order, not order-node's.
    let location = first.header("location").expect("a location");
    assert_eq!(location, format!("/v1/order-views/{id}"));
    let timing = ServerTiming::of(&first);
    assert_eq!((timing.calls, timing.names()), (1, vec!["orders"]));
    // The body went to order-node unchanged.
    let forwarded = sys.orders_proxy.requests(&Route::new("POST", "/v1/orders"));
    assert_eq!(forwarded.len(), 1);
    assert_eq!(forwarded[0].json(), body);
    assert_eq!(sys.catalog_proxy.total(), 0);
    // ... and it is where the composer said.
    let view = sys.composer_for("eli").get(&location).await;
    assert_eq!(view.status, 200, "{location}: {}", view.text);
    assert_eq!(view.body["order_id"], id.as_str(), "{}", view.text);

    // order-node has it, as the composer said.
    let stored = sys.order(&id).await;
    assert_eq!(stored.status, 200, "{}", stored.text);
    assert_eq!(stored.body["lines"], first.body["lines"]);
    assert_eq!(stored.body["customer_id"], "eli");
    assert_eq!(sys.product("lamp").await["stock"], 7);

    // The retry with the same key is the same order; the stock is held once.
    let again = post("key-1").await;
    assert_eq!(again.status, 201, "{}", again.text);
    assert_eq!(id_of(&again.body), id);
    assert_eq!(again.header("location"), first.header("location"));
    assert_eq!(sys.product("lamp").await["stock"], 7);
    let listed = sys
        .orders_shop()
        .get("/v1/orders?customer_id=eli&limit=20")
        .await;
    assert_eq!(
        listed.body["orders"].as_array().unwrap().len(),
        1,
        "{}",
        listed.text
    );

    // Another key is another order.
    let second = post("key-2").await;
    assert_eq!(second.status, 201, "{}", second.text);
    assert_ne!(id_of(&second.body), id);
    assert_eq!(sys.product("lamp").await["stock"], 4);

    // It shows up in the composed views.
    let view = sys.order_view(&id).await;
    assert_eq!(view.status, 200, "{}", view.text);
    assert_eq!(view.body["lines"][0]["product"]["stock"], 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_nodes_refusals_are_passed_back_as_they_are() {
    let sys = ComposerSystem::start_with(false).await;
    sys.put_product("lamp", &product("Lamp", 2500, 2)).await;
    for body in [
        order_body("fay", &[("lamp", 0)]),
        order_body("fay", &[("no-such-product", 1)]),
        order_body("fay", &[("lamp", 5)]),
        json!({"customer_id": "fay", "items": []}),
    ] {
        let composed = sys.composer_for("fay").post("/v1/orders", &body).await;
        let direct = sys.orders_shop().post("/v1/orders", &body).await;
        assert!(
            direct.status.is_client_error(),
            "{body}: order-node said {}",
            direct.text
        );
        assert_eq!(
            (composed.status, composed.code()),
            (direct.status, direct.code()),
            "{body}: {}",
            composed.text
        );
        // Field by field but the order id, which differs between the two attempts.
        for field in ["message", "field", "short_items", "missing_ids"] {
            assert_eq!(
                composed.body["error"][field], direct.body["error"][field],
                "{field} of {body}"
            );
        }
        // A refusal that stored a rejected order says where it is, through the composer too.
        assert_eq!(
            composed.header("location").is_some(),
            direct.header("location").is_some(),
            "{body}: {composed:?}"
        );
        if let Some(location) = composed.header("location") {
            assert!(location.starts_with("/v1/order-views/"), "{location}");
            let stored = sys.composer_for("fay").get(&location).await;
            assert_eq!(stored.status, 200, "{location}: {}", stored.text);
            assert_eq!(stored.body["status"], "rejected", "{}", stored.text);
        }
    }
    // Not JSON at all.
    let composed = sys
        .composer_for("fay")
        .send_raw(
            Method::POST,
            "/v1/orders",
            "application/json",
            b"{nope".to_vec(),
        )
        .await;
    assert!(composed.status.is_client_error(), "{}", composed.text);
    assert_eq!(sys.product("lamp").await["stock"], 2);
    let listed = sys
        .orders_shop()
        .get("/v1/orders?customer_id=fay&limit=20")
        .await;
    for order in listed.body["orders"].as_array().unwrap() {
        assert_eq!(order["status"], "rejected", "{order}");
    }
}
