//! The three tables of the shared database, and the loader of a catalogue in the JSON Lines
//! format of `catalog-node import` (one product with its `id` per line).

use std::path::Path;

use contracts::catalog::{ProductInput, parse_catalogue};
use thiserror::Error;

use crate::store::{Store, StoreError};

/// The tables, created when absent.
///
/// `order_lines` has no foreign key to `products`: a product may be deleted after it was
/// ordered, and its lines must stay (the order view shows them with `product: null`). Its
/// primary key `(order_id, line_no)` is the index on `order_id` that the view's JOIN uses;
/// a second index on the same column would only slow every placement down.
pub const TABLES: &str = "
CREATE TABLE IF NOT EXISTS products (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    description text NOT NULL,
    category    text NOT NULL,
    price_minor bigint NOT NULL CHECK (price_minor >= 0),
    currency    text NOT NULL,
    stock       bigint NOT NULL CHECK (stock >= 0),
    version     bigint NOT NULL,
    updated_seq bigint NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE SEQUENCE IF NOT EXISTS product_changes;
CREATE TABLE IF NOT EXISTS orders (
    id          text PRIMARY KEY,
    customer_id text NOT NULL,
    status      text NOT NULL,
    total_minor bigint NOT NULL CHECK (total_minor >= 0),
    currency    text NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS order_lines (
    order_id         text NOT NULL REFERENCES orders (id),
    line_no          integer NOT NULL,
    product_id       text NOT NULL,
    name             text NOT NULL,
    unit_price_minor bigint NOT NULL CHECK (unit_price_minor >= 0),
    qty              integer NOT NULL CHECK (qty > 0),
    PRIMARY KEY (order_id, line_no)
);
";

/// Products per statement of the loader.
const BATCH: usize = 500;

// A product loaded again is replaced, as `catalog-node import` replaces it, so a benchmark
// can reset the stock by loading its catalogue once more.
const UPSERT: &str = "INSERT INTO products \
     (id, name, description, category, price_minor, currency, stock, version, updated_seq, \
      updated_at) \
     SELECT p.id, p.name, p.description, p.category, p.price_minor, p.currency, p.stock, 1, \
            nextval('product_changes'), $8 \
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], \
                 $7::bigint[]) AS p(id, name, description, category, price_minor, currency, stock) \
     ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, description = EXCLUDED.description, \
         category = EXCLUDED.category, price_minor = EXCLUDED.price_minor, \
         currency = EXCLUDED.currency, stock = EXCLUDED.stock, \
         version = products.version + 1, updated_seq = EXCLUDED.updated_seq, \
         updated_at = EXCLUDED.updated_at";

/// The catalogue could not be loaded; nothing of it was stored.
#[derive(Debug, Error)]
pub enum LoadError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A line is not a valid product.
    #[error("line {line}: {message} (nothing was loaded)")]
    Invalid {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Creates the tables that are missing.
pub async fn create(store: &Store) -> Result<(), StoreError> {
    store.client().await?.batch_execute(TABLES).await?;
    Ok(())
}

/// Checks every line of a catalogue the way `catalog-node import` does (the same
/// [`parse_catalogue`]).
pub fn parse(text: &str) -> Result<Vec<(String, ProductInput)>, LoadError> {
    parse_catalogue(text).map_err(|e| LoadError::Invalid {
        line: e.line,
        message: e.message,
    })
}

/// Loads the catalogue in `file` in one transaction, replacing products already there;
/// returns how many lines it stored.
pub async fn load(store: &Store, file: &Path) -> Result<usize, LoadError> {
    // Read at start, before serving: nothing else waits on this thread.
    let text = std::fs::read_to_string(file).map_err(|source| LoadError::Read {
        path: file.display().to_string(),
        source,
    })?;
    let products = parse(&text)?;
    let mut client = store.client().await?;
    let tx = client.transaction().await.map_err(StoreError::from)?;
    let upsert = tx.prepare_cached(UPSERT).await.map_err(StoreError::from)?;
    let now = crate::store::now();
    for batch in products.chunks(BATCH) {
        let ids = column(batch, |(id, _)| id.as_str());
        let names = column(batch, |(_, p)| p.name.as_str());
        let descriptions = column(batch, |(_, p)| p.description.as_str());
        let categories = column(batch, |(_, p)| p.category.as_str());
        let currencies = column(batch, |(_, p)| p.currency.as_str());
        // Validated above: prices and stock are far below i64::MAX.
        let prices = batch
            .iter()
            .map(|(id, p)| bigint(p.price_minor, id))
            .collect::<Result<Vec<_>, _>>()?;
        let stocks = batch
            .iter()
            .map(|(id, p)| bigint(p.stock, id))
            .collect::<Result<Vec<_>, _>>()?;
        tx.execute(
            &upsert,
            &[
                &ids,
                &names,
                &descriptions,
                &categories,
                &prices,
                &currencies,
                &stocks,
                &now,
            ],
        )
        .await
        .map_err(StoreError::from)?;
    }
    tx.commit().await.map_err(StoreError::from)?;
    Ok(products.len())
}

fn column<'a>(
    batch: &'a [(String, ProductInput)],
    field: impl Fn(&'a (String, ProductInput)) -> &'a str,
) -> Vec<&'a str> {
    batch.iter().map(field).collect()
}

fn bigint(value: u64, id: &str) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::Corrupt(format!("{id}: {value}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str =
        r#"{"id":"a","name":"A","category":"kitchen","price_minor":1,"currency":"EUR","stock":1}"#;

    #[test]
    fn parses_the_import_format() {
        let products = parse(&format!("{A}\n\n")).unwrap();
        assert_eq!(products.len(), 1);
        assert_eq!(products[0].0, "a");
        assert_eq!(products[0].1.description, "");
    }

    #[test]
    fn a_bad_line_is_named() {
        let bad_currency = A.replace("EUR", "eur");
        let err = parse(&format!("{A}\n{bad_currency}\n")).unwrap_err();
        assert!(matches!(err, LoadError::Invalid { line: 2, .. }), "{err}");
        let twice = parse(&format!("{A}\n{A}\n")).unwrap_err();
        assert!(twice.to_string().contains("appears twice"), "{twice}");
        let unknown_field = A.replace("\"stock\":1", "\"stock\":1,\"x\":2");
        assert!(parse(&unknown_field).is_err());
        let bad_id = A.replace("\"a\"", "\"a b\"");
        assert!(parse(&bad_id).is_err());
    }

    #[test]
    fn the_demo_catalogue_parses() {
        let text = include_str!("../../../demo/catalog.jsonl");
        assert_eq!(parse(text).unwrap().len(), text.lines().count());
    }
}
