//! The catalog's sled store: products, reservations, the outbox and its index, and meta.
//!
//! Every write is one sled transaction that changes the data AND appends its feed events, so
//! the feed can never miss or invent a change. Trees and records are private to this node and
//! mapped to the wire types here.

pub mod codec;
pub mod migrate;
pub mod records;
pub mod replica;
pub mod snapshot;
mod writes;

use std::ops::Bound;
use std::path::{Path, PathBuf};

use contracts::catalog::{ChangeEvent, EventKind, Product, Reservation};
use thiserror::Error;

use codec::CodecError;
use records::{
    AuditRecord, Counter, EventRecord, ProductRecord, ReservationRecord, StoredEventKind,
};

pub use replica::Role;
pub use writes::{Precondition, PutOutcome, Refusal, ReserveOutcome, SELF_CALLER, WriteError};

/// Layout version this build writes.
pub const CURRENT_SCHEMA: u64 = 2;
pub(crate) const META_SEQ: &[u8] = b"seq";
pub(crate) const META_SCHEMA: &[u8] = b"schema_version";
pub(crate) const META_HORIZON: &[u8] = b"feed_horizon";
pub(crate) const META_AUDIT_SEQ: &[u8] = b"audit_seq";

/// The store failed.
#[derive(Debug, Error)]
pub enum StoreError {
    /// Another process holds the data directory.
    #[error(
        "data directory {path} is in use by another process (sled holds an exclusive lock); \
         stop the other catalog-node or choose another --data-dir"
    )]
    Locked {
        /// The directory.
        path: PathBuf,
    },
    /// The data was written by a newer build.
    #[error(
        "store layout v{found} is newer than this build supports (v{supported}); upgrade catalog-node"
    )]
    TooNew {
        /// Layout found.
        found: u64,
        /// Newest layout this build knows.
        supported: u64,
    },
    /// The directory holds the other role's data.
    #[error("this data directory cannot serve in this role: {0}")]
    WrongRole(String),
    /// sled failed.
    #[error("storage error: {0}")]
    Sled(#[from] sled::Error),
    /// A stored value is unreadable.
    #[error(transparent)]
    Codec(#[from] CodecError),
}

/// The catalog's store.
#[derive(Clone)]
pub struct Store {
    path: PathBuf,
    db: sled::Db,
    products: sled::Tree,
    outbox: sled::Tree,
    outbox_index: sled::Tree,
    reservations: sled::Tree,
    meta: sled::Tree,
    /// `seq (big-endian) -> AuditRecord`: every caller's write, written with the write.
    audit: sled::Tree,
}

impl Store {
    /// Opens (creating if needed) the store in `path` and upgrades its layout.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::from_db(open_db(path)?, path)
    }

    /// The store in `db`, opened from `path`, with its layout upgraded.
    fn from_db(db: sled::Db, path: &Path) -> Result<Self, StoreError> {
        let products = db.open_tree("products")?;
        migrate::run(&db, &products)?;
        Ok(Self {
            path: path.to_owned(),
            outbox: db.open_tree("outbox")?,
            outbox_index: db.open_tree("outbox_index")?,
            reservations: db.open_tree("reservations")?,
            meta: db.open_tree("meta")?,
            audit: db.open_tree("audit")?,
            products,
            db,
        })
    }

    /// The directory the store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Makes every committed write durable; returns the bytes sled wrote.
    pub fn flush(&self) -> Result<usize, StoreError> {
        Ok(self.db.flush()?)
    }

    /// The seq of the newest committed change (0 for an empty store).
    pub fn head_seq(&self) -> Result<u64, StoreError> {
        read_counter(&self.meta, META_SEQ)
    }

    /// The highest seq whose event was dropped by tombstone retention: a consumer whose
    /// cursor is below it may have missed a delete and must bootstrap again.
    pub fn horizon(&self) -> Result<u64, StoreError> {
        read_counter(&self.meta, META_HORIZON)
    }

    /// Number of products.
    pub fn product_count(&self) -> usize {
        self.products.len()
    }

    /// Bytes the store takes on disk.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.db.size_on_disk()?)
    }

    /// One product.
    pub fn product(&self, id: &str) -> Result<Option<Product>, StoreError> {
        self.products
            .get(id.as_bytes())?
            .map(|bytes| Ok(codec::decode::<ProductRecord>(&bytes)?.to_wire(id)))
            .transpose()
    }

    /// Up to `limit` products with ids after `after`, in id order.
    pub fn products_after(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Product>, StoreError> {
        let start = match after {
            Some(a) => Bound::Excluded(a.as_bytes()),
            None => Bound::Unbounded,
        };
        self.products
            .range::<&[u8], _>((start, Bound::Unbounded))
            .take(limit)
            .map(|entry| {
                let (key, value) = entry?;
                let id = String::from_utf8_lossy(&key);
                Ok(codec::decode::<ProductRecord>(&value)?.to_wire(&id))
            })
            .collect()
    }

    /// One reservation.
    pub fn reservation(&self, id: &str) -> Result<Option<Reservation>, StoreError> {
        self.reservations
            .get(id.as_bytes())?
            .map(|bytes| Ok(codec::decode::<ReservationRecord>(&bytes)?.to_wire(id)))
            .transpose()
    }

    /// Up to `limit` events with `after < seq <= upto`, each with its product's state.
    ///
    /// The caller must keep writers out while this runs, so that events and product states
    /// are read at one point in time.
    pub fn events(
        &self,
        after: u64,
        upto: u64,
        limit: usize,
    ) -> Result<Vec<ChangeEvent>, StoreError> {
        if upto <= after {
            return Ok(Vec::new());
        }
        let range = (after + 1).to_be_bytes()..=upto.to_be_bytes();
        let mut events = Vec::new();
        for entry in self.outbox.range(range).take(limit) {
            let (key, value) = entry?;
            let seq = seq_from_key(&key);
            let record = codec::decode::<EventRecord>(&value)?;
            let product = self.product(&record.product_id)?;
            // The outbox keeps each product's latest event only, so its current state IS
            // the state after this event.
            let kind = match (&product, record.kind) {
                (None, _) => EventKind::Delete,
                (Some(_), StoredEventKind::Delete) => EventKind::Upsert,
                (Some(_), kind) => kind.into(),
            };
            events.push(ChangeEvent {
                seq,
                product_id: record.product_id,
                kind,
                product,
                caller: record.caller,
            });
        }
        Ok(events)
    }

    /// The newest `limit` audit entries, newest first, with their seqs.
    pub fn audit(&self, limit: usize) -> Result<Vec<(u64, AuditRecord)>, StoreError> {
        self.audit
            .iter()
            .rev()
            .take(limit)
            .map(|entry| {
                let (key, value) = entry?;
                Ok((seq_from_key(&key), codec::decode::<AuditRecord>(&value)?))
            })
            .collect()
    }

    /// Number of entries in the outbox (one per product ever seen, until tombstones expire).
    pub fn outbox_len(&self) -> usize {
        self.outbox.len()
    }
}

/// Opens a store that this process closed a moment ago. sled's background flusher lets go of
/// the directory lock shortly after the last handle is dropped, so retry briefly.
#[cfg(test)]
pub(crate) fn reopen(path: &Path) -> Store {
    for _ in 0..100 {
        match Store::open(path) {
            Ok(store) => return store,
            Err(StoreError::Locked { .. }) => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            Err(e) => panic!("reopen failed: {e}"),
        }
    }
    panic!("store still locked after 2 s");
}

/// Opens the sled database in `path`, naming a held lock as such.
fn open_db(path: &Path) -> Result<sled::Db, StoreError> {
    sled::Config::new().path(path).open().map_err(|e| match e {
        sled::Error::Io(io) if io.to_string().contains("could not acquire lock") => {
            StoreError::Locked {
                path: path.to_owned(),
            }
        }
        other => StoreError::Sled(other),
    })
}

fn read_counter(tree: &sled::Tree, key: &[u8]) -> Result<u64, StoreError> {
    Ok(match tree.get(key)? {
        Some(bytes) => codec::decode::<Counter>(&bytes)?.0,
        None => 0,
    })
}

fn seq_from_key(key: &[u8]) -> u64 {
    let mut buf = [0u8; 8];
    let n = key.len().min(8);
    buf[8 - n..].copy_from_slice(&key[key.len() - n..]);
    u64::from_be_bytes(buf)
}

#[cfg(test)]
mod tests;
