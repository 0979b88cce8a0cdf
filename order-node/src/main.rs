//! The order-node binary.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chassis::Auth;
use chassis::metrics::Metrics;
use clap::Parser;
use order_node::backup::{self, OrdersRestore};
use order_node::catalog::CatalogClient;
use order_node::cli::{BACKUP_TOKEN, CATALOG_TOKEN, Cli, Command};
use order_node::metrics::OrderMetrics;
use order_node::service::{Orders, SagaConfig};
use order_node::store::Store;
use order_node::store::writer::Writer;
use order_node::{api, saga};

/// How long shutdown waits for the writer's last commit.
const WRITER_JOIN_LIMIT: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    chassis::telemetry::init();
    let cli = Cli::parse();
    chassis::telemetry::run_async("order-node", run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Some(Command::Backup(args)) => {
            let token = BACKUP_TOKEN
                .read(args.token_file.as_deref(), args.token.as_deref())?
                .context(
                    "a token with orders:admin is required: --token-file or ORDERS_BACKUP_TOKEN",
                )?;
            let summary =
                chassis::backup::fetch(&args.url, &token, &args.out, backup::KIND).await?;
            println!("wrote {}: {summary}", args.out.display());
            Ok(())
        }
        Some(Command::Restore(args)) => {
            let (from, dir, force) = (args.from.clone(), cli.data_dir.clone(), args.force);
            let restored = tokio::task::spawn_blocking(move || {
                chassis::backup::restore(&OrdersRestore, &from, &dir, force)
            })
            .await??;
            println!("{restored}");
            Ok(())
        }
        None => serve(cli).await,
    }
}

async fn serve(cli: Cli) -> anyhow::Result<()> {
    let catalog_token = CATALOG_TOKEN
        .read(
            cli.catalog_token_file.as_deref(),
            cli.catalog_token.as_deref(),
        )?
        .context(
            "the catalog token is required (--catalog-token-file or ORDERS_CATALOG_TOKEN): \
             order-node reads and reserves at the catalog with it",
        )?;
    let auth = Auth::from_flags(cli.callers.as_deref(), cli.allow_anonymous)?;
    let dir = chassis::datadir::prepare(&cli.data_dir)?;
    let store = Store::open(&dir)?;
    tracing::info!(data_dir = %dir.display(), "store open");

    let catalog = CatalogClient::new(
        &cli.catalog_url,
        &catalog_token,
        Duration::from_millis(cli.catalog_timeout_ms),
    )
    .context("cannot build the catalog client")?;
    let mut order_metrics = None;
    let metrics = Metrics::new(|registry| {
        order_metrics = Some(OrderMetrics::register(registry, catalog.calls_metric()));
    });
    let order_metrics = order_metrics.context("metrics were not registered")?;
    let (writer, writer_thread) =
        Writer::start_joinable(&store, order_metrics.commit_writes.clone());
    let closing = store.clone();
    let orders = Arc::new(Orders::new(
        store,
        writer,
        catalog,
        SagaConfig {
            pending_timeout: Duration::from_secs(cli.pending_timeout_secs),
        },
    ));

    let tasks = [
        tokio::spawn(saga::run(
            orders.clone(),
            Duration::from_millis(cli.saga_retry_ms.max(10)),
            order_metrics.unsettled.clone(),
        )),
        tokio::spawn(maintain(
            orders.clone(),
            order_metrics,
            Duration::from_secs(cli.idempotency_ttl_hours.saturating_mul(3600)),
        )),
    ];

    let for_ready = orders.clone();
    let ready = Arc::new(
        move || match (for_ready.order_count(), for_ready.unsettled()) {
            (Ok(count), Ok(unsettled)) => (
                true,
                serde_json::json!({ "orders": count, "unsettled": unsettled.len() }),
            ),
            (Err(e), _) | (_, Err(e)) => (false, serde_json::json!({ "error": e.to_string() })),
        },
    );
    let app = chassis::server::finish_with(
        api::routes(orders.clone(), &auth),
        api::INFO,
        metrics,
        ready,
        api::BODY_LIMIT,
        &cli.limits,
    );
    chassis::server::serve_until_signal(cli.listen, app, &cli.limits).await?;
    // Every step of the saga is durable before the next, so stopping the loops mid-step is
    // safe; what they held must be gone before the store can close.
    for task in &tasks {
        task.abort();
    }
    for task in tasks {
        let _ = task.await;
    }
    drop(orders);
    // The writer thread ends once the last handle to the service is gone; a request that
    // outlived the drain may still hold one, and must not keep the process from exiting.
    let joined = tokio::time::timeout(
        WRITER_JOIN_LIMIT,
        tokio::task::spawn_blocking(move || writer_thread.join()),
    )
    .await;
    match (joined, closing.close()) {
        (Ok(_), Ok(())) => tracing::info!("store closed cleanly"),
        _ => tracing::warn!("the store was still in use at exit; the next start may repair it"),
    }
    tracing::info!("stopped");
    Ok(())
}

/// Keeps gauges current and forgets expired idempotency keys.
async fn maintain(orders: Arc<Orders>, metrics: OrderMetrics, key_ttl: Duration) {
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    let mut ticks: u64 = 0;
    loop {
        tick.tick().await;
        if let Ok(count) = orders.order_count() {
            metrics.orders.set(i64::try_from(count).unwrap_or(i64::MAX));
        }
        // Keys live for hours; checking every ten minutes is plenty.
        if ticks.is_multiple_of(60) {
            match orders.expire_keys(key_ttl).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(expired = n, "forgot expired idempotency keys"),
                Err(e) => tracing::warn!(error = %e, "idempotency key expiry failed"),
            }
        }
        ticks += 1;
    }
}
