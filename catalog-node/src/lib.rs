//! catalog-node: products, stock and reservations on sled, with a change feed.
//!
//! # Layout
//!
//! Read it outside in. [`node`] is the front door: [`node::run`] opens the store, starts the
//! background tasks (the group flusher, the maintenance tick), serves [`node::app`] until
//! shutdown, then drains the tasks and flushes the store; `main.rs` only parses the command
//! line and calls it. [`api`] holds the HTTP handlers: each parses and validates, calls the
//! service and maps its outcome to a status; only this layer speaks HTTP. [`service`] is the
//! catalog's logic: one writer at a time, durability before acknowledgement (through
//! [`durability`], which batches flushes), long-polls on the feed. [`store`] owns the sled
//! trees, the stored records and their codec; nothing outside this crate sees a record.
//! Started with `--replica-of`, the node is a read replica: [`replica`] loads the primary's
//! products and follows its feed into the store, and the service refuses what only the
//! primary may do.
//!
//! Beside them: [`cli`] (flags, each with an environment variable), [`import`] (bulk load of
//! a JSON Lines catalogue), [`backup`] (consistent copies of the store and their restore) and
//! [`metrics`].

pub mod api;
pub mod backup;
pub mod cli;
pub mod durability;
pub mod import;
pub mod metrics;
pub mod node;
pub mod replica;
pub mod service;
pub mod store;

pub use node::{app, run};
