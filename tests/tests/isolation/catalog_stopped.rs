//! catalog-node killed: order-node answers reads from its own store, refuses new orders with
//! nothing stored, parks cancellations; the composer degrades; search-node serves its index.
//! When the catalog is back, the parked saga settles and search-node follows again.

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;
use system_tests::search::search_path;

use crate::{
    CATCH_UP_WITHIN, COMPOSED_WITHIN, Cluster, FAST, READ_WITHIN, REFUSED_WITHIN, SETTLE_WITHIN,
    assert_degraded_by_catalog, assert_whole, expect, expected_stock, has_hit, id_of, timed,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_catalog_killed_orders_and_search_keep_answering() {
    let mut c = Cluster::start(true).await;
    c.put("iso-kettle", "Isolation kettle isokettle", 20).await;
    let seq = c.put("iso-lamp", "Isolation lamp isolamp", 20).await;
    let o1 = c.place("ada", &[("iso-kettle", 2), ("iso-lamp", 1)]).await;
    let o2 = c.place("ada", &[("iso-lamp", 3)]).await;
    let o3 = c.place("ada", &[("iso-kettle", 1)]).await;
    let (id1, id2, id3) = (id_of(&o1), id_of(&o2), id_of(&o3));
    c.wait_indexed(seq, CATCH_UP_WITHIN).await;

    c.catalog.node.kill9().await;

    // order-node alone: every read comes from its own store.
    let t = c
        .orders_get("GET one order", &format!("/v1/orders/{id1}"))
        .await;
    expect("GET one order", &t, 200, None, READ_WITHIN);
    assert_eq!(t.reply.body["lines"], o1["lines"]);
    assert_eq!(t.reply.body["status"], "confirmed");
    let t = c
        .orders_get("list a customer's orders", "/v1/orders?customer_id=ada")
        .await;
    expect("list a customer's orders", &t, 200, None, READ_WITHIN);
    assert_eq!(t.reply.body["orders"].as_array().map(Vec::len), Some(3));
    let t = c
        .orders_get("batch read", &format!("/v1/orders?ids={id3},{id1},{id2}"))
        .await;
    expect("batch read", &t, 200, None, READ_WITHIN);
    let got: Vec<String> = t.reply.body["orders"]
        .as_array()
        .expect("orders")
        .iter()
        .map(id_of)
        .collect();
    assert_eq!(
        got,
        [id3.clone(), id1.clone(), id2.clone()],
        "{}",
        t.reply.text
    );

    // The composer: the orders, without live product data.
    let t = c
        .composer_get("order view", &format!("/v1/order-views/{id1}"))
        .await;
    expect("order view", &t, 200, None, COMPOSED_WITHIN);
    assert_degraded_by_catalog("order view", &t.reply);
    assert_eq!(t.reply.body["order_id"], id1.as_str());
    for line in t.reply.body["lines"].as_array().expect("lines") {
        assert_eq!(line["product"], Value::Null, "{line}");
    }
    let t = c
        .composer_get("customer page", "/v1/customers/ada/order-views")
        .await;
    expect("customer page", &t, 200, None, COMPOSED_WITHIN);
    assert_degraded_by_catalog("customer page", &t.reply);
    assert_eq!(t.reply.body["views"].as_array().map(Vec::len), Some(3));

    // Placing needs the catalog: 503, nothing stored, directly and through the composer.
    let t = c
        .place_timed("ada", &[("iso-kettle", 1)], Some("iso-retry-1"))
        .await;
    expect(
        "placing at order-node",
        &t,
        503,
        Some("catalog_unavailable"),
        REFUSED_WITHIN,
    );
    assert!(t.reply.header("location").is_none());
    let t = c.composer_place("ada", &[("iso-lamp", 1)]).await;
    expect(
        "placing through the composer",
        &t,
        503,
        Some("catalog_unavailable"),
        COMPOSED_WITHIN,
    );
    // A cancellation is parked: the order is marked cancelling and finishes later.
    let t = c.cancel(&id3).await;
    expect("cancelling", &t, 202, None, REFUSED_WITHIN);
    assert_eq!(t.reply.body["status"], "cancelling", "{}", t.reply.text);

    // search-node serves its index; the composer's search lacks only live data.
    let t = c.search_direct("isokettle").await;
    expect("search at search-node", &t, 200, None, READ_WITHIN);
    assert!(has_hit(&t.reply, "iso-kettle"), "{}", t.reply.text);
    let t = c
        .composer_get("composed search", &search_path(&[("q", "isolamp")]))
        .await;
    expect("composed search", &t, 200, None, COMPOSED_WITHIN);
    assert_degraded_by_catalog("composed search", &t.reply);
    assert!(has_hit(&t.reply, "iso-lamp"), "{}", t.reply.text);
    let started = tokio::time::Instant::now();
    loop {
        if let Some((200, d)) = c.search_readyz().await
            && d["catalog_reachable"] == false
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "search-node never reported the catalog unreachable:\n{}",
            c.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        c.order_ids("ada").await.len(),
        3,
        "a refused order was stored"
    );

    // The catalog comes back on the same port and data.
    system_tests::crash::restart(&mut c.catalog.node, "catalog-node").await;
    let took = c.wait_status(&id3, "cancelled", SETTLE_WITHIN).await;
    println!("the parked cancellation settled {took:?} after the catalog restarted");
    assert_eq!(
        c.order_ids("ada").await.len(),
        3,
        "a refused order was stored"
    );
    // The refused request's key was not used up: the retry places the order.
    let t = c
        .place_timed("ada", &[("iso-kettle", 1)], Some("iso-retry-1"))
        .await;
    expect("retrying the refused order", &t, 201, None, FAST * 2);
    let seq = c.put("iso-back", "Returned isoback", 5).await;
    let took = c.wait_indexed(seq, CATCH_UP_WITHIN).await;
    println!("search-node applied a new catalog write {took:?} after it");
    let t = c.search_direct("isoback").await;
    assert!(has_hit(&t.reply, "iso-back"), "{}", t.reply.text);

    let all = timed(
        "listing",
        Method::GET,
        &format!("{}/v1/orders?customer_id=ada", c.orders.base()),
        Some(&c.shop_token()),
        None,
        &[],
    )
    .await;
    let orders = all.reply.body["orders"].as_array().expect("orders").clone();
    for (id, want) in expected_stock(&[("iso-kettle", 20), ("iso-lamp", 20)], &orders) {
        assert_eq!(
            c.stock(&id).await,
            want,
            "{id}: nothing more, nothing less held"
        );
    }
    let t = c
        .composer_get("order view", &format!("/v1/order-views/{id1}"))
        .await;
    assert_whole("order view after the catalog is back", &t.reply);
}
