//! Serving a node: the operational routes, the common layers, binding and graceful shutdown.

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, middleware};
use thiserror::Error;
use tokio::net::TcpListener;

use tokio::sync::Semaphore;

use crate::conn::{self, ConnLimits};
use crate::error;
use crate::guard::{self, TimeLimits};
use crate::limits::HttpLimits;
use crate::metrics::{self, Metrics};
use crate::routes::{ApiInfo, OPENAPI_ROUTE, RouteTable, Routes};
use crate::trace;

/// The routes [`finish`] adds to every node, open to anyone: health, readiness, metrics and
/// the OpenAPI document.
pub const OPEN_ROUTES: [&str; 4] = ["/healthz", "/readyz", "/metrics", OPENAPI_ROUTE];

/// Reports whether the node can serve, and why not.
pub type Readiness = Arc<dyn Fn() -> (bool, serde_json::Value) + Send + Sync>;

/// The server could not start or stopped with an error.
#[derive(Debug, Error)]
pub enum ServeError {
    /// The listen address is taken or not ours.
    #[error("cannot listen on {addr}: {source} (is another process using that port?)")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Serving failed.
    #[error("server error: {0}")]
    Serve(#[from] std::io::Error),
}

/// Everything [`finish`] serves: the API's table followed by the [`OPEN_ROUTES`].
pub fn served_table(api: RouteTable) -> RouteTable {
    let mut table = api;
    for path in OPEN_ROUTES {
        table.push_open(axum::http::Method::GET, path);
    }
    table
}

/// What [`crate::routes::check_served`] finds wrong in a node's whole router `app`, whose API
/// routes are `api`: the one check every node runs on its front door.
pub async fn unserved_by(app: Router, api: &RouteTable) -> Vec<String> {
    crate::routes::check_served(app, &served_table(api.clone())).await
}

/// What [`crate::routes::check_served`] finds wrong when `api` is served as [`finish`] serves
/// it (always ready, no metrics).
pub async fn unserved(api: Routes, info: ApiInfo, body_limit: usize) -> Vec<String> {
    let table = served_table(api.table().clone());
    let app = finish(
        api,
        info,
        Metrics::new(|_| {}),
        Arc::new(|| (true, serde_json::Value::Null)),
        body_limit,
    );
    crate::routes::check_served(app, &table).await
}

/// [`finish_with`] under the default [`HttpLimits`].
pub fn finish(
    api: Routes,
    info: ApiInfo,
    metrics: Metrics,
    ready: Readiness,
    body_limit: usize,
) -> Router {
    finish_with(
        api,
        info,
        metrics,
        ready,
        body_limit,
        &HttpLimits::default(),
    )
}

/// Adds `/healthz`, `/readyz`, `/metrics`, `/openapi.json` (generated from the route table,
/// the open routes included), JSON fallbacks, the body limit, request metrics and a trace span
/// per API request (see [`trace`]) to a node's API routes, and puts the API routes behind the
/// request time limits and the concurrency limit of `limits`. The operational routes are not
/// shed: an orchestrator probing a busy node must still hear that it is alive.
pub fn finish_with(
    api: Routes,
    info: ApiInfo,
    metrics: Metrics,
    ready: Readiness,
    body_limit: usize,
    limits: &HttpLimits,
) -> Router {
    let (api, table) = api.into_parts();
    let time_limits = Arc::new(TimeLimits::new(limits.request_timeout(), table.clone()));
    let slots = Arc::new(Semaphore::new(limits.max_in_flight()));
    let api = api
        .route_layer(middleware::from_fn_with_state(
            time_limits,
            guard::time_limit,
        ))
        .route_layer(middleware::from_fn_with_state(slots, guard::shed))
        // Outermost of the API's route layers, so that the span covers a shed or timed-out
        // request too; the operational routes are not traced (probes would drown the traces).
        .route_layer(middleware::from_fn(trace::layer));
    let table = served_table(table);
    // Rendered once: the table does not change while the node runs.
    let openapi = axum::body::Bytes::from(table.openapi(info).to_string());
    let metrics_for_route = metrics.clone();
    let ops = Router::new()
        .route(
            OPENAPI_ROUTE,
            get(move || {
                let openapi = openapi.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], openapi) }
            }),
        )
        .route(
            "/healthz",
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        )
        .route(
            "/readyz",
            get(move || {
                let ready = ready.clone();
                async move {
                    let (ok, details) = ready();
                    let status = if ok {
                        StatusCode::OK
                    } else {
                        StatusCode::SERVICE_UNAVAILABLE
                    };
                    let body = serde_json::json!({
                        "status": if ok { "ready" } else { "not_ready" },
                        "details": details,
                    });
                    (status, Json(body))
                }
            }),
        )
        .route(
            "/metrics",
            get(move || {
                let metrics = metrics_for_route.clone();
                async move {
                    (
                        [(header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
                        metrics.render(),
                    )
                        .into_response()
                }
            }),
        );
    api.merge(ops)
        .fallback(error::route_not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(
            body_limit,
            guard::declared_length,
        ))
        .layer(middleware::from_fn_with_state(metrics, metrics::track))
}

/// Binds the listen address with a message that names it on failure.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, ServeError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })
}

/// Serves `app` under the connection limits of `limits` until `shutdown` resolves, then
/// lets in-flight requests finish.
///
/// Prints `listening on http://ADDR` on standard output once bound, so that whoever started
/// the node on port 0 learns the port.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: &HttpLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    announce(&listener)?;
    let service = hyper_util::service::TowerToHyperService::new(app);
    conn::serve_connections(listener, ConnLimits::from_http(limits), service, shutdown).await;
    Ok(())
}

/// A node's last act: serves `app` under `limits` until `shutdown`, then runs `close` (drain
/// the background tasks, close the store) whether or not serving failed.
pub async fn serve_then_close(
    listener: TcpListener,
    app: Router,
    limits: &HttpLimits,
    shutdown: &crate::lifecycle::Shutdown,
    close: impl Future<Output = ()>,
) -> Result<(), crate::lifecycle::StartError> {
    let served = serve(listener, app, limits, shutdown.clone().cancelled_owned()).await;
    close.await;
    served?;
    tracing::info!("stopped");
    Ok(())
}

/// Binds `listen` and serves `app` under `limits` until SIGINT or SIGTERM: what every node's
/// `serve` ends with.
pub async fn serve_until_signal(
    listen: SocketAddr,
    app: Router,
    limits: &HttpLimits,
) -> Result<(), ServeError> {
    let listener = bind(listen).await?;
    serve(listener, app, limits, shutdown_signal()).await
}

/// Logs the bound address and prints `listening on http://ADDR` on standard output.
pub fn announce(listener: &TcpListener) -> Result<(), ServeError> {
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "listening");
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on http://{addr}")?;
    stdout.flush()?;
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Auth;
    use crate::callers::{CallerEntry, Scope};
    use axum::body::Body;
    use axum::http::{Method, Request};
    use tower::ServiceExt;

    fn routes() -> Routes {
        let auth = Auth::from_entries(vec![CallerEntry {
            name: "reader".into(),
            token: "reader-token-0123456789".into(),
            scopes: vec!["catalog:read".into()],
        }]);
        Routes::new(&auth)
            .route(
                Method::GET,
                "/v1/things",
                Scope::new("catalog:read"),
                || async { "ok" },
            )
            .route(
                Method::POST,
                "/v1/things",
                Scope::new("catalog:write"),
                || async { "ok" },
            )
    }

    fn app() -> Router {
        finish(
            routes(),
            ApiInfo {
                title: "test",
                version: "0",
            },
            Metrics::new(|_| {}),
            Arc::new(|| (true, serde_json::Value::Null)),
            1024,
        )
    }

    async fn status(req: Request<Body>) -> u16 {
        app().oneshot(req).await.unwrap().status().as_u16()
    }

    #[tokio::test]
    async fn scopes_are_per_method() {
        let get_ok = Request::get("/v1/things")
            .header("authorization", "Bearer reader-token-0123456789")
            .body(Body::empty())
            .unwrap();
        assert_eq!(status(get_ok).await, 200);
        let post = Request::post("/v1/things")
            .header("authorization", "Bearer reader-token-0123456789")
            .body(Body::empty())
            .unwrap();
        assert_eq!(status(post).await, 403);
        let anon = Request::get("/v1/things").body(Body::empty()).unwrap();
        assert_eq!(status(anon).await, 401);
    }

    #[tokio::test]
    async fn ops_routes_are_open_and_unknown_routes_are_json() {
        for path in OPEN_ROUTES {
            let req = Request::get(path).body(Body::empty()).unwrap();
            assert_eq!(status(req).await, 200, "{path}");
        }
        let req = Request::get("/nope").body(Body::empty()).unwrap();
        let res = app().oneshot(req).await.unwrap();
        assert_eq!(res.status(), 404);
        assert_eq!(
            res.headers().get("content-type").unwrap(),
            "application/json"
        );
        let req = Request::delete("/v1/things").body(Body::empty()).unwrap();
        assert_eq!(status(req).await, 405);
    }

    #[tokio::test]
    async fn the_served_table_matches_the_router() {
        let table = served_table(routes().table().clone());
        assert_eq!(table.entries().len(), 2 + OPEN_ROUTES.len());
        assert_eq!(
            crate::routes::check_served(app(), &table).await,
            Vec::<String>::new()
        );
        // A table claiming a route the router lacks is caught.
        let mut wrong = table.clone();
        wrong.push_open(Method::GET, "/v1/missing");
        assert_eq!(crate::routes::check_served(app(), &wrong).await.len(), 5);
    }

    #[tokio::test]
    async fn metrics_are_labelled_as_the_openmetrics_text_they_are() {
        let req = Request::get("/metrics").body(Body::empty()).unwrap();
        let res = app().oneshot(req).await.unwrap();
        assert_eq!(
            res.headers().get("content-type").unwrap(),
            metrics::CONTENT_TYPE
        );
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        assert!(
            String::from_utf8_lossy(&bytes)
                .trim_end()
                .ends_with("# EOF")
        );
    }

    #[tokio::test]
    async fn the_openapi_document_lists_api_and_open_routes() {
        let req = Request::get(OPENAPI_ROUTE).body(Body::empty()).unwrap();
        let res = app().oneshot(req).await.unwrap();
        assert_eq!(res.status(), 200);
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(doc["info"]["title"], "test");
        let things = &doc["paths"]["/v1/things"];
        assert_eq!(things["get"]["x-scope"], "catalog:read");
        assert_eq!(things["post"]["x-scope"], "catalog:write");
        for path in OPEN_ROUTES {
            assert_eq!(
                doc["paths"][path]["get"]["security"],
                serde_json::json!([]),
                "{path}"
            );
        }
    }
}
