//! `FaultProxy`: a real HTTP server on 127.0.0.1 that forwards to an upstream node and can be
//! told, at run time, to fail, hang or hold chosen requests, so that tests can place a crash
//! or an outage exactly between two steps of a saga.
//!
//! Every request that reaches the proxy is recorded (method, path, query, body) before the
//! mode decides what happens to it. Connections refused by [`Mode::Down`] at accept time carry
//! no request and are therefore not recorded.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};

/// Largest request body the proxy reads.
const BODY_LIMIT: usize = 16 * 1024 * 1024;

/// Which requests a mode applies to: a method (or `*` for any) and a path, matched exactly
/// or as a prefix. The query string never takes part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    method: String,
    path: String,
    prefix: bool,
}

impl Route {
    /// Requests with exactly this method (`*`: any) and path.
    pub fn new(method: &str, path: &str) -> Self {
        Self {
            method: method.to_uppercase(),
            path: path.to_owned(),
            prefix: false,
        }
    }

    /// Requests with this method (`*`: any) whose path starts with `prefix`.
    pub fn prefix(method: &str, prefix: &str) -> Self {
        Self {
            method: method.to_uppercase(),
            path: prefix.to_owned(),
            prefix: true,
        }
    }

    /// Whether a request matches.
    pub fn matches(&self, method: &str, path: &str) -> bool {
        let method_ok = self.method == "*" || self.method.eq_ignore_ascii_case(method);
        let path_ok = if self.prefix {
            path.starts_with(&self.path)
        } else {
            path == self.path
        };
        method_ok && path_ok
    }
}

/// What the proxy does with requests; set with [`FaultProxy::set_mode`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Mode {
    /// Forward everything (the default).
    #[default]
    Forward,
    /// Unreachable upstream: new connections are accepted and closed at once, without an
    /// answer; requests on connections already open get 502 with no body and
    /// `Connection: close`. Nothing is forwarded.
    Down,
    /// Every request is accepted and never answered until the mode changes (then 502, or
    /// forwarded: see [`FaultProxy::set_mode_forwarding_held`]).
    HangAll,
    /// Matching requests get 502 with no body at once and are not forwarded; others are.
    FailRoute(Route),
    /// Matching requests are held, not forwarded, until the mode changes or the proxy is
    /// dropped; then they get 502 (or are forwarded: see
    /// [`FaultProxy::set_mode_forwarding_held`]). Others are forwarded.
    HoldBeforeForward(Route),
    /// Matching requests are forwarded (the upstream applies them) but their answer is held;
    /// when the mode changes or the proxy is dropped they get 502 instead (or the held answer:
    /// see [`FaultProxy::set_mode_forwarding_held`]).
    HoldAfterForward(Route),
    /// Matching requests wait this long, then are forwarded and answered as usual (a slow
    /// upstream); others are forwarded at once. Each request is delayed on its own, so
    /// concurrent requests are delayed concurrently.
    Delay(Route, Duration),
}

/// What the watch channel carries: the mode, and what requests held by the previous mode do.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Setting {
    mode: Mode,
    forward_held: bool,
}

/// One request the proxy received.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Method, upper case.
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// Query string, if any.
    pub query: Option<String>,
    /// The request body.
    pub body: Bytes,
    /// The `traceparent` header, if any.
    pub traceparent: Option<String>,
}

impl Seen {
    /// The body parsed as JSON (`Null` when empty or not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

#[derive(Default)]
struct Log {
    arrived: Vec<Seen>,
    /// `(method, path, upstream status)` of every request the upstream answered.
    forwarded: Vec<(String, String, u16)>,
}

struct Shared {
    upstream: String,
    http: reqwest::Client,
    mode: watch::Receiver<Setting>,
    log: Mutex<Log>,
    changed: Notify,
}

/// A fault-injecting HTTP proxy in front of one upstream; stops when dropped.
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    mode: watch::Sender<Setting>,
    server: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy")
            .field("addr", &self.addr)
            .field("upstream", &self.shared.upstream)
            .field("mode", &self.mode.borrow().mode)
            .finish()
    }
}

impl FaultProxy {
    /// Starts a proxy on `127.0.0.1:0` forwarding to `upstream` (e.g. `http://127.0.0.1:7001`).
    pub async fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let (mode, mode_rx) = watch::channel(Setting::default());
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("proxy client");
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_owned(),
            http,
            mode: mode_rx.clone(),
            log: Mutex::new(Log::default()),
            changed: Notify::new(),
        });
        let router = Router::new().fallback(handle).with_state(shared.clone());
        let gate = GateListener {
            inner: listener,
            mode: mode_rx,
        };
        let server = tokio::spawn(async move {
            let _ = axum::serve(gate, router).await;
        });
        Self {
            addr,
            shared,
            mode,
            server,
        }
    }

    /// The proxy's base URL, `http://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The upstream's base URL.
    pub fn upstream(&self) -> &str {
        &self.shared.upstream
    }

    /// Switches the mode; requests held by the previous mode are released with 502 (as if
    /// the connection to the upstream had failed), never forwarded.
    pub fn set_mode(&self, mode: Mode) {
        self.mode.send_replace(Setting {
            mode,
            forward_held: false,
        });
    }

    /// Switches the mode; requests held by the previous mode carry on as if the upstream had
    /// merely been slow: held-before requests are forwarded now and answered with the
    /// upstream's answer, held-after requests get the answer the upstream gave.
    pub fn set_mode_forwarding_held(&self, mode: Mode) {
        self.mode.send_replace(Setting {
            mode,
            forward_held: true,
        });
    }

    /// The current mode.
    pub fn mode(&self) -> Mode {
        self.mode.borrow().mode.clone()
    }

    /// Requests received with exactly this method and path (query ignored).
    pub fn count(&self, method: &str, path: &str) -> usize {
        self.count_matching(&Route::new(method, path))
    }

    /// Requests received that match `route`.
    pub fn count_matching(&self, route: &Route) -> usize {
        let log = self.shared.log.lock().expect("proxy log");
        log.arrived
            .iter()
            .filter(|s| route.matches(&s.method, &s.path))
            .count()
    }

    /// Every request received, of any kind.
    pub fn total(&self) -> usize {
        self.shared.log.lock().expect("proxy log").arrived.len()
    }

    /// Requests matching `route` that the upstream answered (whatever the proxy then did).
    pub fn forwarded(&self, route: &Route) -> usize {
        let log = self.shared.log.lock().expect("proxy log");
        log.forwarded
            .iter()
            .filter(|(m, p, _)| route.matches(m, p))
            .count()
    }

    /// The requests received that match `route`, oldest first.
    pub fn requests(&self, route: &Route) -> Vec<Seen> {
        let log = self.shared.log.lock().expect("proxy log");
        log.arrived
            .iter()
            .filter(|s| route.matches(&s.method, &s.path))
            .cloned()
            .collect()
    }

    /// Every request received, oldest first.
    pub fn all_requests(&self) -> Vec<Seen> {
        self.shared.log.lock().expect("proxy log").arrived.clone()
    }

    /// Forgets every request seen so far.
    pub fn reset_counts(&self) {
        let mut log = self.shared.log.lock().expect("proxy log");
        log.arrived.clear();
        log.forwarded.clear();
    }

    /// Waits until at least `n` requests matching `route` have arrived; panics after `within`.
    pub async fn wait_for(&self, route: &Route, n: usize, within: Duration) {
        self.wait_until(within, || self.count_matching(route) >= n)
            .await
            .unwrap_or_else(|()| {
                panic!(
                    "proxy: {n} request(s) {route:?} not seen within {within:?}; saw {}",
                    self.count_matching(route)
                )
            });
    }

    /// Waits until the upstream has answered at least `n` requests matching `route`; panics
    /// after `within`.
    pub async fn wait_forwarded(&self, route: &Route, n: usize, within: Duration) {
        self.wait_until(within, || self.forwarded(route) >= n)
            .await
            .unwrap_or_else(|()| {
                panic!(
                    "proxy: {n} request(s) {route:?} not answered upstream within {within:?}; \
                     saw {}",
                    self.forwarded(route)
                )
            });
    }

    async fn wait_until(&self, within: Duration, done: impl Fn() -> bool) -> Result<(), ()> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let notified = self.shared.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if done() {
                return Ok(());
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return if done() { Ok(()) } else { Err(()) };
            }
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.server.abort();
        // Dropping `self.mode` (the only sender) releases every held request with 502.
    }
}

/// Accepts connections, closing them unanswered while the mode is [`Mode::Down`].
struct GateListener {
    inner: TcpListener,
    mode: watch::Receiver<Setting>,
}

impl axum::serve::Listener for GateListener {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    if self.mode.borrow().mode == Mode::Down {
                        drop(stream);
                        continue;
                    }
                    let _ = stream.set_nodelay(true);
                    return (stream, addr);
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Result<Response, Infallible> {
    let (parts, body) = req.into_parts();
    let method = parts.method.clone();
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().map(str::to_owned);
    let Ok(body) = to_bytes(body, BODY_LIMIT).await else {
        return Ok(bad_gateway());
    };
    // The mode is read before the arrival is logged: a test that waits for the arrival and
    // then switches the mode must find this request already waiting on the mode it saw, or
    // the switch would be missed and the request held for ever.
    let mut mode_rx = shared.mode.clone();
    let mode = mode_rx.borrow_and_update().mode.clone();
    {
        let mut log = shared.log.lock().expect("proxy log");
        log.arrived.push(Seen {
            method: method.as_str().to_owned(),
            path: path.clone(),
            query: query.clone(),
            body: body.clone(),
            traceparent: parts
                .headers
                .get("traceparent")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        });
    }
    shared.changed.notify_waiters();

    let hit = |r: &Route| r.matches(method.as_str(), &path);
    let path_and_query = match &query {
        Some(q) => format!("{path}?{q}"),
        None => path.clone(),
    };
    let held_before = match &mode {
        Mode::HangAll => true,
        Mode::HoldBeforeForward(r) => hit(r),
        _ => false,
    };
    Ok(match mode {
        Mode::Down => bad_gateway(),
        Mode::FailRoute(r) if hit(&r) => bad_gateway(),
        _ if held_before => {
            if released_to_forward(&mut mode_rx).await {
                forward(
                    &shared,
                    method.clone(),
                    &path_and_query,
                    &parts.headers,
                    body,
                )
                .await
                .unwrap_or_else(|()| bad_gateway())
            } else {
                bad_gateway()
            }
        }
        Mode::Delay(r, delay) if hit(&r) => {
            tokio::time::sleep(delay).await;
            forward(
                &shared,
                method.clone(),
                &path_and_query,
                &parts.headers,
                body,
            )
            .await
            .unwrap_or_else(|()| bad_gateway())
        }
        Mode::HoldAfterForward(r) if hit(&r) => {
            let answer = forward(
                &shared,
                method.clone(),
                &path_and_query,
                &parts.headers,
                body,
            )
            .await;
            if released_to_forward(&mut mode_rx).await {
                answer.unwrap_or_else(|()| bad_gateway())
            } else {
                bad_gateway()
            }
        }
        _ => forward(
            &shared,
            method.clone(),
            &path_and_query,
            &parts.headers,
            body,
        )
        .await
        .unwrap_or_else(|()| bad_gateway()),
    })
}

/// Waits until the mode changes (or the proxy is dropped); whether held requests go on.
async fn released_to_forward(mode: &mut watch::Receiver<Setting>) -> bool {
    match mode.changed().await {
        Ok(()) => mode.borrow_and_update().forward_held,
        Err(_) => false,
    }
}

/// Sends the request upstream and turns its answer into a response; records it as forwarded.
async fn forward(
    shared: &Shared,
    method: Method,
    path_and_query: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response, ()> {
    let mut out = HeaderMap::new();
    for (name, value) in headers {
        if !is_hop_by_hop(name) && name != header::HOST && name != header::CONTENT_LENGTH {
            out.append(name.clone(), value.clone());
        }
    }
    let path = path_and_query
        .split_once('?')
        .map_or(path_and_query, |(p, _)| p)
        .to_owned();
    let res = shared
        .http
        .request(
            method.clone(),
            format!("{}{path_and_query}", shared.upstream),
        )
        .headers(out)
        .body(body)
        .send()
        .await
        .map_err(|_| ())?;
    let status = res.status();
    let res_headers = res.headers().clone();
    let bytes = res.bytes().await.map_err(|_| ())?;
    {
        let mut log = shared.log.lock().expect("proxy log");
        log.forwarded
            .push((method.as_str().to_owned(), path, status.as_u16()));
    }
    shared.changed.notify_waiters();
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    for (name, value) in &res_headers {
        if !is_hop_by_hop(name) && name != header::CONTENT_LENGTH {
            response.headers_mut().append(name.clone(), value.clone());
        }
    }
    Ok(response)
}

fn is_hop_by_hop(name: &header::HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "proxy-connection"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
    )
}

/// 502 with no body; the connection is closed after it.
fn bad_gateway() -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::BAD_GATEWAY;
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::any;

    /// An upstream that echoes what it got and counts the requests it answered.
    async fn echo() -> (String, Arc<Mutex<usize>>) {
        let hits = Arc::new(Mutex::new(0usize));
        let counter = hits.clone();
        let app = Router::new().route(
            "/{*rest}",
            any(move |req: Request| {
                let counter = counter.clone();
                async move {
                    *counter.lock().unwrap() += 1;
                    let (parts, body) = req.into_parts();
                    let body = to_bytes(body, BODY_LIMIT).await.unwrap();
                    let echo = serde_json::json!({
                        "method": parts.method.as_str(),
                        "uri": parts.uri.to_string(),
                        "auth": parts.headers.get("authorization").and_then(|v| v.to_str().ok()),
                        "body": String::from_utf8_lossy(&body),
                    });
                    Response::builder()
                        .status(StatusCode::CREATED)
                        .header("x-upstream", "yes")
                        .header("content-type", "application/json")
                        .body(Body::from(echo.to_string()))
                        .unwrap()
                }
            }),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (format!("http://{addr}"), hits)
    }

    fn client() -> reqwest::Client {
        reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn forwards_everything_and_counts() {
        let (upstream, hits) = echo().await;
        let proxy = FaultProxy::start(&upstream).await;
        let res = client()
            .post(format!("{}/v1/things:do?x=1&y=2", proxy.base()))
            .bearer_auth("secret-token")
            .body("{\"a\":1}")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        assert_eq!(res.headers()["x-upstream"], "yes");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["method"], "POST");
        assert_eq!(body["uri"], "/v1/things:do?x=1&y=2");
        assert_eq!(body["auth"], "Bearer secret-token");
        assert_eq!(body["body"], "{\"a\":1}");
        assert_eq!(proxy.count("POST", "/v1/things:do"), 1);
        assert_eq!(proxy.count("GET", "/v1/things:do"), 0);
        assert_eq!(proxy.forwarded(&Route::new("POST", "/v1/things:do")), 1);
        let seen = proxy.requests(&Route::prefix("*", "/v1/"));
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].query.as_deref(), Some("x=1&y=2"));
        assert_eq!(seen[0].json()["a"], 1);
        assert_eq!(*hits.lock().unwrap(), 1);
        proxy.reset_counts();
        assert_eq!(proxy.total(), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn down_and_failed_routes_never_reach_the_upstream() {
        let (upstream, hits) = echo().await;
        let proxy = FaultProxy::start(&upstream).await;
        proxy.set_mode(Mode::Down);
        // A new connection is closed unanswered: the upstream looks unreachable.
        let res = client().get(format!("{}/v1/a", proxy.base())).send().await;
        assert!(res.is_err(), "{res:?}");
        proxy.set_mode(Mode::FailRoute(Route::new("POST", "/v1/a")));
        let failed = client()
            .post(format!("{}/v1/a", proxy.base()))
            .send()
            .await
            .unwrap();
        assert_eq!(failed.status(), 502);
        let other = client()
            .get(format!("{}/v1/a", proxy.base()))
            .send()
            .await
            .unwrap();
        assert_eq!(other.status(), 201);
        assert_eq!(*hits.lock().unwrap(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn delays_matching_requests_concurrently() {
        let (upstream, hits) = echo().await;
        let proxy = FaultProxy::start(&upstream).await;
        let route = Route::new("POST", "/v1/slow");
        proxy.set_mode(Mode::Delay(route.clone(), Duration::from_millis(400)));
        let started = tokio::time::Instant::now();
        let slow = (0..2).map(|_| {
            let url = format!("{}/v1/slow", proxy.base());
            tokio::spawn(async move { client().post(url).send().await })
        });
        let slow: Vec<_> = slow.collect();
        proxy.wait_for(&route, 2, Duration::from_secs(5)).await;
        // Other routes are not delayed.
        let fast = client()
            .get(format!("{}/v1/slow", proxy.base()))
            .send()
            .await
            .unwrap();
        assert_eq!(fast.status(), 201);
        assert!(started.elapsed() < Duration::from_millis(400));
        assert_eq!(proxy.forwarded(&route), 0);
        for s in slow {
            assert_eq!(s.await.unwrap().unwrap().status(), 201);
        }
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(400), "{took:?}");
        assert!(
            took < Duration::from_millis(780),
            "delayed one after the other: {took:?}"
        );
        assert_eq!(proxy.forwarded(&route), 2);
        assert_eq!(*hits.lock().unwrap(), 3);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn holds_before_and_after_forwarding() {
        let (upstream, hits) = echo().await;
        let proxy = FaultProxy::start(&upstream).await;
        let route = Route::prefix("DELETE", "/v1/r/");

        proxy.set_mode(Mode::HoldBeforeForward(route.clone()));
        let url = format!("{}/v1/r/1", proxy.base());
        let held = tokio::spawn(async move { client().delete(url).send().await });
        proxy.wait_for(&route, 1, Duration::from_secs(5)).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!held.is_finished());
        assert_eq!(*hits.lock().unwrap(), 0);
        // Other routes still pass.
        let other = client()
            .get(format!("{}/v1/r/1", proxy.base()))
            .send()
            .await
            .unwrap();
        assert_eq!(other.status(), 201);
        proxy.set_mode(Mode::Forward);
        let released = held.await.unwrap().unwrap();
        assert_eq!(released.status(), 502);
        assert_eq!(*hits.lock().unwrap(), 1);

        // Released as merely slow: the held request is forwarded and answered.
        proxy.set_mode(Mode::HoldBeforeForward(route.clone()));
        let url = format!("{}/v1/r/3", proxy.base());
        let held = tokio::spawn(async move { client().delete(url).send().await });
        proxy.wait_for(&route, 2, Duration::from_secs(5)).await;
        assert_eq!(*hits.lock().unwrap(), 1);
        proxy.set_mode_forwarding_held(Mode::Forward);
        let answered = held.await.unwrap().unwrap();
        assert_eq!(answered.status(), 201);
        assert_eq!(*hits.lock().unwrap(), 2);

        proxy.set_mode(Mode::HoldAfterForward(route.clone()));
        let url = format!("{}/v1/r/2", proxy.base());
        let held = tokio::spawn(async move { client().delete(url).send().await });
        proxy
            .wait_forwarded(&route, 2, Duration::from_secs(5))
            .await;
        assert_eq!(*hits.lock().unwrap(), 3);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!held.is_finished());
        proxy.set_mode_forwarding_held(Mode::HoldAfterForward(route.clone()));
        assert_eq!(held.await.unwrap().unwrap().status(), 201);

        let url = format!("{}/v1/r/4", proxy.base());
        let held = tokio::spawn(async move { client().delete(url).send().await });
        proxy
            .wait_forwarded(&route, 3, Duration::from_secs(5))
            .await;
        assert_eq!(*hits.lock().unwrap(), 4);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!held.is_finished());
        drop(proxy);
        let released = held.await.unwrap();
        assert!(
            released.as_ref().map_or(true, |r| r.status() == 502),
            "{released:?}"
        );
    }
}
