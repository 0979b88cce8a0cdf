//! The edge-host binary.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use edge_host::server::{Host, serve};
use edge_host::vars::Variables;

/// edge-host: serves the edge composer's .wasm with embedded wasmtime, as Spin would.
///
/// Implements the wasi:http 0.2 proxy world (plus the WASI CLI interfaces), wasi:config/store
/// (from --var, as Spin serves its variables), and Spin's outbound allow-list: the component
/// may call only the hosts named by the *_url variables.
#[derive(Debug, Parser)]
#[command(name = "edge-host", version, about, long_about)]
struct Cli {
    /// Address to listen on (port 0 picks a free port, printed at start).
    #[arg(long, env = "EDGE_LISTEN", default_value = "127.0.0.1:7000")]
    listen: SocketAddr,

    /// The component to serve (target/wasm32-wasip2/release/edge_composer.wasm).
    #[arg(long, env = "EDGE_COMPONENT")]
    component: PathBuf,

    /// A variable for the component, KEY=VALUE; give catalog_url, catalog_token, orders_url,
    /// orders_token, search_url, search_token, and jwt_jwks (a JWKS document), jwt_issuer and
    /// jwt_audience for end users' tokens.
    #[arg(long = "var", value_name = "KEY=VALUE")]
    vars: Vec<String>,
}

fn main() -> ExitCode {
    chassis::telemetry::init();
    let cli = Cli::parse();
    chassis::telemetry::run_async("edge-host", run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let variables = Variables::parse(&cli.vars)?;
    let host = Host::load(&cli.component, variables)?;
    let listener = tokio::net::TcpListener::bind(cli.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (is another process using that port?)",
                cli.listen
            )
        })?;
    serve(host, listener, chassis::server::shutdown_signal()).await
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
