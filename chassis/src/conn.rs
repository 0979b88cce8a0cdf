//! Accepting and serving HTTP/1.1 connections so that no client can take the server down:
//! a cap on open connections, a header-read timeout, an idle timeout between requests, and
//! an accept loop that outlives every error accept can return.
//!
//! `axum::serve` does none of this (it has no timer, so even hyper's own header timeout never
//! applies), and one client holding a thousand half-sent requests could exhaust the process's
//! file descriptors. The nodes and edge-host share this loop, so they behave alike.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use contracts::{Code, ErrorBody, ErrorDetail};
use hyper::body::{Body, Incoming};
use hyper::server::conn::http1;
use hyper::service::Service;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// How a server treats its connections.
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    /// Time to send a complete request head from connecting.
    pub header_timeout: Duration,
    /// Time a connection may sit with no request in flight and no bytes moving.
    pub idle_timeout: Duration,
    /// Open connections at most.
    pub max_connections: usize,
    /// Time in-flight requests get to finish once shutdown starts.
    pub drain_timeout: Duration,
}

impl ConnLimits {
    /// The connection limits of `limits`, the cap derived as [`crate::limits::HttpLimits`] says.
    pub fn from_http(limits: &crate::limits::HttpLimits) -> Self {
        Self {
            header_timeout: limits.header_timeout(),
            idle_timeout: limits.idle_timeout(),
            max_connections: limits.connection_cap(),
            drain_timeout: limits.request_timeout(),
        }
    }
}

/// What a connection over the cap is told before it is closed: a whole HTTP response written
/// by hand, since no HTTP connection is set up for it. Built once, from the same code and
/// body type as every other `overloaded` answer.
static OVER_CAP: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let code = Code::Overloaded;
    let body = serde_json::to_vec(&ErrorBody {
        error: ErrorDetail::new(code, "too many open connections; retry shortly"),
    })
    .unwrap_or_default();
    let status = crate::error::status_of(code);
    let mut response = format!(
        "HTTP/1.1 {} {}\r\nretry-after: {}\r\ncontent-type: application/json\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n",
        status.as_str(),
        status.canonical_reason().unwrap_or_default(),
        crate::guard::RETRY_AFTER_SECS,
        body.len()
    )
    .into_bytes();
    response.extend_from_slice(&body);
    response
});

/// Serves HTTP/1.1 on `listener` with `service` until `shutdown` resolves, then stops
/// accepting, lets in-flight requests finish (up to `drain_timeout`) and returns.
///
/// Never returns an error for anything a client does: a failed accept (the descriptor table
/// full, a connection reset before it was accepted) is logged and retried after a pause.
pub async fn serve_connections<S, B>(
    listener: TcpListener,
    limits: ConnLimits,
    service: S,
    shutdown: impl Future<Output = ()>,
) where
    S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let open = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let mut pause = ACCEPT_PAUSE_MIN;
    tracing::info!(
        max_connections = limits.max_connections,
        header_timeout_ms = limits.header_timeout.as_millis(),
        idle_timeout_ms = limits.idle_timeout.as_millis(),
        "accepting connections"
    );
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => {
                pause = ACCEPT_PAUSE_MIN;
                pair
            }
            Err(e) => {
                // EMFILE/ENFILE and friends: waiting is the only cure, and exiting would turn
                // one client's flood into an outage for everybody.
                tracing::warn!(error = %e, pause_ms = pause.as_millis(), "accept failed; pausing");
                tokio::select! {
                    () = tokio::time::sleep(pause) => {},
                    () = &mut shutdown => break,
                }
                pause = (pause * 2).min(ACCEPT_PAUSE_MAX);
                continue;
            }
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            refuse_over_cap(stream, peer);
            continue;
        };
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(%peer, error = %e, "cannot set TCP_NODELAY");
        }
        let activity = Arc::new(Activity::new());
        let io = TokioIo::new(Tracked {
            inner: stream,
            activity: activity.clone(),
        });
        let counted = Counted {
            inner: service.clone(),
            activity: activity.clone(),
        };
        let conn = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .keep_alive(true)
            .serve_connection(io, counted);
        let conn = graceful.watch(conn);
        let idle_timeout = limits.idle_timeout;
        tokio::spawn(async move {
            tokio::select! {
                result = conn => {
                    if let Err(e) = result {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                }
                () = activity.idle_for(idle_timeout) => {
                    tracing::debug!(%peer, "idle connection closed");
                }
            }
            drop(permit);
        });
    }
    drop(listener);
    tracing::info!("no longer accepting; finishing in-flight requests");
    if tokio::time::timeout(limits.drain_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            drain_timeout_ms = limits.drain_timeout.as_millis(),
            "in-flight requests did not finish in time; closing them"
        );
    }
}

const ACCEPT_PAUSE_MIN: Duration = Duration::from_millis(10);
const ACCEPT_PAUSE_MAX: Duration = Duration::from_secs(1);

/// Tells a connection over the cap why it is closed, without waiting for it: a full send
/// buffer or a reset just means it is closed without the explanation.
fn refuse_over_cap(stream: TcpStream, peer: SocketAddr) {
    tracing::debug!(%peer, "connection over the cap refused");
    if let Err(e) = stream.try_write(&OVER_CAP) {
        tracing::debug!(%peer, error = %e, "could not tell a refused connection why");
    }
}

/// When a connection last moved a byte, and how many of its requests are in flight.
struct Activity {
    started: Instant,
    last_ms: AtomicU64,
    in_flight: AtomicUsize,
}

impl Activity {
    fn new() -> Self {
        Self {
            started: Instant::now(),
            last_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    /// Resolves once the connection has had no request in flight and moved no byte for
    /// `timeout`. A long-poll in flight keeps it open however quiet it is.
    async fn idle_for(&self, timeout: Duration) {
        let check = (timeout / 4).max(Duration::from_millis(50));
        loop {
            tokio::time::sleep(check).await;
            if self.in_flight.load(Ordering::Relaxed) > 0 {
                continue;
            }
            let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
            if self.started.elapsed().saturating_sub(last) >= timeout {
                return;
            }
        }
    }
}

/// The socket, noting every byte it moves.
struct Tracked {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// The service, counting the connection's requests in flight.
#[derive(Clone)]
struct Counted<S> {
    inner: S,
    activity: Arc<Activity>,
}

/// Counts one request out when its handling ends, however it ends.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.0.touch();
    }
}

impl<S, B> Service<Request<Incoming>> for Counted<S>
where
    S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response<B>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<B>, Infallible>> + Send>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        self.activity.in_flight.fetch_add(1, Ordering::Relaxed);
        let guard = InFlight(self.activity.clone());
        let future = self.inner.call(request);
        Box::pin(async move {
            let response = future.await;
            drop(guard);
            response
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn hello() -> impl Service<
        Request<Incoming>,
        Response = Response<String>,
        Error = Infallible,
        Future = impl Future<Output = Result<Response<String>, Infallible>> + Send + 'static,
    > + Clone {
        hyper::service::service_fn(|_req: Request<Incoming>| async {
            Ok::<_, Infallible>(Response::new("hello".to_owned()))
        })
    }

    async fn start(limits: ConnLimits) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(serve_connections(listener, limits, hello(), async move {
            let _ = stopped.await;
        }));
        (addr, stop)
    }

    fn limits() -> ConnLimits {
        ConnLimits {
            header_timeout: Duration::from_millis(300),
            idle_timeout: Duration::from_millis(400),
            max_connections: 4,
            drain_timeout: Duration::from_secs(1),
        }
    }

    async fn read_all(stream: &mut TcpStream) -> String {
        let mut out = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out)).await;
        String::from_utf8_lossy(&out).into_owned()
    }

    #[tokio::test]
    async fn a_half_sent_head_is_cut_off_at_the_header_timeout() {
        let (addr, _stop) = start(limits()).await;
        let mut slow = TcpStream::connect(addr).await.unwrap();
        slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        let started = Instant::now();
        let _ = read_all(&mut slow).await;
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn an_idle_keep_alive_connection_is_closed() {
        let (addr, _stop) = start(limits()).await;
        let mut conn = TcpStream::connect(addr).await.unwrap();
        conn.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let started = Instant::now();
        let text = read_all(&mut conn).await;
        assert!(text.starts_with("HTTP/1.1 200"), "{text}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn connections_over_the_cap_are_refused_and_served_again_once_freed() {
        let (addr, _stop) = start(limits()).await;
        let mut held = Vec::new();
        for _ in 0..4 {
            let mut s = TcpStream::connect(addr).await.unwrap();
            s.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
            held.push(s);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut over = TcpStream::connect(addr).await.unwrap();
        let text = read_all(&mut over).await;
        assert!(text.starts_with("HTTP/1.1 503"), "{text}");
        // The held connections time out; a new client is served.
        tokio::time::sleep(Duration::from_millis(800)).await;
        let mut fresh = TcpStream::connect(addr).await.unwrap();
        fresh
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let text = read_all(&mut fresh).await;
        assert!(text.starts_with("HTTP/1.1 200"), "{text}");
        drop(held);
    }

    #[test]
    fn the_refusal_is_well_formed() {
        // Byte for byte what this answer has always been.
        assert_eq!(
            OVER_CAP.as_slice(),
            b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 1\r\n\
content-type: application/json\r\nconnection: close\r\ncontent-length: 84\r\n\r\n\
{\"error\":{\"code\":\"overloaded\",\"message\":\"too many open connections; retry shortly\"}}"
        );
        let text = std::str::from_utf8(&OVER_CAP).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let _: serde_json::Value = serde_json::from_str(body).unwrap();
    }
}
