//! The same composer on the wasmtime CLI: `wasmtime serve` runs `edge_composer.wasm` with
//! `config-from-env` plugged into its config import, in front of the same nodes (through the
//! same proxies) as edge-host, and must answer as edge-host does.

use system_tests::search::search_path;
use system_tests::wasmtime_serve::{HOW_TO_INSTALL, WasmtimeServe, composed_wasm, wasmtime_bin};
use system_tests::{Client, ComposerSystem, ServerTiming, identity};

use crate::{assert_complete, assert_view_matches_order, demo_ids, id_of};

/// Ignored in a plain run, where wasmtime may be missing: `scripts/test` installs wasmtime
/// and builds the composed component, then runs it with `--ignored`, and says SKIPPED when
/// it cannot, so that it is counted as skipped, never as passed without having run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs wasmtime 49 and edge_composer.wasmtime.wasm; scripts/test installs, builds and runs it"]
async fn wasmtime_serve_answers_as_edge_host_does() {
    let wasmtime = wasmtime_bin()
        .unwrap_or_else(|why| panic!("wasmtime is not available: {why}. {HOW_TO_INSTALL}"));
    let component = composed_wasm().unwrap_or_else(|why| panic!("{why}"));
    let sys = ComposerSystem::start().await;
    let serve = WasmtimeServe::start(
        &wasmtime,
        &component,
        &sys.host_vars(identity::vars()),
        &sys.dir.path().join("wasmtime.log"),
    )
    .await;
    assert!(
        serve.base().starts_with("http://127.0.0.1:"),
        "wasmtime serve must listen on loopback only: {}",
        serve.base()
    );
    let as_customer = |subject: &str| Client::new(serve.base(), Some(identity::token(subject)));

    // An order view, as its customer: the same bytes as edge-host's, from the same calls.
    let ids = demo_ids(0, 3, 3);
    let order = sys
        .place(
            "alma",
            &[
                (ids[0].as_str(), 2),
                (ids[1].as_str(), 1),
                (ids[2].as_str(), 3),
            ],
        )
        .await;
    let path = format!("/v1/order-views/{}", id_of(&order));
    let on_host = sys.composer_for("alma").get(&path).await;
    assert_complete(&on_host);
    sys.reset_counts();
    let on_wasmtime = as_customer("alma").get(&path).await;
    assert_complete(&on_wasmtime);
    assert_view_matches_order(&on_wasmtime.body, &order);
    assert_eq!(on_wasmtime.text, on_host.text, "{}", serve.log());
    assert_eq!(
        on_wasmtime.header("content-type").as_deref(),
        Some("application/json")
    );
    let timing = ServerTiming::of(&on_wasmtime);
    assert_eq!(timing.names(), ["orders", "catalog"], "{timing:?}");
    assert_eq!(timing.calls, 2, "{timing:?}");
    // Through the upstreams its variables name, with the tokens they give.
    assert_eq!(sys.orders_proxy.total(), 1);
    assert_eq!(sys.catalog_proxy.total(), 1);

    // Another customer's order is refused alike.
    let on_host = sys.composer_for("bo").get(&path).await;
    let on_wasmtime = as_customer("bo").get(&path).await;
    assert!(on_host.status.is_client_error(), "{}", on_host.text);
    assert_eq!(
        (on_wasmtime.status, &on_wasmtime.body),
        (on_host.status, &on_host.body)
    );

    // Search: search-node's hits, hydrated with the catalog's live fields.
    let search = search_path(&[("q", "kettlebell"), ("limit", "10")]);
    let on_host = sys.composer().get(&search).await;
    assert_complete(&on_host);
    sys.reset_counts();
    let on_wasmtime = as_customer("alma").get(&search).await;
    assert_complete(&on_wasmtime);
    assert_eq!(on_wasmtime.text, on_host.text);
    assert_eq!(
        on_wasmtime.body["hits"].as_array().map(Vec::len),
        Some(10),
        "{}",
        on_wasmtime.text
    );
    assert_eq!(sys.search_proxy.total(), 1);
    assert_eq!(sys.catalog_proxy.total(), 1);

    // No token: 401, as on edge-host, and no upstream is asked.
    sys.reset_counts();
    let on_host = sys.composer_with(None).get(&path).await;
    let on_wasmtime = Client::new(serve.base(), None).get(&path).await;
    assert_eq!(on_wasmtime.status, 401, "{}", on_wasmtime.text);
    assert_eq!(
        (on_wasmtime.status, &on_wasmtime.body),
        (on_host.status, &on_host.body)
    );
    assert_eq!(
        sys.orders_proxy.total() + sys.catalog_proxy.total() + sys.search_proxy.total(),
        0
    );
}
