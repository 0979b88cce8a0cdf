//! search-node's own Prometheus metrics, refreshed from the follower's state.

use std::sync::Arc;
use std::time::Duration;

use chassis::metrics::set_count;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use storage::clock::now_ms;

use crate::follower::FeedState;
use crate::index::ProductIndex;

/// Metrics search-node keeps beyond the HTTP ones.
#[derive(Clone, Default)]
pub struct SearchMetrics {
    indexed_seq: Gauge,
    catalog_head: Gauge,
    lag: Gauge,
    age_ms: Gauge,
    documents: Gauge,
    commits: Counter,
}

impl SearchMetrics {
    /// Creates the metrics and registers them.
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self::default();
        registry.register(
            "search_indexed_seq",
            "Catalog feed seq the index reflects",
            m.indexed_seq.clone(),
        );
        registry.register(
            "search_catalog_head_seq",
            "Catalog feed head seq when last heard",
            m.catalog_head.clone(),
        );
        registry.register(
            "search_lag_events",
            "Catalog head seq minus indexed seq (an upper bound on changes not yet searchable)",
            m.lag.clone(),
        );
        registry.register(
            "search_last_applied_age_ms",
            "Milliseconds since the last change was applied (-1 before the first)",
            m.age_ms.clone(),
        );
        registry.register(
            "search_documents",
            "Products in the index",
            m.documents.clone(),
        );
        registry.register("search_commits", "Index commits", m.commits.clone());
        m
    }

    /// Refreshes the gauges every second, forever.
    pub async fn refresh(self, state: Arc<FeedState>, index: Arc<ProductIndex>) {
        let mut seen_commits = 0;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            let indexed = state.indexed_seq();
            let head = state.catalog_head().max(indexed);
            set_count(&self.indexed_seq, indexed);
            set_count(&self.catalog_head, head);
            set_count(&self.lag, head - indexed);
            let last = state.last_applied_ms();
            if last == 0 {
                self.age_ms.set(-1);
            } else {
                set_count(&self.age_ms, now_ms().saturating_sub(last));
            }
            set_count(&self.documents, index.num_docs());
            let commits = state.commits();
            self.commits.inc_by(commits.saturating_sub(seen_commits));
            seen_commits = commits;
        }
    }
}
