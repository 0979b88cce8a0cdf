//! Backup and restore of the catalog's store.
//!
//! A backup is every sled tree copied key by key while the service's write gate keeps
//! writers out (reads, feed pages included, carry on), after a flush: the archive is exactly
//! the store at one feed seq, and that seq is durable. Restoring rebuilds a sled store from
//! the records offline, checks it opens and ends at that seq, and only then moves it into
//! place (see [`storage::backup::restore`]).

use std::path::Path;

use storage::archive::{ArchiveReader, Header, Point};
use storage::backup::{Restore, Staged};
use storage::clock::now_ms;

use crate::store::Store;
use crate::store::snapshot::{self, SnapshotError};

/// The kind of node named in the archive header.
pub const KIND: &str = "catalog";
/// What the archive's point counts: the change feed's seq.
pub const POINT: &str = "seq";
/// The file sled locks in its directory while a process has it open.
const LOCK_FILE: &str = "db";

/// Flushes the store and writes the whole of it into a staged archive at its head seq.
///
/// The caller must keep writers out until this returns: sled cannot give a point-in-time
/// view on its own.
pub fn stage(store: &Store) -> Result<Staged, SnapshotError> {
    store.flush()?;
    let header = Header {
        kind: KIND.into(),
        point: Point {
            name: POINT.into(),
            value: store.head_seq()?,
        },
        created_ms: now_ms(),
        producer: format!("catalog-node {}", env!("CARGO_PKG_VERSION")),
    };
    storage::backup::stage(store.path(), header, |out| store.export(out).map(|_| ()))
}

/// Restores catalog archives.
#[derive(Debug, Clone, Copy, Default)]
pub struct CatalogRestore;

impl Restore for CatalogRestore {
    type Error = SnapshotError;

    fn kind(&self) -> &'static str {
        KIND
    }

    fn in_use(&self, dir: &Path) -> Result<bool, SnapshotError> {
        storage::backup::locked(&dir.join(LOCK_FILE)).map_err(|source| SnapshotError::Probe {
            path: dir.join(LOCK_FILE).display().to_string(),
            source,
        })
    }

    fn write(
        &self,
        dir: &Path,
        archive: &mut ArchiveReader<storage::backup::Source>,
    ) -> Result<(), SnapshotError> {
        let expected = archive.header().point.value;
        let store = snapshot::import(dir, archive)?;
        let found = store.head_seq()?;
        if found != expected {
            return Err(SnapshotError::PointMismatch { expected, found });
        }
        store.flush()?;
        Ok(())
    }
}
