//! order-node's stored records, private to it and mapped explicitly to the wire types.

use bincode::{Decode, Encode};
use contracts::orders::{Order, OrderLine, OrderStatus};
use storage::clock::rfc3339;

use super::codec::{CodecError, Record, decode_layout};

/// Saga status as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub enum StoredStatus {
    /// Recorded, stock not yet confirmed held.
    Pending,
    /// Stock held.
    Confirmed,
    /// Refused by the catalog; nothing held.
    Rejected,
    /// Cancel requested; release in progress.
    Cancelling,
    /// Released.
    Cancelled,
}

impl StoredStatus {
    /// Whether the saga still has work to do for this order.
    pub fn is_unsettled(self) -> bool {
        matches!(self, Self::Pending | Self::Cancelling)
    }
}

impl From<StoredStatus> for OrderStatus {
    fn from(s: StoredStatus) -> Self {
        match s {
            StoredStatus::Pending => OrderStatus::Pending,
            StoredStatus::Confirmed => OrderStatus::Confirmed,
            StoredStatus::Rejected => OrderStatus::Rejected,
            StoredStatus::Cancelling => OrderStatus::Cancelling,
            StoredStatus::Cancelled => OrderStatus::Cancelled,
        }
    }
}

/// One order line with the product data copied at order time.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct LineRecord {
    /// The product.
    pub product_id: String,
    /// Its name at order time.
    pub name: String,
    /// Its unit price at order time, minor units.
    pub unit_price_minor: u64,
    /// Units.
    pub qty: u32,
}

/// Who made a write: the calling service and, when it acts for one, the end user.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct ActorRecord {
    /// The caller's name in the callers file.
    pub caller: String,
    /// The end user the caller vouched for (`X-End-User`).
    pub end_user: Option<String>,
}

/// An order (layout v2: v1 plus who placed and who cancelled it).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct OrderRecord {
    /// The customer.
    pub customer_id: String,
    /// Saga status.
    pub status: StoredStatus,
    /// Why it was rejected.
    pub reason: Option<String>,
    /// The lines.
    pub lines: Vec<LineRecord>,
    /// Sum of the lines, minor units.
    pub total_minor: u64,
    /// Currency of every line.
    pub currency: String,
    /// Creation time, ms since the epoch.
    pub created_ms: u64,
    /// Last status change, ms since the epoch.
    pub updated_ms: u64,
    /// Position in the customer index (monotonic across the node).
    pub seq: u64,
    /// Who placed it; `None` for orders stored before v2.
    pub placed_by: Option<ActorRecord>,
    /// Who asked to cancel it.
    pub cancelled_by: Option<ActorRecord>,
}

/// An order as layout v1 stored it, read and upgraded on the fly: new fields are appended
/// in a new layout, and an old value reads as "not known".
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct OrderRecordV1 {
    /// The customer.
    pub customer_id: String,
    /// Saga status.
    pub status: StoredStatus,
    /// Why it was rejected.
    pub reason: Option<String>,
    /// The lines.
    pub lines: Vec<LineRecord>,
    /// Sum of the lines, minor units.
    pub total_minor: u64,
    /// Currency of every line.
    pub currency: String,
    /// Creation time, ms since the epoch.
    pub created_ms: u64,
    /// Last status change, ms since the epoch.
    pub updated_ms: u64,
    /// Position in the customer index.
    pub seq: u64,
}

impl From<OrderRecordV1> for OrderRecord {
    fn from(v1: OrderRecordV1) -> Self {
        Self {
            customer_id: v1.customer_id,
            status: v1.status,
            reason: v1.reason,
            lines: v1.lines,
            total_minor: v1.total_minor,
            currency: v1.currency,
            created_ms: v1.created_ms,
            updated_ms: v1.updated_ms,
            seq: v1.seq,
            placed_by: None,
            cancelled_by: None,
        }
    }
}

impl Record for OrderRecordV1 {
    const SCHEMA: u8 = 1;
    const KIND: &'static str = "order";
}

impl Record for OrderRecord {
    const SCHEMA: u8 = 2;
    const KIND: &'static str = "order";

    fn decode_older(tag: u8, body: &[u8]) -> Option<Result<Self, CodecError>> {
        (tag == OrderRecordV1::SCHEMA)
            .then(|| decode_layout::<OrderRecordV1>(Self::KIND, body).map(Self::from))
    }
}

impl OrderRecord {
    /// The wire form of this record.
    pub fn to_wire(&self, id: &str) -> Order {
        Order {
            id: id.to_owned(),
            customer_id: self.customer_id.clone(),
            status: self.status.into(),
            status_reason: self.reason.clone(),
            lines: self
                .lines
                .iter()
                .map(|l| OrderLine {
                    product_id: l.product_id.clone(),
                    name: l.name.clone(),
                    unit_price_minor: l.unit_price_minor,
                    qty: l.qty,
                    line_total_minor: l.unit_price_minor * u64::from(l.qty),
                })
                .collect(),
            total_minor: self.total_minor,
            currency: self.currency.clone(),
            created_at: rfc3339(self.created_ms),
            updated_at: rfc3339(self.updated_ms),
        }
    }
}

/// The first answer to a placement, kept for its `Idempotency-Key` so that a retry gets it
/// again. A domain outcome: what the answer looks like on the wire is the API's business.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum StoredAnswer {
    /// The stock was held.
    Confirmed,
    /// The catalog did not answer; the order was left to settle on its own.
    Pending,
    /// The catalog refused the reservation.
    Rejected(StoredRejection),
}

/// Why an order was rejected, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum StoredRejection {
    /// Not enough stock for these items.
    InsufficientStock(Vec<ShortItemRecord>),
    /// These products no longer exist.
    UnknownProducts(Vec<String>),
    /// The reservation had been released before it could hold.
    ReservationReleased,
    /// Rejected for this reason (e.g. by the recovery loop).
    Settled(String),
}

/// A short item of a stock refusal.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct ShortItemRecord {
    /// The product.
    pub product_id: String,
    /// Units asked for.
    pub requested: u64,
    /// Units there were.
    pub available: u64,
}

/// What an `Idempotency-Key` was used for (layout v2: the first answer as a domain outcome).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct IdempotencyRecord {
    /// SHA-256 of the request body it came with.
    pub fingerprint: [u8; 32],
    /// The order it created.
    pub order_id: String,
    /// The first answer, once known.
    pub answer: Option<StoredAnswer>,
    /// When the key was first seen, ms since the epoch.
    pub created_ms: u64,
}

impl Record for IdempotencyRecord {
    const SCHEMA: u8 = 2;
    const KIND: &'static str = "idempotency key";
}

/// A response kept for an `Idempotency-Key` by layout v1: the HTTP status and error body
/// themselves. Read only to upgrade it (see [`super::migrate`]).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct StoredResponseV1 {
    /// HTTP status.
    pub status: u16,
    /// Body of an error response (successful responses show the order's current state).
    pub error_body: Option<Vec<u8>>,
}

/// What an `Idempotency-Key` was used for, in layout v1.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct IdempotencyRecordV1 {
    /// SHA-256 of the request body it came with.
    pub fingerprint: [u8; 32],
    /// The order it created.
    pub order_id: String,
    /// The first response, once known.
    pub response: Option<StoredResponseV1>,
    /// When the key was first seen, ms since the epoch.
    pub created_ms: u64,
}

impl Record for IdempotencyRecordV1 {
    const SCHEMA: u8 = 1;
    const KIND: &'static str = "idempotency key (v1)";
}

/// One write by a caller, kept in the audit table in the same transaction as the write.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct AuditRecord {
    /// When, ms since the epoch.
    pub at_ms: u64,
    /// Who.
    pub actor: ActorRecord,
    /// What (`order.place`, `order.cancel`).
    pub action: String,
    /// The order.
    pub order_id: String,
}

impl Record for AuditRecord {
    const SCHEMA: u8 = 1;
    const KIND: &'static str = "audit entry";
}

impl AuditRecord {
    /// The wire form of this entry, at position `seq`.
    pub fn to_wire(&self, seq: u64) -> contracts::audit::AuditEntry {
        contracts::audit::AuditEntry {
            seq,
            at: rfc3339(self.at_ms),
            caller: self.actor.caller.clone(),
            end_user: self.actor.end_user.clone(),
            action: self.action.clone(),
            target: self.order_id.clone(),
        }
    }
}

/// A counter in the meta table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub struct Counter(pub u64);

impl Record for Counter {
    const SCHEMA: u8 = 1;
    const KIND: &'static str = "counter";
}
