//! catalog-node: products, stock and reservations on sled, with a change feed.
//!
//! Layers, outside in: [`api`] (HTTP handlers), [`service`] (writer serialisation, durability,
//! long-polling), [`store`] (sled trees, records and their codec). Nothing outside this crate
//! sees the stored records.

pub mod api;
pub mod backup;
pub mod cli;
pub mod durability;
pub mod import;
pub mod metrics;
pub mod service;
pub mod store;
