//! A read replica's follower: loads the primary's products page by page, then follows the
//! primary's change feed into this node's store, one transaction per page. The primary's
//! sequence numbers are kept, so a seq a write returned means the same change here.
//!
//! The feed carries each changed product's whole state, so applying a page again is
//! harmless: a restart (or a SIGKILL) resumes from the seq on disk and converges. A cursor
//! older than the primary's retention loads everything again.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use catalog_feed::{FeedClient, FeedError};
use contracts::catalog::MAX_PAGE_LIMIT;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use thiserror::Error;

use crate::service::{Catalog, ServiceError};

/// Events asked for per poll.
const PAGE: usize = 1000;
/// Longest long-poll; the primary answers as soon as a change is durable there.
const IDLE_WAIT: Duration = Duration::from_secs(10);
/// Longest pause between attempts while the primary is away.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What the follower knows, for `/readyz` and `/metrics`.
pub struct ReplicaState {
    primary: String,
    primary_head: AtomicU64,
    caught_up: AtomicBool,
    reachable: AtomicBool,
    lag: Gauge,
    applied: Gauge,
}

/// The replica's facts, as `/readyz` shows them.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReplicaStatus {
    /// The primary's base URL.
    pub primary: String,
    /// Newest change applied here and on disk.
    pub applied_seq: u64,
    /// The primary's newest durable change, when last heard.
    pub primary_seq: u64,
    /// Changes the primary has that this replica has not applied.
    pub lag: u64,
    /// Whether the replica has reached the primary's head since it started.
    pub caught_up: bool,
    /// Whether the last call to the primary succeeded.
    pub primary_reachable: bool,
}

impl ReplicaState {
    /// The state of a replica of `primary`, its gauges registered in `registry`.
    pub fn register(primary: &str, registry: &mut Registry) -> Self {
        let state = Self {
            primary: primary.to_owned(),
            primary_head: AtomicU64::new(0),
            caught_up: AtomicBool::new(false),
            reachable: AtomicBool::new(false),
            lag: Gauge::default(),
            applied: Gauge::default(),
        };
        registry.register(
            "catalog_replica_lag",
            "Changes the primary has that this replica has not applied (as of the last poll)",
            state.lag.clone(),
        );
        registry.register(
            "catalog_replica_applied_seq",
            "Newest change of the primary applied here and on disk",
            state.applied.clone(),
        );
        state
    }

    /// Whether the replica has caught up with its primary since it started: until then it is
    /// not ready.
    pub fn caught_up(&self) -> bool {
        self.caught_up.load(Ordering::Acquire)
    }

    /// The facts, given the seq applied here.
    pub fn status(&self, applied_seq: u64) -> ReplicaStatus {
        let primary_seq = self.primary_head.load(Ordering::Acquire);
        ReplicaStatus {
            primary: self.primary.clone(),
            applied_seq,
            primary_seq,
            lag: primary_seq.saturating_sub(applied_seq),
            caught_up: self.caught_up(),
            primary_reachable: self.reachable.load(Ordering::Acquire),
        }
    }

    fn heard(&self, primary_head: u64, applied: u64) {
        let head = self.primary_head.fetch_max(primary_head, Ordering::AcqRel);
        let head = head.max(primary_head);
        chassis::metrics::set_count(&self.lag, head.saturating_sub(applied));
        chassis::metrics::set_count(&self.applied, applied);
        if applied >= head && !self.caught_up.swap(true, Ordering::AcqRel) {
            tracing::info!(seq = applied, "caught up with the primary");
        }
    }

    fn reachable(&self, now: bool) {
        let before = self.reachable.swap(now, Ordering::AcqRel);
        match (before, now) {
            (false, true) => tracing::info!(primary = %self.primary, "primary reachable"),
            (true, false) => {
                tracing::warn!(primary = %self.primary, "primary unreachable; serving what is applied")
            }
            _ => {}
        }
    }
}

/// Following failed for a while.
#[derive(Debug, Error)]
enum FollowError {
    /// The primary did not answer usefully.
    #[error(transparent)]
    Feed(#[from] FeedError),
    /// This node's store failed.
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// Loads every product of the primary; returns the seq to follow the feed from.
///
/// The seq comes from the first page: every later page reflects at least every change up to
/// it, so following the feed from there converges (replays are harmless).
async fn bootstrap(catalog: &Catalog, client: &FeedClient) -> Result<u64, FollowError> {
    let first = client.products(None, MAX_PAGE_LIMIT).await?;
    let seq = first.head_seq;
    catalog.begin_bootstrap().await?;
    let mut page = first;
    let mut loaded = 0;
    loop {
        loaded += page.products.len();
        catalog.load(std::mem::take(&mut page.products)).await?;
        match page.next_after.take() {
            Some(after) => page = client.products(Some(&after), MAX_PAGE_LIMIT).await?,
            None => break,
        }
    }
    catalog.finish_bootstrap(seq).await?;
    tracing::info!(seq, products = loaded, "loaded the primary's products");
    Ok(seq)
}

/// Runs until the node stops, keeping the store in step with the primary.
pub async fn follow(
    catalog: Arc<Catalog>,
    client: FeedClient,
    state: Arc<ReplicaState>,
    bootstrapped: bool,
) {
    let mut backoff = Duration::from_millis(100);
    let mut bootstrapped = bootstrapped;
    let mut cursor = catalog.visible_seq();
    loop {
        let step = if bootstrapped {
            poll(&catalog, &client, &state, &mut cursor).await
        } else {
            bootstrap(&catalog, &client).await.map(|seq| {
                cursor = seq;
                bootstrapped = true;
            })
        };
        match step {
            Ok(()) => {
                state.reachable(true);
                backoff = Duration::from_millis(100);
            }
            Err(FollowError::Feed(FeedError::Expired)) => {
                tracing::warn!(cursor, "feed cursor expired at the primary; loading again");
                bootstrapped = false;
            }
            Err(FollowError::Feed(e)) => {
                state.reachable(false);
                tracing::debug!(error = %e, "primary call failed");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            Err(FollowError::Service(e)) => {
                // The store failed: retry from what is on disk, which the primary's feed
                // still covers.
                tracing::error!(error = %e, "applying the primary's changes failed; retrying");
                cursor = catalog.visible_seq();
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// One long-poll of the feed, applied.
async fn poll(
    catalog: &Catalog,
    client: &FeedClient,
    state: &ReplicaState,
    cursor: &mut u64,
) -> Result<(), FollowError> {
    // Until caught up, ask without waiting: an idle primary would otherwise hold the first
    // poll for the whole long-poll, and the replica would stay unready that long.
    let wait = if state.caught_up() {
        IDLE_WAIT
    } else {
        Duration::ZERO
    };
    let page = client.events(*cursor, PAGE, wait).await?;
    if page.next_after > *cursor {
        catalog.apply(page.events, page.next_after).await?;
        *cursor = page.next_after;
    }
    state.heard(page.head_seq, *cursor);
    Ok(())
}
