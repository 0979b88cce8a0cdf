//! Starting, killing and restarting a real node binary.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::http::Client;

/// Where a workspace binary is: `$<NAME>_BIN` if set, else next to the test executable's
/// directory (`target/<profile>/`), where `cargo build --workspace --bins` puts it.
pub fn binary(name: &str) -> PathBuf {
    let var = format!("{}_BIN", name.to_uppercase().replace('-', "_"));
    if let Ok(path) = std::env::var(&var) {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("current exe");
    let mut dir = exe.parent().expect("exe dir").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} not found: build the binaries first (`cargo build --workspace --bins`, which the \
         README's test command does) or set {var}",
        path.display()
    );
    path
}

/// How to start a node.
#[derive(Debug, Clone)]
pub struct NodeSpec {
    /// The binary.
    pub bin: PathBuf,
    /// Its data directory.
    pub data_dir: PathBuf,
    /// Flags besides `--listen` and `--data-dir`.
    pub args: Vec<String>,
    /// Listen address; port 0 at first start, the bound port on restarts.
    pub listen: String,
    /// Where its standard error goes.
    pub log: PathBuf,
    /// Environment variables set for the process, besides what it inherits.
    pub env: Vec<(String, String)>,
    /// Open-files limit (soft and hard) the process starts under, when not inherited.
    pub file_limit: Option<u64>,
}

impl NodeSpec {
    /// A spec with an ephemeral port.
    pub fn new(bin: PathBuf, data_dir: &Path, log: &Path, args: &[&str]) -> Self {
        Self {
            bin,
            data_dir: data_dir.to_owned(),
            args: args.iter().map(|s| (*s).to_owned()).collect(),
            listen: "127.0.0.1:0".into(),
            log: log.to_owned(),
            env: Vec::new(),
            file_limit: None,
        }
    }

    /// The same spec, started under an open-files limit of `limit` (soft and hard), as a
    /// service under a stingy default would be.
    pub fn with_file_limit(mut self, limit: u64) -> Self {
        self.file_limit = Some(limit);
        self
    }

    /// The same spec with `env` set in the process's environment.
    pub fn with_env(mut self, env: &[(String, String)]) -> Self {
        self.env.extend_from_slice(env);
        self
    }

    /// The same spec with the token the node presents to the catalog in its environment
    /// (`ORDERS_CATALOG_TOKEN` or `SEARCH_CATALOG_TOKEN`), the way a token is passed now that
    /// command lines may not carry one.
    pub fn with_catalog_token(mut self, token: &str) -> Self {
        let name = self
            .bin
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let var = match name {
            "order-node" => "ORDERS_CATALOG_TOKEN",
            "search-node" => "SEARCH_CATALOG_TOKEN",
            other => panic!("{other} presents no catalog token"),
        };
        self.env.push((var.to_owned(), token.to_owned()));
        self
    }
}

/// A command running `bin`, under an open-files limit of `file_limit` (soft and hard) when
/// given: the shell lowers it, then becomes the program, so the pid is the program's.
pub fn command(bin: &Path, file_limit: Option<u64>) -> Command {
    match file_limit {
        None => Command::new(bin),
        Some(limit) => {
            let mut cmd = Command::new("sh");
            cmd.arg("-c")
                .arg(format!("ulimit -n {limit} && exec \"$0\" \"$@\""))
                .arg(bin);
            cmd
        }
    }
}

/// A node that did not come up.
#[derive(Debug)]
pub struct StartFailure {
    /// Exit code, if it exited.
    pub code: Option<i32>,
    /// What it wrote to standard error.
    pub stderr: String,
}

/// Stops `child` with SIGTERM and waits up to 20 s for it to exit (then kills it); returns
/// its exit code.
pub async fn terminate(mut child: Child) -> Option<i32> {
    if let Some(pid) = child.id() {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status()
            .await;
    }
    match tokio::time::timeout(Duration::from_secs(20), child.wait()).await {
        Ok(Ok(status)) => status.code(),
        _ => {
            let _ = child.start_kill();
            None
        }
    }
}

/// A running node; killed when dropped.
#[derive(Debug)]
pub struct Node {
    spec: NodeSpec,
    child: Option<Child>,
    base: String,
}

impl Node {
    /// Starts the node and waits until it listens; panics with its log if it does not.
    pub async fn start(spec: NodeSpec) -> Node {
        match Self::try_start(spec).await {
            Ok(node) => node,
            Err(f) => panic!("node did not start (exit {:?}):\n{}", f.code, f.stderr),
        }
    }

    /// Starts the node; reports how it failed if it exits before listening.
    pub async fn try_start(mut spec: NodeSpec) -> Result<Node, StartFailure> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&spec.log)
            .expect("open log");
        let mut child = command(&spec.bin, spec.file_limit)
            .arg("--listen")
            .arg(&spec.listen)
            .arg("--data-dir")
            .arg(&spec.data_dir)
            .args(&spec.args)
            .env("RUST_LOG", "info")
            .envs(spec.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env_remove("RUST_BACKTRACE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .expect("spawn node");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line()).await;
        match first {
            Ok(Ok(Some(line))) if line.starts_with("listening on http://") => {
                let base = line.trim_start_matches("listening on ").to_owned();
                spec.listen = base.trim_start_matches("http://").to_owned();
                Ok(Node {
                    spec,
                    child: Some(child),
                    base,
                })
            }
            _ => {
                let _ = child.start_kill();
                let status = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
                let code = status.ok().and_then(Result::ok).and_then(|s| s.code());
                Err(StartFailure {
                    code,
                    stderr: std::fs::read_to_string(&spec.log).unwrap_or_default(),
                })
            }
        }
    }

    /// The node's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// A client for this node presenting `token`.
    pub fn client(&self, token: Option<String>) -> Client {
        Client::new(&self.base, token)
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.spec.data_dir
    }

    /// The spec, e.g. to start a second process on the same data directory.
    pub fn spec(&self) -> &NodeSpec {
        &self.spec
    }

    /// Kills the process with SIGKILL: no shutdown code runs.
    pub async fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
    }

    /// Stops the process with SIGTERM and waits for it to exit; returns its exit code.
    pub async fn terminate(&mut self) -> Option<i32> {
        terminate(self.child.take()?).await
    }

    /// Starts the node again on the same port and data directory.
    pub async fn restart(&mut self) {
        self.kill9().await;
        let again = Node::start(self.spec.clone()).await;
        *self = again;
    }

    /// The node's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.spec.log).unwrap_or_default()
    }

    /// The process id while the node runs (`None` once killed or stopped).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    /// Like [`Self::restart`], but reports a start that failed instead of panicking, so that
    /// a caller can try again: after a kill, the port can be briefly taken by a client's
    /// outgoing connection. On failure the node stays down.
    pub async fn try_restart(&mut self) -> Result<(), StartFailure> {
        self.kill9().await;
        let again = Node::try_start(self.spec.clone()).await?;
        *self = again;
        Ok(())
    }
}

/// The resident set size of process `pid` in KiB (`VmRSS` of `/proc/<pid>/status`); `None`
/// when the process is gone or the platform has no procfs.
pub fn vm_rss_kib(pid: u32) -> Option<u64> {
    proc_status_kib(pid, "VmRSS")
}

/// A numeric field of `/proc/<pid>/status`, e.g. `RssAnon` (heap and stacks, in KiB),
/// `RssFile` (pages of mapped files such as an mmapped index, in KiB) or `Threads`.
pub fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| {
        line.strip_prefix(field)?
            .strip_prefix(':')?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    })
}
