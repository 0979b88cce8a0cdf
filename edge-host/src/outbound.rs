//! Outbound requests: only to the configured upstreams, as Spin's `allowed_outbound_hosts`
//! does (`wasmtime serve` has no such allow-list).

use std::collections::HashSet;
use std::future::Future;

use tracing::{Instrument, Span};
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use crate::upstream::Upstreams;

/// The origins (`scheme://host:port`) the component may call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList(HashSet<String>);

fn origin(scheme: &str, authority: &str) -> String {
    let default_port = if scheme == "https" { 443 } else { 80 };
    if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        format!("{scheme}://{authority}")
    } else {
        format!("{scheme}://{authority}:{default_port}")
    }
}

impl AllowList {
    /// The origins of `urls`; URLs that do not parse are skipped.
    pub fn from_urls<'a>(urls: impl IntoIterator<Item = &'a str>) -> Self {
        Self(
            urls.into_iter()
                .filter_map(|u| u.parse::<http::Uri>().ok())
                .filter_map(|u| Some(origin(u.scheme_str()?, u.authority()?.as_str())))
                .collect(),
        )
    }

    /// Whether a request to `uri` may leave.
    pub fn allows(&self, uri: &http::Uri) -> bool {
        match (uri.scheme_str(), uri.authority()) {
            (Some(scheme), Some(authority)) => self.0.contains(&origin(scheme, authority.as_str())),
            _ => false,
        }
    }
}

/// wasi:http hooks that refuse requests outside the allow-list and send the rest through
/// the host's client.
#[derive(Debug, Clone, Default)]
pub struct Hooks {
    /// Where requests may go.
    pub allow: AllowList,
    /// The client they go through, shared by every instance.
    pub upstreams: Upstreams,
}

type SendFuture = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), Error>> + Send>,
                ),
                Error,
            >,
        > + Send,
>;

impl WasiHttpHooks for Hooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> SendFuture {
        drop(fut);
        if !self.allow.allows(request.uri()) {
            tracing::warn!(uri = %request.uri(), "outbound request refused: not an allowed upstream");
            return Box::new(async { Err(Error::HttpRequestDenied) });
        }
        let upstreams = self.upstreams.clone();
        let (span, request) = traced(request);
        Box::new(async move {
            let response = upstreams
                .send(request, options)
                .instrument(span.clone())
                .await;
            match &response {
                Ok(response) => chassis::trace::record_status(&span, response.status().as_u16()),
                Err(e) => chassis::trace::record_failure(&span, &format_args!("{e:?}")),
            }
            let response = response?;
            // The client drives the connection itself: nothing is left for the caller to await.
            let io = async { Ok(()) };
            Ok((
                response,
                Box::new(io) as Box<dyn Future<Output = Result<(), Error>> + Send>,
            ))
        })
    }
}

/// The guest's call within a client span of edge-host's, its `traceparent` rewritten so that
/// the upstream's span is the client span's child. The composer passes on the context edge-host
/// gave it, so the client span's parent is edge-host's server span of the request; a call
/// without one is the child of the current span.
fn traced(mut request: http::Request<WasiBody>) -> (Span, http::Request<WasiBody>) {
    let span = chassis::trace::client_span_continuing(
        request.method(),
        &request.uri().to_string(),
        request.headers(),
    );
    chassis::trace::inject(&span, request.headers_mut());
    (span, request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_only_the_configured_origins() {
        let allow = AllowList::from_urls(["http://127.0.0.1:7001", "http://search.internal"]);
        let ok = |u: &str| allow.allows(&u.parse().unwrap());
        assert!(ok("http://127.0.0.1:7001/v1/products:batchGet"));
        assert!(ok("http://search.internal:80/v1/search?q=x"));
        assert!(!ok("http://127.0.0.1:7002/v1/orders"));
        assert!(!ok("https://127.0.0.1:7001/"));
        assert!(!ok("http://evil.example/"));
        assert!(!ok("/relative"));
    }
}
