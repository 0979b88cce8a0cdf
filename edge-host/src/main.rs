//! The edge-host binary.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chassis::limits::HttpLimits;
use clap::Parser;
use edge_host::server::{CompileCache, EdgeLimits, Host, serve};
use edge_host::sources;
use edge_host::vars::Variables;

/// edge-host: serves the edge composer's .wasm with embedded wasmtime, as Spin would.
///
/// Implements the wasi:http 0.2 proxy world (plus the WASI CLI interfaces), wasi:config/store
/// (from --var, --var-file and EDGE_VAR_* variables, as Spin serves its variables), and Spin's
/// outbound allow-list: the component may call only the hosts named by the *_url variables.
#[derive(Debug, Parser)]
#[command(name = "edge-host", version, about, long_about)]
struct Cli {
    /// Address to listen on (port 0 picks a free port, printed at start).
    #[arg(long, env = "EDGE_LISTEN", default_value = "127.0.0.1:7000")]
    listen: SocketAddr,

    /// The component to serve (target/wasm32-wasip2/release/edge_composer.wasm).
    #[arg(long, env = "EDGE_COMPONENT")]
    component: PathBuf,

    /// A variable for the component, KEY=VALUE: catalog_url, orders_url, search_url, and
    /// jwt_jwks (a JWKS document), jwt_issuer and jwt_audience for end users' tokens. The
    /// tokens (catalog_token, orders_token, search_token) are secrets and are refused here:
    /// give them in --var-file or as EDGE_VAR_CATALOG_TOKEN and so on.
    #[arg(long = "var", value_name = "KEY=VALUE")]
    vars: Vec<String>,

    /// A file of KEY=VALUE lines (# comments allowed), read before the environment and --var.
    #[arg(long, env = "EDGE_VAR_FILE")]
    var_file: Option<PathBuf>,

    /// Largest request body, in bytes; larger ones get 413 before the component runs.
    #[arg(long, env = "EDGE_MAX_BODY_BYTES", default_value_t = 256 * 1024)]
    max_body_bytes: usize,

    /// Component instances running at once at most; requests beyond get 503 and Retry-After.
    #[arg(long, env = "EDGE_MAX_INSTANCES", default_value_t = 128)]
    max_instances: usize,

    /// Linear memory of one instance at most, in MiB; an instance asking for more is stopped
    /// and its request answered 503.
    #[arg(long, env = "EDGE_INSTANCE_MEMORY_MIB", default_value_t = 64)]
    instance_memory_mib: usize,

    /// Where compiled components are kept between starts (default: wasmtime's per-user cache
    /// directory, ~/.cache/wasmtime on Linux).
    #[arg(
        long,
        env = "EDGE_COMPILE_CACHE_DIR",
        conflicts_with = "no_compile_cache"
    )]
    compile_cache_dir: Option<PathBuf>,

    /// Compile the component at every start instead.
    #[arg(long, env = "EDGE_NO_COMPILE_CACHE")]
    no_compile_cache: bool,

    /// Connection and request limits; the request timeout is also each instance's deadline
    /// (504 past it).
    #[command(flatten)]
    limits: HttpLimits,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    chassis::telemetry::run_async("edge-host", run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let pairs = sources::collect(&cli.vars, cli.var_file.as_deref(), std::env::vars())?;
    let variables = Variables::parse(&pairs)?;
    let limits = EdgeLimits {
        max_body: cli.max_body_bytes,
        max_instances: cli.max_instances,
        instance_memory: cli.instance_memory_mib.saturating_mul(1024 * 1024),
        deadline: cli.limits.request_timeout(),
    };
    let cache = match (cli.no_compile_cache, cli.compile_cache_dir) {
        (true, _) => CompileCache::Off,
        (false, Some(dir)) => CompileCache::Dir(dir),
        (false, None) => CompileCache::UserDefault,
    };
    let host = Host::load(&cli.component, variables, limits, &cache)?;
    let listener = tokio::net::TcpListener::bind(cli.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (is another process using that port?)",
                cli.listen
            )
        })?;
    serve(
        host,
        listener,
        &cli.limits,
        chassis::server::shutdown_signal(),
    )
    .await
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
