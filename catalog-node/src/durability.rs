//! Group flushing: a write is acknowledged only once sled has flushed it, and writers that
//! arrive while a flush runs share the next one, so throughput does not collapse to one
//! fsync per request.
//!
//! The durable seq (newest change known to be on disk) is published here too: the change
//! feed serves events only up to it, so no consumer ever sees a change a crash could undo.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chassis::lifecycle::Background;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use thiserror::Error;
use tokio::sync::{mpsc, oneshot, watch};

use crate::store::Store;

/// The flush did not happen; the write may not survive a crash.
#[derive(Debug, Clone, Error)]
#[error("flush failed: {0}")]
pub struct FlushError(String);

type Waiter = oneshot::Sender<Result<(), FlushError>>;

/// Metrics of the flusher.
#[derive(Clone, Default)]
pub struct FlushMetrics {
    /// Flushes run.
    pub flushes: Counter,
    /// Writers served per flush.
    pub batch: Option<Histogram>,
    /// Durable head seq.
    pub durable_seq: Gauge,
}

/// Handle to the group flusher.
#[derive(Clone)]
pub struct Durability {
    requests: mpsc::UnboundedSender<Waiter>,
    committed: Arc<AtomicU64>,
    durable: watch::Receiver<u64>,
}

impl Durability {
    /// Starts the flusher task among `background`; everything already in `store` is durable.
    pub fn start(
        store: Store,
        metrics: FlushMetrics,
        background: &Background,
    ) -> Result<Self, crate::store::StoreError> {
        let head = store.head_seq()?;
        let committed = Arc::new(AtomicU64::new(head));
        let (durable_tx, durable) = watch::channel(head);
        chassis::metrics::set_count(&metrics.durable_seq, head);
        let (requests, rx) = mpsc::unbounded_channel();
        background.spawn_loop(
            "flusher",
            run(store, rx, committed.clone(), durable_tx, metrics),
        );
        Ok(Self {
            requests,
            committed,
            durable,
        })
    }

    /// Records that a transaction up to `seq` committed (call before [`Self::wait`]).
    pub fn committed(&self, seq: u64) {
        self.committed.fetch_max(seq, Ordering::AcqRel);
    }

    /// Waits until every write committed before this call is on disk.
    pub async fn wait(&self) -> Result<(), FlushError> {
        let (tx, rx) = oneshot::channel();
        self.requests
            .send(tx)
            .map_err(|_| FlushError("flusher stopped".into()))?;
        rx.await.map_err(|_| FlushError("flusher stopped".into()))?
    }

    /// The newest seq known to be on disk.
    pub fn durable_seq(&self) -> u64 {
        *self.durable.borrow()
    }

    /// A receiver that changes whenever the durable seq advances.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.durable.clone()
    }
}

async fn run(
    store: Store,
    mut rx: mpsc::UnboundedReceiver<Waiter>,
    committed: Arc<AtomicU64>,
    durable: watch::Sender<u64>,
    metrics: FlushMetrics,
) {
    while let Some(first) = rx.recv().await {
        // Everyone queued now committed before this flush starts, so it covers them all.
        let mut waiters = vec![first];
        while let Ok(w) = rx.try_recv() {
            waiters.push(w);
        }
        let target = committed.load(Ordering::Acquire);
        let flushing = store.clone();
        let result = match tokio::task::spawn_blocking(move || flushing.flush()).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(FlushError(e.to_string())),
            Err(e) => Err(FlushError(e.to_string())),
        };
        metrics.flushes.inc();
        if let Some(batch) = &metrics.batch {
            batch.observe(waiters.len() as f64);
        }
        match &result {
            Ok(()) => {
                durable.send_if_modified(|seq| {
                    let advanced = target > *seq;
                    *seq = (*seq).max(target);
                    advanced
                });
                chassis::metrics::set_count(&metrics.durable_seq, *durable.borrow());
            }
            Err(e) => tracing::error!(error = %e, "flush failed"),
        }
        for waiter in waiters {
            let _ = waiter.send(result.clone());
        }
    }
}
