//! `stack`: runs the whole system locally (`up`) and reports on it (`status`).

mod demo;
mod identity;
mod layout;
mod process;
mod secrets;
mod status;
mod toolchain;
mod up;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::layout::{DEFAULT_BASE_PORT, Layout, component_beside};

/// stack: the whole system on this machine, with demo data.
#[derive(Debug, Parser)]
#[command(name = "stack", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Build what is missing, start catalog-node, order-node, search-node and the composer
    /// with demo data, print where to point curl, and run until Ctrl-C.
    Up(UpArgs),
    /// Show each part's health, data size and the search lag.
    Status(Common),
    /// Print an end user's bearer token for the running system's composer, signed with this
    /// run's key (`data/secrets/jwt-signing.key`).
    Token(TokenArgs),
}

#[derive(Debug, Args)]
struct TokenArgs {
    /// The customer id the token names (`sub`).
    #[arg(long)]
    subject: String,

    /// A staff token: it may read every customer's orders.
    #[arg(long)]
    staff: bool,

    /// How long the token is valid, in seconds.
    #[arg(long, default_value_t = 3600)]
    ttl: u64,

    /// Where the running system keeps its data.
    #[arg(long, env = "STACK_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
}

#[derive(Debug, Args)]
struct Common {
    /// Where the system keeps its data, logs and this run's secrets.
    #[arg(long, env = "STACK_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,

    /// The composer's port; catalog-node, order-node and search-node take the next three.
    /// `status` reads it from the running system when not given.
    #[arg(long, env = "STACK_BASE_PORT")]
    base_port: Option<u16>,
}

#[derive(Debug, Args)]
struct UpArgs {
    #[command(flatten)]
    common: Common,

    /// Do not build; use the binaries already in --bin-dir.
    #[arg(long)]
    no_build: bool,

    /// Directory of the node binaries and edge-host (default: the `local` profile's directory
    /// of this binary's target directory, where `up` builds them).
    #[arg(long, env = "STACK_BIN_DIR")]
    bin_dir: Option<PathBuf>,

    /// The composer component (default: the release wasm32-wasip2 build `up` makes in
    /// <target>/component).
    #[arg(long, env = "STACK_COMPONENT")]
    component: Option<PathBuf>,

    /// The catalogue imported on first start (JSON lines).
    #[arg(long, env = "STACK_DEMO_CATALOGUE")]
    demo_catalogue: Option<PathBuf>,

    /// Catalog read replicas to start beside the catalog (ports after search-node's);
    /// order-node and the composer then read products from them.
    #[arg(
        long,
        env = "STACK_CATALOG_REPLICAS",
        default_value_t = 0,
        value_parser = clap::value_parser!(u8).range(0..=i64::from(layout::MAX_REPLICAS))
    )]
    catalog_replicas: u8,
}

/// The workspace this binary was built from: where it builds and finds the demo data.
fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_owned()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("stack: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("stack: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Cmd::Up(args) => up(args).await.map(|()| ExitCode::SUCCESS),
        Cmd::Status(common) => status(common).await,
        Cmd::Token(args) => token(&args).map(|()| ExitCode::SUCCESS),
    }
}

fn token(args: &TokenArgs) -> anyhow::Result<()> {
    // The composer refuses a `sub` that is not a customer id; better to say so here.
    contracts::validate::id("--subject", &args.subject)?;
    let issuer = identity::Issuer::load(&absolute(&args.data_dir)?)?;
    println!("{}", issuer.token(&args.subject, args.staff, args.ttl));
    Ok(())
}

async fn up(args: UpArgs) -> anyhow::Result<()> {
    let root = workspace_root();
    // This binary's target directory (`<target>/<profile>/stack`): the nodes are built there.
    let target = std::env::current_exe()
        .context("finding this binary")?
        .parent()
        .and_then(Path::parent)
        .map(Path::to_owned)
        .context("this binary is not in a target directory")?;
    let bin_dir = args
        .bin_dir
        .unwrap_or_else(|| target.join(toolchain::PROFILE));
    if !args.no_build {
        toolchain::build(&root, &target)?;
    }
    let component = args.component.unwrap_or_else(|| component_beside(&bin_dir));
    let data = absolute(&args.common.data_dir)?;
    let layout = Layout {
        data,
        bin_dir,
        component,
        base_port: args.common.base_port.unwrap_or(DEFAULT_BASE_PORT),
        replicas: args.catalog_replicas,
    };
    let demo_catalogue = args
        .demo_catalogue
        .unwrap_or_else(|| root.join("demo/catalog.jsonl"));
    up::run(&up::Up {
        layout,
        demo_catalogue,
    })
    .await
}

async fn status(common: Common) -> anyhow::Result<ExitCode> {
    let data = absolute(&common.data_dir)?;
    let mut layout = Layout {
        data,
        bin_dir: PathBuf::new(),
        component: PathBuf::new(),
        base_port: common.base_port.unwrap_or(DEFAULT_BASE_PORT),
        replicas: 0,
    };
    let running = running_state(&layout);
    if let (None, Some(port)) = (common.base_port, running.base_port) {
        layout.base_port = port;
    }
    layout.replicas = running.replicas;
    let all = status::collect(&layout, &reqwest::Client::new()).await;
    print!("{}", status::render(&all));
    Ok(if all.iter().all(|s| s.ready) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// What a running `up` recorded about itself.
#[derive(Debug, Default)]
struct RunningState {
    base_port: Option<u16>,
    replicas: u8,
}

fn running_state(layout: &Layout) -> RunningState {
    let state = fs::read_to_string(layout.state_file())
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok());
    let Some(state) = state else {
        return RunningState::default();
    };
    RunningState {
        base_port: state["base_port"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok()),
        replicas: state["catalog_replicas"]
            .as_u64()
            .and_then(|n| u8::try_from(n).ok())
            .unwrap_or(0),
    }
}

/// `path` made absolute against the current directory, so messages and children agree.
fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(path).with_context(|| format!("resolving {}", path.display()))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
