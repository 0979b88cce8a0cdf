//! `catalog-node import FILE.jsonl`: bulk-loads products straight into the store, for demo
//! data and benchmarks. The node must not be running (the store is locked while it is).

use std::path::Path;

/// The caller recorded for the products an offline import writes (audit trail, feed).
pub const IMPORT_CALLER: &str = "import";

use contracts::catalog::{ProductInput, parse_catalogue};
use indicatif::{ProgressBar, ProgressStyle};
use storage::clock::now_ms;
use thiserror::Error;

use crate::store::{Store, StoreError, WriteError};

/// Products written per transaction.
const CHUNK: usize = 500;

/// The import failed; if it failed before writing, nothing was written.
#[derive(Debug, Error)]
pub enum ImportError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A line is not a valid product; nothing was imported.
    #[error("line {line}: {message} (nothing was imported)")]
    Invalid {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The data directory is unusable.
    #[error(transparent)]
    DataDir(#[from] storage::datadir::DataDirError),
    /// The store cannot be opened.
    #[error(transparent)]
    Open(#[from] StoreError),
    /// A write failed part-way; earlier chunks are stored.
    #[error("write failed after {imported} products: {source}")]
    Write {
        /// Products stored before the failure.
        imported: usize,
        /// The failure.
        source: WriteError,
    },
}

/// Summary of a finished import.
#[derive(Debug, Clone, Copy)]
pub struct ImportReport {
    /// Products written.
    pub products: usize,
    /// Feed seq after the import.
    pub head_seq: u64,
}

/// `catalog-node import FILE`: [`run`] into `data_dir` (created if absent), then says what was
/// imported.
pub fn run_command(data_dir: &Path, file: &Path) -> Result<(), ImportError> {
    let dir = storage::datadir::prepare(data_dir)?;
    let report = run(&dir, file)?;
    println!(
        "imported {} products from {} into {} (feed head seq {})",
        report.products,
        file.display(),
        dir.display(),
        report.head_seq
    );
    Ok(())
}

/// Validates every line of `file`, then writes them all into the store in `data_dir`.
pub fn run(data_dir: &Path, file: &Path) -> Result<ImportReport, ImportError> {
    let products = read(file)?;
    let store = Store::open(data_dir)?;
    // A replica's products are its primary's: an import there would invent changes the
    // primary never made.
    store.claim(&crate::store::Role::Primary)?;
    let bar = ProgressBar::new(products.len() as u64).with_style(
        ProgressStyle::with_template(
            "{spinner} importing [{bar:40}] {pos}/{len} products ({per_sec})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let mut imported = 0;
    let mut head_seq = store.head_seq()?;
    for chunk in products.chunks(CHUNK) {
        head_seq = store
            .import(chunk, now_ms(), IMPORT_CALLER)
            .map_err(|source| ImportError::Write { imported, source })?;
        imported += chunk.len();
        bar.inc(chunk.len() as u64);
    }
    store.flush()?;
    bar.finish_and_clear();
    Ok(ImportReport {
        products: imported,
        head_seq,
    })
}

fn read(file: &Path) -> Result<Vec<(String, ProductInput)>, ImportError> {
    let text = std::fs::read_to_string(file).map_err(|source| ImportError::Read {
        path: file.display().to_string(),
        source,
    })?;
    parse_catalogue(&text).map_err(|e| ImportError::Invalid {
        line: e.line,
        message: e.message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_line_imports_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.jsonl");
        std::fs::write(
            &file,
            concat!(
                r#"{"id":"a","name":"A","category":"kitchen","price_minor":1,"currency":"EUR","stock":1}"#,
                "\n",
                r#"{"id":"b","name":"B","category":"kitchen","price_minor":1,"currency":"eur","stock":1}"#,
                "\n"
            ),
        )
        .unwrap();
        let data = dir.path().join("data");
        let err = run(&data, &file).unwrap_err();
        assert!(matches!(err, ImportError::Invalid { line: 2, .. }), "{err}");
        assert!(!data.exists());
    }

    #[test]
    fn imports_every_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.jsonl");
        let lines: String = (0..1200)
            .map(|i| {
                format!(
                    "{{\"id\":\"p{i}\",\"name\":\"P {i}\",\"category\":\"toys\",\"price_minor\":100,\"currency\":\"EUR\",\"stock\":3}}\n"
                )
            })
            .collect();
        std::fs::write(&file, lines).unwrap();
        let report = run(&dir.path().join("data"), &file).unwrap();
        assert_eq!((report.products, report.head_seq), (1200, 1200));
        let store = crate::store::reopen(&dir.path().join("data"));
        assert_eq!(store.product_count(), 1200);
    }

    #[test]
    fn a_replicas_store_is_not_imported_into() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.jsonl");
        std::fs::write(
            &file,
            r#"{"id":"a","name":"A","category":"kitchen","price_minor":1,"currency":"EUR","stock":1}"#,
        )
        .unwrap();
        let data = dir.path().join("data");
        let replica = crate::store::Store::open(&data).unwrap();
        replica
            .claim(&crate::store::Role::Replica("http://primary".into()))
            .unwrap();
        drop(replica);
        // sled lets go of the lock a moment after the handle is dropped.
        let mut result = run(&data, &file);
        for _ in 0..100 {
            if !matches!(
                result,
                Err(ImportError::Open(crate::store::StoreError::Locked { .. }))
            ) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
            result = run(&data, &file);
        }
        let err = result.unwrap_err();
        assert!(err.to_string().contains("read replica"), "{err}");
        assert_eq!(crate::store::reopen(&data).product_count(), 0);
    }
}
