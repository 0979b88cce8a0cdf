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

use crate::error;
use crate::metrics::{self, Metrics};

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

/// Adds `/healthz`, `/readyz`, `/metrics`, JSON fallbacks, the body limit and request metrics
/// to a node's API router.
pub fn finish(api: Router, metrics: Metrics, ready: Readiness, body_limit: usize) -> Router {
    let metrics_for_route = metrics.clone();
    let ops = Router::new()
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
                        [(
                            header::CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8",
                        )],
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
        .layer(middleware::from_fn_with_state(metrics, metrics::track))
}

/// Binds the listen address with a message that names it on failure.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, ServeError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })
}

/// Serves `app` until `shutdown` resolves, then lets in-flight requests finish.
///
/// Prints `listening on http://ADDR` on standard output once bound, so that whoever started
/// the node on port 0 learns the port.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "listening");
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on http://{addr}")?;
        stdout.flush()?;
    }
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
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
    use axum::http::Request;
    use tower::ServiceExt;

    fn app() -> Router {
        let auth = Auth::from_entries(vec![CallerEntry {
            name: "reader".into(),
            token: "reader-token-0123456789".into(),
            scopes: vec![Scope::CatalogRead],
        }]);
        let api = Router::new().route(
            "/v1/things",
            auth.guard(Scope::CatalogRead, get(|| async { "ok" }))
                .merge(auth.guard(Scope::CatalogWrite, axum::routing::post(|| async { "ok" }))),
        );
        finish(
            api,
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
        for path in ["/healthz", "/readyz", "/metrics"] {
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
}
