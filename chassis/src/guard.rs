//! Per-request guards every node puts in front of its handlers: a body over the limit is
//! refused from its `Content-Length` before a byte of it is read, a request past its time
//! limit is answered instead of waited for, and a request over the concurrency limit is shed
//! at once instead of queued.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use contracts::Code;
use tokio::sync::Semaphore;

use crate::error::ApiError;
use crate::routes::RouteTable;

/// Seconds a shed client is asked to wait before it retries.
pub const RETRY_AFTER_SECS: u32 = 1;

/// 503 `overloaded` with `Retry-After`: what a request over a limit of the server gets.
pub fn overloaded(message: &str) -> Response {
    let mut response = ApiError::new(Code::Overloaded, message).into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    closing(response)
}

/// The response with `Connection: close`. An answer given before the request's body was
/// read leaves the rest of that body on the connection; hyper then closes it, and a client
/// that was not told so would send its next request into a closing connection.
pub fn closing(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Refuses a request whose declared body is over `limit` with 413 before reading it. Bodies
/// without a length (chunked) are cut off at the same limit while they are read, by the
/// extractors' own limit.
pub async fn declared_length(State(limit): State<usize>, request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(length) = declared
        && length > u64::try_from(limit).unwrap_or(u64::MAX)
    {
        return closing(
            ApiError::new(
                Code::PayloadTooLarge,
                format!("the body is {length} bytes; at most {limit} are accepted"),
            )
            .into_response(),
        );
    }
    let response = next.run(request).await;
    // A chunked body cut off at the limit by an extractor is unread past it, too.
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return closing(response);
    }
    response
}

/// Sheds requests beyond the permits of `slots` with 503 and `Retry-After`.
pub async fn shed(State(slots): State<Arc<Semaphore>>, request: Request, next: Next) -> Response {
    let Ok(_permit) = slots.try_acquire() else {
        return overloaded("the node is handling as many requests as it may; retry shortly");
    };
    next.run(request).await
}

/// The time every request to a route may take.
#[derive(Debug, Clone)]
pub struct TimeLimits {
    ordinary: Duration,
    table: RouteTable,
}

impl TimeLimits {
    /// `ordinary` for every route but those the table gives a limit of their own.
    pub fn new(ordinary: Duration, table: RouteTable) -> Self {
        Self { ordinary, table }
    }

    fn of(&self, route: Option<&str>) -> Duration {
        route
            .and_then(|r| self.table.time_limit(r))
            .unwrap_or(self.ordinary)
    }
}

/// Answers 503 `request_timeout` for a request still unanswered at its route's time limit.
/// Only the handler's work is timed (the request body included), not the streaming of an
/// answer already begun.
pub async fn time_limit(
    State(limits): State<Arc<TimeLimits>>,
    request: Request,
    next: Next,
) -> Response {
    let limit = limits.of(request
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str));
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => closing(
            ApiError::new(
                Code::RequestTimeout,
                format!(
                    "the request was not answered within {} ms",
                    limit.as_millis()
                ),
            )
            .into_response(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::middleware::from_fn_with_state;
    use axum::routing::{get, post};
    use tower::ServiceExt;

    #[tokio::test]
    async fn a_declared_body_over_the_limit_is_refused_unread() {
        let app = Router::new()
            .route("/", post(|body: String| async move { body }))
            .layer(from_fn_with_state(8usize, declared_length));
        let big = Request::post("/")
            .header("content-length", "1000000000")
            .body(Body::empty())
            .unwrap();
        let refused = app.clone().oneshot(big).await.unwrap();
        assert_eq!(refused.status(), 413);
        assert_eq!(refused.headers().get("connection").unwrap(), "close");
        let small = Request::post("/")
            .header("content-length", "2")
            .body(Body::from("ok"))
            .unwrap();
        assert_eq!(app.oneshot(small).await.unwrap().status(), 200);
    }

    #[tokio::test]
    async fn requests_over_the_limit_are_shed_with_retry_after() {
        let slots = Arc::new(Semaphore::new(1));
        let app = Router::new()
            .route("/", get(|| async { "ok" }))
            .layer(from_fn_with_state(slots.clone(), shed));
        let held = slots.clone().try_acquire_owned().unwrap();
        let res = app
            .clone()
            .oneshot(Request::get("/").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), 503);
        assert_eq!(res.headers().get("retry-after").unwrap(), "1");
        drop(held);
        let res = app
            .oneshot(Request::get("/").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }

    #[tokio::test]
    async fn slow_requests_time_out_unless_their_route_has_its_own_limit() {
        let slow = || async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            "late"
        };
        let routes = crate::Routes::<()>::new(&crate::Auth::from_entries(Vec::new()))
            .time_limit("/poll", Duration::from_secs(5));
        let (_, with_limits) = routes.into_parts();
        let limits = Arc::new(TimeLimits::new(Duration::from_millis(50), with_limits));
        let app = Router::new()
            .route("/slow", get(slow))
            .route("/poll", get(slow))
            .route_layer(from_fn_with_state(limits, time_limit));
        let res = app
            .clone()
            .oneshot(Request::get("/slow").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), 503);
        let res = app
            .oneshot(Request::get("/poll").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
}
