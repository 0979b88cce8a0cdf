//! The store as archive entries and back: every sled tree, key by key, exactly as stored
//! (values keep their schema tags, so a restored store is upgraded like any other at open).
//!
//! sled has no snapshots: [`Store::export`] is consistent only while no write runs, which
//! the service guarantees by holding its write gate around it.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::Path;

use storage::archive::{ArchiveError, ArchiveReader, ArchiveWriter, Entry};
use thiserror::Error;

use super::{Store, StoreError, open_db};

/// Records written to a tree per batch while importing.
const IMPORT_BATCH: usize = 1000;

/// The store could not be exported or imported.
#[derive(Debug, Error)]
pub enum SnapshotError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The archive failed.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// A catalog archive holds records only.
    #[error("the archive holds a file ({0:?}), which a catalog archive never does")]
    UnexpectedFile(String),
    /// The imported store does not end where the archive says it does.
    #[error("the restored store is at feed seq {found}, the archive says {expected}")]
    PointMismatch {
        /// The seq the archive's header names.
        expected: u64,
        /// The seq the restored store holds.
        found: u64,
    },
    /// Probing the data directory failed.
    #[error("cannot check {path}: {source}")]
    Probe {
        /// The file probed.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl From<sled::Error> for SnapshotError {
    fn from(e: sled::Error) -> Self {
        SnapshotError::Store(StoreError::Sled(e))
    }
}

impl Store {
    /// Writes every tree (in name order) and every key of each into `out`; returns the
    /// number of records. Keep writers out while it runs.
    pub fn export<W: Write>(&self, out: &mut ArchiveWriter<W>) -> Result<u64, SnapshotError> {
        let mut names = self.db.tree_names();
        names.sort();
        let mut records = 0;
        for name in names {
            let tree = self.db.open_tree(&name)?;
            for entry in tree.iter() {
                let (key, value) = entry?;
                out.record(&name, &key, &value)?;
                records += 1;
            }
        }
        Ok(records)
    }
}

/// Builds a store in the empty directory `dir` from the archive's records, flushes it and
/// opens it as the node would (layout checks and upgrades included).
pub fn import<R: Read>(dir: &Path, archive: &mut ArchiveReader<R>) -> Result<Store, SnapshotError> {
    let db = open_db(dir)?;
    let mut trees: HashMap<Vec<u8>, (sled::Tree, sled::Batch, usize)> = HashMap::new();
    while let Some(entry) = archive.next_entry()? {
        let (collection, key, value) = match entry {
            Entry::Record {
                collection,
                key,
                value,
            } => (collection, key, value),
            Entry::Chunk { path, .. } => return Err(SnapshotError::UnexpectedFile(path)),
        };
        if !trees.contains_key(&collection) {
            let tree = db.open_tree(&collection)?;
            trees.insert(collection.clone(), (tree, sled::Batch::default(), 0));
        }
        if let Some((tree, batch, pending)) = trees.get_mut(&collection) {
            batch.insert(key, value);
            *pending += 1;
            if *pending == IMPORT_BATCH {
                tree.apply_batch(std::mem::take(batch))?;
                *pending = 0;
            }
        }
    }
    for (tree, batch, _) in trees.into_values() {
        tree.apply_batch(batch)?;
    }
    db.flush()?;
    Ok(Store::from_db(db, dir)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use contracts::catalog::ProductInput;
    use storage::archive::{Header, Point};

    fn input(name: &str) -> ProductInput {
        ProductInput {
            name: name.into(),
            description: String::new(),
            category: "toys".into(),
            price_minor: 100,
            currency: "EUR".into(),
            stock: 5,
        }
    }

    #[test]
    fn export_then_import_gives_the_same_trees() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("a")).unwrap();
        for i in 0..2500 {
            store
                .put_product(
                    &format!("p{i}"),
                    &input(&format!("P {i}")),
                    crate::store::Precondition::None,
                    1,
                    "test",
                )
                .unwrap();
        }
        store
            .delete_product("p7", crate::store::Precondition::None, 2, "test")
            .unwrap();
        let header = Header {
            kind: "catalog".into(),
            point: Point {
                name: "seq".into(),
                value: store.head_seq().unwrap(),
            },
            created_ms: 0,
            producer: "test".into(),
        };
        let mut w = ArchiveWriter::new(Vec::new(), header).unwrap();
        let records = store.export(&mut w).unwrap();
        assert!(
            records > 2500 * 2,
            "products and outbox at least: {records}"
        );
        let (bytes, _) = w.finish().unwrap();

        let mut r = ArchiveReader::open_kind(&bytes[..], "catalog").unwrap();
        let copy = import(&dir.path().join("b"), &mut r).unwrap();
        r.finish().unwrap();
        assert_eq!(copy.head_seq().unwrap(), store.head_seq().unwrap());
        assert_eq!(copy.product_count(), 2499);
        for name in store.db.tree_names() {
            let a: Vec<_> = store.db.open_tree(&name).unwrap().iter().collect();
            let b: Vec<_> = copy.db.open_tree(&name).unwrap().iter().collect();
            assert_eq!(
                a.into_iter().map(Result::unwrap).collect::<Vec<_>>(),
                b.into_iter().map(Result::unwrap).collect::<Vec<_>>(),
                "tree {:?}",
                String::from_utf8_lossy(&name)
            );
        }
    }
}
