//! How the component's upstream calls leave: over keep-alive connections pooled per upstream,
//! with `TCP_NODELAY`.
//!
//! wasmtime-wasi-http's default sender opens a new TCP connection for every outgoing request
//! and closes it after; a composed view makes two to four upstream calls, so each view paid
//! for as many connects, slow starts and `TIME_WAIT` sockets. One client per host keeps the
//! connections across requests and instances.
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

/// Idle pooled connections are closed after this, well before the nodes' own keep-alive
/// limit (60 s by default), so that the pool rarely hands out a connection the node is
/// closing.
const POOL_IDLE: Duration = Duration::from_secs(20);

/// Idle connections kept per upstream.
const POOL_MAX_IDLE: usize = 64;

/// The pooled client; cheap to clone (clones share the pool).
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
    /// A client with an empty pool.
    pub fn new() -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .pool_idle_timeout(POOL_IDLE)
            .pool_max_idle_per_host(POOL_MAX_IDLE)
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
    async fn sequential_requests_reuse_one_connection() {
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
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
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
