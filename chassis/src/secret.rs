//! Secrets a process needs at start (the tokens it presents to other services): read from a
//! file or the environment, never from the command line, which every local user can read in
//! `/proc/PID/cmdline` and `ps`.

use std::path::{Path, PathBuf};

use thiserror::Error;

/// A secret that cannot be had.
#[derive(Debug, Error)]
pub enum SecretError {
    /// The file cannot be read.
    #[error("cannot read {what} from {path}: {source}")]
    Read {
        /// What the secret is.
        what: String,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file or variable is empty.
    #[error("{what} in {origin} is empty")]
    Empty {
        /// What the secret is.
        what: String,
        /// Where it was read.
        origin: String,
    },
    /// The secret was given on the command line.
    #[error(
        "{flag} is refused: a command line is readable by every local user; put {what} in a \
         file named by {flag}-file or in the environment variable {env}"
    )]
    OnCommandLine {
        /// The flag used.
        flag: String,
        /// What the secret is.
        what: String,
        /// The variable to use instead.
        env: String,
    },
    /// No source gives a secret the process cannot run without.
    #[error("{what} is required ({flag}-file or {env}): {why}")]
    Missing {
        /// What the secret is.
        what: String,
        /// The flag whose `-file` form names its file.
        flag: String,
        /// The variable that may carry it.
        env: String,
        /// What the process does with it.
        why: String,
    },
}

/// Where a secret may come from, in order: `file` (a flag naming a file), then the
/// environment variable `env`. A value given on the command line as `argv_value` (kept only to
/// refuse it with a clear message) is an error.
#[derive(Debug, Clone, Copy)]
pub struct SecretSource<'a> {
    /// What the secret is, for messages ("the catalog token").
    pub what: &'a str,
    /// The flag that would have carried it on the command line ("--catalog-token").
    pub flag: &'a str,
    /// The environment variable that may carry it.
    pub env: &'a str,
}

impl SecretSource<'_> {
    /// The secret, if any source gives one.
    pub fn read(
        &self,
        file: Option<&Path>,
        argv_value: Option<&str>,
    ) -> Result<Option<String>, SecretError> {
        if argv_value.is_some() {
            return Err(SecretError::OnCommandLine {
                flag: self.flag.to_owned(),
                what: self.what.to_owned(),
                env: self.env.to_owned(),
            });
        }
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| SecretError::Read {
                what: self.what.to_owned(),
                path: path.to_owned(),
                source,
            })?;
            return non_empty(text, self.what, &path.display().to_string()).map(Some);
        }
        match std::env::var(self.env) {
            Ok(text) => non_empty(text, self.what, self.env).map(Some),
            Err(_) => Ok(None),
        }
    }

    /// The secret, which the process needs in order to do `why` ("reads the catalog's feed
    /// with it"): its absence is an error that says where to put it.
    pub fn require(
        &self,
        file: Option<&Path>,
        argv_value: Option<&str>,
        why: &str,
    ) -> Result<String, SecretError> {
        self.read(file, argv_value)?
            .ok_or_else(|| SecretError::Missing {
                what: self.what.to_owned(),
                flag: self.flag.to_owned(),
                env: self.env.to_owned(),
                why: why.to_owned(),
            })
    }
}

fn non_empty(text: String, what: &str, origin: &str) -> Result<String, SecretError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(SecretError::Empty {
            what: what.to_owned(),
            origin: origin.to_owned(),
        });
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: SecretSource<'static> = SecretSource {
        what: "the test token",
        flag: "--test-token",
        env: "CHASSIS_SECRET_TEST_TOKEN_UNSET",
    };

    #[test]
    fn a_file_is_read_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "a-long-secret-token-0123\n").unwrap();
        assert_eq!(
            SOURCE.read(Some(&path), None).unwrap().as_deref(),
            Some("a-long-secret-token-0123")
        );
        std::fs::write(&path, "\n").unwrap();
        assert!(matches!(
            SOURCE.read(Some(&path), None),
            Err(SecretError::Empty { .. })
        ));
        assert!(matches!(
            SOURCE.read(Some(&dir.path().join("missing")), None),
            Err(SecretError::Read { .. })
        ));
    }

    #[test]
    fn the_command_line_is_refused_and_nothing_is_none() {
        let err = SOURCE.read(None, Some("x")).unwrap_err().to_string();
        assert!(err.contains("--test-token-file"), "{err}");
        assert!(err.contains(SOURCE.env), "{err}");
        assert!(SOURCE.read(None, None).unwrap().is_none());
    }

    #[test]
    fn a_required_secret_that_is_nowhere_says_where_it_goes() {
        let err = SOURCE
            .require(None, None, "the tests need it")
            .unwrap_err()
            .to_string();
        assert!(err.contains("--test-token-file"), "{err}");
        assert!(err.contains(SOURCE.env), "{err}");
        assert!(err.contains("the tests need it"), "{err}");
    }
}
