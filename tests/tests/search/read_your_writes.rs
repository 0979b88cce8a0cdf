//! Read-your-writes through `min_seq`: a write is searchable at its seq, with no sleep.

use std::time::{Duration, Instant};

use serde_json::json;
use system_tests::SearchSystem;
use system_tests::search::{hit_ids, hits, name_with_token, token_of, total};

use crate::{assert_absent, assert_found};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_product_is_found_at_its_seq() {
    let sys = SearchSystem::start().await;
    for i in 0..10 {
        let id = format!("lamp{i}");
        let name = name_with_token(&id, "Brass reading lamp");
        let seq = sys
            .put_product(&id, &name, "warm light for long evenings", "home-decor")
            .await;
        // Straight after the write's answer: no sleep, no retry.
        let r = sys.search_after(&token_of(&id), seq).await;
        assert_eq!(r.body["caught_up"], true, "{}", r.text);
        assert!(
            r.body["indexed_seq"].as_u64().unwrap() >= seq,
            "indexed_seq below min_seq: {}",
            r.text
        );
        assert_eq!(hit_ids(&r), [id.as_str()], "{}", r.text);
        assert_eq!(r.body["hits"][0]["name"], name.as_str());
        assert_eq!(r.body["hits"][0]["category"], "home-decor");
        assert_eq!(total(&r), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_each_read_their_own_write() {
    let sys = SearchSystem::start().await;
    let tasks = (0..16).map(|i| {
        let sys = &sys;
        async move {
            let id = format!("conc{i}");
            let seq = sys
                .put_product(&id, &name_with_token(&id, "Oak stool"), "", "home-decor")
                .await;
            let r = sys.search_after(&token_of(&id), seq).await;
            assert_eq!(r.body["caught_up"], true, "{}", r.text);
            assert_eq!(hit_ids(&r), [id], "{}", r.text);
        }
    });
    futures::future::join_all(tasks).await;
    let r = sys.search("stool").await;
    assert_eq!(total(&r), 16, "{}", r.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_replaces_the_hit() {
    let sys = SearchSystem::start().await;
    let id = "kettle1";
    let v1 = name_with_token(id, "Copper kettle");
    let seq = sys.put_product(id, &v1, "boils water", "kitchen").await;
    let r = sys.search_after("copper", seq).await;
    assert_eq!(hit_ids(&r), [id], "{}", r.text);

    // Replace with PUT: the new name is found, the old one is gone.
    let v2 = name_with_token(id, "Enamel teapot");
    let seq = sys.put_product(id, &v2, "brews tea", "kitchen").await;
    let r = sys.search_after("teapot", seq).await;
    assert_eq!(r.body["caught_up"], true, "{}", r.text);
    assert_eq!(hit_ids(&r), [id], "{}", r.text);
    assert_eq!(r.body["hits"][0]["name"], v2.as_str());
    assert_eq!(
        total(&sys.search("copper").await),
        0,
        "the old name is still indexed"
    );
    assert_eq!(
        total(&sys.search("boils").await),
        0,
        "the old description is still indexed"
    );
    assert_eq!(total(&sys.search("brews").await), 1);
    assert_found(&sys, id, &v2).await;

    // PATCH the name and the category.
    let v3 = name_with_token(id, "Cast iron trivet");
    let seq = sys
        .patch_product(id, &json!({"name": v3, "category": "home-decor"}))
        .await;
    let r = sys.search_after("trivet", seq).await;
    assert_eq!(hit_ids(&r), [id], "{}", r.text);
    assert_eq!(r.body["hits"][0]["category"], "home-decor");
    assert_eq!(total(&sys.search("teapot").await), 0);
    let in_kitchen = sys
        .search_with(&[("q", &token_of(id)), ("category", "kitchen")])
        .await;
    assert_eq!(total(&in_kitchen), 0, "{}", in_kitchen.text);
    let in_decor = sys
        .search_with(&[("q", &token_of(id)), ("category", "home-decor")])
        .await;
    assert_eq!(hit_ids(&in_decor), [id], "{}", in_decor.text);

    // A stock change re-sends the product: still exactly one document.
    let seq = sys.change_stock(id, 5).await;
    let r = sys.search_after(&token_of(id), seq).await;
    assert_eq!(r.body["caught_up"], true);
    assert_found(&sys, id, &v3).await;
    sys.index_equals_catalog().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_removes_the_hit_and_a_new_product_brings_it_back() {
    let sys = SearchSystem::start().await;
    let seq = sys
        .put_product(
            "tent1",
            &name_with_token("tent1", "Dome tent"),
            "",
            "outdoor",
        )
        .await;
    sys.put_product(
        "tent2",
        &name_with_token("tent2", "Tunnel tent"),
        "",
        "outdoor",
    )
    .await;
    assert_eq!(hit_ids(&sys.search_after("dome", seq).await), ["tent1"]);

    let seq = sys.delete_product("tent1").await;
    let r = sys.search_after("tent", seq).await;
    assert_eq!(r.body["caught_up"], true, "{}", r.text);
    assert_eq!(hit_ids(&r), ["tent2"], "{}", r.text);
    assert_eq!(total(&r), 1);
    assert_absent(&sys, "tent1").await;

    let name = name_with_token("tent1", "Bell tent");
    let seq = sys.put_product("tent1", &name, "", "outdoor").await;
    let r = sys.search_after("bell", seq).await;
    assert_eq!(hit_ids(&r), ["tent1"], "{}", r.text);
    assert_found(&sys, "tent1", &name).await;
    assert_eq!(total(&sys.search("dome").await), 0);
    sys.index_equals_catalog().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_search_answers_as_soon_as_its_seq_is_indexed() {
    let sys = SearchSystem::start().await;
    let seq = sys
        .put_product("first", &name_with_token("first", "Anchor"), "", "outdoor")
        .await;
    let _ = sys.search_after("anchor", seq).await;
    // The next write will get a seq above `seq`: wait for it before it exists.
    let want = (seq + 1).to_string();
    let shop = sys.shop();
    let path = system_tests::search::search_path(&[
        ("q", "beacon"),
        ("min_seq", &want),
        ("wait_ms", "10000"),
    ]);
    let started = Instant::now();
    let waiting = tokio::spawn(async move { shop.get(&path).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !waiting.is_finished(),
        "answered before its seq was written"
    );
    let written = sys
        .put_product(
            "second",
            &name_with_token("second", "Beacon"),
            "",
            "outdoor",
        )
        .await;
    assert!(written > seq);
    let r = waiting.await.unwrap();
    let took = started.elapsed();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["caught_up"], true, "{}", r.text);
    assert_eq!(hit_ids(&r), ["second"], "{}", r.text);
    assert!(
        took < Duration::from_secs(5),
        "the waiting search was not woken by the write: {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seq_beyond_the_catalog_is_reported_not_caught_up_after_the_wait() {
    let sys = SearchSystem::start().await;
    let seq = sys
        .put_product("p1", &name_with_token("p1", "Compass"), "", "outdoor")
        .await;
    let far = (seq + 1000).to_string();
    let started = Instant::now();
    let r = sys
        .search_with(&[("q", "compass"), ("min_seq", &far), ("wait_ms", "400")])
        .await;
    let took = started.elapsed();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["caught_up"], false, "{}", r.text);
    let indexed = r.body["indexed_seq"].as_u64().unwrap();
    assert!(indexed >= seq && indexed < seq + 1000, "{}", r.text);
    assert_eq!(hit_ids(&r), ["p1"], "answers from the index all the same");
    assert!(
        took >= Duration::from_millis(350) && took < Duration::from_secs(5),
        "waited {took:?} for wait_ms=400"
    );

    let started = Instant::now();
    let r = sys
        .search_with(&[("q", "compass"), ("min_seq", &far), ("wait_ms", "0")])
        .await;
    assert_eq!(r.body["caught_up"], false, "{}", r.text);
    assert!(started.elapsed() < Duration::from_secs(2));

    // A seq already indexed is caught up at once; no min_seq is always caught up.
    let r = sys
        .search_with(&[
            ("q", "compass"),
            ("min_seq", &seq.to_string()),
            ("wait_ms", "0"),
        ])
        .await;
    assert_eq!(r.body["caught_up"], true, "{}", r.text);
    let r = sys.search("compass").await;
    assert_eq!(r.body["caught_up"], true, "{}", r.text);
    assert_eq!(hits(&r).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_and_metrics_follow_the_feed() {
    let sys = SearchSystem::start().await;
    let before = sys
        .wait_metrics(&["search_commits_total"], Duration::from_secs(5), |v| {
            v[0].is_some()
        })
        .await[0]
        .unwrap();
    let mut seq = 0;
    for i in 0..8 {
        let id = format!("mt{i}");
        seq = sys
            .put_product(&id, &name_with_token(&id, "Tin box"), "", "kitchen")
            .await;
    }
    let last = sys.delete_product("mt0").await;
    assert!(last > seq);
    let r = sys.search_after("tin", last).await;
    assert_eq!(total(&r), 7, "{}", r.text);

    let details = sys.wait_caught_up(last).await;
    assert_eq!(details["bootstrapped"], true);
    assert_eq!(details["indexed_seq"], last, "{details}");
    assert_eq!(details["catalog_head_seq"], last, "{details}");
    let last = last as f64;
    let values = sys
        .wait_metrics(
            &[
                "search_indexed_seq",
                "search_catalog_head_seq",
                "search_lag_events",
                "search_documents",
                "search_commits_total",
                "search_last_applied_age_ms",
            ],
            Duration::from_secs(10),
            |v| {
                v[0] == Some(last)
                    && v[1] == Some(last)
                    && v[2] == Some(0.0)
                    && v[3] == Some(7.0)
                    && v[4].is_some_and(|c| c > before)
                    && v[5].is_some_and(|a| a >= 0.0)
            },
        )
        .await;
    assert!(values[5].unwrap() < 60_000.0, "{values:?}");
}
