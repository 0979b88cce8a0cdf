use std::time::{Duration, Instant};

use serde_json::json;
use system_tests::{CatalogNode, product};

#[tokio::test]
async fn the_feed_is_ordered_and_resumable() {
    let cat = CatalogNode::start().await;
    let admin = cat.as_role("admin");
    let mut last_seq = 0;
    for i in 0..10 {
        let r = admin
            .put(
                &format!("/v1/products/p{i}"),
                &product(&format!("P{i}"), 100, 5),
            )
            .await;
        assert!(r.seq() > last_seq, "seqs increase with each write");
        last_seq = r.seq();
    }
    let feed = cat.as_role("search-node");
    let mut after = 0;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = feed.get(&format!("/v1/events?after={after}&limit=3")).await;
        assert_eq!(page.status, 200, "{}", page.text);
        let events = page.body["events"].as_array().unwrap().clone();
        if events.is_empty() {
            assert_eq!(page.body["next_after"], after);
            break;
        }
        pages += 1;
        for e in &events {
            let seq = e["seq"].as_u64().unwrap();
            assert!(seq > after, "events come after the cursor, in order");
            after = seq;
            assert_eq!(e["kind"], "upsert");
            assert_eq!(e["product"]["id"], e["product_id"]);
            seen.push(e["product_id"].as_str().unwrap().to_owned());
        }
        assert_eq!(page.body["next_after"], after);
    }
    assert_eq!(pages, 4);
    assert_eq!(seen, (0..10).map(|i| format!("p{i}")).collect::<Vec<_>>());
    assert_eq!(after, last_seq);
}

#[tokio::test]
async fn the_feed_keeps_the_latest_event_per_product_with_its_state() {
    let cat = CatalogNode::start().await;
    let admin = cat.as_role("admin");
    admin.put("/v1/products/a", &product("A", 100, 5)).await;
    admin.put("/v1/products/b", &product("B", 100, 5)).await;
    for price in 101..106 {
        admin.put("/v1/products/a", &product("A", price, 5)).await;
    }
    let reserve = json!({"id": "r", "items": [{"product_id": "b", "qty": 2}]});
    let held = cat
        .as_role("order-node")
        .post("/v1/reservations", &reserve)
        .await;
    admin.put("/v1/products/c", &product("C", 1, 1)).await;
    let deleted = admin.delete("/v1/products/c").await;

    let page = cat.as_role("search-node").get("/v1/events?after=0").await;
    let events = page.body["events"].as_array().unwrap();
    let summary: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            (
                e["product_id"].as_str().unwrap().into(),
                e["kind"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("a".into(), "upsert".into()),
            ("b".into(), "stock".into()),
            ("c".into(), "delete".into())
        ]
    );
    assert_eq!(events[0]["product"]["price_minor"], 105);
    assert_eq!(events[1]["product"]["stock"], 3);
    assert_eq!(events[1]["seq"].as_u64().unwrap(), held.seq());
    assert!(events[2]["product"].is_null());
    assert_eq!(events[2]["seq"].as_u64().unwrap(), deleted.seq());
    assert_eq!(page.body["head_seq"].as_u64().unwrap(), deleted.seq());
}

#[tokio::test]
async fn long_polls_wake_on_a_write_and_time_out_when_idle() {
    let cat = CatalogNode::start().await;
    let admin = cat.as_role("admin");
    let first = admin
        .put("/v1/products/a", &product("A", 100, 5))
        .await
        .seq();
    let feed = cat.as_role("search-node");

    let started = Instant::now();
    let idle = feed
        .get(&format!("/v1/events?after={first}&wait_ms=400"))
        .await;
    assert!(started.elapsed() >= Duration::from_millis(350));
    assert_eq!(idle.body["events"], json!([]));
    assert_eq!(idle.body["next_after"], first);

    let waiting = {
        let feed = feed.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let r = feed
                .get(&format!("/v1/events?after={first}&wait_ms=20000"))
                .await;
            (r, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = admin
        .put("/v1/products/b", &product("B", 100, 5))
        .await
        .seq();
    let (woken, waited) = waiting.await.unwrap();
    assert!(waited < Duration::from_secs(10), "woke after {waited:?}");
    assert_eq!(woken.body["events"][0]["seq"], second);
    assert_eq!(woken.body["events"][0]["product_id"], "b");
}
