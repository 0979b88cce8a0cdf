//! order-node's redb store: orders, the per-customer index, the set of unsettled sagas,
//! idempotency keys and meta. Tables and records are private to this node.
//!
//! Reads open their own read transaction (redb's MVCC lets them run beside the writer). All
//! writes go through [`writer::Writer`], which batches concurrent writes into one durable
//! commit.

pub mod codec;
pub mod migrate;
pub mod records;
pub mod snapshot;
pub mod writer;
pub mod writes;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{
    Database, DatabaseError, ReadableDatabase, ReadableTable, ReadableTableMetadata,
    TableDefinition,
};
use thiserror::Error;

use codec::CodecError;
use records::{AuditRecord, IdempotencyRecord, OrderRecord};

pub use writes::{CreateOutcome, TransitionOutcome};

pub(crate) const ORDERS: TableDefinition<&str, &[u8]> = TableDefinition::new("orders");
/// `(customer_id, seq) -> order_id`: a customer's orders in placement order.
pub(crate) const BY_CUSTOMER: TableDefinition<(&str, u64), &str> =
    TableDefinition::new("orders_by_customer");
/// Orders whose saga is not over (pending or cancelling), so recovery never scans all orders.
pub(crate) const UNSETTLED: TableDefinition<&str, ()> = TableDefinition::new("unsettled");
pub(crate) const IDEMPOTENCY: TableDefinition<&str, &[u8]> = TableDefinition::new("idempotency");
/// `(created_ms, key)`: idempotency keys by age, for expiry.
pub(crate) const IDEMPOTENCY_BY_AGE: TableDefinition<(u64, &str), ()> =
    TableDefinition::new("idempotency_by_age");
/// `seq -> AuditRecord`: every caller's write, in order, written with the write itself.
pub(crate) const AUDIT: TableDefinition<u64, &[u8]> = TableDefinition::new("audit");
pub(crate) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
pub(crate) const META_AUDIT_SEQ: &str = "audit_seq";
pub(crate) const META_ORDER_SEQ: &str = "order_seq";
pub(crate) const META_SCHEMA: &str = "schema_version";
/// The store layout this build writes: 2 keeps idempotency answers as domain outcomes (see
/// [`migrate`]).
pub const CURRENT_SCHEMA: u64 = 2;
/// Group commits made so far: names the point a backup represents.
pub(crate) const META_COMMITS: &str = "commits";
/// The database file in the data directory.
pub(crate) const DB_FILE: &str = "orders.redb";

/// The store failed.
#[derive(Debug, Error)]
pub enum StoreError {
    /// Another process holds the database.
    #[error(
        "data directory {path} is in use by another process (redb holds an exclusive lock); \
         stop the other order-node or choose another --data-dir"
    )]
    Locked {
        /// The directory.
        path: PathBuf,
    },
    /// redb failed.
    #[error("storage error: {0}")]
    Db(#[from] redb::Error),
    /// A stored value is unreadable or unwritable.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// The batch this write was part of did not commit.
    #[error("commit failed: {0}")]
    Commit(String),
    /// The writer has stopped.
    #[error("the store's writer has stopped")]
    WriterGone,
    /// No such order.
    #[error("order {0:?} not found")]
    OrderNotFound(String),
    /// The store was written by a newer build.
    #[error(
        "the store has layout v{found}, newer than the v{supported} this build reads; \
         run a newer order-node"
    )]
    TooNew {
        /// The layout found.
        found: u64,
        /// The newest layout this build reads.
        supported: u64,
    },
}

impl StoreError {
    /// Whether the error spoils the whole write batch (a storage failure) rather than just
    /// refusing one write before it changed anything.
    pub fn is_fatal(&self) -> bool {
        !matches!(self, Self::OrderNotFound(_))
    }
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Db(e.into())
            }
        }
    )*};
}
from_redb!(
    redb::StorageError,
    redb::TableError,
    redb::TransactionError,
    redb::CommitError
);

/// The order store (cheap to clone).
#[derive(Clone)]
pub struct Store {
    dir: PathBuf,
    db: Arc<Database>,
}

impl Store {
    /// Opens (creating if needed) `orders.redb` in `dir`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let repaired = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let noted = repaired.clone();
        let db = Database::builder()
            .set_repair_callback(move |session| {
                // Called repeatedly while a repair runs; the first call is the news.
                if !noted.swap(true, std::sync::atomic::Ordering::Relaxed) {
                    tracing::warn!(
                        progress = session.progress(),
                        "redb was not closed cleanly last time; repairing the database"
                    );
                }
            })
            .create(dir.join(DB_FILE))
            .map_err(|e| match e {
                DatabaseError::DatabaseAlreadyOpen => StoreError::Locked {
                    path: dir.to_owned(),
                },
                other => StoreError::Db(other.into()),
            })?;
        let txn = db.begin_write()?;
        create_tables(&txn)?;
        migrate::run(&txn)?;
        txn.commit()?;
        if repaired.load(std::sync::atomic::Ordering::Relaxed) {
            tracing::warn!("redb repair finished");
        }
        Ok(Self {
            dir: dir.to_owned(),
            db: Arc::new(db),
        })
    }

    /// Closes the database cleanly, so that the next start needs no repair. Fails (and the
    /// database stays open) while any other handle to the store is alive.
    pub fn close(self) -> Result<(), Self> {
        match Arc::try_unwrap(self.db) {
            Ok(db) => {
                drop(db);
                Ok(())
            }
            Err(db) => Err(Self { dir: self.dir, db }),
        }
    }

    pub(crate) fn db(&self) -> &Arc<Database> {
        &self.db
    }

    /// The directory the store lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Group commits made so far.
    pub fn commits(&self) -> Result<u64, StoreError> {
        let txn = self.db.begin_read()?;
        read_counter(&txn.open_table(META)?, META_COMMITS)
    }

    /// One order.
    pub fn order(&self, id: &str) -> Result<Option<OrderRecord>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(ORDERS)?;
        let value = table.get(id)?;
        Ok(match value {
            Some(v) => Some(codec::decode(v.value())?),
            None => None,
        })
    }

    /// Several orders, read at one point in time; `None` where an id has no order.
    pub fn orders(&self, ids: &[String]) -> Result<Vec<Option<OrderRecord>>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(ORDERS)?;
        ids.iter()
            .map(|id| match table.get(id.as_str())? {
                Some(v) => Ok(Some(codec::decode(v.value())?)),
                None => Ok(None),
            })
            .collect()
    }

    /// Up to `limit` orders of a customer, newest first, placed before `before` (a seq).
    pub fn orders_of_customer(
        &self,
        customer_id: &str,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(String, OrderRecord)>, StoreError> {
        let txn = self.db.begin_read()?;
        let index = txn.open_table(BY_CUSTOMER)?;
        let orders = txn.open_table(ORDERS)?;
        let upper = before.unwrap_or(u64::MAX);
        let mut out = Vec::with_capacity(limit);
        for entry in index.range((customer_id, 0)..(customer_id, upper))?.rev() {
            if out.len() == limit {
                break;
            }
            let (_, id) = entry?;
            let id = id.value().to_owned();
            if let Some(v) = orders.get(id.as_str())? {
                let record = codec::decode(v.value())?;
                out.push((id, record));
            }
        }
        Ok(out)
    }

    /// Ids of orders whose saga is not over.
    pub fn unsettled(&self) -> Result<Vec<String>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(UNSETTLED)?;
        table
            .iter()?
            .map(|entry| Ok(entry?.0.value().to_owned()))
            .collect()
    }

    /// What an idempotency key was used for.
    pub fn idempotency(&self, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(IDEMPOTENCY)?;
        let value = table.get(key)?;
        Ok(match value {
            Some(v) => Some(codec::decode(v.value())?),
            None => None,
        })
    }

    /// The newest `limit` audit entries, newest first, with their seqs.
    pub fn audit(&self, limit: usize) -> Result<Vec<(u64, AuditRecord)>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(AUDIT)?;
        let mut out = Vec::with_capacity(limit.min(1024));
        for entry in table.iter()?.rev().take(limit) {
            let (seq, value) = entry?;
            out.push((seq.value(), codec::decode(value.value())?));
        }
        Ok(out)
    }

    /// Number of orders.
    pub fn order_count(&self) -> Result<u64, StoreError> {
        let txn = self.db.begin_read()?;
        Ok(txn.open_table(ORDERS)?.len()?)
    }
}

/// A counter of the meta table (0 when absent).
pub(crate) fn read_counter(
    meta: &impl ReadableTable<&'static str, &'static [u8]>,
    key: &str,
) -> Result<u64, StoreError> {
    Ok(match meta.get(key)? {
        Some(v) => codec::decode::<records::Counter>(v.value())?.0,
        None => 0,
    })
}

/// Creates the tables a store has that are missing (redb creates a table on first open).
fn create_tables(txn: &redb::WriteTransaction) -> Result<(), StoreError> {
    txn.open_table(ORDERS)?;
    txn.open_table(BY_CUSTOMER)?;
    txn.open_table(UNSETTLED)?;
    txn.open_table(IDEMPOTENCY)?;
    txn.open_table(IDEMPOTENCY_BY_AGE)?;
    txn.open_table(AUDIT)?;
    Ok(())
}

#[cfg(test)]
mod tests;
