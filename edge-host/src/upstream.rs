//! How the component's upstream calls leave: through one hyper client with `TCP_NODELAY`,
//! in plain HTTP, without wasmtime-wasi-http's default sender (and the TLS stack it builds).
//!
//! Connections are not kept between calls. A keep-alive pool would save a connect per call,
//! but hyper's pool cannot be told to let go of a host's idle connections when that host
//! hangs, and edge-host must not hold connections to an upstream it has given up on (the
//! isolation suite checks it). Each call's connection closes with its answer, or when the
//! component abandons the call.
//!
//! Upstreams are spoken to in plain HTTP: they are the nodes, on the host's own network. A
//! component that needs TLS to its upstreams runs on Spin, which has its own client.

use std::time::Duration;

use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

/// Used when the component sets no connect timeout (wasmtime's own default is ten minutes;
/// a node on the same network that has not accepted in this long is down).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The client; cheap to clone.
#[derive(Clone, Debug)]
pub struct Upstreams {
    client: Client<HttpConnector, WasiBody>,
}

impl Default for Upstreams {
    fn default() -> Self {
        Self::new()
    }
}

impl Upstreams {
    /// A client that keeps no idle connection.
    pub fn new() -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .pool_max_idle_per_host(0)
            .build(connector);
        Self { client }
    }

    /// Sends `request` (whose URI is absolute) and returns the response once its head has
    /// arrived; the body streams afterwards. The component's first-byte timeout bounds the
    /// wait for the head, connecting included.
    pub async fn send(
        &self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
    ) -> Result<http::Response<WasiBody>, Error> {
        if request.uri().scheme() != Some(&http::uri::Scheme::HTTP) {
            // The allow-list admits https origins only if configured so; say why it fails.
            tracing::warn!(uri = %request.uri(), "edge-host calls upstreams in plain HTTP only");
            return Err(Error::HttpProtocolError);
        }
        let first_byte = options
            .and_then(|o| o.first_byte_timeout)
            .unwrap_or(Duration::from_secs(600));
        let connect = options
            .and_then(|o| o.connect_timeout)
            .unwrap_or(CONNECT_TIMEOUT);
        let response = tokio::time::timeout(
            connect.saturating_add(first_byte),
            self.client.request(request),
        )
        .await
        .map_err(|_| Error::ConnectionReadTimeout)?
        .map_err(client_error)?;
        Ok(response.map(|body| body.map_err(Error::from).boxed_unsync()))
    }
}

/// The wasi:http error for a failed request, as close as the client's error lets us tell.
fn client_error(error: hyper_util::client::legacy::Error) -> Error {
    if error.is_connect() {
        tracing::debug!(%error, "upstream connect failed");
        return Error::ConnectionRefused;
    }
    tracing::debug!(%error, "upstream request failed");
    Error::HttpProtocolError
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http_body_util::{Empty, Full};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn empty() -> WasiBody {
        Empty::<Bytes>::new()
            .map_err(|never| match never {})
            .boxed_unsync()
    }

    /// Counts accepted connections and answers every request with "ok".
    async fn counting_server() -> (std::net::SocketAddr, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(|_req| async {
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                            Bytes::from_static(b"ok"),
                        )))
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        (addr, accepted)
    }

    #[tokio::test]
    async fn every_call_has_a_connection_of_its_own() {
        let (addr, accepted) = counting_server().await;
        let upstreams = Upstreams::new();
        for _ in 0..5 {
            let request = http::Request::get(format!("http://{addr}/x"))
                .body(empty())
                .unwrap();
            let response = upstreams.send(request, None).await.unwrap();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(&body[..], b"ok");
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 5);
    }

    #[tokio::test]
    async fn a_closed_port_is_a_refused_connection() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let request = http::Request::get(format!("http://{addr}/"))
            .body(empty())
            .unwrap();
        let error = Upstreams::new().send(request, None).await.unwrap_err();
        assert!(matches!(error, Error::ConnectionRefused), "{error:?}");
    }

    #[tokio::test]
    async fn https_is_refused_with_a_reason() {
        let request = http::Request::get("https://127.0.0.1:1/")
            .body(empty())
            .unwrap();
        let error = Upstreams::new().send(request, None).await.unwrap_err();
        assert!(matches!(error, Error::HttpProtocolError), "{error:?}");
    }
}
