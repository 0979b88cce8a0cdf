//! The store as one consistent redb file and back.
//!
//! One read transaction is a point-in-time view (redb is MVCC), so a copy needs no pause:
//! every table is copied from it into a fresh database, which is then archived as the file
//! `orders.redb`. Writers keep committing beside it. Restoring writes that file, has redb
//! check it from end to end, and opens it as the node would.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use redb::backends::FileBackend;
use redb::{
    Database, DatabaseError, Key, MultimapTableHandle, ReadOnlyDatabase, ReadTransaction,
    ReadableDatabase, ReadableTable, TableDefinition, TableHandle, Value, WriteTransaction,
};
use storage::archive::{ArchiveError, ArchiveReader, Entry};
use thiserror::Error;

use super::records::OrderRecord;
use super::{
    AUDIT, BY_CUSTOMER, DB_FILE, IDEMPOTENCY, IDEMPOTENCY_BY_AGE, META, META_COMMITS, ORDERS,
    Store, StoreError, UNSETTLED, codec, read_counter,
};

/// Every table of the store; a backup refuses to run if the database holds another one, so
/// that a table added later cannot be silently left out.
const TABLES: [&str; 7] = [
    "orders",
    "orders_by_customer",
    "unsettled",
    "idempotency",
    "idempotency_by_age",
    "audit",
    "meta",
];

/// The store could not be copied or restored.
#[derive(Debug, Error)]
pub enum SnapshotError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The archive failed.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// A file could not be written or read.
    #[error("file error: {0}")]
    Io(#[from] std::io::Error),
    /// The database holds a table the backup does not know.
    #[error("table {0:?} is not covered by the backup; refusing to take an incomplete copy")]
    UncoveredTable(String),
    /// The archive holds something other than the database file.
    #[error("the archive holds {0}, which an orders archive never does")]
    Unexpected(String),
    /// The archive lacks the database file.
    #[error("the archive holds no {DB_FILE}")]
    MissingFile,
    /// redb found the restored file damaged.
    #[error("the restored database failed redb's integrity check")]
    Integrity,
    /// The restored store does not end where the archive says.
    #[error("the restored store is at commit {found}, the archive says {expected}")]
    PointMismatch {
        /// The commit the archive's header names.
        expected: u64,
        /// The commit the restored store holds.
        found: u64,
    },
}

macro_rules! via_store {
    ($($t:ty),*) => {$(
        impl From<$t> for SnapshotError {
            fn from(e: $t) -> Self {
                SnapshotError::Store(e.into())
            }
        }
    )*};
}
via_store!(
    redb::StorageError,
    redb::TableError,
    redb::TransactionError,
    redb::CommitError
);

impl From<DatabaseError> for SnapshotError {
    fn from(e: DatabaseError) -> Self {
        SnapshotError::Store(StoreError::Db(e.into()))
    }
}

fn copy_table<K: Key + 'static, V: Value + 'static>(
    from: &ReadTransaction,
    to: &WriteTransaction,
    table: TableDefinition<K, V>,
) -> Result<(), SnapshotError> {
    let source = from.open_table(table)?;
    let mut target = to.open_table(table)?;
    for entry in source.iter()? {
        let (key, value) = entry?;
        target.insert(key.value(), value.value())?;
    }
    Ok(())
}

impl Store {
    /// Copies every table, as one read transaction sees them, into a new database written to
    /// `file`; returns the number of commits that view includes.
    pub fn copy_into(&self, file: File) -> Result<u64, SnapshotError> {
        let view = self.db().begin_read()?;
        for table in view.list_tables()? {
            if !TABLES.contains(&table.name()) {
                return Err(SnapshotError::UncoveredTable(table.name().to_owned()));
            }
        }
        if let Some(table) = view.list_multimap_tables()?.next() {
            return Err(SnapshotError::UncoveredTable(table.name().to_owned()));
        }
        let commits = read_counter(&view.open_table(META)?, META_COMMITS)?;
        let copy = Database::builder().create_with_backend(FileBackend::new(file)?)?;
        let txn = copy.begin_write()?;
        copy_table(&view, &txn, ORDERS)?;
        copy_table(&view, &txn, BY_CUSTOMER)?;
        copy_table(&view, &txn, UNSETTLED)?;
        copy_table(&view, &txn, IDEMPOTENCY)?;
        copy_table(&view, &txn, IDEMPOTENCY_BY_AGE)?;
        copy_table(&view, &txn, AUDIT)?;
        copy_table(&view, &txn, META)?;
        txn.commit()?;
        Ok(commits)
    }

    /// Decodes every order; returns how many there are.
    pub fn check_orders(&self) -> Result<u64, StoreError> {
        let txn = self.db().begin_read()?;
        let table = txn.open_table(ORDERS)?;
        let mut count = 0;
        for entry in table.iter()? {
            let (_, value) = entry?;
            codec::decode::<OrderRecord>(value.value())?;
            count += 1;
        }
        Ok(count)
    }
}

/// Whether a process has the database in `dir` open for writing. A file that cannot be
/// opened for another reason (damaged, say) is not in use: replacing it is what a forced
/// restore is for.
pub fn in_use(dir: &Path) -> bool {
    let path = dir.join(DB_FILE);
    if !path.exists() {
        return false;
    }
    match ReadOnlyDatabase::open(&path) {
        Err(DatabaseError::DatabaseAlreadyOpen) => true,
        Ok(_) => false,
        Err(e) => {
            tracing::warn!(error = %e, file = %path.display(), "cannot open the old database");
            false
        }
    }
}

/// Writes the archive's database file into the empty directory `dir`, has redb check it and
/// opens it as the node would.
pub fn import<R: Read>(dir: &Path, archive: &mut ArchiveReader<R>) -> Result<Store, SnapshotError> {
    let path = dir.join(DB_FILE);
    let mut file = File::create_new(&path)?;
    let mut seen = false;
    while let Some(entry) = archive.next_entry()? {
        match entry {
            Entry::Chunk { path, bytes, .. } if path == DB_FILE => {
                // The reader has checked that chunks arrive in order, without gaps.
                file.write_all(&bytes)?;
                seen = true;
            }
            Entry::Chunk { path, .. } => {
                return Err(SnapshotError::Unexpected(format!("the file {path:?}")));
            }
            Entry::Record { .. } => return Err(SnapshotError::Unexpected("a record".into())),
        }
    }
    if !seen {
        return Err(SnapshotError::MissingFile);
    }
    file.sync_all()?;
    drop(file);
    {
        let mut db = Database::builder()
            .set_check_integrity_on_open(true)
            .open(&path)?;
        // A copy that was closed cleanly needs no repair: any is damage.
        if !db.check_integrity()? {
            return Err(SnapshotError::Integrity);
        }
    }
    let store = Store::open(dir)?;
    store.check_orders()?;
    Ok(store)
}
