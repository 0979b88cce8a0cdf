//! One trace across the services: W3C `traceparent` in, a span per request and per call out,
//! `traceparent` out.
//!
//! Every request a node serves gets a server span ([`layer`]) continuing the caller's trace;
//! every call a node makes gets a client span ([`send`], [`client_span`]) whose context goes
//! out in the call's `traceparent`, so the callee's server span is its child. The spans are
//! `tracing` spans: the OpenTelemetry layer [`crate::telemetry`] installs when an OTLP
//! endpoint is configured gives them ids and exports them. Without an endpoint there is no
//! OpenTelemetry layer (building spans for nobody is not free): a request span then keeps the
//! caller's `traceparent` (or one the node starts) and passes it on unchanged. Either way the
//! trace id is a field of the request span, so every log line of the request carries it.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use opentelemetry::Context;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{SpanId, TraceContextExt, TraceId};
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator};
use tracing::field::Empty;
use tracing::{Instrument, Span};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Registry;
use tracing_subscriber::registry::LookupSpan;

/// The W3C Trace Context header.
pub const TRACEPARENT: &str = "traceparent";

/// Whether spans are exported (an OpenTelemetry layer is installed).
static EXPORTING: AtomicBool = AtomicBool::new(false);

/// Records that the OpenTelemetry layer is installed; [`crate::telemetry`] calls it.
pub(crate) fn set_exporting() {
    EXPORTING.store(true, Ordering::Release);
}

fn exporting() -> bool {
    EXPORTING.load(Ordering::Acquire)
}

/// The context a request span passes on when nothing is exported; written out as a header
/// only when a call is made.
#[derive(Debug, Clone, Copy)]
struct Forward {
    trace_id: TraceId,
    parent_id: SpanId,
    flags: u8,
}

/// The caller's trace context in `headers`; empty when there is none or it is malformed, and
/// the span then starts a trace of its own.
pub fn remote(headers: &HeaderMap) -> Context {
    TraceContextPropagator::new().extract(&HeaderExtractor(headers))
}

/// Writes `span`'s context into `headers` as `traceparent`, replacing any there; writes
/// nothing when the span has no context (tracing is not installed, or the span is disabled).
/// When nothing is exported, passes on the request's context instead (the one its span keeps,
/// `span`'s or else the current span's), and leaves a `traceparent` already there alone.
pub fn inject(span: &Span, headers: &mut HeaderMap) {
    if !exporting() {
        return forward(span, headers);
    }
    let cx = span.context();
    if cx.span().span_context().is_valid() {
        TraceContextPropagator::new().inject_context(&cx, &mut HeaderInjector(headers));
    }
}

/// The trace id `span` belongs to, if it has one.
pub fn trace_id(span: &Span) -> Option<TraceId> {
    let id = span.context().span().span_context().trace_id();
    (id != TraceId::INVALID).then_some(id)
}

/// A server span for a request with `method` and `headers` to `route` (the route's template,
/// when known), child of the caller's span when the headers carry one. Its `trace_id` field
/// puts the trace id on every log line inside it.
pub fn server_span(method: &Method, route: Option<&str>, headers: &HeaderMap) -> Span {
    if !exporting() {
        return request_span(headers);
    }
    // The OpenTelemetry span takes its name when it starts, which is now: what names it must
    // be known here.
    let name = match route {
        Some(route) => format!("{method} {route}"),
        None => method.to_string(),
    };
    let span = tracing::info_span!(
        "request",
        otel.kind = "server",
        otel.name = %name,
        otel.status_code = Empty,
        http.request.method = %method,
        http.route = route,
        http.response.status_code = Empty,
        trace_id = Empty,
    );
    let parent = remote(headers);
    // Fails only when no OpenTelemetry layer is installed (a test's subscriber, say): the
    // span then has no ids to carry on, which `trace_id` and `inject` respect.
    let _ = span.set_parent(parent);
    if let Some(id) = trace_id(&span) {
        span.record("trace_id", tracing::field::display(id));
    }
    span
}

/// A client span for a call of `method` to `url`, child of the current span (none when
/// nothing is exported). The URL is recorded without its query string, which may carry what
/// users typed (a search's text).
pub fn client_span(method: &Method, url: &str) -> Span {
    if !exporting() {
        return Span::none();
    }
    let url = url.split_once('?').map_or(url, |(path, _)| path);
    tracing::info_span!(
        "call",
        otel.kind = "client",
        otel.name = %method,
        otel.status_code = Empty,
        http.request.method = %method,
        url.full = url,
        http.response.status_code = Empty,
    )
}

/// A client span for a call passed on from someone else (as edge-host passes on the
/// composer's), child of the context the call's `headers` already carry, or of the current
/// span when they carry none.
pub fn client_span_continuing(method: &Method, url: &str, headers: &HeaderMap) -> Span {
    let span = client_span(method, url);
    let parent = remote(headers);
    if parent.span().span_context().is_valid() {
        // Fails only without an OpenTelemetry layer, when there is nothing to link anyway.
        let _ = span.set_parent(parent);
    }
    span
}

/// Records the answer's status on a server or client span; a 5xx marks the span failed.
pub fn record_status(span: &Span, status: u16) {
    span.record("http.response.status_code", status);
    if status >= 500 {
        span.record("otel.status_code", "ERROR");
    }
}

/// Records a call that got no answer on its client span.
pub fn record_failure(span: &Span, error: &dyn std::fmt::Display) {
    span.record("otel.status_code", "ERROR");
    tracing::debug!(parent: span, error = %error, "call failed");
}

/// The request span of a node that exports nothing: a plain `tracing` span with the trace id
/// for the log, keeping the caller's `traceparent` (or a new one, when the caller sent none
/// or a malformed one) to pass on.
fn request_span(headers: &HeaderMap) -> Span {
    let caller = remote(headers).span().span_context().clone();
    let forward = if caller.is_valid() {
        Forward {
            trace_id: caller.trace_id(),
            parent_id: caller.span_id(),
            flags: caller.trace_flags().to_u8(),
        }
    } else {
        let ids = RandomIdGenerator::default();
        Forward {
            trace_id: ids.new_trace_id(),
            parent_id: ids.new_span_id(),
            flags: 1,
        }
    };
    let span = tracing::info_span!("request", trace_id = %forward.trace_id);
    span.with_subscriber(|(id, dispatch)| {
        if let Some(data) = dispatch.downcast_ref::<Registry>().and_then(|r| r.span(id)) {
            data.extensions_mut().insert(forward);
        }
    });
    span
}

/// Writes the context the request span of `span` (or of the current span) keeps into
/// `headers`, unless they carry one already.
fn forward(span: &Span, headers: &mut HeaderMap) {
    if headers.contains_key(TRACEPARENT) {
        return;
    }
    let span = if span.is_disabled() {
        Span::current()
    } else {
        span.clone()
    };
    let kept = span.with_subscriber(|(id, dispatch)| {
        let registry = dispatch.downcast_ref::<Registry>()?;
        registry
            .span(id)?
            .scope()
            .find_map(|s| s.extensions().get::<Forward>().copied())
    });
    let Some(f) = kept.flatten() else {
        return;
    };
    let traceparent = format!("00-{}-{}-{:02x}", f.trace_id, f.parent_id, f.flags);
    if let Ok(value) = HeaderValue::from_str(&traceparent) {
        headers.insert(TRACEPARENT, value);
    }
}

/// Sends `request` within a client span, with the span's `traceparent`: how a node calls
/// another service.
pub fn send(
    request: reqwest::RequestBuilder,
) -> impl Future<Output = reqwest::Result<reqwest::Response>> {
    let (client, built) = request.build_split();
    async move {
        let mut request = built?;
        let span = client_span(request.method(), request.url().as_str());
        inject(&span, request.headers_mut());
        let sent = client.execute(request).instrument(span.clone()).await;
        match &sent {
            Ok(response) => record_status(&span, response.status().as_u16()),
            Err(e) => record_failure(&span, e),
        }
        sent
    }
}

/// Route middleware (around every route of a node's router, so that the matched route names
/// the span): serves the request inside its server span, and records the answer's status.
pub async fn layer(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let span = server_span(request.method(), route.as_deref(), request.headers());
    let response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    record_status(&span, status);
    // An access log, off unless asked for (`RUST_LOG=info,chassis::trace=debug`).
    tracing::debug!(parent: &span, status, "answered");
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::error::OTelSdkResult;
    use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::layer::SubscriberExt;

    const PARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    /// Keeps what it is given (the SDK's in-memory exporter needs its `testing` feature,
    /// which would build the SDK a second time with logs and metrics).
    #[derive(Debug, Clone, Default)]
    struct Kept(Arc<Mutex<Vec<SpanData>>>);

    impl SpanExporter for Kept {
        async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
            self.0.lock().unwrap().extend(batch);
            Ok(())
        }
    }

    fn with_tracing<T>(f: impl FnOnce() -> T) -> (T, Vec<SpanData>) {
        // As the node's telemetry does when it installs the OpenTelemetry layer.
        set_exporting();
        let kept = Kept::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(kept.clone())
            .build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        let out = tracing::subscriber::with_default(subscriber, f);
        let spans = kept.0.lock().unwrap().clone();
        (out, spans)
    }

    fn headers(traceparent: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(TRACEPARENT, HeaderValue::from_str(traceparent).unwrap());
        headers
    }

    #[test]
    fn a_server_span_continues_the_callers_trace_and_a_call_continues_the_server_span() {
        let (sent, spans) = with_tracing(|| {
            let server = server_span(&Method::GET, None, &headers(PARENT));
            let _entered = server.enter();
            let client = client_span(&Method::POST, "http://catalog/v1/reservations");
            let mut out = HeaderMap::new();
            inject(&client, &mut out);
            out
        });
        let server = spans.iter().find(|s| s.name == "GET").expect("server span");
        let client = spans
            .iter()
            .find(|s| s.name == "POST")
            .expect("client span");
        assert_eq!(
            server.span_context.trace_id().to_string(),
            "0af7651916cd43dd8448eb211c80319c"
        );
        assert_eq!(server.parent_span_id.to_string(), "b7ad6b7169203331");
        assert_eq!(client.parent_span_id, server.span_context.span_id());
        assert_eq!(
            sent[TRACEPARENT],
            format!(
                "00-0af7651916cd43dd8448eb211c80319c-{}-01",
                client.span_context.span_id()
            )
        );
    }

    #[test]
    fn without_a_caller_the_server_span_starts_a_trace_and_a_bad_header_is_ignored() {
        let (ids, spans) = with_tracing(|| {
            let fresh = server_span(&Method::GET, Some("/a"), &HeaderMap::new());
            let bad = server_span(&Method::GET, Some("/b"), &headers("00-zz-yy-01"));
            (trace_id(&fresh), trace_id(&bad))
        });
        assert_eq!(spans.len(), 2);
        let (fresh, bad) = ids;
        assert!(fresh.is_some() && bad.is_some());
        assert_ne!(fresh, bad);
        assert!(
            spans
                .iter()
                .all(|s| s.parent_span_id.to_string() == "0000000000000000")
        );
    }

    #[test]
    fn without_tracing_installed_nothing_is_injected() {
        let span = client_span(&Method::GET, "http://catalog/");
        let mut out = HeaderMap::new();
        inject(&span, &mut out);
        assert!(out.is_empty());
        assert_eq!(trace_id(&span), None);
    }

    #[test]
    fn a_call_span_leaves_the_query_string_out() {
        let ((), spans) = with_tracing(|| {
            let _span = client_span(&Method::GET, "http://search/v1/search?q=private+words");
        });
        let url = spans[0]
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == "url.full")
            .map(|kv| kv.value.to_string());
        assert_eq!(url.as_deref(), Some("http://search/v1/search"));
    }

    #[test]
    fn without_export_a_request_passes_the_callers_context_on_as_it_came() {
        tracing::subscriber::with_default(tracing_subscriber::registry(), || {
            let span = request_span(&headers(PARENT));
            let _entered = span.enter();
            // A call's own span is none when nothing is exported: the request's is found.
            let mut out = HeaderMap::new();
            forward(&Span::none(), &mut out);
            assert_eq!(out[TRACEPARENT], PARENT);
            // A context the call carries already (the composer's, through edge-host) stays.
            let mut theirs = headers("00-11111111111111111111111111111111-2222222222222222-01");
            forward(&Span::none(), &mut theirs);
            assert_eq!(theirs[TRACEPARENT].as_bytes()[3..5], *b"11");
        });
    }

    #[test]
    fn without_export_a_request_without_a_caller_starts_a_trace_to_pass_on() {
        tracing::subscriber::with_default(tracing_subscriber::registry(), || {
            let mut sent = Vec::new();
            for _ in 0..2 {
                let span = request_span(&headers("00-zz-yy-01"));
                let _entered = span.enter();
                let mut out = HeaderMap::new();
                forward(&Span::none(), &mut out);
                let started = remote(&out).span().span_context().clone();
                assert!(started.is_valid(), "{out:?}");
                sent.push(started.trace_id());
            }
            assert_ne!(sent[0], sent[1]);
        });
    }
}
