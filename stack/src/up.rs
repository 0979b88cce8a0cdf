//! `stack up`: starts the whole system with demo data and keeps it running until stopped.

use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::json;
use tokio::signal::unix::{SignalKind, signal};

use crate::demo;
use crate::identity::{self, Issuer};
use crate::layout::{Layout, Part};
use crate::process::{ProcessError, Running, ensure_port_free};
use crate::secrets::{self, Tokens, callers_file};

/// What `up` needs beyond the layout.
#[derive(Debug, Clone)]
pub struct Up {
    /// Where everything lives.
    pub layout: Layout,
    /// The demo catalogue loaded on first start.
    pub demo_catalogue: PathBuf,
}

/// How long each part may take to become ready.
fn ready_within(part: Part) -> Duration {
    match part {
        // The component is compiled to native code at start.
        Part::Composer => Duration::from_secs(300),
        // A first start indexes the whole catalogue.
        Part::Search => Duration::from_secs(180),
        Part::Catalog | Part::Replica(_) | Part::Orders => Duration::from_secs(60),
    }
}

/// Runs the system until SIGINT/SIGTERM (Ok) or until one of its processes dies (Err).
pub async fn run(up: &Up) -> anyhow::Result<()> {
    let layout = &up.layout;
    preflight(layout)?;
    prepare_dirs(layout)?;
    let tokens = Tokens::generate()?;
    tokens.write(layout)?;
    let issuer = Issuer::generate(layout)?;

    if layout.store(Part::Catalog).is_some_and(|dir| !dir.exists()) {
        eprintln!("==> first start: importing the demo catalogue");
        demo::import_catalogue(layout, &up.demo_catalogue).await?;
    }
    let products = demo::products(layout, &up.demo_catalogue)?;

    let http = reqwest::Client::new();
    let mut running: Vec<Running> = Vec::new();
    let outcome = async {
        for part in layout.parts() {
            let mut process = Running::spawn(
                part.name(),
                &layout.binary(part),
                &args(layout, &issuer, part),
                &layout.log(part),
            )?;
            let url = format!("{}{}", layout.url(part), part.ready_path());
            let waited = process.wait_ready(&http, &url, ready_within(part)).await;
            running.push(process);
            waited?;
            eprintln!("==> {} ready on {}", part.name(), layout.url(part));
        }
        let orders = demo_orders(layout, &http, &issuer, &products).await?;
        write_state(layout, &running)?;
        print_banner(layout, &orders, &products[0]);
        wait_for_end(&mut running).await
    }
    .await;

    eprintln!("\n==> stopping");
    for process in running.into_iter().rev() {
        let name = process.name();
        match process.stop().await {
            Some(status) if status.success() => eprintln!("    {name} stopped"),
            Some(status) => eprintln!("    {name} stopped ({status})"),
            None => eprintln!("    {name}: could not tell how it ended"),
        }
    }
    let _ = fs::remove_file(layout.state_file());
    outcome
}

/// Everything that can be checked before anything starts.
fn preflight(layout: &Layout) -> anyhow::Result<()> {
    for part in layout.parts() {
        let bin = layout.binary(part);
        if !bin.is_file() {
            return Err(ProcessError::MissingBinary {
                name: part.name(),
                path: bin,
            }
            .into());
        }
    }
    if !layout.component.is_file() {
        bail!(
            "the composer component {} does not exist (drop --no-build, or name one with \
             --component)",
            layout.component.display()
        );
    }
    for part in layout.parts() {
        ensure_port_free(part.name(), layout.port(part))?;
    }
    Ok(())
}

fn prepare_dirs(layout: &Layout) -> anyhow::Result<()> {
    for dir in [
        &layout.data,
        &layout.secrets(),
        &layout.logs(),
        &layout.own(),
    ] {
        storage::datadir::prepare(dir).with_context(|| format!("preparing {}", dir.display()))?;
    }
    Ok(())
}

/// The command line of `part`.
fn args(layout: &Layout, issuer: &Issuer, part: Part) -> Vec<String> {
    let listen = format!("127.0.0.1:{}", layout.port(part));
    let mut args = vec!["--listen".to_owned(), listen];
    if let Some(store) = layout.store(part) {
        args.push("--data-dir".to_owned());
        args.push(store.display().to_string());
        args.push("--callers".to_owned());
        args.push(callers_file(layout, part).display().to_string());
    }
    let catalog = layout.url(Part::Catalog);
    let reads = layout.read_urls().join(",");
    match part {
        Part::Catalog => {}
        Part::Replica(_) => {
            args.extend([
                "--replica-of".to_owned(),
                catalog,
                "--primary-token-file".to_owned(),
                secrets::catalog_token_file(layout, part)
                    .display()
                    .to_string(),
            ]);
        }
        Part::Orders | Part::Search => {
            args.extend([
                "--catalog-url".to_owned(),
                catalog,
                "--catalog-token-file".to_owned(),
                secrets::catalog_token_file(layout, part)
                    .display()
                    .to_string(),
            ]);
            if part == Part::Orders && !reads.is_empty() {
                args.extend(["--catalog-read-urls".to_owned(), reads.clone()]);
            }
        }
        Part::Composer => {
            args.push("--component".to_owned());
            args.push(layout.component.display().to_string());
            args.push("--var-file".to_owned());
            args.push(secrets::composer_secrets_file(layout).display().to_string());
            for (key, value) in [
                ("catalog_url", catalog),
                ("orders_url", layout.url(Part::Orders)),
                ("search_url", layout.url(Part::Search)),
                ("jwt_jwks", issuer.jwks()),
                ("jwt_issuer", identity::ISSUER.to_owned()),
                ("jwt_audience", identity::AUDIENCE.to_owned()),
            ] {
                args.push("--var".to_owned());
                args.push(format!("{key}={value}"));
            }
            if !reads.is_empty() {
                args.push("--var".to_owned());
                args.push(format!("catalog_read_urls={reads}"));
            }
        }
    }
    args
}

/// The demo orders' ids: placed on first start, read back afterwards.
async fn demo_orders(
    layout: &Layout,
    http: &reqwest::Client,
    issuer: &Issuer,
    products: &[String],
) -> anyhow::Result<Vec<String>> {
    let file = demo::orders_file(layout);
    let recorded = fs::read_to_string(&file)
        .ok()
        .and_then(|text| serde_json::from_str::<Vec<String>>(&text).ok());
    if let Some(ids) = recorded {
        return Ok(ids);
    }
    eprintln!("==> first start: placing demo orders through the composer");
    let ids = demo::place_orders(layout, http, issuer, products).await?;
    let text = serde_json::to_string_pretty(&ids)?;
    fs::write(&file, text).with_context(|| format!("writing {}", file.display()))?;
    Ok(ids)
}

/// Records who runs where, for `stack status`.
fn write_state(layout: &Layout, running: &[Running]) -> anyhow::Result<()> {
    let parts: serde_json::Map<String, serde_json::Value> = running
        .iter()
        .map(|p| (p.name().to_owned(), json!(p.pid())))
        .collect();
    let state = json!({
        "pid": std::process::id(),
        "base_port": layout.base_port,
        "catalog_replicas": layout.replicas,
        "parts": parts,
    });
    let file = layout.state_file();
    fs::write(&file, serde_json::to_string_pretty(&state)?)
        .with_context(|| format!("writing {}", file.display()))
}

/// Waits for SIGINT or SIGTERM (Ok), or for a process to die (Err naming it).
async fn wait_for_end(running: &mut [Running]) -> anyhow::Result<()> {
    let mut interrupt = signal(SignalKind::interrupt()).context("listening for SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    let mut watch = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            _ = interrupt.recv() => return Ok(()),
            _ = terminate.recv() => return Ok(()),
            _ = watch.tick() => {
                for process in running.iter_mut() {
                    process.check_alive()?;
                }
            }
        }
    }
}

/// `text` as one single-quoted shell word (the banner's commands are pasted into a shell).
fn shell_quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

fn print_banner(layout: &Layout, orders: &[String], product: &str) {
    let composer = layout.url(Part::Composer);
    // This very binary, so that the printed commands work verbatim from any directory.
    let stack = std::env::current_exe()
        .map(|p| shell_quoted(&p.display().to_string()))
        .unwrap_or_else(|_| "cargo run -q --profile local -p stack --".to_owned());
    let token = |subject: &str| {
        format!(
            "$({stack} token --subject {subject} --data-dir {})",
            shell_quoted(&layout.data.display().to_string())
        )
    };
    let catalog = layout.url(Part::Catalog);
    let replicas: String = layout
        .read_urls()
        .iter()
        .map(|url| format!("\n  catalog replica {url}   (reads for order-node and the composer)"))
        .collect();
    let token_file = layout.secrets().join("admin.token");
    let order = orders.first().map(String::as_str).unwrap_or("ORDER_ID");
    println!(
        "
The system is up: data in {data}, logs in {logs}.

  edge-composer  {composer}   (the public entry point)
  catalog-node   {catalog}{replicas}
  order-node     {orders_url}
  search-node    {search}

Try:

  # an order with its lines' current catalog data: one order read + one catalog batch
  # (order routes need an end user's token: `stack token --subject NAME [--staff]` mints one)
  curl -fsS -H \"authorization: Bearer {alice}\" {composer}/v1/order-views/{order}

  # a customer's orders, composed with ONE de-duplicated catalog lookup for the page
  curl -fsS -H \"authorization: Bearer {alice}\" '{composer}/v1/customers/alice/order-views?limit=5'

  # full-text search, each hit with its live price and stock (no token needed)
  curl -fsS '{composer}/v1/search?q=waterproof+jacket'

  # place an order for the token's customer (the same Idempotency-Key returns the same order)
  curl -fsS -H \"authorization: Bearer {alice}\" -H 'content-type: application/json' -H 'idempotency-key: try-1' -d '{{\"items\":[{{\"product_id\":\"{product}\",\"qty\":1}}]}}' {composer}/v1/orders

  # a node directly, with this run's admin token
  curl -fsS -H \"authorization: Bearer $(cat {token})\" {catalog}/v1/products/{product}

`stack status` (cargo run --profile local -p stack -- status) shows health, data sizes and the search lag.
Ctrl-C stops everything; the next `up` reuses the data.",
        data = layout.data.display(),
        logs = layout.logs().display(),
        orders_url = layout.url(Part::Orders),
        search = layout.url(Part::Search),
        token = token_file.display(),
        alice = token("alice"),
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn shell_quoting_keeps_one_word() {
        assert_eq!(super::shell_quoted("/a b/c"), "'/a b/c'");
        assert_eq!(super::shell_quoted("it's"), "'it'\\''s'");
    }
}
