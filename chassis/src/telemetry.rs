//! Logging with `tracing`, filtered by `RUST_LOG` (default `info`), to standard error; spans
//! to an OpenTelemetry collector when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (see
//! [`OTLP_ENDPOINTS`]).
//!
//! The OpenTelemetry layer is installed whether or not spans are exported: it is what gives
//! a request's span its trace and span ids, so that a node carries a caller's trace on to its
//! own calls, and puts the trace id on its log lines, even when it exports nothing.

use std::io::IsTerminal;
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::export;

/// The standard variables naming the collector: the endpoint of every signal
/// (`http://host:4318`, spans go to its `/v1/traces`), or the full URL of traces alone. With
/// neither set (or set empty, which the specification counts as unset), nothing is exported.
pub const OTLP_ENDPOINTS: [&str; 2] = [
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
];

/// How long exiting waits for the last spans to reach the collector.
const FLUSH_LIMIT: Duration = Duration::from_secs(5);

/// The installed tracing; [`Telemetry::shutdown`] sends what is still buffered.
#[derive(Debug)]
pub struct Telemetry {
    provider: SdkTracerProvider,
}

impl Telemetry {
    /// Exports the spans still buffered, at most [`FLUSH_LIMIT`]; a span ended just before a
    /// graceful stop is otherwise lost with the process.
    pub fn shutdown(self) {
        if let Err(e) = self.provider.shutdown_with_timeout(FLUSH_LIMIT) {
            eprintln!("exporting the last spans failed: {e}");
        }
    }
}

/// Installs the global subscriber for `service` (its `service.name` in exported spans): log
/// lines to standard error, and spans to the OTLP endpoint if one is configured. Must run
/// inside the Tokio runtime, which carries the export. A second call installs nothing.
pub fn init(service: &'static str) -> Telemetry {
    let mut filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Request spans carry the trace id to the log lines inside them: a quieter RUST_LOG must
    // not drop them from the log (it can still ask for more of them, e.g. `=debug`).
    if !std::env::var("RUST_LOG").is_ok_and(|v| v.contains("chassis::trace"))
        && let Ok(directive) = "chassis::trace=info".parse()
    {
        filter = filter.add_directive(directive);
    }
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false)
        // Colour codes only help a person at a terminal; they garble log files.
        .with_ansi(std::io::stderr().is_terminal())
        .with_filter(filter);
    let mut provider = SdkTracerProvider::builder()
        .with_resource(Resource::builder().with_service_name(service).build());
    let mut exporting = None;
    if OTLP_ENDPOINTS
        .iter()
        .any(|var| std::env::var_os(var).is_some_and(|v| !v.is_empty()))
    {
        match export::exporter() {
            Ok(exporter) => {
                provider = provider.with_batch_exporter(exporter);
                exporting = Some(Ok(()));
            }
            Err(e) => exporting = Some(Err(e)),
        }
    }
    let provider = provider.build();
    // The OpenTelemetry layer only when spans go somewhere: building OpenTelemetry spans for
    // nobody costs every request CPU (a product read, the cheapest, most of all). Without it,
    // `trace` still passes the caller's trace on and logs its id, for a plain `tracing` span.
    let otel = matches!(exporting, Some(Ok(()))).then(|| {
        crate::trace::set_exporting();
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer(service))
            .with_location(false)
            .with_target(false)
            .with_threads(false)
            .with_tracked_inactivity(false)
            .with_filter(LevelFilter::INFO)
    });
    let _ = tracing_subscriber::registry()
        .with(fmt)
        .with(otel)
        .try_init();
    match exporting {
        Some(Ok(())) => tracing::info!("exporting spans over OTLP"),
        // Tracing is for looking at a service, not a reason for it to refuse to run.
        Some(Err(e)) => tracing::warn!(error = %e, "cannot export spans; running without"),
        None => {}
    }
    Telemetry { provider }
}

/// Turns a binary's result into its exit code, printing the error (with its causes) first.
pub fn exit_code<E: std::fmt::Display>(
    program: &str,
    result: Result<(), E>,
) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{program}: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Runs a binary's async main on a multi-threaded runtime, with [`init`]'s logging and
/// tracing for `program` around it, and turns its result into the exit code (see
/// [`exit_code`]).
pub fn run_async<E, F>(program: &'static str, main: F) -> std::process::ExitCode
where
    E: std::fmt::Display + From<std::io::Error>,
    F: std::future::Future<Output = Result<(), E>>,
{
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(E::from)
        .and_then(|rt| {
            let telemetry = rt.block_on(async { init(program) });
            let result = rt.block_on(main);
            // Outside `block_on`, with the runtime still alive: its workers carry the export
            // the flush waits for.
            telemetry.shutdown();
            result
        });
    exit_code(program, result)
}
