//! Where the component's variables come from: `--var KEY=VALUE` for plain settings, and for
//! secrets (every `*_token`) a file (`--var-file`, `KEY=VALUE` lines) or the environment
//! (`EDGE_VAR_<KEY>`, e.g. `EDGE_VAR_CATALOG_TOKEN`), never the command line, which every
//! local user can read.

use std::path::{Path, PathBuf};

use thiserror::Error;

/// Prefix of the environment variables that set component variables.
pub const ENV_PREFIX: &str = "EDGE_VAR_";

/// A variable source that cannot be used.
#[derive(Debug, Error)]
pub enum SourceError {
    /// A secret on the command line.
    #[error(
        "--var {0}=… is refused: a command line is readable by every local user; put it in \
         --var-file or in the environment variable {ENV_PREFIX}{upper}",
        upper = .0.to_uppercase()
    )]
    SecretOnCommandLine(String),
    /// The file cannot be read.
    #[error("cannot read --var-file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Whether a variable holds a secret.
pub fn is_secret(key: &str) -> bool {
    key.ends_with("_token")
}

/// The `KEY=VALUE` pairs from every source, later sources winning: the file, then the
/// environment, then the command line (which may not carry secrets).
pub fn collect(
    argv: &[String],
    file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Vec<String>, SourceError> {
    let mut pairs = Vec::new();
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|source| SourceError::Read {
            path: path.to_owned(),
            source,
        })?;
        pairs.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned),
        );
    }
    for (name, value) in env {
        if let Some(key) = name.strip_prefix(ENV_PREFIX) {
            pairs.push(format!("{}={value}", key.to_lowercase()));
        }
    }
    for pair in argv {
        let key = pair.split_once('=').map_or(pair.as_str(), |(k, _)| k);
        if is_secret(key) {
            return Err(SourceError::SecretOnCommandLine(key.to_owned()));
        }
        pairs.push(pair.clone());
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_come_from_the_file_or_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("vars");
        std::fs::write(&file, "# tokens\ncatalog_token=from-file-0123456789\n\n").unwrap();
        let env = vec![
            (
                "EDGE_VAR_ORDERS_TOKEN".to_owned(),
                "from-env-0123456789".to_owned(),
            ),
            ("PATH".to_owned(), "/bin".to_owned()),
        ];
        let pairs = collect(&["catalog_url=http://127.0.0.1:1".into()], Some(&file), env).unwrap();
        assert_eq!(
            pairs,
            vec![
                "catalog_token=from-file-0123456789",
                "orders_token=from-env-0123456789",
                "catalog_url=http://127.0.0.1:1",
            ]
        );
    }

    #[test]
    fn a_secret_on_the_command_line_is_refused() {
        let err = collect(&["search_token=x".into()], None, Vec::new()).unwrap_err();
        assert!(err.to_string().contains("EDGE_VAR_SEARCH_TOKEN"), "{err}");
    }
}
