//! Write operations: each is one sled transaction over every tree it touches, appending the
//! feed events of its changes in that same transaction.

use contracts::ShortItem;
use contracts::catalog::{
    MAX_STOCK, Product, ProductInput, ProductPatch, Reservation, ReservationRequest,
};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use thiserror::Error;

use super::codec::{self, Record};
use super::records::{
    AuditRecord, Counter, EventRecord, ProductRecord, ReservationRecord, StoredEventKind,
    StoredReservationStatus,
};
use super::{META_AUDIT_SEQ, META_HORIZON, META_SEQ, Store, StoreError, seq_from_key};

/// The caller recorded for writes the node makes itself (tombstone retention).
pub const SELF_CALLER: &str = "catalog-node";

/// A write the catalog refused. Nothing changed in any of these cases. Part of the domain's
/// vocabulary (the service passes it on as it is); only the API maps it to HTTP.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Refusal {
    /// The product does not exist.
    #[error("product {0:?} not found")]
    ProductNotFound(String),
    /// The precondition named another version.
    #[error("product is at version {current}")]
    VersionMismatch {
        /// The product's version (0 when it does not exist).
        current: u64,
    },
    /// Stock cannot cover the request.
    #[error("insufficient stock")]
    InsufficientStock(Vec<ShortItem>),
    /// The request names products that do not exist.
    #[error("unknown products: {0:?}")]
    UnknownProducts(Vec<String>),
    /// The stock change would pass the maximum.
    #[error("stock of {product_id:?} would exceed {MAX_STOCK}")]
    StockOverflow {
        /// The product.
        product_id: String,
    },
    /// A reservation with this id exists with other items.
    #[error("reservation {0:?} already exists with different items")]
    ReservationMismatch(String),
    /// No reservation with this id.
    #[error("reservation {0:?} not found")]
    ReservationNotFound(String),
}

/// Why a write did not happen. Nothing was changed in either case.
#[derive(Debug, Error)]
pub enum WriteError {
    /// The catalog refused the write.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a write expects of the product's current version (`If-Match`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// No expectation.
    None,
    /// The product must exist (`If-Match: *`).
    Exists,
    /// The product must be at this version.
    Version(u64),
}

/// Result of `PUT`.
#[derive(Debug, Clone)]
pub struct PutOutcome {
    /// The product as stored.
    pub product: Product,
    /// Whether it did not exist before.
    pub created: bool,
    /// The feed seq of the change.
    pub seq: u64,
}

/// Result of a reservation request.
#[derive(Debug, Clone)]
pub struct ReserveOutcome {
    /// The reservation as stored.
    pub reservation: Reservation,
    /// Whether this request created it (false: an idempotent replay).
    pub created: bool,
    /// The feed seq of the newest stock change, when this request made any.
    pub seq: Option<u64>,
}

type Abort = ConflictableTransactionError<WriteError>;

fn abort(e: impl Into<WriteError>) -> Abort {
    ConflictableTransactionError::Abort(e.into())
}

fn codec_abort(e: codec::CodecError) -> Abort {
    abort(StoreError::Codec(e))
}

fn finish<T>(result: Result<T, TransactionError<WriteError>>) -> Result<T, WriteError> {
    result.map_err(|e| match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => WriteError::Store(StoreError::Sled(e)),
    })
}

/// The trees of one transaction, and who is making it.
struct Tx<'a> {
    products: &'a TransactionalTree,
    outbox: &'a TransactionalTree,
    outbox_index: &'a TransactionalTree,
    reservations: &'a TransactionalTree,
    meta: &'a TransactionalTree,
    audit: &'a TransactionalTree,
    caller: &'a str,
}

impl Tx<'_> {
    fn get<T: Record>(tree: &TransactionalTree, key: &[u8]) -> Result<Option<T>, Abort> {
        match tree.get(key)? {
            Some(bytes) => codec::decode(&bytes).map(Some).map_err(codec_abort),
            None => Ok(None),
        }
    }

    fn product(&self, id: &str) -> Result<Option<ProductRecord>, Abort> {
        Self::get(self.products, id.as_bytes())
    }

    fn existing_product(&self, id: &str) -> Result<ProductRecord, Abort> {
        self.product(id)?
            .ok_or_else(|| abort(Refusal::ProductNotFound(id.to_owned())))
    }

    /// Stores a changed product as a new version, with its feed event; returns the seq.
    fn save_change(
        &self,
        id: &str,
        record: &mut ProductRecord,
        kind: StoredEventKind,
        now_ms: u64,
    ) -> Result<u64, Abort> {
        record.version += 1;
        record.updated_at_ms = now_ms;
        record.updated_seq = self.record_event(id, kind, now_ms)?;
        self.put_product(id, record)?;
        Ok(record.updated_seq)
    }

    fn put_product(&self, id: &str, record: &ProductRecord) -> Result<(), Abort> {
        let bytes = codec::encode(record).map_err(codec_abort)?;
        self.products.insert(id.as_bytes(), bytes)?;
        Ok(())
    }

    /// Takes the next feed seq. Every write touches this one key, so sled orders all
    /// writers and seqs follow commit order: a consumer never sees seq N+1 before N.
    fn next_seq(&self) -> Result<u64, Abort> {
        let current = Self::get::<Counter>(self.meta, META_SEQ)?.map_or(0, |c| c.0);
        let next = current + 1;
        let bytes = codec::encode(&Counter(next)).map_err(codec_abort)?;
        self.meta.insert(META_SEQ, bytes)?;
        Ok(next)
    }

    /// Appends an event for `product_id` and drops that product's previous event: the
    /// outbox keeps the latest event per product, so it is bounded by the product count.
    fn record_event(
        &self,
        product_id: &str,
        kind: StoredEventKind,
        now_ms: u64,
    ) -> Result<u64, Abort> {
        let seq = self.next_seq()?;
        let key = seq.to_be_bytes();
        if let Some(previous) = self.outbox_index.insert(product_id.as_bytes(), &key)? {
            self.outbox.remove(previous)?;
        }
        let event = EventRecord {
            product_id: product_id.to_owned(),
            kind,
            at_ms: now_ms,
            caller: Some(self.caller.to_owned()),
        };
        self.outbox
            .insert(&key, codec::encode(&event).map_err(codec_abort)?)?;
        Ok(seq)
    }

    /// Appends the caller's write to the audit trail, in this transaction.
    fn audit(&self, action: &str, target: &str, now_ms: u64) -> Result<(), Abort> {
        let seq = Self::get::<Counter>(self.meta, META_AUDIT_SEQ)?.map_or(0, |c| c.0) + 1;
        self.meta.insert(
            META_AUDIT_SEQ,
            codec::encode(&Counter(seq)).map_err(codec_abort)?,
        )?;
        let entry = AuditRecord {
            at_ms: now_ms,
            caller: self.caller.to_owned(),
            action: action.to_owned(),
            target: target.to_owned(),
        };
        self.audit.insert(
            &seq.to_be_bytes(),
            codec::encode(&entry).map_err(codec_abort)?,
        )?;
        Ok(())
    }

    fn upsert(
        &self,
        id: &str,
        input: &ProductInput,
        now_ms: u64,
    ) -> Result<(ProductRecord, bool), Abort> {
        let current = self.product(id)?;
        let version = current.as_ref().map_or(1, |c| c.version + 1);
        let seq = self.record_event(id, StoredEventKind::Upsert, now_ms)?;
        let record = ProductRecord::from_input(input, version, seq, now_ms);
        self.put_product(id, &record)?;
        Ok((record, current.is_none()))
    }
}

fn check(pre: Precondition, current: Option<&ProductRecord>) -> Result<(), Abort> {
    match (pre, current) {
        (Precondition::None, _) => Ok(()),
        (Precondition::Exists, Some(_)) => Ok(()),
        (Precondition::Exists, None) => Err(abort(Refusal::VersionMismatch { current: 0 })),
        (Precondition::Version(v), Some(c)) if c.version == v => Ok(()),
        (Precondition::Version(_), c) => Err(abort(Refusal::VersionMismatch {
            current: c.map_or(0, |c| c.version),
        })),
    }
}

impl Store {
    fn transact<T>(
        &self,
        caller: &str,
        f: impl Fn(&Tx<'_>) -> Result<T, Abort>,
    ) -> Result<T, WriteError> {
        finish(
            (
                &self.products,
                &self.outbox,
                &self.outbox_index,
                &self.reservations,
                &self.meta,
                &self.audit,
            )
                .transaction(
                    |(products, outbox, outbox_index, reservations, meta, audit)| {
                        f(&Tx {
                            products,
                            outbox,
                            outbox_index,
                            reservations,
                            meta,
                            audit,
                            caller,
                        })
                    },
                ),
        )
    }

    /// Creates or replaces a product.
    pub fn put_product(
        &self,
        id: &str,
        input: &ProductInput,
        pre: Precondition,
        now_ms: u64,
        caller: &str,
    ) -> Result<PutOutcome, WriteError> {
        self.transact(caller, |tx| {
            check(pre, tx.product(id)?.as_ref())?;
            let (record, created) = tx.upsert(id, input, now_ms)?;
            tx.audit("product.put", id, now_ms)?;
            Ok(PutOutcome {
                product: record.to_wire(id),
                created,
                seq: record.updated_seq,
            })
        })
    }

    /// Changes the fields a patch names.
    pub fn patch_product(
        &self,
        id: &str,
        patch: &ProductPatch,
        pre: Precondition,
        now_ms: u64,
        caller: &str,
    ) -> Result<(Product, u64), WriteError> {
        self.transact(caller, |tx| {
            let mut record = tx.existing_product(id)?;
            check(pre, Some(&record))?;
            tx.audit("product.patch", id, now_ms)?;
            if let Some(name) = &patch.name {
                record.title.clone_from(name);
            }
            if let Some(description) = &patch.description {
                record.description.clone_from(description);
            }
            if let Some(category) = &patch.category {
                record.category.clone_from(category);
            }
            if let Some(price) = patch.price_minor {
                record.price_minor = price;
            }
            if let Some(currency) = &patch.currency {
                record.currency.clone_from(currency);
            }
            if let Some(stock) = patch.stock {
                record.stock = stock;
            }
            let seq = tx.save_change(id, &mut record, StoredEventKind::Upsert, now_ms)?;
            Ok((record.to_wire(id), seq))
        })
    }

    /// Deletes a product; returns the seq of the delete.
    pub fn delete_product(
        &self,
        id: &str,
        pre: Precondition,
        now_ms: u64,
        caller: &str,
    ) -> Result<u64, WriteError> {
        self.transact(caller, |tx| {
            check(pre, Some(&tx.existing_product(id)?))?;
            tx.products.remove(id.as_bytes())?;
            tx.audit("product.delete", id, now_ms)?;
            tx.record_event(id, StoredEventKind::Delete, now_ms)
        })
    }

    /// Adds `delta` to a product's stock, refusing to go below zero.
    pub fn change_stock(
        &self,
        id: &str,
        delta: i64,
        now_ms: u64,
        caller: &str,
    ) -> Result<(Product, u64), WriteError> {
        self.transact(caller, |tx| {
            let mut record = tx.existing_product(id)?;
            let next = i128::from(record.stock) + i128::from(delta);
            if next < 0 {
                return Err(abort(Refusal::InsufficientStock(vec![ShortItem {
                    product_id: id.to_owned(),
                    requested: delta.unsigned_abs(),
                    available: record.stock,
                }])));
            }
            record.stock = u64::try_from(next)
                .ok()
                .filter(|s| *s <= MAX_STOCK)
                .ok_or_else(|| {
                    abort(Refusal::StockOverflow {
                        product_id: id.to_owned(),
                    })
                })?;
            let seq = tx.save_change(id, &mut record, StoredEventKind::Stock, now_ms)?;
            tx.audit("stock.change", id, now_ms)?;
            Ok((record.to_wire(id), seq))
        })
    }

    /// Holds stock for every item, or for none.
    pub fn reserve(
        &self,
        request: &ReservationRequest,
        now_ms: u64,
        caller: &str,
    ) -> Result<ReserveOutcome, WriteError> {
        let wanted: Vec<(String, u32)> = request
            .items
            .iter()
            .map(|i| (i.product_id.clone(), i.qty))
            .collect();
        self.transact(caller, |tx| {
            if let Some(existing) =
                Tx::get::<ReservationRecord>(tx.reservations, request.id.as_bytes())?
            {
                if existing.items != wanted {
                    return Err(abort(Refusal::ReservationMismatch(request.id.clone())));
                }
                return Ok(ReserveOutcome {
                    reservation: existing.to_wire(&request.id),
                    created: false,
                    seq: None,
                });
            }
            let mut records = Vec::with_capacity(wanted.len());
            let mut missing = Vec::new();
            let mut short = Vec::new();
            for (product_id, qty) in &wanted {
                match tx.product(product_id)? {
                    None => missing.push(product_id.clone()),
                    Some(record) => {
                        if record.stock < u64::from(*qty) {
                            short.push(ShortItem {
                                product_id: product_id.clone(),
                                requested: u64::from(*qty),
                                available: record.stock,
                            });
                        }
                        records.push(record);
                    }
                }
            }
            if !missing.is_empty() {
                return Err(abort(Refusal::UnknownProducts(missing)));
            }
            if !short.is_empty() {
                return Err(abort(Refusal::InsufficientStock(short)));
            }
            let mut seq = None;
            for ((product_id, qty), mut record) in wanted.iter().zip(records) {
                record.stock -= u64::from(*qty);
                seq = Some(tx.save_change(
                    product_id,
                    &mut record,
                    StoredEventKind::Stock,
                    now_ms,
                )?);
            }
            let reservation = ReservationRecord {
                items: wanted.clone(),
                status: StoredReservationStatus::Held,
                created_at_ms: now_ms,
                released_at_ms: None,
            };
            tx.reservations.insert(
                request.id.as_bytes(),
                codec::encode(&reservation).map_err(codec_abort)?,
            )?;
            tx.audit("reservation.reserve", &request.id, now_ms)?;
            Ok(ReserveOutcome {
                reservation: reservation.to_wire(&request.id),
                created: true,
                seq,
            })
        })
    }

    /// Gives a reservation's stock back; releasing twice is harmless. Items whose product was
    /// deleted meanwhile have nowhere to go back to and are skipped.
    pub fn release(
        &self,
        id: &str,
        now_ms: u64,
        caller: &str,
    ) -> Result<(Reservation, Option<u64>), WriteError> {
        self.transact(caller, |tx| {
            let mut reservation = Tx::get::<ReservationRecord>(tx.reservations, id.as_bytes())?
                .ok_or_else(|| abort(Refusal::ReservationNotFound(id.to_owned())))?;
            if reservation.status == StoredReservationStatus::Released {
                return Ok((reservation.to_wire(id), None));
            }
            let mut seq = None;
            for (product_id, qty) in &reservation.items {
                if let Some(mut record) = tx.product(product_id)? {
                    record.stock = record.stock.saturating_add(u64::from(*qty));
                    seq = Some(tx.save_change(
                        product_id,
                        &mut record,
                        StoredEventKind::Stock,
                        now_ms,
                    )?);
                }
            }
            reservation.status = StoredReservationStatus::Released;
            reservation.released_at_ms = Some(now_ms);
            tx.audit("reservation.release", id, now_ms)?;
            tx.reservations.insert(
                id.as_bytes(),
                codec::encode(&reservation).map_err(codec_abort)?,
            )?;
            Ok((reservation.to_wire(id), seq))
        })
    }

    /// Creates or replaces many products in one transaction; returns the last seq.
    pub fn import(
        &self,
        products: &[(String, ProductInput)],
        now_ms: u64,
        caller: &str,
    ) -> Result<u64, WriteError> {
        self.transact(caller, |tx| {
            let mut last = 0;
            for (id, input) in products {
                last = tx.upsert(id, input, now_ms)?.0.updated_seq;
                tx.audit("catalog.import", id, now_ms)?;
            }
            Ok(last)
        })
    }

    /// Drops delete events older than `cutoff_ms` and raises the feed horizon past them;
    /// returns how many were dropped.
    pub fn prune_tombstones(&self, cutoff_ms: u64) -> Result<usize, WriteError> {
        let mut expired = Vec::new();
        for entry in self.outbox.iter() {
            let (key, value) = entry.map_err(StoreError::from)?;
            let event = codec::decode::<EventRecord>(&value).map_err(StoreError::from)?;
            if event.kind == StoredEventKind::Delete && event.at_ms < cutoff_ms {
                expired.push((seq_from_key(&key), event.product_id));
            }
        }
        if expired.is_empty() {
            return Ok(0);
        }
        self.transact(SELF_CALLER, |tx| {
            let mut horizon = Tx::get::<Counter>(tx.meta, META_HORIZON)?.map_or(0, |c| c.0);
            let mut dropped = 0;
            for (seq, product_id) in &expired {
                let key = seq.to_be_bytes();
                // Skip a tombstone superseded since the scan (the product came back).
                let current = tx.outbox_index.get(product_id.as_bytes())?;
                if current.as_deref() == Some(&key[..]) {
                    tx.outbox.remove(&key)?;
                    tx.outbox_index.remove(product_id.as_bytes())?;
                    horizon = horizon.max(*seq);
                    dropped += 1;
                }
            }
            tx.meta.insert(
                META_HORIZON,
                codec::encode(&Counter(horizon)).map_err(codec_abort)?,
            )?;
            Ok(dropped)
        })
    }
}
