//! Cross-cutting server code shared by the nodes.
//!
//! Everything a node needs around its own logic on the HTTP side lives here once: reading the
//! callers file, bearer-token auth with the scopes each node declares, the JSON error shape
//! and the extractors that produce it, Prometheus metrics, logging and tracing, serving with
//! connection limits and graceful shutdown, the route table each node's router and OpenAPI
//! document are built from, the node's life (shutdown and background tasks), and the
//! `backup`/`restore` subcommands. What concerns storage (the record codec, data directories,
//! the backup archive, staging and restoring) is in the `storage` crate. Nothing here knows
//! about any node's data.

pub mod auth;
pub mod backup;
pub mod callers;
pub mod cli;
pub mod conn;
pub mod error;
mod export;
pub mod extract;
pub mod guard;
pub mod lifecycle;
pub mod limits;
pub mod metrics;
pub mod routes;
pub mod secret;
pub mod server;
pub mod telemetry;
pub mod trace;

pub use auth::Auth;
pub use callers::Scope;
pub use error::ApiError;
pub use routes::Routes;
