//! Starting the system's processes, watching them, and stopping them cleanly.

use std::fs;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};
use thiserror::Error;
use tokio::process::{Child, Command};

/// How many lines of a failed process's log a message quotes.
const LOG_TAIL_LINES: usize = 15;

/// How long a process may take to stop after SIGTERM before it is killed.
const STOP_WITHIN: Duration = Duration::from_secs(15);

/// Why a process could not be started or kept running.
#[derive(Debug, Error)]
pub enum ProcessError {
    /// Something else listens on the port the process needs.
    #[error(
        "port {port} is already in use, so {name} cannot start there (stop whatever listens on \
         127.0.0.1:{port}, or pick other ports with --base-port)"
    )]
    PortInUse {
        /// The process.
        name: &'static str,
        /// The port.
        port: u16,
    },
    /// The binary is missing.
    #[error("{name}: {path} does not exist (build it, or drop --no-build)")]
    MissingBinary {
        /// The process.
        name: &'static str,
        /// Where it was looked for.
        path: PathBuf,
    },
    /// The process could not be spawned.
    #[error("cannot start {name}: {source}")]
    Spawn {
        /// The process.
        name: &'static str,
        /// Why.
        source: std::io::Error,
    },
    /// The process exited.
    #[error("{name} exited ({status}); the end of its log ({log}):\n{tail}")]
    Exited {
        /// The process.
        name: &'static str,
        /// How it ended.
        status: ExitStatus,
        /// Its log file.
        log: PathBuf,
        /// The last lines of that log.
        tail: String,
    },
    /// The process kept running but never became ready.
    #[error("{name} was not ready within {}s; see its log: {log}", .within.as_secs())]
    NotReady {
        /// The process.
        name: &'static str,
        /// How long it was given.
        within: Duration,
        /// Its log file.
        log: PathBuf,
    },
    /// The process's log could not be opened.
    #[error("cannot open {path}: {source}")]
    Log {
        /// The log file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// glibc malloc settings every process gets unless the environment sets them: fixed
/// thresholds return large freed blocks (search-node's per-commit indexing buffers) to the
/// system, and two arenas keep a large blocking pool from multiplying what is retained.
/// Measured in docs/reliability.md: with glibc's defaults search-node's resident memory
/// triples under load without a leak. Other C libraries ignore these variables.
const GLIBC_MALLOC: [(&str, &str); 3] = [
    ("MALLOC_MMAP_THRESHOLD_", "131072"),
    ("MALLOC_TRIM_THRESHOLD_", "131072"),
    ("MALLOC_ARENA_MAX", "2"),
];

/// Fails with [`ProcessError::PortInUse`] if `port` on loopback cannot be bound now.
pub fn ensure_port_free(name: &'static str, port: u16) -> Result<(), ProcessError> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TcpListener::bind(addr)
        .map(drop)
        .map_err(|_| ProcessError::PortInUse { name, port })
}

/// A started process whose output goes to its log file.
#[derive(Debug)]
pub struct Running {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Running {
    /// Starts `bin args…`, appending its stdout and stderr to `log`.
    pub fn spawn(
        name: &'static str,
        bin: &Path,
        args: &[String],
        log: &Path,
    ) -> Result<Self, ProcessError> {
        if !bin.is_file() {
            return Err(ProcessError::MissingBinary {
                name,
                path: bin.to_owned(),
            });
        }
        let open = || {
            fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .map_err(|source| ProcessError::Log {
                    path: log.to_owned(),
                    source,
                })
        };
        let mut command = Command::new(bin);
        for (key, value) in GLIBC_MALLOC {
            // The operator's own setting wins.
            if std::env::var_os(key).is_none() {
                command.env(key, value);
            }
        }
        let child = command
            .args(args)
            .stdin(Stdio::null())
            .stdout(open()?)
            .stderr(open()?)
            // A safety net: if `up` itself fails, no child outlives it.
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| ProcessError::Spawn { name, source })?;
        Ok(Self {
            name,
            child,
            log: log.to_owned(),
        })
    }

    /// The process's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Its operating-system process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// [`ProcessError::Exited`] if the process has exited.
    pub fn check_alive(&mut self) -> Result<(), ProcessError> {
        match self.child.try_wait() {
            Ok(Some(status)) => Err(self.exited(status)),
            // An error asking is not evidence of death; the next check will tell.
            Ok(None) | Err(_) => Ok(()),
        }
    }

    /// Polls `url` until it answers 2xx, failing early if the process exits.
    pub async fn wait_ready(
        &mut self,
        http: &reqwest::Client,
        url: &str,
        within: Duration,
    ) -> Result<(), ProcessError> {
        let deadline = Instant::now() + within;
        loop {
            self.check_alive()?;
            let answered = http
                .get(url)
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if answered {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(ProcessError::NotReady {
                    name: self.name,
                    within,
                    log: self.log.clone(),
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Asks the process to stop (SIGTERM), kills it if it has not within [`STOP_WITHIN`];
    /// returns how it ended.
    pub async fn stop(mut self) -> Option<ExitStatus> {
        let pid = self.child.id().and_then(|id| i32::try_from(id).ok());
        if let Some(pid) = pid.and_then(Pid::from_raw) {
            // It may have exited already (Ctrl-C reaches the whole process group).
            let _ = rustix::process::kill_process(pid, Signal::TERM);
        }
        match tokio::time::timeout(STOP_WITHIN, self.child.wait()).await {
            Ok(status) => status.ok(),
            Err(_) => {
                let _ = self.child.start_kill();
                self.child.wait().await.ok()
            }
        }
    }

    fn exited(&self, status: ExitStatus) -> ProcessError {
        ProcessError::Exited {
            name: self.name,
            status,
            log: self.log.clone(),
            tail: tail(&self.log, LOG_TAIL_LINES),
        }
    }
}

/// The last `lines` lines of the file at `path` (empty if unreadable).
pub fn tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bound_port_is_reported_with_the_name_of_who_needs_it() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let err = ensure_port_free("order-node", port).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("order-node") && text.contains(&port.to_string()),
            "{text}"
        );
        drop(taken);
        ensure_port_free("order-node", port).unwrap();
    }

    #[tokio::test]
    async fn a_process_that_dies_is_reported_with_its_log() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("x.log");
        let mut p = Running::spawn(
            "sh",
            Path::new("/bin/sh"),
            &["-c".into(), "echo the reason >&2; exit 3".into()],
            &log,
        )
        .unwrap();
        let http = reqwest::Client::new();
        let err = p
            .wait_ready(&http, "http://127.0.0.1:9/never", Duration::from_secs(30))
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("sh exited") && text.contains("the reason"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn stop_ends_a_process_that_ignores_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let p = Running::spawn(
            "sleep",
            Path::new("/bin/sleep"),
            &["60".into()],
            &dir.path().join("s.log"),
        )
        .unwrap();
        let status = p.stop().await.unwrap();
        assert!(!status.success());
    }
}
