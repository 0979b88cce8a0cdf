//! What every node's backup and restore share around its own engine code: serving a staged
//! archive from `GET /v1/admin/backup`, fetching one into a file (`<node> backup`), and
//! restoring one into a data directory (`<node> restore`) without ever leaving a half-written
//! directory behind.
//!
//! A node stages its archive in an unlinked temporary file inside its own data directory (so
//! the consistent copy is taken at local disk speed and whatever holds the store still, a
//! lock or a read transaction, is let go before the network is involved), then streams it.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use thiserror::Error;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::archive::{ArchiveError, ArchiveReader, ArchiveWriter, Header, Summary};
use crate::error::ApiError;
use crate::progress::{self, Reading};

/// The route every node serves its backup on.
pub const ROUTE: &str = "/v1/admin/backup";

/// How long a node may take to stage a backup before it starts streaming it: copying a large
/// store takes far longer than an ordinary request may.
pub const STAGE_LIMIT: std::time::Duration = std::time::Duration::from_secs(30 * 60);
/// Bytes read from the staged archive per body chunk.
const BODY_CHUNK: usize = 256 * 1024;

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

/// Lets one backup run at a time per node: each takes a full copy's worth of disk space.
#[derive(Debug, Clone)]
pub struct Slot(Arc<Semaphore>);

impl Default for Slot {
    fn default() -> Self {
        Self(Arc::new(Semaphore::new(1)))
    }
}

impl Slot {
    /// Takes the slot, or answers 409 `backup_in_progress` while another backup runs.
    pub fn take(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        self.0.clone().try_acquire_owned().map_err(|_| {
            ApiError::conflict(
                "backup_in_progress",
                "another backup of this node is running; retry when it has finished",
            )
        })
    }
}

/// The response streaming `staged`; `permit` is held until the last byte is sent.
pub fn respond(staged: Staged, permit: OwnedSemaphorePermit) -> Response {
    let Staged { file, summary } = staged;
    let header = &summary.header;
    let filename = format!(
        "{}-{}-{}.backup",
        header.kind, header.point.name, header.point.value
    );
    let stream = futures::stream::try_unfold((file, permit), |(mut file, permit)| async move {
        let (file, chunk) = tokio::task::spawn_blocking(move || {
            let mut buf = vec![0u8; BODY_CHUNK];
            let n = file.read(&mut buf)?;
            buf.truncate(n);
            Ok::<_, io::Error>((file, buf))
        })
        .await
        .map_err(io::Error::other)??;
        let next = (!chunk.is_empty()).then_some((chunk, (file, permit)));
        Ok::<_, io::Error>(next)
    });
    let mut response = (StatusCode::OK, Body::from_stream(stream)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(summary.bytes));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("{}={}", header.point.name, header.point.value)) {
        headers.insert("x-backup-point", v);
    }
    response
}

/// `<node> backup` failed; no output file was written.
#[derive(Debug, Error)]
pub enum FetchError {
    /// The node could not be reached or the transfer broke off.
    #[error("cannot fetch the backup from {url}: {source}")]
    Http {
        /// The URL asked.
        url: String,
        /// The client's error.
        source: reqwest::Error,
    },
    /// The node refused or failed.
    #[error("{url} answered {status}: {message}")]
    Refused {
        /// The URL asked.
        url: String,
        /// The status.
        status: u16,
        /// The error message of the body, or the body.
        message: String,
    },
    /// The output file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// What arrived is not a complete archive of this kind of node.
    #[error("the node sent an unusable archive: {0}")]
    Archive(#[from] ArchiveError),
}

/// Fetches `GET {base_url}/v1/admin/backup` into `out`: streamed into a temporary file next
/// to it, synced, verified as a complete `kind` archive, then renamed into place. On any
/// failure nothing is left at `out`.
pub async fn fetch(
    base_url: &str,
    token: &str,
    out: &Path,
    kind: &str,
) -> Result<Summary, FetchError> {
    let url = format!("{}{ROUTE}", base_url.trim_end_matches('/'));
    let http_error = |source| FetchError::Http {
        url: url.clone(),
        source,
    };
    // No overall timeout: a large store takes as long as it takes. A read stalled for
    // minutes means the node is gone.
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(Duration::from_secs(300))
        .build()
        .map_err(http_error)?;
    let write_error = |source| FetchError::Write {
        path: out.to_owned(),
        source,
    };
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    // Before asking the node, so that an unwritable destination costs it nothing.
    let mut temp = tempfile::Builder::new()
        .prefix(".backup-")
        .tempfile_in(&dir)
        .map_err(write_error)?;
    let mut response = client
        .get(&url)
        .bearer_auth(token)
        .send()
        .await
        .map_err(http_error)?;
    let status = response.status();
    if !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        let message = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
            .unwrap_or(body);
        return Err(FetchError::Refused {
            url,
            status: status.as_u16(),
            message,
        });
    }
    let bar = progress::bytes("fetching", response.content_length());
    while let Some(chunk) = response.chunk().await.map_err(http_error)? {
        temp.write_all(&chunk).map_err(write_error)?;
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    temp.as_file().sync_all().map_err(write_error)?;
    let summary = verify(temp.path(), kind)?;
    temp.persist(out).map_err(|e| write_error(e.error))?;
    sync_dir(&dir).map_err(write_error)?;
    Ok(summary)
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
fn verify(path: &Path, kind: &str) -> Result<Summary, ArchiveError> {
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
