//! The node's data directory: created owner-only, because nobody else may read the store.

use std::path::{Path, PathBuf};

use thiserror::Error;

/// The data directory could not be prepared.
#[derive(Debug, Error)]
#[error("cannot prepare data directory {path}: {source}")]
pub struct DataDirError {
    /// The directory.
    pub path: PathBuf,
    /// The I/O error.
    pub source: std::io::Error,
}

/// Creates `path` if needed and restricts it to the owner (0700 on Unix).
pub fn prepare(path: &Path) -> Result<PathBuf, DataDirError> {
    let wrap = |source| DataDirError {
        path: path.to_owned(),
        source,
    };
    std::fs::create_dir_all(path).map_err(wrap)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).map_err(wrap)?;
    }
    path.canonicalize().map_err(wrap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(unix)]
    fn creates_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = prepare(&tmp.path().join("a/b")).unwrap();
        let mode = std::fs::metadata(dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}
