//! `GET /v1/search`: search-node's hits, in its order, with live price and stock.

use reqwest::Method;
use serde_json::{Value, json};
use system_tests::composer::batch_get_route;
use system_tests::search::search_path;
use system_tests::{ComposerSystem, ServerTiming};

use crate::{assert_complete, batch_ids};

fn hits(reply: &system_tests::http::Reply) -> Vec<Value> {
    reply.body["hits"]
        .as_array()
        .unwrap_or_else(|| panic!("no hits in {}", reply.text))
        .clone()
}

fn ids(hits: &[Value]) -> Vec<String> {
    hits.iter()
        .map(|h| h["product_id"].as_str().unwrap().to_owned())
        .collect()
}

/// Checks the composer's answer against search-node's for the same query, and every hit's
/// live fields against the catalog.
async fn assert_hydrated(
    sys: &ComposerSystem,
    composed: &system_tests::http::Reply,
    direct: &Value,
) {
    assert_complete(composed);
    let got = hits(composed);
    let want = direct["hits"].as_array().unwrap();
    assert_eq!(ids(&got), ids(want), "hits are in search-node's order");
    assert_eq!(composed.body["total"], direct["total"]);
    for (hit, raw) in got.iter().zip(want) {
        assert_eq!(hit["score"], raw["score"], "{hit}");
        assert_eq!(hit["category"], raw["category"], "{hit}");
        let now = sys.product(hit["product_id"].as_str().unwrap()).await;
        for field in ["name", "price_minor", "currency", "stock"] {
            assert_eq!(
                hit[field], now[field],
                "{field} of {hit} vs the catalog's {now}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hits_keep_the_search_order_and_carry_live_price_and_stock() {
    let sys = ComposerSystem::start().await;
    let path = search_path(&[("q", "kettlebell"), ("limit", "10")]);
    let direct = sys.search_shop().get(&path).await;
    assert_eq!(direct.status, 200, "{}", direct.text);
    assert_eq!(direct.body["hits"].as_array().unwrap().len(), 10);
    sys.reset_counts();

    let composed = sys.composer().get(&path).await;
    assert_hydrated(&sys, &composed, &direct.body).await;
    let timing = ServerTiming::of(&composed);
    assert_eq!(timing.calls, 2, "{timing:?}");
    assert_eq!(timing.names(), ["search", "catalog"]);
    let searched = sys.search_proxy.all_requests();
    assert_eq!(searched.len(), 1);
    assert_eq!(
        (searched[0].path.as_str(), searched[0].query.as_deref()),
        ("/v1/search", Some("q=kettlebell&limit=10"))
    );
    assert_eq!(sys.catalog_proxy.total(), 1);
    let batches = batch_ids(&sys.catalog_proxy.requests(&batch_get_route()));
    assert_eq!(batches, vec![ids(&hits(&composed)).into_iter().collect()]);

    // The third hit is repriced and restocked: the composer shows it at once.
    let third = ids(&hits(&composed))[2].clone();
    let before = sys.product(&third).await;
    let patched = sys
        .catalog_admin()
        .send(
            Method::PATCH,
            &format!("/v1/products/{third}"),
            Some(&json!({"price_minor": 12_345})),
            &[("if-match", "*")],
        )
        .await;
    assert!(patched.status.is_success(), "{}", patched.text);
    let seq = sys.change_stock(&third, 7).await;
    let path = search_path(&[
        ("q", "kettlebell"),
        ("limit", "10"),
        ("min_seq", &seq.to_string()),
        ("wait_ms", "10000"),
    ]);
    let composed = sys.composer().get(&path).await;
    let direct = sys.search_shop().get(&path).await;
    assert_eq!(direct.status, 200, "{}", direct.text);
    assert_hydrated(&sys, &composed, &direct.body).await;
    let hit = hits(&composed)
        .into_iter()
        .find(|h| h["product_id"] == third.as_str())
        .unwrap_or_else(|| panic!("{third} left the hits: {}", composed.text));
    assert_eq!(hit["price_minor"], 12_345, "{hit}");
    assert_eq!(
        hit["stock"].as_u64(),
        Some(before["stock"].as_u64().unwrap() + 7),
        "{hit}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_hits_cost_one_call_and_bad_queries_are_search_nodes_400() {
    let sys = ComposerSystem::start().await;
    sys.reset_counts();
    let none = sys.composer().get(&search_path(&[("q", "zzyzxqwv")])).await;
    assert_complete(&none);
    assert_eq!(none.body["hits"], json!([]), "{}", none.text);
    assert_eq!(none.body["total"], 0);
    assert_eq!(ServerTiming::of(&none).calls, 1);
    assert_eq!(sys.catalog_proxy.total(), 0);

    for params in [
        vec![("q", "kettlebell"), ("limit", "1000")],
        vec![("q", "")],
        vec![("q", "kettlebell"), ("colour", "red")],
    ] {
        let path = search_path(&params);
        let composed = sys.composer().get(&path).await;
        let direct = sys.search_shop().get(&path).await;
        assert_eq!(direct.status, 400, "{path}: {}", direct.text);
        assert_eq!(composed.status, 400, "{path}: {}", composed.text);
        assert_eq!(composed.body, direct.body, "{path}");
    }
    // A missing q, too.
    let composed = sys.composer().get("/v1/search").await;
    let direct = sys.search_shop().get("/v1/search").await;
    assert_eq!(direct.status, 400, "{}", direct.text);
    assert_eq!(
        (composed.status, &composed.body),
        (direct.status, &direct.body)
    );
    assert_eq!(sys.catalog_proxy.total(), 0);
}
