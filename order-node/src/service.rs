//! The order service: placing an order (one catalog batch read, a durable pending record, the
//! reservation step), cancelling, and settling unfinished sagas.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use chassis::lifecycle::Background;
use contracts::ShortItem;
use contracts::catalog::{Product, ReservationItem};
use contracts::orders::{CreateOrder, Order, OrderItem, OrderStatus};
use sha2::{Digest, Sha256};
use storage::backup::Staged;
use storage::clock::now_ms;
use thiserror::Error;

use crate::catalog::{CatalogClient, CatalogError, ReleaseReply, ReserveReply};
use crate::store::records::{
    ActorRecord, IdempotencyRecord, LineRecord, OrderRecord, ShortItemRecord, StoredAnswer,
    StoredRejection, StoredStatus,
};
use crate::store::snapshot::SnapshotError;
use crate::store::writer::Writer;
use crate::store::writes::{self, CreateOutcome, TransitionOutcome};
use crate::store::{Store, StoreError};

/// A request the service refused, or a failure; nothing was stored unless said otherwise.
#[derive(Debug, Error)]
pub enum ServiceError {
    /// The order names products the catalog does not have.
    #[error("unknown products: {0:?}")]
    UnknownProducts(Vec<String>),
    /// The products are priced in different currencies.
    #[error("the products are priced in different currencies: {0}")]
    MixedCurrencies(String),
    /// The total does not fit in the money type.
    #[error("the order total is too large")]
    TotalTooLarge,
    /// The idempotency key was used with another body.
    #[error("this Idempotency-Key was used with a different request")]
    KeyReused,
    /// The catalog could not be asked before anything was written.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// No such order.
    #[error("order {0:?} not found")]
    NotFound(String),
    /// The order cannot be cancelled in its status.
    #[error("order is {0:?} and cannot be cancelled")]
    NotCancellable(OrderStatus),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The backup could not be taken.
    #[error("backup failed: {0}")]
    Backup(#[from] SnapshotError),
    /// A blocking task or a detached saga step died.
    #[error("task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Who is making a write: the calling service and, when it acts for one, the end user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The caller's name in the callers file.
    pub caller: String,
    /// The end user the caller vouches for.
    pub end_user: Option<String>,
}

impl From<Actor> for ActorRecord {
    fn from(a: Actor) -> Self {
        Self {
            caller: a.caller,
            end_user: a.end_user,
        }
    }
}

/// Why an order was rejected. Nothing is held for a rejected order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// The stock cannot cover these items.
    InsufficientStock(Vec<ShortItem>),
    /// These products disappeared since the order was priced.
    UnknownProducts(Vec<String>),
    /// The order's reservation had been released before it could hold: the order was given
    /// up meanwhile.
    ReservationReleased,
    /// Rejected before this answer was given (by the recovery loop, say), for the reason
    /// recorded on the order.
    Settled(String),
}

impl Rejection {
    /// The reason recorded on the order (its `status_reason`).
    pub fn reason(&self) -> String {
        match self {
            Self::InsufficientStock(short) => format!(
                "insufficient stock: {}",
                short
                    .iter()
                    .map(|s| s.product_id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Self::UnknownProducts(ids) => {
                format!("products no longer exist: {}", ids.join(", "))
            }
            Self::ReservationReleased => "the reservation was already released".into(),
            Self::Settled(reason) => reason.clone(),
        }
    }
}

/// The first answer to a placement, which a retry with its `Idempotency-Key` gets again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The stock was held.
    Confirmed,
    /// The catalog did not answer; the order settles on its own.
    Pending,
    /// The order was rejected.
    Rejected(Rejection),
}

impl From<&Rejection> for StoredRejection {
    fn from(r: &Rejection) -> Self {
        match r {
            Rejection::InsufficientStock(short) => Self::InsufficientStock(
                short
                    .iter()
                    .map(|s| ShortItemRecord {
                        product_id: s.product_id.clone(),
                        requested: s.requested,
                        available: s.available,
                    })
                    .collect(),
            ),
            Rejection::UnknownProducts(ids) => Self::UnknownProducts(ids.clone()),
            Rejection::ReservationReleased => Self::ReservationReleased,
            Rejection::Settled(reason) => Self::Settled(reason.clone()),
        }
    }
}

impl From<StoredRejection> for Rejection {
    fn from(r: StoredRejection) -> Self {
        match r {
            StoredRejection::InsufficientStock(short) => Self::InsufficientStock(
                short
                    .into_iter()
                    .map(|s| ShortItem {
                        product_id: s.product_id,
                        requested: s.requested,
                        available: s.available,
                    })
                    .collect(),
            ),
            StoredRejection::UnknownProducts(ids) => Self::UnknownProducts(ids),
            StoredRejection::ReservationReleased => Self::ReservationReleased,
            StoredRejection::Settled(reason) => Self::Settled(reason),
        }
    }
}

impl From<&Answer> for StoredAnswer {
    fn from(a: &Answer) -> Self {
        match a {
            Answer::Confirmed => Self::Confirmed,
            Answer::Pending => Self::Pending,
            Answer::Rejected(r) => Self::Rejected(r.into()),
        }
    }
}

impl From<StoredAnswer> for Answer {
    fn from(a: StoredAnswer) -> Self {
        match a {
            StoredAnswer::Confirmed => Self::Confirmed,
            StoredAnswer::Pending => Self::Pending,
            StoredAnswer::Rejected(r) => Self::Rejected(r.into()),
        }
    }
}

/// The outcome of placing an order (the order exists in each case).
#[derive(Debug, Clone)]
pub enum Placed {
    /// Stock held.
    Confirmed(Order),
    /// The catalog did not answer the reservation; the order settles later.
    Pending(Order),
    /// The catalog refused; nothing is held.
    Rejected {
        /// The rejected order.
        order: Order,
        /// Why.
        rejection: Rejection,
    },
    /// A retry with a known `Idempotency-Key`: the first answer again, with the order's
    /// current state.
    Replayed {
        /// The order.
        order: Order,
        /// The first answer.
        answer: Answer,
    },
}

/// The outcome of a cancel.
#[derive(Debug, Clone)]
pub enum Cancel {
    /// Cancelled, stock released.
    Done(Order),
    /// Release not confirmed yet (catalog unavailable); it finishes on its own.
    InProgress(Order),
}

/// Tuning of the saga.
#[derive(Debug, Clone, Copy)]
pub struct SagaConfig {
    /// A pending order older than this is given up: its reservation is released and the
    /// order rejected.
    pub pending_timeout: Duration,
}

/// The order service.
pub struct Orders {
    store: Store,
    writer: Writer,
    catalog: CatalogClient,
    config: SagaConfig,
    // Orders a request is driving right now; the recovery loop leaves them alone.
    in_flight: Mutex<HashSet<String>>,
    // Where steps that must outlive their request run; shutdown waits for them.
    steps: Background,
}

/// An order claimed by one driver; released when dropped.
struct Claim<'a> {
    set: &'a Mutex<HashSet<String>>,
    id: String,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.set
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
    }
}

/// The stored form of an `Idempotency-Key`: prefixed with who used it, lengths first so that
/// no choice of names makes two actors' keys meet.
pub fn scoped_key(actor: &Actor, key: &str) -> String {
    let end_user = actor.end_user.as_deref().unwrap_or_default();
    format!(
        "{}:{}{}:{}{key}",
        actor.caller.len(),
        actor.caller,
        end_user.len(),
        end_user
    )
}

fn new_order_id() -> String {
    format!("ord-{}", uuid::Uuid::now_v7().simple())
}

/// What identifies a request body behind an `Idempotency-Key`: the SHA-256 of its canonical
/// JSON.
pub fn fingerprint(request: &CreateOrder) -> [u8; 32] {
    let canonical = serde_json::to_vec(request).unwrap_or_default();
    Sha256::digest(&canonical).into()
}

/// The rejection a reservation reply means; `None` when it holds.
fn refusal(reply: &ReserveReply) -> Option<Rejection> {
    match reply {
        ReserveReply::Held => None,
        ReserveReply::Insufficient(short) => Some(Rejection::InsufficientStock(short.clone())),
        ReserveReply::Unknown(ids) => Some(Rejection::UnknownProducts(ids.clone())),
        ReserveReply::Released => Some(Rejection::ReservationReleased),
    }
}

impl Orders {
    /// The service over an open store and its writer; detached steps run among `steps`.
    pub fn new(
        store: Store,
        writer: Writer,
        catalog: CatalogClient,
        config: SagaConfig,
        steps: Background,
    ) -> Self {
        Self {
            store,
            writer,
            catalog,
            config,
            in_flight: Mutex::new(HashSet::new()),
            steps,
        }
    }

    /// Runs a saga step to its end on a task of its own, whatever becomes of the request that
    /// started it: a client that hangs up drops its handler, and the step, already under way
    /// at the catalog, must still record the catalog's answer instead of leaving the order to
    /// the recovery loop. Shutdown waits for it.
    pub async fn detach<T: Send + 'static>(
        &self,
        step: impl Future<Output = Result<T, ServiceError>> + Send + 'static,
    ) -> Result<T, ServiceError> {
        self.steps.spawn(step).await?
    }

    /// Claims the order for the caller until the returned guard is dropped; `None` when
    /// someone else drives it. The claim ends with the guard on every path, a dropped future
    /// included: a request whose client hung up must not keep the recovery loop away from
    /// its order.
    fn claim(&self, id: &str) -> Option<Claim<'_>> {
        let fresh = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id.to_owned());
        fresh.then(|| Claim {
            set: &self.in_flight,
            id: id.to_owned(),
        })
    }

    /// Moves an order from `from` to `to` durably; returns its state afterwards (unchanged
    /// when it was no longer in `from`).
    async fn transition(
        &self,
        id: &str,
        from: StoredStatus,
        to: StoredStatus,
        reason: Option<String>,
        answer: Option<(String, StoredAnswer)>,
    ) -> Result<OrderRecord, ServiceError> {
        let id = id.to_owned();
        let outcome = self
            .writer
            .write(move |txn| {
                let answer = answer.as_ref().map(|(k, a)| (k.as_str(), a.clone()));
                writes::transition(txn, &id, &[from], to, reason, now_ms(), answer)
            })
            .await?;
        Ok(match outcome {
            TransitionOutcome::Moved(r) | TransitionOutcome::Unchanged(r) => r,
        })
    }

    /// One order.
    pub fn order(&self, id: &str) -> Result<Option<Order>, ServiceError> {
        Ok(self.store.order(id)?.map(|r| r.to_wire(id)))
    }

    /// Orders by id, in request order, each id once; plus the ids not found.
    pub fn orders(&self, ids: &[String]) -> Result<(Vec<Order>, Vec<String>), ServiceError> {
        let mut seen = HashSet::new();
        let unique: Vec<String> = ids
            .iter()
            .filter(|id| seen.insert(id.as_str()))
            .cloned()
            .collect();
        let mut found = Vec::new();
        let mut missing = Vec::new();
        for (id, record) in unique.iter().zip(self.store.orders(&unique)?) {
            match record {
                Some(r) => found.push(r.to_wire(id)),
                None => missing.push(id.clone()),
            }
        }
        Ok((found, missing))
    }

    /// The newest `limit` entries of the audit trail, newest first.
    pub fn audit(&self, limit: usize) -> Result<Vec<contracts::audit::AuditEntry>, ServiceError> {
        Ok(self
            .store
            .audit(limit)?
            .iter()
            .map(|(seq, entry)| entry.to_wire(*seq))
            .collect())
    }

    /// A page of a customer's orders, newest first, and the cursor of the next page.
    pub fn customer_orders(
        &self,
        customer_id: &str,
        before: Option<u64>,
        limit: usize,
    ) -> Result<(Vec<Order>, Option<u64>), ServiceError> {
        let mut rows = self
            .store
            .orders_of_customer(customer_id, before, limit + 1)?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next = if more {
            rows.last().map(|(_, r)| r.seq)
        } else {
            None
        };
        Ok((rows.iter().map(|(id, r)| r.to_wire(id)).collect(), next))
    }

    /// Places an order for `actor`: one catalog batch read, a durable pending record, the
    /// reservation. An `Idempotency-Key` is the actor's own: the same key from another caller
    /// or another end user is another key.
    pub async fn place(
        &self,
        request: CreateOrder,
        items: Vec<OrderItem>,
        key: Option<String>,
        actor: Actor,
    ) -> Result<Placed, ServiceError> {
        let key = key.map(|k| scoped_key(&actor, &k));
        let print = fingerprint(&request);
        if let Some(key) = &key
            && let Some(record) = self.store.idempotency(key)?
        {
            return self.replay(record, print);
        }
        let ids: Vec<String> = items.iter().map(|i| i.product_id.clone()).collect();
        let batch = self.catalog.batch_get(&ids).await?;
        if !batch.missing.is_empty() {
            return Err(ServiceError::UnknownProducts(batch.missing));
        }
        let now = now_ms();
        let mut record = price(&request.customer_id, &items, &batch.products, now)?;
        record.placed_by = Some(actor.into());
        let id = new_order_id();
        let _claim = self.claim(&id);
        self.record_and_reserve(&id, record, key, print).await
    }

    async fn record_and_reserve(
        &self,
        id: &str,
        record: OrderRecord,
        key: Option<String>,
        print: [u8; 32],
    ) -> Result<Placed, ServiceError> {
        let created = {
            let id = id.to_owned();
            let key = key.clone();
            self.writer
                .write(move |txn| {
                    writes::create(txn, &id, record, key.as_deref().map(|k| (k, print)))
                })
                .await?
        };
        let record = match created {
            CreateOutcome::KeyTaken(existing) => return self.replay(existing, print),
            CreateOutcome::Created(record) => record,
        };
        self.reserve_step(id, &record, key).await
    }

    fn replay(&self, record: IdempotencyRecord, print: [u8; 32]) -> Result<Placed, ServiceError> {
        if record.fingerprint != print {
            return Err(ServiceError::KeyReused);
        }
        let order = self
            .store
            .order(&record.order_id)?
            .ok_or_else(|| ServiceError::NotFound(record.order_id.clone()))?;
        let answer = match record.answer {
            Some(answer) => answer.into(),
            // The first request ended before its answer was recorded: answer from the state.
            None => match order.status {
                StoredStatus::Pending => Answer::Pending,
                StoredStatus::Rejected => {
                    Answer::Rejected(Rejection::Settled(order.reason.clone().unwrap_or_default()))
                }
                _ => Answer::Confirmed,
            },
        };
        Ok(Placed::Replayed {
            order: order.to_wire(&record.order_id),
            answer,
        })
    }

    /// The saga's reservation step for a pending order; records the outcome durably.
    async fn reserve_step(
        &self,
        id: &str,
        record: &OrderRecord,
        key: Option<String>,
    ) -> Result<Placed, ServiceError> {
        let items: Vec<ReservationItem> = record
            .lines
            .iter()
            .map(|l| ReservationItem {
                product_id: l.product_id.clone(),
                qty: l.qty,
            })
            .collect();
        let reply = match self.catalog.reserve(id, items).await {
            Ok(reply) => reply,
            Err(e) => {
                tracing::warn!(order = id, error = %e, "reservation not confirmed; the order stays pending");
                if let Some(key) = key {
                    self.writer
                        .write(move |txn| writes::record_answer(txn, &key, StoredAnswer::Pending))
                        .await?;
                }
                return Ok(Placed::Pending(record.to_wire(id)));
            }
        };
        let rejection = refusal(&reply);
        let (to, reason, answer) = match &rejection {
            None => (StoredStatus::Confirmed, None, Answer::Confirmed),
            Some(r) => (
                StoredStatus::Rejected,
                Some(r.reason()),
                Answer::Rejected(r.clone()),
            ),
        };
        let order = self
            .transition(
                id,
                StoredStatus::Pending,
                to,
                reason,
                key.map(|k| (k, StoredAnswer::from(&answer))),
            )
            .await?;
        Ok(match (order.status, rejection) {
            (StoredStatus::Rejected, Some(rejection)) => Placed::Rejected {
                order: order.to_wire(id),
                rejection,
            },
            // Given up meanwhile (the order was no longer pending): its own reason stands.
            (StoredStatus::Rejected, None) => Placed::Rejected {
                rejection: Rejection::Settled(order.reason.clone().unwrap_or_default()),
                order: order.to_wire(id),
            },
            (StoredStatus::Pending, _) => Placed::Pending(order.to_wire(id)),
            _ => Placed::Confirmed(order.to_wire(id)),
        })
    }

    /// Cancels a confirmed order for `actor`, releasing its stock. An end user may cancel
    /// only its own orders; anyone else's answers as a missing order.
    pub async fn cancel(&self, id: &str, actor: Actor) -> Result<Cancel, ServiceError> {
        let order = self
            .store
            .order(id)?
            .filter(|o| actor.end_user.as_ref().is_none_or(|u| *u == o.customer_id))
            .ok_or_else(|| ServiceError::NotFound(id.to_owned()))?;
        match order.status {
            StoredStatus::Cancelled => return Ok(Cancel::Done(order.to_wire(id))),
            StoredStatus::Pending | StoredStatus::Rejected => {
                return Err(ServiceError::NotCancellable(order.status.into()));
            }
            StoredStatus::Confirmed | StoredStatus::Cancelling => {}
        }
        let current = {
            let id = id.to_owned();
            let outcome = self
                .writer
                .write(move |txn| writes::request_cancel(txn, &id, actor.into(), now_ms()))
                .await?;
            match outcome {
                TransitionOutcome::Moved(r) | TransitionOutcome::Unchanged(r) => r,
            }
        };
        match current.status {
            StoredStatus::Cancelling => {}
            StoredStatus::Cancelled => return Ok(Cancel::Done(current.to_wire(id))),
            other => return Err(ServiceError::NotCancellable(other.into())),
        }
        let _claim = self.claim(id);
        self.release_step(id).await
    }

    /// The saga's compensation: release the stock, then mark the order cancelled.
    async fn release_step(&self, id: &str) -> Result<Cancel, ServiceError> {
        match self.catalog.release(id).await {
            Ok(ReleaseReply::Released | ReleaseReply::NotFound) => {}
            Err(e) => {
                tracing::warn!(order = id, error = %e, "release not confirmed; the order stays cancelling");
                let order = self
                    .store
                    .order(id)?
                    .ok_or_else(|| ServiceError::NotFound(id.to_owned()))?;
                return Ok(Cancel::InProgress(order.to_wire(id)));
            }
        }
        let order = self
            .transition(
                id,
                StoredStatus::Cancelling,
                StoredStatus::Cancelled,
                None,
                None,
            )
            .await?;
        Ok(Cancel::Done(order.to_wire(id)))
    }

    /// Gives up a pending order that outlived the saga timeout: release whatever may be
    /// held, then reject it.
    async fn abandon(&self, id: &str) -> Result<bool, ServiceError> {
        match self.catalog.release(id).await {
            Ok(_) => {}
            Err(_) => return Ok(false),
        }
        self.transition(
            id,
            StoredStatus::Pending,
            StoredStatus::Rejected,
            Some("the catalog did not confirm the reservation in time".into()),
            None,
        )
        .await?;
        Ok(true)
    }

    /// Drives one unsettled order one step; true when it reached an end state.
    pub async fn settle(&self, id: &str) -> Result<bool, ServiceError> {
        let Some(_claim) = self.claim(id) else {
            return Ok(false);
        };
        self.settle_claimed(id).await
    }

    async fn settle_claimed(&self, id: &str) -> Result<bool, ServiceError> {
        let Some(order) = self.store.order(id)? else {
            return Ok(true);
        };
        match order.status {
            StoredStatus::Pending => {
                let age = now_ms().saturating_sub(order.created_ms);
                if u128::from(age) > self.config.pending_timeout.as_millis() {
                    return self.abandon(id).await;
                }
                let placed = self.reserve_step(id, &order, None).await?;
                Ok(!matches!(placed, Placed::Pending(_)))
            }
            StoredStatus::Cancelling => Ok(matches!(self.release_step(id).await?, Cancel::Done(_))),
            _ => Ok(true),
        }
    }

    /// Ids of orders whose saga is not over.
    pub fn unsettled(&self) -> Result<Vec<String>, ServiceError> {
        Ok(self.store.unsettled()?)
    }

    /// Forgets idempotency keys older than `ttl`.
    pub async fn expire_keys(&self, ttl: Duration) -> Result<usize, ServiceError> {
        let cutoff = now_ms().saturating_sub(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX));
        Ok(self
            .writer
            .write(move |txn| writes::expire_keys(txn, cutoff))
            .await?)
    }

    /// Number of stored orders.
    pub fn order_count(&self) -> Result<u64, ServiceError> {
        Ok(self.store.order_count()?)
    }

    /// A consistent archive of the whole store, staged for streaming; nothing waits for it.
    pub async fn backup(&self) -> Result<Staged, ServiceError> {
        let store = self.store.clone();
        let staged = tokio::task::spawn_blocking(move || crate::backup::stage(&store)).await??;
        tracing::info!(
            commit = staged.summary.header.point.value,
            bytes = staged.summary.bytes,
            "backup staged"
        );
        Ok(staged)
    }
}

/// Builds the pending order from the catalog's products: names and prices copied now.
fn price(
    customer_id: &str,
    items: &[OrderItem],
    products: &[Product],
    now: u64,
) -> Result<OrderRecord, ServiceError> {
    let by_id: HashMap<&str, &Product> = products.iter().map(|p| (p.id.as_str(), p)).collect();
    let mut lines = Vec::with_capacity(items.len());
    let mut total: u64 = 0;
    let mut currency: Option<&str> = None;
    for item in items {
        let product = by_id
            .get(item.product_id.as_str())
            .ok_or_else(|| ServiceError::UnknownProducts(vec![item.product_id.clone()]))?;
        match currency {
            None => currency = Some(&product.currency),
            Some(c) if c != product.currency => {
                return Err(ServiceError::MixedCurrencies(format!(
                    "{c} and {}",
                    product.currency
                )));
            }
            Some(_) => {}
        }
        let line_total = product
            .price_minor
            .checked_mul(u64::from(item.qty))
            .ok_or(ServiceError::TotalTooLarge)?;
        total = total
            .checked_add(line_total)
            .ok_or(ServiceError::TotalTooLarge)?;
        lines.push(LineRecord {
            product_id: item.product_id.clone(),
            name: product.name.clone(),
            unit_price_minor: product.price_minor,
            qty: item.qty,
        });
    }
    Ok(OrderRecord {
        customer_id: customer_id.to_owned(),
        status: StoredStatus::Pending,
        reason: None,
        lines,
        total_minor: total,
        currency: currency.unwrap_or("EUR").to_owned(),
        created_ms: now,
        updated_ms: now,
        seq: 0,
        placed_by: None,
        cancelled_by: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_keys_are_scoped_to_caller_and_end_user() {
        let actor = |caller: &str, user: Option<&str>| Actor {
            caller: caller.into(),
            end_user: user.map(str::to_owned),
        };
        let keys = [
            scoped_key(&actor("edge", Some("alice")), "k"),
            scoped_key(&actor("edge", Some("bob")), "k"),
            scoped_key(&actor("edge", None), "k"),
            scoped_key(&actor("shop", None), "k"),
            // Names that would meet if simply joined.
            scoped_key(&actor("edge1", None), ":k"),
            scoped_key(&actor("edge", Some("1")), "k"),
        ];
        let unique: HashSet<&String> = keys.iter().collect();
        assert_eq!(unique.len(), keys.len(), "{keys:?}");
    }

    fn product(id: &str, price: u64, currency: &str) -> Product {
        Product {
            id: id.into(),
            name: format!("{id} name"),
            description: String::new(),
            category: "c".into(),
            price_minor: price,
            currency: currency.into(),
            stock: 1,
            version: 1,
            updated_seq: 1,
            updated_at: String::new(),
        }
    }

    fn item(id: &str, qty: u32) -> OrderItem {
        OrderItem {
            product_id: id.into(),
            qty,
        }
    }

    #[test]
    fn prices_copy_names_and_sum_in_minor_units() {
        let order = price(
            "c1",
            &[item("a", 3), item("b", 1)],
            &[product("b", 250, "EUR"), product("a", 1999, "EUR")],
            7,
        )
        .unwrap();
        assert_eq!(order.total_minor, 3 * 1999 + 250);
        assert_eq!(order.lines[0].name, "a name");
        assert_eq!(order.lines[0].unit_price_minor, 1999);
        assert_eq!(order.currency, "EUR");
    }

    #[test]
    fn refuses_mixed_currencies_and_overflow() {
        let mixed = price(
            "c",
            &[item("a", 1), item("b", 1)],
            &[product("a", 1, "EUR"), product("b", 1, "USD")],
            0,
        );
        assert!(matches!(mixed, Err(ServiceError::MixedCurrencies(_))));
        let huge = price(
            "c",
            &[item("a", 10_000)],
            &[product("a", u64::MAX / 2, "EUR")],
            0,
        );
        assert!(matches!(huge, Err(ServiceError::TotalTooLarge)));
    }

    #[test]
    fn short_items_are_kept_for_replays() {
        let short = vec![ShortItem {
            product_id: "a".into(),
            requested: 2,
            available: 1,
        }];
        let rejection = refusal(&ReserveReply::Insufficient(short.clone()));
        assert_eq!(rejection, Some(Rejection::InsufficientStock(short.clone())));
        let answer = Answer::Rejected(Rejection::InsufficientStock(short));
        let stored = StoredAnswer::from(&answer);
        let bytes = crate::store::codec::encode(&IdempotencyRecord {
            fingerprint: [0; 32],
            order_id: "o".into(),
            answer: Some(stored),
            created_ms: 0,
        })
        .unwrap();
        let read = crate::store::codec::decode::<IdempotencyRecord>(&bytes).unwrap();
        assert_eq!(read.answer.map(Answer::from), Some(answer));
    }

    #[test]
    fn every_reply_has_its_outcome_and_reason() {
        assert_eq!(refusal(&ReserveReply::Held), None);
        let unknown = refusal(&ReserveReply::Unknown(vec!["x".into(), "y".into()])).unwrap();
        assert_eq!(unknown.reason(), "products no longer exist: x, y");
        let released = refusal(&ReserveReply::Released).unwrap();
        assert_eq!(released, Rejection::ReservationReleased);
        assert_eq!(released.reason(), "the reservation was already released");
        let short = refusal(&ReserveReply::Insufficient(vec![
            ShortItem {
                product_id: "a".into(),
                requested: 2,
                available: 1,
            },
            ShortItem {
                product_id: "b".into(),
                requested: 9,
                available: 0,
            },
        ]))
        .unwrap();
        assert_eq!(short.reason(), "insufficient stock: a, b");
        for answer in [
            Answer::Confirmed,
            Answer::Pending,
            Answer::Rejected(unknown),
            Answer::Rejected(released),
            Answer::Rejected(short),
            Answer::Rejected(Rejection::Settled("given up".into())),
        ] {
            assert_eq!(Answer::from(StoredAnswer::from(&answer)), answer);
        }
    }
}
