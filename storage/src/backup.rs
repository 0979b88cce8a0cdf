//! Backups and restores on disk, around each node's own engine code: staging a consistent
//! archive in an unlinked temporary file, and restoring one into a data directory without
//! ever leaving a half-written directory behind. Serving and fetching archives over HTTP is
//! `chassis::backup`'s business.
//!
//! A node stages its archive in an unlinked temporary file inside its own data directory (so
//! the consistent copy is taken at local disk speed and whatever holds the store still, a
//! lock or a read transaction, is let go before the network is involved).

use std::fs::File;
use std::io::{self, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::archive::{ArchiveError, ArchiveReader, ArchiveWriter, Header, Summary};
use crate::progress::{self, Reading};

/// A complete archive in an unlinked temporary file, rewound, ready to be streamed.
#[derive(Debug)]
pub struct Staged {
    /// The archive.
    pub file: File,
    /// What it holds.
    pub summary: Summary,
}

/// Writes an archive with `header` into an unlinked temporary file in `dir`; `fill` adds the
/// entries.
pub fn stage<E>(
    dir: &Path,
    header: Header,
    fill: impl FnOnce(&mut ArchiveWriter<io::BufWriter<File>>) -> Result<(), E>,
) -> Result<Staged, E>
where
    E: From<ArchiveError>,
{
    let file = tempfile::tempfile_in(dir).map_err(ArchiveError::Io)?;
    let mut writer = ArchiveWriter::new(io::BufWriter::new(file), header)?;
    fill(&mut writer)?;
    let (out, summary) = writer.finish()?;
    let mut file = out
        .into_inner()
        .map_err(|e| ArchiveError::Io(e.into_error()))?;
    file.seek(SeekFrom::Start(0)).map_err(ArchiveError::Io)?;
    Ok(Staged { file, summary })
}

/// What a restore did.
#[derive(Debug, Clone)]
pub struct Restored {
    /// The archive restored.
    pub archive: PathBuf,
    /// The data directory restored into.
    pub data_dir: PathBuf,
    /// The archive's content.
    pub summary: Summary,
    /// Where the data directory's previous contents were moved (`--force`), if anywhere.
    pub moved_aside: Option<PathBuf>,
}

impl std::fmt::Display for Restored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "restored {} from {}: {}",
            self.data_dir.display(),
            self.archive.display(),
            self.summary
        )?;
        if let Some(aside) = &self.moved_aside {
            write!(
                f,
                "\nthe previous contents were moved to {}; delete them once the node runs well",
                aside.display()
            )?;
        }
        Ok(())
    }
}

/// A restore failed; the data directory is as it was.
#[derive(Debug, Error)]
pub enum RestoreError<E: std::error::Error + 'static> {
    /// The archive is unusable; nothing was written.
    #[error("{path}: {source}; nothing was written")]
    Archive {
        /// The archive.
        path: PathBuf,
        /// What is wrong with it.
        source: ArchiveError,
    },
    /// The data directory holds something and `--force` was not given.
    #[error(
        "data directory {0} is not empty; restore into an empty or absent directory, or pass \
         --force to replace it (its contents are moved aside, not deleted)"
    )]
    NotEmpty(PathBuf),
    /// A running node holds the data directory.
    #[error("data directory {0} is in use by a running node; stop it before restoring")]
    InUse(PathBuf),
    /// Preparing or swapping directories failed.
    #[error("cannot restore into {path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The node's own code could not write or check the restored store.
    #[error("cannot rebuild the store from the archive: {0}; the data directory was not touched")]
    Store(#[source] E),
}

/// How a node restores its store from an archive.
pub trait Restore {
    /// The node's error.
    type Error: std::error::Error + From<ArchiveError> + 'static;

    /// The kind of archive this node takes.
    fn kind(&self) -> &'static str;

    /// Whether a running node holds `dir` (checked before `--force` replaces it).
    fn in_use(&self, dir: &Path) -> Result<bool, Self::Error>;

    /// Writes the store into the empty directory `dir` from the archive's entries (read them
    /// all), makes it durable and checks it against the header.
    fn write(&self, dir: &Path, archive: &mut ArchiveReader<Source>) -> Result<(), Self::Error>;
}

/// What a restore reads the archive through: buffered, counted on the progress bar.
pub type Source = BufReader<Reading<File>>;

/// Opens the archive at `path` for reading with a progress bar labelled `what`.
fn open_source(path: &Path, what: &str) -> Result<Source, ArchiveError> {
    let file = File::open(path)?;
    let total = file.metadata()?.len();
    Ok(BufReader::new(Reading::new(
        file,
        progress::bytes(what, Some(total)),
    )))
}

/// [`crate::archive::verify_file`] with progress: a large archive takes a while to read.
pub fn verify(path: &Path, kind: &str) -> Result<Summary, ArchiveError> {
    ArchiveReader::open_kind(open_source(path, "checking")?, kind)?.finish()
}

/// Restores `archive` into `data_dir`: verifies the whole archive first, then writes the store
/// into a fresh owner-only directory beside `data_dir` and renames it into place, so that
/// `data_dir` is only ever absent, as it was, or completely restored.
pub fn restore<N: Restore>(
    node: &N,
    archive: &Path,
    data_dir: &Path,
    force: bool,
) -> Result<Restored, RestoreError<N::Error>> {
    let bad_archive = |source| RestoreError::Archive {
        path: archive.to_owned(),
        source,
    };
    let io_error = |path: &Path| {
        let path = path.to_owned();
        move |source| RestoreError::Io { path, source }
    };
    verify(archive, node.kind()).map_err(bad_archive)?;

    let occupied = match std::fs::read_dir(data_dir) {
        Ok(mut entries) => entries.next().is_some(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => false,
        Err(e) => return Err(io_error(data_dir)(e)),
    };
    if occupied {
        if !force {
            return Err(RestoreError::NotEmpty(data_dir.to_owned()));
        }
        if node.in_use(data_dir).map_err(RestoreError::Store)? {
            return Err(RestoreError::InUse(data_dir.to_owned()));
        }
    }

    let name = data_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| {
            io_error(data_dir)(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the data directory must name a directory",
            ))
        })?;
    let parent = match data_dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(io_error(&parent))?;
    // Beside the data directory, so that the final rename stays on one file system; removed
    // on any failure below.
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{name}.restoring-"))
        .tempdir_in(&parent)
        .map_err(io_error(&parent))?;
    crate::datadir::prepare(staging.path()).map_err(|e| RestoreError::Io {
        path: e.path,
        source: e.source,
    })?;

    let source = open_source(archive, "restoring").map_err(bad_archive)?;
    let mut reader = ArchiveReader::open_kind(source, node.kind()).map_err(bad_archive)?;
    node.write(staging.path(), &mut reader)
        .map_err(RestoreError::Store)?;
    // Read to the end again: the archive must not have changed since it was verified.
    let summary = reader.finish().map_err(bad_archive)?;
    sync_dir(staging.path()).map_err(io_error(staging.path()))?;

    let moved_aside = if occupied {
        let aside = parent.join(format!("{name}.replaced-{}", crate::clock::now_ms()));
        std::fs::rename(data_dir, &aside).map_err(io_error(data_dir))?;
        Some(aside)
    } else {
        match std::fs::remove_dir(data_dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error(data_dir)(e)),
        }
        None
    };
    let staged = staging.keep();
    if let Err(e) = std::fs::rename(&staged, data_dir) {
        // Put things back as they were.
        if let Some(aside) = &moved_aside {
            let _ = std::fs::rename(aside, data_dir);
        }
        let _ = std::fs::remove_dir_all(&staged);
        return Err(io_error(data_dir)(e));
    }
    sync_dir(&parent).map_err(io_error(&parent))?;
    Ok(Restored {
        archive: archive.to_owned(),
        data_dir: data_dir.to_owned(),
        summary,
        moved_aside,
    })
}

/// Whether another process holds an exclusive `flock` on `file`, the way sled and tantivy
/// lock their directories; a missing file is not locked.
pub fn locked(file: &Path) -> io::Result<bool> {
    let handle = match File::open(file) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    match handle.try_lock() {
        // Released when `handle` is dropped.
        Ok(()) => Ok(false),
        Err(std::fs::TryLockError::WouldBlock) => Ok(true),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

/// Makes a directory's entries (new files, renames) durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Writes `content` to the new file `dir/name` and syncs it.
pub fn write_file(dir: &Path, name: &str, content: &[u8]) -> io::Result<()> {
    let mut file = File::create_new(dir.join(name))?;
    file.write_all(content)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::{Entry, Point};

    /// A node whose store is a directory of files.
    struct Files;

    #[derive(Debug, Error)]
    enum FilesError {
        #[error(transparent)]
        Archive(#[from] ArchiveError),
        #[error(transparent)]
        Io(#[from] io::Error),
    }

    impl Restore for Files {
        type Error = FilesError;
        fn kind(&self) -> &'static str {
            "files"
        }
        fn in_use(&self, dir: &Path) -> Result<bool, FilesError> {
            Ok(dir.join("LOCK").exists())
        }
        fn write(&self, dir: &Path, archive: &mut ArchiveReader<Source>) -> Result<(), FilesError> {
            while let Some(entry) = archive.next_entry()? {
                if let Entry::Chunk { path, bytes, .. } = entry {
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(dir.join(path))?
                        .write_all(&bytes)?;
                }
            }
            Ok(())
        }
    }

    fn archive_file(dir: &Path, kind: &str) -> PathBuf {
        let header = Header {
            kind: kind.into(),
            point: Point {
                name: "n".into(),
                value: 7,
            },
            created_ms: 0,
            producer: "test".into(),
        };
        let staged = stage(dir, header, |w| {
            w.file("a.txt", &b"hello"[..])?;
            Ok::<_, ArchiveError>(())
        })
        .unwrap();
        let path = dir.join(format!("{kind}.backup"));
        let mut out = File::create(&path).unwrap();
        io::copy(&mut &staged.file, &mut out).unwrap();
        path
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn restores_into_absent_empty_and_forced_directories() {
        let tmp = tempfile::tempdir().unwrap();
        let backup = archive_file(tmp.path(), "files");
        let data = tmp.path().join("data");

        let done = restore(&Files, &backup, &data, false).unwrap();
        assert_eq!(done.summary.header.point.value, 7);
        assert_eq!(std::fs::read(data.join("a.txt")).unwrap(), b"hello");

        assert!(matches!(
            restore(&Files, &backup, &data, false),
            Err(RestoreError::NotEmpty(_))
        ));
        std::fs::write(data.join("LOCK"), b"").unwrap();
        assert!(matches!(
            restore(&Files, &backup, &data, true),
            Err(RestoreError::InUse(_))
        ));
        std::fs::remove_file(data.join("LOCK")).unwrap();
        std::fs::write(data.join("old"), b"x").unwrap();
        let done = restore(&Files, &backup, &data, true).unwrap();
        let aside = done.moved_aside.unwrap();
        assert_eq!(names(&aside), ["a.txt", "old"]);
        assert_eq!(names(&data), ["a.txt"]);

        let empty = tmp.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        restore(&Files, &backup, &empty, false).unwrap();
        assert_eq!(names(&empty), ["a.txt"]);
    }

    #[test]
    fn sees_a_held_lock() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("lock");
        assert!(!locked(&path).unwrap());
        let held = File::create(&path).unwrap();
        assert!(!locked(&path).unwrap());
        held.lock().unwrap();
        assert!(locked(&path).unwrap());
        drop(held);
        assert!(!locked(&path).unwrap());
    }

    #[test]
    fn a_bad_archive_writes_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let backup = archive_file(tmp.path(), "other");
        let data = tmp.path().join("data");
        let before = names(tmp.path());
        assert!(matches!(
            restore(&Files, &backup, &data, false),
            Err(RestoreError::Archive {
                source: ArchiveError::WrongKind { .. },
                ..
            })
        ));
        let mut bytes = std::fs::read(&backup).unwrap();
        bytes.truncate(bytes.len() - 5);
        std::fs::write(&backup, &bytes).unwrap();
        assert!(restore(&Files, &backup, &data, false).is_err());
        assert_eq!(
            names(tmp.path()),
            before,
            "no data dir, no staging left behind"
        );
    }
}
