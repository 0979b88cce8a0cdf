//! The catalog's service logic between the HTTP handlers and the store: serialises writers,
//! waits for durability before a write is acknowledged, and serves the long-polled feed.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use contracts::catalog::{
    BatchGetResponse, ChangeEvent, EventsPage, Product, ProductInput, ProductPage, ProductPatch,
    Reservation, ReservationRequest,
};
use storage::backup::Staged;
use storage::clock::now_ms;
use thiserror::Error;

use crate::durability::{Durability, FlushError};
use crate::store::snapshot::SnapshotError;
use crate::store::{Store, StoreError, WriteError};

// Part of the service's own vocabulary: what a write expects of a product's version and what
// a write produced are plain values, defined beside the store that acts on them.
pub use crate::store::{Precondition, PutOutcome, Refusal, ReserveOutcome, Role};

/// A service call failed.
#[derive(Debug, Error)]
pub enum ServiceError {
    /// The write was refused; nothing changed.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// Reading the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Writing the store failed; nothing changed.
    #[error("write failed: {0}")]
    WriteFailed(StoreError),
    /// The write committed but could not be made durable.
    #[error(transparent)]
    Flush(#[from] FlushError),
    /// The feed cursor is older than what the outbox retains.
    #[error("cursor {after} is older than the feed horizon {horizon}")]
    CursorExpired {
        /// The consumer's cursor.
        after: u64,
        /// The highest seq whose event was dropped.
        horizon: u64,
    },
    /// A write, reservation or feed read asked of a read replica.
    #[error("this catalog-node is a read replica of {primary}")]
    ReadOnly {
        /// The primary's base URL.
        primary: String,
    },
    /// A read's `min_seq` was not applied in time, or a replica is still loading its
    /// primary's products.
    #[error("seq {asked} is not applied yet (applied: {applied})")]
    NotCaughtUp {
        /// The seq asked for (0: any, while the replica loads).
        asked: u64,
        /// The newest seq applied.
        applied: u64,
    },
    /// A blocking task died.
    #[error("worker task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// The backup could not be taken.
    #[error("backup failed: {0}")]
    Backup(#[from] SnapshotError),
}

impl From<WriteError> for ServiceError {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::Refused(r) => Self::Refused(r),
            WriteError::Store(s) => Self::WriteFailed(s),
        }
    }
}

/// A write's result and the feed seq that covers it.
#[derive(Debug, Clone)]
pub struct Written<T> {
    /// What the write produced.
    pub value: T,
    /// Seq to return in `X-Catalog-Seq`.
    pub seq: u64,
}

/// Facts for `/readyz` and `/metrics`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Status {
    /// `primary` or `replica`.
    pub role: &'static str,
    /// Products stored.
    pub products: usize,
    /// Newest durable feed seq.
    pub durable_seq: u64,
    /// Outbox entries.
    pub outbox_events: usize,
    /// Feed horizon.
    pub feed_horizon: u64,
}

/// The catalog service.
pub struct Catalog {
    store: Store,
    role: Role,
    // False while a replica loads its primary's products: a partial store must not answer a
    // product as missing.
    readable: AtomicBool,
    // Writers take it exclusively; feed readers share it, so a feed page sees events and
    // product states of one instant.
    gate: Arc<RwLock<()>>,
    durability: Durability,
    // sled counts a tree by walking all of it, so the counts are taken by the maintenance
    // tick ([`Catalog::recount`]) and readiness probes read the last ones.
    counts: std::sync::Mutex<(usize, usize)>,
}

impl Catalog {
    /// Wraps an open store and its flusher; a replica's store is readable once bootstrapped.
    pub fn new(store: Store, durability: Durability, role: Role) -> Result<Self, ServiceError> {
        let counts = (store.product_count(), store.outbox_len());
        let readable = match role {
            Role::Primary => true,
            Role::Replica(_) => store.bootstrapped()?,
        };
        Ok(Self {
            store,
            role,
            readable: AtomicBool::new(readable),
            gate: Arc::new(RwLock::new(())),
            durability,
            counts: std::sync::Mutex::new(counts),
        })
    }

    /// The role the node serves in.
    pub fn role(&self) -> &Role {
        &self.role
    }

    /// Refuses what only the primary can do.
    fn primary_only(&self) -> Result<(), ServiceError> {
        match &self.role {
            Role::Primary => Ok(()),
            Role::Replica(primary) => Err(ServiceError::ReadOnly {
                primary: primary.clone(),
            }),
        }
    }

    fn readable(&self) -> Result<(), ServiceError> {
        if self.readable.load(Ordering::Acquire) {
            Ok(())
        } else {
            Err(ServiceError::NotCaughtUp {
                asked: 0,
                applied: self.durability.durable_seq(),
            })
        }
    }

    /// Waits until the change `seq` is applied and on disk here, up to `wait`.
    ///
    /// On the primary that is at once for every seq it acknowledged; on a replica it is the
    /// read-your-writes wait for a seq a write returned (`X-Catalog-Seq`).
    pub async fn wait_for(&self, seq: u64, wait: Duration) -> Result<(), ServiceError> {
        let mut durable = self.durability.subscribe();
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let applied = *durable.borrow_and_update();
            if applied >= seq {
                return Ok(());
            }
            if !matches!(
                tokio::time::timeout_at(deadline, durable.changed()).await,
                Ok(Ok(()))
            ) {
                let applied = *durable.borrow();
                return if applied >= seq {
                    Ok(())
                } else {
                    Err(ServiceError::NotCaughtUp {
                        asked: seq,
                        applied,
                    })
                };
            }
        }
    }

    /// Counts the products and outbox entries again (a full scan of each), for
    /// [`Catalog::status`].
    pub fn recount(&self) {
        let counts = (self.store.product_count(), self.store.outbox_len());
        *self.counts.lock().unwrap_or_else(PoisonError::into_inner) = counts;
    }

    async fn write<T, F>(&self, op: F) -> Result<Written<T>, ServiceError>
    where
        T: Send + 'static,
        F: FnOnce(&Store, u64) -> Result<(T, Option<u64>), WriteError> + Send + 'static,
    {
        self.primary_only()?;
        let store = self.store.clone();
        let gate = self.gate.clone();
        let durability = self.durability.clone();
        let (value, seq) = tokio::task::spawn_blocking(move || {
            let _exclusive = gate.write().unwrap_or_else(PoisonError::into_inner);
            let (value, seq) = op(&store, now_ms())?;
            if let Some(seq) = seq {
                durability.committed(seq);
            }
            Ok::<_, WriteError>((value, seq))
        })
        .await??;
        // Even a write that changed nothing waits: the state it reports may be another
        // request's write that is not on disk yet.
        self.durability.wait().await?;
        Ok(Written {
            value,
            seq: seq.unwrap_or_else(|| self.durability.durable_seq()),
        })
    }

    /// The newest change applied here and on disk: what a read now reflects at least.
    pub fn visible_seq(&self) -> u64 {
        self.durability.durable_seq()
    }

    /// One product.
    pub fn product(&self, id: &str) -> Result<Option<Product>, ServiceError> {
        self.readable()?;
        Ok(self.store.product(id)?)
    }

    /// Products by id, each id answered once, in first-named order.
    pub fn batch_get(&self, ids: &[String]) -> Result<BatchGetResponse, ServiceError> {
        self.readable()?;
        let mut seen = HashSet::with_capacity(ids.len());
        let mut products = Vec::with_capacity(ids.len());
        let mut missing = Vec::new();
        for id in ids {
            if !seen.insert(id.as_str()) {
                continue;
            }
            match self.store.product(id)? {
                Some(p) => products.push(p),
                None => missing.push(id.clone()),
            }
        }
        Ok(BatchGetResponse { products, missing })
    }

    /// A page of products in id order.
    pub fn page(&self, after: Option<&str>, limit: usize) -> Result<ProductPage, ServiceError> {
        self.readable()?;
        // Read the seq first: the page then reflects at least every change up to it.
        let head_seq = self.durability.durable_seq();
        let products = self.store.products_after(after, limit)?;
        let next_after = if products.len() == limit {
            products.last().map(|p| p.id.clone())
        } else {
            None
        };
        Ok(ProductPage {
            products,
            next_after,
            head_seq,
        })
    }

    /// Creates or replaces a product.
    pub async fn put(
        &self,
        id: String,
        input: ProductInput,
        pre: Precondition,
        caller: String,
    ) -> Result<Written<PutOutcome>, ServiceError> {
        self.write(move |store, now| {
            let outcome = store.put_product(&id, &input, pre, now, &caller)?;
            let seq = outcome.seq;
            Ok((outcome, Some(seq)))
        })
        .await
    }

    /// Changes some fields of a product.
    pub async fn patch(
        &self,
        id: String,
        patch: ProductPatch,
        pre: Precondition,
        caller: String,
    ) -> Result<Written<Product>, ServiceError> {
        self.write(move |store, now| {
            let (product, seq) = store.patch_product(&id, &patch, pre, now, &caller)?;
            Ok((product, Some(seq)))
        })
        .await
    }

    /// Deletes a product.
    pub async fn delete(
        &self,
        id: String,
        pre: Precondition,
        caller: String,
    ) -> Result<Written<()>, ServiceError> {
        self.write(move |store, now| Ok(((), Some(store.delete_product(&id, pre, now, &caller)?))))
            .await
    }

    /// Adds to or takes from a product's stock.
    pub async fn change_stock(
        &self,
        id: String,
        delta: i64,
        caller: String,
    ) -> Result<Written<Product>, ServiceError> {
        self.write(move |store, now| {
            let (product, seq) = store.change_stock(&id, delta, now, &caller)?;
            Ok((product, Some(seq)))
        })
        .await
    }

    /// Holds stock for a whole request, or for none of it.
    pub async fn reserve(
        &self,
        request: ReservationRequest,
        caller: String,
    ) -> Result<Written<ReserveOutcome>, ServiceError> {
        self.write(move |store, now| {
            let outcome = store.reserve(&request, now, &caller)?;
            let seq = outcome.seq;
            Ok((outcome, seq))
        })
        .await
    }

    /// One reservation.
    pub fn reservation(&self, id: &str) -> Result<Option<Reservation>, ServiceError> {
        self.primary_only()?;
        Ok(self.store.reservation(id)?)
    }

    /// Releases a reservation's stock.
    pub async fn release(
        &self,
        id: String,
        caller: String,
    ) -> Result<Written<Reservation>, ServiceError> {
        self.write(move |store, now| store.release(&id, now, &caller))
            .await
    }

    /// The newest `limit` entries of the audit trail, newest first.
    pub fn audit(&self, limit: usize) -> Result<Vec<contracts::audit::AuditEntry>, ServiceError> {
        self.primary_only()?;
        Ok(self
            .store
            .audit(limit)?
            .iter()
            .map(|(seq, entry)| entry.to_wire(*seq))
            .collect())
    }

    /// Events after `after`, waiting up to `wait` for one when there is none yet.
    pub async fn events(
        &self,
        after: u64,
        limit: usize,
        wait: Duration,
    ) -> Result<EventsPage, ServiceError> {
        self.primary_only()?;
        let horizon = self.store.horizon()?;
        if after < horizon {
            return Err(ServiceError::CursorExpired { after, horizon });
        }
        let mut durable = self.durability.subscribe();
        let deadline = tokio::time::Instant::now() + wait;
        let head = loop {
            let head = *durable.borrow_and_update();
            if head > after {
                break head;
            }
            match tokio::time::timeout_at(deadline, durable.changed()).await {
                Ok(Ok(())) => continue,
                // Timed out, or the flusher stopped: answer with what there is.
                _ => break head,
            }
        };
        let store = self.store.clone();
        let gate = self.gate.clone();
        let events = tokio::task::spawn_blocking(move || {
            let _shared = gate.read().unwrap_or_else(PoisonError::into_inner);
            store.events(after, head, limit)
        })
        .await??;
        // A short page means everything up to `head` was seen: move the cursor there, across
        // the gaps compaction leaves.
        let next_after = match events.last() {
            Some(last) if events.len() == limit => last.seq,
            _ => head.max(after),
        };
        Ok(EventsPage {
            events,
            next_after,
            head_seq: head,
        })
    }

    /// Drops delete events older than `retention`.
    pub async fn prune_tombstones(&self, retention: Duration) -> Result<usize, ServiceError> {
        let cutoff =
            now_ms().saturating_sub(u64::try_from(retention.as_millis()).unwrap_or(u64::MAX));
        let store = self.store.clone();
        let gate = self.gate.clone();
        let dropped = tokio::task::spawn_blocking(move || {
            let _exclusive = gate.write().unwrap_or_else(PoisonError::into_inner);
            store.prune_tombstones(cutoff)
        })
        .await??;
        if dropped > 0 {
            self.durability.wait().await?;
        }
        Ok(dropped)
    }

    /// A consistent archive of the whole store at its head seq, staged for streaming.
    ///
    /// Writers wait while the store is copied (it takes the gate's shared side, which they
    /// need exclusively); product, reservation and feed reads carry on.
    pub async fn backup(&self) -> Result<Staged, ServiceError> {
        let store = self.store.clone();
        let gate = self.gate.clone();
        let staged = tokio::task::spawn_blocking(move || {
            let _no_writers = gate.read().unwrap_or_else(PoisonError::into_inner);
            let started = Instant::now();
            let staged = crate::backup::stage(&store)?;
            tracing::info!(
                seq = staged.summary.header.point.value,
                records = staged.summary.entries,
                bytes = staged.summary.bytes,
                writes_paused_ms = started.elapsed().as_millis(),
                "backup staged"
            );
            Ok::<_, SnapshotError>(staged)
        })
        .await??;
        Ok(staged)
    }

    /// Current facts about the store.
    /// The sequence numbers as they are now, the counts as of the last
    /// [`Catalog::recount`]: cheap enough for every readiness probe.
    pub fn status(&self) -> Result<Status, ServiceError> {
        let (products, outbox_events) = *self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(Status {
            role: match self.role {
                Role::Primary => "primary",
                Role::Replica(_) => "replica",
            },
            products,
            durable_seq: self.durability.durable_seq(),
            outbox_events,
            feed_horizon: self.store.horizon()?,
        })
    }

    /// Replica only: forgets every product to load the primary's again; reads are refused
    /// until [`Catalog::finish_bootstrap`].
    pub async fn begin_bootstrap(&self) -> Result<(), ServiceError> {
        self.readable.store(false, Ordering::Release);
        self.replicating(|store| store.begin_bootstrap()).await
    }

    /// Replica only: stores a page of the primary's products.
    pub async fn load(&self, products: Vec<Product>) -> Result<(), ServiceError> {
        self.replicating(move |store| store.load(&products)).await
    }

    /// Replica only: ends a bootstrap whose first page was read at `seq`; reads are served
    /// once it is on disk.
    pub async fn finish_bootstrap(&self, seq: u64) -> Result<(), ServiceError> {
        self.replicating(move |store| store.finish_bootstrap(seq))
            .await?;
        self.durability.committed(seq);
        self.durability.wait().await?;
        self.recount();
        self.readable.store(true, Ordering::Release);
        Ok(())
    }

    /// Replica only: applies a page of the primary's feed ending at `upto`; returns once it
    /// is on disk, which is when `min_seq` reads see it.
    pub async fn apply(&self, events: Vec<ChangeEvent>, upto: u64) -> Result<(), ServiceError> {
        self.replicating(move |store| store.apply(&events, upto))
            .await?;
        self.durability.committed(upto);
        Ok(self.durability.wait().await?)
    }

    async fn replicating<F>(&self, op: F) -> Result<(), ServiceError>
    where
        F: FnOnce(&Store) -> Result<(), StoreError> + Send + 'static,
    {
        if self.role == Role::Primary {
            // A bug, not a request: nothing on the primary calls these.
            return Err(ServiceError::WriteFailed(StoreError::WrongRole(
                "the primary does not follow a feed".into(),
            )));
        }
        let store = self.store.clone();
        let gate = self.gate.clone();
        tokio::task::spawn_blocking(move || {
            let _exclusive = gate.write().unwrap_or_else(PoisonError::into_inner);
            op(&store)
        })
        .await?
        .map_err(ServiceError::WriteFailed)
    }
}
