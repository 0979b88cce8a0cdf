//! order-node's own Prometheus metrics.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::catalog::CallLabels;

/// Metrics order-node keeps beyond the HTTP ones.
#[derive(Clone)]
pub struct OrderMetrics {
    /// Writes per commit (group commit).
    pub commit_writes: Histogram,
    /// Orders whose saga is not over.
    pub unsettled: Gauge,
    /// Orders stored.
    pub orders: Gauge,
}

impl OrderMetrics {
    /// Creates the metrics and registers them with the catalog client's call counter.
    pub fn register(registry: &mut Registry, catalog_calls: Family<CallLabels, Counter>) -> Self {
        let metrics = Self {
            commit_writes: Histogram::new(exponential_buckets(1.0, 2.0, 10)),
            unsettled: Gauge::default(),
            orders: Gauge::default(),
        };
        registry.register(
            "orders_commit_writes",
            "Writes per durable commit (group commit)",
            metrics.commit_writes.clone(),
        );
        registry.register(
            "orders_unsettled",
            "Orders whose saga is not over (pending or cancelling)",
            metrics.unsettled.clone(),
        );
        registry.register("orders_stored", "Orders stored", metrics.orders.clone());
        registry.register(
            "orders_catalog_calls",
            "Calls to catalog-node, by operation and outcome",
            catalog_calls,
        );
        metrics
    }
}
