//! Backup and restore of order-node's store.
//!
//! A backup copies every table as one read transaction sees them into a fresh redb file,
//! archived with the number of group commits it includes: a consistent point, taken without
//! pausing anything (redb readers and the writer do not wait for each other). Restoring
//! writes that file offline, has redb check it, checks every order decodes and the commit
//! count matches, and only then moves it into place (see [`storage::backup::restore`]).

use std::io::{BufReader, Seek, SeekFrom};
use std::path::Path;

use storage::archive::{ArchiveReader, Header, Point};
use storage::backup::{Restore, Staged};
use storage::clock::now_ms;

use crate::store::snapshot::{self, SnapshotError};
use crate::store::{DB_FILE, Store};

/// The kind of node named in the archive header.
pub const KIND: &str = "orders";
/// What the archive's point counts: group commits.
pub const POINT: &str = "commit";

/// Copies the store at one point in time into a staged archive.
pub fn stage(store: &Store) -> Result<Staged, SnapshotError> {
    let mut copy = tempfile::tempfile_in(store.dir())?;
    let commits = store.copy_into(copy.try_clone()?)?;
    copy.seek(SeekFrom::Start(0))?;
    let header = Header {
        kind: KIND.into(),
        point: Point {
            name: POINT.into(),
            value: commits,
        },
        created_ms: now_ms(),
        producer: format!("order-node {}", env!("CARGO_PKG_VERSION")),
    };
    storage::backup::stage(store.dir(), header, |out| {
        out.file(DB_FILE, BufReader::new(copy))?;
        Ok(())
    })
}

/// Restores orders archives.
#[derive(Debug, Clone, Copy, Default)]
pub struct OrdersRestore;

impl Restore for OrdersRestore {
    type Error = SnapshotError;

    fn kind(&self) -> &'static str {
        KIND
    }

    fn in_use(&self, dir: &Path) -> Result<bool, SnapshotError> {
        Ok(snapshot::in_use(dir))
    }

    fn write(
        &self,
        dir: &Path,
        archive: &mut ArchiveReader<storage::backup::Source>,
    ) -> Result<(), SnapshotError> {
        let expected = archive.header().point.value;
        let store = snapshot::import(dir, archive)?;
        let found = store.commits()?;
        if found != expected {
            return Err(SnapshotError::PointMismatch { expected, found });
        }
        Ok(())
    }
}
