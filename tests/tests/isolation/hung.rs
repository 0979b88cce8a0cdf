//! Upstreams that accept connections and never answer. The composer must give up on each
//! after its budget, answer as documented (degraded without the catalog, 503 without the
//! primary record's service), serve other requests meanwhile at full speed, and release its
//! connections to the hung upstream. order-node and search-node must keep serving reads
//! while their catalog hangs, and bound the writes that need it.

use std::time::Duration;

use reqwest::Method;
use system_tests::composer::{BUDGET, ComposerSystem, STAFF, WRITE_BUDGET};
use system_tests::identity;
use system_tests::orders::order_body;
use system_tests::search::search_path;
use tokio::task::JoinHandle;

use crate::{
    CATCH_UP_WITHIN, COMPOSED_WITHIN, Cable, Cluster, FAST, READ_WITHIN, REFUSED_WITHIN,
    SETTLE_WITHIN, Timed, assert_degraded_by_catalog, assert_whole, expect, expected_stock,
    has_hit, id_of, timed,
};

/// Asserts that a request was given up on after the budget, not before and not much after.
fn expect_given_up(what: &str, t: &Timed, status: u16, code: Option<&str>) {
    expect(what, t, status, code, COMPOSED_WITHIN);
    assert!(
        t.took >= BUDGET.mul_f64(0.9),
        "{what} answered after {:?}, before the budget of {BUDGET:?}: did it wait at all?",
        t.took
    );
}

/// Asserts that a placement through the composer was given up on after the write budget.
fn expect_write_given_up(what: &str, t: &Timed) {
    expect(
        what,
        t,
        503,
        Some("orders_unavailable"),
        WRITE_BUDGET + Duration::from_secs(1),
    );
    assert!(
        t.took >= WRITE_BUDGET.mul_f64(0.9),
        "{what} answered after {:?}, before the write budget of {WRITE_BUDGET:?}",
        t.took
    );
}

/// search-node's idle long-poll (10 s) plus the slack it allows the catalog (2 s), plus
/// margin: the longest a silent catalog may keep search-node from noticing.
const SILENT_CATALOG_NOTICED: Duration = Duration::from_secs(14);

fn spawn_get(what: &'static str, url: String) -> JoinHandle<(&'static str, Timed)> {
    let token = identity::staff_token(STAFF);
    tokio::spawn(async move {
        (
            what,
            timed(what, Method::GET, &url, Some(&token), None, &[]).await,
        )
    })
}

fn spawn_post(url: String, customer: &str) -> JoinHandle<(&'static str, Timed)> {
    let body = order_body(customer, &[("iso-pan", 1)]);
    let token = identity::token(customer);
    tokio::spawn(async move {
        let what = "placing through the composer";
        (
            what,
            timed(what, Method::POST, &url, Some(&token), Some(&body), &[]).await,
        )
    })
}

/// Checks that a hung upstream's connections are let go once the composer gave up.
async fn assert_released(name: &str, cable: &Cable) {
    let open = cable.wait_open_at_most(0, Duration::from_secs(3)).await;
    assert_eq!(
        open, 0,
        "edge-host still holds {open} connection(s) to the hung {name} after giving up"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_upstream_costs_the_composer_one_budget_and_nothing_more() {
    let mut c = Cluster::start(false).await;
    let catalog = Cable::start(&c.catalog_base).await;
    let orders = Cable::start(c.orders.base()).await;
    let search = Cable::start(c.search.base()).await;
    let urls = [catalog.base(), orders.base(), search.base()];
    c.host = Some(c.start_host(&urls, "edge-host.log").await);

    c.put("iso-pan", "Isolation pan isopan", 100).await;
    let seq = c.put("iso-pot", "Isolation pot isopot", 100).await;
    let order = c.place("cy", &[("iso-pan", 1), ("iso-pot", 2)]).await;
    c.place("cy", &[("iso-pot", 1)]).await;
    c.wait_indexed(seq, CATCH_UP_WITHIN).await;
    let id = id_of(&order);
    let base = c.composer().to_owned();
    let view = format!("/v1/order-views/{id}");
    let page = "/v1/customers/cy/order-views".to_owned();
    let find = search_path(&[("q", "isopan")]);
    assert_whole(
        "order view",
        &c.composer_get("order view", &view).await.reply,
    );

    // The catalog hangs: every composed answer is degraded after one budget.
    catalog.cut();
    let t = c.composer_get("order view", &view).await;
    expect_given_up("order view, catalog hung", &t, 200, None);
    assert_degraded_by_catalog("order view", &t.reply);
    let t = c.composer_get("customer page", &page).await;
    expect_given_up("customer page, catalog hung", &t, 200, None);
    assert_degraded_by_catalog("customer page", &t.reply);
    let t = c.composer_get("composed search", &find).await;
    expect_given_up("composed search, catalog hung", &t, 200, None);
    assert_degraded_by_catalog("composed search", &t.reply);
    assert!(has_hit(&t.reply, "iso-pan"), "{}", t.reply.text);
    // Placing does not need the composer's catalog (order-node has its own way there).
    let t = c.composer_place("cy", &[("iso-pan", 1)]).await;
    expect(
        "placing through the composer, catalog hung",
        &t,
        201,
        None,
        FAST,
    );
    // Hung requests are waited for concurrently, not one after the other.
    let started = tokio::time::Instant::now();
    let burst: Vec<_> = (0..8)
        .map(|_| spawn_get("order view", format!("{base}{view}")))
        .collect();
    let t = c.composer_get("health", "/healthz").await;
    expect("health during 8 hung views", &t, 200, None, FAST);
    for task in burst {
        let (what, t) = task.await.expect("task");
        expect_given_up(what, &t, 200, None);
    }
    let wall = started.elapsed();
    assert!(wall < COMPOSED_WITHIN, "8 concurrent views took {wall:?}");
    println!("8 concurrent views with the catalog hung: {wall:?}");
    assert_released("catalog", &catalog).await;
    catalog.mend();
    let t = c.composer_get("order view", &view).await;
    expect("order view, catalog back", &t, 200, None, FAST);
    assert_whole("order view", &t.reply);

    // order-node hangs: no order to compose, 503 after one budget; search is untouched.
    orders.cut();
    let t = c.composer_get("order view", &view).await;
    expect_given_up(
        "order view, order-node hung",
        &t,
        503,
        Some("orders_unavailable"),
    );
    let t = c.composer_get("customer page", &page).await;
    expect_given_up(
        "customer page, order-node hung",
        &t,
        503,
        Some("orders_unavailable"),
    );
    let t = c.composer_place("cy", &[("iso-pan", 1)]).await;
    expect_write_given_up("placing, order-node hung", &t);
    let t = c.composer_get("composed search", &find).await;
    expect("composed search, order-node hung", &t, 200, None, FAST);
    assert_whole("composed search", &t.reply);
    assert_released("order-node", &orders).await;
    orders.mend();

    // search-node hangs: search is 503 after one budget; orders are untouched.
    search.cut();
    let t = c.composer_get("composed search", &find).await;
    expect_given_up(
        "composed search, search-node hung",
        &t,
        503,
        Some("search_unavailable"),
    );
    let t = c.composer_get("order view", &view).await;
    expect("order view, search-node hung", &t, 200, None, FAST);
    assert_whole("order view", &t.reply);
    assert_released("search-node", &search).await;
    search.mend();

    // Everything hangs at once, under concurrent load of every kind. Nothing asks the
    // catalog then (each composition stops at the hung service it asks first), so the
    // keep-alive connections edge-host holds to it stay idle, and may stay open: it gave up
    // on no call to the catalog. It must not open more.
    let idle_to_catalog = catalog.open();
    for cable in [&catalog, &orders, &search] {
        cable.cut();
    }
    let started = tokio::time::Instant::now();
    let mut burst = Vec::new();
    for i in 0..4 {
        burst.push(spawn_get("order view", format!("{base}{view}")));
        burst.push(spawn_get("customer page", format!("{base}{page}")));
        burst.push(spawn_get("composed search", format!("{base}{find}")));
        if i < 2 {
            burst.push(spawn_post(format!("{base}/v1/orders"), "cy"));
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let t = c.composer_get("health", "/healthz").await;
    expect("health while 14 requests hang", &t, 200, None, FAST);
    for task in burst {
        let (what, t) = task.await.expect("task");
        match what {
            "placing through the composer" => expect_write_given_up(what, &t),
            "composed search" => expect_given_up(what, &t, 503, Some("search_unavailable")),
            _ => expect_given_up(what, &t, 503, Some("orders_unavailable")),
        }
    }
    // The reads were given up on after one budget, the placements after the write budget,
    // all concurrently.
    let wall = started.elapsed();
    assert!(
        wall < WRITE_BUDGET + Duration::from_secs(1),
        "14 concurrent requests took {wall:?}"
    );
    println!("14 concurrent requests with every upstream hung: {wall:?}");
    for (name, cable) in [("order-node", &orders), ("search-node", &search)] {
        assert_released(name, cable).await;
        cable.mend();
    }
    let open = catalog.open();
    assert!(
        open <= idle_to_catalog,
        "edge-host opened connections to the catalog that nothing asked: {open} > {idle_to_catalog}"
    );
    catalog.mend();

    // Not wedged: whole answers at full speed right after.
    let t = c.composer_get("order view", &view).await;
    expect("order view, all back", &t, 200, None, FAST);
    assert_whole("order view", &t.reply);
    let t = c.composer_get("composed search", &find).await;
    expect("composed search, all back", &t, 200, None, FAST);
    assert_whole("composed search", &t.reply);
    // The placements swallowed by the hung order-node never arrived; only the one placed
    // while the catalog hung was stored.
    assert_eq!(c.order_ids("cy").await.len(), 3, "{}", c.logs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_node_and_search_node_serve_reads_while_their_catalog_hangs() {
    let catalog = ComposerSystem::start_catalog(false).await;
    let base = catalog.node.base().to_owned();
    let cable = Cable::start(&base).await;
    let mut c = Cluster::start_wired(catalog, base.clone(), &cable.base()).await;
    let urls = [base, c.orders.base().to_owned(), c.search.base().to_owned()];
    c.host = Some(c.start_host(&urls, "edge-host.log").await);
    c.put("iso-bowl", "Isolation bowl isobowl", 50).await;
    c.put("iso-cup", "Isolation cup isocup", 50).await;
    let kept = c.place("dee", &[("iso-bowl", 2)]).await;
    let cancelled = c.place("dee", &[("iso-cup", 3)]).await;
    // Once the reservations' stock changes are indexed, search-node's next long-poll starts
    // right away, so the cut below catches it at its start: the worst case for noticing.
    let head = c.catalog_head().await;
    c.wait_indexed(head, CATCH_UP_WITHIN).await;
    let (kept, cancelled) = (id_of(&kept), id_of(&cancelled));

    // The catalog goes silent, pooled connections included.
    cable.cut();
    let cut_at = tokio::time::Instant::now();
    let placing = {
        let url = format!("{}/v1/orders", c.orders.base());
        let token = c.shop_token();
        let body = order_body("dee", &[("iso-bowl", 1)]);
        tokio::spawn(async move {
            timed(
                "placing",
                Method::POST,
                &url,
                Some(&token),
                Some(&body),
                &[],
            )
            .await
        })
    };
    // The same through the composer: it must wait for order-node's own verdict, not give up
    // first and answer 503 for an order order-node might still store.
    let composed = {
        let url = format!("{}/v1/orders", c.composer());
        let body = order_body("dee", &[("iso-bowl", 1)]);
        let token = identity::token("dee");
        tokio::spawn(async move {
            timed(
                "placing through the composer",
                Method::POST,
                &url,
                Some(&token),
                Some(&body),
                &[],
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    // While that placement waits on the catalog, reads are served at once.
    let t = c
        .orders_get("GET one order", &format!("/v1/orders/{kept}"))
        .await;
    expect("GET one order, catalog hung", &t, 200, None, READ_WITHIN);
    let t = c.orders_get("list", "/v1/orders?customer_id=dee").await;
    expect("list, catalog hung", &t, 200, None, READ_WITHIN);
    let t = c
        .orders_get("batch read", &format!("/v1/orders?ids={kept},{cancelled}"))
        .await;
    expect("batch read, catalog hung", &t, 200, None, READ_WITHIN);
    let t = c.search_direct("isobowl").await;
    expect(
        "search at search-node, catalog hung",
        &t,
        200,
        None,
        READ_WITHIN,
    );
    assert!(has_hit(&t.reply, "iso-bowl"), "{}", t.reply.text);
    assert!(
        !placing.is_finished(),
        "the placement did not wait for the catalog"
    );
    let t = placing.await.expect("task");
    expect(
        "placing, catalog hung",
        &t,
        503,
        Some("catalog_unavailable"),
        REFUSED_WITHIN,
    );
    let t = composed.await.expect("task");
    expect(
        "placing through the composer, catalog hung",
        &t,
        503,
        Some("catalog_unavailable"),
        REFUSED_WITHIN,
    );
    let t = c.cancel(&cancelled).await;
    expect("cancelling, catalog hung", &t, 202, None, REFUSED_WITHIN);
    assert_eq!(t.reply.body["status"], "cancelling");
    // The catalog changes meanwhile, out of search-node's sight.
    let seq = c.put("iso-plate", "Isolation plate isoplate", 5).await;
    assert_eq!(
        c.order_ids("dee").await.len(),
        2,
        "a refused order was stored"
    );

    cable.mend();
    let mended_at = tokio::time::Instant::now();
    let took = c.wait_status(&cancelled, "cancelled", SETTLE_WITHIN).await;
    println!("the parked cancellation settled {took:?} after the catalog answered again");
    let t = c.place_timed("dee", &[("iso-bowl", 1)], None).await;
    expect("placing, catalog back", &t, 201, None, FAST * 2);
    c.wait_indexed(seq, CATCH_UP_WITHIN).await;
    let since_cut = cut_at.elapsed();
    println!(
        "search-node caught up {:?} after the catalog answered again ({since_cut:?} after the \
         cut)",
        mended_at.elapsed()
    );
    // Its long-poll (10 s when idle) is given up 2 s past its wait: a silent catalog costs
    // at most 12 s from the poll's start, however long the silence lasted.
    assert!(
        since_cut < SILENT_CATALOG_NOTICED,
        "search-node took {since_cut:?} from the cut to catch up; a silent catalog must be \
         given up on within {SILENT_CATALOG_NOTICED:?}\n{}",
        c.logs()
    );
    let t = c.search_direct("isoplate").await;
    assert!(has_hit(&t.reply, "iso-plate"), "{}", t.reply.text);

    let all = c.orders_get("listing", "/v1/orders?customer_id=dee").await;
    let orders = all.reply.body["orders"].as_array().expect("orders").clone();
    for (id, want) in expected_stock(&[("iso-bowl", 50), ("iso-cup", 50)], &orders) {
        assert_eq!(c.stock(&id).await, want, "{id}");
    }
}
