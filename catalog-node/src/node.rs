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
use crate::cli::{PRIMARY_TOKEN, ServeArgs};
use crate::durability::Durability;
use crate::metrics::CatalogMetrics;
use crate::replica::{self, ReplicaState};
use crate::service::{Catalog, Role, ServiceError};
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
    /// The service could not start over the store.
    #[error("catalog: {0}")]
    Service(#[from] ServiceError),
    /// A replica's client of its primary could not be built.
    #[error("client of the primary: {0}")]
    Primary(#[from] catalog_feed::FeedError),
}

/// The role the node serves in, with what a replica needs to follow its primary.
#[derive(Debug, Clone)]
pub enum Mode {
    /// The one writer.
    Primary,
    /// A read replica of the primary at `url`, presenting `token` there.
    Replica {
        /// The primary's base URL.
        url: String,
        /// The token (scopes catalog:read and catalog:feed).
        token: String,
    },
}

/// An open catalog: the store, the service over it and the tasks that keep it.
pub struct Node {
    catalog: Arc<Catalog>,
    store: Store,
    metrics: Metrics,
    background: Background,
    replica: Option<Arc<ReplicaState>>,
}

impl Node {
    /// Opens the store in `data_dir` as the primary and starts the flusher and the
    /// maintenance loop, which expires delete events older than `retention`; the tasks stop
    /// on `shutdown`.
    pub fn open(
        data_dir: &Path,
        retention: Duration,
        shutdown: Shutdown,
    ) -> Result<Self, NodeError> {
        Self::open_as(data_dir, retention, &Mode::Primary, shutdown)
    }

    /// Opens the store in `data_dir` in the role `mode` names; a replica also starts
    /// following its primary.
    pub fn open_as(
        data_dir: &Path,
        retention: Duration,
        mode: &Mode,
        shutdown: Shutdown,
    ) -> Result<Self, NodeError> {
        let dir = storage::datadir::prepare(data_dir).map_err(StartError::from)?;
        let store = Store::open(&dir)?;
        let role = match mode {
            Mode::Primary => Role::Primary,
            Mode::Replica { url, .. } => Role::Replica(url.clone()),
        };
        store.claim(&role)?;
        tracing::info!(data_dir = %dir.display(), products = store.product_count(), ?role, "store open");
        let (metrics, (catalog_metrics, replica)) = Metrics::with(|registry| {
            let own = CatalogMetrics::register(registry);
            let replica = match &role {
                Role::Primary => None,
                Role::Replica(url) => Some(Arc::new(ReplicaState::register(url, registry))),
            };
            (own, replica)
        });
        let background = Background::new(shutdown);
        let durability =
            Durability::start(store.clone(), catalog_metrics.flush.clone(), &background)?;
        let bootstrapped = store.bootstrapped()?;
        let catalog = Arc::new(Catalog::new(store.clone(), durability, role)?);
        if let (Mode::Replica { url, token }, Some(state)) = (mode, &replica) {
            let client = catalog_feed::FeedClient::new(url, token)?;
            background.spawn_loop(
                "replica follower",
                replica::follow(catalog.clone(), client, state.clone(), bootstrapped),
            );
        }
        background.spawn_loop(
            "maintenance",
            maintain(catalog.clone(), store.clone(), catalog_metrics, retention),
        );
        Ok(Self {
            catalog,
            store,
            metrics,
            background,
            replica,
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
    let replica = node.replica.clone();
    // A replica is ready once it has caught up with its primary: before that, its answers
    // could be older than what clients have already seen elsewhere.
    let ready = Arc::new(move || match for_ready.status() {
        Ok(status) => {
            let mut body = serde_json::to_value(&status).unwrap_or_default();
            let ready = match &replica {
                Some(state) => {
                    body["replica"] =
                        serde_json::to_value(state.status(status.durable_seq)).unwrap_or_default();
                    state.caught_up()
                }
                None => true,
            };
            (ready, body)
        }
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
    let mode = match &args.replica_of {
        None => Mode::Primary,
        Some(url) => Mode::Replica {
            url: url.trim_end_matches('/').to_owned(),
            token: PRIMARY_TOKEN
                .require(
                    args.primary_token_file.as_deref(),
                    args.primary_token.as_deref(),
                    "a replica reads its primary's products and feed with it",
                )
                .map_err(StartError::from)?,
        },
    };
    let node = Node::open_as(&config.data_dir, retention, &mode, shutdown.clone())?;
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
        // sled holds an exclusive lock while open: opening again proves it was released. Its
        // background thread lets go of the lock a moment after the last handle, later on a
        // busy machine, hence the retries.
        for _ in 0..100 {
            match Node::open(dir.path(), Duration::from_secs(3600), Shutdown::new()) {
                Ok(again) => return again.close().await,
                Err(NodeError::Store(StoreError::Locked { .. })) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("reopening failed: {e}"),
            }
        }
        panic!("the store was still locked 2 s after close");
    }
}
