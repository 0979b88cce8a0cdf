//! search-node: a tantivy read model of the catalog, kept up to date from its change feed.
//!
//! [`follower`] pulls the catalog's feed into [`index`] (cursor stored in each commit's
//! payload); [`api`] serves searches from it; [`backup`] copies a commit of it and restores
//! one. The node writes nothing anywhere else.

pub mod api;
pub mod backup;
pub mod catalog;
pub mod cli;
pub mod follower;
pub mod index;
pub mod metrics;
