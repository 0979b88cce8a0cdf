//! The OTLP/HTTP span exporter, sending through the same reqwest client stack the nodes use.
//!
//! The SDK's batch processor exports from a thread of its own, outside the Tokio runtime,
//! where reqwest's async client cannot run; its blocking client would start a runtime of its
//! own. So each export is handed to the node's runtime and awaited from the SDK's thread.

use std::time::Duration;

use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{
    ExporterBuildError, Protocol, SpanExporter, WithExportConfig, WithHttpConfig,
};
use tokio::runtime::Handle;

/// How long one export may take; `OTEL_EXPORTER_OTLP_TIMEOUT`'s default.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// An OTLP/HTTP (protobuf) span exporter to the endpoint of the standard `OTEL_EXPORTER_OTLP_*`
/// variables. Must be called inside the Tokio runtime.
pub fn exporter() -> Result<SpanExporter, ExporterBuildError> {
    let http = reqwest::Client::builder()
        .timeout(EXPORT_TIMEOUT)
        .build()
        .map_err(|e| ExporterBuildError::InternalFailure(e.to_string()))?;
    let runtime =
        Handle::try_current().map_err(|e| ExporterBuildError::InternalFailure(e.to_string()))?;
    SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_http_client(OnRuntime { http, runtime })
        .build()
}

/// reqwest's async client, driven by the runtime whatever thread asks.
#[derive(Debug)]
struct OnRuntime {
    http: reqwest::Client,
    runtime: Handle,
}

#[async_trait::async_trait]
impl HttpClient for OnRuntime {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let request = reqwest::Request::try_from(request)?;
        let http = self.http.clone();
        let (status, headers, body) = self
            .runtime
            .spawn(async move {
                let response = http.execute(request).await?;
                let status = response.status();
                let headers = response.headers().clone();
                let body = response.bytes().await?;
                Ok::<_, reqwest::Error>((status, headers, body))
            })
            .await??;
        let mut response = Response::new(body);
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        Ok(response)
    }
}
