//! search-node killed: placing, reading and cancelling orders do not notice, directly or
//! through the composer; only the composer's search answers 503.

use system_tests::search::search_path;

use crate::{CATCH_UP_WITHIN, Cluster, FAST, READ_WITHIN, assert_whole, expect, has_hit, id_of};

/// Placing and cancelling talk to the catalog and commit to disk; they must stay this fast.
const WRITE_WITHIN: std::time::Duration = std::time::Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_search_node_killed_orders_are_unaffected() {
    let mut c = Cluster::start(true).await;
    c.put("iso-mug", "Isolation mug isomug", 30).await;
    let seq = c.put("iso-jug", "Isolation jug isojug", 30).await;
    c.wait_indexed(seq, CATCH_UP_WITHIN).await;

    c.search.kill9().await;

    let t = c.place_timed("bea", &[("iso-mug", 2)], None).await;
    expect("placing at order-node", &t, 201, None, WRITE_WITHIN);
    let direct = t.reply.body["id"].as_str().expect("id").to_owned();
    let t = c
        .composer_place("bea", &[("iso-jug", 1), ("iso-mug", 1)])
        .await;
    expect("placing through the composer", &t, 201, None, WRITE_WITHIN);
    let composed = id_of(&t.reply.body);
    assert_eq!(
        t.reply.header("location"),
        Some(format!("/v1/order-views/{composed}"))
    );

    let t = c
        .orders_get("GET one order", &format!("/v1/orders/{composed}"))
        .await;
    expect("GET one order", &t, 200, None, READ_WITHIN);
    let t = c
        .orders_get("list a customer's orders", "/v1/orders?customer_id=bea")
        .await;
    expect("list a customer's orders", &t, 200, None, READ_WITHIN);
    assert_eq!(t.reply.body["orders"].as_array().map(Vec::len), Some(2));
    let t = c
        .orders_get("batch read", &format!("/v1/orders?ids={direct},{composed}"))
        .await;
    expect("batch read", &t, 200, None, READ_WITHIN);

    let t = c
        .composer_get("order view", &format!("/v1/order-views/{composed}"))
        .await;
    expect("order view", &t, 200, None, FAST);
    assert_whole("order view", &t.reply);
    let t = c
        .composer_get("customer page", "/v1/customers/bea/order-views")
        .await;
    expect("customer page", &t, 200, None, FAST);
    assert_whole("customer page", &t.reply);

    let t = c.cancel(&direct).await;
    expect("cancelling", &t, 200, None, WRITE_WITHIN);
    assert_eq!(t.reply.body["status"], "cancelled", "{}", t.reply.text);
    assert_eq!(
        c.stock("iso-mug").await,
        29,
        "the cancelled order's stock is back"
    );

    // Only search itself is gone; the composer says so at once (the port is closed).
    let path = search_path(&[("q", "isomug")]);
    let t = c.composer_get("composed search", &path).await;
    expect("composed search", &t, 503, Some("search_unavailable"), FAST);

    // A product written meanwhile is searchable once search-node is back.
    let seq = c.put("iso-cup", "Isolation cup isocup", 3).await;
    system_tests::crash::restart(&mut c.search, "search-node").await;
    let took = c.wait_indexed(seq, CATCH_UP_WITHIN).await;
    println!("search-node caught up {took:?} after its restart");
    let t = c
        .composer_get("composed search", &search_path(&[("q", "isocup")]))
        .await;
    expect("composed search", &t, 200, None, FAST);
    assert_whole("composed search", &t.reply);
    assert!(has_hit(&t.reply, "iso-cup"), "{}", t.reply.text);
}
