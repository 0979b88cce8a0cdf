//! Write operations, each run inside a group-commit transaction by [`super::writer`]. Each
//! checks what it needs before it changes anything.

use redb::{ReadableTable, WriteTransaction};

use super::codec;
use super::records::{
    ActorRecord, AuditRecord, Counter, IdempotencyRecord, OrderRecord, StoredAnswer, StoredStatus,
};
use super::{
    AUDIT, BY_CUSTOMER, IDEMPOTENCY, IDEMPOTENCY_BY_AGE, META, META_AUDIT_SEQ, META_COMMITS,
    META_ORDER_SEQ, ORDERS, StoreError, UNSETTLED, read_counter,
};

/// Result of recording a new order.
#[derive(Debug, Clone)]
pub enum CreateOutcome {
    /// Recorded, with this seq.
    Created(OrderRecord),
    /// The idempotency key was taken first by another request; nothing was written.
    KeyTaken(IdempotencyRecord),
}

/// Result of a status transition.
#[derive(Debug, Clone)]
pub enum TransitionOutcome {
    /// The order moved to the new status.
    Moved(OrderRecord),
    /// The order was not in an expected status; nothing changed.
    Unchanged(OrderRecord),
}

fn read_order(txn: &WriteTransaction, id: &str) -> Result<Option<OrderRecord>, StoreError> {
    let table = txn.open_table(ORDERS)?;
    let value = table.get(id)?;
    Ok(match value {
        Some(v) => Some(codec::decode(v.value())?),
        None => None,
    })
}

fn write_order(txn: &WriteTransaction, id: &str, order: &OrderRecord) -> Result<(), StoreError> {
    txn.open_table(ORDERS)?
        .insert(id, codec::encode(order)?.as_slice())?;
    let mut unsettled = txn.open_table(UNSETTLED)?;
    if order.status.is_unsettled() {
        unsettled.insert(id, ())?;
    } else {
        unsettled.remove(id)?;
    }
    Ok(())
}

/// Appends `entry` to the audit trail (in the transaction of the write it describes).
fn audit(txn: &WriteTransaction, entry: &AuditRecord) -> Result<(), StoreError> {
    let mut meta = txn.open_table(META)?;
    let seq = read_counter(&meta, META_AUDIT_SEQ)? + 1;
    meta.insert(META_AUDIT_SEQ, codec::encode(&Counter(seq))?.as_slice())?;
    txn.open_table(AUDIT)?
        .insert(seq, codec::encode(entry)?.as_slice())?;
    Ok(())
}

/// Records a new order (pending) and its idempotency key, unless the key is taken.
pub fn create(
    txn: &WriteTransaction,
    id: &str,
    mut order: OrderRecord,
    key: Option<(&str, [u8; 32])>,
) -> Result<CreateOutcome, StoreError> {
    if let Some((key, _)) = key {
        let keys = txn.open_table(IDEMPOTENCY)?;
        if let Some(existing) = keys.get(key)? {
            return Ok(CreateOutcome::KeyTaken(codec::decode(existing.value())?));
        }
    }
    let mut meta = txn.open_table(META)?;
    let seq = match meta.get(META_ORDER_SEQ)? {
        Some(v) => codec::decode::<Counter>(v.value())?.0 + 1,
        None => 1,
    };
    meta.insert(META_ORDER_SEQ, codec::encode(&Counter(seq))?.as_slice())?;
    drop(meta);
    order.seq = seq;
    write_order(txn, id, &order)?;
    if let Some(actor) = &order.placed_by {
        audit(
            txn,
            &AuditRecord {
                at_ms: order.created_ms,
                actor: actor.clone(),
                action: "order.place".into(),
                order_id: id.to_owned(),
            },
        )?;
    }
    txn.open_table(BY_CUSTOMER)?
        .insert((order.customer_id.as_str(), seq), id)?;
    if let Some((key, fingerprint)) = key {
        let record = IdempotencyRecord {
            fingerprint,
            order_id: id.to_owned(),
            answer: None,
            created_ms: order.created_ms,
        };
        txn.open_table(IDEMPOTENCY)?
            .insert(key, codec::encode(&record)?.as_slice())?;
        txn.open_table(IDEMPOTENCY_BY_AGE)?
            .insert((order.created_ms, key), ())?;
    }
    Ok(CreateOutcome::Created(order))
}

/// Moves an order from one of `from` to `to`; records the first answer for `key`.
pub fn transition(
    txn: &WriteTransaction,
    id: &str,
    from: &[StoredStatus],
    to: StoredStatus,
    reason: Option<String>,
    now_ms: u64,
    answer: Option<(&str, StoredAnswer)>,
) -> Result<TransitionOutcome, StoreError> {
    let mut order = read_order(txn, id)?.ok_or_else(|| StoreError::OrderNotFound(id.to_owned()))?;
    if !from.contains(&order.status) {
        return Ok(TransitionOutcome::Unchanged(order));
    }
    order.status = to;
    order.reason = reason;
    order.updated_ms = now_ms;
    write_order(txn, id, &order)?;
    if let Some((key, answer)) = answer {
        record_answer(txn, key, answer)?;
    }
    Ok(TransitionOutcome::Moved(order))
}

/// Moves a confirmed order to cancelling and records who asked.
pub fn request_cancel(
    txn: &WriteTransaction,
    id: &str,
    actor: ActorRecord,
    now_ms: u64,
) -> Result<TransitionOutcome, StoreError> {
    let mut order = read_order(txn, id)?.ok_or_else(|| StoreError::OrderNotFound(id.to_owned()))?;
    if order.status != StoredStatus::Confirmed {
        return Ok(TransitionOutcome::Unchanged(order));
    }
    order.status = StoredStatus::Cancelling;
    order.reason = None;
    order.updated_ms = now_ms;
    audit(
        txn,
        &AuditRecord {
            at_ms: now_ms,
            actor: actor.clone(),
            action: "order.cancel".into(),
            order_id: id.to_owned(),
        },
    )?;
    order.cancelled_by = Some(actor);
    write_order(txn, id, &order)?;
    Ok(TransitionOutcome::Moved(order))
}

/// Keeps the first answer given for an idempotency key.
pub fn record_answer(
    txn: &WriteTransaction,
    key: &str,
    answer: StoredAnswer,
) -> Result<(), StoreError> {
    let mut keys = txn.open_table(IDEMPOTENCY)?;
    let existing = match keys.get(key)? {
        Some(v) => Some(codec::decode::<IdempotencyRecord>(v.value())?),
        None => None,
    };
    if let Some(mut record) = existing
        && record.answer.is_none()
    {
        record.answer = Some(answer);
        keys.insert(key, codec::encode(&record)?.as_slice())?;
    }
    Ok(())
}

/// Counts one more group commit (in the commit being counted); returns the new count.
pub fn count_commit(txn: &WriteTransaction) -> Result<u64, StoreError> {
    let mut meta = txn.open_table(META)?;
    let commits = read_counter(&meta, META_COMMITS)? + 1;
    meta.insert(META_COMMITS, codec::encode(&Counter(commits))?.as_slice())?;
    Ok(commits)
}

/// Forgets idempotency keys first seen before `cutoff_ms`; returns how many.
pub fn expire_keys(txn: &WriteTransaction, cutoff_ms: u64) -> Result<usize, StoreError> {
    let mut by_age = txn.open_table(IDEMPOTENCY_BY_AGE)?;
    let mut keys = txn.open_table(IDEMPOTENCY)?;
    let mut expired = Vec::new();
    for entry in by_age.range((0, "")..(cutoff_ms, ""))? {
        let (k, _) = entry?;
        let (at, key) = k.value();
        expired.push((at, key.to_owned()));
    }
    for (at, key) in &expired {
        by_age.remove((*at, key.as_str()))?;
        keys.remove(key.as_str())?;
    }
    Ok(expired.len())
}
