//! Layout upgrades run at start-up, before the node serves.
//!
//! v1 stored a product's display name as `name`; v2 stores it as `title`. The API still says
//! `name`: the rename is invisible outside the node, which is the point of keeping storage
//! private. Each value carries its own layout tag, so the upgrade is idempotent and a crash
//! half-way simply resumes at the next start.

use bincode::{Decode, Encode};
use contracts::catalog::ProductInput;

use super::codec::{self, Record};
use super::records::{Counter, EventRecordV1, ProductRecord, StoredEventKind};
use super::{CURRENT_SCHEMA, META_SCHEMA, StoreError};

/// A product in the v1 layout.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct ProductRecordV1 {
    /// Display name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Category slug.
    pub category: String,
    /// Unit price in minor units.
    pub price_minor: u64,
    /// Currency code.
    pub currency: String,
    /// Available units.
    pub stock: u64,
    /// Bumped by every change.
    pub version: u64,
    /// Feed seq of the last change.
    pub updated_seq: u64,
    /// Time of the last change, ms since the epoch.
    pub updated_at_ms: u64,
}

impl Record for ProductRecordV1 {
    const SCHEMA: u8 = 1;
    const KIND: &'static str = "product (v1)";
}

impl From<ProductRecordV1> for ProductRecord {
    fn from(v1: ProductRecordV1) -> Self {
        Self {
            title: v1.name,
            description: v1.description,
            category: v1.category,
            price_minor: v1.price_minor,
            currency: v1.currency,
            stock: v1.stock,
            version: v1.version,
            updated_seq: v1.updated_seq,
            updated_at_ms: v1.updated_at_ms,
        }
    }
}

/// Upgrades every product still in the v1 layout; returns how many were upgraded.
pub(super) fn run(db: &sled::Db, products: &sled::Tree) -> Result<usize, StoreError> {
    let meta = db.open_tree("meta")?;
    let stored_version = match meta.get(META_SCHEMA)? {
        Some(bytes) => codec::decode::<Counter>(&bytes)?.0,
        // Stores from before the version was recorded are v1.
        None if !products.is_empty() => 1,
        None => CURRENT_SCHEMA,
    };
    if stored_version > CURRENT_SCHEMA {
        return Err(StoreError::TooNew {
            found: stored_version,
            supported: CURRENT_SCHEMA,
        });
    }
    let mut batch = sled::Batch::default();
    let mut upgraded = 0;
    for entry in products.iter() {
        let (key, value) = entry?;
        if codec::schema_of(&value) == Some(ProductRecordV1::SCHEMA) {
            let v1 = codec::decode::<ProductRecordV1>(&value)?;
            batch.insert(key, codec::encode(&ProductRecord::from(v1))?);
            upgraded += 1;
        }
    }
    products.apply_batch(batch)?;
    meta.insert(META_SCHEMA, codec::encode(&Counter(CURRENT_SCHEMA))?)?;
    db.flush()?;
    if upgraded > 0 {
        tracing::info!(
            upgraded,
            from = stored_version,
            to = CURRENT_SCHEMA,
            "store layout upgraded"
        );
    }
    Ok(upgraded)
}

/// Writes products in the v1 layout into a new data directory, as releases before the
/// rename did. Kept so that the upgrade path stays tested against real files.
pub fn write_v1_store(
    path: &std::path::Path,
    products: &[(String, ProductInput)],
) -> Result<(), StoreError> {
    let db = sled::Config::new().path(path).open()?;
    let tree = db.open_tree("products")?;
    let outbox = db.open_tree("outbox")?;
    let outbox_index = db.open_tree("outbox_index")?;
    let meta = db.open_tree("meta")?;
    for (i, (id, p)) in products.iter().enumerate() {
        let record = ProductRecordV1 {
            name: p.name.clone(),
            description: p.description.clone(),
            category: p.category.clone(),
            price_minor: p.price_minor,
            currency: p.currency.clone(),
            stock: p.stock,
            version: 1,
            updated_seq: i as u64 + 1,
            updated_at_ms: 1_700_000_000_000,
        };
        tree.insert(id.as_bytes(), codec::encode(&record)?)?;
        let seq = record.updated_seq.to_be_bytes();
        let event = EventRecordV1 {
            product_id: id.clone(),
            kind: StoredEventKind::Upsert,
            at_ms: record.updated_at_ms,
        };
        outbox.insert(seq, codec::encode(&event)?)?;
        outbox_index.insert(id.as_bytes(), &seq)?;
    }
    meta.insert(
        super::META_SEQ,
        codec::encode(&Counter(products.len() as u64))?,
    )?;
    meta.insert(META_SCHEMA, codec::encode(&Counter(1))?)?;
    db.flush()?;
    Ok(())
}
