//! The catalog's own Prometheus metrics.

use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::durability::FlushMetrics;

/// Metrics the catalog keeps beyond the HTTP ones.
#[derive(Clone, Default)]
pub struct CatalogMetrics {
    /// Flusher metrics.
    pub flush: FlushMetrics,
    /// Products stored.
    pub products: Gauge,
    /// Bytes on disk.
    pub store_bytes: Gauge,
    /// Entries in the outbox.
    pub outbox_events: Gauge,
}

impl CatalogMetrics {
    /// Creates the metrics and registers them.
    pub fn register(registry: &mut Registry) -> Self {
        let batch = Histogram::new(exponential_buckets(1.0, 2.0, 10));
        let metrics = Self {
            flush: FlushMetrics {
                batch: Some(batch),
                ..FlushMetrics::default()
            },
            ..Self::default()
        };
        registry.register(
            "catalog_flushes",
            "Flushes of the store to disk",
            metrics.flush.flushes.clone(),
        );
        if let Some(batch) = &metrics.flush.batch {
            registry.register(
                "catalog_flush_writers",
                "Writes acknowledged per flush (group commit)",
                batch.clone(),
            );
        }
        registry.register(
            "catalog_feed_durable_seq",
            "Newest change-feed seq on disk",
            metrics.flush.durable_seq.clone(),
        );
        registry.register(
            "catalog_products",
            "Products stored",
            metrics.products.clone(),
        );
        registry.register(
            "catalog_store_bytes",
            "Bytes the store takes on disk",
            metrics.store_bytes.clone(),
        );
        registry.register(
            "catalog_outbox_events",
            "Events retained in the outbox",
            metrics.outbox_events.clone(),
        );
        metrics
    }
}
