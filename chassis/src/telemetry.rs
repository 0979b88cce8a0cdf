//! Logging with `tracing`, filtered by `RUST_LOG` (default `info`), to standard error.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber; a second call is harmless.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        // Colour codes only help a person at a terminal; they garble log files.
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// Turns a binary's result into its exit code, printing the error (with its causes) first.
pub fn exit_code<E: std::fmt::Display>(
    program: &str,
    result: Result<(), E>,
) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{program}: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Runs a binary's async main on a multi-threaded runtime and turns its result into the exit
/// code (see [`exit_code`]).
pub fn run_async<E, F>(program: &str, main: F) -> std::process::ExitCode
where
    E: std::fmt::Display + From<std::io::Error>,
    F: std::future::Future<Output = Result<(), E>>,
{
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(E::from)
        .and_then(|rt| rt.block_on(main));
    exit_code(program, result)
}
