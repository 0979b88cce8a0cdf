//! Layout upgrades run when the store opens, before the node serves.
//!
//! Layout 1 kept, for each `Idempotency-Key`, the first answer as HTTP: a status and the bytes
//! of an error body. Layout 2 keeps the domain outcome (confirmed, pending, or rejected and
//! why) and leaves its wire form to the API. The upgrade reads each old answer back into the
//! outcome it was made from; the API then answers a retry with the very bytes of the first
//! answer, as before. Orders need no upgrade: their v1 layout is read as v2 on the fly.
//!
//! The upgrade runs in one redb write transaction: a crash part-way leaves the v1 store as it
//! was, and the next start runs it again.

use std::path::Path;

use contracts::{Code, ErrorBody};
use redb::{Database, ReadableTable, WriteTransaction};

use super::codec::{self, Record};
use super::records::{
    Counter, IdempotencyRecord, IdempotencyRecordV1, OrderRecord, ShortItemRecord, StoredAnswer,
    StoredRejection, StoredResponseV1,
};
use super::{CURRENT_SCHEMA, IDEMPOTENCY, META, META_SCHEMA, StoreError, writes};

/// Upgrades every idempotency answer still in layout v1 and records the current layout;
/// returns how many were upgraded. Called in the transaction that creates the tables.
pub(super) fn run(txn: &WriteTransaction) -> Result<usize, StoreError> {
    let mut meta = txn.open_table(META)?;
    let recorded = match meta.get(META_SCHEMA)? {
        Some(v) => Some(codec::decode::<Counter>(v.value())?.0),
        None => None,
    };
    // No layout recorded: a new store, since every build recorded its layout when it first
    // opened one.
    let stored = recorded.unwrap_or(CURRENT_SCHEMA);
    if stored > CURRENT_SCHEMA {
        return Err(StoreError::TooNew {
            found: stored,
            supported: CURRENT_SCHEMA,
        });
    }
    let mut upgraded = 0;
    if stored < 2 {
        let mut keys = txn.open_table(IDEMPOTENCY)?;
        let mut old = Vec::new();
        for entry in keys.iter()? {
            let (key, value) = entry?;
            if codec::schema_of(value.value()) == Some(IdempotencyRecordV1::SCHEMA) {
                old.push((key.value().to_owned(), value.value().to_vec()));
            }
        }
        for (key, bytes) in old {
            let record = upgrade(codec::decode::<IdempotencyRecordV1>(&bytes)?, &key);
            keys.insert(key.as_str(), codec::encode(&record)?.as_slice())?;
            upgraded += 1;
        }
    }
    if recorded != Some(CURRENT_SCHEMA) {
        meta.insert(
            META_SCHEMA,
            codec::encode(&Counter(CURRENT_SCHEMA))?.as_slice(),
        )?;
    }
    if upgraded > 0 {
        tracing::info!(
            upgraded,
            from = stored,
            to = CURRENT_SCHEMA,
            "store layout upgraded"
        );
    }
    Ok(upgraded)
}

/// A v1 idempotency record in layout v2.
fn upgrade(v1: IdempotencyRecordV1, key: &str) -> IdempotencyRecord {
    let answer = v1.response.and_then(|response| {
        let answer = answer_of(&response);
        if answer.is_none() {
            // Not an answer v1 ever stored: a retry answers from the order's state instead,
            // as for a first request that ended before its answer was recorded.
            tracing::warn!(
                key,
                status = response.status,
                "an unreadable first answer was dropped while upgrading"
            );
        }
        answer
    });
    IdempotencyRecord {
        fingerprint: v1.fingerprint,
        order_id: v1.order_id,
        answer,
        created_ms: v1.created_ms,
    }
}

/// The outcome a v1 answer was made from: 201 confirmed, 202 pending, or a refusal read back
/// from the code and details of its error body.
pub fn answer_of(response: &StoredResponseV1) -> Option<StoredAnswer> {
    let Some(body) = &response.error_body else {
        return match response.status {
            201 => Some(StoredAnswer::Confirmed),
            202 => Some(StoredAnswer::Pending),
            _ => None,
        };
    };
    let detail = serde_json::from_slice::<ErrorBody>(body).ok()?.error;
    if detail.code.status() != response.status {
        return None;
    }
    let rejection = match detail.code {
        Code::InsufficientStock => StoredRejection::InsufficientStock(
            detail
                .short_items
                .into_iter()
                .map(|s| ShortItemRecord {
                    product_id: s.product_id,
                    requested: s.requested,
                    available: s.available,
                })
                .collect(),
        ),
        Code::UnknownProducts => StoredRejection::UnknownProducts(detail.missing_ids),
        Code::OrderRejected if detail.message == RELEASED_MESSAGE_V1 => {
            StoredRejection::ReservationReleased
        }
        Code::OrderRejected => {
            StoredRejection::Settled(detail.message.strip_prefix(SETTLED_PREFIX_V1)?.to_owned())
        }
        _ => return None,
    };
    Some(StoredAnswer::Rejected(rejection))
}

/// The message v1 answered an order whose reservation was already released with.
const RELEASED_MESSAGE_V1: &str = "the reservation was already released";
/// How v1 began the message of an order rejected for a reason of its own.
const SETTLED_PREFIX_V1: &str = "the order was rejected: ";

/// One order placed with an `Idempotency-Key` by a build of layout v1, for
/// [`write_v1_store`].
#[derive(Debug, Clone)]
pub struct V1Placement {
    /// The order's id.
    pub order_id: String,
    /// The order as that build stored it (orders were already in their v2 layout).
    pub order: OrderRecord,
    /// The stored key (scoped to its caller and end user).
    pub key: String,
    /// The fingerprint of the request body.
    pub fingerprint: [u8; 32],
    /// The first answer as that build kept it.
    pub response: Option<StoredResponseV1>,
}

/// Writes orders and their idempotency answers in layout v1 into a new data directory, as
/// releases before layout v2 did. Kept so that the upgrade path stays tested against real
/// files.
pub fn write_v1_store(dir: &Path, placements: &[V1Placement]) -> Result<(), StoreError> {
    let db = Database::create(dir.join(super::DB_FILE)).map_err(|e| StoreError::Db(e.into()))?;
    let txn = db.begin_write()?;
    super::create_tables(&txn)?;
    txn.open_table(META)?
        .insert(META_SCHEMA, codec::encode(&Counter(1))?.as_slice())?;
    for p in placements {
        writes::create(
            &txn,
            &p.order_id,
            p.order.clone(),
            Some((p.key.as_str(), p.fingerprint)),
        )?;
        let v1 = IdempotencyRecordV1 {
            fingerprint: p.fingerprint,
            order_id: p.order_id.clone(),
            response: p.response.clone(),
            created_ms: p.order.created_ms,
        };
        txn.open_table(IDEMPOTENCY)?
            .insert(p.key.as_str(), codec::encode(&v1)?.as_slice())?;
    }
    txn.commit()?;
    Ok(())
}
