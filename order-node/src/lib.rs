//! order-node: orders with denormalized product data and a durable stock saga, on redb.
//!
//! Layers, outside in: [`api`] (HTTP handlers), [`service`] (placing, cancelling, settling),
//! [`saga`] (the recovery loop), [`catalog`] (the catalog's HTTP API), [`store`] (redb tables,
//! private records, group commit), [`backup`] (consistent copies of the store and their
//! restore). Nothing outside this crate sees the stored records.

pub mod api;
pub mod backup;
pub mod catalog;
pub mod cli;
pub mod metrics;
pub mod saga;
pub mod service;
pub mod store;
