//! How the component's upstream calls leave: through hyper clients with `TCP_NODELAY` that
//! keep connections alive between calls, in plain HTTP, without wasmtime-wasi-http's default
//! sender (and the TLS stack it builds).
//!
//! Each upstream host has a pool of its own. A keep-alive pool saves a connect (and a
//! listener's accept) per call, but hyper's pool cannot be told to let go of one host's idle
//! connections, and edge-host must not hold connections to an upstream it has given up on
//! (the isolation suite checks it). So the first call to a host that fails, times out or is
//! abandoned by the component throws that host's whole pool away: its idle connections close
//! at once, the calls still in flight on it close with their answers, and the next call
//! starts a fresh pool. A healthy host keeps its connections.
//!
//! Upstreams are spoken to in plain HTTP: they are the nodes, on the host's own network. A
//! component that needs TLS to its upstreams runs on Spin, which has its own client.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use http::uri::Authority;
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

/// Used when the component sets no connect timeout (wasmtime's own default is ten minutes;
/// a node on the same network that has not accepted in this long is down).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long an idle pooled connection is kept: below the time a node gives an idle
/// keep-alive connection to start its next request (its header-read timeout, 10 s by
/// default), so that edge-host, not the node, mostly closes it. The race that remains (a
/// node closing a connection as a call is written on it) is met by sending GETs again.
const IDLE_TIMEOUT: Duration = Duration::from_secs(5);

/// Idle connections kept per host: enough for edge-host's instances at full load.
const MAX_IDLE_PER_HOST: usize = 64;

type HostClient = Client<HttpConnector, WasiBody>;

/// One host's pool and the generation that tells it from the pools it replaced.
#[derive(Clone)]
struct Pool {
    generation: u64,
    client: HostClient,
}

/// The clients; cheap to clone.
#[derive(Clone, Default)]
pub struct Upstreams {
    pools: Arc<Mutex<HashMap<Authority, Pool>>>,
    generations: Arc<AtomicU64>,
}

impl std::fmt::Debug for Upstreams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hosts = self
            .pools
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        f.debug_struct("Upstreams").field("hosts", &hosts).finish()
    }
}

impl Upstreams {
    /// Clients that keep connections alive per host until a call to that host goes wrong.
    pub fn new() -> Self {
        Self::default()
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
        let Some(host) = request.uri().authority().cloned() else {
            return Err(Error::HttpRequestUriInvalid);
        };
        let first_byte = options
            .and_then(|o| o.first_byte_timeout)
            .unwrap_or(Duration::from_secs(600));
        let connect = options
            .and_then(|o| o.connect_timeout)
            .unwrap_or(CONNECT_TIMEOUT);
        // A pooled connection the upstream closed while this call was being written fails
        // after the request left, so hyper cannot retry it. A GET or HEAD has no body and
        // changes nothing: it is sent once more, on the fresh pool the failure left behind.
        let again = replayable(&request);
        match (
            self.attempt(&host, request, connect, first_byte).await,
            again,
        ) {
            (Err(Error::HttpProtocolError), Some(request)) => {
                tracing::debug!(%host, "upstream connection closed under a call; sent again");
                self.attempt(&host, request, connect, first_byte).await
            }
            (answered, _) => answered,
        }
    }

    async fn attempt(
        &self,
        host: &Authority,
        request: http::Request<WasiBody>,
        connect: Duration,
        first_byte: Duration,
    ) -> Result<http::Response<WasiBody>, Error> {
        let pool = self.pool(host, connect);
        // Armed until the head arrives: a timeout, an error or the component dropping the
        // call all leave through it.
        let mut give_up = GiveUp {
            upstreams: self,
            host,
            generation: Some(pool.generation),
        };
        let response = tokio::time::timeout(
            connect.saturating_add(first_byte),
            pool.client.request(request),
        )
        .await
        .map_err(|_| Error::ConnectionReadTimeout)?
        .map_err(client_error)?;
        give_up.generation = None;
        Ok(response.map(|body| body.map_err(Error::from).boxed_unsync()))
    }

    /// The pool of `host`, made on first use.
    fn pool(&self, host: &Authority, connect: Duration) -> Pool {
        let mut pools = self.pools.lock().unwrap_or_else(PoisonError::into_inner);
        pools
            .entry(host.clone())
            .or_insert_with(|| Pool {
                generation: self.generations.fetch_add(1, Ordering::Relaxed),
                client: client(connect),
            })
            .clone()
    }

    /// Throws `host`'s pool away unless it was already replaced since `generation`.
    fn evict(&self, host: &Authority, generation: u64) {
        let mut pools = self.pools.lock().unwrap_or_else(PoisonError::into_inner);
        if pools.get(host).is_some_and(|p| p.generation == generation) {
            pools.remove(host);
            tracing::debug!(%host, "dropped the upstream's pooled connections");
        }
    }
}

/// Evicts the host's pool when a call ends without a response head.
struct GiveUp<'a> {
    upstreams: &'a Upstreams,
    host: &'a Authority,
    generation: Option<u64>,
}

impl Drop for GiveUp<'_> {
    fn drop(&mut self) {
        if let Some(generation) = self.generation {
            self.upstreams.evict(self.host, generation);
        }
    }
}

/// A copy of `request` to send again if it fails on a closed connection: GET and HEAD only,
/// which carry no body here and change nothing.
fn replayable(request: &http::Request<WasiBody>) -> Option<http::Request<WasiBody>> {
    if request.method() != http::Method::GET && request.method() != http::Method::HEAD {
        return None;
    }
    let mut copy = http::Request::new(
        http_body_util::Empty::<bytes::Bytes>::new()
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.version_mut() = request.version();
    *copy.headers_mut() = request.headers().clone();
    Some(copy)
}

fn client(connect: Duration) -> HostClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(connect));
    Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new())
        .pool_idle_timeout(IDLE_TIMEOUT)
        .pool_max_idle_per_host(MAX_IDLE_PER_HOST)
        .build(connector)
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
    use http_body_util::Empty;
    use std::sync::atomic::AtomicUsize;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn empty() -> WasiBody {
        Empty::<Bytes>::new()
            .map_err(|never| match never {})
            .boxed_unsync()
    }

    /// Connections accepted and connections open now.
    #[derive(Default)]
    struct Counts {
        accepted: AtomicUsize,
        open: AtomicUsize,
        closed: AtomicUsize,
    }

    /// A keep-alive HTTP/1.1 server that answers "ok" to every request except those whose
    /// path starts with /hang, which it never answers; it counts connections until their
    /// peer closes them.
    async fn server() -> (std::net::SocketAddr, Arc<Counts>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let counts = Arc::new(Counts::default());
        let shared = counts.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                shared.accepted.fetch_add(1, Ordering::SeqCst);
                shared.open.fetch_add(1, Ordering::SeqCst);
                let counts = shared.clone();
                tokio::spawn(async move {
                    let mut seen = Vec::new();
                    let mut buf = [0u8; 1024];
                    while let Ok(n) = stream.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        seen.extend_from_slice(&buf[..n]);
                        while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head: Vec<u8> = seen.drain(..end + 4).collect();
                            // The first call to /close meets a connection closing under it.
                            if (head.starts_with(b"GET /close") || head.starts_with(b"POST /close"))
                                && counts.closed.fetch_add(1, Ordering::SeqCst) == 0
                            {
                                counts.open.fetch_sub(1, Ordering::SeqCst);
                                return;
                            }
                            if !head.starts_with(b"GET /hang") {
                                let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                                if stream.write_all(reply).await.is_err() {
                                    break;
                                }
                            }
                        }
                    }
                    counts.open.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        (addr, counts)
    }

    async fn get(upstreams: &Upstreams, url: String) -> Result<Bytes, Error> {
        let request = http::Request::get(url).body(empty()).unwrap();
        // Short, so that a hung call ends well within the pool's idle timeout.
        let options = RequestOptions {
            connect_timeout: Some(Duration::from_millis(200)),
            first_byte_timeout: Some(Duration::from_millis(200)),
            between_bytes_timeout: None,
        };
        let response = upstreams.send(request, Some(options)).await?;
        Ok(response.into_body().collect().await.unwrap().to_bytes())
    }

    /// Two calls at once, so that the pool holds two idle connections to `addr` after.
    async fn two_idle_connections(
        upstreams: &Upstreams,
        addr: std::net::SocketAddr,
        counts: &Counts,
    ) {
        let (a, b) = tokio::join!(
            get(upstreams, format!("http://{addr}/x")),
            get(upstreams, format!("http://{addr}/x"))
        );
        a.unwrap();
        b.unwrap();
        assert_eq!(counts.open.load(Ordering::SeqCst), 2);
    }

    async fn open_within(counts: &Counts, expected: usize, within: Duration) -> usize {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let open = counts.open.load(Ordering::SeqCst);
            if open == expected || tokio::time::Instant::now() >= deadline {
                return open;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[tokio::test]
    async fn calls_to_a_healthy_host_reuse_one_connection() {
        let (addr, counts) = server().await;
        let upstreams = Upstreams::new();
        for _ in 0..5 {
            let body = get(&upstreams, format!("http://{addr}/x")).await.unwrap();
            assert_eq!(&body[..], b"ok");
        }
        assert_eq!(counts.accepted.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_call_that_times_out_closes_every_connection_to_its_host() {
        let (addr, counts) = server().await;
        let (other, other_counts) = server().await;
        let upstreams = Upstreams::new();
        // Two idle connections to the host, one to another host.
        two_idle_connections(&upstreams, addr, &counts).await;
        get(&upstreams, format!("http://{other}/x")).await.unwrap();

        let error = get(&upstreams, format!("http://{addr}/hang"))
            .await
            .unwrap_err();
        assert!(matches!(error, Error::ConnectionReadTimeout), "{error:?}");
        assert_eq!(open_within(&counts, 0, Duration::from_secs(3)).await, 0);
        // The other host keeps its connection, and the host a fresh pool.
        assert_eq!(other_counts.open.load(Ordering::SeqCst), 1);
        get(&upstreams, format!("http://{addr}/x")).await.unwrap();
        assert_eq!(counts.open.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_call_the_component_abandons_closes_the_hosts_connections() {
        let (addr, counts) = server().await;
        let upstreams = Upstreams::new();
        // Two idle connections: the hung call takes one, the other must close too.
        two_idle_connections(&upstreams, addr, &counts).await;
        let request = http::Request::get(format!("http://{addr}/hang"))
            .body(empty())
            .unwrap();
        let abandoned =
            tokio::time::timeout(Duration::from_millis(100), upstreams.send(request, None)).await;
        assert!(abandoned.is_err(), "the hung call answered");
        assert_eq!(open_within(&counts, 0, Duration::from_secs(3)).await, 0);
    }

    #[tokio::test]
    async fn a_get_whose_connection_closes_under_it_is_sent_again_a_post_is_not() {
        let (addr, counts) = server().await;
        let upstreams = Upstreams::new();
        let body = get(&upstreams, format!("http://{addr}/close"))
            .await
            .unwrap();
        assert_eq!(&body[..], b"ok");
        assert_eq!(counts.accepted.load(Ordering::SeqCst), 2);

        let (addr, _counts) = server().await;
        let post = http::Request::post(format!("http://{addr}/close"))
            .body(empty())
            .unwrap();
        let error = upstreams.send(post, None).await.unwrap_err();
        assert!(matches!(error, Error::HttpProtocolError), "{error:?}");
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
