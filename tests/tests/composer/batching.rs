//! One lookup hop per composed request: 1,500 distinct products are two batch reads of at
//! most 1,000 ids, sent at the same time.

use std::collections::BTreeSet;
use std::time::Duration;

use futures::StreamExt;
use system_tests::composer::{batch_get_route, demo_products};
use system_tests::{ComposerSystem, Mode, ServerTiming};

use crate::{assert_complete, batch_ids, id_of, lines, views};

const DELAY: Duration = Duration::from_millis(800);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifteen_hundred_products_are_two_concurrent_batches() {
    let sys = ComposerSystem::start().await;
    let demo = demo_products();
    let chosen: Vec<(String, u64)> = demo
        .iter()
        .take(1500)
        .map(|p| {
            (
                p["id"].as_str().unwrap().to_owned(),
                p["stock"].as_u64().unwrap(),
            )
        })
        .collect();
    // Give the sold-out ones stock, so that both orders can be placed.
    let restock = chosen
        .iter()
        .filter(|(_, stock)| *stock == 0)
        .map(|(id, _)| sys.change_stock(id, 5));
    futures::stream::iter(restock)
        .buffer_unordered(8)
        .collect::<Vec<u64>>()
        .await;
    let ids: Vec<&str> = chosen.iter().map(|(id, _)| id.as_str()).collect();
    let first: Vec<(&str, u32)> = ids[..750].iter().map(|id| (*id, 1)).collect();
    let second: Vec<(&str, u32)> = ids[750..].iter().map(|id| (*id, 1)).collect();
    let o1 = sys.place("bulk", &first).await;
    let o2 = sys.place("bulk", &second).await;

    // Without delay first: three calls, the two batches naming every id exactly once.
    sys.reset_counts();
    let page = sys.customer_views("bulk", "").await;
    assert_complete(&page);
    assert_eq!(
        ServerTiming::of(&page).calls,
        3,
        "{:?}",
        page.header("server-timing")
    );
    let batches = batch_ids(&sys.catalog_proxy.requests(&batch_get_route()));
    let mut sizes: Vec<usize> = batches.iter().map(BTreeSet::len).collect();
    sizes.sort_unstable();
    assert_eq!(sizes, [500, 1000]);
    let union: BTreeSet<String> = batches.iter().flatten().cloned().collect();
    assert_eq!(union.len(), 1500, "the batches overlap");
    assert_eq!(union, ids.iter().map(|s| (*s).to_owned()).collect());
    assert_eq!(sys.catalog_proxy.total(), 2);
    assert_eq!(sys.orders_proxy.total(), 1);

    // Each batch read now takes DELAY: sent together, the hop takes one DELAY, not two.
    sys.reset_counts();
    sys.catalog_proxy
        .set_mode(Mode::Delay(batch_get_route(), DELAY));
    let composer = sys.composer();
    let started = tokio::time::Instant::now();
    let request = tokio::spawn(async move {
        let r = composer.get("/v1/customers/bulk/order-views").await;
        (r, started.elapsed())
    });
    sys.catalog_proxy
        .wait_for(&batch_get_route(), 2, Duration::from_secs(10))
        .await;
    assert_eq!(
        sys.catalog_proxy.forwarded(&batch_get_route()),
        0,
        "the second batch was sent only after the first was answered"
    );
    let (page, took) = request.await.unwrap();
    assert_complete(&page);
    let timing = ServerTiming::of(&page);
    assert_eq!(timing.calls, 3, "{timing:?}");
    assert_eq!(timing.names(), ["orders", "catalog"]);
    let catalog_ms = timing.dur("catalog").unwrap();
    assert!(
        (DELAY.as_millis() as f64..1.5 * DELAY.as_millis() as f64).contains(&catalog_ms),
        "catalog;dur={catalog_ms} with two batches of {DELAY:?} each: {timing:?}"
    );
    assert!(
        took >= DELAY && took < Duration::from_millis(1500),
        "the page took {took:?} with two batches of {DELAY:?} each"
    );
    assert_eq!(sys.catalog_proxy.count_matching(&batch_get_route()), 2);

    // And the page is whole.
    let got = views(&page);
    assert_eq!(
        got.iter().map(id_of).collect::<BTreeSet<_>>(),
        [id_of(&o1), id_of(&o2)].into_iter().collect()
    );
    for view in &got {
        let l = lines(view);
        assert_eq!(l.len(), 750);
        for line in &l {
            assert!(line["product"].is_object(), "{line}");
        }
    }
}
