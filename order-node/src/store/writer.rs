//! Group commit: one writer thread drains the queue of pending writes into ONE redb write
//! transaction and commits it (an fsync) for all of them, so throughput grows with
//! concurrency while every acknowledged write is on disk.
//!
//! A write closure must decide whether it can proceed before it changes anything: returning
//! a non-fatal error after writing would leave its half-done changes in a batch shared with
//! others. A fatal (storage) error aborts the whole batch.

use std::sync::Arc;

use prometheus_client::metrics::histogram::Histogram;
use redb::WriteTransaction;
use tokio::sync::{mpsc, oneshot};

use super::{Store, StoreError, writes};

/// Most writes in one commit; bounds the latency one commit adds to the first writer.
const MAX_BATCH: usize = 512;

trait Job: Send {
    /// Applies the write; false when it failed fatally.
    fn apply(&mut self, txn: &WriteTransaction) -> bool;
    /// Answers the caller once the batch's fate is known.
    fn finish(self: Box<Self>, commit: Result<(), Arc<StoreError>>);
}

struct TypedJob<T, F> {
    write: Option<F>,
    result: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> Job for TypedJob<T, F>
where
    T: Send,
    F: FnOnce(&WriteTransaction) -> Result<T, StoreError> + Send,
{
    fn apply(&mut self, txn: &WriteTransaction) -> bool {
        let Some(write) = self.write.take() else {
            return true;
        };
        let result = write(txn);
        let fatal = matches!(&result, Err(e) if e.is_fatal());
        self.result = Some(result);
        !fatal
    }

    fn finish(self: Box<Self>, commit: Result<(), Arc<StoreError>>) {
        let outcome = match (self.result, commit) {
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(value)), Ok(())) => Ok(value),
            (_, Err(e)) => Err(StoreError::Commit(e.to_string())),
            (None, Ok(())) => Err(StoreError::Commit("write was never applied".into())),
        };
        let _ = self.reply.send(outcome);
    }
}

/// The writer thread itself, to be joined at shutdown.
pub struct WriterThread(Option<std::thread::JoinHandle<()>>);

impl WriterThread {
    /// Waits for the thread to finish its last commit; it does once every [`Writer`] is gone.
    pub fn join(self) {
        if let Some(handle) = self.0
            && handle.join().is_err()
        {
            tracing::error!("the writer thread panicked");
        }
    }
}

/// Handle to the writer thread.
#[derive(Clone)]
pub struct Writer {
    queue: mpsc::UnboundedSender<Box<dyn Job>>,
}

impl Writer {
    /// Starts the writer thread for `store`; `batch_sizes` observes writes per commit.
    pub fn start(store: &Store, batch_sizes: Histogram) -> Self {
        Self::start_joinable(store, batch_sizes).0
    }

    /// Starts the writer thread and returns its handle too: the thread ends once every
    /// [`Writer`] is dropped, and joining it then lets the store close cleanly.
    pub fn start_joinable(store: &Store, batch_sizes: Histogram) -> (Self, WriterThread) {
        let (queue, rx) = mpsc::unbounded_channel();
        let db = store.db().clone();
        let handle = std::thread::Builder::new()
            .name("order-writer".into())
            .spawn(move || run(&db, rx, &batch_sizes))
            .inspect_err(|e| tracing::error!(error = %e, "cannot start the writer thread"))
            .ok();
        (Self { queue }, WriterThread(handle))
    }

    /// Runs `write` in the next commit and returns its result once it is durable.
    pub async fn write<T, F>(&self, write: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTransaction) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = TypedJob {
            write: Some(write),
            result: None,
            reply,
        };
        self.queue
            .send(Box::new(job))
            .map_err(|_| StoreError::WriterGone)?;
        answer.await.map_err(|_| StoreError::WriterGone)?
    }
}

fn run(
    db: &redb::Database,
    mut rx: mpsc::UnboundedReceiver<Box<dyn Job>>,
    batch_sizes: &Histogram,
) {
    while let Some(first) = rx.blocking_recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        batch_sizes.observe(jobs.len() as f64);
        let commit = commit_batch(db, &mut jobs).map_err(Arc::new);
        if let Err(e) = &commit {
            tracing::error!(error = %e, writes = jobs.len(), "write batch failed");
        }
        for job in jobs {
            job.finish(commit.clone());
        }
    }
}

fn commit_batch(db: &redb::Database, jobs: &mut [Box<dyn Job>]) -> Result<(), StoreError> {
    let txn = db.begin_write()?;
    for job in jobs.iter_mut() {
        if !job.apply(&txn) {
            txn.abort()?;
            return Err(StoreError::Commit(
                "a write in this batch failed; nothing was written".into(),
            ));
        }
    }
    writes::count_commit(&txn)?;
    txn.commit()?;
    Ok(())
}
