//! search-node: a tantivy read model of the catalog, kept up to date from its change feed.
//!
//! # Layout
//!
//! Read it outside in. [`node`] is the front door: [`node::run`] opens the index, starts the
//! follower and the metrics refresh, serves [`node::app`] until shutdown, then drains the
//! tasks and releases the index writer; `main.rs` only parses the command line and calls it.
//!
//! [`api`] holds the HTTP handlers, the only layer that speaks HTTP. [`follower`] pulls the
//! catalog's feed (through the `catalog-feed` crate's client, shared with the catalog's read
//! replicas) into
//! [`index`], storing its cursor in each commit's payload, so that a restart resumes exactly
//! where the last commit left off and a replayed event is harmless. [`backup`] copies a commit
//! of the index and restores one. The node writes nothing anywhere else: the index is a read
//! model, and `reindex` rebuilds it from the catalog at any time.
//!
//! Beside them: [`cli`] (flags, each with an environment variable) and [`metrics`].

pub mod api;
pub mod backup;
pub mod cli;
pub mod follower;
pub mod index;
pub mod metrics;
pub mod node;

pub use node::{app, run};
