//! Backups over HTTP: serving a staged archive (see `storage::backup`) from
//! `GET /v1/admin/backup`, one backup at a time, and fetching one into a file
//! (`<node> backup`).

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use thiserror::Error;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use storage::archive::{ArchiveError, Summary};
use storage::backup::{Staged, sync_dir, verify};
use storage::progress;

use contracts::Code;

use crate::error::ApiError;

/// The route every node serves its backup on.
pub const ROUTE: &str = "/v1/admin/backup";

/// How long a node may take to stage a backup before it starts streaming it: copying a large
/// store takes far longer than an ordinary request may.
pub const STAGE_LIMIT: std::time::Duration = std::time::Duration::from_secs(30 * 60);
/// Bytes read from the staged archive per body chunk.
const BODY_CHUNK: usize = 256 * 1024;

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
            ApiError::new(
                Code::BackupInProgress,
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
