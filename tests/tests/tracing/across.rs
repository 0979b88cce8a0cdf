//! One order placed and one order view read through the composer: each is one trace, from
//! edge-host's server span through its client spans, order-node's server and client spans,
//! to the catalog's server spans, every parent link as the calls were made. search-node's
//! feed reads are linked to the catalog's spans the same way.

use std::collections::HashMap;
use std::time::Instant;

use reqwest::Method;
use system_tests::backends::{Backends, Options};
use system_tests::orders::order_body;
use system_tests::otlp::{Collector, Kind, ReceivedSpan};
use system_tests::{Client, ComposerSystem, identity, product};

use crate::{exporting_to, find, show, trace_of, traceparent};

/// The one span of `trace` with this service, kind and name; panics with the trace otherwise.
fn one<'a>(
    trace: &HashMap<&'a str, &'a ReceivedSpan>,
    service: &str,
    kind: Kind,
    name: &str,
) -> &'a ReceivedSpan {
    let found = find(trace, service, kind, name);
    assert_eq!(
        found.len(),
        1,
        "expected one {kind:?} span {name:?} of {service}; the trace:\n{}",
        show(trace)
    );
    found[0]
}

/// The client span of `trace` from `service` whose URL ends with `path`.
fn call_to<'a>(
    trace: &HashMap<&'a str, &'a ReceivedSpan>,
    service: &str,
    path: &str,
) -> &'a ReceivedSpan {
    let found: Vec<_> = trace
        .values()
        .copied()
        .filter(|s| {
            s.service == service
                && s.kind == Kind::Client
                && s.attribute("url.full").is_some_and(|u| u.ends_with(path))
        })
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one call of {service} to {path}; the trace:\n{}",
        show(trace)
    );
    found[0]
}

fn assert_child(child: &ReceivedSpan, parent: &ReceivedSpan, trace: &HashMap<&str, &ReceivedSpan>) {
    assert_eq!(
        child.parent_id,
        parent.span_id,
        "{} {:?} is not the child of {} {:?}; the trace:\n{}",
        child.service,
        child.name,
        parent.service,
        parent.name,
        show(trace)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_placement_and_a_view_are_each_one_trace_across_edge_host_order_node_and_the_catalog() {
    let started = Instant::now();
    let collector = Collector::start().await;
    let env = exporting_to(collector.endpoint());
    let mut catalog = ComposerSystem::start_catalog_with_env(false, &env).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let catalog_url = catalog.node.base().to_owned();
    let options = Options {
        env: env.clone(),
        ..Options::quick_sagas()
    };
    let backends = Backends::start(dir.path(), &catalog.callers, &catalog_url, &options).await;
    let urls = [
        catalog_url.as_str(),
        backends.orders.base(),
        backends.search.base(),
    ];
    let mut host = backends
        .start_host(
            &catalog.callers,
            urls,
            &dir.path().join("edge-host.log"),
            &env,
        )
        .await;
    let Backends {
        mut orders,
        mut search,
        ..
    } = backends;

    let put = catalog
        .as_role("admin")
        .put("/v1/products/lamp", &product("Lamp", 2500, 10))
        .await;
    assert!(put.status.is_success(), "{}", put.text);
    let composer = Client::new(host.base(), Some(identity::token("eli")));

    // The placement comes without a traceparent: edge-host starts its trace.
    let placed = composer
        .send(
            Method::POST,
            "/v1/orders",
            Some(&order_body("eli", &[("lamp", 2)])),
            &[],
        )
        .await;
    assert_eq!(placed.status, 201, "{}", placed.text);
    assert_eq!(placed.body["status"], "confirmed", "{}", placed.text);
    let id = placed.body["id"].as_str().expect("an order id").to_owned();

    // The view continues the test's trace.
    let view_trace = "5e1f0c2d3b4a59687766554433221100";
    let caller_span = "a1b2c3d4e5f60718";
    let view = composer
        .send(
            Method::GET,
            &format!("/v1/order-views/{id}"),
            None,
            &[("traceparent", &traceparent(view_trace, caller_span))],
        )
        .await;
    assert_eq!(view.status, 200, "{}", view.text);
    assert_eq!(
        view.body["lines"][0]["product"]["name"], "Lamp",
        "{}",
        view.text
    );

    // Nothing is exported before the processes stop: the batch delay is a minute.
    assert!(
        collector.spans().iter().all(|s| s.service != "order-node"),
        "spans arrived before the stop, so the stop's flush is not what this test checks"
    );
    // Each stop flushes the process's last spans.
    assert_eq!(host.terminate().await, Some(0), "{}", host.log());
    assert_eq!(orders.terminate().await, Some(0), "{}", orders.log());
    assert_eq!(search.terminate().await, Some(0), "{}", search.log());
    assert_eq!(
        catalog.node.terminate().await,
        Some(0),
        "{}",
        catalog.node.log()
    );
    let spans = collector.spans();
    assert_eq!(collector.undecodable(), 0);
    assert!(
        collector
            .content_types()
            .iter()
            .all(|t| t == "application/x-protobuf"),
        "{:?}",
        collector.content_types()
    );

    // The placement: edge-host POST → its call to order-node → order-node's POST /v1/orders
    // → its two catalog calls → the catalog's batch read and reservation.
    let roots: Vec<_> = spans
        .iter()
        .filter(|s| {
            s.service == "edge-host"
                && s.kind == Kind::Server
                && s.name == "POST"
                && s.parent_id.is_empty()
        })
        .collect();
    assert_eq!(roots.len(), 1, "edge-host's placement span: {roots:?}");
    let edge = roots[0];
    let trace = trace_of(&spans, &edge.trace_id);
    let edge_call = call_to(&trace, "edge-host", "/v1/orders");
    assert_child(edge_call, edge, &trace);
    let placing = one(&trace, "order-node", Kind::Server, "POST /v1/orders");
    assert_child(placing, edge_call, &trace);
    assert_eq!(placing.attribute("http.response.status_code"), Some("201"));
    for (path, route) in [
        ("/v1/products:batchGet", "POST /v1/products:batchGet"),
        ("/v1/reservations", "POST /v1/reservations"),
    ] {
        let call = call_to(&trace, "order-node", path);
        assert_child(call, placing, &trace);
        let served = one(&trace, "catalog-node", Kind::Server, route);
        assert_child(served, call, &trace);
    }
    assert_eq!(trace.len(), 7, "the placement's trace:\n{}", show(&trace));
    // Every log line of the request carries the trace id: order-node's access log line does.
    let logged = format!("trace_id={}", edge.trace_id);
    assert!(
        orders
            .log()
            .lines()
            .any(|l| l.contains(&logged) && l.contains("answered")),
        "no line of order-node's log carries {logged}:\n{}",
        orders.log()
    );

    // The view: the test's span → edge-host GET → its calls to order-node and the catalog.
    let trace = trace_of(&spans, view_trace);
    let edge = one(&trace, "edge-host", Kind::Server, "GET");
    assert_eq!(edge.parent_id, caller_span, "the trace:\n{}", show(&trace));
    let to_orders = call_to(&trace, "edge-host", &format!("/v1/orders/{id}"));
    let to_catalog = call_to(&trace, "edge-host", "/v1/products:batchGet");
    assert_child(to_orders, edge, &trace);
    assert_child(to_catalog, edge, &trace);
    assert_child(
        one(&trace, "order-node", Kind::Server, "GET /v1/orders/{id}"),
        to_orders,
        &trace,
    );
    assert_child(
        one(
            &trace,
            "catalog-node",
            Kind::Server,
            "POST /v1/products:batchGet",
        ),
        to_catalog,
        &trace,
    );
    assert_eq!(trace.len(), 5, "the view's trace:\n{}", show(&trace));

    // search-node's feed reads carry their client span to the catalog too.
    let feed_calls: Vec<_> = spans
        .iter()
        .filter(|s| {
            s.service == "search-node"
                && s.kind == Kind::Client
                && s.attribute("url.full")
                    .is_some_and(|u| u.contains("/v1/events"))
        })
        .collect();
    assert!(
        !feed_calls.is_empty(),
        "no feed read of search-node was exported"
    );
    let served_feed = spans.iter().filter(|s| {
        s.service == "catalog-node" && s.kind == Kind::Server && s.name == "GET /v1/events"
    });
    assert!(
        served_feed.clone().any(|s| feed_calls
            .iter()
            .any(|c| c.span_id == s.parent_id && c.trace_id == s.trace_id)),
        "no feed read the catalog served is the child of search-node's call: {:?}",
        served_feed.collect::<Vec<_>>()
    );
    eprintln!("tracing across the services took {:?}", started.elapsed());
}
