//! The node assembled: the store opened, the service and its background tasks started, the
//! router built, served until shutdown, then every task drained and the store flushed.

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

use crate::api;
use crate::cli::ServeArgs;
use crate::durability::Durability;
use crate::metrics::CatalogMetrics;
use crate::service::Catalog;
use crate::store::{Store, StoreError};

/// Everything the node needs to serve.
#[derive(Debug)]
pub struct Config {
    /// The store's directory.
    pub data_dir: PathBuf,
    /// Listening, callers, limits and the feed's retention.
    pub serve: ServeArgs,
}

/// The node could not start, or did not stop cleanly.
#[derive(Debug, Error)]
pub enum NodeError {
    /// What any node may meet at start or while serving.
    #[error(transparent)]
    Start(#[from] StartError),
    /// The store failed to open or to flush at the end.
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

/// An open catalog: the store, the service over it and the tasks that keep it.
pub struct Node {
    catalog: Arc<Catalog>,
    store: Store,
    metrics: Metrics,
    background: Background,
}

impl Node {
    /// Opens the store in `data_dir` and starts the flusher and the maintenance loop, which
    /// expires delete events older than `retention`; the tasks stop on `shutdown`.
    pub fn open(
        data_dir: &Path,
        retention: Duration,
        shutdown: Shutdown,
    ) -> Result<Self, NodeError> {
        let dir = storage::datadir::prepare(data_dir).map_err(StartError::from)?;
        let store = Store::open(&dir)?;
        tracing::info!(data_dir = %dir.display(), products = store.product_count(), "store open");
        let (metrics, catalog_metrics) = Metrics::with(CatalogMetrics::register);
        let background = Background::new(shutdown);
        let durability =
            Durability::start(store.clone(), catalog_metrics.flush.clone(), &background)?;
        let catalog = Arc::new(Catalog::new(store.clone(), durability));
        background.spawn_loop(
            "maintenance",
            maintain(catalog.clone(), store.clone(), catalog_metrics, retention),
        );
        Ok(Self {
            catalog,
            store,
            metrics,
            background,
        })
    }

    /// The service, for tests that drive it directly.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog.clone()
    }

    /// Waits for the background tasks and flushes the store; the node's last step.
    pub async fn close(self) {
        let Self {
            catalog,
            store,
            background,
            ..
        } = self;
        let drained = background.drain(DRAIN_LIMIT).await;
        drop(catalog);
        match (drained, store.flush()) {
            (true, Ok(_)) => tracing::info!("store closed cleanly"),
            (_, Err(e)) => tracing::error!(error = %e, "the final flush failed"),
            (false, Ok(_)) => tracing::warn!("the store was flushed with tasks still running"),
        }
    }
}

/// The node's whole router: the API under `auth`, the operational routes, the limits.
pub fn app(node: &Node, auth: &Auth, limits: &HttpLimits) -> Router {
    let for_ready = node.catalog.clone();
    let ready = Arc::new(move || match for_ready.status() {
        Ok(status) => (true, serde_json::to_value(status).unwrap_or_default()),
        Err(e) => (false, serde_json::json!({ "error": e.to_string() })),
    });
    chassis::server::finish_with(
        api::routes(node.catalog.clone(), auth),
        api::INFO,
        node.metrics.clone(),
        ready,
        api::BODY_LIMIT,
        limits,
    )
}

/// Serves the catalog on `listener` until `shutdown`, then drains and closes everything.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: Shutdown,
) -> Result<(), NodeError> {
    let args = config.serve;
    let auth = Auth::from_flags(
        args.callers.as_deref(),
        args.allow_anonymous,
        api::scopes::ALL,
    )
    .map_err(StartError::from)?;
    let retention = Duration::from_secs(args.tombstone_retention_hours.saturating_mul(3600));
    let node = Node::open(&config.data_dir, retention, shutdown.clone())?;
    let router = app(&node, &auth, &args.limits);
    chassis::server::serve_then_close(listener, router, &args.limits, &shutdown, node.close())
        .await?;
    Ok(())
}

/// Keeps gauges current and expires old delete events from the feed.
async fn maintain(
    catalog: Arc<Catalog>,
    store: Store,
    metrics: CatalogMetrics,
    retention: Duration,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    let mut ticks: u64 = 0;
    loop {
        tick.tick().await;
        catalog.recount();
        if let Ok(status) = catalog.status() {
            set_count(&metrics.products, status.products);
            set_count(&metrics.outbox_events, status.outbox_events);
        }
        if let Ok(bytes) = store.size_on_disk() {
            set_count(&metrics.store_bytes, bytes);
        }
        // Tombstones expire in hours; checking every ten minutes is plenty.
        if ticks.is_multiple_of(60) {
            match catalog.prune_tombstones(retention).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(dropped = n, "expired delete events from the feed"),
                Err(e) => tracing::warn!(error = %e, "tombstone expiry failed"),
            }
        }
        ticks += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_route_in_the_table_is_routed_and_guarded() {
        let dir = tempfile::tempdir().unwrap();
        let node = Node::open(dir.path(), Duration::from_secs(3600), Shutdown::new()).unwrap();
        let auth = Auth::from_entries(Vec::new());
        let routes = api::routes(node.catalog(), &auth).table().clone();
        assert_eq!(routes.entries().len(), 13);
        let router = app(&node, &auth, &HttpLimits::default());
        assert_eq!(
            chassis::server::unserved_by(router, &routes).await,
            Vec::<String>::new()
        );
        node.close().await;
    }

    #[tokio::test]
    async fn close_flushes_and_releases_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let node = Node::open(dir.path(), Duration::from_secs(3600), Shutdown::new()).unwrap();
        node.close().await;
        // sled holds an exclusive lock while open: opening again proves it was released.
        let again = Node::open(dir.path(), Duration::from_secs(3600), Shutdown::new()).unwrap();
        again.close().await;
    }
}
