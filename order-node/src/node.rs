//! The node assembled: the store and its writer thread opened, the catalog client built, the
//! saga's recovery loop and the maintenance tick started, the router served until shutdown,
//! then every task drained, the writer joined and the database closed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use chassis::Auth;
use chassis::lifecycle::{Background, DRAIN_LIMIT, Shutdown, StartError};
use chassis::limits::HttpLimits;
use chassis::metrics::{Metrics, set_count};
use thiserror::Error;
use tokio::net::TcpListener;

use crate::catalog::{CatalogClient, CatalogError};
use crate::cli::{CATALOG_TOKEN, ServeArgs};
use crate::metrics::OrderMetrics;
use crate::service::{Orders, SagaConfig};
use crate::store::writer::{Writer, WriterThread};
use crate::store::{Store, StoreError};
use crate::{api, saga};

/// Everything the node needs to serve.
#[derive(Debug)]
pub struct Config {
    /// The database's directory.
    pub data_dir: PathBuf,
    /// Listening, callers, the catalog, the saga's timings.
    pub serve: ServeArgs,
}

/// The node could not start, or did not stop cleanly.
#[derive(Debug, Error)]
pub enum NodeError {
    /// What any node may meet at start or while serving.
    #[error(transparent)]
    Start(#[from] StartError),
    /// The catalog client cannot be built.
    #[error("cannot build the catalog client: {0}")]
    Catalog(#[from] CatalogError),
    /// The store failed to open.
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

/// How the saga and the maintenance loop run.
#[derive(Debug, Clone, Copy)]
pub struct Timings {
    /// Base delay of the recovery loop.
    pub saga_retry: Duration,
    /// A pending order older than this is given up.
    pub pending_timeout: Duration,
    /// How long idempotency keys are remembered.
    pub key_ttl: Duration,
}

/// An open order-node: the store, its writer thread, the service and the tasks that keep it.
pub struct Node {
    orders: Arc<Orders>,
    store: Store,
    writer_thread: WriterThread,
    metrics: Metrics,
    background: Background,
}

impl Node {
    /// Opens the database in `data_dir`, starts the writer thread, the saga's recovery loop
    /// and the maintenance tick; the loops stop on `shutdown`.
    pub fn open(
        data_dir: &Path,
        catalog: CatalogClient,
        timings: Timings,
        shutdown: Shutdown,
    ) -> Result<Self, NodeError> {
        let dir = storage::datadir::prepare(data_dir).map_err(StartError::from)?;
        let store = Store::open(&dir)?;
        tracing::info!(data_dir = %dir.display(), "store open");
        let (metrics, order_metrics) =
            Metrics::with(|registry| OrderMetrics::register(registry, catalog.calls_metric()));
        let (writer, writer_thread) =
            Writer::start_joinable(&store, order_metrics.commit_writes.clone());
        let background = Background::new(shutdown);
        let orders = Arc::new(Orders::new(
            store.clone(),
            writer,
            catalog,
            SagaConfig {
                pending_timeout: timings.pending_timeout,
            },
            background.clone(),
        ));
        background.spawn_loop(
            "saga recovery",
            saga::run(
                orders.clone(),
                timings.saga_retry,
                order_metrics.unsettled.clone(),
            ),
        );
        background.spawn_loop(
            "maintenance",
            maintain(orders.clone(), order_metrics, timings.key_ttl),
        );
        Ok(Self {
            orders,
            store,
            writer_thread,
            metrics,
            background,
        })
    }

    /// The service, for tests that drive it directly.
    pub fn orders(&self) -> Arc<Orders> {
        self.orders.clone()
    }

    /// Waits for the background tasks and the steps still under way, lets the writer finish
    /// its last commit and closes the database; the node's last step. Every step of the saga
    /// is durable before the next, so stopping the loops between two awaits is safe.
    pub async fn close(self) {
        let Self {
            orders,
            store,
            writer_thread,
            background,
            ..
        } = self;
        let drained = background.drain(DRAIN_LIMIT).await;
        drop(orders);
        // The writer thread ends once the last handle to the service is gone; a request that
        // outlived the drain may still hold one, and must not keep the process from exiting.
        let joined = tokio::time::timeout(
            DRAIN_LIMIT,
            tokio::task::spawn_blocking(move || writer_thread.join()),
        )
        .await;
        match (drained, joined, store.close()) {
            (true, Ok(_), Ok(())) => tracing::info!("store closed cleanly"),
            _ => tracing::warn!("the store was still in use at exit; the next start may repair it"),
        }
    }
}

/// The node's whole router: the API under `auth`, the operational routes, the limits.
pub fn app(node: &Node, auth: &Auth, limits: &HttpLimits) -> Router {
    let for_ready = node.orders.clone();
    let ready = Arc::new(
        move || match (for_ready.order_count(), for_ready.unsettled()) {
            (Ok(count), Ok(unsettled)) => (
                true,
                serde_json::json!({ "orders": count, "unsettled": unsettled.len() }),
            ),
            (Err(e), _) | (_, Err(e)) => (false, serde_json::json!({ "error": e.to_string() })),
        },
    );
    chassis::server::finish_with(
        api::routes(node.orders.clone(), auth),
        api::INFO,
        node.metrics.clone(),
        ready,
        api::BODY_LIMIT,
        limits,
    )
}

/// Serves orders on `listener` until `shutdown`, then drains and closes everything.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: Shutdown,
) -> Result<(), NodeError> {
    let args = config.serve;
    let token = CATALOG_TOKEN
        .require(
            args.catalog_token_file.as_deref(),
            args.catalog_token.as_deref(),
            "order-node reads and reserves at the catalog with it",
        )
        .map_err(StartError::from)?;
    let auth = Auth::from_flags(
        args.callers.as_deref(),
        args.allow_anonymous,
        api::scopes::ALL,
    )
    .map_err(StartError::from)?;
    let catalog = CatalogClient::new(
        &args.catalog_url,
        &token,
        Duration::from_millis(args.catalog_timeout_ms),
    )?
    .reading_from(&args.catalog_read_urls);
    let timings = Timings {
        saga_retry: Duration::from_millis(args.saga_retry_ms.max(10)),
        pending_timeout: Duration::from_secs(args.pending_timeout_secs),
        key_ttl: Duration::from_secs(args.idempotency_ttl_hours.saturating_mul(3600)),
    };
    let node = Node::open(&config.data_dir, catalog, timings, shutdown.clone())?;
    let router = app(&node, &auth, &args.limits);
    chassis::server::serve_then_close(listener, router, &args.limits, &shutdown, node.close())
        .await?;
    Ok(())
}

/// Keeps gauges current and forgets expired idempotency keys.
async fn maintain(orders: Arc<Orders>, metrics: OrderMetrics, key_ttl: Duration) {
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    let mut ticks: u64 = 0;
    loop {
        tick.tick().await;
        if let Ok(count) = orders.order_count() {
            set_count(&metrics.orders, count);
        }
        // Keys live for hours; checking every ten minutes is plenty.
        if ticks.is_multiple_of(60) {
            match orders.expire_keys(key_ttl).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(expired = n, "forgot expired idempotency keys"),
                Err(e) => tracing::warn!(error = %e, "idempotency key expiry failed"),
            }
        }
        ticks += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(dir: &Path) -> Node {
        // Never called: every request of these tests stops at the auth guard.
        let catalog =
            CatalogClient::new("http://127.0.0.1:9", "unused-token", Duration::from_secs(1))
                .unwrap();
        let timings = Timings {
            saga_retry: Duration::from_secs(1),
            pending_timeout: Duration::from_secs(60),
            key_ttl: Duration::from_secs(3600),
        };
        Node::open(dir, catalog, timings, Shutdown::new()).unwrap()
    }

    #[tokio::test]
    async fn every_route_in_the_table_is_routed_and_guarded() {
        let dir = tempfile::tempdir().unwrap();
        let node = open(dir.path());
        let auth = Auth::from_entries(Vec::new());
        let routes = api::routes(node.orders(), &auth).table().clone();
        assert_eq!(routes.entries().len(), 6);
        let router = app(&node, &auth, &HttpLimits::default());
        assert_eq!(
            chassis::server::unserved_by(router, &routes).await,
            Vec::<String>::new()
        );
        node.close().await;
    }

    #[tokio::test]
    async fn close_releases_the_database() {
        let dir = tempfile::tempdir().unwrap();
        open(dir.path()).close().await;
        // redb refuses a second open while the first is alive.
        open(dir.path()).close().await;
    }
}
