//! Without `OTEL_EXPORTER_OTLP_ENDPOINT` a node exports nothing, though it still continues the
//! caller's trace in its log.

use system_tests::orders::{batch_get_route, reservations_route};
use system_tests::otlp::Collector;
use system_tests::{CatalogNode, ComposerSystem, OrderSystem};

use crate::{exporting_to, traceparent};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_without_an_endpoint_exports_nothing_but_logs_the_trace_id() {
    let collector = Collector::start().await;
    // The same settings as an exporting node, bar the endpoint, set empty (which counts as
    // unset) so that one in the test's own environment is not inherited.
    let mut env: Vec<_> = exporting_to(collector.endpoint())
        .into_iter()
        .filter(|(k, _)| k != "OTEL_EXPORTER_OTLP_ENDPOINT")
        .collect();
    for var in [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ] {
        env.push((var.to_owned(), String::new()));
    }
    let mut catalog: CatalogNode = ComposerSystem::start_catalog_with_env(false, &env).await;
    let trace_id = "0123456789abcdef0123456789abcdef";
    let read = catalog
        .as_role("reader")
        .send(
            reqwest::Method::GET,
            "/v1/products?limit=1",
            None,
            &[("traceparent", &traceparent(trace_id, "0123456789abcdef"))],
        )
        .await;
    assert_eq!(read.status, 200, "{}", read.text);
    assert_eq!(
        catalog.node.terminate().await,
        Some(0),
        "{}",
        catalog.node.log()
    );
    let log = catalog.node.log();
    assert!(
        log.lines()
            .any(|l| l.contains(&format!("trace_id={trace_id}")) && l.contains("answered")),
        "the catalog did not log the caller's trace id:\n{log}"
    );
    assert!(
        collector.spans().is_empty() && collector.content_types().is_empty(),
        "a node without OTEL_EXPORTER_OTLP_ENDPOINT exported: {:?}",
        collector.spans()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_endpoint_order_node_passes_the_callers_trace_on_to_the_catalog() {
    // Started with the test's environment, where no OTLP endpoint is set.
    let sys = OrderSystem::start().await;
    sys.seed(&[("lamp", "Lamp", 2500, 5)]).await;
    let trace_id = "fedcba9876543210fedcba9876543210";
    let caller = traceparent(trace_id, "00f067aa0ba902b7");
    let placed = sys
        .orders()
        .send(
            reqwest::Method::POST,
            "/v1/orders",
            Some(&system_tests::orders::order_body("ada", &[("lamp", 1)])),
            &[("traceparent", &caller), ("idempotency-key", "quiet-1")],
        )
        .await;
    assert_eq!(placed.status, 201, "{}", placed.text);
    // The batch read and the reservation (the latter on a saga task of its own) carry it.
    for route in [batch_get_route(), reservations_route()] {
        let seen = sys.proxy.requests(&route);
        assert_eq!(seen.len(), 1, "{route:?}");
        assert_eq!(seen[0].traceparent.as_deref(), Some(caller.as_str()));
    }
}
