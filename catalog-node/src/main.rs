//! The catalog-node binary.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use catalog_node::api;
use catalog_node::backup::{self, CatalogRestore};
use catalog_node::cli::{BACKUP_TOKEN, Cli, Command, ServeArgs};
use catalog_node::durability::Durability;
use catalog_node::metrics::CatalogMetrics;
use catalog_node::service::Catalog;
use catalog_node::store::Store;
use chassis::Auth;
use chassis::metrics::Metrics;
use clap::Parser;

fn main() -> ExitCode {
    chassis::telemetry::init();
    chassis::telemetry::exit_code("catalog-node", run(Cli::parse()))
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Some(Command::Import { file }) => {
            let dir = chassis::datadir::prepare(&cli.data_dir)?;
            let report = catalog_node::import::run(&dir, &file)?;
            println!(
                "imported {} products from {} into {} (feed head seq {})",
                report.products,
                file.display(),
                dir.display(),
                report.head_seq
            );
            Ok(())
        }
        Some(Command::Backup(args)) => {
            let token = BACKUP_TOKEN
                .read(args.token_file.as_deref(), args.token.as_deref())?
                .context(
                    "a token with catalog:admin is required: --token-file or CATALOG_BACKUP_TOKEN",
                )?;
            let summary = runtime()?.block_on(chassis::backup::fetch(
                &args.url,
                &token,
                &args.out,
                backup::KIND,
            ))?;
            println!("wrote {}: {summary}", args.out.display());
            Ok(())
        }
        Some(Command::Restore(args)) => {
            let restored =
                chassis::backup::restore(&CatalogRestore, &args.from, &cli.data_dir, args.force)?;
            println!("{restored}");
            Ok(())
        }
        None => runtime()?.block_on(serve(cli.data_dir, cli.serve)),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

async fn serve(data_dir: std::path::PathBuf, args: ServeArgs) -> anyhow::Result<()> {
    let auth = Auth::from_flags(args.callers.as_deref(), args.allow_anonymous)?;
    let dir = chassis::datadir::prepare(&data_dir)?;
    let store = Store::open(&dir)?;
    tracing::info!(data_dir = %dir.display(), products = store.product_count(), "store open");

    let mut catalog_metrics = CatalogMetrics::default();
    let metrics = Metrics::new(|registry| catalog_metrics = CatalogMetrics::register(registry));
    let durability = Durability::start(store.clone(), catalog_metrics.flush.clone())?;
    let catalog = Arc::new(Catalog::new(store.clone(), durability));

    let retention = Duration::from_secs(args.tombstone_retention_hours.saturating_mul(3600));
    tokio::spawn(maintain(
        catalog.clone(),
        store.clone(),
        catalog_metrics,
        retention,
    ));

    let for_ready = catalog.clone();
    let ready = Arc::new(move || match for_ready.status() {
        Ok(status) => (true, serde_json::to_value(status).unwrap_or_default()),
        Err(e) => (false, serde_json::json!({ "error": e.to_string() })),
    });
    let app = chassis::server::finish_with(
        api::routes(catalog, &auth),
        api::INFO,
        metrics,
        ready,
        api::BODY_LIMIT,
        &args.limits,
    );
    chassis::server::serve_until_signal(args.listen, app, &args.limits).await?;
    store.flush().context("final flush")?;
    tracing::info!("stopped");
    Ok(())
}

/// Keeps gauges current and expires old delete events from the feed.
async fn maintain(
    catalog: Arc<Catalog>,
    store: Store,
    metrics: CatalogMetrics,
    retention: Duration,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    let mut ticks: u64 = 0;
    loop {
        tick.tick().await;
        catalog.recount();
        if let Ok(status) = catalog.status() {
            metrics
                .products
                .set(i64::try_from(status.products).unwrap_or(i64::MAX));
            metrics
                .outbox_events
                .set(i64::try_from(status.outbox_events).unwrap_or(i64::MAX));
        }
        if let Ok(bytes) = store.size_on_disk() {
            metrics
                .store_bytes
                .set(i64::try_from(bytes).unwrap_or(i64::MAX));
        }
        // Tombstones expire in hours; checking every ten minutes is plenty.
        if ticks.is_multiple_of(60) {
            match catalog.prune_tombstones(retention).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(dropped = n, "expired delete events from the feed"),
                Err(e) => tracing::warn!(error = %e, "tombstone expiry failed"),
            }
        }
        ticks += 1;
    }
}
