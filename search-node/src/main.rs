//! The search-node binary.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chassis::Auth;
use chassis::metrics::Metrics;
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use search_node::api::{self, Search};
use search_node::backup::{self, SearchRestore};
use search_node::catalog::FeedClient;
use search_node::cli::{BACKUP_TOKEN, CATALOG_TOKEN, Cli, Command, ServeArgs};
use search_node::follower::{self, CommitPolicy, FeedState};
use search_node::index::ProductIndex;
use search_node::metrics::SearchMetrics;

fn main() -> ExitCode {
    chassis::telemetry::init();
    let cli = Cli::parse();
    chassis::telemetry::run_async("search-node", run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let feed_client = || {
        let token = CATALOG_TOKEN
            .read(
                cli.catalog_token_file.as_deref(),
                cli.catalog_token.as_deref(),
            )?
            .context(
                "the catalog token is required (--catalog-token-file or SEARCH_CATALOG_TOKEN): \
                 search-node reads the catalog's feed with it",
            )?;
        Ok::<_, anyhow::Error>(FeedClient::new(&cli.catalog_url, &token)?)
    };
    match &cli.command {
        Some(Command::Backup(args)) => {
            let token = BACKUP_TOKEN
                .read(args.token_file.as_deref(), args.token.as_deref())?
                .context(
                    "a token with search:admin is required: --token-file or SEARCH_BACKUP_TOKEN",
                )?;
            let summary =
                chassis::backup::fetch(&args.url, &token, &args.out, backup::KIND).await?;
            println!("wrote {}: {summary}", args.out.display());
            Ok(())
        }
        Some(Command::Restore(args)) => {
            let (from, dir, force) = (args.from.clone(), cli.data_dir.clone(), args.force);
            let restored = tokio::task::spawn_blocking(move || {
                chassis::backup::restore(&SearchRestore, &from, &dir, force)
            })
            .await??;
            println!("{restored}");
            Ok(())
        }
        Some(Command::Reindex) => {
            let client = feed_client()?;
            let dir = chassis::datadir::prepare(&cli.data_dir)?;
            let index = Arc::new(ProductIndex::open(&dir)?);
            let bar = ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("{spinner} reindexing: {pos} products ({per_sec})")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            let seq = follower::bootstrap(&index, &client, |n| bar.set_position(n as u64)).await?;
            bar.finish_and_clear();
            println!(
                "reindexed {} products from {} (feed seq {seq})",
                index.num_docs(),
                cli.catalog_url
            );
            Ok(())
        }
        None => {
            let client = feed_client()?;
            serve(cli.data_dir, client, cli.serve).await
        }
    }
}

async fn serve(
    data_dir: std::path::PathBuf,
    client: FeedClient,
    args: ServeArgs,
) -> anyhow::Result<()> {
    let auth = Auth::from_flags(args.callers.as_deref(), args.allow_anonymous)?;
    let dir = chassis::datadir::prepare(&data_dir)?;
    let index = Arc::new(ProductIndex::open(&dir)?);
    let committed = index.committed_seq()?;
    tracing::info!(data_dir = %dir.display(), seq = ?committed, docs = index.num_docs(), "index open");
    let state = Arc::new(FeedState::new(committed));

    let mut search_metrics = SearchMetrics::default();
    let metrics = Metrics::new(|registry| search_metrics = SearchMetrics::register(registry));
    tokio::spawn(search_metrics.refresh(state.clone(), index.clone()));
    tokio::spawn(follower::run(
        index.clone(),
        client,
        state.clone(),
        CommitPolicy {
            max_changes: args.commit_max_changes.max(1),
            max_delay: Duration::from_millis(args.commit_delay_ms),
        },
    ));

    let for_ready = state.clone();
    let ready = Arc::new(move || {
        let indexed = for_ready.indexed_seq();
        let head = for_ready.catalog_head().max(indexed);
        (
            for_ready.bootstrapped(),
            serde_json::json!({
                "bootstrapped": for_ready.bootstrapped(),
                "indexed_seq": indexed,
                "catalog_head_seq": head,
                "lag_events": head - indexed,
                "catalog_reachable": for_ready.catalog_reachable(),
            }),
        )
    });
    let app = chassis::server::finish_with(
        api::routes(Arc::new(Search::new(index, state)), &auth),
        api::INFO,
        metrics,
        ready,
        api::BODY_LIMIT,
        &args.limits,
    );
    chassis::server::serve_until_signal(args.listen, app, &args.limits).await?;
    tracing::info!("stopped");
    Ok(())
}
