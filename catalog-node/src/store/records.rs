//! The node's stored records, private to it and mapped explicitly to the wire types.

use bincode::{Decode, Encode};
use contracts::catalog::{
    EventKind, Product, ProductInput, Reservation, ReservationItem, ReservationStatus,
};
use storage::clock::rfc3339;

use super::codec::{CodecError, Record, decode_layout};

/// A product in the current (v2) layout: the display name is stored as `title`.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct ProductRecord {
    /// Display name (`name` on the wire; it was `name` in v1 too).
    pub title: String,
    /// Free text.
    pub description: String,
    /// Category slug.
    pub category: String,
    /// Unit price in minor units.
    pub price_minor: u64,
    /// Currency code.
    pub currency: String,
    /// Available units.
    pub stock: u64,
    /// Bumped by every change.
    pub version: u64,
    /// Feed seq of the last change.
    pub updated_seq: u64,
    /// Time of the last change, ms since the epoch.
    pub updated_at_ms: u64,
}

impl Record for ProductRecord {
    const SCHEMA: u8 = 2;
    const KIND: &'static str = "product";
}

impl ProductRecord {
    /// A record from a full product body.
    pub fn from_input(input: &ProductInput, version: u64, seq: u64, now_ms: u64) -> Self {
        Self {
            title: input.name.clone(),
            description: input.description.clone(),
            category: input.category.clone(),
            price_minor: input.price_minor,
            currency: input.currency.clone(),
            stock: input.stock,
            version,
            updated_seq: seq,
            updated_at_ms: now_ms,
        }
    }

    /// The record of a product as another catalog-node sent it (a replica storing its
    /// primary's state): every field kept, the primary's version and seq included. An
    /// unreadable time becomes 0, which only ever shows as the epoch.
    pub fn from_wire(product: &Product) -> Self {
        Self {
            title: product.name.clone(),
            description: product.description.clone(),
            category: product.category.clone(),
            price_minor: product.price_minor,
            currency: product.currency.clone(),
            stock: product.stock,
            version: product.version,
            updated_seq: product.updated_seq,
            updated_at_ms: storage::clock::parse_rfc3339(&product.updated_at).unwrap_or(0),
        }
    }

    /// The wire form of this record.
    pub fn to_wire(&self, id: &str) -> Product {
        Product {
            id: id.to_owned(),
            name: self.title.clone(),
            description: self.description.clone(),
            category: self.category.clone(),
            price_minor: self.price_minor,
            currency: self.currency.clone(),
            stock: self.stock,
            version: self.version,
            updated_seq: self.updated_seq,
            updated_at: rfc3339(self.updated_at_ms),
        }
    }
}

/// The kind of a stored feed event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub enum StoredEventKind {
    /// Created, replaced or patched.
    Upsert,
    /// Stock changed.
    Stock,
    /// Deleted.
    Delete,
}

impl From<StoredEventKind> for EventKind {
    fn from(kind: StoredEventKind) -> Self {
        match kind {
            StoredEventKind::Upsert => EventKind::Upsert,
            StoredEventKind::Stock => EventKind::Stock,
            StoredEventKind::Delete => EventKind::Delete,
        }
    }
}

/// An outbox entry. It holds no product copy: the outbox keeps only each product's latest
/// event, whose state is the product's current state. Layout v2: v1 plus the caller.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct EventRecord {
    /// The product that changed.
    pub product_id: String,
    /// What changed.
    pub kind: StoredEventKind,
    /// When, ms since the epoch (tombstone retention is measured from it).
    pub at_ms: u64,
    /// The caller that made the change; `None` for events stored before v2.
    pub caller: Option<String>,
}

/// An outbox entry as layout v1 stored it: read and upgraded as it is read (an outbox entry
/// is rewritten by the product's next change anyway).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct EventRecordV1 {
    /// The product that changed.
    pub product_id: String,
    /// What changed.
    pub kind: StoredEventKind,
    /// When, ms since the epoch.
    pub at_ms: u64,
}

impl Record for EventRecordV1 {
    const SCHEMA: u8 = 1;
    const KIND: &'static str = "event";
}

impl Record for EventRecord {
    const SCHEMA: u8 = 2;
    const KIND: &'static str = "event";

    fn decode_older(tag: u8, body: &[u8]) -> Option<Result<Self, CodecError>> {
        (tag == EventRecordV1::SCHEMA).then(|| {
            decode_layout::<EventRecordV1>(Self::KIND, body).map(|v1| Self {
                product_id: v1.product_id,
                kind: v1.kind,
                at_ms: v1.at_ms,
                caller: None,
            })
        })
    }
}

/// One write by a caller, kept in the `audit` tree in the same transaction as the write.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct AuditRecord {
    /// When, ms since the epoch.
    pub at_ms: u64,
    /// Who (the caller's name in the callers file).
    pub caller: String,
    /// What (`product.put`, `product.patch`, `product.delete`, `stock.change`,
    /// `reservation.reserve`, `reservation.release`, `catalog.import`).
    pub action: String,
    /// What it was done to: a product or reservation id.
    pub target: String,
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
            caller: self.caller.clone(),
            end_user: None,
            action: self.action.clone(),
            target: self.target.clone(),
        }
    }
}

/// Whether a stored reservation holds stock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub enum StoredReservationStatus {
    /// Stock is held.
    Held,
    /// Stock went back.
    Released,
}

/// A reservation: the request as made, and its state.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct ReservationRecord {
    /// `(product_id, qty)` in request order; compared to spot a different body under a known id.
    pub items: Vec<(String, u32)>,
    /// Held or released.
    pub status: StoredReservationStatus,
    /// First hold, ms since the epoch.
    pub created_at_ms: u64,
    /// Release, ms since the epoch.
    pub released_at_ms: Option<u64>,
}

impl Record for ReservationRecord {
    const SCHEMA: u8 = 1;
    const KIND: &'static str = "reservation";
}

impl ReservationRecord {
    /// The wire form of this record.
    pub fn to_wire(&self, id: &str) -> Reservation {
        Reservation {
            id: id.to_owned(),
            status: match self.status {
                StoredReservationStatus::Held => ReservationStatus::Held,
                StoredReservationStatus::Released => ReservationStatus::Released,
            },
            items: self
                .items
                .iter()
                .map(|(product_id, qty)| ReservationItem {
                    product_id: product_id.clone(),
                    qty: *qty,
                })
                .collect(),
            created_at: rfc3339(self.created_at_ms),
            released_at: self.released_at_ms.map(rfc3339),
        }
    }
}

/// A counter in the meta tree (feed seq, schema version, feed horizon).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub struct Counter(pub u64);

impl Record for Counter {
    const SCHEMA: u8 = 1;
    const KIND: &'static str = "counter";
}
