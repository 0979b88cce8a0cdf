//! Upstreams down, failing or hanging: a missing catalog degrades the answer within the
//! budget; a missing primary service (order-node, search-node) is a 503.

use std::time::Duration;

use serde_json::Value;
use system_tests::composer::{BUDGET, batch_get_route};
use system_tests::search::search_path;
use system_tests::{ComposerSystem, Mode, ServerTiming, product};

use crate::{
    assert_catalog_degraded, assert_complete, assert_view_matches_order, id_of, lines, views,
};

/// Answers must come well within this while an upstream is down or hanging.
const WITHIN: Duration = Duration::from_secs(3);

/// A degraded order view: the order as order-node has it, every line's product null.
fn assert_degraded_view(reply: &system_tests::http::Reply, order: &Value) {
    assert_catalog_degraded(reply);
    assert_view_matches_order(&reply.body, order);
    for line in lines(&reply.body) {
        assert_eq!(line["product"], Value::Null, "{line}");
    }
}

async fn seed(sys: &ComposerSystem) -> (Value, Value) {
    sys.put_product("a", &product("A", 100, 20)).await;
    sys.put_product("b", &product("B", 200, 20)).await;
    let o1 = sys.place("gus", &[("a", 1), ("b", 2)]).await;
    let o2 = sys.place("gus", &[("b", 1)]).await;
    (o1, o2)
}

async fn assert_page_degraded(sys: &ComposerSystem) {
    let (page, took) = sys.get_timed("/v1/customers/gus/order-views").await;
    assert!(took < WITHIN, "the page took {took:?}");
    assert_catalog_degraded(&page);
    let got = views(&page);
    assert_eq!(got.len(), 2, "{}", page.text);
    for view in &got {
        assert_eq!(view["degraded"], true, "{view}");
        for line in lines(view) {
            assert_eq!(line["product"], Value::Null, "{line}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_or_killed_catalog_degrades_the_answer() {
    let mut sys = ComposerSystem::start_with(false).await;
    let (o1, _) = seed(&sys).await;
    let id = id_of(&o1);

    // Unreachable: connections are closed unanswered.
    sys.catalog_proxy.set_mode(Mode::Down);
    let (view, took) = sys.get_timed(&format!("/v1/order-views/{id}")).await;
    assert!(took < WITHIN, "took {took:?}");
    assert_degraded_view(&view, &o1);
    assert_eq!(ServerTiming::of(&view).names(), ["orders", "catalog"]);
    assert_page_degraded(&sys).await;

    // Failing: the batch read gets 502.
    sys.catalog_proxy
        .set_mode(Mode::FailRoute(batch_get_route()));
    let (view, took) = sys.get_timed(&format!("/v1/order-views/{id}")).await;
    assert!(took < WITHIN, "took {took:?}");
    assert_degraded_view(&view, &o1);

    // Back: whole again.
    sys.catalog_proxy.set_mode(Mode::Forward);
    let view = sys.order_view(&id).await;
    assert_complete(&view);
    assert!(lines(&view.body).iter().all(|l| l["product"].is_object()));

    // Killed: the process is gone.
    sys.catalog.node.kill9().await;
    let (view, took) = sys.get_timed(&format!("/v1/order-views/{id}")).await;
    assert!(took < WITHIN, "took {took:?}");
    assert_degraded_view(&view, &o1);
    assert_page_degraded(&sys).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_catalog_is_given_up_on_within_the_budget() {
    let sys = ComposerSystem::start_with(false).await;
    let (o1, _) = seed(&sys).await;
    let id = id_of(&o1);

    // Slow but within the budget: just slow.
    sys.catalog_proxy
        .set_mode(Mode::Delay(batch_get_route(), Duration::from_millis(500)));
    let (view, took) = sys.get_timed(&format!("/v1/order-views/{id}")).await;
    assert_complete(&view);
    assert!(took >= Duration::from_millis(500), "took {took:?}");
    assert!(lines(&view.body).iter().all(|l| l["product"].is_object()));

    // Never answering: given up on after the budget.
    sys.catalog_proxy.set_mode(Mode::HangAll);
    let (view, took) = sys.get_timed(&format!("/v1/order-views/{id}")).await;
    assert!(
        took >= BUDGET.mul_f64(0.9) && took < WITHIN,
        "a hanging catalog answered after {took:?} (budget {BUDGET:?})"
    );
    assert_degraded_view(&view, &o1);
    let catalog_ms = ServerTiming::of(&view).dur("catalog").unwrap();
    assert!(
        (BUDGET.as_millis() as f64 * 0.9..WITHIN.as_millis() as f64).contains(&catalog_ms),
        "catalog;dur={catalog_ms}"
    );
    assert_page_degraded(&sys).await;

    // The held requests fail once the catalog is back; new ones are whole.
    sys.catalog_proxy.set_mode(Mode::Forward);
    assert_complete(&sys.order_view(&id).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_without_the_catalog_is_degraded_not_failed() {
    let mut sys = ComposerSystem::start_with(false).await;
    sys.put_product("lamp-1", &product("Reading lamp", 100, 3))
        .await;
    let seq = sys
        .put_product("lamp-2", &product("Desk lamp", 200, 0))
        .await;
    let path = search_path(&[
        ("q", "lamp"),
        ("min_seq", &seq.to_string()),
        ("wait_ms", "10000"),
    ]);
    let whole = sys.composer().get(&path).await;
    assert_complete(&whole);
    assert_eq!(
        whole.body["hits"].as_array().unwrap().len(),
        2,
        "{}",
        whole.text
    );

    sys.catalog.node.kill9().await;
    let (r, took) = sys.get_timed(&path).await;
    assert!(took < WITHIN, "took {took:?}");
    assert_catalog_degraded(&r);
    let hits = r.body["hits"].as_array().unwrap();
    assert_eq!(hits.len(), 2, "{}", r.text);
    for (hit, before) in hits.iter().zip(whole.body["hits"].as_array().unwrap()) {
        assert_eq!(hit["product_id"], before["product_id"]);
        assert_eq!(hit["name"], before["name"], "the name as indexed");
        for field in ["price_minor", "currency", "stock"] {
            assert_eq!(hit[field], Value::Null, "{field} of {hit}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_order_node_there_is_nothing_to_compose() {
    let mut sys = ComposerSystem::start_with(false).await;
    let (o1, _) = seed(&sys).await;
    let id = id_of(&o1);
    let order_body = system_tests::orders::order_body("gus", &[("a", 1)]);
    sys.reset_counts();

    let assert_unavailable = |r: &system_tests::http::Reply, took: Duration| {
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (503, "orders_unavailable"),
            "{}",
            r.text
        );
        assert!(took < WITHIN, "took {took:?}");
        assert!(r.header("location").is_none());
    };

    // Hanging: given up on after the budget.
    sys.orders_proxy.set_mode(Mode::HangAll);
    let (r, took) = sys.get_timed(&format!("/v1/order-views/{id}")).await;
    assert_unavailable(&r, took);
    assert!(took >= BUDGET.mul_f64(0.9), "took {took:?}");
    let (r, took) = sys.get_timed("/v1/customers/gus/order-views").await;
    assert_unavailable(&r, took);

    // Unreachable.
    sys.orders_proxy.set_mode(Mode::Down);
    let (r, took) = sys.get_timed(&format!("/v1/order-views/{id}")).await;
    assert_unavailable(&r, took);
    let started = tokio::time::Instant::now();
    let r = sys
        .composer_for("gus")
        .post("/v1/orders", &order_body)
        .await;
    assert_unavailable(&r, started.elapsed());
    sys.orders_proxy.set_mode(Mode::Forward);

    // Killed: order-node's port is closed behind the proxy.
    sys.orders.kill9().await;
    let (r, took) = sys.get_timed(&format!("/v1/order-views/{id}")).await;
    assert_unavailable(&r, took);
    let (r, took) = sys.get_timed("/v1/customers/gus/order-views").await;
    assert_unavailable(&r, took);
    assert_eq!(ServerTiming::of(&r).calls, 1);
    // Nothing was composed, so the catalog was never asked.
    assert_eq!(sys.catalog_proxy.total(), 0);

    // Back: composed again.
    sys.orders.restart().await;
    let view = sys.order_view(&id).await;
    assert_complete(&view);
    assert_view_matches_order(&view.body, &o1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_search_node_search_is_503_and_views_still_work() {
    let mut sys = ComposerSystem::start_with(false).await;
    let (o1, _) = seed(&sys).await;
    let path = search_path(&[("q", "anything")]);

    sys.search_proxy.set_mode(Mode::HangAll);
    let (r, took) = sys.get_timed(&path).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (503, "search_unavailable"),
        "{}",
        r.text
    );
    assert!(
        took >= BUDGET.mul_f64(0.9) && took < WITHIN,
        "took {took:?}"
    );
    sys.search_proxy.set_mode(Mode::Forward);

    sys.search.kill9().await;
    let (r, took) = sys.get_timed(&path).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (503, "search_unavailable"),
        "{}",
        r.text
    );
    assert!(took < WITHIN, "took {took:?}");
    assert_eq!(sys.catalog_proxy.total(), 0);

    let view = sys.order_view(&id_of(&o1)).await;
    assert_complete(&view);
}
