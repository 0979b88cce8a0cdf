//! The demo data loaded on a system's first start.

use std::path::Path;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tokio::process::Command;

use crate::identity::Issuer;
use crate::layout::{Layout, Part};

/// One demo order: idempotency key, customer, items as (product id, qty).
type DemoOrder = (&'static str, &'static str, &'static [(&'static str, u32)]);

/// The demo orders; products repeat across orders so a customer page shows de-duplication.
const DEMO_ORDERS: &[DemoOrder] = &[
    (
        "demo-1",
        "alice",
        &[("kitchen-00001", 1), ("garden-00002", 2)],
    ),
    (
        "demo-2",
        "alice",
        &[("books-00003", 1), ("kitchen-00001", 1)],
    ),
    (
        "demo-3",
        "bob",
        &[("outdoor-00004", 1), ("kitchen-00001", 1)],
    ),
    ("demo-4", "bob", &[("apparel-00005", 2)]),
    (
        "demo-5",
        "carol",
        &[("toys-00003", 1), ("books-00003", 3), ("garden-00002", 1)],
    ),
];

/// Imports the demo catalogue into a catalog store that does not exist yet, showing the
/// import's progress on this terminal.
pub async fn import_catalogue(layout: &Layout, catalogue: &Path) -> anyhow::Result<()> {
    let Some(store) = layout.store(Part::Catalog) else {
        bail!("the catalog has no store directory");
    };
    let status = Command::new(layout.binary(Part::Catalog))
        .arg("--data-dir")
        .arg(&store)
        .arg("import")
        .arg(catalogue)
        .status()
        .await
        .with_context(|| format!("running {}", layout.binary(Part::Catalog).display()))?;
    if !status.success() {
        bail!(
            "importing the demo catalogue {} failed ({status})",
            catalogue.display()
        );
    }
    Ok(())
}

/// Places the demo orders through the composer (as a client would) and remembers their ids.
pub async fn place_orders(
    layout: &Layout,
    http: &reqwest::Client,
    issuer: &Issuer,
) -> anyhow::Result<Vec<String>> {
    let url = format!("{}/v1/orders", layout.url(Part::Composer));
    let mut ids = Vec::new();
    for (i, (key, customer, items)) in DEMO_ORDERS.iter().enumerate() {
        let items: Vec<Value> = items
            .iter()
            .map(|(product_id, qty)| json!({ "product_id": product_id, "qty": qty }))
            .collect();
        let response = http
            .post(&url)
            .bearer_auth(issuer.token(customer, false, 300))
            // Keyed, so a start interrupted half-way places each order once when retried.
            .header("idempotency-key", *key)
            .json(&json!({ "customer_id": customer, "items": items }))
            .send()
            .await
            .with_context(|| format!("placing demo order {key}"))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("placing demo order {key} gave {status}: {body}");
        }
        let Some(id) = body["id"].as_str() else {
            bail!("the answer to demo order {key} has no id: {body}");
        };
        ids.push(id.to_owned());
        eprintln!(
            "    demo order {}/{}: {id} ({customer})",
            i + 1,
            DEMO_ORDERS.len()
        );
    }
    Ok(ids)
}

/// Where the ids of the placed demo orders are kept; its presence means they were placed.
pub fn orders_file(layout: &Layout) -> std::path::PathBuf {
    layout.own().join("demo-orders.json")
}
