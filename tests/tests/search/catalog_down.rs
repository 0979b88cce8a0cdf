//! The catalog restarted, unreachable, or unreachable from the start.

use serde_json::json;
use system_tests::search::{CATCH_UP_WITHIN, hit_ids, name_with_token, token_of, total};
use system_tests::{CatalogNode, Mode, SearchSystem};

use crate::{assert_absent, assert_found, seed};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catalog_restart_is_survived() {
    let mut sys = SearchSystem::start().await;
    let seq = seed(&sys, "s", 5, "Saddle bag", "sports").await;
    assert_eq!(total(&sys.search_after("saddle", seq).await), 5);

    sys.catalog.node.kill9().await;
    // Searches are answered from the index meanwhile.
    let r = sys.search("saddle").await;
    assert_eq!(total(&r), 5, "{}", r.text);
    let details = sys
        .wait_readyz("seeing the catalog gone", CATCH_UP_WITHIN, |status, d| {
            status == 200 && d["catalog_reachable"] == false
        })
        .await;
    assert_eq!(details["bootstrapped"], true);
    assert_eq!(total(&sys.search("saddle").await), 5);

    sys.catalog.node.restart().await;
    let renamed = name_with_token("s0", "Bike pannier");
    sys.patch_product("s0", &json!({ "name": renamed })).await;
    sys.delete_product("s1").await;
    let added = name_with_token("s9", "Saddle cover");
    let seq = sys.put_product("s9", &added, "", "sports").await;
    let r = sys.search_after("saddle", seq).await;
    assert_eq!(r.body["caught_up"], true, "{}", r.text);
    assert_eq!(total(&r), 4, "{}", r.text);
    assert_found(&sys, "s0", &renamed).await;
    assert_absent(&sys, "s1").await;
    assert_found(&sys, "s9", &added).await;
    sys.wait_caught_up(seq).await;
    sys.index_equals_catalog().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_is_served_from_the_index_and_caught_up_afterwards() {
    let sys = SearchSystem::start_proxied().await;
    let seq = seed(&sys, "o", 6, "Rain jacket", "apparel").await;
    let r = sys.search_after("jacket", seq).await;
    assert_eq!(total(&r), 6, "{}", r.text);

    let details = sys.catalog_down().await;
    assert_eq!(details["bootstrapped"], true, "{details}");
    let r = sys.readyz().await.unwrap();
    assert_eq!(r.status, 200, "still ready: {}", r.text);

    // The catalog changes while search-node cannot see it.
    let renamed = name_with_token("o0", "Wool scarf");
    sys.patch_product("o0", &json!({ "name": renamed })).await;
    sys.delete_product("o1").await;
    let added = name_with_token("o7", "Rain poncho");
    let seq = sys.put_product("o7", &added, "", "apparel").await;

    // Searches still answer, from the index as it was.
    let r = sys
        .search_with(&[
            ("q", "jacket"),
            ("min_seq", &seq.to_string()),
            ("wait_ms", "500"),
        ])
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["caught_up"], false, "{}", r.text);
    assert!(r.body["indexed_seq"].as_u64().unwrap() < seq, "{}", r.text);
    assert_eq!(total(&r), 6, "{}", r.text);
    assert_eq!(total(&sys.search("poncho").await), 0);
    let details = sys.readyz().await.unwrap().body["details"].clone();
    assert_eq!(details["catalog_reachable"], false, "{details}");

    sys.set_mode(Mode::Forward);
    let r = sys.search_after("rain", seq).await;
    assert_eq!(r.body["caught_up"], true, "{}", r.text);
    let mut ids = hit_ids(&r);
    ids.sort();
    assert_eq!(ids, ["o2", "o3", "o4", "o5", "o7"], "{}", r.text);
    assert_found(&sys, "o0", &renamed).await;
    assert_absent(&sys, "o1").await;
    let details = sys.wait_caught_up(seq).await;
    assert_eq!(details["catalog_reachable"], true);
    sys.index_equals_catalog().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_during_an_outage_serves_the_index_on_disk() {
    let mut sys = SearchSystem::start_proxied().await;
    let seq = seed(&sys, "d", 4, "Desk lamp", "office").await;
    assert_eq!(total(&sys.search_after("lamp", seq).await), 4);
    sys.wait_caught_up(seq).await;

    sys.catalog_down().await;
    sys.kill_search().await;
    sys.restart_search().await;
    let details = sys.wait_ready().await;
    assert_eq!(details["bootstrapped"], true, "{details}");
    assert!(details["indexed_seq"].as_u64().unwrap() >= seq, "{details}");
    assert_eq!(total(&sys.search("lamp").await), 4);
    sys.wait_readyz(
        "reporting the catalog unreachable",
        CATCH_UP_WITHIN,
        |s, d| s == 200 && d["catalog_reachable"] == false,
    )
    .await;

    sys.set_mode(Mode::Forward);
    let seq = sys.delete_product("d2").await;
    let r = sys.search_after("lamp", seq).await;
    assert_eq!(r.body["caught_up"], true, "{}", r.text);
    assert_eq!(total(&r), 3);
    sys.index_equals_catalog().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_catalog_a_new_node_is_not_ready_until_it_bootstraps() {
    let catalog = CatalogNode::start().await;
    let admin = catalog.as_role("admin");
    for i in 0..3 {
        let id = format!("n{i}");
        let body =
            system_tests::search::product_body(&name_with_token(&id, "Notebook"), "", "office");
        assert_eq!(
            admin.put(&format!("/v1/products/{id}"), &body).await.status,
            201
        );
    }
    let sys = SearchSystem::on_catalog(catalog, Some(Mode::Down)).await;
    // Long enough for a few bootstrap attempts.
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    let r = sys.readyz().await.unwrap();
    assert_eq!(r.status, 503, "ready without an index: {}", r.text);
    assert_eq!(r.body["details"]["bootstrapped"], false, "{}", r.text);
    assert_eq!(r.body["details"]["catalog_reachable"], false, "{}", r.text);
    // /healthz answers all the same.
    assert_eq!(sys.anonymous().get("/healthz").await.status, 200);

    sys.set_mode(Mode::Forward);
    sys.wait_ready().await;
    assert_eq!(total(&sys.search("notebook").await), 3);
    assert_eq!(hit_ids(&sys.search(&token_of("n1")).await), ["n1"]);
    sys.index_equals_catalog().await;
}
