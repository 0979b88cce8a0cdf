//! The node assembled: the index opened, the follower and the metrics refresh started, the
//! router served until shutdown, then every task drained and the index writer released.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use chassis::Auth;
use chassis::lifecycle::{Background, DRAIN_LIMIT, Shutdown, StartError};
use chassis::limits::HttpLimits;
use chassis::metrics::Metrics;
use indicatif::{ProgressBar, ProgressStyle};
use thiserror::Error;
use tokio::net::TcpListener;

use crate::api::{self, Search};
use crate::cli::{CATALOG_TOKEN, ServeArgs};
use crate::follower::{self, BootstrapError, CommitPolicy, FeedState};
use crate::index::{IndexError, ProductIndex};
use crate::metrics::SearchMetrics;
use catalog_feed::{FeedClient, FeedError};

/// Where the catalog is and how to prove who we are to it.
#[derive(Debug, Clone)]
pub struct CatalogSource {
    /// Base URL of catalog-node.
    pub url: String,
    /// File holding the token.
    pub token_file: Option<PathBuf>,
    /// A token given on the command line: refused.
    pub token_on_argv: Option<String>,
}

impl CatalogSource {
    /// A feed client with the token from its file or the environment.
    pub fn client(&self) -> Result<FeedClient, NodeError> {
        let token = CATALOG_TOKEN
            .require(
                self.token_file.as_deref(),
                self.token_on_argv.as_deref(),
                "search-node reads the catalog's feed with it",
            )
            .map_err(StartError::from)?;
        Ok(FeedClient::new(&self.url, &token)?)
    }
}

/// Everything the node needs to serve.
#[derive(Debug)]
pub struct Config {
    /// The index's directory.
    pub data_dir: PathBuf,
    /// The catalog it follows.
    pub catalog: CatalogSource,
    /// Listening, callers, limits, the commit policy.
    pub serve: ServeArgs,
}

/// The node could not start, or did not stop cleanly.
#[derive(Debug, Error)]
pub enum NodeError {
    /// What any node may meet at start or while serving.
    #[error(transparent)]
    Start(#[from] StartError),
    /// The feed client cannot be built.
    #[error(transparent)]
    Feed(#[from] FeedError),
    /// Rebuilding the index from the catalog failed.
    #[error(transparent)]
    Bootstrap(#[from] BootstrapError),
    /// The index failed to open.
    #[error("index: {0}")]
    Index(#[from] IndexError),
}

/// An open search-node: the index, the follower's state and the tasks that keep them.
pub struct Node {
    index: Arc<ProductIndex>,
    state: Arc<FeedState>,
    metrics: Metrics,
    background: Background,
}

impl Node {
    /// Opens the index in `data_dir` and starts following the catalog through `client` under
    /// `policy`, and the metrics refresh; the tasks stop on `shutdown`.
    pub fn open(
        data_dir: &Path,
        client: FeedClient,
        policy: CommitPolicy,
        shutdown: Shutdown,
    ) -> Result<Self, NodeError> {
        let dir = storage::datadir::prepare(data_dir).map_err(StartError::from)?;
        let index = Arc::new(ProductIndex::open(&dir)?);
        let committed = index.committed_seq()?;
        tracing::info!(data_dir = %dir.display(), seq = ?committed, docs = index.num_docs(), "index open");
        let state = Arc::new(FeedState::new(committed));
        let (metrics, search_metrics) = Metrics::with(SearchMetrics::register);
        let background = Background::new(shutdown);
        background.spawn_loop(
            "metrics refresh",
            search_metrics.refresh(state.clone(), index.clone()),
        );
        background.spawn_loop(
            "follower",
            follower::run(index.clone(), client, state.clone(), policy),
        );
        Ok(Self {
            index,
            state,
            metrics,
            background,
        })
    }

    /// Waits for the background tasks and releases the index; the node's last step. What the
    /// follower applied but did not commit is applied again from the committed cursor at the
    /// next start.
    pub async fn close(self) {
        let drained = self.background.drain(DRAIN_LIMIT).await;
        // A commit cut short by the drain finishes on a blocking thread that still holds the
        // index; the writer's lock goes with the last holder.
        let deadline = tokio::time::Instant::now() + DRAIN_LIMIT;
        while Arc::strong_count(&self.index) > 1 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let released = Arc::strong_count(&self.index) == 1;
        drop(self.index);
        if drained && released {
            tracing::info!("index closed cleanly");
        } else {
            tracing::warn!("the index was still in use at exit");
        }
    }
}

/// The node's whole router: the API under `auth`, the operational routes, the limits.
pub fn app(node: &Node, auth: &Auth, limits: &HttpLimits) -> Router {
    let for_ready = node.state.clone();
    let ready = Arc::new(move || {
        let indexed = for_ready.indexed_seq();
        let head = for_ready.catalog_head().max(indexed);
        (
            for_ready.bootstrapped(),
            serde_json::json!({
                "bootstrapped": for_ready.bootstrapped(),
                "indexed_seq": indexed,
                "catalog_head_seq": head,
                "lag_events": head - indexed,
                "catalog_reachable": for_ready.catalog_reachable(),
            }),
        )
    });
    chassis::server::finish_with(
        api::routes(search(node), auth),
        api::INFO,
        node.metrics.clone(),
        ready,
        api::BODY_LIMIT,
        limits,
    )
}

fn search(node: &Node) -> Arc<Search> {
    Arc::new(Search::new(node.index.clone(), node.state.clone()))
}

/// Serves search on `listener` until `shutdown`, then drains and closes everything.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: Shutdown,
) -> Result<(), NodeError> {
    let args = config.serve;
    let client = config.catalog.client()?;
    let auth = Auth::from_flags(
        args.callers.as_deref(),
        args.allow_anonymous,
        api::scopes::ALL,
    )
    .map_err(StartError::from)?;
    let policy = CommitPolicy {
        max_changes: args.commit_max_changes.max(1),
        max_delay: Duration::from_millis(args.commit_delay_ms),
    };
    let node = Node::open(&config.data_dir, client, policy, shutdown.clone())?;
    let router = app(&node, &auth, &args.limits);
    chassis::server::serve_then_close(listener, router, &args.limits, &shutdown, node.close())
        .await?;
    Ok(())
}

/// `search-node reindex`: rebuilds the index in `data_dir` from a snapshot of the catalog,
/// with a progress spinner, and says how many products it holds.
pub async fn reindex(data_dir: &Path, catalog: &CatalogSource) -> Result<(), NodeError> {
    let client = catalog.client()?;
    let dir = storage::datadir::prepare(data_dir).map_err(StartError::from)?;
    let index = Arc::new(ProductIndex::open(&dir)?);
    let bar = ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template("{spinner} reindexing: {pos} products ({per_sec})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let seq = follower::bootstrap(&index, &client, |n| bar.set_position(n as u64)).await?;
    bar.finish_and_clear();
    println!(
        "reindexed {} products from {} (feed seq {seq})",
        index.num_docs(),
        catalog.url
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(dir: &Path) -> Node {
        // Nothing answers there: the follower retries in the background, unseen by the test.
        let client = FeedClient::new("http://127.0.0.1:9", "unused-token-0123").unwrap();
        let policy = CommitPolicy {
            max_changes: 10,
            max_delay: Duration::from_millis(10),
        };
        Node::open(dir, client, policy, Shutdown::new()).unwrap()
    }

    #[tokio::test]
    async fn every_route_in_the_table_is_routed_and_guarded() {
        let dir = tempfile::tempdir().unwrap();
        let node = open(dir.path());
        let auth = Auth::from_entries(Vec::new());
        let routes = api::routes(search(&node), &auth).table().clone();
        assert_eq!(routes.entries().len(), 2);
        let router = app(&node, &auth, &HttpLimits::default());
        assert_eq!(
            chassis::server::unserved_by(router, &routes).await,
            Vec::<String>::new()
        );
        node.close().await;
    }

    #[tokio::test]
    async fn close_releases_the_index_writer() {
        let dir = tempfile::tempdir().unwrap();
        open(dir.path()).close().await;
        // tantivy allows one writer per index: opening again proves the first was released.
        open(dir.path()).close().await;
    }
}
