//! A node's life: one shutdown value handed to the server and to every background task alike,
//! and the tasks themselves, tracked so that shutdown waits for them before the store closes.
//!
//! A task left running at exit may hold the store (a clone of a sled tree, a redb handle, an
//! index writer): the store then closes without its last flush, or the next start finds a lock
//! or repairs a file. So every task a node starts goes through [`Background`], and the node's
//! `run` ends with [`Background::drain`] before it closes its store.

use std::future::Future;
use std::time::Duration;

use storage::datadir::DataDirError;
use thiserror::Error;
pub use tokio_util::sync::CancellationToken as Shutdown;
use tokio_util::task::TaskTracker;

use crate::auth::AuthConfigError;
use crate::secret::SecretError;
use crate::server::ServeError;

/// How long a node's shutdown waits for its background tasks, and then for the last holder of
/// its store; past it the node exits anyway and says so.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(10);

/// What keeps any node from starting, or from serving to the end; each node's own error wraps
/// it beside the causes that are the node's alone (its store, its upstream clients).
#[derive(Debug, Error)]
pub enum StartError {
    /// The callers flags are unusable.
    #[error(transparent)]
    Callers(#[from] AuthConfigError),
    /// A token the node presents to another service cannot be had.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// The data directory is unusable.
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    /// The server failed.
    #[error(transparent)]
    Serve(#[from] ServeError),
}

/// Cancels `shutdown` on SIGINT or SIGTERM; what a node's `main` passes to its `run`.
pub fn on_signal() -> Shutdown {
    let shutdown = Shutdown::new();
    let trigger = shutdown.clone();
    tokio::spawn(async move {
        crate::server::shutdown_signal().await;
        trigger.cancel();
    });
    shutdown
}

/// The tasks a node runs beside its server.
#[derive(Debug, Clone)]
pub struct Background {
    tracker: TaskTracker,
    shutdown: Shutdown,
}

impl Background {
    /// Tasks that stop when `shutdown` is cancelled.
    pub fn new(shutdown: Shutdown) -> Self {
        Self {
            tracker: TaskTracker::new(),
            shutdown,
        }
    }

    /// The shutdown these tasks obey.
    pub fn shutdown(&self) -> &Shutdown {
        &self.shutdown
    }

    /// Runs a loop that never ends by itself until shutdown, which drops it at its next await
    /// point: for loops whose every step is durable before the next (maintenance ticks, the
    /// saga's retries, following a feed).
    pub fn spawn_loop(&self, name: &'static str, task: impl Future<Output = ()> + Send + 'static) {
        let shutdown = self.shutdown.clone();
        self.tracker.spawn(async move {
            tokio::select! {
                () = shutdown.cancelled() => tracing::debug!(task = name, "stopped"),
                () = task => tracing::debug!(task = name, "ended"),
            }
        });
    }

    /// Runs `task` to its end, shutdown or not (a step that must not be cut halfway, such as
    /// a saga step whose client hung up); shutdown waits for it. The task stays in the
    /// current span, so that its calls and log lines belong to the request that started it.
    pub fn spawn<T: Send + 'static>(
        &self,
        task: impl Future<Output = T> + Send + 'static,
    ) -> tokio::task::JoinHandle<T> {
        self.tracker
            .spawn(tracing::Instrument::in_current_span(task))
    }

    /// Cancels the shutdown (if the server ended by itself) and waits for every task, at most
    /// `limit`. Returns whether all of them ended.
    pub async fn drain(&self, limit: Duration) -> bool {
        self.shutdown.cancel();
        self.tracker.close();
        let ended = tokio::time::timeout(limit, self.tracker.wait())
            .await
            .is_ok();
        if !ended {
            tracing::warn!(
                left = self.tracker.len(),
                "background tasks still running at shutdown"
            );
        }
        ended
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[tokio::test]
    async fn drain_stops_loops_and_waits_for_steps() {
        let background = Background::new(Shutdown::new());
        background.spawn_loop("forever", std::future::pending());
        let finished = Arc::new(AtomicBool::new(false));
        let flag = finished.clone();
        background.spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            flag.store(true, Ordering::SeqCst);
        });
        assert!(background.drain(Duration::from_secs(5)).await);
        assert!(finished.load(Ordering::SeqCst), "a step was cut short");
        assert!(background.shutdown().is_cancelled());
    }

    #[tokio::test]
    async fn drain_reports_a_task_that_does_not_end() {
        let background = Background::new(Shutdown::new());
        background.spawn(std::future::pending::<()>());
        assert!(!background.drain(Duration::from_millis(20)).await);
    }
}
