//! A throwaway PostgreSQL: a fresh cluster in a temporary directory, served on a free
//! loopback port until dropped. For the end-to-end test and for trying the baseline by hand;
//! a measurement may as well point `--database-url` at a server of its own.
//!
//! The server runs with `fsync=on` and `synchronous_commit=on`, so that a committed placement
//! is on disk as it is in the nodes, whose stores sync every acknowledged write.

use std::fs::File;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;
use thiserror::Error;

/// Where Debian's `postgresql` packages put the server programs, one directory per version.
const DEBIAN_PREFIX: &str = "/usr/lib/postgresql";
/// How long the server may take to accept connections.
const START_LIMIT: Duration = Duration::from_secs(30);
/// How long a fast shutdown may take before the server is killed.
const STOP_LIMIT: Duration = Duration::from_secs(10);
/// The system user PostgreSQL runs as when this process is root (Debian creates it).
const SYSTEM_USER: &str = "postgres";

/// The throwaway server could not be had.
#[derive(Debug, Error)]
pub enum PostgresError {
    /// No PostgreSQL programs were found.
    #[error(
        "PostgreSQL is not installed: no initdb (with postgres beside it) on PATH or under \
         {DEBIAN_PREFIX}/*/bin. Install it (Debian/Ubuntu: apt-get install postgresql; \
         Fedora: dnf install postgresql-server; macOS: brew install postgresql@15), or point \
         --database-url at a running server"
    )]
    NotInstalled,
    /// Running as root, with no user to run PostgreSQL as.
    #[error(
        "this process runs as root, which PostgreSQL refuses, and there is no '{SYSTEM_USER}' \
         user to run it as (Debian's postgresql package creates one; or run as another user)"
    )]
    NoSystemUser,
    /// A file or process operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: io::Error,
    },
    /// `initdb` failed.
    #[error("initdb failed ({status}):\n{output}")]
    Initdb {
        /// Its exit status.
        status: ExitStatus,
        /// What it printed.
        output: String,
    },
    /// The server stopped before it accepted connections.
    #[error("postgres exited while starting ({status}); its log ends:\n{log}")]
    Exited {
        /// Its exit status.
        status: ExitStatus,
        /// The end of its log.
        log: String,
    },
    /// The server did not accept connections in time.
    #[error("postgres did not accept connections within {limit:?}; its log ends:\n{log}")]
    NotReady {
        /// The limit.
        limit: Duration,
        /// The end of its log.
        log: String,
    },
}

fn io_error(what: impl Into<String>) -> impl FnOnce(io::Error) -> PostgresError {
    let what = what.into();
    move |source| PostgresError::Io { what, source }
}

/// The user and group ids the server programs run under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RunAs {
    uid: u32,
    gid: u32,
}

/// A PostgreSQL server on a fresh cluster in a temporary directory, listening on
/// `127.0.0.1` only. Dropping it stops the server (fast shutdown, then kill) and removes the
/// directory.
///
/// PostgreSQL refuses to run as root. When this process's effective uid is 0, `initdb`,
/// `postgres` and `pg_ctl` run as the `postgres` system user instead (its uid and gid, with
/// no supplementary groups, set on the child process like `setpriv` would), and the
/// temporary directory is chowned to that user first. Without such a user, starting fails
/// with [`PostgresError::NoSystemUser`].
#[derive(Debug)]
pub struct Throwaway {
    server: Child,
    port: u16,
    bin: PathBuf,
    data: PathBuf,
    run_as: Option<RunAs>,
    // Last: removed once the server has stopped.
    dir: TempDir,
}

impl Throwaway {
    /// Creates a cluster and starts its server; returns once it accepts connections.
    pub async fn start() -> Result<Self, PostgresError> {
        let bin = find_programs().ok_or(PostgresError::NotInstalled)?;
        let run_as = if effective_uid() == Some(0) {
            let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
            Some(system_user(&passwd, SYSTEM_USER).ok_or(PostgresError::NoSystemUser)?)
        } else {
            None
        };
        let dir = tempfile::Builder::new()
            .prefix("shared-db-pg-")
            .tempdir()
            .map_err(io_error("creating a temporary directory"))?;
        if let Some(ids) = run_as {
            std::os::unix::fs::chown(dir.path(), Some(ids.uid), Some(ids.gid)).map_err(
                io_error(format!("handing {} to {SYSTEM_USER}", dir.path().display())),
            )?;
        }
        let data = dir.path().join("data");

        let mut initdb = program(&bin, "initdb", run_as, dir.path());
        initdb.arg("-D").arg(&data).args([
            "--username=postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            // Only initdb's own final sync: the server below runs with fsync=on.
            "--no-sync",
        ]);
        let output = tokio::process::Command::from(initdb)
            .output()
            .await
            .map_err(io_error("running initdb"))?;
        if !output.status.success() {
            return Err(PostgresError::Initdb {
                status: output.status,
                output: format!(
                    "{}{}",
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                ),
            });
        }

        let port = free_port()?;
        let log_path = dir.path().join("postgres.log");
        let log = File::create(&log_path).map_err(io_error("creating the server log"))?;
        let log_err = log
            .try_clone()
            .map_err(io_error("creating the server log"))?;
        let mut postgres = program(&bin, "postgres", run_as, dir.path());
        postgres
            .arg("-D")
            .arg(&data)
            .arg("-k")
            .arg(dir.path())
            .arg("-p")
            .arg(port.to_string())
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=on",
                "-c",
                "synchronous_commit=on",
                "-c",
                "max_connections=200",
            ])
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err);
        let server = postgres.spawn().map_err(io_error("starting postgres"))?;
        // From here on, Drop stops the server whatever happens.
        let mut throwaway = Self {
            server,
            port,
            bin,
            data,
            run_as,
            dir,
        };
        throwaway.wait_until_ready().await?;
        Ok(throwaway)
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres` (trust authentication: no password).
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    async fn wait_until_ready(&mut self) -> Result<(), PostgresError> {
        let deadline = Instant::now() + START_LIMIT;
        let mut config = tokio_postgres::Config::new();
        config
            .host("127.0.0.1")
            .port(self.port)
            .user("postgres")
            .dbname("postgres")
            .connect_timeout(Duration::from_secs(2));
        loop {
            if let Some(status) = self
                .server
                .try_wait()
                .map_err(io_error("watching postgres"))?
            {
                return Err(PostgresError::Exited {
                    status,
                    log: self.log_tail(),
                });
            }
            // A connection that completes its start-up: "starting up" and refused ports fail.
            if config.connect(tokio_postgres::NoTls).await.is_ok() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(PostgresError::NotReady {
                    limit: START_LIMIT,
                    log: self.log_tail(),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        // Fast shutdown: open sessions are ended, the cluster is left consistent.
        let stopped = program(&self.bin, "pg_ctl", self.run_as, self.dir.path())
            .arg("stop")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "fast", "-w", "-s", "-t"])
            .arg(STOP_LIMIT.as_secs().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if stopped {
            let deadline = Instant::now() + STOP_LIMIT;
            while Instant::now() < deadline {
                if !matches!(self.server.try_wait(), Ok(None)) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

/// `bin/name`, run in `dir`, as `run_as` when given.
fn program(bin: &Path, name: &str, run_as: Option<RunAs>, dir: &Path) -> Command {
    let mut command = Command::new(bin.join(name));
    command.current_dir(dir);
    if let Some(ids) = run_as {
        // std drops the supplementary groups too when root sets a uid.
        command.uid(ids.uid).gid(ids.gid);
    }
    command
}

/// The directory holding `initdb` and `postgres`: the one of an `initdb` on PATH (symlinks
/// resolved, as Debian links them into /usr/local/bin or /usr/bin), else the newest
/// `/usr/lib/postgresql/VERSION/bin`.
pub fn find_programs() -> Option<PathBuf> {
    let complete = |dir: &Path| dir.join("initdb").is_file() && dir.join("postgres").is_file();
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .filter_map(|dir| std::fs::canonicalize(dir.join("initdb")).ok())
        .filter_map(|initdb| initdb.parent().map(Path::to_path_buf))
        .find(|dir| complete(dir));
    on_path.or_else(|| {
        let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(DEBIAN_PREFIX)
            .ok()?
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let version = entry.file_name().to_str()?.parse().ok()?;
                Some((version, entry.path().join("bin")))
            })
            .filter(|(_, bin)| complete(bin))
            .collect();
        versions.sort();
        versions.pop().map(|(_, bin)| bin)
    })
}

/// This process's effective uid, from `/proc/self/status` (Linux).
fn effective_uid() -> Option<u32> {
    parse_effective_uid(&std::fs::read_to_string("/proc/self/status").ok()?)
}

/// The effective uid of a `/proc/PID/status` text: the second field of its `Uid:` line.
fn parse_effective_uid(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The uid and gid of `user` in an `/etc/passwd` text.
fn system_user(passwd: &str, user: &str) -> Option<RunAs> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        if fields.next()? != user {
            return None;
        }
        let _password = fields.next()?;
        Some(RunAs {
            uid: fields.next()?.parse().ok()?,
            gid: fields.next()?.parse().ok()?,
        })
    })
}

/// A loopback port free a moment ago.
fn free_port() -> Result<u16, PostgresError> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(io_error("finding a free loopback port"))?;
    let port = listener
        .local_addr()
        .map_err(io_error("finding a free loopback port"))?
        .port();
    Ok(port)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_effective_uid() {
        let status = "Name:\tcat\nUmask:\t0022\nUid:\t1000\t0\t0\t0\nGid:\t5\t5\t5\t5\n";
        assert_eq!(parse_effective_uid(status), Some(0));
        assert_eq!(parse_effective_uid("Name:\tcat\n"), None);
    }

    #[test]
    fn finds_the_system_user() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\n\
                      postgresx:x:7:7::/:/bin/false\n\
                      postgres:x:101:104:PostgreSQL administrator,,,:/var/lib/postgresql:/bin/bash\n";
        assert_eq!(
            system_user(passwd, "postgres"),
            Some(RunAs { uid: 101, gid: 104 })
        );
        assert_eq!(system_user(passwd, "nobody"), None);
    }

    #[test]
    fn the_missing_install_says_how_to_install() {
        let message = PostgresError::NotInstalled.to_string();
        assert!(message.contains("apt-get install postgresql"), "{message}");
        assert!(message.contains("--database-url"), "{message}");
    }
}
