//! Running `<node> backup` and `<node> restore` as an operator would, and checking what they
//! leave on disk.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::{CatalogNode, binary};

/// How long a backup or restore command may take in tests.
pub const COMMAND_WITHIN: Duration = Duration::from_secs(120);

/// What a finished command printed.
#[derive(Debug, Clone)]
pub struct Run {
    /// Whether it exited 0.
    pub ok: bool,
    /// Its exit code; `None` when a signal ended it (an abort, say).
    pub code: Option<i32>,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

impl Run {
    /// Panics with the output unless the command succeeded.
    pub fn expect_ok(&self, what: &str) -> &Self {
        assert!(self.ok, "{what} failed:\n{}\n{}", self.stdout, self.stderr);
        self
    }

    /// Panics unless the command failed saying `needle` on standard error.
    pub fn expect_refusal(&self, what: &str, needle: &str) -> &Self {
        assert!(!self.ok, "{what} should have failed:\n{}", self.stdout);
        assert!(
            self.stderr.contains(needle),
            "{what}: expected {needle:?} in:\n{}",
            self.stderr
        );
        self
    }

    /// The value of the point a backup or restore printed, e.g. `seq` in `… at seq 42, …`.
    pub fn point(&self, name: &str) -> u64 {
        let marker = format!(" at {name} ");
        let rest = self
            .stdout
            .split_once(&marker)
            .map(|(_, r)| r)
            .unwrap_or_else(|| panic!("no {marker:?} in {:?}", self.stdout));
        rest.split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no number after {marker:?} in {:?}", self.stdout))
    }
}

async fn run(bin: &str, args: &[&std::ffi::OsStr]) -> Run {
    let mut cmd = tokio::process::Command::new(binary(bin));
    cmd.args(args)
        .env_remove("RUST_BACKTRACE")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    // The flags' environment fallbacks must not leak in from whoever runs the tests.
    for (key, _) in std::env::vars() {
        if key.contains("_BACKUP_") || key.contains("_RESTORE_") {
            cmd.env_remove(key);
        }
    }
    let out = tokio::time::timeout(COMMAND_WITHIN, cmd.output())
        .await
        .unwrap_or_else(|_| panic!("{bin} {args:?} did not finish within {COMMAND_WITHIN:?}"))
        .expect("run the command");
    Run {
        ok: out.status.success(),
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `<bin> backup --url URL --token-file TOKEN_FILE --out FILE`, the token written to a
/// temporary file first (tokens never go on a command line).
pub async fn backup(bin: &str, url: &str, token: &str, out: &Path) -> Run {
    let token_file = tempfile::NamedTempFile::new().expect("a token file");
    std::fs::write(token_file.path(), token).expect("write the token file");
    run(
        bin,
        &[
            "backup".as_ref(),
            "--url".as_ref(),
            url.as_ref(),
            "--token-file".as_ref(),
            token_file.path().as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
        ],
    )
    .await
}

/// Runs `<bin> restore --from FILE --data-dir DIR`, with `--force` when asked.
pub async fn restore(bin: &str, from: &Path, data_dir: &Path, force: bool) -> Run {
    let mut args = vec![
        "restore".as_ref(),
        "--from".as_ref(),
        from.as_os_str(),
        "--data-dir".as_ref(),
        data_dir.as_os_str(),
    ];
    if force {
        args.push("--force".as_ref());
    }
    run(bin, &args).await
}

/// The names in `dir`, sorted (empty when it does not exist).
pub fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| {
                e.expect("dir entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
}

/// The demo catalogue (`demo/catalog.jsonl`).
pub fn demo_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../demo/catalog.jsonl")
}

/// A catalog started on a data directory into which the demo catalogue was imported, and the
/// temporary directory that holds that data directory.
pub async fn demo_catalog() -> (CatalogNode, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let out = std::process::Command::new(binary("catalog-node"))
        .arg("--data-dir")
        .arg(&data)
        .arg("import")
        .arg(demo_file())
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("run import");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        CatalogNode::start_with(binary("catalog-node"), Some(data)).await,
        dir,
    )
}
