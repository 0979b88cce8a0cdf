//! The demo data loaded on a system's first start.

use std::path::Path;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tokio::process::Command;

use crate::identity::Issuer;
use crate::layout::{Layout, Part};

/// One demo order: idempotency key, customer, items as (slot in the demo products, qty).
type DemoOrder = (&'static str, &'static str, &'static [(usize, u32)]);

/// The demo orders; products repeat across orders so a customer page shows de-duplication.
/// Slots index [`pick_products`]'s list, so any catalogue serves.
const DEMO_ORDERS: &[DemoOrder] = &[
    ("demo-1", "alice", &[(0, 1), (1, 2)]),
    ("demo-2", "alice", &[(2, 1), (0, 1)]),
    ("demo-3", "bob", &[(3, 1), (0, 1)]),
    ("demo-4", "bob", &[(4, 2)]),
    ("demo-5", "carol", &[(5, 1), (2, 3), (1, 1)]),
];

/// Products the demo orders and the printed commands use.
const DEMO_PRODUCTS: usize = 6;

/// Stock a product needs to be picked: the most any demo order takes of one product (4,
/// across orders) plus the order the banner suggests.
const DEMO_MIN_STOCK: u64 = 5;

/// The first [`DEMO_PRODUCTS`] products of `catalogue` (JSON Lines, one product with its
/// `id` a line) with at least [`DEMO_MIN_STOCK`] in stock: what the demo orders buy.
pub fn pick_products(catalogue: &Path) -> anyhow::Result<Vec<String>> {
    let text = std::fs::read_to_string(catalogue)
        .with_context(|| format!("reading {}", catalogue.display()))?;
    let mut picked: Vec<String> = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let Ok(product) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let (Some(id), Some(stock)) = (product["id"].as_str(), product["stock"].as_u64()) else {
            continue;
        };
        if stock >= DEMO_MIN_STOCK && !picked.iter().any(|p| p == id) {
            picked.push(id.to_owned());
            if picked.len() == DEMO_PRODUCTS {
                break;
            }
        }
    }
    if picked.is_empty() {
        bail!(
            "{} has no product with at least {DEMO_MIN_STOCK} in stock for the demo orders",
            catalogue.display()
        );
    }
    Ok(picked)
}

/// The demo products of this data directory: chosen from the catalogue it was first
/// imported from, and kept, so that later starts name products that exist.
pub fn products(layout: &Layout, catalogue: &Path) -> anyhow::Result<Vec<String>> {
    let file = products_file(layout);
    if let Some(kept) = std::fs::read_to_string(&file)
        .ok()
        .and_then(|text| serde_json::from_str::<Vec<String>>(&text).ok())
        .filter(|kept| !kept.is_empty())
    {
        return Ok(kept);
    }
    let picked = pick_products(catalogue)?;
    std::fs::write(&file, serde_json::to_string_pretty(&picked)?)
        .with_context(|| format!("writing {}", file.display()))?;
    Ok(picked)
}

fn products_file(layout: &Layout) -> std::path::PathBuf {
    layout.own().join("demo-products.json")
}

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
    products: &[String],
) -> anyhow::Result<Vec<String>> {
    let url = format!("{}/v1/orders", layout.url(Part::Composer));
    let mut ids = Vec::new();
    for (i, (key, customer, items)) in DEMO_ORDERS.iter().enumerate() {
        let items: Vec<Value> = items
            .iter()
            .map(|(slot, qty)| {
                let product_id = &products[slot % products.len().max(1)];
                json!({ "product_id": product_id, "qty": qty })
            })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_catalogue_with_stock_gives_demo_products() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("mine.jsonl");
        std::fs::write(
            &file,
            "{\"id\":\"tea-1\",\"stock\":2}\n\n{\"id\":\"tea-2\",\"stock\":50}\nnot json\n{\"id\":\"tea-3\",\"stock\":9}\n",
        )
        .unwrap();
        assert_eq!(pick_products(&file).unwrap(), vec!["tea-2", "tea-3"]);
        std::fs::write(&file, "{\"id\":\"tea-1\",\"stock\":0}\n").unwrap();
        assert!(pick_products(&file).is_err());
    }

    #[test]
    fn the_demo_catalogue_fills_every_slot() {
        let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../demo/catalog.jsonl");
        let picked = pick_products(&demo).unwrap();
        assert_eq!(picked.len(), DEMO_PRODUCTS);
        let most = DEMO_ORDERS
            .iter()
            .flat_map(|(_, _, items)| items.iter().map(|(slot, _)| *slot))
            .max()
            .unwrap();
        assert!(most < DEMO_PRODUCTS);
    }
}
