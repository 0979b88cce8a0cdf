//! Backup and restore of search-node's index.
//!
//! A backup is the index's last commit: its `meta.json` and the segment files it names, kept
//! from tantivy's garbage collection while they are copied. Indexing, commits and merges go
//! on meanwhile. The commit's payload holds the feed cursor, so a restored index resumes
//! following the catalog from exactly there. Restoring writes the files offline, rebuilds
//! tantivy's list of managed files, opens the index as the node would, checks every file's
//! checksum and the cursor, and only then moves it into place (see
//! [`storage::backup::restore`]).

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufReader, Write};
use std::path::Path;

use storage::archive::{ArchiveError, ArchiveReader, Entry, Header, Point};
use storage::backup::{Restore, Staged};
use storage::clock::now_ms;
use thiserror::Error;

use crate::index::{IndexError, ProductIndex};

/// The kind of node named in the archive header.
pub const KIND: &str = "search";
/// What the archive's point counts: the catalog feed cursor of the commit.
pub const POINT: &str = "cursor";
/// tantivy's commit file.
const META_FILE: &str = "meta.json";
/// tantivy's list of the files it created (and may delete once unused).
const MANAGED_FILE: &str = ".managed.json";
/// The file tantivy's writer locks while a process indexes.
const WRITER_LOCK: &str = ".tantivy-writer.lock";

/// The index could not be backed up or restored.
#[derive(Debug, Error)]
pub enum BackupError {
    /// The index failed.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// The archive failed.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// A file could not be read or written.
    #[error("file error: {0}")]
    Io(#[from] std::io::Error),
    /// There is no commit with a cursor yet.
    #[error("the index has not been built from the catalog yet; there is nothing to back up")]
    NotBootstrapped,
    /// The archive holds a record; a search archive holds files only.
    #[error("the archive holds a record, which a search archive never does")]
    UnexpectedRecord,
    /// The archive lacks the commit file.
    #[error("the archive holds no {META_FILE}")]
    MissingMeta,
    /// The restored index does not resume where the archive says.
    #[error("the restored index resumes at cursor {found:?}, the archive says {expected}")]
    PointMismatch {
        /// The cursor the archive's header names.
        expected: u64,
        /// The cursor the restored index holds.
        found: Option<u64>,
    },
}

/// Copies the index's last commit into a staged archive.
pub fn stage(index: &ProductIndex) -> Result<Staged, BackupError> {
    // Holding the snapshot keeps the commit's files on disk until the copy is done.
    let snapshot = index.snapshot()?;
    let cursor = snapshot.seq()?.ok_or(BackupError::NotBootstrapped)?;
    let header = Header {
        kind: KIND.into(),
        point: Point {
            name: POINT.into(),
            value: cursor,
        },
        created_ms: now_ms(),
        producer: format!("search-node {}", env!("CARGO_PKG_VERSION")),
    };
    storage::backup::stage(index.dir(), header, |out| {
        for name in snapshot.files() {
            out.file(&name, BufReader::new(snapshot.open(&name)?))?;
        }
        // Last, so that a restore that stops early never has a commit naming missing files.
        out.file(META_FILE, &snapshot.meta_json()?[..])?;
        Ok(())
    })
}

/// Restores search archives.
#[derive(Debug, Clone, Copy, Default)]
pub struct SearchRestore;

impl Restore for SearchRestore {
    type Error = BackupError;

    fn kind(&self) -> &'static str {
        KIND
    }

    fn in_use(&self, dir: &Path) -> Result<bool, BackupError> {
        Ok(storage::backup::locked(&dir.join(WRITER_LOCK))?)
    }

    fn write(
        &self,
        dir: &Path,
        archive: &mut ArchiveReader<storage::backup::Source>,
    ) -> Result<(), BackupError> {
        let expected = archive.header().point.value;
        let mut written = BTreeSet::new();
        let mut current: Option<(String, File)> = None;
        while let Some(entry) = archive.next_entry()? {
            let (name, bytes) = match entry {
                Entry::Chunk { path, bytes, .. } => (path, bytes),
                Entry::Record { .. } => return Err(BackupError::UnexpectedRecord),
            };
            // The reader guarantees a file's chunks come together and in order.
            if !matches!(&current, Some((open, _)) if *open == name) {
                if let Some((_, done)) = current.take() {
                    done.sync_all()?;
                }
                let file = File::create_new(dir.join(&name))?;
                written.insert(name.clone());
                current = Some((name, file));
            }
            if let Some((_, file)) = &mut current {
                file.write_all(&bytes)?;
            }
        }
        if let Some((_, done)) = current.take() {
            done.sync_all()?;
        }
        if !written.contains(META_FILE) {
            return Err(BackupError::MissingMeta);
        }
        // Without it tantivy would never collect the restored files once merged away.
        let managed: Vec<&String> = written.iter().collect();
        let managed =
            serde_json::to_vec(&managed).map_err(|e| BackupError::Io(std::io::Error::other(e)))?;
        storage::backup::write_file(dir, MANAGED_FILE, &managed)?;

        let index = ProductIndex::open(dir)?;
        index.verify()?;
        let found = index.committed_seq()?;
        if found != Some(expected) {
            return Err(BackupError::PointMismatch { expected, found });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use contracts::catalog::Product;

    fn product(i: usize) -> Product {
        Product {
            id: format!("p{i}"),
            name: format!("Kettle number{i}"),
            description: "boils water".into(),
            category: "kitchen".into(),
            price_minor: 1,
            currency: "EUR".into(),
            stock: 1,
            version: 1,
            updated_seq: i as u64,
            updated_at: String::new(),
        }
    }

    #[test]
    fn a_snapshot_survives_later_commits_and_restores() {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("live");
        std::fs::create_dir(&live).unwrap();
        let index = ProductIndex::open(&live).unwrap();
        for batch in 0..5 {
            for i in batch * 20..(batch + 1) * 20 {
                index.upsert(&product(i)).unwrap();
            }
            index.commit(batch as u64 + 1).unwrap();
        }
        index.delete("p3");
        index.commit(6).unwrap();
        let staged = stage(&index).unwrap();
        assert_eq!(staged.summary.header.point.value, 6);
        // The index moves on after the copy; the archive does not.
        for i in 100..150 {
            index.upsert(&product(i)).unwrap();
        }
        index.commit(7).unwrap();

        let path = dir.path().join("search.backup");
        let mut out = File::create(&path).unwrap();
        std::io::copy(&mut &staged.file, &mut out).unwrap();
        drop(out);
        let target = dir.path().join("restored");
        storage::backup::restore(&SearchRestore, &path, &target, false).unwrap();
        let restored = ProductIndex::open(&target).unwrap();
        assert_eq!(restored.committed_seq().unwrap(), Some(6));
        assert_eq!(restored.num_docs(), 99);
        assert_eq!(restored.search("number7", None, 10, 0).unwrap().1, 1);
        assert_eq!(restored.search("number3", None, 10, 0).unwrap().1, 0);
        assert_eq!(restored.search("number120", None, 10, 0).unwrap().1, 0);
        restored.verify().unwrap();
        // The live index holds its writer lock.
        assert!(SearchRestore.in_use(&live).unwrap());
        drop(restored);
        assert!(!SearchRestore.in_use(&target).unwrap());
    }
}
