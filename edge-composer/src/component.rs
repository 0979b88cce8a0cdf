//! The Spin HTTP component: the only code that knows the SDK.
//!
//! Each request fetches its primary record(s), plans every product lookup of the whole
//! response with `composer-core`, sends the batch calls of the hop concurrently, each within
//! a time budget, and assembles the answer. A slow or down catalog (or search) degrades the
//! answer; a down primary service gives 503.

use std::future::Future;
use std::pin::pin;
use std::task::Poll;

use composer_core::{Lookup, customer_views, order_view, plan_products, search_view};
use contracts::catalog::{BatchGetRequest, BatchGetResponse, MAX_BATCH_IDS};
use contracts::orders::{Order, OrderPage};
use contracts::search::SearchResponse;
use contracts::{ErrorBody, ErrorDetail};
use futures::future::{Either, join_all, select};
use serde::Serialize;
use serde::de::DeserializeOwned;
use spin_sdk::http::{Method, Request, Response};
use spin_sdk::http_component;
use wasi::clocks::monotonic_clock;

use crate::routes::{Route, RouteError, route};
use crate::timing::Timing;

/// Time budget of one upstream read, in milliseconds.
const BUDGET_MS: u64 = 1500;

/// Time budget of forwarding an order to order-node, in milliseconds. Placing an order costs
/// order-node up to two catalog calls of 2 s each (batch read, reservation); giving up sooner
/// would tell the client 503 about an order order-node goes on to store.
const WRITE_BUDGET_MS: u64 = 5000;

/// Where the upstreams are and how to authenticate, from Spin variables.
struct Upstreams {
    catalog_url: String,
    catalog_token: String,
    orders_url: String,
    orders_token: String,
    search_url: String,
    search_token: String,
}

impl Upstreams {
    fn load() -> anyhow::Result<Self> {
        let var = |name: &str| {
            spin_sdk::variables::get(name)
                .map(|v| v.trim_end_matches('/').to_owned())
                .map_err(|e| anyhow::anyhow!("variable {name}: {e}"))
        };
        Ok(Self {
            catalog_url: var("catalog_url")?,
            catalog_token: var("catalog_token")?,
            orders_url: var("orders_url")?,
            orders_token: var("orders_token")?,
            search_url: var("search_url")?,
            search_token: var("search_token")?,
        })
    }
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
    let response = match within_budget(
        name,
        BUDGET_MS,
        spin_sdk::http::send::<_, Response>(request),
    )
    .await
    {
        Ok(r) => r,
        Err(e) => return Upstream::Failed(e),
    };
    match *response.status() {
        200 => match serde_json::from_slice(response.body()) {
            Ok(value) => Upstream::Ok(value),
            Err(e) => Upstream::Failed(format!("{name} answered unreadable JSON: {e}")),
        },
        404 => Upstream::NotFound,
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

fn error(status: u16, code: &str, message: impl Into<String>, timing: &Timing) -> Response {
    let body = ErrorBody {
        error: ErrorDetail {
            code: code.to_owned(),
            message: message.into(),
            field: None,
            missing_ids: Vec::new(),
            short_items: Vec::new(),
        },
    };
    json(status, &body, timing)
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
    let calls = plan.batches.iter().map(|batch| {
        let body = serde_json::to_vec(&BatchGetRequest { ids: batch.clone() }).unwrap_or_default();
        let request = Request::builder()
            .method(Method::Post)
            .uri(format!("{}/v1/products:batchGet", up.catalog_url))
            .header("authorization", format!("Bearer {}", up.catalog_token))
            .header("content-type", "application/json")
            .body(body)
            .build();
        call::<BatchGetResponse>("catalog", request)
    });
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

async fn order_view_route(up: &Upstreams, order_id: &str) -> Response {
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
        Upstream::Ok(order) => order,
        Upstream::NotFound => {
            return error(
                404,
                "order_not_found",
                format!("no order {order_id:?}"),
                &timing,
            );
        }
        Upstream::Failed(e) => return error(503, "orders_unavailable", e, &timing),
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
    customer_id: &str,
    limit: usize,
    cursor: Option<&str>,
) -> Response {
    let mut timing = Timing::default();
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
        Upstream::Failed(e) => return error(503, "orders_unavailable", e, &timing),
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
    let response = within_budget(
        "search",
        BUDGET_MS,
        spin_sdk::http::send::<_, Response>(request),
    )
    .await;
    timing.hop("search", ms_since(start), 1);
    let response = match response {
        Ok(r) => r,
        Err(e) => return error(503, "search_unavailable", e, &timing),
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
                503,
                "search_unavailable",
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

async fn create_order_route(up: &Upstreams, req: &Request) -> Response {
    let mut timing = Timing::default();
    let start = now_ns();
    let mut builder = Request::builder();
    builder
        .method(Method::Post)
        .uri(format!("{}/v1/orders", up.orders_url))
        .header("authorization", format!("Bearer {}", up.orders_token))
        .header("content-type", "application/json");
    if let Some(key) = req.header("idempotency-key").and_then(|v| v.as_str()) {
        builder.header("idempotency-key", key);
    }
    let request = builder.body(req.body().to_vec()).build();
    let response = within_budget(
        "orders",
        WRITE_BUDGET_MS,
        spin_sdk::http::send::<_, Response>(request),
    )
    .await;
    timing.hop("orders", ms_since(start), 1);
    match response {
        Ok(upstream) => {
            let mut out = Response::builder();
            out.status(*upstream.status())
                .header("content-type", "application/json")
                .header("server-timing", timing.header());
            if let Some(location) = upstream.header("location").and_then(|v| v.as_str()) {
                out.header("location", location);
            }
            out.body(upstream.body().to_vec()).build()
        }
        Err(e) => error(503, "orders_unavailable", e, &timing),
    }
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
            return Ok(error(404, "route_not_found", "no such route", &timing));
        }
        Err(RouteError::MethodNotAllowed) => {
            return Ok(error(
                405,
                "method_not_allowed",
                "this route does not accept that method",
                &timing,
            ));
        }
        Err(RouteError::Invalid(e)) => {
            return Ok(error(400, "invalid_input", e.to_string(), &timing));
        }
    };
    if route == Route::Health {
        return Ok(json(200, &serde_json::json!({"status": "ok"}), &timing));
    }
    let up = match Upstreams::load() {
        Ok(up) => up,
        Err(e) => return Ok(error(500, "misconfigured", e.to_string(), &timing)),
    };
    Ok(match route {
        Route::Health => json(200, &serde_json::json!({"status": "ok"}), &timing),
        Route::OrderView { order_id } => order_view_route(&up, &order_id).await,
        Route::CustomerViews {
            customer_id,
            limit,
            cursor,
        } => customer_views_route(&up, &customer_id, limit, cursor.as_deref()).await,
        Route::Search { query } => search_route(&up, &query).await,
        Route::CreateOrder => create_order_route(&up, &req).await,
    })
}
