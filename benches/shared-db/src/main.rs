//! The shared-db binary: the shared-database baseline as a service, over a PostgreSQL given
//! by URL or started for the occasion.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use shared_db::postgres::Throwaway;
use shared_db::{Store, schema};
use tracing_subscriber::EnvFilter;

/// The shared-database baseline: product reads, order placement and the order view over one
/// PostgreSQL, to measure the Database-per-Service nodes against.
#[derive(Debug, Parser)]
#[command(name = "shared-db", version)]
struct Cli {
    /// Address to serve HTTP on; port 0 picks a free one (printed on standard output).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// The PostgreSQL to use, e.g. postgres://user:password@127.0.0.1:5432/shop.
    #[arg(
        long,
        required_unless_present = "throwaway",
        conflicts_with = "throwaway"
    )]
    database_url: Option<String>,
    /// Start a throwaway PostgreSQL in a temporary directory (deleted on exit) instead.
    #[arg(long)]
    throwaway: bool,
    /// A catalogue to load at start (JSON Lines, as `catalog-node import` reads).
    #[arg(long, value_name = "FILE")]
    catalogue: Option<PathBuf>,
    /// Most connections to the database.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..))]
    pool_size: u16,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match run(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("shared-db: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    // Held to the end: dropping it stops the server and deletes its files.
    let throwaway = if cli.throwaway {
        let pg = Throwaway::start()
            .await
            .context("starting a throwaway PostgreSQL")?;
        tracing::info!(url = %pg.url(), "throwaway PostgreSQL started");
        Some(pg)
    } else {
        None
    };
    let url = match (&throwaway, &cli.database_url) {
        (Some(pg), _) => pg.url(),
        (None, Some(url)) => url.clone(),
        (None, None) => anyhow::bail!("give --database-url or --throwaway"),
    };
    let store = Store::open(&url, usize::from(cli.pool_size))?;
    schema::create(&store)
        .await
        .context("creating the tables")?;
    if let Some(file) = &cli.catalogue {
        let loaded = schema::load(&store, file)
            .await
            .with_context(|| format!("loading {}", file.display()))?;
        tracing::info!(products = loaded, file = %file.display(), "catalogue loaded");
    }
    let listener = tokio::net::TcpListener::bind(cli.listen)
        .await
        .with_context(|| format!("binding {}", cli.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "listening");
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on http://{addr}")?;
    stdout.flush()?;
    drop(stdout);
    axum::serve(listener, shared_db::router(store))
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    tracing::info!("stopped");
    drop(throwaway);
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
