//! The Spin HTTP component: the only code that knows the SDK.
//!
//! Each request fetches its primary record(s), plans every product lookup of the whole
//! response with `composer-core`, sends the batch calls of the hop concurrently, each within
//! a time budget, and assembles the answer. A slow or down catalog (or search) degrades the
//! answer; a down primary service gives 503.

use std::future::Future;
use std::pin::pin;
use std::task::Poll;

use composer_core::{Lookup, TraceParent, customer_views, order_view, plan_products, search_view};
use contracts::catalog::{BatchGetRequest, BatchGetResponse, MAX_BATCH_IDS};
use contracts::orders::{Order, OrderPage};
use contracts::search::SearchResponse;
use contracts::{Code, ErrorBody, ErrorDetail};
use futures::future::{Either, join_all, select};
use serde::Serialize;
use serde::de::DeserializeOwned;
use spin_sdk::http::{Method, Request, Response};
use spin_sdk::http_component;
use wasi::clocks::{monotonic_clock, wall_clock};
use wasi::random::random;

use crate::access::{self, PlaceRefusal};
use crate::config::{self as settings, Upstreams};
use crate::jwt::Verified;
use crate::routes::{Route, RouteError, route};
use crate::timing::Timing;

/// Time budget of one upstream read, in milliseconds.
const BUDGET_MS: u64 = 1500;

/// Time budget of forwarding an order to order-node, in milliseconds. Placing an order costs
/// order-node up to two catalog calls of 2 s each (batch read, reservation); giving up sooner
/// would tell the client 503 about an order order-node goes on to store.
const WRITE_BUDGET_MS: u64 = 5000;

/// The header carrying the verified end user to order-node, which trusts it only from
/// callers holding `orders:on-behalf`.
const END_USER_HEADER: &str = "x-end-user";

/// `wasi:config/store` at the version Spin's variables host serves, so the component needs
/// no Spin-only import and edge-host can serve the same interface.
#[allow(missing_docs, clippy::all)]
mod wasi_config {
    spin_sdk::wit_bindgen::generate!({
        path: "wit/config.wit",
        world: "imports",
        runtime_path: "spin_sdk::wit_bindgen::rt",
    });
}

fn config(key: &str) -> Result<Option<String>, String> {
    use wasi_config::wasi::config::store::{Error, get};
    get(key).map_err(|e| match e {
        Error::Upstream(why) | Error::Io(why) => why,
    })
}

fn now_ns() -> u64 {
    monotonic_clock::now()
}

fn ms_since(start: u64) -> f64 {
    now_ns().saturating_sub(start) as f64 / 1e6
}

/// Resolves once `deadline` (monotonic ns) has passed, waiting through Spin's executor.
async fn sleep_until(deadline: u64) {
    let mut token = None;
    std::future::poll_fn(|cx| {
        // A timer for an instant already past may still report "not ready" on its first
        // check; without this test the future would re-subscribe and spin forever.
        if now_ns() >= deadline {
            return Poll::Ready(());
        }
        let pollable = monotonic_clock::subscribe_instant(deadline);
        if pollable.ready() {
            Poll::Ready(())
        } else {
            token = Some(spin_executor::CancelOnDropToken::from(
                spin_executor::push_waker_and_get_token(pollable, cx.waker().clone()),
            ));
            Poll::Pending
        }
    })
    .await;
}

thread_local! {
    /// The `traceparent` every upstream call of the request carries. An instance serves one
    /// request and WASI 0.2 gives it one thread, so this is the request's; kept here rather
    /// than threaded through every route, whose calls all go through [`send`].
    static TRACE: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Continues the caller's trace, or starts one.
fn begin_trace(req: &Request) {
    let header = req.header("traceparent").and_then(|v| v.as_str());
    let trace = TraceParent::continue_or_start(header, || {
        // Zeros (were WASI to give fewer bytes than asked) start no trace rather than a bad one.
        <[u8; 24]>::try_from(random::get_random_bytes(24).as_slice()).unwrap_or([0; 24])
    });
    TRACE.with(|t| *t.borrow_mut() = trace.map(|t| t.to_string()));
}

/// Sends an upstream call with the request's `traceparent`.
fn send(mut request: Request) -> impl Future<Output = Result<Response, spin_sdk::http::SendError>> {
    if let Some(trace) = TRACE.with(|t| t.borrow().clone()) {
        request.set_header("traceparent", trace);
    }
    spin_sdk::http::send::<_, Response>(request)
}

/// What an upstream call came to.
enum Upstream<T> {
    Ok(T),
    NotFound,
    Failed(String),
}

async fn within_budget<F: Future<Output = Result<Response, spin_sdk::http::SendError>>>(
    name: &str,
    budget_ms: u64,
    call: F,
) -> Result<Response, String> {
    let deadline = now_ns() + budget_ms * 1_000_000;
    match select(pin!(call), pin!(sleep_until(deadline))).await {
        Either::Left((Ok(response), _)) => Ok(response),
        Either::Left((Err(e), _)) => Err(format!("{name} unreachable: {e}")),
        Either::Right(((), _)) => Err(format!("{name} did not answer within {budget_ms} ms")),
    }
}

async fn call<T: DeserializeOwned>(name: &str, request: Request) -> Upstream<T> {
    let response = match within_budget(name, BUDGET_MS, send(request)).await {
        Ok(r) => r,
        Err(e) => return Upstream::Failed(e),
    };
    match *response.status() {
        200 => match serde_json::from_slice(response.body()) {
            Ok(value) => Upstream::Ok(value),
            Err(e) => Upstream::Failed(format!("{name} answered unreadable JSON: {e}")),
        },
        404 if crate::routes::names_a_missing_record(response.body()) => Upstream::NotFound,
        status => Upstream::Failed(format!("{name} answered {status}")),
    }
}

fn get(url: String, token: &str) -> Request {
    Request::builder()
        .method(Method::Get)
        .uri(url)
        .header("authorization", format!("Bearer {token}"))
        .build()
}

fn json<T: Serialize>(status: u16, body: &T, timing: &Timing) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("server-timing", timing.header())
        .body(serde_json::to_vec(body).unwrap_or_default())
        .build()
}

/// An error answer with `code`'s status.
fn error(code: Code, message: impl Into<String>, timing: &Timing) -> Response {
    let body = ErrorBody {
        error: ErrorDetail::new(code, message),
    };
    json(code.status(), &body, timing)
}

/// Fetches every product the response needs: one hop, batches sent concurrently.
async fn lookup_products<'a>(
    up: &Upstreams,
    ids: impl IntoIterator<Item = &'a str>,
    timing: &mut Timing,
) -> Lookup {
    let plan = plan_products(ids, MAX_BATCH_IDS, true);
    let mut lookup = Lookup::default();
    if plan.batches.is_empty() {
        return lookup;
    }
    let start = now_ns();
    // An instance serves one request and keeps nothing, so the turn among the read URLs is
    // drawn at random rather than counted.
    // Reduced in u64: on wasm32 a usize could not hold the draw.
    let turns = u64::try_from(up.catalog_reads.len()).unwrap_or(1).max(1);
    let first = usize::try_from(wasi::random::random::get_random_u64() % turns).unwrap_or(0);
    let calls = plan
        .batches
        .iter()
        .enumerate()
        .map(|(i, batch)| batch_read(up, first.wrapping_add(i), batch));
    for answer in join_all(calls).await {
        match answer {
            Upstream::Ok(batch) => lookup.add(batch),
            Upstream::NotFound => lookup.fail("catalog answered 404 to a batch read"),
            Upstream::Failed(e) => lookup.fail(e),
        }
    }
    timing.hop("catalog", ms_since(start), plan.batches.len());
    lookup
}

/// One batch read from the catalog's read URLs, starting at the `first`-th: an unreachable
/// node or a 5xx (a replica not caught up, say) passes the read to the next one, and when
/// every one has failed the primary answers it.
async fn batch_read(up: &Upstreams, first: usize, ids: &[String]) -> Upstream<BatchGetResponse> {
    let body = serde_json::to_vec(&BatchGetRequest { ids: ids.to_vec() }).unwrap_or_default();
    let reads = &up.catalog_reads;
    let turns = (0..reads.len()).map(|i| reads[first.wrapping_add(i) % reads.len()].as_str());
    let last_resort = (!reads.contains(&up.catalog_url)).then_some(up.catalog_url.as_str());
    let mut answer = Upstream::Failed("no catalog URL to read from".into());
    for base in turns.chain(last_resort) {
        let request = Request::builder()
            .method(Method::Post)
            .uri(format!("{base}/v1/products:batchGet"))
            .header("authorization", format!("Bearer {}", up.catalog_token))
            .header("content-type", "application/json")
            .body(body.clone())
            .build();
        answer = call::<BatchGetResponse>("catalog", request).await;
        if !matches!(answer, Upstream::Failed(_)) {
            break;
        }
    }
    answer
}

async fn order_view_route(up: &Upstreams, user: &Verified, order_id: &str) -> Response {
    let mut timing = Timing::default();
    let start = now_ns();
    let order = call::<Order>(
        "orders",
        get(
            format!("{}/v1/orders/{order_id}", up.orders_url),
            &up.orders_token,
        ),
    )
    .await;
    timing.hop("orders", ms_since(start), 1);
    let order = match order {
        // Someone else's order answers exactly as a missing one: its existence is not told.
        Upstream::Ok(order) if access::may_read(user, &order.customer_id) => order,
        Upstream::Ok(_) | Upstream::NotFound => {
            return error(
                Code::OrderNotFound,
                format!("no order {order_id:?}"),
                &timing,
            );
        }
        Upstream::Failed(e) => return error(Code::OrdersUnavailable, e, &timing),
    };
    let lookup = lookup_products(
        up,
        order.lines.iter().map(|l| l.product_id.as_str()),
        &mut timing,
    )
    .await;
    json(200, &order_view(&order, &lookup), &timing)
}

async fn customer_views_route(
    up: &Upstreams,
    user: &Verified,
    customer_id: &str,
    limit: usize,
    cursor: Option<&str>,
) -> Response {
    let mut timing = Timing::default();
    if !access::may_read(user, customer_id) {
        return error(
            Code::CustomerNotFound,
            format!("no customer {customer_id:?}"),
            &timing,
        );
    }
    let start = now_ns();
    let mut url = format!(
        "{}/v1/orders?customer_id={customer_id}&limit={limit}",
        up.orders_url
    );
    if let Some(c) = cursor {
        url.push_str(&format!("&cursor={c}"));
    }
    let page = call::<OrderPage>("orders", get(url, &up.orders_token)).await;
    timing.hop("orders", ms_since(start), 1);
    let page = match page {
        Upstream::Ok(page) => page,
        Upstream::NotFound => OrderPage {
            orders: Vec::new(),
            next_cursor: None,
        },
        Upstream::Failed(e) => return error(Code::OrdersUnavailable, e, &timing),
    };
    let ids = page
        .orders
        .iter()
        .flat_map(|o| o.lines.iter().map(|l| l.product_id.as_str()));
    let lookup = lookup_products(up, ids, &mut timing).await;
    json(200, &customer_views(&page, &lookup), &timing)
}

async fn search_route(up: &Upstreams, query: &str) -> Response {
    let mut timing = Timing::default();
    let start = now_ns();
    let request = get(
        format!("{}/v1/search?{query}", up.search_url),
        &up.search_token,
    );
    let response = within_budget("search", BUDGET_MS, send(request)).await;
    timing.hop("search", ms_since(start), 1);
    let response = match response {
        Ok(r) => r,
        Err(e) => return error(Code::SearchUnavailable, e, &timing),
    };
    let status = *response.status();
    if status == 400 {
        // The query is the client's: pass search-node's explanation through.
        return Response::builder()
            .status(400)
            .header("content-type", "application/json")
            .header("server-timing", timing.header())
            .body(response.body().to_vec())
            .build();
    }
    let hits: SearchResponse = match (status, serde_json::from_slice(response.body())) {
        (200, Ok(hits)) => hits,
        _ => {
            return error(
                Code::SearchUnavailable,
                format!("search answered {status}"),
                &timing,
            );
        }
    };
    let lookup = lookup_products(
        up,
        hits.hits.iter().map(|h| h.product_id.as_str()),
        &mut timing,
    )
    .await;
    json(200, &search_view(&hits, &lookup), &timing)
}

async fn create_order_route(up: &Upstreams, user: &Verified, req: &Request) -> Response {
    let timing = Timing::default();
    let body = match access::order_body(user, req.body()) {
        Ok(body) => body,
        Err(PlaceRefusal::NotAnObject) => {
            return error(Code::InvalidJson, "the body must be a JSON object", &timing);
        }
        Err(PlaceRefusal::ForSomeoneElse) => {
            return error(
                Code::Forbidden,
                "an order can only be placed for the customer the token names",
                &timing,
            );
        }
    };
    let mut builder = Request::builder();
    builder
        .method(Method::Post)
        .uri(format!("{}/v1/orders", up.orders_url))
        .header("authorization", format!("Bearer {}", up.orders_token))
        .header("content-type", "application/json")
        .header(END_USER_HEADER, user.subject.as_str());
    if let Some(key) = req.header("idempotency-key").and_then(|v| v.as_str()) {
        builder.header("idempotency-key", key);
    }
    forward(builder.body(body).build(), timing).await
}

async fn cancel_order_route(up: &Upstreams, user: &Verified, order_id: &str) -> Response {
    // order-node checks that the order is the end user's, and answers 404 if it is not.
    let request = Request::builder()
        .method(Method::Post)
        .uri(format!("{}/v1/orders/{order_id}/cancel", up.orders_url))
        .header("authorization", format!("Bearer {}", up.orders_token))
        .header(END_USER_HEADER, user.subject.as_str())
        .build();
    forward(request, Timing::default()).await
}

/// Sends a write to order-node and passes its answer through.
async fn forward(request: Request, mut timing: Timing) -> Response {
    let start = now_ns();
    let response = within_budget("orders", WRITE_BUDGET_MS, send(request)).await;
    timing.hop("orders", ms_since(start), 1);
    match response {
        Ok(upstream) => {
            let mut out = Response::builder();
            out.status(*upstream.status())
                .header("content-type", "application/json")
                .header("server-timing", timing.header());
            // order-node names its own route; at the edge the order lives at its view.
            if let Some(location) = upstream
                .header("location")
                .and_then(|v| v.as_str())
                .and_then(crate::routes::edge_location)
            {
                out.header("location", location);
            }
            out.body(upstream.body().to_vec()).build()
        }
        Err(e) => error(Code::OrdersUnavailable, e, &timing),
    }
}

/// A 401 with the RFC 6750 challenge: without an error code when no token was sent.
fn unauthorized(invalid: bool, message: impl Into<String>, timing: &Timing) -> Response {
    let body = ErrorBody {
        error: ErrorDetail::new(
            if invalid {
                Code::InvalidToken
            } else {
                Code::Unauthorized
            },
            message,
        ),
    };
    let challenge = if invalid {
        "Bearer error=\"invalid_token\""
    } else {
        "Bearer"
    };
    Response::builder()
        .status(body.error.code.status())
        .header("content-type", "application/json")
        .header("www-authenticate", challenge)
        .header("server-timing", timing.header())
        .body(serde_json::to_vec(&body).unwrap_or_default())
        .build()
}

/// The end user of a request to a protected route, or the answer refusing it.
fn authenticate(req: &Request, timing: &Timing) -> Result<Verified, Response> {
    let header = req.header("authorization").and_then(|v| v.as_str());
    let Some(token) = access::bearer(header) else {
        return Err(unauthorized(false, "a bearer token is required", timing));
    };
    let verifier = settings::verifier(config)
        .map_err(|e| error(Code::Misconfigured, e.to_string(), timing))?;
    let now = i64::try_from(wall_clock::now().seconds).unwrap_or(i64::MAX);
    verifier
        .verify(token, now)
        .map_err(|e| unauthorized(true, e.to_string(), timing))
}

#[http_component]
async fn handle(req: Request) -> anyhow::Result<Response> {
    let method = match req.method() {
        Method::Get => "GET",
        Method::Post => "POST",
        _ => "OTHER",
    };
    let timing = Timing::default();
    let route = match route(method, req.path(), req.query()) {
        Ok(r) => r,
        Err(RouteError::NotFound) => {
            return Ok(error(Code::RouteNotFound, "no such route", &timing));
        }
        Err(RouteError::MethodNotAllowed) => {
            return Ok(error(
                Code::MethodNotAllowed,
                "this route does not accept that method",
                &timing,
            ));
        }
        Err(RouteError::Invalid(e)) => {
            return Ok(error(Code::InvalidInput, e.to_string(), &timing));
        }
    };
    if route == Route::Health {
        return Ok(json(200, &serde_json::json!({"status": "ok"}), &timing));
    }
    begin_trace(&req);
    let up = match Upstreams::load(config) {
        Ok(up) => up,
        Err(e) => return Ok(error(Code::Misconfigured, e.to_string(), &timing)),
    };
    if let Route::Search { query } = &route {
        return Ok(search_route(&up, query).await);
    }
    let user = match authenticate(&req, &timing) {
        Ok(user) => user,
        Err(refusal) => return Ok(refusal),
    };
    Ok(match route {
        Route::Health => json(200, &serde_json::json!({"status": "ok"}), &timing),
        Route::Search { query } => search_route(&up, &query).await,
        Route::OrderView { order_id } => order_view_route(&up, &user, &order_id).await,
        Route::CustomerViews {
            customer_id,
            limit,
            cursor,
        } => customer_views_route(&up, &user, &customer_id, limit, cursor.as_deref()).await,
        Route::CreateOrder => create_order_route(&up, &user, &req).await,
        Route::CancelOrder { order_id } => cancel_order_route(&up, &user, &order_id).await,
    })
}
