//! Follows the catalog's change feed into the index: long-polls, applies events in order,
//! commits in small batches (by count and time) with the cursor in the commit payload, and
//! rebuilds from a snapshot when the index is empty or the cursor has expired.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use contracts::catalog::{ChangeEvent, MAX_PAGE_LIMIT};
use storage::clock::now_ms;
use tokio::sync::watch;

use crate::index::{IndexError, ProductIndex};
use catalog_feed::{FeedClient, FeedError};

/// Events asked for per poll.
const PAGE: usize = 1000;
/// Longest long-poll when nothing is waiting to be committed.
const IDLE_WAIT: Duration = Duration::from_secs(10);
/// Longest pause between attempts while the catalog is away.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// How often to commit.
#[derive(Debug, Clone, Copy)]
pub struct CommitPolicy {
    /// Commit once this many changes wait.
    pub max_changes: usize,
    /// Commit once the oldest waiting change is this old.
    pub max_delay: Duration,
}

/// What the follower knows, shared with the API and metrics.
pub struct FeedState {
    indexed: watch::Sender<u64>,
    catalog_head: AtomicU64,
    last_applied_ms: AtomicU64,
    bootstrapped: AtomicBool,
    catalog_reachable: AtomicBool,
    commits: AtomicU64,
}

impl FeedState {
    /// State of an index whose last commit recorded `seq` (`None`: never bootstrapped).
    pub fn new(seq: Option<u64>) -> Self {
        Self {
            indexed: watch::channel(seq.unwrap_or(0)).0,
            catalog_head: AtomicU64::new(seq.unwrap_or(0)),
            last_applied_ms: AtomicU64::new(0),
            bootstrapped: AtomicBool::new(seq.is_some()),
            catalog_reachable: AtomicBool::new(false),
            commits: AtomicU64::new(0),
        }
    }

    /// Newest feed seq searchable.
    pub fn indexed_seq(&self) -> u64 {
        *self.indexed.borrow()
    }

    /// A receiver that changes when the indexed seq advances.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.indexed.subscribe()
    }

    /// The catalog's head seq when last heard.
    pub fn catalog_head(&self) -> u64 {
        self.catalog_head.load(Ordering::Acquire)
    }

    /// Whether the index holds a snapshot of the catalog.
    pub fn bootstrapped(&self) -> bool {
        self.bootstrapped.load(Ordering::Acquire)
    }

    /// Whether the last call to the catalog succeeded.
    pub fn catalog_reachable(&self) -> bool {
        self.catalog_reachable.load(Ordering::Acquire)
    }

    /// When the last change was applied, ms since the epoch (0: none yet).
    pub fn last_applied_ms(&self) -> u64 {
        self.last_applied_ms.load(Ordering::Acquire)
    }

    /// Commits made.
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Acquire)
    }

    fn committed(&self, seq: u64) {
        self.commits.fetch_add(1, Ordering::AcqRel);
        self.indexed.send_if_modified(|v| {
            let advanced = seq > *v;
            *v = (*v).max(seq);
            advanced
        });
    }

    /// Waits until the index has applied `seq`, or `wait` passes; true when it has.
    pub async fn wait_for(&self, seq: u64, wait: Duration) -> bool {
        let mut rx = self.subscribe();
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if *rx.borrow_and_update() >= seq {
                return true;
            }
            if tokio::time::timeout_at(deadline, rx.changed())
                .await
                .is_err()
            {
                return *rx.borrow() >= seq;
            }
        }
    }
}

/// Rebuilds the index from a snapshot of the catalog; returns the seq to follow from.
///
/// The seq comes from the first page: every later page reflects at least every change up to
/// it, so following the feed from there converges (replays are harmless).
pub async fn bootstrap(
    index: &Arc<ProductIndex>,
    client: &FeedClient,
    mut progress: impl FnMut(usize),
) -> Result<u64, BootstrapError> {
    let first = client.products(None, MAX_PAGE_LIMIT).await?;
    let seq = first.head_seq;
    let idx = index.clone();
    tokio::task::spawn_blocking(move || idx.clear()).await??;
    let mut page = first;
    let mut done = 0;
    loop {
        let idx = index.clone();
        let products = std::mem::take(&mut page.products);
        done += products.len();
        tokio::task::spawn_blocking(move || products.iter().try_for_each(|p| idx.upsert(p)))
            .await??;
        progress(done);
        match page.next_after.take() {
            Some(after) => page = client.products(Some(&after), MAX_PAGE_LIMIT).await?,
            None => break,
        }
    }
    let idx = index.clone();
    tokio::task::spawn_blocking(move || idx.commit(seq)).await??;
    Ok(seq)
}

/// A rebuild failed.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    /// The catalog failed.
    #[error(transparent)]
    Feed(#[from] FeedError),
    /// The index failed.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// A blocking task died.
    #[error(transparent)]
    Task(#[from] tokio::task::JoinError),
}

fn apply(index: &ProductIndex, events: &[ChangeEvent]) -> Result<(), IndexError> {
    for event in events {
        match &event.product {
            Some(product) => index.upsert(product)?,
            None => index.delete(&event.product_id),
        }
    }
    Ok(())
}

/// Runs forever, following the feed into the index.
pub async fn run(
    index: Arc<ProductIndex>,
    client: FeedClient,
    state: Arc<FeedState>,
    policy: CommitPolicy,
) {
    let mut backoff = Duration::from_millis(100);
    let mut cursor = state.indexed_seq();
    // Changes applied but not committed, and when the oldest of them was applied.
    let mut pending = 0usize;
    let mut oldest: Option<Instant> = None;
    loop {
        if !state.bootstrapped() {
            match bootstrap(&index, &client, |_| {}).await {
                Ok(seq) => {
                    tracing::info!(
                        seq,
                        docs = index.num_docs(),
                        "index rebuilt from a catalog snapshot"
                    );
                    cursor = seq;
                    pending = 0;
                    oldest = None;
                    state.bootstrapped.store(true, Ordering::Release);
                    state.catalog_reachable.store(true, Ordering::Release);
                    state.committed(seq);
                }
                Err(e) => {
                    state.catalog_reachable.store(false, Ordering::Release);
                    tracing::warn!(error = %e, "bootstrap failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
            continue;
        }
        let wait = match oldest {
            Some(t) => policy.max_delay.saturating_sub(t.elapsed()),
            None => IDLE_WAIT,
        };
        let page = match client.events(cursor, PAGE, wait).await {
            Ok(page) => page,
            Err(FeedError::Expired) => {
                tracing::warn!(cursor, "feed cursor expired; rebuilding the index");
                state.bootstrapped.store(false, Ordering::Release);
                continue;
            }
            Err(e) => {
                if state.catalog_reachable.swap(false, Ordering::AcqRel) {
                    tracing::warn!(error = %e, "catalog unreachable; serving from the index");
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        if !state.catalog_reachable.swap(true, Ordering::AcqRel) {
            tracing::info!("catalog reachable");
        }
        backoff = Duration::from_millis(100);
        state
            .catalog_head
            .fetch_max(page.head_seq, Ordering::AcqRel);
        if !page.events.is_empty() {
            let idx = index.clone();
            let events = page.events;
            let n = events.len();
            match tokio::task::spawn_blocking(move || apply(&idx, &events)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "cannot apply events; retrying from the last commit");
                    restart_from_commit(&index, &state, &mut cursor, &mut pending, &mut oldest);
                    tokio::time::sleep(backoff).await;
                    continue;
                }
                Err(e) => {
                    tracing::error!(error = %e, "apply task failed");
                    continue;
                }
            }
            pending += n;
            oldest.get_or_insert_with(Instant::now);
            state.last_applied_ms.store(now_ms(), Ordering::Release);
        }
        cursor = page.next_after.max(cursor);
        let due = oldest.is_some_and(|t| t.elapsed() >= policy.max_delay);
        if pending > 0 && (pending >= policy.max_changes || due) {
            let idx = index.clone();
            let seq = cursor;
            match tokio::task::spawn_blocking(move || idx.commit(seq)).await {
                Ok(Ok(())) => {
                    pending = 0;
                    oldest = None;
                    state.committed(seq);
                }
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "commit failed; retrying from the last commit");
                    restart_from_commit(&index, &state, &mut cursor, &mut pending, &mut oldest);
                }
                Err(e) => tracing::error!(error = %e, "commit task failed"),
            }
        } else if pending == 0 {
            // Nothing waits: every change up to the cursor (gaps included) is searchable.
            state.committed(cursor);
        }
    }
}

/// After a failed apply or commit, forget what was not committed and resume after the last
/// commit (the writer rolls back to it).
fn restart_from_commit(
    index: &ProductIndex,
    state: &FeedState,
    cursor: &mut u64,
    pending: &mut usize,
    oldest: &mut Option<Instant>,
) {
    *pending = 0;
    *oldest = None;
    match index.rollback() {
        Ok(seq) => *cursor = seq.unwrap_or(0),
        Err(e) => {
            tracing::error!(error = %e, "rollback failed; rebuilding");
            state.bootstrapped.store(false, Ordering::Release);
        }
    }
}
