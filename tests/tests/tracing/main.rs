//! End-to-end tests of tracing: one W3C trace from edge-host through the composer to
//! order-node and the catalog, its spans exported over OTLP/HTTP to a receiver in the test
//! ([`system_tests::otlp::Collector`]), and nothing exported where no endpoint is set.
//!
//! The processes export with a batch delay of a minute, far longer than a test runs: the
//! spans arrive only because a graceful stop flushes them, which is what these tests check.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod across;
mod quiet;

use std::collections::HashMap;

use system_tests::otlp::ReceivedSpan;

/// The environment of a process that exports to `endpoint`, on its graceful stop only.
pub fn exporting_to(endpoint: &str) -> Vec<(String, String)> {
    vec![
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(),
            endpoint.to_owned(),
        ),
        ("OTEL_BSP_SCHEDULE_DELAY".to_owned(), "60000".to_owned()),
        // Request spans' access log lines, so a test can look for the trace id in the log.
        (
            "RUST_LOG".to_owned(),
            "info,chassis::trace=debug".to_owned(),
        ),
    ]
}

/// A `traceparent` of trace `trace_id` under parent span `parent_id`, sampled.
pub fn traceparent(trace_id: &str, parent_id: &str) -> String {
    format!("00-{trace_id}-{parent_id}-01")
}

/// The spans of trace `trace_id`, by span id.
pub fn trace_of<'a>(
    spans: &'a [ReceivedSpan],
    trace_id: &str,
) -> HashMap<&'a str, &'a ReceivedSpan> {
    spans
        .iter()
        .filter(|s| s.trace_id == trace_id)
        .map(|s| (s.span_id.as_str(), s))
        .collect()
}

/// Spans of `trace` with this service, kind and name.
pub fn find<'a>(
    trace: &HashMap<&'a str, &'a ReceivedSpan>,
    service: &str,
    kind: system_tests::otlp::Kind,
    name: &str,
) -> Vec<&'a ReceivedSpan> {
    let mut found: Vec<_> = trace
        .values()
        .copied()
        .filter(|s| s.service == service && s.kind == kind && s.name == name)
        .collect();
    found.sort_by(|a, b| a.span_id.cmp(&b.span_id));
    found
}

/// Every span of `trace` as a line, for failure messages.
pub fn show(trace: &HashMap<&str, &ReceivedSpan>) -> String {
    let mut lines: Vec<String> = trace
        .values()
        .map(|s| {
            format!(
                "{} {:?} {:?} span {} parent {} {:?}",
                s.service, s.kind, s.name, s.span_id, s.parent_id, s.attributes
            )
        })
        .collect();
    lines.sort();
    lines.join("\n")
}
